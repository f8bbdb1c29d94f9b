/*
 * registry.h — masterd's durable state in one SQLite database.
 *
 * Tasks, their domains, every published interface version (append-only,
 * with a content hash), directives and events.  WAL mode, foreign keys on,
 * schema versioned by PRAGMA user_version with forward migrations, prepared
 * statements kept for the life of the handle.  Every write is committed
 * before the call returns, so what the master acknowledges survives kill -9;
 * inside a batch, when registry_batch_end returns.  Rows that only record
 * what is going on (events, a child's state) commit without their own
 * fsync; the next synced commit makes them durable too.
 *
 * Reads return new jansson values ready to be sent to masterctl; the caller
 * owns them.  Functions returning int give 0 on success, -1 on a storage
 * error (logged, message in registry_errmsg()), and REG_NOT_FOUND where it
 * says so.
 */
#ifndef DAEMON_REGISTRY_H
#define DAEMON_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "proto/vocab.h"

#define REG_NOT_FOUND 1

struct registry;

/* A task's own limits; a key not in set uses the configured default. */
struct budget {
	double limit[BUDGET_KEY_COUNT];
	unsigned set;			/* 1 << enum budget_key */
};

/* What model calls used: tokens in and out, and their cost. */
struct usage {
	int64_t input;
	int64_t output;
	double cost;
};

/*
 * Open or create the database at path, apply pending migrations.  On
 * failure returns NULL with a message in err.
 */
struct registry *registry_open(const char *path, char *err, size_t errlen);
void registry_close(struct registry *);
/*
 * After each commit, fn(arg, pages) with the pages the WAL holds, in
 * place of SQLite's own checkpoint on the committing connection (the
 * caller checkpoints elsewhere: checkpoint.c).  fn NULL: SQLite's own
 * again, every 1,000 pages.
 */
void registry_on_wal(struct registry *, void (*fn)(void *arg, int pages),
    void *arg);
const char *registry_errmsg(struct registry *);
int registry_schema_version(struct registry *);
/* Statements run since open: a debug measure of what a path costs. */
uint64_t registry_calls(struct registry *);

/*
 * A batch makes the writes up to registry_batch_end one transaction, with
 * one fsync: all or nothing.  A write that fails inside it is undone alone
 * (the caller decides whether to end the batch with commit false).  A batch
 * inside a batch joins it: the outermost end commits, and rolls back all
 * if any of them ended with commit false.
 */
int registry_batch_begin(struct registry *);
int registry_batch_end(struct registry *, bool commit);

/* ---- tasks ----
 * A task row: {"id","text","state","paused","reason","created","updated",
 *              "standing","budget_tokens","budget_cost","budget_rounds",
 *              "budget_time","plan","reviews","planner_in","planner_out",
 *              "planner_cost","progress_since","planner_model",
 *              "integration_checks","integration_failures"}
 * ("reason" is null or why it paused/failed; times are Unix seconds as
 * reals; "standing" the standing directives, an array of strings; a
 * budget_* null when the task has no limit of its own; "progress_since"
 * the round id the no-progress watchdog counts from; "planner_model" the
 * model that answered the planner's latest plan or review, or null).  task.c loads rows
 * into struct task; the setters below write one change each and give
 * REG_NOT_FOUND when there is no such task.
 */
int registry_task_add(struct registry *, const char *text,
    const json_t *standing, const struct budget *, int64_t *id);
int registry_task_set_state(struct registry *, int64_t task,
    enum task_state, const char *reason);
int registry_task_set_paused(struct registry *, int64_t task, bool paused,
    const char *reason);
int registry_task_set_budget(struct registry *, int64_t task,
    const struct budget *);
int registry_task_set_plan(struct registry *, int64_t task,
    const json_t *plan);
int registry_task_set_reviews(struct registry *, int64_t task, int64_t n);
int registry_task_set_planner_usage(struct registry *, int64_t task,
    const struct usage *);
/* model NULL or "": not known. */
/* The task's own integration checks (an array of commands) and its
 * failing runs attributed in a row. */
int registry_task_set_integration_checks(struct registry *, int64_t task,
    const json_t *checks);
int registry_task_set_integration_failures(struct registry *, int64_t task,
    int64_t n);
int registry_task_set_planner_model(struct registry *, int64_t task,
    const char *model);
int registry_task_set_progress(struct registry *, int64_t task,
    int64_t round);
json_t *registry_task_get(struct registry *, int64_t task);	/* or NULL */
json_t *registry_tasks(struct registry *);		/* array, newest first */
/* Ids of tasks not in a terminal state, oldest first (for resume). */
json_t *registry_tasks_unfinished(struct registry *);

/* ---- domains ----
 * A domain object: {"id","task","name","state","reason","prompt","checks",
 *                   "restarts","created","updated"}
 * (name, task) is unique.
 */
int registry_domain_add(struct registry *, int64_t task, const char *name,
    const char *prompt, const json_t *checks, const json_t *depends,
    bool submitted, int64_t *id);
int registry_domain_set_state(struct registry *, int64_t domain,
    enum domain_state, const char *reason);
/* The domains it waits for: an array of names. */
/* Issue #18: the imported repository a task started from
 * ({"origin","branch","commit"}), and a domain's own folder (NULL:
 * <name>/). */
int registry_task_set_import(struct registry *, int64_t task,
    const json_t *import);
int registry_domain_set_folder(struct registry *, int64_t domain,
    const char *folder);
int registry_domain_set_depends(struct registry *, int64_t domain,
    const json_t *depends);
/* The task's domains as the task core loads them: the domain objects
 * plus "submitted" (named at submit) and "depends". */
json_t *registry_domains_load(struct registry *, int64_t task);
int registry_domain_count_restart(struct registry *, int64_t domain);
/* REG_NOT_FOUND when the task has no such domain. */
int registry_domain_find(struct registry *, int64_t task, const char *name,
    int64_t *id);
json_t *registry_domain_get(struct registry *, int64_t domain);
/* task 0: every domain of every task. */
json_t *registry_domains(struct registry *, int64_t task);

/* ---- interfaces (append-only) ----
 * An interface object: {"id","task","domain","version","hash","created",
 *                       "document","declared"}   ("domain" is the domain's
 * name; "declared": what the domain says it will provide and consume,
 * else what an accepted commit implements).  Versions are one sequence
 * per domain, both kinds.  Adding a document that repeats the domain's
 * newest version (a declared one) or its newest implemented version (an
 * implemented one) stores nothing and sets *changed = false; otherwise
 * version = the newest + 1.
 */
int registry_interface_add(struct registry *, int64_t domain,
    const json_t *document, bool declared, int *version, bool *changed);
/* version 0 means the newest, of either kind; NULL when none. */
json_t *registry_interface_get(struct registry *, int64_t domain, int version);
/* The newest version of one kind below `before` (0: any); NULL when
 * none. */
json_t *registry_interface_latest(struct registry *, int64_t domain,
    bool declared, int before);
/* The latest version of each domain of the task, an array by domain name. */
json_t *registry_interfaces_latest(struct registry *, int64_t task);
int registry_interface_count(struct registry *, int64_t task, int64_t *n);

/* ---- directives ----
 * A directive object: {"id","task","domain","source","text","priority",
 *                      "state","attempts","reason","created","updated"}
 * ("domain" is the domain's name, null for a directive to the whole task:
 * domain 0 when adding).
 * Adding a directive whose (domain, text) equals an open one (queued or
 * running) merges into it: no new row, *merged = true, *id = the open one,
 * and its priority is raised to the higher of the two.
 */
int registry_directive_add(struct registry *, int64_t task, int64_t domain,
    enum directive_source, const char *text, int priority, int64_t *id,
    bool *merged);
int registry_directive_set_state(struct registry *, int64_t directive,
    enum directive_state, const char *reason);
json_t *registry_directive_get(struct registry *, int64_t directive);
/* Highest priority, then oldest, queued directive of the domain; NULL if
 * none. */
json_t *registry_directive_next(struct registry *, int64_t domain);
/* task 0: all; domain 0: every domain of the task. Oldest first. */
json_t *registry_directives(struct registry *, int64_t task, int64_t domain);

/* ---- events ----
 * An event object: {"seq","ts","task","domain","event","data"}
 * (task/domain null when not about one).
 */
int registry_event_add(struct registry *, int64_t task, const char *domain,
    const char *event, const json_t *data, int64_t *seq);
/* Events after seq (0: from the start), oldest first, at most limit. */
json_t *registry_events(struct registry *, int64_t task, int64_t after_seq,
    int limit);
/* The newest limit events, oldest first: a look back that costs what it
 * returns, however many events the task has. */
json_t *registry_events_newest(struct registry *, int64_t task, int limit);

/* ---- rounds ----
 * One row per round a child reports (a `round` message: round, ok, stage,
 * commit, error.message, summary, checks, usage{input,output,cached,cost},
 * duration_ms, model, critic_model).  A round object: {"id","task",
 * "domain","directive","round","ok","stage","commit","error","summary",
 * "checks","tokens_in","tokens_out","tokens_cached","cost","duration_ms",
 * "created","model","critic_model"} (a model null when none was said).
 */
/* A directive put back in its queue waits until not_before (epoch s;
 * 0: none); uncount: the start that ended is not counted against it. */
int registry_directive_defer(struct registry *, int64_t directive,
    double not_before, bool uncount);

/* A provider masterd holds down (provider.c): one row each, removed
 * when it answers again.  registry_providers: [{PROVIDER_COLS}]. */
struct provider_row {
	const char *endpoint;
	const char *name;
	double since;
	double next_try;
	int64_t failures;
	const char *reason;
};
int registry_provider_put(struct registry *, const struct provider_row *);
int registry_provider_del(struct registry *, const char *endpoint);
json_t *registry_providers(struct registry *);

int registry_round_add(struct registry *, int64_t task, int64_t domain,
    int64_t directive, const json_t *report, int64_t *id);
/* domain 0: every domain of the task.  Oldest first. */
json_t *registry_rounds(struct registry *, int64_t task, int64_t domain);
/* The task's newest n rounds, oldest first (what a review shows); costs
 * n rows, not the task's rounds. */
json_t *registry_rounds_last(struct registry *, int64_t task, int64_t n);
/* From running totals kept by triggers: costs the task's domains, not its
 * rounds.  Per domain of the task: {"domain","rounds","accepted","checks_run",
 * "checks_passed","tokens_in","tokens_out","tokens_cached","cost",
 * "duration_ms","directives_done","directives_failed","model"}: "model"
 * the model of the domain's latest round that named one, or null. */
json_t *registry_scoreboard(struct registry *, int64_t task);
/* Each of these three costs what an index lookup or a LIMIT allows, not
 * what the task has stored (they run for every round a child reports).
 * 1 if the domain of the task stored a round with this commit, 0 if not,
 * -1 on error. */
int registry_round_committed(struct registry *, int64_t task,
    int64_t domain, const char *commit);
/* The task's newest rounds after round id `after`, at most n: how many
 * there are and whether any of them made a commit. */
int registry_rounds_dry(struct registry *, int64_t task, int64_t after,
    int64_t n, int64_t *count, bool *committed);
/* Delete at most limit progress events older than before (Unix
 * seconds), oldest first; *deleted says how many went. */
int registry_events_prune(struct registry *, double before, int64_t limit,
    int64_t *deleted);
/* What the task's rounds spent: how many, tokens in + out, cost. */
int registry_task_spend(struct registry *, int64_t task, int64_t *rounds,
    int64_t *tokens, double *cost);

/* ---- integration runs ----
 * A run: {"id","task","commit","state","checks","results","error",
 *         "duration_ms","created","updated"}: the commit of main it
 * tested, its state (run_state_names), the commands asked (the
 * integrate.request's checks), each command's result in the same order,
 * why the run itself failed.  Stored when it starts, ended once.
 */
int registry_run_add(struct registry *, int64_t task, const char *commit,
    const json_t *checks, int64_t *id);
int registry_run_end(struct registry *, int64_t run, const char *state,
    const json_t *results, const char *error, int64_t duration_ms);
/* The task's newest runs first, at most max. */
json_t *registry_runs(struct registry *, int64_t task, int64_t max);
/* Every run still "running" becomes "error" with why (at start-up). */
int registry_runs_abandon(struct registry *, const char *why);

/* A consistent copy of the database at path (SQLite's online backup),
 * all at once: for tests and tools, never on the loop. */
int registry_backup(struct registry *, const char *path);

/* The same in steps, for the loop: begin (NULL and errmsg on failure),
 * step copying at most `pages` pages (1 done, 0 more to do, -1 error),
 * end (keep: the copy stays and -1 says it is unusable; otherwise it is
 * deleted).  Writes through the registry between steps are applied to
 * the copy, so at 1 it is the database as it is then. */
struct registry_copy;
struct registry_copy *registry_copy_begin(struct registry *,
    const char *path);
int registry_copy_step(struct registry_copy *, int pages);
int registry_copy_progress(const struct registry_copy *, int *remaining,
    int *total);
int registry_copy_end(struct registry_copy *, bool keep);

/*
 * A connection of its own to the database at path that only copies the
 * WAL back (a PASSIVE checkpoint: never waiting for a reader or a
 * writer), for one other thread at a time (checkpoint.c's pool work).
 * run: 0 with the WAL's pages and those copied, 1 when another
 * checkpoint held it, -1 and why in err.
 */
struct registry_ckpt;
/* The same on the registry's own connection, on the loop (0, 1, -1). */
int registry_checkpoint(struct registry *, int *wal_pages, int *copied);
struct registry_ckpt *registry_ckpt_open(const char *path, char *err,
    size_t errlen);
int registry_ckpt_run(struct registry_ckpt *, int *wal_pages, int *copied,
    char *err, size_t errlen);
void registry_ckpt_close(struct registry_ckpt *);

/* Counts for `status`: {"tasks","tasks_active","domains","interfaces",
 * "directives_open","events"}. */
json_t *registry_stats(struct registry *);

/*
 * A person in the loop (migration 11): questions asked of the user and
 * approvals waited for.  kind "question" or "approval"; who "planner" or
 * a domain's name; deadline an epoch (0: none).  registry_ask_set and
 * registry_ask_deadline change an open row only (REG_NOT_FOUND
 * otherwise).  Rows: [{ASK_COLS}].
 */
int registry_ask_add(struct registry *, int64_t task, const char *kind,
    const char *who, const char *text, const char *assumption,
    const char *context, double deadline, int64_t *id);
int registry_ask_set(struct registry *, int64_t id, const char *state,
    const char *answer);
int registry_ask_deadline(struct registry *, int64_t id, double deadline);
int registry_ask_delivered(struct registry *, int64_t id);
json_t *registry_ask_get(struct registry *, int64_t id);
/* task 0: every task's. */
json_t *registry_asks(struct registry *, int64_t task, bool open_only);

#endif
