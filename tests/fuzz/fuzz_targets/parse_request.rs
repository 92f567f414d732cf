//! Fuzzes `picket::resp::decode::parse_request`, the request parser every
//! client byte goes through.
//!
//! Beyond "never panics", it checks the contract the connection driver
//! relies on: argument ranges lie inside the buffer they index, `consumed`
//! advances and never passes the end, `Incomplete { need }` asks for more
//! than is there, and a prefix of a complete request is never mistaken for
//! a different complete request.

#![no_main]

use libfuzzer_sys::fuzz_target;
use picket::resp::decode::{parse_request, Limits, ParsedRequest};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the limits, the rest is the input stream.
    let Some((&sel, input)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_bulk_len: if sel & 1 == 0 { 512 << 20 } else { 64 },
        authenticated: sel & 2 == 0,
    };
    let mut args = Vec::new();
    let mut scratch = Vec::new();
    // Parse request after request, as the connection driver does.
    let mut pos = 0;
    while pos < input.len() {
        let buf = &input[pos..];
        match parse_request(buf, &mut args, &mut scratch, &limits) {
            Ok(ParsedRequest::Complete { consumed, inline }) => {
                assert!(consumed > 0, "no progress");
                assert!(consumed <= buf.len(), "consumed past the end");
                let src_len = if inline { scratch.len() } else { consumed };
                for &(s, e) in &args {
                    assert!(s <= e && e <= src_len, "argument out of bounds");
                }
                if !limits.authenticated {
                    assert!(inline || args.len() <= 10);
                }
                check_prefixes(&buf[..consumed], consumed, &limits);
                pos += consumed;
            }
            Ok(ParsedRequest::Incomplete { need }) => {
                assert!(need == 0 || need > buf.len(), "asked for bytes it has");
                break;
            }
            Err(e) => {
                assert!(!e.0.is_empty());
                break;
            }
        }
    }
});

/// Every strict prefix of a complete request must parse as incomplete (or
/// fail the same request early), never as a shorter complete request -- with
/// the exception of inline requests, which end at the first newline.
fn check_prefixes(req: &[u8], consumed: usize, limits: &Limits) {
    if req.first() != Some(&b'*') || consumed > 4096 {
        return;
    }
    let mut args = Vec::new();
    let mut scratch = Vec::new();
    for cut in [consumed / 2, consumed - 1] {
        if cut == 0 {
            continue;
        }
        if let Ok(ParsedRequest::Complete { consumed: c, .. }) =
            parse_request(&req[..cut], &mut args, &mut scratch, limits)
        {
            panic!("prefix of {consumed} bytes parsed as a complete request of {c}");
        }
    }
}
