# shellcheck shell=bash
# Helpers shared by benches/serve_bench.sh, serve_cold.sh and server_cpu.sh
# (sourced, not run). Each needs python3; `wait_for_server` needs curl.

# fail MESSAGE...: prints MESSAGE on stderr and exits 1.
fail() {
    echo "error: $*" >&2
    exit 1
}

# need COMMAND HINT: exits 2 naming HINT when COMMAND is not installed.
need() {
    command -v "$1" >/dev/null || { echo "error: $1 is missing: $2" >&2; exit 2; }
}

# is_count VALUE: whether VALUE is a whole number above zero.
is_count() {
    [[ "$1" =~ ^[0-9]+$ ]] && [ "$((10#$1))" -gt 0 ]
}

# free_port: a TCP port of 127.0.0.1 that nothing listens on now (the kernel's choice).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# port_is_free PORT: whether a server could listen on 127.0.0.1:PORT now.
port_is_free() {
    python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

# choose_port: PROOFMARK_BENCH_PORT when it is set (checked: a port number that nothing
# listens on), else a free port; printed. Exits 2 on a bad or taken port.
choose_port() {
    if [ -z "${PROOFMARK_BENCH_PORT:-}" ]; then
        free_port
        return
    fi
    local port=$PROOFMARK_BENCH_PORT
    if ! is_count "$port" || [ "$port" -gt 65535 ]; then
        echo "PROOFMARK_BENCH_PORT must be a port number, not '$port'" >&2
        exit 2
    fi
    port_is_free "$port" || { echo "port $port is taken: something else listens on 127.0.0.1:$port (unset PROOFMARK_BENCH_PORT for a free one)" >&2; exit 2; }
    echo "$port"
}

# pid_listens PID PORT: whether process PID holds a listening TCP socket on PORT
# (from /proc: its open sockets against the kernel's table of listening ones).
pid_listens() {
    python3 - "$1" "$2" <<'EOF'
import os, sys
pid, port = sys.argv[1], int(sys.argv[2])
inodes = set()
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        lines = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for line in lines:
        f = line.split()
        # local address "ADDR:PORT" in hex, state 0A is LISTEN, field 9 the inode
        if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
            inodes.add(f[9])
try:
    held = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
except OSError:
    sys.exit(1)
sys.exit(0 if any(f"socket:[{i}]" in held for i in inodes) else 1)
EOF
}

# http_status URL: the HTTP status of GET URL, or 000 when nothing answered.
http_status() {
    curl -sS -o /dev/null --max-time 5 -w '%{http_code}' "$1" 2>/dev/null || true
}

# wait_for_server PID PORT LOG SECONDS: waits until process PID listens on PORT
# and GET /healthz answers 200; fails, showing the end of LOG, when PID exits,
# another process answers on PORT, or SECONDS pass.
wait_for_server() {
    local pid=$1 port=$2 log=$3 deadline=$((SECONDS + $4)) status
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$log" >&2 || true
            fail "the server exited before answering (its log: $log)"
        fi
        if pid_listens "$pid" "$port"; then
            status=$(http_status "http://127.0.0.1:$port/healthz")
            [ "$status" = 200 ] && return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail -n 20 "$log" >&2 || true
            fail "the server (pid $pid) does not answer GET /healthz with 200 on port $port after $4 s (last status ${status:-none}; its log: $log)"
        fi
        sleep 0.1
    done
}

# oha_figures NAME: reads NAME.oha.json (oha's JSON output) and writes NAME.json:
# {"ok_rps" (2xx answers a second), "requests", "ok" (2xx answers), "failed" (other
# statuses and errors), "statuses", "errors", "p50", "p90", "p99", "p99.9" (seconds,
# of the answers oha timed)}. Requests cut off by the end of a timed run ("aborted
# due to deadline") are neither answers nor failures.
oha_figures() {
    python3 - "$1" <<'EOF'
import json, sys
name = sys.argv[1]
r = json.load(open(f"{name}.oha.json"))
statuses = {str(k): v for k, v in (r.get("statusCodeDistribution") or {}).items()}
errors = {k: v for k, v in (r.get("errorDistribution") or {}).items()
          if k != "aborted due to deadline"}
ok = sum(v for k, v in statuses.items() if k.startswith("2"))
failed = sum(statuses.values()) - ok + sum(errors.values())
total = r["summary"].get("total") or 0
p = r.get("latencyPercentiles") or {}
out = {"ok_rps": ok / total if total else 0.0, "requests": ok + failed, "ok": ok,
       "failed": failed, "statuses": statuses, "errors": errors}
out.update({k: p.get(k) or 0 for k in ("p50", "p90", "p99", "p99.9")})
json.dump(out, open(f"{name}.json", "w"))
EOF
}

# What runs in the background and must stop with the script: the current child
# (started by child_run: a pipeline step or the load generator) and the server
# (the script sets `server` to its pid).
child=""
server=""
exit_hook=""

# stop_children: stops (SIGTERM) the child and the server and waits for them.
stop_children() {
    local p
    for p in $child $server; do kill "$p" 2>/dev/null || true; done
    for p in $child $server; do wait "$p" 2>/dev/null || true; done
    child=""
    server=""
}

# child_run COMMAND...: runs COMMAND in the background and waits for it, so that a
# signal stops the script at once (and the EXIT trap stops COMMAND). Its status is
# COMMAND's; redirections of the call apply to COMMAND.
child_run() {
    "$@" &
    child=$!
    local rc=0
    wait "$child" || rc=$?
    child=""
    return "$rc"
}

# trap_signals [HOOK]: from now on, SIGINT and SIGTERM end the script (exit 130 or
# 143, naming the signal) and at exit the child and the server are stopped first,
# then the function HOOK (if given) runs: what it removes is no longer in use.
trap_signals() {
    exit_hook=${1:-}
    trap on_exit_stop EXIT
    trap 'echo "interrupted (SIGINT)" >&2; exit 130' INT
    trap 'echo "interrupted (SIGTERM)" >&2; exit 143' TERM
}

# on_exit_stop: the EXIT trap of trap_signals.
on_exit_stop() {
    stop_children
    if [ -n "$exit_hook" ]; then "$exit_hook"; fi
}
