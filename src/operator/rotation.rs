//! Password rotation without downtime. The password the pods require is
//! kept in an operator-owned Secret `<cache>-auth-state` (the only place
//! the old password survives once the user's Secret holds the new one).
//! When the two differ, the rotation runs in two phases, each step
//! idempotent and retried every reconcile until every pod has done it:
//!
//! 1. `AcceptingBoth`: every data pod and sentinel accepts both passwords
//!    (`ACL SETUSER default >old >new`); replication (`masterauth`) and
//!    the sentinels (`auth-pass`, `sentinel-pass`) switch to the new one.
//!    Clients with the old password keep working. Once every pod has
//!    done it, the grace period (`passwordRotationGraceSeconds`) starts;
//!    a pod restarted meanwhile (it starts with the new password only) is
//!    given the old one back.
//! 2. `RemovingOld`: recorded in status first, then every pod requires
//!    the new password only (`CONFIG SET requirepass`, `ACL SETUSER
//!    default resetpass >new` on sentinels); the state Secret then
//!    records the new password and the rotation is over.
//!
//! A Secret changed back to the old value mid-rotation takes the second
//! step at once: every pod ends with exactly the Secret's password.

use std::sync::atomic::Ordering;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::ResourceExt;

use super::builder::{self, Names, DATA_PORT, SENTINEL_PORT};
use super::client::{self, Reply};
use super::controller::{pod_ip, Ctx, Error};
use super::crd::{PasswordRotation, ReplicatedCache};

/// The phase names in status.
pub const ACCEPTING_BOTH: &str = "AcceptingBoth";
pub const REMOVING_OLD: &str = "RemovingOld";

/// What to do this reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing: the pods require the Secret's password.
    Nothing,
    /// Make every pod accept both (phase 1, also during the grace period).
    AcceptBoth,
    /// The grace period is over: record `RemovingOld` (no pod touched).
    StartRemoving,
    /// Make every pod require the Secret's password only.
    OnlyNew,
}

/// The step for this reconcile (pure): `rotating` is whether the Secret's
/// password differs from the one the pods require.
pub fn step(
    rotating: bool,
    status: Option<&PasswordRotation>,
    now: Timestamp,
    grace: Duration,
) -> Step {
    let phase = status.map(|s| s.phase.as_str());
    if !rotating {
        // Changed back mid-rotation: the pods may accept a password that
        // is not the Secret's any more.
        return if phase.is_some() {
            Step::OnlyNew
        } else {
            Step::Nothing
        };
    }
    if phase == Some(REMOVING_OLD) {
        return Step::OnlyNew;
    }
    let since = status
        .and_then(|s| s.both_accepted_since.as_deref())
        .and_then(|t| t.parse::<Timestamp>().ok());
    match since {
        Some(t) if now.duration_since(t).as_secs() >= grace.as_secs() as i64 => Step::StartRemoving,
        _ => Step::AcceptBoth,
    }
}

/// The password every pod is known to require, from the state Secret
/// (created with `current` the first time: the pods were started with it).
pub async fn required(rc: &ReplicatedCache, ctx: &Ctx, current: &str) -> Result<String, Error> {
    let names = Names::of(rc);
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &names.namespace);
    if let Some(s) = api.get_opt(&names.auth_state()).await? {
        if let Some(p) = s.data.as_ref().and_then(|d| d.get("password")) {
            return Ok(String::from_utf8_lossy(&p.0).into_owned());
        }
    }
    let s = builder::auth_state_secret(rc, current);
    match api.create(&PostParams::default(), &s).await {
        Ok(_) => {
            ctx.metrics.writes.fetch_add(1, Ordering::Relaxed);
        }
        // Created by a concurrent reconcile: same content.
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    Ok(current.to_string())
}

/// Records that the pods require `password` now.
async fn record(rc: &ReplicatedCache, ctx: &Ctx, password: &str) -> Result<(), Error> {
    let names = Names::of(rc);
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let patch = serde_json::json!({"stringData": {"password": password}});
    api.patch(
        &names.auth_state(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    ctx.metrics.writes.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Opens a connection to `addr` with the first of `passwords` it takes.
async fn open_any(addr: &str, passwords: &[&str]) -> Result<client::Conn, String> {
    let mut last = String::new();
    for p in passwords {
        match client::Conn::open(addr, Some(p)).await {
            Ok(c) => return Ok(c),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Runs `cmds` on one server, stopping at the first error reply.
async fn run(addr: &str, passwords: &[&str], cmds: &[Vec<&str>]) -> Result<(), String> {
    let mut c = open_any(addr, passwords).await?;
    for cmd in cmds {
        if let Reply::Error(e) = c.call(cmd).await? {
            return Err(format!("{addr}: {}: {e}", cmd[..2].join(" ")));
        }
    }
    Ok(())
}

/// The commands that make a data pod (`sentinel` false) or a sentinel
/// accept `accept` and use `new` towards its peers.
fn commands<'a>(
    sentinel: bool,
    set: &'a str,
    accept: &[&'a str],
    new: &'a str,
) -> Vec<Vec<&'a str>> {
    let mut acl = vec!["ACL", "SETUSER", "default"];
    if accept.len() == 1 {
        acl.push("resetpass");
    }
    let mut out = Vec::new();
    if sentinel {
        out.push(acl);
        out.push(vec!["SENTINEL", "SET", set, "auth-pass", new]);
        out.push(vec!["SENTINEL", "CONFIG", "SET", "sentinel-pass", new]);
    } else {
        out.push(acl);
        out.push(vec!["CONFIG", "SET", "masterauth", new]);
        if accept.len() == 1 {
            // CONFIG GET requirepass (and a restart's config) agree.
            out.push(vec!["CONFIG", "SET", "requirepass", new]);
        }
    }
    out
}

/// Applies one step's pod changes to every present pod. Ok only when
/// every pod the spec wants is there and did it.
async fn apply_to_pods(
    rc: &ReplicatedCache,
    data: &[Pod],
    sentinels: &[Pod],
    accept: &[&str],
    new: &str,
) -> Result<(), String> {
    let names = Names::of(rc);
    let set = names.master_set();
    let live = |ps: &[Pod]| -> Vec<Pod> {
        ps.iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .cloned()
            .collect()
    };
    let (data, sentinels) = (live(data), live(sentinels));
    let old_and_new = [accept[0], new];
    let rules: Vec<String> = accept.iter().map(|p| format!(">{p}")).collect();
    // Connect with the new password first: most pods take it after the
    // first pass, and a restarted pod knows no other.
    let mut tries: Vec<&str> = vec![new];
    tries.extend(accept.iter().filter(|p| **p != new));
    let mut failed = Vec::new();
    for (pods, sentinel, port) in [(&data, false, DATA_PORT), (&sentinels, true, SENTINEL_PORT)] {
        for p in pods.iter() {
            let Some(ip) = pod_ip(p) else {
                failed.push(format!("{} has no IP", p.name_any()));
                continue;
            };
            let mut cmds = commands(sentinel, &set, accept, new);
            cmds[0].extend(rules.iter().map(String::as_str));
            let addr = format!("{ip}:{port}");
            let mut r = run(&addr, &tries, &cmds).await;
            if sentinel {
                // A sentinel not yet told to monitor the cache has no
                // auth-pass to switch (it is configured with the new one).
                if let Err(e) = &r {
                    if e.contains("No such master") {
                        r = run(&addr, &tries, &[cmds[0].clone(), cmds[2].clone()]).await;
                    }
                }
            }
            if let Err(e) = r {
                // A server's error may quote the command: no password in logs.
                let e = [old_and_new[0], old_and_new[1]]
                    .iter()
                    .fold(e, |e, pw| e.replace(pw, "(redacted)"));
                failed.push(format!("{}: {e}", p.name_any()));
            }
        }
    }
    let want = (rc.spec.replicas as usize, rc.spec.sentinels as usize);
    if (data.len(), sentinels.len()) != want {
        failed.push(format!(
            "{} data pods and {} sentinels present, the spec has {} and {}",
            data.len(),
            sentinels.len(),
            want.0,
            want.1
        ));
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// One reconcile's rotation work: returns the status to record (None when
/// no rotation is under way) and, while one is, what it is doing.
pub async fn advance(
    rc: &ReplicatedCache,
    ctx: &Ctx,
    data: &[Pod],
    sentinels: &[Pod],
    old: &str,
    new: &str,
) -> Result<(Option<PasswordRotation>, Option<String>), Error> {
    let status = rc.status.as_ref().and_then(|s| s.password_rotation.clone());
    let grace = Duration::from_secs(rc.spec.password_rotation_grace_seconds.max(0) as u64);
    let now = Timestamp::now();
    let recorder = &ctx.recorder;
    use super::recorder::Kind;
    Ok(match step(old != new, status.as_ref(), now, grace) {
        Step::Nothing => (None, None),
        Step::AcceptBoth => {
            let since = status.as_ref().and_then(|s| s.both_accepted_since.clone());
            match apply_to_pods(rc, data, sentinels, &[old, new], new).await {
                Ok(()) => {
                    if since.is_none() {
                        let note = format!(
                            "every pod accepts the old and the new password; replication and the sentinels use the new one; the old one is removed in {} s",
                            grace.as_secs()
                        );
                        recorder
                            .publish(rc, Kind::Normal, "PasswordRotation", "AcceptBoth", &note)
                            .await;
                    }
                    (
                        Some(PasswordRotation {
                            phase: ACCEPTING_BOTH.into(),
                            both_accepted_since: Some(since.unwrap_or_else(|| now.to_string())),
                        }),
                        Some(format!(
                            "password rotation: both passwords accepted; the old one goes after {} s",
                            grace.as_secs()
                        )),
                    )
                }
                Err(e) => {
                    tracing::info!(cache = %rc.name_any(), "password rotation, accepting both: {e}");
                    (
                        Some(PasswordRotation {
                            phase: ACCEPTING_BOTH.into(),
                            both_accepted_since: None,
                        }),
                        Some(format!("password rotation: adding the new password: {e}")),
                    )
                }
            }
        }
        Step::StartRemoving => (
            Some(PasswordRotation {
                phase: REMOVING_OLD.into(),
                both_accepted_since: status.and_then(|s| s.both_accepted_since),
            }),
            Some("password rotation: removing the old password".into()),
        ),
        Step::OnlyNew => match apply_to_pods(rc, data, sentinels, &[new], new).await {
            Ok(()) => {
                record(rc, ctx, new).await?;
                let note = "every pod requires the new password only; the rotation is over";
                recorder
                    .publish(rc, Kind::Normal, "PasswordRotated", "RemoveOld", note)
                    .await;
                (None, None)
            }
            Err(e) => {
                tracing::info!(cache = %rc.name_any(), "password rotation, removing the old: {e}");
                (
                    status,
                    Some(format!("password rotation: removing the old password: {e}")),
                )
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_rotation_accepts_both_for_the_grace_period_then_removes_the_old() {
        let grace = Duration::from_secs(60);
        let now = at("2026-11-26T12:00:00Z");
        assert_eq!(step(false, None, now, grace), Step::Nothing);
        assert_eq!(step(true, None, now, grace), Step::AcceptBoth);
        let started = |since: Option<&str>| PasswordRotation {
            phase: ACCEPTING_BOTH.into(),
            both_accepted_since: since.map(str::to_string),
        };
        // Not every pod yet: still adding.
        assert_eq!(
            step(true, Some(&started(None)), now, grace),
            Step::AcceptBoth
        );
        // Within the grace period: keep both (restarted pods get the old back).
        let s = started(Some("2026-11-26T11:59:30Z"));
        assert_eq!(step(true, Some(&s), now, grace), Step::AcceptBoth);
        let s = started(Some("2026-11-26T11:59:00Z"));
        assert_eq!(step(true, Some(&s), now, grace), Step::StartRemoving);
        let removing = PasswordRotation {
            phase: REMOVING_OLD.into(),
            both_accepted_since: None,
        };
        assert_eq!(step(true, Some(&removing), now, grace), Step::OnlyNew);
        // The Secret changed back mid-rotation: straight to one password.
        assert_eq!(step(false, Some(&s), now, grace), Step::OnlyNew);
    }

    #[test]
    fn the_commands_switch_peers_first_and_drop_the_old_last() {
        let both = commands(false, "c", &["o", "n"], "n");
        assert_eq!(both[0], ["ACL", "SETUSER", "default"]);
        assert_eq!(both[1], ["CONFIG", "SET", "masterauth", "n"]);
        assert_eq!(both.len(), 2);
        let only = commands(false, "c", &["n"], "n");
        assert_eq!(only[0], ["ACL", "SETUSER", "default", "resetpass"]);
        assert_eq!(only[2], ["CONFIG", "SET", "requirepass", "n"]);
        let s = commands(true, "c", &["o", "n"], "n");
        assert_eq!(s[1], ["SENTINEL", "SET", "c", "auth-pass", "n"]);
        assert_eq!(s[2], ["SENTINEL", "CONFIG", "SET", "sentinel-pass", "n"]);
    }
}
