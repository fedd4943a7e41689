#![no_main]
//! Payload parsing and every helper on what it accepts.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(p) = csx_core::Payload::from_slice(data) {
        let _ = (p.instance_name(), p.cpus(), p.ram_mib(), p.detail("url"), p.is_deploy());
        for n in p.nics() {
            let _ = n.vlan();
        }
    }
});
