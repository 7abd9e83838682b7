#!/usr/bin/env bash
# Cold start of the proof API (see benches/README.md, "Cold start").
#
#   benches/serve_cold.sh WORK [SECONDS] [CONNECTIONS] [-- SERVE OPTIONS]
#
# WORK is a work folder of benches/serve_bench.sh (its store, index and
# urls.txt). Drops the index's and the store's files from the page cache
# (posix_fadvise DONTNEED: the state after a publish, which writes the record
# file past the cache, or after other work evicted it), starts
# `proofmark serve` on them, and drives GET /v1/codes/{code} with random
# known codes at once, without warm-up, printing requests/s for each second
# (default 10 s, 16 connections). Options after `--` go to `proofmark serve`
# (e.g. `--prewarm-mib 0` to compare with no read-ahead).
#
# PROOFMARK_BIN names the binary (default target/release/proofmark under
# CARGO_TARGET_DIR or ./target). Needs oha and python3.
set -euo pipefail

work=${1:?usage: serve_cold.sh WORK [SECONDS] [CONNECTIONS] [-- SERVE OPTIONS]}
shift
seconds=10
conns=16
if [ $# -gt 0 ] && [ "$1" != "--" ]; then seconds=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" != "--" ]; then conns=$1; shift; fi
[ "${1:-}" = "--" ] && shift
bin=${PROOFMARK_BIN:-${CARGO_TARGET_DIR:-target}/release/proofmark}
port=${PROOFMARK_BENCH_PORT:-18081}

command -v oha >/dev/null || { echo "oha is missing: cargo install oha --locked" >&2; exit 2; }
[ -x "$bin" ] || { echo "no binary at $bin: cargo build --release -p proofmark" >&2; exit 2; }
[ -f "$work/urls.txt" ] || { echo "$work is not a serve_bench.sh work folder" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
cd "$work"

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
"$bin" serve --store store --index index --listen "127.0.0.1:$port" "$@" 2> serve-cold.log &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 200); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.05
done

printf 'code lookups/s, second by second:'
for _ in $(seq "$seconds"); do
    oha --no-tui -z 1s -c "$conns" --output-format json --urls-from-file urls-cold.txt \
        | python3 -c 'import json, sys; r = json.load(sys.stdin); print(" %.0f" % r["summary"]["requestsPerSec"], end="")'
done
echo
kill "$server"
wait "$server" 2>/dev/null || true
grep -h "into memory" serve-cold.log || true
