//! Hash commands.

use super::CommandSpec;

/// The hashes family.
pub static COMMANDS: &[CommandSpec] = &[];
