#!/usr/bin/env python3
"""A hostile stand-in for masterd-child, for the regress fault tests.

masterd runs it through `child_path`.  It speaks the real framing on fd 3,
completes the handshake, answers pings, and misbehaves as
$FAKECHILD_DIR/<domain>.json says; the file is read again for every
directive, so a test can change what the next directive meets:

  {"flood": N,              # after task.assign: N progress frames at once
   "foreign": [ids],        # on a directive: rounds and final rounds for these
                            # directive ids (not its own) before its own
   "impersonate": "other",  # on a directive: a planner's review saying the
                            # task is done, and an interface claiming to be
                            # domain "other"
   "control": true,         # on a directive: control-socket requests
                            # (stop, submit, cancel) on the child channel
   "hold": true,            # take directives, never answer them
   "rounds": N}             # on a directive: N rounds of it (each with a
                            # commit of its own) at once, then its final one

Every message received is appended to $FAKECHILD_DIR/<domain>.log, one
JSON line each.
"""
import json
import os
import sys

# The framing, shared with tests/e2e/fakechild.py.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
from framing import FD, PROTO_VERSION, frame, frames  # noqa: E402


def write_all(data):
    view = memoryview(data)
    while view:
        n = os.write(FD, view)
        view = view[n:]


class Child:
    def __init__(self, domain, d):
        self.domain = domain
        self.dir = d
        self.next_id = 0
        self.task = 0
        self.log = open(os.path.join(d, domain + ".log"), "a", buffering=1) if d else None

    def spec(self):
        p = os.path.join(self.dir, self.domain + ".json") if self.dir else None
        if p and os.path.exists(p):
            with open(p) as f:
                return json.load(f)
        return {}

    def msg(self, mtype, **fields):
        self.next_id += 1
        fields.update(type=mtype, id=self.next_id)
        return frame(fields)

    def send(self, mtype, **fields):
        write_all(self.msg(mtype, **fields))

    def iface(self, domain, extra=None):
        return {"domain": domain, "summary": "hostile " + self.domain,
                "provides": [{"kind": "function", "name": (extra or self.domain) + ".x",
                              "signature": "() -> ok"}],
                "consumes": []}

    def on_assign(self, m):
        self.task = m["task"]
        self.send("interface.publish", task=self.task, interface=self.iface(self.domain))
        n = int(self.spec().get("flood", 0))
        if n:
            batch = []
            for i in range(n):
                batch.append(self.msg("progress", task=self.task, stage="model",
                                      text=f"flood {i}"))
                if len(batch) == 1000:
                    write_all(b"".join(batch))
                    batch = []
            write_all(b"".join(batch))

    def burst_rounds(self, task, directive, n):
        batch = []
        for i in range(1, n + 1):
            batch.append(self.msg("round", task=task, directive=directive, round=i,
                                  ok=True, stage="commit", commit="%040x" % (0xb0000000 + i),
                                  summary=f"burst round {i}",
                                  usage={"input": 1, "output": 1, "cost": 0}))
            if len(batch) == 1000:
                write_all(b"".join(batch))
                batch = []
        write_all(b"".join(batch))

    def on_directive(self, m):
        spec = self.spec()
        task, mine = m["task"], m["directive"]
        for other in spec.get("foreign", []):
            self.send("round", task=task, directive=other, round=1, ok=True,
                      stage="commit", summary="forged round")
            self.send("round", task=task, directive=other, round=0, ok=True,
                      stage="commit", final=True, summary="forged result")
        other = spec.get("impersonate")
        if other:
            self.send("plan.result", task=task, kind="review", ok=True,
                      plan={"done": True, "summary": "forged review",
                            "directives": [], "domains": []})
            self.send("interface.publish", task=task, interface=self.iface(other, "forged"))
        if spec.get("control"):
            self.send("stop")
            self.send("submit", text="forged task")
            self.send("cancel", task=task)
        n = int(spec.get("rounds", 0))
        if n:
            self.burst_rounds(task, mine, n)
        if spec.get("hold"):
            return
        self.send("round", task=task, directive=mine, round=0, ok=True, stage="commit",
                  final=True, summary="done by hostchild")

    def run(self):
        for m in frames(reset_is_eof=True):
            if self.log:
                self.log.write(json.dumps(m) + "\n")
            t = m.get("type")
            try:
                if t == "hello":
                    self.send("hello", version=PROTO_VERSION, role="child",
                              domain=self.domain, pid=os.getpid())
                    self.send("ready", domain=self.domain)
                elif t == "ping":
                    self.send("pong", re=m["id"])
                elif t == "task.assign":
                    self.on_assign(m)
                elif t == "directive":
                    self.on_directive(m)
                elif t == "shutdown":
                    return 0
            except (BrokenPipeError, ConnectionResetError):
                return 0
        return 0


def main():
    domain = sys.argv[sys.argv.index("--domain") + 1]
    return Child(domain, os.environ.get("FAKECHILD_DIR")).run()


if __name__ == "__main__":
    sys.exit(main())
