//! The account API's account routes: read, change and withdraw an account, its summary, and the
//! internal profile other services read.

use actix_web::{HttpResponse, web};
use domain::{Account, AccountId, Actor};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Routes, rfc3339, route};
use crate::auth::{Authenticated, SESSION_COOKIE};
use crate::error::ErrorCode;
use crate::error::{ApiError, ErrorBody};
use crate::input::account::PatchAccountRequest;
use crate::state::AppState;

pub fn routes(r: &mut Routes) {
    route!(r, get_account);
    route!(r, patch_account);
    route!(r, delete_account);
    route!(r, summary);
    route!(r, internal_profile);
}

/// An account (the account API). `gender`, `birthDate`, `profileImgUri`, `locale` may be null.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountResponse {
    #[schema(example = 1)]
    user_id: i64,
    name: Option<String>,
    email: Option<String>,
    #[schema(example = json!(["USER"]))]
    roles: Vec<String>,
    #[schema(example = "2023-10-08T03:59:55.536658Z")]
    created_at: String,
    /// `MALE` or `FEMALE`.
    gender: Option<String>,
    /// `yyyy-MM-dd`.
    birth_date: Option<String>,
    profile_img_uri: Option<String>,
    /// BCP 47.
    locale: Option<String>,
    email_verified: bool,
    /// For SMS notices; set with PATCH.
    phone: Option<String>,
    /// Present while the account is suspended. Its owner (and services) see when it ends;
    /// STAFF and ADMIN also see why, who and when, and the report it came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    suspension: Option<SuspensionResponse>,
}

/// A suspension in force.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuspensionResponse {
    /// RFC 3339; `null`: until lifted.
    until: Option<String>,
    /// Staff only: the reason the user is shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// Staff only, and never shown to the user: what staff wrote for each other (a
    /// report decision's resolution note).
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    /// Staff only: who suspended the account.
    #[serde(skip_serializing_if = "Option::is_none")]
    suspended_by: Option<i64>,
    /// Staff only: RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    suspended_at: Option<String>,
    /// Staff only: the report whose decision it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    report_id: Option<i64>,
}

impl SuspensionResponse {
    fn new(s: &domain::Suspension, staff: bool) -> Self {
        Self {
            until: s.until.map(rfc3339),
            reason: staff.then(|| s.reason.as_str().to_owned()),
            note: s
                .note
                .as_ref()
                .filter(|_| staff)
                .map(|n| n.as_str().to_owned()),
            suspended_by: staff.then_some(s.by.get()),
            suspended_at: staff.then(|| rfc3339(s.at)),
            report_id: s.report.filter(|_| staff).map(domain::ReportId::get),
        }
    }
}

/// What anyone logged in may see of an account.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SummaryResponse {
    user_id: i64,
    name: Option<String>,
    profile_img_uri: Option<String>,
}

impl AccountResponse {
    /// The account as `viewer` may see it (the suspension's details are for staff).
    pub fn new(a: &Account, state: &AppState, viewer: &Actor) -> Self {
        let now = time::OffsetDateTime::now_utc();
        Self {
            user_id: a.id.get(),
            name: a.name.as_ref().map(|n| n.as_str().to_owned()),
            email: a.email.as_ref().map(|e| e.as_str().to_owned()),
            roles: a.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            created_at: rfc3339(a.created_at),
            gender: a.gender.map(|g| g.as_str().to_owned()),
            birth_date: a.birth_date.map(|d| d.to_string()),
            profile_img_uri: state.profile_image_url(a),
            locale: a.locale.as_ref().map(|l| l.as_str().to_owned()),
            email_verified: a.email_verified,
            phone: a.phone.as_ref().map(|p| p.as_str().to_owned()),
            suspension: a
                .active_suspension(now)
                .map(|s| SuspensionResponse::new(s, viewer.is_staff())),
        }
    }
}

impl SummaryResponse {
    fn new(a: &Account, state: &AppState) -> Self {
        Self {
            user_id: a.id.get(),
            name: a.name.as_ref().map(|n| n.as_str().to_owned()),
            profile_img_uri: state.profile_image_url(a),
        }
    }
}

/// The full account: its owner, STAFF, ADMIN, SERVER.
#[utoipa::path(get, path = "/accounts/{id}", tag = "accounts",
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = AccountResponse),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "Another user's account", body = ErrorBody),
        (status = 404, description = "`USER_NOT_FOUND`: unknown or withdrawn", body = ErrorBody),
    ))]
pub async fn get_account(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = AccountId::new(*id);
    // Authorized before any work on the account is done on the caller's behalf.
    domain::services::Accounts::authorize_read(&who.actor, id)?;
    state.settle_avatar(id).await;
    let account = state.accounts.read(&who.actor, id).await?;
    Ok(HttpResponse::Ok().json(AccountResponse::new(&account, &state, &who.actor)))
}

/// Changes the profile: the owner or an ADMIN.
#[utoipa::path(patch, path = "/accounts/{id}", tag = "accounts",
    params(("id" = i64, Path)),
    request_body = PatchAccountRequest,
    responses(
        (status = 200, description = "The account as changed", body = AccountResponse),
        (status = 400, description = "`INVALID_INPUT` with `invalidFields`", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "Someone else's account, or `CSRF_ORIGIN_REFUSED`", body = ErrorBody),
        (status = 404, description = "`USER_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn patch_account(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<i64>,
    body: web::Json<PatchAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = AccountId::new(*id);
    let patch = body.into_inner().try_into_domain(state.accounts.today())?;
    let account = state
        .accounts
        .update_profile(&who.actor, id, patch, &who.request)
        .await?;
    Ok(HttpResponse::Ok().json(AccountResponse::new(&account, &state, &who.actor)))
}

/// Withdraws the account: every session revoked, personal data erased (in the audit log
/// too), the id never reused; afterwards it answers 404 `USER_NOT_FOUND`. The owner or an
/// ADMIN; an ADMIN deleting someone else's account, and a refused attempt, are audited.
#[utoipa::path(delete, path = "/accounts/{id}", tag = "accounts",
    params(("id" = i64, Path)),
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "Someone else's account", body = ErrorBody),
        (status = 404, description = "`USER_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn delete_account(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = AccountId::new(*id);
    state
        .accounts
        .check_withdraw(&who.actor, id, &who.request)
        .await?;
    // Images first: when the store is down nothing is withdrawn, and a retry finishes.
    // The evidence of the account's open reports stays until those reports are closed.
    let keep = state.reports.open_evidence_of(id).await?;
    state.images.purge_account(id, &keep).await?;
    state
        .accounts
        .withdraw(&who.actor, id, &who.request)
        .await?;
    let mut res = HttpResponse::NoContent();
    if who.actor.is(id) {
        res.cookie(state.cookies.removal(SESSION_COOKIE, "/"));
    }
    Ok(res.finish())
}

/// Name and picture, for any logged-in caller.
#[utoipa::path(get, path = "/accounts/{id}/summary", tag = "accounts",
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = SummaryResponse),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 404, description = "`USER_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn summary(
    state: web::Data<AppState>,
    _who: Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = AccountId::new(*id);
    let summary = state.accounts.summary(id).await?;
    // Settling an avatar upload is only worth it when the summary is read fresh; a new
    // avatar it confirms changes the account, and the second read sees it.
    let account = if summary.cached {
        summary.value
    } else {
        state.settle_avatar(id).await;
        state.accounts.summary(id).await?.value
    };
    Ok(HttpResponse::Ok().json(SummaryResponse::new(&account, &state)))
}

/// The internal profile other services read with a service token (role SERVER only).
#[utoipa::path(get, path = "/users/{userId}/profile", tag = "accounts",
    params(("userId" = i64, Path)),
    responses(
        (status = 200, body = SummaryResponse),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "Not a service", body = ErrorBody),
        (status = 404, description = "`USER_NOT_FOUND`, message `User Not Found`", body = ErrorBody),
    ))]
pub async fn internal_profile(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || {
        ApiError::new(ErrorCode::UserNotFound, "User Not Found")
            .in_domain(crate::error::Domain::Account)
    };
    let id = AccountId::new(*id);
    domain::services::Accounts::authorize_internal(&who.actor)?;
    state.settle_avatar(id).await;
    match state.accounts.internal_profile(&who.actor, id).await {
        Ok(account) => Ok(HttpResponse::Ok().json(SummaryResponse::new(&account, &state))),
        Err(domain::services::AccountError::NotFound) => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}
