//! The chat API's report API, and moderation for STAFF and ADMIN.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use domain::{AccountId, Page, Report, ReportEvent, ReportId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Routes, rfc3339, route};
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::input::report::{ListQuery, ModerateRequest, ReportBody};
use crate::state::AppState;

pub fn routes(r: &mut Routes) {
    route!(r, submit);
    route!(r, categories);
    route!(r, mine);
    route!(r, list);
    route!(r, get_report);
    route!(r, moderate);
}

/// Files a report. Answers the chat API's `Reported successfully` as text; the new report's id
/// is in the `X-Report-Id` header.
#[utoipa::path(post, path = "/api/report", tag = "reports",
    request_body = ReportBody,
    responses(
        (status = 200, description = "`Reported successfully`; headers `X-Report-Id`, `Location`", content_type = "text/plain"),
        (status = 400, description = "`INVALID_INPUT` (no or several targets, empty reason, …), `UNKNOWN_CATEGORY`, `SELF_REPORT`, `INVALID_EVIDENCE`", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 409, description = "`DUPLICATE_REPORT`", body = ErrorBody),
        (status = 429, description = "`TOO_MANY_REPORTS`", body = ErrorBody),
    ))]
pub async fn submit(
    state: web::Data<AppState>,
    who: Authenticated,
    body: web::Json<ReportBody>,
) -> Result<HttpResponse, ApiError> {
    let submission = body.into_inner().try_into_domain()?;
    let report = state.reports.submit(who.account()?, submission).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("X-Report-Id", report.id.get().to_string()))
        .insert_header((
            header::LOCATION,
            format!("/api/reports/{}", report.id.get()),
        ))
        .body("Reported successfully"))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryResponse {
    id: i64,
    #[schema(example = "fraud")]
    code: String,
    #[schema(example = "사기")]
    label_ko: String,
    #[schema(example = "Fraud")]
    label_en: String,
}

/// The report categories, for everyone.
#[utoipa::path(get, path = "/api/report/categories", tag = "reports",
    responses((status = 200, body = [CategoryResponse])))]
pub async fn categories(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let cats = state.reports.categories().await?;
    Ok(HttpResponse::Ok().json(
        cats.into_iter()
            .map(|c| CategoryResponse {
                id: c.id.get(),
                code: c.code,
                label_ko: c.label_ko,
                label_en: c.label_en,
            })
            .collect::<Vec<_>>(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceResponse {
    key: String,
    /// Report images are private by default: a signed URL.
    cdn_url: String,
    /// When `cdn_url` stops working (RFC 3339), for a private image's signed URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    cdn_url_expires_at: Option<String>,
    /// The image's variants (a `thumb` for a moderation list), signed alike.
    variants: super::images::Variants,
    blurhash: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportResponse {
    id: i64,
    reporter_id: i64,
    category_id: i64,
    /// `product`, `chat_room` or `user`.
    target_type: String,
    target_id: i64,
    reason: String,
    evidence: Vec<EvidenceResponse>,
    /// `open`, `resolved` or `dismissed`.
    status: String,
    assignee_id: Option<i64>,
    resolution_note: Option<String>,
    created_at: String,
    updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventResponse {
    actor_id: i64,
    /// `create`, `resolve`, `dismiss`, `assign`, `reopen`.
    action: String,
    from_status: Option<String>,
    to_status: String,
    note: Option<String>,
    /// What a resolution did about the target: `suspend_target`, `remove_content`,
    /// `warn`, `none`; absent when nothing was decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<String>,
    /// A `suspend_target` decision's end (RFC 3339); absent for none.
    #[serde(skip_serializing_if = "Option::is_none")]
    decision_until: Option<String>,
    at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportDetail {
    #[serde(flatten)]
    report: ReportResponse,
    /// Who did what, when: oldest first.
    history: Vec<EventResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportList {
    items: Vec<ReportResponse>,
    page: u64,
    size: u64,
    total: u64,
}

impl ReportResponse {
    /// The report as answered, its evidence with the URLs its readers get (signed for
    /// private images).
    async fn new(r: &Report, state: &AppState) -> Result<Self, ApiError> {
        let mut evidence = Vec::with_capacity(r.evidence.len());
        for k in &r.evidence {
            let view = state.images.view_of_key(k).await?;
            evidence.push(EvidenceResponse {
                key: k.to_string(),
                variants: super::images::variants(&view),
                blurhash: view.blurhash,
                cdn_url: view.url.url,
                cdn_url_expires_at: view.url.expires_at.map(rfc3339),
            });
        }
        Ok(Self {
            id: r.id.get(),
            reporter_id: r.reporter.get(),
            category_id: r.category.get(),
            target_type: r.target.kind().to_owned(),
            target_id: r.target.id(),
            reason: r.reason.as_str().to_owned(),
            evidence,
            status: r.status.as_str().to_owned(),
            assignee_id: r.assignee.map(AccountId::get),
            resolution_note: r.resolution_note.clone(),
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        })
    }
}

fn event(e: ReportEvent) -> EventResponse {
    EventResponse {
        actor_id: e.actor.get(),
        action: e.action.as_str().to_owned(),
        from_status: e.from_status.map(|s| s.as_str().to_owned()),
        to_status: e.to_status.as_str().to_owned(),
        note: e.note,
        decision: e.decision.map(|d| d.kind().to_owned()),
        decision_until: match e.decision {
            Some(domain::Decision::SuspendTarget { until: Some(t) }) => Some(rfc3339(t)),
            _ => None,
        },
        at: rfc3339(e.at),
    }
}

async fn page_of(
    items: Vec<Report>,
    total: u64,
    page: Page,
    state: &AppState,
) -> Result<ReportList, ApiError> {
    let mut answered = Vec::with_capacity(items.len());
    for r in &items {
        answered.push(ReportResponse::new(r, state).await?);
    }
    Ok(ReportList {
        items: answered,
        page: page.number,
        size: page.size,
        total,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Zero-based (default 0).
    page: Option<u64>,
    /// 1 to 100 (default 20).
    size: Option<u64>,
}

impl PageQuery {
    /// The page asked for.
    ///
    /// # Errors
    /// 400 for a size of 0 or above 100, or a page past any sensible end.
    pub fn page(&self) -> Result<Page, ApiError> {
        Ok(Page::parse(self.page, self.size)?)
    }
}

/// The caller's own reports and their status, newest first.
#[utoipa::path(get, path = "/api/reports/mine", tag = "reports",
    params(PageQuery),
    responses(
        (status = 200, body = ReportList),
        (status = 400, description = "Bad paging", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
    ))]
pub async fn mine(
    state: web::Data<AppState>,
    who: Authenticated,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let (items, total) = state.reports.mine(who.account()?, page).await?;
    Ok(HttpResponse::Ok().json(page_of(items, total, page, &state).await?))
}

/// Reports for moderation, newest first, filtered.
#[utoipa::path(get, path = "/api/reports", tag = "reports",
    params(ListQuery),
    responses(
        (status = 200, body = ReportList),
        (status = 400, description = "Bad filter or paging", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "Not STAFF or ADMIN", body = ErrorBody),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    who: Authenticated,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (filter, page) = query.into_inner().try_into_domain()?;
    let (items, total) = state.reports.list(&who.actor, filter, page).await?;
    Ok(HttpResponse::Ok().json(page_of(items, total, page, &state).await?))
}

/// One report with its evidence's CDN URLs and its history.
#[utoipa::path(get, path = "/api/reports/{id}", tag = "reports",
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = ReportDetail),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "Not STAFF or ADMIN", body = ErrorBody),
        (status = 404, description = "`REPORT_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn get_report(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (report, events) = state.reports.get(&who.actor, ReportId::new(*id)).await?;
    Ok(HttpResponse::Ok().json(ReportDetail {
        report: ReportResponse::new(&report, &state).await?,
        history: events.into_iter().map(event).collect(),
    }))
}

/// Resolves, dismisses, assigns to oneself or reopens a report. Resolving and dismissing
/// notify the reporter. Resolving can carry a `decision`: `suspend_target` suspends a
/// reported user (as `POST /accounts/{id}/suspension` does, linked to the report);
/// `remove_content`, `warn` and `none` are recorded in the history and sent to the
/// services that own the target. Every action is in the audit log.
#[utoipa::path(patch, path = "/api/reports/{id}", tag = "reports",
    params(("id" = i64, Path)),
    request_body = ModerateRequest,
    responses(
        (status = 200, body = ReportResponse),
        (status = 400, description = "`INVALID_INPUT` (unknown action, a note too long, a malformed decision); `INVALID_DECISION` (a decision with another action than resolve, for the wrong kind of target, about a user who has left, or a STAFF moderator suspending STAFF or ADMIN)", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "Not STAFF or ADMIN", body = ErrorBody),
        (status = 404, description = "`REPORT_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`REPORT_CONFLICT`: the action does not apply to the report's status", body = ErrorBody),
    ))]
pub async fn moderate(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<i64>,
    body: web::Json<ModerateRequest>,
) -> Result<HttpResponse, ApiError> {
    let m = body.into_inner().try_into_domain()?;
    let report = state
        .reports
        .moderate(
            &who.actor,
            ReportId::new(*id),
            m.action,
            m.note,
            m.decision,
            &who.request,
        )
        .await?;
    if report.status != domain::ReportStatus::Open {
        // A withdrawn reporter's evidence was kept for this report only.
        state
            .images
            .release_evidence(report.reporter, &report.evidence)
            .await?;
    }
    Ok(HttpResponse::Ok().json(ReportResponse::new(&report, &state).await?))
}
