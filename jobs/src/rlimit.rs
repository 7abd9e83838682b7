//! The process's limit of open files, which bounds how many connections
//! `proofmark serve` can hold (`--max-connections`).

/// Raises the soft limit of open files (`RLIMIT_NOFILE`) to `wanted`, or to
/// the hard limit if that is lower, when it is below; the soft limit then in
/// force (`u64::MAX` for no limit). `None` where the limit cannot be read (or
/// on systems other than Unix).
#[cfg(unix)]
#[allow(unsafe_code)]
pub fn raise_open_files(wanted: u64) -> Option<u64> {
    // `rlim_t` is 32 bits wide on some systems: a wider wish is the widest limit.
    let wanted = libc::rlim_t::try_from(wanted).unwrap_or(libc::rlim_t::MAX);
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
        return Some(as_u64(limit.rlim_cur));
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
        return Some(as_u64(limit.rlim_cur));
    }
    // SAFETY: `setrlimit` reads the struct it is given, which lives for the call; a soft
    // limit at most the hard one is an allowed change for any process.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "cannot raise the open files limit");
        return Some(as_u64(limit.rlim_cur));
    }
    tracing::debug!(
        from = as_u64(limit.rlim_cur),
        to = as_u64(raised.rlim_cur),
        "raised the open files limit"
    );
    Some(as_u64(raised.rlim_cur))
}

/// A limit as a `u64`, `u64::MAX` for [`libc::RLIM_INFINITY`] (however wide `rlim_t` is).
#[cfg(unix)]
fn as_u64(limit: libc::rlim_t) -> u64 {
    if limit == libc::RLIM_INFINITY {
        return u64::MAX;
    }
    // A no-op where `rlim_t` is `u64`; a widening where it is narrower.
    #[allow(clippy::useless_conversion)]
    u64::try_from(limit).unwrap_or(u64::MAX)
}

/// Raises the soft limit of open files (not done on this system): `None`.
#[cfg(not(unix))]
pub fn raise_open_files(_wanted: u64) -> Option<u64> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    #[test]
    fn the_soft_limit_is_read_and_never_lowered() {
        let now = super::raise_open_files(1).expect("the limit is readable");
        assert!(now >= 1);
        // Raised by one where the hard limit allows, else left as it was.
        let raised = super::raise_open_files(now.saturating_add(1)).expect("readable");
        assert!(raised >= now);
        // A smaller wish changes nothing.
        assert_eq!(super::raise_open_files(1), Some(raised));
    }
}
