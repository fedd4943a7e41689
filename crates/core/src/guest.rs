//! What a guest reports of its network, in the one table shape every adapter's
//! `GetIpAddresses` answers with: NIC, MAC, family, address with its prefix. Loopback and
//! link-local addresses are left out (they say nothing an operator can reach).

use serde_json::{json, Map, Value};
use std::net::IpAddr;

/// The prefix length of a subnet as hosts report it: a length (`24`, `64`) or a dotted IPv4
/// mask (`255.255.255.0`).
pub fn prefix(subnet: &str) -> Option<u32> {
    let s = subnet.trim().trim_start_matches('/');
    s.parse::<u32>()
        .ok()
        .filter(|p| *p <= 128)
        .or_else(|| s.parse::<std::net::Ipv4Addr>().ok().map(|m| u32::from(m).count_ones()))
}

/// One table row for an address of NIC `nic` (MAC `mac`), or `None` for an address to leave
/// out (loopback, link-local, not an address). Without a known prefix the address stands alone.
pub fn address_row(nic: &str, mac: &str, ip: &str, prefix: Option<u32>) -> Option<Map<String, Value>> {
    let parsed: IpAddr = ip.trim().parse().ok()?;
    let hidden = match parsed {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    if hidden {
        return None;
    }
    let address = match prefix {
        Some(p) => format!("{parsed}/{p}"),
        None => parsed.to_string(),
    };
    let family = if parsed.is_ipv4() { "IPv4" } else { "IPv6" };
    json!({"nic": nic, "mac": mac, "family": family, "address": address}).as_object().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_prefixes() {
        assert_eq!(prefix("255.255.255.0"), Some(24));
        assert_eq!(prefix("64"), Some(64));
        assert_eq!(prefix("bogus"), None);
        let r = address_row("eth0", "02:00:00:00:00:01", "10.1.1.10", Some(24)).unwrap();
        assert_eq!(r.keys().next().map(String::as_str), Some("nic"));
        assert_eq!(r["address"], "10.1.1.10/24");
        assert_eq!(address_row("e", "m", "fd00::10", None).unwrap()["address"], "fd00::10");
        for hidden in ["127.0.0.1", "::1", "fe80::1", "169.254.1.2", "0.0.0.0", "x"] {
            assert!(address_row("e", "m", hidden, Some(8)).is_none(), "{hidden}");
        }
    }
}
