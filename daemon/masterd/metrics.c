/*
 * metrics.c — the `metrics` request: masterd's state in the Prometheus
 * text exposition format (0.0.4), every family with its HELP and TYPE,
 * every name prefixed masterd_, for node_exporter's textfile collector
 * (`masterctl metrics`, docs/operations.md); and the totals the systemd
 * STATUS= line shows (notify.c).
 *
 * What is read: the tasks, children, breakers and open directives from
 * memory; per task, its scoreboard (running totals the registry keeps,
 * one row per domain) and, once, its rounds' spending.  A request costs
 * the tasks and their domains, never their rounds or events.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/provider.h"
#include "daemon/masterd/registry.h"
#include "daemon/masterd/supervise.h"
#include "daemon/masterd/task.h"

struct out {
	char *s;
	size_t len, cap;
};

static void
put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	o->s = xgrow(o->s, &o->cap, o->len + (size_t)n + 1, 4096, SIZE_MAX);
	va_start(ap, fmt);
	vsnprintf(o->s + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	o->len += (size_t)n;
}

static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void
put_label(struct out *o, const char *name, const char *v, bool first)
{
	put(o, "%s%s=\"", first ? "" : ",", name);
	for (; v != NULL && *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			put(o, "\\%c", *v);
		else if (*v == '\n')
			put(o, "\\n");
		else
			put(o, "%c", *v);
	}
	put(o, "\"");
}

/* ---------------------------------------------------------- totals */

/* The task's rounds' spending: kept up in memory once read (task.h). */
static const struct spend *
rounds_spent(struct task *t)
{
	struct spend *r = &t->rounds_spent;

	if (!t->rounds_spent_known) {
		memset(r, 0, sizeof(*r));
		if (registry_task_spend(t->md->reg, t->id, &r->rounds,
		    &r->tokens, &r->cost) == 0)
			t->rounds_spent_known = true;
	}
	return r;
}

void
metrics_totals(struct masterd *md, struct metrics_totals *m)
{
	struct child *c;
	struct task *t;
	json_t *down;

	memset(m, 0, sizeof(*m));
	TAILQ_FOREACH(t, &md->tasks, entry) {
		const struct spend *s = rounds_spent(t);

		m->tokens += s->tokens + t->planner.input + t->planner.output;
		m->cost += s->cost + t->planner.cost;
		if (task_state_over(t->state))
			continue;
		if (t->paused)
			m->tasks_paused++;
		else
			m->tasks_running++;
	}
	TAILQ_FOREACH(c, &md->children, entry) {
		if (c->busy)
			m->domains_working++;
		if (c->state == CHILD_FATAL)
			m->domains_fatal++;
	}
	down = providers_describe(md);
	m->providers_down = json_array_size(down);
	json_decref(down);
}

/* ---------------------------------------------------------- families */

static void
daemon_families(struct masterd *md, struct out *o)
{
	family(o, "masterd_info", "gauge", "masterd's version, always 1.");
	put(o, "masterd_info{version=\"%s\",protocol=\"%d\"} 1\n",
	    MASTERD_VERSION, PROTO_VERSION);
	family(o, "masterd_uptime_seconds", "gauge",
	    "Seconds since masterd started.");
	put(o, "masterd_uptime_seconds %.3f\n",
	    (double)(uv_now(md->loop) - md->started_ms) / 1000.0);
	family(o, "masterd_clients", "gauge",
	    "Control clients connected.");
	put(o, "masterd_clients %zu\n", md->nclients);
	family(o, "masterd_setup_problem", "gauge", "1 while a setup "
	    "problem (a missing key) holds the tasks paused.");
	put(o, "masterd_setup_problem %d\n", md->setup_problem != NULL);
}

static void
task_families(struct masterd *md, struct out *o)
{
	size_t count[TASK_STATE_COUNT] = { 0 }, paused = 0;
	struct task *t;

	TAILQ_FOREACH(t, &md->tasks, entry) {
		count[t->state]++;
		if (t->paused && !task_state_over(t->state))
			paused++;
	}
	family(o, "masterd_tasks", "gauge", "Tasks by state.");
	for (int s = 0; s < TASK_STATE_COUNT; s++)
		put(o, "masterd_tasks{state=\"%s\"} %zu\n",
		    task_state_names[s], count[s]);
	family(o, "masterd_tasks_paused", "gauge",
	    "Unfinished tasks paused (by the user, a limit or a setup "
	    "problem).");
	put(o, "masterd_tasks_paused %zu\n", paused);
}

static void
domain_families(struct masterd *md, struct out *o)
{
	size_t count[CHILD_FATAL + 1] = { 0 }, busy = 0, waiting = 0;
	uint64_t now = uv_now(md->loop), waited = md->provider_wait_ms;
	struct child *c;

	TAILQ_FOREACH(c, &md->children, entry) {
		count[c->state]++;
		busy += c->busy;
		if (c->waiting[0] == '\0')
			continue;
		waiting++;
		waited += now - c->waiting_since_ms;
	}
	family(o, "masterd_domains", "gauge", "Supervised children (domains, "
	    "planners, integrators) by state.");
	for (int s = CHILD_STOPPED; s <= CHILD_FATAL; s++)
		put(o, "masterd_domains{state=\"%s\"} %zu\n",
		    child_state_name((enum child_state)s), count[s]);
	family(o, "masterd_domains_working", "gauge",
	    "Children with work in hand.");
	put(o, "masterd_domains_working %zu\n", busy);
	family(o, "masterd_domains_waiting_provider", "gauge",
	    "Children whose work waits for a provider that is down.");
	put(o, "masterd_domains_waiting_provider %zu\n", waiting);
	family(o, "masterd_provider_wait_seconds_total", "counter",
	    "Seconds children's work waited for a provider that was down, "
	    "summed over the children, since masterd started.");
	put(o, "masterd_provider_wait_seconds_total %.3f\n",
	    (double)waited / 1000.0);
}

static void
provider_families(struct masterd *md, struct out *o)
{
	json_t *down = providers_describe(md), *b;
	double now = now_epoch();
	size_t i;

	family(o, "masterd_providers_down", "gauge",
	    "Providers held down by their circuit breaker.");
	put(o, "masterd_providers_down %zu\n", json_array_size(down));
	family(o, "masterd_provider_down_seconds", "gauge",
	    "Seconds a provider has been down.");
	json_array_foreach(down, i, b) {
		put(o, "masterd_provider_down_seconds{");
		put_label(o, "provider", jget_str(b, "provider"), true);
		put_label(o, "endpoint", jget_str(b, "endpoint"), false);
		put(o, "} %.3f\n", now - json_number_value(json_object_get(b,
		    "since")));
	}
	family(o, "masterd_provider_failures", "gauge",
	    "Failures past the retries since a provider went down.");
	json_array_foreach(down, i, b) {
		put(o, "masterd_provider_failures{");
		put_label(o, "provider", jget_str(b, "provider"), true);
		put_label(o, "endpoint", jget_str(b, "endpoint"), false);
		put(o, "} %lld\n", (long long)jget_int(b, "failures", 0));
	}
	json_decref(down);
}

/* ---------------------------------------------------------- per task */

/* What the per-task families are made of, one task at a time. */
struct task_row {
	int64_t id;
	json_t *scores;		/* registry_scoreboard */
	const struct task *t;
	json_t *row;		/* its registry row, when needed */
	const char *planner_model;	/* NULL: none known */
	size_t queued, running;
};

static void
task_label(struct out *o, const char *name, const struct task_row *r)
{
	put(o, "%s{task=\"%lld\"", name, (long long)r->id);
}

static void
counts(struct out *o, const struct task_row *rows, size_t n)
{
	static const struct {
		const char *name, *type, *help, *col;
	} fams[] = {
		{ "masterd_rounds_total", "counter", "Rounds the task's "
		  "domains played.", "rounds" },
		{ "masterd_rounds_accepted_total", "counter", "Rounds whose "
		  "work was accepted.", "accepted" },
		{ "masterd_checks_total", "counter", "Rounds whose check "
		  "commands ran.", "checks_run" },
	};
	const json_t *d;
	size_t i, j;
	int64_t v;

	for (size_t f = 0; f < nitems(fams); f++) {
		family(o, fams[f].name, fams[f].type, fams[f].help);
		for (i = 0; i < n; i++) {
			v = 0;
			json_array_foreach(rows[i].scores, j, d)
				v += jget_int(d, fams[f].col, 0);
			task_label(o, fams[f].name, &rows[i]);
			put(o, "} %lld\n", (long long)v);
		}
	}
	family(o, "masterd_checks_failed_total", "counter",
	    "Rounds whose check commands failed.");
	for (i = 0; i < n; i++) {
		v = 0;
		json_array_foreach(rows[i].scores, j, d)
			v += jget_int(d, "checks_run", 0) -
			    jget_int(d, "checks_passed", 0);
		task_label(o, "masterd_checks_failed_total", &rows[i]);
		put(o, "} %lld\n", (long long)v);
	}
}

static void
directives(struct out *o, const struct task_row *rows, size_t n)
{
	const json_t *d;
	int64_t done, failed;
	size_t i, j;

	family(o, "masterd_directives", "gauge", "Directives by state "
	    "(failed counts the dropped too).");
	for (i = 0; i < n; i++) {
		done = failed = 0;
		json_array_foreach(rows[i].scores, j, d) {
			done += jget_int(d, "directives_done", 0);
			failed += jget_int(d, "directives_failed", 0);
		}
		task_label(o, "masterd_directives", &rows[i]);
		put(o, ",state=\"queued\"} %zu\n", rows[i].queued);
		task_label(o, "masterd_directives", &rows[i]);
		put(o, ",state=\"running\"} %zu\n", rows[i].running);
		task_label(o, "masterd_directives", &rows[i]);
		put(o, ",state=\"done\"} %lld\n", (long long)done);
		task_label(o, "masterd_directives", &rows[i]);
		put(o, ",state=\"failed\"} %lld\n", (long long)failed);
	}
}

/*
 * Tokens and cost by task, role and model: the domains' by the model of
 * each domain's latest round (the scoreboard's), the planner's by its
 * latest model.  Domains of one model are summed.
 */
static void
spend_of(const struct task_row *r, json_t *by_model)
{
	const json_t *d;
	json_t *m;
	size_t j;

	json_array_foreach(r->scores, j, d) {
		const char *model = jget_str(d, "model");

		if (model == NULL)
			model = "";
		if ((m = json_object_get(by_model, model)) == NULL) {
			m = json_pack("{s:I, s:I, s:I, s:f}", "input",
			    (json_int_t)0, "output", (json_int_t)0, "cached",
			    (json_int_t)0, "cost", 0.0);
			json_object_set_new(by_model, model, m);
		}
		json_object_set_new(m, "input", json_integer(jget_int(m,
		    "input", 0) + jget_int(d, "tokens_in", 0)));
		json_object_set_new(m, "output", json_integer(jget_int(m,
		    "output", 0) + jget_int(d, "tokens_out", 0)));
		json_object_set_new(m, "cached", json_integer(jget_int(m,
		    "cached", 0) + jget_int(d, "tokens_cached", 0)));
		json_object_set_new(m, "cost", json_real(json_number_value(
		    json_object_get(m, "cost")) + json_number_value(
		    json_object_get(d, "cost"))));
	}
}

static void
spend_label(struct out *o, const char *name, const struct task_row *r,
    const char *role, const char *model)
{
	task_label(o, name, r);
	put_label(o, "role", role, false);
	put_label(o, "model", model, false);
}

static void
spending(struct out *o, const struct task_row *rows, size_t n)
{
	static const char *const kinds[] = { "input", "output", "cached" };
	json_t *by_model, *m;
	const char *model;
	size_t i;

	family(o, "masterd_tokens_total", "counter", "Tokens by task, role "
	    "(domain: its rounds and their critics; planner) and model.");
	for (i = 0; i < n; i++) {
		by_model = json_object();
		spend_of(&rows[i], by_model);
		json_object_foreach(by_model, model, m) {
			for (size_t k = 0; k < nitems(kinds); k++) {
				spend_label(o, "masterd_tokens_total",
				    &rows[i], "domain", model);
				put(o, ",kind=\"%s\"} %lld\n", kinds[k],
				    (long long)jget_int(m, kinds[k], 0));
			}
		}
		json_decref(by_model);
		spend_label(o, "masterd_tokens_total", &rows[i], "planner",
		    rows[i].planner_model);
		put(o, ",kind=\"input\"} %lld\n",
		    (long long)rows[i].t->planner.input);
		spend_label(o, "masterd_tokens_total", &rows[i], "planner",
		    rows[i].planner_model);
		put(o, ",kind=\"output\"} %lld\n",
		    (long long)rows[i].t->planner.output);
	}
	family(o, "masterd_cost_total", "counter", "Cost by task, role and "
	    "model, in the currency of the [llm] prices.");
	for (i = 0; i < n; i++) {
		by_model = json_object();
		spend_of(&rows[i], by_model);
		json_object_foreach(by_model, model, m) {
			spend_label(o, "masterd_cost_total", &rows[i],
			    "domain", model);
			put(o, "} %.10g\n", json_number_value(
			    json_object_get(m, "cost")));
		}
		json_decref(by_model);
		spend_label(o, "masterd_cost_total", &rows[i], "planner",
		    rows[i].planner_model);
		put(o, "} %.10g\n", rows[i].t->planner.cost);
	}
}

static void
task_rows(struct masterd *md, struct out *o)
{
	struct task_row *rows;
	const struct directive *x;
	const struct domain *d;
	struct task *t;
	size_t n = 0, i;

	TAILQ_FOREACH(t, &md->tasks, entry)
		n++;
	rows = xcalloc(n + 1, sizeof(*rows));
	n = 0;
	TAILQ_FOREACH(t, &md->tasks, entry) {
		struct task_row *r = &rows[n++];

		r->id = t->id;
		r->t = t;
		r->scores = registry_scoreboard(md->reg, t->id);
		/* Its row only for a task whose planner spent anything: the
		 * model is the registry's, not memory's. */
		if (t->planner.input + t->planner.output > 0)
			r->row = registry_task_get(md->reg, t->id);
		r->planner_model = jget_str(r->row, "planner_model");
		TAILQ_FOREACH(d, &t->domains, entry) {
			TAILQ_FOREACH(x, &d->open, entry) {
				if (x->state == DIRECTIVE_RUNNING)
					r->running++;
				else
					r->queued++;
			}
		}
	}
	counts(o, rows, n);
	directives(o, rows, n);
	spending(o, rows, n);
	for (i = 0; i < n; i++) {
		json_decref(rows[i].scores);
		json_decref(rows[i].row);
	}
	free(rows);
}

char *
metrics_text(struct masterd *md)
{
	struct out o = { 0 };

	daemon_families(md, &o);
	task_families(md, &o);
	domain_families(md, &o);
	provider_families(md, &o);
	task_rows(md, &o);
	return o.s != NULL ? o.s : xstrdup("");
}
