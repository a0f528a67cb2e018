#!/usr/bin/python3
"""UDP probes for scripts/fidelity-lab.sh, run inside the lab's network namespaces.

  reflect  --bind IP,IP --ports P,P    answer every datagram with "SEEN ip:port" (its source)
  map      --src IP:PORT --dst IP:PORT [--dst ...]
                                       print the mapped endpoint a reflector saw, per dst
  send     --src IP:PORT --dst IP:PORT one datagram, nothing awaited (an early inbound)
  hairpin  --src IP:PORT --dst IP:PORT "icmp-unreachable", "silent" or "delivered"
  host     --src IP:PORT --dst IP:PORT --out T,T,... --until T
                                       send at the given times (s from start); print the
                                       indices of the peer's datagrams that arrived
  peer     --bind IP:PORT --in T,T,... send "IN k" to whoever sent first, at the given
                                       times (s after that first datagram)

Every mode ends on its own (timeouts); the lab also runs each under `timeout`.
"""
import argparse
import select
import socket
import sys
import time


def endpoint(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def bound(src):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(endpoint(src))
    return s


def reflect(a):
    socks = []
    # One socket per address and port: an answer leaves from the address it was sent to.
    for addr in a.bind.split(","):
        for p in a.ports.split(","):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((addr, int(p)))
            socks.append(s)
    while True:
        ready, _, _ = select.select(socks, [], [])
        for s in ready:
            try:
                data, src = s.recvfrom(2048)
            except OSError:
                continue  # an ICMP error from an earlier answer
            if data.startswith(b"MAP"):
                s.sendto(("SEEN %s:%d" % src).encode(), src)


def map_(a):
    s = bound(a.src)
    s.settimeout(1.0)
    for dst in a.dst:
        seen = "none"
        for _ in range(3):
            s.sendto(b"MAP", endpoint(dst))
            try:
                data, _ = s.recvfrom(2048)
            except (socket.timeout, OSError):
                continue
            seen = data.decode().split()[1]
            break
        print(seen, flush=True)


def send(a):
    s = bound(a.src)
    s.sendto(b"EARLY", endpoint(a.dst))


def hairpin(a):
    s = bound(a.src)
    s.connect(endpoint(a.dst))
    s.settimeout(2.0)
    s.send(b"HAIRPIN")
    try:
        s.recv(2048)
        print("delivered")
    except ConnectionRefusedError:
        print("icmp-unreachable")
    except socket.timeout:
        print("silent")


def host(a):
    s = bound(a.src)
    dst = endpoint(a.dst)
    outs = [float(t) for t in a.out.split(",")]
    start = time.monotonic()
    got = []
    while True:
        now = time.monotonic() - start
        while outs and outs[0] <= now:
            s.sendto(b"OUT", dst)
            print("sent at %.2f" % now, file=sys.stderr, flush=True)
            outs.pop(0)
        if now >= a.until:
            break
        wait = min([a.until - now] + [t - now for t in outs[:1]])
        ready, _, _ = select.select([s], [], [], max(wait, 0))
        if ready:
            try:
                data, _ = s.recvfrom(2048)
            except OSError:
                continue
            if data.startswith(b"IN "):
                got.append(data.decode().split()[1])
                print("got %s at %.2f" % (got[-1], time.monotonic() - start), file=sys.stderr,
                      flush=True)
    print("received " + (",".join(got) if got else "-"), flush=True)


def peer(a):
    s = bound(a.bind)
    ins = [float(t) for t in a.__dict__["in"].split(",")]
    s.settimeout(60)
    _, src = s.recvfrom(2048)  # the host's first datagram: where to send
    start = time.monotonic()
    for k, t in enumerate(ins):
        delay = start + t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            s.sendto(("IN %d" % k).encode(), src)
            print("sent IN %d at %.2f to %s:%d" % (k, time.monotonic() - start, *src), flush=True)
        except OSError as e:
            print("IN %d at %.2f: %s" % (k, time.monotonic() - start, e), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["reflect", "map", "send", "hairpin", "host", "peer"])
    p.add_argument("--bind")
    p.add_argument("--ports")
    p.add_argument("--src")
    p.add_argument("--dst", action="append")
    p.add_argument("--out")
    p.add_argument("--in")
    p.add_argument("--until", type=float, default=0)
    a = p.parse_args()
    if a.mode not in ("map",) and a.dst:
        a.dst = a.dst[0]
    {"reflect": reflect, "map": map_, "send": send, "hairpin": hairpin, "host": host,
     "peer": peer}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
