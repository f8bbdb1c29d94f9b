/*
 * test_llm_live.c — the provider layer (common/llm*) over real HTTP on a
 * libuv loop, against tests/llmd/llmd.py on 127.0.0.1.
 *
 * Each test starts its own llmd (port 0, --port-file waited for with a
 * deadline, a script written by the test, --record to a temporary file),
 * drives one session and reads the record: what was sent, how often, with
 * which headers.  Multi-turn sessions on each API that survive a restart
 * (save, free, load, continue); retries after 429 (waiting Retry-After)
 * and 503; no retry after 400; 401 naming the key variable; a stream cut
 * midway; in-stream errors; x-should-retry and retry-after-ms; a stall
 * ended by the timeout; cancellation during a stall, from on_delta, by
 * freeing the session or the engine; a long Retry-After turned into
 * "rate limited until T";
 * the key only ever in the auth header, never in a log line.  Issue 15:
 * the tokens of failed, cut and cancelled attempts in the result and the
 * session; retry reasons that say the failure ("HTTP 529: Overloaded",
 * "error in the stream: ...", "(as the server asked)"); a one-attempt
 * probe (llm_session_set_max_attempts); a session moved to another
 * provider (llm_session_set_provider) and a saved one loaded on another.
 *
 * Skipped when python3 or llmd.py cannot be found.  $MASTERD_TOP (set by
 * tests/run) is the repository top; the current directory otherwise.
 */
#include "testutil.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>

#include "common/llm/llm.h"
#include "common/log.h"

#define KEY		"sk-test-7f3a9c1e5b2d4680aa11"
#define OTHER_KEY	"sk-other-0000000000000000"
#define KEY_VAR		"MASTERD_TEST_LLM_KEY"
#define SYSTEM		"You are the test domain's assistant."
#define TURN_LIMIT_MS	30000

extern char **environ;

/* ------------------------------------------------------------ llmd */

struct srv {
	pid_t pid;
	char dir[PATH_MAX];
	char record[PATH_MAX];
	char base[64];
};

/* Start llmd with script; server_key is what it demands. */
static void
srv_start(struct srv *v, const char *script, const char *server_key)
{
	const char *top = getenv("MASTERD_TOP");
	char llmd[PATH_MAX], sfile[PATH_MAX], pfile[PATH_MAX], envkey[128];
	char *argv[12], **envp, *text = NULL;
	size_t n = 0, i = 0;
	uint64_t deadline;
	int port = 0;

	memset(v, 0, sizeof(*v));
	if (!tu_on_path("python3"))
		skip();
	snprintf(llmd, sizeof(llmd), "%s/tests/llmd/llmd.py",
	    top != NULL && *top != '\0' ? top : ".");
	if (access(llmd, R_OK) != 0)
		skip();
	tu_mkdtemp(v->dir, sizeof(v->dir));
	tu_join(sfile, sizeof(sfile), v->dir, "script.json");
	tu_join(pfile, sizeof(pfile), v->dir, "port");
	tu_join(v->record, sizeof(v->record), v->dir, "record.jsonl");
	tu_write_file(sfile, script);

	while (environ[n] != NULL)
		n++;
	envp = calloc(n + 2, sizeof(*envp));
	assert_non_null(envp);
	for (size_t j = 0; j < n; j++) {
		if (strncmp(environ[j], "LLMD_API_KEY=", 13) != 0)
			envp[i++] = environ[j];
	}
	/* The key goes through the environment: argv is public. */
	snprintf(envkey, sizeof(envkey), "LLMD_API_KEY=%s", server_key);
	envp[i++] = envkey;
	argv[0] = "python3";
	argv[1] = llmd;
	argv[2] = "--script";
	argv[3] = sfile;
	argv[4] = "--record";
	argv[5] = v->record;
	argv[6] = "--port-file";
	argv[7] = pfile;
	argv[8] = "--max-lifetime";
	argv[9] = "120";
	argv[10] = NULL;
	assert_int_equal(posix_spawnp(&v->pid, "python3", NULL, NULL, argv,
	    envp), 0);
	free(envp);
	deadline = tu_mono_ms() + 10000;
	while (tu_mono_ms() < deadline) {
		if ((text = tu_read_file(pfile)) != NULL &&
		    strchr(text, '\n') != NULL)
			break;
		free(text);
		text = NULL;
		tu_pause_ms(10);
	}
	assert_non_null(text);
	port = atoi(text);
	free(text);
	assert_true(port > 0);
	snprintf(v->base, sizeof(v->base), "http://127.0.0.1:%d/v1", port);
}

static void
srv_stop(struct srv *v)
{
	int st;

	if (v->pid > 0) {
		kill(v->pid, SIGTERM);
		waitpid(v->pid, &st, 0);
	}
	tu_rmtree(v->dir);
}

/* The recorded API requests, in order (start and stop lines left out). */
static json_t *
srv_requests(struct srv *v)
{
	json_t *all = json_array(), *line;
	json_error_t jerr;
	FILE *f = fopen(v->record, "r");
	char *buf = NULL;
	size_t cap = 0;

	assert_non_null(f);
	while (getline(&buf, &cap, f) > 0) {
		line = json_loads(buf, 0, &jerr);
		assert_non_null(line);
		if (json_object_get(line, "event") != NULL)
			json_decref(line);
		else
			json_array_append_new(all, line);
	}
	free(buf);
	fclose(f);
	return all;
}

static const char *
rec_header(json_t *rec, const char *name)
{
	return json_string_value(json_object_get(json_object_get(rec,
	    "headers"), name));
}

/*
 * The key appears in the auth header of each request and nowhere else:
 * not in the body, not in another header.
 */
static void
assert_key_only_in_auth(json_t *reqs)
{
	size_t i;
	json_t *rec, *v;
	const char *name;
	char *body;

	json_array_foreach(reqs, i, rec) {
		json_object_foreach(json_object_get(rec, "headers"), name, v) {
			const char *s = json_string_value(v);

			if (strcmp(name, "authorization") == 0 ||
			    strcmp(name, "x-api-key") == 0)
				continue;
			assert_null(strstr(s, KEY));
		}
		body = json_dumps(json_object_get(rec, "body"), JSON_ENCODE_ANY);
		assert_non_null(body);
		assert_null(strstr(body, KEY));
		free(body);
	}
}

/* ------------------------------------------------------------ logs */

struct logcap {
	char *text;
	size_t len;
};

static struct logcap logs;

static void
log_sink(int level, const char *line, void *arg)
{
	size_t n = strlen(line);
	char *nt;

	(void)level;
	(void)arg;
	if ((nt = realloc(logs.text, logs.len + n + 2)) == NULL)
		return;
	logs.text = nt;
	memcpy(logs.text + logs.len, line, n);
	logs.len += n;
	logs.text[logs.len++] = '\n';
	logs.text[logs.len] = '\0';
}

static void
assert_key_not_logged(void)
{
	if (logs.text != NULL && strstr(logs.text, KEY) != NULL)
		fail_msg("the key was logged:\n%s", logs.text);
}

/* ------------------------------------------------------------ turns */

struct ctx {
	uv_loop_t loop;
	struct llm_engine *e;
	struct srv srv;
	struct llm_conf conf;
	char session_file[PATH_MAX];
};

struct turn {
	bool done;
	bool ok;
	enum llm_error error;
	int status;
	char message[1024];
	char text[4096];
	char streamed[4096];
	time_t retry_until;
	unsigned attempts;
	unsigned retries;
	unsigned retry_attempt;		/* the last on_retry's */
	unsigned retry_max;
	bool retry_server_asked;
	char retry_reason[1024];
	bool outage;			/* llm_result_outage */
	struct llm_usage usage;
	bool truncated;
	char model[128];
	bool tools_refused;
	uint64_t done_ms;
	struct llm_request *cancel_on_delta;
};

static void
on_delta(const char *s, size_t n, void *arg)
{
	struct turn *t = arg;
	size_t have = strlen(t->streamed);

	if (have + n < sizeof(t->streamed)) {
		memcpy(t->streamed + have, s, n);
		t->streamed[have + n] = '\0';
	}
	if (t->cancel_on_delta != NULL)
		llm_request_cancel(t->cancel_on_delta);
}

static void
on_retry(const struct llm_retry *rt, void *arg)
{
	struct turn *t = arg;

	t->retries++;
	t->retry_attempt = rt->attempt;
	t->retry_max = rt->max_attempts;
	t->retry_server_asked = rt->server_asked;
	snprintf(t->retry_reason, sizeof(t->retry_reason), "%s", rt->reason);
	t->streamed[0] = '\0';	/* the answer starts over */
}

static void
on_done(const struct llm_result *r, void *arg)
{
	struct turn *t = arg;

	t->done = true;
	t->done_ms = tu_mono_ms();
	t->ok = r->ok;
	t->error = r->error;
	t->status = r->http_status;
	snprintf(t->message, sizeof(t->message), "%s", r->message);
	snprintf(t->text, sizeof(t->text), "%.*s", (int)r->text_len, r->text);
	t->retry_until = r->retry_until;
	t->attempts = r->attempts;
	t->usage = r->usage;
	t->truncated = r->truncated;
	snprintf(t->model, sizeof(t->model), "%s", r->model);
	t->tools_refused = llm_result_tools_refused(r);
	t->outage = llm_result_outage(r);
}

static const struct llm_callbacks callbacks = { on_delta, on_retry,
    on_done };

static void
on_limit(uv_timer_t *timer)
{
	bool *expired = timer->data;

	*expired = true;
}

/* Run the loop until t is done, or fail after TURN_LIMIT_MS. */
static void
wait_turn(struct ctx *c, struct turn *t)
{
	uv_timer_t limit;
	bool expired = false;

	uv_timer_init(&c->loop, &limit);
	limit.data = &expired;
	uv_timer_start(&limit, on_limit, TURN_LIMIT_MS, 0);
	while (!t->done && !expired)
		uv_run(&c->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&limit, NULL);
	uv_run(&c->loop, UV_RUN_NOWAIT);
	assert_true(t->done);
}

static void
send_turn(struct ctx *c, struct llm_session *s, const char *text,
    struct turn *t)
{
	memset(t, 0, sizeof(*t));
	assert_non_null(llm_session_send(s, text, &callbacks, t));
	wait_turn(c, t);
}

static struct llm_session *
session(struct ctx *c)
{
	struct llm_session *s;
	char err[256];

	s = llm_session_new(c->e, &c->conf, SYSTEM, err, sizeof(err));
	if (s == NULL)
		fail_msg("llm_session_new: %s", err);
	return s;
}

static void
conf_for(struct ctx *c, const char *provider, const char *model)
{
	struct llm_conf *l = &c->conf;

	memset(l, 0, sizeof(*l));
	l->provider = (char *)provider;
	l->base_url = c->srv.base;
	l->model = (char *)model;
	l->key_env = KEY_VAR;
	l->timeout = 10000;
	l->connect_timeout = 2000;
	l->max_tokens = 256;
	l->context_tokens = 8192;
	l->max_attempts = 4;
	l->retry_deadline = 20000;
	l->max_retry_wait = 5000;
	l->temperature = -1;
	l->price_input = 2.0;
	l->price_output = 8.0;
	l->price_cached = 0.5;
	l->stream = 1;
	l->store = 1;
}

static int
setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_int_equal(uv_loop_init(&c->loop), 0);
	c->e = llm_engine_new(&c->loop);
	assert_non_null(c->e);
	setenv(KEY_VAR, KEY, 1);
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct ctx *c = *state;

	llm_engine_free(c->e);
	uv_run(&c->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&c->loop), 0);
	srv_stop(&c->srv);
	assert_key_not_logged();
	free(c);
	return 0;
}

/* Start llmd with a script and aim the conf at it. */
static void
start(struct ctx *c, const char *provider, const char *model,
    const char *script)
{
	srv_start(&c->srv, script, KEY);
	conf_for(c, provider, model);
	tu_join(c->session_file, sizeof(c->session_file), c->srv.dir,
	    "session.json");
}

#define THREE_TEXTS \
	"{\"rules\":[{\"reply\":{\"texts\":[\"first answer\"," \
	"\"second answer\",\"third answer\"]}}]}"

/* Save, free, load into a new session object: "a restart". */
static struct llm_session *
restart(struct ctx *c, struct llm_session *s)
{
	char err[256];

	if (llm_session_save(s, c->session_file, err, sizeof(err)) != 0)
		fail_msg("save: %s", err);
	llm_session_free(s);
	s = llm_session_new(c->e, &c->conf, NULL, err, sizeof(err));
	assert_non_null(s);
	if (llm_session_load(s, c->session_file, err, sizeof(err)) != 0)
		fail_msg("load: %s", err);
	assert_int_equal(llm_session_turns(s), 2);
	return s;
}

/* The third turn after a restart of the session; the 3 requests made. */
static json_t *
third_turn(struct ctx *c, struct llm_session *s, struct turn *t)
{
	json_t *reqs;

	s = restart(c, s);
	send_turn(c, s, "hello three", t);
	assert_true(t->ok);
	assert_string_equal(t->text, "third answer");
	llm_session_free(s);
	reqs = srv_requests(&c->srv);
	assert_int_equal(json_array_size(reqs), 3);
	return reqs;
}

/* ------------------------------------------------------------ tests */

static void
test_responses_multi_turn(void **state)
{
	struct ctx *c = *state;
	struct llm_session *s;
	struct turn t;
	json_t *reqs, *b;
	char id1[128], id2[128];

	start(c, "openai-responses", "gpt-test", THREE_TEXTS);
	s = session(c);
	send_turn(c, s, "hello one", &t);
	assert_true(t.ok);
	assert_string_equal(t.text, "first answer");
	assert_string_equal(t.streamed, "first answer");
	assert_string_equal(t.model, "gpt-test");
	assert_true(t.usage.input > 0 && t.usage.output > 0);
	assert_true(t.usage.priced && t.usage.cost > 0);
	snprintf(id1, sizeof(id1), "%s", llm_session_response_id(s));
	send_turn(c, s, "hello two", &t);
	assert_string_equal(t.text, "second answer");
	snprintf(id2, sizeof(id2), "%s", llm_session_response_id(s));
	assert_string_not_equal(id1, id2);

	/* A new process would do this: the file is all it has. */
	c->conf.stream = 0;
	s = restart(c, s);
	assert_string_equal(llm_session_response_id(s), id2);
	send_turn(c, s, "hello three", &t);
	assert_true(t.ok);
	assert_string_equal(t.text, "third answer");
	assert_int_equal(llm_session_usage(s)->calls, 3);

	reqs = srv_requests(&c->srv);
	assert_int_equal(json_array_size(reqs), 3);
	for (size_t i = 0; i < 3; i++) {
		b = json_object_get(json_array_get(reqs, i), "body");
		/* Instructions are not carried over: every turn sends them. */
		assert_string_equal(json_string_value(json_object_get(b,
		    "instructions")), SYSTEM);
		assert_null(json_object_get(b, "conversation"));
		assert_int_equal(json_array_size(json_object_get(b, "input")),
		    1);
		assert_string_equal(rec_header(json_array_get(reqs, i),
		    "authorization"), "Bearer " KEY);
	}
	b = json_object_get(json_array_get(reqs, 0), "body");
	assert_null(json_object_get(b, "previous_response_id"));
	b = json_object_get(json_array_get(reqs, 1), "body");
	assert_string_equal(json_string_value(json_object_get(b,
	    "previous_response_id")), id1);
	b = json_object_get(json_array_get(reqs, 2), "body");
	assert_string_equal(json_string_value(json_object_get(b,
	    "previous_response_id")), id2);
	assert_true(json_is_false(json_object_get(b, "stream")));
	assert_key_only_in_auth(reqs);
	json_decref(reqs);
	llm_session_free(s);
}

/* A content string, or the text of the first block of a content array
 * (Anthropic's cache breakpoints make some content blocks). */
static const char *
content_text(json_t *content)
{
	if (json_is_array(content))
		content = json_object_get(json_array_get(content, 0), "text");
	return json_string_value(content);
}

/* The role/content pairs of a recorded messages array, as one string. */
static char *
roles(json_t *msgs)
{
	char *out = calloc(1, 4096);
	size_t i;
	json_t *m;

	assert_non_null(out);
	json_array_foreach(msgs, i, m) {
		size_t n = strlen(out);

		snprintf(out + n, 4096 - n, "%s%s:%s", i ? "|" : "",
		    json_string_value(json_object_get(m, "role")),
		    content_text(json_object_get(m, "content")));
	}
	return out;
}

static void
test_chat_multi_turn(void **state)
{
	struct turn t;
	struct ctx *c = *state;
	struct llm_session *s;
	json_t *reqs;
	char *r;

	start(c, "chat", "llama-test", THREE_TEXTS);
	s = session(c);
	send_turn(c, s, "hello one", &t);
	assert_string_equal(t.text, "first answer");
	/* The model the answer names (llmd names the one asked for). */
	assert_string_equal(t.model, "llama-test");
	assert_true(t.usage.input > 0);
	send_turn(c, s, "hello two", &t);
	assert_string_equal(t.text, "second answer");
	reqs = third_turn(c, s, &t);
	r = roles(json_object_get(json_object_get(json_array_get(reqs, 1),
	    "body"), "messages"));
	assert_string_equal(r, "system:" SYSTEM "|user:hello one|"
	    "assistant:first answer|user:hello two");
	free(r);
	/* After the restart the whole history is still sent. */
	r = roles(json_object_get(json_object_get(json_array_get(reqs, 2),
	    "body"), "messages"));
	assert_string_equal(r, "system:" SYSTEM "|user:hello one|"
	    "assistant:first answer|user:hello two|assistant:second answer|"
	    "user:hello three");
	free(r);
	assert_key_only_in_auth(reqs);
	json_decref(reqs);
}

static void
test_anthropic_multi_turn(void **state)
{
	struct ctx *c = *state;
	struct llm_session *s;
	struct turn t;
	json_t *reqs, *rec, *b;
	char *r;

	start(c, "anthropic", "claude-test", THREE_TEXTS);
	s = session(c);
	send_turn(c, s, "hello one", &t);
	assert_string_equal(t.text, "first answer");
	assert_string_equal(t.model, "claude-test");
	send_turn(c, s, "hello two", &t);
	c->conf.stream = 0;
	reqs = third_turn(c, s, &t);
	rec = json_array_get(reqs, 2);
	b = json_object_get(rec, "body");
	assert_string_equal(content_text(json_object_get(b, "system")),
	    SYSTEM);
	r = roles(json_object_get(b, "messages"));
	assert_string_equal(r, "user:hello one|assistant:first answer|"
	    "user:hello two|assistant:second answer|user:hello three");
	free(r);
	assert_string_equal(rec_header(rec, "x-api-key"), KEY);
	assert_non_null(rec_header(rec, "anthropic-version"));
	assert_null(rec_header(rec, "authorization"));
	assert_key_only_in_auth(reqs);
	json_decref(reqs);
}

/* One turn against a script; returns the requests recorded. */
static json_t *
one_turn(struct ctx *c, const char *provider, const char *script,
    struct turn *t)
{
	struct llm_session *s;

	start(c, provider, "m-test", script);
	s = session(c);
	send_turn(c, s, "hello", t);
	llm_session_free(s);
	return srv_requests(&c->srv);
}

/* How a turn must end; -1: not checked. */
struct turn_want {
	bool ok;
	int error;		/* enum llm_error */
	int status;
	int retries;
	size_t nreqs;		/* requests the server saw */
};

#define WANT(ok, error, status, retries, nreqs) \
	(&(const struct turn_want){ ok, error, status, retries, nreqs })

/* one_turn(), checked against w; returns the requests recorded. */
static json_t *
checked_turn(struct ctx *c, const char *provider, const char *script,
    const struct turn_want *w, struct turn *t)
{
	json_t *reqs = one_turn(c, provider, script, t);

	assert_int_equal(t->ok, w->ok);
	if (w->error >= 0)
		assert_int_equal(t->error, w->error);
	if (w->status >= 0)
		assert_int_equal(t->status, w->status);
	if (w->retries >= 0)
		assert_int_equal(t->retries, w->retries);
	assert_int_equal(json_array_size(reqs), w->nreqs);
	return reqs;
}

static void
test_retry_after_429(void **state)
{
	struct ctx *c = *state;
	struct turn t;
	uint64_t t0 = tu_mono_ms();
	json_t *reqs;

	reqs = checked_turn(c, "chat", "{\"rules\":[{\"reply\":{\"text\":"
	    "\"ok\"},\"fault\":{\"status\":429,\"retry_after\":1,"
	    "\"count\":1}}]}", WANT(true, -1, -1, 1, 2), &t);
	assert_string_equal(t.text, "ok");
	assert_int_equal(t.attempts, 2);
	/* Retry-After: 1 was honoured, not a shorter backoff. */
	assert_true(t.done_ms - t0 >= 1000);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    reqs, 0), "status")), 429);
	assert_non_null(strstr(logs.text, "HTTP 429"));
	json_decref(reqs);
}

static void
test_retry_after_503(void **state)
{
	struct turn t;

	json_decref(checked_turn(*state, "anthropic", "{\"rules\":[{"
	    "\"reply\":{\"text\":\"ok\"},\"fault\":{\"status\":503,"
	    "\"count\":1}}]}", WANT(true, -1, -1, 1, 2), &t));
}

static void
test_no_retry_400(void **state)
{
	struct ctx *c = *state;
	struct turn t;
	json_t *reqs;

	reqs = checked_turn(c, "openai-responses", "{\"rules\":[{\"reply\":"
	    "{\"text\":\"ok\"},\"fault\":{\"status\":400,\"error\":"
	    "{\"message\":\"Unsupported parameter: 'zork'.\"}}}]}",
	    WANT(false, LLM_ERR_HTTP, 400, 0, 1), &t);
	assert_non_null(strstr(t.message, "Unsupported parameter: 'zork'."));
	assert_false(t.tools_refused);
	/* The configured model when no answer named one. */
	assert_string_equal(t.model, "m-test");
	json_decref(reqs);
}

/* A server that cannot take tools says so in a 400: the caller is told
 * to go on without them (Ollama's words here). */
static void
test_tools_refused_live(void **state)
{
	struct ctx *c = *state;
	struct turn t;
	json_t *reqs;

	reqs = checked_turn(c, "chat", "{\"rules\":[{\"reply\":"
	    "{\"text\":\"ok\"},\"fault\":{\"status\":400,\"error\":"
	    "{\"message\":\"registry.ollama.ai/library/x does not support "
	    "tools\"}}}]}", WANT(false, LLM_ERR_HTTP, 400, 0, 1), &t);
	assert_true(t.tools_refused);
	json_decref(reqs);
}

/* x-should-retry overrides the status; retry-after-ms wins. */
static void
test_server_retry_headers(void **state)
{
	struct ctx *c = *state;
	struct turn t;
	uint64_t t0;

	json_decref(checked_turn(c, "chat", "{\"rules\":[{\"reply\":{\"text\":"
	    "\"ok\"},\"fault\":{\"status\":503,\"x_should_retry\":"
	    "\"false\",\"count\":1}}]}", WANT(false, -1, 503, -1, 1), &t));
	srv_stop(&c->srv);

	json_decref(checked_turn(c, "anthropic", "{\"rules\":[{\"reply\":{"
	    "\"text\":\"ok\"},\"fault\":{\"status\":400,\"x_should_retry\":"
	    "\"true\",\"retry_after_ms\":10,\"count\":1}}]}",
	    WANT(true, -1, -1, -1, 2), &t));
	srv_stop(&c->srv);

	/* Retry-After alone (30 s) would defer; retry-after-ms comes first. */
	t0 = tu_mono_ms();
	json_decref(checked_turn(c, "openai-responses", "{\"rules\":[{"
	    "\"reply\":{\"text\":\"ok\"},\"fault\":{\"status\":429,"
	    "\"retry_after\":30,\"retry_after_ms\":300,\"count\":1}}]}",
	    WANT(true, -1, -1, -1, 2), &t));
	assert_true(t.done_ms - t0 >= 300);
	assert_true(t.done_ms - t0 < 5000);
}

static void
test_401_names_key_source(void **state)
{
	struct ctx *c = *state;
	struct llm_session *s;
	struct turn t;
	json_t *reqs;

	srv_start(&c->srv, THREE_TEXTS, OTHER_KEY);
	conf_for(c, "chat", "m-test");
	s = session(c);
	send_turn(c, s, "hello", &t);
	llm_session_free(s);
	assert_false(t.ok);
	assert_int_equal(t.error, LLM_ERR_HTTP);
	assert_int_equal(t.status, 401);
	assert_non_null(strstr(t.message, KEY_VAR));
	assert_null(strstr(t.message, KEY));
	reqs = srv_requests(&c->srv);
	assert_int_equal(json_array_size(reqs), 1);
	json_decref(reqs);
}

/* A script whose one answer is `size` bytes of text, sent in deltas of
 * `chunk` when streamed. */
static char *
huge_answer_script(size_t size, size_t chunk)
{
	static const char head[] = "{\"rules\":[{\"reply\":{\"chunk\":";
	char num[32];
	size_t n = strlen(head), k;
	char *s;

	k = (size_t)snprintf(num, sizeof(num), "%zu,\"text\":\"", chunk);
	s = malloc(n + k + size + 8);
	assert_non_null(s);
	memcpy(s, head, n);
	memcpy(s + n, num, k);
	memset(s + n + k, 'x', size);
	strcpy(s + n + k + size, "\"}}]}");
	return s;
}

/* An answer over the response size cap (32 MiB) fails at once, naming the
 * cap, and is not retried: it would be as large again.  Once as a whole
 * body, once as a stream. */
static void
test_answer_over_cap_not_retried(void **state)
{
	struct ctx *c = *state;
	char *script = huge_answer_script((size_t)33 << 20, (size_t)1 << 20);
	struct llm_session *s;
	struct turn t;
	json_t *reqs;

	for (int stream = 0; stream <= 1; stream++) {
		start(c, "chat", "m-test", script);
		c->conf.stream = stream;
		s = session(c);
		send_turn(c, s, "hello", &t);
		llm_session_free(s);
		reqs = srv_requests(&c->srv);
		if (t.ok || json_array_size(reqs) != 1 ||
		    strstr(t.message, "over the response size cap (32 MiB)")
		    == NULL || strstr(t.message, "not retried") == NULL)
			fail_msg("stream %d: ok %d after %zu requests: %s",
			    stream, t.ok, json_array_size(reqs), t.message);
		assert_int_equal(t.retries, 0);
		assert_int_equal(t.error, LLM_ERR_PARSE);
		json_decref(reqs);
		if (stream == 0) {	/* teardown stops the last one */
			srv_stop(&c->srv);
			c->srv.pid = 0;
		}
	}
	free(script);
}

static void
test_stream_cut_retried(void **state)
{
	struct turn t;

	json_decref(checked_turn(*state, "openai-responses", "{\"rules\":[{"
	    "\"reply\":{\"text\":\"a long enough answer to be cut\","
	    "\"chunk\":4},\"fault\":{\"cut_after\":6,\"count\":1}}]}",
	    WANT(true, -1, -1, 1, 2), &t));
	assert_string_equal(t.text, "a long enough answer to be cut");
	/* on_retry voided the first pieces: the stream is whole once. */
	assert_string_equal(t.streamed, "a long enough answer to be cut");
}

static void
test_stream_errors_retried(void **state)
{
	static const struct {
		const char *provider;
		const char *fault;
	} cases[] = {
		{ "chat", "{\"error_in_stream\":true,\"count\":1}" },
		{ "anthropic", "{\"error_in_stream\":true,\"count\":1}" },
		{ "openai-responses", "{\"error_in_stream\":true,"
		    "\"count\":1}" },
		{ "openai-responses", "{\"error_in_stream\":true,"
		    "\"shape\":\"nested\",\"count\":1}" },
		{ "openai-responses", "{\"error_in_stream\":true,"
		    "\"shape\":\"failed\",\"count\":1}" },
		{ "chat", "{\"json_error_to_stream\":true,\"count\":1}" },
	};
	struct ctx *c = *state;
	char script[512];
	struct turn t;
	json_t *reqs;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(script, sizeof(script), "{\"rules\":[{\"reply\":"
		    "{\"text\":\"fine\"},\"fault\":%s}]}", cases[i].fault);
		reqs = one_turn(c, cases[i].provider, script, &t);
		if (!t.ok || t.retries != 1)
			fail_msg("%s %s: ok %d retries %u: %s",
			    cases[i].provider, cases[i].fault, t.ok,
			    t.retries, t.message);
		assert_string_equal(t.text, "fine");
		assert_int_equal(json_array_size(reqs), 2);
		json_decref(reqs);
		srv_stop(&c->srv);
		memset(&c->srv, 0, sizeof(c->srv));
	}
}

static void
test_stall_times_out(void **state)
{
	struct ctx *c = *state;
	struct llm_session *s;
	struct turn t;
	uint64_t t0;

	start(c, "chat", "m-test", "{\"rules\":[{\"reply\":{\"text\":\"x\"},"
	    "\"fault\":{\"stall\":8}}]}");
	c->conf.timeout = 400;
	c->conf.max_attempts = 1;
	s = session(c);
	t0 = tu_mono_ms();
	send_turn(c, s, "hello", &t);
	llm_session_free(s);
	assert_false(t.ok);
	assert_int_equal(t.error, LLM_ERR_TIMEOUT);
	assert_true(t.done_ms - t0 >= 400);
	assert_true(t.done_ms - t0 < 3000);
}

static void
on_cancel_timer(uv_timer_t *timer)
{
	llm_request_cancel(timer->data);
}

static void
test_cancel_during_stall(void **state)
{
	struct ctx *c = *state;
	struct llm_session *s;
	struct llm_request *r;
	uv_timer_t timer;
	struct turn t = { 0 };
	uint64_t t0;

	start(c, "anthropic", "m-test", "{\"rules\":[{\"reply\":{\"text\":"
	    "\"x\"},\"fault\":{\"stall\":8}}]}");
	s = session(c);
	t0 = tu_mono_ms();
	r = llm_session_send(s, "hello", &callbacks, &t);
	assert_non_null(r);
	/* A second turn while the first runs is refused. */
	assert_null(llm_session_send(s, "again", &callbacks, &t));
	uv_timer_init(&c->loop, &timer);
	timer.data = r;
	uv_timer_start(&timer, on_cancel_timer, 200, 0);
	wait_turn(c, &t);
	uv_close((uv_handle_t *)&timer, NULL);
	assert_false(t.ok);
	assert_int_equal(t.error, LLM_ERR_CANCELLED);
	assert_true(t.done_ms - t0 < 1500);
	assert_int_equal(llm_session_turns(s), 0);
	/* The session is free for the next turn at once. */
	memset(&t, 0, sizeof(t));
	r = llm_session_send(s, "again", &callbacks, &t);
	assert_non_null(r);
	llm_request_cancel(r);
	assert_true(t.done);
	assert_int_equal(t.error, LLM_ERR_CANCELLED);
	llm_session_free(s);
}

/* Freeing the engine or the session, or cancelling from on_delta. */
static void
test_cancel_other_ways(void **state)
{
	struct ctx *c = *state;
	struct llm_session *s;
	struct turn t = { 0 };

	start(c, "chat", "m-test", "{\"rules\":[{\"match\":{\"input_contains\":"
	    "\"stall\"},\"reply\":{\"text\":\"x\"},\"fault\":{\"stall\":8}},"
	    "{\"reply\":{\"text\":\"a stream of many pieces\",\"chunk\":2}}]}");
	s = session(c);

	/* Cancelled from inside on_delta: ends when on_delta returns. */
	t.cancel_on_delta = llm_session_send(s, "go", &callbacks, &t);
	assert_non_null(t.cancel_on_delta);
	wait_turn(c, &t);
	assert_int_equal(t.error, LLM_ERR_CANCELLED);
	assert_int_equal(strlen(t.streamed), 2);
	assert_int_equal(llm_session_turns(s), 0);

	/* The session freed while its turn runs. */
	memset(&t, 0, sizeof(t));
	assert_non_null(llm_session_send(s, "stall", &callbacks, &t));
	uv_run(&c->loop, UV_RUN_NOWAIT);
	llm_session_free(s);
	assert_true(t.done);
	assert_int_equal(t.error, LLM_ERR_CANCELLED);

	/* The engine freed while a turn runs. */
	s = session(c);
	memset(&t, 0, sizeof(t));
	assert_non_null(llm_session_send(s, "stall", &callbacks, &t));
	uv_run(&c->loop, UV_RUN_NOWAIT);
	llm_engine_free(c->e);
	c->e = NULL;
	assert_true(t.done);
	assert_int_equal(t.error, LLM_ERR_CANCELLED);
	llm_session_free(s);
}

static void
test_rate_limited_until(void **state)
{
	struct turn t;
	time_t now = time(NULL);

	json_decref(checked_turn(*state, "openai-responses", "{\"rules\":[{"
	    "\"reply\":{\"text\":\"x\"},\"fault\":{\"status\":429,"
	    "\"retry_after\":120,\"count\":1}}]}",
	    WANT(false, LLM_ERR_RATE_LIMITED, 429, -1, 1), &t));
	assert_true(t.retry_until >= now + 119);
	assert_true(t.retry_until <= time(NULL) + 121);
}

static void
test_truncated_and_autosave(void **state)
{
	struct ctx *c = *state;
	struct llm_session *s;
	struct turn t;
	char *text;

	start(c, "chat", "m-test", "{\"rules\":[{\"reply\":{\"text\":"
	    "\"cut short\",\"truncated\":true}}]}");
	s = session(c);
	assert_int_equal(llm_session_autosave(s, c->session_file), 0);
	send_turn(c, s, "hello", &t);
	assert_true(t.ok);
	assert_true(t.truncated);
	llm_session_free(s);
	text = tu_read_file(c->session_file);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"assistant\": \"cut short\""));
	assert_null(strstr(text, KEY));
	free(text);
}

/* ------------------------------------------------------------ issue 15 */

/* A clean turn's usage on provider with script's reply, to compare. */
static struct llm_usage
clean_usage(struct ctx *c, const char *provider, const char *reply)
{
	char script[256];
	struct turn t;
	json_t *reqs;

	snprintf(script, sizeof(script), "{\"rules\":[{\"reply\":%s}]}",
	    reply);
	reqs = one_turn(c, provider, script, &t);
	assert_true(t.ok);
	json_decref(reqs);
	srv_stop(&c->srv);
	memset(&c->srv, 0, sizeof(c->srv));
	return t.usage;
}

/*
 * Every token counted: the usage an attempt reported before it failed
 * (an Anthropic stream's message_start before an overloaded error event;
 * a Chat stream cut after its usage chunk) is in the result's usage, the
 * turn's and the session's; calls counts the successful call alone.  A
 * request that fails for good, or is cancelled, reports its tokens too.
 */
static void
test_usage_of_failed_attempts(void **state)
{
	static const char reply[] = "{\"text\":\"fine\",\"chunk\":64}";
	struct ctx *c = *state;
	struct llm_usage clean_a, clean_c;
	struct llm_session *s;
	struct turn t;
	char script[512];
	json_t *reqs;

	clean_a = clean_usage(c, "anthropic", reply);
	clean_c = clean_usage(c, "chat", reply);
	assert_true(clean_a.input > 0 && clean_c.input > 0);

	/* Anthropic: message_start (input tokens), then "overloaded". */
	snprintf(script, sizeof(script), "{\"rules\":[{\"reply\":%s,"
	    "\"fault\":{\"error_in_stream\":true,\"count\":1}}]}", reply);
	start(c, "anthropic", "m-test", script);
	s = session(c);
	send_turn(c, s, "hello", &t);
	assert_true(t.ok);
	assert_int_equal(t.retries, 1);
	assert_int_equal(t.usage.input, 2 * clean_a.input);
	assert_true(t.usage.output > clean_a.output);
	assert_int_equal(t.usage.calls, 1);
	assert_true(t.usage.priced);
	assert_true(t.usage.cost > 0);
	assert_int_equal(llm_session_usage(s)->input, t.usage.input);
	assert_int_equal(llm_session_usage(s)->output, t.usage.output);
	assert_int_equal(llm_session_usage(s)->calls, 1);
	assert_non_null(strstr(logs.text, "tokens of failed attempts"));
	llm_session_free(s);
	srv_stop(&c->srv);
	memset(&c->srv, 0, sizeof(c->srv));

	/* Chat: role, text, finish, usage chunks; cut before [DONE]. */
	snprintf(script, sizeof(script), "{\"rules\":[{\"reply\":%s,"
	    "\"fault\":{\"cut_after\":4,\"count\":1}}]}", reply);
	reqs = one_turn(c, "chat", script, &t);
	assert_int_equal(json_array_size(reqs), 2);
	json_decref(reqs);
	assert_true(t.ok);
	assert_int_equal(t.retries, 1);
	assert_int_equal(t.usage.input, 2 * clean_c.input);
	assert_int_equal(t.usage.output, 2 * clean_c.output);
	assert_int_equal(t.usage.calls, 1);
	srv_stop(&c->srv);
	memset(&c->srv, 0, sizeof(c->srv));

	/* Failed for good: every attempt's tokens, no call, an outage. */
	snprintf(script, sizeof(script), "{\"rules\":[{\"reply\":%s,"
	    "\"fault\":{\"error_in_stream\":true}}]}", reply);
	start(c, "anthropic", "m-test", script);
	c->conf.max_attempts = 2;
	s = session(c);
	send_turn(c, s, "hello", &t);
	assert_false(t.ok);
	assert_int_equal(t.error, LLM_ERR_STREAM);
	assert_int_equal(t.attempts, 2);
	assert_int_equal(t.usage.input, 2 * clean_a.input);
	assert_int_equal(t.usage.calls, 0);
	assert_true(t.usage.cost > 0);
	assert_true(t.outage);
	assert_int_equal(llm_session_usage(s)->input, t.usage.input);
	assert_int_equal(llm_session_usage(s)->calls, 0);
	assert_int_equal(llm_session_turns(s), 0);

	/* Cancelled after message_start: its tokens still count. */
	memset(&t, 0, sizeof(t));
	c->conf.max_attempts = 4;
	llm_session_free(s);
	srv_stop(&c->srv);
	memset(&c->srv, 0, sizeof(c->srv));
	start(c, "anthropic", "m-test", "{\"rules\":[{\"reply\":"
	    "{\"text\":\"fine\"}}]}");
	s = session(c);
	t.cancel_on_delta = llm_session_send(s, "hello", &callbacks, &t);
	assert_non_null(t.cancel_on_delta);
	wait_turn(c, &t);
	assert_int_equal(t.error, LLM_ERR_CANCELLED);
	assert_false(t.outage);
	assert_int_equal(t.usage.input, clean_a.input);
	assert_int_equal(t.usage.calls, 0);
	assert_int_equal(llm_session_usage(s)->input, clean_a.input);
	llm_session_free(s);
}

/*
 * on_retry says the failure as the result would (the provider's message
 * with it, "error in the stream" for an error event), "(as the server
 * asked)" for a Retry-After wait, and the attempt of how many.
 */
static void
test_retry_reasons(void **state)
{
	struct ctx *c = *state;
	struct turn t;
	json_t *reqs;
	size_t mark;

	reqs = one_turn(c, "anthropic", "{\"rules\":[{\"reply\":{\"text\":"
	    "\"ok\"},\"fault\":{\"status\":529,\"count\":1}}]}", &t);
	json_decref(reqs);
	assert_true(t.ok);
	assert_int_equal(t.retry_attempt, 2);
	assert_int_equal(t.retry_max, 4);
	assert_false(t.retry_server_asked);
	assert_string_equal(t.retry_reason, "HTTP 529: Overloaded");
	srv_stop(&c->srv);
	memset(&c->srv, 0, sizeof(c->srv));

	mark = logs.len;
	reqs = one_turn(c, "anthropic", "{\"rules\":[{\"reply\":{\"text\":"
	    "\"ok\"},\"fault\":{\"error_in_stream\":true,\"count\":1}}]}", &t);
	json_decref(reqs);
	assert_true(t.ok);
	assert_string_equal(t.retry_reason, "error in the stream: "
	    "overloaded_error: Overloaded");
	/* Logged as such, never as the status it stands for. */
	assert_non_null(strstr(logs.text + mark, "failed: error in the "
	    "stream: overloaded_error: Overloaded (error in the stream: "
	    "retry 2 in"));
	assert_null(strstr(logs.text + mark, "HTTP 529"));
	srv_stop(&c->srv);
	memset(&c->srv, 0, sizeof(c->srv));

	reqs = one_turn(c, "chat", "{\"rules\":[{\"reply\":{\"text\":"
	    "\"ok\"},\"fault\":{\"status\":429,\"retry_after\":1,"
	    "\"error\":{\"message\":\"slow down\"},\"count\":1}}]}", &t);
	json_decref(reqs);
	assert_true(t.ok);
	assert_true(t.retry_server_asked);
	assert_string_equal(t.retry_reason, "HTTP 429: slow down (as the "
	    "server asked)");
}

/* llm_session_set_max_attempts: a single-attempt probe, then back. */
static void
test_max_attempts_override(void **state)
{
	struct ctx *c = *state;
	struct llm_session *s;
	struct turn t;
	json_t *reqs;

	start(c, "chat", "m-test", "{\"rules\":[{\"reply\":{\"text\":\"ok\"},"
	    "\"fault\":{\"status\":503,\"count\":2}}]}");
	s = session(c);
	llm_session_set_max_attempts(s, 1);
	send_turn(c, s, "probe", &t);
	assert_false(t.ok);
	assert_int_equal(t.attempts, 1);
	assert_int_equal(t.retries, 0);
	assert_int_equal(t.status, 503);
	assert_true(t.outage);
	assert_non_null(strstr(t.message, "gave up after 1 attempts"));
	llm_session_set_max_attempts(s, 0);
	send_turn(c, s, "again", &t);
	assert_true(t.ok);
	assert_int_equal(t.attempts, 2);
	assert_int_equal(t.retry_max, 4);
	llm_session_free(s);
	reqs = srv_requests(&c->srv);
	assert_int_equal(json_array_size(reqs), 3);
	json_decref(reqs);
}

/*
 * llm_session_set_provider: a session on Chat Completions moves to
 * Anthropic on another server; the next turn carries the whole earlier
 * transcript in Anthropic's form, with the new key.  A move while a turn
 * is being sent, or to an unusable conf, fails and changes nothing.  A
 * Responses session saved with its response id and loaded on another
 * provider resends its history.
 */
static void
test_set_provider(void **state)
{
	struct ctx *c = *state;
	struct llm_session *s;
	struct llm_conf other;
	struct srv b;
	struct turn t;
	json_t *reqs, *body;
	char err[256], *r;

	start(c, "chat", "chat-model", THREE_TEXTS);
	s = session(c);
	send_turn(c, s, "hello one", &t);
	assert_string_equal(t.text, "first answer");

	srv_start(&b, THREE_TEXTS, OTHER_KEY);
	setenv("MASTERD_TEST_OTHER_KEY", OTHER_KEY, 1);
	other = c->conf;
	other.provider = "anthropic";
	other.base_url = b.base;
	other.model = "claude-other";
	other.key_env = "MASTERD_TEST_OTHER_KEY";

	/* Busy: refused, nothing changed. */
	memset(&t, 0, sizeof(t));
	assert_non_null(llm_session_send(s, "hello two", &callbacks, &t));
	assert_int_equal(llm_session_set_provider(s, &other, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "being sent"));
	assert_string_equal(llm_session_model(s), "chat-model");
	wait_turn(c, &t);
	assert_true(t.ok);
	assert_string_equal(t.text, "second answer");

	/* Unusable confs: refused, nothing changed. */
	other.model = "";
	assert_int_equal(llm_session_set_provider(s, &other, err,
	    sizeof(err)), -1);
	other.model = "claude-other";
	other.key_env = "MASTERD_TEST_UNSET_KEY";
	unsetenv("MASTERD_TEST_UNSET_KEY");
	assert_int_equal(llm_session_set_provider(s, &other, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "MASTERD_TEST_UNSET_KEY"));
	other.provider = "no-such-api";
	assert_int_equal(llm_session_set_provider(s, &other, err,
	    sizeof(err)), -1);
	assert_string_equal(llm_session_model(s), "chat-model");

	other.provider = "anthropic";
	other.key_env = "MASTERD_TEST_OTHER_KEY";
	if (llm_session_set_provider(s, &other, err, sizeof(err)) != 0)
		fail_msg("set_provider: %s", err);
	assert_string_equal(llm_session_model(s), "claude-other");
	send_turn(c, s, "hello three", &t);
	assert_true(t.ok);
	assert_string_equal(t.text, "first answer");	/* b's first */
	assert_string_equal(t.model, "claude-other");
	assert_int_equal(llm_session_turns(s), 3);
	reqs = srv_requests(&b);
	assert_int_equal(json_array_size(reqs), 1);
	body = json_object_get(json_array_get(reqs, 0), "body");
	assert_string_equal(content_text(json_object_get(body, "system")),
	    SYSTEM);
	r = roles(json_object_get(body, "messages"));
	assert_string_equal(r, "user:hello one|assistant:first answer|"
	    "user:hello two|assistant:second answer|user:hello three");
	free(r);
	assert_string_equal(rec_header(json_array_get(reqs, 0), "x-api-key"),
	    OTHER_KEY);
	json_decref(reqs);
	/* The old server saw two requests, nothing after the move. */
	reqs = srv_requests(&c->srv);
	assert_int_equal(json_array_size(reqs), 2);
	json_decref(reqs);
	llm_session_free(s);
	srv_stop(&b);
	srv_stop(&c->srv);
	memset(&c->srv, 0, sizeof(c->srv));

	/* A Responses session saved with its handle, loaded elsewhere. */
	start(c, "openai-responses", "gpt-test", THREE_TEXTS);
	s = session(c);
	send_turn(c, s, "hello one", &t);
	send_turn(c, s, "hello two", &t);
	assert_non_null(llm_session_response_id(s));
	if (llm_session_save(s, c->session_file, err, sizeof(err)) != 0)
		fail_msg("save: %s", err);
	llm_session_free(s);
	srv_start(&b, THREE_TEXTS, KEY);
	other = c->conf;
	other.base_url = b.base;	/* Responses too, another server */
	s = llm_session_new(c->e, &other, NULL, err, sizeof(err));
	assert_non_null(s);
	if (llm_session_load(s, c->session_file, err, sizeof(err)) != 0)
		fail_msg("load: %s", err);
	assert_null(llm_session_response_id(s));
	send_turn(c, s, "hello three", &t);
	assert_true(t.ok);
	reqs = srv_requests(&b);
	body = json_object_get(json_array_get(reqs, 0), "body");
	assert_null(json_object_get(body, "previous_response_id"));
	assert_int_equal(json_array_size(json_object_get(body, "input")), 5);
	json_decref(reqs);
	llm_session_free(s);
	/* Loaded on its own server, the handle is used again. */
	s = session(c);
	if (llm_session_load(s, c->session_file, err, sizeof(err)) != 0)
		fail_msg("load: %s", err);
	assert_non_null(llm_session_response_id(s));
	llm_session_free(s);
	srv_stop(&b);
}

static int
group_setup(void **state)
{
	(void)state;
	llm_global_init();
	log_set_level(LOG_DEBUG);
	log_set_sink(log_sink, NULL);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	log_set_sink(NULL, NULL);
	free(logs.text);
	llm_global_cleanup();
	return 0;
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_responses_multi_turn),
		T(test_chat_multi_turn),
		T(test_anthropic_multi_turn),
		T(test_retry_after_429),
		T(test_retry_after_503),
		T(test_no_retry_400),
		T(test_tools_refused_live),
		T(test_server_retry_headers),
		T(test_401_names_key_source),
		T(test_stream_cut_retried),
		T(test_stream_errors_retried),
		T(test_stall_times_out),
		T(test_cancel_during_stall),
		T(test_cancel_other_ways),
		T(test_rate_limited_until),
		T(test_truncated_and_autosave),
		T(test_answer_over_cap_not_retried),
		T(test_usage_of_failed_attempts),
		T(test_retry_reasons),
		T(test_max_attempts_override),
		T(test_set_provider),
	};

	signal(SIGPIPE, SIG_IGN);
	tu_filter();
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
