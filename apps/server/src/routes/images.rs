//! The image routes of the upload pipeline API (`/api/v1/images/{channel}` and its callback) and 004
//! (`/images/presigned-url*`, metadata, delete). Each is a thin translation over the one
//! image service.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use domain::services::Confirmation;
use domain::services::ImageView;
use domain::{Channel, Image, ObjectKey};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Routes, rfc3339, route};
use crate::auth::Authenticated;
use crate::error::{ApiError, Domain, ErrorBody};
use crate::input::upload::UploadInput;
use crate::state::AppState;

pub fn routes(r: &mut Routes) {
    route!(r, issue_v1);
    route!(r, callback_v1);
    route!(r, presign_any);
    route!(r, presign_scan);
    route!(r, presign_profile);
    route!(r, metadata);
    route!(r, read_url);
    route!(r, delete_image);
}

pub(crate) fn channel(raw: &str) -> Result<Channel, ApiError> {
    raw.to_ascii_lowercase()
        .parse::<Channel>()
        .map_err(|e| ApiError::from(e).in_domain(Domain::Image))
}

/// A key in a path: one that cannot be a key names no image (404, as an unknown one).
fn image_key(raw: &str) -> Result<ObjectKey, ApiError> {
    ObjectKey::parse(raw).map_err(|_| ApiError::from(domain::services::ImageError::NotFound))
}

/// The upload pipeline API's presign request.
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

/// The upload pipeline API's presign answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueResponse {
    #[schema(example = "chat/2026/11/23/42/Zx9Qa1b2c3d4e5f6g7h8iA.png")]
    key: String,
    /// PUT the bytes here with exactly `required_headers`.
    upload_url: String,
    /// Where the image will be served once confirmed.
    cdn_url: String,
    /// When `cdn_url` stops working (RFC 3339): present only for a private image, whose
    /// URL is signed (`GET /images/{key}/url` gives a fresh one).
    #[serde(skip_serializing_if = "Option::is_none")]
    cdn_url_expires_at: Option<String>,
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
    let channel = channel(&raw_channel)?;
    let spec = UploadInput {
        filename: b.filename,
        content_type: b.content_type,
        uploader_id: uploader_string(b.uploader_id),
        metadata: b.metadata,
        content_length: b.content_length,
        checksum: b.checksum,
        any_type: false,
    }
    .try_into_domain(account, channel, state.images.policy())?;
    let issued = state.images.issue(account, channel, &spec).await?;
    Ok(HttpResponse::Ok().json(IssueResponse {
        key: issued.image.key.to_string(),
        upload_url: issued.upload_url,
        cdn_url: issued.cdn_url,
        cdn_url_expires_at: issued.cdn_url_expires_at.map(rfc3339),
        expires_in: issued.expires_in,
        required_headers: issued.required_headers.into_iter().collect(),
    }))
}

/// The upload pipeline API's callback request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CallbackRequest {
    key: String,
    /// The ETag the store answered the PUT with; empty is allowed.
    etag: Option<String>,
    content_length: Option<u64>,
    checksum: Option<String>,
}

/// A confirmed image (the upload pipeline API's callback answer; also the metadata of the images domain API).
#[derive(Debug, Serialize, ToSchema)]
pub struct ImageResponse {
    key: String,
    cdn_url: String,
    /// When `cdn_url` stops working (RFC 3339): present only for a private image, whose
    /// URL is signed (`GET /images/{key}/url` gives a fresh one).
    #[serde(skip_serializing_if = "Option::is_none")]
    cdn_url_expires_at: Option<String>,

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
    /// Its variants by name (`IMAGE_VARIANTS`: `thumb`, `medium` by default), WebP, made
    /// when it was confirmed; empty before, and for images confirmed before variants
    /// existed. A private image's variant URLs are signed and expire with `cdn_url`.
    variants: Variants,
    /// The BlurHash of the image (4×3 components), a placeholder to show while it
    /// loads; `null` before it is confirmed.
    blurhash: Option<String>,
}

/// An image's variants by name.
pub type Variants = std::collections::BTreeMap<String, VariantResponse>;

/// One variant of an image.
#[derive(Debug, Serialize, ToSchema)]
pub struct VariantResponse {
    url: String,
    width: u32,
    height: u32,
    /// `image/webp`.
    content_type: String,
}

/// `view`'s variants as answered.
pub(crate) fn variants(view: &ImageView) -> Variants {
    view.variants
        .iter()
        .map(|v| {
            (
                v.name.clone(),
                VariantResponse {
                    url: v.url.url.clone(),
                    width: v.width,
                    height: v.height,
                    content_type: v.content_type.mime().to_owned(),
                },
            )
        })
        .collect()
}

impl ImageResponse {
    /// The image as answered, with `view`'s URLs (signed for a private one).
    pub(crate) fn new(image: &Image, view: ImageView) -> Self {
        Self {
            key: image.key.to_string(),
            variants: variants(&view),
            blurhash: view.blurhash,
            cdn_url: view.url.url,
            cdn_url_expires_at: view.url.expires_at.map(rfc3339),
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
            created_at: rfc3339(image.created_at),
            confirmed_at: image.confirmed_at.map(rfc3339),
            expires_at: image
                .expires_at
                .filter(|_| image.status == domain::ImageStatus::Ready)
                .map(rfc3339),
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
        (status = 503, description = "`IMAGE_PROCESSING_BUSY`: every turn to decode images is taken; nothing changed, retry after `Retry-After` seconds", body = ErrorBody),
    ))]
pub async fn callback_v1(
    state: web::Data<AppState>,
    who: Authenticated,
    raw_channel: web::Path<String>,
    body: web::Json<CallbackRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let channel = channel(&raw_channel)?;
    let key = ObjectKey::parse(&b.key).map_err(|e| ApiError::from(e).in_domain(Domain::Image))?;
    let c = Confirmation {
        etag: b.etag,
        content_length: b.content_length,
        checksum: b.checksum,
    };
    let image = state.images.confirm(&who.actor, channel, &key, &c).await?;
    let view = state.images.view(&image).await?;
    Ok(HttpResponse::Ok().json(ImageResponse::new(&image, view)))
}

/// The images domain API's presign request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PresignRequest {
    #[schema(example = "image/jpeg")]
    content_type: Option<String>,
    filename: Option<String>,
    /// `chat` (default), `scan`, `profile`, `my`, `post`, `report`; case-insensitive.
    purpose: Option<String>,
    /// The body's length in bytes, when known: the upload URL then binds it (S3 refuses
    /// any other length), as the upload pipeline API's does. Without it S3 cannot bound the PUT's size
    /// until confirmation (see docs/images.md).
    content_length: Option<u64>,
}

/// The images domain API's presign answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresignResponse {
    upload_url: String,
    cdn_url: String,
    /// When `cdn_url` stops working (RFC 3339): present only for a private image, whose
    /// URL is signed (`GET /images/{key}/url` gives a fresh one).
    #[serde(skip_serializing_if = "Option::is_none")]
    cdn_url_expires_at: Option<String>,

    key: String,
    expires_in: u64,
    /// The headers the PUT must carry (the upload pipeline API's addition).
    required_headers: BTreeMap<String, String>,
}

async fn presign(
    state: &AppState,
    who: &Authenticated,
    channel: Channel,
    b: PresignRequest,
) -> Result<HttpResponse, ApiError> {
    let account = who.account()?;
    let spec = UploadInput {
        filename: b.filename,
        content_type: b.content_type,
        content_length: b.content_length,
        ..UploadInput::default()
    }
    .try_into_domain(account, channel, state.images.policy())?;
    let issued = state.images.issue(account, channel, &spec).await?;
    Ok(HttpResponse::Ok().json(PresignResponse {
        upload_url: issued.upload_url,
        cdn_url: issued.cdn_url,
        cdn_url_expires_at: issued.cdn_url_expires_at.map(rfc3339),
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
/// a pending upload whose bytes have arrived confirms it (the images domain API has no callback).
#[utoipa::path(get, path = "/images/{key}/metadata", tag = "images",
    params(("key" = String, Path, description = "The image key; may contain `/`")),
    responses(
        (status = 200, body = ImageResponse),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 404, description = "`IMAGE_NOT_FOUND`: unknown, not ready, or someone else's", body = ErrorBody),
        (status = 503, description = "`IMAGE_PROCESSING_BUSY`: the uploader's first read confirms a pending upload, and every turn to decode is taken; retry after `Retry-After` seconds", body = ErrorBody),
    ))]
pub async fn metadata(
    state: web::Data<AppState>,
    who: Authenticated,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = image_key(&key)?;
    let image = state.images.metadata(&who.actor, &key).await?;
    let view = state.images.view(&image).await?;
    Ok(HttpResponse::Ok().json(ImageResponse::new(&image, view)))
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
    let key = image_key(&key)?;
    state.images.delete(&who.actor, &key, &who.request).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A fresh URL of a ready image.
#[derive(Debug, Serialize, ToSchema)]
pub struct UrlResponse {
    /// Where to read it: for a private image a signed URL.
    url: String,
    /// Seconds `url` works; `null` for a public image's, which does not expire.
    expires_in: Option<i64>,
}

/// A fresh URL of a ready image, for those who may read it: its uploader, STAFF, ADMIN
/// and services. A private image's is signed and works for `PRIVATE_URL_TTL_SECS`.
#[utoipa::path(get, path = "/images/{key}/url", tag = "images",
    params(("key" = String, Path)),
    responses(
        (status = 200, body = UrlResponse),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 404, description = "`IMAGE_NOT_FOUND`: none, not ready, or not the caller's to read", body = ErrorBody),
        (status = 409, description = "`CAN_NOT_ACCESS_S3`: the store cannot sign now", body = ErrorBody),
    ))]
pub async fn read_url(
    state: web::Data<AppState>,
    who: Authenticated,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = image_key(&key)?;
    let url = state.images.read_url(&who.actor, &key).await?;
    let now = time::OffsetDateTime::now_utc();
    Ok(HttpResponse::Ok().json(UrlResponse {
        url: url.url,
        expires_in: url.expires_at.map(|t| (t - now).whole_seconds().max(0)),
    }))
}
