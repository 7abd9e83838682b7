//! Byte-range reads of store objects for lookups. On a local store the
//! file is mapped ([`Mapped`]) and read on the calling thread (the lookup's
//! task, see [`super`]), through a small cache of maps; this avoids the
//! object store's hop to another thread and its `open` per read, which
//! dominated lookups under load, and a system call per read. Other stores
//! use their async range reads.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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
        let Some(root) = store.local_root() else {
            return store
                .get_range(path, range)
                .await
                .map_err(|e| VerifierError::store(path, e));
        };
        let full = root.join(path.trim_start_matches('/'));
        let io = |e| {
            VerifierError::store(
                path,
                proofmark_ingest::IngestError::LocalIo {
                    path: full.clone(),
                    source: e,
                },
            )
        };
        let file = self.open(&full).map_err(io)?;
        let bytes = file
            .range(range.start, range.end.saturating_sub(range.start))
            .ok_or_else(|| {
                io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the object is shorter than {} bytes", range.end),
                ))
            })?;
        Ok(Bytes::copy_from_slice(bytes))
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
