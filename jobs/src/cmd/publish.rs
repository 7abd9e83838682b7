//! `proofmark publish`: merge a committed, anchored batch's sorted index into
//! the verifier's global code index.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use proofmark_ingest::Store;

use super::GlobalArgs;

/// Arguments of `proofmark publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The committed and anchored batch to publish.
    #[arg(long, value_name = "ID", value_parser = super::parse_batch_id)]
    pub batch_id: String,
    /// The batch store: a folder or an object store URL (s3://, gs://, az://, file://).
    #[arg(long, value_name = "URL")]
    pub store: String,
    /// The code index folder (created on first use); `proofmark serve --index` reads it.
    #[arg(long, value_name = "DIR")]
    pub index: PathBuf,
}

/// Runs `proofmark publish`.
pub fn run_publish(args: PublishArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = Store::from_url(&args.store).with_context(|| format!("store {}", args.store))?;
    // Two workers: the publish reads and decodes several segments at once.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let started = std::time::Instant::now();
    let outcome = runtime
        .block_on(proofmark_verifier::publish(
            &store,
            &args.batch_id,
            &args.index,
        ))
        .with_context(|| format!("cannot publish batch {}", args.batch_id))?;
    let b = &outcome.batch;
    if outcome.published_now {
        outln!("batch      {} (published)", b.batch_id);
    } else {
        outln!(
            "batch      {} (already published on {}: nothing to do)",
            b.batch_id,
            b.published_at
        );
    }
    outln!("root       {}", b.root);
    outln!("entries    {}", b.entries);
    outln!("runs       {}", outcome.runs);
    if !global.quiet && outcome.published_now {
        errln!(
            "published {} index entries in {:.2?} ({} run merges)",
            b.entries,
            started.elapsed(),
            outcome.runs_merged
        );
    }
    Ok(ExitCode::SUCCESS)
}
