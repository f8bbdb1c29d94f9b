#!/usr/bin/env python3
"""ctl_fakemd.py SOCKET — a stand-in for masterd on a control socket, for
what masterctl shows of answers the real one does not give yet or gives
only after a long run: `metrics` answers {"text": ...} (the request helper
"ops" adds to masterd), `transcript` a long conversation in pages.  Every
other request is refused as masterd refuses an unknown one.  Serves until
killed.
"""
import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from framing import frame, read_frame  # noqa: E402

METRICS = ("# HELP masterd_tasks Tasks by state.\n"
           "# TYPE masterd_tasks gauge\n"
           "masterd_tasks{state=\"running\"} 1\n")


def transcript():
    turns = [{"time": 1764742800 + i, "user": "question %d" % i,
              "assistant": "answer %d" % i} for i in range(200)]
    return json.dumps({"api": "chat", "model": "fake", "turns": turns},
                      ensure_ascii=True, separators=(",", ":"))


def answer(m):
    t, i = m.get("type"), m.get("id")
    if t == "metrics":
        return {"re": i, "ok": True, "text": METRICS}
    if t == "transcript":
        text = transcript()
        off = m.get("offset", 0)
        part = text[off:off + 4096]
        return {"re": i, "ok": True, "task": 1, "domain": m.get("domain"),
                "size": len(text), "offset": off, "length": len(part),
                "stamp": "0123456789abcdef", "data": part}
    return {"re": i, "ok": False, "error": {
        "code": "unknown_type", "message": "%s is not a request" % t}}


def main():
    path = sys.argv[1]
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    while True:
        c, _ = srv.accept()
        with c:
            while True:
                m = read_frame(c)
                if m is None:
                    break
                c.sendall(frame(answer(m)))


if __name__ == "__main__":
    main()
