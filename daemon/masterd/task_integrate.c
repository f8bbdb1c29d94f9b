/*
 * task_integrate.c — integration: the task's checks run on main, with
 * every domain's code together, by the task's integrator (a masterd-child
 * started with --role integrator, whose worker checks the commit out and
 * runs the commands with the domain checks' runner).  A run comes
 * integration_delay after merges, and always before the task improves, is
 * reviewed or ends (decide_life's gate); each run is stored against the
 * commit of main it tested.  Failures become directives: a consumer's
 * contract test to its provider at once, the other checks through the
 * planner, which attributes them to domains; integration_attempts
 * failing runs handed out in a row pause the task.
 *
 * The commands of a run: `[task] integration_check` lines, the ones the
 * plan and the reviews proposed (the task's integration_checks column),
 * and the contract tests named in the domains' interfaces.
 */
#include <stdio.h>
#include <string.h>

#include "common/iface.h"
#include "common/log.h"
#include "common/repo.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/supervise.h"
#include "daemon/masterd/task.h"
#include "daemon/masterd/task_decide.h"
#include "daemon/masterd/tasks.h"

/* How much of a failing command's output a directive carries. */
#define DIRECTIVE_OUTPUT_MAX	4096
/* ... and the planner and a reviewer see, per command. */
#define EVIDENCE_OUTPUT_MAX	8192
/* The runs masterctl task shows. */
#define RUNS_SHOWN		5

/* ---------------------------------------------------------- the commands */

static bool
has_command(const json_t *list, const char *command)
{
	const json_t *c;
	size_t i;

	json_array_foreach(list, i, c)
		if (strcmp(jget_str(c, "command"), command) == 0)
			return true;
	return false;
}

static void
add_check(json_t *list, const char *command)
{
	if (command != NULL && *command != '\0' && !has_command(list, command))
		json_array_append_new(list, json_pack("{s:s, s:s}", "command",
		    command, "kind", "check"));
}

/* Every command of a run on main, in the order they run. */
static json_t *
commands(const struct task *t)
{
	const struct strlist *conf = &t->md->conf->integration_checks;
	json_t *out = json_array(), *implemented, *contracts, *c, *folders;
	const struct domain *d;
	size_t i;

	for (i = 0; i < conf->n; i++)
		add_check(out, conf->v[i]);
	json_array_foreach(t->integ.checks, i, c)
		add_check(out, json_string_value(c));
	/* What is on main: the implemented interfaces, not the declared. */
	implemented = task_interfaces(t, NULL);
	folders = json_object();
	TAILQ_FOREACH(d, &t->domains, entry)
		if (d->folder != NULL)
			json_object_set_new(folders, d->name,
			    json_string(d->folder));
	contracts = iface_contract_tests(implemented, folders);
	json_decref(folders);
	json_array_foreach(contracts, i, c)
		if (!has_command(out, jget_str(c, "command")))
			json_array_append(out, c);
	json_decref(contracts);
	json_decref(implemented);
	return out;
}

static bool
has_commands(const struct task *t)
{
	json_t *list = commands(t);
	bool any = json_array_size(list) > 0;

	json_decref(list);
	return any;
}

enum integration_status
task_integration_status(const struct task *t)
{
	struct integration_facts f = {
		.has_commands = has_commands(t),
		.running = t->integ.run != 0,
		.tested = t->integ.tested,
		.last = t->integ.last,
		.attributed = t->integ.attributed,
		.main = t->integ.main,
	};

	return decide_integration(&f);
}

/* ---------------------------------------------------------- state */

static int
set_failures(struct task *t, int64_t n)
{
	if (registry_task_set_integration_failures(t->md->reg, t->id, n) != 0) {
		log_err("task %lld: integration attempts not stored: %s",
		    (long long)t->id, registry_errmsg(t->md->reg));
		return -1;
	}
	t->integ.failures = n;
	return 0;
}

/* The failing results of a run, for the directives and the planner. */
static json_t *
failing_of(const json_t *results)
{
	json_t *out = json_array();
	const json_t *r;
	size_t i;

	json_array_foreach(results, i, r)
		if (!jget_bool(r, "passed"))
			json_array_append(out, (json_t *)r);
	return out;
}

static void
remember_run(struct task *t, const char *commit, enum run_state state,
    const json_t *results)
{
	snprintf(t->integ.tested, sizeof(t->integ.tested), "%s",
	    commit != NULL ? commit : "");
	t->integ.last = state;
	json_decref(t->integ.failing);
	t->integ.failing = failing_of(results);
	t->integ.attributed = false;
}

static void
read_main(struct task *t)
{
	char gitdir[4096], err[256];

	task_gitdir(t->md, t->id, gitdir, sizeof(gitdir));
	if (repo_main_oid(gitdir, t->integ.main, err, sizeof(err)) != 0)
		log_warn("task %lld: main not read: %s", (long long)t->id, err);
}

void
task_integration_load(struct task *t, const json_t *row)
{
	const json_t *checks = json_object_get(row, "integration_checks");
	json_t *runs, *last;
	int state;

	if (json_is_array(checks)) {
		json_decref(t->integ.checks);
		t->integ.checks = json_incref((json_t *)checks);
	}
	t->integ.failures = jget_int(row, "integration_failures", 0);
	/* A finished task too: masterctl task shows where it stands. */
	read_main(t);
	runs = registry_runs(t->md->reg, t->id, 1);
	if ((last = json_array_get(runs, 0)) != NULL) {
		state = vocab_find(run_state_names, RUN_STATE_COUNT,
		    jget_str(last, "state"));
		remember_run(t, jget_str(last, "commit"), state >= 0 ?
		    (enum run_state)state : RUN_ERROR,
		    json_object_get(last, "results"));
		/* The attempts count the hand-outs: a failing run with some
		 * behind it was handed out before the restart. */
		t->integ.attributed = t->integ.last == RUN_FAILED &&
		    t->integ.failures > 0;
	}
	json_decref(runs);
}

void
task_integration_free(struct task *t)
{
	json_decref(t->integ.checks);
	json_decref(t->integ.failing);
}

void
task_integration_add_checks(struct task *t, const json_t *commands)
{
	json_t *next = json_deep_copy(t->integ.checks), *c;
	size_t i, before = json_array_size(next);

	json_array_foreach(commands, i, c) {
		const char *s = json_string_value(c);
		bool known = false;
		size_t j;

		for (j = 0; s != NULL && j < json_array_size(next); j++)
			known |= strcmp(json_string_value(json_array_get(next,
			    j)), s) == 0;
		if (s != NULL && *s != '\0' && !known)
			json_array_append_new(next, json_string(s));
	}
	if (json_array_size(next) == before ||
	    registry_task_set_integration_checks(t->md->reg, t->id, next) !=
	    0) {
		json_decref(next);
		return;
	}
	json_decref(t->integ.checks);
	t->integ.checks = next;
}

void
task_integration_reset(struct task *t)
{
	if (t->integ.failures != 0)
		set_failures(t, 0);
	t->integ.attributed = false;
}

/* ---------------------------------------------------------- when */

static void
on_due(uv_timer_t *h)
{
	struct masterd *md = h->data;
	uint64_t now = uv_now(md->loop), next = 0;
	struct task *t;

	TAILQ_FOREACH(t, &md->tasks, entry) {
		if (t->integ.due_ms == 0)
			continue;
		if (t->integ.due_ms <= now)
			task_mark(t);
		else if (next == 0 || t->integ.due_ms < next)
			next = t->integ.due_ms;
	}
	if (next != 0)
		uv_timer_start(h, on_due, next - now, 0);
}

void
task_integration_soon(struct task *t, const char *commit)
{
	struct masterd *md = t->md;
	uint64_t delay = (uint64_t)md->conf->integration_delay;

	snprintf(t->integ.main, sizeof(t->integ.main), "%s", commit);
	if (!has_commands(t))
		return;
	/* Merges in a burst make one run, after the last of them. */
	t->integ.due_ms = uv_now(md->loop) + delay;
	uv_timer_start(&md->integrate, on_due, delay, 0);
}

void
task_integration_due(struct task *t)
{
	if (t->integ.due_ms == 0 || t->integ.due_ms > uv_now(t->md->loop) ||
	    t->integ.run != 0)
		return;
	t->integ.due_ms = 0;
	if (task_integration_status(t) == INTEG_PENDING)
		task_integration_run(t);
}

/* ---------------------------------------------------------- a run */

static struct child *
integrator_of(const struct task *t)
{
	return child_find(t->md, t->id, INTEGRATOR_NAME);
}

void
task_integrator_ready(struct child *c)
{
	if (c->integrate_request == NULL || c->busy)
		return;
	c->busy = true;
	c->run = jget_int(c->integrate_request, "run", 0);
	child_send(c, json_incref(c->integrate_request));
}

/* The run's request to the integrator, which is started when needed. */
static int
hand_to_integrator(struct task *t, json_t *request)
{
	struct child *c = integrator_of(t);
	char why[400];

	if (c == NULL) {
		if ((c = child_new(t->md, t->id, 0, INTEGRATOR_NAME)) == NULL) {
			json_decref(request);
			return -1;
		}
		c->role = ROLE_INTEGRATOR;
	}
	if (c->state == CHILD_FATAL) {
		snprintf(why, sizeof(why), "integration: the integrator is "
		    "fatal (%s); masterctl restart %lld %s", c->reason,
		    (long long)t->id, INTEGRATOR_NAME);
		json_decref(request);
		task_limit(t, why);
		return -1;
	}
	json_decref(c->integrate_request);
	c->integrate_request = request;
	if (c->state == CHILD_RUNNING)
		task_integrator_ready(c);
	else if (!c->proc_running && child_start(c) != 0)
		log_err("task %lld: cannot start the integrator: %s",
		    (long long)t->id, c->reason);
	return 0;
}

int
task_integration_run(struct task *t)
{
	struct masterd *md = t->md;
	json_t *list, *m;
	int64_t run;

	if (t->integ.run != 0)
		return 0;
	if (t->integ.main[0] == '\0')
		read_main(t);
	list = commands(t);
	if (json_array_size(list) == 0 || t->integ.main[0] == '\0' ||
	    registry_run_add(md->reg, t->id, t->integ.main, list, &run) != 0) {
		json_decref(list);
		return -1;
	}
	t->integ.run = run;
	t->integ.due_ms = 0;
	log_info("task %lld: integration run %lld on main %.12s: %zu "
	    "command(s)", (long long)t->id, (long long)run, t->integ.main,
	    json_array_size(list));
	event_emit(md, t->id, NULL, EV_INTEGRATION_STARTED, json_pack(
	    "{s:I, s:s, s:I}", "run", (json_int_t)run, "commit",
	    t->integ.main, "checks", (json_int_t)json_array_size(list)));
	m = msg_new(MSG_INTEGRATE_REQUEST, masterd_next_id(md));
	json_object_set_new(m, "task", json_integer(t->id));
	json_object_set_new(m, "run", json_integer(run));
	json_object_set_new(m, "commit", json_string(t->integ.main));
	json_object_set_new(m, "checks", list);
	return hand_to_integrator(t, m);
}

/* ---------------------------------------------------------- results */

static json_t *
commands_of(const json_t *results)
{
	json_t *out = json_array();
	const json_t *r;
	size_t i;

	json_array_foreach(results, i, r)
		json_array_append_new(out, json_string(jget_str(r,
		    "command")));
	return out;
}

/* A run that tested nothing (an error, the integrator gone) counts as an
 * attempt: a run that can never happen must end in a pause, not a loop. */
static void
run_broke(struct task *t, const char *why)
{
	char reason[600];

	if (set_failures(t, t->integ.failures + 1) != 0)
		return;
	if (t->integ.failures < t->md->conf->integration_attempts)
		return;
	snprintf(reason, sizeof(reason), "integration: %lld runs on main "
	    "could not be made: %s", (long long)t->integ.failures, why);
	task_limit(t, reason);
}

static void
end_run(struct task *t, int64_t run, const char *commit,
    enum run_state state, const json_t *results, const char *error,
    int64_t ms)
{
	struct masterd *md = t->md;
	json_t *failed;

	if (registry_run_end(md->reg, run, run_state_names[state], results,
	    error, ms) != 0)
		log_err("task %lld: integration run %lld not stored: %s",
		    (long long)t->id, (long long)run, registry_errmsg(md->reg));
	t->integ.run = 0;
	remember_run(t, commit, state, results);
	if (state == RUN_PASSED) {
		log_info("task %lld: integration run %lld passed on main %.12s",
		    (long long)t->id, (long long)run, commit);
		event_emit(md, t->id, NULL, EV_INTEGRATION_PASSED, json_pack(
		    "{s:I, s:s, s:I}", "run", (json_int_t)run, "commit",
		    commit, "duration_ms", (json_int_t)ms));
		task_integration_reset(t);
		pushto_passed(t, commit);
	} else if (state != RUN_CANCELLED) {
		failed = failing_of(results);
		log_warn("task %lld: integration run %lld %s on main %.12s%s%s",
		    (long long)t->id, (long long)run, run_state_names[state],
		    commit, error ? ": " : "", error ? error : "");
		event_emit(md, t->id, NULL, EV_INTEGRATION_FAILED, json_pack(
		    "{s:I, s:s, s:o, s:s*}", "run", (json_int_t)run, "commit",
		    commit, "failed", commands_of(failed), "error", error));
		json_decref(failed);
		if (state == RUN_ERROR)
			run_broke(t, error ? error : "no reason given");
	}
	task_mark(t);
}

void
task_integrator_result(struct child *c, struct task *t, const json_t *msg)
{
	int64_t run = jget_int(msg, "run", 0);
	const json_t *e = json_object_get(msg, "error");
	const char *code = jget_str(e, "code");
	enum run_state state;

	if (run != c->run || run != t->integ.run) {
		log_warn("task %lld: the integrator reports run %lld, which "
		    "it was not given; ignored", (long long)t->id,
		    (long long)run);
		return;
	}
	c->busy = false;
	c->run = 0;
	json_decref(c->integrate_request);
	c->integrate_request = NULL;
	if (e != NULL)
		state = code != NULL && strcmp(code, ERR_CANCELLED) == 0 ?
		    RUN_CANCELLED : RUN_ERROR;
	else
		state = jget_bool(msg, "ok") ? RUN_PASSED : RUN_FAILED;
	end_run(t, run, jget_str(msg, "commit"), state, json_object_get(msg,
	    "results"), jget_str(e, "message"), jget_int(msg, "duration_ms",
	    0));
}

void
task_integrator_down(struct child *c, struct task *t)
{
	int64_t run = c->run;
	char why[300];

	c->busy = false;
	c->run = 0;
	json_decref(c->integrate_request);
	c->integrate_request = NULL;
	if (t == NULL || run == 0 || run != t->integ.run)
		return;
	snprintf(why, sizeof(why), "the integrator went down: %s",
	    c->reason[0] ? c->reason : "no reason given");
	end_run(t, run, t->integ.main, RUN_ERROR, NULL, why, 0);
}

/* ---------------------------------------------------------- failures */

static int
add_directive(struct task *t, const char *domain, const char *text)
{
	char err[256];
	json_t *out;

	if (task_add_directive(t, domain, SOURCE_INTEGRATION, text,
	    PRIORITY_INTEGRATION, &out, err, sizeof(err)) != 0) {
		log_warn("task %lld: integration directive to %s not added: "
		    "%s", (long long)t->id, domain ? domain : "?", err);
		return -1;
	}
	json_decref(out);
	return 0;
}

/* A consumer's contract test names its provider: no one to ask. */
static size_t
contract_directives(struct task *t)
{
	const json_t *r;
	size_t i, n = 0;
	char *text;

	json_array_foreach(t->integ.failing, i, r) {
		const char *kind = jget_str(r, "kind");

		if (kind == NULL || strcmp(kind, "contract") != 0)
			continue;
		text = decide_integration_text(NULL, r, t->integ.tested,
		    DIRECTIVE_OUTPUT_MAX);
		if (add_directive(t, jget_str(r, "provider"), text) == 0)
			n++;
		free(text);
	}
	return n;
}

/* The failing checks as the planner sees them. */
static json_t *
failing_evidence(const json_t *failing, bool checks_only)
{
	json_t *out = json_array();
	const json_t *r;
	size_t i;

	json_array_foreach(failing, i, r) {
		const char *kind = jget_str(r, "kind");
		const char *output = jget_str(r, "output");
		size_t n = output != NULL ? strlen(output) : 0;

		if (checks_only && kind != NULL && strcmp(kind, "check") != 0)
			continue;
		json_array_append_new(out, json_pack("{s:s*, s:s*, s:I, s:b, "
		    "s:s}", "command", jget_str(r, "command"), "kind", kind,
		    "exit_status", jget_int(r, "exit_status", -1), "timed_out",
		    jget_bool(r, "timed_out"), "output", output == NULL ? "" :
		    n > EVIDENCE_OUTPUT_MAX ? output + n - EVIDENCE_OUTPUT_MAX :
		    output));
	}
	return out;
}

static json_t *
domain_names(const struct task *t)
{
	json_t *out = json_array();
	const struct domain *d;

	TAILQ_FOREACH(d, &t->domains, entry)
		json_array_append_new(out, json_string(d->name));
	return out;
}

void
task_integration_attribute(struct task *t)
{
	json_t *checks = failing_evidence(t->integ.failing, true);
	size_t n;

	if (set_failures(t, t->integ.failures + 1) != 0) {
		json_decref(checks);
		return;
	}
	t->integ.attributed = true;
	n = contract_directives(t);
	if (json_array_size(checks) == 0) {
		event_emit(t->md, t->id, NULL, EV_INTEGRATION_ATTRIBUTED,
		    json_pack("{s:s, s:I, s:s}", "commit", t->integ.tested,
		    "directives", (json_int_t)n, "reason", "contract tests go "
		    "to their providers"));
		json_decref(checks);
		task_mark(t);
		return;
	}
	task_ask_planner(t, "attribute", json_pack("{s:s, s:s, s:o, s:o, "
	    "s:o}", "task", t->text, "commit", t->integ.tested, "failing",
	    checks, "interfaces", task_interfaces(t, NULL), "domains",
	    domain_names(t)));
}

/* The planner's words for a domain, with the evidence that goes along:
 * the first failing check's output, and the others named. */
static char *
attributed_text(const struct task *t, const char *words)
{
	const json_t *first = NULL, *r;
	char *text = NULL, *more;
	size_t i;

	json_array_foreach(t->integ.failing, i, r) {
		const char *kind = jget_str(r, "kind");

		if (kind != NULL && strcmp(kind, "check") != 0)
			continue;
		if (first == NULL) {
			first = r;
			text = decide_integration_text(words, r,
			    t->integ.tested, DIRECTIVE_OUTPUT_MAX);
			continue;
		}
		more = xasprintf("%s\nAlso failing: `%s`.", text, jget_str(r,
		    "command"));
		free(text);
		text = more;
	}
	return first != NULL ? text : xstrdup(words);
}

void
task_integration_attributed(struct task *t, bool ok, const json_t *plan,
    const char *why)
{
	const json_t *list = json_object_get(plan, "directives"), *d;
	char reason[600], *text;
	size_t i, n = 0;

	if (!ok) {
		snprintf(reason, sizeof(reason), "integration: main fails and "
		    "the planner could not attribute it: %s", why ? why :
		    "no reason given");
		task_limit(t, reason);
		return;
	}
	json_array_foreach(list, i, d) {
		text = attributed_text(t, jget_str(d, "text"));
		if (add_directive(t, jget_str(d, "domain"), text) == 0)
			n++;
		free(text);
	}
	event_emit(t->md, t->id, NULL, EV_INTEGRATION_ATTRIBUTED, json_pack(
	    "{s:s, s:I, s:s*}", "commit", t->integ.tested, "directives",
	    (json_int_t)n, "reason", jget_str(plan, "reason")));
	task_mark(t);
}

void
task_integration_stuck(struct task *t)
{
	const json_t *first = json_array_get(t->integ.failing, 0);
	char why[600];

	snprintf(why, sizeof(why), "integration: `%s` still fails on main "
	    "(commit %.7s) after %lld attempts to fix it; masterctl resume "
	    "%lld tries again", first ? jget_str(first, "command") : "?",
	    t->integ.tested, (long long)t->integ.failures, (long long)t->id);
	task_limit(t, why);
}

/* ---------------------------------------------------------- views */

json_t *
task_integration_describe(const struct task *t)
{
	json_t *list = commands(t);
	json_t *runs = registry_runs(t->md->reg, t->id, RUNS_SHOWN);

	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:o}", "status",
	    integration_status_names[task_integration_status(t)], "main",
	    t->integ.main, "tested", t->integ.tested, "failures",
	    (json_int_t)t->integ.failures, "attempts",
	    (json_int_t)t->md->conf->integration_attempts, "checks", list,
	    "runs", runs != NULL ? runs : json_array());
}

json_t *
task_integration_evidence(const struct task *t)
{
	if (t->integ.tested[0] == '\0')
		return json_null();
	return json_pack("{s:s, s:s, s:s, s:o, s:o}", "commit",
	    t->integ.tested, "main", t->integ.main, "state",
	    run_state_names[t->integ.last], "commands", commands(t),
	    "failing", failing_evidence(t->integ.failing, false));
}
