//! Sorted set commands.

use super::CommandSpec;

/// The zsets family.
pub static COMMANDS: &[CommandSpec] = &[];
