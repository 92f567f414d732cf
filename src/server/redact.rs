//! Which arguments of a command are secrets, replaced by `(redacted)` in
//! SLOWLOG and MONITOR (Redis: redactClientCommandArgument, called by
//! AUTH, HELLO ... AUTH, ACL SETUSER, MIGRATE ... AUTH/AUTH2 and CONFIG
//! SET of its SENSITIVE_CONFIG settings). Picket also redacts what Redis
//! 7.0's Sentinel leaves in the clear: SENTINEL SET ... auth-pass and
//! SENTINEL CONFIG SET sentinel-pass.

/// What a redacted argument shows.
pub const REDACTED: &[u8] = b"(redacted)";

/// CONFIG SET settings whose values are secrets (Redis 7.0:
/// SENSITIVE_CONFIG).
const SENSITIVE_CONFIGS: &[&[u8]] = &[b"requirepass", b"masterauth", b"masteruser"];

/// The positions in `args` (the command name first) to redact, for the
/// command named `name` (lower case).
pub fn redacted(name: &str, args: &[&[u8]]) -> Vec<usize> {
    // A subcommand's spec is named `parent|sub`.
    let name = name.split('|').next().unwrap_or(name);
    let is = |i: usize, what: &[u8]| args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(what));
    let n = args.len();
    match name {
        "auth" => (1..n.min(3)).collect(),
        "hello" => {
            let mut out = Vec::new();
            let mut j = 2;
            while j < n {
                if is(j, b"auth") && j + 2 < n {
                    out.extend([j + 1, j + 2]);
                    j += 3;
                } else {
                    j += 1;
                }
            }
            out
        }
        "acl" if is(1, b"setuser") => (2..n).collect(),
        "migrate" => {
            let mut out = Vec::new();
            for j in 6..n {
                if is(j, b"auth") && j + 1 < n {
                    out.push(j + 1);
                } else if is(j, b"auth2") && j + 2 < n {
                    out.extend([j + 1, j + 2]);
                }
            }
            out
        }
        "config" if is(1, b"set") => (2..n)
            .step_by(2)
            .filter(|&i| i + 1 < n && SENSITIVE_CONFIGS.iter().any(|s| is(i, s)))
            .map(|i| i + 1)
            .collect(),
        "sentinel" if is(1, b"set") => (3..n)
            .step_by(2)
            .filter(|&i| i + 1 < n && is(i, b"auth-pass"))
            .map(|i| i + 1)
            .collect(),
        "sentinel" if is(1, b"config") && is(2, b"set") && is(3, b"sentinel-pass") && n > 4 => {
            vec![4]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, want: &[usize]) {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let name = line.split(' ').next().unwrap().to_ascii_lowercase();
        assert_eq!(redacted(&name, &args), want, "{line}");
    }

    #[test]
    fn secrets_are_found_where_redis_finds_them_and_in_sentinel_s_too() {
        check("AUTH pw", &[1]);
        check("AUTH user pw", &[1, 2]);
        check("HELLO 3 AUTH user pw SETNAME x", &[3, 4]);
        check("HELLO 3 SETNAME auth", &[]);
        check("ACL SETUSER bob on >pw ~*", &[2, 3, 4, 5]);
        check("ACL GETUSER bob", &[]);
        check("MIGRATE h 1 k 0 100 COPY AUTH pw", &[8]);
        check("MIGRATE h 1 k 0 100 AUTH2 u pw KEYS a", &[7, 8]);
        check(
            "CONFIG SET maxmemory 1mb requirepass pw MasterAuth pw2",
            &[5, 7],
        );
        check("CONFIG SET masteruser u", &[3]);
        check("CONFIG GET requirepass", &[]);
        check("SENTINEL SET m quorum 2 auth-pass pw", &[6]);
        check("SENTINEL SET m auth-user u", &[]);
        check("SENTINEL CONFIG SET sentinel-pass pw", &[4]);
        check("SENTINEL CONFIG SET announce-ip 1.2.3.4", &[]);
        check("SET requirepass pw", &[]);
        let args: [&[u8]; 4] = [b"CONFIG", b"SET", b"requirepass", b"pw"];
        assert_eq!(redacted("config|set", &args), [3]);
    }
}
