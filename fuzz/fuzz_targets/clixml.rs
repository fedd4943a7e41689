#![no_main]
//! CLIXML stderr decoding.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = csx_winrm::clixml::decode(&String::from_utf8_lossy(data));
});
