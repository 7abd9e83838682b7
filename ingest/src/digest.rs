//! One streaming pass over an input file: its BLAKE3 digest, each row group's digest,
//! (in copy mode) a copy into the batch store, and the bytes of each row group for the
//! duplicate record id scan, all from the same chunks.
//!
//! Memory stays bounded (a couple of [`CHUNK_BYTES`] chunks plus the upload's parts in
//! flight and the scan's row groups in flight); the next chunk is fetched while the current
//! one is hashed on a blocking thread.

use std::collections::VecDeque;
use std::ops::Range;

use bytes::{Bytes, BytesMut};

use crate::duplicates::DuplicateScan;
use crate::error::IngestError;
use crate::store::{ObjectWriter, Store};

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

/// Cuts streamed chunks into the bytes of given ranges (the row groups), each as soon as
/// its last byte has arrived, keeping only the chunks a range still needs.
struct Cutter {
    /// Ranges not cut yet (indices), by start.
    pending: Vec<usize>,
    /// Retained chunks: (position in the file, bytes).
    chunks: VecDeque<(u64, Bytes)>,
}

impl Cutter {
    fn new(ranges: &[Range<u64>]) -> Self {
        let mut pending: Vec<usize> = (0..ranges.len()).collect();
        pending.sort_by_key(|&i| (ranges[i].start, i));
        Cutter {
            pending,
            chunks: VecDeque::new(),
        }
    }

    /// Adds the chunk at `pos`; returns (index, start, bytes) of every range now complete.
    fn push(&mut self, pos: u64, chunk: Bytes, ranges: &[Range<u64>]) -> Vec<(usize, u64, Bytes)> {
        let end = pos + chunk.len() as u64;
        self.chunks.push_back((pos, chunk));
        let mut done = Vec::new();
        self.pending.retain(|&i| {
            let r = &ranges[i];
            if r.end > end {
                return true;
            }
            done.push((i, r.start, cut(&self.chunks, r)));
            false
        });
        let keep_from = self.pending.first().map_or(u64::MAX, |&i| ranges[i].start);
        while self
            .chunks
            .front()
            .is_some_and(|(p, c)| p + c.len() as u64 <= keep_from)
        {
            self.chunks.pop_front();
        }
        done
    }
}

/// The bytes of `range` from the retained `chunks` (which cover it): a slice of one chunk,
/// or a copy across chunks.
fn cut(chunks: &VecDeque<(u64, Bytes)>, range: &Range<u64>) -> Bytes {
    let overlapping = chunks
        .iter()
        .filter(|(p, c)| *p < range.end && p + c.len() as u64 > range.start);
    let mut parts = overlapping.clone();
    if let (Some((p, c)), None) = (parts.next(), parts.next())
        && *p <= range.start
        && p + c.len() as u64 >= range.end
    {
        return c.slice((range.start - p) as usize..(range.end - p) as usize);
    }
    let mut out = BytesMut::with_capacity((range.end - range.start) as usize);
    for (p, c) in overlapping {
        let s = range.start.max(*p) - p;
        let e = range.end.min(p + c.len() as u64) - p;
        out.extend_from_slice(&c[s as usize..e as usize]);
    }
    out.freeze()
}

/// Streams the file at `path` in `store` (`size` bytes, `url` for errors) once, computing
/// its digest and the digest of each range in `ranges`, copying it to `copy` if given, and
/// handing each range's bytes (range `i` is row group `i`) to `scan` if given.
/// `progress` is called with the bytes of each chunk digested.
#[allow(clippy::too_many_arguments)]
pub async fn digest_file(
    store: &Store,
    path: &str,
    url: &str,
    size: u64,
    ranges: &[Range<u64>],
    copy: Option<CopyTarget<'_>>,
    scan: Option<&DuplicateScan>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<FileDigests, IngestError> {
    let mut writer = match &copy {
        Some(t) => Some(t.store.writer(t.path).await?),
        None => None,
    };
    let result = stream(store, path, url, size, ranges, &mut writer, scan, progress).await;
    match (result, writer) {
        (Ok(d), Some(w)) => {
            w.finish().await?;
            Ok(d)
        }
        (Ok(d), None) => Ok(d),
        (Err(e), Some(w)) => {
            w.abort().await;
            Err(e)
        }
        (Err(e), None) => Err(e),
    }
}

#[allow(clippy::too_many_arguments)]
async fn stream(
    store: &Store,
    path: &str,
    url: &str,
    size: u64,
    ranges: &[Range<u64>],
    writer: &mut Option<ObjectWriter>,
    scan: Option<&DuplicateScan>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<FileDigests, IngestError> {
    let mut cutter = Cutter::new(ranges);
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
        if let Some(scan) = scan {
            for (row_group, offset, bytes) in cutter.push(pos, chunk.clone(), ranges) {
                scan.row_group(row_group, offset, bytes).await;
            }
        }
        if let Some(w) = writer.as_mut() {
            w.put(chunk).await?;
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
