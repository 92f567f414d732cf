//! The desired objects for a `ReplicatedCache`, from its spec alone: pure,
//! no client, unit-tested. The controller applies them with server-side
//! apply under one field manager.
//!
//! For cache `c` in namespace `ns`:
//! - ConfigMap `c-config`: `picket.conf`, the data pods' settings.
//! - StatefulSet `c`: the data pods. Each starts as a replica of
//!   [`NO_MASTER`], a name that never resolves: read-only, refusing to feed
//!   replicas (`-NOMASTERLINK`), never a master by accident. A restarted
//!   master pod (empty, or with files older than its replicas) can't be
//!   taken for the master the sentinels knew and copied over the replicas'
//!   data; the operator promotes the first master at bootstrap and points
//!   the others, and Sentinel does the rest. Each announces its stable name
//!   `c-<i>.c-headless.ns.svc.cluster.local` (`replica-announce-ip`), so no
//!   pod IP ends up in Sentinel state.
//! - StatefulSet `c-sentinel`: the sentinels, each on an empty volume,
//!   configured by the operator with SENTINEL commands after bootstrap.
//! - Services: `c` (the master) and `c-replicas` (ready replicas) without
//!   selectors, backed by EndpointSlices the operator writes, so the switch
//!   to a new master is one write that replaces the old address with the
//!   new one; `c-sentinel` (26379); `c-headless` and `c-sentinel-headless`
//!   for stable DNS names (publishNotReadyAddresses).
//! - PodDisruptionBudgets: one pod of each kind at a time.
//! - Secret `c-auth` (key `password`) when the spec names none; its value
//!   comes from the controller (generated once, never rebuilt).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::{json, Value};

use super::crd::{ReplicatedCache, ReplicatedCacheSpec};

/// The field manager of every apply.
pub const MANAGER: &str = "picket-operator";
/// The data port.
pub const DATA_PORT: u16 = 6379;
/// The master every data pod starts replicating from: a name that never
/// resolves (RFC 6761 reserves `.invalid`), so a new or restarted pod is
/// a read-only replica with no link until it is told its master.
pub const NO_MASTER: &str = "picket.invalid";

/// The sentinel port.
pub const SENTINEL_PORT: u16 = 26379;
/// Where data pods see the password Secret as a file.
pub const AUTH_DIR: &str = "/var/run/picket/auth";
/// Where the data pods keep their files.
pub const DATA_DIR: &str = "/data";
/// The label that tells data pods from sentinels.
pub const COMPONENT: &str = "app.kubernetes.io/component";
/// The label naming the cache.
pub const INSTANCE: &str = "app.kubernetes.io/instance";

/// Names of a cache's objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The cache (and its data StatefulSet and master Service).
    pub cache: String,
    /// Its namespace.
    pub namespace: String,
}

impl Names {
    /// For `rc`.
    pub fn of(rc: &ReplicatedCache) -> Names {
        Names {
            cache: rc.metadata.name.clone().unwrap_or_default(),
            namespace: rc
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
        }
    }
    /// The generated Secret.
    pub fn secret(&self) -> String {
        format!("{}-auth", self.cache)
    }
    /// The operator's record of the password the pods require.
    pub fn auth_state(&self) -> String {
        format!("{}-auth-state", self.cache)
    }
    /// The ConfigMap.
    pub fn config(&self) -> String {
        format!("{}-config", self.cache)
    }
    /// The sentinel StatefulSet and Service.
    pub fn sentinel(&self) -> String {
        format!("{}-sentinel", self.cache)
    }
    /// The replicas Service.
    pub fn replicas(&self) -> String {
        format!("{}-replicas", self.cache)
    }
    /// The data pods' headless Service.
    pub fn headless(&self) -> String {
        format!("{}-headless", self.cache)
    }
    /// The sentinels' headless Service.
    pub fn sentinel_headless(&self) -> String {
        format!("{}-sentinel-headless", self.cache)
    }
    /// Data pod `i`.
    pub fn data_pod(&self, i: i32) -> String {
        format!("{}-{i}", self.cache)
    }
    /// The stable DNS name of data pod `pod`.
    pub fn data_host(&self, pod: &str) -> String {
        format!(
            "{pod}.{}.{}.svc.cluster.local",
            self.headless(),
            self.namespace
        )
    }
    /// The stable DNS name of sentinel pod `pod`.
    pub fn sentinel_host(&self, pod: &str) -> String {
        format!(
            "{pod}.{}.{}.svc.cluster.local",
            self.sentinel_headless(),
            self.namespace
        )
    }
    /// The name sentinels monitor the master under.
    pub fn master_set(&self) -> String {
        self.cache.clone()
    }
}

/// Everything a cache should have.
#[derive(Debug, Clone)]
pub struct Desired {
    /// `c-config`.
    pub config: ConfigMap,
    /// The data pods.
    pub data: StatefulSet,
    /// The sentinels.
    pub sentinels: StatefulSet,
    /// The five Services.
    pub services: Vec<Service>,
    /// The two budgets.
    pub pdbs: Vec<PodDisruptionBudget>,
}

/// Labels of every object of the cache (and the pods' selector with the
/// component).
pub fn labels(names: &Names, component: Option<&str>) -> BTreeMap<String, String> {
    let mut l = BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "picket".to_string()),
        (INSTANCE.to_string(), names.cache.clone()),
        (
            "app.kubernetes.io/managed-by".to_string(),
            MANAGER.to_string(),
        ),
    ]);
    if let Some(c) = component {
        l.insert(COMPONENT.to_string(), c.to_string());
    }
    l
}

/// The label selector (`key=value,...`) of a cache's pods of one
/// component (`data` or `sentinel`), for listing them.
pub fn list_selector(names: &Names, component: &str) -> String {
    format!("{INSTANCE}={},{COMPONENT}={component}", names.cache)
}

/// The pods' selector: the cache and the component.
pub fn selector(names: &Names, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (INSTANCE.to_string(), names.cache.clone()),
        (COMPONENT.to_string(), component.to_string()),
    ])
}

fn owner(rc: &ReplicatedCache) -> Value {
    json!([{
        "apiVersion": "picket.dev/v1alpha1",
        "kind": "ReplicatedCache",
        "name": rc.metadata.name,
        "uid": rc.metadata.uid,
        "controller": true,
        "blockOwnerDeletion": true,
    }])
}

fn meta(rc: &ReplicatedCache, names: &Names, name: &str, component: Option<&str>) -> Value {
    json!({
        "name": name,
        "namespace": names.namespace,
        "labels": labels(names, component),
        "ownerReferences": owner(rc),
    })
}

/// A redis.conf value, quoted when it must be.
fn conf_value(v: &str) -> String {
    crate::config::quote(v)
}

/// The part of `picket.conf` that needs a restart to change (its hash is
/// in the pod template, so a change rolls the data pods).
pub fn data_config(spec: &ReplicatedCacheSpec) -> String {
    let mut c = String::from("# Written by picket-operator from the ReplicatedCache spec.\n");
    let mut line = |k: &str, v: &str| c.push_str(&format!("{k} {}\n", conf_value(v)));
    line("port", &DATA_PORT.to_string());
    line("protected-mode", "no");
    line("dir", DATA_DIR);
    let persist = spec.persistence.as_ref().filter(|p| p.enabled);
    match persist {
        Some(p) => {
            line("save", "3600 1 300 100 60 10000");
            line("appendonly", if p.append_only { "yes" } else { "no" });
        }
        None => {
            line("save", "");
            line("appendonly", "no");
        }
    }
    line("min-replicas-max-lag", "10");
    for (k, v) in &spec.config {
        line(k, v);
    }
    c
}

/// The settings the operator changes on running data pods with CONFIG
/// SET (no restart); they are in the ConfigMap too, for pods that start
/// later, but not in the restart hash. maxmemory as the server reports
/// it (bytes; 0 = no limit).
pub fn live_settings(spec: &ReplicatedCacheSpec) -> Vec<(&'static str, String)> {
    let bytes = spec
        .max_memory
        .as_deref()
        .and_then(crate::config::parse_memory)
        .unwrap_or(0);
    vec![
        ("maxmemory", bytes.to_string()),
        (
            "maxmemory-policy",
            spec.max_memory_policy
                .clone()
                .unwrap_or_else(|| "noeviction".into()),
        ),
        (
            "min-replicas-to-write",
            spec.min_replicas_to_write.to_string(),
        ),
    ]
}

/// The sentinels' settings for the cache that the operator keeps equal
/// to the spec with `SENTINEL SET` (live, no restart).
pub const SENTINEL_SETTINGS: [&str; 4] = [
    "quorum",
    "down-after-milliseconds",
    "failover-timeout",
    "parallel-syncs",
];

/// [`SENTINEL_SETTINGS`] as the spec wants them.
pub fn sentinel_settings(spec: &ReplicatedCacheSpec) -> Vec<(&'static str, String)> {
    let t = spec.sentinel_timings();
    let values = [
        spec.quorum().to_string(),
        t.down_after_milliseconds.to_string(),
        t.failover_timeout.to_string(),
        t.parallel_syncs.to_string(),
    ];
    SENTINEL_SETTINGS.into_iter().zip(values).collect()
}

/// The whole `picket.conf`: [`data_config`] and the [`live_settings`].
pub fn full_data_config(spec: &ReplicatedCacheSpec) -> String {
    let mut c = data_config(spec);
    for (k, v) in live_settings(spec) {
        c.push_str(&format!("{k} {}\n", conf_value(&v)));
    }
    c
}

/// FNV-1a, for the config and applied hash annotations (stable across
/// builds).
pub fn fnv1a(s: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

/// The Secret and key holding the password.
pub fn password_ref(rc: &ReplicatedCache) -> (String, String) {
    match &rc.spec.auth {
        Some(a) => (a.secret_name.clone(), a.key.clone()),
        None => (Names::of(rc).secret(), "password".into()),
    }
}

/// The image of the pods.
pub fn image(spec: &ReplicatedCacheSpec, default_image: &str) -> String {
    spec.image
        .clone()
        .unwrap_or_else(|| default_image.to_string())
}

fn pod_common(rc: &ReplicatedCache, names: &Names, component: &str, hash: Option<&str>) -> Value {
    let spec = &rc.spec;
    let mut annotations = spec.pod_annotations.clone().unwrap_or_default();
    if let Some(hash) = hash {
        annotations.insert("picket.dev/config-hash".into(), hash.into());
    }
    let mut l = labels(names, Some(component));
    l.extend(selector(names, component));
    json!({
        "metadata": {"labels": l, "annotations": annotations},
        "spec": {
            "terminationGracePeriodSeconds": 10,
            "enableServiceLinks": false,
            "automountServiceAccountToken": false,
            "securityContext": {
                "runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532,
            },
            "nodeSelector": spec.node_selector,
            "tolerations": spec.tolerations,
            "affinity": spec.affinity,
            "priorityClassName": spec.priority_class_name,
        }
    })
}

fn container_security() -> Value {
    json!({
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "capabilities": {"drop": ["ALL"]},
    })
}

fn env(rc: &ReplicatedCache) -> Value {
    let (secret, key) = password_ref(rc);
    json!([
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "PICKET_PASSWORD", "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}},
    ])
}

/// Drops the nulls json! leaves for absent optional fields.
fn prune(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, prune(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(prune).collect()),
        v => v,
    }
}

fn typed<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(prune(v)).expect("the builder makes valid objects")
}

/// Every desired object of `rc`; `default_image` when the spec names no
/// image.
pub fn desired(rc: &ReplicatedCache, default_image: &str) -> Desired {
    let names = Names::of(rc);
    let spec = &rc.spec;
    let conf = full_data_config(spec);
    let image = image(spec, default_image);
    let config: ConfigMap = typed(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": meta(rc, &names, &names.config(), None),
        "data": {"picket.conf": conf},
    }));

    Desired {
        config,
        data: data_statefulset(rc, &names, &image),
        sentinels: sentinel_statefulset(rc, &names, &image),
        services: services(rc, &names),
        pdbs: pdbs(rc, &names),
    }
}

/// The data pods' StatefulSet: picket-server with the config (its hash
/// on the template, so a changed config rolls the pods), the password,
/// the preStop handover, and a claim per pod under `persistence`.
fn data_statefulset(rc: &ReplicatedCache, names: &Names, image: &str) -> StatefulSet {
    let spec = &rc.spec;
    let hash = fnv1a(&data_config(spec));
    let mut pod = pod_common(rc, names, "data", Some(&hash));
    // Room for the preStop handover (20 s at most) and a final save.
    pod["spec"]["terminationGracePeriodSeconds"] = json!(30);
    let announce = format!(
        "$(POD_NAME).{}.{}.svc.cluster.local",
        names.headless(),
        names.namespace
    );
    let persist = spec.persistence.as_ref().filter(|p| p.enabled);
    pod["spec"]["containers"] = json!([{
        "name": "server",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            "/etc/picket/picket.conf",
            "--requirepass", "$(PICKET_PASSWORD)",
            "--masterauth", "$(PICKET_PASSWORD)",
            "--replica-announce-ip", announce,
            "--replicaof", NO_MASTER, DATA_PORT.to_string(),
        ],
        "env": env(rc),
        "ports": [{"name": "redis", "containerPort": DATA_PORT}],
        "readinessProbe": {"tcpSocket": {"port": DATA_PORT}, "periodSeconds": 2, "failureThreshold": 2},
        // A master being stopped (a drain's eviction, a deletion) hands
        // over first (operator/prestop.rs).
        "lifecycle": {"preStop": {"exec": {"command": [
            "/bin/picket-server", "--handover",
            format!("{}:{SENTINEL_PORT}", names.sentinel()), names.master_set(),
        ]}}},
        "livenessProbe": {"tcpSocket": {"port": DATA_PORT}, "periodSeconds": 5, "failureThreshold": 6, "initialDelaySeconds": 10},
        "resources": spec.resources,
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "data", "mountPath": DATA_DIR},
            {"name": "config", "mountPath": "/etc/picket", "readOnly": true},
            // The Secret's current value for the preStop hook: the env
            // var keeps the password the pod started with, which a
            // rotation may have removed since.
            {"name": "auth", "mountPath": AUTH_DIR, "readOnly": true},
        ],
    }]);
    let (secret, key) = password_ref(rc);
    pod["spec"]["containers"][0]["env"]
        .as_array_mut()
        .expect("env is a list")
        .push(json!({"name": "PICKET_PASSWORD_FILE", "value": format!("{AUTH_DIR}/password")}));
    let mut volumes = vec![
        json!({"name": "config", "configMap": {"name": names.config()}}),
        json!({"name": "auth", "secret": {"secretName": secret, "items": [{"key": key, "path": "password"}]}}),
    ];
    if persist.is_none() {
        volumes.push(json!({"name": "data", "emptyDir": {}}));
    }
    pod["spec"]["volumes"] = json!(volumes);
    let mut data_spec = json!({
        "serviceName": names.headless(),
        "replicas": spec.replicas,
        "podManagementPolicy": "Parallel",
        // The operator rolls the pods (rollout.rs): replicas first, the
        // master last after a confirmed handover.
        "updateStrategy": {"type": "OnDelete"},
        "selector": {"matchLabels": selector(names, "data")},
        "template": pod,
    });
    if let Some(p) = persist {
        data_spec["volumeClaimTemplates"] = json!([{
            "metadata": {"name": "data", "labels": labels(names, Some("data"))},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": p.storage_class_name,
                "resources": {"requests": {"storage": p.size}},
            },
        }]);
        let when = if p.delete_claims { "Delete" } else { "Retain" };
        data_spec["persistentVolumeClaimRetentionPolicy"] =
            json!({"whenDeleted": when, "whenScaled": when});
    }
    typed(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": meta(rc, names, &names.cache, Some("data")),
        "spec": data_spec,
    }))
}

/// The sentinels' StatefulSet: an empty config file on an empty volume;
/// the operator configures them (SENTINEL CONFIG SET / MONITOR / SET).
fn sentinel_statefulset(rc: &ReplicatedCache, names: &Names, image: &str) -> StatefulSet {
    let mut spod = pod_common(rc, names, "sentinel", None);
    spod["spec"]["containers"] = json!([{
        "name": "sentinel",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            "/data/sentinel.conf", "--sentinel",
            "--port", SENTINEL_PORT.to_string(),
            "--requirepass", "$(PICKET_PASSWORD)",
        ],
        "env": env(rc),
        "ports": [{"name": "sentinel", "containerPort": SENTINEL_PORT}],
        "readinessProbe": {"tcpSocket": {"port": SENTINEL_PORT}, "periodSeconds": 2},
        "livenessProbe": {"tcpSocket": {"port": SENTINEL_PORT}, "periodSeconds": 5, "failureThreshold": 6, "initialDelaySeconds": 10},
        "securityContext": container_security(),
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }]);
    spod["spec"]["volumes"] = json!([{"name": "data", "emptyDir": {}}]);
    typed(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": meta(rc, names, &names.sentinel(), Some("sentinel")),
        "spec": {
            "serviceName": names.sentinel_headless(),
            "replicas": rc.spec.sentinels,
            "podManagementPolicy": "Parallel",
            // One at a time, each configured again before the next.
            "updateStrategy": {"type": "OnDelete"},
            "selector": {"matchLabels": selector(names, "sentinel")},
            "template": spod,
        },
    }))
}

/// The Services: the master's and the replicas' (their endpoints are
/// the operator's, no selector), the data pods' headless one, and the
/// sentinels' plain and headless ones.
fn services(rc: &ReplicatedCache, names: &Names) -> Vec<Service> {
    let service = |name: &str,
                   component: &str,
                   port: u16,
                   port_name: &str,
                   sel: bool,
                   headless: bool|
     -> Service {
        let mut s = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": meta(rc, names, name, Some(component)),
            "spec": {"ports": [{"name": port_name, "port": port, "targetPort": port, "protocol": "TCP"}]},
        });
        if sel {
            s["spec"]["selector"] = json!(selector(names, component));
        }
        if headless {
            s["spec"]["clusterIP"] = json!("None");
            s["spec"]["publishNotReadyAddresses"] = json!(true);
        }
        typed(s)
    };
    vec![
        service(&names.cache, "data", DATA_PORT, "redis", false, false),
        service(&names.replicas(), "data", DATA_PORT, "redis", false, false),
        service(&names.headless(), "data", DATA_PORT, "redis", true, true),
        service(
            &names.sentinel(),
            "sentinel",
            SENTINEL_PORT,
            "sentinel",
            true,
            false,
        ),
        service(
            &names.sentinel_headless(),
            "sentinel",
            SENTINEL_PORT,
            "sentinel",
            true,
            true,
        ),
    ]
}

/// One PodDisruptionBudget per StatefulSet: one pod down at a time.
fn pdbs(rc: &ReplicatedCache, names: &Names) -> Vec<PodDisruptionBudget> {
    let pdb = |name: &str, component: &str| -> PodDisruptionBudget {
        typed(json!({
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": meta(rc, names, name, Some(component)),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(names, component)}},
        }))
    };
    vec![
        pdb(&names.cache, "data"),
        pdb(&names.sentinel(), "sentinel"),
    ]
}

/// What the same pods are without picket's day-2 orchestration (the
/// benchmark's comparison): both StatefulSets `RollingUpdate` (the
/// StatefulSet controller restarts pods from the highest ordinal, each
/// once the previous is Ready), no preStop handover.
pub fn plain_rollouts(d: &mut Desired) {
    for set in [&mut d.data, &mut d.sentinels] {
        let Some(spec) = set.spec.as_mut() else {
            continue;
        };
        spec.update_strategy = Some(typed(json!({"type": "RollingUpdate"})));
        if let Some(pod) = spec.template.spec.as_mut() {
            for c in &mut pod.containers {
                c.lifecycle = None;
            }
        }
    }
}

/// The operator's Secret `c-auth-state`: the password every pod requires
/// (see [`super::rotation`]).
pub fn auth_state_secret(rc: &ReplicatedCache, password: &str) -> Secret {
    password_secret(rc, &Names::of(rc).auth_state(), password)
}

/// The generated Secret `c-auth` holding `password`.
pub fn generated_secret(rc: &ReplicatedCache, password: &str) -> Secret {
    password_secret(rc, &Names::of(rc).secret(), password)
}

fn password_secret(rc: &ReplicatedCache, name: &str, password: &str) -> Secret {
    let names = Names::of(rc);
    typed(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": meta(rc, &names, name, None),
        "type": "Opaque",
        "stringData": {"password": password},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::crd::*;

    fn cache(spec: serde_json::Value) -> ReplicatedCache {
        let mut rc: ReplicatedCache = serde_json::from_value(json!({
            "apiVersion": "picket.dev/v1alpha1", "kind": "ReplicatedCache",
            "metadata": {"name": "cache", "namespace": "shop", "uid": "u-1"},
            "spec": spec,
        }))
        .unwrap();
        rc.metadata.generation = Some(1);
        rc
    }

    #[test]
    fn defaults_make_three_data_pods_three_sentinels_and_a_majority_quorum() {
        let rc = cache(json!({}));
        assert_eq!(rc.spec.replicas, 3);
        assert_eq!(rc.spec.sentinels, 3);
        assert_eq!(rc.spec.quorum(), 2);
        let d = desired(&rc, "picket.local/picket-server:0.1.0");
        let data = d.data.spec.as_ref().unwrap();
        assert_eq!(data.replicas, Some(3));
        assert_eq!(data.service_name.as_deref(), Some("cache-headless"));
        assert_eq!(d.sentinels.spec.as_ref().unwrap().replicas, Some(3));
        let c = &data.template.spec.as_ref().unwrap().containers[0];
        assert_eq!(c.image.as_deref(), Some("picket.local/picket-server:0.1.0"));
        let args = c.args.clone().unwrap();
        assert!(args.contains(&"$(POD_NAME).cache-headless.shop.svc.cluster.local".to_string()));
        // Every data pod starts as a replica of nothing.
        let at = args.iter().position(|a| a == "--replicaof").unwrap();
        assert_eq!(args[at + 1..at + 3], [NO_MASTER, "6379"], "{args:?}");
        // Without persistence: an emptyDir and no claims, no saves.
        assert!(data.volume_claim_templates.is_none());
        let conf = &d.config.data.as_ref().unwrap()["picket.conf"];
        assert!(
            conf.contains("save \"\"\n") && conf.contains("appendonly no\n"),
            "{conf}"
        );
        // Every object is owned by the cache.
        let owners = d.config.metadata.owner_references.as_ref().unwrap();
        assert_eq!(owners[0].uid, "u-1");
        assert_eq!(owners[0].controller, Some(true));
    }

    #[test]
    fn the_master_and_replicas_services_have_no_selector_the_others_do() {
        let d = desired(&cache(json!({})), "img");
        let by_name: BTreeMap<_, _> = d
            .services
            .iter()
            .map(|s| (s.metadata.name.clone().unwrap(), s.spec.clone().unwrap()))
            .collect();
        assert!(by_name["cache"].selector.is_none());
        assert!(by_name["cache-replicas"].selector.is_none());
        assert_eq!(
            by_name["cache"].ports.as_ref().unwrap()[0].name.as_deref(),
            Some("redis")
        );
        assert_eq!(
            by_name["cache-headless"].cluster_ip.as_deref(),
            Some("None")
        );
        assert_eq!(
            by_name["cache-headless"].publish_not_ready_addresses,
            Some(true)
        );
        assert_eq!(
            by_name["cache-sentinel"].ports.as_ref().unwrap()[0].port,
            26379
        );
        assert_eq!(
            by_name["cache-sentinel"].selector.as_ref().unwrap()[COMPONENT],
            "sentinel"
        );
    }

    #[test]
    fn spec_settings_reach_the_config_and_the_pods() {
        let rc = cache(json!({
            "replicas": 5, "sentinels": 5, "quorum": 3, "image": "mine:1",
            "auth": {"secretName": "s"},
            "maxMemory": "256mb", "maxMemoryPolicy": "allkeys-lru",
            "persistence": {"enabled": true, "size": "2Gi", "storageClassName": "fast", "appendOnly": true},
            "minReplicasToWrite": 1,
            "config": {"hz": "20", "notify-keyspace-events": "Ex"},
            "nodeSelector": {"disk": "ssd"},
            "podAnnotations": {"a": "b"},
        }));
        assert_eq!(rc.spec.quorum(), 3);
        assert_eq!(password_ref(&rc), ("s".into(), "password".into()));
        let d = desired(&rc, "default");
        let conf = &d.config.data.as_ref().unwrap()["picket.conf"];
        for want in [
            "maxmemory 268435456\n",
            "maxmemory-policy allkeys-lru\n",
            "appendonly yes\n",
            "min-replicas-to-write 1\n",
            "hz 20\n",
            "notify-keyspace-events Ex\n",
        ] {
            assert!(conf.contains(want), "{want} in {conf}");
        }
        let data = d.data.spec.unwrap();
        let pvc = &data.volume_claim_templates.unwrap()[0];
        let pvc_spec = pvc.spec.as_ref().unwrap();
        assert_eq!(pvc_spec.storage_class_name.as_deref(), Some("fast"));
        // Claims are kept unless the spec asks otherwise.
        let keep = data
            .persistent_volume_claim_retention_policy
            .as_ref()
            .unwrap();
        assert_eq!(keep.when_deleted.as_deref(), Some("Retain"));
        let mut rc2 = rc.clone();
        rc2.spec.persistence.as_mut().unwrap().delete_claims = true;
        let d2 = desired(&rc2, "default").data.spec.unwrap();
        let policy = d2.persistent_volume_claim_retention_policy.unwrap();
        assert_eq!(policy.when_deleted.as_deref(), Some("Delete"));
        assert_eq!(policy.when_scaled.as_deref(), Some("Delete"));
        let pod = data.template.spec.unwrap();
        assert_eq!(pod.containers[0].image.as_deref(), Some("mine:1"));
        assert_eq!(pod.node_selector.unwrap()["disk"], "ssd");
        let ann = data.template.metadata.unwrap().annotations.unwrap();
        assert_eq!(ann["a"], "b");
        assert!(ann.contains_key("picket.dev/config-hash"));
        let env = pod.containers[0].env.clone().unwrap();
        let pw = env.iter().find(|e| e.name == "PICKET_PASSWORD").unwrap();
        let sk = pw.value_from.clone().unwrap().secret_key_ref.unwrap();
        assert_eq!((sk.name.as_str(), sk.key.as_str()), ("s", "password"));
    }

    #[test]
    fn a_config_change_changes_the_pods_hash_and_nothing_else_does() {
        let hash = |rc: &ReplicatedCache| {
            desired(rc, "img")
                .data
                .spec
                .unwrap()
                .template
                .metadata
                .unwrap()
                .annotations
                .unwrap()["picket.dev/config-hash"]
                .clone()
        };
        let a = cache(json!({"config": {"hz": "10"}}));
        let b = cache(json!({"config": {"hz": "20"}}));
        let c = cache(json!({"config": {"hz": "10"}, "replicas": 5}));
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(hash(&a), hash(&c));
        // Live settings change the ConfigMap, not the pods.
        let live = cache(json!({"config": {"hz": "10"}, "maxMemory": "1gb",
            "maxMemoryPolicy": "allkeys-lfu", "minReplicasToWrite": 1}));
        assert_eq!(hash(&a), hash(&live));
        let conf =
            |rc: &ReplicatedCache| desired(rc, "img").config.data.unwrap()["picket.conf"].clone();
        assert_ne!(conf(&a), conf(&live));
        assert_eq!(
            live_settings(&live.spec),
            vec![
                ("maxmemory", "1073741824".to_string()),
                ("maxmemory-policy", "allkeys-lfu".to_string()),
                ("min-replicas-to-write", "1".to_string()),
            ]
        );
    }

    #[test]
    fn the_operator_rolls_both_sets_and_data_settings_do_not_restart_sentinels() {
        let a = desired(&cache(json!({"config": {"hz": "10"}})), "img");
        let b = desired(&cache(json!({"config": {"hz": "20"}})), "img");
        for set in [&a.data, &a.sentinels] {
            let strategy = set.spec.as_ref().unwrap().update_strategy.clone().unwrap();
            assert_eq!(strategy.type_.as_deref(), Some("OnDelete"));
        }
        assert_eq!(
            a.sentinels.spec.unwrap().template,
            b.sentinels.spec.unwrap().template
        );
    }

    #[test]
    fn plain_rollouts_leave_the_pods_to_kubernetes() {
        let mut d = desired(&cache(json!({})), "img");
        let hook = |d: &Desired| {
            d.data
                .spec
                .as_ref()
                .unwrap()
                .template
                .spec
                .as_ref()
                .unwrap()
                .containers[0]
                .lifecycle
                .is_some()
        };
        assert!(hook(&d));
        plain_rollouts(&mut d);
        assert!(!hook(&d));
        for set in [&d.data, &d.sentinels] {
            let strategy = set.spec.as_ref().unwrap().update_strategy.clone().unwrap();
            assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
        }
    }

    #[test]
    fn the_generated_secret_holds_the_password() {
        let s = generated_secret(&cache(json!({})), "p4ss");
        assert_eq!(s.metadata.name.as_deref(), Some("cache-auth"));
        assert_eq!(s.string_data.unwrap()["password"], "p4ss");
    }
}
