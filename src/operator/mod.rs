//! picket-operator: a `ReplicatedCache` becomes a running master, its
//! replicas and sentinels on Kubernetes, and its Services follow every
//! failover.
//!
//! - [`crd`]: the custom resource (spec, defaults, validation, status).
//! - [`builder`]: the desired objects for a spec, pure (unit-tested
//!   without a cluster).
//! - [`decide`]: the decisions (first master, the sentinels' majority),
//!   pure.
//! - [`client`]: the RESP client for data pods and sentinels.
//! - [`controller`]: the reconcile loop (kube-runtime), a pipeline of
//!   [`observe`] → [`plan`] (pure) → [`apply`] → [`status`] (pure).
//! - [`http`]: /metrics, /healthz, /readyz.
//! - [`recorder`]: Kubernetes Events about a cache.
//! - [`switch`]: the sentinels' events; `+switch-master` moves the master
//!   Service at once.
//! - [`rollout`], [`operations`], [`prestop`]: day-2 (rolling upgrades
//!   with a handover, scale-down past the master, the preStop hook).
//! - [`rotation`]: password rotation without downtime.

pub mod apply;
pub mod builder;
pub mod client;
pub mod controller;
pub mod crd;
pub mod decide;
#[cfg(test)]
pub mod fixtures;
pub mod http;
pub mod inspect;
pub mod observe;
pub mod operations;
pub mod plan;
pub mod prestop;
pub mod recorder;
pub mod rollout;
pub mod rotation;
pub mod status;
pub mod switch;
