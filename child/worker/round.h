/*
 * round.h — one directive's rounds as a state machine.
 *
 *   ASK_MODEL ─▶ TOOLS ─▶ ASK_MODEL ─▶ … ─▶ TOOLS (finish) ─▶ CHECKS
 *   ASK_MODEL ─▶ APPLY (a JSON answer) ─────────────────────▶ CHECKS
 *   CHECKS ─▶ CRITIC ─▶ COMMIT ─▶ PUBLISH ─▶ DONE
 *
 *   an unusable answer (not JSON, no tool call, cut at max_tokens)
 *                              ─▶ RETRY ─▶ ASK_MODEL, the same round
 *   CHECKS fail, CRITIC says incomplete
 *                              ─▶ NEXT_ROUND ─▶ ASK_MODEL, the next round
 *   a limit reached, an error, cancel  ─▶ FAILED
 *
 * A round is an agent loop when the model has tools: each answer's calls
 * are run in TOOLS (run_checks asynchronously, the others at once) and
 * their results go back with the next turn, until the model calls finish
 * with its summary and interface.  Without tools (JSON-answer mode) the
 * model answers with one JSON object whose files are written in APPLY.
 * A rejected round keeps its files: the next round fixes them; a failed
 * directive's files are kept in a snapshot and the worktree cleaned.
 *
 * round.c owns the order of the stages and every decision between them;
 * the work itself (the model, the tools, the files, the checks, the
 * critic, git, the channel to the master) sits behind struct round_ops,
 * so that the whole machine runs in unit tests with canned answers.  The
 * asynchronous operations end by calling round_answer(),
 * round_checks_done() or round_verdict(); the machine then takes its next
 * steps.
 *
 * Every round played is reported (`round`); the report that ends the
 * directive carries "final": true, and "round": 0 when no round was
 * played to its end (cancelled, rate limited, nothing asked).
 */
#ifndef CHILD_WORKER_ROUND_H
#define CHILD_WORKER_ROUND_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "child/worker/answer.h"
#include "child/worker/checks.h"
#include "child/worker/critic.h"
#include "common/llm/llm.h"
#include "common/repo.h"

enum round_stage {
	ROUND_ASK_MODEL,	/* send the turn; wait for the answer */
	ROUND_TOOLS,		/* run the answer's tool calls */
	ROUND_APPLY,		/* parse a JSON answer, write its files */
	ROUND_RETRY,		/* the answer was unusable: ask again */
	ROUND_CHECKS,		/* run the check commands; wait */
	ROUND_CRITIC,		/* ask the critic; wait */
	ROUND_COMMIT,		/* the critic approved: commit */
	ROUND_PUBLISH,		/* publish the committed interface */
	ROUND_NEXT_ROUND,	/* report a rejected round, play the next */
	ROUND_DONE,		/* the final report: success */
	ROUND_FAILED,		/* the final report: failure */
	ROUND_NSTAGES
};

const char *round_stage_name(enum round_stage);

struct round;

struct round_ops {
	/* Send text (NULL: the tool results alone) to the domain's model,
	 * with the tool results given since the last send; round_answer()
	 * follows.  -1 if it could not be sent (nothing follows). */
	int (*ask_model)(struct round *, const char *text);
	/* Tool mode: run one synchronous tool call; the text for the model
	 * (malloc'd), *is_error when it failed. */
	char *(*run_tool)(struct round *, const struct llm_tool_call *,
	    bool *is_error);
	/* Keep a call's result for the next send to the model. */
	void (*tool_result)(struct round *, const struct llm_tool_call *,
	    const char *content, bool is_error);
	/* The server refused the tools: go on in JSON-answer mode; the
	 * first turn of that mode for this directive (malloc'd). */
	char *(*drop_tools)(struct round *);
	/* Write a JSON answer's files; NULL, or why one was refused
	 * (taken). */
	char *(*apply_files)(struct round *, const struct answer *);
	/* Start the checks: 1 when there are none to run, 0 when started
	 * (round_checks_done() follows), -1 on failure.  proposed: the
	 * model's own proposals (a finished answer's), or NULL. */
	int (*run_checks)(struct round *, const struct answer *proposed);
	/* Ask the critic about the worktree's change and the check results;
	 * round_verdict() follows.  -1 with an error code and err if it
	 * could not be asked. */
	int (*ask_critic)(struct round *, const json_t *checks,
	    const char **code, char *err, size_t errlen);
	/* Commit the worktree with this message and canonical interface
	 * (or NULL): 0, REPO_UNCHANGED, or -1 with err. */
	int (*commit)(struct round *, const char *message, const json_t *iface,
	    char oid[REPO_OID_HEX], char *err, size_t errlen);
	/* Keep the directive's files in a snapshot and clean the worktree. */
	void (*roll_back)(struct round *, const char *why);
	/* Send the canonical interface to the master if it changed since
	 * the last of its kind: declared (what the answer says the domain
	 * will provide and consume, before its checks) or implemented (what
	 * was just committed). */
	void (*publish)(struct round *, const json_t *iface, bool declared);
	/* Send the body of a `round` message (taken). */
	void (*report)(struct round *, json_t *msg);
	/* Stop the model call, the checks or the critic in flight; their
	 * completion follows, cancelled. */
	void (*cancel)(struct round *);
	void (*progress)(struct round *, const char *stage, const char *text);
	uint64_t (*now_ms)(struct round *);
	/* The directive has ended: the owner may free the round. */
	void (*done)(struct round *);
};

struct round_limits {
	int max_rounds;		/* rounds per directive */
	int max_invalid;	/* unusable answers per round */
	int max_calls;		/* tool calls per round: past it the model is
				 * told to finish; past twice it, the round
				 * fails */
};

struct round {
	const struct round_ops *ops;
	void *arg;			/* the owner's */
	struct round_limits lim;
	const char *domain;
	int64_t task;
	int64_t directive;
	char *text;			/* the directive's text */
	bool tools;			/* an agent loop, else JSON answers */

	enum round_stage stage;
	int round;			/* 1..max_rounds */
	int invalid;			/* unusable answers in this round */
	bool waiting;			/* on the model, the checks, the critic */
	bool stepping;			/* inside round_step */
	bool cancelled;
	bool ended;

	char *turn;			/* the next text for the model */
	char *reply;			/* the model's last answer */
	char *problem;			/* why the answer was unusable */
	char *feedback;			/* why the round was rejected */
	const char *fail_stage;		/* where a rejected round ended */
	struct answer answer;
	bool have_answer;
	struct llm_tool_call *calls;	/* the answer's calls, owned */
	size_t ncalls;
	size_t next_call;		/* TOOLS: the call to run next */
	bool checks_for_tool;		/* CHECKS run for a run_checks call */
	int round_calls;		/* tool calls in this round */
	char *limit;			/* a limit the round hit, for the report */
	char model[128];		/* who answered last, for the report */
	char provider[40];		/* and through which provider: "llm"
					 * or an [llm "NAME"] fallback */
	char critic_model[128];
	json_t *check_json;		/* this round's check results */
	json_t *iface;			/* the canonical interface to commit */
	char commit[REPO_OID_HEX];	/* "" when nothing changed */

	/* the outcome, for the final report */
	const char *end_stage;
	const char *error_code;		/* NULL on success */
	char *error;
	time_t until;			/* provider_down: the provider's own
					 * time to come back, if it said */
	bool end_unplayed;		/* no round played: "round": 0 */

	struct llm_usage usage;		/* the whole directive */
	struct llm_usage round_usage;	/* this round */
	uint64_t round_started_ms;
};

/* A directive's rounds, not started; tools: an agent loop. */
struct round *round_new(const struct round_ops *, void *arg,
    const struct round_limits *, const char *domain, int64_t task,
    int64_t directive, const char *text, bool tools);
void round_free(struct round *);

/* Play the rounds, the first with this text for the model (taken). */
void round_start(struct round *, char *first_turn);

/* Run the stages until the machine waits or the directive ends. */
void round_step(struct round *);

/*
 * End a directive before its rounds start: a final report with the commit
 * (success) or the error code, as round 0 (none played), or as the round
 * of an earlier run that committed it already.
 */
void round_end_early(struct round *, int round, const char *stage,
    const char *commit, const char *error_code, const char *error);

/* Completions of the asynchronous operations. */
void round_answer(struct round *, const struct llm_result *);
void round_checks_done(struct round *, const struct check_result *,
    size_t n, bool passed, bool cancelled);
void round_verdict(struct round *, const struct critic_verdict *);

/* Stop what is in flight; the directive ends, cancelled. */
void round_cancel(struct round *);

#endif
