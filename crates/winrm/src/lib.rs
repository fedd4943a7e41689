//! csx-winrm: a WinRM client.
pub mod ntlm;
