//! The names of the organisations that provide records, for the consumer
//! page's "provided by".
//!
//! A record names its provider only by its `org_id` (SPEC.md 2.2), which
//! the record's proof commits to. A shopper reads `brand-0003` or
//! `broker-017` as noise; `serve --orgs FILE` gives the page a name for each
//! id, shown with the id: "SF Express 顺丰速运 (carrier-00)". The name is the
//! operator's statement, not part of any proof: the id beside it is.
//!
//! The file is CSV in UTF-8: the header `org_id,name`, then one line per
//! organisation. What a spreadsheet's export writes is accepted (a byte
//! order mark, quoted fields, CRLF line ends, blank lines). An `org_id`
//! follows the **identifier** rule (1 to 64 bytes of printable ASCII, no
//! space); a name is 1 to 200 characters with no control characters and no
//! bidirectional formatting characters (which could move the id shown
//! beside it). A bad
//! line, or an `org_id` on two lines, is an error naming the file and the
//! line(s): the server does not start with a directory that says something
//! else than its file.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;

use super::error::ConsumerError;
use super::pin::{BOM, split_fields};

/// Longest `org_id`, in bytes (the column's limit, SPEC.md 2.2).
pub const MAX_ORG_ID_LEN: usize = 64;
/// Longest name, in characters.
pub const MAX_ORG_NAME_CHARS: usize = 200;

/// The bidirectional formatting characters: marks, embeddings, overrides
/// and isolates.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Names of organisations by `org_id`.
#[derive(Debug, Clone, Default)]
pub struct OrgNames {
    names: HashMap<String, String>,
}

impl OrgNames {
    /// No names: the page shows the ids alone.
    pub fn empty() -> OrgNames {
        OrgNames::default()
    }

    /// Reads a directory file (see the module documentation).
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Io`] when the file cannot be read,
    /// [`ConsumerError::BadOrgs`] naming the line that is wrong.
    pub fn load(path: &Path) -> Result<OrgNames, ConsumerError> {
        let bytes = std::fs::read(path).map_err(|source| ConsumerError::Io {
            path: path.to_owned(),
            source,
        })?;
        OrgNames::parse(path, &bytes)
    }

    /// Parses the bytes of a directory file; `path` names it in errors.
    ///
    /// # Errors
    ///
    /// As [`OrgNames::load`].
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<OrgNames, ConsumerError> {
        let bad = |line: usize, reason: String| ConsumerError::BadOrgs {
            path: path.to_owned(),
            line: line as u64,
            reason,
        };
        // org_id -> (its line, its name)
        let mut entries: HashMap<String, (usize, String)> = HashMap::new();
        let mut header_seen = false;
        let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
        for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
            let line_no = i + 1;
            let text =
                std::str::from_utf8(raw).map_err(|_| bad(line_no, "not valid UTF-8".to_owned()))?;
            let text = text.strip_suffix('\r').unwrap_or(text);
            if text.trim().is_empty() {
                continue;
            }
            let fields = split_fields(text).map_err(|reason| bad(line_no, reason.to_owned()))?;
            if !header_seen {
                match fields.as_slice() {
                    [id, name] if id == "org_id" && name == "name" => {
                        header_seen = true;
                        continue;
                    }
                    _ => {
                        return Err(bad(
                            line_no,
                            "expected the header line `org_id,name`".to_owned(),
                        ));
                    }
                }
            }
            let [id, name] = fields.as_slice() else {
                return Err(bad(
                    line_no,
                    format!("expected two fields, `org_id,name`, found {}", fields.len()),
                ));
            };
            let id = id.trim();
            if id.is_empty()
                || id.len() > MAX_ORG_ID_LEN
                || !id.bytes().all(|b| (0x21..=0x7e).contains(&b))
            {
                return Err(bad(
                    line_no,
                    format!(
                        "the org_id {:?} is not 1 to {MAX_ORG_ID_LEN} bytes of printable ASCII without spaces",
                        id.chars().take(80).collect::<String>()
                    ),
                ));
            }
            let name = name.trim();
            let chars = name.chars().count();
            if chars == 0 || chars > MAX_ORG_NAME_CHARS {
                return Err(bad(
                    line_no,
                    format!(
                        "the name of {id} is empty or longer than {MAX_ORG_NAME_CHARS} characters"
                    ),
                ));
            }
            if name.chars().any(char::is_control) {
                return Err(bad(
                    line_no,
                    format!("the name of {id} has a control character"),
                ));
            }
            if name.chars().any(is_bidi_control) {
                return Err(bad(
                    line_no,
                    format!(
                        "the name of {id} has a bidirectional formatting character (U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069)"
                    ),
                ));
            }
            match entries.entry(id.to_owned()) {
                Entry::Occupied(first) => {
                    return Err(bad(
                        line_no,
                        format!("{id} is also on line {}", first.get().0),
                    ));
                }
                Entry::Vacant(slot) => {
                    slot.insert((line_no, name.to_owned()));
                }
            }
        }
        if !header_seen {
            return Err(bad(1, "expected the header line `org_id,name`".to_owned()));
        }
        let names = entries
            .into_iter()
            .map(|(id, (_, name))| (id, name))
            .collect();
        Ok(OrgNames { names })
    }

    /// The name of `org_id`, if the directory has one.
    pub fn name(&self, org_id: &str) -> Option<&str> {
        self.names.get(org_id).map(String::as_str)
    }

    /// How many organisations have a name.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no organisation has a name.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(text: &str) -> Result<OrgNames, ConsumerError> {
        OrgNames::parse(Path::new("orgs.csv"), text.as_bytes())
    }

    fn line_and_reason(e: ConsumerError) -> (u64, String) {
        match e {
            ConsumerError::BadOrgs { line, reason, .. } => (line, reason),
            other => panic!("not BadOrgs: {other}"),
        }
    }

    #[test]
    fn names_are_read_as_spreadsheets_write_them() {
        let orgs = parse(
            "\u{feff}org_id,name\r\nbrand-0001,Acme 艾克米\r\n\r\n\"carrier-00\",\"SF \"\"Express\"\" 顺丰\"\r\n  broker-001 , Broker One \n",
        )
        .unwrap();
        assert_eq!(orgs.len(), 3);
        assert_eq!(orgs.name("brand-0001"), Some("Acme 艾克米"));
        assert_eq!(orgs.name("carrier-00"), Some("SF \"Express\" 顺丰"));
        assert_eq!(orgs.name("broker-001"), Some("Broker One"));
        assert_eq!(orgs.name("brand-0002"), None);
        assert!(parse("org_id,name\n").unwrap().is_empty());
    }

    #[test]
    fn bad_lines_are_named() {
        let cases: [(&str, u64, &str); 10] = [
            ("org_id,name\nbrand-1,Acme\u{202E}\n", 2, "bidirectional"),
            ("", 1, "header"),
            ("id,name\na,b\n", 1, "header"),
            ("org_id,name\nbrand-1\n", 2, "two fields"),
            ("org_id,name\nbrand 1,Acme\n", 2, "printable ASCII"),
            ("org_id,name\nbrand-1,\n", 2, "empty"),
            ("org_id,name\nbrand-1,A\u{7}cme\n", 2, "control"),
            ("org_id,name\na,A\nb,B\na,C\n", 4, "also on line 2"),
            ("org_id,name\n\"a,A\n", 2, "quoted field"),
            ("org_id,name\na,A\nb,\u{e9}\n", 3, ""),
        ];
        for (text, line, reason) in cases {
            if reason.is_empty() {
                assert!(parse(text).is_ok());
                continue;
            }
            let (l, r) = line_and_reason(parse(text).unwrap_err());
            assert_eq!(l, line, "{text:?}: {r}");
            assert!(r.contains(reason), "{text:?}: {r}");
        }
        let latin1 = b"org_id,name\na,Caf\xe9\n";
        let (l, r) = line_and_reason(OrgNames::parse(Path::new("o"), latin1).unwrap_err());
        assert_eq!((l, r.as_str()), (2, "not valid UTF-8"));
        let long = format!("org_id,name\na,{}\n", "x".repeat(MAX_ORG_NAME_CHARS + 1));
        assert!(parse(&long).is_err());
        let long_id = format!("org_id,name\n{},A\n", "x".repeat(MAX_ORG_ID_LEN + 1));
        assert!(parse(&long_id).is_err());
    }
}
