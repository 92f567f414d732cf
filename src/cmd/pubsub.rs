//! Pub/Sub commands.

use super::CommandSpec;

/// The pubsub family.
pub static COMMANDS: &[CommandSpec] = &[];
