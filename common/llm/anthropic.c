/*
 * anthropic.c — Anthropic Messages (POST {base}/messages, headers
 * x-api-key and anthropic-version).
 *
 * Stateless like Chat Completions: every turn carries the system prompt
 * (a top-level field, not a message) and the alternating user/assistant
 * transcript, trimmed by whole turns so it still starts with a user.  A
 * stream is message_start, content blocks (text_delta pieces; thinking is
 * skipped), message_delta (stop reason, output tokens), message_stop; an
 * "error" event is followed by a closed connection.  Tools are sent with
 * input_schema; a call is a tool_use block whose input streams as
 * input_json_delta pieces, and its result goes back as a tool_result
 * block, before the text, in the next user message.  Prompt caching:
 * breakpoints (cache_control) on the last tool, the system prompt and
 * the last block of the history, so each request reads the one before
 * it from the cache.  Usage counts cache reads and writes apart from
 * input_tokens: they are added back so input means the whole prompt, as
 * for the other APIs, and the reads are the cached part of it.
 */
#include <stdlib.h>
#include <string.h>

#include "common/llm/impl.h"

#define ANTHROPIC_VERSION	"2023-06-01"

static json_t *
ephemeral(void)
{
	return json_pack("{s:s}", "type", "ephemeral");
}

/* Mark the last block of content (blocks, or a string made one block)
 * as a cache breakpoint; returns the content. */
static json_t *
cache_last(json_t *content)
{
	json_t *last;

	if (json_is_string(content)) {
		json_t *blocks = json_pack("[{s:s, s:O}]", "type", "text",
		    "text", content);

		json_decref(content);
		content = blocks;
	}
	last = json_array_get(content, json_array_size(content) - 1);
	json_object_set_new(last, "cache_control", ephemeral());
	return content;
}

static json_t *
anthropic_tools(const json_t *tools)
{
	json_t *out = json_array(), *t;
	size_t i;

	json_array_foreach(tools, i, t) {
		json_t *tool = llm_tool_fields(t, "input_schema");

		/* Required here; optional in the neutral form. */
		if (json_object_get(tool, "input_schema") == NULL)
			json_object_set_new(tool, "input_schema",
			    json_pack("{s:s}", "type", "object"));
		json_array_append_new(out, tool);
	}
	return cache_last(out);
}

/*
 * A turn's input: its tool_result blocks first, then the text; text
 * alone stays a string.
 */
static json_t *
input_content(const struct llm_turn *prev, const struct llm_turn *t)
{
	struct llm_tool_result *r;
	json_t *blocks;
	size_t n;

	r = llm_turn_pairs(prev, t, &n);
	if (n == 0 && t->user != NULL) {
		free(r);
		return json_string(t->user);
	}
	blocks = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *b = json_pack("{s:s, s:s}", "type", "tool_result",
		    "tool_use_id", r[i].id);

		/* Empty text blocks are refused; content may be left out. */
		if (*r[i].content != '\0')
			json_object_set_new(b, "content",
			    json_string(r[i].content));
		json_object_set_new(b, "is_error", json_boolean(r[i].error));
		json_array_append_new(blocks, b);
	}
	free(r);
	if (t->user != NULL)
		json_array_append_new(blocks, json_pack("{s:s, s:s}", "type",
		    "text", "text", t->user));
	/* Results for no call and no text: say so rather than send []. */
	if (json_array_size(blocks) == 0)
		json_array_append_new(blocks, json_pack("{s:s, s:s}", "type",
		    "text", "text", "(no input)"));
	return blocks;
}

/*
 * A call's input must be an object.  Arguments that are not one (cut, or
 * badly written) go as {}: the call's result, which the tool layer
 * writes, tells the model what was wrong with them.
 */
static json_t *
call_input(const char *arguments)
{
	json_error_t jerr;
	json_t *v = json_loads(arguments, 0, &jerr);

	if (json_is_object(v))
		return v;
	json_decref(v);
	return json_object();
}

/* An answer: text alone stays a string; with calls, text and tool_use
 * blocks.  Anthropic refuses empty text: an answer of nothing says so. */
static json_t *
answer_content(const struct llm_turn *t)
{
	json_t *blocks;

	if (t->ncalls == 0)
		return json_string(*t->assistant != '\0' ? t->assistant :
		    "(empty answer)");
	blocks = json_array();
	if (*t->assistant != '\0')
		json_array_append_new(blocks, json_pack("{s:s, s:s}", "type",
		    "text", "text", t->assistant));
	for (size_t i = 0; i < t->ncalls; i++)
		json_array_append_new(blocks, json_pack("{s:s, s:s, s:s, s:o}",
		    "type", "tool_use", "id", t->calls[i].id, "name",
		    t->calls[i].name, "input",
		    call_input(t->calls[i].arguments)));
	return blocks;
}

static json_t *
content_message(const char *role, json_t *content)
{
	return json_pack("{s:s, s:o}", "role", role, "content", content);
}

static json_t *
anthropic_build(const struct llm_session *s, const struct llm_turn *next,
    size_t first)
{
	const struct llm_conf *c = &s->conf;
	json_t *body = json_object(), *msgs = json_array(), *content;

	json_object_set_new(body, "model", json_string(c->model));
	json_object_set_new(body, "max_tokens", json_integer(c->max_tokens));
	/* Cache breakpoints: the tools, the system prompt, the history. */
	if (s->system != NULL)
		json_object_set_new(body, "system",
		    cache_last(json_string(s->system)));
	for (size_t i = first; i < s->nturns; i++) {
		json_array_append_new(msgs, content_message("user",
		    input_content(llm_turn_prev(s, i, first), &s->turns[i])));
		content = answer_content(&s->turns[i]);
		if (i + 1 == s->nturns)
			content = cache_last(content);
		json_array_append_new(msgs, content_message("assistant",
		    content));
	}
	json_array_append_new(msgs, content_message("user", input_content(
	    llm_turn_prev(s, s->nturns, first), next)));
	json_object_set_new(body, "messages", msgs);
	if (s->tools != NULL)
		json_object_set_new(body, "tools", anthropic_tools(s->tools));
	if (c->temperature >= 0)
		json_object_set_new(body, "temperature",
		    json_real(c->temperature));
	json_object_set_new(body, "stream", json_boolean(c->stream));
	return body;
}

static int
anthropic_headers(const struct llm_session *s, struct curl_slist **h)
{
	if (s->key != NULL && llm_header_add(h, "x-api-key", "",
	    s->key) != 0)
		return -1;
	return llm_header_add(h, "anthropic-version", "", ANTHROPIC_VERSION);
}

/* Usage as message_start, message_delta and whole answers carry it. */
static void
anthropic_usage(struct llm_parse *p, json_t *u)
{
	int64_t in, read, created, out;

	if (!json_is_object(u))
		return;
	in = llm_json_int(u, "input_tokens");
	read = llm_json_int(u, "cache_read_input_tokens");
	created = llm_json_int(u, "cache_creation_input_tokens");
	out = llm_json_int(u, "output_tokens");
	/* message_delta repeats only what changed: keep the rest. */
	if (in + read + created > 0) {
		p->usage.input = in + read + created;
		p->usage.cached = read;
	}
	if (out > 0)
		p->usage.output = out;
}

static void
anthropic_stop(struct llm_parse *p, const char *reason)
{
	if (reason == NULL)
		return;
	llm_parse_set(&p->finish, reason);
	p->truncated = strcmp(reason, "max_tokens") == 0;
}

/* A tool_use block at index: begun (stream) or whole.  Its input is an
 * object; {} at the start of a stream, where input_json_delta pieces
 * follow. */
static void
anthropic_call(struct llm_parse *p, json_t *block, long index)
{
	json_t *input = json_object_get(block, "input");
	struct llm_call_acc *c;
	char *text;

	c = llm_parse_call_start(p, index, NULL, jget_str(block, "id"),
	    jget_str(block, "name"));
	if (c == NULL || !json_is_object(input) || json_object_size(input) == 0)
		return;
	text = json_dumps(input, JSON_COMPACT | JSON_PRESERVE_ORDER);
	llm_parse_call_set_args(p, c, text);
	free(text);
}

static bool
is_type(json_t *o, const char *type)
{
	const char *t = jget_str(o, "type");

	return t != NULL && strcmp(t, type) == 0;
}

static long
block_index(json_t *data)
{
	json_t *v = json_object_get(data, "index");

	return json_is_integer(v) && json_integer_value(v) >= 0 ?
	    (long)json_integer_value(v) : -1;
}

/* A call that said nothing of its input called with no arguments. */
static void
anthropic_call_end(struct llm_parse *p, long index)
{
	struct llm_call_acc *c = llm_parse_call(p, index, NULL);

	if (c != NULL && c->args.len == 0)
		llm_parse_call_set_args(p, c, "{}");
}

static void
anthropic_whole(struct llm_parse *p, json_t *root)
{
	size_t i;
	json_t *block;

	json_array_foreach(json_object_get(root, "content"), i, block) {
		const char *text = jget_str(block, "text");

		if (is_type(block, "text") && text != NULL)
			llm_parse_text(p, text, strlen(text));
		if (is_type(block, "tool_use")) {
			anthropic_call(p, block, (long)i);
			anthropic_call_end(p, (long)i);
		}
	}
	if (jget_str(root, "model") != NULL)
		llm_parse_set(&p->model, jget_str(root, "model"));
	if (jget_str(root, "id") != NULL)
		llm_parse_set(&p->id, jget_str(root, "id"));
	anthropic_stop(p, jget_str(root, "stop_reason"));
	anthropic_usage(p, json_object_get(root, "usage"));
	p->usage.calls = 1;
	p->done = true;
}

/* A piece of a block: text, or a piece of a call's input. */
static void
on_block_delta(struct llm_parse *p, json_t *data)
{
	json_t *delta = json_object_get(data, "delta");
	const char *text = jget_str(delta, "text");
	const char *json = jget_str(delta, "partial_json");

	if (is_type(delta, "text_delta") && text != NULL)
		llm_parse_text(p, text, strlen(text));
	else if (is_type(delta, "input_json_delta") && json != NULL)
		llm_parse_call_args(p, llm_parse_call(p, block_index(data),
		    NULL), json, strlen(json));
}

static void
on_block_start(struct llm_parse *p, json_t *data)
{
	json_t *block = json_object_get(data, "content_block");

	if (is_type(block, "tool_use"))
		anthropic_call(p, block, block_index(data));
}

static void
on_block_stop(struct llm_parse *p, json_t *data)
{
	anthropic_call_end(p, block_index(data));
}

static void
on_message_start(struct llm_parse *p, json_t *data)
{
	json_t *msg = json_object_get(data, "message");

	if (jget_str(msg, "id") != NULL)
		llm_parse_set(&p->id, jget_str(msg, "id"));
	if (jget_str(msg, "model") != NULL)
		llm_parse_set(&p->model, jget_str(msg, "model"));
	anthropic_usage(p, json_object_get(msg, "usage"));
}

static void
on_message_delta(struct llm_parse *p, json_t *data)
{
	anthropic_stop(p, jget_str(json_object_get(data, "delta"),
	    "stop_reason"));
	anthropic_usage(p, json_object_get(data, "usage"));
}

static void
on_message_stop(struct llm_parse *p, json_t *data)
{
	(void)data;
	p->usage.calls = 1;
	p->done = true;
}

static void
on_error(struct llm_parse *p, json_t *data)
{
	llm_parse_error_json(p, data, 0);
}

static const struct {
	const char *type;
	void (*fn)(struct llm_parse *, json_t *);
} handlers[] = {
	{ "content_block_delta", on_block_delta },
	{ "content_block_start", on_block_start },
	{ "content_block_stop", on_block_stop },
	{ "message_start", on_message_start },
	{ "message_delta", on_message_delta },
	{ "message_stop", on_message_stop },
	{ "error", on_error },
};

static void
anthropic_event(struct llm_parse *p, const char *evtype, const char *raw,
    json_t *data)
{
	const char *type = jget_str(data, "type");

	(void)raw;
	if (type == NULL)
		type = evtype;
	if (data == NULL || type == NULL)
		return;
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (strcmp(type, handlers[i].type) == 0) {
			handlers[i].fn(p, data);
			return;
		}
	}
	/* ping and unknown events: nothing. */
}

const struct llm_api llm_api_anthropic = {
	.name = "anthropic",
	.path = "/messages",
	.default_url = "https://api.anthropic.com/v1",
	.default_key_env = "ANTHROPIC_API_KEY",
	.server_history = false,
	.build = anthropic_build,
	.headers = anthropic_headers,
	.whole = anthropic_whole,
	.event = anthropic_event,
};
