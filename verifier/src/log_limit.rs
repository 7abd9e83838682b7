//! A cap on how often one kind of log line is written.
//!
//! Some warnings are made by requests: a PIN posted from another site, a
//! page whose records do not verify, a stored file that does not match its
//! batch. Anyone can repeat such a request thousands of times a second, and
//! a line for each would flood the log (and the disk under it) while saying
//! nothing new. Each such call site keeps a [`LogLimit`]: the first lines of
//! every minute are written, the rest are counted, and the next line written
//! says how many were left out (its `left_out` field). The metrics still
//! count every event. [`log_limited!`] is the call site's form.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window over which [`LogLimit`] counts lines.
const WINDOW: Duration = Duration::from_secs(60);

/// How many lines of one kind are written a minute.
pub(crate) const LINES_PER_MINUTE: u32 = 10;

/// Counts one call site's log lines a minute at a time; see the module docs.
#[derive(Debug)]
pub(crate) struct LogLimit {
    state: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    started: Option<Instant>,
    written: u32,
    left_out: u64,
}

impl LogLimit {
    /// A limit of [`LINES_PER_MINUTE`] lines a minute.
    pub(crate) const fn new() -> Self {
        Self {
            state: Mutex::new(Window {
                started: None,
                written: 0,
                left_out: 0,
            }),
        }
    }

    /// Whether a line may be written now: `Some(n)` with the number of lines
    /// left out since the last one written, `None` when this one is left
    /// out (and counted).
    pub(crate) fn admit(&self) -> Option<u64> {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Option<u64> {
        // A poisoned lock only means another thread panicked while counting;
        // the counts are still usable.
        let mut window = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let expired = window
            .started
            .is_none_or(|started| now.saturating_duration_since(started) >= WINDOW);
        if expired {
            window.started = Some(now);
            window.written = 0;
        }
        if window.written < LINES_PER_MINUTE {
            window.written += 1;
            Some(std::mem::take(&mut window.left_out))
        } else {
            window.left_out += 1;
            None
        }
    }
}

/// `log_limited!(warn, fields.., "message")`: logs like `tracing::warn!`,
/// at most [`LINES_PER_MINUTE`] lines a minute from this call site; the
/// first line written after some were left out carries `left_out = N`.
macro_rules! log_limited {
    ($level:ident, $($arg:tt)+) => {{
        static LIMIT: $crate::log_limit::LogLimit = $crate::log_limit::LogLimit::new();
        match LIMIT.admit() {
            Some(0) => tracing::$level!($($arg)+),
            Some(left_out) => tracing::$level!(left_out, $($arg)+),
            None => {}
        }
    }};
}
pub(crate) use log_limited;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_first_lines_of_a_minute_and_counts_the_rest() {
        let limit = LogLimit::new();
        let start = Instant::now();
        for _ in 0..LINES_PER_MINUTE {
            assert_eq!(limit.admit_at(start), Some(0));
        }
        for _ in 0..25 {
            assert_eq!(limit.admit_at(start + Duration::from_secs(59)), None);
        }
        // The next minute's first line reports what was left out, once.
        let next = start + WINDOW;
        assert_eq!(limit.admit_at(next), Some(25));
        assert_eq!(limit.admit_at(next), Some(0));
    }

    #[test]
    fn a_quiet_site_is_never_limited() {
        let limit = LogLimit::new();
        let start = Instant::now();
        for minute in 0..100u64 {
            let at = start + Duration::from_secs(61 * minute);
            assert_eq!(limit.admit_at(at), Some(0));
        }
    }
}
