//! Exit codes: what kind of failure ended a command, so that a scheduler can
//! tell bad input (fix the data or the configuration) from a chain problem
//! (retry later, check the node or the account) from everything else.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success |
//! | 1 | not verified / not found (verification commands) |
//! | 2 | internal or environment error (store unreachable, I/O, a bug) |
//! | 3 | input error: the job file, an input file, the plan's inputs |
//! | 4 | chain error: a chain refused, failed or disagreed |
//! | 5 | locked: another run holds the batch's lock |

use std::fmt;

use proofmark_anchor::AnchorError;
use proofmark_anchor::chain::ChainError;
use proofmark_anchor::evm::EvmError;
use proofmark_anchor::ledger::{LedgerError, NoteError};
use proofmark_ingest::IngestError;

use crate::lock::LockError;

/// The class of a failure, and its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitClass {
    /// Internal or environment error: exit code 2.
    Internal,
    /// Input error: exit code 3.
    Input,
    /// Chain error: exit code 4.
    Chain,
    /// Another run holds the lock: exit code 5.
    Locked,
}

impl ExitClass {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitClass::Internal => 2,
            ExitClass::Input => 3,
            ExitClass::Chain => 4,
            ExitClass::Locked => 5,
        }
    }

    /// A short name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            ExitClass::Internal => "internal",
            ExitClass::Input => "input",
            ExitClass::Chain => "chain",
            ExitClass::Locked => "locked",
        }
    }
}

/// A marker attached as context to errors of a known class that carry no
/// typed cause (e.g. a job file's validation).
#[derive(Debug, Clone, Copy)]
pub struct Classified(pub ExitClass, pub &'static str);

impl fmt::Display for Classified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.1)
    }
}

/// `e` as an input error (exit 3), its message unchanged: for errors of the arguments or
/// configuration that carry no typed cause.
pub fn input_error(e: anyhow::Error) -> anyhow::Error {
    e.context(Classified(ExitClass::Input, ""))
}

/// The error of a caught panic: an internal error (exit 2) that says it is a bug and gives the
/// panic's message (the panic hook has already printed where it happened).
pub fn panicked(payload: &(dyn std::any::Any + Send)) -> anyhow::Error {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned());
    anyhow::anyhow!("{text}").context(Classified(
        ExitClass::Internal,
        "internal error (a bug in proofmark; please report it with the message above): panicked",
    ))
}

/// A context naming the batch a failure is about: the message starts with it, and the JSON
/// error event carries it as `batch_id`.
#[derive(Debug, Clone)]
pub struct BatchScope(pub String);

impl fmt::Display for BatchScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "batch {}", self.0)
    }
}

/// The error's message with its causes, joined with `": "`, as `{:#}` writes it but without
/// a cause whose words end the message before it (some libraries' errors write their source
/// at the end of their own message, which the chain then repeats).
pub fn message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut last = String::new();
    for cause in err.chain() {
        let mut text = cause.to_string();
        if text.is_empty() || (!last.is_empty() && last.ends_with(&text)) {
            continue;
        }
        // A cause that names again the chain the message named ("chain NAME: ...") does not.
        if let Some(place) = chain_place(&text)
            && out.contains(place)
        {
            text = text[place.len()..].to_owned();
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
        last = text;
    }
    out
}

/// The `chain NAME: ` that opens `text`, if it opens with one.
fn chain_place(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("chain ")?;
    let name = rest.find(": ").map(|end| &rest[..end])?;
    (!name.is_empty() && !name.contains(' ')).then(|| &text[.."chain ".len() + name.len() + 2])
}

/// The class of `err`: a [`Classified`] outermost context first, then the
/// first typed cause in its chain that has one.
pub fn classify(err: &anyhow::Error) -> ExitClass {
    if let Some(Classified(class, _)) = err.downcast_ref::<Classified>() {
        return *class;
    }
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<LockError>() {
            return match e {
                // The store could not be read or written to take the lock: not a lock held
                // by another run, but the store's own failure (an input error when the store
                // URL is wrong, else environment).
                LockError::Store(e) => ingest_class(e).unwrap_or(ExitClass::Internal),
                LockError::Held { .. } | LockError::Unreadable { .. } => ExitClass::Locked,
            };
        }
        if let Some(e) = cause.downcast_ref::<ChainError>() {
            return match e {
                ChainError::Config { .. }
                | ChainError::WrongLedgerKey { .. }
                | ChainError::MissingLedgerKey { .. }
                | ChainError::UnknownChain { .. }
                | ChainError::NotCommitted(_) => ExitClass::Input,
                ChainError::Ledger(LedgerError::Note(n)) if note_is_input(n) => ExitClass::Input,
                ChainError::Store(_) => ExitClass::Internal,
                // The store failed under the batch log (a full disk, say): the store's
                // failure, not the chain's.
                ChainError::Ledger(LedgerError::Store(e)) => {
                    ingest_class(e).unwrap_or(ExitClass::Internal)
                }
                ChainError::Evm(e) => evm_class(e),
                _ => ExitClass::Chain,
            };
        }
        // `proofmark chain` meets the evm errors bare.
        if let Some(e) = cause.downcast_ref::<EvmError>() {
            return evm_class(e);
        }
        // Ingest's errors arrive bare or boxed (the anchor crate's segment and plan errors
        // carry them as `Box<IngestError>`, which is the source they report).
        let ingest = cause
            .downcast_ref::<IngestError>()
            .or_else(|| cause.downcast_ref::<Box<IngestError>>().map(|b| &**b));
        if let Some(class) = ingest.and_then(ingest_class) {
            return class;
        }
        if let Some(class) = cause.downcast_ref::<AnchorError>().and_then(anchor_class) {
            return class;
        }
        if let Some(e) = cause.downcast_ref::<proofmark_verifier::VerifierError>() {
            use proofmark_verifier::VerifierError as V;
            match e {
                // Another publish held the code index for longer than a publish waits.
                V::IndexLocked(_) => return ExitClass::Locked,
                // A publish before its batch's commit or anchor: steps run out of order.
                V::NotCommitted(_) | V::NotAnchored(_) => return ExitClass::Input,
                _ => {}
            }
        }
        // The key and log errors of `proofmark log`, `serve` and `audit`, which meet them
        // outside a chain's error.
        if let Some(e) = cause.downcast_ref::<NoteError>()
            && note_is_input(e)
        {
            return ExitClass::Input;
        }
        if let Some(e) = cause.downcast_ref::<LedgerError>() {
            match e {
                LedgerError::Note(n) if note_is_input(n) => return ExitClass::Input,
                LedgerError::BadRange { .. } => return ExitClass::Input,
                LedgerError::Store(s) => {
                    if let Some(class) = ingest_class(s) {
                        return class;
                    }
                }
                _ => {}
            }
        }
    }
    ExitClass::Internal
}

/// Whether a note error is the configuration's (a key file or key string that is not a key),
/// not a note's.
pub(crate) fn note_is_input(e: &NoteError) -> bool {
    matches!(
        e,
        NoteError::KeyFile { .. }
            | NoteError::BadKeyFile(_)
            | NoteError::BadKeyName(_)
            | NoteError::BadVerifierKey(_)
    )
}

/// An evm chain's errors: its settings (the chains file, the key, the values to anchor) are
/// input errors; the node, the contract and the transactions are chain errors.
fn evm_class(e: &EvmError) -> ExitClass {
    match e {
        EvmError::Config { .. }
        | EvmError::Key { .. }
        | EvmError::NoContract { .. }
        | EvmError::BadValue { .. } => ExitClass::Input,
        _ => ExitClass::Chain,
    }
}

/// The anchor crate's errors that a person must resolve: a step run out of order or a
/// batch with nothing to commit. The others (store, I/O, integrity) keep looking.
fn anchor_class(e: &AnchorError) -> Option<ExitClass> {
    match e {
        AnchorError::NoPlan { .. }
        | AnchorError::InvalidPart { .. }
        | AnchorError::MissingSegments { .. }
        | AnchorError::NothingToCommit { .. } => Some(ExitClass::Input),
        _ => None,
    }
}

fn ingest_class(e: &IngestError) -> Option<ExitClass> {
    match e {
        IngestError::InvalidUrl { .. }
        | IngestError::InvalidBatchId { .. }
        | IngestError::InvalidBatchDate { .. }
        | IngestError::NoInputs
        | IngestError::Glob { .. }
        | IngestError::InputNotFound { .. }
        | IngestError::NoQualifyingFile { .. }
        | IngestError::InputInStore { .. }
        | IngestError::EmptyFile { .. }
        | IngestError::BadParquet { .. }
        | IngestError::UnknownSchema { .. }
        | IngestError::Vanished { .. }
        | IngestError::DigestMismatch { .. }
        | IngestError::ChangedSincePlan { .. }
        | IngestError::Decode { .. }
        | IngestError::RowGroupSchema { .. }
        | IngestError::TooManyRows { .. }
        | IngestError::PlanFrozen { .. } => Some(ExitClass::Input),
        // Store and local I/O failures: keep looking for a more specific
        // cause, else internal.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_classified() {
        let input = anyhow::Error::new(IngestError::NoInputs).context("plan stage");
        assert_eq!(classify(&input), ExitClass::Input);
        let chain = anyhow::Error::new(ChainError::BadReceipt {
            path: "r".into(),
            message: "m".into(),
        })
        .context("anchor");
        assert_eq!(classify(&chain), ExitClass::Chain);
        let config = anyhow::anyhow!("job.name is empty")
            .context(Classified(ExitClass::Input, "invalid job file"));
        assert_eq!(classify(&config), ExitClass::Input);
        // A segment's input error, boxed inside the anchor crate's error.
        let segment = anyhow::Error::new(proofmark_anchor::AnchorError::Segment {
            segment: 3,
            file: "f.parquet".into(),
            row_group: 0,
            source: Box::new(IngestError::ChangedSincePlan {
                url: "f.parquet".into(),
                what: "5000 bytes, the plan has 6068".into(),
            }),
        })
        .context("build stage");
        assert_eq!(classify(&segment), ExitClass::Input);
        let empty = anyhow::Error::new(proofmark_anchor::AnchorError::NothingToCommit {
            batch_id: "b".into(),
            rows_read: 0,
            rejects_by_reason: Default::default(),
            top_reasons: Vec::new(),
        });
        assert_eq!(classify(&empty), ExitClass::Input);
        let key = anyhow::Error::new(ChainError::from(EvmError::Key {
            chain: "c".into(),
            message: "PROOFMARK_KEY is not set".into(),
        }));
        assert_eq!(classify(&key), ExitClass::Input);
        let not_member = anyhow::Error::new(EvmError::NotMember {
            chain: "c".into(),
            account: "0x1".into(),
            contract: "0x2".into(),
        })
        .context("grant");
        assert_eq!(classify(&not_member), ExitClass::Chain);
        // A lock that cannot be taken because the store fails is the store's failure, not a
        // lock held by another run.
        let io = std::io::Error::other("Not a directory");
        let unwritable = anyhow::Error::new(LockError::Store(IngestError::Store {
            op: "write",
            url: "file:///x/store/batches/b/lock.json".into(),
            source: object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(io),
            }
            .into(),
        }))
        .context("run");
        assert_eq!(classify(&unwritable), ExitClass::Internal);
        let bad_url = anyhow::Error::new(LockError::Store(IngestError::InvalidUrl {
            url: "memory:///".into(),
            reason: "unsupported".into(),
        }));
        assert_eq!(classify(&bad_url), ExitClass::Input);
        // A ledger key file that is not a key: the configuration is at fault.
        let key_file = anyhow::Error::new(ChainError::Ledger(LedgerError::Note(
            NoteError::BadKeyFile("/x/ledger.key".into()),
        )));
        assert_eq!(classify(&key_file), ExitClass::Input);
        // The store failing under the batch log (a full disk) is the store's failure.
        let full = anyhow::Error::new(ChainError::Ledger(LedgerError::Store(
            IngestError::LocalIo {
                path: "/x/store/log/entries/.0.json.tmp".into(),
                source: std::io::Error::from_raw_os_error(28),
            },
        )))
        .context("anchor stage");
        assert_eq!(classify(&full), ExitClass::Internal);
        // Outside a chain's error: a key file that cannot be read (serve's `ledger` chain), a
        // range the log does not have, a publish before the anchor.
        let missing_key = anyhow::Error::new(NoteError::KeyFile {
            path: "/x/ledger.key".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        })
        .context("chain ledger: the ledger key file /x/ledger.key");
        assert_eq!(classify(&missing_key), ExitClass::Input);
        let range = anyhow::Error::new(LedgerError::BadRange {
            from: 3,
            to: 7,
            size: 2,
        });
        assert_eq!(classify(&range), ExitClass::Input);
        let unanchored =
            anyhow::Error::new(proofmark_verifier::VerifierError::NotAnchored("b".into()));
        assert_eq!(classify(&unanchored), ExitClass::Input);
        let unsigned = anyhow::Error::new(NoteError::BadSignature("k".into()));
        assert_eq!(classify(&unsigned), ExitClass::Internal);
        let other = anyhow::anyhow!("disk full");
        // A cause that the message before it already holds is not repeated.
        #[derive(Debug, thiserror::Error)]
        #[error("cannot open x: {0}")]
        struct Wraps(#[source] std::io::Error);
        let repeated =
            anyhow::Error::new(Wraps(std::io::Error::other("Not a directory"))).context("planning");
        assert_eq!(
            message(&repeated),
            "planning: cannot open x: Not a directory"
        );
        assert_eq!(
            format!("{repeated:#}"),
            "planning: cannot open x: Not a directory: Not a directory"
        );
        // A cause that names the chain its message named does not name it again.
        let chain = anyhow::anyhow!("chain local: get receipt at http://n failed")
            .context("chain local: after sending transaction 0xab (a rerun resumes it)");
        assert_eq!(
            message(&chain),
            "chain local: after sending transaction 0xab (a rerun resumes it): get receipt at \
             http://n failed"
        );
        let other_chain =
            anyhow::anyhow!("chain b: down").context("chain a: cannot read the anchor");
        assert_eq!(
            message(&other_chain),
            "chain a: cannot read the anchor: chain b: down"
        );
        assert_eq!(classify(&other), ExitClass::Internal);
        assert_eq!(
            [
                ExitClass::Internal,
                ExitClass::Input,
                ExitClass::Chain,
                ExitClass::Locked
            ]
            .map(ExitClass::code),
            [2, 3, 4, 5]
        );
    }
}
