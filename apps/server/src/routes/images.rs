//! The image routes of seeds 003 (`/api/v1/images/{channel}` and its callback) and 004
//! (`/images/presigned-url*`, metadata, delete), the local store's upload endpoint and its
//! "CDN". Each is a thin translation over the one image service.

use std::collections::BTreeMap;

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use domain::services::{Confirmation, UploadRequest};
use domain::{Channel, Image, ObjectKey};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use super::Routes;
use crate::auth::Authenticated;
use crate::error::ErrorCode;
use crate::error::{ApiError, Domain, ErrorBody};
use crate::startup::AppState;

pub fn routes(r: &mut Routes) {
    r.add(Method::POST, "/api/v1/images/{channel}", issue_v1)
        .add(
            Method::POST,
            "/api/v1/images/{channel}/callback",
            callback_v1,
        )
        .add(Method::POST, "/images/presigned-url", presign_any)
        .add(Method::POST, "/images/presigned-url/scan", presign_scan)
        .add(
            Method::POST,
            "/images/presigned-url/profile",
            presign_profile,
        )
        .add(Method::GET, "/images/{key:.+}/metadata", metadata)
        .add(Method::DELETE, "/images/{key:.+}", delete_image)
        .add(Method::PUT, "/storage/{key:.+}", local_put)
        .add(Method::GET, "/cdn/{key:.+}", local_get)
        .add(Method::HEAD, "/cdn/{key:.+}", local_head);
}

pub(crate) fn channel(raw: &str) -> Result<Channel, ApiError> {
    raw.to_ascii_lowercase()
        .parse::<Channel>()
        .map_err(|e| ApiError::from(e).in_domain(Domain::Image))
}

/// Seed 003's presign request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IssueRequest {
    /// With an extension; kept for display, never used as the key.
    #[schema(example = "receipt.png")]
    filename: Option<String>,
    /// `image/png`, `image/jpeg`, `image/webp`, `image/gif`, or `application/octet-stream`
    /// (resolved from the filename).
    #[schema(example = "image/png")]
    content_type: Option<String>,
    /// Must be the caller's id when given.
    uploader_id: Option<serde_json::Value>,
    /// A free JSON object (at most 4 KiB).
    metadata: Option<serde_json::Value>,
    /// When given, bound into the upload URL: the store refuses another length.
    content_length: Option<u64>,
    /// `sha256:<base64 or hex>`; when given, bound into the upload URL.
    checksum: Option<String>,
}

/// Seed 003's presign answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueResponse {
    #[schema(example = "chat/2026/11/23/42/Zx9Qa1b2c3d4e5f6g7h8iA.png")]
    key: String,
    /// PUT the bytes here with exactly `required_headers`.
    upload_url: String,
    /// Where the image will be served once confirmed.
    cdn_url: String,
    /// Seconds the upload URL works.
    expires_in: u64,
    required_headers: BTreeMap<String, String>,
}

fn uploader_string(v: Option<serde_json::Value>) -> Option<String> {
    match v {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(serde_json::Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    }
}

/// Issues an upload URL for `channel` (`chat`, `scan`, `my`, `profile`, `post`, `report`).
#[utoipa::path(post, path = "/api/v1/images/{channel}", tag = "images",
    params(("channel" = String, Path, description = "chat, scan, my, profile, post or report")),
    request_body = IssueRequest,
    responses(
        (status = 200, body = IssueResponse),
        (status = 400, description = "Invalid request, unknown channel, `UNSUPPORTED_CONTENT_TYPE`", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "`UPLOADER_MISMATCH`", body = ErrorBody),
        (status = 409, description = "`CAN_NOT_ACCESS_S3`, or `QUOTA_EXCEEDED` (the account's images fill its quota)", body = ErrorBody),
        (status = 413, description = "`QUOTA_EXCEEDED`: the declared length would pass the account's quota", body = ErrorBody),
        (status = 429, description = "`UPLOAD_LIMIT_EXCEEDED`: too many uploads waiting at once, or issued this hour", body = ErrorBody),
    ))]
pub async fn issue_v1(
    state: web::Data<AppState>,
    who: Authenticated,
    raw_channel: web::Path<String>,
    body: web::Json<IssueRequest>,
) -> Result<HttpResponse, ApiError> {
    let account = who.account()?;
    let b = body.into_inner();
    let req = UploadRequest {
        filename: b.filename,
        content_type: b.content_type,
        uploader_id: uploader_string(b.uploader_id),
        metadata: b.metadata,
        content_length: b.content_length,
        checksum: b.checksum,
        any_type: false,
    };
    let issued = state
        .images
        .issue(account, channel(&raw_channel)?, &req)
        .await?;
    Ok(HttpResponse::Ok().json(IssueResponse {
        key: issued.image.key.to_string(),
        upload_url: issued.upload_url,
        cdn_url: issued.cdn_url,
        expires_in: issued.expires_in,
        required_headers: issued.required_headers.into_iter().collect(),
    }))
}

/// Seed 003's callback request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CallbackRequest {
    key: String,
    /// The ETag the store answered the PUT with; empty is allowed.
    etag: Option<String>,
    content_length: Option<u64>,
    checksum: Option<String>,
}

/// A confirmed image (seed 003's callback answer; also the metadata of seed 004).
#[derive(Debug, Serialize, ToSchema)]
pub struct ImageResponse {
    key: String,
    cdn_url: String,
    channel: String,
    uploader_id: String,
    content_type: String,
    content_length: Option<u64>,
    etag: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    metadata: serde_json::Value,
    /// `ready`.
    status: String,
    original_filename: Option<String>,
    created_at: String,
    confirmed_at: Option<String>,
    /// When retention deletes it (chat 7 days, scan 30 days), if ever.
    expires_at: Option<String>,
}

impl ImageResponse {
    pub(crate) fn new(image: &Image, state: &AppState) -> Self {
        let at = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
        Self {
            key: image.key.to_string(),
            cdn_url: state.images.cdn_url(&image.key),
            channel: image.channel.as_str().to_owned(),
            uploader_id: image.uploader.to_string(),
            // Known once confirmed; empty while an upload that declared none is pending.
            content_type: image
                .content_type
                .map_or(String::new(), |t| t.mime().to_owned()),
            content_length: image.size,
            etag: image.etag.clone(),
            width: image.width,
            height: image.height,
            metadata: serde_json::Value::Object(image.metadata.clone()),
            status: image.status.as_str().to_owned(),
            original_filename: image.original_filename.clone(),
            created_at: at(image.created_at),
            confirmed_at: image.confirmed_at.map(at),
            expires_at: image
                .expires_at
                .filter(|_| image.status == domain::ImageStatus::Ready)
                .map(at),
        }
    }
}

/// Confirms an upload against the stored bytes; idempotent.
#[utoipa::path(post, path = "/api/v1/images/{channel}/callback", tag = "images",
    params(("channel" = String, Path)),
    request_body = CallbackRequest,
    responses(
        (status = 200, body = ImageResponse),
        (status = 400, description = "`CHANNEL_MISMATCH`, `IMAGE_REJECTED` (the object failed verification and was deleted), invalid key", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 404, description = "`IMAGE_NOT_FOUND` (unknown, expired, or someone else's upload), `UPLOAD_NOT_FOUND` (not uploaded yet)", body = ErrorBody),
        (status = 409, description = "`CAN_NOT_ACCESS_S3`", body = ErrorBody),
    ))]
pub async fn callback_v1(
    state: web::Data<AppState>,
    who: Authenticated,
    raw_channel: web::Path<String>,
    body: web::Json<CallbackRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let c = Confirmation {
        etag: b.etag,
        content_length: b.content_length,
        checksum: b.checksum,
    };
    let image = state
        .images
        .confirm(&who.actor, channel(&raw_channel)?, &b.key, &c)
        .await?;
    Ok(HttpResponse::Ok().json(ImageResponse::new(&image, &state)))
}

/// Seed 004's presign request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PresignRequest {
    #[schema(example = "image/jpeg")]
    content_type: Option<String>,
    filename: Option<String>,
    /// `chat` (default), `scan`, `profile`, `my`, `post`, `report`; case-insensitive.
    purpose: Option<String>,
    /// The body's length in bytes, when known: the upload URL then binds it (S3 refuses
    /// any other length), as seed 003's does. Without it S3 cannot bound the PUT's size
    /// until confirmation (see docs/images.md).
    content_length: Option<u64>,
}

/// Seed 004's presign answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresignResponse {
    upload_url: String,
    cdn_url: String,
    key: String,
    expires_in: u64,
    /// The headers the PUT must carry (seed 003's addition).
    required_headers: BTreeMap<String, String>,
}

async fn presign(
    state: &AppState,
    who: &Authenticated,
    channel: Channel,
    b: PresignRequest,
) -> Result<HttpResponse, ApiError> {
    let req = UploadRequest {
        filename: b.filename,
        content_type: b.content_type,
        content_length: b.content_length,
        ..UploadRequest::default()
    };
    let issued = state.images.issue(who.account()?, channel, &req).await?;
    Ok(HttpResponse::Ok().json(PresignResponse {
        upload_url: issued.upload_url,
        cdn_url: issued.cdn_url,
        key: issued.image.key.to_string(),
        expires_in: issued.expires_in,
        required_headers: issued.required_headers.into_iter().collect(),
    }))
}

/// An upload URL for `purpose` (default `chat`). Confirm with the v1 callback, or let
/// the first metadata read by the uploader confirm it.
#[utoipa::path(post, path = "/images/presigned-url", tag = "images",
    request_body = PresignRequest,
    responses(
        (status = 200, body = PresignResponse),
        (status = 400, description = "Invalid request or purpose", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 409, description = "`CAN_NOT_ACCESS_S3`, or `QUOTA_EXCEEDED` (the account's images fill its quota)", body = ErrorBody),
        (status = 413, description = "`QUOTA_EXCEEDED`: the declared length would pass the account's quota", body = ErrorBody),
        (status = 429, description = "`UPLOAD_LIMIT_EXCEEDED`: too many uploads waiting at once, or issued this hour", body = ErrorBody),
    ))]
pub async fn presign_any(
    state: web::Data<AppState>,
    who: Authenticated,
    body: web::Json<PresignRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut b = body.into_inner();
    let c = match b.purpose.take() {
        Some(p) => channel(&p)?,
        None => Channel::Chat,
    };
    presign(&state, &who, c, b).await
}

/// An upload URL for a scan image (kept 30 days).
#[utoipa::path(post, path = "/images/presigned-url/scan", tag = "images",
    request_body = PresignRequest,
    responses((status = 200, body = PresignResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn presign_scan(
    state: web::Data<AppState>,
    who: Authenticated,
    body: web::Json<PresignRequest>,
) -> Result<HttpResponse, ApiError> {
    presign(&state, &who, Channel::Scan, body.into_inner()).await
}

/// An upload URL for the caller's profile image: once its bytes are verified it becomes
/// the avatar, replacing (and deleting) the previous one.
#[utoipa::path(post, path = "/images/presigned-url/profile", tag = "images",
    request_body = PresignRequest,
    responses((status = 200, body = PresignResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn presign_profile(
    state: web::Data<AppState>,
    who: Authenticated,
    body: web::Json<PresignRequest>,
) -> Result<HttpResponse, ApiError> {
    presign(&state, &who, Channel::Profile, body.into_inner()).await
}

/// A ready image's metadata: its uploader, STAFF, ADMIN, SERVER. The uploader's read of
/// a pending upload whose bytes have arrived confirms it (seed 004 has no callback).
#[utoipa::path(get, path = "/images/{key}/metadata", tag = "images",
    params(("key" = String, Path, description = "The image key; may contain `/`")),
    responses(
        (status = 200, body = ImageResponse),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 404, description = "`IMAGE_NOT_FOUND`: unknown, not ready, or someone else's", body = ErrorBody),
    ))]
pub async fn metadata(
    state: web::Data<AppState>,
    who: Authenticated,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let image = state.images.metadata(&who.actor, &key).await?;
    Ok(HttpResponse::Ok().json(ImageResponse::new(&image, &state)))
}

/// Deletes an image: its uploader, STAFF or ADMIN (a service token gets 403). The object is removed and its CDN path
/// invalidated.
#[utoipa::path(delete, path = "/images/{key}", tag = "images",
    params(("key" = String, Path, description = "The image key; may contain `/`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "`FORBIDDEN`: a service token (services never delete images)", body = ErrorBody),
        (status = 404, description = "`IMAGE_NOT_FOUND` (also for someone else's image)", body = ErrorBody),
        (status = 409, description = "`CAN_NOT_ACCESS_S3`: nothing was changed", body = ErrorBody),
    ))]
pub async fn delete_image(
    state: web::Data<AppState>,
    who: Authenticated,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.images.delete(&who.actor, &key).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The local store's presigned PUT (local storage only): the URL's signature, expiry and
/// bound headers are checked first, then the body streams to disk with the size limit,
/// length and checksum enforced on the way. Answers the object's `ETag`.
#[utoipa::path(put, path = "/storage/{key}", tag = "images",
    params(("key" = String, Path, description = "A staging key, from an upload URL")),
    request_body(content = Vec<u8>, content_type = "image/*"),
    responses(
        (status = 200, description = "Stored; the `ETag` header names the object"),
        (status = 400, description = "`UPLOAD_MISMATCH`: a header or the body differs from what the URL binds", body = ErrorBody),
        (status = 403, description = "`UPLOAD_URL_INVALID` (bad signature) or `UPLOAD_URL_EXPIRED`", body = ErrorBody),
        (status = 404, description = "Local storage is off", body = ErrorBody),
        (status = 413, description = "Larger than allowed", body = ErrorBody),
    ))]
pub async fn local_put(
    req: HttpRequest,
    state: web::Data<AppState>,
    key: web::Path<String>,
    query: web::Query<storage_local::SignedQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let store = state
        .local_store
        .as_ref()
        .ok_or_else(ApiError::route_not_found)?;
    let signer = store.signer().ok_or_else(ApiError::route_not_found)?;
    let key = ObjectKey::parse(&key).map_err(|_| ApiError::route_not_found())?;
    if !key
        .as_str()
        .starts_with(domain::image::staging_prefix().as_str())
    {
        // Upload URLs only ever name staging keys: final keys are written by the service.
        return Err(upload_url_invalid());
    }
    let h = |name: header::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok());
    let length = h(header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    let checksum = req
        .headers()
        .get("x-amz-checksum-sha256")
        .and_then(|v| v.to_str().ok());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let permit = signer
        .verify(&key, &query, h(header::CONTENT_TYPE), length, checksum, now)
        .map_err(|e| match e {
            storage_local::PutRefusal::Expired => ApiError::new(
                ErrorCode::UploadUrlExpired,
                "This upload URL has expired: ask for a new one.",
            )
            .in_domain(Domain::Image),
            storage_local::PutRefusal::BadSignature => upload_url_invalid(),
            storage_local::PutRefusal::HeaderMismatch(which) => ApiError::new(
                ErrorCode::UploadMismatch,
                format!("The {which} header differs from the one this upload URL was issued for."),
            )
            .in_domain(Domain::Image),
        })?;
    let max = state.images.policy().max_size;
    if length.is_some_and(|l| l > max) {
        return Err(ApiError::payload_too_large(usize::try_from(max).ok()).in_domain(Domain::Image));
    }
    let sha256 = permit
        .checksum_sha256
        .as_deref()
        .and_then(|s| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(s).ok()
        })
        .and_then(|v| <[u8; 32]>::try_from(v).ok());
    // The body goes to the store as actix gives it, on this worker: no forwarding task (see
    // `LocalStore::put_checked`).
    let body = futures_util::StreamExt::map(payload, |chunk| chunk.map_err(std::io::Error::other));
    let meta = store
        .put_checked(
            &key,
            body,
            &permit.content_type,
            max,
            &storage_local::BodyChecks {
                exact_len: permit.content_length,
                sha256,
            },
        )
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, format!("\"{}\"", meta.etag)))
        .finish())
}

fn upload_url_invalid() -> ApiError {
    ApiError::new(ErrorCode::UploadUrlInvalid, "This upload URL is not valid.")
        .in_domain(Domain::Image)
}

/// The local adapter set's "CDN": serves confirmed objects with their type, an ETag, a
/// long cache lifetime (keys are never reused), `nosniff` and a CSP that forbids
/// everything, so even a hostile file could not run as a page. `HEAD` answers like `GET`
/// without the body and a `Range` is honoured (206, or 416 past the end), as S3 and
/// CloudFront do (`actix-files` serves the file).
#[utoipa::path(get, path = "/cdn/{key}", tag = "images",
    params(("key" = String, Path)),
    responses(
        (status = 200, description = "The image bytes"),
        (status = 206, description = "The requested byte range (Range)"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 404, description = "No such image", body = ErrorBody),
        (status = 416, description = "The range starts past the end"),
    ))]
pub async fn local_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let store = state
        .local_store
        .as_ref()
        .ok_or_else(ApiError::route_not_found)?;
    let not_found =
        || ApiError::new(ErrorCode::ImageNotFound, "No such image.").in_domain(Domain::Image);
    let key = ObjectKey::parse(&key).map_err(|_| not_found())?;
    // Staged bytes are unverified: never served, however the path's case is spelled (a
    // case-insensitive file system opens `UPLOADS/…` as `uploads/…`).
    let staging = domain::image::staging_prefix();
    if key
        .segments()
        .next()
        .zip(staging.segments().next())
        .is_some_and(|(first, staged)| first.eq_ignore_ascii_case(staged))
    {
        return Err(not_found());
    }
    let head = domain::ObjectStore::head(store, &key)
        .await?
        .ok_or_else(not_found)?;
    let etag = format!("\"{}\"", head.etag);
    let content_type = head
        .content_type
        .filter(|t| domain::ImageType::from_mime(t).is_ok())
        .and_then(|t| t.parse::<actix_web::mime::Mime>().ok())
        .unwrap_or(actix_web::mime::APPLICATION_OCTET_STREAM);
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh {
        HttpResponse::NotModified().finish()
    } else {
        actix_files::NamedFile::open_async(store.path_of(&key))
            .await
            .map_err(|_| not_found())?
            .set_content_type(content_type)
            .disable_content_disposition()
            // The store's ETag (the bytes' MD5, as S3's) replaces the file's own.
            .use_etag(false)
            .use_last_modified(false)
            .into_response(&req)
    };
    let headers = res.headers_mut();
    for (name, value) in [
        (header::ETAG, etag.as_str()),
        (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        if let Ok(value) = header::HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    Ok(res)
}

/// `HEAD` on the local "CDN": the headers `GET` would answer, without the body.
#[utoipa::path(head, path = "/cdn/{key}", tag = "images",
    params(("key" = String, Path)),
    responses(
        (status = 200, description = "The headers of the image (Content-Length, Content-Type, ETag)"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 404, description = "No such image", body = ErrorBody),
    ))]
pub async fn local_head(
    req: HttpRequest,
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    local_get(req, state, key).await
}
