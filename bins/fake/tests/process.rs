//! The `fake` binary, run as a process exactly as CloudStack runs it.

use csx_testkit::process::{run_binary, run_binary_path};
use csx_testkit::{fixtures_dir, Run};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_fake");
const SECRETS: &[&str] = &["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "Vnc-Secret-4711"];

fn manifest() -> Value {
    serde_json::from_slice(&std::fs::read(fixtures_dir().join("manifest.json")).unwrap()).unwrap()
}

fn steps(section: &str) -> Vec<Vec<String>> {
    manifest()[section]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .collect()
}

/// Runs with the default state file placed in `tmp` (the fixtures name no state file).
fn run_in(tmp: &Path, action: &str, payload: &Path) -> Run {
    let r = run_binary_path(Path::new(BIN), action, payload, 30, &[("TMPDIR", tmp.to_str().unwrap())]);
    for s in SECRETS {
        assert!(!r.stdout.contains(s), "secret leaked into stdout: {}", r.stdout);
    }
    r
}

#[test]
fn every_fixture_through_a_whole_lifecycle() {
    let tmp = tempfile::tempdir().unwrap();
    for step in steps("lifecycle") {
        let r = run_in(tmp.path(), &step[0], &fixtures_dir().join(&step[1]));
        r.assert_ok();
        match step[0].replace(' ', "").as_str() {
            "prepare" => assert_eq!(r.json["details"]["fake_id"], "1", "{}", r.stdout),
            "status" => {
                assert!(["poweron", "poweroff"].contains(&r.json["power_state"].as_str().unwrap()))
            }
            "statuses" => assert!(r.json["power_state"].is_object()),
            "getconsole" => {
                assert_eq!(r.json["console"]["protocol"], "direct");
                assert_eq!(
                    r.json["console"]["url"],
                    "https://console.example.com/view?vm=i-2-45-VM&id=126f4562-1f0f-4313-875e-6150cabeb72f"
                );
            }
            "ListSnapshots" => {
                assert_eq!(r.json["printmessage"], "true");
                assert_eq!(r.json["message"][0]["name"], "pre-upgrade");
                assert_eq!(r.json["message"][0]["description"], "before the kernel upgrade <4.19> & 'friends'");
            }
            _ => assert!(r.json["message"].as_str().is_some_and(|m| m.contains("i-2-45-VM")), "{}", r.stdout),
        }
    }
    // After the final delete the instance is gone: status says poweroff.
    let r = run_in(tmp.path(), "status", &fixtures_dir().join("payloads/status.json"));
    assert_eq!(r.json["power_state"], "poweroff");
}

#[test]
fn every_bad_input_is_one_json_error() {
    let tmp = tempfile::tempdir().unwrap();
    for step in steps("bad") {
        let r = run_in(tmp.path(), &step[0], &fixtures_dir().join(&step[1]));
        r.assert_err(&step[2]);
    }
    let r = run_in(tmp.path(), "status", Path::new("/nonexistent/payload.json"));
    r.assert_err("bad_input");
    assert!(r.error().contains("no such file"), "{}", r.error());
    let r = run_in(tmp.path(), "status", tmp.path());
    r.assert_err("bad_input");
    let big = tmp.path().join("big.json");
    let filler = "x".repeat(10 * 1024 * 1024);
    std::fs::write(&big, format!(r#"{{"virtualmachinename":"i-2-45-VM","filler":"{filler}"}}"#)).unwrap();
    let r = run_in(tmp.path(), "status", &big);
    r.assert_err("bad_input");
    assert!(r.error().contains("larger than"), "{}", r.error());
}

#[test]
fn argv_errors_are_json_and_help_lists_custom_actions() {
    let out = std::process::Command::new(BIN).output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("usage"), "{v}");
    let r = run_binary(Path::new(BIN), "status", &json!({"virtualmachinename": "x"}), 30, &[]);
    r.assert_ok();
    let out = std::process::Command::new(BIN).args(["status", "/dev/null", "soon"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("timeout"), "{v}");

    let out = std::process::Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in ["getconsole", "statuses", "CreateSnapshot", "snap_save_memory (BOOLEAN, optional)"] {
        assert!(help.contains(needle), "help lacks {needle}: {help}");
    }
    let out = std::process::Command::new(BIN).arg("--version").output().unwrap();
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("fake 0."));
}

fn payload(name: &str, state: &Path, extra: Value) -> Value {
    let mut host = json!({"state_file": state.to_str().unwrap()});
    host.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    json!({"virtualmachinename": name, "virtualmachineid": format!("uuid-{name}"),
           "externaldetails": {"host": host},
           "cloudstack.vm.details": {"name": name, "cpus": 1, "maxRam": 536870912u64, "details": {"deployvm": "true"}, "nics": []}})
}

#[test]
fn a_slow_action_answers_before_the_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let p = payload("i-2-1-VM", &tmp.path().join("s.json"), json!({"fake_delay_ms": "60000"}));
    let r = run_binary(Path::new(BIN), "start", &p, 2, &[]);
    r.assert_err("timeout");
    assert!(r.elapsed < Duration::from_secs(2), "took {:?}", r.elapsed);
    assert_eq!(r.code, 124);
}

#[test]
fn a_panic_is_one_json_error() {
    let tmp = tempfile::tempdir().unwrap();
    let p = payload("i-2-1-VM", &tmp.path().join("s.json"), json!({"fake_fail": "panic"}));
    let r = run_binary(Path::new(BIN), "status", &p, 30, &[]);
    r.assert_err("internal");
    assert!(r.error().contains("fake_fail=panic"), "{}", r.error());
}

#[test]
fn concurrent_creates_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let state: PathBuf = tmp.path().join("state.json");
    let threads: Vec<_> = (0..32)
        .map(|i| {
            let p = payload(&format!("i-2-{i}-VM"), &state, json!({}));
            std::thread::spawn(move || run_binary(Path::new(BIN), "create", &p, 60, &[]).code)
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 0);
    }
    let r = run_binary(Path::new(BIN), "statuses", &payload("x", &state, json!({})), 30, &[]);
    let map = r.json["power_state"].as_object().unwrap();
    assert_eq!(map.len(), 32, "{}", r.stdout);
    assert!(map.values().all(|v| v == "poweron"));
}

#[test]
fn logs_go_to_the_file_scrubbed() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("fake.log");
    for step in steps("lifecycle") {
        let r = run_binary_path(
            Path::new(BIN),
            &step[0],
            &fixtures_dir().join(&step[1]),
            30,
            &[("TMPDIR", tmp.path().to_str().unwrap()), ("CSX_LOG", log.to_str().unwrap()), ("CSX_LOG_LEVEL", "trace")],
        );
        r.assert_ok();
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.lines().count() >= 20, "{text}");
    assert!(
        text.contains("action=create") && text.contains("instance=i-2-45-VM") && text.contains("succeeded"),
        "{text}"
    );
    for s in SECRETS {
        assert!(!text.contains(s), "secret {s} leaked into the log");
    }
}

/// Issue #12 through the binary: statuses keys, another instance's instance, broadcast URIs.
#[test]
fn what_the_real_cloudstack_needs() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let p = |name: &str, uuid: &str| {
        json!({"externaldetails": {"extension": {"state_file": state.to_str().unwrap()}},
               "virtualmachineid": uuid, "virtualmachinename": name,
               "cloudstack.vm.details": {"name": name, "uuid": uuid, "details": {"deployvm": "true"},
                   "nics": [{"deviceId": 0, "mac": "02:00:00:00:00:01", "broadcastUri": "vlan://untagged"}]}})
    };
    let a = p("i-2-70-VM", "uuid-a");
    fake("create", &a).assert_ok();
    let b = p("i-2-70-VM", "uuid-b");
    assert_eq!(fake("status", &b).json["power_state"], "poweroff");
    fake("stop", &b).assert_ok();
    fake("start", &b).assert_err("conflict");
    let mut snap = b.clone();
    snap["parameters"] = json!({"snap_name": "x1"});
    fake("CreateSnapshot", &snap).assert_err("conflict");
    fake("delete", &b).assert_ok();
    assert_eq!(fake("status", &a).json["power_state"], "poweron", "A untouched");
    assert_eq!(fake("statuses", &a).json["power_state"], json!({"i-2-70-VM": "poweron"}));
    // Tables as the UI shows them: columns in a meaningful order, times readable.
    let mut snap_a = a.clone();
    snap_a["parameters"] = json!({"snap_name": "before-upgrade"});
    fake("CreateSnapshot", &snap_a).assert_ok();
    let r = fake("ListSnapshots", &a);
    assert_eq!(r.json["printmessage"], "true");
    let row = r.json["message"][0].as_object().unwrap();
    assert_eq!(row.keys().next().map(String::as_str), Some("name"), "name first: {row:?}");
    assert!(row["created"].as_str().unwrap().ends_with(" UTC"), "{row:?}");
    let mut vx = p("i-2-71-VM", "uuid-c");
    vx["cloudstack.vm.details"]["nics"][0]["broadcastUri"] = json!("vxlan://5000");
    let r = fake("create", &vx);
    r.assert_err("unsupported");
    assert!(r.error().contains("vxlan://5000"));
    assert_eq!(fake("status", &vx).json["power_state"], "poweroff", "nothing made");
}

fn fake(action: &str, p: &Value) -> Run {
    run_binary(Path::new(BIN), action, p, 30, &[])
}

/// `fake doctor`: a usable state file passes; one in a folder that does not exist fails.
#[test]
fn doctor_checks_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let p = json!({"externaldetails": {"extension": {"state_file": state.to_str().unwrap()}}, "virtualmachinename": "i-2-1-VM"});
    let (code, text) = csx_testkit::process::run_doctor(Path::new(BIN), &p, false, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("(from extension details)") && text.contains("0 in the state file"), "{text}");
    let bad = json!({"externaldetails": {"extension": {"state_file": "/nonexistent/dir/state.json"}}});
    let (code, text) = csx_testkit::process::run_doctor(Path::new(BIN), &bad, true, &[]);
    assert_eq!(code, 1, "{text}");
    let v: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["status"], "error");
    assert!(v["checks"].as_array().unwrap().iter().any(|c| c["check"] == "state_file" && c["result"] == "fail"), "{v}");
    let (code, text) = csx_testkit::process::run_doctor(Path::new(BIN), &json!({}), false, &[]);
    assert_eq!(code, 0, "no state_file: the default in the temporary folder: {text}");
}

/// Issue #15's actions on the fake, through the binary: Suspend/Resume, GetIpAddresses (the
/// addresses CloudStack assigned), Migrate (recorded).
#[test]
fn operator_actions() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let p = json!({"externaldetails": {"extension": {"state_file": state.to_str().unwrap()}},
        "virtualmachineid": "uuid-f", "virtualmachinename": "i-2-99-VM",
        "cloudstack.vm.details": {"name": "i-2-99-VM", "uuid": "uuid-f", "details": {"deployvm": "true"},
            "nics": [{"deviceId": 0, "mac": "02:00:00:00:00:09", "broadcastUri": "vlan://untagged",
                      "ip": "10.1.1.9", "netmask": "255.255.255.0", "ip6address": "fd00::9"}]}});
    fake("create", &p).assert_ok();
    fake("Suspend", &p).assert_ok();
    assert_eq!(fake("status", &p).json["power_state"], "poweron");
    fake("Resume", &p).assert_ok();
    let r = fake("GetIpAddresses", &p);
    let rows = r.assert_ok().json["message"].as_array().unwrap().clone();
    assert_eq!(rows.iter().map(|r| r["address"].as_str().unwrap()).collect::<Vec<_>>(), ["10.1.1.9/24", "fd00::9/64"]);
    let mut m = p.clone();
    m["parameters"] = json!({"target_node": "node-b"});
    assert!(fake("Migrate", &m).assert_ok().json["message"].as_str().unwrap().contains("node-b"));
    fake("Migrate", &p).assert_err("bad_input");
    let with = |params: Value| {
        let mut q = p.clone();
        q["parameters"] = params;
        q
    };
    fake("AddDisk", &with(json!({"size_gb": 5}))).assert_ok();
    fake("AddDisk", &with(json!({"size_gb": 5}))).assert_ok();
    let rows = fake("ListDisks", &p).assert_ok().json["message"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 2, "a retried AddDisk adds no second disk: {rows:?}");
    fake("ResizeDisk", &with(json!({"disk": "disk1", "size_gb": 3}))).assert_err("bad_input");
    fake("RemoveDisk", &with(json!({"disk": "disk0"}))).assert_err("bad_input");
    fake("RemoveDisk", &with(json!({"disk": "disk1"}))).assert_ok();
    fake("delete", &p).assert_ok();
}
