//! Resolving inputs (a file, a folder or prefix, or a glob) to the files they name.
//!
//! The rules, one per kind of input:
//!
//! - **A single file** named explicitly is taken as is, whatever its name.
//! - **A folder or prefix** contributes, recursively, only the objects whose file name ends in
//!   `.parquet` (ASCII case-insensitive), and skips every object whose path below the folder
//!   has a segment (folder or file name) starting with `.` or `_`: hidden files and folders,
//!   Spark's `_SUCCESS` markers and `_temporary/` leftovers, `.crc` checksum files and
//!   proofmark's own `.<name>.tmp` temporary files.
//! - **A glob** (an input with `*`, `?`, `[` or `{`) is split into its base folder (the
//!   segments before the first one with a glob character) and a pattern, in which `*`, `?`
//!   and `[...]` never match `/` and `**` matches any number of folders. It takes the objects
//!   under the base whose path below it matches the pattern, whatever their extension,
//!   except those whose path below the base has a segment starting with `.` or `_` that is
//!   not matched by a pattern segment starting with `.` or `_` too: as a shell's `*` does not
//!   match a leading `.`, neither `*` nor `**` matches such a name here. So
//!   `landing/**/*.parquet` skips `landing/.hidden/x.parquet`,
//!   `landing/_temporary/0/x.parquet` and `landing/_x.parquet`, while
//!   `landing/**/_staging/*.parquet`, `landing/_*/*.parquet` and
//!   `landing/_staging/*.parquet` (where `_staging` is part of the base, which is never
//!   checked) take the Parquet files of `_staging` folders. A pattern with a `{...}` or
//!   `[...]` spanning a `/` names no such segment.
//!
//! The files are listed sorted by path, so the result is deterministic. An input that names
//! no file at all is an error naming it ([`IngestError::InputNotFound`]); a folder or glob
//! under which files exist but none is taken is an error naming it and how many files were
//! skipped ([`IngestError::NoQualifyingFile`]).

use globset::{GlobBuilder, GlobMatcher};

use crate::error::IngestError;
use crate::store::{ObjectInfo, Store, has_scheme};

/// The file name suffix a folder input takes (ASCII case-insensitive).
const PARQUET_SUFFIX: &str = ".parquet";

/// The rule of a folder input, in words, for [`IngestError::NoQualifyingFile`].
const FOLDER_RULE: &str = "a folder contributes only its files named *.parquet, \
    skipping every file or folder whose name starts with '.' or '_'";

/// The rule of a glob input, in words, for [`IngestError::NoQualifyingFile`].
const GLOB_RULE: &str = "a glob skips every file or folder whose name starts with '.' or '_' \
    unless the pattern segment matching it starts with '.' or '_' too";

/// One input file found by [`resolve_inputs`].
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The store the file was found in (the input's own location).
    pub store: Store,
    /// The file's path in `store`.
    pub path: String,
    /// The file's URL: `store.object_url(path)`.
    pub url: String,
    /// Size in bytes when listed.
    pub size: u64,
}

/// Whether `s` has glob metacharacters.
fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// Resolves each input to its files, in input order, without duplicates (a file named by
/// two inputs appears once), by the rules of the [module docs](self).
///
/// # Errors
///
/// [`IngestError::NoInputs`] when `inputs` is empty, [`IngestError::InputNotFound`] for an
/// input that names no file, [`IngestError::NoQualifyingFile`] for a folder or glob whose files
/// are all skipped, and the errors of [`resolve_one`].
pub async fn resolve_inputs(inputs: &[String]) -> Result<Vec<SourceFile>, IngestError> {
    if inputs.is_empty() {
        return Err(IngestError::NoInputs);
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for input in inputs {
        let found = resolve_one(input).await?;
        if found.is_empty() {
            return Err(IngestError::InputNotFound {
                input: input.clone(),
            });
        }
        for f in found {
            if seen.insert(f.url.clone()) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// The files one input names, sorted by path within the input: a single file as is, the
/// `*.parquet` files under a folder or prefix, or the files a glob matches, skipping the
/// hidden and underscore names described in the [module docs](self).
///
/// An input that names no file at all gives an empty list (which [`resolve_inputs`] turns
/// into [`IngestError::InputNotFound`]).
///
/// # Errors
///
/// [`IngestError::NoQualifyingFile`] for a folder or glob under which files exist but none
/// is taken, [`IngestError::Glob`] for a pattern that does not compile, and the store's errors
/// (an invalid URL, a listing that fails).
pub async fn resolve_one(input: &str) -> Result<Vec<SourceFile>, IngestError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(IngestError::InputNotFound {
            input: input.to_owned(),
        });
    }
    // A local path that exists as written is that path, even with glob characters in its
    // name (`lot[1].parquet`).
    let literal = !has_scheme(trimmed) && tokio::fs::try_exists(trimmed).await.unwrap_or(false);
    if is_glob(trimmed) && !literal {
        return resolve_glob(trimmed).await;
    }
    // A single file, named explicitly: taken whatever its name.
    let single = match Store::for_object(trimmed) {
        Ok((parent, name)) => parent.head(&name).await?.map(|info| (parent, info)),
        Err(_) => None,
    };
    if let Some((parent, info)) = single {
        let url = parent.object_url(&info.path);
        return Ok(vec![SourceFile {
            store: parent,
            path: info.path,
            url,
            size: info.size,
        }]);
    }
    // A folder or prefix: the `*.parquet` objects under it, outside hidden and underscore names.
    let store = Store::from_url(trimmed)?;
    let listed = store.list("").await?;
    let total = listed.len();
    let taken: Vec<ObjectInfo> = listed
        .into_iter()
        .filter(|o| folder_takes(&o.path))
        .collect();
    finish(trimmed, &store, total, taken, FOLDER_RULE)
}

/// The files kept from a listing of `total` objects in `store`, or
/// [`IngestError::NoQualifyingFile`] when there were some and none is kept.
fn finish(
    input: &str,
    store: &Store,
    total: usize,
    taken: Vec<ObjectInfo>,
    rule: &'static str,
) -> Result<Vec<SourceFile>, IngestError> {
    let skipped = total.saturating_sub(taken.len());
    if taken.is_empty() && skipped > 0 {
        return Err(IngestError::NoQualifyingFile {
            input: input.to_owned(),
            skipped,
            rule,
        });
    }
    if skipped > 0 {
        tracing::info!(input, skipped, rule, "skipped files that are not inputs");
    }
    Ok(taken
        .into_iter()
        .map(|o| SourceFile {
            url: store.object_url(&o.path),
            store: store.clone(),
            path: o.path,
            size: o.size,
        })
        .collect())
}

/// Whether a path segment (a folder or file name) is hidden or reserved: it starts with `.`
/// or `_` (`.hidden`, `.x.parquet.crc`, `_SUCCESS`, `_temporary`).
fn is_hidden_segment(segment: &str) -> bool {
    segment.starts_with(['.', '_'])
}

/// Whether a file name ends in `.parquet`, ASCII case-insensitive.
fn has_parquet_suffix(name: &str) -> bool {
    name.len() > PARQUET_SUFFIX.len()
        && name
            .get(name.len() - PARQUET_SUFFIX.len()..)
            .is_some_and(|end| end.eq_ignore_ascii_case(PARQUET_SUFFIX))
}

/// Whether a folder input takes the object at `path` (relative to the folder): its name ends
/// in `.parquet` and no segment of `path` is hidden ([`is_hidden_segment`]).
fn folder_takes(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    has_parquet_suffix(name) && !path.split('/').any(is_hidden_segment)
}

/// One `/`-separated segment of a glob pattern, for [`ExplicitHidden`].
enum PatternSegment {
    /// `**`: any number of folders.
    Recursive,
    /// Any other segment: exactly one folder or file name.
    One {
        /// Whether the segment starts with `.` or `_`, so that it may match such a name.
        explicit: bool,
        /// The segment on its own.
        matcher: GlobMatcher,
    },
}

/// Which hidden and underscore names a glob pattern names explicitly: a name starting with
/// `.` or `_` is taken only where the pattern segment matching it starts with `.` or `_`
/// too (like a shell's `*`, which does not match a leading `.`), and `**` never spans one.
struct ExplicitHidden {
    /// The pattern's segments, or `None` for a pattern with a segment that does not compile
    /// on its own (a `{...}` or `[...]` spanning a `/`), which names no hidden name.
    segments: Option<Vec<PatternSegment>>,
}

impl ExplicitHidden {
    /// The segments of `pattern` (the part of a glob below its base).
    fn new(pattern: &str) -> ExplicitHidden {
        let segments = pattern
            .split('/')
            .map(|s| {
                if s == "**" {
                    return Some(PatternSegment::Recursive);
                }
                let glob = GlobBuilder::new(s).literal_separator(true).build().ok()?;
                Some(PatternSegment::One {
                    explicit: is_hidden_segment(s),
                    matcher: glob.compile_matcher(),
                })
            })
            .collect();
        ExplicitHidden { segments }
    }

    /// Whether a glob takes the object at `path` (relative to the glob's base, and matched
    /// by the whole pattern) as far as hidden names go: `path` has none, or the pattern's
    /// segments can be lined up with those of `path` so that each hidden name falls on a
    /// pattern segment starting with `.` or `_` that matches it.
    fn allows(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        if !parts.iter().any(|p| is_hidden_segment(p)) {
            return true;
        }
        let Some(segments) = &self.segments else {
            return false;
        };
        // reach[i][j]: the first `i` path segments can be matched by the first `j` pattern
        // segments. Every step moves forward in (i, j), so one pass in order fills it.
        let (n, m) = (parts.len(), segments.len());
        let mut reach = vec![vec![false; m + 1]; n + 1];
        reach[0][0] = true;
        for i in 0..=n {
            for j in 0..m {
                if !reach[i][j] {
                    continue;
                }
                let part = parts.get(i).copied();
                match &segments[j] {
                    PatternSegment::Recursive => {
                        reach[i][j + 1] = true;
                        if part.is_some_and(|p| !is_hidden_segment(p)) {
                            reach[i + 1][j] = true;
                        }
                    }
                    PatternSegment::One { explicit, matcher } => {
                        if part.is_some_and(|p| {
                            (*explicit || !is_hidden_segment(p)) && matcher.is_match(p)
                        }) {
                            reach[i + 1][j + 1] = true;
                        }
                    }
                }
            }
        }
        reach[n][m]
    }
}

/// Splits a glob into its longest non-glob folder prefix and the rest of the pattern.
fn split_glob(input: &str) -> (String, String) {
    // Keep "scheme://authority" whole: split only in the path part.
    let path_start = if has_scheme(input) {
        match input.find("://") {
            Some(i) => input[i + 3..]
                .find('/')
                .map_or(input.len(), |j| i + 3 + j + 1),
            None => input.find(':').map_or(0, |i| i + 1),
        }
    } else {
        0
    };
    let (head, path) = input.split_at(path_start);
    let segments: Vec<&str> = path.split('/').collect();
    let first_glob = segments
        .iter()
        .position(|s| is_glob(s))
        .unwrap_or(segments.len());
    let base_path = segments[..first_glob].join("/");
    let pattern = segments[first_glob..].join("/");
    let base = if base_path.is_empty() && path.starts_with('/') {
        format!("{head}/")
    } else if head.is_empty() && base_path.is_empty() {
        ".".to_owned()
    } else {
        format!("{head}{base_path}")
    };
    (base, pattern)
}

/// The files a glob matches below its base, skipping those below hidden and underscore names
/// that the pattern does not name explicitly ([`ExplicitHidden`]).
async fn resolve_glob(input: &str) -> Result<Vec<SourceFile>, IngestError> {
    let (base, pattern) = split_glob(input);
    let matcher = GlobBuilder::new(&pattern)
        .literal_separator(true)
        .build()
        .map_err(|source| IngestError::Glob {
            pattern: input.to_owned(),
            source,
        })?
        .compile_matcher();
    let explicit = ExplicitHidden::new(&pattern);
    let store = Store::from_url(&base)?;
    let matched: Vec<ObjectInfo> = store
        .list("")
        .await?
        .into_iter()
        .filter(|o| matcher.is_match(&o.path))
        .collect();
    let total = matched.len();
    let taken = matched
        .into_iter()
        .filter(|o| explicit.allows(&o.path))
        .collect();
    finish(input, &store, total, taken, GLOB_RULE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes each file (any bytes: discovery does not read them) under `root`.
    fn touch(root: &std::path::Path, files: &[&str]) {
        for f in files {
            let path = root.join(f);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, b"x").expect("write");
        }
    }

    /// The paths (relative to `root`, `/`-separated) of resolved files.
    fn rel(root: &std::path::Path, files: &[SourceFile]) -> Vec<String> {
        let root = std::fs::canonicalize(root).expect("canonical root");
        files
            .iter()
            .map(|f| {
                let local = f.store.local_file(&f.path).expect("local file");
                let local = std::fs::canonicalize(local).expect("canonical file");
                let rel = local.strip_prefix(&root).expect("under root");
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect()
    }

    fn text(path: &std::path::Path) -> String {
        path.to_str().expect("utf-8 path").to_owned()
    }

    /// A Spark-like output folder with files no folder input should take.
    const SPARK_FOLDER: &[&str] = &[
        "README.txt",
        "_SUCCESS",
        ".hidden/x.parquet",
        "_temporary/0/part.parquet",
        "sub/part-1.PARQUET",
        "part-0.parquet",
        ".part-0.parquet.crc",
        ".part-0.parquet.1234.0.tmp",
        "sub/_SUCCESS",
    ];

    #[test]
    fn parquet_suffix_and_hidden_segments() {
        assert!(has_parquet_suffix("a.parquet"));
        assert!(has_parquet_suffix("a.PARQUET"));
        assert!(has_parquet_suffix("a.Parquet"));
        assert!(!has_parquet_suffix(".parquet"));
        assert!(!has_parquet_suffix("a.parquet.crc"));
        assert!(!has_parquet_suffix("a_parquet"));
        assert!(!has_parquet_suffix("é.parque"));
        assert!(folder_takes("part-0.parquet"));
        assert!(folder_takes("year=2026/part-0.parquet"));
        assert!(!folder_takes("_temporary/0/part.parquet"));
        assert!(!folder_takes(".hidden/x.parquet"));
        assert!(!folder_takes("sub/_part.parquet"));
        assert!(!folder_takes("sub/README.txt"));
        let explicit = ExplicitHidden::new("**/_staging/*.parquet");
        assert!(explicit.allows("a/_staging/x.parquet"));
        assert!(!explicit.allows(".a/_staging/x.parquet"));
        assert!(!explicit.allows("_temporary/x.parquet"));
        assert!(ExplicitHidden::new("_*/.*").allows("_a/.b"));
        assert!(!ExplicitHidden::new("_*/*").allows("_a/_b"));
        assert!(!ExplicitHidden::new("*/_*").allows("_a/_b"));
        assert!(!ExplicitHidden::new("**").allows("a/_b"));
        assert!(ExplicitHidden::new("**/_b/**").allows("a/_b/c/d"));
        assert!(!ExplicitHidden::new("**/_b/**").allows("a/_b/_c/d"));
        assert!(ExplicitHidden::new("**/_b/**/_b/*").allows("_b/x/_b/y"));
        assert!(ExplicitHidden::new("{a/b,c}/*").allows("c/x"));
        assert!(!ExplicitHidden::new("{a/_b,c}/*").allows("a/_b/x"));
    }

    /// A local path that exists as written is taken literally, glob characters and all; a
    /// pattern that names no existing path is still a glob.
    #[tokio::test]
    async fn existing_paths_with_glob_characters_are_literal() {
        let dir = tempfile::tempdir().expect("tempdir");
        touch(
            dir.path(),
            &["lot[1].parquet", "lot1.parquet", "b/x.parquet"],
        );
        let literal = resolve_inputs(&[text(&dir.path().join("lot[1].parquet"))])
            .await
            .expect("literal");
        assert_eq!(literal.len(), 1);
        assert!(
            literal[0].url.ends_with("lot[1].parquet")
                || literal[0].url.ends_with("lot%5B1%5D.parquet"),
            "{}",
            literal[0].url
        );
        let glob = resolve_inputs(&[text(&dir.path().join("lot[0-9].parquet"))])
            .await
            .expect("glob");
        assert_eq!(rel(dir.path(), &glob), ["lot1.parquet"]);
    }

    #[tokio::test]
    async fn a_folder_takes_only_its_visible_parquet_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("out.parquet");
        touch(&root, SPARK_FOLDER);
        let found = resolve_one(&text(&root)).await.expect("folder");
        assert_eq!(rel(&root, &found), ["part-0.parquet", "sub/part-1.PARQUET"]);
        // A folder whose own name starts with `_` or `.` is still read: only names below it count.
        let under = dir.path().join("_in/.x");
        touch(&under, &["a.parquet"]);
        let found = resolve_one(&text(&under)).await.expect("hidden folder");
        assert_eq!(rel(&under, &found), ["a.parquet"]);
    }

    #[tokio::test]
    async fn a_glob_skips_hidden_and_underscore_names_it_does_not_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("landing");
        touch(&root, SPARK_FOLDER);
        touch(&root, &["_staging/s.parquet", "a/_staging/t.parquet"]);
        let glob = format!("{}/**/*.parquet", text(&root));
        let found = resolve_one(&glob).await.expect("glob");
        assert_eq!(rel(&root, &found), ["part-0.parquet"]);
        // Case matters in a glob, as written.
        let glob = format!("{}/**/*.[pP][aA][rR][qQ][uU][eE][tT]", text(&root));
        let found = resolve_one(&glob).await.expect("glob");
        assert_eq!(rel(&root, &found), ["part-0.parquet", "sub/part-1.PARQUET"]);
        // A glob takes files whatever their name, outside hidden and underscore names.
        let glob = format!("{}/*", text(&root));
        let found = resolve_one(&glob).await.expect("glob");
        assert_eq!(rel(&root, &found), ["README.txt", "part-0.parquet"]);
    }

    #[tokio::test]
    async fn a_glob_that_names_an_underscore_folder_takes_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("landing");
        touch(
            &root,
            &[
                "_staging/s.parquet",
                "_staging/_SUCCESS",
                "_staging/.s.parquet.crc",
                "a/_staging/t.parquet",
                ".old/_staging/u.parquet",
                "_other/v.parquet",
            ],
        );
        // `_staging` in the glob's base.
        let glob = format!("{}/_staging/*.parquet", text(&root));
        let found = resolve_one(&glob).await.expect("glob");
        assert_eq!(rel(&root, &found), ["_staging/s.parquet"]);
        // `_staging` as a pattern segment: `.old` is not named, `_other` does not match.
        let glob = format!("{}/**/_staging/*.parquet", text(&root));
        let found = resolve_one(&glob).await.expect("glob");
        assert_eq!(
            rel(&root, &found),
            ["_staging/s.parquet", "a/_staging/t.parquet"]
        );
        // A pattern segment such as `_*` or `.*` names every such folder or file.
        let glob = format!("{}/_*/*", text(&root));
        let found = resolve_one(&glob).await.expect("glob");
        // (`*` does not take `_staging/_SUCCESS`, nor `**` `.old/_staging/u.parquet`.)
        assert_eq!(
            rel(&root, &found),
            ["_other/v.parquet", "_staging/s.parquet"]
        );
        let glob = format!("{}/_staging/.*", text(&root));
        let found = resolve_one(&glob).await.expect("glob");
        assert_eq!(rel(&root, &found), ["_staging/.s.parquet.crc"]);
    }

    #[tokio::test]
    async fn a_file_named_explicitly_is_taken_whatever_its_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        touch(dir.path(), &["_SUCCESS", "notes.txt", ".hidden/x.data"]);
        for name in ["_SUCCESS", "notes.txt", ".hidden/x.data"] {
            let found = resolve_one(&text(&dir.path().join(name)))
                .await
                .expect("file");
            assert_eq!(rel(dir.path(), &found), [name]);
        }
        let url = url::Url::from_file_path(dir.path().join("notes.txt"))
            .expect("url")
            .to_string();
        let found = resolve_inputs(&[url]).await.expect("file URL");
        assert_eq!(rel(dir.path(), &found), ["notes.txt"]);
    }

    #[tokio::test]
    async fn a_folder_or_glob_with_nothing_to_take_says_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("out.parquet");
        touch(
            &root,
            &["README.txt", "_SUCCESS", "_temporary/0/part.parquet"],
        );
        let input = text(&root);
        let err = resolve_inputs(std::slice::from_ref(&input))
            .await
            .expect_err("nothing qualifies");
        assert!(
            matches!(
                &err,
                IngestError::NoQualifyingFile { input: i, skipped: 3, rule }
                    if *i == input && *rule == FOLDER_RULE
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&input), "{message}");
        assert!(
            message.contains("matches 3 files but none is taken"),
            "{message}"
        );
        assert!(message.contains("*.parquet"), "{message}");

        let glob = format!("{}/**/*.parquet", text(&root));
        let err = resolve_inputs(std::slice::from_ref(&glob))
            .await
            .expect_err("only hidden matches");
        assert!(
            matches!(
                &err,
                IngestError::NoQualifyingFile { input: i, skipped: 1, rule }
                    if *i == glob && *rule == GLOB_RULE
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("matches 1 file but"), "{err}");

        // Nothing at all, or nothing matching: the input matches no file.
        let empty = dir.path().join("empty");
        std::fs::create_dir_all(&empty).expect("mkdir");
        for input in [
            text(&empty),
            text(&dir.path().join("missing")),
            format!("{}/*.csv", text(&root)),
        ] {
            let err = resolve_inputs(std::slice::from_ref(&input))
                .await
                .expect_err("no file");
            assert!(
                matches!(&err, IngestError::InputNotFound { input: i } if *i == input),
                "{err:?}"
            );
        }
    }

    #[test]
    fn glob_split() {
        assert_eq!(
            split_glob("dir/records/**/*.parquet"),
            ("dir/records".into(), "**/*.parquet".into())
        );
        assert_eq!(split_glob("*.parquet"), (".".into(), "*.parquet".into()));
        assert_eq!(
            split_glob("/data/x/*.parquet"),
            ("/data/x".into(), "*.parquet".into())
        );
        assert_eq!(split_glob("/*.parquet"), ("/".into(), "*.parquet".into()));
        assert_eq!(
            split_glob("s3://bucket/in/2026-*/x.parquet"),
            ("s3://bucket/in".into(), "2026-*/x.parquet".into())
        );
        assert_eq!(
            split_glob("s3://bucket/*.parquet"),
            ("s3://bucket/".into(), "*.parquet".into())
        );
    }
}
