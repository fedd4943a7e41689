//! csx-winrm: a WinRM client.
pub mod clixml;
pub mod ntlm;
pub mod soap;
