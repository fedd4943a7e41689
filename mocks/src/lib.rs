//! csx-mocks: stateful mock hypervisors that speak the real wire protocols on loopback.
//!
//! - [`proxmox::MockProxmox`]: Proxmox VE's API — nodes, VMs, templates, tasks that take
//!   time, locks, `nextid`, HA, snapshots, Proxmox-shaped errors, every request validated
//!   against Proxmox's own API schema, and fault injection.

pub mod proxmox;
