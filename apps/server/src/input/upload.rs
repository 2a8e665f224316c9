//! An upload request, as every upload route family sends it, checked against the formats
//! and the image policy and turned into a [`UploadSpec`], each field parsed once.

use domain::services::ImagePolicy;
use domain::upload::{extension, is_metadata_key, parse_checksum, parse_filename};
use domain::{AccountId, Channel, ImageType, ParseError, UploadSpec};

use super::Refusals;
use crate::error::{ApiError, Domain, ErrorCode};

/// What the client asked for.
#[derive(Debug, Clone, Default)]
pub struct UploadInput {
    pub filename: Option<String>,
    /// `application/octet-stream` or none: resolved from the filename.
    pub content_type: Option<String>,
    /// Must be the caller's id when given (the upload pipeline API).
    pub uploader_id: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub content_length: Option<u64>,
    pub checksum: Option<String>,
    /// Without a declared type (nor a filename to take one from), accept any accepted image
    /// type and decide it from the bytes at confirmation, instead of refusing the request:
    /// the files/avatars API, whose clients declare none.
    pub any_type: bool,
}

/// The fields in the order a refusal lists them.
const FIELDS: &[(&str, &str)] = &[
    ("filename", "filename"),
    ("content_type", "content_type"),
    ("metadata", "metadata"),
    ("content_length", "content_length"),
    ("checksum", "checksum"),
];

/// The client's metadata: a JSON object (or nothing) whose keys are 1 to 64 characters
/// without control characters, at most `max_bytes` of JSON once stored with the
/// `channel` the service adds.
fn parse_metadata(
    v: Option<serde_json::Value>,
    channel: Channel,
    max_bytes: usize,
) -> Result<serde_json::Map<String, serde_json::Value>, ParseError> {
    let bad = |why: String| ParseError::new("metadata", why);
    let metadata = match v {
        None | Some(serde_json::Value::Null) => serde_json::Map::new(),
        Some(serde_json::Value::Object(m)) if m.keys().all(|k| is_metadata_key(k)) => m,
        Some(serde_json::Value::Object(_)) => {
            return Err(bad(
                "keys must be 1 to 64 characters without control characters".into(),
            ));
        }
        Some(_) => return Err(bad("must be a JSON object".into())),
    };
    // Measured as stored: with the channel the service adds.
    let mut stored = metadata.clone();
    stored.insert("channel".into(), channel.as_str().into());
    if serde_json::to_vec(&stored).map_or(usize::MAX, |v| v.len()) > max_bytes {
        return Err(bad(format!("must be at most {max_bytes} bytes of JSON")));
    }
    Ok(metadata)
}

/// A declared length: at least 1, at most `max`.
fn parse_length(n: u64, max: u64) -> Result<u64, ParseError> {
    match n {
        0 => Err(ParseError::new("content_length", "must be at least 1")),
        n if n > max => Err(ParseError::new(
            "content_length",
            format!("must be at most {max} bytes"),
        )),
        n => Ok(n),
    }
}

impl UploadInput {
    /// Checks the request for an upload by `caller` to `channel` under `policy`, each
    /// field parsed once.
    ///
    /// # Errors
    /// 403 `UPLOADER_MISMATCH` when `uploader_id` is someone else; 400
    /// `UNSUPPORTED_CONTENT_TYPE` for a type that is no accepted image; 400 naming every
    /// invalid field.
    pub fn try_into_domain(
        self,
        caller: AccountId,
        channel: Channel,
        policy: &ImagePolicy,
    ) -> Result<UploadSpec, ApiError> {
        let image = |e: ApiError| e.in_domain(Domain::Image);
        if let Some(claimed) = self.uploader_id.as_deref().map(str::trim)
            && !claimed.is_empty()
            && claimed != caller.to_string()
        {
            return Err(image(ApiError::new(
                ErrorCode::UploaderMismatch,
                "Uploader mismatch",
            )));
        }
        let mut invalid = Refusals::default();
        let filename = invalid.optional(self.filename.as_deref().map(parse_filename));
        let kind = self.kind(filename.as_ref(), &mut invalid).map_err(image)?;
        let metadata = invalid.take(parse_metadata(
            self.metadata,
            channel,
            policy.metadata_max_bytes,
        ));
        let content_length = invalid.optional(
            self.content_length
                .map(|n| parse_length(n, policy.max_size)),
        );
        let checksum = invalid.optional(
            self.checksum
                .as_deref()
                .filter(|c| !c.trim().is_empty())
                .map(parse_checksum),
        );
        match (kind, filename, metadata, content_length, checksum) {
            (Some(kind), Some(filename), Some(metadata), Some(content_length), Some(checksum))
                if invalid.is_empty() =>
            {
                Ok(UploadSpec {
                    kind,
                    filename,
                    metadata,
                    content_length,
                    checksum,
                })
            }
            _ => Err(image(ApiError::invalid_fields(
                invalid.into_ordered(FIELDS),
            ))),
        }
    }

    /// The declared type, or the filename's (the upload pipeline API's fallback);
    /// `Some(None)`: any accepted type, decided from the bytes; `None` when neither is
    /// given and one is required (recorded in `invalid`).
    ///
    /// # Errors
    /// 400 `UNSUPPORTED_CONTENT_TYPE` for a type that is no accepted image.
    fn kind(
        &self,
        filename: Option<&Option<String>>,
        invalid: &mut Refusals,
    ) -> Result<Option<Option<ImageType>>, ApiError> {
        let declared = self
            .content_type
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("application/octet-stream"));
        let unsupported = |what: String| {
            ApiError::new(
                ErrorCode::UnsupportedContentType,
                format!(
                    "{what} is not accepted: use image/png, image/jpeg, image/webp or image/gif."
                ),
            )
        };
        Ok(match (declared, filename.and_then(Option::as_ref)) {
            (Some(ct), _) => Some(Some(
                ImageType::from_mime(ct)
                    .map_err(|_| unsupported(ct.chars().take(100).collect()))?,
            )),
            (None, Some(name)) => Some(Some(
                ImageType::from_extension(extension(name))
                    .map_err(|_| unsupported(format!("a .{} file", extension(name))))?,
            )),
            (None, None) if self.any_type => Some(None),
            (None, None) => {
                invalid.push(ParseError::new(
                    "content_type",
                    "is required (or a filename with an image extension)",
                ));
                None
            }
        })
    }
}

#[cfg(test)]
mod tests {
    //! Moved from the image service's tests when checking requests moved to the edge: the
    //! same cases, the same outcomes.
    use base64::Engine as _;

    use super::*;

    const ME: AccountId = AccountId::new(42);

    fn request(content_type: &str) -> UploadInput {
        UploadInput {
            filename: Some("receipt.png".into()),
            content_type: Some(content_type.into()),
            ..UploadInput::default()
        }
    }

    fn check(input: UploadInput) -> Result<UploadSpec, ApiError> {
        input.try_into_domain(ME, Channel::Chat, &ImagePolicy::default())
    }

    fn code(r: Result<UploadSpec, ApiError>) -> Option<ErrorCode> {
        r.err().map(|e| e.code())
    }

    #[test]
    fn issuing_refuses_bad_requests_before_writing_anything() {
        let mismatch = UploadInput {
            uploader_id: Some("7".into()),
            ..request("image/png")
        };
        assert_eq!(code(check(mismatch)), Some(ErrorCode::UploaderMismatch));
        for ct in ["image/svg+xml", "text/html", "image/bmp"] {
            assert_eq!(
                code(check(request(ct))),
                Some(ErrorCode::UnsupportedContentType),
                "{ct}"
            );
        }
        let svg_by_name = UploadInput {
            filename: Some("x.svg".into()),
            content_type: Some("application/octet-stream".into()),
            ..UploadInput::default()
        };
        assert_eq!(
            code(check(svg_by_name)),
            Some(ErrorCode::UnsupportedContentType)
        );
        for name in [
            "../../etc/passwd.png",
            "/abs/x.png",
            "a\\b.png",
            "noext",
            ".png",
            "x\u{0}.png",
            "a\nb.png",
            "photo\u{202E}gnp.exe",
            "x\u{2066}y.png",
        ] {
            let r = UploadInput {
                filename: Some(name.into()),
                ..request("image/png")
            };
            assert_eq!(code(check(r)), Some(ErrorCode::InvalidInput), "{name:?}");
        }
        let big = UploadInput {
            metadata: Some(serde_json::json!({"note": "x".repeat(5000)})),
            ..request("image/png")
        };
        assert_eq!(code(check(big)), Some(ErrorCode::InvalidInput));
        let not_object = UploadInput {
            metadata: Some(serde_json::json!([1])),
            ..request("image/png")
        };
        assert_eq!(code(check(not_object)), Some(ErrorCode::InvalidInput));
        let too_long = UploadInput {
            content_length: Some(11 * 1024 * 1024),
            ..request("image/png")
        };
        assert_eq!(code(check(too_long)), Some(ErrorCode::InvalidInput));
        let bad_sum = UploadInput {
            checksum: Some("md5:abc".into()),
            ..request("image/png")
        };
        assert_eq!(code(check(bad_sum)), Some(ErrorCode::InvalidInput));
    }

    #[test]
    fn octet_stream_is_resolved_from_the_filename_and_checksums_are_normalised() {
        let hex = "a".repeat(64);
        let expected = base64::engine::general_purpose::STANDARD.encode([0xAAu8; 32]);
        let req = UploadInput {
            filename: Some("photo.JPEG".into()),
            content_type: Some("application/octet-stream".into()),
            checksum: Some(format!("sha256:{hex}")),
            ..UploadInput::default()
        };
        let spec = req
            .try_into_domain(ME, Channel::Scan, &ImagePolicy::default())
            .expect("valid");
        assert_eq!(spec.kind, Some(ImageType::Jpeg));
        assert_eq!(spec.checksum.as_deref(), Some(expected.as_str()));
    }

    #[test]
    fn every_invalid_field_is_named_in_the_order_the_request_declares_them() {
        let r = UploadInput {
            filename: Some("noext".into()),
            content_length: Some(0),
            checksum: Some("md5:abc".into()),
            metadata: Some(serde_json::json!({"": 1})),
            ..UploadInput::default()
        };
        let body = check(r).expect_err("refused").body();
        assert_eq!(
            body.invalid_fields.expect("fields"),
            [
                "filename",
                "content_type",
                "metadata",
                "content_length",
                "checksum"
            ]
        );
    }
}
