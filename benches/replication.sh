#!/usr/bin/env bash
# Replication benchmark, picket-server vs Debian's redis-server 7.0, side by
# side in one run: a master holding KEYS keys with VALUE-byte values gets a
# new replica; measured are the time from starting the replica until it
# reports master_link_status:up with every key, and the master's p99 SET
# latency (redis-benchmark -c CLIENTS) while the full sync runs.
#
#   bash benches/replication.sh                       # KEYS=1000000 VALUE=100
#   KEYS=200000 REPEAT=1 bash benches/replication.sh  # quick run
#
# Both servers use diskless sync (redis 7.0's default) with no delay. The
# benchmark runs N SETs (default 600000) and the replica starts 0.3 s into
# it, so its p99 covers the whole sync (a warning says when it did not).
# REPEAT runs per server (default 3), alternating; each cell is a run.
# Output: a markdown table, also in bench-out/replication.md.
set -euo pipefail

cd "$(dirname "$0")/.."
KEYS="${KEYS:-1000000}"
VALUE="${VALUE:-100}"
CLIENTS="${CLIENTS:-50}"
REPEAT="${REPEAT:-3}"
N="${N:-600000}"
# shellcheck source=benches/lib.sh
. benches/lib.sh
need redis-benchmark redis-cli "$REDIS_SERVER"
build_picket



# spawn BIN PORT DIR [ARGS...]: starts a server, records its PID in LAST.
spawn() {
    local bin=$1 port=$2 dir=$3
    shift 3
    mkdir -p "$dir"
    "$bin" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
        --repl-diskless-sync yes --repl-diskless-sync-delay 0 "$@" >>"$dir/log" 2>&1 &
    LAST=$!
    PIDS+=("$LAST")
}
wait_pong() {
    for _ in $(seq 1 3000); do
        [ "$(timeout 2 redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return
        sleep 0.01
    done
    echo "server on $1 did not start" >&2; exit 1
}

echo "generating $KEYS keys with $VALUE-byte values..." >&2
awk -v n="$KEYS" -v len="$VALUE" 'BEGIN {
    v = sprintf("%*s", len, ""); gsub(/ /, "v", v)
    for (i = 0; i < n; i++)
        printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$%d\r\n%s\r\n", i, len, v
}' >"$WORK/mass.resp"

# run NAME BIN: one measurement; prints "sync_ms p99_ms".
run() {
    local name=$1 bin=$2 mport rport t0 sync_ms bp p99
    mport=$(free_port)
    spawn "$bin" "$mport" "$WORK/$name-m"
    local mpid=$LAST
    wait_pong "$mport"
    timeout 600 redis-cli -p "$mport" --pipe <"$WORK/mass.resp" >/dev/null
    rport=$(free_port)
    timeout 600 redis-benchmark -h 127.0.0.1 -p "$mport" -c "$CLIENTS" -n "$N" -t set \
        -r "$KEYS" -d "$VALUE" --csv >"$WORK/bench.csv" 2>&1 &
    bp=$!
    sleep 0.3
    t0=$(now_ms)
    spawn "$bin" "$rport" "$WORK/$name-r" --replicaof 127.0.0.1 "$mport"
    local rpid=$LAST
    sync_ms=""
    for _ in $(seq 1 60000); do
        if [ "$(info_field "$rport" replication master_link_status)" = up ]; then
            local keys
            keys=$(timeout 10 redis-cli -p "$rport" dbsize 2>/dev/null || echo 0)
            if [ "${keys:-0}" -ge "$KEYS" ]; then sync_ms=$(($(now_ms) - t0)); break; fi
        fi
        sleep 0.01
    done
    if ! kill -0 "$bp" 2>/dev/null; then
        echo "warning: the sync outlasted the benchmark; raise N" >&2
    fi
    wait "$bp" || true
    p99=$(tr '\r' '\n' <"$WORK/bench.csv" | awk -F'"' 'NR>1 && $2=="SET" {print $14; exit}')
    [ -n "$p99" ] || p99=n/a
    kill -9 "$mpid" "$rpid" 2>/dev/null || true
    wait "$mpid" "$rpid" 2>/dev/null || true
    rm -rf "$WORK/$name-m" "$WORK/$name-r"
    [ -n "$sync_ms" ] || { echo "$name replica did not finish syncing" >&2; exit 1; }
    echo "$sync_ms $p99"
}

declare -A SYNC P99
for i in $(seq 1 "$REPEAT"); do
    for name in picket redis; do
        bin=$PICKET; [ "$name" = redis ] && bin=$REDIS_SERVER
        echo "run $i: $name..." >&2
        # In this shell (not a subshell), so the EXIT trap sees its PIDs.
        run "$name" "$bin" >"$WORK/result"
        read -r s p <"$WORK/result"
        SYNC[$name.$i]=$s
        P99[$name.$i]=$p
    done
done

TABLE="$OUT/replication.md"
{
    echo "Full sync of $KEYS keys with $VALUE-byte values (diskless), while redis-benchmark SET -c $CLIENTS writes to the master; $(nproc) cores, $(date -u +%Y-%m-%d)"
    echo
    echo "| run | sync picket (ms) | sync redis (ms) | ratio | master p99 SET picket (ms) | redis (ms) | ratio |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for i in $(seq 1 "$REPEAT"); do
        echo "| $i | ${SYNC[picket.$i]} | ${SYNC[redis.$i]} | $(ratio "${SYNC[picket.$i]}" "${SYNC[redis.$i]}") | ${P99[picket.$i]} | ${P99[redis.$i]} | $(ratio "${P99[picket.$i]}" "${P99[redis.$i]}") |"
    done
} >"$TABLE"
cat "$TABLE"
