/*
 * file.c — the session file: JSON, indented so people can read it,
 * written to a temporary file, synced and renamed over the old one.
 *
 * Version 2 keeps each turn's tool results ("results") and calls
 * ("calls") and marks a compaction's turn ("summary"); version 1 files
 * (text turns only) still load.  Turns are valid UTF-8 (turn.c scrubs
 * them), so none should fail to write; should one, it is left out, and
 * so is every turn after it whose results answered its calls, so that
 * the file never holds half of a call/result pair.
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
#include "common/redact.h"

#define SESSION_VERSION		2

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

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
results_json(const struct llm_turn *t)
{
	json_t *a = json_array(), *r;

	for (size_t i = 0; i < t->nresults; i++) {
		r = json_pack("{s:s, s:s, s:s, s:b}", "id", t->results[i].id,
		    "name", t->results[i].name, "content",
		    t->results[i].content, "error", t->results[i].error);
		if (r == NULL || json_array_append_new(a, r) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *
calls_json(const struct llm_turn *t)
{
	json_t *a = json_array(), *c;

	for (size_t i = 0; i < t->ncalls; i++) {
		c = json_pack("{s:s, s:s, s:s}", "id", t->calls[i].id, "name",
		    t->calls[i].name, "arguments", t->calls[i].arguments);
		if (c == NULL || json_array_append_new(a, c) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* The turn as JSON, or NULL when a string of it is not UTF-8. */
static json_t *
turn_json(const struct llm_turn *t)
{
	json_t *o = json_pack("{s:I}", "time", (json_int_t)t->time);
	int bad = 0;

	if (t->user != NULL)
		bad |= json_object_set_new(o, "user", json_string(t->user));
	if (t->nresults > 0)
		bad |= json_object_set_new(o, "results", results_json(t));
	bad |= json_object_set_new(o, "assistant",
	    json_string(t->assistant));
	if (t->ncalls > 0)
		bad |= json_object_set_new(o, "calls", calls_json(t));
	if (t->summary)
		json_object_set_new(o, "summary", json_true());
	set_opt(o, "response_id", t->response_id);
	json_object_set_new(o, "usage", usage_json(&t->usage));
	if (bad != 0 || (t->response_id != NULL &&
	    json_object_get(o, "response_id") == NULL)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
session_json(const struct llm_session *s)
{
	json_t *root = json_object(), *turns = json_array(), *t;
	bool lost = false;

	json_object_set_new(root, "version", json_integer(SESSION_VERSION));
	json_object_set_new(root, "api", json_string(s->api->name));
	set_opt(root, "model", s->conf.model);
	/* Whose handles response_id and conversation are. */
	set_opt(root, "base_url", s->conf.base_url);
	set_opt(root, "system", s->system);
	set_opt(root, "response_id", s->response_id);
	set_opt(root, "conversation", s->conversation);
	json_object_set_new(root, "usage", usage_json(&s->usage));
	for (size_t i = 0; i < s->nturns; i++) {
		/* Results whose calls were left out go with them. */
		if (lost && llm_turn_has_results(&s->turns[i]))
			continue;
		lost = (t = turn_json(&s->turns[i])) == NULL;
		if (lost) {
			log_warn("llm: turn %zu is not UTF-8: left out of the "
			    "session file", i + 1);
			continue;
		}
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
	json_t *built, *root;
	char *text = NULL;
	int fd = -1, rc = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >=
	    (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	built = session_json(s);
	root = redact_json_copy(s->redact, built);
	json_decref(built);
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
results_read(json_t *a, struct llm_turn *t)
{
	size_t i, n = json_array_size(a);
	json_t *o;

	if (a != NULL && !json_is_array(a))
		return -1;
	if (n == 0)
		return 0;
	t->results = xcalloc(n, sizeof(*t->results));
	json_array_foreach(a, i, o) {
		const char *id = jget_str(o, "id"), *name = jget_str(o, "name");
		const char *content = jget_str(o, "content");

		if (id == NULL || content == NULL)
			return -1;
		t->results[i].id = xstrdup(id);
		t->results[i].name = xstrdup(name != NULL ? name : "");
		t->results[i].content = xstrdup(content);
		t->results[i].error = jget_bool(o, "error");
		t->nresults++;
	}
	return 0;
}

static int
calls_read(json_t *a, struct llm_turn *t)
{
	size_t i, n = json_array_size(a);
	json_t *o;

	if (a != NULL && !json_is_array(a))
		return -1;
	if (n == 0)
		return 0;
	t->calls = xcalloc(n, sizeof(*t->calls));
	json_array_foreach(a, i, o) {
		const char *id = jget_str(o, "id"), *name = jget_str(o, "name");
		const char *args = jget_str(o, "arguments");

		if (id == NULL || name == NULL || args == NULL)
			return -1;
		t->calls[i].id = xstrdup(id);
		t->calls[i].name = xstrdup(name);
		t->calls[i].arguments = xstrdup(args);
		t->ncalls++;
	}
	return 0;
}

/* A turn of a version 1 (user, assistant) or 2 file; -1 if malformed. */
static int
turn_read(json_t *o, struct llm_turn *t, json_int_t version)
{
	const char *user = jget_str(o, "user");
	const char *answer = jget_str(o, "assistant");

	memset(t, 0, sizeof(*t));
	if (answer == NULL || (user == NULL && version < 2))
		return -1;
	t->user = dup_or_null(user);
	t->assistant = xstrdup(answer);
	t->response_id = dup_or_null(jget_str(o, "response_id"));
	t->time = (time_t)llm_json_int(o, "time");
	t->summary = jget_bool(o, "summary");
	usage_read(json_object_get(o, "usage"), &t->usage);
	if (results_read(json_object_get(o, "results"), t) != 0 ||
	    calls_read(json_object_get(o, "calls"), t) != 0 ||
	    (t->user == NULL && t->nresults == 0))
		return -1;
	return 0;
}

static int
load_turns(struct llm_session *s, json_t *turns, json_int_t version,
    char *err, size_t errlen)
{
	size_t i, n = json_array_size(turns);
	json_t *o;

	if (n == 0)
		return 0;
	s->turns = xcalloc(n, sizeof(*s->turns));
	json_array_foreach(turns, i, o) {
		if (turn_read(o, &s->turns[s->nturns], version) != 0) {
			llm_turn_free(&s->turns[s->nturns]);
			snprintf(err, errlen, "turn %zu is malformed", i + 1);
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
	const char *api, *base_url;
	json_int_t version;
	int rc = -1;

	if (s->nturns > 0 || s->busy != NULL) {
		snprintf(err, errlen, "load into a new session only");
		return -1;
	}
	if ((root = json_load_file(path, 0, &jerr)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, jerr.text);
		return -1;
	}
	version = llm_json_int(root, "version");
	if (version < 1 || version > SESSION_VERSION ||
	    (api = jget_str(root, "api")) == NULL) {
		snprintf(err, errlen, "%s: not a session file of version 1 to "
		    "%d", path, SESSION_VERSION);
		goto cleanup;
	}
	if (load_turns(s, json_object_get(root, "turns"), version, err,
	    errlen) != 0)
		goto cleanup;
	base_url = jget_str(root, "base_url");
	if (s->system == NULL)
		s->system = dup_or_null(jget_str(root, "system"));
	/* Another API's or server's ids mean nothing here (a session moved
	 * to another provider); the transcript carries on.  Files of old
	 * name no base_url. */
	if (strcmp(api, s->api->name) == 0 && (base_url == NULL ||
	    strcmp(base_url, s->conf.base_url) == 0)) {
		s->response_id = dup_or_null(jget_str(root,
		    "response_id"));
		s->conversation = dup_or_null(jget_str(root,
		    "conversation"));
	} else if (jget_str(root, "response_id") != NULL ||
	    jget_str(root, "conversation") != NULL) {
		log_notice("llm: %s: session was %s at %s: its history is "
		    "resent", path, api, base_url != NULL ? base_url : "?");
	}
	usage_read(json_object_get(root, "usage"), &s->usage);
	rc = 0;
cleanup:
	json_decref(root);
	return rc;
}

