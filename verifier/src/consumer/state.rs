//! The consumer page's durable state: scan counts and first-scan times, PIN
//! hashes, PIN confirmations and recent wrong PINs, in one embedded `redb`
//! database (`consumer.redb` under the state directory).
//!
//! Every change is one write transaction committed with redb's default
//! durability (fsync before the commit returns), so what a consumer was told
//! survives a crash or restart. The methods block: async callers run them in
//! `spawn_blocking`.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase as _, ReadableTable as _, TableDefinition};

use super::error::ConsumerError;
use super::pin::PinHash;

/// File name of the database under the state directory.
pub const STATE_FILE: &str = "consumer.redb";

/// code -> scan count (u64 LE), first scan (i64 LE µs), last scan (i64 LE µs).
const SCANS: TableDefinition<&str, &[u8]> = TableDefinition::new("scans");
/// code -> keyed PIN hash (32 bytes).
const PINS: TableDefinition<&str, &[u8]> = TableDefinition::new("pins");
/// code -> confirmation time (i64 LE µs), scan count then (u64 LE).
const CONFIRMED: TableDefinition<&str, &[u8]> = TableDefinition::new("pin_confirmed");
/// code -> times of the wrong PINs inside the window (i64 LE µs each).
const FAILURES: TableDefinition<&str, &[u8]> = TableDefinition::new("pin_failures");

/// Rows written per transaction by [`ConsumerStore::import_pins`].
const IMPORT_BATCH_ROWS: usize = 50_000;

/// How many wrong PINs a code takes, and for how long they count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinPolicy {
    /// Wrong PINs allowed inside one window; the next attempt is refused.
    pub max_failures: u32,
    /// The window, in microseconds.
    pub window_us: i64,
}

impl Default for PinPolicy {
    /// Five wrong PINs per fifteen minutes.
    fn default() -> Self {
        PinPolicy {
            max_failures: 5,
            window_us: 15 * 60 * 1_000_000,
        }
    }
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
    /// The PIN is right but was confirmed before: the label may be a copy.
    AlreadyConfirmed {
        /// The first confirmation time.
        confirmed_us: i64,
    },
    /// The PIN is wrong.
    Wrong {
        /// Attempts left in the window.
        attempts_left: u32,
        /// When attempts are allowed again, if none are left.
        retry_at_us: Option<i64>,
    },
    /// Too many wrong PINs; the PIN was not checked.
    RateLimited {
        /// When attempts are allowed again.
        retry_at_us: i64,
    },
    /// No PIN is registered for the code.
    NoPin,
}

/// The consumer page's durable state.
#[derive(Debug)]
pub struct ConsumerStore {
    db: Database,
    path: PathBuf,
}

impl ConsumerStore {
    /// Opens (or creates) the state in `state_dir`, creating the directory.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Io`] or [`ConsumerError::Store`].
    pub fn open(state_dir: &Path) -> Result<ConsumerStore, ConsumerError> {
        std::fs::create_dir_all(state_dir).map_err(|source| ConsumerError::Io {
            path: state_dir.to_owned(),
            source,
        })?;
        let path = state_dir.join(STATE_FILE);
        let db = Database::create(&path).map_err(|e| ConsumerError::Store {
            path: path.clone(),
            source: e.into(),
        })?;
        let store = ConsumerStore { db, path };
        // Create the tables so that read transactions always find them.
        let txn = store.db.begin_write().map_err(store.err())?;
        for table in [SCANS, PINS, CONFIRMED, FAILURES] {
            txn.open_table(table).map_err(store.err())?;
        }
        txn.commit().map_err(store.err())?;
        tracing::debug!(path = %store.path.display(), "consumer state opened");
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
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

    /// Records a scan of `code` at `now_us` and returns the code's scan state
    /// after it.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Store`] or [`ConsumerError::Corrupt`].
    pub fn record_scan(&self, code: &str, now_us: i64) -> Result<ScanInfo, ConsumerError> {
        let txn = self.db.begin_write().map_err(self.err())?;
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
    /// [`ConsumerError::Store`] or [`ConsumerError::Corrupt`].
    pub fn scan_info(&self, code: &str) -> Result<ScanInfo, ConsumerError> {
        let txn = self.db.begin_read().map_err(self.err())?;
        let scans = txn.open_table(SCANS).map_err(self.err())?;
        let confirmed = txn.open_table(CONFIRMED).map_err(self.err())?;
        let mut info = ScanInfo {
            pin_confirmed_us: self.confirmed_at(&confirmed, code)?,
            ..ScanInfo::default()
        };
        if let Some(v) = scans.get(code).map_err(self.err())? {
            let (count, first, _) = decode_scans(v.value()).ok_or_else(|| self.corrupt("scans"))?;
            info.count = count;
            info.first_scan_us = Some(first);
        }
        Ok(info)
    }

    /// Whether a PIN is registered for `code`.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Store`].
    pub fn has_pin(&self, code: &str) -> Result<bool, ConsumerError> {
        let txn = self.db.begin_read().map_err(self.err())?;
        let pins = txn.open_table(PINS).map_err(self.err())?;
        Ok(pins.get(code).map_err(self.err())?.is_some())
    }

    fn confirmed_at(
        &self,
        table: &impl redb::ReadableTable<&'static str, &'static [u8]>,
        code: &str,
    ) -> Result<Option<i64>, ConsumerError> {
        match table.get(code).map_err(self.err())? {
            Some(v) => {
                let bytes = v.value();
                let at = bytes
                    .get(..8)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .ok_or_else(|| self.corrupt("pin_confirmed"))?;
                Ok(Some(i64::from_le_bytes(at)))
            }
            None => Ok(None),
        }
    }

    /// Checks a PIN hash for `code` at `now_us` under `policy`, recording a
    /// confirmation or a wrong attempt.
    ///
    /// While the code has `max_failures` wrong PINs inside the window, the
    /// PIN is not even compared: the answer is [`PinOutcome::RateLimited`].
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Store`] or [`ConsumerError::Corrupt`].
    pub fn check_pin(
        &self,
        code: &str,
        candidate: &PinHash,
        now_us: i64,
        policy: PinPolicy,
    ) -> Result<PinOutcome, ConsumerError> {
        let txn = self.db.begin_write().map_err(self.err())?;
        let outcome = {
            let pins = txn.open_table(PINS).map_err(self.err())?;
            let Some(stored) = pins.get(code).map_err(self.err())? else {
                return Ok(PinOutcome::NoPin);
            };
            let stored = <[u8; 32]>::try_from(stored.value())
                .map(PinHash::from_bytes)
                .map_err(|_| self.corrupt("pins"))?;
            let mut failures_table = txn.open_table(FAILURES).map_err(self.err())?;
            let mut failures = match failures_table.get(code).map_err(self.err())? {
                Some(v) => decode_times(v.value()).ok_or_else(|| self.corrupt("pin_failures"))?,
                None => Vec::new(),
            };
            let window_start = now_us.saturating_sub(policy.window_us);
            failures.retain(|&t| t > window_start);
            let max = usize::try_from(policy.max_failures).unwrap_or(usize::MAX);
            let retry_at = |failures: &[i64]| {
                failures
                    .iter()
                    .rev()
                    .nth(max.saturating_sub(1))
                    .map(|t| t.saturating_add(policy.window_us))
            };
            if failures.len() >= max {
                let retry_at_us = retry_at(&failures).unwrap_or(now_us);
                PinOutcome::RateLimited { retry_at_us }
            } else if stored == *candidate {
                failures_table.remove(code).map_err(self.err())?;
                let mut confirmed = txn.open_table(CONFIRMED).map_err(self.err())?;
                match self.confirmed_at(&confirmed, code)? {
                    Some(confirmed_us) => PinOutcome::AlreadyConfirmed { confirmed_us },
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
                        let mut value = [0u8; 16];
                        value[..8].copy_from_slice(&now_us.to_le_bytes());
                        value[8..].copy_from_slice(&count.to_le_bytes());
                        confirmed
                            .insert(code, value.as_slice())
                            .map_err(self.err())?;
                        PinOutcome::Confirmed { at_us: now_us }
                    }
                }
            } else {
                failures.push(now_us);
                let bytes: Vec<u8> = failures.iter().flat_map(|t| t.to_le_bytes()).collect();
                failures_table
                    .insert(code, bytes.as_slice())
                    .map_err(self.err())?;
                let left = max.saturating_sub(failures.len());
                PinOutcome::Wrong {
                    attempts_left: u32::try_from(left).unwrap_or(u32::MAX),
                    retry_at_us: if left == 0 { retry_at(&failures) } else { None },
                }
            }
        };
        txn.commit().map_err(self.err())?;
        Ok(outcome)
    }

    /// Stores PIN hashes, replacing those of codes already present (their
    /// scans and confirmations are kept). Returns how many were written.
    ///
    /// # Errors
    ///
    /// The first error of `rows`, or [`ConsumerError::Store`]; rows of
    /// earlier transactions stay written (importing again is harmless).
    pub fn import_pins<I>(&self, rows: I) -> Result<u64, ConsumerError>
    where
        I: IntoIterator<Item = Result<(String, PinHash), ConsumerError>>,
    {
        let mut rows = rows.into_iter().peekable();
        let mut written = 0u64;
        while rows.peek().is_some() {
            let txn = self.db.begin_write().map_err(self.err())?;
            {
                let mut pins = txn.open_table(PINS).map_err(self.err())?;
                for row in rows.by_ref().take(IMPORT_BATCH_ROWS) {
                    let (code, hash) = row?;
                    pins.insert(code.as_str(), hash.as_bytes().as_slice())
                        .map_err(self.err())?;
                    written += 1;
                }
            }
            txn.commit().map_err(self.err())?;
        }
        tracing::info!(written, path = %self.path.display(), "PIN hashes imported");
        Ok(written)
    }
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

fn decode_times(bytes: &[u8]) -> Option<Vec<i64>> {
    if !bytes.chunks_exact(8).remainder().is_empty() {
        return None;
    }
    Some(
        bytes
            .chunks_exact(8)
            .map(|c| {
                let mut w = [0u8; 8];
                w.copy_from_slice(c);
                i64::from_le_bytes(w)
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

    #[test]
    fn wrong_pins_lock_until_the_window_passes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ConsumerStore::open(dir.path()).expect("open");
        let key = PinKey::from_bytes([7; 32]);
        let right = key.hash_pin("C", "12345678");
        let wrong = key.hash_pin("C", "00000000");
        assert_eq!(
            store
                .import_pins([Ok(("C".to_owned(), right))])
                .expect("import"),
            1
        );
        let policy = PinPolicy::default();
        for i in 0..4u32 {
            let t = i64::from(i) * MINUTE;
            assert_eq!(
                store.check_pin("C", &wrong, t, policy).expect("check"),
                PinOutcome::Wrong {
                    attempts_left: 4 - i,
                    retry_at_us: None
                }
            );
        }
        assert_eq!(
            store
                .check_pin("C", &wrong, 4 * MINUTE, policy)
                .expect("check"),
            PinOutcome::Wrong {
                attempts_left: 0,
                retry_at_us: Some(15 * MINUTE)
            }
        );
        // Even the right PIN is refused while locked.
        assert_eq!(
            store
                .check_pin("C", &right, 5 * MINUTE, policy)
                .expect("check"),
            PinOutcome::RateLimited {
                retry_at_us: 15 * MINUTE
            }
        );
        // The first failure leaves the window at 15 min: one attempt again.
        assert_eq!(
            store
                .check_pin("C", &right, 15 * MINUTE, policy)
                .expect("check"),
            PinOutcome::Confirmed { at_us: 15 * MINUTE }
        );
        assert_eq!(
            store
                .check_pin("C", &right, 16 * MINUTE, policy)
                .expect("check"),
            PinOutcome::AlreadyConfirmed {
                confirmed_us: 15 * MINUTE
            }
        );
        assert_eq!(
            store.scan_info("C").expect("info").pin_confirmed_us,
            Some(15 * MINUTE)
        );
        assert_eq!(
            store.check_pin("D", &right, 0, policy).expect("check"),
            PinOutcome::NoPin
        );
    }
}
