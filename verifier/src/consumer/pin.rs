//! Scratch-off PINs: the secret key, the keyed hash that is all the store
//! keeps of a PIN, and the secrets file they are imported from.
//!
//! A PIN is stored as `BLAKE3-keyed(key, "proofmark-pin/1" || 0x00 ||
//! u32le(len(code)) || code || pin)`: bound to its code, useless without the
//! key, and compared in constant time. The key is 32 random bytes kept as 64
//! hex digits in a key file of its own (mode 0600), apart from the state.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};

use super::error::ConsumerError;
use super::i18n::fold_full_width;

/// Domain separation prefix of the PIN hash.
const PIN_HASH_CONTEXT: &[u8] = b"proofmark-pin/1\0";
/// What the key's check value is the keyed hash of.
const KEY_CHECK_CONTEXT: &[u8] = b"proofmark-pin-key-check/1";
/// Longest PIN accepted, in bytes after normalisation.
pub const MAX_PIN_LEN: usize = 32;
/// Shortest PIN accepted.
pub const MIN_PIN_LEN: usize = 4;
/// Longest code a secrets file may hold, in bytes.
pub const MAX_CODE_LEN: usize = 64;

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

    /// The key's check value: `BLAKE3-keyed(key, "proofmark-pin-key-check/1")`.
    /// The state records it with the PIN hashes, so that a server or an
    /// import given another key finds out at once (rather than calling every
    /// genuine PIN wrong); it tells nothing about the key itself.
    pub fn check_value(&self) -> [u8; 32] {
        *blake3::keyed_hash(&self.0, KEY_CHECK_CONTEXT).as_bytes()
    }

    /// Makes a new random key in a new file at `path` (mode 0600, parent
    /// folders created); an existing file is an error, never overwritten.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Random`] or [`ConsumerError::Io`].
    pub fn create(path: &Path) -> Result<PinKey, ConsumerError> {
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
        Ok(PinKey(bytes))
    }

    /// Reads the key file, or makes a new random key there (created with
    /// mode 0600, never overwriting) when it does not exist. Returns the key
    /// and whether it was created.
    ///
    /// `proofmark pins import` does not use it: a new key is only right for a
    /// state without PIN hashes, which only the state can say.
    ///
    /// # Errors
    ///
    /// As [`PinKey::load`] and [`PinKey::create`].
    pub fn load_or_create(path: &Path) -> Result<(PinKey, bool), ConsumerError> {
        if path.exists() {
            return Ok((PinKey::load(path)?, false));
        }
        Ok((PinKey::create(path)?, true))
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

/// Normalises a typed PIN: full-width forms made ASCII (as the code form
/// reads them: a Chinese keyboard in full-width mode types `１２３４`),
/// white space and dashes (`-`, its full-width form, and the Unicode
/// hyphens, dashes and minus sign an input method may type) dropped, letters
/// upper-cased; `None` unless what is left is 4 to 32 ASCII letters or
/// digits.
pub fn normalize_pin(input: &str) -> Option<String> {
    let pin: String = input
        .chars()
        .map(fold_full_width)
        .filter(|c| !c.is_whitespace() && !is_dash(*c))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let ok = (MIN_PIN_LEN..=MAX_PIN_LEN).contains(&pin.len())
        && pin.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then_some(pin)
}

/// `-` and the dashes typed in its place: U+2010 to U+2015 (hyphens, en and
/// em dashes) and U+2212 (minus sign).
fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

/// Reads a secrets file (`code,pin` header, then one `code,pin` line per
/// item, as `proofmark datasets generate` writes `secrets/pins.csv`).
///
/// What a spreadsheet's CSV export writes is accepted too: a UTF-8 byte
/// order mark before the header, fields in double quotes (`"A1","1234"`,
/// with `""` for a quote inside one), white space around fields, CRLF line
/// ends. A line that is not UTF-8 is an error naming the line; a quoted
/// field cannot span lines. The reader yields each row once and keeps none:
/// duplicate codes are [`check_secrets`]'s to find.
#[derive(Debug)]
pub struct SecretsReader {
    path: PathBuf,
    reader: BufReader<File>,
    buf: Vec<u8>,
    line: u64,
}

/// The UTF-8 byte order mark some spreadsheets and editors write first; the
/// readers of files that people save (secrets, organisation names, codes,
/// saved reports) skip it at the start.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

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
            reader: BufReader::new(file),
            buf: Vec::with_capacity(128),
            line: 0,
        };
        let header_ok = match reader.next_line()? {
            Some(header) => matches!(
                split_fields(header).as_deref(),
                Ok([code, pin]) if code == "code" && pin == "pin"
            ),
            None => false,
        };
        if header_ok {
            Ok(reader)
        } else {
            Err(reader.bad("expected the header line `code,pin`"))
        }
    }

    /// The 1-based number of the line read last.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The next line, without its line end (and, on the first line, without
    /// a byte order mark).
    fn next_line(&mut self) -> Result<Option<&str>, ConsumerError> {
        self.buf.clear();
        let read = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(|source| ConsumerError::Io {
                path: self.path.clone(),
                source,
            })?;
        if read == 0 {
            return Ok(None);
        }
        self.line += 1;
        let mut bytes = self.buf.as_slice();
        if self.line == 1 {
            bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Some(text.trim_end_matches(['\n', '\r']))),
            Err(_) => Err(ConsumerError::BadSecrets {
                path: self.path.clone(),
                line: self.line,
                reason: "not valid UTF-8",
            }),
        }
    }

    fn bad(&self, reason: &'static str) -> ConsumerError {
        ConsumerError::BadSecrets {
            path: self.path.clone(),
            line: self.line,
            reason,
        }
    }
}

/// Splits a CSV line into its fields: unquoted fields are trimmed, quoted
/// ones unquoted (`""` is a quote).
pub(crate) fn split_fields(line: &str) -> Result<Vec<Cow<'_, str>>, &'static str> {
    let mut fields = Vec::with_capacity(2);
    let mut rest = line;
    loop {
        let field = rest.trim_start();
        let Some(quoted) = field.strip_prefix('"') else {
            match field.split_once(',') {
                Some((value, after)) => {
                    fields.push(Cow::Borrowed(value.trim()));
                    rest = after;
                    continue;
                }
                None => {
                    fields.push(Cow::Borrowed(field.trim()));
                    return Ok(fields);
                }
            }
        };
        let mut owned: Option<String> = None;
        let mut from = 0;
        let end = loop {
            let Some(at) = quoted[from..].find('"').map(|i| from + i) else {
                return Err("a quoted field is not closed on its line");
            };
            if quoted[at + 1..].starts_with('"') {
                owned
                    .get_or_insert_with(String::new)
                    .push_str(&quoted[from..=at]);
                from = at + 2;
            } else {
                break at;
            }
        };
        fields.push(match owned {
            Some(mut value) => {
                value.push_str(&quoted[from..end]);
                Cow::Owned(value)
            }
            None => Cow::Borrowed(&quoted[..end]),
        });
        let after = quoted[end + 1..].trim_start();
        if after.is_empty() {
            return Ok(fields);
        }
        rest = after
            .strip_prefix(',')
            .ok_or("text after the closing quote of a field")?;
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
            if line.trim().is_empty() {
                continue;
            }
            let row = match split_fields(line) {
                Ok(fields) => match fields.as_slice() {
                    [code, pin] => parse_row(code, pin),
                    _ => Err("expected two fields, `code,pin`"),
                },
                Err(reason) => Err(reason),
            };
            return Some(row.map_err(|reason| self.bad(reason)));
        }
    }
}

fn parse_row(code: &str, pin: &str) -> Result<(String, String), &'static str> {
    let code = code.trim();
    if code.is_empty() || code.len() > MAX_CODE_LEN {
        return Err("the code is empty or longer than 64 bytes");
    }
    let pin = normalize_pin(pin).ok_or("the PIN is not 4 to 32 letters or digits")?;
    Ok((code.to_owned(), pin))
}

/// Reads a whole secrets file once, keeping none of its rows, and checks it
/// as an import needs: every line valid ([`SecretsReader`]) and no code on
/// two lines. Returns the number of rows.
///
/// Memory: 24 bytes per code (a 128-bit hash of it and its line), the least
/// that finding duplicates in one pass needs.
///
/// # Errors
///
/// [`SecretsReader`]'s errors, and [`ConsumerError::DuplicateCode`] naming
/// both lines of a code given twice.
pub fn check_secrets(path: &Path) -> Result<u64, ConsumerError> {
    let mut reader = SecretsReader::open(path)?;
    let mut seen: HashMap<[u8; 16], u64> = HashMap::new();
    let mut rows = 0u64;
    while let Some(row) = reader.next() {
        let (code, _) = row?;
        let digest = blake3::hash(code.as_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest.as_bytes()[..16]);
        if let Some(&first_line) = seen.get(&id) {
            return Err(ConsumerError::DuplicateCode {
                path: path.to_owned(),
                code,
                first_line,
                line: reader.line(),
            });
        }
        seen.insert(id, reader.line());
        rows += 1;
    }
    Ok(rows)
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
        // Full width, as a Chinese keyboard types it, with its hyphen and space.
        assert_eq!(
            normalize_pin("４７６０－０７１４").as_deref(),
            Some("47600714")
        );
        assert_eq!(
            normalize_pin("ａｂ１２\u{3000}ＣＤ").as_deref(),
            Some("AB12CD")
        );
        assert_eq!(
            normalize_pin("4760\u{2014}0714").as_deref(),
            Some("47600714")
        );
        assert_eq!(normalize_pin("１２＜３４"), None);
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

    fn write(dir: &tempfile::TempDir, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join("pins.csv");
        std::fs::write(&path, bytes).expect("write");
        path
    }

    fn rows(path: &Path) -> Result<Vec<(String, String)>, ConsumerError> {
        SecretsReader::open(path)?.collect()
    }

    #[test]
    fn spreadsheet_csv_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            &dir,
            b"\xEF\xBB\xBF\"code\",\"pin\"\r\n\"A1\",\"1234\"\r\n B2 , \"56-78\" \r\n\"C\"\"3\",9999\r\n",
        );
        assert_eq!(
            rows(&path).expect("rows"),
            vec![
                ("A1".to_owned(), "1234".to_owned()),
                ("B2".to_owned(), "5678".to_owned()),
                ("C\"3".to_owned(), "9999".to_owned()),
            ]
        );
        // A byte order mark without quotes.
        let path = write(&dir, b"\xEF\xBB\xBFcode,pin\n111,1234\n");
        assert_eq!(check_secrets(&path).expect("check"), 1);
    }

    #[test]
    fn bad_quoting_and_bad_utf8_name_their_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, b"code,pin\n\"A1,1234\n");
        assert!(matches!(
            rows(&path),
            Err(ConsumerError::BadSecrets { line: 2, .. })
        ));
        let path = write(&dir, b"code,pin\n\"A1\"x,1234\n");
        assert!(matches!(
            rows(&path),
            Err(ConsumerError::BadSecrets { line: 2, .. })
        ));
        let path = write(&dir, b"code,pin\n111,1234\n\xff\xfe,1\n");
        assert!(matches!(
            check_secrets(&path),
            Err(ConsumerError::BadSecrets {
                line: 3,
                reason: "not valid UTF-8",
                ..
            })
        ));
        let path = write(&dir, b"code,pin\n111,1234,5\n");
        assert!(matches!(
            rows(&path),
            Err(ConsumerError::BadSecrets { line: 2, .. })
        ));
    }

    #[test]
    fn a_code_given_twice_names_both_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, b"code,pin\n111,1234\n\n222,1111\n\"111\",9999\n");
        match check_secrets(&path) {
            Err(ConsumerError::DuplicateCode {
                code,
                first_line,
                line,
                ..
            }) => assert_eq!((code.as_str(), first_line, line), ("111", 2, 5)),
            other => panic!("expected a duplicate, got {other:?}"),
        }
        let path = write(&dir, b"code,pin\n111,1234\n222,1111\n");
        assert_eq!(check_secrets(&path).expect("check"), 2);
    }

    #[test]
    fn the_key_check_value_depends_on_the_key_only() {
        let a = PinKey::from_bytes([1; 32]);
        assert_eq!(a.check_value(), PinKey::from_bytes([1; 32]).check_value());
        assert_ne!(a.check_value(), PinKey::from_bytes([2; 32]).check_value());
    }
}
