//! A cache in front of a [`ChainCheck`], so that a service verifying the same
//! receipts again and again (every view of a consumer page) does not read the
//! chain each time.
//!
//! An answer is kept per chain, batch (its id, suite, root, leaf count and
//! manifest digest) and receipt (its exact JSON text): a pass, a mismatch or a
//! "not applicable" for [`CachedChainCheck::new`]'s `answer_ttl`, an
//! "unavailable" (the chain could not be read) for a much shorter time
//! ([`DEFAULT_UNAVAILABLE_TTL`]), so that a node that is down is asked again
//! soon, but not on every view. The cache holds at most
//! [`DEFAULT_MAX_ENTRIES`] answers (see [`CachedChainCheck::with_max_entries`]):
//! when full, expired answers are dropped first, then those that expire first.
//!
//! Callers missing the same answer at once read the chain once: the first
//! reads it, the others wait for its answer (single flight), so a burst of
//! views after an answer expired, or while a node is timing out, costs one
//! read, not one per view.
//!
//! With [`CachedChainCheck::with_max_wait`], a caller waits for a read at
//! most that long after the read started: the read runs on a thread of its
//! own, and a caller it has not answered in time gets "unavailable" (the
//! page is amber, "cannot confirm right now") while the read goes on and
//! keeps its answer for the views after it. A node that hangs then delays a
//! page by at most that wait, not by the node's whole RPC budget; once a
//! read is overdue, callers do not wait for it at all, nor for any other
//! read of its chain until it ends, so a page of many batches waits once per
//! chain.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use proofmark_verifier::verify::{CachedChainCheck, ChainCheck, Trust};
//!
//! fn cached(name: &str, reader: Arc<dyn ChainCheck>) -> Trust {
//!     let check = CachedChainCheck::new(reader, Duration::from_secs(60));
//!     Trust::new().with_chain_check(name, Arc::new(check))
//! }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{AnchoredBatch, ChainCheck, ChainCheckError};

/// How long [`CachedChainCheck`] keeps an "unavailable" answer by default.
pub const DEFAULT_UNAVAILABLE_TTL: Duration = Duration::from_secs(5);

/// How many answers [`CachedChainCheck`] keeps at most by default.
pub const DEFAULT_MAX_ENTRIES: usize = 4096;

/// How many chain reads [`CachedChainCheck::with_max_wait`] runs on threads of
/// their own at once; a miss beyond them is answered "unavailable" at once.
pub const MAX_BACKGROUND_READS: usize = 32;

/// What an answer is about: everything the wrapped check is given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    chain: String,
    batch_id: String,
    suite: String,
    root: String,
    leaf_count: u64,
    manifest_digest: String,
    /// The receipt's JSON text.
    receipt: String,
}

impl Key {
    fn new(chain: &str, receipt: &Value, batch: &AnchoredBatch<'_>) -> Self {
        Key {
            chain: chain.to_owned(),
            batch_id: batch.batch_id.to_owned(),
            suite: batch.suite.to_owned(),
            root: batch.root.to_owned(),
            leaf_count: batch.leaf_count,
            manifest_digest: batch.manifest_digest.to_owned(),
            receipt: receipt.to_string(),
        }
    }

    /// The batch the answer is about.
    fn batch(&self) -> AnchoredBatch<'_> {
        AnchoredBatch {
            batch_id: &self.batch_id,
            suite: &self.suite,
            root: &self.root,
            leaf_count: self.leaf_count,
            manifest_digest: &self.manifest_digest,
        }
    }
}

/// A kept answer and when it stops being used.
struct Entry {
    answer: Result<String, ChainCheckError>,
    expires: Instant,
}

/// A chain read in progress, which other callers of the same key wait for.
struct Flight {
    answer: Mutex<Option<Result<String, ChainCheckError>>>,
    done: Condvar,
    /// When the read started (real time: waits are bounded from it).
    started: Instant,
    /// Whether a caller gave up waiting for this read (the log said so; its end is then
    /// logged too).
    overdue: AtomicBool,
}

impl Default for Flight {
    fn default() -> Self {
        Flight {
            answer: Mutex::new(None),
            done: Condvar::new(),
            started: Instant::now(),
            overdue: AtomicBool::new(false),
        }
    }
}

impl Flight {
    fn finish(&self, answer: Result<String, ChainCheckError>) {
        let mut slot = self.answer.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(answer);
        }
        self.done.notify_all();
    }

    /// The read's answer; with `max_wait`, `None` once the read has taken
    /// that long without answering.
    fn wait(&self, max_wait: Option<Duration>) -> Option<Result<String, ChainCheckError>> {
        let deadline = max_wait.and_then(|w| self.started.checked_add(w));
        let mut slot = self.answer.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(answer) = slot.as_ref() {
                return Some(answer.clone());
            }
            slot = match deadline {
                None => self.done.wait(slot).unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    self.done
                        .wait_timeout(slot, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }
}

/// Waits for `flight`, the read of `key` (see [`Flight::wait`]); a caller it did not answer
/// within `max_wait` gets "unavailable", and the first such caller marks the read overdue and
/// says so in the log. A caller of a chain that is slow ([`Entries::slow`]) does not wait at
/// all.
fn wait_for(
    keeper: &Keeper,
    (key, flight): (&Key, &Arc<Flight>),
    max_wait: Option<Duration>,
    slow: bool,
) -> Result<String, ChainCheckError> {
    let (chain, batch_id) = (key.chain.as_str(), key.batch_id.as_str());
    if let Some(answer) = flight.wait(if slow { Some(Duration::ZERO) } else { max_wait }) {
        return answer;
    }
    if slow {
        return Err(ChainCheckError::Unavailable(
            "the chain is not answering (a read of it is overdue; the reads go on, and a \
             later view shows their answers)"
                .to_owned(),
        ));
    }
    let waited = max_wait.unwrap_or_default().as_secs_f64();
    if !flight.overdue.swap(true, Ordering::SeqCst) {
        keeper.counts.overdue.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            chain,
            batch = batch_id,
            "the chain did not answer within {waited:.1} s: pages show \"cannot confirm\" while the read goes on, and do not wait for this chain while it does"
        );
    }
    Err(ChainCheckError::Unavailable(format!(
        "the chain did not answer within {waited:.1} s (the read goes on; a later view shows its answer)"
    )))
}

/// What a [`CachedChainCheck`] has read of its chains so far ([`CachedChainCheck::reads`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ChainReads {
    /// Reads that found the anchor as the receipt says.
    pub ok: u64,
    /// Reads that found something else (a red page).
    pub mismatch: u64,
    /// Reads that found the receipt is not for this chain.
    pub not_applicable: u64,
    /// Reads that could not be made (the node down or failing, or the read itself failed).
    pub unavailable: u64,
    /// Reads not started: [`MAX_BACKGROUND_READS`] were already going on.
    pub refused: u64,
    /// Reads a page stopped waiting for ([`CachedChainCheck::with_max_wait`]).
    pub overdue: u64,
    /// Reads going on for longer than the wait: while a chain has one, pages do not wait for
    /// it.
    pub overdue_now: u64,
}

/// The counters behind [`ChainReads`].
#[derive(Debug, Default)]
struct ReadCounts {
    ok: AtomicU64,
    mismatch: AtomicU64,
    not_applicable: AtomicU64,
    unavailable: AtomicU64,
    refused: AtomicU64,
    overdue: AtomicU64,
}

impl ReadCounts {
    fn count(&self, answer: &Result<String, ChainCheckError>) {
        let counter = match answer {
            Ok(_) => &self.ok,
            Err(ChainCheckError::Mismatch(_)) => &self.mismatch,
            Err(ChainCheckError::NotApplicable(_)) => &self.not_applicable,
            Err(ChainCheckError::Unavailable(_)) => &self.unavailable,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The kept answers and the reads in progress, under one lock.
#[derive(Default)]
struct Entries {
    answers: HashMap<Key, Entry>,
    flights: HashMap<Key, Arc<Flight>>,
}

impl Entries {
    /// Ends `flight`, the read of `key`, if it is still the one in progress.
    fn end_flight(&mut self, key: &Key, flight: &Arc<Flight>) {
        if self
            .flights
            .get(key)
            .is_some_and(|f| Arc::ptr_eq(f, flight))
        {
            self.flights.remove(key);
        }
    }

    /// The reads in progress of `chain` (every chain: `None`) going on for `wait` or longer.
    fn overdue(&self, chain: Option<&str>, wait: Duration) -> usize {
        self.flights
            .iter()
            .filter(|(k, f)| chain.is_none_or(|c| k.chain == c) && f.started.elapsed() >= wait)
            .count()
    }

    /// Whether `chain` is slow: one of its reads has gone on for `wait` or longer, so that a
    /// page does not wait for another (a node that is down delays a page by one wait per
    /// chain, not one per batch). By age, so that a chain is slow exactly while such a read
    /// goes on, and answers again as soon as its reads do.
    fn slow(&self, chain: &str, wait: Option<Duration>) -> bool {
        wait.is_some_and(|w| self.overdue(Some(chain), w) > 0)
    }
}

/// Ends a read in progress even if the read panicked: its waiters get
/// "unavailable" rather than waiting for ever.
struct FlightGuard {
    keeper: Keeper,
    key: Option<Key>,
    flight: Arc<Flight>,
}

impl FlightGuard {
    /// Ends the flight without reading: its callers get "unavailable" with `reason`.
    fn give_up(mut self, reason: &str) {
        if self.key.is_some() {
            self.keeper.counts.refused.fetch_add(1, Ordering::Relaxed);
        }
        self.end(reason);
    }

    fn end(&mut self, reason: &str) {
        if let Some(key) = self.key.take() {
            // Only this read's flight: a later read of the key may have started.
            self.keeper.lock().end_flight(&key, &self.flight);
            self.flight
                .finish(Err(ChainCheckError::Unavailable(reason.to_owned())));
        }
    }

    /// Reads the chain for the guarded key, keeps the answer and ends the
    /// flight.
    fn read(mut self, inner: &dyn ChainCheck, receipt: &Value) -> Result<String, ChainCheckError> {
        let Some(key) = self.key.clone() else {
            return Err(ChainCheckError::Unavailable(
                "the chain read did not finish".to_owned(),
            ));
        };
        // No lock is held while the chain is read.
        let answer = inner.check(&key.chain, receipt, &key.batch());
        self.keeper.counts.count(&answer);
        let unavailable = matches!(answer, Err(ChainCheckError::Unavailable(_)));
        if self.flight.overdue.load(Ordering::SeqCst) {
            // At the level of the line that said it was overdue.
            tracing::warn!(
                chain = key.chain,
                batch = key.batch_id,
                unavailable,
                "an overdue chain read ended after {:.1} s",
                self.flight.started.elapsed().as_secs_f64()
            );
        } else {
            tracing::debug!(
                chain = key.chain,
                batch = key.batch_id,
                unavailable,
                "chain read"
            );
        }
        self.keeper.keep(key, &answer, &self.flight);
        self.flight.finish(answer.clone());
        self.key = None;
        answer
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        if self.key.is_some() {
            // A read that panicked, or whose thread could not start: no answer was read.
            self.keeper
                .counts
                .unavailable
                .fetch_add(1, Ordering::Relaxed);
        }
        self.end("the chain read did not finish");
    }
}

/// A [`ChainCheck`] that keeps the answers of another for a while.
pub struct CachedChainCheck {
    inner: Arc<dyn ChainCheck>,
    max_wait: Option<Duration>,
    /// Reads running on threads of their own.
    background: Arc<AtomicUsize>,
    /// The answers, the reads in progress and how long answers are kept;
    /// each read holds a clone.
    keeper: Keeper,
}

/// Where the time comes from (a test moves its own).
type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

impl fmt::Debug for CachedChainCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedChainCheck")
            .field("answer_ttl", &self.keeper.answer_ttl)
            .field("unavailable_ttl", &self.keeper.unavailable_ttl)
            .field("max_entries", &self.keeper.max_entries)
            .field("max_wait", &self.max_wait)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl CachedChainCheck {
    /// Keeps the answers of `inner`: a pass, a mismatch or a "not applicable"
    /// for `answer_ttl`, an "unavailable" for [`DEFAULT_UNAVAILABLE_TTL`] (at
    /// most `answer_ttl`). A zero `answer_ttl` keeps nothing. Callers wait
    /// for a read as long as it takes (see [`CachedChainCheck::with_max_wait`]).
    pub fn new(inner: Arc<dyn ChainCheck>, answer_ttl: Duration) -> Self {
        CachedChainCheck {
            inner,
            max_wait: None,
            background: Arc::new(AtomicUsize::new(0)),
            keeper: Keeper {
                entries: Arc::new(Mutex::new(Entries::default())),
                counts: Arc::default(),
                answer_ttl,
                unavailable_ttl: DEFAULT_UNAVAILABLE_TTL.min(answer_ttl),
                max_entries: DEFAULT_MAX_ENTRIES,
                now: Arc::new(Instant::now),
            },
        }
    }

    /// Keeps an "unavailable" answer for `ttl` (zero: not at all).
    pub fn with_unavailable_ttl(mut self, ttl: Duration) -> Self {
        self.keeper.unavailable_ttl = ttl;
        self
    }

    /// Keeps at most `max` answers (zero: none).
    pub fn with_max_entries(mut self, max: usize) -> Self {
        self.keeper.max_entries = max;
        self
    }

    /// Waits for a chain read at most `wait` after it started: reads run on
    /// threads of their own (at most [`MAX_BACKGROUND_READS`] at once), and a
    /// caller not answered in time gets [`ChainCheckError::Unavailable`]
    /// while the read goes on and keeps its answer for later callers. `None`
    /// or zero (the default) waits as long as the read takes, on the caller's
    /// thread; so does a cache that keeps nothing (a zero `answer_ttl` or
    /// `max_entries`), since no later caller could use a late answer.
    pub fn with_max_wait(mut self, wait: Option<Duration>) -> Self {
        self.max_wait = wait.filter(|w| !w.is_zero());
        self
    }

    /// The wait in effect: none when no answer could be kept.
    fn max_wait(&self) -> Option<Duration> {
        self.max_wait
            .filter(|_| !self.keeper.answer_ttl.is_zero() && self.keeper.max_entries > 0)
    }

    /// What has been read of the chains so far, for metrics.
    pub fn reads(&self) -> ChainReads {
        let c = &self.keeper.counts;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ChainReads {
            ok: get(&c.ok),
            mismatch: get(&c.mismatch),
            not_applicable: get(&c.not_applicable),
            unavailable: get(&c.unavailable),
            refused: get(&c.refused),
            overdue: get(&c.overdue),
            overdue_now: self
                .max_wait()
                .map_or(0, |w| self.lock().overdue(None, w) as u64),
        }
    }

    /// Answers kept now (some perhaps expired, not yet dropped).
    pub fn len(&self) -> usize {
        self.lock().answers.len()
    }

    /// Whether no answer is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.keeper.lock()
    }

    #[cfg(test)]
    fn with_clock(mut self, now: Clock) -> Self {
        self.keeper.now = now;
        self
    }
}

/// The answers and the settings that say how long an answer is kept.
/// Cheap to clone: the clones share the answers.
#[derive(Clone)]
struct Keeper {
    entries: Arc<Mutex<Entries>>,
    counts: Arc<ReadCounts>,
    answer_ttl: Duration,
    unavailable_ttl: Duration,
    max_entries: usize,
    now: Clock,
}

impl Keeper {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The map is consistent between statements: a panic elsewhere leaves it usable.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ttl_of(&self, answer: &Result<String, ChainCheckError>) -> Duration {
        match answer {
            Err(ChainCheckError::Unavailable(_)) => self.unavailable_ttl,
            _ => self.answer_ttl,
        }
    }

    /// Keeps `answer` under `key`, making room if the cache is full; and
    /// ends `flight`, the read in progress of `key`, in the same step, so that no
    /// caller finds neither.
    fn keep(&self, key: Key, answer: &Result<String, ChainCheckError>, flight: &Arc<Flight>) {
        let mut guard = self.lock();
        guard.end_flight(&key, flight);
        let ttl = self.ttl_of(answer);
        if ttl.is_zero() || self.max_entries == 0 {
            return;
        }
        let now = (self.now)();
        let Some(expires) = now.checked_add(ttl) else {
            return;
        };
        let entries = &mut guard.answers;
        if entries.len() >= self.max_entries && !entries.contains_key(&key) {
            entries.retain(|_, e| e.expires > now);
            while entries.len() >= self.max_entries {
                let Some(first) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                entries.remove(&first);
            }
        }
        entries.insert(
            key,
            Entry {
                answer: answer.clone(),
                expires,
            },
        );
    }
}

impl ChainCheck for CachedChainCheck {
    fn check(
        &self,
        chain: &str,
        receipt: &Value,
        batch: &AnchoredBatch<'_>,
    ) -> Result<String, ChainCheckError> {
        let key = Key::new(chain, receipt, batch);
        let flight = {
            let now = (self.keeper.now)();
            let mut guard = self.lock();
            match guard.answers.get(&key) {
                Some(e) if e.expires > now => {
                    tracing::trace!(chain, batch = batch.batch_id, "chain answer from the cache");
                    return e.answer.clone();
                }
                Some(_) => {
                    guard.answers.remove(&key);
                }
                None => {}
            }
            let slow = guard.slow(chain, self.max_wait());
            if let Some(flight) = guard.flights.get(&key) {
                let flight = Arc::clone(flight);
                drop(guard);
                tracing::trace!(chain, batch = batch.batch_id, "waiting for a chain read");
                return wait_for(&self.keeper, (&key, &flight), self.max_wait(), slow);
            }
            let flight = Arc::new(Flight::default());
            guard.flights.insert(key.clone(), Arc::clone(&flight));
            (flight, slow)
        };
        let (flight, slow) = flight;
        let in_flight = FlightGuard {
            keeper: self.keeper.clone(),
            key: Some(key.clone()),
            flight: Arc::clone(&flight),
        };
        let Some(max_wait) = self.max_wait() else {
            return in_flight.read(self.inner.as_ref(), receipt);
        };
        if self.background.fetch_add(1, Ordering::SeqCst) >= MAX_BACKGROUND_READS {
            self.background.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!(
                chain,
                batch = batch.batch_id,
                "too many chain reads in progress"
            );
            in_flight.give_up(&format!(
                "{MAX_BACKGROUND_READS} chain reads are already in progress"
            ));
            return wait_for(&self.keeper, (&key, &flight), Some(max_wait), slow);
        }
        let running = Running(Arc::clone(&self.background));
        let inner = Arc::clone(&self.inner);
        let owned = receipt.clone();
        let span = tracing::Span::current();
        let spawned = std::thread::Builder::new()
            .name("chain-read".to_owned())
            .spawn(move || {
                let _running = running;
                let _span = span.enter();
                let _ = in_flight.read(inner.as_ref(), &owned);
            });
        if let Err(e) = spawned {
            // The guard and the count went with the closure: the flight ends as
            // "unavailable", the count goes down.
            tracing::warn!(error = %e, "cannot start a chain read");
        }
        wait_for(&self.keeper, (&key, &flight), Some(max_wait), slow)
    }
}

/// Counts a read running on a thread of its own while it lives.
struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;

    /// A clock that moves only when the test says so.
    #[derive(Clone)]
    struct TestClock {
        start: Instant,
        offset_ms: Arc<AtomicU64>,
    }

    impl TestClock {
        fn new() -> Self {
            TestClock {
                start: Instant::now(),
                offset_ms: Arc::new(AtomicU64::new(0)),
            }
        }

        fn now(&self) -> Instant {
            self.start + Duration::from_millis(self.offset_ms.load(Ordering::SeqCst))
        }

        fn advance(&self, d: Duration) {
            let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
            self.offset_ms.fetch_add(ms, Ordering::SeqCst);
        }

        fn clock(&self) -> Clock {
            let me = self.clone();
            Arc::new(move || me.now())
        }
    }

    /// A chain whose answer the test sets, counting its reads.
    struct FakeChain {
        reads: AtomicUsize,
        /// 0 pass, 1 mismatch, 2 unavailable.
        mode: AtomicU64,
    }

    impl FakeChain {
        fn new() -> Arc<Self> {
            Arc::new(FakeChain {
                reads: AtomicUsize::new(0),
                mode: AtomicU64::new(0),
            })
        }

        fn reads(&self) -> usize {
            self.reads.load(Ordering::SeqCst)
        }

        fn set(&self, mode: u64) {
            self.mode.store(mode, Ordering::SeqCst);
        }
    }

    impl ChainCheck for FakeChain {
        fn check(
            &self,
            chain: &str,
            _receipt: &Value,
            batch: &AnchoredBatch<'_>,
        ) -> Result<String, ChainCheckError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            match self.mode.load(Ordering::SeqCst) {
                0 => Ok(format!("{chain} holds {}", batch.root)),
                1 => Err(ChainCheckError::Mismatch("another root".into())),
                _ => Err(ChainCheckError::Unavailable("connection refused".into())),
            }
        }
    }

    /// A chain whose reads wait until the test opens the gate; then answer,
    /// or panic.
    struct GatedChain {
        reads: AtomicUsize,
        open: Mutex<bool>,
        opened: Condvar,
        panics: bool,
    }

    impl GatedChain {
        fn new(panics: bool) -> Arc<Self> {
            Arc::new(GatedChain {
                reads: AtomicUsize::new(0),
                open: Mutex::new(false),
                opened: Condvar::new(),
                panics,
            })
        }

        fn open(&self) {
            *self.open.lock().unwrap() = true;
            self.opened.notify_all();
        }
    }

    impl ChainCheck for GatedChain {
        fn check(
            &self,
            chain: &str,
            _receipt: &Value,
            batch: &AnchoredBatch<'_>,
        ) -> Result<String, ChainCheckError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let mut open = self.open.lock().unwrap();
            while !*open {
                open = self.opened.wait(open).unwrap();
            }
            drop(open);
            assert!(!self.panics, "the node's answer could not be decoded");
            Ok(format!("{chain} holds {}", batch.root))
        }
    }

    /// A cache of `gated`'s answers (kept 60 s) whose callers wait at most `wait`.
    fn waiting_at_most(gated: &Arc<GatedChain>, wait: Duration) -> CachedChainCheck {
        CachedChainCheck::new(
            Arc::clone(gated) as Arc<dyn ChainCheck>,
            Duration::from_secs(60),
        )
        .with_max_wait(Some(wait))
    }

    /// Callers that miss the same answer while it is being read wait for
    /// that read (and a read that panics gives them "unavailable").
    #[test]
    fn callers_missing_the_same_answer_share_one_read() {
        for panics in [false, true] {
            let gated = GatedChain::new(panics);
            let cache = Arc::new(CachedChainCheck::new(
                Arc::clone(&gated) as Arc<dyn ChainCheck>,
                Duration::from_secs(60),
            ));
            let receipt = json!({"tx_hash": "0x11", "block_number": 7});
            let call = |cache: &Arc<CachedChainCheck>| {
                let (cache, receipt) = (Arc::clone(cache), receipt.clone());
                std::thread::spawn(move || {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        cache.check("a", &receipt, &batch("aa"))
                    }))
                })
            };
            let first = call(&cache);
            while gated.reads.load(Ordering::SeqCst) == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            let others: Vec<_> = (0..5).map(|_| call(&cache)).collect();
            // The read ends once all five wait for it: the flight is held by
            // the map, the reader and its guard, and each of them.
            let key = Key::new("a", &receipt, &batch("aa"));
            let deadline = Instant::now() + Duration::from_secs(60);
            while cache.lock().flights.get(&key).map_or(0, Arc::strong_count) < 3 + 5 {
                assert!(
                    Instant::now() < deadline,
                    "the other callers never waited for the read"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            gated.open();
            let first = first.join().unwrap();
            let others: Vec<_> = others.into_iter().map(|t| t.join().unwrap()).collect();
            assert_eq!(gated.reads.load(Ordering::SeqCst), 1, "panics: {panics}");
            if panics {
                assert!(first.is_err());
                for answer in others {
                    assert!(
                        matches!(answer, Ok(Err(ChainCheckError::Unavailable(_)))),
                        "{answer:?}"
                    );
                }
                // Nothing was kept: the next caller reads again.
                gated.reads.store(0, Ordering::SeqCst);
                let again = call(&cache).join().unwrap();
                assert!(again.is_err());
                assert_eq!(gated.reads.load(Ordering::SeqCst), 1);
            } else {
                assert_eq!(first.as_ref().unwrap(), &Ok("a holds aa".to_owned()));
                for answer in others {
                    assert_eq!(answer.unwrap(), Ok("a holds aa".to_owned()));
                }
            }
        }
    }

    /// With a maximum wait, a read the chain does not answer in time gives
    /// "unavailable" at once to every later caller, goes on in the
    /// background, and keeps its answer for the callers after it.
    #[test]
    fn a_slow_read_is_waited_for_at_most_the_max_wait() {
        for panics in [false, true] {
            let gated = GatedChain::new(panics);
            let wait = Duration::from_millis(100);
            let cache = waiting_at_most(&gated, wait);
            let receipt = json!({"tx_hash": "0x11", "block_number": 7});
            let started = Instant::now();
            let first = cache.check("a", &receipt, &batch("aa"));
            assert!(started.elapsed() >= wait);
            assert!(
                matches!(&first, Err(ChainCheckError::Unavailable(m)) if m.contains("within 0.1 s")),
                "{first:?}"
            );
            // Overdue: the next caller does not wait, nor start another read.
            let started = Instant::now();
            let second = cache.check("a", &receipt, &batch("aa"));
            assert!(started.elapsed() < wait, "{:?}", started.elapsed());
            assert!(matches!(second, Err(ChainCheckError::Unavailable(_))));
            assert!(cache.is_empty(), "an overdue caller's answer is not kept");

            gated.open();
            let deadline = Instant::now() + Duration::from_secs(60);
            while !cache.lock().flights.is_empty() {
                assert!(Instant::now() < deadline, "the read never ended");
                std::thread::sleep(Duration::from_millis(1));
            }
            assert_eq!(gated.reads.load(Ordering::SeqCst), 1);
            if panics {
                // A read that panicked keeps nothing.
                assert!(cache.is_empty());
            } else {
                assert_eq!(
                    cache.check("a", &receipt, &batch("aa")),
                    Ok("a holds aa".to_owned())
                );
                assert_eq!(gated.reads.load(Ordering::SeqCst), 1);
            }
        }
    }

    /// While a read of a chain is overdue, reads of that chain's other batches start but are
    /// not waited for (a node that is down delays a page once per chain, not once per batch);
    /// another chain is still waited for, and once the overdue read ends (answered or
    /// panicked) the chain is waited for again.
    #[test]
    fn an_overdue_read_makes_its_chain_not_waited_for() {
        for panics in [false, true] {
            let gated = GatedChain::new(panics);
            let wait = Duration::from_millis(100);
            let cache = waiting_at_most(&gated, wait);
            let receipt = json!({"tx_hash": "0x11", "block_number": 7});
            let first = cache.check("a", &receipt, &batch("b1"));
            assert!(matches!(first, Err(ChainCheckError::Unavailable(_))));
            let started = Instant::now();
            let other_batch = cache.check("a", &receipt, &batch("b2"));
            assert!(started.elapsed() < wait, "{:?}", started.elapsed());
            assert!(
                matches!(&other_batch, Err(ChainCheckError::Unavailable(m)) if m.contains("not answering")),
                "{other_batch:?}"
            );
            let started = Instant::now();
            let other_chain = cache.check("c", &receipt, &batch("b1"));
            assert!(started.elapsed() >= wait, "another chain is waited for");
            assert!(matches!(other_chain, Err(ChainCheckError::Unavailable(_))));
            assert_eq!(gated.reads.load(Ordering::SeqCst), 3, "each read started");
            // b1 of a and b1 of c have gone on for the wait (b2 of a perhaps too by now).
            assert!(cache.reads().overdue_now >= 2, "{:?}", cache.reads());
            assert!(cache.lock().slow("c", Some(wait)));

            gated.open();
            let deadline = Instant::now() + Duration::from_secs(60);
            while !cache.lock().flights.is_empty() {
                assert!(Instant::now() < deadline, "the reads never ended");
                std::thread::sleep(Duration::from_millis(1));
            }
            assert!(
                !cache.lock().slow("a", Some(wait)),
                "no chain is slow once its reads ended"
            );
            // Only the reads a page gave up waiting for are overdue: b1 of a, b1 of c.
            let reads = cache.reads();
            assert_eq!((reads.overdue, reads.overdue_now), (2, 0), "{reads:?}");
            assert_eq!(reads.ok, if panics { 0 } else { 3 }, "{reads:?}");
            // A read that panicked is counted as one that could not be made.
            assert_eq!(reads.unavailable, if panics { 3 } else { 0 }, "{reads:?}");
        }
    }

    /// At most [`MAX_BACKGROUND_READS`] reads run in the background; a miss
    /// beyond them is "unavailable" at once and starts nothing.
    #[test]
    fn background_reads_are_bounded() {
        let gated = GatedChain::new(false);
        let cache = CachedChainCheck::new(
            Arc::clone(&gated) as Arc<dyn ChainCheck>,
            Duration::from_secs(60),
        )
        .with_max_wait(Some(Duration::from_millis(5)));
        let receipt = json!({"tx_hash": "0x11", "block_number": 7});
        let roots: Vec<String> = (0..=MAX_BACKGROUND_READS)
            .map(|i| format!("{i:02x}"))
            .collect();
        for root in &roots[..MAX_BACKGROUND_READS] {
            assert!(cache.check("a", &receipt, &batch(root)).is_err());
        }
        let refused = cache.check("a", &receipt, &batch(&roots[MAX_BACKGROUND_READS]));
        assert!(
            matches!(&refused, Err(ChainCheckError::Unavailable(m)) if m.contains("already in progress")),
            "{refused:?}"
        );
        assert_eq!(cache.reads().refused, 1, "{:?}", cache.reads());
        gated.open();
        let deadline = Instant::now() + Duration::from_secs(60);
        while cache.len() < MAX_BACKGROUND_READS || cache.background.load(Ordering::SeqCst) > 0 {
            assert!(Instant::now() < deadline, "the reads never ended");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(gated.reads.load(Ordering::SeqCst), MAX_BACKGROUND_READS);
        // The refused key was not kept: it is read now.
        assert_eq!(
            cache.check("a", &receipt, &batch(&roots[MAX_BACKGROUND_READS])),
            Ok(format!("a holds {}", roots[MAX_BACKGROUND_READS]))
        );
    }

    /// A cache that keeps nothing waits for the read: a late answer would
    /// be of no use to anyone.
    #[test]
    fn a_cache_that_keeps_nothing_waits_for_the_read() {
        let gated = GatedChain::new(false);
        let cache = Arc::new(
            CachedChainCheck::new(Arc::clone(&gated) as Arc<dyn ChainCheck>, Duration::ZERO)
                .with_max_wait(Some(Duration::from_millis(5))),
        );
        let receipt = json!({"tx_hash": "0x11", "block_number": 7});
        let caller = {
            let (cache, receipt) = (Arc::clone(&cache), receipt.clone());
            std::thread::spawn(move || cache.check("a", &receipt, &batch("aa")))
        };
        while gated.reads.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(50));
        gated.open();
        assert_eq!(caller.join().unwrap(), Ok("a holds aa".to_owned()));
        assert_eq!(cache.background.load(Ordering::SeqCst), 0);
    }

    /// A read that answers within the maximum wait is answered as without one.
    #[test]
    fn a_quick_read_is_answered_within_the_max_wait() {
        let clock = TestClock::new();
        let fake = FakeChain::new();
        let cache = cached(&fake, 60, &clock).with_max_wait(Some(Duration::from_secs(60)));
        let receipt = json!({"tx_hash": "0x11", "block_number": 7});
        assert_eq!(
            cache.check("a", &receipt, &batch("aa")),
            Ok("a holds aa".to_owned())
        );
        fake.set(2);
        clock.advance(Duration::from_secs(61));
        assert!(matches!(
            cache.check("a", &receipt, &batch("aa")),
            Err(ChainCheckError::Unavailable(m)) if m == "connection refused"
        ));
        assert_eq!(fake.reads(), 2);
    }

    fn batch(root: &str) -> AnchoredBatch<'_> {
        AnchoredBatch {
            batch_id: "b1",
            suite: "sha256-rfc6962",
            root,
            leaf_count: 3,
            manifest_digest: "blake3:00",
        }
    }

    fn cached(fake: &Arc<FakeChain>, ttl_secs: u64, clock: &TestClock) -> CachedChainCheck {
        let inner: Arc<dyn ChainCheck> = Arc::clone(fake) as Arc<dyn ChainCheck>;
        CachedChainCheck::new(inner, Duration::from_secs(ttl_secs)).with_clock(clock.clock())
    }

    #[test]
    fn an_answer_is_read_once_then_kept_until_it_expires() {
        let clock = TestClock::new();
        let fake = FakeChain::new();
        let cache = cached(&fake, 60, &clock);
        let receipt = json!({"tx_hash": "0x11", "block_number": 7});
        let first = cache.check("a", &receipt, &batch("aa"));
        assert_eq!(first, Ok("a holds aa".to_owned()));
        for _ in 0..3 {
            assert_eq!(cache.check("a", &receipt, &batch("aa")), first);
        }
        assert_eq!(fake.reads(), 1);
        clock.advance(Duration::from_secs(59));
        assert_eq!(cache.check("a", &receipt, &batch("aa")), first);
        assert_eq!(fake.reads(), 1);
        clock.advance(Duration::from_secs(1));
        assert_eq!(cache.check("a", &receipt, &batch("aa")), first);
        assert_eq!(fake.reads(), 2);
    }

    #[test]
    fn a_mismatch_is_kept_like_a_pass() {
        let clock = TestClock::new();
        let fake = FakeChain::new();
        fake.set(1);
        let cache = cached(&fake, 60, &clock);
        let receipt = json!({"tx_hash": "0x11"});
        for _ in 0..3 {
            assert!(matches!(
                cache.check("a", &receipt, &batch("aa")),
                Err(ChainCheckError::Mismatch(_))
            ));
        }
        assert_eq!(fake.reads(), 1);
    }

    #[test]
    fn anything_checked_is_part_of_the_key() {
        let clock = TestClock::new();
        let fake = FakeChain::new();
        let cache = cached(&fake, 60, &clock);
        let receipt = json!({"tx_hash": "0x11", "block_number": 7});
        cache.check("a", &receipt, &batch("aa")).unwrap();
        // Another chain, root, receipt field, receipt number: each read anew.
        cache.check("b", &receipt, &batch("aa")).unwrap();
        assert_eq!(
            cache.check("a", &receipt, &batch("bb")).unwrap(),
            "a holds bb"
        );
        cache
            .check(
                "a",
                &json!({"tx_hash": "0x12", "block_number": 7}),
                &batch("aa"),
            )
            .unwrap();
        cache
            .check(
                "a",
                &json!({"tx_hash": "0x11", "block_number": 8}),
                &batch("aa"),
            )
            .unwrap();
        let mut other = batch("aa");
        other.leaf_count = 4;
        cache.check("a", &receipt, &other).unwrap();
        assert_eq!(fake.reads(), 6);
        assert_eq!(cache.len(), 6);
    }

    #[test]
    fn an_unavailable_chain_is_asked_again_soon() {
        let clock = TestClock::new();
        let fake = FakeChain::new();
        fake.set(2);
        let cache = cached(&fake, 60, &clock);
        let receipt = json!({"tx_hash": "0x11"});
        for _ in 0..3 {
            assert!(matches!(
                cache.check("a", &receipt, &batch("aa")),
                Err(ChainCheckError::Unavailable(_))
            ));
        }
        // Not hammered: one read while the answer is kept.
        assert_eq!(fake.reads(), 1);
        // The node is back; the unavailable answer expires after 5 s, not 60.
        fake.set(0);
        clock.advance(DEFAULT_UNAVAILABLE_TTL - Duration::from_millis(1));
        assert!(cache.check("a", &receipt, &batch("aa")).is_err());
        assert_eq!(fake.reads(), 1);
        clock.advance(Duration::from_millis(1));
        assert_eq!(
            cache.check("a", &receipt, &batch("aa")),
            Ok("a holds aa".to_owned())
        );
        assert_eq!(fake.reads(), 2);
        // And the pass is kept for the long time.
        clock.advance(Duration::from_secs(30));
        assert!(cache.check("a", &receipt, &batch("aa")).is_ok());
        assert_eq!(fake.reads(), 2);
    }

    #[test]
    fn the_unavailable_time_is_at_most_the_answer_time_and_zero_keeps_nothing() {
        let clock = TestClock::new();
        let fake = FakeChain::new();
        fake.set(2);
        let cache = cached(&fake, 1, &clock);
        let receipt = json!({});
        cache.check("a", &receipt, &batch("aa")).unwrap_err();
        clock.advance(Duration::from_secs(1));
        cache.check("a", &receipt, &batch("aa")).unwrap_err();
        assert_eq!(fake.reads(), 2);

        let fake = FakeChain::new();
        let cache = cached(&fake, 0, &clock);
        for _ in 0..3 {
            cache.check("a", &receipt, &batch("aa")).unwrap();
        }
        assert_eq!(fake.reads(), 3);
        assert!(cache.is_empty());
    }

    #[test]
    fn the_cache_is_bounded_and_drops_what_expires_first() {
        let clock = TestClock::new();
        let fake = FakeChain::new();
        let cache = cached(&fake, 60, &clock).with_max_entries(3);
        let receipt = json!({});
        let roots = ["r0", "r1", "r2", "r3", "r4"];
        for root in roots {
            cache.check("a", &receipt, &batch(root)).unwrap();
            clock.advance(Duration::from_secs(1));
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(fake.reads(), 5);
        // The two oldest were dropped; the three newest are kept.
        for root in &roots[2..] {
            cache.check("a", &receipt, &batch(root)).unwrap();
        }
        assert_eq!(fake.reads(), 5);
        cache.check("a", &receipt, &batch("r0")).unwrap();
        assert_eq!(fake.reads(), 6);
        assert_eq!(cache.len(), 3);

        // Expired answers make room before live ones are dropped.
        let fake = FakeChain::new();
        let cache = cached(&fake, 60, &clock).with_max_entries(2);
        fake.set(2);
        cache.check("a", &receipt, &batch("down")).unwrap_err();
        fake.set(0);
        cache.check("a", &receipt, &batch("up")).unwrap();
        clock.advance(DEFAULT_UNAVAILABLE_TTL);
        cache.check("a", &receipt, &batch("new")).unwrap();
        cache.check("a", &receipt, &batch("up")).unwrap();
        assert_eq!(fake.reads(), 3);

        let fake = FakeChain::new();
        let cache = cached(&fake, 60, &clock).with_max_entries(0);
        cache.check("a", &receipt, &batch("aa")).unwrap();
        cache.check("a", &receipt, &batch("aa")).unwrap();
        assert_eq!(fake.reads(), 2);
        assert!(cache.is_empty());
    }
}
