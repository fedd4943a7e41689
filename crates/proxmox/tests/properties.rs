//! Property tests over the Proxmox adapter's input parsing: URLs, fingerprints,
//! names. No input panics; accepted URLs are always well-formed API bases.

use csx_proxmox::{api_base, check_snapshot_name, is_dns_name, parse_fingerprint, seg};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn urls(s in "(https?://)?[a-z0-9.:\\[\\]/@?#-]{0,40}") {
        if let Ok(base) = api_base(&s) {
            prop_assert!(base.starts_with("https://") || base.starts_with("http://"));
            prop_assert!(base.ends_with("/api2/json"));
            prop_assert!(!base.contains('@') && !base.contains('?') && !base.contains('#'));
        }
    }

    #[test]
    fn segments_stay_one_segment(s in ".{0,40}") {
        let e = seg(&s);
        prop_assert!(!e.contains('/') && !e.contains('?') && !e.contains('#') && !e.contains('.'));
        prop_assert!(e.is_ascii());
    }

    #[test]
    fn names_and_fingerprints(s in ".{0,80}") {
        let _ = (parse_fingerprint(&s), check_snapshot_name(&s), is_dns_name(&s));
    }
}
