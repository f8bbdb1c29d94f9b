/*
 * tasks.h — what the rest of masterd asks of the task core (task.h):
 * commands.c the users' requests, supervise.c children's messages and
 * their life, main.c start-up, the tick and the end.
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

/*
 * The limits of what users (and the planner) give a task: one value each,
 * checked at the control socket's door (commands.c) and where the task
 * core takes the value (task_requests.c), whichever command sets it.
 */
#define TASK_TEXT_MAX	(64 * 1024)	/* a task's or a directive's text */
#define TASK_PROMPT_MAX	(64 * 1024)	/* a domain's prompt */
/*
 * Domains of one task: the 1,000 issue #16 measures, to a round number.
 * Kept because every domain is a process (two while it works), three
 * descriptors in masterd, and a peer in each task.assign, whose every
 * interface must fit one frame (16 MiB of max_frame over 1,024 is
 * 16 KiB each); past it the cost per domain has not been measured.
 */
#define TASK_DOMAINS_MAX 1024
#define TASK_STANDING_MAX 64		/* standing directives of a submit */
#define TASK_PRIORITY_MIN (-1000)	/* a directive's priority */
#define TASK_PRIORITY_MAX 1000

/* Create a task from a validated submit request; starts its children.
 * staged: with the request's "import", the repository built from the
 * imported pack (main at import.commit), moved in as the task's; else
 * NULL. */
int tasks_submit(struct masterd *, const json_t *req, const char *staged,
    int64_t *id, char *err, size_t errlen);
/* At start-up: load every task, restart the children of the unfinished. */
void tasks_resume_all(struct masterd *);
/* At the end: the step's handle closed, the tasks freed. */
void tasks_close(struct masterd *);
int tasks_cancel(struct masterd *, int64_t task, char *err, size_t errlen);
/* task 0: every unfinished task.  Returns how many changed (those
 * already so are left alone), or a refusal: a task that is over. */
int tasks_set_paused(struct masterd *, int64_t task, bool paused,
    char *err, size_t errlen);
int tasks_add_domain(struct masterd *, int64_t task, const char *name,
    const char *prompt, char *err, size_t errlen);
/* A user's directive. */
int tasks_add_directive(struct masterd *, int64_t task, const char *domain,
    const char *text, int priority, json_t **out, char *err, size_t errlen);
/* Raise or lower the task's limits; a pause for a limit that no longer
 * holds ends. */
int tasks_set_budget(struct masterd *, int64_t task, const json_t *budget,
    char *err, size_t errlen);
/* md->setup_problem set: every unfinished task paused with it; unset:
 * the tasks it paused resumed. */
void tasks_setup_gate(struct masterd *);
/* A person in the loop (task_ask.c): the open questions and approvals
 * (task 0: every task's), an answer, a question's deadline (seconds from
 * now; 0: at once, the asker goes on with its assumption; < 0: none;
 * *out the row), an approval or a rejection (id 0: the task's oldest
 * open approval; *out the row). */
json_t *tasks_asks(struct masterd *, int64_t task);
int tasks_answer(struct masterd *, int64_t question, const char *text,
    char *err, size_t errlen);
int tasks_question_deadline(struct masterd *, int64_t question,
    double seconds, json_t **out, char *err, size_t errlen);
int tasks_approve(struct masterd *, int64_t task, int64_t approval, bool ok,
    const char *reason, json_t **out, char *err, size_t errlen);
/* The periodic housekeeping: limits, and work a failed write left. */
void tasks_tick(struct masterd *);

/* Reads for commands.c, from memory: NULL / false when no such task. */
json_t *tasks_describe(struct masterd *, int64_t task);
json_t *tasks_list(struct masterd *);		/* newest first */
bool tasks_exists(struct masterd *, int64_t task);
/* The newest task that has domain (any task when NULL); 0 when none. */
int64_t tasks_newest_with(struct masterd *, const char *domain);
json_t *tasks_interfaces(struct masterd *, int64_t task);
/* The declared versions newer than their domain's implemented one. */
json_t *tasks_declared(struct masterd *, int64_t task);
json_t *tasks_unresolved(struct masterd *, int64_t task);
/* The task's integration: its status, commands and latest runs. */
json_t *tasks_integration(struct masterd *, int64_t task);

/* From supervise.c */
void tasks_child_ready(struct child *);
void tasks_child_message(struct child *, const struct msg_spec *,
    json_t *msg);
void tasks_child_down(struct child *);
/* c is about to be freed: out of its task's look queue. */
void tasks_child_released(struct child *);

#endif
