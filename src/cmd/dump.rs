//! DUMP and RESTORE: values serialized in Redis's RDB format.

use super::CommandSpec;

/// The dump family.
pub static COMMANDS: &[CommandSpec] = &[];
