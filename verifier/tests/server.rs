//! The service's HTTP server over real sockets: a request head or body that
//! does not arrive in time, an answer the client does not read, connections
//! over the cap, and a stop with connections that send nothing. The times asserted are generous bounds,
//! never speeds.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proofmark_ingest::Store;
use proofmark_verifier::Lookup;
use proofmark_verifier::api::server::{ServerLimits, serve};
use proofmark_verifier::api::{ApiState, app};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Far longer than any timeout under test: a read still waiting then is a failure.
const PATIENCE: Duration = Duration::from_secs(60);

struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    done: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

/// The API over an empty store and index, served within `limits`.
async fn start(limits: ServerLimits) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::from_url(dir.path().join("store").to_str().unwrap()).unwrap();
    let index = dir.path().join("index");
    std::fs::create_dir_all(&index).unwrap();
    let router = app(ApiState::new(Lookup::open(store, &index).unwrap()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(serve(listener, router, limits, async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop,
        done,
        _dir: dir,
    }
}

fn limits(max_connections: usize, header_secs: u64, body_secs: u64) -> ServerLimits {
    ServerLimits {
        max_connections,
        header_timeout: Duration::from_secs(header_secs),
        body_timeout: Duration::from_secs(body_secs),
        ..ServerLimits::default()
    }
}

/// Reads until the server closes the connection (or resets it); what it sent.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&out).into_owned()
}

async fn healthz(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_header_is_closed_after_the_header_timeout() {
    let server = start(limits(16, 1, 30)).await;
    // Taken before the connect: the server's timer starts at its accept, which is later.
    let connecting = Instant::now();
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut s).await;
    assert!(answer.is_empty(), "{answer}");
    // Never before the timeout.
    assert!(connecting.elapsed() >= Duration::from_millis(900));
    // An idle connection that sends nothing is closed too.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    assert!(read_to_close(&mut idle).await.is_empty());
    // The server still answers.
    let mut s = healthz(server.addr).await;
    assert!(read_to_close(&mut s).await.starts_with("HTTP/1.1 200"));
    let _ = server.stop.send(());
    server.done.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_in_time_is_answered_408_and_closed() {
    let server = start(limits(16, 30, 1)).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        b"POST /v1/audit HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\
          Content-Length: 100\r\n\r\nA1B2C3D4E5",
    )
    .await
    .unwrap();
    let answer = read_to_close(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
    let _ = server.stop.send(());
    server.done.await.unwrap();
}

/// SPEC.md 11.3: a request target or request headers over the HTTP layer's limits are refused
/// before any route sees them (414, 431) with an empty body, as the OpenAPI document says for
/// every operation; the server goes on answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_long_target_or_head_is_refused_as_the_openapi_document_says() {
    let server = start(limits(16, 30, 30)).await;
    let doc = proofmark_verifier::api::openapi::document();
    let long_target = format!(
        "GET /v1/codes/{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "1".repeat(70_000)
    );
    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..200)
            .map(|i| format!("X-H{i}: v\r\n"))
            .collect::<String>()
    );
    for (request, status, path) in [
        (long_target, "414", "/v1/codes/{code}"),
        (many_headers, "431", "/healthz"),
    ] {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let answer = read_to_close(&mut s).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(body.is_empty(), "{answer}");
        assert!(
            head.to_ascii_lowercase().contains("content-length: 0"),
            "{head}"
        );
        let documented = &doc["paths"][path]["get"]["responses"][status]["$ref"];
        let name = documented.as_str().unwrap().rsplit('/').next().unwrap();
        let shared = &doc["components"]["responses"][name];
        assert!(shared["description"].is_string(), "{status}");
        assert!(
            shared.get("content").is_none(),
            "{status}: the answer has no body"
        );
    }
    let mut s = healthz(server.addr).await;
    assert!(read_to_close(&mut s).await.starts_with("HTTP/1.1 200"));
    let _ = server.stop.send(());
    server.done.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_wait_until_one_closes() {
    let server = start(limits(2, 3, 30)).await;
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // The third connection is not served while the two idle ones hold the slots
    // (they are closed after 3 s)...
    let mut s = healthz(server.addr).await;
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), s.read(&mut byte)).await;
    assert!(early.is_err(), "answered over the cap: {early:?}");
    // ...and is once they are closed.
    let answer = read_to_close(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    for mut c in idle {
        assert!(read_to_close(&mut c).await.is_empty());
    }
    let _ = server.stop.send(());
    server.done.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_does_not_wait_for_connections_that_send_nothing() {
    let server = start(limits(16, 2, 30)).await;
    let _idle = TcpStream::connect(server.addr).await.unwrap();
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    // Both are accepted before the stop.
    let mut s = healthz(server.addr).await;
    assert!(read_to_close(&mut s).await.starts_with("HTTP/1.1 200"));
    let _ = server.stop.send(());
    let stopped = tokio::time::timeout(PATIENCE, server.done).await;
    assert!(stopped.is_ok(), "the server waited for idle connections");
}

/// Connects with a small receive buffer and asks for `asked` copies of `/openapi.json` (about
/// 8 KB each: far more than the sockets' buffers hold), sending the requests from a task of
/// their own (the server may close the connection before it has read them all).
async fn ask_much(addr: SocketAddr, asked: usize) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (read, mut write) = stream.into_split();
    let request = b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n".repeat(asked);
    let sent = tokio::spawn(async move {
        let _ = write.write_all(&request).await;
        write
    });
    let write = sent.await.unwrap();
    // Reunited: the requests are in the sockets' buffers (or refused, once closed).
    read.reunite(write).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_after_the_write_timeout() {
    const ASKED: usize = 2_000;
    let server = start(ServerLimits {
        write_timeout: Duration::from_secs(1),
        ..limits(1, 30, 30)
    })
    .await;
    // Taken before the connect: the server's writes stall later.
    let connecting = Instant::now();
    // Reads nothing: the server's writes stall, holding the only slot.
    let mut stalled = ask_much(server.addr, ASKED).await;
    // The next connection is served once the stalled one is closed.
    let mut s = healthz(server.addr).await;
    let answer = read_to_close(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Never before the timeout.
    assert!(connecting.elapsed() >= Duration::from_millis(900));
    // The stalled connection got part of its answers, then was closed.
    let got = read_to_close(&mut stalled).await;
    let answers = got.matches("HTTP/1.1 200").count();
    assert!(answers < ASKED, "every answer was written: {answers}");
    let _ = server.stop.send(());
    server.done.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_but_steady_reader_is_served_past_the_write_timeout() {
    let server = start(ServerLimits {
        write_timeout: Duration::from_secs(2),
        ..limits(16, 30, 30)
    })
    .await;
    let mut slow = ask_much(server.addr, 2_000).await;
    // 32 KB every quarter second, for three times the write timeout: far less than the
    // answers, so the server is still writing throughout, its writes waiting between reads.
    let reading = Instant::now();
    let mut buf = vec![0u8; 32 * 1024];
    let mut read = 0usize;
    while reading.elapsed() < Duration::from_secs(6) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let mut chunk = 0;
        while chunk < buf.len() {
            let n = tokio::time::timeout(PATIENCE, slow.read(&mut buf[chunk..]))
                .await
                .expect("the server stopped sending")
                .unwrap_or(0);
            assert!(
                n > 0,
                "the server closed a reading connection after {read} bytes"
            );
            chunk += n;
        }
        read += chunk;
    }
    assert!(read >= 20 * buf.len());
    drop(slow);
    let _ = server.stop.send(());
    server.done.await.unwrap();
}

/// Each request carries its connection's peer address (the consumer page's wrong-PIN
/// limits are per client): a handler sees the address the client connected from, here a
/// second loopback address.
#[tokio::test]
async fn requests_carry_their_peer_address() {
    use axum::extract::ConnectInfo;
    let router = axum::Router::new().route(
        "/peer",
        axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
            peer.ip().to_string()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(serve(listener, router, ServerLimits::default(), async {
        let _ = stopped.await;
    }));
    for from in ["127.0.0.1", "127.0.0.2"] {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(SocketAddr::new(from.parse().unwrap(), 0))
            .unwrap();
        let mut s = socket.connect(addr).await.unwrap();
        s.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let answer = read_to_close(&mut s).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with(&format!("\r\n\r\n{from}")), "{answer}");
    }
    stop.send(()).unwrap();
    done.await.unwrap();
}
