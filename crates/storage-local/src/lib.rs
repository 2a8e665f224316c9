//! The object-storage port on a local directory: the embedded default, so the service runs
//! with no other software.
//!
//! Layout below the root:
//! - `objects/<key>`: the bytes, one file per key, at the path the key's segments spell;
//! - `meta/<key>.json`: size, ETag (MD5, as S3 gives for single-part uploads) and content type;
//! - `tmp/`: bodies being written, renamed into place only when complete.
//!
//! Keys are [`ObjectKey`]s, whose segments can be neither `..` nor contain a separator, and
//! paths are built only by pushing those segments onto the root: no key can name a path
//! outside it. A body goes to a temporary file first and is renamed over the final path when
//! complete, so readers see the old object or the new one, never a partial one.
//!
//! File-system calls block, so each operation runs as one closure on tokio's blocking pool
//! (`Dirs`' synchronous methods): a confirmation's dozen calls cost one hand-off between
//! threads, not a dozen (each hand-off is two thread wake-ups).
//!
//! One limit of a file system that S3 does not have: a key cannot be both an object and the
//! "directory" of other keys (`a` and `a/b`). The service's own keys never do that.

mod cdn;
mod dirs;
mod signing;

pub use cdn::LocalCdn;
pub use signing::{PutPermit, PutRefusal, ReadRefusal, ReadUrls, SignedQuery, UrlSigner};

use dirs::{Dirs, io_err};

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use domain::{
    ByteStream, KeyPrefix, ObjectKey, ObjectMeta, ObjectStore, PresignedPut, PutConditions,
    StorageError,
};
use futures_util::StreamExt as _;
use md5::Md5;
use time::OffsetDateTime;

/// Temporary files older than this at start-up are left-overs of a crash.
const STALE_TMP: Duration = Duration::from_secs(3600);

/// An object store in a directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    dirs: Arc<Dirs>,
    signer: Option<UrlSigner>,
}

/// What a PUT must satisfy besides its size limit (the presigned URL's bound headers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyChecks {
    /// The body must be exactly this long.
    pub exact_len: Option<u64>,
    /// The body's SHA-256 must be this.
    pub sha256: Option<[u8; 32]>,
}

/// A complete body in a temporary file, not yet published.
struct Spooled {
    path: PathBuf,
    size: u64,
    etag: String,
    sha256: Option<[u8; 32]>,
}

impl LocalStore {
    /// Opens (creating when needed) a store rooted at `root`, removing temporary files a
    /// crash left behind.
    ///
    /// # Errors
    /// The directories cannot be created.
    pub async fn open(root: impl AsRef<Path>) -> io::Result<Self> {
        let root = root.as_ref();
        let dirs = Dirs {
            objects: root.join("objects"),
            meta: root.join("meta"),
            tmp: root.join("tmp"),
        };
        for dir in [&dirs.objects, &dirs.meta, &dirs.tmp] {
            tokio::fs::create_dir_all(dir).await?;
        }
        let mut entries = tokio::fs::read_dir(&dirs.tmp).await?;
        while let Some(entry) = entries.next_entry().await? {
            let stale = entry
                .metadata()
                .await
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_TMP);
            if stale {
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
        Ok(Self {
            dirs: Arc::new(dirs),
            signer: None,
        })
    }

    /// Signs upload URLs with `signer` (the service serves them at `/storage/{key}`).
    #[must_use]
    pub fn with_signer(mut self, signer: UrlSigner) -> Self {
        self.signer = Some(signer);
        self
    }

    pub fn signer(&self) -> Option<&UrlSigner> {
        self.signer.as_ref()
    }

    /// Streams `body` into `key` like `put`, also enforcing `checks` while streaming: a
    /// body of another length or checksum is refused (`PreconditionFailed`) and nothing
    /// is stored.
    ///
    /// Unlike the port's `put`, `body` need not be `Send`: the HTTP layer passes its
    /// request body as it is, read on the request's own worker, with no task and channel
    /// in between (each would hold chunks of the body too: under 64 concurrent uploads
    /// that forwarding stage took about a third of the service's peak memory).
    ///
    /// # Errors
    /// As `put`, and `PreconditionFailed`.
    pub async fn put_checked(
        &self,
        key: &ObjectKey,
        body: impl futures_util::Stream<Item = io::Result<Bytes>>,
        content_type: &str,
        max_size: u64,
        checks: &BodyChecks,
    ) -> Result<ObjectMeta, StorageError> {
        let limit = checks.exact_len.map_or(max_size, |l| l.min(max_size));
        let spooled = self.spool(body, limit, checks.sha256.is_some()).await?;
        let length_ok = checks.exact_len.is_none_or(|l| l == spooled.size);
        let sha_ok = checks
            .sha256
            .is_none_or(|want| spooled.sha256 == Some(want));
        if !(length_ok && sha_ok) {
            let _ = tokio::fs::remove_file(&spooled.path).await;
            return Err(StorageError::PreconditionFailed);
        }
        self.publish(key, spooled, content_type).await
    }

    /// The file holding `key`'s bytes (for serving them).
    pub fn path_of(&self, key: &ObjectKey) -> PathBuf {
        self.dirs.path_of(key)
    }

    /// Runs `op` on the blocking pool: one hand-off for a whole operation.
    async fn blocking<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Dirs) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let dirs = self.dirs.clone();
        tokio::task::spawn_blocking(move || op(&dirs))
            .await
            .map_err(|e| StorageError::Unexpected(Box::new(e)))?
    }

    /// Streams `body` into a new temporary file, fsynced. One blocking thread writes the
    /// whole file (chunks reach it through a short channel), so a body costs one hand-off
    /// to the blocking pool, not one per chunk. An upload holds at most the channel's
    /// depth plus two of its chunks here (one being hashed, one being written).
    async fn spool(
        &self,
        body: impl futures_util::Stream<Item = io::Result<Bytes>>,
        max_size: u64,
        with_sha256: bool,
    ) -> Result<Spooled, StorageError> {
        use sha2::Digest as _;
        use std::io::Write as _;
        let path = self
            .dirs
            .tmp
            .join(uuid::Uuid::new_v4().simple().to_string());
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (path, failed) = (path.clone(), failed.clone());
            tokio::task::spawn_blocking(move || -> io::Result<()> {
                let mut file = File::create(&path)?;
                while let Some(chunk) = rx.blocking_recv() {
                    file.write_all(&chunk)?;
                }
                // A body that failed is deleted: no point making it durable.
                if failed.load(std::sync::atomic::Ordering::Acquire) {
                    return Ok(());
                }
                file.sync_all()
            })
        };
        let result = async {
            let mut body = std::pin::pin!(body);
            let mut size = 0u64;
            let mut md5 = Md5::new();
            let mut sha = with_sha256.then(sha2::Sha256::new);
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(StorageError::BodyInterrupted)?;
                size += chunk.len() as u64;
                if size > max_size {
                    return Err(StorageError::TooLarge { limit: max_size });
                }
                md5.update(&chunk);
                if let Some(sha) = sha.as_mut() {
                    sha.update(&chunk);
                }
                if tx.send(chunk).await.is_err() {
                    // The writer stopped: its error is the one to report.
                    break;
                }
            }
            Ok((
                size,
                hex::encode(md5.finalize()),
                sha.map(|s| s.finalize().into()),
            ))
        }
        .await;
        failed.store(result.is_err(), std::sync::atomic::Ordering::Release);
        drop(tx);
        let written = writer
            .await
            .map_err(|e| StorageError::Unexpected(Box::new(e)))
            .and_then(|r| r.map_err(io_err));
        match result.and_then(|r| written.map(|()| r)) {
            Ok((size, etag, sha256)) => Ok(Spooled {
                path,
                size,
                etag,
                sha256,
            }),
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                Err(e)
            }
        }
    }

    async fn publish(
        &self,
        key: &ObjectKey,
        spooled: Spooled,
        content_type: &str,
    ) -> Result<ObjectMeta, StorageError> {
        let (key, content_type) = (key.clone(), content_type.to_owned());
        self.blocking(move |d| {
            d.publish(
                &key,
                &spooled.path,
                spooled.size,
                spooled.etag,
                &content_type,
            )
        })
        .await
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    #[tracing::instrument(skip(self, body), fields(key = %key), err(level = "info"))]
    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        content_type: &str,
        max_size: u64,
    ) -> Result<ObjectMeta, StorageError> {
        let spooled = self.spool(body, max_size, false).await?;
        self.publish(key, spooled, content_type).await
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StorageError> {
        let key = key.clone();
        self.blocking(move |d| d.head(&key)).await
    }

    async fn read_head(
        &self,
        key: &ObjectKey,
        len: u64,
    ) -> Result<Option<(ObjectMeta, Bytes)>, StorageError> {
        let key = key.clone();
        self.blocking(move |d| d.read_head(&key, len)).await
    }

    async fn read_range(
        &self,
        key: &ObjectKey,
        offset: u64,
        len: u64,
        if_match: Option<String>,
    ) -> Result<Bytes, StorageError> {
        let key = key.clone();
        self.blocking(move |d| d.read_range(&key, offset, len, if_match.as_deref()))
            .await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        let key = key.clone();
        self.blocking(move |d| d.delete(&key)).await
    }

    async fn list(
        &self,
        prefix: &KeyPrefix,
        after: Option<ObjectKey>,
        limit: usize,
    ) -> Result<Vec<ObjectMeta>, StorageError> {
        let prefix = prefix.clone();
        self.blocking(move |d| d.list(&prefix, after.as_ref(), limit))
            .await
    }

    async fn presign_put(
        &self,
        key: &ObjectKey,
        conditions: &PutConditions,
    ) -> Result<PresignedPut, StorageError> {
        let signer = self.signer.as_ref().ok_or_else(|| {
            StorageError::Unexpected("this local store has no URL signer configured".into())
        })?;
        let mut c = conditions.clone();
        c.expires_in = c.expires_in.min(signing::MAX_TTL);
        Ok(signer.presign(key, &c, OffsetDateTime::now_utc().unix_timestamp()))
    }

    async fn promote(
        &self,
        from: &ObjectKey,
        to: &ObjectKey,
        etag: &str,
        content_type: &str,
    ) -> Result<ObjectMeta, StorageError> {
        let (from, to, etag, content_type) = (
            from.clone(),
            to.clone(),
            etag.to_owned(),
            content_type.to_owned(),
        );
        self.blocking(move |d| d.promote(&from, &to, &etag, &content_type))
            .await
    }

    async fn check(&self) -> Result<(), StorageError> {
        match tokio::fs::metadata(&self.dirs.objects).await {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(StorageError::Unavailable(
                "the object directory is not a directory".into(),
            )),
            Err(e) => Err(StorageError::Unavailable(Box::new(e))),
        }
    }
}

#[cfg(test)]
mod tests;
