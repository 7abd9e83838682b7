//! The batch log: an append-only RFC 6962 log (suite `sha256-rfc6962`) of
//! committed batches, with signed checkpoints, kept in the store under `log/`.
//!
//! Layout (SPEC.md section 9):
//! - `log/entries/<index>.json`: one entry per batch, written with
//!   create-if-absent: the compare-and-swap that makes the log single-writer;
//! - `log/checkpoints/<size>.txt`: every signed checkpoint, never overwritten;
//! - `log/checkpoint.txt`: the latest signed checkpoint.

use bytes::Bytes;
use proofmark_ingest::{IngestError, Store};
use proofmark_merkle::{
    ConsistencyProof, Hash, InclusionProof, MerkleTree, Sha256Rfc6962, Suite, TreeError,
    VerifyError, verify_consistency, verify_inclusion,
};
use serde::{Deserialize, Serialize};

use super::note::{Checkpoint, NoteError, NoteSigner, VerifierKey};

/// Folder of the batch log in the store.
pub const LOG_DIR: &str = "log";
/// Width of the zero-padded numbers in entry and checkpoint names.
const NUM_WIDTH: usize = 20;

/// Errors of the batch log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] IngestError),
    /// A note, checkpoint or key problem.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// Other writers appended at the same position first, on every one of the append's
    /// attempts (each attempt reads the log again).
    #[error(
        "other writers appended to the log at the same time, {attempts} times in a row (last at \
         entry {index}); nothing was overwritten: run the append again"
    )]
    ConcurrentAppend {
        /// The contested entry index of the last attempt.
        index: u64,
        /// How many attempts lost the race.
        attempts: u32,
    },
    /// The stored log is not what it must be (a gap, a bad entry, a rewritten checkpoint).
    #[error("the batch log in the store is inconsistent: {0}")]
    Inconsistent(String),
    /// The batch is already in the log with different contents.
    #[error(
        "batch {batch_id} is already in the log (entry {index}) with root {logged_root}, \
         not {root}: a committed batch is never re-anchored with another root"
    )]
    Conflict {
        /// The batch.
        batch_id: String,
        /// Its entry.
        index: u64,
        /// The root in the log.
        logged_root: String,
        /// The root offered now.
        root: String,
    },
    /// No entry for the batch.
    #[error("batch {0} is not in the log")]
    NotLogged(String),
    /// A tree or proof computation failed.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// A proof did not verify.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// Bad JSON in the store.
    #[error("{path}: {source}")]
    Json {
        /// The object.
        path: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Sizes out of range for a consistency proof.
    #[error("no consistency proof from size {from} to size {to}: the log has {size} entries")]
    BadRange {
        /// Older size.
        from: u64,
        /// Newer size.
        to: u64,
        /// Current size.
        size: u64,
    },
}

/// One log entry: a committed batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Position in the log (0-based).
    pub index: u64,
    /// The batch id.
    pub batch_id: String,
    /// The batch's hash suite name.
    pub suite: String,
    /// The batch root, hex.
    pub root: String,
    /// Leaves in the batch.
    pub leaf_count: u64,
    /// `blake3:` + hex of the batch's manifest.
    pub manifest_digest: String,
}

impl LogEntry {
    /// The entry's leaf bytes (SPEC.md section 9): five lines of UTF-8 text.
    pub fn leaf_bytes(&self) -> Vec<u8> {
        format!(
            "proofmark-batch-log-entry v1\n{}\n{}\n{}\n{}\n{}\n",
            self.batch_id, self.suite, self.root, self.leaf_count, self.manifest_digest
        )
        .into_bytes()
    }

    /// The entry's leaf hash in the log (`SHA-256(0x00 || leaf bytes)`).
    pub fn leaf_hash(&self) -> Hash {
        Sha256Rfc6962::hash_leaf(&self.leaf_bytes())
    }
}

/// The batch to append: what the manifest commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchAnchor {
    /// The batch id.
    pub batch_id: String,
    /// The batch's hash suite name.
    pub suite: String,
    /// The batch root, hex.
    pub root: String,
    /// Leaves in the batch.
    pub leaf_count: u64,
    /// `blake3:` + hex of the manifest.
    pub manifest_digest: String,
}

impl BatchAnchor {
    /// `Ok` when `claimed` (what a receipt says it anchors) is this batch; else
    /// the message naming the batch and root the receipt anchors instead.
    pub fn check_claim(&self, claimed: &BatchAnchor) -> Result<(), String> {
        if claimed == self {
            return Ok(());
        }
        let mut differences = Vec::new();
        let mut differ = |field: &str, claimed: &str, actual: &str| {
            if claimed != actual {
                differences.push(format!("{field} {claimed} (the manifest: {actual})"));
            }
        };
        differ("batch", &claimed.batch_id, &self.batch_id);
        differ("suite", &claimed.suite, &self.suite);
        differ("root", &claimed.root, &self.root);
        differ(
            "leaf count",
            &claimed.leaf_count.to_string(),
            &self.leaf_count.to_string(),
        );
        differ(
            "manifest digest",
            &claimed.manifest_digest,
            &self.manifest_digest,
        );
        Err(format!(
            "it anchors batch {} with {}",
            claimed.batch_id,
            differences.join(", ")
        ))
    }
}

/// The outcome of an append: the entry, the signed checkpoint that covers it
/// and the entry's inclusion proof against that checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogReceipt {
    /// The entry.
    pub entry: LogEntry,
    /// The signed checkpoint note (C2SP signed-note text).
    pub checkpoint: String,
    /// The checkpoint's size.
    pub log_size: u64,
    /// The inclusion proof of the entry in the checkpoint's tree, hex, bottom-up.
    pub inclusion_proof: Vec<String>,
    /// The verifier key of the log (`name+keyid+base64 key`).
    pub verifier_key: String,
    /// Whether this call appended the entry (false: it was already there).
    pub appended: bool,
}

/// The batch log of one store, with its signing key.
#[derive(Debug)]
pub struct BatchLog<'a> {
    store: &'a Store,
    signer: Option<&'a NoteSigner>,
    verifier: VerifierKey,
}

fn entry_path(index: u64) -> String {
    format!("{LOG_DIR}/entries/{index:0NUM_WIDTH$}.json")
}

fn checkpoint_path(size: u64) -> String {
    format!("{LOG_DIR}/checkpoints/{size:0NUM_WIDTH$}.txt")
}

const LATEST: &str = "log/checkpoint.txt";

/// How many times [`BatchLog::append`] tries before giving up on writers appending at the
/// same time: each lost attempt is another writer's entry, so this many writers at once
/// all get their entry.
pub const APPEND_ATTEMPTS: u32 = 8;

/// The wait before attempt `attempt + 1`: random within 10 ms to 50 ms times `attempt`, so
/// that writers that collided do not collide again in step.
fn retry_wait(attempt: u32) -> std::time::Duration {
    let mut byte = [0u8; 1];
    // Without randomness (it never fails on the supported systems), the wait is the longest.
    let spread = getrandom::fill(&mut byte).map_or(255, |()| u64::from(byte[0]));
    std::time::Duration::from_millis((10 + spread * 40 / 255) * u64::from(attempt))
}

impl<'a> BatchLog<'a> {
    /// The log for appending: checkpoints are signed by `signer`.
    pub fn for_writer(store: &'a Store, signer: &'a NoteSigner) -> Self {
        BatchLog {
            store,
            signer: Some(signer),
            verifier: signer.verifier(),
        }
    }

    /// The log for reading and proving, checked against `verifier`.
    pub fn for_reader(store: &'a Store, verifier: VerifierKey) -> Self {
        BatchLog {
            store,
            signer: None,
            verifier,
        }
    }

    /// The verifier key of the log.
    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// Every entry, in order; checks there is no gap and each entry's index.
    pub async fn entries(&self) -> Result<Vec<LogEntry>, LedgerError> {
        let listed = self.store.list(&format!("{LOG_DIR}/entries/")).await?;
        let mut out = Vec::with_capacity(listed.len());
        for (i, obj) in listed.iter().enumerate() {
            let want = entry_path(i as u64);
            if obj.path != want {
                return Err(LedgerError::Inconsistent(format!(
                    "expected {want}, found {} (a gap or a stray object)",
                    obj.path
                )));
            }
            let bytes = self.store.get(&obj.path).await?.ok_or_else(|| {
                LedgerError::Inconsistent(format!("{} vanished while reading", obj.path))
            })?;
            let entry: LogEntry =
                serde_json::from_slice(&bytes).map_err(|source| LedgerError::Json {
                    path: obj.path.clone(),
                    source,
                })?;
            if entry.index != i as u64 {
                return Err(LedgerError::Inconsistent(format!(
                    "{} holds index {}",
                    obj.path, entry.index
                )));
            }
            out.push(entry);
        }
        Ok(out)
    }

    /// The latest signed checkpoint, verified, or `None` for an empty log.
    pub async fn latest_checkpoint(&self) -> Result<Option<(Checkpoint, String)>, LedgerError> {
        let Some(bytes) = self.store.get(LATEST).await? else {
            return Ok(None);
        };
        let note = String::from_utf8(bytes.to_vec())
            .map_err(|_| LedgerError::Inconsistent(format!("{LATEST} is not UTF-8")))?;
        Ok(Some((Checkpoint::open(&note, &self.verifier)?, note)))
    }

    /// The signed checkpoint of size `size` from the history, verified.
    pub async fn checkpoint_at(
        &self,
        size: u64,
    ) -> Result<Option<(Checkpoint, String)>, LedgerError> {
        let path = checkpoint_path(size);
        let Some(bytes) = self.store.get(&path).await? else {
            return Ok(None);
        };
        let note = String::from_utf8(bytes.to_vec())
            .map_err(|_| LedgerError::Inconsistent(format!("{path} is not UTF-8")))?;
        let cp = Checkpoint::open(&note, &self.verifier)?;
        if cp.size != size {
            return Err(LedgerError::Inconsistent(format!(
                "{path} holds size {}",
                cp.size
            )));
        }
        Ok(Some((cp, note)))
    }

    fn tree(entries: &[LogEntry]) -> Result<MerkleTree<Sha256Rfc6962>, LedgerError> {
        Ok(MerkleTree::from_leaf_hashes(
            entries.iter().map(LogEntry::leaf_hash).collect(),
        )?)
    }

    /// Appends `batch` (idempotent: a batch already in the log with the same
    /// contents returns its entry; with other contents, [`LedgerError::Conflict`]),
    /// signs and publishes a checkpoint that covers it, and returns the receipt.
    ///
    /// Another writer appending at the same position first (two batches of the store
    /// anchored at once) is not a failure: the append reads the log again after a short
    /// random wait and tries the next position, up to [`APPEND_ATTEMPTS`] times. Each lost
    /// attempt is another writer's entry, so that many writers at once all succeed. A batch
    /// that another writer appended meanwhile is found on the next read and its entry
    /// returned, never appended twice. Only when every attempt lost does it return
    /// [`LedgerError::ConcurrentAppend`].
    pub async fn append(&self, batch: &BatchAnchor) -> Result<LogReceipt, LedgerError> {
        let signer = self
            .signer
            .ok_or(NoteError::Malformed("the log was opened read-only"))?;
        let mut attempt = 1;
        loop {
            let entries = self.entries().await?;
            match self.append_to(signer, entries, batch).await {
                Err(LedgerError::ConcurrentAppend { index, .. }) => {
                    if attempt >= APPEND_ATTEMPTS {
                        return Err(LedgerError::ConcurrentAppend {
                            index,
                            attempts: attempt,
                        });
                    }
                    tracing::info!(
                        batch_id = %batch.batch_id,
                        index,
                        attempt,
                        "another writer appended to the batch log at the same time; reading it again"
                    );
                    tokio::time::sleep(retry_wait(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// One attempt of [`Self::append`] on `entries`, the log as read just before; a
    /// position taken meanwhile is [`LedgerError::ConcurrentAppend`].
    async fn append_to(
        &self,
        signer: &NoteSigner,
        mut entries: Vec<LogEntry>,
        batch: &BatchAnchor,
    ) -> Result<LogReceipt, LedgerError> {
        let existing = entries
            .iter()
            .find(|e| e.batch_id == batch.batch_id)
            .cloned();
        let (entry, appended) = match existing {
            Some(e) => {
                if e.root != batch.root
                    || e.suite != batch.suite
                    || e.leaf_count != batch.leaf_count
                    || e.manifest_digest != batch.manifest_digest
                {
                    return Err(LedgerError::Conflict {
                        batch_id: e.batch_id,
                        index: e.index,
                        logged_root: e.root,
                        root: batch.root.clone(),
                    });
                }
                (e, false)
            }
            None => {
                let entry = LogEntry {
                    index: entries.len() as u64,
                    batch_id: batch.batch_id.clone(),
                    suite: batch.suite.clone(),
                    root: batch.root.clone(),
                    leaf_count: batch.leaf_count,
                    manifest_digest: batch.manifest_digest.clone(),
                };
                let json =
                    serde_json::to_vec_pretty(&entry).map_err(|source| LedgerError::Json {
                        path: entry_path(entry.index),
                        source,
                    })?;
                if !self
                    .store
                    .put_if_absent(&entry_path(entry.index), Bytes::from(json))
                    .await?
                {
                    return Err(LedgerError::ConcurrentAppend {
                        index: entry.index,
                        attempts: 1,
                    });
                }
                entries.push(entry.clone());
                (entry, true)
            }
        };
        let tree = Self::tree(&entries)?;
        let size = entries.len() as u64;
        let note = self.publish(signer, &tree, size).await?;
        let proof = tree.inclusion_proof(entry.index)?;
        Ok(LogReceipt {
            entry,
            checkpoint: note,
            log_size: size,
            inclusion_proof: proof.hashes.iter().map(hex::encode).collect(),
            verifier_key: self.verifier.to_string(),
            appended,
        })
    }

    /// Signs and stores the checkpoint of `size` entries, after checking it is
    /// consistent with the latest published one; returns the signed note.
    async fn publish(
        &self,
        signer: &NoteSigner,
        tree: &MerkleTree<Sha256Rfc6962>,
        size: u64,
    ) -> Result<String, LedgerError> {
        let latest = self.latest_checkpoint().await?;
        if let Some((latest, _)) = &latest
            && latest.size <= size
        {
            let old_root = tree.root_at(latest.size)?;
            if old_root != latest.root {
                return Err(LedgerError::Inconsistent(format!(
                    "the stored entries do not match the checkpoint of size {}: the log was rewritten",
                    latest.size
                )));
            }
        }
        let cp = Checkpoint {
            origin: self.verifier.name().to_owned(),
            size,
            root: tree.root(),
            extensions: vec![],
        };
        let path = checkpoint_path(size);
        let note = match self.checkpoint_at(size).await? {
            Some((existing, note)) if existing.root == cp.root => note,
            Some(_) => {
                return Err(LedgerError::Inconsistent(format!(
                    "{path} holds another root"
                )));
            }
            None => {
                let note = signer.sign(&cp.to_text())?;
                if !self
                    .store
                    .put_if_absent(&path, Bytes::from(note.clone()))
                    .await?
                {
                    // A concurrent writer signed the same size first: use its note
                    // if it commits to the same tree.
                    match self.checkpoint_at(size).await? {
                        Some((existing, note)) if existing.root == cp.root => note,
                        _ => {
                            return Err(LedgerError::ConcurrentAppend {
                                index: size - 1,
                                attempts: 1,
                            });
                        }
                    }
                } else {
                    note
                }
            }
        };
        // The checkpoint is stored: the pointer moves to it, or to a newer one that a
        // concurrent writer stored meanwhile.
        self.point_to_newest().await?;
        Ok(note)
    }

    /// Moves the latest pointer to the newest stored checkpoint if it is behind.
    ///
    /// The store has no compare-and-swap for the pointer, so a writer overtaken between
    /// its read of the pointer and its write here can move it back. Every writer stores its
    /// checkpoint before it calls this ([`BatchLog::publish`]), and looks again after each
    /// write, so the writer whose pointer write came last finds every newer checkpoint and
    /// moves the pointer forward again: once the writers are done, it names the newest.
    async fn point_to_newest(&self) -> Result<(), LedgerError> {
        for _ in 0..APPEND_ATTEMPTS {
            let listed = self.store.list(&format!("{LOG_DIR}/checkpoints/")).await?;
            let newest = listed
                .iter()
                .filter_map(|obj| {
                    let name = obj.path.rsplit('/').next()?.strip_suffix(".txt")?;
                    name.parse::<u64>().ok()
                })
                .max();
            let Some(newest) = newest else {
                return Ok(());
            };
            let current = self.latest_checkpoint().await?;
            if current.as_ref().is_some_and(|(c, _)| c.size >= newest) {
                return Ok(());
            }
            // Verified on the way, as every checkpoint read is.
            let Some((_, note)) = self.checkpoint_at(newest).await? else {
                return Ok(());
            };
            self.store.put(LATEST, Bytes::from(note)).await?;
        }
        Ok(())
    }

    /// The receipt of `batch_id` against the latest checkpoint.
    pub async fn prove(&self, batch_id: &str) -> Result<LogReceipt, LedgerError> {
        let (cp, note) = self
            .latest_checkpoint()
            .await?
            .ok_or_else(|| LedgerError::NotLogged(batch_id.to_owned()))?;
        let entries = self.entries().await?;
        let logged = &entries[..(cp.size as usize).min(entries.len())];
        let entry = logged
            .iter()
            .find(|e| e.batch_id == batch_id)
            .cloned()
            .ok_or_else(|| LedgerError::NotLogged(batch_id.to_owned()))?;
        let tree = Self::tree(logged)?;
        if tree.root() != cp.root {
            return Err(LedgerError::Inconsistent(
                "stored entries do not match the latest checkpoint".into(),
            ));
        }
        let proof = tree.inclusion_proof(entry.index)?;
        Ok(LogReceipt {
            entry,
            checkpoint: note,
            log_size: cp.size,
            inclusion_proof: proof.hashes.iter().map(hex::encode).collect(),
            verifier_key: self.verifier.to_string(),
            appended: false,
        })
    }

    /// The consistency proof between the checkpoints of sizes `from` and `to`
    /// (default: the latest), both taken from the signed history.
    pub async fn consistency(
        &self,
        from: u64,
        to: Option<u64>,
    ) -> Result<ConsistencyEvidence, LedgerError> {
        let entries = self.entries().await?;
        let (latest, _) = self
            .latest_checkpoint()
            .await?
            .ok_or(LedgerError::BadRange {
                from,
                to: to.unwrap_or(0),
                size: 0,
            })?;
        let to = to.unwrap_or(latest.size);
        if from == 0 || from > to || to > latest.size || to as usize > entries.len() {
            return Err(LedgerError::BadRange {
                from,
                to,
                size: latest.size,
            });
        }
        let (_, old_note) = self.checkpoint_at(from).await?.ok_or_else(|| {
            LedgerError::Inconsistent(format!(
                "no signed checkpoint of size {from} in the history"
            ))
        })?;
        let (_, new_note) = self.checkpoint_at(to).await?.ok_or_else(|| {
            LedgerError::Inconsistent(format!("no signed checkpoint of size {to} in the history"))
        })?;
        let tree = Self::tree(&entries[..to as usize])?;
        let proof = tree.consistency_proof(from)?;
        let evidence = ConsistencyEvidence {
            old_checkpoint: old_note,
            new_checkpoint: new_note,
            proof,
        };
        evidence.verify(&self.verifier)?;
        Ok(evidence)
    }
}

/// Two signed checkpoints and the consistency proof between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyEvidence {
    /// The older signed checkpoint.
    pub old_checkpoint: String,
    /// The newer signed checkpoint.
    pub new_checkpoint: String,
    /// The RFC 9162 consistency proof from the older size to the newer.
    pub proof: ConsistencyProof,
}

impl ConsistencyEvidence {
    /// Checks both signatures and the proof.
    pub fn verify(&self, key: &VerifierKey) -> Result<(), LedgerError> {
        let old = Checkpoint::open(&self.old_checkpoint, key)?;
        let new = Checkpoint::open(&self.new_checkpoint, key)?;
        if old.size != self.proof.old_size || new.size != self.proof.tree_size {
            return Err(LedgerError::Inconsistent(
                "the proof's sizes differ from the checkpoints'".into(),
            ));
        }
        verify_consistency::<Sha256Rfc6962>(
            old.size,
            new.size,
            &self.proof.hashes,
            &old.root,
            &new.root,
        )?;
        Ok(())
    }
}

impl LogReceipt {
    /// Checks the receipt on its own: the checkpoint's signature by `key`, and
    /// the entry's inclusion in the checkpoint's tree.
    pub fn verify(&self, key: &VerifierKey) -> Result<Checkpoint, LedgerError> {
        let cp = Checkpoint::open(&self.checkpoint, key)?;
        if cp.size != self.log_size {
            return Err(LedgerError::Inconsistent(
                "receipt size differs from its checkpoint".into(),
            ));
        }
        let proof = self.proof()?;
        verify_inclusion::<Sha256Rfc6962>(
            &self.entry.leaf_hash(),
            proof.index,
            cp.size,
            &proof.hashes,
            &cp.root,
        )?;
        Ok(cp)
    }

    /// The inclusion proof as a typed value.
    pub fn proof(&self) -> Result<InclusionProof, LedgerError> {
        let hashes = self
            .inclusion_proof
            .iter()
            .map(|h| {
                hex::decode(h)
                    .ok()
                    .and_then(|v| <Hash>::try_from(v).ok())
                    .ok_or_else(|| {
                        LedgerError::Inconsistent(format!(
                            "proof hash {h:?} is not 32 bytes of hex"
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(InclusionProof {
            index: self.entry.index,
            tree_size: self.log_size,
            hashes,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The tests' log key.
    fn test_signer() -> NoteSigner {
        NoteSigner::from_seed("proofmark-ledger-test", &[1u8; 32]).unwrap()
    }

    fn batch(i: u32) -> BatchAnchor {
        BatchAnchor {
            batch_id: format!("nightly-2026-11-{i:02}"),
            suite: "blake3".into(),
            root: hex::encode([i as u8; 32]),
            leaf_count: 1000 + u64::from(i),
            manifest_digest: format!("blake3:{}", hex::encode([i as u8 + 1; 32])),
        }
    }

    #[test]
    fn a_claim_for_another_manifest_names_the_values_that_differ() {
        let mine = batch(1);
        assert_eq!(mine.check_claim(&mine), Ok(()));
        let mut claimed = mine.clone();
        claimed.manifest_digest = format!("blake3:{}", "cd".repeat(32));
        let text = mine.check_claim(&claimed).unwrap_err();
        assert!(
            text.contains(&claimed.manifest_digest) && text.contains(&mine.manifest_digest),
            "{text}"
        );
        assert!(!text.contains(&mine.root), "only what differs: {text}");
    }

    #[tokio::test]
    async fn append_prove_and_consistency() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::from_url(dir.path().to_str().unwrap()).unwrap();
        let signer = test_signer();
        let log = BatchLog::for_writer(&store, &signer);
        let mut receipts = Vec::new();
        for i in 1..=7 {
            let r = log.append(&batch(i)).await.unwrap();
            assert!(r.appended);
            assert_eq!(r.entry.index, u64::from(i - 1));
            r.verify(&signer.verifier()).unwrap();
            receipts.push(r);
        }
        // Idempotent: same batch again appends nothing.
        let again = log.append(&batch(3)).await.unwrap();
        assert!(!again.appended);
        assert_eq!(again.entry.index, 2);
        assert_eq!(log.entries().await.unwrap().len(), 7);
        // Conflict: same id, another root.
        let mut bad = batch(3);
        bad.root = hex::encode([0xAB; 32]);
        assert!(matches!(
            log.append(&bad).await,
            Err(LedgerError::Conflict { .. })
        ));
        // Conflict: same id and root, another suite, leaf count or manifest (SPEC.md 9.1).
        let changes: [fn(&mut BatchAnchor); 3] = [
            |b| b.suite = "sha256-rfc6962".into(),
            |b| b.leaf_count += 1,
            |b| b.manifest_digest = format!("blake3:{}", "cd".repeat(32)),
        ];
        for change in changes {
            let mut bad = batch(3);
            change(&mut bad);
            assert!(matches!(
                log.append(&bad).await,
                Err(LedgerError::Conflict { .. })
            ));
        }
        assert_eq!(log.entries().await.unwrap().len(), 7);
        // Proofs against the latest checkpoint and consistency between any two.
        let reader = BatchLog::for_reader(&store, signer.verifier());
        let r = reader.prove("nightly-2026-11-01").await.unwrap();
        assert_eq!(r.log_size, 7);
        r.verify(&signer.verifier()).unwrap();
        // A receipt whose log_size is not its checkpoint's fails.
        let mut wrong = r.clone();
        wrong.log_size += 1;
        assert!(wrong.verify(&signer.verifier()).is_err());
        for from in 1..=7 {
            reader.consistency(from, None).await.unwrap();
            reader.consistency(from, Some(7)).await.unwrap();
        }
        reader
            .consistency(2, Some(5))
            .await
            .unwrap()
            .verify(&signer.verifier())
            .unwrap();
        assert!(matches!(
            reader.consistency(0, None).await,
            Err(LedgerError::BadRange { .. })
        ));
        assert!(matches!(
            reader.consistency(3, Some(9)).await,
            Err(LedgerError::BadRange { .. })
        ));
    }

    /// Appends `batches[i]` from thread `i`, all released at once, each with its own store
    /// handle and runtime as separate processes would.
    fn race(root: &str, batches: Vec<BatchAnchor>) -> Vec<Result<LogReceipt, LedgerError>> {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(batches.len()));
        let handles: Vec<_> = batches
            .into_iter()
            .map(|b| {
                let (root, barrier) = (root.to_owned(), barrier.clone());
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    let store = Store::from_url(&root).unwrap();
                    let signer = test_signer();
                    barrier.wait();
                    rt.block_on(BatchLog::for_writer(&store, &signer).append(&b))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    }

    /// A writer that read the log before another one appended loses the position, overwrites
    /// nothing, and `append` then takes the next position.
    #[tokio::test]
    async fn a_lost_position_is_taken_again_after_reading_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::from_url(dir.path().to_str().unwrap()).unwrap();
        let signer = test_signer();
        let log = BatchLog::for_writer(&store, &signer);
        let stale = log.entries().await.unwrap();
        let first = log.append(&batch(1)).await.unwrap();
        assert!(matches!(
            log.append_to(&signer, stale, &batch(2)).await,
            Err(LedgerError::ConcurrentAppend { index: 0, .. })
        ));
        assert_eq!(log.entries().await.unwrap(), vec![first.entry.clone()]);
        let second = log.append(&batch(2)).await.unwrap();
        assert_eq!((second.entry.index, second.log_size), (1, 2));
        second.verify(&signer.verifier()).unwrap();
    }

    /// Writers appending at once (two batches of one store anchored at the same time) all
    /// succeed, each with its own entry, and the log stays consistent.
    #[test]
    fn concurrent_writers_all_get_their_own_entry() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap().to_owned();
        let results = race(&root, (1..=6).map(batch).collect());
        let ok: Vec<LogReceipt> = results
            .into_iter()
            .map(|r| r.expect("every racing writer succeeds"))
            .collect();
        let mut indexes: Vec<u64> = ok.iter().map(|r| r.entry.index).collect();
        indexes.sort_unstable();
        assert_eq!(indexes, (0..6).collect::<Vec<_>>(), "distinct entries");
        let rt = tokio::runtime::Runtime::new().unwrap();
        let store = Store::from_url(&root).unwrap();
        let signer = test_signer();
        let log = BatchLog::for_writer(&store, &signer);
        let entries = rt.block_on(log.entries()).unwrap();
        assert_eq!(entries.len(), 6);
        for r in &ok {
            assert!(r.appended);
            assert_eq!(
                entries[r.entry.index as usize], r.entry,
                "nothing overwritten"
            );
            r.verify(&signer.verifier()).unwrap();
        }
        let latest = rt.block_on(log.latest_checkpoint()).unwrap().unwrap().0;
        assert_eq!(latest.size, 6);
        for from in 1..=6 {
            rt.block_on(log.consistency(from, None)).unwrap();
        }
    }

    /// One batch appended by two writers at once is in the log once: the writer that lost
    /// the position finds the batch when it reads the log again and returns its entry.
    #[test]
    fn a_batch_raced_with_itself_is_logged_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap().to_owned();
        let results = race(&root, vec![batch(1), batch(1), batch(2)]);
        let ok: Vec<LogReceipt> = results.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(ok[0].entry, ok[1].entry);
        assert_eq!(
            ok.iter()
                .filter(|r| r.appended && r.entry == ok[0].entry)
                .count(),
            1,
            "one of them appended it"
        );
        let rt = tokio::runtime::Runtime::new().unwrap();
        let store = Store::from_url(&root).unwrap();
        let reader = BatchLog::for_reader(&store, test_signer().verifier());
        let entries = rt.block_on(reader.entries()).unwrap();
        assert_eq!(entries.len(), 2, "{entries:?}");
    }

    /// A pointer moved back by a writer overtaken between its read and its write is
    /// moved forward again by the next writer's check.
    #[tokio::test]
    async fn a_latest_pointer_moved_back_is_moved_forward() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::from_url(dir.path().to_str().unwrap()).unwrap();
        let signer = test_signer();
        let log = BatchLog::for_writer(&store, &signer);
        for i in 1..=3 {
            log.append(&batch(i)).await.unwrap();
        }
        let (_, old) = log.checkpoint_at(1).await.unwrap().unwrap();
        store.put(LATEST, Bytes::from(old)).await.unwrap();
        assert_eq!(log.latest_checkpoint().await.unwrap().unwrap().0.size, 1);
        log.point_to_newest().await.unwrap();
        assert_eq!(log.latest_checkpoint().await.unwrap().unwrap().0.size, 3);
        // Nothing to do when it names the newest.
        log.point_to_newest().await.unwrap();
        assert_eq!(log.latest_checkpoint().await.unwrap().unwrap().0.size, 3);
    }

    #[tokio::test]
    async fn tampering_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::from_url(dir.path().to_str().unwrap()).unwrap();
        let signer = test_signer();
        let log = BatchLog::for_writer(&store, &signer);
        for i in 1..=3 {
            log.append(&batch(i)).await.unwrap();
        }
        // Rewrite entry 1 behind the log's back.
        let mut e: LogEntry =
            serde_json::from_slice(&store.get(&entry_path(1)).await.unwrap().unwrap()).unwrap();
        e.root = hex::encode([0xEE; 32]);
        store
            .put(&entry_path(1), Bytes::from(serde_json::to_vec(&e).unwrap()))
            .await
            .unwrap();
        assert!(matches!(
            log.append(&batch(4)).await,
            Err(LedgerError::Inconsistent(_))
        ));
        assert!(matches!(
            BatchLog::for_reader(&store, signer.verifier())
                .prove("nightly-2026-11-01")
                .await,
            Err(LedgerError::Inconsistent(_))
        ));
    }
}
