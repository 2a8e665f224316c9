//! Administration: suspending accounts and lifting suspensions (STAFF, ADMIN), granting
//! and revoking roles (ADMIN), the audit log (ADMIN), and event deliveries that failed for
//! good (ADMIN).

use actix_web::{HttpResponse, web};
use domain::services::RoleChange;
use domain::{AccountId, AuditEntry};
use serde::Serialize;
use utoipa::ToSchema;

use super::accounts::AccountResponse;
use super::{Routes, rfc3339, route};
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::input::admin::{AuditQuery, RoleRequest, SuspendRequest, grantable_role};
use crate::state::AppState;

pub fn routes(r: &mut Routes) {
    route!(r, suspend);
    route!(r, lift);
    route!(r, grant_role);
    route!(r, revoke_role);
    route!(r, audit_log);
    route!(r, failed_events);
    route!(r, redeliver_event);
}

/// Suspends an account until `until` (indefinitely without it): its sessions end at once,
/// its logins answer 403 `ACCOUNT_SUSPENDED`, and nothing it owns is touched. It ends by
/// itself at `until`. A suspension already in force is replaced. STAFF may not suspend
/// STAFF or ADMIN; nobody suspends themselves.
#[utoipa::path(post, path = "/accounts/{id}/suspension", tag = "accounts",
    params(("id" = i64, Path)),
    request_body = SuspendRequest,
    responses(
        (status = 200, description = "The account, with its `suspension`", body = AccountResponse),
        (status = 400, description = "`INVALID_INPUT`: a bad `until` (not RFC 3339, or not in the future) or `reason`", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "Not STAFF or ADMIN, STAFF suspending STAFF or ADMIN, oneself, or `CSRF_ORIGIN_REFUSED`", body = ErrorBody),
        (status = 404, description = "`USER_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn suspend(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<i64>,
    body: web::Json<SuspendRequest>,
) -> Result<HttpResponse, ApiError> {
    let (until, reason) = body.into_inner().try_into_domain()?;
    let account = state
        .accounts
        .suspend(&who.actor, AccountId::new(*id), until, reason, &who.request)
        .await?;
    Ok(HttpResponse::Ok().json(AccountResponse::new(&account, &state, &who.actor)))
}

/// Lifts the suspension in force.
#[utoipa::path(delete, path = "/accounts/{id}/suspension", tag = "accounts",
    params(("id" = i64, Path)),
    responses(
        (status = 204, description = "Lifted: the account can log in again"),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "As for suspending", body = ErrorBody),
        (status = 404, description = "`USER_NOT_FOUND`, or `SUSPENSION_NOT_FOUND` when none is in force", body = ErrorBody),
    ))]
pub async fn lift(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state
        .accounts
        .lift_suspension(&who.actor, AccountId::new(*id), &who.request)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Grants a role (`ADMIN`, `STAFF` or `SERVER`): ADMIN only. Granting a role held already
/// changes nothing (and is still recorded).
#[utoipa::path(post, path = "/accounts/{id}/roles", tag = "accounts",
    params(("id" = i64, Path)),
    request_body = RoleRequest,
    responses(
        (status = 200, description = "The account with its roles", body = AccountResponse),
        (status = 400, description = "`INVALID_INPUT`: not ADMIN, STAFF or SERVER", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "Not ADMIN", body = ErrorBody),
        (status = 404, description = "`USER_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn grant_role(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<i64>,
    body: web::Json<RoleRequest>,
) -> Result<HttpResponse, ApiError> {
    let role = grantable_role(&body.role)?;
    let account = state
        .accounts
        .change_role(
            &who.actor,
            AccountId::new(*id),
            role,
            RoleChange::Grant,
            &who.request,
        )
        .await?;
    Ok(HttpResponse::Ok().json(AccountResponse::new(&account, &state, &who.actor)))
}

/// Revokes a role: ADMIN only, and never one's own ADMIN.
#[utoipa::path(delete, path = "/accounts/{id}/roles/{role}", tag = "accounts",
    params(("id" = i64, Path), ("role" = String, Path, description = "`ADMIN`, `STAFF` or `SERVER`")),
    responses(
        (status = 200, description = "The account with its roles", body = AccountResponse),
        (status = 400, description = "`INVALID_INPUT`: not ADMIN, STAFF or SERVER", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "Not ADMIN, or one's own ADMIN", body = ErrorBody),
        (status = 404, description = "`USER_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn revoke_role(
    state: web::Data<AppState>,
    who: Authenticated,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, role) = path.into_inner();
    let role = grantable_role(&role)?;
    let account = state
        .accounts
        .change_role(
            &who.actor,
            AccountId::new(id),
            role,
            RoleChange::Revoke,
            &who.request,
        )
        .await?;
    Ok(HttpResponse::Ok().json(AccountResponse::new(&account, &state, &who.actor)))
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryResponse {
    id: i64,
    /// RFC 3339.
    at: String,
    /// `account:42`, `service:chat`, `cli:root`, `system`.
    #[schema(example = "account:1")]
    actor: String,
    /// `account.suspend`, `role.grant`, `report.resolve`, …
    #[schema(example = "account.suspend")]
    action: String,
    /// `account:42`, `report:7`, `image:<key>`, `service:chat`.
    #[schema(example = "account:42")]
    target: String,
    /// `done`, or `denied` for a refused attempt.
    outcome: String,
    /// The actor's reason or note.
    reason: Option<String>,
    /// What the act set: the role, a suspension's end, a decision.
    detail: Option<String>,
    /// The request's `X-Request-Id`; none for the command line.
    request_id: Option<String>,
}

impl From<AuditEntry> for AuditEntryResponse {
    fn from(e: AuditEntry) -> Self {
        let AuditEntry { id, entry } = e;
        Self {
            id,
            at: rfc3339(entry.at),
            actor: entry.actor.to_string(),
            action: entry.action.as_str().to_owned(),
            target: entry.target.to_string(),
            outcome: entry.outcome.as_str().to_owned(),
            reason: entry.reason,
            detail: entry.detail,
            request_id: entry.request_id.as_deref().map(str::to_owned),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    items: Vec<AuditEntryResponse>,
    page: u64,
    size: u64,
    total: u64,
}

/// The audit log, newest first: every administrative act and every refused attempt at
/// one. ADMIN only.
#[utoipa::path(get, path = "/admin/audit", tag = "accounts",
    params(AuditQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, description = "`INVALID_INPUT` naming each bad parameter", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "Not ADMIN", body = ErrorBody),
    ))]
pub async fn audit_log(
    state: web::Data<AppState>,
    who: Authenticated,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let (filter, page) = query.into_inner().try_into_domain()?;
    let (items, total) = state.audit.list(&who.actor, filter, page).await?;
    Ok(HttpResponse::Ok().json(AuditPage {
        items: items.into_iter().map(Into::into).collect(),
        page: page.number,
        size: page.size,
        total,
    }))
}

/// An event delivery that failed for good.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailedEvent {
    /// What `POST /admin/events/failed/{id}/redeliver` names.
    id: i64,
    /// The endpoint's configured name.
    endpoint: String,
    /// The `webhook-id` it was sent under (the same on every attempt and on redelivery).
    webhook_id: String,
    /// `{type, timestamp, data}`, as sent.
    #[schema(value_type = Object)]
    body: serde_json::Value,
    attempts: u32,
    /// The last attempt's error.
    last_error: Option<String>,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    failed_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FailedEventPage {
    items: Vec<FailedEvent>,
    page: u64,
    size: u64,
    total: u64,
}

/// Event deliveries that failed for good (every attempt spent), the most recent failure
/// first. ADMIN only.
#[utoipa::path(get, path = "/admin/events/failed", tag = "operations",
    params(crate::routes::reports::PageQuery),
    responses(
        (status = 200, body = FailedEventPage),
        (status = 400, description = "Bad paging", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "Not ADMIN", body = ErrorBody),
    ))]
pub async fn failed_events(
    state: web::Data<AppState>,
    who: Authenticated,
    query: web::Query<crate::routes::reports::PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().page()?;
    let (items, total) = state.events.failed(&who.actor, page).await?;
    Ok(HttpResponse::Ok().json(FailedEventPage {
        items: items
            .into_iter()
            .map(|(record, message)| FailedEvent {
                id: record.job.id,
                endpoint: message.endpoint,
                webhook_id: message.id,
                body: message.body,
                attempts: record.job.attempts,
                last_error: record.last_error,
                created_at: rfc3339(record.job.created_at),
                failed_at: match record.state {
                    domain::JobState::Failed(t) => Some(rfc3339(t)),
                    _ => None,
                },
            })
            .collect(),
        page: page.number,
        size: page.size,
        total,
    }))
}

/// Sends a failed delivery again, at once and under its `webhook-id`, with its attempts
/// counted afresh. ADMIN only.
#[utoipa::path(post, path = "/admin/events/failed/{id}/redeliver", tag = "operations",
    params(("id" = i64, Path)),
    responses(
        (status = 202, description = "Queued: the worker sends it within seconds"),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "Not ADMIN, or `CSRF_ORIGIN_REFUSED`", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`: no delivery of this id has failed for good", body = ErrorBody),
    ))]
pub async fn redeliver_event(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state.events.redeliver(&who.actor, *id).await?;
    Ok(HttpResponse::Accepted().finish())
}
