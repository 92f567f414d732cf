#!/usr/bin/env bash
# Failover benchmark, picket (server + sentinel) vs Debian's redis-server
# 7.0 (server + --sentinel), side by side: one master, two replicas, three
# sentinels (quorum 2, down-after-milliseconds 3000). The master is killed
# with SIGKILL; measured from the kill: (a) every sentinel answers the new
# master's address, (b) a client that asks a sentinel for the master gets
# a write accepted there. TRIALS per side (default 5), alternating; the
# table shows every trial and the median.
#
#   bash benches/failover.sh
#   TRIALS=1 bash benches/failover.sh   # quick
set -euo pipefail

cd "$(dirname "$0")/.."
TRIALS="${TRIALS:-5}"
# shellcheck source=benches/lib.sh
. benches/lib.sh
need redis-cli "$REDIS_SERVER"
build_picket


# trial BIN DIR: prints "ms_all_sentinels ms_first_write".
trial() {
    local bin=$1 dir=$2 mp r1 r2 s t0 a="" b="" mpid
    rm -rf "$dir"; mkdir -p "$dir"
    mp=$(free_port); r1=$(free_port); r2=$(free_port)
    local extra=(); [ "$bin" = "$PICKET" ] && extra=(--save "")
    "$bin" --port "$mp" --bind 127.0.0.1 --dir "$dir" --repl-diskless-sync-delay 0 "${extra[@]}" >"$dir/m.log" 2>&1 &
    mpid=$!; PIDS+=("$mpid")
    for p in "$r1" "$r2"; do
        "$bin" --port "$p" --bind 127.0.0.1 --dir "$dir" --replicaof 127.0.0.1 "$mp" "${extra[@]}" >"$dir/r$p.log" 2>&1 &
        PIDS+=($!)
    done
    local sports=()
    for _ in 1 2 3; do
        s=$(free_port); sports+=("$s")
        printf 'port %s\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 %s 2\nsentinel down-after-milliseconds mymaster 3000\nsentinel failover-timeout mymaster 10000\nsentinel parallel-syncs mymaster 2\n' "$s" "$mp" >"$dir/s$s.conf"
        "$bin" "$dir/s$s.conf" --sentinel >"$dir/s$s.log" 2>&1 &
        PIDS+=($!)
    done
    # Until every sentinel knows the two replicas and the two others.
    for _ in $(seq 1 600); do
        local ready=1
        for s in "${sports[@]}"; do
            local m
            m=$(timeout 2 redis-cli -p "$s" sentinel master mymaster 2>/dev/null | tr '\n' ' ' || true)
            [[ "$m" == *"num-slaves 2 "* && "$m" == *"num-other-sentinels 2 "* ]] || ready=0
        done
        [ "$ready" = 1 ] && break
        sleep 0.1
    done
    sleep 1
    t0=$(now_ms)
    kill -9 "$mpid"
    for _ in $(seq 1 3000); do
        if [ -z "$a" ]; then
            local all=1
            for s in "${sports[@]}"; do
                [ "$(timeout 2 redis-cli -p "$s" sentinel get-master-addr-by-name mymaster 2>/dev/null | tail -1)" = "$mp" ] && all=0
            done
            [ "$all" = 1 ] && a=$(($(now_ms) - t0))
        fi
        if [ -z "$b" ]; then
            local np
            np=$(timeout 2 redis-cli -p "${sports[0]}" sentinel get-master-addr-by-name mymaster 2>/dev/null | tail -1 || true)
            if [ -n "$np" ] && [ "$np" != "$mp" ] && [ "$(timeout 2 redis-cli -p "$np" set failover-probe 1 2>/dev/null)" = OK ]; then
                b=$(($(now_ms) - t0))
            fi
        fi
        [ -n "$a" ] && [ -n "$b" ] && break
        sleep 0.02
    done
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
    echo "${a:-timeout} ${b:-timeout}"
}

median() { tr ' ' '\n' | grep -v timeout | sort -n | awk '{v[NR]=$1} END{ if (NR==0) print "n/a"; else print v[int((NR+1)/2)] }'; }

declare -A A B
for i in $(seq 1 "$TRIALS"); do
    for side in picket redis; do
        bin=$PICKET; [ "$side" = redis ] && bin=$REDIS_SERVER
        echo "trial $i: $side..." >&2
        # In this shell (not a subshell), so the EXIT trap sees its PIDs.
        trial "$bin" "$WORK/$side" >"$WORK/result"
        read -r x y <"$WORK/result"
        A[$side.$i]=$x; B[$side.$i]=$y
    done
done

TABLE="$OUT/failover.md"
{
    echo "Failover after kill -9 of the master (down-after-milliseconds 3000, 3 sentinels, quorum 2, 2 replicas); $(nproc) cores, $(date -u +%Y-%m-%d)"
    echo
    echo "| trial | all sentinels report the new master, picket (ms) | redis (ms) | first write accepted, picket (ms) | redis (ms) |"
    echo "|---|---:|---:|---:|---:|"
    for i in $(seq 1 "$TRIALS"); do
        echo "| $i | ${A[picket.$i]} | ${A[redis.$i]} | ${B[picket.$i]} | ${B[redis.$i]} |"
    done
    pa=$(for i in $(seq 1 "$TRIALS"); do echo -n "${A[picket.$i]} "; done | median)
    ra=$(for i in $(seq 1 "$TRIALS"); do echo -n "${A[redis.$i]} "; done | median)
    pb=$(for i in $(seq 1 "$TRIALS"); do echo -n "${B[picket.$i]} "; done | median)
    rb=$(for i in $(seq 1 "$TRIALS"); do echo -n "${B[redis.$i]} "; done | median)
    echo "| median | $pa | $ra | $pb | $rb |"
    echo
    echo "picket/redis (medians): all sentinels $(ratio "$pa" "$ra"), first write $(ratio "$pb" "$rb")"
} >"$TABLE"
cat "$TABLE"
