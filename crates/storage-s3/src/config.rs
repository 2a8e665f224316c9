//! Where and how to reach the bucket, and the AWS SDK configuration S3 and CloudFront
//! share.

use std::time::Duration;

use aws_smithy_http_client::tls;

/// Where and how to reach the bucket.
#[derive(Clone)]
pub struct S3Config {
    /// An S3-compatible endpoint (`http://127.0.0.1:3900`); `None` for AWS.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    /// `bucket` in the path rather than the host name (most S3-compatible stores).
    pub path_style: bool,
    /// Static credentials; `None` uses the default chain (environment, profile, instance
    /// or task role, web identity).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Bound on every call.
    pub timeout: Duration,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

/// The shared AWS configuration: our ring-based HTTP client, region, timeouts, credentials.
pub(crate) async fn sdk_config(
    region: &str,
    timeout: Duration,
    access_key_id: Option<&str>,
    secret_access_key: Option<&str>,
) -> aws_config::SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .region(aws_config::Region::new(region.to_owned()))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(3)))
                .build(),
        )
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2));
    if let (Some(id), Some(secret)) = (access_key_id, secret_access_key) {
        loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
            id, secret, None, None, "static",
        ));
    }
    loader.load().await
}
