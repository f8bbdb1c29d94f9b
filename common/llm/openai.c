/*
 * openai.c — the OpenAI Responses API (POST {base}/responses).
 *
 * The server keeps the conversation: each turn names the previous
 * response (previous_response_id) or the Conversation it belongs to,
 * never both, and carries only the new user input.  Instructions are not
 * carried over from one response to the next, so they go with every turn.
 * With store off (or no id yet), the transcript is sent as input items.
 *
 * The answer is the output_text parts of the message items in output[]
 * (reasoning items come first and are skipped) and its function_call
 * items, whose call_id the results name (function_call_output items).
 * Streamed, a call is announced by output_item.added, its arguments come
 * in function_call_arguments.delta pieces and whole in .done; the final
 * response lists the calls again, whole, and that is what is kept.  A
 * stream has no [DONE]: it ends with response.completed,
 * response.incomplete or response.failed; an "error" event comes flat
 * ({"code","message"}) or nested ({"error":{…}}).
 */
#include <stdlib.h>
#include <string.h>

#include "common/llm/impl.h"

static json_t *
message(const char *role, const char *text)
{
	return json_pack("{s:s, s:s}", "role", role, "content", text);
}

/* Function tools; strict only when the tool asks (it needs
 * additionalProperties false at every level of the schema). */
static json_t *
responses_tools(const json_t *tools)
{
	json_t *out = json_array(), *t, *fn;
	size_t i;

	json_array_foreach(tools, i, t) {
		json_t *fields = llm_tool_fields(t, "parameters");

		fn = json_pack("{s:s}", "type", "function");
		json_object_update(fn, fields);
		json_decref(fields);
		json_object_set_new(fn, "strict", json_boolean(
		    jget_bool(t, "strict")));
		json_array_append_new(out, fn);
	}
	return out;
}

/* A turn's input items: a function_call_output per result, the text. */
static void
input_items(const struct llm_turn *prev, const struct llm_turn *t,
    json_t *input)
{
	struct llm_tool_result *r;
	size_t n;

	r = llm_turn_pairs(prev, t, &n);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(input, json_pack("{s:s, s:s, s:s}",
		    "type", "function_call_output", "call_id", r[i].id,
		    "output", r[i].content));
	free(r);
	if (t->user != NULL)
		json_array_append_new(input, message("user", t->user));
}

/* An answer as input items: its message, then its function calls,
 * without their item ids (an item id asks the server for the reasoning
 * item that came before it, which is not kept). */
static void
answer_items(const struct llm_turn *t, json_t *input)
{
	if (*t->assistant != '\0' || t->ncalls == 0)
		json_array_append_new(input, message("assistant",
		    t->assistant));
	for (size_t i = 0; i < t->ncalls; i++)
		json_array_append_new(input, json_pack("{s:s, s:s, s:s, s:s}",
		    "type", "function_call", "call_id", t->calls[i].id, "name",
		    t->calls[i].name, "arguments", t->calls[i].arguments));
}

static json_t *
responses_build(const struct llm_session *s, const struct llm_turn *next,
    size_t first)
{
	const struct llm_conf *c = &s->conf;
	json_t *body = json_object(), *input = json_array();
	bool chained = llm_session_chained(s);

	json_object_set_new(body, "model", json_string(c->model));
	if (s->system != NULL)
		json_object_set_new(body, "instructions",
		    json_string(s->system));
	for (size_t i = first; !chained && i < s->nturns; i++) {
		input_items(llm_turn_prev(s, i, first), &s->turns[i], input);
		answer_items(&s->turns[i], input);
	}
	/* Chained, the server holds the answer these results are for. */
	input_items(chained && s->nturns > 0 ? &s->turns[s->nturns - 1] :
	    llm_turn_prev(s, s->nturns, first), next, input);
	json_object_set_new(body, "input", input);
	if (chained && s->conversation != NULL)
		json_object_set_new(body, "conversation",
		    json_string(s->conversation));
	else if (chained)
		json_object_set_new(body, "previous_response_id",
		    json_string(s->response_id));
	if (s->tools != NULL)
		json_object_set_new(body, "tools", responses_tools(s->tools));
	json_object_set_new(body, "max_output_tokens",
	    json_integer(c->max_tokens));
	if (c->temperature >= 0)
		json_object_set_new(body, "temperature",
		    json_real(c->temperature));
	json_object_set_new(body, "store", json_boolean(c->store));
	json_object_set_new(body, "stream", json_boolean(c->stream));
	json_object_set_new(body, "truncation", json_string("auto"));
	if (s->cache_key != NULL)
		json_object_set_new(body, "prompt_cache_key",
		    json_string(s->cache_key));
	return body;
}

static void
responses_usage(struct llm_parse *p, json_t *u)
{
	static const struct llm_usage_keys keys = {
		"input_tokens", "output_tokens",
		"input_tokens_details", "output_tokens_details",
	};

	llm_usage_tokens(&p->usage, u, &keys);
}

/* The output_text parts of the message items, in order. */
static void
responses_output_text(struct llm_parse *p, json_t *output)
{
	size_t i, j;
	json_t *item, *part;

	json_array_foreach(output, i, item) {
		const char *type = jget_str(item, "type");

		if (type == NULL || strcmp(type, "message") != 0)
			continue;
		json_array_foreach(json_object_get(item, "content"), j, part) {
			const char *pt = jget_str(part, "type");
			const char *text = jget_str(part, "text");

			if (pt != NULL && strcmp(pt, "output_text") == 0 &&
			    text != NULL)
				llm_parse_text(p, text, strlen(text));
		}
	}
}

/* A function_call item (whole, or as output_item.added/done say it) at
 * output position pos; args_whole: its arguments are the last word. */
static void
responses_call(struct llm_parse *p, json_t *item, long pos, bool args_whole)
{
	const char *type = jget_str(item, "type");
	const char *args = jget_str(item, "arguments");
	struct llm_call_acc *c;

	if (type == NULL || strcmp(type, "function_call") != 0)
		return;
	c = llm_parse_call_start(p, pos, jget_str(item, "id"),
	    jget_str(item, "call_id"), jget_str(item, "name"));
	if (c != NULL && args != NULL && (args_whole || *args != '\0'))
		llm_parse_call_set_args(p, c, args);
}

/* The output index an event names, or -1. */
static long
output_index(json_t *data)
{
	json_t *v = json_object_get(data, "output_index");

	return json_is_integer(v) && json_integer_value(v) >= 0 ?
	    (long)json_integer_value(v) : -1;
}

/* A piece (done: the whole) of a call's arguments. */
static void
responses_args(struct llm_parse *p, json_t *data, bool done)
{
	long index = output_index(data);
	const char *item_id = jget_str(data, "item_id");
	const char *text = jget_str(data, done ? "arguments" : "delta");
	struct llm_call_acc *c = llm_parse_call(p, index, item_id);

	/* Pieces of an item never announced: begin it here. */
	if (c == NULL)
		c = llm_parse_call_start(p, index, item_id, NULL, NULL);
	if (c == NULL || text == NULL)
		return;
	if (done)
		llm_parse_call_set_args(p, c, text);
	else
		llm_parse_call_args(p, c, text, strlen(text));
}

/* A response object: whole, or the final one of a stream. */
static void
responses_object(struct llm_parse *p, json_t *r, bool streamed)
{
	const char *status = jget_str(r, "status");
	json_t *err = json_object_get(r, "error"), *item;
	size_t i;

	if (jget_str(r, "id") != NULL)
		llm_parse_set(&p->id, jget_str(r, "id"));
	if (jget_str(r, "model") != NULL)
		llm_parse_set(&p->model, jget_str(r, "model"));
	llm_parse_set(&p->finish, status != NULL ? status : "completed");
	responses_usage(p, json_object_get(r, "usage"));
	p->usage.calls = 1;
	if ((status != NULL && strcmp(status, "failed") == 0) ||
	    json_is_object(err)) {
		llm_parse_error_json(p, r, 0);
		return;
	}
	if (status != NULL && strcmp(status, "incomplete") == 0)
		p->truncated = true;
	/* A stream without deltas (a proxy that buffers): take the whole. */
	if (!streamed || p->text.len == 0)
		responses_output_text(p, json_object_get(r, "output"));
	/* The calls whole: what the deltas built, or all there is. */
	json_array_foreach(json_object_get(r, "output"), i, item)
		responses_call(p, item, (long)i, true);
	p->done = true;
}

static void
responses_whole(struct llm_parse *p, json_t *root)
{
	responses_object(p, root, false);
}

static void
on_text_delta(struct llm_parse *p, json_t *data)
{
	const char *delta = jget_str(data, "delta");

	if (delta != NULL)
		llm_parse_text(p, delta, strlen(delta));
}

static void
on_args_delta(struct llm_parse *p, json_t *data)
{
	responses_args(p, data, false);
}

static void
on_args_done(struct llm_parse *p, json_t *data)
{
	responses_args(p, data, true);
}

static void
on_item_added(struct llm_parse *p, json_t *data)
{
	responses_call(p, json_object_get(data, "item"), output_index(data),
	    false);
}

static void
on_item_done(struct llm_parse *p, json_t *data)
{
	responses_call(p, json_object_get(data, "item"), output_index(data),
	    true);
}

static void
on_created(struct llm_parse *p, json_t *data)
{
	json_t *r = json_object_get(data, "response");

	if (jget_str(r, "id") != NULL)
		llm_parse_set(&p->id, jget_str(r, "id"));
	if (jget_str(r, "model") != NULL)
		llm_parse_set(&p->model, jget_str(r, "model"));
}

/* response.completed, .incomplete or .failed: the response whole. */
static void
on_final(struct llm_parse *p, json_t *data)
{
	json_t *r = json_object_get(data, "response");

	if (!json_is_object(r)) {
		p->bad = true;
		llm_parse_set(&p->err_message, "a final event without its "
		    "response");
		return;
	}
	responses_object(p, r, true);
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
	{ "response.output_text.delta", on_text_delta },
	{ "response.function_call_arguments.delta", on_args_delta },
	{ "response.function_call_arguments.done", on_args_done },
	{ "response.output_item.added", on_item_added },
	{ "response.output_item.done", on_item_done },
	{ "response.created", on_created },
	{ "response.completed", on_final },
	{ "response.incomplete", on_final },
	{ "response.failed", on_final },
	{ "error", on_error },
};

static void
responses_event(struct llm_parse *p, const char *evtype, const char *raw,
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
	/* Every other event (reasoning, parts) adds nothing. */
}

const struct llm_api llm_api_responses = {
	.name = "openai-responses",
	.path = "/responses",
	.default_url = "https://api.openai.com/v1",
	.default_key_env = "OPENAI_API_KEY",
	.server_history = true,
	.build = responses_build,
	.headers = llm_bearer_headers,
	.whole = responses_whole,
	.event = responses_event,
};
