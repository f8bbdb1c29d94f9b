/*
 * peer.c — a supervised process and its channel: the parent end (spawn,
 * handshake, pings, the stop ladder, last words, the exit) and the child
 * end (the channel to the parent: hello answered, pings, shutdown, error
 * messages).
 *
 * A peer's handles: two timers for its whole life, and per run a process
 * handle and the channel's pipe.  Each is counted while initialised and
 * counted off in its close callback; the exit is reported once the process
 * is reaped, its handle released and its channel closed, so the owner may
 * start the next run at once, and peer_close() hands the peer back only
 * when libuv has let go of everything.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "proto/peer.h"

/* How long the socket of a process that exited is read for its last
 * words; a grandchild may hold it open, so not for ever. */
#define PEER_DRAIN_MS		1000

static void on_channel_msg(struct channel *, json_t *, void *);
static void on_channel_close(struct channel *, const char *, void *);
static bool on_channel_frame(struct channel *, const unsigned char *, size_t,
    void *);

static const struct channel_ops peer_channel_ops = {
	.on_msg = on_channel_msg,
	.on_frame = on_channel_frame,
	.on_bad = NULL,		/* any bad frame is a fault */
	.on_close = on_channel_close,
};

static const char *const state_names[] = {
	[PEER_IDLE] = "idle",
	[PEER_STARTING] = "starting",
	[PEER_READY] = "ready",
	[PEER_STOPPING] = "stopping",
	[PEER_EXITED] = "exited",
};

const char *
peer_state_name(enum peer_state s)
{
	return state_names[s];
}

/* ---------------------------------------------------------- handles */

/* One handle less; true when that was the last after peer_close(), and
 * the peer is the owner's again (it may be freed: touch it no more). */
static bool
handle_released(struct peer *p)
{
	if (--p->handles > 0 || p->closed == NULL)
		return false;
	p->closed(p);
	return true;
}

static void
on_timer_closed(uv_handle_t *h)
{
	handle_released(h->data);
}

/* Reaped, released and its channel closed: report the exit. */
static void
check_exited(struct peer *p)
{
	if (p->state != PEER_EXITED || p->proc_closing || p->ch_open)
		return;
	uv_timer_stop(&p->ladder);
	p->state = PEER_IDLE;
	p->pid = 0;
	p->ops->on_exit(p);	/* last use of p: it may start or close it */
}

static void
on_proc_closed(uv_handle_t *h)
{
	struct peer *p = h->data;

	p->proc_closing = false;
	if (!handle_released(p))
		check_exited(p);
}

void
peer_init(struct peer *p, uv_loop_t *loop, const char *label,
    const struct peer_ops *ops, void *arg, json_int_t *ids)
{
	memset(p, 0, sizeof(*p));
	p->loop = loop;
	p->ops = ops;
	p->arg = arg;
	p->ids = ids;
	snprintf(p->label, sizeof(p->label), "%s", label);
	uv_timer_init(loop, &p->timer);
	uv_timer_init(loop, &p->ladder);
	p->timer.data = p;
	p->ladder.data = p;
	p->handles = 2;
}

void
peer_close(struct peer *p, void (*closed)(struct peer *))
{
	if (p->closed != NULL || uv_is_closing((uv_handle_t *)&p->timer))
		return;
	p->closed = closed;
	uv_close((uv_handle_t *)&p->timer, on_timer_closed);
	uv_close((uv_handle_t *)&p->ladder, on_timer_closed);
}

/* ---------------------------------------------------------- signals */

static void
signal_peer(struct peer *p, int sig)
{
	if (!p->proc_running || p->pid <= 0)
		return;
	/* A session leader: take its check commands too. */
	if (p->conf.own_session && (kill(-p->pid, sig) == 0 || errno != ESRCH))
		return;
	kill(p->pid, sig);
}

/* SIGKILL now, and no more reading. */
static void
peer_kill(struct peer *p)
{
	uv_timer_stop(&p->timer);
	if (p->state == PEER_STARTING || p->state == PEER_READY)
		p->state = PEER_STOPPING;
	signal_peer(p, SIGKILL);
	if (p->ch_open)
		channel_close(&p->ch, NULL);
}

static void
refresh(struct peer *p)
{
	if (p->ops->refresh != NULL)
		p->ops->refresh(p);
}

static void
peer_fault(struct peer *p, enum peer_fault kind, const char *why)
{
	p->ops->on_fault(p, kind, why);
	peer_kill(p);
}

/* ---------------------------------------------------------- start */

static void
on_drain_timeout(uv_timer_t *t)
{
	struct peer *p = t->data;

	if (p->ch_open)
		channel_close(&p->ch, NULL);
}

static void
on_proc_exit(uv_process_t *proc, int64_t status, int sig)
{
	struct peer *p = proc->data;

	p->proc_running = false;
	p->exit_status = status;
	p->term_signal = sig;
	p->proc_closing = true;
	uv_close((uv_handle_t *)proc, on_proc_closed);
	uv_timer_stop(&p->timer);
	uv_timer_stop(&p->ladder);
	p->state = PEER_EXITED;
	/* Its last words (an error, a result) may still be unread in the
	 * socket: read on until EOF, but not for long. */
	if (p->ch_open)
		uv_timer_start(&p->ladder, on_drain_timeout, PEER_DRAIN_MS, 0);
}

static int
spawn(struct peer *p, char *const argv[], int fd)
{
	uv_stdio_container_t stdio[4];
	uv_process_options_t opt;

	memset(&opt, 0, sizeof(opt));
	stdio[0].flags = UV_IGNORE;
	/* Its stray output goes to the log, with its errors. */
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = STDERR_FILENO;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = STDERR_FILENO;
	stdio[3].flags = UV_INHERIT_FD;
	stdio[3].data.fd = fd;
	opt.file = argv[0];
	opt.args = (char **)argv;
	opt.stdio = stdio;
	opt.stdio_count = 4;
	opt.exit_cb = on_proc_exit;
	if (p->conf.own_session)
		opt.flags = UV_PROCESS_DETACHED;
	p->proc.data = p;
	/* Initialised even when the spawn fails: counted until closed. */
	p->handles++;
	return uv_spawn(p->loop, &p->proc, &opt);
}

static void
send_hello(struct peer *p)
{
	json_t *m = msg_new(MSG_HELLO, ++*p->ids);

	json_object_set_new(m, "version", json_integer(PROTO_VERSION));
	json_object_set_new(m, "role", json_string("master"));
	json_object_set_new(m, "domain", json_string(p->conf.domain));
	json_object_set_new(m, "task", json_integer(p->conf.task));
	json_object_set_new(m, "max_frame",
	    json_integer((json_int_t)p->conf.max_frame));
	if (p->conf.hello_ping_timeout > 0)
		json_object_set_new(m, "ping_timeout",
		    json_integer(p->conf.hello_ping_timeout));
	/* We take attachments; it sends them once its hello says it
	 * takes them too, and so do we. */
	json_object_set_new(m, "attach", json_true());
	peer_send(p, m);
}

/*
 * A deadline found passed in the timers phase is judged again after the
 * loop has polled its sockets once more.  Timers run before the poll, so
 * after a long turn (a flood from another child, a slow disk) the awaited
 * message may be waiting, unread, in this peer's socket.  The recheck
 * timer is 1 ms, not 0: libuv runs a timer due now in the same timers
 * phase that started it, before any poll.
 */
#define RECHECK_MS	1

static void
on_ready_deadline(uv_timer_t *t)
{
	struct peer *p = t->data;
	char why[96];

	if (!p->ready_recheck) {
		p->ready_recheck = true;
		uv_timer_start(&p->timer, on_ready_deadline, RECHECK_MS, 0);
		return;
	}
	snprintf(why, sizeof(why), "not ready within %llu ms",
	    (unsigned long long)p->conf.ready_ms);
	peer_fault(p, PEER_FAULT_NOT_READY, why);
}

int
peer_start(struct peer *p, char *const argv[], char *err, size_t errlen)
{
	int sv[2], rc;

	if (p->state != PEER_IDLE)
		return 0;
	if (p->proc_closing) {
		snprintf(err, errlen, "the last %s is still being reaped",
		    argv[0]);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	if ((rc = spawn(p, argv, sv[1])) != 0) {
		close(sv[0]);
		close(sv[1]);
		snprintf(err, errlen, "cannot start %s: %s", argv[0],
		    uv_strerror(rc));
		p->proc_closing = true;
		uv_close((uv_handle_t *)&p->proc, on_proc_closed);
		return -1;
	}
	close(sv[1]);
	p->proc_running = true;
	p->pid = p->proc.pid;
	p->spawned_ms = uv_now(p->loop);
	p->last_pong_ms = p->spawned_ms;
	p->pong_recheck = false;
	p->ready_recheck = false;
	p->hello_seen = false;
	p->stop_step = PEER_STOP_NONE;
	p->exit_status = 0;
	p->term_signal = 0;
	channel_init(p->loop, &p->ch, p->conf.max_frame, &peer_channel_ops,
	    p);
	p->ch.dec.attach = true;
	p->handles++;
	p->ch_open = true;
	channel_open_fd(&p->ch, sv[0]);
	channel_start(&p->ch);
	p->state = PEER_STARTING;
	send_hello(p);
	uv_timer_start(&p->timer, on_ready_deadline, p->conf.ready_ms, 0);
	return 0;
}

/* Messages to a child whose text is for a model: cut to fit rather than
 * lost.  Not integrate.request: a command cut would run another. */
static bool
cuttable(const json_t *msg)
{
	static const enum msg_type types[] = { MSG_TASK_ASSIGN, MSG_DIRECTIVE,
	    MSG_INTERFACE_PEERS, MSG_PLAN_REQUEST };
	const char *type = json_string_value(json_object_get(msg, "type"));

	for (size_t i = 0; type != NULL && i < sizeof(types) /
	    sizeof(types[0]); i++) {
		if (strcmp(type, msg_name(types[i])) == 0)
			return true;
	}
	return false;
}

int
peer_send(struct peer *p, json_t *msg)
{
	json_t *copy;
	int rc;

	if (!p->ch_open) {
		json_decref(msg);
		return -1;
	}
	rc = channel_send(&p->ch, msg);
	/* Cut a copy: msg may share values with the owner's state. */
	if (rc == CHANNEL_ETOOBIG && cuttable(msg) &&
	    (copy = json_deep_copy(msg)) != NULL) {
		log_warn("%s: %s cut to fit max_frame (%zu bytes)", p->label,
		    json_string_value(json_object_get(msg, "type")),
		    p->ch.max_frame);
		if (frame_cut_to_fit(copy, p->ch.max_frame) == 0)
			rc = channel_send(&p->ch, copy);
		json_decref(copy);
	}
	json_decref(msg);
	return rc;
}

/* ---------------------------------------------------------- liveness */

static void on_ping_tick(uv_timer_t *);

/* A pong found overdue is judged again after one more poll (RECHECK_MS). */
static void
on_pong_recheck(uv_timer_t *t)
{
	struct peer *p = t->data;

	if (p->state != PEER_READY)
		return;
	if (p->conf.ping_ms > 0)
		uv_timer_start(&p->timer, on_ping_tick, p->conf.ping_ms,
		    p->conf.ping_ms);
	peer_ping(p);
}

void
peer_ping(struct peer *p)
{
	uint64_t now = uv_now(p->loop);
	char why[96];

	if (p->state != PEER_READY)
		return;
	refresh(p);
	if (now - p->last_pong_ms <= p->conf.pong_timeout_ms) {
		p->pong_recheck = false;
		peer_send(p, msg_new(MSG_PING, ++*p->ids));
		return;
	}
	if (!p->pong_recheck) {
		p->pong_recheck = true;
		uv_timer_start(&p->timer, on_pong_recheck, RECHECK_MS, 0);
		return;
	}
	snprintf(why, sizeof(why), "no pong for %llu ms",
	    (unsigned long long)(now - p->last_pong_ms));
	peer_fault(p, PEER_FAULT_NO_PONG, why);
}

static void
on_ping_tick(uv_timer_t *t)
{
	peer_ping(t->data);
}

/* ---------------------------------------------------------- messages */

static void
on_hello(struct peer *p, const json_t *msg)
{
	json_int_t v = json_integer_value(json_object_get(msg, "version"));
	char why[160];

	if (v == PROTO_VERSION) {
		p->hello_seen = true;
		p->ch.attach_out = json_is_true(json_object_get(msg,
		    "attach"));
		return;
	}
	snprintf(why, sizeof(why), "protocol version mismatch: masterd "
	    "speaks %d, child speaks %lld", PROTO_VERSION, (long long)v);
	peer_send(p, peer_error_new(p->ids, msg_id(msg), ERR_VERSION, why));
	peer_fault(p, PEER_FAULT_VERSION, why);
}

static void
on_ready(struct peer *p)
{
	if (p->state != PEER_STARTING)
		return;
	if (!p->hello_seen) {
		peer_fault(p, PEER_FAULT_HANDSHAKE, "said ready before hello");
		return;
	}
	uv_timer_stop(&p->timer);
	p->state = PEER_READY;
	p->last_pong_ms = uv_now(p->loop);
	if (p->conf.ping_ms > 0)
		uv_timer_start(&p->timer, on_ping_tick, p->conf.ping_ms,
		    p->conf.ping_ms);
	p->ops->on_ready(p);
}

static void
on_channel_msg(struct channel *ch, json_t *msg, void *arg)
{
	struct peer *p = arg;
	const struct msg_spec *spec;
	char err[200], why[256];

	(void)ch;
	if (msg_validate(msg, CHAN_CHILD, PEER_CHILD, &spec, err,
	    sizeof(err)) != 0) {
		snprintf(why, sizeof(why), "bad message: %s", err);
		peer_fault(p, PEER_FAULT_MESSAGE, why);
		return;
	}
	switch (spec->type) {
	case MSG_HELLO:
		on_hello(p, msg);
		break;
	case MSG_READY:
		on_ready(p);
		break;
	case MSG_PONG:
		p->last_pong_ms = uv_now(p->loop);
		break;
	default:
		p->ops->on_message(p, spec, msg);
		break;
	}
}

/* Once it is ready, the owner may take a frame unparsed (to pass it on);
 * the handshake and the pongs are always parsed here. */
static bool
on_channel_frame(struct channel *ch, const unsigned char *payload, size_t n,
    void *arg)
{
	struct peer *p = arg;

	(void)ch;
	if (p->state != PEER_READY || p->ops->on_frame == NULL)
		return false;
	return p->ops->on_frame(p, payload, n);
}

static void on_ladder(uv_timer_t *);

static void
on_channel_close(struct channel *ch, const char *why, void *arg)
{
	struct peer *p = arg;
	char text[300];

	(void)ch;
	p->ch_open = false;
	if (handle_released(p))
		return;
	if (why != NULL && p->proc_running) {
		snprintf(text, sizeof(text), "channel: %s", why);
		peer_fault(p, PEER_FAULT_CHANNEL, text);
	} else if (p->proc_running && p->stop_step == PEER_STOP_NONE) {
		/* EOF without an exit yet: the exit follows soon, or one that
		 * closed its channel but lingers is stopped. */
		uv_timer_stop(&p->timer);
		p->state = PEER_STOPPING;
		signal_peer(p, SIGTERM);
		p->stop_step = PEER_STOP_TERM;
		uv_timer_start(&p->ladder, on_ladder, p->conf.grace_ms, 0);
	}
	check_exited(p);
}

/* ---------------------------------------------------------- stopping */

static void
on_ladder(uv_timer_t *t)
{
	struct peer *p = t->data;

	refresh(p);
	if (p->stop_step == PEER_STOP_SHUTDOWN) {
		log_warn("%s: no exit after shutdown; SIGTERM", p->label);
		signal_peer(p, SIGTERM);
		p->stop_step = PEER_STOP_TERM;
		uv_timer_start(&p->ladder, on_ladder, p->conf.grace_ms, 0);
		return;
	}
	log_warn("%s: no exit after SIGTERM; SIGKILL", p->label);
	signal_peer(p, SIGKILL);
}

bool
peer_stop(struct peer *p, const char *why)
{
	json_t *m;

	if (p->state == PEER_IDLE)
		return false;
	if (p->state == PEER_STOPPING || p->state == PEER_EXITED)
		return true;
	uv_timer_stop(&p->timer);
	p->state = PEER_STOPPING;
	m = msg_new(MSG_SHUTDOWN, ++*p->ids);
	if (why != NULL)
		json_object_set_new(m, "reason", json_string(why));
	json_object_set_new(m, "grace_ms",
	    json_integer((json_int_t)p->conf.grace_ms));
	peer_send(p, m);
	p->stop_step = PEER_STOP_SHUTDOWN;
	uv_timer_start(&p->ladder, on_ladder, p->conf.grace_ms, 0);
	return true;
}

void
peer_exit_desc(const struct peer *p, char *buf, size_t len)
{
	if (p->term_signal != 0)
		snprintf(buf, len, "killed by signal %d (%s)", p->term_signal,
		    strsignal(p->term_signal));
	else
		snprintf(buf, len, "exited with status %lld",
		    (long long)p->exit_status);
}

/* ---------------------------------------------------------- child end */

/* Copy the named fields of from that are there. */
static void
copy_fields(json_t *to, const json_t *from, const char *const *keys)
{
	json_t *v;

	for (; *keys != NULL; keys++) {
		if ((v = json_object_get(from, *keys)) != NULL)
			json_object_set(to, *keys, v);
	}
}

json_t *
peer_too_big_new(json_int_t *ids, const json_t *msg, size_t size,
    size_t limit)
{
	static const char *const round_keys[] = { "task", "directive",
	    "round", "stage", "final", "duration_ms", "usage", "model",
	    "critic_model", NULL };
	static const char *const plan_keys[] = { "task", "kind", "usage",
	    "model", NULL };
	static const char *const integrate_keys[] = { "task", "run", "commit",
	    "duration_ms", NULL };
	static const char *const progress_keys[] = { "stage", "task",
	    "directive", "round", "usage", NULL };
	const char *type = json_string_value(json_object_get(msg, "type"));
	const struct msg_spec *spec = type != NULL ?
	    msg_find(CHAN_CHILD, type) : NULL;
	char why[256];
	json_t *m;

	snprintf(why, sizeof(why), "%s message of %zu bytes is over max_frame "
	    "(%zu bytes): not sent", type != NULL ? type : "a", size, limit);
	switch (spec != NULL ? spec->type : MSG_NONE) {
	case MSG_ROUND:
		m = msg_new(MSG_ROUND, ++*ids);
		copy_fields(m, msg, round_keys);
		json_object_set_new(m, "ok", json_false());
		break;
	case MSG_PLAN_RESULT:
		m = msg_new(MSG_PLAN_RESULT, ++*ids);
		copy_fields(m, msg, plan_keys);
		json_object_set_new(m, "ok", json_false());
		break;
	case MSG_INTEGRATE_RESULT:
		m = msg_new(MSG_INTEGRATE_RESULT, ++*ids);
		copy_fields(m, msg, integrate_keys);
		json_object_set_new(m, "ok", json_false());
		break;
	case MSG_PROGRESS:
		m = msg_new(MSG_PROGRESS, ++*ids);
		copy_fields(m, msg, progress_keys);
		json_object_set_new(m, "text", json_string(why));
		return m;
	default:
		return peer_error_new(ids, -1, ERR_TOO_LARGE, why);
	}
	json_object_set_new(m, "error", json_pack("{s:s, s:s}", "code",
	    ERR_TOO_LARGE, "message", why));
	return m;
}

json_t *
peer_error_new(json_int_t *ids, json_int_t re, const char *code,
    const char *text)
{
	json_t *m = msg_new(MSG_ERROR, ++*ids);

	json_object_set_new(m, "code", json_string(code));
	json_object_set_new(m, "message", json_string(text));
	if (re >= 0)
		json_object_set_new(m, "re", json_integer(re));
	return m;
}

static int
hello_answer(struct channel *ch, json_int_t *ids, const json_t *hello,
    const char *domain, char *err, size_t errlen)
{
	json_int_t v = json_integer_value(json_object_get(hello, "version"));
	json_int_t max = json_integer_value(json_object_get(hello,
	    "max_frame"));
	json_t *m;

	if (v != PROTO_VERSION) {
		snprintf(err, errlen, "protocol version mismatch: child speaks "
		    "%d, masterd speaks %lld", PROTO_VERSION, (long long)v);
		return -1;
	}
	/* Take the peer's frame limit, so we accept what it may send. */
	if (max > 0) {
		ch->max_frame = (size_t)max;
		ch->dec.max = (size_t)max;
	}
	m = msg_new(MSG_HELLO, ++*ids);
	json_object_set_new(m, "version", json_integer(PROTO_VERSION));
	json_object_set_new(m, "role", json_string("child"));
	json_object_set_new(m, "domain", json_string(domain));
	json_object_set_new(m, "pid", json_integer(getpid()));
	/* Attachments both ways when the parent takes them: our decoder
	 * took them from the start (peer_parent_open). */
	if (json_is_true(json_object_get(hello, "attach"))) {
		json_object_set_new(m, "attach", json_true());
		ch->attach_out = true;
	}
	channel_send_new(ch, m);
	m = msg_new(MSG_READY, ++*ids);
	json_object_set_new(m, "domain", json_string(domain));
	channel_send_new(ch, m);
	return 0;
}

const struct msg_spec *
peer_parent_msg(struct channel *ch, json_int_t *ids, const char *domain,
    bool busy, const json_t *msg, int *stop)
{
	const struct msg_spec *spec;
	char err[200];
	json_t *m;

	*stop = -1;
	if (msg_validate(msg, CHAN_CHILD, PEER_MASTER, &spec, err,
	    sizeof(err)) != 0) {
		log_warn("bad message from master: %s", err);
		channel_send_new(ch, peer_error_new(ids, msg_id(msg),
		    ERR_BAD_REQUEST, err));
		return NULL;
	}
	switch (spec->type) {
	case MSG_HELLO:
		if (hello_answer(ch, ids, msg, domain, err, sizeof(err)) != 0) {
			log_err("%s", err);
			channel_send_new(ch, peer_error_new(ids, msg_id(msg),
			    ERR_VERSION, err));
			*stop = CHILD_EXIT_NORESTART;
			return NULL;
		}
		break;
	case MSG_PING:
		m = msg_new(MSG_PONG, ++*ids);
		json_object_set_new(m, "re", json_integer(msg_id(msg)));
		json_object_set_new(m, "busy", json_boolean(busy));
		channel_send_new(ch, m);
		break;
	case MSG_SHUTDOWN:
		log_info("shutdown: %s", jget_str(msg, "reason") ?:
		    "asked by masterd");
		*stop = 0;
		return NULL;
	default:
		break;
	}
	return spec;
}

int
peer_parent_open(uv_loop_t *loop, struct channel *ch,
    const struct channel_ops *ops, void *arg)
{
	/* What this process runs must not inherit the channel. */
	fcntl(CHILD_CHANNEL_FD, F_SETFD, FD_CLOEXEC);
	channel_init(loop, ch, FRAME_MAX_DEFAULT, ops, arg);
	ch->dec.attach = true;
	if (channel_open_fd(ch, CHILD_CHANNEL_FD) != 0 ||
	    channel_start(ch) != 0) {
		log_err("cannot use fd %d as the channel", CHILD_CHANNEL_FD);
		return -1;
	}
	return 0;
}
