//! The edge's disk tier: objects evicted from memory are written to files
//! under a directory with a byte budget of its own, and served from there
//! (by positioned reads on a blocking thread) until the disk tier's own
//! policy evicts them.
//!
//! A demoted object is in the disk index at once, still served from its
//! memory body while its file is written (so a hit during the write needs
//! no refetch; the memory budget is exceeded by the objects being written,
//! bounded by the disk's write speed), then from the file. Files are
//! written under a temporary name and renamed, and named by number, never
//! by the object's path. An evicted file is unlinked; a reader that holds
//! it open keeps reading (Linux keeps an unlinked file's blocks while it is
//! open). A disk hit is not copied back to memory.
//!
//! The tier starts empty: files a previous process left (numbered `.obj`
//! and `.tmp` files only) are removed when it opens, since their index
//! lived in memory.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use thiserror::Error;

use super::body::FillBody;
use crate::cache::{Cache, PolicyKind};
use crate::object::{Body, BodyError, BodyReader, BoxFuture, ObjectKey, ObjectMeta};

/// Where and how big the disk tier is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskConfig {
    /// Its directory (created when missing).
    pub dir: PathBuf,
    /// Its byte budget.
    pub budget: u64,
}

/// A disk tier that cannot be opened.
#[derive(Debug, Error)]
#[error(
    "cannot use `{dir}` for the disk tier: {source}; hint: give a writable directory of its own"
)]
pub struct DiskError {
    /// The directory.
    pub dir: PathBuf,
    /// The system's reason.
    pub source: std::io::Error,
}

/// One object on the disk tier.
pub(crate) struct DiskEntry {
    id: u64,
    pub(crate) meta: ObjectMeta,
    pub(crate) source: Arc<str>,
    /// The memory body until the file is written, then the file.
    body: Mutex<Body>,
}

impl DiskEntry {
    pub(crate) fn body(&self) -> Body {
        self.body.lock().expect("disk entry lock").clone()
    }
}

/// A file to write, after the store lock is released.
pub(crate) struct Write {
    pub(crate) entry: Arc<DiskEntry>,
    pub(crate) key: ObjectKey,
    pub(crate) body: Arc<FillBody>,
    pub(crate) path: PathBuf,
}

/// The disk tier's index; its files are written and removed by the caller
/// outside the store lock.
pub(crate) struct DiskTier {
    dir: PathBuf,
    index: Cache<ObjectKey, Arc<DiskEntry>>,
    next: u64,
}

impl DiskTier {
    /// Opens (and empties) the tier.
    pub(crate) fn open(config: &DiskConfig, policy: PolicyKind) -> Result<DiskTier, DiskError> {
        let err = |source| DiskError {
            dir: config.dir.clone(),
            source,
        };
        std::fs::create_dir_all(&config.dir).map_err(err)?;
        for entry in std::fs::read_dir(&config.dir).map_err(err)? {
            let path = entry.map_err(err)?.path();
            if is_ours(&path) {
                std::fs::remove_file(&path).map_err(err)?;
            }
        }
        // Prove the directory is writable now, not at the first eviction.
        let probe = config.dir.join("0.tmp");
        std::fs::write(&probe, b"").map_err(err)?;
        std::fs::remove_file(&probe).map_err(err)?;
        Ok(DiskTier {
            dir: config.dir.clone(),
            index: Cache::new(config.budget, policy.build()),
            next: 1,
        })
    }

    /// The object under `key` (a hit for the tier's policy).
    pub(crate) fn get(&mut self, key: &ObjectKey) -> Option<Arc<DiskEntry>> {
        self.index.get(key).cloned()
    }

    /// Takes an object evicted from memory. Returns the file to write (none
    /// when it does not fit the tier) and the files of the objects it
    /// evicted, to remove.
    pub(crate) fn demote(
        &mut self,
        key: ObjectKey,
        meta: ObjectMeta,
        source: Arc<str>,
        body: Arc<FillBody>,
    ) -> (Option<Write>, Vec<PathBuf>) {
        let mut gone = Vec::new();
        if let Some(old) = self.index.remove(&key) {
            gone.push(self.path(old.id));
        }
        let Ok((r, evicted)) = self.index.reserve(meta.len) else {
            return (None, gone);
        };
        gone.extend(evicted.into_iter().map(|e| self.path(e.value.id)));
        let id = self.next;
        self.next += 1;
        let entry = Arc::new(DiskEntry {
            id,
            meta,
            source,
            body: Mutex::new(body.clone()),
        });
        self.index.commit(key.clone(), entry.clone(), r);
        let write = Write {
            entry,
            key,
            body,
            path: self.path(id),
        };
        (Some(write), gone)
    }

    /// Drops `key` (a fresher copy is in memory); its file, to remove.
    pub(crate) fn remove(&mut self, key: &ObjectKey) -> Option<PathBuf> {
        self.index.remove(key).map(|e| self.path(e.id))
    }

    /// Whether `key` is on the tier (without telling the policy).
    pub(crate) fn contains(&self, key: &ObjectKey) -> bool {
        self.index.contains(key)
    }

    /// Whether `entry` is still the tier's object under `key`.
    pub(crate) fn holds(&self, key: &ObjectKey, entry: &Arc<DiskEntry>) -> bool {
        self.index.peek(key).is_some_and(|e| Arc::ptr_eq(e, entry))
    }

    /// Every object's key on the tier.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &ObjectKey> {
        self.index.keys()
    }

    /// Bytes and objects on the tier.
    pub(crate) fn usage(&self) -> (u64, usize) {
        (self.index.used(), self.index.len())
    }

    fn path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.obj"))
    }
}

/// Whether `path` is a file this tier writes (`N.obj`, `N.tmp`).
fn is_ours(path: &Path) -> bool {
    let ext_ok = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("obj" | "tmp")
    );
    let stem_ok = path
        .file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    ext_ok && stem_ok
}

/// Writes `write`'s body to its file (blocking) and swaps the entry's
/// body to the file.
pub(crate) fn write_file(write: &Write) -> std::io::Result<()> {
    let tmp = write.path.with_extension("tmp");
    {
        use std::io::Write as _;
        let mut f = std::io::BufWriter::new(File::create(&tmp)?);
        for chunk in write.body.chunks() {
            f.write_all(&chunk)?;
        }
        f.into_inner().map_err(|e| e.into_error())?.sync_data()?;
    }
    std::fs::rename(&tmp, &write.path)?;
    let file = File::open(&write.path)?;
    *write.entry.body.lock().expect("disk entry lock") = Arc::new(DiskBody {
        file: Arc::new(file),
        len: write.entry.meta.len,
    });
    Ok(())
}

/// An object's bytes in a file.
struct DiskBody {
    file: Arc<File>,
    len: u64,
}

impl BodyReader for DiskBody {
    fn read_at(&self, offset: u64, max: usize) -> BoxFuture<'_, Result<Bytes, BodyError>> {
        let (file, len) = (self.file.clone(), self.len);
        Box::pin(async move {
            if offset >= len {
                if offset == 0 && len == 0 {
                    return Ok(Bytes::new());
                }
                return Err(BodyError::OutOfRange { offset, len });
            }
            // At most 1 MiB per read, so a huge `max` does not allocate
            // the whole object.
            let n = (max as u64).min(len - offset).min(1 << 20) as usize;
            tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; n];
                file.read_exact_at(&mut buf, offset)
                    .map(|()| Bytes::from(buf))
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map_err(|why| BodyError::FillFailed {
                at: offset,
                why: format!("disk read: {why}"),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn key(p: &str) -> ObjectKey {
        ObjectKey {
            site: "a.test".into(),
            path: p.into(),
        }
    }

    fn meta(len: u64) -> ObjectMeta {
        ObjectMeta {
            len,
            etag: "\"e\"".into(),
            last_modified: UNIX_EPOCH,
            content_type: "video/mp4".into(),
        }
    }

    #[tokio::test]
    async fn demoted_objects_are_served_from_memory_then_from_their_file_until_evicted() {
        let dir = tempfile::tempdir().unwrap();
        // A file a previous process left, and one that is not ours.
        std::fs::write(dir.path().join("17.obj"), b"old").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"keep").unwrap();
        let cfg = DiskConfig {
            dir: dir.path().to_owned(),
            budget: 20,
        };
        let mut tier = DiskTier::open(&cfg, PolicyKind::Lru).unwrap();
        assert!(!dir.path().join("17.obj").exists());
        assert!(dir.path().join("notes.txt").exists());

        let a = Arc::new(FillBody::complete(Bytes::from_static(b"0123456789")));
        let (w, gone) = tier.demote(key("/a"), meta(10), "origin".into(), a);
        assert!(gone.is_empty());
        let w = w.unwrap();
        let entry = tier.get(&key("/a")).unwrap();
        assert_eq!(entry.body().read_at(3, 4).await.unwrap(), "3456");
        write_file(&w).unwrap();
        assert_eq!(std::fs::read(&w.path).unwrap(), b"0123456789");
        let body = entry.body();
        assert_eq!(body.read_at(8, 100).await.unwrap(), "89");
        assert!(matches!(
            body.read_at(10, 1).await,
            Err(BodyError::OutOfRange { .. })
        ));

        // Two more of 10 bytes: the tier's LRU gives up /a.
        let b = Arc::new(FillBody::complete(Bytes::from_static(b"bbbbbbbbbb")));
        let (wb, _) = tier.demote(key("/b"), meta(10), "origin".into(), b);
        write_file(&wb.unwrap()).unwrap();
        let c = Arc::new(FillBody::complete(Bytes::from_static(b"cccccccccc")));
        let (wc, gone) = tier.demote(key("/c"), meta(10), "origin".into(), c);
        assert_eq!(gone, std::slice::from_ref(&w.path));
        assert!(!tier.holds(&key("/a"), &entry));
        // A reader holding the evicted file keeps reading after the unlink.
        std::fs::remove_file(&w.path).unwrap();
        assert_eq!(body.read_at(0, 2).await.unwrap(), "01");
        assert!(wc.is_some());
        assert_eq!(tier.usage(), (20, 2));
        // Too big for the tier: not kept, nothing evicted.
        let big = Arc::new(FillBody::complete(Bytes::from(vec![0u8; 30])));
        let (w, gone) = tier.demote(key("/big"), meta(30), "origin".into(), big);
        assert!(w.is_none() && gone.is_empty());
    }

    #[test]
    fn a_directory_that_cannot_be_used_is_refused_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"").unwrap();
        let cfg = DiskConfig {
            dir: file.clone(),
            budget: 1,
        };
        let e = DiskTier::open(&cfg, PolicyKind::Lru)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("plain-file") && e.contains("hint:"), "{e}");
    }

    #[test]
    fn only_numbered_obj_and_tmp_files_are_ours() {
        for (p, ours) in [
            ("1.obj", true),
            ("42.tmp", true),
            ("a.obj", false),
            (".obj", false),
            ("1.txt", false),
            ("1", false),
        ] {
            assert_eq!(is_ours(Path::new(p)), ours, "{p}");
        }
    }
}
