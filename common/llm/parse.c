/*
 * parse.c — reading an answer, whatever the API: SSE bytes into
 * events and events into the API's handler, whole JSON bodies, the error
 * shapes every provider uses ({"error":{…}}, {"error":"text"}, flat
 * {"code","message"}, integer or string codes), usage and its cost.
 *
 * The per-API meaning of an event lives in llm_openai.c, llm_chat.c and
 * llm_anthropic.c; this file is what they have in common.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/llm/impl.h"

int
llm_buf_add(struct llm_buf *b, const char *s, size_t n)
{
	if (n > LLM_MAX_BODY || b->len > LLM_MAX_BODY - n)
		return -1;
	b->p = xgrow(b->p, &b->cap, b->len + n + 1, 256, SIZE_MAX);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

void
llm_buf_reset(struct llm_buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

void
llm_buf_free(struct llm_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void
llm_parse_set(char **field, const char *s)
{
	free(*field);
	*field = s != NULL ? xstrdup(s) : NULL;
}

/* obj[key] as an integer, 0 when absent or not a number. */
int64_t
llm_json_int(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	return 0;
}

bool
llm_usage_tokens(struct llm_usage *usage, json_t *u,
    const struct llm_usage_keys *k)
{
	if (!json_is_object(u))
		return false;
	usage->input = llm_json_int(u, k->input);
	usage->output = llm_json_int(u, k->output);
	usage->cached = llm_json_int(json_object_get(u, k->input_details),
	    "cached_tokens");
	usage->reasoning = llm_json_int(json_object_get(u, k->output_details),
	    "reasoning_tokens");
	return true;
}

static void
on_delta_default(const char *s, size_t n, void *arg)
{
	(void)s;
	(void)n;
	(void)arg;
}

static int
sse_event(const struct sse_event *ev, void *arg)
{
	struct llm_parse *p = arg;
	json_error_t jerr;
	json_t *data;

	/* Keep-alive events with no data ("event: ping" alone). */
	if (ev->data_len == 0)
		return 0;
	data = json_loadb(ev->data, ev->data_len, JSON_DECODE_ANY, &jerr);
	if (data == NULL && ev->data[0] == '{') {
		p->bad = true;
		llm_parse_set(&p->err_message, "malformed JSON in a stream "
		    "event");
		return 1;
	}
	p->api->event(p, ev->type, ev->data, data);
	json_decref(data);
	return p->bad || p->failed ? 1 : 0;
}

void
llm_parse_init(struct llm_parse *p, const struct llm_api *api,
    void (*on_delta)(const char *, size_t, void *), void *arg)
{
	memset(p, 0, sizeof(*p));
	p->api = api;
	p->on_delta = on_delta != NULL ? on_delta : on_delta_default;
	p->arg = arg;
	sse_init(&p->sse, 0, sse_event, p);
}

void
llm_parse_free(struct llm_parse *p)
{
	sse_free(&p->sse);
	llm_buf_free(&p->text);
	for (size_t i = 0; i < p->ncalls; i++) {
		free(p->calls[i].item_id);
		free(p->calls[i].id);
		free(p->calls[i].name);
		llm_buf_free(&p->calls[i].args);
	}
	free(p->calls);
	free(p->model);
	free(p->id);
	free(p->finish);
	free(p->err_code);
	free(p->err_message);
	memset(p, 0, sizeof(*p));
}

/* A piece of answer text: kept, and passed on as it arrives. */
void
llm_parse_text(struct llm_parse *p, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (llm_buf_add(&p->text, s, n) != 0) {
		p->bad = p->too_big = true;
		llm_parse_set(&p->err_message, "answer text " LLM_TOO_LARGE);
		return;
	}
	p->on_delta(s, n, p->arg);
}

struct llm_call_acc *
llm_parse_call(struct llm_parse *p, long index, const char *item_id)
{
	struct llm_call_acc *c;

	/* An item id names one call; an index may be another item's when a
	 * final object lists the output without its reasoning items. */
	for (size_t i = 0; item_id != NULL && i < p->ncalls; i++) {
		c = &p->calls[i];
		if (c->item_id != NULL && strcmp(c->item_id, item_id) == 0)
			return c;
	}
	/* The newest call begun at an index is the one it now names. */
	for (size_t i = p->ncalls; index >= 0 && i > 0; i--) {
		c = &p->calls[i - 1];
		if (c->index == index && (item_id == NULL ||
		    c->item_id == NULL))
			return c;
	}
	return NULL;
}

static void
fill(char **field, const char *s)
{
	if (*field == NULL && s != NULL)
		*field = xstrdup(s);
}

struct llm_call_acc *
llm_parse_call_new(struct llm_parse *p, long index, const char *item_id,
    const char *id, const char *name)
{
	struct llm_call_acc *c;

	if (p->ncalls == LLM_MAX_CALLS) {
		p->bad = true;
		llm_parse_set(&p->err_message, "too many tool calls");
		return NULL;
	}
	p->calls = xgrow(p->calls, &p->calls_cap, (p->ncalls + 1) *
	    sizeof(*c), 4 * sizeof(*c), LLM_MAX_CALLS * sizeof(*c));
	c = &p->calls[p->ncalls++];
	memset(c, 0, sizeof(*c));
	c->index = index;
	/* Never NULL, so a call with no arguments reads as "". */
	(void)llm_buf_add(&c->args, "", 0);
	fill(&c->item_id, item_id);
	fill(&c->id, id);
	fill(&c->name, name);
	return c;
}

struct llm_call_acc *
llm_parse_call_start(struct llm_parse *p, long index, const char *item_id,
    const char *id, const char *name)
{
	struct llm_call_acc *c = llm_parse_call(p, index, item_id);

	if (c == NULL)
		return llm_parse_call_new(p, index, item_id, id, name);
	fill(&c->item_id, item_id);
	fill(&c->id, id);
	fill(&c->name, name);
	return c;
}

void
llm_parse_call_args(struct llm_parse *p, struct llm_call_acc *c,
    const char *s, size_t n)
{
	if (c == NULL || c->args_whole || n == 0)
		return;
	if (llm_buf_add(&c->args, s, n) != 0) {
		p->bad = true;
		p->too_big = true;
		llm_parse_set(&p->err_message, "tool call arguments "
		    LLM_TOO_LARGE);
	}
}

void
llm_parse_call_set_args(struct llm_parse *p, struct llm_call_acc *c,
    const char *s)
{
	if (c == NULL || s == NULL)
		return;
	llm_buf_reset(&c->args);
	c->args_whole = false;
	llm_parse_call_args(p, c, s, strlen(s));
	c->args_whole = true;
}

struct llm_tool_call *
llm_parse_calls(const struct llm_parse *p)
{
	struct llm_tool_call *out;

	if (p->ncalls == 0)
		return NULL;
	out = xcalloc(p->ncalls, sizeof(*out));
	for (size_t i = 0; i < p->ncalls; i++) {
		const struct llm_call_acc *c = &p->calls[i];

		/* A server that named no id or name: "" (never written). */
		out[i].id = c->id != NULL ? c->id : c->item_id != NULL ?
		    c->item_id : (char *)"";
		out[i].name = c->name != NULL ? c->name : (char *)"";
		out[i].arguments = c->args.p;
	}
	return out;
}

int
llm_parse_feed(struct llm_parse *p, const char *buf, size_t len)
{
	int rc;

	if (p->bad || p->failed)
		return -1;
	rc = sse_feed(&p->sse, buf, len);
	if (rc == SSE_ETOOBIG) {
		p->bad = p->too_big = true;
		llm_parse_set(&p->err_message, "an event of the answer's "
		    "stream over the event size cap (16 MiB): not retried, an "
		    "answer as large would come again");
	} else if (rc < 0) {
		p->bad = true;
		llm_parse_set(&p->err_message, sse_strerror(rc));
	}
	return rc == 0 ? 0 : -1;
}

bool
llm_parse_end(struct llm_parse *p)
{
	(void)sse_finish(&p->sse);
	if (p->failed || p->bad || p->done)
		return false;
	/* Some local servers close a Chat stream without "data: [DONE]":
	 * once the finish reason came, nothing was to come but the usage
	 * chunk, read if it came whole.  Only a clean end comes here: a
	 * broken connection is the transport's error. */
	if (p->api->finish_ends && p->finish != NULL) {
		p->usage.calls = 1;
		p->done = true;
		return false;
	}
	return true;
}

void
llm_parse_whole(struct llm_parse *p, const char *body, size_t len)
{
	json_error_t jerr;
	json_t *root;

	root = json_loadb(body, len, 0, &jerr);
	if (!json_is_object(root)) {
		json_decref(root);
		p->bad = true;
		llm_parse_set(&p->err_message, "the answer is not a JSON "
		    "object");
		return;
	}
	/* Some servers answer an error with status 200. */
	if (json_object_get(root, "error") != NULL &&
	    !json_is_null(json_object_get(root, "error"))) {
		llm_parse_error_json(p, root, 0);
	} else {
		p->api->whole(p, root);
	}
	json_decref(root);
}

/*
 * The HTTP status an error type or code stands for, so the retry policy
 * treats an error event like the status it would have had: overloaded
 * is 529, rate limits 429, server faults 500, anything else final (400).
 */
static int
status_of(const char *type, const char *code, int status)
{
	const char *words[2] = { type, code };

	if (status != 0)
		return status;
	if (code != NULL && isdigit((unsigned char)code[0])) {
		int n = atoi(code);

		if (n >= 400 && n <= 599)
			return n;
	}
	for (int i = 0; i < 2; i++) {
		if (words[i] == NULL)
			continue;
		if (strstr(words[i], "overloaded") != NULL)
			return 529;
		if (strstr(words[i], "rate_limit") != NULL)
			return 429;
		if (strstr(words[i], "server_error") != NULL ||
		    strstr(words[i], "api_error") != NULL ||
		    strstr(words[i], "internal") != NULL ||
		    strstr(words[i], "timeout") != NULL)
			return 500;
	}
	return 400;
}

/* A code as text: "rate_limit_exceeded" or 500 -> "500". */
static void
set_code(struct llm_parse *p, json_t *code)
{
	char num[32];

	if (json_is_string(code)) {
		llm_parse_set(&p->err_code, json_string_value(code));
	} else if (json_is_integer(code)) {
		snprintf(num, sizeof(num), "%lld",
		    (long long)json_integer_value(code));
		llm_parse_set(&p->err_code, num);
	}
}

void
llm_parse_error_json(struct llm_parse *p, json_t *root, int status)
{
	json_t *e = json_object_get(root, "error");
	const char *type = NULL, *msg = NULL;

	p->failed = true;
	if (json_is_string(e)) {
		msg = json_string_value(e);
		e = root;
	} else if (!json_is_object(e)) {
		e = root;	/* flat: {"type":"error","code","message"} */
	}
	if (msg == NULL)
		msg = jget_str(e, "message");
	type = jget_str(e, "type");
	if (type != NULL && strcmp(type, "error") == 0)
		type = NULL;
	set_code(p, json_object_get(e, "code"));
	if (p->err_code == NULL && type != NULL)
		llm_parse_set(&p->err_code, type);
	llm_parse_set(&p->err_message, msg != NULL ? msg :
	    "(the provider gave no message)");
	p->err_status = status_of(type, p->err_code, status);
}

void
llm_parse_error_body(struct llm_parse *p, int status, const char *body,
    size_t len)
{
	json_error_t jerr;
	json_t *root;
	char text[LLM_MAX_MESSAGE + 1];
	size_t n = 0;

	root = json_loadb(body, len, 0, &jerr);
	if (json_is_object(root)) {
		llm_parse_error_json(p, root, status);
		json_decref(root);
		return;
	}
	json_decref(root);
	/* Not JSON (a proxy's HTML page): its printable start. */
	for (size_t i = 0; i < len && n < LLM_MAX_MESSAGE; i++)
		text[n++] = isprint((unsigned char)body[i]) ? body[i] : ' ';
	text[n] = '\0';
	p->failed = true;
	p->err_status = status;
	llm_parse_set(&p->err_message, n > 0 ? text : "(empty body)");
}

void
llm_usage_price(struct llm_usage *u, const struct llm_conf *c)
{
	double cached_price = c->price_cached >= 0 ? c->price_cached :
	    c->price_input;

	u->priced = c->price_input >= 0 || c->price_output >= 0;
	if (!u->priced) {
		u->cost = 0;
		return;
	}
	u->cost = ((double)(u->input - u->cached) *
	    (c->price_input >= 0 ? c->price_input : 0) +
	    (double)u->cached * (cached_price >= 0 ? cached_price : 0) +
	    (double)u->output * (c->price_output >= 0 ? c->price_output : 0))
	    / 1e6;
}

void
llm_usage_add(struct llm_usage *sum, const struct llm_usage *u)
{
	sum->input += u->input;
	sum->output += u->output;
	sum->cached += u->cached;
	sum->reasoning += u->reasoning;
	sum->cost += u->cost;
	sum->priced = sum->priced || u->priced;
	sum->calls += u->calls;
}
