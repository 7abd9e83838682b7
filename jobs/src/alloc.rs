//! The process's memory allocator, chosen by subcommand before the first allocation.
//!
//! `proofmark serve` and `proofmark audit codes` allocate with mimalloc; every other
//! subcommand with the system's allocator (glibc's, its arenas capped by `main`). Measured in
//! the same runs (docs/decisions/0015-allocator-per-subcommand.md, 0018): mimalloc serves 18
//! to 20% more `/v1/codes/{code}` requests a second than glibc, whose arena locks the Tokio
//! workers contend on, and the code audit's many small blocks (reports parsed into JSON
//! values) cost it less; in the batch pipeline it doubles the peak RSS and slows the commit,
//! whose large buffers it takes fresh from the kernel each time.
//!
//! The choice is made once per process and never changes, so every block is freed by the
//! allocator that made it. On Linux with glibc, a constructor in `.init_array` (which glibc
//! calls with `main`'s arguments, before any Rust code allocates) reads the subcommand; the
//! first allocation fixes the system allocator if nothing chose before it. Elsewhere every
//! subcommand uses the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering};

const UNDECIDED: u8 = 0;
const SYSTEM: u8 = 1;
const MIMALLOC: u8 = 2;

/// The allocator of this process: `UNDECIDED` until chosen, then `SYSTEM` or `MIMALLOC` for
/// good.
static MODE: AtomicU8 = AtomicU8::new(UNDECIDED);

/// The commands that allocate with mimalloc, as the words that name them: the service, and
/// the code audit (many small blocks: reports parsed into JSON values, then verified).
const MIMALLOC_COMMANDS: &[&[&[u8]]] = &[&[b"serve"], &[b"audit", b"codes"]];

/// The global options that take a value (`--name value`), skipped when looking for the
/// subcommand.
const OPTIONS_WITH_VALUE: &[&[u8]] = &[b"--threads", b"--log-format"];

/// The allocator of the process, the system's unless [`MIMALLOC_COMMANDS`] named it.
pub struct Allocator;

/// The allocator chosen, fixing the system's if none was chosen yet.
#[inline]
fn mode() -> u8 {
    let mode = MODE.load(Ordering::Relaxed);
    if mode != UNDECIDED {
        return mode;
    }
    match MODE.compare_exchange(UNDECIDED, SYSTEM, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => SYSTEM,
        Err(chosen) => chosen,
    }
}

/// The allocator's name, for the logs: `mimalloc` or `system`.
pub fn name() -> &'static str {
    if mode() == MIMALLOC {
        "mimalloc"
    } else {
        "system"
    }
}

/// Whether the process runs with the system allocator (whose arenas `main` caps).
pub fn is_system() -> bool {
    mode() == SYSTEM
}

/// The subcommand of an argument list without the program name: the first argument that is
/// neither an option nor the value of a global option that takes one.
fn subcommand<'a>(args: &mut impl Iterator<Item = &'a [u8]>) -> Option<&'a [u8]> {
    while let Some(arg) = args.next() {
        if OPTIONS_WITH_VALUE.contains(&arg) {
            args.next();
        } else if !arg.starts_with(b"-") {
            return Some(arg);
        }
    }
    None
}

/// The first two words of the command an argument list (without the program name) runs:
/// its subcommand, and the next argument after it that is no option (the subcommand's own
/// subcommand, if it has one; global options may come between them).
fn command_words<'a>(args: impl IntoIterator<Item = &'a [u8]>) -> [Option<&'a [u8]>; 2] {
    let mut args = args.into_iter();
    let first = subcommand(&mut args);
    let second = first.and_then(|_| subcommand(&mut args));
    [first, second]
}

/// Whether an argument list (without the program name) runs a command that allocates with
/// mimalloc.
fn wants_mimalloc<'a>(args: impl IntoIterator<Item = &'a [u8]>) -> bool {
    let words = command_words(args);
    MIMALLOC_COMMANDS.iter().any(|command| {
        command
            .iter()
            .zip(&words)
            .all(|(want, got)| *got == Some(*want))
    })
}

/// mimalloc's option `mi_option_purge_delay` (its place in `mi_option_e` of mimalloc.h,
/// which the Rust bindings do not name).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// With mimalloc, keeps the memory the process frees for its own later allocations
/// instead of returning it to the kernel a second after (mimalloc's purge delay, unless
/// `MIMALLOC_PURGE_DELAY` sets it). For `audit codes`, which frees each window's reports and
/// then allocates as many again: each purged page came back zeroed by a page fault, up to
/// a third of the command's CPU (docs/decisions/0021-audit-keeps-freed-memory.md). The
/// peak resident size stays that of one window's reports.
///
/// Call it before the command starts work on other threads.
#[allow(unsafe_code)]
pub fn keep_freed_memory() {
    if mode() != MIMALLOC || purge_delay_set_by_environment() {
        return;
    }
    // SAFETY: `mi_option_set` stores an option's value, which mimalloc reads when it next
    // considers purging; it is called before the command's work starts on other threads,
    // so no other thread is freeing memory (and reading the option) meanwhile.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

/// Whether the environment sets mimalloc's purge delay: mimalloc reads
/// `MIMALLOC_PURGE_DELAY`, or its former name `MIMALLOC_RESET_DELAY`, in any case.
fn purge_delay_set_by_environment() -> bool {
    std::env::vars_os().any(|(name, _)| {
        name.to_str().is_some_and(|n| {
            n.eq_ignore_ascii_case("MIMALLOC_PURGE_DELAY")
                || n.eq_ignore_ascii_case("MIMALLOC_RESET_DELAY")
        })
    })
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod choose {
    use std::ffi::{CStr, c_char, c_int};
    use std::sync::atomic::Ordering;

    use super::{MIMALLOC, MODE, UNDECIDED, wants_mimalloc};

    /// Called by glibc before `main` with `main`'s arguments, as it calls every function of
    /// `.init_array` (the standard library reads its arguments the same way).
    #[used]
    #[unsafe(link_section = ".init_array.00200")]
    static CHOOSE: extern "C" fn(c_int, *const *const c_char, *const *const c_char) = choose;

    extern "C" fn choose(argc: c_int, argv: *const *const c_char, _env: *const *const c_char) {
        if argv.is_null() {
            return;
        }
        let count = usize::try_from(argc).unwrap_or(0);
        // SAFETY: glibc passes `.init_array` functions the `argc` and `argv` it passes to
        // `main`: `argv` holds `argc` pointers to NUL-terminated strings, which live as
        // long as the process. Nothing here allocates.
        let args = (1..count).map(|i| unsafe { CStr::from_ptr(*argv.add(i)).to_bytes() });
        if wants_mimalloc(args) {
            // Only if no allocation came first: the choice never changes once made.
            let _ =
                MODE.compare_exchange(UNDECIDED, MIMALLOC, Ordering::Relaxed, Ordering::Relaxed);
        }
    }
}

// SAFETY: every call goes to the one allocator `mode()` fixed for the whole process, so a
// block is always resized and freed by the allocator that made it; both allocators uphold
// `GlobalAlloc`'s contract.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees, passed on.
        unsafe {
            if mode() == MIMALLOC {
                mimalloc::MiMalloc.alloc(layout)
            } else {
                System.alloc(layout)
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees, passed on.
        unsafe {
            if mode() == MIMALLOC {
                mimalloc::MiMalloc.alloc_zeroed(layout)
            } else {
                System.alloc_zeroed(layout)
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's guarantees, passed on; `ptr` came from the same allocator.
        unsafe {
            if mode() == MIMALLOC {
                mimalloc::MiMalloc.dealloc(ptr, layout)
            } else {
                System.dealloc(ptr, layout)
            }
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's guarantees, passed on; `ptr` came from the same allocator.
        unsafe {
            if mode() == MIMALLOC {
                mimalloc::MiMalloc.realloc(ptr, layout, new_size)
            } else {
                System.realloc(ptr, layout, new_size)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&'static str]) -> Vec<&'static [u8]> {
        list.iter().map(|a| a.as_bytes()).collect()
    }

    fn sub(list: &[&'static str]) -> Option<&'static [u8]> {
        subcommand(&mut args(list).into_iter())
    }

    #[test]
    fn the_subcommand_is_the_first_argument_that_is_no_option() {
        assert_eq!(sub(&["serve", "--store", "s"]), Some(&b"serve"[..]));
        assert_eq!(sub(&["-q", "serve"]), Some(&b"serve"[..]));
        assert_eq!(
            sub(&["--threads", "2", "--log-format", "json", "build"]),
            Some(&b"build"[..])
        );
        assert_eq!(sub(&["--threads=2", "audit", "serve"]), Some(&b"audit"[..]));
        assert_eq!(sub(&["--help"]), None);
        assert_eq!(sub(&[]), None);
    }

    #[test]
    fn the_code_audit_allocates_with_mimalloc() {
        assert!(wants_mimalloc(args(&["audit", "codes", "f.txt"])));
        assert!(wants_mimalloc(args(&[
            "-q", "audit", "codes", "--store", "s"
        ])));
        assert!(!wants_mimalloc(args(&["audit", "batch", "codes"])));
        assert!(wants_mimalloc(args(&["audit", "-q", "codes"])));
        assert!(!wants_mimalloc(args(&["audit"])));
        assert!(!wants_mimalloc(args(&["codes", "audit"])));
    }

    #[test]
    fn no_other_command_allocates_with_mimalloc() {
        assert!(wants_mimalloc(args(&["serve", "--index", "i"])));
        assert!(wants_mimalloc(args(&[
            "--log-format",
            "json",
            "-q",
            "serve"
        ])));
        // A value that reads like the subcommand is no subcommand.
        assert!(!wants_mimalloc(args(&["--log-format", "serve", "build"])));
        for other in [
            "run", "plan", "build", "commit", "publish", "audit", "bench",
        ] {
            assert!(!wants_mimalloc(args(&[other, "serve"])), "{other}");
        }
    }

    /// The options skipped with their values are exactly the CLI's global
    /// options that take a value.
    #[test]
    fn the_skipped_options_are_the_clis_global_options_with_values() {
        use clap::CommandFactory;
        let mut want: Vec<String> = crate::cmd::Cli::command()
            .get_arguments()
            .filter(|a| a.is_global_set() && a.get_action().takes_values())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        want.sort();
        let mut got: Vec<String> = OPTIONS_WITH_VALUE
            .iter()
            .map(|o| String::from_utf8_lossy(o).into_owned())
            .collect();
        got.sort();
        assert_eq!(got, want);
    }

    /// The option number is mimalloc's purge delay: its default (1,000 ms in mimalloc 3)
    /// comes back, and a value set comes back.
    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_option_is_mimallocs() {
        if purge_delay_set_by_environment() {
            return;
        }
        // SAFETY: reading and setting an option's value only.
        unsafe {
            assert_eq!(libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY), 1000);
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
            assert_eq!(libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY), -1);
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1000);
        }
    }

    #[test]
    fn the_choice_is_made_once() {
        let first = name();
        assert_ne!(MODE.load(Ordering::Relaxed), UNDECIDED);
        let v = vec![1u8; 1 << 20];
        assert_eq!(name(), first);
        assert_eq!(is_system(), first == "system");
        drop(v);
    }
}
