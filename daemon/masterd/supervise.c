/*
 * supervise.c — the life of each masterd-child process.
 *
 * A child is spawned with uv_spawn (fork+exec) in its own session, its
 * channel on fd 3 as one end of a socketpair.  It must say hello with our
 * protocol version and then ready within hello_timeout; after that it is
 * pinged every ping_interval and killed if no pong came for ping_timeout.
 * A child that exits, hangs or sends a bad frame has crashed: it is
 * restarted after a geometric delay (restart_delay doubling up to
 * restart_delay_max, reset after healthy_uptime), unless it crashed
 * start_limit_burst times within start_limit_interval, or exited with
 * CHILD_EXIT_NORESTART: then it is FATAL until `masterctl restart`.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/backoff.h"
#include "common/log.h"
#include "daemon/masterd/masterd.h"
#include "proto/handshake.h"
#include "daemon/masterd/registry.h"
#include "daemon/masterd/supervise.h"
#include "daemon/masterd/tasks.h"

static void child_on_msg(struct channel *, json_t *, void *);
static void child_on_close(struct channel *, const char *, void *);
static void child_after_exit(struct child *);
static void on_kill_timer(uv_timer_t *);

/* How long the socket of a child that exited is read for its last words. */
#define CHILD_DRAIN_MS	1000

static const struct channel_ops child_channel_ops = {
	.on_msg = child_on_msg,
	.on_bad = NULL,		/* any bad frame from a child is a crash */
	.on_close = child_on_close,
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
	notify_status(c->md);
}

/* ---------------------------------------------------------- lifetime */

struct child *
child_new(struct masterd *md, int64_t task, int64_t domain, const char *name)
{
	struct child *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->md = md;
	c->task = task;
	c->domain = domain;
	snprintf(c->name, sizeof(c->name), "%s", name);
	uv_timer_init(md->loop, &c->timer);
	uv_timer_init(md->loop, &c->kill_timer);
	uv_timer_init(md->loop, &c->hold_timer);
	c->timer.data = c;
	c->kill_timer.data = c;
	c->hold_timer.data = c;
	c->handles = 3;		/* the timers; a process adds one */
	TAILQ_INSERT_TAIL(&md->children, c, entry);
	md->nchildren++;
	return c;
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct child *c = h->data;

	if (--c->handles > 0)
		return;
	json_decref(c->plan_request);
	free(c);
}

/* Unlink and free once no process or channel remains. */
static void check_all_stopped(struct masterd *);

static void
child_release(struct child *c)
{
	struct masterd *md = c->md;

	TAILQ_REMOVE(&md->children, c, entry);
	md->nchildren--;
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	uv_close((uv_handle_t *)&c->kill_timer, on_handle_closed);
	uv_close((uv_handle_t *)&c->hold_timer, on_handle_closed);
	check_all_stopped(md);
}

struct child *
child_find(struct masterd *md, int64_t task, const char *name)
{
	struct child *c;

	TAILQ_FOREACH(c, &md->children, entry) {
		if (c->task == task && strcmp(c->name, name) == 0)
			return c;
	}
	return NULL;
}

/* ---------------------------------------------------------- signals */

static void
kill_group(struct child *c, int sig)
{
	if (!c->proc_running || c->pid <= 0)
		return;
	/* The child leads its own session: take its check commands too. */
	if (kill(-c->pid, sig) != 0 && errno == ESRCH)
		kill(c->pid, sig);
}

/* A child that misbehaves is killed; its exit then counts as a crash. */
static void
child_fail(struct child *c, const char *why)
{
	if (c->reason[0] == '\0' || c->state != CHILD_STOPPING)
		snprintf(c->reason, sizeof(c->reason), "%s", why);
	log_warn("domain %s (task %lld): %s", c->name, (long long)c->task,
	    why);
	kill_group(c, SIGKILL);
	if (c->ch_running)
		channel_close(&c->ch, NULL);
}

/* ---------------------------------------------------------- spawn */

static void
on_drain_timeout(uv_timer_t *t)
{
	struct child *c = t->data;

	if (c->ch_running)
		channel_close(&c->ch, NULL);
}

static void
on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct child *c = p->data;

	c->exit_status = status;
	c->term_signal = sig;
	c->proc_running = false;
	uv_close((uv_handle_t *)p, on_handle_closed);
	if (!c->ch_running) {
		child_after_exit(c);
		return;
	}
	/* Its last words (an error, a result) may still be unread in the
	 * socket: read on until EOF, but not for long, since a grandchild
	 * may hold the socket open. */
	uv_timer_stop(&c->kill_timer);
	uv_timer_start(&c->kill_timer, on_drain_timeout, CHILD_DRAIN_MS, 0);
}

static int
spawn_process(struct child *c, int fd)
{
	char task[32];
	/* The child reads the same configuration file as we do. */
	char *args[12] = { c->md->child_path, "--domain", c->name, "--task",
	    task, "--state", c->md->conf->state_dir };
	int n = 7;

	if (c->planner) {
		args[n++] = "--role";
		args[n++] = "planner";
	}
	if (c->md->child_conf != NULL) {
		args[n++] = "--config";
		args[n++] = c->md->child_conf;
	}
	args[n] = NULL;
	uv_stdio_container_t stdio[4];
	uv_process_options_t opt;

	snprintf(task, sizeof(task), "%lld", (long long)c->task);
	memset(&opt, 0, sizeof(opt));
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = STDERR_FILENO;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = STDERR_FILENO;
	stdio[3].flags = UV_INHERIT_FD;
	stdio[3].data.fd = fd;
	opt.file = c->md->child_path;
	opt.args = args;
	opt.stdio = stdio;
	opt.stdio_count = 4;
	opt.exit_cb = on_exit_cb;
	opt.flags = UV_PROCESS_DETACHED;
	c->proc.data = c;
	/* Initialised even when the spawn fails: counted until closed. */
	c->handles++;
	return uv_spawn(c->md->loop, &c->proc, &opt);
}

static void on_hello_deadline(uv_timer_t *);

int
child_start(struct child *c)
{
	struct masterd *md = c->md;
	int sv[2], rc;
	json_t *hello;

	if (c->proc_running || c->ch_running)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(c->reason, sizeof(c->reason), "socketpair: %s",
		    strerror(errno));
		return -1;
	}
	if ((rc = spawn_process(c, sv[1])) != 0) {
		close(sv[0]);
		close(sv[1]);
		snprintf(c->reason, sizeof(c->reason), "cannot start %s: %s",
		    md->child_path, uv_strerror(rc));
		uv_close((uv_handle_t *)&c->proc, on_handle_closed);
		return -1;
	}
	close(sv[1]);
	c->proc_running = true;
	c->pid = c->proc.pid;
	c->spawned_ms = uv_now(md->loop);
	c->last_pong_ms = c->spawned_ms;
	c->want_stop = false;
	c->hello_seen = false;
	c->stop_stage = 0;
	channel_init(md->loop, &c->ch, (size_t)md->conf->max_frame,
	    &child_channel_ops, c);
	channel_open_fd(&c->ch, sv[0]);
	c->ch_running = true;
	channel_start(&c->ch);
	hello = msg_new(MSG_HELLO, masterd_next_id(md));
	json_object_set_new(hello, "version", json_integer(PROTO_VERSION));
	json_object_set_new(hello, "role", json_string("master"));
	json_object_set_new(hello, "domain", json_string(c->name));
	json_object_set_new(hello, "task", json_integer(c->task));
	json_object_set_new(hello, "max_frame",
	    json_integer(md->conf->max_frame));
	/* The relay holds its worker to the same. */
	json_object_set_new(hello, "ping_timeout",
	    json_integer(md->conf->ping_timeout));
	child_send(c, hello);
	uv_timer_start(&c->timer, on_hello_deadline,
	    (uint64_t)md->conf->hello_timeout, 0);
	log_info("domain %s (task %lld): started child pid %d", c->name,
	    (long long)c->task, c->pid);
	set_state(c, CHILD_STARTING, NULL);
	return 0;
}

int
child_send(struct child *c, json_t *msg)
{
	if (!c->ch_running) {
		json_decref(msg);
		return -1;
	}
	return channel_send_new(&c->ch, msg);
}

/* ---------------------------------------------------------- liveness */

static void
on_ping_tick(uv_timer_t *t)
{
	struct child *c = t->data;
	uint64_t now = uv_now(c->md->loop);
	char why[96];

	if (now - c->last_pong_ms > (uint64_t)c->md->conf->ping_timeout) {
		snprintf(why, sizeof(why), "no pong for %llu ms",
		    (unsigned long long)(now - c->last_pong_ms));
		child_fail(c, why);
		return;
	}
	child_send(c, msg_new(MSG_PING, masterd_next_id(c->md)));
}

static void
on_hello_deadline(uv_timer_t *t)
{
	struct child *c = t->data;
	char why[96];

	snprintf(why, sizeof(why), "not ready within %lld ms",
	    (long long)c->md->conf->hello_timeout);
	child_fail(c, why);
}

/* ---------------------------------------------------------- messages */

static void
on_hello(struct child *c, const json_t *msg)
{
	json_int_t v = json_integer_value(json_object_get(msg, "version"));
	char why[160];
	json_t *err;

	if (v == PROTO_VERSION) {
		c->hello_seen = true;
		return;
	}
	snprintf(why, sizeof(why), "protocol version mismatch: masterd "
	    "speaks %d, child speaks %lld", PROTO_VERSION, (long long)v);
	err = msg_new(MSG_ERROR, masterd_next_id(c->md));
	json_object_set_new(err, "code", json_string(ERR_VERSION));
	json_object_set_new(err, "message", json_string(why));
	json_object_set_new(err, "re", json_integer(msg_id(msg)));
	child_send(c, err);
	/* A restart would meet the same binary: do not retry. */
	c->want_stop = true;
	child_fail(c, why);
	set_state(c, CHILD_FATAL, why);
}

static void
on_ready(struct child *c)
{
	struct masterd *md = c->md;

	if (c->state != CHILD_STARTING)
		return;
	if (!c->hello_seen) {
		child_fail(c, "said ready before hello");
		return;
	}
	uv_timer_stop(&c->timer);
	c->last_pong_ms = uv_now(md->loop);
	uv_timer_start(&c->timer, on_ping_tick,
	    (uint64_t)md->conf->ping_interval,
	    (uint64_t)md->conf->ping_interval);
	set_state(c, CHILD_RUNNING, NULL);
	tasks_child_ready(c);
}

static void
child_on_msg(struct channel *ch, json_t *msg, void *arg)
{
	struct child *c = arg;
	const struct msg_spec *spec;
	char err[200], why[256];

	(void)ch;
	if (msg_validate(msg, CHAN_CHILD, PEER_CHILD, &spec, err,
	    sizeof(err)) != 0) {
		snprintf(why, sizeof(why), "bad message: %s", err);
		child_fail(c, why);
		return;
	}
	switch (spec->type) {
	case MSG_HELLO:
		on_hello(c, msg);
		break;
	case MSG_READY:
		on_ready(c);
		break;
	case MSG_PONG:
		c->last_pong_ms = uv_now(c->md->loop);
		break;
	case MSG_ERROR:
		/* Often the last words before an exit: keep them as the why. */
		snprintf(c->reason, sizeof(c->reason), "%s",
		    json_string_value(json_object_get(msg, "message")));
		log_warn("domain %s (task %lld) reports %s: %s", c->name,
		    (long long)c->task,
		    json_string_value(json_object_get(msg, "code")), c->reason);
		break;
	default:
		if (c->state == CHILD_RUNNING || c->state == CHILD_STOPPING)
			tasks_child_message(c, spec, msg);
		break;
	}
}

static void
child_on_close(struct channel *ch, const char *why, void *arg)
{
	struct child *c = arg;

	(void)ch;
	c->ch_running = false;
	if (why != NULL && c->proc_running) {
		char msg[256];

		snprintf(msg, sizeof(msg), "channel: %s", why);
		child_fail(c, msg);
	} else if (c->proc_running && c->stop_stage == 0) {
		/* EOF without exit yet: the exit callback follows soon, or
		 * a child that closed its channel but lingers is killed. */
		kill_group(c, SIGTERM);
		c->stop_stage = 2;
		uv_timer_start(&c->kill_timer, on_kill_timer,
		    (uint64_t)c->md->conf->stop_grace / 2, 0);
	}
	if (!c->proc_running)
		child_after_exit(c);
}

/* ---------------------------------------------------------- exits */

static void
describe_exit(struct child *c, char *buf, size_t len)
{
	if (c->term_signal != 0)
		snprintf(buf, len, "killed by signal %d (%s)", c->term_signal,
		    strsignal(c->term_signal));
	else
		snprintf(buf, len, "exited with status %lld",
		    (long long)c->exit_status);
}

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

static void
schedule_restart(struct child *c, const char *what)
{
	const struct masterd_conf *conf = c->md->conf;
	uint64_t now = uv_now(c->md->loop), delay;
	char why[400];

	if (now - c->spawned_ms >= (uint64_t)conf->healthy_uptime)
		c->backoff_n = 0;
	if (crash_limit_hit(c)) {
		snprintf(why, sizeof(why), "crashed %lld times within %lld s; "
		    "last: %s; fix it, then: masterctl restart %s",
		    (long long)conf->start_limit_burst,
		    (long long)conf->start_limit_interval / 1000, what,
		    c->name);
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
	uv_timer_stop(&c->kill_timer);
	c->pid = 0;
	tasks_child_down(c);
	describe_exit(c, exitdesc, sizeof(exitdesc));
	if (c->restart_pending && !c->md->stopping && !c->release) {
		c->restart_pending = false;
		c->want_stop = false;
		c->backoff_n = 0;
		log_info("domain %s (task %lld): restarting (%s)", c->name,
		    (long long)c->task, exitdesc);
		/* Next loop turn: the old process handle is still closing. */
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
	if (c->term_signal == 0 && c->exit_status == CHILD_EXIT_NORESTART) {
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

/* ---------------------------------------------------------- stopping */

static void
on_kill_timer(uv_timer_t *t)
{
	struct child *c = t->data;
	uint64_t grace = (uint64_t)c->md->conf->stop_grace;

	if (c->stop_stage == 1) {
		log_warn("domain %s: no exit after shutdown; SIGTERM", c->name);
		kill_group(c, SIGTERM);
		c->stop_stage = 2;
		uv_timer_start(&c->kill_timer, on_kill_timer, grace / 2, 0);
	} else {
		log_warn("domain %s: no exit after SIGTERM; SIGKILL", c->name);
		kill_group(c, SIGKILL);
	}
}

void
child_stop(struct child *c, const char *why, bool release)
{
	json_t *m;

	c->want_stop = true;
	c->release = c->release || release;
	if (!c->proc_running && !c->ch_running) {
		uv_timer_stop(&c->timer);
		if (c->state != CHILD_FATAL)
			set_state(c, CHILD_STOPPED, NULL);
		if (c->release)
			child_release(c);
		return;
	}
	if (c->stop_stage > 0)
		return;
	uv_timer_stop(&c->timer);
	m = msg_new(MSG_SHUTDOWN, masterd_next_id(c->md));
	if (why != NULL)
		json_object_set_new(m, "reason", json_string(why));
	json_object_set_new(m, "grace_ms",
	    json_integer(c->md->conf->stop_grace / 2));
	child_send(c, m);
	c->stop_stage = 1;
	set_state(c, CHILD_STOPPING, NULL);
	uv_timer_start(&c->kill_timer, on_kill_timer,
	    (uint64_t)c->md->conf->stop_grace / 2, 0);
}

int
child_restart(struct child *c)
{
	if (c->proc_running || c->ch_running) {
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
	    "state", state_names[c->state], "pid", c->pid,
	    "restarts", (int)c->restarts,
	    "reason", c->reason[0] ? c->reason : NULL, "busy", c->busy);

	if (c->hold_until > time(NULL))
		json_object_set_new(o, "held_until",
		    json_integer(c->hold_until));
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
