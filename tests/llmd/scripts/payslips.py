#!/usr/bin/env python3
"""The scripted payslips conversation, for the offline demo and the tests.

Prints an llmd script (see tests/llmd/README.md) in which the planner splits
"Implement an app to manage employee payslips" into database, logic and
frontend; each domain answers its directives with real, small, checked code;
the logic domain first consumes a function the database does not provide
yet, so the master has to direct the database to add it; the critic agrees;
the first review asks for one improvement and the second finds the task done.

Usage: payslips.py > script.json
"""
import json

SCHEMA = """CREATE TABLE employees (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    gross_cents INTEGER NOT NULL CHECK (gross_cents >= 0)
);
CREATE TABLE payslips (
    id INTEGER PRIMARY KEY,
    employee_id INTEGER NOT NULL REFERENCES employees(id),
    period TEXT NOT NULL,
    gross_cents INTEGER NOT NULL,
    tax_cents INTEGER NOT NULL,
    net_cents INTEGER NOT NULL
);
"""

DB_TEST = """#!/bin/sh
# The schema declares both tables and keeps amounts in cents.
set -e
grep -q 'CREATE TABLE employees' database/schema.sql
grep -q 'CREATE TABLE payslips' database/schema.sql
grep -q 'net_cents' database/schema.sql
"""

DB_ACCESS = '''"""Data access for payslips: what the logic domain calls."""

PAYSLIPS = {}


def get_payslip(payslip_id):
    """Return the payslip row as a dict, or None."""
    return PAYSLIPS.get(payslip_id)


def put_payslip(row):
    PAYSLIPS[row["id"]] = row
    return row
'''

DB_TEST2 = DB_TEST + "grep -q 'def get_payslip' database/access.py\n"

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

LOGIC_TEST = '''import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from payslip import net_pay


class NetPay(unittest.TestCase):
    def test_twenty_percent(self):
        self.assertEqual(net_pay(100000), 80000)

    def test_zero(self):
        self.assertEqual(net_pay(0), 0)


if __name__ == "__main__":
    unittest.main()
'''

LOGIC_TEST_ROUNDED = LOGIC_TEST.replace(
    "    def test_zero(self):",
    "    def test_rounds_half_up(self):\n"
    "        self.assertEqual(net_pay(3), 2)\n\n"
    "    def test_zero(self):")

PAGE = """<!doctype html>
<title>Payslips</title>
<h1>Payslips</h1>
<table id="payslips"><tr><th>Employee</th><th>Period</th><th>Net</th></tr></table>
<script src="app.js"></script>
"""

APP = """async function load(id) {
  const r = await fetch('/api/payslips/' + id);
  const p = await r.json();
  const row = document.createElement('tr');
  row.innerHTML = `<td>${p.employee}</td><td>${p.period}</td><td>${(p.net_cents / 100).toFixed(2)}</td>`;
  document.getElementById('payslips').appendChild(row);
}
"""

UI_TEST = """#!/bin/sh
# The page has the table, and the script calls the logic's endpoint.
set -e
grep -q 'id="payslips"' frontend/index.html
grep -q '/api/payslips/' frontend/app.js
"""


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


DB_IFACE = iface("database", "employee and payslip storage", [
    entry("table", "employees", "id INTEGER, name TEXT, gross_cents INTEGER"),
    entry("table", "payslips", "id, employee_id, period, gross_cents, "
          "tax_cents, net_cents: INTEGER/TEXT")])
DB_IFACE2 = dict(DB_IFACE, provides=DB_IFACE["provides"] + [
    entry("function", "db.get_payslip", "get_payslip(id: int) -> dict | None")])

LOGIC_IFACE = iface("logic", "payslip rules and the payslip API", [
    entry("function", "logic.net_pay", "net_pay(gross_cents: int) -> int"),
    entry("http", "GET /api/payslips/{id}",
          "-> {employee, period, gross_cents, tax_cents, net_cents}")], [
    entry("table", "payslips", "id, employee_id, period, gross_cents, "
          "tax_cents, net_cents: INTEGER/TEXT", "database"),
    entry("function", "db.get_payslip",
          "get_payslip(id: int) -> dict | None", "database")])

UI_IFACE = iface("frontend", "the payslips page", [
    entry("http", "GET /", "the payslips page (HTML)")], [
    entry("http", "GET /api/payslips/{id}",
          "-> {employee, period, gross_cents, tax_cents, net_cents}",
          "logic")])

PLAN = {
    "summary": "Storage, rules and a page, built in that order.",
    "domains": [
        {"name": "database", "depends": [],
         "prompt": "Own the schema and data access for employees and "
                   "payslips. Amounts are integer cents.",
         "checks": ["sh database/test.sh"]},
        {"name": "logic", "depends": ["database"],
         "prompt": "Own the payslip rules (net pay from gross and tax) and "
                   "the HTTP API the page calls.",
         "checks": ["python3 logic/test_payslip.py"]},
        {"name": "frontend", "depends": ["logic"],
         "prompt": "Own the page that lists payslips, using the logic "
                   "domain's API.",
         "checks": ["sh frontend/test.sh"]},
    ]}

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
         "Added get_payslip for the logic domain.",
         [("access.py", DB_ACCESS), ("test.sh", DB_TEST2)], DB_IFACE2)}},
    {"name": "database first",
     "match": {"system_contains": domain("database")},
     "reply": {"text": answer(
         "Schema for employees and payslips, amounts in cents.",
         [("schema.sql", SCHEMA), ("test.sh", DB_TEST)], DB_IFACE)}},
    {"name": "logic rounding",
     "match": {"system_contains": domain("logic"),
               "input_contains": "Round tax half up"},
     "reply": {"text": answer(
         "Tax is rounded half up to the cent; tested.",
         [("payslip.py", LOGIC_ROUNDED),
          ("test_payslip.py", LOGIC_TEST_ROUNDED)], LOGIC_IFACE)}},
    {"name": "logic first",
     "match": {"system_contains": domain("logic")},
     "reply": {"text": answer(
         "net_pay and the payslip endpoint, tested.",
         [("payslip.py", LOGIC), ("test_payslip.py", LOGIC_TEST)],
         LOGIC_IFACE)}},
    {"name": "frontend first",
     "match": {"system_contains": domain("frontend")},
     "reply": {"text": answer(
         "The payslips page, calling GET /api/payslips/{id}.",
         [("index.html", PAGE), ("app.js", APP), ("test.sh", UI_TEST)],
         UI_IFACE)}},
]

if __name__ == "__main__":
    print(json.dumps({"models": ["scripted-payslips"],
                      "default": {"text": "llmd: no scripted answer for this "
                                          "request ({api}, {model})"},
                      "rules": RULES}, indent=1))
