//! The leader election (Redis: sentinelAskMasterStateToOtherSentinels,
//! sentinelVoteLeader, sentinelGetLeader): a sentinel that wants to fail
//! over asks the others for their vote in its epoch; each votes at most
//! once per epoch, for the first candidate that asks, and persists the
//! vote before answering; the winner needs a majority of all the
//! sentinels it knows and at least the quorum.

use super::{Action, Event, FailoverState, Req, Sentinel, Who, ASK_PERIOD_MS, MAX_DESYNC_MS};

/// The winner of an election, if any (Redis: sentinelGetLeader): the
/// runid with most votes, when they are at least a majority of `voters`
/// and at least `quorum`.
pub fn count_leader<'a>(votes: &[&'a str], voters: usize, quorum: usize) -> Option<&'a str> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for v in votes {
        match counts.iter_mut().find(|(r, _)| r == v) {
            Some((_, n)) => *n += 1,
            None => counts.push((v, 1)),
        }
    }
    // Ties go to the lexicographically first, as every sentinel decides
    // the same way on the same votes.
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let (winner, n) = *counts.first()?;
    let needed = (voters / 2 + 1).max(quorum);
    (n >= needed).then_some(winner)
}

impl Sentinel {
    /// Asks the other sentinels whether they see the master down, and
    /// (when we try a failover) for their vote.
    pub(super) fn ask_others(&mut self, name: &str, now_ms: i64) {
        let (myid, epoch) = (self.myid.clone(), self.current_epoch);
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        if m.inst.sdown_since == 0 {
            for p in m.sentinels.values_mut() {
                p.master_down_ms = 0;
            }
            return;
        }
        // Votes are asked for only once the random start delay passed:
        // two sentinels that saw the master fail in the same instant would
        // otherwise each vote for the other and neither be elected. The
        // first whose delay ends asks first and gets the others' votes.
        let want_vote = m
            .failover
            .as_ref()
            .is_some_and(|f| f.state == FailoverState::WaitStart && now_ms >= f.start_ms);
        if let Some(f) = m.failover.as_mut() {
            if want_vote && !f.votes_asked {
                f.votes_asked = true;
                for p in m.sentinels.values_mut() {
                    p.asked_ms = 0;
                }
            }
        }
        let runid = if want_vote { myid } else { "*".to_string() };
        let (ip, port) = (m.inst.ip.clone(), m.inst.port);
        for p in m.sentinels.values_mut() {
            if now_ms - p.asked_ms < ASK_PERIOD_MS {
                continue;
            }
            if let Some(l) = &p.link {
                p.asked_ms = now_ms;
                self.actions.push_back(Action::Send {
                    id: l.id,
                    req: Req::IsMasterDown {
                        ip: ip.clone(),
                        port,
                        epoch,
                        runid: runid.clone(),
                    },
                });
            }
        }
    }

    /// Our vote in `req_epoch` (Redis: sentinelVoteLeader): the first
    /// candidate asking in an epoch gets it; a newer epoch is adopted
    /// first. Returns the leader we voted for in our last voted epoch, and
    /// that epoch. A vote or a new epoch is persisted before this returns
    /// (an [`Action::SaveConfig`] queued ahead of anything else).
    pub fn vote(
        &mut self,
        name: &str,
        req_epoch: u64,
        req_runid: &str,
        now_ms: i64,
    ) -> (String, u64) {
        if !self.masters.contains_key(name) || req_epoch > super::proto::MAX_EPOCH {
            return (String::new(), 0);
        }
        if req_epoch > self.current_epoch {
            self.current_epoch = req_epoch;
            self.save_now();
            self.event(Event::NewEpoch, name, &Who::Master, &req_epoch.to_string());
        }
        let current = self.current_epoch;
        let delay = self.rng.i64(0..MAX_DESYNC_MS);
        let Some(m) = self.masters.get_mut(name) else {
            return (String::new(), 0);
        };
        if m.conf.leader_epoch < req_epoch && current <= req_epoch {
            m.leader = Some(req_runid.to_string());
            m.conf.leader_epoch = current;
            if req_runid != self.myid {
                // Give the candidate time before trying ourselves.
                m.failover_start_ms = now_ms + delay;
            }
            self.save_now();
            let extra = format!("{req_runid} {current}");
            self.event(Event::VoteForLeader, name, &Who::Master, &extra);
        }
        let m = &self.masters[name];
        (m.leader.clone().unwrap_or_default(), m.conf.leader_epoch)
    }

    /// The leader of `epoch`, from our vote and the others' (Redis:
    /// sentinelGetLeader). Votes for ourselves when we did not vote yet.
    pub(super) fn leader(&mut self, name: &str, epoch: u64, now_ms: i64) -> Option<String> {
        let m = self.masters.get(name)?;
        let mut votes: Vec<String> = m
            .sentinels
            .values()
            .filter_map(|p| p.leader.clone())
            .filter(|(_, e)| *e == epoch)
            .map(|(r, _)| r)
            .collect();
        let (voters, quorum) = (m.sentinels.len() + 1, m.conf.quorum);
        let myid = self.myid.clone();
        let (mine, e) = self.vote(name, epoch, &myid, now_ms);
        if e == epoch && !mine.is_empty() {
            votes.push(mine);
        }
        let refs: Vec<&str> = votes.iter().map(String::as_str).collect();
        count_leader(&refs, voters, quorum).map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentinel::config::SentinelConf;

    fn one_master(myid: &str) -> Sentinel {
        let mut conf = SentinelConf::new();
        conf.apply(&["myid".into(), myid.into()]).unwrap();
        let line = ["monitor", "cache", "127.0.0.1", "6379", "2"];
        conf.apply(&line.map(String::from)).unwrap();
        let mut s = Sentinel::new(conf, "/nonexistent/sentinel.conf".into(), 0);
        s.seed(7);
        s
    }

    const ME: &str = "0000000000000000000000000000000000000001";
    const A: &str = "000000000000000000000000000000000000000a";
    const B: &str = "000000000000000000000000000000000000000b";

    #[test]
    fn the_count_needs_a_majority_of_all_sentinels_and_the_quorum() {
        // (votes, voters, quorum, winner)
        let table: &[(&[&str], usize, usize, Option<&str>)] = &[
            (&["a", "a", "b"], 3, 2, Some("a")),
            (&["a", "b"], 3, 2, None),
            (&["a", "a"], 5, 2, None),      // 2 of 5 is no majority
            (&["a", "a", "a"], 5, 4, None), // below the quorum
            (&["a", "a", "a", "a"], 5, 4, Some("a")),
            (&[], 3, 1, None),
            (&["b", "a", "a", "b"], 4, 2, None), // a tie is no majority of 4
            (&["b", "a", "a", "b", "c"], 5, 1, None),
            (&["a"], 1, 1, Some("a")), // a lone sentinel
        ];
        for (votes, voters, quorum, want) in table {
            assert_eq!(
                count_leader(votes, *voters, *quorum),
                *want,
                "{votes:?} of {voters}, quorum {quorum}"
            );
        }
    }

    #[test]
    fn one_vote_per_epoch_to_the_first_who_asks_persisted_before_the_answer() {
        let mut s = one_master(ME);
        s.current_epoch = 4;
        // (asker, epoch, the vote it is answered with)
        let table: &[(&str, u64, (&str, u64))] = &[
            (A, 5, (A, 5)), // first in epoch 5
            (B, 5, (A, 5)), // same epoch: A keeps it
            (B, 4, (A, 5)), // older epoch: nothing
            (B, 6, (B, 6)), // newer epoch: a new vote
            (A, 6, (B, 6)),
        ];
        for (asker, epoch, (leader, e)) in table {
            let before = s.masters["cache"].conf.leader_epoch;
            let got = s.vote("cache", *epoch, asker, 1000);
            assert_eq!(got, (leader.to_string(), *e), "{asker} asks in {epoch}");
            let actions: Vec<Action> = std::iter::from_fn(|| s.poll_action()).collect();
            let voted = s.masters["cache"].conf.leader_epoch != before;
            if voted {
                assert_eq!(actions.first(), Some(&Action::SaveConfig), "{actions:?}");
                assert!(actions.iter().any(|a| matches!(a,
                    Action::Emit { kind: Event::VoteForLeader, msg, .. } if msg.ends_with(&format!("{asker} {epoch}")))));
            } else {
                assert!(!actions.iter().any(|a| matches!(
                    a,
                    Action::Emit {
                        kind: Event::VoteForLeader,
                        ..
                    }
                )));
            }
        }
        assert_eq!(s.current_epoch, 6);
    }

    #[test]
    fn a_vote_for_another_delays_our_own_failover() {
        let mut s = one_master(ME);
        s.vote("cache", 1, A, 10_000);
        let m = &s.masters["cache"];
        assert!((10_000..11_000).contains(&m.failover_start_ms));
        let mut s = one_master(ME);
        s.vote("cache", 1, ME, 10_000);
        assert_eq!(s.masters["cache"].failover_start_ms, 0);
    }

    #[test]
    fn the_leader_counts_our_vote_and_the_others_of_the_same_epoch() {
        let mut s = one_master(ME);
        for (id, port) in [(A, 1), (B, 2)] {
            let p = crate::sentinel::Peer::new("127.0.0.1", port, id, 0);
            s.masters
                .get_mut("cache")
                .unwrap()
                .sentinels
                .insert(id.into(), p);
        }
        let set_vote = |s: &mut Sentinel, id: &str, v: Option<(&str, u64)>| {
            s.masters
                .get_mut("cache")
                .unwrap()
                .sentinels
                .get_mut(id)
                .unwrap()
                .leader = v.map(|(l, e)| (l.to_string(), e));
        };
        // Nobody else voted: our own vote is 1 of 3.
        s.current_epoch = 1;
        assert_eq!(s.leader("cache", 1, 0), None);
        // One other voted for us in this epoch: 2 of 3.
        set_vote(&mut s, A, Some((ME, 1)));
        assert_eq!(s.leader("cache", 1, 0).as_deref(), Some(ME));
        // A vote from an older epoch does not count.
        s.current_epoch = 2;
        set_vote(&mut s, A, Some((ME, 1)));
        set_vote(&mut s, B, Some((B, 2)));
        assert_eq!(s.leader("cache", 2, 0), None);
        // Two others voted for B in epoch 3, we vote for ourselves: B wins.
        s.current_epoch = 3;
        set_vote(&mut s, A, Some((B, 3)));
        set_vote(&mut s, B, Some((B, 3)));
        assert_eq!(s.leader("cache", 3, 0).as_deref(), Some(B));
    }
}
