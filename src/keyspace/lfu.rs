//! LFU access counters, as Redis stores them in `robj.lru` under an LFU
//! policy: the high 16 bits are the last decrement time in minutes, the low
//! 8 bits a logarithmic access counter (Redis: evict.c LFU section).

/// Initial counter of a new key (Redis: LFU_INIT_VAL), so new keys are not
/// evicted before they had a chance to be used.
pub const LFU_INIT_VAL: u8 = 5;

/// Minutes clock, 16 bits (Redis: LFUGetTimeInMinutes).
pub fn minutes(now_ms: i64) -> u16 {
    ((now_ms / 1000 / 60) & 0xffff) as u16
}

/// A fresh LFU stamp for a new object.
pub fn init(now_ms: i64) -> u32 {
    ((minutes(now_ms) as u32) << 8) | LFU_INIT_VAL as u32
}

/// Minutes elapsed since `then`, wrapping like Redis's LFUTimeElapsed.
fn elapsed(now: u16, then: u16) -> u32 {
    if now >= then {
        (now - then) as u32
    } else {
        65535 - then as u32 + now as u32
    }
}

/// The counter after decay (Redis: LFUDecrAndReturn): one step per
/// `decay_time` minutes since the last decrement.
pub fn decayed(lru: u32, now_ms: i64, decay_time: i64) -> u8 {
    let then = (lru >> 8) as u16;
    let counter = (lru & 0xff) as u8;
    let periods = if decay_time > 0 {
        elapsed(minutes(now_ms), then) / decay_time as u32
    } else {
        0
    };
    counter.saturating_sub(periods.min(255) as u8)
}

/// Logarithmic increment (Redis: LFULogIncr): the more hits, the less
/// likely another increment.
pub fn log_incr(counter: u8, log_factor: i64) -> u8 {
    if counter == 255 {
        return 255;
    }
    let r: f64 = fastrand::f64();
    let base = (counter as f64 - LFU_INIT_VAL as f64).max(0.0);
    let p = 1.0 / (base * log_factor as f64 + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

/// Updates an object's LFU stamp on access (Redis: updateLFU).
pub fn touch(lru: u32, now_ms: i64, log_factor: i64, decay_time: i64) -> u32 {
    let c = log_incr(decayed(lru, now_ms, decay_time), log_factor);
    ((minutes(now_ms) as u32) << 8) | c as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_grows_logarithmically_and_decays() {
        let now = 10 * 60_000;
        let mut lru = init(now);
        for _ in 0..1000 {
            lru = touch(lru, now, 10, 1);
        }
        let c = (lru & 0xff) as u8;
        assert!(c > LFU_INIT_VAL && c < 40, "counter {c}");
        assert_eq!(decayed(lru, now + 3 * 60_000, 1), c - 3);
        assert_eq!(decayed(lru, now + 3 * 60_000, 0), c);
    }
}
