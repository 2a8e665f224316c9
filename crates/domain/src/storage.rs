//! Object storage as a port: where image bytes live (local disk, S3, …).

use crate::error::{BoxError, ParseError};
use bytes::Bytes;
use futures_core::Stream;
use std::fmt;
use std::pin::Pin;
use time::OffsetDateTime;

/// A key in the object store, safe to use as a path: 1 to 512 bytes of `/`-separated
/// segments, each made of ASCII letters, digits, `.`, `_` and `-`, none empty and none
/// starting with a dot (so no `.`, `..` or hidden files), no leading or trailing `/`.
/// Anything a local store turns into a path stays below its root by construction.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(into = "String", try_from = "String")]
pub struct ObjectKey(String);

impl From<ObjectKey> for String {
    fn from(k: ObjectKey) -> Self {
        k.0
    }
}

impl TryFrom<String> for ObjectKey {
    type Error = ParseError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl ObjectKey {
    pub const MAX_LEN: usize = 512;

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(ParseError::new("key", "must be 1 to 512 characters"));
        }
        if !s.split('/').all(valid_segment) {
            return Err(ParseError::new(
                "key",
                "must be '/'-separated segments of letters, digits, '.', '_' and '-', none empty or starting with '.'",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's segments, each safe as a file name.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The extension of the last segment, if any (`png` for `a/b.png`).
    pub fn extension(&self) -> Option<&str> {
        let last = self.0.rsplit('/').next()?;
        last.rsplit_once('.').map(|(_, ext)| ext)
    }

    /// This key below `prefix` (`uploads` + `a/b.png` = `uploads/a/b.png`).
    pub fn under(&self, prefix: &KeyPrefix) -> Result<Self, ParseError> {
        Self::parse(&format!("{}{}", prefix.as_str(), self.0))
    }
}

fn valid_segment(seg: &str) -> bool {
    !seg.is_empty()
        && !seg.starts_with('.')
        && seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A prefix to list under: empty (everything) or whole segments ending in `/`
/// (`chat/2026/`). Listing by partial segment is not offered: it is never needed and it
/// would make the local store's walk ambiguous.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct KeyPrefix(String);

impl KeyPrefix {
    pub fn root() -> Self {
        Self(String::new())
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.is_empty() {
            return Ok(Self::root());
        }
        let body = s
            .strip_suffix('/')
            .ok_or_else(|| ParseError::new("prefix", "must end with '/'"))?;
        ObjectKey::parse(body).map_err(|e| ParseError::new("prefix", e.reason))?;
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|s| !s.is_empty())
    }
}

/// What the store knows about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: ObjectKey,
    pub size: u64,
    /// The entity tag, without quotes (S3 quotes it on the wire; adapters strip them).
    pub etag: String,
    pub content_type: Option<String>,
    pub last_modified: OffsetDateTime,
}

/// A body streamed into the store chunk by chunk; never buffered whole.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// Bytes already in memory as a [`ByteStream`] of one chunk.
pub fn stream_of(bytes: Bytes) -> ByteStream {
    Box::pin(futures_util::stream::once(std::future::ready(Ok(bytes))))
}

/// Failures of object-store operations.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No object at that key.
    #[error("object not found")]
    NotFound,
    /// The body passed `limit` bytes; nothing was stored.
    #[error("object larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The body stream itself failed (the client went away); nothing was stored.
    #[error("the upload was interrupted")]
    BodyInterrupted(#[source] std::io::Error),
    /// A conditional operation's condition failed: the object changed (its ETag is not the
    /// one expected).
    #[error("the object changed")]
    PreconditionFailed,
    /// The store could not be reached or timed out (the files/avatars API's `CAN_NOT_ACCESS_S3`).
    #[error("the object store is unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else.
    #[error("unexpected object store error")]
    Unexpected(#[source] BoxError),
}

/// What a presigned PUT binds: the store refuses a request that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutConditions {
    /// The `Content-Type` the PUT must carry; `None`: any accepted image type, or none
    /// (the type is decided from the bytes at confirmation).
    pub content_type: Option<String>,
    /// Bound when the client declared it.
    pub content_length: Option<u64>,
    /// Base64 SHA-256 of the body (`x-amz-checksum-sha256`), bound when declared.
    pub checksum_sha256: Option<String>,
    pub expires_in: std::time::Duration,
}

/// A URL the client PUTs the bytes to, and exactly the headers it must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPut {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_refuse_every_way_out_of_the_root() {
        for bad in [
            "",
            "/a",
            "a/",
            "a//b",
            "..",
            "../a",
            "a/../b",
            "./a",
            "a/.hidden",
            ".x",
            "a\\b",
            "a b",
            "a/b\0",
            "ä",
            "a/%2e%2e",
        ] {
            assert!(ObjectKey::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(ObjectKey::parse(&"a".repeat(513)).is_err());
    }

    #[test]
    fn keys_of_the_contract_parse() {
        for good in [
            "chat/2026/11/23/42/Zx9_-a.png",
            "profiles/7/abc.jpeg",
            "uploads/chat/2026/01/01/1/k.webp",
            "a",
        ] {
            assert_eq!(
                ObjectKey::parse(good).map(|k| k.to_string()).ok(),
                Some(good.into())
            );
        }
        assert_eq!(
            ObjectKey::parse("a/b.tar.gz")
                .ok()
                .and_then(|k| k.extension().map(String::from)),
            Some("gz".into())
        );
    }

    #[test]
    fn prefixes_are_whole_segments() {
        assert!(KeyPrefix::parse("").is_ok());
        assert!(KeyPrefix::parse("chat/").is_ok());
        assert!(KeyPrefix::parse("chat/2026/").is_ok());
        assert!(KeyPrefix::parse("chat").is_err());
        assert!(KeyPrefix::parse("/").is_err());
        assert!(KeyPrefix::parse("../").is_err());
    }
}
