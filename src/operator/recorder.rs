//! Kubernetes Events about a ReplicatedCache (`kubectl describe rcache`):
//! the operator's interventions and the sentinels' events it relays.
//!
//! Each publish creates one `events.k8s.io/v1` Event; the same reason and
//! note for the same cache within [`DEDUP`] is published once (every
//! sentinel reports the same `+odown`, and a failing reconcile retries).
//! kube-runtime's own recorder folds every event of a reason into one
//! series keeping the first note, which would show an old master after a
//! second failover. Publishing never fails a reconcile: errors are logged.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use kube::{Client, Resource, ResourceExt};
use tokio::sync::Mutex;

use super::crd::ReplicatedCache;

/// The window within which an identical event is published once.
pub const DEDUP: Duration = Duration::from_secs(60);

/// The reporting controller's name on every Event.
pub const CONTROLLER: &str = "picket.dev/picket-operator";

/// Normal or Warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Something happened as it should.
    Normal,
    /// Something needs a look.
    Warning,
}

/// Publishes Events for caches.
pub struct Recorder {
    client: Client,
    instance: String,
    recent: Mutex<HashMap<(String, String, String), Instant>>,
}

impl Recorder {
    /// A recorder reporting as `instance` (the operator pod's name).
    pub fn new(client: Client, instance: String) -> Self {
        Recorder {
            client,
            instance,
            recent: Mutex::new(HashMap::new()),
        }
    }

    /// Publishes one Event about `rc` unless the same one went out within
    /// [`DEDUP`]. `action` is what the operator (or a sentinel) did,
    /// `reason` why, in PascalCase; `note` is the human sentence.
    pub async fn publish(
        &self,
        rc: &ReplicatedCache,
        kind: Kind,
        reason: &str,
        action: &str,
        note: &str,
    ) {
        let uid = rc.uid().unwrap_or_default();
        {
            let mut recent = self.recent.lock().await;
            let now = Instant::now();
            recent.retain(|_, at| now.duration_since(*at) < DEDUP);
            let key = (uid.clone(), reason.to_string(), note.to_string());
            if recent.contains_key(&key) {
                return;
            }
            recent.insert(key, now);
        }
        let ns = rc.namespace().unwrap_or_else(|| "default".into());
        let now = k8s_openapi::jiff::Timestamp::now();
        let ev = Event {
            metadata: ObjectMeta {
                name: Some(format!("{}.{:x}", rc.name_any(), now.as_nanosecond())),
                namespace: Some(ns.clone()),
                ..Default::default()
            },
            event_time: Some(MicroTime(now)),
            type_: Some(
                match kind {
                    Kind::Normal => "Normal",
                    Kind::Warning => "Warning",
                }
                .into(),
            ),
            reason: Some(reason.into()),
            action: Some(action.into()),
            // The API server refuses notes over 1 kB.
            note: Some(truncate(note, 1000)),
            regarding: Some(rc.object_ref(&())),
            reporting_controller: Some(CONTROLLER.into()),
            reporting_instance: Some(self.instance.clone()),
            ..Default::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        match api.create(&PostParams::default(), &ev).await {
            Ok(_) => tracing::info!(cache = %rc.name_any(), %reason, "event: {note}"),
            Err(e) => tracing::warn!(cache = %rc.name_any(), %reason, "publishing an event: {e}"),
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn notes_are_cut_on_a_char_boundary() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 3), "abc");
        assert_eq!(truncate("aé", 2), "a");
    }
}
