//! Transaction commands: MULTI EXEC DISCARD WATCH UNWATCH.

use super::CommandSpec;

/// The transactions family.
pub static COMMANDS: &[CommandSpec] = &[];
