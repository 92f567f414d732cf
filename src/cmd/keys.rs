//! Key commands.

use super::CommandSpec;

/// The keys family.
pub static COMMANDS: &[CommandSpec] = &[];
