//! Counters of the consumer page, in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::state::{LockScope, PinOutcome, StoreHealth};

/// Page views by outcome, scans and PIN checks by outcome, and the durable
/// state's health.
#[derive(Debug, Default)]
pub struct ConsumerMetrics {
    state: Arc<StoreHealth>,
    scans_uncounted: AtomicU64,
    pin_state_failed: AtomicU64,
    views_verified: AtomicU64,
    views_failed: AtomicU64,
    views_unconfirmed: AtomicU64,
    views_unknown: AtomicU64,
    views_error: AtomicU64,
    scans: AtomicU64,
    copy_warnings: AtomicU64,
    pin_confirmed: AtomicU64,
    pin_already_confirmed: AtomicU64,
    pin_confirmed_again: AtomicU64,
    pin_wrong: AtomicU64,
    pin_rate_limited: AtomicU64,
    pin_code_locked: AtomicU64,
    pin_malformed: AtomicU64,
    pin_absent: AtomicU64,
    pin_foreign: AtomicU64,
}

/// The outcome of a page view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewOutcome {
    /// A known code whose report verified.
    Verified,
    /// A known code whose report did not verify.
    Failed,
    /// A known code whose report could not be confirmed (nothing was found
    /// wrong, but no anchor could be checked against a trusted source).
    Unconfirmed,
    /// An unknown or malformed code.
    Unknown,
    /// The lookup or the state failed.
    Error,
}

impl ConsumerMetrics {
    /// Counters reporting the health of a store's state.
    pub fn with_state(state: Arc<StoreHealth>) -> ConsumerMetrics {
        ConsumerMetrics {
            state,
            ..ConsumerMetrics::default()
        }
    }

    /// Counts a scan that was shown but could not be recorded.
    pub fn scan_uncounted(&self) {
        self.scans_uncounted.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a PIN check that could not be done because the state failed.
    pub fn pin_state_failed(&self) {
        self.pin_state_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a page view.
    pub fn view(&self, outcome: ViewOutcome) {
        let counter = match outcome {
            ViewOutcome::Verified => &self.views_verified,
            ViewOutcome::Failed => &self.views_failed,
            ViewOutcome::Unconfirmed => &self.views_unconfirmed,
            ViewOutcome::Unknown => &self.views_unknown,
            ViewOutcome::Error => &self.views_error,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a recorded scan, and whether it showed the copy warning.
    pub fn scan(&self, copy_warning: bool) {
        self.scans.fetch_add(1, Ordering::Relaxed);
        if copy_warning {
            self.copy_warnings.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a PIN check's outcome.
    pub fn pin(&self, outcome: &PinOutcome) {
        let counter = match outcome {
            PinOutcome::Confirmed { .. } => &self.pin_confirmed,
            PinOutcome::AlreadyConfirmed { .. } => &self.pin_already_confirmed,
            PinOutcome::Wrong { .. } => &self.pin_wrong,
            PinOutcome::RateLimited { lock } => match lock.scope {
                LockScope::Client => &self.pin_rate_limited,
                LockScope::Code => &self.pin_code_locked,
            },
            PinOutcome::NoPin => &self.pin_absent,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts the right PIN posted again, soon after, by the browser that confirmed it (the
    /// reload of its answer): not the copy signal `already_confirmed` is.
    pub fn pin_confirmed_again(&self) {
        self.pin_confirmed_again.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a PIN post refused as coming from another site.
    pub fn pin_foreign(&self) {
        self.pin_foreign.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a submitted value that is not a PIN.
    pub fn pin_malformed(&self) {
        self.pin_malformed.fetch_add(1, Ordering::Relaxed);
    }

    /// Appends the counters in the Prometheus text exposition format.
    pub fn render_prometheus(&self, out: &mut String) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP proofmark_consumer_page_views_total Consumer page views by outcome.\n\
             # TYPE proofmark_consumer_page_views_total counter"
        );
        for (outcome, c) in [
            ("verified", &self.views_verified),
            ("not_verified", &self.views_failed),
            ("unconfirmed", &self.views_unconfirmed),
            ("unknown_code", &self.views_unknown),
            ("error", &self.views_error),
        ] {
            let _ = writeln!(
                out,
                "proofmark_consumer_page_views_total{{outcome=\"{outcome}\"}} {}",
                get(c)
            );
        }
        let _ = writeln!(
            out,
            "# HELP proofmark_consumer_scans_total Label scans recorded (known codes).\n\
             # TYPE proofmark_consumer_scans_total counter\n\
             proofmark_consumer_scans_total {}\n\
             # HELP proofmark_consumer_copy_warnings_total Scans after the PIN was confirmed.\n\
             # TYPE proofmark_consumer_copy_warnings_total counter\n\
             proofmark_consumer_copy_warnings_total {}",
            get(&self.scans),
            get(&self.copy_warnings)
        );
        let _ = writeln!(
            out,
            "# HELP proofmark_consumer_pin_checks_total Scratch-off PIN checks by outcome.\n\
             # TYPE proofmark_consumer_pin_checks_total counter"
        );
        for (outcome, c) in [
            ("confirmed", &self.pin_confirmed),
            ("already_confirmed", &self.pin_already_confirmed),
            ("confirmed_again", &self.pin_confirmed_again),
            ("wrong", &self.pin_wrong),
            ("rate_limited", &self.pin_rate_limited),
            ("code_locked", &self.pin_code_locked),
            ("malformed", &self.pin_malformed),
            ("no_pin", &self.pin_absent),
            ("cross_site", &self.pin_foreign),
            ("state_error", &self.pin_state_failed),
        ] {
            let _ = writeln!(
                out,
                "proofmark_consumer_pin_checks_total{{outcome=\"{outcome}\"}} {}",
                get(c)
            );
        }
        let _ = writeln!(
            out,
            "# HELP proofmark_consumer_scans_uncounted_total Scans shown but not recorded (the state failed).\n\
             # TYPE proofmark_consumer_scans_uncounted_total counter\n\
             proofmark_consumer_scans_uncounted_total {}\n\
             # HELP proofmark_consumer_state_failures_total Consumer state operations that failed with a store error.\n\
             # TYPE proofmark_consumer_state_failures_total counter\n\
             proofmark_consumer_state_failures_total {}\n\
             # HELP proofmark_consumer_state_reopens_total Reopens of the consumer state after I/O errors.\n\
             # TYPE proofmark_consumer_state_reopens_total counter\n\
             proofmark_consumer_state_reopens_total {}\n\
             # HELP proofmark_consumer_state_writable Whether the last write of the consumer state worked (1) or failed (0).\n\
             # TYPE proofmark_consumer_state_writable gauge\n\
             proofmark_consumer_state_writable {}",
            get(&self.scans_uncounted),
            self.state.failures(),
            self.state.reopens(),
            u8::from(self.state.writable())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render() {
        let m = ConsumerMetrics::default();
        m.view(ViewOutcome::Verified);
        m.view(ViewOutcome::Unconfirmed);
        m.view(ViewOutcome::Unconfirmed);
        m.scan(true);
        m.pin(&PinOutcome::Wrong {
            attempts_left: 4,
            lock: None,
        });
        let mut out = String::new();
        m.render_prometheus(&mut out);
        assert!(out.contains("proofmark_consumer_page_views_total{outcome=\"verified\"} 1\n"));
        assert!(out.contains("proofmark_consumer_page_views_total{outcome=\"unconfirmed\"} 2\n"));
        assert!(out.contains("proofmark_consumer_page_views_total{outcome=\"not_verified\"} 0\n"));
        assert!(out.contains("proofmark_consumer_scans_total 1\n"));
        assert!(out.contains("proofmark_consumer_copy_warnings_total 1\n"));
        assert!(out.contains("proofmark_consumer_pin_checks_total{outcome=\"wrong\"} 1\n"));
        assert!(out.contains("proofmark_consumer_pin_checks_total{outcome=\"confirmed\"} 0\n"));
        assert!(out.contains("proofmark_consumer_state_writable 1\n"));
        assert!(out.contains("proofmark_consumer_state_failures_total 0\n"));
    }
}
