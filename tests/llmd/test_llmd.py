#!/usr/bin/env python3
"""Self-test of llmd, masterd's test LLM server.

Starts llmd.py as a subprocess on port 0 with a temporary script and record
file, waits for its port file, and checks the three APIs (streaming and not),
Responses chaining, authentication, every fault type, the record, the control
API, seeded fault rates and the ways the server stops; then tool calls
(parallel, streamed in pieces, truncated, raw), tool results driving the
rules, servers without tools, the context window and the prompt caches;
then outages (status, refuse and reset phases) and the control port.

Run: python3 tests/llmd/test_llmd.py      (unittest + http.client only)
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
LLMD = os.path.join(HERE, "llmd.py")
HOST = "127.0.0.1"
KEY = "sk-llmd-test-0123456789abcdef"
OPENAI_AUTH = {"Authorization": "Bearer " + KEY}
ANTHROPIC_AUTH = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}

SCRIPT = {
    "models": ["gpt-llmd", "claude-llmd"],
    "default": {"text": "default for {api} on {model}"},
    "rules": [
        {"name": "reasoning",
         "match": {"api": "responses", "input_contains": "think"},
         "reply": {"text": "Thought about it."}, "reasoning": True},
        {"match": {"input_contains": "json please"},
         "reply": {"json": {"files": [], "ok": True}}},
        {"match": {"input_contains": "count", "turn": 2},
         "reply": {"text": "second count"}},
        {"match": {"input_contains": "count"},
         "reply": {"texts": ["c1", "c2", "c3"]}},
        {"match": {"header": {"x-llmd-test": "special"}},
         "reply": {"text": "header matched"}},
        {"match": {"system_contains": "You are the critic"},
         "reply": {"text": "critic says ok"},
         "usage": {"input": 100, "output": 7}},
        {"match": {"input_contains": "flaky"},
         "fault": {"status": 503, "count": 2}, "reply": {"text": "finally"}},
        {"match": {"input_contains": "truncate"},
         "reply": {"text": "cut short", "truncated": True}},
        {"match": {"input_contains": "odd sse"},
         "reply": {"text": "odd framing \u00fcn\u00efc\u00f8d\u00e9 ok",
                   "chunk": 3,
                   "sse": {"eol": "crlf", "multiline": True,
                           "comments": True, "no_space": True}}},
        {"match": {"input_contains": "hello"},
         "reply": {"text": "Hello from llmd, a scripted answer."}},
    ],
}
HELLO = "Hello from llmd, a scripted answer."


# --------------------------------------------------------------------------
# Helpers


def wait_for_file(path, proc=None, deadline=10.0):
    """Poll for a file with a deadline (never a fixed sleep)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if os.path.exists(path):
            with open(path) as f:
                text = f.read().strip()
            if text:
                return text
        if proc is not None and proc.poll() is not None:
            raise AssertionError("llmd exited early: rc=%s stderr=%s" % (
                proc.returncode, proc.stderr.read() if proc.stderr else ""))
        time.sleep(0.01)
    raise AssertionError("no port file after %.0f s" % deadline)


def pid_alive(pid):
    """True while pid runs (a zombie counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False


def wait_until(cond, deadline=5.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


class LlmdProcess:
    """One llmd subprocess in its own temporary directory."""

    def __init__(self, script=None, args=(), env=None, control=False):
        self.tmp = tempfile.TemporaryDirectory(prefix="llmd-test-")
        d = self.tmp.name
        self.port_file = os.path.join(d, "port")
        self.control_port_file = os.path.join(d, "control-port")
        self.record = os.path.join(d, "record.jsonl")
        cmd = [sys.executable, LLMD, "--port-file", self.port_file,
               "--record", self.record, "--max-lifetime", "120"]
        if control:
            cmd += ["--control-port-file", self.control_port_file]
        if script is not None:
            path = os.path.join(d, "script.json")
            with open(path, "w") as f:
                json.dump(script, f)
            cmd += ["--script", path]
        full_env = dict(os.environ)
        full_env.pop("LLMD_API_KEY", None)
        full_env.update(env or {})
        self.proc = subprocess.Popen(cmd + list(args), env=full_env,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.port = int(wait_for_file(self.port_file, self.proc))
        # The control port file is written before the port file.
        self.control_port = int(wait_for_file(self.control_port_file,
                                              self.proc)) if control else None

    def stop(self):
        if self.proc.poll() is None:
            try:
                call(self.control_port or self.port, "POST",
                     "/_llmd/shutdown", timeout=2)
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired, http.client.HTTPException):
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()
        self.tmp.cleanup()

    def record_lines(self):
        with open(self.record, encoding="utf-8") as f:
            return [json.loads(line) for line in f]


class Resp:
    def __init__(self, status, headers, raw, error=None):
        self.status, self.headers, self.raw, self.error = (
            status, headers, raw, error)

    def json(self):
        return json.loads(self.raw)

    def events(self):
        return parse_sse(self.raw)


def call(port, method, path, body=None, headers=None, timeout=10, conn=None):
    """One HTTP exchange; a cut body comes back with .error set."""
    c = conn or http.client.HTTPConnection(HOST, port, timeout=timeout)
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    try:
        c.request(method, path, body=data, headers=hdrs)
        r = c.getresponse()
        error = None
        try:
            raw = r.read()
        except http.client.IncompleteRead as e:
            raw, error = e.partial, e
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, raw,
                    error)
    finally:
        if conn is None:
            c.close()


def parse_sse(raw):
    """Events of an SSE body (WHATWG rules: CR, LF or CRLF; comments;
    multi-line data; a final event without its blank line is dropped)."""
    events, name, data = [], None, []
    for line in re.split(r"\r\n|\r|\n", raw.decode("utf-8")):
        if line == "":
            if data:
                events.append((name or "message", "\n".join(data)))
            name, data = None, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    return events


def chat_body(text, stream=False, **extra):
    body = {"model": "gpt-llmd", "stream": stream,
            "messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": text}]}
    body.update(extra)
    return body


def anthropic_body(text, stream=False, **extra):
    body = {"model": "claude-llmd", "max_tokens": 256, "stream": stream,
            "system": "Be brief.",
            "messages": [{"role": "user", "content": text}]}
    body.update(extra)
    return body


def chat_stream_text(events):
    text = ""
    for _, data in events:
        if data == "[DONE]":
            continue
        for choice in json.loads(data)["choices"]:
            text += choice["delta"].get("content") or ""
    return text


# --------------------------------------------------------------------------
# The APIs, the script, faults, the record and the control API


class ApiTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = LlmdProcess(SCRIPT, env={"LLMD_API_KEY": KEY})
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.control("POST", "/_llmd/reset")

    def control(self, method, path, body=None):
        r = call(self.port, method, path, body)
        self.assertEqual(r.status, 200, r.raw)
        return r.json()

    def chat(self, text, stream=False, headers=None, path="/v1/chat/completions",
             **extra):
        return call(self.port, "POST", path, chat_body(text, stream, **extra),
                    dict(OPENAI_AUTH, **(headers or {})))

    def responses(self, body, headers=None):
        return call(self.port, "POST", "/v1/responses",
                    dict({"model": "gpt-llmd"}, **body),
                    dict(OPENAI_AUTH, **(headers or {})))

    def anthropic(self, text, stream=False, headers=None, **extra):
        return call(self.port, "POST", "/v1/messages",
                    anthropic_body(text, stream, **extra),
                    dict(ANTHROPIC_AUTH, **(headers or {})))

    def fault(self, spec):
        return self.control("POST", "/_llmd/fault", spec)

    # ---- Chat Completions

    def test_chat_nonstream(self):
        r = self.chat("hello there")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "application/json")
        self.assertEqual(int(r.headers["content-length"]), len(r.raw))
        obj = r.json()
        self.assertEqual(obj["object"], "chat.completion")
        self.assertEqual(obj["model"], "gpt-llmd")
        self.assertTrue(obj["id"].startswith("chatcmpl-"))
        choice = obj["choices"][0]
        self.assertEqual(choice["message"],
                         dict(choice["message"], role="assistant", content=HELLO))
        self.assertEqual(choice["finish_reason"], "stop")
        u = obj["usage"]
        self.assertEqual(u["completion_tokens"], -(-len(HELLO) // 4))
        self.assertEqual(u["total_tokens"],
                         u["prompt_tokens"] + u["completion_tokens"])

    def test_chat_stream_with_usage(self):
        r = self.chat("hello", stream=True,
                      stream_options={"include_usage": True})
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/event-stream"))
        self.assertEqual(r.headers.get("transfer-encoding"), "chunked")
        events = r.events()
        self.assertEqual(events[-1], ("message", "[DONE]"))
        chunks = [json.loads(d) for _, d in events[:-1]]
        self.assertTrue(all(c["object"] == "chat.completion.chunk"
                            for c in chunks))
        self.assertGreater(len(chunks), 4)
        self.assertEqual(chat_stream_text(events), HELLO)
        self.assertEqual(chunks[-2]["choices"][0]["finish_reason"], "stop")
        self.assertEqual(chunks[-1]["choices"], [])
        self.assertEqual(chunks[-1]["usage"]["completion_tokens"],
                         -(-len(HELLO) // 4))
        self.assertTrue(all(c["usage"] is None for c in chunks[:-1]))

    def test_chat_stream_without_usage(self):
        events = self.chat("hello", stream=True).events()
        self.assertEqual(events[-1][1], "[DONE]")
        self.assertNotIn("usage", json.loads(events[-2][1]))
        self.assertEqual(json.loads(events[-2][1])["choices"][0]
                         ["finish_reason"], "stop")

    def test_chat_under_prefixes(self):
        for path in ("/openai/v1/chat/completions", "/api/v1/chat/completions",
                     "/v1beta/openai/chat/completions?x=1"):
            r = self.chat("hello", path=path)
            self.assertEqual(r.status, 200, path)
            self.assertEqual(r.json()["choices"][0]["message"]["content"], HELLO)

    def test_truncated_reply(self):
        self.assertEqual(self.chat("truncate").json()["choices"][0]
                         ["finish_reason"], "length")
        obj = self.responses({"input": "truncate"}).json()
        self.assertEqual(obj["status"], "incomplete")
        self.assertEqual(obj["incomplete_details"]["reason"], "max_output_tokens")
        self.assertEqual(self.anthropic("truncate").json()["stop_reason"],
                         "max_tokens")

    def test_odd_sse_framing_still_parses(self):
        events = self.chat("odd sse", stream=True).events()
        self.assertEqual(chat_stream_text(events),
                         "odd framing \u00fcn\u00efc\u00f8d\u00e9 ok")

    # ---- Responses

    def test_responses_nonstream_with_reasoning(self):
        r = self.responses({"input": "please think", "instructions": "Be brief."})
        self.assertEqual(r.status, 200)
        obj = r.json()
        self.assertTrue(obj["id"].startswith("resp_"))
        self.assertEqual((obj["object"], obj["status"]), ("response", "completed"))
        self.assertEqual([o["type"] for o in obj["output"]],
                         ["reasoning", "message"])
        msg = obj["output"][1]
        self.assertEqual((msg["role"], msg["status"]), ("assistant", "completed"))
        self.assertEqual(msg["content"][0]["type"], "output_text")
        self.assertEqual(msg["content"][0]["text"], "Thought about it.")
        self.assertEqual(msg["content"][0]["annotations"], [])
        u = obj["usage"]
        self.assertGreater(u["output_tokens_details"]["reasoning_tokens"], 0)
        self.assertEqual(u["input_tokens_details"]["cached_tokens"], 0)
        self.assertEqual(u["total_tokens"], u["input_tokens"] + u["output_tokens"])

    def test_responses_input_list(self):
        obj = self.responses({"input": [
            {"role": "developer", "content": "You are the critic."},
            {"role": "user", "content": [{"type": "input_text",
                                          "text": "review this"}]}]}).json()
        self.assertEqual(obj["output"][0]["content"][0]["text"], "critic says ok")
        self.assertEqual(obj["usage"]["input_tokens"], 100)
        self.assertEqual(obj["usage"]["output_tokens"], 7)

    def test_responses_stream(self):
        r = self.responses({"input": "hello", "stream": True})
        self.assertEqual(r.status, 200)
        events = r.events()
        names = [n for n, _ in events]
        payloads = [json.loads(d) for _, d in events]
        self.assertEqual(names[:4], ["response.created", "response.in_progress",
                                     "response.output_item.added",
                                     "response.content_part.added"])
        self.assertEqual(names[-4:], ["response.output_text.done",
                                      "response.content_part.done",
                                      "response.output_item.done",
                                      "response.completed"])
        deltas = [p["delta"] for p in payloads
                  if p["type"] == "response.output_text.delta"]
        self.assertGreater(len(deltas), 2)
        self.assertEqual("".join(deltas), HELLO)
        self.assertEqual([p["type"] for p in payloads], names)
        self.assertEqual([p["sequence_number"] for p in payloads],
                         list(range(len(payloads))))
        self.assertNotIn("[DONE]", r.raw.decode())
        final = payloads[-1]["response"]
        self.assertEqual(final["status"], "completed")
        self.assertEqual(final["output"][0]["content"][0]["text"], HELLO)

    def test_responses_stream_reasoning_first(self):
        events = self.responses({"input": "think", "stream": True}).events()
        added = [json.loads(d)["item"]["type"] for n, d in events
                 if n == "response.output_item.added"]
        self.assertEqual(added, ["reasoning", "message"])

    def test_responses_chaining(self):
        first = self.responses({"input": "hello"}).json()
        second = self.responses({"input": "hello again",
                                 "previous_response_id": first["id"]})
        self.assertEqual(second.status, 200, second.raw)
        obj = second.json()
        self.assertEqual(obj["previous_response_id"], first["id"])
        self.assertGreater(obj["usage"]["input_tokens"],
                           first["usage"]["input_tokens"])
        # A chain through a streamed response works too.
        events = self.responses({"input": "hello", "stream": True,
                                 "previous_response_id": obj["id"]}).events()
        streamed = json.loads(events[-1][1])["response"]["id"]
        third = self.responses({"input": "hi", "previous_response_id": streamed})
        self.assertEqual(third.status, 200)
        got = call(self.port, "GET", "/v1/responses/" + first["id"],
                   headers=OPENAI_AUTH)
        self.assertEqual(got.json()["id"], first["id"])

    def test_responses_previous_not_found(self):
        r = self.responses({"input": "hello",
                            "previous_response_id": "resp_nope"})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json(), {"error": {
            "message": "Previous response with id 'resp_nope' not found.",
            "type": "invalid_request_error", "param": "previous_response_id",
            "code": "previous_response_not_found"}})

    def test_responses_store_false_is_not_chainable(self):
        first = self.responses({"input": "hello", "store": False}).json()
        self.assertFalse(first["store"])
        r = self.responses({"input": "x", "previous_response_id": first["id"]})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["code"], "previous_response_not_found")

    def test_responses_conversation(self):
        conv = call(self.port, "POST", "/v1/conversations", {},
                    OPENAI_AUTH).json()
        self.assertTrue(conv["id"].startswith("conv_"))
        r = self.responses({"input": "hello", "conversation": conv["id"]})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["conversation"], {"id": conv["id"]})
        both = self.responses({"input": "hello", "conversation": conv["id"],
                               "previous_response_id": r.json()["id"]})
        self.assertEqual(both.status, 400)
        self.assertEqual(both.json()["error"]["type"], "invalid_request_error")
        unknown = self.responses({"input": "hello", "conversation": "conv_x"})
        self.assertEqual(unknown.status, 404)

    # ---- Anthropic Messages

    def test_anthropic_nonstream(self):
        r = self.anthropic("hello")
        self.assertEqual(r.status, 200)
        self.assertIn("request-id", r.headers)
        obj = r.json()
        self.assertTrue(obj["id"].startswith("msg_"))
        self.assertEqual((obj["type"], obj["role"], obj["model"]),
                         ("message", "assistant", "claude-llmd"))
        self.assertEqual(obj["content"], [{"type": "text", "text": HELLO}])
        self.assertEqual(obj["stop_reason"], "end_turn")
        self.assertIsNone(obj["stop_sequence"])
        self.assertEqual(set(obj["usage"]), {
            "input_tokens", "output_tokens", "cache_read_input_tokens",
            "cache_creation_input_tokens"})

    def test_anthropic_stream(self):
        events = self.anthropic("hello", stream=True).events()
        names = [n for n, _ in events]
        self.assertEqual(names[:3], ["message_start", "content_block_start",
                                     "ping"])
        self.assertEqual(names[-3:], ["content_block_stop", "message_delta",
                                      "message_stop"])
        payloads = [json.loads(d) for _, d in events]
        self.assertEqual([p["type"] for p in payloads], names)
        deltas = [p["delta"]["text"] for p in payloads
                  if p["type"] == "content_block_delta"]
        self.assertGreater(len(deltas), 2)
        self.assertEqual("".join(deltas), HELLO)
        md = payloads[-2]
        self.assertEqual(md["delta"]["stop_reason"], "end_turn")
        self.assertEqual(md["usage"]["output_tokens"], -(-len(HELLO) // 4))
        self.assertEqual(payloads[0]["message"]["content"], [])

    def test_anthropic_required_headers_and_fields(self):
        body = anthropic_body("hello")
        r = call(self.port, "POST", "/v1/messages", body,
                 {"anthropic-version": "2023-06-01"})
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["type"], "error")
        self.assertEqual(r.json()["error"]["type"], "authentication_error")
        r = call(self.port, "POST", "/v1/messages", body, {"x-api-key": KEY})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["type"], "invalid_request_error")
        self.assertIn("anthropic-version", r.json()["error"]["message"])
        r = call(self.port, "POST", "/v1/messages", body,
                 dict(ANTHROPIC_AUTH, **{"x-api-key": "wrong"}))
        self.assertEqual(r.status, 401)
        del body["max_tokens"]
        r = call(self.port, "POST", "/v1/messages", body, ANTHROPIC_AUTH)
        self.assertEqual(r.status, 400)
        self.assertIn("max_tokens", r.json()["error"]["message"])

    def test_anthropic_count_tokens(self):
        r = call(self.port, "POST", "/v1/messages/count_tokens",
                 anthropic_body("hello"), ANTHROPIC_AUTH)
        self.assertEqual(r.status, 200)
        self.assertGreater(r.json()["input_tokens"], 0)

    # ---- models, auth, script rules

    def test_models(self):
        obj = call(self.port, "GET", "/v1/models", headers=OPENAI_AUTH).json()
        self.assertEqual(obj["object"], "list")
        self.assertEqual([m["id"] for m in obj["data"]],
                         ["gpt-llmd", "claude-llmd"])
        obj = call(self.port, "GET", "/v1/models",
                   headers=ANTHROPIC_AUTH).json()
        self.assertEqual(obj["data"][0]["type"], "model")
        self.assertFalse(obj["has_more"])

    def test_openai_auth(self):
        r = call(self.port, "POST", "/v1/chat/completions", chat_body("hello"))
        self.assertEqual(r.status, 401)
        err = r.json()["error"]
        self.assertEqual(set(err), {"message", "type", "param", "code"})
        self.assertEqual(err["type"], "invalid_request_error")
        r = call(self.port, "POST", "/v1/responses",
                 {"model": "gpt-llmd", "input": "x"},
                 {"Authorization": "Bearer sk-wrong-key-123456"})
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["error"]["code"], "invalid_api_key")
        self.assertNotIn(b"sk-wrong-key-123456", r.raw)

    def test_invalid_json_body(self):
        r = call(self.port, "POST", "/v1/chat/completions", b"{not json",
                 OPENAI_AUTH)
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["type"], "invalid_request_error")

    def test_unknown_path(self):
        r = call(self.port, "POST", "/v1/completely/unknown", {}, OPENAI_AUTH)
        self.assertEqual(r.status, 404)
        self.assertIn("error", r.json())

    def test_rules_turn_texts_json_header_default(self):
        texts = [self.chat("count").json()["choices"][0]["message"]["content"]
                 for _ in range(5)]
        self.assertEqual(texts, ["c1", "second count", "c2", "c3", "c3"])
        text = self.chat("json please").json()["choices"][0]["message"]["content"]
        self.assertEqual(json.loads(text), {"files": [], "ok": True})
        text = self.chat("anything", headers={"X-Llmd-Test": "special"}).json()[
            "choices"][0]["message"]["content"]
        self.assertEqual(text, "header matched")
        text = self.anthropic("nothing matches").json()["content"][0]["text"]
        self.assertEqual(text, "default for anthropic on claude-llmd")

    def test_keep_alive_connection(self):
        conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
        try:
            for stream in (False, True, False, True):
                r = call(self.port, "POST", "/v1/chat/completions",
                         chat_body("hello", stream), OPENAI_AUTH, conn=conn)
                self.assertEqual(r.status, 200)
                self.assertIsNone(r.error)
            r = call(self.port, "POST", "/v1/messages",
                     anthropic_body("hello", True), ANTHROPIC_AUTH, conn=conn)
            self.assertEqual(r.events()[-1][0], "message_stop")
        finally:
            conn.close()

    # ---- faults

    def test_fault_429_retry_headers_then_success(self):
        self.fault({"status": 429, "retry_after": 7, "retry_after_ms": 1500,
                    "x_should_retry": "true", "count": 2})
        for _ in range(2):
            r = self.chat("hello")
            self.assertEqual(r.status, 429)
            self.assertEqual(r.headers["retry-after"], "7")
            self.assertEqual(r.headers["retry-after-ms"], "1500")
            self.assertEqual(r.headers["x-should-retry"], "true")
            self.assertEqual(r.json()["error"]["code"], "rate_limit_exceeded")
        self.assertEqual(self.chat("hello").status, 200)

    def test_fault_matching_and_custom_body(self):
        self.fault({"status": 500, "body": "<html>bad gateway</html>",
                    "content_type": "text/html", "match": {"api": "anthropic"}})
        self.assertEqual(self.chat("hello").status, 200)
        r = self.anthropic("hello")
        self.assertEqual(r.status, 500)
        self.assertEqual(r.raw, b"<html>bad gateway</html>")
        self.assertEqual(r.headers["content-type"], "text/html")
        self.assertEqual(self.control("GET", "/_llmd/faults"), [])

    def test_fault_529_anthropic_overloaded(self):
        self.fault({"status": 529, "retry_after": 2})
        r = self.anthropic("hello")
        self.assertEqual(r.status, 529)
        self.assertEqual(r.headers["retry-after"], "2")
        obj = r.json()
        self.assertEqual(obj["type"], "error")
        self.assertEqual(obj["error"], {"type": "overloaded_error",
                                        "message": "Overloaded"})

    def test_rule_fault_count(self):
        statuses = [self.chat("flaky").status for _ in range(3)]
        self.assertEqual(statuses, [503, 503, 200])
        self.assertEqual(self.chat("flaky").json()["choices"][0]["message"]
                         ["content"], "finally")

    def test_fault_stall_does_not_block_others(self):
        self.fault({"stall": 1.0, "match": {"input_contains": "slow"}})
        outcome = {}

        def stalled():
            start = time.monotonic()
            try:
                self.chat("slow one")
                outcome["error"] = None
            except (http.client.HTTPException, OSError) as e:
                outcome["error"] = e
            outcome["elapsed"] = time.monotonic() - start

        t = threading.Thread(target=stalled)
        t.start()
        start = time.monotonic()
        self.assertTrue(wait_until(lambda: any(
            "slow one" in json.dumps(e["body"]) for e in
            self.control("GET", "/_llmd/requests"))))
        self.assertEqual(self.chat("hello").status, 200)
        self.assertLess(time.monotonic() - start, 0.9)
        t.join(5)
        self.assertIsInstance(outcome["error"], (http.client.RemoteDisconnected,
                                                 ConnectionError))
        self.assertGreater(outcome["elapsed"], 0.9)

    def test_fault_stall_client_timeout(self):
        self.fault({"stall": 2})
        with self.assertRaises(TimeoutError):
            call(self.port, "POST", "/v1/chat/completions", chat_body("hello"),
                 OPENAI_AUTH, timeout=0.3)

    def test_fault_cut_stream(self):
        self.fault({"cut_after": 3})
        r = self.chat("hello", stream=True)
        self.assertEqual(r.status, 200)
        self.assertIsInstance(r.error, http.client.IncompleteRead)
        events = r.events()
        self.assertEqual(len(events), 3)
        self.assertNotIn("[DONE]", [d for _, d in events])
        self.fault({"cut_after": 4, "match": {"api": "responses"}})
        r = self.responses({"input": "hello", "stream": True})
        self.assertIsInstance(r.error, http.client.IncompleteRead)
        self.assertEqual(len(r.events()), 4)

    def test_fault_cut_nonstream(self):
        self.fault({"cut_after": 0})
        r = self.anthropic("hello")
        self.assertEqual(r.status, 200)
        self.assertIsInstance(r.error, http.client.IncompleteRead)
        self.assertEqual(len(r.raw), int(r.headers["content-length"]) // 2)

    def test_fault_reset(self):
        self.fault({"cut_after": 1, "reset": True})
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            r = self.chat("hello", stream=True)
            if r.error:
                raise r.error

    def test_fault_malformed(self):
        self.fault({"malformed": True, "count": 2})
        r = self.chat("hello")
        self.assertEqual(r.status, 200)
        self.assertEqual(int(r.headers["content-length"]), len(r.raw))
        with self.assertRaises(ValueError):
            r.json()
        events = self.anthropic("hello", stream=True).events()
        bad = 0
        for _, data in events:
            try:
                json.loads(data)
            except ValueError:
                bad += 1
        self.assertEqual(bad, 1)
        self.assertEqual(events[-1][0], "message_stop")

    def test_fault_trickle(self):
        self.fault({"trickle": 0.001})
        body = json.dumps(chat_body("hello")).encode()
        sock = socket.create_connection((HOST, self.port), timeout=5)
        try:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                         b"Authorization: Bearer " + KEY.encode() +
                         b"\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                         % len(body) + body)
            reads, data = 0, b""
            while True:
                piece = sock.recv(65536)
                if not piece:
                    break
                reads += 1
                data += piece
        finally:
            sock.close()
        head, _, payload = data.partition(b"\r\n\r\n")
        self.assertIn(b"200", head.split(b"\r\n")[0])
        self.assertEqual(json.loads(payload)["choices"][0]["message"]["content"],
                         HELLO)
        self.assertGreater(reads, len(payload) // 4)

    def test_fault_trickle_stream(self):
        self.fault({"trickle": 0.0005})
        r = self.anthropic("hello", stream=True)
        self.assertEqual("".join(json.loads(d)["delta"]["text"]
                                 for n, d in r.events()
                                 if n == "content_block_delta"), HELLO)

    def test_fault_error_in_stream_chat(self):
        self.fault({"error_in_stream": True})
        r = self.chat("hello", stream=True)
        self.assertEqual(r.status, 200)
        events = r.events()
        last = json.loads(events[-1][1])
        self.assertEqual(set(last["error"]), {"message", "type", "param", "code"})
        self.assertNotIn("[DONE]", [d for _, d in events])

    def test_fault_error_in_stream_responses_shapes(self):
        self.fault({"error_in_stream": True, "shape": "flat"})
        events = self.responses({"input": "hello", "stream": True}).events()
        name, data = events[-1]
        flat = json.loads(data)
        self.assertEqual(name, "error")
        self.assertEqual(set(flat), {"type", "code", "message", "param",
                                     "sequence_number"})
        self.assertEqual(flat["sequence_number"], len(events) - 1)
        self.fault({"error_in_stream": True, "shape": "nested",
                    "error": {"code": "rate_limit_exceeded",
                              "message": "slow down"}})
        events = self.responses({"input": "hello", "stream": True}).events()
        nested = json.loads(events[-1][1])
        self.assertEqual(nested["type"], "error")
        self.assertEqual(nested["error"]["code"], "rate_limit_exceeded")
        self.assertEqual(nested["error"]["message"], "slow down")
        self.fault({"error_in_stream": True, "shape": "failed", "after": 2})
        events = self.responses({"input": "hello", "stream": True}).events()
        self.assertEqual(len(events), 3)
        failed = json.loads(events[-1][1])
        self.assertEqual(failed["type"], "response.failed")
        self.assertEqual(failed["response"]["status"], "failed")

    def test_fault_error_in_stream_anthropic(self):
        self.fault({"error_in_stream": True})
        events = self.anthropic("hello", stream=True).events()
        self.assertEqual(events[-1][0], "error")
        self.assertEqual(json.loads(events[-1][1]), {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"}})

    def test_fault_json_error_to_stream(self):
        self.fault({"json_error_to_stream": True, "status": 503})
        r = self.chat("hello", stream=True)
        self.assertEqual(r.status, 503)
        self.assertEqual(r.headers["content-type"], "application/json")
        self.assertEqual(r.json()["error"]["type"], "server_error")

    def test_fault_delay_and_texts_not_consumed_by_faults(self):
        self.fault({"status": 500})
        self.assertEqual(self.chat("count").status, 500)
        self.fault({"delay": 0.2, "event_delay": 0.01})
        start = time.monotonic()
        r = self.chat("count", stream=True)
        self.assertGreaterEqual(time.monotonic() - start, 0.2)
        # The 500 used turn 1 of the turn rule, not the first text.
        self.assertEqual(chat_stream_text(r.events()), "second count")
        self.assertEqual(self.chat("count").json()["choices"][0]["message"]
                         ["content"], "c1")

    def test_bad_fault_rejected(self):
        r = call(self.port, "POST", "/_llmd/fault", {"stal": 1})
        self.assertEqual(r.status, 400)
        self.assertFalse(r.json()["ok"])

    # ---- record and control API

    def test_record(self):
        self.chat("hello", headers={"X-Custom-Thing": "yes"})
        lines = self.server.record_lines()
        start = lines[0]
        self.assertEqual((start["seq"], start["event"]), (0, "start"))
        self.assertEqual(start["pid"], self.server.proc.pid)
        self.assertIn("LLMD_API_KEY", start["env_keys"])
        with open(self.server.record, encoding="utf-8") as f:
            self.assertNotIn(KEY, f.readline())
        last = [e for e in lines if e.get("path") == "/v1/chat/completions"][-1]
        self.assertEqual(last["method"], "POST")
        self.assertEqual(last["api"], "chat")
        self.assertEqual(last["status"], 200)
        self.assertEqual(last["matched_rule"], len(SCRIPT["rules"]) - 1)
        self.assertIsNone(last["fault"])
        self.assertEqual(last["headers"]["x-custom-thing"], "yes")
        self.assertTrue(all(k == k.lower() for k in last["headers"]))
        self.assertEqual(last["body"]["messages"][1]["content"], "hello")

        self.fault({"status": 429, "retry_after": 1})
        self.chat("hello")
        entries = self.control("GET", "/_llmd/requests?since=%d" % last["seq"])
        self.assertEqual(len(entries), 1)
        self.assertEqual(entries[0]["status"], 429)
        self.assertEqual(entries[0]["fault"]["status"], 429)
        self.assertEqual(entries[0]["fault"]["source"], "queue")

    def test_control_script_replace(self):
        try:
            self.control("POST", "/_llmd/script",
                         {"rules": [{"reply": {"text": "replaced"}}]})
            self.assertEqual(self.chat("hello").json()["choices"][0]["message"]
                             ["content"], "replaced")
            bad = call(self.port, "POST", "/_llmd/script",
                       [{"match": {"api": "nope"}}])
            self.assertEqual(bad.status, 400)
        finally:
            self.control("POST", "/_llmd/script", SCRIPT)
        self.assertEqual(self.chat("hello").json()["choices"][0]["message"]
                         ["content"], HELLO)
        self.assertEqual(self.control("GET", "/_llmd/health"), {"ok": True})


# --------------------------------------------------------------------------
# Tool calls, tool results, servers without tools

READ = {"name": "read_file", "arguments": {"path": "app.py"}}
LIST = {"name": "list_files", "arguments": {"path": "."}}
EDIT = {"name": "edit_file", "arguments": {"path": "app.py", "old": "# end",
                                           "new": "x = 1\n# end"}}
APP_PY = "print('hi')\n# end\n"
TOOL_SCRIPT = {"rules": [
    {"match": {"input_contains": "no tools here"}, "reject_tools": True,
     "reply": {"text": "fine without tools"}},
    {"match": {"last_tool": "read_file", "tool_result_contains": "# end"},
     "reply": {"tool_calls": [EDIT]}},
    {"match": {"last_tool": "edit_file"}, "reply": {"text": "edited"}},
    {"match": {"input_contains": "parallel"},
     "reply": {"text": "Looking.", "tool_calls": [READ, LIST]}},
    {"match": {"input_contains": "cut"},
     "reply": {"truncated": True, "tool_calls": [
         LIST, {"name": "write_file",
                "arguments": {"path": "a.txt", "content": "abcdefgh"}}]}},
    {"match": {"input_contains": "raw"}, "reply": {"chunk": 3, "tool_calls": [
        {"name": "read_file", "arguments": "{not json", "id": "call_fixed"}]}},
    {"match": {"input_contains": "sequence"}, "reply": {"texts": [
        {"tool_calls": [{"name": "run_checks"}]}, "all done"]}},
    {"match": {"has_tools": True, "tool_names_include": ["read_file", "finish"],
               "last_tool": None}, "reply": {"tool_calls": [READ]}},
    {"match": {"has_tools": True}, "reply": {"text": "tools, no rule"}},
    {"match": {"has_tools": False}, "reply": {"text": "no tools offered"}},
]}
NEUTRAL_TOOLS = [("read_file", {"path": {"type": "string"}}),
                 ("list_files", {"path": {"type": "string"}}),
                 ("finish", {"summary": {"type": "string"}})]


def schema(props):
    return {"type": "object", "properties": props}


CHAT_TOOLS = [{"type": "function", "function": {"name": n, "description": n,
                                                 "parameters": schema(p)}}
              for n, p in NEUTRAL_TOOLS]
RESPONSES_TOOLS = [{"type": "function", "name": n, "description": n,
                    "parameters": schema(p), "strict": False}
                   for n, p in NEUTRAL_TOOLS]
ANTHROPIC_TOOLS = [{"name": n, "description": n, "input_schema": schema(p)}
                   for n, p in NEUTRAL_TOOLS]


def args_text(call):
    return json.dumps(call["arguments"], separators=(",", ":"))


def chat_stream_calls(events):
    """(text, calls by index, finish_reason) rebuilt from Chat chunks; each
    call keeps its fragments too."""
    text, calls, finish = "", {}, None
    for _, data in events:
        if data == "[DONE]":
            continue
        for choice in json.loads(data)["choices"]:
            text += choice["delta"].get("content") or ""
            finish = choice["finish_reason"] or finish
            for frag in choice["delta"].get("tool_calls", []):
                call = calls.setdefault(frag["index"], {
                    "arguments": "", "fragments": []})
                call["fragments"].append(frag)
                fn = frag.get("function", {})
                for key in ("id", "type"):
                    if key in frag:
                        call[key] = frag[key]
                if "name" in fn:
                    call["name"] = fn["name"]
                call["arguments"] += fn.get("arguments", "")
    return text, calls, finish


class ToolTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = LlmdProcess(TOOL_SCRIPT)
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        call(self.port, "POST", "/_llmd/reset")

    def chat(self, messages, stream=False, tools=CHAT_TOOLS, **extra):
        body = dict({"model": "gpt-llmd", "stream": stream,
                     "messages": messages}, **extra)
        if tools:
            body["tools"] = tools
        return call(self.port, "POST", "/v1/chat/completions", body)

    def responses(self, inp, stream=False, tools=RESPONSES_TOOLS, **extra):
        body = dict({"model": "gpt-llmd", "stream": stream, "input": inp},
                    **extra)
        if tools:
            body["tools"] = tools
        return call(self.port, "POST", "/v1/responses", body)

    def anthropic(self, messages, stream=False, tools=ANTHROPIC_TOOLS):
        body = {"model": "claude-llmd", "max_tokens": 512, "stream": stream,
                "system": "You edit code.", "messages": messages}
        if tools:
            body["tools"] = tools
        return call(self.port, "POST", "/v1/messages", body, ANTHROPIC_AUTH)

    @staticmethod
    def seq_of(obj_id):
        return int(re.search(r"(\d+)$", obj_id).group(1))

    # ---- Chat Completions

    def test_chat_parallel_calls_whole(self):
        obj = self.chat([{"role": "user", "content": "parallel please"}]).json()
        seq = self.seq_of(obj["id"])
        choice = obj["choices"][0]
        self.assertEqual(choice["finish_reason"], "tool_calls")
        self.assertEqual(choice["message"]["content"], "Looking.")
        self.assertEqual(choice["message"]["tool_calls"], [
            {"id": "call_llmd%010d_0" % seq, "type": "function",
             "function": {"name": "read_file", "arguments": args_text(READ)}},
            {"id": "call_llmd%010d_1" % seq, "type": "function",
             "function": {"name": "list_files", "arguments": args_text(LIST)}}])
        said = "Looking.\nread_file %s\nlist_files %s" % (args_text(READ),
                                                         args_text(LIST))
        self.assertEqual(obj["usage"]["completion_tokens"], -(-len(said) // 4))

    def test_chat_calls_only_has_null_content(self):
        obj = self.chat([{"role": "user", "content": "go"}]).json()
        msg = obj["choices"][0]["message"]
        self.assertIsNone(msg["content"])
        self.assertEqual([c["function"]["name"] for c in msg["tool_calls"]],
                         ["read_file"])

    def test_chat_parallel_calls_stream(self):
        r = self.chat([{"role": "user", "content": "parallel please"}],
                      stream=True)
        events = r.events()
        self.assertEqual(events[-1][1], "[DONE]")
        text, calls, finish = chat_stream_calls(events)
        self.assertEqual((text, finish), ("Looking.", "tool_calls"))
        self.assertEqual(sorted(calls), [0, 1])
        for index, want in enumerate((READ, LIST)):
            c = calls[index]
            self.assertEqual((c["type"], c["name"]), ("function", want["name"]))
            self.assertTrue(c["id"].startswith("call_"))
            self.assertEqual(c["arguments"], args_text(want))
            first, rest = c["fragments"][0], c["fragments"][1:]
            self.assertEqual(first["function"], {"name": want["name"],
                                                 "arguments": ""})
            self.assertEqual([len(f["function"]["arguments"]) for f in rest],
                             [len(p) for p in re.findall(
                                 ".{1,8}", args_text(want), re.S)])
            self.assertTrue(all(set(f) == {"index", "function"} and
                                set(f["function"]) == {"arguments"}
                                for f in rest))

    def test_chat_truncated_calls(self):
        obj = self.chat([{"role": "user", "content": "cut"}]).json()
        choice = obj["choices"][0]
        self.assertEqual(choice["finish_reason"], "length")
        full = '{"path":"a.txt","content":"abcdefgh"}'
        self.assertEqual([c["function"]["arguments"]
                          for c in choice["message"]["tool_calls"]],
                         [args_text(LIST), full[:len(full) // 2]])
        _, calls, finish = chat_stream_calls(self.chat(
            [{"role": "user", "content": "cut"}], stream=True).events())
        self.assertEqual(finish, "length")
        self.assertEqual(calls[1]["arguments"], full[:len(full) // 2])

    def test_raw_arguments_and_fixed_id(self):
        msg = self.chat([{"role": "user", "content": "raw"}]).json()[
            "choices"][0]["message"]
        self.assertEqual(msg["tool_calls"][0]["id"], "call_fixed")
        self.assertEqual(msg["tool_calls"][0]["function"]["arguments"],
                         "{not json")
        _, calls, _ = chat_stream_calls(self.chat(
            [{"role": "user", "content": "raw"}], stream=True).events())
        self.assertEqual([f["function"]["arguments"]
                          for f in calls[0]["fragments"]],
                         ["", "{no", "t j", "son"])
        block = self.anthropic([{"role": "user", "content": "raw"}]).json()[
            "content"][0]
        self.assertEqual(block, {"type": "tool_use", "id": "call_fixed",
                                 "name": "read_file", "input": "{not json"})

    def test_texts_item_with_tool_calls(self):
        first = self.chat([{"role": "user", "content": "sequence"}]).json()
        c = first["choices"][0]
        self.assertEqual(c["message"]["tool_calls"][0]["function"],
                         {"name": "run_checks", "arguments": "{}"})
        second = self.chat([{"role": "user", "content": "sequence"}]).json()
        self.assertEqual(second["choices"][0]["message"]["content"],
                         "all done")
        self.assertEqual(second["choices"][0]["finish_reason"], "stop")

    def test_chat_tool_results_drive_the_rules(self):
        user = {"role": "user", "content": "fix app.py"}
        first = self.chat([user]).json()["choices"][0]["message"]
        call_id = first["tool_calls"][0]["id"]
        history = [user, {"role": "assistant", "content": None,
                          "tool_calls": first["tool_calls"]},
                   {"role": "tool", "tool_call_id": call_id,
                    "content": APP_PY}]
        second = self.chat(history).json()
        self.assertEqual(second["choices"][0]["message"]["tool_calls"][0]
                         ["function"]["arguments"], args_text(EDIT))
        # The record proves the file's content reached the model.
        entry = call(self.port, "GET", "/_llmd/requests").json()[-1]
        self.assertEqual(entry["body"]["messages"][2]["content"], APP_PY)
        self.assertEqual(entry["input_tokens"],
                         second["usage"]["prompt_tokens"])
        edit_id = second["choices"][0]["message"]["tool_calls"][0]["id"]
        history += [{"role": "assistant", "content": None, "tool_calls":
                     second["choices"][0]["message"]["tool_calls"]},
                    {"role": "tool", "tool_call_id": edit_id,
                     "content": "edited app.py"}]
        third = self.chat(history).json()["choices"][0]
        self.assertEqual((third["message"]["content"], third["finish_reason"]),
                         ("edited", "stop"))

    def test_input_contains_means_user_text(self):
        # A tool result saying "parallel" is not the user's text.
        msgs = [{"role": "user", "content": "look"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {
                        "name": "list_files", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "parallel"}]
        obj = self.chat(msgs).json()
        self.assertEqual(obj["choices"][0]["message"]["content"],
                         "tools, no rule")
        obj = self.anthropic([
            {"role": "user", "content": "look"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1",
                                               "name": "list_files",
                                               "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result",
                                          "tool_use_id": "t1",
                                          "content": "parallel"}]}]).json()
        self.assertEqual(obj["content"], [{"type": "text",
                                           "text": "tools, no rule"}])

    def test_has_tools_and_tool_names(self):
        obj = self.chat([{"role": "user", "content": "go"}], tools=None).json()
        self.assertEqual(obj["choices"][0]["message"]["content"],
                         "no tools offered")
        obj = self.chat([{"role": "user", "content": "go"}],
                        tools=CHAT_TOOLS[:2]).json()
        self.assertEqual(obj["choices"][0]["message"]["content"],
                         "tools, no rule")

    # ---- Responses

    def test_responses_calls_whole_and_stream(self):
        obj = self.responses("parallel please").json()
        seq = self.seq_of(obj["output"][0]["id"])
        self.assertEqual(obj["status"], "completed")
        self.assertEqual(obj["tools"], RESPONSES_TOOLS)
        self.assertEqual(obj["output"][0]["content"][0]["text"], "Looking.")
        self.assertEqual(obj["output"][1:], [
            {"type": "function_call", "id": "fc_llmd%010d_%d" % (seq, i),
             "call_id": "call_llmd%010d_%d" % (seq, i), "name": c["name"],
             "arguments": args_text(c), "status": "completed"}
            for i, c in enumerate((READ, LIST))])
        events = self.responses("parallel please", stream=True).events()
        payloads = [json.loads(d) for _, d in events]
        self.assertEqual([p["sequence_number"] for p in payloads],
                         list(range(len(payloads))))
        final = payloads[-1]["response"]
        self.assertEqual(payloads[-1]["type"], "response.completed")
        items = final["output"][1:]
        for item in items:
            mine = [p for p in payloads if p.get("item_id") == item["id"] or
                    p.get("item", {}).get("id") == item["id"]]
            self.assertEqual([p["type"] for p in mine][:1] +
                             [p["type"] for p in mine][-2:], [
                "response.output_item.added",
                "response.function_call_arguments.done",
                "response.output_item.done"])
            self.assertEqual(mine[0]["item"], dict(item, arguments="",
                                                   status="in_progress"))
            deltas = [p["delta"] for p in mine if p["type"] ==
                      "response.function_call_arguments.delta"]
            self.assertEqual(len(deltas), len(mine) - 3)
            self.assertTrue(all(0 < len(d) <= 8 for d in deltas))
            self.assertEqual("".join(deltas), item["arguments"])
            self.assertEqual(mine[-2]["arguments"], item["arguments"])
            self.assertEqual(mine[-1]["item"], item)
            self.assertTrue(all(p["output_index"] == final["output"].index(
                item) for p in mine))

    def test_responses_truncated_calls(self):
        obj = self.responses("cut").json()
        self.assertEqual((obj["status"], obj["incomplete_details"]),
                         ("incomplete", {"reason": "max_output_tokens"}))
        self.assertEqual([(i["type"], i["status"]) for i in obj["output"]],
                         [("function_call", "completed"),
                          ("function_call", "incomplete")])
        events = self.responses("cut", stream=True).events()
        self.assertEqual(events[-1][0], "response.incomplete")

    def test_responses_chained_tool_results(self):
        first = self.responses("fix app.py").json()
        call_id = first["output"][0]["call_id"]
        second = self.responses(
            [{"type": "function_call_output", "call_id": call_id,
              "output": APP_PY}], previous_response_id=first["id"]).json()
        self.assertEqual([(i["type"], i["name"], i["arguments"])
                          for i in second["output"]],
                         [("function_call", "edit_file", args_text(EDIT))])
        self.assertGreater(second["usage"]["input_tokens"],
                           first["usage"]["input_tokens"])
        edit = second["output"][0]["call_id"]
        third = self.responses(
            [{"type": "function_call_output", "call_id": edit,
              "output": "edited app.py"}], previous_response_id=second["id"],
            stream=True).events()
        self.assertEqual(json.loads(third[-1][1])["response"]["output"][0]
                         ["content"][0]["text"], "edited")

    def test_responses_unchained_tool_results(self):
        inp = [{"role": "user", "content": "fix app.py"},
               {"type": "function_call", "call_id": "c9", "name": "read_file",
                "arguments": "{}"},
               {"type": "function_call_output", "call_id": "c9",
                "output": [{"type": "input_text", "text": APP_PY}]}]
        obj = self.responses(inp).json()
        self.assertEqual(obj["output"][0]["name"], "edit_file")

    # ---- Anthropic

    def test_anthropic_calls_whole_and_stream(self):
        msgs = [{"role": "user", "content": "parallel please"}]
        obj = self.anthropic(msgs).json()
        seq = self.seq_of(obj["id"])
        self.assertEqual(obj["stop_reason"], "tool_use")
        self.assertEqual(obj["content"], [
            {"type": "text", "text": "Looking."},
            {"type": "tool_use", "id": "toolu_llmd%010d_0" % seq,
             "name": "read_file", "input": READ["arguments"]},
            {"type": "tool_use", "id": "toolu_llmd%010d_1" % seq,
             "name": "list_files", "input": LIST["arguments"]}])
        payloads = [json.loads(d) for _, d in
                    self.anthropic(msgs, stream=True).events()]
        starts = [p for p in payloads if p["type"] == "content_block_start"]
        self.assertEqual([s["content_block"]["type"] for s in starts],
                         ["text", "tool_use", "tool_use"])
        for start, want in zip(starts[1:], (READ, LIST)):
            block = start["content_block"]
            self.assertEqual((block["name"], block["input"]),
                             (want["name"], {}))
            self.assertTrue(block["id"].startswith("toolu_"))
            pieces = [p["delta"] for p in payloads
                      if p["type"] == "content_block_delta" and
                      p["index"] == start["index"]]
            self.assertTrue(all(d["type"] == "input_json_delta" and
                                0 < len(d["partial_json"]) <= 8
                                for d in pieces))
            self.assertEqual(json.loads("".join(d["partial_json"]
                                                for d in pieces)),
                             want["arguments"])
        stops = [p["index"] for p in payloads
                 if p["type"] == "content_block_stop"]
        self.assertEqual(stops, [0, 1, 2])
        self.assertEqual(payloads[-2]["delta"]["stop_reason"], "tool_use")

    def test_anthropic_truncated_calls(self):
        obj = self.anthropic([{"role": "user", "content": "cut"}]).json()
        self.assertEqual(obj["stop_reason"], "max_tokens")
        full = '{"path":"a.txt","content":"abcdefgh"}'
        self.assertEqual(obj["content"][1]["input"], full[:len(full) // 2])

    def test_anthropic_tool_results(self):
        user = {"role": "user", "content": "fix app.py"}
        first = self.anthropic([user]).json()
        use = first["content"][0]
        self.assertEqual(use["name"], "read_file")
        for content in (APP_PY, [{"type": "text", "text": APP_PY}]):
            msgs = [user, {"role": "assistant", "content": first["content"]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": use["id"],
                         "content": content}]}]
            obj = self.anthropic(msgs, stream=True)
            names = [json.loads(d)["content_block"]["name"]
                     for n, d in obj.events() if n == "content_block_start"]
            self.assertEqual(names, ["edit_file"])

    def test_bad_tool_scripts_rejected(self):
        bad = [
            {"reply": {"tool_calls": []}},
            {"reply": {"tool_calls": [{"arguments": {}}]}},
            {"reply": {"tool_calls": [{"name": "x", "arguments": 3}]}},
            {"reply": {"tool_calls": [{"name": "x", "extra": 1}]}},
            {"reply": {"text": "a", "json": {}}},
            {"reply": {"texts": [{"tool_calls": [{"name": "x"}], "x": 1}]}},
            {"match": {"last_tool": 3}},
            {"match": {"has_tools": "yes"}},
            {"reject_tools": 1},
        ]
        for rule in bad:
            r = call(self.port, "POST", "/_llmd/script", {"rules": [rule]})
            self.assertEqual(r.status, 400, rule)
        for top in ({"context_tokens": 0}, {"cache": "no"}):
            r = call(self.port, "POST", "/_llmd/script", dict(top, rules=[]))
            self.assertEqual(r.status, 400, top)
        self.assertEqual(call(self.port, "GET", "/_llmd/script").json(),
                         TOOL_SCRIPT)

    # ---- servers without tools

    def test_rule_reject_tools(self):
        r = self.chat([{"role": "user", "content": "no tools here"}])
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json(), {"error": {
            "message": "registry.ollama.ai/library/gpt-llmd does not support "
            "tools", "type": "invalid_request_error", "param": None,
            "code": None}})
        r = self.chat([{"role": "user", "content": "no tools here"}],
                      tools=None)
        self.assertEqual(r.json()["choices"][0]["message"]["content"],
                         "fine without tools")
        r = self.anthropic([{"role": "user", "content": "no tools here"}],
                           stream=True)
        self.assertEqual(r.status, 400)
        obj = r.json()
        self.assertEqual((obj["type"], obj["error"]), ("error", {
            "type": "invalid_request_error",
            "message": "registry.ollama.ai/library/claude-llmd does not "
            "support tools"}))


class AgentScriptTests(unittest.TestCase):
    """scripts/agent_edit.json drives a whole agent round in each API."""

    RESULTS = {"read_file": APP_PY, "edit_file": "app.py: 1 replacement",
               "run_checks": "all checks passed"}
    WANT = ["read_file", "edit_file", "run_checks", "finish"]

    @classmethod
    def setUpClass(cls):
        with open(os.path.join(HERE, "scripts", "agent_edit.json")) as f:
            cls.script = json.load(f)
        cls.server = LlmdProcess(cls.script)
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def post(self, path, body, headers=None):
        r = call(self.port, "POST", path, body, headers)
        self.assertEqual(r.status, 200, r.raw)
        return r.json()

    def chat_round(self):
        msgs = [{"role": "user", "content": "add x = 1 to app.py"}]
        calls = []
        while not calls or calls[-1][0] != "finish":
            msg = self.post("/v1/chat/completions", {
                "model": "m", "messages": msgs,
                "tools": CHAT_TOOLS})["choices"][0]["message"]
            msgs.append(dict(msg, role="assistant"))
            for c in msg["tool_calls"]:
                name = c["function"]["name"]
                calls.append((name, json.loads(c["function"]["arguments"])))
                msgs.append({"role": "tool", "tool_call_id": c["id"],
                             "content": self.RESULTS.get(name, "")})
        return msgs[1]["content"], calls

    def anthropic_round(self):
        msgs = [{"role": "user", "content": "add x = 1 to app.py"}]
        calls = []
        while not calls or calls[-1][0] != "finish":
            obj = self.post("/v1/messages", {
                "model": "m", "max_tokens": 1000, "messages": msgs,
                "tools": ANTHROPIC_TOOLS}, ANTHROPIC_AUTH)
            msgs.append({"role": "assistant", "content": obj["content"]})
            uses = [b for b in obj["content"] if b["type"] == "tool_use"]
            calls += [(b["name"], b["input"]) for b in uses]
            msgs.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": b["id"],
                 "content": self.RESULTS.get(b["name"], "")} for b in uses]})
        return calls

    def responses_round(self):
        inp, prev, calls = "add x = 1 to app.py", None, []
        while not calls or calls[-1][0] != "finish":
            obj = self.post("/v1/responses", {
                "model": "m", "input": inp, "tools": RESPONSES_TOOLS,
                "previous_response_id": prev})
            items = [i for i in obj["output"] if i["type"] == "function_call"]
            calls += [(i["name"], json.loads(i["arguments"])) for i in items]
            inp = [{"type": "function_call_output", "call_id": i["call_id"],
                    "output": self.RESULTS.get(i["name"], "")} for i in items]
            prev = obj["id"]
        return calls

    def check_calls(self, calls):
        self.assertEqual([name for name, _ in calls], self.WANT)
        self.assertEqual(calls[0][1], {"path": "app.py"})
        self.assertEqual(calls[1][1], {"path": "app.py", "old": "# end",
                                       "new": "x = 1\n# end"})
        self.assertEqual(calls[2][1], {})
        self.assertEqual(calls[3][1]["summary"], "added x = 1 to app.py")
        self.assertEqual(calls[3][1]["interface"]["domain"], "app")

    def test_rounds_in_the_three_apis(self):
        text, calls = self.chat_round()
        self.assertEqual(text, "I read app.py before changing it.")
        self.check_calls(calls)
        _, calls = self.chat_round()
        self.check_calls(calls)
        self.check_calls(self.anthropic_round())
        self.check_calls(self.responses_round())
        # Each request answered with the edit carried the file's content.
        edit_rule = [r["name"] for r in self.script["rules"]].index(
            "app.py was read: edit it by replacement")
        bodies = [json.dumps(e["body"]) for e in call(
            self.port, "GET", "/_llmd/requests").json()
            if e["matched_rule"] == edit_rule]
        self.assertEqual(len(bodies), 4)
        self.assertTrue(all(json.dumps(APP_PY)[1:-1] in b for b in bodies))

    def test_critic_and_json_mode(self):
        verdict = self.post("/v1/chat/completions", {
            "model": "m", "messages": [
                {"role": "system", "content": "You review one change."},
                {"role": "user", "content": "diff"}]})
        self.assertEqual(json.loads(verdict["choices"][0]["message"]
                                    ["content"]),
                         {"complete": True, "feedback": ""})
        answer = self.post("/v1/chat/completions", {
            "model": "m", "messages": [{"role": "user", "content": "go"}]})
        doc = json.loads(answer["choices"][0]["message"]["content"])
        self.assertEqual(doc["files"], [{"path": "app.py", "edits": [
            {"old": "# end", "new": "x = 1\n# end"}]}])
        self.assertEqual(doc["interface"]["domain"], "app")


# --------------------------------------------------------------------------
# The context window and the prompt caches

BIG = "".join("line %04d of a long and stable system prompt\n" % i
              for i in range(140))          # 6160 characters


def tokens(*parts):
    return -(-len("\n".join(parts)) // 4)


class WindowCacheTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = LlmdProcess({"rules": []}, args=["--context-tokens",
                                                      "2000"])
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        call(self.port, "POST", "/_llmd/reset")
        call(self.port, "POST", "/_llmd/script", {"rules": []})

    def chat(self, system, user, **extra):
        return call(self.port, "POST", "/v1/chat/completions", dict(
            {"model": "gpt-llmd", "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user}]}, **extra))

    def anthropic(self, system, messages, max_tokens=100):
        return call(self.port, "POST", "/v1/messages", {
            "model": "claude-llmd", "max_tokens": max_tokens,
            "system": system, "messages": messages}, ANTHROPIC_AUTH)

    def test_chat_window(self):
        long = "x" * 7000                       # 1750 tokens with "s\n"
        ok = self.chat("s", long, max_completion_tokens=248)
        self.assertEqual(ok.status, 200, ok.raw)
        self.assertEqual(ok.json()["usage"]["prompt_tokens"], 1751)
        r = self.chat("s", long, max_completion_tokens=250)
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json(), {"error": {
            "message": "This model's maximum context length is 2000 tokens. "
            "However, you requested 2001 tokens (1751 in the messages, 250 in "
            "the completion). Please reduce the length of the messages or "
            "completion.", "type": "invalid_request_error",
            "param": "messages", "code": "context_length_exceeded"}})
        r = self.chat("s", long + "y" * 1000)
        self.assertEqual(r.json()["error"]["message"],
                         "This model's maximum context length is 2000 "
                         "tokens. However, your messages resulted in 2001 "
                         "tokens. Please reduce the length of the messages.")
        self.assertEqual(self.chat("s", long, max_tokens=250).status, 400)
        entries = call(self.port, "GET", "/_llmd/requests").json()
        self.assertEqual([e["input_tokens"] for e in entries[-4:]],
                         [1751, 1751, 2001, 1751])
        self.assertEqual([e["status"] for e in entries[-4:]],
                         [200, 400, 400, 400])

    def test_responses_and_anthropic_window(self):
        r = call(self.port, "POST", "/v1/responses", {
            "model": "gpt-llmd", "input": "x" * 8000,
            "max_output_tokens": 10})
        self.assertEqual(r.status, 400)
        err = r.json()["error"]
        self.assertEqual((err["code"], err["param"]),
                         ("context_length_exceeded", "input"))
        r = self.anthropic("s", [{"role": "user", "content": "x" * 8000}])
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"], {
            "type": "invalid_request_error",
            "message": "prompt is too long: 2001 tokens > 2000 maximum"})
        r = self.anthropic("s", [{"role": "user", "content": "x" * 7000}],
                           max_tokens=300)
        self.assertEqual(r.json()["error"]["message"],
                         "input length and `max_tokens` exceed context limit:"
                         " 1751 + 300 > 2000, decrease input length or "
                         "`max_tokens` and try again")
        # A script's window replaces the flag's.
        call(self.port, "POST", "/_llmd/script",
             {"rules": [], "context_tokens": 100000})
        self.assertEqual(self.anthropic("s", [{"role": "user",
                                               "content": "x" * 8000}]).status,
                         200)

    def test_window_counts_tools(self):
        tools = [{"type": "function", "function": {
            "name": "t", "description": "d" * 8000, "parameters": {}}}]
        self.assertEqual(self.chat("s", "hi").status, 200)
        r = self.chat("s", "hi", tools=tools)
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["code"], "context_length_exceeded")

    def test_openai_prefix_cache(self):
        first = self.chat(BIG, "one", prompt_cache_key="dom-a").json()
        self.assertEqual(first["usage"]["prompt_tokens"], tokens(BIG, "one"))
        self.assertEqual(first["usage"]["prompt_tokens_details"],
                         {"cached_tokens": 0})
        second = self.chat(BIG, "two", prompt_cache_key="dom-a").json()
        # The common prefix is BIG + "\n": whole 128-token blocks of it.
        want = (len(BIG) + 1) // 512 * 128
        self.assertEqual(want, 1536)
        self.assertEqual(second["usage"]["prompt_tokens_details"]
                         ["cached_tokens"], want)
        other = self.chat(BIG, "two", prompt_cache_key="dom-b").json()
        self.assertEqual(other["usage"]["prompt_tokens_details"]
                         ["cached_tokens"], 0)
        entry = call(self.port, "GET", "/_llmd/requests").json()[-2]
        self.assertEqual((entry["input_tokens"], entry["cached_tokens"]),
                         (tokens(BIG, "two"), want))
        body = {"model": "gpt-llmd", "instructions": BIG, "input": "one"}
        call(self.port, "POST", "/v1/responses", body)
        again = call(self.port, "POST", "/v1/responses",
                     dict(body, input="two")).json()
        self.assertEqual(again["usage"]["input_tokens_details"],
                         {"cached_tokens": want})
        # Below 1024 tokens nothing is cached.
        short = BIG[:3000]
        self.chat(short, "one")
        self.assertEqual(self.chat(short, "two").json()["usage"]
                         ["prompt_tokens_details"]["cached_tokens"], 0)

    def test_cache_off_and_reject_tools_flag(self):
        call(self.port, "POST", "/_llmd/script", {"rules": [], "cache": False})
        self.chat(BIG, "one")
        self.assertEqual(self.chat(BIG, "two").json()["usage"]
                         ["prompt_tokens_details"]["cached_tokens"], 0)
        s = LlmdProcess(args=["--no-cache", "--reject-tools"])
        try:
            r = call(s.port, "POST", "/v1/responses", {
                "model": "qwen3", "input": "hi", "tools": RESPONSES_TOOLS})
            self.assertEqual((r.status, r.json()["error"]["message"]), (
                400, "registry.ollama.ai/library/qwen3 does not support "
                "tools"))
            r = call(s.port, "POST", "/v1/responses", {
                "model": "qwen3", "input": "hi"})
            self.assertEqual(r.status, 200)
            for text in ("one", "two"):
                r = call(s.port, "POST", "/v1/messages", {
                    "model": "claude-llmd", "max_tokens": 100,
                    "system": [{"type": "text", "text": BIG,
                                "cache_control": {"type": "ephemeral"}}],
                    "messages": [{"role": "user", "content": text}]},
                    ANTHROPIC_AUTH)
                self.assertEqual(r.json()["usage"]["cache_read_input_tokens"]
                                 + r.json()["usage"]
                                 ["cache_creation_input_tokens"], 0)
        finally:
            s.stop()

    def test_anthropic_breakpoints(self):
        call(self.port, "POST", "/_llmd/script", {
            "rules": [], "context_tokens": 100000})
        mark = {"type": "ephemeral"}
        system = [{"type": "text", "text": BIG, "cache_control": mark}]
        q1, a1, q2, a2, q3 = ("q1 " * 300, "a1 " * 300, "q2 " * 300,
                              "a2 " * 300, "q3")

        def block(text, cached=False):
            b = {"type": "text", "text": text}
            if cached:
                b["cache_control"] = mark
            return b

        def usage(messages):
            u = self.anthropic(system, messages).json()["usage"]
            return (u["input_tokens"], u["cache_read_input_tokens"],
                    u["cache_creation_input_tokens"])

        # Turn 1 writes the system prompt.
        total = tokens(BIG, q1)
        self.assertEqual(usage([{"role": "user", "content": q1}]),
                         (total - tokens(BIG), 0, tokens(BIG)))
        # Turn 2 reads it and writes up to the end of the history.
        msgs = [{"role": "user", "content": q1},
                {"role": "assistant", "content": [block(a1, True)]},
                {"role": "user", "content": q2}]
        total, upto = tokens(BIG, q1, a1, q2), tokens(BIG, q1, a1)
        self.assertEqual(usage(msgs), (total - upto, tokens(BIG),
                                       upto - tokens(BIG)))
        # Turn 3's breakpoint moved on: the lookback finds turn 2's write.
        msgs = [{"role": "user", "content": q1},
                {"role": "assistant", "content": [block(a1)]},
                {"role": "user", "content": q2},
                {"role": "assistant", "content": [block(a2, True)]},
                {"role": "user", "content": q3}]
        read, upto = tokens(BIG, q1, a1), tokens(BIG, q1, a1, q2, a2)
        self.assertEqual(usage(msgs), (tokens(BIG, q1, a1, q2, a2, q3) - upto,
                                       read, upto - read))
        # The same request again reads everything up to its breakpoint.
        self.assertEqual(usage(msgs)[1:], (upto, 0))
        # No breakpoint, or a prefix under 1024 tokens: no cache at all.
        self.assertEqual(usage([{"role": "user", "content": q1}])[1:],
                         (tokens(BIG), 0))
        self.assertEqual(self.anthropic([block("short", True)], [
            {"role": "user", "content": "q"}]).json()["usage"]
            ["cache_creation_input_tokens"], 0)


# --------------------------------------------------------------------------
# Lifecycle and seeded fault rates


class LifecycleTests(unittest.TestCase):
    def test_refuses_other_hosts(self):
        for host in ("0.0.0.0", "::1", "localhost"):
            p = subprocess.run([sys.executable, LLMD, "--host", host],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2, host)
            self.assertIn("refusing --host", p.stderr)

    def test_shutdown_request(self):
        s = LlmdProcess()
        try:
            r = call(s.port, "POST", "/_llmd/shutdown")
            self.assertEqual(r.json(), {"ok": True})
            self.assertEqual(s.proc.wait(timeout=5), 0)
            self.assertFalse(os.path.exists(s.port_file))
            self.assertEqual(s.record_lines()[-1]["reason"], "shutdown-request")
        finally:
            s.stop()

    def test_sigterm(self):
        s = LlmdProcess()
        try:
            s.proc.send_signal(signal.SIGTERM)
            self.assertEqual(s.proc.wait(timeout=5), 0)
            self.assertEqual(s.record_lines()[-1]["reason"], "SIGTERM")
        finally:
            s.stop()

    def test_max_lifetime(self):
        s = LlmdProcess(args=["--max-lifetime", "0.5"])
        try:
            self.assertEqual(s.proc.wait(timeout=5), 0)
            self.assertEqual(s.record_lines()[-1]["reason"], "max-lifetime")
        finally:
            s.stop()

    def test_parent_exit(self):
        with tempfile.TemporaryDirectory(prefix="llmd-test-") as d:
            port_file = os.path.join(d, "port")
            # An intermediate parent starts llmd, waits for its port, exits.
            code = ("import os, subprocess, sys, time\n"
                    "p = subprocess.Popen(sys.argv[1:])\n"
                    "while not os.path.exists(sys.argv[-1]):\n"
                    "    time.sleep(0.01)\n"
                    "print(p.pid)\n")
            out = subprocess.run(
                [sys.executable, "-c", code, sys.executable, LLMD,
                 "--max-lifetime", "30", "--port-file", port_file],
                capture_output=True, text=True, timeout=10)
            pid = int(out.stdout)
            self.assertTrue(wait_until(lambda: not pid_alive(pid), 5),
                            "llmd outlived its parent")

    def test_api_key_on_argv_not_in_start_line(self):
        s = LlmdProcess(args=["--api-key", KEY])
        try:
            r = call(s.port, "POST", "/v1/chat/completions", chat_body("hi"),
                     OPENAI_AUTH)
            self.assertEqual(r.status, 200)
            self.assertEqual(call(s.port, "POST", "/v1/chat/completions",
                                  chat_body("hi")).status, 401)
            with open(s.record, encoding="utf-8") as f:
                start = f.readline()
            self.assertNotIn(KEY, start)
            self.assertIn("***", json.loads(start)["argv"])
        finally:
            s.stop()

    @staticmethod
    def fault_pattern(port, n=16):
        for i in range(n):
            try:
                call(port, "POST", "/v1/chat/completions",
                     chat_body("hello %d" % i), timeout=3)
            except (OSError, http.client.HTTPException):
                pass
        entries = call(port, "GET", "/_llmd/requests").json()
        return [(e["fault"] or {}).get("status") or
                sorted(set(e["fault"] or {}) - {"source"}) for e in entries
                if e["api"] == "chat"][-n:]

    def test_fault_rate_is_deterministic(self):
        args = ["--fault-rate", "0.5", "--fault-stall", "0.2"]
        a = LlmdProcess(args=args + ["--seed", "7"])
        b = LlmdProcess(args=args + ["--seed", "7"])
        c = LlmdProcess(args=args + ["--seed", "8"])
        try:
            first = self.fault_pattern(a.port)
            self.assertEqual(first, self.fault_pattern(b.port))
            self.assertNotEqual(first, self.fault_pattern(c.port))
            call(a.port, "POST", "/_llmd/reset")
            self.assertEqual(first, self.fault_pattern(a.port))
            kinds = [k for k in first if k]
            self.assertTrue(0 < len(kinds) < len(first), first)
        finally:
            for s in (a, b, c):
                s.stop()


# --------------------------------------------------------------------------
# Outages and the control port


def connect_refused(port):
    """True when a TCP connect to port is refused."""
    try:
        socket.create_connection((HOST, port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


class OutageTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = LlmdProcess(SCRIPT, env={"LLMD_API_KEY": KEY},
                                 control=True)
        cls.port = cls.server.port
        cls.cport = cls.server.control_port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.control("POST", "/_llmd/reset")

    def control(self, method, path, body=None, status=200):
        """Through the control port, which stays up in "refuse" phases."""
        r = call(self.cport, method, path, body)
        self.assertEqual(r.status, status, r.raw)
        return r.json()

    def outage(self, phases, match=None):
        body = {"phases": phases}
        if match is not None:
            body["match"] = match
        out = self.control("POST", "/_llmd/outage", body)
        self.assertTrue(out["ok"])
        self.assertTrue(out["active"])
        return out

    def state(self):
        return self.control("GET", "/_llmd/outage")

    def wait_recovered(self, deadline=10.0):
        self.assertTrue(wait_until(lambda: not self.state()["active"],
                                   deadline), self.state())

    def chat(self, text="hello", **kw):
        return call(self.port, "POST", "/v1/chat/completions",
                    chat_body(text), OPENAI_AUTH, **kw)

    def responses(self, text="hello"):
        return call(self.port, "POST", "/v1/responses",
                    {"model": "gpt-llmd", "input": text}, OPENAI_AUTH)

    def anthropic(self, text="hello"):
        return call(self.port, "POST", "/v1/messages", anthropic_body(text),
                    ANTHROPIC_AUTH)

    def outage_lines(self, since):
        return [e for e in self.control("GET", "/_llmd/requests?since=%d"
                                        % since) if "outage" in e]

    def last_seq(self):
        entries = self.control("GET", "/_llmd/requests")
        return entries[-1]["seq"] if entries else 0

    def test_529_in_each_api_then_recovered(self):
        since = self.last_seq()
        started = self.outage([{"mode": 529, "seconds": 2.0,
                                "retry_after": 2}])["started"]
        chat, resp, anth = self.chat(), self.responses(), self.anthropic()
        for r in (chat, resp, anth):
            self.assertEqual(r.status, 529, r.raw)
            self.assertEqual(r.headers["retry-after"], "2")
        self.assertEqual(anth.json()["error"], {"type": "overloaded_error",
                                                "message": "Overloaded"})
        self.assertEqual(anth.json()["type"], "error")
        self.assertTrue(anth.json()["request_id"].startswith("req_llmd"))
        for r in (chat, resp):
            err = r.json()["error"]
            self.assertEqual(err["type"], "server_error")
            self.assertEqual(set(err), {"message", "type", "param", "code"})
        self.wait_recovered()
        state = self.state()
        self.assertEqual(state["requests"], 3)
        self.assertEqual(state["phase_requests"], [3])
        self.assertAlmostEqual(state["ended"] - state["started"], 2.0, 2)
        self.assertEqual(self.chat().status, 200)
        self.assertEqual(self.anthropic().status, 200)
        lines = self.outage_lines(since)
        self.assertEqual([e["api"] for e in lines],
                         ["chat", "responses", "anthropic"])
        for e in lines:
            self.assertEqual(e["outage"], {"phase": 0, "mode": 529})
            self.assertEqual(e["status"], 529)
            self.assertIsInstance(e["time"], float)
            self.assertTrue(started <= e["time"] <= state["ended"], e)
        # Requests after the outage carry no outage field.
        after = self.control("GET", "/_llmd/requests?since=%d"
                             % lines[-1]["seq"])
        self.assertEqual([e["status"] for e in after], [200, 200])
        self.assertFalse(any("outage" in e for e in after))

    def test_phases_back_to_back_503_then_500(self):
        self.outage([{"mode": 503, "seconds": 1.0},
                     {"mode": 500, "seconds": 1.0}])
        first = self.chat()
        self.assertEqual(first.status, 503)
        self.assertEqual(first.json()["error"]["message"], "The engine is "
                         "currently overloaded, please try again later.")
        self.assertNotIn("retry-after", first.headers)
        self.assertEqual(self.anthropic().json()["error"]["type"],
                         "api_error")
        self.assertTrue(wait_until(lambda: self.state()["phase"] != 0, 5))
        self.assertEqual(self.chat().status, 500)
        self.wait_recovered()
        state = self.state()
        self.assertEqual(state["phase_requests"], [2, 1])
        self.assertEqual(self.chat().json()["choices"][0]["message"]
                         ["content"], HELLO)

    def test_outage_does_not_touch_rules_or_faults(self):
        self.control("POST", "/_llmd/fault", {"status": 429})
        self.outage([{"mode": 503, "seconds": 30}])
        self.assertEqual(self.chat("count").status, 503)
        self.control("DELETE", "/_llmd/outage")
        # The queued fault is still there, and the rule of turn 2 sees
        # its second request: the outage's did not count.
        self.assertEqual(self.chat("count").status, 429)
        self.assertEqual(self.chat("count").json()["choices"][0]["message"]
                         ["content"], "second count")

    def test_refuse_then_same_port_answers(self):
        since = self.last_seq()
        keep = http.client.HTTPConnection(HOST, self.port, timeout=5)
        self.assertEqual(call(self.port, "POST", "/v1/chat/completions",
                              chat_body("hello"), OPENAI_AUTH,
                              conn=keep).status, 200)
        out = self.outage([{"mode": "refuse", "seconds": 1.0}])
        self.assertEqual(out["mode"], "refuse")
        # The POST answers once the port is closed: a connect is refused.
        self.assertTrue(connect_refused(self.port))
        with self.assertRaises(OSError) as ctx:
            self.chat()
        self.assertIsInstance(ctx.exception, ConnectionRefusedError)
        # The control port stays up, and its record is readable.
        self.assertEqual(self.state()["mode"], "refuse")
        self.assertEqual(self.control("GET", "/_llmd/health"), {"ok": True})
        # A connection opened before the outage is reset, and recorded.
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            call(self.port, "POST", "/v1/chat/completions",
                 chat_body("hello"), OPENAI_AUTH, conn=keep)
        keep.close()
        self.assertTrue(wait_until(lambda: not connect_refused(self.port),
                                   10))
        state = self.state()
        self.assertFalse(state["active"])
        self.assertEqual(state["requests"], 1)
        self.assertEqual(self.chat().status, 200)
        lines = self.outage_lines(since)
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines[0]["outage"], {"phase": 0, "mode": "refuse"})
        self.assertIsNone(lines[0]["status"])

    def test_reset(self):
        since = self.last_seq()
        self.outage([{"mode": "reset", "seconds": 30}])
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            self.chat()
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            self.anthropic()
        [line, _] = self.outage_lines(since)
        self.assertEqual(line["outage"], {"phase": 0, "mode": "reset"})
        self.assertEqual(line["body"]["messages"][1]["content"], "hello")
        self.assertIsNone(line["status"])
        out = self.control("DELETE", "/_llmd/outage")
        self.assertTrue(out["listening"])
        self.assertEqual(self.chat().status, 200)

    def test_match_limits_the_outage(self):
        self.outage([{"mode": 529, "seconds": 30}],
                    match={"model": "claude-*"})
        self.assertEqual(self.chat().status, 200)
        self.assertEqual(self.anthropic().status, 529)
        self.assertEqual(self.state()["requests"], 1)
        self.outage([{"mode": "reset", "seconds": 30}],
                    match={"api": "chat"})
        self.assertEqual(self.anthropic().status, 200)
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            self.chat()
        self.control("DELETE", "/_llmd/outage")

    def test_get_post_delete(self):
        self.assertEqual(self.state()["active"], False)
        before = time.time()
        self.outage([{"mode": 500, "seconds": 20},
                     {"mode": 429, "seconds": 20, "retry_after": 1}])
        state = self.state()
        self.assertEqual((state["active"], state["phase"], state["mode"]),
                         (True, 0, 500))
        self.assertTrue(19 < state["ends_in"] <= 20, state)
        self.assertTrue(before <= state["started"] <= time.time())
        self.assertEqual(state["requests"], 0)
        self.assertIsNone(state["ended"])
        self.assertEqual(self.chat().status, 500)
        out = self.control("DELETE", "/_llmd/outage")
        self.assertEqual((out["ok"], out["active"], out["requests"]),
                         (True, False, 1))
        self.assertTrue(out["started"] < out["ended"] <= time.time())
        self.assertEqual(self.chat().status, 200)
        # A new POST replaces a running outage; reset ends it.
        self.outage([{"mode": 503, "seconds": 20}])
        self.outage([{"mode": 502, "seconds": 20}])
        self.assertEqual(self.chat().status, 502)
        self.control("POST", "/_llmd/reset")
        self.assertFalse(self.state()["active"])
        self.assertEqual(self.chat().status, 200)
        # DELETE reopens a closed port before it answers.
        self.outage([{"mode": "refuse", "seconds": 30}])
        self.assertTrue(connect_refused(self.port))
        self.assertTrue(self.control("DELETE", "/_llmd/outage")["listening"])
        self.assertEqual(self.chat().status, 200)

    def test_main_port_serves_control_outside_refuse(self):
        self.outage([{"mode": 503, "seconds": 20}])
        r = call(self.port, "GET", "/_llmd/outage")
        self.assertEqual(r.json()["mode"], 503)
        self.assertEqual(call(self.port, "DELETE", "/_llmd/outage").status,
                         200)

    def test_control_port_serves_only_control(self):
        r = call(self.cport, "POST", "/v1/chat/completions",
                 chat_body("hello"), OPENAI_AUTH)
        self.assertEqual(r.status, 404)
        self.assertFalse(r.json()["ok"])

    def test_bad_outages_rejected(self):
        bad = [{}, {"phases": []}, {"phases": [{"mode": 529}]},
               {"phases": [{"mode": 200, "seconds": 1}]},
               {"phases": [{"mode": "down", "seconds": 1}]},
               {"phases": [{"mode": 503, "seconds": 0}]},
               {"phases": [{"mode": "reset", "seconds": 1,
                            "retry_after": 1}]},
               {"phases": [{"mode": 503, "seconds": 1, "extra": 1}]},
               {"phases": [{"mode": 503, "seconds": 1}], "match": {"x": 1}},
               {"phases": [{"mode": "refuse", "seconds": 1}],
                "match": {"model": "m"}}]
        for body in bad:
            out = self.control("POST", "/_llmd/outage", body, status=400)
            self.assertFalse(out["ok"], body)
        self.assertFalse(self.state()["active"])


class OutageFlagTests(unittest.TestCase):
    def test_outage_from_the_start(self):
        s = LlmdProcess(args=["--outage", "refuse:30,529:30:3"],
                        control=True)
        try:
            self.assertTrue(wait_until(lambda: connect_refused(s.port), 5))
            state = call(s.control_port, "GET", "/_llmd/outage").json()
            self.assertEqual((state["phase"], state["mode"]), (0, "refuse"))
            self.assertEqual(state["phases"][1],
                             {"mode": 529, "seconds": 30, "retry_after": 3})
            start = s.record_lines()[0]
            self.assertEqual(start["control_port"], s.control_port)
            call(s.control_port, "DELETE", "/_llmd/outage")
            r = call(s.port, "POST", "/v1/messages", anthropic_body("hi"),
                     ANTHROPIC_AUTH)
            self.assertEqual(r.status, 200)
        finally:
            s.stop()
        self.assertFalse(os.path.exists(s.control_port_file))

    def test_port_taken_meanwhile_is_retried(self):
        s = LlmdProcess(control=True)
        try:
            call(s.control_port, "POST", "/_llmd/outage",
                 {"phases": [{"mode": "refuse", "seconds": 30}]})
            squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            squatter.bind((HOST, s.port))
            squatter.listen(1)
            out = call(s.control_port, "DELETE", "/_llmd/outage").json()
            self.assertFalse(out["listening"])
            self.assertFalse(out["active"])
            squatter.close()
            self.assertTrue(wait_until(
                lambda: call(s.port, "GET", "/_llmd/health").status == 200
                if not connect_refused(s.port) else False, 5))
            # Shutting down in a "refuse" phase works too.
            call(s.control_port, "POST", "/_llmd/outage",
                 {"phases": [{"mode": "refuse", "seconds": 30}]})
            call(s.control_port, "POST", "/_llmd/shutdown")
            self.assertEqual(s.proc.wait(timeout=5), 0)
            self.assertIn("CANNOT REBIND port %d" % s.port,
                          s.proc.stderr.read())
        finally:
            s.stop()

    def test_bad_outage_flag(self):
        for spec in ("529", "529:x", "up:3", "reset:1:2", "200:1"):
            p = subprocess.run([sys.executable, LLMD, "--outage", spec],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2, spec)
            self.assertIn("--outage", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
