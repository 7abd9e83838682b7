//! Files the commands write for their users (reports, summaries, metrics): whole or not at
//! all, so that a failed or killed run never leaves a cut-short file under the name a reader
//! expects.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::Path;

/// The folder `path` goes into (`.` for a bare file name).
pub fn parent_folder(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Checks, before any work, that the folder the output `path` (given with `flag`) goes into
/// exists: a mistyped folder is told now, naming the path given, not made (where no reader
/// would look) or found missing after the work. The error is unclassified: callers give it
/// their exit class.
pub fn check_output_folder(flag: &str, path: &Path) -> anyhow::Result<()> {
    let dir = parent_folder(path);
    if !dir.is_dir() {
        anyhow::bail!(
            "{flag} {}: the folder {} does not exist",
            path.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Whether `path` names a device or a pipe (under `/dev` or `/proc`, or an existing file
/// that is not a regular one), which [`write_atomically_with`] writes straight into, rather
/// than a file it replaces whole.
pub fn is_stream(path: &Path) -> bool {
    path.starts_with("/dev")
        || path.starts_with("/proc")
        || std::fs::metadata(path).is_ok_and(|m| !m.is_file())
}

/// Writes the file `path` with `write`, through a temporary file in the same folder that is
/// flushed, synced and renamed over `path` only when `write` succeeded (the folder synced
/// after, as far as the file system allows); on any error `path` is left as it was and the
/// temporary file is removed. The file is readable by others, as a plainly written one would
/// be (a metrics collector often runs as another user): the replaced file's mode, else
/// `rw-r--r--`. A symbolic link is followed (the file it names is replaced, the link stays).
/// What cannot be replaced is written in place, appended to: a path that is there and is not
/// a file (a terminal, a pipe), and the process's own streams and descriptors (`/dev/stdout`,
/// `/dev/fd/N`, `/proc/...`), which may be links to a file the caller redirected them to.
pub fn write_atomically_with<T, E>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&mut File>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<std::io::Error>,
{
    use std::os::unix::fs::PermissionsExt as _;
    if is_stream(path) {
        let mut file = std::fs::OpenOptions::new().append(true).open(path)?;
        let mut out = BufWriter::new(&mut file);
        let value = write(&mut out)?;
        out.flush()?;
        return Ok(value);
    }
    let target = link_target(path);
    let path = target.as_deref().unwrap_or(path);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o7777);
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    let value = {
        let mut out = BufWriter::new(tmp.as_file_mut());
        let value = write(&mut out)?;
        out.flush()?;
        value
    };
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The file is in place; a folder that cannot be synced (no read permission, a file
    // system that refuses) does not make the write a failure.
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::warn!(folder = %dir.display(), error = %e, "cannot sync the folder");
    }
    Ok(value)
}

/// The file the symbolic link `path` names (its final target, or, when that does not exist,
/// the path the link holds, taken from the link's folder); `None` when `path` is no link.
fn link_target(path: &Path) -> Option<std::path::PathBuf> {
    if !path.is_symlink() {
        return None;
    }
    if let Ok(target) = std::fs::canonicalize(path) {
        return Some(target);
    }
    let held = std::fs::read_link(path).ok()?;
    Some(match path.parent() {
        Some(dir) if held.is_relative() => dir.join(held),
        _ => held,
    })
}

/// Writes `bytes` to `path` whole or not at all ([`write_atomically_with`]).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_with(path, |out| out.write_all(bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A failed write leaves the file as it was and no temporary file beside it.
    #[test]
    fn a_failed_write_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        write_atomically(&path, b"first\n").unwrap();
        let failed: Result<(), std::io::Error> = write_atomically_with(&path, |out| {
            out.write_all(b"half of the sec")?;
            Err(std::io::Error::other("the disk is full"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"first\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        write_atomically(&path, b"second\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second\n");
    }

    /// A symbolic link is followed and stays a link; a path that is not a file is written
    /// in place.
    #[test]
    fn links_and_devices_are_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.csv");
        std::fs::write(&target, b"old\n").unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomically(&link, b"new\n").unwrap();
        assert!(link.is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"new\n");
        write_atomically(Path::new("/dev/null"), b"gone\n").unwrap();
        assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
        // A link to a file not there yet makes that file, and stays a link.
        let dangling = dir.path().join("dangling.csv");
        std::os::unix::fs::symlink("made.csv", &dangling).unwrap();
        write_atomically(&dangling, b"made\n").unwrap();
        assert!(dangling.is_symlink());
        assert_eq!(
            std::fs::read(dir.path().join("made.csv")).unwrap(),
            b"made\n"
        );
    }

    /// A process stream given as a path (`/dev/stdout` redirected to a file, say) is
    /// appended to, never replaced.
    #[test]
    fn a_process_stream_is_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log.txt");
        std::fs::write(&log, b"before\n").unwrap();
        let file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        use std::os::fd::AsRawFd as _;
        let fd = std::path::PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        write_atomically(&fd, b"report\n").unwrap();
        drop(file);
        assert_eq!(std::fs::read(&log).unwrap(), b"before\nreport\n");
    }
}
