//! Byte-range reads of store objects for lookups. On a local store the
//! file is mapped ([`Mapped`]) and read on the calling thread (the lookup's
//! task, see [`super`]), through a small cache of maps; this avoids the
//! object store's hop to another thread and its `open` per read, which
//! dominated lookups under load, and a system call per read. Other stores
//! use their async range reads.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use proofmark_ingest::Store;

use crate::error::VerifierError;
use crate::mapped::Mapped;

/// Mapped files kept at most: a batch's record file and one leaf file per
/// segment (a 46 M-record batch has about 700 segments). A map costs one
/// memory area of the process; dropping one loses its mapped pages, which
/// the next reads fault in again, so beyond this one map at a time goes.
const MAX_OPEN_FILES: usize = 8192;

/// Reads ranges of store objects.
#[derive(Debug, Default)]
pub(crate) struct RangeReader {
    files: Mutex<HashMap<PathBuf, Arc<Mapped>>>,
}

impl RangeReader {
    /// The bytes `range` of object `path` of `store`; exactly that many or an error.
    pub async fn read(
        &self,
        store: &Store,
        path: &str,
        range: std::ops::Range<u64>,
    ) -> Result<Bytes, VerifierError> {
        if store.local_root().is_none() {
            return store
                .get_range(path, range)
                .await
                .map_err(|e| VerifierError::store(path, e));
        }
        self.with_range(store, path, &OnceLock::new(), range, Bytes::copy_from_slice)
            .await
    }

    /// Calls `f` with the bytes `range` of object `path` of `store` (exactly
    /// that many, or an error). On a local store they are a slice of the
    /// file's map, which `cached` keeps after the first call: a caller that
    /// reads one object often (a segment's leaves) holds the cell, and skips
    /// the path's join and the cache's hash and lock.
    pub async fn with_range<T>(
        &self,
        store: &Store,
        path: &str,
        cached: &OnceLock<Arc<Mapped>>,
        range: std::ops::Range<u64>,
        f: impl FnOnce(&[u8]) -> T,
    ) -> Result<T, VerifierError> {
        let Some(root) = store.local_root() else {
            let bytes = store
                .get_range(path, range)
                .await
                .map_err(|e| VerifierError::store(path, e))?;
            return Ok(f(&bytes));
        };
        let full = || root.join(path.trim_start_matches('/'));
        let io = |e| {
            VerifierError::store(
                path,
                proofmark_ingest::IngestError::LocalIo {
                    path: full(),
                    source: e,
                },
            )
        };
        let file = match cached.get() {
            Some(f) => f,
            None => {
                let opened = self.open(&full()).map_err(io)?;
                cached.get_or_init(|| opened)
            }
        };
        let bytes = file
            .range(range.start, range.end.saturating_sub(range.start))
            .ok_or_else(|| {
                io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the object is shorter than {} bytes", range.end),
                ))
            })?;
        Ok(f(bytes))
    }

    /// The mapped file `path`, from the cache or mapped.
    pub fn open(&self, path: &PathBuf) -> std::io::Result<Arc<Mapped>> {
        let mut files = self
            .files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(f) = files.get(path) {
            return Ok(Arc::clone(f));
        }
        let f = Arc::new(Mapped::open(path)?);
        if files.len() >= MAX_OPEN_FILES
            && let Some(old) = files.keys().next().cloned()
        {
            files.remove(&old);
        }
        files.insert(path.clone(), Arc::clone(&f));
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn cached_ranges_are_the_object_s_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..5_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::create_dir_all(dir.path().join("b/segments")).unwrap();
        std::fs::write(dir.path().join("b/segments/000001.leaves"), &data).unwrap();
        let store = Store::from_url(&dir.path().display().to_string()).unwrap();
        let reader = RangeReader::default();
        let cell = OnceLock::new();
        let path = "b/segments/000001.leaves";
        let first = reader
            .with_range(&store, path, &cell, 100..164, <[u8]>::to_vec)
            .await
            .unwrap();
        assert_eq!(first, data[100..164]);
        assert!(cell.get().is_some(), "the map is kept");
        let again = reader
            .with_range(&store, path, &cell, 4_990..5_000, <[u8]>::to_vec)
            .await
            .unwrap();
        assert_eq!(again, data[4_990..]);
        let read = reader.read(&store, path, 4_990..5_000).await.unwrap();
        assert_eq!(&read[..], &data[4_990..]);
        let err = reader
            .with_range(&store, path, &cell, 4_990..5_001, <[u8]>::len)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("000001.leaves"), "{err}");
        let missing = reader
            .with_range(&store, "b/none", &OnceLock::new(), 0..1, <[u8]>::len)
            .await
            .unwrap_err()
            .to_string();
        assert!(missing.contains("b/none"), "{missing}");
    }
}
