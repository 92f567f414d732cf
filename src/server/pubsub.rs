//! Pub/Sub state (Redis: pubsub.c): channel and pattern subscriptions and
//! message delivery to subscribers' output buffers.
//!
//! The server keeps channel → subscribers and pattern → subscribers, in
//! subscription order; each client keeps its own set of channels and
//! patterns (for the counts in confirmations and for unsubscribe-all).
//! Confirmations and messages are arrays in RESP2 and pushes (`>`) in RESP3.
//!
//! Delivery writes into the subscriber's output buffer and wakes its
//! connection. A subscriber that never reads would grow without bound, so
//! delivery enforces the pubsub hard output limit itself (Redis checks it in
//! every addReply): over the limit the client is marked close-asap and its
//! pending output dropped; its connection task then closes it.

use std::collections::HashMap;

use super::client::Client;
use super::Server;
use crate::keyspace::Sds;
use crate::resp::encode;
use crate::util::glob::glob_match;

/// Subscriptions by channel and by pattern.
#[derive(Default)]
pub struct PubSub {
    /// Channel → subscribed client ids.
    pub channels: HashMap<Sds, Vec<u64>>,
    /// Pattern → subscribed client ids.
    pub patterns: HashMap<Sds, Vec<u64>>,
}

/// Which kind of subscription: decides the confirmation's name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Channel,
    Pattern,
}

impl Kind {
    fn subscribe_name(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
        }
    }
    fn unsubscribe_name(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
        }
    }
}

/// Writes `[kind, name-or-nil, count]` (Redis: addReplyPubsub(Un)Subscribed).
fn confirm(c: &mut Client, kind: &[u8], name: Option<&[u8]>, count: usize) {
    encode::push(&mut c.out, c.proto, 3);
    encode::bulk(&mut c.out, kind);
    match name {
        Some(n) => encode::bulk(&mut c.out, n),
        None => encode::null(&mut c.out, c.proto),
    }
    encode::int(&mut c.out, count as i64);
}

/// Removes `id` from `key`'s subscriber list, dropping the entry when empty.
fn remove_subscriber(map: &mut HashMap<Sds, Vec<u64>>, key: &[u8], id: u64) {
    if let Some(v) = map.get_mut(key) {
        v.retain(|&x| x != id);
        if v.is_empty() {
            map.remove(key);
        }
    }
}

impl Server {
    /// SUBSCRIBE one channel and confirm it (Redis: pubsubSubscribeChannel).
    pub fn pubsub_subscribe_channel(&mut self, c: &mut Client, ch: &[u8]) {
        self.subscribe(c, ch, Kind::Channel);
    }

    /// PSUBSCRIBE one pattern and confirm it (Redis: pubsubSubscribePattern).
    pub fn pubsub_subscribe_pattern(&mut self, c: &mut Client, pat: &[u8]) {
        self.subscribe(c, pat, Kind::Pattern);
    }

    /// UNSUBSCRIBE one channel and confirm it, subscribed or not.
    pub fn pubsub_unsubscribe_channel(&mut self, c: &mut Client, ch: &[u8]) {
        self.unsubscribe(c, ch, Kind::Channel, true);
    }

    /// PUNSUBSCRIBE one pattern and confirm it, subscribed or not.
    pub fn pubsub_unsubscribe_pattern(&mut self, c: &mut Client, pat: &[u8]) {
        self.unsubscribe(c, pat, Kind::Pattern, true);
    }

    /// UNSUBSCRIBE without arguments: every channel, one confirmation each,
    /// or `[unsubscribe, nil, count]` when there was none.
    pub fn pubsub_unsubscribe_all_channels(&mut self, c: &mut Client) {
        self.unsubscribe_all_of(c, Kind::Channel);
    }

    /// PUNSUBSCRIBE without arguments, as for channels.
    pub fn pubsub_unsubscribe_all_patterns(&mut self, c: &mut Client) {
        self.unsubscribe_all_of(c, Kind::Pattern);
    }

    fn subscribe(&mut self, c: &mut Client, name: &[u8], kind: Kind) {
        let key = Sds::from_slice(name);
        let (mine, table) = match kind {
            Kind::Channel => (&mut c.channels, &mut self.pubsub.channels),
            Kind::Pattern => (&mut c.patterns, &mut self.pubsub.patterns),
        };
        if mine.insert(key.clone()) {
            table.entry(key).or_default().push(c.id);
        }
        let n = c.subscriptions();
        confirm(c, kind.subscribe_name(), Some(name), n);
    }

    fn unsubscribe(&mut self, c: &mut Client, name: &[u8], kind: Kind, notify: bool) {
        let (mine, table) = match kind {
            Kind::Channel => (&mut c.channels, &mut self.pubsub.channels),
            Kind::Pattern => (&mut c.patterns, &mut self.pubsub.patterns),
        };
        if mine.remove(name) {
            remove_subscriber(table, name, c.id);
        }
        if notify {
            let n = c.subscriptions();
            confirm(c, kind.unsubscribe_name(), Some(name), n);
        }
    }

    fn unsubscribe_all_of(&mut self, c: &mut Client, kind: Kind) {
        let names: Vec<Sds> = match kind {
            Kind::Channel => c.channels.iter().cloned().collect(),
            Kind::Pattern => c.patterns.iter().cloned().collect(),
        };
        if names.is_empty() {
            let n = c.subscriptions();
            confirm(c, kind.unsubscribe_name(), None, n);
            return;
        }
        for name in names {
            self.unsubscribe(c, &name, kind, true);
        }
    }

    /// Drops all of a client's subscriptions without replying (disconnect, RESET).
    pub fn pubsub_unsubscribe_all(&mut self, c: &mut Client) {
        for ch in c.channels.drain() {
            remove_subscriber(&mut self.pubsub.channels, &ch, c.id);
        }
        for p in c.patterns.drain() {
            remove_subscriber(&mut self.pubsub.patterns, &p, c.id);
        }
    }

    /// PUBLISH: delivers `msg` to the channel's subscribers, then to every
    /// client of every matching pattern, and returns how many deliveries
    /// were made (a client subscribed to the channel and to two matching
    /// patterns counts three times, as in Redis). `current` is the
    /// publishing client (it may be a subscriber itself, in RESP3).
    pub fn pubsub_publish(&mut self, current: &mut Client, ch: &[u8], msg: &[u8]) -> i64 {
        let mut receivers = 0;
        let limit = self.obuf_hard_limits.1;
        if let Some(ids) = self.pubsub.channels.get(ch) {
            for &id in ids {
                self.with_client(current, id, |c| deliver(c, &[b"message", ch, msg], limit));
                receivers += 1;
            }
        }
        if !self.pubsub.patterns.is_empty() {
            for (pat, ids) in &self.pubsub.patterns {
                if !glob_match(pat, ch, false) {
                    continue;
                }
                for &id in ids {
                    self.with_client(current, id, |c| {
                        deliver(c, &[b"pmessage", pat, ch, msg], limit)
                    });
                    receivers += 1;
                }
            }
        }
        receivers
    }

    /// PUBSUB CHANNELS: active channels matching `pattern` (all without one).
    pub fn pubsub_channels(&self, pattern: Option<&[u8]>) -> Vec<Sds> {
        self.pubsub
            .channels
            .keys()
            .filter(|ch| pattern.is_none_or(|p| glob_match(p, ch, false)))
            .cloned()
            .collect()
    }

    /// PUBSUB NUMSUB for one channel: its subscriber count (patterns excluded).
    pub fn pubsub_numsub(&self, ch: &[u8]) -> usize {
        self.pubsub.channels.get(ch).map_or(0, Vec::len)
    }
}

/// Writes one message (`message`/`pmessage` and its parts) to a subscriber,
/// then enforces the pubsub hard output limit (0 = none): over it, the
/// subscriber is marked for closing and its pending output dropped (Redis:
/// closeClientOnOutputBufferLimitReached, then an async close). A client
/// already being closed gets nothing more.
fn deliver(c: &mut Client, parts: &[&[u8]], limit: u64) {
    if c.flags.close_asap {
        return;
    }
    encode::push(&mut c.out, c.proto, parts.len());
    for p in parts {
        encode::bulk(&mut c.out, p);
    }
    if limit == 0 || (c.out.len() as u64) <= limit {
        return;
    }
    tracing::warn!(
        client = %c.addr,
        omem = c.out.len(),
        "client scheduled to be closed ASAP for overcoming of output buffer limits"
    );
    c.flags.close_asap = true;
    c.out = Vec::new();
}
