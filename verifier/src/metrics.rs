//! The service's counters, rendered in the Prometheus text format at
//! `/metrics`: HTTP requests and their latencies per route, code lookups by
//! outcome and their latency, codes audited; other parts of the service
//! (the consumer page's scans and PIN outcomes) add their own counters with
//! [`Metrics::add_source`].
//!
//! ```
//! use proofmark_verifier::Metrics;
//! let m = Metrics::default();
//! m.lookup_outcome("found");
//! m.add_source(|out: &mut String| out.push_str("proofmark_scans_total 1\n"));
//! let text = m.render();
//! assert!(text.contains("proofmark_lookups_total{outcome=\"found\"} 1"));
//! assert!(text.contains("proofmark_scans_total 1"));
//! ```

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency histograms' buckets.
pub const LATENCY_BUCKETS_SECONDS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS_SECONDS.len()],
    count: u64,
    sum_seconds: f64,
}

impl Histogram {
    fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        for (b, le) in self.buckets.iter_mut().zip(LATENCY_BUCKETS_SECONDS) {
            if s <= le {
                *b += 1;
            }
        }
        self.count += 1;
        self.sum_seconds += s;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (b, le) in self.buckets.iter().zip(LATENCY_BUCKETS_SECONDS) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {b}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum_seconds);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct State {
    requests: BTreeMap<(String, u16), u64>,
    request_latency: BTreeMap<String, Histogram>,
    lookups: BTreeMap<String, u64>,
    lookup_latency: Histogram,
    audit_codes: u64,
    prewarm_files: u64,
    prewarm_bytes: u64,
}

/// A renderer of more counters, appended to [`Metrics::render`]'s output.
type Source = Box<dyn Fn(&mut String) + Send + Sync>;

/// The service's counters. Every method takes `&self`; share it in an `Arc`.
#[derive(Default)]
pub struct Metrics {
    state: Mutex<State>,
    sources: Mutex<Vec<Source>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Escapes a label value for the text format.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut s)
    }

    /// Counts an HTTP request to `route` (the matched route pattern, e.g.
    /// `/v1/codes/{code}`) that answered `status` after `elapsed`.
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        self.with(|s| {
            *s.requests.entry((route.to_owned(), status)).or_default() += 1;
            s.request_latency
                .entry(route.to_owned())
                .or_default()
                .observe(elapsed);
        });
    }

    /// Counts a code lookup by outcome (`found`, `unknown`, `malformed`,
    /// `integrity_failure`, `error`).
    pub fn lookup_outcome(&self, outcome: &str) {
        self.with(|s| *s.lookups.entry(outcome.to_owned()).or_default() += 1);
    }

    /// Records the duration of a lookup.
    pub fn lookup_seconds(&self, elapsed: Duration) {
        self.with(|s| s.lookup_latency.observe(elapsed));
    }

    /// Counts codes looked up by `POST /v1/audit`.
    pub fn audit_codes(&self, n: u64) {
        self.with(|s| s.audit_codes += n);
    }

    /// Counts files and bytes read into the page cache ahead of lookups
    /// ([`crate::Lookup::prewarm`]).
    pub fn prewarmed(&self, files: u64, bytes: u64) {
        self.with(|s| {
            s.prewarm_files += files;
            s.prewarm_bytes += bytes;
        });
    }

    /// Adds a renderer of more counters in the text format (e.g. the
    /// consumer page's scans and PIN outcomes), appended to every render.
    pub fn add_source(&self, source: impl Fn(&mut String) + Send + Sync + 'static) {
        self.sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Box::new(source));
    }

    /// The counters in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = self.render_own();
        for source in self
            .sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            source(&mut out);
        }
        out
    }

    fn render_own(&self) -> String {
        self.with(|s| {
            let mut out = String::with_capacity(4096);
            out.push_str(
                "# HELP proofmark_http_requests_total HTTP requests by route and status.\n",
            );
            out.push_str("# TYPE proofmark_http_requests_total counter\n");
            for ((route, status), n) in &s.requests {
                let _ = writeln!(
                    out,
                    "proofmark_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                    label(route)
                );
            }
            out.push_str(
                "# HELP proofmark_http_request_duration_seconds HTTP request latency by route.\n",
            );
            out.push_str("# TYPE proofmark_http_request_duration_seconds histogram\n");
            for (route, h) in &s.request_latency {
                h.render(
                    &mut out,
                    "proofmark_http_request_duration_seconds",
                    &format!("route=\"{}\"", label(route)),
                );
            }
            out.push_str("# HELP proofmark_lookups_total Code lookups by outcome.\n");
            out.push_str("# TYPE proofmark_lookups_total counter\n");
            for (outcome, n) in &s.lookups {
                let _ = writeln!(
                    out,
                    "proofmark_lookups_total{{outcome=\"{}\"}} {n}",
                    label(outcome)
                );
            }
            out.push_str("# HELP proofmark_lookup_duration_seconds Code lookup latency.\n");
            out.push_str("# TYPE proofmark_lookup_duration_seconds histogram\n");
            s.lookup_latency
                .render(&mut out, "proofmark_lookup_duration_seconds", "");
            out.push_str("# HELP proofmark_audit_codes_total Codes looked up by audits.\n");
            out.push_str("# TYPE proofmark_audit_codes_total counter\n");
            let _ = writeln!(out, "proofmark_audit_codes_total {}", s.audit_codes);
            out.push_str(
                "# HELP proofmark_prewarm_read_files_total Index and leaf files read whole into the page cache ahead of lookups.\n",
            );
            out.push_str("# TYPE proofmark_prewarm_read_files_total counter\n");
            let _ = writeln!(out, "proofmark_prewarm_read_files_total {}", s.prewarm_files);
            out.push_str(
                "# HELP proofmark_prewarm_read_bytes_total Bytes of index and leaf files read into the page cache ahead of lookups.\n",
            );
            out.push_str("# TYPE proofmark_prewarm_read_bytes_total counter\n");
            let _ = writeln!(out, "proofmark_prewarm_read_bytes_total {}", s.prewarm_bytes);
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.request("/v1/codes/{code}", 200, Duration::from_millis(3));
        m.request("/v1/codes/{code}", 200, Duration::from_millis(30));
        m.lookup_outcome("wrong \"outcome\"");
        let text = m.render();
        assert!(text.contains(
            "proofmark_http_requests_total{route=\"/v1/codes/{code}\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "proofmark_http_request_duration_seconds_bucket{route=\"/v1/codes/{code}\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "proofmark_http_request_duration_seconds_bucket{route=\"/v1/codes/{code}\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains("proofmark_lookups_total{outcome=\"wrong \\\"outcome\\\"\"} 1"));
        assert!(text.contains("proofmark_lookup_duration_seconds_count 0"));
    }
}
