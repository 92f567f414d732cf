//! Password rotation without downtime. The password the pods require is
//! kept in an operator-owned Secret `<cache>-auth-state` (the only place
//! the old password survives once the user's Secret holds the new one).
//! When the two differ, the rotation runs in two phases, each step
//! idempotent and retried every reconcile until every pod has done it:
//!
//! 1. `AcceptingBoth`: every data pod and sentinel accepts both passwords
//!    (`ACL SETUSER default >old >new`), and only once all do,
//!    replication (`masterauth`) and the sentinels (`auth-pass`,
//!    `sentinel-pass`) switch to the new one. Clients with the old
//!    password keep working. Once every pod has done it, the grace period
//!    (`passwordRotationGraceSeconds`) starts; a pod restarted meanwhile
//!    (it starts with the new password only) is given the old one back.
//! 2. `RemovingOld`: recorded in status first, then every pod requires
//!    the new password only (`CONFIG SET requirepass`, `ACL SETUSER
//!    default resetpass >new` on sentinels); the state Secret then
//!    records the new password and the rotation is over.
//!
//! The state Secret also keeps the rotation's target and every password
//! given to the pods during it, so the operator can still log in to every
//! pod when the Secret changes again mid-rotation (a new target starts
//! phase 1 over, with its own grace period) or back to the old value
//! (straight to one password: every pod ends with exactly the Secret's).

use std::sync::atomic::Ordering;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::jiff::Timestamp;
use k8s_openapi::ByteString;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::ResourceExt;

use super::builder::{self, Names, DATA_PORT, SENTINEL_PORT};
use super::client::{self, ClientError, Reply};
use super::controller::{Ctx, Error};
use super::crd::{PasswordRotation, ReplicatedCache};
use super::observe::pod_ip;
use super::recorder::Kind;

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
/// password differs from the one the pods require, `retargeted` whether
/// it also differs from the one the rotation under way is moving to (the
/// Secret changed again: phase 1 starts over for the newest).
pub fn step(
    rotating: bool,
    retargeted: bool,
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
    if retargeted {
        return Step::AcceptBoth;
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

/// What the state Secret holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthState {
    /// The password every pod requires (all of them take it, except a pod
    /// given only a newer one).
    pub required: String,
    /// The password a rotation under way moves to.
    pub target: Option<String>,
    /// Every password given to the pods during the rotation.
    pub given: Vec<String>,
}

impl AuthState {
    /// Every password a pod may take, `first` first.
    pub fn candidates<'a>(&'a self, first: &'a str) -> Vec<&'a str> {
        let mut out = vec![first];
        for p in std::iter::once(&self.required)
            .chain(self.target.iter())
            .chain(self.given.iter())
        {
            if !out.contains(&p.as_str()) {
                out.push(p);
            }
        }
        out
    }
}

fn text(s: &Secret, key: &str) -> Option<String> {
    s.data
        .as_ref()?
        .get(key)
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        .filter(|v| !v.is_empty())
}

/// The state Secret (created with `current` as the required password the
/// first time: the pods were started with it).
pub async fn state(rc: &ReplicatedCache, ctx: &Ctx, current: &str) -> Result<AuthState, Error> {
    let names = Names::of(rc);
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &names.namespace);
    if let Some(s) = api.get_opt(&names.auth_state()).await? {
        if let Some(required) = text(&s, "password") {
            return Ok(AuthState {
                required,
                target: text(&s, "target"),
                given: text(&s, "given")
                    .map(|g| g.lines().map(str::to_string).collect())
                    .unwrap_or_default(),
            });
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
    Ok(AuthState {
        required: current.to_string(),
        ..Default::default()
    })
}

/// Writes the state Secret (a key with nothing to hold is removed).
async fn record(rc: &ReplicatedCache, ctx: &Ctx, st: &AuthState) -> Result<(), Error> {
    let names = Names::of(rc);
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let b64 = |v: &str| serde_json::to_value(ByteString(v.as_bytes().to_vec())).ok();
    let given = st.given.join("\n");
    let patch = serde_json::json!({"data": {
        "password": b64(&st.required),
        "target": st.target.as_deref().and_then(b64),
        "given": (!given.is_empty()).then(|| b64(&given)).flatten(),
    }});
    api.patch(
        &names.auth_state(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    ctx.metrics.writes.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Why one server did not take a pass's commands.
#[derive(Debug, thiserror::Error)]
enum ServerError {
    /// No connection with any of the passwords, or no reply.
    #[error("{addr}: {source}")]
    Client {
        /// The server.
        addr: String,
        /// What the connection said.
        source: ClientError,
    },
    /// A command's error reply.
    #[error("{addr}: {command}: {reply}")]
    Refused {
        /// The server.
        addr: String,
        /// The command's first two words (never its password).
        command: String,
        /// The error reply.
        reply: String,
    },
}

/// Why a pass did not reach every pod the spec wants: it is run again at
/// the next reconcile.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// Pods are missing (being created, or deleted).
    #[error("{data} data pods and {sentinels} sentinels present, the spec has {want_data} and {want_sentinels}")]
    PodsMissing {
        /// Data pods present.
        data: usize,
        /// Sentinels present.
        sentinels: usize,
        /// Data pods in the spec.
        want_data: usize,
        /// Sentinels in the spec.
        want_sentinels: usize,
    },
    /// Pods that did not take it, each `<pod>: <why>`, passwords
    /// redacted.
    #[error("{}", .0.join("; "))]
    Pods(Vec<String>),
}

/// Opens a connection to `addr` with the first of `passwords` it takes
/// (the last one's error when none does).
async fn open_any(addr: &str, passwords: &[&str]) -> Result<client::Conn, ClientError> {
    let Some((last, rest)) = passwords.split_last() else {
        return client::Conn::open(addr, None).await;
    };
    for p in rest {
        if let Ok(c) = client::Conn::open(addr, Some(p)).await {
            return Ok(c);
        }
    }
    client::Conn::open(addr, Some(last)).await
}

/// Runs `cmds` on one server, stopping at the first error reply; an
/// error containing `tolerated` (when given) is not one.
async fn run(
    addr: &str,
    passwords: &[&str],
    cmds: &[Vec<&str>],
    tolerated: Option<&str>,
) -> Result<(), ServerError> {
    let client = |source| ServerError::Client {
        addr: addr.to_string(),
        source,
    };
    let mut c = open_any(addr, passwords).await.map_err(client)?;
    for cmd in cmds {
        if let Reply::Error(e) = c.call(cmd).await.map_err(client)? {
            if tolerated.is_some_and(|t| e.contains(t)) {
                continue;
            }
            return Err(ServerError::Refused {
                addr: addr.to_string(),
                command: cmd[..2].join(" "),
                reply: e,
            });
        }
    }
    Ok(())
}

/// The three passes of a step, each run on every pod before the next:
/// which commands a data pod (`sentinel` false) or a sentinel gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// The passwords to accept are added.
    Add,
    /// Replication and the sentinels use `new` towards their peers.
    Switch,
    /// `new` is the only password (phase 2).
    Only,
}

fn commands<'a>(
    pass: Pass,
    sentinel: bool,
    set: &'a str,
    rules: &'a [String],
    new: &'a str,
    only_rule: &'a str,
) -> Vec<Vec<&'a str>> {
    match (pass, sentinel) {
        (Pass::Add, _) => {
            let mut acl = vec!["ACL", "SETUSER", "default"];
            acl.extend(rules.iter().map(String::as_str));
            vec![acl]
        }
        (Pass::Switch, false) => vec![vec!["CONFIG", "SET", "masterauth", new]],
        (Pass::Switch, true) => vec![
            vec!["SENTINEL", "CONFIG", "SET", "sentinel-pass", new],
            // A sentinel not yet told to monitor the cache has no
            // auth-pass (it will be configured with the new one).
            vec!["SENTINEL", "SET", set, "auth-pass", new],
        ],
        // CONFIG GET requirepass (and a restart's config) agree.
        (Pass::Only, false) => vec![vec!["CONFIG", "SET", "requirepass", new]],
        (Pass::Only, true) => vec![vec!["ACL", "SETUSER", "default", "resetpass", only_rule]],
    }
}

/// Runs the passes on every present pod, each pass on all of them before
/// the next (nobody uses the new password towards a peer that may not
/// take it yet). Ok only when every pod the spec wants is there and did
/// every pass.
async fn apply_to_pods(
    rc: &ReplicatedCache,
    data: &[Pod],
    sentinels: &[Pod],
    tries: &[&str],
    accept: &[&str],
    passes: &[Pass],
) -> Result<(), PassError> {
    let names = Names::of(rc);
    let set = names.master_set();
    let new = tries[0];
    let live = |ps: &[Pod]| -> Vec<Pod> {
        ps.iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .cloned()
            .collect()
    };
    let (data, sentinels) = (live(data), live(sentinels));
    let want = (rc.spec.replicas as usize, rc.spec.sentinels as usize);
    if (data.len(), sentinels.len()) != want {
        return Err(PassError::PodsMissing {
            data: data.len(),
            sentinels: sentinels.len(),
            want_data: want.0,
            want_sentinels: want.1,
        });
    }
    let rules: Vec<String> = accept.iter().map(|p| format!(">{p}")).collect();
    let only_new = format!(">{new}");
    for pass in passes {
        let mut failed = Vec::new();
        for (pods, sentinel, port) in [(&data, false, DATA_PORT), (&sentinels, true, SENTINEL_PORT)]
        {
            for p in pods.iter() {
                let Some(ip) = pod_ip(p) else {
                    failed.push(format!("{} has no IP", p.name_any()));
                    continue;
                };
                let cmds = commands(*pass, sentinel, &set, &rules, new, &only_new);
                let tolerated = sentinel.then_some("No such master");
                if let Err(e) = run(&format!("{ip}:{port}"), tries, &cmds, tolerated).await {
                    // A server's error may quote the command: no password in logs.
                    let e = tries
                        .iter()
                        .fold(e.to_string(), |e, pw| e.replace(pw, "(redacted)"));
                    failed.push(format!("{}: {e}", p.name_any()));
                }
            }
        }
        if !failed.is_empty() {
            return Err(PassError::Pods(failed));
        }
    }
    Ok(())
}

/// What one reconcile's rotation step works with.
struct Turn<'a> {
    rc: &'a ReplicatedCache,
    ctx: &'a Ctx,
    data: &'a [Pod],
    sentinels: &'a [Pod],
    st: &'a AuthState,
    /// The Secret's password.
    new: &'a str,
    /// The passwords to log in with, most likely first.
    tries: Vec<&'a str>,
    /// The rotation on record in the cache's status.
    status: Option<PasswordRotation>,
}

/// What a rotation step returns: the status to record (None when no
/// rotation is under way) and, while one is, what it is doing.
type Outcome = (Option<PasswordRotation>, Option<String>);

/// One reconcile's rotation work, with `new` the Secret's password:
/// returns the status to record (None when no rotation is under way)
/// and, while one is, what it is doing.
pub async fn advance(
    rc: &ReplicatedCache,
    ctx: &Ctx,
    data: &[Pod],
    sentinels: &[Pod],
    st: &AuthState,
    new: &str,
) -> Result<Outcome, Error> {
    let status = rc.status.as_ref().and_then(|s| s.password_rotation.clone());
    let grace = Duration::from_secs(rc.spec.password_rotation_grace_seconds.max(0) as u64);
    let now = Timestamp::now();
    let rotating = st.required != new;
    let retargeted = rotating && st.target.as_deref().is_some_and(|t| t != new);
    let step = step(rotating, retargeted, status.as_ref(), now, grace);
    let turn = Turn {
        rc,
        ctx,
        data,
        sentinels,
        st,
        new,
        tries: st.candidates(new),
        status,
    };
    Ok(match step {
        Step::Nothing => (None, None),
        Step::AcceptBoth => turn.accept_both(retargeted, now, grace).await?,
        Step::StartRemoving => (
            Some(PasswordRotation {
                phase: REMOVING_OLD.into(),
                both_accepted_since: turn.status.and_then(|s| s.both_accepted_since),
            }),
            Some("password rotation: removing the old password".into()),
        ),
        Step::OnlyNew => turn.only_new().await?,
    })
}

impl Turn<'_> {
    /// Every pod is given both passwords and switched to the new one for
    /// replication and the sentinels; the grace period starts once all
    /// have it.
    async fn accept_both(
        &self,
        retargeted: bool,
        now: Timestamp,
        grace: Duration,
    ) -> Result<Outcome, Error> {
        let (rc, st, new) = (self.rc, self.st, self.new);
        // The target and what the pods are given are on record before
        // any pod is: an operator restarted meanwhile can log in.
        let mut next = st.clone();
        next.target = Some(new.to_string());
        for p in [&st.required, &new.to_string()] {
            if !next.given.contains(p) {
                next.given.push(p.clone());
            }
        }
        if next != *st {
            record(rc, self.ctx, &next).await?;
        }
        // A new target starts its own grace period; otherwise one
        // started is kept through a pod's failure.
        let since = self
            .status
            .as_ref()
            .filter(|_| !retargeted)
            .and_then(|s| s.both_accepted_since.clone());
        let passes = [Pass::Add, Pass::Switch];
        let passwords = [st.required.as_str(), new];
        let done = apply_to_pods(
            rc,
            self.data,
            self.sentinels,
            &self.tries,
            &passwords,
            &passes,
        )
        .await;
        if let Err(e) = &done {
            tracing::info!(cache = %rc.name_any(), "password rotation, accepting both: {e}");
        }
        let since = match (since, &done) {
            (Some(t), _) => Some(t),
            (None, Ok(())) => {
                let note = format!(
                    "every pod accepts the old and the new password; replication and the sentinels use the new one; the old one is removed in {} s",
                    grace.as_secs()
                );
                self.ctx
                    .recorder
                    .publish(rc, Kind::Normal, "PasswordRotation", "AcceptBoth", &note)
                    .await;
                Some(now.to_string())
            }
            (None, Err(_)) => None,
        };
        let msg = match &done {
            Ok(()) => format!(
                "password rotation: both passwords accepted; the old one goes {} s after {}",
                grace.as_secs(),
                since.as_deref().unwrap_or_default()
            ),
            Err(e) => format!("password rotation: adding the new password: {e}"),
        };
        let status = PasswordRotation {
            phase: ACCEPTING_BOTH.into(),
            both_accepted_since: since,
        };
        Ok((Some(status), Some(msg)))
    }

    /// Every pod is left requiring the new password only; then the
    /// rotation is over.
    async fn only_new(self) -> Result<Outcome, Error> {
        let (rc, new) = (self.rc, self.new);
        let passes = [Pass::Add, Pass::Switch, Pass::Only];
        match apply_to_pods(rc, self.data, self.sentinels, &self.tries, &[new], &passes).await {
            Ok(()) => {
                let done = AuthState {
                    required: new.to_string(),
                    ..Default::default()
                };
                record(rc, self.ctx, &done).await?;
                let note = "every pod requires the new password only; the rotation is over";
                self.ctx
                    .recorder
                    .publish(rc, Kind::Normal, "PasswordRotated", "RemoveOld", note)
                    .await;
                Ok((None, None))
            }
            Err(e) => {
                tracing::info!(cache = %rc.name_any(), "password rotation, removing the old: {e}");
                let msg = format!("password rotation: removing the old password: {e}");
                Ok((self.status, Some(msg)))
            }
        }
    }
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
        assert_eq!(step(false, false, None, now, grace), Step::Nothing);
        assert_eq!(step(true, false, None, now, grace), Step::AcceptBoth);
        let started = |since: Option<&str>| PasswordRotation {
            phase: ACCEPTING_BOTH.into(),
            both_accepted_since: since.map(str::to_string),
        };
        // Not every pod yet: still adding.
        assert_eq!(
            step(true, false, Some(&started(None)), now, grace),
            Step::AcceptBoth
        );
        // Within the grace period: keep both (restarted pods get the old back).
        let s = started(Some("2026-11-26T11:59:30Z"));
        assert_eq!(step(true, false, Some(&s), now, grace), Step::AcceptBoth);
        let s = started(Some("2026-11-26T11:59:00Z"));
        assert_eq!(step(true, false, Some(&s), now, grace), Step::StartRemoving);
        let removing = PasswordRotation {
            phase: REMOVING_OLD.into(),
            both_accepted_since: None,
        };
        assert_eq!(
            step(true, false, Some(&removing), now, grace),
            Step::OnlyNew
        );
        // The Secret changed back mid-rotation: straight to one password.
        assert_eq!(step(false, false, Some(&s), now, grace), Step::OnlyNew);
    }

    #[test]
    fn a_secret_changed_again_starts_phase_one_over() {
        let grace = Duration::from_secs(60);
        let now = at("2026-11-26T12:00:00Z");
        let removing = PasswordRotation {
            phase: REMOVING_OLD.into(),
            both_accepted_since: Some("2026-11-26T11:00:00Z".into()),
        };
        assert_eq!(
            step(true, true, Some(&removing), now, grace),
            Step::AcceptBoth
        );
    }

    #[test]
    fn every_password_a_pod_may_take_is_tried() {
        let st = AuthState {
            required: "a".into(),
            target: Some("b".into()),
            given: vec!["a".into(), "b".into()],
        };
        assert_eq!(st.candidates("c"), ["c", "a", "b"]);
        assert_eq!(
            AuthState {
                required: "a".into(),
                ..Default::default()
            }
            .candidates("a"),
            ["a"]
        );
    }

    #[test]
    fn the_passes_add_then_switch_then_remove() {
        let rules = vec![">o".to_string(), ">n".to_string()];
        assert_eq!(
            commands(Pass::Add, false, "c", &rules, "n", ">n"),
            [["ACL", "SETUSER", "default", ">o", ">n"]]
        );
        assert_eq!(
            commands(Pass::Switch, false, "c", &rules, "n", ">n"),
            [["CONFIG", "SET", "masterauth", "n"]]
        );
        let s = commands(Pass::Switch, true, "c", &rules, "n", ">n");
        assert_eq!(s[0], ["SENTINEL", "CONFIG", "SET", "sentinel-pass", "n"]);
        assert_eq!(s[1], ["SENTINEL", "SET", "c", "auth-pass", "n"]);
        assert_eq!(
            commands(Pass::Only, false, "c", &rules, "n", ">n"),
            [["CONFIG", "SET", "requirepass", "n"]]
        );
        assert_eq!(
            commands(Pass::Only, true, "c", &rules, "n", ">n"),
            [["ACL", "SETUSER", "default", "resetpass", ">n"]]
        );
    }
}
