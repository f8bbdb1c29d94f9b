/*
 * chat.c — Chat Completions (POST {base}/chat/completions): OpenAI,
 * Ollama, llama-server, vLLM, LM Studio, OpenRouter and Gemini's
 * OpenAI-compatible endpoint all speak it.
 *
 * The server keeps nothing: every turn carries the system prompt and the
 * transcript, trimmed by the session to the window.  A stream is
 * "data: {chunk}" lines ending in "data: [DONE]"; the usage comes in one
 * more chunk with empty choices when stream_options.include_usage is set.
 * A server that fails mid-stream sends data: {"error":{…}} and closes.
 */
#include <string.h>

#include "common/llm/impl.h"

static json_t *
chat_build(const struct llm_session *s, const char *user, size_t first)
{
	const struct llm_conf *c = &s->conf;
	json_t *body = json_object(), *msgs = json_array();

	json_object_set_new(body, "model", json_string(c->model));
	if (s->system != NULL)
		json_array_append_new(msgs, llm_message("system", s->system));
	llm_history_messages(s, first, user, msgs);
	json_object_set_new(body, "messages", msgs);
	/* max_tokens: what Ollama, llama-server and vLLM all read. */
	json_object_set_new(body, "max_tokens", json_integer(c->max_tokens));
	if (c->temperature >= 0)
		json_object_set_new(body, "temperature",
		    json_real(c->temperature));
	json_object_set_new(body, "stream", json_boolean(c->stream));
	if (c->stream)
		json_object_set_new(body, "stream_options",
		    json_pack("{s:b}", "include_usage", 1));
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
	chat_usage(p, json_object_get(data, "usage"));
	choice = json_array_get(json_object_get(data, "choices"), 0);
	if (!json_is_object(choice))
		return;
	text = jget_str(json_object_get(choice, "delta"), "content");
	if (text != NULL)
		llm_parse_text(p, text, strlen(text));
	chat_finish(p, choice);
}

const struct llm_api llm_api_chat = {
	.name = "chat",
	.path = "/chat/completions",
	.default_url = "https://api.openai.com/v1",
	.default_key_env = "OPENAI_API_KEY",
	.server_history = false,
	.build = chat_build,
	.headers = llm_bearer_headers,
	.whole = chat_whole,
	.event = chat_event,
};
