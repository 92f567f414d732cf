//! Commands: the table (name, arity, flags, key positions, handler) and the
//! context a handler runs in.
//!
//! Each file holds one family (strings, keys, lists, ...) and exports
//! `COMMANDS`. A handler reads its arguments from `Ctx`, works on the
//! keyspace, writes its reply through `ctx.client`, and returns `Err` with a
//! Redis error reply (WRONGTYPE, ERR syntax error, ...) that the dispatcher
//! writes back; errors are data, the connection keeps serving.
//!
//! Every command documents its Redis syntax in a `text` block.

pub mod acl;
pub mod admin;
pub mod connection;
pub mod dump;
pub mod hashes;
pub mod keys;
pub mod lists;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod sentinel;
pub mod sets;
pub mod strings;
pub mod table;
pub mod transactions;
pub mod zsets;

use std::borrow::Cow;

use crate::keyspace::value::{HashValue, ListValue, SetValue, ZSet};
use crate::keyspace::{Keyspace, Value};
use crate::server::client::Client;
use crate::server::Server;
use crate::util::num::{parse_f64, parse_i64};

/// A Redis error reply, without the leading `-`. Starts with the error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply(pub Cow<'static, str>);

impl ErrorReply {
    /// An error reply from owned text.
    pub fn new(s: impl Into<String>) -> Self {
        ErrorReply(Cow::Owned(s.into()))
    }
    /// An error reply from static text.
    pub const fn lit(s: &'static str) -> Self {
        ErrorReply(Cow::Borrowed(s))
    }
    /// `ERR <msg>`.
    pub fn err(msg: impl std::fmt::Display) -> Self {
        ErrorReply::new(format!("ERR {msg}"))
    }
}

impl std::fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Redis's shared error replies (server.h `shared.*`), exact texts.
pub mod errors {
    use super::ErrorReply;
    /// shared.wrongtypeerr
    pub const WRONGTYPE: ErrorReply =
        ErrorReply::lit("WRONGTYPE Operation against a key holding the wrong kind of value");
    /// shared.syntaxerr
    pub const SYNTAX: ErrorReply = ErrorReply::lit("ERR syntax error");
    /// Not an integer.
    pub const NOT_INT: ErrorReply = ErrorReply::lit("ERR value is not an integer or out of range");
    /// Not a float.
    pub const NOT_FLOAT: ErrorReply = ErrorReply::lit("ERR value is not a valid float");
    /// Overflow in INCR family.
    pub const OVERFLOW: ErrorReply = ErrorReply::lit("ERR increment or decrement would overflow");
    /// shared.nokeyerr
    pub const NO_SUCH_KEY: ErrorReply = ErrorReply::lit("ERR no such key");
    /// shared.outofrangeerr
    pub const OUT_OF_RANGE: ErrorReply = ErrorReply::lit("ERR index out of range");
    /// SELECT/MOVE/COPY with a bad db.
    pub const DB_RANGE: ErrorReply = ErrorReply::lit("ERR DB index is out of range");
    /// shared.noautherr
    pub const NOAUTH: ErrorReply = ErrorReply::lit("NOAUTH Authentication required.");
    /// shared.oomerr
    pub const OOM: ErrorReply =
        ErrorReply::lit("OOM command not allowed when used memory > 'maxmemory'.");
    /// Blocking timeout not a number.
    pub const TIMEOUT_NOT_FLOAT: ErrorReply =
        ErrorReply::lit("ERR timeout is not a float or out of range");
    /// Blocking timeout negative.
    pub const TIMEOUT_NEGATIVE: ErrorReply = ErrorReply::lit("ERR timeout is negative");
    /// Count must be positive.
    pub const POSITIVE: ErrorReply = ErrorReply::lit("ERR value is out of range, must be positive");
}

/// A value type a command family works on, for typed lookups.
pub trait TypedValue {
    /// The value as this type, or `None` for another type.
    fn cast(v: &mut Value) -> Option<&mut Self>;
}

macro_rules! typed_value {
    ($t:ty, $variant:ident) => {
        impl TypedValue for $t {
            fn cast(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
        }
    };
}
typed_value!(ListValue, List);
typed_value!(HashValue, Hash);
typed_value!(SetValue, Set);
typed_value!(ZSet, ZSet);

/// Looks a key up for reading as type `T` (counting hits and misses):
/// `Ok(None)` if missing, WRONGTYPE if it holds another type.
pub fn lookup_read_as<'a, T: TypedValue>(
    ks: &'a mut Keyspace,
    db: usize,
    key: &[u8],
    now: i64,
) -> Result<Option<&'a mut T>, ErrorReply> {
    match ks.lookup_read(db, key, now) {
        None => Ok(None),
        Some(o) => T::cast(&mut o.val).map(Some).ok_or(errors::WRONGTYPE),
    }
}

/// Looks a key up for writing as type `T`: `Ok(None)` if missing,
/// WRONGTYPE if it holds another type.
pub fn lookup_write_as<'a, T: TypedValue>(
    ks: &'a mut Keyspace,
    db: usize,
    key: &[u8],
    now: i64,
) -> Result<Option<&'a mut T>, ErrorReply> {
    match ks.lookup_write(db, key, now) {
        None => Ok(None),
        Some(o) => T::cast(&mut o.val).map(Some).ok_or(errors::WRONGTYPE),
    }
}

/// Replies to a `<COMMAND> HELP` subcommand: one simple string per line.
pub fn help_reply(ctx: &mut Ctx, lines: &[&str]) -> CmdResult {
    ctx.client.array(lines.len());
    for l in lines {
        ctx.client.simple(l);
    }
    Ok(())
}

/// What a handler returns: `Ok` after writing its reply, or the error reply.
pub type CmdResult = Result<(), ErrorReply>;

/// A command handler.
pub type Handler = fn(&mut Ctx) -> CmdResult;

/// Command flags (Redis: CMD_*).
pub mod flags {
    /// May modify the keyspace.
    pub const WRITE: u32 = 1 << 0;
    /// Only reads.
    pub const READONLY: u32 = 1 << 1;
    /// May grow memory: refused with -OOM over maxmemory.
    pub const DENYOOM: u32 = 1 << 2;
    /// Administrative.
    pub const ADMIN: u32 = 1 << 3;
    /// Pub/Sub.
    pub const PUBSUB: u32 = 1 << 4;
    /// Allowed before authentication.
    pub const NO_AUTH: u32 = 1 << 5;
    /// O(1) or O(log n).
    pub const FAST: u32 = 1 << 6;
    /// May block.
    pub const BLOCKING: u32 = 1 << 7;
    /// Not queued inside MULTI; runs immediately (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
    pub const NO_MULTI: u32 = 1 << 8;
    /// Allowed while loading.
    pub const LOADING: u32 = 1 << 9;
    /// Allowed on a stale replica.
    pub const STALE: u32 = 1 << 10;
    /// Not shown to MONITOR (AUTH, HELLO with AUTH).
    pub const SKIP_MONITOR: u32 = 1 << 11;
    /// Not recorded in the slow log.
    pub const SKIP_SLOWLOG: u32 = 1 << 12;
    /// Allowed in RESP2 subscriber context.
    pub const PUBSUB_CONTEXT: u32 = 1 << 13;
    /// Has subcommands (dispatch on argument 1).
    pub const CONTAINER: u32 = 1 << 14;
    /// Never propagated to replicas or the AOF even if it changes state.
    pub const NO_PROPAGATE: u32 = 1 << 15;
}

/// One command's static description (Redis: redisCommand).
pub struct CommandSpec {
    /// Lower-case name; subcommands carry their full name (`config|get`).
    pub name: &'static str,
    /// Arity: exact count if positive, minimum if negative (name included).
    pub arity: i32,
    /// `flags::*`.
    pub flags: u32,
    /// First key argument (0 = none).
    pub first_key: i32,
    /// Last key argument (-1 = last argument).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// ACL category names for COMMAND INFO (without '@').
    pub group: &'static str,
    /// The handler.
    pub handler: Handler,
    /// Subcommands, for container commands (CONFIG, CLIENT, ...).
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// Whether the command has a flag.
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }
    /// Whether `argc` satisfies the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a > 0 && argc == a as usize) || (a < 0 && argc >= (-a) as usize)
    }
    /// Key positions in `argv` for this command.
    pub fn key_positions(&self, argc: usize) -> Vec<usize> {
        if self.first_key <= 0 {
            return Vec::new();
        }
        let last = if self.last_key < 0 {
            argc as i32 + self.last_key
        } else {
            self.last_key
        };
        let mut v = Vec::new();
        let mut i = self.first_key;
        while i <= last && (i as usize) < argc {
            v.push(i as usize);
            i += self.step.max(1);
        }
        v
    }
}

/// Builds a CommandSpec concisely: `spec!("get", 2, READONLY | FAST, 1, 1, 1, "string", get)`.
#[macro_export]
macro_rules! spec {
    ($name:literal, $arity:expr, $flags:expr, $fk:expr, $lk:expr, $st:expr, $group:literal, $h:expr) => {
        $crate::cmd::CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $fk,
            last_key: $lk,
            step: $st,
            group: $group,
            handler: $h,
            subcommands: &[],
        }
    };
}

/// How the command is propagated to replicas and the AOF: as received,
/// rewritten, or not at all.
#[derive(Debug, Clone, Default)]
pub enum Propagate {
    /// Propagate argv as received if the command changed the dataset.
    #[default]
    AsIs,
    /// Propagate these commands instead (e.g. SPOP as SREM, EXPIRE as PEXPIREAT).
    Rewritten(Vec<Vec<Vec<u8>>>),
    /// Do not propagate.
    Never,
    /// Propagate argv as received even if `dirty` did not grow (FLUSHALL,
    /// whose save resets it; Redis: forceCommandPropagation).
    Always,
}

/// The context a handler runs in.
pub struct Ctx<'a> {
    /// The server.
    pub srv: &'a mut Server,
    /// The calling client.
    pub client: &'a mut Client,
    /// Arguments, name included (`args[0]`).
    pub args: &'a [&'a [u8]],
    /// Time of the call (unix ms). Commands use this, never the clock.
    pub now_ms: i64,
    /// How to propagate.
    pub propagate: Propagate,
    /// True when run from EXEC (blocking commands must not block).
    pub in_exec: bool,
    /// When re-run to serve a blocked client: its block state (the
    /// original deadline and queue position are kept if it blocks again).
    pub prev_block: Option<crate::server::client::BlockState>,
}

impl<'a> Ctx<'a> {
    /// Argument `i` (the name is 0).
    #[inline]
    pub fn arg(&self, i: usize) -> &'a [u8] {
        self.args[i]
    }
    /// Number of arguments, name included.
    #[inline]
    pub fn argc(&self) -> usize {
        self.args.len()
    }
    /// Argument `i` as an integer, or "ERR value is not an integer or out of range".
    pub fn int_arg(&self, i: usize) -> Result<i64, ErrorReply> {
        parse_i64(self.args[i]).ok_or(errors::NOT_INT)
    }
    /// Argument `i` as a float, or "ERR value is not a valid float".
    pub fn float_arg(&self, i: usize) -> Result<f64, ErrorReply> {
        parse_f64(self.args[i]).ok_or(errors::NOT_FLOAT)
    }
    /// Whether argument `i` equals `s` ignoring ASCII case.
    #[inline]
    pub fn arg_is(&self, i: usize, s: &str) -> bool {
        self.args
            .get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(s.as_bytes()))
    }
    /// The selected database.
    #[inline]
    pub fn db(&self) -> usize {
        self.client.db
    }
    /// The keyspace.
    #[inline]
    pub fn ks(&mut self) -> &mut Keyspace {
        &mut self.srv.keyspace
    }
    /// Records `n` changes to the dataset (Redis: server.dirty).
    #[inline]
    pub fn dirty(&mut self, n: u64) {
        self.srv.dirty += n;
    }
    /// Signals that a key was modified (Redis: signalModifiedKey): WATCH.
    #[inline]
    pub fn touch(&mut self, key: &[u8]) {
        let db = self.client.db;
        self.srv.touch_watched_key(db, key);
    }
    /// Signals that a key may unblock clients (Redis: signalKeyAsReady).
    #[inline]
    pub fn signal_ready(&mut self, key: &[u8]) {
        let db = self.client.db;
        self.srv.signal_key_as_ready(db, key);
    }
    /// Replaces this call's propagation.
    pub fn propagate_as(&mut self, cmds: Vec<Vec<Vec<u8>>>) {
        self.propagate = Propagate::Rewritten(cmds);
    }
    /// Parses a blocking timeout in seconds (float) into a deadline (unix
    /// ms) or `None` for 0 = forever.
    pub fn timeout_arg(&self, i: usize) -> Result<Option<i64>, ErrorReply> {
        let t = parse_f64(self.args[i]).ok_or(errors::TIMEOUT_NOT_FLOAT)?;
        // As redis-server 7.0: milliseconds are rounded up before the sign
        // check (so -0.0001 means 0, forever), and values too large for a
        // long long (inf, 1e16) come out of C's conversion negative.
        let ms = (t * 1000.0).ceil();
        if !(ms > -1.0 && ms < 9.223_372_036_854_775e18) {
            return Err(errors::TIMEOUT_NEGATIVE);
        }
        let ms = ms as i64;
        Ok(if ms == 0 {
            None
        } else {
            Some(self.now_ms.saturating_add(ms))
        })
    }
    /// Blocks the client on `keys` until one is ready or the deadline; the
    /// command is re-run when a key is signalled ready. Inside EXEC, replies
    /// the timeout reply instead (blocking commands don't block in MULTI).
    /// `timeout_null_bulk` picks the timeout reply: a null bulk string
    /// (BLMOVE, BRPOPLPUSH) or a null array (BLPOP, BZPOPMIN).
    pub fn block(
        &mut self,
        keys: Vec<crate::keyspace::Sds>,
        deadline_ms: Option<i64>,
        timeout_null_bulk: bool,
    ) {
        if self.in_exec {
            if timeout_null_bulk {
                self.client.null();
            } else {
                self.client.null_array();
            }
            return;
        }
        let argv = self.args.iter().map(|a| a.to_vec()).collect();
        let (deadline_ms, front) = match &self.prev_block {
            Some(prev) => (prev.deadline_ms, true),
            None => (deadline_ms, false),
        };
        let state = crate::server::client::BlockState {
            db: self.client.db,
            keys,
            deadline_ms,
            argv,
            timeout_null_bulk,
            wait: None,
        };
        self.srv.block_client_at(self.client, state, front);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nop(_: &mut Ctx) -> CmdResult {
        Ok(())
    }

    #[test]
    fn arity_and_key_positions() {
        let s = spec!("mset", -3, flags::WRITE, 1, -1, 2, "string", nop);
        assert!(s.arity_ok(3) && s.arity_ok(5) && !s.arity_ok(2));
        assert_eq!(s.key_positions(5), vec![1, 3]);
        let g = spec!("get", 2, flags::READONLY, 1, 1, 1, "string", nop);
        assert!(!g.arity_ok(3));
        assert_eq!(g.key_positions(2), vec![1]);
    }
}
