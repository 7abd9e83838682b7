//! Record files: each published leaf's canonical bytes (SPEC.md 3), so a
//! lookup reads a record from the mapped file (its offsets, then its
//! bytes) instead of decoding Parquet (`docs/decisions/0009-record-store.md`).
//!
//! `records/<ordinal>.bin` holds batch `<ordinal>`'s records: a 16-byte
//! header (`PMRECS01`, then the leaf count, `u64` little-endian), then
//! `leaf_count + 1` offsets (`u64` little-endian, relative to the data),
//! then the canonical encodings of leaves `0, 1, ...` concatenated: leaf
//! `i`'s bytes are `data[offsets[i]..offsets[i + 1]]`. The file is written
//! under a temporary name, past the page cache where the file system allows
//! (`proofmark_ingest::direct_file`: on the reference VM buffered writes of a
//! 690 MB record file and their fsync took 5.9 s, direct ones 0.55 s),
//! fsynced and renamed before the catalog names it.
//! A record file is not trusted: every read is decoded strictly and its leaf
//! hash compared with the stored leaf.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use proofmark_ingest::direct_file::DirectWriter;

use crate::error::VerifierError;

/// The folder of record files in the index folder.
pub const RECORDS_DIR: &str = "records";
const MAGIC: &[u8; 8] = b"PMRECS01";
const HEADER_LEN: u64 = 16;
/// Longest canonical record a record file may hold.
pub(crate) const MAX_RECORD_LEN: u64 = 16 << 20;

/// The record file name (relative to the index folder) of batch `ordinal`.
pub(crate) fn record_file_name(ordinal: u32) -> String {
    format!("{RECORDS_DIR}/{ordinal:08}.bin")
}

/// Byte offset of leaf `leaf`'s offset pair in a record file.
pub(crate) fn offset_position(leaf: u64) -> u64 {
    HEADER_LEN + leaf * 8
}

/// Byte offset of the data in a record file of `leaf_count` leaves.
pub(crate) fn data_start(leaf_count: u64) -> u64 {
    HEADER_LEN + (leaf_count + 1) * 8
}

/// Writes a record file: offsets and data as two sequential streams into
/// one temporary file (each past the page cache where it can), then fsync and
/// rename.
pub(crate) struct RecordFileWriter {
    tmp: PathBuf,
    path: PathBuf,
    offsets: DirectWriter,
    data: DirectWriter,
    leaf_count: u64,
    written: u64,
    data_len: u64,
}

impl RecordFileWriter {
    /// Starts the record file `name` (relative to `dir`) of `leaf_count` leaves.
    pub(crate) fn create(dir: &Path, name: &str, leaf_count: u64) -> Result<Self, VerifierError> {
        let path = dir.join(name);
        let parent = path.parent().unwrap_or(dir).to_owned();
        std::fs::create_dir_all(&parent).map_err(|e| VerifierError::index_io(&parent, e))?;
        let tmp = path.with_extension("bin.tmp");
        let io = |e| VerifierError::index_io(&tmp, e);
        let mut offsets = DirectWriter::new(File::create(&tmp).map_err(io)?, &tmp);
        let mut header = [0u8; HEADER_LEN as usize];
        header[..8].copy_from_slice(MAGIC);
        header[8..].copy_from_slice(&leaf_count.to_le_bytes());
        offsets.write_all(&header).map_err(io)?;
        let data = std::fs::OpenOptions::new()
            .write(true)
            .open(&tmp)
            .map_err(io)?;
        let data = DirectWriter::at(data, &tmp, data_start(leaf_count));
        Ok(RecordFileWriter {
            offsets,
            data,
            tmp,
            path,
            leaf_count,
            written: 0,
            data_len: 0,
        })
    }

    /// Appends the canonical bytes of the next leaf.
    pub(crate) fn push(&mut self, canonical: &[u8]) -> Result<(), VerifierError> {
        if self.written == self.leaf_count {
            return Err(VerifierError::index_corrupt(
                &self.tmp,
                format!("more than {} records", self.leaf_count),
            ));
        }
        let io = |e| VerifierError::index_io(&self.tmp, e);
        self.offsets
            .write_all(&self.data_len.to_le_bytes())
            .map_err(io)?;
        self.data.write_all(canonical).map_err(io)?;
        self.data_len += canonical.len() as u64;
        self.written += 1;
        Ok(())
    }

    /// Writes the last offset, fsyncs, renames the file into place and
    /// fsyncs the folder.
    pub(crate) fn finish(mut self) -> Result<(), VerifierError> {
        if self.written != self.leaf_count {
            return Err(VerifierError::index_corrupt(
                &self.tmp,
                format!(
                    "{} records written, {} expected",
                    self.written, self.leaf_count
                ),
            ));
        }
        let io = |e| VerifierError::index_io(&self.tmp, e);
        self.offsets
            .write_all(&self.data_len.to_le_bytes())
            .map_err(io)?;
        let offsets = self.offsets.finish(false).map_err(io)?;
        let data = self.data.finish(false).map_err(io)?;
        // One fsync covers the file, whichever handle wrote what.
        data.sync_all().map_err(io)?;
        drop((offsets, data));
        std::fs::rename(&self.tmp, &self.path)
            .map_err(|e| VerifierError::index_io(&self.path, e))?;
        let parent = self.path.parent().map(Path::to_owned).unwrap_or_default();
        File::open(&parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| VerifierError::index_io(&parent, e))
    }
}

/// Deletes temporary record files a crashed publish left (best effort).
pub(crate) fn remove_temporary(dir: &Path) {
    let Ok(listing) = std::fs::read_dir(dir.join(RECORDS_DIR)) else {
        return;
    };
    for entry in listing.flatten() {
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.ends_with(".tmp"))
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Why a record could not be read from a record file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordReadError {
    /// The file is shorter than its offsets say.
    #[error("the file ends before byte {0}")]
    Short(u64),
    /// The offsets are not a valid range.
    #[error("its offsets {0}..{1} are not a record")]
    BadOffsets(u64, u64),
}

/// The canonical bytes of leaf `leaf` of a record file of `leaf_count`
/// leaves, whose bytes are `file` (mapped): its two offsets, then the bytes
/// between them.
pub(crate) fn read_record(
    file: &[u8],
    leaf_count: u64,
    leaf: u64,
) -> Result<&[u8], RecordReadError> {
    if leaf >= leaf_count {
        return Err(RecordReadError::BadOffsets(leaf, leaf_count));
    }
    let at = offset_position(leaf);
    let pair = usize::try_from(at)
        .ok()
        .and_then(|at| file.get(at..at.checked_add(16)?))
        .ok_or(RecordReadError::Short(at.saturating_add(16)))?;
    let (a, b) = pair.split_at(8);
    let start = u64::from_le_bytes(a.try_into().unwrap_or_default());
    let end = u64::from_le_bytes(b.try_into().unwrap_or_default());
    if end < start || end - start > MAX_RECORD_LEN {
        return Err(RecordReadError::BadOffsets(start, end));
    }
    let from = data_start(leaf_count)
        .checked_add(start)
        .ok_or(RecordReadError::BadOffsets(start, end))?;
    let to = from
        .checked_add(end - start)
        .ok_or(RecordReadError::BadOffsets(start, end))?;
    usize::try_from(from)
        .ok()
        .zip(usize::try_from(to).ok())
        .and_then(|(from, to)| file.get(from..to))
        .ok_or(RecordReadError::Short(to))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn records_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let name = record_file_name(3);
        let records: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 64 * (1 + i as usize)]).collect();
        let mut w = RecordFileWriter::create(dir.path(), &name, 5).unwrap();
        for r in &records {
            w.push(r).unwrap();
        }
        w.finish().unwrap();
        let f = std::fs::read(dir.path().join(&name)).unwrap();
        for (i, r) in records.iter().enumerate() {
            assert_eq!(read_record(&f, 5, i as u64).unwrap(), &r[..]);
        }
        assert!(read_record(&f, 5, 5).is_err());
        // A file cut short: the last record's bytes are missing, not read past the end.
        assert!(matches!(
            read_record(&f[..f.len() - 1], 5, 4),
            Err(RecordReadError::Short(_))
        ));
        assert!(matches!(
            read_record(&f[..40], 5, 4),
            Err(RecordReadError::Short(_))
        ));
        assert!(!dir.path().join(format!("{name}.tmp")).exists());
    }

    #[test]
    fn a_short_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let w = RecordFileWriter::create(dir.path(), "records/x.bin", 2).unwrap();
        assert!(w.finish().is_err());
    }
}
