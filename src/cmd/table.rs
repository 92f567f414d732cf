//! The command table: all families' `COMMANDS`, looked up by name
//! case-insensitively (Redis: server.commands / lookupCommand).

// foldhash instead of SipHash: this lookup runs for every command, and command
// names are not attacker-chosen keys that could collide a table we keep.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::OnceLock;

use super::CommandSpec;

/// All commands, by lower-case name.
pub struct CommandTable {
    map: HashMap<&'static str, &'static CommandSpec>,
}

/// Why a lookup failed (the dispatcher turns these into Redis's errors).
pub enum LookupError {
    /// No such command.
    UnknownCommand,
    /// A container command without that subcommand (or none given).
    UnknownSubcommand(&'static CommandSpec),
}

impl CommandTable {
    /// The process-wide table.
    pub fn get() -> &'static CommandTable {
        static TABLE: OnceLock<CommandTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            let families: [&'static [CommandSpec]; 15] = [
                super::connection::COMMANDS,
                super::acl::COMMANDS,
                super::admin::COMMANDS,
                super::keys::COMMANDS,
                super::strings::COMMANDS,
                super::lists::COMMANDS,
                super::hashes::COMMANDS,
                super::sets::COMMANDS,
                super::zsets::COMMANDS,
                super::pubsub::COMMANDS,
                super::transactions::COMMANDS,
                super::dump::COMMANDS,
                super::persistence::COMMANDS,
                super::replication::COMMANDS,
                super::sentinel::COMMANDS,
            ];
            let mut map = HashMap::default();
            for f in families {
                for c in f {
                    let dup = map.insert(c.name, c);
                    assert!(dup.is_none(), "command {} registered twice", c.name);
                }
            }
            CommandTable { map }
        })
    }

    /// Looks up by name (any case).
    pub fn by_name(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        if name.len() > 32 {
            return None;
        }
        let mut buf = [0u8; 32];
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        let s = std::str::from_utf8(lower).ok()?;
        self.map.get(s).copied()
    }

    /// Resolves argv to a command or subcommand.
    pub fn lookup(&self, args: &[&[u8]]) -> Result<&'static CommandSpec, LookupError> {
        let cmd = self.by_name(args[0]).ok_or(LookupError::UnknownCommand)?;
        if cmd.subcommands.is_empty() {
            return Ok(cmd);
        }
        let Some(sub) = args.get(1) else {
            // A container with no subcommand: its own arity error.
            return Ok(cmd);
        };
        cmd.subcommands
            .iter()
            .find(|s| {
                s.name
                    .rsplit('|')
                    .next()
                    .is_some_and(|n| n.as_bytes().eq_ignore_ascii_case(sub))
            })
            .ok_or(LookupError::UnknownSubcommand(cmd))
    }

    /// Iterates all top-level commands.
    pub fn iter(&self) -> impl Iterator<Item = &'static CommandSpec> + '_ {
        self.map.values().copied()
    }

    /// Number of top-level commands.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
