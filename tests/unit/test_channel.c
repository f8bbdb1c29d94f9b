/*
 * test_channel.c — the channel's fairness (proto/channel.c): a peer that
 * sends many messages at once has at most CHANNEL_BURST of them delivered
 * per loop turn, the rest follow on later turns in order, none is lost,
 * and a channel closed while it holds some back closes cleanly.
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

static const struct channel_ops ops = { on_msg, NULL, on_close, NULL };

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_per_turn),
		cmocka_unit_test(test_close_while_held),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
