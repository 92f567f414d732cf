#!/usr/bin/env bash
# Compare picket-server with Debian's redis-server 7.0 on this machine.
#
#   bash benches/compare.sh            # N=100000 requests per test
#   N=20000 KEYS=100000 bash benches/compare.sh   # quick run
#
# Both servers run on free loopback ports with the same settings
# (save "" appendonly no) and are measured by the same redis-benchmark,
# interleaved test by test so machine noise hits both alike. Output: a
# markdown table (also written to bench-out/compare.md) ready for README.md.
#
# Environment:
#   N         requests per redis-benchmark run (default 100000)
#   CLIENTS   parallel connections (default 50)
#   KEYS      keys loaded for the memory-per-key measurement (default 1000000)
#   REPEAT    runs per test and server; the best is kept (default 1)
#   THREADS   redis-benchmark --threads (default: unset = single-threaded).
#             On a 2-core machine a second benchmark thread takes CPU from
#             the server under test, so it is off unless the benchmark is
#             shown to be the bottleneck (its own CPU near 100%).
#   REDIS_SERVER  redis-server binary (default: redis-server on PATH)
set -euo pipefail

cd "$(dirname "$0")/.."
N="${N:-100000}"
CLIENTS="${CLIENTS:-50}"
KEYS="${KEYS:-1000000}"
REPEAT="${REPEAT:-1}"
THREADS="${THREADS:-}"
# shellcheck source=benches/lib.sh
. benches/lib.sh
need redis-benchmark redis-cli "$REDIS_SERVER"
build_picket
[ -x "$PICKET" ] || { echo "no binary at $PICKET" >&2; exit 1; }


# start NAME BINARY PORT: starts a server in its own scratch dir and waits
# (at most 10 s) until it answers PING.
start() {
    local name=$1 bin=$2 port=$3
    mkdir -p "$WORK/$name"
    "$bin" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$WORK/$name" >"$WORK/$name/log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 200); do
        if [ "$(timeout 2 redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; then
            return
        fi
        sleep 0.05
    done
    echo "$name did not start:" >&2
    cat "$WORK/$name/log" >&2
    exit 1
}

PP=$(free_port); start picket "$PICKET" "$PP"
RP=$(free_port); start redis "$REDIS_SERVER" "$RP"
echo "picket on $PP, $($PICKET --version)" >&2
echo "redis  on $RP, $($REDIS_SERVER --version)" >&2

# rps PORT TEST PIPELINE [extra args]: best requests/second of REPEAT runs,
# or n/a when the server refuses the command (not implemented yet).
rps() {
    local port=$1 test=$2 pipe=$3
    shift 3
    local best="" out r i
    for i in $(seq 1 "$REPEAT"); do
        # Readers (GET, LPOP) use what the preceding SET/LPUSH row wrote.
        case "$test" in
            get | lpop) ;;
            *) timeout 30 redis-cli -p "$port" flushall >/dev/null 2>&1 || true ;;
        esac
        if out=$(timeout 300 redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$N" \
            -P "$pipe" -t "$test" --csv ${THREADS:+--threads "$THREADS"} "$@" 2>&1); then
            r=$(printf '%s\n' "$out" | tr '\r' '\n' | awk -F'"' 'NR>1 && $2!="" && $4+0>0 {print $4; exit}')
        else
            r=""
        fi
        if [ -z "$r" ] || printf '%s' "$out" | grep -qi 'error'; then
            echo "n/a"
            return
        fi
        if [ -z "$best" ] || awk -v a="$r" -v b="$best" 'BEGIN{exit !(a>b)}'; then
            best=$r
        fi
    done
    echo "$best"
}


fmt() {
    if [ "$1" = n/a ]; then echo n/a; else awk -v a="$1" 'BEGIN{printf "%.0f", a}'; fi
}

TABLE="$OUT/compare.md"
{
    echo "Throughput: redis-benchmark -c $CLIENTS -n $N, $(nproc) cores, $(date -u +%Y-%m-%d)"
    echo
    echo "| test | pipeline | value size | picket rps | redis 7.0 rps | picket/redis |"
    echo "|---|---:|---:|---:|---:|---:|"
} >"$TABLE"

row() {
    local test=$1 pipe=$2 size=$3
    shift 3
    local p r
    echo "running $test -P $pipe -d $size..." >&2
    p=$(rps "$PP" "$test" "$pipe" -d "$size" "$@")
    r=$(rps "$RP" "$test" "$pipe" -d "$size" "$@")
    echo "| $(echo "$test" | tr a-z A-Z) | $pipe | $size | $(fmt "$p") | $(fmt "$r") | $(ratio "$p" "$r") |" >>"$TABLE"
}

for pipe in 1 16; do
    for t in set get incr lpush lpop sadd hset zadd mset; do
        row "$t" "$pipe" 3
    done
done
for t in set get; do
    row "$t" 1 4096
done

# Memory per key: KEYS keys of exactly 12 bytes ("key:" + 8 digits) with
# 16-byte values ("val:" + 12 digits), bulk-loaded with redis-cli --pipe.
echo "generating $KEYS keys for the memory test..." >&2
awk -v n="$KEYS" 'BEGIN {
    for (i = 0; i < n; i++)
        printf "*3\r\n$3\r\nSET\r\n$12\r\nkey:%08d\r\n$16\r\nval:%012d\r\n", i, i
}' >"$WORK/mass.resp"

used_memory() {
    timeout 10 redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}'
}

mem_per_key() {
    local port=$1 before after n
    timeout 30 redis-cli -p "$port" flushall >/dev/null
    sleep 0.5
    before=$(used_memory "$port")
    timeout 300 redis-cli -p "$port" --pipe <"$WORK/mass.resp" >"$WORK/pipe.$port" 2>&1 || {
        cat "$WORK/pipe.$port" >&2
        echo "n/a n/a n/a"
        return
    }
    sleep 0.5
    after=$(used_memory "$port")
    n=$(timeout 10 redis-cli -p "$port" dbsize)
    awk -v b="$before" -v a="$after" -v n="$n" 'BEGIN{printf "%d %d %.1f\n", n, a, (a-b)/n}'
}

echo "loading $KEYS keys into each server..." >&2
read -r pk pmem pper < <(mem_per_key "$PP")
read -r rk rmem rper < <(mem_per_key "$RP")
{
    echo
    echo "Memory: $KEYS keys, 12-byte keys and 16-byte values (used_memory after loading, minus before)"
    echo
    echo "| server | keys | used_memory | bytes per key |"
    echo "|---|---:|---:|---:|"
    echo "| picket | $pk | $pmem | $pper |"
    echo "| redis 7.0 | $rk | $rmem | $rper |"
    echo
    echo "picket/redis bytes per key: $(ratio "$pper" "$rper")"
} >>"$TABLE"

cat "$TABLE"
