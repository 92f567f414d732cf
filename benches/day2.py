#!/usr/bin/env python3
"""Day-2 operations on the test bed, measured from outside, side by side.

Two modes of the same operator and pods:

  picket  as shipped: both StatefulSets OnDelete, the operator rolls one
          pod at a time (replicas, then the master after a fenced
          handover); a data pod's preStop hook hands a master over
  plain   --plain-rollouts: Kubernetes' RollingUpdate restarts the pods
          (highest ordinal first, each once the previous is Ready), no
          preStop handover; the sentinels fail the master over when its
          pod goes (down-after 3000 ms)

and TRIALS times per scenario, a writer doing SET + WAIT 1 through the
master Service's ClusterIP (reconnecting on error):

  scale     replicas 3 -> 5, then back to 3 (the sentinels forget the
            removed pods: until each lists exactly the two replicas)
  evict     the master evicted through the Eviction API (a node drain)
  upgrade   a pod-template change (an annotation): every pod restarted
  rotate    the password changed in its Secret (picket only: the same
            operator code runs in both modes); a second writer with the
            new password starts once both are accepted; the outage is
            the longer of the old writer's (until the old password is
            removed) and the new writer's

The plain mode runs its scenarios in that order because a plain upgrade
can leave the cache broken for good (see the README), which ends the
mode.

Measured: the writer's longest gap between two accepted writes
(outage), and writes acknowledged by WAIT 1 missing on the master at the
end (lost; must be 0 for picket). Run by benches/day2.sh. Every wait is
bounded.
"""

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time

from operator_failover import CACHE, Cache, conn, jsonpath, kubectl, try_, until, writer

TRIALS = int(os.environ.get("TRIALS", "3"))
MODES = os.environ.get("MODES", "picket,plain").split(",")
SCENARIOS = os.environ.get("SCENARIOS", "scale,evict,upgrade,rotate").split(",")
OPERATOR = os.environ["OPERATOR"]
OUT = os.environ.get("OUT", "bench-out")


def uids(ns):
    out = kubectl("get", "pods", "-o", "jsonpath={range .items[*]}{.metadata.name}={.metadata.uid} {end}",
                  ns=ns, check=False)
    return dict(kv.split("=", 1) for kv in out.split())


def uids_of(ns, pods):
    now = uids(ns)
    return [now.get(p) for p in pods]


def all_ready(ns, pods):
    return all(kubectl("get", "pod", p, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
                       ns=ns, check=False) == "True" for p in pods)


def converged(ns, before):
    """Every pod of `before` runs under a new UID, all Ready, and one
    master serves behind the Service."""
    now = uids(ns)
    if set(now) != set(before) or any(now[p] == before[p] for p in before):
        return False
    ready = kubectl("get", "pods", "-o", "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}",
                    ns=ns, check=False).split()
    return len(ready) == len(before) and all(r == "True" for r in ready)


def trial(cache, scenario, n):
    ns, pw = cache.ns, cache.pw
    stop = threading.Event()
    acked, accepted, failed = [], [], []
    w = threading.Thread(target=writer, args=(f"{cache.vip}:6379", pw, stop, acked, accepted, failed),
                         daemon=True)
    w.start()
    time.sleep(1.5)
    start = time.monotonic()
    master = jsonpath(ns, "rcache", "cache", "{.status.master}")
    second = None
    if scenario == "scale":
        patch = lambda n: kubectl("patch", "rcache", "cache", "--type=merge", "-p",
                                  json.dumps({"spec": {"replicas": n}}), ns=ns)
        patch(5)
        until(300, lambda: all_ready(ns, ["cache-3", "cache-4"]) and try_(
            lambda: conn(f"{cache.vip}:6379", pw).execute_command("WAIT", 4, 1000), 0) == 4,
            "five data pods in sync")
        patch(3)
        until(400, lambda: not any(uids_of(ns, ["cache-3", "cache-4"])) and cache.healthy(),
              "back to three, the sentinels knowing exactly two replicas")
    elif scenario == "rotate":
        kubectl("patch", "rcache", "cache", "--type=merge", "-p",
                json.dumps({"spec": {"passwordRotationGraceSeconds": 15}}), ns=ns)
        new = f"bench{int(time.time())}"
        kubectl("patch", "secret", "cache-auth", "-p", json.dumps({"stringData": {"password": new}}), ns=ns)
        phase = lambda: jsonpath(ns, "rcache", "cache",
                                 "{.status.passwordRotation.phase}/{.status.passwordRotation.bothAcceptedSince}")
        until(120, lambda: phase().startswith("AcceptingBoth/") and len(phase()) > 14, "both passwords accepted")
        second = ([], [], [], threading.Event())
        threading.Thread(target=writer, args=(f"{cache.vip}:6379", new, second[3], *second[:3]),
                         daemon=True).start()
        last_accepting = time.monotonic()
        def removed():
            nonlocal last_accepting
            ph = phase()
            if ph.startswith("AcceptingBoth"):
                last_accepting = time.monotonic()
            return ph == "/"
        until(300, removed, "the old password removed")
        cache.pw = new
    elif scenario == "upgrade":
        before = uids(ns)
        kubectl("patch", "rcache", "cache", "--type=merge", "-p",
                json.dumps({"spec": {"podAnnotations": {"bench/rollout": f"{time.time()}"}}}), ns=ns)
        until(400, lambda: converged(ns, before), "every pod restarted")
    else:
        old = cache.slice()
        body = json.dumps({"apiVersion": "policy/v1", "kind": "Eviction",
                           "metadata": {"name": master, "namespace": ns}})
        kubectl("create", "--raw", f"/api/v1/namespaces/{ns}/pods/{master}/eviction", "-f", "-",
                ns=None, input=body)
        until(120, lambda: len(cache.slice()) == 1 and cache.slice() != old, "the Service to move")
        until(180, lambda: jsonpath(ns, "pod", master, "{.status.podIP}") not in ("", *old)
              and kubectl("get", "pod", master, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
                          ns=ns, check=False) == "True", "the evicted pod back")
    took = time.monotonic() - start
    time.sleep(2.0)
    stop.set()
    w.join(10)
    gaps = [b - a for a, b in zip(accepted, accepted[1:]) if b > start]
    if second:
        second[3].set()
        # The old writer counts while its password was accepted.
        gaps = [g for g, b in zip(gaps, [b for b in accepted[1:] if b > start]) if b <= last_accepting]
        gaps += [b - a for a, b in zip(second[1], second[1][1:])]
        acked = acked + second[0]
    r = {"scenario": scenario, "outage_ms": round(max(gaps, default=0) * 1000),
         "took_s": round(took, 1), "lost": None, "acked": len(acked), "recovered": False}
    # Counted once the cache has settled (one master behind the Service,
    # its replicas in sync, known to the sentinels); a cache that does
    # not within 300 s is reported so, and its mode stops there.
    try:
        until(300, cache.healthy, "the cache healthy after the trial")
    except RuntimeError:
        return r
    m = conn(f"{cache.slice()[0]}:6379", cache.pw)
    missing = 0
    for k in range(0, len(acked), 500):
        chunk = acked[k:k + 500]
        missing += sum(1 for v in m.mget(chunk) if v is None)
    r.update(lost=missing, recovered=True)
    return r


def run_mode(mode):
    ns = f"bench-day2-{mode}"
    kubectl("delete", "namespace", ns, "--ignore-not-found", "--timeout=180s", check=False, timeout=200)
    kubectl("create", "namespace", ns)
    log = open(os.path.join(OUT, f"day2-operator-{mode}.log"), "w")
    args = [OPERATOR, "--http-addr", "127.0.0.1:0", "--no-leader-elect"]
    if mode == "plain":
        args.append("--plain-rollouts")
    op = subprocess.Popen(args, stdout=log, stderr=log, env=dict(os.environ, NO_COLOR="1"))
    results = []
    try:
        until(60, lambda: try_(lambda: kubectl("get", "serviceaccount", "default", ns=ns)), "namespace")
        kubectl("apply", "-f", "-", ns=ns, input=CACHE)
        kubectl("wait", "--for=condition=Available", "rcache/cache", "--timeout=180s", ns=ns, timeout=200)
        cache = Cache(ns)
        cache.pw = base64.b64decode(jsonpath(ns, "secret", "cache-auth", "{.data.password}")).decode()
        cache.vip = jsonpath(ns, "service", "cache", "{.spec.clusterIP}")
        for scenario in SCENARIOS:
            if scenario == "rotate" and mode == "plain":
                continue
            for i in range(TRIALS):
                until(240, cache.healthy, "the cache healthy again")
                r = trial(cache, scenario, i)
                results.append(r)
                print(f"  {mode:6} {scenario:7} trial {i + 1}: outage {r['outage_ms']} ms, "
                      f"took {r['took_s']} s, acked {r['acked']}, lost {r['lost']}"
                      f"{'' if r['recovered'] else ', NOT RECOVERED within 300 s'}",
                      file=sys.stderr, flush=True)
                if not r["recovered"]:
                    return results
    finally:
        op.terminate()
        try:
            op.wait(10)
        except subprocess.TimeoutExpired:
            op.kill()
            op.wait()
        kubectl("delete", "namespace", ns, "--wait=false", check=False)
    return results


def main():
    # A SIGTERM (timeout, kill) unwinds, so the operator started here is
    # stopped by run_mode's finally rather than left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs(OUT, exist_ok=True)
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "crds/")
    kubectl("wait", "--for=condition=Established", "crd/replicatedcaches.picket.dev", "--timeout=60s")
    res = {mode: run_mode(mode) for mode in MODES}
    with open(os.path.join(OUT, "day2.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(f"\nDay-2 operations, {TRIALS} trials each (writer: SET + WAIT 1 through the master Service)\n")
    print("| scenario | mode | longest outage, median / max | WAIT 1 writes lost (of acked) | took, median |")
    print("|---|---|---|---|---|")
    med = lambda xs: sorted(xs)[len(xs) // 2] if xs else None
    summary = {}
    for scenario in SCENARIOS:
        for mode in MODES:
            rs = [r for r in res[mode] if r["scenario"] == scenario]
            out = [r["outage_ms"] for r in rs]
            summary[(scenario, mode)] = med(out)
            lost = [r["lost"] for r in rs if r["recovered"]]
            stuck = sum(1 for r in rs if not r["recovered"])
            print(f"| {scenario} | {mode} | {med(out)} ms / {max(out, default=None)} ms | "
                  f"{sum(lost)} (of {sum(r['acked'] for r in rs)})"
                  f"{f'; {stuck} trial(s) never recovered (300 s)' if stuck else ''} | "
                  f"{med([r['took_s'] for r in rs])} s |")
    for scenario in SCENARIOS:
        p, q = summary.get((scenario, "picket")), summary.get((scenario, "plain"))
        if p and q:
            print(f"\n{scenario}: longest outage picket {p} ms vs plain {q} ms (ratio {p / q:.2f})")
    bad = [r for r in res.get("picket", []) if r["lost"] or not r["recovered"]]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
