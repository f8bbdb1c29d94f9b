/*
 * test_redact.c — the secrets set (common/redact.c): several secrets,
 * occurrences at the start, the end and everywhere, overlapping and
 * touching ones, secrets cut short, short secrets ignored, JSON values redacted in every
 * string and key at any depth, in place and by copy, and random text in
 * which no secret survives.
 */
#include "testutil.h"

#include "common/redact.h"
#include "common/util.h"

#define KEY_A	"sk-test-0123456789abcdef"
#define KEY_B	"anthropic-ghijklmnopqr"

static struct redact *
two_keys(void)
{
	struct redact *r = redact_new();

	redact_add(r, KEY_A);
	redact_add(r, KEY_B);
	return r;
}

static void
expect(const struct redact *r, const char *in, const char *want)
{
	char *out = redact_str(r, in);

	assert_string_equal(out, want);
	free(out);
}

static void
test_several_secrets(void **state)
{
	struct redact *r = two_keys();

	assert_int_equal(redact_count(r), 2);
	expect(r, "nothing here", "nothing here");
	expect(r, "", "");
	expect(r, KEY_A, "[redacted]");
	expect(r, KEY_A " at the start", "[redacted] at the start");
	expect(r, "at the end " KEY_B, "at the end [redacted]");
	expect(r, "key=" KEY_A "\nother=" KEY_B "\nagain " KEY_A ".",
	    "key=[redacted]\nother=[redacted]\nagain [redacted].");
	assert_true(redact_has(r, "x" KEY_B "y", strlen(KEY_B) + 2));
	assert_false(redact_has(r, "sk-test", 7));
	assert_null(redact_str(r, NULL));
	redact_free(r);
}

/* Text cut to a size keeps the beginning or the end of a key: they go,
 * from REDACT_MIN bytes on; shorter pieces, and the middle, stay. */
static void
test_cut_secrets(void **state)
{
	struct redact *r = two_keys();

	expect(r, "out: sk-test-0123456", "out: [redacted]");
	expect(r, "56789abcdef rest", "[redacted] rest");
	expect(r, "x sk-test-01234\n[... 9 bytes omitted ...]\n6789abcdef y",
	    "x [redacted]\n[... 9 bytes omitted ...]\n[redacted] y");
	/* Its first 8 bytes are where a piece begins to count. */
	expect(r, "sk-test- and sk-test", "[redacted] and sk-test");
	expect(r, "9abcdef", "9abcdef");
	/* Cut at both ends: neither its beginning nor its end. */
	expect(r, "test-0123456789abcd", "test-0123456789abcd");
	assert_true(redact_has(r, "z56789abcdef", 12));
	assert_false(redact_has(r, "test-0123456789abcd", 19));
	redact_free(r);
}

static void
test_overlapping(void **state)
{
	struct redact *r = redact_new();

	/* One secret overlapping itself: no 'a' of it is left over. */
	redact_add(r, "aaaaaaaa");
	expect(r, "xaaaaaaaaay", "x[redacted]y");
	/* Touching occurrences are one run. */
	expect(r, "aaaaaaaaaaaaaaaa!", "[redacted]!");
	redact_free(r);

	/* Two secrets sharing bytes: the union goes, both ends of it. */
	r = redact_new();
	redact_add(r, "abcdefgh12");
	redact_add(r, "gh12345678");
	expect(r, "<abcdefgh12345678>", "<[redacted]>");
	expect(r, "abcdefgh12 gh12345678", "[redacted] [redacted]");
	/* One inside the other. */
	redact_add(r, "cdefgh12");
	expect(r, "cdefgh12 abcdefgh12", "[redacted] [redacted]");
	redact_free(r);
}

static void
test_short_and_repeated_ignored(void **state)
{
	struct redact *r = redact_new();

	redact_add(r, NULL);
	redact_add(r, "");
	redact_add(r, "1234567");	/* REDACT_MIN - 1 */
	assert_int_equal(redact_count(r), 0);
	expect(r, "1234567 stays", "1234567 stays");
	redact_add(r, "12345678");
	redact_add(r, "12345678");
	assert_int_equal(redact_count(r), 1);
	expect(r, "1234567 and 12345678", "1234567 and [redacted]");
	redact_free(r);

	/* No set at all redacts nothing. */
	assert_false(redact_has(NULL, "12345678", 8));
	expect(NULL, "12345678", "12345678");
}

static void
test_inplace(void **state)
{
	struct redact *r = two_keys();
	char *s = xstrdup("token " KEY_A " end"), *same;

	assert_true(redact_inplace(r, &s));
	assert_string_equal(s, "token [redacted] end");
	same = s;
	assert_false(redact_inplace(r, &s));
	assert_ptr_equal(s, same);
	free(s);
	s = NULL;
	assert_false(redact_inplace(r, &s));
	redact_free(r);
}

static void
test_json_nested(void **state)
{
	struct redact *r = two_keys();
	json_t *v = tu_json("{\"type\": \"check.result\", \"n\": 3,"
	    " \"ok\": true, \"none\": null,"
	    " \"results\": [{\"output\": \"key=" KEY_A "\\n\","
	    "   \"deep\": [[\"" KEY_B "\"], {\"x\": \"" KEY_A KEY_B "\"}]}],"
	    " \"" KEY_A "\": \"a key as a key\","
	    " \"k-" KEY_B "\": {\"inner\": \"" KEY_B "\"}}");
	json_t *want = tu_json("{\"type\": \"check.result\", \"n\": 3,"
	    " \"ok\": true, \"none\": null,"
	    " \"results\": [{\"output\": \"key=[redacted]\\n\","
	    "   \"deep\": [[\"[redacted]\"], {\"x\": \"[redacted]\"}]}],"
	    " \"[redacted]\": \"a key as a key\","
	    " \"k-[redacted]\": {\"inner\": \"[redacted]\"}}");
	json_t *copy;
	char *text;

	/* By copy: the original is left as it was. */
	copy = redact_json_copy(r, v);
	assert_ptr_not_equal(copy, v);
	assert_true(json_equal(copy, want));
	text = json_dumps(v, JSON_COMPACT);
	assert_non_null(strstr(text, KEY_A));
	free(text);
	json_decref(copy);

	/* In place. */
	assert_true(redact_json(r, v));
	assert_true(json_equal(v, want));
	text = json_dumps(v, JSON_COMPACT);
	assert_null(strstr(text, KEY_A));
	assert_null(strstr(text, KEY_B));
	free(text);
	assert_false(redact_json(r, v));

	/* Nothing to redact: the same value, one more reference. */
	copy = redact_json_copy(r, v);
	assert_ptr_equal(copy, v);
	json_decref(copy);
	json_decref(want);
	json_decref(v);

	/* A bare string, and a string holding a NUL. */
	v = json_string("x" KEY_B);
	assert_true(redact_json(r, v));
	assert_string_equal(json_string_value(v), "x[redacted]");
	json_decref(v);
	v = json_stringn("a\0" KEY_A "b", strlen(KEY_A) + 3);
	assert_true(redact_json(r, v));
	assert_int_equal(json_string_length(v), 2 + strlen("[redacted]") + 1);
	assert_memory_equal(json_string_value(v), "a\0[redacted]b",
	    json_string_length(v));
	json_decref(v);
	redact_free(r);
}

/*
 * Random text over a small alphabet, secrets over the same alphabet (so
 * that partial and overlapping matches are frequent): no secret is left,
 * and text without one is returned unchanged.
 */
static void
test_random_text(void **state)
{
	uint64_t rs = tu_seed("test_random_text");
	char text[256], secret[3][16], *out;
	struct redact *r;
	size_t len, sl, k, n;

	for (int round = 0; round < 2000; round++) {
		r = redact_new();
		n = (size_t)tu_range(&rs, 1, 3);
		for (k = 0; k < n; k++) {
			len = (size_t)tu_range(&rs, REDACT_MIN, 12);
			for (size_t i = 0; i < len; i++)
				secret[k][i] = "ab"[tu_rand(&rs) % 2];
			secret[k][len] = '\0';
			redact_add(r, secret[k]);
		}
		len = (size_t)tu_range(&rs, 0, sizeof(text) - 1);
		for (size_t i = 0; i < len; i++)
			text[i] = "abc"[tu_rand(&rs) % 3];
		text[len] = '\0';
		out = redact_str(r, text);
		/* Neither a whole secret nor its first or last bytes. */
		for (k = 0; k < n; k++) {
			sl = strlen(secret[k]);
			assert_null(strstr(out, secret[k]));
			assert_null(memmem(out, strlen(out), secret[k],
			    REDACT_MIN));
			assert_null(memmem(out, strlen(out), secret[k] + sl -
			    REDACT_MIN, REDACT_MIN));
		}
		if (!redact_has(r, text, len))
			assert_string_equal(out, text);
		free(out);
		redact_free(r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_several_secrets),
		cmocka_unit_test(test_cut_secrets),
		cmocka_unit_test(test_overlapping),
		cmocka_unit_test(test_short_and_repeated_ignored),
		cmocka_unit_test(test_inplace),
		cmocka_unit_test(test_json_nested),
		cmocka_unit_test(test_random_text),
	};

	util_init();
	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
