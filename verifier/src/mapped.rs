//! Read-only memory maps of the service's immutable local files: the code
//! index's runs, the record files and the stored leaf hashes of a local
//! store. A lookup reads a few hundred bytes from each of some twenty places;
//! as positioned reads those were a system call, a page-cache search and a
//! copy each (a fifth of the proof API's profile). Mapped, a warm read is a
//! slice (decision 0014).
//!
//! These files are written once, to a temporary name, synced and renamed into
//! place; nothing proofmark does ever changes or truncates them afterwards (a
//! new publish writes new files and a new catalog). A map keeps the file it
//! was made from even when a later rename replaces the name. Truncating a
//! mapped file by hand would make a read of the lost pages fault (SIGBUS);
//! changing bytes in place is seen by the next read, and every read is
//! checked (digests, leaf hashes, the proof to the batch root) as before.

use std::fs::File;
use std::path::Path;

/// A whole file mapped read-only (or nothing, for an empty file).
#[derive(Debug)]
pub(crate) struct Mapped {
    map: Option<memmap2::Mmap>,
}

impl Mapped {
    /// Maps `path`.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        Self::of_file(&File::open(path)?)
    }

    /// Maps `file` (its length now).
    pub fn of_file(file: &File) -> std::io::Result<Self> {
        if file.metadata()?.len() == 0 {
            return Ok(Mapped { map: None });
        }
        // SAFETY: the map is read-only and the files mapped here are never
        // written or truncated after they are renamed into place (module
        // docs); a byte changed in place by someone else is only a different
        // byte, which the lookups' checks catch.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::MmapOptions::new().map(file)? };
        // Lookups jump around the file: no read-ahead around each fault.
        let _ = map.advise(memmap2::Advice::Random);
        Ok(Mapped { map: Some(map) })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or_default()
    }

    /// Bytes `start..start + len`, or `None` when the file is shorter.
    pub fn range(&self, start: u64, len: u64) -> Option<&[u8]> {
        let start = usize::try_from(start).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        self.bytes().get(start..end)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ranges_are_the_file_s_bytes_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let m = Mapped::open(&path).unwrap();
        assert_eq!(m.bytes(), &data[..]);
        assert_eq!(m.range(4090, 20).unwrap(), &data[4090..4110]);
        assert_eq!(m.range(9_990, 10).unwrap(), &data[9_990..]);
        assert!(m.range(9_991, 10).is_none());
        assert!(m.range(u64::MAX, 2).is_none());
        std::fs::write(&path, b"").unwrap();
        let empty = Mapped::open(&path).unwrap();
        assert_eq!(empty.bytes(), b"");
        assert_eq!(empty.range(0, 0).unwrap(), b"");
        assert!(empty.range(0, 1).is_none());
    }

    #[test]
    fn a_map_keeps_its_file_when_the_name_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"first").unwrap();
        let m = Mapped::open(&path).unwrap();
        let tmp = dir.path().join("f.tmp");
        std::fs::write(&tmp, b"second").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert_eq!(m.bytes(), b"first");
        assert_eq!(Mapped::open(&path).unwrap().bytes(), b"second");
    }
}
