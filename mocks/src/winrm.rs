//! A mock WinRM listener that speaks the real protocol: NTLM under `Negotiate`
//! (the NTLMv2 proof is checked against its password), message sealing on plain
//! HTTP, Basic, connection affinity (authentication belongs to the TCP connection),
//! and the WinRS shell. What a command *does* is pluggable ([`Executor`]).
//!
//! It is built on hyper rather than wiremock because NTLM state lives per
//! connection, which wiremock's responders cannot see.

use base64::Engine;
use bytes::Bytes;
use csx_winrm::ntlm::{self, Sealing};
use csx_winrm::soap::{self, Element, NS_SHELL};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::TcpListener;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The default credentials of the mock.
pub const USER: &str = "HV01\\Administrator";
pub const PASSWORD: &str = "Winrm-Passw0rd!";

/// What a command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exec {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: i32,
}

/// Runs a command line (with its stdin) on the simulated host.
pub trait Executor: Send + Sync {
    fn run(&self, command: &str, args: &[String], stdin: &[u8]) -> Exec;
}

/// The built-in executor: `echo`, `exit N`, and PowerShell scripts made of
/// `Write-Output '...'`, `Write-Error '...'` and `exit N` lines (also long scripts
/// streamed through csx-winrm's stdin bootstrap).
pub struct Basic;

/// The PowerShell script of a `powershell.exe ... -EncodedCommand <b64>` line,
/// following csx-winrm's stdin bootstrap when that is what it runs.
pub fn decode_powershell(command: &str, stdin: &[u8]) -> Option<String> {
    let b64 = command.split_whitespace().skip_while(|w| !w.eq_ignore_ascii_case("-EncodedCommand")).nth(1)?;
    let bytes = B64.decode(b64).ok()?;
    let units: Vec<u16> = bytes.chunks(2).map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect();
    let script = String::from_utf16(&units).ok()?;
    if script == csx_winrm::STDIN_BOOTSTRAP {
        let text = String::from_utf8_lossy(stdin);
        return String::from_utf8(B64.decode(text.trim()).ok()?).ok();
    }
    Some(script)
}

/// CLIXML as powershell.exe writes error records to stderr.
pub fn clixml_error(message: &str) -> Vec<u8> {
    let escaped = message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\n', "_x000A_");
    format!("#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><Obj S=\"progress\" RefId=\"0\"><TN RefId=\"0\"><T>System.Management.Automation.PSCustomObject</T></TN><MS><I64 N=\"SourceId\">1</I64><PR N=\"Record\"><AV>Preparing modules for first use.</AV></PR></MS></Obj><S S=\"Error\">{escaped}_x000D__x000A_</S></Objs>").into_bytes()
}

impl Executor for Basic {
    fn run(&self, command: &str, args: &[String], stdin: &[u8]) -> Exec {
        let full = std::iter::once(command.to_string()).chain(args.iter().cloned()).collect::<Vec<_>>().join(" ");
        if let Some(script) = decode_powershell(command, stdin) {
            let mut e = Exec::default();
            for line in script.lines().map(str::trim) {
                let arg = |p: &str| line[p.len()..].trim().trim_matches(['\'', '"']).to_string();
                if line.starts_with("Write-Output ") {
                    e.stdout.extend(format!("{}\r\n", arg("Write-Output ")).into_bytes());
                } else if line.starts_with("Write-Error ") {
                    e.stderr.extend(clixml_error(&arg("Write-Error ")));
                    e.exit_code = 1;
                } else if let Some(n) = line.strip_prefix("exit ") {
                    e.exit_code = n.trim().parse().unwrap_or(1);
                    break;
                }
            }
            return e;
        }
        if let Some(text) = full.strip_prefix("echo ") {
            return Exec { stdout: format!("{text}\r\n").into_bytes(), ..Default::default() };
        }
        if let Some(n) = full.strip_prefix("exit ") {
            return Exec { exit_code: n.trim().parse().unwrap_or(1), ..Default::default() };
        }
        Exec {
            stderr: format!(
                "'{}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n",
                full.split_whitespace().next().unwrap_or("")
            )
            .into_bytes(),
            exit_code: 1,
            ..Default::default()
        }
    }
}

/// A fault to answer one operation with.
#[derive(Debug, Clone)]
pub struct InjectedFault {
    /// Matches the end of the Action URI (`Receive`, `Command`, `Create`...).
    pub action: String,
    pub wsman_code: String,
    pub reason: String,
}

struct Command {
    line: String,
    args: Vec<String>,
    stdin: Vec<u8>,
    stdin_done: bool,
    /// `WINRS_CONSOLEMODE_STDIN=TRUE`: the command's stdin is a console, and what the client
    /// streams does not reach it as data (clients that send input turn it off).
    console_stdin: bool,
    output: Option<Exec>,
    /// Bytes of stdout and stderr already delivered.
    sent: (usize, usize),
}

/// Everything the mock knows, shared by all connections.
pub struct WinrmState {
    pub user: String,
    pub password: String,
    pub allow_basic: bool,
    /// Refuse unsealed messages on NTLM connections (Windows' `AllowUnencrypted=false`).
    /// Set to false when the mock sits behind TLS.
    pub require_sealing: bool,
    pub executor: Arc<dyn Executor>,
    /// Receives answered with the operation-timeout fault before any output.
    pub receive_timeouts: u32,
    /// Largest stream chunk, and most chunks per Receive response.
    pub chunk: usize,
    pub chunks_per_receive: usize,
    pub faults: Vec<InjectedFault>,
    /// Operations (end of the Action URI) carried out, then answered with malformed
    /// XML, once per entry: the client cannot tell what happened.
    pub malformed: Vec<String>,
    shells: BTreeMap<String, BTreeMap<String, Command>>,
    pub shells_created: u32,
    pub shells_deleted: u32,
    pub connections: u32,
    pub handshakes: u32,
    pub failed_logins: u32,
    /// The channel binding of the TLS front clients reach this listener through
    /// (`csx_winrm::ntlm::channel_bindings` of its certificate); `None` over plain HTTP.
    pub channel_binding: Option<[u8; 16]>,
    /// Windows' `CbtHardeningLevel`: Relaxed checks a binding the client sends, Strict requires one.
    pub cbt_hardening: ntlm::server::Cbt,
    /// Refuse NTLM without a MIC.
    pub require_mic: bool,
    pub requests: u32,
    /// Every command line run, in order.
    pub commands: Vec<String>,
    counter: u64,
}

impl WinrmState {
    pub fn new(executor: Arc<dyn Executor>) -> Self {
        WinrmState {
            user: USER.into(),
            password: PASSWORD.into(),
            allow_basic: true,
            require_sealing: true,
            executor,
            receive_timeouts: 0,
            chunk: 16 * 1024,
            chunks_per_receive: 8,
            faults: Vec::new(),
            malformed: Vec::new(),
            shells: BTreeMap::new(),
            shells_created: 0,
            shells_deleted: 0,
            connections: 0,
            handshakes: 0,
            failed_logins: 0,
            channel_binding: None,
            cbt_hardening: ntlm::server::Cbt::Relaxed,
            require_mic: true,
            requests: 0,
            commands: Vec::new(),
            counter: 0,
        }
    }

    /// Shells created and not deleted.
    pub fn open_shells(&self) -> usize {
        self.shells.len()
    }

    fn id(&mut self) -> String {
        self.counter += 1;
        format!("{:08X}-0000-4000-8000-{:012X}", self.counter, self.counter)
    }
}

/// Per-connection state: the NTLM handshake and, after it, the sealing keys.
#[derive(Default)]
struct Conn {
    challenge: Option<[u8; 8]>,
    /// The NEGOTIATE and CHALLENGE messages of the handshake under way (the MIC covers them).
    messages: (Vec<u8>, Vec<u8>),
    authenticated: bool,
    sealing: Option<Sealing>,
}

/// A running mock WinRM listener.
pub struct MockWinrm {
    pub addr: SocketAddr,
    state: Arc<Mutex<WinrmState>>,
}

impl MockWinrm {
    /// Starts on a random loopback port (or `listener`), serving plain HTTP.
    pub async fn start(
        executor: Arc<dyn Executor>,
        listener: Option<std::net::TcpListener>,
    ) -> std::io::Result<MockWinrm> {
        let listener = match listener {
            Some(l) => {
                l.set_nonblocking(true)?;
                TcpListener::from_std(l)?
            }
            None => TcpListener::bind("127.0.0.1:0").await?,
        };
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(WinrmState::new(executor)));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let shared = shared.clone();
                shared.lock().unwrap_or_else(|e| e.into_inner()).connections += 1;
                let conn = Arc::new(Mutex::new(Conn::default()));
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let (shared, conn) = (shared.clone(), conn.clone());
                        async move { Ok::<_, std::convert::Infallible>(handle(&shared, &conn, req).await) }
                    });
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
                });
            }
        });
        Ok(MockWinrm { addr, state })
    }

    /// `http://127.0.0.1:PORT/wsman`.
    pub fn url(&self) -> String {
        format!("http://{}/wsman", self.addr)
    }

    pub fn state(&self) -> MutexGuard<'_, WinrmState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn respond(status: u16, headers: &[(&str, String)], body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    b.body(Full::new(Bytes::from(body))).unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn unauthorized() -> Response<Full<Bytes>> {
    respond(
        401,
        &[("WWW-Authenticate", "Negotiate".into()), ("WWW-Authenticate", "Basic realm=\"WSMAN\"".into())],
        Vec::new(),
    )
}

async fn handle(
    shared: &Arc<Mutex<WinrmState>>,
    conn: &Arc<Mutex<Conn>>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    // Another connection's command may hold the state (a slow executor): wait for it
    // off the runtime's worker, so that clients sharing the runtime keep their timers.
    let lock = || shared.lock().unwrap_or_else(|e| e.into_inner());
    let mut st = match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(lock),
        _ => lock(),
    };
    // Introspection for benchmarks and the demo (not part of WinRM).
    if parts.uri.path() == "/_mock/stats" {
        let v = serde_json::json!({"requests": st.requests, "connections": st.connections, "handshakes": st.handshakes,
            "open_shells": st.open_shells(), "commands": st.commands.len()});
        // This connection is not a client's: do not count it.
        st.connections -= 1;
        return respond(200, &[("Content-Type", "application/json".into())], v.to_string().into_bytes());
    }
    let mut c = conn.lock().unwrap_or_else(|e| e.into_inner());
    st.requests += 1;
    let auth = parts.headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    let ctype = parts.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();

    match auth.as_deref().map(|a| a.split_once(' ').unwrap_or((a, ""))) {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("Negotiate") || scheme.eq_ignore_ascii_case("NTLM") => {
            let Ok(msg) = B64.decode(token.trim()) else { return unauthorized() };
            match msg.get(8) {
                Some(1) => {
                    let challenge: [u8; 8] = ntlm::random();
                    c.challenge = Some(challenge);
                    c.authenticated = false;
                    c.sealing = None;
                    st.handshakes += 1;
                    let challenge_msg = ntlm::server::challenge(challenge, "HV01");
                    let token = B64.encode(&challenge_msg);
                    c.messages = (msg.clone(), challenge_msg);
                    return respond(401, &[("WWW-Authenticate", format!("Negotiate {token}"))], Vec::new());
                }
                Some(3) => {
                    let Some(challenge) = c.challenge.take() else { return unauthorized() };
                    let check = ntlm::server::Check {
                        negotiate: &c.messages.0,
                        challenge: &c.messages.1,
                        server_challenge: challenge,
                        channel_binding: st.channel_binding,
                        cbt: st.cbt_hardening,
                        require_mic: st.require_mic,
                    };
                    let verdict = ntlm::server::verify(&msg, &check, &st.user, &st.password);
                    match verdict {
                        Ok((_, key)) => {
                            c.authenticated = true;
                            c.sealing = Some(Sealing::server(&key));
                            if body.is_empty() {
                                return respond(200, &[], Vec::new());
                            }
                        }
                        Err(_) => {
                            st.failed_logins += 1;
                            return unauthorized();
                        }
                    }
                }
                _ => return unauthorized(),
            }
        }
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("Basic") && st.allow_basic => {
            let decoded = B64.decode(token.trim()).ok().and_then(|b| String::from_utf8(b).ok()).unwrap_or_default();
            if decoded != format!("{}:{}", st.user, st.password) {
                st.failed_logins += 1;
                return unauthorized();
            }
        }
        Some(_) => return unauthorized(),
        None if !c.authenticated => return unauthorized(),
        None => {}
    }

    // The message: sealed on NTLM connections unless the mock sits behind TLS.
    let sealed = ctype.starts_with("multipart/encrypted");
    let xml = match (sealed, c.sealing.as_mut()) {
        (true, Some(s)) => match csx_winrm::http::unseal(s, &body) {
            Ok(x) => x,
            Err(_) => return respond(400, &[], Vec::new()),
        },
        (true, None) => return respond(400, &[], Vec::new()),
        (false, Some(_)) if st.require_sealing => return respond(500, &[], Vec::new()),
        (false, _) => body.to_vec(),
    };
    let xml = String::from_utf8_lossy(&xml).into_owned();
    // A command may take its time (the executor is synchronous): let the runtime
    // move other tasks off this thread meanwhile.
    let (status, answer) = match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(|| operate(&mut st, &xml)),
        _ => operate(&mut st, &xml),
    };
    match (c.sealing.as_mut(), st.require_sealing) {
        (Some(s), true) => {
            let framed = csx_winrm::http::seal(s, answer.as_bytes());
            respond(status, &[("Content-Type", csx_winrm::http::ENCRYPTED_CONTENT_TYPE.into())], framed)
        }
        _ => respond(status, &[("Content-Type", csx_winrm::http::SOAP_CONTENT_TYPE.into())], answer.into_bytes()),
    }
}

fn response(action: &str, relates_to: &str, body: &str) -> String {
    format!(
        r#"<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Header><a:Action>{action}</a:Action><a:MessageID>uuid:{}</a:MessageID><a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To><a:RelatesTo>{}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"#,
        relates_to.len(),
        soap::esc(relates_to)
    )
}

fn fault(relates_to: &str, subcode: &str, code: &str, reason: &str) -> (u16, String) {
    let body = format!(
        r#"<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>{subcode}</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{}</s:Text></s:Reason><s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="{code}" Machine="hv01"><f:Message>{}</f:Message></f:WSManFault></s:Detail></s:Fault>"#,
        soap::esc(reason),
        soap::esc(reason)
    );
    (500, response("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, &body))
}

fn find<'a>(els: &'a [Element], name: &str) -> Option<&'a Element> {
    els.iter().find(|e| e.ns == NS_SHELL && e.name == name)
}

fn operate(st: &mut WinrmState, xml: &str) -> (u16, String) {
    let action = soap::elements(xml).ok().and_then(|els| soap::action(&els)).unwrap_or_default();
    let garble = st.malformed.iter().position(|a| action.ends_with(a.as_str()));
    let (status, answer) = carry_out(st, xml);
    match garble {
        Some(i) => {
            st.malformed.remove(i);
            // The answer cut in the middle of an element, and a stray `<`.
            let mut half = answer.len() / 2;
            while !answer.is_char_boundary(half) {
                half -= 1;
            }
            (status, format!("{}<", &answer[..half]))
        }
        None => (status, answer),
    }
}

fn carry_out(st: &mut WinrmState, xml: &str) -> (u16, String) {
    let Ok(els) = soap::elements(xml) else {
        return fault(
            "",
            "w:SchemaValidationError",
            "2150858817",
            "The SOAP XML in the message does not match the corresponding XML schema definition.",
        );
    };
    let action = soap::action(&els).unwrap_or_default();
    let msg_id = els
        .iter()
        .find(|e| e.ns == soap::NS_ADDRESSING && e.name == "MessageID")
        .map(|e| e.text.clone())
        .unwrap_or_default();
    let shell = els
        .iter()
        .find(|e| soap::is_wsman_ns(&e.ns) && e.name == "Selector" && e.attr("Name") == Some("ShellId"))
        .map(|e| e.text.trim().to_string());
    if let Some(i) = st.faults.iter().position(|f| action.ends_with(&f.action)) {
        let f = st.faults.remove(i);
        return fault(&msg_id, "w:InternalError", &f.wsman_code, &f.reason);
    }
    let missing_shell = |id: &str| {
        fault(&msg_id, "w:InvalidSelectors", "2150858843", &format!("The request for the Windows Remote Shell with ShellId {id} failed because the shell was not found on the server."))
    };
    match action.as_str() {
        soap::ACTION_CREATE => {
            let id = st.id();
            st.shells.insert(id.clone(), BTreeMap::new());
            st.shells_created += 1;
            let body = format!(
                r#"<x:ResourceCreated><a:Address>http://hv01:5985/wsman</a:Address><a:ReferenceParameters><w:ResourceURI>{}</w:ResourceURI><w:SelectorSet><w:Selector Name="ShellId">{id}</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated><rsp:Shell><rsp:ShellId>{id}</rsp:ShellId><rsp:Owner>HV01\Administrator</rsp:Owner><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>"#,
                soap::RESOURCE_CMD
            );
            (200, response("http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse", &msg_id, &body))
        }
        soap::ACTION_DELETE => {
            let id = shell.unwrap_or_default();
            if st.shells.remove(&id).is_none() {
                return missing_shell(&id);
            }
            st.shells_deleted += 1;
            (200, response("http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse", &msg_id, ""))
        }
        soap::ACTION_COMMAND => {
            let id = shell.unwrap_or_default();
            let line = find(&els, "Command").map(|e| e.text.clone()).unwrap_or_default();
            let args: Vec<String> =
                els.iter().filter(|e| e.ns == NS_SHELL && e.name == "Arguments").map(|e| e.text.clone()).collect();
            let console_stdin = !els.iter().any(|e| {
                soap::is_wsman_ns(&e.ns)
                    && e.name == "Option"
                    && e.attr("Name") == Some("WINRS_CONSOLEMODE_STDIN")
                    && e.text.trim().eq_ignore_ascii_case("FALSE")
            });
            let cid = st.id();
            let Some(cmds) = st.shells.get_mut(&id) else { return missing_shell(&id) };
            cmds.insert(
                cid.clone(),
                Command {
                    line: line.clone(),
                    args,
                    stdin: Vec::new(),
                    stdin_done: false,
                    console_stdin,
                    output: None,
                    sent: (0, 0),
                },
            );
            st.commands.push(line);
            let body = format!("<rsp:CommandResponse><rsp:CommandId>{cid}</rsp:CommandId></rsp:CommandResponse>");
            (200, response("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse", &msg_id, &body))
        }
        soap::ACTION_SEND => {
            let id = shell.unwrap_or_default();
            let Some(stream) = find(&els, "Stream") else {
                return fault(&msg_id, "w:InvalidParameter", "2150858882", "no stream");
            };
            let cid = stream.attr("CommandId").unwrap_or("").to_string();
            let end = stream.attr("End") == Some("true");
            let data = B64.decode(stream.text.trim()).unwrap_or_default();
            let Some(cmd) = st.shells.get_mut(&id).and_then(|c| c.get_mut(&cid)) else { return missing_shell(&id) };
            cmd.stdin.extend(data);
            cmd.stdin_done |= end;
            (
                200,
                response(
                    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SendResponse",
                    &msg_id,
                    "<rsp:SendResponse/>",
                ),
            )
        }
        soap::ACTION_SIGNAL => {
            let id = shell.unwrap_or_default();
            if !st.shells.contains_key(&id) {
                return missing_shell(&id);
            }
            (
                200,
                response(
                    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse",
                    &msg_id,
                    "<rsp:SignalResponse/>",
                ),
            )
        }
        soap::ACTION_RECEIVE => {
            let id = shell.unwrap_or_default();
            let cid = find(&els, "DesiredStream").and_then(|e| e.attr("CommandId")).unwrap_or("").to_string();
            if st.receive_timeouts > 0 {
                st.receive_timeouts -= 1;
                return fault(&msg_id, "w:TimedOut", soap::CODE_OPERATION_TIMEOUT, "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  ");
            }
            let (chunk, per) = (st.chunk.max(1), st.chunks_per_receive.max(1));
            let executor = st.executor.clone();
            let Some(cmd) = st.shells.get_mut(&id).and_then(|c| c.get_mut(&cid)) else { return missing_shell(&id) };
            if cmd.output.is_none() {
                let stdin: &[u8] = if cmd.console_stdin { &[] } else { &cmd.stdin };
                cmd.output = Some(executor.run(&cmd.line, &cmd.args, stdin));
            }
            let out = cmd.output.clone().unwrap_or_default();
            let mut body = String::from("<rsp:ReceiveResponse>");
            let mut chunks = 0;
            for (name, data, sent) in
                [("stdout", &out.stdout, &mut cmd.sent.0), ("stderr", &out.stderr, &mut cmd.sent.1)]
            {
                while *sent < data.len() && chunks < per {
                    let end = (*sent + chunk).min(data.len());
                    body.push_str(&format!(
                        r#"<rsp:Stream Name="{name}" CommandId="{cid}">{}</rsp:Stream>"#,
                        B64.encode(&data[*sent..end])
                    ));
                    *sent = end;
                    chunks += 1;
                }
            }
            let done = cmd.sent.0 >= out.stdout.len() && cmd.sent.1 >= out.stderr.len();
            if done {
                body.push_str(&format!(r#"<rsp:Stream Name="stdout" CommandId="{cid}" End="true"/><rsp:Stream Name="stderr" CommandId="{cid}" End="true"/>"#));
                body.push_str(&format!(r#"<rsp:CommandState CommandId="{cid}" State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"><rsp:ExitCode>{}</rsp:ExitCode></rsp:CommandState>"#, out.exit_code));
            } else {
                body.push_str(&format!(r#"<rsp:CommandState CommandId="{cid}" State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"/>"#));
            }
            body.push_str("</rsp:ReceiveResponse>");
            (200, response("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse", &msg_id, &body))
        }
        other => fault(
            &msg_id,
            "a:ActionNotSupported",
            "2150858752",
            &format!("The action {other} is not supported by the service."),
        ),
    }
}
