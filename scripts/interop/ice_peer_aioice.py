#!/usr/bin/python3
"""An aioice (Debian python3-aioice) ICE agent that swaps descriptions with `natsim connect`
through files, in natsim's text format (docs/ice.md, "On real sockets"):

    ice-ufrag:UFRAG
    ice-pwd:PWD
    candidate:FOUNDATION 1 udp PRIORITY ADDRESS PORT typ TYPE [raddr A rport P]
    end-of-candidates

  ice_peer_aioice.py --role controlling|controlled --offer-out MINE --remote THEIRS
                     [--stun IP:PORT] [--count 3] [--echo-count 3] [--timeout 20]

Once connected it sends "aioice-ping-N" --count times and echoes every other datagram;
it finishes when its own pings have come back and it has echoed --echo-count datagrams.
Prints "selected LOCAL -> REMOTE", "recv TEXT" per datagram and finally "RESULT OK"
(exit 0) or "RESULT FAIL reason" (exit 1).
"""
import argparse
import asyncio
import os
import sys
import time

import aioice


def hostport(text):
    host, port = text.rsplit(":", 1)
    return host.strip("[]"), int(port)


def write_description(conn, path):
    lines = ["ice-ufrag:" + conn.local_username, "ice-pwd:" + conn.local_password]
    lines += ["candidate:" + c.to_sdp() for c in conn.local_candidates]
    lines.append("end-of-candidates")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(path + ".tmp", path)  # whole or not at all for the reader
    for line in lines:
        print("local", line, flush=True)


async def read_description(path, deadline):
    """Polls `path` until it holds a complete description (end-of-candidates)."""
    while True:
        if os.path.exists(path):
            with open(path) as f:
                lines = [l.strip() for l in f if l.strip() and not l.startswith("#")]
            if "end-of-candidates" in lines:
                return lines
        if time.monotonic() > deadline:
            raise TimeoutError("no complete remote description in " + path)
        await asyncio.sleep(0.05)


async def run(a):
    deadline = time.monotonic() + a.timeout
    kw = {"ice_controlling": a.role == "controlling", "components": 1, "use_ipv6": False}
    if a.stun:
        kw["stun_server"] = hostport(a.stun)
    conn = aioice.Connection(**kw)
    await conn.gather_candidates()
    write_description(conn, a.offer_out)

    for line in await read_description(a.remote, deadline):
        if line.startswith("ice-ufrag:"):
            conn.remote_username = line[len("ice-ufrag:"):]
        elif line.startswith("ice-pwd:"):
            conn.remote_password = line[len("ice-pwd:"):]
        elif line.startswith("candidate:"):
            await conn.add_remote_candidate(aioice.Candidate.from_sdp(line[len("candidate:"):]))
    await conn.add_remote_candidate(None)

    await asyncio.wait_for(conn.connect(), max(0.1, deadline - time.monotonic()))
    pair = conn._nominated.get(1)  # aioice keeps the nominated pair per component
    if pair is not None:
        local, remote = pair.local_candidate, pair.remote_candidate
        print(f"selected {local.type} {local.host}:{local.port} -> "
              f"{remote.type} {remote.host}:{remote.port}", flush=True)

    own = {f"aioice-ping-{i}".encode() for i in range(a.count)}
    for ping in sorted(own):
        await conn.send(ping)
    back, echoed = set(), 0
    while back != own or echoed < a.echo_count:
        data = await asyncio.wait_for(conn.recv(), max(0.1, deadline - time.monotonic()))
        print("recv", data.decode(errors="replace"), flush=True)
        if data in own:
            back.add(data)
        else:
            await conn.send(data)
            echoed += 1
    print(f"pings back {len(back)}/{len(own)}, echoed {echoed}", flush=True)
    await conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--role", choices=["controlling", "controlled"], required=True)
    p.add_argument("--offer-out", required=True)
    p.add_argument("--remote", required=True)
    p.add_argument("--stun")
    p.add_argument("--count", type=int, default=3)
    p.add_argument("--echo-count", type=int, default=3)
    p.add_argument("--timeout", type=float, default=20)
    a = p.parse_args()
    try:
        asyncio.run(run(a))
    except Exception as e:  # every failure becomes a verdict line
        print("RESULT FAIL", type(e).__name__, e, flush=True)
        return 1
    print("RESULT OK", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
