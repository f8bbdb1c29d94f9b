/*
 * session.c — one conversation: its conf and key, the tools it offers,
 * the transcript and the window of it that is sent, usage totals.
 *
 * The transcript holds every completed turn (input, answer, response id,
 * usage); a failed turn leaves no trace.  The caller keeps the transcript
 * within the window (context.c: estimate, compact); trimming here is the
 * last resort, logged: the system prompt, the new input and the newest
 * whole turns that fit in context_tokens minus max_tokens, never starting
 * on a turn whose input carries tool results.  The file is file.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/llm/impl.h"
#include "common/log.h"
#include "common/redact.h"

#define TOKENS_PER_MESSAGE	8	/* role and framing */
#define CONTEXT_DEFAULT		128000	/* when the API has no other */
#define CONTEXT_ANTHROPIC	200000
/* Answers carry code: room for a few files' worth of edits. */
#define MAX_TOKENS_DEFAULT	8192

const struct llm_api *
llm_api_find(const char *name)
{
	static const struct llm_api *const apis[] = {
		&llm_api_responses, &llm_api_chat, &llm_api_anthropic
	};

	if (name == NULL)
		return &llm_api_responses;
	for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]); i++) {
		if (strcmp(apis[i]->name, name) == 0)
			return apis[i];
	}
	return NULL;
}

/*
 * A deliberately high estimate (3 bytes a token; English runs near 4,
 * code and other scripts lower), so that what is sent fits the window.
 */
size_t
llm_tokens_estimate(const char *s)
{
	return s == NULL ? 0 : (strlen(s) + 2) / 3 + TOKENS_PER_MESSAGE;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

#define DEFAULT(f, v)	do { if (c->f < 0) c->f = (v); } while (0)

/* Own copies of the strings; unset numbers (-1) get the schema defaults. */
static void
conf_copy(struct llm_conf *c, const struct llm_conf *from,
    const struct llm_api *api)
{
	size_t n;

	*c = *from;
	c->provider = xstrdup(api->name);
	c->base_url = xstrdup(from->base_url != NULL ? from->base_url :
	    api->default_url);
	c->model = dup_or_null(from->model);
	c->key_env = dup_or_null(from->key_env);
	c->key_file = dup_or_null(from->key_file);
	c->key_credential = dup_or_null(from->key_credential);
	c->fallback = dup_or_null(from->fallback);
	DEFAULT(timeout, 300000);
	DEFAULT(connect_timeout, 10000);
	/* Unset: the default, but never more than a quarter of a window
	 * that was configured (a small local model's). */
	if (c->max_tokens < 0)
		c->max_tokens = from->context_tokens > 0 &&
		    from->context_tokens / 4 < MAX_TOKENS_DEFAULT ?
		    from->context_tokens / 4 : MAX_TOKENS_DEFAULT;
	DEFAULT(max_tokens_field, LLM_MAX_FIELD_AUTO);
	DEFAULT(max_attempts, 6);
	DEFAULT(retry_deadline, 300000);
	DEFAULT(max_retry_wait, 60000);
	DEFAULT(stream, 1);
	DEFAULT(store, 1);
	if (c->context_tokens <= 0)
		c->context_tokens = api == &llm_api_anthropic ?
		    CONTEXT_ANTHROPIC : CONTEXT_DEFAULT;
	/* "…/v1/" and "…/v1" are the same base. */
	n = strlen(c->base_url);
	while (n > 0 && c->base_url[n - 1] == '/')
		c->base_url[--n] = '\0';
}

#undef DEFAULT

/*
 * What conf makes of a session: its API, conf (own copies, defaults) and
 * key, into *api, *c, *key and *source.  -1 with err, nothing to free.
 */
static int
session_conf(const struct llm_conf *conf, const struct llm_api **api,
    struct llm_conf *c, char **key, char **source, char *err, size_t errlen)
{
	if ((*api = llm_api_find(conf->provider)) == NULL) {
		snprintf(err, errlen, "unknown provider '%s'", conf->provider);
		return -1;
	}
	if (conf->model == NULL || *conf->model == '\0') {
		snprintf(err, errlen, "no model configured for %s",
		    (*api)->name);
		return -1;
	}
	conf_copy(c, conf, *api);
	if (llm_key_load(c, *api, key, source, err, errlen) != 0) {
		llm_conf_free_strings(c);
		llm_key_free(*key);
		free(*source);
		*key = *source = NULL;
		return -1;
	}
	return 0;
}

struct llm_session *
llm_session_new(struct llm_engine *e, const struct llm_conf *conf,
    const char *system, char *err, size_t errlen)
{
	const struct llm_api *api;
	struct llm_session *s;
	struct llm_conf c;
	char *key = NULL, *source = NULL;

	if (session_conf(conf, &api, &c, &key, &source, err, errlen) != 0)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->engine = e;
	s->api = api;
	s->conf = c;
	s->key = key;
	s->key_source = source;
	s->system = dup_or_null(system);
	s->redact = llm_engine_redact(e);
	redact_add(s->redact, s->key);
	return s;
}

int
llm_session_set_provider(struct llm_session *s, const struct llm_conf *conf,
    char *err, size_t errlen)
{
	const struct llm_api *api;
	struct llm_conf c;
	char *key = NULL, *source = NULL;

	if (s->busy != NULL) {
		snprintf(err, errlen, "a turn is being sent");
		return -1;
	}
	if (session_conf(conf, &api, &c, &key, &source, err, errlen) != 0)
		return -1;
	log_notice("llm: session moves from %s %s to %s %s: its history is "
	    "resent", s->api->name, s->conf.model, api->name, c.model);
	llm_conf_free_strings(&s->conf);
	llm_key_free(s->key);
	free(s->key_source);
	s->api = api;
	s->conf = c;
	s->key = key;
	s->key_source = source;
	redact_add(s->redact, s->key);
	/* The old server's handles mean nothing to the new one. */
	free(s->response_id);
	s->response_id = NULL;
	free(s->conversation);
	s->conversation = NULL;
	return 0;
}

void
llm_session_set_max_attempts(struct llm_session *s, unsigned n)
{
	s->max_attempts = n;
}

void
llm_session_free(struct llm_session *s)
{
	if (s == NULL)
		return;
	if (s->busy != NULL)
		llm_request_detach(s->busy);
	for (size_t i = 0; i < s->nturns; i++)
		llm_turn_free(&s->turns[i]);
	free(s->turns);
	json_decref(s->tools);
	free(s->cache_key);
	llm_conf_free_strings(&s->conf);
	free(s->system);
	llm_key_free(s->key);
	free(s->key_source);
	free(s->response_id);
	free(s->conversation);
	free(s->autosave);
	free(s);
}

const struct llm_usage *
llm_session_usage(const struct llm_session *s)
{
	return &s->usage;
}

size_t
llm_session_turns(const struct llm_session *s)
{
	return s->nturns;
}

const char *
llm_session_response_id(const struct llm_session *s)
{
	return s->response_id;
}

int
llm_session_set_conversation(struct llm_session *s, const char *id)
{
	free(s->conversation);
	s->conversation = dup_or_null(id);
	return 0;
}

int
llm_session_autosave(struct llm_session *s, const char *path)
{
	free(s->autosave);
	s->autosave = dup_or_null(path);
	return 0;
}

void
llm_session_set_tools(struct llm_session *s, const json_t *tools)
{
	json_decref(s->tools);
	s->tools = tools != NULL && json_array_size(tools) > 0 ?
	    json_deep_copy(tools) : NULL;
}

bool
llm_session_has_tools(const struct llm_session *s)
{
	return s->tools != NULL;
}

void
llm_session_set_cache_key(struct llm_session *s, const char *key)
{
	free(s->cache_key);
	s->cache_key = dup_or_null(key);
}

void
llm_session_set_system(struct llm_session *s, const char *system)
{
	free(s->system);
	s->system = dup_or_null(system);
}

bool
llm_session_chained(const struct llm_session *s)
{
	return s->api->server_history && s->conf.store &&
	    (s->conversation != NULL || s->response_id != NULL);
}

const char *
llm_session_model(const struct llm_session *s)
{
	return s->conf.model;
}

size_t
llm_session_window(const struct llm_session *s, const struct llm_turn *next)
{
	int64_t budget = (int64_t)llm_session_budget(s) -
	    (int64_t)llm_tokens_estimate(s->system) -
	    (int64_t)llm_tools_tokens(s) - (int64_t)llm_turn_tokens(next);
	size_t first = s->nturns;

	if (budget < 0)
		return (size_t)-1;
	/* The server holds the transcript and sends it on: nothing to cut. */
	if (llm_session_chained(s))
		return s->nturns;
	while (first > 0) {
		int64_t cost = (int64_t)llm_turn_tokens(&s->turns[first - 1]);

		if (cost > budget)
			break;
		budget -= cost;
		first--;
	}
	/* Results cannot open a window: their calls would be missing. */
	while (first < s->nturns && llm_turn_has_results(&s->turns[first]))
		first++;
	/* Nor can the new input, when it carries results. */
	if (first == s->nturns && s->nturns > 0 &&
	    llm_turn_has_results(next))
		return (size_t)-1;
	return first;
}

const char *
llm_session_url(const struct llm_session *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", s->conf.base_url, s->api->path);
	return buf;
}

char *
llm_session_body_turn(const struct llm_session *s,
    const struct llm_turn *next, char *err, size_t errlen)
{
	size_t first = llm_session_window(s, next);
	json_t *built, *body;
	char *text;

	if (first == (size_t)-1) {
		snprintf(err, errlen, "the system prompt, the tools and this "
		    "message (about %zu tokens) do not fit in context_tokens "
		    "%lld with max_tokens %lld",
		    llm_tokens_estimate(s->system) + llm_tools_tokens(s) +
		    llm_turn_tokens(next),
		    (long long)s->conf.context_tokens,
		    (long long)s->conf.max_tokens);
		return NULL;
	}
	if (first > 0 && !llm_session_chained(s))
		log_notice("llm: %s: %zu of %zu turns left out to fit "
		    "context_tokens %lld", s->api->name, first, s->nturns,
		    (long long)s->conf.context_tokens);
	/* Whatever the turns hold (a tool's result, a check's output, a
	 * diff), the provider is not shown our keys.  A copy: the body may
	 * share values with the session. */
	built = s->api->build(s, next, first);
	body = redact_json_copy(s->redact, built);
	json_decref(built);
	text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	return text;
}

char *
llm_session_body(const struct llm_session *s, const char *user, char *err,
    size_t errlen)
{
	struct llm_input in = { .text = user };
	struct llm_turn next;
	char *body;

	llm_turn_input(&next, &in);
	body = llm_session_body_turn(s, &next, err, errlen);
	llm_turn_free(&next);
	return body;
}

/* The calls of an answer, owned by the turn. */
static void
take_calls(struct llm_turn *t, const struct llm_parse *p)
{
	struct llm_tool_call *view = llm_parse_calls(p);

	if (view == NULL)
		return;
	t->calls = llm_tool_calls_copy(view, p->ncalls);
	for (size_t i = 0; i < p->ncalls; i++)
		utf8_scrub(t->calls[i].arguments,
		    strlen(t->calls[i].arguments));
	t->ncalls = p->ncalls;
	free(view);
}

int
llm_session_commit(struct llm_session *s, struct llm_turn *in,
    const struct llm_parse *p)
{
	struct llm_turn *nt, *t;
	char err[256];

	nt = xreallocarray(s->turns, s->nturns + 1, sizeof(*nt));
	s->turns = nt;
	t = &nt[s->nturns];
	*t = *in;
	memset(in, 0, sizeof(*in));
	t->assistant = xstrdup(p->text.p != NULL ? p->text.p : "");
	utf8_scrub(t->assistant, strlen(t->assistant));
	take_calls(t, p);
	t->response_id = dup_or_null(p->id);
	t->usage = p->usage;
	t->time = time(NULL);
	s->nturns++;
	llm_usage_add(&s->usage, &p->usage);
	/* Only a stored response can be continued from. */
	if (s->api->server_history && s->conf.store && p->id != NULL) {
		free(s->response_id);
		s->response_id = xstrdup(p->id);
	}
	if (s->autosave != NULL &&
	    llm_session_save(s, s->autosave, err, sizeof(err)) != 0) {
		log_err("llm: saving the session: %s", err);
		return -1;
	}
	return 0;
}

json_t *
llm_message(const char *role, const char *text)
{
	return json_pack("{s:s, s:s}", "role", role, "content", text);
}

json_t *
llm_tool_fields(const json_t *tool, const char *schema_key)
{
	json_t *o = json_object(), *v;

	if ((v = json_object_get(tool, "name")) != NULL)
		json_object_set(o, "name", v);
	if ((v = json_object_get(tool, "description")) != NULL)
		json_object_set(o, "description", v);
	if ((v = json_object_get(tool, "parameters")) != NULL)
		json_object_set(o, schema_key, v);
	return o;
}
