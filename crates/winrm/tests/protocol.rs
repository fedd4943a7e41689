//! The WinRM client against the mock listener: real NTLM, sealing, TLS, faults.

use csx_mocks::winrm::{Basic, Exec, Executor, InjectedFault, MockWinrm, PASSWORD, USER};
use csx_tls::CertificateFailure;
use csx_tls::Trust;
use csx_winrm::ErrorKind;
use csx_winrm::{AuthMethod, Client, Endpoint, Settings};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

fn settings(url: &str, auth: AuthMethod, trust: Trust) -> Settings {
    Settings { endpoint: Endpoint::parse(url).unwrap(), user: USER.into(), password: PASSWORD.into(), auth, trust }
}

fn client(s: Settings) -> Client {
    Client::new(s, Instant::now() + Duration::from_secs(20)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_with_sealing_one_handshake_for_many_scripts() {
    let mock = MockWinrm::start(Arc::new(Basic), None).await.unwrap();
    let mut c = client(settings(&mock.url(), AuthMethod::Ntlm, Trust::System));
    let out = c.run_ps("Write-Output 'hello'").await.unwrap();
    assert_eq!(out.stdout, "hello\r\n");
    assert_eq!(out.exit_code, 0);
    let first = c.stats();
    assert_eq!((first.connections, first.handshakes), (1, 1));
    assert!(first.requests <= 7, "{first:?}");
    let out = c.run_ps("Write-Output 'again'\nexit 3").await.unwrap();
    assert_eq!((out.stdout.as_str(), out.exit_code), ("again\r\n", 3));
    let second = c.stats();
    assert_eq!((second.connections, second.handshakes), (1, 1), "a second script reuses the authenticated connection");
    assert_eq!(second.requests - first.requests, 4, "Create, Command, Receive, Delete");
    let st = mock.state();
    assert_eq!((st.connections, st.handshakes, st.open_shells()), (1, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_ntlm_and_basic_with_pinned_certificates() {
    let mock = MockWinrm::start(Arc::new(Basic), None).await.unwrap();
    mock.state().require_sealing = false;
    let front = csx_mocks::tls::TlsFront::start(mock.addr, None).await.unwrap();
    let url = format!("{}/wsman", front.url);
    let pinned = Trust::Fingerprint(csx_tls::parse_fingerprint(&front.fingerprint).unwrap());
    let mut c = client(settings(&url, AuthMethod::Ntlm, pinned.clone()));
    assert_eq!(c.run_ps("Write-Output 'tls'").await.unwrap().stdout, "tls\r\n");
    assert!(c.stats().requests <= 7);
    let mut c = client(settings(&url, AuthMethod::Basic, Trust::CaFile(front.ca_file.clone())));
    assert_eq!(c.run_ps("Write-Output 'basic'").await.unwrap().stdout, "basic\r\n");
    let mut c = client(settings(&url, AuthMethod::Ntlm, Trust::System));
    let e = c.run_ps("Write-Output 'x'").await.unwrap_err();
    assert!(e.message().contains("certificate"), "{}", e.message());
    assert!(matches!(e.kind(), ErrorKind::Certificate(CertificateFailure::Untrusted(_))), "{e:?}");
    let wrong = Trust::Fingerprint([0; 32]);
    let e = client(settings(&url, AuthMethod::Ntlm, wrong)).run_ps("Write-Output 'x'").await.unwrap_err();
    assert!(e.message().contains("fingerprint mismatch"), "{}", e.message());
    assert!(matches!(e.kind(), ErrorKind::Certificate(CertificateFailure::Mismatch(_))), "{e:?}");
    let e = Client::new(settings(&mock.url(), AuthMethod::Basic, Trust::System), Instant::now()).err().unwrap();
    assert_eq!(e.kind(), &ErrorKind::Config, "Basic over plain HTTP is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_one_clear_error_without_retries() {
    let mock = MockWinrm::start(Arc::new(Basic), None).await.unwrap();
    let mut s = settings(&mock.url(), AuthMethod::Ntlm, Trust::System);
    s.password = "not-the-password".into();
    let e = client(s).run_ps("Write-Output 'x'").await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Auth);
    assert!(e.message().contains(USER) && !e.message().contains("not-the-password"), "{}", e.message());
    let st = mock.state();
    assert_eq!((st.failed_logins, st.handshakes, st.shells_created), (1, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_mid_command_still_deletes_the_shell() {
    let mock = MockWinrm::start(Arc::new(Basic), None).await.unwrap();
    mock.state().faults.push(InjectedFault {
        action: "Receive".into(),
        wsman_code: "2147943418".into(),
        reason: "The service is stopping.".into(),
    });
    let mut c = client(settings(&mock.url(), AuthMethod::Ntlm, Trust::System));
    let e = c.run_ps("Write-Output 'x'").await.unwrap_err();
    assert!(e.message().contains("The service is stopping.") && e.message().contains("2147943418"), "{}", e.message());
    let st = mock.state();
    assert_eq!((st.shells_created, st.shells_deleted, st.open_shells()), (1, 1, 0));
}

struct Big(usize);
impl Executor for Big {
    fn run(&self, _: &str, _: &[String], _: &[u8]) -> Exec {
        let stdout: Vec<u8> = (0..self.0).map(|i| b'a' + (i % 26) as u8).collect();
        Exec { stdout, stderr: Vec::new(), exit_code: 0 }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_scripts_unicode_megabytes_and_operation_timeouts() {
    let mock = MockWinrm::start(Arc::new(Basic), None).await.unwrap();
    mock.state().receive_timeouts = 2;
    let mut c = client(settings(&mock.url(), AuthMethod::Ntlm, Trust::System));
    // Longer than cmd.exe's 8,191-character command line: sent over stdin.
    let long = format!("# {}\nWrite-Output 'long one'", "x".repeat(20_000));
    assert_eq!(c.run_ps(&long).await.unwrap().stdout, "long one\r\n");
    assert!(mock.state().commands.last().unwrap().len() < 8191);
    let out = c.run_ps("Write-Output 'Grüße aus Zürich 😀'").await.unwrap();
    assert_eq!(out.stdout, "Grüße aus Zürich 😀\r\n");
    let out = c.run_ps("Write-Error 'the disk is full'").await.unwrap();
    assert_eq!((out.stderr.as_str(), out.exit_code), ("the disk is full", 1));

    let big = MockWinrm::start(Arc::new(Big(5 * 1024 * 1024)), None).await.unwrap();
    let mut c = client(settings(&big.url(), AuthMethod::Ntlm, Trust::System));
    let out = c.run_command("type big.bin", &[], None).await.unwrap();
    assert_eq!(out.stdout.len(), 5 * 1024 * 1024);
    assert!(out.stdout.iter().enumerate().all(|(i, b)| *b == b'a' + (i % 26) as u8));
}

struct Slow;
impl Executor for Slow {
    fn run(&self, _: &str, _: &[String], _: &[u8]) -> Exec {
        std::thread::sleep(Duration::from_millis(1500));
        Exec::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_and_unreachable_host() {
    // The slow host runs on its own runtime, as a real host would: it must not be able
    // to hold up the client's timers by blocking the runtime they share.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            tx.send(MockWinrm::start(Arc::new(Slow), None).await.unwrap()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    let mock = rx.recv().unwrap();
    let started = Instant::now();
    let mut c = Client::new(
        settings(&mock.url(), AuthMethod::Ntlm, Trust::System),
        Instant::now() + Duration::from_millis(500),
    )
    .unwrap();
    let e = c.run_command("slow", &[], None).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Timeout, "{}", e.message());
    // Well before the 1.5 s the command holds the host: the deadline, not the host, ended it.
    assert!(started.elapsed() < Duration::from_millis(1400), "{:?} {}", started.elapsed(), e.message());
    let e =
        client(settings("http://127.0.0.1:9/wsman", AuthMethod::Ntlm, Trust::System)).run_ps("x").await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unreachable);
    assert!(e.message().contains("cannot reach WinRM"), "{}", e.message());
}
