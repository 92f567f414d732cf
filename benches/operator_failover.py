#!/usr/bin/env python3
"""Failover through the operator on the test bed, measured from outside.

For each mode (the operator as shipped, following the sentinels' events;
and the same operator with --no-sentinel-events, moving the master
Service only when a reconcile finds the change, as polling operators do),
a cache (3 data pods, 3 sentinels, down-after 3000 ms) and TRIALS times:
a writer sends SET + WAIT 1 through the master Service's ClusterIP; the
master pod is force-deleted (--grace-period=0 --force). Measured:

  switch->endpoints  from the first sentinel's +switch-master (subscribed
                     by this script) to a watch of the master EndpointSlice
                     showing the new master's address alone
  kill->write        from the deletion to the first write the Service
                     accepts after the outage (the first success after the
                     first failed write; a force-deleted pod's container
                     may serve a few ms more)
  lost               writes acknowledged by WAIT 1 missing on the new
                     master (must be 0)

Run by benches/operator-failover.sh (which builds, starts the test bed
when needed and loads the images). Every wait is bounded.
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

import redis

TRIALS = int(os.environ.get("TRIALS", "10"))
MODES = os.environ.get("MODES", "events,reconcile").split(",")
OPERATOR = os.environ["OPERATOR"]
OUT = os.environ.get("OUT", "bench-out")
CACHE = """apiVersion: picket.dev/v1alpha1
kind: ReplicatedCache
metadata: {name: cache}
spec:
  replicas: 3
  sentinels: 3
  sentinel: {downAfterMilliseconds: 3000, failoverTimeout: 10000, parallelSyncs: 2}
"""


def kubectl(*args, ns=None, input=None, check=True, timeout=180):
    cmd = ["kubectl"] + (["-n", ns] if ns else []) + list(args)
    r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return r.stdout.strip()


def jsonpath(ns, kind, name, path):
    return kubectl("get", kind, name, "-o", f"jsonpath={path}", ns=ns, check=False)


def until(limit, f, what):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        v = f()
        if v:
            return v
        time.sleep(0.2)
    raise RuntimeError(f"timed out after {limit} s: {what}")


def conn(addr, pw, timeout=2.0):
    host, port = addr.rsplit(":", 1)
    return redis.Redis(host=host, port=int(port), password=pw, socket_timeout=timeout,
                       socket_connect_timeout=timeout, decode_responses=True)


def try_(f, default=None):
    try:
        return f()
    except Exception:
        return default


class Cache:
    def __init__(self, ns):
        self.ns = ns
        self.pw = None
        self.vip = None

    def slice(self):
        s = jsonpath(self.ns, "endpointslice", "cache", "{.endpoints[*].addresses[*]}")
        return s.split()

    def ip(self, pod):
        return jsonpath(self.ns, "pod", pod, "{.status.podIP}")

    def healthy(self):
        """One master behind the Service, both replicas synced and known
        to the sentinels with no flag but slave: ready for a fault."""
        if len(self.slice()) != 1:
            return False
        m = try_(lambda: conn(f"{self.vip}:6379", self.pw))
        if not m or try_(lambda: m.execute_command("WAIT", 2, 1000), 0) != 2:
            return False
        masters = set()
        for i in range(3):
            ip = self.ip(f"cache-sentinel-{i}")
            s = try_(lambda: conn(f"{ip}:26379", self.pw))
            reps = try_(lambda: s.execute_command("SENTINEL", "REPLICAS", "cache"), [])
            flags = [dict(zip(r[::2], r[1::2])).get("flags") for r in reps or []]
            if sorted(flags) != ["slave", "slave"]:
                return False
            addr = try_(lambda: s.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "cache"))
            masters.add(tuple(addr or ()))
        # Every sentinel has the last switch (a late one learns it from a
        # hello seconds later).
        return len(masters) == 1


def watch_slice(ns, out, stop):
    """Appends (time, addresses) for every change kubectl's watch shows."""
    p = subprocess.Popen(["kubectl", "-n", ns, "get", "endpointslice", "cache", "-w", "-o",
                          "jsonpath={.endpoints[*].addresses[*]}{\"\\n\"}"],
                         stdout=subprocess.PIPE, text=True)
    def reader():
        for line in p.stdout:
            out.append((time.monotonic(), line.split()))
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    stop.wait(120)
    p.kill()
    p.wait()


def subscribe_switch(addr, pw, seen, stop):
    """Records when this sentinel announces +switch-master."""
    try:
        s = conn(addr, pw, timeout=0.2)
        ps = s.pubsub()
        ps.subscribe("+switch-master")
        end = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < end:
            try:
                m = ps.get_message(timeout=0.2)
            except Exception:
                continue
            if m and m["type"] == "message":
                seen.append((time.monotonic(), m["data"]))
    except Exception:
        pass


def writer(addr, pw, stop, acked, accepted, failed):
    c = None
    i = 0
    end = time.monotonic() + 600
    while not stop.is_set() and time.monotonic() < end:
        if c is None:
            c = try_(lambda: conn(addr, pw, timeout=0.5))
            if c is None:
                failed.append(time.monotonic())
                time.sleep(0.01)
                continue
        i += 1
        key = f"w{i}"
        try:
            c.set(key, i)
            accepted.append(time.monotonic())
            if c.execute_command("WAIT", 1, 100) >= 1:
                acked.append(key)
        except Exception:
            failed.append(time.monotonic())
            c = None


def trial(cache):
    ns, pw = cache.ns, cache.pw
    old = cache.slice()
    old_pod = jsonpath(ns, "rcache", "cache", "{.status.master}")
    stop = threading.Event()
    changes, switches, acked, accepted, failed = [], [], [], [], []
    threads = [threading.Thread(target=watch_slice, args=(ns, changes, stop), daemon=True)]
    for i in range(3):
        ip = cache.ip(f"cache-sentinel-{i}")
        threads.append(threading.Thread(target=subscribe_switch,
                                        args=(f"{ip}:26379", pw, switches, stop), daemon=True))
    for t in threads:
        t.start()
    wstop = threading.Event()
    w = threading.Thread(target=writer, args=(f"{cache.vip}:6379", pw, wstop, acked, accepted, failed), daemon=True)
    w.start()
    time.sleep(1.5)
    killed = time.monotonic()
    kubectl("delete", "pod", old_pod, "--grace-period=0", "--force", ns=ns)
    def moved():
        for t, addrs in changes:
            if t > killed and len(addrs) == 1 and addrs != old:
                return (t, addrs[0])
        return None
    t_ep, new_ip = until(60, moved, "the master Service to move")
    time.sleep(2.0)
    wstop.set()
    w.join(10)
    stop.set()
    for t in threads:
        t.join(5)
    two = [a for _, a in changes if len(a) > 1]
    # This failover's +switch-master: away from the deleted pod.
    t_switch = min((t for t, d in switches
                    if t > killed and d.split()[1].startswith(old_pod + ".")), default=None)
    outage = next((t for t in failed if t > killed), None)
    first = None if outage is None else next((t for t in accepted if t > outage), None)
    m = conn(f"{new_ip}:6379", pw)
    missing = 0
    for k in range(0, len(acked), 500):
        chunk = acked[k:k + 500]
        missing += sum(1 for v in m.mget(chunk) if v is None)
    return {
        "switch_ms": None if t_switch is None else round((t_ep - t_switch) * 1000),
        "write_ms": None if first is None else round((first - killed) * 1000),
        "lost": missing,
        "acked": len(acked),
        "two_masters": len(two),
    }


def run_mode(mode):
    ns = f"bench-{mode}"
    kubectl("delete", "namespace", ns, "--ignore-not-found", "--timeout=120s", check=False)
    kubectl("create", "namespace", ns)
    log = open(os.path.join(OUT, f"operator-{mode}.log"), "w")
    args = [OPERATOR, "--http-addr", "127.0.0.1:0"]
    if mode == "reconcile":
        args.append("--no-sentinel-events")
    op = subprocess.Popen(args, stdout=log, stderr=log, env=dict(os.environ, NO_COLOR="1"))
    results = []
    try:
        until(60, lambda: try_(lambda: kubectl("get", "serviceaccount", "default", ns=ns)), "namespace")
        kubectl("apply", "-f", "-", ns=ns, input=CACHE)
        kubectl("wait", "--for=condition=Available", "rcache/cache", "--timeout=180s", ns=ns, timeout=200)
        cache = Cache(ns)
        b64 = jsonpath(ns, "secret", "cache-auth", "{.data.password}")
        import base64
        cache.pw = base64.b64decode(b64).decode()
        cache.vip = jsonpath(ns, "service", "cache", "{.spec.clusterIP}")
        for i in range(TRIALS):
            until(180, cache.healthy, "the cache healthy again")
            r = trial(cache)
            results.append(r)
            print(f"  {mode:9} trial {i + 1:2}: switch->endpoints {r['switch_ms']} ms, "
                  f"kill->write {r['write_ms']} ms, acked {r['acked']}, lost {r['lost']}",
                  file=sys.stderr, flush=True)
    finally:
        op.terminate()
        try:
            op.wait(10)
        except subprocess.TimeoutExpired:
            op.kill()
            op.wait()
        kubectl("delete", "namespace", ns, "--wait=false", check=False)
    return results


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    # A SIGTERM (timeout, kill) unwinds, so the operator started here is
    # stopped by run_mode's finally rather than left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs(OUT, exist_ok=True)
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "crds/")
    kubectl("wait", "--for=condition=Established", "crd/replicatedcaches.picket.dev", "--timeout=60s")
    all_results = {}
    for mode in MODES:
        all_results[mode] = run_mode(mode)
    with open(os.path.join(OUT, "operator-failover.json"), "w") as f:
        json.dump(all_results, f, indent=1)
    print(f"\nOperator failover, {TRIALS} force-deleted masters per mode (ms; lost = WAIT 1 acknowledged writes missing)\n")
    print("| mode | switch->endpoints p50 | max | kill->first write p50 | max | lost | two masters seen |")
    print("|---|---|---|---|---|---|---|")
    summary = {}
    for mode, rs in all_results.items():
        sw = [r["switch_ms"] for r in rs]
        wr = [r["write_ms"] for r in rs]
        summary[mode] = (med(sw), med(wr))
        mx = lambda xs: max((x for x in xs if x is not None), default=None)
        print(f"| {mode} | {med(sw)} | {mx(sw)} | {med(wr)} | {mx(wr)} | "
              f"{sum(r['lost'] for r in rs)} | {sum(r['two_masters'] for r in rs)} |")
    if "events" in summary and "reconcile" in summary:
        (se, we), (sr, wr) = summary["events"], summary["reconcile"]
        if se and sr:
            print(f"\nswitch->endpoints: events {se} ms vs reconcile-only {sr} ms "
                  f"(ratio {se / sr:.4f}, {sr / se:.0f}x faster)")
        if we and wr:
            print(f"kill->first write: events {we} ms vs reconcile-only {wr} ms "
                  f"(ratio {we / wr:.2f})")
    lost = sum(r["lost"] for rs in all_results.values() for r in rs)
    two = sum(r["two_masters"] for rs in all_results.values() for r in rs)
    sys.exit(1 if lost or two else 0)


if __name__ == "__main__":
    main()
