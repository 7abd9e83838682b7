//! What the [`Store`](crate::Store) adds to object_store's HTTP clients: a warning as soon as
//! a request fails in a way that is retried (the store then retries, silently, for up to
//! [`STORE_RETRY_ENV`](crate::store::STORE_RETRY_ENV) seconds), and [`StoreFailure`], an
//! object store error told without object_store's retry bookkeeping and with a hint at its
//! likely cause when the store's settings show one.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use object_store::ClientOptions;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpService,
    ReqwestConnector,
};

/// The AWS variables that give the S3 client credentials, in the words of the hint that no
/// credentials were found.
const AWS_CREDENTIAL_SOURCES: &str = "AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY, \
     AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, or \
     AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE; \
     AWS_PROFILE and the files under ~/.aws are not read";

/// What gives the GCS client credentials, in the words of the hint that none were found.
const GOOGLE_CREDENTIAL_SOURCES: &str = "GOOGLE_SERVICE_ACCOUNT_PATH, \
     GOOGLE_SERVICE_ACCOUNT_KEY, GOOGLE_APPLICATION_CREDENTIALS, or the file \
     ~/.config/gcloud/application_default_credentials.json";

/// The Azure variables that give the Azure client credentials, in the words of the hint that
/// none were found.
const AZURE_CREDENTIAL_SOURCES: &str = "AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_KEY, \
     AZURE_STORAGE_TOKEN, AZURE_CLIENT_ID with AZURE_CLIENT_SECRET and AZURE_TENANT_ID, \
     AZURE_FEDERATED_TOKEN_FILE with AZURE_CLIENT_ID and AZURE_TENANT_ID, or \
     AZURE_USE_AZURE_CLI=true";

/// The link-local address of the instance metadata services (AWS, GCP and Azure alike).
const METADATA_IP: &str = "169.254.169.254";

/// The instance metadata service that the S3 client asks for credentials when the
/// environment has none (unless `AWS_METADATA_ENDPOINT` names another).
const DEFAULT_METADATA_ENDPOINT: &str = "http://169.254.169.254";

/// The name the GCS client tries first for its metadata server (unless `GCE_METADATA_HOST`
/// or `GCE_METADATA_ROOT` names another; it then tries `GCE_METADATA_IP` or
/// [`METADATA_IP`]).
const GOOGLE_METADATA_HOST: &str = "metadata.google.internal";

/// What a store's client settings tell about the likely cause of its errors.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClientFacts {
    /// The endpoint, when it is plain `http://` and plain HTTP is not allowed, with the
    /// variable that would allow it.
    http_refused: Option<(String, &'static str)>,
    /// Where the client asks for credentials because the environment holds none.
    metadata: Option<MetadataFallback>,
}

/// A client that found no credentials in its environment and asks a metadata service.
#[derive(Clone, Debug)]
struct MetadataFallback {
    /// What the service is called in the hint.
    service: &'static str,
    /// The addresses the client may ask (any of them in an error names the service).
    endpoints: Vec<String>,
    /// What would have given credentials, in the hint's words.
    sources: &'static str,
}

/// Whether a builder's boolean setting reads true.
fn is_true(value: Option<String>) -> bool {
    value.is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1"))
}

impl ClientFacts {
    /// The facts of an S3 client built from `builder`.
    pub(crate) fn of_s3(builder: &object_store::aws::AmazonS3Builder) -> ClientFacts {
        use object_store::aws::AmazonS3ConfigKey as Key;
        let value = |key: Key| builder.get_config_value(&key).filter(|v| !v.is_empty());
        let allow_http = is_true(value(Key::Client(object_store::ClientConfigKey::AllowHttp)));
        let endpoint = value(Key::S3Endpoint).or_else(|| value(Key::Endpoint));
        let http_refused = endpoint
            .filter(|e| e.starts_with("http://") && !allow_http)
            .map(|e| (e, "AWS_ALLOW_HTTP"));
        let has_credentials = value(Key::AccessKeyId).is_some()
            || value(Key::SecretAccessKey).is_some()
            || (value(Key::WebIdentityTokenFile).is_some() && value(Key::RoleArn).is_some())
            || value(Key::ContainerCredentialsRelativeUri).is_some()
            || value(Key::ContainerCredentialsFullUri).is_some()
            || is_true(value(Key::SkipSignature));
        let metadata = (!has_credentials).then(|| MetadataFallback {
            service: "the instance metadata service",
            endpoints: vec![
                value(Key::MetadataEndpoint).unwrap_or_else(|| DEFAULT_METADATA_ENDPOINT.into()),
            ],
            sources: AWS_CREDENTIAL_SOURCES,
        });
        ClientFacts {
            http_refused,
            metadata,
        }
    }

    /// The facts of a GCS client built from `builder`, in an environment where `env` reads
    /// variables and `home` is the home folder.
    pub(crate) fn of_gcs(
        builder: &object_store::gcp::GoogleCloudStorageBuilder,
        env: impl Fn(&str) -> Option<String>,
        home: Option<&std::path::Path>,
    ) -> ClientFacts {
        use object_store::gcp::GoogleConfigKey as Key;
        let value = |key: Key| builder.get_config_value(&key).filter(|v| !v.is_empty());
        let allow_http = is_true(value(Key::Client(object_store::ClientConfigKey::AllowHttp)));
        let http_refused = value(Key::BaseUrl)
            .filter(|e| e.starts_with("http://") && !allow_http)
            .map(|e| (e, "GOOGLE_ALLOW_HTTP"));
        let default_credentials = home.is_some_and(|h| {
            h.join(".config/gcloud/application_default_credentials.json")
                .exists()
        });
        let has_credentials = value(Key::ServiceAccount).is_some()
            || value(Key::ServiceAccountKey).is_some()
            || value(Key::ApplicationCredentials).is_some()
            || value(Key::BearerToken).is_some()
            || is_true(value(Key::SkipSignature))
            || default_credentials;
        let metadata = (!has_credentials).then(|| {
            let host = env("GCE_METADATA_HOST")
                .or_else(|| env("GCE_METADATA_ROOT"))
                .unwrap_or_else(|| GOOGLE_METADATA_HOST.into());
            let ip = env("GCE_METADATA_IP").unwrap_or_else(|| METADATA_IP.into());
            MetadataFallback {
                service: "the instance metadata server",
                endpoints: vec![host, ip],
                sources: GOOGLE_CREDENTIAL_SOURCES,
            }
        });
        ClientFacts {
            http_refused,
            metadata,
        }
    }

    /// The facts of an Azure client built from `builder`.
    pub(crate) fn of_azure(builder: &object_store::azure::MicrosoftAzureBuilder) -> ClientFacts {
        use object_store::azure::AzureConfigKey as Key;
        let value = |key: Key| builder.get_config_value(&key).filter(|v| !v.is_empty());
        let emulator = is_true(value(Key::UseEmulator));
        let allow_http =
            emulator || is_true(value(Key::Client(object_store::ClientConfigKey::AllowHttp)));
        let http_refused = value(Key::Endpoint)
            .filter(|e| e.starts_with("http://") && !allow_http)
            .map(|e| (e, "AZURE_ALLOW_HTTP"));
        // A chosen credential type (managed identity included) is the operator's choice: the
        // hint is only for the automatic choice falling through to the managed identity.
        let automatic = value(Key::CredentialType).is_none_or(|t| t == "auto");
        let has_credentials = emulator
            || value(Key::AccessKey).is_some()
            || value(Key::SasKey).is_some()
            || value(Key::Token).is_some()
            || value(Key::FederatedTokenFile).is_some()
            || (value(Key::ClientId).is_some() && value(Key::ClientSecret).is_some())
            || is_true(value(Key::UseAzureCli))
            || is_true(value(Key::SkipSignature))
            || value(Key::FabricTokenServiceUrl).is_some();
        let metadata = (automatic && !has_credentials).then(|| MetadataFallback {
            service: "the managed identity endpoint",
            endpoints: vec![value(Key::MsiEndpoint).unwrap_or_else(|| METADATA_IP.into())],
            sources: AZURE_CREDENTIAL_SOURCES,
        });
        ClientFacts {
            http_refused,
            metadata,
        }
    }

    /// The hint for an error whose causes read `told`, if these facts explain it.
    fn hint(&self, told: &str) -> Option<String> {
        if let Some((endpoint, variable)) = &self.http_refused
            && told.contains("URL scheme is not allowed")
        {
            return Some(format!(
                "the endpoint {endpoint} is plain http://, which the client refuses unless \
                 {variable}=true is set"
            ));
        }
        if let Some(fallback) = &self.metadata
            && let Some(endpoint) = fallback
                .endpoints
                .iter()
                .find(|e| told.contains(e.trim_end_matches('/')))
        {
            return Some(format!(
                "no credentials were found in the environment ({}), so {} at {endpoint} was \
                 asked for them, and failed",
                fallback.sources, fallback.service
            ));
        }
        None
    }

    /// `error` told with the hint these facts give for it.
    pub(crate) fn failure(&self, error: object_store::Error) -> StoreFailure {
        let told = causes(&error);
        let hint = self.hint(&told);
        StoreFailure(Box::new(Failure { error, hint }))
    }
}

/// An object store's error, told with its causes but without object_store's retry
/// bookkeeping (the retry limit, which proofmark sets by time, not by count), and with a hint
/// at its likely cause when the store's settings show one (plain HTTP not allowed, no
/// credentials in the environment).
///
/// Its message already tells every cause of the object store's error, so it has no
/// [`source`](std::error::Error::source); the error itself is [`StoreFailure::error`].
#[derive(Debug)]
pub struct StoreFailure(Box<Failure>);

/// A [`StoreFailure`]'s parts (boxed: every error of the crate carries one, and the object
/// store's error is large).
#[derive(Debug)]
struct Failure {
    error: object_store::Error,
    hint: Option<String>,
}

impl StoreFailure {
    /// The object store's error.
    pub fn error(&self) -> &object_store::Error {
        &self.0.error
    }

    /// The hint at the likely cause, if the store's settings show one.
    pub fn hint(&self) -> Option<&str> {
        self.0.hint.as_deref()
    }
}

impl From<object_store::Error> for StoreFailure {
    /// The error without a hint.
    fn from(error: object_store::Error) -> Self {
        StoreFailure(Box::new(Failure { error, hint: None }))
    }
}

impl fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&without_retry_limits(&causes(&self.0.error)))?;
        if let Some(hint) = &self.0.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for StoreFailure {}

/// `error`'s message and its causes', joined with `": "`, leaving out a cause whose words
/// end the message before it (object_store's errors write their source into their own
/// message).
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut last = out.clone();
    let mut next = error.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !text.is_empty() && !last.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        last = text;
        next = cause.source();
    }
    out
}

/// `text` without the `, max_retries: N, retry_timeout: D ` that object_store writes after
/// the number of retries made: the retries are bounded by time, and N is then the largest
/// number there is.
fn without_retry_limits(text: &str) -> String {
    let Some(start) = text.find(", max_retries: ") else {
        return text.to_owned();
    };
    match text[start..].find(" - ") {
        Some(len) => format!("{}{}", &text[..start], &text[start + len..]),
        None => text.to_owned(),
    }
}

/// The least time between two warnings of one store: a store that fails and recovers again
/// and again is told once a minute, not at every failure.
const WARN_INTERVAL_MS: u64 = 60_000;

/// The connector of the object stores' HTTP clients: object_store's own, each client
/// wrapped to warn as soon as a request fails in a way that is retried, once per outage (and
/// at most once a minute), and to say when the store answers again.
#[derive(Debug)]
pub(crate) struct WarnOnRetry {
    /// The store's state, shared by the clients of one store (its requests and its
    /// credential requests).
    state: Arc<Outage>,
    /// How long a failed request is retried, for the warning.
    retry_secs: u64,
}

/// Whether a store is failing, and when it last warned.
#[derive(Debug, Default)]
struct Outage {
    /// A request failed in a way that is retried, and none has been answered since.
    failing: AtomicBool,
    /// This outage was warned of (so its end is told too).
    warned: AtomicBool,
    /// When the store last warned, in milliseconds of [`Outage::clock`]; none yet: 0.
    last_warned_ms: AtomicU64,
    /// The start of [`Outage::clock`].
    epoch: OnceLock<Instant>,
}

impl Outage {
    /// Milliseconds since the store's first use, at least 1.
    fn clock(&self) -> u64 {
        let epoch = *self.epoch.get_or_init(Instant::now);
        u64::try_from(epoch.elapsed().as_millis()).map_or(u64::MAX, |ms| ms.saturating_add(1))
    }

    /// A request failed in a way that is retried: whether to warn now (the first failure of
    /// an outage that starts a minute or more after the last warning).
    fn failed(&self, now_ms: u64) -> bool {
        if self.failing.swap(true, Ordering::Relaxed) {
            return false;
        }
        let last = self.last_warned_ms.load(Ordering::Relaxed);
        if last != 0 && now_ms.saturating_sub(last) < WARN_INTERVAL_MS {
            return false;
        }
        self.last_warned_ms.store(now_ms, Ordering::Relaxed);
        self.warned.store(true, Ordering::Relaxed);
        true
    }

    /// A request was answered: whether an outage that was warned of ended with it.
    fn answered(&self) -> bool {
        self.failing.swap(false, Ordering::Relaxed) && self.warned.swap(false, Ordering::Relaxed)
    }
}

impl WarnOnRetry {
    /// A connector for one store whose requests are retried for `retry_secs`.
    pub(crate) fn new(retry_secs: u64) -> Self {
        WarnOnRetry {
            state: Arc::default(),
            retry_secs,
        }
    }
}

impl HttpConnector for WarnOnRetry {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let inner = ReqwestConnector::default().connect(options)?;
        Ok(HttpClient::new(Watched {
            inner,
            state: Arc::clone(&self.state),
            retry_secs: self.retry_secs,
        }))
    }
}

/// An HTTP client that warns when its store starts failing, and tells when it recovers.
#[derive(Debug)]
struct Watched {
    inner: HttpClient,
    state: Arc<Outage>,
    retry_secs: u64,
}

impl Watched {
    /// A request to `endpoint` failed with `error` and is being retried: warns when an
    /// outage starts.
    fn failed(&self, endpoint: impl FnOnce() -> String, error: impl FnOnce() -> String) {
        if !self.state.failed(self.state.clock()) {
            return;
        }
        let endpoint = endpoint();
        let error = error();
        tracing::warn!(
            endpoint,
            error,
            retry_secs = self.retry_secs,
            "a request to the object store at {endpoint} failed ({error}): retrying for up to \
             {} s ({}); the job goes on once the store answers",
            self.retry_secs,
            crate::store::STORE_RETRY_ENV
        );
    }
}

impl HttpService for Watched {
    fn call<'life0, 'async_trait>(
        &'life0 self,
        req: HttpRequest,
    ) -> Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            // Kept to name the endpoint in a warning (its parts are reference-counted).
            let uri = req.uri().clone();
            let result = self.inner.execute(req).await;
            // The scheme and authority, as a store's endpoint is named in its logs.
            let endpoint = || match (uri.scheme_str(), uri.authority()) {
                (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
                _ => uri.to_string(),
            };
            match &result {
                // object_store retries these (the last two for idempotent requests).
                Err(e)
                    if matches!(
                        e.kind(),
                        HttpErrorKind::Connect
                            | HttpErrorKind::Request
                            | HttpErrorKind::Timeout
                            | HttpErrorKind::Interrupted
                    ) =>
                {
                    self.failed(endpoint, || causes(e));
                }
                Ok(r)
                    if r.status().is_server_error() || matches!(r.status().as_u16(), 408 | 429) =>
                {
                    self.failed(endpoint, || format!("HTTP status {}", r.status()));
                }
                Ok(_) => {
                    if self.state.answered() {
                        let endpoint = endpoint();
                        tracing::warn!(endpoint, "the object store at {endpoint} answers again");
                    }
                }
                Err(_) => {}
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_limit_by_count_is_left_out() {
        let told = "Generic S3 error: Error performing GET http://127.0.0.1:9/b/p in \
                    5.12s, after 17 retries, max_retries: 18446744073709551615, retry_timeout: \
                    5s  - HTTP error: error sending request: tcp connect error";
        assert_eq!(
            without_retry_limits(told),
            "Generic S3 error: Error performing GET http://127.0.0.1:9/b/p in 5.12s, after 17 \
             retries - HTTP error: error sending request: tcp connect error"
        );
        let plain = "Generic S3 error: Error performing GET x in 4ms - HTTP error: builder error";
        assert_eq!(without_retry_limits(plain), plain);
    }

    #[test]
    fn hints_follow_the_settings() {
        let refused = ClientFacts {
            http_refused: Some(("http://127.0.0.1:9".into(), "AWS_ALLOW_HTTP")),
            metadata: None,
        };
        let hint = refused
            .hint("HTTP error: builder error: URL scheme is not allowed")
            .expect("a hint");
        assert!(hint.contains("AWS_ALLOW_HTTP=true"), "{hint}");
        assert_eq!(refused.hint("Connection refused"), None);
        assert_eq!(
            ClientFacts::default().hint("URL scheme is not allowed"),
            None
        );
    }

    /// The errors below are what each client told when planning from a machine with no
    /// credentials and no metadata service.
    #[test]
    fn each_cloud_without_credentials_is_told_where_credentials_come_from() {
        let s3 = ClientFacts::of_s3(&object_store::aws::AmazonS3Builder::new());
        let hint = s3
            .hint("Error performing PUT http://169.254.169.254/latest/api/token in 2ms")
            .expect("a hint");
        assert!(hint.contains("AWS_ACCESS_KEY_ID"), "{hint}");
        assert!(hint.contains("instance metadata service"), "{hint}");
        assert_eq!(s3.hint("Error performing GET http://s3/b"), None);

        let no_env = |_: &str| None;
        let gcs_told = "Generic GCS error: Error performing token request: Error performing GET \
            http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token \
            in 2ms - Server returned non-2xx status code: 403 Forbidden";
        let gcs = ClientFacts::of_gcs(
            &object_store::gcp::GoogleCloudStorageBuilder::new(),
            no_env,
            None,
        );
        let hint = gcs.hint(gcs_told).expect("a hint");
        assert!(hint.contains("GOOGLE_APPLICATION_CREDENTIALS"), "{hint}");
        assert!(
            hint.contains("instance metadata server at 169.254.169.254"),
            "{hint}"
        );
        let by_name = gcs
            .hint("Error performing GET http://metadata.google.internal/computeMetadata/v1")
            .expect("a hint");
        assert!(by_name.contains("at metadata.google.internal"), "{by_name}");
        // With a service account, or the gcloud default credentials file, the metadata
        // server is not where the credentials were to come from.
        let with_key = ClientFacts::of_gcs(
            &object_store::gcp::GoogleCloudStorageBuilder::new().with_config(
                object_store::gcp::GoogleConfigKey::ServiceAccount,
                "/etc/key.json",
            ),
            no_env,
            None,
        );
        assert_eq!(with_key.hint(gcs_told), None);
        let home = tempfile::tempdir().expect("a folder");
        std::fs::create_dir_all(home.path().join(".config/gcloud")).expect("a folder");
        std::fs::write(
            home.path()
                .join(".config/gcloud/application_default_credentials.json"),
            "{}",
        )
        .expect("written");
        let gcloud = ClientFacts::of_gcs(
            &object_store::gcp::GoogleCloudStorageBuilder::new(),
            no_env,
            Some(home.path()),
        );
        assert_eq!(gcloud.hint(gcs_told), None);
        let elsewhere = ClientFacts::of_gcs(
            &object_store::gcp::GoogleCloudStorageBuilder::new(),
            |name| (name == "GCE_METADATA_IP").then(|| "10.0.0.9".to_owned()),
            None,
        );
        assert_eq!(elsewhere.hint(gcs_told), None);
        assert!(
            elsewhere
                .hint("GET http://10.0.0.9/computeMetadata")
                .is_some()
        );

        use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
        let azure_told = "Generic MicrosoftAzure error: Error performing token request: Error \
            performing GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=\
            2019-08-01 in 2ms - Server returned non-2xx status code: 403 Forbidden";
        let azure = ClientFacts::of_azure(&MicrosoftAzureBuilder::new());
        let hint = azure.hint(azure_told).expect("a hint");
        assert!(hint.contains("AZURE_STORAGE_ACCOUNT_KEY"), "{hint}");
        assert!(
            hint.contains("managed identity endpoint at 169.254.169.254"),
            "{hint}"
        );
        let with_key = ClientFacts::of_azure(
            &MicrosoftAzureBuilder::new().with_config(AzureConfigKey::AccessKey, "a2V5"),
        );
        assert_eq!(with_key.hint(azure_told), None);
        let chosen = ClientFacts::of_azure(
            &MicrosoftAzureBuilder::new()
                .with_config(AzureConfigKey::CredentialType, "managed_identity"),
        );
        assert_eq!(
            chosen.hint(azure_told),
            None,
            "managed identity chosen on purpose"
        );
        let plain = ClientFacts::of_azure(
            &MicrosoftAzureBuilder::new()
                .with_config(AzureConfigKey::Endpoint, "http://127.0.0.1:10000/acct"),
        );
        let hint = plain
            .hint("HTTP error: builder error: URL scheme is not allowed")
            .expect("a hint");
        assert!(hint.contains("AZURE_ALLOW_HTTP=true"), "{hint}");
    }

    #[test]
    fn each_outage_is_warned_once_and_at_most_once_a_minute() {
        let state = Outage::default();
        assert!(!state.answered(), "no outage yet");
        assert!(state.failed(1_000), "the first failure warns");
        assert!(!state.failed(1_500), "the same outage");
        assert!(state.answered(), "its end is told");
        assert!(!state.answered());
        // A new outage within a minute of the warning is neither warned of nor its end told.
        assert!(!state.failed(30_000));
        assert!(!state.answered());
        // One a minute or more after the last warning is.
        assert!(state.failed(61_000));
        assert!(!state.failed(62_000));
        assert!(state.answered());
    }
}
