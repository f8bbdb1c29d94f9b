/*
 * test_answer.c — a domain model's answers and the critic's verdicts
 * (child/worker/answer.c).
 *
 * Extraction: the whole text, a ```json block with prose around it, the
 * last of two blocks, bare {...} in prose, a reply cut short, and replies
 * with no JSON at all.  Validation: every rule with its exact message,
 * the hostile paths a model writes ("../x", "/etc/x", ".git/config", ...),
 * a full valid answer, the nulls of structured-output modes; verdicts;
 * and the JSON schemas against what the validator accepts.
 */
#include "testutil.h"

#include <jansson.h>

#include "child/worker/answer.h"
#include "common/iface.h"

/* ------------------------------------------------------------ helpers */

static void
expect_ok(const char *text, struct answer *a)
{
	char err[512] = "";

	if (answer_parse(text, "logic", a, err, sizeof(err)) != 0)
		fail_msg("refused: %s\n--- text:\n%s", err, text);
	assert_string_equal(err, "");
}

static void
expect_err(const char *text, const char *want)
{
	struct answer a;
	char err[512] = "";

	memset(&a, 0xa5, sizeof(a));
	if (answer_parse(text, "logic", &a, err, sizeof(err)) != -1)
		fail_msg("accepted, wanted \"%s\"\n--- text:\n%s", want, text);
	if (strcmp(err, want) != 0)
		fail_msg("error \"%s\",\nwanted \"%s\"", err, want);
	/* A failed parse leaves nothing to free. */
	assert_null(a.summary);
	assert_null(a.files);
	assert_int_equal(a.nfiles, 0);
	assert_null(a.interface);
	assert_null(a.checks);
	assert_int_equal(a.nchecks, 0);
}

/* Refused with an error that starts with want. */
static void
expect_err_prefix(const char *text, const char *want)
{
	struct answer a;
	char err[512] = "";

	if (answer_parse(text, "logic", &a, err, sizeof(err)) != -1)
		fail_msg("accepted, wanted \"%s...\"", want);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error \"%s\",\nwanted \"%s...\"", err, want);
}

/* An answer whose files[0] is the JSON object text `file`. */
static void
expect_file_err(const char *file, const char *want)
{
	char text[1024];

	snprintf(text, sizeof(text), "{\"summary\": \"s\", \"files\": [%s]}",
	    file);
	expect_err(text, want);
}

static void
expect_path_err(const char *path_json, const char *want)
{
	char file[512];

	snprintf(file, sizeof(file), "{\"path\": %s, \"content\": \"x\"}",
	    path_json);
	expect_file_err(file, want);
}

/* A summary-only answer wrapped in text; its summary must be `want`. */
static void
expect_summary(const char *text, const char *want)
{
	struct answer a;

	expect_ok(text, &a);
	assert_string_equal(a.summary, want);
	answer_free(&a);
}

/* ------------------------------------------------------------ extraction */

static void
test_extract_plain(void **state)
{
	expect_summary("{\"summary\": \"plain\"}", "plain");
	expect_summary("\n\n  {\"summary\": \"spaced\"}  \n", "spaced");
}

static void
test_extract_fenced(void **state)
{
	expect_summary("Here is my answer:\n\n```json\n{\"summary\": "
	    "\"fenced\"}\n```\n\nLet me know if you need more.", "fenced");
	/* A bare fence, upper-case info, indentation, a longer fence. */
	expect_summary("Answer:\n```\n{\"summary\": \"bare\"}\n```\n", "bare");
	expect_summary("```JSON\n{\"summary\": \"upper\"}\n```", "upper");
	expect_summary("1. the answer:\n   ```json\n   {\"summary\": "
	    "\"indented\"}\n   ```\n", "indented");
	expect_summary("````json\n{\"summary\": \"four\"}\n```\n````\n",
	    "four");
	/* Other languages are not the answer, even when they parse. */
	expect_summary("```json\n{\"summary\": \"json\"}\n```\n```python\n"
	    "{\"summary\": \"python\"}\n```\n", "json");
	/* Fences inside file contents are inside JSON strings. */
	expect_summary("```json\n{\"summary\": \"readme\", \"files\": "
	    "[{\"path\": \"README.md\", \"content\": \"```sh\\nmake\\n```\\n\""
	    "}]}\n```\n", "readme");
	/* A reply cut short after a complete object. */
	expect_summary("```json\n{\"summary\": \"cut\"}\n", "cut");
}

static void
test_extract_last_block(void **state)
{
	expect_summary("First attempt:\n```json\n{\"summary\": \"first\"}\n"
	    "```\nCorrected:\n```json\n{\"summary\": \"second\"}\n```\n",
	    "second");
	/* The last block that parses. */
	expect_summary("```json\n{\"summary\": \"good\"}\n```\nand\n```json\n"
	    "{\"summary\": \"broken\",\n```\n", "good");
}

static void
test_extract_bare(void **state)
{
	expect_summary("Sure! {\"summary\": \"in prose\", \"files\": []} "
	    "Hope it helps.", "in prose");
	/* Prose braces around it, strings with braces inside it. */
	expect_summary("I replaced {placeholder} with:\n{\"summary\": "
	    "\"braces } { in strings\"}\nand left {this} alone.",
	    "braces } { in strings");
	/* A stray brace before the object, and quotes in the prose. */
	expect_summary("Use a { here, \"quoted\" words, then {\"summary\": "
	    "\"after stray\"}", "after stray");
	/* Two objects: the last that parses. */
	expect_summary("{\"summary\": \"one\"} or {\"summary\": \"two\"}",
	    "two");
	/* Whole text that starts like JSON but has a tail. */
	expect_summary("{\"summary\": \"tail\"}\nThat's all.", "tail");
}

static void
test_extract_none(void **state)
{
	expect_err("I could not do it, sorry.",
	    "the answer is not JSON: no JSON object found in the text");
	expect_err("", "the answer is empty: no JSON object found in the "
	    "text");
	expect_err(" \n\t", "the answer is empty: no JSON object found in "
	    "the text");
	expect_err(NULL, "the answer is empty: no JSON object found in the "
	    "text");
	/* Broken JSON: the parser's words, where. */
	expect_err("{\"summary\": \"x\",}",
	    "the answer is not JSON: line 1, column 17: string or '}' "
	    "expected near '}'");
	expect_err_prefix("Here:\n\n```json\n{\"summary\": \"x\"\n\"files\": "
	    "[]}\n```\n", "the answer is not JSON: the fenced block at line 3 "
	    "does not parse: line 5, column ");
	expect_err_prefix("So {\"summary\": \"x\" \"files\": []} it is.",
	    "the answer is not JSON: the {...} at line 1 does not parse: "
	    "line 1, column ");
	/* JSON, but not an object. */
	expect_err("[{\"summary\": \"x\"}]",
	    "the answer must be a JSON object, not an array");
}

/* ------------------------------------------------------------ validation */

/* Questions for the user, kept for the round's report. */
static void
test_questions(void **state)
{
	struct answer a;

	(void)state;
	expect_ok("{\"summary\": \"s\", \"questions\": [{\"text\": \"Floats?\","
	    " \"assumption\": \"integers\"}]}", &a);
	assert_int_equal(json_array_size(a.questions), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    a.questions, 0), "assumption")), "integers");
	answer_free(&a);
	expect_ok("{\"summary\": \"s\"}", &a);
	assert_null(a.questions);
	answer_free(&a);
	expect_err("{\"summary\": \"s\", \"questions\": [{\"assumption\": "
	    "\"x\"}]}", "questions[0].text: missing");
}

static void
test_top_level(void **state)
{
	char *big, *text;

	expect_err("{\"summary\": \"s\", \"file\": []}", "file: unknown "
	    "field (expected summary, files, interface, checks, questions)");
	expect_err("{\"summary\": \"s\", \"the files\": []}", "\"the files\": "
	    "unknown field (expected summary, files, interface, checks, "
	    "questions)");
	expect_err("{\"files\": []}", "summary: missing (say what changed and "
	    "why)");
	expect_err("{\"summary\": null}", "summary: missing (say what changed "
	    "and why)");
	expect_err("{\"summary\": 3}", "summary: must be a string, not a "
	    "number");
	expect_err("{\"summary\": \"\"}", "summary: empty");

	big = malloc(4097 + 1);
	assert_non_null(big);
	memset(big, 's', 4097);
	big[4097] = '\0';
	text = malloc(4200);
	assert_non_null(text);
	snprintf(text, 4200, "{\"summary\": \"%s\"}", big);
	expect_err(text, "summary: 4097 bytes, at most 4096");
	big[4096] = '\0';
	snprintf(text, 4200, "{\"summary\": \"%s\"}", big);
	expect_summary(text, big);
	free(text);
	free(big);
}

#define MISSING_TEXT "files[0]: missing \"content\" (the whole new " \
	"file), \"edits\" ([{\"old\", \"new\"}]) or \"delete\": true"
#define SEVERAL_TEXT "files[0]: give one of \"content\", \"edits\" " \
	"or \"delete\": true, not several"

static void
test_files_shape(void **state)
{
	expect_err("{\"summary\": \"s\", \"files\": {}}",
	    "files: must be an array, not an object");
	expect_file_err("\"a.txt\"", "files[0]: must be an object {\"path\", "
	    "\"content\"}, {\"path\", \"edits\"} or {\"path\", \"delete\": "
	    "true}, not a string");
	expect_file_err("{\"path\": \"a\", \"content\": \"x\", \"mode\": 420}",
	    "files[0].mode: unknown field (expected path, content, delete, "
	    "edits)");
	expect_file_err("{\"content\": \"x\"}", "files[0].path: missing");
	expect_file_err("{\"path\": 1, \"content\": \"x\"}",
	    "files[0].path: must be a string, not a number");
	expect_file_err("{\"path\": \"a\"}", MISSING_TEXT);
	expect_file_err("{\"path\": \"a\", \"content\": null, \"delete\": "
	    "null}", MISSING_TEXT);
	expect_file_err("{\"path\": \"a\", \"delete\": false}",
	    MISSING_TEXT);
	expect_file_err("{\"path\": \"a\", \"content\": \"x\", \"delete\": "
	    "true}", SEVERAL_TEXT);
	expect_file_err("{\"path\": \"a\", \"delete\": \"yes\"}",
	    "files[0].delete: must be true or false, not a string");
	expect_file_err("{\"path\": \"a\", \"content\": 5}",
	    "files[0].content: must be a string, not a number");
	expect_file_err("{\"path\": \"a\", \"content\": [\"line\"]}",
	    "files[0].content: must be a string, not an array");
	/* The index is the entry's. */
	expect_err("{\"summary\": \"s\", \"files\": [{\"path\": \"a\", "
	    "\"content\": \"\"}, {\"path\": \"../b\", \"content\": \"\"}]}",
	    "files[1].path: path contains \"..\"");
}

static void
test_hostile_paths(void **state)
{
	expect_path_err("\"../x\"", "files[0].path: path contains \"..\"");
	expect_path_err("\"/etc/x\"", "files[0].path: absolute path");
	expect_path_err("\".git/config\"", "files[0].path: path leads into "
	    ".git");
	expect_path_err("\"src/.GIT/hooks/pre-commit\"", "files[0].path: path "
	    "leads into .git");
	expect_path_err("\"a/../../x\"", "files[0].path: path contains "
	    "\"..\"");
	expect_path_err("\"a/..\"", "files[0].path: path contains \"..\"");
	expect_path_err("\"x\\\\y\"", "files[0].path: backslash in path");
	expect_path_err("\"..\\\\x\"", "files[0].path: backslash in path");
	expect_path_err("\"\"", "files[0].path: empty path");
	expect_path_err("\"./\"", "files[0].path: path names the root itself");
	expect_path_err("\"a\\nb\"", "files[0].path: control character in "
	    "path");
	expect_path_err("\"a\\u001bb\"", "files[0].path: control character "
	    "in path");
}

static void
test_paths_normalised(void **state)
{
	struct answer a;

	expect_ok("{\"summary\": \"s\", \"files\": ["
	    "{\"path\": \"./src//app.py\", \"content\": \"print(1)\\n\"},"
	    "{\"path\": \"-rf\", \"content\": \"\"},"
	    "{\"path\": \"a/.gitignore\", \"content\": \"*.o\\n\"}]}", &a);
	assert_int_equal(a.nfiles, 3);
	assert_string_equal(a.files[0].path, "src/app.py");
	/* Names beginning with '-' are names. */
	assert_string_equal(a.files[1].path, "-rf");
	assert_int_equal(a.files[1].len, 0);
	assert_non_null(a.files[1].content);
	assert_string_equal(a.files[2].path, "a/.gitignore");
	answer_free(&a);
}

static void
test_paths_conflict(void **state)
{
	struct answer a;

	/* Duplicates are found after normalisation. */
	expect_err("{\"summary\": \"s\", \"files\": ["
	    "{\"path\": \"src/a.c\", \"content\": \"1\"},"
	    "{\"path\": \"b.c\", \"content\": \"2\"},"
	    "{\"path\": \"./src//a.c\", \"delete\": true}]}",
	    "files[2].path: \"src/a.c\" appears twice (also files[0])");
	/* A file where another entry needs a directory. */
	expect_err("{\"summary\": \"s\", \"files\": ["
	    "{\"path\": \"src/x/y.c\", \"content\": \"1\"},"
	    "{\"path\": \"src/x\", \"content\": \"2\"}]}",
	    "files[1].path: \"src/x\" and files[0] \"src/x/y.c\" cannot both "
	    "exist: one is a file, the other needs it as a directory");
	/* Deleting a file to make a directory of its name is fine. */
	expect_ok("{\"summary\": \"s\", \"files\": ["
	    "{\"path\": \"src/x\", \"delete\": true},"
	    "{\"path\": \"src/x/y.c\", \"content\": \"1\"},"
	    "{\"path\": \"src/xy\", \"content\": \"2\"}]}", &a);
	answer_free(&a);
}

static char *
many_files(size_t n, size_t each)
{
	size_t cap = n * (each + 64) + 64, o;
	char *t = malloc(cap);

	assert_non_null(t);
	o = (size_t)snprintf(t, cap, "{\"summary\": \"s\", \"files\": [");
	for (size_t i = 0; i < n; i++) {
		o += (size_t)snprintf(t + o, cap - o, "%s{\"path\": \"f%zu\", "
		    "\"content\": \"", i ? "," : "", i);
		memset(t + o, 'c', each);
		o += each;
		o += (size_t)snprintf(t + o, cap - o, "\"}");
	}
	snprintf(t + o, cap - o, "]}");
	return t;
}

static void
test_files_limits(void **state)
{
	struct answer a;
	char *t;

	t = many_files(200, 1);
	expect_ok(t, &a);
	assert_int_equal(a.nfiles, 200);
	answer_free(&a);
	free(t);
	t = many_files(201, 1);
	expect_err(t, "files: 201 entries, at most 200; split the work over "
	    "several answers");
	free(t);

	t = many_files(1, 1024 * 1024);
	expect_ok(t, &a);
	assert_int_equal(a.files[0].len, 1024 * 1024);
	answer_free(&a);
	free(t);
	t = many_files(1, 1024 * 1024 + 1);
	expect_err(t, "files[0].content: 1048577 bytes, at most 1048576 per "
	    "file");
	free(t);

	/* 8 MiB in all: eight full files pass, a ninth byte does not. */
	t = many_files(8, 1024 * 1024);
	expect_ok(t, &a);
	answer_free(&a);
	free(t);
	t = many_files(9, 1024 * 1024);
	expect_err(t, "files[8].content: the files' contents exceed 8388608 "
	    "bytes in all; split the work over several answers");
	free(t);
}

static void
test_interface_member(void **state)
{
	expect_err("{\"summary\": \"s\", \"interface\": []}", "interface: "
	    "must be an object (the interface document), not an array");
	expect_err("{\"summary\": \"s\", \"interface\": {\"domain\": "
	    "\"database\"}}", "interface.domain: \"database\", but the "
	    "document is published by \"logic\"");
	expect_err("{\"summary\": \"s\", \"interface\": {\"domain\": "
	    "\"logic\", \"provides\": [{\"kind\": \"http\", \"name\": \"\"}]}}",
	    "interface.provides[0].name: empty");
	expect_err("{\"summary\": \"s\", \"interface\": {\"domain\": "
	    "\"logic\", \"provide\": []}}", "interface.provide: unknown "
	    "field (expected domain, summary, provides, consumes)");
	expect_err("{\"summary\": \"s\", \"interface\": {\"domain\": "
	    "\"logic\", \"consumes\": [{\"kind\": \"table\", \"name\": \"t\", "
	    "\"from\": \"logic\"}]}}", "interface.consumes[0].from: "
	    "\"logic\" is the publishing domain itself (list only what "
	    "other domains provide)");
}

static void
test_checks(void **state)
{
	char text[4096], big[1100];
	struct answer a;

	expect_err("{\"summary\": \"s\", \"checks\": \"make test\"}",
	    "checks: must be an array of strings, not a string");
	expect_err("{\"summary\": \"s\", \"checks\": [\"make\", 1]}",
	    "checks[1]: must be a string, not a number");
	expect_err("{\"summary\": \"s\", \"checks\": [\"\"]}",
	    "checks[0]: empty");
	expect_err("{\"summary\": \"s\", \"checks\": [\"make\\nrm -rf /\"]}",
	    "checks[0]: control character (a check is one command line)");
	memset(big, 'm', 1025);
	big[1025] = '\0';
	snprintf(text, sizeof(text), "{\"summary\": \"s\", \"checks\": "
	    "[\"%s\"]}", big);
	expect_err(text, "checks[0]: 1025 bytes, at most 1024");
	big[1024] = '\0';
	snprintf(text, sizeof(text), "{\"summary\": \"s\", \"checks\": "
	    "[\"%s\"]}", big);
	expect_ok(text, &a);
	answer_free(&a);

	/* 21 checks. */
	snprintf(text, sizeof(text), "{\"summary\": \"s\", \"checks\": "
	    "[\"c\"%s%s]}", ", \"c\", \"c\", \"c\", \"c\", \"c\", \"c\", "
	    "\"c\", \"c\", \"c\", \"c\"", ", \"c\", \"c\", \"c\", \"c\", "
	    "\"c\", \"c\", \"c\", \"c\", \"c\", \"c\"");
	expect_err(text, "checks: 21 entries, at most 20");
}

/* ------------------------------------------------------------ edits */

static void
test_edits(void **state)
{
	struct answer a;
	char err[256];
	json_t *doc;

	expect_ok("{\"summary\": \"s\", \"files\": [{\"path\": "
	    "\"./src//a.py\", \"edits\": [{\"old\": \"x = 1\", \"new\": \"x = 2\"}, {\"old\": "
	    "\"def f():\\n\", \"new\": \"\"}]}, {\"path\": \"b\", \"content\": "
	    "\"B\"}]}", &a);
	assert_int_equal(a.nfiles, 2);
	assert_string_equal(a.files[0].path, "src/a.py");
	assert_null(a.files[0].content);
	assert_false(a.files[0].delete);
	assert_int_equal(a.files[0].nedits, 2);
	assert_string_equal(a.files[0].edits[0].old, "x = 1");
	assert_string_equal(a.files[0].edits[0].new, "x = 2");
	assert_string_equal(a.files[0].edits[1].old, "def f():\n");
	assert_string_equal(a.files[0].edits[1].new, "");
	assert_null(a.files[1].edits);
	assert_int_equal(a.files[1].nedits, 0);
	answer_free(&a);

	/* What a strict mode sends: every member, null for none. */
	expect_ok("{\"summary\": \"s\", \"files\": [{\"path\": \"a\", "
	    "\"content\": null, \"edits\": [{\"old\": \"o\", \"new\": \"n\"}], "
	    "\"delete\": null}, {\"path\": \"b\", \"content\": \"x\", "
	    "\"edits\": null, \"delete\": null}], \"interface\": null, "
	    "\"checks\": null}", &a);
	assert_int_equal(a.files[0].nedits, 1);
	assert_string_equal(a.files[1].content, "x");
	answer_free(&a);

	expect_file_err("{\"path\": \"a\", \"content\": \"x\", \"edits\": "
	    "[{\"old\": \"o\", \"new\": \"n\"}]}", SEVERAL_TEXT);
	expect_file_err("{\"path\": \"a\", \"delete\": true, \"edits\": "
	    "[{\"old\": \"o\", \"new\": \"n\"}]}", SEVERAL_TEXT);
	expect_file_err("{\"path\": \"a\", \"edits\": []}",
	    "files[0].edits: 0 entries, at least 1");
	expect_file_err("{\"path\": \"a\", \"edits\": {}}",
	    "files[0].edits: must be an array, not an object");
	expect_file_err("{\"path\": \"a\", \"edits\": [\"x\"]}",
	    "files[0].edits[0]: must be an object {\"old\", \"new\"}, not a "
	    "string");
	expect_file_err("{\"path\": \"a\", \"edits\": [{\"old\": \"\", "
	    "\"new\": \"n\"}]}", "files[0].edits[0].old: empty");
	expect_file_err("{\"path\": \"a\", \"edits\": [{\"new\": \"n\"}]}",
	    "files[0].edits[0].old: missing (the exact text to replace)");
	expect_file_err("{\"path\": \"a\", \"edits\": [{\"old\": \"o\"}]}",
	    "files[0].edits[0].new: missing (the text to put in its place)");
	expect_file_err("{\"path\": \"a\", \"edits\": [{\"old\": \"o\", "
	    "\"new\": 1}]}", "files[0].edits[0].new: must be a string, not a "
	    "number");
	expect_file_err("{\"path\": \"a\", \"edits\": [{\"old\": \"o\", "
	    "\"new\": \"n\", \"all\": true}]}", "files[0].edits[0].all: "
	    "unknown field (expected old, new)");
	/* A value built in C may hold a NUL that JSON text cannot. */
	doc = tu_json("{\"summary\": \"s\", \"files\": [{\"path\": \"a\", "
	    "\"edits\": [{\"old\": \"o\", \"new\": \"n\"}]}]}");
	json_object_set_new(json_array_get(json_object_get(json_array_get(
	    json_object_get(doc, "files"), 0), "edits"), 0), "new",
	    json_stringn("a\0b", 3));
	assert_int_equal(answer_validate(doc, "logic", &a, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "files[0].edits[0].new: contains a NUL "
	    "character");
	assert_null(a.files);
	json_decref(doc);
	expect_file_err("{\"path\": \"../a\", \"edits\": [{\"old\": \"o\", "
	    "\"new\": \"n\"}]}", "files[0].path: path contains \"..\"");
}

/* At most 200 edits per file. */
static void
test_edits_limit(void **state)
{
	struct answer a;
	size_t cap = 64 + 201 * 32, n;
	char *text = malloc(cap);

	assert_non_null(text);
	for (int count = 200; count <= 201; count++) {
		n = (size_t)snprintf(text, cap, "{\"summary\": \"s\", "
		    "\"files\": [{\"path\": \"a\", \"edits\": [");
		for (int i = 0; i < count; i++)
			n += (size_t)snprintf(text + n, cap - n, "%s{\"old\": "
			    "\"o%d\", \"new\": \"n\"}", i ? ", " : "", i);
		snprintf(text + n, cap - n, "]}]}");
		if (count == 200) {
			expect_ok(text, &a);
			assert_int_equal(a.files[0].nedits, 200);
			assert_string_equal(a.files[0].edits[199].old, "o199");
			answer_free(&a);
		} else
			expect_err(text, "files[0].edits: 201 entries, at most "
			    "200 per file; give the whole content instead");
	}
	free(text);
}

/* ------------------------------------------------------------ full */

static const char full_answer[] =
    "I added the payslip endpoints and removed the old stub.\n"
    "\n"
    "```json\n"
    "{\n"
    "  \"summary\": \"Payslip endpoints over the database tables\",\n"
    "  \"files\": [\n"
    "    {\"path\": \"app/payslips.py\", \"content\": \"def list():\\n"
    "    return []\\n\"},\n"
    "    {\"path\": \"app/stub.py\", \"delete\": true},\n"
    "    {\"path\": \"tests/test_payslips.py\", \"content\": \"\","
    " \"delete\": false}\n"
    "  ],\n"
    "  \"interface\": {\n"
    "    \"domain\": \"logic\", \"version\": 2,\n"
    "    \"summary\": \"HTTP API for payslips\",\n"
    "    \"provides\": [{\"kind\": \"http\", \"name\": \"GET /payslips\","
    " \"signature\": \"GET /payslips -> 200 [Payslip]\"}],\n"
    "    \"consumes\": [{\"kind\": \"table\", \"name\": \"payslips\","
    " \"from\": \"database\"}]\n"
    "  },\n"
    "  \"checks\": [\"python3 -m pytest tests\", \"python3 -m pyflakes "
    "app\"]\n"
    "}\n"
    "```\n";

static void
test_valid_full(void **state)
{
	struct answer a;

	expect_ok(full_answer, &a);
	assert_string_equal(a.summary,
	    "Payslip endpoints over the database tables");
	assert_int_equal(a.nfiles, 3);
	assert_string_equal(a.files[0].path, "app/payslips.py");
	assert_false(a.files[0].delete);
	assert_string_equal(a.files[0].content,
	    "def list():\n    return []\n");
	assert_int_equal(a.files[0].len, strlen(a.files[0].content));
	assert_string_equal(a.files[1].path, "app/stub.py");
	assert_true(a.files[1].delete);
	assert_null(a.files[1].content);
	assert_false(a.files[2].delete);
	assert_string_equal(a.files[2].content, "");
	assert_non_null(a.interface);
	assert_string_equal(json_string_value(json_object_get(a.interface,
	    "domain")), "logic");
	assert_int_equal(a.nchecks, 2);
	assert_string_equal(a.checks[0], "python3 -m pytest tests");
	assert_string_equal(a.checks[1], "python3 -m pyflakes app");
	answer_free(&a);
	/* Freeing twice, or a zeroed answer, is harmless. */
	answer_free(&a);
	answer_free(NULL);
}

/* What a strict structured-output mode sends: every field, null for
 * none. */
static void
test_valid_nulls(void **state)
{
	struct answer a;

	expect_ok("{\"summary\": \"s\", \"files\": [{\"path\": \"a\", "
	    "\"content\": \"x\", \"delete\": null}, {\"path\": \"b\", "
	    "\"content\": null, \"delete\": true}], \"interface\": null, "
	    "\"checks\": null}", &a);
	assert_int_equal(a.nfiles, 2);
	assert_null(a.interface);
	assert_int_equal(a.nchecks, 0);
	answer_free(&a);
	expect_ok("{\"summary\": \"s\", \"files\": null, \"interface\": "
	    "{\"domain\": \"logic\", \"summary\": \"x\", \"provides\": [{"
	    "\"kind\": \"type\", \"name\": \"T\", \"signature\": null, "
	    "\"schema\": null, \"doc\": null}], \"consumes\": []}, "
	    "\"checks\": []}", &a);
	assert_int_equal(a.nfiles, 0);
	assert_null(a.files);
	assert_non_null(a.interface);
	answer_free(&a);
}

/* Messages stay valid UTF-8 whatever the model wrote. */
static void
test_error_utf8(void **state)
{
	struct answer a;
	char err[64];
	json_t *s;

	/* A parse error quoting a broken byte. */
	assert_int_equal(answer_parse("{\"summary\": \"\xff\"}", "logic", &a,
	    err, sizeof(err)), -1);
	assert_non_null(s = json_string(err));
	json_decref(s);
	/* Cut short in the middle of a quoted é. */
	for (size_t n = 1; n < sizeof(err); n++) {
		assert_int_equal(answer_parse("{\"summary\": \"s\", "
		    "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\": 1}", "logic", &a,
		    err, n), -1);
		if ((s = json_string(err)) == NULL)
			fail_msg("errlen %zu: not UTF-8: %s", n, err);
		json_decref(s);
	}
}

/* ------------------------------------------------------------ verdicts */

static void
expect_verdict(const char *text, bool want, const char *feedback)
{
	char err[256] = "", *fb = (char *)"unset";
	bool complete = !want;

	if (verdict_parse(text, &complete, &fb, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_int_equal(complete, want);
	if (feedback == NULL)
		assert_null(fb);
	else
		assert_string_equal(fb, feedback);
	free(fb);
}

static void
expect_verdict_err(const char *text, const char *want)
{
	char err[256] = "", *fb = (char *)"unset";
	bool complete = true;

	if (verdict_parse(text, &complete, &fb, err, sizeof(err)) != -1)
		fail_msg("accepted, wanted \"%s\"", want);
	if (strcmp(err, want) != 0)
		fail_msg("error \"%s\",\nwanted \"%s\"", err, want);
	assert_null(fb);
	assert_false(complete);
}

static void
test_verdicts(void **state)
{
	char text[9000], zeros[8193];

	expect_verdict("{\"complete\": true}", true, NULL);
	expect_verdict("{\"complete\": false, \"feedback\": \"add tests\"}",
	    false, "add tests");
	expect_verdict("Looks good.\n```json\n{\"complete\": true, "
	    "\"feedback\": null}\n```", true, NULL);
	expect_verdict("Verdict: {\"complete\": false, \"feedback\": \"the "
	    "{id} route is missing\"}.", false, "the {id} route is missing");

	expect_verdict_err("Yes, it is complete.", "the verdict is not JSON: "
	    "no JSON object found in the text");
	expect_verdict_err("", "the verdict is empty: no JSON object found "
	    "in the text");
	expect_verdict_err("{\"feedback\": \"x\"}", "complete: missing (true "
	    "or false)");
	expect_verdict_err("{\"complete\": \"yes\"}", "complete: must be "
	    "true or false, not a string");
	expect_verdict_err("{\"complete\": 1}", "complete: must be true or "
	    "false, not a number");
	expect_verdict_err("{\"complete\": true, \"feedback\": 3}",
	    "feedback: must be a string, not a number");
	expect_verdict_err("{\"complete\": true, \"reason\": \"x\"}",
	    "reason: unknown field (expected complete, feedback)");
	expect_verdict_err("[true]", "the verdict must be a JSON object, not "
	    "an array");

	snprintf(text, sizeof(text), "{\"complete\": false, \"feedback\": "
	    "\"%0*d\"}", 8193, 0);
	expect_verdict_err(text, "feedback: 8193 bytes, at most 8192");
	snprintf(text, sizeof(text), "{\"complete\": false, \"feedback\": "
	    "\"%0*d\"}", 8192, 0);
	memset(zeros, '0', 8192);
	zeros[8192] = '\0';
	expect_verdict(text, false, zeros);
}

/* ------------------------------------------------------------ schemas */

/*
 * Every object schema with properties is closed and requires them all
 * (strict structured outputs), except where it says "any JSON".
 */
static void
check_strict(const json_t *s, const char *where)
{
	const json_t *props = json_object_get(s, "properties"), *v;
	const json_t *req = json_object_get(s, "required");
	const char *key;
	size_t i;

	if (props != NULL) {
		if (!json_is_false(json_object_get(s, "additionalProperties")))
			fail_msg("%s: not closed", where);
		if (json_array_size(req) != json_object_size(props))
			fail_msg("%s: not every property required", where);
		json_array_foreach(req, i, v) {
			if (json_object_get(props,
			    json_string_value(v)) == NULL)
				fail_msg("%s: requires unknown %s", where,
				    json_string_value(v));
		}
		json_object_foreach((json_t *)props, key, v)
			check_strict(v, key);
	}
	if ((v = json_object_get(s, "items")) != NULL)
		check_strict(v, where);
	json_array_foreach(json_object_get(s, "anyOf"), i, v)
		check_strict(v, where);
}

static void
test_schemas(void **state)
{
	json_t *s = answer_schema(), *t = answer_schema(), *kinds, *iface;
	size_t i;

	assert_non_null(s);
	/* A new reference each time. */
	assert_ptr_not_equal(s, t);
	assert_int_equal(s->refcount, 1);
	assert_true(json_equal(s, t));
	json_decref(t);
	assert_string_equal(json_string_value(json_object_get(s, "type")),
	    "object");
	check_strict(s, "answer");
	iface = json_array_get(json_object_get(json_object_get(json_object_get(
	    s, "properties"), "interface"), "anyOf"), 1);
	kinds = json_object_get(json_object_get(json_object_get(
	    json_object_get(json_object_get(json_object_get(iface,
	    "properties"), "consumes"), "items"), "properties"), "kind"),
	    "enum");
	for (i = 0; iface_kinds[i] != NULL; i++)
		assert_string_equal(json_string_value(json_array_get(kinds, i)),
		    iface_kinds[i]);
	assert_int_equal(json_array_size(kinds), i);
	/* A file entry may give edits, each {old, new}. */
	assert_non_null(json_object_get(json_object_get(json_object_get(
	    json_object_get(json_object_get(json_object_get(json_object_get(
	    json_object_get(s, "properties"), "files"), "items"),
	    "properties"), "edits"), "items"), "properties"), "old"));
	/* provides entries have no "from". */
	assert_null(json_object_get(json_object_get(json_object_get(
	    json_object_get(json_object_get(iface, "properties"), "provides"),
	    "items"), "properties"), "from"));
	assert_non_null(json_object_get(json_object_get(json_object_get(
	    json_object_get(json_object_get(iface, "properties"), "consumes"),
	    "items"), "properties"), "from"));
	json_decref(s);

	s = verdict_schema();
	assert_non_null(s);
	check_strict(s, "verdict");
	assert_non_null(json_object_get(json_object_get(s, "properties"),
	    "complete"));
	json_decref(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extract_plain),
		cmocka_unit_test(test_extract_fenced),
		cmocka_unit_test(test_extract_last_block),
		cmocka_unit_test(test_extract_bare),
		cmocka_unit_test(test_extract_none),
		cmocka_unit_test(test_top_level),
		cmocka_unit_test(test_questions),
		cmocka_unit_test(test_files_shape),
		cmocka_unit_test(test_hostile_paths),
		cmocka_unit_test(test_paths_normalised),
		cmocka_unit_test(test_paths_conflict),
		cmocka_unit_test(test_files_limits),
		cmocka_unit_test(test_interface_member),
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_edits),
		cmocka_unit_test(test_edits_limit),
		cmocka_unit_test(test_valid_full),
		cmocka_unit_test(test_valid_nulls),
		cmocka_unit_test(test_error_utf8),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_schemas),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
