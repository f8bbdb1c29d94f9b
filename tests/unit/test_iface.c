/*
 * test_iface.c — interface documents (common/iface.c, docs/interface.md).
 *
 * Every validation rule with its exact message; the canonical form
 * (order, version dropped, signatures' white space, idempotence); diffs
 * on both sides; the unresolved set: its four problems, a resolved task,
 * placeholders for domains that have not published, registry rows, and
 * the same output for shuffled input; and the payslips example of the
 * definition.
 *
 * The PAYSLIPS_* documents are the three JSON blocks of the example at
 * the end of docs/interface.md, embedded here as string constants: keep
 * both in sync.  test_payslips_doc_in_sync compares them with the file
 * when it can find it ($MASTERD_TOP, else the current directory).
 */
#include "testutil.h"

#include <jansson.h>

#include "common/iface.h"

/* What the example below writes twice: once where a domain provides it,
 * once where another consumes it. */
#define EMPLOYEES_TABLE \
	"CREATE TABLE employees (id INTEGER PRIMARY KEY, " \
	"name TEXT NOT NULL, email TEXT NOT NULL UNIQUE, " \
	"hired DATE NOT NULL)"
#define PAYSLIPS_TABLE \
	"CREATE TABLE payslips (id INTEGER " \
	"PRIMARY KEY, employee_id INTEGER NOT NULL REFERENCES " \
	"employees(id), period TEXT NOT NULL, gross_cents INTEGER NOT " \
	"NULL, net_cents INTEGER NOT NULL, UNIQUE (employee_id, " \
	"period))"
#define PAYSLIPS_GET \
	"GET /employees/{id}/payslips?from=YYYY-MM&to=YYYY-MM -> 200 " \
	"[Payslip] | 404"
#define PAYSLIP_SCHEMA \
	"     \"schema\": {\"type\": \"object\",\n" \
	"                \"properties\": {\"id\": {\"type\": " \
	"\"integer\"},\n" \
	"                               \"employee_id\": {\"type\": " \
	"\"integer\"},\n" \
	"                               \"period\": {\"type\": " \
	"\"string\", \"pattern\": \"^[0-9]{4}-[0-9]{2}$\"},\n" \
	"                               \"gross_cents\": {\"type\": " \
	"\"integer\"},\n" \
	"                               \"net_cents\": {\"type\": " \
	"\"integer\"}},\n" \
	"                \"required\": [\"employee_id\", \"period\", " \
	"\"gross_cents\", \"net_cents\"]}},\n"

/* The example of docs/interface.md; keep both in sync. */
#define PAYSLIPS_DATABASE \
	"{\n" \
	"  \"domain\": \"database\",\n" \
	"  \"summary\": \"SQLite schema for employees and their " \
	"monthly payslips; migrations run at start.\",\n" \
	"  \"provides\": [\n" \
	"    {\"kind\": \"table\", \"name\": \"employees\",\n" \
	"     \"signature\": \"" EMPLOYEES_TABLE "\"},\n" \
	"    {\"kind\": \"table\", \"name\": \"payslips\",\n" \
	"     \"signature\": \"" PAYSLIPS_TABLE "\",\n" \
	"     \"doc\": \"period is YYYY-MM; amounts in cents.\"},\n" \
	"    {\"kind\": \"config\", \"name\": \"DATABASE_URL\",\n" \
	"     \"signature\": " \
	"\"DATABASE_URL=sqlite:///var/lib/payslips/payslips.db\",\n" \
	"     \"doc\": \"The database file; the directory must be " \
	"writable.\"}\n" \
	"  ]\n" \
	"}\n"

#define PAYSLIPS_LOGIC \
	"{\n" \
	"  \"domain\": \"logic\",\n" \
	"  \"summary\": \"HTTP API over the payslips database: list, " \
	"fetch and issue payslips.\",\n" \
	"  \"provides\": [\n" \
	"    {\"kind\": \"type\", \"name\": \"Payslip\",\n" \
	PAYSLIP_SCHEMA \
	"    {\"kind\": \"http\", \"name\": \"GET " \
	"/employees/{id}/payslips\",\n" \
	"     \"signature\": \"" PAYSLIPS_GET "\",\n" \
	"     \"doc\": \"Newest first.\"},\n" \
	"    {\"kind\": \"http\", \"name\": \"POST /payslips\",\n" \
	"     \"signature\": \"POST /payslips Payslip -> 201 Payslip | " \
	"400 | 409\"}\n" \
	"  ],\n" \
	"  \"consumes\": [\n" \
	"    {\"kind\": \"table\", \"name\": \"employees\", \"from\": " \
	"\"database\",\n" \
	"     \"signature\": \"" EMPLOYEES_TABLE "\"},\n" \
	"    {\"kind\": \"table\", \"name\": \"payslips\", \"from\": " \
	"\"database\",\n" \
	"     \"signature\": \"" PAYSLIPS_TABLE "\"},\n" \
	"    {\"kind\": \"config\", \"name\": \"DATABASE_URL\", " \
	"\"from\": \"database\"}\n" \
	"  ]\n" \
	"}\n"

#define PAYSLIPS_FRONTEND \
	"{\n" \
	"  \"domain\": \"frontend\",\n" \
	"  \"summary\": \"Single-page web app: an employee's payslips " \
	"by period, and a form to issue one.\",\n" \
	"  \"provides\": [\n" \
	"    {\"kind\": \"http\", \"name\": \"GET /\", \"signature\": " \
	"\"GET / -> 200 text/html\",\n" \
	"     \"doc\": \"The app; static files under /assets/.\"}\n" \
	"  ],\n" \
	"  \"consumes\": [\n" \
	"    {\"kind\": \"type\", \"name\": \"Payslip\", \"from\": " \
	"\"logic\",\n" \
	PAYSLIP_SCHEMA \
	"    {\"kind\": \"http\", \"name\": \"GET " \
	"/employees/{id}/payslips\", \"from\": \"logic\",\n" \
	"     \"signature\": \"" PAYSLIPS_GET "\"},\n" \
	"    {\"kind\": \"http\", \"name\": \"POST /payslips\", " \
	"\"from\": \"logic\"}\n" \
	"  ]\n" \
	"}\n"

/* ------------------------------------------------------------ helpers */

static json_t *
load(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);

	if (v == NULL)
		fail_msg("test JSON does not parse: line %d: %s: %s", e.line,
		    e.text, text);
	return v;
}

static void
expect_valid_doc(const json_t *doc, const char *domain)
{
	char err[512] = "";

	if (iface_validate(doc, domain, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_string_equal(err, "");
}

static void
expect_valid(const char *text, const char *domain)
{
	json_t *doc = load(text);

	expect_valid_doc(doc, domain);
	json_decref(doc);
}

static void
expect_error_doc(const json_t *doc, const char *domain, const char *want)
{
	char err[512] = "";

	if (iface_validate(doc, domain, err, sizeof(err)) != -1)
		fail_msg("accepted, wanted \"%s\"", want);
	if (strcmp(err, want) != 0)
		fail_msg("error \"%s\", wanted \"%s\"", err, want);
}

static void
expect_error(const char *text, const char *domain, const char *want)
{
	json_t *doc = load(text);

	expect_error_doc(doc, domain, want);
	json_decref(doc);
}

/* got equals the JSON text want; both printed when not. */
static void
expect_json(const json_t *got, const char *want)
{
	json_t *w = load(want);
	char *g, *x;

	assert_non_null(got);
	if (!json_equal(got, w)) {
		g = json_dumps(got, JSON_SORT_KEYS | JSON_INDENT(1));
		x = json_dumps(w, JSON_SORT_KEYS | JSON_INDENT(1));
		fail_msg("got\n%s\nwanted\n%s", g, x);
	}
	json_decref(w);
}

/* The canonical form of doc equals want. */
static void
expect_canonical_is(const json_t *doc, const json_t *want)
{
	json_t *c = iface_canonical(doc);

	assert_true(json_equal(c, want));
	json_decref(c);
}

/* The string key of list's item i (NULL where there is none). */
static const char *
item_str(const json_t *list, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(list, i),
	    key));
}

/* The entry of doc's side named name. */
static json_t *
entry_of(json_t *doc, const char *side, const char *name)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(doc, side), i, e) {
		if (strcmp(json_string_value(json_object_get(e, "name")),
		    name) == 0)
			return e;
	}
	fail_msg("no %s entry named %s", side, name);
	return NULL;
}

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* {"domain": "database", "provides": [{kind, name, extra...}]} */
static json_t *
one_entry(const char *side, const char *kind, const char *name)
{
	json_t *doc = json_pack("{s:s, s:[{s:s, s:s}]}", "domain", "database",
	    side, "kind", kind, "name", name);

	assert_non_null(doc);
	if (strcmp(side, "consumes") == 0)
		json_object_set_new(json_array_get(json_object_get(doc, side),
		    0), "from", json_string("logic"));
	return doc;
}

static json_t *
first_entry(json_t *doc, const char *side)
{
	return json_array_get(json_object_get(doc, side), 0);
}

/* ------------------------------------------------------------ kinds */

static void
test_kinds(void **state)
{
	static const char *const want[] = { "http", "function", "table",
	    "event", "cli", "file", "type", "config", "queue", "other" };
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(iface_kinds[i], want[i]);
	assert_null(iface_kinds[i]);
}

/* ------------------------------------------------------------ validation */

static void
test_validate_minimal(void **state)
{
	expect_valid("{\"domain\": \"database\"}", "database");
	expect_valid("{\"domain\": \"database\", \"summary\": \"\", "
	    "\"provides\": [], \"consumes\": []}", "database");
	/* null is absent; version is ignored whatever it holds. */
	expect_valid("{\"domain\": \"database\", \"summary\": null, "
	    "\"provides\": null, \"consumes\": null, \"version\": \"2.0\"}",
	    "database");
	expect_valid("{\"domain\": \"database\", \"version\": 7, \"provides\": "
	    "[{\"kind\": \"table\", \"name\": \"t\", \"signature\": null, "
	    "\"schema\": null, \"doc\": null}]}", "database");
	/* Every kind is accepted. */
	for (size_t i = 0; iface_kinds[i] != NULL; i++) {
		json_t *doc = one_entry("provides", iface_kinds[i], "x");

		expect_valid_doc(doc, "database");
		json_decref(doc);
	}
}

static void
test_validate_top(void **state)
{
	expect_error("[]", "database", "interface: must be a JSON object");
	expect_error("{}", "database", "domain: missing");
	expect_error("{\"domain\": null}", "database", "domain: missing");
	expect_error("{\"domain\": 3}", "database",
	    "domain: must be a string, not a number");
	expect_error("{\"domain\": \"logic\"}", "database",
	    "domain: \"logic\", but the document is published by "
	    "\"database\"");
	expect_error("{\"domain\": \"database\", \"provide\": []}", "database",
	    "provide: unknown field (expected domain, summary, provides, "
	    "consumes)");
	expect_error("{\"domain\": \"database\", \"a b\": 1}", "database",
	    "\"a b\": unknown field (expected domain, summary, provides, "
	    "consumes)");
	expect_error("{\"domain\": \"database\", \"summary\": 1}", "database",
	    "summary: must be a string, not a number");
	expect_error("{\"domain\": \"database\", \"provides\": {}}",
	    "database", "provides: must be an array of objects, not an object");
	expect_error("{\"domain\": \"database\", \"consumes\": \"x\"}",
	    "database", "consumes: must be an array of objects, not a string");
}

static void
test_validate_publisher_null(void **state)
{
	/* Without a publisher the document's own domain must be a name, and
	 * is the one "from" may not name. */
	expect_valid("{\"domain\": \"auth-2\"}", NULL);
	expect_error("{\"domain\": \"Auth\"}", NULL, "domain: \"Auth\" is not "
	    "a domain name (1-32 characters a-z, 0-9, '-', '_', starting with "
	    "a letter)");
	expect_error("{\"domain\": \"logic\", \"consumes\": [{\"kind\": "
	    "\"table\", \"name\": \"t\", \"from\": \"logic\"}]}", NULL,
	    "consumes[0].from: \"logic\" is the publishing domain itself "
	    "(list only what other domains provide)");
}

static void
test_validate_limits(void **state)
{
	json_t *doc, *arr, *e;
	char *big, want[512];
	size_t n;

	/* summary, signature and doc: 4096 bytes. */
	big = repeat('s', 4097);
	doc = json_pack("{s:s, s:s}", "domain", "database", "summary", big);
	expect_error_doc(doc, "database", "summary: 4097 bytes, at most 4096");
	json_object_set_new(doc, "summary", json_stringn(big, 4096));
	expect_valid_doc(doc, "database");
	json_decref(doc);

	doc = one_entry("provides", "table", "t");
	json_object_set_new(first_entry(doc, "provides"), "signature",
	    json_string(big));
	expect_error_doc(doc, "database",
	    "provides[0].signature: 4097 bytes, at most 4096");
	json_object_set_new(first_entry(doc, "provides"), "signature",
	    json_stringn(big, 4096));
	expect_valid_doc(doc, "database");
	json_object_set_new(first_entry(doc, "provides"), "doc",
	    json_string(big));
	expect_error_doc(doc, "database",
	    "provides[0].doc: 4097 bytes, at most 4096");
	json_decref(doc);
	free(big);

	/* schema: 65536 bytes serialised ("..." adds two). */
	big = repeat('x', 65534);
	doc = one_entry("consumes", "type", "T");
	json_object_set_new(first_entry(doc, "consumes"), "schema",
	    json_string(big));
	expect_valid_doc(doc, "database");
	big[65533] = '\0';
	json_object_set_new(first_entry(doc, "consumes"), "schema",
	    json_pack("[s]", big));
	expect_error_doc(doc, "database",
	    "consumes[0].schema: 65537 bytes when serialised, at most 65536");
	json_decref(doc);
	free(big);

	/* 500 entries per side. */
	doc = json_pack("{s:s, s:[]}", "domain", "database", "provides");
	arr = json_object_get(doc, "provides");
	for (int i = 0; i < 501; i++) {
		snprintf(want, sizeof(want), "t%d", i);
		json_array_append_new(arr, json_pack("{s:s, s:s}", "kind",
		    "table", "name", want));
		if (i == 499)
			expect_valid_doc(doc, "database");
	}
	expect_error_doc(doc, "database", "provides: 501 entries, at most 500");
	json_decref(doc);

	/* The whole document: 256 KiB in canonical form. */
	big = repeat('d', 4000);
	doc = json_pack("{s:s, s:[]}", "domain", "database", "provides");
	arr = json_object_get(doc, "provides");
	for (int i = 0; i < 70; i++) {
		snprintf(want, sizeof(want), "t%02d", i);
		e = json_pack("{s:s, s:s, s:s}", "kind", "table", "name", want,
		    "doc", big);
		json_array_append_new(arr, e);
	}
	e = iface_canonical(doc);
	n = json_dumpb(e, NULL, 0, JSON_COMPACT);
	json_decref(e);
	assert_true(n > 262144);
	snprintf(want, sizeof(want), "interface: %zu bytes when serialised, "
	    "at most 262144", n);
	expect_error_doc(doc, "database", want);
	while (json_array_size(arr) > 64)
		json_array_remove(arr, json_array_size(arr) - 1);
	expect_valid_doc(doc, "database");
	json_decref(doc);
	free(big);
}

static void
test_validate_entry_shape(void **state)
{
	expect_error("{\"domain\": \"database\", \"provides\": [1]}",
	    "database", "provides[0]: must be an object, not a number");
	expect_error("{\"domain\": \"database\", \"provides\": [{\"kind\": "
	    "\"table\", \"name\": \"t\", \"mode\": 1}]}", "database",
	    "provides[0].mode: unknown field (expected kind, name, "
	    "signature, schema, doc)");
	expect_error("{\"domain\": \"database\", \"consumes\": [{\"kind\": "
	    "\"table\", \"name\": \"t\", \"from\": \"logic\", \"sig\": \"\"}]}",
	    "database", "consumes[0].sig: unknown field (expected kind, name, "
	    "from, signature, schema, doc, test)");
	expect_error("{\"domain\": \"database\", \"provides\": [{\"kind\": "
	    "\"table\", \"name\": \"t\", \"from\": \"logic\"}]}", "database",
	    "provides[0].from: only consumes entries name a provider");
	expect_error("{\"domain\": \"database\", \"provides\": [{\"kind\": "
	    "\"table\", \"name\": \"t\", \"signature\": 1}]}", "database",
	    "provides[0].signature: must be a string, not a number");
	expect_error("{\"domain\": \"database\", \"provides\": [{\"kind\": "
	    "\"table\", \"name\": \"t\", \"doc\": []}]}", "database",
	    "provides[0].doc: must be a string, not an array");
	/* Any JSON is a schema. */
	expect_valid("{\"domain\": \"database\", \"provides\": ["
	    "{\"kind\": \"type\", \"name\": \"a\", \"schema\": 1},"
	    "{\"kind\": \"type\", \"name\": \"b\", \"schema\": \"x\"},"
	    "{\"kind\": \"type\", \"name\": \"c\", \"schema\": [true]},"
	    "{\"kind\": \"type\", \"name\": \"d\", \"schema\": {}}]}",
	    "database");
}

static void
test_validate_kind(void **state)
{
	expect_error("{\"domain\": \"database\", \"provides\": [{\"name\": "
	    "\"t\"}]}", "database", "provides[0].kind: missing");
	expect_error("{\"domain\": \"database\", \"provides\": [{\"kind\": 1, "
	    "\"name\": \"t\"}]}", "database",
	    "provides[0].kind: must be a string, not a number");
	expect_error("{\"domain\": \"database\", \"provides\": [{\"kind\": "
	    "\"rest\", \"name\": \"t\"}]}", "database",
	    "provides[0].kind: \"rest\" is not a kind (http, function, table, "
	    "event, cli, file, type, config, queue, other)");
	/* Kinds are lower case. */
	expect_error("{\"domain\": \"database\", \"provides\": [{\"kind\": "
	    "\"HTTP\", \"name\": \"t\"}]}", "database",
	    "provides[0].kind: \"HTTP\" is not a kind (http, function, table, "
	    "event, cli, file, type, config, queue, other)");
}

static void
test_validate_name(void **state)
{
	json_t *doc;
	char *s;

	expect_error("{\"domain\": \"database\", \"provides\": [{\"kind\": "
	    "\"table\"}]}", "database", "provides[0].name: missing");
	expect_error("{\"domain\": \"database\", \"provides\": [{\"kind\": "
	    "\"table\", \"name\": 2}]}", "database",
	    "provides[0].name: must be a string, not a number");
	expect_error("{\"domain\": \"database\", \"provides\": [{\"kind\": "
	    "\"table\", \"name\": \"\"}]}", "database",
	    "provides[0].name: empty");
	expect_error("{\"domain\": \"database\", \"provides\": [{\"kind\": "
	    "\"table\", \"name\": \"a\\nb\"}]}", "database",
	    "provides[0].name: contains a control character");
	expect_error("{\"domain\": \"database\", \"provides\": [{\"kind\": "
	    "\"table\", \"name\": \"a\\u007fb\"}]}", "database",
	    "provides[0].name: contains a control character");
	expect_error("{\"domain\": \"database\", \"provides\": [{\"kind\": "
	    "\"table\", \"name\": \"a\\u0085b\"}]}", "database",
	    "provides[0].name: contains a control character");
	expect_error("{\"domain\": \"database\", \"provides\": [{\"kind\": "
	    "\"table\", \"name\": \" t\"}]}", "database",
	    "provides[0].name: leading or trailing space");
	expect_error("{\"domain\": \"database\", \"provides\": [{\"kind\": "
	    "\"table\", \"name\": \"t \"}]}", "database",
	    "provides[0].name: leading or trailing space");
	/* Inner spaces and non-ASCII letters are names. */
	expect_valid("{\"domain\": \"database\", \"provides\": [{\"kind\": "
	    "\"http\", \"name\": \"GET /employés/{id}\"}]}", "database");

	/* 200 characters, counted as characters: 200 "é" are 400 bytes. */
	s = calloc(1, 2 * 201 + 1);
	assert_non_null(s);
	for (int i = 0; i < 200; i++)
		memcpy(s + 2 * i, "\xc3\xa9", 2);
	doc = one_entry("provides", "table", s);
	expect_valid_doc(doc, "database");
	memcpy(s + 400, "\xc3\xa9", 2);
	json_object_set_new(first_entry(doc, "provides"), "name",
	    json_string(s));
	expect_error_doc(doc, "database",
	    "provides[0].name: 201 characters, at most 200");
	json_decref(doc);
	free(s);
}

static void
test_validate_from(void **state)
{
	expect_error("{\"domain\": \"database\", \"consumes\": [{\"kind\": "
	    "\"table\", \"name\": \"t\"}]}", "database",
	    "consumes[0].from: missing (the domain expected to provide it)");
	expect_error("{\"domain\": \"database\", \"consumes\": [{\"kind\": "
	    "\"table\", \"name\": \"t\", \"from\": null}]}", "database",
	    "consumes[0].from: missing (the domain expected to provide it)");
	expect_error("{\"domain\": \"database\", \"consumes\": [{\"kind\": "
	    "\"table\", \"name\": \"t\", \"from\": [\"logic\"]}]}", "database",
	    "consumes[0].from: must be a string, not an array");
	expect_error("{\"domain\": \"database\", \"consumes\": [{\"kind\": "
	    "\"table\", \"name\": \"t\", \"from\": \"Logic\"}]}", "database",
	    "consumes[0].from: \"Logic\" is not a domain name (1-32 "
	    "characters a-z, 0-9, '-', '_', starting with a letter)");
	expect_error("{\"domain\": \"database\", \"consumes\": [{\"kind\": "
	    "\"table\", \"name\": \"t\", \"from\": \"\"}]}", "database",
	    "consumes[0].from: \"\" is not a domain name (1-32 characters "
	    "a-z, 0-9, '-', '_', starting with a letter)");
	expect_error("{\"domain\": \"database\", \"consumes\": [{\"kind\": "
	    "\"table\", \"name\": \"t\", \"from\": "
	    "\"abcdefghijklmnopqrstuvwxyz0123456\"}]}", "database",
	    "consumes[0].from: \"abcdefghijklmnopqrstuvwxyz0123456\" is not "
	    "a domain name (1-32 characters a-z, 0-9, '-', '_', starting "
	    "with a letter)");
	expect_error("{\"domain\": \"database\", \"consumes\": [{\"kind\": "
	    "\"table\", \"name\": \"t\", \"from\": \"database\"}]}",
	    "database", "consumes[0].from: \"database\" is the publishing "
	    "domain itself (list only what other domains provide)");
	expect_valid("{\"domain\": \"database\", \"consumes\": [{\"kind\": "
	    "\"table\", \"name\": \"t\", \"from\": \"a_b-2\"}]}", "database");
}

static void
test_validate_duplicates(void **state)
{
	expect_error("{\"domain\": \"database\", \"provides\": ["
	    "{\"kind\": \"table\", \"name\": \"payslips\"},"
	    "{\"kind\": \"table\", \"name\": \"employees\"},"
	    "{\"kind\": \"table\", \"name\": \"payslips\", \"doc\": \"x\"}]}",
	    "database", "provides[2]: duplicate of provides[0] (table "
	    "\"payslips\")");
	/* In consumes even from two providers. */
	expect_error("{\"domain\": \"frontend\", \"consumes\": ["
	    "{\"kind\": \"type\", \"name\": \"User\", \"from\": \"logic\"},"
	    "{\"kind\": \"type\", \"name\": \"User\", \"from\": \"auth\"}]}",
	    "frontend", "consumes[1]: duplicate of consumes[0] (type "
	    "\"User\")");
	/* Another kind is another entry; providing what one consumes is
	 * allowed; names compare byte for byte. */
	expect_valid("{\"domain\": \"logic\", "
	    "\"provides\": [{\"kind\": \"table\", \"name\": \"payslips\"},"
	    " {\"kind\": \"type\", \"name\": \"payslips\"},"
	    " {\"kind\": \"type\", \"name\": \"Payslips\"}],"
	    "\"consumes\": [{\"kind\": \"table\", \"name\": \"payslips\","
	    " \"from\": \"database\"}]}", "logic");
}

/* Errors are cut on a character boundary: they travel in JSON. */
static void
test_validate_error_utf8(void **state)
{
	json_t *doc = one_entry("provides", "\xc3\xa9\xc3\xa9\xc3\xa9", "t");
	char err[40];
	size_t n;

	assert_int_equal(iface_validate(doc, "database", err, 24), -1);
	n = strlen(err);
	assert_true(n < 24);
	json_t *s = json_string(err);
	if (s == NULL)
		fail_msg("error is not UTF-8: %s", err);
	json_decref(s);
	/* "provides[0].kind: \"ééé" would be 25 bytes: cut at 23 would
	 * split the last é. */
	assert_int_equal(iface_validate(doc, "database", err, 25), -1);
	assert_non_null(s = json_string(err));
	json_decref(s);
	/* A zero-length buffer is left alone. */
	assert_int_equal(iface_validate(doc, "database", err, 0), -1);
	assert_int_equal(iface_validate(doc, "database", NULL, 0), -1);
	json_decref(doc);
}

/* ------------------------------------------------------------ canonical */

static void
test_canonical(void **state)
{
	json_t *doc = load("{\"version\": 4, \"domain\": \"database\","
	    "\"consumes\": [{\"kind\": \"config\", \"name\": \"TZ\", "
	    "\"from\": \"logic\", \"doc\": \"\", \"signature\": \"  \\n \"}],"
	    "\"provides\": ["
	    " {\"kind\": \"type\", \"name\": \"Payslip\", \"schema\": "
	    "  {\"b\": 1, \"a\": [2, 1]}, \"doc\": null},"
	    " {\"kind\": \"table\", \"name\": \"payslips\", \"signature\": "
	    "  \"CREATE TABLE payslips (\\n\\tid INTEGER,\\r\\n  x TEXT\\n)"
	    "  \"},"
	    " {\"kind\": \"table\", \"name\": \"employees\"},"
	    " {\"kind\": \"config\", \"name\": \"Z\", \"signature\": null}]}");
	json_t *c = iface_canonical(doc);
	char *text;

	expect_json(c, "{\"domain\": \"database\", \"summary\": \"\","
	    "\"provides\": ["
	    " {\"kind\": \"config\", \"name\": \"Z\"},"
	    " {\"kind\": \"table\", \"name\": \"employees\"},"
	    " {\"kind\": \"table\", \"name\": \"payslips\", \"signature\": "
	    "  \"CREATE TABLE payslips ( id INTEGER, x TEXT )\"},"
	    " {\"kind\": \"type\", \"name\": \"Payslip\", \"schema\": "
	    "  {\"a\": [2, 1], \"b\": 1}}],"
	    "\"consumes\": [{\"kind\": \"config\", \"name\": \"TZ\", "
	    "\"from\": \"logic\"}]}");
	/* Top-level order is fixed too, for readers of the stored text. */
	text = json_dumps(c, JSON_COMPACT);
	assert_non_null(strstr(text, "{\"domain\":\"database\","
	    "\"summary\":\"\",\"provides\":["));
	free(text);
	/* Idempotent; the input is not touched; still valid. */
	expect_canonical_is(c, c);
	assert_non_null(json_object_get(doc, "version"));
	expect_valid_doc(c, "database");
	json_decref(c);
	json_decref(doc);

	assert_null(iface_canonical(NULL));
	doc = json_array();
	assert_null(iface_canonical(doc));
	json_decref(doc);
}

/* Documents that failed validation still have one canonical form. */
static void
test_canonical_lenient(void **state)
{
	json_t *a = load("{\"domain\": 5, \"summary\": 3, \"extra\": 1,"
	    "\"provides\": [1, {\"kind\": \"table\"}, {\"name\": \"x\"},"
	    " {\"kind\": \"table\", \"name\": \"t\", \"doc\": \"two\","
	    "  \"from\": \"x\", \"mode\": 1},"
	    " {\"kind\": \"table\", \"name\": \"t\", \"doc\": \"one\","
	    "  \"signature\": 7}],"
	    "\"consumes\": {}}");
	json_t *b = load("{\"domain\": 5, \"summary\": 3, \"extra\": 1,"
	    "\"provides\": ["
	    " {\"kind\": \"table\", \"name\": \"t\", \"doc\": \"one\","
	    "  \"signature\": 7},"
	    " {\"kind\": \"table\", \"name\": \"t\", \"doc\": \"two\","
	    "  \"from\": \"x\", \"mode\": 1}, 1],"
	    "\"consumes\": {}}");
	json_t *ca = iface_canonical(a);

	expect_json(ca, "{\"summary\": \"\", \"provides\": ["
	    " {\"kind\": \"table\", \"name\": \"t\", \"doc\": \"one\"},"
	    " {\"kind\": \"table\", \"name\": \"t\", \"doc\": \"two\"}],"
	    "\"consumes\": []}");
	expect_canonical_is(b, ca);
	expect_canonical_is(ca, ca);
	json_decref(a);
	json_decref(b);
	json_decref(ca);
}


/* ------------------------------------------------------------ formatting */

/* Consumer d expects signature want of "function f" from p, which
 * provides have: whether the unresolved set finds them different. */
static bool
signatures_differ(const char *want, const char *have)
{
	json_t *l = json_array(), *set;
	bool differ;

	json_array_append_new(l, json_pack("{s:s, s:[{s:s, s:s, s:s, s:s}]}",
	    "domain", "d", "consumes", "kind", "function", "name", "f",
	    "from", "p", "signature", want));
	json_array_append_new(l, json_pack("{s:s, s:[{s:s, s:s, s:s}]}",
	    "domain", "p", "provides", "kind", "function", "name", "f",
	    "signature", have));
	set = iface_unresolved(l, NULL);
	differ = json_array_size(set) > 0;
	if (differ)
		assert_string_equal(item_str(set, 0, "problem"), "changed");
	json_decref(set);
	json_decref(l);
	return differ;
}

/* The diff of one provided signature changed from a to b: its contract
 * flag, or -1 when the entry is not listed as changed (the stored texts
 * are equal). */
static int
diff_contract(const char *a, const char *b)
{
	json_t *x = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "domain", "p",
	    "provides", "kind", "function", "name", "f", "signature", a);
	json_t *y = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "domain", "p",
	    "provides", "kind", "function", "name", "f", "signature", b);
	json_t *d = iface_diff(x, y), *ch;
	int contract = -1;

	ch = json_object_get(json_object_get(d, "provides"), "changed");
	assert_true(json_array_size(ch) <= 1);
	if (json_array_size(ch) == 1)
		contract = json_is_true(json_object_get(json_array_get(ch, 0),
		    "contract"));
	json_decref(d);
	json_decref(x);
	json_decref(y);
	return contract;
}

/*
 * Formatting is not meaning: white space next to punctuation does not
 * count, white space between two word characters counts as one space.
 * The stored (canonical) text keeps the signature as written, its runs
 * of white space collapsed.
 */
static void
test_signature_formatting(void **state)
{
	static const char *const same[][2] = {
		{ "f(a, b)", "f(a,b)" },
		{ "f( a , b )", "f(a,b)" },
		{ "GET /x -> 200", "GET /x->200" },
		{ "GET /x -> 200", "GET/x ->200" },
		{ "( id INTEGER )", "(id INTEGER)" },
		{ "CREATE TABLE t (\n  id INTEGER,\n  x TEXT\n)",
		    "CREATE TABLE t(id INTEGER, x TEXT)" },
		{ "a  b", "a\tb" },
		{ "prénom TEXT", "prénom\nTEXT" },
	};
	static const char *const differ[][2] = {
		{ "a b", "ab" },
		{ "INTEGER NOT NULL", "INTEGERNOT NULL" },
		{ "f(a, b)", "f(b, a)" },
		{ "f(a,b)", "f(a;b)" },
		{ "x_y", "x y" },
		{ "é x", "éx" },
	};
	json_t *doc, *c;

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		if (signatures_differ(same[i][0], same[i][1]))
			fail_msg("\"%s\" and \"%s\" differ", same[i][0],
			    same[i][1]);
		assert_int_not_equal(diff_contract(same[i][0], same[i][1]), 1);
	}
	for (size_t i = 0; i < sizeof(differ) / sizeof(differ[0]); i++) {
		if (!signatures_differ(differ[i][0], differ[i][1]))
			fail_msg("\"%s\" and \"%s\" are equal", differ[i][0],
			    differ[i][1]);
		assert_int_equal(diff_contract(differ[i][0], differ[i][1]), 1);
	}
	/* Listed (the stored texts differ), but not as a contract change. */
	assert_int_equal(diff_contract("f(a, b)", "f(a,b)"), 0);
	/* The stored text: only the runs collapsed; idempotent. */
	doc = load("{\"domain\": \"p\", \"provides\": [{\"kind\": "
	    "\"function\", \"name\": \"f\", \"signature\": "
	    "\" f( a,\\n  b ) -> int \"}]}");
	c = iface_canonical(doc);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(json_object_get(c, "provides"), 0), "signature")),
	    "f( a, b ) -> int");
	expect_canonical_is(c, c);
	json_decref(c);
	json_decref(doc);
}

/* ------------------------------------------------------------ contract tests */

static void
test_validate_test(void **state)
{
	static const struct {
		const char *path, *err;
	} bad[] = {
		{ "", "consumes[0].test: empty" },
		{ "/etc/passwd", "consumes[0].test: absolute path" },
		{ "tests/../../x.py", "consumes[0].test: path contains \"..\"" },
		{ "..", "consumes[0].test: path contains \"..\"" },
		{ "tests\\\\x.py", "consumes[0].test: backslash in path" },
		{ "tests/\\u0001x.py", "consumes[0].test: control character "
		    "in path" },
		{ ".git/hooks/x", "consumes[0].test: path leads into .git" },
		{ "a/.GIT/x", "consumes[0].test: path leads into .git" },
	};
	char text[1024], big[600];

	expect_valid("{\"domain\": \"frontend\", \"consumes\": [{\"kind\": "
	    "\"http\", \"name\": \"GET /x\", \"from\": \"logic\", \"test\": "
	    "\"tests/contract/test_x.py\"}]}", "frontend");
	expect_valid("{\"domain\": \"frontend\", \"consumes\": [{\"kind\": "
	    "\"http\", \"name\": \"GET /x\", \"from\": \"logic\", \"test\": "
	    "null}]}", "frontend");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "{\"domain\": \"frontend\", "
		    "\"consumes\": [{\"kind\": \"http\", \"name\": \"GET /x\", "
		    "\"from\": \"logic\", \"test\": \"%s\"}]}", bad[i].path);
		expect_error(text, "frontend", bad[i].err);
	}
	expect_error("{\"domain\": \"frontend\", \"consumes\": [{\"kind\": "
	    "\"http\", \"name\": \"GET /x\", \"from\": \"logic\", \"test\": "
	    "3}]}", "frontend", "consumes[0].test: must be a string, not a "
	    "number");
	/* Only consumes entries name a test. */
	expect_error("{\"domain\": \"logic\", \"provides\": [{\"kind\": "
	    "\"http\", \"name\": \"GET /x\", \"test\": \"t.py\"}]}", "logic",
	    "provides[0].test: unknown field (expected kind, name, "
	    "signature, schema, doc)");
	/* At most 512 bytes. */
	memset(big, 'a', 513);
	big[513] = '\0';
	snprintf(text, sizeof(text), "{\"domain\": \"frontend\", "
	    "\"consumes\": [{\"kind\": \"http\", \"name\": \"GET /x\", "
	    "\"from\": \"logic\", \"test\": \"%s\"}]}", big);
	expect_error(text, "frontend", "consumes[0].test: 513 bytes, at "
	    "most 512");
	big[512] = '\0';
	snprintf(text, sizeof(text), "{\"domain\": \"frontend\", "
	    "\"consumes\": [{\"kind\": \"http\", \"name\": \"GET /x\", "
	    "\"from\": \"logic\", \"test\": \"%s\"}]}", big);
	expect_valid(text, "frontend");
}

/* Kept by the canonical form; not part of the contract. */
static void
test_test_canonical(void **state)
{
	json_t *a = load("{\"domain\": \"frontend\", \"consumes\": [{\"kind\": "
	    "\"http\", \"name\": \"GET /x\", \"from\": \"logic\", \"signature\": "
	    "\"GET /x -> 200\", \"test\": \"t/a.py\"}]}");
	json_t *b = load("{\"domain\": \"frontend\", \"consumes\": [{\"kind\": "
	    "\"http\", \"name\": \"GET /x\", \"from\": \"logic\", \"signature\": "
	    "\"GET /x -> 200\", \"test\": \"t/b.py\"}]}");
	json_t *p = load("{\"domain\": \"logic\", \"provides\": [{\"kind\": "
	    "\"http\", \"name\": \"GET /x\", \"signature\": \"GET /x->200\"}]}");
	json_t *c = iface_canonical(a), *d, *l, *set, *ch;

	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(c, "consumes"), 0), "test")), "t/a.py");
	expect_canonical_is(c, c);
	d = iface_diff(a, b);
	ch = json_object_get(json_object_get(d, "consumes"), "changed");
	assert_int_equal(json_array_size(ch), 1);
	assert_true(json_is_false(json_object_get(json_array_get(ch, 0),
	    "contract")));
	l = json_pack("[O, O]", a, p);
	set = iface_unresolved(l, NULL);
	assert_int_equal(json_array_size(set), 0);
	json_decref(set);
	json_decref(l);
	json_decref(d);
	json_decref(c);
	json_decref(a);
	json_decref(b);
	json_decref(p);
}

static void
test_contract_tests(void **state)
{
	json_t *l = load("["
	    "{\"domain\": \"frontend\", \"consumes\": ["
	    " {\"kind\": \"http\", \"name\": \"GET /x\", \"from\": \"logic\","
	    "  \"test\": \"tests/test_x.py\"},"
	    " {\"kind\": \"http\", \"name\": \"GET /y\", \"from\": \"logic\"},"
	    " {\"kind\": \"function\", \"name\": \"f\", \"from\": \"logic\","
	    "  \"test\": \"tests/it's f\"},"
	    " {\"kind\": \"table\", \"name\": \"t\", \"from\": \"database\","
	    "  \"test\": \"./tests//t.sh\"},"
	    " {\"kind\": \"table\", \"name\": \"u\", \"from\": \"database\","
	    "  \"test\": \"../escape.sh\"}]},"
	    "{\"id\": 4, \"domain\": \"logic\", \"version\": 2, \"document\":"
	    " {\"domain\": \"logic\", \"consumes\": ["
	    "  {\"kind\": \"table\", \"name\": \"t\", \"from\": \"database\","
	    "   \"test\": \"check\"}]}},"
	    "{\"domain\": \"logic\", \"consumes\": ["
	    " {\"kind\": \"table\", \"name\": \"t\", \"from\": \"database\","
	    "  \"test\": \"check\"}]},"
	    "{\"domain\": \"database\"}, 7]");
	json_t *got = iface_contract_tests(l, NULL), *folders;

	expect_json(got, "["
	    "{\"command\": \"sh frontend/./tests//t.sh\", \"kind\": "
	    " \"contract\", \"consumer\": \"frontend\", \"provider\": "
	    " \"database\", \"entry\": \"table t\"},"
	    "{\"command\": \"'./frontend/tests/it'\\\\''s f'\", \"kind\": "
	    " \"contract\", \"consumer\": \"frontend\", \"provider\": "
	    " \"logic\", \"entry\": \"function f\"},"
	    "{\"command\": \"python3 frontend/tests/test_x.py\", \"kind\": "
	    " \"contract\", \"consumer\": \"frontend\", \"provider\": "
	    " \"logic\", \"entry\": \"http GET /x\"},"
	    "{\"command\": \"./logic/check\", \"kind\": \"contract\", "
	    " \"consumer\": \"logic\", \"provider\": \"database\", "
	    " \"entry\": \"table t\"}]");
	json_decref(got);
	json_decref(l);
	got = iface_contract_tests(NULL, NULL);
	assert_int_equal(json_array_size(got), 0);
	json_decref(got);
	/* A consumer that owns another folder runs its test from there. */
	l = load("[{\"domain\": \"logic\", \"consumes\": ["
	    " {\"kind\": \"table\", \"name\": \"t\", \"from\": \"database\","
	    "  \"test\": \"check.py\"}]}]");
	folders = load("{\"logic\": \"server\"}");
	got = iface_contract_tests(l, folders);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(got, 0), "command")), "python3 server/check.py");
	json_decref(got);
	json_decref(folders);
	json_decref(l);
}

/* ------------------------------------------------------------ diff */

static const char *const diff_old =
    "{\"domain\": \"database\", \"version\": 1,"
    "\"provides\": ["
    " {\"kind\": \"table\", \"name\": \"employees\", \"signature\": \"E1\"},"
    " {\"kind\": \"table\", \"name\": \"payslips\", \"signature\": \"P1\"},"
    " {\"kind\": \"config\", \"name\": \"URL\", \"doc\": \"old words\"}],"
    "\"consumes\": ["
    " {\"kind\": \"config\", \"name\": \"TZ\", \"from\": \"logic\"},"
    " {\"kind\": \"event\", \"name\": \"gone\", \"from\": \"logic\"}]}";

static const char *const diff_new =
    "{\"domain\": \"database\", \"version\": 2,"
    "\"provides\": ["
    " {\"kind\": \"config\", \"name\": \"URL\", \"doc\": \"new words\"},"
    " {\"kind\": \"table\", \"name\": \"payslips\", \"signature\": \"P2\"},"
    " {\"kind\": \"table\", \"name\": \"audit\"}],"
    "\"consumes\": ["
    " {\"kind\": \"config\", \"name\": \"TZ\", \"from\": \"frontend\"},"
    " {\"kind\": \"event\", \"name\": \"new\", \"from\": \"logic\"}]}";

static void
test_diff(void **state)
{
	json_t *a = load(diff_old), *b = load(diff_new), *d;

	d = iface_diff(a, b);
	expect_json(d, "{\"provides\": {"
	    " \"added\": [{\"kind\": \"table\", \"name\": \"audit\"}],"
	    " \"removed\": [{\"kind\": \"table\", \"name\": \"employees\","
	    "  \"signature\": \"E1\"}],"
	    " \"changed\": ["
	    "  {\"kind\": \"config\", \"name\": \"URL\", \"contract\": false,"
	    "   \"old\": {\"kind\": \"config\", \"name\": \"URL\", "
	    "\"doc\": \"old words\"},"
	    "   \"new\": {\"kind\": \"config\", \"name\": \"URL\", "
	    "\"doc\": \"new words\"}},"
	    "  {\"kind\": \"table\", \"name\": \"payslips\","
	    "   \"contract\": true,"
	    "   \"old\": {\"kind\": \"table\", \"name\": \"payslips\", "
	    "\"signature\": \"P1\"},"
	    "   \"new\": {\"kind\": \"table\", \"name\": \"payslips\", "
	    "\"signature\": \"P2\"}}]},"
	    "\"consumes\": {"
	    " \"added\": [{\"kind\": \"event\", \"name\": \"new\", "
	    "\"from\": \"logic\"}],"
	    " \"removed\": [{\"kind\": \"event\", \"name\": \"gone\", "
	    "\"from\": \"logic\"}],"
	    " \"changed\": [{\"kind\": \"config\", \"name\": \"TZ\", "
	    "\"contract\": true,"
	    "  \"old\": {\"kind\": \"config\", \"name\": \"TZ\", "
	    "\"from\": \"logic\"},"
	    "  \"new\": {\"kind\": \"config\", \"name\": \"TZ\", "
	    "\"from\": \"frontend\"}}]}}");
	json_decref(d);

	/* The other way round, added and removed swap. */
	d = iface_diff(b, a);
	assert_int_equal(json_array_size(json_object_get(json_object_get(d,
	    "provides"), "added")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(json_object_get(d, "provides"), "added"), 0),
	    "name")), "employees");
	json_decref(d);

	/* From nothing, everything is added; to nothing, removed. */
	d = iface_diff(NULL, b);
	assert_int_equal(json_array_size(json_object_get(json_object_get(d,
	    "provides"), "added")), 3);
	assert_int_equal(json_array_size(json_object_get(json_object_get(d,
	    "consumes"), "added")), 2);
	json_decref(d);
	d = iface_diff(a, NULL);
	assert_int_equal(json_array_size(json_object_get(json_object_get(d,
	    "provides"), "removed")), 3);
	json_decref(d);
	d = iface_diff(NULL, NULL);
	expect_json(d, "{\"provides\": {\"added\": [], \"removed\": [], "
	    "\"changed\": []}, \"consumes\": {\"added\": [], \"removed\": [], "
	    "\"changed\": []}}");
	json_decref(d);
	json_decref(a);
	json_decref(b);
}

/* Order, version and white space in signatures are not changes. */
static void
test_diff_equivalent(void **state)
{
	json_t *a = load("{\"domain\": \"d\", \"version\": 1, \"provides\": ["
	    "{\"kind\": \"http\", \"name\": \"GET /a\", \"signature\": "
	    "\"GET /a -> 200\"},"
	    "{\"kind\": \"type\", \"name\": \"A\", \"schema\": {\"x\": 1, "
	    "\"y\": 2}}]}");
	json_t *b = load("{\"domain\": \"d\", \"version\": 9, \"provides\": ["
	    "{\"kind\": \"type\", \"name\": \"A\", \"schema\": {\"y\": 2, "
	    "\"x\": 1}},"
	    "{\"kind\": \"http\", \"name\": \"GET /a\", \"signature\": "
	    "\"\\tGET  /a\\n->   200 \"}]}");
	json_t *d = iface_diff(a, b), *ca;

	expect_json(d, "{\"provides\": {\"added\": [], \"removed\": [], "
	    "\"changed\": []}, \"consumes\": {\"added\": [], \"removed\": [], "
	    "\"changed\": []}}");
	ca = iface_canonical(a);
	expect_canonical_is(b, ca);
	json_decref(ca);
	json_decref(d);
	json_decref(a);
	json_decref(b);
}

/* ------------------------------------------------------------ unresolved */

static json_t *
payslips(void)
{
	json_t *l = json_array();

	json_array_append_new(l, load(PAYSLIPS_DATABASE));
	json_array_append_new(l, load(PAYSLIPS_LOGIC));
	json_array_append_new(l, load(PAYSLIPS_FRONTEND));
	return l;
}

static void
test_payslips_valid(void **state)
{
	expect_valid(PAYSLIPS_DATABASE, "database");
	expect_valid(PAYSLIPS_LOGIC, "logic");
	expect_valid(PAYSLIPS_FRONTEND, "frontend");
	expect_error(PAYSLIPS_LOGIC, "frontend", "domain: \"logic\", but the "
	    "document is published by \"frontend\"");
}

static void
test_unresolved_resolved(void **state)
{
	json_t *l = payslips(), *u;

	u = iface_unresolved(l, NULL);
	expect_json(u, "[]");
	json_decref(u);
	/* The previous versions do not matter when all resolves. */
	u = iface_unresolved(l, l);
	expect_json(u, "[]");
	json_decref(u);
	json_decref(l);
}

/* The four examples of docs/interface.md, in one task. */
static void
test_unresolved_problems(void **state)
{
	json_t *l = payslips(), *prev = json_array(), *u, *db, *logic, *fe;

	db = json_array_get(l, 0);
	logic = json_array_get(l, 1);
	fe = json_array_get(l, 2);
	/* logic's previous version is the example; its latest renames an
	 * endpoint frontend consumes. */
	json_array_append_new(prev, json_deep_copy(logic));
	json_object_set_new(entry_of(logic, "provides",
	    "GET /employees/{id}/payslips"), "name",
	    json_string("GET /payslips"));
	/* database added a column. */
	json_object_set_new(entry_of(db, "provides", "payslips"), "signature",
	    json_string("CREATE TABLE payslips (id INTEGER PRIMARY KEY, "
	    "employee_id INTEGER NOT NULL REFERENCES employees(id), period "
	    "TEXT NOT NULL, gross_cents INTEGER NOT NULL, net_cents INTEGER "
	    "NOT NULL, currency TEXT NOT NULL DEFAULT 'EUR', UNIQUE "
	    "(employee_id, period))"));
	/* frontend wants two things nobody has. */
	json_array_append_new(json_object_get(fe, "consumes"), load(
	    "{\"kind\": \"http\", \"name\": \"POST /login\", "
	    "\"from\": \"auth\"}"));
	json_array_append_new(json_object_get(fe, "consumes"), load(
	    "{\"kind\": \"http\", \"name\": \"GET /employees\", "
	    "\"from\": \"logic\"}"));
	expect_valid_doc(fe, "frontend");

	u = iface_unresolved(l, prev);
	expect_json(u, "["
	    "{\"problem\": \"no_domain\", \"consumer\": \"frontend\", "
	    "\"provider\": \"auth\", \"kind\": \"http\", "
	    "\"name\": \"POST /login\"},"
	    "{\"problem\": \"missing\", \"consumer\": \"frontend\", "
	    "\"provider\": \"logic\", \"kind\": \"http\", "
	    "\"name\": \"GET /employees\"},"
	    "{\"problem\": \"removed\", \"consumer\": \"frontend\", "
	    "\"provider\": \"logic\", \"kind\": \"http\", "
	    "\"name\": \"GET /employees/{id}/payslips\"},"
	    "{\"problem\": \"changed\", \"consumer\": \"logic\", "
	    "\"provider\": \"database\", \"kind\": \"table\", "
	    "\"name\": \"payslips\","
	    " \"expected\": {\"signature\": \"CREATE TABLE payslips (id "
	    "INTEGER PRIMARY KEY, employee_id INTEGER NOT NULL REFERENCES "
	    "employees(id), period TEXT NOT NULL, gross_cents INTEGER NOT "
	    "NULL, net_cents INTEGER NOT NULL, UNIQUE (employee_id, "
	    "period))\"},"
	    " \"provided\": {\"signature\": \"CREATE TABLE payslips (id "
	    "INTEGER PRIMARY KEY, employee_id INTEGER NOT NULL REFERENCES "
	    "employees(id), period TEXT NOT NULL, gross_cents INTEGER NOT "
	    "NULL, net_cents INTEGER NOT NULL, currency TEXT NOT NULL DEFAULT "
	    "'EUR', UNIQUE (employee_id, period))\"}}]");
	json_decref(u);

	/* Without the previous version the rename is only "missing". */
	u = iface_unresolved(l, NULL);
	assert_int_equal(json_array_size(u), 4);
	assert_string_equal(item_str(u, 2, "problem"), "missing");
	json_decref(u);
	json_decref(prev);
	json_decref(l);
}

static void
test_unresolved_schema(void **state)
{
	json_t *l = payslips(), *u, *want;

	/* frontend expects a field logic's Payslip lacks, and a signature
	 * on an endpoint whose provider gives none. */
	json_object_set_new(json_object_get(json_object_get(entry_of(
	    json_array_get(l, 2), "consumes", "Payslip"), "schema"),
	    "properties"), "pdf_url", json_pack("{s:s}", "type", "string"));
	json_object_set_new(entry_of(json_array_get(l, 1), "provides",
	    "POST /payslips"), "signature", json_null());
	json_object_set_new(entry_of(json_array_get(l, 2), "consumes",
	    "POST /payslips"), "signature", json_string("POST /payslips "
	    "Payslip -> 201 Payslip"));
	u = iface_unresolved(l, NULL);
	assert_int_equal(json_array_size(u), 2);
	expect_json(json_array_get(u, 0), "{\"problem\": \"changed\", "
	    "\"consumer\": \"frontend\", \"provider\": \"logic\", "
	    "\"kind\": \"http\", \"name\": \"POST /payslips\", "
	    "\"expected\": {\"signature\": \"POST /payslips Payslip -> 201 "
	    "Payslip\"}, \"provided\": {\"signature\": null}}");
	assert_string_equal(item_str(u, 1, "name"), "Payslip");
	want = json_object_get(entry_of(json_array_get(l, 2), "consumes",
	    "Payslip"), "schema");
	assert_true(json_equal(json_object_get(json_object_get(
	    json_array_get(u, 1), "expected"), "schema"), want));
	assert_true(json_equal(json_object_get(json_object_get(
	    json_array_get(u, 1), "provided"), "schema"),
	    json_object_get(entry_of(json_array_get(l, 1), "provides",
	    "Payslip"), "schema")));
	json_decref(u);
	json_decref(l);
}

/* White space in signatures does not matter; doc never does. */
static void
test_unresolved_compatible(void **state)
{
	json_t *l = payslips(), *u, *e;

	e = entry_of(json_array_get(l, 1), "consumes", "employees");
	json_object_set_new(e, "signature", json_string("CREATE\tTABLE "
	    "employees  (id INTEGER PRIMARY KEY,\n\tname TEXT NOT NULL,\n"
	    "\temail TEXT NOT NULL UNIQUE,\r\n\thired DATE NOT NULL)\n"));
	json_object_set_new(e, "doc", json_string("we read it"));
	u = iface_unresolved(l, NULL);
	expect_json(u, "[]");
	json_decref(u);
	json_decref(l);
}

/* A domain of the task that has not published yet is passed as
 * {"domain": name}: what others want of it is missing, not no_domain. */
static void
test_unresolved_placeholder(void **state)
{
	json_t *l = json_array(), *none = json_array(), *u;

	json_array_append_new(l, load(PAYSLIPS_FRONTEND));
	json_array_append_new(l, load("{\"domain\": \"logic\"}"));
	u = iface_unresolved(l, none);
	json_decref(none);
	assert_int_equal(json_array_size(u), 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(item_str(u, i, "problem"), "missing");
		assert_string_equal(item_str(u, i, "provider"), "logic");
	}
	json_decref(u);
	json_array_remove(l, 1);
	u = iface_unresolved(l, NULL);
	assert_int_equal(json_array_size(u), 3);
	assert_string_equal(item_str(u, 0, "problem"), "no_domain");
	json_decref(u);
	json_decref(l);
}

/* interface.peers rows carry the document under "document". */
static void
test_unresolved_rows(void **state)
{
	json_t *l = payslips(), *rows = json_array(), *u, *d;
	size_t i;

	json_object_set_new(json_array_get(l, 1), "provides", json_array());
	json_array_foreach(l, i, d) {
		json_array_append_new(rows, json_pack("{s:i, s:O, s:i, s:s, "
		    "s:O}", "id", (int)i + 1, "domain", json_object_get(d,
		    "domain"), "version", 3, "hash", "0123", "document", d));
	}
	u = iface_unresolved(rows, NULL);
	d = iface_unresolved(l, NULL);
	assert_int_equal(json_array_size(u), 3);
	assert_true(json_equal(u, d));
	json_decref(u);
	json_decref(d);
	json_decref(rows);
	json_decref(l);
}

static void
shuffle(json_t *arr, uint64_t *rng)
{
	size_t n = json_array_size(arr);
	json_t *a, *b;

	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)tu_range(rng, 0, i - 1);

		a = json_incref(json_array_get(arr, i - 1));
		b = json_incref(json_array_get(arr, j));
		json_array_set_new(arr, i - 1, b);
		json_array_set_new(arr, j, a);
	}
}

static void
test_unresolved_deterministic(void **state)
{
	uint64_t rng = tu_seed(__func__);
	json_t *l = payslips(), *base, *u, *d;
	char name[32];
	size_t i;

	/* Many problems of every kind. */
	for (int k = 0; k < 12; k++) {
		snprintf(name, sizeof(name), "thing%d", k);
		json_array_append_new(json_object_get(json_array_get(l, 2),
		    "consumes"), json_pack("{s:s, s:s, s:s}", "kind",
		    k % 2 ? "event" : "http", "name", name, "from",
		    k % 3 ? "logic" : "nowhere"));
		json_array_append_new(json_object_get(json_array_get(l, 1),
		    "consumes"), json_pack("{s:s, s:s, s:s, s:s}", "kind",
		    "table", "name", name, "from", "database", "signature",
		    "x"));
	}
	base = iface_unresolved(l, NULL);
	assert_int_equal(json_array_size(base), 24);
	for (int round = 0; round < 20; round++) {
		shuffle(l, &rng);
		json_array_foreach(l, i, d) {
			shuffle(json_object_get(d, "provides"), &rng);
			shuffle(json_object_get(d, "consumes"), &rng);
		}
		u = iface_unresolved(l, NULL);
		if (!json_equal(u, base))
			fail_msg("round %d: another order", round);
		json_decref(u);
	}
	json_decref(base);
	json_decref(l);
}

static void
test_unresolved_garbage(void **state)
{
	json_t *j, *u;

	u = iface_unresolved(NULL, NULL);
	expect_json(u, "[]");
	json_decref(u);
	j = load("[1, \"x\", null, {}, {\"domain\": 3, \"consumes\": "
	    "[{\"kind\": \"a\", \"name\": \"b\", \"from\": \"c\"}]},"
	    " {\"domain\": \"a\", \"consumes\": [1, {\"kind\": \"http\", "
	    "\"name\": \"n\"}, {\"kind\": \"http\", \"name\": \"n\", "
	    "\"from\": 5}, {\"kind\": \"http\", \"name\": \"m\", "
	    "\"from\": \"a\"}], \"provides\": 7}]");
	u = iface_unresolved(j, j);
	expect_json(u, "[{\"problem\": \"missing\", \"consumer\": \"a\", "
	    "\"provider\": \"a\", \"kind\": \"http\", \"name\": \"m\"}]");
	json_decref(u);
	u = iface_unresolved(json_object_get(j, "x"), j);
	expect_json(u, "[]");
	json_decref(u);
	json_decref(j);
}

/* ------------------------------------------------------------ the doc */

/* The JSON block that follows "`domain`:" in the definition. */
static json_t *
doc_block(const char *md, const char *domain)
{
	char head[64];
	const char *p, *end;
	json_error_t e;

	snprintf(head, sizeof(head), "\n`%s`:\n\n```json\n", domain);
	if ((p = strstr(md, head)) == NULL)
		fail_msg("docs/interface.md has no example for %s", domain);
	p += strlen(head);
	if ((end = strstr(p, "```")) == NULL)
		fail_msg("unclosed example for %s", domain);
	json_t *j = json_loadb(p, (size_t)(end - p), 0, &e);
	if (j == NULL)
		fail_msg("the %s example does not parse: %s", domain, e.text);
	return j;
}

static void
test_payslips_doc_in_sync(void **state)
{
	static const struct { const char *domain, *text; } ex[] = {
		{ "database", PAYSLIPS_DATABASE },
		{ "logic", PAYSLIPS_LOGIC },
		{ "frontend", PAYSLIPS_FRONTEND },
	};
	const char *top = getenv("MASTERD_TOP");
	char path[PATH_MAX];
	char *md;

	snprintf(path, sizeof(path), "%s%sdocs/interface.md",
	    top != NULL ? top : "", top != NULL ? "/" : "");
	if ((md = tu_read_file(path)) == NULL) {
		print_message("%s not found: not compared\n", path);
		skip();
	}
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		json_t *a = doc_block(md, ex[i].domain), *b = load(ex[i].text);

		if (!json_equal(a, b))
			fail_msg("the %s example of docs/interface.md and "
			    "PAYSLIPS_%s differ", ex[i].domain, ex[i].domain);
		json_decref(a);
		json_decref(b);
	}
	free(md);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_validate_minimal),
		cmocka_unit_test(test_validate_top),
		cmocka_unit_test(test_validate_publisher_null),
		cmocka_unit_test(test_validate_limits),
		cmocka_unit_test(test_validate_entry_shape),
		cmocka_unit_test(test_validate_kind),
		cmocka_unit_test(test_validate_name),
		cmocka_unit_test(test_validate_from),
		cmocka_unit_test(test_validate_duplicates),
		cmocka_unit_test(test_validate_error_utf8),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_canonical_lenient),
		cmocka_unit_test(test_signature_formatting),
		cmocka_unit_test(test_validate_test),
		cmocka_unit_test(test_test_canonical),
		cmocka_unit_test(test_contract_tests),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_diff_equivalent),
		cmocka_unit_test(test_payslips_valid),
		cmocka_unit_test(test_unresolved_resolved),
		cmocka_unit_test(test_unresolved_problems),
		cmocka_unit_test(test_unresolved_schema),
		cmocka_unit_test(test_unresolved_compatible),
		cmocka_unit_test(test_unresolved_placeholder),
		cmocka_unit_test(test_unresolved_rows),
		cmocka_unit_test(test_unresolved_deterministic),
		cmocka_unit_test(test_unresolved_garbage),
		cmocka_unit_test(test_payslips_doc_in_sync),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
