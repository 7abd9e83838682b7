//! Resolving inputs (a file, a folder or prefix, or a glob) to the files they name.
//!
//! Nothing is skipped silently: an input that matches no file is an error
//! naming it, and a folder contributes every object under it (use a glob such
//! as `landing/**/*.parquet` to pick some).

use globset::GlobBuilder;

use crate::error::IngestError;
use crate::store::{Store, has_scheme};

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
/// two inputs appears once).
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

/// The files one input names.
pub async fn resolve_one(input: &str) -> Result<Vec<SourceFile>, IngestError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(IngestError::InputNotFound {
            input: input.to_owned(),
        });
    }
    if is_glob(trimmed) {
        return resolve_glob(trimmed).await;
    }
    // A single file?
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
    // A folder or prefix: every object under it.
    let store = Store::from_url(trimmed)?;
    let listed = store.list("").await?;
    Ok(listed
        .into_iter()
        .map(|o| SourceFile {
            url: store.object_url(&o.path),
            store: store.clone(),
            path: o.path,
            size: o.size,
        })
        .collect())
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
    let store = Store::from_url(&base)?;
    let listed = store.list("").await?;
    Ok(listed
        .into_iter()
        .filter(|o| matcher.is_match(&o.path))
        .map(|o| SourceFile {
            url: store.object_url(&o.path),
            store: store.clone(),
            path: o.path,
            size: o.size,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

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
