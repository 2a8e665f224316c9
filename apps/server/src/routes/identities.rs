//! The caller's linked identities: which providers can log in to the account, and
//! unlinking one of them (never the last).

use actix_web::{HttpResponse, web};
use domain::IdentityId;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Routes, rfc3339, route};
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub fn routes(r: &mut Routes) {
    route!(r, list);
    route!(r, unlink);
}

/// One linked identity.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityResponse {
    /// What `DELETE /account/identities/{id}` names.
    id: i64,
    /// The configured provider with this issuer (`google`, `kakao`, `dev`, …); `null` when
    /// none is configured any more.
    #[schema(example = "google")]
    provider: Option<String>,
    /// The provider's issuer URL.
    #[schema(example = "https://accounts.google.com")]
    issuer: String,
    /// The e-mail the provider gave when the identity was linked; `null` for identities
    /// linked before it was kept.
    email: Option<String>,
    /// RFC 3339.
    linked_at: String,
}

/// The caller's identities, oldest first (the one the account was created with first).
#[utoipa::path(get, path = "/account/identities", tag = "accounts",
    responses(
        (status = 200, body = [IdentityResponse]),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "A service token: services have no identities", body = ErrorBody),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let identities = state.accounts.identities(&who.actor).await?;
    Ok(HttpResponse::Ok().json(
        identities
            .into_iter()
            .map(|i| IdentityResponse {
                id: i.id.get(),
                provider: state
                    .login
                    .provider_of(i.identity.issuer())
                    .map(ToString::to_string),
                issuer: i.identity.issuer().to_owned(),
                email: i.email.map(|e| e.as_str().to_owned()),
                linked_at: rfc3339(i.linked_at),
            })
            .collect::<Vec<_>>(),
    ))
}

/// Unlinks one of the caller's identities: that provider no longer logs in to the
/// account. Never the last one.
#[utoipa::path(delete, path = "/account/identities/{id}", tag = "accounts",
    params(("id" = i64, Path)),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "A service token, or `CSRF_ORIGIN_REFUSED`", body = ErrorBody),
        (status = 404, description = "`IDENTITY_NOT_FOUND` (also for someone else's identity)", body = ErrorBody),
        (status = 409, description = "`LAST_IDENTITY`: the account's only identity", body = ErrorBody),
    ))]
pub async fn unlink(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state
        .accounts
        .unlink_identity(&who.actor, IdentityId::new(*id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
