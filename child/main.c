/*
 * main.c — masterd-child: one domain's process.
 *
 * This is the child's skeleton: its channel to the master on fd 3, the
 * hello/ready handshake, liveness (ping/pong), and a clean stop on
 * `shutdown` or when the master goes away.  The assistant session, git
 * worktree and checks that turn directives into code are not built yet,
 * and the child says so in each directive's result rather than pretending.
 *
 * Exit status CHILD_EXIT_NORESTART (78) tells the master that a restart
 * cannot help (bad arguments, protocol mismatch).
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "proto/channel.h"
#include "proto/msg.h"

#define CHANNEL_FD 3
#define EXIT_NORESTART 78

struct child_ctx {
	uv_loop_t *loop;
	struct channel ch;
	uv_signal_t sig_term;
	const char *domain;
	long long task;
	json_int_t next_id;
	bool greeted;
	int exit_code;
};

static json_int_t
next_id(struct child_ctx *cx)
{
	return ++cx->next_id;
}

static void
stop(struct child_ctx *cx, int code)
{
	cx->exit_code = code;
	channel_close(&cx->ch, NULL);
	if (!uv_is_closing((uv_handle_t *)&cx->sig_term))
		uv_close((uv_handle_t *)&cx->sig_term, NULL);
}

static void
send_error(struct child_ctx *cx, json_int_t re, const char *code,
    const char *text)
{
	json_t *m = msg_new(MSG_ERROR, next_id(cx));

	json_object_set_new(m, "code", json_string(code));
	json_object_set_new(m, "message", json_string(text));
	if (re >= 0)
		json_object_set_new(m, "re", json_integer(re));
	channel_send_new(&cx->ch, m);
}

static void
on_hello(struct child_ctx *cx, const json_t *msg)
{
	json_int_t v = json_integer_value(json_object_get(msg, "version"));
	json_t *m;
	char text[160];

	if (v != PROTO_VERSION) {
		snprintf(text, sizeof(text), "protocol version mismatch: child "
		    "speaks %d, masterd speaks %lld", PROTO_VERSION,
		    (long long)v);
		log_err("%s", text);
		send_error(cx, msg_id(msg), ERR_VERSION, text);
		stop(cx, EXIT_NORESTART);
		return;
	}
	/* Take the master's frame limit, so we accept what it may send. */
	if (json_integer_value(json_object_get(msg, "max_frame")) > 0) {
		cx->ch.max_frame = (size_t)json_integer_value(
		    json_object_get(msg, "max_frame"));
		cx->ch.dec.max = cx->ch.max_frame;
	}
	m = msg_new(MSG_HELLO, next_id(cx));
	json_object_set_new(m, "version", json_integer(PROTO_VERSION));
	json_object_set_new(m, "role", json_string("child"));
	json_object_set_new(m, "domain", json_string(cx->domain));
	json_object_set_new(m, "pid", json_integer(getpid()));
	channel_send_new(&cx->ch, m);
	m = msg_new(MSG_READY, next_id(cx));
	json_object_set_new(m, "domain", json_string(cx->domain));
	channel_send_new(&cx->ch, m);
	cx->greeted = true;
}

static void
on_directive(struct child_ctx *cx, const json_t *msg)
{
	json_t *m = msg_new(MSG_RESULT, next_id(cx));

	json_object_set(m, "task", json_object_get(msg, "task"));
	json_object_set(m, "directive", json_object_get(msg, "directive"));
	json_object_set_new(m, "ok", json_false());
	json_object_set_new(m, "error", json_pack("{s:s, s:s}", "code",
	    "unavailable", "message", "this masterd-child has no assistant "
	    "session yet: directives cannot be carried out"));
	channel_send_new(&cx->ch, m);
}

static void
on_msg(struct channel *ch, json_t *msg, void *arg)
{
	struct child_ctx *cx = arg;
	const struct msg_spec *spec;
	char err[200];
	json_t *m;

	(void)ch;
	if (msg_validate(msg, CHAN_CHILD, PEER_MASTER, &spec, err,
	    sizeof(err)) != 0) {
		log_warn("bad message from master: %s", err);
		send_error(cx, msg_id(msg), ERR_BAD_REQUEST, err);
		return;
	}
	switch (spec->type) {
	case MSG_HELLO:
		on_hello(cx, msg);
		break;
	case MSG_PING:
		m = msg_new(MSG_PONG, next_id(cx));
		json_object_set_new(m, "re", json_integer(msg_id(msg)));
		channel_send_new(&cx->ch, m);
		break;
	case MSG_SHUTDOWN:
		log_info("shutdown: %s", json_string_value(json_object_get(msg,
		    "reason")) ?: "asked by masterd");
		stop(cx, 0);
		break;
	case MSG_TASK_ASSIGN:
		log_info("assigned task %lld", (long long)json_integer_value(
		    json_object_get(msg, "task")));
		break;
	case MSG_DIRECTIVE:
		on_directive(cx, msg);
		break;
	default:
		break;
	}
}

static void
on_close(struct channel *ch, const char *why, void *arg)
{
	struct child_ctx *cx = arg;

	(void)ch;
	if (why != NULL)
		log_err("channel to masterd: %s", why);
	if (!uv_is_closing((uv_handle_t *)&cx->sig_term))
		uv_close((uv_handle_t *)&cx->sig_term, NULL);
}

static const struct channel_ops ops = {
	.on_msg = on_msg,
	.on_bad = NULL,
	.on_close = on_close,
};

static void
on_sigterm(uv_signal_t *s, int signum)
{
	(void)signum;
	log_info("SIGTERM");
	stop(s->data, 0);
}

int
main(int argc, char **argv)
{
	struct child_ctx cx = { 0 };
	uv_loop_t loop;
	char ident[64];
	int ch;

	static const struct option longopts[] = {
		{ "domain", required_argument, NULL, 'd' },
		{ "task", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	while ((ch = getopt_long(argc, argv, "d:t:", longopts, NULL)) != -1) {
		if (ch == 'd')
			cx.domain = optarg;
		else if (ch == 't')
			cx.task = atoll(optarg);
		else
			return EXIT_NORESTART;
	}
	if (cx.domain == NULL || !conf_domain_name_ok(cx.domain) ||
	    fcntl(CHANNEL_FD, F_GETFD) < 0) {
		fprintf(stderr, "masterd-child: started by masterd only "
		    "(--domain NAME --task ID, channel on fd 3)\n");
		return EXIT_NORESTART;
	}
	snprintf(ident, sizeof(ident), "masterd-child/%s", cx.domain);
	log_init(ident, getenv("MASTERD_CHILD_DEBUG") ? LOG_DEBUG : LOG_INFO);
	if (getenv("MASTERD_LOG_SYSLOG") != NULL)
		log_use_syslog();
	/* Commands the child runs must not inherit the channel. */
	fcntl(CHANNEL_FD, F_SETFD, FD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&loop);
	cx.loop = &loop;
	channel_init(&loop, &cx.ch, FRAME_MAX_DEFAULT, &ops, &cx);
	if (channel_open_fd(&cx.ch, CHANNEL_FD) != 0 ||
	    channel_start(&cx.ch) != 0) {
		log_err("cannot use fd %d as the channel", CHANNEL_FD);
		return EXIT_NORESTART;
	}
	uv_signal_init(&loop, &cx.sig_term);
	cx.sig_term.data = &cx;
	uv_signal_start(&cx.sig_term, on_sigterm, SIGTERM);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return cx.exit_code;
}
