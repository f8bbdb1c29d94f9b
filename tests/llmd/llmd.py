#!/usr/bin/env python3
"""llmd: the test LLM server of masterd's test suite and offline demo.

It stands in for real model providers.  It listens on 127.0.0.1 only and
speaks three real APIs, streaming (SSE) and not:

  * OpenAI Chat Completions   POST .../chat/completions
  * OpenAI Responses          POST .../responses, GET .../responses/{id},
                              POST .../conversations
  * Anthropic Messages        POST .../messages, POST .../messages/count_tokens
  * model lists               GET  .../models (OpenAI or Anthropic shape)

Answers come deterministically from a JSON script of rules: text, JSON, or
tool calls (one or several in one answer) in each API's own format; tool
results in requests are read and can be matched on.  A context window
(--context-tokens) answers oversized requests with each API's real overflow
error, a server without tools (--reject-tools) refuses requests offering
them, and the providers' prompt caches are simulated deterministically
(OpenAI's prefix cache, Anthropic's cache_control breakpoints) so that a
client's cached-token accounting can be tested.  Faults (error
statuses with Retry-After, stalls, cut connections, malformed JSON, trickled
bytes, in-stream errors) are injected per rule, queued through the control
API under /_llmd/, or drawn at a seeded random rate.  An outage plays a
provider down for a while: phases of error statuses, refused connections
(the port closed, then bound again) or reset ones, then recovery; the
control API can stay up on a second port meanwhile.  Every request is
recorded as one JSON line.  It stops by itself after --max-lifetime seconds,
when its parent process exits, on SIGTERM/SIGINT, or when asked.

Test tooling, not product: Python 3 standard library only.  README.md next to
this file documents the script format, the faults and the record format.
"""

import argparse
import hashlib
import hmac
import http
import json
import math
import os
import random
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOOPBACK = "127.0.0.1"
MAX_BODY = 64 * 1024 * 1024
APIS = ("chat", "responses", "anthropic")
DEFAULT_MODEL_LIST = ["llmd-test"]
DEFAULT_REPLY = "llmd default reply: api={api} model={model}"
EXTRA_REASONS = {529: "Overloaded"}
EOLS = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}


# --------------------------------------------------------------------------
# Small helpers


def est_tokens(text):
    """Deterministic token estimate: one token per four characters."""
    return math.ceil(len(text) / 4) if text else 0


def json_bytes(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def split_text(text, size):
    """Cut text into delta pieces of at most size characters."""
    return [text[i:i + size] for i in range(0, len(text), size)]


def reason_phrase(status):
    if status in EXTRA_REASONS:
        return EXTRA_REASONS[status]
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Status %d" % status


def content_text(content):
    """The text of a message content: a string, a part, or a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return ""
    out = []
    for part in content:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, dict):
            for key in ("text", "thinking", "output", "arguments"):
                if isinstance(part.get(key), str):
                    out.append(part[key])
                    break
            else:
                if "content" in part:
                    out.append(content_text(part["content"]))
    return "\n".join(x for x in out if x)


def mask_key(key):
    if len(key) <= 8:
        return "*" * len(key)
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


# --------------------------------------------------------------------------
# Script: rules, matching, validation


class ScriptError(ValueError):
    """A script, rule or fault object that does not fit the format."""


MATCH_KEYS = {"api", "model", "system_contains", "input_contains", "turn",
              "header", "stream", "tool_result_contains", "last_tool",
              "has_tools", "tool_names_include"}
REPLY_KEYS = {"text", "json", "texts", "tool_calls", "truncated", "chunk",
              "sse"}
RULE_KEYS = {"name", "match", "reply", "fault", "reasoning", "usage",
             "reject_tools"}
SCRIPT_KEYS = {"rules", "default", "models", "context_tokens", "cache",
               "reject_tools"}
USAGE_KEYS = {"input", "output", "cached", "creation", "reasoning"}
TOOL_CALL_KEYS = {"name", "arguments", "id"}
TOOL_ANSWER_KEYS = {"tool_calls", "text"}
SSE_KEYS = {"eol", "multiline", "comments", "no_space"}
ERROR_KEYS = {"type", "code", "message", "param"}
FAULT_BEHAVIOUR = {"status", "json_error_to_stream", "stall", "cut_after",
                   "malformed", "trickle", "error_in_stream", "delay",
                   "event_delay"}
FAULT_KEYS = FAULT_BEHAVIOUR | {"retry_after", "retry_after_ms",
                                "x_should_retry", "body", "content_type",
                                "error", "count", "match", "shape", "after",
                                "reset"}
# Faults with any of these keys keep the scripted reply from the client.
SPOILING = {"status", "json_error_to_stream", "stall", "cut_after",
            "malformed", "error_in_stream"}


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _need(cond, where, what):
    if not cond:
        raise ScriptError("%s: %s" % (where, what))


def _no_unknown(obj, allowed, where):
    unknown = sorted(set(obj) - allowed)
    _need(not unknown, where, "unknown key(s) %s" % ", ".join(unknown))


def _str_or_strs(v):
    return isinstance(v, str) or (
        isinstance(v, list) and v and all(isinstance(x, str) for x in v))


def check_match(m, where, allow_turn=True):
    _need(isinstance(m, dict), where, "match must be an object")
    _no_unknown(m, MATCH_KEYS if allow_turn else MATCH_KEYS - {"turn"}, where)
    if "api" in m:
        apis = [m["api"]] if isinstance(m["api"], str) else m["api"]
        _need(_str_or_strs(m["api"]) and all(a in APIS for a in apis),
              where, "api must be one of (or a list of) %s" % ", ".join(APIS))
    if "model" in m:
        _need(_str_or_strs(m["model"]), where, "model must be a string or list")
    for key in ("system_contains", "input_contains", "tool_result_contains"):
        if key in m:
            _need(isinstance(m[key], str), where, key + " must be a string")
    if "last_tool" in m:
        _need(m["last_tool"] is None or _str_or_strs(m["last_tool"]), where,
              "last_tool must be a tool name, a list of them, or null")
    if "tool_names_include" in m:
        _need(_str_or_strs(m["tool_names_include"]), where,
              "tool_names_include must be a string or list")
    if "has_tools" in m:
        _need(isinstance(m["has_tools"], bool), where,
              "has_tools must be a boolean")
    if "turn" in m:
        _need(_is_int(m["turn"]) and m["turn"] >= 1, where,
              "turn must be an integer >= 1")
    if "header" in m:
        h = m["header"]
        _need(isinstance(h, dict) and all(
            isinstance(v, str) or v is True for v in h.values()),
            where, "header must map names to a string value or true")
    if "stream" in m:
        _need(isinstance(m["stream"], bool), where, "stream must be a boolean")


def check_tool_calls(calls, where):
    _need(isinstance(calls, list) and calls, where,
          "tool_calls must be a non-empty list")
    for i, call in enumerate(calls):
        at = "%s.tool_calls[%d]" % (where, i)
        _need(isinstance(call, dict), at, "a tool call must be an object")
        _no_unknown(call, TOOL_CALL_KEYS, at)
        _need(isinstance(call.get("name"), str) and call["name"], at,
              "name must be a non-empty string")
        _need(isinstance(call.get("arguments", {}), (dict, str)), at,
              "arguments must be an object or a raw text")
        _need(isinstance(call.get("id", ""), str), at, "id must be a string")


def is_tool_answer(item):
    """A texts item that answers with tool calls rather than text."""
    return isinstance(item, dict) and "tool_calls" in item


def check_tool_answer(item, where):
    _no_unknown(item, TOOL_ANSWER_KEYS, where)
    check_tool_calls(item["tool_calls"], where)
    _need(isinstance(item.get("text", ""), str), where, "text must be a string")


def check_reply(r, where):
    _need(isinstance(r, dict), where, "reply must be an object")
    _no_unknown(r, REPLY_KEYS, where)
    kinds = [k for k in ("json", "texts", "tool_calls") if k in r]
    if "text" in r and "tool_calls" not in r:
        kinds.append("text")
    _need(len(kinds) == 1, where,
          "reply needs exactly one of text, json, texts, tool_calls")
    if "text" in r:
        _need(isinstance(r["text"], str), where, "text must be a string")
    if "tool_calls" in r:
        check_tool_calls(r["tool_calls"], where)
    if "texts" in r:
        _need(isinstance(r["texts"], list) and r["texts"], where,
              "texts must be a non-empty list")
        for i, item in enumerate(r["texts"]):
            if is_tool_answer(item):
                check_tool_answer(item, "%s.texts[%d]" % (where, i))
    if "truncated" in r:
        _need(isinstance(r["truncated"], bool), where, "truncated: boolean")
    if "chunk" in r:
        _need(_is_int(r["chunk"]) and r["chunk"] >= 1, where, "chunk >= 1")
    if "sse" in r:
        s = r["sse"]
        _need(isinstance(s, dict), where, "sse must be an object")
        _no_unknown(s, SSE_KEYS, where + ".sse")
        _need(s.get("eol", "lf") in EOLS, where, "sse.eol: lf, crlf or cr")


def check_fault(f, where, queued=False):
    _need(isinstance(f, dict), where, "fault must be an object")
    allowed = FAULT_KEYS if queued else FAULT_KEYS - {"match"}
    _no_unknown(f, allowed, where)
    _need(FAULT_BEHAVIOUR & set(f), where, "fault needs one of " +
          ", ".join(sorted(FAULT_BEHAVIOUR)))
    if "status" in f:
        _need(_is_int(f["status"]) and 200 <= f["status"] <= 599, where,
              "status must be an HTTP status 200..599")
    for key in ("stall", "delay", "event_delay", "retry_after_ms"):
        if key in f:
            _need(_is_num(f[key]) and f[key] >= 0, where, key + " >= 0")
    if "retry_after" in f:
        _need(_is_num(f["retry_after"]) or isinstance(f["retry_after"], str),
              where, "retry_after: seconds or an HTTP-date string")
    if "x_should_retry" in f:
        _need(isinstance(f["x_should_retry"], (str, bool)), where,
              "x_should_retry: \"true\" or \"false\"")
    for key in ("count", "cut_after", "after"):
        if key in f:
            low = 1 if key == "count" else 0
            _need(_is_int(f[key]) and f[key] >= low, where,
                  "%s must be an integer >= %d" % (key, low))
    for key in ("malformed", "error_in_stream", "json_error_to_stream",
                "reset"):
        if key in f:
            _need(isinstance(f[key], bool), where, key + " must be a boolean")
    if "trickle" in f:
        _need(isinstance(f["trickle"], bool) or (
            _is_num(f["trickle"]) and f["trickle"] >= 0), where,
            "trickle: true or seconds per byte")
    if "shape" in f:
        _need(f["shape"] in ("flat", "nested", "failed"), where,
              "shape: flat, nested or failed")
    if "error" in f:
        _need(isinstance(f["error"], dict), where, "error must be an object")
        _no_unknown(f["error"], ERROR_KEYS, where + ".error")
    if "content_type" in f:
        _need(isinstance(f["content_type"], str), where, "content_type: string")
    if "body" in f:
        _need("status" in f or f.get("json_error_to_stream"), where,
              "body needs status")
    if "match" in f:
        check_match(f["match"], where + ".match", allow_turn=False)


def check_rule(spec, where):
    _need(isinstance(spec, dict), where, "rule must be an object")
    _no_unknown(spec, RULE_KEYS, where)
    check_match(spec.get("match", {}), where + ".match")
    if "reply" in spec:
        check_reply(spec["reply"], where + ".reply")
    if "fault" in spec:
        check_fault(spec["fault"], where + ".fault")
    if "reasoning" in spec:
        _need(isinstance(spec["reasoning"], (bool, str)), where,
              "reasoning: true or a summary string")
    if "reject_tools" in spec:
        _need(isinstance(spec["reject_tools"], bool), where,
              "reject_tools must be a boolean")
    if "usage" in spec:
        u = spec["usage"]
        _need(isinstance(u, dict), where, "usage must be an object")
        _no_unknown(u, USAGE_KEYS, where + ".usage")
        _need(all(_is_int(v) and v >= 0 for v in u.values()), where,
              "usage values must be integers >= 0")


@dataclass
class Req:
    """What a request asks, reduced to what rules match on and what the
    token counts, the window and the caches need."""
    api: str
    model: str
    system: str
    latest: str          # the latest user text
    prompt: list         # the serialised request: [(text, cache breakpoint)]
    stream: bool
    headers: dict
    tools: list = None   # names of the tools offered
    results: list = None  # (tool name, content) of the latest input's results
    limit: int = 0       # max_tokens (or its API's name for it); 0: none
    cache_key: str = ""  # OpenAI's prompt_cache_key
    names: dict = None   # Responses: call id -> tool name along the chain
    input_parts: list = None  # Responses: the input's parts, for the chain

    @property
    def context(self):
        return "\n".join(text for text, _ in self.prompt)

    @property
    def input_tokens(self):
        return est_tokens(self.context)

    @property
    def has_tools(self):
        return bool(self.tools)

    @property
    def last_tool(self):
        """The tool whose result is the latest input ("" when its call is
        unknown), or None when the latest input holds no tool result."""
        if not self.results:
            return None
        return _str(self.results[-1][0]) or ""


def _names(v):
    return [v] if isinstance(v, str) else v


def match_tools(m, req):
    """The tool conditions of m hold for req."""
    if "has_tools" in m and m["has_tools"] != req.has_tools:
        return False
    if "tool_names_include" in m and not set(
            _names(m["tool_names_include"])) <= set(req.tools or []):
        return False
    if "tool_result_contains" in m and not any(
            m["tool_result_contains"] in text for _, text in req.results or []):
        return False
    if "last_tool" in m:
        want = m["last_tool"]
        if want is None:
            return req.last_tool is None
        return req.last_tool in _names(want)
    return True


def match_static(m, req):
    """Every condition of m except turn holds for req."""
    if "api" in m:
        if req.api not in _names(m["api"]):
            return False
    if "model" in m:
        if not any(fnmatchcase(req.model, p) for p in _names(m["model"])):
            return False
    if m.get("system_contains", "") not in req.system:
        return False
    if m.get("input_contains", "") not in req.latest:
        return False
    for name, want in m.get("header", {}).items():
        got = req.headers.get(name.lower())
        if got is None or (want is not True and got != want):
            return False
    if "stream" in m and m["stream"] != req.stream:
        return False
    return match_tools(m, req)


class Rule:
    def __init__(self, index, spec):
        self.index = index
        self.match = spec.get("match", {})
        self.reply = spec.get("reply")
        self.fault = spec.get("fault")
        self.reasoning = spec.get("reasoning", False)
        self.usage = spec.get("usage", {})
        self.reject_tools = spec.get("reject_tools", False)
        self.seen = 0      # requests that met the conditions other than turn
        self.served = 0    # replies delivered (advances "texts")
        self.faulted = 0   # requests given this rule's fault


class Script:
    """Parsed script: rules in order, a default reply, extra model names,
    and the server settings a script may give (window, cache, tools)."""

    def __init__(self, source):
        if isinstance(source, list):
            source = {"rules": source}
        _need(isinstance(source, dict), "script",
              "must be a list of rules or an object with rules")
        _no_unknown(source, SCRIPT_KEYS, "script")
        rules = source.get("rules", [])
        _need(isinstance(rules, list), "script", "rules must be a list")
        for i, spec in enumerate(rules):
            check_rule(spec, "rule %d" % i)
        default = source.get("default")
        if default is not None:
            check_reply(default, "default")
        models = source.get("models", [])
        _need(isinstance(models, list) and all(
            isinstance(x, str) for x in models), "script", "models: strings")
        window = source.get("context_tokens")
        _need(window is None or (_is_int(window) and window >= 1), "script",
              "context_tokens must be an integer >= 1")
        for key in ("cache", "reject_tools"):
            _need(isinstance(source.get(key, False), bool), "script",
                  key + " must be a boolean")
        self.source = source
        self.rules = [Rule(i, spec) for i, spec in enumerate(rules)]
        self.default = default
        self.extra_models = models
        self.context_tokens = window
        self.cache = source.get("cache")
        self.reject_tools = source.get("reject_tools")

    def match(self, req):
        """First rule matching req; counts turns of the rules it passes."""
        for rule in self.rules:
            if not match_static(rule.match, req):
                continue
            rule.seen += 1
            turn = rule.match.get("turn")
            if turn is not None and rule.seen != turn:
                continue
            return rule
        return None

    def reset(self):
        for rule in self.rules:
            rule.seen = rule.served = rule.faulted = 0

    def models(self):
        names = list(self.extra_models)
        for rule in self.rules:
            m = rule.match.get("model")
            for name in ([m] if isinstance(m, str) else m or []):
                if not any(c in name for c in "*?["):
                    names.append(name)
        names = list(dict.fromkeys(names))
        return names or list(DEFAULT_MODEL_LIST)


def reply_item(reply, index):
    """(text, tool call specs) a reply answers with on its index-th
    delivery."""
    if "tool_calls" in reply:
        return reply.get("text", ""), reply["tool_calls"]
    if "text" in reply:
        return reply["text"], []
    if "json" in reply:
        return json.dumps(reply["json"], ensure_ascii=False), []
    item = reply["texts"][min(index, len(reply["texts"]) - 1)]
    if is_tool_answer(item):
        return item.get("text", ""), item["tool_calls"]
    if isinstance(item, str):
        return item, []
    return json.dumps(item, ensure_ascii=False), []


def scripted_calls(specs, truncated):
    """Tool calls with their arguments as JSON text; a truncated answer
    loses the second half of its last call's arguments."""
    calls = []
    for spec in specs:
        args = spec.get("arguments", {})
        calls.append({"name": spec["name"], "id": spec.get("id"),
                      "arguments": args if isinstance(args, str) else
                      compact_json(args)})
    if truncated and calls:
        args = calls[-1]["arguments"]
        calls[-1]["arguments"] = args[:len(args) // 2]
    return calls


# --------------------------------------------------------------------------
# Faults


def random_fault_pool(stall):
    return [{"status": 429, "retry_after": 1}, {"status": 503},
            {"cut_after": 2}, {"stall": stall}]


def fault_delivers(fault):
    """True when a fault still lets the scripted reply through whole."""
    return fault is None or not SPOILING & set(fault)


class QueuedFault:
    def __init__(self, spec):
        self.match = spec.get("match", {})
        self.remaining = spec.get("count", 1)
        self.fault = {k: v for k, v in spec.items()
                      if k not in ("match", "count")}

    def describe(self):
        return dict(self.fault, count=self.remaining, match=self.match)


@dataclass
class Answer:
    text: str
    reasoning: object
    truncated: bool
    chunk: int
    sse: dict
    usage: dict
    calls: list       # [{"name", "arguments" (JSON text), "id" or None}]


@dataclass
class Decision:
    rule: object
    fault: object
    answer: Answer
    refusal: tuple = None   # (status, message, type, code, param): a 400


# --------------------------------------------------------------------------
# Error bodies in each API's own shape

OPENAI_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory",
          "Country, region, or territory not supported"),
    404: ("invalid_request_error", "model_not_found",
          "The model does not exist or you do not have access to it."),
    408: ("server_error", None, "Request timed out."),
    409: ("invalid_request_error", None, "Conflict."),
    429: ("requests", "rate_limit_exceeded",
          "Rate limit reached for requests. Please try again later."),
    500: ("server_error", None, "The server had an error while processing "
          "your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None,
          "The engine is currently overloaded, please try again later."),
}
ANTHROPIC_ERRORS = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error",
          "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


def openai_error(status, over=None):
    etype, code, msg = OPENAI_ERRORS.get(status, (
        "server_error" if status >= 500 else "invalid_request_error", None,
        reason_phrase(status)))
    over = over or {}
    return {"error": {"message": over.get("message", msg),
                      "type": over.get("type", etype),
                      "param": over.get("param"),
                      "code": over.get("code", code)}}


def anthropic_error(status, request_id, over=None):
    etype, msg = ANTHROPIC_ERRORS.get(status, (
        "api_error" if status >= 500 else "invalid_request_error",
        reason_phrase(status)))
    over = over or {}
    return {"type": "error",
            "error": {"type": over.get("type", etype),
                      "message": over.get("message", msg)},
            "request_id": request_id}


# --------------------------------------------------------------------------
# Reading requests of each API


def model_of(body):
    model = body.get("model")
    return model if isinstance(model, str) else ""


def _dicts(v):
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _str(v):
    """v when it is a string, else None (ids and keys from clients)."""
    return v if isinstance(v, str) else None


def _int_field(body, *names):
    """The first of names that body gives as an integer, else 0."""
    for name in names:
        if _is_int(body.get(name)):
            return body[name]
    return 0


def compact_json(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def call_text(name, arguments):
    """A tool call as the token counts and the caches see it."""
    if not isinstance(arguments, str):
        arguments = compact_json(arguments)
    return "%s %s" % (name if isinstance(name, str) else "", arguments)


def tool_name(tool):
    """A tool's name in any API's shape (Chat nests it under function)."""
    fn = tool.get("function")
    name = fn.get("name") if isinstance(fn, dict) else tool.get("name")
    return name if isinstance(name, str) else ""


class Prompt:
    """A request serialised in the order providers cache it (tools, system,
    messages): text parts, each maybe a cache breakpoint."""

    def __init__(self):
        self.parts = []

    def add(self, text, breakpoint=False):
        if text:
            self.parts.append((text, breakpoint))
        elif breakpoint and self.parts:
            self.parts[-1] = (self.parts[-1][0], True)

    def add_tools(self, tools):
        """Each tool's JSON (cache_control left out); returns the names."""
        for tool in tools:
            plain = {k: v for k, v in tool.items() if k != "cache_control"}
            self.add(compact_json(plain), "cache_control" in tool)
        return [tool_name(t) for t in tools]


def chat_req(body, headers):
    prompt, system, latest = Prompt(), [], ""
    tools = prompt.add_tools(_dicts(body.get("tools")))
    names, msgs = {}, _dicts(body.get("messages"))
    for msg in msgs:
        text = content_text(msg.get("content"))
        prompt.add(text)
        if msg.get("role") in ("system", "developer"):
            system.append(text)
        elif msg.get("role") == "user":
            latest = text
        for call in _dicts(msg.get("tool_calls")):
            fn = call.get("function") if isinstance(call.get("function"),
                                                    dict) else {}
            names[_str(call.get("id"))] = fn.get("name")
            prompt.add(call_text(fn.get("name"), fn.get("arguments", "")))
    tail = msgs
    for i, msg in enumerate(msgs):
        if msg.get("role") == "assistant":
            tail = msgs[i + 1:]
    results = [(names.get(_str(m.get("tool_call_id"))) or m.get("name"),
                content_text(m.get("content")))
               for m in tail if m.get("role") == "tool"]
    return Req("chat", model_of(body), "\n".join(system), latest,
               prompt.parts, body.get("stream") is True, headers,
               tools=tools, results=results,
               limit=_int_field(body, "max_completion_tokens", "max_tokens"),
               cache_key=_str(body.get("prompt_cache_key")) or "")


def responses_item_text(item):
    """The text of one Responses input or output item."""
    kind = item.get("type")
    if kind == "function_call":
        return call_text(item.get("name"), item.get("arguments", ""))
    if kind == "function_call_output":
        return content_text(item.get("output"))
    if kind == "reasoning":
        return content_text(item.get("summary"))
    return content_text(item.get("content")) or content_text(item)


MESSAGE_ITEMS = (None, "message", "input_text")


def responses_items_of(inp):
    """The input as a list of item objects (a string is one user item)."""
    if isinstance(inp, str):
        return [{"role": "user", "content": inp}]
    items = []
    for item in inp if isinstance(inp, list) else []:
        if isinstance(item, str):
            item = {"role": "user", "content": item}
        if isinstance(item, dict):
            items.append(item)
    return items


def empty_chain():
    """The state a Responses chain (or conversation) starts from."""
    return {"history": [], "names": {}, "latest": ""}


def responses_req(body, headers, chain):
    """chain: the stored state of previous_response_id or the conversation
    (history parts, call names, latest user text)."""
    prompt, system = Prompt(), []
    tools = prompt.add_tools(_dicts(body.get("tools")))
    if isinstance(body.get("instructions"), str):
        system.append(body["instructions"])
        prompt.add(body["instructions"])
    for text in chain["history"]:
        prompt.add(text)
    names, latest, last_any = dict(chain["names"]), "", ""
    items = responses_items_of(body.get("input"))
    tail = items
    for i, item in enumerate(items):
        text = responses_item_text(item)
        prompt.add(text)
        kind, role = item.get("type"), item.get("role")
        if kind == "function_call":
            names[_str(item.get("call_id"))] = item.get("name")
        if kind == "function_call" or role == "assistant":
            tail = items[i + 1:]
        if kind not in MESSAGE_ITEMS:
            continue
        last_any = text or last_any
        if role in ("system", "developer"):
            system.append(text)
        elif role == "user":
            latest = text
    results = [(names.get(_str(i.get("call_id"))),
                content_text(i.get("output")))
               for i in tail if i.get("type") == "function_call_output"]
    return Req("responses", model_of(body), "\n".join(system),
               latest or last_any or chain["latest"], prompt.parts,
               body.get("stream") is True, headers, tools=tools,
               results=results, limit=_int_field(body, "max_output_tokens"),
               cache_key=_str(body.get("prompt_cache_key")) or "",
               names=names,
               input_parts=[t for t in map(responses_item_text, items) if t])


def anthropic_block_text(block):
    kind = block.get("type")
    if kind == "tool_use":
        return call_text(block.get("name"), block.get("input", {}))
    if kind == "tool_result":
        return content_text(block.get("content"))
    return content_text(block)


def anthropic_blocks(content):
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return _dicts(content) if isinstance(content, list) else _dicts([content])


def anthropic_req(body, headers):
    prompt = Prompt()
    tools = prompt.add_tools(_dicts(body.get("tools")))
    for block in anthropic_blocks(body.get("system")):
        prompt.add(content_text(block), "cache_control" in block)
    latest, names, results = "", {}, []
    for msg in _dicts(body.get("messages")):
        blocks = anthropic_blocks(msg.get("content"))
        for block in blocks:
            prompt.add(anthropic_block_text(block), "cache_control" in block)
        if msg.get("role") == "assistant":
            names.update((_str(b.get("id")), b.get("name")) for b in blocks
                         if b.get("type") == "tool_use")
            results = []
            continue
        results = [(names.get(_str(b.get("tool_use_id"))),
                    content_text(b.get("content")))
                   for b in blocks if b.get("type") == "tool_result"]
        text = content_text([b for b in blocks
                             if b.get("type") != "tool_result"])
        latest = text or latest
    return Req("anthropic", model_of(body), content_text(body.get("system")),
               latest, prompt.parts, body.get("stream") is True, headers,
               tools=tools, results=results,
               limit=_int_field(body, "max_tokens"))


# --------------------------------------------------------------------------
# Building answers: non-stream objects and stream event lists.
# A stream is (events, delta_index): events are (event name or None,
# payload dict or raw string); delta_index is the first text delta.


@dataclass
class Ctx:
    """Everything a builder needs about one answer."""
    api: str
    seq: int
    model: str
    created: int
    answer: Answer
    body: dict
    resp_id: str = ""
    conversation: object = None

    @property
    def calls(self):
        """The answer's tool calls with this API's ids: id (Chat id,
        Responses call_id, Anthropic id) and item_id (Responses item)."""
        fmt = CALL_ID_FORMATS[self.api]
        return [dict(call, id=call["id"] or fmt % (self.seq, i),
                     item_id="fc_llmd%010d_%d" % (self.seq, i))
                for i, call in enumerate(self.answer.calls)]


CALL_ID_FORMATS = {"chat": "call_llmd%010d_%d",
                   "responses": "call_llmd%010d_%d",
                   "anthropic": "toolu_llmd%010d_%d"}


def reasoning_summary(answer):
    return answer.reasoning if isinstance(answer.reasoning, str) else ""


def call_input(arguments):
    """Anthropic's tool_use input: the arguments as an object; arguments
    that are not a JSON object (raw or cut) are passed on as their text."""
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return arguments
    return parsed if isinstance(parsed, dict) else arguments


def chat_usage(u):
    return {"prompt_tokens": u["input"], "completion_tokens": u["output"],
            "total_tokens": u["input"] + u["output"],
            "prompt_tokens_details": {"cached_tokens": u["cached"]},
            "completion_tokens_details": {"reasoning_tokens": u["reasoning"]}}


def chat_finish(a):
    if a.truncated:
        return "length"
    return "tool_calls" if a.calls else "stop"


def chat_object(ctx):
    a = ctx.answer
    message = {"role": "assistant",
               "content": a.text if a.text or not a.calls else None,
               "refusal": None, "annotations": []}
    if a.calls:
        message["tool_calls"] = [
            {"id": c["id"], "type": "function",
             "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in ctx.calls]
    return {"id": "chatcmpl-llmd%010d" % ctx.seq, "object": "chat.completion",
            "created": ctx.created, "model": ctx.model,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": chat_finish(a)}],
            "usage": chat_usage(a.usage), "system_fingerprint": "fp_llmd"}


def chat_call_deltas(ctx):
    """Each call's fragments: id, type and name first (arguments ""), then
    the arguments in pieces, all keyed by the call's index."""
    deltas = []
    for i, c in enumerate(ctx.calls):
        deltas.append({"tool_calls": [{
            "index": i, "id": c["id"], "type": "function",
            "function": {"name": c["name"], "arguments": ""}}]})
        deltas += [{"tool_calls": [{"index": i,
                                    "function": {"arguments": piece}}]}
                   for piece in split_text(c["arguments"], ctx.answer.chunk)]
    return deltas


def chat_events(ctx):
    a = ctx.answer
    opts = ctx.body.get("stream_options")
    with_usage = isinstance(opts, dict) and opts.get("include_usage") is True
    base = {"id": "chatcmpl-llmd%010d" % ctx.seq,
            "object": "chat.completion.chunk", "created": ctx.created,
            "model": ctx.model, "system_fingerprint": "fp_llmd"}

    def chunk(delta, finish=None):
        c = dict(base, choices=[{"index": 0, "delta": delta, "logprobs": None,
                                 "finish_reason": finish}])
        if with_usage:
            c["usage"] = None
        return (None, c)

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": p}) for p in split_text(a.text, a.chunk)]
    events += [chunk(d) for d in chat_call_deltas(ctx)]
    events.append(chunk({}, chat_finish(a)))
    if with_usage:
        events.append((None, dict(base, choices=[], usage=chat_usage(a.usage))))
    events.append((None, "[DONE]"))
    return events, 1


def responses_usage(u):
    return {"input_tokens": u["input"],
            "input_tokens_details": {"cached_tokens": u["cached"]},
            "output_tokens": u["output"],
            "output_tokens_details": {"reasoning_tokens": u["reasoning"]},
            "total_tokens": u["input"] + u["output"]}


def responses_items(ctx):
    """The finished output items: an optional reasoning item, a message
    (unless the answer is only tool calls), then the function calls."""
    a = ctx.answer
    items = []
    if a.reasoning:
        summary = reasoning_summary(a)
        items.append({"type": "reasoning", "id": "rs_llmd%010d" % ctx.seq,
                      "summary": [{"type": "summary_text", "text": summary}]
                      if summary else []})
    if a.text or not a.calls:
        items.append({"type": "message", "id": "msg_llmd%010d" % ctx.seq,
                      "status": "incomplete" if a.truncated and not a.calls
                      else "completed",
                      "role": "assistant",
                      "content": [{"type": "output_text", "text": a.text,
                                   "annotations": [], "logprobs": []}]})
    calls = ctx.calls
    for i, c in enumerate(calls):
        cut = a.truncated and i == len(calls) - 1
        items.append({"type": "function_call", "id": c["item_id"],
                      "call_id": c["id"], "name": c["name"],
                      "arguments": c["arguments"],
                      "status": "incomplete" if cut else "completed"})
    return items


def responses_object(ctx, status=None, output=None, usage=True):
    a, body = ctx.answer, ctx.body
    if status is None:
        status = "incomplete" if a.truncated else "completed"
    return {
        "id": ctx.resp_id, "object": "response", "created_at": ctx.created,
        "status": status, "background": False, "error": None,
        "incomplete_details": {"reason": "max_output_tokens"}
        if status == "incomplete" else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": ctx.model,
        "output": responses_items(ctx) if output is None else output,
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "previous_response_id": body.get("previous_response_id"),
        "conversation": {"id": ctx.conversation} if ctx.conversation else None,
        "reasoning": {"effort": None, "summary": None},
        "store": body.get("store") is not False,
        "temperature": 1.0,
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [], "top_p": 1.0,
        "truncation": "disabled",
        "usage": responses_usage(a.usage) if usage else None,
        "user": None, "metadata": body.get("metadata") or {}}


def responses_events(ctx):
    a = ctx.answer
    events = []

    def emit(etype, **fields):
        fields = dict({"type": etype, "sequence_number": len(events)}, **fields)
        events.append((etype, fields))

    pending = responses_object(ctx, "in_progress", [], usage=False)
    emit("response.created", response=pending)
    emit("response.in_progress", response=pending)
    delta_index = None
    for out_index, item in enumerate(responses_items(ctx)):
        if item["type"] == "reasoning":
            emit("response.output_item.added", output_index=out_index,
                 item=dict(item, summary=[]))
            for si, part in enumerate(item["summary"]):
                ids = dict(item_id=item["id"], output_index=out_index,
                           summary_index=si)
                emit("response.reasoning_summary_part.added",
                     part={"type": "summary_text", "text": ""}, **ids)
                for piece in split_text(part["text"], a.chunk):
                    emit("response.reasoning_summary_text.delta", delta=piece,
                         **ids)
                emit("response.reasoning_summary_text.done",
                     text=part["text"], **ids)
                emit("response.reasoning_summary_part.done", part=part, **ids)
            emit("response.output_item.done", output_index=out_index, item=item)
            continue
        if item["type"] == "function_call":
            ids = dict(item_id=item["id"], output_index=out_index)
            emit("response.output_item.added", output_index=out_index,
                 item=dict(item, arguments="", status="in_progress"))
            if delta_index is None:
                delta_index = len(events)
            for piece in split_text(item["arguments"], a.chunk):
                emit("response.function_call_arguments.delta", delta=piece,
                     **ids)
            emit("response.function_call_arguments.done",
                 arguments=item["arguments"], **ids)
            emit("response.output_item.done", output_index=out_index, item=item)
            continue
        ids = dict(item_id=item["id"], output_index=out_index, content_index=0)
        emit("response.output_item.added", output_index=out_index,
             item=dict(item, status="in_progress", content=[]))
        emit("response.content_part.added",
             part={"type": "output_text", "text": "", "annotations": [],
                   "logprobs": []}, **ids)
        delta_index = len(events)
        for piece in split_text(a.text, a.chunk):
            emit("response.output_text.delta", delta=piece, logprobs=[], **ids)
        emit("response.output_text.done", text=a.text, logprobs=[], **ids)
        emit("response.content_part.done", part=item["content"][0], **ids)
        emit("response.output_item.done", output_index=out_index, item=item)
    final = responses_object(ctx)
    emit("response.incomplete" if a.truncated else "response.completed",
         response=final)
    return events, delta_index


def anthropic_usage(u):
    """Anthropic counts the cache apart: input_tokens is what was neither
    read from nor written to the cache."""
    return {"input_tokens": max(0, u["input"] - u["cached"] - u["creation"]),
            "output_tokens": u["output"],
            "cache_read_input_tokens": u["cached"],
            "cache_creation_input_tokens": u["creation"]}


def thinking_signature(seq):
    return "bGxtZC1zaWduYXR1cmU%010d" % seq


def anthropic_stop(a):
    if a.truncated:
        return "max_tokens"
    return "tool_use" if a.calls else "end_turn"


def anthropic_object(ctx):
    a = ctx.answer
    content = []
    if a.reasoning:
        content.append({"type": "thinking",
                        "thinking": reasoning_summary(a) or "Thinking.",
                        "signature": thinking_signature(ctx.seq)})
    if a.text or not a.calls:
        content.append({"type": "text", "text": a.text})
    content += [{"type": "tool_use", "id": c["id"], "name": c["name"],
                 "input": call_input(c["arguments"])} for c in ctx.calls]
    return {"id": "msg_llmd%010d" % ctx.seq, "type": "message",
            "role": "assistant", "model": ctx.model, "content": content,
            "stop_reason": anthropic_stop(a),
            "stop_sequence": None, "usage": anthropic_usage(a.usage)}


def anthropic_block_events(block, chunk):
    """(content_block_start payload, delta payloads) of one block."""
    if block["type"] == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": p}
                  for p in split_text(block["thinking"], chunk)]
        deltas.append({"type": "signature_delta",
                       "signature": block["signature"]})
    elif block["type"] == "tool_use":
        start = {"type": "tool_use", "id": block["id"], "name": block["name"],
                 "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": p}
                  for p in split_text(block["json"], chunk)]
    else:
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p}
                  for p in split_text(block["text"], chunk)]
    return start, deltas


def anthropic_events(ctx):
    a = ctx.answer
    full = anthropic_object(ctx)
    start = dict(full, content=[], stop_reason=None, stop_sequence=None,
                 usage=dict(full["usage"], output_tokens=1))
    events = [("message_start", {"type": "message_start", "message": start})]
    # Tool inputs stream as the arguments' text, even when not JSON.
    texts = iter(c["arguments"] for c in ctx.calls)
    delta_index = None
    for index, block in enumerate(full["content"]):
        if block["type"] == "tool_use":
            block = dict(block, json=next(texts))
        head, deltas = anthropic_block_events(block, a.chunk)
        events.append(("content_block_start", {
            "type": "content_block_start", "index": index,
            "content_block": head}))
        if index == 0:  # one ping, after the first block start
            events.append(("ping", {"type": "ping"}))
        if delta_index is None and block["type"] != "thinking":
            delta_index = len(events)
        events += [("content_block_delta", {"type": "content_block_delta",
                                            "index": index, "delta": d})
                   for d in deltas]
        events.append(("content_block_stop",
                       {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": full["stop_reason"], "stop_sequence": None},
        "usage": {"output_tokens": a.usage["output"]}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events, delta_index


def stream_error_events(ctx, fault, sent):
    """The in-stream error event(s) of ctx.api; sent = events already out."""
    over = fault.get("error") or {}
    if ctx.api == "anthropic":
        return [("error", {"type": "error", "error": {
            "type": over.get("type", "overloaded_error"),
            "message": over.get("message", "Overloaded")}})]
    err = {"message": over.get("message", OPENAI_ERRORS[500][2]),
           "type": over.get("type", "server_error"),
           "param": over.get("param"),
           "code": over.get("code", "server_error")}
    if ctx.api == "chat":
        return [(None, {"error": err})]
    shape = fault.get("shape", "flat")
    if shape == "nested":
        return [("error", {"type": "error", "error": err,
                           "sequence_number": sent})]
    if shape == "failed":
        resp = responses_object(ctx, "failed", [], usage=False)
        resp["error"] = {"code": err["code"], "message": err["message"]}
        return [("response.failed", {"type": "response.failed",
                                     "sequence_number": sent,
                                     "response": resp})]
    return [("error", {"type": "error", "code": err["code"],
                       "message": err["message"], "param": err["param"],
                       "sequence_number": sent})]


def encode_event(name, payload, style):
    """One SSE event as bytes, in the given style (see README: reply.sse)."""
    eol = EOLS[style.get("eol", "lf")]
    sep = ":" if style.get("no_space") else ": "
    if isinstance(payload, str):
        data = payload
    else:
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"),
                          indent=1 if style.get("multiline") else None)
    lines = [": llmd"] if style.get("comments") else []
    if name:
        lines.append("event" + sep + name)
    lines += ["data" + sep + line for line in data.split("\n")]
    return (eol.join(lines) + eol + eol).encode()


def malformed_payload(payload):
    """A payload cut in half: never valid JSON."""
    text = payload if isinstance(payload, str) else json.dumps(
        payload, ensure_ascii=False, separators=(",", ":"))
    return text[:max(1, len(text) // 2)]


# --------------------------------------------------------------------------
# Refusals before any answer: the context window, servers without tools


def context_refusal(req, window):
    """The API's own 400 when req's input and answer limit do not fit the
    window (0: no window), else None.  A refusal is (status, message, type,
    code, param)."""
    x, m = req.input_tokens, req.limit
    if not window or x + m <= window:
        return None
    if req.api == "anthropic":
        if x > window:
            msg = "prompt is too long: %d tokens > %d maximum" % (x, window)
        else:
            msg = ("input length and `max_tokens` exceed context limit: "
                   "%d + %d > %d, decrease input length or `max_tokens` and "
                   "try again" % (x, m, window))
        return (400, msg, "invalid_request_error", None, None)
    if m:
        detail = ("However, you requested %d tokens (%d in the messages, %d "
                  "in the completion). Please reduce the length of the "
                  "messages or completion." % (x + m, x, m))
    else:
        detail = ("However, your messages resulted in %d tokens. Please "
                  "reduce the length of the messages." % x)
    return (400, "This model's maximum context length is %d tokens. %s"
            % (window, detail), "invalid_request_error",
            "context_length_exceeded",
            "messages" if req.api == "chat" else "input")


def tools_refusal(req):
    """What Ollama answers a model without tool support."""
    return (400, "registry.ollama.ai/library/%s does not support tools"
            % req.model, "invalid_request_error", None, None)


# --------------------------------------------------------------------------
# Prompt caches: deterministic stand-ins for the providers' caches

CACHE_MIN_TOKENS = 1024       # shorter prefixes are never cached
OPENAI_CACHE_BLOCK = 128      # OpenAI caches whole blocks of this many tokens
ANTHROPIC_LOOKBACK = 20       # block boundaries searched at a breakpoint


class PromptCache:
    """What earlier requests left in the providers' caches: digests of the
    prefixes they wrote (not the text, so that long tests stay small),
    keyed by model, and by prompt_cache_key for OpenAI."""

    def __init__(self):
        self.written = {}

    def clear(self):
        self.written.clear()

    def usage(self, req, store):
        """(cached tokens, cache creation tokens) of req; with store, what
        req writes is remembered for later requests."""
        if req.api == "anthropic":
            return self._anthropic(req, store)
        return self._openai(req, store), 0

    def _openai(self, req, store):
        """The longest prefix, in whole blocks of at least the minimum, that
        an earlier request of the same key and model had."""
        seen = self.written.setdefault(("openai", req.cache_key, req.model),
                                       set())
        text, chars = req.context, OPENAI_CACHE_BLOCK * 4
        digest, cached, wrote = hashlib.sha256(), 0, []
        for n in range(1, len(text) // chars + 1):
            digest.update(text[(n - 1) * chars:n * chars].encode())
            if n * OPENAI_CACHE_BLOCK < CACHE_MIN_TOKENS:
                continue
            d = digest.digest()
            wrote.append(d)
            if d in seen:
                cached = n * OPENAI_CACHE_BLOCK
        if store:
            seen.update(wrote)
        return cached

    def _anthropic(self, req, store):
        """Reads: the longest prefix ending at a block boundary at most
        ANTHROPIC_LOOKBACK blocks before one of req's breakpoints that an
        earlier request wrote.  Writes: the prefix at each breakpoint;
        creation is what the last breakpoint adds to the read."""
        seen = self.written.setdefault(("anthropic", req.model), set())
        digest, length, bounds = hashlib.sha256(), 0, []
        for i, (text, _) in enumerate(req.prompt):
            piece = ("\n" if i else "") + text
            digest.update(piece.encode())
            length += len(piece)
            bounds.append((math.ceil(length / 4), digest.digest()))
        marks = [i for i, (_, bp) in enumerate(req.prompt) if bp]
        read = 0
        for mark in marks:
            for tokens, d in reversed(bounds[max(0, mark + 1 -
                                                 ANTHROPIC_LOOKBACK):mark + 1]):
                if d in seen:
                    read = max(read, tokens)
                    break
        wrote = [bounds[m] for m in marks
                 if bounds[m][0] >= CACHE_MIN_TOKENS]
        creation = 0
        if marks and wrote and wrote[-1] == bounds[marks[-1]] and \
                wrote[-1][1] not in seen:
            creation = wrote[-1][0] - read
        if store:
            seen.update(d for _, d in wrote)
        return read, creation


# --------------------------------------------------------------------------
# Server state


class Recorder:
    """The request record: a JSON-lines file and an in-memory copy."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.entries = []
        self.file = open(path, "w", encoding="utf-8") if path else None

    def write(self, entry, keep=True):
        line = json.dumps(entry, ensure_ascii=False, default=str)
        with self.lock:
            if keep:
                self.entries.append(entry)
            if self.file:
                self.file.write(line + "\n")
                self.file.flush()

    def since(self, seq):
        with self.lock:
            found = [e for e in self.entries if e.get("seq", 0) > seq]
        return sorted(found, key=lambda e: e["seq"])

    def close(self):
        if self.file:
            self.file.close()


class App:
    """Shared state: script, fault queue, stored responses, prompt caches,
    record."""

    def __init__(self, opts, script):
        self.opts = opts
        self.lock = threading.Lock()
        self.script = script
        self.queue = []
        self.responses = {}
        self.conversations = {}
        self.caches = PromptCache()
        self.rng = random.Random(opts.seed)
        self.seq = 0
        self.recorder = Recorder(opts.record)
        self.stopping = threading.Event()
        self.stop_reason = None
        self.outages = Outages()

    def next_seq(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def request_stop(self, reason):
        if self.stop_reason is None:
            self.stop_reason = reason

    def reset(self):
        with self.lock:
            self.queue.clear()
            self.responses.clear()
            self.conversations.clear()
            self.caches.clear()
            self.script.reset()
            self.rng = random.Random(self.opts.seed)
        self.outages.end()

    def replace_script(self, script):
        with self.lock:
            self.script = script

    def queue_faults(self, specs):
        with self.lock:
            self.queue += [QueuedFault(s) for s in specs]
            return len(self.queue)

    def queued(self):
        with self.lock:
            return [q.describe() for q in self.queue]

    def models(self):
        with self.lock:
            return self.script.models()

    def _setting(self, name, flag):
        """A script's server setting when it gives one, else the flag's."""
        value = getattr(self.script, name)
        return flag if value is None else value

    def _refusal(self, req):
        """The window's or a tool-less server's refusal of req, or None."""
        window = self._setting("context_tokens", self.opts.context_tokens)
        refusal = context_refusal(req, window)
        if refusal is None and req.has_tools and self._setting(
                "reject_tools", self.opts.reject_tools):
            refusal = tools_refusal(req)
        return refusal

    def decide(self, req):
        """Pick the rule, the fault and the answer for one API request, or
        refuse it (the window, tools) before any rule counts it."""
        with self.lock:
            refusal = self._refusal(req)
            if refusal:
                return Decision(None, None, None, refusal)
            rule = self.script.match(req)
            if rule and rule.reject_tools and req.has_tools:
                return Decision(rule, None, None, tools_refusal(req))
            fault = self._pick_fault(req, rule)
            served = rule.served if rule else 0
            if rule and fault_delivers(fault):
                rule.served += 1
            cached, creation = (0, 0)
            if self._setting("cache", not self.opts.no_cache):
                cached, creation = self.caches.usage(req,
                                                     fault_delivers(fault))
            default = self.script.default
        reply = rule.reply if rule and rule.reply else default
        if reply:
            text, specs = reply_item(reply, served)
            if reply is default:
                text = text.replace("{api}", req.api).replace(
                    "{model}", req.model)
        else:
            reply, specs = {}, []
            text = DEFAULT_REPLY.format(api=req.api, model=req.model)
        truncated = reply.get("truncated", False)
        calls = scripted_calls(specs, truncated)
        reasoning = rule.reasoning if rule else False
        usage = self._usage(req, text, calls, reasoning,
                            rule.usage if rule else {})
        usage = dict({"cached": cached, "creation": creation}, **usage)
        answer = Answer(text=text, reasoning=reasoning, truncated=truncated,
                        chunk=reply.get("chunk", self.opts.chunk_chars),
                        sse=reply.get("sse", {}), usage=usage, calls=calls)
        return Decision(rule, fault, answer)

    def _pick_fault(self, req, rule):
        """Queued fault, else the rule's, else a random one (or None)."""
        drawn = None
        if self.opts.fault_rate > 0 and self.rng.random() < self.opts.fault_rate:
            pool = random_fault_pool(self.opts.fault_stall)
            drawn = dict(pool[self.rng.randrange(len(pool))], source="random")
        for q in self.queue:
            if match_static(q.match, req):
                q.remaining -= 1
                if q.remaining <= 0:
                    self.queue.remove(q)
                return dict(q.fault, source="queue")
        if rule and rule.fault:
            limit = rule.fault.get("count")
            if limit is None or rule.faulted < limit:
                rule.faulted += 1
                return dict(rule.fault, source="rule")
        return drawn

    @staticmethod
    def _usage(req, text, calls, reasoning, over):
        """Token counts (the caches' are added by decide); over: a rule's
        usage, which wins."""
        if isinstance(reasoning, str):
            r_tokens = est_tokens(reasoning)
        else:
            r_tokens = 8 if reasoning else 0
        said = [text] + [call_text(c["name"], c["arguments"]) for c in calls]
        usage = {"input": req.input_tokens,
                 "output": est_tokens("\n".join(x for x in said if x)) +
                 r_tokens,
                 "reasoning": r_tokens}
        usage.update(over)
        return usage

    def lookup_response(self, rid):
        with self.lock:
            return self.responses.get(rid)

    def lookup_conversation(self, cid):
        with self.lock:
            return self.conversations.get(cid)

    def store_turn(self, rid, conv, chain, obj):
        """Keep a Responses turn: chain (see empty_chain) for the requests
        that continue it, obj for GET /responses/{id}."""
        with self.lock:
            if rid:
                self.responses[rid] = {"chain": chain, "object": obj}
            if conv:
                self.conversations[conv] = {"chain": chain, "id": conv}

    def new_conversation(self, seq, chain):
        cid = "conv_llmd%010d" % seq
        with self.lock:
            self.conversations[cid] = {"chain": chain, "id": cid}
        return cid


# --------------------------------------------------------------------------
# HTTP: one exchange (request and its answer)


class ClientGone(Exception):
    """The client closed the connection while we were answering."""


class Writer:
    """Writes a body: chunked or raw, whole or trickled a byte at a time."""

    def __init__(self, ex, chunked, trickle):
        self.ex, self.chunked, self.trickle = ex, chunked, trickle

    def _raw(self, data):
        try:
            self.ex.h.wfile.write(data)
        except OSError as e:
            raise ClientGone() from e

    def write(self, data):
        if not data:
            return
        if self.trickle is None:
            self._raw(b"%x\r\n%s\r\n" % (len(data), data)
                      if self.chunked else data)
            return
        for i in range(len(data)):
            byte = data[i:i + 1]
            self._raw(b"1\r\n%s\r\n" % byte if self.chunked else byte)
            if self.ex.app.stopping.wait(self.trickle):
                raise ClientGone()

    def end(self):
        if self.chunked:
            self._raw(b"0\r\n\r\n")


class Exchange:
    """One request: its record entry and the ways to answer it."""

    def __init__(self, handler, app, url, raw):
        self.h = handler
        self.app = app
        self.method = handler.command
        self.path = url.path
        self.headers = {}
        for name, value in handler.headers.items():
            name = name.lower()
            self.headers[name] = (self.headers[name] + ", " + value
                                  if name in self.headers else value)
        self.raw = raw
        self.body, self.body_ok = self._parse(raw)
        self.api = None
        self.family = "openai"
        self.req = None
        self.seq = app.next_seq()
        self.request_id = "req_llmd%016d" % self.seq
        self.recorded = False
        self.rec = {"seq": self.seq, "time": time.time(),
                    "method": self.method, "path": handler.path,
                    "headers": self.headers, "body": self.body, "api": None,
                    "stream": False, "matched_rule": None, "fault": None,
                    "input_tokens": None, "cached_tokens": None,
                    "status": None}

    @staticmethod
    def _parse(raw):
        if not raw:
            return None, False
        text = raw.decode("utf-8", "replace")
        try:
            return json.loads(text), True
        except ValueError:
            return text, False

    def record(self):
        if not self.recorded:
            self.recorded = True
            self.rec["api"] = self.api
            self.app.recorder.write(self.rec)
            if self.app.opts.verbose:
                sys.stderr.write("llmd: #%d %s %s api=%s status=%s fault=%s\n"
                                 % (self.seq, self.method, self.path, self.api,
                                    self.rec["status"], self.rec["fault"]))

    def wait(self, seconds):
        """Sleep, cut short when the server stops; True if stopping."""
        return self.app.stopping.wait(seconds) if seconds else False

    def common_headers(self, fault=None):
        hdrs = [("request-id" if self.family == "anthropic" else
                 "x-request-id", self.request_id)]
        fault = fault or {}
        if "retry_after" in fault:
            ra = fault["retry_after"]
            hdrs.append(("Retry-After", ra if isinstance(ra, str) else
                         ("%d" % ra if float(ra).is_integer() else "%g" % ra)))
        if "retry_after_ms" in fault:
            hdrs.append(("retry-after-ms", "%g" % fault["retry_after_ms"]))
        if "x_should_retry" in fault:
            v = fault["x_should_retry"]
            hdrs.append(("x-should-retry", str(v).lower()
                         if isinstance(v, bool) else v))
        return hdrs

    def send_head(self, status, headers):
        # Record first: once a client sees any byte, its line is written.
        self.rec["status"] = status
        self.record()
        try:
            self.h.send_response(status, reason_phrase(status))
            for name, value in headers:
                self.h.send_header(name, value)
            self.h.end_headers()
        except OSError as e:
            raise ClientGone() from e

    def trickle_of(self, fault):
        t = (fault or {}).get("trickle")
        if t is None or t is False:
            return None
        return self.app.opts.trickle_delay if t is True else float(t)

    def send_bytes(self, status, data, ctype, fault=None, cut=False):
        """A whole body with Content-Length (only half of it when cut)."""
        hdrs = [("Content-Type", ctype), ("Content-Length", str(len(data)))]
        self.send_head(status, hdrs + self.common_headers(fault))
        writer = Writer(self, False, self.trickle_of(fault))
        if not cut:
            writer.write(data)
            return
        writer.write(data[:len(data) // 2])
        self.wait((fault or {}).get("stall", 0))
        self.abort(fault)

    def send_json(self, status, obj, fault=None):
        self.send_bytes(status, json_bytes(obj), "application/json", fault)

    def error(self, status, message=None, etype=None, code=None, param=None,
              fault=None):
        """An error response in this API's shape."""
        over = dict((fault or {}).get("error") or {})
        for key, val in (("message", message), ("type", etype),
                         ("code", code), ("param", param)):
            if val is not None:
                over.setdefault(key, val)
        if fault and "body" in fault:
            body = fault["body"]
            data = body.encode() if isinstance(body, str) else json_bytes(body)
        elif self.family == "anthropic":
            data = json_bytes(anthropic_error(status, self.request_id, over))
        else:
            data = json_bytes(openai_error(status, over))
        ctype = (fault or {}).get("content_type", "application/json")
        self.send_bytes(status, data, ctype, fault)

    def abort(self, fault=None):
        """Drop the connection without finishing the response."""
        self.h.close_connection = True
        sock = self.h.connection
        try:
            if (fault or {}).get("reset"):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                b"\x01\x00\x00\x00\x00\x00\x00\x00")
                sock.close()
            else:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- answering with a decision

    def execute(self, decision, ctx, make_object, make_stream):
        """Answer per the decision: a fault, or the scripted reply."""
        fault = decision.fault or {}
        self.rec["matched_rule"] = decision.rule.index if decision.rule else None
        self.rec["fault"] = decision.fault
        self.rec["input_tokens"] = self.req.input_tokens
        if decision.refusal:
            return self.error(*decision.refusal)
        self.rec["cached_tokens"] = decision.answer.usage["cached"]
        if self.wait(fault.get("delay", 0)):
            return self.abort()
        if "stall" in fault and "cut_after" not in fault:
            self.record()
            self.wait(fault["stall"])
            return self.abort(fault)
        if "status" in fault or fault.get("json_error_to_stream"):
            return self.error(fault.get("status", 500), fault=fault)
        if self.req.stream:
            return self.send_stream(ctx, make_stream(ctx), fault)
        data = json_bytes(make_object(ctx))
        if fault.get("malformed"):
            data = data[:len(data) // 2]
        self.send_bytes(200, data, "application/json", fault,
                        cut="cut_after" in fault)

    def send_stream(self, ctx, plan, fault):
        events, delta_index = plan
        if delta_index is None:
            delta_index = len(events) - 1
        events = list(events)
        if fault.get("malformed"):
            name, payload = events[delta_index]
            events.insert(delta_index, (name, malformed_payload(payload)))
        closing = False
        if fault.get("error_in_stream"):
            keep = fault.get("after", delta_index + 1)
            events = events[:keep] + stream_error_events(ctx, fault, keep)
            closing = True
        http10 = self.h.request_version == "HTTP/1.0"
        hdrs = [("Content-Type", "text/event-stream; charset=utf-8"),
                ("Cache-Control", "no-cache")]
        if http10:
            hdrs.append(("Connection", "close"))
            self.h.close_connection = True
        else:
            hdrs.append(("Transfer-Encoding", "chunked"))
        self.send_head(200, hdrs + self.common_headers(fault))
        writer = Writer(self, not http10, self.trickle_of(fault))
        cut = fault.get("cut_after")
        style = ctx.answer.sse
        for i, (name, payload) in enumerate(events):
            if cut is not None and i >= cut:
                self.wait(fault.get("stall", 0))
                return self.abort(fault)
            writer.write(encode_event(name, payload, style))
            if i + 1 < len(events) and self.wait(fault.get("event_delay", 0)):
                return self.abort()
        writer.end()
        if closing:
            self.h.close_connection = True


# --------------------------------------------------------------------------
# The APIs


def check_auth(ex):
    """Send the API's own auth error and return False, or return True."""
    key = ex.app.opts.api_key
    if ex.family == "anthropic":
        got = ex.headers.get("x-api-key")
        if not got:
            ex.error(401, "x-api-key header is required", "authentication_error")
            return False
        if key and not hmac.compare_digest(got.encode(), key.encode()):
            ex.error(401, "invalid x-api-key", "authentication_error")
            return False
        if not ex.headers.get("anthropic-version"):
            ex.error(400, "anthropic-version: header is required",
                     "invalid_request_error")
            return False
        return True
    if not key:
        return True
    auth = ex.headers.get("authorization", "")
    if not auth:
        ex.error(401, "You didn't provide an API key. You need to provide your "
                 "API key in an Authorization header using Bearer auth (i.e. "
                 "Authorization: Bearer YOUR_KEY).", "invalid_request_error")
        return False
    m = re.match(r"(?i)bearer\s+(.*)$", auth)
    got = m.group(1).strip() if m else auth
    if not m or not hmac.compare_digest(got.encode(), key.encode()):
        ex.error(401, "Incorrect API key provided: %s." % mask_key(got),
                 "invalid_request_error", code="invalid_api_key")
        return False
    return True


def require_json(ex):
    """The body as a JSON object, or None after sending a 400."""
    if ex.body_ok and isinstance(ex.body, dict):
        return ex.body
    if ex.family == "anthropic":
        ex.error(400, "Request body is not valid JSON."
                 if ex.raw else "Request body is required.",
                 "invalid_request_error")
    else:
        ex.error(400, "We could not parse the JSON body of your request. The "
                 "API expects a JSON payload.", "invalid_request_error")
    return None


def missing(ex, name):
    if ex.family == "anthropic":
        ex.error(400, "%s: Field required" % name, "invalid_request_error")
    else:
        ex.error(400, "Missing required parameter: '%s'." % name,
                 "invalid_request_error", "missing_required_parameter", name)


def new_ctx(ex, body, answer, **kw):
    return Ctx(api=ex.api, seq=ex.seq, model=model_of(body),
               created=int(time.time()), answer=answer, body=body, **kw)


def answer_request(ex, body, req, to_object, to_events):
    """Decide the answer to a parsed request and send it, whole (to_object)
    or streamed (to_events)."""
    ex.req = req
    ex.rec["stream"] = req.stream
    decision = ex.app.decide(req)
    ex.execute(decision, new_ctx(ex, body, decision.answer), to_object,
               to_events)


def serve_chat(ex):
    body = require_json(ex)
    if body is None:
        return
    if not isinstance(body.get("model"), str) or not body["model"]:
        return ex.error(400, "you must provide a model parameter",
                        "invalid_request_error")
    if not isinstance(body.get("messages"), list):
        return missing(ex, "messages")
    answer_request(ex, body, chat_req(body, ex.headers), chat_object,
                   chat_events)


def conversation_id(body):
    conv = body.get("conversation")
    if isinstance(conv, dict):
        return conv.get("id")
    return conv


def serve_responses(ex):
    body = require_json(ex)
    if body is None:
        return
    if not isinstance(body.get("model"), str) or not body["model"]:
        return missing(ex, "model")
    prev_id, conv = body.get("previous_response_id"), conversation_id(body)
    if prev_id and conv:
        return ex.error(400, "Mutually exclusive parameters: Ensure you are "
                        "only providing one of: 'previous_response_id' or "
                        "'conversation'.", "invalid_request_error",
                        "mutually_exclusive_parameters", "conversation")
    chain = empty_chain()
    if prev_id:
        prev = ex.app.lookup_response(prev_id)
        if prev is None:
            return ex.error(400, "Previous response with id '%s' not found."
                            % prev_id, "invalid_request_error",
                            "previous_response_not_found",
                            "previous_response_id")
        chain = prev["chain"]
    if conv:
        found = ex.app.lookup_conversation(conv)
        if found is None:
            return ex.error(404, "Conversation with id '%s' not found." % conv,
                            "invalid_request_error", "conversation_not_found",
                            "conversation")
        chain = found["chain"]
    ex.req = responses_req(body, ex.headers, chain)
    ex.rec["stream"] = ex.req.stream
    decision = ex.app.decide(ex.req)
    ctx = new_ctx(ex, body, decision.answer, resp_id="resp_llmd%024x" % ex.seq,
                  conversation=conv)
    if not decision.refusal and fault_delivers(decision.fault):
        stored = body.get("store") is not False
        ex.app.store_turn(ctx.resp_id if stored else None, conv,
                          next_chain(chain, ex.req, ctx),
                          responses_object(ctx))
    ex.execute(decision, ctx, responses_object, responses_events)


def next_chain(chain, req, ctx):
    """The chain after this turn: its input and its output appended."""
    names = dict(req.names)
    names.update((c["id"], c["name"]) for c in ctx.calls)
    output = [ctx.answer.text] + [call_text(c["name"], c["arguments"])
                                  for c in ctx.calls]
    return {"history": chain["history"] + req.input_parts +
            [x for x in output if x],
            "names": names, "latest": req.latest}


def serve_response_get(ex, rid):
    found = ex.app.lookup_response(rid)
    if found is None:
        return ex.error(404, "Response with id '%s' not found." % rid,
                        "invalid_request_error", param="response_id")
    ex.send_json(200, found["object"])


def serve_conversation_create(ex):
    body = ex.body if ex.body_ok and isinstance(ex.body, dict) else {}
    items = responses_items_of(body.get("items"))
    chain = empty_chain()
    chain["history"] = [t for t in map(responses_item_text, items) if t]
    cid = ex.app.new_conversation(ex.seq, chain)
    ex.send_json(200, {"id": cid, "object": "conversation",
                       "created_at": int(time.time()),
                       "metadata": body.get("metadata") or {}})


def serve_anthropic(ex):
    body = require_json(ex)
    if body is None:
        return
    for name in ("model", "messages", "max_tokens"):
        if name not in body:
            return missing(ex, name)
    if not isinstance(body["messages"], list):
        return ex.error(400, "messages: Input should be a valid list",
                        "invalid_request_error")
    answer_request(ex, body, anthropic_req(body, ex.headers),
                   anthropic_object, anthropic_events)


def serve_count_tokens(ex):
    body = require_json(ex)
    if body is None:
        return
    ex.send_json(200, {"input_tokens": anthropic_req(
        body, ex.headers).input_tokens})


def serve_models(ex):
    names = ex.app.models()
    if ex.family == "anthropic":
        data = [{"type": "model", "id": n, "display_name": n,
                 "created_at": "2025-01-01T00:00:00Z"} for n in names]
        return ex.send_json(200, {"data": data, "has_more": False,
                                  "first_id": names[0], "last_id": names[-1]})
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "llmd"}
            for n in names]
    ex.send_json(200, {"object": "list", "data": data})


RESPONSE_ID = re.compile(r"/responses/([^/]+)$")


def route(ex):
    """(api name for the record, family, serve function) for a request."""
    path, method = ex.path.rstrip("/"), ex.method
    anthropic_hdr = "anthropic-version" in ex.headers or "x-api-key" in ex.headers
    if method == "POST":
        if path.endswith("/chat/completions"):
            return "chat", "openai", serve_chat
        if path.endswith("/responses"):
            return "responses", "openai", serve_responses
        if path.endswith("/conversations"):
            return "conversations", "openai", serve_conversation_create
        if path.endswith("/messages/count_tokens"):
            return "anthropic", "anthropic", serve_count_tokens
        if path.endswith("/messages"):
            return "anthropic", "anthropic", serve_anthropic
    if method == "GET":
        if path.endswith("/models"):
            return ("models", "anthropic" if anthropic_hdr else "openai",
                    serve_models)
        m = RESPONSE_ID.search(path)
        if m:
            return "responses", "openai", lambda e: serve_response_get(
                e, m.group(1))
    return None, "anthropic" if anthropic_hdr else "openai", None


def serve_api(ex):
    api, ex.family, serve = route(ex)
    ex.api = api
    if serve is None:
        return ex.error(404, "Invalid URL (%s %s)" % (ex.method, ex.path),
                        "invalid_request_error", code="unknown_url")
    if check_auth(ex):
        serve(ex)


def outage_req(ex, api):
    """The request as an outage's match sees it (no chain is looked up)."""
    body = ex.body if ex.body_ok and isinstance(ex.body, dict) else {}
    if api == "chat":
        return chat_req(body, ex.headers)
    if api == "responses":
        return responses_req(body, ex.headers, empty_chain())
    if api == "anthropic":
        return anthropic_req(body, ex.headers)
    return Req(api or "", model_of(body), "", "", [], False, ex.headers)


def serve_outage(ex):
    """Answer as the outage's phase says and return True, or return False
    when no outage covers this request.  It comes before authentication:
    a provider that is down checks no keys."""
    api, family, _ = route(ex)
    hit = ex.app.outages.hit(lambda: outage_req(ex, api))
    if hit is None:
        return False
    ex.api, ex.family = api, family
    index, phase = hit
    mode = phase["mode"]
    ex.rec["outage"] = {"phase": index, "mode": mode}
    ex.rec["stream"] = isinstance(ex.body, dict) and \
        ex.body.get("stream") is True
    if mode in CONNECTION_MODES:
        # "refuse" here: a connection opened before the port closed.
        ex.record()
        ex.abort({"reset": True})
        return True
    fault = {"status": mode}
    if "retry_after" in phase:
        fault["retry_after"] = phase["retry_after"]
    ex.error(mode, fault=fault)
    return True


# --------------------------------------------------------------------------
# Control API under /_llmd/


def control_reply(handler, status, obj):
    data = json_bytes(obj)
    handler.send_response(status, reason_phrase(status))
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def control(handler, app, url, raw):
    def reply(status, obj):
        control_reply(handler, status, obj)

    if not handler.client_address[0].startswith("127."):
        return reply(403, {"ok": False, "error": "control API is loopback only"})
    what = (handler.command, url.path[len("/_llmd"):].rstrip("/"))
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        return reply(400, {"ok": False, "error": "body is not JSON"})
    try:
        result = control_action(app, what, parse_qs(url.query), body)
    except ScriptError as e:
        return reply(400, {"ok": False, "error": str(e)})
    if result is None:
        return reply(404, {"ok": False, "error": "no such control endpoint"})
    reply(200, result)
    if what == ("POST", "/shutdown"):
        app.request_stop("shutdown-request")


def control_action(app, what, query, body):
    if what == ("GET", "/health"):
        return {"ok": True}
    if what == ("GET", "/requests"):
        try:
            since = int(query.get("since", ["0"])[0])
        except ValueError:
            raise ScriptError("since must be an integer")
        return app.recorder.since(since)
    if what == ("GET", "/faults"):
        return app.queued()
    if what == ("GET", "/script"):
        return app.script.source
    if what == ("POST", "/fault"):
        specs = body if isinstance(body, list) else [body]
        for i, spec in enumerate(specs):
            check_fault(spec, "fault %d" % i, queued=True)
        return {"ok": True, "queued": app.queue_faults(specs)}
    if what == ("POST", "/script"):
        script = Script(body)
        app.replace_script(script)
        return {"ok": True, "rules": len(script.rules)}
    if what == ("POST", "/reset"):
        app.reset()
        return {"ok": True}
    if what == ("POST", "/shutdown"):
        return {"ok": True}
    if what[1] == "/outage":
        return control_outage(app, what[0], body)
    return None


def control_outage(app, method, body):
    if method == "GET":
        return app.outages.describe()
    if method == "POST":
        check_outage(body)
        return dict(app.outages.start(body), ok=True)
    if method == "DELETE":
        listening = app.outages.end()
        return dict(app.outages.describe(), ok=True, listening=listening)
    return None


# --------------------------------------------------------------------------
# Outages: the provider unavailable for a while, in phases, then recovered


OUTAGE_KEYS = {"phases", "match"}
PHASE_KEYS = {"mode", "seconds", "retry_after"}
CONNECTION_MODES = ("refuse", "reset")


def check_outage(spec):
    _need(isinstance(spec, dict), "outage", "must be an object")
    _no_unknown(spec, OUTAGE_KEYS, "outage")
    phases = spec.get("phases")
    _need(isinstance(phases, list) and phases, "outage",
          "phases must be a non-empty list")
    for i, ph in enumerate(phases):
        at = "outage.phases[%d]" % i
        _need(isinstance(ph, dict), at, "a phase must be an object")
        _no_unknown(ph, PHASE_KEYS, at)
        mode = ph.get("mode")
        _need(mode in CONNECTION_MODES or (_is_int(mode) and
                                           400 <= mode <= 599), at,
              "mode must be an HTTP status 400..599, \"refuse\" or \"reset\"")
        _need(_is_num(ph.get("seconds")) and ph["seconds"] > 0, at,
              "seconds must be a number > 0")
        if "retry_after" in ph:
            _need(_is_int(mode), at, "retry_after needs a status mode")
            _need(_is_num(ph["retry_after"]) or
                  isinstance(ph["retry_after"], str), at,
                  "retry_after: seconds or an HTTP-date string")
    if "match" in spec:
        check_match(spec["match"], "outage.match", allow_turn=False)
        # A refused connection carries no request to match on.
        _need(not spec["match"] or all(
            ph["mode"] != "refuse" for ph in phases), "outage",
            "a \"refuse\" phase closes the port for everyone: it cannot "
            "have a match (run a second llmd instead)")


def parse_outage_arg(text):
    """--outage "529:100,503:100:5,refuse:100": MODE:SECONDS[:RETRY_AFTER]
    phases, back to back."""
    phases = []
    for item in text.split(","):
        parts = item.strip().split(":")
        if len(parts) not in (2, 3):
            raise ScriptError("--outage: %r is not MODE:SECONDS[:RETRY_AFTER]"
                              % item)
        mode = parts[0] if parts[0] in CONNECTION_MODES else _number(parts[0])
        phase = {"mode": mode, "seconds": _number(parts[1])}
        if len(parts) == 3:
            phase["retry_after"] = _number(parts[2])
        phases.append(phase)
    spec = {"phases": phases}
    check_outage(spec)
    return spec


def _number(text):
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ScriptError("--outage: %r is not a number" % text)


class Outage:
    """One outage: its phases from a start time, and what it has seen.
    Times are monotonic for the phases, epoch for the record."""

    def __init__(self, spec, now):
        self.phases = spec["phases"]
        self.match = spec.get("match", {})
        self.started_mono = now
        self.started = time.time()
        self.ended = None           # epoch when it ended (or was ended)
        self.counts = [0] * len(self.phases)
        bounds, t = [], now
        for ph in self.phases:
            t += ph["seconds"]
            bounds.append(t)
        self.bounds = bounds        # monotonic end of each phase

    def phase_at(self, now):
        """Index of the phase at monotonic time now, or None when over."""
        if self.ended is not None:
            return None
        for i, end in enumerate(self.bounds):
            if now < end:
                return i
        return None

    def next_change(self, now):
        """Monotonic time of the next phase boundary after now, or None."""
        if self.ended is not None:
            return None
        return next((b for b in self.bounds if b > now), None)

    def describe(self, now):
        i = self.phase_at(now)
        return {"active": i is not None, "phase": i,
                "mode": self.phases[i]["mode"] if i is not None else None,
                "ends_in": round(self.bounds[i] - now, 3)
                if i is not None else 0,
                "started": self.started, "ended": self.ended,
                "requests": sum(self.counts), "phase_requests": self.counts,
                "phases": self.phases, "match": self.match}


NO_OUTAGE = {"active": False, "phase": None, "mode": None, "ends_in": 0,
             "started": None, "ended": None, "requests": 0,
             "phase_requests": [], "phases": [], "match": {}}


class Outages:
    """The current (or last) outage, and the thread that keeps the API
    listener closed exactly during "refuse" phases.  A change (start, end)
    bumps gen; the thread sets applied once the port is in the state it
    asks for, so that POST and DELETE answer only then."""

    def __init__(self):
        self.cond = threading.Condition()
        self.current = None
        self.gen = 0
        self.applied = 0     # the last gen the port state was applied for
        self.failed = 0      # the last gen whose rebind failed
        self.driven = False
        self.stopping = False

    def start(self, spec):
        """Begin an outage now (replacing any other); its description."""
        with self.cond:
            self._end_locked()
            self.current = Outage(spec, time.monotonic())
            self._changed_locked()
        return self.describe()

    def end(self):
        """End the outage at once; True once the API port listens again."""
        with self.cond:
            self._end_locked()
            return self._changed_locked()

    def _changed_locked(self):
        """Wake the thread and wait (5 s at most) until it applied this
        change; False if it could not (a port that cannot be rebound: the
        thread keeps trying)."""
        self.gen += 1
        gen = self.gen
        self.cond.notify_all()
        if not self.driven:
            return True
        self.cond.wait_for(lambda: max(self.applied, self.failed) >= gen,
                           5.0)
        return self.applied >= gen

    def _end_locked(self):
        o = self.current
        if o is None or o.ended is not None:
            return
        if o.phase_at(time.monotonic()) is not None:
            o.ended = time.time()
        else:   # finished by itself: it ended with its last phase
            o.ended = o.started + (o.bounds[-1] - o.started_mono)

    def describe(self):
        with self.cond:
            if self.current is None:
                return dict(NO_OUTAGE)
            out = self.current.describe(time.monotonic())
            if not out["active"] and out["ended"] is None:
                o = self.current
                out["ended"] = o.started + (o.bounds[-1] - o.started_mono)
            return out

    def hit(self, make_req):
        """(phase index, phase) when the request falls in an outage, else
        None; a hit is counted.  make_req builds the request's Req, only
        when the outage has a match."""
        with self.cond:
            o = self.current
            i = o.phase_at(time.monotonic()) if o else None
            if i is None:
                return None
            match = o.match
        if match and not match_static(match, make_req()):
            return None
        with self.cond:
            o.counts[i] += 1
        return i, o.phases[i]

    def drive(self, listener):
        """Thread body: close the listener in "refuse" phases, open it
        otherwise; a failed rebind is retried every 50 ms."""
        with self.cond:
            self.driven = True
        while True:
            with self.cond:
                if self.stopping:
                    return
                gen, now, o = self.gen, time.monotonic(), self.current
                i = o.phase_at(now) if o else None
                refuse = i is not None and o.phases[i]["mode"] == "refuse"
                change = o.next_change(now) if o else None
            if refuse:
                listener.close()
                ok = True
            else:
                ok = listener.open()
            with self.cond:
                if ok:
                    self.applied = max(self.applied, gen)
                else:
                    self.failed = max(self.failed, gen)
                self.cond.notify_all()
                wait = 1.0 if change is None else change - time.monotonic()
                wait = 0.05 if not ok else min(1.0, max(0.0, wait))
                if self.gen == gen and not self.stopping:
                    self.cond.wait(wait)

    def stop(self):
        with self.cond:
            self.stopping = True
            self.cond.notify_all()


class Listener:
    """The API port: a Server that can be closed (connections refused) and
    bound again on the same port."""

    def __init__(self, app, port):
        self.app = app
        self.lock = threading.Lock()
        self.server = self._start(Server((LOOPBACK, port), app))
        self.port = self.server.server_address[1]
        self.failing = False

    def _start(self, server):
        threading.Thread(target=server.serve_forever, args=(0.05,),
                         daemon=True).start()
        return server

    def close(self, quiet=False):
        with self.lock:
            if self.server is None:
                return
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.app.opts.verbose and not quiet:
            sys.stderr.write("llmd: outage: port %d closed\n" % self.port)

    def open(self):
        """Listen again (no-op when listening); False if the port cannot be
        bound yet."""
        with self.lock:
            if self.server is not None:
                return True
            try:
                self.server = self._start(Server((LOOPBACK, self.port),
                                                 self.app))
            except OSError as e:
                if not self.failing:
                    sys.stderr.write(
                        "llmd: OUTAGE: CANNOT REBIND port %d: %s; retrying "
                        "every 50 ms\n" % (self.port, e))
                self.failing = True
                return False
            if self.failing or self.app.opts.verbose:
                sys.stderr.write("llmd: outage: port %d listening again\n"
                                 % self.port)
            self.failing = False
            return True

# --------------------------------------------------------------------------
# HTTP server plumbing


class BodyError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "llmd/1"
    sys_version = ""
    timeout = 300

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        if self.server.app.opts.verbose > 1:
            sys.stderr.write("llmd: %s %s\n" % (self.address_string(),
                                                fmt % args))

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BodyError(400, "bad Content-Length")
        if length < 0 or length > MAX_BODY:
            raise BodyError(413, "request body too large")
        return self.rfile.read(length)

    def read_chunked(self):
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BodyError(400, "bad chunk size")
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                raise BodyError(413, "request body too large")
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def plain_error(self, status, message):
        data = json_bytes(openai_error(status, {"message": message}))
        self.close_connection = True
        self.send_response(status, reason_phrase(status))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def dispatch(self):
        app = self.server.app
        url = urlsplit(self.path)
        try:
            raw = self.read_body()
        except BodyError as e:
            return self.plain_error(e.status, str(e))
        if url.path.startswith("/_llmd/"):
            return control(self, app, url, raw)
        if self.server.control_only:
            return control_reply(self, 404, {
                "ok": False, "error": "llmd's control port serves only "
                "/_llmd/"})
        ex = Exchange(self, app, url, raw)
        try:
            if not serve_outage(ex):
                serve_api(ex)
        except ClientGone:
            self.close_connection = True
        except Exception:
            traceback.print_exc()
            if ex.recorded:
                ex.abort()
            else:
                ex.rec["status"] = 500
                ex.record()
                self.plain_error(500, "llmd internal error")
        finally:
            ex.record()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, app, control_only=False):
        self.app = app
        self.control_only = control_only
        super().__init__(address, Handler)

    def server_bind(self):
        # HTTPServer.server_bind resolves the host name; skip that lookup.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


# --------------------------------------------------------------------------
# Main


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="llmd.py", allow_abbrev=False,
        description="Test LLM server for masterd (loopback only).")
    p.add_argument("--host", default=LOOPBACK,
                   help="must be 127.0.0.1 (anything else is refused)")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--port-file", help="write the port here once listening")
    p.add_argument("--script", help="JSON script of rules")
    p.add_argument("--record", help="JSON-lines record of every request")
    p.add_argument("--api-key", default=os.environ.get("LLMD_API_KEY"),
                   help="required key (default: $LLMD_API_KEY; prefer the "
                   "environment, argv is visible to other users)")
    p.add_argument("--max-lifetime", type=float, default=600.0,
                   help="exit after this many seconds (0: never)")
    p.add_argument("--no-parent-watch", action="store_true",
                   help="keep running when the parent process exits")
    p.add_argument("--fault-rate", type=float, default=0.0,
                   help="fraction of API requests given a random fault")
    p.add_argument("--seed", type=int, default=0, help="seed of --fault-rate")
    p.add_argument("--fault-stall", type=float, default=2.0,
                   help="seconds of the random stall fault")
    p.add_argument("--chunk-chars", type=int, default=8,
                   help="characters per streamed text delta")
    p.add_argument("--trickle-delay", type=float, default=0.002,
                   help="seconds between bytes of a trickle fault")
    p.add_argument("--context-tokens", type=int, default=0,
                   help="the model's context window: a request whose input "
                   "and answer limit exceed it gets the API's overflow "
                   "error (0: no window)")
    p.add_argument("--no-cache", action="store_true",
                   help="do not simulate prompt caching")
    p.add_argument("--reject-tools", action="store_true",
                   help="refuse requests offering tools, as Ollama does for "
                   "models without tool support")
    p.add_argument("--outage", type=outage_arg, metavar="MODE:S,...",
                   help="an outage from llmd's start: phases MODE:SECONDS"
                   "[:RETRY_AFTER] back to back, MODE a status, refuse or "
                   "reset (e.g. 529:100,503:100,refuse:100)")
    p.add_argument("--control-port-file",
                   help="also serve the control API (only) on a second "
                   "loopback port, always up, and write that port here")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="log requests to stderr (twice: HTTP lines too)")
    opts = p.parse_args(argv)
    if opts.host != LOOPBACK:
        p.error("refusing --host %s: llmd listens on %s only"
                % (opts.host, LOOPBACK))
    if not 0.0 <= opts.fault_rate <= 1.0:
        p.error("--fault-rate must be within 0..1")
    if opts.chunk_chars < 1:
        p.error("--chunk-chars must be >= 1")
    if opts.context_tokens < 0:
        p.error("--context-tokens must be >= 0")
    return opts


def outage_arg(text):
    try:
        return parse_outage_arg(text)
    except ScriptError as e:
        raise argparse.ArgumentTypeError(str(e))


def redacted_argv(argv):
    out, hide = [], False
    for arg in argv:
        if hide:
            out.append("***")
            hide = False
        elif arg == "--api-key":
            out.append(arg)
            hide = True
        elif arg.startswith("--api-key="):
            out.append("--api-key=***")
        else:
            out.append(arg)
    return out


def load_script(path):
    if not path:
        return Script([])
    with open(path, encoding="utf-8") as f:
        return Script(json.load(f))


def write_port_file(path, port):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def wait_for_stop(app, opts, parent):
    """Block until a stop reason appears; return it."""
    start = time.monotonic()
    while app.stop_reason is None:
        time.sleep(0.05)
        if opts.max_lifetime > 0 and time.monotonic() - start >= opts.max_lifetime:
            app.request_stop("max-lifetime")
        elif not opts.no_parent_watch and os.getppid() != parent:
            app.request_stop("parent-exited")
    return app.stop_reason


def main(argv=None):
    parent = os.getppid()
    argv = sys.argv[1:] if argv is None else argv
    opts = parse_args(argv)
    try:
        script = load_script(opts.script)
    except (OSError, ValueError) as e:
        sys.stderr.write("llmd: bad script %s: %s\n" % (opts.script, e))
        return 2
    app = App(opts, script)
    try:
        listener = Listener(app, opts.port)
        control_server = Server((LOOPBACK, 0), app, control_only=True) \
            if opts.control_port_file else None
    except OSError as e:
        sys.stderr.write("llmd: cannot listen: %s\n" % e)
        return 2
    port = listener.port

    def on_signal(signum, frame):
        app.request_stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    app.recorder.write({"seq": 0, "event": "start", "time": time.time(),
                        "pid": os.getpid(), "port": port,
                        "control_port": control_server.server_address[1]
                        if control_server else None,
                        "argv": [sys.argv[0]] + redacted_argv(argv),
                        "env_keys": sorted(os.environ)}, keep=False)
    driver = threading.Thread(target=app.outages.drive, args=(listener,),
                              daemon=True)
    driver.start()
    if opts.outage:
        app.outages.start(opts.outage)
    if control_server:
        threading.Thread(target=control_server.serve_forever, args=(0.05,),
                         daemon=True).start()
        write_port_file(opts.control_port_file,
                        control_server.server_address[1])
    if opts.port_file:
        write_port_file(opts.port_file, port)
    if opts.verbose:
        sys.stderr.write("llmd: listening on http://%s:%d\n" % (LOOPBACK, port))
    reason = wait_for_stop(app, opts, parent)
    app.stopping.set()
    app.outages.stop()
    driver.join()
    listener.close(quiet=True)
    if control_server:
        control_server.shutdown()
        control_server.server_close()
    app.recorder.write({"seq": app.next_seq(), "event": "stop",
                        "time": time.time(), "reason": reason}, keep=False)
    app.recorder.close()
    for path in (opts.port_file, opts.control_port_file):
        try:
            if path:
                os.unlink(path)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
