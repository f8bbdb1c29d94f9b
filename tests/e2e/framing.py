"""masterd's framing, for the tests' own peers: a 4-byte big-endian
length, then that many bytes of JSON.  On the child channel (fd 3) for the
scripted stand-ins for masterd-child (tests/e2e/fakechild.py,
tests/regress/hostchild.py); on the control socket for the tests' raw
clients.
"""
import json
import os
import struct

FD = 3
PROTO_VERSION = 1


def frame(obj):
    data = json.dumps(obj).encode()
    return struct.pack(">I", len(data)) + data


def recv_exact(s, n):
    """n bytes from socket s, or None at EOF."""
    buf = b""
    while len(buf) < n:
        c = s.recv(n - len(buf))
        if not c:
            return None
        buf += c
    return buf


def read_frame(s):
    """The next message from socket s, or None at EOF."""
    h = recv_exact(s, 4)
    if h is None:
        return None
    body = recv_exact(s, struct.unpack(">I", h)[0])
    return None if body is None else json.loads(body)


def frames(reset_is_eof=False):
    """Every message from the master until the channel closes (or, with
    reset_is_eof, is reset)."""
    buf = b""
    while True:
        try:
            chunk = os.read(FD, 65536)
        except ConnectionResetError:
            if not reset_is_eof:
                raise
            return
        if not chunk:
            return
        buf += chunk
        while len(buf) >= 4:
            (n,) = struct.unpack(">I", buf[:4])
            if len(buf) < 4 + n:
                break
            yield json.loads(buf[4:4 + n])
            buf = buf[4 + n:]
