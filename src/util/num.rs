//! Number parsing and formatting with redis-server's exact rules, since
//! replies and error decisions depend on them (`string2ll`, `strtod`, `%.17g`).

pub use crate::resp::decode::parse_i64;

/// Parses a float the way Redis's `getDoubleFromObject` does: the whole
/// string must be a number, no surrounding spaces, NaN rejected, `inf`,
/// `+inf`, `-inf` accepted.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s[0].is_ascii_whitespace() || s[s.len() - 1].is_ascii_whitespace() {
        return None;
    }
    // The common case, plain decimal or exponent notation, parses without
    // allocating; only the spelled-out infinities need a closer look.
    let plain = s
        .iter()
        .all(|&b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    let v = if plain {
        std::str::from_utf8(s).ok()?.parse::<f64>().ok()?
    } else {
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if !(body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity")) {
            return None;
        }
        if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }
    };
    if v.is_nan() {
        return None;
    }
    Some(v)
}

/// Formats like C's `printf("%.17g", d)`, which redis-server 7.0 uses for
/// double replies (ZSCORE, RESP3 doubles), with `inf`/`-inf`.
pub fn fmt_g17(d: f64) -> String {
    fmt_g(d, 17)
}

/// C's `%.{prec}g`.
pub fn fmt_g(d: f64, prec: usize) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let e = format!("{:.*e}", prec - 1, d);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if exp < -4 || exp >= prec as i32 {
        let d = digits.trim_end_matches('0');
        out.push_str(&d[..1]);
        if d.len() > 1 {
            out.push('.');
            out.push_str(&d[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits.trim_end_matches('0'));
    } else {
        let int_len = exp as usize + 1;
        out.push_str(&digits[..int_len]);
        let frac = digits[int_len..].trim_end_matches('0');
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
    }
    out
}

/// Formats a float result of INCRBYFLOAT/HINCRBYFLOAT: the shortest text that
/// reads back as the same value, never in exponent form (Redis prints with
/// `%.17Lf` and trims zeros, which gives the same text for values a client
/// can observe).
pub fn fmt_incr_float(d: f64) -> String {
    let s = format!("{d}");
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g17_matches_printf() {
        assert_eq!(fmt_g17(1.5), "1.5");
        assert_eq!(fmt_g17(0.1), "0.10000000000000001");
        assert_eq!(fmt_g17(3.0), "3");
        assert_eq!(fmt_g17(-2.25), "-2.25");
        assert_eq!(fmt_g17(1e20), "1e+20");
        assert_eq!(fmt_g17(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(fmt_g17(123456.0), "123456");
        assert_eq!(fmt_g17(0.0001), "0.0001");
        assert_eq!(fmt_g17(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn floats_parse_like_strtod_without_nan() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"abc"), None);
        assert_eq!(parse_f64(b""), None);
    }

    #[test]
    fn incr_float_text_is_short() {
        assert_eq!(fmt_incr_float(10.5 + 0.1), "10.6");
        assert_eq!(fmt_incr_float(3.0), "3");
        assert_eq!(fmt_incr_float(5.0e3), "5000");
    }
}
