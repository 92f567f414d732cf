//! Set commands.

use super::CommandSpec;

/// The sets family.
pub static COMMANDS: &[CommandSpec] = &[];
