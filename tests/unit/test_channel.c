/*
 * test_channel.c — the channel's fairness (proto/channel.c): a peer that
 * sends many messages at once has at most CHANNEL_BURST of them delivered
 * per loop turn, the rest follow on later turns in order, none is lost,
 * and a channel closed while it holds some back closes cleanly; frames
 * taken unparsed and passed on; attachments over a socket.
 */
#include "testutil.h"

#include <sys/socket.h>

#include "proto/channel.h"

#define SENT 200

struct counter {
	unsigned got;
	json_int_t last;	/* the "n" of the last message, in order */
	bool closed;
};

static void
on_msg(struct channel *ch, json_t *msg, void *arg)
{
	struct counter *c = arg;

	(void)ch;
	assert_int_equal(json_integer_value(json_object_get(msg, "n")),
	    c->last + 1);
	c->last++;
	c->got++;
}

static void
on_close(struct channel *ch, const char *why, void *arg)
{
	struct counter *c = arg;

	(void)ch; (void)why;
	c->closed = true;
}

static const struct channel_ops ops = {
	.on_msg = on_msg,
	.on_close = on_close,
};

/* SENT frames written at once on the far end of a socketpair. */
static int
flood(void)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	for (int i = 1; i <= SENT; i++) {
		json_t *m = json_pack("{s:s, s:i}", "type", "progress", "n", i);
		unsigned char *data;
		size_t len;

		assert_int_equal(frame_encode(m, FRAME_MAX_DEFAULT, &data,
		    &len), FRAME_OK);
		assert_int_equal(write(sv[1], data, len), (ssize_t)len);
		free(data);
		json_decref(m);
	}
	close(sv[1]);
	return sv[0];
}

static void
test_burst_per_turn(void **state)
{
	uv_loop_t loop;
	struct channel ch;
	struct counter c = { 0 };
	unsigned before, turns = 0;

	(void)state;
	uv_loop_init(&loop);
	assert_int_equal(channel_init(&loop, &ch, 0, &ops, &c), 0);
	assert_int_equal(channel_open_fd(&ch, flood()), 0);
	assert_int_equal(channel_start(&ch), 0);
	while (!c.closed && turns < 10000) {
		before = c.got;
		uv_run(&loop, UV_RUN_NOWAIT);
		assert_true(c.got - before <= CHANNEL_BURST);
		turns++;
	}
	assert_true(c.closed);
	assert_int_equal(c.got, SENT);
	assert_true(turns >= SENT / CHANNEL_BURST);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void
test_close_while_held(void **state)
{
	uv_loop_t loop;
	struct channel ch;
	struct counter c = { 0 };

	(void)state;
	uv_loop_init(&loop);
	assert_int_equal(channel_init(&loop, &ch, 0, &ops, &c), 0);
	assert_int_equal(channel_open_fd(&ch, flood()), 0);
	assert_int_equal(channel_start(&ch), 0);
	while (c.got == 0)
		uv_run(&loop, UV_RUN_NOWAIT);
	assert_true(c.got <= CHANNEL_BURST);
	channel_close(&ch, "test");
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(c.closed);
	assert_true(c.got < SENT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* on_frame: every other frame is taken unparsed, the rest reach on_msg
 * parsed, in order; taken frames count against the burst too; and
 * channel_send_frame puts a taken payload back on a socket byte for
 * byte. */
struct taker {
	struct counter c;
	unsigned taken, seen;
	json_int_t last_taken;
	unsigned turn_msgs;
	int out_fd;		/* where taken frames go, raw */
	struct channel *out;
};

static void
taker_msg(struct channel *ch, json_t *msg, void *arg)
{
	struct taker *t = arg;

	(void)ch;
	assert_int_equal(json_integer_value(json_object_get(msg, "n")) % 2,
	    1);
	t->c.got++;
	t->turn_msgs++;
}

static bool
taker_frame(struct channel *ch, const unsigned char *p, size_t n, void *arg)
{
	struct taker *t = arg;
	struct frame_peek pk;

	(void)ch;
	t->turn_msgs++;
	if (t->seen++ % 2 == 0) {
		t->turn_msgs--;		/* counted by taker_msg instead */
		return false;
	}
	assert_int_equal(frame_peek(p, n, &pk), 0);
	assert_int_equal(pk.type_len, strlen("progress"));
	t->taken++;
	assert_int_equal(channel_send_frame(t->out, p, n), 0);
	return true;
}

static void
taker_close(struct channel *ch, const char *why, void *arg)
{
	struct taker *t = arg;

	(void)ch; (void)why;
	t->c.closed = true;
}

static void
out_close(struct channel *ch, const char *why, void *arg)
{
	(void)ch; (void)why; (void)arg;
}

static const struct channel_ops taker_ops = {
	.on_msg = taker_msg,
	.on_close = taker_close,
	.on_frame = taker_frame,
};

static const struct channel_ops out_ops = {
	.on_msg = on_msg,
	.on_close = out_close,
};

static void
test_on_frame(void **state)
{
	uv_loop_t loop;
	struct channel ch, out;
	struct taker t = { 0 };
	struct frame_decoder d;
	json_t *m;
	int sv[2];
	unsigned turns = 0, n;

	(void)state;
	uv_loop_init(&loop);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(channel_init(&loop, &out, 0, &out_ops, NULL), 0);
	assert_int_equal(channel_open_fd(&out, sv[0]), 0);
	t.out = &out;
	assert_int_equal(channel_init(&loop, &ch, 0, &taker_ops, &t), 0);
	assert_int_equal(channel_open_fd(&ch, flood()), 0);
	assert_int_equal(channel_start(&ch), 0);
	while (!t.c.closed && turns < 10000) {
		t.turn_msgs = 0;
		uv_run(&loop, UV_RUN_NOWAIT);
		assert_true(t.turn_msgs <= CHANNEL_BURST);
		turns++;
	}
	assert_true(t.c.closed);
	assert_int_equal(t.c.got, SENT / 2);
	assert_int_equal(t.taken, SENT / 2);
	channel_close(&out, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);

	/* What was passed on parses to the even messages, in order. */
	frame_decoder_init(&d, 0);
	for (;;) {
		unsigned char buf[4096];
		ssize_t r = read(sv[1], buf, sizeof(buf));

		assert_true(r >= 0);
		if (r == 0)
			break;
		assert_int_equal(frame_decoder_feed(&d, buf, (size_t)r),
		    FRAME_OK);
	}
	for (n = 2; frame_decoder_next(&d, &m, NULL) == FRAME_OK; n += 2) {
		assert_int_equal(json_integer_value(json_object_get(m, "n")),
		    n);
		json_decref(m);
	}
	assert_int_equal(n, SENT + 2);
	frame_decoder_free(&d);
	close(sv[1]);
}

/* Attachments over a socket, in one loop: large messages sent with
 * attach_out fill the socket and are queued; frames passed on with
 * channel_send_frame (larger than the socket takes at once) are copied
 * only for what it did not take; all arrive whole and in order, and one
 * attached frame is passed on as it is. */
#define ATT_MSGS	12
#define ATT_BIG		(300u * 1024u)

struct att_sink {
	unsigned got;
	size_t bytes;
	bool closed;
};

static void
att_msg(struct channel *ch, json_t *msg, void *arg)
{
	struct att_sink *k = arg;
	const char *t = json_string_value(json_object_get(msg, "text"));

	(void)ch;
	assert_int_equal(json_integer_value(json_object_get(msg, "n")),
	    k->got);
	assert_non_null(t);
	assert_int_equal(json_string_length(json_object_get(msg, "text")),
	    ATT_BIG + k->got);
	for (size_t i = 0; i < ATT_BIG + k->got; i += 4093)
		assert_int_equal(t[i], 'a' + (int)(i % 26));
	assert_null(json_object_get(msg, FRAME_ATTACH_KEY));
	k->bytes += json_string_length(json_object_get(msg, "text"));
	k->got++;
	if (k->got == ATT_MSGS + 1)
		channel_close(ch, NULL);
}

static void
att_close(struct channel *ch, const char *why, void *arg)
{
	struct att_sink *k = arg;

	(void)ch;
	assert_null(why);
	k->closed = true;
}

static const struct channel_ops att_in_ops = {
	.on_msg = att_msg,
	.on_close = att_close,
};

static void
att_out_close(struct channel *ch, const char *why, void *arg)
{
	(void)ch; (void)why; (void)arg;
}

static const struct channel_ops att_out_ops = {
	.on_msg = on_msg,
	.on_close = att_out_close,
};

static json_t *
att_message(unsigned n)
{
	char *s = malloc(ATT_BIG + n);
	json_t *m;

	assert_non_null(s);
	for (size_t i = 0; i < ATT_BIG + n; i++)
		s[i] = (char)('a' + (int)(i % 26));
	m = json_pack("{s:s, s:i, s:s%}", "type", "progress", "n", (int)n,
	    "text", s, (size_t)(ATT_BIG + n));
	free(s);
	return m;
}

static void
test_attach(void **state)
{
	uv_loop_t loop;
	struct channel in, out;
	struct att_sink k = { 0 };
	unsigned char *buf;
	size_t len;
	json_t *m;
	int sv[2];

	(void)state;
	uv_loop_init(&loop);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(channel_init(&loop, &out, 0, &att_out_ops, NULL), 0);
	assert_int_equal(channel_init(&loop, &in, 0, &att_in_ops, &k), 0);
	out.attach_out = true;
	in.dec.attach = true;
	assert_int_equal(channel_open_fd(&out, sv[0]), 0);
	assert_int_equal(channel_open_fd(&in, sv[1]), 0);
	assert_int_equal(channel_start(&in), 0);
	for (unsigned i = 0; i < ATT_MSGS; i++) {
		m = att_message(i);
		if (i % 2 == 0) {
			assert_int_equal(channel_send_new(&out, m), 0);
			continue;
		}
		/* Passed on: an attached frame's payload, as a relay has it. */
		assert_int_equal(frame_encode_attach(m, 0, FRAME_ATTACH_MIN,
		    &buf, &len), FRAME_OK);
		assert_non_null(memchr(buf + FRAME_HEADER_SIZE, '\0',
		    len - FRAME_HEADER_SIZE));
		assert_int_equal(channel_send_frame(&out, buf +
		    FRAME_HEADER_SIZE, len - FRAME_HEADER_SIZE), 0);
		free(buf);
		json_decref(m);
	}
	assert_true(out.queued > 0);	/* the socket did fill */
	assert_int_equal(channel_send_new(&out, att_message(ATT_MSGS)), 0);
	while (!k.closed)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(k.got, ATT_MSGS + 1);
	channel_close(&out, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_per_turn),
		cmocka_unit_test(test_close_while_held),
		cmocka_unit_test(test_on_frame),
		cmocka_unit_test(test_attach),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
