//! `picket-server --handover <sentinel host:port> <master name>`: the data
//! pods' preStop hook. A data pod being stopped for any reason (a node
//! drain's eviction, `kubectl delete pod`) that is the master hands over
//! before it goes: it fences itself (refuses writes, as the operator's
//! planned handover does), gives its replicas up to 2 s to reach its
//! offset, asks a sentinel for `SENTINEL FAILOVER` and waits until the
//! sentinels name another master. A replica, or a master whose sentinels
//! can't be reached, stops at once. Every step is bounded; the kubelet's
//! grace period bounds the whole.

use std::time::{Duration, Instant};

use super::client::{self, Reply};
use super::operations::{all_replicas_caught_up, set_fence, FENCE};

/// The first of `candidates` the server at `local` accepts (the first
/// when none is, or none when there are none).
pub async fn first_accepted(local: &str, candidates: &[String]) -> Option<String> {
    for p in candidates {
        if client::Conn::open(local, Some(p)).await.is_ok() {
            return Some(p.clone());
        }
    }
    candidates.first().cloned()
}

/// What the hook did (printed; the kubelet records a failing hook),
/// within `limit` in all.
pub async fn hand_over(
    local: &str,
    sentinel: &str,
    set: &str,
    pod: &str,
    pw: Option<&str>,
    limit: Duration,
) -> String {
    match tokio::time::timeout(limit, steps(local, sentinel, set, pod, pw, limit)).await {
        Ok(done) => done,
        Err(_) => format!("not done within {limit:?}: stopping"),
    }
}

async fn steps(
    local: &str,
    sentinel: &str,
    set: &str,
    pod: &str,
    pw: Option<&str>,
    limit: Duration,
) -> String {
    let deadline = Instant::now() + limit;
    let role = client::command(local, pw, &["ROLE"]).await;
    let role = role.map(|r| client::strings(&r).first().cloned());
    if !matches!(&role, Ok(Some(r)) if r == "master") {
        return format!("not a master ({role:?}): nothing to hand over");
    }
    let mut s = match client::Conn::open(sentinel, pw).await {
        Ok(s) => s,
        Err(e) => return format!("no sentinel to hand over with: {e}"),
    };
    let named = |r: Result<Reply, client::ClientError>| -> Option<String> {
        let host = client::strings(&r.ok()?).first().cloned()?;
        Some(super::decide::pod_of_host(&host).to_string())
    };
    let asked = s.call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", set]).await;
    if named(asked).as_deref() != Some(pod) {
        return format!("the sentinels do not name {pod} as master: nothing to hand over");
    }
    let restore = client::command(local, pw, &["CONFIG", "GET", "min-replicas-to-write"]).await;
    let restore = restore
        .ok()
        .and_then(|r| client::strings(&r).get(1).cloned());
    let _ = set_fence(local, pw, FENCE).await;
    let asked = if all_replicas_caught_up(local, pw.unwrap_or_default()).await {
        s.call(&["SENTINEL", "FAILOVER", set])
            .await
            .map_err(|e| e.to_string())
    } else {
        Err("a replica did not reach the master's offset".into())
    };
    match asked {
        Ok(Reply::Status(_)) => {}
        other => {
            if let Some(v) = restore {
                let _ = set_fence(local, pw, &v).await;
            }
            return format!("no handover ({other:?}): stopping as master");
        }
    }
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = s.call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", set]).await;
        if let Some(new) = named(now).filter(|n| n != pod) {
            return format!("handed over to {new}");
        }
    }
    format!("the sentinels did not switch within {limit:?}: stopping")
}
