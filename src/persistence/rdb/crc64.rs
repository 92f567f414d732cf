//! CRC-64 with the Jones polynomial, reflected, init 0, no final xor, as
//! redis's `crc64.c` computes it for DUMP payloads and RDB file trailers.
//! Must not depend on anything else in the crate: it is a pure function.

/// The Jones polynomial 0xad93d23594c935a9, bit-reversed for the
/// reflected (LSB-first) algorithm.
const POLY_REFLECTED: u64 = 0x95ac_9329_ac4b_c9b5;

/// Byte-at-a-time lookup table, built at compile time.
const TABLE: [u64; 256] = build_table();

const fn build_table() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY_REFLECTED
            } else {
                crc >> 1
            };
            bit += 1;
        }
        t[i] = crc;
        i += 1;
    }
    t
}

/// Continues a CRC over `data` (Redis: `crc64(crc, s, l)`); start with 0.
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    for &b in data {
        crc = TABLE[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_matches_redis_test_vector() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn crc_can_be_continued_over_pieces() {
        let whole = crc64(0, b"hello world, this is redis");
        let part = crc64(crc64(0, b"hello world, "), b"this is redis");
        assert_eq!(whole, part);
        assert_eq!(crc64(0, b""), 0);
    }
}
