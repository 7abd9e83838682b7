//! What the [`Store`](crate::Store) adds to object_store's HTTP clients: a warning as soon as
//! a request fails in a way that is retried (the store then retries, silently, for up to
//! [`STORE_RETRY_ENV`](crate::store::STORE_RETRY_ENV) seconds), and [`StoreFailure`], an
//! object store error told without object_store's retry bookkeeping and with a hint at its
//! likely cause when the store's settings show one.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// The instance metadata service that the S3 client asks for credentials when the
/// environment has none (unless `AWS_METADATA_ENDPOINT` names another).
const DEFAULT_METADATA_ENDPOINT: &str = "http://169.254.169.254";

/// What a store's client settings tell about the likely cause of its errors.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClientFacts {
    /// The endpoint, when it is plain `http://` and plain HTTP is not allowed
    /// (`AWS_ALLOW_HTTP`).
    http_refused: Option<String>,
    /// The instance metadata endpoint, when the environment holds no S3 credentials, so that
    /// the client asks the metadata service for them.
    metadata_endpoint: Option<String>,
}

impl ClientFacts {
    /// The facts of an S3 client built from `builder`.
    pub(crate) fn of_s3(builder: &object_store::aws::AmazonS3Builder) -> ClientFacts {
        use object_store::aws::AmazonS3ConfigKey as Key;
        let value = |key: Key| builder.get_config_value(&key).filter(|v| !v.is_empty());
        let allow_http = value(Key::Client(object_store::ClientConfigKey::AllowHttp))
            .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1"));
        let endpoint = value(Key::S3Endpoint).or_else(|| value(Key::Endpoint));
        let http_refused = endpoint.filter(|e| e.starts_with("http://") && !allow_http);
        let has_credentials = value(Key::AccessKeyId).is_some()
            || value(Key::SecretAccessKey).is_some()
            || (value(Key::WebIdentityTokenFile).is_some() && value(Key::RoleArn).is_some())
            || value(Key::ContainerCredentialsRelativeUri).is_some()
            || value(Key::ContainerCredentialsFullUri).is_some()
            || value(Key::SkipSignature).is_some_and(|v| v.trim() == "true");
        let metadata_endpoint = (!has_credentials).then(|| {
            value(Key::MetadataEndpoint).unwrap_or_else(|| DEFAULT_METADATA_ENDPOINT.to_owned())
        });
        ClientFacts {
            http_refused,
            metadata_endpoint,
        }
    }

    /// The hint for an error whose causes read `told`, if these facts explain it.
    fn hint(&self, told: &str) -> Option<String> {
        if let Some(endpoint) = &self.http_refused
            && told.contains("URL scheme is not allowed")
        {
            return Some(format!(
                "the endpoint {endpoint} is plain http://, which the client refuses unless \
                 AWS_ALLOW_HTTP=true is set"
            ));
        }
        if let Some(metadata) = &self.metadata_endpoint
            && told.contains(metadata.trim_end_matches('/'))
        {
            return Some(format!(
                "no credentials were found in the environment ({AWS_CREDENTIAL_SOURCES}), so \
                 the instance metadata service at {metadata} was asked for them, and failed"
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

/// The connector of the object stores' HTTP clients: object_store's own, each client
/// wrapped to warn (once per store) as soon as a request fails in a way that is retried.
#[derive(Debug)]
pub(crate) struct WarnOnRetry {
    /// Whether the store warned already (shared by the clients of one store: its requests
    /// and its credential requests).
    warned: Arc<AtomicBool>,
    /// How long a failed request is retried, for the warning.
    retry_secs: u64,
}

impl WarnOnRetry {
    /// A connector for one store whose requests are retried for `retry_secs`.
    pub(crate) fn new(retry_secs: u64) -> Self {
        WarnOnRetry {
            warned: Arc::new(AtomicBool::new(false)),
            retry_secs,
        }
    }
}

impl HttpConnector for WarnOnRetry {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let inner = ReqwestConnector::default().connect(options)?;
        Ok(HttpClient::new(Watched {
            inner,
            warned: Arc::clone(&self.warned),
            retry_secs: self.retry_secs,
        }))
    }
}

/// An HTTP client that warns at its store's first retried failure.
#[derive(Debug)]
struct Watched {
    inner: HttpClient,
    warned: Arc<AtomicBool>,
    retry_secs: u64,
}

impl Watched {
    /// Warns, unless the store did already, that a request to `endpoint` failed with
    /// `error` and is being retried.
    fn warn(&self, endpoint: &str, error: &str) {
        if self.warned.swap(true, Ordering::Relaxed) {
            return;
        }
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
            // Once the store has warned, a request is passed on untouched.
            if self.warned.load(Ordering::Relaxed) {
                return self.inner.execute(req).await;
            }
            // Kept to name the endpoint in a warning (a reference-counted copy).
            let uri = req.uri().clone();
            let result = self.inner.execute(req).await;
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
                    self.warn(&endpoint(), &causes(e));
                }
                Ok(r)
                    if r.status().is_server_error() || matches!(r.status().as_u16(), 408 | 429) =>
                {
                    self.warn(&endpoint(), &format!("HTTP status {}", r.status()));
                }
                _ => {}
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
            http_refused: Some("http://127.0.0.1:9".into()),
            metadata_endpoint: None,
        };
        let hint = refused
            .hint("HTTP error: builder error: URL scheme is not allowed")
            .expect("a hint");
        assert!(hint.contains("AWS_ALLOW_HTTP=true"), "{hint}");
        assert_eq!(refused.hint("Connection refused"), None);
        let anonymous = ClientFacts {
            http_refused: None,
            metadata_endpoint: Some(DEFAULT_METADATA_ENDPOINT.into()),
        };
        let hint = anonymous
            .hint("Error performing PUT http://169.254.169.254/latest/api/token in 2ms")
            .expect("a hint");
        assert!(hint.contains("AWS_ACCESS_KEY_ID"), "{hint}");
        assert!(hint.contains("instance metadata service"), "{hint}");
        assert_eq!(anonymous.hint("Error performing GET http://s3/b"), None);
        assert_eq!(
            ClientFacts::default().hint("URL scheme is not allowed"),
            None
        );
    }
}
