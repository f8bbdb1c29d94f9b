/*
 * integrate.c — the integrator role: a masterd-worker started with --role
 * integrator (domain "integration") that runs a task's integration checks
 * and contract tests on a commit of main.  On integrate.request it writes
 * the commit's files (every domain's code) into
 * <state>/tasks/<id>/integration/ (repo.c: created 0700, emptied first, no
 * .git), runs each command there in turn with the domains' check runner
 * (checks.c: the same limits, environment, process-group kill and output
 * trimming; every command runs, even after a failure), reports each start
 * as `progress` (stage "integration"), and answers integrate.result: per
 * command, in the request's order, the check result and the request's
 * kind, consumer, provider and entry; or ok false with an error and no
 * results when the run could not happen (a bad or unknown commit, a failed
 * checkout, a cancel, a sandbox that could not be built: `sandbox`).  With
 * `sandbox = off` only [task] integration_check commands run.  It needs
 * no model: no session is opened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child/worker/checks.h"
#include "child/worker/worker.h"
#include "common/log.h"
#include "common/repo.h"
#include "common/util.h"
#include "proto/msg.h"
#include "proto/vocab.h"

#define STAGE_INTEGRATION "integration"

struct integrate_job {
	struct worker *cx;
	json_t *req;		/* the integrate.request */
	json_t *results;	/* one object per command run so far */
	size_t next;		/* the command to run next */
	struct check_run *run;	/* the command running, or NULL */
	uint64_t started;	/* uv_now at the request */
	bool passed;		/* every command so far */
	bool cancelled;
};

static void run_next(struct integrate_job *);

/* The answer: results when error_code is NULL, else the error alone. */
static void
finish(struct integrate_job *j, const char *error_code, const char *message)
{
	struct worker *cx = j->cx;
	json_t *m = msg_new(MSG_INTEGRATE_RESULT, worker_next_id(cx));
	const char *commit = json_string_value(json_object_get(j->req,
	    "commit"));

	json_object_set(m, "task", json_object_get(j->req, "task"));
	json_object_set(m, "run", json_object_get(j->req, "run"));
	json_object_set_new(m, "commit", json_string(commit));
	json_object_set_new(m, "ok", json_boolean(error_code == NULL &&
	    j->passed));
	json_object_set_new(m, "duration_ms", json_integer((json_int_t)
	    (uv_now(cx->loop) - j->started)));
	if (error_code == NULL)
		json_object_set(m, "results", j->results);
	else
		json_object_set_new(m, "error", json_pack("{s:s, s:s}", "code",
		    error_code, "message", message));
	worker_send(cx, m);
	log_info("integration run %lld of %.12s: %s%s",
	    (long long)json_integer_value(json_object_get(j->req, "run")),
	    commit != NULL ? commit : "", error_code != NULL ? "not run: " :
	    j->passed ? "passed" : "failed", error_code != NULL ? message :
	    "");
	json_decref(j->req);
	json_decref(j->results);
	if (cx->integrating == j)
		cx->integrating = NULL;
	free(j);
}

/* The request's words about a command, added to its result. */
static void
add_request_fields(json_t *result, const json_t *check)
{
	static const char *const keep[] = { "kind", "consumer", "provider",
	    "entry" };
	const json_t *v;

	for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
		if ((v = json_object_get(check, keep[k])) != NULL)
			json_object_set(result, keep[k], (json_t *)v);
}

static void
on_command(const struct check_result *res, size_t n, bool passed,
    bool cancelled, void *arg)
{
	struct integrate_job *j = arg;
	const json_t *check = json_array_get(json_object_get(j->req,
	    "checks"), j->next);
	json_t *list;

	j->run = NULL;
	worker_redact_checks(j->cx, res, n);
	if (cancelled || j->cancelled) {
		finish(j, ERR_CANCELLED, "cancelled by masterd");
		return;
	}
	/* Not a failing check: nothing ran, the run tested nothing. */
	if (n > 0 && res[0].sandbox_failed) {
		finish(j, ERR_SANDBOX, res[0].output);
		return;
	}
	list = check_results_json(res, n);
	add_request_fields(json_array_get(list, 0), check);
	json_array_extend(j->results, list);
	json_decref(list);
	j->passed = j->passed && passed;
	j->next++;
	run_next(j);
}

/* The next command, or the answer when none is left. */
static void
run_next(struct integrate_job *j)
{
	struct worker *cx = j->cx;
	const json_t *checks = json_object_get(j->req, "checks");
	struct check_policy pol;
	char *cmd;

	if (j->next >= json_array_size(checks)) {
		finish(j, NULL, NULL);
		return;
	}
	cmd = (char *)json_string_value(json_object_get(json_array_get(
	    checks, j->next), "command"));
	worker_progress(cx, STAGE_INTEGRATION, cmd);
	check_policy_init(&pol, cx);
	j->run = checks_run(cx->loop, cx->self, cx->integration_dir, &cmd, 1,
	    &pol.lim, on_command, j);
	check_policy_free(&pol);
	if (j->run == NULL)
		finish(j, ERR_INTERNAL, "the check runner could not start");
}

static const char *
command_of(const json_t *check)
{
	const char *s = json_string_value(json_object_get(check, "command"));

	return s != NULL ? s : "";
}

/*
 * sandbox = off: the request's commands the operator did not write
 * ([task] integration_check: the planner's, the contract tests) are not
 * run.  Dropped from the request once, before the run, so that each
 * result still meets its request's fields.
 */
static void
drop_unconfined(struct integrate_job *j)
{
	json_t *checks = json_object_get(j->req, "checks"), *kept, *c;
	size_t n = json_array_size(checks), i;
	char **cmds;

	if (n == 0 || j->cx->conf->sandbox != CONF_SANDBOX_OFF)
		return;
	cmds = xcalloc(n, sizeof(*cmds));
	json_array_foreach(checks, i, c)
		cmds[i] = (char *)command_of(c);
	/* Logs and reports the ones dropped. */
	if (check_policy_keep(j->cx, cmds, n, true) < n) {
		kept = json_array();
		json_array_foreach(checks, i, c) {
			if (check_policy_allows(j->cx, command_of(c)))
				json_array_append(kept, c);
		}
		json_object_set_new(j->req, "checks", kept);
	}
	free(cmds);
}

static struct integrate_job *
job_new(struct worker *cx, const json_t *msg)
{
	struct integrate_job *j = xcalloc(1, sizeof(*j));

	j->cx = cx;
	j->req = json_deep_copy(msg);
	j->results = json_array();
	j->started = uv_now(cx->loop);
	j->passed = true;
	return j;
}

void
integrate_request(struct worker *cx, const json_t *msg)
{
	const char *commit = json_string_value(json_object_get(msg, "commit"));
	struct integrate_job *j = job_new(cx, msg);
	char err[512];
	int rc;

	/* Answered at once, so that the relay's count of work holds. */
	if (!cx->integrator) {
		finish(j, ERR_REFUSED, "this worker is not the integrator");
		return;
	}
	if (cx->integrating != NULL) {
		finish(j, ERR_BUSY, "an integration run is in progress");
		return;
	}
	if (json_integer_value(json_object_get(msg, "task")) != cx->task) {
		finish(j, ERR_BAD_REQUEST, "not this integrator's task");
		return;
	}
	cx->integrating = j;
	log_info("integration run %lld: %zu commands on %.12s",
	    (long long)json_integer_value(json_object_get(msg, "run")),
	    json_array_size(json_object_get(msg, "checks")), commit);
	rc = repo_checkout_commit(cx->gitdir, commit, cx->integration_dir, err,
	    sizeof(err));
	if (rc != 0) {
		finish(j, rc == REPO_MISSING ? ERR_NOT_FOUND : ERR_INTERNAL,
		    err);
		return;
	}
	drop_unconfined(j);
	run_next(j);
}

void
integrate_cancel(struct worker *cx)
{
	struct integrate_job *j = cx->integrating;

	if (j == NULL || j->cancelled)
		return;
	j->cancelled = true;
	if (j->run != NULL)
		checks_cancel(j->run);
}
