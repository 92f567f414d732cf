//! Intsets (Redis: intset.c), the encoding of small all-integer sets:
//! `<encoding u32 LE: 2, 4 or 8><length u32 LE><sorted integers LE>`.

/// Encodes sorted, distinct integers with the narrowest width that holds
/// them all (the width `intsetAdd` would have upgraded to).
pub fn encode(sorted: &[i64]) -> Vec<u8> {
    let width = sorted.iter().map(|&v| value_width(v)).max().unwrap_or(2);
    let mut out = Vec::with_capacity(8 + width * sorted.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    for &v in sorted {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// Bytes needed for `v` (Redis: _intsetValueEncoding).
fn value_width(v: i64) -> usize {
    if v < i32::MIN as i64 || v > i32::MAX as i64 {
        8
    } else if v < i16::MIN as i64 || v > i16::MAX as i64 {
        4
    } else {
        2
    }
}

/// Decodes and validates an intset: known width, exact size, strictly
/// ascending (so no duplicates).
pub fn decode(blob: &[u8]) -> Result<Vec<i64>, &'static str> {
    if blob.len() < 8 {
        return Err("intset: shorter than its header");
    }
    let width = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err("intset: invalid encoding");
    }
    let count = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]) as usize;
    if count.checked_mul(width).and_then(|n| n.checked_add(8)) != Some(blob.len()) {
        return Err("intset: length differs from blob size");
    }
    let mut out: Vec<i64> = Vec::with_capacity(count);
    for chunk in blob[8..].chunks_exact(width) {
        let v = match width {
            2 => i16::from_le_bytes([chunk[0], chunk[1]]) as i64,
            4 => i32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) as i64,
            _ => {
                let mut a = [0u8; 8];
                a.copy_from_slice(chunk);
                i64::from_le_bytes(a)
            }
        };
        if out.last().is_some_and(|&prev| prev >= v) {
            return Err("intset: not sorted or has duplicates");
        }
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_is_the_narrowest_that_holds_every_member() {
        // SADD s 1 2 70000 on redis-server 7.0.15.
        let blob = encode(&[1, 2, 70000]);
        assert_eq!(
            blob,
            [4, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0x70, 0x11, 1, 0]
        );
        assert_eq!(decode(&blob).unwrap(), vec![1, 2, 70000]);
        assert_eq!(encode(&[-5, 7])[0], 2);
        let wide = encode(&[i64::MIN, 0, i64::MAX]);
        assert_eq!(wide[0], 8);
        assert_eq!(decode(&wide).unwrap(), vec![i64::MIN, 0, i64::MAX]);
    }

    #[test]
    fn malformed_intsets_are_rejected() {
        assert!(decode(&[2, 0, 0, 0, 1, 0, 0]).is_err());
        assert!(decode(&[3, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode(&[2, 0, 0, 0, 2, 0, 0, 0, 1, 0]).is_err());
        assert!(decode(&[2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(decode(&[2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 5, 0]).is_err());
        assert!(decode(&[2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 4, 0]).is_err());
    }
}
