//! The `default` user, as Redis 7.0's ACL models it, reduced to what
//! picket serves: one user with every command, key and channel, switched
//! on or off, and either `nopass` or any number of passwords (kept as
//! SHA-256 hashes, as Redis keeps them). Several passwords at once are
//! what a rotation without downtime needs: the new one is added, clients
//! move over, the old one is removed.
//!
//! `requirepass` is the one-password form: setting it (config file,
//! command line, CONFIG SET) makes the default user's passwords exactly
//! that one, or `nopass` when empty, as in Redis.

use crate::cmd::ErrorReply;
use sha2::{Digest, Sha256};

/// The default user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultUser {
    /// `on` (may authenticate) or `off`.
    pub on: bool,
    /// Any password is accepted (`nopass`).
    pub nopass: bool,
    /// SHA-256 of each accepted password, in the order added.
    hashes: Vec<[u8; 32]>,
}

impl Default for DefaultUser {
    /// Redis's default: on, nopass.
    fn default() -> Self {
        DefaultUser {
            on: true,
            nopass: true,
            hashes: Vec::new(),
        }
    }
}

/// The hash Redis stores for a password.
pub fn hash(pass: &[u8]) -> [u8; 32] {
    Sha256::digest(pass).into()
}

fn hex(h: &[u8; 32]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &[u8]) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks(2).enumerate() {
        let d = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        out[i] = d(pair[0])? << 4 | d(pair[1])?;
    }
    Some(out)
}

/// Rules that grant everything: accepted and changing nothing, since the
/// default user always has every command, key and channel here.
const FULL_ACCESS: &[&str] = &[
    "~*",
    "allkeys",
    "%rw~*",
    "&*",
    "allchannels",
    "+@all",
    "allcommands",
];

impl DefaultUser {
    /// The user `requirepass` describes: that password only, or nopass.
    pub fn from_requirepass(pass: Option<&str>) -> Self {
        match pass {
            Some(p) => DefaultUser {
                on: true,
                nopass: false,
                hashes: vec![hash(p.as_bytes())],
            },
            None => DefaultUser::default(),
        }
    }

    /// What setting `requirepass` does (Redis: `resetpass` then `>pass`,
    /// or `nopass` when empty); `on`/`off` stays as it was.
    pub fn set_requirepass(&mut self, pass: Option<&str>) {
        let on = self.on;
        *self = DefaultUser::from_requirepass(pass);
        self.on = on;
    }

    /// Whether `pass` logs in as this user.
    pub fn accepts(&self, pass: &[u8]) -> bool {
        if !self.on {
            return false;
        }
        if self.nopass {
            return true;
        }
        let h = hash(pass);
        // Every stored hash is compared, in constant time each, so the
        // time taken says nothing about which one matched.
        self.hashes
            .iter()
            .fold(false, |hit, s| hit | constant_time_eq(s, &h))
    }

    /// Whether a new connection starts logged in (Redis: the default user
    /// is on and nopass).
    pub fn logged_in_by_default(&self) -> bool {
        self.on && self.nopass
    }

    /// Applies `ACL SETUSER default` rules, all or none: the first bad
    /// rule is the error (Redis's message) and nothing changes.
    pub fn apply(&mut self, rules: &[&[u8]]) -> Result<(), ErrorReply> {
        let mut next = self.clone();
        for r in rules {
            next.apply_one(r).map_err(|why| {
                ErrorReply::err(format_args!(
                    "Error in ACL SETUSER modifier '{}': {why}",
                    String::from_utf8_lossy(r)
                ))
            })?;
        }
        *self = next;
        Ok(())
    }

    fn apply_one(&mut self, rule: &[u8]) -> Result<(), &'static str> {
        let lower = String::from_utf8_lossy(rule).to_ascii_lowercase();
        match (rule.first(), lower.as_str()) {
            (_, "on") => self.on = true,
            (_, "off") => self.on = false,
            (_, "nopass") => {
                self.nopass = true;
                self.hashes.clear();
            }
            (_, "resetpass") => {
                self.nopass = false;
                self.hashes.clear();
            }
            (_, r) if FULL_ACCESS.contains(&r) => {}
            (Some(b'>'), _) => self.add(hash(&rule[1..])),
            (Some(b'#'), _) => self.add(unhex(&rule[1..]).ok_or(BAD_HASH)?),
            (Some(b'<'), _) => self.remove(hash(&rule[1..]))?,
            (Some(b'!'), _) => self.remove(unhex(&rule[1..]).ok_or(BAD_HASH)?)?,
            _ => {
                return Err(
                    "Syntax error (picket's default user has every command, key and channel: only on, off, >, <, #, !, nopass, resetpass and the full-access rules apply)",
                )
            }
        }
        Ok(())
    }

    fn add(&mut self, h: [u8; 32]) {
        self.nopass = false;
        if !self.hashes.contains(&h) {
            self.hashes.push(h);
        }
    }

    fn remove(&mut self, h: [u8; 32]) -> Result<(), &'static str> {
        let before = self.hashes.len();
        self.hashes.retain(|x| *x != h);
        if self.hashes.len() == before {
            return Err("The password you are trying to remove from the user does not exist");
        }
        Ok(())
    }

    /// `flags` as ACL GETUSER lists them.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.on { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        f
    }

    /// The stored hashes in hex, as ACL GETUSER lists them.
    pub fn password_hashes(&self) -> Vec<String> {
        self.hashes.iter().map(hex).collect()
    }

    /// The ACL LIST line.
    pub fn describe(&self) -> String {
        let mut s = String::from("user default");
        for f in self.flags() {
            s.push(' ');
            s.push_str(f);
        }
        for h in self.password_hashes() {
            s.push_str(" #");
            s.push_str(&h);
        }
        s.push_str(" ~* &* +@all");
        s
    }
}

const BAD_HASH: &str =
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirepass_is_one_password_or_nopass() {
        let u = DefaultUser::from_requirepass(Some("old"));
        assert!(u.accepts(b"old") && !u.accepts(b"new") && !u.logged_in_by_default());
        assert_eq!(u.flags(), ["on"]);
        let open = DefaultUser::from_requirepass(None);
        assert!(open.accepts(b"anything") && open.logged_in_by_default());
        assert_eq!(open.describe(), "user default on nopass ~* &* +@all");
    }

    #[test]
    fn a_rotation_accepts_both_then_only_the_new() {
        let mut u = DefaultUser::from_requirepass(Some("old"));
        u.apply(&[b">new"]).unwrap();
        assert!(u.accepts(b"old") && u.accepts(b"new"));
        assert_eq!(u.password_hashes().len(), 2);
        u.apply(&[b"<old"]).unwrap();
        assert!(!u.accepts(b"old") && u.accepts(b"new"));
        // Removing it again is an error, and changes nothing.
        let e = u.apply(&[b"<old"]).unwrap_err();
        assert_eq!(
            e.0,
            "ERR Error in ACL SETUSER modifier '<old': The password you are trying to remove from the user does not exist"
        );
        assert!(u.accepts(b"new"));
    }

    #[test]
    fn hashes_are_redis_hashes() {
        // redis-cli ACL GETUSER after `ACL SETUSER default >foobar`.
        let mut u = DefaultUser::default();
        u.apply(&[b">foobar"]).unwrap();
        assert_eq!(
            u.password_hashes(),
            ["c3ab8ff13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2"]
        );
        let mut v = DefaultUser::default();
        v.apply(&[b"#c3ab8ff13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2"])
            .unwrap();
        assert!(v.accepts(b"foobar"));
        assert!(v.apply(&[b"#C3"]).unwrap_err().0.contains("exactly 64"));
    }

    #[test]
    fn a_bad_rule_changes_nothing() {
        let mut u = DefaultUser::from_requirepass(Some("p"));
        let before = u.clone();
        let e = u.apply(&[b">q", b"-@dangerous"]).unwrap_err();
        assert!(e
            .0
            .starts_with("ERR Error in ACL SETUSER modifier '-@dangerous': Syntax error"));
        assert_eq!(u, before);
        u.apply(&[b"off", b"~*", b"+@all"]).unwrap();
        assert!(!u.accepts(b"p"));
        u.apply(&[b"on", b"nopass"]).unwrap();
        assert!(u.logged_in_by_default());
        u.apply(&[b"resetpass"]).unwrap();
        assert!(!u.accepts(b"p") && !u.accepts(b""));
        // requirepass leaves on/off alone.
        u.apply(&[b"off"]).unwrap();
        u.set_requirepass(Some("q"));
        assert!(!u.on && !u.accepts(b"q"));
    }
}
