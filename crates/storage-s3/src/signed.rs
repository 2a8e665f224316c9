//! Signed reads of private objects: S3's own presigned GET (a private bucket, no CDN), or
//! CloudFront's signed URLs with a canned policy (the distribution's behaviours for
//! private paths require the trusted key group). Both say `Cache-Control: private` for
//! no longer than the URL lives where they can (S3 overrides the response's header).

use aws_sdk_s3::presigning::PresigningConfig;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use domain::{ObjectKey, ReadSigner, StorageError};
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use sha1::{Digest as _, Sha1};
use time::OffsetDateTime;

use crate::S3Store;

fn lifetime(expires_at: OffsetDateTime) -> std::time::Duration {
    let secs = (expires_at - OffsetDateTime::now_utc())
        .whole_seconds()
        .max(1);
    std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(1))
}

#[async_trait::async_trait]
impl ReadSigner for S3Store {
    async fn signed_url(
        &self,
        key: &ObjectKey,
        expires_at: OffsetDateTime,
    ) -> Result<String, StorageError> {
        let life = lifetime(expires_at);
        let presigning = PresigningConfig::expires_in(life)
            .map_err(|e| StorageError::Unexpected(Box::new(e)))?;
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .response_cache_control(format!("private, max-age={}", life.as_secs()))
            .presigned(presigning)
            .await
            .map_err(|e| StorageError::Unexpected(Box::new(e)))?;
        Ok(presigned.uri().to_owned())
    }
}

/// The DER prefix of a SHA-1 `DigestInfo` (RFC 8017 §9.2): what PKCS#1 v1.5 signs before
/// the digest.
const SHA1_DIGEST_INFO: [u8; 15] = [
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];

/// CloudFront signed URLs with a canned policy: `Expires`, `Signature` (RSA-SHA1 of the
/// policy, in CloudFront's URL-safe base64) and `Key-Pair-Id`.
#[derive(Clone)]
pub struct CloudFrontSigner {
    base: String,
    key_pair_id: String,
    key: RsaPrivateKey,
}

impl std::fmt::Debug for CloudFrontSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key never prints.
        f.debug_struct("CloudFrontSigner")
            .field("base", &self.base)
            .field("key_pair_id", &self.key_pair_id)
            .finish_non_exhaustive()
    }
}

impl CloudFrontSigner {
    /// `base` is the distribution's URL (`CDN_BASE_URL`); `private_key_pem` the key of the
    /// trusted key group's public key `key_pair_id`, PKCS#1 or PKCS#8 PEM.
    ///
    /// # Errors
    /// A key that is not an RSA private key in PEM.
    pub fn new(base: &str, key_pair_id: &str, private_key_pem: &str) -> Result<Self, String> {
        let key = RsaPrivateKey::from_pkcs1_pem(private_key_pem)
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(private_key_pem))
            .map_err(|_| {
                "the CloudFront private key is not an RSA private key in PEM".to_owned()
            })?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            key_pair_id: key_pair_id.to_owned(),
            key,
        })
    }

    /// The signed URL of `url` until `expires` (Unix seconds).
    ///
    /// # Errors
    /// The key cannot sign (never for a valid key).
    pub fn sign(&self, url: &str, expires: i64) -> Result<String, String> {
        let policy = format!(
            r#"{{"Statement":[{{"Resource":"{url}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
        );
        let digest = Sha1::digest(policy.as_bytes());
        let scheme = rsa::Pkcs1v15Sign {
            hash_len: Some(20),
            prefix: SHA1_DIGEST_INFO.into(),
        };
        let signature = self
            .key
            .sign(scheme, &digest)
            .map_err(|e| format!("CloudFront signing failed: {e}"))?;
        let signature: String = STANDARD
            .encode(signature)
            .chars()
            .map(|c| match c {
                '+' => '-',
                '=' => '_',
                '/' => '~',
                c => c,
            })
            .collect();
        let sep = if url.contains('?') { '&' } else { '?' };
        Ok(format!(
            "{url}{sep}Expires={expires}&Signature={signature}&Key-Pair-Id={}",
            self.key_pair_id
        ))
    }
}

#[async_trait::async_trait]
impl ReadSigner for CloudFrontSigner {
    async fn signed_url(
        &self,
        key: &ObjectKey,
        expires_at: OffsetDateTime,
    ) -> Result<String, StorageError> {
        self.sign(&format!("{}/{key}", self.base), expires_at.unix_timestamp())
            .map_err(|e| StorageError::Unexpected(e.into()))
    }
}
