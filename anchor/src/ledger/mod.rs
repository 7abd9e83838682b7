//! The embedded `ledger` chain: the batch log alone, kept in the store.
//!
//! Every committed batch is appended to one append-only RFC 6962 log
//! (`sha256-rfc6962` suite) whose checkpoints are signed with Ed25519 in the
//! C2SP `tlog-checkpoint` signed-note format. Consistency proofs between any
//! two checkpoints show that no earlier batch was dropped or rewritten. The
//! log needs no setup: the signing key is generated on first use.

pub mod log;
pub mod note;

pub use log::{BatchAnchor, BatchLog, ConsistencyEvidence, LedgerError, LogEntry, LogReceipt};
pub use note::{Checkpoint, NoteError, NoteSigner, VerifierKey, open_note};
