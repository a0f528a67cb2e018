#!/usr/bin/env python3
"""A small hostile STUN/TURN client for scripts/attack-servers.sh (Python 3 stdlib only).

Every subcommand talks to loopback only (the target must be in 127.0.0.0/8 or ::1), is
bounded in count and time, and prints one "key value" result line per figure it measured.
Exit status: 0 when the subcommand's expectation held, 1 when not, 2 for bad usage.

Wire formats: RFC 8489 (STUN header, attributes, MESSAGE-INTEGRITY with long-term
credentials, section 9.2), RFC 8656 (TURN methods and attributes, TCP framing).
"""
import argparse
import hashlib
import hmac
import ipaddress
import os
import random
import resource
import select
import socket
import struct
import sys
import time

MAGIC = 0x2112A442
BINDING, ALLOCATE, REFRESH, CREATE_PERMISSION, CHANNEL_BIND = 0x001, 0x003, 0x004, 0x008, 0x009
A_USERNAME, A_MI, A_ERROR, A_LIFETIME, A_PEER = 0x0006, 0x0008, 0x0009, 0x000D, 0x0012
A_DATA, A_REALM, A_NONCE, A_TRANSPORT, A_CHANNEL = 0x0013, 0x0014, 0x0015, 0x0019, 0x000C
A_XOR_MAPPED = 0x0020


def loopback_only(host):
    if not ipaddress.ip_address(host).is_loopback:
        sys.exit("stun_attacker: only loopback targets (127.0.0.0/8, ::1), not " + host)


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def attr(kind, value):
    pad = (4 - len(value) % 4) % 4
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * pad


def message(method, attrs=b"", tid=None, cls=0):
    tid = tid or os.urandom(12)
    mtype = (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2)
    mtype |= ((cls & 1) << 4) | ((cls & 2) << 7)
    return struct.pack("!HHI", mtype, len(attrs), MAGIC) + tid + attrs


def xor_peer(ip, port, tid):
    addr = ipaddress.ip_address(ip)
    xport = port ^ (MAGIC >> 16)
    raw = addr.packed
    key = struct.pack("!I", MAGIC) + (tid if addr.version == 6 else b"")
    xaddr = bytes(a ^ b for a, b in zip(raw, key))
    return attr(A_PEER, struct.pack("!BBH", 0, 1 if addr.version == 4 else 2, xport) + xaddr)


def parse(data):
    """(class, method, tid, {attr: [values]}) or None for anything that is not STUN."""
    if len(data) < 20:
        return None
    mtype, length, magic = struct.unpack("!HHI", data[:8])
    if magic != MAGIC or 20 + length > len(data):
        return None
    cls = ((mtype >> 4) & 1) | ((mtype >> 7) & 2)
    method = (mtype & 0x000F) | ((mtype >> 1) & 0x0070) | ((mtype >> 2) & 0x0F80)
    attrs, i = {}, 20
    while i + 4 <= 20 + length:
        kind, alen = struct.unpack("!HH", data[i:i + 4])
        attrs.setdefault(kind, []).append(data[i + 4:i + 4 + alen])
        i += 4 + alen + (4 - alen % 4) % 4
    return cls, method, data[8:20], attrs


def error_code(attrs):
    if A_ERROR not in attrs or len(attrs[A_ERROR][0]) < 4:
        return None
    v = attrs[A_ERROR][0]
    return (v[2] & 7) * 100 + v[3]


class Conn:
    """One client flow, over UDP or TCP, with a receive timeout."""

    def __init__(self, host, port, tcp=False, source=None, timeout=2.0):
        self.tcp = tcp
        self.sock = socket.socket(family(host), socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.buf = b""

    def send(self, data):
        if self.tcp:
            self.sock.sendall(data)
        else:
            self.sock.send(data)

    def recv(self):
        """The next STUN message (bytes), or None on timeout or close."""
        try:
            if not self.tcp:
                return self.sock.recv(65536)
            while True:
                if len(self.buf) >= 4:
                    need = 20 + struct.unpack("!H", self.buf[2:4])[0]
                    if len(self.buf) >= need:
                        out, self.buf = self.buf[:need], self.buf[need:]
                        return out
                chunk = self.sock.recv(65536)
                if not chunk:
                    return None
                self.buf += chunk
        except (socket.timeout, ConnectionError, OSError):
            return None

    def transact(self, data, tid):
        self.send(data)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            m = self.recv()
            if m is None:
                return None
            p = parse(m)
            if p and p[2] == tid:
                return p
        return None

    def close(self):
        self.sock.close()


class Session:
    """Long-term credentials (RFC 8489 section 9.2): the 401 dance, then signed requests."""

    def __init__(self, conn, user, password):
        self.conn, self.user, self.password = conn, user, password
        self.realm = self.nonce = self.key = None

    def signed(self, method, attrs=b"", tid=None, extra_after_mi=b""):
        tid = tid or os.urandom(12)
        body = attrs + attr(A_USERNAME, self.user.encode()) + attr(A_REALM, self.realm) + \
            attr(A_NONCE, self.nonce)
        head = message(method, body, tid)
        # The length field covers MESSAGE-INTEGRITY when the HMAC is computed (section 14.5).
        head = head[:2] + struct.pack("!H", len(body) + 24) + head[4:]
        mac = hmac.new(self.key, head, hashlib.sha1).digest()
        out = head + attr(A_MI, mac) + extra_after_mi
        return out[:2] + struct.pack("!H", len(out) - 20) + out[4:], tid

    def allocate(self):
        tid = os.urandom(12)
        transport = attr(A_TRANSPORT, bytes([17, 0, 0, 0]))
        r = self.conn.transact(message(ALLOCATE, transport, tid), tid)
        if not r or error_code(r[3]) != 401:
            return r
        self.realm, self.nonce = r[3][A_REALM][0], r[3][A_NONCE][0]
        self.key = hashlib.md5(b"%s:%s:%s" % (self.user.encode(), self.realm,
                                               self.password.encode())).digest()
        data, tid = self.signed(ALLOCATE, transport)
        return self.conn.transact(data, tid)


def ok(r):
    return r is not None and r[0] == 2


def cmd_binding(a):
    c = Conn(a.host, a.port, a.tcp)
    tid = os.urandom(12)
    r = c.transact(message(BINDING, b"", tid), tid)
    good = ok(r) and A_XOR_MAPPED in r[3]
    print("binding", "ok" if good else "failed")
    return 0 if good else 1


def cmd_allocate(a):
    c = Conn(a.host, a.port, a.tcp, a.source)
    r = Session(c, a.user, a.password).allocate()
    print("allocate", "ok" if ok(r) else "failed (%s)" % (error_code(r[3]) if r else "no answer"))
    return 0 if ok(r) else 1


def garbage_datagrams(rng, count):
    """Random bytes, truncated STUN, lying lengths, huge attribute counts, bad ChannelData."""
    for i in range(count):
        kind = i % 8
        tid = rng.randbytes(12)
        if kind == 0:
            yield rng.randbytes(rng.randrange(0, 1400))
        elif kind == 1:  # a valid header promising more than follows
            yield message(ALLOCATE, rng.randbytes(64), tid)[:rng.randrange(1, 60)]
        elif kind == 2:  # length not a multiple of 4 / longer than the datagram
            m = bytearray(message(BINDING, attr(0x8022, b"x" * 8), tid))
            m[2:4] = struct.pack("!H", rng.choice([1, 3, 7, 0xFFFF, 4000]))
            yield bytes(m)
        elif kind == 3:  # thousands of empty attributes
            yield message(rng.choice([BINDING, ALLOCATE]), attr(0x8022, b"") * 4000, tid)
        elif kind == 4:  # an attribute whose length runs past the message
            yield message(ALLOCATE, struct.pack("!HH", A_TRANSPORT, 0xFFF0) + b"\0" * 8, tid)
        elif kind == 5:  # unknown comprehension-required attributes, many of them
            yield message(BINDING, b"".join(attr(0x0030 + k, b"zz") for k in range(200)), tid)
        elif kind == 6:  # ChannelData with a lying length
            yield struct.pack("!HH", 0x4000 + rng.randrange(0, 0x1000), 0xFFFF) + rng.randbytes(20)
        else:  # a response and an indication nobody asked for
            yield message(BINDING, attr(A_XOR_MAPPED, b"\0" * 8), tid, cls=rng.choice([1, 2, 3]))


def cmd_garbage(a):
    rng = random.Random(a.seed)
    sent = 0
    deadline = time.monotonic() + a.seconds
    if a.tcp:
        # A few connections, each fed garbage until the server closes it or we are done.
        per = max(1, a.count // a.connections)
        gen = garbage_datagrams(rng, a.count)
        for _ in range(a.connections):
            if time.monotonic() > deadline:
                break
            try:
                s = socket.create_connection((a.host, a.port), timeout=1)
                for _ in range(per):
                    s.sendall(next(gen))
                    sent += 1
                s.close()
            except (OSError, StopIteration):
                pass
    else:
        s = socket.socket(family(a.host), socket.SOCK_DGRAM)
        for d in garbage_datagrams(rng, a.count):
            if time.monotonic() > deadline:
                break
            try:
                s.sendto(d[:65507], (a.host, a.port))
                sent += 1
            except OSError:
                pass
    print("garbage_sent", sent)
    return 0


def cmd_auth_garbage(a):
    """Completes the 401 dance, then sends malformed requests that carry a valid HMAC."""
    c = Conn(a.host, a.port, a.tcp)
    s = Session(c, a.user, a.password)
    if not ok(s.allocate()):
        print("auth_garbage allocate failed")
        return 1
    rng = random.Random(a.seed)
    codes = {}
    variants = [
        lambda t: (CREATE_PERMISSION, attr(A_PEER, b"\0\1\0")),  # 3-byte address
        lambda t: (CREATE_PERMISSION, attr(A_PEER, b"\0\7\0\0" + b"\0" * 4)),  # family 7
        lambda t: (CREATE_PERMISSION, b"".join(xor_peer("198.51.100.%d" % (k % 250 + 1),
                                                        9, t) for k in range(400))),
        lambda t: (CHANNEL_BIND, attr(A_CHANNEL, b"\0\1\0\0") + xor_peer("198.51.100.1", 9, t)),
        lambda t: (CHANNEL_BIND, attr(A_CHANNEL, b"\xff\xff\0\0")),
        lambda t: (REFRESH, attr(A_LIFETIME, b"\0\0")),  # short LIFETIME
        lambda t: (REFRESH, attr(A_LIFETIME, b"\xff\xff\xff\xff") * 50),
        lambda t: (ALLOCATE, attr(A_TRANSPORT, b"\x06")),  # bad REQUESTED-TRANSPORT
        lambda t: (CREATE_PERMISSION, attr(0x0031, b"?") + xor_peer("198.51.100.1", 9, t)),
        lambda t: (CREATE_PERMISSION, attr(A_DATA, rng.randbytes(1000))),
        lambda t: (0x00F, rng.randbytes(40)),  # an unknown method
    ]
    sent = 0
    for i in range(a.count):
        tid = os.urandom(12)
        method, attrs = variants[i % len(variants)](tid)
        data, tid = s.signed(method, attrs, tid, extra_after_mi=attr(0x8022, b"after-mi")
                             if i % 3 == 0 else b"")
        r = c.transact(data, tid)
        sent += 1
        code = "none" if r is None else ("ok" if r[0] == 2 else str(error_code(r[3])))
        codes[code] = codes.get(code, 0) + 1
    print("auth_garbage_sent", sent)
    print("auth_garbage_answers", " ".join("%s:%d" % kv for kv in sorted(codes.items())))
    # Authenticated: answers past the 401 check (400, 420, 437, 508, ...), not only 401s.
    past_auth = sum(n for k, n in codes.items() if k not in ("401", "none"))
    return 0 if past_auth > 0 else 1


def cmd_denylist(a):
    c = Conn(a.host, a.port, a.tcp)
    s = Session(c, a.user, a.password)
    if not ok(s.allocate()):
        print("denylist allocate failed")
        return 1
    bad = 0
    for peer in a.peers.split(","):
        tid = os.urandom(12)
        data, tid = s.signed(CREATE_PERMISSION, xor_peer(peer, 9, tid), tid)
        r = c.transact(data, tid)
        code = "none" if r is None else ("200" if r[0] == 2 else str(error_code(r[3])))
        print("peer", peer, code)
        bad += code != "403"
    return 0 if bad == 0 else 1


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def open_many(host, port, sources, count):
    out = []
    for i in range(count):
        s = socket.socket(family(host), socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((sources[i % len(sources)], 0))
            s.connect_ex((host, port))
            out.append(s)
        except OSError:
            s.close()
    return out


def still_open(socks):
    """Sockets the server has not closed: no EOF, no reset, nothing pending."""
    alive = 0
    for s in socks:
        try:
            r, _, _ = select.select([s], [], [], 0)
            if not r:
                alive += 1
                continue
            if s.recv(4096):
                alive += 1
        except OSError:
            pass
    return alive


def cmd_lockout(a):
    """Holds idle and slowloris connections from many sources; a fresh client must allocate."""
    raise_nofile()
    base = ipaddress.ip_address(a.attack_base)
    sources = [str(base + k) for k in range(a.sources)]
    idle = open_many(a.host, a.port, sources, a.idle)
    slow = open_many(a.host, a.port, sources, a.slow)
    header = message(ALLOCATE, attr(A_TRANSPORT, bytes([17, 0, 0, 0])))
    start = time.monotonic()
    fresh, tick, sent = None, 0, 0
    while time.monotonic() - start < a.hold:
        # Slowloris: one byte per connection per second.
        for s in slow:
            try:
                s.send(header[tick % len(header):tick % len(header) + 1])
                sent += 1
            except OSError:
                pass
        tick += 1
        if fresh is None and time.monotonic() - start >= a.fresh_after:
            c = Conn(a.host, a.port, True, a.fresh_source)
            t0 = time.monotonic()
            fresh = ok(Session(c, a.user, a.password).allocate())
            print("fresh_allocate_ms", int((time.monotonic() - t0) * 1000))
            c.close()
        time.sleep(1.0)
    print("attack_connections", len(idle) + len(slow))
    print("idle_open_at_end", still_open(idle))
    print("slowloris_open_at_end", still_open(slow))
    print("slowloris_bytes_sent", sent)
    print("fresh_allocate", "ok" if fresh else "failed")
    for s in idle + slow:
        s.close()
    return 0 if fresh else 1


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cmd_noread(a):
    """Connections that send requests as fast as they can and never read the answers."""
    raise_nofile()
    sources = [str(ipaddress.ip_address(a.attack_base) + k) for k in range(a.sources)]
    socks = []
    for i in range(a.conns):
        try:
            s = socket.create_connection((a.host, a.port), timeout=1,
                                         source_address=(sources[i % len(sources)], 0))
            s.setblocking(False)
            socks.append(s)
        except OSError:
            pass
    request = message(ALLOCATE, attr(A_TRANSPORT, bytes([17, 0, 0, 0])))
    chunk = request * 256
    sent, peak = 0, 0
    deadline = time.monotonic() + a.seconds
    while time.monotonic() < deadline and sent < a.max_bytes:
        _, writable, _ = select.select([], socks, [], 0.2)
        for s in writable:
            try:
                sent += s.send(chunk)
            except OSError:
                socks.remove(s)
        if a.pid:
            peak = max(peak, vm_rss_kib(a.pid))
    print("noread_connections", len(socks))
    print("noread_bytes_sent", sent)
    print("noread_requests_sent", sent // len(request))
    if a.pid:
        print("noread_peak_rss_kib", peak)
    for s in socks:
        s.close()
    return 0


def cmd_rate(a):
    """Requests answered per second: a window of requests in flight over UDP."""
    c = Conn(a.host, a.port, False, timeout=0.2)
    method = ALLOCATE if a.allocate else BINDING
    attrs = attr(A_TRANSPORT, bytes([17, 0, 0, 0])) if a.allocate else b""
    answered = sent = 0
    deadline = time.monotonic() + a.seconds
    inflight = 0
    while time.monotonic() < deadline:
        while inflight < 16:
            c.send(message(method, attrs))
            sent += 1
            inflight += 1
        m = c.recv()
        if m is None:
            inflight = 0  # lost: refill the window
            continue
        answered += 1
        inflight -= 1
    print("requests_per_s", int(answered / a.seconds))
    print("answered", answered, "of", sent)
    return 0 if answered > 0 else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tcp", action="store_true")
    p.add_argument("--user", default="alice")
    p.add_argument("--password", default="secret")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("binding")
    q = sub.add_parser("allocate")
    q.add_argument("--source")
    q = sub.add_parser("garbage")
    q.add_argument("--count", type=int, default=2000)
    q.add_argument("--connections", type=int, default=20)
    q.add_argument("--seconds", type=float, default=10)
    q.add_argument("--seed", type=int, default=1)
    q = sub.add_parser("auth-garbage")
    q.add_argument("--count", type=int, default=200)
    q.add_argument("--seed", type=int, default=1)
    q = sub.add_parser("denylist")
    q.add_argument("--peers", required=True)
    for name in ("lockout", "noread"):
        q = sub.add_parser(name)
        q.add_argument("--attack-base", default="127.0.1.1")
        q.add_argument("--sources", type=int, default=40)
    q = sub.choices["lockout"]
    q.add_argument("--idle", type=int, default=600)
    q.add_argument("--slow", type=int, default=600)
    q.add_argument("--hold", type=float, default=8)
    q.add_argument("--fresh-after", type=float, default=3)
    q.add_argument("--fresh-source", default="127.0.0.2")
    q = sub.choices["noread"]
    q.add_argument("--conns", type=int, default=64)
    q.add_argument("--seconds", type=float, default=8)
    q.add_argument("--max-bytes", type=int, default=512 * 1024 * 1024)
    q.add_argument("--pid", type=int, default=0)
    q = sub.add_parser("rate")
    q.add_argument("--seconds", type=float, default=3)
    q.add_argument("--allocate", action="store_true")
    a = p.parse_args()
    loopback_only(a.host)
    return {"binding": cmd_binding, "allocate": cmd_allocate, "garbage": cmd_garbage,
            "auth-garbage": cmd_auth_garbage, "denylist": cmd_denylist, "lockout": cmd_lockout,
            "noread": cmd_noread, "rate": cmd_rate}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
