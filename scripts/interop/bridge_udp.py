#!/usr/bin/env python3
"""UDP helpers for scripts/interop-bridge.sh, run inside a bridged namespace.

  bridge_udp.py rtt HOST PORT COUNT      echo round trips: prints "rtt min=.. median=.. max=.. ms lost=N"
  bridge_udp.py blast HOST PORT SECONDS  sends 64-byte datagrams as fast as it can; prints "sent N"
  bridge_udp.py tcp HOST PORT BYTES      sends BYTES over TCP to an echo server, reads them back;
                                         prints "tcp echoed N intact|CORRUPT in S s"
  bridge_udp.py tcp-serve PORT           a TCP echo server for one connection
  bridge_udp.py sink PORT SECONDS        counts datagrams for SECONDS after the first; prints
                                         "received N in S s = R pps"
"""
import socket
import statistics
import sys
import time


def rtt(host, port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2.0)
    samples, lost = [], 0
    for i in range(count):
        payload = b"natsim-rtt-%06d" % i
        t0 = time.perf_counter()
        s.sendto(payload, (host, port))
        try:
            while True:
                data, _ = s.recvfrom(2048)
                if data == payload:
                    break
            samples.append((time.perf_counter() - t0) * 1000.0)
        except socket.timeout:
            lost += 1
        time.sleep(0.02)
    if not samples:
        print("rtt none lost=%d" % lost)
        return 1
    print("rtt min=%.2f median=%.2f max=%.2f ms lost=%d" %
          (min(samples), statistics.median(samples), max(samples), lost))
    return 0


def blast(host, port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))
    payload = b"x" * 64
    sent = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(64):
            try:
                s.send(payload)
                sent += 1
            except OSError:
                pass
    print("sent %d" % sent)
    return 0


def sink(port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("0.0.0.0", port))
    s.settimeout(30.0)
    s.recvfrom(2048)
    n, t0 = 1, time.perf_counter()
    s.settimeout(0.5)
    while time.perf_counter() - t0 < seconds:
        try:
            s.recvfrom(2048)
            n += 1
        except socket.timeout:
            break
    dt = time.perf_counter() - t0
    print("received %d in %.2f s = %.0f pps" % (n, dt, n / dt))
    return 0


def tcp(host, port, count):
    s = socket.create_connection((host, port), timeout=10)
    data = bytes(i % 251 for i in range(count))
    t0 = time.perf_counter()
    s.sendall(data)
    got = bytearray()
    while len(got) < len(data):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    print("tcp echoed %d %s in %.2f s" %
          (len(got), "intact" if bytes(got) == data else "CORRUPT", time.perf_counter() - t0))
    return 0 if bytes(got) == data else 1


def tcp_serve(port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(1)
    ls.settimeout(30)
    c, _ = ls.accept()
    while True:
        chunk = c.recv(65536)
        if not chunk:
            break
        c.sendall(chunk)
    c.close()
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "tcp":
        sys.exit(tcp(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    if sys.argv[1] == "tcp-serve":
        sys.exit(tcp_serve(int(sys.argv[2])))
    cmd = sys.argv[1]
    if cmd == "rtt":
        sys.exit(rtt(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    if cmd == "blast":
        sys.exit(blast(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
    if cmd == "sink":
        sys.exit(sink(int(sys.argv[2]), float(sys.argv[3])))
    sys.exit(__doc__)
