//! [`Store`]: a folder or an object store URL, with paths relative to its root.
//!
//! One type for every place proofmark reads or writes: a local folder (a path
//! or a `file://` URL), Amazon S3 (`s3://bucket/prefix`), Google Cloud Storage
//! (`gs://bucket/prefix`), Azure Blob Storage (`az://container/prefix`,
//! `azure://`, `abfs://`, `abfss://`) or a plain HTTP(S) server. Credentials
//! and endpoints come from the usual environment variables (object_store's
//! `from_env` builders, e.g. `AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP=true` for a
//! local S3 server, `AWS_TIMEOUT=30s` for the time of one request). A request
//! that fails or times out is retried for up to [`STORE_RETRY_ENV`] seconds
//! (default 180) before the operation fails; the first such failure of an outage is logged
//! at once as a warning, naming the endpoint and the error, and so is the store's recovery
//! ([`crate::store_client`]).

use std::fmt;
use std::ops::Range;
use std::path::{Component, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{
    ObjectStore, ObjectStoreExt, ObjectStoreScheme, PutMode, PutOptions, PutPayload, WriteMultipart,
};
use tokio::io::AsyncReadExt;
use url::Url;

use crate::error::IngestError;
use crate::store_client::{ClientFacts, WarnOnRetry};

/// The environment variable that bounds, in seconds, how long a request to an object store
/// (`s3://`, `gs://`, `az://`) is retried after failures or timeouts, however many retries
/// that takes (default 180: a store that stalls fails the operation after about three and a
/// half minutes). Requests are retried with the credentials they were signed with: keep it
/// under five minutes.
pub const STORE_RETRY_ENV: &str = "PROOFMARK_STORE_RETRY_SECS";

/// The retry settings of object stores: object_store's, bounded by [`STORE_RETRY_ENV`].
fn retry_config(input: &str) -> Result<object_store::RetryConfig, IngestError> {
    retry_config_of(input, std::env::var(STORE_RETRY_ENV).ok())
}

/// [`retry_config`] with `value` for [`STORE_RETRY_ENV`].
fn retry_config_of(
    input: &str,
    value: Option<String>,
) -> Result<object_store::RetryConfig, IngestError> {
    // Bounded by time, not by count (object_store stops after 10 retries by default, which a
    // store failing fast reaches in under a minute).
    let mut retry = object_store::RetryConfig {
        max_retries: usize::MAX,
        ..Default::default()
    };
    if let Some(value) = value {
        let secs: u64 = value.trim().parse().map_err(|_| IngestError::InvalidUrl {
            url: input.to_owned(),
            reason: format!("{STORE_RETRY_ENV}={value:?} is not a whole number of seconds"),
        })?;
        retry.retry_timeout = std::time::Duration::from_secs(secs);
    }
    Ok(retry)
}

/// Size of the parts [`Store::put_file`] uploads (and of its local reads).
pub const UPLOAD_PART_BYTES: usize = 8 * 1024 * 1024;

/// Parts in flight at once during a multipart upload.
const UPLOAD_CONCURRENCY: usize = 4;

/// Numbers the temporary files of local writes within the process.
static TEMP_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// An object and its size, as listed or found by [`Store::head`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Path relative to the store root, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// What [`Store::remove_partial_files`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    /// Files removed.
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// The name prefix and suffix of a batch commit's outputs before their rename
/// (`.proofmark-<random>.tmp`).
pub const COMMIT_TEMP_AFFIXES: (&str, &str) = (".proofmark-", ".tmp");

/// Whether a file name is that of a batch commit's output before its rename
/// ([`COMMIT_TEMP_AFFIXES`] around a non-empty middle).
pub fn is_commit_temp_name(name: &str) -> bool {
    let (prefix, suffix) = COMMIT_TEMP_AFFIXES;
    name.len() > prefix.len() + suffix.len() && name.starts_with(prefix) && name.ends_with(suffix)
}

/// Whether a file name is that of a temporary file which its writer keeps locked (an
/// exclusive `flock`) for as long as it exists: those of [`Store::put`],
/// [`Store::put_if_absent`], [`Store::put_bulk`] and [`Store::writer`] in a local store
/// (`.<name>.<pid>.<n>.tmp`) and the batch commit's
/// (`.proofmark-<random>.tmp`). Such a file that nobody holds locked was left by a killed
/// writer.
pub fn is_locked_temp_name(name: &str) -> bool {
    let hidden = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp"));
    let local = hidden.is_some_and(|n| {
        let mut parts = n.rsplitn(3, '.');
        matches!(
            (parts.next(), parts.next(), parts.next()),
            (Some(count), Some(pid), Some(base))
                if all_digits(count) && all_digits(pid) && !base.is_empty()
        )
    });
    local || is_commit_temp_name(name)
}

/// Whether a file name is that of a temporary file written before a rename: object_store's
/// staging files (`<name>#<digits>`, which it never lists as objects, written by its local
/// puts: [`Store::put`] and [`Store::put_if_absent`] of a path that needs encoding, and
/// every put of earlier versions) and the locked ones of
/// [`is_locked_temp_name`].
pub fn is_partial_file_name(name: &str) -> bool {
    let staged = name
        .rsplit_once('#')
        .is_some_and(|(base, n)| !base.is_empty() && all_digits(n));
    staged || is_locked_temp_name(name)
}

/// Whether `s` is one or more ASCII digits.
fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The error of a failed local write of `path`.
fn write_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> IngestError {
    let path = path.to_owned();
    move |source| IngestError::LocalWrite { path, source }
}

/// The temporary file beside `target` that a local write fills before renaming it into
/// place, `.<name>.<pid>.<n>.tmp` ([`is_locked_temp_name`]), its folder created.
fn local_temp_path(target: &std::path::Path) -> Result<PathBuf, IngestError> {
    let dir = target.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).map_err(write_error(dir))?;
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned());
    Ok(dir.join(format!(
        ".{}.{}.{}.tmp",
        name.unwrap_or_default(),
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )))
}

/// Runs `create`, which makes the new file `temp`, once more after making `temp`'s folder
/// when it failed for want of it: [`Store::remove_folder_if_empty`] in another task or
/// process may remove the folder between [`local_temp_path`] making it and `create`.
fn in_folder<T>(
    temp: &std::path::Path,
    create: impl Fn() -> std::io::Result<T>,
) -> std::io::Result<T> {
    match create() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = temp.parent() {
                std::fs::create_dir_all(dir)?;
            }
            create()
        }
        done => done,
    }
}

/// How [`local_put`] puts its temporary file in place.
#[derive(Clone, Copy)]
enum LocalPut {
    /// Renamed over any existing file.
    Replace,
    /// Hard-linked under the object's name, which fails when the name exists.
    Create,
}

/// Writes `data` to a locked temporary file beside `target` (past the page cache when
/// `direct`, see [`crate::direct_file`]) and puts it in place: `true` when it was, `false`
/// when [`LocalPut::Create`] found `target` already there. A killed writer leaves only the
/// unlocked temporary file, which [`Store::remove_abandoned_writes`] can tell from a live
/// one.
async fn local_put(
    target: PathBuf,
    data: Bytes,
    how: LocalPut,
    direct: bool,
) -> Result<bool, IngestError> {
    let shown = target.clone();
    let write = move || -> Result<bool, IngestError> {
        use std::io::Write as _;
        let temp = local_temp_path(&target)?;
        let written = in_folder(&temp, || {
            if direct {
                crate::direct_file::write_new_file(&temp, &data)
            } else {
                crate::direct_file::create_locked(&temp)
                    .and_then(|mut file| file.write_all(&data).map(|()| file))
            }
        });
        let file = match written {
            Ok(file) => file,
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                return Err(write_error(&temp)(e));
            }
        };
        let placed = match how {
            // Renamed while still open, so that the temporary name is locked as long as
            // it exists.
            LocalPut::Replace => std::fs::rename(&temp, &target)
                .map(|()| true)
                .map_err(write_error(&target)),
            LocalPut::Create => match std::fs::hard_link(&temp, &target) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(write_error(&target)(e)),
            },
        };
        if !matches!((how, &placed), (LocalPut::Replace, Ok(true))) {
            let _ = std::fs::remove_file(&temp);
        }
        drop(file);
        placed
    };
    tokio::task::spawn_blocking(write)
        .await
        .map_err(|e| local_task_error(&shown, &e))?
}

/// Removes the files under `dir` whose names `select` takes, last written before `before`
/// and unlocked, recursively; what cannot be read or removed is logged and skipped.
fn remove_partial_in(
    dir: &std::path::Path,
    before: std::time::SystemTime,
    select: fn(&str) -> bool,
    removed: &mut Removed,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            tracing::warn!(folder = %dir.display(), error = %e, "cannot list for partial files");
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            remove_partial_in(&path, before, select, removed);
            continue;
        }
        if !kind.is_file() || !select(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if meta.modified().map_or(true, |m| m >= before) {
            continue; // written since: perhaps a live write
        }
        // A writer that locks its file is alive while the lock is held.
        let Ok(file) = std::fs::File::open(&path) else {
            continue;
        };
        if matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)) {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {
                removed.files += 1;
                removed.bytes += meta.len();
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot remove a partial file");
            }
        }
    }
}

/// A folder or an object store, addressed by URL, with paths relative to its root.
///
/// Cheap to clone (the client is shared).
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    root: ObjectPath,
    url: String,
    local_root: Option<PathBuf>,
    /// What the client's settings tell about its errors' causes (shared, as the client is).
    facts: Arc<ClientFacts>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Whether `s` looks like a URL with a scheme (`s3://...`, `file:///...`), rather than a
/// local path. One-letter schemes are Windows drive letters, not URLs.
pub(crate) fn has_scheme(s: &str) -> bool {
    match s.split_once(':') {
        Some((scheme, _)) => {
            scheme.len() >= 2
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                && scheme.as_bytes()[0].is_ascii_alphabetic()
        }
        None => false,
    }
}

/// `path` made absolute against the current directory, with `.` and `..` resolved lexically
/// (the folder need not exist yet).
fn absolute_local(input: &str, path: &std::path::Path) -> Result<PathBuf, IngestError> {
    let abs = std::path::absolute(path).map_err(|e| IngestError::InvalidUrl {
        url: input.to_owned(),
        reason: format!("cannot make the path absolute: {e}"),
    })?;
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    Ok(out)
}

impl Store {
    /// Opens the store at `url`: a local path (relative paths are made absolute against the
    /// current directory), `file://`, `s3://bucket/prefix`, `gs://bucket/prefix`,
    /// `az://container/prefix` (also `azure://`, `abfs://`, `abfss://`, `adl://`) or
    /// `http(s)://host/prefix`. Nothing is read or written: a folder need not exist yet.
    pub fn from_url(url: &str) -> Result<Store, IngestError> {
        let input = url.trim();
        if input.is_empty() {
            return Err(IngestError::InvalidUrl {
                url: url.to_owned(),
                reason: "empty".into(),
            });
        }
        if !has_scheme(input) {
            return Self::local(input, std::path::Path::new(input));
        }
        let parsed = Url::parse(input).map_err(|e| IngestError::InvalidUrl {
            url: input.to_owned(),
            reason: e.to_string(),
        })?;
        if parsed.scheme() == "file" {
            let path = parsed
                .to_file_path()
                .map_err(|()| IngestError::InvalidUrl {
                    url: input.to_owned(),
                    reason: "not a local file URL (a host is not allowed)".into(),
                })?;
            return Self::local(input, &path);
        }
        let (scheme, root) =
            ObjectStoreScheme::parse(&parsed).map_err(|e| IngestError::InvalidUrl {
                url: input.to_owned(),
                reason: e.to_string(),
            })?;
        let open = |source| IngestError::OpenStore {
            url: input.to_owned(),
            source,
        };
        // A cloud store from its builder, with its retry bound; its clients warn at the first
        // failed request of an outage that is retried, and tell when the store answers again.
        macro_rules! cloud {
            ($builder:expr) => {{
                let retry = retry_config(input)?;
                let warn = WarnOnRetry::new(retry.retry_timeout.as_secs());
                Arc::new(
                    $builder
                        .with_url(input)
                        .with_retry(retry)
                        .with_http_connector(warn)
                        .build()
                        .map_err(open)?,
                )
            }};
        }
        let mut facts = ClientFacts::default();
        let inner: Arc<dyn ObjectStore> = match scheme {
            ObjectStoreScheme::AmazonS3 => {
                let builder = object_store::aws::AmazonS3Builder::from_env();
                facts = ClientFacts::of_s3(&builder);
                cloud!(builder)
            }
            ObjectStoreScheme::GoogleCloudStorage => {
                let builder = object_store::gcp::GoogleCloudStorageBuilder::from_env();
                facts = ClientFacts::of_gcs(
                    &builder,
                    |name| std::env::var(name).ok().filter(|v| !v.is_empty()),
                    std::env::var_os("HOME")
                        .map(std::path::PathBuf::from)
                        .as_deref(),
                );
                cloud!(builder)
            }
            ObjectStoreScheme::MicrosoftAzure => {
                let builder = object_store::azure::MicrosoftAzureBuilder::from_env();
                facts = ClientFacts::of_azure(&builder);
                cloud!(builder)
            }
            ObjectStoreScheme::Http => Arc::new(
                object_store::http::HttpBuilder::new()
                    .with_url(&parsed[..url::Position::BeforePath])
                    // An `http://` URL asks for plain HTTP; the client refuses it unless told.
                    .with_client_options(
                        object_store::ClientOptions::new()
                            .with_allow_http(parsed.scheme() == "http"),
                    )
                    .build()
                    .map_err(open)?,
            ),
            _ => {
                return Err(IngestError::InvalidUrl {
                    url: input.to_owned(),
                    reason: format!(
                        "{}:// is not a store this tool reads (a local path, file://, s3://, \
                         gs://, az://, http:// or https://)",
                        parsed.scheme()
                    ),
                });
            }
        };
        let url = trim_url(input);
        Ok(Store {
            inner,
            root,
            url,
            local_root: None,
            facts: Arc::new(facts),
        })
    }

    fn local(input: &str, path: &std::path::Path) -> Result<Store, IngestError> {
        let abs = absolute_local(input, path)?;
        let root = ObjectPath::from_absolute_path(&abs).map_err(|e| IngestError::InvalidUrl {
            url: input.to_owned(),
            reason: e.to_string(),
        })?;
        let url = Url::from_file_path(&abs)
            .map_err(|()| IngestError::InvalidUrl {
                url: input.to_owned(),
                reason: "cannot express the path as a file URL".into(),
            })?
            .to_string();
        let url = trim_url(&url);
        Ok(Store {
            inner: Arc::new(LocalFileSystem::new()),
            root,
            url,
            local_root: Some(abs),
            facts: Arc::default(),
        })
    }

    /// Opens the store that holds the object at `url` and returns it with the object's
    /// path in it (its last path segment). For local files and `file://` URLs, the store
    /// is the file's folder.
    pub fn for_object(url: &str) -> Result<(Store, String), IngestError> {
        let input = url.trim().trim_end_matches('/');
        let (parent, name) = split_last(input).ok_or_else(|| IngestError::InvalidUrl {
            url: url.to_owned(),
            reason: "no object name".into(),
        })?;
        let name = if has_scheme(input) {
            percent_decode(name)
        } else {
            name.to_owned()
        };
        let parent = match parent {
            "" if input.starts_with('/') => "/",
            "" => ".",
            p => p,
        };
        Ok((Store::from_url(parent)?, name))
    }

    /// The store's URL (`file:///...` for local folders), without a trailing `/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The store's root folder on the local file system, if it is a local store.
    pub fn local_root(&self) -> Option<&std::path::Path> {
        self.local_root.as_deref()
    }

    /// The URL of the object at `path` (relative to the root), percent-encoded where needed.
    pub fn object_url(&self, path: &str) -> String {
        let path = path.trim_start_matches('/');
        if path.is_empty() {
            return self.url.clone();
        }
        match Url::parse(&self.url) {
            Ok(mut u) => {
                let pushed = match u.path_segments_mut() {
                    Ok(mut segs) => {
                        segs.pop_if_empty().extend(path.split('/'));
                        true
                    }
                    Err(()) => false,
                };
                if pushed {
                    u.to_string()
                } else {
                    format!("{}/{}", self.url, path)
                }
            }
            Err(_) => format!("{}/{}", self.url, path),
        }
    }

    /// The full object path of `path` (relative to the root).
    pub fn object_path(&self, path: &str) -> Result<ObjectPath, IngestError> {
        let rel = path.trim_matches('/');
        if rel.is_empty() {
            return Ok(self.root.clone());
        }
        let full = if self.root.as_ref().is_empty() {
            rel.to_owned()
        } else {
            format!("{}/{}", self.root.as_ref(), rel)
        };
        ObjectPath::parse(&full).map_err(|source| IngestError::InvalidPath {
            store: self.url.clone(),
            path: path.to_owned(),
            source,
        })
    }

    fn err(&self, op: &'static str, path: &str, source: object_store::Error) -> IngestError {
        IngestError::Store {
            op,
            url: self.object_url(path),
            source: self.facts.failure(source),
        }
    }

    /// The whole object at `path`, or `None` when it does not exist.
    pub async fn get(&self, path: &str) -> Result<Option<Bytes>, IngestError> {
        let location = self.object_path(path)?;
        let result = match self.inner.get(&location).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.err("read", path, e)),
        };
        match result.bytes().await {
            Ok(b) => Ok(Some(b)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("read", path, e)),
        }
    }

    /// The bytes `range` of the object at `path`. A missing object is an
    /// [`IngestError::Store`] error whose source is `object_store::Error::NotFound`
    /// (see [`is_not_found`]).
    pub async fn get_range(&self, path: &str, range: Range<u64>) -> Result<Bytes, IngestError> {
        let location = self.object_path(path)?;
        if range.start >= range.end {
            return Ok(Bytes::new());
        }
        self.inner
            .get_range(&location, range)
            .await
            .map_err(|e| self.err("read", path, e))
    }

    /// The object's size, or `None` when it does not exist.
    pub async fn head(&self, path: &str) -> Result<Option<ObjectInfo>, IngestError> {
        let location = self.object_path(path)?;
        match self.inner.head(&location).await {
            Ok(meta) => Ok(Some(ObjectInfo {
                path: path.trim_matches('/').to_owned(),
                size: meta.size,
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("look up", path, e)),
        }
    }

    /// Writes the whole object at `path`, replacing any previous one, atomically (a local
    /// store writes a locked temporary file and renames it, see
    /// [`Store::remove_abandoned_writes`]).
    pub async fn put(&self, path: &str, data: Bytes) -> Result<(), IngestError> {
        if let Some(target) = self.local_file(path) {
            return local_put(target, data, LocalPut::Replace, false)
                .await
                .map(|_| ());
        }
        let location = self.object_path(path)?;
        self.inner
            .put(&location, PutPayload::from_bytes(data))
            .await
            .map(|_| ())
            .map_err(|e| self.err("write", path, e))
    }

    /// The file of the object at `path` in a local store, when its path needs no encoding
    /// (`[0-9A-Za-z._/-]`, no `.` or `..` segment); `None` for object stores.
    pub fn local_file(&self, path: &str) -> Option<PathBuf> {
        let root = self.local_root.as_deref()?;
        let rel = path.trim_matches('/');
        let plain = !rel.is_empty()
            && rel
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._/-".contains(&b))
            && rel
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != "..");
        plain.then(|| root.join(rel))
    }

    /// Writes a large object that this process reads back at most once, like
    /// [`Store::put`] (whole and atomic: a temporary file renamed into place), but in a
    /// local store past the page cache where the file system allows
    /// ([`crate::direct_file`]).
    pub async fn put_bulk(&self, path: &str, data: Bytes) -> Result<(), IngestError> {
        let Some(target) = self.local_file(path) else {
            return self.put(path, data).await;
        };
        local_put(target, data, LocalPut::Replace, true)
            .await
            .map(|_| ())
    }

    /// Writes the object at `path` only if there is none yet: `true` when it was created,
    /// `false` when an object already existed (left unchanged).
    pub async fn put_if_absent(&self, path: &str, data: Bytes) -> Result<bool, IngestError> {
        if let Some(target) = self.local_file(path) {
            return local_put(target, data, LocalPut::Create, false).await;
        }
        let location = self.object_path(path)?;
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .inner
            .put_opts(&location, PutPayload::from_bytes(data), opts)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(self.err("create", path, e)),
        }
    }

    /// Starts a streamed write of the object at `path` ([`ObjectWriter`]); readers see the
    /// object only once [`ObjectWriter::finish`] returns. In a local store the bytes go to a
    /// locked temporary file beside the object's, renamed into place at the end; in an object
    /// store they are a multipart upload.
    pub async fn writer(&self, path: &str) -> Result<ObjectWriter, IngestError> {
        if let Some(target) = self.local_file(path) {
            let create = {
                let target = target.clone();
                move || -> Result<(PathBuf, std::fs::File), IngestError> {
                    let temp = local_temp_path(&target)?;
                    let file = in_folder(&temp, || crate::direct_file::create_locked(&temp))
                        .map_err(write_error(&temp))?;
                    Ok((temp, file))
                }
            };
            let (temp, file) = tokio::task::spawn_blocking(create)
                .await
                .map_err(|e| local_task_error(&target, &e))??;
            return Ok(ObjectWriter {
                kind: WriterKind::Local(LocalWriter {
                    temp,
                    target,
                    file: Some((file, 0)),
                    pending: None,
                    done: false,
                }),
            });
        }
        let location = self.object_path(path)?;
        let upload = self
            .inner
            .put_multipart(&location)
            .await
            .map_err(|e| self.err("start writing", path, e))?;
        Ok(ObjectWriter {
            kind: WriterKind::Upload {
                store: self.clone(),
                path: path.to_owned(),
                upload: WriteMultipart::new_with_chunk_size(upload, UPLOAD_PART_BYTES),
            },
        })
    }

    /// Uploads the local file `local` to `path`, streaming it in parts (multipart upload);
    /// readers see the object only once it is complete.
    pub async fn put_file(&self, path: &str, local: &std::path::Path) -> Result<(), IngestError> {
        let io = |source| IngestError::LocalIo {
            path: local.to_owned(),
            source,
        };
        let mut file = tokio::fs::File::open(local).await.map_err(io)?;
        let mut writer = self.writer(path).await?;
        loop {
            let mut buf = vec![0u8; UPLOAD_PART_BYTES];
            let mut filled = 0;
            while filled < buf.len() {
                let n = match file.read(&mut buf[filled..]).await {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = writer.abort().await;
                        return Err(io(e));
                    }
                };
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            buf.truncate(filled);
            writer.put(Bytes::from(buf)).await?;
            if filled < UPLOAD_PART_BYTES {
                break;
            }
        }
        writer.finish().await
    }

    /// Every object under `prefix` (a folder path relative to the root; `""` for all),
    /// recursively, sorted by path. A prefix that does not exist lists nothing. In a local
    /// store the temporary files of writes in flight (or abandoned) are no objects and are
    /// not listed ([`is_partial_file_name`]).
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, IngestError> {
        let location = self.object_path(prefix)?;
        let listed: Vec<object_store::ObjectMeta> =
            match self.inner.list(Some(&location)).try_collect().await {
                Ok(v) => v,
                Err(object_store::Error::NotFound { .. }) => Vec::new(),
                Err(e) => return Err(self.err("list", prefix, e)),
            };
        let mut out = Vec::with_capacity(listed.len());
        for meta in listed {
            if self.local_root.is_some()
                && meta.location.filename().is_some_and(is_partial_file_name)
            {
                continue;
            }
            if let Some(parts) = meta.location.prefix_match(&self.root) {
                let rel: Vec<String> = parts.map(|p| p.as_ref().to_owned()).collect();
                out.push(ObjectInfo {
                    path: rel.join("/"),
                    size: meta.size,
                });
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Removes, in a local store, the partial files that interrupted writes under `prefix`
    /// (a folder path relative to the root) left behind ([`is_partial_file_name`]): the
    /// staging files of object_store's local puts (`<name>#<n>`, see
    /// [`is_partial_file_name`]), the locked ones of [`Store::put`], [`Store::put_if_absent`],
    /// [`Store::put_bulk`] and [`Store::writer`] (`.<name>.<pid>.<n>.tmp`) and a batch
    /// commit's outputs (`.proofmark-<random>.tmp`).
    /// An object store keeps no such files (an unfinished upload is invisible), so there it
    /// removes nothing.
    ///
    /// A file is removed only if it was last written before `written_before` and no process
    /// holds a lock on it: pass the time from which the caller is the only writer under
    /// `prefix` (staging files are not locked), so that a write in flight is never cut
    /// short. A file that cannot be removed is logged and skipped. Returns the files removed
    /// and their bytes. [`Store::remove_abandoned_writes`] needs no such exclusive access.
    pub async fn remove_partial_files(
        &self,
        prefix: &str,
        written_before: std::time::SystemTime,
    ) -> Result<Removed, IngestError> {
        self.remove_local(prefix, written_before, is_partial_file_name)
            .await
    }

    /// Removes, in a local store, the temporary files under `prefix` that killed writers
    /// left: those of [`is_locked_temp_name`] that no process holds locked and that were
    /// created before `started` (the caller's start). Safe while other processes write under
    /// `prefix`, since each keeps its temporary files locked until they are renamed (every
    /// local write does, small puts included), and a file taken between its creation and
    /// its lock is made again by its writer (`direct_file::create_locked`); object_store's unlocked staging files are left to
    /// [`Store::remove_partial_files`]. Does nothing in an
    /// object store. Returns the files removed and their bytes.
    pub async fn remove_abandoned_writes(
        &self,
        prefix: &str,
        started: std::time::SystemTime,
    ) -> Result<Removed, IngestError> {
        self.remove_local(prefix, started, is_locked_temp_name)
            .await
    }

    async fn remove_local(
        &self,
        prefix: &str,
        written_before: std::time::SystemTime,
        select: fn(&str) -> bool,
    ) -> Result<Removed, IngestError> {
        let Some(root) = self.local_root.clone() else {
            return Ok(Removed::default());
        };
        let rel = prefix.trim_matches('/').to_owned();
        let dir = if rel.is_empty() { root } else { root.join(rel) };
        tokio::task::spawn_blocking(move || {
            let mut removed = Removed::default();
            remove_partial_in(&dir, written_before, select, &mut removed);
            removed
        })
        .await
        .map_err(|e| IngestError::Cleanup {
            path: PathBuf::from(prefix),
            source: std::io::Error::other(e.to_string()),
        })
    }

    /// Deletes the object at `path` (no error when it does not exist).
    pub async fn delete(&self, path: &str) -> Result<(), IngestError> {
        let location = self.object_path(path)?;
        match self.inner.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err("delete", path, e)),
        }
    }

    /// Removes the folder `prefix` of a local store when it holds nothing, so that a folder
    /// whose last object was deleted does not linger as if something were in it; a folder
    /// that is not empty, or cannot be removed, is left as it is (logged at debug level).
    /// Object stores have no folders: nothing to do.
    pub async fn remove_folder_if_empty(&self, prefix: &str) {
        let Some(dir) = self.local_file(prefix) else {
            return;
        };
        if let Err(e) = tokio::fs::remove_dir(&dir).await {
            tracing::debug!(folder = %dir.display(), error = %e, "folder left in place");
        }
    }

    /// The underlying client and the root path, e.g. for parquet's async reader
    /// (`ParquetObjectReader::new(store, root.child(...))`).
    pub fn object_store(&self) -> (Arc<dyn ObjectStore>, ObjectPath) {
        (Arc::clone(&self.inner), self.root.clone())
    }
}

/// A streamed write of one object, started with [`Store::writer`]. Readers see the object
/// only once [`ObjectWriter::finish`] returns; a writer dropped or aborted before that
/// leaves no object.
///
/// In a local store the bytes go to a temporary file beside the object's
/// (`.<name>.<pid>.<n>.tmp`), locked from its creation until it is renamed into place, one
/// write in flight at a time on a blocking thread; in an object store they are a multipart
/// upload of [`UPLOAD_PART_BYTES`] parts, a few in flight.
pub struct ObjectWriter {
    kind: WriterKind,
}

enum WriterKind {
    Upload {
        store: Store,
        path: String,
        upload: WriteMultipart,
    },
    Local(LocalWriter),
}

/// A local write: the open, locked temporary file and its length, or the write in flight
/// that hands them back.
struct LocalWriter {
    temp: PathBuf,
    target: PathBuf,
    file: Option<(std::fs::File, u64)>,
    pending: Option<tokio::task::JoinHandle<std::io::Result<(std::fs::File, u64)>>>,
    /// Renamed into place, or already removed.
    done: bool,
}

fn local_task_error(path: &std::path::Path, e: &tokio::task::JoinError) -> IngestError {
    IngestError::LocalWrite {
        path: path.to_owned(),
        source: std::io::Error::other(e.to_string()),
    }
}

impl LocalWriter {
    /// Waits for the write in flight, if any, and takes the file and its length (gone after
    /// a failed write).
    async fn take_file(&mut self) -> Result<(std::fs::File, u64), IngestError> {
        if let Some(pending) = self.pending.take() {
            let back = pending
                .await
                .map_err(|e| local_task_error(&self.temp, &e))?
                .map_err(write_error(&self.temp))?;
            self.file = Some(back);
        }
        self.file.take().ok_or_else(|| {
            write_error(&self.temp)(std::io::Error::other("an earlier write failed"))
        })
    }

    /// Removes the temporary file (nothing was published).
    fn discard(&mut self) {
        if !self.done {
            self.done = true;
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        self.discard();
    }
}

impl ObjectWriter {
    /// Adds `chunk` to the object, waiting first while the writer is full (bounded memory).
    pub async fn put(&mut self, chunk: Bytes) -> Result<(), IngestError> {
        match &mut self.kind {
            WriterKind::Upload {
                store,
                path,
                upload,
            } => {
                upload
                    .wait_for_capacity(UPLOAD_CONCURRENCY)
                    .await
                    .map_err(|e| store.err("write", path, e))?;
                upload.put(chunk);
                Ok(())
            }
            WriterKind::Local(local) => {
                let (file, pos) = local.take_file().await?;
                local.pending = Some(tokio::task::spawn_blocking(move || {
                    use std::os::unix::fs::FileExt;
                    file.write_all_at(&chunk, pos)?;
                    Ok((file, pos + chunk.len() as u64))
                }));
                Ok(())
            }
        }
    }

    /// Completes the write: the object appears whole under its name.
    pub async fn finish(self) -> Result<(), IngestError> {
        match self.kind {
            WriterKind::Upload {
                store,
                path,
                upload,
            } => upload
                .finish()
                .await
                .map(|_| ())
                .map_err(|e| store.err("write", &path, e)),
            WriterKind::Local(mut local) => {
                let (file, _) = local.take_file().await?;
                let (temp, target) = (local.temp.clone(), local.target.clone());
                // Renamed while still open and locked, then closed.
                let renamed = tokio::task::spawn_blocking(move || {
                    let renamed = std::fs::rename(&temp, &target);
                    drop(file);
                    renamed
                })
                .await
                .map_err(|e| local_task_error(&local.temp, &e))?;
                renamed.map_err(write_error(&local.target))?;
                local.done = true;
                Ok(())
            }
        }
    }

    /// Abandons the write: no object appears, and a local temporary file is removed.
    pub async fn abort(self) {
        match self.kind {
            WriterKind::Upload { upload, .. } => {
                let _ = upload.abort().await;
            }
            WriterKind::Local(mut local) => {
                drop(local.take_file().await);
                let _ = tokio::task::spawn_blocking(move || local.discard()).await;
            }
        }
    }
}

/// `url` without trailing `/`, except the one of a root path (`file:///`).
fn trim_url(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    // "file:///" (the file system root) keeps its path.
    if trimmed.ends_with(':') {
        url.to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Whether `err` is an object store "not found" (the object does not exist).
pub fn is_not_found(err: &IngestError) -> bool {
    matches!(
        err,
        IngestError::Store { source, .. }
            if matches!(source.error(), object_store::Error::NotFound { .. })
    )
}

/// Splits `s` at its last `/` into (before, after), keeping `scheme://` intact when the URL
/// has nothing after the authority.
fn split_last(s: &str) -> Option<(&str, &str)> {
    let (before, after) = s.rsplit_once('/')?;
    if after.is_empty() {
        return None;
    }
    if before.ends_with(':') || before.ends_with(":/") {
        // "s3://bucket" has no object name.
        return None;
    }
    Some((before, after))
}

/// Percent-decodes a URL path segment (invalid escapes are kept as they are).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A remover of abandoned writes running while a writer creates its locked temporary
    /// files never leaves the writer with a file that has lost its name: between a file's
    /// creation and its lock the remover may take it, and `create_locked` then makes it
    /// again.
    #[test]
    fn a_remover_never_takes_a_file_being_created() {
        use std::os::unix::fs::MetadataExt as _;
        use std::sync::atomic::{AtomicBool, Ordering};

        let dir = tempfile::tempdir().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let remover = {
            let (dir, stop) = (dir.path().to_owned(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
                let mut removed = Removed::default();
                while !stop.load(Ordering::Relaxed) {
                    remove_partial_in(&dir, later, is_locked_temp_name, &mut removed);
                }
                removed.files
            })
        };
        let pid = std::process::id();
        for i in 0..20_000 {
            let path = dir.path().join(format!(".object.{pid}.{i}.tmp"));
            let file = crate::direct_file::create_locked(&path).unwrap();
            let (ours, named) = (file.metadata().unwrap(), std::fs::metadata(&path));
            assert!(
                named.is_ok_and(|m| m.ino() == ours.ino()),
                "file {i} lost its name while being made"
            );
            std::fs::remove_file(&path).unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        remover.join().unwrap();
    }

    #[test]
    fn scheme_detection() {
        assert!(has_scheme("s3://b/p"));
        assert!(has_scheme("file:///tmp"));
        assert!(!has_scheme("/tmp/x"));
        assert!(!has_scheme("C:\\data"));
        assert!(!has_scheme("dir/records"));
    }

    #[test]
    fn root_folder_urls() {
        assert_eq!(trim_url("file:///"), "file:///");
        assert_eq!(trim_url("s3://bucket/"), "s3://bucket");
        let root = Store::from_url("/").expect("root");
        assert_eq!(root.url(), "file:///");
        assert_eq!(root.object_url("tmp/x.parquet"), "file:///tmp/x.parquet");
        let (parent, name) = Store::for_object("/data").expect("for_object");
        assert_eq!((parent.url(), name.as_str()), ("file:///", "data"));
    }

    #[test]
    fn partial_file_names() {
        for name in [
            "0-part-00000.parquet#1",
            "a#12",
            ".000003.leaves.4711.0.tmp",
            ".proofmark-t2psaq.tmp",
        ] {
            assert!(is_partial_file_name(name), "{name}");
        }
        for name in [
            "0-part-00000.parquet",
            "#1",
            "a#",
            "a#1b",
            "plan.json",
            ".tmp",
            ".x.tmp",
            ".x.1.tmp",
            "..1.2.tmp",
            ".proofmark-.tmp",
            "records.bin.tmp",
        ] {
            assert!(!is_partial_file_name(name), "{name}");
        }
    }

    /// Partial files go, objects and objects' look-alikes stay, in nested folders; a folder
    /// that does not exist is no error.
    #[tokio::test]
    async fn partial_files_are_removed_and_objects_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::from_url(dir.path().to_str().unwrap()).unwrap();
        let keep = [
            "batches/b/plan.json",
            "batches/b/inputs/k/x.parquet",
            "other/y#1",
        ];
        for path in keep {
            std::fs::create_dir_all(dir.path().join(path).parent().unwrap()).unwrap();
            std::fs::write(dir.path().join(path), b"object").unwrap();
        }
        let partial = [
            "batches/b/inputs/k/x.parquet#1",
            "batches/b/segments/.000001.tree.99.3.tmp",
            "batches/b/.proofmark-AbC123.tmp",
        ];
        for path in partial {
            std::fs::create_dir_all(dir.path().join(path).parent().unwrap()).unwrap();
            std::fs::write(dir.path().join(path), b"part").unwrap();
        }
        // Partial files written since the cut-off, or locked by their writer, stay.
        let after = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        let recent = store.remove_partial_files("batches/b", std::time::SystemTime::UNIX_EPOCH);
        assert_eq!(recent.await.unwrap(), Removed::default());
        let locked_path = dir.path().join("batches/b/.proofmark-Locked1.tmp");
        let locked = std::fs::File::create(&locked_path).unwrap();
        locked.try_lock().unwrap();

        let removed = store
            .remove_partial_files("batches/b", after)
            .await
            .unwrap();
        assert_eq!(
            removed,
            Removed {
                files: 3,
                bytes: 12
            }
        );
        for path in keep {
            assert!(dir.path().join(path).exists(), "{path}");
        }
        for path in partial {
            assert!(!dir.path().join(path).exists(), "{path}");
        }
        assert!(
            locked_path.exists(),
            "a locked partial file is a live write"
        );
        drop(locked);
        let removed = store
            .remove_partial_files("batches/b", after)
            .await
            .unwrap();
        assert_eq!(removed.files, 1);
        let none = store
            .remove_partial_files("batches/missing", after)
            .await
            .unwrap();
        assert_eq!(none, Removed::default());
    }

    /// Without exclusive access, only the unlocked temporary files of locking writers go:
    /// object_store's staging files (never locked) and live writes stay.
    #[tokio::test]
    async fn abandoned_writes_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::from_url(dir.path().to_str().unwrap()).unwrap();
        let file = |path: &str| {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"part").unwrap();
            p
        };
        let abandoned = [
            file("batches/b/inputs/k/.x.parquet.4711.0.tmp"),
            file("batches/b/segments/.000001.leaves.4711.7.tmp"),
            file("batches/b/.proofmark-AbC123.tmp"),
        ];
        let staged = file("batches/b/segments/000002.json#3");
        let object = file("batches/b/segments/000001.leaves");
        let live = file("batches/b/segments/.000003.leaves.99.1.tmp");
        let held = std::fs::File::open(&live).unwrap();
        held.try_lock().unwrap();

        // Nothing was written before a start in the past.
        let removed = store
            .remove_abandoned_writes("batches/b", std::time::SystemTime::UNIX_EPOCH)
            .await
            .unwrap();
        assert_eq!(removed, Removed::default());

        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        let removed = store
            .remove_abandoned_writes("batches/b", later)
            .await
            .unwrap();
        assert_eq!(
            removed,
            Removed {
                files: 3,
                bytes: 12
            }
        );
        for p in &abandoned {
            assert!(!p.exists(), "{}", p.display());
        }
        assert!(staged.exists(), "staging files need exclusive access");
        assert!(object.exists());
        assert!(live.exists(), "a locked temporary file is a live write");
        drop(held);
        let removed = store
            .remove_abandoned_writes("batches/b", later)
            .await
            .unwrap();
        assert_eq!(removed.files, 1);
        assert!(!live.exists());
    }

    /// A local streamed write lands whole under its name and never shows a partial object;
    /// while it runs its temporary file is locked, so that a cleanup keeps it; an aborted or
    /// dropped write leaves nothing.
    #[tokio::test]
    async fn local_writer_is_atomic_and_locked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::from_url(dir.path().to_str().unwrap()).unwrap();
        let temps = |folder: &std::path::Path| -> Vec<PathBuf> {
            std::fs::read_dir(folder)
                .map(|d| {
                    d.flatten()
                        .map(|e| e.path())
                        .filter(|p| is_locked_temp_name(&p.file_name().unwrap().to_string_lossy()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let folder = dir.path().join("a/b");
        let chunks: Vec<Bytes> = (0u8..5)
            .map(|i| Bytes::from(vec![i; 100_000 + usize::from(i)]))
            .collect();
        let mut w = store.writer("a/b/obj.bin").await.unwrap();
        for c in &chunks {
            w.put(c.clone()).await.unwrap();
        }
        assert!(store.head("a/b/obj.bin").await.unwrap().is_none());
        let temp = temps(&folder);
        assert_eq!(temp.len(), 1, "{temp:?}");
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        let removed = store.remove_abandoned_writes("a", later).await.unwrap();
        assert_eq!(removed, Removed::default(), "a live write is kept");
        w.finish().await.unwrap();
        let want: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        assert_eq!(store.get("a/b/obj.bin").await.unwrap().unwrap(), want);
        assert!(temps(&folder).is_empty());

        let mut w = store.writer("a/b/aborted.bin").await.unwrap();
        w.put(chunks[0].clone()).await.unwrap();
        w.abort().await;
        let mut w = store.writer("a/b/dropped.bin").await.unwrap();
        w.put(chunks[1].clone()).await.unwrap();
        drop(w);
        for name in ["a/b/aborted.bin", "a/b/dropped.bin"] {
            assert!(store.head(name).await.unwrap().is_none(), "{name}");
        }
        assert!(temps(&folder).is_empty());

        // put_bulk and put_file land whole too, and leave no temporary file.
        store
            .put_bulk("a/b/bulk.bin", chunks[2].clone())
            .await
            .unwrap();
        let local = dir.path().join("local.bin");
        std::fs::write(&local, &want).unwrap();
        store.put_file("a/b/file.bin", &local).await.unwrap();
        assert_eq!(store.get("a/b/bulk.bin").await.unwrap().unwrap(), chunks[2]);
        assert_eq!(store.get("a/b/file.bin").await.unwrap().unwrap(), want);
        assert!(temps(&folder).is_empty());
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41"), "A");
    }

    /// An emptied folder is removed, one with an object in it is not, a missing one is no
    /// error; a write into a folder removed meanwhile makes the folder again.
    #[tokio::test]
    async fn emptied_folders_are_removed_and_written_into_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::from_url(dir.path().to_str().unwrap()).unwrap();
        store
            .put("b/sending/a.json", Bytes::from_static(b"{}"))
            .await
            .unwrap();
        store
            .put("b/sending/c.json", Bytes::from_static(b"{}"))
            .await
            .unwrap();
        store.delete("b/sending/a.json").await.unwrap();
        store.remove_folder_if_empty("b/sending").await;
        assert!(dir.path().join("b/sending/c.json").exists());
        store.delete("b/sending/c.json").await.unwrap();
        store.remove_folder_if_empty("b/sending").await;
        assert!(!dir.path().join("b/sending").exists());
        assert!(dir.path().join("b").exists(), "only the folder named goes");
        store.remove_folder_if_empty("b/sending").await;

        let temp = dir.path().join("gone/.x.tmp");
        let made = in_folder(&temp, || std::fs::File::create(&temp));
        assert!(made.is_ok() && temp.exists(), "{made:?}");
    }

    /// The retry bound of object stores comes from its variable; a value that is not a number
    /// of seconds is an error naming the variable.
    #[test]
    fn the_retry_bound_is_read_and_checked() {
        let r = retry_config_of("s3://b/p", Some("20".into())).unwrap();
        assert_eq!(r.retry_timeout, std::time::Duration::from_secs(20));
        let r = retry_config_of("s3://b/p", None).unwrap();
        assert_eq!(r.retry_timeout, std::time::Duration::from_secs(180));
        assert_eq!(r.max_retries, usize::MAX, "bounded by time alone");
        let e = retry_config_of("s3://b/p", Some("3m".into())).unwrap_err();
        assert!(e.to_string().contains(STORE_RETRY_ENV), "{e}");
    }
}
