#!/usr/bin/env bash
# Runs every test of proofmark on a machine with the Rust toolchain, Python 3
# and Node.js: formatting, lints, the Rust test suites, the independent Python
# implementation of the spec against the committed vectors and the sample store,
# the Kubernetes manifests against the API schemas, the Python verifier against
# a live server, the consumer page in Chromium, and a short fuzzing run.
#
# Installs what the tests need into a cache outside the checkout
# ($PROOFMARK_CACHE, default ~/.cache/proofmark): a Python virtual
# environment with the pinned packages of scripts/requirements-test.txt
# (blake3, pyarrow, moto's S3 server for the s3:// tests, kubernetes-validate).
# Cargo builds go to
# $CARGO_TARGET_DIR (default $PROOFMARK_CACHE/target) so that they are reused
# between runs.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cache="${PROOFMARK_CACHE:-$HOME/.cache/proofmark}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
mkdir -p "$cache"

step() { printf '\n==> %s\n' "$*" >&2; }
started=$SECONDS

step "Python environment ($cache/venv)"
venv="$cache/venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
# moto's standalone S3 server, started by the s3:// tests on free ports.
export PROOFMARK_MOTO_SERVER="$venv/bin/moto_server"

step "cargo fmt --check"
cargo fmt --all -- --check

step "EVM test tools (anvil, solc) into $cache/evm-tools"
source scripts/setup-evm.sh

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "independent Python implementation of the spec vs the committed vectors"
"$venv/bin/python" schemas/python/check_vectors.py

step "the Kubernetes manifests of jobs/k8s against the API schemas"
"$venv/bin/python" scripts/test-k8s.py

step "independent Python verifier against live proofmark serve answers"
PYTHON="$venv/bin/python" scripts/test-verifier-py.sh

step "the consumer page in headless Chromium"
scripts/test-browser.sh

step "fuzz smoke (each target briefly; the first run builds with instrumentation)"
FUZZ_SECONDS="${FUZZ_SECONDS:-10}" scripts/fuzz-smoke.sh

step "all tests passed in $((SECONDS - started)) s"
