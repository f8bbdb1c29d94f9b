/*
 * provider.c — the circuit breakers of provider endpoints (provider.h).
 *
 * A breaker exists while its provider is down; an endpoint without one
 * is up.  Children name endpoints the way conf_llm_endpoint writes them,
 * from the same configuration, so the master and every worker agree on
 * what "the same provider" is without a table of ids.
 *
 * The probe is work like any other (a directive, a plan request) sent
 * with "probe": ENDPOINT: its worker makes one attempt on that endpoint
 * first, then, if it fails, goes on with a fallback or gives the work
 * back.  One probe per breaker is out at a time, so an outage costs the
 * provider one request per gap whatever the number of domains waiting.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/provider.h"
#include "daemon/masterd/registry.h"
#include "daemon/masterd/supervise.h"
#include "daemon/masterd/task.h"

/* The first gap between a provider going down and its first probe; each
 * failed probe doubles it, up to outage_probe_max. */
#define PROBE_FIRST_S	2.0

struct breaker {
	TAILQ_ENTRY(breaker) entry;
	char *endpoint;
	char *name;		/* "llm", or the [llm "NAME"] it is */
	char *reason;		/* the last failure, as the child said it */
	double since;		/* down since (epoch s) */
	double next_try;	/* the next probe may go then */
	int64_t failures;	/* probes failed since it went down */
	int64_t probe_task;	/* the probe's holder; 0: none out */
	char probe_child[40];
	bool timed_out;		/* outage_timeout reached: said once */
};
TAILQ_HEAD(breaker_list, breaker);

struct providers {
	struct breaker_list down;
};


static struct providers *
state(struct masterd *md)
{
	if (md->providers == NULL) {
		md->providers = xcalloc(1, sizeof(*md->providers));
		TAILQ_INIT(&md->providers->down);
	}
	return md->providers;
}

static struct breaker *
breaker_find(struct masterd *md, const char *endpoint)
{
	struct breaker *b;

	TAILQ_FOREACH(b, &state(md)->down, entry)
		if (strcmp(b->endpoint, endpoint) == 0)
			return b;
	return NULL;
}

static void
breaker_free(struct breaker *b)
{
	free(b->endpoint);
	free(b->name);
	free(b->reason);
	free(b);
}

/* ---------------------------------------------------------- chains */

/* The first effective conf of the configuration that talks to endpoint:
 * its outage settings are the provider's. */
static void
conf_of(const struct masterd *md, const char *endpoint, struct llm_conf *out)
{
	const struct masterd_conf *c = md->conf;
	char ep[320];

	for (size_t i = 0; i < c->nproviders; i++) {
		if (conf_llm_named(c, c->providers[i].name, out) == 0) {
			conf_llm_endpoint(out, ep, sizeof(ep));
			if (strcmp(ep, endpoint) == 0)
				return;
		}
	}
	*out = c->llm;
}

/* The chains a child's work goes through: a domain's model and its
 * critic, or the planner's.  Returns how many. */
static size_t
chains_of(const struct masterd *md, const struct child *c,
    struct llm_chain *out)
{
	switch (c->role) {
	case ROLE_DOMAIN:
		conf_llm_chain(md->conf, "domain", c->name, &out[0]);
		conf_llm_chain(md->conf, "critic", c->name, &out[1]);
		return 2;
	case ROLE_PLANNER:
		conf_llm_chain(md->conf, "planner", NULL, &out[0]);
		return 1;
	default:
		return 0;
	}
}

/* ---------------------------------------------------------- the gate */

static bool
probe_due(const struct breaker *b, double now)
{
	return b->probe_task == 0 && now >= b->next_try;
}

/* The first fallback of ch whose breaker lets a probe go now. */
static bool
due_fallback(struct masterd *md, const struct llm_chain *ch, double now,
    char *probe, size_t probelen)
{
	struct breaker *b;

	for (size_t j = 1; j < ch->n; j++) {
		if ((b = breaker_find(md, ch->endpoint[j])) != NULL &&
		    probe_due(b, now)) {
			snprintf(probe, probelen, "%s", ch->endpoint[j]);
			return true;
		}
	}
	return false;
}

enum provider_gate
provider_gate(struct masterd *md, const struct child *c, char *probe,
    size_t probelen, char *waiting, size_t waitlen)
{
	struct llm_chain chains[2];
	size_t n = chains_of(md, c, chains);
	double now = now_epoch();
	bool wait = false, probing = false;

	probe[0] = waiting[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const struct llm_chain *ch = &chains[i];
		struct breaker *primary = breaker_find(md, ch->endpoint[0]);
		bool up = primary == NULL;

		if (up)
			continue;
		/* Another chain of the work (the critic's) probes it too. */
		if (probing && strcmp(probe, ch->endpoint[0]) == 0)
			continue;
		/* The primary first: it is taken back as soon as it works. */
		if (!probing && probe_due(primary, now)) {
			snprintf(probe, probelen, "%s", ch->endpoint[0]);
			probing = true;
			continue;
		}
		for (size_t j = 1; j < ch->n && !up; j++)
			up = breaker_find(md, ch->endpoint[j]) == NULL;
		if (up)
			continue;
		/* All down: a fallback due for its probe may go instead. */
		if (!probing && due_fallback(md, ch, now, probe, probelen)) {
			probing = true;
			continue;
		}
		if (!wait) {
			wait = true;
			snprintf(waiting, waitlen, "%s", ch->endpoint[0]);
		}
	}
	if (wait)
		return GATE_WAIT;
	return probing ? GATE_PROBE : GATE_GO;
}

void
provider_probe_sent(struct masterd *md, struct child *c,
    const char *endpoint)
{
	struct breaker *b = breaker_find(md, endpoint);

	if (b == NULL)
		return;
	b->probe_task = c->task;
	snprintf(b->probe_child, sizeof(b->probe_child), "%s", c->name);
	log_info("provider %s (%s): probed by %s (task %lld)", b->name,
	    b->endpoint, c->name, (long long)c->task);
}

static bool
holds_probe(const struct breaker *b, const struct child *c)
{
	return b->probe_task == c->task &&
	    strcmp(b->probe_child, c->name) == 0;
}

/* ---------------------------------------------------------- changes */

static double
probe_gap(const struct masterd *md, const struct breaker *b)
{
	struct llm_conf l;
	double max, gap;

	conf_of(md, b->endpoint, &l);
	max = (double)(l.outage_probe_max > 0 ? l.outage_probe_max : 120000) /
	    1000.0;
	gap = PROBE_FIRST_S * ldexp(1.0, (int)(b->failures < 30 ?
	    b->failures : 30));
	return gap < max ? gap : max;
}

static void
breaker_store(struct masterd *md, const struct breaker *b)
{
	struct provider_row row = {
		.endpoint = b->endpoint, .name = b->name, .since = b->since,
		.next_try = b->next_try, .failures = b->failures,
		.reason = b->reason,
	};

	if (registry_provider_put(md->reg, &row) != 0)
		log_err("provider %s: not stored: %s", b->name,
		    registry_errmsg(md->reg));
}

static void
set_reason(struct breaker *b, const char *why)
{
	free(b->reason);
	b->reason = xstrdup(why != NULL ? why : "no reason given");
}

/* Wake the tasks when the next probe is due. */
static void
wake_for(struct masterd *md, const struct breaker *b)
{
	tasks_wake_at(md, b->next_try);
}

static void
went_down(struct masterd *md, const json_t *msg, double now)
{
	const char *endpoint = jget_str(msg, "endpoint");
	const char *name = jget_str(msg, "name");
	struct breaker *b = xcalloc(1, sizeof(*b));
	double until = (double)jget_int(msg, "until", 0);

	b->endpoint = xstrdup(endpoint);
	b->name = xstrdup(name != NULL ? name : "llm");
	set_reason(b, jget_str(msg, "message"));
	b->since = now;
	b->next_try = now + probe_gap(md, b);
	if (until > b->next_try)
		b->next_try = until;
	TAILQ_INSERT_TAIL(&state(md)->down, b, entry);
	breaker_store(md, b);
	log_warn("provider %s (%s) is down: %s; next try in %.0f s", b->name,
	    b->endpoint, b->reason, b->next_try - now);
	event_emit(md, 0, NULL, EV_PROVIDER_DOWN, json_pack("{s:s, s:s, "
	    "s:s, s:f}", "provider", b->name, "endpoint", b->endpoint,
	    "reason", b->reason, "next_try", b->next_try));
	wake_for(md, b);
	providers_send(md, NULL);
}

static void
probe_failed(struct masterd *md, struct breaker *b, const json_t *msg,
    double now)
{
	double until = (double)jget_int(msg, "until", 0);

	b->failures++;
	b->probe_task = 0;
	b->probe_child[0] = '\0';
	set_reason(b, jget_str(msg, "message"));
	b->next_try = now + probe_gap(md, b);
	if (until > b->next_try)
		b->next_try = until;
	breaker_store(md, b);
	log_warn("provider %s (%s): probe %lld failed: %s; next try in %.0f s",
	    b->name, b->endpoint, (long long)b->failures, b->reason,
	    b->next_try - now);
	event_emit(md, 0, NULL, EV_PROVIDER_PROBE, json_pack("{s:s, s:s, "
	    "s:b, s:I, s:s, s:f}", "provider", b->name, "endpoint",
	    b->endpoint, "ok", 0, "failures", (json_int_t)b->failures,
	    "reason", b->reason, "next_try", b->next_try));
	wake_for(md, b);
	providers_send(md, NULL);
}

/* The breaker goes, from the registry and from memory. */
static void
breaker_drop(struct masterd *md, struct breaker *b)
{
	if (registry_provider_del(md->reg, b->endpoint) != 0)
		log_err("provider %s: not cleared: %s", b->name,
		    registry_errmsg(md->reg));
	TAILQ_REMOVE(&state(md)->down, b, entry);
	breaker_free(b);
}

static void
came_up(struct masterd *md, struct breaker *b, double now)
{
	log_notice("provider %s (%s) answers again after %.0f s down",
	    b->name, b->endpoint, now - b->since);
	event_emit(md, 0, NULL, EV_PROVIDER_UP, json_pack("{s:s, s:s, s:f}",
	    "provider", b->name, "endpoint", b->endpoint, "down_for",
	    now - b->since));
	breaker_drop(md, b);
	providers_send(md, NULL);
	task_mark_all(md);
}

/* Is endpoint one of the configuration's (a primary of [llm], a role or
 * a domain, or an [llm "NAME"])?  A child names no other. */
static bool
endpoint_known(const struct masterd *md, const char *endpoint)
{
	static const char *const roles[] = { "critic", "planner" };
	const struct masterd_conf *c = md->conf;
	struct llm_chain ch;

	for (size_t i = 0; i < nitems(roles); i++) {
		conf_llm_chain(md->conf, roles[i], NULL, &ch);
		for (size_t j = 0; j < ch.n; j++)
			if (strcmp(ch.endpoint[j], endpoint) == 0)
				return true;
	}
	for (size_t i = 0; i <= c->ndomains; i++) {
		conf_llm_chain(md->conf, "domain", i < c->ndomains ? c->domains[i].name :
		    NULL, &ch);
		for (size_t j = 0; j < ch.n; j++)
			if (strcmp(ch.endpoint[j], endpoint) == 0)
				return true;
	}
	return false;
}

void
provider_report(struct masterd *md, struct child *c, const json_t *msg)
{
	const char *endpoint = jget_str(msg, "endpoint");
	struct breaker *b;
	double now = now_epoch();

	if (endpoint == NULL || !endpoint_known(md, endpoint)) {
		log_warn("domain %s (task %lld): a report on an endpoint the "
		    "configuration does not name; ignored", c->name,
		    (long long)c->task);
		return;
	}
	b = breaker_find(md, endpoint);
	if (jget_bool(msg, "ok")) {
		if (b != NULL)
			came_up(md, b, now);
		return;
	}
	if (b == NULL) {
		went_down(md, msg, now);
		return;
	}
	/* Others' calls that were under way when it went down say nothing
	 * new: only the probe moves the next try. */
	if (holds_probe(b, c) || jget_bool(msg, "probe"))
		probe_failed(md, b, msg, now);
	else
		set_reason(b, jget_str(msg, "message"));
}

void
provider_work_ended(struct masterd *md, struct child *c)
{
	struct breaker *b;

	TAILQ_FOREACH(b, &state(md)->down, entry) {
		if (!holds_probe(b, c))
			continue;
		/* It never came to the call: the next work probes. */
		b->probe_task = 0;
		b->probe_child[0] = '\0';
		wake_for(md, b);
	}
}

/* ---------------------------------------------------------- children */

static json_t *
down_list(struct masterd *md)
{
	json_t *a = json_array();
	struct breaker *b;

	TAILQ_FOREACH(b, &state(md)->down, entry)
		json_array_append_new(a, json_pack("{s:s, s:s, s:f, s:f, "
		    "s:s}", "endpoint", b->endpoint, "name", b->name, "since",
		    b->since, "next_try", b->next_try, "reason", b->reason));
	return a;
}

static void
send_down(struct child *c, json_t *down)
{
	json_t *m;

	if (c->state != CHILD_RUNNING || c->role == ROLE_INTEGRATOR)
		return;
	m = msg_new(MSG_PROVIDERS, masterd_next_id(c->md));
	json_object_set(m, "down", down);
	child_send(c, m);
}

/* The providers held down, to c alone (one that became ready) or, c
 * NULL, to every running child (the list changed). */
void
providers_send(struct masterd *md, struct child *c)
{
	json_t *down = down_list(md);
	struct child *x;

	if (c != NULL)
		send_down(c, down);
	else
		TAILQ_FOREACH(x, &md->children, entry)
			send_down(x, down);
	json_decref(down);
}

/* ---------------------------------------------------------- time */

static void
outage_timeout(struct masterd *md, struct breaker *b, double now)
{
	struct llm_conf l;
	struct child *c;
	char why[512], since[32];
	time_t t0 = (time_t)b->since;
	struct tm tm;

	conf_of(md, b->endpoint, &l);
	if (b->timed_out || l.outage_timeout <= 0 ||
	    (now - b->since) * 1000.0 < (double)l.outage_timeout)
		return;
	b->timed_out = true;
	localtime_r(&t0, &tm);
	strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(why, sizeof(why), "provider %s (%s) down since %s, longer "
	    "than outage_timeout (%lld s): %s; `masterctl resume` tries "
	    "again", b->name, b->endpoint, since,
	    (long long)(l.outage_timeout / 1000), b->reason);
	TAILQ_FOREACH(c, &md->children, entry) {
		struct task *t = task_find(md, c->task);

		if (t != NULL && task_runnable(t) &&
		    strcmp(c->waiting, b->endpoint) == 0)
			task_limit(t, why);
	}
}

void
providers_reload(struct masterd *md)
{
	struct breaker *b, *next;

	for (b = TAILQ_FIRST(&state(md)->down); b != NULL; b = next) {
		next = TAILQ_NEXT(b, entry);
		if (endpoint_known(md, b->endpoint))
			continue;
		log_notice("provider %s (%s): no longer configured; its "
		    "breaker is dropped", b->name, b->endpoint);
		breaker_drop(md, b);
	}
	providers_send(md, NULL);
	task_mark_all(md);
}

void
providers_retry_now(struct masterd *md)
{
	struct breaker *b;
	double now = now_epoch();

	TAILQ_FOREACH(b, &state(md)->down, entry) {
		if (!b->timed_out)
			continue;
		b->timed_out = false;
		if (b->next_try > now)
			b->next_try = now;
		breaker_store(md, b);
	}
	task_mark_all(md);
}

void
providers_tick(struct masterd *md)
{
	struct breaker *b;
	double now = now_epoch();

	TAILQ_FOREACH(b, &state(md)->down, entry)
		outage_timeout(md, b, now);
}

/* ---------------------------------------------------------- reads */

json_t *
providers_describe(struct masterd *md)
{
	json_t *a = json_array();
	struct breaker *b;

	TAILQ_FOREACH(b, &state(md)->down, entry) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:f, s:f, s:I, s:s}",
		    "provider", b->name, "endpoint", b->endpoint, "state",
		    b->probe_task != 0 ? "probing" : "down", "since", b->since,
		    "next_try", b->next_try, "failures",
		    (json_int_t)b->failures, "reason", b->reason);

		if (b->probe_task != 0)
			json_object_set_new(o, "probe", json_pack("{s:I, s:s}",
			    "task", (json_int_t)b->probe_task, "domain",
			    b->probe_child));
		json_array_append_new(a, o);
	}
	return a;
}

json_t *
provider_waiting(struct masterd *md, const struct child *c)
{
	struct breaker *b;

	if (c->waiting[0] == '\0' ||
	    (b = breaker_find(md, c->waiting)) == NULL)
		return NULL;
	return json_pack("{s:s, s:s, s:f, s:f, s:s}", "provider", b->name,
	    "endpoint", b->endpoint, "since", b->since, "next_try",
	    b->next_try, "reason", b->reason);
}

/* ---------------------------------------------------------- life */

void
providers_load(struct masterd *md)
{
	json_t *rows = registry_providers(md->reg), *row;
	struct breaker *b;
	size_t i;

	if (rows == NULL) {
		log_err("providers: cannot read the breakers: %s",
		    registry_errmsg(md->reg));
		return;
	}
	json_array_foreach(rows, i, row) {
		b = xcalloc(1, sizeof(*b));
		b->endpoint = xstrdup(jget_str(row, "endpoint"));
		b->name = xstrdup(jget_str(row, "name"));
		set_reason(b, jget_str(row, "reason"));
		b->since = json_number_value(json_object_get(row, "since"));
		b->next_try = json_number_value(json_object_get(row,
		    "next_try"));
		b->failures = jget_int(row, "failures", 0);
		TAILQ_INSERT_TAIL(&state(md)->down, b, entry);
		log_warn("provider %s (%s) has been down since %.0f s ago: %s; "
		    "next try in %.0f s", b->name, b->endpoint,
		    now_epoch() - b->since, b->reason, b->next_try - now_epoch());
		wake_for(md, b);
	}
	json_decref(rows);
}

void
providers_free(struct masterd *md)
{
	struct breaker *b;

	if (md->providers == NULL)
		return;
	while ((b = TAILQ_FIRST(&md->providers->down)) != NULL) {
		TAILQ_REMOVE(&md->providers->down, b, entry);
		breaker_free(b);
	}
	free(md->providers);
	md->providers = NULL;
}
