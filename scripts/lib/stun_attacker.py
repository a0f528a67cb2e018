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
        self.timeout = timeout
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
        deadline = time.monotonic() + self.timeout
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
    c = Conn(a.host, a.port, a.tcp, timeout=a.timeout)
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
    sent, by_variant = 0, {}
    for i in range(a.count):
        tid = os.urandom(12)
        method, attrs = variants[i % len(variants)](tid)
        data, tid = s.signed(method, attrs, tid, extra_after_mi=attr(0x8022, b"after-mi")
                             if i % 3 == 0 else b"")
        r = c.transact(data, tid)
        sent += 1
        code = "none" if r is None else ("ok" if r[0] == 2 else str(error_code(r[3])))
        codes[code] = codes.get(code, 0) + 1
        by_variant.setdefault(i % len(variants), set()).add(code)
    print("auth_garbage_sent", sent)
    print("auth_garbage_answers", " ".join("%s:%d" % kv for kv in sorted(codes.items())))
    print("auth_garbage_by_variant", " ".join("%d:%s" % (k, "/".join(sorted(v)))
                                              for k, v in sorted(by_variant.items())))
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
    """Sockets the server has not closed: no EOF, no reset (poll: descriptors past 1024)."""
    poller = select.poll()
    by_fd = {}
    for s in socks:
        try:
            by_fd[s.fileno()] = s
            poller.register(s, select.POLLIN)
        except (OSError, ValueError):
            pass
    ready = {fd for fd, _ in poller.poll(0)}
    alive = sum(1 for fd in by_fd if fd not in ready)
    for fd in ready:
        s = by_fd[fd]
        for _ in range(16):  # what the server sent, then maybe its FIN: bounded reads
            try:
                if not s.recv(65536, socket.MSG_DONTWAIT):
                    break  # EOF
            except BlockingIOError:
                alive += 1  # data read, no EOF behind it
                break
            except OSError:
                break  # reset
        else:
            alive += 1  # still sending: open
    return alive


def server_held(host, port, network):
    """Connections the server at host:port holds from `network` (IPv4), as the kernel sees
    them (/proc/net/tcp): the server's end ESTABLISHED, or CLOSE_WAIT (the client closed and
    the server has not yet), so a connection the server closed is not counted."""
    if family(host) != socket.AF_INET:
        return -1
    net = ipaddress.ip_network(network, strict=False)
    want = "%08X:%04X" % (struct.unpack("<I", ipaddress.IPv4Address(host).packed)[0], port)
    held = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] != want or fields[3] not in ("01", "08"):
                continue
            raddr = fields[2].split(":")[0]
            if ipaddress.IPv4Address(struct.pack("<I", int(raddr, 16))) in net:
                held += 1
    return held


def reopen_closed(socks, host, port, sources, budget):
    """Replaces the sockets the server closed by new connections, at most `budget` of them;
    returns how many were opened."""
    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLIN)
    ready = {fd for fd, _ in poller.poll(0)}
    opened = 0
    for i, s in enumerate(socks):
        if opened >= budget or s.fileno() not in ready:
            continue
        try:
            if s.recv(4096, socket.MSG_DONTWAIT):
                continue  # data, not the end
        except BlockingIOError:
            continue
        except OSError:
            pass
        new = open_many(host, port, [sources[i % len(sources)]], 1)
        if new:
            s.close()
            socks[i] = new[0]
            opened += 1
    return opened


def cmd_lockout(a):
    """Idle and slowloris connections from many sources, reopened as the server closes them
    (setup timeout, eviction, refusal) until --reconnect-for; meanwhile a fresh client
    allocates every second and keeps its connection. Then the attackers stop reconnecting
    and, once the setup timeout has passed, the server must hold none of them."""
    raise_nofile()
    base = ipaddress.ip_address(a.attack_base)
    sources = [str(base + k) for k in range(a.sources)]
    network = a.attack_base + "/24"
    idle = open_many(a.host, a.port, sources, a.idle)
    slow = open_many(a.host, a.port, sources, a.slow)
    header = message(ALLOCATE, attr(A_TRANSPORT, bytes([17, 0, 0, 0])))
    start = time.monotonic()
    tick, sent, reopened = 0, 0, 0
    budget = 10 * (a.idle + a.slow)
    fresh, fresh_ok, fresh_tried, fresh_ms, held_at_fresh = [], 0, 0, [], []
    while time.monotonic() - start < a.hold:
        now = time.monotonic() - start
        if now < a.reconnect_for and reopened < budget:
            reopened += reopen_closed(idle, a.host, a.port, sources, budget - reopened)
            reopened += reopen_closed(slow, a.host, a.port, sources, budget - reopened)
        # Slowloris: one byte per connection per second.
        for s in slow:
            try:
                s.send(header[tick % len(header):tick % len(header) + 1])
                sent += 1
            except OSError:
                pass
        tick += 1
        if a.fresh_after <= now < a.reconnect_for:
            held_at_fresh.append(server_held(a.host, a.port, network))
            t0 = time.monotonic()
            try:
                c = Conn(a.host, a.port, True, a.fresh_source)
            except OSError:
                c = None
            good = c is not None and ok(Session(c, a.user, a.password).allocate())
            fresh_ms.append((time.monotonic() - t0) * 1000)
            fresh_ok += good
            fresh_tried += 1
            if c is not None:
                fresh.append(c)
        time.sleep(max(0.0, start + tick - time.monotonic()))
    print("attack_connections", len(idle) + len(slow))
    print("attack_reconnects", reopened)
    print("attack_held_by_server_at_fresh", "min", min(held_at_fresh, default=0),
          "max", max(held_at_fresh, default=0))
    print("fresh_allocations", "%d of %d" % (fresh_ok, fresh_tried))
    print("fresh_allocate_ms", "max %.1f" % max(fresh_ms, default=0))
    fresh_open = still_open([c.sock for c in fresh])
    print("fresh_open_at_end", "%d of %d" % (fresh_open, fresh_tried))
    print("attack_held_by_server_at_end", server_held(a.host, a.port, network))
    print("idle_open_at_end", still_open(idle))
    print("slowloris_open_at_end", still_open(slow))
    print("slowloris_bytes_sent", sent)
    for s in idle + slow + [c.sock for c in fresh]:
        s.close()
    good = fresh_tried > 0 and fresh_ok == fresh_tried and fresh_open == fresh_tried
    return 0 if good else 1


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
    poller = select.poll()
    by_fd = {}
    for s in socks:
        by_fd[s.fileno()] = s
        poller.register(s, select.POLLOUT)
    while time.monotonic() < deadline and sent < a.max_bytes and by_fd:
        for fd, events in poller.poll(200):
            s = by_fd.get(fd)
            if s is None:
                continue
            try:
                if events & (select.POLLERR | select.POLLHUP):
                    raise ConnectionResetError
                sent += s.send(chunk)
            except BlockingIOError:
                pass
            except OSError:
                poller.unregister(fd)
                del by_fd[fd]
                socks.remove(s)
        if a.pid:
            peak = max(peak, vm_rss_kib(a.pid))
    print("noread_connections", len(socks))
    network = a.attack_base + "/24"
    if a.linger:
        # Keep the connections (still not reading) and watch the server let them go.
        end = time.monotonic() + a.linger
        while time.monotonic() < end and server_held(a.host, a.port, network) > 0:
            time.sleep(0.2)
    print("noread_held_by_server", server_held(a.host, a.port, network))
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
    q.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each answer")
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
    q.add_argument("--hold", type=float, default=10)
    q.add_argument("--reconnect-for", type=float, default=6)
    q.add_argument("--fresh-after", type=float, default=1)
    q.add_argument("--fresh-source", default="127.0.0.2")
    q = sub.choices["noread"]
    q.add_argument("--conns", type=int, default=64)
    q.add_argument("--seconds", type=float, default=8)
    q.add_argument("--max-bytes", type=int, default=512 * 1024 * 1024)
    q.add_argument("--pid", type=int, default=0)
    q.add_argument("--linger", type=float, default=0,
                   help="seconds to keep the connections open afterwards, not reading")
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
