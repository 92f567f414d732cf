//! Prometheus exposition of the INFO figures (pure rendering).
