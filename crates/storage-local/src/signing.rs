//! Presigned PUT URLs for the local store, served by the service itself: an HMAC-SHA256
//! over the method, key, expiry and every bound header, so a URL is good for one key,
//! until one instant, with one content type (and length and checksum when declared).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use domain::{ObjectKey, PresignedPut, PutConditions};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Where local uploads go: `{base_url}/storage/{key}`.
#[derive(Clone)]
pub struct UrlSigner {
    base_url: String,
    secret: [u8; 32],
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlSigner")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// What a verified URL allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutPermit {
    pub content_type: String,
    pub content_length: Option<u64>,
    /// Base64 SHA-256 the body must have.
    pub checksum_sha256: Option<String>,
}

/// Why a PUT is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PutRefusal {
    #[error("the upload URL is malformed or its signature is wrong")]
    BadSignature,
    #[error("the upload URL has expired")]
    Expired,
    #[error("the {0} header differs from the one the upload URL was issued for")]
    HeaderMismatch(&'static str),
}

/// The query parameters of a presigned URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct SignedQuery {
    pub expires: Option<i64>,
    pub ct: Option<String>,
    pub len: Option<u64>,
    pub sha: Option<String>,
    pub sig: Option<String>,
}

/// What a URL signs for `ct` when no type was declared: any accepted image type, or none.
const ANY_IMAGE: &str = "image/*";

fn canonical(key: &str, expires: i64, ct: &str, len: Option<u64>, sha: Option<&str>) -> String {
    format!(
        "PUT\n{key}\n{expires}\n{ct}\n{}\n{}",
        len.map(|l| l.to_string()).unwrap_or_default(),
        sha.unwrap_or_default()
    )
}

fn encode(v: &str) -> String {
    // The values are a MIME type, digits and base64: escape what a query cannot hold.
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl UrlSigner {
    pub fn new(base_url: &str, secret: [u8; 32]) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            secret,
        }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; 32 bytes cannot fail.
        HmacSha256::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!("HMAC key"))
    }

    /// A URL for one PUT of `key` under `c`, valid until `now + c.expires_in`.
    pub fn presign(&self, key: &ObjectKey, c: &PutConditions, now_unix: i64) -> PresignedPut {
        let ttl = i64::try_from(c.expires_in.as_secs()).unwrap_or(i64::MAX / 2);
        let expires = now_unix + ttl;
        let ct = c.content_type.as_deref().unwrap_or(ANY_IMAGE);
        let mut mac = self.mac();
        mac.update(
            canonical(
                key.as_str(),
                expires,
                ct,
                c.content_length,
                c.checksum_sha256.as_deref(),
            )
            .as_bytes(),
        );
        let sig = hex::encode(mac.finalize().into_bytes());
        let mut url = format!(
            "{}/storage/{}?expires={expires}&ct={}",
            self.base_url,
            key.as_str(),
            encode(ct)
        );
        let mut headers: Vec<(String, String)> = c
            .content_type
            .iter()
            .map(|t| ("Content-Type".to_owned(), t.clone()))
            .collect();
        if let Some(len) = c.content_length {
            url.push_str(&format!("&len={len}"));
            headers.push(("Content-Length".to_owned(), len.to_string()));
        }
        if let Some(sha) = &c.checksum_sha256 {
            url.push_str(&format!("&sha={}", encode(sha)));
            headers.push(("x-amz-checksum-sha256".to_owned(), sha.clone()));
        }
        url.push_str(&format!("&sig={sig}"));
        PresignedPut { url, headers }
    }

    /// Checks a PUT against its URL: the signature, the expiry, and every bound header.
    ///
    /// # Errors
    /// Why it is refused.
    pub fn verify(
        &self,
        key: &ObjectKey,
        q: &SignedQuery,
        content_type: Option<&str>,
        content_length: Option<u64>,
        checksum: Option<&str>,
        now_unix: i64,
    ) -> Result<PutPermit, PutRefusal> {
        let (Some(expires), Some(ct), Some(sig)) = (q.expires, q.ct.as_deref(), q.sig.as_deref())
        else {
            return Err(PutRefusal::BadSignature);
        };
        let sig = hex::decode(sig).map_err(|_| PutRefusal::BadSignature)?;
        let mut mac = self.mac();
        mac.update(canonical(key.as_str(), expires, ct, q.len, q.sha.as_deref()).as_bytes());
        mac.verify_slice(&sig)
            .map_err(|_| PutRefusal::BadSignature)?;
        if now_unix >= expires {
            return Err(PutRefusal::Expired);
        }
        let stored_type = if ct == ANY_IMAGE {
            // Any accepted image type, or none: confirmation decides from the bytes.
            match content_type {
                None => "application/octet-stream",
                Some(t) if domain::ImageType::from_mime(t).is_ok() => t,
                Some(_) => return Err(PutRefusal::HeaderMismatch("Content-Type")),
            }
        } else if content_type == Some(ct) {
            ct
        } else {
            return Err(PutRefusal::HeaderMismatch("Content-Type"));
        };
        if q.len.is_some() && content_length != q.len {
            return Err(PutRefusal::HeaderMismatch("Content-Length"));
        }
        if let Some(sha) = &q.sha
            && checksum != Some(sha.as_str())
        {
            return Err(PutRefusal::HeaderMismatch("x-amz-checksum-sha256"));
        }
        if let Some(sha) = &q.sha
            && STANDARD.decode(sha).map(|b| b.len()) != Ok(32)
        {
            return Err(PutRefusal::BadSignature);
        }
        Ok(PutPermit {
            content_type: stored_type.to_owned(),
            content_length: q.len,
            checksum_sha256: q.sha.clone(),
        })
    }
}

/// A URL's lifetime never exceeds this, whatever is asked.
pub const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Signed reads of private objects from the local store's `/cdn`: an HMAC-SHA256 over
/// `GET`, the key and the expiry, with the store's signing key.
#[derive(Clone)]
pub struct ReadUrls {
    cdn_base: String,
    signer: UrlSigner,
}

impl std::fmt::Debug for ReadUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadUrls")
            .field("cdn_base", &self.cdn_base)
            .finish_non_exhaustive()
    }
}

/// Why a signed read is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadRefusal {
    /// No signature, or not this key's.
    Unsigned,
    /// Signed, but past its expiry.
    Expired,
}

impl ReadUrls {
    /// `cdn_base` is where `/cdn` is served (`{PUBLIC_URL}/cdn`, or `CDN_BASE_URL`).
    pub fn new(cdn_base: &str, secret: [u8; 32]) -> Self {
        Self {
            cdn_base: cdn_base.trim_end_matches('/').to_owned(),
            signer: UrlSigner::new(cdn_base, secret),
        }
    }

    fn canonical(key: &str, expires: i64) -> String {
        format!("GET\n{key}\n{expires}")
    }

    /// `{cdn_base}/{key}?expires=…&sig=…`.
    pub fn sign(&self, key: &ObjectKey, expires_unix: i64) -> String {
        let mut mac = self.signer.mac();
        mac.update(Self::canonical(key.as_str(), expires_unix).as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{}/{key}?expires={expires_unix}&sig={sig}", self.cdn_base)
    }

    /// Checks a read's signature (in constant time) and expiry.
    ///
    /// # Errors
    /// `Unsigned` without a valid signature for this key and expiry; `Expired` after it.
    pub fn verify(
        &self,
        key: &ObjectKey,
        expires: Option<i64>,
        sig: Option<&str>,
        now_unix: i64,
    ) -> Result<i64, ReadRefusal> {
        let (Some(expires), Some(sig)) = (expires, sig) else {
            return Err(ReadRefusal::Unsigned);
        };
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| ReadRefusal::Unsigned)?;
        let mut mac = self.signer.mac();
        mac.update(Self::canonical(key.as_str(), expires).as_bytes());
        mac.verify_slice(&sig).map_err(|_| ReadRefusal::Unsigned)?;
        if now_unix >= expires {
            return Err(ReadRefusal::Expired);
        }
        Ok(expires)
    }
}

#[async_trait::async_trait]
impl domain::ReadSigner for ReadUrls {
    async fn signed_url(
        &self,
        key: &ObjectKey,
        expires_at: time::OffsetDateTime,
    ) -> Result<String, domain::StorageError> {
        Ok(self.sign(key, expires_at.unix_timestamp()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(url: &str) -> SignedQuery {
        let q = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let mut out = SignedQuery::default();
        for pair in q.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = v
                .replace("%2F", "/")
                .replace("%2B", "+")
                .replace("%3D", "=");
            match k {
                "expires" => out.expires = v.parse().ok(),
                "ct" => out.ct = Some(v),
                "len" => out.len = v.parse().ok(),
                "sha" => out.sha = Some(v),
                "sig" => out.sig = Some(v),
                _ => {}
            }
        }
        out
    }

    #[test]
    fn a_url_allows_exactly_what_it_was_issued_for() {
        let signer = UrlSigner::new("http://svc/", [7; 32]);
        let key = ObjectKey::parse("uploads/chat/a.png").expect("key");
        let sha = STANDARD.encode([1u8; 32]);
        let c = PutConditions {
            content_type: Some("image/png".into()),
            content_length: Some(10),
            checksum_sha256: Some(sha.clone()),
            expires_in: Duration::from_secs(300),
        };
        let p = signer.presign(&key, &c, 1000);
        assert!(
            p.url
                .starts_with("http://svc/storage/uploads/chat/a.png?expires=1300&ct=image%2Fpng")
        );
        let q = query(&p.url);
        let ok = signer.verify(&key, &q, Some("image/png"), Some(10), Some(&sha), 1299);
        assert!(ok.is_ok(), "{ok:?}");
        assert_eq!(
            signer.verify(&key, &q, Some("image/png"), Some(10), Some(&sha), 1300),
            Err(PutRefusal::Expired)
        );
        assert_eq!(
            signer.verify(&key, &q, Some("text/html"), Some(10), Some(&sha), 1000),
            Err(PutRefusal::HeaderMismatch("Content-Type"))
        );
        assert_eq!(
            signer.verify(&key, &q, Some("image/png"), Some(11), Some(&sha), 1000),
            Err(PutRefusal::HeaderMismatch("Content-Length"))
        );
        assert_eq!(
            signer.verify(&key, &q, Some("image/png"), Some(10), None, 1000),
            Err(PutRefusal::HeaderMismatch("x-amz-checksum-sha256"))
        );
        let other = ObjectKey::parse("uploads/chat/b.png").expect("key");
        assert_eq!(
            signer.verify(&other, &q, Some("image/png"), Some(10), Some(&sha), 1000),
            Err(PutRefusal::BadSignature)
        );
        let mut forged = q.clone();
        forged.expires = Some(999_999);
        assert_eq!(
            signer.verify(&key, &forged, Some("image/png"), Some(10), Some(&sha), 1000),
            Err(PutRefusal::BadSignature)
        );
        let elsewhere = UrlSigner::new("http://svc", [8; 32]);
        assert_eq!(
            elsewhere.verify(&key, &q, Some("image/png"), Some(10), Some(&sha), 1000),
            Err(PutRefusal::BadSignature)
        );
    }
}
