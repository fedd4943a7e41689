//! Issue #18 through the `hyperv` binary: the instance's owner never chooses where the host's
//! password goes, how it is sent, or a network path the host would log on to; installations
//! never see each other's VMs.

use csx_mocks::hyperv::payload;
use serde_json::json;
use std::path::Path;

mod common;
use common::{run, start, BIN};

/// `External:url` + `External:transport=basic` + `External:verify_tls_certificate=false` used to
/// deliver the host password in a Basic header to the user's server. Refused by name, before
/// any connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_details_never_redirect_the_password() {
    let (mock, _host) = start().await;
    let (evil, _evil_host) = start().await;
    for (key, value) in [
        ("url", evil.url()),
        ("transport", "basic".to_string()),
        ("verify_tls_certificate", "false".to_string()),
        ("username", "someone".to_string()),
        ("vhd_path", "\\\\evil\\share".to_string()),
    ] {
        let mut p = payload(&mock.url(), "i-2-30-VM");
        p["cloudstack.vm.details"]["details"][format!("External:{key}")] = json!(value);
        for action in ["status", "create", "getconsole"] {
            let r = run(action, &p);
            r.assert_err("bad_input");
            assert!(r.error().starts_with(&format!("`{key}` may be set only on the host")), "{}", r.error());
        }
    }
    assert_eq!(evil.state().requests, 0, "the user's server saw nothing");
    assert_eq!(mock.state().requests, 0, "nothing ran");
}

/// A template or ISO path from the instance's details is a local path, never a share the host
/// would authenticate to, nor one that climbs out with `..`; the operator's own are used as given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_paths_are_local() {
    let (mock, host) = start().await;
    for (key, bad) in [
        ("template_path", "\\\\attacker\\share\\x.vhdx"),
        ("template_path", "C:\\VMs\\..\\..\\Users\\Administrator\\secret.vhdx"),
        ("iso_path", "//attacker/share/x.iso"),
    ] {
        let mut p = payload(&mock.url(), "i-2-31-VM");
        p["externaldetails"]["virtualmachine"][key] = json!(bad);
        if key == "iso_path" {
            p["externaldetails"]["virtualmachine"]["template_type"] = json!("iso");
            p["externaldetails"]["virtualmachine"]["vhd_size_gb"] = json!("10");
        }
        let r = run("create", &p);
        r.assert_err("bad_input");
        assert!(r.error().contains(&format!("`{key}` must be a local absolute path")), "{}", r.error());
    }
    assert!(host.host().vms.is_empty(), "nothing made");
    run("create", &payload(&mock.url(), "i-2-31-VM")).assert_ok();
    run("delete", &payload(&mock.url(), "i-2-31-VM")).assert_ok();
}

/// Two installations sharing a host, each with its `installation_id`: neither's `statuses`
/// reports the other's VM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installations_never_see_each_other() {
    let (mock, host) = start().await;
    let with = |id: &str| {
        let mut p = payload(&mock.url(), "i-2-32-VM");
        p["externaldetails"]["extension"]["installation_id"] = json!(id);
        p
    };
    run("create", &with("cs-prod")).assert_ok();
    assert!(host.host().vms[0].notes.contains("cloudstack-installation=cs-prod"));
    assert_eq!(run("statuses", &with("cs-prod")).json["power_state"]["i-2-32-VM"], "poweron");
    let r = run("statuses", &with("cs-staging"));
    assert!(r.json["power_state"].get("i-2-32-VM").is_none(), "B sees A's VM: {}", r.stdout);
    run("delete", &with("cs-prod")).assert_ok();
}

/// A `url` with `user:password@` is refused before any connection, and no output repeats the
/// password (not the error, not doctor's configuration list).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_with_a_password_is_refused_unechoed() {
    let (mock, _host) = start().await;
    let secret = "Tr0ub4dor-in-url";
    let with_password = mock.url().replacen("://", &format!("://Administrator:{secret}@"), 1);
    let mut p = payload(&mock.url(), "i-2-33-VM");
    p["externaldetails"]["host"]["url"] = json!(with_password);
    for action in ["status", "create"] {
        let r = run(action, &p);
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "{action} echoed it: {} {}",
            r.stdout,
            r.stderr
        );
        r.assert_err("bad_input");
        assert!(r.error().contains("carries credentials"), "{}", r.error());
    }
    for json in [false, true] {
        let (code, text) = csx_testkit::process::run_doctor(Path::new(BIN), &p, json, &[]);
        assert_ne!(code, 0, "{text}");
        assert!(text.contains("carries credentials") && !text.contains(secret), "{text}");
    }
    assert_eq!(mock.state().requests, 0, "nothing was sent");
}

/// An unmarked VM (the built-in's, or made by hand) is adopted only under the instance's internal
/// name: a Hyper-V VM is only ever looked up under that name, so an unmarked VM with another name
/// is neither adopted nor touched (`stop`/`delete` say there is no VM). `adopt_unmarked` is an
/// operator switch: among the instance's details it is refused by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmarked_vms_of_another_name_are_never_touched() {
    let (mock, host) = start().await;
    host.plant("web01", "Running", "");
    let p = payload(&mock.url(), "i-2-34-VM");
    for action in ["stop", "delete"] {
        let r = run(action, &p);
        let message = r.assert_ok().json["message"].as_str().unwrap_or("").to_string();
        assert!(message.starts_with("No VM for instance i-2-34-VM"), "{message}");
    }
    run("status", &p).assert_ok();
    {
        let h = host.host();
        assert_eq!((h.vms.len(), h.vms[0].name.as_str(), h.vms[0].state.as_str()), (1, "web01", "Running"));
    }
    let mut sneaky = p.clone();
    sneaky["cloudstack.vm.details"]["details"]["External:adopt_unmarked"] = json!("true");
    let r = run("stop", &sneaky);
    r.assert_err("bad_input");
    assert!(r.error().starts_with("`adopt_unmarked` may be set only on the host"), "{}", r.error());
    // The built-in's VM under the internal name is this instance's, with or without the switch.
    host.plant("i-2-35-VM", "Running", "");
    let mut builtin = payload(&mock.url(), "i-2-35-VM");
    run("stop", &builtin).assert_ok();
    builtin["externaldetails"]["extension"] = json!({"adopt_unmarked": "true"});
    run("start", &builtin).assert_ok();
    assert_eq!(host.host().vms[1].state, "Running");
    assert_eq!(host.host().vms[0].state, "Running", "web01 untouched");
}

/// Doctor's `TLS trust` shows the mode in words: checks turned off (operator's
/// `verify_tls_certificate=false`) are a warning naming it, a pin is a pass naming the
/// fingerprint — never a Debug dump such as `Fingerprint([37, 254, …])`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_says_the_tls_trust_in_words() {
    let (mock, _host) = start().await;
    mock.state().require_sealing = false;
    let front = csx_mocks::tls::TlsFront::start(mock.addr, None).await.unwrap();
    let mut off = payload(&mock.url(), "i-2-36-VM");
    off["externaldetails"]["host"]["url"] = json!(format!("{}/wsman", front.url));
    off["externaldetails"]["host"]["verify_tls_certificate"] = json!("false");
    let (code, warned) = csx_testkit::process::run_doctor(Path::new(BIN), &off, false, &[]);
    assert_eq!(code, 0, "a warning is not a failure: {warned}");
    assert!(warned.contains("WARN  TLS trust: no checks at all"), "{warned}");
    let mut pinned = off.clone();
    pinned["externaldetails"]["host"].as_object_mut().unwrap().remove("verify_tls_certificate");
    pinned["externaldetails"]["host"]["tls_fingerprint"] = json!(front.fingerprint);
    let (code, text) = csx_testkit::process::run_doctor(Path::new(BIN), &pinned, false, &[]);
    assert_eq!(code, 0, "{text}");
    let line =
        format!("ok    TLS trust: trusted: the pinned certificate with SHA-256 fingerprint {}", front.fingerprint);
    assert!(text.contains(&line), "{text}");
    for text in [&warned, &text] {
        assert!(!text.contains("Fingerprint(") && !text.contains("Insecure"), "{text}");
    }
}
