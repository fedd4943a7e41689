//! The PowerShell the adapter sends, checked as PowerShell: every rendered script parses
//! without an error node (tree-sitter-powershell), and every Hyper-V cmdlet it calls exists
//! with the parameters it passes in Windows PowerShell 5.1's documented Hyper-V module
//! (`scripts/hyperv-cmdlets.txt`, taken from Microsoft's reference).

use csx_hyperv::scripts::Script;
use std::collections::BTreeMap;
use strum::VariantArray;
use tree_sitter::{Node, Parser};

fn parser() -> Parser {
    let mut p = Parser::new();
    p.set_language(&tree_sitter_powershell::LANGUAGE.into()).expect("grammar");
    p
}

fn walk<'a>(n: Node<'a>, out: &mut Vec<Node<'a>>) {
    out.push(n);
    let mut c = n.walk();
    for child in n.children(&mut c) {
        walk(child, out);
    }
}

fn sample() -> serde_json::Value {
    serde_json::json!({"name": "i-2-45-VM", "uuid": "5b0c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d", "graceful": true})
}

#[test]
fn every_script_parses() {
    let mut parser = parser();
    for &s in Script::VARIANTS {
        let text = s.render(&sample());
        let tree = parser.parse(&text, None).expect("parse");
        let mut nodes = Vec::new();
        walk(tree.root_node(), &mut nodes);
        if let Some(n) = nodes.iter().find(|n| n.is_error() || n.is_missing()) {
            let line = n.start_position().row;
            panic!(
                "the {} script does not parse at line {}: {:?}\n{}",
                s.name(),
                line + 1,
                &text[n.byte_range()],
                text.lines().nth(line).unwrap_or("")
            );
        }
    }
}

/// cmdlet (lower case) → its parameter sets (lower-case parameter names).
fn documented() -> BTreeMap<String, Vec<Vec<String>>> {
    let mut m: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for line in include_str!("../scripts/hyperv-cmdlets.txt").lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (head, params) = line.split_once(':').expect("`cmdlet set: params`");
        let cmdlet = head.split_whitespace().next().expect("cmdlet").to_lowercase();
        m.entry(cmdlet).or_default().push(params.split_whitespace().map(str::to_lowercase).collect());
    }
    m
}

const COMMON: [&str; 11] = [
    "erroraction",
    "errorvariable",
    "warningaction",
    "warningvariable",
    "informationaction",
    "informationvariable",
    "verbose",
    "debug",
    "outvariable",
    "outbuffer",
    "pipelinevariable",
];

#[test]
fn every_hyperv_cmdlet_and_parameter_is_documented() {
    let docs = documented();
    let mut parser = parser();
    let mut calls = 0;
    for &s in Script::VARIANTS {
        let text = s.render(&sample());
        let tree = parser.parse(&text, None).expect("parse");
        let mut nodes = Vec::new();
        walk(tree.root_node(), &mut nodes);
        for cmd in nodes.iter().filter(|n| n.kind() == "command") {
            let Some(name) = cmd.child_by_field_name("command_name").or_else(|| cmd.named_child(0)) else { continue };
            let name = &text[name.byte_range()];
            let Some(cmdlet) = name.strip_prefix("Hyper-V\\") else {
                assert!(!docs.contains_key(&name.to_lowercase()), "{}: {name} must be module-qualified", s.name());
                continue;
            };
            calls += 1;
            let sets = docs
                .get(&cmdlet.to_lowercase())
                .unwrap_or_else(|| panic!("{}: Hyper-V\\{cmdlet} is not in hyperv-cmdlets.txt", s.name()));
            let mut inner = Vec::new();
            walk(*cmd, &mut inner);
            let used: Vec<String> = inner
                .iter()
                .filter(|n| n.kind() == "command_parameter")
                .map(|n| text[n.byte_range()].trim_start_matches('-').split(':').next().unwrap_or("").to_lowercase())
                .filter(|p| !COMMON.contains(&p.as_str()))
                .collect();
            assert!(
                sets.iter().any(|set| used.iter().all(|u| set.contains(u))),
                "{}: Hyper-V\\{cmdlet} has no documented parameter set with {used:?}",
                s.name()
            );
        }
    }
    assert!(calls > 40, "the walk found only {calls} Hyper-V calls: is the grammar's node naming still `command`?");
}

/// Issue #18 §3: the guest configuration's InstanceID carries the VM id in upper case, and
/// Subnets[i] belongs to the configuration's own IPAddresses[i] (Microsoft's class page). The
/// mock host answers scripts by name and cannot run this CIM query, so the script says it.
#[test]
fn guest_addresses_pair_subnets_and_ignore_id_case() {
    let s = Script::GetIpAddresses.render(&serde_json::json!({"name": "x"}));
    assert!(s.contains("[StringComparison]::OrdinalIgnoreCase"), "{s}");
    assert_eq!(s.matches(", $ic)").count(), 2, "both id comparisons ignore case: {s}");
    assert!(s.contains("$ips = @($cfg[0].IPAddresses); $subnets = @($cfg[0].Subnets)"), "{s}");
}

/// Issue #18 §3: the root disk is the disk the VM boots from (a generation-2 VM's first hard disk
/// in Get-VMFirmware's BootOrder, a generation-1 VM's first IDE hard disk), never "controller 0,
/// location 0 of any type"; an IDE disk of a running VM is refused before Resize-VHD (Microsoft's
/// Resize-VHD page). The mock host models the outcome; this holds what the scripts say.
#[test]
fn root_disk_is_the_boot_disk_and_ide_is_resized_offline() {
    let p = serde_json::json!({"name": "x", "disk": "IDE0:1", "size_gb": 4});
    for s in [Script::ListDisks, Script::RemoveDisk] {
        let text = s.render(&p);
        assert!(text.contains("Get-RootDiskId $vm $drives"), "{}: {text}", s.name());
        assert!(text.contains("(Hyper-V\\Get-VMFirmware -VM $vm).BootOrder"), "{}", s.name());
        assert!(text.contains("[string]$_.ControllerType -eq 'IDE'"), "{}", s.name());
        assert!(!text.contains("ControllerNumber -eq 0 -and"), "{}: no slot-based root", s.name());
    }
    let resize = Script::ResizeDisk.render(&p);
    let refuse = resize.find("ControllerType -eq 'IDE' -and [string]$vm.State -ne 'Off'").expect("IDE check");
    assert!(refuse < resize.find("Hyper-V\\Resize-VHD").expect("Resize-VHD"), "refused before resizing");
}

/// Issue #18 §1: exit 4 answers data, not prose — the VM's name and the other instance's mark
/// ('' for an unmarked VM this instance does not adopt) — and the adapter words the refusal as
/// csx_core::identity does on every backend. The mock host models the answer; this holds what
/// Require-Vm and create say.
#[test]
fn not_this_instances_vm_is_answered_as_data() {
    for s in [Script::Start, Script::Create, Script::ListDisks] {
        let text = s.render(&sample());
        assert!(text.contains("vm = [string]$p.name; owner = $script:Owner } 4"), "{}", s.name());
        assert!(text.contains("$script:Owner = [string](@(@($all | ForEach-Object { Get-Owner $_ }) -ne '')[0])"));
    }
}
