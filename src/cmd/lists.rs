//! List commands.

use super::CommandSpec;

/// The lists family.
pub static COMMANDS: &[CommandSpec] = &[];
