#!/usr/bin/env python3
"""verify.py — the soak test's judgement, once masterd has stopped.

Reads what the run left behind: each task as `masterctl --json task N`
showed it when the load had settled (DIR/task-N.json), the task
repositories, the SQLite registry, masterd's log and llmd's record.
Checks that every accepted round is in git exactly once and in SQLite
exactly once and that no task is stuck, prints one "FAIL: ..." line per
broken promise, writes the run's numbers as key=value lines to --stats,
and exits 1 when anything failed.
"""
import argparse
import collections
import json
import os
import re
import sqlite3
import subprocess
import sys

END_STATES = ("improving", "done", "failed")
OPEN = ("queued", "running")

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def git(gitdir, *args, check=True):
    p = subprocess.run(["git", "--git-dir=" + gitdir] + list(args),
                       capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError("git %s: %s" % (" ".join(args), p.stderr.strip()))
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, required=True)
    ap.add_argument("--domains", type=int, required=True)
    ap.add_argument("--snapshots", required=True, help="dir of task-N.json")
    ap.add_argument("--state", required=True, help="masterd's state dir")
    ap.add_argument("--log", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--watch", required=True, help="masterctl --json watch")
    ap.add_argument("--stats", required=True)
    a = ap.parse_args()

    names = ["d%d" % i for i in range(1, a.domains + 1)]
    tasks = {}
    for n in range(1, a.tasks + 1):
        p = os.path.join(a.snapshots, "task-%d.json" % n)
        if not os.path.exists(p):
            fail("task %d: never seen" % n)
            continue
        tasks[n] = json.load(open(p))

    stats = collections.OrderedDict()
    stats["rounds"] = 0
    stats["accepted"] = 0
    stats["dropped"] = 0
    stats["dir_retries"] = 0
    stats["failed_tasks"] = 0
    legit_failed = []

    # ------------------------------------------------ nothing stuck
    for n, r in tasks.items():
        t = r["task"]
        doms = sorted(d["name"] for d in r["domains"])
        if doms != sorted(names):
            fail("task %d: domains %s, want %s" % (n, doms, names))
        if t["state"] not in END_STATES:
            fail("task %d stuck in state %s (reason: %s)" % (n, t["state"],
                 t["reason"]))
        if t["paused"]:
            fail("task %d paused: %s" % (n, t["reason"]))
        for d in r["directives"]:
            stats["dir_retries"] += max(d["attempts"] - 1, 0)
            if d["state"] in OPEN:
                fail("task %d stuck: directive %d (%s) still %s" % (n,
                     d["id"], d["domain"], d["state"]))
            elif d["state"] == "dropped":
                stats["dropped"] += 1
        for d in r["domains"]:
            # An improving task keeps its children up, waiting for work.
            if t["state"] == "improving" and d["state"] != "running":
                fail("task %d: domain %s is %s (%s)" % (n, d["name"],
                     d["state"], d["reason"]))
        if t["state"] == "failed":
            stats["failed_tasks"] += 1
            # Legitimate only when every directive was dropped after
            # rounds that each ended in an error of the model's calls.
            bad = [x for x in r["rounds"] if x["ok"] or not x["error"]]
            dirs = [d for d in r["directives"] if d["state"] != "dropped"]
            if bad or dirs or not r["rounds"]:
                fail("task %d failed without repeated faults: rounds %s, "
                     "directives %s" % (n, [(x["domain"], x["stage"],
                     x["error"]) for x in r["rounds"]], [(d["domain"],
                     d["state"]) for d in r["directives"]]))
            else:
                legit_failed.append("task %d failed: %s" % (n, "; ".join(
                    "%s round %d %s: %s" % (x["domain"], x["round"],
                    x["stage"], x["error"]) for x in r["rounds"])))

    # ------------------------------------------------ git: exactly once
    per_domain = collections.Counter()
    forked_late = []
    for n, r in tasks.items():
        gitdir = os.path.join(a.state, "tasks", str(n), "repo.git")
        stats["rounds"] += len(r["rounds"])
        accepted = [x for x in r["rounds"] if x["ok"] and x["commit"]]
        stats["accepted"] += len(accepted)
        seen = {}
        for x in accepted:
            c = x["commit"]
            if c in seen:
                fail("task %d: rounds %d and %d share commit %s" % (n,
                     seen[c], x["id"], c))
            seen[c] = x["id"]
        # Each directive done with a commit was accepted exactly once.
        by_dir = collections.Counter(x["directive"] for x in r["rounds"]
                                     if x["ok"])
        for d in r["directives"]:
            if d["state"] == "done" and by_dir[d["id"]] != 1:
                fail("task %d: directive %d done with %d accepted rounds" %
                     (n, d["id"], by_dir[d["id"]]))
        try:
            root = git(gitdir, "rev-list", "--max-parents=0",
                       "main").stdout.split()
        except RuntimeError as e:
            fail("task %d: %s" % (n, e))
            continue
        if len(root) != 1:
            fail("task %d: roots %s" % (n, root))
            continue
        for x in accepted:
            c, d = x["commit"], x["domain"]
            if git(gitdir, "cat-file", "-e", c + "^{commit}",
                   check=False).returncode != 0:
                fail("task %d: round %d's commit %s is not in git" % (n,
                     x["id"], c))
                continue
            for ref in ("domain/" + d, "main"):
                if git(gitdir, "merge-base", "--is-ancestor", c, ref,
                       check=False).returncode != 0:
                    fail("task %d: round %d's commit %s is not on %s" % (n,
                         x["id"], c, ref))
            show = git(gitdir, "log", "-1", "--format=%an%n%B", c).stdout
            author, _, body = show.partition("\n")
            if author != d:
                fail("task %d: commit %s authored by %s, not %s" % (n, c,
                     author, d))
            want = "Masterd-Round: %d/%d" % (x["directive"], x["round"])
            if want not in body.splitlines():
                fail("task %d: commit %s lacks the trailer %r" % (n, c, want))
        for d in names:
            ref = "domain/" + d
            want = sorted(x["commit"] for x in accepted if x["domain"] == d)
            per_domain[d] += len(want)
            p = git(gitdir, "log", "--format=%H", "--author=^%s <" % d,
                    "%s..%s" % (root[0], ref), check=False)
            if p.returncode != 0:
                if want:
                    fail("task %d: no branch %s: %s" % (n, ref,
                         p.stderr.strip()))
                continue
            got = sorted(p.stdout.split())
            if got != want:
                fail("task %d: %s has %d commits by %s, %d accepted rounds "
                     "(%s vs %s)" % (n, ref, len(got), d, len(want), got,
                     want))
            # Not a failure: a branch is forked from main when its child
            # first starts, and takes main's code of its peers before each
            # directive (repo_refresh_domain), so it carries the peers'
            # work merged before (see the report).
            others = git(gitdir, "log", "--format=%an", "%s..%s" % (root[0],
                         ref)).stdout.split()
            if any(o != d for o in others):
                forked_late.append("task %d: %s has main's work of %s" %
                                   (n, ref, ", ".join(sorted(set(
                                       o for o in others if o != d)))))

    # ------------------------------------------------ SQLite: exactly once
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(a.state,
                         "masterd.db"), uri=True)
    for n, r in tasks.items():
        rows = db.execute("SELECT id, domain_id, ok, commit_id FROM rounds "
                          "WHERE task_id = ?", (n,)).fetchall()
        if len(rows) != len(r["rounds"]):
            fail("task %d: %d rounds in SQLite, %d shown by masterctl" % (n,
                 len(rows), len(r["rounds"])))
        commits = collections.Counter(c for _, _, ok, c in rows if c)
        for x in r["rounds"]:
            if not (x["ok"] and x["commit"]):
                continue
            if commits[x["commit"]] != 1:
                fail("task %d: commit %s in %d rows of rounds" % (n,
                     x["commit"], commits[x["commit"]]))
            row = [w for w in rows if w[0] == x["id"]]
            if len(row) != 1 or row[0][3] != x["commit"] or row[0][2] != 1:
                fail("task %d: round %d in SQLite as %s" % (n, x["id"], row))
        extra = set(commits) - set(x["commit"] for x in r["rounds"])
        if extra:
            fail("task %d: commits in SQLite only: %s" % (n, sorted(extra)))
        # One implemented interface version per domain with accepted
        # work, and at most one declared (sent before the first round's
        # checks): every answer carries the same document, so a second
        # version of either kind would be a duplicate.
        for name, versions, declared in db.execute(
                "SELECT d.name, count(i.id) - total(i.declared), "
                "total(i.declared) FROM domains d LEFT JOIN "
                "interfaces i ON i.domain_id = d.id WHERE d.task_id = ? "
                "GROUP BY d.id", (n,)):
            acc = sum(1 for x in r["rounds"] if x["domain"] == name and
                      x["ok"] and x["commit"])
            if versions != (1 if acc else 0) or declared > 1:
                fail("task %d: %s has %d implemented and %d declared "
                     "interface versions, %d accepted rounds" % (n, name,
                     versions, declared, acc))
    left = db.execute("SELECT count(*) FROM directives WHERE state IN "
                      "('queued', 'running')").fetchone()[0]
    if left:
        fail("%d directives still open in SQLite" % left)
    db.close()

    # ------------------------------------------------ failures faults explain
    # Every answer of the script is valid, so the only reason a directive
    # may fail is a call to the model that failed after its retries (code
    # "model"); anything else is the daemon's or the child's own doing.
    for line in open(a.watch, errors="replace"):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("event") not in ("directive.retry", "directive.dropped"):
            continue
        d = e.get("data") or {}
        if d.get("code") != "model":
            fail("task %s: %s directive %s %s, code %s, which no fault "
                 "explains: %s" % (e.get("task"), e.get("domain"),
                 d.get("directive"), e["event"].split(".")[1], d.get("code"),
                 d.get("reason")))

    # ------------------------------------------------ the model's side
    reqs = faults = 0
    kinds = collections.Counter()
    for line in open(a.record):
        m = json.loads(line)
        if m.get("api") not in ("chat", "responses", "anthropic"):
            continue
        reqs += 1
        # A valid answer sent back as unusable: a cut or garbled stream
        # was taken for a whole answer.
        if "Your answer could not be used" in json.dumps(m.get("body")):
            fail("request %s tells the model its answer could not be "
                 "used, but every scripted answer is valid" % m.get("seq"))
        f = m.get("fault")
        if f:
            faults += 1
            kinds["stall" if "stall" in f else "cut" if "cut_after" in f
                  else str(f.get("status"))] += 1
    failed_attempts = retries = 0
    attempt = re.compile(r"llm: .* attempt \d+/\d+ failed: .*")
    for line in open(a.log, errors="replace"):
        if attempt.search(line):
            failed_attempts += 1
            if re.search(r"\(.*retry \d+ in \d+ ms", line):
                retries += 1
    stats["requests"] = reqs
    stats["faults"] = faults
    stats["fault_kinds"] = ",".join("%s:%d" % kv for kv in
                                    sorted(kinds.items())) or "-"
    stats["failed_attempts"] = failed_attempts
    stats["retries"] = retries
    stats["forked_late"] = len(forked_late)
    stats["per_domain"] = ",".join("%s:%d" % (d, per_domain[d])
                                   for d in names)
    with open(a.stats, "w") as f:
        for k, v in stats.items():
            f.write("%s=%s\n" % (k, v))
    for line in legit_failed + forked_late:
        print("note: " + line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
