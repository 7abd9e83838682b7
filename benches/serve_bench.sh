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
# PROOFMARK_BENCH_LOAD picks the load generator: `oha` (the default when it is
# installed; `cargo install oha --locked`) or `wrk` (Debian's package, used
# when oha is not installed). Ratios are comparable only between runs of the
# same load generator: it shares the two cores with the server, and the two
# spend different CPU per response. Needs python3.
set -euo pipefail

items=${1:-1000000}
seconds=${2:-15}
conns=${3:-16}
bin=${PROOFMARK_BIN:-${CARGO_TARGET_DIR:-target}/release/proofmark}
work=${PROOFMARK_BENCH_DIR:-$(mktemp -d)}
port=${PROOFMARK_BENCH_PORT:-18080}

load=${PROOFMARK_BENCH_LOAD:-$(command -v oha >/dev/null && echo oha || echo wrk)}
case "$load" in
    oha) command -v oha >/dev/null || { echo "oha is missing: cargo install oha --locked" >&2; exit 2; } ;;
    wrk) command -v wrk >/dev/null || { echo "no load generator: cargo install oha --locked, or apt-get install wrk" >&2; exit 2; } ;;
    *) echo "PROOFMARK_BENCH_LOAD must be oha or wrk, not $load" >&2; exit 2 ;;
esac
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
# run NAME SECONDS [URL]: drives URL, or without one the random known codes of
# urls.txt, for SECONDS, and writes NAME.json: {"rps", "p50", "p90", "p99",
# "p99.9" (seconds), "statuses"}.
if [ "$load" = oha ]; then
    run() {
        local target=(--urls-from-file urls.txt)
        [ $# -lt 3 ] || target=("$3")
        oha --no-tui -z "${2}s" -c "$conns" --output-format json "${target[@]}" > "$1.oha.json"
        python3 - "$1" <<'EOF'
import json, sys
r = json.load(open(f"{sys.argv[1]}.oha.json"))
p = r["latencyPercentiles"]
out = {"rps": r["summary"]["requestsPerSec"], "statuses": r.get("statusCodeDistribution", {})}
out.update({k: p.get(k) or 0 for k in ("p50", "p90", "p99", "p99.9")})
json.dump(out, open(f"{sys.argv[1]}.json", "w"))
EOF
    }
else
    # wrk asks a random line of PROOFMARK_LOAD_PATHS per request (each thread seeded
    # apart), or the URL's path without it, and writes its summary as the JSON above
    # to PROOFMARK_LOAD_OUT. Its timeout is 30 s, so a slow answer is measured, not
    # dropped as a timeout.
    sed "s#^http://127.0.0.1:$port##" urls.txt > paths.txt
    cat > load.lua <<'EOF'
local threads = 0
function setup(thread)
    threads = threads + 1
    thread:set("thread_no", threads)
end
local paths = {}
function init(args)
    math.randomseed(os.time() * 1000 + (thread_no or 0))
    local file = os.getenv("PROOFMARK_LOAD_PATHS")
    if file and file ~= "" then
        for line in io.lines(file) do paths[#paths + 1] = line end
    end
end
-- Defined for both routes, so that both pay the same per-request script call.
function request()
    if #paths > 0 then
        return wrk.format("GET", paths[math.random(#paths)])
    end
    return wrk.format("GET")
end
function done(summary, latency, requests)
    local s = function(q) return latency:percentile(q) / 1e6 end
    local e = summary.errors
    local out = assert(io.open(os.getenv("PROOFMARK_LOAD_OUT"), "w"))
    out:write(string.format(
        '{"rps": %f, "p50": %f, "p90": %f, "p99": %f, "p99.9": %f, ' ..
        '"statuses": {"below 400": %d, "400 or more": %d, "socket errors": %d}}\n',
        summary.requests / (summary.duration / 1e6), s(50), s(90), s(99), s(99.9),
        summary.requests - e.status, e.status, e.connect + e.read + e.write + e.timeout))
    out:close()
end
EOF
    run() {
        local paths="" url="http://127.0.0.1:$port/"
        if [ $# -lt 3 ]; then paths="$PWD/paths.txt"; else url=$3; fi
        rm -f "$1.json"
        PROOFMARK_LOAD_PATHS="$paths" PROOFMARK_LOAD_OUT="$PWD/$1.json" \
            wrk -t $((conns < 2 ? conns : 2)) -c "$conns" -d "${2}s" --timeout 30s \
            -s load.lua "$url" > "$1.wrk.txt"
        [ -s "$1.json" ] || { echo "wrk wrote no summary (see $PWD/$1.wrk.txt)" >&2; exit 1; }
    }
fi
echo "warm-up: $warmup s of code lookups ($load)"
run warmup "$warmup"
run healthz "$seconds" "http://127.0.0.1:$port/healthz"
run codes "$seconds"

python3 - "$items" "$conns" "$seconds" "$load" <<'EOF'
import json, sys
items, conns, seconds, load = sys.argv[1:]
rows = {n: json.load(open(f"{n}.json")) for n in ("healthz", "codes")}
print(f"proof API load: {items} items, {conns} connections, {seconds} s per route, {load}")
print(f"{'route':<22}{'req/s':>10}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'p99.9 ms':>10}  statuses")
for name, route in (("healthz", "/healthz"), ("codes", "/v1/codes/{code}")):
    r = rows[name]
    ms = lambda k: (r.get(k) or 0) * 1000
    print(f"{route:<22}{r['rps']:>10.0f}{ms('p50'):>10.2f}{ms('p90'):>10.2f}{ms('p99'):>10.2f}{ms('p99.9'):>10.2f}  {r['statuses']}")
print(f"ratio codes/healthz: {rows['codes']['rps'] / rows['healthz']['rps']:.3f}")
EOF
