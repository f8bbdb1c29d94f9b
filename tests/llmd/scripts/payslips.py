#!/usr/bin/env python3
"""The scripted payslips conversation, for the offline demo and the tests.

Prints an llmd script (see tests/llmd/README.md) in which the planner splits
"Implement an app to manage employee payslips" into database, logic and
frontend; each domain answers its directives with real, small code (Python's
standard library only) and its own unit tests: database an sqlite3 schema
and access functions with a seed, logic an HTTP server (http.server) over
them serving GET /employees/{id}/payslips, frontend a static page that calls
that endpoint.  The logic domain first consumes a function the database does
not provide yet, so the master has to direct the database to add it; the
critic agrees; the first review asks for one improvement and the second
finds the task done.  The plan names one integration check, logic's
smoke_e2e.py: it starts the app on a free loopback port, fetches a payslip
over HTTP, prints the response and stops the app.

Usage: payslips.py > script.json
       payslips.py --write DIR   # the project as the conversation leaves
                                 # it, written under DIR (to try it)
"""
import json
import os
import sys

# ------------------------------------------------------------ database

SCHEMA = """CREATE TABLE IF NOT EXISTS employees (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    gross_cents INTEGER NOT NULL CHECK (gross_cents >= 0)
);
CREATE TABLE IF NOT EXISTS payslips (
    id INTEGER PRIMARY KEY,
    employee_id INTEGER NOT NULL REFERENCES employees(id),
    period TEXT NOT NULL,
    gross_cents INTEGER NOT NULL,
    tax_cents INTEGER NOT NULL,
    net_cents INTEGER NOT NULL,
    UNIQUE (employee_id, period)
);
"""

DB_INIT = '"""The database domain: the payslips schema and its access."""\n'

DB_ACCESS = '''"""Data access for employees and payslips (sqlite3).

What the logic domain calls.  Amounts are integer cents; a payslip is a
dict with id, employee_id, period, gross_cents, tax_cents and net_cents.
"""
import os
import sqlite3

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "schema.sql")
COLUMNS = "id, employee_id, period, gross_cents, tax_cents, net_cents"


def connect(path=":memory:"):
    """Open the database at path, creating the schema if it is new."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    with open(SCHEMA, encoding="utf-8") as f:
        conn.executescript(f.read())
    return conn


def add_employee(conn, name, gross_cents):
    """Add an employee; returns the new id."""
    with conn:
        cur = conn.execute(
            "INSERT INTO employees (name, gross_cents) VALUES (?, ?)",
            (name, gross_cents))
    return cur.lastrowid


def add_payslip(conn, employee_id, period, gross_cents, tax_cents,
                net_cents):
    """Add a payslip; returns the new id."""
    with conn:
        cur = conn.execute(
            "INSERT INTO payslips (employee_id, period, gross_cents, "
            "tax_cents, net_cents) VALUES (?, ?, ?, ?, ?)",
            (employee_id, period, gross_cents, tax_cents, net_cents))
    return cur.lastrowid


def list_payslips(conn, employee_id):
    """An employee's payslips, oldest period first (a list of dicts)."""
    rows = conn.execute(
        "SELECT " + COLUMNS + " FROM payslips WHERE employee_id = ? "
        "ORDER BY period", (employee_id,))
    return [dict(r) for r in rows]


def seed(conn):
    """One employee and one payslip, when the database has no employee."""
    if conn.execute("SELECT COUNT(*) FROM employees").fetchone()[0]:
        return
    emp = add_employee(conn, "Ada Lovelace", 300000)
    add_payslip(conn, emp, "2026-01", 300000, 60000, 240000)
'''

DB_GET = '''

def get_payslip(conn, payslip_id):
    """The payslip with that id as a dict, or None."""
    row = conn.execute(
        "SELECT " + COLUMNS + " FROM payslips WHERE id = ?",
        (payslip_id,)).fetchone()
    return dict(row) if row is not None else None
'''

DB_ACCESS2 = DB_ACCESS + DB_GET

DB_TEST = '''"""Unit tests of the database domain: python3 database/test_access.py"""
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from database import access


class Access(unittest.TestCase):
    def setUp(self):
        self.conn = access.connect()

    def test_seed_once(self):
        access.seed(self.conn)
        access.seed(self.conn)
        slips = access.list_payslips(self.conn, 1)
        self.assertEqual(len(slips), 1)
        self.assertEqual(slips[0]["period"], "2026-01")
        self.assertEqual(slips[0]["gross_cents"], 300000)
        self.assertEqual(slips[0]["tax_cents"] + slips[0]["net_cents"],
                         slips[0]["gross_cents"])

    def test_payslips_in_period_order(self):
        emp = access.add_employee(self.conn, "Grace", 100000)
        access.add_payslip(self.conn, emp, "2026-02", 100000, 20000, 80000)
        access.add_payslip(self.conn, emp, "2026-01", 100000, 20000, 80000)
        periods = [p["period"] for p in access.list_payslips(self.conn, emp)]
        self.assertEqual(periods, ["2026-01", "2026-02"])
        self.assertEqual(access.list_payslips(self.conn, emp + 1), [])

    def test_refuses_bad_rows(self):
        with self.assertRaises(sqlite3.IntegrityError):
            access.add_employee(self.conn, "Neg", -1)
        with self.assertRaises(sqlite3.IntegrityError):
            access.add_payslip(self.conn, 99, "2026-01", 1, 0, 1)
'''

DB_TEST2 = DB_TEST + '''
    def test_get_payslip(self):
        access.seed(self.conn)
        slip = access.get_payslip(self.conn, 1)
        self.assertEqual(slip["employee_id"], 1)
        self.assertEqual(slip["net_cents"], 240000)
        self.assertIsNone(access.get_payslip(self.conn, 2))
'''

TESTS_MAIN = '''

if __name__ == "__main__":
    unittest.main()
'''

# ------------------------------------------------------------ logic

LOGIC = '''"""Payslip rules: net pay from gross pay and tax."""

TAX_RATE = 0.2


def net_pay(gross_cents, tax_rate=TAX_RATE):
    """Net pay in cents: gross minus tax."""
    tax = int(gross_cents * tax_rate)
    return gross_cents - tax
'''

LOGIC_ROUNDED = '''"""Payslip rules: net pay from gross pay and tax, rounded to cents."""

TAX_RATE = 0.2


def net_pay(gross_cents, tax_rate=TAX_RATE):
    """Net pay in cents: gross minus tax, tax rounded half up."""
    tax = int(gross_cents * tax_rate + 0.5)
    return gross_cents - tax
'''

SERVER = '''"""The payslips HTTP API, over the database domain's access functions.

    python3 logic/server.py [--host HOST] [--port PORT] [--db PATH]

HOST and PORT come from the arguments, else $PAYSLIPS_HOST and
$PAYSLIPS_PORT, else 127.0.0.1 and 8000 (port 0: any free port); the
database from --db, else $PAYSLIPS_DB, else payslips.db.  A database with no
employee gets the seed (one employee, one payslip).  Once listening it
prints "serving on http://HOST:PORT/".

    GET /employees/{id}/payslips   the employee's payslips (JSON list)
    GET /api/payslips/{id}         one payslip (JSON), 404 if none
    GET /, GET /app.js             the frontend's page
"""
import argparse
import json
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8")}


class Handler(BaseHTTPRequestHandler):
    store = None        # the access module: connect, list_payslips, ...
    db_path = None

    def send(self, status, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status, value):
        self.send(status, json.dumps(value, sort_keys=True))

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        m = re.fullmatch(r"/employees/(\\d+)/payslips", path)
        if m:
            return self.with_db(lambda c: self.send_json(
                200, self.store.list_payslips(c, int(m.group(1)))))
        m = re.fullmatch(r"/api/payslips/(\\d+)", path)
        if m:
            return self.with_db(lambda c: self.one(c, int(m.group(1))))
        if path in STATIC:
            name, ctype = STATIC[path]
            try:
                with open(os.path.join(ROOT, "frontend", name), "rb") as f:
                    return self.send(200, f.read(), ctype)
            except OSError:
                pass
        self.send_json(404, {"error": "not found: " + path})

    def one(self, conn, payslip_id):
        slip = self.store.get_payslip(conn, payslip_id)
        if slip is None:
            return self.send_json(404, {"error": "no payslip %d" % payslip_id})
        self.send_json(200, slip)

    def with_db(self, use):
        conn = self.store.connect(self.db_path)
        try:
            use(conn)
        finally:
            conn.close()

    def log_message(self, fmt, *args):
        sys.stderr.write("server: " + fmt % args + "\\n")


def make_server(host, port, db_path, store=None):
    """An HTTPServer bound to host:port (0: a free port) over db_path."""
    if store is None:
        sys.path.insert(0, ROOT)
        from database import access as store
    conn = store.connect(db_path)
    try:
        store.seed(conn)
    finally:
        conn.close()
    handler = type("PayslipHandler", (Handler,),
                   {"store": store, "db_path": db_path})
    return HTTPServer((host, port), handler)


def main(argv=None):
    env = os.environ
    p = argparse.ArgumentParser(description="the payslips HTTP API")
    p.add_argument("--host", default=env.get("PAYSLIPS_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int,
                   default=int(env.get("PAYSLIPS_PORT", "8000")))
    p.add_argument("--db", default=env.get("PAYSLIPS_DB", "payslips.db"))
    a = p.parse_args(argv)
    server = make_server(a.host, a.port, a.db)
    host, port = server.server_address[:2]
    print("serving on http://%s:%d/" % (host, port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
'''

LOGIC_TEST = '''"""Unit tests of the logic domain: python3 logic/test_payslip.py

The server is tested over a store of its own (the database domain's code is
tested by that domain, and with it by the integration check).
"""
import json
import os
import sys
import threading
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from payslip import net_pay
import server

SLIP = {"id": 7, "employee_id": 1, "period": "2026-01",
        "gross_cents": 300000, "tax_cents": 60000, "net_cents": 240000}


class FakeStore:
    """The database domain's access functions, in memory."""
    seeded = False

    def connect(self, path):
        return self

    def close(self):
        pass

    def seed(self, conn):
        FakeStore.seeded = True

    def list_payslips(self, conn, employee_id):
        return [SLIP] if employee_id == 1 else []

    def get_payslip(self, conn, payslip_id):
        return SLIP if payslip_id == 7 else None


class NetPay(unittest.TestCase):
    def test_twenty_percent(self):
        self.assertEqual(net_pay(100000), 80000)

    def test_zero(self):
        self.assertEqual(net_pay(0), 0)


class Api(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.httpd = server.make_server("127.0.0.1", 0, "unused",
                                       store=FakeStore())
        cls.base = "http://127.0.0.1:%d" % cls.httpd.server_address[1]
        cls.thread = threading.Thread(target=cls.httpd.serve_forever)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()
        cls.thread.join()

    def get(self, path):
        try:
            with urllib.request.urlopen(self.base + path, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_seeded_at_start(self):
        self.assertTrue(FakeStore.seeded)

    def test_employee_payslips(self):
        self.assertEqual(self.get("/employees/1/payslips"), (200, [SLIP]))
        self.assertEqual(self.get("/employees/2/payslips"), (200, []))

    def test_one_payslip(self):
        self.assertEqual(self.get("/api/payslips/7"), (200, SLIP))
        self.assertEqual(self.get("/api/payslips/8")[0], 404)

    def test_unknown_path(self):
        self.assertEqual(self.get("/nothing")[0], 404)
'''

LOGIC_TEST_ROUNDED = LOGIC_TEST.replace(
    "    def test_zero(self):",
    "    def test_rounds_half_up(self):\n"
    "        self.assertEqual(net_pay(3), 2)\n\n"
    "    def test_zero(self):")

SMOKE = '''"""The integration check of the payslips app, run from the project's root:

    python3 logic/smoke_e2e.py

Starts logic/server.py on a free loopback port over a new database (so with
the seed), waits for it to listen (polling, with a deadline), fetches
employee 1's payslips over HTTP and the page, prints the response, stops
the server.  Exits 0 only if the seeded payslip came back right.
"""
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEADLINE = 30.0
WANT = {"employee_id": 1, "period": "2026-01", "gross_cents": 300000,
        "tax_cents": 60000, "net_cents": 240000}


def port_of(proc, end):
    """The port from the server's "serving on http://HOST:PORT/" line."""
    line = b""
    while not line.endswith(b"\\n"):
        left = end - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            sys.exit("smoke: the server did not start (exit %s)"
                     % proc.poll())
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            piece = os.read(proc.stdout.fileno(), 256)
            if not piece:
                sys.exit("smoke: the server closed its output")
            line += piece
    return int(line.decode().strip().rstrip("/").rsplit(":", 1)[1])


def wait_listening(port, end):
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > end:
                sys.exit("smoke: nothing listens on port %d" % port)
            time.sleep(0.05)


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.headers.get("Content-Type", ""), \\
            r.read().decode("utf-8")


def main():
    end = time.monotonic() + DEADLINE
    with tempfile.TemporaryDirectory() as tmp, \\
            open(os.path.join(tmp, "server.log"), "w+") as log:
        proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "logic", "server.py"),
             "--host", "127.0.0.1", "--port", "0",
             "--db", os.path.join(tmp, "payslips.db")],
            stdout=subprocess.PIPE, stderr=log)
        try:
            check(proc, end)
        except BaseException:
            log.seek(0)
            sys.stderr.write("smoke: the server's log:\\n" + log.read())
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def check(proc, end):
    """Fetch the payslip and the page; sys.exit with the problem."""
    port = port_of(proc, end)
    wait_listening(port, end)
    base = "http://127.0.0.1:%d" % port
    status, ctype, body = get(base + "/employees/1/payslips")
    print("GET %s/employees/1/payslips -> %d %s" % (base, status,
                                                     ctype))
    print(body)
    slips = json.loads(body)
    got = {k: slips[0].get(k) for k in WANT} if slips else None
    if status != 200 or len(slips) != 1 or got != WANT:
        sys.exit("smoke: want one payslip %s, got %s" % (WANT, slips))
    status, _, page = get(base + "/")
    if status != 200 or "app.js" not in page:
        sys.exit("smoke: GET / did not serve the page")
    status, _, script = get(base + "/app.js")
    if "/payslips" not in script:
        sys.exit("smoke: the page's script does not call the API")
    print("smoke: the page and its API answer; payslip OK")


if __name__ == "__main__":
    main()
'''

# ------------------------------------------------------------ frontend

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>Payslips</title>
<h1>Payslips</h1>
<p>Employee <input id="employee" type="number" value="1" min="1">
<button id="show">Show</button></p>
<table id="payslips">
<thead><tr><th>Period</th><th>Gross</th><th>Tax</th><th>Net</th></tr></thead>
<tbody></tbody>
</table>
<script src="app.js"></script>
"""

APP = """// The payslips page: GET /employees/{id}/payslips from the logic domain.
function money(cents) {
  return (cents / 100).toFixed(2);
}

async function load(id) {
  const r = await fetch('/employees/' + encodeURIComponent(id) + '/payslips');
  const slips = await r.json();
  const body = document.querySelector('#payslips tbody');
  body.textContent = '';
  for (const p of slips) {
    const row = document.createElement('tr');
    for (const v of [p.period, money(p.gross_cents), money(p.tax_cents),
                     money(p.net_cents)]) {
      const td = document.createElement('td');
      td.textContent = v;
      row.appendChild(td);
    }
    body.appendChild(row);
  }
}

document.getElementById('show').addEventListener('click', () =>
  load(document.getElementById('employee').value));
load(1);
"""

UI_TEST = '''"""Unit tests of the frontend domain: python3 frontend/test_page.py"""
import os
import re
import unittest
from html.parser import HTMLParser

HERE = os.path.dirname(os.path.abspath(__file__))


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.scripts = set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "script" and "src" in a:
            self.scripts.append(a["src"])


def read(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return f.read()


class Frontend(unittest.TestCase):
    def test_page(self):
        p = Page()
        p.feed(read("index.html"))
        self.assertTrue({"payslips", "employee", "show"} <= p.ids, p.ids)
        self.assertEqual(p.scripts, ["app.js"])

    def test_script_calls_the_api(self):
        js = read("app.js")
        self.assertRegex(js, r"fetch\\('/employees/' \\+ .* \\+ '/payslips'\\)")
        for field in ("period", "gross_cents", "tax_cents", "net_cents"):
            self.assertIn("p." + field, js)
        self.assertEqual(js.count("{"), js.count("}"))
'''

# ------------------------------------------------------------ interfaces


def iface(domain, summary, provides, consumes=()):
    return {"domain": domain, "summary": summary,
            "provides": list(provides), "consumes": list(consumes)}


def entry(kind, name, sig, frm=None):
    e = {"kind": kind, "name": name, "signature": sig}
    if frm:
        e["from"] = frm
    return e


def answer(summary, files, interface):
    return json.dumps({
        "summary": summary,
        "files": [{"path": p, "content": c} for p, c in files],
        "interface": interface}, indent=1)


PAYSLIP = "{id, employee_id, period, gross_cents, tax_cents, net_cents}"
DB_FUNCS = [
    ("db.connect", "connect(path: str) -> sqlite3.Connection"),
    ("db.add_employee", "add_employee(conn, name: str, gross_cents: int) -> int"),
    ("db.add_payslip", "add_payslip(conn, employee_id: int, period: str, "
     "gross_cents: int, tax_cents: int, net_cents: int) -> int"),
    ("db.list_payslips", "list_payslips(conn, employee_id: int) -> list[dict]"),
    ("db.seed", "seed(conn) -> None"),
]
GET_PAYSLIP = ("db.get_payslip", "get_payslip(conn, id: int) -> dict | None")
DB_IFACE = iface("database", "employee and payslip storage (sqlite3)", [
    entry("table", "employees", "id INTEGER, name TEXT, gross_cents INTEGER"),
    entry("table", "payslips", "id, employee_id, period, gross_cents, "
          "tax_cents, net_cents: INTEGER/TEXT")] +
    [entry("function", n, s) for n, s in DB_FUNCS])
DB_IFACE2 = dict(DB_IFACE, provides=DB_IFACE["provides"] + [
    entry("function", *GET_PAYSLIP)])

EMP_SLIPS = entry("http", "GET /employees/{id}/payslips", "-> [" + PAYSLIP + "]")
LOGIC_IFACE = iface("logic", "payslip rules and the payslip HTTP API", [
    entry("function", "logic.net_pay", "net_pay(gross_cents: int) -> int"),
    EMP_SLIPS,
    entry("http", "GET /api/payslips/{id}", "-> " + PAYSLIP),
    entry("cli", "logic/server.py",
          "python3 logic/server.py [--host H] [--port P] [--db PATH]")],
    [entry("function", n, s, "database")
     for n, s in DB_FUNCS if n != "db.add_employee" and n != "db.add_payslip"]
    + [entry("function", *GET_PAYSLIP, "database")])

UI_IFACE = iface("frontend", "the payslips page", [
    entry("http", "GET /", "the payslips page (HTML), served by "
          "logic/server.py")], [dict(EMP_SLIPS, **{"from": "logic"})])

# ------------------------------------------------------------ the files

DB_FILES = [("__init__.py", DB_INIT), ("schema.sql", SCHEMA),
            ("access.py", DB_ACCESS), ("test_access.py", DB_TEST + TESTS_MAIN)]
DB_FILES2 = [("access.py", DB_ACCESS2), ("test_access.py",
                                         DB_TEST2 + TESTS_MAIN)]
LOGIC_FILES = [("payslip.py", LOGIC), ("server.py", SERVER),
               ("test_payslip.py", LOGIC_TEST + TESTS_MAIN),
               ("smoke_e2e.py", SMOKE)]
LOGIC_FILES2 = [("payslip.py", LOGIC_ROUNDED),
                ("test_payslip.py", LOGIC_TEST_ROUNDED + TESTS_MAIN)]
UI_FILES = [("index.html", PAGE), ("app.js", APP),
            ("test_page.py", UI_TEST + TESTS_MAIN)]

INTEGRATION_CHECK = "python3 logic/smoke_e2e.py"

PLAN = {
    "summary": "Storage, rules and a page, built in that order; the app "
               "runs with python3 logic/server.py.",
    "domains": [
        {"name": "database", "depends": [],
         "prompt": "Own the sqlite3 schema and the data access functions "
                   "for employees and payslips, with a seed. Amounts are "
                   "integer cents. Python standard library only.",
         "checks": ["python3 database/test_access.py"]},
        {"name": "logic", "depends": ["database"],
         "prompt": "Own the payslip rules (net pay from gross and tax) and "
                   "the HTTP server the page calls (http.server), and the "
                   "app's end-to-end smoke check.",
         "checks": ["python3 logic/test_payslip.py"]},
        {"name": "frontend", "depends": ["logic"],
         "prompt": "Own the page that lists an employee's payslips, using "
                   "the logic domain's API.",
         "checks": ["python3 frontend/test_page.py"]},
    ],
    "integration_checks": [INTEGRATION_CHECK]}

REVIEW_1 = {"done": False,
            "summary": "Works end to end; tax is truncated instead of rounded.",
            "directives": [{"domain": "logic", "priority": 5,
                            "text": "Round tax half up to the cent in "
                                    "net_pay, and test it."}],
            "domains": []}
REVIEW_2 = {"done": True, "summary": "Complete: interfaces fit, checks pass.",
            "directives": [], "domains": []}


def domain(name):
    return "# Your domain: " + name


RULES = [
    {"name": "critic",
     "match": {"system_contains": "You review one change"},
     "reply": {"json": {"complete": True, "feedback": ""}}},
    {"name": "plan",
     "match": {"system_contains": "You are the planner",
               "input_contains": "Plan this task"},
     "reply": {"json": PLAN}},
    {"name": "review",
     "match": {"system_contains": "You are the planner",
               "input_contains": "Review this task"},
     "reply": {"texts": [json.dumps(REVIEW_1), json.dumps(REVIEW_2)]}},
    {"name": "database adds get_payslip",
     "match": {"system_contains": domain("database"),
               "input_contains": "db.get_payslip"},
     "reply": {"text": answer(
         "Added get_payslip for the logic domain, tested.",
         DB_FILES2, DB_IFACE2)}},
    {"name": "database first",
     "match": {"system_contains": domain("database")},
     "reply": {"text": answer(
         "Schema, access functions and a seed for employees and payslips, "
         "amounts in cents, tested on an in-memory database.",
         DB_FILES, DB_IFACE)}},
    {"name": "logic rounding",
     "match": {"system_contains": domain("logic"),
               "input_contains": "Round tax half up"},
     "reply": {"text": answer(
         "Tax is rounded half up to the cent; tested.",
         LOGIC_FILES2, LOGIC_IFACE)}},
    {"name": "logic first",
     "match": {"system_contains": domain("logic")},
     "reply": {"text": answer(
         "net_pay, the HTTP server (GET /employees/{id}/payslips, "
         "GET /api/payslips/{id}, the page) and its smoke check, tested.",
         LOGIC_FILES, LOGIC_IFACE)}},
    {"name": "frontend first",
     "match": {"system_contains": domain("frontend")},
     "reply": {"text": answer(
         "The payslips page, calling GET /employees/{id}/payslips.",
         UI_FILES, UI_IFACE)}},
]


def write_project(top):
    """The files as the conversation leaves them, under top."""
    final = {}
    for d, files in (("database", DB_FILES), ("database", DB_FILES2),
                     ("logic", LOGIC_FILES), ("logic", LOGIC_FILES2),
                     ("frontend", UI_FILES)):
        for p, c in files:
            final[os.path.join(d, p)] = c
    for p, c in final.items():
        os.makedirs(os.path.join(top, os.path.dirname(p)), exist_ok=True)
        with open(os.path.join(top, p), "w", encoding="utf-8") as f:
            f.write(c)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        write_project(sys.argv[2])
    elif len(sys.argv) == 1:
        print(json.dumps({"models": ["scripted-payslips"],
                          "default": {"text": "llmd: no scripted answer for "
                                              "this request ({api}, {model})"},
                          "rules": RULES}, indent=1))
    else:
        sys.exit(__doc__)
