//! The daemon's own measure of the runtime's part of a create: the `elapsed=` field of its
//! "sandbox created" log line (a `Debug`-printed Duration). The bench sets `NO_COLOR`, and strips
//! ANSI escapes anyway.

use std::time::Duration;

/// Parse a `Debug`-printed Duration (`45.1ms`, `1.2s`, `950µs`, `12ns`).
fn parse_debug_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let secs = match unit {
        "s" => v,
        "ms" => v / 1e3,
        "µs" | "us" => v / 1e6,
        "ns" => v / 1e9,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `elapsed` of the runtime's "sandbox created" line for `id`.
pub fn runtime_create_time(log: &str, id: &str) -> Option<Duration> {
    log.lines()
        .map(strip_ansi)
        .find(|l| l.contains("sandbox created") && l.contains(id))
        .and_then(|l| {
            let rest = &l[l.find("elapsed=")? + "elapsed=".len()..];
            parse_debug_duration(rest.split_whitespace().next()?)
        })
}
