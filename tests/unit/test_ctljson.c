/*
 * test_ctljson.c — the control socket's JSON conventions: ISO 8601 times
 * written and read (common/isotime.c), the export of an answer
 * (daemon/masterd/ctljson.c: times, tokens_in/tokens_out, documents kept
 * as written, the original untouched) and what a reload says changed
 * (daemon/masterd/confdiff.c: names only, never values).
 */
#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/isotime.h"
#include "daemon/masterd/masterd.h"

static void
test_isotime(void **state)
{
	char iso[ISOTIME_LEN];

	isotime_format(1764742800.0, false, iso);
	assert_string_equal(iso, "2025-12-03T06:20:00Z");
	isotime_format(1764742800.1234, true, iso);
	assert_string_equal(iso, "2025-12-03T06:20:00.123Z");
	/* a millisecond that rounds up carries into the second */
	isotime_format(1764742800.9996, true, iso);
	assert_string_equal(iso, "2025-12-03T06:20:01.000Z");
	assert_true(isotime_parse("2025-12-03T06:20:00Z") == 1764742800.0);
	assert_true(isotime_parse("2025-12-03T06:20:00.5Z") == 1764742800.5);
	assert_true(isotime_parse("2025-12-03T07:20:00+01:00") ==
	    1764742800.0);
	assert_true(isotime_parse("1764742800") == 1764742800.0);
	assert_true(isotime_parse("yesterday") < 0);
	assert_true(isotime_parse("2025-12-03T06:20:00Zjunk") < 0);
}

static void
test_export(void **state)
{
	json_t *in = json_pack("{s:f, s:{s:I, s:I, s:I}, s:{s:f, s:i},"
	    " s:[{s:f, s:{s:I}}], s:{s:I}}",
	    "created", 1764742800.0,
	    "usage", "input", (json_int_t)10, "output", (json_int_t)20,
	    "cached", (json_int_t)5,
	    "spec", "updated", 1764742801.0, "not_before", 0,
	    "rounds", "ts", 1764742802.0, "planner_usage", "input",
	    (json_int_t)7,
	    "document", "created", (json_int_t)3), *out;

	assert_non_null(in);
	json_incref(in);
	out = ctljson_export(in);
	assert_string_equal(json_string_value(json_object_get(out, "created")),
	    "2025-12-03T06:20:00.000Z");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    out, "usage"), "tokens_in")), 10);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    out, "usage"), "tokens_out")), 20);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    out, "usage"), "tokens_cached")), 5);
	assert_null(json_object_get(json_object_get(out, "usage"), "input"));
	/* 0 stands for none */
	assert_true(json_is_null(json_object_get(json_object_get(out, "spec"),
	    "not_before")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    out, "spec"), "updated")), "2025-12-03T06:20:01.000Z");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    json_array_get(json_object_get(out, "rounds"), 0),
	    "planner_usage"), "tokens_in")), 7);
	/* a document is what a model wrote: as it is */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    out, "document"), "created")), 3);
	/* the daemon's own value is untouched */
	assert_true(json_is_real(json_object_get(in, "created")));
	assert_non_null(json_object_get(json_object_get(in, "usage"),
	    "input"));
	json_decref(in);
	json_decref(out);
	/* a question's deadline is a time too (task_ask.c) */
	in = json_pack("{s:[{s:f}]}", "asks", "deadline", 1764742803.0);
	json_incref(in);
	out = ctljson_export(in);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(out, "asks"), 0), "deadline")),
	    "2025-12-03T06:20:03.000Z");
	json_decref(in);
	json_decref(out);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_confdiff(void **state)
{
	char a[] = "/tmp/test_ctljson.a.XXXXXX", b[] =
	    "/tmp/test_ctljson.b.XXXXXX";
	json_t *d;
	char *text;

	close(mkstemp(a));
	close(mkstemp(b));
	write_file(a, "[masterd]\nlog_level = debug\n# a comment\n"
	    "[llm]\nmodel = m1\nkey_env = SECRET_ONE\n");
	write_file(b, "[masterd]\nlog_level = debug\n\n"
	    "[llm]\nmodel   =   m2\nkey_env = SECRET_ONE\n[task]\n"
	    "max_rounds = 9\n");
	d = confdiff_files(a, b);
	text = json_dumps(d, JSON_COMPACT);
	assert_string_equal(text, "[\"llm.model\",\"task.max_rounds\"]");
	free(text);
	json_decref(d);
	/* the values never show */
	d = confdiff_files(b, a);
	text = json_dumps(d, JSON_COMPACT);
	assert_null(strstr(text, "m1"));
	assert_null(strstr(text, "SECRET"));
	free(text);
	json_decref(d);
	d = confdiff_files(NULL, NULL);
	assert_int_equal(json_array_size(d), 0);
	json_decref(d);
	unlink(a);
	unlink(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_isotime),
		cmocka_unit_test(test_export),
		cmocka_unit_test(test_confdiff),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
