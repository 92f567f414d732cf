//! The keyspace: numbered databases of keys to typed values, with expiry.
//!
//! Owns the data and its invariants (a key with a past expiry time is never
//! returned; the expires table only names existing keys). It does not know
//! about clients, replies or the network: the server calls it with `now`.

pub mod db;
pub mod dict;
pub mod lfu;
pub mod value;
pub mod zset;

pub use db::{Db, Keyspace};
pub use value::{Obj, Sds, Value, ValueType};
