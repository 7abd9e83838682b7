#!/usr/bin/env bash
# Load benchmark of the proof API (see benches/README.md, "Proof API load").
#
#   benches/serve_bench.sh [ITEMS] [SECONDS] [CONNECTIONS]
#
# Generates a dataset of ITEMS items (default 1,000,000), runs the nightly
# pipeline on it (plan, build, commit, anchor on the embedded ledger),
# publishes the batch into a code index (run and record file), starts
# `proofmark serve`, then drives GET /healthz and GET /v1/codes/{code}
# (random known codes) with oha for SECONDS each (default 15) over
# CONNECTIONS connections (default 16), and prints requests/s and latency
# percentiles of each and their ratio.
#
# PROOFMARK_BIN names the binary (default target/release/proofmark under
# CARGO_TARGET_DIR or ./target); PROOFMARK_BENCH_DIR keeps the work folder
# (default: a new temporary folder), so a second run reuses its data;
# PROOFMARK_SERVE_ARGS adds options to `proofmark serve` (e.g.
# "--row-group-cache-mib 0"); PROOFMARK_BENCH_WARMUP sets the seconds of code
# lookups before the measured runs (default 5; a fresh server first maps the
# pages of the index files it reads).
# Needs oha (`cargo install oha --locked`) and python3.
set -euo pipefail

items=${1:-1000000}
seconds=${2:-15}
conns=${3:-16}
bin=${PROOFMARK_BIN:-${CARGO_TARGET_DIR:-target}/release/proofmark}
work=${PROOFMARK_BENCH_DIR:-$(mktemp -d)}
port=${PROOFMARK_BENCH_PORT:-18080}

command -v oha >/dev/null || { echo "oha is missing: cargo install oha --locked" >&2; exit 2; }
[ -x "$bin" ] || { echo "no binary at $bin: cargo build --release -p proofmark" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
mkdir -p "$work"
cd "$work"
export PROOFMARK_LEDGER_KEY="$work/ledger.key"

if [ ! -f data/dataset.json ]; then
    /usr/bin/time -f "generate: %e s" "$bin" -q datasets generate --items "$items" --seed 7 --out data
fi
cat > job.toml <<'EOF'
[job]
name = "bench"
store = "store"
inputs = ["data/records/**/*.parquet"]
date = "2026-11-24"
[chains.ledger]
type = "ledger"
origin = "bench.local/ledger"
EOF
"$bin" -q run job.toml
"$bin" publish --batch-id bench-2026-11-24 --store store --index index

# Random known codes (the dataset's PIN file lists every item's code).
tail -n +2 data/secrets/pins.csv | cut -d, -f1 | shuf -n 100000 \
    | sed "s#^#http://127.0.0.1:$port/v1/codes/#" > urls.txt

# shellcheck disable=SC2086 # PROOFMARK_SERVE_ARGS is split on purpose
"$bin" serve --store store --index index --listen "127.0.0.1:$port" ${PROOFMARK_SERVE_ARGS:-} 2> serve.log &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

warmup=${PROOFMARK_BENCH_WARMUP:-5}
echo "warm-up: $warmup s of code lookups"
oha --no-tui -z "${warmup}s" -c "$conns" --urls-from-file urls.txt --output-format quiet >/dev/null
oha --no-tui -z "${seconds}s" -c "$conns" --output-format json \
    "http://127.0.0.1:$port/healthz" > healthz.json
oha --no-tui -z "${seconds}s" -c "$conns" --output-format json \
    --urls-from-file urls.txt > codes.json

python3 - "$items" "$conns" "$seconds" <<'EOF'
import json, sys
items, conns, seconds = sys.argv[1:]
def load(name):
    r = json.load(open(name))
    s, p = r["summary"], r["latencyPercentiles"]
    codes = r.get("statusCodeDistribution", {})
    return s["requestsPerSec"], p, codes
rows = {n: load(f"{n}.json") for n in ("healthz", "codes")}
print(f"proof API load: {items} items, {conns} connections, {seconds} s per route")
print(f"{'route':<22}{'req/s':>10}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'p99.9 ms':>10}  statuses")
for name, route in (("healthz", "/healthz"), ("codes", "/v1/codes/{code}")):
    rps, p, codes = rows[name]
    ms = lambda k: (p.get(k) or 0) * 1000
    print(f"{route:<22}{rps:>10.0f}{ms('p50'):>10.2f}{ms('p90'):>10.2f}{ms('p99'):>10.2f}{ms('p99.9'):>10.2f}  {codes}")
print(f"ratio codes/healthz: {rows['codes'][0] / rows['healthz'][0]:.3f}")
EOF
