//! Storage: the object store (local disk or S3), the CDN in front of it, CloudFront.

use crate::config::Secret;
use secrecy::ExposeSecret as _;
use std::time::Duration;

use clap::{Args, ValueEnum};

/// The storage settings.
#[derive(Debug, Clone, Args)]
pub struct StorageConfig {
    /// Where image bytes live: `local` (DATA_DIR/objects, served by the service) or `s3`.
    #[arg(
        long = "storage",
        env = "STORAGE",
        value_enum,
        default_value = "local",
        global = true
    )]
    pub kind: StorageKind,

    /// Public base URL of stored images. Default for local storage: PUBLIC_URL + `/cdn`.
    #[arg(long, env = "CDN_BASE_URL", global = true)]
    pub cdn_base_url: Option<String>,

    /// CloudFront: the id of the public key (in the distribution's trusted key group) that
    /// private images' signed URLs name. With `CLOUDFRONT_PRIVATE_KEY`, private images are
    /// read through CloudFront signed URLs; without, through S3 presigned GETs.
    #[arg(long, env = "CLOUDFRONT_KEY_PAIR_ID", global = true)]
    pub cloudfront_key_pair_id: Option<String>,

    /// CloudFront: the matching RSA private key, PEM (`\n` for line breaks allowed).
    /// Never printed.
    #[arg(value_parser = crate::config::secret,
        long,
        env = "CLOUDFRONT_PRIVATE_KEY",
        hide_env_values = true,
        global = true
    )]
    pub cloudfront_private_key: Option<Secret>,

    /// Local storage: the 64-hex-digit key signing upload URLs. Default: generated once
    /// into DATA_DIR/storage-signing.key (replicas sharing a directory share it).
    #[arg(value_parser = crate::config::secret,
        long,
        env = "STORAGE_SIGNING_KEY",
        hide_env_values = true,
        global = true
    )]
    pub storage_signing_key: Option<Secret>,

    /// Seconds any one call to the object store or CDN may take before it counts as
    /// unavailable (409 `CAN_NOT_ACCESS_S3`).
    #[arg(long, env = "STORAGE_TIMEOUT_SECS", default_value_t = 5, global = true)]
    pub storage_timeout_secs: u64,

    /// S3: the bucket.
    #[arg(long, env = "S3_BUCKET", global = true)]
    pub s3_bucket: Option<String>,

    /// S3: the region.
    #[arg(long, env = "S3_REGION", default_value = "us-east-1", global = true)]
    pub s3_region: String,

    /// S3: an S3-compatible endpoint (`https://minio.example.com`); unset for AWS.
    #[arg(long, env = "S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,

    /// S3: path-style addressing (most S3-compatible stores).
    #[arg(long, env = "S3_PATH_STYLE", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub s3_path_style: bool,

    /// S3 and CloudFront: a static access key; unset uses the default chain (environment,
    /// instance or task role, web identity).
    #[arg(long, env = "S3_ACCESS_KEY_ID", global = true)]
    pub s3_access_key_id: Option<String>,

    /// S3 and CloudFront: the static secret key.
    #[arg(value_parser = crate::config::secret,
        long,
        env = "S3_SECRET_ACCESS_KEY",
        hide_env_values = true,
        global = true
    )]
    pub s3_secret_access_key: Option<Secret>,

    /// CloudFront: the distribution whose paths are invalidated on delete and replace.
    /// Unset: no invalidations (a CDN without caching, or none).
    #[arg(long, env = "CLOUDFRONT_DISTRIBUTION_ID", global = true)]
    pub cloudfront_distribution_id: Option<String>,

    /// CloudFront: an endpoint override (emulators only).
    #[arg(long, env = "CLOUDFRONT_ENDPOINT", global = true)]
    pub cloudfront_endpoint: Option<String>,
}

impl StorageConfig {
    /// The S3 settings, when STORAGE=s3.
    pub fn s3(&self) -> Option<storage_s3::S3Config> {
        (self.kind == StorageKind::S3).then(|| storage_s3::S3Config {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            bucket: self.s3_bucket.clone().unwrap_or_default(),
            path_style: self.s3_path_style,
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self
                .s3_secret_access_key
                .as_ref()
                .map(|k| k.expose_secret().to_owned()),
            timeout: Duration::from_secs(self.storage_timeout_secs.max(1)),
        })
    }
}

/// Which object-store adapter set to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StorageKind {
    Local,
    S3,
}
