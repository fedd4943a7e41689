//! csx-winrm: a WinRM client — the WinRS shell (Create, Command, Send, Receive,
//! Signal, Delete) over one NTLM-authenticated connection (sealed on plain HTTP)
//! or Basic over HTTPS, with a PowerShell runner.
//!
//! ```text
//! let mut c = Client::new(settings, deadline)?;
//! let out = c.run_ps("Get-VM | ConvertTo-Json").await?;   // one shell, always deleted
//! ```

pub mod clixml;
pub mod error;
pub mod http;
pub mod ntlm;
pub mod soap;

pub use error::{Error, ErrorKind, Result};
pub use http::{AuthMethod, Endpoint, Settings, Stats};

use base64::Engine;
use tokio::time::Instant;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// cmd.exe's command-line limit; longer scripts go over stdin.
pub const MAX_COMMAND_LINE: usize = 8191;
/// stdin is sent in chunks that fit WinRM's envelope size.
const SEND_CHUNK: usize = 96 * 1024;

/// What a remote command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: i32,
}

/// What a PowerShell script produced, as text (stderr's CLIXML decoded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PsOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

/// A WinRM session: one connection, many shells and commands.
pub struct Client {
    transport: http::Transport,
    deadline: Instant,
}

/// A message id: a random (v4) UUID in upper case, as Windows' own clients send them.
fn uuid() -> String {
    uuid::Uuid::new_v4().to_string().to_uppercase()
}

/// `powershell.exe -NoProfile -NonInteractive -EncodedCommand <base64 UTF-16LE>`.
pub fn encoded_command(script: &str) -> String {
    let utf16: Vec<u8> = script.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    format!("powershell.exe -NoProfile -NonInteractive -EncodedCommand {}", B64.encode(utf16))
}

/// The bootstrap for scripts too long for a command line: reads base64 UTF-8 from stdin and runs it.
pub const STDIN_BOOTSTRAP: &str = "$ErrorActionPreference='Stop'; $b64 = [Console]::In.ReadToEnd(); \
$s = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($b64.Trim())); \
& ([ScriptBlock]::Create($s))";

impl Client {
    pub fn new(settings: Settings, deadline: Instant) -> Result<Client> {
        Ok(Client { transport: http::Transport::new(settings, deadline)?, deadline })
    }

    pub fn stats(&self) -> Stats {
        self.transport.stats
    }

    /// Moves the deadline of what follows (the command keeps time to end itself).
    fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.transport.set_deadline(deadline);
    }

    /// Seconds for `OperationTimeout`: long polls, but never past the deadline.
    fn op_timeout(&self) -> u32 {
        let left = self.deadline.saturating_duration_since(Instant::now()).as_secs();
        left.saturating_sub(1).clamp(1, 20) as u32
    }

    async fn call(
        &mut self,
        action: &str,
        shell: Option<&str>,
        options: &[(&str, &str)],
        body: &str,
    ) -> Result<Vec<soap::Element>> {
        let to = self.transport.endpoint().url();
        let id = uuid();
        let header =
            soap::Header { to: &to, action, message_id: &id, shell_id: shell, options, timeout_s: self.op_timeout() };
        let xml = self.transport.send(&soap::envelope(&header, body)).await?;
        soap::elements(&xml).map_err(|e| Error::protocol(format!("WinRM answered with {e}")))
    }

    fn fault_error(f: &soap::Fault, what: &str) -> Error {
        let code = if f.wsman_code.is_empty() { String::new() } else { format!(" (WSManFault {})", f.wsman_code) };
        Error::new(
            ErrorKind::Fault(f.wsman_code.clone()),
            format!("WinRM {what} failed: {}{code}", if f.reason.is_empty() { &f.subcode } else { &f.reason }),
        )
    }

    async fn checked(
        &mut self,
        action: &str,
        shell: Option<&str>,
        options: &[(&str, &str)],
        body: &str,
        what: &str,
    ) -> Result<Vec<soap::Element>> {
        let els = self.call(action, shell, options, body).await?;
        match soap::fault(&els) {
            Some(f) => Err(Self::fault_error(&f, what)),
            None => Ok(els),
        }
    }

    /// Runs `command` in a new shell and returns its output. The shell is always
    /// deleted, also when the command fails midway.
    pub async fn run_command(&mut self, command: &str, args: &[String], stdin: Option<&[u8]>) -> Result<Output> {
        let options = [("WINRS_NOPROFILE", "TRUE"), ("WINRS_CODEPAGE", "65001")];
        let els = self.checked(soap::ACTION_CREATE, None, &options, &soap::body_create(), "creating a shell").await?;
        let shell =
            soap::shell_id(&els).ok_or_else(|| Error::protocol("WinRM created a shell but returned no ShellId"))?;
        let mut command_id = None;
        // The command stops a little before the deadline, keeping time to end it and
        // delete the shell (on a new connection if this one broke).
        let deadline = self.deadline;
        let reserve = (deadline.saturating_duration_since(Instant::now()) / 10)
            .clamp(std::time::Duration::from_millis(100), std::time::Duration::from_secs(2));
        self.set_deadline(deadline.checked_sub(reserve).unwrap_or(deadline));
        let sent_before = self.transport.stats.commands;
        let result = self.in_shell(&shell, command, args, stdin, &mut command_id).await.map_err(|e| {
            // Once the Command request has left, the host may be running it whatever the answer.
            if self.transport.stats.commands > sent_before {
                e.after_command()
            } else {
                e
            }
        });
        self.set_deadline(deadline);
        if result.is_err() {
            if let Some(cid) = &command_id {
                let _ = self.call(soap::ACTION_SIGNAL, Some(&shell), &[], &soap::body_signal(cid)).await;
            }
        }
        // Always delete the shell; a failure here must not hide the command's own error.
        match self.call(soap::ACTION_DELETE, Some(&shell), &[], "").await {
            Ok(els) if soap::fault(&els).is_none() => {}
            Ok(_) | Err(_) => {
                tracing::warn!("deleting WinRM shell {shell} failed; Windows removes it after its idle timeout")
            }
        }
        result
    }

    async fn in_shell(
        &mut self,
        shell: &str,
        command: &str,
        args: &[String],
        stdin: Option<&[u8]>,
        command_id: &mut Option<String>,
    ) -> Result<Output> {
        // Console mode only for a command that gets no input: input streamed to a console-mode
        // command is not what it reads (Ansible's WinRM plugin sets it the same way).
        let console = if stdin.is_some() { "FALSE" } else { "TRUE" };
        let options = [("WINRS_CONSOLEMODE_STDIN", console), ("WINRS_SKIP_CMD_SHELL", "FALSE")];
        // Counted when sent: a Command whose answer is lost may still run on the host.
        self.transport.stats.commands += 1;
        let els = self
            .checked(
                soap::ACTION_COMMAND,
                Some(shell),
                &options,
                &soap::body_command(command, args),
                "starting the command",
            )
            .await?;
        let cid = soap::command_id(&els)
            .ok_or_else(|| Error::protocol("WinRM started a command but returned no CommandId"))?;
        *command_id = Some(cid.clone());
        if let Some(input) = stdin {
            let chunks: Vec<&[u8]> = if input.is_empty() { vec![&[][..]] } else { input.chunks(SEND_CHUNK).collect() };
            let last = chunks.len() - 1;
            for (i, chunk) in chunks.into_iter().enumerate() {
                let body = soap::body_send(&cid, &B64.encode(chunk), i == last);
                self.checked(soap::ACTION_SEND, Some(shell), &[], &body, "sending input").await?;
            }
        }
        let mut out = Output::default();
        loop {
            let els = self.call(soap::ACTION_RECEIVE, Some(shell), &[], &soap::body_receive(&cid)).await?;
            if let Some(f) = soap::fault(&els) {
                if f.is_operation_timeout() {
                    if Instant::now() >= self.deadline {
                        return Err(Error::timeout("the remote command was still running at the deadline"));
                    }
                    continue;
                }
                return Err(Self::fault_error(&f, "receiving output"));
            }
            let r = soap::received(&els);
            for (stream, b64) in r.chunks {
                let bytes =
                    B64.decode(b64.as_bytes()).map_err(|_| Error::protocol("WinRM sent output that is not base64"))?;
                match stream.as_str() {
                    "stderr" => out.stderr.extend_from_slice(&bytes),
                    _ => out.stdout.extend_from_slice(&bytes),
                }
            }
            if r.done {
                out.exit_code = r.exit_code.unwrap_or(-1);
                return Ok(out);
            }
            // Windows holds a Receive open until output arrives: ask again at once.
            if Instant::now() >= self.deadline {
                return Err(Error::timeout("the remote command was still running at the deadline"));
            }
        }
    }

    /// Runs a PowerShell script: as `-EncodedCommand` when it fits cmd.exe's
    /// command line, else through a short bootstrap that reads it from stdin.
    pub async fn run_ps(&mut self, script: &str) -> Result<PsOutput> {
        let line = encoded_command(script);
        let out = if line.len() <= MAX_COMMAND_LINE {
            self.run_command(&line, &[], None).await?
        } else {
            let input = B64.encode(script.as_bytes());
            self.run_command(&encoded_command(STDIN_BOOTSTRAP), &[], Some(input.as_bytes())).await?
        };
        Ok(PsOutput {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: clixml::decode(&String::from_utf8_lossy(&out.stderr)),
            exit_code: out.exit_code,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_matches_pywinrm() {
        // pywinrm's documented example: (Get-VM -Name 'i-2-10-VM').State
        let c = encoded_command("(Get-VM -Name 'i-2-10-VM').State");
        assert!(c.ends_with("KABHAGUAdAAtAFYATQAgAC0ATgBhAG0AZQAgACcAaQAtADIALQAxADAALQBWAE0AJwApAC4AUwB0AGEAdABlAA=="));
        assert!(encoded_command(STDIN_BOOTSTRAP).len() < MAX_COMMAND_LINE);
        let u = uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
