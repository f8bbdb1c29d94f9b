/*
 * test_frame.c — the length-prefixed JSON frame codec (proto/frame.c).
 *
 * Encoder/decoder round trips; every way of splitting a stream (one byte at
 * a time, every 2- and 3-way split, random chunks, many frames in one feed);
 * the fatal, sticky framing errors (zero length, over the limit, detected
 * from the header alone) and the non-fatal payload errors (bad UTF-8, bad
 * JSON, not an object) after which decoding goes on; the reserve/commit
 * zero-copy path; the encoder's refusals; and 10,000 random frames, some
 * large and some deeply nested, fed one byte at a time and in random chunks.
 */
#include "testutil.h"

#include <math.h>

#include "proto/frame.h"

/* ------------------------------------------------------------ helpers */

struct bytes {
	unsigned char *p;
	size_t len, cap;
};

static void
bytes_add(struct bytes *b, const void *data, size_t n)
{
	if (b->cap - b->len < n) {
		size_t ncap = b->cap ? b->cap : 256;

		while (ncap - b->len < n)
			ncap *= 2;
		b->p = realloc(b->p, ncap);
		assert_non_null(b->p);
		b->cap = ncap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void
bytes_free(struct bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Append the frame of msg, as the encoder makes it. */
static void
put_msg(struct bytes *b, const json_t *msg)
{
	unsigned char *buf;
	size_t len;

	assert_int_equal(frame_encode(msg, 0, &buf, &len), FRAME_OK);
	bytes_add(b, buf, len);
	free(buf);
}

/* Append a frame around any payload, valid or not. */
static void
put_raw(struct bytes *b, const void *payload, size_t n)
{
	unsigned char hdr[FRAME_HEADER_SIZE];

	frame_put_header(hdr, (uint32_t)n);
	bytes_add(b, hdr, sizeof(hdr));
	bytes_add(b, payload, n);
}

static void
put_str(struct bytes *b, const char *payload)
{
	put_raw(b, payload, strlen(payload));
}

static void
put_header(struct bytes *b, uint32_t n)
{
	unsigned char hdr[FRAME_HEADER_SIZE];

	frame_put_header(hdr, n);
	bytes_add(b, hdr, sizeof(hdr));
}

/*
 * The messages a stream should yield, and how far decoding got.  Each
 * decoded message is compared as it arrives, so a mismatch names its index.
 */
struct check {
	const json_t *want;	/* array of messages, in order */
	size_t next;
};

static void
drain_check(struct frame_decoder *d, struct check *c)
{
	struct frame_error err;
	json_t *m;
	int rc;

	while ((rc = frame_decoder_next(d, &m, &err)) == FRAME_OK) {
		const json_t *w = json_array_get(c->want, c->next);

		assert_non_null(m);
		if (w == NULL || !json_equal(m, w)) {
			char *got = json_dumps(m, JSON_COMPACT);

			fail_msg("message %zu differs: got %.200s", c->next,
			    got ? got : "?");
		}
		json_decref(m);
		c->next++;
	}
	if (rc != FRAME_NEED_MORE)
		fail_msg("message %zu: status %d (%s)", c->next, rc, err.text);
	assert_null(m);
}

enum push_mode { BY_FEED, BY_RESERVE };

/* Hand n bytes to the decoder by copy or through reserve/commit. */
static void
push(struct frame_decoder *d, const unsigned char *p, size_t n,
    enum push_mode mode)
{
	size_t got;
	void *w;

	if (mode == BY_FEED) {
		assert_int_equal(frame_decoder_feed(d, p, n), FRAME_OK);
		return;
	}
	w = frame_decoder_reserve(d, n, &got);
	assert_non_null(w);
	assert_true(got >= n);
	memcpy(w, p, n);
	frame_decoder_commit(d, n);
}

/* Decode s cut at the given ascending positions; all of want must come out. */
static void
decode_cuts(const struct bytes *s, const json_t *want, const size_t *cuts,
    size_t ncuts, enum push_mode mode)
{
	struct frame_decoder d;
	struct check c = { want, 0 };
	size_t from = 0;

	frame_decoder_init(&d, 0);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : s->len;

		push(&d, s->p + from, to - from, mode);
		drain_check(&d, &c);
		from = to;
	}
	assert_int_equal(c.next, json_array_size(want));
	assert_int_equal(frame_decoder_pending(&d), 0);
	frame_decoder_free(&d);
}

/* A chunk size: mostly small, sometimes a page, now and then huge. */
static size_t
rand_chunk(uint64_t *r)
{
	uint64_t k = tu_rand(r) % 10;

	if (k < 5)
		return (size_t)tu_range(r, 1, 16);
	if (k < 8)
		return (size_t)tu_range(r, 17, 4096);
	return (size_t)tu_range(r, 4097, 200000);
}

/* Decode s in random chunks; all of want must come out. */
static void
decode_random(const struct bytes *s, const json_t *want, uint64_t *r,
    enum push_mode mode)
{
	struct frame_decoder d;
	struct check c = { want, 0 };
	size_t off = 0, n;

	frame_decoder_init(&d, 0);
	while (off < s->len) {
		n = rand_chunk(r);
		if (n > s->len - off)
			n = s->len - off;
		push(&d, s->p + off, n, mode);
		drain_check(&d, &c);
		off += n;
	}
	assert_int_equal(c.next, json_array_size(want));
	assert_int_equal(frame_decoder_pending(&d), 0);
	frame_decoder_free(&d);
}

/* Decode s one byte at a time. */
static void
decode_bytewise(const struct bytes *s, const json_t *want,
    enum push_mode mode)
{
	struct frame_decoder d;
	struct check c = { want, 0 };

	frame_decoder_init(&d, 0);
	for (size_t i = 0; i < s->len; i++) {
		push(&d, s->p + i, 1, mode);
		drain_check(&d, &c);
	}
	assert_int_equal(c.next, json_array_size(want));
	assert_int_equal(frame_decoder_pending(&d), 0);
	frame_decoder_free(&d);
}

/* Next status that is not NEED_MORE, with the message dropped. */
static int
next_status(struct frame_decoder *d, struct frame_error *err)
{
	json_t *m;
	int rc = frame_decoder_next(d, &m, err);

	if (rc == FRAME_OK) {
		assert_non_null(m);
		json_decref(m);
	} else {
		assert_null(m);
	}
	return rc;
}

/* A small stream of assorted messages, and the messages themselves. */
static json_t *
small_stream(struct bytes *s)
{
	static const char *const texts[] = {
		"{\"type\":\"hello\",\"id\":0,\"version\":1,"
		    "\"role\":\"child\"}",
		"{}",
		"{\"type\":\"progress\",\"id\":7,"
		    "\"stage\":\"r\\u00e9sum\\u00e9 "
		    "\\u20ac \\ud83d\\ude00 \\\"q\\\" \\\\ \\n\\t\"}",
		"{\"a\":{\"b\":{\"c\":[1,2.5,-3,true,false,null,{\"d\":[]}]}}}",
		"{\"n\":-9223372036854775808,\"m\":9223372036854775807,"
		    "\"r\":1e-300,\"z\":-0.0}",
		"{\"k\":\"x\"}",
	};
	json_t *want = json_array();

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_t *m = tu_json(texts[i]);

		put_msg(s, m);
		json_array_append_new(want, m);
	}
	return want;
}

/* ------------------------------------------------------------ codec */

static void
test_put_header(void **state)
{
	unsigned char h[FRAME_HEADER_SIZE];

	frame_put_header(h, 0x01020304u);
	assert_memory_equal(h, "\x01\x02\x03\x04", 4);
	frame_put_header(h, 0xffffffffu);
	assert_memory_equal(h, "\xff\xff\xff\xff", 4);
	frame_put_header(h, 300);
	assert_memory_equal(h, "\x00\x00\x01\x2c", 4);
}

static void
test_roundtrip(void **state)
{
	struct frame_decoder d;
	json_t *msg, *out;
	unsigned char *buf;
	char *dump;
	size_t len;

	msg = tu_json("{\"type\":\"result\",\"id\":42,\"text\":\"caf\\u00e9 "
	    "\\u65e5\\u672c \\ud83d\\ude80 \\\"x\\\"\\u0001\",\"nested\":"
	    "{\"list\":[1,-2,3.25,null,true,{\"deep\":{}}]},\"neg\":-1}");
	assert_int_equal(frame_encode(msg, 0, &buf, &len), FRAME_OK);

	/* Header is the payload length; the payload is the compact dump. */
	dump = json_dumps(msg, JSON_COMPACT);
	assert_non_null(dump);
	assert_int_equal(len, FRAME_HEADER_SIZE + strlen(dump));
	assert_int_equal((size_t)buf[0] << 24 | (size_t)buf[1] << 16 |
	    (size_t)buf[2] << 8 | buf[3], strlen(dump));
	assert_memory_equal(buf + FRAME_HEADER_SIZE, dump, strlen(dump));

	frame_decoder_init(&d, 0);
	assert_int_equal(d.max, FRAME_MAX_DEFAULT);
	assert_int_equal(frame_decoder_feed(&d, buf, len), FRAME_OK);
	assert_int_equal(frame_decoder_pending(&d), len);
	assert_int_equal(frame_decoder_next(&d, &out, NULL), FRAME_OK);
	assert_true(json_equal(msg, out));
	json_decref(out);
	assert_int_equal(frame_decoder_pending(&d), 0);
	assert_int_equal(frame_decoder_next(&d, &out, NULL), FRAME_NEED_MORE);
	assert_null(out);

	frame_decoder_free(&d);
	free(dump);
	free(buf);
	json_decref(msg);
}

/* One pass yields the bytes two passes did: the header, then exactly
 * jansson's compact dump, at sizes on either side of every buffer growth;
 * and a message far over the limit is refused. */
static void
test_encode_same_bytes(void **state)
{
	static const size_t sizes[] = { 0, 1, 400, 495, 496, 497, 508, 511,
	    512, 513, 1000, 1024, 4096, 65536, 300000 };
	unsigned char *buf;
	size_t len, dumplen;
	json_t *v;
	char *s, *dump;

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		s = malloc(sizes[i] + 1);
		assert_non_null(s);
		for (size_t j = 0; j < sizes[i]; j++)
			s[j] = "ab\"\\c\n\x01\xc3\xa9"[j % 9];
		/* Never cut a two-byte sequence in half. */
		if (sizes[i] > 0 && (unsigned char)s[sizes[i] - 1] == 0xc3)
			s[sizes[i] - 1] = 'z';
		s[sizes[i]] = '\0';
		v = json_pack("{s:s, s:i, s:[s, n, b]}", "pad", s, "id",
		    (int)i, "list", "x", 1);
		assert_non_null(v);
		dump = json_dumps(v, JSON_COMPACT);
		dumplen = strlen(dump);
		assert_int_equal(frame_encode(v, 0, &buf, &len), FRAME_OK);
		assert_int_equal(len, FRAME_HEADER_SIZE + dumplen);
		assert_int_equal(buf[0] << 24 | buf[1] << 16 | buf[2] << 8 |
		    buf[3], dumplen);
		assert_memory_equal(buf + FRAME_HEADER_SIZE, dump, dumplen);
		assert_int_equal(frame_encoded_size(v), dumplen);
		free(buf);
		if (dumplen > 1) {
			buf = (unsigned char *)"x";
			assert_int_equal(frame_encode(v, dumplen / 2, &buf,
			    &len), FRAME_ETOOBIG);
			assert_null(buf);
			assert_int_equal(len, 0);
		}
		free(dump);
		free(s);
		json_decref(v);
	}
}

/* The cheap look at a payload: the top-level "type" and "final", never
 * a nested one; unsure (-1) on escapes in a key, duplicates and odd
 * syntax. */
static void
test_peek(void **state)
{
	static const struct {
		const char *json;
		int rc;
		const char *type;	/* NULL: none */
		int final;
	} cases[] = {
		{ "{\"type\":\"round\",\"id\":3,\"final\":true}", 0, "round", 1 },
		{ " { \"type\" : \"round\" , \"final\" : false } ", 0, "round",
		    0 },
		{ "{\"a\":{\"type\":\"x\",\"final\":true},\"type\":\"event\"}",
		    0, "event", -1 },
		{ "{\"a\":[1,{\"b\":\"}]\\\"\"}],\"type\":\"ev\"}", 0, "ev",
		    -1 },
		{ "{\"final\":1,\"type\":\"round\"}", 0, "round", 2 },
		{ "{\"type\":\"ro\\u0075nd\"}", 0, NULL, -1 },
		{ "{\"type\":5}", 0, NULL, -1 },
		{ "{}", 0, NULL, -1 },
		{ "{\"id\":-1.5e3,\"x\":null}", 0, NULL, -1 },
		{ "{\"type\":\"a\",\"type\":\"b\"}", -1, NULL, -1 },
		{ "{\"final\":true,\"final\":false}", -1, NULL, -1 },
		{ "{\"ty\\u0070e\":\"a\"}", -1, NULL, -1 },
		{ "[1]", -1, NULL, -1 },
		{ "{\"type\":\"a\"", -1, NULL, -1 },
		{ "{\"type\":\"a\"}x", -1, NULL, -1 },
		{ "{\"type\":\"a\",}", -1, NULL, -1 },
		{ "{\"a\":[1,2}", -1, NULL, -1 },
		{ "{\"a\":1 2}", -1, NULL, -1 },
		{ "{\"a\":\"open}", -1, NULL, -1 },
		{ "", -1, NULL, -1 },
	};
	/* A NUL inside an array once made the scan loop for ever. */
	static const unsigned char nul[] = "{\"a\":[1,\0]}";
	struct frame_peek pk;

	(void)state;
	assert_int_equal(frame_peek(nul, sizeof(nul) - 1, &pk), -1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *j = cases[i].json;
		int rc = frame_peek((const unsigned char *)j, strlen(j), &pk);

		assert_int_equal(rc, cases[i].rc);
		if (rc != 0)
			continue;
		if (cases[i].type == NULL)
			assert_int_equal(pk.type_len, 0);
		else {
			assert_int_equal(pk.type_len, strlen(cases[i].type));
			assert_memory_equal(pk.type, cases[i].type,
			    pk.type_len);
		}
		assert_int_equal(pk.final, cases[i].final);
	}
}

/* Peek leaves a frame in place; skip drops it; next then parses the one
 * after; the limits hold for peek as for next. */
static void
test_peek_skip_wrap(void **state)
{
	struct frame_decoder d;
	const unsigned char *p;
	unsigned char *buf, hdr[FRAME_HEADER_SIZE];
	size_t n, len;
	json_t *out;

	(void)state;
	frame_decoder_init(&d, 64);
	assert_int_equal(frame_wrap((const unsigned char *)"{\"a\":1}", 7, 64,
	    &buf, &len), FRAME_OK);
	assert_int_equal(len, 11);
	assert_int_equal(frame_decoder_feed(&d, buf, 5), FRAME_OK);
	assert_int_equal(frame_decoder_peek(&d, &p, &n, NULL),
	    FRAME_NEED_MORE);
	assert_int_equal(frame_decoder_feed(&d, buf + 5, len - 5), FRAME_OK);
	assert_int_equal(frame_decoder_feed(&d, buf, len), FRAME_OK);
	free(buf);
	assert_int_equal(frame_decoder_peek(&d, &p, &n, NULL), FRAME_OK);
	assert_int_equal(n, 7);
	assert_memory_equal(p, "{\"a\":1}", 7);
	/* Twice: still the same frame. */
	assert_int_equal(frame_decoder_peek(&d, &p, &n, NULL), FRAME_OK);
	frame_decoder_skip(&d);
	assert_int_equal(frame_decoder_pending(&d), 11);
	assert_int_equal(frame_decoder_next(&d, &out, NULL), FRAME_OK);
	json_decref(out);
	assert_int_equal(frame_decoder_pending(&d), 0);
	assert_int_equal(frame_decoder_peek(&d, &p, &n, NULL),
	    FRAME_NEED_MORE);
	frame_decoder_skip(&d);		/* nothing to skip: no harm */

	/* Over the limit: fatal, sticky, for peek and next alike. */
	frame_put_header(hdr, 65);
	assert_int_equal(frame_decoder_feed(&d, hdr, sizeof(hdr)), FRAME_OK);
	assert_int_equal(frame_decoder_peek(&d, &p, &n, NULL), FRAME_ETOOBIG);
	assert_null(p);
	assert_int_equal(frame_decoder_next(&d, &out, NULL), FRAME_ETOOBIG);
	frame_decoder_free(&d);

	assert_int_equal(frame_wrap((const unsigned char *)"{}", 2, 1, &buf,
	    &len), FRAME_ETOOBIG);
	assert_null(buf);
	assert_int_equal(frame_wrap((const unsigned char *)"", 0, 0, &buf,
	    &len), FRAME_ETOOBIG);
}

static void
test_encode_refuses(void **state)
{
	unsigned char *buf = (unsigned char *)"x";
	size_t len = 99, dumplen;
	json_t *v, *big;
	char *dump;

	v = json_array();
	assert_int_equal(frame_encode(v, 0, &buf, &len), FRAME_ENOTOBJ);
	assert_null(buf);
	assert_int_equal(len, 0);
	json_decref(v);

	v = json_string("an object it is not");
	assert_int_equal(frame_encode(v, 0, &buf, &len), FRAME_ENOTOBJ);
	json_decref(v);
	v = json_integer(5);
	assert_int_equal(frame_encode(v, 0, &buf, &len), FRAME_ENOTOBJ);
	json_decref(v);
	assert_int_equal(frame_encode(NULL, 0, &buf, &len), FRAME_ENOTOBJ);

	/* The limit is on the payload: exactly max passes, one less fails. */
	v = json_pack("{s:s}", "k", "0123456789012345678901234567890123456789");
	dump = json_dumps(v, JSON_COMPACT);
	dumplen = strlen(dump);
	assert_int_equal(frame_encode(v, dumplen, &buf, &len), FRAME_OK);
	assert_int_equal(len, dumplen + FRAME_HEADER_SIZE);
	free(buf);
	buf = (unsigned char *)"x";
	assert_int_equal(frame_encode(v, dumplen - 1, &buf, &len),
	    FRAME_ETOOBIG);
	assert_null(buf);
	assert_int_equal(len, 0);
	free(dump);
	json_decref(v);

	/* max 0 is the 16 MiB default: 1 MiB passes, 17 MiB does not. */
	dump = malloc(17u << 20);
	assert_non_null(dump);
	memset(dump, 'a', 17u << 20);
	big = json_object();
	json_object_set_new(big, "blob", json_stringn(dump, 1u << 20));
	assert_int_equal(frame_encode(big, 0, &buf, &len), FRAME_OK);
	free(buf);
	json_object_set_new(big, "blob", json_stringn(dump, 17u << 20));
	assert_int_equal(frame_encode(big, 0, &buf, &len), FRAME_ETOOBIG);
	assert_null(buf);
	json_decref(big);
	free(dump);
}

static void
test_status_fatal(void **state)
{
	static const int all[] = {
		FRAME_OK, FRAME_NEED_MORE, FRAME_EZERO, FRAME_ETOOBIG,
		FRAME_ENOMEM, FRAME_EUTF8, FRAME_EJSON, FRAME_ENOTOBJ,
	};

	assert_true(frame_status_fatal(FRAME_EZERO));
	assert_true(frame_status_fatal(FRAME_ETOOBIG));
	assert_true(frame_status_fatal(FRAME_ENOMEM));
	assert_false(frame_status_fatal(FRAME_OK));
	assert_false(frame_status_fatal(FRAME_NEED_MORE));
	assert_false(frame_status_fatal(FRAME_EUTF8));
	assert_false(frame_status_fatal(FRAME_EJSON));
	assert_false(frame_status_fatal(FRAME_ENOTOBJ));

	/* Every status has its own text; an unknown one a generic text. */
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const char *a = frame_strerror(all[i]);

		assert_non_null(a);
		assert_string_not_equal(a, frame_strerror(-999));
		for (size_t j = i + 1; j < sizeof(all) / sizeof(all[0]); j++)
			assert_string_not_equal(a, frame_strerror(all[j]));
	}
}

/* ------------------------------------------------------------ splits */

static void
test_split_bytewise(void **state)
{
	struct bytes s = { 0 };
	json_t *want = small_stream(&s);

	decode_bytewise(&s, want, BY_FEED);
	decode_bytewise(&s, want, BY_RESERVE);
	bytes_free(&s);
	json_decref(want);
}

static void
test_split_every_two_way(void **state)
{
	struct bytes s = { 0 };
	json_t *want = small_stream(&s);

	for (size_t k = 0; k <= s.len; k++) {
		decode_cuts(&s, want, &k, 1, BY_FEED);
		decode_cuts(&s, want, &k, 1, BY_RESERVE);
	}
	bytes_free(&s);
	json_decref(want);
}

static void
test_split_every_three_way(void **state)
{
	struct bytes s = { 0 };
	json_t *want = json_array();
	size_t cuts[2];

	/* Three frames, so every pair of cuts stays cheap. */
	for (int i = 0; i < 3; i++) {
		json_t *m = json_pack("{s:s, s:i, s:{s:[i,s]}}", "type",
		    "ping", "id", i, "x", "y", i * 1000,
		    "\xc3\xa9\xe2\x82\xac");

		put_msg(&s, m);
		json_array_append_new(want, m);
	}
	for (cuts[0] = 0; cuts[0] <= s.len; cuts[0]++) {
		for (cuts[1] = cuts[0]; cuts[1] <= s.len; cuts[1]++)
			decode_cuts(&s, want, cuts, 2, BY_FEED);
	}
	bytes_free(&s);
	json_decref(want);
}

static void
test_split_random_chunks(void **state)
{
	uint64_t r = tu_seed("test_split_random_chunks");
	struct bytes s = { 0 }, twice = { 0 };
	json_t *want = small_stream(&s), *big, *copy;
	char *blob;

	/* A frame larger than the decoder's initial buffer in the middle. */
	blob = malloc(300000);
	assert_non_null(blob);
	memset(blob, 'b', 300000);
	big = json_pack("{s:s, s:s%}", "type", "big", "blob", blob,
	    (size_t)300000);
	free(blob);
	put_msg(&s, big);
	json_array_append_new(want, big);
	/* The whole stream twice, so the big frame is also mid-stream. */
	copy = json_copy(want);
	json_array_extend(want, copy);
	json_decref(copy);
	bytes_add(&twice, s.p, s.len);
	bytes_add(&twice, s.p, s.len);
	bytes_free(&s);
	s = twice;
	for (int i = 0; i < 200; i++) {
		decode_random(&s, want, &r, BY_FEED);
		decode_random(&s, want, &r, BY_RESERVE);
	}
	bytes_free(&s);
	json_decref(want);
}

static void
test_many_frames_one_feed(void **state)
{
	struct frame_decoder d;
	struct bytes s = { 0 };
	json_t *want = json_array();
	struct check c = { want, 0 };
	size_t partial;

	for (int i = 0; i < 5000; i++) {
		json_t *m = json_pack("{s:s, s:i}", "type", "pong", "id", i);

		put_msg(&s, m);
		json_array_append_new(want, m);
	}
	/* One read holds 5000 frames and the first 3 bytes of another. */
	partial = s.len;
	put_str(&s, "{\"last\":true}");
	frame_decoder_init(&d, 0);
	assert_int_equal(frame_decoder_feed(&d, s.p, partial + 3), FRAME_OK);
	drain_check(&d, &c);
	assert_int_equal(c.next, 5000);
	assert_int_equal(frame_decoder_pending(&d), 3);

	json_array_append_new(want, tu_json("{\"last\":true}"));
	assert_int_equal(frame_decoder_feed(&d, s.p + partial + 3,
	    s.len - partial - 3), FRAME_OK);
	drain_check(&d, &c);
	assert_int_equal(c.next, 5001);
	assert_int_equal(frame_decoder_pending(&d), 0);
	frame_decoder_free(&d);
	bytes_free(&s);
	json_decref(want);
}

/* ------------------------------------------------------------ errors */

static void
test_zero_length_fatal_sticky(void **state)
{
	struct frame_decoder d;
	struct frame_error err;
	struct bytes s = { 0 };

	put_str(&s, "{\"ok\":1}");
	put_header(&s, 0);
	put_str(&s, "{\"never\":1}");

	frame_decoder_init(&d, 0);
	assert_int_equal(frame_decoder_feed(&d, s.p, s.len), FRAME_OK);
	/* The good frame before the bad header still comes out. */
	assert_int_equal(next_status(&d, &err), FRAME_OK);
	assert_int_equal(next_status(&d, &err), FRAME_EZERO);
	assert_int_equal(err.code, FRAME_EZERO);
	assert_non_null(strstr(err.text, "zero"));
	assert_true(frame_status_fatal(FRAME_EZERO));

	/* Sticky: the frame after it is never decoded, feeding is refused. */
	for (int i = 0; i < 3; i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(next_status(&d, &err), FRAME_EZERO);
		assert_int_equal(err.code, FRAME_EZERO);
	}
	assert_int_equal(next_status(&d, NULL), FRAME_EZERO);
	assert_int_equal(frame_decoder_feed(&d, s.p, s.len), FRAME_EZERO);
	frame_decoder_free(&d);

	/* A zero header alone is enough: no payload to wait for. */
	frame_decoder_init(&d, 0);
	assert_int_equal(frame_decoder_feed(&d, "\0\0\0", 3), FRAME_OK);
	assert_int_equal(next_status(&d, &err), FRAME_NEED_MORE);
	assert_int_equal(frame_decoder_feed(&d, "\0", 1), FRAME_OK);
	assert_int_equal(next_status(&d, &err), FRAME_EZERO);
	frame_decoder_free(&d);
	bytes_free(&s);
}

static void
test_too_big_from_header(void **state)
{
	struct frame_decoder d;
	struct frame_error err;
	struct bytes s = { 0 };
	char payload[1001];

	/* A payload of exactly max bytes is accepted. */
	memset(payload, ' ', sizeof(payload));
	memcpy(payload, "{\"k\":1}", 7);
	frame_decoder_init(&d, 1000);
	assert_int_equal(d.max, 1000);
	put_raw(&s, payload, 1000);
	assert_int_equal(frame_decoder_feed(&d, s.p, s.len), FRAME_OK);
	assert_int_equal(next_status(&d, &err), FRAME_OK);

	/* One more byte is refused as soon as the header is in. */
	bytes_free(&s);
	put_header(&s, 1001);
	assert_int_equal(frame_decoder_feed(&d, s.p, 2), FRAME_OK);
	assert_int_equal(next_status(&d, &err), FRAME_NEED_MORE);
	assert_int_equal(frame_decoder_feed(&d, s.p + 2, 2), FRAME_OK);
	assert_int_equal(next_status(&d, &err), FRAME_ETOOBIG);
	assert_int_equal(err.code, FRAME_ETOOBIG);
	assert_non_null(strstr(err.text, "1001"));
	assert_non_null(strstr(err.text, "1000"));
	/* Sticky, and the payload is never buffered. */
	assert_int_equal(next_status(&d, &err), FRAME_ETOOBIG);
	assert_int_equal(frame_decoder_feed(&d, payload, 1001), FRAME_ETOOBIG);
	assert_int_equal(frame_decoder_pending(&d), FRAME_HEADER_SIZE);
	frame_decoder_free(&d);
	bytes_free(&s);

	/* Default limit: 16 MiB waits for the payload, one more is refused. */
	frame_decoder_init(&d, 0);
	put_header(&s, FRAME_MAX_DEFAULT);
	assert_int_equal(frame_decoder_feed(&d, s.p, s.len), FRAME_OK);
	assert_int_equal(next_status(&d, &err), FRAME_NEED_MORE);
	frame_decoder_free(&d);
	bytes_free(&s);

	frame_decoder_init(&d, 0);
	put_header(&s, FRAME_MAX_DEFAULT + 1);
	assert_int_equal(frame_decoder_feed(&d, s.p, s.len), FRAME_OK);
	assert_int_equal(next_status(&d, &err), FRAME_ETOOBIG);
	frame_decoder_free(&d);
	bytes_free(&s);

	frame_decoder_init(&d, 0);
	assert_int_equal(frame_decoder_feed(&d, "\xff\xff\xff\xff", 4),
	    FRAME_OK);
	assert_int_equal(next_status(&d, &err), FRAME_ETOOBIG);
	assert_true(frame_status_fatal(err.code));
	frame_decoder_free(&d);
}

/* Each payload, framed and followed by a good frame, gives `code` once. */
static void
expect_payload_error(const char *payload, size_t n, int code)
{
	struct frame_decoder d;
	struct frame_error err;
	struct bytes s = { 0 };
	json_t *m;

	put_raw(&s, payload, n);
	put_str(&s, "{\"after\":\"ok\"}");
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		frame_decoder_init(&d, 0);
		if (bytewise) {
			int rc = FRAME_NEED_MORE;

			for (size_t i = 0; i < s.len && rc == FRAME_NEED_MORE;
			    i++) {
				assert_int_equal(frame_decoder_feed(&d,
				    s.p + i, 1), FRAME_OK);
				rc = next_status(&d, &err);
			}
			assert_int_equal(rc, code);
			/* Feed the rest of the stream. */
			assert_int_equal(frame_decoder_feed(&d, s.p + n +
			    FRAME_HEADER_SIZE, s.len - n - FRAME_HEADER_SIZE),
			    FRAME_OK);
		} else {
			assert_int_equal(frame_decoder_feed(&d, s.p, s.len),
			    FRAME_OK);
			if (next_status(&d, &err) != code)
				fail_msg("payload %.60s: want %d, got %d (%s)",
				    payload, code, err.code, err.text);
		}
		assert_int_equal(err.code, code);
		assert_non_null(strstr(err.text, frame_strerror(code)));
		assert_false(frame_status_fatal(code));
		/* The bad frame is consumed; the good one follows. */
		assert_int_equal(frame_decoder_next(&d, &m, &err), FRAME_OK);
		assert_string_equal(json_string_value(json_object_get(m,
		    "after")), "ok");
		json_decref(m);
		assert_int_equal(frame_decoder_pending(&d), 0);
		frame_decoder_free(&d);
	}
	bytes_free(&s);
}

#define EXPECT(p, code)	expect_payload_error((p), sizeof(p) - 1, (code))

static void
test_bad_utf8(void **state)
{
	EXPECT("{\"a\":\"\xff\"}", FRAME_EUTF8);
	EXPECT("{\"a\":\"\xc3\"}", FRAME_EUTF8);		/* truncated */
	EXPECT("{\"a\":\"\xc0\xaf\"}", FRAME_EUTF8);	/* overlong */
	EXPECT("{\"a\":\"\xe0\x80\xaf\"}", FRAME_EUTF8);	/* overlong */
	EXPECT("{\"a\":\"\xed\xa0\x80\"}", FRAME_EUTF8);	/* surrogate */
	EXPECT("{\"a\":\"\xf4\x90\x80\x80\"}", FRAME_EUTF8); /* > U+10FFFF */
	EXPECT("{\"\xfe\":1}", FRAME_EUTF8);		/* in a key */
	EXPECT("{\"a\":1}\x80", FRAME_EUTF8);	/* after the value */
}

static void
test_bad_json(void **state)
{
	EXPECT("{", FRAME_EJSON);
	EXPECT("}", FRAME_EJSON);
	EXPECT(" ", FRAME_EJSON);
	EXPECT("{\"a\":1} x", FRAME_EJSON);	/* trailing garbage */
	EXPECT("{\"a\":1}{\"b\":2}", FRAME_EJSON);	/* two values */
	EXPECT("{\"a\":1,\"a\":2}", FRAME_EJSON);	/* duplicate key */
	EXPECT("{\"o\":{\"k\":1,\"k\":1}}", FRAME_EJSON); /* nested */
	EXPECT("{'a':1}", FRAME_EJSON);
	EXPECT("{\"a\":1,}", FRAME_EJSON);
	EXPECT("{\"a\":nul}", FRAME_EJSON);
	EXPECT("{\"a\":NaN}", FRAME_EJSON);
	EXPECT("{\"a\":\"\\u0000\"}", FRAME_EJSON);	/* NUL in a string */
	EXPECT("{\"a\":\"\x01\"}", FRAME_EJSON);	/* raw control char */
	EXPECT("{\"a\":1}\0", FRAME_EJSON);		/* raw NUL after */
	EXPECT("{\"a\":1e999}", FRAME_EJSON);		/* real overflow */
	EXPECT("{\"a\":99999999999999999999}", FRAME_EJSON);
}

static void
test_not_object(void **state)
{
	EXPECT("[1,2]", FRAME_ENOTOBJ);
	EXPECT("[]", FRAME_ENOTOBJ);
	EXPECT("42", FRAME_ENOTOBJ);
	EXPECT("-1.5", FRAME_ENOTOBJ);
	EXPECT("\"str\"", FRAME_ENOTOBJ);
	EXPECT("null", FRAME_ENOTOBJ);
	EXPECT("true", FRAME_ENOTOBJ);
}

static void
test_errors_interleaved(void **state)
{
	static const int want[] = {
		FRAME_OK, FRAME_EUTF8, FRAME_OK, FRAME_EJSON, FRAME_ENOTOBJ,
		FRAME_EJSON, FRAME_OK, FRAME_EZERO,
	};
	struct frame_decoder d;
	struct frame_error err;
	struct bytes s = { 0 };
	size_t got = 0;
	int rc;

	put_str(&s, "{\"n\":1}");
	put_str(&s, "{\"n\":\"\xff\"}");
	put_str(&s, "{\"n\":2}");
	put_str(&s, "{\"n\":");
	put_str(&s, "[3]");
	put_str(&s, "{\"n\":4,\"n\":4}");
	put_str(&s, "{\"n\":5}");
	put_header(&s, 0);
	put_str(&s, "{\"n\":6}");

	/* One byte at a time, so every error meets every split. */
	frame_decoder_init(&d, 0);
	for (size_t i = 0; i < s.len; i++) {
		rc = frame_decoder_feed(&d, s.p + i, 1);
		if (rc == FRAME_EZERO)
			break;
		assert_int_equal(rc, FRAME_OK);
		while ((rc = next_status(&d, &err)) != FRAME_NEED_MORE) {
			assert_true(got < sizeof(want) / sizeof(want[0]));
			assert_int_equal(rc, want[got]);
			got++;
			if (frame_status_fatal(rc))
				break;
		}
	}
	assert_int_equal(got, sizeof(want) / sizeof(want[0]));
	frame_decoder_free(&d);
	bytes_free(&s);
}

/* ------------------------------------------------------------ zero-copy */

static void
test_reserve_commit(void **state)
{
	uint64_t r = tu_seed("test_reserve_commit");
	struct frame_decoder d;
	struct bytes s = { 0 };
	json_t *want = small_stream(&s), *big;
	struct check c = { want, 0 };
	size_t off = 0, got, n;
	unsigned char *w;
	char *blob;

	blob = malloc(200000);
	assert_non_null(blob);
	memset(blob, 'z', 200000);
	big = json_pack("{s:s%}", "blob", blob, (size_t)200000);
	free(blob);
	put_msg(&s, big);
	json_array_append_new(want, big);

	/*
	 * As libuv does it: reserve a default-sized buffer, then commit a
	 * short read of whatever the kernel had.
	 */
	frame_decoder_init(&d, 0);
	while (off < s.len) {
		w = frame_decoder_reserve(&d, 0, &got);
		assert_non_null(w);
		assert_true(got >= 1);
		n = (size_t)tu_range(&r, 1, got);
		if (n > s.len - off)
			n = s.len - off;
		memcpy(w, s.p + off, n);
		frame_decoder_commit(&d, n);
		drain_check(&d, &c);
		off += n;
	}
	assert_int_equal(c.next, json_array_size(want));

	/* A big reservation is honoured; committing 0 changes nothing. */
	w = frame_decoder_reserve(&d, 500000, &got);
	assert_non_null(w);
	assert_true(got >= 500000);
	frame_decoder_commit(&d, 0);
	assert_int_equal(frame_decoder_pending(&d), 0);
	frame_decoder_free(&d);

	/* Committing more than was reserved is clamped, never trusted. */
	frame_decoder_init(&d, 0);
	w = frame_decoder_reserve(&d, 16, &got);
	assert_non_null(w);
	memset(w, 0xff, got);
	frame_decoder_commit(&d, got + 1000);
	assert_int_equal(frame_decoder_pending(&d), got);
	frame_decoder_free(&d);

	bytes_free(&s);
	json_decref(want);
}

/* After a large frame is consumed, the buffer is given back. */
static void
test_buffer_shrinks(void **state)
{
	struct frame_decoder d;
	struct bytes s = { 0 };
	json_t *big, *m;
	char *blob;

	blob = malloc(4u << 20);
	assert_non_null(blob);
	memset(blob, 'q', 4u << 20);
	big = json_pack("{s:s%}", "blob", blob, (size_t)4 << 20);
	free(blob);
	put_msg(&s, big);
	frame_decoder_init(&d, 0);
	assert_int_equal(frame_decoder_feed(&d, s.p, s.len), FRAME_OK);
	assert_true(d.cap >= s.len);
	assert_int_equal(frame_decoder_next(&d, &m, NULL), FRAME_OK);
	assert_true(json_equal(m, big));
	json_decref(m);
	assert_int_equal(frame_decoder_next(&d, &m, NULL), FRAME_NEED_MORE);
	/* Idle now: megabytes must not stay pinned. */
	assert_true(d.cap <= 256 * 1024);
	frame_decoder_free(&d);
	json_decref(big);
	bytes_free(&s);
}

/* ------------------------------------------------------------ random */

/* Append one code point as UTF-8; never U+0000 or a surrogate. */
static void
put_codepoint(struct bytes *b, uint64_t *r)
{
	unsigned char u[4];
	uint32_t cp;
	uint64_t k = tu_rand(r) % 100;

	if (k < 70)
		cp = (uint32_t)tu_range(r, 0x20, 0x7e);
	else if (k < 75)
		cp = (uint32_t)tu_range(r, 0x01, 0x1f);
	else if (k < 85)
		cp = (uint32_t)tu_range(r, 0x80, 0x7ff);
	else if (k < 95) {
		do
			cp = (uint32_t)tu_range(r, 0x800, 0xffff);
		while (cp >= 0xd800 && cp <= 0xdfff);
	} else
		cp = (uint32_t)tu_range(r, 0x10000, 0x10ffff);

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		bytes_add(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		bytes_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		bytes_add(b, u, 3);
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		bytes_add(b, u, 4);
	}
}

/* A string of minchars to maxchars code points. */
static json_t *
rand_string(uint64_t *r, size_t minchars, size_t maxchars)
{
	struct bytes b = { 0 };
	size_t n = (size_t)tu_range(r, minchars, maxchars);
	json_t *s;

	for (size_t i = 0; i < n; i++)
		put_codepoint(&b, r);
	s = json_stringn(b.len ? (const char *)b.p : "", b.len);
	assert_non_null(s);
	bytes_free(&b);
	return s;
}

static json_t *rand_object(uint64_t *, int, size_t);

static json_t *
rand_value(uint64_t *r, int depth)
{
	json_t *a;

	switch (tu_rand(r) % (depth > 0 ? 10 : 7)) {
	case 0:
		return json_integer((json_int_t)tu_rand(r));
	case 1:
		return json_integer((json_int_t)tu_range(r, 0, 2000) - 1000);
	case 2:
		return json_real(ldexp((double)(int32_t)tu_rand(r),
		    (int)tu_range(r, 0, 120) - 60));
	case 3:
		return json_boolean(tu_rand(r) & 1);
	case 4:
		return json_null();
	case 5:
	case 6:
		return rand_string(r, 0, 24);
	case 7:
	case 8:
		return rand_object(r, depth - 1, 5);
	default:
		a = json_array();
		for (uint64_t i = tu_range(r, 0, 4); i > 0; i--)
			json_array_append_new(a, rand_value(r, depth - 1));
		return a;
	}
}

static json_t *
rand_object(uint64_t *r, int depth, size_t maxkeys)
{
	json_t *o = json_object(), *k;

	for (uint64_t i = tu_range(r, 0, maxkeys); i > 0; i--) {
		k = rand_string(r, 0, 8);
		/* A repeated key overwrites: the object stays valid. */
		json_object_set_new(o, json_string_value(k),
		    rand_value(r, depth));
		json_decref(k);
	}
	return o;
}

/* {"a":{"a":...{}}} nested n deep. */
static json_t *
deep_object(int n)
{
	json_t *o = json_object();

	while (n-- > 0)
		o = json_pack("{s:o}", "a", o);
	return o;
}

static json_t *
rand_message(uint64_t *r, int i)
{
	json_t *m = json_pack("{s:s, s:i}", "type", "progress", "id", i);
	uint64_t k = tu_rand(r) % 1000;

	json_object_set_new(m, "body", rand_object(r, (int)tu_range(r, 0, 4),
	    6));
	if (i % 2000 == 1000) {
		/* A handful of strings of 60-120 KB. */
		json_object_set_new(m, "blob", rand_string(r, 40000, 75000));
	} else if (k < 10) {
		json_object_set_new(m, "text", rand_string(r, 0, 8000));
	} else if (k == 10) {
		json_object_set_new(m, "deep", deep_object(
		    (int)tu_range(r, 50, 1000)));
	}
	return m;
}

static void
test_random_10000(void **state)
{
	uint64_t r = tu_seed("test_random_10000");
	struct bytes s = { 0 };
	json_t *want = json_array();
	size_t largest = 0, before;

	for (int i = 0; i < 10000; i++) {
		json_t *m = rand_message(&r, i);

		before = s.len;
		put_msg(&s, m);
		if (s.len - before > largest)
			largest = s.len - before;
		json_array_append_new(want, m);
	}
	print_message("test_random_10000: %zu frames, %zu bytes, largest "
	    "%zu\n", json_array_size(want), s.len, largest);
	assert_true(largest > 100000);

	decode_bytewise(&s, want, BY_FEED);
	decode_random(&s, want, &r, BY_FEED);
	decode_random(&s, want, &r, BY_RESERVE);

	bytes_free(&s);
	json_decref(want);
}

/* Cutting to fit: the longest strings go first, each keeps its head and
 * says how much went; short strings and keys stay; a value that cannot
 * fit says so. */
static void
test_cut_to_fit(void **state)
{
	char *big = malloc(100000), *mid = malloc(3000);
	json_t *v;
	const char *s;

	(void)state;
	memset(big, 'a', 99999);
	big[99999] = '\0';
	memset(mid, 'b', 2999);
	mid[2999] = '\0';
	v = json_pack("{s:s, s:[s, s], s:s}", "big", big, "list", mid, "short",
	    "k", "keep");
	assert_int_equal(frame_cut_to_fit(v, 200000), 0);	/* fits */
	assert_string_equal(json_string_value(json_object_get(v, "big")), big);
	assert_int_equal(frame_cut_to_fit(v, 8192), 0);
	assert_true(frame_encoded_size(v) <= 8192);
	s = json_string_value(json_object_get(v, "big"));
	assert_int_equal(strncmp(s, "aaaa", 4), 0);
	assert_non_null(strstr(s, "bytes cut: over the frame limit]"));
	/* The shorter string was not needed to go. */
	assert_string_equal(json_string_value(json_array_get(json_object_get(v,
	    "list"), 0)), mid);
	assert_string_equal(json_string_value(json_array_get(json_object_get(v,
	    "list"), 1)), "short");
	assert_string_equal(json_string_value(json_object_get(v, "k")),
	    "keep");
	/* Far too small: every long string cut, still over. */
	assert_int_equal(frame_cut_to_fit(v, 100), -1);
	json_decref(v);
	/* A cut never splits a UTF-8 sequence: the result stays valid. */
	for (size_t i = 0; i < 99999 - 2; i += 3)
		memcpy(big + i, "\xe2\x82\xac", 3);
	big[99999 - 99999 % 3] = '\0';
	v = json_pack("{s:s}", "euro", big);
	assert_int_equal(frame_cut_to_fit(v, 5000), 0);
	assert_true(frame_encoded_size(v) <= 5000);
	json_decref(v);
	free(big);
	free(mid);
}

/* Many long strings (20 MB in 2000) are cut in a few passes, each to
 * about the same length, not one by one. */
static void
test_cut_many(void **state)
{
	char *s = malloc(10001);
	json_t *v = json_array();
	size_t first, len;
	uint64_t t0 = tu_mono_ms();

	(void)state;
	memset(s, 'r', 10000);
	s[10000] = '\0';
	for (int i = 0; i < 2000; i++)
		json_array_append_new(v, json_pack("{s:i, s:s}", "n", i,
		    "error", s));
	assert_int_equal(frame_cut_to_fit(v, 1u << 20), 0);
	assert_true(frame_encoded_size(v) <= 1u << 20);
	first = json_string_length(json_object_get(json_array_get(v, 0),
	    "error"));
	for (size_t i = 1; i < 2000; i++) {
		len = json_string_length(json_object_get(json_array_get(v, i),
		    "error"));
		assert_true(len + 8 >= first && len <= first + 8);
	}
	/* One pass over 20 MB, not 2000. */
	assert_true(tu_mono_ms() - t0 < 10000);
	json_decref(v);
	free(s);
}

/* What is still to come of the frame at the head, for a reader that
 * makes room for it whole. */
static void
test_missing(void **state)
{
	struct frame_decoder d;
	struct bytes b = { 0 };
	unsigned char zeros[10] = { 0 };
	json_t *m;

	(void)state;
	frame_decoder_init(&d, 200000);
	assert_int_equal(frame_decoder_missing(&d), 0);
	put_header(&b, 100000);
	assert_int_equal(frame_decoder_feed(&d, b.p, 3), FRAME_OK);
	assert_int_equal(frame_decoder_missing(&d), 0);	/* no header yet */
	assert_int_equal(frame_decoder_feed(&d, b.p + 3, 1), FRAME_OK);
	assert_int_equal(frame_decoder_missing(&d), 100000);
	assert_int_equal(frame_decoder_feed(&d, zeros, sizeof(zeros)),
	    FRAME_OK);
	assert_int_equal(frame_decoder_missing(&d), 100000 - sizeof(zeros));
	frame_decoder_free(&d);
	bytes_free(&b);

	/* Whole frames, or a header over the limit: nothing to make room
	 * for. */
	frame_decoder_init(&d, 1000);
	put_str(&b, "{\"a\":1}");
	put_header(&b, 5000);
	assert_int_equal(frame_decoder_feed(&d, b.p, b.len), FRAME_OK);
	assert_int_equal(frame_decoder_missing(&d), 0);
	assert_int_equal(frame_decoder_next(&d, &m, NULL), FRAME_OK);
	json_decref(m);
	assert_int_equal(frame_decoder_missing(&d), 0);
	frame_decoder_free(&d);
	bytes_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cut_to_fit),
		cmocka_unit_test(test_cut_many),
		cmocka_unit_test(test_put_header),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_encode_same_bytes),
		cmocka_unit_test(test_peek),
		cmocka_unit_test(test_peek_skip_wrap),
		cmocka_unit_test(test_status_fatal),
		cmocka_unit_test(test_split_bytewise),
		cmocka_unit_test(test_split_every_two_way),
		cmocka_unit_test(test_split_every_three_way),
		cmocka_unit_test(test_split_random_chunks),
		cmocka_unit_test(test_many_frames_one_feed),
		cmocka_unit_test(test_zero_length_fatal_sticky),
		cmocka_unit_test(test_too_big_from_header),
		cmocka_unit_test(test_bad_utf8),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_not_object),
		cmocka_unit_test(test_errors_interleaved),
		cmocka_unit_test(test_reserve_commit),
		cmocka_unit_test(test_buffer_shrinks),
		cmocka_unit_test(test_random_10000),
		cmocka_unit_test(test_missing),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
