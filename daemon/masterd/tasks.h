/*
 * tasks.h — a task's life in the master: creating its domains, starting
 * their children, handing them work, and taking their answers into the
 * registry.
 */
#ifndef DAEMON_TASKS_H
#define DAEMON_TASKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "proto/msg.h"

struct masterd;
struct child;

/*
 * The calls that can be refused return 0, or one of these with a message
 * in err; tasks_errcode() gives the control protocol's error code.
 */
enum tasks_error {
	TASKS_EINVAL = -1,	/* the request itself is wrong */
	TASKS_ENOENT = -2,	/* no such task or domain */
	TASKS_ECONFLICT = -3,	/* not in this state (over, exists) */
	TASKS_ESTORAGE = -4,	/* the registry failed */
};
const char *tasks_errcode(int rc);

/* Create a task from a validated submit request; starts its children. */
int tasks_submit(struct masterd *, const json_t *req, int64_t *id,
    char *err, size_t errlen);
/* At start-up: restart the children of every unfinished task. */
void tasks_resume_all(struct masterd *);
int tasks_cancel(struct masterd *, int64_t task, char *err, size_t errlen);
/* task 0: every unfinished task.  Returns how many changed. */
int tasks_set_paused(struct masterd *, int64_t task, bool paused);
int tasks_add_domain(struct masterd *, int64_t task, const char *name,
    const char *prompt, char *err, size_t errlen);
int tasks_add_directive(struct masterd *, int64_t task, const char *domain,
    const char *source, const char *text, int priority, json_t **out,
    char *err, size_t errlen);
/* The periodic housekeeping: limits, and work a failed write left. */
void tasks_tick(struct masterd *);
/* Hand queued directives to idle children of the task (0: all tasks). */
void tasks_kick(struct masterd *, int64_t task);

/* For engine.c */
bool tasks_state_over(const char *state);
void tasks_set_state(struct masterd *, int64_t task, const char *state,
    const char *reason);
/* Pause with a reason (a limit), cancelling the calls in flight. */
void tasks_pause_for(struct masterd *, int64_t task, const char *why);
/* End the task: done, failed or cancelled; its children stop. */
void tasks_finish(struct masterd *, int64_t task, const char *state,
    const char *reason);
/* Add a domain from a plan or review: {"name","prompt","checks",
 * "depends"}; starts its child and queues its first directive. */
int tasks_add_planned(struct masterd *, int64_t task, const json_t *domain,
    char *err, size_t errlen);

/* From supervise.c */
void tasks_child_ready(struct child *);
void tasks_child_message(struct child *, const struct msg_spec *,
    json_t *msg);
void tasks_child_down(struct child *);

#endif
