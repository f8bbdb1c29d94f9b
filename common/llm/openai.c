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
 * (reasoning items come first and are skipped).  A stream has no [DONE]:
 * it ends with response.completed, response.incomplete or
 * response.failed; an "error" event comes flat ({"code","message"}) or
 * nested ({"error":{…}}).
 */
#include <string.h>

#include "common/llm/impl.h"

static json_t *
message(const char *role, const char *text)
{
	return json_pack("{s:s, s:s}", "role", role, "content", text);
}

static json_t *
responses_build(const struct llm_session *s, const char *user, size_t first)
{
	const struct llm_conf *c = &s->conf;
	json_t *body = json_object(), *input = json_array();
	bool chained = c->store && (s->conversation != NULL ||
	    s->response_id != NULL);

	json_object_set_new(body, "model", json_string(c->model));
	if (s->system != NULL)
		json_object_set_new(body, "instructions",
		    json_string(s->system));
	for (size_t i = first; !chained && i < s->nturns; i++) {
		json_array_append_new(input, message("user",
		    s->turns[i].user));
		json_array_append_new(input, message("assistant",
		    s->turns[i].assistant));
	}
	json_array_append_new(input, message("user", user));
	json_object_set_new(body, "input", input);
	if (chained && s->conversation != NULL)
		json_object_set_new(body, "conversation",
		    json_string(s->conversation));
	else if (chained)
		json_object_set_new(body, "previous_response_id",
		    json_string(s->response_id));
	json_object_set_new(body, "max_output_tokens",
	    json_integer(c->max_tokens));
	if (c->temperature >= 0)
		json_object_set_new(body, "temperature",
		    json_real(c->temperature));
	json_object_set_new(body, "store", json_boolean(c->store));
	json_object_set_new(body, "stream", json_boolean(c->stream));
	json_object_set_new(body, "truncation", json_string("auto"));
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

/* A response object: whole, or the final one of a stream. */
static void
responses_object(struct llm_parse *p, json_t *r, bool streamed)
{
	const char *status = jget_str(r, "status");
	json_t *err = json_object_get(r, "error");

	if (jget_str(r, "id") != NULL)
		llm_parse_set(&p->id, jget_str(r, "id"));
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
	p->done = true;
}

static void
responses_whole(struct llm_parse *p, json_t *root)
{
	responses_object(p, root, false);
}

static void
responses_event(struct llm_parse *p, const char *evtype, const char *raw,
    json_t *data)
{
	const char *type = jget_str(data, "type");
	const char *delta;
	json_t *r;

	(void)raw;
	if (type == NULL)
		type = evtype;
	if (data == NULL || type == NULL)
		return;
	r = json_object_get(data, "response");
	if (strcmp(type, "response.output_text.delta") == 0) {
		if ((delta = jget_str(data, "delta")) != NULL)
			llm_parse_text(p, delta, strlen(delta));
	} else if (strcmp(type, "response.created") == 0) {
		if (jget_str(r, "id") != NULL)
			llm_parse_set(&p->id, jget_str(r, "id"));
	} else if (strcmp(type, "response.completed") == 0 ||
	    strcmp(type, "response.incomplete") == 0 ||
	    strcmp(type, "response.failed") == 0) {
		if (!json_is_object(r)) {
			p->bad = true;
			llm_parse_set(&p->err_message, "a final event "
			    "without its response");
			return;
		}
		responses_object(p, r, true);
	} else if (strcmp(type, "error") == 0) {
		llm_parse_error_json(p, data, 0);
	}
	/* Every other event (reasoning, parts, items) adds nothing. */
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
