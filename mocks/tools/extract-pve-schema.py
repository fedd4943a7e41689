#!/usr/bin/env python3
"""Extracts, from Proxmox VE's API schema (apidoc JSON), the parameter schemas of the
endpoints csx uses, without descriptions, into mocks/pve-schema.json. The mock Proxmox
server validates every request against it, so a request real Proxmox would reject is
rejected in our tests too.

The list of endpoints is mocks/pve-schema.json itself: re-running refreshes every endpoint
it holds (none is dropped), `--add "METHOD /path"` adds one, and `--check` writes nothing
and fails when the file differs from what the apidoc gives (the mocks' tests run it).

Usage: python3 mocks/tools/extract-pve-schema.py ../shared/research/pve-api-schema.json.gz
           [--add "POST /nodes/{node}/lxc" ...] [--check]
"""
import argparse, gzip, json, os, sys

KEEP = {"type", "optional", "enum", "minimum", "maximum", "format", "maxLength", "pattern", "alias",
        "keyAlias", "default_key", "format_description"}
SOURCE = "Proxmox VE 9.1 apidoc, parameters only"
DEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pve-schema.json")


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


def render(endpoints):
    return json.dumps({"source": SOURCE, "endpoints": endpoints}, indent=1, sort_keys=True) + "\n"


def main():
    ap = argparse.ArgumentParser(description="refresh mocks/pve-schema.json from Proxmox VE's apidoc")
    ap.add_argument("apidoc", help="pve-api-schema.json.gz (Proxmox VE's apidoc JSON)")
    ap.add_argument("--add", action="append", default=[], metavar="'METHOD /path'", help="an endpoint to add")
    ap.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on a difference")
    args = ap.parse_args()
    tree = json.load(gzip.open(args.apidoc))
    by_path = {n["path"]: n for n in walk(tree)}
    with open(DEST) as f:
        current_text = f.read()
    wanted = set(json.loads(current_text)["endpoints"]) | set(args.add)
    out = {}
    for endpoint in sorted(wanted):
        method, _, path = endpoint.partition(" ")
        info = by_path.get(path, {}).get("info", {}).get(method)
        if info is None:
            sys.exit(f"extract-pve-schema: the apidoc has no {endpoint!r}")
        params = info.get("parameters", {})
        out[endpoint] = {
            "additionalProperties": params.get("additionalProperties", 1),
            "properties": {k: strip(v) for k, v in sorted(params.get("properties", {}).items())},
        }
    text = render(out)
    if args.check:
        if text != current_text:
            old = json.loads(current_text)["endpoints"]
            changed = sorted(e for e in set(old) | set(out) if old.get(e) != out.get(e))
            sys.exit("extract-pve-schema: mocks/pve-schema.json differs from the apidoc for: " + ", ".join(changed))
        print(f"extract-pve-schema: {len(out)} endpoints, identical to the apidoc")
        return
    with open(DEST, "w") as f:
        f.write(text)
    print(f"extract-pve-schema: wrote {len(out)} endpoints to mocks/pve-schema.json")


main()
