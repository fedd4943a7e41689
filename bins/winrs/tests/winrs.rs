//! `winrs` as a process against the mock WinRM listener, over sealed HTTP and over HTTPS.

use csx_mocks::winrm::{Basic, MockWinrm, PASSWORD, USER};
use std::process::Command;
use std::sync::Arc;

const BIN: &str = env!("CARGO_BIN_EXE_winrs");

fn winrs(args: &[&str], password: &str) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).env("WINRM_PASSWORD", password).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_output_and_exit_codes() {
    let mock = MockWinrm::start(Arc::new(Basic), None).await.unwrap();
    let url = mock.url();
    let (code, out, err) = winrs(&["--endpoint", &url, "--user", USER, "--", "echo", "hello", "world"], PASSWORD);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "hello world\r\n", ""));
    let (code, _, _) = winrs(&["--endpoint", &url, "--user", USER, "--", "exit", "7"], PASSWORD);
    assert_eq!(code, 7);
    let (code, out, err) = winrs(
        &[
            "--endpoint",
            &url,
            "--user",
            USER,
            "--powershell",
            "--",
            "Write-Output 'ps ok'\nWrite-Error 'and a warning'",
        ],
        PASSWORD,
    );
    assert_eq!((code, out.as_str(), err.as_str()), (1, "ps ok\r\n", "and a warning\n"));
    let (code, _, err) = winrs(&["--endpoint", &url, "--user", USER, "--", "echo", "x"], "wrong");
    assert_eq!(code, 255);
    // After a complete handshake, a 401 names every cause, not just the password.
    assert!(err.contains("complete authentication exchange") && err.contains("channel binding"), "{err}");
    assert!(!err.contains("wrong"), "the password never appears: {err}");
    let out = Command::new(BIN)
        .args(["--endpoint", &url, "--user", USER, "--", "echo"])
        .env_remove("WINRM_PASSWORD")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("WINRM_PASSWORD"));
    assert_eq!(mock.state().open_shells(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https() {
    let mock = MockWinrm::start(Arc::new(Basic), None).await.unwrap();
    mock.state().require_sealing = false;
    let front = csx_mocks::tls::TlsFront::start(mock.addr, None).await.unwrap();
    let url = format!("{}/wsman", front.url);
    for extra in [
        vec!["--fingerprint", front.fingerprint.as_str()],
        vec!["--ca-file", front.ca_file.to_str().unwrap()],
        vec!["--insecure"],
        vec!["--insecure", "--transport", "basic"],
    ] {
        let mut args = vec!["--endpoint", url.as_str(), "--user", USER];
        args.extend(extra.iter());
        args.extend(["--", "echo", "tls"]);
        let (code, out, err) = winrs(&args, PASSWORD);
        assert_eq!((code, out.as_str()), (0, "tls\r\n"), "{extra:?}: {err}");
    }
    let (code, _, err) = winrs(&["--endpoint", &url, "--user", USER, "--", "echo", "x"], PASSWORD);
    assert_eq!(code, 255);
    assert!(err.contains("certificate"), "{err}");
}

/// A host with `CbtHardeningLevel=Strict` (Extended Protection): NTLM over HTTPS must carry the
/// channel binding of the certificate and a MIC; a binding for another certificate (a TLS proxy
/// in between) is refused, and the error says that a channel binding can be the cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_extended_protection() {
    let mock = MockWinrm::start(Arc::new(Basic), None).await.unwrap();
    let front = csx_mocks::tls::TlsFront::start(mock.addr, None).await.unwrap();
    {
        let mut st = mock.state();
        st.require_sealing = false;
        st.cbt_hardening = csx_winrm::ntlm::server::Cbt::Strict;
        st.require_mic = true;
        st.channel_binding = Some(csx_winrm::ntlm::channel_bindings(&front.cert_der));
    }
    let url = format!("{}/wsman", front.url);
    let args = [
        "--endpoint",
        url.as_str(),
        "--user",
        USER,
        "--fingerprint",
        front.fingerprint.as_str(),
        "--",
        "echo",
        "bound",
    ];
    let (code, out, err) = winrs(&args, PASSWORD);
    assert_eq!((code, out.as_str()), (0, "bound\r\n"), "{err}");
    assert_eq!(mock.state().failed_logins, 0);
    // The host sees another certificate than the client (a TLS-terminating proxy): refused.
    mock.state().channel_binding = Some(csx_winrm::ntlm::channel_bindings(b"the host's own certificate"));
    let (code, _, err) = winrs(&args, PASSWORD);
    assert_eq!(code, 255);
    assert!(err.contains("channel binding") && err.contains("CbtHardeningLevel"), "{err}");
    assert_eq!(mock.state().failed_logins, 1);
}
