/*
 * admin.c — the commands that change things or keep them: submit, a
 * directive, spawn, restart, pause, resume, cancel, a budget, prune,
 * backup, reload, stop; and metrics.  Each says what it did in one line
 * (--json: the answer).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/util.h"
#include "proto/vocab.h"
#include "daemon/masterctl/ctl.h"

static json_t *
split_domains(const char *list)
{
	json_t *a = json_array();
	char *copy = strdup(list), *tok, *save = NULL;

	for (tok = strtok_r(copy, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save))
		json_array_append_new(a, json_string(tok));
	free(copy);
	return a;
}

/* --domains a,b or a=src,b=lib: the names into req's "domains", the
 * folders into "folders" ({"a": "src"}). */
static void
set_domains(json_t *req, const char *list)
{
	json_t *names = split_domains(list), *folders = json_object(), *v;
	size_t i;
	char *eq;

	json_array_foreach(names, i, v) {
		char *item = strdup(json_string_value(v));

		if ((eq = strchr(item, '=')) != NULL) {
			*eq = '\0';
			json_object_set_new(folders, item, json_string(eq + 1));
			json_array_set_new(names, i, json_string(item));
		}
		free(item);
	}
	json_object_set_new(req, "domains", names);
	if (json_object_size(folders) > 0)
		json_object_set_new(req, "folders", folders);
	else
		json_decref(folders);
}

/* Standing directives: one per non-empty, non-comment line of a file. */
static json_t *
read_directives(const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	json_t *a;
	char line[4096];

	if (f == NULL) {
		fprintf(stderr, "masterctl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	a = json_array();
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] != '\0' && line[0] != '#')
			json_array_append_new(a, json_string(line));
	}
	if (f != stdin)
		fclose(f);
	return a;
}

/* "tokens=100000,cost=5,rounds=40,time=3600" -> {"tokens": 100000, ...} */
static json_t *
parse_budget(const char *text)
{
	json_t *b = json_object();
	char *copy = strdup(text), *tok, *save = NULL, *eq, *end;
	double v;
	int i;

	for (tok = strtok_r(copy, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		if ((eq = strchr(tok, '=')) == NULL)
			goto bad;
		*eq = '\0';
		i = vocab_find(budget_key_names, BUDGET_KEY_COUNT, tok);
		v = strtod(eq + 1, &end);
		if (i < 0 || end == eq + 1 || *end != '\0' || v < 0)
			goto bad;
		json_object_set_new(b, budget_key_names[i], json_real(v));
	}
	free(copy);
	if (json_object_size(b) > 0)
		return b;
	json_decref(b);
	fprintf(stderr, "masterctl: no limit given\n");
	return NULL;
bad:
	fprintf(stderr, "masterctl: bad limit '%s': use tokens=N, cost=X, "
	    "rounds=N or time=SECONDS (0: no limit)\n", tok);
	free(copy);
	json_decref(b);
	return NULL;
}

int
cmd_submit(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_t *req, *r, *dirs, *b;
	json_int_t task;
	int status;

	req = request(c, CTL_SUBMIT);
	if (o->budget != NULL) {
		if ((b = parse_budget(o->budget)) == NULL) {
			json_decref(req);
			return EXIT_USAGE;
		}
		json_object_set_new(req, "budget", b);
	}
	json_object_set_new(req, "text", json_string(argv[0]));
	if (o->domains != NULL)
		set_domains(req, o->domains);
	if (o->directives != NULL) {
		if ((dirs = read_directives(o->directives)) == NULL) {
			json_decref(req);
			return EXIT_USAGE;
		}
		json_object_set_new(req, "directives", dirs);
	}
	if (o->branch != NULL && o->repo == NULL) {
		fprintf(stderr, "masterctl: submit: --branch goes with "
		    "--repo\n");
		json_decref(req);
		return EXIT_USAGE;
	}
	if (o->repo != NULL &&
	    (status = submit_import(c, o, req)) != EXIT_OK) {
		json_decref(req);
		return status;
	}
	if ((r = call(c, req, &status)) == NULL)
		return status;
	task = json_integer_value(json_object_get(r, "task"));
	if (c->json)
		print_json(r, true);
	else
		printf("task %lld submitted\n", (long long)task);
	json_decref(r);
	fflush(stdout);
	return o->wait ? follow_task(c, o, task) : EXIT_OK;
}

static void
human_directive(json_t *r)
{
	const json_t *d = json_object_get(r, "directive");

	printf("directive %lld %s\n", num(d, "id"),
	    json_is_true(json_object_get(d, "merged")) ?
	    "merged into an identical open one" : "queued");
}

int
cmd_directive(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_t *req;
	char *end;
	long prio = 0;

	if (o->priority != NULL) {
		prio = strtol(o->priority, &end, 10);
		if (*o->priority == '\0' || *end != '\0' || prio < -1000 ||
		    prio > 1000) {
			fprintf(stderr, "masterctl: --priority takes a whole "
			    "number from -1000 to 1000\n");
			return EXIT_USAGE;
		}
	}
	req = request(c, CTL_DIRECTIVE);
	json_object_set_new(req, "domain", json_string(argv[0]));
	json_object_set_new(req, "text", json_string(argv[1]));
	if (o->priority != NULL)
		json_object_set_new(req, "priority", json_integer(prio));
	if (with_task(req, o->task) != 0)
		return EXIT_USAGE;
	return call_and_print(c, req, human_directive);
}

/* Send req; on success print `line` or, with --json, the answer. */
static int
call_and_say(struct ctl *c, json_t *req, const char *line)
{
	int status;
	json_t *r = call(c, req, &status);

	if (r == NULL)
		return status;
	if (c->json)
		print_json(r, false);
	else
		printf("%s\n", line);
	json_decref(r);
	return EXIT_OK;
}

int
cmd_spawn(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_t *req = request(c, CTL_SPAWN);
	json_int_t task;
	char line[128];

	if (parse_id(argv[0], "task", &task) != 0) {
		json_decref(req);
		return EXIT_USAGE;
	}
	json_object_set_new(req, "task", json_integer(task));
	json_object_set_new(req, "domain", json_string(argv[1]));
	if (o->prompt != NULL)
		json_object_set_new(req, "prompt", json_string(o->prompt));
	snprintf(line, sizeof(line), "domain %s added to task %lld", argv[1],
	    (long long)task);
	return call_and_say(c, req, line);
}

int
cmd_restart(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_t *req = request(c, CTL_RESTART);
	char line[128];

	json_object_set_new(req, "domain", json_string(argv[0]));
	if (with_task(req, o->task) != 0)
		return EXIT_USAGE;
	snprintf(line, sizeof(line), "domain %s restarted", argv[0]);
	return call_and_say(c, req, line);
}

static int
pause_resume(struct ctl *c, const struct opts *o, enum msg_type t, int argc,
    char **argv)
{
	json_t *req = request(c, t), *r;
	const char *word = t == CTL_PAUSE ? "paused" : "resumed";
	int status;

	if (with_task(req, argc == 1 ? argv[0] : o->task) != 0)
		return EXIT_USAGE;
	if ((r = call(c, req, &status)) == NULL)
		return status;
	if (c->json)
		print_json(r, false);
	else if (argc == 1 || o->task != NULL)
		printf("task %s %s%s\n", argc == 1 ? argv[0] : o->task,
		    num(r, "changed") > 0 ? word : "unchanged: already ",
		    num(r, "changed") > 0 ? "" : word);
	else
		printf("%lld task(s) %s\n", num(r, "changed"), word);
	json_decref(r);
	return EXIT_OK;
}

int
cmd_pause(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	return pause_resume(c, o, CTL_PAUSE, argc, argv);
}

int
cmd_resume(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	return pause_resume(c, o, CTL_RESUME, argc, argv);
}

int
cmd_cancel(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_t *req = request(c, CTL_CANCEL);
	json_int_t task;
	char line[64];

	if (parse_id(argv[0], "task", &task) != 0) {
		json_decref(req);
		return EXIT_USAGE;
	}
	json_object_set_new(req, "task", json_integer(task));
	snprintf(line, sizeof(line), "task %lld cancelled", (long long)task);
	return call_and_say(c, req, line);
}

int
cmd_stop(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	return call_and_say(c, request(c, CTL_STOP), "masterd is stopping "
	    "(its tasks go on at its next start)");
}

static void
human_budget(json_t *r)
{
	const json_t *t = json_object_get(r, "task");
	char *b = json_dumps(json_object_get(json_object_get(t, "spec"),
	    "budget"), JSON_COMPACT | JSON_SORT_KEYS);

	printf("task %lld: %s%s, limits %s\n", num(t, "id"), str(t, "state"),
	    json_is_true(json_object_get(t, "paused")) ? " (paused)" : "",
	    b ? b : "{}");
	free(b);
}

int
cmd_budget(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_t *req = request(c, CTL_BUDGET), *b;
	char *joined = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&joined, &len);

	if (with_task(req, argv[0]) != 0) {
		if (f != NULL)
			fclose(f);
		free(joined);
		return EXIT_USAGE;
	}
	for (int i = 1; f != NULL && i < argc; i++)
		fprintf(f, "%s,", argv[i]);
	if (f != NULL)
		fclose(f);
	b = joined ? parse_budget(joined) : NULL;
	free(joined);
	if (b == NULL) {
		json_decref(req);
		return EXIT_USAGE;
	}
	json_object_set_new(req, "budget", b);
	return call_and_print(c, req, human_budget);
}

static void
human_prune(json_t *r)
{
	const json_t *tasks = json_object_get(r, "tasks"), *t;
	size_t i;

	printf("%lld progress events deleted", num(r, "events"));
	if (json_array_size(tasks) > 0) {
		printf("; repositories and worktrees removed: task");
		json_array_foreach(tasks, i, t)
			printf("%s %lld", i ? "," : "",
			    (long long)json_integer_value(t));
	}
	if (num(r, "failures") > 0)
		printf("; %lld paths could not be removed (see the log)",
		    num(r, "failures"));
	putchar('\n');
}

/* prune [--finished DAYS] */
int
cmd_prune(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_t *req = request(c, CTL_PRUNE);
	char *end;
	long long days;

	if (o->finished != NULL) {
		errno = 0;
		days = strtoll(o->finished, &end, 10);
		if (errno != 0 || *end != '\0' || end == o->finished ||
		    days < 1 || days > 36500) {
			fprintf(stderr, "masterctl: prune: --finished takes "
			    "a number of days, 1 to 36500\n");
			json_decref(req);
			return EXIT_USAGE;
		}
		json_object_set_new(req, "finished_days", json_integer(days));
	}
	return call_and_print(c, req, human_prune);
}

/* The copy must open as the registry: integrity and schema version. */
static int
verify_backup(const char *path, int *version)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int ok = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st,
	    NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		ok = strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
	sqlite3_finalize(st);
	st = NULL;
	if (ok && sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st,
	    NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
out:
	sqlite3_close(db);
	return ok ? 0 : -1;
}

int
cmd_backup(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_t *r, *req = request(c, CTL_BACKUP);
	char tmp[4096];
	int fd, status, version = 0;
	json_int_t size;

	if ((r = call(c, req, &status)) == NULL)
		return status;
	size = json_integer_value(json_object_get(r, "size"));
	json_decref(r);
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[0]);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0) {
		fprintf(stderr, "masterctl: %s: %s\n", tmp, strerror(errno));
		return EXIT_FAILED;
	}
	status = fetch_file(c, CTL_BACKUP, fd, size);
	if (status == EXIT_OK && (fsync(fd) != 0 || close(fd) != 0))
		status = EXIT_FAILED;
	else if (status != EXIT_OK)
		close(fd);
	call_and_drop(c, CTL_BACKUP);
	if (status == EXIT_OK && verify_backup(tmp, &version) != 0) {
		fprintf(stderr, "masterctl: the copy fails its integrity "
		    "check\n");
		status = EXIT_FAILED;
	}
	if (status != EXIT_OK || rename(tmp, argv[0]) != 0) {
		unlink(tmp);
		return status != EXIT_OK ? status : EXIT_FAILED;
	}
	if (c->json) {
		json_t *j = json_pack("{s:s, s:I, s:i, s:s}", "file", argv[0],
		    "size", (json_int_t)size, "schema_version", version,
		    "integrity", "ok");

		print_json(j, false);
		json_decref(j);
	} else
		printf("backup %s: %lld bytes, schema version %d, integrity "
		    "ok\n", argv[0], (long long)size, version);
	return EXIT_OK;
}


static void
human_reload(json_t *r)
{
	const json_t *k;
	size_t i, n = json_array_size(json_object_get(r, "changed"));

	if (n == 0) {
		printf("configuration reloaded from %s: nothing changed\n",
		    str(r, "config"));
		return;
	}
	printf("configuration reloaded from %s, %zu setting(s) changed:",
	    str(r, "config"), n);
	json_array_foreach(json_object_get(r, "changed"), i, k)
		printf(" %s", json_string_value(k));
	printf("\n");
}

int
cmd_reload(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	return call_and_print(c, request(c, CTL_RELOAD), human_reload);
}

/* The Prometheus text masterd writes, as it is: for node_exporter's
 * textfile collector (masterctl metrics > FILE.prom). */
int
cmd_metrics(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_t *r;
	int status;

	if ((r = call(c, request_named(c, "metrics"), &status)) == NULL)
		return status;
	if (c->json)
		print_json(r, false);
	else
		fputs(str(r, "text"), stdout);
	json_decref(r);
	return EXIT_OK;
}
