//! LZF compression as Redis vendors it (liblzf 3.6: `HLOG 16`,
//! `VERY_FAST 1`, hash slots holding offsets), used for long strings in
//! DUMP payloads and RDB files.
//!
//! The compressor follows `lzf_c.c` step by step so that, for the same
//! input and output budget, it takes the same decision as redis-server
//! (compress or store verbatim) and in practice the same bytes: the
//! interop tests compare picket's DUMP with redis-server's byte for byte
//! (see `HTAB` for the one source of difference). The decompressor follows
//! `lzf_d.c` with its input checks and never reads or writes out of bounds.
//!
//! Format: `000LLLLL` + L+1 literal bytes; `LLLooooo oooooooo` a back
//! reference of L+2 bytes at distance o+1; `111ooooo LLLLLLLL oooooooo` a
//! back reference of L+9 bytes.

use std::cell::RefCell;

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// Most output bytes per compressed byte (a 3-byte back reference copies
/// at most 264 bytes): bounds the declared length of a blob before
/// allocating for it.
pub const MAX_EXPANSION: usize = 88;

thread_local! {
    /// The hash table of positions, kept between calls like the table on
    /// redis-server's stack, which `lzf_compress` never clears (liblzf
    /// 3.6, `INIT_HTAB 0`, offsets rather than pointers on 64-bit). A
    /// position left by an earlier call is only a candidate: it is used
    /// only if it lies before the cursor in the current input and the bytes
    /// there match, so it never affects correctness, but it does let the
    /// output match Redis's byte for byte when both compressed the same
    /// sequence of strings.
    static HTAB: RefCell<HashTable> = RefCell::new(HashTable::new());
}

/// The compressor's table of recent positions by 3-byte hash (Redis:
/// LZF_STATE).
pub struct HashTable(Vec<u32>);

impl Default for HashTable {
    fn default() -> Self {
        Self::new()
    }
}

impl HashTable {
    /// An empty table.
    pub fn new() -> Self {
        HashTable(vec![0; HSIZE])
    }
}

#[inline]
fn frst(data: &[u8], p: usize) -> u32 {
    let a = data.get(p).copied().unwrap_or(0) as u32;
    let b = data.get(p + 1).copied().unwrap_or(0) as u32;
    (a << 8) | b
}

#[inline]
fn next(v: u32, data: &[u8], p: usize) -> u32 {
    (v << 8) | data[p + 2] as u32
}

#[inline]
fn idx(h: u32) -> usize {
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// Compresses `input` into at most `out_len` bytes (Redis:
/// `lzf_compress(in, in_len, out, out_len)`) with this thread's table.
/// `None` when the result would not fit, which is how Redis decides to
/// store a string verbatim.
pub fn compress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    HTAB.with(|cell| compress_with(input, out_len, &mut cell.borrow_mut()))
}

/// [`compress`] with a given table (a fresh table gives output that
/// depends on `input` alone).
pub fn compress_with(input: &[u8], out_len: usize, table: &mut HashTable) -> Option<Vec<u8>> {
    let htab = &mut table.0;
    let in_len = input.len();
    if in_len == 0 || out_len == 0 || in_len > u32::MAX as usize {
        return None;
    }
    // Like Redis's buffer of out_len + 1 bytes: a run header may be reserved
    // one past the budget before the budget check fails the call.
    let mut out = vec![0u8; out_len + 1];
    let mut ip = 0usize;
    let mut op = 1usize; // start run
    let mut lit = 0usize;
    let mut hval = frst(input, ip);
    while ip + 2 < in_len {
        hval = next(hval, input, ip);
        let slot = idx(hval);
        let r = htab[slot] as usize;
        htab[slot] = ip as u32;
        let matched = {
            let off = ip.checked_sub(r).and_then(|d| d.checked_sub(1));
            off.filter(|&off| {
                off < MAX_OFF
                    && r > 0
                    && input[r] == input[ip]
                    && input[r + 1] == input[ip + 1]
                    && input[r + 2] == input[ip + 2]
            })
            .map(|off| (r, off))
        };
        if let Some((r, off)) = matched {
            let mut len = 2usize;
            let maxlen = (in_len - ip - len).min(MAX_REF);
            out[op - lit - 1] = (lit as u8).wrapping_sub(1); // stop run
            if lit == 0 {
                op -= 1; // undo run if length is zero
            }
            if op + 3 + 1 >= out_len {
                return None;
            }
            'scan: {
                if maxlen > 16 {
                    for _ in 0..16 {
                        len += 1;
                        if input[r + len] != input[ip + len] {
                            break 'scan;
                        }
                    }
                }
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2; // len is now #octets - 1
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;
            lit = 0;
            op += 1; // start run
            ip += len + 1;
            if ip + 2 >= in_len {
                break;
            }
            // VERY_FAST: re-hash the last two positions of the match.
            ip -= 2;
            hval = frst(input, ip);
            hval = next(hval, input, ip);
            htab[idx(hval)] = ip as u32;
            ip += 1;
            hval = next(hval, input, ip);
            htab[idx(hval)] = ip as u32;
            ip += 1;
        } else {
            // one more literal byte we must copy
            if op >= out_len {
                return None;
            }
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8; // stop run
                lit = 0;
                op += 1; // start run
            }
        }
    }
    if op + 3 > out_len {
        return None; // at most 3 bytes can be missing here
    }
    while ip < in_len {
        lit += 1;
        out[op] = input[ip];
        op += 1;
        ip += 1;
        if lit == MAX_LIT {
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1); // end run
    if lit == 0 {
        op -= 1; // undo run if length is zero
    }
    out.truncate(op);
    Some(out)
}

/// Decompresses `input`, which must expand to exactly `out_len` bytes
/// (Redis: `lzf_decompress(...) != len` is a load error).
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, &'static str> {
    if out_len > input.len().saturating_mul(MAX_EXPANSION) {
        return Err("lzf: declared length impossible for the compressed size");
    }
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            if out.len() + n > out_len {
                return Err("lzf: output overflow");
            }
            let lits = input.get(ip..ip + n).ok_or("lzf: literal run past input")?;
            out.extend_from_slice(lits);
            ip += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip).ok_or("lzf: truncated back reference")? as usize;
                ip += 1;
            }
            let lo = *input.get(ip).ok_or("lzf: truncated back reference")? as usize;
            ip += 1;
            let dist = ((ctrl & 0x1f) << 8) + lo + 1;
            if out.len() + len + 2 > out_len {
                return Err("lzf: output overflow");
            }
            let start = out
                .len()
                .checked_sub(dist)
                .ok_or("lzf: back reference before start")?;
            // Byte by byte: the reference may overlap the bytes it produces.
            for k in 0..len + 2 {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    if out.len() != out_len {
        return Err("lzf: length mismatch");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(data: &[u8]) -> Option<usize> {
        let c = compress(data, data.len().saturating_sub(4))?;
        assert_eq!(decompress(&c, data.len()).unwrap(), data);
        Some(c.len())
    }

    #[test]
    fn repetitive_text_compresses_and_round_trips() {
        let data = b"abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc".repeat(20);
        let n = roundtrip(&data).expect("compressible");
        assert!(n < data.len() / 10, "{n}");
        let aaa = vec![b'a'; 100_000];
        assert!(roundtrip(&aaa).unwrap() < 2000);
    }

    #[test]
    fn random_bytes_do_not_fit_the_budget() {
        let mut rng = fastrand::Rng::with_seed(7);
        let data: Vec<u8> = (0..1000).map(|_| rng.u8(..)).collect();
        assert_eq!(compress(&data, data.len() - 4), None);
        // With a generous budget it still round-trips.
        let c = compress(&data, data.len() * 2).unwrap();
        assert_eq!(decompress(&c, data.len()).unwrap(), data);
    }

    #[test]
    fn mixed_inputs_of_every_size_round_trip() {
        let mut rng = fastrand::Rng::with_seed(42);
        for len in 1..600 {
            let alphabet = 1 + rng.u8(..) % 8;
            let data: Vec<u8> = (0..len).map(|_| b'a' + rng.u8(..) % alphabet).collect();
            let c = compress(&data, len * 2 + 16).unwrap();
            assert_eq!(decompress(&c, len).unwrap(), data, "len {len}");
            // A tight budget either fails cleanly or produces a valid stream.
            for budget in [len / 2, len.saturating_sub(4), len] {
                if let Some(c) = compress(&data, budget) {
                    assert!(c.len() <= budget);
                    assert_eq!(decompress(&c, len).unwrap(), data);
                }
            }
        }
    }

    #[test]
    fn positions_left_by_an_earlier_call_only_add_valid_matches() {
        let mut t = HashTable::new();
        let first = b"0123456789abcdefghij0123456789".repeat(3);
        compress_with(&first, first.len() * 2, &mut t).unwrap();
        // Same 3-byte prefixes at other offsets: stale slots point at
        // places that may or may not match; output must stay valid.
        let second = b"xx0123456789abcdefghij01234567890123".repeat(3);
        let warm = compress_with(&second, second.len() * 2, &mut t).unwrap();
        let cold = compress_with(&second, second.len() * 2, &mut HashTable::new()).unwrap();
        assert_eq!(decompress(&warm, second.len()).unwrap(), second);
        assert_eq!(decompress(&cold, second.len()).unwrap(), second);
    }

    #[test]
    fn corrupt_streams_are_errors_not_panics() {
        assert!(decompress(&[0x05, b'a'], 6).is_err()); // literal past input
        assert!(decompress(&[0x20, 0x00], 3).is_err()); // reference before start
        assert!(decompress(&[0x00, b'a', 0xe0], 20).is_err()); // truncated
        assert!(decompress(&[0x00, b'a'], 2).is_err()); // short output
        assert!(decompress(&[0x00, b'a'], 1_000_000).is_err()); // impossible length
        let mut rng = fastrand::Rng::with_seed(1);
        for _ in 0..2000 {
            let n = rng.usize(0..40);
            let junk: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
            let _ = decompress(&junk, rng.usize(0..200));
        }
    }

    #[test]
    fn known_redis_output_for_a_run_of_one_byte() {
        // redis-server 7.0.15 DUMPs SET k <"a" x 30> as C3 09 1E + these bytes:
        // position 0 is never a match candidate, so two literals come first.
        let c = compress_with(&[b'a'; 30], 26, &mut HashTable::new()).unwrap();
        assert_eq!(
            c,
            vec![0x01, b'a', b'a', 0xe0, 0x11, 0x00, 0x01, b'a', b'a']
        );
    }
}
