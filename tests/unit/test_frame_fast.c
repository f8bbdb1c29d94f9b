/*
 * test_frame_fast.c — the frame codec's fast reader and writer
 * (proto/jsonfast.c) against jansson.
 *
 * The reader must be sure of the common shapes and give what jansson
 * gives; it must give up on everything jansson refuses and on the rare
 * forms it leaves to jansson (reals, \u escapes, long integers, deep
 * nesting), so errors stay jansson's.  The writer must give jansson's
 * compact bytes for every kind of value, every character that is escaped,
 * integers at both limits and reals; and refuse what jansson refuses (a
 * string that is not UTF-8) or what passes its limit.
 */
#include "testutil.h"

#include "proto/jsonfast.h"

#define JFLAGS	(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

static json_t *
fast(const char *s)
{
	return jsonfast_load((const unsigned char *)s, strlen(s));
}

/* The fast reader is sure of s, and agrees with jansson. */
static void
sure(const char *s)
{
	json_t *f = fast(s), *j = json_loadb(s, strlen(s), JFLAGS, NULL);

	if (f == NULL)
		fail_msg("not sure of %s", s);
	assert_non_null(j);
	if (!json_equal(f, j))
		fail_msg("differs from jansson: %s", s);
	json_decref(f);
	json_decref(j);
}

/* The fast reader gives up on s (jansson may take it or not). */
static void
unsure(const char *s)
{
	json_t *f = fast(s);

	if (f != NULL)
		fail_msg("sure of %s", s);
}

static void
test_reader_sure(void **state)
{
	(void)state;
	sure("{}");
	sure("[]");
	sure(" \t\r\n{ \"a\" : 1 , \"b\":[ ] } \n");
	sure("{\"type\":\"ping\",\"id\":12345}");
	sure("{\"s\":\"\",\"t\":true,\"f\":false,\"n\":null,\"i\":-0}");
	sure("{\"i\":999999999999999999,\"j\":-999999999999999999}");
	sure("{\"esc\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}");
	sure("{\"\\n key\":\"v\",\"key\":\"\\\\\"}");
	sure("{\"u\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \x7f\"}");
	sure("{\"long\":\"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuv"
	    "wxyz0123456789 abcdefghijklmnopqrstuvwxyz\"}");
	sure("{\"a\":{\"b\":{\"c\":[1,[2,[3,{\"d\":[]}]]]}}}");
	sure("\"top\"");
	sure("42");
	sure("[true,false,null,\"x\",0,-1]");
}

static void
test_reader_unsure(void **state)
{
	char deep[400];

	(void)state;
	/* Malformed: jansson's error. */
	unsure("");
	unsure(" ");
	unsure("{");
	unsure("{\"a\":1,}");
	unsure("[1,]");
	unsure("{\"a\" 1}");
	unsure("{\"a\":1}x");
	unsure("{\"a\":1}{}");
	unsure("{a:1}");
	unsure("{\"a\":tru}");
	unsure("{\"a\":truex}");
	unsure("{\"a\":nul}");
	unsure("{\"a\":01}");
	unsure("{\"a\":-}");
	unsure("{\"a\":+1}");
	unsure("{\"a\":1,\"a\":2}");
	unsure("{\"a\":\"\x01\"}");
	unsure("{\"a\":\"\n\"}");
	unsure("{\"a\":\"\\x\"}");
	unsure("{\"a\":\"\xc3(\"}");
	unsure("{\"a\":\"\xed\xa0\x80\"}");
	unsure("{\"a\":\"\xc0\xaf\"}");
	unsure("{\"a\":\"unterminated}");
	unsure("{\"a\":\"x\\\"}");
	/* Left to jansson: reals, \u, long integers, deep nesting. */
	unsure("{\"a\":1.5}");
	unsure("{\"a\":1e3}");
	unsure("{\"a\":-0.0}");
	unsure("{\"a\":\"\\u0041\"}");
	unsure("{\"a\":\"\\u0000\"}");
	unsure("{\"a\":1234567890123456789}");
	unsure("{\"a\":-9223372036854775809}");
	memset(deep, '[', 200);
	memset(deep + 200, ']', 200);
	deep[sizeof(deep) - 1] = '\0';
	deep[199] = ']';	/* 199 deep */
	deep[399] = '\0';
	unsure(deep);
}

/* jsonfast_dump(v) == json_dumps(v, COMPACT | ENCODE_ANY). */
static void
same_dump(json_t *v)
{
	struct jsonfast_buf b = { .max = SIZE_MAX };
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	assert_non_null(want);
	assert_int_equal(jsonfast_dump(v, &b), 0);
	if (b.len != strlen(want) || memcmp(b.p, want, b.len) != 0)
		fail_msg("dump %.*s, jansson %s", (int)b.len, b.p, want);
	free(b.p);
	free(want);
	json_decref(v);
}

static void
test_writer(void **state)
{
	char all[128];
	struct jsonfast_buf b = { .max = SIZE_MAX };
	json_t *v;

	(void)state;
	/* Every ASCII character, NUL included, in a value and in a key. */
	for (int i = 0; i < 128; i++)
		all[i] = (char)i;
	same_dump(json_stringn(all, sizeof(all)));
	v = json_object();
	json_object_setn_new(v, all, sizeof(all), json_stringn(all + 1, 31));
	json_object_set_new(v, "", json_string(""));
	same_dump(v);
	same_dump(json_string("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \" \\ /"));
	same_dump(json_pack("{s:I, s:I, s:I, s:I}", "max",
	    (json_int_t)INT64_MAX, "min", (json_int_t)INT64_MIN, "zero",
	    (json_int_t)0, "neg", (json_int_t)-42));
	same_dump(json_pack("[f, f, f, f, f]", 0.1, -2.5, 1e300, 3.0,
	    -0.0));
	same_dump(json_pack("{s:b, s:b, s:n, s:[], s:{}, s:[[{}]]}", "t", 1,
	    "f", 0, "n", "a", "o", "d"));
	same_dump(json_pack("{s:s, s:i, s:{s:[s, i]}}", "type", "round",
	    "id", 3, "x", "y", "z", 4));
	same_dump(json_integer(7));

	/* Not UTF-8: refused, as jansson refuses it. */
	v = json_stringn_nocheck("ab\xc3(cd", 6);
	assert_int_equal(jsonfast_dump(v, &b), -1);
	assert_false(b.too_big);
	json_decref(v);
	free(b.p);

	/* Over the limit: refused, and said so. */
	memset(&b, 0, sizeof(b));
	b.max = 10;
	v = json_pack("{s:s}", "text", "0123456789");
	assert_int_equal(jsonfast_dump(v, &b), -1);
	assert_true(b.too_big);
	assert_true(b.len <= 10);
	json_decref(v);
	free(b.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_sure),
		cmocka_unit_test(test_reader_unsure),
		cmocka_unit_test(test_writer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
