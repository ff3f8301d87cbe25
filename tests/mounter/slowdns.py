#!/usr/bin/env python3
"""slowdns.py DELAY ADDR...: a DNS server on 127.0.0.1:53 that answers each query after DELAY
seconds: A queries with ADDR..., any other with no record. For the resolver tests, in a
private network namespace (test_probe.sh)."""
import socket
import sys
import threading

delay, addrs = float(sys.argv[1]), sys.argv[2:]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))


def answer(q, peer):
    end = q.index(b"\0", 12) + 5            # the question: name, type, class
    a = q[end - 4:end - 2] == b"\0\1"
    recs = [bytes.fromhex("c00c000100010000003c0004") + socket.inet_aton(x) for x in addrs] if a else []
    head = q[:2] + b"\x81\x80\0\1" + len(recs).to_bytes(2, "big") + b"\0\0\0\0"
    s.sendto(head + q[12:end] + b"".join(recs), peer)


while True:
    q, peer = s.recvfrom(512)
    threading.Timer(delay, answer, (q, peer)).start()
