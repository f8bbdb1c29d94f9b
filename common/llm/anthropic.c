/*
 * anthropic.c — Anthropic Messages (POST {base}/messages, headers
 * x-api-key and anthropic-version).
 *
 * Stateless like Chat Completions: every turn carries the system prompt
 * (a top-level field, not a message) and the alternating user/assistant
 * transcript, trimmed by whole turns so it still starts with a user.  A
 * stream is message_start, content blocks (text_delta pieces; thinking is
 * skipped), message_delta (stop reason, output tokens), message_stop; an
 * "error" event is followed by a closed connection.  Usage counts cache
 * reads apart from input_tokens: they are added back so input means the
 * whole prompt, as for the other APIs.
 */
#include <string.h>

#include "common/llm/impl.h"

#define ANTHROPIC_VERSION	"2023-06-01"

static json_t *
anthropic_build(const struct llm_session *s, const char *user, size_t first)
{
	const struct llm_conf *c = &s->conf;
	json_t *body = json_object(), *msgs = json_array();

	json_object_set_new(body, "model", json_string(c->model));
	json_object_set_new(body, "max_tokens", json_integer(c->max_tokens));
	if (s->system != NULL)
		json_object_set_new(body, "system", json_string(s->system));
	llm_history_messages(s, first, user, msgs);
	json_object_set_new(body, "messages", msgs);
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

static void
anthropic_whole(struct llm_parse *p, json_t *root)
{
	size_t i;
	json_t *block;

	json_array_foreach(json_object_get(root, "content"), i, block) {
		const char *type = jget_str(block, "type");
		const char *text = jget_str(block, "text");

		if (type != NULL && strcmp(type, "text") == 0 && text != NULL)
			llm_parse_text(p, text, strlen(text));
	}
	if (jget_str(root, "id") != NULL)
		llm_parse_set(&p->id, jget_str(root, "id"));
	anthropic_stop(p, jget_str(root, "stop_reason"));
	anthropic_usage(p, json_object_get(root, "usage"));
	p->usage.calls = 1;
	p->done = true;
}

static void
anthropic_event(struct llm_parse *p, const char *evtype, const char *raw,
    json_t *data)
{
	const char *type = jget_str(data, "type");
	const char *dt, *text;
	json_t *msg, *delta;

	(void)raw;
	if (type == NULL)
		type = evtype;
	if (data == NULL || type == NULL)
		return;
	if (strcmp(type, "content_block_delta") == 0) {
		delta = json_object_get(data, "delta");
		dt = jget_str(delta, "type");
		text = jget_str(delta, "text");
		if (dt != NULL && strcmp(dt, "text_delta") == 0 &&
		    text != NULL)
			llm_parse_text(p, text, strlen(text));
	} else if (strcmp(type, "message_start") == 0) {
		msg = json_object_get(data, "message");
		if (jget_str(msg, "id") != NULL)
			llm_parse_set(&p->id, jget_str(msg, "id"));
		anthropic_usage(p, json_object_get(msg, "usage"));
	} else if (strcmp(type, "message_delta") == 0) {
		anthropic_stop(p, jget_str(json_object_get(data, "delta"),
		    "stop_reason"));
		anthropic_usage(p, json_object_get(data, "usage"));
	} else if (strcmp(type, "message_stop") == 0) {
		p->usage.calls = 1;
		p->done = true;
	} else if (strcmp(type, "error") == 0) {
		llm_parse_error_json(p, data, 0);
	}
	/* ping, content_block_start/stop and unknown events: nothing. */
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
