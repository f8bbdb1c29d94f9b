/*
 * relay.c — masterd-child: a domain's process, light while it waits.
 *
 * masterd starts one per domain with its channel on fd 3.  The relay does
 * the handshake, answers pings, and remembers the task's assignment and
 * the peers' latest interfaces.  The work itself (the model over HTTP, git,
 * the check commands) runs in masterd-worker, which the relay starts when a
 * directive, a plan request or an integration request arrives (the
 * domain's, the planner's or the integrator's work) and stops once nothing
 * has been left to do for a while.  Messages between the master and the
 * worker pass through unchanged; most are not even parsed here, either
 * way (on_master_frame, on_worker_frame).  Both ends are proto/peer.c's: the
 * channel to masterd is its child end, the worker a struct peer
 * (handshake, pings in step with masterd's, the stop ladder, last words);
 * what is decided here is when a worker runs and what its death means.
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
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "common/log.h"
#include "common/util.h"
#include "proto/channel.h"
#include "proto/child_args.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/peer.h"

#define EXIT_WORKER_DIED	70	/* EX_SOFTWARE: the master restarts us */

/* A worker left with nothing to do is stopped after this long. */
#define WORKER_LINGER_MS	3000
/* From spawn to ready, and from shutdown to SIGKILL (SIGTERM halfway). */
#define WORKER_START_MS		30000
#define WORKER_GRACE_MS		5000
/* A ping to the worker unanswered this long means it hangs, unless
 * masterd's hello gives its own ping_timeout. */
#define WORKER_PONG_TIMEOUT_MS	30000

struct relay {
	uv_loop_t *loop;
	struct channel master;
	struct peer worker;	/* its process, channel, pings and stop */
	uv_signal_t sig_term;
	uv_timer_t linger;	/* an idle worker's last seconds */
	json_int_t next_id;

	struct child_args args;	/* ours, passed on to the worker */
	char *worker_path;
	size_t max_frame;
	uint64_t pong_timeout_ms;

	json_t *assign;		/* the last task.assign */
	json_t *peers;		/* the last interface.peers since */
	json_t *providers;	/* the last providers message */
	json_t *pending;	/* for the worker once it is ready */
	int inflight;		/* work sent to the worker, not answered */
	bool idled;		/* the worker was stopped for idleness */

	bool stopping;
	int exit_code;
};

static void worker_start(struct relay *);
static void relay_stop(struct relay *, int code);

/* ---------------------------------------------------------- helpers */

/* A message over the frame limit (the worker's, passed on) is replaced by
 * one saying so, as the worker itself does. */
static void
to_master(struct relay *r, json_t *msg)
{
	if (channel_send(&r->master, msg) == CHANNEL_ETOOBIG)
		channel_send_new(&r->master, peer_too_big_new(&r->next_id, msg,
		    r->master.refused_size, r->master.max_frame));
	json_decref(msg);
}

static void
send_error(struct relay *r, json_int_t re, const char *code,
    const char *text)
{
	to_master(r, peer_error_new(&r->next_id, re, code, text));
}

/* A directive, a plan request or an integration request: work that ends
 * in a final round, a plan.result or an integrate.result. */
static bool
is_work(const json_t *msg)
{
	const char *type = json_string_value(json_object_get(msg, "type"));

	return strcmp(type, msg_name(MSG_DIRECTIVE)) == 0 ||
	    strcmp(type, msg_name(MSG_PLAN_REQUEST)) == 0 ||
	    strcmp(type, msg_name(MSG_INTEGRATE_REQUEST)) == 0;
}

static void
send_worker(struct relay *r, const json_t *msg)
{
	if (is_work(msg))
		r->inflight++;
	peer_send(&r->worker, json_incref((json_t *)msg));
}

/* Now if the worker takes messages, else when it does. */
static void
to_worker(struct relay *r, const json_t *msg)
{
	if (r->worker.state == PEER_READY) {
		send_worker(r, msg);
		return;
	}
	json_array_append(r->pending, (json_t *)msg);
	if (r->worker.state == PEER_IDLE)
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

	if (r->worker.state == PEER_READY && idle(r)) {
		r->idled = true;
		peer_stop(&r->worker, "nothing to do");
	}
}

static void
arm_linger(struct relay *r)
{
	if (r->worker.state == PEER_READY && idle(r))
		uv_timer_start(&r->linger, on_linger, WORKER_LINGER_MS, 0);
}

/* ---------------------------------------------------------- the master */

/* Its frame limit and ping timeout hold for the worker too. */
static void
on_master_hello(struct relay *r, const json_t *msg)
{
	r->max_frame = r->master.max_frame;
	if (jget_int(msg, "ping_timeout", 0) > 0)
		r->pong_timeout_ms = (uint64_t)jget_int(msg, "ping_timeout", 0);
}

/* The worker gets the latest of these when it starts; a running one now. */
static void
remember(json_t **slot, const json_t *msg, struct relay *r)
{
	json_decref(*slot);
	*slot = json_incref((json_t *)msg);
	if (r->worker.state == PEER_READY)
		peer_send(&r->worker, json_incref((json_t *)msg));
}

/*
 * masterd sends the changed interfaces only ("update"): the running
 * worker merges them, and the relay keeps the whole set for a new one,
 * as one interface.peers with every peer (the assign's set, then each
 * update merged in).
 */
static void
remember_peers(struct relay *r, const json_t *msg)
{
	const json_t *base;
	json_t *whole;

	if (!json_is_true(json_object_get(msg, "update"))) {
		remember(&r->peers, msg, r);
		return;
	}
	if (r->peers == NULL) {
		/* The first update: the whole set starts from the assign's. */
		base = json_object_get(r->assign, "peers");
		whole = json_deep_copy(msg);
		json_object_del(whole, "update");
		json_object_set_new(whole, "peers", json_is_array(base) ?
		    json_copy((json_t *)base) : json_array());
		r->peers = whole;
	}
	/* In place: the relay holds the only reference that matters. */
	msg_peers_merge(json_object_get(r->peers, "peers"),
	    json_object_get(msg, "peers"));
	if (r->worker.state == PEER_READY)
		peer_send(&r->worker, json_incref((json_t *)msg));
}

static void
on_master_msg(struct channel *ch, json_t *msg, void *arg)
{
	struct relay *r = arg;
	const struct msg_spec *spec;
	int stop;

	spec = peer_parent_msg(ch, &r->next_id, r->args.domain, !idle(r), msg,
	    &stop);
	if (stop >= 0)
		relay_stop(r, stop);
	if (spec == NULL)
		return;
	switch (spec->type) {
	case MSG_HELLO:
		on_master_hello(r, msg);
		break;
	case MSG_PING:
		/*
		 * masterd's pings reach the relay, which answers them
		 * itself: so the worker is pinged in step with them, and one
		 * that leaves a ping unanswered too long (a stuck loop,
		 * SIGSTOP) is killed.  With work in hand that is a crash of
		 * the domain, as a hung child was before.
		 */
		peer_ping(&r->worker);
		break;
	case MSG_TASK_ASSIGN:
		json_decref(r->peers);
		r->peers = NULL;
		remember(&r->assign, msg, r);
		break;
	case MSG_INTERFACE_PEERS:
		remember_peers(r, msg);
		break;
	case MSG_PROVIDERS:
		remember(&r->providers, msg, r);
		break;
	case MSG_DIRECTIVE:
	case MSG_PLAN_REQUEST:
	case MSG_INTEGRATE_REQUEST:
		if (r->worker.state == PEER_READY)
			uv_timer_stop(&r->linger);
		to_worker(r, msg);
		break;
	case MSG_CANCEL:
		/* Only a worker with work, or work waiting, has anything to
		 * cancel; one stopping for idleness has none. */
		if (r->worker.state == PEER_READY ||
		    r->worker.state == PEER_STARTING ||
		    json_array_size(r->pending) > 0)
			to_worker(r, msg);
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

/*
 * Work and cancels for a running worker go on as they are: their type is
 * found by a cheap look (frame_peek) and the bytes are written on,
 * neither parsed nor re-encoded; the worker checks them (a bad one is
 * answered with an error, which comes back through here to masterd).
 * Parsed as before: what the relay keeps for a worker to come (task.assign,
 * interface.peers, providers), what it answers itself (hello, ping,
 * shutdown), anything while no worker is ready (kept in pending), over the
 * worker's frame limit (cut to fit), with an attachment the worker does
 * not take, or that the look is unsure of.
 */
static bool
on_master_frame(struct channel *ch, const unsigned char *payload, size_t n,
    void *arg)
{
	struct relay *r = arg;
	const struct msg_spec *spec;
	struct frame_peek pk;
	char type[64];

	(void)ch;
	if (r->worker.state != PEER_READY || n > r->worker.ch.max_frame ||
	    frame_peek(payload, n, &pk) != 0 || pk.type_len == 0 ||
	    pk.type_len >= sizeof(type) ||
	    (pk.attached && !r->worker.ch.attach_out))
		return false;
	memcpy(type, pk.type, pk.type_len);
	type[pk.type_len] = '\0';
	if ((spec = msg_find(CHAN_CHILD, type)) == NULL ||
	    (spec->from & PEER_MASTER) == 0)
		return false;
	switch (spec->type) {
	case MSG_DIRECTIVE:
	case MSG_PLAN_REQUEST:
	case MSG_INTEGRATE_REQUEST:
	case MSG_CANCEL:
		break;
	default:
		return false;
	}
	if (channel_send_frame(&r->worker.ch, payload, n) == CHANNEL_ETOOBIG)
		return false;
	if (spec->type != MSG_CANCEL) {
		/* As to_worker does for a parsed one. */
		uv_timer_stop(&r->linger);
		r->inflight++;
	}
	return true;
}

static const struct channel_ops master_ops = {
	.on_msg = on_master_msg,
	.on_bad = NULL,
	.on_close = on_master_close,
	.on_frame = on_master_frame,
};

/* ---------------------------------------------------------- the worker */

static void
on_worker_ready(struct peer *p)
{
	struct relay *r = p->arg;
	size_t i;
	json_t *m;

	if (r->assign != NULL)
		peer_send(p, json_incref(r->assign));
	if (r->peers != NULL)
		peer_send(p, json_incref(r->peers));
	if (r->providers != NULL)
		peer_send(p, json_incref(r->providers));
	json_array_foreach(r->pending, i, m)
		send_worker(r, m);
	json_array_clear(r->pending);
	arm_linger(r);
}

static void
on_worker_msg(struct peer *p, const struct msg_spec *spec, json_t *msg)
{
	struct relay *r = p->arg;

	switch (spec->type) {
	case MSG_ROUND:
	case MSG_PLAN_RESULT:
	case MSG_INTEGRATE_RESULT:
		/* A final round ends its directive, as a plan.result or an
		 * integrate.result its request. */
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

/*
 * Most of what the worker says goes to the master unchanged: such a frame
 * is passed on as it is, its type found by a cheap look, neither parsed
 * nor re-encoded (masterd checks it).  Parsed here as before: what the
 * relay acts on (a final round, a plan.result, an integrate.result),
 * anything over the master's frame limit (cut to fit), an attachment
 * masterd does not take, and anything the look is unsure of, so a
 * worker's bad message is still its fault.
 */
static bool
on_worker_frame(struct peer *p, const unsigned char *payload, size_t n)
{
	struct relay *r = p->arg;
	const struct msg_spec *spec;
	struct frame_peek pk;
	char type[64];

	if (n > r->master.max_frame || frame_peek(payload, n, &pk) != 0 ||
	    pk.type_len == 0 || pk.type_len >= sizeof(type) ||
	    (pk.attached && !r->master.attach_out))
		return false;
	memcpy(type, pk.type, pk.type_len);
	type[pk.type_len] = '\0';
	if ((spec = msg_find(CHAN_CHILD, type)) == NULL ||
	    (spec->from & PEER_CHILD) == 0)
		return false;
	switch (spec->type) {
	case MSG_HELLO:
	case MSG_READY:
	case MSG_PONG:
	case MSG_PLAN_RESULT:
	case MSG_INTEGRATE_RESULT:
		return false;
	case MSG_ROUND:
		if (pk.final != -1 && pk.final != 0)
			return false;
		break;
	default:
		break;
	}
	return channel_send_frame(&r->master, payload, n) != CHANNEL_ETOOBIG;
}

static void
on_worker_fault(struct peer *p, enum peer_fault kind, const char *why)
{
	struct relay *r = p->arg;

	switch (kind) {
	case PEER_FAULT_NO_PONG:
		log_err("the worker answered no ping for %llu ms; SIGKILL",
		    (unsigned long long)r->pong_timeout_ms);
		break;
	case PEER_FAULT_NOT_READY:
		log_err("the worker did not get ready in %d ms; SIGKILL",
		    WORKER_START_MS);
		break;
	default:
		log_err("the worker: %s; SIGKILL", why);
		break;
	}
}

/* The worker is reaped and its channel closed. */
static void
on_worker_exit(struct peer *p)
{
	struct relay *r = p->arg;
	bool norestart = p->term_signal == 0 &&
	    p->exit_status == CHILD_EXIT_NORESTART;
	/* Work sent, or work waiting for a worker that died unasked (it may
	 * not start at all: no restart loop here, masterd's backoff and
	 * start limit apply). */
	bool lost = r->inflight > 0 ||
	    (!r->idled && json_array_size(r->pending) > 0);
	char desc[96], why[160];

	uv_timer_stop(&r->linger);
	r->inflight = 0;
	peer_exit_desc(p, desc, sizeof(desc));
	snprintf(why, sizeof(why), "worker %s", desc);
	if (r->stopping) {
		relay_stop(r, r->exit_code);
		return;
	}
	if (lost || norestart) {
		/* The master must see the domain crash, and redo the work. */
		log_err("%s%s", why, lost ? " with work in hand" : "");
		send_error(r, -1, ERR_INTERNAL, why);
		relay_stop(r, norestart ? CHILD_EXIT_NORESTART :
		    EXIT_WORKER_DIED);
		return;
	}
	log_debug("%s", why);
	/* Work that came while it was stopping. */
	if (json_array_size(r->pending) > 0)
		worker_start(r);
}

static const struct peer_ops worker_ops = {
	.on_ready = on_worker_ready,
	.on_message = on_worker_msg,
	.on_fault = on_worker_fault,
	.on_exit = on_worker_exit,
	.on_frame = on_worker_frame,
};

static void
worker_start(struct relay *r)
{
	char parent[32], why[300], *argv[CHILD_ARGV_MAX];
	struct child_args a = r->args;

	if (r->worker.state != PEER_IDLE || r->stopping)
		return;
	snprintf(parent, sizeof(parent), "%d", (int)getpid());
	a.parent = parent;
	child_args_argv(&a, r->worker_path, argv);
	r->worker.conf = (struct peer_conf){
		.domain = r->args.domain,
		.task = atoll(r->args.task),
		.max_frame = r->max_frame,
		.ready_ms = WORKER_START_MS,
		.pong_timeout_ms = r->pong_timeout_ms,
		.grace_ms = WORKER_GRACE_MS / 2,
		/* Same process group: masterd's signals to the domain
		 * reach it. */
		.own_session = false,
	};
	if (peer_start(&r->worker, argv, why, sizeof(why)) != 0) {
		/* Without a worker the work cannot be done: a restart may
		 * help. */
		log_err("%s", why);
		send_error(r, -1, ERR_INTERNAL, why);
		relay_stop(r, EXIT_WORKER_DIED);
		return;
	}
	r->idled = false;
	log_debug("worker pid %d started", r->worker.pid);
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
	if (peer_stop(&r->worker, "masterd-child stops"))
		return;		/* on_worker_exit calls us again */
	channel_close(&r->master, NULL);
	if (uv_is_closing((uv_handle_t *)&r->sig_term))
		return;
	uv_close((uv_handle_t *)&r->sig_term, NULL);
	uv_close((uv_handle_t *)&r->linger, NULL);
	peer_close(&r->worker, NULL);
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
	char buf[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')) == NULL)
		return NULL;
	*slash = '\0';
	return xasprintf("%s/masterd-worker", buf);
}

int
main(int argc, char **argv)
{
	struct relay r = { .max_frame = FRAME_MAX_DEFAULT,
	    .pong_timeout_ms = WORKER_PONG_TIMEOUT_MS };
	uv_loop_t loop;
	char ident[64];

	if (util_harden_process() != 0)
		return CHILD_EXIT_NORESTART;
	util_init();
	if (child_args_parse(argc, argv, "masterd-child", &r.args) != 0)
		return CHILD_EXIT_NORESTART;
	snprintf(ident, sizeof(ident), "masterd-child/%s", r.args.domain);
	log_init(ident, getenv("MASTERD_CHILD_DEBUG") ? LOG_DEBUG : LOG_INFO);
	if (getenv("MASTERD_LOG_SYSLOG") != NULL)
		log_use_syslog();
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
	if (peer_parent_open(&loop, &r.master, &master_ops, &r) != 0)
		return CHILD_EXIT_NORESTART;
	uv_signal_init(&loop, &r.sig_term);
	r.sig_term.data = &r;
	uv_signal_start(&r.sig_term, on_sigterm, SIGTERM);
	uv_timer_init(&loop, &r.linger);
	r.linger.data = &r;
	peer_init(&r.worker, &loop, "the worker", &worker_ops, &r, &r.next_id);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	json_decref(r.assign);
	json_decref(r.peers);
	json_decref(r.providers);
	json_decref(r.pending);
	free(r.worker_path);
	return r.exit_code;
}
