//! Scratch-off PINs: the secret key, the keyed hash that is all the store
//! keeps of a PIN, and the secrets file they are imported from.
//!
//! A PIN is stored as `BLAKE3-keyed(key, "proofmark-pin/1" || 0x00 ||
//! u32le(len(code)) || code || pin)`: bound to its code, useless without the
//! key, and compared in constant time. The key is 32 random bytes kept as 64
//! hex digits in a key file of its own (mode 0600), apart from the state.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};

use super::error::ConsumerError;

/// Domain separation prefix of the PIN hash.
const PIN_HASH_CONTEXT: &[u8] = b"proofmark-pin/1\0";
/// Longest PIN accepted, in bytes after normalisation.
pub const MAX_PIN_LEN: usize = 32;
/// Shortest PIN accepted.
pub const MIN_PIN_LEN: usize = 4;

/// The secret key PINs are hashed with.
#[derive(Clone)]
pub struct PinKey([u8; 32]);

impl std::fmt::Debug for PinKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinKey(..)")
    }
}

impl PinKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> PinKey {
        PinKey(bytes)
    }

    /// Reads a key file: 64 hex digits, surrounding whitespace ignored.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Io`] when the file cannot be read,
    /// [`ConsumerError::BadKey`] when it does not hold a key.
    pub fn load(path: &Path) -> Result<PinKey, ConsumerError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConsumerError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| ConsumerError::BadKey {
            path: path.to_owned(),
            reason: "expected 64 hex digits",
        })?;
        Ok(PinKey(bytes))
    }

    /// Reads the key file, or makes a new random key there (created with
    /// mode 0600, never overwriting) when it does not exist. Returns the key
    /// and whether it was created.
    ///
    /// # Errors
    ///
    /// As [`PinKey::load`], and [`ConsumerError::Random`] or
    /// [`ConsumerError::Io`] when a new key cannot be made.
    pub fn load_or_create(path: &Path) -> Result<(PinKey, bool), ConsumerError> {
        if path.exists() {
            return Ok((PinKey::load(path)?, false));
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(ConsumerError::Random)?;
        let io = |source| ConsumerError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(io)?;
        file.write_all(format!("{}\n", hex::encode(bytes)).as_bytes())
            .map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok((PinKey(bytes), true))
    }

    /// The keyed hash of `pin` (already normalised) for `code`.
    pub fn hash_pin(&self, code: &str, pin: &str) -> PinHash {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(PIN_HASH_CONTEXT);
        let len = u32::try_from(code.len()).unwrap_or(u32::MAX);
        hasher.update(&len.to_le_bytes());
        hasher.update(code.as_bytes());
        hasher.update(pin.as_bytes());
        PinHash(hasher.finalize())
    }
}

/// The keyed hash of a PIN; equality is constant-time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinHash(blake3::Hash);

impl PinHash {
    /// The hash's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// A hash from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> PinHash {
        PinHash(blake3::Hash::from_bytes(bytes))
    }
}

/// Normalises a typed PIN: spaces and dashes dropped, letters upper-cased;
/// `None` unless what is left is 4 to 32 ASCII letters or digits.
pub fn normalize_pin(input: &str) -> Option<String> {
    let pin: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let ok = (MIN_PIN_LEN..=MAX_PIN_LEN).contains(&pin.len())
        && pin.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then_some(pin)
}

/// Reads a secrets file (`code,pin` header, then one `code,pin` line per
/// item, as `proofmark datasets generate` writes `secrets/pins.csv`).
#[derive(Debug)]
pub struct SecretsReader {
    path: PathBuf,
    lines: std::io::Lines<BufReader<File>>,
    line: u64,
}

impl SecretsReader {
    /// Opens the file and checks its header.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Io`] when it cannot be read,
    /// [`ConsumerError::BadSecrets`] when the header is not `code,pin`.
    pub fn open(path: &Path) -> Result<SecretsReader, ConsumerError> {
        let file = File::open(path).map_err(|source| ConsumerError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut reader = SecretsReader {
            path: path.to_owned(),
            lines: BufReader::new(file).lines(),
            line: 0,
        };
        match reader.next_line()? {
            Some(header) if header.trim() == "code,pin" => Ok(reader),
            _ => Err(reader.bad("expected the header line `code,pin`")),
        }
    }

    fn next_line(&mut self) -> Result<Option<String>, ConsumerError> {
        self.line += 1;
        self.lines
            .next()
            .transpose()
            .map_err(|source| ConsumerError::Io {
                path: self.path.clone(),
                source,
            })
    }

    fn bad(&self, reason: &'static str) -> ConsumerError {
        ConsumerError::BadSecrets {
            path: self.path.clone(),
            line: self.line,
            reason,
        }
    }
}

impl Iterator for SecretsReader {
    type Item = Result<(String, String), ConsumerError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let line = match self.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            };
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Some((code, pin)) = line.split_once(',') else {
                return Some(Err(self.bad("expected `code,pin`")));
            };
            let code = code.trim();
            if code.is_empty() || code.len() > 64 {
                return Some(Err(self.bad("the code is empty or longer than 64 bytes")));
            }
            let Some(pin) = normalize_pin(pin) else {
                return Some(Err(self.bad("the PIN is not 4 to 32 letters or digits")));
            };
            return Some(Ok((code.to_owned(), pin)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_keyed_and_bound_to_the_code() {
        let a = PinKey::from_bytes([1; 32]);
        let b = PinKey::from_bytes([2; 32]);
        assert_eq!(a.hash_pin("C1", "1234"), a.hash_pin("C1", "1234"));
        assert_ne!(a.hash_pin("C1", "1234"), b.hash_pin("C1", "1234"));
        assert_ne!(a.hash_pin("C1", "1234"), a.hash_pin("C2", "1234"));
        assert_ne!(a.hash_pin("C1", "1234"), a.hash_pin("C1", "1235"));
        // The length prefix keeps code and PIN apart.
        assert_ne!(a.hash_pin("C11", "234"), a.hash_pin("C1", "1234"));
    }

    #[test]
    fn pins_normalise() {
        assert_eq!(normalize_pin(" 4760-0714 ").as_deref(), Some("47600714"));
        assert_eq!(normalize_pin("ab12").as_deref(), Some("AB12"));
        assert_eq!(normalize_pin("123"), None);
        assert_eq!(normalize_pin("12<34"), None);
        assert_eq!(normalize_pin(&"1".repeat(33)), None);
    }

    #[test]
    fn key_file_is_created_once_and_reloaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys/pin.key");
        let (created, made) = PinKey::load_or_create(&path).expect("create");
        assert!(made);
        let (loaded, made) = PinKey::load_or_create(&path).expect("load");
        assert!(!made);
        assert_eq!(created.hash_pin("C", "1234"), loaded.hash_pin("C", "1234"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not hex").expect("write");
        assert!(matches!(
            PinKey::load(&path),
            Err(ConsumerError::BadKey { .. })
        ));
    }

    #[test]
    fn secrets_file_parses_and_reports_bad_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pins.csv");
        std::fs::write(&path, "code,pin\nAAAAAA01,12345678\n\nAAAAAA02,00000001\n").expect("w");
        let rows: Vec<_> = SecretsReader::open(&path)
            .expect("open")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            rows,
            vec![
                ("AAAAAA01".to_owned(), "12345678".to_owned()),
                ("AAAAAA02".to_owned(), "00000001".to_owned())
            ]
        );
        std::fs::write(&path, "code,pin\nAAAAAA01;1234\n").expect("w");
        let err = SecretsReader::open(&path)
            .expect("open")
            .next()
            .expect("one item");
        assert!(matches!(
            err,
            Err(ConsumerError::BadSecrets { line: 2, .. })
        ));
        std::fs::write(&path, "pin,code\n").expect("w");
        assert!(matches!(
            SecretsReader::open(&path),
            Err(ConsumerError::BadSecrets { line: 1, .. })
        ));
    }
}
