//! The object-storage port on S3 or any S3-compatible store (aws-sdk-s3), and CDN
//! invalidations on CloudFront (aws-sdk-cloudfront).
//!
//! Presigned PUTs bind `Content-Type`, and `Content-Length` and `x-amz-checksum-sha256`
//! when declared, so the store itself refuses any other body. The SDK's default CRC32
//! request checksum is turned off ("when required"): a presigned URL must bind only what
//! the client will send. Every call is bounded by a timeout; unreachable or failing stores
//! are `StorageError::Unavailable`, so the routes answer `CAN_NOT_ACCESS_S3`.

#[cfg(feature = "testing")]
pub mod testing;

mod cloudfront;
mod config;
mod signed;

pub use cloudfront::CloudFront;
pub use config::S3Config;
pub use signed::CloudFrontSigner;

use config::sdk_config;

use async_trait::async_trait;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, MetadataDirective,
};
use bytes::Bytes;
use domain::{
    ByteStream, Channel, KeyPrefix, ObjectKey, ObjectMeta, ObjectStore, PresignedPut,
    PutConditions, StorageError,
};
use futures_util::StreamExt as _;
use time::OffsetDateTime;

/// An S3 bucket as the object store.
#[derive(Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

/// Translates an SDK failure: transport trouble, timeouts and 5xx are `Unavailable`;
/// 404 `NotFound`, 412 `PreconditionFailed`; the rest `Unexpected`.
fn translate<E>(e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            return StorageError::Unavailable(Box::new(e));
        }
        SdkError::ServiceError(se) => Some(se.raw().status().as_u16()),
        _ => None,
    };
    match status {
        Some(s) if s >= 500 => StorageError::Unavailable(Box::new(e)),
        Some(404) => StorageError::NotFound,
        Some(412) => StorageError::PreconditionFailed,
        _ => StorageError::Unexpected(Box::new(e)),
    }
}

fn bare(etag: Option<&str>) -> String {
    etag.unwrap_or_default().trim_matches('"').to_owned()
}

fn to_time(t: Option<&aws_sdk_s3::primitives::DateTime>) -> OffsetDateTime {
    t.and_then(|t| OffsetDateTime::from_unix_timestamp(t.secs()).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl S3Store {
    /// A store on `config.bucket`. Nothing is fetched until the first call.
    pub async fn new(config: &S3Config) -> Self {
        let shared = sdk_config(
            &config.region,
            config.timeout,
            config.access_key_id.as_deref(),
            config.secret_access_key.as_deref(),
        )
        .await;
        let mut s3 = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(config.path_style)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &config.endpoint {
            s3 = s3.endpoint_url(endpoint.clone());
        }
        Self {
            client: aws_sdk_s3::Client::from_conf(s3.build()),
            bucket: config.bucket.clone(),
        }
    }

    /// Installs the retention rules as bucket lifecycle rules: chat after 7 days, scan
    /// after 30, staged uploads after 1 (a backstop for the sweeper). Replaces the bucket's
    /// lifecycle configuration.
    ///
    /// # Errors
    /// The store refused or could not be reached.
    pub async fn apply_lifecycle(&self) -> Result<Vec<(String, i32)>, StorageError> {
        let mut rules: Vec<(String, i32)> = Channel::ALL
            .into_iter()
            .filter_map(|c| {
                c.retention().map(|r| {
                    (
                        c.prefix().to_owned(),
                        i32::try_from(r.whole_days()).unwrap_or(i32::MAX),
                    )
                })
            })
            .collect();
        rules.push((domain::image::staging_prefix().as_str().to_owned(), 1));
        let built = rules
            .iter()
            .map(|(prefix, days)| {
                LifecycleRule::builder()
                    .id(format!("expire-{}", prefix.trim_end_matches('/')))
                    .filter(
                        LifecycleRuleFilter::builder()
                            .prefix(prefix.clone())
                            .build(),
                    )
                    .status(ExpirationStatus::Enabled)
                    .expiration(LifecycleExpiration::builder().days(*days).build())
                    .build()
                    .map_err(|e| StorageError::Unexpected(Box::new(e)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let config = BucketLifecycleConfiguration::builder()
            .set_rules(Some(built))
            .build()
            .map_err(|e| StorageError::Unexpected(Box::new(e)))?;
        self.client
            .put_bucket_lifecycle_configuration()
            .bucket(&self.bucket)
            .lifecycle_configuration(config)
            .send()
            .await
            .map_err(translate)?;
        Ok(rules)
    }

    /// The bucket's lifecycle rules as (prefix, days), for checking what is installed.
    ///
    /// # Errors
    /// The store refused or could not be reached.
    pub async fn lifecycle(&self) -> Result<Vec<(String, i32)>, StorageError> {
        let out = self
            .client
            .get_bucket_lifecycle_configuration()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(translate)?;
        Ok(out
            .rules()
            .iter()
            .map(|r| {
                let prefix = r
                    .filter()
                    .and_then(|f| f.prefix())
                    .unwrap_or_default()
                    .to_owned();
                let days = r.expiration().and_then(|e| e.days()).unwrap_or_default();
                (prefix, days)
            })
            .collect())
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put(
        &self,
        key: &ObjectKey,
        mut body: ByteStream,
        content_type: &str,
        max_size: u64,
    ) -> Result<ObjectMeta, StorageError> {
        // S3 needs the length up front: collect (bounded by `max_size`) before sending.
        let mut buf = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(StorageError::BodyInterrupted)?;
            if (buf.len() + chunk.len()) as u64 > max_size {
                return Err(StorageError::TooLarge { limit: max_size });
            }
            buf.extend_from_slice(&chunk);
        }
        let size = buf.len() as u64;
        let out = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .body(S3Body::from(buf))
            .send()
            .await
            .map_err(translate)?;
        Ok(ObjectMeta {
            key: key.clone(),
            size,
            etag: bare(out.e_tag()),
            content_type: Some(content_type.to_owned()),
            last_modified: OffsetDateTime::now_utc(),
        })
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StorageError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(h) => Ok(Some(ObjectMeta {
                key: key.clone(),
                size: h
                    .content_length()
                    .and_then(|l| u64::try_from(l).ok())
                    .unwrap_or(0),
                etag: bare(h.e_tag()),
                content_type: h.content_type().map(str::to_owned),
                last_modified: to_time(h.last_modified()),
            })),
            Err(e) => match translate(e) {
                StorageError::NotFound => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn read_head(
        &self,
        key: &ObjectKey,
        len: u64,
    ) -> Result<Option<(ObjectMeta, Bytes)>, StorageError> {
        if len == 0 {
            return Ok(self.head(key).await?.map(|m| (m, Bytes::new())));
        }
        // One ranged GET: its Content-Range names the whole object's size, its ETag the
        // version the bytes come from.
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .range(format!("bytes=0-{}", len - 1))
            .send()
            .await;
        match result {
            Ok(out) => {
                let size = out
                    .content_range()
                    .and_then(|r| r.rsplit('/').next())
                    .and_then(|t| t.parse::<u64>().ok())
                    .or_else(|| out.content_length().and_then(|l| u64::try_from(l).ok()))
                    .unwrap_or(0);
                let meta = ObjectMeta {
                    key: key.clone(),
                    size,
                    etag: bare(out.e_tag()),
                    content_type: out.content_type().map(str::to_owned),
                    last_modified: to_time(out.last_modified()),
                };
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map(|b| b.into_bytes())
                    .map_err(|e| StorageError::Unavailable(Box::new(e)))?;
                Ok(Some((meta, bytes)))
            }
            Err(e) => {
                let code = e
                    .as_service_error()
                    .and_then(|s| s.code().map(str::to_owned));
                if code.as_deref() == Some("InvalidRange") {
                    // An empty object has no first byte to range over.
                    return Ok(self.head(key).await?.map(|m| (m, Bytes::new())));
                }
                match translate(e) {
                    StorageError::NotFound => Ok(None),
                    other => Err(other),
                }
            }
        }
    }

    async fn read_range(
        &self,
        key: &ObjectKey,
        offset: u64,
        len: u64,
        if_match: Option<String>,
    ) -> Result<Bytes, StorageError> {
        if len == 0 {
            return Ok(Bytes::new());
        }
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .range(format!("bytes={}-{}", offset, offset + len - 1))
            .set_if_match(if_match.map(|etag| format!("\"{etag}\"")))
            .send()
            .await;
        match result {
            Ok(out) => out
                .body
                .collect()
                .await
                .map(|b| b.into_bytes())
                .map_err(|e| StorageError::Unavailable(Box::new(e))),
            Err(e) => {
                let code = e
                    .as_service_error()
                    .and_then(|s| s.code().map(str::to_owned));
                if code.as_deref() == Some("InvalidRange") {
                    // Past the end of the object: nothing there.
                    return Ok(Bytes::new());
                }
                Err(translate(e))
            }
        }
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(translate)?;
        Ok(())
    }

    async fn list(
        &self,
        prefix: &KeyPrefix,
        after: Option<ObjectKey>,
        limit: usize,
    ) -> Result<Vec<ObjectMeta>, StorageError> {
        // Keys that are not object keys of ours (another application's `a b.csv`, a folder
        // marker `photos/`) are skipped, and the listing goes on past them: a page is short
        // only where the listing ends.
        let mut found = Vec::with_capacity(limit.min(1000));
        let mut token: Option<String> = None;
        while found.len() < limit {
            let mut req = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .max_keys(i32::try_from(limit - found.len()).unwrap_or(1000).min(1000));
            if !prefix.as_str().is_empty() {
                req = req.prefix(prefix.as_str());
            }
            match (&token, &after) {
                (Some(t), _) => req = req.continuation_token(t),
                (None, Some(a)) => req = req.start_after(a.as_str()),
                (None, None) => {}
            }
            let out = req.send().await.map_err(translate)?;
            found.extend(out.contents().iter().filter_map(|o| {
                Some(ObjectMeta {
                    key: ObjectKey::parse(o.key()?).ok()?,
                    size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    etag: bare(o.e_tag()),
                    content_type: None,
                    last_modified: to_time(o.last_modified()),
                })
            }));
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    async fn presign_put(
        &self,
        key: &ObjectKey,
        c: &PutConditions,
    ) -> Result<PresignedPut, StorageError> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            // Unbound when the client declared no type: any Content-Type (or none) is
            // accepted, and promotion stores the type verified from the bytes.
            .set_content_type(c.content_type.clone());
        if let Some(len) = c.content_length {
            req = req.content_length(i64::try_from(len).unwrap_or(i64::MAX));
        }
        if let Some(sha) = &c.checksum_sha256 {
            req = req.checksum_sha256(sha);
        }
        let presigning = PresigningConfig::expires_in(c.expires_in)
            .map_err(|e| StorageError::Unexpected(Box::new(e)))?;
        let presigned = req
            .presigned(presigning)
            .await
            .map_err(|e| StorageError::Unexpected(Box::new(e)))?;
        let headers = presigned
            .headers()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        Ok(PresignedPut {
            url: presigned.uri().to_owned(),
            headers,
        })
    }

    async fn promote(
        &self,
        from: &ObjectKey,
        to: &ObjectKey,
        etag: &str,
        content_type: &str,
    ) -> Result<ObjectMeta, StorageError> {
        // Keys are ASCII letters, digits, '.', '_', '-' and '/': nothing to escape. The
        // copy replaces the object's type with the verified one, whatever the PUT sent.
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(format!("{}/{}", self.bucket, from.as_str()))
            .copy_source_if_match(format!("\"{etag}\""))
            .metadata_directive(MetadataDirective::Replace)
            .content_type(content_type)
            .key(to.as_str())
            .send()
            .await
            .map_err(translate)?;
        self.delete(from).await?;
        self.head(to).await?.ok_or(StorageError::NotFound)
    }

    async fn check(&self) -> Result<(), StorageError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| match translate(e) {
                StorageError::Unavailable(e) | StorageError::Unexpected(e) => {
                    StorageError::Unavailable(e)
                }
                other => StorageError::Unavailable(Box::new(other)),
            })
    }
}
