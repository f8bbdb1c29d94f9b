/*
 * chat.c — Chat Completions (POST {base}/chat/completions): OpenAI,
 * Ollama, llama-server, vLLM, LM Studio, OpenRouter and Gemini's
 * OpenAI-compatible endpoint all speak it.
 *
 * The server keeps nothing: every turn carries the system prompt and the
 * transcript, trimmed by the session to the window.  Tools are functions
 * ("tools"); an answer's calls go back as the assistant message's
 * "tool_calls", their results as one "tool" message each.  A stream is
 * "data: {chunk}" lines ending in "data: [DONE]"; the usage comes in one
 * more chunk with empty choices when stream_options.include_usage is set.
 * Some local servers end it cleanly without [DONE]: a stream whose
 * chunks gave a finish_reason is then whole (finish_ends), one cut
 * before it is not.
 * A streamed call comes in fragments of delta.tool_calls keyed by
 * "index": the first names the id and function, the rest carry pieces of
 * its arguments.  A server that fails mid-stream sends data:
 * {"error":{…}} and closes.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/llm/impl.h"

/* The tools in Chat Completions' shape. */
static json_t *
chat_tools(const json_t *tools)
{
	json_t *out = json_array(), *t, *fn;
	size_t i;

	json_array_foreach(tools, i, t) {
		fn = llm_tool_fields(t, "parameters");
		if (jget_bool(t, "strict"))
			json_object_set_new(fn, "strict", json_true());
		json_array_append_new(out, json_pack("{s:s, s:o}", "type",
		    "function", "function", fn));
	}
	return out;
}

/* A turn's input: a "tool" message per result, then the user's text. */
static void
input_messages(const struct llm_turn *prev, const struct llm_turn *t,
    json_t *msgs)
{
	struct llm_tool_result *r;
	size_t n;

	r = llm_turn_pairs(prev, t, &n);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(msgs, json_pack("{s:s, s:s, s:s}",
		    "role", "tool", "tool_call_id", r[i].id, "content",
		    r[i].content));
	free(r);
	if (t->user != NULL)
		json_array_append_new(msgs, llm_message("user", t->user));
}

/* An answer: its text (null when it only called tools) and its calls. */
static json_t *
answer_message(const struct llm_turn *t)
{
	json_t *m, *calls;

	if (t->ncalls == 0)
		return llm_message("assistant", t->assistant);
	m = json_pack("{s:s}", "role", "assistant");
	json_object_set_new(m, "content", *t->assistant != '\0' ?
	    json_string(t->assistant) : json_null());
	calls = json_array();
	for (size_t i = 0; i < t->ncalls; i++)
		json_array_append_new(calls, json_pack("{s:s, s:s, "
		    "s:{s:s, s:s}}", "id", t->calls[i].id, "type", "function",
		    "function", "name", t->calls[i].name, "arguments",
		    t->calls[i].arguments));
	json_object_set_new(m, "tool_calls", calls);
	return m;
}

/*
 * OpenAI's reasoning families (o1, o3, o4, gpt-5 and their variants:
 * "o3-mini", "gpt-5.1", "gpt-5-codex"), past a vendor prefix such as
 * OpenRouter's "openai/".  A digit after the family name is another
 * model ("o10", "gpt-50").
 */
static bool
reasoning_family(const char *model)
{
	static const char *const families[] = { "o1", "o3", "o4", "gpt-5" };
	const char *name = strrchr(model, '/');
	size_t n;

	name = name != NULL ? name + 1 : model;
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		n = strlen(families[i]);
		if (strncasecmp(name, families[i], n) == 0 &&
		    !isdigit((unsigned char)name[n]) &&
		    !isalpha((unsigned char)name[n]))
			return true;
	}
	return false;
}

/* The host of base_url is OpenAI's or Azure OpenAI's. */
static bool
openai_host(const char *url)
{
	static const char *const domains[] = { "openai.com",
	    "openai.azure.com" };
	const char *host = strstr(url, "://"), *end;
	size_t len, n;

	host = host != NULL ? host + 3 : url;
	if ((end = strpbrk(host, "@/")) != NULL && *end == '@')
		host = end + 1;		/* user info */
	len = strcspn(host, ":/?#");
	for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
		n = strlen(domains[i]);
		if (len < n || strncasecmp(host + len - n, domains[i], n) != 0)
			continue;
		if (len == n || host[len - n - 1] == '.')
			return true;
	}
	return false;
}

const char *
llm_max_tokens_field(const struct llm_session *s)
{
	const struct llm_conf *c = &s->conf;

	if (c->max_tokens_field == LLM_MAX_FIELD_MAX_TOKENS)
		return "max_tokens";
	if (c->max_tokens_field == LLM_MAX_FIELD_MAX_COMPLETION_TOKENS)
		return "max_completion_tokens";
	/* OpenAI's reasoning models refuse max_tokens, on OpenAI's hosts
	 * and through a router that names them "openai/..."; local servers
	 * read only max_tokens, whatever the model is called there. */
	if (!reasoning_family(c->model))
		return "max_tokens";
	if (openai_host(c->base_url) ||
	    strncasecmp(c->model, "openai/", 7) == 0)
		return "max_completion_tokens";
	return "max_tokens";
}

static json_t *
chat_build(const struct llm_session *s, const struct llm_turn *next,
    size_t first)
{
	const struct llm_conf *c = &s->conf;
	json_t *body = json_object(), *msgs = json_array();

	json_object_set_new(body, "model", json_string(c->model));
	if (s->system != NULL)
		json_array_append_new(msgs, llm_message("system", s->system));
	for (size_t i = first; i < s->nturns; i++) {
		input_messages(llm_turn_prev(s, i, first), &s->turns[i], msgs);
		json_array_append_new(msgs, answer_message(&s->turns[i]));
	}
	input_messages(llm_turn_prev(s, s->nturns, first), next, msgs);
	json_object_set_new(body, "messages", msgs);
	if (s->tools != NULL)
		json_object_set_new(body, "tools", chat_tools(s->tools));
	json_object_set_new(body, llm_max_tokens_field(s),
	    json_integer(c->max_tokens));
	if (c->temperature >= 0)
		json_object_set_new(body, "temperature",
		    json_real(c->temperature));
	json_object_set_new(body, "stream", json_boolean(c->stream));
	if (c->stream)
		json_object_set_new(body, "stream_options",
		    json_pack("{s:b}", "include_usage", 1));
	if (s->cache_key != NULL)
		json_object_set_new(body, "prompt_cache_key",
		    json_string(s->cache_key));
	return body;
}

static void
chat_usage(struct llm_parse *p, json_t *u)
{
	static const struct llm_usage_keys keys = {
		"prompt_tokens", "completion_tokens",
		"prompt_tokens_details", "completion_tokens_details",
	};

	if (llm_usage_tokens(&p->usage, u, &keys))
		p->usage.calls = 1;
}

/* A fragment of a streamed call, or a whole call (message.tool_calls). */
static void
chat_call(struct llm_parse *p, json_t *tc, size_t pos)
{
	json_t *fn = json_object_get(tc, "function"), *idx, *args;
	const char *id = jget_str(tc, "id");
	struct llm_call_acc *c;
	long index;

	/* Servers that number no fragments send each call whole. */
	idx = json_object_get(tc, "index");
	index = json_is_integer(idx) ? (long)json_integer_value(idx) :
	    (long)pos;
	if (index < 0)
		index = (long)pos;
	/* Another id at an index already used (every call at index 0, or
	 * at its place in a chunk): a new call, not more of the last. */
	c = llm_parse_call(p, index, NULL);
	if (c == NULL || (id != NULL && c->id != NULL &&
	    strcmp(c->id, id) != 0))
		c = llm_parse_call_new(p, index, NULL, id,
		    jget_str(fn, "name"));
	else
		c = llm_parse_call_start(p, index, NULL, id,
		    jget_str(fn, "name"));
	if (c == NULL)
		return;
	args = json_object_get(fn, "arguments");
	if (json_is_string(args)) {
		llm_parse_call_args(p, c, json_string_value(args),
		    json_string_length(args));
	} else if (json_is_object(args)) {
		/* Some servers give the object itself. */
		char *text = json_dumps(args, JSON_COMPACT |
		    JSON_PRESERVE_ORDER);

		llm_parse_call_set_args(p, c, text);
		free(text);
	}
}

static void
chat_calls(struct llm_parse *p, json_t *calls)
{
	size_t i;
	json_t *tc;

	json_array_foreach(calls, i, tc)
		chat_call(p, tc, i);
}

static void
chat_finish(struct llm_parse *p, json_t *choice)
{
	const char *finish = jget_str(choice, "finish_reason");

	if (finish == NULL)
		return;
	llm_parse_set(&p->finish, finish);
	p->truncated = strcmp(finish, "length") == 0;
}

static void
chat_whole(struct llm_parse *p, json_t *root)
{
	json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
	const char *text;

	if (!json_is_object(choice)) {
		p->bad = true;
		llm_parse_set(&p->err_message, "an answer without choices");
		return;
	}
	text = jget_str(json_object_get(choice, "message"), "content");
	if (text != NULL)
		llm_parse_text(p, text, strlen(text));
	chat_calls(p, json_object_get(json_object_get(choice, "message"),
	    "tool_calls"));
	if (jget_str(root, "model") != NULL)
		llm_parse_set(&p->model, jget_str(root, "model"));
	if (jget_str(root, "id") != NULL)
		llm_parse_set(&p->id, jget_str(root, "id"));
	chat_finish(p, choice);
	chat_usage(p, json_object_get(root, "usage"));
	p->usage.calls = 1;
	p->done = true;
}

static void
chat_event(struct llm_parse *p, const char *evtype, const char *raw,
    json_t *data)
{
	json_t *choice, *err;
	const char *text;

	(void)evtype;
	if (data == NULL) {
		if (strcmp(raw, "[DONE]") == 0) {
			p->usage.calls = 1;
			p->done = true;
		}
		return;
	}
	if (!json_is_object(data))
		return;
	err = json_object_get(data, "error");
	if (err != NULL && !json_is_null(err)) {
		llm_parse_error_json(p, data, 0);
		return;
	}
	if (p->id == NULL && jget_str(data, "id") != NULL)
		llm_parse_set(&p->id, jget_str(data, "id"));
	if (p->model == NULL && jget_str(data, "model") != NULL)
		llm_parse_set(&p->model, jget_str(data, "model"));
	chat_usage(p, json_object_get(data, "usage"));
	choice = json_array_get(json_object_get(data, "choices"), 0);
	if (!json_is_object(choice))
		return;
	text = jget_str(json_object_get(choice, "delta"), "content");
	if (text != NULL)
		llm_parse_text(p, text, strlen(text));
	chat_calls(p, json_object_get(json_object_get(choice, "delta"),
	    "tool_calls"));
	chat_finish(p, choice);
}

const struct llm_api llm_api_chat = {
	.name = "chat",
	.path = "/chat/completions",
	.default_url = "https://api.openai.com/v1",
	.default_key_env = "OPENAI_API_KEY",
	.server_history = false,
	.finish_ends = true,
	.build = chat_build,
	.headers = llm_bearer_headers,
	.whole = chat_whole,
	.event = chat_event,
};
