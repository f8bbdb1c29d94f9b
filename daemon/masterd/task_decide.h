/*
 * task_decide.h — the task's decisions as pure functions: plain values in,
 * a decision out; no registry, no children, no clock.  The other task_*.c
 * files gather the values, call these, and act.
 */
#ifndef DAEMON_TASK_DECIDE_H
#define DAEMON_TASK_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/masterd/registry.h"
#include "proto/vocab.h"

/* ---- budgets ---- */

/* What a task has used so far. */
struct spend {
	int64_t tokens;
	double cost;
	int64_t rounds;
	int64_t seconds;	/* since submit */
};

/* The limit that applies: the task's own, else the default; 0: none. */
double decide_limit(const struct budget *own, const struct budget *defaults,
    enum budget_key);
/* The first limit reached, with the reason in why; -1 (why empty) when
 * none is. */
int decide_over_budget(const struct budget *own,
    const struct budget *defaults, const struct spend *, char *why,
    size_t len);
/* A budget change: the task's limits with the given keys replaced.  -1
 * with err when a value is not a number >= 0. */
int decide_budget_merge(const struct budget *old, const json_t *given,
    struct budget *out, char *err, size_t errlen);

/* ---- the no-progress watchdog ---- */

/* committed[i]: whether the i-th round since the mark (oldest first) made
 * a commit.  True when the last n of them all made none. */
bool decide_stalled(const bool *committed, size_t count, int64_t n);

/* ---- the unresolved set ---- */

/*
 * The directives that fix the unresolved set: an array of
 * {"domain": target, "text": directive}, one per item that a directive
 * can fix.  A provider that has published nothing yet is not late: its
 * "missing" items wait.  latest is as task_documents gives it.
 */
json_t *decide_interface_directives(const json_t *unresolved,
    const json_t *latest);
/* Whether a queued interface directive is still wanted (its text is one
 * of the wanted directives' texts). */
bool decide_still_wanted(const json_t *wanted, const char *text);

/* ---- a failed directive ---- */

enum failure_step {
	FAILURE_HOLD,		/* the provider's rate limit: hold the domain */
	FAILURE_REQUEUE,	/* cut short by a pause: redo on resume */
	FAILURE_RETRY,		/* queued again */
	FAILURE_DROP,		/* tried enough: dropped, the loop must not spin */
};

enum failure_step decide_failure(const char *code, bool task_open,
    int64_t attempts, int64_t max_attempts);

/* ---- integration ---- */

/* What masterd knows of main's integration, from plain values: whether
 * the task has commands to run, a run in flight, the commit of main the
 * last finished run tested ("" none) and how it ended, whether its
 * failures were handed out, and main's commit now. */
struct integration_facts {
	bool has_commands;
	bool running;
	const char *tested;
	enum run_state last;
	bool attributed;
	const char *main;
};
enum integration_status decide_integration(const struct integration_facts *);

/*
 * The text of a directive for one failing command of a run on main: the
 * model's words (or NULL), then the command, its exit, and the end of its
 * output, at most max_output bytes of it.  A contract test (kind
 * "contract") is addressed to its provider in the consumer's name.
 */
char *decide_integration_text(const char *words, const json_t *result,
    const char *commit, size_t max_output);

/* ---- the task's life ---- */

struct life {
	enum task_state state;
	bool paused;
	bool planner_busy;
	size_t open;		/* directives queued or running */
	size_t done;		/* directives done */
	int64_t reviews;	/* reviews asked */
	int64_t max_reviews;	/* 0: none, the user directs */
	enum integration_status integration;
	int64_t integration_failures;	/* attributed in a row */
	int64_t integration_attempts;	/* then the task pauses */
};

enum life_step {
	LIFE_WAIT,		/* work in hand, paused, or nothing to do */
	LIFE_FAIL,		/* building ended with nothing done */
	LIFE_INTEGRATE,		/* building -> integrating */
	LIFE_IMPROVE,		/* integrating -> improving */
	LIFE_REVIEW,		/* ask the planner for a review */
	LIFE_DONE,		/* reviews used up */
	LIFE_RUN_INTEGRATION,	/* main is untested: run the checks now */
	LIFE_ATTRIBUTE,		/* main fails: its failures become directives */
	LIFE_INTEGRATION_STUCK,	/* fixes did not make main pass: pause */
};

enum life_step decide_life(const struct life *);

#endif
