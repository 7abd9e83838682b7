//! One streaming pass over an input file: its BLAKE3 digest, each row group's digest, and
//! (in copy mode) a copy into the batch store, all from the same chunks.
//!
//! Memory stays bounded (a couple of [`CHUNK_BYTES`] chunks plus the upload's parts in
//! flight); the next chunk is fetched while the current one is hashed on a blocking thread.

use std::ops::Range;

use bytes::Bytes;
use object_store::WriteMultipart;

use crate::error::IngestError;
use crate::store::Store;

/// Bytes read per request while streaming a file.
pub const CHUNK_BYTES: u64 = 8 * 1024 * 1024;

/// The digests of a file, as `blake3:<hex>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDigests {
    /// Digest of the whole file.
    pub file: String,
    /// Digest of each given byte range (row groups), in the order given.
    pub ranges: Vec<String>,
}

/// `blake3:` + hex of a BLAKE3 hash.
pub fn digest_string(hash: &blake3::Hash) -> String {
    format!("blake3:{}", hash.to_hex())
}

/// `blake3:` + hex of the BLAKE3 hash of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    digest_string(&blake3::hash(bytes))
}

struct HashState {
    file: blake3::Hasher,
    ranges: Vec<(Range<u64>, blake3::Hasher)>,
}

impl HashState {
    fn update(&mut self, pos: u64, chunk: &[u8]) {
        self.file.update(chunk);
        let end = pos + chunk.len() as u64;
        for (range, hasher) in &mut self.ranges {
            let s = range.start.max(pos);
            let e = range.end.min(end);
            if s < e {
                hasher.update(&chunk[(s - pos) as usize..(e - pos) as usize]);
            }
        }
    }
}

/// Where a streamed copy goes.
pub struct CopyTarget<'a> {
    /// The batch store.
    pub store: &'a Store,
    /// The copy's path in it.
    pub path: &'a str,
}

/// Streams the file at `path` in `store` (`size` bytes, `url` for errors) once, computing
/// its digest and the digest of each range in `ranges`, and copying it to `copy` if given.
/// `progress` is called with the bytes of each chunk digested.
pub async fn digest_file(
    store: &Store,
    path: &str,
    url: &str,
    size: u64,
    ranges: &[Range<u64>],
    copy: Option<CopyTarget<'_>>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<FileDigests, IngestError> {
    let mut writer = match &copy {
        Some(t) => Some(t.store.writer(t.path).await?),
        None => None,
    };
    let result = stream(store, path, url, size, ranges, &copy, &mut writer, progress).await;
    match (result, writer, copy) {
        (Ok(d), Some(w), Some(t)) => {
            t.store.writer_finish(t.path, w).await?;
            Ok(d)
        }
        (Ok(d), _, _) => Ok(d),
        (Err(e), Some(w), _) => {
            let _ = w.abort().await;
            Err(e)
        }
        (Err(e), None, _) => Err(e),
    }
}

#[allow(clippy::too_many_arguments)]
async fn stream(
    store: &Store,
    path: &str,
    url: &str,
    size: u64,
    ranges: &[Range<u64>],
    copy: &Option<CopyTarget<'_>>,
    writer: &mut Option<WriteMultipart>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<FileDigests, IngestError> {
    let mut state = HashState {
        file: blake3::Hasher::new(),
        ranges: ranges
            .iter()
            .map(|r| (r.clone(), blake3::Hasher::new()))
            .collect(),
    };
    let fetch = |pos: u64| async move {
        let end = size.min(pos + CHUNK_BYTES);
        let chunk = store.get_range(path, pos..end).await?;
        if chunk.len() as u64 != end - pos {
            return Err(IngestError::ChangedSincePlan {
                url: url.to_owned(),
                what: format!(
                    "expected {} bytes at offset {pos}, read {}",
                    end - pos,
                    chunk.len()
                ),
            });
        }
        Ok::<Bytes, IngestError>(chunk)
    };
    let mut pos = 0u64;
    let mut current = if size > 0 {
        Some(fetch(0).await?)
    } else {
        None
    };
    while let Some(chunk) = current.take() {
        let len = chunk.len() as u64;
        let next_pos = pos + len;
        let for_hash = chunk.clone();
        let hash = tokio::task::spawn_blocking(move || {
            state.update(pos, &for_hash);
            state
        });
        let next = async {
            if next_pos < size {
                fetch(next_pos).await.map(Some)
            } else {
                Ok(None)
            }
        };
        let (hashed, next) = tokio::join!(hash, next);
        state = hashed.map_err(|source| IngestError::Task {
            what: format!("digesting {url}"),
            source,
        })?;
        if let (Some(w), Some(t)) = (writer.as_mut(), copy) {
            t.store.writer_wait(t.path, w).await?;
            w.put(chunk);
        }
        progress(len);
        current = next?;
        pos = next_pos;
    }
    Ok(FileDigests {
        file: digest_string(&state.file.finalize()),
        ranges: state
            .ranges
            .iter()
            .map(|(_, h)| digest_string(&h.finalize()))
            .collect(),
    })
}
