//! The children of `bench pipeline` (dataset generation and the measured stages), and the
//! SIGINT and SIGTERM that stop them.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, bail};
use proofmark_ingest::InputMode;

use super::{PipelineArgs, StageFigures};
use crate::cmd::GlobalArgs;

/// The signal that interrupted the run (`SIGINT` or `SIGTERM`), once one came.
static INTERRUPTED: OnceLock<&'static str> = OnceLock::new();

pub(super) fn interrupted() -> Option<&'static str> {
    INTERRUPTED.get().copied()
}

/// Fails naming the signal when one came (`when`: what the run was doing).
pub(super) fn check_interrupted(when: &str) -> anyhow::Result<()> {
    match interrupted() {
        Some(sig) => bail!("interrupted by {sig} {when}"),
        None => Ok(()),
    }
}

/// Catches SIGINT and SIGTERM from now on (on a thread of its own, with the
/// [`crate::cmd::shutdown_signal`] of `run` and `serve`), so that the run can stop its child and
/// clean up instead of dying with temporary files left behind. Only the first signal is
/// recorded; later ones are caught and ignored (the run is already stopping, and a removal
/// it is doing goes on to its end).
pub(super) fn catch_signals() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal thread's runtime")?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("bench-signals".into())
        .spawn(move || {
            rt.block_on(async move {
                let signal = crate::cmd::shutdown_signal();
                tokio::pin!(signal);
                // One poll installs the handlers: the run goes on only once they are in.
                let first =
                    std::future::poll_fn(|cx| std::task::Poll::Ready(signal.as_mut().poll(cx)))
                        .await;
                let _ = ready_tx.send(());
                let name = match first {
                    std::task::Poll::Ready(name) => name,
                    std::task::Poll::Pending => signal.await,
                };
                let _ = INTERRUPTED.set(name);
            });
        })
        .context("starting the signal thread")?;
    ready_rx.recv().context("the signal thread ended")
}

/// Runs `cmd` (a child of this binary) to its end, or until SIGINT or SIGTERM: then kills
/// it, removes the work folders of a commit it left, and fails naming the signal.
pub(super) fn run_child(mut cmd: Command, what: &str) -> anyhow::Result<()> {
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting the {what}"))?;
    loop {
        if let Some(sig) = interrupted() {
            let _ = child.kill();
            let _ = child.wait();
            proofmark_anchor::commit::remove_dead_work_dirs(&std::env::temp_dir());
            bail!("interrupted by {sig} during the {what}");
        }
        match child
            .try_wait()
            .with_context(|| format!("waiting for the {what}"))?
        {
            Some(status) if status.success() => return Ok(()),
            Some(status) => {
                // A Ctrl-C reaches the child too: tell that from a failure.
                std::thread::sleep(Duration::from_millis(200));
                if let Some(sig) = interrupted() {
                    proofmark_anchor::commit::remove_dead_work_dirs(&std::env::temp_dir());
                    bail!("interrupted by {sig} during the {what}");
                }
                bail!("the {what} failed ({status})");
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// This binary with `--quiet` and the run's `--threads`.
pub(super) fn child_command(global: &GlobalArgs) -> anyhow::Result<Command> {
    let exe = std::env::current_exe().context("finding this executable")?;
    let mut cmd = Command::new(exe);
    if let Some(t) = global.threads {
        cmd.arg("--threads").arg(t.to_string());
    }
    cmd.arg("--quiet");
    Ok(cmd)
}

/// Runs the `bench pipeline-stage` child for `stage` over `dataset` (and, for the pipeline,
/// into the store `pipeline` names, with its batch date) and reads the figures it wrote in
/// `work`; `suffix` is added to the progress line.
pub(super) fn child_stage(
    global: &GlobalArgs,
    stage: &str,
    dataset: &Path,
    pipeline: Option<(&Path, &str)>,
    args: &PipelineArgs,
    work: &Path,
    suffix: &str,
) -> anyhow::Result<StageFigures> {
    let out = work.join(format!("{stage}.json"));
    let mut cmd = child_command(global)?;
    cmd.args(["bench", "pipeline-stage", "--stage", stage, "--dataset"])
        .arg(dataset)
        .arg("--out")
        .arg(&out)
        .arg("--suite")
        .arg(args.suite.name())
        .arg("--input-mode")
        .arg(InputMode::from(args.input_mode).name());
    if let Some((store, date)) = pipeline {
        cmd.arg("--store").arg(store).arg("--batch-date").arg(date);
    }
    errln!("running stage {stage}{suffix}");
    run_child(cmd, &format!("{stage} stage"))?;
    let bytes = std::fs::read(&out).with_context(|| format!("reading {}", out.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("parsing the {stage} stage's figures in {}", out.display()))
}
