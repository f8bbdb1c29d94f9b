/*
 * failover.c — a session's provider chain and its requests (failover.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child/worker/failover.h"
#include "child/worker/worker.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/msg.h"

#define FAILOVER_REASON_MAX	512

void
failover_init(struct failover *fo, struct worker *cx, const char *role)
{
	memset(fo, 0, sizeof(*fo));
	fo->cx = cx;
	conf_llm_chain(cx->conf, role, cx->domain, &fo->chain);
}

static void
input_free(struct llm_input *in)
{
	struct llm_tool_result *res = (struct llm_tool_result *)in->results;

	for (size_t i = 0; i < in->nresults; i++) {
		free((char *)res[i].id);
		free((char *)res[i].name);
		free((char *)res[i].content);
	}
	free(res);
	free((char *)in->text);
	memset(in, 0, sizeof(*in));
}

static void
input_copy(struct llm_input *to, const struct llm_input *from)
{
	struct llm_tool_result *res = NULL;

	to->text = from->text != NULL ? xstrdup(from->text) : NULL;
	if (from->nresults > 0)
		res = xcalloc(from->nresults, sizeof(*res));
	for (size_t i = 0; i < from->nresults; i++) {
		const struct llm_tool_result *r = &from->results[i];

		res[i].id = r->id != NULL ? xstrdup(r->id) : NULL;
		res[i].name = r->name != NULL ? xstrdup(r->name) : NULL;
		res[i].content = r->content != NULL ? xstrdup(r->content) :
		    NULL;
		res[i].error = r->error;
	}
	to->results = res;
	to->nresults = from->nresults;
}

void
failover_free(struct failover *fo)
{
	input_free(&fo->in);
}

void
failover_grant_probe(struct worker *cx, const char *endpoint)
{
	snprintf(cx->probe, sizeof(cx->probe), "%s", endpoint != NULL ?
	    endpoint : "");
}

/* ---------------------------------------------------------- choosing */

/* Does masterd hold endpoint down (the last providers message)? */
static bool
held_down(const struct worker *cx, const char *endpoint)
{
	const json_t *p;
	size_t i;

	json_array_foreach(cx->providers_down, i, p) {
		const char *e = jget_str(p, "endpoint");

		if (e != NULL && strcmp(e, endpoint) == 0)
			return true;
	}
	return false;
}

/* The first provider up that has not failed this request, or -1. */
static int
next_up(const struct failover *fo)
{
	for (size_t i = 0; i < fo->chain.n; i++) {
		if (!(fo->tried & (1u << i)) &&
		    !held_down(fo->cx, fo->chain.endpoint[i]))
			return (int)i;
	}
	return -1;
}

/*
 * Where a request goes first: to the provider masterd granted the probe
 * of, once; else to the first provider up; else, all being down (masterd
 * said so after the work went out), to the primary once, as a probe
 * would.
 */
static size_t
first_pick(struct failover *fo, bool *single)
{
	struct worker *cx = fo->cx;
	int i;

	*single = false;
	for (size_t k = 0; cx->probe[0] != '\0' && k < fo->chain.n; k++) {
		if (strcmp(cx->probe, fo->chain.endpoint[k]) != 0)
			continue;
		cx->probe[0] = '\0';
		fo->granted = true;
		*single = true;
		return k;
	}
	if ((i = next_up(fo)) >= 0)
		return (size_t)i;
	*single = true;
	return 0;
}

/* The session goes over to provider i (the transcript goes with it). */
static int
switch_to(struct failover *fo, size_t i)
{
	char err[256];

	if (i == fo->current)
		return 0;
	if (llm_session_set_provider(fo->s, &fo->chain.conf[i], err,
	    sizeof(err)) != 0) {
		log_err("provider %s (%s): cannot switch to it: %s",
		    fo->chain.name[i], fo->chain.endpoint[i], err);
		return -1;
	}
	log_notice("provider %s (%s, model %s) from now on, instead of %s",
	    fo->chain.name[i], fo->chain.endpoint[i], fo->chain.conf[i].model ?
	    fo->chain.conf[i].model : "?", fo->chain.name[fo->current]);
	fo->current = i;
	return 0;
}

/* ---------------------------------------------------------- reporting */

static void
report(struct failover *fo, bool ok, const struct llm_result *res)
{
	size_t i = fo->current;
	json_t *m = msg_new(MSG_PROVIDER_REPORT, worker_next_id(fo->cx));

	json_object_set_new(m, "endpoint", json_string(fo->chain.endpoint[i]));
	json_object_set_new(m, "name", json_string(fo->chain.name[i]));
	json_object_set_new(m, "ok", json_boolean(ok));
	if (fo->granted)
		json_object_set_new(m, "probe", json_true());
	if (!ok && res->message != NULL)
		json_object_set_new(m, "message", json_string(res->message));
	if (!ok && res->retry_until > 0)
		json_object_set_new(m, "until",
		    json_integer((json_int_t)res->retry_until));
	if (res->model != NULL && *res->model != '\0')
		json_object_set_new(m, "model", json_string(res->model));
	worker_send(fo->cx, m);
}

/* ---------------------------------------------------------- requests */

static int try_on(struct failover *, size_t i, bool single);

static void
on_delta(const char *piece, size_t len, void *arg)
{
	struct failover *fo = arg;

	if (fo->cbs->on_delta != NULL)
		fo->cbs->on_delta(piece, len, fo->arg);
}

static void
on_retry(const struct llm_retry *rt, void *arg)
{
	struct failover *fo = arg;

	if (fo->cbs->on_retry != NULL)
		fo->cbs->on_retry(rt, fo->arg);
}

/* The answer starts again, from another provider: the caller hears it
 * as a retry (its streamed text so far is void). */
static void
say_failover(struct failover *fo, size_t next, const struct llm_result *res)
{
	char why[FAILOVER_REASON_MAX];
	struct llm_retry rt = {
		.attempt = 1,
		.max_attempts = fo->chain.conf[next].max_attempts > 0 ?
		    (unsigned)fo->chain.conf[next].max_attempts : 1,
		.reason = why,
	};

	if (fo->cbs->on_retry == NULL)
		return;
	snprintf(why, sizeof(why), "provider %s failed (%s): %s takes over",
	    fo->chain.name[fo->current], res->message, fo->chain.name[next]);
	fo->cbs->on_retry(&rt, fo->arg);
}

/* The caller's on_done, with the failed tries' tokens. */
static void
deliver(struct failover *fo, const struct llm_result *res)
{
	struct llm_result out = *res;
	const struct llm_callbacks *cbs = fo->cbs;
	void *arg = fo->arg;

	llm_usage_add(&out.usage, &fo->spent);
	*fo->slot = NULL;
	input_free(&fo->in);
	fo->s = NULL;
	cbs->on_done(&out, arg);
}

static void
on_done(const struct llm_result *res, void *arg)
{
	struct failover *fo = arg;
	size_t i = fo->current;
	int next;

	*fo->slot = NULL;
	if (res->ok) {
		snprintf(fo->answered, sizeof(fo->answered), "%s",
		    fo->chain.name[i]);
		if (fo->granted || held_down(fo->cx, fo->chain.endpoint[i]))
			report(fo, true, res);
		deliver(fo, res);
		return;
	}
	if (res->error == LLM_ERR_CANCELLED || !llm_result_outage(res)) {
		deliver(fo, res);
		return;
	}
	report(fo, false, res);
	fo->granted = false;
	fo->tried |= 1u << i;
	if ((next = next_up(fo)) < 0) {
		deliver(fo, res);
		return;
	}
	log_warn("provider %s (%s) failed: %s; %s is next", fo->chain.name[i],
	    fo->chain.endpoint[i], res->message, fo->chain.name[next]);
	llm_usage_add(&fo->spent, &res->usage);
	say_failover(fo, (size_t)next, res);
	if (try_on(fo, (size_t)next, false) != 0)
		deliver(fo, res);
}

static const struct llm_callbacks failover_cbs = {
	.on_delta = on_delta,
	.on_retry = on_retry,
	.on_done = on_done,
};

/* Send the request to provider i (once only, single): 0, or -1. */
static int
try_on(struct failover *fo, size_t i, bool single)
{
	if (switch_to(fo, i) != 0)
		return -1;
	llm_session_set_max_attempts(fo->s, single ? 1 : 0);
	*fo->slot = llm_session_send_input(fo->s, &fo->in, &failover_cbs, fo);
	return *fo->slot != NULL ? 0 : -1;
}

struct llm_request *
failover_send(struct failover *fo, struct llm_session *s,
    const struct llm_input *in, const struct llm_callbacks *cbs, void *arg,
    struct llm_request **slot)
{
	bool single;
	size_t first;

	if (fo->s != NULL || fo->chain.n == 0)
		return NULL;
	fo->s = s;
	fo->cbs = cbs;
	fo->arg = arg;
	fo->slot = slot;
	fo->tried = 0;
	fo->granted = false;
	fo->answered[0] = '\0';
	memset(&fo->spent, 0, sizeof(fo->spent));
	input_copy(&fo->in, in);
	first = first_pick(fo, &single);
	if (try_on(fo, first, single) != 0) {
		input_free(&fo->in);
		fo->s = NULL;
		*slot = NULL;
		return NULL;
	}
	return *slot;
}
