//! C2SP signed notes and `tlog-checkpoint` checkpoints, with Ed25519 keys.
//!
//! A checkpoint is the text `<origin>\n<size>\n<base64 root>\n` (plus
//! optional extension lines); a signed note is that text, a blank line, and
//! one line `— <key name> <base64(key id || signature)>` per signature. The key
//! id of an Ed25519 key is the first 4 bytes of
//! `SHA-256(key name || "\n" || 0x01 || public key)`.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use proofmark_merkle::Hash;
use sha2::{Digest, Sha256};

/// The signature type byte of Ed25519 keys in signed notes.
pub const ED25519_TYPE: u8 = 0x01;
/// The line prefix of a signature: an em dash and a space.
pub const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Errors of signed notes, checkpoints and keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note's text or signature block is malformed.
    #[error("malformed signed note: {0}")]
    Malformed(&'static str),
    /// No signature by the expected key.
    #[error("the note has no signature by key {name} ({key_id})")]
    NotSignedBy {
        /// The key's name.
        name: String,
        /// The key id in hex.
        key_id: String,
    },
    /// A signature by the key that does not verify.
    #[error(
        "the signature by key {0} does not verify: the note was altered or signed by another key"
    )]
    BadSignature(String),
    /// A checkpoint body that is not `origin`, size, base64 root.
    #[error("malformed checkpoint: {0}")]
    BadCheckpoint(&'static str),
    /// A key name with white space or `+`, or empty.
    #[error("invalid key name {0:?}: it must be non-empty, without white space or '+'")]
    BadKeyName(String),
    /// A verifier key string that is not `name+keyid+base64(0x01||pk)`.
    #[error("malformed verifier key: {0}")]
    BadVerifierKey(&'static str),
    /// Reading or writing a key file failed.
    #[error("key file {path}")]
    KeyFile {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A key file whose content is not a key.
    #[error("key file {0} does not hold an Ed25519 signing key")]
    BadKeyFile(String),
    /// The system random source failed.
    #[error("no randomness for a new key: {0}")]
    Random(String),
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(NoteError::BadKeyName(name.to_owned()));
    }
    Ok(())
}

fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519_TYPE]);
    h.update(public.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A public key that checks signatures: its name, id and Ed25519 key.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: [u8; 4],
    public: VerifyingKey,
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

impl fmt::Display for VerifierKey {
    /// The C2SP verifier key string: `name+hex(key id)+base64(0x01 || public key)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = vec![ED25519_TYPE];
        raw.extend_from_slice(self.public.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.id),
            B64.encode(raw)
        )
    }
}

impl VerifierKey {
    /// Parses a verifier key string `name+hex(key id)+base64(0x01 || public key)`.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let mut parts = s.trim().splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::BadVerifierKey("expected name+keyid+key"));
        };
        check_name(name)?;
        let raw = B64
            .decode(key_b64)
            .map_err(|_| NoteError::BadVerifierKey("key is not base64"))?;
        let [ED25519_TYPE, pk @ ..] = raw.as_slice() else {
            return Err(NoteError::BadVerifierKey(
                "not an Ed25519 key (type byte 0x01)",
            ));
        };
        let pk: [u8; 32] = pk
            .try_into()
            .map_err(|_| NoteError::BadVerifierKey("Ed25519 key is not 32 bytes"))?;
        let public = VerifyingKey::from_bytes(&pk)
            .map_err(|_| NoteError::BadVerifierKey("not a valid Ed25519 point"))?;
        let id = key_id(name, &public);
        if hex::encode(id) != id_hex.to_ascii_lowercase() {
            return Err(NoteError::BadVerifierKey(
                "key id does not match name and key",
            ));
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            id,
            public,
        })
    }

    /// The key's name (by convention, the log's origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id.
    pub fn id(&self) -> [u8; 4] {
        self.id
    }
}

/// A signing key with its name. Never printed: `Debug` shows the name only.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Prefix of a key file's single line: `PROOFMARK-ED25519-KEY <name> <base64 seed>`.
const KEY_FILE_TAG: &str = "PROOFMARK-ED25519-KEY";

impl NoteSigner {
    /// A new key named `name` from the system's random source.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| NoteError::Random(e.to_string()))?;
        Ok(NoteSigner {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// A key from a 32-byte seed (for tests and key import).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(NoteSigner {
            name: name.to_owned(),
            key: SigningKey::from_bytes(seed),
        })
    }

    /// Reads a key file written by [`NoteSigner::save`].
    pub fn load(path: &Path) -> Result<Self, NoteError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| NoteError::KeyFile {
            path: shown.clone(),
            source,
        })?;
        let mut parts = text.split_whitespace();
        let (Some(KEY_FILE_TAG), Some(name), Some(seed), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::BadKeyFile(shown));
        };
        let seed: [u8; 32] = B64
            .decode(seed)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| NoteError::BadKeyFile(shown.clone()))?;
        Self::from_seed(name, &seed)
    }

    /// Loads the key at `path`, or generates one named `name` and saves it
    /// there (readable by its owner only) when the file does not exist.
    pub fn load_or_generate(path: &Path, name: &str) -> Result<Self, NoteError> {
        if path.exists() {
            return Self::load(path);
        }
        let key = Self::generate(name)?;
        key.save(path)?;
        Ok(key)
    }

    /// Writes the key to a new file readable and writable by its owner only
    /// (mode 0600); refuses to overwrite an existing file.
    pub fn save(&self, path: &Path) -> Result<(), NoteError> {
        use std::io::Write as _;
        let shown = path.display().to_string();
        let err = |source| NoteError::KeyFile {
            path: shown.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(err)?;
        let line = format!(
            "{KEY_FILE_TAG} {} {}\n",
            self.name,
            B64.encode(self.key.to_bytes())
        );
        file.write_all(line.as_bytes()).map_err(err)?;
        file.sync_all().map_err(err)
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        let public = self.key.verifying_key();
        VerifierKey {
            name: self.name.clone(),
            id: key_id(&self.name, &public),
            public,
        }
    }

    /// Signs `text` (which must end with a newline) into a signed note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let sig: Signature = self.key.sign(text.as_bytes());
        let mut raw = key_id(&self.name, &self.key.verifying_key()).to_vec();
        raw.extend_from_slice(&sig.to_bytes());
        Ok(format!(
            "{text}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            B64.encode(raw)
        ))
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(NoteError::Malformed(
            "note text must be non-empty and end with a newline",
        ));
    }
    if text.contains("\n\n") {
        return Err(NoteError::Malformed(
            "note text must not contain a blank line",
        ));
    }
    Ok(())
}

/// Checks that `note` carries a valid signature by `key` and returns its text.
/// Signatures by other keys are ignored, as the signed-note format intends.
pub fn open_note<'a>(note: &'a str, key: &VerifierKey) -> Result<&'a str, NoteError> {
    let split = note
        .find("\n\n")
        .ok_or(NoteError::Malformed("no blank line before signatures"))?;
    let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
    check_text(text)?;
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(NoteError::Malformed(
            "signature block must end with a newline",
        ));
    }
    // Every line must have the signature line's form (SPEC.md 9.2), the ones of other keys
    // too: a note is malformed, not signed, when any is not.
    let mut lines = Vec::new();
    for line in sigs.split_terminator('\n') {
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(NoteError::Malformed(
                "signature line does not start with an em dash",
            ))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(NoteError::Malformed("signature line has no signature"))?;
        if name.is_empty() {
            return Err(NoteError::Malformed("signature line has no key name"));
        }
        let raw = B64
            .decode(b64)
            .map_err(|_| NoteError::Malformed("signature is not base64"))?;
        if raw.len() < 4 {
            return Err(NoteError::Malformed("signature line has no key id"));
        }
        lines.push((name, raw));
    }
    if let Some((_, raw)) = lines
        .iter()
        .find(|(name, raw)| *name == key.name && raw[..4] == key.id)
    {
        let sig = Signature::from_slice(&raw[4..])
            .map_err(|_| NoteError::BadSignature(key.name.clone()))?;
        return key
            .public
            .verify(text.as_bytes(), &sig)
            .map(|()| text)
            .map_err(|_| NoteError::BadSignature(key.name.clone()));
    }
    Err(NoteError::NotSignedBy {
        name: key.name.clone(),
        key_id: hex::encode(key.id),
    })
}

/// A transparency-log checkpoint (C2SP `tlog-checkpoint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line: its unique name.
    pub origin: String,
    /// Number of entries in the log.
    pub size: u64,
    /// The RFC 6962 root of those entries.
    pub root: Hash,
    /// Optional extension lines, in order.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The checkpoint's note text.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses a checkpoint's note text (as returned by [`open_note`]).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let mut lines = text
            .strip_suffix('\n')
            .ok_or(NoteError::BadCheckpoint("no final newline"))?
            .split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(NoteError::BadCheckpoint("no origin"))?;
        let size = lines
            .next()
            .filter(|s| {
                !s.is_empty()
                    && s.bytes().all(|b| b.is_ascii_digit())
                    && (s.len() == 1 || !s.starts_with('0'))
            })
            .and_then(|s| s.parse().ok())
            .ok_or(NoteError::BadCheckpoint("size is not a decimal number"))?;
        let root: Hash = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .and_then(|r| r.try_into().ok())
            .ok_or(NoteError::BadCheckpoint("root is not 32 bytes of base64"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(NoteError::BadCheckpoint("empty extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Opens a signed checkpoint note with `key` and checks its origin is the key's name.
    pub fn open(note: &str, key: &VerifierKey) -> Result<Self, NoteError> {
        let cp = Self::parse(open_note(note, key)?)?;
        if cp.origin != key.name {
            return Err(NoteError::BadCheckpoint(
                "origin differs from the verifier key's name",
            ));
        }
        Ok(cp)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn signer() -> NoteSigner {
        NoteSigner::from_seed("example.com/log", &[7u8; 32]).unwrap()
    }

    #[test]
    fn sign_open_round_trip_and_tamper() {
        let s = signer();
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size: 5,
            root: [9u8; 32],
            extensions: vec![],
        };
        let note = s.sign(&cp.to_text()).unwrap();
        let v = s.verifier();
        assert_eq!(Checkpoint::open(&note, &v).unwrap(), cp);
        let tampered = note.replace("\n5\n", "\n6\n");
        assert!(matches!(
            Checkpoint::open(&tampered, &v),
            Err(NoteError::BadSignature(_))
        ));
        let other = NoteSigner::from_seed("example.com/log", &[8u8; 32])
            .unwrap()
            .verifier();
        assert!(matches!(
            Checkpoint::open(&note, &other),
            Err(NoteError::NotSignedBy { .. })
        ));
    }

    /// SPEC.md 9.2: a signature line that does not have the form makes the note malformed,
    /// wherever it is among the lines, after the trusted key's line too.
    #[test]
    fn every_signature_line_must_be_well_formed() {
        let s = signer();
        let root = B64.encode([3u8; 32]);
        let note = s.sign(&format!("example.com/log\n1\n{root}\n")).unwrap();
        let v = s.verifier();
        assert!(open_note(&note, &v).is_ok());
        let other = format!("\u{2014} other {}\n", B64.encode([1u8; 68]));
        assert!(open_note(&format!("{note}{other}"), &v).is_ok());
        for bad in [
            "\u{2014} garbage\n",
            "\n",
            "\u{2014} name !!!\n",
            "\u{2014}  AAAAAAAA\n",
            "\u{2014} name AA==\n",
            "- name AAAAAAAA\n",
        ] {
            assert!(
                matches!(
                    open_note(&format!("{note}{bad}"), &v),
                    Err(NoteError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
        // A line ending in a carriage return is not of the form either.
        let crlf = note.replace("=\n", "=\r\n");
        assert_ne!(crlf, note);
        assert!(matches!(open_note(&crlf, &v), Err(NoteError::Malformed(_))));
    }

    #[test]
    fn verifier_key_string_round_trips() {
        let v = signer().verifier();
        let s = v.to_string();
        assert!(s.starts_with("example.com/log+"));
        assert_eq!(VerifierKey::parse(&s).unwrap(), v);
        let bad_id = format!("example.com/log+00000000+{}", s.rsplit('+').next().unwrap());
        assert!(VerifierKey::parse(&bad_id).is_err());
    }

    #[test]
    fn checkpoint_parsing_is_strict() {
        assert!(Checkpoint::parse("o\n01\nAAAA\n").is_err());
        assert!(Checkpoint::parse("o\n1\nAAAA\n").is_err());
        assert!(Checkpoint::parse("o\n1\n").is_err());
        let root = B64.encode([0u8; 32]);
        assert!(Checkpoint::parse(&format!("o\n0\n{root}\n")).is_ok());
        assert!(Checkpoint::parse(&format!("o\n3\n{root}\next\n")).is_ok());
        // A size with a leading zero, the root valid (SPEC.md 9.2).
        assert!(Checkpoint::parse(&format!("o\n01\n{root}\n")).is_err());
    }

    /// SPEC.md 9.2: a checkpoint whose origin is not the key's name fails, though the key's
    /// signature over it verifies.
    #[test]
    fn a_checkpoint_of_another_origin_fails_though_signed() {
        let s = signer();
        let root = B64.encode([3u8; 32]);
        let note = s.sign(&format!("other.example/log\n1\n{root}\n")).unwrap();
        let v = s.verifier();
        assert!(open_note(&note, &v).is_ok());
        assert!(matches!(
            Checkpoint::open(&note, &v),
            Err(NoteError::BadCheckpoint(_))
        ));
    }

    #[test]
    fn key_files_are_private_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k/ledger.key");
        let a = NoteSigner::load_or_generate(&path, "proofmark-ledger").unwrap();
        let b = NoteSigner::load_or_generate(&path, "ignored").unwrap();
        assert_eq!(a.verifier(), b.verifier());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(a.save(&path).is_err(), "never overwrites a key");
        assert!(!format!("{a:?}").contains(&B64.encode(a.key.to_bytes())));
    }
}

#[cfg(test)]
mod interop {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The example of Go's `golang.org/x/mod/sumdb/note` package documentation.
    #[test]
    fn opens_the_go_note_package_example() {
        let vkey = VerifierKey::parse(
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        )
        .unwrap();
        let note = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n\
                    \n\
                    \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        let text = open_note(note, &vkey).unwrap();
        assert!(text.starts_with("If you think"));
        // The same key, from the example's private key, signs to the same note (Ed25519 is deterministic).
        let seed = B64
            .decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
            .unwrap();
        let signer = NoteSigner::from_seed("PeterNeumann", &seed[1..].try_into().unwrap()).unwrap();
        assert_eq!(signer.verifier(), vkey);
        assert_eq!(signer.sign(text).unwrap(), note);
    }
}
