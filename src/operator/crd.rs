//! The `ReplicatedCache` custom resource (group `picket.dev`, version
//! `v1alpha1`): its spec with the defaults and the validation the API
//! server applies at `kubectl apply` (OpenAPI bounds and CEL rules, each
//! message naming the field), and its status. `picket-crdgen` writes the
//! CRD from these types into `crds/`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, Toleration};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// Server settings the operator sets itself; `spec.config` may not hold
/// them (the CEL rule on `config` lists the same names).
pub const OWNED_CONFIG_KEYS: &[&str] = &[
    "port",
    "bind",
    "dir",
    "daemonize",
    "replicaof",
    "slaveof",
    "masterauth",
    "masteruser",
    "requirepass",
    "replica-announce-ip",
    "slave-announce-ip",
    "replica-announce-port",
    "slave-announce-port",
    "maxmemory",
    "maxmemory-policy",
    "appendonly",
    "min-replicas-to-write",
    "min-slaves-to-write",
    "protected-mode",
    "logfile",
];

/// The eviction policies `maxMemoryPolicy` accepts (redis.conf's).
pub const MAXMEMORY_POLICIES: &[&str] = &[
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
];

/// A replicated, self-healing cache: one master, its replicas and the
/// sentinels that fail it over.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "picket.dev",
    version = "v1alpha1",
    kind = "ReplicatedCache",
    plural = "replicatedcaches",
    shortname = "rcache",
    namespaced,
    status = "ReplicatedCacheStatus",
    printcolumn = r#"{"name":"Master","type":"string","jsonPath":".status.master"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.ready"}"#,
    printcolumn = r#"{"name":"Sentinels","type":"string","jsonPath":".status.sentinelsReady"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = Rule::new("!has(self.quorum) || self.quorum <= self.sentinels").message("spec.quorum must be at most spec.sentinels").field_path(".quorum"))]
#[serde(rename_all = "camelCase")]
pub struct ReplicatedCacheSpec {
    /// Data pods in all: one master, the rest replicas.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1))]
    pub replicas: i32,
    /// Sentinel pods (at least 3).
    #[serde(default = "default_sentinels")]
    #[schemars(range(min = 3))]
    pub sentinels: i32,
    /// Sentinels that must agree the master is down; default: a majority
    /// of `sentinels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub quorum: Option<i32>,
    /// The picket-server image; default: the operator's own version's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Where the password is; without it the operator creates Secret
    /// `<name>-auth` with key `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthSpec>,
    /// maxmemory, as redis.conf writes it (`256mb`, `1gb`, `1048576`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+([kKmMgG][bB]?)?$"))]
    pub max_memory: Option<String>,
    /// maxmemory-policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self in ['noeviction', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl']").message("spec.maxMemoryPolicy must be one of noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl"))]
    pub max_memory_policy: Option<String>,
    /// Disks for the data pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<PersistenceSpec>,
    /// Sentinel timings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel: Option<SentinelSpec>,
    /// When > 0, a master with fewer connected replicas refuses writes.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub min_replicas_to_write: i32,
    /// Further server settings (redis.conf names); ones the operator owns
    /// are rejected. At most 64 (bounds the CEL rule's cost).
    #[serde(default)]
    #[schemars(extend("maxProperties" = 64))]
    #[x_kube(validation = Rule::new("self.all(k, !(k in ['port', 'bind', 'dir', 'daemonize', 'replicaof', 'slaveof', 'masterauth', 'masteruser', 'requirepass', 'replica-announce-ip', 'slave-announce-ip', 'replica-announce-port', 'slave-announce-port', 'maxmemory', 'maxmemory-policy', 'appendonly', 'min-replicas-to-write', 'min-slaves-to-write', 'protected-mode', 'logfile']))").message("spec.config may not set port, bind, dir, daemonize, replicaof/slaveof, masterauth, masteruser, requirepass, replica-announce-ip/port, maxmemory, maxmemory-policy, appendonly, min-replicas-to-write, protected-mode or logfile: the operator owns them (use the spec's own fields)"))]
    pub config: BTreeMap<String, String>,
    /// Resources of the data containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Node selector of every pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Tolerations of every pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Affinity of every pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Priority class of every pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Annotations added to every pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_annotations: Option<BTreeMap<String, String>>,
    /// How long one rollout step (a restarted pod back in sync, a
    /// handover confirmed) may take before the rollout stops with
    /// `Degraded` instead of going on.
    #[serde(default = "default_step_timeout")]
    #[schemars(range(min = 10))]
    pub rollout_step_timeout_seconds: i32,
    /// When the password changes (the Secret's value, or `auth`), how
    /// long every pod accepts both the old and the new password before
    /// the old one is removed: the time clients have to move over (and
    /// the kubelet to refresh the Secret mounted in the pods, about a
    /// minute, which their preStop handover reads).
    #[serde(default = "default_rotation_grace")]
    #[schemars(range(min = 0, max = 86400))]
    pub password_rotation_grace_seconds: i32,
}

fn default_step_timeout() -> i32 {
    300
}

fn default_rotation_grace() -> i32 {
    120
}

/// The annotation that pauses the operator for one cache (`"true"`): no
/// writes to its objects, pods, sentinels or Services until removed.
pub const PAUSED: &str = "picket.dev/paused";

/// The annotation that asks for a confirmed manual handover (`kubectl
/// picket failover`): a new value (any token) is one request, handled
/// once; `status.handoverRequest` then holds it.
pub const HANDOVER: &str = "picket.dev/handover";

impl ReplicatedCache {
    /// The [`HANDOVER`] request not handled yet, if any.
    pub fn handover_requested(&self) -> Option<String> {
        let token = self.metadata.annotations.as_ref()?.get(HANDOVER)?;
        let done = self
            .status
            .as_ref()
            .and_then(|s| s.handover_request.as_ref());
        (!token.is_empty() && done != Some(token)).then(|| token.clone())
    }

    /// Whether the [`PAUSED`] annotation is set to `"true"`.
    pub fn paused(&self) -> bool {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(PAUSED))
            .is_some_and(|v| v == "true")
    }
}

fn default_replicas() -> i32 {
    3
}

fn default_sentinels() -> i32 {
    3
}

/// Where the password is.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthSpec {
    /// The Secret, in the cache's namespace.
    #[x_kube(validation = Rule::new("self != ''").message("spec.auth.secretName must not be empty"))]
    pub secret_name: String,
    /// Its key.
    #[serde(default = "default_auth_key")]
    pub key: String,
}

fn default_auth_key() -> String {
    "password".into()
}

/// Disks for the data pods.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersistenceSpec {
    /// A PersistentVolumeClaim per data pod.
    #[serde(default)]
    pub enabled: bool,
    /// Its size.
    #[serde(default = "default_size")]
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"))]
    pub size: String,
    /// Its StorageClass; default: the cluster's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// appendonly yes (AOF) as well as RDB snapshots.
    #[serde(default)]
    pub append_only: bool,
    /// Delete the claims (and so the data) when the cache is deleted or
    /// scaled down. Default false: they are kept, and a cache created
    /// again under the same name finds its data.
    #[serde(default)]
    pub delete_claims: bool,
}

fn default_size() -> String {
    "1Gi".into()
}

/// Sentinel timings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SentinelSpec {
    /// down-after-milliseconds.
    #[serde(default = "default_down_after")]
    #[schemars(range(min = 100))]
    pub down_after_milliseconds: i64,
    /// failover-timeout (ms).
    #[serde(default = "default_failover_timeout")]
    #[schemars(range(min = 1000))]
    pub failover_timeout: i64,
    /// parallel-syncs.
    #[serde(default = "default_parallel_syncs")]
    #[schemars(range(min = 1))]
    pub parallel_syncs: i32,
}

fn default_down_after() -> i64 {
    3000
}

fn default_failover_timeout() -> i64 {
    10_000
}

fn default_parallel_syncs() -> i32 {
    2
}

impl Default for SentinelSpec {
    fn default() -> Self {
        SentinelSpec {
            down_after_milliseconds: default_down_after(),
            failover_timeout: default_failover_timeout(),
            parallel_syncs: default_parallel_syncs(),
        }
    }
}

/// What the operator observed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicatedCacheStatus {
    /// The spec generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The master's pod name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    /// The master's address as the sentinels give it (`host:port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_address: Option<String>,
    /// The master's replication id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replid: Option<String>,
    /// The master's replication offset when last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_repl_offset: Option<i64>,
    /// The sentinels' config epoch for the master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_epoch: Option<i64>,
    /// Data pods ready.
    #[serde(default)]
    pub ready_replicas: i32,
    /// Sentinel pods ready.
    #[serde(default)]
    pub ready_sentinels: i32,
    /// `ready/replicas`, for kubectl get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,
    /// `ready/sentinels`, for kubectl get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinels_ready: Option<String>,
    /// When the last failover was seen (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failover_time: Option<String>,
    /// From +switch-master to the Service showing only the new master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_switch_latency_ms: Option<i64>,
    /// A password rotation under way (none when the pods require only
    /// the Secret's password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_rotation: Option<PasswordRotation>,
    /// The last `picket.dev/handover` request handled (its token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handover_request: Option<String>,
    /// Available, MasterKnown, SentinelQuorum, Progressing, Degraded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Where a password rotation is.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordRotation {
    /// `AcceptingBoth` (every pod accepts the old and the new password;
    /// replication and the sentinels use the new one) or `RemovingOld`.
    pub phase: String,
    /// When every pod accepted both (RFC 3339); the old password is
    /// removed `passwordRotationGraceSeconds` later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub both_accepted_since: Option<String>,
}

/// A status condition (the usual Kubernetes shape).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Available, MasterKnown, SentinelQuorum, Progressing or Degraded.
    #[serde(rename = "type")]
    pub type_: String,
    /// True, False or Unknown.
    pub status: String,
    /// A CamelCase reason.
    pub reason: String,
    /// For people.
    pub message: String,
    /// When the status last changed (RFC 3339).
    pub last_transition_time: String,
    /// The generation it was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl ReplicatedCacheSpec {
    /// The quorum in effect: the spec's, else a majority of sentinels.
    pub fn quorum(&self) -> i32 {
        self.quorum.unwrap_or(self.sentinels / 2 + 1)
    }

    /// The sentinel timings in effect.
    pub fn sentinel_timings(&self) -> SentinelSpec {
        self.sentinel.clone().unwrap_or_default()
    }
}
