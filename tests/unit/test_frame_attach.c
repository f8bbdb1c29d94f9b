/*
 * test_frame_attach.c — frames with an attachment (proto/frame.c): long
 * strings carried raw after the JSON, announced in "@attach".
 *
 * The encoder's round trips (top level, nested in objects and arrays,
 * several at once, exactly at the threshold and one byte under it, random
 * messages fed one byte at a time and in random chunks); what stays in the
 * JSON (a string with a NUL, a message with its own "@attach", one that
 * fits only without an attachment); the caller's message left as it was
 * (the encoder cuts from a shallow copy), keys escaped, with a NUL or
 * not UTF-8; the receiver that does not take them
 * (a clear payload error, the stream goes on); embedded NULs and bytes that
 * are not UTF-8 refused as the JSON side refuses them; and hand-made
 * payloads whose announcement lies, each a payload error after which the
 * next frame decodes.
 */
#include "testutil.h"

#include "proto/frame.h"

/* ------------------------------------------------------------ helpers */

/* A string of n bytes: "abc...", from the 37 characters used below. */
static json_t *
text(size_t n)
{
	char *s = malloc(n + 1);
	json_t *v;

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		s[i] = "abcdefghijklmnopqrstuvwxyz0123456789 "[i % 37];
	s[n] = '\0';
	v = json_stringn(s, n);
	assert_non_null(v);
	free(s);
	return v;
}

/* The frame of msg with attachments from min bytes up. */
static unsigned char *
encode(const json_t *msg, size_t min, size_t *len)
{
	unsigned char *buf;

	assert_int_equal(frame_encode_attach(msg, 0, min, &buf, len),
	    FRAME_OK);
	return buf;
}

/* Does the frame carry an attachment (a NUL after its JSON)? */
static bool
attached(const unsigned char *buf, size_t len)
{
	return memchr(buf + FRAME_HEADER_SIZE, '\0',
	    len - FRAME_HEADER_SIZE) != NULL;
}

/* Decode one whole frame: its status, and the message in *out. */
static int
decode(const unsigned char *buf, size_t len, bool attach, json_t **out,
    struct frame_error *err)
{
	struct frame_decoder d;
	int rc;

	frame_decoder_init(&d, 0);
	d.attach = attach;
	assert_int_equal(frame_decoder_feed(&d, buf, len), FRAME_OK);
	rc = frame_decoder_next(&d, out, err);
	assert_int_equal(frame_decoder_pending(&d), 0);
	frame_decoder_free(&d);
	return rc;
}

/* Encode with attachments, demand one, decode, demand the message. */
static void
roundtrip(const json_t *msg, size_t min)
{
	unsigned char *buf;
	size_t len;
	json_t *back;

	buf = encode(msg, min, &len);
	assert_true(attached(buf, len));
	assert_int_equal(decode(buf, len, true, &back, NULL), FRAME_OK);
	assert_true(json_equal(msg, back));
	assert_null(json_object_get(back, FRAME_ATTACH_KEY));
	json_decref(back);
	free(buf);
}

/* A frame around payload (n bytes, NULs allowed), then a good frame: the
 * first must give want, and the stream must go on. */
static void
expect_payload_error(const char *payload, size_t n, int want)
{
	struct frame_decoder d;
	struct frame_error err;
	unsigned char hdr[FRAME_HEADER_SIZE];
	const char ok[] = "{\"type\":\"ping\",\"id\":1}";
	json_t *m;
	int rc;

	frame_decoder_init(&d, 0);
	d.attach = true;
	frame_put_header(hdr, (uint32_t)n);
	assert_int_equal(frame_decoder_feed(&d, hdr, sizeof(hdr)), FRAME_OK);
	assert_int_equal(frame_decoder_feed(&d, payload, n), FRAME_OK);
	frame_put_header(hdr, (uint32_t)strlen(ok));
	assert_int_equal(frame_decoder_feed(&d, hdr, sizeof(hdr)), FRAME_OK);
	assert_int_equal(frame_decoder_feed(&d, ok, strlen(ok)), FRAME_OK);
	rc = frame_decoder_next(&d, &m, &err);
	if (rc != want)
		fail_msg("payload %.*s: status %d (%s), want %d", (int)n,
		    payload, rc, rc == FRAME_OK ? "ok" : err.text, want);
	assert_null(m);
	assert_int_equal(err.code, want);
	assert_false(frame_status_fatal(rc));
	assert_int_equal(frame_decoder_next(&d, &m, &err), FRAME_OK);
	assert_string_equal(json_string_value(json_object_get(m, "type")),
	    "ping");
	json_decref(m);
	frame_decoder_free(&d);
}

#define LIE(s, want)	expect_payload_error((s), sizeof(s) - 1, (want))

/* ------------------------------------------------------------ tests */

static void
test_roundtrip_shapes(void **state)
{
	json_t *m;

	(void)state;
	/* At the top, as a directive's text. */
	m = json_pack("{s:s, s:i, s:i, s:i, s:o}", "type", "directive", "id",
	    7, "task", 1, "directive", 3, "text", text(5000));
	roundtrip(m, FRAME_ATTACH_MIN);
	json_decref(m);

	/* Nested in objects and arrays, several, beside short strings and
	 * every other kind of value; an empty key and one with escapes. */
	m = json_pack("{s:s, s:[{s:s, s:o}, {s:o}], s:{s:{s:o, s:b}}, "
	    "s:o, s:o, s:n, s:f, s:o}",
	    "type", "round", "checks", "command", "make", "output",
	    text(300), "output", text(FRAME_ATTACH_MIN), "a", "b", "", text(999),
	    "ok", 1, "say \"\\\" \xc3\xa9", text(70000), "short", text(10),
	    "none", "r", 0.5, "list", json_pack("[o, i, o]", text(256), 4,
	    text(257)));
	roundtrip(m, FRAME_ATTACH_MIN);
	json_decref(m);

	/* Multibyte text, cut nowhere. */
	m = json_pack("{s:s}", "type", "progress");
	{
		char *s = malloc(3 * 1000 + 1);

		assert_non_null(s);
		for (int i = 0; i < 1000; i++)
			memcpy(s + 3 * i, "\xe2\x82\xac", 3);
		s[3000] = '\0';
		json_object_set_new(m, "text", json_string(s));
		free(s);
	}
	roundtrip(m, FRAME_ATTACH_MIN);
	json_decref(m);
}

/* FRAME_ATTACH_MIN bytes are attached; one fewer stays in the JSON. */
/* The encoder cuts from a shallow copy: the caller's message is left as
 * it was, nothing it holds keeps a reference from the copy, and keys that
 * need escaping or hold a NUL find their way back. */
static void
test_message_untouched(void **state)
{
	json_t *m, *before, *inner, *arr, *back;
	unsigned char *buf;
	size_t len;
	int rc;

	(void)state;
	inner = json_pack("{s:s, s:o}", "short", "x", "long", text(300));
	arr = json_pack("[i, o, {s:o}]", 1, text(400), "z", text(500));
	m = json_pack("{s:s, s:O, s:O, s:o}", "type", "progress", "o\"\\k",
	    inner, "arr", arr, "top", text(FRAME_ATTACH_MIN));
	json_object_setn_new(m, "n\0ul", 5, json_pack("{s:o}", "t",
	    text(260)));
	before = json_deep_copy(m);
	buf = encode(m, FRAME_ATTACH_MIN, &len);
	assert_true(attached(buf, len));
	assert_true(json_equal(m, before));
	assert_int_equal(inner->refcount, 2);	/* ours and m's */
	assert_int_equal(arr->refcount, 2);
	assert_int_equal(json_string_length(json_object_get(inner, "long")),
	    300);
	/* A key with a NUL goes out as \u0000, which the decoder refuses,
	 * with an attachment or without. */
	assert_int_equal(decode(buf, len, true, &back, NULL), FRAME_EJSON);
	free(buf);
	json_object_deln(m, "n\0ul", 5);
	json_decref(before);
	before = json_deep_copy(m);
	roundtrip(m, FRAME_ATTACH_MIN);
	assert_true(json_equal(m, before));

	/* A key that is not UTF-8 beside a long string (only a _nocheck
	 * setter makes one): never delivered without it.  jansson's dump
	 * writes such a key as broken JSON, which the receiver refuses. */
	json_object_setn_new_nocheck(m, "\xc3(", 2, text(300));
	rc = frame_encode_attach(m, 0, FRAME_ATTACH_MIN, &buf, &len);
	if (rc == FRAME_OK) {
		rc = decode(buf, len, true, &back, NULL);
		assert_true(rc == FRAME_EJSON || rc == FRAME_EUTF8);
		free(buf);
	} else
		assert_null(buf);
	json_decref(before);
	json_decref(inner);
	json_decref(arr);
	json_decref(m);
}

static void
test_threshold(void **state)
{
	unsigned char *buf;
	size_t len;
	json_t *m, *back;

	(void)state;
	m = json_pack("{s:s, s:o}", "type", "progress", "text",
	    text(FRAME_ATTACH_MIN));
	roundtrip(m, FRAME_ATTACH_MIN);
	json_object_set_new(m, "text", text(FRAME_ATTACH_MIN - 1));
	buf = encode(m, FRAME_ATTACH_MIN, &len);
	assert_false(attached(buf, len));
	assert_int_equal(decode(buf, len, true, &back, NULL), FRAME_OK);
	assert_true(json_equal(m, back));
	json_decref(back);
	free(buf);
	/* 0: never. */
	json_object_set_new(m, "text", text(100000));
	buf = encode(m, 0, &len);
	assert_false(attached(buf, len));
	free(buf);
	json_decref(m);
}

/* A peer that does not take attachments refuses such a frame as bad JSON,
 * and decodes on. */
static void
test_not_taken(void **state)
{
	struct frame_decoder d;
	struct frame_error err;
	unsigned char *buf, *plain;
	size_t len, plen;
	json_t *m, *back;

	(void)state;
	m = json_pack("{s:s, s:o}", "type", "progress", "text", text(1000));
	buf = encode(m, FRAME_ATTACH_MIN, &len);
	assert_int_equal(frame_encode(m, 0, &plain, &plen), FRAME_OK);
	frame_decoder_init(&d, 0);
	assert_int_equal(frame_decoder_feed(&d, buf, len), FRAME_OK);
	assert_int_equal(frame_decoder_feed(&d, plain, plen), FRAME_OK);
	assert_int_equal(frame_decoder_next(&d, &back, &err), FRAME_EJSON);
	assert_int_equal(frame_decoder_next(&d, &back, &err), FRAME_OK);
	assert_true(json_equal(m, back));
	json_decref(back);
	frame_decoder_free(&d);
	free(plain);
	free(buf);
	json_decref(m);
}

/* A string holding a NUL stays in the JSON, where it is refused as it
 * always was; bytes that are not UTF-8 are refused the same either way;
 * a NUL in an attached string is refused as the JSON side would. */
static void
test_nul_and_bad_utf8(void **state)
{
	char raw[600];
	unsigned char *buf, *plain;
	size_t len, plen;
	json_t *m, *back = NULL;
	struct frame_error err;

	(void)state;
	memset(raw, 'x', sizeof(raw));
	raw[300] = '\0';
	m = json_pack("{s:s, s:o}", "type", "progress", "text",
	    json_stringn(raw, sizeof(raw)));
	buf = encode(m, FRAME_ATTACH_MIN, &len);
	assert_false(attached(buf, len));
	assert_int_equal(frame_encode(m, 0, &plain, &plen), FRAME_OK);
	assert_int_equal(len, plen);
	assert_memory_equal(buf, plain, len);
	assert_int_equal(decode(buf, len, true, &back, &err), FRAME_EJSON);
	free(buf);
	free(plain);

	/* Not UTF-8: only a _nocheck string can hold it, and jansson
	 * will not encode it; nor will we, attached or not. */
	memset(raw, 'y', sizeof(raw));
	raw[10] = (char)0xc3;
	raw[11] = '(';
	json_object_set_new(m, "text", json_stringn_nocheck(raw,
	    sizeof(raw)));
	assert_int_equal(frame_encode(m, 0, &plain, &plen), FRAME_ENOMEM);
	assert_int_equal(frame_encode_attach(m, 0, FRAME_ATTACH_MIN, &buf,
	    &len), FRAME_ENOMEM);
	json_decref(m);
	/* From a peer: refused as the JSON side refuses it. */
	LIE("{\"t\":\"\",\"@attach\":[[2,\"t\"]]}\0\xc3(", FRAME_EUTF8);
	LIE("{\"t\":\"\xc3(\"}", FRAME_EUTF8);

	/* A NUL in the attachment: refused, as "\u0000" is. */
	LIE("{\"t\":\"\",\"@attach\":[[3,\"t\"]]}\0a\0b", FRAME_EJSON);
	/* A surrogate, an overlong form, a stray continuation byte. */
	LIE("{\"t\":\"\",\"@attach\":[[3,\"t\"]]}\0\xed\xa0\x80", FRAME_EUTF8);
	LIE("{\"t\":\"\",\"@attach\":[[2,\"t\"]]}\0\xc0\xaf", FRAME_EUTF8);
	LIE("{\"t\":\"\",\"@attach\":[[9,\"t\"]]}\0abcdefgh\x80", FRAME_EUTF8);
}

/* The message's own "@attach" key: plain JSON, delivered as it is. */
static void
test_own_key(void **state)
{
	unsigned char *buf;
	size_t len;
	json_t *m, *back;

	(void)state;
	m = json_pack("{s:s, s:o, s:[i]}", "type", "progress", "text",
	    text(1000), FRAME_ATTACH_KEY, 5);
	buf = encode(m, FRAME_ATTACH_MIN, &len);
	assert_false(attached(buf, len));
	assert_int_equal(decode(buf, len, true, &back, NULL), FRAME_OK);
	assert_true(json_equal(m, back));
	json_decref(back);
	free(buf);
	json_decref(m);
}

/* Over max with the announcement but not without: plain; over either
 * way: refused. */
static void
test_limit(void **state)
{
	unsigned char *buf, *plain;
	size_t len, plen;
	json_t *m;

	(void)state;
	m = json_pack("{s:s, s:o}", "type", "progress", "text", text(1000));
	assert_int_equal(frame_encode(m, 0, &plain, &plen), FRAME_OK);
	assert_int_equal(frame_encode_attach(m, plen - FRAME_HEADER_SIZE,
	    FRAME_ATTACH_MIN, &buf, &len), FRAME_OK);
	assert_false(attached(buf, len));
	assert_int_equal(len, plen);
	free(buf);
	assert_int_equal(frame_encode_attach(m, plen - FRAME_HEADER_SIZE - 1,
	    FRAME_ATTACH_MIN, &buf, &len), FRAME_ETOOBIG);
	assert_null(buf);
	assert_int_equal(frame_encode_attach(m, 900, FRAME_ATTACH_MIN, &buf,
	    &len), FRAME_ETOOBIG);
	free(plain);
	json_decref(m);
	m = json_integer(1);
	assert_int_equal(frame_encode_attach(m, 0, FRAME_ATTACH_MIN, &buf,
	    &len), FRAME_ENOTOBJ);
	json_decref(m);
}

/* Announcements that lie, or that are not announcements: payload errors,
 * and the stream goes on. */
static void
test_lies(void **state)
{
	(void)state;
	/* A NUL, no announcement. */
	LIE("{\"t\":\"\"}\0abc", FRAME_EATTACH);
	LIE("{\"t\":\"\",\"@attach\":[]}\0abc", FRAME_EATTACH);
	LIE("{\"t\":\"\",\"@attach\":{}}\0abc", FRAME_EATTACH);
	/* More announced than attached; less. */
	LIE("{\"t\":\"\",\"@attach\":[[4,\"t\"]]}\0abc", FRAME_EATTACH);
	LIE("{\"t\":\"\",\"@attach\":[[2,\"t\"]]}\0abc", FRAME_EATTACH);
	LIE("{\"t\":\"\",\"@attach\":[[3,\"t\"]]}\0", FRAME_EATTACH);
	/* Lengths that are none. */
	LIE("{\"t\":\"\",\"@attach\":[[0,\"t\"]]}\0", FRAME_EATTACH);
	LIE("{\"t\":\"\",\"@attach\":[[-1,\"t\"]]}\0a", FRAME_EATTACH);
	LIE("{\"t\":\"\",\"@attach\":[[1.0,\"t\"]]}\0a", FRAME_EATTACH);
	LIE("{\"t\":\"\",\"@attach\":[[\"1\",\"t\"]]}\0a", FRAME_EATTACH);
	LIE("{\"t\":\"\",\"@attach\":[[18446744073709551615,\"t\"]]}\0a",
	    FRAME_EJSON);	/* jansson: too big an integer */
	LIE("{\"t\":\"\",\"@attach\":[[9223372036854775807,\"t\"]]}\0a",
	    FRAME_EATTACH);
	/* Entries that are not [length, path...]. */
	LIE("{\"t\":\"\",\"@attach\":[1]}\0a", FRAME_EATTACH);
	LIE("{\"t\":\"\",\"@attach\":[[1]]}\0a", FRAME_EATTACH);
	LIE("{\"t\":\"\",\"@attach\":[\"t\"]}\0a", FRAME_EATTACH);
	/* Paths to nothing, or to no placeholder. */
	LIE("{\"t\":\"\",\"@attach\":[[1,\"u\"]]}\0a", FRAME_EATTACH);
	LIE("{\"t\":\"x\",\"@attach\":[[1,\"t\"]]}\0a", FRAME_EATTACH);
	LIE("{\"t\":1,\"@attach\":[[1,\"t\"]]}\0a", FRAME_EATTACH);
	LIE("{\"t\":[\"\"],\"@attach\":[[1,\"t\"]]}\0a", FRAME_EATTACH);
	LIE("{\"t\":[\"\"],\"@attach\":[[1,\"t\",1]]}\0a", FRAME_EATTACH);
	LIE("{\"t\":[\"\"],\"@attach\":[[1,\"t\",-1]]}\0a", FRAME_EATTACH);
	LIE("{\"t\":[\"\"],\"@attach\":[[1,\"t\",\"0\"]]}\0a", FRAME_EATTACH);
	LIE("{\"t\":{\"0\":\"\"},\"@attach\":[[1,\"t\",0]]}\0a",
	    FRAME_EATTACH);
	LIE("{\"t\":[\"\"],\"@attach\":[[1,\"t\",0,0]]}\0a", FRAME_EATTACH);
	LIE("{\"t\":\"\",\"@attach\":[[1,null]]}\0a", FRAME_EATTACH);
	LIE("{\"t\":\"\",\"@attach\":[[1,\"@attach\"]]}\0a", FRAME_EATTACH);
	/* One placeholder claimed twice. */
	LIE("{\"t\":\"\",\"@attach\":[[1,\"t\"],[1,\"t\"]]}\0ab",
	    FRAME_EATTACH);
	/* The JSON before the NUL is bad, or no object. */
	LIE("{\"t\":\"\",\"@attach\":[[1,\"t\"]]\0a", FRAME_EJSON);
	LIE("[\"\"]\0a", FRAME_ENOTOBJ);
	LIE("\0a", FRAME_EJSON);
	/* And a true one, with the same bytes a NUL away. */
	{
		const char ok[] = "{\"t\":[\"\",{\"k\":\"\"}],\"@attach\":"
		    "[[2,\"t\",1,\"k\"],[1,\"t\",0]]}\0abc";
		struct frame_decoder d;
		unsigned char hdr[FRAME_HEADER_SIZE];
		json_t *m, *want = json_pack("{s:[s,{s:s}]}", "t", "c", "k",
		    "ab");

		frame_decoder_init(&d, 0);
		d.attach = true;
		frame_put_header(hdr, sizeof(ok) - 1);
		assert_int_equal(frame_decoder_feed(&d, hdr, sizeof(hdr)),
		    FRAME_OK);
		assert_int_equal(frame_decoder_feed(&d, ok, sizeof(ok) - 1),
		    FRAME_OK);
		assert_int_equal(frame_decoder_next(&d, &m, NULL), FRAME_OK);
		assert_true(json_equal(m, want));
		json_decref(m);
		json_decref(want);
		frame_decoder_free(&d);
	}
}

/* A frame cut short is awaited, whatever it carries; frame_peek sees the
 * type and final of an attached frame, and says it is attached. */
static void
test_truncated_and_peek(void **state)
{
	struct frame_decoder d;
	struct frame_peek pk;
	unsigned char *buf;
	size_t len;
	json_t *m, *back;

	(void)state;
	m = json_pack("{s:s, s:i, s:b, s:o}", "type", "round", "id", 3,
	    "final", 1, "summary", text(4000));
	buf = encode(m, FRAME_ATTACH_MIN, &len);
	assert_int_equal(frame_peek(buf + FRAME_HEADER_SIZE,
	    len - FRAME_HEADER_SIZE, &pk), 0);
	assert_true(pk.attached);
	assert_int_equal(pk.type_len, 5);
	assert_memory_equal(pk.type, "round", 5);
	assert_int_equal(pk.final, 1);

	frame_decoder_init(&d, 0);
	d.attach = true;
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(frame_decoder_feed(&d, buf + i, 1), FRAME_OK);
		if (i + 1 < len)
			assert_int_equal(frame_decoder_next(&d, &back, NULL),
			    FRAME_NEED_MORE);
	}
	assert_int_equal(frame_decoder_next(&d, &back, NULL), FRAME_OK);
	assert_true(json_equal(m, back));
	json_decref(back);
	frame_decoder_free(&d);
	free(buf);
	json_decref(m);
}

/* ------------------------------------------------------------ random */

static json_t *
rand_value(uint64_t *r, int depth)
{
	json_t *v;
	size_t n;

	switch (tu_rand(r) % (depth > 0 ? 8 : 5)) {
	case 0:
		return json_integer((json_int_t)tu_rand(r));
	case 1:
		return json_boolean(tu_rand(r) & 1);
	case 2:
		return json_null();
	case 3:
	case 4:
		/* Short or long, around the small threshold used below. */
		return text((size_t)tu_range(r, 0, tu_rand(r) % 4 ? 40 :
		    3000));
	case 5:
	case 6:
		v = json_object();
		for (n = (size_t)tu_range(r, 0, 5); n > 0; n--) {
			char key[16];

			snprintf(key, sizeof(key), "k%u",
			    (unsigned)tu_range(r, 0, 9));
			json_object_set_new(v, key, rand_value(r, depth - 1));
		}
		return v;
	default:
		v = json_array();
		for (n = (size_t)tu_range(r, 0, 5); n > 0; n--)
			json_array_append_new(v, rand_value(r, depth - 1));
		return v;
	}
}

/* Random messages with a threshold of 16 bytes, all in one stream, fed
 * one byte at a time and in random chunks. */
static void
test_random(void **state)
{
	uint64_t r = tu_seed("test_frame_attach_random");
	struct frame_decoder d;
	unsigned char *buf, *all = NULL;
	size_t len, total = 0, off, n, got = 0, nattached = 0;
	json_t *want = json_array(), *m, *back;
	int rc;

	(void)state;
	for (int i = 0; i < 500; i++) {
		m = json_pack("{s:s, s:i, s:o}", "type", "progress", "id", i,
		    "body", rand_value(&r, 4));
		buf = encode(m, 16, &len);
		nattached += attached(buf, len);
		all = realloc(all, total + len);
		assert_non_null(all);
		memcpy(all + total, buf, len);
		total += len;
		free(buf);
		json_array_append_new(want, m);
	}
	assert_true(nattached > 100);
	for (int pass = 0; pass < 2; pass++) {
		frame_decoder_init(&d, 0);
		d.attach = true;
		got = 0;
		for (off = 0; off < total; off += n) {
			n = pass == 0 ? 1 : (size_t)tu_range(&r, 1, 5000);
			if (n > total - off)
				n = total - off;
			assert_int_equal(frame_decoder_feed(&d, all + off, n),
			    FRAME_OK);
			while ((rc = frame_decoder_next(&d, &back, NULL)) ==
			    FRAME_OK) {
				assert_true(json_equal(back, json_array_get(
				    want, got)));
				json_decref(back);
				got++;
			}
			assert_int_equal(rc, FRAME_NEED_MORE);
		}
		assert_int_equal(got, json_array_size(want));
		frame_decoder_free(&d);
	}
	free(all);
	json_decref(want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_shapes),
		cmocka_unit_test(test_message_untouched),
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_not_taken),
		cmocka_unit_test(test_nul_and_bad_utf8),
		cmocka_unit_test(test_own_key),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_lies),
		cmocka_unit_test(test_truncated_and_peek),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
