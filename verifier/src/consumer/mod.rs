//! The consumer page: what a shopper sees after scanning an item's QR label.
//!
//! `GET /s/{code}` is a server-rendered HTML page (no JavaScript, readable on
//! a phone, in Chinese or English) with the item's product, lot, origin,
//! factory and certifications, its inspections, customs declarations and
//! logistics timeline (each record shown once, however many batches anchor
//! it), who provided every record, a warning at the top about records that
//! need the buyer's attention (a recall, a failed inspection, goods held at
//! customs) with what to do about them,
//! the code itself under the verdict (to compare with the printed label),
//! and one of three verdicts: a green "verified: the records are authentic
//! and unaltered", with the chain, transaction and block (for the embedded
//! ledger: the log entry and checkpoint size) folded under technical
//! details; an amber "cannot confirm right now" when nothing was found
//! wrong but no anchor could be checked against a trusted source (no
//! verifier key, chain unreachable); or a red warning when something was
//! checked and found wrong. The verdict comes only from the [`ReportCheck`]
//! handed to [`router`] (normally a [`crate::verify::Trust`], which runs
//! [`crate::verify::verify_report`]).
//!
//! A `GET /s/{code}` is a *scan*: it is counted, and the first scan's time
//! kept; unless it comes from the browser that scanned, within two hours:
//! it sends back the view token cookie the scan set (see [`view`]), and is
//! a view, not counted, whatever its query (a reload, the language link,
//! the zone form). So one browser counts at most once per two hours per
//! code. A query alone (`?lang=en`, `?tz=UTC`) changes the view but is
//! still a scan, so a label cannot dodge the count by encoding one. A
//! `HEAD` is never a scan (link previewers send them).
//! Printed QR labels should encode the bare `/s/{code}`. `GET /s` (and
//! `GET /`) is a form to type the code of a label whose QR code does not
//! scan; it redirects to the code's page, which counts the scan. What the
//! routes cannot serve under `/s` (no such page, a method a page does not
//! take, a PIN form that did not arrive) is an HTML page in the viewer's
//! language, not the API's JSON.
//!
//! Records name their provider by `org_id`; [`Consumer::with_orgs`] gives
//! the page a directory of names ([`OrgNames`]), shown with the id.
//!
//! Scans and PIN state are keyed on the report's canonical code (the lookup
//! trims the code asked for, SPEC.md 11.1), never on the path as sent; a
//! known code asked for under another form (`/s/CODE%20`) is redirected
//! (`308`) to its canonical `/s/{code}` (see [`routes`]).
//!
//! `POST /s/{code}/pin` checks the label's scratch-off PIN against its keyed
//! hash, unless the browser says another site posted it ([`origin`]); wrong PINs are limited per client and per code ([`PinPolicy`]: the
//! form is shown disabled, with the time it opens again, while they lock
//! it); once a PIN is
//! confirmed every later page of the code (a view, or the answer to any
//! later PIN) shows a strong warning that the label may be a copy, with the
//! count and the first scan; only the answer that confirmed it does not,
//! nor its reload by the browser that confirmed it, which holds a PIN proof
//! cookie of that confirmation (see [`view`]) and whose later pages say
//! that this browser confirmed the PIN, nor the second post of that
//! browser's double tap, which has no PIN proof yet but the form token (or
//! view token) and client the confirmation keeps a tag of. Scans and PIN state are kept
//! durably in [`ConsumerStore`].
//!
//! The steps of a request, one module each: [`i18n`] (language and zone),
//! the lookup, [`verdict`] (verification to badge), [`state`] (scans and
//! PINs, with [`pin`] for keys and hashes, and [`origin`], which refuses
//! PIN posts from other sites), [`journey`] (records to
//! sections), [`page`] (the page's HTML, escaped with [`html`], with
//! [`sections`] for the records' own), [`view`] (view tokens and PIN
//! proofs); [`routes`] ties them together and [`metrics`] counts them.
//!
//! ```no_run
//! use std::sync::Arc;
//! use proofmark_verifier::consumer::{Consumer, PinKey, router};
//! use proofmark_verifier::verify::Trust;
//! # fn app(lookup: Arc<dyn proofmark_verifier::CodeLookup>, trust: Trust)
//! #     -> Result<axum::Router, Box<dyn std::error::Error>> {
//! let key = PinKey::load("pin.key".as_ref())?;
//! let consumer = Consumer::open("state".as_ref(), Some(key))?;
//! let metrics = consumer.metrics(); // render_prometheus() into /metrics
//! Ok(router(lookup, consumer, Arc::new(trust)))
//! # }
//! ```

pub mod backend;
pub mod client;
pub mod countries;
pub mod error;
pub mod html;
pub mod i18n;
pub mod journey;
pub mod metrics;
pub mod orgs;
pub mod origin;
pub mod page;
pub mod pin;
pub mod routes;
pub mod sections;
pub mod state;
pub mod verdict;
pub mod view;

use std::path::Path;
use std::sync::Arc;

pub use backend::WriteFaults;
pub use client::{IpNet, IpNetError, ProxyHeader};
pub use error::ConsumerError;
pub use metrics::ConsumerMetrics;
pub use orgs::OrgNames;
pub use pin::{PinHash, PinKey, SecretsReader, check_secrets};
pub use routes::router;
pub use state::{
    ConfirmerTag, ConsumerStore, KeyRecord, LockScope, PinClient, PinImport, PinLimit, PinLock,
    PinOutcome, PinPolicy, ScanInfo, StoreHealth,
};
pub use verdict::{AnchorBadge, AnchorLocation, Finding, ReportCheck, Verification};
pub use view::ViewKey;

/// A source of the current time, in microseconds since the epoch (UTC).
pub trait Clock: Send + Sync {
    /// Now.
    fn now_us(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_us(&self) -> i64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(now.as_micros()).unwrap_or(i64::MAX)
    }
}

/// The consumer page's own state: the durable store, the PIN key, the PIN
/// policy, the clock and the counters. Cheap to clone.
#[derive(Clone)]
pub struct Consumer {
    pub(crate) store: Arc<ConsumerStore>,
    pub(crate) key: Option<Arc<PinKey>>,
    pub(crate) policy: PinPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metrics: Arc<ConsumerMetrics>,
    pub(crate) orgs: Arc<OrgNames>,
    pub(crate) proxy_header: Option<ProxyHeader>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("store", &self.store.path())
            .field("pin_key", &self.key.is_some())
            .field("policy", &self.policy)
            .field("orgs", &self.orgs.len())
            .finish_non_exhaustive()
    }
}

impl Consumer {
    /// Opens the state in `state_dir` (see [`ConsumerStore::open`]). Without
    /// a PIN key the page offers no PIN check.
    ///
    /// # Errors
    ///
    /// The store's [`ConsumerError`].
    pub fn open(state_dir: &Path, key: Option<PinKey>) -> Result<Consumer, ConsumerError> {
        Ok(Consumer::new(ConsumerStore::open(state_dir)?, key))
    }

    /// Wraps an open store.
    pub fn new(store: ConsumerStore, key: Option<PinKey>) -> Consumer {
        let metrics = ConsumerMetrics::with_state(Arc::clone(store.health()));
        Consumer {
            store: Arc::new(store),
            key: key.map(Arc::new),
            policy: PinPolicy::default(),
            clock: Arc::new(SystemClock),
            metrics: Arc::new(metrics),
            orgs: Arc::new(OrgNames::empty()),
            proxy_header: None,
        }
    }

    /// Sets the wrong-PIN policy (default [`PinPolicy::default`]).
    pub fn with_policy(mut self, policy: PinPolicy) -> Consumer {
        self.policy = policy;
        self
    }

    /// Takes the client's address, for the wrong-PIN limits per client,
    /// from the header that a reverse proxy in front of the server sets
    /// (`X-Forwarded-For`, `X-Real-IP`, ...), on requests whose connection
    /// comes from one of the proxy's networks: the last address of the
    /// header's last line, the one the proxy added. Other requests (and
    /// those without the header) are the client of their connection's peer
    /// address, which is also the default for all.
    pub fn with_proxy_header(mut self, proxy: Option<ProxyHeader>) -> Consumer {
        self.proxy_header = proxy;
        self
    }

    /// Sets the names of the organisations that provide records (default:
    /// none, the page shows their ids alone).
    pub fn with_orgs(mut self, orgs: OrgNames) -> Consumer {
        self.orgs = Arc::new(orgs);
        self
    }

    /// Sets the clock (tests use a fixed one).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Consumer {
        self.clock = clock;
        self
    }

    /// The counters, for `/metrics`.
    pub fn metrics(&self) -> Arc<ConsumerMetrics> {
        Arc::clone(&self.metrics)
    }

    /// The durable store.
    pub fn store(&self) -> &Arc<ConsumerStore> {
        &self.store
    }

    /// Whether the consumer page can do all of its work, for `/readyz`:
    /// `Err` with the reason while its state cannot be written (scans are
    /// shown but not counted, PIN checks are refused). While the last write
    /// failed, this tries a write (reopening the state if needed, at most
    /// once per [`state::REOPEN_INTERVAL`]), so that a state that works again
    /// is seen even when no consumer scans meanwhile. Blocks.
    pub fn readiness(&self) -> Result<(), String> {
        let health = self.store.health();
        if health.writable() {
            return Ok(());
        }
        match self.store.probe(self.clock.now_us()) {
            Ok(()) => Ok(()),
            Err(e) => Err(format!(
                "the consumer state cannot be written: {}",
                e.chain()
            )),
        }
    }
}
