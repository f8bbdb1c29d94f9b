/*
 * test_peer.c — a supervised process through proto/peer.c.
 *
 * The child is this test binary itself, run again through /proc/self/exe
 * with `--child MODE`, speaking through the module's child end: it answers
 * hello (or not), pongs (or not), obeys shutdown and SIGTERM (or not),
 * says its last words and exits.  Checked: the handshake, a refused
 * protocol version, a missed ready deadline, a missed pong (under a
 * timeout a reload changed), the stop ladder up to SIGKILL, SIGTERM for
 * one that closed its channel but lingers, last words read after the
 * exit, exit descriptions, attachments as hello agrees them (or not),
 * and that every handle is released (the loop closes cleanly).  Every
 * wait is on an event, with a generous deadline.
 */
#include "testutil.h"

#include <signal.h>

#include <uv.h>

#include "proto/peer.h"

#define DEADLINE_MS	20000

/* ---------------------------------------------------------- the child */

struct kid {
	struct channel ch;
	json_int_t ids;
	const char *mode;
	int code;
	bool attached;		/* the last frame came with an attachment */
};

static bool
kid_is(const struct kid *k, const char *mode)
{
	return strcmp(k->mode, mode) == 0;
}

/* A hello of another protocol version. */
static void
kid_old_hello(struct kid *k)
{
	json_t *m = msg_new(MSG_HELLO, ++k->ids);

	json_object_set_new(m, "version", json_integer(42));
	json_object_set_new(m, "role", json_string("child"));
	channel_send_new(&k->ch, m);
}

/* "plain": a child of before attachments, whose hello does not say it
 * takes them. */
static void
kid_plain_hello(struct kid *k)
{
	json_t *m = msg_new(MSG_HELLO, ++k->ids);

	json_object_set_new(m, "version", json_integer(PROTO_VERSION));
	json_object_set_new(m, "role", json_string("child"));
	channel_send_new(&k->ch, m);
	channel_send_new(&k->ch, msg_new(MSG_READY, ++k->ids));
}

/* "echo", "plain": a directive's text comes back in a progress, which
 * says whether the directive came attached. */
static void
kid_echo(struct kid *k, const json_t *msg)
{
	json_t *m = msg_new(MSG_PROGRESS, ++k->ids);

	json_object_set_new(m, "stage", json_string("model"));
	json_object_set(m, "text", json_object_get(msg, "text"));
	json_object_set_new(m, "attached", json_boolean(k->attached));
	channel_send_new(&k->ch, m);
}

static bool
kid_frame(struct channel *ch, const unsigned char *payload, size_t n,
    void *arg)
{
	struct kid *k = arg;
	struct frame_peek pk;

	(void)ch;
	k->attached = frame_peek(payload, n, &pk) == 0 && pk.attached;
	return false;
}

static void
kid_msg(struct channel *ch, json_t *msg, void *arg)
{
	struct kid *k = arg;
	const char *type = json_string_value(json_object_get(msg, "type"));
	const struct msg_spec *spec;
	int stop;

	if (kid_is(k, "mute") || (kid_is(k, "nopong") &&
	    strcmp(type, "ping") == 0))
		return;
	if (kid_is(k, "oldproto") && strcmp(type, "hello") == 0) {
		kid_old_hello(k);
		return;
	}
	if (kid_is(k, "plain") && strcmp(type, "hello") == 0) {
		kid_plain_hello(k);
		return;
	}
	if ((kid_is(k, "echo") || kid_is(k, "plain")) &&
	    strcmp(type, "directive") == 0) {
		kid_echo(k, msg);
		return;
	}
	spec = peer_parent_msg(ch, &k->ids, "kid", false, msg, &stop);
	if (stop >= 0 && !kid_is(k, "stubborn")) {
		k->code = stop;
		channel_close(ch, NULL);
	}
	if (spec != NULL && spec->type == MSG_HELLO && kid_is(k, "eof"))
		channel_close(ch, NULL);
	if (spec != NULL && spec->type == MSG_HELLO &&
	    kid_is(k, "lastwords")) {
		/* Written before the exit; read by the parent after it. */
		channel_send_new(ch, peer_error_new(&k->ids, -1, "internal",
		    "my last words"));
		_exit(3);
	}
}

static void
kid_close(struct channel *ch, const char *why, void *arg)
{
	(void)ch;
	(void)why;
	(void)arg;
}

static const struct channel_ops kid_ops = {
	.on_msg = kid_msg,
	.on_close = kid_close,
	.on_frame = kid_frame,
};

static int
kid_main(const char *mode)
{
	struct kid k = { .mode = mode };
	uv_loop_t loop;

	signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode, "stubborn") == 0)
		signal(SIGTERM, SIG_IGN);
	if (strcmp(mode, "exit3") == 0)
		return 3;
	uv_loop_init(&loop);
	if (peer_parent_open(&loop, &k.ch, &kid_ops, &k) != 0)
		return 99;
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	/* Its channel closed, it lingers until a signal ends it. */
	while (strcmp(mode, "eof") == 0)
		pause();
	return k.code;
}

/* ---------------------------------------------------------- the parent */

struct obs {
	uv_loop_t loop;
	struct peer p;
	json_int_t ids;
	int ready;
	int faults;
	enum peer_fault fault;
	char fault_why[256];
	char said[256];		/* the text of its last error message */
	int exits;
	bool said_before_exit;
	char exit_desc[96];
	json_t *progress;	/* the last progress */
	bool closed;
	uint64_t reload_pong_ms;	/* what a reload sets, if not 0 */
};

static void
obs_ready(struct peer *p)
{
	struct obs *o = p->arg;

	o->ready++;
}

static void
obs_message(struct peer *p, const struct msg_spec *spec, json_t *msg)
{
	struct obs *o = p->arg;

	if (spec->type == MSG_PROGRESS) {
		json_decref(o->progress);
		o->progress = json_incref(msg);
	}
	if (spec->type != MSG_ERROR)
		return;
	snprintf(o->said, sizeof(o->said), "%s",
	    json_string_value(json_object_get(msg, "message")));
	o->said_before_exit = o->exits == 0;
}

static void
obs_fault(struct peer *p, enum peer_fault kind, const char *why)
{
	struct obs *o = p->arg;

	o->faults++;
	o->fault = kind;
	snprintf(o->fault_why, sizeof(o->fault_why), "%s", why);
}

static void
obs_exit(struct peer *p)
{
	struct obs *o = p->arg;

	assert_int_equal(p->state, PEER_IDLE);
	o->exits++;
	peer_exit_desc(p, o->exit_desc, sizeof(o->exit_desc));
}

static void
obs_closed(struct peer *p)
{
	struct obs *o = p->arg;

	o->closed = true;
}

/* A reload between start and the next ping. */
static void
obs_refresh(struct peer *p)
{
	struct obs *o = p->arg;

	if (o->reload_pong_ms != 0)
		p->conf.pong_timeout_ms = o->reload_pong_ms;
}

static const struct peer_ops obs_ops = {
	.on_ready = obs_ready,
	.on_message = obs_message,
	.on_fault = obs_fault,
	.on_exit = obs_exit,
	.refresh = obs_refresh,
};

static void
on_deadline(uv_timer_t *t)
{
	*(bool *)t->data = true;
}


/* Run the loop until done(o); fail after DEADLINE_MS. */
static void
wait_until(struct obs *o, const char *what, bool (*done)(const struct obs *))
{
	uv_timer_t t;
	bool late = false;

	uv_timer_init(&o->loop, &t);
	t.data = &late;
	uv_timer_start(&t, on_deadline, DEADLINE_MS, 0);
	while (!done(o) && !late)
		uv_run(&o->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&o->loop, UV_RUN_NOWAIT);
	if (late)
		fail_msg("no %s within %d ms", what, DEADLINE_MS);
}

static bool is_ready(const struct obs *o) { return o->ready > 0; }
static bool has_exited(const struct obs *o) { return o->exits > 0; }
static bool is_closed(const struct obs *o) { return o->closed; }

static void
start(struct obs *o, const char *mode, bool own_session)
{
	static char self[PATH_MAX];
	char *argv[] = { self, "--child", (char *)mode, NULL };
	char err[256];
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	memset(o, 0, sizeof(*o));
	assert_int_equal(uv_loop_init(&o->loop), 0);
	peer_init(&o->p, &o->loop, "the kid", &obs_ops, o, &o->ids);
	o->p.conf = (struct peer_conf){
		.domain = "kid",
		.task = 1,
		.ready_ms = 5000,
		.pong_timeout_ms = 10000,
		.grace_ms = DEADLINE_MS / 2,
		.own_session = own_session,
	};
	/* Only a kid that will not go is meant to meet the ladder's next
	 * step: any other must be given all the time a loaded machine
	 * needs, so that the step it stops at is the one it chose. */
	if (strcmp(mode, "stubborn") == 0 || strcmp(mode, "eof") == 0)
		o->p.conf.grace_ms = 100;
	if (strcmp(mode, "mute") == 0)
		o->p.conf.ready_ms = 200;
	if (strcmp(mode, "nopong") == 0) {
		/* Started with 10 s, reloaded to 300 ms. */
		o->p.conf.ping_ms = 50;
		o->reload_pong_ms = 300;
	}
	assert_int_equal(peer_start(&o->p, argv, err, sizeof(err)), 0);
	assert_int_equal(o->p.state, PEER_STARTING);
	assert_true(o->p.pid > 0);
}

/* Release the peer; the loop must then have nothing left open. */
static void
finish(struct obs *o)
{
	assert_int_equal(o->p.state, PEER_IDLE);
	peer_close(&o->p, obs_closed);
	wait_until(o, "release of the handles", is_closed);
	assert_int_equal(o->p.handles, 0);
	assert_int_equal(uv_loop_close(&o->loop), 0);
}

/* ---------------------------------------------------------- tests */

#define NO_FAULT	(-1)

/* One run of a kid: what it does and what the parent must see. */
struct run {
	const char *mode;
	bool own_session;
	bool ready;		/* it says ready */
	const char *stop;	/* once ready, peer_stop() with this, if set */
	int fault;		/* an enum peer_fault, or NO_FAULT */
	const char *why;	/* in the fault's text */
	enum peer_stop_step stop_step;	/* at the exit; NONE: unchecked */
	const char *said;	/* its last error message, if any */
	const char *exit_desc;
};

static void
check_run(const struct run *want)
{
	struct obs o;

	start(&o, want->mode, want->own_session);
	if (want->ready)
		wait_until(&o, "ready", is_ready);
	if (want->stop != NULL) {
		/* Up until told otherwise. */
		assert_string_equal(peer_state_name(o.p.state), "ready");
		peer_ping(&o.p);
		assert_true(peer_stop(&o.p, want->stop));
		assert_int_equal(o.p.state, PEER_STOPPING);
	}
	wait_until(&o, "exit", has_exited);
	assert_int_equal(o.ready, want->ready);
	if (want->fault == NO_FAULT) {
		assert_int_equal(o.faults, 0);
	} else {
		assert_int_equal(o.faults, 1);
		assert_int_equal(o.fault, want->fault);
		assert_non_null(strstr(o.fault_why, want->why));
	}
	if (want->stop_step != PEER_STOP_NONE)
		assert_int_equal(o.p.stop_step, want->stop_step);
	if (want->said != NULL) {
		assert_string_equal(o.said, want->said);
		assert_true(o.said_before_exit);
	}
	assert_string_equal(o.exit_desc, want->exit_desc);
	assert_false(peer_stop(&o.p, "gone already"));
	finish(&o);
}

static void
test_handshake_and_stop(void **state)
{
	(void)state;
	check_run(&(struct run){ .mode = "good", .ready = true,
	    .stop = "test over", .fault = NO_FAULT,
	    .stop_step = PEER_STOP_SHUTDOWN,
	    .exit_desc = "exited with status 0" });
}

static void
test_version_refused(void **state)
{
	(void)state;
	check_run(&(struct run){ .mode = "oldproto",
	    .fault = PEER_FAULT_VERSION,
	    .why = "masterd speaks 1, child speaks 42",
	    .exit_desc = "killed by signal 9 (Killed)" });
}

static void
test_not_ready(void **state)
{
	(void)state;
	check_run(&(struct run){ .mode = "mute",
	    .fault = PEER_FAULT_NOT_READY, .why = "not ready within 200 ms",
	    .exit_desc = "killed by signal 9 (Killed)" });
}

static void
test_missed_pong(void **state)
{
	(void)state;
	check_run(&(struct run){ .mode = "nopong", .ready = true,
	    .fault = PEER_FAULT_NO_PONG, .why = "no pong for ",
	    .exit_desc = "killed by signal 9 (Killed)" });
}

static void
test_ladder_to_sigkill(void **state)
{
	(void)state;
	check_run(&(struct run){ .mode = "stubborn", .own_session = true,
	    .ready = true, .stop = "go away", .fault = NO_FAULT,
	    .stop_step = PEER_STOP_TERM,
	    .exit_desc = "killed by signal 9 (Killed)" });
}

static void
test_eof_then_sigterm(void **state)
{
	(void)state;
	check_run(&(struct run){ .mode = "eof", .own_session = true,
	    .ready = true, .fault = NO_FAULT, .stop_step = PEER_STOP_TERM,
	    .exit_desc = "killed by signal 15 (Terminated)" });
}

static void
test_last_words(void **state)
{
	(void)state;
	check_run(&(struct run){ .mode = "lastwords", .ready = true,
	    .fault = NO_FAULT,
	    .said = "my last words", .exit_desc = "exited with status 3" });
}

/* The same peer runs again; a program that cannot start is said. */
static void
test_exit_then_no_start(void **state)
{
	struct obs o;
	char err[256];
	char *argv[] = { "/nonexistent/masterd-kid", NULL };

	(void)state;
	start(&o, "exit3", false);
	wait_until(&o, "exit", has_exited);
	assert_int_equal(o.ready, 0);
	assert_string_equal(o.exit_desc, "exited with status 3");
	assert_int_equal(peer_start(&o.p, argv, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot start /nonexistent/masterd-kid"));
	assert_int_equal(o.p.state, PEER_IDLE);
	finish(&o);
}

/* ---------------------------------------------------------- too big */

static void
noop_msg(struct channel *ch, json_t *msg, void *arg)
{
	(void)ch, (void)msg, (void)arg;
}

static void
noop_close(struct channel *ch, const char *why, void *arg)
{
	(void)ch, (void)why, (void)arg;
}

static bool has_progress(const struct obs *o) { return o->progress != NULL; }

/*
 * Attachments as agreed in hello: a child that says it takes them gets
 * a long text attached and sends one back so (read back whole); one whose
 * hello does not say so gets plain JSON only.
 */
static void
attach_run(const char *mode, bool agreed)
{
	struct obs o;
	char *text = malloc(20001);
	json_t *m;

	assert_non_null(text);
	for (int i = 0; i < 20000; i++)
		text[i] = "0123456789abcdef\"\n"[i % 18];
	text[20000] = '\0';
	start(&o, mode, false);
	wait_until(&o, "ready", is_ready);
	assert_int_equal(o.p.ch.attach_out, agreed);
	assert_true(o.p.ch.dec.attach);
	m = msg_new(MSG_DIRECTIVE, ++o.ids);
	json_object_set_new(m, "task", json_integer(1));
	json_object_set_new(m, "directive", json_integer(1));
	json_object_set_new(m, "text", json_string(text));
	assert_int_equal(peer_send(&o.p, m), 0);
	wait_until(&o, "the echo", has_progress);
	assert_string_equal(json_string_value(json_object_get(o.progress,
	    "text")), text);
	assert_int_equal(json_is_true(json_object_get(o.progress,
	    "attached")), agreed);
	json_decref(o.progress);
	o.progress = NULL;
	assert_true(peer_stop(&o.p, "done"));
	wait_until(&o, "exit", has_exited);
	assert_int_equal(o.faults, 0);
	finish(&o);
	free(text);
}

static void
test_attach_agreed(void **state)
{
	(void)state;
	attach_run("echo", true);
	attach_run("plain", false);
}

/* A message over max_frame is refused, not dropped: the sender hears
 * CHANNEL_ETOOBIG with its size, the channel stays open for the next. */
static void
test_send_too_big(void **state)
{
	static const struct channel_ops ops = { .on_msg = noop_msg,
	    .on_close = noop_close };
	struct channel ch;
	uv_loop_t loop;
	char *big = malloc(5000);
	json_t *m;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(channel_init(&loop, &ch, 4096, &ops, NULL), 0);
	assert_int_equal(channel_open_fd(&ch, sv[0]), 0);
	memset(big, 'x', 4999);
	big[4999] = '\0';
	m = json_pack("{s:s, s:I, s:s}", "type", "round", "id", (json_int_t)1,
	    "summary", big);
	assert_int_equal(channel_send(&ch, m), CHANNEL_ETOOBIG);
	assert_int_equal(ch.refused_size, frame_encoded_size(m));
	assert_false(ch.closing);
	json_decref(m);
	m = json_pack("{s:s, s:I}", "type", "pong", "id", (json_int_t)2);
	assert_int_equal(channel_send_new(&ch, m), 0);
	channel_close(&ch, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	close(sv[1]);
	free(big);
}

/* What a child sends instead: the failure of the work, with the limit. */
static void
test_too_big_replacements(void **state)
{
	json_int_t ids = 10;
	const struct msg_spec *spec;
	char err[256];
	json_t *orig, *m;
	const char *why;

	(void)state;
	orig = json_pack("{s:s, s:I, s:I, s:I, s:I, s:b, s:s, s:b, s:s}",
	    "type", "round", "id", (json_int_t)3, "task", (json_int_t)1,
	    "directive", (json_int_t)7, "round", (json_int_t)2, "ok", 1,
	    "stage", "commit", "final", 1, "summary", "long");
	m = peer_too_big_new(&ids, orig, 20000000, 16777216);
	assert_int_equal(msg_validate(m, CHAN_CHILD, PEER_CHILD, &spec, err,
	    sizeof(err)), 0);
	assert_string_equal(spec->name, "round");
	assert_true(json_is_false(json_object_get(m, "ok")));
	assert_true(json_is_true(json_object_get(m, "final")));
	assert_int_equal(json_integer_value(json_object_get(m, "directive")),
	    7);
	assert_null(json_object_get(m, "summary"));
	why = json_string_value(json_object_get(json_object_get(m, "error"),
	    "message"));
	assert_string_equal(why, "round message of 20000000 bytes is over "
	    "max_frame (16777216 bytes): not sent");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    m, "error"), "code")), "too_large");
	json_decref(m);
	json_decref(orig);

	orig = json_pack("{s:s, s:I, s:I, s:s, s:b, s:{}}", "type",
	    "plan.result", "id", (json_int_t)4, "task", (json_int_t)1, "kind",
	    "plan", "ok", 1, "plan");
	m = peer_too_big_new(&ids, orig, 17825792, 16777216);
	assert_int_equal(msg_validate(m, CHAN_CHILD, PEER_CHILD, &spec, err,
	    sizeof(err)), 0);
	assert_true(json_is_false(json_object_get(m, "ok")));
	assert_null(json_object_get(m, "plan"));
	assert_non_null(strstr(json_string_value(json_object_get(
	    json_object_get(m, "error"), "message")), "plan.result message of "
	    "17825792 bytes is over max_frame (16777216 bytes)"));
	json_decref(m);
	json_decref(orig);

	orig = json_pack("{s:s, s:I, s:I, s:{}}", "type", "interface.publish",
	    "id", (json_int_t)5, "task", (json_int_t)1, "interface");
	m = peer_too_big_new(&ids, orig, 17825792, 16777216);
	assert_int_equal(msg_validate(m, CHAN_CHILD, PEER_CHILD, &spec, err,
	    sizeof(err)), 0);
	assert_string_equal(spec->name, "error");
	assert_string_equal(json_string_value(json_object_get(m, "code")),
	    "too_large");
	json_decref(m);
	json_decref(orig);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_and_stop),
		cmocka_unit_test(test_version_refused),
		cmocka_unit_test(test_not_ready),
		cmocka_unit_test(test_missed_pong),
		cmocka_unit_test(test_ladder_to_sigkill),
		cmocka_unit_test(test_eof_then_sigterm),
		cmocka_unit_test(test_last_words),
		cmocka_unit_test(test_exit_then_no_start),
		cmocka_unit_test(test_attach_agreed),
		cmocka_unit_test(test_send_too_big),
		cmocka_unit_test(test_too_big_replacements),
	};

	if (argc == 3 && strcmp(argv[1], "--child") == 0)
		return kid_main(argv[2]);
	signal(SIGPIPE, SIG_IGN);
	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
