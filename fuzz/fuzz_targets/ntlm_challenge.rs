#![no_main]
//! NTLM CHALLENGE parsing and the AUTHENTICATE built from it; sealed-body unwrapping.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = csx_winrm::ntlm::authenticate(&csx_winrm::ntlm::negotiate(), data, "HV01\\user", "password", Some([7; 16]));
    let mut s = csx_winrm::ntlm::Sealing::client(&[7; 16]);
    let _ = csx_winrm::http::unseal(&mut s, data);
});
