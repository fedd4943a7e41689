#!/usr/bin/env python3
"""Extracts, from Proxmox VE's API schema (apidoc JSON), the parameter schemas of the
endpoints csx uses, without descriptions, into mocks/pve-schema.json. The mock Proxmox
server validates every request against it, so a request real Proxmox would reject is
rejected in our tests too.

Usage: python3 mocks/tools/extract-pve-schema.py ../shared/research/pve-api-schema.json.gz
"""
import gzip, json, sys, os

ENDPOINTS = [
    ("GET", "/version"), ("GET", "/cluster/nextid"), ("GET", "/cluster/resources"), ("GET", "/cluster/status"),
    ("POST", "/access/ticket"), ("GET", "/nodes/{node}/qemu"), ("POST", "/nodes/{node}/qemu"),
    ("GET", "/nodes/{node}/qemu/{vmid}/status/current"), ("GET", "/nodes/{node}/qemu/{vmid}/config"),
    ("POST", "/nodes/{node}/qemu/{vmid}/config"), ("PUT", "/nodes/{node}/qemu/{vmid}/config"),
    ("POST", "/nodes/{node}/qemu/{vmid}/clone"), ("DELETE", "/nodes/{node}/qemu/{vmid}"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/start"), ("POST", "/nodes/{node}/qemu/{vmid}/status/stop"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/reboot"), ("POST", "/nodes/{node}/qemu/{vmid}/status/shutdown"),
    ("POST", "/nodes/{node}/qemu/{vmid}/vncproxy"), ("GET", "/nodes/{node}/network"),
    ("GET", "/nodes/{node}/tasks/{upid}/status"), ("GET", "/nodes/{node}/tasks/{upid}/log"),
    ("GET", "/nodes/{node}/qemu/{vmid}/snapshot"), ("POST", "/nodes/{node}/qemu/{vmid}/snapshot"),
    ("POST", "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback"),
    ("DELETE", "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}"), ("PUT", "/nodes/{node}/qemu/{vmid}/resize"),
]
KEEP = {"type", "optional", "enum", "minimum", "maximum", "format", "maxLength", "pattern", "alias",
        "keyAlias", "default_key", "format_description"}

def strip(schema):
    out = {}
    for k, v in schema.items():
        if k not in KEEP:
            continue
        if k == "format" and isinstance(v, dict):
            v = {fk: strip(fv) for fk, fv in v.items()}
        out[k] = v
    return out

def walk(nodes):
    for n in nodes:
        yield n
        yield from walk(n.get("children", []))

def main():
    src = sys.argv[1]
    tree = json.load(gzip.open(src))
    by_path = {n["path"]: n for n in walk(tree)}
    out = {}
    for method, path in ENDPOINTS:
        info = by_path[path]["info"][method]
        params = info.get("parameters", {})
        out[f"{method} {path}"] = {
            "additionalProperties": params.get("additionalProperties", 1),
            "properties": {k: strip(v) for k, v in sorted(params.get("properties", {}).items())},
        }
    dest = os.path.join(os.path.dirname(__file__), "..", "pve-schema.json")
    with open(dest, "w") as f:
        json.dump({"source": "Proxmox VE 9.1 apidoc, parameters only", "endpoints": out}, f, indent=1, sort_keys=True)
        f.write("\n")

main()
