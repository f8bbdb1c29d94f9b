/*
 * vocab.h — the daemon's vocabulary: every name masterd puts on the wire or
 * in the registry, and masterctl reads back.  Each set is an enum with one
 * name table; the strings live here and in vocab.c, nowhere else.
 *
 *  - task, domain and directive states;
 *  - directive sources (who asked for the work);
 *  - budget keys (the limits a task runs under);
 *  - events (their names and the data fields each carries);
 *  - error codes of {"ok": false, "error": {"code": ...}} and MSG_ERROR.
 *
 * vocab_find() turns a name back into its value (-1: not a name of the set).
 */
#ifndef PROTO_VOCAB_H
#define PROTO_VOCAB_H

#include <stdbool.h>

/* Task states, in life order.  Terminal: done, failed, cancelled. */
enum task_state {
	TASK_PLANNED,
	TASK_BUILDING,
	TASK_INTEGRATING,
	TASK_IMPROVING,
	TASK_DONE,
	TASK_FAILED,
	TASK_CANCELLED,
	TASK_STATE_COUNT
};

/* Domain states, as supervision records them. */
enum domain_state {
	DOMAIN_STOPPED,
	DOMAIN_STARTING,
	DOMAIN_RUNNING,
	DOMAIN_BACKOFF,
	DOMAIN_FATAL,
	DOMAIN_DONE,
	DOMAIN_STATE_COUNT
};

/* Directive states: queued and running are open. */
enum directive_state {
	DIRECTIVE_QUEUED,
	DIRECTIVE_RUNNING,
	DIRECTIVE_DONE,
	DIRECTIVE_FAILED,
	DIRECTIVE_DROPPED,
	DIRECTIVE_STATE_COUNT
};

/* Who queued a directive. */
enum directive_source {
	SOURCE_PLAN,		/* a domain's first directive, or the plan's */
	SOURCE_INTERFACE,	/* the unresolved set */
	SOURCE_REVIEW,		/* the planner's review */
	SOURCE_USER,		/* masterctl directive */
	SOURCE_INTEGRATION,	/* a failing integration check or contract test */
	SOURCE_COUNT
};

/* An integration run's state (the registry's integration_runs.state). */
enum run_state {
	RUN_RUNNING,
	RUN_PASSED,		/* every command passed */
	RUN_FAILED,		/* a command failed */
	RUN_ERROR,		/* the run itself could not happen */
	RUN_CANCELLED,		/* the task paused while it ran */
	RUN_STATE_COUNT
};

/* A task's integration, as shown: what masterd knows of main. */
enum integration_status {
	INTEG_NONE,		/* the task has no integration checks */
	INTEG_PENDING,		/* main has a commit no run has tested */
	INTEG_RUNNING,
	INTEG_PASSED,		/* on the current main */
	INTEG_FAILED,		/* on the current main; not yet attributed */
	INTEG_ATTRIBUTED,	/* failed; its directives handed out */
	INTEG_STATUS_COUNT
};

/* A task's limits; 0 is no limit. */
enum budget_key {
	BUDGET_TOKENS,
	BUDGET_COST,
	BUDGET_ROUNDS,
	BUDGET_TIME,		/* seconds since submit */
	BUDGET_KEY_COUNT
};

/* Every event masterd emits. */
enum event {
	EV_TASK_SUBMITTED,
	EV_TASK_STATE,
	EV_TASK_PLANNED,
	EV_TASK_REVIEWED,
	EV_TASK_PAUSED,
	EV_TASK_RESUMED,
	EV_TASK_RESUMED_AFTER_RESTART,
	EV_TASK_LIMIT,
	EV_TASK_BUDGET,
	EV_DOMAIN_ADDED,
	EV_DOMAIN_STATE,
	EV_DOMAIN_HELD,
	EV_DOMAIN_RESUMED,
	EV_PROVIDER_DOWN,
	EV_PROVIDER_PROBE,
	EV_PROVIDER_UP,
	EV_DIRECTIVE_QUEUED,
	EV_DIRECTIVE_MERGED,
	EV_DIRECTIVE_RUNNING,
	EV_DIRECTIVE_DONE,
	EV_DIRECTIVE_RETRY,
	EV_DIRECTIVE_DROPPED,
	EV_INTERFACE_PUBLISHED,
	EV_INTERFACE_REFUSED,
	EV_INTERFACES_UNRESOLVED,
	EV_ROUND,
	EV_PROGRESS,
	EV_MERGED,
	EV_MERGE_FAILED,
	EV_INTEGRATION_STARTED,
	EV_INTEGRATION_PASSED,
	EV_INTEGRATION_FAILED,
	EV_INTEGRATION_ATTRIBUTED,
	/* A person in the loop (task_ask.c). */
	EV_QUESTION_ASKED,
	EV_QUESTION_ANSWERED,
	EV_QUESTION_EXPIRED,
	EV_QUESTION_DEADLINE,
	EV_APPROVAL_NEEDED,
	EV_APPROVAL_GIVEN,
	EV_APPROVAL_REJECTED,
	/* [task] push_to (pushto.c). */
	EV_TASK_PUSHED,
	EV_TASK_PUSH_FAILED,
	EV_COUNT
};

/* Error codes.  The macros stay for the programs that build error objects
 * from them; err_names is their table. */
#define ERR_BAD_FRAME	"bad_frame"
#define ERR_BAD_REQUEST	"bad_request"
#define ERR_UNKNOWN	"unknown_type"
#define ERR_NOT_FOUND	"not_found"
#define ERR_REFUSED	"refused"
#define ERR_CONFLICT	"conflict"
#define ERR_BUSY	"busy"
#define ERR_VERSION	"version_mismatch"
#define ERR_INTERNAL	"internal"
#define ERR_STORAGE	"storage"
/* A message or answer over max_frame: its sender refused to send it. */
#define ERR_TOO_LARGE	"too_large"
/* Carried in a child's error object, not a control reply. */
#define ERR_RATE_LIMITED "rate_limited"
/* The provider is down or overloaded past the retries: the work waits
 * for it (masterd's circuit breaker), it has not failed. */
#define ERR_PROVIDER_DOWN "provider_down"
#define ERR_CANCELLED	"cancelled"
/* A check's sandbox could not be built: the command did not run. */
#define ERR_SANDBOX	"sandbox"
/* An interface directive whose accepted round left its gap open. */
#define ERR_UNRESOLVED	"unresolved"
/* The work could not start for want of what the host must provide (a
 * key, a prompt): not the directive's fault; its task waits paused. */
#define ERR_SETUP	"setup"

enum err_code {
	E_BAD_FRAME,
	E_BAD_REQUEST,
	E_UNKNOWN,
	E_NOT_FOUND,
	E_REFUSED,
	E_CONFLICT,
	E_BUSY,
	E_VERSION,
	E_INTERNAL,
	E_STORAGE,
	E_RATE_LIMITED,
	E_CANCELLED,
	E_SANDBOX,
	E_TOO_LARGE,
	E_PROVIDER_DOWN,
	E_SETUP,
	E_COUNT
};

/* An event's name and the fields of its data, as documented. */
struct event_def {
	const char *name;
	const char *fields;	/* comma separated; "" for none */
};

extern const char *const task_state_names[TASK_STATE_COUNT];
extern const char *const domain_state_names[DOMAIN_STATE_COUNT];
extern const char *const run_state_names[RUN_STATE_COUNT];
extern const char *const integration_status_names[INTEG_STATUS_COUNT];
extern const char *const directive_state_names[DIRECTIVE_STATE_COUNT];
extern const char *const source_names[SOURCE_COUNT];
extern const char *const budget_key_names[BUDGET_KEY_COUNT];
extern const struct event_def event_defs[EV_COUNT];
extern const char *const err_names[E_COUNT];

/* The index of name in a table of n names; -1 when absent or NULL. */
int vocab_find(const char *const *names, int n, const char *name);

bool task_state_over(enum task_state);
/* The names' own form of task_state_over, for what reads the wire. */
bool task_state_name_over(const char *name);

#endif
