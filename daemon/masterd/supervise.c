/*
 * supervise.c — the life of each masterd-child process: masterd's policy.
 *
 * The process itself is a struct peer (proto/peer.c): spawned in its own
 * session with its channel on fd 3, it must say hello with our protocol
 * version and then ready within hello_timeout; after that it is pinged
 * every ping_interval and killed if no pong came for ping_timeout; it is
 * stopped with shutdown, then SIGTERM, then SIGKILL, stop_grace/2 apart.
 * What is decided here: a child that exits, hangs or sends a bad frame
 * has crashed; it is restarted after a geometric delay (restart_delay
 * doubling up to restart_delay_max, reset after healthy_uptime), unless it
 * crashed start_limit_burst times within start_limit_interval, or exited
 * with CHILD_EXIT_NORESTART: then it is FATAL until `masterctl restart`.
 * The children are found by task and name through a hash table
 * (child_find), asked for on every message and dispatch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/backoff.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/provider.h"
#include "daemon/masterd/registry.h"
#include "daemon/masterd/supervise.h"
#include "daemon/masterd/tasks.h"
#include "proto/child_args.h"

/* The --role each child is started with; a domain's has none. */
static const char *const child_role_names[ROLE_COUNT] = {
	[ROLE_DOMAIN] = NULL,
	[ROLE_PLANNER] = "planner",
	[ROLE_INTEGRATOR] = "integrator",
};

static void child_on_ready(struct peer *);
static void child_on_message(struct peer *, const struct msg_spec *,
    json_t *);
static void child_on_fault(struct peer *, enum peer_fault, const char *);
static void child_on_exit(struct peer *);
static void child_after_exit(struct child *);
static void child_peer_conf(struct peer *);

static const struct peer_ops child_peer_ops = {
	.on_ready = child_on_ready,
	.on_message = child_on_message,
	.on_fault = child_on_fault,
	.on_exit = child_on_exit,
	.refresh = child_peer_conf,
};

static const char *const state_names[] = {
	[CHILD_STOPPED] = "stopped",
	[CHILD_STARTING] = "starting",
	[CHILD_RUNNING] = "running",
	[CHILD_STOPPING] = "stopping",
	[CHILD_BACKOFF] = "backoff",
	[CHILD_FATAL] = "fatal",
};

/* What the registry records for each state. */
static const enum domain_state registry_states[] = {
	[CHILD_STOPPED] = DOMAIN_STOPPED,
	[CHILD_STARTING] = DOMAIN_STARTING,
	[CHILD_RUNNING] = DOMAIN_RUNNING,
	[CHILD_STOPPING] = DOMAIN_STOPPED,
	[CHILD_BACKOFF] = DOMAIN_BACKOFF,
	[CHILD_FATAL] = DOMAIN_FATAL,
};

const char *
child_state_name(enum child_state s)
{
	return state_names[s];
}

static void
set_state(struct child *c, enum child_state s, const char *reason)
{
	enum child_state old = c->state;

	c->state = s;
	if (reason != NULL)
		snprintf(c->reason, sizeof(c->reason), "%s", reason);
	else if (s == CHILD_RUNNING)
		c->reason[0] = '\0';
	if (old == s || (s == CHILD_STOPPING && old == CHILD_STOPPED))
		return;
	/* While the whole daemon stops, the registry keeps the domains'
	 * last live state so that a restart resumes them. */
	if (!c->md->stopping && c->domain > 0)
		registry_domain_set_state(c->md->reg, c->domain,
		    registry_states[s], c->reason[0] ? c->reason : NULL);
	event_emit(c->md, c->task, c->name, EV_DOMAIN_STATE,
	    json_pack("{s:s, s:s, s:s*}", "from", state_names[old], "to",
	    state_names[s], "reason", c->reason[0] ? c->reason : NULL));
	notify_status_soon(c->md);
}

/* ---------------------------------------------------------- the index */

/*
 * Children by task and name, chained in buckets: child_find is asked for
 * every message, every dispatch and every peer, and a walk of the list
 * made each of those O(children), a task's start O(children^2).  The
 * table doubles as children come (load at most 1) and goes with the last.
 */
static size_t
index_hash(int64_t task, const char *name)
{
	uint64_t h = 14695981039346656037ULL ^ (uint64_t)task;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

static struct child **
index_slot(struct masterd *md, int64_t task, const char *name)
{
	return &md->child_index[index_hash(task, name) &
	    (md->child_index_cap - 1)];
}

static void
index_grow(struct masterd *md)
{
	struct child **old = md->child_index, *c, *next;
	size_t oldcap = md->child_index_cap;

	md->child_index_cap = oldcap ? oldcap * 2 : 64;
	md->child_index = xcalloc(md->child_index_cap, sizeof(*old));
	for (size_t i = 0; i < oldcap; i++) {
		for (c = old[i]; c != NULL; c = next) {
			struct child **slot = index_slot(md, c->task, c->name);

			next = c->index_next;
			c->index_next = *slot;
			*slot = c;
		}
	}
	free(old);
}

static void
index_add(struct child *c)
{
	struct masterd *md = c->md;
	struct child **slot;

	if (md->nchildren + 1 > md->child_index_cap)
		index_grow(md);
	slot = index_slot(md, c->task, c->name);
	c->index_next = *slot;
	*slot = c;
}

static void
index_remove(struct child *c)
{
	struct masterd *md = c->md;
	struct child **p;

	for (p = index_slot(md, c->task, c->name); *p != NULL;
	    p = &(*p)->index_next) {
		if (*p == c) {
			*p = c->index_next;
			break;
		}
	}
	if (md->nchildren == 0) {
		free(md->child_index);
		md->child_index = NULL;
		md->child_index_cap = 0;
	}
}

struct child *
child_find(struct masterd *md, int64_t task, const char *name)
{
	struct child *c;

	if (md->child_index == NULL)
		return NULL;
	for (c = *index_slot(md, task, name); c != NULL; c = c->index_next)
		if (c->task == task && strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* ---------------------------------------------------------- lifetime */

struct child *
child_new(struct masterd *md, int64_t task, int64_t domain, const char *name)
{
	struct child *c = xcalloc(1, sizeof(*c));
	char label[64];

	c->md = md;
	c->task = task;
	c->domain = domain;
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(label, sizeof(label), "domain %s", name);
	peer_init(&c->peer, md->loop, label, &child_peer_ops, c,
	    &md->next_id);
	uv_timer_init(md->loop, &c->timer);
	c->timer.data = c;
	c->handles = 2;		/* the timer and the peer */
	index_add(c);
	TAILQ_INSERT_TAIL(&md->children, c, entry);
	md->nchildren++;
	return c;
}

static void
child_handle_released(struct child *c)
{
	if (--c->handles > 0)
		return;
	json_decref(c->plan_request);
	json_decref(c->integrate_request);
	free(c);
}

static void
on_timer_closed(uv_handle_t *h)
{
	child_handle_released(h->data);
}

static void
on_peer_closed(struct peer *p)
{
	child_handle_released(p->arg);
}

/* Unlink and free once no process or channel remains. */
static void check_all_stopped(struct masterd *);

static void
child_release(struct child *c)
{
	struct masterd *md = c->md;

	tasks_child_released(c);
	TAILQ_REMOVE(&md->children, c, entry);
	md->nchildren--;
	index_remove(c);
	uv_close((uv_handle_t *)&c->timer, on_timer_closed);
	peer_close(&c->peer, on_peer_closed);
	check_all_stopped(md);
}

/* ---------------------------------------------------------- start */

/* The configuration as it is now: SIGHUP may have replaced it.  A running
 * child keeps its ping interval; ping_timeout and stop_grace apply from
 * their next use. */
static void
child_peer_conf(struct peer *p)
{
	struct child *c = p->arg;
	const struct masterd_conf *conf = c->md->conf;

	p->conf = (struct peer_conf){
		.domain = c->name,
		.task = c->task,
		.max_frame = (size_t)conf->max_frame,
		.ready_ms = (uint64_t)conf->hello_timeout,
		.ping_ms = (uint64_t)conf->ping_interval,
		.pong_timeout_ms = (uint64_t)conf->ping_timeout,
		.grace_ms = (uint64_t)conf->stop_grace / 2,
		/* The relay holds its worker to the same. */
		.hello_ping_timeout = conf->ping_timeout,
		/* Its own session: a stop or a kill takes its whole group,
		 * check commands included. */
		.own_session = true,
	};
}

int
child_start(struct child *c)
{
	struct masterd *md = c->md;
	char task[32], *argv[CHILD_ARGV_MAX];
	/* The child reads the same configuration file as we do. */
	struct child_args a = { .domain = c->name, .task = task,
	    .state = md->conf->state_dir, .config = md->child_conf,
	    .role = child_role_names[c->role] };

	if (c->peer.state != PEER_IDLE)
		return 0;
	snprintf(task, sizeof(task), "%lld", (long long)c->task);
	child_args_argv(&a, md->child_path, argv);
	child_peer_conf(&c->peer);
	/* The last run's why (the backoff's note) is not this run's: kept,
	 * each crash's reason would hold the one before. */
	c->reason[0] = '\0';
	if (peer_start(&c->peer, argv, c->reason, sizeof(c->reason)) != 0)
		return -1;
	c->proc_running = true;
	c->want_stop = false;
	log_info("domain %s (task %lld): started child pid %d", c->name,
	    (long long)c->task, c->peer.pid);
	set_state(c, CHILD_STARTING, NULL);
	return 0;
}

int
child_send(struct child *c, json_t *msg)
{
	return peer_send(&c->peer, msg);
}

/* ---------------------------------------------------------- the peer */

static void
child_on_ready(struct peer *p)
{
	struct child *c = p->arg;

	set_state(c, CHILD_RUNNING, NULL);
	tasks_child_ready(c);
}

static void
child_on_message(struct peer *p, const struct msg_spec *spec, json_t *msg)
{
	struct child *c = p->arg;

	if (spec->type == MSG_ERROR) {
		/* Often the last words before an exit: keep them as the why. */
		snprintf(c->reason, sizeof(c->reason), "%s",
		    jget_str(msg, "message"));
		log_warn("domain %s (task %lld) reports %s: %s", c->name,
		    (long long)c->task, jget_str(msg, "code"), c->reason);
		return;
	}
	if (c->state == CHILD_RUNNING || c->state == CHILD_STOPPING)
		tasks_child_message(c, spec, msg);
}

/* A child that misbehaves is killed; its exit then counts as a crash. */
static void
child_on_fault(struct peer *p, enum peer_fault kind, const char *why)
{
	struct child *c = p->arg;

	if (c->reason[0] == '\0' || c->state != CHILD_STOPPING)
		snprintf(c->reason, sizeof(c->reason), "%s", why);
	log_warn("domain %s (task %lld): %s", c->name, (long long)c->task,
	    why);
	if (kind == PEER_FAULT_VERSION) {
		/* A restart would meet the same binary: do not retry. */
		c->want_stop = true;
		set_state(c, CHILD_FATAL, why);
	}
}

/* ---------------------------------------------------------- exits */

/* Record a crash; true when the start limit is now reached. */
static bool
crash_limit_hit(struct child *c)
{
	const struct masterd_conf *conf = c->md->conf;
	unsigned burst = (unsigned)conf->start_limit_burst;
	uint64_t now = uv_now(c->md->loop);
	unsigned recent = 0;

	c->crash_ms[c->crash_head++ % CHILD_START_LIMIT_MAX] = now;
	for (unsigned i = 0; i < CHILD_START_LIMIT_MAX; i++) {
		if (c->crash_ms[i] != 0 &&
		    now - c->crash_ms[i] <= (uint64_t)conf->start_limit_interval)
			recent++;
	}
	return recent >= burst;
}

static void
on_restart_due(uv_timer_t *t)
{
	struct child *c = t->data;

	if (child_start(c) != 0) {
		log_err("domain %s: %s", c->name, c->reason);
		child_after_exit(c);
	}
}

/*
 * The fatal reason, which must fit the child's reason (and the
 * registry's): the last exit is cut to leave room for the hint, which is
 * what the operator needs.
 */
static void
fatal_reason(const struct child *c, const char *what, char *why, size_t len)
{
	const struct masterd_conf *conf = c->md->conf;
	char head[96], tail[128];
	size_t room, fixed, wlen = strlen(what);

	if (len > sizeof(c->reason))
		len = sizeof(c->reason);
	snprintf(head, sizeof(head), "crashed %lld times within %lld s; "
	    "last: ", (long long)conf->start_limit_burst,
	    (long long)conf->start_limit_interval / 1000);
	snprintf(tail, sizeof(tail), "; fix it, then: masterctl restart %s "
	    "--task %lld", c->name, (long long)c->task);
	fixed = strlen(head) + strlen(tail) + 4;
	room = len > fixed ? len - fixed : 0;
	if (wlen > room + 3) {
		/* Not inside a UTF-8 sequence: the reason goes into JSON. */
		while (room > 0 && ((unsigned char)what[room] & 0xc0) == 0x80)
			room--;
		snprintf(why, len, "%s%.*s...%s", head, (int)room, what,
		    tail);
	} else {
		snprintf(why, len, "%s%s%s", head, what, tail);
	}
}

static void
schedule_restart(struct child *c, const char *what)
{
	const struct masterd_conf *conf = c->md->conf;
	uint64_t now = uv_now(c->md->loop), delay;
	char why[400];

	if (now - c->peer.spawned_ms >= (uint64_t)conf->healthy_uptime)
		c->backoff_n = 0;
	if (crash_limit_hit(c)) {
		fatal_reason(c, what, why, sizeof(why));
		log_err("domain %s (task %lld): %s", c->name,
		    (long long)c->task, why);
		set_state(c, CHILD_FATAL, why);
		return;
	}
	delay = backoff_geometric((uint64_t)conf->restart_delay,
	    (uint64_t)conf->restart_delay_max, c->backoff_n++);
	c->restarts++;
	if (c->domain > 0)
		registry_domain_count_restart(c->md->reg, c->domain);
	snprintf(why, sizeof(why), "%s; restart in %llu ms", what,
	    (unsigned long long)delay);
	log_warn("domain %s (task %lld): %s", c->name, (long long)c->task,
	    why);
	set_state(c, CHILD_BACKOFF, why);
	uv_timer_start(&c->timer, on_restart_due, delay, 0);
}

static void
child_after_exit(struct child *c)
{
	char what[300], exitdesc[96];

	uv_timer_stop(&c->timer);
	c->proc_running = false;
	tasks_child_down(c);
	peer_exit_desc(&c->peer, exitdesc, sizeof(exitdesc));
	if (c->restart_pending && !c->md->stopping && !c->release) {
		c->restart_pending = false;
		c->want_stop = false;
		c->backoff_n = 0;
		log_info("domain %s (task %lld): restarting (%s)", c->name,
		    (long long)c->task, exitdesc);
		/* Next loop turn, as any restart. */
		uv_timer_start(&c->timer, on_restart_due, 0, 0);
		return;
	}
	if (c->want_stop) {
		if (c->state != CHILD_FATAL)
			set_state(c, CHILD_STOPPED, NULL);
		log_info("domain %s (task %lld): stopped (%s)", c->name,
		    (long long)c->task, exitdesc);
		if (c->release)
			child_release(c);
		return;
	}
	if (c->reason[0] != '\0' && c->state != CHILD_BACKOFF)
		snprintf(what, sizeof(what), "%s (%s)", c->reason, exitdesc);
	else
		snprintf(what, sizeof(what), "%s", exitdesc);
	if (c->peer.term_signal == 0 &&
	    c->peer.exit_status == CHILD_EXIT_NORESTART) {
		snprintf(what, sizeof(what), "child asked not to be restarted "
		    "(exit status %d): %s", CHILD_EXIT_NORESTART,
		    c->reason[0] ? c->reason : "see the log");
		log_err("domain %s (task %lld): %s", c->name,
		    (long long)c->task, what);
		set_state(c, CHILD_FATAL, what);
		return;
	}
	c->reason[0] = '\0';
	schedule_restart(c, what);
}

static void
child_on_exit(struct peer *p)
{
	child_after_exit(p->arg);
}

/* ---------------------------------------------------------- stopping */

void
child_stop(struct child *c, const char *why, bool release)
{
	c->want_stop = true;
	c->release = c->release || release;
	if (c->peer.state == PEER_IDLE) {
		uv_timer_stop(&c->timer);
		if (c->state != CHILD_FATAL)
			set_state(c, CHILD_STOPPED, NULL);
		if (c->release)
			child_release(c);
		return;
	}
	/* Already on its way down (the ladder, or an EOF's SIGTERM). */
	if (c->peer.stop_step != PEER_STOP_NONE)
		return;
	child_peer_conf(&c->peer);
	peer_stop(&c->peer, why);
	set_state(c, CHILD_STOPPING, NULL);
}

int
child_restart(struct child *c)
{
	if (c->peer.state != PEER_IDLE) {
		/* Running: stop it gracefully; child_after_exit starts it. */
		c->restart_pending = true;
		child_stop(c, "restart requested", false);
		return 0;
	}
	uv_timer_stop(&c->timer);
	memset(c->crash_ms, 0, sizeof(c->crash_ms));
	c->backoff_n = 0;
	c->reason[0] = '\0';
	c->want_stop = false;
	c->release = false;
	if (child_start(c) != 0) {
		set_state(c, CHILD_FATAL, c->reason);
		return -1;
	}
	return 0;
}

json_t *
child_describe(const struct child *c)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:i, s:i, s:s*, s:b}",
	    "task", (json_int_t)c->task, "domain", c->name,
	    "state", state_names[c->state], "pid", c->peer.pid,
	    "restarts", (int)c->restarts,
	    "reason", c->reason[0] ? c->reason : NULL, "busy", c->busy);

	json_t *waiting = provider_waiting(c->md, c);

	if (waiting != NULL)
		json_object_set_new(o, "waiting", waiting);
	return o;
}

/* ---------------------------------------------------------- all */

/* Called whenever a child lets go; finishes a stop-all once none is left. */
static void
check_all_stopped(struct masterd *md)
{
	void (*cb)(struct masterd *) = md->children_stopped;

	if (cb == NULL || !TAILQ_EMPTY(&md->children))
		return;
	md->children_stopped = NULL;
	cb(md);
}

void
children_stop_all(struct masterd *md, void (*stop_done)(struct masterd *))
{
	struct child *c, *next;

	md->children_stopped = stop_done;
	for (c = TAILQ_FIRST(&md->children); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		child_stop(c, "masterd is stopping", true);
	}
	check_all_stopped(md);
}
