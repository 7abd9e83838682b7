//! Large write-once files past the page cache.
//!
//! A batch writes about 120 bytes a record (segment leaves and index runs, the batch index)
//! and reads most of it back once, soon after. Through the page cache every byte is first
//! copied into freshly allocated cache pages, and on a virtual machine whose host reclaims
//! guest memory a first-touched page costs microseconds: that copy was 44% of the commit's
//! CPU samples and up to a third of the build's at 10 M records (decision 0016).
//! [`DirectWriter`] gathers the bytes in an aligned buffer, reused from a small pool, and
//! writes it with `O_DIRECT` (Linux), so the device reads straight from that buffer; the
//! unaligned tail goes through the page cache. [`read_direct`] reads a whole file the same
//! way into a pooled buffer. Where the file system refuses `O_DIRECT` (tmpfs, some network
//! file systems), and on other systems, both fall back to ordinary reads and writes.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;

/// Alignment of buffers, of direct transfer lengths and of their file offsets: the largest
/// logical block size of common devices.
pub const ALIGN: usize = 4096;

/// Bytes a [`DirectWriter`] gathers before each direct write.
const CHUNK: usize = 4 << 20;

/// Buffers kept for reuse (reusing them is the point: fresh memory costs first touches).
const POOL_KEEP: usize = 8;

static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A pooled buffer with at least `len` usable bytes after its aligned start.
struct Aligned {
    buf: Vec<u8>,
    start: usize,
}

impl Aligned {
    fn take(len: usize) -> Self {
        let need = len + ALIGN;
        let pooled = POOL.lock().ok().and_then(|mut pool| {
            let i = pool.iter().position(|b| b.len() >= need)?;
            Some(pool.swap_remove(i))
        });
        let buf = pooled.unwrap_or_else(|| vec![0u8; need.next_multiple_of(CHUNK)]);
        // The first aligned byte of the allocation (an address computation only).
        let misalign = buf.as_ptr() as usize % ALIGN;
        let start = if misalign == 0 { 0 } else { ALIGN - misalign };
        Self { buf, start }
    }

    fn bytes(&self, len: usize) -> &[u8] {
        &self.buf[self.start..self.start + len]
    }

    fn bytes_mut(&mut self, len: usize) -> &mut [u8] {
        &mut self.buf[self.start..self.start + len]
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        if let Ok(mut pool) = POOL.lock() {
            if pool.len() < POOL_KEEP {
                pool.push(buf);
            } else if let Some(smallest) = pool.iter_mut().min_by_key(|b| b.len())
                && smallest.len() < buf.len()
            {
                *smallest = buf;
            }
        }
    }
}

/// A [`Write`] into a new, empty file that bypasses the page cache where it can. Call
/// [`DirectWriter::finish`]: dropping it unfinished loses the gathered bytes.
pub struct DirectWriter {
    /// The file opened normally: the tail, the fallback and the final sync.
    file: File,
    /// The same file opened with `O_DIRECT`, while the file system accepts it.
    direct: Option<File>,
    buf: Aligned,
    /// Bytes gathered in the buffer.
    len: usize,
    /// File offset of the buffer's first byte.
    pos: u64,
    /// Leading bytes of the buffer that are not this writer's (a writer started at an
    /// unaligned offset, [`DirectWriter::at`]): never written.
    skip: usize,
}

impl DirectWriter {
    /// Writes to `file`, which must be empty and open for writing; `path` is its path,
    /// opened a second time with `O_DIRECT` where supported.
    pub fn new(file: File, path: &Path) -> Self {
        Self::at(file, path, 0)
    }

    /// Writes to `file` from byte `start` on (any offset; what lies before it is another
    /// writer's, and never touched). The bytes up to the next 4 KiB boundary go through the
    /// page cache, the rest directly where the file system allows.
    pub fn at(file: File, path: &Path, start: u64) -> Self {
        let pos = start / ALIGN as u64 * ALIGN as u64;
        let skip = (start - pos) as usize;
        Self {
            file,
            direct: open_direct(path, false),
            buf: Aligned::take(CHUNK),
            len: skip,
            pos,
            skip,
        }
    }

    /// Writes the gathered bytes; with `sync`, then syncs the file's data and size to the
    /// device. Returns the file.
    pub fn finish(mut self, sync: bool) -> io::Result<File> {
        let aligned = self.len / ALIGN * ALIGN;
        if aligned > self.skip {
            self.write_out(aligned)?;
        }
        let from = aligned.max(self.skip);
        let tail = &self.buf.bytes(self.len)[from..];
        self.file.write_all_at(tail, self.pos + from as u64)?;
        if sync {
            self.file.sync_all()?;
        }
        Ok(self.file)
    }

    /// Writes the gathered bytes `skip..len` (`len` aligned) at `pos + skip`: those before
    /// the first 4 KiB boundary through the page cache, the rest directly while that works.
    fn write_out(&mut self, len: usize) -> io::Result<()> {
        let start = std::mem::take(&mut self.skip);
        if len <= start {
            return Ok(());
        }
        let first_aligned = start.next_multiple_of(ALIGN).min(len);
        if first_aligned > start {
            let head = &self.buf.bytes(len)[start..first_aligned];
            self.file.write_all_at(head, self.pos + start as u64)?;
        }
        if first_aligned == len {
            return Ok(());
        }
        let bytes = &self.buf.bytes(len)[first_aligned..];
        let at = self.pos + first_aligned as u64;
        if let Some(direct) = &self.direct {
            match direct.write_all_at(bytes, at) {
                Ok(()) => return Ok(()),
                // Refused (alignment or file system): the page cache from here on.
                Err(e) if e.raw_os_error() == Some(EINVAL) => self.direct = None,
                Err(e) => return Err(e),
            }
        }
        self.file.write_all_at(bytes, at)
    }
}

impl Write for DirectWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.len);
        let at = self.len;
        self.buf.bytes_mut(at + n)[at..].copy_from_slice(&data[..n]);
        self.len += n;
        if self.len == CHUNK {
            self.write_out(CHUNK)?;
            self.pos += CHUNK as u64;
            self.len = 0;
        }
        Ok(n)
    }

    /// Nothing: a partial chunk cannot be written directly; [`DirectWriter::finish`]
    /// writes it.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes `data` as the whole new file `path` (which must not exist), past the page cache
/// where the file system allows, without syncing.
///
/// The file is locked (an exclusive `flock`) from its creation, and returned open and still
/// locked: a caller that renames it before dropping the handle keeps it locked for as long as
/// it exists under its temporary name, which tells a live write from one a killed process
/// left (`Store::remove_abandoned_writes`). A file system without locks leaves it unlocked.
pub fn write_new_file(path: &Path, data: &[u8]) -> io::Result<File> {
    let file = create_locked(path)?;
    let mut w = DirectWriter::new(file, path);
    w.write_all(data)?;
    w.finish(false)
}

/// Creates the new file `path` (which must not exist) for writing and locks it (an exclusive
/// `flock`, released when the last handle closes), and makes sure the locked file is the
/// one at `path`. A file system that refuses locks leaves the file unlocked.
///
/// Between the file's creation and its lock, a remover of abandoned writes in another
/// process (`Store::remove_abandoned_writes`, started after the file was made) can find it
/// unlocked, lock it itself and remove it: the writer would then lock and fill a file that
/// no longer has a name, and its rename fail. So once locked, the file at `path` is
/// compared with the one open; when it is gone the file is made again (the name is free).
/// A locked file is never removed, so one check suffices.
pub fn create_locked(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::MetadataExt as _;
    const ATTEMPTS: usize = 8;
    for _ in 0..ATTEMPTS {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        // Only a remover holding the lock for an instant can make this wait.
        if file.lock().is_err() {
            return Ok(file);
        }
        let ours = file.metadata()?;
        match std::fs::metadata(path) {
            Ok(at_path) if at_path.dev() == ours.dev() && at_path.ino() == ours.ino() => {
                return Ok(file);
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "another file took the name of a new temporary file",
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "a new temporary file was removed before it could be locked, {ATTEMPTS} times"
    )))
}

/// Reads the whole file at `path`, past the page cache where the file system allows, and
/// hands its bytes to `f` (from a pooled buffer, so nothing is allocated per file).
pub fn read_direct<R>(path: &Path, f: impl FnOnce(&[u8]) -> R) -> io::Result<R> {
    let file = File::open(path)?;
    let size = usize::try_from(file.metadata()?.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file too large"))?;
    let padded = size.next_multiple_of(ALIGN);
    let mut buf = Aligned::take(padded);
    let read = match open_direct(path, true) {
        Some(direct) => read_all(&direct, 0, buf.bytes_mut(padded)),
        None => Err(io::Error::from_raw_os_error(EINVAL)),
    };
    let n = match read {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(EINVAL) => read_all(&file, 0, buf.bytes_mut(size))?,
        Err(e) => return Err(e),
    };
    if n != size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "{} changed size while read ({size} bytes listed, {n} read)",
                path.display()
            ),
        ));
    }
    Ok(f(buf.bytes(size)))
}

/// Reads from `offset` of `file` until `buf` is full or the file ends (retrying
/// interrupted reads); the bytes read.
pub fn read_all(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let want = buf.len() - done;
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(n) => {
                done += n;
                // A short read of a regular file is its end (and a direct read's next
                // offset would no longer be aligned).
                if n < want {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(target_os = "linux")]
const EINVAL: i32 = libc::EINVAL;
#[cfg(not(target_os = "linux"))]
const EINVAL: i32 = 22;

#[cfg(target_os = "linux")]
fn open_direct(path: &Path, read: bool) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(read)
        .write(!read)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path, _read: bool) -> Option<File> {
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const LENGTHS: [usize; 9] = [
        0,
        1,
        ALIGN - 1,
        ALIGN,
        ALIGN + 1,
        CHUNK - 1,
        CHUNK,
        CHUNK + 24,
        2 * CHUNK + ALIGN + 4,
    ];

    fn data(total: usize) -> Vec<u8> {
        (0..total).map(|j| (j * 31 + j / 7) as u8).collect()
    }

    /// Every length around the alignment and chunk boundaries, written in pieces of odd
    /// sizes, reads back exactly, with `std::fs::read` and with `read_direct`.
    #[test]
    fn writes_read_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        for (i, total) in LENGTHS.into_iter().enumerate() {
            let data = data(total);
            let path = dir.path().join(format!("out{i}"));
            let file = File::create(&path).unwrap();
            let mut w = DirectWriter::new(file, &path);
            for piece in data.chunks(24 * 1000 + 7) {
                w.write_all(piece).unwrap();
            }
            w.finish(i % 2 == 0).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), data, "length {total}");
            let back = read_direct(&path, <[u8]>::to_vec).unwrap();
            assert_eq!(back, data, "length {total}, read_direct");
        }
    }

    /// Two writers sharing a file, the second from an unaligned offset, leave each other's
    /// bytes alone: the file is exactly both streams.
    #[test]
    fn writers_at_unaligned_offsets_share_a_file() {
        let dir = tempfile::tempdir().unwrap();
        for (i, (head, body)) in [
            (16usize, CHUNK + 3 * ALIGN + 5),
            (ALIGN, 10),
            (5000, CHUNK),
            (3, 2),
            (ALIGN - 1, 2 * CHUNK + 1),
        ]
        .into_iter()
        .enumerate()
        {
            let path = dir.path().join(format!("shared{i}"));
            let first = File::create(&path).unwrap();
            let second = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            let a: Vec<u8> = (0..head).map(|j| (j % 7) as u8 + 1).collect();
            let b: Vec<u8> = (0..body).map(|j| (j % 13) as u8 + 100).collect();
            let mut wa = DirectWriter::new(first, &path);
            let mut wb = DirectWriter::at(second, &path, head as u64);
            // Interleaved, as the record file's offsets and data streams are.
            let (xs, ys): (Vec<_>, Vec<_>) = (a.chunks(1000).collect(), b.chunks(777).collect());
            for i in 0..xs.len().max(ys.len()) {
                if let Some(y) = ys.get(i) {
                    wb.write_all(y).unwrap();
                }
                if let Some(x) = xs.get(i) {
                    wa.write_all(x).unwrap();
                }
            }
            wb.finish(true).unwrap();
            wa.finish(true).unwrap();
            let mut want = a.clone();
            want.extend_from_slice(&b);
            assert_eq!(std::fs::read(&path).unwrap(), want, "case {i}");
        }
    }

    /// `write_new_file` refuses an existing file and writes a new one whole.
    #[test]
    fn new_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let written = write_new_file(&path, &data(CHUNK + 5)).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data(CHUNK + 5));
        // Locked while the handle lives, unlocked once it is dropped.
        let other = File::open(&path).unwrap();
        assert!(matches!(
            other.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        drop(written);
        other.try_lock().unwrap();
        drop(other);
        let err = write_new_file(&path, b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(read_direct(&dir.path().join("missing"), |_| ()).is_err());
    }

    /// On tmpfs (which may refuse `O_DIRECT`) the same bytes are written and read.
    #[test]
    fn works_on_tmpfs() {
        let Ok(dir) = tempfile::tempdir_in("/dev/shm") else {
            return; // no tmpfs here
        };
        let path = dir.path().join("f");
        write_new_file(&path, &data(CHUNK + ALIGN + 3)).unwrap();
        assert_eq!(
            read_direct(&path, <[u8]>::to_vec).unwrap(),
            data(CHUNK + ALIGN + 3)
        );
    }

    /// Without a direct handle the same bytes arrive through the page cache.
    #[test]
    fn falls_back_to_the_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let file = File::create(&path).unwrap();
        let mut w = DirectWriter::new(file, &path);
        w.direct = None;
        let data = data(CHUNK + 100);
        w.write_all(&data).unwrap();
        assert!(w.direct.is_none());
        w.finish(true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data);
    }
}
