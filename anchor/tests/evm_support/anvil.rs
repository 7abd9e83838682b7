//! A local `anvil` node per test: a free port, its own process (killed on
//! drop), and a few JSON-RPC helpers. Shared by the EVM tests of
//! `proofmark-anchor` and the CLI tests of `proofmark`.
#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// anvil's well-known development accounts (from its public test mnemonic).
pub const ADMIN_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
pub const ADMIN: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
pub const MEMBER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
pub const MEMBER: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
pub const OUTSIDER_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
pub const OUTSIDER: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

/// The anvil executable: `$PROOFMARK_ANVIL`, else `anvil` on the PATH.
pub fn anvil_path() -> PathBuf {
    if let Some(p) = std::env::var_os("PROOFMARK_ANVIL") {
        return PathBuf::from(p);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("anvil");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "anvil not found: PROOFMARK_ANVIL is unset and there is no anvil on the PATH. \
         Run scripts/test.sh, which installs anvil and sets PROOFMARK_ANVIL \
         (or `source scripts/setup-evm.sh` in this shell first)"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running anvil node.
pub struct Anvil {
    child: Child,
    pub port: u16,
    pub url: String,
    pub chain_id: u64,
}

impl Anvil {
    /// Starts anvil on a free port with `chain_id`, automining.
    pub fn start(chain_id: u64) -> Anvil {
        Self::start_with(chain_id, &[])
    }

    /// Starts anvil with extra arguments.
    pub fn start_with(chain_id: u64, extra: &[&str]) -> Anvil {
        let exe = anvil_path();
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(&exe)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--chain-id", &chain_id.to_string()])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
            let mut node = Anvil {
                child,
                port,
                url: format!("http://127.0.0.1:{port}"),
                chain_id,
            };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if node.child.try_wait().unwrap().is_some() {
                    break; // lost the port race: try another
                }
                if let Ok(v) = try_rpc(port, "eth_chainId", json!([]))
                    && v.get("result").is_some()
                {
                    return node;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = node.child.kill();
        }
        panic!("anvil did not start");
    }

    /// A JSON-RPC call; panics on a transport or JSON-RPC error.
    pub fn rpc(&self, method: &str, params: Value) -> Value {
        let v = try_rpc(self.port, method, params).unwrap();
        if let Some(e) = v.get("error") {
            panic!("{method}: {e}");
        }
        v["result"].clone()
    }

    pub fn block_number(&self) -> u64 {
        hex_u64(&self.rpc("eth_blockNumber", json!([])))
    }

    pub fn nonce(&self, address: &str) -> u64 {
        hex_u64(&self.rpc("eth_getTransactionCount", json!([address, "latest"])))
    }

    pub fn mine(&self, blocks: u64) {
        self.rpc("anvil_mine", json!([format!("0x{blocks:x}")]));
    }

    pub fn snapshot(&self) -> Value {
        self.rpc("evm_snapshot", json!([]))
    }

    pub fn revert(&self, id: &Value) {
        assert_eq!(self.rpc("evm_revert", json!([id])), json!(true));
    }

    pub fn block_hash(&self, number: u64) -> Option<String> {
        let b = self.rpc(
            "eth_getBlockByNumber",
            json!([format!("0x{number:x}"), false]),
        );
        b.get("hash").and_then(Value::as_str).map(str::to_owned)
    }

    /// Mines a block every `interval` until the returned guard drops.
    pub fn miner(&self, interval: Duration) -> Miner {
        let stop = Arc::new(AtomicBool::new(false));
        let (port, flag) = (self.port, stop.clone());
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let _ = try_rpc(port, "evm_mine", json!([]));
                std::thread::sleep(interval);
            }
        });
        Miner {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Background block production; stops on drop.
pub struct Miner {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Miner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

pub fn hex_u64(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// One JSON-RPC request over a fresh HTTP/1.1 connection.
pub fn try_rpc(port: u16, method: &str, params: Value) -> std::io::Result<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let start = out.find("\r\n\r\n").map_or(0, |i| i + 4);
    let text = &out[start..];
    let (a, b) = (text.find('{'), text.rfind('}'));
    match (a, b) {
        (Some(a), Some(b)) if a < b => serde_json::from_str(&text[a..=b])
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("no JSON in the answer: {out:?}"),
        )),
    }
}
