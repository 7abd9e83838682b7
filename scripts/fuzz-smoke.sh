#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ briefly (FUZZ_SECONDS each, default 20):
# proof decoding (JSON and binary) and code report parsing and verification.
#
# cargo-fuzz needs a nightly compiler (sanitizer and coverage flags). The
# script uses the `nightly` toolchain when rustup has one, else the stable
# compiler with RUSTC_BOOTSTRAP=1 (which unlocks the same flags), and installs
# cargo-fuzz with `cargo install` when it is missing. The committed seeds in
# fuzz/corpus/ are copied to a temporary folder, so a run leaves the checkout
# as it was; a crash leaves its input under fuzz/artifacts/ and fails.
#
# The first run compiles the workspace with instrumentation (several minutes
# on two cores); later runs reuse $CARGO_TARGET_DIR/fuzz.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"
cache="${PROOFMARK_CACHE:-$HOME/.cache/proofmark}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}/fuzz"
seconds="${FUZZ_SECONDS:-20}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

targets=$(cargo "${toolchain[@]}" fuzz list)
for target in $targets; do
    printf '\n==> fuzz %s for %s s\n' "$target" "$seconds" >&2
    mkdir -p "$tmp/$target"
    if [ -d "corpus/$target" ]; then
        cp -r "corpus/$target/." "$tmp/$target/"
    fi
    rc=0
    cargo "${toolchain[@]}" fuzz run "$target" "$tmp/$target" -- \
        -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 >"$tmp/$target.log" 2>&1 || rc=$?
    grep -E '^(stat::number_of_executed_units|Done [0-9]+ runs)' "$tmp/$target.log" >&2 || true
    if [ "$rc" -ne 0 ]; then
        tail -n 60 "$tmp/$target.log" >&2
        echo "FAIL: fuzz target $target (exit $rc); a crashing input is under fuzz/artifacts/$target" >&2
        exit 1
    fi
done
echo "fuzz smoke passed: $(echo "$targets" | wc -w) targets, $seconds s each" >&2
