//! `proofmark`: the command-line entry point.
//!
//! The binary only composes the library crates and decides policy: it parses
//! arguments, validates them into a configuration, runs the work and maps the
//! outcome to an exit code (see [`exit`]: 0 ok, 1 not verified / not found,
//! 2 internal, 3 input, 4 chain, 5 locked).

/// `println!` that ignores a closed or failing stdout (`| head`, a log collector that
/// went away): what a command prints is for people, and losing it must not stop a job
/// midway (the standard macro panics).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `print!` that ignores a closed or failing stdout, like [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let _ = write!(stdout, $($arg)*).and_then(|()| stdout.flush());
    }};
}

/// A message for people on stderr, like `eprintln!` but ignoring a closed or failing
/// stderr (see [`outln!`]); with `--log-format json` it is a log event instead
/// ([`cmd::MESSAGE_TARGET`]), so that stderr stays one JSON object per line.
macro_rules! errln {
    ($($arg:tt)*) => {{
        $crate::message(format_args!($($arg)*));
    }};
}

/// Writes a message for people to stderr, or logs it in JSON mode ([`errln!`]).
fn message(args: std::fmt::Arguments<'_>) {
    if cmd::json_logs() {
        tracing::info!(target: cmd::MESSAGE_TARGET, "{args}");
    } else {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), "{args}");
    }
}

mod alloc;
mod cmd;
mod exit;
mod lock;
mod output;
mod rlimit;

use std::process::ExitCode;

use clap::Parser as _;

#[global_allocator]
static GLOBAL: alloc::Allocator = alloc::Allocator;

/// Caps glibc's malloc arenas at the core count (glibc's default is eight per core), unless
/// `MALLOC_ARENA_MAX` is set. Buffers allocated on Tokio's blocking threads and freed on
/// rayon's left a fragmented arena per thread: the pipeline's peak RSS at 10 M records
/// fell from 349-364 MiB to 185-188 MiB with two arenas, at the same throughput, and the
/// 100 M-record commit from 397 to 231 MiB (docs/decisions/0010-malloc-arenas.md).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` only sets a parameter of glibc's allocator; it is called first
    // thing in `main`, before this process starts any other thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn main() -> ExitCode {
    if alloc::is_system() {
        limit_malloc_arenas();
    }
    let cli = match cmd::Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print and succeed; a bad flag or value is the caller's to
        // fix, an input error (exit 3), not clap's default 2 (internal, retried).
        Err(err) => {
            let code = if err.use_stderr() {
                exit::ExitClass::Input.code()
            } else {
                0
            };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    cmd::init_logging(&cli.global);
    tracing::debug!(allocator = alloc::name(), "memory allocator");
    if let Some(threads) = cli.global.threads
        && let Err(err) = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
    {
        errln!("error: cannot set up {threads} worker threads: {err}");
        return ExitCode::from(2);
    }
    // A panic is a bug: exit 2 (internal) with an error line like every other failure, not
    // Rust's 101, which the documented exit codes and the systemd unit do not know.
    let result = std::panic::catch_unwind(|| cmd::run(cli))
        .unwrap_or_else(|payload| Err(exit::panicked(payload.as_ref())));
    match result {
        Ok(code) => code,
        Err(err) => {
            let class = exit::classify(&err);
            if cmd::json_logs() {
                let batch_id = err.downcast_ref::<exit::BatchScope>().map(|b| b.0.as_str());
                tracing::error!(
                    target: cmd::MESSAGE_TARGET,
                    class = class.name(),
                    exit_code = class.code(),
                    batch_id,
                    "{}",
                    exit::message(&err)
                );
            } else {
                errln!("error: {}", exit::message(&err));
            }
            ExitCode::from(class.code())
        }
    }
}
