//! The one error type every action returns, with kinds that map to exit codes.

use std::fmt;

/// What went wrong, coarsely: decides the exit code and guides the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The payload, argv or configuration is wrong: fix the input.
    BadInput,
    /// The instance (or another named object) does not exist.
    NotFound,
    /// The action is not implemented by this extension.
    Unsupported,
    /// The hypervisor refused our credentials.
    Auth,
    /// The hypervisor or the network failed or answered with an error.
    Remote,
    /// The action did not finish before its deadline.
    Timeout,
    /// A conflict with state we do not own (a foreign VM with the same name...).
    Conflict,
    /// A bug or an unexpected local failure.
    Internal,
}

impl ErrorKind {
    /// Exit code for this kind. CloudStack only distinguishes zero from non-zero;
    /// distinct codes help operators running a binary by hand.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Internal => 1,
            ErrorKind::BadInput => 2,
            ErrorKind::NotFound => 3,
            ErrorKind::Unsupported => 4,
            ErrorKind::Remote => 5,
            ErrorKind::Auth => 6,
            ErrorKind::Conflict => 7,
            ErrorKind::Timeout => 124,
        }
    }

    /// Stable lower-case name, printed as `error_kind` in the JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadInput => "bad_input",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Auth => "auth",
            ErrorKind::Remote => "remote",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An error with a kind and a message an operator can act on.
///
/// Messages must never contain secrets; the runner additionally scrubs every
/// secret value found in the payload from the message before printing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    transient: bool,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), transient: false }
    }
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadInput, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    pub fn remote(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Remote, message)
    }
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Auth, message)
    }
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Marks a failure of the connection itself (reset, closed, cut short): the
    /// remote side may or may not have acted, and a request that is safe to
    /// repeat may be tried again.
    pub fn transient(mut self) -> Self {
        self.transient = true;
        self
    }

    /// See [`Error::transient`].
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// Prefix the message with context, keeping the kind: `"creating VM 101: <msg>"`.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds `.context(...)` to results.
pub trait ResultExt<T> {
    fn context(self, what: impl fmt::Display) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.context(what))
    }
}
