#!/usr/bin/env python3
"""A scripted stand-in for masterd-child, for supervision and control tests.

masterd is pointed at it with `child_path` in its configuration.  It speaks
the real framing on fd 3 and behaves as $FAKECHILD_DIR/<domain>.json says
(absent file: a well-behaved child):

  {"mode": "normal" | "version" | "badframe" | "oversize" | "exit78"
           | "crash" | "nopong" | "silent",
   "message": "...",        # crash: the error sent before exiting 1
                            # ("": none)
   "hold": true,            # take directives but never answer them
   "fat_round": true,       # answer each directive with a failed final
                            # round exactly max_frame bytes long
   "round_fields": {...},   # fields replaced or added in each final round
                            # (round, usage, model, checks, ok, stage)
   "interface": {...}}      # the document published on task.assign

Every message received is appended to $FAKECHILD_DIR/<domain>.log as one
JSON line, so tests can assert on what the master sent.  A directive whose
text starts with "publish:" makes it publish a new interface version that
provides an entry named by the rest of the text.
"""
import json
import os
import struct
import sys

from framing import FD, PROTO_VERSION, frame, frames


def send(obj):
    os.write(FD, frame(obj))


class Child:
    def __init__(self, domain, spec, logpath):
        self.domain = domain
        self.spec = spec
        self.log = open(logpath, "a", buffering=1) if logpath else None
        self.next_id = 0
        self.task = 0
        self.iface = spec.get("interface") or {
            "domain": domain, "version": 1, "summary": "fake " + domain,
            "provides": [{"kind": "function", "name": domain + ".ping",
                          "signature": "() -> ok"}],
            "consumes": []}

    def msg(self, mtype, **fields):
        self.next_id += 1
        fields.update(type=mtype, id=self.next_id)
        send(fields)

    def publish(self):
        self.msg("interface.publish", task=self.task, interface=self.iface)

    def on_hello(self, m):
        self.max_frame = m.get("max_frame", 16 << 20)
        mode = self.spec.get("mode", "normal")
        if mode == "version":
            self.msg("hello", version=PROTO_VERSION + 41, role="child")
            return
        if mode == "badframe":
            os.write(FD, struct.pack(">I", 5) + b"{bad}")
            return
        if mode == "oversize":
            os.write(FD, struct.pack(">I", 0x7fffffff))
            return
        if mode == "exit78":
            self.msg("error", code="config", message="no API key set")
            sys.exit(78)
        if mode == "crash":
            if self.spec.get("message", "crashed"):
                self.msg("error", code="internal",
                         message=self.spec.get("message", "crashed"))
            sys.exit(1)
        if mode == "silent":
            return
        self.msg("hello", version=PROTO_VERSION, role="child",
                 domain=self.domain, pid=os.getpid())
        self.msg("ready", domain=self.domain)

    def on_directive(self, m):
        text = m.get("text", "")
        if text.startswith("publish:"):
            self.iface = dict(self.iface)
            self.iface["provides"] = list(self.iface["provides"]) + [
                {"kind": "function", "name": text[len("publish:"):],
                 "signature": "() -> ok"}]
            self.publish()
        if self.spec.get("hold"):
            return
        if self.spec.get("fat_round"):
            self.fat_round(m)
            return
        # The final round; round 0: no round of its own was played.
        # "round_fields" replaces or adds fields (round, usage, model,
        # checks, ok, stage) for tests that count what rounds report.
        fields = dict(task=m["task"], directive=m["directive"], round=0,
                      ok=True, stage="commit", final=True,
                      summary="done by fakechild")
        fields.update(self.spec.get("round_fields", {}))
        self.msg("round", **fields)

    def fat_round(self, m):
        """A round the master can read, but whose error, once in an event
        with its envelope, is over the master's max_frame."""
        self.next_id += 1
        r = {"type": "round", "id": self.next_id, "task": m["task"],
             "directive": m["directive"], "round": 0, "ok": False,
             "stage": "checks", "final": True,
             "error": {"code": "checks", "message": ""}}
        size = len(json.dumps(r, separators=(",", ":")).encode())
        r["error"]["message"] = "x" * (self.max_frame - size)
        data = json.dumps(r, separators=(",", ":")).encode()
        assert len(data) == self.max_frame
        os.write(FD, struct.pack(">I", len(data)) + data)

    def run(self):
        for m in frames():
            if self.log:
                self.log.write(json.dumps(m) + "\n")
            t = m.get("type")
            if t == "hello":
                self.on_hello(m)
            elif t == "ping" and self.spec.get("mode") != "nopong":
                self.msg("pong", re=m["id"])
            elif t == "task.assign":
                self.task = m["task"]
                self.publish()
            elif t == "directive":
                self.on_directive(m)
            elif t == "shutdown":
                return 0
        return 0


def main():
    domain = sys.argv[sys.argv.index("--domain") + 1]
    d = os.environ.get("FAKECHILD_DIR")
    spec = {}
    if d and os.path.exists(os.path.join(d, domain + ".json")):
        with open(os.path.join(d, domain + ".json")) as f:
            spec = json.load(f)
    logpath = os.path.join(d, domain + ".log") if d else None
    return Child(domain, spec, logpath).run()


if __name__ == "__main__":
    sys.exit(main())
