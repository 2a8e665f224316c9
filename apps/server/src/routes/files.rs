//! The legacy upload routes: the files/avatars API (`/users/profiles/avatars`, `/files`), the account API's
//! profile-image routes, and the chat API's server-side multipart upload. Same image service,
//! the legacy answers' shapes.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::services::ImageError;
use domain::{AccountId, Channel};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Routes, route};
use crate::auth::Authenticated;
use crate::error::ErrorCode;
use crate::error::{ApiError, Domain, ErrorBody};
use crate::input::upload::UploadInput;
use crate::state::AppState;

pub fn routes(r: &mut Routes) {
    route!(r, avatar_url);
    route!(r, delete_avatar);
    route!(r, post_file_url);
    route!(r, profile_put_url);
    route!(r, delete_profile_image);
    route!(r, multi_upload);
}

/// The files/avatars API's optional query: the file's name and type. Without either, the URL takes any
/// accepted image type (or no `Content-Type`), decided from the bytes at confirmation.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct FileQuery {
    filename: Option<String>,
    /// The Content-Type the PUT must carry; absent (and no filename): any image type.
    content_type: Option<String>,
}

impl FileQuery {
    /// The files/avatars API's clients declare no type: the URL then takes any accepted image type (or
    /// none), and confirmation decides it from the bytes.
    fn input(self) -> UploadInput {
        UploadInput {
            filename: self.filename,
            content_type: self.content_type,
            any_type: true,
            ..UploadInput::default()
        }
    }
}

/// The files/avatars API's avatar answer, with the key and CDN URL added.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AvatarResponse {
    avatar_id: i64,
    pre_signed_url: String,
    key: String,
    cdn_url: String,
}

/// The files/avatars API's post-file answer, with the key and CDN URL added.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileResponse {
    file_id: i64,
    pre_signed_url: String,
    key: String,
    cdn_url: String,
}

/// A PUT URL for the caller's new avatar. There is no callback: the avatar takes effect
/// once its bytes are verified, at the latest when the account is next read.
#[utoipa::path(get, path = "/users/profiles/avatars", tag = "images",
    params(FileQuery),
    responses(
        (status = 200, body = AvatarResponse),
        (status = 400, description = "Invalid filename or type", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "`CSRF_ORIGIN_REFUSED`: a cookie-authenticated request from another site", body = ErrorBody),
        (status = 404, description = "`USER_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`CAN_NOT_ACCESS_S3`, or `QUOTA_EXCEEDED` (the account's images fill its quota)", body = ErrorBody),
        (status = 413, description = "`QUOTA_EXCEEDED`: the declared length would pass the account's quota", body = ErrorBody),
        (status = 429, description = "`UPLOAD_LIMIT_EXCEEDED`: too many uploads waiting at once, or issued this hour", body = ErrorBody),
    ))]
pub async fn avatar_url(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    who: Authenticated,
    query: web::Query<FileQuery>,
) -> Result<HttpResponse, ApiError> {
    crate::auth::check_issuing_get(&req, &state)?;
    let account = state.accounts.get(who.account()?).await?.id;
    let spec = query.into_inner().input().try_into_domain(
        account,
        Channel::Profile,
        state.images.policy(),
    )?;
    let issued = state.images.issue(account, Channel::Profile, &spec).await?;
    Ok(HttpResponse::Ok().json(AvatarResponse {
        avatar_id: issued.image.id.get(),
        pre_signed_url: issued.upload_url,
        key: issued.image.key.to_string(),
        cdn_url: issued.cdn_url,
    }))
}

/// Deletes the caller's avatar.
#[utoipa::path(delete, path = "/users/profiles/avatars", tag = "images",
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 404, description = "`FILE_NOT_FOUND`: no avatar", body = ErrorBody),
        (status = 409, description = "`CAN_NOT_ACCESS_S3`", body = ErrorBody),
    ))]
pub async fn delete_avatar(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    state
        .images
        .delete_avatar(&who.actor, who.account()?, &who.request)
        .await
        .map_err(file_not_found)?;
    Ok(HttpResponse::NoContent().finish())
}

fn file_not_found(e: ImageError) -> ApiError {
    match e {
        ImageError::NotFound => {
            ApiError::new(ErrorCode::FileNotFound, "FILE_NOT_FOUND").in_domain(Domain::Image)
        }
        other => other.into(),
    }
}

/// A PUT URL for a post image (the files/avatars API). Confirm it with
/// `POST /api/v1/images/post/callback` and its `key`.
#[utoipa::path(get, path = "/files", tag = "images",
    params(FileQuery),
    responses(
        (status = 200, body = FileResponse),
        (status = 400, description = "Invalid filename or type", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "`CSRF_ORIGIN_REFUSED`: a cookie-authenticated request from another site", body = ErrorBody),
        (status = 409, description = "`CAN_NOT_ACCESS_S3`, or `QUOTA_EXCEEDED` (the account's images fill its quota)", body = ErrorBody),
        (status = 413, description = "`QUOTA_EXCEEDED`: the declared length would pass the account's quota", body = ErrorBody),
        (status = 429, description = "`UPLOAD_LIMIT_EXCEEDED`: too many uploads waiting at once, or issued this hour", body = ErrorBody),
    ))]
pub async fn post_file_url(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    who: Authenticated,
    query: web::Query<FileQuery>,
) -> Result<HttpResponse, ApiError> {
    crate::auth::check_issuing_get(&req, &state)?;
    let account = who.account()?;
    let spec = query.into_inner().input().try_into_domain(
        account,
        Channel::Post,
        state.images.policy(),
    )?;
    let issued = state.images.issue(account, Channel::Post, &spec).await?;
    Ok(HttpResponse::Ok().json(FileResponse {
        file_id: issued.image.id.get(),
        pre_signed_url: issued.upload_url,
        key: issued.image.key.to_string(),
        cdn_url: issued.cdn_url,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedPutQuery {
    /// Required: a name ending in .png, .jpg, .jpeg or .gif.
    filename: Option<String>,
}

/// The account API: the PUT URL for the owner's profile image, as `text/plain`. The PUT must
/// carry the Content-Type of the file's extension.
#[utoipa::path(get, path = "/accounts/{id}/profile/image/signed-put-url", tag = "images",
    params(("id" = i64, Path), SignedPutQuery),
    responses(
        (status = 200, description = "The PUT URL", content_type = "text/plain"),
        (status = 400, description = "No filename, or not png, jpg, jpeg or gif", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "Not the owner", body = ErrorBody),
        (status = 409, description = "`CAN_NOT_ACCESS_S3`, or `QUOTA_EXCEEDED` (the account's images fill its quota)", body = ErrorBody),
        (status = 413, description = "`QUOTA_EXCEEDED`: the declared length would pass the account's quota", body = ErrorBody),
        (status = 429, description = "`UPLOAD_LIMIT_EXCEEDED`: too many uploads waiting at once, or issued this hour", body = ErrorBody),
    ))]
pub async fn profile_put_url(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<i64>,
    query: web::Query<SignedPutQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = AccountId::new(*id);
    let filename = query
        .into_inner()
        .filename
        .filter(|f| !f.is_empty())
        .ok_or_else(|| {
            ApiError::from(domain::ParseError::new("filename", "is required"))
                .in_domain(Domain::Image)
        })?;
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if !matches!(ext.as_str(), "png" | "jpg" | "jpeg" | "gif") {
        return Err(ApiError::new(
            ErrorCode::UnsupportedContentType,
            "The file must be .png, .jpg, .jpeg or .gif.",
        )
        .in_domain(Domain::Image));
    }
    let spec = UploadInput {
        filename: Some(filename),
        ..UploadInput::default()
    }
    .try_into_domain(id, Channel::Profile, state.images.policy())?;
    let issued = state
        .images
        .issue_for(&who.actor, id, Channel::Profile, &spec)
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(issued.upload_url))
}

/// The account API: deletes the account's profile image (the owner or an ADMIN).
#[utoipa::path(delete, path = "/accounts/{id}/profile/image", tag = "images",
    params(("id" = i64, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "Not the owner or an ADMIN", body = ErrorBody),
        (status = 404, description = "`FILE_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`CAN_NOT_ACCESS_S3`", body = ErrorBody),
    ))]
pub async fn delete_profile_image(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = AccountId::new(*id);
    state
        .images
        .delete_avatar(&who.actor, id, &who.request)
        .await
        .map_err(file_not_found)?;
    Ok(HttpResponse::NoContent().finish())
}

/// The chat API's multipart upload: every file part is streamed through the service to the
/// store and verified like a callback; `uploadDirPrefix` `/origin/report` makes report
/// evidence, any other `/origin/…` prefix post images. Answers the stored keys, for
/// `report_img_path`.
#[utoipa::path(post, path = "/api/multi-img/upload", tag = "images",
    request_body(content = String, content_type = "multipart/form-data",
        description = "Parts: `uploadDirPrefix` (text) and one or more files (any field name)."),
    responses(
        (status = 200, description = "The stored images' keys, in order", body = [String]),
        (status = 400, description = "No files, a bad prefix, or an image that failed verification", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 413, description = "A file larger than allowed, or `QUOTA_EXCEEDED`", body = ErrorBody),
        (status = 409, description = "`CAN_NOT_ACCESS_S3`, or `QUOTA_EXCEEDED`", body = ErrorBody),
        (status = 429, description = "`UPLOAD_LIMIT_EXCEEDED`", body = ErrorBody),
        (status = 503, description = "`IMAGE_PROCESSING_BUSY`: every turn to decode images is taken; retry after `Retry-After` seconds", body = ErrorBody),
    ))]
pub async fn multi_upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Authenticated,
    mut form: Multipart,
) -> Result<HttpResponse, ApiError> {
    let account = who.account()?;
    let _ = &req;
    let mut channel = None;
    let mut keys = Vec::new();
    const MAX_FILES: usize = 10;
    while let Some(field) = form.next().await {
        let field = field.map_err(|e| {
            ApiError::new(
                ErrorCode::MalformedMultipart,
                format!("The form is malformed: {e}"),
            )
        })?;
        let name = field.name().unwrap_or_default().to_owned();
        let disposition_filename = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(str::to_owned);
        match disposition_filename {
            None if name == "uploadDirPrefix" => {
                let raw = read_text(field, 256).await?;
                channel = Some(match raw.trim().trim_end_matches('/') {
                    "/origin/report" | "origin/report" => Channel::Report,
                    p if p.starts_with("/origin/") || p.starts_with("origin/") => Channel::Post,
                    other => {
                        return Err(ApiError::new(
                            ErrorCode::InvalidUploadDir,
                            format!(
                                "uploadDirPrefix {:?} is not /origin/…",
                                other.chars().take(64).collect::<String>()
                            ),
                        )
                        .in_domain(Domain::Image));
                    }
                });
            }
            None => {
                // Unknown text fields are read and ignored.
                let _ = read_text(field, 4096).await?;
            }
            Some(filename) => {
                let channel = channel.ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidUploadDir,
                        "uploadDirPrefix must come before the files.",
                    )
                    .in_domain(Domain::Image)
                })?;
                if keys.len() >= MAX_FILES {
                    return Err(ApiError::new(
                        ErrorCode::TooManyFiles,
                        format!("At most {MAX_FILES} files."),
                    )
                    .in_domain(Domain::Image));
                }
                let content_type = field.content_type().map(ToString::to_string);
                let spec = UploadInput {
                    filename: Some(filename),
                    content_type,
                    ..UploadInput::default()
                }
                .try_into_domain(account, channel, state.images.policy())?;
                let body = crate::body::forward(field);
                let image = state.images.upload(account, channel, &spec, body).await?;
                keys.push(image.key.to_string());
            }
        }
    }
    if keys.is_empty() {
        return Err(
            ApiError::new(ErrorCode::NoFiles, "The form holds no files.").in_domain(Domain::Image),
        );
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(keys))
}

async fn read_text(mut field: actix_multipart::Field, max: usize) -> Result<String, ApiError> {
    let mut out = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::new(ErrorCode::MalformedMultipart, e.to_string()))?;
        if out.len() + chunk.len() > max {
            return Err(ApiError::payload_too_large(Some(max)));
        }
        out.extend_from_slice(&chunk);
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::new(ErrorCode::MalformedMultipart, "A text field is not UTF-8."))
}
