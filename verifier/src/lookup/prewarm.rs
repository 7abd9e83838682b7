//! Reading the files lookups touch into the page cache before lookups need them.
//!
//! A lookup reads a few hundred bytes from each of some twenty places in the
//! published record files and the segments' leaf files. When those pages are
//! not in memory each read waits for the disk, and a server serves a few
//! hundred lookups a second instead of tens of thousands. That is the state
//! right after a nightly `publish`, which writes the record file past the page
//! cache (decision 0016), or after other work evicted the files. Reading the
//! files once, sequentially in 1 MiB reads, fills the cache
//! in seconds; waiting for lookups to fault the pages in one by one takes
//! minutes (`benches/README.md`, "Cold start").
//!
//! The read is bounded by a [`PrewarmBudget`]: by default half of the memory
//! the system reports available, so that warming an index larger than memory
//! does not evict everything else. Leaf files come first (32 bytes a record,
//! read for every record of every lookup), then record files, newest batch
//! first.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proofmark_anchor::layout::{SegmentFile, segment_path};

use crate::error::VerifierError;
use crate::index::CodeIndex;

/// How many bytes [`crate::Lookup::prewarm`] may read into the page cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrewarmBudget {
    /// Nothing is read ahead.
    Off,
    /// Half of the memory the system reports available (`MemAvailable` in
    /// `/proc/meminfo`) when the read starts; nothing where it is not
    /// reported.
    #[default]
    Auto,
    /// At most this many bytes.
    Bytes(u64),
}

impl PrewarmBudget {
    /// The budget from a count of MiB (0 turns prewarming off).
    pub fn mib(mib: u64) -> Self {
        if mib == 0 {
            PrewarmBudget::Off
        } else {
            PrewarmBudget::Bytes(mib.saturating_mul(1 << 20))
        }
    }

    /// The bytes this budget allows now.
    pub fn bytes_now(self) -> u64 {
        match self {
            PrewarmBudget::Off => 0,
            PrewarmBudget::Bytes(n) => n,
            PrewarmBudget::Auto => mem_available().map_or(0, |n| n / 2),
        }
    }
}

/// Bytes read at a time: one disk request each (read-ahead is off, see
/// [`no_read_ahead`]).
const CHUNK: usize = 1 << 20;

/// What one prewarm read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prewarmed {
    /// Files read to their end.
    pub files: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Bytes of the files that the budget left unread.
    pub left_unread: u64,
    /// The budget, in bytes.
    pub budget: u64,
    /// How long the read took.
    pub elapsed: Duration,
}

impl Prewarmed {
    /// Logs what was read (`what`: which files), at info level.
    pub fn log(&self, what: &str) {
        tracing::info!(
            files = self.files,
            bytes = self.bytes,
            left_unread = self.left_unread,
            seconds = self.elapsed.as_secs_f64(),
            "read {what} into the page cache"
        );
    }
}

/// `MemAvailable` of `/proc/meminfo`, in bytes.
fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_available(&text)
}

fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut words = line.split_whitespace().skip(1);
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => n.checked_mul(1024),
        None => Some(n),
        Some(_) => None,
    }
}

/// The files a prewarm of `index` reads, in order, with their lengths: the
/// leaf files of every batch (on a local store rooted at `store_root`), then
/// the record files, newest batch first. Only batches ordinals
/// `from_batch..` are included (a refreshed index warms only what is new).
pub(crate) fn files_to_warm(
    index: &CodeIndex,
    store_root: Option<&Path>,
    from_batch: usize,
) -> Vec<(PathBuf, u64)> {
    let batches = index
        .catalog()
        .batches
        .get(from_batch..)
        .unwrap_or_default();
    let mut files = Vec::new();
    if let Some(root) = store_root {
        for batch in batches.iter().rev() {
            let first = segment_path(&batch.batch_id, 0, SegmentFile::Leaves);
            let Some(dir) = Path::new(&first).parent() else {
                continue;
            };
            let dir = root.join(dir);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let suffix = format!(".{}", SegmentFile::Leaves.suffix());
            let mut leaves: Vec<(PathBuf, u64)> = entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(&suffix))
                .filter_map(|e| Some((e.path(), e.metadata().ok()?.len())))
                .collect();
            leaves.sort();
            files.extend(leaves);
        }
    }
    for (ordinal, batch) in index.catalog().batches.iter().enumerate().rev() {
        if ordinal < from_batch {
            break;
        }
        if let Some(name) = &batch.records {
            let path = index.dir().join(name);
            if let Ok(m) = std::fs::metadata(&path) {
                files.push((path, m.len()));
            }
        }
    }
    files
}

/// Reads `files` from start to end, in order, until `budget` bytes are read.
///
/// # Errors
///
/// [`VerifierError::IndexIo`] when a file cannot be opened or read.
pub(crate) fn read_files(
    files: &[(PathBuf, u64)],
    budget: u64,
) -> Result<Prewarmed, VerifierError> {
    let started = Instant::now();
    let _idle = IdleIo::enter();
    let mut done = Prewarmed {
        budget,
        ..Prewarmed::default()
    };
    let mut buf = vec![0u8; CHUNK];
    for (path, len) in files {
        let left = budget.saturating_sub(done.bytes);
        if left == 0 {
            done.left_unread += len;
            continue;
        }
        let mut file = match File::open(path) {
            Ok(file) => file,
            // Gone since it was listed (a batch's files replaced): nothing to warm.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                done.left_unread += len;
                continue;
            }
            Err(e) => return Err(VerifierError::index_io(path, e)),
        };
        no_read_ahead(&file);
        let mut read = 0u64;
        while read < left {
            let want = usize::try_from((left - read).min(buf.len() as u64)).unwrap_or(buf.len());
            let n = file
                .read(&mut buf[..want])
                .map_err(|e| VerifierError::index_io(path, e))?;
            if n == 0 {
                break;
            }
            read += n as u64;
        }
        done.bytes += read;
        if read >= *len {
            done.files += 1;
        } else {
            done.left_unread += len - read;
        }
    }
    done.elapsed = started.elapsed();
    Ok(done)
}

/// Turns the kernel's read-ahead off for `file`: each read then asks the
/// disk for exactly the chunk it reads, so at most one chunk of this
/// thread's is queued ahead of a lookup's read, instead of read-ahead
/// windows of megabytes each.
fn no_read_ahead(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd as _;
        // SAFETY: posix_fadvise takes the descriptor of an open file and
        // integers, and touches no memory of ours.
        #[allow(unsafe_code)]
        let _ = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_RANDOM) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

/// Keeps the calling thread's reads in the idle I/O class while it lives,
/// so that the block layer serves the lookups' reads (best effort, the
/// default) first: without it the first lookups of a cold server queue
/// behind this thread's large sequential reads. Dropping it restores the
/// thread's class (it may be a pool thread that serves other work later).
/// Best effort: where the class cannot be set, the reads keep theirs.
struct IdleIo {
    #[cfg(target_os = "linux")]
    before: Option<libc::c_long>,
}

#[cfg(target_os = "linux")]
mod ioprio {
    pub const WHO_PROCESS: libc::c_int = 1;
    pub const CLASS_IDLE: libc::c_long = 3;
    pub const CLASS_SHIFT: libc::c_long = 13;

    /// `ioprio_get` of the calling thread.
    pub fn get() -> libc::c_long {
        // SAFETY: ioprio_get takes two integers and touches no memory of
        // ours; `who` 0 is the calling thread.
        #[allow(unsafe_code)]
        unsafe {
            libc::syscall(libc::SYS_ioprio_get, WHO_PROCESS, 0)
        }
    }

    /// `ioprio_set` of the calling thread.
    pub fn set(value: libc::c_long) -> bool {
        // SAFETY: as `get`.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, WHO_PROCESS, 0, value) };
        rc == 0
    }
}

impl IdleIo {
    fn enter() -> Self {
        #[cfg(target_os = "linux")]
        {
            let before = ioprio::get();
            if before < 0 {
                return IdleIo { before: None };
            }
            if !ioprio::set(ioprio::CLASS_IDLE << ioprio::CLASS_SHIFT) {
                tracing::debug!(
                    error = %std::io::Error::last_os_error(),
                    "cannot lower the read-ahead's I/O priority"
                );
                return IdleIo { before: None };
            }
            IdleIo {
                before: Some(before),
            }
        }
        #[cfg(not(target_os = "linux"))]
        IdleIo {}
    }
}

impl Drop for IdleIo {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(before) = self.before {
            let _ = ioprio::set(before);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn mem_available_is_parsed_in_bytes() {
        let text = "MemTotal:       24576000 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(parse_mem_available(text), Some(20_000_000 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 5 kB\n"), None);
        assert_eq!(parse_mem_available("MemAvailable: x kB\n"), None);
        assert_eq!(PrewarmBudget::mib(0), PrewarmBudget::Off);
        assert_eq!(PrewarmBudget::mib(3).bytes_now(), 3 << 20);
        assert_eq!(PrewarmBudget::Off.bytes_now(), 0);
    }

    #[test]
    fn reads_in_order_until_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for (name, len) in [("a", 3_000_000u64), ("b", 10), ("c", 2_000_000)] {
            let path = dir.path().join(name);
            std::fs::write(&path, vec![7u8; len as usize]).unwrap();
            files.push((path, len));
        }
        let all = read_files(&files, u64::MAX).unwrap();
        assert_eq!((all.files, all.bytes, all.left_unread), (3, 5_000_010, 0));
        let some = read_files(&files, 3_000_005).unwrap();
        assert_eq!(
            (some.files, some.bytes, some.left_unread),
            (1, 3_000_005, 5 + 2_000_000)
        );
        let none = read_files(&files, 0).unwrap();
        assert_eq!(
            (none.files, none.bytes, none.left_unread),
            (0, 0, 5_000_010)
        );
        std::fs::remove_file(&files[1].0).unwrap();
        let gone = read_files(&files, u64::MAX).unwrap();
        assert_eq!(
            (gone.files, gone.bytes, gone.left_unread),
            (2, 5_000_000, 10)
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_thread_s_io_class_is_restored() {
        let before = ioprio::get();
        {
            let idle = IdleIo::enter();
            if idle.before.is_some() {
                assert_eq!(ioprio::get() >> ioprio::CLASS_SHIFT, ioprio::CLASS_IDLE);
            }
        }
        assert_eq!(ioprio::get(), before);
    }
}
