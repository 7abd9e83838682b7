#!/usr/bin/env bash
# Cold start of the proof API (see benches/README.md, "Cold start").
#
#   benches/serve_cold.sh WORK [SECONDS] [CONNECTIONS] [-- SERVE OPTIONS]
#
# WORK is a work folder of benches/serve_bench.sh (its store, index and
# urls.txt; run it with PROOFMARK_BENCH_DIR=WORK to keep one). Drops the
# index's and the store's files from the page cache (posix_fadvise DONTNEED:
# the state after a publish, which writes the record file past the cache, or
# after other work evicted it), starts `proofmark serve` on them, checks that
# it is the process listening on the port and that GET /healthz answers 200,
# and drives GET /v1/codes/{code} with random known codes at once, without
# warm-up, printing the 2xx answers a second for each second (default 10 s,
# 16 connections). Options after `--` go to `proofmark serve` (e.g.
# `--prewarm-mib 0` to compare with no read-ahead).
#
# A request that failed or got a status other than 2xx makes the run fail
# (exit 1) after the figures; SIGINT or SIGTERM stops the run, the load
# generator and the server (exit 130 or 143).
#
# Environment:
#   PROOFMARK_BIN         the binary (default target/release/proofmark under
#                         CARGO_TARGET_DIR, else ./target)
#   PROOFMARK_BENCH_PORT  the port on 127.0.0.1 (default: a free one chosen at
#                         start); a port something already listens on is an error
#
# Needs oha, python3 and curl. Each run's server log is
# serve-cold-<UTC time>.log in WORK; its other files there (urls-cold.txt,
# cold-N.*) are removed at exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$here/lib.sh"

usage="usage: serve_cold.sh WORK [SECONDS] [CONNECTIONS] [-- SERVE OPTIONS]"
if [ $# -eq 0 ] || [ "$1" = "--" ]; then echo "$usage" >&2; exit 2; fi
work=$1
shift
seconds=10
conns=16
if [ $# -gt 0 ] && [ "$1" != "--" ]; then seconds=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" != "--" ]; then conns=$1; shift; fi
if [ $# -gt 0 ]; then
    [ "$1" = "--" ] || { echo "$usage" >&2; exit 2; }
    shift
fi
for arg in "SECONDS=$seconds" "CONNECTIONS=$conns"; do
    is_count "${arg#*=}" || { echo "${arg%%=*} must be a whole number above 0, not '${arg#*=}'" >&2; echo "$usage" >&2; exit 2; }
done
bin=${PROOFMARK_BIN:-${CARGO_TARGET_DIR:-target}/release/proofmark}

need oha "cargo install oha --locked"
need python3 "apt-get install python3"
need curl "apt-get install curl"
[ -x "$bin" ] || { echo "no binary at $bin: cargo build --release -p proofmark" >&2; exit 2; }
if ! [ -f "$work/urls.txt" ] || ! [ -d "$work/index" ] || ! [ -d "$work/store" ]; then
    echo "$work is not a serve_bench.sh work folder (no urls.txt, index or store)" >&2
    exit 2
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
port=$(choose_port)
cd "$work"
work=$PWD

# What this run writes in WORK besides its log: removed at exit.
second=0
remove_scratch() {
    rm -f "$work/urls-cold.txt" "$work/cold-$second.oha.json" "$work/cold-$second.json"
}
trap_signals remove_scratch

python3 - index store <<'EOF'
import os, sys
total = 0
for root in sys.argv[1:]:
    for folder, _, names in os.walk(root):
        for name in names:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            total += os.fstat(fd).st_size
            os.close(fd)
print(f"dropped {total / 2**30:.2f} GiB of index and store files from the page cache")
EOF

sed "s#//127.0.0.1:[0-9]*/#//127.0.0.1:$port/#" urls.txt > urls-cold.txt
log=serve-cold-$(date -u +%Y%m%dT%H%M%SZ).log
"$bin" serve --store store --index index --listen "127.0.0.1:$port" "$@" 2> "$log" &
server=$!
wait_for_server "$server" "$port" "$PWD/$log" 30

printf 'code lookups (2xx answers) a second, second by second:'
failed=0
requests=0
for s in $(seq "$seconds"); do
    second=$s
    child_run oha --no-tui -z 1s -c "$conns" --output-format json --urls-from-file urls-cold.txt > "cold-$s.oha.json"
    oha_figures "cold-$s"
    read -r ok_rps n bad < <(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(round(r["ok_rps"]), r["requests"], r["failed"])' "cold-$s.json")
    printf ' %s' "$ok_rps"
    requests=$((requests + n))
    failed=$((failed + bad))
    rm -f "cold-$s.oha.json" "cold-$s.json"
    kill -0 "$server" 2>/dev/null || { echo; tail -n 20 "$log" >&2; fail "the server exited in second $s (its log: $PWD/$log)"; }
done
echo
stop_children
grep -h "into memory" "$log" || true
if [ "$failed" -gt 0 ]; then
    fail "$failed of $requests requests failed or got a status other than 2xx"
fi
