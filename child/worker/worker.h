/*
 * worker.h — masterd-worker's context and the calls between its files.
 * (masterd-child itself is relay.c alone: it starts a worker when there
 * is work.)
 *
 *   main.c    arguments, configuration, the channel to the relay, the loop
 *   work.c    the queue of directives: start, cancel, resume
 *   round.c   a directive's rounds as a state machine: ask the model,
 *             apply its files, run the checks, ask the critic, commit,
 *             publish the interface, report
 *   roundops.c  the round's operations on this worker (model, tools,
 *             files, checks, critic, git, channel)
 *   context.c the conversation within its window: owed tool results,
 *             compaction, elision;  memory.c  the domain's memory file
 *   tools.c   the domain's tools and the picture of its files
 *   critic.c  the reviewer of a round
 *   plan.c    the planner role: plans and reviews for the master
 *   integrate.c  the integrator role: checks on a commit of main
 *   prompt.c  the texts sent to the model
 *   checks.c  check commands;  policy.c  their limits and sandbox from
 *             the configuration;  answer.c  parsing the model's answers
 *
 * and, in a process of its own (`--exec-check`, `--sandbox-probe`), the
 * check sandbox: checkexec.c its arguments, sandbox.c the namespaces and
 * the three processes, landlock.c and syscalls.c (confine.h) the
 * command's confinement, sandbox_probe.c what this host can build.
 */
#ifndef CHILD_WORKER_H
#define CHILD_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "child/worker/checks.h"
#include "common/config.h"
#include "common/repo.h"
#include "proto/channel.h"


struct check_result;
struct llm_callbacks;
struct llm_engine;
struct llm_request;
struct llm_session;
struct round;
struct prepare;
struct plan_job;
struct integrate_job;
struct redact;
struct failover;

struct worker {
	uv_loop_t *loop;
	struct channel ch;
	uv_signal_t sig_term;
	uv_timer_t progress_timer;	/* throttles streamed deltas */
	json_int_t next_id;

	/* who and where */
	const char *domain;
	int64_t task;
	char *self;			/* this executable, for --exec-check */
	char *state_dir;
	char *task_dir;			/* <state>/tasks/<task> */
	char *gitdir;			/* <task_dir>/repo.git */
	char *worktree;			/* <task_dir>/domains/<domain> */
	char *session_path;		/* <task_dir>/sessions/<domain>.json */
	char *integration_dir;		/* <task_dir>/integration */
	char *prompts_dir;

	/* configuration */
	struct masterd_conf *conf;
	struct llm_conf llm;
	int max_rounds;			/* per directive */
	int max_invalid;		/* invalid answers per round */
	int max_tool_calls;		/* per round */
	int64_t history_tokens;		/* a directive starts from a summary
					 * past this much conversation */
	bool tools;			/* an agent with tools, else JSON
					 * answers (config, or the server
					 * refused tools) */

	/* the model */
	struct llm_engine *engine;
	struct llm_session *session;
	struct failover *fo;		/* the session's providers */
	json_t *providers_down;		/* masterd's last word on them */
	char probe[320];		/* the endpoint this work may probe,
					 * once (failover.h), or "" */
	struct redact *redact;		/* the API keys this worker may use:
					 * kept out of every message it
					 * sends, every request, every file
					 * it writes, every check result */

	/* the work */
	json_t *assign;			/* last task.assign */
	json_t *peers;			/* latest peer interfaces */
	json_t *published;		/* our last published interface */
	json_t *declared;		/* our last declared interface */
	json_t *own_iface;		/* the committed one, for prompts */
	char peers_at[REPO_OID_HEX];	/* main's commit whose peers' code
					 * the worktree has; "" unknown */
	json_t *pending;		/* tool results owed to the model */
	json_t *shown;			/* paths whose content the model has
					 * seen: {path: true} */
	json_t *changed;		/* paths this directive changed */
	json_t *asked;			/* ask_user's questions this
					 * directive, for its final round */
	json_t *recent;			/* and those the last one did */
	size_t directive_turn;		/* the session turn the directive
					 * began at; -1 between directives */
	json_t *queue;			/* directive messages not started */
	struct round *round;		/* the directive in progress */
	struct prepare *preparing;	/* its tree being prepared off the
					 * loop (work.c), or NULL */
	struct plan_job *planning;	/* the planner's request in progress */
	struct integrate_job *integrating; /* the run in progress */
	bool planner;			/* --role planner */
	bool integrator;		/* --role integrator */

	/* streamed text waiting for the next progress message */
	size_t delta_bytes;
	char delta_tail[160];
	bool delta_pending;

	bool stopping;
	int exit_code;
};

json_int_t worker_next_id(struct worker *);
int worker_send(struct worker *, json_t *msg);	/* steals msg; redacts */
void worker_progress(struct worker *, const char *stage, const char *text);
void worker_stop(struct worker *, int code);
/* Check output is what code we did not write printed: redacted before
 * anyone reads it (in place, in the run's results). */
void worker_redact_checks(const struct worker *,
    const struct check_result *, size_t n);

/* work.c */
/* The session, opened on first use with the system prompt system_of()
 * writes (resuming a restarted child's conversation): 0, or -1 with err. */
int worker_ensure_session(struct worker *,
    char *(*system_of)(const struct worker *, char *, size_t), char *err,
    size_t errlen);
void work_assign(struct worker *, const json_t *msg);
void work_peers(struct worker *, const json_t *msg);
void work_directive(struct worker *, const json_t *msg);
void work_cancel(struct worker *, const json_t *msg);
void work_shutdown(struct worker *);
/* The model's streamed text, throttled into progress messages. */
void work_delta(struct worker *, const char *piece, size_t len);
void work_flush_delta(struct worker *);
/* A new answer streams (a new call, or a retry after a failed attempt):
 * the count and the tail start from zero, unsent text of the last is
 * dropped. */
void work_delta_reset(struct worker *);
void work_publish(struct worker *, const json_t *canonical_iface,
    bool declared);
void work_round_done(struct worker *);

/*
 * The interface travels with the code: <domain>/.interface.json in each
 * commit, so that a worker that restarts after committing (before the
 * master heard of it) can still publish what it committed.
 */
#define WORKER_INTERFACE_FILE ".interface.json"

/* context.c */
void worker_tool_result(struct worker *, const char *id, const char *name,
    const char *content, bool is_error);
/* Send text (NULL: results alone) with the owed results, within the
 * window: 0 and *slot set, or -1 (nothing follows). */
int context_send(struct worker *, const char *text,
    const struct llm_callbacks *, void *arg, struct llm_request **slot);
void context_directive_end(struct worker *, int64_t directive, bool ok,
    const char *summary);

/* memory.c */
char *memory_read(const struct worker *);	/* NULL: none */
/* A new summary (NULL: keep), and/or one more directive line (NULL). */
void memory_update(const struct worker *, const char *summary,
    const char *line);

/* work.c: the server refused tools; the JSON-mode first turn of msg */
char *worker_drop_tools(struct worker *, const json_t *msg);

/* roundops.c: a directive's rounds on this worker (msg taken) */
struct round *work_round_new(struct worker *, json_t *msg);
void work_round_free(struct round *);
void work_snapshot_label(char *buf, size_t len, int64_t directive,
    int round, const char *why);

/* plan.c: the planner role */
void plan_request(struct worker *, const json_t *msg);

/* integrate.c: the integrator role */
void integrate_request(struct worker *, const json_t *msg);
/* Kill the running command; the result says "cancelled". */
void integrate_cancel(struct worker *);

/*
 * policy.c: the limits and sandbox of this worker's check runs, from the
 * configuration ([checks], [masterd] sandbox and sandbox_read, the
 * domain's network and env; the integrator gets neither).  lim borrows
 * from the configuration and owns hide[]: free it after checks_run(),
 * which copies what it keeps.
 */
struct check_policy {
	struct check_limits lim;
	char **hide;		/* the state directory, key files, the
				 * credentials directory */
	size_t nhide;
};
/* prompt.c: the domain's folder in the tree (its name unless
 * task.assign names an existing folder). */
const char *worker_folder(const struct worker *);
void check_policy_init(struct check_policy *, const struct worker *);
void check_policy_free(struct check_policy *);
/* With sandbox = off only the operator's own commands run: the domain's
 * [domain] check lines, the integrator's [task] integration_check. */
bool check_policy_allows(const struct worker *, const char *command);
/* Keep in cmds, in order, the commands the policy allows; the count.
 * warn: log and report as progress the ones dropped. */
size_t check_policy_keep(struct worker *, char **cmds, size_t n,
    bool warn);

/* prompt.c: malloc'd texts; the system prompts are NULL with err when
 * their file cannot be read, the turns never */
char *prompt_system(const struct worker *, char *err, size_t errlen);
char *prompt_critic_system(const struct worker *, char *err,
    size_t errlen);
char *prompt_compact_system(const struct worker *, char *err,
    size_t errlen);
/* A directive's first turn: the domain's files as a map (tools), or with
 * their content within a budget (JSON answers). */
char *prompt_first_turn(struct worker *, const json_t *directive);
char *prompt_critic_turn(const struct worker *, const json_t *directive,
    const char *diff, const json_t *checks);
char *prompt_planner_system(const struct worker *, char *err,
    size_t errlen);
char *prompt_planner_turn(const struct worker *, const char *kind,
    const json_t *context);

#endif
