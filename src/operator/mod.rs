//! picket-operator: a `ReplicatedCache` becomes a running master, its
//! replicas and sentinels on Kubernetes, and its Services follow every
//! failover.
//!
//! - [`crd`]: the custom resource (spec, defaults, validation, status).
//! - [`builder`]: the desired objects for a spec, pure (unit-tested
//!   without a cluster).

pub mod builder;
pub mod crd;
