/*
 * relay.c — masterd-child: a domain's process, light while it waits.
 *
 * masterd starts one per domain with its channel on fd 3.  The relay does
 * the handshake, answers pings, and remembers the task's assignment and
 * the peers' latest interfaces.  The work itself (the model over HTTP, git,
 * the check commands) runs in masterd-worker, which the relay starts when a
 * directive or a plan request arrives and stops once nothing has been left
 * to do for a while.  Messages between the master and the worker pass
 * through unchanged.
 *
 * Why two processes: libcurl, libgit2 and the three TLS libraries they
 * bring cost each process about 10 MiB of mappings and 2 MiB of private
 * pages, and most domains spend most of their time waiting for a peer, a
 * review or the user.  The relay links libuv and jansson only.
 *
 * A worker that dies with work in hand takes the relay with it (exit 70,
 * or 78 if the worker asked not to be restarted), after an error message
 * saying why: the master then sees the domain crash and redoes the work,
 * exactly as when one process did everything.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>

#include <jansson.h>
#include <uv.h>

#include "proto/handshake.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/channel.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define EXIT_WORKER_DIED	70	/* EX_SOFTWARE: the master restarts us */

/* A worker left with nothing to do is stopped after this long. */
#define WORKER_LINGER_MS	3000
/* From spawn to ready, and from shutdown to exit. */
#define WORKER_START_MS		30000
#define WORKER_GRACE_MS		5000
/* An exited worker's socket is read this long for its last words. */
#define WORKER_DRAIN_MS		1000
/* A ping to the worker unanswered this long means it hangs, unless
 * masterd's hello gives its own ping_timeout. */
#define WORKER_PONG_TIMEOUT_MS	30000

enum worker_state {
	W_NONE,			/* no process */
	W_STARTING,		/* spawned; hello sent, waiting for ready */
	W_READY,		/* takes messages */
	W_STOPPING,		/* shutdown sent or killed; waiting for it */
};

struct relay {
	uv_loop_t *loop;
	struct channel master;
	struct channel worker;
	uv_process_t proc;
	uv_signal_t sig_term;
	uv_timer_t timer;	/* start deadline, linger, or grace */
	json_int_t next_id;

	struct child_args args;	/* ours, passed on to the worker */
	char *worker_path;
	size_t max_frame;

	json_t *assign;		/* the last task.assign */
	json_t *peers;		/* the last interface.peers since */
	json_t *pending;	/* for the worker once it is ready */
	int inflight;		/* work sent to the worker, not answered */

	enum worker_state wstate;
	bool proc_running;	/* spawned, exit not seen */
	bool proc_closing;	/* its handle not yet released by libuv */
	bool wch_open;		/* worker channel not yet closed */
	uint64_t wping_ms;	/* an unanswered ping to the worker, or 0 */
	uint64_t pong_timeout_ms;
	bool wfault;		/* stopped for misbehaving, not for idling */
	int64_t wstatus;
	int wsignal;

	bool stopping;
	int exit_code;
};

static void worker_start(struct relay *);
static void worker_stop(struct relay *, const char *why, bool fault);
static void relay_stop(struct relay *, int code);

/* ---------------------------------------------------------- helpers */

static json_t *
new_msg(struct relay *r, enum msg_type type)
{
	return msg_new(type, ++r->next_id);
}

static void
to_master(struct relay *r, json_t *msg)
{
	channel_send_new(&r->master, msg);
}

static void
send_error(struct relay *r, json_int_t re, const char *code,
    const char *text)
{
	to_master(r, child_error_new(&r->next_id, re, code, text));
}

/* A directive or a plan request: work that ends in a final round or a
 * plan.result. */
static bool
is_work(const json_t *msg)
{
	const char *type = json_string_value(json_object_get(msg, "type"));

	return strcmp(type, msg_name(MSG_DIRECTIVE)) == 0 ||
	    strcmp(type, msg_name(MSG_PLAN_REQUEST)) == 0;
}

static void
send_worker(struct relay *r, const json_t *msg)
{
	if (is_work(msg))
		r->inflight++;
	channel_send(&r->worker, msg);
}

/* Now if the worker takes messages, else when it does. */
static void
to_worker(struct relay *r, const json_t *msg)
{
	if (r->wstate == W_READY) {
		send_worker(r, msg);
		return;
	}
	json_array_append(r->pending, (json_t *)msg);
	if (r->wstate == W_NONE)
		worker_start(r);
}

static bool
idle(const struct relay *r)
{
	return r->inflight == 0 && json_array_size(r->pending) == 0;
}

static void
on_linger(uv_timer_t *t)
{
	struct relay *r = t->data;

	if (r->wstate == W_READY && idle(r))
		worker_stop(r, "nothing to do", false);
}

static void
arm_linger(struct relay *r)
{
	if (r->wstate == W_READY && idle(r))
		uv_timer_start(&r->timer, on_linger, WORKER_LINGER_MS, 0);
}

/* ---------------------------------------------------------- the master */

static void
on_master_hello(struct relay *r, const json_t *msg)
{
	char text[160];

	if (child_hello_answer(&r->master, &r->next_id, msg, r->args.domain, text,
	    sizeof(text)) != 0) {
		log_err("%s", text);
		send_error(r, msg_id(msg), ERR_VERSION, text);
		relay_stop(r, CHILD_EXIT_NORESTART);
		return;
	}
	r->max_frame = r->master.max_frame;
	if (json_integer_value(json_object_get(msg, "ping_timeout")) > 0)
		r->pong_timeout_ms = (uint64_t)json_integer_value(
		    json_object_get(msg, "ping_timeout"));
}

/*
 * masterd's pings reach the relay, which answers them itself: so the
 * worker is pinged in step with them, and one that leaves a ping
 * unanswered too long (a stuck loop, SIGSTOP) is killed.  With work in
 * hand that is a crash of the domain, as a hung child was before.
 */
static void
ping_worker(struct relay *r)
{
	uint64_t now = uv_now(r->loop);

	if (r->wstate != W_READY)
		return;
	if (r->wping_ms == 0) {
		r->wping_ms = now;
		channel_send_new(&r->worker, new_msg(r, MSG_PING));
	} else if (now - r->wping_ms > r->pong_timeout_ms &&
	    r->proc_running) {
		log_err("the worker answered no ping for %llu ms; SIGKILL",
		    (unsigned long long)r->pong_timeout_ms);
		uv_process_kill(&r->proc, SIGKILL);
	}
}

static void
on_master_ping(struct relay *r, const json_t *msg)
{
	json_t *m = new_msg(r, MSG_PONG);

	json_object_set_new(m, "re", json_integer(msg_id(msg)));
	json_object_set_new(m, "busy", json_boolean(!idle(r)));
	to_master(r, m);
	ping_worker(r);
}

/* The worker gets the latest of these when it starts; a running one now. */
static void
remember(json_t **slot, const json_t *msg, struct relay *r)
{
	json_decref(*slot);
	*slot = json_incref((json_t *)msg);
	if (r->wstate == W_READY)
		channel_send(&r->worker, msg);
}

static void
on_master_msg(struct channel *ch, json_t *msg, void *arg)
{
	struct relay *r = arg;
	const struct msg_spec *spec;
	char err[200];

	(void)ch;
	if (msg_validate(msg, CHAN_CHILD, PEER_MASTER, &spec, err,
	    sizeof(err)) != 0) {
		log_warn("bad message from master: %s", err);
		send_error(r, msg_id(msg), ERR_BAD_REQUEST, err);
		return;
	}
	switch (spec->type) {
	case MSG_HELLO:
		on_master_hello(r, msg);
		break;
	case MSG_PING:
		on_master_ping(r, msg);
		break;
	case MSG_TASK_ASSIGN:
		json_decref(r->peers);
		r->peers = NULL;
		remember(&r->assign, msg, r);
		break;
	case MSG_INTERFACE_PEERS:
		remember(&r->peers, msg, r);
		break;
	case MSG_DIRECTIVE:
	case MSG_PLAN_REQUEST:
		if (r->wstate == W_READY)
			uv_timer_stop(&r->timer);	/* the linger */
		to_worker(r, msg);
		break;
	case MSG_CANCEL:
		/* Only a worker with work, or work waiting, has anything to
		 * cancel; one stopping for idleness has none. */
		if (r->wstate == W_READY || r->wstate == W_STARTING ||
		    json_array_size(r->pending) > 0)
			to_worker(r, msg);
		break;
	case MSG_SHUTDOWN:
		log_info("shutdown: %s", json_string_value(json_object_get(msg,
		    "reason")) ?: "asked by masterd");
		relay_stop(r, 0);
		break;
	default:
		break;
	}
}

static void
on_master_close(struct channel *ch, const char *why, void *arg)
{
	struct relay *r = arg;

	(void)ch;
	if (why != NULL)
		log_err("channel to masterd: %s", why);
	/* The master is gone: nobody would take our results. */
	relay_stop(r, r->exit_code);
}

static const struct channel_ops master_ops = {
	.on_msg = on_master_msg,
	.on_bad = NULL,
	.on_close = on_master_close,
};

/* ---------------------------------------------------------- the worker */

static void
on_worker_ready(struct relay *r)
{
	size_t i;
	json_t *m;

	r->wstate = W_READY;
	r->wping_ms = 0;
	uv_timer_stop(&r->timer);
	if (r->assign != NULL)
		channel_send(&r->worker, r->assign);
	if (r->peers != NULL)
		channel_send(&r->worker, r->peers);
	json_array_foreach(r->pending, i, m)
		send_worker(r, m);
	json_array_clear(r->pending);
	arm_linger(r);
}

static void
on_worker_msg(struct channel *ch, json_t *msg, void *arg)
{
	struct relay *r = arg;
	const struct msg_spec *spec;
	char err[200];

	(void)ch;
	if (msg_validate(msg, CHAN_CHILD, PEER_CHILD, &spec, err,
	    sizeof(err)) != 0) {
		log_err("bad message from the worker: %s", err);
		worker_stop(r, "bad message", true);
		return;
	}
	switch (spec->type) {
	case MSG_HELLO:
		break;
	case MSG_PONG:
		r->wping_ms = 0;
		break;
	case MSG_READY:
		if (r->wstate == W_STARTING)
			on_worker_ready(r);
		break;
	case MSG_ROUND:
	case MSG_PLAN_RESULT:
		/* A final round ends its directive, as a plan.result its
		 * request. */
		if (spec->type == MSG_ROUND &&
		    !json_is_true(json_object_get(msg, "final"))) {
			to_master(r, json_incref(msg));
			break;
		}
		if (r->inflight > 0)
			r->inflight--;
		to_master(r, json_incref(msg));
		arm_linger(r);
		break;
	default:
		to_master(r, json_incref(msg));
		break;
	}
}

static void worker_gone(struct relay *);

/* Gone means the process reaped, its handle released, its channel shut. */
static void
maybe_gone(struct relay *r)
{
	if (r->wstate != W_NONE && !r->proc_running && !r->proc_closing &&
	    !r->wch_open)
		worker_gone(r);
}

static void
on_worker_close(struct channel *ch, const char *why, void *arg)
{
	struct relay *r = arg;

	(void)ch;
	r->wch_open = false;
	if (why != NULL)
		log_warn("channel to the worker: %s", why);
	if (r->proc_running) {
		/* Without its channel it can do nothing useful. */
		worker_stop(r, "channel closed", true);
		return;
	}
	maybe_gone(r);
}

static const struct channel_ops worker_ops = {
	.on_msg = on_worker_msg,
	.on_bad = NULL,
	.on_close = on_worker_close,
};

static void
on_drain_timeout(uv_timer_t *t)
{
	struct relay *r = t->data;

	if (r->wch_open)
		channel_close(&r->worker, NULL);
}

static void
on_proc_closed(uv_handle_t *h)
{
	struct relay *r = h->data;

	r->proc_closing = false;
	maybe_gone(r);
}

static void
on_worker_exit(uv_process_t *p, int64_t status, int sig)
{
	struct relay *r = p->data;

	r->proc_running = false;
	r->wstatus = status;
	r->wsignal = sig;
	r->proc_closing = true;
	uv_close((uv_handle_t *)p, on_proc_closed);
	/* Its last result may still be unread in the socket. */
	if (r->wch_open) {
		uv_timer_stop(&r->timer);
		uv_timer_start(&r->timer, on_drain_timeout, WORKER_DRAIN_MS,
		    0);
	}
}

static void
describe_exit(const struct relay *r, char *buf, size_t len)
{
	if (r->wsignal != 0)
		snprintf(buf, len, "worker killed by signal %d (%s)",
		    r->wsignal, strsignal(r->wsignal));
	else
		snprintf(buf, len, "worker exited with status %lld",
		    (long long)r->wstatus);
}

/* Both the process and its channel are gone. */
static void
worker_gone(struct relay *r)
{
	bool norestart = r->wsignal == 0 && r->wstatus == CHILD_EXIT_NORESTART;
	bool asked = r->wstate == W_STOPPING && !r->wfault;
	/* Work sent, or work waiting for a worker that died unasked (it may
	 * not start at all: no restart loop here, masterd's backoff and
	 * start limit apply). */
	bool lost = r->inflight > 0 ||
	    (!asked && json_array_size(r->pending) > 0);
	char why[160];

	uv_timer_stop(&r->timer);
	r->wstate = W_NONE;
	r->inflight = 0;
	describe_exit(r, why, sizeof(why));
	if (r->stopping) {
		relay_stop(r, r->exit_code);
		return;
	}
	if (lost || norestart) {
		/* The master must see the domain crash, and redo the work. */
		log_err("%s%s", why, lost ? " with work in hand" : "");
		send_error(r, -1, ERR_INTERNAL, why);
		relay_stop(r, norestart ? CHILD_EXIT_NORESTART : EXIT_WORKER_DIED);
		return;
	}
	log_debug("%s", why);
	/* Work that came while it was stopping. */
	if (json_array_size(r->pending) > 0)
		worker_start(r);
}

static void
on_worker_timer(uv_timer_t *t)
{
	struct relay *r = t->data;

	if (r->wstate == W_STARTING) {
		log_err("the worker did not get ready in %d ms",
		    WORKER_START_MS);
		worker_stop(r, "no ready", true);
	} else if (r->wstate == W_STOPPING && r->proc_running) {
		log_warn("the worker did not exit in %d ms; SIGKILL",
		    WORKER_GRACE_MS);
		uv_process_kill(&r->proc, SIGKILL);
	}
}

static void
worker_stop(struct relay *r, const char *why, bool fault)
{
	json_t *m;

	if (r->wstate == W_NONE || r->wstate == W_STOPPING)
		return;
	if (r->wstate == W_READY && r->wch_open) {
		m = new_msg(r, MSG_SHUTDOWN);
		json_object_set_new(m, "reason", json_string(why));
		json_object_set_new(m, "grace_ms",
		    json_integer(WORKER_GRACE_MS / 2));
		channel_send_new(&r->worker, m);
	} else if (r->proc_running) {
		uv_process_kill(&r->proc, SIGTERM);
	}
	r->wstate = W_STOPPING;
	r->wfault = fault;
	uv_timer_stop(&r->timer);
	uv_timer_start(&r->timer, on_worker_timer, WORKER_GRACE_MS, 0);
}

static int
spawn_worker(struct relay *r, int fd)
{
	char parent[32];
	char *args[16] = { r->worker_path, "--domain", (char *)r->args.domain,
	    "--task", (char *)r->args.task, "--state", (char *)r->args.state,
	    "--parent", parent };
	uv_stdio_container_t stdio[4];
	uv_process_options_t opt = { 0 };
	int n = 9;

	snprintf(parent, sizeof(parent), "%d", (int)getpid());
	if (r->args.config != NULL) {
		args[n++] = "--config";
		args[n++] = (char *)r->args.config;
	}
	if (r->args.role != NULL) {
		args[n++] = "--role";
		args[n++] = (char *)r->args.role;
	}
	args[n] = NULL;
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = 1;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = 2;
	stdio[3].flags = UV_INHERIT_FD;
	stdio[3].data.fd = fd;
	opt.file = r->worker_path;
	opt.args = args;
	opt.stdio = stdio;
	opt.stdio_count = 4;
	opt.exit_cb = on_worker_exit;
	r->proc.data = r;
	/* Same process group: masterd's signals to the domain reach it. */
	return uv_spawn(r->loop, &r->proc, &opt);
}

static void
worker_start(struct relay *r)
{
	char why[300];
	int sv[2], rc;
	json_t *m;

	if (r->wstate != W_NONE || r->proc_closing || r->stopping)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(why, sizeof(why), "socketpair: %s", strerror(errno));
		goto fail;
	}
	if ((rc = spawn_worker(r, sv[1])) != 0) {
		close(sv[0]);
		close(sv[1]);
		r->proc_closing = true;
		uv_close((uv_handle_t *)&r->proc, on_proc_closed);
		snprintf(why, sizeof(why), "cannot start %s: %s",
		    r->worker_path, uv_strerror(rc));
		goto fail;
	}
	close(sv[1]);
	r->proc_running = true;
	channel_init(r->loop, &r->worker, r->max_frame, &worker_ops, r);
	channel_open_fd(&r->worker, sv[0]);
	channel_start(&r->worker);
	r->wch_open = true;
	r->wstate = W_STARTING;
	m = new_msg(r, MSG_HELLO);
	json_object_set_new(m, "version", json_integer(PROTO_VERSION));
	json_object_set_new(m, "role", json_string("master"));
	json_object_set_new(m, "domain", json_string(r->args.domain));
	json_object_set_new(m, "task", json_integer(atoll(r->args.task)));
	json_object_set_new(m, "max_frame", json_integer((json_int_t)
	    r->max_frame));
	channel_send_new(&r->worker, m);
	uv_timer_start(&r->timer, on_worker_timer, WORKER_START_MS, 0);
	log_debug("worker pid %d started", r->proc.pid);
	return;
fail:
	/* Without a worker the work cannot be done: a restart may help. */
	log_err("%s", why);
	send_error(r, -1, ERR_INTERNAL, why);
	relay_stop(r, EXIT_WORKER_DIED);
}

/* ---------------------------------------------------------- stopping */

static void
relay_stop(struct relay *r, int code)
{
	if (!r->stopping) {
		r->stopping = true;
		r->exit_code = code;
		json_array_clear(r->pending);
	}
	if (r->wstate != W_NONE) {
		worker_stop(r, "masterd-child stops", false);
		return;		/* worker_gone calls us again */
	}
	channel_close(&r->master, NULL);
	if (!uv_is_closing((uv_handle_t *)&r->sig_term))
		uv_close((uv_handle_t *)&r->sig_term, NULL);
	if (!uv_is_closing((uv_handle_t *)&r->timer))
		uv_close((uv_handle_t *)&r->timer, NULL);
}

static void
on_sigterm(uv_signal_t *s, int signum)
{
	(void)signum;
	log_info("SIGTERM");
	relay_stop(s->data, 0);
}

/* ---------------------------------------------------------- setup */

/* masterd-worker, beside this executable. */
static char *
find_worker(void)
{
	char buf[PATH_MAX], *slash, *path;
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')) == NULL)
		return NULL;
	*slash = '\0';
	if (asprintf(&path, "%s/masterd-worker", buf) < 0)
		return NULL;
	return path;
}

int
main(int argc, char **argv)
{
	struct relay r = { .max_frame = FRAME_MAX_DEFAULT,
	    .pong_timeout_ms = WORKER_PONG_TIMEOUT_MS };
	uv_loop_t loop;
	char ident[64];

	util_init();
	if (child_args_parse(argc, argv, "masterd-child", &r.args) != 0)
		return CHILD_EXIT_NORESTART;
	snprintf(ident, sizeof(ident), "masterd-child/%s", r.args.domain);
	log_init(ident, getenv("MASTERD_CHILD_DEBUG") ? LOG_DEBUG : LOG_INFO);
	if (getenv("MASTERD_LOG_SYSLOG") != NULL)
		log_use_syslog();
	fcntl(CHILD_CHANNEL_FD, F_SETFD, FD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);
	if ((r.worker_path = find_worker()) == NULL ||
	    access(r.worker_path, X_OK) != 0) {
		log_err("cannot find masterd-worker beside masterd-child");
		free(r.worker_path);
		return CHILD_EXIT_NORESTART;
	}
	r.pending = json_array();
	uv_loop_init(&loop);
	r.loop = &loop;
	channel_init(&loop, &r.master, r.max_frame, &master_ops, &r);
	if (channel_open_fd(&r.master, CHILD_CHANNEL_FD) != 0 ||
	    channel_start(&r.master) != 0) {
		log_err("cannot use fd %d as the channel", CHILD_CHANNEL_FD);
		return CHILD_EXIT_NORESTART;
	}
	uv_signal_init(&loop, &r.sig_term);
	r.sig_term.data = &r;
	uv_signal_start(&r.sig_term, on_sigterm, SIGTERM);
	uv_timer_init(&loop, &r.timer);
	r.timer.data = &r;
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	json_decref(r.assign);
	json_decref(r.peers);
	json_decref(r.pending);
	free(r.worker_path);
	return r.exit_code;
}
