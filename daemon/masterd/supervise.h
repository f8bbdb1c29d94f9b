/*
 * supervise.h — one masterd-child process per domain: its policy (restart
 * with backoff, start limit, fatal, holds, the child list); the process
 * itself is a struct peer (proto/peer.h).
 */
#ifndef DAEMON_SUPERVISE_H
#define DAEMON_SUPERVISE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>

#include "proto/peer.h"

struct masterd;

/* The largest start_limit_burst the configuration accepts. */
#define CHILD_START_LIMIT_MAX 64

enum child_state {
	CHILD_STOPPED,		/* not running, nothing scheduled */
	CHILD_STARTING,		/* spawned, waiting for hello and ready */
	CHILD_RUNNING,		/* ready; pinged */
	CHILD_STOPPING,		/* shutdown sent, escalating to signals */
	CHILD_BACKOFF,		/* crashed; restart scheduled */
	CHILD_FATAL,		/* start limit hit or asked not to restart */
};

/* What a child is for: a domain of a task, or one of the task's roles. */
enum child_role {
	ROLE_DOMAIN,
	ROLE_PLANNER,		/* plans and reviews; attributes failures */
	ROLE_INTEGRATOR,	/* runs the integration checks on main */
	ROLE_COUNT
};

struct child {
	TAILQ_ENTRY(child) entry;
	struct child *index_next;	/* child_find's bucket */
	TAILQ_ENTRY(child) look_entry;	/* its task's look queue */
	bool look_queued;		/* (task_dispatch.c) */
	TAILQ_ENTRY(child) start_entry;	/* its task's start queue */
	bool start_queued;		/* (task_requests.c) */
	struct masterd *md;
	int64_t task;
	int64_t domain;
	char name[40];
	enum child_state state;

	struct peer peer;	/* the process, its channel, pings, the stop */
	uv_timer_t timer;	/* the restart delay */
	int handles;		/* timers and peer not yet released */
	bool proc_running;	/* a process up or being reaped */

	unsigned backoff_n;	/* restarts since the last healthy run */
	uint64_t crash_ms[CHILD_START_LIMIT_MAX];	/* recent crash times */
	unsigned crash_head;
	unsigned restarts;
	char reason[256];	/* why it last went down, or is FATAL */

	bool want_stop;		/* do not restart when it exits */
	bool restart_pending;	/* start again once stopped */
	bool release;		/* free once stopped */

	/* work, owned by the task core (task_*.c) */
	enum child_role role;
	json_t *plan_request;	/* the planner's pending request */
	json_t *integrate_request;	/* the integrator's pending run */
	int64_t run;		/* the integrator's run in hand, 0: none */
	bool busy;
	int64_t directive;
	char waiting[320];	/* the provider endpoint its work waits
				 * for (provider.c), or "" */
	uint64_t waiting_since_ms;	/* uv_now when it began to wait */
};

const char *child_state_name(enum child_state);

struct child *child_new(struct masterd *, int64_t task, int64_t domain,
    const char *name);
int child_start(struct child *);
/* Ask it to stop; with release, the child struct is freed once it has. */
void child_stop(struct child *, const char *why, bool release);
/* Clear FATAL or BACKOFF and start now. */
int child_restart(struct child *);
int child_send(struct child *, json_t *msg);	/* steals msg */
struct child *child_find(struct masterd *, int64_t task, const char *name);
json_t *child_describe(const struct child *);

/* Stop every child; stop_done() is called once the last has exited. */
void children_stop_all(struct masterd *, void (*stop_done)(struct masterd *));

#endif
