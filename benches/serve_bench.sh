#!/usr/bin/env bash
# Load benchmark of the proof API (see benches/README.md, "Proof API load").
#
#   benches/serve_bench.sh [ITEMS] [SECONDS] [CONNECTIONS]
#
# Generates a dataset of ITEMS items (default 1,000,000), runs the nightly
# pipeline on it (plan, build, commit, anchor on the embedded ledger),
# publishes the batch into a code index (run and record file), starts
# `proofmark serve`, then drives GET /healthz and GET /v1/codes/{code}
# (random known codes) with a load generator for SECONDS each (default 15)
# over CONNECTIONS connections (default 16), and prints the 2xx answers a
# second and latency percentiles of each and their ratio.
#
# Only 2xx answers count. A request that failed (refused, reset, timed out) or
# got another status makes the run fail (exit 1) after its figures, with no
# ratio; so does a server that does not start, exits, or is not the process
# answering on the port (checked before measuring: the server's pid listens on
# the port and GET /healthz answers 200). SIGINT or SIGTERM stops the run, the
# load generator and the server (exit 130 or 143).
#
# Environment:
#   PROOFMARK_BIN         the binary (default target/release/proofmark under
#                         CARGO_TARGET_DIR, else ./target)
#   PROOFMARK_BENCH_DIR   the work folder, kept, so that a second run reuses its
#                         dataset, store and index (a reused dataset keeps its item
#                         count: the run says so when ITEMS differs; remove the
#                         folder to generate another). A store and index that were
#                         not published from the folder's dataset (published.txt)
#                         are refused. Default: a new temporary folder (under
#                         TMPDIR), removed at exit
#   PROOFMARK_BENCH_PORT  the port on 127.0.0.1 (default: a free one chosen at
#                         start); a port something already listens on is an error
#   PROOFMARK_SERVE_ARGS  more options for `proofmark serve`, split on spaces
#                         (e.g. "--row-group-cache-mib 0")
#   PROOFMARK_BENCH_WARMUP seconds of code lookups before the measured runs
#                         (default 5; a fresh server first maps the pages of the
#                         index files it reads)
#   PROOFMARK_BENCH_LOAD  the load generator: `oha` (the default when installed;
#                         `cargo install oha --locked`) or `wrk` (Debian's
#                         package, the default without oha). Ratios are comparable
#                         only between runs of the same load generator: it shares
#                         the cores with the server, and the two spend different
#                         CPU per answer. wrk tells only statuses of 400 and over
#                         from the rest, so with it a 3xx would count as an answer
# PROOFMARK_LEDGER_KEY is set to the work folder's ledger.key for the pipeline.
#
# Needs python3, curl, shuf (coreutils) and oha or wrk. Each run's server log is
# serve-<UTC time>.log in the work folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$here/lib.sh"

usage="usage: serve_bench.sh [ITEMS] [SECONDS] [CONNECTIONS]"
[ $# -le 3 ] || { echo "$usage" >&2; exit 2; }
items=${1:-1000000}
seconds=${2:-15}
conns=${3:-16}
warmup=${PROOFMARK_BENCH_WARMUP:-5}
for arg in "ITEMS=$items" "SECONDS=$seconds" "CONNECTIONS=$conns" "PROOFMARK_BENCH_WARMUP=$warmup"; do
    is_count "${arg#*=}" || { echo "${arg%%=*} must be a whole number above 0, not '${arg#*=}'" >&2; echo "$usage" >&2; exit 2; }
done
bin=${PROOFMARK_BIN:-${CARGO_TARGET_DIR:-target}/release/proofmark}

need python3 "apt-get install python3"
need curl "apt-get install curl"
need shuf "apt-get install coreutils"
load=${PROOFMARK_BENCH_LOAD:-$(command -v oha >/dev/null && echo oha || echo wrk)}
case "$load" in
    oha) need oha "cargo install oha --locked" ;;
    wrk) need wrk "cargo install oha --locked, or apt-get install wrk" ;;
    *) echo "PROOFMARK_BENCH_LOAD must be oha or wrk, not $load" >&2; exit 2 ;;
esac
[ -x "$bin" ] || { echo "no binary at $bin: cargo build --release -p proofmark" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
port=$(choose_port)

work=""
keep_work=1
remove_work() {
    if [ "$keep_work" = 0 ] && [ -n "$work" ]; then
        cd /
        rm -rf "$work"
    fi
}
trap_signals remove_work

if [ -n "${PROOFMARK_BENCH_DIR:-}" ]; then
    work=$PROOFMARK_BENCH_DIR
    mkdir -p "$work"
    work=$(cd "$work" && pwd)
else
    keep_work=0
    work=$(mktemp -d)
    echo "work folder: $work (removed at exit; set PROOFMARK_BENCH_DIR to keep it)"
fi
cd "$work"
export PROOFMARK_LEDGER_KEY="$work/ledger.key"

# A kept folder is reused: its dataset, and its store and index when they were
# published from that dataset (published.txt, written after the publish, holds
# the dataset's item count and the digest of its dataset.json).
dataset_stamp() {
    python3 -c 'import hashlib, json, sys; b = open("data/dataset.json", "rb").read(); print(json.loads(b)["items"], hashlib.sha256(b).hexdigest())'
}
if [ ! -f data/dataset.json ]; then
    if [ -e data ] || [ -e store ] || [ -e index ]; then
        echo "error: $work has no finished dataset (data/dataset.json) but holds data, store or index (a run that was interrupted?): remove $work, or its data, store and index, and run again" >&2
        exit 2
    fi
    started=$(date +%s.%N)
    child_run "$bin" -q datasets generate --items "$items" --seed 7 --out data
    python3 -c 'import sys; print(f"generate: {float(sys.argv[2]) - float(sys.argv[1]):.1f} s")' "$started" "$(date +%s.%N)"
else
    have=$(python3 -c 'import json; print(json.load(open("data/dataset.json"))["items"])')
    if [ "$have" != "$items" ]; then
        echo "note: the work folder's dataset has $have items, not the $items asked: measuring $have (remove $work, or its data, store and index, to generate $items)" >&2
        items=$have
    fi
fi
stamp=$(dataset_stamp)
if [ -e store ] || [ -e index ]; then
    if [ "$(cat published.txt 2>/dev/null)" != "$stamp" ]; then
        echo "error: the store and index in $work were not published from its dataset (no published.txt, or one of another dataset: a run that was interrupted, or a dataset replaced by hand): remove $work, or its data, store and index, and run again" >&2
        exit 2
    fi
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
child_run "$bin" -q run job.toml
child_run "$bin" publish --batch-id bench-2026-11-24 --store store --index index
echo "$stamp" > published.txt

# Random known codes (the dataset's PIN file lists every item's code).
tail -n +2 data/secrets/pins.csv | cut -d, -f1 | shuf -n 100000 \
    | sed "s#^#http://127.0.0.1:$port/v1/codes/#" > urls.txt

log=serve-$(date -u +%Y%m%dT%H%M%SZ).log
# shellcheck disable=SC2086 # PROOFMARK_SERVE_ARGS is split on purpose
"$bin" serve --store store --index index --listen "127.0.0.1:$port" ${PROOFMARK_SERVE_ARGS:-} 2> "$log" &
server=$!
wait_for_server "$server" "$port" "$PWD/$log" 30
echo "server: pid $server on 127.0.0.1:$port, log $work/$log"

# run NAME SECONDS [URL]: drives URL, or without one the random known codes of
# urls.txt, for SECONDS, and writes NAME.json (see oha_figures in lib.sh).
if [ "$load" = oha ]; then
    run() {
        local target=(--urls-from-file urls.txt)
        [ $# -lt 3 ] || target=("$3")
        child_run oha --no-tui -z "${2}s" -c "$conns" --output-format json "${target[@]}" > "$1.oha.json"
        oha_figures "$1"
    }
else
    # wrk asks a random line of PROOFMARK_LOAD_PATHS per request (each thread seeded
    # apart), or the URL's path without it, and writes its summary as the JSON above
    # to PROOFMARK_LOAD_OUT. Its timeout is 30 s, so a slow answer is measured, not
    # dropped as a timeout. wrk counts answers of status 400 and over apart
    # (`errors.status`): the rest are counted as 2xx.
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
    local ok = summary.requests - e.status
    local socket = e.connect + e.read + e.write + e.timeout
    local out = assert(io.open(os.getenv("PROOFMARK_LOAD_OUT"), "w"))
    out:write(string.format(
        '{"ok_rps": %f, "requests": %d, "ok": %d, "failed": %d, "p50": %f, "p90": %f, ' ..
        '"p99": %f, "p99.9": %f, "statuses": {"below 400": %d, "400 or more": %d}, ' ..
        '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
        ok / (summary.duration / 1e6), summary.requests + socket, ok, e.status + socket,
        s(50), s(90), s(99), s(99.9), ok, e.status, e.connect, e.read, e.write, e.timeout))
    out:close()
end
EOF
    run() {
        local paths="" url="http://127.0.0.1:$port/"
        if [ $# -lt 3 ]; then paths="$PWD/paths.txt"; else url=$3; fi
        rm -f "$1.json"
        PROOFMARK_LOAD_PATHS="$paths" PROOFMARK_LOAD_OUT="$PWD/$1.json" \
            child_run wrk -t $((conns < 2 ? conns : 2)) -c "$conns" -d "${2}s" --timeout 30s \
            -s load.lua "$url" > "$1.wrk.txt"
        [ -s "$1.json" ] || fail "wrk wrote no summary (see $PWD/$1.wrk.txt)"
    }
fi
# alive PHASE: fails when the server exited during PHASE.
alive() {
    kill -0 "$server" 2>/dev/null || { tail -n 20 "$log" >&2; fail "the server exited during the $1 (its log: $work/$log)"; }
}
echo "warm-up: $warmup s of code lookups ($load)"
run warmup "$warmup"
alive warm-up
run healthz "$seconds" "http://127.0.0.1:$port/healthz"
alive "/healthz run"
run codes "$seconds"
alive "code run"

python3 - "$items" "$conns" "$seconds" "$load" <<'EOF'
import json, sys
items, conns, seconds, load = sys.argv[1:]
rows = {n: json.load(open(f"{n}.json")) for n in ("warmup", "healthz", "codes")}
print(f"proof API load: {items} items, {conns} connections, {seconds} s per route, {load}")
print(f"{'route':<22}{'2xx/s':>10}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'p99.9 ms':>10}{'failed':>10}  statuses")
for name, route in (("healthz", "/healthz"), ("codes", "/v1/codes/{code}")):
    r = rows[name]
    ms = lambda k: (r.get(k) or 0) * 1000
    print(f"{route:<22}{r['ok_rps']:>10.0f}{ms('p50'):>10.2f}{ms('p90'):>10.2f}{ms('p99'):>10.2f}{ms('p99.9'):>10.2f}"
          f"{r['failed']:>10}  {r['statuses']} {r['errors'] or ''}")
w = rows["warmup"]
if w["failed"]:
    print(f"warning: {w['failed']} of {w['requests']} warm-up requests failed: {w['statuses']} {w['errors']}",
          file=sys.stderr)
bad = [(n, rows[n]) for n in ("healthz", "codes") if rows[n]["failed"] or not rows[n]["ok"]]
if bad:
    for n, r in bad:
        share = r["failed"] / r["requests"] if r["requests"] else 1.0
        print(f"FAILED: {n}: {r['failed']} of {r['requests']} requests failed ({share:.2%}), "
              f"{r['ok']} answered 2xx: {r['statuses']} {r['errors']}", file=sys.stderr)
    print("no ratio: the run had failed requests", file=sys.stderr)
    sys.exit(1)
print(f"ratio codes/healthz: {rows['codes']['ok_rps'] / rows['healthz']['ok_rps']:.3f}")
EOF
