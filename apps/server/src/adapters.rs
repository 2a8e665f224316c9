//! The adapters the configuration selects: the database, the object store and CDN (and
//! the invalidation worker behind CloudFront), the notifier.

use secrecy::ExposeSecret as _;
use std::sync::Arc;

use anyhow::Context as _;
use domain::{ObjectStore, SystemClock};
use storage_local::{LocalCdn, LocalStore, UrlSigner};
use store_sql::SqlStore;

use crate::config::Config;

/// Connects to the database named by the configuration.
///
/// # Errors
/// The database cannot be reached.
pub async fn connect_database(config: &Config) -> anyhow::Result<SqlStore> {
    let pool = config.database.pool();
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        tokio::fs::create_dir_all(&config.data_dir)
            .await
            .with_context(|| format!("cannot create DATA_DIR {}", config.data_dir.display()))?;
    }
    SqlStore::connect(&url, &pool)
        .await
        .context("cannot connect to the database (DATABASE_URL)")
}

/// The notifier the configuration selects.
///
/// # Errors
/// Its HTTP client cannot be built.
/// The event publisher: Standard Webhooks to `EVENT_ENDPOINTS`.
///
/// # Errors
/// The HTTP client cannot be built.
pub fn event_publisher(config: &Config) -> anyhow::Result<Arc<dyn domain::EventPublisher>> {
    Ok(Arc::new(
        notify::events::StandardWebhooks::new(config.events.by_name(), config.events.timeout())
            .map_err(anyhow::Error::msg)?,
    ))
}

pub fn notifier(config: &Config) -> anyhow::Result<Arc<dyn domain::Notifier>> {
    let timeout = config.notify.timeout();
    Ok(match config.notify.notifier {
        crate::config::NotifierKind::Log => Arc::new(notify::LogNotifier),
        crate::config::NotifierKind::Aligo => Arc::new(
            notify::AligoSms::new(notify::AligoConfig {
                endpoint: config.notify.aligo_endpoint.clone(),
                key: config
                    .notify
                    .aligo_key
                    .as_ref()
                    .map(|k| k.expose_secret().to_owned())
                    .unwrap_or_default(),
                user_id: config.notify.aligo_user_id.clone().unwrap_or_default(),
                sender: config.notify.aligo_sender.clone().unwrap_or_default(),
                test_mode: config.notify.aligo_test_mode,
                timeout,
            })
            .map_err(anyhow::Error::msg)?,
        ),
        crate::config::NotifierKind::Webhook => Arc::new(
            notify::Webhook::new(
                config.notify.webhook_url.as_deref().unwrap_or_default(),
                config
                    .notify
                    .webhook_secret
                    .as_ref()
                    .map_or(&b""[..], |s| s.expose_secret().as_bytes()),
                timeout,
            )
            .map_err(anyhow::Error::msg)?,
        ),
    })
}

/// The signing key of local upload URLs: configured, or generated once into DATA_DIR.
async fn signing_key(config: &Config) -> anyhow::Result<[u8; 32]> {
    if let Some(hex_key) = &config.storage.storage_signing_key {
        let mut key = [0u8; 32];
        hex::decode_to_slice(hex_key.expose_secret(), &mut key).context("STORAGE_SIGNING_KEY")?;
        return Ok(key);
    }
    let path = config.data_dir.join("storage-signing.key");
    if let Ok(existing) = tokio::fs::read_to_string(&path).await {
        let mut key = [0u8; 32];
        if hex::decode_to_slice(existing.trim(), &mut key).is_ok() {
            return Ok(key);
        }
    }
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    tokio::fs::create_dir_all(&config.data_dir).await?;
    tokio::fs::write(&path, hex::encode(key))
        .await
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = tokio::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).await;
    }
    Ok(key)
}

/// The object store and CDN the configuration selects, and the invalidation worker when
/// a CloudFront distribution is configured.
pub struct Storage {
    pub objects: Arc<dyn ObjectStore>,
    pub cdn: Arc<dyn domain::Cdn>,
    /// Signs private images' URLs: the local `/cdn`'s HMAC, CloudFront's signed URLs, or
    /// S3's presigned GET.
    pub signer: Arc<dyn domain::ReadSigner>,
    /// The local `/cdn`'s check of those signatures.
    pub local_reads: Option<storage_local::ReadUrls>,
    pub local: Option<LocalStore>,
    pub invalidations: Option<domain::services::invalidations::Invalidations>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

/// The object store, CDN and read signer `config` names.
///
/// # Errors
/// A store that cannot be opened, or settings that do not add up.
pub async fn open_storage(
    config: &Config,
    public_url: &str,
    outbox: Arc<dyn domain::Outbox>,
) -> anyhow::Result<Storage> {
    match config.storage.kind {
        crate::config::StorageKind::Local => open_local(config, public_url).await,
        crate::config::StorageKind::S3 => open_s3(config, outbox).await,
    }
}

/// Local disk, served by the service itself (under `/cdn` unless `CDN_BASE_URL` says).
async fn open_local(config: &Config, public_url: &str) -> anyhow::Result<Storage> {
    let store = LocalStore::open(config.object_store_dir())
        .await
        .with_context(|| {
            format!(
                "cannot open the object store in {}",
                config.object_store_dir().display()
            )
        })?
        .with_signer(UrlSigner::new(public_url, signing_key(config).await?));
    let cdn_base = config
        .storage
        .cdn_base_url
        .clone()
        .unwrap_or_else(|| format!("{public_url}/cdn"));
    let reads = storage_local::ReadUrls::new(&cdn_base, signing_key(config).await?);
    Ok(Storage {
        objects: Arc::new(store.clone()),
        cdn: Arc::new(LocalCdn::new(&cdn_base)),
        signer: Arc::new(reads.clone()),
        local_reads: Some(reads),
        local: Some(store),
        invalidations: None,
    })
}

/// An S3 bucket behind a CDN: CloudFront's invalidations go through the outbox when a
/// distribution is named.
async fn open_s3(config: &Config, outbox: Arc<dyn domain::Outbox>) -> anyhow::Result<Storage> {
    let s3 = config.storage.s3().context("S3 settings")?;
    let store = storage_s3::S3Store::new(&s3).await;
    let cdn_base = config
        .storage
        .cdn_base_url
        .clone()
        .context("CDN_BASE_URL")?;
    let clock: Arc<dyn domain::Clock> = Arc::new(SystemClock);
    let (cdn, invalidations): (Arc<dyn domain::Cdn>, _) = match &config
        .storage
        .cloudfront_distribution_id
    {
        Some(id) => {
            let cf = storage_s3::CloudFront::new(
                id,
                config.storage.cloudfront_endpoint.as_deref(),
                s3.access_key_id.as_deref(),
                s3.secret_access_key.as_deref(),
                s3.timeout,
            )
            .await;
            let queued = domain::outbox::QueuedCdn::new(&cdn_base, outbox.clone(), clock.clone());
            let worker =
                domain::services::invalidations::Invalidations::new(outbox, Arc::new(cf), clock)
                    .with_lease(config.notify.outbox_lease());
            (Arc::new(queued), Some(worker))
        }
        None => (Arc::new(LocalCdn::new(&cdn_base)), None),
    };
    // Behind CloudFront with a key pair, private images are read through the
    // distribution; otherwise straight from the private bucket.
    let signer: Arc<dyn domain::ReadSigner> = match (
        &config.storage.cloudfront_key_pair_id,
        &config.storage.cloudfront_private_key,
    ) {
        (Some(id), Some(pem)) => Arc::new(
            storage_s3::CloudFrontSigner::new(
                &cdn_base,
                id,
                &pem.expose_secret().replace("\\n", "\n"),
            )
            .map_err(anyhow::Error::msg)?,
        ),
        _ => Arc::new(store.clone()),
    };
    Ok(Storage {
        objects: Arc::new(store),
        cdn,
        signer,
        local_reads: None,
        local: None,
        invalidations,
    })
}
