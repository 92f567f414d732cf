#!/usr/bin/env bash
# Day-2 operations through picket-operator on the test bed
# (scripts/dev-cluster): scaling, an evicted master, a rolling upgrade and
# a password rotation under a writer, for the operator as shipped
# (orchestrated rollout, preStop handover) and for the same pods left to
# Kubernetes' RollingUpdate
# (--plain-rollouts), side by side with ratios. See benches/day2.py for
# what is measured. Exits 1 if picket lost an acknowledged write.
#
#   bash benches/day2.sh                          # 3 trials per scenario and mode
#   TRIALS=1 MODES=picket SCENARIOS=upgrade,rotate bash benches/day2.sh
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
python3 benches/day2.py | tee "$OUT/day2.md"
