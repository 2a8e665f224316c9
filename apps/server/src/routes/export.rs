//! The data export: one JSON document with everything the service holds about an account
//! (GDPR art. 15 and 20). `docs/accounts.md` describes it field by field.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use domain::services::AccountExport;
use domain::services::notifications::NoticeJob;
use domain::{Account, AccountId, Image, ImageStatus, JobRecord, JobState, Report};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{Routes, rfc3339, route};
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub fn routes(r: &mut Routes) {
    route!(r, export);
}

/// The whole export.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportDocument {
    /// RFC 3339.
    exported_at: String,
    account: ExportedAccount,
    identities: Vec<ExportedIdentity>,
    sessions: Vec<ExportedSession>,
    images: Vec<ExportedImage>,
    reports: Vec<ExportedReport>,
    notices: Vec<ExportedNotice>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedAccount {
    user_id: i64,
    name: Option<String>,
    email: Option<String>,
    email_verified: bool,
    gender: Option<String>,
    birth_date: Option<String>,
    locale: Option<String>,
    phone: Option<String>,
    roles: Vec<String>,
    profile_image_key: Option<String>,
    created_at: String,
    updated_at: String,
    /// While suspended: when it ends (`null`: until lifted) and why.
    suspension: Option<ExportedSuspension>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedSuspension {
    until: Option<String>,
    reason: String,
    since: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedIdentity {
    issuer: String,
    subject: String,
    email: Option<String>,
    linked_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedSession {
    created_at: String,
    last_used_at: String,
    expires_at: String,
    ip: Option<String>,
    user_agent: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedImage {
    key: String,
    channel: String,
    /// `pending`, `ready`, `rejected`, `expired`, `deleted`.
    status: String,
    /// Where it is served; ready public images only (a private one's signed URL is had
    /// from `GET /images/{key}/url`).
    cdn_url: Option<String>,
    /// Read only through signed URLs.
    private: bool,
    content_type: Option<String>,
    size: Option<u64>,
    width: Option<u32>,
    height: Option<u32>,
    original_filename: Option<String>,
    #[schema(value_type = Object)]
    metadata: serde_json::Map<String, serde_json::Value>,
    created_at: String,
    confirmed_at: Option<String>,
    expires_at: Option<String>,
    /// Its variants' names and keys (read as the image is).
    variants: Vec<ExportedVariant>,
    blurhash: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedVariant {
    name: String,
    key: String,
    width: u32,
    height: u32,
}

/// A report the account filed. The moderators' names and notes are left out.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedReport {
    id: i64,
    category_id: i64,
    target_type: String,
    target_id: i64,
    reason: String,
    evidence: Vec<String>,
    status: String,
    created_at: String,
    updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedNotice {
    /// `received`, `resolved`, `dismissed`.
    kind: Option<String>,
    report_id: Option<i64>,
    /// `pending`, `delivered`, `skipped`, `failed`.
    state: String,
    created_at: String,
    /// When it was delivered, skipped or given up on.
    settled_at: Option<String>,
}

impl ExportDocument {
    fn new(e: AccountExport, state: &AppState) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            exported_at: rfc3339(now),
            account: ExportedAccount::new(&e.account, now),
            identities: e
                .identities
                .into_iter()
                .map(|i| ExportedIdentity {
                    issuer: i.identity.issuer().to_owned(),
                    subject: i.identity.subject().to_owned(),
                    email: i.email.map(|m| m.as_str().to_owned()),
                    linked_at: rfc3339(i.linked_at),
                })
                .collect(),
            sessions: e
                .sessions
                .into_iter()
                .map(|s| ExportedSession {
                    created_at: rfc3339(s.created_at),
                    last_used_at: rfc3339(s.last_seen_at),
                    expires_at: rfc3339(s.idle_expires_at.min(s.absolute_expires_at)),
                    ip: s.ip,
                    user_agent: s.user_agent,
                })
                .collect(),
            images: e
                .images
                .into_iter()
                .map(|i| ExportedImage::new(i, state))
                .collect(),
            reports: e.reports.into_iter().map(ExportedReport::from).collect(),
            notices: e.notices.into_iter().map(ExportedNotice::from).collect(),
        }
    }
}

impl ExportedAccount {
    fn new(a: &Account, now: OffsetDateTime) -> Self {
        Self {
            user_id: a.id.get(),
            name: a.name.as_ref().map(|n| n.as_str().to_owned()),
            email: a.email.as_ref().map(|m| m.as_str().to_owned()),
            email_verified: a.email_verified,
            gender: a.gender.map(|g| g.as_str().to_owned()),
            birth_date: a.birth_date.map(|d| d.to_string()),
            locale: a.locale.as_ref().map(|l| l.as_str().to_owned()),
            phone: a.phone.as_ref().map(|p| p.as_str().to_owned()),
            roles: a.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            profile_image_key: a.profile_image_key.as_ref().map(ToString::to_string),
            created_at: rfc3339(a.created_at),
            updated_at: rfc3339(a.updated_at),
            suspension: a.active_suspension(now).map(|s| ExportedSuspension {
                until: s.until.map(rfc3339),
                reason: s.reason.as_str().to_owned(),
                since: rfc3339(s.at),
            }),
        }
    }
}

impl ExportedImage {
    fn new(i: Image, state: &AppState) -> Self {
        Self {
            // A private image's URL would expire; the key reads it through
            // `GET /images/{key}/url`.
            cdn_url: (i.status == ImageStatus::Ready && !i.private)
                .then(|| state.images.cdn_url(&i.key)),
            private: i.private,
            key: i.key.to_string(),
            channel: i.channel.as_str().to_owned(),
            status: i.status.as_str().to_owned(),
            content_type: i.content_type.map(|t| t.mime().to_owned()),
            size: i.size,
            width: i.width,
            height: i.height,
            original_filename: i.original_filename,
            metadata: i.metadata,
            created_at: rfc3339(i.created_at),
            confirmed_at: i.confirmed_at.map(rfc3339),
            expires_at: i.expires_at.map(rfc3339),
            variants: i
                .variants
                .into_iter()
                .map(|v| ExportedVariant {
                    name: v.name,
                    key: v.key.to_string(),
                    width: v.width,
                    height: v.height,
                })
                .collect(),
            blurhash: i.blurhash,
        }
    }
}

impl From<Report> for ExportedReport {
    fn from(r: Report) -> Self {
        Self {
            id: r.id.get(),
            category_id: r.category.get(),
            target_type: r.target.kind().to_owned(),
            target_id: r.target.id(),
            reason: r.reason.as_str().to_owned(),
            evidence: r.evidence.iter().map(ToString::to_string).collect(),
            status: r.status.as_str().to_owned(),
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

impl From<JobRecord> for ExportedNotice {
    fn from(n: JobRecord) -> Self {
        let job = serde_json::from_value::<NoticeJob>(n.job.payload).ok();
        let (state, settled_at) = match n.state {
            JobState::Pending => ("pending", None),
            JobState::Delivered(t) => ("delivered", Some(rfc3339(t))),
            JobState::Skipped(t) => ("skipped", Some(rfc3339(t))),
            JobState::Failed(t) => ("failed", Some(rfc3339(t))),
        };
        Self {
            kind: job.map(|j| j.kind.as_str().to_owned()),
            report_id: job.and_then(|j| j.report_id),
            state: state.to_owned(),
            created_at: rfc3339(n.job.created_at),
            settled_at,
        }
    }
}

/// Everything the service holds about the account, as one JSON file to download: the
/// account, its linked identities, active sessions, images, the reports it filed and the
/// notices sent to it. Never a token, never another user's personal data; reports filed
/// against the account are not included (they would identify their reporters). The owner
/// or an ADMIN.
#[utoipa::path(get, path = "/accounts/{id}/export", tag = "accounts",
    params(("id" = i64, Path)),
    responses(
        (status = 200, description = "`Content-Disposition: attachment; filename=\"account-<id>.json\"`", body = ExportDocument),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "Not the owner or an ADMIN", body = ErrorBody),
        (status = 404, description = "`USER_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn export(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = AccountId::new(*id);
    let export = state.exports.export(&who.actor, id, &who.request).await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"account-{id}.json\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ExportDocument::new(export, &state)))
}
