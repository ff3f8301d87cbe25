#!/usr/bin/env python3
"""silent_server.py PORT: accepts TCP connections on PORT (every local address) and never
answers: an NBD server that hangs before its handshake. For test_probe.sh."""
import socket
import sys

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", int(sys.argv[1])))
s.listen(5)
held = []
while True:
    held.append(s.accept())
