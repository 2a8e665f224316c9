//! An upload as the service issues it, [`UploadSpec`], and the formats its fields take.
//! The edge checks a client's request against these and the [`crate::services::ImagePolicy`]
//! and hands the service an `UploadSpec`; everything past the edge trusts it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::ParseError;
use crate::image::ImageType;

/// An upload request, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UploadSpec {
    /// `None`: any accepted type, decided from the bytes at confirmation (the files/avatars API's
    /// routes, whose clients declare none).
    pub kind: Option<ImageType>,
    /// For display only ([`parse_filename`]); never part of the key.
    pub filename: Option<String>,
    /// The client's metadata; the service adds `channel`.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The exact length the upload URL binds, when declared.
    pub content_length: Option<u64>,
    /// The SHA-256 the upload URL binds, base64 ([`parse_checksum`]).
    pub checksum: Option<String>,
}

/// Control characters, and the invisible marks that reorder text: shown to a person,
/// `photo\u{202E}gnp.exe` reads as `photoexe.png`.
pub fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A filename for display: 1 to 255 characters, no path separators, no control or
/// bidirectional-override characters, not hidden, with an extension.
///
/// # Errors
/// What is wrong with it, as a `filename` field error.
pub fn parse_filename(name: &str) -> Result<String, ParseError> {
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

/// The extension of a filename, without the dot; empty when it has none.
pub fn extension(name: &str) -> &str {
    name.rsplit_once('.').map_or("", |(_, e)| e)
}

/// A metadata key: 1 to 64 characters without control characters.
pub fn is_metadata_key(k: &str) -> bool {
    !k.is_empty() && k.chars().count() <= 64 && !k.chars().any(is_unprintable)
}

/// `sha256:<base64>` or `sha256:<hex>` → base64, as `x-amz-checksum-sha256` wants.
///
/// # Errors
/// Not 32 bytes of base64 or hex, as a `checksum` field error.
pub fn parse_checksum(s: &str) -> Result<String, ParseError> {
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
