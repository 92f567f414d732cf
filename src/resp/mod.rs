//! RESP, the Redis serialization protocol: request decoding and reply encoding.
//!
//! Pure byte-level code. It owns the wire format (RESP2 and RESP3, inline
//! commands) and nothing else: no sockets, no server state. The connection
//! driver (`net::connection`) feeds it bytes and writes what it produces.

pub mod client;
pub mod decode;
pub mod encode;

pub use decode::{parse_request, Limits, ParsedRequest, ProtocolError};
pub use encode::Proto;
