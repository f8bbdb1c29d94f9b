/*
 * test_registry.c — the SQLite store: schema and migrations, every table's
 * reads and writes, the append-only and merge rules the database itself
 * enforces, and durability across close, reopen and kill -9.
 *
 * Each test gets a fresh database in its own mkdtemp directory.  A second,
 * raw sqlite3 connection plays the part of anything else touching the file.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "common/log.h"
#include "daemon/masterd/registry.h"

/* Bump with each migration added to registry.c. */
#define SCHEMA_VERSION	11

struct fixture {
	char dir[PATH_MAX];
	char path[PATH_MAX];
	struct registry *r;
	int errors;		/* err lines logged */
	char last[512];		/* the last one */
};

static void
count_errors(int level, const char *line, void *arg)
{
	struct fixture *f = arg;

	if (level > LOG_ERR)
		return;
	f->errors++;
	snprintf(f->last, sizeof(f->last), "%s", line);
}

static struct registry *
reopen(struct fixture *f)
{
	char err[256] = "";
	struct registry *r;

	r = registry_open(f->path, err, sizeof(err));
	if (r == NULL)
		fail_msg("registry_open: %s", err);
	return r;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/test_registry.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/masterd.db", f->dir);
	log_set_sink(count_errors, f);
	f->r = reopen(f);
	*state = f;
	return 0;
}

static void
unlink_suffix(const struct fixture *f, const char *suffix)
{
	char p[PATH_MAX + 8];

	snprintf(p, sizeof(p), "%s%s", f->path, suffix);
	if (unlink(p) == -1 && errno != ENOENT)
		fprintf(stderr, "unlink %s: %s\n", p, strerror(errno));
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	registry_close(f->r);
	log_set_sink(NULL, NULL);
	unlink_suffix(f, "");
	unlink_suffix(f, "-wal");
	unlink_suffix(f, "-shm");
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ------------------------------------------------------------ raw access */

static sqlite3 *
raw_open(const struct fixture *f)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static int64_t
raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
raw_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* ---------------------------------------------------------- JSON helpers */

static int64_t
jint(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v))
		fail_msg("\"%s\" is not an integer", k);
	return json_integer_value(v);
}

static const char *
jstr(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_string(v))
		fail_msg("\"%s\" is not a string", k);
	return json_string_value(v);
}

static bool
jnull(const json_t *o, const char *k)
{
	return json_is_null(json_object_get(o, k));
}

/* The object has exactly these keys. */
static void
assert_keys(const json_t *o, ...)
{
	va_list ap;
	const char *k;
	size_t n = 0;

	assert_true(json_is_object(o));
	va_start(ap, o);
	while ((k = va_arg(ap, const char *)) != NULL) {
		if (json_object_get(o, k) == NULL)
			fail_msg("missing key \"%s\"", k);
		n++;
	}
	va_end(ap);
	assert_int_equal(json_object_size(o), n);
}

static json_t *
jparse(const char *text)
{
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);

	assert_non_null(j);
	return j;
}

static int64_t
add_task(struct registry *r, const char *text)
{
	int64_t id = 0;

	assert_int_equal(registry_task_add(r, text, NULL, NULL, &id), 0);
	assert_true(id > 0);
	return id;
}

static int64_t
add_domain(struct registry *r, int64_t task, const char *name)
{
	int64_t id = 0;

	assert_int_equal(registry_domain_add(r, task, name, NULL, NULL, NULL,
	    false, &id),
	    0);
	assert_true(id > 0);
	return id;
}

static int
add_iface(struct registry *r, int64_t domain, const char *doc, bool *changed)
{
	json_t *j = jparse(doc);
	int version = -1;

	assert_int_equal(registry_interface_add(r, domain, j, false,
	    &version, changed), 0);
	json_decref(j);
	return version;
}

static int64_t
add_directive(struct registry *r, int64_t task, int64_t domain,
    const char *text, int priority, bool *merged)
{
	int64_t id = 0;

	assert_int_equal(registry_directive_add(r, task, domain, SOURCE_USER, text,
	    priority, &id, merged), 0);
	return id;
}

/* Check that the list `l` has `n` items, and free it. */
static void
expect_size(json_t *l, size_t n)
{
	assert_int_equal(json_array_size(l), n);
	json_decref(l);
}

static double
wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- schema */

static void
test_open_creates_schema(void **state)
{
	struct fixture *f = *state;
	char wal[PATH_MAX + 8];
	struct stat sb;
	mode_t old;
	sqlite3 *db;

	/* Created afresh with no umask to help: the 0600 is the registry's. */
	registry_close(f->r);
	unlink_suffix(f, "");
	unlink_suffix(f, "-wal");
	unlink_suffix(f, "-shm");
	old = umask(0);
	f->r = reopen(f);
	umask(old);

	db = raw_open(f);
	assert_int_equal(registry_schema_version(f->r), SCHEMA_VERSION);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), SCHEMA_VERSION);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master"
	    " WHERE type = 'table' AND name IN ('tasks', 'domains',"
	    " 'interfaces', 'directives', 'events')"), 5);
	/* Append only, and counted. */
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master"
	    " WHERE type = 'trigger' AND tbl_name = 'interfaces'"), 3);
	/* The running totals of the scoreboard and status. */
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master"
	    " WHERE type = 'table' AND name IN ('scores', 'counters')"), 2);
	assert_int_equal(raw_int(db, "SELECT journal_mode = 'wal'"
	    " FROM pragma_journal_mode"), 1);
	sqlite3_close(db);

	/* Private to the user, WAL included. */
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	add_task(f->r, "makes a WAL");
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_string_equal(registry_errmsg(f->r), "");
}

static void
test_reopen_idempotent(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db = raw_open(f);
	int64_t objects = raw_int(db, "SELECT count(*) FROM sqlite_master");
	int i;

	add_task(f->r, "kept");
	for (i = 0; i < 3; i++) {
		registry_close(f->r);
		f->r = reopen(f);
		assert_int_equal(registry_schema_version(f->r), SCHEMA_VERSION);
	}
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master"),
	    objects);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM tasks"), 1);
	sqlite3_close(db);
}

static void
test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	char err[256] = "", sql[64];
	sqlite3 *db;

	registry_close(f->r);
	f->r = NULL;
	db = raw_open(f);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    SCHEMA_VERSION + 1);
	assert_int_equal(raw_exec(db, sql), SQLITE_OK);
	sqlite3_close(db);

	assert_null(registry_open(f->path, err, sizeof(err)));
	assert_non_null(strstr(err, "newer"));

	/* Refusing must not have touched it. */
	db = raw_open(f);
	assert_int_equal(raw_int(db, "PRAGMA user_version"),
	    SCHEMA_VERSION + 1);
	sqlite3_close(db);
}

static void
test_not_a_database(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	FILE *fp;

	registry_close(f->r);
	f->r = NULL;
	unlink_suffix(f, "-wal");
	unlink_suffix(f, "-shm");
	assert_non_null(fp = fopen(f->path, "w"));
	fputs("this is not an SQLite database, not even close to one\n", fp);
	for (int i = 0; i < 100; i++)
		fputs("filler filler filler filler filler filler filler\n", fp);
	fclose(fp);
	assert_null(registry_open(f->path, err, sizeof(err)));
	assert_true(err[0] != '\0');
}

static void
test_open_bad_path(void **state)
{
	struct fixture *f = *state;
	char err[256] = "", p[PATH_MAX + 32];

	snprintf(p, sizeof(p), "%s/missing/dir/masterd.db", f->dir);
	assert_null(registry_open(p, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
	/* A NULL err buffer is allowed. */
	assert_null(registry_open(p, NULL, 0));
}

/* ----------------------------------------------------------------- tasks */

static void
test_tasks(void **state)
{
	struct fixture *f = *state;
	json_t *standing = jparse("[\"be brief\"]");
	struct budget budget = { .set = 1u << BUDGET_ROUNDS };
	json_t *t, *list;
	int64_t a = 0, b;
	double before = wall();

	budget.limit[BUDGET_ROUNDS] = 10;
	assert_int_equal(registry_task_add(f->r, "build a shop", standing,
	    &budget, &a), 0);
	b = add_task(f->r, "second");
	assert_true(b > a);

	t = registry_task_get(f->r, a);
	assert_non_null(t);
	assert_keys(t, "id", "text", "state", "paused", "reason", "created",
	    "updated", "standing", "budget_tokens", "budget_cost",
	    "budget_rounds", "budget_time", "plan", "reviews", "planner_in",
	    "planner_out", "planner_cost", "progress_since", "planner_model",
	    "integration_checks", "integration_failures", "import", NULL);
	assert_int_equal(jint(t, "id"), a);
	assert_string_equal(jstr(t, "text"), "build a shop");
	assert_string_equal(jstr(t, "state"),
	    task_state_names[TASK_PLANNED]);
	assert_true(json_is_false(json_object_get(t, "paused")));
	assert_true(jnull(t, "reason"));
	assert_true(json_is_real(json_object_get(t, "created")));
	assert_true(json_real_value(json_object_get(t, "created")) >=
	    before - 1);
	assert_true(json_equal(json_object_get(t, "standing"), standing));
	assert_true(json_number_value(json_object_get(t, "budget_rounds")) ==
	    10);
	assert_true(jnull(t, "budget_tokens"));
	assert_true(jnull(t, "plan"));
	assert_int_equal(jint(t, "reviews"), 0);
	json_decref(t);

	/* No standing directives read back as null. */
	t = registry_task_get(f->r, b);
	assert_true(jnull(t, "standing"));
	json_decref(t);

	/* Each of the task's own fields is written alone. */
	budget.set |= 1u << BUDGET_COST;
	budget.limit[BUDGET_COST] = 2.5;
	assert_int_equal(registry_task_set_budget(f->r, b, &budget), 0);
	assert_int_equal(registry_task_set_plan(f->r, b, standing), 0);
	assert_int_equal(registry_task_set_reviews(f->r, b, 2), 0);
	assert_int_equal(registry_task_set_progress(f->r, b, 17), 0);
	assert_int_equal(registry_task_set_planner_usage(f->r, b,
	    &(struct usage){ 5, 7, 0.25 }), 0);
	t = registry_task_get(f->r, b);
	assert_true(json_number_value(json_object_get(t, "budget_cost")) ==
	    2.5);
	assert_true(json_number_value(json_object_get(t, "budget_rounds")) ==
	    10);
	assert_true(json_equal(json_object_get(t, "plan"), standing));
	assert_int_equal(jint(t, "reviews"), 2);
	assert_int_equal(jint(t, "progress_since"), 17);
	assert_int_equal(jint(t, "planner_in"), 5);
	assert_int_equal(jint(t, "planner_out"), 7);
	assert_true(json_number_value(json_object_get(t, "planner_cost")) ==
	    0.25);
	json_decref(t);
	assert_int_equal(registry_task_set_reviews(f->r, 9999, 1),
	    REG_NOT_FOUND);

	assert_int_equal(registry_task_set_state(f->r, a, TASK_FAILED,
	    "out of budget"), 0);
	assert_int_equal(registry_task_set_paused(f->r, b, true, "user"), 0);
	t = registry_task_get(f->r, a);
	assert_string_equal(jstr(t, "state"),
	    task_state_names[TASK_FAILED]);
	assert_string_equal(jstr(t, "reason"), "out of budget");
	json_decref(t);
	t = registry_task_get(f->r, b);
	assert_true(json_is_true(json_object_get(t, "paused")));
	assert_string_equal(jstr(t, "reason"), "user");
	json_decref(t);
	assert_int_equal(registry_task_set_paused(f->r, b, false, NULL), 0);
	t = registry_task_get(f->r, b);
	assert_true(json_is_false(json_object_get(t, "paused")));
	assert_true(jnull(t, "reason"));
	json_decref(t);

	/* Newest first. */
	list = registry_tasks(f->r);
	assert_int_equal(json_array_size(list), 2);
	assert_int_equal(jint(json_array_get(list, 0), "id"), b);
	assert_int_equal(jint(json_array_get(list, 1), "id"), a);
	json_decref(list);

	assert_null(registry_task_get(f->r, 9999));
	assert_int_equal(registry_task_set_state(f->r, 9999, TASK_DONE, NULL),
	    REG_NOT_FOUND);
	assert_int_equal(registry_task_set_paused(f->r, 9999, true, NULL),
	    REG_NOT_FOUND);
	assert_int_equal(f->errors, 0);

	/* A state outside the life cycle is refused and logged. */
	assert_int_equal(registry_task_set_state(f->r, a, (enum task_state)99,
	    NULL), -1);
	assert_non_null(strstr(registry_errmsg(f->r), "invalid state"));
	assert_int_equal(f->errors, 1);
	json_decref(standing);
}

static void
test_tasks_unfinished(void **state)
{
	struct fixture *f = *state;
	int64_t id[6];
	json_t *u;
	int i;

	for (i = 0; i < 6; i++)
		id[i] = add_task(f->r, "t");
	assert_int_equal(registry_task_set_state(f->r, id[0], TASK_DONE,
	    NULL), 0);
	assert_int_equal(registry_task_set_state(f->r, id[2], TASK_FAILED,
	    "x"), 0);
	assert_int_equal(registry_task_set_state(f->r, id[3], TASK_CANCELLED,
	    NULL), 0);
	assert_int_equal(registry_task_set_state(f->r, id[4], TASK_IMPROVING,
	    NULL), 0);
	assert_int_equal(registry_task_set_paused(f->r, id[5], true, "p"), 0);

	/* Paused is not finished; oldest first. */
	u = registry_tasks_unfinished(f->r);
	assert_non_null(u);
	assert_int_equal(json_array_size(u), 3);
	assert_int_equal(json_integer_value(json_array_get(u, 0)), id[1]);
	assert_int_equal(json_integer_value(json_array_get(u, 1)), id[4]);
	assert_int_equal(json_integer_value(json_array_get(u, 2)), id[5]);
	json_decref(u);
}

/* --------------------------------------------------------------- domains */

static void
test_domains(void **state)
{
	struct fixture *f = *state;
	json_t *checks = jparse("[\"make\", \"make check\"]");
	int64_t t1 = add_task(f->r, "one"), t2 = add_task(f->r, "two");
	int64_t api = 0, ui, other, found = -7;
	json_t *d, *list;

	assert_int_equal(registry_domain_add(f->r, t1, "api", "write the API",
	    checks, NULL, false, &api), 0);
	ui = add_domain(f->r, t1, "ui");
	other = add_domain(f->r, t2, "api");	/* same name, other task */
	assert_true(api != other);

	d = registry_domain_get(f->r, api);
	assert_non_null(d);
	assert_keys(d, "id", "task", "name", "state", "reason", "prompt",
	    "checks", "restarts", "created", "updated", "folder", NULL);
	assert_int_equal(jint(d, "task"), t1);
	assert_string_equal(jstr(d, "name"), "api");
	assert_string_equal(jstr(d, "state"),
	    domain_state_names[DOMAIN_STOPPED]);
	assert_string_equal(jstr(d, "prompt"), "write the API");
	assert_true(json_equal(json_object_get(d, "checks"), checks));
	assert_int_equal(jint(d, "restarts"), 0);
	json_decref(d);

	assert_int_equal(registry_domain_find(f->r, t1, "ui", &found), 0);
	assert_int_equal(found, ui);
	assert_int_equal(registry_domain_find(f->r, t2, "api", &found), 0);
	assert_int_equal(found, other);
	found = -7;
	assert_int_equal(registry_domain_find(f->r, t2, "ui", &found),
	    REG_NOT_FOUND);
	assert_int_equal(found, -7);

	assert_int_equal(registry_domain_set_state(f->r, ui, DOMAIN_BACKOFF,
	    "crashed"), 0);
	assert_int_equal(registry_domain_count_restart(f->r, ui), 0);
	assert_int_equal(registry_domain_count_restart(f->r, ui), 0);
	d = registry_domain_get(f->r, ui);
	assert_string_equal(jstr(d, "state"),
	    domain_state_names[DOMAIN_BACKOFF]);
	assert_string_equal(jstr(d, "reason"), "crashed");
	assert_int_equal(jint(d, "restarts"), 2);
	assert_true(jnull(d, "prompt"));
	assert_true(jnull(d, "checks"));
	json_decref(d);

	list = registry_domains(f->r, t1);
	assert_int_equal(json_array_size(list), 2);
	assert_int_equal(jint(json_array_get(list, 0), "id"), api);
	assert_int_equal(jint(json_array_get(list, 1), "id"), ui);
	json_decref(list);
	expect_size(registry_domains(f->r, 0), 3);
	expect_size(registry_domains(f->r, 12345), 0);

	assert_null(registry_domain_get(f->r, 12345));
	assert_int_equal(registry_domain_count_restart(f->r, 12345),
	    REG_NOT_FOUND);
	assert_int_equal(registry_domain_set_state(f->r, 12345, DOMAIN_DONE,
	    NULL), REG_NOT_FOUND);
	assert_int_equal(registry_domain_set_state(f->r, ui,
	    (enum domain_state)99, NULL), -1);
	json_decref(checks);
}

static void
test_domain_unique(void **state)
{
	struct fixture *f = *state;
	int64_t t = add_task(f->r, "t"), first = add_domain(f->r, t, "api");
	int64_t id = -7;

	assert_int_equal(f->errors, 0);
	assert_int_equal(registry_domain_add(f->r, t, "api", NULL, NULL, NULL,
	    false, &id),
	    -1);
	assert_int_equal(id, -7);
	assert_non_null(strstr(registry_errmsg(f->r), "UNIQUE"));
	assert_int_equal(f->errors, 1);
	assert_non_null(strstr(f->last, "UNIQUE"));

	/* A domain of a task that does not exist: the foreign key. */
	assert_int_equal(registry_domain_add(f->r, 999, "x", NULL, NULL, NULL,
	    false, &id),
	    -1);
	assert_non_null(strstr(registry_errmsg(f->r), "FOREIGN KEY"));

	/* The handle is still good. */
	assert_true(add_domain(f->r, t, "ui") > first);
	expect_size(registry_domains(f->r, t), 2);
}

/* A batch is one transaction: all of it, or nothing of it. */
static void
test_batch(void **state)
{
	struct fixture *f = *state;
	int64_t t, d, id = 0;

	assert_int_equal(registry_batch_begin(f->r), 0);
	t = add_task(f->r, "whole");
	d = add_domain(f->r, t, "api");
	assert_int_equal(registry_batch_end(f->r, true), 0);
	assert_int_equal(registry_domain_find(f->r, t, "api", &id), 0);
	assert_int_equal(id, d);

	/* An inner batch that fails takes the outer one with it. */
	assert_int_equal(registry_batch_begin(f->r), 0);
	assert_true(add_task(f->r, "half") > t);
	assert_int_equal(registry_batch_begin(f->r), 0);
	assert_int_equal(registry_domain_add(f->r, t, "api", NULL, NULL, NULL,
	    false, &id),
	    -1);			/* UNIQUE: undone alone */
	assert_int_equal(registry_batch_end(f->r, false), 0);
	assert_int_equal(registry_batch_end(f->r, true), -1);
	assert_non_null(strstr(registry_errmsg(f->r), "rolled back"));
	expect_size(registry_tasks(f->r), 1);

	/* A batch ended without commit leaves nothing; the handle goes on. */
	assert_int_equal(registry_batch_begin(f->r), 0);
	add_task(f->r, "dropped");
	assert_int_equal(registry_batch_end(f->r, false), 0);
	expect_size(registry_tasks(f->r), 1);
	assert_true(add_task(f->r, "after") > t);
}

/* ------------------------------------------------------------ interfaces */

/* FNV-1a 64 of the canonical text {"a":1}, computed independently. */
#define HASH_A1	"9c3e82dd6fcae8b1"

static void
test_interface_versions(void **state)
{
	struct fixture *f = *state;
	int64_t t = add_task(f->r, "t"), d = add_domain(f->r, t, "api");
	bool changed = false;
	json_t *i, *doc;
	int64_t n = -1;

	assert_null(registry_interface_get(f->r, d, 0));
	assert_int_equal(add_iface(f->r, d, "{\"a\": 1}", &changed), 1);
	assert_true(changed);
	assert_int_equal(add_iface(f->r, d, "{\"a\": 1}", &changed), 1);
	assert_false(changed);
	assert_int_equal(add_iface(f->r, d,
	    "{\"a\": 2, \"b\": {\"x\": 1, \"y\": [1, 2]}}", &changed), 2);
	assert_true(changed);
	/* Key order, at any depth, is not a change. */
	assert_int_equal(add_iface(f->r, d,
	    "{\"b\": {\"y\": [1, 2], \"x\": 1}, \"a\": 2}", &changed), 2);
	assert_false(changed);
	/* Only the latest counts: going back to v1 is a new version. */
	assert_int_equal(add_iface(f->r, d, "{\"a\": 1}", &changed), 3);
	assert_true(changed);
	assert_int_equal(registry_interface_count(f->r, t, &n), 0);
	assert_int_equal(n, 3);

	i = registry_interface_get(f->r, d, 0);
	assert_non_null(i);
	assert_keys(i, "id", "task", "domain", "version", "hash", "created",
	    "document", "declared", NULL);
	assert_true(json_is_false(json_object_get(i, "declared")));
	assert_int_equal(jint(i, "version"), 3);
	assert_int_equal(jint(i, "task"), t);
	assert_string_equal(jstr(i, "domain"), "api");
	assert_string_equal(jstr(i, "hash"), HASH_A1);
	json_decref(i);

	i = registry_interface_get(f->r, d, 1);
	assert_string_equal(jstr(i, "hash"), HASH_A1);
	json_decref(i);

	i = registry_interface_get(f->r, d, 2);
	assert_int_equal(jint(i, "version"), 2);
	assert_int_equal(strlen(jstr(i, "hash")), 16);
	assert_string_not_equal(jstr(i, "hash"), HASH_A1);
	doc = jparse("{\"a\": 2, \"b\": {\"x\": 1, \"y\": [1, 2]}}");
	assert_true(json_equal(json_object_get(i, "document"), doc));
	json_decref(doc);
	json_decref(i);

	assert_null(registry_interface_get(f->r, d, 4));
	assert_null(registry_interface_get(f->r, 999, 0));
	assert_int_equal(f->errors, 0);
}


/* Declared and implemented versions: one sequence of numbers, each row
 * saying which it is; each kind repeats only what it would repeat. */
static void
test_interface_declared(void **state)
{
	struct fixture *f = *state;
	int64_t t = add_task(f->r, "t"), d = add_domain(f->r, t, "api");
	json_t *a = jparse("{\"a\": 1}"), *b = jparse("{\"b\": 1}"), *i;
	bool changed = false;
	int v = 0;

	/* Declared first: version 1. */
	assert_int_equal(registry_interface_add(f->r, d, a, true, &v,
	    &changed), 0);
	assert_int_equal(v, 1);
	assert_true(changed);
	/* The same declared again: nothing new. */
	assert_int_equal(registry_interface_add(f->r, d, a, true, &v,
	    &changed), 0);
	assert_int_equal(v, 1);
	assert_false(changed);
	/* Implemented, the same text: a version of its own. */
	assert_int_equal(registry_interface_add(f->r, d, a, false, &v,
	    &changed), 0);
	assert_int_equal(v, 2);
	assert_true(changed);
	/* Declared the same as the newest (implemented): nothing new. */
	assert_int_equal(registry_interface_add(f->r, d, a, true, &v,
	    &changed), 0);
	assert_int_equal(v, 2);
	assert_false(changed);
	/* Declared b, then implemented a again: a repeats the newest
	 * implemented version, so nothing is stored. */
	assert_int_equal(registry_interface_add(f->r, d, b, true, &v,
	    &changed), 0);
	assert_int_equal(v, 3);
	assert_int_equal(registry_interface_add(f->r, d, a, false, &v,
	    &changed), 0);
	assert_int_equal(v, 3);
	assert_false(changed);

	i = registry_interface_get(f->r, d, 0);
	assert_int_equal(jint(i, "version"), 3);
	assert_true(json_is_true(json_object_get(i, "declared")));
	json_decref(i);
	i = registry_interface_latest(f->r, d, false, 0);
	assert_int_equal(jint(i, "version"), 2);
	assert_true(json_is_false(json_object_get(i, "declared")));
	json_decref(i);
	i = registry_interface_latest(f->r, d, true, 0);
	assert_int_equal(jint(i, "version"), 3);
	json_decref(i);
	i = registry_interface_latest(f->r, d, true, 3);
	assert_int_equal(jint(i, "version"), 1);
	json_decref(i);
	assert_null(registry_interface_latest(f->r, d, false, 2));
	assert_null(registry_interface_latest(f->r, d, true, 1));
	json_decref(a);
	json_decref(b);
	assert_int_equal(f->errors, 0);
}

static void
test_interface_unknown_domain(void **state)
{
	struct fixture *f = *state;
	json_t *doc = jparse("{}");
	int version = -7;

	assert_int_equal(registry_interface_add(f->r, 999, doc, false,
	    &version, NULL), -1);
	assert_int_equal(version, -7);
	assert_non_null(strstr(registry_errmsg(f->r), "FOREIGN KEY"));
	assert_int_equal(registry_interface_add(f->r, 999, NULL, false,
	    &version, NULL), -1);
	json_decref(doc);

	/* The failed transaction was rolled back: writes still work. */
	add_task(f->r, "after");
}

static void
test_interfaces_latest(void **state)
{
	struct fixture *f = *state;
	int64_t t = add_task(f->r, "t"), t2 = add_task(f->r, "t2");
	int64_t ui = add_domain(f->r, t, "ui");
	int64_t api = add_domain(f->r, t, "api");
	int64_t idle = add_domain(f->r, t, "idle"), far = add_domain(f->r, t2,
	    "far");
	json_t *l;
	int64_t n = -1;

	(void)idle;
	add_iface(f->r, ui, "{\"v\": 1}", NULL);
	add_iface(f->r, api, "{\"v\": 1}", NULL);
	add_iface(f->r, ui, "{\"v\": 2}", NULL);
	add_iface(f->r, api, "{\"v\": 2}", NULL);
	add_iface(f->r, api, "{\"v\": 3}", NULL);
	add_iface(f->r, far, "{\"v\": 9}", NULL);

	/* By domain name; a domain that published nothing is absent. */
	l = registry_interfaces_latest(f->r, t);
	assert_non_null(l);
	assert_int_equal(json_array_size(l), 2);
	assert_string_equal(jstr(json_array_get(l, 0), "domain"), "api");
	assert_int_equal(jint(json_array_get(l, 0), "version"), 3);
	assert_int_equal(jint(json_object_get(json_array_get(l, 0),
	    "document"), "v"), 3);
	assert_string_equal(jstr(json_array_get(l, 1), "domain"), "ui");
	assert_int_equal(jint(json_array_get(l, 1), "version"), 2);
	json_decref(l);

	assert_int_equal(registry_interface_count(f->r, t, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(registry_interface_count(f->r, t2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(registry_interface_count(f->r, 0, &n), 0);
	assert_int_equal(n, 6);
}

static void
test_interfaces_append_only(void **state)
{
	struct fixture *f = *state;
	int64_t t = add_task(f->r, "t"), d = add_domain(f->r, t, "api");
	sqlite3 *db;
	json_t *i;

	add_iface(f->r, d, "{\"a\": 1}", NULL);
	db = raw_open(f);
	assert_int_equal(raw_exec(db, "UPDATE interfaces SET document = '{}'"),
	    SQLITE_CONSTRAINT);
	assert_non_null(strstr(sqlite3_errmsg(db), "append-only"));
	assert_int_equal(raw_exec(db, "DELETE FROM interfaces"),
	    SQLITE_CONSTRAINT);
	assert_non_null(strstr(sqlite3_errmsg(db), "append-only"));
	/* Nor can a version be taken twice. */
	assert_int_equal(raw_exec(db, "INSERT INTO interfaces (domain_id,"
	    " version, hash, document, created) SELECT domain_id, version,"
	    " hash, document, created FROM interfaces"), SQLITE_CONSTRAINT);
	sqlite3_close(db);

	i = registry_interface_get(f->r, d, 1);
	assert_int_equal(jint(json_object_get(i, "document"), "a"), 1);
	json_decref(i);
}

/* ------------------------------------------------------------ directives */

static json_t *
directive(struct fixture *f, int64_t task, int64_t id)
{
	json_t *all = registry_directives(f->r, task, 0), *d, *found = NULL;
	size_t i;

	json_array_foreach(all, i, d)
		if (jint(d, "id") == id)
			found = json_incref(d);
	json_decref(all);
	assert_non_null(found);
	return found;
}

/* A directive put back: when it may start, and a start not counted. */
static void
test_directive_defer(void **state)
{
	struct fixture *f = *state;
	int64_t t = add_task(f->r, "t"), d = add_domain(f->r, t, "api");
	int64_t a = add_directive(f->r, t, d, "fix", 1, NULL);
	json_t *o;

	assert_int_equal(registry_directive_set_state(f->r, a,
	    DIRECTIVE_RUNNING, NULL), 0);
	assert_int_equal(registry_directive_set_state(f->r, a,
	    DIRECTIVE_QUEUED, "failed"), 0);
	assert_int_equal(registry_directive_defer(f->r, a, 1700000123.5,
	    false), 0);
	o = directive(f, t, a);
	assert_true(json_real_value(json_object_get(o, "not_before")) ==
	    1700000123.5);
	assert_int_equal(jint(o, "attempts"), 1);
	json_decref(o);
	/* The provider's outage: no time, and the start not counted. */
	assert_int_equal(registry_directive_defer(f->r, a, 0, true), 0);
	o = directive(f, t, a);
	assert_true(json_is_null(json_object_get(o, "not_before")));
	assert_int_equal(jint(o, "attempts"), 0);
	json_decref(o);
	/* Never below zero. */
	assert_int_equal(registry_directive_defer(f->r, a, 0, true), 0);
	o = directive(f, t, a);
	assert_int_equal(jint(o, "attempts"), 0);
	json_decref(o);
	assert_int_equal(registry_directive_defer(f->r, 9999, 0, true),
	    REG_NOT_FOUND);
}

/* The breakers of providers down: one row per endpoint, replaced, then
 * removed. */
static void
test_providers(void **state)
{
	struct fixture *f = *state;
	struct provider_row p = { "chat http://x/v1", "llm", 100.5, 110.5, 0,
	    "HTTP 529: Overloaded" };
	json_t *rows;

	expect_size(registry_providers(f->r), 0);
	assert_int_equal(registry_provider_put(f->r, &p), 0);
	p.failures = 3;
	p.next_try = 190.5;
	assert_int_equal(registry_provider_put(f->r, &p), 0);
	rows = registry_providers(f->r);
	assert_int_equal(json_array_size(rows), 1);
	assert_keys(json_array_get(rows, 0), "endpoint", "name", "since",
	    "next_try", "failures", "reason", NULL);
	assert_int_equal(jint(json_array_get(rows, 0), "failures"), 3);
	assert_true(json_real_value(json_object_get(json_array_get(rows, 0),
	    "next_try")) == 190.5);
	assert_string_equal(jstr(json_array_get(rows, 0), "reason"),
	    "HTTP 529: Overloaded");
	json_decref(rows);
	assert_int_equal(registry_provider_del(f->r, p.endpoint), 0);
	expect_size(registry_providers(f->r), 0);
}

static void
test_directive_merge(void **state)
{
	struct fixture *f = *state;
	int64_t t = add_task(f->r, "t"), d = add_domain(f->r, t, "api");
	int64_t a, b;
	bool merged = true;
	json_t *o;

	a = add_directive(f->r, t, d, "fix the build", 1, &merged);
	assert_false(merged);
	o = directive(f, t, a);
	assert_keys(o, "id", "task", "domain", "source", "text", "priority",
	    "state", "attempts", "reason", "created", "updated", "not_before",
	    NULL);
	assert_string_equal(jstr(o, "state"),
	    directive_state_names[DIRECTIVE_QUEUED]);
	assert_string_equal(jstr(o, "source"), source_names[SOURCE_USER]);
	assert_string_equal(jstr(o, "domain"), "api");
	assert_int_equal(jint(o, "attempts"), 0);
	json_decref(o);

	b = add_directive(f->r, t, d, "fix the build", 5, &merged);
	assert_true(merged);
	assert_int_equal(b, a);
	/* A lower priority merges without lowering it. */
	b = add_directive(f->r, t, d, "fix the build", 2, &merged);
	assert_true(merged);
	assert_int_equal(b, a);
	o = directive(f, t, a);
	assert_int_equal(jint(o, "priority"), 5);
	json_decref(o);

	/* Running is still open. */
	assert_int_equal(registry_directive_set_state(f->r, a,
	    DIRECTIVE_RUNNING, NULL), 0);
	assert_int_equal(add_directive(f->r, t, d, "fix the build", 0,
	    &merged), a);
	assert_true(merged);

	expect_size(registry_directives(f->r, t, d), 1);
	assert_int_equal(f->errors, 0);
}

static void
test_directive_done_does_not_block(void **state)
{
	struct fixture *f = *state;
	int64_t t = add_task(f->r, "t"), d = add_domain(f->r, t, "api");
	int64_t a, b, c;
	bool merged = true;
	json_t *o;

	a = add_directive(f->r, t, d, "same", 3, &merged);
	assert_int_equal(registry_directive_set_state(f->r, a,
	    DIRECTIVE_RUNNING, NULL), 0);
	assert_int_equal(registry_directive_set_state(f->r, a, DIRECTIVE_DONE,
	    "ok"), 0);
	b = add_directive(f->r, t, d, "same", 1, &merged);
	assert_false(merged);
	assert_true(b != a);

	o = directive(f, t, a);
	assert_string_equal(jstr(o, "state"),
	    directive_state_names[DIRECTIVE_DONE]);
	assert_string_equal(jstr(o, "reason"), "ok");
	assert_int_equal(jint(o, "attempts"), 1);
	json_decref(o);

	/* Dropped and failed close it too; a different domain never merged. */
	assert_int_equal(registry_directive_set_state(f->r, b,
	    DIRECTIVE_DROPPED, NULL), 0);
	c = add_directive(f->r, t, d, "same", 1, &merged);
	assert_false(merged);
	assert_int_equal(add_directive(f->r, t, add_domain(f->r, t, "ui"),
	    "same", 1, &merged) != c, 1);
	assert_false(merged);

	/* The database backs the rule: reopening a closed twin fails. */
	assert_int_equal(registry_directive_set_state(f->r, a,
	    DIRECTIVE_QUEUED, NULL), -1);
	assert_non_null(strstr(registry_errmsg(f->r), "UNIQUE"));
	assert_int_equal(registry_directive_set_state(f->r, a,
	    (enum directive_state)99, NULL), -1);
	assert_int_equal(registry_directive_set_state(f->r, 9999,
	    DIRECTIVE_DONE, NULL), REG_NOT_FOUND);
}

static void
test_directive_next(void **state)
{
	struct fixture *f = *state;
	int64_t t = add_task(f->r, "t"), d = add_domain(f->r, t, "api");
	int64_t low, hi1, hi2, other;
	json_t *n;

	assert_null(registry_directive_next(f->r, d));
	low = add_directive(f->r, t, d, "low", 1, NULL);
	hi1 = add_directive(f->r, t, d, "high one", 7, NULL);
	hi2 = add_directive(f->r, t, d, "high two", 7, NULL);
	other = add_directive(f->r, t, add_domain(f->r, t, "ui"), "elsewhere",
	    99, NULL);
	(void)other;

	n = registry_directive_next(f->r, d);
	assert_int_equal(jint(n, "id"), hi1);	/* older of the two */
	json_decref(n);
	assert_int_equal(registry_directive_set_state(f->r, hi1,
	    DIRECTIVE_RUNNING, NULL), 0);
	n = registry_directive_next(f->r, d);
	assert_int_equal(jint(n, "id"), hi2);	/* running is taken */
	json_decref(n);
	assert_int_equal(registry_directive_set_state(f->r, hi2,
	    DIRECTIVE_FAILED, "no"), 0);
	/* A merge that raises the priority moves it up the queue. */
	add_directive(f->r, t, d, "later", 3, NULL);
	add_directive(f->r, t, d, "low", 5, NULL);
	n = registry_directive_next(f->r, d);
	assert_int_equal(jint(n, "id"), low);
	assert_int_equal(jint(n, "priority"), 5);
	json_decref(n);
}

static void
test_directive_lists(void **state)
{
	struct fixture *f = *state;
	int64_t t1 = add_task(f->r, "1"), t2 = add_task(f->r, "2");
	int64_t a = add_domain(f->r, t1, "a"), b = add_domain(f->r, t1, "b");
	int64_t c = add_domain(f->r, t2, "c"), wide, again;
	bool merged = false;
	json_t *l, *o;

	add_directive(f->r, t1, a, "x", 0, NULL);
	add_directive(f->r, t1, b, "x", 0, NULL);
	add_directive(f->r, t2, c, "x", 0, NULL);
	/* To the task as a whole: domain 0, read back as null, merged too. */
	wide = add_directive(f->r, t1, 0, "replan", 0, &merged);
	assert_false(merged);
	again = add_directive(f->r, t1, 0, "replan", 4, &merged);
	assert_true(merged);
	assert_int_equal(again, wide);
	o = directive(f, t1, wide);
	assert_true(jnull(o, "domain"));
	json_decref(o);

	l = registry_directives(f->r, 0, 0);
	assert_int_equal(json_array_size(l), 4);
	assert_true(jint(json_array_get(l, 0), "id") <
	    jint(json_array_get(l, 3), "id"));		/* oldest first */
	json_decref(l);
	expect_size(registry_directives(f->r, t1, 0), 3);
	l = registry_directives(f->r, t1, b);
	assert_int_equal(json_array_size(l), 1);
	assert_string_equal(jstr(json_array_get(l, 0), "domain"), "b");
	json_decref(l);
	expect_size(registry_directives(f->r, 0, c), 1);
	expect_size(registry_directives(f->r, t1, c), 0);	/* not t1's */
}

/* ---------------------------------------------------------------- events */

static void
test_events(void **state)
{
	struct fixture *f = *state;
	int64_t t1 = add_task(f->r, "1"), t2 = add_task(f->r, "2");
	int64_t seq[5], prev = 0;
	json_t *data = jparse("{\"round\": 3, \"ok\": true}"), *l, *e;
	int i;

	assert_int_equal(registry_event_add(f->r, t1, "api", "round.done",
	    data, &seq[0]), 0);
	assert_int_equal(registry_event_add(f->r, t2, NULL, "task.start",
	    NULL, &seq[1]), 0);
	assert_int_equal(registry_event_add(f->r, 0, NULL, "master.start",
	    NULL, &seq[2]), 0);
	assert_int_equal(registry_event_add(f->r, t1, "ui", "domain.crash",
	    NULL, &seq[3]), 0);
	assert_int_equal(registry_event_add(f->r, t1, NULL, "task.pause",
	    NULL, &seq[4]), 0);
	for (i = 0; i < 5; i++) {
		assert_true(seq[i] > prev);
		prev = seq[i];
	}

	l = registry_events(f->r, 0, 0, 0);
	assert_int_equal(json_array_size(l), 5);
	e = json_array_get(l, 0);
	assert_keys(e, "seq", "ts", "task", "domain", "event", "data", NULL);
	assert_int_equal(jint(e, "seq"), seq[0]);
	assert_int_equal(jint(e, "task"), t1);
	assert_string_equal(jstr(e, "domain"), "api");
	assert_string_equal(jstr(e, "event"), "round.done");
	assert_true(json_equal(json_object_get(e, "data"), data));
	assert_true(json_is_real(json_object_get(e, "ts")));
	e = json_array_get(l, 2);
	assert_true(jnull(e, "task"));
	assert_true(jnull(e, "domain"));
	assert_true(jnull(e, "data"));
	json_decref(l);

	l = registry_events(f->r, t1, 0, 0);
	assert_int_equal(json_array_size(l), 3);
	assert_int_equal(jint(json_array_get(l, 0), "seq"), seq[0]);
	assert_int_equal(jint(json_array_get(l, 1), "seq"), seq[3]);
	assert_int_equal(jint(json_array_get(l, 2), "seq"), seq[4]);
	json_decref(l);

	l = registry_events(f->r, t1, seq[0], 0);
	assert_int_equal(json_array_size(l), 2);
	assert_int_equal(jint(json_array_get(l, 0), "seq"), seq[3]);
	json_decref(l);

	l = registry_events(f->r, 0, seq[1], 2);
	assert_int_equal(json_array_size(l), 2);
	assert_int_equal(jint(json_array_get(l, 0), "seq"), seq[2]);
	assert_int_equal(jint(json_array_get(l, 1), "seq"), seq[3]);
	json_decref(l);

	expect_size(registry_events(f->r, 0, seq[4], 10), 0);

	/* The newest, oldest first: a task's, or everyone's. */
	l = registry_events_newest(f->r, t1, 2);
	assert_int_equal(json_array_size(l), 2);
	assert_int_equal(jint(json_array_get(l, 0), "seq"), seq[3]);
	assert_int_equal(jint(json_array_get(l, 1), "seq"), seq[4]);
	json_decref(l);
	l = registry_events_newest(f->r, 0, 3);
	assert_int_equal(json_array_size(l), 3);
	assert_int_equal(jint(json_array_get(l, 0), "seq"), seq[2]);
	assert_int_equal(jint(json_array_get(l, 2), "seq"), seq[4]);
	assert_true(jnull(json_array_get(l, 0), "task"));
	json_decref(l);
	expect_size(registry_events_newest(f->r, t2, 10), 1);
	json_decref(data);
}

/* The WAL's size after each commit, to whoever checkpoints it. */
struct wal_seen {
	int calls, last, most;
};

static void
on_wal(void *arg, int pages)
{
	struct wal_seen *w = arg;

	w->calls++;
	w->last = pages;
	if (pages > w->most)
		w->most = pages;
}

static void
test_on_wal(void **state)
{
	struct fixture *f = *state;
	struct wal_seen w = { 0 };
	int64_t t, seq;
	int wal = -1, copied = -1;

	registry_on_wal(f->r, on_wal, &w);
	assert_int_equal(registry_task_add(f->r, "wal", NULL, NULL, &t), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(registry_event_add(f->r, t, NULL, "progress",
		    NULL, &seq), 0);
	/* A commit a call; nothing copies the WAL back meanwhile. */
	assert_int_equal(w.calls, 21);
	assert_true(w.last >= 21 && w.last == w.most);
	/* Copied back on the registry's own connection: all of it. */
	assert_int_equal(registry_checkpoint(f->r, &wal, &copied), 0);
	assert_int_equal(wal, w.last);
	assert_int_equal(copied, wal);

	/* Handed back to SQLite: no more calls. */
	registry_on_wal(f->r, NULL, NULL);
	assert_int_equal(registry_event_add(f->r, t, NULL, "progress", NULL,
	    &seq), 0);
	assert_int_equal(w.calls, 21);
}

/* ------------------------------------------------------ text and logging */

static void
test_bad_utf8_reads_back(void **state)
{
	struct fixture *f = *state;
	int64_t t = add_task(f->r, "t"), d = add_domain(f->r, t, "api");
	json_t *o;

	/* A reason cut mid-character from a child's output. */
	assert_int_equal(registry_domain_set_state(f->r, d, DOMAIN_FATAL,
	    "exit: caf\xc3"), 0);
	o = registry_domain_get(f->r, d);
	assert_non_null(o);
	assert_string_equal(jstr(o, "reason"), "exit: caf\xef\xbf\xbd");
	json_decref(o);
	assert_int_equal(registry_domain_set_state(f->r, d, DOMAIN_FATAL,
	    "\xed\xa0\x80 \xe2\x82\xac \xf4\x90\x80\x80"), 0);
	o = registry_domain_get(f->r, d);
	assert_string_equal(jstr(o, "reason"),
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xe2\x82\xac "
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	json_decref(o);
}

/* ----------------------------------------------------------- persistence */

static void
test_survives_reopen(void **state)
{
	struct fixture *f = *state;
	int64_t t = add_task(f->r, "persist"), d = add_domain(f->r, t, "api");
	int64_t dir = add_directive(f->r, t, d, "keep me", 2, NULL), seq = 0;
	json_t *o;

	add_iface(f->r, d, "{\"a\": 1}", NULL);
	add_iface(f->r, d, "{\"a\": 2}", NULL);
	assert_int_equal(registry_event_add(f->r, t, "api", "e", NULL, &seq),
	    0);
	registry_close(f->r);
	f->r = reopen(f);

	o = registry_task_get(f->r, t);
	assert_string_equal(jstr(o, "text"), "persist");
	json_decref(o);
	assert_int_equal(registry_domain_find(f->r, t, "api", &d), 0);
	o = registry_interface_get(f->r, d, 0);
	assert_int_equal(jint(o, "version"), 2);
	json_decref(o);
	o = registry_directive_next(f->r, d);
	assert_int_equal(jint(o, "id"), dir);
	json_decref(o);
	o = registry_events(f->r, t, 0, 0);
	assert_int_equal(json_array_size(o), 1);
	assert_int_equal(jint(json_array_get(o, 0), "seq"), seq);
	json_decref(o);
	/* Versions continue where they were. */
	assert_int_equal(add_iface(f->r, d, "{\"a\": 3}", NULL), 3);
	/* And a new event never reuses a seq. */
	assert_int_equal(registry_event_add(f->r, t, NULL, "e2", NULL, &dir),
	    0);
	assert_true(dir > seq);
}

/* Writes one of everything in a child, which is then killed with SIGKILL
 * without closing anything: what was acknowledged must be there. */
static void
durable_child(const char *path, int fd)
{
	char err[256];
	struct registry *r = registry_open(path, err, sizeof(err));
	json_t *doc = json_pack("{s:s}", "provides", "x");
	int64_t t, d, id;
	int v, i;
	char ok = 'K';

	if (r == NULL || doc == NULL ||
	    registry_task_add(r, "durable", NULL, NULL, &t) != 0 ||
	    registry_domain_add(r, t, "api", NULL, NULL, NULL, false, &d) != 0 ||
	    registry_interface_add(r, d, doc, false, &v, NULL) != 0 ||
	    registry_directive_add(r, t, d, SOURCE_USER, "go", 1, &id,
	    NULL) != 0)
		ok = 'E';
	for (i = 0; ok == 'K' && i < 50; i++)
		if (registry_event_add(r, t, "api", "tick", NULL, &id) != 0)
			ok = 'E';
	if (write(fd, &ok, 1) != 1)
		_exit(2);
	for (;;)
		pause();
}

static void
test_durable_after_kill(void **state)
{
	struct fixture *f = *state;
	int fds[2], status;
	char ok = 0;
	int64_t d = 0, n = 0;
	json_t *o;
	pid_t pid;

	/* SQLite's per-process lock bookkeeping must not cross a fork. */
	registry_close(f->r);
	f->r = NULL;
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		close(fds[0]);
		durable_child(f->path, fds[1]);
	}
	assert_true(pid > 0);
	close(fds[1]);
	assert_int_equal(read(fds[0], &ok, 1), 1);
	close(fds[0]);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(ok, 'K');

	f->r = reopen(f);
	o = registry_tasks(f->r);
	assert_int_equal(json_array_size(o), 1);
	assert_string_equal(jstr(json_array_get(o, 0), "text"), "durable");
	json_decref(o);
	assert_int_equal(registry_domain_find(f->r, 1, "api", &d), 0);
	assert_int_equal(registry_interface_count(f->r, 1, &n), 0);
	assert_int_equal(n, 1);
	o = registry_directive_next(f->r, d);
	assert_string_equal(jstr(o, "text"), "go");
	json_decref(o);
	expect_size(registry_events(f->r, 1, 0, 0), 50);
}

/* ----------------------------------------------------------------- stats */

/* Integration runs: stored when they start, ended once, newest first;
 * one left running by a stop becomes an error.  The task's own checks
 * and its attempts are columns of the task. */
static void
test_integration_runs(void **state)
{
	struct fixture *f = *state;
	int64_t t = add_task(f->r, "integrate"), r1, r2;
	json_t *checks = jparse("[{\"command\": \"make test\", "
	    "\"kind\": \"check\"}]");
	json_t *results = jparse("[{\"command\": \"make test\", "
	    "\"passed\": false, \"exit_status\": 2, \"output\": \"boom\"}]");
	json_t *runs, *row, *own = jparse("[\"make e2e\"]");

	assert_int_equal(registry_run_add(f->r, t, "aaaa", checks, &r1), 0);
	assert_int_equal(registry_run_end(f->r, r1, "failed", results, NULL,
	    1500), 0);
	assert_int_equal(registry_run_add(f->r, t, "bbbb", checks, &r2), 0);
	runs = registry_runs(f->r, t, 10);
	assert_int_equal(json_array_size(runs), 2);
	row = json_array_get(runs, 0);
	assert_int_equal(jint(row, "id"), r2);
	assert_string_equal(jstr(row, "state"), "running");
	row = json_array_get(runs, 1);
	assert_string_equal(jstr(row, "commit"), "aaaa");
	assert_string_equal(jstr(row, "state"), "failed");
	assert_int_equal(jint(row, "duration_ms"), 1500);
	assert_true(json_equal(json_object_get(row, "checks"), checks));
	assert_true(json_equal(json_object_get(row, "results"), results));
	json_decref(runs);
	/* At most max, newest first. */
	runs = registry_runs(f->r, t, 1);
	assert_int_equal(json_array_size(runs), 1);
	json_decref(runs);
	assert_int_equal(registry_runs_abandon(f->r, "masterd stopped"), 0);
	runs = registry_runs(f->r, t, 1);
	row = json_array_get(runs, 0);
	assert_string_equal(jstr(row, "state"), "error");
	assert_string_equal(jstr(row, "error"), "masterd stopped");
	json_decref(runs);
	assert_int_equal(registry_task_set_integration_checks(f->r, t, own), 0);
	assert_int_equal(registry_task_set_integration_failures(f->r, t, 2),
	    0);
	row = registry_task_get(f->r, t);
	assert_true(json_equal(json_object_get(row, "integration_checks"),
	    own));
	assert_int_equal(jint(row, "integration_failures"), 2);
	json_decref(row);
	json_decref(own);
	json_decref(checks);
	json_decref(results);
}

/* Questions and approvals (migration 11): an open row closes once; a
 * list of a task's open ones, or of every task's. */
static void
test_asks(void **state)
{
	struct fixture *f = *state;
	int64_t t1 = add_task(f->r, "1"), t2 = add_task(f->r, "2");
	int64_t q, a;
	json_t *rows, *row;

	assert_int_equal(registry_ask_add(f->r, t1, "question", "planner",
	    "Which language?", "Python", NULL, 100.5, &q), 0);
	assert_int_equal(registry_ask_add(f->r, t2, "approval", "calc",
	    "merge it", "merge", "abc123", 0, &a), 0);
	rows = registry_asks(f->r, 0, true);
	assert_int_equal(json_array_size(rows), 2);
	json_decref(rows);
	rows = registry_asks(f->r, t1, true);
	assert_int_equal(json_array_size(rows), 1);
	row = json_array_get(rows, 0);
	assert_string_equal(json_string_value(json_object_get(row, "who")),
	    "planner");
	assert_string_equal(json_string_value(json_object_get(row, "state")),
	    "open");
	assert_true(json_number_value(json_object_get(row, "deadline")) ==
	    100.5);
	json_decref(rows);

	assert_int_equal(registry_ask_set(f->r, q, "answered", "C"), 0);
	/* Closed: neither an expiry nor a second answer lands. */
	assert_int_equal(registry_ask_set(f->r, q, "expired", NULL),
	    REG_NOT_FOUND);
	row = registry_ask_get(f->r, q);
	assert_string_equal(json_string_value(json_object_get(row, "state")),
	    "answered");
	assert_string_equal(json_string_value(json_object_get(row, "answer")),
	    "C");
	assert_false(json_is_true(json_object_get(row, "delivered")));
	json_decref(row);
	assert_int_equal(registry_ask_delivered(f->r, q), 0);
	row = registry_ask_get(f->r, q);
	assert_true(json_is_true(json_object_get(row, "delivered")));
	json_decref(row);
	rows = registry_asks(f->r, t1, true);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	rows = registry_asks(f->r, t1, false);
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);
	/* A task that is over waits for no one. */
	rows = registry_asks(f->r, 0, true);
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);
	assert_int_equal(registry_task_set_state(f->r, t2, TASK_CANCELLED,
	    NULL), 0);
	rows = registry_asks(f->r, 0, true);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	row = registry_ask_get(f->r, a);
	assert_string_equal(json_string_value(json_object_get(row, "context")),
	    "abc123");
	assert_true(json_is_null(json_object_get(row, "deadline")));
	json_decref(row);
}

static void
test_stats(void **state)
{
	struct fixture *f = *state;
	int64_t t1 = add_task(f->r, "1"), t2 = add_task(f->r, "2");
	int64_t a = add_domain(f->r, t1, "a"), b = add_domain(f->r, t2, "b");
	int64_t x, n = 0;
	sqlite3 *db;
	double t0;
	json_t *s, *want;

	assert_int_equal(registry_task_set_state(f->r, t2, TASK_DONE, NULL),
	    0);
	add_iface(f->r, a, "{\"v\": 0}", NULL);
	x = add_directive(f->r, t1, a, "x", 0, NULL);
	add_directive(f->r, t1, a, "y", 0, NULL);
	add_directive(f->r, t2, b, "z", 0, NULL);
	assert_int_equal(registry_directive_set_state(f->r, x,
	    DIRECTIVE_RUNNING, NULL), 0);
	assert_int_equal(registry_directive_set_state(f->r,
	    add_directive(f->r, t2, b, "w", 0, NULL), DIRECTIVE_DONE, NULL), 0);
	assert_int_equal(registry_event_add(f->r, 0, NULL, "e", NULL, NULL),
	    0);

	/* 10,000 more versions, in one transaction from outside. */
	db = raw_open(f);
	assert_int_equal(raw_exec(db, "WITH RECURSIVE n(v) AS (SELECT 2"
	    " UNION ALL SELECT v + 1 FROM n WHERE v < 10001)"
	    " INSERT INTO interfaces (domain_id, version, hash, document,"
	    " created) SELECT 1, v, printf('%016x', v), '{}', 0 FROM n"),
	    SQLITE_OK);
	sqlite3_close(db);

	t0 = wall();
	s = registry_stats(f->r);
	/* Index counts: a generous bound, only to catch a row-by-row scan. */
	assert_true(wall() - t0 < 1.0);
	assert_non_null(s);
	want = json_pack("{s:i,s:i,s:i,s:i,s:i,s:i}", "tasks", 2,
	    "tasks_active", 1, "domains", 2, "interfaces", 10001,
	    "directives_open", 3, "events", 1);
	assert_true(json_equal(s, want));
	json_decref(want);
	json_decref(s);
	assert_int_equal(registry_interface_count(f->r, t1, &n), 0);
	assert_int_equal(n, 10001);
	assert_int_equal(add_iface(f->r, a, "{\"v\": 1}", NULL), 10002);
}

/* ---------------------------------------------------------------- rounds */

/* The shipped schema of versions 1 and 2, as registry.c's migrations
 * made it: a database from before the spec column was split. */
#define SCHEMA_V1 \
	"CREATE TABLE tasks (" \
	"  id INTEGER PRIMARY KEY," \
	"  text TEXT NOT NULL," \
	"  state TEXT NOT NULL," \
	"  paused INTEGER NOT NULL DEFAULT 0," \
	"  reason TEXT," \
	"  spec TEXT," \
	"  created REAL NOT NULL," \
	"  updated REAL NOT NULL);" \
	"CREATE INDEX tasks_open ON tasks(id)" \
	"  WHERE state NOT IN ('done', 'failed', 'cancelled');" \
	"CREATE TABLE domains (" \
	"  id INTEGER PRIMARY KEY," \
	"  task_id INTEGER NOT NULL REFERENCES tasks(id)," \
	"  name TEXT NOT NULL," \
	"  state TEXT NOT NULL," \
	"  reason TEXT," \
	"  prompt TEXT," \
	"  checks TEXT," \
	"  restarts INTEGER NOT NULL DEFAULT 0," \
	"  created REAL NOT NULL," \
	"  updated REAL NOT NULL," \
	"  UNIQUE (task_id, name));" \
	"CREATE TABLE interfaces (" \
	"  id INTEGER PRIMARY KEY," \
	"  domain_id INTEGER NOT NULL REFERENCES domains(id)," \
	"  version INTEGER NOT NULL CHECK (version >= 1)," \
	"  hash TEXT NOT NULL," \
	"  document TEXT NOT NULL," \
	"  created REAL NOT NULL," \
	"  UNIQUE (domain_id, version));" \
	"CREATE TRIGGER interfaces_no_update BEFORE UPDATE ON interfaces" \
	"  BEGIN SELECT RAISE(ABORT, 'interfaces are append-only'); END;" \
	"CREATE TRIGGER interfaces_no_delete BEFORE DELETE ON interfaces" \
	"  BEGIN SELECT RAISE(ABORT, 'interfaces are append-only'); END;" \
	"CREATE TABLE directives (" \
	"  id INTEGER PRIMARY KEY," \
	"  task_id INTEGER NOT NULL REFERENCES tasks(id)," \
	"  domain_id INTEGER REFERENCES domains(id)," \
	"  source TEXT," \
	"  text TEXT NOT NULL," \
	"  priority INTEGER NOT NULL DEFAULT 0," \
	"  state TEXT NOT NULL," \
	"  attempts INTEGER NOT NULL DEFAULT 0," \
	"  reason TEXT," \
	"  created REAL NOT NULL," \
	"  updated REAL NOT NULL);" \
	"CREATE UNIQUE INDEX directives_open" \
	"  ON directives(task_id, ifnull(domain_id, 0), text)" \
	"  WHERE state IN ('queued', 'running');" \
	"CREATE INDEX directives_queue" \
	"  ON directives(domain_id, priority DESC, id)" \
	"  WHERE state = 'queued';" \
	"CREATE INDEX directives_task ON directives(task_id);" \
	"CREATE INDEX directives_domain ON directives(domain_id);" \
	"CREATE TABLE events (" \
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT," \
	"  ts REAL NOT NULL," \
	"  task_id INTEGER REFERENCES tasks(id)," \
	"  domain TEXT," \
	"  event TEXT NOT NULL," \
	"  data TEXT);" \
	"CREATE INDEX events_task ON events(task_id, seq);" \
	""
#define SCHEMA_V2 \
	"CREATE TABLE rounds (" \
	"  id INTEGER PRIMARY KEY," \
	"  task_id INTEGER NOT NULL REFERENCES tasks(id)," \
	"  domain_id INTEGER NOT NULL REFERENCES domains(id)," \
	"  directive_id INTEGER REFERENCES directives(id)," \
	"  round INTEGER NOT NULL," \
	"  ok INTEGER NOT NULL," \
	"  stage TEXT NOT NULL," \
	"  commit_id TEXT," \
	"  error TEXT," \
	"  summary TEXT," \
	"  checks TEXT," \
	"  tokens_in INTEGER NOT NULL DEFAULT 0," \
	"  tokens_out INTEGER NOT NULL DEFAULT 0," \
	"  tokens_cached INTEGER NOT NULL DEFAULT 0," \
	"  cost REAL NOT NULL DEFAULT 0," \
	"  duration_ms INTEGER NOT NULL DEFAULT 0," \
	"  created REAL NOT NULL);" \
	"CREATE INDEX rounds_task ON rounds(task_id, domain_id, id);" \
	""

/* Replace the fixture's database with an old one made by sql. */
static void
make_old(struct fixture *f, const char *sql)
{
	sqlite3 *db;
	char side[PATH_MAX + 8];

	registry_close(f->r);
	f->r = NULL;
	unlink(f->path);
	snprintf(side, sizeof(side), "%s-wal", f->path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", f->path);
	unlink(side);
	db = raw_open(f);
	assert_int_equal(raw_exec(db, sql), SQLITE_OK);
	sqlite3_close(db);
	f->r = reopen(f);
	assert_int_equal(registry_schema_version(f->r), SCHEMA_VERSION);
}

static void
test_migration_from_v1(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	json_t *t;

	make_old(f, SCHEMA_V1
	    "INSERT INTO tasks (text, state, created, updated)"
	    "  VALUES ('from version 1', 'building', 1, 1);"
	    "PRAGMA user_version = 1;");
	t = registry_task_get(f->r, 1);
	assert_non_null(t);
	assert_string_equal(jstr(t, "text"), "from version 1");
	assert_true(jnull(t, "standing"));
	json_decref(t);
	db = raw_open(f);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM rounds"), 0);
	sqlite3_close(db);
}

/* Version 2 kept the task's own state in a "spec" JSON column: each of
 * its 8 keys lands in its column; a spec that does not parse as an
 * object migrates as empty. */
static void
test_migration_from_v2(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	json_t *t, *d, *want;

	make_old(f, SCHEMA_V1 SCHEMA_V2
	    "INSERT INTO tasks (text, state, spec, created, updated)"
	    "  VALUES ('with a spec', 'improving', '{\"domains\": [\"api\"],"
	    "  \"directives\": [\"be brief\"], \"depends\": {\"api\": [],"
	    "  \"ui\": [\"api\"]}, \"budget\": {\"rounds\": 10,"
	    "  \"cost\": 2.5}, \"plan\": {\"domains\": []}, \"reviews\": 2,"
	    "  \"planner_usage\": {\"input\": 5, \"output\": 7,"
	    "  \"cost\": 0.25}, \"progress_since\": 3}', 1, 1);"
	    "INSERT INTO tasks (text, state, spec, created, updated)"
	    "  VALUES ('broken spec', 'building', 'not json', 1, 1);"
	    "INSERT INTO domains (task_id, name, state, created, updated)"
	    "  VALUES (1, 'api', 'running', 1, 1), (1, 'ui', 'stopped', 1, 1),"
	    "  (2, 'api', 'stopped', 1, 1);"
	    "PRAGMA user_version = 2;");
	t = registry_task_get(f->r, 1);
	want = jparse("[\"be brief\"]");
	assert_true(json_equal(json_object_get(t, "standing"), want));
	json_decref(want);
	assert_true(json_number_value(json_object_get(t, "budget_rounds")) ==
	    10);
	assert_true(json_number_value(json_object_get(t, "budget_cost")) ==
	    2.5);
	assert_true(jnull(t, "budget_tokens"));
	assert_true(jnull(t, "budget_time"));
	want = jparse("{\"domains\": []}");
	assert_true(json_equal(json_object_get(t, "plan"), want));
	json_decref(want);
	assert_int_equal(jint(t, "reviews"), 2);
	assert_int_equal(jint(t, "planner_in"), 5);
	assert_int_equal(jint(t, "planner_out"), 7);
	assert_true(json_number_value(json_object_get(t, "planner_cost")) ==
	    0.25);
	assert_int_equal(jint(t, "progress_since"), 3);
	assert_null(json_object_get(t, "spec"));
	json_decref(t);

	d = registry_domains_load(f->r, 1);
	assert_int_equal(json_array_size(d), 2);
	assert_true(json_is_true(json_object_get(json_array_get(d, 0),
	    "submitted")));
	assert_true(json_is_false(json_object_get(json_array_get(d, 1),
	    "submitted")));
	want = jparse("[\"api\"]");
	assert_true(json_equal(json_object_get(json_array_get(d, 1),
	    "depends"), want));
	json_decref(want);
	json_decref(d);

	t = registry_task_get(f->r, 2);
	assert_true(jnull(t, "standing"));
	assert_true(jnull(t, "plan"));
	assert_int_equal(jint(t, "reviews"), 0);
	json_decref(t);
	d = registry_domains_load(f->r, 2);
	assert_true(json_is_false(json_object_get(json_array_get(d, 0),
	    "submitted")));
	assert_true(jnull(json_array_get(d, 0), "depends"));
	json_decref(d);

	db = raw_open(f);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM pragma_table_info"
	    "('tasks') WHERE name = 'spec'"), 0);
	sqlite3_close(db);
}

/* What migration 3 did to the schema (its data moves aside): a version-3
 * database, as the last masterd before models were recorded left it. */
#define SCHEMA_V3 \
	"ALTER TABLE tasks ADD COLUMN standing TEXT;" \
	"ALTER TABLE tasks ADD COLUMN budget_tokens REAL;" \
	"ALTER TABLE tasks ADD COLUMN budget_cost REAL;" \
	"ALTER TABLE tasks ADD COLUMN budget_rounds REAL;" \
	"ALTER TABLE tasks ADD COLUMN budget_time REAL;" \
	"ALTER TABLE tasks ADD COLUMN plan TEXT;" \
	"ALTER TABLE tasks ADD COLUMN reviews INTEGER NOT NULL DEFAULT 0;" \
	"ALTER TABLE tasks ADD COLUMN planner_in INTEGER NOT NULL DEFAULT 0;" \
	"ALTER TABLE tasks ADD COLUMN planner_out INTEGER NOT NULL DEFAULT 0;" \
	"ALTER TABLE tasks ADD COLUMN planner_cost REAL NOT NULL DEFAULT 0;" \
	"ALTER TABLE tasks ADD COLUMN progress_since INTEGER NOT NULL" \
	"  DEFAULT 0;" \
	"ALTER TABLE domains ADD COLUMN submitted INTEGER NOT NULL DEFAULT 0;" \
	"ALTER TABLE domains ADD COLUMN depends TEXT;" \
	"ALTER TABLE tasks DROP COLUMN spec;" \
	""

/* Version 3 recorded no model: its rounds and tasks read back with null
 * models, and new rounds record theirs beside them. */
static void
test_migration_from_v3(void **state)
{
	struct fixture *f = *state;
	json_t *t, *list, *row, *rep, *score;
	sqlite3 *db;

	make_old(f, SCHEMA_V1 SCHEMA_V2 SCHEMA_V3
	    "INSERT INTO tasks (text, state, reviews, planner_in, created,"
	    "  updated) VALUES ('from version 3', 'improving', 1, 40, 1, 1);"
	    "INSERT INTO domains (task_id, name, state, created, updated)"
	    "  VALUES (1, 'api', 'running', 1, 1);"
	    "INSERT INTO rounds (task_id, domain_id, round, ok, stage,"
	    "  commit_id, tokens_in, created)"
	    "  VALUES (1, 1, 1, 1, 'commit', 'c0ffee', 70, 1);"
	    "PRAGMA user_version = 3;");
	t = registry_task_get(f->r, 1);
	assert_string_equal(jstr(t, "text"), "from version 3");
	assert_int_equal(jint(t, "reviews"), 1);
	assert_int_equal(jint(t, "planner_in"), 40);
	assert_true(jnull(t, "planner_model"));
	json_decref(t);
	list = registry_rounds(f->r, 1, 0);
	assert_int_equal(json_array_size(list), 1);
	row = json_array_get(list, 0);
	assert_string_equal(jstr(row, "commit"), "c0ffee");
	assert_int_equal(jint(row, "tokens_in"), 70);
	assert_true(jnull(row, "model"));
	assert_true(jnull(row, "critic_model"));
	json_decref(list);
	score = registry_scoreboard(f->r, 1);
	assert_true(jnull(json_array_get(score, 0), "model"));
	json_decref(score);

	/* The migrated database takes the new fields. */
	rep = json_pack("{s:i, s:b, s:s, s:s, s:s}", "round", 2, "ok", 1,
	    "stage", "commit", "model", "big-model", "critic_model",
	    "small-model");
	assert_int_equal(registry_round_add(f->r, 1, 1, 0, rep, NULL), 0);
	json_decref(rep);
	list = registry_rounds(f->r, 1, 0);
	row = json_array_get(list, 1);
	assert_string_equal(jstr(row, "model"), "big-model");
	assert_string_equal(jstr(row, "critic_model"), "small-model");
	json_decref(list);
	assert_int_equal(registry_task_set_planner_model(f->r, 1,
	    "planner-model"), 0);
	t = registry_task_get(f->r, 1);
	assert_string_equal(jstr(t, "planner_model"), "planner-model");
	json_decref(t);

	db = raw_open(f);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), SCHEMA_VERSION);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM pragma_table_info"
	    "('rounds') WHERE name IN ('model', 'critic_model')"), 2);
	sqlite3_close(db);
}

/* What migration 4 added: the models' columns. */
#define SCHEMA_V4 \
	"ALTER TABLE rounds ADD COLUMN model TEXT;" \
	"ALTER TABLE rounds ADD COLUMN critic_model TEXT;" \
	"ALTER TABLE tasks ADD COLUMN planner_model TEXT;"

/* Every version before 5 was implemented; new ones say which they are,
 * numbered on from the old ones. */
static void
test_migration_from_v4(void **state)
{
	struct fixture *f = *state;
	json_t *i, *doc = jparse("{\"b\": 2}");
	bool changed;
	int v;

	make_old(f, SCHEMA_V1 SCHEMA_V2 SCHEMA_V3 SCHEMA_V4
	    "INSERT INTO tasks (text, state, created, updated)"
	    "  VALUES ('from version 4', 'building', 1, 1);"
	    "INSERT INTO domains (task_id, name, state, created, updated)"
	    "  VALUES (1, 'api', 'running', 1, 1);"
	    "INSERT INTO interfaces (domain_id, version, hash, document,"
	    "  created) VALUES (1, 1, '" HASH_A1 "', '{\"a\":1}', 1);"
	    "PRAGMA user_version = 4;");
	i = registry_interface_get(f->r, 1, 1);
	assert_true(json_is_false(json_object_get(i, "declared")));
	json_decref(i);
	assert_int_equal(registry_interface_add(f->r, 1, doc, true, &v,
	    &changed), 0);
	assert_int_equal(v, 2);
	i = registry_interface_latest(f->r, 1, false, 0);
	assert_int_equal(jint(i, "version"), 1);
	json_decref(i);
	json_decref(doc);
}

static json_t *
round_report(int round, bool ok, const char *stage, const char *commit,
    int in, int out, double cost)
{
	json_t *r = json_pack("{s:i, s:b, s:s, s:i, s:{s:i, s:i, s:i, s:f}}",
	    "round", round, "ok", ok, "stage", stage, "duration_ms", 120,
	    "usage", "input", in, "output", out, "cached", 1, "cost", cost);

	if (commit != NULL)
		json_object_set_new(r, "commit", json_string(commit));
	if (!ok)
		json_object_set_new(r, "error", json_pack("{s:s}", "message",
		    "checks failed"));
	json_object_set_new(r, "checks", json_pack("[{s:s, s:b}]",
	    "command", "make test", "passed", ok));
	return r;
}

/* What runs for every round a child reports, and the retention batch:
 * the round found by its commit, the newest rounds of a task, the task's
 * spending, expired progress events deleted oldest first and no other. */
static void
test_bounded_queries(void **state)
{
	struct fixture *f = *state;
	int64_t task = add_task(f->r, "bounded"), a = add_domain(f->r, task,
	    "a"), b = add_domain(f->r, task, "b"), count, tokens, rounds, n;
	double cost, now = (double)time(NULL);
	bool committed;
	json_t *rep;

	for (int i = 1; i <= 5; i++) {
		rep = round_report(i, true, "commit", i == 2 ? "c2" : NULL,
		    10, 5, 0.25);
		assert_int_equal(registry_round_add(f->r, task, a, 0, rep,
		    NULL), 0);
		json_decref(rep);
	}
	assert_int_equal(registry_round_committed(f->r, task, a, "c2"), 1);
	assert_int_equal(registry_round_committed(f->r, task, b, "c2"), 0);
	assert_int_equal(registry_round_committed(f->r, task, a, "c3"), 0);
	/* The newest 3 made no commit; the newest 4 include c2. */
	assert_int_equal(registry_rounds_dry(f->r, task, 0, 3, &count,
	    &committed), 0);
	assert_int_equal(count, 3);
	assert_false(committed);
	assert_int_equal(registry_rounds_dry(f->r, task, 0, 4, &count,
	    &committed), 0);
	assert_true(committed);
	assert_int_equal(registry_rounds_dry(f->r, task, 4, 10, &count,
	    &committed), 0);
	assert_int_equal(count, 1);
	assert_int_equal(registry_task_spend(f->r, task, &rounds, &tokens,
	    &cost), 0);
	assert_int_equal(rounds, 5);
	assert_int_equal(tokens, 75);
	assert_true(cost > 1.24 && cost < 1.26);

	for (int i = 0; i < 5; i++) {
		json_t *d = json_pack("{s:i}", "i", i);

		assert_int_equal(registry_event_add(f->r, task, "a",
		    i < 3 ? "progress" : "round", d, NULL), 0);
		json_decref(d);
	}
	/* Nothing is older than an hour ago: nothing goes. */
	assert_int_equal(registry_events_prune(f->r, now - 3600, 10, &n), 0);
	assert_int_equal(n, 0);
	/* Everything is older than a minute from now: progress goes, in
	 * batches, and nothing else. */
	assert_int_equal(registry_events_prune(f->r, now + 60, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(registry_events_prune(f->r, now + 60, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(registry_events_prune(f->r, now + 60, 2, &n), 0);
	assert_int_equal(n, 0);
	rep = registry_stats(f->r);
	assert_int_equal(json_integer_value(json_object_get(rep, "events")),
	    2);
	json_decref(rep);
}

/* A copy in steps holds what was written between the steps. */
static void
test_copy_in_steps(void **state)
{
	struct fixture *f = *state;
	struct registry_copy *c;
	struct registry *copy;
	char path[PATH_MAX + 16], err[256];
	json_t *list;
	int rc, steps = 0;

	add_task(f->r, "before the copy");
	snprintf(path, sizeof(path), "%s/copy.db", f->dir);
	assert_non_null(c = registry_copy_begin(f->r, path));
	assert_int_equal(registry_copy_step(c, 1), 0);
	add_task(f->r, "during the copy");
	while ((rc = registry_copy_step(c, 1)) == 0)
		steps++;
	assert_int_equal(rc, 1);
	assert_true(steps > 1);
	assert_int_equal(registry_copy_end(c, true), 0);
	assert_non_null(copy = registry_open(path, err, sizeof(err)));
	list = registry_tasks(copy);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	registry_close(copy);
	/* Abandoned: the file goes. */
	assert_non_null(c = registry_copy_begin(f->r, path));
	assert_int_equal(registry_copy_step(c, 1), 0);
	assert_int_equal(registry_copy_end(c, false), 0);
	assert_int_equal(access(path, F_OK), -1);
}

static void
test_rounds_and_scoreboard(void **state)
{
	struct fixture *f = *state;
	int64_t task = add_task(f->r, "rounds"), a, b, d, id;
	json_t *rep, *list, *score, *row;
	bool merged;

	a = add_domain(f->r, task, "alpha");
	b = add_domain(f->r, task, "beta");
	assert_int_equal(registry_directive_add(f->r, task, a, SOURCE_USER,
	    "go", 0,
	    &d, &merged), 0);
	rep = round_report(1, false, "checks", NULL, 100, 50, 0.5);
	assert_int_equal(registry_round_add(f->r, task, a, d, rep, &id), 0);
	json_decref(rep);
	rep = round_report(2, true, "commit", "abc123", 200, 80, 1.0);
	json_object_set_new(rep, "model", json_string("coder-7b"));
	json_object_set_new(rep, "critic_model", json_string("critic-1b"));
	assert_int_equal(registry_round_add(f->r, task, a, d, rep, NULL), 0);
	json_decref(rep);
	/* A later round that said no model ("" is none) does not hide the
	 * last one that did from the scoreboard. */
	rep = round_report(3, false, "model", NULL, 0, 0, 0);
	json_object_del(rep, "checks");
	json_object_set_new(rep, "model", json_string(""));
	assert_int_equal(registry_round_add(f->r, task, a, d, rep, NULL), 0);
	json_decref(rep);

	list = registry_rounds(f->r, task, 0);
	assert_int_equal(json_array_size(list), 3);
	row = json_array_get(list, 0);
	assert_true(jnull(row, "model"));
	assert_true(jnull(row, "critic_model"));
	assert_string_equal(json_string_value(json_object_get(row, "domain")),
	    "alpha");
	assert_false(json_is_true(json_object_get(row, "ok")));
	assert_string_equal(json_string_value(json_object_get(row, "error")),
	    "checks failed");
	row = json_array_get(list, 1);
	assert_string_equal(json_string_value(json_object_get(row, "commit")),
	    "abc123");
	assert_int_equal(jint(row, "tokens_in"), 200);
	assert_string_equal(jstr(row, "model"), "coder-7b");
	assert_string_equal(jstr(row, "critic_model"), "critic-1b");
	assert_true(jnull(json_array_get(list, 2), "model"));
	json_decref(list);
	expect_size(registry_rounds(f->r, task, b), 0);

	assert_int_equal(registry_directive_set_state(f->r, d,
	    DIRECTIVE_DONE, NULL), 0);
	score = registry_scoreboard(f->r, task);
	assert_int_equal(json_array_size(score), 2);
	row = json_array_get(score, 0);
	assert_int_equal(jint(row, "directives_done"), 1);
	assert_int_equal(jint(row, "directives_failed"), 0);
	assert_int_equal(jint(row, "rounds"), 3);
	assert_int_equal(jint(row, "accepted"), 1);
	assert_int_equal(jint(row, "checks_run"), 2);
	assert_int_equal(jint(row, "checks_passed"), 1);
	assert_int_equal(jint(row, "tokens_in"), 300);
	assert_int_equal(jint(row, "tokens_out"), 130);
	assert_string_equal(jstr(row, "model"), "coder-7b");
	assert_true(json_real_value(json_object_get(row, "cost")) > 1.49);
	row = json_array_get(score, 1);
	assert_string_equal(json_string_value(json_object_get(row, "domain")),
	    "beta");
	assert_int_equal(jint(row, "rounds"), 0);
	assert_true(jnull(row, "model"));
	json_decref(score);
}

/* The review's newest rounds: a LIMIT, oldest first, across domains. */
static void
test_rounds_last(void **state)
{
	struct fixture *f = *state;
	int64_t task = add_task(f->r, "last"), other = add_task(f->r, "other"),
	    a = add_domain(f->r, task, "a"), b = add_domain(f->r, task, "b"),
	    o = add_domain(f->r, other, "o");
	json_t *rep, *list;

	expect_size(registry_rounds_last(f->r, task, 30), 0);
	for (int i = 1; i <= 40; i++) {
		rep = round_report(i, i % 2 == 0, "commit", NULL, 1, 1, 0.01);
		assert_int_equal(registry_round_add(f->r, task, i % 2 ? a : b,
		    0, rep, NULL), 0);
		assert_int_equal(registry_round_add(f->r, other, o, 0, rep,
		    NULL), 0);
		json_decref(rep);
	}
	list = registry_rounds_last(f->r, task, 30);
	assert_int_equal(json_array_size(list), 30);
	assert_int_equal(jint(json_array_get(list, 0), "round"), 11);
	assert_int_equal(jint(json_array_get(list, 29), "round"), 40);
	assert_string_equal(jstr(json_array_get(list, 29), "domain"), "b");
	assert_int_equal(jint(json_array_get(list, 29), "task"), task);
	json_decref(list);
	list = registry_rounds_last(f->r, task, 100);
	assert_int_equal(json_array_size(list), 40);
	assert_int_equal(jint(json_array_get(list, 0), "round"), 1);
	json_decref(list);
}

/* The scoreboard and status's counts are running totals: they follow
 * every write, a directive's state going back and forth included, and
 * stay what a full count says. */
static void
test_running_totals(void **state)
{
	struct fixture *f = *state;
	int64_t task = add_task(f->r, "totals"), a = add_domain(f->r, task, "a"),
	    d, n;
	json_t *rep, *score, *row, *stats;
	bool merged;
	sqlite3 *db;

	assert_int_equal(registry_directive_add(f->r, task, a, SOURCE_USER, "go", 0,
	    &d, &merged), 0);
	/* Round 0 counts for its cost only. */
	rep = round_report(0, false, "model", NULL, 5, 0, 0.5);
	json_object_del(rep, "checks");
	assert_int_equal(registry_round_add(f->r, task, a, d, rep, NULL), 0);
	json_decref(rep);
	rep = round_report(1, true, "commit", "c1", 10, 2, 0.25);
	assert_int_equal(registry_round_add(f->r, task, a, d, rep, NULL), 0);
	json_decref(rep);
	assert_int_equal(registry_directive_set_state(f->r, d,
	    DIRECTIVE_RUNNING, NULL), 0);
	assert_int_equal(registry_directive_set_state(f->r, d,
	    DIRECTIVE_FAILED, NULL), 0);
	score = registry_scoreboard(f->r, task);
	row = json_array_get(score, 0);
	assert_int_equal(jint(row, "rounds"), 1);
	assert_int_equal(jint(row, "accepted"), 1);
	assert_int_equal(jint(row, "checks_run"), 1);
	assert_int_equal(jint(row, "checks_passed"), 1);
	assert_int_equal(jint(row, "tokens_in"), 15);
	assert_int_equal(jint(row, "duration_ms"), 240);
	assert_int_equal(jint(row, "directives_failed"), 1);
	assert_int_equal(jint(row, "directives_done"), 0);
	assert_true(json_real_value(json_object_get(row, "cost")) == 0.75);
	json_decref(score);
	assert_int_equal(registry_directive_set_state(f->r, d,
	    DIRECTIVE_DONE, NULL), 0);
	score = registry_scoreboard(f->r, task);
	row = json_array_get(score, 0);
	assert_int_equal(jint(row, "directives_failed"), 0);
	assert_int_equal(jint(row, "directives_done"), 1);
	json_decref(score);

	for (int i = 0; i < 4; i++)
		assert_int_equal(registry_event_add(f->r, task, "a",
		    "progress", NULL, NULL), 0);
	assert_int_equal(registry_events_prune(f->r, wall() + 60, 3, &n), 0);
	assert_int_equal(n, 3);
	add_iface(f->r, a, "{\"v\": 1}", NULL);
	stats = registry_stats(f->r);
	db = raw_open(f);
	assert_int_equal(jint(stats, "events"),
	    raw_int(db, "SELECT count(*) FROM events"));
	assert_int_equal(jint(stats, "events"), 1);
	assert_int_equal(jint(stats, "interfaces"), 1);
	/* A writer from outside keeps them too. */
	assert_int_equal(raw_exec(db, "DELETE FROM events"), SQLITE_OK);
	sqlite3_close(db);
	json_decref(stats);
	stats = registry_stats(f->r);
	assert_int_equal(jint(stats, "events"), 0);
	json_decref(stats);
}

/* Migration 9 computes the totals of what a version-8 database holds. */
static void
test_migration_from_v8(void **state)
{
	struct fixture *f = *state;
	int64_t task = add_task(f->r, "from version 8"), a = add_domain(f->r,
	    task, "a"), b = add_domain(f->r, task, "b"), d;
	json_t *rep, *want, *got, *stats;
	char err[256];
	bool merged;
	sqlite3 *db;

	assert_int_equal(registry_directive_add(f->r, task, a, SOURCE_USER, "go", 0,
	    &d, &merged), 0);
	assert_int_equal(registry_directive_set_state(f->r, d,
	    DIRECTIVE_DONE, NULL), 0);
	for (int i = 0; i < 6; i++) {
		rep = round_report(i, i % 3 == 0, i % 3 ? "checks" : "commit",
		    NULL, 10 * i, i, 0.125);
		if (i == 4)
			json_object_set_new(rep, "model", json_string("m4"));
		assert_int_equal(registry_round_add(f->r, task, i % 2 ? a : b,
		    d, rep, NULL), 0);
		json_decref(rep);
	}
	assert_int_equal(registry_event_add(f->r, task, NULL, "round", NULL,
	    NULL), 0);
	want = registry_scoreboard(f->r, task);
	registry_close(f->r);
	f->r = NULL;

	/* Back to version 8: the totals and their triggers gone, with rows
	 * written since that they do not count. */
	db = raw_open(f);
	assert_int_equal(raw_exec(db, "DROP TABLE scores; DROP TABLE counters;"
	    "DROP TRIGGER scores_domain; DROP TRIGGER scores_round;"
	    "DROP TRIGGER scores_directive; DROP TRIGGER counters_event_add;"
	    "DROP TRIGGER counters_event_del;"
	    "DROP TRIGGER counters_interface_add;"
	    "ALTER TABLE tasks DROP COLUMN import;"
	    "ALTER TABLE domains DROP COLUMN folder;"
	    "DROP TABLE asks;"
	    "INSERT INTO events (ts, event) VALUES (1, 'x');"
	    "PRAGMA user_version = 8;"), SQLITE_OK);
	sqlite3_close(db);
	assert_non_null(f->r = registry_open(f->path, err, sizeof(err)));
	assert_int_equal(registry_schema_version(f->r), SCHEMA_VERSION);
	got = registry_scoreboard(f->r, task);
	assert_true(json_equal(got, want));
	assert_string_equal(jstr(json_array_get(got, 1), "model"), "m4");
	json_decref(got);
	json_decref(want);
	stats = registry_stats(f->r);
	assert_int_equal(jint(stats, "events"), 2);
	assert_int_equal(jint(stats, "interfaces"), 0);
	json_decref(stats);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_open_creates_schema),
		T(test_reopen_idempotent),
		T(test_newer_schema_refused),
		T(test_not_a_database),
		T(test_open_bad_path),
		T(test_tasks),
		T(test_tasks_unfinished),
		T(test_domains),
		T(test_domain_unique),
		T(test_batch),
		T(test_interface_versions),
		T(test_interface_unknown_domain),
		T(test_interfaces_latest),
		T(test_interface_declared),
		T(test_migration_from_v4),
		T(test_interfaces_append_only),
		T(test_directive_merge),
		T(test_directive_defer),
		T(test_providers),
		T(test_directive_done_does_not_block),
		T(test_directive_next),
		T(test_directive_lists),
		T(test_events),
		T(test_on_wal),
		T(test_bad_utf8_reads_back),
		T(test_survives_reopen),
		T(test_durable_after_kill),
		T(test_integration_runs),
		T(test_asks),
		T(test_stats),
		T(test_migration_from_v1),
		T(test_migration_from_v2),
		T(test_migration_from_v3),
		T(test_rounds_and_scoreboard),
		T(test_bounded_queries),
		T(test_rounds_last),
		T(test_running_totals),
		T(test_migration_from_v8),
		T(test_copy_in_steps),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
