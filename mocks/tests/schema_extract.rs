//! mocks/pve-schema.json is exactly what the extractor makes of Proxmox VE's apidoc: no
//! endpoint added by hand, none dropped when it is re-run (`--check` compares, writes nothing).

use std::path::Path;
use std::process::Command;

#[test]
fn the_mock_schema_is_what_the_extractor_makes_of_the_apidoc() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let apidoc = root.join("../../shared/research/pve-api-schema.json.gz");
    if !apidoc.exists() {
        // shared/ lies beside the checkout in CI and for developers; anywhere else there is
        // nothing to compare with — but CI must never skip this.
        assert!(std::env::var_os("CI").is_none(), "CI has no {}", apidoc.display());
        eprintln!("skipped: no {}", apidoc.display());
        return;
    }
    let out = Command::new("python3")
        .arg(root.join("tools/extract-pve-schema.py"))
        .arg(&apidoc)
        .arg("--check")
        .output()
        .expect("python3 runs the extractor");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("identical to the apidoc"), "{text}");
}
