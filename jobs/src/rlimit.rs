//! The process's limit of open files, which bounds how many connections
//! `proofmark serve` can hold (`--max-connections`).

/// Raises the soft limit of open files (`RLIMIT_NOFILE`) to `wanted`, or to
/// the hard limit if that is lower, when it is below; the soft limit then in
/// force. `None` where the limit cannot be read (or on other systems).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn raise_open_files(wanted: u64) -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes the limit into the struct it is given, which lives
    // for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "cannot read the open files limit");
        return None;
    }
    if limit.rlim_cur == libc::RLIM_INFINITY || limit.rlim_cur >= wanted {
        return Some(limit.rlim_cur);
    }
    let raised = libc::rlimit {
        rlim_cur: if limit.rlim_max == libc::RLIM_INFINITY {
            wanted
        } else {
            wanted.min(limit.rlim_max)
        },
        rlim_max: limit.rlim_max,
    };
    if raised.rlim_cur <= limit.rlim_cur {
        return Some(limit.rlim_cur);
    }
    // SAFETY: `setrlimit` reads the struct it is given, which lives for the call; a soft
    // limit at most the hard one is an allowed change for any process.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "cannot raise the open files limit");
        return Some(limit.rlim_cur);
    }
    tracing::debug!(
        from = limit.rlim_cur,
        to = raised.rlim_cur,
        "raised the open files limit"
    );
    Some(raised.rlim_cur)
}

/// Raises the soft limit of open files (not done on this system): `None`.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn raise_open_files(_wanted: u64) -> Option<u64> {
    None
}
