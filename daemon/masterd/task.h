/*
 * task.h — the typed task core, shared by the task_*.c files.
 *
 * Each task is a struct task in memory: its row (text, state, pause and
 * reason), what used to hide in the "spec" column (standing directives,
 * budget, plan, reviews asked, the planner's usage, the no-progress mark)
 * and its domains, each with its depends and its latest interface.  All of
 * it is loaded from the registry at start and written through to it on
 * every change, the registry first: the registry stays the durable truth.
 * Each domain keeps its open directives (queued or running); the closed
 * ones and the rounds are read from the registry where they are shown.
 *
 * Who does what:
 *   task.c          the structs: load, find, write-through, describe,
 *                   the interfaces kept per domain, the deferred step
 *   task_queue.c    each domain's open directives: load, add, state
 *   task_requests.c what users ask through commands.c
 *   task_messages.c what children send
 *   task_dispatch.c work out to children, and the step run once per turn
 *   task_decide.c   the decisions, pure functions over plain values
 *   task_ask.c      a person in the loop: questions, approvals
 */
#ifndef DAEMON_TASK_H
#define DAEMON_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <jansson.h>

#include "daemon/masterd/registry.h"
#include "daemon/masterd/task_decide.h"
#include "proto/vocab.h"

struct masterd;
struct child;

/* The planner child's domain name; no task may have a domain so named. */
#define PLANNER_NAME "planner"
/* The child that runs the integration checks on main: a role, not a
 * domain, so no domain may take either name. */
#define INTEGRATOR_NAME "integration"

#define PRIORITY_INTEGRATION	6
#define PRIORITY_INTERFACE	5
#define PRIORITY_REVIEW		3

/* An open directive: queued, or running on the domain's child. */
struct directive {
	TAILQ_ENTRY(directive) entry;
	int64_t id;
	enum directive_source source;
	char *text;
	int priority;
	enum directive_state state;
	int64_t attempts;	/* times started */
	double not_before;	/* put back after a failure: not started
				 * again before this (epoch s), 0: now */
};
TAILQ_HEAD(directive_list, directive);

struct domain {
	TAILQ_ENTRY(domain) entry;
	struct domain *index_next;	/* domain_find's bucket */
	struct task *task;
	int64_t id;
	char *name;
	char *folder;		/* its folder in the tree; NULL: <name>/ */
	bool submitted;		/* named at submit (or configured) */
	char *prompt;		/* its own prompt, or NULL */
	json_t *checks;		/* its check commands */
	json_t *depends;	/* array of the domain names it waits for */
	/* Its latest implemented interface (the registry's object:
	 * "version", "document", ...) and the document of the implemented
	 * version before; its latest declared interface (an object too),
	 * or NULL.  The declared one counts while it is the newer. */
	json_t *iface;
	json_t *iface_prev;
	json_t *declared;
	struct directive_list open;	/* queued and running, oldest first */
	int asks_open;		/* its questions and merges waiting for a
				 * person: no directive while > 0 */
};
TAILQ_HEAD(domain_list, domain);

/* What the task knows of main's integration (task_integrate.c). */
struct integration {
	json_t *checks;		/* its own commands, from plan and reviews */
	int64_t failures;	/* failing runs attributed in a row */
	char main[41];		/* main's commit now ("" unknown) */
	int64_t run;		/* the run in flight, 0: none */
	char tested[41];	/* the commit the last finished run tested */
	enum run_state last;	/* how that run ended */
	json_t *failing;	/* its failing results, or NULL */
	bool attributed;	/* its failures were handed out */
	uint64_t due_ms;	/* a run after merges at this uv_now; 0: none */
};

struct task {
	TAILQ_ENTRY(task) entry;
	struct masterd *md;
	int64_t id;
	char *text;
	enum task_state state;
	bool paused;
	char *reason;		/* why it paused, failed or ended; or NULL */
	double created;
	double updated;
	json_t *standing;	/* the standing directives, strings */
	struct budget budget;	/* its own limits */
	json_t *plan;		/* the planner's plan, or NULL */
	int64_t reviews;	/* reviews asked */
	struct usage planner;	/* what the planner's calls used */
	int64_t progress_since;	/* the watchdog counts rounds after this */
	struct integration integ;
	struct domain_list domains;
	size_t ndomains;
	struct domain **dindex;	/* domains by name, chained buckets */
	size_t dindex_cap;	/* a power of two */
	size_t nopen;		/* open directives (queued, running) */
	/*
	 * The dispatch (task_dispatch.c): the children to look at on the
	 * next step (one became ready), or all of them (look_all: any
	 * other change); and whether running directives no child works
	 * on are to be looked for (a child went, a write failed, the tick).
	 */
	TAILQ_HEAD(child_look, child) look;
	bool look_all;
	bool check_orphans;
	/* Children made but not started yet: started a batch a loop turn
	 * (task_start_some), so that a task of 1,000 domains does not hold
	 * the loop for the seconds 1,000 spawns take. */
	TAILQ_HEAD(child_start, child) to_start;
	size_t done;		/* directives done */
	bool dirty;		/* the step is due on the next loop turn */
	/* What its rounds spent (rounds, tokens, cost): read from the
	 * registry once, then kept up as rounds are stored, so the budget
	 * check after each round does not sum every round again. */
	struct spend rounds_spent;
	bool rounds_spent_known;
	/* What waits for a person (task_ask.c): every open question and
	 * approval, and the planner's share of them. */
	int asks_open;
	int planner_asks;
	bool asks_resume;	/* look for answers a restart left
				 * undelivered */
};

/* ---- task.c ---- */
int task_load_all(struct masterd *);
void task_free_all(struct masterd *);
struct task *task_find(struct masterd *, int64_t id);
struct domain *domain_find(const struct task *, const char *name);
/* Memory for a task or domain the registry has just stored. */
struct task *task_new(struct masterd *, int64_t id, const char *text,
    const json_t *standing, const struct budget *);
struct domain *domain_new(struct task *, int64_t id, const char *name,
    const char *prompt, const json_t *checks, const json_t *depends,
    bool submitted);

/* Write-through: the registry first; memory and an event follow only
 * when it took the change.  0, or -1 (logged). */
int task_set_state(struct task *, enum task_state, const char *reason);
int task_set_paused(struct task *, bool paused, const char *reason);
int task_set_budget(struct task *, const struct budget *);
int task_set_plan(struct task *, const json_t *plan);
int task_count_review(struct task *);
int task_add_planner_usage(struct task *, const struct usage *);
int task_mark_progress(struct task *, int64_t round);
int domain_set_depends(struct domain *, const json_t *depends);

/* The task object on the wire: the row, and "spec" as it always was. */
json_t *task_describe(const struct task *);
/* The limits set, as {"tokens": N, ...}. */
json_t *budget_describe(const struct budget *);
bool task_runnable(const struct task *);

/* A published document, declared or implemented: stored (a new version
 * unless it repeats the last, registry.h) and kept as the domain's
 * latest of its kind. */
int domain_publish(struct domain *, const json_t *doc, bool declared,
    int *version, bool *changed);
/* The domain's declared document when it is newer than its implemented
 * one, else NULL. */
const json_t *domain_declared(const struct domain *);
/*
 * For iface_unresolved: every domain's document as the unresolved set
 * reads it ({"domain": name} for the silent ones): what it provides from
 * its implemented version, what it consumes from its newest (declared or
 * implemented); and the implemented version before each.
 */
void task_documents(const struct task *, json_t **latest,
    json_t **previous);
/* For decide_interface_directives: each domain's "published",
 * "declared" and "open". */
json_t *task_domain_states(const struct task *);
/* The latest interface objects, by domain name, leaving out `except`. */
json_t *task_interfaces(const struct task *, const char *except);
json_t *task_unresolved(const struct task *);

/* The step: run decide and dispatch for the task on the next loop turn
 * (once, however many changes mark it before then). */
void task_mark(struct task *);
void task_mark_all(struct masterd *);
/* The step for c alone (it became ready): the other children are not
 * looked at. */
void task_look(struct task *, struct child *);
/* The step once more, for work of its own left (a start queue). */
void task_mark_again(struct task *);
/* Mark every task at `when` (epoch s): a directive's retry or a
 * provider's probe falls due then.  The earliest request wins. */
void tasks_wake_at(struct masterd *, double when);
void task_step_init(struct masterd *);

/* ---- task_queue.c ---- */
int task_load_directives(struct task *);
void domain_free_directives(struct domain *);
/* A directive kept in memory as the registry has just stored it. */
struct directive *directive_new(struct domain *, int64_t id,
    enum directive_source, const char *text, int priority);
/* Queue (or merge into an open twin, raising its priority): the registry
 * first.  0, or -1 with the registry's message. */
int directive_add(struct domain *, enum directive_source, const char *text,
    int priority, int64_t *id, bool *merged);
/* A state change, written through; a closed directive leaves the queue
 * (and is freed).  0, or -1 (logged) with nothing changed in memory. */
int directive_set_state(struct domain *, struct directive *,
    enum directive_state, const char *reason);
/* Highest priority, then oldest, queued directive; NULL if none. */
struct directive *directive_next(const struct domain *);
/* The same among those due at now (not_before passed); *wake is set to
 * the earliest not_before still ahead, if one is (else left alone). */
struct directive *directive_due(const struct domain *, double now,
    double *wake);
/*
 * A directive put back in the queue after its start ended without
 * success: it waits until not_before (0: none), and with uncount that
 * start is not counted against directive_attempts (the provider's
 * outage, not the directive's fault).  Written through.
 */
int directive_defer(struct domain *, struct directive *, double not_before,
    bool uncount);
struct directive *directive_find(const struct task *, int64_t id,
    struct domain **);
size_t task_open_directives(const struct task *);

/* ---- task_dispatch.c ---- */
void task_step(struct task *);
void task_assign(struct child *);
/* The publisher's new interface to the task's other domains. */
void task_send_peers(struct task *, const char *publisher);
void task_cancel_work(struct masterd *, const struct task *);
void task_ask_planner(struct task *, const char *kind, json_t *context);

/* ---- task_messages.c ---- */
/* The plan in t->plan taken: its domains added, the task building. */
void task_plan_go(struct task *);
/* The domain's branch into main (an accepted round, or its approval). */
void task_merge_domain(struct task *, const char *domain,
    const char *summary);

/* ---- task_ask.c ---- */
/* At load: the counts of what waits, from the registry. */
void task_asks_load(struct task *);
/* [task] approve names what ("plan" or "merge"). */
bool task_gate(const struct task *, const char *what);
/* who ("planner" or a domain) asks the user: [{"text","assumption"}];
 * context: the directive it asked in, or NULL.  How many were stored. */
int task_ask_questions(struct task *, const char *who, const char *context,
    const json_t *questions);
/* A plan (who "planner") or a merge (who the domain, commit) waits. */
int task_ask_approval(struct task *, const char *what, const char *who,
    const char *commit, const char *summary);
/* For the planner's plan request: {"answers": [...], "rejected_plans":
 * [...]}, each member only when there is one. */
json_t *task_plan_feedback(struct task *);
/* Questions past their deadline expire: the asker goes on. */
void task_asks_tick(struct task *);
void task_planner_ready(struct child *);
void task_plan(struct task *);
void task_check_limits(struct task *);
/* Pause for a limit (a budget, the watchdog, integration): the reason
 * logged, the calls in flight cancelled, a task.limit event. */
void task_limit(struct task *, const char *why);
int task_over_budget(struct task *, char *why, size_t len);
/* A round was stored: count what it spent (its "usage"), and the
 * round itself unless it is round 0. */
void task_count_round(struct task *, const json_t *round_msg);

/* ---- task_requests.c ---- */
int task_add_directive(struct task *, const char *domain,
    enum directive_source, const char *text, int priority, json_t **out,
    char *err, size_t errlen);
int task_add_planned(struct task *, const json_t *domain, char *err,
    size_t errlen);
void task_finish(struct task *, enum task_state, const char *reason);
void task_pause_for(struct task *, const char *why);
void task_start_domains(struct task *);
/* From the step: start the next batch of the task's queued children. */
void task_start_some(struct task *);

/* ---- task_integrate.c ---- */
/* At load: the task's checks, its last run, main's commit. */
void task_integration_load(struct task *, const json_t *row);
void task_integration_free(struct task *);
enum integration_status task_integration_status(const struct task *);
/* main moved (a merge): a run once integration_delay has passed. */
void task_integration_soon(struct task *, const char *commit);
/* From the step: a run that is due, or that the task's life asks for. */
void task_integration_due(struct task *);
int task_integration_run(struct task *);
/* Main fails: contract failures to their providers, the rest to the
 * planner to attribute. */
void task_integration_attribute(struct task *);
void task_integration_stuck(struct task *);
/* The planner's attribution (plan.result kind "attribute"). */
void task_integration_attributed(struct task *, bool ok, const json_t *plan,
    const char *why);
/* The plan's or a review's integration_checks, added. */
void task_integration_add_checks(struct task *, const json_t *commands);
/* masterctl's view, and a review's evidence. */
json_t *task_integration_describe(const struct task *);
json_t *task_integration_evidence(const struct task *);
void task_integrator_ready(struct child *);
void task_integrator_result(struct child *, struct task *, const json_t *);
void task_integrator_down(struct child *, struct task *);
/* A user's resume starts the attempts afresh. */
void task_integration_reset(struct task *);

/* ---- task_messages.c ---- */
/* The unresolved set turned into directives, unwanted ones dropped. */
void task_on_publish(struct task *);

/* <state>/tasks/<id>/repo.git, where the children's branches meet. */
void task_gitdir(const struct masterd *, int64_t task, char *buf,
    size_t len);

#endif
