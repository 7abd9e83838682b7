//! `proofmark merkle`: Merkle tree tools for interoperability testing.
//!
//! Leaf files hold one leaf per line, the leaf's raw data in hex (an empty
//! line is an empty leaf; a final newline does not add a leaf). Proof files
//! hold one 32-byte hash per line in hex. Results go to standard output,
//! messages to standard error. Exit codes: 0 done / verified, 1 not
//! verified, 3 bad input (an unreadable or malformed file or argument).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use proofmark_merkle::{
    Hash, MerkleTree, Suite, SuiteId, VerifyError, verify_consistency, verify_inclusion, with_suite,
};

/// Merkle tree tools: roots, proofs and their verification.
#[derive(Debug, clap::Subcommand)]
pub enum MerkleCommand {
    /// Print the root of the tree over a leaf file, as lowercase hex.
    Root(TreeArgs),
    /// Print the inclusion proof (audit path) of one leaf: one hex hash per line, bottom-up.
    Inclusion {
        /// The tree.
        #[command(flatten)]
        tree: TreeArgs,
        /// Index of the leaf to prove (0-based line number in the leaf file).
        #[arg(long, value_name = "I")]
        index: u64,
    },
    /// Print the consistency proof from the tree of the first M leaves to the whole file's tree.
    Consistency {
        /// The tree.
        #[command(flatten)]
        tree: TreeArgs,
        /// The older tree size M (0 < M <= number of leaves).
        #[arg(long, value_name = "M")]
        old: u64,
    },
    /// Check a proof: prints "verified" (exit 0) or says what did not match (exit 1).
    #[command(subcommand)]
    Verify(VerifyCommand),
}

/// Which proof to check.
#[derive(Debug, clap::Subcommand)]
pub enum VerifyCommand {
    /// Check that a leaf is in a tree with a given root.
    Inclusion(VerifyInclusionArgs),
    /// Check that an older tree is a prefix of a newer one.
    Consistency(VerifyConsistencyArgs),
}

/// A hash suite, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SuiteArg {
    /// BLAKE3 keyed hashes with the spec's leaf and node keys.
    #[value(name = "blake3")]
    Blake3,
    /// SHA-256 with RFC 6962 prefixes (Certificate Transparency).
    #[value(name = "sha256-rfc6962")]
    Sha256Rfc6962,
}

impl From<SuiteArg> for SuiteId {
    fn from(arg: SuiteArg) -> Self {
        match arg {
            SuiteArg::Blake3 => SuiteId::Blake3,
            SuiteArg::Sha256Rfc6962 => SuiteId::Sha256Rfc6962,
        }
    }
}

/// A tree given as a suite and a leaf file.
#[derive(Debug, clap::Args)]
pub struct TreeArgs {
    /// Hash suite of the tree.
    #[arg(long, value_enum, value_name = "SUITE")]
    pub suite: SuiteArg,
    /// Leaf file: one leaf per line, its raw data hex-encoded; an empty line is an empty leaf.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
}

/// The leaf to check: its data or its hash.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct LeafArg {
    /// The leaf's raw data, hex-encoded (hashed with the suite's leaf hash).
    #[arg(long, value_name = "HEX")]
    pub leaf_data: Option<String>,
    /// The leaf hash itself: 32 bytes, hex-encoded.
    #[arg(long, value_name = "HEX")]
    pub leaf_hash: Option<String>,
}

/// Arguments of `merkle verify inclusion`.
#[derive(Debug, clap::Args)]
pub struct VerifyInclusionArgs {
    /// Hash suite of the tree.
    #[arg(long, value_enum, value_name = "SUITE")]
    pub suite: SuiteArg,
    /// The leaf.
    #[command(flatten)]
    pub leaf: LeafArg,
    /// Index of the leaf in the tree (0-based).
    #[arg(long, value_name = "I")]
    pub index: u64,
    /// Number of leaves in the tree.
    #[arg(long, value_name = "N")]
    pub size: u64,
    /// The trusted root: 32 bytes, hex-encoded.
    #[arg(long, value_name = "HEX")]
    pub root: String,
    /// Proof file: one hex hash per line, bottom-up (as `merkle inclusion` prints it).
    #[arg(long, value_name = "FILE")]
    pub proof: PathBuf,
}

/// Arguments of `merkle verify consistency`.
#[derive(Debug, clap::Args)]
pub struct VerifyConsistencyArgs {
    /// Hash suite of the trees.
    #[arg(long, value_enum, value_name = "SUITE")]
    pub suite: SuiteArg,
    /// Number of leaves in the older tree.
    #[arg(long, value_name = "M")]
    pub old_size: u64,
    /// The older tree's trusted root: 32 bytes, hex-encoded.
    #[arg(long, value_name = "HEX")]
    pub old_root: String,
    /// Number of leaves in the newer tree.
    #[arg(long, value_name = "N")]
    pub size: u64,
    /// The newer tree's trusted root: 32 bytes, hex-encoded.
    #[arg(long, value_name = "HEX")]
    pub root: String,
    /// Proof file: one hex hash per line (as `merkle consistency` prints it).
    #[arg(long, value_name = "FILE")]
    pub proof: PathBuf,
}

/// Runs a `merkle` subcommand. Every failure is the input's (exit 3).
pub fn run(cmd: MerkleCommand) -> anyhow::Result<ExitCode> {
    run_tool(cmd).map_err(|e| {
        e.context(crate::exit::Classified(
            crate::exit::ExitClass::Input,
            "bad input",
        ))
    })
}

fn run_tool(cmd: MerkleCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        MerkleCommand::Root(tree) => {
            let suite = SuiteId::from(tree.suite);
            let leaves = read_leaves(&tree.input)?;
            let root = with_suite!(suite, S => build::<S>(&leaves)?.root());
            outln!("{}", hex::encode(root));
        }
        MerkleCommand::Inclusion { tree, index } => {
            let suite = SuiteId::from(tree.suite);
            let leaves = read_leaves(&tree.input)?;
            let size = leaves.len() as u64;
            if index >= size {
                bail!(
                    "leaf index {index} is out of range: {} has {size} leaves",
                    tree.input.display()
                );
            }
            let hashes =
                with_suite!(suite, S => build::<S>(&leaves)?.inclusion_proof(index)?.hashes);
            print_hashes(&hashes);
        }
        MerkleCommand::Consistency { tree, old } => {
            let suite = SuiteId::from(tree.suite);
            let leaves = read_leaves(&tree.input)?;
            let size = leaves.len() as u64;
            if old == 0 || old > size {
                bail!(
                    "old size {old} is out of range: need 0 < M <= {size}, the number of leaves in {}",
                    tree.input.display()
                );
            }
            let hashes =
                with_suite!(suite, S => build::<S>(&leaves)?.consistency_proof(old)?.hashes);
            print_hashes(&hashes);
        }
        MerkleCommand::Verify(VerifyCommand::Inclusion(args)) => {
            return verify_inclusion_cmd(&args);
        }
        MerkleCommand::Verify(VerifyCommand::Consistency(args)) => {
            return verify_consistency_cmd(&args);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn build<S: Suite>(leaves: &[Vec<u8>]) -> anyhow::Result<MerkleTree<S>> {
    Ok(MerkleTree::<S>::from_leaves(leaves)?)
}

fn print_hashes(hashes: &[Hash]) {
    for h in hashes {
        outln!("{}", hex::encode(h));
    }
}

/// The lines of a text file: split on `\n` (a `\r` before it is dropped), no
/// extra line for a final newline.
fn read_lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        anyhow::anyhow!("{} line {line}: not UTF-8 text", path.display())
    })?;
    let body = text.strip_suffix('\n').unwrap_or(&text);
    if text.is_empty() {
        return Ok(Vec::new());
    }
    Ok(body
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned())
        .collect())
}

/// The leaves of a leaf file, decoded from hex.
fn read_leaves(path: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let lines = read_lines(path)?;
    if lines.is_empty() {
        bail!(
            "{} is empty: a tree needs at least one leaf (an empty line is an empty leaf)",
            path.display()
        );
    }
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            hex::decode(line.trim_end_matches([' ', '\t'])).with_context(|| {
                format!("{} line {}: invalid hex leaf data", path.display(), i + 1)
            })
        })
        .collect()
}

/// Parses a 32-byte hash given as hex.
fn parse_hash(text: &str, what: &str) -> anyhow::Result<Hash> {
    let bytes = hex::decode(text.trim()).with_context(|| format!("{what}: invalid hex"))?;
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{what}: expected 32 bytes (64 hex digits), got {len} bytes"))
}

/// The hashes of a proof file.
fn read_proof(path: &Path) -> anyhow::Result<Vec<Hash>> {
    read_lines(path)?
        .iter()
        .enumerate()
        .map(|(i, line)| parse_hash(line, &format!("{} line {}", path.display(), i + 1)))
        .collect()
}

/// Exit code and message for a verification result.
fn report(result: Result<(), VerifyError>) -> ExitCode {
    match result {
        Ok(()) => {
            outln!("verified");
            ExitCode::SUCCESS
        }
        Err(err) => {
            let detail = match &err {
                VerifyError::RootMismatch { expected, computed } => format!(
                    "the proof leads to root {}, not the given root {}",
                    hex::encode(computed),
                    hex::encode(expected)
                ),
                VerifyError::OldRootMismatch { expected, computed } => format!(
                    "the proof leads to old root {}, not the given old root {}",
                    hex::encode(computed),
                    hex::encode(expected)
                ),
                other => other.to_string(),
            };
            errln!("not verified: {detail}");
            ExitCode::from(1)
        }
    }
}

fn verify_inclusion_cmd(args: &VerifyInclusionArgs) -> anyhow::Result<ExitCode> {
    let suite = SuiteId::from(args.suite);
    if args.index >= args.size {
        bail!(
            "leaf index {} is out of range for a tree of {} leaves",
            args.index,
            args.size
        );
    }
    let root = parse_hash(&args.root, "--root")?;
    let leaf = match (&args.leaf.leaf_data, &args.leaf.leaf_hash) {
        (Some(data), _) => {
            let data = hex::decode(data.trim()).context("--leaf-data: invalid hex")?;
            suite.hash_leaf(&data)
        }
        (None, Some(hash)) => parse_hash(hash, "--leaf-hash")?,
        (None, None) => bail!("give the leaf with --leaf-data or --leaf-hash"),
    };
    let proof = read_proof(&args.proof)?;
    let result =
        with_suite!(suite, S => verify_inclusion::<S>(&leaf, args.index, args.size, &proof, &root));
    Ok(report(result))
}

fn verify_consistency_cmd(args: &VerifyConsistencyArgs) -> anyhow::Result<ExitCode> {
    let suite = SuiteId::from(args.suite);
    if args.old_size == 0 || args.old_size > args.size {
        bail!(
            "old size {} is out of range: need 0 < M <= N = {}",
            args.old_size,
            args.size
        );
    }
    let old_root = parse_hash(&args.old_root, "--old-root")?;
    let root = parse_hash(&args.root, "--root")?;
    let proof = read_proof(&args.proof)?;
    let result = with_suite!(suite, S => {
        verify_consistency::<S>(args.old_size, args.size, &proof, &old_root, &root)
    });
    Ok(report(result))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lines_follow_the_file_rules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leaves.txt");
        let cases: [(&str, Vec<&str>); 6] = [
            ("", vec![]),
            ("\n", vec![""]),
            ("aa", vec!["aa"]),
            ("aa\n", vec!["aa"]),
            ("aa\n\nbb\n", vec!["aa", "", "bb"]),
            ("aa\r\nbb\r\n", vec!["aa", "bb"]),
        ];
        for (text, want) in cases {
            fs::write(&path, text).unwrap();
            assert_eq!(read_lines(&path).unwrap(), want, "{text:?}");
        }
    }
}
