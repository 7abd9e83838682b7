//! The batch lock: one run of a batch at a time.
//!
//! A run creates `batches/<batch_id>/lock.json` with create-if-absent (the
//! store's conditional put, atomic on every backend) and deletes it when it
//! ends, whether it succeeded or failed. A process killed outright leaves
//! its lock behind; the next run reads it and tells whether its holder is
//! verifiably dead (same host, and no process with that id and start time),
//! alive, or on another host where it cannot tell. Only an explicit
//! `--break-stale-lock` (a verifiably dead holder's lock) or `--break-lock` (also
//! another host's) removes a lock, and never one whose holder is alive here.

use std::time::SystemTime;

use bytes::Bytes;
use proofmark_anchor::manifest::rfc3339_utc;
use proofmark_ingest::{IngestError, Store};
use serde::{Deserialize, Serialize};

/// The `format` of a lock object.
pub const LOCK_FORMAT: &str = "proofmark-lock/1";

/// Who holds a batch lock, as written in the lock object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// Always [`LOCK_FORMAT`].
    pub format: String,
    /// The locked batch.
    pub batch_id: String,
    /// Host name of the holder.
    pub host: String,
    /// Process id of the holder.
    pub pid: u32,
    /// The holder's start time in clock ticks since boot (Linux), which
    /// tells a live holder from a later process that reused its id.
    #[serde(default)]
    pub pid_start: Option<u64>,
    /// When the lock was taken (RFC 3339 UTC).
    pub since: String,
    /// What took it (`proofmark run`, ...).
    pub command: String,
}

/// Whether a lock's holder is still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolderState {
    /// Same host, and the process is running.
    Alive,
    /// Same host, and no such process: the lock is stale.
    Dead,
    /// Another host: this process cannot tell.
    Unknown,
}

/// Errors of taking a lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run holds the lock.
    #[error(
        "batch {batch_id} is locked by pid {pid} on {host} since {since} ({state}): {advice}",
        batch_id = .holder.batch_id, pid = .holder.pid, host = .holder.host, since = .holder.since,
        state = describe(*.state), advice = advice(*.state)
    )]
    Held {
        /// The lock's holder.
        holder: LockHolder,
        /// Whether it is alive.
        state: HolderState,
    },
    /// The lock object cannot be read.
    #[error("lock {path} is unreadable ({message}); remove it with --break-lock")]
    Unreadable {
        /// The lock object.
        path: String,
        /// Why.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] IngestError),
}

fn describe(state: HolderState) -> &'static str {
    match state {
        HolderState::Alive => "still running",
        HolderState::Dead => "that process is gone: the lock is stale",
        HolderState::Unknown => "on another host: cannot tell whether it is running",
    }
}

fn advice(state: HolderState) -> &'static str {
    match state {
        HolderState::Alive => "wait for it to finish",
        HolderState::Dead => {
            "rerun with --break-stale-lock (or --break-lock) to remove the stale lock and resume"
        }
        HolderState::Unknown => {
            "make sure that run has ended, then rerun with --break-lock to remove the lock"
        }
    }
}

/// Which locks a run may break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BreakLock {
    /// None: every lock found is refused.
    #[default]
    No,
    /// A lock whose holder is verifiably dead ([`HolderState::Dead`]: same host, no such
    /// process) (`--break-stale-lock`).
    Stale,
    /// Any lock whose holder is not alive on this host: also another host's and an
    /// unreadable one (`--break-lock`).
    Any,
}

impl BreakLock {
    /// Whether a lock whose holder is in `state` (`None`: unreadable) may be broken.
    fn allows(self, state: Option<HolderState>) -> bool {
        match (self, state) {
            (_, Some(HolderState::Alive)) | (BreakLock::No, _) => false,
            (BreakLock::Stale, state) => state == Some(HolderState::Dead),
            (BreakLock::Any, _) => true,
        }
    }
}

/// The store path of a batch's lock.
pub fn lock_path(batch_id: &str) -> String {
    format!("batches/{batch_id}/lock.json")
}

/// A held batch lock; [`BatchLock::release`] removes it.
#[derive(Debug)]
pub struct BatchLock {
    path: String,
}

impl BatchLock {
    /// Takes the lock of `batch_id`, breaking a lock left by a holder that is not alive here
    /// when `break_lock` allows it. Returns the lock and the holder of the lock that was
    /// broken, if any.
    pub async fn acquire(
        store: &Store,
        batch_id: &str,
        command: &str,
        break_lock: BreakLock,
    ) -> Result<(BatchLock, Option<LockHolder>), LockError> {
        let path = lock_path(batch_id);
        let me = LockHolder {
            format: LOCK_FORMAT.to_owned(),
            batch_id: batch_id.to_owned(),
            host: host_name(),
            pid: std::process::id(),
            pid_start: process_start_ticks(std::process::id()),
            since: rfc3339_utc(SystemTime::now()),
            command: command.to_owned(),
        };
        let body = Bytes::from(serde_json::to_vec_pretty(&me).unwrap_or_default());
        let mut broken = None;
        for _ in 0..2 {
            if store.put_if_absent(&path, body.clone()).await? {
                return Ok((BatchLock { path }, broken));
            }
            let Some(bytes) = store.get(&path).await? else {
                // Released between the two calls: try again.
                continue;
            };
            let holder: Option<LockHolder> = serde_json::from_slice(&bytes).ok();
            let state = holder.as_ref().map(holder_state);
            match (holder, state) {
                (Some(holder), Some(state)) if !break_lock.allows(Some(state)) => {
                    return Err(LockError::Held { holder, state });
                }
                (None, _) if !break_lock.allows(None) => {
                    return Err(LockError::Unreadable {
                        path,
                        message: "not a lock object".to_owned(),
                    });
                }
                (holder, _) => {
                    let holder_text = holder.as_ref().map_or_else(
                        || "an unreadable lock object".to_owned(),
                        |h| {
                            format!(
                                "pid {} on {} since {} ({})",
                                h.pid, h.host, h.since, h.command
                            )
                        },
                    );
                    tracing::warn!(lock = %path, holder = %holder_text, "breaking the batch lock");
                    store.delete(&path).await?;
                    broken = holder;
                }
            }
        }
        Err(LockError::Unreadable {
            path,
            message: "the lock changed hands while it was being taken".to_owned(),
        })
    }

    /// Removes the lock.
    pub async fn release(self, store: &Store) -> Result<(), LockError> {
        store.delete(&self.path).await?;
        Ok(())
    }
}

/// Whether `holder` is alive, as far as this host can tell.
pub fn holder_state(holder: &LockHolder) -> HolderState {
    if holder.host != host_name() {
        return HolderState::Unknown;
    }
    match (process_start_ticks(holder.pid), holder.pid_start) {
        (None, _) => {
            if std::path::Path::new("/proc/self/stat").exists() {
                HolderState::Dead
            } else {
                // No /proc: cannot tell.
                HolderState::Unknown
            }
        }
        (Some(now), Some(then)) if now != then => HolderState::Dead,
        (Some(_), _) => HolderState::Alive,
    }
}

/// This host's name.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// The start time of process `pid` in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`), or `None` when there is no such process.
fn process_start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')')? + 1..];
    // Fields from 3 on; the start time is field 22.
    after.split_whitespace().nth(22 - 3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn holder(pid: u32, pid_start: Option<u64>, host: String) -> LockHolder {
        LockHolder {
            format: LOCK_FORMAT.into(),
            batch_id: "b".into(),
            host,
            pid,
            pid_start,
            since: "2026-11-25T00:00:00Z".into(),
            command: "test".into(),
        }
    }

    /// Writes `body` as batch b1's lock, as a run that holds it would have.
    async fn write_lock(store: &Store, body: &[u8]) {
        store
            .put(&lock_path("b1"), Bytes::copy_from_slice(body))
            .await
            .unwrap();
    }

    #[test]
    fn holders_are_told_apart() {
        let me = std::process::id();
        let start = process_start_ticks(me);
        assert!(start.is_some(), "this process has a start time");
        assert_eq!(
            holder_state(&holder(me, start, host_name())),
            HolderState::Alive
        );
        assert_eq!(
            holder_state(&holder(me, start.map(|s| s + 1), host_name())),
            HolderState::Dead,
            "a reused pid is not the holder"
        );
        // A process that has exited.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert_eq!(
            holder_state(&holder(pid, Some(1), host_name())),
            HolderState::Dead
        );
        assert_eq!(
            holder_state(&holder(me, start, "elsewhere.example".into())),
            HolderState::Unknown
        );
    }

    #[tokio::test]
    async fn a_second_run_is_refused_and_a_stale_lock_needs_break_lock() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::from_url(dir.path().to_str().unwrap()).unwrap();
        let (lock, broken) = BatchLock::acquire(&store, "b1", "test", BreakLock::No)
            .await
            .unwrap();
        assert!(broken.is_none());
        // Held by this (live) process: refused, even with --break-lock.
        for brk in [BreakLock::No, BreakLock::Stale, BreakLock::Any] {
            let err = BatchLock::acquire(&store, "b1", "test", brk)
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    LockError::Held {
                        state: HolderState::Alive,
                        ..
                    }
                ),
                "{err}"
            );
        }
        lock.release(&store).await.unwrap();
        let (lock, _) = BatchLock::acquire(&store, "b1", "test", BreakLock::No)
            .await
            .unwrap();
        // Make it look like a dead process's lock.
        let mut dead = holder(u32::MAX - 1, Some(1), host_name());
        dead.batch_id = "b1".into();
        let dead = serde_json::to_vec(&dead).unwrap();
        write_lock(&store, &dead).await;
        drop(lock);
        let err = BatchLock::acquire(&store, "b1", "test", BreakLock::No)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                LockError::Held {
                    state: HolderState::Dead,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("--break-stale-lock"), "{err}");
        for brk in [BreakLock::Stale, BreakLock::Any] {
            write_lock(&store, &dead).await;
            let (lock, broken) = BatchLock::acquire(&store, "b1", "test", brk).await.unwrap();
            assert_eq!(broken.unwrap().pid, u32::MAX - 1, "{brk:?}");
            lock.release(&store).await.unwrap();
            assert!(store.get(&lock_path("b1")).await.unwrap().is_none());
        }
    }

    /// Another host's lock, and one that cannot be read, are broken by --break-lock only:
    /// --break-stale-lock cannot tell that their holders are gone.
    #[tokio::test]
    async fn only_break_lock_removes_a_lock_it_cannot_judge() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::from_url(dir.path().to_str().unwrap()).unwrap();
        let mut foreign = holder(1, Some(1), "elsewhere.example".into());
        foreign.batch_id = "b1".into();
        for (body, unreadable) in [
            (serde_json::to_vec(&foreign).unwrap(), false),
            (b"not json".to_vec(), true),
        ] {
            write_lock(&store, &body).await;
            for brk in [BreakLock::No, BreakLock::Stale] {
                let err = BatchLock::acquire(&store, "b1", "test", brk)
                    .await
                    .unwrap_err();
                assert_eq!(
                    matches!(err, LockError::Unreadable { .. }),
                    unreadable,
                    "{err}"
                );
                assert!(store.get(&lock_path("b1")).await.unwrap().is_some());
            }
            let (lock, _) = BatchLock::acquire(&store, "b1", "test", BreakLock::Any)
                .await
                .unwrap();
            lock.release(&store).await.unwrap();
        }
    }
}
