//! csx-mocks: stateful mock hypervisors that speak the real wire protocols on loopback.
//!
//! - [`proxmox::MockProxmox`]: Proxmox VE's API — nodes, VMs, templates, tasks that take
//!   time, locks, `nextid`, HA, snapshots, Proxmox-shaped errors, every request validated
//!   against Proxmox's own API schema, and fault injection;
//! - [`winrm::MockWinrm`]: a WinRM listener with real NTLM, sealing and connection
//!   affinity, whose commands run on a pluggable simulated host;
//! - [`hyperv::HyperVHost`]: a simulated Hyper-V host that carries out the csx
//!   `hyperv` scripts, plugged into the mock WinRM listener;
//! - [`tls::TlsFront`]: real HTTPS in front of a mock, with a fresh self-signed certificate;
//! - [`faults::FaultProxy`]: a TCP relay that hangs, resets or cuts connections on cue.

pub mod faults;
pub mod hyperv;
pub mod proxmox;
pub mod tls;
pub mod winrm;
