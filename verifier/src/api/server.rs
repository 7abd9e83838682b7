//! The HTTP/1.1 server of the service: serves a router (the proof API, with
//! the consumer page when it is merged in) on a TCP listener, within
//! [`ServerLimits`].
//!
//! - **A cap on connections.** At most [`ServerLimits::max_connections`]
//!   connections are served at once; while the cap is reached no connection
//!   is accepted, and new ones wait in the listener's backlog until one
//!   closes. So a flood of connections cannot use up the process's file
//!   descriptors (its index files, its state and the connections it still
//!   serves keep theirs).
//! - **A header timeout.** A connection must send a whole request head
//!   within [`ServerLimits::header_timeout`] of being accepted, or of its
//!   previous answer; else it is closed. That is what frees the slots of
//!   idle connections and of clients that send half a header.
//! - **A body timeout.** A request's body must arrive within
//!   [`ServerLimits::body_timeout`] of its head: past it, reading the body
//!   fails with [`BodyTimeout`] (the API answers `408 request_timeout`), and
//!   the connection is closed after the answer.
//! - **A write timeout.** An answer whose writing makes no progress for
//!   [`ServerLimits::write_timeout`] (the client stopped reading, and the
//!   socket's buffers are full) closes its connection. Progress is a write
//!   the socket takes, or (on Linux) the client acknowledging any of the
//!   bytes queued for it, so a client that reads slowly but steadily is
//!   served to the end.
//!
//! [`serve`] stops accepting when its `shutdown` future resolves, lets each
//! connection finish the request it is serving (an idle connection closes at
//! once; one that has sent part of a request head, at its header timeout;
//! one that stopped reading its answer, at its write timeout), and returns
//! when every connection has closed.
//!
//! ```no_run
//! use proofmark_verifier::Lookup;
//! use proofmark_verifier::api::server::{ServerLimits, serve};
//! use proofmark_verifier::api::{ApiState, app};
//! # async fn run(lookup: Lookup) -> std::io::Result<()> {
//! let router = app(ApiState::new(lookup));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! serve(listener, router, ServerLimits::default(), async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await;
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::Request;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, Sleep};

/// The limits of [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Most connections served at once (default 4,096); more wait in the
    /// listener's backlog. At least 1.
    pub max_connections: usize,
    /// Time a connection has to send a whole request head, from its accept
    /// or its previous answer (default 10 s).
    pub header_timeout: Duration,
    /// Time a request's body has to arrive, from its head (default 30 s).
    pub body_timeout: Duration,
    /// Longest time writing an answer may make no progress before its
    /// connection is closed (default 30 s).
    pub write_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 4096,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// A request body that did not arrive within [`ServerLimits::body_timeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request body did not arrive within {} s", .0.as_secs_f64())]
pub struct BodyTimeout(pub Duration);

/// Whether `err` (an error reading a request body, or an extractor's
/// rejection), or any of its causes, is a [`BodyTimeout`].
pub fn is_body_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if e.is::<BodyTimeout>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves,
/// then lets the connections finish their requests; returns once all have
/// closed. Accept errors (a full file table) are logged and retried after a
/// second.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // `true` tells the connections to finish; each holds a receiver of
    // `open`, whose sender sees when the last one has closed.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (open_tx, open_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else {
            break;
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                accept_failed(e).await;
                continue;
            }
        };
        tracing::trace!(%peer, "connection accepted");
        let router = router.clone();
        let stop = stop_rx.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, router, limits, stop).await;
            drop(slot);
            drop(open);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(open_rx);
    tracing::debug!(
        connections = open_tx.receiver_count(),
        "not accepting; waiting for the open connections"
    );
    open_tx.closed().await;
}

/// An accept that failed: a connection that went away before it was
/// accepted is nothing; anything else (no file descriptor left) is logged,
/// and the next accept waits a second.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Serves one connection until it closes, or until `stop` turns `true` and
/// its request in flight is answered. Each request carries the peer's
/// address as [`ConnectInfo`] (the consumer page's wrong-PIN limits are per
/// client).
async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ServerLimits,
    mut stop: watch::Receiver<bool>,
) {
    let body_timeout = limits.body_timeout;
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let mut router = router.clone();
        let mut req = req.map(|body| Body::new(TimedBody::new(body, body_timeout)));
        req.extensions_mut().insert(ConnectInfo(peer));
        tower_service::Service::call(&mut router, req)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let stream = StallingWrites::new(Unacked(stream), limits.write_timeout);
    let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service));
    let stopping = async {
        // Stops when told to, or when the server is gone.
        while !*stop.borrow_and_update() {
            if stop.changed().await.is_err() {
                break;
            }
        }
    };
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stopping => {
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    if let Err(e) = result {
        // A header or write timeout, a client that went away, a malformed request.
        tracing::debug!(error = %e, "connection closed");
    }
}

/// A TCP stream that can tell how many of the bytes written to it its peer has not yet
/// acknowledged.
struct Unacked(tokio::net::TcpStream);

impl Unacked {
    /// Bytes in the socket's send queue (not yet sent, or sent and not yet acknowledged), where
    /// the system tells (Linux: `SIOCOUTQ`).
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    fn queued(&self) -> Option<u64> {
        use std::os::fd::AsRawFd;
        let mut queued: libc::c_int = 0;
        // SAFETY: `SIOCOUTQ` (`TIOCOUTQ`) writes one int to the pointer it is given, which
        // lives for the call; the descriptor is the stream's, open while `self` is.
        let failed = unsafe { libc::ioctl(self.0.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
        if failed != 0 {
            return None;
        }
        u64::try_from(queued).ok()
    }

    /// Bytes in the socket's send queue: not known on this system.
    #[cfg(not(target_os = "linux"))]
    fn queued(&self) -> Option<u64> {
        None
    }
}

/// A connection's stream whose writes fail with [`std::io::ErrorKind::TimedOut`] once they
/// have made no progress for the write timeout: a write (or flush, or shutdown) that cannot go
/// on arms a timer; a write the socket takes disarms it; and when it fires, the timer starts
/// again if the client acknowledged some of the queued bytes meanwhile (a slow reader's
/// progress, which does not wake a waiting write until a third of the send buffer is free).
struct StallingWrites {
    inner: Unacked,
    timeout: Duration,
    /// Armed while a write waits: the timer, and the send queue when it was armed.
    stalled: Option<(Pin<Box<Sleep>>, Option<u64>)>,
}

impl StallingWrites {
    fn new(inner: Unacked, timeout: Duration) -> Self {
        StallingWrites {
            inner,
            timeout,
            stalled: None,
        }
    }

    /// `poll`'s outcome, or the timeout's error once writes have made no progress for longer
    /// than it.
    fn within<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(Pin<&mut tokio::net::TcpStream>, &mut Context<'_>) -> Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        if let Poll::Ready(done) = poll(Pin::new(&mut self.inner.0), cx) {
            self.stalled = None;
            return Poll::Ready(done);
        }
        let timeout = self.timeout;
        let inner = &self.inner;
        let (timer, queued) = self
            .stalled
            .get_or_insert_with(|| (Box::pin(tokio::time::sleep(timeout)), inner.queued()));
        loop {
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = inner.queued();
            match (*queued, now) {
                (Some(then), Some(now)) if now < then => {
                    // The client took some: another full timeout from here.
                    *queued = Some(now);
                    timer.as_mut().reset(Instant::now() + timeout);
                }
                _ => {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "the client read nothing of the answer for {} s",
                            timeout.as_secs_f64()
                        ),
                    )));
                }
            }
        }
    }
}

impl tokio::io::AsyncRead for StallingWrites {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for StallingWrites {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.get_mut().within(cx, |s, cx| s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.get_mut()
            .within(cx, |s, cx| s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.0.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get_mut().within(cx, |s, cx| s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get_mut().within(cx, |s, cx| s.poll_shutdown(cx))
    }
}

/// A request body that fails with [`BodyTimeout`] once its deadline has
/// passed without the body having arrived.
struct TimedBody<B> {
    inner: B,
    timeout: Duration,
    deadline: Instant,
    /// Made the first time the body is waited for.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<B> TimedBody<B> {
    fn new(inner: B, timeout: Duration) -> Self {
        TimedBody {
            inner,
            timeout,
            deadline: Instant::now() + timeout,
            sleep: None,
        }
    }
}

impl<B> http_body::Body for TimedBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout(this.timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
