#![no_main]
//! Proxmox error bodies (JSON `message`/`errors`, plain text, nothing) and URL details.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(data).ok();
    let _ = csx_proxmox::error_text(parsed.as_ref(), data, "Internal Server Error");
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = csx_proxmox::api_base(s);
        let _ = csx_proxmox::parse_fingerprint(s);
    }
});
