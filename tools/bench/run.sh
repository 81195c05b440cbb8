#!/usr/bin/env bash
# caisse benchmark: wrk against POST /v1/orders and GET /v1/orders/{id} at
# 1, 16 and 64 connections, with nginx `return 200` on the same box as the
# HTTP ceiling. Prints one table (also written to tools/bench/out/latest.txt).
#
#   tools/bench/run.sh [path/to/caisse]        (default: build/caisse)
#
# Environment:
#   BENCH_SECONDS=10        duration of each wrk run
#   BENCH_CONNS="1 16 64"   connection counts
#   BENCH_THREADS=2         wrk threads (never more than the connections)
#   BENCH_GET_ORDERS=1000   orders created before the GET runs
#   BENCH_NGINX_WORKERS=1   nginx worker processes (1 = like caisse's one HTTP loop)
#   BENCH_NOSYNC=0          1: add POST rows against a second caisse started with
#                           --unsafe-nosync (NOT durable; labelled as such)
#   BENCH_TMP=/tmp          where the temporary data dirs and nginx prefix go
#                           (the data dir's filesystem decides what an fsync costs)
#   BENCH_KEEP=0            1: keep the temporary directory (logs) at the end
#
# Talks to 127.0.0.1 only, stops by itself, and kills only the processes it
# started (by PID, on EXIT).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${1:-${CAISSE_BIN:-$ROOT/build/caisse}}"
SECS="${BENCH_SECONDS:-10}"
CONNS="${BENCH_CONNS:-1 16 64}"
THREADS="${BENCH_THREADS:-2}"
GET_ORDERS="${BENCH_GET_ORDERS:-1000}"
NGINX_WORKERS="${BENCH_NGINX_WORKERS:-1}"
NOSYNC="${BENCH_NOSYNC:-0}"
TMPBASE="${BENCH_TMP:-/tmp}"
OUT_DIR="$HERE/out"

die() { echo "bench: $*" >&2; exit 1; }

[[ -x "$BIN" ]] || die "no caisse binary at $BIN; build it first: cmake -S $ROOT -B $ROOT/build -DCMAKE_BUILD_TYPE=Release && cmake --build $ROOT/build (or pass its path)"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
NGINX="$(command -v nginx || true)"
[[ -n "$NGINX" ]] || NGINX=/usr/sbin/nginx
[[ -x "$NGINX" ]] || die "nginx is not installed (apt-get install nginx-light)"
command -v curl >/dev/null || die "curl is not installed"
command -v python3 >/dev/null || die "python3 is not installed"
[[ "$SECS" =~ ^[0-9]+$ && "$SECS" -ge 1 ]] || die "BENCH_SECONDS must be a whole number of seconds >= 1"

T="$(mktemp -d "$TMPBASE/caisse-bench.XXXXXX")"
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        # bounded wait: SIGKILL what has not stopped after 10 s
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
        echo "bench: kept $T" >&2
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_caisse NAME [extra serve flags...]: sets CAISSE_PORT, CAISSE_PID, CAISSE_KEY
start_caisse() {
    local name="$1"; shift
    local data="$T/$name-data"
    mkdir -p "$data"
    local merchant
    merchant="$("$BIN" merchant create --name "Bench Shop" --country FR --data "$data")" ||
        die "caisse merchant create failed"
    CAISSE_KEY="$(printf '%s' "$merchant" | python3 -c 'import json,sys; print(json.load(sys.stdin)["test_secret_key"])')"
    "$BIN" serve --data "$data" --listen 127.0.0.1:0 "$@" >"$T/$name.out" 2>"$T/$name.err" &
    CAISSE_PID=$!
    PIDS+=("$CAISSE_PID")
    CAISSE_PORT=""
    for _ in $(seq 200); do
        CAISSE_PORT="$(sed -n 's|^caisse listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$T/$name.out" | head -1)"
        [[ -n "$CAISSE_PORT" ]] && break
        kill -0 "$CAISSE_PID" 2>/dev/null || die "caisse ($name) exited: $(cat "$T/$name.err")"
        sleep 0.1
    done
    [[ -n "$CAISSE_PORT" ]] || die "caisse ($name) did not become ready in 20 s: $(cat "$T/$name.err")"
}

start_nginx() {
    NGINX_PORT="$(free_port)"
    mkdir -p "$T/nginx/logs"
    cat >"$T/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes $NGINX_WORKERS;
pid $T/nginx/nginx.pid;
error_log $T/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 75s;
    client_body_temp_path $T/nginx/body;
    proxy_temp_path $T/nginx/proxy;
    fastcgi_temp_path $T/nginx/fastcgi;
    uwsgi_temp_path $T/nginx/uwsgi;
    scgi_temp_path $T/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / { return 200 "ok"; }
    }
}
EOF
    if [[ "$NGINX_WORKERS" != 1 ]]; then
        sed -i 's/^master_process off;/master_process on;/' "$T/nginx/nginx.conf"
    fi
    "$NGINX" -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/logs/error.log" \
        >"$T/nginx/logs/stdout.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    for _ in $(seq 100); do
        curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT/" 2>/dev/null && return 0
        kill -0 "$NGINX_PID" 2>/dev/null || die "nginx exited: $(cat "$T/nginx/logs/error.log" 2>/dev/null)"
        sleep 0.1
    done
    die "nginx did not answer in 10 s"
}

metrics() {   # metrics PORT: the Prometheus text, or nothing
    curl -fsS --max-time 5 "http://127.0.0.1:$1/metrics" 2>/dev/null || true
}

metric_value() {   # metric_value NAME < metrics text: the value, or empty
    awk -v n="$1" '($1 == n && !found) { printf "%d\n", $2; found = 1 }'
}

# run_wrk LABEL URL SCRIPT CONNS -> sets W_RPS W_P50 W_P99 W_ERR
run_wrk() {
    local label="$1" url="$2" script="$3" c="$4"
    local t="$THREADS"
    if (( t > c )); then t="$c"; fi
    local log="$T/wrk-${BENCH_TAG_PREFIX:-b}-$label-$c.log"
    BENCH_LUA_DIR="$HERE" BENCH_TAG="${BENCH_TAG_PREFIX:-b}-$label-$c" \
        timeout $((SECS + 60)) wrk -t"$t" -c"$c" -d"${SECS}s" --timeout 10s --latency \
        -s "$HERE/$script" "$url" >"$log" 2>&1 || die "wrk failed ($label, $c conns): $(tail -5 "$log")"
    local line
    line="$(grep '^BENCH ' "$log" | tail -1)"
    [[ -n "$line" ]] || die "wrk printed no result ($label, $c conns): $(tail -5 "$log")"
    local req dur p50 p99 e1 e2 e3 e4 e5
    req="$(sed 's/.* requests=\([0-9]*\).*/\1/' <<<"$line")"
    dur="$(sed 's/.* duration_us=\([0-9]*\).*/\1/' <<<"$line")"
    p50="$(sed 's/.* p50_us=\([0-9]*\).*/\1/' <<<"$line")"
    p99="$(sed 's/.* p99_us=\([0-9]*\).*/\1/' <<<"$line")"
    W_ERR=0
    for k in err_connect err_read err_write err_status err_timeout; do
        W_ERR=$((W_ERR + $(sed "s/.* $k=\([0-9]*\).*/\1/" <<<"$line")))
    done
    W_REQ="$req"
    W_RPS="$(awk -v r="$req" -v d="$dur" 'BEGIN { printf "%.0f", (d > 0 ? r * 1e6 / d : 0) }')"
    W_P50="$(awk -v x="$p50" 'BEGIN { printf "%.2f", x / 1000 }')"
    W_P99="$(awk -v x="$p99" 'BEGIN { printf "%.2f", x / 1000 }')"
}

TABLE="$T/table.txt"
: >"$TABLE"
row() { printf '%-34s %5s %10s %9s %9s %7s %9s %10s %10s\n' "$@" | tee -a "$TABLE"; }
declare -A NGINX_RPS RES_RPS

# ---- header -------------------------------------------------------------------
{
    echo "caisse bench $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "binary:  $BIN ($(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo no-git)$(cd "$ROOT" && git diff --quiet HEAD 2>/dev/null || echo ', uncommitted changes'))"
    echo "host:    $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
    echo "data:    $T ($(stat -f -c %T "$T") filesystem); durable (fsync per group commit)"
    echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min load average before the runs; figures are only comparable on an idle box)"
    if [[ "$(stat -f -c %T "$T")" == tmpfs ]]; then echo "WARNING: the data directory is on tmpfs: fsync costs nothing there; POST figures are not durable figures"; fi
    echo "wrk:     ${SECS}s per run, up to $THREADS threads; nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///'), $NGINX_WORKERS worker(s), return 200"
    echo
} | tee "$TABLE.head"

row "target" "conns" "req/s" "p50 ms" "p99 ms" "errors" "vs nginx" "req/fsync" "commit ms"
row "------" "-----" "-----" "------" "------" "------" "--------" "---------" "---------"

start_nginx
start_caisse durable
DURABLE_PORT="$CAISSE_PORT"
DURABLE_KEY="$CAISSE_KEY"
BASE="http://127.0.0.1:$DURABLE_PORT"

# the POST body template (a valid checkout; __REF__ becomes a unique reference)
BODY="$T/body.json"
cat >"$BODY" <<'EOF'
{"reference":"__REF__","shop":"main","currency":"EUR","amount":30000,"plan":"pay_in_3","lines":[{"type":"product","reference":"SKU-0","name":"Item 0","unit_price":10000,"quantity":3,"tax_rate":2000}],"customer":{"first_name":"Camille","last_name":"Martin","email":"camille.martin@example.com","phone":"+33612345678","birth_date":"1990-04-12","id_document":{"type":"national_id","number":"X4RTBPFW4"},"billing_address":{"line1":"1 rue de Rivoli","postal_code":"75001","city":"Paris","country":"FR"}},"card":{"number":"4242424242424242","exp_month":12,"exp_year":2030,"cvc":"123"}}
EOF
# one request by hand: a wrong body would otherwise only show as wrk status errors
probe="$(sed 's/__REF__/bench-probe/' "$BODY" | curl -sS --max-time 10 -o "$T/probe.json" -w '%{http_code}' \
    -H "Authorization: Bearer $DURABLE_KEY" -H 'Content-Type: application/json' --data-binary @- "$BASE/v1/orders")"
[[ "$probe" == 201 ]] || die "POST /v1/orders answered $probe: $(cat "$T/probe.json")"

# orders for the GET runs: created with 16 keep-alive connections
IDS="$T/ids.txt"
python3 - "$DURABLE_PORT" "$DURABLE_KEY" "$BODY" "$GET_ORDERS" >"$IDS" <<'EOF'
import http.client, json, sys, threading
port, key, body_file, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
template = open(body_file).read()
ids, lock = [], threading.Lock()
def work(w, count):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(count):
        c.request("POST", "/v1/orders", body=template.replace("__REF__", f"get-{w}-{i}"),
                  headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
        r = c.getresponse()
        doc = json.loads(r.read())
        if r.status != 201:
            sys.exit(f"pre-create answered {r.status}: {doc}")
        with lock:
            ids.append(doc["id"])
    c.close()
per = [n // 16 + (1 if w < n % 16 else 0) for w in range(16)]
ts = [threading.Thread(target=work, args=(w, per[w])) for w in range(16)]
for t in ts: t.start()
for t in ts: t.join(120)
print("\n".join(ids))
EOF
[[ "$(wc -l <"$IDS")" -ge 1 ]] || die "no orders created for the GET runs"

# ---- runs ---------------------------------------------------------------------
for c in $CONNS; do
    run_wrk nginx "http://127.0.0.1:$NGINX_PORT/" nginx.lua "$c"
    NGINX_RPS[$c]="$W_RPS"
    row "nginx return 200 (ceiling)" "$c" "$W_RPS" "$W_P50" "$W_P99" "$W_ERR" "1.00" "-" "-"
done

ratio() { awk -v a="$1" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }

for c in $CONNS; do
    BENCH_IDS="$IDS" BENCH_KEY="$DURABLE_KEY" run_wrk get "$BASE/v1/orders/x" get.lua "$c"
    RES_RPS[get-$c]="$W_RPS"
    row "caisse GET /v1/orders/{id}" "$c" "$W_RPS" "$W_P50" "$W_P99" "$W_ERR" "$(ratio "$W_RPS" "${NGINX_RPS[$c]}")" "-" "-"
done

# After snap_metrics PORT, run the load, then delta_metrics PORT: sets
# D_PER (commands per committed transaction = per fsync:
# caisse_commit_commands_total / caisse_commits_total, else events/2 per commit)
# and D_FSYNC (mean time of a commit, fsync included, in ms).
snap_metrics() {
    local m
    m="$(metrics "$1")"
    M_COMMITS="$(metric_value caisse_commits_total <<<"$m")"
    M_COMMANDS="$(metric_value caisse_commit_commands_total <<<"$m")"
    M_EVENTS="$(metric_value caisse_events_total <<<"$m")"
    M_FSUM="$(awk '$1 == "caisse_fsync_seconds_sum" { print $2; exit }' <<<"$m")"
}
delta_metrics() {
    local c0="$M_COMMITS" k0="$M_COMMANDS" e0="$M_EVENTS" f0="$M_FSUM"
    snap_metrics "$1"
    D_PER="n/a"
    D_FSYNC="n/a"
    [[ -n "$c0" && -n "$M_COMMITS" ]] || return 0
    local commits=$((M_COMMITS - c0))
    if [[ -n "$k0" && -n "$M_COMMANDS" ]]; then
        D_PER="$(awk -v k=$((M_COMMANDS - k0)) -v c="$commits" 'BEGIN { if (c > 0) printf "%.1f", k / c; else printf "n/a" }')"
    elif [[ -n "$e0" && -n "$M_EVENTS" ]]; then
        # an order create appends two events
        D_PER="$(awk -v e=$((M_EVENTS - e0)) -v c="$commits" 'BEGIN { if (c > 0) printf "%.1f", e / 2 / c; else printf "n/a" }')"
    fi
    if [[ -n "$f0" && -n "$M_FSUM" ]]; then
        D_FSYNC="$(awk -v a="$f0" -v b="$M_FSUM" -v c="$commits" 'BEGIN { if (c > 0) printf "%.2f", (b - a) * 1000 / c; else printf "n/a" }')"
    fi
}

for c in $CONNS; do
    snap_metrics "$DURABLE_PORT"
    BENCH_BODY="$BODY" BENCH_KEY="$DURABLE_KEY" run_wrk post "$BASE/v1/orders" post.lua "$c"
    RES_RPS[post-$c]="$W_RPS"
    delta_metrics "$DURABLE_PORT"
    row "caisse POST /v1/orders (durable)" "$c" "$W_RPS" "$W_P50" "$W_P99" "$W_ERR" "$(ratio "$W_RPS" "${NGINX_RPS[$c]}")" \
        "$D_PER" "$D_FSYNC"
done

# ---- the store's ceiling ------------------------------------------------------------
# LMDB alone, on the same disk, writing again every key and value the durable
# server has just written (its checkouts dealt out PER_COMMIT to a durable
# transaction): no HTTP, no JSON, no Lua, no hashing. With C closed-loop
# connections and one committer, a commit can carry at most the C/2 requests
# that arrived while the previous one was being made durable (the other half
# are waiting for their answer or being read), so C/2 per commit is the
# ceiling of any single-writer design on this store; C per commit is shown
# beside it as the bound no batching can pass.
CEILING_BIN="$(dirname "$BIN")/lmdb_ceiling"
if [[ -x "$CEILING_BIN" ]]; then
    last="${CONNS##* }"
    for per in $((last / 2 > 0 ? last / 2 : 1)) "$last"; do
        dst="$T/ceiling-$per"
        mkdir -p "$dst"
        line="$("$CEILING_BIN" "$T/durable-data" "$dst" "$per")" || die "lmdb_ceiling failed ($per per commit)"
        rm -rf "$dst"
        cps="$(sed 's/.* checkouts_per_s=\([0-9]*\).*/\1/' <<<"$line")"
        cms="$(sed 's/.* commit_ms_mean=\([0-9.]*\).*/\1/' <<<"$line")"
        cp99="$(sed 's/.* commit_ms_p99=\([0-9.]*\).*/\1/' <<<"$line")"
        RES_RPS[lmdb-$per]="$cps"
        row "LMDB alone, same writes (store)" "-" "$cps" "-" "$cp99" "0" "$(ratio "$cps" "${NGINX_RPS[$last]}")" \
            "$per" "$cms"
    done
else
    echo "bench: no $CEILING_BIN: the store's ceiling rows are left out (cmake --build builds it)" >&2
fi

if [[ "$NOSYNC" == 1 ]]; then
    start_caisse nosync --unsafe-nosync
    for c in $CONNS; do
        snap_metrics "$CAISSE_PORT"
        BENCH_TAG_PREFIX=ns BENCH_BODY="$BODY" BENCH_KEY="$CAISSE_KEY" \
            run_wrk post "http://127.0.0.1:$CAISSE_PORT/v1/orders" post.lua "$c"
        delta_metrics "$CAISSE_PORT"
        row "UNSAFE --unsafe-nosync POST" "$c" "$W_RPS" "$W_P50" "$W_P99" "$W_ERR" \
            "$(ratio "$W_RPS" "${NGINX_RPS[$c]}")" "$D_PER" "$D_FSYNC"
    done
fi

# ---- targets --------------------------------------------------------------------
{
    echo
    last="${CONNS##* }"
    pr="$(ratio "${RES_RPS[post-$last]:-0}" "${NGINX_RPS[$last]:-0}")"
    gr="$(ratio "${RES_RPS[get-$last]:-0}" "${NGINX_RPS[$last]:-0}")"
    ok() { awk -v r="$1" -v t="$2" 'BEGIN { if (r == "n/a") print "n/a"; else { x = "NOT met"; if (r + 0 >= t) x = "met"; print x } }'; }
    echo "targets at $last connections: durable POST / nginx = $pr (target >= 0.33: $(ok "$pr" 0.333)); GET / nginx = $gr (target >= 0.60: $(ok "$gr" 0.60))"
    half=$((last / 2 > 0 ? last / 2 : 1))
    if [[ -n "${RES_RPS[lmdb-$half]:-}" ]]; then
        echo "store ceiling at $last connections: LMDB alone, $half checkouts per durable commit = $(ratio "${RES_RPS[lmdb-$half]}" "${NGINX_RPS[$last]:-0}") of nginx, $last per commit = $(ratio "${RES_RPS[lmdb-$last]}" "${NGINX_RPS[$last]:-0}"); caisse reaches $(ratio "${RES_RPS[post-$last]:-0}" "${RES_RPS[lmdb-$half]}") of the first"
    fi
    echo "errors = wrk connect/read/write/timeout errors + non-2xx/3xx answers; req/fsync = commands per committed write transaction; commit ms = mean mdb_txn_commit time (fsync included)"
    echo "LMDB alone rows: req/s = checkouts per second, p99 ms = p99 commit time, req/fsync = checkouts per commit (tools/bench/lmdb_ceiling.c)"
} | tee -a "$TABLE"

mkdir -p "$OUT_DIR"
cat "$TABLE.head" "$TABLE" >"$OUT_DIR/latest.txt"
echo "bench: table written to $OUT_DIR/latest.txt" >&2
