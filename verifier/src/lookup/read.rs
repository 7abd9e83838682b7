//! Byte-range reads of store objects for lookups. On a local store the
//! file is read with a positioned read on the calling thread (the lookup's
//! task, see [`super`]), through a small cache of open files; this avoids the
//! object store's hop to another thread and its `open` per read, which
//! dominated lookups under load. Other stores use their async range reads.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use proofmark_ingest::Store;

use crate::error::VerifierError;

/// Open files kept at most.
const MAX_OPEN_FILES: usize = 256;

/// Reads ranges of store objects.
#[derive(Debug, Default)]
pub(crate) struct RangeReader {
    files: Mutex<HashMap<PathBuf, Arc<std::fs::File>>>,
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
        let len = usize::try_from(range.end.saturating_sub(range.start)).unwrap_or(usize::MAX);
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, range.start).map_err(io)?;
        Ok(Bytes::from(buf))
    }

    /// The open file `path`, from the cache or opened.
    pub fn open(&self, path: &PathBuf) -> std::io::Result<Arc<std::fs::File>> {
        let mut files = self
            .files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(f) = files.get(path) {
            return Ok(Arc::clone(f));
        }
        let f = Arc::new(std::fs::File::open(path)?);
        if files.len() >= MAX_OPEN_FILES {
            files.clear();
        }
        files.insert(path.clone(), Arc::clone(&f));
        Ok(f)
    }
}
