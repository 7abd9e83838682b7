//! `proofmark chain`: the anchor contract of an `evm` chain: deploy it,
//! grant and revoke anchoring rights, and show what it holds.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::exit::{Classified, ExitClass};
use proofmark_anchor::chain::{ChainConfig, ChainsFile};
use proofmark_anchor::evm::{Address, Confirmed, EvmClient, EvmConfig};

use super::GlobalArgs;

/// The `evm` chain a subcommand works on.
#[derive(Debug, clap::Args)]
pub struct ChainArgs {
    /// TOML file defining the chains (`[chains.NAME]` tables with `type = "evm"`),
    /// or a job file, whose `[chains.*]` tables are read.
    #[arg(long = "chains", value_name = "FILE")]
    pub chains_file: PathBuf,
    /// The chain's name in the chains file.
    #[arg(long = "chain", value_name = "NAME")]
    pub chain: String,
}

/// The anchor contract's subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ChainCommand {
    /// Deploy the anchor contract; the sending account (the chain's key)
    /// becomes its admin. Prints the contract address to set as `contract` in
    /// the chains file. With `contract` already set, this makes a second,
    /// separate contract (warned).
    Deploy(ChainArgs),
    /// Let ADDR anchor batches. Sent from the chain's key's account, which
    /// must be the contract's admin; nothing is sent if ADDR is a member.
    Grant {
        /// The chain.
        #[command(flatten)]
        chain: ChainArgs,
        /// The member's account, `0x` + 40 hex digits.
        #[arg(value_name = "ADDR")]
        address: String,
    },
    /// Stop ADDR from anchoring; its past anchors stay. Sent from the chain's
    /// key's account, which must be the contract's admin; nothing is sent if
    /// ADDR is not a member.
    Revoke {
        /// The chain.
        #[command(flatten)]
        chain: ChainArgs,
        /// The member's account, `0x` + 40 hex digits.
        #[arg(value_name = "ADDR")]
        address: String,
    },
    /// Show a batch's anchor as the contract holds it (JSON), or without
    /// --batch-id the contract's admin and the member's latest log checkpoint.
    /// Anchors are kept per member account: the member is --submitter, else
    /// the account of the chain's configured key.
    Show {
        /// The chain.
        #[command(flatten)]
        chain: ChainArgs,
        /// The batch to look up.
        #[arg(long, value_name = "ID")]
        batch_id: Option<String>,
        /// The member account that anchored, `0x` + 40 hex digits (default:
        /// the chain's configured key's account).
        #[arg(long, value_name = "ADDR")]
        submitter: Option<String>,
    },
}

fn evm_config(args: &ChainArgs) -> anyhow::Result<EvmConfig> {
    let chains = ChainsFile::load(&args.chains_file)?;
    match chains.get(&args.chain)? {
        ChainConfig::Evm(c) => Ok(c),
        _ => Err(anyhow::anyhow!(
            "chain {} is not of type \"evm\": `proofmark chain` manages anchor contracts",
            args.chain
        )
        .context(Classified(ExitClass::Input, "not an evm chain"))),
    }
}

/// An account address given on the command line (EIP-55 checked when mixed case): a bad
/// one is an input error.
fn parse_address(text: &str) -> anyhow::Result<Address> {
    super::verify::parse_address(text)
        .map_err(|e| e.context(Classified(ExitClass::Input, "invalid account address")))
}

/// Runs a `proofmark chain` subcommand.
pub fn run(cmd: ChainCommand, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(run_async(cmd))
}

async fn run_async(cmd: ChainCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ChainCommand::Deploy(args) => {
            let config = evm_config(&args)?;
            if let Some(existing) = &config.contract {
                errln!(
                    "warning: chain {} already names the contract {existing}: this deploys a \
                     second, separate one. Receipts made with {existing} stay checkable against \
                     it; batches already anchored there are not anchored on the new one, and \
                     rerunning their anchor after `contract` changes is refused \
                     (docs/chains.md, \"Moving to a new contract\").",
                    args.chain
                );
            }
            let key = config.load_key(&args.chain)?;
            let client = EvmClient::connect(&args.chain, &config, Some(key)).await?;
            let done = client.deploy().await?;
            let contract = done
                .mined
                .contract_address
                .context("the deployment created no contract")?;
            outln!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "chain": args.chain,
                    "chain_id": config.chain_id,
                    "contract": contract.to_string(),
                    "admin": client.account().map(|a| a.to_string()),
                    "tx_hash": done.mined.tx_hash.to_string(),
                    "block_number": done.mined.block_number,
                    "gas_used": done.mined.gas_used,
                    "confirmations": done.confirmations,
                }))?
            );
            errln!(
                "deployed; set `contract = \"{contract}\"` in [chains.{}] of {}",
                args.chain,
                args.chains_file.display()
            );
        }
        ChainCommand::Grant { chain, address } => membership(&chain, &address, true).await?,
        ChainCommand::Revoke { chain, address } => membership(&chain, &address, false).await?,
        ChainCommand::Show {
            chain,
            batch_id,
            submitter,
        } => return show(&chain, batch_id.as_deref(), submitter.as_deref()).await,
    }
    Ok(ExitCode::SUCCESS)
}

async fn membership(args: &ChainArgs, address: &str, grant: bool) -> anyhow::Result<()> {
    let member = parse_address(address)?;
    let config = evm_config(args)?;
    let key = config.load_key(&args.chain)?;
    let client = EvmClient::connect(&args.chain, &config, Some(key)).await?;
    client.check_contract().await?;
    // The answer: the account's membership now, and the transaction that changed it, if any.
    let answer = |is_member: bool, done: Option<&Confirmed>| -> anyhow::Result<String> {
        let mut v = serde_json::json!({
            "chain": args.chain,
            "contract": client.contract()?.to_string(),
            "account": member.to_string(),
            "member": is_member,
            "tx_hash": null,
        });
        if let Some(done) = done {
            v["tx_hash"] = done.mined.tx_hash.to_string().into();
            v["block_number"] = done.mined.block_number.into();
            v["confirmations"] = done.confirmations.into();
        }
        Ok(serde_json::to_string_pretty(&v)?)
    };
    if client.is_member(member).await? == grant {
        // Already so: no transaction (and no fee) for nothing.
        outln!("{}", answer(grant, None)?);
        errln!(
            "{member} {} on chain {}: nothing sent",
            if grant {
                "is already a member"
            } else {
                "is not a member"
            },
            args.chain
        );
        return Ok(());
    }
    let done = if grant {
        client.grant(member).await?
    } else {
        client.revoke(member).await?
    };
    let is_member = client.is_member(member).await?;
    outln!("{}", answer(is_member, Some(&done))?);
    errln!(
        "{member} {} anchor on chain {}",
        if is_member {
            "may now"
        } else {
            "may no longer"
        },
        args.chain
    );
    Ok(())
}

async fn show(
    args: &ChainArgs,
    batch_id: Option<&str>,
    submitter: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let config = evm_config(args)?;
    let submitter = match submitter {
        Some(text) => Some(parse_address(text)?),
        // The configured account's, when one is configured (a keystore's named address needs
        // no password): a key that is configured but cannot be loaded is an error, not "no
        // key".
        None => {
            // A keystore without a named address is decrypted: CPU work, off the runtime.
            let (config, chain) = (config.clone(), args.chain.clone());
            tokio::task::spawn_blocking(move || config.configured_address(&chain))
                .await
                .context("loading the key")??
        }
    };
    let client = EvmClient::connect(&args.chain, &config, None).await?;
    let contract = client.check_contract().await?;
    let latest = match submitter {
        Some(member) => {
            let (log_size, log_root) = client.latest_checkpoint(member).await?;
            serde_json::json!({
                "submitter": member.to_string(),
                "log_size": log_size,
                "log_root": hex::encode(log_root),
            })
        }
        None => serde_json::Value::Null,
    };
    let Some(batch_id) = batch_id else {
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "chain": args.chain,
                "chain_id": config.chain_id,
                "contract": contract.to_string(),
                "admin": client.admin().await?.to_string(),
                "latest_checkpoint": latest,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    };
    let Some(submitter) = submitter else {
        return Err(anyhow::anyhow!(
            "pass --submitter ADDR (the member account that anchored): the contract keeps \
             anchors per member, and chain {} has no key configured to default to",
            args.chain
        )
        .context(Classified(ExitClass::Input, "an argument is missing")));
    };
    let Some(a) = client.read_anchor(submitter, batch_id).await? else {
        errln!(
            "batch {batch_id} is not anchored by {submitter} on chain {} (contract {contract})",
            args.chain
        );
        return Ok(ExitCode::from(1));
    };
    let tx = client
        .find_anchor_tx(submitter, batch_id, a.block_number)
        .await?;
    let head = client.block_number().await?;
    outln!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "chain": args.chain,
            "chain_id": config.chain_id,
            "contract": contract.to_string(),
            "batch_id": batch_id,
            "root": hex::encode(a.root),
            "leaf_count": a.leaf_count,
            "manifest_digest": format!("blake3:{}", hex::encode(a.manifest_digest)),
            "log_size": a.log_size,
            "log_root": hex::encode(a.log_root),
            "submitter": a.submitter.to_string(),
            "block_number": a.block_number,
            "timestamp": a.timestamp,
            "tx_hash": tx.as_ref().map(|t| t.tx_hash.to_string()),
            "confirmations": head.saturating_sub(a.block_number) + 1,
            "latest_checkpoint": latest,
        }))?
    );
    Ok(ExitCode::SUCCESS)
}
