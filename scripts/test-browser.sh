#!/usr/bin/env bash
# The consumer page in a real browser: builds the sample batch in a temporary
# store, publishes it, imports the sample's scratch-off PINs, starts
# `proofmark serve` on a free port and drives headless Chromium through
# scripts/browser/consumer.cjs (journey and badge, language switch, wrong PINs
# until rate-limited, the right PIN, the copy warning on a rescan, a PIN posted
# by another site's form, an unknown code), with JavaScript disabled and a
# phone-sized viewport.
#
# Installs what it needs if missing: Debian's `chromium` (apt-get, through
# sudo when not root) and the pinned npm package `playwright-core` into
# $PROOFMARK_CACHE/browser (default ~/.cache/proofmark). Screenshots are kept
# in $PROOFMARK_CACHE/browser/screenshots. Set PROOFMARK_KEEP_TMP=1 to keep
# the temporary store, state and server log.
set -euo pipefail

PLAYWRIGHT_CORE_VERSION=1.65.1

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cache="${PROOFMARK_CACHE:-$HOME/.cache/proofmark}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
mkdir -p "$cache"

step() { printf '\n==> %s\n' "$*" >&2; }
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

step "Chromium"
chromium_bin="${CHROMIUM:-}"
if [ -z "$chromium_bin" ]; then
    if ! command -v chromium >/dev/null 2>&1; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
    fi
    chromium_bin="$(command -v chromium)"
fi
echo "$chromium_bin"

step "playwright-core $PLAYWRIGHT_CORE_VERSION ($cache/browser)"
browser_dir="$cache/browser"
mkdir -p "$browser_dir"
installed="$(node -p "try { require('$browser_dir/node_modules/playwright-core/package.json').version } catch (e) { '' }")"
if [ "$installed" != "$PLAYWRIGHT_CORE_VERSION" ]; then
    npm install --prefix "$browser_dir" --no-audit --no-fund --no-save --loglevel=error \
        "playwright-core@$PLAYWRIGHT_CORE_VERSION"
fi

# The dev-profile binary the Rust tests already built (dependencies are
# optimised): no second, release build just for this script.
step "cargo build -p proofmark"
cargo build --locked -p proofmark
bin="$CARGO_TARGET_DIR/debug/proofmark"

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
    status=$?
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "$status" -ne 0 ] && [ -f "$tmp/serve.log" ]; then
        echo "--- server log ---" >&2
        tail -n 50 "$tmp/serve.log" >&2 || true
    fi
    if [ "${PROOFMARK_KEEP_TMP:-0}" = 1 ]; then
        echo "kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
    exit "$status"
}
trap cleanup EXIT INT TERM

store="$tmp/store"
index="$tmp/index"
state="$tmp/state"
export PROOFMARK_LEDGER_KEY="$tmp/ledger.key"

step "the sample batch in a temporary store"
PROOFMARK_STORE="$store" PROOFMARK_INDEX="$index" "$bin" --quiet run jobs/nightly.toml
batch_id="$(basename "$(find "$store/batches" -mindepth 1 -maxdepth 1 -type d | head -n 1)")"
# The job publishes too; publishing again is a no-op that checks the index.
"$bin" --quiet publish --batch-id "$batch_id" --store "$store" --index "$index"
"$bin" --quiet pins import --secrets datasets/sample/secrets/pins.csv \
    --state-dir "$state" --key-file "$tmp/pin.key"

step "proofmark serve"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# The ledger's verifier key: this script made the store, so the copy kept
# beside its log can be trusted here (a real deployment gets the key from the
# log's operator).
"$bin" serve --store "$store" --index "$index" --listen "127.0.0.1:$port" \
    --state-dir "$state" --secrets-key-file "$tmp/pin.key" --orgs datasets/sample/orgs.csv \
    --ledger-key "$store/log/verifier-key.txt" >"$tmp/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    if python3 -c "import urllib.request, sys; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "proofmark serve exited early" >&2
        exit 1
    fi
    sleep 0.2
done

step "headless Chromium through the consumer page"
shots="$browser_dir/screenshots"
mkdir -p "$shots"
BASE_URL="http://127.0.0.1:$port" \
    PINS_CSV="datasets/sample/secrets/pins.csv" \
    CHROMIUM="$chromium_bin" \
    SCREENSHOT_DIR="$tmp" \
    NODE_PATH="$browser_dir/node_modules" \
    node scripts/browser/consumer.cjs
cp "$tmp"/*.png "$shots/"
echo "screenshots in $shots" >&2
