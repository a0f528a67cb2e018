#!/usr/bin/python3
"""Validates every scenario file under scenarios/ against scenarios/natsim.schema.json.

Also checks that the schema is itself a valid draft 2020-12 schema, that it accepts a
few inline documents using less common forms, and that it rejects a few bad ones (the
loader rejects each of them too). Prints one line per failure and "N passed, M failed"
last; exits non-zero if anything failed.

With --natsim PATH it also checks the schema against the loader's table of actions
(`natsim list actions --json`): the same action names, each with the same keys, and the
same expectation keys.

Needs Debian's python3-jsonschema (apt-get install python3-jsonschema), 4.x or later.
Usage: scripts/check-schema.py [--natsim PATH] [FILE...]
       (default: every scenarios/**/*.json but scenarios/test/, inputs the loader rejects)
"""
import copy
import json
import pathlib
import subprocess
import sys

try:
    import jsonschema
    from jsonschema import Draft202012Validator
except ImportError:  # pragma: no cover
    sys.exit("check-schema: python3-jsonschema is missing (apt-get install python3-jsonschema)")

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
SCHEMA_PATH = SCENARIOS / "natsim.schema.json"
LOADER_INPUTS = SCENARIOS / "test"
COMMON_ACTION_KEYS = {"at", "id", "action"}

# A small valid scenario the inline checks start from.
BASE = {
    "name": "inline",
    "topology": {
        "servers": [
            {"name": "stun", "type": "stun", "address": "198.51.100.10",
             "alternate_address": "198.51.100.11"},
            {"name": "echo", "type": "echo", "address": "198.51.100.20"},
        ],
        "sites": [{"name": "home", "hosts": ["alice"]}],
    },
    "timeline": [
        {"at": "0s", "id": "p", "action": "probe", "host": "alice", "server": "stun"},
    ],
    "expect": [{"action": "p", "mapping": "endpoint-independent"}],
}


def edit(change):
    doc = copy.deepcopy(BASE)
    change(doc)
    return doc


def setitem(path, value):
    """A change that sets doc[path[0]][path[1]]... = value."""
    def change(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


# Documents the schema (and the loader) must accept.
GOOD = {
    "seeds as a list": setitem(["seeds"], [1, 2, 3]),
    "seeds as from/count": setitem(["seeds"], {"from": 10, "count": 3}),
    "hosts as a count": lambda d: d["topology"]["sites"][0].update(hosts=3) or
        d["timeline"][0].update(host="home-h2"),
    "nat profile object": setitem(["topology", "sites", 0, "nat"], {
        "preset": "symmetric", "filtering": "address-dependent", "port_range": [20000, 29999],
        "udp_timeout": "45s", "max_mappings_per_host": 4, "ipv6": "open"}),
    "nested site": setitem(["topology", "sites", 0, "sites"], [
        {"name": "inner", "nat": "full-cone", "hosts": 1,
         "uplink": {"latency": "1.5ms", "bandwidth": 100000000}}]),
    "link action with parameters": lambda d: d["timeline"].append(
        {"at": "1s", "action": "link", "target": "home.uplink", "up": False,
         "loss": 0.1, "burst": {"p_good_to_bad": 0.1}, "bandwidth": "2.5Mbps"}),
    "counter expectation with a range": lambda d: d["expect"].append(
        {"counter": "home--internet", "metric": "drops.queue_full", "value": {"max": 3}}),
    "matrix with pointer and values": setitem(["matrix"], [
        {"pointer": "/topology/sites/0/nat", "values": ["open", "cgnat"]}]),
    "matrix with set": setitem(["matrix"], [
        {"set": [{"/topology/sites/0/nat": "symmetric", "/expect/0/mapping": "address-and-port-dependent"}]}]),
    "every other action": lambda d: d["timeline"].extend([
        {"at": "1s", "id": "b", "action": "binding", "host": "alice", "server": "stun", "port": 4000},
        {"at": "2s", "action": "send", "host": "alice", "server": "echo", "count": 5,
         "interval": ".5s", "size": 4},
        {"at": "3s", "action": "reboot", "site": "home", "downtime": "5s", "new_address": "203.0.113.6/30"},
        {"at": "4s", "action": "change_address", "site": "home", "address": "2001:db8::2/64"},
        {"at": "5s", "action": "flush", "site": "home"},
        {"at": "6min", "action": "set_nat", "site": "home", "nat": "enterprise-strict"},
    ]),
}

# Documents the schema (and the loader) must reject.
BAD = {
    "unknown top-level key": setitem(["colour"], "blue"),
    "unknown key in a site": setitem(["topology", "sites", 0, "gateway"], "x"),
    "unknown key in a server": setitem(["topology", "servers", 0, "secret"], "x"),
    "unknown key in link params": setitem(["topology", "core"], {"latency": "1ms", "speed": "fast"}),
    "unknown NAT knob": setitem(["topology", "sites", 0, "nat"], {"preset": "symmetric", "mode": "x"}),
    "bad duration (no unit)": setitem(["timeline", 0, "at"], "10"),
    "bad duration (unknown unit)": setitem(["timeline", 0, "at"], "5sec"),
    "bad duration (negative)": setitem(["duration"], "-1s"),
    "bad duration in a NAT profile": setitem(["topology", "sites", 0, "nat"], {"udp_timeout": "2 min"}),
    "unknown action": setitem(["timeline", 0, "action"], "ping"),
    "key of another action type": setitem(["timeline", 0, "count"], 3),
    "unknown link parameter in a link action": lambda d: d["timeline"].append(
        {"at": "1s", "action": "link", "target": "home.uplink", "speed": "fast"}),
    "unknown preset": setitem(["topology", "sites", 0, "nat"], "cone"),
    "unknown server type": setitem(["topology", "servers", 1, "type"], "turn"),
    "alternate address on an echo server": setitem(["topology", "servers", 1, "alternate_address"], "198.51.100.21"),
    "bad bandwidth": setitem(["topology", "core"], {"bandwidth": "10 megabits"}),
    "loss above 1": setitem(["topology", "core"], {"loss": 1.5}),
    "bad name": setitem(["topology", "sites", 0, "name"], "my home"),
    "interface address without a length": setitem(["topology", "sites", 0, "lan"], "192.168.1.1"),
    "seed and seeds": lambda d: d.update(seed=1, seeds=[1, 2]),
    "empty seeds": setitem(["seeds"], []),
    "unknown expectation field": setitem(["expect", 0, "latency"], 3),
    "unknown mapping value": setitem(["expect", 0, "mapping"], "symmetric"),
    "counter expectation without a value": lambda d: d["expect"].append(
        {"counter": "home", "metric": "sent"}),
    "empty range": setitem(["expect"], [{"counter": "home", "metric": "sent", "value": {}}]),
    "matrix values without a pointer": setitem(["matrix"], [{"values": [1, 2]}]),
    "matrix with an empty set": setitem(["matrix"], [{"set": []}]),
    "missing topology": lambda d: d.pop("topology"),
}


def table_mismatches(schema, table):
    """How the schema's actions differ from the loader's table (empty if they agree)."""
    defs = schema["$defs"]
    found = []
    names = [a["name"] for a in table]
    enum = defs["action"]["properties"]["action"]["enum"]
    if sorted(enum) != sorted(names):
        found.append(f"action enum {sorted(enum)} != table {sorted(names)}")
    by_name = {}
    for ref in defs["action"]["oneOf"]:
        d = defs[ref["$ref"].split("/")[-1]]
        by_name[d["properties"]["action"]["const"]] = d
    for a in table:
        d = by_name.get(a["name"])
        if d is None:
            found.append(f"no schema definition for action '{a['name']}'")
            continue
        keys = set(d["properties"]) - COMMON_ACTION_KEYS
        want = {k["name"] for k in a["keys"]}
        if keys != want:
            found.append(f"action '{a['name']}': schema keys {sorted(keys)} != table {sorted(want)}")
    expect = set(defs["actionExpectation"]["properties"]) - {"action"}
    want = {k["name"] for a in table for k in a["expect_keys"]}
    if expect != want:
        found.append(f"expectation keys {sorted(expect)} != table {sorted(want)}")
    return found


def main(argv):
    natsim = None
    if argv[:1] == ["--natsim"]:
        if len(argv) < 2:
            print("usage: check-schema.py [--natsim PATH] [FILE...]")
            return 2
        natsim, argv = argv[1], argv[2:]
    schema = json.loads(SCHEMA_PATH.read_text())
    passed = 0
    failed = 0

    def report(ok, what, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {what}" + (f": {detail}" if detail else ""))

    try:
        Draft202012Validator.check_schema(schema)
        report(True, "schema")
    except jsonschema.exceptions.SchemaError as e:
        report(False, "schema is not a valid draft 2020-12 schema", e.message)
        print(f"{passed} passed, {failed} failed")
        return 1
    validator = Draft202012Validator(schema)

    def errors(doc):
        return sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))

    files = [pathlib.Path(a) for a in argv] or sorted(
        p for p in SCENARIOS.rglob("*.json")
        if p.resolve() != SCHEMA_PATH.resolve() and LOADER_INPUTS not in p.resolve().parents)
    for path in files:
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            report(False, str(path), f"cannot read: {e}")
            continue
        errs = errors(doc)
        where = "; ".join(f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errs[:3])
        report(not errs, str(path.relative_to(ROOT) if path.is_absolute() else path), where)

    if not argv:
        for what, change in GOOD.items():
            errs = errors(edit(change))
            report(not errs, f"accepts {what}", errs[0].message if errs else "")
        for what, change in BAD.items():
            report(bool(errors(edit(change))), f"rejects {what}", "the schema accepted it")

    if natsim:
        try:
            out = subprocess.run([natsim, "list", "actions", "--json"], check=True,
                                 capture_output=True, text=True).stdout
            mismatches = table_mismatches(schema, json.loads(out))
            for m in mismatches:
                report(False, "schema matches the action table", m)
            if not mismatches:
                report(True, "schema matches the action table")
        except (OSError, subprocess.CalledProcessError, ValueError) as e:
            report(False, "natsim list actions --json", str(e))

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
