//! The WinRM client's errors: what failed, whether the connection broke under a request,
//! and whether a command was sent (the host may have run it even without an answer).
//! Callers decide retries and undo on these facts, never on wording.

use std::fmt;

/// What failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The settings are wrong (an endpoint that is no URL, Basic over plain HTTP).
    Config,
    /// The listener could not be reached, or the connection broke.
    Unreachable,
    /// The server's certificate is not trusted, or not the pinned one.
    Certificate(csx_tls::CertificateFailure),
    /// The listener refused the credentials after a complete exchange (HTTP 401).
    Auth,
    /// WinRM answered with a SOAP fault (its WSManFault code, if any).
    Fault(String),
    /// An answer csx cannot read (not SOAP, not base64, sealed wrongly...).
    Protocol,
    /// The deadline came first.
    Timeout,
}

/// A WinRM error with a message that names the endpoint and what was being done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    connection_broke: bool,
    command_sent: bool,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), connection_broke: false, command_sent: false }
    }
    pub fn config(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, m)
    }
    pub fn unreachable(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unreachable, m)
    }
    pub fn protocol(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Protocol, m)
    }
    pub fn timeout(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, m)
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Marks a connection that broke under a request: the host may or may not have acted.
    pub fn broken(mut self) -> Self {
        self.connection_broke = true;
        self
    }
    /// True when the connection broke under a request (safe-to-repeat work may be repeated).
    pub fn is_transient(&self) -> bool {
        self.connection_broke
    }

    pub(crate) fn after_command(mut self) -> Self {
        self.command_sent = true;
        self
    }
    /// True when the command's Command request left (the host may be running it).
    pub fn command_sent(&self) -> bool {
        self.command_sent
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
