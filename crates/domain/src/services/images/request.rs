//! An upload request as the client sent it, checked and turned into the values an upload
//! is issued with: the filename, the type (declared, from the filename, or decided from
//! the bytes), the client's metadata, the declared length and checksum.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::ParseError;
use crate::image::{Channel, ImageType};

use super::{ImageError, ImagePolicy, UploadRequest};

/// Control characters, and the invisible marks that reorder text: shown to a person,
/// `photo\u{202E}gnp.exe` reads as `photoexe.png`.
fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A filename for display: 1 to 255 characters, no path separators, no control or
/// bidirectional-override characters, not hidden, with an extension.
pub(crate) fn parse_filename(name: &str) -> Result<String, ParseError> {
    let bad = |why: &str| ParseError::new("filename", why.to_owned());
    if name.is_empty() || name.chars().count() > 255 {
        return Err(bad("must be 1 to 255 characters"));
    }
    if name.contains(['/', '\\']) || name.chars().any(is_unprintable) {
        return Err(bad(
            "must be a bare file name, without paths or control characters",
        ));
    }
    if name.starts_with('.') || !name.contains('.') || name.ends_with('.') {
        return Err(bad("must have a name and an extension, like photo.png"));
    }
    Ok(name.to_owned())
}

fn extension(name: &str) -> &str {
    name.rsplit_once('.').map_or("", |(_, e)| e)
}

/// `sha256:<base64>` or `sha256:<hex>` → base64, as `x-amz-checksum-sha256` wants.
pub(super) fn parse_checksum(s: &str) -> Result<String, ParseError> {
    let bad = || ParseError::new("checksum", "must be sha256:<base64 or hex of 32 bytes>");
    let v = s.trim().strip_prefix("sha256:").unwrap_or(s.trim());
    let bytes = if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(v).map_err(|_| bad())?
    } else {
        STANDARD.decode(v).map_err(|_| bad())?
    };
    if bytes.len() == 32 {
        Ok(STANDARD.encode(bytes))
    } else {
        Err(bad())
    }
}

/// An upload request, checked.
pub(super) struct Parsed {
    /// `None`: any accepted type, decided from the bytes.
    pub kind: Option<ImageType>,
    pub filename: Option<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub content_length: Option<u64>,
    pub checksum: Option<String>,
}

/// Checks `req` for an upload to `channel` under `policy`, naming every invalid field.
///
/// # Errors
/// `Invalid` with every invalid field, `UnsupportedContentType`.
pub(super) fn parse(
    policy: &ImagePolicy,
    channel: Channel,
    req: &UploadRequest,
) -> Result<Parsed, ImageError> {
    let mut invalid = Vec::new();
    let filename = req
        .filename
        .as_deref()
        .map(parse_filename)
        .transpose()
        .map_err(|e| invalid.push(e))
        .ok()
        .flatten();
    let declared = req
        .content_type
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("application/octet-stream"));
    // `None` when invalid; `Some(None)`: any accepted type, decided from the bytes.
    let kind: Option<Option<ImageType>> = match (declared, &filename) {
        (Some(ct), _) => Some(Some(ImageType::from_mime(ct).map_err(|_| {
            ImageError::UnsupportedContentType(ct.chars().take(100).collect())
        })?)),
        // Seed 003's fallback: resolve from the filename's extension.
        (None, Some(name)) => Some(Some(ImageType::from_extension(extension(name)).map_err(
            |_| ImageError::UnsupportedContentType(format!("a .{} file", extension(name))),
        )?)),
        (None, None) if req.any_type => Some(None),
        (None, None) => {
            invalid.push(ParseError::new(
                "content_type",
                "is required (or a filename with an image extension)",
            ));
            None
        }
    };
    let mut metadata = match &req.metadata {
        None | Some(serde_json::Value::Null) => serde_json::Map::new(),
        Some(serde_json::Value::Object(m)) => m.clone(),
        Some(_) => {
            invalid.push(ParseError::new("metadata", "must be a JSON object"));
            serde_json::Map::new()
        }
    };
    if metadata
        .keys()
        .any(|k| k.is_empty() || k.chars().count() > 64 || k.chars().any(is_unprintable))
    {
        invalid.push(ParseError::new(
            "metadata",
            "keys must be 1 to 64 characters without control characters",
        ));
    }
    metadata.insert(
        "channel".into(),
        serde_json::Value::String(channel.as_str().into()),
    );
    let size = serde_json::to_vec(&metadata).map_or(usize::MAX, |v| v.len());
    if size > policy.metadata_max_bytes {
        invalid.push(ParseError::new(
            "metadata",
            format!(
                "must be at most {} bytes of JSON",
                policy.metadata_max_bytes
            ),
        ));
    }
    let content_length = match req.content_length {
        Some(0) => {
            invalid.push(ParseError::new("content_length", "must be at least 1"));
            None
        }
        Some(n) if n > policy.max_size => {
            invalid.push(ParseError::new(
                "content_length",
                format!("must be at most {} bytes", policy.max_size),
            ));
            None
        }
        other => other,
    };
    let checksum = req
        .checksum
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(parse_checksum)
        .transpose()
        .map_err(|e| invalid.push(e))
        .ok()
        .flatten();
    match kind {
        Some(kind) if invalid.is_empty() => Ok(Parsed {
            kind,
            filename,
            metadata,
            content_length,
            checksum,
        }),
        _ => Err(ImageError::Invalid(invalid)),
    }
}
