//! Issue #18 through the `fake` binary: instance details never choose what only operators
//! may (where logs and state go), absurd arguments are bad input, and the state file is only
//! ever a regular file.

use csx_testkit::process::{run_binary, run_doctor};
use serde_json::{json, Value};
use std::path::Path;

const BIN: &str = env!("CARGO_BIN_EXE_fake");

fn payload(state: &Path) -> Value {
    json!({"virtualmachinename": "i-2-80-VM", "virtualmachineid": "uuid-80",
           "externaldetails": {"host": {"state_file": state.to_str().unwrap()}},
           "cloudstack.vm.details": {"name": "i-2-80-VM", "uuid": "uuid-80", "details": {"deployvm": "true"}, "nics": []}})
}

/// What an ordinary user can do: `updateVirtualMachine details[0].External:log_file=…` or a
/// custom action's `externaldetails[0].state_file=…`. Refused by name, before anything runs,
/// and nothing is written where the user pointed.
#[test]
fn operator_keys_among_instance_details_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let planted = dir.path().join("planted");
    for (where_, key) in [("External:", "log_file"), ("External:", "state_file"), ("", "log_file"), ("", "console_url")]
    {
        let mut p = payload(&state);
        let value = json!(planted.to_str().unwrap());
        if where_.is_empty() {
            p["externaldetails"]["virtualmachine"][key] = value;
        } else {
            p["cloudstack.vm.details"]["details"][format!("External:{key}")] = value;
        }
        for action in ["create", "status", "CreateSnapshot"] {
            let r = run_binary(Path::new(BIN), action, &p, 30, &[("CSX_LOG", "")]);
            r.assert_err("bad_input");
            assert_eq!(r.code, 2);
            assert!(
                r.error().starts_with(&format!("`{key}` may be set only on the host, the cluster or the extension")),
                "{action}: {}",
                r.error()
            );
            assert!(r.error().contains(&format!("{where_}{key}")), "names where it was found: {}", r.error());
        }
        assert!(!planted.exists(), "{key}: nothing written where the instance's details point");
        assert!(!state.exists(), "{key}: nothing ran");
    }
    // The same key as the operator sets it works.
    let mut p = payload(&state);
    p["externaldetails"]["extension"]["log_file"] = json!(dir.path().join("fake.log").to_str().unwrap());
    run_binary(Path::new(BIN), "create", &p, 30, &[("CSX_LOG", "")]).assert_ok();
    assert!(dir.path().join("fake.log").exists());
}

#[test]
fn doctor_refuses_instance_level_operator_keys_and_help_shows_levels() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = payload(&dir.path().join("state.json"));
    p["cloudstack.vm.details"]["details"]["External:state_file"] = json!("/tmp/elsewhere.json");
    let (code, text) = run_doctor(Path::new(BIN), &p, false, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("state_file level") && text.contains("`External:state_file`"), "{text}");
    assert!(text.contains("not tried: an operator key is set among the instance's details"), "{text}");

    let out = std::process::Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let operator = help.find("Operator keys").expect("operator keys listed");
    for key in ["state_file", "console_url", "log_file", "installation_id", "adopt_unmarked"] {
        let at = help.find(&format!("  {key} ")).unwrap_or_else(|| panic!("--help lacks {key}: {help}"));
        assert!(at > operator, "{key} is listed among the operator keys");
    }
}

/// Missing arguments are named.
#[test]
fn missing_arguments_are_named() {
    for (args, missing) in [(&["status"][..], "<payload>"), (&[][..], "<action>")] {
        let out = std::process::Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let e = v["error"].as_str().unwrap();
        assert!(e.contains(missing) && e.contains("usage: fake <action>"), "{args:?}: {e}");
    }
}

/// Timeouts that would overflow the clock, and other absurd arguments: one bad-input error.
#[test]
fn absurd_timeouts_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.json");
    std::fs::write(&file, payload(&dir.path().join("s.json")).to_string()).unwrap();
    for t in ["9223372036854775808", "18446744073709551615", "1e300", "-5", "0"] {
        let out = std::process::Command::new(BIN).args(["status", file.to_str().unwrap(), t]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{t}: {}", String::from_utf8_lossy(&out.stdout));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["error_kind"], "bad_input", "{t}: {v}");
        assert!(v["error"].as_str().unwrap().len() < 160, "{v}");
    }
}

/// A state file that is a link (to a file `cloud` may not overwrite) or a directory is
/// refused; the target is never replaced.
#[test]
fn the_state_file_is_only_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let precious = dir.path().join("precious");
    std::fs::write(&precious, "keep me").unwrap();
    let link = dir.path().join("state.json");
    std::os::unix::fs::symlink(&precious, &link).unwrap();
    let r = run_binary(Path::new(BIN), "create", &payload(&link), 30, &[]);
    r.assert_err("bad_input");
    assert!(r.error().contains("symbolic link"), "{}", r.error());
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    let r = run_binary(Path::new(BIN), "status", &payload(dir.path()), 30, &[]);
    r.assert_err("bad_input");
    assert!(r.error().contains("a directory"), "{}", r.error());
}
