//! The configuration keys the Hyper-V extension reads, each with the level it may come from
//! (see `csx_core::config`): operator keys only from host, extension or cluster details.

use csx_core::identity::{ADOPT_UNMARKED, INSTALLATION_ID};
use csx_core::Key;

pub const URL: Key = Key::operator("url", "WinRM listener: host, https://host[:5986] or http://host[:5985]");
pub const USERNAME: Key = Key::operator("username", "account on the Hyper-V host (`DOMAIN\\user`, `user`)");
pub const USER: Key = Key::operator("user", "alias of `username`");
pub const PASSWORD: Key = Key::operator("password", "the account's password");
pub const TRANSPORT: Key = Key::operator("transport", "`ntlm` or `basic` (HTTPS only) [default: ntlm]");
pub const VERIFY_TLS: Key = Key::operator(
    "verify_tls_certificate",
    "verify the listener's certificate against the system roots [default: true]",
);
pub const TLS_CA_FILE: Key = Key::operator("tls_ca_file", "PEM file of the CA that signed the listener's certificate");
pub const TLS_FINGERPRINT: Key =
    Key::operator("tls_fingerprint", "SHA-256 fingerprint the listener's certificate must have");
pub const NETWORK_SWITCH: Key = Key::operator("network_switch", "virtual switch the instances' NICs join");
pub const NETWORK_BRIDGE: Key = Key::operator("network_bridge", "alias of `network_switch`");
pub const VHD_PATH: Key = Key::operator("vhd_path", "folder on the host for the instances' disks");
pub const VM_PATH: Key = Key::operator("vm_path", "folder on the host for the instances' configuration");
pub const CONSOLE_URL: Key =
    Key::operator("console_url", "console URL template with {vmid}, {vmname} and {host} (e.g. an RDP gateway)");
pub const TEMPLATE_TYPE: Key =
    Key::instance("template_type", "`template` (copy `template_path`) or `iso` [default: template]");
pub const TEMPLATE_PATH: Key = Key::instance("template_path", "template VHDX on the host (a local path, X:\\...)");
pub const ISO_PATH: Key = Key::instance("iso_path", "ISO on the host for template_type=iso (a local path, X:\\...)");
pub const VHD_SIZE_GB: Key = Key::instance("vhd_size_gb", "root disk size for ISO installs");
pub const GENERATION: Key = Key::instance("generation", "VM generation, 1 or 2 [default: 1]");
pub const SECURE_BOOT: Key = Key::instance("secure_boot", "Secure Boot on generation 2 [default: false]");
pub const SECURE_BOOT_TEMPLATE: Key =
    Key::instance("secure_boot_template", "Secure Boot template [default: MicrosoftUEFICertificateAuthority]");
pub const STOP_MODE: Key =
    Key::instance("stop_mode", "`shutdown` (graceful, then turn off) or `turnoff` [default: shutdown]");
pub const STOP_TIMEOUT: Key = Key::instance("stop_timeout", "seconds a graceful shutdown may take [default: 60]");

/// Every key the Hyper-V extension reads.
pub const KEYS: &[Key] = &[
    URL,
    USERNAME,
    USER,
    PASSWORD,
    TRANSPORT,
    VERIFY_TLS,
    TLS_CA_FILE,
    TLS_FINGERPRINT,
    NETWORK_SWITCH,
    NETWORK_BRIDGE,
    VHD_PATH,
    VM_PATH,
    CONSOLE_URL,
    TEMPLATE_TYPE,
    TEMPLATE_PATH,
    ISO_PATH,
    VHD_SIZE_GB,
    GENERATION,
    SECURE_BOOT,
    SECURE_BOOT_TEMPLATE,
    STOP_MODE,
    STOP_TIMEOUT,
    ADOPT_UNMARKED,
    INSTALLATION_ID,
];
