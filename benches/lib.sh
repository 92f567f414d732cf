# Shared by the benchmark scripts (sourced, not run, from the repository
# root): the output and scratch directories, cleanup of the servers a
# script starts (their PIDs in PIDS), tool checks, the release build, free
# loopback ports, clocks and INFO fields.

REDIS_SERVER="${REDIS_SERVER:-redis-server}"
OUT=bench-out
mkdir -p "$OUT"
WORK="$(mktemp -d)"
PIDS=()

# cleanup: kills the servers in PIDS and removes WORK (on EXIT).
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# need TOOL...: exits with an install hint when one is missing.
need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install redis-server redis-tools)" >&2; exit 1; }
    done
}

# build_picket: builds the release binary and sets PICKET to its path.
build_picket() {
    echo "building picket-server (release)..." >&2
    cargo build --release --bin picket-server -q
    PICKET="${CARGO_TARGET_DIR:-target}/release/picket-server"
}

# free_port: a loopback port nobody listens on.
free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
    done
    echo "no free port" >&2; exit 1
}

now_ms() { date +%s%3N; }

# info_field PORT SECTION FIELD: one INFO field of the server on PORT.
info_field() { timeout 10 redis-cli -p "$1" info "$2" 2>/dev/null | tr -d '\r' | awk -F: -v f="$3" '$1==f{print $2}'; }

# ratio A B: A/B with two decimals, n/a when either is n/a or B is 0.
ratio() {
    if [ "$1" = n/a ] || [ "$2" = n/a ]; then echo n/a; return; fi
    awk -v a="$1" -v b="$2" 'BEGIN{ if (b+0 == 0) print "n/a"; else printf "%.2f", a/b }'
}
