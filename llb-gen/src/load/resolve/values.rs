//! Values written as text with a meaning of their own: ports, users, signals, durations.

use crate::diag::similar;
use crate::spec::*;

use super::*;

pub(super) const SIGNALS: &[&str] = &[
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP",
    "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

/// A whole number written as a number is: digits only, no sign, no leading zero, at most
/// `max`. `Err` says what is wrong with it.
pub(crate) fn canonical_number(v: &str, max: u32) -> Result<u32, String> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        let plain = v.trim_start_matches('+');
        return Err(if plain != v && !plain.is_empty() && plain.bytes().all(|b| b.is_ascii_digit()) {
            format!("`{v}` has a sign; write `{plain}`")
        } else {
            format!("`{v}` is not a number")
        });
    }
    if v.len() > 1 && v.starts_with('0') {
        let stripped = v.trim_start_matches('0');
        return Err(format!("`{v}` starts with a zero; write `{}`", if stripped.is_empty() { "0" } else { stripped }));
    }
    match v.parse::<u64>() {
        Ok(n) if n <= max as u64 => Ok(n as u32),
        _ => Err(format!("`{v}` is more than {max}")),
    }
}

pub(crate) fn parse_port(v: &str) -> Result<Port, String> {
    let (num, proto) = v.split_once('/').unwrap_or((v, "tcp"));
    let protocol = match proto.to_ascii_lowercase().as_str() {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        _ => return Err(format!("`{proto}` is not a port protocol")),
    };
    match canonical_number(num, 65535) {
        Ok(0) => Err(format!("`{v}` is not a port: ports are 1 to 65535")),
        Ok(n) => Ok(Port { number: n as u16, protocol }),
        Err(e) => Err(format!("`{v}` is not a port: {e}")),
    }
}

pub(crate) fn parse_user(v: &str) -> Result<User, String> {
    match v {
        "nonroot" => return Ok(User::NONROOT),
        "root" => return Ok(User::ROOT),
        _ => {}
    }
    let id = |s: &str| canonical_number(s, u32::MAX - 1);
    let (u, g) = v.split_once(':').unwrap_or((v, v));
    let numeric = |s: &str| s.trim_start_matches('+').bytes().all(|b| b.is_ascii_digit()) && !s.is_empty();
    match (id(u), id(g)) {
        (Ok(uid), Ok(gid)) => Ok(User { uid, gid }),
        (Err(e), _) | (_, Err(e)) if numeric(u) && numeric(g) => Err(format!("`{v}` is not a user: {e}")),
        _ if is_user_name(v) => {
            Err(format!("the user `{v}` is not known: the static and scratch bases only know `root` and `nonroot` (a pulled base's users can be named)"))
        }
        _ => Err(format!("`{v}` is not a user")),
    }
}

/// A stop signal in the form the engine reads: `SIGTERM`, or a number.
pub(crate) fn parse_signal(v: &str) -> Result<String, String> {
    if v.trim_start_matches('+').bytes().all(|b| b.is_ascii_digit()) && !v.is_empty() {
        return match canonical_number(v, 64) {
            Ok(n) if n >= 1 => Ok(n.to_string()),
            Ok(_) => Err(format!("`{v}` is not a signal number (1 to 64)")),
            Err(e) => Err(format!("`{v}` is not a signal number (1 to 64): {e}")),
        };
    }
    let upper = v.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if SIGNALS.contains(&name) {
        return Ok(format!("SIG{name}"));
    }
    if let Some(n) = name.strip_prefix("RTMIN+").or_else(|| name.strip_prefix("RTMAX-"))
        && n.parse::<u32>().is_ok_and(|n| n <= 30)
    {
        return Ok(format!("SIG{name}"));
    }
    let names: Vec<String> = SIGNALS.iter().map(|s| format!("SIG{s}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    match similar(&format!("SIG{name}"), &refs) {
        Some(s) => Err(format!("`{v}` is not a signal; did you mean `{s}`?")),
        None => Err(format!("`{v}` is not a signal")),
    }
}

/// A duration as Go writes them (`1h30m`, `30s`, `1.5s`, `500ms`), in nanoseconds.
pub(crate) fn parse_duration(v: &str) -> Result<i64, String> {
    let bad = || format!("`{v}` is not a duration");
    if v == "0" {
        return Ok(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = v;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let num: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += num * scale;
    }
    if total > i64::MAX as f64 / 2.0 {
        return Err(format!("`{v}` is too long a duration"));
    }
    Ok(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(30_000_000_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        for bad in ["", "30", "s", "1x", "1.2.3s", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), "SIGTERM");
        assert_eq!(parse_signal("int").unwrap(), "SIGINT");
        assert_eq!(parse_signal("15").unwrap(), "15");
        assert_eq!(parse_signal("SIGRTMIN+3").unwrap(), "SIGRTMIN+3");
        assert!(parse_signal("SIGTREM").unwrap_err().contains("SIGTERM"));
        assert!(parse_signal("99").is_err());
    }

    #[test]
    fn users() {
        assert_eq!(parse_user("nonroot"), Ok(User::NONROOT));
        assert_eq!(parse_user("1000"), Ok(User { uid: 1000, gid: 1000 }));
        assert_eq!(parse_user("1000:2000"), Ok(User { uid: 1000, gid: 2000 }));
        assert!(parse_user("www-data").is_err());
        assert!(parse_user("1000:").is_err());
    }
}
