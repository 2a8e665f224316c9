//! CDN invalidations on CloudFront (aws-sdk-cloudfront).

use std::time::Duration;

use async_trait::async_trait;
use domain::StorageError;

use crate::config::sdk_config;

/// CloudFront invalidations.
#[derive(Clone)]
pub struct CloudFront {
    client: aws_sdk_cloudfront::Client,
    distribution_id: String,
}

impl std::fmt::Debug for CloudFront {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudFront")
            .field("distribution_id", &self.distribution_id)
            .finish_non_exhaustive()
    }
}

impl CloudFront {
    /// `endpoint` overrides AWS's (for emulators); credentials as for S3.
    pub async fn new(
        distribution_id: &str,
        endpoint: Option<&str>,
        access_key_id: Option<&str>,
        secret_access_key: Option<&str>,
        timeout: Duration,
    ) -> Self {
        let shared = sdk_config("us-east-1", timeout, access_key_id, secret_access_key).await;
        let mut cf = aws_sdk_cloudfront::config::Builder::from(&shared);
        if let Some(e) = endpoint {
            cf = cf.endpoint_url(e);
        }
        Self {
            client: aws_sdk_cloudfront::Client::from_conf(cf.build()),
            distribution_id: distribution_id.to_owned(),
        }
    }
}

#[async_trait]
impl domain::ports::Invalidator for CloudFront {
    async fn invalidate(&self, reference: &str, paths: Vec<String>) -> Result<(), StorageError> {
        use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
        let quantity = i32::try_from(paths.len()).unwrap_or(i32::MAX);
        let batch = InvalidationBatch::builder()
            .paths(
                Paths::builder()
                    .quantity(quantity)
                    .set_items(Some(paths))
                    .build()
                    .map_err(|e| StorageError::Unexpected(Box::new(e)))?,
            )
            // CloudFront answers a repeated reference with the same paths by returning the
            // first invalidation: a batch sent again after a crash is not a second one.
            .caller_reference(reference)
            .build()
            .map_err(|e| StorageError::Unexpected(Box::new(e)))?;
        self.client
            .create_invalidation()
            .distribution_id(&self.distribution_id)
            .invalidation_batch(batch)
            .send()
            .await
            .map_err(|e| match &e {
                aws_sdk_cloudfront::error::SdkError::ServiceError(se)
                    if se.raw().status().as_u16() < 500 =>
                {
                    StorageError::Unexpected(Box::new(e))
                }
                _ => StorageError::Unavailable(Box::new(e)),
            })?;
        Ok(())
    }
}
