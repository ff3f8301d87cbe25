#!/usr/bin/env python3
"""A small raw TFTP client for the end-to-end tests (stdlib only).

  tftpc.py get  HOST PORT NAME OUT [--bind A] [--blksize N] [--tsize] [--rrq-every S]
                                   [--wait S] [--idle S]
  tftpc.py probe HOST PORT NAME [--bind A] [--blksize N] [--wait S]

get: sends the RRQ, re-sends the same RRQ from the same port every --rrq-every seconds
(default 2) until the first answer or --wait seconds (default 60), like a booting client
waiting for its server; then receives the file (ACKing each block, re-ACKing on silence),
gives up after --idle seconds (default 20) without a new block.
probe: RRQ with tsize 0 (and blksize), expects an OACK, answers ERROR 8 (like UEFI PXE).

Prints one line: `result=ok|error|timeout|badreply code=N msg="..." bytes=N tsize=N
first_ms=N total_ms=N port=N` (spaces in msg as _; port: the client's own port); exit status 0 only for result=ok.
"""
import argparse
import socket
import struct
import sys
import time


def rrq(name, opts):
    b = b"\x00\x01" + name.encode() + b"\x00octet\x00"
    for k, v in opts:
        b += k.encode() + b"\x00" + str(v).encode() + b"\x00"
    return b


def parse_oack(data):
    parts = data[2:].split(b"\x00")
    d = {}
    for i in range(0, len(parts) - 1, 2):
        if parts[i]:
            d[parts[i].decode().lower()] = parts[i + 1].decode()
    return d


LPORT = 0


def report(result, code=0, msg="", nbytes=0, tsize=-1, first=-1.0, t0=0.0):
    total = (time.monotonic() - t0) * 1000
    print('result=%s code=%d msg="%s" bytes=%d tsize=%d first_ms=%d total_ms=%d port=%d'
          % (result, code, msg.replace(" ", "_"), nbytes, tsize, first, total, LPORT), flush=True)
    sys.exit(0 if result == "ok" else 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["get", "probe"])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("name")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--blksize", type=int, default=0)
    ap.add_argument("--tsize", action="store_true")
    ap.add_argument("--rrq-every", type=float, default=2.0)
    ap.add_argument("--wait", type=float, default=60.0)
    ap.add_argument("--idle", type=float, default=20.0)
    a = ap.parse_args()

    opts = []
    if a.cmd == "probe" or a.tsize:
        opts.append(("tsize", 0))
    if a.blksize:
        opts.append(("blksize", a.blksize))
    req = rrq(a.name, opts)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.bind, 0))
    global LPORT
    LPORT = s.getsockname()[1]
    t0 = time.monotonic()
    s.sendto(req, (a.host, a.port))
    last_rrq = t0
    # wait for the first answer, re-sending the RRQ from the same port
    while True:
        now = time.monotonic()
        if now - t0 > a.wait:
            report("timeout", msg="no answer to the RRQ", t0=t0)
        s.settimeout(max(0.01, min(a.rrq_every - (now - last_rrq), t0 + a.wait - now)))
        try:
            data, peer = s.recvfrom(70000)
        except socket.timeout:
            if time.monotonic() - last_rrq >= a.rrq_every:
                s.sendto(req, (a.host, a.port))
                last_rrq = time.monotonic()
            continue
        if peer[0] != a.host:
            continue
        break
    first = (time.monotonic() - t0) * 1000
    op = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 0
    if op == 5:
        code = struct.unpack("!H", data[2:4])[0]
        report("error", code=code, msg=data[4:].split(b"\x00")[0].decode(errors="replace"),
               first=first, t0=t0)
    blksize, tsize = 512, -1
    if op == 6:
        o = parse_oack(data)
        blksize = int(o.get("blksize", 512))
        tsize = int(o.get("tsize", -1))
        if a.cmd == "probe":
            s.sendto(b"\x00\x05\x00\x08probe done\x00", peer)
            report("ok", tsize=tsize, first=first, t0=t0)
        s.sendto(b"\x00\x04\x00\x00", peer)
        last_ack = b"\x00\x04\x00\x00"
        data = None
    elif a.cmd == "probe":
        report("badreply", code=op, msg="no OACK to a tsize probe", first=first, t0=t0)
    elif op != 3:
        report("badreply", code=op, msg="unexpected opcode", first=first, t0=t0)
    out = open(a.out, "wb")
    expect, nbytes = 1, 0
    last_progress = time.monotonic()
    while True:
        if data is None:
            s.settimeout(1.0)
            try:
                data, p = s.recvfrom(70000)
            except socket.timeout:
                if time.monotonic() - last_progress > a.idle:
                    report("timeout", msg="transfer stalled", nbytes=nbytes, tsize=tsize,
                           first=first, t0=t0)
                s.sendto(last_ack, peer)
                continue
            if p != peer:
                data = None
                continue
        op = struct.unpack("!H", data[:2])[0]
        if op == 5:
            code = struct.unpack("!H", data[2:4])[0]
            report("error", code=code, msg=data[4:].split(b"\x00")[0].decode(errors="replace"),
                   nbytes=nbytes, tsize=tsize, first=first, t0=t0)
        if op != 3:
            data = None
            continue
        blk = struct.unpack("!H", data[2:4])[0]
        if blk == expect & 0xFFFF:
            payload = data[4:]
            out.write(payload)
            nbytes += len(payload)
            last_ack = b"\x00\x04" + data[2:4]
            s.sendto(last_ack, peer)
            last_progress = time.monotonic()
            expect += 1
            if len(payload) < blksize:
                out.close()
                report("ok", nbytes=nbytes, tsize=tsize, first=first, t0=t0)
        else:
            s.sendto(last_ack, peer)
        data = None


if __name__ == "__main__":
    main()
