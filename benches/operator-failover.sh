#!/usr/bin/env bash
# Failover through picket-operator on the test bed (scripts/dev-cluster):
# force-deleted masters, measured from outside the operator, for the
# operator as shipped (the sentinels' events move the master Service) and
# for the same operator with --no-sentinel-events (only reconciles move
# it, as polling operators do), side by side with ratios. See
# benches/operator_failover.py for what is measured. Exits 1 if any
# acknowledged write was lost or the Service ever showed two masters.
#
#   bash benches/operator-failover.sh             # 10 trials per mode
#   TRIALS=3 MODES=events bash benches/operator-failover.sh
#
# Starts the test bed when it is not up (and stops it again at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh
command -v python3 >/dev/null && python3 -c 'import redis' 2>/dev/null \
    || { echo "needs python3 with redis-py (pip install redis)" >&2; exit 1; }

echo "building picket-server and picket-operator (release)..." >&2
cargo build --release -q --bin picket-server --bin picket-operator
export PATH="${TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/picket/testbed}/bin:$PATH"
started=no
if ! KUBECONFIG="${PICKET_CLUSTER_DIR:-target/dev-cluster}/admin.kubeconfig" \
        kubectl get --raw /readyz >/dev/null 2>&1; then
    scripts/dev-cluster up >&2
    started=yes
fi
stop_cluster() { [ "$started" = yes ] && scripts/dev-cluster down >&2 || true; cleanup; }
trap stop_cluster EXIT
scripts/dev-cluster load-images >&2
eval "$(scripts/dev-cluster env)"
export KUBECONFIG
export OPERATOR="${CARGO_TARGET_DIR:-target}/release/picket-operator" OUT
python3 benches/operator_failover.py | tee "$OUT/operator-failover.md"
