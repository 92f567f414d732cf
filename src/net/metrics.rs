//! The optional Prometheus HTTP endpoint (`metrics-port`).
