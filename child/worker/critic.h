/*
 * critic.h — the reviewer of a domain's round: a session of its own (the
 * critic's model, which may be cheaper than the domain's), a diff that fits
 * its window, and a verdict that is read, never guessed.
 *
 * The diff is sent whole when it fits the critic's budget; otherwise each
 * file is summarised (path, lines added and removed) and the changed hunks
 * that fit are shown, so that a large change never fails a directive for
 * size alone.  An answer that is not a verdict is asked for again (at most
 * CRITIC_MAX_ASKS times); a round is approved only by a verdict that says
 * so.
 */
#ifndef CHILD_WORKER_CRITIC_H
#define CHILD_WORKER_CRITIC_H

#include <stdbool.h>

#include <jansson.h>

#include "common/llm/llm.h"

#define CRITIC_MAX_ASKS	3

struct worker;
struct critic;

struct critic_verdict {
	bool ok;		/* a verdict was read */
	bool complete;		/* ok: the critic approves */
	const char *feedback;	/* ok: what is missing, or "" */
	const char *model;	/* the model that answered, or "" */
	struct llm_usage usage;	/* every ask summed */
	/* !ok: why, as a round's error code and message */
	const char *code;	/* "cancelled", "provider_down", "model",
				 * "unreadable_verdict", "config" */
	const char *message;
	enum llm_error error;
	time_t retry_until;
};

typedef void critic_done_fn(const struct critic_verdict *, void *arg);

/*
 * Ask the critic about the worktree's change for the directive message
 * and its check results.  done follows exactly once (not before this
 * returns).  NULL with code and err when it cannot be asked at all.
 */
struct critic *critic_ask(struct worker *, const json_t *directive,
    const json_t *checks, critic_done_fn *done, void *arg,
    const char **code, char *err, size_t errlen);

/* Stop the critic's call: done follows, cancelled. */
void critic_cancel(struct critic *);

/*
 * What follows the critic's answer res to its ask number `asks` (from 1):
 *   CRITIC_STEP_DONE: *v holds a verdict (ok) or why there is none
 *     (cancelled, the call's failure, or "unreadable_verdict" once
 *     CRITIC_MAX_ASKS asks gave none);
 *   CRITIC_STEP_ASK: *text is the turn that asks again, in the same
 *     session, saying what was wrong.
 * *text is malloc'd or NULL, for the caller to free; v's feedback and
 * message point into it or are static.  v's usage and model are left to
 * the caller.  (Pure: unit-tested on its own.)
 */
enum critic_step {
	CRITIC_STEP_DONE,
	CRITIC_STEP_ASK,
};

enum critic_step critic_next(const struct llm_result *res, unsigned asks,
    struct critic_verdict *v, char **text);

/*
 * The diff for a budget of bytes: whole when it fits, else a per-file
 * summary (path, +added -removed) followed by the hunks that fit, each
 * file's first, and a note per file of the hunks not shown; a hunk is
 * never cut but one larger than all the room, shown as its first lines
 * with a note.  The result stays within budget when the summary does;
 * else it is the summary's first line and the file lines that fit.
 * Malloc'd.  (Pure: unit-tested on its own; critic_diff.c.)
 */
char *critic_fit_diff(const char *diff, size_t budget);

#endif
