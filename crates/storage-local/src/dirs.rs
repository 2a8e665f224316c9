//! The store's directories and every file-system operation on them: synchronous, each
//! called on tokio's blocking pool by [`crate::LocalStore`]. Paths are built only by
//! pushing a key's segments onto a root, so no key names a path outside it.

use std::fs::File;
use std::io::{self, ErrorKind, Read as _, Seek as _};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use domain::{KeyPrefix, ObjectKey, ObjectMeta, StorageError};
use md5::{Digest as _, Md5};
use time::OffsetDateTime;

/// The store's three directories, and every file-system operation on them (synchronous:
/// called on the blocking pool).
#[derive(Debug)]
pub(crate) struct Dirs {
    pub(crate) objects: PathBuf,
    pub(crate) meta: PathBuf,
    pub(crate) tmp: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Sidecar {
    size: u64,
    etag: String,
    content_type: String,
}

impl Dirs {
    pub(crate) fn path_of(&self, key: &ObjectKey) -> PathBuf {
        let mut p = self.objects.clone();
        p.extend(key.segments());
        p
    }

    pub(crate) fn sidecar_path(&self, key: &ObjectKey) -> PathBuf {
        let mut p = self.meta.clone();
        p.extend(key.segments());
        let mut name = p.file_name().unwrap_or_default().to_os_string();
        name.push(".json");
        p.set_file_name(name);
        p
    }

    pub(crate) fn read_sidecar(&self, key: &ObjectKey) -> Option<Sidecar> {
        let raw = std::fs::read(self.sidecar_path(key)).ok()?;
        serde_json::from_slice(&raw).ok()
    }

    /// An object's metadata from its file's: the ETag and type from its sidecar, unless the
    /// sidecar's size disagrees with the file (then it belongs to another version of it).
    pub(crate) fn meta_of(&self, key: &ObjectKey, m: &std::fs::Metadata) -> ObjectMeta {
        let sidecar = self.read_sidecar(key).filter(|s| s.size == m.len());
        ObjectMeta {
            key: key.clone(),
            size: m.len(),
            etag: sidecar
                .as_ref()
                .map_or_else(|| fallback_etag(m), |s| s.etag.clone()),
            content_type: sidecar.map(|s| s.content_type),
            last_modified: modified(m),
        }
    }

    /// `key`'s file, open, with its metadata; `None` when there is no such object.
    pub(crate) fn open(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<(File, std::fs::Metadata)>, StorageError> {
        let file = match File::open(self.path_of(key)) {
            Ok(f) => f,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(io_err(e)),
        };
        let m = file.metadata().map_err(io_err)?;
        Ok(m.is_file().then_some((file, m)))
    }

    pub(crate) fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StorageError> {
        match std::fs::metadata(self.path_of(key)) {
            Ok(m) if m.is_file() => Ok(Some(self.meta_of(key, &m))),
            Ok(_) => Ok(None),
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    pub(crate) fn read_head(
        &self,
        key: &ObjectKey,
        len: u64,
    ) -> Result<Option<(ObjectMeta, Bytes)>, StorageError> {
        // One open file: the size and the bytes belong to the same version of the object.
        let Some((file, m)) = self.open(key)? else {
            return Ok(None);
        };
        let bytes = read_at_most(file, len.min(m.len()))?;
        Ok(Some((self.meta_of(key, &m), bytes)))
    }

    pub(crate) fn read_range(
        &self,
        key: &ObjectKey,
        offset: u64,
        len: u64,
        if_match: Option<&str>,
    ) -> Result<Bytes, StorageError> {
        let (mut file, m) = self.open(key)?.ok_or(StorageError::NotFound)?;
        // The open file's version, by its ETag (read with its size, as `read_head` reads it):
        // another version answers `PreconditionFailed`, and promotion re-hashes the whole
        // file against the ETag besides.
        if if_match.is_some_and(|etag| self.meta_of(key, &m).etag != etag) {
            return Err(StorageError::PreconditionFailed);
        }
        let want = len.min(m.len().saturating_sub(offset));
        if want == 0 {
            return Ok(Bytes::new());
        }
        file.seek(io::SeekFrom::Start(offset)).map_err(io_err)?;
        read_at_most(file, want)
    }

    pub(crate) fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        let target = self.path_of(key);
        match std::fs::remove_file(&target) {
            Ok(()) => {}
            Err(e) if is_absent(&e) => {}
            Err(e) => return Err(io_err(e)),
        }
        let sidecar = self.sidecar_path(key);
        let _ = std::fs::remove_file(&sidecar);
        prune_empty_dirs(&target, &self.objects);
        prune_empty_dirs(&sidecar, &self.meta);
        Ok(())
    }

    /// Moves a complete temporary file to `key` and writes its sidecar.
    pub(crate) fn publish(
        &self,
        key: &ObjectKey,
        tmp: &Path,
        size: u64,
        etag: String,
        content_type: &str,
    ) -> Result<ObjectMeta, StorageError> {
        let target = self.path_of(key);
        let sidecar = self.sidecar_path(key);
        let result = (|| {
            rename_into(tmp, &target).map_err(io_err)?;
            let meta = serde_json::to_vec(&Sidecar {
                size,
                etag: etag.clone(),
                content_type: content_type.to_owned(),
            })
            .map_err(|e| StorageError::Unexpected(Box::new(e)))?;
            let meta_tmp = self
                .tmp
                .join(format!("{}.json", uuid::Uuid::new_v4().simple()));
            std::fs::write(&meta_tmp, meta).map_err(io_err)?;
            rename_into(&meta_tmp, &sidecar).map_err(|e| {
                let _ = std::fs::remove_file(&meta_tmp);
                io_err(e)
            })
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(tmp);
            return Err(e);
        }
        let last_modified = std::fs::metadata(&target)
            .map(|m| modified(&m))
            .map_err(io_err)?;
        Ok(ObjectMeta {
            key: key.clone(),
            size,
            etag,
            content_type: Some(content_type.to_owned()),
            last_modified,
        })
    }

    pub(crate) fn promote(
        &self,
        from: &ObjectKey,
        to: &ObjectKey,
        etag: &str,
        content_type: &str,
    ) -> Result<ObjectMeta, StorageError> {
        // Claim the staged bytes with a hard link: a PUT racing with us replaces the file
        // at `from` (a rename) and cannot change the bytes we check and promote, and the
        // staged object stays visible until the final one exists, so a concurrent
        // confirmation never sees neither.
        let source = self.path_of(from);
        let claimed = self
            .tmp
            .join(format!("claim-{}", uuid::Uuid::new_v4().simple()));
        match std::fs::hard_link(&source, &claimed) {
            Ok(()) => {}
            Err(e) if is_absent(&e) => return Err(StorageError::NotFound),
            Err(e) => return Err(io_err(e)),
        }
        let (size, actual) = match md5_of(&claimed) {
            Ok(v) => v,
            Err(e) => {
                let _ = std::fs::remove_file(&claimed);
                return Err(io_err(e));
            }
        };
        if actual != etag {
            let _ = std::fs::remove_file(&claimed);
            return Err(StorageError::PreconditionFailed);
        }
        // Stored as the type verified from the bytes, whatever the PUT said.
        let meta = self.publish(to, &claimed, size, actual, content_type)?;
        // Only now does the staged copy go (a concurrent confirmation may have removed it).
        let _ = std::fs::remove_file(&source);
        let staged_sidecar = self.sidecar_path(from);
        let _ = std::fs::remove_file(&staged_sidecar);
        prune_empty_dirs(&source, &self.objects);
        prune_empty_dirs(&staged_sidecar, &self.meta);
        Ok(meta)
    }

    pub(crate) fn list(
        &self,
        prefix: &KeyPrefix,
        after: Option<&ObjectKey>,
        limit: usize,
    ) -> Result<Vec<ObjectMeta>, StorageError> {
        let keys = self.walk(prefix, after, limit).map_err(io_err)?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            // An object deleted between the walk and here is simply not listed.
            if let Some(meta) = self.head(&key)? {
                out.push(meta);
            }
        }
        Ok(out)
    }
}

/// Size and MD5 of a file, read in chunks.
pub(crate) fn md5_of(path: &Path) -> io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut md5 = Md5::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        md5.update(&buf[..n]);
    }
    Ok((size, hex::encode(md5.finalize())))
}

/// Up to `len` bytes from `file`'s current position.
pub(crate) fn read_at_most(file: File, len: u64) -> Result<Bytes, StorageError> {
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(usize::MAX));
    file.take(len).read_to_end(&mut buf).map_err(io_err)?;
    Ok(Bytes::from(buf))
}

/// Renames `from` to `to`, creating `to`'s directories only when the rename says they are
/// missing: they usually exist, and creating them anyway costs a `mkdir` and a `stat` each.
pub(crate) fn rename_into(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::rename(from, to) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::rename(from, to)
        }
        other => other,
    }
}

/// Removes empty directories from `path`'s parent up to (not including) `stop`.
pub(crate) fn prune_empty_dirs(path: &Path, stop: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == stop || !d.starts_with(stop) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// No such file, or a file where the path needed a directory: the object does not exist.
pub(crate) fn is_absent(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

pub(crate) fn io_err(e: io::Error) -> StorageError {
    StorageError::Unexpected(Box::new(e))
}

pub(crate) fn modified(m: &std::fs::Metadata) -> OffsetDateTime {
    m.modified()
        .map(OffsetDateTime::from)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// An ETag for an object whose sidecar is missing (a crash between the two renames):
/// derived from size and modification time, so it still changes when the bytes do.
pub(crate) fn fallback_etag(m: &std::fs::Metadata) -> String {
    let nanos = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{:x}-{:x}", m.len(), nanos)
}

impl Dirs {
    /// Keys under `prefix`, in byte order of the whole key, after `after`, at most `limit`.
    ///
    /// A directory's entries are visited in the order of `name` for files and `name/` for
    /// directories: that is exactly the byte order of the keys below them.
    pub(crate) fn walk(
        &self,
        prefix: &KeyPrefix,
        after: Option<&ObjectKey>,
        limit: usize,
    ) -> io::Result<Vec<ObjectKey>> {
        let mut dir = self.objects.clone();
        dir.extend(prefix.segments());
        let mut out = Vec::new();
        let after = after.map(ObjectKey::as_str);
        self.walk_dir(&dir, prefix.as_str().to_owned(), after, limit, &mut out)?;
        Ok(out)
    }

    pub(crate) fn walk_dir(
        &self,
        dir: &Path,
        key_prefix: String,
        after: Option<&str>,
        limit: usize,
        out: &mut Vec<ObjectKey>,
    ) -> io::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let mut children = Vec::new();
        for entry in entries {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue; // not a key we wrote
            };
            let ty = entry.file_type()?;
            if ty.is_dir() {
                children.push((format!("{key_prefix}{name}/"), true));
            } else if ty.is_file() {
                children.push((format!("{key_prefix}{name}"), false));
            }
        }
        children.sort();
        for (key, is_dir) in children {
            if out.len() >= limit {
                return Ok(());
            }
            if is_dir {
                // Skip a subtree whose every key sorts before `after`.
                if after.is_some_and(|a| key.as_str() < a && !a.starts_with(&key)) {
                    continue;
                }
                let path = dir.join(
                    key.trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .unwrap_or_default(),
                );
                self.walk_dir(&path, key, after, limit, out)?;
            } else if after.is_none_or(|a| key.as_str() > a)
                && let Ok(k) = ObjectKey::parse(&key)
            {
                out.push(k);
            }
        }
        Ok(())
    }
}
