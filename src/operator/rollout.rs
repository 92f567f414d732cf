//! Rolling a cache's pods under the operator's control: pure decisions,
//! one step per reconcile.
//!
//! Both StatefulSets use `OnDelete`: a template change (image, resources,
//! settings that need a restart) makes new pods only when the operator
//! deletes the old ones. It does so one pod at a time, and only while
//! every pod is healthy: sentinels first (each back, configured and
//! knowing all its peers before the next), then the replicas (each back,
//! linked to the master and caught up), and last the master, which is
//! first handed over to an up-to-date replica by `SENTINEL FAILOVER`;
//! once the sentinels agree on the new master and the Service points at
//! it, the old master is an outdated replica like any other.

/// A pod as the rollout sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Pod name.
    pub name: String,
    /// StatefulSet ordinal.
    pub ordinal: i32,
    /// It runs the StatefulSet's update revision.
    pub current: bool,
    /// Why it is not healthy yet, if it is not.
    pub unhealthy: Option<String>,
    /// It is not even ready (crash-looping, an image that does not pull,
    /// not started).
    pub down: bool,
}

/// The next rollout step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Every pod runs the current revision.
    Done,
    /// A pod is not healthy (or the handover is not possible yet): wait.
    Wait(String),
    /// Delete this pod; its StatefulSet recreates it at the new revision.
    Restart {
        /// The pod.
        pod: String,
        /// For the Event.
        why: String,
    },
    /// Ask the sentinels to fail over from this master to an up-to-date
    /// replica.
    Handover {
        /// The master.
        from: String,
    },
}

/// How many pods run the old revision, for the progress message.
pub fn outdated(members: &[Member]) -> usize {
    members.iter().filter(|m| !m.current).count()
}

/// The first reason not to act: fewer than `want` members present, or a
/// member's own.
pub fn first_unhealthy(members: &[Member], want: usize, what: &str) -> Option<String> {
    if members.len() < want {
        return Some(format!("{} of {want} {what} present", members.len()));
    }
    members
        .iter()
        .find_map(|m| m.unhealthy.as_ref().map(|why| format!("{}: {why}", m.name)))
}

/// The one unhealthy member, when it is down (not ready), runs an old
/// revision and is not `keep` while every other is healthy: it serves
/// nothing already, so
/// restarting it at the current revision costs nothing, and it is how a
/// bad change (an image that does not pull, a crash at start) is undone
/// once the spec is reverted.
fn stuck_outdated<'a>(members: &'a [Member], want: usize, keep: &str) -> Option<&'a Member> {
    let mut bad = members.iter().filter(|m| m.unhealthy.is_some());
    match (bad.next(), bad.next()) {
        (Some(m), None) if members.len() >= want && m.down && !m.current && m.name != keep => {
            Some(m)
        }
        _ => None,
    }
}

fn restart_stuck(m: &Member) -> Step {
    Step::Restart {
        pod: m.name.clone(),
        why: format!(
            "{} runs an old revision and is not healthy ({}): restarted at the current one",
            m.name,
            m.unhealthy.as_deref().unwrap_or_default()
        ),
    }
}

/// The sentinels' next step: restart the highest outdated ordinal, and
/// only while all `want` sentinels are healthy (or the one that is not
/// is outdated: [`stuck_outdated`]).
pub fn sentinel_step(sentinels: &[Member], want: usize) -> Step {
    if outdated(sentinels) == 0 {
        return Step::Done;
    }
    if let Some(m) = stuck_outdated(sentinels, want, "") {
        return restart_stuck(m);
    }
    if let Some(why) = first_unhealthy(sentinels, want, "sentinels") {
        return Step::Wait(why);
    }
    let next = sentinels
        .iter()
        .filter(|m| !m.current)
        .max_by_key(|m| m.ordinal)
        .expect("an outdated sentinel");
    Step::Restart {
        pod: next.name.clone(),
        why: format!(
            "sentinel {} runs an old revision ({} of {} left); the others keep the quorum",
            next.name,
            outdated(sentinels),
            sentinels.len()
        ),
    }
}

/// The data pods' next step: outdated replicas from the highest ordinal,
/// then a handover from an outdated `master` (when `handover_ready`: an
/// up-to-date replica in sync that the sentinels know), never while a pod
/// is unhealthy (except a stuck outdated replica: [`stuck_outdated`]).
/// A one-pod cache restarts its only pod.
pub fn data_step(pods: &[Member], want: usize, master: &str, handover_ready: bool) -> Step {
    if outdated(pods) == 0 {
        return Step::Done;
    }
    if let Some(m) = stuck_outdated(pods, want, master) {
        return restart_stuck(m);
    }
    if let Some(why) = first_unhealthy(pods, want, "data pods") {
        return Step::Wait(why);
    }
    let left = outdated(pods);
    if let Some(next) = pods
        .iter()
        .filter(|m| !m.current && m.name != master)
        .max_by_key(|m| m.ordinal)
    {
        return Step::Restart {
            pod: next.name.clone(),
            why: format!(
                "replica {} runs an old revision ({left} of {} data pods left, the master last)",
                next.name,
                pods.len()
            ),
        };
    }
    if pods.len() == 1 {
        return Step::Restart {
            pod: master.to_string(),
            why: format!("{master} is the cache's only data pod: restarted in place"),
        };
    }
    if handover_ready {
        Step::Handover {
            from: master.to_string(),
        }
    } else {
        Step::Wait(format!(
            "master {master} runs an old revision; waiting for an up-to-date replica the sentinels know to hand over to"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, ordinal: i32, current: bool, unhealthy: Option<&str>) -> Member {
        Member {
            name: name.into(),
            ordinal,
            current,
            unhealthy: unhealthy.map(String::from),
            down: unhealthy == Some("not ready"),
        }
    }

    #[test]
    fn nothing_outdated_is_done_even_while_a_pod_is_unhealthy() {
        let pods = [m("c-0", 0, true, None), m("c-1", 1, true, Some("syncing"))];
        assert_eq!(data_step(&pods, 2, "c-0", true), Step::Done);
        assert_eq!(sentinel_step(&pods, 2), Step::Done);
    }

    #[test]
    fn replicas_roll_from_the_highest_ordinal_and_the_master_last_by_handover() {
        let mut pods = vec![
            m("c-0", 0, false, None),
            m("c-1", 1, false, None),
            m("c-2", 2, false, None),
        ];
        // c-1 is the master.
        let step = data_step(&pods, 3, "c-1", true);
        assert!(
            matches!(&step, Step::Restart { pod, .. } if pod == "c-2"),
            "{step:?}"
        );
        pods[2].current = true;
        let step = data_step(&pods, 3, "c-1", true);
        assert!(
            matches!(&step, Step::Restart { pod, .. } if pod == "c-0"),
            "{step:?}"
        );
        pods[0].current = true;
        assert_eq!(
            data_step(&pods, 3, "c-1", true),
            Step::Handover { from: "c-1".into() }
        );
        // The sentinels do not know an up-to-date replica yet.
        assert!(matches!(data_step(&pods, 3, "c-1", false), Step::Wait(_)));
        // After the handover c-1 is an outdated replica.
        let step = data_step(&pods, 3, "c-0", true);
        assert!(
            matches!(&step, Step::Restart { pod, .. } if pod == "c-1"),
            "{step:?}"
        );
    }

    #[test]
    fn nothing_is_restarted_while_a_pod_is_unhealthy_or_missing() {
        let pods = [
            m("c-0", 0, true, None),
            m("c-1", 1, true, Some("link down")),
            m("c-2", 2, false, None),
        ];
        assert_eq!(
            data_step(&pods, 3, "c-0", true),
            Step::Wait("c-1: link down".into())
        );
        let two = [m("c-0", 0, false, None), m("c-2", 2, false, None)];
        assert_eq!(
            data_step(&two, 3, "c-0", true),
            Step::Wait("2 of 3 data pods present".into())
        );
        let sentinels = [
            m("s-0", 0, false, None),
            m("s-1", 1, true, Some("not configured")),
        ];
        assert_eq!(
            sentinel_step(&sentinels, 2),
            Step::Wait("s-1: not configured".into())
        );
    }

    #[test]
    fn a_stuck_outdated_pod_is_restarted_so_a_reverted_change_recovers() {
        // s-2 was restarted with an image that does not pull; the spec is
        // reverted, so the others are current again and s-2 is not.
        let s = [
            m("s-0", 0, true, None),
            m("s-1", 1, true, None),
            m("s-2", 2, false, Some("not ready")),
        ];
        assert!(matches!(sentinel_step(&s, 3), Step::Restart { pod, .. } if pod == "s-2"));
        // Never with a second pod down, nor the master.
        let two_down = [
            m("c-0", 0, true, None),
            m("c-1", 1, true, Some("link down")),
            m("c-2", 2, false, Some("not ready")),
        ];
        assert!(matches!(
            data_step(&two_down, 3, "c-0", true),
            Step::Wait(_)
        ));
        let master_down = [
            m("c-0", 0, false, Some("not ready")),
            m("c-1", 1, true, None),
        ];
        assert!(matches!(
            data_step(&master_down, 2, "c-0", true),
            Step::Wait(_)
        ));
        let replica = [
            m("c-0", 0, true, None),
            m("c-1", 1, false, Some("not ready")),
        ];
        assert!(
            matches!(data_step(&replica, 2, "c-0", true), Step::Restart { pod, .. } if pod == "c-1")
        );
        // A replica that is up but behind is waited for, not restarted.
        let lagging = [
            m("c-0", 0, true, None),
            m("c-1", 1, false, Some("9 bytes behind")),
        ];
        assert!(matches!(data_step(&lagging, 2, "c-0", true), Step::Wait(_)));
    }

    #[test]
    fn sentinels_roll_one_at_a_time_from_the_highest_ordinal() {
        let s = [
            m("s-0", 0, false, None),
            m("s-1", 1, false, None),
            m("s-2", 2, true, None),
        ];
        let step = sentinel_step(&s, 3);
        assert!(
            matches!(&step, Step::Restart { pod, .. } if pod == "s-1"),
            "{step:?}"
        );
    }

    #[test]
    fn a_one_pod_cache_restarts_its_master_in_place() {
        let pods = [m("c-0", 0, false, None)];
        assert!(
            matches!(data_step(&pods, 1, "c-0", false), Step::Restart { pod, .. } if pod == "c-0")
        );
    }
}
