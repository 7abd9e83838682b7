//! `proofmark serve`: the verifier service (proof API and consumer page)
//! over a batch store and the global code index.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use proofmark_anchor::chain::{ChainConfig, ChainsFile, default_ledger_key_file};
use proofmark_anchor::ledger::NoteSigner;
use proofmark_ingest::Store;
use proofmark_verifier::api::server::ServerLimits;
use proofmark_verifier::api::{ApiLimits, ApiState};
use proofmark_verifier::consumer::{
    Consumer, ConsumerError, KeyRecord, OrgNames, PinKey, ProxyHeader,
};
use proofmark_verifier::lookup::prewarm::PrewarmBudget;
use proofmark_verifier::verify::{CachedChainCheck, ChainCheck, Trust};
use proofmark_verifier::{CodeLookup, Lookup};

use super::GlobalArgs;
use super::verify::EvmChainCheck;
use crate::exit::{Classified, ExitClass};

/// Arguments of `proofmark serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The batch store: a folder or an object store URL (s3://, gs://, az://, file://).
    #[arg(long, value_name = "URL")]
    pub store: String,
    /// The code index folder that `proofmark publish --index` writes.
    #[arg(long, value_name = "DIR")]
    pub index: PathBuf,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Folder of the consumer page's durable state (scan counts, PIN state).
    /// Without it only the proof API is served (no `/s/{code}`).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Key file of the PIN hashes (`proofmark pins`; needs --state-dir); without
    /// it the consumer page offers no PIN check. It must be the key the state's PIN
    /// hashes were made with: another key is refused at start (exit 3).
    ///
    /// Wrong PINs are limited per client and code (5 per 15 minutes, 10 a
    /// day; a client is an IPv4 address or an IPv6 /48, see
    /// --client-address-header) and per code from all clients together (100
    /// a day, which then locks the code's check for everyone until the day's
    /// oldest leaves the window): one sender cannot lock a code for others,
    /// and a guessing spread over many addresses stays far from the 10^8
    /// PINs (docs/operations.md).
    #[arg(long, value_name = "FILE", requires = "state_dir")]
    pub secrets_key_file: Option<PathBuf>,
    /// The request header that a reverse proxy in front of the server sets to
    /// the client's address (`X-Forwarded-For`, `X-Real-IP`, ...): on a
    /// connection from a --trusted-proxy network, the last address of its
    /// last line, the one the proxy added, is the client of the wrong-PIN
    /// limits. Other connections, and requests without the header, are the
    /// client of their own address. Without it, every connection is, which
    /// behind a proxy makes every buyer one client.
    #[arg(long, value_name = "NAME", requires_all = ["state_dir", "trusted_proxies"])]
    pub client_address_header: Option<axum::http::HeaderName>,
    /// A network (`10.0.0.0/8`, `2001:db8::/32`) or address (`127.0.0.1`)
    /// of the reverse proxies whose --client-address-header is believed:
    /// from anyone else the header could name a new address on every request.
    /// Their `X-Forwarded-Host` and `X-Forwarded-Proto` are believed too, as
    /// the host and scheme that a PIN post's `Origin` must match (a post from
    /// another site is refused). Repeatable; needed with --client-address-header.
    #[arg(
        long = "trusted-proxy",
        value_name = "CIDR",
        requires = "client_address_header"
    )]
    pub trusted_proxies: Vec<proofmark_verifier::consumer::IpNet>,
    /// CSV file of the names of the organisations that provide records, with
    /// the header `org_id,name` (`proofmark datasets generate` writes one as
    /// `orgs.csv`). The consumer page (which needs --state-dir) shows
    /// "provided by" as the name with the record's `org_id`; without it, the
    /// `org_id` alone. A bad line is refused at start (exit 3).
    #[arg(long, value_name = "FILE", requires = "state_dir")]
    pub orgs: Option<PathBuf>,
    /// A trusted `ledger` verifier key (`name+keyid+base64key`), or a file
    /// holding one, for the consumer page's verified badge. Repeat for
    /// several logs. Without one, no ledger-anchored batch shows as verified:
    /// the consumer page says it cannot confirm them (and a warning is logged).
    #[arg(long = "ledger-key", value_name = "KEY")]
    pub ledger_keys: Vec<String>,
    /// TOML file defining the chains (`[chains.NAME]` tables with a `type`),
    /// the same file as `proofmark anchor` and `audit batch` read (or a job
    /// file, whose `[chains.*]` tables are read); only the chains named with
    /// --chain are used.
    #[arg(long = "chains", value_name = "FILE")]
    pub chains_file: Option<PathBuf>,
    /// A chain the consumer page checks receipts against, for its verified
    /// badge: for an `evm` chain, its node is read (through `rpc_url` and the
    /// anchor contract of the chains file; no account key is needed); for a
    /// `ledger` chain, the verifier key of its key file (which must exist) is
    /// trusted, as with --ledger-key. Repeatable. A batch anchored only on
    /// `evm` chains shows as verified only if one of them is named here; with
    /// no `evm` chain named it shows as "cannot confirm", as it does while its
    /// chain cannot be read; with other `evm` chains named but not its own, as
    /// not verified. At start each `evm` chain named is checked: the store's
    /// latest receipt of it must name the chains file's `contract` (else exit
    /// 3), and its node, given 5 s, must hold an anchor contract there (else
    /// exit 4; a node that does not answer is a warning).
    #[arg(long = "chain", value_name = "NAME")]
    pub chains: Vec<String>,
    /// Seconds the consumer page keeps what an `evm` chain answered for a
    /// receipt (anchored, or not anchored), so that page views do not read the
    /// chain each time; 0 reads it on every view. A chain that could not be read
    /// is asked again after at most 5 seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub chain_cache_secs: u64,
    /// Milliseconds a consumer page waits for an `evm` chain's read before it
    /// shows "cannot confirm right now" (amber) for that chain; the read goes
    /// on, views during it do not wait, and the views after it show its
    /// answer. 0 waits as long as the read takes, and so does
    /// `--chain-cache-secs 0`, which keeps no answer for later views.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub chain_wait_ms: u64,
    /// Memory for whole decoded input row groups, in MiB. 0 (the default)
    /// decodes, per record, only the pages that hold its row; a cache pays
    /// only when the row groups looked up fit in it (see benches/README.md:
    /// a cache much smaller than the inputs makes lookups slower).
    #[arg(long, value_name = "MIB", default_value_t = 0)]
    pub row_group_cache_mib: usize,
    /// Most records of its own a lot bound to a code may have: a code of a
    /// larger lot gets the error `report_too_large` (and its page says it
    /// cannot be shown), never a report that lists only some of them.
    #[arg(long, value_name = "N", default_value_t = proofmark_verifier::lookup::MAX_LOT_RECORDS)]
    pub max_lot_records: usize,
    /// Read the published record files (and, on a local store, the segments'
    /// leaf files) into the page cache at start, and a batch's when a publish
    /// adds it, up to this many MiB each time, so that the first lookups do
    /// not wait for the disk. `auto` is half of the memory available at the
    /// time (nothing where that is not known); 0 turns it off. Lookups are
    /// served meanwhile; the reads yield to theirs (idle I/O class).
    #[arg(long, value_name = "MIB|auto", default_value = "auto", value_parser = parse_prewarm)]
    pub prewarm_mib: PrewarmBudget,
    /// Seconds in-flight requests get to finish after SIGTERM or Ctrl-C.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub shutdown_timeout_secs: u64,
    /// Most connections served at once. While this many are open, new
    /// connections are not accepted: they wait in the listen backlog until
    /// one closes (idle ones close after --header-timeout-secs), so a flood
    /// of connections cannot use up the process's file descriptors. The
    /// soft limit of open files is raised to fit it where the hard limit
    /// allows; where it does not, the cap is lowered to fit, with a warning.
    #[arg(long, value_name = "N", default_value_t = ServerLimits::default().max_connections,
          value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u32).range(1..), |n| n as usize))]
    pub max_connections: usize,
    /// Seconds a connection has to send a whole request line and headers,
    /// counted from its accept or from its previous answer (so it also
    /// bounds how long an idle keep-alive connection stays open); a
    /// connection that does not is closed without an answer.
    #[arg(long, value_name = "SECONDS", default_value_t = ServerLimits::default().header_timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_secs: u64,
    /// Seconds a request body (`POST /v1/audit`, a PIN form) has to arrive,
    /// counted from the end of the request's headers. A body that does not
    /// is answered with `408` and its connection closed.
    #[arg(long, value_name = "SECONDS", default_value_t = ServerLimits::default().body_timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_secs: u64,
    /// Seconds writing an answer may make no progress (the client stopped
    /// reading it) before the connection is closed. Progress is the socket
    /// taking a write or (on Linux) the client acknowledging any bytes, so a
    /// client that reads slowly but steadily is served to the end.
    #[arg(long, value_name = "SECONDS", default_value_t = ServerLimits::default().write_timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub write_timeout_secs: u64,
    /// Largest `POST /v1/audit` body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = ApiLimits::default().audit_body_bytes)]
    pub audit_max_bytes: usize,
    /// Most codes in one `POST /v1/audit`.
    #[arg(long, value_name = "N", default_value_t = ApiLimits::default().audit_codes)]
    pub audit_max_codes: usize,
}

/// Runs `proofmark serve` until SIGTERM or Ctrl-C.
pub fn run_serve(args: ServeArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = global.threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // The chains are read on a runtime of their own, made and dropped here, outside the
    // server's runtime (a runtime cannot be dropped inside another).
    let chain_runtime = if args.chains.is_empty() {
        None
    } else {
        Some(Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("chain-reads")
                .enable_all()
                .build()
                .context("cannot start the chain readers' runtime")?,
        ))
    };
    runtime.block_on(serve(args, global.quiet, chain_runtime.as_ref()))
}

async fn serve(
    args: ServeArgs,
    quiet: bool,
    chain_runtime: Option<&Arc<tokio::runtime::Runtime>>,
) -> anyhow::Result<ExitCode> {
    // The consumer state and its PIN key first: a key that does not match
    // is refused before the index is opened.
    let limits = ApiLimits {
        audit_body_bytes: args.audit_max_bytes,
        audit_codes: args.audit_max_codes,
        ..ApiLimits::default()
    };
    let consumer = match &args.state_dir {
        Some(dir) => {
            let key = match &args.secrets_key_file {
                Some(path) => Some(
                    // The error names the file and its cause.
                    PinKey::load(path).context("cannot read the PIN key")?,
                ),
                None => None,
            };
            let orgs = match &args.orgs {
                // The error names the file and the line.
                Some(path) => OrgNames::load(path).map_err(|e| {
                    anyhow::Error::new(e).context(Classified(
                        ExitClass::Input,
                        "cannot read the organisation names (--orgs)",
                    ))
                })?,
                None => OrgNames::empty(),
            };
            let consumer = Consumer::open(dir, key.clone())
                .with_context(|| format!("cannot open the state folder {}", dir.display()))?
                .with_orgs(orgs)
                .with_proxy_header(args.client_address_header.clone().map(|name| ProxyHeader {
                    name,
                    proxies: args.trusted_proxies.clone(),
                }));
            if let Some(key) = &key {
                check_pin_key(&consumer, key, args.secrets_key_file.as_deref(), quiet)?;
            }
            let chains = match &args.chains_file {
                Some(p) => ChainsFile::load(p)?,
                None => ChainsFile::default(),
            };
            let (trust, chain_reads) = page_trust(&args, &chains, chain_runtime)?;
            if trust.ledger_keys.is_empty() && trust.chain_checks.is_empty() {
                // Not an error: the records and proofs are still checked, and
                // the page says it cannot confirm rather than calling genuine
                // products fake. But no page will show a verified badge.
                tracing::warn!(
                    "no --ledger-key and no --chain to read: no anchor can be checked, so no \
                     consumer page can show a product as verified (they say they cannot confirm)"
                );
                // In JSON mode the warning event above is already on stderr.
                if !quiet && !super::json_logs() {
                    errln!(
                        "warning: no --ledger-key and no --chain to read: no anchor can be \
                         checked, so no consumer page can show a product as verified (they say \
                         they cannot confirm)"
                    );
                }
            }
            Some((consumer, trust, chain_reads, chains))
        }
        None => None,
    };
    let store = Store::from_url(&args.store).with_context(|| format!("store {}", args.store))?;
    if let Some((.., chains)) = &consumer
        && !args.chains.is_empty()
    {
        check_evm_chains(&args, chains, &store, quiet).await?;
    }
    let lookup = Lookup::open(store, &args.index)
        .with_context(|| format!("cannot open the code index {}", args.index.display()))?
        .with_row_group_cache_bytes(args.row_group_cache_mib.saturating_mul(1 << 20))
        .with_max_lot_records(args.max_lot_records)
        .with_prewarm(args.prewarm_mib);
    let warm = lookup.clone();
    let mut state = ApiState::new(lookup.clone()).with_limits(limits);
    let router = match consumer {
        Some((consumer, trust, chain_reads, _)) => {
            if !chain_reads.is_empty() {
                state
                    .metrics
                    .add_source(move |out: &mut String| render_chain_reads(&chain_reads, out));
            }
            let ready = consumer.clone();
            state.readiness.add(move || ready.readiness());
            let counters = consumer.metrics();
            state
                .metrics
                .add_source(move |out: &mut String| counters.render_prometheus(out));
            let lookup: Arc<dyn CodeLookup> = Arc::new(lookup);
            let page = proofmark_verifier::consumer::router(lookup, consumer, Arc::new(trust));
            proofmark_verifier::api::app_with(state, page)
        }
        None => proofmark_verifier::api::app(state),
    };
    let server_limits = ServerLimits {
        max_connections: fit_open_files(args.max_connections, quiet),
        header_timeout: Duration::from_secs(args.header_timeout_secs),
        body_timeout: Duration::from_secs(args.body_timeout_secs),
        write_timeout: Duration::from_secs(args.write_timeout_secs),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr().context("no local address")?;
    tracing::info!(%local, "serving");
    errln!("serving on http://{local}");
    if args.prewarm_mib != PrewarmBudget::Off {
        // A thread of its own, not the blocking pool: the runtime's shutdown
        // waits for blocking tasks, and a stop must not wait for the read.
        let budget = args.prewarm_mib;
        let spawned = std::thread::Builder::new()
            .name("prewarm".into())
            .spawn(move || prewarm(&warm, budget, quiet));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start reading the index's files ahead");
        }
    }

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server =
        proofmark_verifier::api::server::serve(listener, router, server_limits, async move {
            let signal = super::shutdown_signal().await;
            tracing::info!(signal, "shutting down");
            let _ = stop_tx.send(true);
        });
    let grace = Duration::from_secs(args.shutdown_timeout_secs);
    let deadline = async move {
        let mut rx = stop_rx;
        // Wait for the signal, then give in-flight requests `grace`.
        while !*rx.borrow() {
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        () = server => {},
        () = deadline => {
            tracing::warn!(seconds = grace.as_secs(), "in-flight requests did not finish in time");
        }
    }
    errln!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Refuses a PIN key that is not the key of the state's PIN hashes: with
/// it every genuine PIN would be called wrong, and buyers locked out. A
/// state whose hashes predate key check values cannot tell: a warning, and
/// the next `pins import` records the key.
fn check_pin_key(
    consumer: &Consumer,
    key: &PinKey,
    key_file: Option<&std::path::Path>,
    quiet: bool,
) -> anyhow::Result<()> {
    let file = key_file
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    match consumer.store().check_key(key) {
        Ok(KeyRecord::Recorded(_) | KeyRecord::Empty) => Ok(()),
        Ok(KeyRecord::Unrecorded) => {
            tracing::warn!(
                key_file = %file,
                "the consumer state's PIN hashes have no key check value: the PIN key cannot be \
                 checked (run `proofmark pins import` with this key to record it)"
            );
            if !quiet && !super::json_logs() {
                errln!(
                    "warning: the consumer state's PIN hashes were imported before key check \
                     values were recorded, so {file} cannot be checked against them; if it is not \
                     their key every genuine PIN is called wrong (run `proofmark pins import` with \
                     this key file to record it)"
                );
            }
            Ok(())
        }
        Err(e @ ConsumerError::KeyMismatch { .. }) => Err(anyhow::Error::new(e)
            .context(format!("--secrets-key-file {file}"))
            .context(Classified(ExitClass::Input, "wrong PIN key"))),
        Err(e) => Err(anyhow::Error::new(e).context("cannot read the consumer state")),
    }
}

/// What the consumer page trusts: the `--ledger-key` keys, and each `--chain` of the
/// `--chains` file (as `audit batch` reads them): a `ledger` chain's verifier key (from
/// its existing key file), an `evm` chain's node and contract, read on `chain_runtime`
/// through a cache (`--chain-cache-secs`), a page waiting at most `--chain-wait-ms`. The
/// page verifies on the blocking pool, where a chain read may wait.
fn page_trust(
    args: &ServeArgs,
    chains: &ChainsFile,
    chain_runtime: Option<&Arc<tokio::runtime::Runtime>>,
) -> anyhow::Result<(Trust, ChainCaches)> {
    let mut trust = Trust::new();
    let mut caches = ChainCaches::new();
    for key in super::verify::parse_ledger_keys(&args.ledger_keys)? {
        trust = trust.with_ledger_key(key);
    }
    let answer_ttl = Duration::from_secs(args.chain_cache_secs);
    for name in &args.chains {
        match chains.get(name)? {
            ChainConfig::Ledger { key_file, .. } => {
                // Read, never made: a verifier has no use for a new signing key.
                let path = key_file.unwrap_or_else(default_ledger_key_file);
                let verifier = NoteSigner::load(&path)
                    .with_context(|| {
                        format!("chain {name}: the ledger key file {}", path.display())
                    })?
                    .verifier();
                trust = trust.with_ledger_key(verifier);
            }
            ChainConfig::Evm(config) => {
                // Without the contract, every receipt would be read as a mismatch.
                if config.contract.is_none() {
                    return Err(crate::exit::input_error(anyhow::anyhow!(
                        "chain {name}: the chains file gives no `contract` to read the anchors from"
                    )));
                }
                let runtime = chain_runtime
                    .context("no runtime to read the chains on")?
                    .clone();
                let reader: Arc<dyn ChainCheck> = Arc::new(EvmChainCheck::new(config, runtime));
                let max_wait =
                    (args.chain_wait_ms > 0).then(|| Duration::from_millis(args.chain_wait_ms));
                let cached =
                    Arc::new(CachedChainCheck::new(reader, answer_ttl).with_max_wait(max_wait));
                caches.push((name.clone(), Arc::clone(&cached)));
                trust = trust.with_chain_check(name, cached);
            }
        }
    }
    Ok((trust, caches))
}

/// The chain reads of the consumer page, one cache per `evm` chain named.
type ChainCaches = Vec<(String, Arc<CachedChainCheck>)>;

/// The chain reads' counters, in the Prometheus text format: reads by outcome, reads a page
/// stopped waiting for, and whether a chain is answering (0 while one of its reads is
/// overdue, when pages do not wait for it).
fn render_chain_reads(caches: &ChainCaches, out: &mut String) {
    use std::fmt::Write as _;
    // Chain names are letters, digits, '-' and '_' (the chains file refuses others): labels
    // as they are.
    let reads: Vec<(&str, proofmark_verifier::verify::ChainReads)> = caches
        .iter()
        .map(|(n, c)| (n.as_str(), c.reads()))
        .collect();
    let _ = writeln!(
        out,
        "# HELP proofmark_chain_reads_total Reads of an evm chain for the consumer page, by \
         outcome (ok, mismatch, not_applicable, unavailable; refused: not started, too many \
         reads going on).\n\
         # TYPE proofmark_chain_reads_total counter"
    );
    for (chain, r) in &reads {
        for (outcome, n) in [
            ("ok", r.ok),
            ("mismatch", r.mismatch),
            ("not_applicable", r.not_applicable),
            ("unavailable", r.unavailable),
            ("refused", r.refused),
        ] {
            let _ = writeln!(
                out,
                "proofmark_chain_reads_total{{chain=\"{chain}\",outcome=\"{outcome}\"}} {n}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP proofmark_chain_reads_overdue_total Chain reads a page stopped waiting for \
         (--chain-wait-ms).\n\
         # TYPE proofmark_chain_reads_overdue_total counter"
    );
    for (chain, r) in &reads {
        let _ = writeln!(
            out,
            "proofmark_chain_reads_overdue_total{{chain=\"{chain}\"}} {}",
            r.overdue
        );
    }
    let _ = writeln!(
        out,
        "# HELP proofmark_chain_answering 0 while a read of the chain is overdue (pages do not \
         wait for it and show \"cannot confirm\"), else 1.\n\
         # TYPE proofmark_chain_answering gauge"
    );
    for (chain, r) in &reads {
        let _ = writeln!(
            out,
            "proofmark_chain_answering{{chain=\"{chain}\"}} {}",
            u8::from(r.overdue_now == 0)
        );
    }
}

/// How many batches back from the store's latest [`check_evm_chains`] looks for a receipt of
/// a chain (a batch is committed before it is anchored, so the latest may have none yet).
const RECEIPT_LOOKBACK: usize = 7;

/// Checks, before serving, each `--chain` of type `evm` the pages will read: the store's
/// latest receipt of the chain must name the contract the chains file gives (a receipt names
/// its contract, and a page whose receipts name another says "verification failed", so a
/// mistyped `contract` would call every genuine product fake), and the node, when it answers
/// within 5 s, must serve the chain id and hold an anchor contract at that address. A node
/// that does not answer now is a warning: pages are amber until it does.
async fn check_evm_chains(
    args: &ServeArgs,
    chains: &ChainsFile,
    store: &Store,
    quiet: bool,
) -> anyhow::Result<()> {
    use proofmark_anchor::evm::{EvmClient, EvmError};
    for name in &args.chains {
        let ChainConfig::Evm(config) = chains.get(name)? else {
            continue;
        };
        let Some(contract) = config.contract.clone() else {
            continue;
        };
        if let Some((batch_id, named)) = latest_receipt_contract(store, name).await?
            && !named.eq_ignore_ascii_case(&contract)
        {
            return Err(anyhow::anyhow!(
                "chain {name}: the store's receipt of batch {batch_id} names contract {named}, \
                 and the chains file gives {contract}: every page of a batch anchored there \
                 would say that verification failed (a contract that changed goes under a new \
                 chain name: docs/chains.md, \"Moving to a new contract\")"
            )
            .context(Classified(ExitClass::Input, "the chains file")));
        }
        let wait = Duration::from_secs(config.rpc_timeout_secs.clamp(1, 5));
        let checked = tokio::time::timeout(wait, async {
            let client = EvmClient::connect(name, &config, None).await?;
            client.check_contract().await
        })
        .await;
        let why = match checked {
            Ok(Ok(_)) => continue,
            Ok(Err(
                e @ (EvmError::NotAContract { .. }
                | EvmError::NotAnchorContract { .. }
                | EvmError::WrongChainId { .. }),
            )) => return Err(anyhow::Error::new(e)),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} s", wait.as_secs()),
        };
        let message = format!(
            "chain {name}: its contract cannot be checked now ({why}); pages of its batches \
             say they cannot confirm until the node answers"
        );
        tracing::warn!("{message}");
        if !quiet && !super::json_logs() {
            errln!("warning: {message}");
        }
    }
    Ok(())
}

/// The contract named by the store's latest receipt of `chain`, with its batch: the receipt
/// of the latest committed batch, else of the one before, up to [`RECEIPT_LOOKBACK`] batches.
async fn latest_receipt_contract(
    store: &Store,
    chain: &str,
) -> anyhow::Result<Option<(String, String)>> {
    let head = proofmark_anchor::read_head(store)
        .await
        .with_context(|| format!("store {}", store.url()))?;
    let mut batch_id = head.map(|h| h.batch_id);
    for _ in 0..RECEIPT_LOOKBACK {
        let Some(id) = batch_id.take() else {
            break;
        };
        let path = proofmark_anchor::chain::receipt_path(&id, chain);
        if let Some(bytes) = store.get(&path).await? {
            let receipt: serde_json::Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("store {}: {path}", store.url()))?;
            let named = receipt.get("contract").and_then(serde_json::Value::as_str);
            return Ok(named.map(|c| (id, c.to_owned())));
        }
        let manifest = match proofmark_anchor::load_manifest(store, &id).await {
            Ok((manifest, _)) => manifest,
            Err(proofmark_anchor::AnchorError::NotCommitted { .. }) => break,
            Err(e) => return Err(e.into()),
        };
        batch_id = manifest.previous.map(|p| p.batch_id);
    }
    Ok(None)
}

/// Reads the index's files ahead ([`Lookup::prewarm`]) and says how it went.
fn prewarm(lookup: &Lookup, budget: PrewarmBudget, quiet: bool) {
    let done = match lookup.prewarm(budget) {
        Ok(done) => done,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the index's files ahead");
            return;
        }
    };
    done.log("the index's files");
    if quiet || super::json_logs() {
        return;
    }
    if done.budget == 0 {
        errln!("no index files read ahead: the available memory is not known (see --prewarm-mib)");
        return;
    }
    let unread = if done.left_unread > 0 {
        format!(
            "; {:.1} GiB left unread (budget {:.1} GiB, --prewarm-mib)",
            gib(done.left_unread),
            gib(done.budget)
        )
    } else {
        String::new()
    };
    errln!(
        "read {:.2} GiB of {} index and leaf files into memory in {:.1} s{unread}",
        gib(done.bytes),
        done.files,
        done.elapsed.as_secs_f64()
    );
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1u32 << 30)
}

fn parse_prewarm(s: &str) -> Result<PrewarmBudget, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(PrewarmBudget::Auto);
    }
    s.parse::<u64>()
        .map(PrewarmBudget::mib)
        .map_err(|_| format!("{s:?} is neither a count of MiB nor `auto`"))
}

/// File descriptors kept for what is not a connection: the index's runs and
/// record files, the store's files, the state database, the runtime.
const RESERVED_FILES: u64 = 256;

/// `max_connections`, lowered if the process cannot open that many files
/// besides [`RESERVED_FILES`], after raising its soft limit of open files
/// as far as the hard limit allows (a lower cap is warned about).
fn fit_open_files(max_connections: usize, quiet: bool) -> usize {
    let wanted = (max_connections as u64).saturating_add(RESERVED_FILES);
    let Some(limit) = crate::rlimit::raise_open_files(wanted) else {
        return max_connections;
    };
    let room = usize::try_from(limit.saturating_sub(RESERVED_FILES))
        .unwrap_or(usize::MAX)
        .max(1);
    if room >= max_connections {
        return max_connections;
    }
    tracing::warn!(
        max_connections,
        open_files_limit = limit,
        lowered_to = room,
        "the open files limit is too low for --max-connections; the cap is lowered"
    );
    if !quiet && !super::json_logs() {
        errln!(
            "warning: the open files limit ({limit}) is too low for --max-connections \
             {max_connections}: at most {room} connections are served at once (raise the hard \
             limit, e.g. LimitNOFILE= in a systemd unit)"
        );
    }
    room
}
