#![no_main]
//! WS-Management SOAP response parsing.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(els) = csx_winrm::soap::elements(s) {
            let _ = csx_winrm::soap::fault(&els);
            let _ = csx_winrm::soap::shell_id(&els);
            let _ = csx_winrm::soap::received(&els);
        }
    }
});
