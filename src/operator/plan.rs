//! The reconcile's second stage, pure: from what was [observed]
//! (super::observe) and the spec, what to write and to whom to say what.
//! No client, no clock (the time since the last SENTINEL RESET comes in
//! as an input), so every scenario of the end-to-end tests is a unit test
//! here ([tests](#tests) below: bootstrap, a restart with a recorded
//! master, a switch, a scale-down past the master, a refused sentinel
//! change, a stalled rollout).
//!
//! A plan says:
//! - whether the spec's change is refused whole (too few working
//!   sentinels would remain: [`decide::unsafe_sentinel_change`]);
//! - the objects to apply ([`builder::desired`], with the data
//!   StatefulSet held at the master's ordinal during a scale-down);
//! - the topology step ([`Topology`]): who is master, which sentinels to
//!   configure, which data pods to point at it, a restarted master, a
//!   stale sentinel to reset;
//! - the endpoints of the master and replicas Services;
//! - the day-2 step (live settings, a requested handover, a scale-down's
//!   handover or the rollout) and what the status will say meanwhile.

use std::time::Duration;

use super::builder::{self, Desired, Names};
use super::controller::RESET_GAP;
use super::crd::ReplicatedCache;
use super::decide::{self, Bootstrap, DataPod, Recorded, RestartedMaster, SentinelCounts};
use super::observe::{ordinal, Observed};

/// What the plan needs besides the cache and what was observed.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The picket-server image when the spec names none.
    pub default_image: String,
    /// `--plain-rollouts`: Kubernetes rolls the pods.
    pub plain_rollouts: bool,
    /// How long ago this cache's sentinels were last reset.
    pub since_reset: Option<Duration>,
    /// What a password rotation under way is doing (the Progressing
    /// message), if one is.
    pub rotating: Option<String>,
    /// The last `picket.dev/handover` token this operator carried out
    /// for the cache: never carried out twice, even when the cache read
    /// does not show the status that recorded it yet.
    pub handed_over: Option<String>,
}

/// One reconcile's decisions.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Why the spec's change is held whole (the `UnsafeQuorum` reason):
    /// no object is written and no day-2 step taken.
    pub refused: Option<String>,
    /// The objects to apply (none while refused).
    pub objects: Option<Desired>,
    /// The data StatefulSet's size held at the master's ordinal + 1 (a
    /// scale-down past the master, until it has handed over).
    pub scale_hold: Option<i32>,
    /// The master a majority of the sentinels names.
    pub agreed: Option<String>,
    /// The topology step.
    pub topology: Topology,
    /// The master this reconcile serves (agreed, bootstrapped, or the one
    /// recorded while the sentinels disagree).
    pub master: Option<String>,
    /// The Services' endpoints.
    pub endpoints: Endpoints,
    /// The day-2 step, once the master is agreed and serves.
    pub day2: Option<Day2>,
    /// The Progressing message, before the day-2 step adds its own.
    pub progressing: Option<String>,
    /// The Degraded (reason, message), before the day-2 step.
    pub degraded: Option<(String, String)>,
    /// Sentinels calling the serving master down: (sentinel, its flags).
    pub master_down: Vec<(String, String)>,
}

/// Who is master, and what the pods and sentinels are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    /// The sentinels agree on a master.
    Agreed {
        /// Sentinels with no state (a recreated pod) to configure.
        configure: Vec<String>,
        /// Data pods to point at the master.
        strays: Vec<Stray>,
        /// The master restarted before the sentinels noticed.
        restarted: RestartedMaster,
        /// A sentinel remembering removed pods, to reset.
        reset: Option<Reset>,
    },
    /// No sentinel monitors the cache: this pod becomes the master, every
    /// other data pod is pointed at it, and these sentinels are
    /// configured.
    Bootstrap {
        /// The first master.
        master: String,
        /// The ready sentinels.
        configure: Vec<String>,
    },
    /// Nothing to bootstrap yet (the reason, the Progressing message).
    Wait(String),
    /// Bootstrap refused: no pod has the recorded master's data.
    Refuse(String),
    /// Configured sentinels without a majority answer: the recorded
    /// master is kept until they agree.
    Keep,
}

/// A data pod to point at the master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stray {
    /// The pod.
    pub pod: String,
    /// What it was doing (for the Event).
    pub was: &'static str,
}

/// A sentinel to `SENTINEL RESET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reset {
    /// The sentinel pod.
    pub sentinel: String,
    /// The Event's message.
    pub note: String,
}

/// The Services' endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// The master Service: the master's IP while it says master.
    pub master_ips: Vec<String>,
    /// The replicas Service: replicas of the master with their link up.
    pub replica_ips: Vec<String>,
    /// Those replicas' pod names.
    pub in_sync: Vec<String>,
}

/// The day-2 step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day2 {
    /// The master the sentinels agree on.
    pub master: String,
    /// A handover requested by annotation (its token).
    pub handover: Option<String>,
    /// What moves the pods.
    pub mode: Day2Mode,
}

/// What moves the pods on day 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day2Mode {
    /// Kubernetes rolls the pods (`--plain-rollouts`).
    Plain,
    /// A scale-down past the master: it hands over first.
    ScaleDown,
    /// The rollout (sentinels, replicas, then the master by a handover).
    Rollout,
}

/// Plans one reconcile of `rc`.
pub fn plan(rc: &ReplicatedCache, obs: &Observed, inputs: &Inputs) -> Plan {
    let names = Names::of(rc);
    let old = rc.status.clone().unwrap_or_default();
    let data = &obs.data;

    let refused = refused_change(rc, obs);
    let mut degraded = refused.clone().map(|why| ("UnsafeQuorum".into(), why));
    let mut progressing = inputs.rotating.clone();

    // A scale-down never removes the master: the StatefulSet keeps the
    // master's ordinal until it has handed over.
    let scale_hold = old
        .master
        .as_deref()
        .filter(|_| !inputs.plain_rollouts)
        .map(ordinal)
        .filter(|o| *o >= rc.spec.replicas)
        .map(|o| o + 1);
    let objects = refused.is_none().then(|| {
        let mut d = builder::desired(rc, &inputs.default_image);
        if inputs.plain_rollouts {
            builder::plain_rollouts(&mut d);
        }
        if let (Some(n), Some(spec)) = (scale_hold, d.data.spec.as_mut()) {
            spec.replicas = Some(n);
        }
        d
    });

    let agreed = agreed_master(rc, obs);
    let (topology, master) = topology(rc, &names, obs, inputs, agreed.as_deref(), &refused);
    match &topology {
        Topology::Bootstrap { master, .. } => {
            progressing = Some(format!("bootstrapped with master {master}"))
        }
        Topology::Wait(why) => progressing = Some(why.clone()),
        Topology::Refuse(why) => degraded = Some(("RefusingOlderData".into(), why.clone())),
        Topology::Keep => {
            progressing = Some("waiting for the sentinels to agree on the master".into())
        }
        Topology::Agreed { .. } => {}
    }
    let endpoints = endpoints(&names, data, master.as_deref());
    let master_known = !endpoints.master_ips.is_empty();
    let day2 = match (&agreed, master_known && refused.is_none()) {
        (Some(mst), true) => Some(Day2 {
            master: mst.clone(),
            handover: rc
                .handover_requested()
                .filter(|t| inputs.handed_over.as_ref() != Some(t)),
            mode: if inputs.plain_rollouts {
                Day2Mode::Plain
            } else if scale_hold.is_some() {
                Day2Mode::ScaleDown
            } else {
                Day2Mode::Rollout
            },
        }),
        _ => None,
    };
    let master_down = if master_known && master.is_some() {
        // The operator reaches this master; a sentinel that calls it down
        // cannot (a refused login, a cut link): worth a look.
        decide::sentinels_seeing_master_down(&reports(obs))
            .into_iter()
            .map(|(who, flags)| (who.to_string(), flags.to_string()))
            .collect()
    } else {
        Vec::new()
    };
    Plan {
        refused,
        objects,
        scale_hold,
        agreed,
        topology,
        master,
        endpoints,
        day2,
        progressing,
        degraded,
        master_down,
    }
}

/// Who is master and the topology step: the sentinels' majority once
/// they are configured (`agreed`); before that, bootstrap; configured
/// sentinels without a majority keep the recorded master.
fn topology(
    rc: &ReplicatedCache,
    names: &Names,
    obs: &Observed,
    inputs: &Inputs,
    agreed: Option<&str>,
    refused: &Option<String>,
) -> (Topology, Option<String>) {
    let old = rc.status.clone().unwrap_or_default();
    if let Some(mst) = agreed {
        let step = Topology::Agreed {
            configure: obs
                .sentinels
                .iter()
                .filter(|s| !s.configured && s.ready)
                .map(|s| s.name.clone())
                .collect(),
            strays: strays(names, obs, mst),
            restarted: decide::restarted_master(
                &obs.data,
                mst,
                &names.data_host(mst),
                rc.spec.replicas,
            ),
            // (While refused, the spec's counts are not what runs.)
            reset: if refused.is_none() {
                stale_sentinel(rc, names, obs, mst, inputs.since_reset)
            } else {
                None
            },
        };
        return (step, Some(mst.to_string()));
    }
    if obs.sentinels.iter().any(|s| s.configured) {
        return (Topology::Keep, old.master.clone());
    }
    let recorded = Recorded {
        master: old.master.clone(),
        replid: old.replid.clone(),
        offset: old.master_repl_offset,
    };
    let persistent = rc
        .spec
        .persistence
        .as_ref()
        .filter(|p| p.enabled)
        .map(|_| rc.spec.replicas.max(1) as usize);
    match decide::bootstrap_master(&obs.data, &recorded, persistent) {
        Bootstrap::Master(mst) => {
            let configure = obs
                .sentinels
                .iter()
                .filter(|s| s.ready)
                .map(|s| s.name.clone())
                .collect();
            let step = Topology::Bootstrap {
                master: mst.clone(),
                configure,
            };
            (step, Some(mst))
        }
        Bootstrap::Wait(why) => (Topology::Wait(why), None),
        Bootstrap::Refuse(why) => (Topology::Refuse(why), None),
    }
}

/// What the monitoring, ready sentinels report (for the failover
/// blockers and the master-down warnings).
pub fn reports(obs: &Observed) -> Vec<decide::SentinelReport<'_>> {
    obs.sentinels
        .iter()
        .filter(|s| s.configured && s.ready)
        .map(|s| decide::SentinelReport {
            name: &s.name,
            flags: &s.flags,
            replicas: &s.replicas,
        })
        .collect()
}

/// Why a change of the sentinels' count or quorum would leave too few
/// working sentinels, if it would.
fn refused_change(rc: &ReplicatedCache, obs: &Observed) -> Option<String> {
    let cur_quorum = obs
        .sentinels
        .iter()
        .filter_map(|s| s.settings.get("quorum")?.parse().ok())
        .max()
        .unwrap_or(rc.spec.quorum());
    let working: Vec<i32> = obs
        .sentinels
        .iter()
        .filter(|s| s.configured && s.master_host.is_some())
        .map(|s| ordinal(&s.name))
        .collect();
    decide::unsafe_sentinel_change(
        (obs.sentinels_running, cur_quorum),
        (rc.spec.sentinels, rc.spec.quorum()),
        &working,
    )
}

/// The master pod a majority of all sentinels names, or, while some are
/// still unconfigured (bootstrap interrupted, a sentinel pod recreated),
/// a majority of those that monitor the cache: they are the ones that
/// know.
fn agreed_master(rc: &ReplicatedCache, obs: &Observed) -> Option<String> {
    let answers: Vec<String> = obs
        .sentinels
        .iter()
        .filter_map(|s| s.master_host.clone())
        .collect();
    let total = rc.spec.sentinels.max(obs.sentinels.len() as i32) as usize;
    let configured = obs.sentinels.iter().filter(|s| s.configured).count();
    decide::sentinel_majority(&answers, total)
        .or_else(|| decide::sentinel_majority(&answers, configured))
        .map(|h| decide::pod_of_host(&h).to_string())
}

/// Data pods to point at `master`: one no sentinel knows that stands
/// alone as a master (it started after bootstrap, or a scale-up), and one
/// waiting unassigned (new, or restarted: the sentinels would fix a
/// replica they know, but only at their next INFO, and not one they
/// don't know). Pods the sentinels know are theirs to fix.
fn strays(names: &Names, obs: &Observed, master: &str) -> Vec<Stray> {
    let known: Vec<&String> = obs.sentinels.iter().flat_map(|s| &s.replicas).collect();
    obs.data
        .iter()
        .filter(|p| p.name != master)
        .filter_map(|p| {
            let was = if decide::unassigned(p) {
                "started and waited to be told its master"
            } else if p.is_master == Some(true) && !known.contains(&&names.data_host(&p.name)) {
                "stood alone as a master no sentinel knows"
            } else {
                return None;
            };
            Some(Stray {
                pod: p.name.clone(),
                was,
            })
        })
        .collect()
}

/// One sentinel that remembers removed pods, to reset (see
/// [`decide::sentinel_to_reset`]).
fn stale_sentinel(
    rc: &ReplicatedCache,
    names: &Names,
    obs: &Observed,
    master: &str,
    since: Option<Duration>,
) -> Option<Reset> {
    let views: Vec<SentinelCounts> = obs
        .sentinels
        .iter()
        .filter(|s| s.configured)
        .map(|s| SentinelCounts {
            name: s.name.clone(),
            agrees: s.names_master(master),
            in_failover: s.flags.contains("failover_in_progress"),
            other_sentinels: s.other_sentinels,
            replicas: s.replicas.len() as i64,
        })
        .collect();
    // Not before the removed pods are gone: one still terminating may
    // still be in the master's INFO, and a reset sentinel would learn it
    // again.
    let want_s = i64::from(rc.spec.sentinels).max(obs.present.1 as i64);
    let want_r = i64::from(rc.spec.replicas).max(obs.present.0 as i64);
    let name = decide::sentinel_to_reset(&views, want_s, want_r, since, RESET_GAP)?;
    let v = views.iter().find(|v| v.name == name)?;
    Some(Reset {
        note: format!(
            "sentinel {name} knew {} other sentinels and {} replicas where the spec has {} and {}: SENTINEL RESET {}; it finds the live ones again from the master and the other sentinels' hellos",
            v.other_sentinels,
            v.replicas,
            want_s - 1,
            want_r - 1,
            names.master_set()
        ),
        sentinel: name,
    })
}

/// The master and replicas Services' endpoints: the master's IP while it
/// says master; replicas of the master with their link up (not one still
/// waiting to be told its master, it has no data, nor one mid-sync).
fn endpoints(names: &Names, data: &[DataPod], master: Option<&str>) -> Endpoints {
    let master_ips: Vec<String> = master
        .and_then(|mst| data.iter().find(|p| p.name == mst))
        .filter(|p| p.is_master == Some(true))
        .and_then(|p| p.ip.clone())
        .into_iter()
        .collect();
    let master_host = master.map(|mst| names.data_host(mst));
    let in_sync: Vec<&DataPod> = data
        .iter()
        .filter(|p| Some(p.name.as_str()) != master && p.ready && p.is_master == Some(false))
        .filter(|p| p.link_up && p.master_host.is_some() && p.master_host == master_host)
        .collect();
    Endpoints {
        master_ips,
        replica_ips: in_sync.iter().filter_map(|p| p.ip.clone()).collect(),
        in_sync: in_sync.iter().map(|p| p.name.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::fixtures::*;

    const THREE: &str = "replicas: 3\nsentinels: 3\n";

    fn inputs() -> Inputs {
        Inputs {
            default_image: "picket:test".into(),
            ..Default::default()
        }
    }

    fn data_replicas(p: &Plan) -> Option<i32> {
        p.objects.as_ref()?.data.spec.as_ref()?.replicas
    }

    #[test]
    fn a_new_cache_bootstraps_ordinal_0_and_configures_the_ready_sentinels() {
        let rc = cache(THREE, None);
        let mut late = fresh_sentinel(2);
        late.ready = false;
        let obs = observed(
            vec![master(0, 0), master(1, 0), unassigned(2)],
            vec![fresh_sentinel(0), fresh_sentinel(1), late],
        );
        let p = plan(&rc, &obs, &inputs());
        assert_eq!(
            p.topology,
            Topology::Bootstrap {
                master: "c-0".into(),
                configure: vec!["c-sentinel-0".into(), "c-sentinel-1".into()],
            }
        );
        assert_eq!(p.master.as_deref(), Some("c-0"));
        assert_eq!(p.endpoints.master_ips, ["10.244.0.10"]);
        // Nobody replicates from it yet: the replicas Service is empty.
        assert!(p.endpoints.replica_ips.is_empty());
        assert_eq!(
            p.progressing.as_deref(),
            Some("bootstrapped with master c-0")
        );
        // The objects are applied; day 2 waits for the sentinels.
        assert_eq!(data_replicas(&p), Some(3));
        assert_eq!(p.day2, None);
    }

    #[test]
    fn a_new_cache_waits_for_ordinal_0_to_answer() {
        let rc = cache(THREE, None);
        let mut zero = master(0, 0);
        zero.is_master = None;
        let obs = observed(vec![zero, master(1, 0)], vec![fresh_sentinel(0)]);
        let p = plan(&rc, &obs, &inputs());
        assert_eq!(p.topology, Topology::Wait("c-0 does not answer yet".into()));
        assert_eq!(p.master, None);
        assert_eq!(p.progressing.as_deref(), Some("c-0 does not answer yet"));
        assert!(p.endpoints.master_ips.is_empty());
    }

    #[test]
    fn a_cache_restarted_whole_bootstraps_the_pod_with_the_recorded_history() {
        // Every pod and sentinel restarted; c-1 was master at offset 500.
        let rc = cache(THREE, Some(recorded(1, "r1", 500)));
        let mut behind = master(2, 100);
        behind.replid = Some("other".into());
        let obs = observed(
            vec![master(0, 400), master(1, 520), behind],
            vec![fresh_sentinel(0), fresh_sentinel(1), fresh_sentinel(2)],
        );
        let p = plan(&rc, &obs, &inputs());
        assert!(
            matches!(&p.topology, Topology::Bootstrap { master, .. } if master == "c-1"),
            "{:?}",
            p.topology
        );
    }

    #[test]
    fn a_cache_restarted_whole_with_only_empty_pods_refuses_to_bootstrap() {
        let rc = cache(THREE, Some(recorded(1, "r1", 500)));
        let obs = observed(
            vec![unassigned(0), unassigned(1), unassigned(2)],
            vec![fresh_sentinel(0)],
        );
        let p = plan(&rc, &obs, &inputs());
        assert!(
            matches!(p.topology, Topology::Refuse(_)),
            "{:?}",
            p.topology
        );
        assert_eq!(p.master, None);
        assert_eq!(
            p.degraded.as_ref().map(|d| d.0.as_str()),
            Some("RefusingOlderData")
        );
    }

    #[test]
    fn after_a_switch_the_master_service_follows_the_new_master_and_the_old_one_rejoins() {
        // Status says c-0; the sentinels promoted c-1; c-0 came back as
        // its replica, c-2 still syncs.
        let rc = cache(THREE, Some(recorded(0, "r1", 900)));
        let mut syncing = replica(2, 1, 0);
        syncing.link_up = false;
        let obs = observed(
            vec![replica(0, 1, 950), master(1, 950), syncing],
            vec![
                sentinel(0, 1, &[0, 2], 2),
                sentinel(1, 1, &[0, 2], 2),
                sentinel(2, 1, &[0, 2], 2),
            ],
        );
        let p = plan(&rc, &obs, &inputs());
        assert_eq!(p.agreed.as_deref(), Some("c-1"));
        assert_eq!(p.endpoints.master_ips, ["10.244.0.11"]);
        assert_eq!(p.endpoints.replica_ips, ["10.244.0.10"]);
        assert_eq!(p.endpoints.in_sync, ["c-0"]);
        assert_eq!(
            p.topology,
            Topology::Agreed {
                configure: vec![],
                strays: vec![],
                restarted: RestartedMaster::No,
                reset: None,
            }
        );
        assert_eq!(
            p.day2,
            Some(Day2 {
                master: "c-1".into(),
                handover: None,
                mode: Day2Mode::Rollout
            })
        );
    }

    #[test]
    fn a_requested_handover_is_planned_once_per_token_even_from_a_stale_read() {
        let mut rc = cache(THREE, Some(recorded(0, "r1", 10)));
        rc.metadata.annotations =
            Some([(crate::operator::crd::HANDOVER.to_string(), "t1".to_string())].into());
        let obs = observed(
            vec![master(0, 10), replica(1, 0, 10), replica(2, 0, 10)],
            vec![
                sentinel(0, 0, &[1, 2], 2),
                sentinel(1, 0, &[1, 2], 2),
                sentinel(2, 0, &[1, 2], 2),
            ],
        );
        let handover = |rc: &ReplicatedCache, inputs: &Inputs| {
            plan(rc, &obs, inputs).day2.and_then(|d| d.handover)
        };
        assert_eq!(handover(&rc, &inputs()).as_deref(), Some("t1"));
        // Carried out, but the read that follows does not show the status
        // that says so yet: not again.
        let done = Inputs {
            handed_over: Some("t1".into()),
            ..inputs()
        };
        assert_eq!(handover(&rc, &done), None);
        // The status says so.
        rc.status.as_mut().unwrap().handover_request = Some("t1".into());
        assert_eq!(handover(&rc, &inputs()), None);
        // A new token is a new request.
        rc.metadata.annotations =
            Some([(crate::operator::crd::HANDOVER.to_string(), "t2".to_string())].into());
        assert_eq!(handover(&rc, &done).as_deref(), Some("t2"));
    }

    #[test]
    fn a_recreated_sentinel_is_configured_and_new_pods_are_pointed_at_the_master() {
        let rc = cache("replicas: 4\nsentinels: 3\n", Some(recorded(0, "r1", 10)));
        let obs = observed(
            // c-2 restarted and waits; c-3 is a scale-up no sentinel knows.
            vec![
                master(0, 10),
                replica(1, 0, 10),
                unassigned(2),
                master(3, 0),
            ],
            vec![
                sentinel(0, 0, &[1, 2], 2),
                sentinel(1, 0, &[1, 2], 2),
                fresh_sentinel(2),
            ],
        );
        let p = plan(&rc, &obs, &inputs());
        let Topology::Agreed {
            configure, strays, ..
        } = &p.topology
        else {
            panic!("{:?}", p.topology)
        };
        assert_eq!(configure, &["c-sentinel-2"]);
        let pods: Vec<(&str, &str)> = strays.iter().map(|s| (s.pod.as_str(), s.was)).collect();
        assert_eq!(
            pods,
            [
                ("c-2", "started and waited to be told its master"),
                ("c-3", "stood alone as a master no sentinel knows"),
            ]
        );
    }

    #[test]
    fn a_master_restarted_before_the_sentinels_noticed_is_failed_over_to_a_replica_with_data() {
        let rc = cache(THREE, Some(recorded(0, "r1", 10)));
        let obs = observed(
            vec![unassigned(0), replica(1, 0, 10), replica(2, 0, 10)],
            vec![
                sentinel(0, 0, &[1, 2], 2),
                sentinel(1, 0, &[1, 2], 2),
                sentinel(2, 0, &[1, 2], 2),
            ],
        );
        let p = plan(&rc, &obs, &inputs());
        assert!(
            matches!(
                &p.topology,
                Topology::Agreed {
                    restarted: RestartedMaster::Failover,
                    ..
                }
            ),
            "{:?}",
            p.topology
        );
        // It says replica: no master Service endpoint, no day 2.
        assert!(p.endpoints.master_ips.is_empty());
        assert_eq!(p.day2, None);
    }

    #[test]
    fn a_scale_down_past_the_master_holds_its_ordinal_and_hands_over_first() {
        let rc = cache("replicas: 2\nsentinels: 3\n", Some(recorded(2, "r1", 10)));
        let obs = observed(
            vec![replica(0, 2, 10), replica(1, 2, 10), master(2, 10)],
            vec![
                sentinel(0, 2, &[0, 1], 2),
                sentinel(1, 2, &[0, 1], 2),
                sentinel(2, 2, &[0, 1], 2),
            ],
        );
        let p = plan(&rc, &obs, &inputs());
        assert_eq!(p.scale_hold, Some(3));
        assert_eq!(data_replicas(&p), Some(3));
        assert_eq!(p.day2.map(|d| d.mode), Some(Day2Mode::ScaleDown));
        // With --plain-rollouts Kubernetes removes it: no hold.
        let plain = Inputs {
            plain_rollouts: true,
            ..inputs()
        };
        let p = plan(&rc, &obs, &plain);
        assert_eq!(p.scale_hold, None);
        assert_eq!(data_replicas(&p), Some(2));
        assert_eq!(p.day2.map(|d| d.mode), Some(Day2Mode::Plain));
    }

    #[test]
    fn a_sentinel_change_that_leaves_too_few_working_is_refused_whole() {
        // 3 sentinels, c-sentinel-1 not working (recreated empty); the
        // spec asks for 2 with quorum 2: only c-sentinel-0 would work.
        let rc = cache(
            "replicas: 2\nsentinels: 2\nquorum: 2\n",
            Some(recorded(0, "r1", 10)),
        );
        let obs = observed(
            vec![master(0, 10), replica(1, 0, 10)],
            vec![
                sentinel(0, 0, &[1], 2),
                fresh_sentinel(1),
                sentinel(2, 0, &[1], 2),
            ],
        );
        let p = plan(&rc, &obs, &inputs());
        assert!(p.refused.is_some());
        assert!(p.objects.is_none(), "nothing is applied while refused");
        assert_eq!(p.day2, None);
        assert_eq!(
            p.degraded.as_ref().map(|d| d.0.as_str()),
            Some("UnsafeQuorum")
        );
        // The master still serves and is still followed.
        assert_eq!(p.endpoints.master_ips, ["10.244.0.10"]);
    }

    #[test]
    fn a_sentinel_remembering_removed_pods_is_reset_at_most_once_per_gap() {
        // Scaled from 4 to 3 data pods: sentinel 1 still counts 3 replicas.
        let rc = cache(THREE, Some(recorded(0, "r1", 10)));
        let obs = observed(
            vec![master(0, 10), replica(1, 0, 10), replica(2, 0, 10)],
            vec![
                sentinel(0, 0, &[1, 2], 2),
                sentinel(1, 0, &[1, 2, 3], 2),
                sentinel(2, 0, &[1, 2], 2),
            ],
        );
        let p = plan(&rc, &obs, &inputs());
        let Topology::Agreed { reset, .. } = &p.topology else {
            panic!("{:?}", p.topology)
        };
        let reset = reset.as_ref().expect("a reset");
        assert_eq!(reset.sentinel, "c-sentinel-1");
        assert!(
            reset.note.contains("3 replicas where the spec has 2 and 2"),
            "{}",
            reset.note
        );
        let soon = Inputs {
            since_reset: Some(Duration::from_secs(5)),
            ..inputs()
        };
        let p = plan(&rc, &obs, &soon);
        assert!(matches!(&p.topology, Topology::Agreed { reset: None, .. }));
    }

    #[test]
    fn sentinels_that_disagree_keep_the_recorded_master() {
        let rc = cache(THREE, Some(recorded(0, "r1", 10)));
        let obs = observed(
            vec![master(0, 10), master(1, 10), replica(2, 0, 10)],
            vec![
                sentinel(0, 0, &[2], 2),
                sentinel(1, 1, &[2], 2),
                fresh_sentinel(2),
            ],
        );
        let p = plan(&rc, &obs, &inputs());
        assert_eq!(p.topology, Topology::Keep);
        assert_eq!(p.master.as_deref(), Some("c-0"));
        assert_eq!(p.day2, None);
    }

    #[test]
    fn a_sentinel_calling_the_serving_master_down_is_reported() {
        let rc = cache(THREE, Some(recorded(0, "r1", 10)));
        let mut blind = sentinel(2, 0, &[1, 2], 2);
        blind.flags = "s_down,master".into();
        let obs = observed(
            vec![master(0, 10), replica(1, 0, 10), replica(2, 0, 10)],
            vec![
                sentinel(0, 0, &[1, 2], 2),
                sentinel(1, 0, &[1, 2], 2),
                blind,
            ],
        );
        let p = plan(&rc, &obs, &inputs());
        assert_eq!(
            p.master_down,
            [("c-sentinel-2".to_string(), "s_down,master".to_string())]
        );
    }
}
