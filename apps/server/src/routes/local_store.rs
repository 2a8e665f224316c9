//! The local store's HTTP protocol (STORAGE=local only): its presigned PUT endpoint,
//! which plays S3's part, and its "CDN", which plays CloudFront's. Neither route exists
//! when another store is configured. Uploads are checked against the URL's signature and
//! what it binds, then go to the store with its size limit; the "CDN" serves what the
//! store holds under a final key, never a staged upload.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::ObjectKey;
use storage_local::LocalStore;

use super::{Routes, route};
use crate::error::{ApiError, Domain, ErrorBody, ErrorCode};

pub fn routes(r: &mut Routes) {
    route!(r, local_put);
    route!(r, local_get);
    route!(r, local_head);
}

/// What the local store's endpoints need, registered as app data when STORAGE=local.
#[derive(Debug, Clone)]
pub struct LocalEndpoints {
    pub store: LocalStore,
    /// The largest upload accepted (`IMAGE_MAX_BYTES`).
    pub max_size: u64,
    /// Checks private images' signed URLs.
    pub reads: storage_local::ReadUrls,
    /// Tells private images from public ones.
    pub images: domain::services::Images,
}

/// A signed read's query: `?expires=…&sig=…`. Read leniently, as pairs (the first of
/// each name counts): a malformed or repeated one is no signature (403 for a private
/// image) and is ignored for a public one, never a 400.
pub type ReadQuery = Vec<(String, String)>;

fn first<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
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
    local: Option<web::Data<LocalEndpoints>>,
    key: web::Path<String>,
    query: web::Query<storage_local::SignedQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let local = local.ok_or_else(ApiError::route_not_found)?;
    let store = &local.store;
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
    let max = local.max_size;
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
/// CloudFront do (`actix-files` serves the file). A private image is served only with a
/// valid, unexpired signature (`?expires=…&sig=…`, checked in constant time), as
/// `Cache-Control: private` for no longer than the URL lives; without one it is 403.
#[utoipa::path(get, path = "/cdn/{key}", tag = "images",
    params(("key" = String, Path),
        ("expires" = Option<i64>, Query, description = "A private image's signed URL: its expiry (Unix seconds)"),
        ("sig" = Option<String>, Query, description = "A private image's signed URL: its signature")),
    responses(
        (status = 200, description = "The image bytes"),
        (status = 403, description = "`FORBIDDEN`: a private image without a valid signature, or after its URL expired", body = ErrorBody),
        (status = 206, description = "The requested byte range (Range)"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 404, description = "No such image", body = ErrorBody),
        (status = 416, description = "The range starts past the end"),
    ))]
pub async fn local_get(
    req: HttpRequest,
    local: Option<web::Data<LocalEndpoints>>,
    key: web::Path<String>,
    query: web::Query<ReadQuery>,
) -> Result<HttpResponse, ApiError> {
    let local = local.ok_or_else(ApiError::route_not_found)?;
    let store = &local.store;
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
    // A private image needs its signature; its cache lifetime is the URL's remaining one.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let cache_control = if local.images.is_private(&key).await? {
        let expires = local
            .reads
            .verify(
                &key,
                first(&query, "expires").and_then(|e| e.parse().ok()),
                first(&query, "sig"),
                now,
            )
            .map_err(|refusal| {
                ApiError::forbidden(match refusal {
                    storage_local::ReadRefusal::Unsigned => {
                        "This image is private: read it through a signed URL."
                    }
                    storage_local::ReadRefusal::Expired => {
                        "This signed URL has expired: ask for a fresh one."
                    }
                })
                .in_domain(Domain::Image)
            })?;
        format!("private, max-age={}", (expires - now).max(0))
    } else {
        "public, max-age=31536000, immutable".to_owned()
    };
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
        (header::CACHE_CONTROL, cache_control.as_str()),
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
    params(("key" = String, Path),
        ("expires" = Option<i64>, Query, description = "As for GET"),
        ("sig" = Option<String>, Query, description = "As for GET")),
    responses(
        (status = 200, description = "The headers of the image (Content-Length, Content-Type, ETag)"),
        (status = 403, description = "A private image without a valid signature", body = ErrorBody),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 404, description = "No such image", body = ErrorBody),
    ))]
pub async fn local_head(
    req: HttpRequest,
    local: Option<web::Data<LocalEndpoints>>,
    key: web::Path<String>,
    query: web::Query<ReadQuery>,
) -> Result<HttpResponse, ApiError> {
    local_get(req, local, key, query).await
}
