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
 * {"domain": target, "text": directive, "wait": bool}, one per item that
 * a directive can fix.  "wait" is true for an item that is not late yet:
 * a "missing" one whose provider has neither published nor declared an
 * interface, or has declared the entry and still has work open; it
 * becomes no directive now, but a queued one for it is still wanted.
 * domains: one {"domain", "published": bool (an implemented version),
 * "declared": the declared document newer than it, or absent, "open":
 * bool (directives queued or running)} per domain of the task.
 */
json_t *decide_interface_directives(const json_t *unresolved,
    const json_t *domains);
/* Whether an open interface directive is still wanted: its text, less
 * any retry note (decide_interface_outcome), is one of the wanted
 * directives' texts, waiting or not. */
bool decide_still_wanted(const json_t *wanted, const char *text);
/* The length of an interface directive's text less its retry note. */
size_t decide_interface_base(const char *text);

/* An interface directive ended done: is its gap gone? */
enum iface_outcome {
	IFACE_CLOSED,		/* its item left the unresolved set: done */
	IFACE_AGAIN,		/* still there: queue *next, a new try */
	IFACE_GIVE_UP,		/* still there after max tries: dropped */
};

/*
 * unresolved: the set after the round's publish was taken; text: the
 * directive's, which says which try it was ("Try N of M" in its note,
 * none for the first).  IFACE_AGAIN sets *next (malloc'd) to the text of
 * the next try: the item's directive and a note of what is still
 * missing; both IFACE_AGAIN and IFACE_GIVE_UP set *why (malloc'd), the
 * reason the directive ends failed or dropped.
 */
/* In the reason of a directive given up (IFACE_GIVE_UP). */
#define IFACE_GAVE_UP	"the gap is still open after"

/* Were the tries of the item of text used up: is one of a domain's
 * directives (registry rows: "source", "state", "reason", "text") a try
 * of it given up?  Then the unresolved set queues no new try. */
bool decide_given_up(const json_t *directives, const char *text);

enum iface_outcome decide_interface_outcome(const json_t *unresolved,
    const char *text, int64_t max_tries, char **next, char **why);

/* ---- a failed directive ---- */

enum failure_step {
	FAILURE_WAIT,		/* the provider is down or rate limited: the
				 * work waits for it, no attempt spent */
	FAILURE_PAUSE,		/* the host cannot run it (no sandbox): the
				 * task pauses until someone fixes that */
	FAILURE_REQUEUE,	/* cut short by a pause: redo on resume */
	FAILURE_RETRY,		/* queued again */
	FAILURE_DROP,		/* tried enough: dropped, the loop must not spin */
};

enum failure_step decide_failure(const char *code, bool task_open,
    int64_t attempts, int64_t max_attempts);
/* Seconds a directive put back after its n-th failed start waits:
 * base_ms doubled for each start after the first, at most 10 minutes. */
double decide_retry_delay(int64_t base_ms, int64_t n);

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
