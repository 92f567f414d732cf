#!/usr/bin/env bash
# Persistence benchmarks, picket-server vs Debian's redis-server 7.0, side
# by side in one run:
#   1. p99 SET latency while a BGSAVE of KEYS keys runs (and without one);
#   2. time to load a KEYS-key RDB at start (spawn until PING answers PONG);
#   3. SET throughput with the AOF on, appendfsync everysec and always;
#   4. time to load a KEYS-key AOF (KEYS SET commands) at start.
#
#   bash benches/persistence.sh                  # KEYS=1000000
#   KEYS=200000 N=200000 bash benches/persistence.sh   # quick run
#
# Environment: KEYS (default 1000000), N SETs per latency run (default
# 600000, long enough to cover the whole BGSAVE), NAOF SETs per AOF
# throughput run (default 200000), CLIENTS (default 50),
# REDIS_SERVER (default redis-server). Output: markdown tables, also in
# bench-out/persistence.md.
set -euo pipefail

cd "$(dirname "$0")/.."
KEYS="${KEYS:-1000000}"
N="${N:-600000}"
NAOF="${NAOF:-200000}"
CLIENTS="${CLIENTS:-50}"
# shellcheck source=benches/lib.sh
. benches/lib.sh
need redis-benchmark redis-cli "$REDIS_SERVER"
build_picket

declare -A PID
cleanup() {
    for p in "${PID[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PID[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT



# start NAME BIN PORT [ARGS...]: start in $WORK/NAME (RDB there, no save
# rules, AOF off unless ARGS say otherwise) and wait until PING answers
# PONG (redis answers -LOADING while it loads). Sets START_MS to the
# milliseconds it took.
start() {
    local name=$1 bin=$2 port=$3 t0
    shift 3
    mkdir -p "$WORK/$name"
    t0=$(now_ms)
    "$bin" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$WORK/$name" --dbfilename dump.rdb "$@" >>"$WORK/$name/log" 2>&1 &
    PID[$name]=$!
    for _ in $(seq 1 12000); do
        if [ "$(timeout 2 redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; then
            START_MS=$(($(now_ms) - t0))
            return
        fi
        sleep 0.01
    done
    echo "$name did not start:" >&2; cat "$WORK/$name/log" >&2; exit 1
}

stop() {
    local name=$1
    kill -9 "${PID[$name]}" 2>/dev/null || true
    wait "${PID[$name]}" 2>/dev/null || true
    unset "PID[$name]"
}

echo "generating $KEYS keys..." >&2
awk -v n="$KEYS" 'BEGIN {
    for (i = 0; i < n; i++)
        printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$16\r\nval:%012d\r\n", i, i
}' >"$WORK/mass.resp"


# p99 PORT [bgsave]: p99 SET latency (ms) of one redis-benchmark run,
# optionally starting a BGSAVE just after it starts.
p99() {
    local port=$1 with=${2:-} out
    timeout 600 redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$N" -t set \
        -r "$KEYS" --csv >"$WORK/bench.$port" 2>&1 &
    local bp=$!
    if [ -n "$with" ]; then
        sleep 0.3
        timeout 10 redis-cli -p "$port" bgsave >/dev/null
    fi
    wait "$bp"
    if [ -n "$with" ] && [ "$(info_field "$port" persistence rdb_bgsave_in_progress)" != 0 ]; then
        echo "warning: BGSAVE outlasted the benchmark on $port; raise N" >&2
    fi
    tr '\r' '\n' <"$WORK/bench.$port" | awk -F'"' 'NR>1 && $2=="SET" {print $14; exit}'
}

declare -A BASE BG SAVESEC LOADMS
for name in picket redis; do
    bin=$PICKET; [ "$name" = redis ] && bin=$REDIS_SERVER
    port=$(free_port)
    start "$name" "$bin" "$port"
    echo "$name: loading $KEYS keys..." >&2
    timeout 600 redis-cli -p "$port" --pipe <"$WORK/mass.resp" >/dev/null
    BASE[$name]=$(p99 "$port")
    BG[$name]=$(p99 "$port" bgsave)
    for _ in $(seq 1 600); do
        [ "$(info_field "$port" persistence rdb_bgsave_in_progress)" = 0 ] && break
        sleep 0.1
    done
    SAVESEC[$name]=$(info_field "$port" persistence rdb_last_bgsave_time_sec)
    timeout 120 redis-cli -p "$port" save >/dev/null
    stop "$name"
    start "$name" "$bin" "$port"
    LOADMS[$name]=$START_MS
    keys=$(timeout 10 redis-cli -p "$port" dbsize)
    [ "$keys" -ge "$KEYS" ] || { echo "$name loaded only $keys keys" >&2; exit 1; }
    stop "$name"
done

# rps PORT N: SET requests per second of one redis-benchmark run.
rps() {
    timeout 600 redis-benchmark -h 127.0.0.1 -p "$1" -c "$CLIENTS" -n "$2" -t set \
        -r "$KEYS" --csv 2>&1 | tr '\r' '\n' | awk -F'"' 'NR>1 && $2=="SET" {print $4; exit}'
}

declare -A EVERYSEC ALWAYS AOFMS
for name in picket redis; do
    bin=$PICKET; [ "$name" = redis ] && bin=$REDIS_SERVER
    port=$(free_port)
    rm -rf "$WORK/$name"
    start "$name" "$bin" "$port" --appendonly yes --appendfsync always
    ALWAYS[$name]=$(rps "$port" $((NAOF / 10)))
    timeout 10 redis-cli -p "$port" config set appendfsync everysec >/dev/null
    EVERYSEC[$name]=$(rps "$port" "$NAOF")
    timeout 10 redis-cli -p "$port" flushall >/dev/null
    echo "$name: writing $KEYS keys to the AOF..." >&2
    timeout 600 redis-cli -p "$port" --pipe <"$WORK/mass.resp" >/dev/null
    stop "$name"
    start "$name" "$bin" "$port" --appendonly yes
    AOFMS[$name]=$START_MS
    keys=$(timeout 10 redis-cli -p "$port" dbsize)
    [ "$keys" -ge "$KEYS" ] || { echo "$name loaded only $keys keys from its AOF" >&2; exit 1; }
    stop "$name"
done

TABLE="$OUT/persistence.md"
{
    echo "Persistence: $KEYS keys (16-byte keys and values), redis-benchmark SET -c $CLIENTS -n $N, $(nproc) cores, $(date -u +%Y-%m-%d)"
    echo
    echo "| measure | picket | redis 7.0 | picket/redis |"
    echo "|---|---:|---:|---:|"
    echo "| SET p99 latency, no BGSAVE (ms) | ${BASE[picket]} | ${BASE[redis]} | $(ratio "${BASE[picket]}" "${BASE[redis]}") |"
    echo "| SET p99 latency during BGSAVE (ms) | ${BG[picket]} | ${BG[redis]} | $(ratio "${BG[picket]}" "${BG[redis]}") |"
    echo "| BGSAVE duration (s, INFO rdb_last_bgsave_time_sec) | ${SAVESEC[picket]} | ${SAVESEC[redis]} | |"
    echo "| start-up with the RDB until PING answers (ms) | ${LOADMS[picket]} | ${LOADMS[redis]} | $(ratio "${LOADMS[picket]}" "${LOADMS[redis]}") |"
    echo "| SET rps, AOF appendfsync always (-n $((NAOF / 10))) | ${ALWAYS[picket]} | ${ALWAYS[redis]} | $(ratio "${ALWAYS[picket]}" "${ALWAYS[redis]}") |"
    echo "| SET rps, AOF appendfsync everysec (-n $NAOF) | ${EVERYSEC[picket]} | ${EVERYSEC[redis]} | $(ratio "${EVERYSEC[picket]}" "${EVERYSEC[redis]}") |"
    echo "| start-up with a $KEYS-command AOF until PING answers (ms) | ${AOFMS[picket]} | ${AOFMS[redis]} | $(ratio "${AOFMS[picket]}" "${AOFMS[redis]}") |"
} >"$TABLE"
cat "$TABLE"
