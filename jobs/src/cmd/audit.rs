//! `proofmark audit`: the regulators' offline tools. `audit batch` recomputes
//! a committed batch from its inputs and compares every stored output;
//! `audit codes` verifies the reports of many codes at once.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use futures::{StreamExt as _, stream};
use indicatif::ProgressBar;
use proofmark_anchor::chain::{ChainConfig, ChainsFile, ledger_signer};
use proofmark_ingest::Store;
use proofmark_verifier::Lookup;
use proofmark_verifier::audit::{AuditError, AuditOptions, BatchAudit, audit_batch};
use proofmark_verifier::audit_codes::{
    AuditLine, CodeAuditRow, CodeStatus, MALFORMED_CODE_REASON, RowCounts, RowFormat, RowWriter,
    UNKNOWN_CODE_REASON, audit_lines, parse_audit_line,
};
use proofmark_verifier::consumer::pin::BOM;
use proofmark_verifier::verify::Trust;

use super::GlobalArgs;
use super::pipeline::bar;
use super::verify::{EXIT_ERROR, EXIT_NOT_VERIFIED, EvmChainCheck, parse_ledger_keys};
use crate::exit::{self, Classified, ExitClass};
use crate::output::{is_stream, write_atomically_with};

/// The audit subcommands. Exit status: 0 everything verified, 1 something
/// did not verify (a mismatch, an unknown, malformed or unverified code, a batch
/// the store does not hold), 2 an error (the store or a chain could not be
/// read), 3 an input error (an argument, a missing store folder, no trust source
/// for the anchors).
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Recompute a committed batch from its inputs (re-read, re-validate,
    /// re-encode, re-hash) and compare every stored leaf, segment tree, index,
    /// summary, count and root, and the anchor receipts; mismatches name the
    /// segment, leaf, file and row.
    Batch(AuditBatchArgs),
    /// Verify the reports of many codes in parallel and write one row per
    /// code (CSV, JSON or Parquet).
    Codes(AuditCodesArgs),
}

/// Arguments of `proofmark audit batch`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 passed, 1 a difference found (an input file, the stored batch, \
                  its plan.json or manifest.json missing or damaged among them, or a receipt \
                  does not match; a chain named with --chain has no receipt) or the store holds \
                  no such batch, 2 error (the \
                  store or a chain could not be read: the checks that could not be made are \
                  listed, nothing is concluded from them), 3 an argument at fault (no --ledger-key, \
                  --chain or --no-anchor-required; a key that is no key; a store folder or an \
                  --output folder that does not exist), told before the audit starts."
)]
pub struct AuditBatchArgs {
    /// The committed batch to audit.
    #[arg(long, value_name = "ID", value_parser = super::parse_batch_id)]
    pub batch_id: String,
    /// The batch store: a folder or an object store URL (s3://, gs://, az://, file://).
    #[arg(long, value_name = "URL")]
    pub store: String,
    /// A chain whose receipt must verify against a trusted source: for a
    /// `ledger` chain, the verifier key of its key file; for an `evm` chain,
    /// the anchor read from its contract (on a node of the receipt's
    /// `chain_id`). A batch with no receipt of the chain fails. Repeatable.
    #[arg(long = "chain", value_name = "NAME")]
    pub chains: Vec<String>,
    /// TOML file defining the chains (`[chains.NAME]` tables with a `type`),
    /// or a job file, whose `[chains.*]` tables are read.
    #[arg(long = "chains", value_name = "FILE")]
    pub chains_file: Option<PathBuf>,
    /// A trusted `ledger` verifier key (`name+keyid+base64key`) or a file
    /// holding one. Repeatable.
    #[arg(long = "ledger-key", value_name = "KEY")]
    pub ledger_keys: Vec<String>,
    /// Do not require an anchor checked against a trusted key or chain
    /// (receipts are still checked against the manifest).
    #[arg(long)]
    pub no_anchor_required: bool,
    /// Segments re-read and recomputed at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub segments_in_flight: usize,
    /// Write the audit as JSON to this file (default: a summary on standard output).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the full audit as JSON on standard output.
    #[arg(long, conflicts_with = "output")]
    pub json: bool,
}

/// Output formats of `audit codes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON array of row objects.
    Json,
    /// Parquet (`--output` required).
    Parquet,
}

/// Arguments of `proofmark audit codes`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Each row's status: verified, not_verified (a check failed, or no anchor was \
                  checked against a trusted key or chain), unknown (no published batch holds \
                  the code), malformed (the line is not a code), error (the report could not be \
                  obtained or checked, or the server called a well-formed code malformed). Exit \
                  status: 0 every code verified, 1 some code not \
                  verified, unknown or malformed, 2 some code could not be checked (or the \
                  audit could not run), 3 an argument at fault (no --server, --store or \
                  --reports; a FILE, a store or index folder or an --output folder that does \
                  not exist), told before the audit starts."
)]
pub struct AuditCodesArgs {
    /// The codes, one per line (blank lines and lines starting with `#`
    /// ignored, white space around a code removed, a UTF-8 byte order mark
    /// at the start skipped and a code in double quotes taken without them,
    /// as spreadsheets write them); with --reports,
    /// NDJSON code reports instead (e.g. a saved `POST /v1/audit` answer).
    /// A file is read through before the audit starts (a line that is not
    /// UTF-8 is told then); a pipe such as `/dev/stdin` is read as the audit
    /// goes.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// A proofmark server to ask (`POST /v1/audit`), e.g. `http://127.0.0.1:8080`.
    #[arg(long, value_name = "URL", conflicts_with_all = ["store", "reports"])]
    pub server: Option<String>,
    /// The batch store to read reports from directly (with --index).
    #[arg(
        long,
        value_name = "URL",
        requires = "index",
        conflicts_with = "reports"
    )]
    pub store: Option<String>,
    /// The code index folder (`proofmark publish --index`), with --store.
    #[arg(long, value_name = "DIR", requires = "store")]
    pub index: Option<PathBuf>,
    /// With --store: most records of its own a lot bound to a code may have;
    /// a code of a larger lot is reported as an error, never with only some
    /// of its lot's records.
    #[arg(long, value_name = "N", default_value_t = proofmark_verifier::lookup::MAX_LOT_RECORDS)]
    pub max_lot_records: usize,
    /// FILE holds NDJSON code reports to verify offline, not codes.
    #[arg(long)]
    pub reports: bool,
    /// A trusted `ledger` verifier key (`name+keyid+base64key`) or a file
    /// holding one. Repeatable.
    #[arg(long = "ledger-key", value_name = "KEY")]
    pub ledger_keys: Vec<String>,
    /// Do not require an anchor checked against a trusted key or chain.
    #[arg(long)]
    pub no_anchor_required: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Csv)]
    pub format: OutputFormat,
    /// Output file (default: standard output; required for Parquet).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Codes per `POST /v1/audit` request (the server's limit applies).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub request_codes: usize,
    /// Requests (with --server) or lookups (with --store) at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
    /// With --server: seconds to wait for one request's whole answer (and 10 s at most to
    /// connect); a request that takes longer stops the audit with an error naming its codes.
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: u64,
}

/// Runs an audit subcommand.
pub fn run(cmd: AuditCommand, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Batch(args) => run_batch(args, global),
        AuditCommand::Codes(args) => run_codes(args, global),
    }
}

fn runtime() -> anyhow::Result<Arc<tokio::runtime::Runtime>> {
    Ok(Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?,
    ))
}

fn batch_trust(args: &AuditBatchArgs, rt: &Arc<tokio::runtime::Runtime>) -> anyhow::Result<Trust> {
    let mut trust = Trust::new().with_require_anchor(!args.no_anchor_required);
    for key in parse_ledger_keys(&args.ledger_keys)? {
        trust = trust.with_ledger_key(key);
    }
    let chains = match &args.chains_file {
        Some(p) => ChainsFile::load(p)?,
        None => ChainsFile::default(),
    };
    for name in &args.chains {
        // Named, so required: a batch without a receipt of it fails (a receipt removed
        // from the store is not a receipt that need not be checked).
        trust = trust.with_required_chain(name);
        match chains.get(name)? {
            config @ ChainConfig::Ledger { .. } => {
                let verifier = ledger_signer(&config)
                    .with_context(|| format!("chain {name}: the ledger key file"))?
                    .verifier();
                trust = trust.with_ledger_key(verifier);
            }
            ChainConfig::Evm(config) => {
                trust = trust
                    .with_chain_check(name, Arc::new(EvmChainCheck::new(config, Arc::clone(rt))));
            }
        }
    }
    Ok(trust)
}

fn run_batch(args: AuditBatchArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    if args.ledger_keys.is_empty() && args.chains.is_empty() && !args.no_anchor_required {
        errln!(
            "error: audit batch needs a trusted source for the anchor receipts: give \
             --ledger-key (the ledger's verifier key, obtained independently) or --chain, \
             or --no-anchor-required to compare the stored batch without its anchors"
        );
        return Ok(ExitCode::from(ExitClass::Input.code()));
    }
    if let Some(path) = &args.output
        && let Err(e) = check_output_folder(path)
    {
        errln!("error: {}", crate::exit::message(&e));
        return Ok(ExitCode::from(exit::classify(&e).code()));
    }
    let rt = runtime()?;
    let trust = match batch_trust(&args, &rt) {
        Ok(t) => t,
        Err(e) => {
            errln!("error: {}", crate::exit::message(&e));
            return Ok(ExitCode::from(exit::classify(&e).code()));
        }
    };
    let store = Store::from_url(&args.store)
        .with_context(|| format!("store {}", args.store))
        .context(Classified(ExitClass::Input, "the --store URL"))?;
    if let Some(root) = store.local_root()
        && !root.is_dir()
    {
        errln!("error: store {}: no such folder", args.store);
        return Ok(ExitCode::from(ExitClass::Input.code()));
    }
    let opts = AuditOptions {
        segments_in_flight: args.segments_in_flight.max(1),
        trust,
        ..AuditOptions::default()
    };
    let pb = bar(global, 0, "segments");
    let started = Instant::now();
    let result = rt.block_on(audit_batch(&store, &args.batch_id, &opts, &|p| {
        pb.set_length(p.segments_total);
        pb.set_position(p.segments_done);
    }));
    pb.finish_and_clear();
    let audit = match result {
        Ok(a) => a,
        Err(AuditError::NotCommitted(_)) => {
            errln!(
                "not found: store {} holds no committed batch {} (no manifest.json, no receipt)",
                args.store,
                args.batch_id
            );
            return Ok(ExitCode::from(EXIT_NOT_VERIFIED));
        }
        Err(e) => {
            errln!(
                "error: cannot audit batch {}: {}",
                args.batch_id,
                crate::exit::message(&anyhow::Error::new(e))
            );
            return Ok(ExitCode::from(EXIT_ERROR));
        }
    };
    tracing::info!(
        batch = %audit.batch_id,
        segments = audit.segments,
        leaves = audit.leaves_recomputed,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "batch audited"
    );
    if let Some(path) = &args.output {
        write_atomically_with(path, |out| {
            serde_json::to_writer_pretty(&mut *out, &audit)?;
            writeln!(out)
        })
        .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        let out = std::io::stdout();
        let mut out = out.lock();
        serde_json::to_writer_pretty(&mut out, &audit)?;
        writeln!(out)?;
    } else {
        print_batch_summary(&audit)?;
    }
    // A difference found is the answer (1) even when some check could not be made; checks
    // that could not be made and nothing else are an error (2), as for `verify`.
    Ok(ExitCode::from(if audit.passed {
        0
    } else if audit.mismatches.is_empty() {
        EXIT_ERROR
    } else {
        EXIT_NOT_VERIFIED
    }))
}

fn print_batch_summary(a: &BatchAudit) -> anyhow::Result<()> {
    let out = std::io::stdout();
    let mut out = out.lock();
    if a.root.is_empty() {
        writeln!(out, "batch {}: its manifest could not be read", a.batch_id)?;
    } else {
        writeln!(
            out,
            "batch {}: {} segments, {} rows re-read, {} leaves recomputed; root {}",
            a.batch_id, a.segments, a.rows_read, a.leaves_recomputed, a.root
        )?;
    }
    if a.passed {
        writeln!(out, "PASSED: every stored output matches the recomputation")?;
    } else if a.mismatches.is_empty() {
        writeln!(
            out,
            "ERROR: {} check(s) could not be made (nothing differs so far)",
            a.errors.len()
        )?;
    } else {
        writeln!(out, "FAILED: {} mismatch(es)", a.mismatches.len())?;
        for m in &a.mismatches {
            let mut place = Vec::new();
            if let Some(s) = m.segment {
                place.push(format!("segment {s}"));
            }
            if let Some(l) = m.leaf {
                place.push(format!("leaf {l}"));
            }
            if let Some(f) = &m.file {
                place.push(format!("file {f}"));
            }
            if let Some(r) = m.row {
                place.push(format!("row {r}"));
            }
            write!(out, "  - {:?}", m.kind)?;
            if !place.is_empty() {
                write!(out, " [{}]", place.join(", "))?;
            }
            write!(out, ": {}", m.message)?;
            if let (Some(s), Some(r)) = (&m.stored, &m.recomputed) {
                write!(out, " (stored {s}, recomputed {r})")?;
            }
            writeln!(out)?;
        }
    }
    for e in &a.errors {
        writeln!(out, "  - {e}")?;
    }
    for (chain, a) in &a.anchors.anchors {
        writeln!(
            out,
            "anchor {chain}: {}",
            if a.trusted {
                "verified"
            } else {
                "not verified against a trusted source"
            }
        )?;
    }
    Ok(())
}

/// Checks, before any work, that `--output`'s folder exists (an input error).
fn check_output_folder(path: &std::path::Path) -> anyhow::Result<()> {
    crate::output::check_output_folder("--output", path).map_err(exit::input_error)
}

/// Codes fetched (or reports read) and then verified together (decision
/// 0018). Small enough that one window's parsed reports stay in memory the
/// allocator reuses: 16,384 (the verifier's own window) held 2.6 GiB, about
/// 160 KiB a report as JSON values, and spent a third of the audit faulting
/// in fresh pages.
const AUDIT_WINDOW_CODES: usize = 4096;

/// Most bytes of report text a window of `--reports` holds before it is verified (with
/// the window read ahead, twice that and the parsed reports are in memory): about 4,096
/// reports of ten records.
const AUDIT_WINDOW_BYTES: usize = 128 << 20;

/// Opens the FILE argument: one that does not exist or cannot be read is an argument at
/// fault (exit 3), not a failure of the audit.
fn open_input(path: &std::path::Path) -> anyhow::Result<File> {
    File::open(path)
        .with_context(|| format!("opening {}", path.display()))
        .map_err(exit::input_error)
}

/// Opens the codes FILE before the audit starts. A regular file is read through once here,
/// so that a line that is not UTF-8, or a file without a code, is told before any work, and
/// its codes are counted for the progress bar; it is then read again from the start, a
/// window at a time. Any other file (a pipe) is read once, as the audit goes.
fn open_codes(path: &std::path::Path) -> anyhow::Result<(File, Option<u64>)> {
    let mut f = open_input(path)?;
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return Ok((f, None));
    }
    let mut count = 0u64;
    for code in codes_of(BufReader::new(&f)) {
        code.with_context(|| format!("reading {}", path.display()))?;
        count += 1;
    }
    if count == 0 {
        return Err(no_code(path));
    }
    f.rewind()
        .with_context(|| format!("reading {}", path.display()))?;
    Ok((f, Some(count)))
}

/// The error of a codes file without a code: an audit of nothing would pass (the wrong
/// file, most likely).
fn no_code(path: &std::path::Path) -> anyhow::Error {
    anyhow::anyhow!(
        "{} holds no code (one code a line; empty lines and # comments are skipped)",
        path.display()
    )
    .context(Classified(ExitClass::Input, "the codes file"))
}

/// The codes of a codes file, in order: one a line, white space around it ignored, empty
/// lines and `#` comments skipped, a UTF-8 byte order mark (as spreadsheets write) at the
/// start skipped, and a code in double quotes (a spreadsheet's CSV of a text column) taken
/// without them. A line that is not UTF-8 is an error naming it.
fn codes_of(reader: impl BufRead) -> impl Iterator<Item = anyhow::Result<String>> {
    reader
        .split(b'\n')
        .enumerate()
        .filter_map(|(i, line)| match line {
            Ok(line) => code_of_line(i, &line).transpose(),
            Err(e) => Some(Err(anyhow::Error::new(e).context(format!("line {}", i + 1)))),
        })
}

/// The code of line `i` (0-based) of a codes file ([`codes_of`]), or none.
fn code_of_line(i: usize, line: &[u8]) -> anyhow::Result<Option<String>> {
    let t = text_line(i, line)?.trim();
    if t.is_empty() || t.starts_with('#') {
        return Ok(None);
    }
    let unquoted = t
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .filter(|inner| !inner.contains('"'))
        .map_or(t, str::trim);
    Ok(Some(unquoted.to_owned()))
}

/// The codes of the open codes file `f` ([`open_codes`]) in windows of
/// [`AUDIT_WINDOW_CODES`], read as they are asked for; the first error (naming the file
/// and the line) ends them.
fn code_windows(
    f: File,
    path: &std::path::Path,
) -> impl Iterator<Item = anyhow::Result<Vec<String>>> {
    let mut codes = codes_of(BufReader::new(f));
    let path = path.to_owned();
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        let mut window = Vec::new();
        for code in codes.by_ref() {
            match code {
                Ok(code) => window.push(code),
                Err(e) => {
                    failed = true;
                    return Some(Err(e.context(format!("reading {}", path.display()))));
                }
            }
            if window.len() == AUDIT_WINDOW_CODES {
                break;
            }
        }
        (!window.is_empty()).then_some(Ok(window))
    })
}

/// Line `i` (0-based) of a file as text, without the byte order mark that spreadsheets
/// write at the start of a file; a line that is not UTF-8 is an error naming it.
fn text_line(i: usize, line: &[u8]) -> anyhow::Result<&str> {
    let line = match line.strip_prefix(BOM) {
        Some(rest) if i == 0 => rest,
        _ => line,
    };
    std::str::from_utf8(line).map_err(|e| anyhow::anyhow!("line {} is not UTF-8 ({e})", i + 1))
}

/// The server's answer line for the code `asked`, as long as it is about that code (a
/// report's `code`, or an error line's): any other answer is an error of `asked`, so that a
/// server cannot answer one code with the (genuine, verifiable) report of another. `asked`
/// is the form of a code (the client checked it before asking), so a server that calls it
/// malformed disagrees with the spec: an error row saying so, not a malformed line.
fn answer_for(asked: &str, line: AuditLine) -> AuditLine {
    // The code as the server wrote it: a report's `code` is the code asked for, trimmed
    // (SPEC.md 11.1), so one with white space around it answers no code of the file.
    let asked = asked.trim();
    let answered = match &line {
        AuditLine::Report(report) => report.code.clone(),
        AuditLine::NoReport(code, ..) => code.clone(),
    };
    if let AuditLine::NoReport(_, CodeStatus::Malformed, _) = &line
        && (answered == asked || answered.is_empty())
    {
        return AuditLine::NoReport(
            asked.to_owned(),
            CodeStatus::Error,
            "the server answered malformed_code, but the line is the form of a code (SPEC.md \
             2.3, checked before asking): the server disagrees with this client"
                .to_owned(),
        );
    }
    if answered == asked {
        return line;
    }
    if answered.is_empty()
        && let AuditLine::NoReport(_, status, message) = line
    {
        // A line that did not parse: its reason, under the code it answers.
        return AuditLine::NoReport(asked.to_owned(), status, message);
    }
    AuditLine::NoReport(
        asked.to_owned(),
        CodeStatus::Error,
        format!("the server answered for the code {answered:?}, not {asked:?}"),
    )
}

/// The row of a line that is not the form of a code: the same from a store as from a server.
fn malformed(code: String) -> AuditLine {
    AuditLine::NoReport(code, CodeStatus::Malformed, MALFORMED_CODE_REASON.into())
}

/// How `audit codes --server` asks: the client (its timeouts set), the audit URL, codes per
/// request and requests at once.
#[derive(Clone)]
struct ServerAsk {
    client: reqwest::Client,
    url: String,
    request_codes: usize,
    concurrency: usize,
    timeout_secs: u64,
}

/// Largest answer to one `POST /v1/audit` read (its reports are kept in memory until the
/// window is verified, with up to `--concurrency` answers read at once): about 10,000
/// reports of ten records.
const MAX_ANSWER_BYTES: usize = 256 << 20;

/// How much of an error answer's text an error message quotes.
const QUOTED_BYTES: usize = 2048;

/// Attempts of one request that failed to connect or met a server error (502, 503, 504, or
/// 429) before the audit stops; the waits between them are 1 s, then 2 s.
const SERVER_ATTEMPTS: u32 = 3;

/// Asks a server for the reports of `codes`, the file's codes from position `first` (0-based)
/// on (`POST /v1/audit` with a JSON array of codes, NDJSON answers). A line that is not the
/// form of a code is reported malformed here, without asking: no line of the file can make a
/// whole request fail. A request that still fails is an error naming its codes.
async fn fetch_from_server(
    ask: &ServerAsk,
    first: usize,
    codes: &[String],
    pb: &ProgressBar,
) -> anyhow::Result<Vec<AuditLine>> {
    let mut out: Vec<Option<AuditLine>> = Vec::with_capacity(codes.len());
    let mut asked: Vec<(usize, String)> = Vec::with_capacity(codes.len());
    for (i, code) in codes.iter().enumerate() {
        if proofmark_schemas::validate::is_valid_code(code) {
            out.push(None);
            asked.push((i, code.clone()));
        } else {
            out.push(Some(malformed(code.clone())));
            pb.inc(1);
        }
    }
    let chunks: Vec<Vec<(usize, String)>> = asked
        .chunks(ask.request_codes.max(1))
        .map(<[(usize, String)]>::to_vec)
        .collect();
    // Each request (and the parsing of its answer) is a task of its own, so
    // the runtime's workers share them.
    // Each answer line with the position of its code in the window.
    type Answered = anyhow::Result<Vec<(usize, AuditLine)>>;
    let answers: Vec<Result<Answered, tokio::task::JoinError>> = stream::iter(chunks)
        .map(|chunk| {
            let (ask, pb) = (ask.clone(), pb.clone());
            tokio::spawn(async move {
                let (Some((a, first_code)), Some((b, last_code))) = (chunk.first(), chunk.last())
                else {
                    return Ok(Vec::new());
                };
                let which = format!(
                    "POST {} (the file's codes {} to {}: {first_code} to {last_code})",
                    ask.url,
                    first + a + 1,
                    first + b + 1
                );
                let names: Vec<&str> = chunk.iter().map(|(_, c)| c.as_str()).collect();
                let body = serde_json::to_vec(&names)?;
                let text = post_audit(&ask, body).await.context(which.clone())?;
                let lines: Vec<AuditLine> = text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| {
                        parse_audit_line(l).unwrap_or_else(|e| {
                            AuditLine::NoReport(String::new(), CodeStatus::Error, e)
                        })
                    })
                    .collect();
                if lines.len() != chunk.len() {
                    anyhow::bail!("{which}: {} lines for {} codes", lines.len(), chunk.len());
                }
                pb.inc(chunk.len() as u64);
                Ok(chunk
                    .into_iter()
                    .zip(lines)
                    .map(|((i, asked), line)| (i, answer_for(&asked, line)))
                    .collect())
            })
        })
        .buffered(ask.concurrency.max(1))
        .collect()
        .await;
    for a in answers {
        for (i, line) in a.context("the request task failed")?? {
            out[i] = Some(line);
        }
    }
    out.into_iter()
        .map(|line| line.context("a code of the window got no answer"))
        .collect()
}

/// One `POST /v1/audit` of `body`: the answer's text, after up to [`SERVER_ATTEMPTS`]
/// attempts when the server cannot be reached or answers that it is busy or failing.
async fn post_audit(ask: &ServerAsk, body: Vec<u8>) -> anyhow::Result<String> {
    let mut attempt = 1;
    loop {
        let sent = ask
            .client
            .post(&ask.url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await;
        let retry = match sent {
            Ok(mut res) => {
                let status = res.status();
                let mut body = Vec::new();
                while let Some(chunk) = res.chunk().await.map_err(|e| timed(e, ask.timeout_secs))? {
                    if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                        anyhow::bail!(
                            "the answer is over {} MiB: not an answer to this request",
                            MAX_ANSWER_BYTES >> 20
                        );
                    }
                    body.extend_from_slice(&chunk);
                }
                if status.is_success() {
                    return String::from_utf8(body).context("the answer is not UTF-8");
                }
                if status.is_redirection() {
                    let to = res
                        .headers()
                        .get(reqwest::header::LOCATION)
                        .and_then(|l| l.to_str().ok())
                        .unwrap_or("nowhere named");
                    anyhow::bail!("{status}: a redirect to {to}, not followed: give that URL");
                }
                let busy = matches!(status.as_u16(), 429 | 502 | 503 | 504);
                let text = String::from_utf8_lossy(&body[..body.len().min(QUOTED_BYTES)])
                    .trim()
                    .to_owned();
                let e = anyhow::anyhow!("{status}: {text}");
                if !busy || attempt == SERVER_ATTEMPTS {
                    return Err(e);
                }
                e
            }
            Err(e) if e.is_connect() && attempt < SERVER_ATTEMPTS => anyhow::Error::new(e),
            Err(e) => return Err(timed(e, ask.timeout_secs)),
        };
        tracing::warn!(
            url = %ask.url,
            attempt,
            error = %format!("{retry:#}"),
            "the audit request failed: trying again"
        );
        tokio::time::sleep(std::time::Duration::from_secs(1 << (attempt - 1))).await;
        attempt += 1;
    }
}

/// A request's error, saying so when it is the timeout that ended it.
fn timed(e: reqwest::Error, timeout_secs: u64) -> anyhow::Error {
    if e.is_timeout() {
        anyhow::Error::new(e).context(format!(
            "no whole answer within {timeout_secs} s (--request-timeout-secs)"
        ))
    } else {
        anyhow::Error::new(e)
    }
}

/// Reads the reports of `codes` from a store and its code index, in order.
/// Each lookup is a task of its own, so the runtime's workers share them
/// (polled as one stream, they would all run on the calling thread).
async fn fetch_from_store(
    lookup: &Lookup,
    codes: &[String],
    concurrency: usize,
    pb: &ProgressBar,
) -> Vec<AuditLine> {
    let lines: Vec<Result<AuditLine, tokio::task::JoinError>> = stream::iter(codes.iter().cloned())
        .map(|code| {
            let (lookup, pb) = (lookup.clone(), pb.clone());
            tokio::spawn(async move {
                let line = match lookup.report(&code).await {
                    Ok(Some(r)) => AuditLine::Report(Box::new(r)),
                    Ok(None) => {
                        AuditLine::NoReport(code, CodeStatus::Unknown, UNKNOWN_CODE_REASON.into())
                    }
                    Err(proofmark_verifier::VerifierError::MalformedCode(_)) => malformed(code),
                    Err(e) => AuditLine::NoReport(code, CodeStatus::Error, e.to_string()),
                };
                pb.inc(1);
                line
            })
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    lines
        .into_iter()
        .zip(codes)
        .map(|(line, code)| {
            line.unwrap_or_else(|e| {
                AuditLine::NoReport(
                    code.clone(),
                    CodeStatus::Error,
                    format!("the lookup failed: {e}"),
                )
            })
        })
        .collect()
}

/// Fetches the windows of codes in turn (`fetch`, on the runtime, given the position of the
/// window's first code in the file and its codes) and hands each to `verify`
/// with the seconds its fetch took; the next window is read and fetched while the current one
/// is verified, so the lookups' waits and the verification's serial parts overlap (two
/// windows in memory at most). The first error, of a window read, fetched or verified, ends
/// the audit.
fn fetch_ahead<Fut>(
    rt: &tokio::runtime::Runtime,
    mut windows: impl Iterator<Item = anyhow::Result<Vec<String>>>,
    fetch: impl Fn(usize, Vec<String>) -> Fut,
    mut verify: impl FnMut(Vec<AuditLine>, f64) -> anyhow::Result<()>,
) -> anyhow::Result<()>
where
    Fut: Future<Output = anyhow::Result<Vec<AuditLine>>> + Send + 'static,
{
    let mut first = 0;
    let mut spawn = |window: Vec<String>| {
        let fetching = fetch(first, window);
        first += AUDIT_WINDOW_CODES;
        rt.spawn(async move {
            let started = Instant::now();
            let window = fetching.await?;
            anyhow::Ok((window, started.elapsed().as_secs_f64()))
        })
    };
    let mut next = windows.next().transpose()?.map(&mut spawn);
    while let Some(fetching) = next.take() {
        let (window, secs) = rt.block_on(fetching).context("the lookup task failed")??;
        next = windows.next().transpose()?.map(&mut spawn);
        verify(window, secs)?;
    }
    Ok(())
}

/// Reads a file of reports (one JSON code report a line) a window at a time (at most
/// [`AUDIT_WINDOW_CODES`] reports, and ending once it holds `window_bytes` of text), the lines
/// of a window parsed in parallel, and hands each window to `emit` with the seconds it took to read
/// and parse, until the file ends or `emit` returns false. A line that does not parse is an
/// error row naming its code or its line; a line that is not UTF-8, or a read that fails,
/// ends the reading with an error.
fn read_report_windows(
    reader: impl BufRead,
    window_bytes: usize,
    pb: &ProgressBar,
    mut emit: impl FnMut((Vec<AuditLine>, f64)) -> bool,
) -> anyhow::Result<()> {
    use rayon::prelude::*;
    let parse = |(i, line): (usize, String)| {
        let place = || format!("line {}", i + 1);
        match parse_audit_line(&line) {
            Ok(AuditLine::NoReport(code, status, why)) if code.is_empty() => {
                AuditLine::NoReport(place(), status, why)
            }
            Ok(parsed) => parsed,
            Err(e) => AuditLine::NoReport(place(), CodeStatus::Error, e),
        }
    };
    // A window of lines parsed, with the seconds since `started`.
    let window = |lines: &mut Vec<(usize, String)>, started: Instant| {
        let parsed: Vec<AuditLine> = std::mem::take(lines)
            .into_par_iter()
            .with_min_len(16)
            .map(parse)
            .collect();
        (parsed, started.elapsed().as_secs_f64())
    };
    let mut lines: Vec<(usize, String)> = Vec::with_capacity(AUDIT_WINDOW_CODES);
    let mut bytes = 0usize;
    let mut started = Instant::now();
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line.with_context(|| format!("line {}", i + 1))?;
        pb.inc(line.len() as u64 + 1);
        let text = text_line(i, &line)?;
        let text = text.strip_suffix('\r').unwrap_or(text);
        if !text.trim().is_empty() {
            bytes += text.len();
            lines.push((i, text.to_owned()));
        }
        // A window of reports of large lots ends by its size, not its count.
        if lines.len() == AUDIT_WINDOW_CODES || bytes >= window_bytes {
            if !emit(window(&mut lines, started)) {
                return Ok(());
            }
            bytes = 0;
            started = Instant::now();
        }
    }
    if !lines.is_empty() {
        emit(window(&mut lines, started));
    }
    Ok(())
}

fn run_codes(args: AuditCodesArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    crate::alloc::keep_freed_memory();
    match codes_inner(&args, global) {
        Ok(code) => Ok(code),
        Err(e) => {
            errln!("error: {}", crate::exit::message(&e));
            Ok(ExitCode::from(exit::classify(&e).code()))
        }
    }
}

fn codes_inner(args: &AuditCodesArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if args.format == OutputFormat::Parquet && args.output.is_none() {
        return Err(anyhow::Error::msg(Classified(
            ExitClass::Input,
            "--format parquet needs --output FILE",
        )));
    }
    // The arguments, before any work: a source of reports, folders that exist.
    if !args.reports && args.server.is_none() && args.store.is_none() {
        return Err(exit::input_error(anyhow::anyhow!(
            "audit codes needs a source of reports: give --server URL, --store URL --index \
             DIR, or --reports (FILE then holds the reports)"
        )));
    }
    if let Some(path) = &args.output {
        check_output_folder(path)?;
    }
    let store = match (&args.store, &args.index) {
        (Some(url), Some(index)) => {
            let store = Store::from_url(url)
                .with_context(|| format!("store {url}"))
                .map_err(exit::input_error)?;
            if let Some(root) = store.local_root()
                && !root.is_dir()
            {
                return Err(exit::input_error(anyhow::anyhow!(
                    "store {url}: no such folder"
                )));
            }
            if !index.is_dir() {
                return Err(exit::input_error(anyhow::anyhow!(
                    "code index {}: no such folder",
                    index.display()
                )));
            }
            Some((store, index))
        }
        _ => None,
    };
    let mut trust = Trust::new().with_require_anchor(!args.no_anchor_required);
    for key in parse_ledger_keys(&args.ledger_keys)? {
        trust = trust.with_ledger_key(key);
    }
    // The codes file, read through before any work (a pipe is read as the audit goes).
    let codes = if args.reports {
        None
    } else {
        Some(open_codes(&args.file)?)
    };
    let format = match args.format {
        OutputFormat::Csv => RowFormat::Csv,
        OutputFormat::Json => RowFormat::Json,
        OutputFormat::Parquet => RowFormat::Parquet,
    };
    // The rows are written as each window is verified, into an unnamed temporary file (of
    // which a killed run leaves nothing): beside the output file when there is one, so the
    // disk that takes the output takes them, else in the temporary folder. Only once the
    // audit is done are they copied to the output (through a temporary file renamed into
    // place) or to standard output: memory does not grow with the list, and a run that
    // fails leaves no file (nor an earlier run's file changed) and writes no row, also to a
    // pipe or a device given as --output.
    let spool_dir = args
        .output
        .as_deref()
        .filter(|p| !is_stream(p))
        .map(|path| {
            path.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."))
        });
    let spool_place = spool_dir.map_or_else(
        || "the temporary folder (TMPDIR)".to_owned(),
        |dir| dir.display().to_string(),
    );
    let spooling = || format!("writing the rows to a temporary file in {spool_place}");
    let mut spool = match spool_dir {
        Some(dir) => tempfile::tempfile_in(dir),
        None => tempfile::tempfile(),
    }
    .with_context(spooling)?;
    let audited = {
        let mut out = BufWriter::new(&mut spool);
        let mut rows = RowWriter::new(format, &mut out).with_context(spooling)?;
        let audited = audit_windows(args, global, store, codes, &trust, &mut |window| {
            rows.write(window).with_context(spooling)
        })?;
        rows.finish().with_context(spooling)?;
        audited
    };
    spool.rewind().with_context(spooling)?;
    match &args.output {
        Some(path) => write_atomically_with(path, |out| std::io::copy(&mut spool, out))
            .with_context(|| format!("writing {}", path.display()))?,
        None => std::io::copy(&mut spool, &mut std::io::stdout().lock())
            .context("writing the rows to standard output")?,
    };

    let Audited {
        counts,
        records,
        fetch_secs,
        verify_secs,
    } = audited;
    if !global.quiet {
        let got = if args.reports { "read" } else { "fetched" };
        let RowCounts {
            verified,
            not_verified,
            unknown,
            malformed,
            error,
        } = counts;
        errln!(
            "{} codes: {verified} verified, {not_verified} not verified, {unknown} unknown, \
             {malformed} malformed, {error} errors; \
             {records} records verified in {verify_secs:.3} s ({:.0} records/s), {got} in \
             {fetch_secs:.3} s (a window {got} while the one before is verified); {:.3} s in \
             all",
            counts.total(),
            records as f64 / verify_secs.max(1e-9),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(ExitCode::from(if counts.error > 0 {
        EXIT_ERROR
    } else if counts.not_verified > 0 || counts.unknown > 0 || counts.malformed > 0 {
        EXIT_NOT_VERIFIED
    } else {
        0
    }))
}

/// What a code audit did: its rows counted by status, the records verified, and the
/// seconds spent fetching (or reading) the reports and verifying them.
struct Audited {
    counts: RowCounts,
    records: usize,
    fetch_secs: f64,
    verify_secs: f64,
}

/// Audits the codes (or, with `--reports`, the reports) a window at a time, handing each
/// window's rows to `emit` in the order of the file.
fn audit_windows(
    args: &AuditCodesArgs,
    global: &GlobalArgs,
    store: Option<(Store, &PathBuf)>,
    codes: Option<(File, Option<u64>)>,
    trust: &Trust,
    emit: &mut dyn FnMut(&[CodeAuditRow]) -> anyhow::Result<()>,
) -> anyhow::Result<Audited> {
    let mut audited = Audited {
        counts: RowCounts::default(),
        records: 0,
        fetch_secs: 0.0,
        verify_secs: 0.0,
    };
    // Verified a window at a time, so memory holds two windows' reports whatever the
    // number of codes; each window's rows are written and dropped.
    let mut verify = |window: Vec<AuditLine>, fetched_secs: f64| {
        audited.fetch_secs += fetched_secs;
        audited.records += window
            .iter()
            .map(|l| match l {
                AuditLine::Report(r) => r.records.len(),
                AuditLine::NoReport(..) => 0,
            })
            .sum::<usize>();
        let started = Instant::now();
        let rows = audit_lines(window, trust);
        audited.verify_secs += started.elapsed().as_secs_f64();
        audited.counts.add(&rows);
        emit(&rows)
    };
    let Some((codes, count)) = codes else {
        let f = open_input(&args.file)?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let pb = bar(global, len, "bytes of reports audited");
        // Read and parsed on a thread of its own, a window ahead of the verification.
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(0);
            let (file, pb) = (&args.file, &pb);
            scope.spawn(move || {
                let read =
                    read_report_windows(BufReader::new(f), AUDIT_WINDOW_BYTES, pb, |window| {
                        tx.send(Ok(window)).is_ok()
                    });
                if let Err(e) = read {
                    let _ = tx.send(Err(e.context(format!("reading {}", file.display()))));
                }
            });
            for window in rx {
                let (window, secs) = window?;
                verify(window, secs)?;
            }
            anyhow::Ok(())
        })?;
        pb.finish_and_clear();
        if audited.counts.total() == 0 {
            // As for a codes file: an audit of nothing would pass.
            return Err(anyhow::anyhow!(
                "{} holds no report (one JSON code report a line; empty lines are skipped)",
                args.file.display()
            )
            .context(Classified(ExitClass::Input, "the reports file")));
        }
        return Ok(audited);
    };
    let rt = runtime()?;
    let pb = bar(global, count.unwrap_or(0), "codes audited");
    if count.is_none() {
        pb.unset_length();
    }
    let windows = code_windows(codes, &args.file);
    if let Some(server) = &args.server {
        let client = reqwest::Client::builder()
            // The codes go to the server named, never to one it redirects to.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(args.request_timeout_secs))
            .build()
            .context("starting the HTTP client")?;
        let ask = ServerAsk {
            client,
            url: format!("{}/v1/audit", server.trim_end_matches('/')),
            request_codes: args.request_codes,
            concurrency: args.concurrency,
            timeout_secs: args.request_timeout_secs,
        };
        let fetch = |first: usize, window: Vec<String>| {
            let (ask, pb) = (ask.clone(), pb.clone());
            async move { fetch_from_server(&ask, first, &window, &pb).await }
        };
        fetch_ahead(&rt, windows, fetch, verify)?;
    } else if let Some((store, index)) = store {
        let lookup = Lookup::open(store, index)
            .with_context(|| format!("code index {}", index.display()))?
            .with_max_lot_records(args.max_lot_records);
        let concurrency = args.concurrency;
        let fetch = |_first: usize, window: Vec<String>| {
            let (lookup, pb) = (lookup.clone(), pb.clone());
            async move { Ok(fetch_from_store(&lookup, &window, concurrency, &pb).await) }
        };
        fetch_ahead(&rt, windows, fetch, verify)?;
    } else {
        // Checked before any work.
        anyhow::bail!("give --server URL, --store URL --index DIR, or --reports");
    }
    pb.finish_and_clear();
    if audited.counts.total() == 0 {
        // A piped codes file, not read through before the audit.
        return Err(no_code(&args.file));
    }
    Ok(audited)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn report_for(code: &str) -> AuditLine {
        let line = serde_json::json!({
            "format": "proofmark-code/1", "code": code, "subjects": [], "records": [],
            "batches": {},
        });
        parse_audit_line(&line.to_string()).unwrap()
    }

    fn all_codes(reader: impl BufRead) -> anyhow::Result<Vec<String>> {
        codes_of(reader).collect()
    }

    #[test]
    fn a_codes_file_from_a_spreadsheet_reads_like_a_plain_one() {
        let text =
            b"\xEF\xBB\xBF97837978498369312371\r\n\n  # a comment\n  04920890630860992559 \r\n";
        assert_eq!(
            all_codes(&text[..]).unwrap(),
            ["97837978498369312371", "04920890630860992559"]
        );
        // A quoted code, as a spreadsheet's CSV export writes a text cell, is the code;
        // a quote inside is left for the code check to refuse.
        assert_eq!(
            all_codes(&b"\"04920890630860992559\"\r\n\"a\"\"b\"\n\"\n"[..]).unwrap(),
            ["04920890630860992559", "\"a\"\"b\"", "\""]
        );
        // A byte order mark is skipped at the start of the file only.
        let later = all_codes(&b"aaaaaa\n\xEF\xBB\xBFbbbbbb\n"[..]).unwrap();
        assert_eq!(later, ["aaaaaa", "\u{feff}bbbbbb"]);
        // The same for a file of reports (`--reports`).
        assert_eq!(
            text_line(0, b"\xEF\xBB\xBF{\"format\"").unwrap(),
            "{\"format\""
        );
        assert_eq!(text_line(1, b"\xEF\xBB\xBF{").unwrap(), "\u{feff}{");
        let err = all_codes(&b"aaaaaa\nbb\xFFbbbb\n"[..]).unwrap_err();
        assert!(err.to_string().contains("line 2 is not UTF-8"), "{err}");
    }

    /// The places of a window's lines (all error rows here: the lines are no reports).
    fn places(window: &[AuditLine]) -> Vec<String> {
        window
            .iter()
            .map(|l| match l {
                AuditLine::NoReport(place, CodeStatus::Error, _) => place.clone(),
                other => panic!("not an error row: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_reports_file_is_read_in_windows_in_order_until_it_ends_or_fails() {
        let pb = ProgressBar::hidden();
        // A window and 10 lines more, with a blank line (skipped) and a CRLF line among them.
        let mut text = String::new();
        for i in 0..AUDIT_WINDOW_CODES + 10 {
            text.push_str(if i == 5 { "\n" } else { "no report\r\n" });
        }
        text.push_str("no report");
        let mut windows = Vec::new();
        read_report_windows(text.as_bytes(), AUDIT_WINDOW_BYTES, &pb, |(w, _)| {
            windows.push(places(&w));
            true
        })
        .unwrap();
        assert_eq!(
            windows.iter().map(Vec::len).collect::<Vec<_>>(),
            [AUDIT_WINDOW_CODES, 10]
        );
        let all: Vec<String> = windows.concat();
        assert_eq!(all[4..6], ["line 5", "line 7"]);
        assert_eq!(
            all.last().unwrap(),
            &format!("line {}", AUDIT_WINDOW_CODES + 11)
        );
        // Large reports end a window by its size: 9 bytes a line, 20 at most, 3 lines a window
        // (the last, cut short, alone).
        let mut sizes = Vec::new();
        read_report_windows(&text.as_bytes()[..105], 20, &pb, |(w, _)| {
            sizes.push(w.len());
            true
        })
        .unwrap();
        assert_eq!(sizes, [3, 3, 3, 1], "{sizes:?}");
        // A receiver that is gone stops the reading after the window it refused.
        let mut seen = 0;
        read_report_windows(text.as_bytes(), AUDIT_WINDOW_BYTES, &pb, |_| {
            seen += 1;
            false
        })
        .unwrap();
        assert_eq!(seen, 1);
        // A line that is not UTF-8 ends the reading with an error naming it, after the
        // windows before it.
        let mut bad = text.into_bytes();
        bad.extend_from_slice(b"\nbad \xFF line\n");
        let mut seen = 0;
        let err = read_report_windows(&bad[..], AUDIT_WINDOW_BYTES, &pb, |_| {
            seen += 1;
            true
        })
        .unwrap_err();
        assert_eq!(seen, 1);
        assert!(
            err.to_string()
                .contains(&format!("line {} is not UTF-8", AUDIT_WINDOW_CODES + 12)),
            "{err}"
        );
    }

    #[test]
    fn an_answer_about_another_code_is_an_error_of_the_code_asked() {
        let asked = "01234567890123456789";
        assert!(matches!(
            answer_for(asked, report_for(asked)),
            AuditLine::Report(_)
        ));
        match answer_for(asked, report_for("98765432109876543210")) {
            AuditLine::NoReport(code, CodeStatus::Error, message) => {
                assert_eq!(code, asked);
                assert!(message.contains("98765432109876543210"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let unknown = AuditLine::NoReport(asked.into(), CodeStatus::Unknown, "no batch".into());
        assert!(matches!(
            answer_for(&format!(" {asked} "), unknown),
            AuditLine::NoReport(_, CodeStatus::Unknown, _)
        ));
        // A report whose code has white space around it is no report of the code asked.
        match answer_for(asked, report_for(&format!(" {asked} "))) {
            AuditLine::NoReport(code, CodeStatus::Error, message) => {
                assert_eq!(code, asked);
                assert!(message.contains(&format!("\" {asked} \"")), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // A code checked before asking that the server calls malformed: an error row, the
        // server disagreeing, not a malformed line.
        let called_malformed = parse_audit_line(&format!(
            "{{\"code\":\"{asked}\",\"error\":{{\"code\":\"malformed_code\"}}}}"
        ))
        .unwrap();
        assert!(matches!(
            called_malformed,
            AuditLine::NoReport(_, CodeStatus::Malformed, _)
        ));
        match answer_for(asked, called_malformed) {
            AuditLine::NoReport(code, CodeStatus::Error, message) => {
                assert_eq!(code, asked);
                assert!(message.contains("the server disagrees"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // A line that did not parse keeps its reason, under the code it answers.
        let bad = AuditLine::NoReport(String::new(), CodeStatus::Error, "not JSON".into());
        match answer_for(asked, bad) {
            AuditLine::NoReport(code, CodeStatus::Error, message) => {
                assert_eq!((code.as_str(), message.as_str()), (asked, "not JSON"));
            }
            other => panic!("{other:?}"),
        }
    }
}
