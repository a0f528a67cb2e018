#!/usr/bin/env python3
"""Which NAT pairs admit a direct ICE path, derived from the RFC 4787 behaviours alone.

Each peer sits behind its own NAT (one external address, no hairpinning involved) and
knows the other's server-reflexive candidate: its mapping towards the STUN server. Host
candidates cannot reach across two private networks. The model plays ICE's checks
(RFC 8445 §7.2) to a fixpoint: every agent checks every remote candidate it knows,
answers every check that reaches it from the check's source, learns that source as a
peer-reflexive candidate (§7.3.1.3) and checks it in turn (triggered check, §7.3.1.4).
Retransmissions make the order irrelevant: a check dropped because the other side's
filter was not open yet gets through once it is.

A check succeeds when its response comes back from the address it was sent to
(§7.2.5.2.1, symmetric addresses). One valid pair on either side is enough: the other
side's triggered check along the same mappings then succeeds too.

Ports are symbolic: a mapping is named by the destination it was made for, at the
granularity its mapping behaviour sees (EIM: none, ADM: the address, APDM: address and
port), so two destinations share a port exactly when the NAT would reuse the mapping.
Nothing is predicted: a port the peer never saw is a port it cannot aim at.

usage: nat-matrix-theory.py [--json | --scenario | --check FILE | --check-scenario FILE]
  --scenario: the ICE matrix scenario whose expectations are this table
  --check-scenario FILE: exit 1 unless FILE's matrix expects exactly the table's paths
  --check FILE: exit 1 unless FILE holds the markdown tables exactly as printed (the 81
    NAT pairs, and the IPv6 firewall-only sites)
"""
import itertools
import json
import sys

BEHAVIOURS = ["EIM", "ADM", "APDM"], ["EIF", "ADF", "APDF"]
SERVER = ("S", "stun")


class Peer:
    def __init__(self, name, mapping, filtering):
        self.name, self.mapping, self.filtering = name, mapping, filtering
        self.sent = set()  # (external port, destination)
        self.remote = set()  # candidates to check

    def port_towards(self, dest):
        # RFC 4787 §4.1: which destinations share a mapping.
        if self.mapping == "EIM":
            return (self.name, "*")
        if self.mapping == "ADM":
            return (self.name, dest[0])
        return (self.name, dest)

    def send(self, dest):
        port = self.port_towards(dest)
        self.sent.add((port, dest))
        return (self.name, port)  # the source the other side sees

    def admits(self, port, source):
        # RFC 4787 §5: inbound filtering on the mapping at `port`.
        if self.filtering == "EIF":
            return True
        if self.filtering == "ADF":
            return any(p == port and d[0] == source[0] for p, d in self.sent)
        return (port, source) in self.sent


def direct_path(ma, fa, mb, fb):
    a, b = Peer("A", ma, fa), Peer("B", mb, fb)
    # Server-reflexive candidates: each peer's mapping towards the STUN server.
    b.remote.add(a.send(SERVER))
    a.remote.add(b.send(SERVER))
    for _ in range(8):  # converges in three rounds; the rest shows it
        for x, y in ((a, b), (b, a)):
            for target in sorted(x.remote):
                source = x.send(target)
                port = target[1]
                if not y.admits(port, source):
                    continue
                y.remote.add(source)  # peer-reflexive, checked next round (triggered)
                answer_from = y.send(source)
                if answer_from == target and x.admits(source[1], answer_from):
                    return True
    return False


def matrix():
    kinds = [f"{m}+{f}" for m, f in itertools.product(*BEHAVIOURS)]
    return kinds, {
        (p, q): direct_path(*p.split("+"), *q.split("+")) for p in kinds for q in kinds
    }


# An IPv6 site without translation: the host's own address is global, so the firewall
# is an EIM "NAT" whose mapping is the host's address and port (its server-reflexive
# candidate equals its host candidate), filtering as configured; an open site admits
# everything (EIF).
FIREWALLS = {"open": ("EIM", "EIF"), "firewall+EIF": ("EIM", "EIF"),
             "firewall+ADF": ("EIM", "ADF"), "firewall+APDF": ("EIM", "APDF")}


def ipv6_matrix():
    kinds = list(FIREWALLS)
    return kinds, {(p, q): direct_path(*FIREWALLS[p], *FIREWALLS[q]) for p in kinds for q in kinds}


def markdown(kinds, result):
    lines = ["| A \\ B | " + " | ".join(kinds) + " |", "|---" * (len(kinds) + 1) + "|"]
    for p in kinds:
        row = ["direct" if result[(p, q)] else "**relay**" for q in kinds]
        lines.append(f"| {p} | " + " | ".join(row) + " |")
    lines += ["", f"{sum(result.values())} of {len(result)} ordered pairs admit a direct path."]
    return "\n".join(lines)


NAMES = {"EIM": "endpoint-independent", "ADM": "address-dependent",
         "APDM": "address-and-port-dependent", "EIF": "endpoint-independent",
         "ADF": "address-dependent", "APDF": "address-and-port-dependent"}


def scenario_sets(kinds, result):
    """The matrix entry: each pair's two NATs and the path the connect action must take."""
    sets = []
    for p, q in itertools.product(kinds, kinds):
        (ma, fa), (mb, fb) = p.split("+"), q.split("+")
        sets.append({
            "/topology/sites/0/nat/mapping": NAMES[ma],
            "/topology/sites/0/nat/filtering": NAMES[fa],
            "/topology/sites/1/nat/mapping": NAMES[mb],
            "/topology/sites/1/nat/filtering": NAMES[fb],
            "/expect/0/path": ["srflx", "prflx"] if result[(p, q)] else "relay",
        })
    return sets


def scenario(kinds, result):
    return {
        "$schema": "../natsim.schema.json",
        "name": "ice-nat-matrix",
        "description": (
            "Every RFC 4787 mapping x filtering combination on each side, 81 pairs: the "
            "connect action must find a direct path exactly where docs/nat-matrix.md "
            "derives one, and the TURN relay everywhere else. Generated by "
            "scripts/nat-matrix-theory.py --scenario; a test checks it against the model."),
        "seed": 1,
        "duration": "20s",
        "topology": {
            "servers": [
                {"name": "stun", "type": "stun", "address": "198.51.100.10",
                 "link": {"latency": "5ms"}},
                {"name": "turn", "type": "turn", "address": "198.51.100.20",
                 "users": {"alice": "alice-secret", "bob": "bob-secret"},
                 "link": {"latency": "5ms"}},
            ],
            "sites": [
                {"name": "home", "hosts": ["alice"], "uplink": {"latency": "10ms"},
                 "nat": {"preset": "port-restricted-cone", "mapping": "endpoint-independent",
                         "filtering": "endpoint-independent", "hairpinning": False}},
                {"name": "office", "hosts": ["bob"], "uplink": {"latency": "10ms"},
                 "nat": {"preset": "port-restricted-cone", "mapping": "endpoint-independent",
                         "filtering": "endpoint-independent", "hairpinning": False}},
            ],
        },
        "timeline": [
            {"at": "0s", "id": "connect", "action": "connect", "a": "alice", "b": "bob",
             "stun": "stun", "turn": "turn", "user": {"a": "alice", "b": "bob"}, "count": 1},
        ],
        "expect": [
            {"action": "connect", "outcome": "connected", "path": "relay", "delivered": 1,
             "echoed": 1},
        ],
        "matrix": [{"set": scenario_sets(kinds, result)}],
    }


def main():
    kinds, result = matrix()
    if "--scenario" in sys.argv:
        print(json.dumps(scenario(kinds, result), indent=1))
        return 0
    if "--check-scenario" in sys.argv:
        path = sys.argv[sys.argv.index("--check-scenario") + 1]
        found = json.load(open(path, encoding="utf-8"))["matrix"][0]["set"]
        if found != scenario_sets(kinds, result):
            print(f"{path}: the matrix does not expect the paths the model derives; "
                  "regenerate it with --scenario")
            return 1
        print(f"{path}: every pair expects the path the model derives")
        return 0
    if "--json" in sys.argv:
        print(json.dumps({f"{p} x {q}": ("direct" if ok else "relay")
                          for (p, q), ok in result.items()}, indent=1))
        return 0
    table = markdown(kinds, result)
    table6 = markdown(*ipv6_matrix())
    if "--check" in sys.argv:
        path = sys.argv[sys.argv.index("--check") + 1]
        text = open(path, encoding="utf-8").read()
        for name, t in (("NAT pair", table), ("IPv6 firewall", table6)):
            if t not in text:
                print(f"{path}: the {name} table differs from what the model derives:\n{t}")
                return 1
        print(f"{path}: the tables match the model")
        return 0
    print(table)
    print()
    print(table6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
