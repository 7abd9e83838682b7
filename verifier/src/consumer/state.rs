//! The consumer page's durable state: scan counts and first-scan times, PIN
//! hashes and the check value of their key, PIN confirmations and recent
//! wrong PINs, in one embedded `redb` database (`consumer.redb` under the
//! state directory).
//!
//! Every change is one write transaction committed with redb's default
//! durability (fsync before the commit returns), so what a consumer was told
//! survives a crash or restart. The methods block: async callers run them in
//! `spawn_blocking`.
//!
//! After an I/O error (a full disk, above all) redb refuses every later
//! transaction until the database is reopened. The store reopens it: an
//! operation that fails with such an error reopens the database and is
//! tried once more. Reopens are at least [`REOPEN_INTERVAL`] apart, so a disk
//! that keeps failing is not reopened in a loop; meanwhile operations fail
//! at once. [`StoreHealth`] tells whether the last write worked, for
//! `/readyz` and the metrics.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use redb::{Database, ReadableDatabase as _, ReadableTable as _, TableDefinition};

use super::backend::{StateFile, WriteFaults};
use super::error::ConsumerError;
use super::pin::{PinHash, PinKey};
use super::view::ViewKey;

/// File name of the database under the state directory.
pub const STATE_FILE: &str = "consumer.redb";

/// Least time between two reopens of the database after I/O errors.
pub const REOPEN_INTERVAL: Duration = Duration::from_secs(5);

/// code -> scan count (u64 LE), first scan (i64 LE µs), last scan (i64 LE µs).
const SCANS: TableDefinition<&str, &[u8]> = TableDefinition::new("scans");
/// code -> keyed PIN hash (32 bytes).
const PINS: TableDefinition<&str, &[u8]> = TableDefinition::new("pins");
/// code -> confirmation time (i64 LE µs), scan count then (u64 LE), and the
/// [`ConfirmerTag`] of the confirming request when it had one (16 bytes; a
/// confirmation written before tags, or without one, has none).
const CONFIRMED: TableDefinition<&str, &[u8]> = TableDefinition::new("pin_confirmed");
/// code -> the wrong PINs inside the policy's longest window, oldest first: 16 bytes each,
/// the time (i64 LE µs) and the [`PinClient`] that sent it.
const FAILURES: TableDefinition<&str, &[u8]> = TableDefinition::new("pin_wrong_attempts");
/// The wrong PINs of states written before the limits per client (times only), deleted at
/// open: they counted for 15 minutes, so nothing that still matters is lost.
const FAILURES_BEFORE_CLIENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("pin_failures");
/// name -> value: [`KEY_CHECK`], [`PROBE`], [`VIEW_KEY`].
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// The check value ([`PinKey::check_value`]) of the PIN hashes' key.
const KEY_CHECK: &str = "pin_key_check";
/// The key of the page's view tokens ([`ViewKey`]), 32 random bytes made
/// when the state is first opened.
const VIEW_KEY: &str = "view_key";
/// The time of the last write probe ([`ConsumerStore::probe`]), i64 LE µs.
const PROBE: &str = "probe";

/// At most `max` wrong PINs inside any `window_us`: once `max` are inside
/// the window, the next attempt is refused until the oldest of them leaves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinLimit {
    /// Wrong PINs allowed inside the window.
    pub max: u32,
    /// The window, in microseconds.
    pub window_us: i64,
}

/// How many wrong PINs a code takes, from one client and from all.
///
/// The limits per client keep one sender (a buyer who mistypes, or someone
/// who wants the check locked) to itself; the limit per code bounds a
/// guessing spread over many clients, and locks the code's check for
/// everyone once it is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinPolicy {
    /// Wrong PINs one client may send for a code in a short window.
    pub per_client: PinLimit,
    /// Wrong PINs one client may send for a code in a day. Below
    /// `per_code`, so that one client cannot lock the code for everyone.
    pub per_client_day: PinLimit,
    /// Wrong PINs all clients together may send for a code in a day.
    pub per_code: PinLimit,
}

impl PinPolicy {
    /// The longest of the windows: how long a wrong PIN is kept.
    fn longest_window_us(&self) -> i64 {
        self.per_client
            .window_us
            .max(self.per_client_day.window_us)
            .max(self.per_code.window_us)
    }
}

impl Default for PinPolicy {
    /// Per client and code, 5 wrong PINs per 15 minutes and 10 per day; per
    /// code, 100 per day from all clients together (36,500 guesses a year
    /// at most against the 100 million 8-digit PINs).
    fn default() -> Self {
        const MINUTE_US: i64 = 60 * 1_000_000;
        PinPolicy {
            per_client: PinLimit {
                max: 5,
                window_us: 15 * MINUTE_US,
            },
            per_client_day: PinLimit {
                max: 10,
                window_us: 24 * 60 * MINUTE_US,
            },
            per_code: PinLimit {
                max: 100,
                window_us: 24 * 60 * MINUTE_US,
            },
        }
    }
}

/// Who sent a PIN, as far as the wrong-PIN limits are concerned: a keyed
/// digest of the client's network (its IPv4 address, or the /48 of its IPv6
/// address; [`super::view::ViewKey::pin_client`]), so that the state holds
/// no address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PinClient([u8; 8]);

impl PinClient {
    /// The client of requests whose address is not known: all of them are
    /// one client.
    pub const UNKNOWN: PinClient = PinClient([0; 8]);

    /// A client from its digest.
    pub fn from_bytes(bytes: [u8; 8]) -> PinClient {
        PinClient(bytes)
    }

    /// The digest.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

/// Who confirmed a code's PIN, as far as telling the same browser's second
/// post of the right PIN (a double tap) from anyone else's: a keyed digest
/// of the confirming request's view token and [`PinClient`]
/// ([`super::view::ViewKey::confirmer_tag`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConfirmerTag([u8; 16]);

impl ConfirmerTag {
    /// A tag from its bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> ConfirmerTag {
        ConfirmerTag(bytes)
    }

    /// Its bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

/// Whose wrong PINs lock a PIN check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockScope {
    /// This client's: other clients may still try.
    Client,
    /// All clients' together: the code's check is locked for everyone.
    Code,
}

/// A PIN check locked by wrong PINs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinLock {
    /// When it opens again (µs since the epoch).
    pub until_us: i64,
    /// Whose wrong PINs lock it.
    pub scope: LockScope,
}

/// What the store knows about a code's scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScanInfo {
    /// Scans recorded, this one included.
    pub count: u64,
    /// When the code was first scanned (µs since the epoch).
    pub first_scan_us: Option<i64>,
    /// When its PIN was confirmed, if it was.
    pub pin_confirmed_us: Option<i64>,
}

/// The result of a PIN check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinOutcome {
    /// The PIN is right and confirmed now, for the first time.
    Confirmed {
        /// The confirmation time.
        at_us: i64,
    },
    /// The PIN is right but was confirmed before: the label may be a copy,
    /// unless the confirmer was this request's.
    AlreadyConfirmed {
        /// The first confirmation time.
        confirmed_us: i64,
        /// Whether the confirmation keeps a confirmer tag and it is the one
        /// this check was given: the same view token from the same client
        /// (the browser that confirmed it, posting again).
        same_confirmer: bool,
    },
    /// The PIN is wrong.
    Wrong {
        /// Attempts this client has left before a limit locks the check.
        attempts_left: u32,
        /// The lock, if none are left.
        lock: Option<PinLock>,
    },
    /// Too many wrong PINs; the PIN was not checked.
    RateLimited {
        /// The lock.
        lock: PinLock,
    },
    /// No PIN is registered for the code.
    NoPin,
}

/// What the state holds of the key its PIN hashes were made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRecord {
    /// Neither PIN hashes nor a key check value: any key may be the first.
    Empty,
    /// PIN hashes imported before check values were recorded: no key can be
    /// checked against them (the next import records its key's).
    Unrecorded,
    /// The check value of the key of the PIN hashes.
    Recorded([u8; 32]),
}

/// What [`ConsumerStore::import_pins`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinImport {
    /// PIN hashes written (new codes and replaced ones).
    pub written: u64,
    /// The state held the key record before the import (the import
    /// recorded the key's check value only if it was not
    /// [`KeyRecord::Recorded`]).
    pub before: KeyRecord,
}

/// The store's health: whether writes work, and how often they failed.
/// Shared with the metrics and the readiness check.
#[derive(Debug)]
pub struct StoreHealth {
    writable: AtomicBool,
    failures: AtomicU64,
    reopens: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Default for StoreHealth {
    fn default() -> Self {
        StoreHealth {
            writable: AtomicBool::new(true),
            failures: AtomicU64::new(0),
            reopens: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }
}

impl StoreHealth {
    /// Whether the last write worked (true before any write).
    pub fn writable(&self) -> bool {
        self.writable.load(Ordering::SeqCst)
    }

    /// Operations that failed with a store error since the start.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Reopens of the database after errors since the start.
    pub fn reopens(&self) -> u64 {
        self.reopens.load(Ordering::Relaxed)
    }

    /// The last failure, with its causes, while writes do not work.
    pub fn last_error(&self) -> Option<String> {
        if self.writable() {
            return None;
        }
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn failed(&self, err: &ConsumerError) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(err.chain());
        if self.writable.swap(false, Ordering::SeqCst) {
            tracing::error!(error = %err.chain(), "the consumer state cannot be written");
        }
    }

    fn wrote(&self) {
        if !self.writable.swap(true, Ordering::SeqCst) {
            tracing::warn!("the consumer state can be written again");
        }
    }
}

/// The open database, or none after a failed reopen; `generation` counts
/// the reopens, so that an operation that failed on an older database is
/// tried again rather than reopening once more.
#[derive(Debug)]
struct Slot {
    db: Option<Database>,
    generation: u64,
}

/// The consumer page's durable state.
#[derive(Debug)]
pub struct ConsumerStore {
    slot: RwLock<Slot>,
    path: PathBuf,
    faults: WriteFaults,
    health: Arc<StoreHealth>,
    /// When a reopen was last tried.
    last_reopen: Mutex<Option<Instant>>,
    reopen_interval: Duration,
    view_key: ViewKey,
}

impl ConsumerStore {
    /// Opens (or creates) the state in `state_dir`, creating the directory.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Io`] or [`ConsumerError::Store`].
    pub fn open(state_dir: &Path) -> Result<ConsumerStore, ConsumerError> {
        ConsumerStore::open_with_faults(state_dir, WriteFaults::new())
    }

    /// [`ConsumerStore::open`] with a switch that makes the file's writes
    /// fail, for tests of the recovery path.
    ///
    /// # Errors
    ///
    /// As [`ConsumerStore::open`].
    pub fn open_with_faults(
        state_dir: &Path,
        faults: WriteFaults,
    ) -> Result<ConsumerStore, ConsumerError> {
        std::fs::create_dir_all(state_dir).map_err(|source| ConsumerError::Io {
            path: state_dir.to_owned(),
            source,
        })?;
        let path = state_dir.join(STATE_FILE);
        let db = open_database(&path, &faults)?;
        let mut store = ConsumerStore {
            slot: RwLock::new(Slot {
                db: Some(db),
                generation: 0,
            }),
            path,
            faults,
            health: Arc::new(StoreHealth::default()),
            last_reopen: Mutex::new(None),
            reopen_interval: REOPEN_INTERVAL,
            view_key: ViewKey::from_bytes([0; 32]),
        };
        // Create the tables so that read transactions always find them, and
        // the view key on first use.
        let view_key = store
            .attempt(|db| {
                let txn = db.begin_write().map_err(store.err())?;
                for table in [SCANS, PINS, CONFIRMED, FAILURES] {
                    txn.open_table(table).map_err(store.err())?;
                }
                txn.delete_table(FAILURES_BEFORE_CLIENTS)
                    .map_err(store.err())?;
                let key = {
                    let mut meta = txn.open_table(META).map_err(store.err())?;
                    let stored = match meta.get(VIEW_KEY).map_err(store.err())? {
                        Some(v) => Some(
                            <[u8; 32]>::try_from(v.value())
                                .map_err(|_| store.corrupt("view key"))?,
                        ),
                        None => None,
                    };
                    match stored {
                        Some(key) => key,
                        None => {
                            let mut key = [0u8; 32];
                            getrandom::fill(&mut key).map_err(ConsumerError::Random)?;
                            meta.insert(VIEW_KEY, key.as_slice()).map_err(store.err())?;
                            key
                        }
                    }
                };
                txn.commit().map_err(store.err())?;
                Ok(key)
            })
            .map_err(|(e, _)| e)?;
        store.view_key = ViewKey::from_bytes(view_key);
        tracing::debug!(path = %store.path.display(), "consumer state opened");
        Ok(store)
    }

    /// Sets the least time between two reopens (default
    /// [`REOPEN_INTERVAL`]; tests use zero).
    pub fn with_reopen_interval(mut self, interval: Duration) -> ConsumerStore {
        self.reopen_interval = interval;
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key of the page's view tokens, kept in the state.
    pub fn view_key(&self) -> &ViewKey {
        &self.view_key
    }

    /// The store's health.
    pub fn health(&self) -> &Arc<StoreHealth> {
        &self.health
    }

    fn err<E: Into<redb::Error>>(&self) -> impl Fn(E) -> ConsumerError + '_ {
        move |e| ConsumerError::Store {
            path: self.path.clone(),
            source: e.into(),
        }
    }

    fn corrupt(&self, table: &'static str) -> ConsumerError {
        ConsumerError::Corrupt {
            path: self.path.clone(),
            table,
        }
    }

    /// Runs `op` on the open database, once; with the database's generation
    /// on failure.
    fn attempt<T>(
        &self,
        op: impl FnOnce(&Database) -> Result<T, ConsumerError>,
    ) -> Result<T, (ConsumerError, u64)> {
        let slot = self.slot.read().unwrap_or_else(PoisonError::into_inner);
        match &slot.db {
            Some(db) => op(db).map_err(|e| (e, slot.generation)),
            None => Err((
                ConsumerError::Closed {
                    path: self.path.clone(),
                },
                slot.generation,
            )),
        }
    }

    /// Runs `op`; after a failure that poisons the database (an I/O error),
    /// reopens it (at most once per [`REOPEN_INTERVAL`]) and runs `op` once
    /// more. `write` says whether `op` writes: a write that works marks the
    /// store healthy again.
    fn run<T>(
        &self,
        write: bool,
        op: impl Fn(&Database) -> Result<T, ConsumerError>,
    ) -> Result<T, ConsumerError> {
        let generation = match self.attempt(&op) {
            Ok(value) => {
                if write {
                    self.health.wrote();
                }
                return Ok(value);
            }
            Err((err, generation)) => {
                if !err.is_io() {
                    return Err(err);
                }
                self.health.failed(&err);
                if !self.reopen(generation) {
                    return Err(err);
                }
                generation
            }
        };
        match self.attempt(&op) {
            Ok(value) => {
                if write {
                    self.health.wrote();
                }
                Ok(value)
            }
            Err((err, _)) => {
                if err.is_io() {
                    self.health.failed(&err);
                }
                tracing::debug!(generation, "consumer state still failing after a reopen");
                Err(err)
            }
        }
    }

    /// Reopens the database that failed at `generation`, unless another
    /// operation already did, or a reopen was tried less than the interval
    /// ago. Returns whether to try again.
    fn reopen(&self, failed_generation: u64) -> bool {
        let mut slot = self.slot.write().unwrap_or_else(PoisonError::into_inner);
        if slot.generation != failed_generation {
            return true;
        }
        {
            let mut last = self
                .last_reopen
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|t| t.elapsed() < self.reopen_interval) {
                return false;
            }
            *last = Some(Instant::now());
        }
        // Close the failed database first: it holds the file's lock.
        slot.db = None;
        slot.generation += 1;
        match open_database(&self.path, &self.faults) {
            Ok(db) => {
                slot.db = Some(db);
                self.health.reopens.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(path = %self.path.display(), "consumer state reopened after an I/O error");
                true
            }
            Err(err) => {
                self.health.failed(&err);
                false
            }
        }
    }

    /// Writes a probe value, to find out whether the state can be written
    /// (and to reopen it if it could not): `/readyz` calls it while the
    /// last write failed.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Store`] or [`ConsumerError::Closed`].
    pub fn probe(&self, now_us: i64) -> Result<(), ConsumerError> {
        self.run(true, |db| {
            let txn = db.begin_write().map_err(self.err())?;
            {
                let mut meta = txn.open_table(META).map_err(self.err())?;
                meta.insert(PROBE, now_us.to_le_bytes().as_slice())
                    .map_err(self.err())?;
            }
            txn.commit().map_err(self.err())
        })
    }

    /// Records a scan of `code` at `now_us` and returns the code's scan state
    /// after it.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Store`], [`ConsumerError::Closed`] or
    /// [`ConsumerError::Corrupt`].
    pub fn record_scan(&self, code: &str, now_us: i64) -> Result<ScanInfo, ConsumerError> {
        self.run(true, |db| self.record_scan_in(db, code, now_us))
    }

    fn record_scan_in(
        &self,
        db: &Database,
        code: &str,
        now_us: i64,
    ) -> Result<ScanInfo, ConsumerError> {
        let txn = db.begin_write().map_err(self.err())?;
        let info = {
            let mut scans = txn.open_table(SCANS).map_err(self.err())?;
            let previous = match scans.get(code).map_err(self.err())? {
                Some(v) => Some(decode_scans(v.value()).ok_or_else(|| self.corrupt("scans"))?),
                None => None,
            };
            let (count, first) = match previous {
                Some((count, first, _)) => (count.saturating_add(1), first),
                None => (1, now_us),
            };
            let mut value = [0u8; 24];
            value[..8].copy_from_slice(&count.to_le_bytes());
            value[8..16].copy_from_slice(&first.to_le_bytes());
            value[16..].copy_from_slice(&now_us.to_le_bytes());
            scans.insert(code, value.as_slice()).map_err(self.err())?;
            let confirmed = txn.open_table(CONFIRMED).map_err(self.err())?;
            ScanInfo {
                count,
                first_scan_us: Some(first),
                pin_confirmed_us: self.confirmed_at(&confirmed, code)?,
            }
        };
        txn.commit().map_err(self.err())?;
        Ok(info)
    }

    /// The scan state of `code`, without recording a scan.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Store`], [`ConsumerError::Closed`] or
    /// [`ConsumerError::Corrupt`].
    pub fn scan_info(&self, code: &str) -> Result<ScanInfo, ConsumerError> {
        self.run(false, |db| {
            let txn = db.begin_read().map_err(self.err())?;
            let scans = txn.open_table(SCANS).map_err(self.err())?;
            let confirmed = txn.open_table(CONFIRMED).map_err(self.err())?;
            let mut info = ScanInfo {
                pin_confirmed_us: self.confirmed_at(&confirmed, code)?,
                ..ScanInfo::default()
            };
            if let Some(v) = scans.get(code).map_err(self.err())? {
                let (count, first, _) =
                    decode_scans(v.value()).ok_or_else(|| self.corrupt("scans"))?;
                info.count = count;
                info.first_scan_us = Some(first);
            }
            Ok(info)
        })
    }

    /// The lock on `client`'s PIN checks of `code` at `now_us` under
    /// `policy`, if wrong PINs lock them (what [`ConsumerStore::check_pin`]
    /// would answer with [`PinOutcome::RateLimited`]); `None` when they are
    /// open. Reads only.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Store`], [`ConsumerError::Closed`] or
    /// [`ConsumerError::Corrupt`].
    pub fn pin_lock(
        &self,
        code: &str,
        client: PinClient,
        now_us: i64,
        policy: PinPolicy,
    ) -> Result<Option<PinLock>, ConsumerError> {
        self.run(false, |db| {
            let txn = db.begin_read().map_err(self.err())?;
            let table = txn.open_table(FAILURES).map_err(self.err())?;
            let stored = table.get(code).map_err(self.err())?;
            let failures =
                self.recent_failures(stored.as_ref().map(|v| v.value()), now_us, policy)?;
            Ok(Limits::new(&failures, client, now_us, policy).lock())
        })
    }

    /// The wrong PINs stored as `stored` that are still inside the policy's longest window
    /// at `now_us`, oldest first.
    fn recent_failures(
        &self,
        stored: Option<&[u8]>,
        now_us: i64,
        policy: PinPolicy,
    ) -> Result<Vec<WrongPin>, ConsumerError> {
        let mut failures = match stored {
            Some(bytes) => {
                decode_wrong_pins(bytes).ok_or_else(|| self.corrupt("pin_wrong_attempts"))?
            }
            None => Vec::new(),
        };
        let window_start = now_us.saturating_sub(policy.longest_window_us());
        failures.retain(|f| f.at_us > window_start);
        Ok(failures)
    }

    /// Whether a PIN is registered for `code`.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Store`] or [`ConsumerError::Closed`].
    pub fn has_pin(&self, code: &str) -> Result<bool, ConsumerError> {
        self.run(false, |db| {
            let txn = db.begin_read().map_err(self.err())?;
            let pins = txn.open_table(PINS).map_err(self.err())?;
            Ok(pins.get(code).map_err(self.err())?.is_some())
        })
    }

    /// What the state holds of its PIN hashes' key.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Store`], [`ConsumerError::Closed`] or
    /// [`ConsumerError::Corrupt`].
    pub fn key_record(&self) -> Result<KeyRecord, ConsumerError> {
        self.run(false, |db| {
            let txn = db.begin_read().map_err(self.err())?;
            let meta = txn.open_table(META).map_err(self.err())?;
            let pins = txn.open_table(PINS).map_err(self.err())?;
            self.key_record_in(&meta, &pins)
        })
    }

    fn key_record_in(
        &self,
        meta: &impl redb::ReadableTable<&'static str, &'static [u8]>,
        pins: &impl redb::ReadableTable<&'static str, &'static [u8]>,
    ) -> Result<KeyRecord, ConsumerError> {
        if let Some(v) = meta.get(KEY_CHECK).map_err(self.err())? {
            let check = <[u8; 32]>::try_from(v.value()).map_err(|_| self.corrupt("meta"))?;
            return Ok(KeyRecord::Recorded(check));
        }
        Ok(if pins.first().map_err(self.err())?.is_some() {
            KeyRecord::Unrecorded
        } else {
            KeyRecord::Empty
        })
    }

    /// Checks `key` against the key the state's PIN hashes were made with,
    /// and returns what the state holds of it.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::KeyMismatch`] when the state recorded another key's
    /// check value; as [`ConsumerStore::key_record`].
    pub fn check_key(&self, key: &PinKey) -> Result<KeyRecord, ConsumerError> {
        let record = self.key_record()?;
        match record {
            KeyRecord::Recorded(check) if check != key.check_value() => {
                Err(ConsumerError::KeyMismatch {
                    path: self.path.clone(),
                })
            }
            _ => Ok(record),
        }
    }

    fn confirmed_at(
        &self,
        table: &impl redb::ReadableTable<&'static str, &'static [u8]>,
        code: &str,
    ) -> Result<Option<i64>, ConsumerError> {
        Ok(self.confirmation(table, code)?.map(|(at, _)| at))
    }

    /// The confirmation of `code`'s PIN: its time and its confirmer tag, if
    /// it keeps one.
    fn confirmation(
        &self,
        table: &impl redb::ReadableTable<&'static str, &'static [u8]>,
        code: &str,
    ) -> Result<Option<(i64, Option<ConfirmerTag>)>, ConsumerError> {
        match table.get(code).map_err(self.err())? {
            Some(v) => decode_confirmation(v.value())
                .map(Some)
                .ok_or_else(|| self.corrupt("pin_confirmed")),
            None => Ok(None),
        }
    }

    /// Checks a PIN hash for `code` sent by `client` at `now_us` under
    /// `policy`, recording a confirmation (with `confirmer`, the request's
    /// [`ConfirmerTag`] if it has one) or a wrong attempt. The right PIN of
    /// a code confirmed before says whether `confirmer` is the tag the
    /// confirmation keeps.
    ///
    /// While a limit of the policy is reached (one of the client's own, or
    /// the code's, which counts every client's wrong PINs), the PIN is not
    /// even compared: the answer is [`PinOutcome::RateLimited`]. A right PIN
    /// forgives the client's own wrong PINs; the others' still count for the
    /// code (docs/operations.md, "The PIN lockout").
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Store`], [`ConsumerError::Closed`] or
    /// [`ConsumerError::Corrupt`].
    pub fn check_pin(
        &self,
        code: &str,
        client: PinClient,
        confirmer: Option<ConfirmerTag>,
        candidate: &PinHash,
        now_us: i64,
        policy: PinPolicy,
    ) -> Result<PinOutcome, ConsumerError> {
        self.run(true, |db| {
            self.check_pin_in(db, code, (client, confirmer), candidate, now_us, policy)
        })
    }

    fn check_pin_in(
        &self,
        db: &Database,
        code: &str,
        (client, confirmer): (PinClient, Option<ConfirmerTag>),
        candidate: &PinHash,
        now_us: i64,
        policy: PinPolicy,
    ) -> Result<PinOutcome, ConsumerError> {
        let txn = db.begin_write().map_err(self.err())?;
        let outcome = {
            let pins = txn.open_table(PINS).map_err(self.err())?;
            let Some(stored) = pins.get(code).map_err(self.err())? else {
                return Ok(PinOutcome::NoPin);
            };
            let stored = <[u8; 32]>::try_from(stored.value())
                .map(PinHash::from_bytes)
                .map_err(|_| self.corrupt("pins"))?;
            let mut failures_table = txn.open_table(FAILURES).map_err(self.err())?;
            let mut failures = {
                let stored = failures_table.get(code).map_err(self.err())?;
                self.recent_failures(stored.as_ref().map(|v| v.value()), now_us, policy)?
            };
            if let Some(lock) = Limits::new(&failures, client, now_us, policy).lock() {
                PinOutcome::RateLimited { lock }
            } else if stored == *candidate {
                // This client's mistakes are forgiven; the others' still count for the code.
                let before = failures.len();
                failures.retain(|f| f.client != client);
                if failures.len() != before {
                    store_wrong_pins(&mut failures_table, code, &failures).map_err(self.err())?;
                }
                let mut confirmed = txn.open_table(CONFIRMED).map_err(self.err())?;
                match self.confirmation(&confirmed, code)? {
                    Some((confirmed_us, tag)) => PinOutcome::AlreadyConfirmed {
                        confirmed_us,
                        same_confirmer: tag.is_some() && tag == confirmer,
                    },
                    None => {
                        let scans = txn.open_table(SCANS).map_err(self.err())?;
                        let count = match scans.get(code).map_err(self.err())? {
                            Some(v) => {
                                decode_scans(v.value())
                                    .ok_or_else(|| self.corrupt("scans"))?
                                    .0
                            }
                            None => 0,
                        };
                        let mut value = Vec::with_capacity(32);
                        value.extend_from_slice(&now_us.to_le_bytes());
                        value.extend_from_slice(&count.to_le_bytes());
                        if let Some(tag) = confirmer {
                            value.extend_from_slice(tag.as_bytes());
                        }
                        confirmed
                            .insert(code, value.as_slice())
                            .map_err(self.err())?;
                        PinOutcome::Confirmed { at_us: now_us }
                    }
                }
            } else {
                failures.push(WrongPin {
                    at_us: now_us,
                    client,
                });
                store_wrong_pins(&mut failures_table, code, &failures).map_err(self.err())?;
                let limits = Limits::new(&failures, client, now_us, policy);
                let attempts_left = limits.attempts_left();
                PinOutcome::Wrong {
                    attempts_left,
                    lock: if attempts_left == 0 {
                        limits.lock()
                    } else {
                        None
                    },
                }
            }
        };
        txn.commit().map_err(self.err())?;
        Ok(outcome)
    }

    /// Hashes the PINs of `rows` (`(code, normalised PIN)`) with `key` and
    /// stores them, replacing those of codes already present (their scans
    /// and confirmations are kept), and records the key's check value.
    ///
    /// All or nothing: one transaction, committed only after the last row;
    /// an error leaves the state as it was. Check the rows first
    /// ([`super::pin::check_secrets`]) so that a bad file fails before any
    /// writing.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::KeyMismatch`] when the state holds the check value of
    /// another key; the first error of `rows`; [`ConsumerError::Store`].
    pub fn import_pins<I>(&self, key: &PinKey, rows: I) -> Result<PinImport, ConsumerError>
    where
        I: IntoIterator<Item = Result<(String, String), ConsumerError>>,
    {
        let check = key.check_value();
        let import = self
            .attempt(|db| {
                let txn = db.begin_write().map_err(self.err())?;
                let mut written = 0u64;
                let before = {
                    let mut meta = txn.open_table(META).map_err(self.err())?;
                    let mut pins = txn.open_table(PINS).map_err(self.err())?;
                    let before = self.key_record_in(&meta, &pins)?;
                    if matches!(before, KeyRecord::Recorded(c) if c != check) {
                        return Err(ConsumerError::KeyMismatch {
                            path: self.path.clone(),
                        });
                    }
                    for row in rows {
                        let (code, pin) = row?;
                        let hash = key.hash_pin(&code, &pin);
                        pins.insert(code.as_str(), hash.as_bytes().as_slice())
                            .map_err(self.err())?;
                        written += 1;
                    }
                    meta.insert(KEY_CHECK, check.as_slice())
                        .map_err(self.err())?;
                    before
                };
                txn.commit().map_err(self.err())?;
                Ok(PinImport { written, before })
            })
            .map_err(|(e, _)| e)?;
        tracing::info!(written = import.written, path = %self.path.display(), "PIN hashes imported");
        Ok(import)
    }
}

/// Opens (or creates) the database file.
fn open_database(path: &Path, faults: &WriteFaults) -> Result<Database, ConsumerError> {
    let store_err = |source: redb::Error| ConsumerError::Store {
        path: path.to_owned(),
        source,
    };
    let file = StateFile::open(path, faults.clone()).map_err(store_err)?;
    redb::Builder::new()
        .create_with_backend(file)
        .map_err(|e| store_err(e.into()))
}

/// A wrong PIN: when, and from whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WrongPin {
    at_us: i64,
    client: PinClient,
}

/// How a code's recent wrong PINs stand against each limit of a policy, for
/// one client at one time.
struct Limits {
    /// Per limit: (the limit, the times of the wrong PINs it counts inside its
    /// window, oldest first), the code's limit first.
    counted: [(PinLimit, Vec<i64>); 3],
}

impl Limits {
    fn new(failures: &[WrongPin], client: PinClient, now_us: i64, policy: PinPolicy) -> Limits {
        let times = |limit: PinLimit, only_client: bool| {
            let start = now_us.saturating_sub(limit.window_us);
            let times: Vec<i64> = failures
                .iter()
                .filter(|f| f.at_us > start && (!only_client || f.client == client))
                .map(|f| f.at_us)
                .collect();
            (limit, times)
        };
        Limits {
            counted: [
                times(policy.per_code, false),
                times(policy.per_client, true),
                times(policy.per_client_day, true),
            ],
        }
    }

    /// The lock, if a limit is reached: the reached limit that opens last,
    /// with its scope (the code's when it opens at the same time as one of
    /// the client's), so that "closed for everyone until" is said only of
    /// the time everyone may try again.
    fn lock(&self) -> Option<PinLock> {
        let mut lock: Option<PinLock> = None;
        for (i, (limit, times)) in self.counted.iter().enumerate() {
            let Some(until_us) = limit_end(times, *limit) else {
                continue;
            };
            let scope = if i == 0 {
                LockScope::Code
            } else {
                LockScope::Client
            };
            if lock.is_none_or(|held| until_us > held.until_us) {
                lock = Some(PinLock { until_us, scope });
            }
        }
        lock
    }

    /// Wrong PINs the client may still send before a limit is reached.
    fn attempts_left(&self) -> u32 {
        self.counted
            .iter()
            .map(|(limit, times)| {
                let counted = u32::try_from(times.len()).unwrap_or(u32::MAX);
                limit.max.saturating_sub(counted)
            })
            .min()
            .unwrap_or(0)
    }
}

/// When wrong PINs at `times` (oldest first, inside the limit's window)
/// stop reaching `limit`: the window after the `max`-th most recent one;
/// `None` when there are fewer.
fn limit_end(times: &[i64], limit: PinLimit) -> Option<i64> {
    let max = usize::try_from(limit.max).unwrap_or(usize::MAX);
    times
        .iter()
        .rev()
        .nth(max.saturating_sub(1))
        .map(|t| t.saturating_add(limit.window_us))
}

fn store_wrong_pins(
    table: &mut redb::Table<'_, &str, &[u8]>,
    code: &str,
    failures: &[WrongPin],
) -> Result<(), redb::StorageError> {
    if failures.is_empty() {
        table.remove(code)?;
    } else {
        let mut bytes = Vec::with_capacity(failures.len() * 16);
        for f in failures {
            bytes.extend_from_slice(&f.at_us.to_le_bytes());
            bytes.extend_from_slice(&f.client.0);
        }
        table.insert(code, bytes.as_slice())?;
    }
    Ok(())
}

fn decode_scans(bytes: &[u8]) -> Option<(u64, i64, i64)> {
    let bytes: &[u8; 24] = bytes.try_into().ok()?;
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
        w
    };
    Some((
        u64::from_le_bytes(word(0)),
        i64::from_le_bytes(word(1)),
        i64::from_le_bytes(word(2)),
    ))
}

/// A confirmation's time and confirmer tag: 16 bytes (time, scan count) or
/// 32 (and the tag).
fn decode_confirmation(bytes: &[u8]) -> Option<(i64, Option<ConfirmerTag>)> {
    if bytes.len() != 16 && bytes.len() != 32 {
        return None;
    }
    let at = i64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let tag = match bytes.get(16..32) {
        Some(tag) => Some(ConfirmerTag(tag.try_into().ok()?)),
        None => None,
    };
    Some((at, tag))
}

fn decode_wrong_pins(bytes: &[u8]) -> Option<Vec<WrongPin>> {
    if !bytes.chunks_exact(16).remainder().is_empty() {
        return None;
    }
    Some(
        bytes
            .chunks_exact(16)
            .map(|c| {
                let mut at = [0u8; 8];
                at.copy_from_slice(&c[..8]);
                let mut client = [0u8; 8];
                client.copy_from_slice(&c[8..]);
                WrongPin {
                    at_us: i64::from_le_bytes(at),
                    client: PinClient(client),
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::pin::PinKey;

    const MINUTE: i64 = 60 * 1_000_000;

    #[test]
    fn scans_count_and_keep_the_first_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ConsumerStore::open(dir.path()).expect("open");
        assert_eq!(store.scan_info("C").expect("info"), ScanInfo::default());
        let first = store.record_scan("C", 100).expect("scan");
        assert_eq!((first.count, first.first_scan_us), (1, Some(100)));
        let second = store.record_scan("C", 200).expect("scan");
        assert_eq!((second.count, second.first_scan_us), (2, Some(100)));
        drop(store);
        let store = ConsumerStore::open(dir.path()).expect("reopen");
        assert_eq!(store.scan_info("C").expect("info").count, 2);
    }

    const A: PinClient = PinClient([1; 8]);
    const B: PinClient = PinClient([2; 8]);

    #[test]
    fn wrong_pins_lock_until_the_window_passes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ConsumerStore::open(dir.path()).expect("open");
        let key = PinKey::from_bytes([7; 32]);
        let right = key.hash_pin("C", "12345678");
        let wrong = key.hash_pin("C", "00000000");
        assert_eq!(
            store
                .import_pins(&key, [Ok(("C".to_owned(), "12345678".to_owned()))])
                .expect("import")
                .written,
            1
        );
        let policy = PinPolicy::default();
        let client_lock = |until_us| PinLock {
            until_us,
            scope: LockScope::Client,
        };
        for i in 0..4u32 {
            let t = i64::from(i) * MINUTE;
            assert_eq!(
                store
                    .check_pin("C", A, None, &wrong, t, policy)
                    .expect("check"),
                PinOutcome::Wrong {
                    attempts_left: 4 - i,
                    lock: None
                }
            );
        }
        // Four wrong PINs leave one attempt: not locked.
        assert_eq!(
            store.pin_lock("C", A, 3 * MINUTE, policy).expect("read"),
            None
        );
        assert_eq!(
            store
                .check_pin("C", A, None, &wrong, 4 * MINUTE, policy)
                .expect("check"),
            PinOutcome::Wrong {
                attempts_left: 0,
                lock: Some(client_lock(15 * MINUTE))
            }
        );
        // A page of the code can say so before any PIN is sent.
        assert_eq!(
            store.pin_lock("C", A, 5 * MINUTE, policy).expect("read"),
            Some(client_lock(15 * MINUTE))
        );
        assert_eq!(
            store.pin_lock("C", A, 15 * MINUTE, policy).expect("read"),
            None
        );
        assert_eq!(store.pin_lock("D", A, 0, policy).expect("read"), None);
        // Another client is not locked by this one's mistakes.
        assert_eq!(
            store.pin_lock("C", B, 5 * MINUTE, policy).expect("read"),
            None
        );
        // Even the right PIN is refused while locked.
        assert_eq!(
            store
                .check_pin("C", A, None, &right, 5 * MINUTE, policy)
                .expect("check"),
            PinOutcome::RateLimited {
                lock: client_lock(15 * MINUTE)
            }
        );
        // The first failure leaves the window at 15 min: one attempt again.
        assert_eq!(
            store
                .check_pin("C", A, None, &right, 15 * MINUTE, policy)
                .expect("check"),
            PinOutcome::Confirmed { at_us: 15 * MINUTE }
        );
        assert_eq!(
            store
                .check_pin("C", B, None, &right, 16 * MINUTE, policy)
                .expect("check"),
            PinOutcome::AlreadyConfirmed {
                confirmed_us: 15 * MINUTE,
                same_confirmer: false
            }
        );
        assert_eq!(
            store.scan_info("C").expect("info").pin_confirmed_us,
            Some(15 * MINUTE)
        );
        assert_eq!(
            store
                .check_pin("D", A, None, &right, 0, policy)
                .expect("check"),
            PinOutcome::NoPin
        );
    }

    /// One client cannot lock a code for everyone (its own day's limit is
    /// below the code's); many together can, for the day, and the right PIN
    /// forgives only its sender's mistakes.
    #[test]
    fn the_limits_per_client_and_per_code() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ConsumerStore::open(dir.path()).expect("open");
        let key = PinKey::from_bytes([7; 32]);
        store
            .import_pins(&key, [Ok(("C".to_owned(), "12345678".to_owned()))])
            .expect("import");
        let right = key.hash_pin("C", "12345678");
        let wrong = key.hash_pin("C", "00000000");
        let policy = PinPolicy {
            per_client: PinLimit {
                max: 2,
                window_us: 10 * MINUTE,
            },
            per_client_day: PinLimit {
                max: 3,
                window_us: 100 * MINUTE,
            },
            per_code: PinLimit {
                max: 5,
                window_us: 100 * MINUTE,
            },
        };
        let check = |client, pin, t| {
            store
                .check_pin("C", client, None, pin, t, policy)
                .expect("check")
        };
        assert_eq!(
            check(A, &wrong, 0),
            PinOutcome::Wrong {
                attempts_left: 1,
                lock: None
            }
        );
        assert_eq!(
            check(A, &wrong, MINUTE),
            PinOutcome::Wrong {
                attempts_left: 0,
                lock: Some(PinLock {
                    until_us: 10 * MINUTE,
                    scope: LockScope::Client
                })
            }
        );
        // The short window passes: the day's limit leaves one more.
        assert_eq!(
            check(A, &wrong, 10 * MINUTE),
            PinOutcome::Wrong {
                attempts_left: 0,
                lock: Some(PinLock {
                    until_us: 100 * MINUTE,
                    scope: LockScope::Client
                })
            }
        );
        assert!(matches!(
            check(A, &wrong, 30 * MINUTE),
            PinOutcome::RateLimited { .. }
        ));
        // Its three wrong PINs are all it could send: the code stays open to others.
        assert_eq!(
            store.pin_lock("C", B, 30 * MINUTE, policy).expect("read"),
            None
        );
        assert_eq!(
            check(B, &wrong, 31 * MINUTE),
            PinOutcome::Wrong {
                attempts_left: 1,
                lock: None
            }
        );
        // The code's fifth wrong PIN locks it for everyone until the first leaves the day.
        let code_lock = PinLock {
            until_us: 100 * MINUTE,
            scope: LockScope::Code,
        };
        assert_eq!(
            check(B, &wrong, 32 * MINUTE),
            PinOutcome::Wrong {
                attempts_left: 0,
                lock: Some(code_lock)
            }
        );
        let c = PinClient([3; 8]);
        assert_eq!(
            store.pin_lock("C", c, 33 * MINUTE, policy).expect("read"),
            Some(code_lock)
        );
        assert_eq!(
            check(c, &right, 33 * MINUTE),
            PinOutcome::RateLimited { lock: code_lock }
        );
        // At 100 min A's first wrong PIN leaves the day: four are counted, the code opens.
        // B's right PIN forgives B's two; A's stay, so A's next wrong PIN is its day's third.
        assert_eq!(
            check(B, &right, 100 * MINUTE),
            PinOutcome::Confirmed {
                at_us: 100 * MINUTE
            }
        );
        assert_eq!(
            store.pin_lock("C", A, 100 * MINUTE, policy).expect("read"),
            None
        );
        assert_eq!(
            check(A, &wrong, 100 * MINUTE),
            PinOutcome::Wrong {
                attempts_left: 0,
                lock: Some(PinLock {
                    until_us: 101 * MINUTE,
                    scope: LockScope::Client
                })
            }
        );
    }

    /// A lock is said with the scope of the reached limit that opens last: the code's lock
    /// is "for everyone" only until everyone may try again.
    #[test]
    fn a_lock_has_the_scope_of_the_limit_that_opens_last() {
        let policy = PinPolicy {
            per_client: PinLimit {
                max: 2,
                window_us: 100,
            },
            per_client_day: PinLimit {
                max: 5,
                window_us: 200,
            },
            per_code: PinLimit {
                max: 3,
                window_us: 10,
            },
        };
        let wrong = |at_us, client| WrongPin { at_us, client };
        let failures = [wrong(0, A), wrong(5, B), wrong(6, A)];
        assert_eq!(
            Limits::new(&failures, A, 7, policy).lock(),
            Some(PinLock {
                until_us: 100,
                scope: LockScope::Client
            })
        );
        assert_eq!(
            Limits::new(&failures, B, 7, policy).lock(),
            Some(PinLock {
                until_us: 10,
                scope: LockScope::Code
            })
        );
        assert_eq!(Limits::new(&failures, B, 10, policy).lock(), None);
    }

    /// The wrong PINs of a state from before the limits per client are dropped at open.
    #[test]
    fn the_old_wrong_pins_table_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let db = Database::create(dir.path().join(STATE_FILE)).expect("create");
            let txn = db.begin_write().expect("txn");
            txn.open_table(FAILURES_BEFORE_CLIENTS)
                .expect("table")
                .insert("C", 5i64.to_le_bytes().as_slice())
                .expect("insert");
            txn.commit().expect("commit");
        }
        let store = ConsumerStore::open(dir.path()).expect("open");
        drop(store);
        let db = Database::open(dir.path().join(STATE_FILE)).expect("open");
        let txn = db.begin_read().expect("txn");
        assert!(txn.open_table(FAILURES_BEFORE_CLIENTS).is_err());
        assert!(txn.open_table(FAILURES).is_ok());
    }

    fn import(store: &ConsumerStore, key: &PinKey, rows: &[(&str, &str)]) -> PinImport {
        let rows: Vec<_> = rows
            .iter()
            .map(|(c, p)| Ok(((*c).to_owned(), (*p).to_owned())))
            .collect();
        store.import_pins(key, rows).expect("import")
    }

    #[test]
    fn a_failed_write_reopens_the_database_and_recovers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let faults = WriteFaults::new();
        let store = ConsumerStore::open_with_faults(dir.path(), faults.clone())
            .expect("open")
            .with_reopen_interval(Duration::ZERO);
        assert_eq!(store.record_scan("C", 1).expect("scan").count, 1);
        faults.fail_writes(true);
        let err = store.record_scan("C", 2).expect_err("the disk is full");
        assert!(err.is_io(), "{err:?}");
        assert!(!store.health().writable());
        assert!(store.health().last_error().is_some());
        assert!(store.health().failures() >= 1);
        assert!(store.probe(3).is_err());
        faults.fail_writes(false);
        // The database poisoned by the failure is reopened; the failed scan
        // was not recorded.
        assert_eq!(store.record_scan("C", 4).expect("scan").count, 2);
        assert!(store.health().writable());
        assert_eq!(store.health().last_error(), None);
        assert!(store.health().reopens() >= 1);
        assert_eq!(store.scan_info("C").expect("info").count, 2);
    }

    #[test]
    fn reopens_are_rate_limited() {
        let dir = tempfile::tempdir().expect("tempdir");
        let faults = WriteFaults::new();
        let store = ConsumerStore::open_with_faults(dir.path(), faults.clone())
            .expect("open")
            .with_reopen_interval(Duration::from_secs(3600));
        faults.fail_writes(true);
        for t in 0..20 {
            assert!(store.record_scan("C", t).is_err());
        }
        // One reopen (or one attempt) for twenty failures.
        assert!(store.health().reopens() <= 1);
        faults.fail_writes(false);
        // Still inside the interval: no reopen yet, the failure stays.
        assert!(store.record_scan("C", 30).is_err());
        assert!(!store.health().writable());
    }

    #[test]
    fn an_import_is_all_or_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ConsumerStore::open(dir.path()).expect("open");
        let key = PinKey::from_bytes([7; 32]);
        let rows = vec![
            Ok(("A".to_owned(), "1234".to_owned())),
            Err(ConsumerError::BadSecrets {
                path: "pins.csv".into(),
                line: 3,
                reason: "bad",
            }),
        ];
        assert!(matches!(
            store.import_pins(&key, rows),
            Err(ConsumerError::BadSecrets { line: 3, .. })
        ));
        assert!(!store.has_pin("A").expect("has_pin"));
        assert_eq!(store.key_record().expect("record"), KeyRecord::Empty);
    }

    #[test]
    fn the_key_check_value_is_recorded_and_enforced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ConsumerStore::open(dir.path()).expect("open");
        let key = PinKey::from_bytes([7; 32]);
        let other = PinKey::from_bytes([8; 32]);
        assert_eq!(store.check_key(&other).expect("check"), KeyRecord::Empty);
        let first = import(&store, &key, &[("A", "1234")]);
        assert_eq!((first.written, first.before), (1, KeyRecord::Empty));
        assert_eq!(
            store.check_key(&key).expect("check"),
            KeyRecord::Recorded(key.check_value())
        );
        assert!(matches!(
            store.check_key(&other),
            Err(ConsumerError::KeyMismatch { .. })
        ));
        // Another key's import is refused and writes nothing.
        let rows = vec![Ok(("B".to_owned(), "1234".to_owned()))];
        assert!(matches!(
            store.import_pins(&other, rows),
            Err(ConsumerError::KeyMismatch { .. })
        ));
        assert!(!store.has_pin("B").expect("has_pin"));
        // The same key imports again.
        assert_eq!(import(&store, &key, &[("B", "1234")]).written, 1);
    }

    #[test]
    fn a_state_from_before_key_check_values_records_the_next_imports_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ConsumerStore::open(dir.path()).expect("open");
        let key = PinKey::from_bytes([7; 32]);
        // PIN hashes written as before this change: no check value.
        store
            .attempt(|db| {
                let txn = db.begin_write().map_err(store.err())?;
                {
                    let mut pins = txn.open_table(PINS).map_err(store.err())?;
                    let hash = key.hash_pin("A", "1234");
                    pins.insert("A", hash.as_bytes().as_slice())
                        .map_err(store.err())?;
                }
                txn.commit().map_err(store.err())
            })
            .map_err(|(e, _)| e)
            .expect("legacy write");
        assert_eq!(store.key_record().expect("record"), KeyRecord::Unrecorded);
        // Any key passes the check: nothing tells.
        assert_eq!(
            store
                .check_key(&PinKey::from_bytes([9; 32]))
                .expect("check"),
            KeyRecord::Unrecorded
        );
        let imported = import(&store, &key, &[("B", "5678")]);
        assert_eq!(imported.before, KeyRecord::Unrecorded);
        assert_eq!(
            store.key_record().expect("record"),
            KeyRecord::Recorded(key.check_value())
        );
        let policy = PinPolicy::default();
        assert_eq!(
            store
                .check_pin("A", A, None, &key.hash_pin("A", "1234"), 0, policy)
                .expect("check"),
            PinOutcome::Confirmed { at_us: 0 }
        );
    }

    /// The confirmation keeps the confirming request's tag: the right PIN again with the same
    /// tag is the same confirmer's; another tag, or none, is not; and a confirmation written
    /// before tags (16 bytes) still reads, matching no tag.
    #[test]
    fn a_confirmation_keeps_its_confirmer_tag() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ConsumerStore::open(dir.path()).expect("open");
        let key = PinKey::from_bytes([7; 32]);
        import(&store, &key, &[("C", "12345678"), ("D", "12345678")]);
        let policy = PinPolicy::default();
        let tag = ConfirmerTag([5; 16]);
        let other = ConfirmerTag([6; 16]);
        let check = |code: &str, confirmer, t| {
            store
                .check_pin(
                    code,
                    A,
                    confirmer,
                    &key.hash_pin(code, "12345678"),
                    t,
                    policy,
                )
                .expect("check")
        };
        assert_eq!(check("C", Some(tag), 0), PinOutcome::Confirmed { at_us: 0 });
        let again = |same_confirmer| PinOutcome::AlreadyConfirmed {
            confirmed_us: 0,
            same_confirmer,
        };
        assert_eq!(check("C", Some(tag), 1), again(true));
        assert_eq!(check("C", Some(other), 2), again(false));
        assert_eq!(check("C", None, 3), again(false));
        // Confirmed without a tag: nothing matches it.
        assert_eq!(check("D", None, 0), PinOutcome::Confirmed { at_us: 0 });
        assert_eq!(check("D", Some(tag), 1), again(false));
        // A confirmation as written before tags: time and scan count.
        store
            .attempt(|db| {
                let txn = db.begin_write().map_err(store.err())?;
                {
                    let mut confirmed = txn.open_table(CONFIRMED).map_err(store.err())?;
                    let mut value = 7i64.to_le_bytes().to_vec();
                    value.extend_from_slice(&3u64.to_le_bytes());
                    confirmed
                        .insert("C", value.as_slice())
                        .map_err(store.err())?;
                }
                txn.commit().map_err(store.err())
            })
            .map_err(|(e, _)| e)
            .expect("old write");
        assert_eq!(
            check("C", Some(tag), 8),
            PinOutcome::AlreadyConfirmed {
                confirmed_us: 7,
                same_confirmer: false
            }
        );
        assert_eq!(
            store.scan_info("C").expect("info").pin_confirmed_us,
            Some(7)
        );
        assert_eq!(decode_confirmation(&[0; 15]), None);
        assert_eq!(decode_confirmation(&[0; 24]), None);
    }
}
