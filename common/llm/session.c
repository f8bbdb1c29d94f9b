/*
 * session.c — one conversation: its conf and key, the transcript and
 * the window of it that is sent, usage totals, and the session file.
 *
 * The transcript holds every completed turn (user text, answer, response
 * id, usage); a failed turn leaves no trace.  What is sent is trimmed
 * before sending, never after an overflow: the system prompt, the new
 * user text and the newest whole turns that fit in context_tokens minus
 * max_tokens.  The file is JSON, indented so people can read it, written
 * to a temporary file, synced and renamed over the old one.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/llm/impl.h"
#include "common/log.h"

#define SESSION_VERSION		1
#define TOKENS_PER_MESSAGE	8	/* role and framing */
#define CONTEXT_DEFAULT		128000	/* when the API has no other */
#define CONTEXT_ANTHROPIC	200000

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
	DEFAULT(timeout, 300000);
	DEFAULT(connect_timeout, 10000);
	DEFAULT(max_tokens, 4096);
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

struct llm_session *
llm_session_new(struct llm_engine *e, const struct llm_conf *conf,
    const char *system, char *err, size_t errlen)
{
	const struct llm_api *api = llm_api_find(conf->provider);
	struct llm_session *s;

	if (api == NULL) {
		snprintf(err, errlen, "unknown provider '%s'", conf->provider);
		return NULL;
	}
	if (conf->model == NULL || *conf->model == '\0') {
		snprintf(err, errlen, "no model configured for %s", api->name);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->engine = e;
	s->api = api;
	conf_copy(&s->conf, conf, api);
	s->system = dup_or_null(system);
	if (llm_key_load(&s->conf, api, &s->key, &s->key_source, err,
	    errlen) != 0) {
		llm_session_free(s);
		return NULL;
	}
	return s;
}

static void
turn_free(struct llm_turn *t)
{
	free(t->user);
	free(t->assistant);
	free(t->response_id);
}

void
llm_session_free(struct llm_session *s)
{
	if (s == NULL)
		return;
	if (s->busy != NULL)
		llm_request_detach(s->busy);
	for (size_t i = 0; i < s->nturns; i++)
		turn_free(&s->turns[i]);
	free(s->turns);
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

size_t
llm_session_window(const struct llm_session *s, const char *user)
{
	int64_t budget = s->conf.context_tokens - s->conf.max_tokens -
	    (int64_t)llm_tokens_estimate(s->system) -
	    (int64_t)llm_tokens_estimate(user);
	size_t first = s->nturns;

	if (budget < 0)
		return (size_t)-1;
	while (first > 0) {
		const struct llm_turn *t = &s->turns[first - 1];
		int64_t cost = (int64_t)(llm_tokens_estimate(t->user) +
		    llm_tokens_estimate(t->assistant));

		if (cost > budget)
			break;
		budget -= cost;
		first--;
	}
	return first;
}

const char *
llm_session_url(const struct llm_session *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", s->conf.base_url, s->api->path);
	return buf;
}

char *
llm_session_body(const struct llm_session *s, const char *user, char *err,
    size_t errlen)
{
	size_t first = llm_session_window(s, user);
	json_t *body;
	char *text;

	if (first == (size_t)-1) {
		snprintf(err, errlen, "the system prompt and this message "
		    "(about %zu tokens) do not fit in context_tokens %lld "
		    "with max_tokens %lld", llm_tokens_estimate(s->system) +
		    llm_tokens_estimate(user),
		    (long long)s->conf.context_tokens,
		    (long long)s->conf.max_tokens);
		return NULL;
	}
	if (first > 0)
		log_info("llm: %s: %zu of %zu turns left out to fit "
		    "context_tokens %lld", s->api->name, first, s->nturns,
		    (long long)s->conf.context_tokens);
	body = s->api->build(s, user, first);
	text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	return text;
}

/* ------------------------------------------------------------- file */

static json_t *
usage_json(const struct llm_usage *u)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:i}", "input",
	    (json_int_t)u->input, "output", (json_int_t)u->output, "cached",
	    (json_int_t)u->cached, "reasoning", (json_int_t)u->reasoning,
	    "calls", (int)u->calls);

	if (u->priced)
		json_object_set_new(o, "cost", json_real(u->cost));
	return o;
}

static void
usage_read(json_t *o, struct llm_usage *u)
{
	json_t *cost = json_object_get(o, "cost");

	u->input = llm_json_int(o, "input");
	u->output = llm_json_int(o, "output");
	u->cached = llm_json_int(o, "cached");
	u->reasoning = llm_json_int(o, "reasoning");
	u->calls = (unsigned)llm_json_int(o, "calls");
	u->priced = json_is_number(cost);
	u->cost = u->priced ? json_number_value(cost) : 0;
}

static void
set_opt(json_t *o, const char *key, const char *value)
{
	if (value != NULL)
		json_object_set_new(o, key, json_string(value));
}

static json_t *
session_json(const struct llm_session *s)
{
	json_t *root = json_object(), *turns = json_array(), *t;

	json_object_set_new(root, "version", json_integer(SESSION_VERSION));
	json_object_set_new(root, "api", json_string(s->api->name));
	set_opt(root, "model", s->conf.model);
	set_opt(root, "system", s->system);
	set_opt(root, "response_id", s->response_id);
	set_opt(root, "conversation", s->conversation);
	json_object_set_new(root, "usage", usage_json(&s->usage));
	for (size_t i = 0; i < s->nturns; i++) {
		t = json_pack("{s:I, s:s, s:s}", "time",
		    (json_int_t)s->turns[i].time, "user", s->turns[i].user,
		    "assistant", s->turns[i].assistant);
		if (t == NULL)		/* not UTF-8: left out */
			continue;
		set_opt(t, "response_id", s->turns[i].response_id);
		json_object_set_new(t, "usage", usage_json(&s->turns[i].usage));
		json_array_append_new(turns, t);
	}
	json_object_set_new(root, "turns", turns);
	return root;
}

/* fsync the directory holding path, so the rename itself is durable. */
static int
sync_dir(const char *path)
{
	char *copy = xstrdup(path);
	int fd, rc = -1;

	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC))
	    != -1) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

int
llm_session_save(const struct llm_session *s, const char *path, char *err,
    size_t errlen)
{
	char tmp[4096];
	json_t *root;
	char *text = NULL;
	int fd = -1, rc = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >=
	    (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	root = session_json(s);
	text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	/* mkstemp makes it 0600: transcripts are the user's business. */
	if ((fd = mkstemp(tmp)) == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto cleanup;
	}
	if (write_all(fd, text, strlen(text)) != 0 ||
	    write_all(fd, "\n", 1) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto cleanup;
	}
	if (close(fd) != 0 || (fd = -1, rename(tmp, path) != 0)) {
		fd = -1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	tmp[0] = '\0';
	(void)sync_dir(path);
	rc = 0;
cleanup:
	if (fd != -1)
		close(fd);
	if (rc != 0 && tmp[0] != '\0')
		(void)unlink(tmp);
	free(text);
	json_decref(root);
	return rc;
}

static int
turn_read(json_t *o, struct llm_turn *t)
{
	const char *user = jget_str(o, "user");
	const char *answer = jget_str(o, "assistant");

	memset(t, 0, sizeof(*t));
	if (user == NULL || answer == NULL)
		return -1;
	t->user = xstrdup(user);
	t->assistant = xstrdup(answer);
	t->response_id = dup_or_null(jget_str(o, "response_id"));
	t->time = (time_t)llm_json_int(o, "time");
	usage_read(json_object_get(o, "usage"), &t->usage);
	return 0;
}

static int
load_turns(struct llm_session *s, json_t *turns, char *err, size_t errlen)
{
	size_t i, n = json_array_size(turns);
	json_t *o;

	if (n == 0)
		return 0;
	s->turns = xcalloc(n, sizeof(*s->turns));
	json_array_foreach(turns, i, o) {
		if (turn_read(o, &s->turns[s->nturns]) != 0) {
			snprintf(err, errlen, "turn %zu is not a user/assistant "
			    "pair", i + 1);
			return -1;
		}
		s->nturns++;
	}
	return 0;
}

int
llm_session_load(struct llm_session *s, const char *path, char *err,
    size_t errlen)
{
	json_error_t jerr;
	json_t *root;
	const char *api;
	int rc = -1;

	if (s->nturns > 0 || s->busy != NULL) {
		snprintf(err, errlen, "load into a new session only");
		return -1;
	}
	if ((root = json_load_file(path, 0, &jerr)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, jerr.text);
		return -1;
	}
	if (llm_json_int(root, "version") != SESSION_VERSION ||
	    (api = jget_str(root, "api")) == NULL) {
		snprintf(err, errlen, "%s: not a session file of version %d",
		    path, SESSION_VERSION);
		goto cleanup;
	}
	if (load_turns(s, json_object_get(root, "turns"), err, errlen) != 0)
		goto cleanup;
	if (s->system == NULL)
		s->system = dup_or_null(jget_str(root, "system"));
	/* Another API's ids mean nothing here; the transcript carries on. */
	if (strcmp(api, s->api->name) == 0) {
		s->response_id = dup_or_null(jget_str(root,
		    "response_id"));
		s->conversation = dup_or_null(jget_str(root,
		    "conversation"));
	} else {
		log_notice("llm: %s: session was %s: its history is resent",
		    path, api);
	}
	usage_read(json_object_get(root, "usage"), &s->usage);
	rc = 0;
cleanup:
	json_decref(root);
	return rc;
}

int
llm_session_commit(struct llm_session *s, const char *user,
    const struct llm_parse *p)
{
	struct llm_turn *nt, *t;
	char err[256];

	nt = xreallocarray(s->turns, s->nturns + 1, sizeof(*nt));
	s->turns = nt;
	t = &nt[s->nturns];
	memset(t, 0, sizeof(*t));
	t->user = xstrdup(user);
	t->assistant = xstrdup(p->text.p != NULL ? p->text.p : "");
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

void
llm_history_messages(const struct llm_session *s, size_t first,
    const char *user, json_t *msgs)
{
	for (size_t i = first; i < s->nturns; i++) {
		json_array_append_new(msgs, llm_message("user",
		    s->turns[i].user));
		json_array_append_new(msgs, llm_message("assistant",
		    s->turns[i].assistant));
	}
	json_array_append_new(msgs, llm_message("user", user));
}
