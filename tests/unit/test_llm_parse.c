/*
 * test_llm_parse.c — the provider layer without a network: request
 * bodies and headers of each API (exact JSON), history trimming, answers
 * whole and streamed (every split point of a real-format stream through
 * the SSE parser), the error shapes, usage and cost, the session file,
 * and where keys come from.
 *
 * The streams are written the way the providers (and tests/llmd) send
 * them, with a reasoning item or thinking block before the text and an
 * unknown event type in the middle, which must be ignored.
 */
#include "testutil.h"

#include <jansson.h>

#include "common/llm/impl.h"

#define KEY	"sk-parse-test-0123456789abcdef"
#define KEY_VAR	"MASTERD_TEST_PARSE_KEY"

/* ------------------------------------------------------------ helpers */

static void
conf_init(struct llm_conf *c, const char *provider)
{
	memset(c, 0, sizeof(*c));
	c->provider = (char *)provider;
	c->model = "m-test";
	c->key_env = KEY_VAR;
	c->timeout = c->connect_timeout = 1000;
	c->max_tokens = 100;
	c->context_tokens = 100000;
	c->max_attempts = 3;
	c->retry_deadline = c->max_retry_wait = 1000;
	c->temperature = c->price_input = c->price_output = -1;
	c->price_cached = -1;
	c->stream = 1;
	c->store = 1;
}

static struct llm_session *
new_session(const struct llm_conf *c, const char *system)
{
	struct llm_session *s;
	char err[256];

	setenv(KEY_VAR, KEY, 1);
	s = llm_session_new(NULL, c, system, err, sizeof(err));
	if (s == NULL)
		fail_msg("llm_session_new: %s", err);
	return s;
}

static void
assert_body(struct llm_session *s, const char *user, const char *want)
{
	char err[256], *body;

	body = llm_session_body(s, user, err, sizeof(err));
	if (body == NULL)
		fail_msg("no body: %s", err);
	if (strcmp(body, want) != 0)
		fail_msg("body\n got: %s\nwant: %s", body, want);
	free(body);
}

/* A completed turn, as the engine would commit it. */
static void
fake_turn(struct llm_session *s, const char *user, const char *answer,
    const char *id)
{
	struct llm_parse p;
	struct llm_turn in;

	llm_parse_init(&p, s->api, NULL, NULL);
	llm_parse_text(&p, answer, strlen(answer));
	llm_parse_set(&p.id, id);
	p.usage.input = 10;
	p.usage.output = 5;
	p.usage.calls = 1;
	p.done = true;
	llm_turn_input(&in, &(struct llm_input){ .text = user });
	assert_int_equal(llm_session_commit(s, &in, &p), 0);
	llm_turn_free(&in);
	llm_parse_free(&p);
}

/* The headers an API adds, one "Name: value" per line. */
static char *
api_headers(struct llm_session *s)
{
	struct curl_slist *h = NULL;
	char *out = calloc(1, 1024);

	assert_non_null(out);
	assert_int_equal(s->api->headers(s, &h), 0);
	for (struct curl_slist *p = h; p != NULL; p = p->next) {
		strcat(out, p->data);
		strcat(out, "\n");
	}
	llm_headers_free(h);
	return out;
}

/* The session's API headers are want; the session is done with. */
static void
end_session(struct llm_session *s, const char *want)
{
	char *h = api_headers(s);

	assert_string_equal(h, want);
	free(h);
	llm_session_free(s);
}

/* ------------------------------------------------------------ requests */

static void
test_responses_body(void **state)
{
	struct llm_conf c;
	struct llm_session *s;

	(void)state;
	conf_init(&c, "openai-responses");
	s = new_session(&c, "SYS");
	assert_body(s, "hi", "{\"model\":\"m-test\",\"instructions\":\"SYS\","
	    "\"input\":[{\"role\":\"user\",\"content\":\"hi\"}],"
	    "\"max_output_tokens\":100,\"store\":true,\"stream\":true,"
	    "\"truncation\":\"auto\"}");
	fake_turn(s, "hi", "one", "resp_1");
	assert_string_equal(llm_session_response_id(s), "resp_1");
	/* Instructions again; only the new input; the previous response. */
	assert_body(s, "again", "{\"model\":\"m-test\",\"instructions\":"
	    "\"SYS\",\"input\":[{\"role\":\"user\",\"content\":\"again\"}],"
	    "\"previous_response_id\":\"resp_1\",\"max_output_tokens\":100,"
	    "\"store\":true,\"stream\":true,\"truncation\":\"auto\"}");
	/* A Conversation replaces previous_response_id: never both. */
	assert_int_equal(llm_session_set_conversation(s, "conv_9"), 0);
	assert_body(s, "again", "{\"model\":\"m-test\",\"instructions\":"
	    "\"SYS\",\"input\":[{\"role\":\"user\",\"content\":\"again\"}],"
	    "\"conversation\":\"conv_9\",\"max_output_tokens\":100,"
	    "\"store\":true,\"stream\":true,\"truncation\":\"auto\"}");
	end_session(s, "Authorization: Bearer " KEY "\n");
}

static void
test_responses_body_unstored(void **state)
{
	struct llm_conf c;
	struct llm_session *s;

	(void)state;
	conf_init(&c, "openai-responses");
	c.store = 0;
	c.stream = 0;
	c.temperature = 0.25;
	s = new_session(&c, NULL);
	fake_turn(s, "hi", "one", "resp_1");
	/* Nothing stored on the server: the transcript goes as input. */
	assert_null(llm_session_response_id(s));
	assert_body(s, "again", "{\"model\":\"m-test\",\"input\":["
	    "{\"role\":\"user\",\"content\":\"hi\"},"
	    "{\"role\":\"assistant\",\"content\":\"one\"},"
	    "{\"role\":\"user\",\"content\":\"again\"}],"
	    "\"max_output_tokens\":100,\"temperature\":0.25,\"store\":false,"
	    "\"stream\":false,\"truncation\":\"auto\"}");
	llm_session_free(s);
}

static void
test_chat_body(void **state)
{
	struct llm_conf c;
	struct llm_session *s;
	char url[256];

	(void)state;
	conf_init(&c, "chat");
	c.base_url = "http://127.0.0.1:11434/v1/";
	c.temperature = 0.5;
	s = new_session(&c, "SYS");
	assert_string_equal(llm_session_url(s, url, sizeof(url)),
	    "http://127.0.0.1:11434/v1/chat/completions");
	assert_body(s, "hi", "{\"model\":\"m-test\",\"messages\":["
	    "{\"role\":\"system\",\"content\":\"SYS\"},"
	    "{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":100,"
	    "\"temperature\":0.5,\"stream\":true,"
	    "\"stream_options\":{\"include_usage\":true}}");
	fake_turn(s, "hi", "one", "chatcmpl-1");
	/* The server keeps nothing: no response id to continue from. */
	assert_null(llm_session_response_id(s));
	s->conf.stream = 0;
	assert_body(s, "again", "{\"model\":\"m-test\",\"messages\":["
	    "{\"role\":\"system\",\"content\":\"SYS\"},"
	    "{\"role\":\"user\",\"content\":\"hi\"},"
	    "{\"role\":\"assistant\",\"content\":\"one\"},"
	    "{\"role\":\"user\",\"content\":\"again\"}],\"max_tokens\":100,"
	    "\"temperature\":0.5,\"stream\":false}");
	end_session(s, "Authorization: Bearer " KEY "\n");
}

/*
 * max_tokens_field = auto: OpenAI's reasoning families (o1, o3, o4,
 * gpt-5, with or without a vendor prefix) on OpenAI's and Azure OpenAI's
 * hosts, or on any host as "openai/...", get max_completion_tokens;
 * everything else max_tokens.  The explicit settings win.
 */
static void
test_max_tokens_field(void **state)
{
	static const struct {
		const char *base_url;
		const char *model;
		bool completion;
	} table[] = {
		{ "https://api.openai.com/v1", "o1", true },
		{ "https://api.openai.com/v1", "o1-mini", true },
		{ "https://api.openai.com/v1", "o3-mini-2025-01-31", true },
		{ "https://api.openai.com/v1", "o4-mini", true },
		{ "https://api.openai.com/v1", "gpt-5", true },
		{ "https://api.openai.com/v1", "gpt-5-mini", true },
		{ "https://api.openai.com/v1", "gpt-5.1", true },
		{ "https://api.openai.com/v1", "GPT-5-Codex", true },
		{ "https://api.openai.com/v1", "openai/o3", true },
		{ "https://API.OpenAI.com:443/v1/", "o3", true },
		{ "https://myres.openai.azure.com/openai/v1", "gpt-5-mini",
		    true },
		{ "https://myres.openai.azure.com/openai/v1", "o4-mini",
		    true },
		{ "https://openrouter.ai/api/v1", "openai/gpt-5", true },
		{ "https://openrouter.ai/api/v1", "openai/o1-preview", true },
		{ "http://127.0.0.1:8080/v1", "openai/o3-mini", true },
		/* Not a reasoning family. */
		{ "https://api.openai.com/v1", "gpt-4o", false },
		{ "https://api.openai.com/v1", "gpt-4.1-mini", false },
		{ "https://api.openai.com/v1", "gpt-50", false },
		{ "https://api.openai.com/v1", "o10", false },
		{ "https://api.openai.com/v1", "omni", false },
		{ "https://openrouter.ai/api/v1", "openai/gpt-4o", false },
		{ "https://myres.openai.azure.com/openai/v1", "gpt-4o",
		    false },
		/* A reasoning name elsewhere, without the vendor prefix:
		 * local servers read only max_tokens. */
		{ "http://127.0.0.1:11434/v1", "o3", false },
		{ "http://127.0.0.1:11434/v1", "gpt-5", false },
		{ "https://openrouter.ai/api/v1", "o3", false },
		{ "https://notopenai.com/v1", "o3", false },
		{ "https://openai.com.example.net/v1", "gpt-5", false },
		{ "https://api.openai.com.evil/v1", "o1", false },
		{ "https://openrouter.ai/api/v1", "deepseek/o3-like", false },
	};
	struct llm_conf c;
	struct llm_session *s;

	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const char *want = table[i].completion ?
		    "max_completion_tokens" : "max_tokens";

		conf_init(&c, "chat");
		c.base_url = (char *)table[i].base_url;
		c.model = (char *)table[i].model;
		c.max_tokens_field = LLM_MAX_FIELD_AUTO;
		s = new_session(&c, NULL);
		if (strcmp(llm_max_tokens_field(s), want) != 0)
			fail_msg("%s at %s: %s, want %s", table[i].model,
			    table[i].base_url, llm_max_tokens_field(s), want);
		s->conf.max_tokens_field = LLM_MAX_FIELD_MAX_TOKENS;
		assert_string_equal(llm_max_tokens_field(s), "max_tokens");
		s->conf.max_tokens_field = LLM_MAX_FIELD_MAX_COMPLETION_TOKENS;
		assert_string_equal(llm_max_tokens_field(s),
		    "max_completion_tokens");
		llm_session_free(s);
	}
}

/* Which failures are the provider being down or overloaded. */
static void
test_result_outage(void **state)
{
	static const struct {
		bool ok;
		enum llm_error error;
		int status;
		bool outage;
	} table[] = {
		{ true, LLM_OK, 200, false },
		{ false, LLM_ERR_TRANSPORT, 0, true },
		{ false, LLM_ERR_TIMEOUT, 0, true },
		{ false, LLM_ERR_TIMEOUT, 200, true },
		{ false, LLM_ERR_RATE_LIMITED, 429, true },
		{ false, LLM_ERR_HTTP, 408, true },
		{ false, LLM_ERR_HTTP, 409, true },
		{ false, LLM_ERR_HTTP, 429, true },
		{ false, LLM_ERR_HTTP, 500, true },
		{ false, LLM_ERR_HTTP, 502, true },
		{ false, LLM_ERR_HTTP, 503, true },
		{ false, LLM_ERR_HTTP, 529, true },
		{ false, LLM_ERR_STREAM, 529, true },
		{ false, LLM_ERR_STREAM, 500, true },
		{ false, LLM_ERR_STREAM, 429, true },
		{ false, LLM_ERR_STREAM, 400, false },
		{ false, LLM_ERR_HTTP, 400, false },
		{ false, LLM_ERR_HTTP, 401, false },
		{ false, LLM_ERR_HTTP, 403, false },
		{ false, LLM_ERR_HTTP, 404, false },
		{ false, LLM_ERR_HTTP, 413, false },
		{ false, LLM_ERR_HTTP, 422, false },
		{ false, LLM_ERR_CANCELLED, 0, false },
		{ false, LLM_ERR_CANCELLED, 503, false },
		{ false, LLM_ERR_PARSE, 200, false },
		{ false, LLM_ERR_PARSE, 0, false },
		{ false, LLM_ERR_INVALID, 0, false },
	};
	struct llm_result r;

	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		memset(&r, 0, sizeof(r));
		r.ok = table[i].ok;
		r.error = table[i].error;
		r.http_status = table[i].status;
		if (llm_result_outage(&r) != table[i].outage)
			fail_msg("%s %d: outage %d", llm_error_name(r.error),
			    r.http_status, !table[i].outage);
	}
}

#define SYS_BLOCK "[{\"type\":\"text\",\"text\":\"SYS\",\"cache_control\":" \
	"{\"type\":\"ephemeral\"}}]"

static void
test_anthropic_body(void **state)
{
	struct llm_session *s;
	struct llm_conf c;
	char url[256];

	(void)state;
	conf_init(&c, "anthropic");
	s = new_session(&c, "SYS");
	assert_string_equal(llm_session_url(s, url, sizeof(url)),
	    "https://api.anthropic.com/v1/messages");
	/* The system prompt and the history's end are cache breakpoints. */
	assert_body(s, "hi", "{\"model\":\"m-test\",\"max_tokens\":100,"
	    "\"system\":" SYS_BLOCK ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi\"}],\"stream\":true}");
	fake_turn(s, "hi", "one", "msg_1");
	assert_body(s, "again", "{\"model\":\"m-test\",\"max_tokens\":100,"
	    "\"system\":" SYS_BLOCK ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":"
	    "[{\"type\":\"text\",\"text\":\"one\",\"cache_control\":"
	    "{\"type\":\"ephemeral\"}}]},"
	    "{\"role\":\"user\",\"content\":\"again\"}],\"stream\":true}");
	end_session(s, "x-api-key: " KEY "\n"
	    "anthropic-version: 2023-06-01\n");
}

static void
test_trimming(void **state)
{
	struct llm_conf c;
	struct llm_session *s;
	char user[301], answer[301], err[256], *body;
	struct llm_turn next;
	json_t *root, *msgs;
	json_error_t jerr;
	size_t first, turn_cost;
	int64_t budget;

	(void)state;
	memset(user, 'u', 300);
	user[300] = '\0';
	memset(answer, 'a', 300);
	answer[300] = '\0';
	conf_init(&c, "chat");
	c.context_tokens = 1200;
	s = new_session(&c, "SYS");
	for (int i = 0; i < 10; i++) {
		user[0] = answer[0] = (char)('0' + i);
		fake_turn(s, user, answer, NULL);
	}
	llm_turn_input(&next, &(struct llm_input){ .text = "next" });
	first = llm_session_window(s, &next);
	llm_turn_free(&next);
	turn_cost = 2 * llm_tokens_estimate(user);
	budget = 1200 - 100 - (int64_t)llm_tokens_estimate("SYS") -
	    (int64_t)llm_tokens_estimate("next");
	/* The newest turns that fit, and not one more. */
	assert_true(first > 0 && first < 10);
	assert_true((int64_t)((10 - first) * turn_cost) <= budget);
	assert_true((int64_t)((11 - first) * turn_cost) > budget);

	body = llm_session_body(s, "next", err, sizeof(err));
	assert_non_null(body);
	root = json_loads(body, 0, &jerr);
	msgs = json_object_get(root, "messages");
	assert_int_equal(json_array_size(msgs), 1 + 2 * (10 - first) + 1);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(msgs, 0), "role")), "system");
	/* The oldest kept turn is turn `first`, the newest is turn 9. */
	assert_int_equal(json_string_value(json_object_get(
	    json_array_get(msgs, 1), "content"))[0], '0' + (int)first);
	assert_int_equal(json_string_value(json_object_get(
	    json_array_get(msgs, json_array_size(msgs) - 2), "content"))[0],
	    '9');
	json_decref(root);
	free(body);

	/* A message that cannot fit at all is refused, not sent. */
	body = calloc(1, 5000);
	memset(body, 'x', 4000);
	assert_null(llm_session_body(s, body, err, sizeof(err)));
	assert_non_null(strstr(err, "do not fit"));
	free(body);
	llm_session_free(s);
}

/* ------------------------------------------------------------ answers */

struct got {
	char deltas[1024];
	size_t len;
};

static void
on_delta(const char *s, size_t n, void *arg)
{
	struct got *g = arg;

	assert_true(g->len + n < sizeof(g->deltas));
	memcpy(g->deltas + g->len, s, n);
	g->len += n;
	g->deltas[g->len] = '\0';
}

#define CHAT_BASE "\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\"," \
	"\"created\":1,\"model\":\"m\""

static const char chat_stream[] =
    "data: {" CHAT_BASE ",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
    "\"assistant\",\"content\":\"\"},\"finish_reason\":null}],"
    "\"usage\":null}\n\n"
    ": keep-alive comment\n\n"
    "data: {" CHAT_BASE ",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
    "\"Hello, \"},\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {" CHAT_BASE ",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
    "\"w\\u00f6rld\"},\"finish_reason\":null}],\"usage\":null}\r\n\r\n"
    "data: {" CHAT_BASE ",\"choices\":[{\"index\":0,\"delta\":{},"
    "\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
    "data: {" CHAT_BASE ",\"choices\":[],\"usage\":{\"prompt_tokens\":12,"
    "\"completion_tokens\":3,\"total_tokens\":15,\"prompt_tokens_details\":"
    "{\"cached_tokens\":4},\"completion_tokens_details\":"
    "{\"reasoning_tokens\":0}}}\n\n"
    "data: [DONE]\n\n";

static const char responses_stream[] =
    "event: response.created\ndata: {\"type\":\"response.created\","
    "\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"status\":"
    "\"in_progress\",\"output\":[]}}\n\n"
    "event: response.output_item.added\ndata: {\"type\":"
    "\"response.output_item.added\",\"output_index\":0,\"item\":{\"type\":"
    "\"reasoning\",\"id\":\"rs_1\",\"summary\":[]}}\n\n"
    "event: response.reasoning_summary_text.delta\ndata: {\"type\":"
    "\"response.reasoning_summary_text.delta\",\"delta\":\"thinking\"}\n\n"
    "event: response.output_text.delta\ndata: {\"type\":"
    "\"response.output_text.delta\",\"item_id\":\"msg_1\",\"output_index\":1,"
    "\"content_index\":0,\"delta\":\"Hello, \"}\n\n"
    "event: response.brand_new_event\ndata: {\"type\":"
    "\"response.brand_new_event\",\"x\":[1,2]}\n\n"
    "event: response.output_text.delta\ndata: {\"type\":"
    "\"response.output_text.delta\",\"item_id\":\"msg_1\",\"output_index\":1,"
    "\"content_index\":0,\"delta\":\"w\\u00f6rld\"}\n\n"
    "event: response.completed\ndata: {\"type\":\"response.completed\","
    "\"sequence_number\":6,\"response\":{\"id\":\"resp_1\",\"status\":"
    "\"completed\",\"output\":[{\"type\":\"reasoning\",\"id\":\"rs_1\","
    "\"summary\":[]},{\"type\":\"message\",\"id\":\"msg_1\",\"role\":"
    "\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":"
    "\"Hello, w\\u00f6rld\"}]}],\"usage\":{\"input_tokens\":12,"
    "\"input_tokens_details\":{\"cached_tokens\":4},\"output_tokens\":3,"
    "\"output_tokens_details\":{\"reasoning_tokens\":1},"
    "\"total_tokens\":15}}}\n\n";

static const char anthropic_stream[] =
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
    "\"content\":[],\"model\":\"c\",\"stop_reason\":null,\"usage\":"
    "{\"input_tokens\":8,\"output_tokens\":1,\"cache_read_input_tokens\":4,"
    "\"cache_creation_input_tokens\":0}}}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\","
    "\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":"
    "\"\"}}\n\n"
    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
    "\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":"
    "\"hmm\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
    "\"index\":0}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\","
    "\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
    "\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello, \"}}\n\n"
    "event: future_event\ndata: {\"type\":\"future_event\"}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
    "\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":"
    "\"w\\u00f6rld\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
    "\"index\":1}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
    "{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":"
    "{\"output_tokens\":3}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

static const struct stream_case {
	const struct llm_api *api;
	const char *stream;
	const char *id;
	const char *finish;
	int64_t reasoning;
} streams[] = {
	{ &llm_api_chat, chat_stream, "chatcmpl-1", "stop", 0 },
	{ &llm_api_responses, responses_stream, "resp_1", "completed", 1 },
	{ &llm_api_anthropic, anthropic_stream, "msg_1", "end_turn", 0 },
};

/* Feed stream in pieces cut at `cuts` (ascending offsets), then end. */
static bool
feed_cut(struct llm_parse *p, const char *stream, size_t len,
    const size_t *cuts, size_t ncuts)
{
	size_t from = 0;

	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : len;

		if (to > from)
			assert_int_equal(llm_parse_feed(p, stream + from,
			    to - from), 0);
		from = to;
	}
	return llm_parse_end(p);
}

static void
assert_answer(const struct stream_case *c, struct llm_parse *p,
    struct got *g)
{
	assert_false(p->failed);
	assert_false(p->bad);
	assert_true(p->done);
	assert_string_equal(p->text.p, "Hello, w\xc3\xb6rld");
	assert_string_equal(g->deltas, "Hello, w\xc3\xb6rld");
	assert_string_equal(p->id, c->id);
	assert_string_equal(p->finish, c->finish);
	assert_false(p->truncated);
	assert_int_equal(p->usage.input, 12);
	assert_int_equal(p->usage.output, 3);
	assert_int_equal(p->usage.cached, 4);
	assert_int_equal(p->usage.reasoning, c->reasoning);
	assert_int_equal(p->usage.calls, 1);
}

static void
test_streams_every_split(void **state)
{
	struct llm_parse p;
	struct got g;

	(void)state;
	for (size_t k = 0; k < sizeof(streams) / sizeof(streams[0]); k++) {
		const struct stream_case *c = &streams[k];
		size_t len = strlen(c->stream);

		/* Whole, at every single cut, and a byte at a time. */
		for (size_t cut = 0; cut <= len; cut++) {
			memset(&g, 0, sizeof(g));
			llm_parse_init(&p, c->api, on_delta, &g);
			assert_false(feed_cut(&p, c->stream, len, &cut, 1));
			assert_answer(c, &p, &g);
			llm_parse_free(&p);
		}
		memset(&g, 0, sizeof(g));
		llm_parse_init(&p, c->api, on_delta, &g);
		for (size_t i = 0; i < len; i++)
			assert_int_equal(llm_parse_feed(&p, c->stream + i, 1),
			    0);
		assert_false(llm_parse_end(&p));
		assert_answer(c, &p, &g);
		llm_parse_free(&p);
	}
}

/* Where chat_stream's finish_reason chunk and its usage chunk end. */
#define CHAT_FINISH	"\"stop\"}],\"usage\":null}\n\n"
#define CHAT_FINISH_END	\
	(strstr(chat_stream, CHAT_FINISH) + strlen(CHAT_FINISH) - chat_stream)
#define CHAT_USAGE_END	\
	(strstr(chat_stream, "data: [DONE]") - chat_stream)

/*
 * A stream that stops anywhere before its end is a cut stream; but a
 * Chat stream that gave its finish_reason is whole without [DONE].
 */
static void
test_streams_cut(void **state)
{
	struct llm_parse p;
	struct got g;

	(void)state;
	for (size_t k = 0; k < sizeof(streams) / sizeof(streams[0]); k++) {
		size_t len = strlen(streams[k].stream);
		size_t whole = streams[k].api == &llm_api_chat ?
		    (size_t)CHAT_FINISH_END : len;

		for (size_t at = 0; at < len; at++) {
			bool cut;

			memset(&g, 0, sizeof(g));
			llm_parse_init(&p, streams[k].api, on_delta, &g);
			assert_int_equal(llm_parse_feed(&p, streams[k].stream,
			    at), 0);
			cut = llm_parse_end(&p);
			if (at < whole && !cut)
				fail_msg("%s cut at %zu of %zu not seen",
				    streams[k].api->name, at, len);
			if (at >= whole && (cut || !p.done))
				fail_msg("%s ended at %zu of %zu after its "
				    "finish_reason: not whole",
				    streams[k].api->name, at, len);
			llm_parse_free(&p);
		}
	}
}

/*
 * A Chat stream that ends cleanly after its finish_reason without
 * "data: [DONE]" (some local servers): whole, with the usage of a usage
 * chunk that came, split every way.  One that ends before any
 * finish_reason is still cut.
 */
static void
test_chat_stream_without_done(void **state)
{
	const struct stream_case *c = &streams[0];
	size_t usage_end = (size_t)CHAT_USAGE_END;
	size_t finish_end = (size_t)CHAT_FINISH_END;
	char *with_usage = strndup(chat_stream, usage_end);
	char *no_usage = strndup(chat_stream, finish_end);
	size_t cuts[3];
	struct llm_parse p;
	struct got g;
	uint64_t r = tu_seed("test_chat_stream_without_done");

	(void)state;
	assert_non_null(with_usage);
	assert_non_null(no_usage);
	assert_true(c->api == &llm_api_chat);
	/* Every single cut, and a byte at a time. */
	for (size_t cut = 0; cut <= usage_end; cut++) {
		memset(&g, 0, sizeof(g));
		llm_parse_init(&p, c->api, on_delta, &g);
		assert_false(feed_cut(&p, with_usage, usage_end, &cut, 1));
		assert_answer(c, &p, &g);
		llm_parse_free(&p);
	}
	memset(&g, 0, sizeof(g));
	llm_parse_init(&p, c->api, on_delta, &g);
	for (size_t i = 0; i < usage_end; i++)
		assert_int_equal(llm_parse_feed(&p, with_usage + i, 1), 0);
	assert_false(llm_parse_end(&p));
	assert_answer(c, &p, &g);
	llm_parse_free(&p);
	/* Three random cuts, many times. */
	for (int i = 0; i < 2000; i++) {
		for (int j = 0; j < 3; j++)
			cuts[j] = (size_t)(tu_rand(&r) % (usage_end + 1));
		for (int a = 0; a < 3; a++)
			for (int b = a + 1; b < 3; b++)
				if (cuts[b] < cuts[a]) {
					size_t t = cuts[a];

					cuts[a] = cuts[b];
					cuts[b] = t;
				}
		memset(&g, 0, sizeof(g));
		llm_parse_init(&p, c->api, on_delta, &g);
		assert_false(feed_cut(&p, with_usage, usage_end, cuts, 3));
		assert_answer(c, &p, &g);
		llm_parse_free(&p);
	}
	/* No usage chunk either: whole, its usage unknown. */
	for (size_t cut = 0; cut <= finish_end; cut++) {
		memset(&g, 0, sizeof(g));
		llm_parse_init(&p, c->api, on_delta, &g);
		assert_false(feed_cut(&p, no_usage, finish_end, &cut, 1));
		assert_true(p.done);
		assert_string_equal(p.text.p, "Hello, w\xc3\xb6rld");
		assert_string_equal(p.finish, "stop");
		assert_int_equal(p.usage.input, 0);
		assert_int_equal(p.usage.calls, 1);
		llm_parse_free(&p);
	}
	/* Ended before the finish_reason: cut, however it was split. */
	for (size_t end = 0; end < finish_end; end++) {
		size_t cut = end / 2;

		llm_parse_init(&p, c->api, NULL, NULL);
		assert_true(feed_cut(&p, chat_stream, end, &cut, 1));
		assert_false(p.done);
		llm_parse_free(&p);
	}
	free(with_usage);
	free(no_usage);
}

static void
parse_whole(const struct llm_api *api, const char *body, struct llm_parse *p,
    struct got *g)
{
	memset(g, 0, sizeof(*g));
	llm_parse_init(p, api, on_delta, g);
	llm_parse_whole(p, body, strlen(body));
}

static void
test_whole_answers(void **state)
{
	/* Whole answers of the three APIs, as streams[] has them streamed. */
	static const struct {
		const struct llm_api *api;
		const char *json;
	} whole[] = {
		{ &llm_api_chat, "{\"id\":\"chatcmpl-1\",\"object\":"
		    "\"chat.completion\",\"choices\":[{\"index\":0,\"message\":"
		    "{\"role\":\"assistant\",\"content\":\"Hello,"
		    " w\\u00f6rld\"},\"finish_reason\":\"stop\"}],\"usage\":"
		    "{\"prompt_tokens\":12,\"completion_tokens\":3,"
		    "\"total_tokens\":15,\"prompt_tokens_details\":"
		    "{\"cached_tokens\":4}}}" },
		/* The reasoning item first is skipped; only output_text
		 * counts. */
		{ &llm_api_responses, "{\"id\":\"resp_1\",\"object\":"
		    "\"response\",\"status\":\"completed\",\"output\":"
		    "[{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":"
		    "[{\"type\":\"summary_text\",\"text\":\"not this\"}]},"
		    "{\"type\":\"message\",\"id\":\"msg_1\",\"role\":"
		    "\"assistant\",\"content\":[{\"type\":\"output_text\","
		    "\"text\":\"Hello, \"},{\"type\":\"refusal\",\"refusal\":"
		    "\"no\"},{\"type\":\"output_text\",\"text\":"
		    "\"w\\u00f6rld\"}]}],\"usage\":{\"input_tokens\":12,"
		    "\"input_tokens_details\":{\"cached_tokens\":4},"
		    "\"output_tokens\":3,\"output_tokens_details\":"
		    "{\"reasoning_tokens\":1}}}" },
		{ &llm_api_anthropic, "{\"id\":\"msg_1\",\"type\":\"message\","
		    "\"role\":\"assistant\",\"content\":[{\"type\":"
		    "\"thinking\",\"thinking\":\"hmm\",\"signature\":\"x\"},"
		    "{\"type\":\"text\",\"text\":\"Hello, w\\u00f6rld\"}],"
		    "\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":"
		    "8,\"output_tokens\":3,\"cache_read_input_tokens\":4,"
		    "\"cache_creation_input_tokens\":0}}" },
	};
	struct llm_parse p;
	struct got g;

	for (size_t i = 0; i < TU_NITEMS(whole); i++) {
		parse_whole(whole[i].api, whole[i].json, &p, &g);
		assert_answer(&streams[i], &p, &g);
		llm_parse_free(&p);
	}
}

static void
test_truncated_answers(void **state)
{
	static const char incomplete[] = "event: response.incomplete\n"
	    "data: {\"type\":\"response.incomplete\",\"response\":{\"id\":"
	    "\"r\",\"status\":\"incomplete\",\"output\":[{\"type\":"
	    "\"message\",\"content\":[{\"type\":\"output_text\",\"text\":"
	    "\"ab\"}]}]}}\n\n";
	struct llm_parse p;
	struct got g;

	(void)state;
	parse_whole(&llm_api_chat, "{\"choices\":[{\"message\":{\"content\":"
	    "\"abc\"},\"finish_reason\":\"length\"}]}", &p, &g);
	assert_true(p.done && p.truncated);
	llm_parse_free(&p);
	parse_whole(&llm_api_responses, "{\"id\":\"r\",\"status\":"
	    "\"incomplete\",\"incomplete_details\":{\"reason\":"
	    "\"max_output_tokens\"},\"output\":[]}", &p, &g);
	assert_true(p.done && p.truncated && !p.failed);
	llm_parse_free(&p);
	parse_whole(&llm_api_anthropic, "{\"content\":[{\"type\":\"text\","
	    "\"text\":\"abc\"}],\"stop_reason\":\"max_tokens\"}", &p, &g);
	assert_true(p.done && p.truncated);
	llm_parse_free(&p);
	/* A Responses stream that ends with response.incomplete. */
	llm_parse_init(&p, &llm_api_responses, NULL, NULL);
	assert_int_equal(llm_parse_feed(&p, incomplete, strlen(incomplete)),
	    0);
	assert_false(llm_parse_end(&p));
	assert_true(p.done && p.truncated);
	assert_string_equal(p.text.p, "ab");
	llm_parse_free(&p);
}

/* ------------------------------------------------------------ errors */

struct err_case {
	const struct llm_api *api;
	const char *stream;
	const char *message;
	const char *code;
	int status;		/* what the retry policy sees */
};

static const struct err_case stream_errors[] = {
	/* Chat Completions servers: data: {"error":…}, no [DONE]. */
	{ &llm_api_chat,
	  "data: {\"choices\":[{\"delta\":{\"content\":\"He\"}}]}\n\n"
	  "data: {\"error\":{\"message\":\"The server had an error\","
	  "\"type\":\"server_error\",\"param\":null,\"code\":"
	  "\"server_error\"}}\n\n",
	  "The server had an error", "server_error", 500 },
	/* llama-server's shape: an integer code. */
	{ &llm_api_chat,
	  "data: {\"error\":{\"code\":503,\"message\":\"Loading model\","
	  "\"type\":\"unavailable_error\"}}\n\n",
	  "Loading model", "503", 503 },
	/* Responses: a flat error event. */
	{ &llm_api_responses,
	  "event: error\ndata: {\"type\":\"error\",\"code\":"
	  "\"rate_limit_exceeded\",\"message\":\"Slow down\",\"param\":null,"
	  "\"sequence_number\":3}\n\n",
	  "Slow down", "rate_limit_exceeded", 429 },
	/* Responses: the nested shape. */
	{ &llm_api_responses,
	  "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
	  "\"server_error\",\"code\":\"server_error\",\"message\":\"Oops\","
	  "\"param\":null},\"sequence_number\":3}\n\n",
	  "Oops", "server_error", 500 },
	/* Responses: response.failed with response.error. */
	{ &llm_api_responses,
	  "event: response.failed\ndata: {\"type\":\"response.failed\","
	  "\"response\":{\"id\":\"r\",\"status\":\"failed\",\"error\":"
	  "{\"code\":\"invalid_prompt\",\"message\":\"Bad prompt\"}}}\n\n",
	  "Bad prompt", "invalid_prompt", 400 },
	/* Anthropic: event: error, then the connection closes. */
	{ &llm_api_anthropic,
	  "event: message_start\ndata: {\"type\":\"message_start\","
	  "\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":3}}}\n\n"
	  "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
	  "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
	  "Overloaded", "overloaded_error", 529 },
};

static void
test_stream_errors(void **state)
{
	struct llm_parse p;

	(void)state;
	for (size_t i = 0; i < sizeof(stream_errors) /
	    sizeof(stream_errors[0]); i++) {
		const struct err_case *c = &stream_errors[i];
		size_t len = strlen(c->stream);

		for (size_t cut = 0; cut <= len; cut++) {
			llm_parse_init(&p, c->api, NULL, NULL);
			(void)llm_parse_feed(&p, c->stream, cut);
			(void)llm_parse_feed(&p, c->stream + cut, len - cut);
			(void)llm_parse_end(&p);
			assert_true(p.failed);
			assert_false(p.done);
			assert_string_equal(p.err_message, c->message);
			assert_string_equal(p.err_code, c->code);
			assert_int_equal(p.err_status, c->status);
			llm_parse_free(&p);
		}
	}
}

static void
test_error_bodies(void **state)
{
	static const struct {
		int status;
		const char *body;
		const char *message;
		const char *code;
	} cases[] = {
		{ 429, "{\"error\":{\"message\":\"Rate limit reached\",\"type\":"
		  "\"requests\",\"param\":null,\"code\":"
		  "\"rate_limit_exceeded\"}}", "Rate limit reached",
		  "rate_limit_exceeded" },
		{ 529, "{\"type\":\"error\",\"error\":{\"type\":"
		  "\"overloaded_error\",\"message\":\"Overloaded\"},"
		  "\"request_id\":\"req_1\"}", "Overloaded",
		  "overloaded_error" },
		{ 400, "{\"error\":{\"code\":400,\"message\":\"context too "
		  "long\",\"type\":\"invalid_request_error\"}}",
		  "context too long", "400" },
		{ 404, "{\"error\":\"model 'x' not found\"}",
		  "model 'x' not found", NULL },
		{ 502, "<html><body>Bad\tGateway</body></html>",
		  "<html><body>Bad Gateway</body></html>", NULL },
	};
	static const char api_error[] = "{\"type\":\"error\",\"error\":"
	    "{\"type\":\"api_error\",\"message\":\"Internal\"}}";
	struct llm_parse p;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		llm_parse_init(&p, &llm_api_chat, NULL, NULL);
		llm_parse_error_body(&p, cases[i].status, cases[i].body,
		    strlen(cases[i].body));
		assert_true(p.failed);
		assert_int_equal(p.err_status, cases[i].status);
		assert_string_equal(p.err_message, cases[i].message);
		if (cases[i].code != NULL)
			assert_string_equal(p.err_code, cases[i].code);
		else
			assert_null(p.err_code);
		llm_parse_free(&p);
	}
	/* A streaming request answered with a JSON error and status 200. */
	llm_parse_init(&p, &llm_api_anthropic, NULL, NULL);
	llm_parse_whole(&p, api_error, strlen(api_error));
	assert_true(p.failed);
	assert_int_equal(p.err_status, 500);
	llm_parse_free(&p);
}

static void
test_malformed(void **state)
{
	struct llm_parse p;
	struct got g;

	(void)state;
	llm_parse_init(&p, &llm_api_chat, NULL, NULL);
	assert_int_equal(llm_parse_feed(&p, "data: {\"choices\":[{\"del\n\n",
	    27), -1);
	assert_true(p.bad);
	llm_parse_free(&p);
	parse_whole(&llm_api_responses, "{\"id\":\"resp_1\",\"out", &p, &g);
	assert_true(p.bad);
	assert_false(p.done);
	llm_parse_free(&p);
	parse_whole(&llm_api_chat, "{\"id\":\"x\"}", &p, &g);
	assert_true(p.bad);
	llm_parse_free(&p);
}

/* ------------------------------------------------------------ usage */

static void
test_usage_cost(void **state)
{
	struct llm_conf c;
	struct llm_usage u = { .input = 1000000, .output = 500000,
	    .cached = 400000, .calls = 1 };
	struct llm_session *s;

	(void)state;
	conf_init(&c, "chat");
	llm_usage_price(&u, &c);
	assert_false(u.priced);
	assert_true(u.cost == 0);
	c.price_input = 2.0;
	c.price_output = 8.0;
	llm_usage_price(&u, &c);
	/* Cached tokens at the input price when no cached price is set. */
	assert_true(u.priced);
	assert_float_equal(u.cost, 2.0 + 4.0, 1e-9);
	c.price_cached = 0.5;
	llm_usage_price(&u, &c);
	assert_float_equal(u.cost, 0.6 * 2.0 + 0.4 * 0.5 + 0.5 * 8.0, 1e-9);

	/* Summed over the session's turns. */
	s = new_session(&c, NULL);
	fake_turn(s, "a", "b", NULL);
	fake_turn(s, "c", "d", NULL);
	assert_int_equal(llm_session_usage(s)->input, 20);
	assert_int_equal(llm_session_usage(s)->output, 10);
	assert_int_equal(llm_session_usage(s)->calls, 2);
	llm_session_free(s);
}

/* ------------------------------------------------------------ file */

static void
test_save_load(void **state)
{
	struct llm_conf c;
	struct llm_session *s, *t;
	char dir[PATH_MAX], path[PATH_MAX], err[256], *text;
	struct stat st;

	(void)state;
	tu_mkdtemp(dir, sizeof(dir));
	tu_join(path, sizeof(path), dir, "session.json");
	conf_init(&c, "openai-responses");
	s = new_session(&c, "SYS");
	fake_turn(s, "hi \"there\"\n", "one", "resp_1");
	fake_turn(s, "again", "two", "resp_2");
	assert_int_equal(llm_session_save(s, path, err, sizeof(err)), 0);
	assert_int_equal(tu_count_entries(dir), 1);	/* no temp left */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	text = tu_read_file(path);
	assert_non_null(strstr(text, "\"response_id\": \"resp_2\""));
	assert_null(strstr(text, KEY));
	free(text);

	t = new_session(&c, NULL);
	assert_int_equal(llm_session_load(t, path, err, sizeof(err)), 0);
	assert_int_equal(llm_session_turns(t), 2);
	assert_string_equal(llm_session_response_id(t), "resp_2");
	assert_string_equal(t->system, "SYS");
	assert_string_equal(t->turns[0].user, "hi \"there\"\n");
	assert_int_equal(llm_session_usage(t)->calls, 2);
	assert_body(t, "three", "{\"model\":\"m-test\",\"instructions\":"
	    "\"SYS\",\"input\":[{\"role\":\"user\",\"content\":\"three\"}],"
	    "\"previous_response_id\":\"resp_2\",\"max_output_tokens\":100,"
	    "\"store\":true,\"stream\":true,\"truncation\":\"auto\"}");
	llm_session_free(t);

	/* Another API carries the transcript on, not the response ids. */
	conf_init(&c, "anthropic");
	t = new_session(&c, NULL);
	assert_int_equal(llm_session_load(t, path, err, sizeof(err)), 0);
	assert_null(llm_session_response_id(t));
	assert_body(t, "three", "{\"model\":\"m-test\",\"max_tokens\":100,"
	    "\"system\":" SYS_BLOCK ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi \\\"there\\\"\\n\"},{\"role\":\"assistant\","
	    "\"content\":\"one\"},{\"role\":\"user\",\"content\":\"again\"},"
	    "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"two\",\"cache_control\":{\"type\":\"ephemeral\"}}]},"
	    "{\"role\":\"user\",\"content\":\"three\"}],\"stream\":true}");
	/* Only into a fresh session. */
	assert_int_equal(llm_session_load(t, path, err, sizeof(err)), -1);
	llm_session_free(t);

	tu_write_file(path, "{\"version\":99}");
	t = new_session(&c, NULL);
	assert_int_equal(llm_session_load(t, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "version"));
	llm_session_free(t);
	llm_session_free(s);
	tu_rmtree(dir);
}

/* ------------------------------------------------------------ keys */

static void
test_keys(void **state)
{
	struct llm_conf c;
	char dir[PATH_MAX], path[PATH_MAX], err[512], *key, *src;

	(void)state;
	tu_mkdtemp(dir, sizeof(dir));
	tu_join(path, sizeof(path), dir, "key");
	conf_init(&c, "chat");

	setenv(KEY_VAR, " " KEY "\n", 1);
	assert_int_equal(llm_key_load(&c, &llm_api_chat, &key, &src, err,
	    sizeof(err)), 0);
	assert_string_equal(key, KEY);
	assert_string_equal(src, "environment variable " KEY_VAR);
	llm_key_free(key);
	free(src);

	/* Named but unset: an error that names the variable only. */
	unsetenv(KEY_VAR);
	assert_int_equal(llm_key_load(&c, &llm_api_chat, &key, &src, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, KEY_VAR));

	/* The default variable unset: no key (a local server). */
	c.key_env = NULL;
	unsetenv("ANTHROPIC_API_KEY");
	assert_int_equal(llm_key_load(&c, &llm_api_anthropic, &key, &src, err,
	    sizeof(err)), 0);
	assert_null(key);
	assert_string_equal(src, "environment variable ANTHROPIC_API_KEY");
	free(src);

	/* A file others can read is refused, without its content. */
	tu_write_file(path, KEY "\n");
	chmod(path, 0640);
	c.key_file = path;
	assert_int_equal(llm_key_load(&c, &llm_api_chat, &key, &src, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "chmod 600"));
	assert_null(strstr(err, KEY));
	chmod(path, 0600);
	assert_int_equal(llm_key_load(&c, &llm_api_chat, &key, &src, err,
	    sizeof(err)), 0);
	assert_string_equal(key, KEY);
	llm_key_free(key);
	free(src);

	/* systemd's credentials directory. */
	c.key_file = NULL;
	c.key_credential = "key";
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	assert_int_equal(llm_key_load(&c, &llm_api_chat, &key, &src, err,
	    sizeof(err)), 0);
	assert_string_equal(key, KEY);
	assert_string_equal(src, "credential key");
	llm_key_free(key);
	free(src);
	c.key_credential = "../key";
	assert_int_equal(llm_key_load(&c, &llm_api_chat, &key, &src, err,
	    sizeof(err)), -1);
	unsetenv("CREDENTIALS_DIRECTORY");
	tu_rmtree(dir);
}

static void
test_session_refusals(void **state)
{
	struct llm_conf c;
	char err[256];

	(void)state;
	conf_init(&c, "chat");
	c.model = NULL;
	assert_null(llm_session_new(NULL, &c, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "no model"));
	conf_init(&c, "bard");
	assert_null(llm_session_new(NULL, &c, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown provider"));
	assert_string_equal(llm_error_name(LLM_ERR_RATE_LIMITED),
	    "rate_limited");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_responses_body),
		cmocka_unit_test(test_responses_body_unstored),
		cmocka_unit_test(test_chat_body),
		cmocka_unit_test(test_anthropic_body),
		cmocka_unit_test(test_trimming),
		cmocka_unit_test(test_streams_every_split),
		cmocka_unit_test(test_max_tokens_field),
		cmocka_unit_test(test_result_outage),
		cmocka_unit_test(test_streams_cut),
		cmocka_unit_test(test_chat_stream_without_done),
		cmocka_unit_test(test_whole_answers),
		cmocka_unit_test(test_truncated_answers),
		cmocka_unit_test(test_stream_errors),
		cmocka_unit_test(test_error_bodies),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_usage_cost),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_session_refusals),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
