//! Pub/Sub state (Redis: pubsub.c): channel and pattern subscriptions and
//! message delivery to subscribers' output buffers.

use std::collections::HashMap;

use super::client::Client;
use super::Server;
use crate::keyspace::Sds;

/// Subscriptions by channel and by pattern.
#[derive(Default)]
pub struct PubSub {
    /// Channel → subscribed client ids.
    pub channels: HashMap<Sds, Vec<u64>>,
    /// Pattern → subscribed client ids.
    pub patterns: HashMap<Sds, Vec<u64>>,
}

impl Server {
    /// Drops all of a client's subscriptions without replying (disconnect, RESET).
    pub fn pubsub_unsubscribe_all(&mut self, c: &mut Client) {
        for ch in c.channels.drain() {
            if let Some(v) = self.pubsub.channels.get_mut(&ch) {
                v.retain(|&id| id != c.id);
                if v.is_empty() {
                    self.pubsub.channels.remove(&ch);
                }
            }
        }
        for p in c.patterns.drain() {
            if let Some(v) = self.pubsub.patterns.get_mut(&p) {
                v.retain(|&id| id != c.id);
                if v.is_empty() {
                    self.pubsub.patterns.remove(&p);
                }
            }
        }
    }
}
