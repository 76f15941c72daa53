//! The TCP ports a sandbox listens on, from the kernel's socket tables of its network
//! namespace (`/proc/<pid>/net/tcp` and `tcp6` of any of its processes).

use std::collections::BTreeSet;

/// `st` of a listening socket in `/proc/net/tcp`.
const LISTEN: &str = "0A";

/// Ports in LISTEN state bound to something other than loopback, lowest first.
pub(super) fn listening(pid: u32) -> Vec<u16> {
    let mut out = BTreeSet::new();
    for table in ["tcp", "tcp6"] {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) {
            out.extend(parse(&text));
        }
    }
    out.into_iter().collect()
}

/// Parse one table: `sl local_address rem_address st ...`, addresses as `HEXADDR:HEXPORT`.
fn parse(text: &str) -> Vec<u16> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split_whitespace();
            let local = cols.nth(1)?;
            let state = cols.nth(1)?;
            if state != LISTEN {
                return None;
            }
            let (addr, port) = local.split_once(':')?;
            if is_loopback(addr) {
                return None;
            }
            u16::from_str_radix(port, 16).ok()
        })
        .collect()
}

/// 127.0.0.0/8 (`0100007F` is 127.0.0.1 in host byte order on little-endian machines: the
/// first octet is the last byte), `::1`, or `::ffff:127.x`.
fn is_loopback(hex: &str) -> bool {
    match hex.len() {
        8 => hex.ends_with("7F"),
        32 => {
            hex == "00000000000000000000000001000000"
                || (hex.starts_with("0000000000000000FFFF0000") && hex.ends_with("7F"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listeners_and_skips_loopback() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
   2: 0500580A:C350 0100580A:0035 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0
   3: 0500580A:1389 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4 1 0 100 0 0 10 0
";
        assert_eq!(parse(v4), vec![8080, 5001]);
        let v6 =
            "  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A
   1: 00000000000000000000000001000000:0051 00000000000000000000000000000000:0000 0A
";
        assert_eq!(parse(v6), vec![80]);
    }
}
