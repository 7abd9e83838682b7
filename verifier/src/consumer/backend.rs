//! The consumer state's file, as redb's storage backend: redb's own file
//! backend behind a switch that can make every write fail, so that tests
//! can fill the disk on demand (a tiny file system is not available to
//! tests) and watch the store recover.
//!
//! The switch costs one atomic load per write; a store opened without one
//! ([`super::ConsumerStore::open`]) never trips it.

use std::fs::OpenOptions;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

/// A switch that makes the consumer state's writes fail as on a full disk
/// (`ENOSPC`), for tests of the recovery path. Cheap to clone; clones share
/// the switch.
#[derive(Debug, Clone, Default)]
pub struct WriteFaults(Arc<AtomicBool>);

impl WriteFaults {
    /// A switch, off.
    pub fn new() -> WriteFaults {
        WriteFaults::default()
    }

    /// Makes every later write, resize and sync of the file fail (`true`),
    /// or work again (`false`).
    pub fn fail_writes(&self, fail: bool) {
        self.0.store(fail, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), std::io::Error> {
        if self.0.load(Ordering::SeqCst) {
            Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device (injected)",
            ))
        } else {
            Ok(())
        }
    }
}

/// redb's file backend with [`WriteFaults`].
#[derive(Debug)]
pub(crate) struct StateFile {
    file: FileBackend,
    faults: WriteFaults,
}

impl StateFile {
    /// Opens (or creates) the database file.
    pub(crate) fn open(path: &Path, faults: WriteFaults) -> Result<StateFile, redb::Error> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(redb::Error::Io)?;
        Ok(StateFile {
            file: FileBackend::new(file)?,
            faults,
        })
    }
}

impl StorageBackend for StateFile {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.file.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.file.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.faults.check()?;
        self.file.set_len(len)
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.faults.check()?;
        self.file.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.faults.check()?;
        self.file.write(offset, data)
    }

    fn close(&self) -> Result<(), std::io::Error> {
        self.file.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.file.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.query_lock_range(start, end)
    }
}
