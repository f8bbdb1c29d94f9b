/*
 * test_shape.c — the table-driven shape checker (common/shape.c).
 *
 * A small nested spec (an object with an array of objects, an enumerated
 * string, bounded strings, integers and arrays, an opaque value bounded in
 * depth) checked against good and bad values, each refusal with its exact
 * message and path; type names; closed objects and null-as-absent; and
 * errors that stay valid UTF-8 when they quote input or are cut short.
 */
#include "testutil.h"

#include <jansson.h>

#include "common/shape.h"

static const char *const colours[] = { "red", "green", "blue", NULL };

static const struct shape_field a_tag = {
	.types = FT_STRING, .min_len = 1, .max_len = 8
};
static const struct shape_field item_fields[] = {
	{ .name = "name", .types = FT_STRING, .required = true,
	    .min_len = 1, .max_len = 16 },
	{ .name = "colour", .types = FT_STRING, .values = colours,
	    .noun = "a colour" },
	{ .name = "size", .types = FT_INTEGER, .ranged = true, .min = 1,
	    .max = 10 },
	{ .name = "tags", .types = FT_ARRAY, .max_items = 3, .items = &a_tag },
	{ .name = "owner", .absent_why = "set by the server" },
	{ .name = "extra", .types = FT_ANY, .flags = SHAPE_UNLISTED },
	{ .name = NULL }
};
static const struct shape_field an_item = {
	.types = FT_OBJECT, .flags = SHAPE_CLOSED | SHAPE_NULL_ABSENT,
	.members = item_fields
};
static const struct shape_field doc_fields[] = {
	{ .name = "title", .types = FT_STRING, .required = true,
	    .when_missing = "(name the list)" },
	{ .name = "items", .types = FT_ARRAY, .min_items = 1, .max_items = 4,
	    .over = "; split the list", .items = &an_item },
	{ .name = "data", .types = FT_OBJECT | FT_ARRAY, .max_depth = 2 },
	{ .name = "when", .types = FT_STRING | FT_NULL },
	{ .name = NULL }
};
static const struct shape_field doc = {
	.types = FT_OBJECT, .members = doc_fields
};

static json_t *
load(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);

	if (v == NULL)
		fail_msg("test JSON does not parse: %s: %s", e.text, text);
	return v;
}

static void
expect_ok(const struct shape_field *spec, const char *text)
{
	json_t *v = load(text);
	char err[256] = "x";

	if (shape_check(v, spec, err, sizeof(err)) != 0)
		fail_msg("refused %s: %s", text, err);
	assert_string_equal(err, "");
	json_decref(v);
}

static void
expect_err(const struct shape_field *spec, const char *text,
    const char *want)
{
	json_t *v = load(text);
	char err[256] = "";

	if (shape_check(v, spec, err, sizeof(err)) != -1)
		fail_msg("accepted %s, wanted \"%s\"", text, want);
	if (strcmp(err, want) != 0)
		fail_msg("%s: error \"%s\", wanted \"%s\"", text, err, want);
	json_decref(v);
}

static void
test_good(void **state)
{
	expect_ok(&doc, "{\"title\": \"t\"}");
	expect_ok(&doc, "{\"title\": \"t\", \"items\": [{\"name\": \"a\", "
	    "\"colour\": \"red\", \"size\": 10, \"tags\": [\"x\", \"y\"], "
	    "\"extra\": [1, {\"deep\": [[[]]]}]}], \"data\": {\"a\": [1]}, "
	    "\"when\": null, \"unknown\": 1}");
	/* null is absent in a NULL_ABSENT object. */
	expect_ok(&doc, "{\"title\": \"t\", \"items\": [{\"name\": \"a\", "
	    "\"colour\": null, \"owner\": null}]}");
}

static void
test_missing_and_types(void **state)
{
	expect_err(&doc, "{}", "title: missing (name the list)");
	/* Not NULL_ABSENT: null is a value of the wrong type. */
	expect_err(&doc, "{\"title\": null}",
	    "title: must be a string, not null");
	expect_err(&doc, "{\"title\": \"t\", \"when\": 3}",
	    "when: must be a string or null, not a number");
	expect_err(&doc, "{\"title\": \"t\", \"data\": \"x\"}",
	    "data: must be an object or an array, not a string");
	expect_err(&doc, "{\"title\": \"t\", \"items\": {}}",
	    "items: must be an array of objects, not an object");
	expect_err(&doc, "[]", "must be an object, not an array");
}

static void
test_nested_errors(void **state)
{
	expect_err(&doc, "{\"title\": \"t\", \"items\": [{\"name\": \"a\"}, "
	    "{}]}", "items[1].name: missing");
	expect_err(&doc, "{\"title\": \"t\", \"items\": [{\"name\": \"a\"}, "
	    "7]}", "items[1]: must be an object, not a number");
	expect_err(&doc, "{\"title\": \"t\", \"items\": [{\"name\": \"a\", "
	    "\"tags\": [\"x\", 2]}]}",
	    "items[0].tags[1]: must be a string, not a number");
	expect_err(&doc, "{\"title\": \"t\", \"items\": [{\"name\": \"a\", "
	    "\"size\": 1.5}]}",
	    "items[0].size: must be an integer, not a real number");
	/* Closed: unknown members are named with the expected ones (not
	 * the unlisted one, nor the one that must be absent). */
	expect_err(&doc, "{\"title\": \"t\", \"items\": [{\"name\": \"a\", "
	    "\"nmae\": \"b\"}]}", "items[0].nmae: unknown field (expected "
	    "name, colour, size, tags)");
	expect_err(&doc, "{\"title\": \"t\", \"items\": [{\"name\": \"a\", "
	    "\"a \\\"b\\\"\": 1}]}", "items[0].\"a \\\"b\\\"\": unknown field "
	    "(expected name, colour, size, tags)");
	expect_err(&doc, "{\"title\": \"t\", \"items\": [{\"name\": \"a\", "
	    "\"owner\": \"me\"}]}", "items[0].owner: set by the server");
	/* A named root prefixes every path. */
	expect_err(&(struct shape_field){ .name = "list", .types = FT_OBJECT,
	    .members = doc_fields }, "{\"title\": 1}",
	    "list.title: must be a string, not a number");
}

static void
test_bounds(void **state)
{
	expect_err(&doc, "{\"title\": \"t\", \"items\": []}",
	    "items: 0 entries, at least 1");
	expect_err(&doc, "{\"title\": \"t\", \"items\": [{\"name\": \"a\"}, "
	    "{\"name\": \"b\"}, {\"name\": \"c\"}, {\"name\": \"d\"}, "
	    "{\"name\": \"e\"}]}", "items: 5 entries, at most 4; split the "
	    "list");
	expect_err(&doc, "{\"title\": \"t\", \"items\": [{\"name\": \"\"}]}",
	    "items[0].name: empty");
	expect_ok(&doc, "{\"title\": \"t\", \"items\": [{\"name\": "
	    "\"0123456789abcdef\"}]}");
	expect_err(&doc, "{\"title\": \"t\", \"items\": [{\"name\": "
	    "\"0123456789abcdefg\"}]}", "items[0].name: 17 bytes, at most 16");
	expect_err(&doc, "{\"title\": \"t\", \"items\": [{\"name\": \"a\", "
	    "\"size\": 0}]}", "items[0].size: 0, at least 1");
	expect_err(&doc, "{\"title\": \"t\", \"items\": [{\"name\": \"a\", "
	    "\"size\": 11}]}", "items[0].size: 11, at most 10");
	expect_err(&doc, "{\"title\": \"t\", \"items\": [{\"name\": \"a\", "
	    "\"tags\": [\"a\", \"b\", \"c\", \"d\"]}]}",
	    "items[0].tags: 4 entries, at most 3");
	expect_err(&doc, "{\"title\": \"t\", \"items\": [{\"name\": \"a\", "
	    "\"colour\": \"pink\"}]}", "items[0].colour: \"pink\" is not a "
	    "colour (red, green, blue)");
	/* Enumerations compare whole strings, NUL bytes included. */
	expect_err(&doc, "{\"title\": \"t\", \"items\": [{\"name\": \"a\", "
	    "\"colour\": \"red\\u0000x\"}]}", "items[0].colour: \"red?x\" is "
	    "not a colour (red, green, blue)");
	expect_err(&(struct shape_field){ .types = FT_STRING,
	    .values = colours }, "\"Red\"",
	    "\"Red\" is not one of red, green, blue");
}

static void
test_depth(void **state)
{
	expect_ok(&doc, "{\"title\": \"t\", \"data\": {\"a\": [1, 2]}}");
	expect_ok(&doc, "{\"title\": \"t\", \"data\": [[]]}");
	expect_err(&doc, "{\"title\": \"t\", \"data\": {\"a\": [[1]]}}",
	    "data: nested more than 2 deep");
	expect_err(&doc, "{\"title\": \"t\", \"data\": [[{}]]}",
	    "data: nested more than 2 deep");
}

/* Errors quote input and may be cut: they stay valid UTF-8. */
static void
test_utf8(void **state)
{
	json_t *v, *s;
	char err[256];
	size_t n;

	/* A long value is quoted up to a character boundary. */
	v = load("{\"title\": \"t\", \"items\": [{\"name\": \"a\", \"colour\": "
	    "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\"}]}");
	assert_int_equal(shape_check(v, &doc, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "\xc3\xa9\"..."));
	assert_non_null(s = json_string(err));
	json_decref(s);
	/* Cut at every length, the error is still UTF-8. */
	for (n = 1; n < 64; n++) {
		assert_int_equal(shape_check(v, &doc, err, n), -1);
		assert_true(strlen(err) < n);
		if ((s = json_string(err)) == NULL)
			fail_msg("cut at %zu: not UTF-8: %s", n, err);
		json_decref(s);
	}
	/* No buffer: still refused. */
	assert_int_equal(shape_check(v, &doc, NULL, 0), -1);
	json_decref(v);

	/* A non-ASCII key is quoted whole in the path. */
	expect_err(&doc, "{\"title\": \"t\", \"items\": [{\"name\": \"a\", "
	    "\"n\xc3\xa4me\": 1}]}", "items[0].\"n\xc3\xa4me\": unknown "
	    "field (expected name, colour, size, tags)");

	/* shape_error repairs what it is given. */
	assert_int_equal(shape_error(err, sizeof(err), "bad \xff byte %s",
	    "\xe2\x82"), -1);
	assert_string_equal(err, "bad ? byte ??");
	assert_int_equal(shape_error(err, 6, "abcd\xc3\xa9"), -1);
	assert_string_equal(err, "abcd");
}

static void
test_names(void **state)
{
	char buf[64];

	assert_string_equal(shape_types_name(&(struct shape_field){
	    .types = FT_NUMBER }, buf, sizeof(buf)), "a number");
	assert_string_equal(shape_types_name(&(struct shape_field){
	    .types = FT_BOOL }, buf, sizeof(buf)), "true or false");
	assert_string_equal(shape_types_name(&(struct shape_field){
	    .types = FT_NUMBER | FT_NULL }, buf, sizeof(buf)),
	    "a number or null");
	assert_string_equal(shape_types_name(&(struct shape_field){
	    .types = FT_ARRAY, .items = &a_tag }, buf, sizeof(buf)),
	    "an array of strings");
	assert_string_equal(shape_types_name(&(struct shape_field){
	    .types = FT_ARRAY, .what = "a list" }, buf, sizeof(buf)),
	    "a list");
	assert_string_equal(shape_quote(buf, "a\"b\\c\n", 6),
	    "\"a\\\"b\\\\c?\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_missing_and_types),
		cmocka_unit_test(test_nested_errors),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_names),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
