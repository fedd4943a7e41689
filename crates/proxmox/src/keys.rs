//! The configuration keys the Proxmox extension reads, each with the level it may come from
//! (see `csx_core::config`): operator keys only from host, extension or cluster details.

use csx_core::identity::{ADOPT_UNMARKED, INSTALLATION_ID};
use csx_core::Key;

pub const URL: Key = Key::operator("url", "Proxmox VE API: host, host:port or https://host:port [port 8006]");
pub const USER: Key = Key::operator("user", "API user, `user@realm` (or with `realm`)");
pub const REALM: Key = Key::operator("realm", "realm when `user` has none [default: pam]");
pub const TOKEN: Key = Key::operator("token", "API token name (or full `user@realm!name`)").public();
pub const SECRET: Key = Key::operator("secret", "API token secret");
pub const PASSWORD: Key = Key::operator("password", "password for ticket login, instead of a token");
pub const ALLOW_PLAIN_HTTP: Key = Key::operator(
    "allow_plain_http",
    "allow an http:// url (the token then crosses the network in clear) [default: false]",
);
pub const NODE: Key = Key::operator("node", "the Proxmox node this CloudStack host is");
pub const VERIFY_TLS: Key =
    Key::operator("verify_tls_certificate", "verify the API's certificate against the system roots [default: true]");
pub const TLS_CA_FILE: Key = Key::operator("tls_ca_file", "PEM file of the CA that signed the API's certificate");
pub const TLS_FINGERPRINT: Key =
    Key::operator("tls_fingerprint", "SHA-256 fingerprint the API's certificate must have");
pub const NETWORK_BRIDGE: Key = Key::operator("network_bridge", "bridge the instances' NICs join (e.g. vmbr0)");
pub const NIC_FIREWALL: Key = Key::operator("nic_firewall", "enable Proxmox's firewall on every NIC [default: false]");
pub const CONSOLE_HOST: Key =
    Key::operator("console_host", "host the console proxy connects to [default: the node's address]");
pub const NIC_MODEL: Key = Key::instance("nic_model", "NIC model [default: virtio]");
pub const TEMPLATE_TYPE: Key =
    Key::instance("template_type", "`template` (clone `template_id`) or `iso` [default: template]");
pub const TEMPLATE_ID: Key = Key::instance("template_id", "VMID of the Proxmox template to clone");
pub const IS_FULL_CLONE: Key = Key::instance("is_full_clone", "full clone instead of a linked one [default: false]");
pub const STORAGE: Key = Key::instance("storage", "storage for disks [default: the template's]");
pub const ISO_PATH: Key = Key::instance("iso_path", "ISO volume (`local:iso/x.iso`) for template_type=iso");
pub const ISO_OS_TYPE: Key = Key::instance("iso_os_type", "Proxmox ostype for ISO installs [default: l26]");
pub const DISK_SIZE_GB: Key = Key::instance("disk_size_gb", "root disk size for ISO installs [default: 64]");
pub const VM_NAME: Key = Key::instance("vm_name", "the VM's name in Proxmox [default: the instance name]");
pub const PROXMOX_VMID: Key = Key::instance("proxmox_vmid", "VMID reserved by `prepare` (kept by CloudStack)");
pub const STOP_MODE: Key = Key::instance("stop_mode", "`shutdown` (graceful, then stop) or `stop` [default: stop]");
pub const STOP_TIMEOUT: Key = Key::instance("stop_timeout", "seconds a graceful shutdown may take [default: 60]");

/// Every key the Proxmox extension reads.
pub const KEYS: &[Key] = &[
    URL,
    USER,
    REALM,
    TOKEN,
    SECRET,
    PASSWORD,
    ALLOW_PLAIN_HTTP,
    NODE,
    VERIFY_TLS,
    TLS_CA_FILE,
    TLS_FINGERPRINT,
    NETWORK_BRIDGE,
    NIC_FIREWALL,
    CONSOLE_HOST,
    NIC_MODEL,
    TEMPLATE_TYPE,
    TEMPLATE_ID,
    IS_FULL_CLONE,
    STORAGE,
    ISO_PATH,
    ISO_OS_TYPE,
    DISK_SIZE_GB,
    VM_NAME,
    PROXMOX_VMID,
    STOP_MODE,
    STOP_TIMEOUT,
    ADOPT_UNMARKED,
    INSTALLATION_ID,
];
