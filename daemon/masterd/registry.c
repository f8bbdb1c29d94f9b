/*
 * registry.c — masterd's durable state: one SQLite database holding tasks,
 * domains, append-only interface versions, directives and events.
 *
 * This file owns the schema (forward migrations keyed by PRAGMA
 * user_version), the connection settings that make an acknowledged write
 * durable, every SQL statement masterd runs (prepared once at open, reset
 * after each use) and the mapping from rows to the jansson objects that
 * registry.h documents.  A handle is used from one thread (the event loop);
 * nothing here is global.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/masterd/registry.h"


/* How long a write waits for a lock held by another connection (masterctl
 * reading the database directly, a backup) before giving up. */
#define BUSY_TIMEOUT_MS	5000

/* Canonical JSON: the same value always gives the same text, whatever the
 * key order it was built with, so texts and hashes can be compared. */
#define JSON_CANONICAL	(JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)

/*
 * Forward migrations: migrations[i] takes the schema from version i to
 * i + 1.  Append only; never edit one that has shipped.
 */
static const char *const migrations[] = {
	/* 1: the initial schema. */
	"CREATE TABLE tasks ("
	"  id INTEGER PRIMARY KEY,"
	"  text TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  paused INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT,"
	"  spec TEXT,"
	"  created REAL NOT NULL,"
	"  updated REAL NOT NULL);"
	/* Resume and `status` look for unfinished tasks only. */
	"CREATE INDEX tasks_open ON tasks(id)"
	"  WHERE state NOT IN ('done', 'failed', 'cancelled');"

	"CREATE TABLE domains ("
	"  id INTEGER PRIMARY KEY,"
	"  task_id INTEGER NOT NULL REFERENCES tasks(id),"
	"  name TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  reason TEXT,"
	"  prompt TEXT,"
	"  checks TEXT,"
	"  restarts INTEGER NOT NULL DEFAULT 0,"
	"  created REAL NOT NULL,"
	"  updated REAL NOT NULL,"
	"  UNIQUE (task_id, name));"

	/* Every published version is kept; the triggers make that a property
	 * of the database rather than of this file. */
	"CREATE TABLE interfaces ("
	"  id INTEGER PRIMARY KEY,"
	"  domain_id INTEGER NOT NULL REFERENCES domains(id),"
	"  version INTEGER NOT NULL CHECK (version >= 1),"
	"  hash TEXT NOT NULL,"
	"  document TEXT NOT NULL,"
	"  created REAL NOT NULL,"
	"  UNIQUE (domain_id, version));"
	"CREATE TRIGGER interfaces_no_update BEFORE UPDATE ON interfaces"
	"  BEGIN SELECT RAISE(ABORT, 'interfaces are append-only'); END;"
	"CREATE TRIGGER interfaces_no_delete BEFORE DELETE ON interfaces"
	"  BEGIN SELECT RAISE(ABORT, 'interfaces are append-only'); END;"

	/* domain_id is NULL for a directive to the task as a whole. */
	"CREATE TABLE directives ("
	"  id INTEGER PRIMARY KEY,"
	"  task_id INTEGER NOT NULL REFERENCES tasks(id),"
	"  domain_id INTEGER REFERENCES domains(id),"
	"  source TEXT,"
	"  text TEXT NOT NULL,"
	"  priority INTEGER NOT NULL DEFAULT 0,"
	"  state TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT,"
	"  created REAL NOT NULL,"
	"  updated REAL NOT NULL);"
	/* The merge rule: at most one open directive per (domain, text).
	 * ifnull() because NULLs never collide in a UNIQUE index, and
	 * task-wide directives must merge too. */
	"CREATE UNIQUE INDEX directives_open"
	"  ON directives(task_id, ifnull(domain_id, 0), text)"
	"  WHERE state IN ('queued', 'running');"
	"CREATE INDEX directives_queue"
	"  ON directives(domain_id, priority DESC, id)"
	"  WHERE state = 'queued';"
	"CREATE INDEX directives_task ON directives(task_id);"
	"CREATE INDEX directives_domain ON directives(domain_id);"

	/* AUTOINCREMENT so that a seq is never reused: clients page through
	 * events with after_seq. */
	"CREATE TABLE events ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  ts REAL NOT NULL,"
	"  task_id INTEGER REFERENCES tasks(id),"
	"  domain TEXT,"
	"  event TEXT NOT NULL,"
	"  data TEXT);"
	"CREATE INDEX events_task ON events(task_id, seq);",

	/* 2: one row per round a child reports: what it cost and gave. */
	"CREATE TABLE rounds ("
	"  id INTEGER PRIMARY KEY,"
	"  task_id INTEGER NOT NULL REFERENCES tasks(id),"
	"  domain_id INTEGER NOT NULL REFERENCES domains(id),"
	"  directive_id INTEGER REFERENCES directives(id),"
	"  round INTEGER NOT NULL,"
	"  ok INTEGER NOT NULL,"
	"  stage TEXT NOT NULL,"
	"  commit_id TEXT,"
	"  error TEXT,"
	"  summary TEXT,"
	"  checks TEXT,"
	"  tokens_in INTEGER NOT NULL DEFAULT 0,"
	"  tokens_out INTEGER NOT NULL DEFAULT 0,"
	"  tokens_cached INTEGER NOT NULL DEFAULT 0,"
	"  cost REAL NOT NULL DEFAULT 0,"
	"  duration_ms INTEGER NOT NULL DEFAULT 0,"
	"  created REAL NOT NULL);"
	"CREATE INDEX rounds_task ON rounds(task_id, domain_id, id);",

	/* 3: the task's own state, kept until now in an 8-key "spec" JSON
	 * column, moves into columns of its own: the standing directives,
	 * the budget limits (NULL: the configured default), the plan, the
	 * reviews asked, the planner's usage and the round the no-progress
	 * watchdog counts from; each domain's depends and whether it was
	 * named at submit.  A spec that does not parse migrates as empty. */
	"ALTER TABLE tasks ADD COLUMN standing TEXT;"
	"ALTER TABLE tasks ADD COLUMN budget_tokens REAL;"
	"ALTER TABLE tasks ADD COLUMN budget_cost REAL;"
	"ALTER TABLE tasks ADD COLUMN budget_rounds REAL;"
	"ALTER TABLE tasks ADD COLUMN budget_time REAL;"
	"ALTER TABLE tasks ADD COLUMN plan TEXT;"
	"ALTER TABLE tasks ADD COLUMN reviews INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tasks ADD COLUMN planner_in INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tasks ADD COLUMN planner_out INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tasks ADD COLUMN planner_cost REAL NOT NULL DEFAULT 0;"
	"ALTER TABLE tasks ADD COLUMN progress_since INTEGER NOT NULL"
	"  DEFAULT 0;"
	"ALTER TABLE domains ADD COLUMN submitted INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE domains ADD COLUMN depends TEXT;"
	"UPDATE tasks SET spec = NULL WHERE NOT json_valid(spec)"
	"  OR json_type(spec) != 'object';"
	"UPDATE tasks SET"
	"  standing = iif(json_type(spec, '$.directives') = 'array',"
	"    json_extract(spec, '$.directives'), NULL),"
	"  budget_tokens = iif(json_type(spec, '$.budget.tokens')"
	"    IN ('integer', 'real'), json_extract(spec, '$.budget.tokens'),"
	"    NULL),"
	"  budget_cost = iif(json_type(spec, '$.budget.cost')"
	"    IN ('integer', 'real'), json_extract(spec, '$.budget.cost'), NULL),"
	"  budget_rounds = iif(json_type(spec, '$.budget.rounds')"
	"    IN ('integer', 'real'), json_extract(spec, '$.budget.rounds'),"
	"    NULL),"
	"  budget_time = iif(json_type(spec, '$.budget.time')"
	"    IN ('integer', 'real'), json_extract(spec, '$.budget.time'), NULL),"
	"  plan = iif(json_type(spec, '$.plan') = 'object',"
	"    json_extract(spec, '$.plan'), NULL),"
	"  reviews = ifnull(json_extract(spec, '$.reviews'), 0),"
	"  planner_in = ifnull(json_extract(spec, '$.planner_usage.input'), 0),"
	"  planner_out = ifnull(json_extract(spec, '$.planner_usage.output'),"
	"    0),"
	"  planner_cost = ifnull(json_extract(spec, '$.planner_usage.cost'), 0),"
	"  progress_since = ifnull(json_extract(spec, '$.progress_since'), 0)"
	"  WHERE spec IS NOT NULL;"
	"UPDATE domains SET"
	"  submitted = EXISTS (SELECT 1 FROM tasks t,"
	"    json_each(t.spec, '$.domains') j"
	"    WHERE t.id = domains.task_id AND t.spec IS NOT NULL"
	"    AND j.value = domains.name),"
	"  depends = (SELECT iif(json_type(t.spec, '$.depends.\"' || domains.name"
	"    || '\"') = 'array', json_extract(t.spec, '$.depends.\"'"
	"    || domains.name || '\"'), NULL)"
	"    FROM tasks t WHERE t.id = domains.task_id"
	"    AND t.spec IS NOT NULL);"
	"ALTER TABLE tasks DROP COLUMN spec;",

	/* 4: which model answered: a round's domain model and its critic's,
	 * and the planner's latest plan or review.  NULL before. */
	"ALTER TABLE rounds ADD COLUMN model TEXT;"
	"ALTER TABLE rounds ADD COLUMN critic_model TEXT;"
	"ALTER TABLE tasks ADD COLUMN planner_model TEXT;",

	/* 5: interface first.  A version is either declared (what the
	 * domain says it will provide and consume, before its code passes
	 * its checks) or implemented (what an accepted commit holds); one
	 * sequence of numbers per domain, each row saying which it is.
	 * Every version before was implemented. */
	"ALTER TABLE interfaces ADD COLUMN declared INTEGER NOT NULL"
	"  DEFAULT 0;",

	/* 6: integration runs: the task's checks on a commit of main, with
	 * every domain's code; the task's own integration checks (from its
	 * plan and reviews) and its failing runs attributed in a row. */
	"CREATE TABLE integration_runs ("
	"  id INTEGER PRIMARY KEY,"
	"  task_id INTEGER NOT NULL REFERENCES tasks(id),"
	"  commit_id TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  checks TEXT NOT NULL,"
	"  results TEXT,"
	"  error TEXT,"
	"  duration_ms INTEGER NOT NULL DEFAULT 0,"
	"  created REAL NOT NULL,"
	"  updated REAL NOT NULL);"
	"CREATE INDEX integration_runs_task ON integration_runs(task_id, id);"
	"ALTER TABLE tasks ADD COLUMN integration_checks TEXT;"
	"ALTER TABLE tasks ADD COLUMN integration_failures INTEGER NOT NULL"
	"  DEFAULT 0;",

	/* 7: what a child's message costs stays bounded however many rounds
	 * and events there are (issue #14): a round found by its commit, a
	 * task's newest rounds, and progress events by age (for retention
	 * and prune). */
	"CREATE INDEX rounds_commit ON rounds(domain_id, commit_id)"
	"  WHERE commit_id IS NOT NULL;"
	"CREATE INDEX rounds_task_id ON rounds(task_id, id);"
	"CREATE INDEX events_kind ON events(event, ts);",

	/* 8: providers (issue #15).  A round says which provider answered;
	 * a directive put back after a failure waits until not_before; a
	 * provider masterd holds down has a row (its circuit breaker), so
	 * an outage outlives a restart. */
	"ALTER TABLE rounds ADD COLUMN provider TEXT;"
	"ALTER TABLE directives ADD COLUMN not_before REAL;"
	"CREATE TABLE providers ("
	"  endpoint TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  since REAL NOT NULL,"
	"  next_try REAL NOT NULL,"
	"  failures INTEGER NOT NULL,"
	"  reason TEXT,"
	"  updated REAL NOT NULL);",

	/* 9: the scoreboard and `status` from running totals (issue #16):
	 * reading every round of a task after each round made a task's cost
	 * grow with rounds^2, and counting the events table cost status
	 * milliseconds per million rows.  Triggers keep the totals, so any
	 * writer (masterd, a backup restored, masterctl) keeps them exact.
	 * A domain's scores: its rounds' sums (round 0, an attempt that
	 * never became a round, counts for its cost only), its closed
	 * directives and the model of its latest round that named one. */
	"CREATE TABLE scores ("
	"  domain_id INTEGER PRIMARY KEY REFERENCES domains(id),"
	"  rounds INTEGER NOT NULL DEFAULT 0,"
	"  accepted INTEGER NOT NULL DEFAULT 0,"
	"  checks_run INTEGER NOT NULL DEFAULT 0,"
	"  checks_passed INTEGER NOT NULL DEFAULT 0,"
	"  tokens_in INTEGER NOT NULL DEFAULT 0,"
	"  tokens_out INTEGER NOT NULL DEFAULT 0,"
	"  tokens_cached INTEGER NOT NULL DEFAULT 0,"
	"  cost REAL NOT NULL DEFAULT 0,"
	"  duration_ms INTEGER NOT NULL DEFAULT 0,"
	"  directives_done INTEGER NOT NULL DEFAULT 0,"
	"  directives_failed INTEGER NOT NULL DEFAULT 0,"
	"  model TEXT);"
	"INSERT INTO scores SELECT d.id,"
	"  count(r.id) FILTER (WHERE r.round > 0), coalesce(sum(r.ok), 0),"
	"  coalesce(sum(r.checks IS NOT NULL AND r.checks != '[]'), 0),"
	"  coalesce(sum(r.checks IS NOT NULL AND r.checks != '[]'"
	"    AND r.stage != 'checks'), 0),"
	"  coalesce(sum(r.tokens_in), 0), coalesce(sum(r.tokens_out), 0),"
	"  coalesce(sum(r.tokens_cached), 0), coalesce(sum(r.cost), 0.0),"
	"  coalesce(sum(r.duration_ms), 0),"
	"  (SELECT count(*) FROM directives x WHERE x.domain_id = d.id"
	"    AND x.state = 'done'),"
	"  (SELECT count(*) FROM directives x WHERE x.domain_id = d.id"
	"    AND x.state IN ('failed', 'dropped')),"
	"  (SELECT m.model FROM rounds m WHERE m.domain_id = d.id"
	"    AND m.model IS NOT NULL ORDER BY m.id DESC LIMIT 1)"
	"  FROM domains d LEFT JOIN rounds r ON r.domain_id = d.id"
	"  GROUP BY d.id;"
	"CREATE TRIGGER scores_domain AFTER INSERT ON domains BEGIN"
	"  INSERT INTO scores (domain_id) VALUES (NEW.id);"
	"END;"
	/* Checks that ran are counted from the stored results: a round
	 * whose checks all passed has stage critic, commit or later. */
	"CREATE TRIGGER scores_round AFTER INSERT ON rounds BEGIN"
	"  UPDATE scores SET rounds = rounds + (NEW.round > 0),"
	"    accepted = accepted + NEW.ok,"
	"    checks_run = checks_run + ifnull(NEW.checks IS NOT NULL"
	"      AND NEW.checks != '[]', 0),"
	"    checks_passed = checks_passed + ifnull(NEW.checks IS NOT NULL"
	"      AND NEW.checks != '[]' AND NEW.stage != 'checks', 0),"
	"    tokens_in = tokens_in + NEW.tokens_in,"
	"    tokens_out = tokens_out + NEW.tokens_out,"
	"    tokens_cached = tokens_cached + NEW.tokens_cached,"
	"    cost = cost + NEW.cost,"
	"    duration_ms = duration_ms + NEW.duration_ms,"
	"    model = coalesce(NEW.model, model)"
	"  WHERE domain_id = NEW.domain_id;"
	"END;"
	/* Directives are added queued; a state change moves them in or
	 * out of the closed counts. */
	"CREATE TRIGGER scores_directive AFTER UPDATE OF state ON directives"
	"  WHEN NEW.domain_id IS NOT NULL AND NEW.state != OLD.state BEGIN"
	"  UPDATE scores SET"
	"    directives_done = directives_done + (NEW.state = 'done')"
	"      - (OLD.state = 'done'),"
	"    directives_failed = directives_failed"
	"      + (NEW.state IN ('failed', 'dropped'))"
	"      - (OLD.state IN ('failed', 'dropped'))"
	"  WHERE domain_id = NEW.domain_id;"
	"END;"
	/* Exact row counts for `status`, kept on insert and delete. */
	"CREATE TABLE counters ("
	"  name TEXT PRIMARY KEY,"
	"  n INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT INTO counters VALUES"
	"  ('events', (SELECT count(*) FROM events)),"
	"  ('interfaces', (SELECT count(*) FROM interfaces));"
	"CREATE TRIGGER counters_event_add AFTER INSERT ON events BEGIN"
	"  UPDATE counters SET n = n + 1 WHERE name = 'events';"
	"END;"
	"CREATE TRIGGER counters_event_del AFTER DELETE ON events BEGIN"
	"  UPDATE counters SET n = n - 1 WHERE name = 'events';"
	"END;"
	/* Interfaces are append only (see their triggers). */
	"CREATE TRIGGER counters_interface_add AFTER INSERT ON interfaces"
	"  BEGIN"
	"  UPDATE counters SET n = n + 1 WHERE name = 'interfaces';"
	"END;",

	/* 10: existing projects (issue #18).  A task may start from an
	 * imported repository ({"origin","branch","commit"}), and a
	 * domain's folder is apart from its name (NULL: <name>/). */
	"ALTER TABLE tasks ADD COLUMN import TEXT;"
	"ALTER TABLE domains ADD COLUMN folder TEXT;",

	/* 11: a person in the loop (issue #18): the questions the planner
	 * and the domains ask the user, and the plans and merges that wait
	 * for an approval ([task] approve).  One row each; kind is
	 * "question" or "approval", who "planner" or a domain's name.  A
	 * question is open, answered or expired; an approval open,
	 * approved or rejected; answer is the user's answer or reason.
	 * context: an approved merge's commit, or the directive a domain
	 * asked in; delivered: a domain's answers went into a directive. */
	"CREATE TABLE asks ("
	"  id INTEGER PRIMARY KEY,"
	"  task_id INTEGER NOT NULL REFERENCES tasks(id),"
	"  kind TEXT NOT NULL,"
	"  who TEXT NOT NULL,"
	"  text TEXT NOT NULL,"
	"  assumption TEXT,"
	"  state TEXT NOT NULL,"
	"  answer TEXT,"
	"  context TEXT,"
	"  deadline REAL,"
	"  delivered INTEGER NOT NULL DEFAULT 0,"
	"  created REAL NOT NULL,"
	"  updated REAL NOT NULL);"
	"CREATE INDEX asks_task ON asks(task_id, id);",
};

/* How a result column becomes a JSON value. */
enum col_kind { C_INT, C_REAL, C_BOOL, C_TEXT, C_JSON };

/* One field of a returned object; a NULL name makes the row a bare value. */
struct col {
	const char *name;
	enum col_kind kind;
};

#define SHAPE(a)	(a), nitems(a)

/* Each shape lists the fields in the order of its *_COLS select list. */
#define TASK_COLS "id, text, state, paused, reason, created, updated, " \
	"standing, budget_tokens, budget_cost, budget_rounds, budget_time, " \
	"plan, reviews, planner_in, planner_out, planner_cost, progress_since, " \
	"planner_model, integration_checks, integration_failures, import"
static const struct col task_cols[] = {
	{ "id", C_INT }, { "text", C_TEXT }, { "state", C_TEXT },
	{ "paused", C_BOOL }, { "reason", C_TEXT }, { "created", C_REAL },
	{ "updated", C_REAL }, { "standing", C_JSON },
	{ "budget_tokens", C_REAL }, { "budget_cost", C_REAL },
	{ "budget_rounds", C_REAL }, { "budget_time", C_REAL },
	{ "plan", C_JSON }, { "reviews", C_INT }, { "planner_in", C_INT },
	{ "planner_out", C_INT }, { "planner_cost", C_REAL },
	{ "progress_since", C_INT }, { "planner_model", C_TEXT },
	{ "integration_checks", C_JSON }, { "integration_failures", C_INT },
	{ "import", C_JSON },
};

#define DOMAIN_COLS "id, task_id, name, state, reason, prompt, checks, " \
	"restarts, created, updated, folder"
static const struct col domain_cols[] = {
	{ "id", C_INT }, { "task", C_INT }, { "name", C_TEXT },
	{ "state", C_TEXT }, { "reason", C_TEXT }, { "prompt", C_TEXT },
	{ "checks", C_JSON }, { "restarts", C_INT }, { "created", C_REAL },
	{ "updated", C_REAL }, { "folder", C_TEXT },
};

/* What the task core loads beside the shown columns. */
#define DOMAIN_LOAD_COLS DOMAIN_COLS ", submitted, depends"
static const struct col domain_load_cols[] = {
	{ "id", C_INT }, { "task", C_INT }, { "name", C_TEXT },
	{ "state", C_TEXT }, { "reason", C_TEXT }, { "prompt", C_TEXT },
	{ "checks", C_JSON }, { "restarts", C_INT }, { "created", C_REAL },
	{ "updated", C_REAL }, { "folder", C_TEXT }, { "submitted", C_BOOL },
	{ "depends", C_JSON },
};

/* "domain" is the domain's name in every object but the domain's own. */
#define IFACE_COLS "i.id, d.task_id, d.name, i.version, i.hash, " \
	"i.created, i.document, i.declared"
#define IFACE_FROM " FROM interfaces i JOIN domains d ON d.id = i.domain_id"
static const struct col iface_cols[] = {
	{ "id", C_INT }, { "task", C_INT }, { "domain", C_TEXT },
	{ "version", C_INT }, { "hash", C_TEXT }, { "created", C_REAL },
	{ "document", C_JSON }, { "declared", C_BOOL },
};

#define DIRECTIVE_COLS "x.id, x.task_id, d.name, x.source, x.text, " \
	"x.priority, x.state, x.attempts, x.reason, x.created, x.updated, " \
	"x.not_before"
#define DIRECTIVE_FROM " FROM directives x" \
	" LEFT JOIN domains d ON d.id = x.domain_id"
static const struct col directive_cols[] = {
	{ "id", C_INT }, { "task", C_INT }, { "domain", C_TEXT },
	{ "source", C_TEXT }, { "text", C_TEXT }, { "priority", C_INT },
	{ "state", C_TEXT }, { "attempts", C_INT }, { "reason", C_TEXT },
	{ "created", C_REAL }, { "updated", C_REAL },
	{ "not_before", C_REAL },
};

#define EVENT_COLS "seq, ts, task_id, domain, event, data"
static const struct col event_cols[] = {
	{ "seq", C_INT }, { "ts", C_REAL }, { "task", C_INT },
	{ "domain", C_TEXT }, { "event", C_TEXT }, { "data", C_JSON },
};

#define ROUND_COLS "r.id, r.task_id, d.name, r.directive_id, r.round, " \
	"r.ok, r.stage, r.commit_id, r.error, r.summary, r.checks, " \
	"r.tokens_in, r.tokens_out, r.tokens_cached, r.cost, r.duration_ms, " \
	"r.created, r.model, r.critic_model, r.provider"
#define ROUND_FROM " FROM rounds r JOIN domains d ON d.id = r.domain_id"
static const struct col round_cols[] = {
	{ "id", C_INT }, { "task", C_INT }, { "domain", C_TEXT },
	{ "directive", C_INT }, { "round", C_INT }, { "ok", C_BOOL },
	{ "stage", C_TEXT }, { "commit", C_TEXT }, { "error", C_TEXT },
	{ "summary", C_TEXT }, { "checks", C_JSON }, { "tokens_in", C_INT },
	{ "tokens_out", C_INT }, { "tokens_cached", C_INT },
	{ "cost", C_REAL }, { "duration_ms", C_INT }, { "created", C_REAL },
	{ "model", C_TEXT }, { "critic_model", C_TEXT },
	{ "provider", C_TEXT },
};

#define PROVIDER_COLS "endpoint, name, since, next_try, failures, reason"
static const struct col provider_cols[] = {
	{ "endpoint", C_TEXT }, { "name", C_TEXT }, { "since", C_REAL },
	{ "next_try", C_REAL }, { "failures", C_INT }, { "reason", C_TEXT },
};

/* The scoreboard: one row per domain of a task. */
static const struct col score_cols[] = {
	{ "domain", C_TEXT }, { "rounds", C_INT }, { "accepted", C_INT },
	{ "checks_run", C_INT }, { "checks_passed", C_INT },
	{ "tokens_in", C_INT }, { "tokens_out", C_INT },
	{ "tokens_cached", C_INT }, { "cost", C_REAL },
	{ "duration_ms", C_INT }, { "directives_done", C_INT },
	{ "directives_failed", C_INT }, { "model", C_TEXT },
};

#define RUN_COLS "id, task_id, commit_id, state, checks, results, error, " \
	"duration_ms, created, updated"
static const struct col run_cols[] = {
	{ "id", C_INT }, { "task", C_INT }, { "commit", C_TEXT },
	{ "state", C_TEXT }, { "checks", C_JSON }, { "results", C_JSON },
	{ "error", C_TEXT }, { "duration_ms", C_INT }, { "created", C_REAL },
	{ "updated", C_REAL },
};

#define ASK_COLS "id, task_id, kind, who, text, assumption, state, answer, " \
	"context, deadline, delivered, created, updated"
static const struct col ask_cols[] = {
	{ "id", C_INT }, { "task", C_INT }, { "kind", C_TEXT },
	{ "who", C_TEXT }, { "text", C_TEXT }, { "assumption", C_TEXT },
	{ "state", C_TEXT }, { "answer", C_TEXT }, { "context", C_TEXT },
	{ "deadline", C_REAL }, { "delivered", C_BOOL }, { "created", C_REAL },
	{ "updated", C_REAL },
};

static const struct col id_cols[] = { { NULL, C_INT } };

static const struct col stats_cols[] = {
	{ "tasks", C_INT }, { "tasks_active", C_INT }, { "domains", C_INT },
	{ "interfaces", C_INT }, { "directives_open", C_INT },
	{ "events", C_INT },
};

#define TASK_OPEN	"state NOT IN ('done', 'failed', 'cancelled')"
#define DIRECTIVE_OPEN	"state IN ('queued', 'running')"

enum stmt {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
	ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO,
	ST_TASK_ADD, ST_TASK_STATE, ST_TASK_PAUSED, ST_TASK_GET, ST_TASKS,
	ST_TASKS_UNFINISHED,
	ST_DOMAIN_ADD, ST_DOMAIN_STATE, ST_DOMAIN_RESTART, ST_DOMAIN_FIND,
	ST_DOMAIN_GET, ST_DOMAINS_ALL, ST_DOMAINS_TASK,
	ST_IFACE_HEAD, ST_IFACE_HEAD_KIND, ST_IFACE_ADD, ST_IFACE_GET,
	ST_IFACE_GET_LATEST, ST_IFACE_GET_KIND,
	ST_IFACE_LATEST_TASK, ST_IFACE_COUNT_ALL, ST_IFACE_COUNT_TASK,
	ST_DIR_FIND_OPEN, ST_DIR_RAISE, ST_DIR_ADD, ST_DIR_STATE, ST_DIR_NEXT,
	ST_DIRS_ALL, ST_DIRS_TASK, ST_DIRS_DOMAIN,
	ST_EVENT_ADD, ST_EVENTS_ALL, ST_EVENTS_TASK, ST_EVENTS_NEWEST_ALL,
	ST_EVENTS_NEWEST_TASK,
	ST_STATS,
	ST_ROUND_ADD, ST_ROUNDS_TASK, ST_SCORE_TASK, ST_DIR_GET,
	ST_TASK_BUDGET, ST_TASK_PLAN, ST_TASK_REVIEWS, ST_TASK_PLANNER,
	ST_TASK_PROGRESS, ST_DOMAIN_DEPENDS, ST_DOMAINS_LOAD,
	ST_TASK_PLANNER_MODEL,
	ST_TASK_INTEG_CHECKS, ST_TASK_INTEG_FAILURES,
	ST_RUN_ADD, ST_RUN_END, ST_RUNS_TASK, ST_RUNS_ABANDON,
	ST_ROUND_COMMITTED, ST_ROUNDS_RECENT, ST_SPEND_TASK, ST_EVENTS_PRUNE,
	ST_DIR_DEFER, ST_PROVIDER_PUT, ST_PROVIDER_DEL, ST_PROVIDERS,
	ST_ROUNDS_LAST, ST_TASK_IMPORT, ST_DOMAIN_FOLDER,
	ST_ASK_ADD, ST_ASK_SET, ST_ASK_DEADLINE, ST_ASK_DELIVERED, ST_ASK_GET,
	ST_ASKS,
	ST__COUNT
};

/* A statement and, for those whose rows become JSON, the row's shape. */
static const struct stmt_def {
	const char *sql;
	const struct col *cols;
	size_t ncols;
} stmt_defs[ST__COUNT] = {
	/* IMMEDIATE: take the write lock before the first read, so a
	 * read-then-write cannot fail half way with SQLITE_BUSY. */
	[ST_BEGIN] = { "BEGIN IMMEDIATE", NULL, 0 },
	[ST_COMMIT] = { "COMMIT", NULL, 0 },
	[ST_ROLLBACK] = { "ROLLBACK", NULL, 0 },
	/* Inside a batch, a write's own transaction nests as a savepoint. */
	[ST_SAVEPOINT] = { "SAVEPOINT w", NULL, 0 },
	[ST_RELEASE] = { "RELEASE w", NULL, 0 },
	[ST_ROLLBACK_TO] = { "ROLLBACK TO w", NULL, 0 },

	[ST_TASK_ADD] = { "INSERT INTO tasks (text, state, standing,"
	    " budget_tokens, budget_cost, budget_rounds, budget_time, created,"
	    " updated) VALUES (?1, 'planned', ?2, ?4, ?5, ?6, ?7, ?3, ?3)",
	    NULL, 0 },
	[ST_TASK_STATE] = { "UPDATE tasks SET state = ?2, reason = ?3,"
	    " updated = ?4 WHERE id = ?1", NULL, 0 },
	[ST_TASK_PAUSED] = { "UPDATE tasks SET paused = ?2, reason = ?3,"
	    " updated = ?4 WHERE id = ?1", NULL, 0 },
	[ST_TASK_GET] = { "SELECT " TASK_COLS " FROM tasks WHERE id = ?1",
	    SHAPE(task_cols) },
	[ST_TASKS] = { "SELECT " TASK_COLS " FROM tasks ORDER BY id DESC",
	    SHAPE(task_cols) },
	[ST_TASKS_UNFINISHED] = { "SELECT id FROM tasks WHERE " TASK_OPEN
	    " ORDER BY id", SHAPE(id_cols) },

	[ST_DOMAIN_ADD] = { "INSERT INTO domains (task_id, name, state, prompt,"
	    " checks, created, updated, submitted, depends)"
	    " VALUES (?1, ?2, 'stopped', ?3, ?4, ?5, ?5, ?6, ?7)", NULL, 0 },
	[ST_DOMAIN_STATE] = { "UPDATE domains SET state = ?2, reason = ?3,"
	    " updated = ?4 WHERE id = ?1", NULL, 0 },
	[ST_DOMAIN_RESTART] = { "UPDATE domains SET restarts = restarts + 1,"
	    " updated = ?2 WHERE id = ?1", NULL, 0 },
	[ST_DOMAIN_FIND] = { "SELECT id FROM domains"
	    " WHERE task_id = ?1 AND name = ?2", NULL, 0 },
	[ST_DOMAIN_GET] = { "SELECT " DOMAIN_COLS " FROM domains WHERE id = ?1",
	    SHAPE(domain_cols) },
	[ST_DOMAINS_ALL] = { "SELECT " DOMAIN_COLS " FROM domains ORDER BY id",
	    SHAPE(domain_cols) },
	[ST_DOMAINS_TASK] = { "SELECT " DOMAIN_COLS " FROM domains"
	    " WHERE task_id = ?1 ORDER BY id", SHAPE(domain_cols) },

	[ST_IFACE_HEAD] = { "SELECT version, hash, document FROM interfaces"
	    " WHERE domain_id = ?1 ORDER BY version DESC LIMIT 1", NULL, 0 },
	[ST_IFACE_HEAD_KIND] = { "SELECT version, hash, document FROM"
	    " interfaces WHERE domain_id = ?1 AND declared = ?2"
	    " ORDER BY version DESC LIMIT 1", NULL, 0 },
	[ST_IFACE_ADD] = { "INSERT INTO interfaces (domain_id, version, hash,"
	    " document, created, declared) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	    NULL, 0 },
	[ST_IFACE_GET] = { "SELECT " IFACE_COLS IFACE_FROM
	    " WHERE i.domain_id = ?1 AND i.version = ?2", SHAPE(iface_cols) },
	[ST_IFACE_GET_LATEST] = { "SELECT " IFACE_COLS IFACE_FROM
	    " WHERE i.domain_id = ?1 ORDER BY i.version DESC LIMIT 1",
	    SHAPE(iface_cols) },
	[ST_IFACE_GET_KIND] = { "SELECT " IFACE_COLS IFACE_FROM
	    " WHERE i.domain_id = ?1 AND i.declared = ?2 AND i.version < ?3"
	    " ORDER BY i.version DESC LIMIT 1", SHAPE(iface_cols) },
	[ST_IFACE_LATEST_TASK] = { "SELECT " IFACE_COLS IFACE_FROM
	    " WHERE d.task_id = ?1 AND i.version = (SELECT max(version)"
	    " FROM interfaces WHERE domain_id = d.id) ORDER BY d.name",
	    SHAPE(iface_cols) },
	[ST_IFACE_COUNT_ALL] = { "SELECT count(*) FROM interfaces", NULL, 0 },
	[ST_IFACE_COUNT_TASK] = { "SELECT count(*)" IFACE_FROM
	    " WHERE d.task_id = ?1", NULL, 0 },

	/* The terms must match the partial index directives_open's to use
	 * it. */
	[ST_DIR_FIND_OPEN] = { "SELECT id, priority FROM directives"
	    " WHERE task_id = ?1 AND ifnull(domain_id, 0) = ?2 AND text = ?3"
	    " AND " DIRECTIVE_OPEN, NULL, 0 },
	[ST_DIR_RAISE] = { "UPDATE directives SET priority = ?2, updated = ?3"
	    " WHERE id = ?1 AND priority < ?2", NULL, 0 },
	[ST_DIR_ADD] = { "INSERT INTO directives (task_id, domain_id, source,"
	    " text, priority, state, created, updated)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?6)",
	    NULL, 0 },
	/* attempts counts how many times the directive was started. */
	[ST_DIR_STATE] = { "UPDATE directives SET state = ?2, reason = ?3,"
	    " attempts = attempts + (?2 = 'running'),"
	    " updated = ?4 WHERE id = ?1", NULL, 0 },
	/* id, not created, for age: ids grow with insertion, clocks step. */
	[ST_DIR_NEXT] = { "SELECT " DIRECTIVE_COLS DIRECTIVE_FROM
	    " WHERE x.domain_id = ?1 AND x.state = 'queued'"
	    " ORDER BY x.priority DESC, x.id LIMIT 1", SHAPE(directive_cols) },
	[ST_DIRS_ALL] = { "SELECT " DIRECTIVE_COLS DIRECTIVE_FROM
	    " ORDER BY x.id", SHAPE(directive_cols) },
	[ST_DIRS_TASK] = { "SELECT " DIRECTIVE_COLS DIRECTIVE_FROM
	    " WHERE x.task_id = ?1 ORDER BY x.id", SHAPE(directive_cols) },
	[ST_DIRS_DOMAIN] = { "SELECT " DIRECTIVE_COLS DIRECTIVE_FROM
	    " WHERE x.domain_id = ?2 AND (?1 = 0 OR x.task_id = ?1)"
	    " ORDER BY x.id", SHAPE(directive_cols) },

	[ST_EVENT_ADD] = { "INSERT INTO events (ts, task_id, domain, event,"
	    " data) VALUES (?1, ?2, ?3, ?4, ?5)", NULL, 0 },
	[ST_EVENTS_ALL] = { "SELECT " EVENT_COLS " FROM events"
	    " WHERE seq > ?1 ORDER BY seq LIMIT ?2", SHAPE(event_cols) },
	[ST_EVENTS_TASK] = { "SELECT " EVENT_COLS " FROM events"
	    " WHERE task_id = ?3 AND seq > ?1 ORDER BY seq LIMIT ?2",
	    SHAPE(event_cols) },
	/* The newest, walked back on the primary key or events_task. */
	[ST_EVENTS_NEWEST_ALL] = { "SELECT * FROM (SELECT " EVENT_COLS
	    " FROM events ORDER BY seq DESC LIMIT ?1) ORDER BY seq",
	    SHAPE(event_cols) },
	[ST_EVENTS_NEWEST_TASK] = { "SELECT * FROM (SELECT " EVENT_COLS
	    " FROM events WHERE task_id = ?2 ORDER BY seq DESC LIMIT ?1)"
	    " ORDER BY seq", SHAPE(event_cols) },

	[ST_STATS] = { "SELECT (SELECT count(*) FROM tasks),"
	    " (SELECT count(*) FROM tasks WHERE " TASK_OPEN "),"
	    " (SELECT count(*) FROM domains),"
	    " (SELECT n FROM counters WHERE name = 'interfaces'),"
	    " (SELECT count(*) FROM directives WHERE " DIRECTIVE_OPEN "),"
	    " (SELECT n FROM counters WHERE name = 'events')",
	    SHAPE(stats_cols) },

	[ST_DIR_GET] = { "SELECT " DIRECTIVE_COLS DIRECTIVE_FROM
	    " WHERE x.id = ?1", SHAPE(directive_cols) },
	[ST_TASK_BUDGET] = { "UPDATE tasks SET budget_tokens = ?2,"
	    " budget_cost = ?3, budget_rounds = ?4, budget_time = ?5,"
	    " updated = ?6 WHERE id = ?1", NULL, 0 },
	[ST_TASK_PLAN] = { "UPDATE tasks SET plan = ?2, updated = ?3"
	    " WHERE id = ?1", NULL, 0 },
	[ST_TASK_REVIEWS] = { "UPDATE tasks SET reviews = ?2, updated = ?3"
	    " WHERE id = ?1", NULL, 0 },
	[ST_TASK_PLANNER] = { "UPDATE tasks SET planner_in = ?2,"
	    " planner_out = ?3, planner_cost = ?4, updated = ?5"
	    " WHERE id = ?1", NULL, 0 },
	[ST_TASK_PLANNER_MODEL] = { "UPDATE tasks SET planner_model = ?2,"
	    " updated = ?3 WHERE id = ?1", NULL, 0 },
	[ST_TASK_INTEG_CHECKS] = { "UPDATE tasks SET integration_checks = ?2,"
	    " updated = ?3 WHERE id = ?1", NULL, 0 },
	[ST_TASK_INTEG_FAILURES] = { "UPDATE tasks SET"
	    " integration_failures = ?2, updated = ?3 WHERE id = ?1", NULL, 0 },
	[ST_RUN_ADD] = { "INSERT INTO integration_runs (task_id, commit_id,"
	    " state, checks, created, updated) VALUES (?1, ?2, 'running', ?3,"
	    " ?4, ?4)", NULL, 0 },
	[ST_RUN_END] = { "UPDATE integration_runs SET state = ?2,"
	    " results = ?3, error = ?4, duration_ms = ?5, updated = ?6"
	    " WHERE id = ?1", NULL, 0 },
	[ST_RUNS_TASK] = { "SELECT " RUN_COLS " FROM integration_runs"
	    " WHERE task_id = ?1 ORDER BY id DESC LIMIT ?2", SHAPE(run_cols) },
	/* A run masterd did not see end (it stopped or was killed). */
	[ST_RUNS_ABANDON] = { "UPDATE integration_runs SET state = 'error',"
	    " error = ?1, updated = ?2 WHERE state = 'running'", NULL, 0 },
	[ST_TASK_PROGRESS] = { "UPDATE tasks SET progress_since = ?2,"
	    " updated = ?3 WHERE id = ?1", NULL, 0 },
	[ST_DOMAIN_DEPENDS] = { "UPDATE domains SET depends = ?2, updated = ?3"
	    " WHERE id = ?1", NULL, 0 },
	[ST_TASK_IMPORT] = { "UPDATE tasks SET import = ?2, updated = ?3"
	    " WHERE id = ?1", NULL, 0 },
	[ST_DOMAIN_FOLDER] = { "UPDATE domains SET folder = ?2, updated = ?3"
	    " WHERE id = ?1", NULL, 0 },
	[ST_DOMAINS_LOAD] = { "SELECT " DOMAIN_LOAD_COLS " FROM domains"
	    " WHERE task_id = ?1 ORDER BY id", SHAPE(domain_load_cols) },
	[ST_ROUND_ADD] = { "INSERT INTO rounds (task_id, domain_id,"
	    " directive_id, round, ok, stage, commit_id, error, summary,"
	    " checks, tokens_in, tokens_out, tokens_cached, cost, duration_ms,"
	    " created, model, critic_model, provider) VALUES (?1, ?2, ?3, ?4,"
	    " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
	    " ?19)", NULL, 0 },
	/* A directive put back: when it may start again, and whether the
	 * start that ended counts (a provider outage is not its fault). */
	[ST_DIR_DEFER] = { "UPDATE directives SET not_before = ?2,"
	    " attempts = max(attempts - ?3, 0) WHERE id = ?1", NULL, 0 },
	[ST_PROVIDER_PUT] = { "INSERT OR REPLACE INTO providers (endpoint,"
	    " name, since, next_try, failures, reason, updated)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", NULL, 0 },
	[ST_PROVIDER_DEL] = { "DELETE FROM providers WHERE endpoint = ?1",
	    NULL, 0 },
	[ST_PROVIDERS] = { "SELECT " PROVIDER_COLS " FROM providers"
	    " ORDER BY endpoint", SHAPE(provider_cols) },
	[ST_ROUNDS_TASK] = { "SELECT " ROUND_COLS ROUND_FROM
	    " WHERE r.task_id = ?1 AND (?2 = 0 OR r.domain_id = ?2)"
	    " ORDER BY r.id", SHAPE(round_cols) },
	/* From the running totals of migration 9: a domain's row, not its
	 * rounds. */
	[ST_SCORE_TASK] = { "SELECT d.name, ifnull(s.rounds, 0),"
	    " ifnull(s.accepted, 0), ifnull(s.checks_run, 0),"
	    " ifnull(s.checks_passed, 0), ifnull(s.tokens_in, 0),"
	    " ifnull(s.tokens_out, 0), ifnull(s.tokens_cached, 0),"
	    " ifnull(s.cost, 0.0), ifnull(s.duration_ms, 0),"
	    " ifnull(s.directives_done, 0), ifnull(s.directives_failed, 0),"
	    " s.model FROM domains d LEFT JOIN scores s ON s.domain_id = d.id"
	    " WHERE d.task_id = ?1 ORDER BY d.id", SHAPE(score_cols) },
	/* The review's: the task's newest rounds, oldest first, by the
	 * rounds_task_id index. */
	[ST_ROUNDS_LAST] = { "SELECT * FROM (SELECT " ROUND_COLS ROUND_FROM
	    " WHERE r.task_id = ?1 ORDER BY r.id DESC LIMIT ?2) ORDER BY 1",
	    SHAPE(round_cols) },
	/* The three below cost what their LIMIT or index allows, not what
	 * the task has stored: they run on every round a child reports. */
	[ST_ROUND_COMMITTED] = { "SELECT 1 FROM rounds WHERE domain_id = ?2"
	    " AND commit_id = ?3 AND task_id = ?1 LIMIT 1", NULL, 0 },
	/* Round 0 is an attempt that never became a round (its model
	 * call failed): kept for the tokens it cost, not a round played. */
	[ST_ROUNDS_RECENT] = { "SELECT commit_id IS NOT NULL FROM rounds"
	    " WHERE task_id = ?1 AND id > ?2 AND round > 0"
	    " ORDER BY id DESC LIMIT ?3",
	    NULL, 0 },
	/* A batch of the oldest progress events, by the events_kind index. */
	[ST_EVENTS_PRUNE] = { "DELETE FROM events WHERE seq IN (SELECT seq"
	    " FROM events WHERE event = 'progress' AND ts < ?1 LIMIT ?2)",
	    NULL, 0 },
	[ST_ASK_ADD] = { "INSERT INTO asks (task_id, kind, who, text,"
	    " assumption, state, context, deadline, created, updated)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?8, ?8)", NULL, 0 },
	/* Only an open one changes: an answer and an expiry cannot both
	 * land. */
	[ST_ASK_SET] = { "UPDATE asks SET state = ?2, answer = ?3,"
	    " updated = ?4 WHERE id = ?1 AND state = 'open'", NULL, 0 },
	[ST_ASK_DEADLINE] = { "UPDATE asks SET deadline = ?2, updated = ?3"
	    " WHERE id = ?1 AND state = 'open'", NULL, 0 },
	[ST_ASK_DELIVERED] = { "UPDATE asks SET delivered = 1, updated = ?2"
	    " WHERE id = ?1", NULL, 0 },
	[ST_ASK_GET] = { "SELECT " ASK_COLS " FROM asks WHERE id = ?1",
	    SHAPE(ask_cols) },
	/* A task's (0: every task's), open ones only when ?2: of a task
	 * that is not over (a cancelled task's questions wait for no one). */
	[ST_ASKS] = { "SELECT " ASK_COLS " FROM asks"
	    " WHERE (?1 = 0 OR task_id = ?1) AND (?2 = 0 OR (state = 'open'"
	    " AND task_id IN (SELECT id FROM tasks WHERE " TASK_OPEN ")))"
	    " ORDER BY id", SHAPE(ask_cols) },
	/* Once per task and start: its spending is kept up in memory. */
	[ST_SPEND_TASK] = { "SELECT count(*) FILTER (WHERE round > 0),"
	    " coalesce(sum(tokens_in + tokens_out), 0),"
	    " coalesce(sum(cost), 0) FROM rounds WHERE task_id = ?1",
	    NULL, 0 },
};

struct registry {
	sqlite3 *db;
	sqlite3_stmt *st[ST__COUNT];
	int version;
	int batch;		/* depth of registry_batch_begin/end */
	bool batch_failed;	/* an inner batch ended without commit */
	void (*wal_fn)(void *, int);	/* registry_on_wal */
	void *wal_arg;
	char errmsg[512];
};

/* ---------------------------------------------------------------- errors */

static int
set_err(struct registry *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
set_err(struct registry *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->errmsg, sizeof(r->errmsg), fmt, ap);
	va_end(ap);
	return -1;
}

/* Keeps SQLite's message for the last failed call on the connection. */
static int
sql_err(struct registry *r)
{
	return set_err(r, "%s", sqlite3_errmsg(r->db));
}

/* Forgets the statement's state and bindings: bound strings may point
 * into the caller's memory. */
static void
release(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* The one place a failed call is logged; the message is already kept. */
static int
fail(struct registry *r, sqlite3_stmt *st, const char *fn)
{
	log_err("registry: %s: %s", fn, r->errmsg);
	if (st != NULL)
		release(st);
	return -1;
}

static int
db_fail(struct registry *r, sqlite3_stmt *st, const char *fn)
{
	sql_err(r);
	return fail(r, st, fn);
}

static json_t *
fail_null(struct registry *r, sqlite3_stmt *st, const char *fn)
{
	fail(r, st, fn);
	return NULL;
}

/* The name of a value of a vocabulary set; NULL when out of range. */
static const char *
vocab_name(const char *const *names, int n, int v)
{
	return v >= 0 && v < n ? names[v] : NULL;
}

static int
bad_state(struct registry *r, const char *name, int v, const char *fn)
{
	if (name != NULL)
		return 0;
	set_err(r, "invalid state %d", v);
	return fail(r, NULL, fn);
}

/* --------------------------------------------------------------- helpers */


/* 64-bit FNV-1a, as 16 hex digits.  Not cryptographic: it only has to tell
 * versions of one domain's document apart, and the text is compared too. */
static void
fnv1a_hex(const char *s, char out[17])
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	snprintf(out, 17, "%016" PRIx64, h);
}

static int
bind_rc(struct registry *r, int rc)
{
	return rc == SQLITE_OK ? 0 : sql_err(r);
}

static int
bind_int(struct registry *r, sqlite3_stmt *st, int i, int64_t v)
{
	return bind_rc(r, sqlite3_bind_int64(st, i, v));
}

/* An optional reference: 0 stores NULL. */
static int
bind_ref(struct registry *r, sqlite3_stmt *st, int i, int64_t v)
{
	if (v == 0)
		return bind_rc(r, sqlite3_bind_null(st, i));
	return bind_int(r, st, i, v);
}

static int
bind_real(struct registry *r, sqlite3_stmt *st, int i, double v)
{
	return bind_rc(r, sqlite3_bind_double(st, i, v));
}

/* Static: release() drops the binding before the caller's string goes. */
static int
bind_text(struct registry *r, sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		return bind_rc(r, sqlite3_bind_null(st, i));
	return bind_rc(r, sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC));
}

static int
bind_json(struct registry *r, sqlite3_stmt *st, int i, const json_t *v)
{
	char *s;
	int rc;

	if (v == NULL)
		return bind_rc(r, sqlite3_bind_null(st, i));
	if ((s = json_dumps(v, JSON_CANONICAL)) == NULL)
		return set_err(r, "cannot encode JSON");
	rc = sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	free(s);
	return bind_rc(r, rc);
}

/* Steps a statement that returns no rows. */
static int
exec_write(struct registry *r, sqlite3_stmt *st, const char *fn)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		return db_fail(r, st, fn);
	release(st);
	return 0;
}

/* An UPDATE of one row by id: REG_NOT_FOUND when there is no such row. */
static int
exec_update(struct registry *r, sqlite3_stmt *st, const char *fn)
{
	if (exec_write(r, st, fn) == -1)
		return -1;
	return sqlite3_changes(r->db) == 0 ? REG_NOT_FOUND : 0;
}

/* The first column of the first row as an integer; REG_NOT_FOUND when the
 * query returns nothing. */
static int
query_int(struct registry *r, sqlite3_stmt *st, int64_t *out, const char *fn)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE) {
		release(st);
		return REG_NOT_FOUND;
	}
	if (rc != SQLITE_ROW)
		return db_fail(r, st, fn);
	*out = sqlite3_column_int64(st, 0);
	release(st);
	return 0;
}

static int
tx_begin(struct registry *r, const char *fn)
{
	return exec_write(r, r->st[r->batch ? ST_SAVEPOINT : ST_BEGIN], fn);
}

static int
tx_commit(struct registry *r, const char *fn)
{
	return exec_write(r, r->st[r->batch ? ST_RELEASE : ST_COMMIT], fn);
}

/* Undoes a failed write, keeping the message of what made it fail. */
static void
tx_rollback(struct registry *r, const char *fn)
{
	char cause[sizeof(r->errmsg)];

	/* Some errors (SQLITE_FULL, SQLITE_IOERR) end the transaction. */
	if (sqlite3_get_autocommit(r->db))
		return;
	memcpy(cause, r->errmsg, sizeof(cause));
	if (r->batch) {
		/* Back to the savepoint; the batch's earlier writes stay. */
		if (exec_write(r, r->st[ST_ROLLBACK_TO], fn) == 0)
			exec_write(r, r->st[ST_RELEASE], fn);
	} else {
		exec_write(r, r->st[ST_ROLLBACK], fn);
	}
	memcpy(r->errmsg, cause, sizeof(cause));
}

/*
 * A relaxed write is committed without its own fsync.  Only rows the
 * master can lose on a power cut without breaking a promise go this way:
 * events, a child's state and restart count, a directive being started
 * (requeued at restart anyway).  In WAL mode every synced commit first
 * syncs the whole log, so the durable state is always a prefix of the
 * commits: a relaxed write is durable by the next synced one, and a kill
 * -9 loses none.  Inside a batch or a transaction the pragma cannot
 * change; the write is then synced with the rest.
 */
static bool
relax(struct registry *r)
{
	if (!sqlite3_get_autocommit(r->db))
		return false;
	return sqlite3_exec(r->db, "PRAGMA synchronous = NORMAL", NULL, NULL,
	    NULL) == SQLITE_OK;
}

static void
unrelax(struct registry *r, bool relaxed)
{
	/* Setting a pragma does no I/O; a failure here is a bug in us. */
	if (relaxed && sqlite3_exec(r->db, "PRAGMA synchronous = FULL", NULL,
	    NULL, NULL) != SQLITE_OK)
		log_err("registry: cannot restore synchronous = FULL: %s",
		    sqlite3_errmsg(r->db));
}

/* ------------------------------------------------------------ rows → JSON */

/*
 * SQLite stores whatever bytes it was given; a reason cut from a child's
 * output may end mid-character.  Rather than make the row unreadable (JSON
 * strings must be UTF-8), each bad byte reads back as U+FFFD.
 */
static json_t *
text_repaired(const char *s, size_t n)
{
	char *buf;
	size_t i = 0, o = 0, k;
	json_t *j;

	buf = xmalloc(n * 3 + 1);
	while (i < n) {
		k = utf8_seq((const unsigned char *)s + i, n - i);
		if (k == 0) {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(buf + o, s + i, k);
		o += k;
		i += k;
	}
	j = json_stringn(buf, o);
	free(buf);
	return j;
}

static json_t *
col_value(sqlite3_stmt *st, int i, enum col_kind kind)
{
	const char *s;
	size_t n;
	json_t *j;

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	switch (kind) {
	case C_INT:
		return json_integer(sqlite3_column_int64(st, i));
	case C_REAL:
		return json_real(sqlite3_column_double(st, i));
	case C_BOOL:
		return json_boolean(sqlite3_column_int(st, i));
	case C_TEXT:
	case C_JSON:
		break;
	}
	if ((s = (const char *)sqlite3_column_text(st, i)) == NULL)
		return NULL;
	n = (size_t)sqlite3_column_bytes(st, i);
	if (kind == C_JSON)
		return json_loadb(s, n, JSON_DECODE_ANY, NULL);
	if ((j = json_stringn(s, n)) == NULL)
		j = text_repaired(s, n);
	return j;
}

/* The current row as the statement's shape; NULL when out of memory or a
 * stored JSON column does not parse. */
static json_t *
row_json(sqlite3_stmt *st, const struct stmt_def *def)
{
	json_t *o;
	size_t i;

	if (def->cols[0].name == NULL)
		return col_value(st, 0, def->cols[0].kind);
	if ((o = json_object()) == NULL)
		return NULL;
	for (i = 0; i < def->ncols; i++) {
		if (json_object_set_new(o, def->cols[i].name,
		    col_value(st, (int)i, def->cols[i].kind)) == -1) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* The first row of a bound statement as JSON; NULL when there is none. */
static json_t *
query_one(struct registry *r, enum stmt id, const char *fn)
{
	sqlite3_stmt *st = r->st[id];
	json_t *j;
	int rc;

	if ((rc = sqlite3_step(st)) == SQLITE_DONE) {
		release(st);
		return NULL;
	}
	if (rc != SQLITE_ROW) {
		db_fail(r, st, fn);
		return NULL;
	}
	if ((j = row_json(st, &stmt_defs[id])) == NULL) {
		set_err(r, "cannot build a JSON row");
		return fail_null(r, st, fn);
	}
	release(st);
	return j;
}

/* Every row of a bound statement, as a JSON array. */
static json_t *
query_all(struct registry *r, enum stmt id, const char *fn)
{
	sqlite3_stmt *st = r->st[id];
	json_t *a;
	int rc;

	if ((a = json_array()) == NULL) {
		set_err(r, "out of memory");
		return fail_null(r, st, fn);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (json_array_append_new(a, row_json(st,
		    &stmt_defs[id])) == -1) {
			set_err(r, "cannot build a JSON row");
			goto err;
		}
	}
	if (rc != SQLITE_DONE) {
		sql_err(r);
		goto err;
	}
	release(st);
	return a;
err:
	json_decref(a);
	return fail_null(r, st, fn);
}

/* query_one and query_all of a statement whose one parameter is an id. */
static json_t *
query_one_by(struct registry *r, enum stmt id, int64_t key, const char *fn)
{
	if (bind_int(r, r->st[id], 1, key) == -1)
		return fail_null(r, r->st[id], fn);
	return query_one(r, id, fn);
}

static json_t *
query_all_by(struct registry *r, enum stmt id, int64_t key, const char *fn)
{
	if (bind_int(r, r->st[id], 1, key) == -1)
		return fail_null(r, r->st[id], fn);
	return query_all(r, id, fn);
}

/* ---------------------------------------------------------- open / close */

/* SQLite would create the file 0644 less the umask; the database holds the
 * user's prompts and project state, so create it 0600 first.  The -wal and
 * -shm files take the database's mode. */
static int
create_file(struct registry *r, const char *path)
{
	int fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return set_err(r, "%s: %s", path, strerror(errno));
	close(fd);
	return 0;
}

/* Runs a pragma; when expect is set, its result must be that. */
static int
pragma(struct registry *r, const char *sql, const char *expect)
{
	sqlite3_stmt *st;
	const char *got;
	int rc = -1;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return set_err(r, "%s: %s", sql, sqlite3_errmsg(r->db));
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		got = (const char *)sqlite3_column_text(st, 0);
		if (expect != NULL && (got == NULL ||
		    strcasecmp(got, expect) != 0)) {
			set_err(r, "%s: got %s, need %s", sql,
			    got ? got : "nothing", expect);
			break;
		}
		rc = 0;
		break;
	case SQLITE_DONE:
		if (expect == NULL)
			rc = 0;
		else
			set_err(r, "%s: no result", sql);
		break;
	default:
		set_err(r, "%s: %s", sql, sqlite3_errmsg(r->db));
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * WAL lets masterctl read while the master writes.  synchronous=FULL
 * because in WAL mode NORMAL skips the fsync at commit: an application
 * crash (kill -9) would still lose nothing, but a power cut could roll
 * back commits the master had already acknowledged.  FULL syncs the WAL at
 * every commit.  Foreign keys are off by default in SQLite, so check that
 * they took.
 */
static int
configure(struct registry *r)
{
	if (sqlite3_busy_timeout(r->db, BUSY_TIMEOUT_MS) != SQLITE_OK)
		return sql_err(r);
	if (pragma(r, "PRAGMA journal_mode = WAL", "wal") == -1 ||
	    pragma(r, "PRAGMA synchronous = FULL", NULL) == -1 ||
	    pragma(r, "PRAGMA synchronous", "2") == -1 ||
	    pragma(r, "PRAGMA foreign_keys = ON", NULL) == -1 ||
	    pragma(r, "PRAGMA foreign_keys", "1") == -1)
		return -1;
	return 0;
}

static int
exec_sql(struct registry *r, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(r->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	set_err(r, "%s", msg ? msg : sqlite3_errmsg(r->db));
	sqlite3_free(msg);
	return -1;
}

static int
read_user_version(struct registry *r, int *v)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(r->db, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK)
		return sql_err(r);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*v = sqlite3_column_int(st, 0);
	else
		sql_err(r);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * One migration in its own transaction, with the version read again under
 * the write lock so two processes opening at once cannot both apply it.
 * *done is set when the schema is current.
 */
static int
migrate_one(struct registry *r, bool *done)
{
	const int latest = (int)nitems(migrations);
	char sql[64], cause[sizeof(r->errmsg)];
	int v = 0;

	if (exec_sql(r, "BEGIN IMMEDIATE") == -1)
		return -1;
	if (read_user_version(r, &v) == -1)
		goto rollback;
	if (v > latest) {
		set_err(r, "database schema version %d is newer than this "
		    "masterd knows (%d); refusing to open it", v, latest);
		goto rollback;
	}
	if ((*done = v == latest)) {
		r->version = v;
		return exec_sql(r, "COMMIT");
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
	if (exec_sql(r, migrations[v]) == -1 || exec_sql(r, sql) == -1 ||
	    exec_sql(r, "COMMIT") == -1) {
		memcpy(cause, r->errmsg, sizeof(cause));
		set_err(r, "migration to schema version %d: %.400s", v + 1,
		    cause);
		goto rollback;
	}
	return 0;
rollback:
	if (!sqlite3_get_autocommit(r->db))
		sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int
migrate(struct registry *r)
{
	bool done = false;

	while (!done)
		if (migrate_one(r, &done) == -1)
			return -1;
	return 0;
}

static int
prepare_all(struct registry *r)
{
	const struct stmt_def *def;
	int i;

	for (i = 0; i < ST__COUNT; i++) {
		def = &stmt_defs[i];
		if (sqlite3_prepare_v3(r->db, def->sql, -1,
		    SQLITE_PREPARE_PERSISTENT, &r->st[i], NULL) != SQLITE_OK)
			return set_err(r, "preparing \"%.200s\": %s", def->sql,
			    sqlite3_errmsg(r->db));
		/* A select list and its shape edited apart. */
		if (def->cols != NULL &&
		    (size_t)sqlite3_column_count(r->st[i]) != def->ncols)
			return set_err(r, "statement %d: %d columns, shape "
			    "has %zu", i, sqlite3_column_count(r->st[i]),
			    def->ncols);
	}
	return 0;
}

struct registry *
registry_open(const char *path, char *err, size_t errlen)
{
	struct registry *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		if (errlen > 0)
			snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (create_file(r, path) == -1)
		goto fail;
	if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		if (r->db == NULL)
			set_err(r, "%s: out of memory", path);
		else
			set_err(r, "%s: %s", path, sqlite3_errmsg(r->db));
		goto fail;
	}
	if (configure(r) == -1 || migrate(r) == -1 || prepare_all(r) == -1)
		goto fail;
	return r;
fail:
	if (errlen > 0)
		snprintf(err, errlen, "%s", r->errmsg);
	registry_close(r);
	return NULL;
}

void
registry_close(struct registry *r)
{
	int i;

	if (r == NULL)
		return;
	for (i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(r->st[i]);
	if (r->db != NULL && sqlite3_close(r->db) != SQLITE_OK)
		log_err("registry: close: %s", sqlite3_errmsg(r->db));
	free(r);
}

static int
wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct registry *r = arg;

	(void)db; (void)name;
	r->wal_fn(r->wal_arg, pages);
	return SQLITE_OK;
}

void
registry_on_wal(struct registry *r, void (*fn)(void *, int), void *arg)
{
	r->wal_fn = fn;
	r->wal_arg = arg;
	if (fn != NULL)
		sqlite3_wal_hook(r->db, wal_hook, r);
	else
		sqlite3_wal_autocheckpoint(r->db, 1000);
}

const char *
registry_errmsg(struct registry *r)
{
	return r->errmsg;
}

/* Prepared statements run so far: SQLite counts each run of a statement
 * (its steps until the reset), so this costs nothing on the way. */
uint64_t
registry_calls(struct registry *r)
{
	uint64_t n = 0;

	for (size_t i = 0; i < ST__COUNT; i++)
		if (r->st[i] != NULL)
			n += (uint64_t)sqlite3_stmt_status(r->st[i],
			    SQLITE_STMTSTATUS_RUN, 0);
	return n;
}

int
registry_schema_version(struct registry *r)
{
	return r->version;
}

int
registry_batch_begin(struct registry *r)
{
	if (r->batch == 0) {
		if (exec_write(r, r->st[ST_BEGIN], __func__) == -1)
			return -1;
		r->batch_failed = false;
	}
	r->batch++;
	return 0;
}

int
registry_batch_end(struct registry *r, bool commit)
{
	int rc = 0;

	if (r->batch == 0)
		return 0;
	if (!commit)
		r->batch_failed = true;
	if (--r->batch > 0)
		return 0;
	if (commit && r->batch_failed) {
		tx_rollback(r, __func__);
		return set_err(r, "%s: part of the batch failed; all of it "
		    "was rolled back", __func__);
	}
	/* An I/O error or a full disk may have ended it already. */
	if (sqlite3_get_autocommit(r->db))
		return commit ? set_err(r, "%s: the batch was rolled back: %s",
		    __func__, sqlite3_errmsg(r->db)) : 0;
	if (commit)
		rc = exec_write(r, r->st[ST_COMMIT], __func__);
	if (!commit || rc == -1)
		tx_rollback(r, __func__);
	return rc;
}

/* ----------------------------------------------------------------- tasks */

/* A limit, or NULL when the task has none of its own. */
static int
bind_limit(struct registry *r, sqlite3_stmt *st, int i,
    const struct budget *b, enum budget_key k)
{
	if (b == NULL || !(b->set & (1u << k)))
		return bind_rc(r, sqlite3_bind_null(st, i));
	return bind_real(r, st, i, b->limit[k]);
}

static int
bind_budget(struct registry *r, sqlite3_stmt *st, int first,
    const struct budget *b)
{
	for (int k = 0; k < BUDGET_KEY_COUNT; k++)
		if (bind_limit(r, st, first + k, b, (enum budget_key)k) == -1)
			return -1;
	return 0;
}

int
registry_task_add(struct registry *r, const char *text,
    const json_t *standing, const struct budget *budget, int64_t *id)
{
	sqlite3_stmt *st = r->st[ST_TASK_ADD];

	if (bind_text(r, st, 1, text) == -1 ||
	    bind_json(r, st, 2, standing) == -1 ||
	    bind_real(r, st, 3, now_epoch()) == -1 ||
	    bind_budget(r, st, 4, budget) == -1)
		return fail(r, st, __func__);
	if (exec_write(r, st, __func__) == -1)
		return -1;
	if (id != NULL)
		*id = sqlite3_last_insert_rowid(r->db);
	return 0;
}

/* UPDATE ... SET state = ?2, reason = ?3, updated = ?4 WHERE id = ?1. */
static int
set_state(struct registry *r, enum stmt id, int64_t row, const char *state,
    int v, const char *reason, bool relaxed, const char *fn)
{
	sqlite3_stmt *st = r->st[id];
	int rc;

	if (bad_state(r, state, v, fn) == -1)
		return -1;
	if (bind_int(r, st, 1, row) == -1 || bind_text(r, st, 2, state) == -1 ||
	    bind_text(r, st, 3, reason) == -1 ||
	    bind_real(r, st, 4, now_epoch()) == -1)
		return fail(r, st, fn);
	relaxed = relaxed && relax(r);
	rc = exec_update(r, st, fn);
	unrelax(r, relaxed);
	return rc;
}

int
registry_task_set_state(struct registry *r, int64_t task,
    enum task_state state, const char *reason)
{
	return set_state(r, ST_TASK_STATE, task, vocab_name(task_state_names,
	    TASK_STATE_COUNT, (int)state), (int)state, reason, false,
	    __func__);
}

int
registry_task_set_budget(struct registry *r, int64_t task,
    const struct budget *b)
{
	sqlite3_stmt *st = r->st[ST_TASK_BUDGET];

	if (bind_int(r, st, 1, task) == -1 || bind_budget(r, st, 2, b) == -1 ||
	    bind_real(r, st, 6, now_epoch()) == -1)
		return fail(r, st, __func__);
	return exec_update(r, st, __func__);
}

int
registry_task_set_plan(struct registry *r, int64_t task, const json_t *plan)
{
	sqlite3_stmt *st = r->st[ST_TASK_PLAN];

	if (bind_int(r, st, 1, task) == -1 || bind_json(r, st, 2, plan) == -1 ||
	    bind_real(r, st, 3, now_epoch()) == -1)
		return fail(r, st, __func__);
	return exec_update(r, st, __func__);
}

/* UPDATE ... SET column = ?2, updated = ?3 WHERE id = ?1. */
static int
set_int_column(struct registry *r, enum stmt id, int64_t row, int64_t v,
    const char *fn)
{
	sqlite3_stmt *st = r->st[id];

	if (bind_int(r, st, 1, row) == -1 || bind_int(r, st, 2, v) == -1 ||
	    bind_real(r, st, 3, now_epoch()) == -1)
		return fail(r, st, fn);
	return exec_update(r, st, fn);
}

int
registry_task_set_reviews(struct registry *r, int64_t task, int64_t n)
{
	return set_int_column(r, ST_TASK_REVIEWS, task, n, __func__);
}

int
registry_task_set_progress(struct registry *r, int64_t task, int64_t round)
{
	return set_int_column(r, ST_TASK_PROGRESS, task, round, __func__);
}

int
registry_task_set_planner_usage(struct registry *r, int64_t task,
    const struct usage *u)
{
	sqlite3_stmt *st = r->st[ST_TASK_PLANNER];

	if (bind_int(r, st, 1, task) == -1 ||
	    bind_int(r, st, 2, u->input) == -1 ||
	    bind_int(r, st, 3, u->output) == -1 ||
	    bind_real(r, st, 4, u->cost) == -1 ||
	    bind_real(r, st, 5, now_epoch()) == -1)
		return fail(r, st, __func__);
	return exec_update(r, st, __func__);
}

int
registry_task_set_integration_checks(struct registry *r, int64_t task,
    const json_t *checks)
{
	sqlite3_stmt *st = r->st[ST_TASK_INTEG_CHECKS];

	if (bind_int(r, st, 1, task) == -1 ||
	    bind_json(r, st, 2, checks) == -1 ||
	    bind_real(r, st, 3, now_epoch()) == -1)
		return fail(r, st, __func__);
	return exec_update(r, st, __func__);
}

int
registry_task_set_integration_failures(struct registry *r, int64_t task,
    int64_t n)
{
	return set_int_column(r, ST_TASK_INTEG_FAILURES, task, n, __func__);
}

int
registry_task_set_planner_model(struct registry *r, int64_t task,
    const char *model)
{
	sqlite3_stmt *st = r->st[ST_TASK_PLANNER_MODEL];

	if (bind_int(r, st, 1, task) == -1 ||
	    bind_text(r, st, 2, model != NULL && *model != '\0' ? model :
	    NULL) == -1 ||
	    bind_real(r, st, 3, now_epoch()) == -1)
		return fail(r, st, __func__);
	return exec_update(r, st, __func__);
}

int
registry_task_set_paused(struct registry *r, int64_t task, bool paused,
    const char *reason)
{
	sqlite3_stmt *st = r->st[ST_TASK_PAUSED];

	if (bind_int(r, st, 1, task) == -1 ||
	    bind_int(r, st, 2, paused) == -1 ||
	    bind_text(r, st, 3, reason) == -1 ||
	    bind_real(r, st, 4, now_epoch()) == -1)
		return fail(r, st, __func__);
	return exec_update(r, st, __func__);
}

json_t *
registry_task_get(struct registry *r, int64_t task)
{
	return query_one_by(r, ST_TASK_GET, task, __func__);
}

json_t *
registry_tasks(struct registry *r)
{
	return query_all(r, ST_TASKS, __func__);
}

json_t *
registry_tasks_unfinished(struct registry *r)
{
	return query_all(r, ST_TASKS_UNFINISHED, __func__);
}

/* --------------------------------------------------------------- domains */

int
registry_domain_add(struct registry *r, int64_t task, const char *name,
    const char *prompt, const json_t *checks, const json_t *depends,
    bool submitted, int64_t *id)
{
	sqlite3_stmt *st = r->st[ST_DOMAIN_ADD];

	if (bind_int(r, st, 1, task) == -1 || bind_text(r, st, 2, name) == -1 ||
	    bind_text(r, st, 3, prompt) == -1 ||
	    bind_json(r, st, 4, checks) == -1 ||
	    bind_real(r, st, 5, now_epoch()) == -1 ||
	    bind_int(r, st, 6, submitted) == -1 ||
	    bind_json(r, st, 7, depends) == -1)
		return fail(r, st, __func__);
	if (exec_write(r, st, __func__) == -1)
		return -1;
	if (id != NULL)
		*id = sqlite3_last_insert_rowid(r->db);
	return 0;
}

int
registry_domain_set_state(struct registry *r, int64_t domain,
    enum domain_state state, const char *reason)
{
	return set_state(r, ST_DOMAIN_STATE, domain, vocab_name(
	    domain_state_names, DOMAIN_STATE_COUNT, (int)state), (int)state,
	    reason, true, __func__);
}

int
registry_domain_set_depends(struct registry *r, int64_t domain,
    const json_t *depends)
{
	sqlite3_stmt *st = r->st[ST_DOMAIN_DEPENDS];

	if (bind_int(r, st, 1, domain) == -1 ||
	    bind_json(r, st, 2, depends) == -1 ||
	    bind_real(r, st, 3, now_epoch()) == -1)
		return fail(r, st, __func__);
	return exec_update(r, st, __func__);
}

int
registry_task_set_import(struct registry *r, int64_t task,
    const json_t *import)
{
	sqlite3_stmt *st = r->st[ST_TASK_IMPORT];

	if (bind_int(r, st, 1, task) == -1 ||
	    bind_json(r, st, 2, import) == -1 ||
	    bind_real(r, st, 3, now_epoch()) == -1)
		return fail(r, st, __func__);
	return exec_update(r, st, __func__);
}

int
registry_domain_set_folder(struct registry *r, int64_t domain,
    const char *folder)
{
	sqlite3_stmt *st = r->st[ST_DOMAIN_FOLDER];

	if (bind_int(r, st, 1, domain) == -1 ||
	    bind_text(r, st, 2, folder) == -1 ||
	    bind_real(r, st, 3, now_epoch()) == -1)
		return fail(r, st, __func__);
	return exec_update(r, st, __func__);
}

json_t *
registry_domains_load(struct registry *r, int64_t task)
{
	return query_all_by(r, ST_DOMAINS_LOAD, task, __func__);
}

int
registry_domain_count_restart(struct registry *r, int64_t domain)
{
	sqlite3_stmt *st = r->st[ST_DOMAIN_RESTART];

	bool relaxed;
	int rc;

	if (bind_int(r, st, 1, domain) == -1 ||
	    bind_real(r, st, 2, now_epoch()) == -1)
		return fail(r, st, __func__);
	relaxed = relax(r);
	rc = exec_update(r, st, __func__);
	unrelax(r, relaxed);
	return rc;
}

int
registry_domain_find(struct registry *r, int64_t task, const char *name,
    int64_t *id)
{
	sqlite3_stmt *st = r->st[ST_DOMAIN_FIND];
	int64_t found;
	int rc;

	if (bind_int(r, st, 1, task) == -1 || bind_text(r, st, 2, name) == -1)
		return fail(r, st, __func__);
	if ((rc = query_int(r, st, &found, __func__)) == 0 && id != NULL)
		*id = found;
	return rc;
}

json_t *
registry_domain_get(struct registry *r, int64_t domain)
{
	return query_one_by(r, ST_DOMAIN_GET, domain, __func__);
}

json_t *
registry_domains(struct registry *r, int64_t task)
{
	if (task == 0)
		return query_all(r, ST_DOMAINS_ALL, __func__);
	return query_all_by(r, ST_DOMAINS_TASK, task, __func__);
}

/* ------------------------------------------------------------ interfaces */

/* The text of one head row of st (bound): its version, and whether it
 * is the canonical text given; version 0 when there is no row. */
static int
head_row(struct registry *r, sqlite3_stmt *st, const char *hash,
    const char *text, int *version, bool *same)
{
	const char *h, *d;
	int rc;

	*version = 0;
	*same = false;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*version = sqlite3_column_int(st, 0);
		h = (const char *)sqlite3_column_text(st, 1);
		d = (const char *)sqlite3_column_text(st, 2);
		*same = h != NULL && d != NULL && strcmp(h, hash) == 0 &&
		    strcmp(d, text) == 0;
	} else if (rc != SQLITE_DONE)
		return db_fail(r, st, __func__);
	release(st);
	return 0;
}

/*
 * The domain's newest version of either kind (0 when none), and whether
 * the text given repeats what is there: a declared document repeats the
 * newest version, whatever its kind (it declares nothing new); an
 * implemented one the newest implemented version.
 */
static int
iface_head(struct registry *r, int64_t domain, bool declared,
    const char *hash, const char *text, int *latest, bool *same)
{
	sqlite3_stmt *st = r->st[ST_IFACE_HEAD];
	int v;

	if (bind_int(r, st, 1, domain) == -1)
		return fail(r, st, __func__);
	if (head_row(r, st, hash, text, latest, same) == -1)
		return -1;
	if (declared)
		return 0;
	st = r->st[ST_IFACE_HEAD_KIND];
	if (bind_int(r, st, 1, domain) == -1 || bind_int(r, st, 2, 0) == -1)
		return fail(r, st, __func__);
	return head_row(r, st, hash, text, &v, same);
}

static int
iface_insert(struct registry *r, int64_t domain, int version, bool declared,
    const char *hash, const char *text)
{
	sqlite3_stmt *st = r->st[ST_IFACE_ADD];

	if (bind_int(r, st, 1, domain) == -1 ||
	    bind_int(r, st, 2, version) == -1 ||
	    bind_text(r, st, 3, hash) == -1 ||
	    bind_text(r, st, 4, text) == -1 ||
	    bind_real(r, st, 5, now_epoch()) == -1 ||
	    bind_int(r, st, 6, declared) == -1)
		return fail(r, st, __func__);
	return exec_write(r, st, __func__);
}

int
registry_interface_add(struct registry *r, int64_t domain,
    const json_t *document, bool declared, int *version, bool *changed)
{
	char hash[17], *text;
	int latest, rc = -1;
	bool same;

	if (document == NULL ||
	    (text = json_dumps(document, JSON_CANONICAL)) == NULL) {
		set_err(r, "interface document missing or not encodable");
		return fail(r, NULL, __func__);
	}
	fnv1a_hex(text, hash);
	/* Read and insert under one write lock: two writers must not both
	 * take latest + 1. */
	if (tx_begin(r, __func__) == -1)
		goto out;
	if (iface_head(r, domain, declared, hash, text, &latest,
	    &same) == -1 || (!same && iface_insert(r, domain, latest + 1,
	    declared, hash, text) == -1) || tx_commit(r, __func__) == -1) {
		tx_rollback(r, __func__);
		goto out;
	}
	if (version != NULL)
		*version = same ? latest : latest + 1;
	if (changed != NULL)
		*changed = !same;
	rc = 0;
out:
	free(text);
	return rc;
}

json_t *
registry_interface_get(struct registry *r, int64_t domain, int version)
{
	enum stmt id = version == 0 ? ST_IFACE_GET_LATEST : ST_IFACE_GET;
	sqlite3_stmt *st = r->st[id];

	if (bind_int(r, st, 1, domain) == -1 ||
	    (version != 0 && bind_int(r, st, 2, version) == -1))
		return fail_null(r, st, __func__);
	return query_one(r, id, __func__);
}

json_t *
registry_interface_latest(struct registry *r, int64_t domain, bool declared,
    int before)
{
	sqlite3_stmt *st = r->st[ST_IFACE_GET_KIND];

	if (bind_int(r, st, 1, domain) == -1 ||
	    bind_int(r, st, 2, declared) == -1 ||
	    bind_int(r, st, 3, before > 0 ? before : INT_MAX) == -1)
		return fail_null(r, st, __func__);
	return query_one(r, ST_IFACE_GET_KIND, __func__);
}

json_t *
registry_interfaces_latest(struct registry *r, int64_t task)
{
	return query_all_by(r, ST_IFACE_LATEST_TASK, task, __func__);
}

/* task 0 counts every task's versions. */
int
registry_interface_count(struct registry *r, int64_t task, int64_t *n)
{
	sqlite3_stmt *st = r->st[task == 0 ? ST_IFACE_COUNT_ALL :
	    ST_IFACE_COUNT_TASK];
	int64_t count = 0;

	if (task != 0 && bind_int(r, st, 1, task) == -1)
		return fail(r, st, __func__);
	if (query_int(r, st, &count, __func__) == -1)
		return -1;
	if (n != NULL)
		*n = count;
	return 0;
}

/* ------------------------------------------------------------ directives */

/* The open directive with this text, if any. */
static int
dir_find_open(struct registry *r, int64_t task, int64_t domain,
    const char *text, int64_t *id, int64_t *priority)
{
	sqlite3_stmt *st = r->st[ST_DIR_FIND_OPEN];
	int rc;

	if (bind_int(r, st, 1, task) == -1 ||
	    bind_int(r, st, 2, domain) == -1 ||
	    bind_text(r, st, 3, text) == -1)
		return fail(r, st, __func__);
	if ((rc = sqlite3_step(st)) == SQLITE_DONE) {
		release(st);
		return REG_NOT_FOUND;
	}
	if (rc != SQLITE_ROW)
		return db_fail(r, st, __func__);
	*id = sqlite3_column_int64(st, 0);
	*priority = sqlite3_column_int64(st, 1);
	release(st);
	return 0;
}

static int
dir_raise(struct registry *r, int64_t id, int priority)
{
	sqlite3_stmt *st = r->st[ST_DIR_RAISE];

	if (bind_int(r, st, 1, id) == -1 ||
	    bind_int(r, st, 2, priority) == -1 ||
	    bind_real(r, st, 3, now_epoch()) == -1)
		return fail(r, st, __func__);
	return exec_write(r, st, __func__);
}

static int
dir_insert(struct registry *r, int64_t task, int64_t domain,
    const char *source, const char *text, int priority, int64_t *id)
{
	sqlite3_stmt *st = r->st[ST_DIR_ADD];

	if (bind_int(r, st, 1, task) == -1 ||
	    bind_ref(r, st, 2, domain) == -1 ||
	    bind_text(r, st, 3, source) == -1 ||
	    bind_text(r, st, 4, text) == -1 ||
	    bind_int(r, st, 5, priority) == -1 ||
	    bind_real(r, st, 6, now_epoch()) == -1)
		return fail(r, st, __func__);
	if (exec_write(r, st, __func__) == -1)
		return -1;
	*id = sqlite3_last_insert_rowid(r->db);
	return 0;
}

/* Merge into an open twin or insert: one transaction, so the lookup and the
 * write see the same state. */
static int
dir_merge_or_insert(struct registry *r, int64_t task, int64_t domain,
    const char *source, const char *text, int priority, int64_t *id,
    bool *merged)
{
	int64_t old;
	int rc;

	rc = dir_find_open(r, task, domain, text, id, &old);
	if (rc == -1)
		return -1;
	if ((*merged = rc == 0))
		return old < priority ? dir_raise(r, *id, priority) : 0;
	return dir_insert(r, task, domain, source, text, priority, id);
}

int
registry_directive_add(struct registry *r, int64_t task, int64_t domain,
    enum directive_source source, const char *text, int priority,
    int64_t *id, bool *merged)
{
	const char *name = vocab_name(source_names, SOURCE_COUNT, (int)source);
	int64_t did;
	bool m;

	if (name == NULL) {
		set_err(r, "invalid directive source %d", (int)source);
		return fail(r, NULL, __func__);
	}
	if (tx_begin(r, __func__) == -1)
		return -1;
	if (dir_merge_or_insert(r, task, domain, name, text, priority, &did,
	    &m) == -1 || tx_commit(r, __func__) == -1) {
		tx_rollback(r, __func__);
		return -1;
	}
	if (id != NULL)
		*id = did;
	if (merged != NULL)
		*merged = m;
	return 0;
}

int
registry_directive_set_state(struct registry *r, int64_t directive,
    enum directive_state state, const char *reason)
{
	/* Started is the one state a restart rewrites: relaxed. */
	return set_state(r, ST_DIR_STATE, directive, vocab_name(
	    directive_state_names, DIRECTIVE_STATE_COUNT, (int)state),
	    (int)state, reason, state == DIRECTIVE_RUNNING, __func__);
}

int
registry_directive_defer(struct registry *r, int64_t directive,
    double not_before, bool uncount)
{
	sqlite3_stmt *st = r->st[ST_DIR_DEFER];

	if (bind_int(r, st, 1, directive) == -1 ||
	    (not_before > 0 ? bind_real(r, st, 2, not_before) :
	    bind_text(r, st, 2, NULL)) == -1 ||
	    bind_int(r, st, 3, uncount) == -1)
		return fail(r, st, __func__);
	return exec_update(r, st, __func__);
}

int
registry_provider_put(struct registry *r, const struct provider_row *p)
{
	sqlite3_stmt *st = r->st[ST_PROVIDER_PUT];

	if (bind_text(r, st, 1, p->endpoint) == -1 ||
	    bind_text(r, st, 2, p->name) == -1 ||
	    bind_real(r, st, 3, p->since) == -1 ||
	    bind_real(r, st, 4, p->next_try) == -1 ||
	    bind_int(r, st, 5, p->failures) == -1 ||
	    bind_text(r, st, 6, p->reason) == -1 ||
	    bind_real(r, st, 7, now_epoch()) == -1)
		return fail(r, st, __func__);
	return exec_write(r, st, __func__);
}

int
registry_provider_del(struct registry *r, const char *endpoint)
{
	sqlite3_stmt *st = r->st[ST_PROVIDER_DEL];

	if (bind_text(r, st, 1, endpoint) == -1)
		return fail(r, st, __func__);
	return exec_write(r, st, __func__);
}

json_t *
registry_providers(struct registry *r)
{
	return query_all(r, ST_PROVIDERS, __func__);
}

json_t *
registry_directive_next(struct registry *r, int64_t domain)
{
	return query_one_by(r, ST_DIR_NEXT, domain, __func__);
}

json_t *
registry_directives(struct registry *r, int64_t task, int64_t domain)
{
	sqlite3_stmt *st;

	if (task == 0 && domain == 0)
		return query_all(r, ST_DIRS_ALL, __func__);
	if (domain == 0)
		return query_all_by(r, ST_DIRS_TASK, task, __func__);
	st = r->st[ST_DIRS_DOMAIN];
	if (bind_int(r, st, 1, task) == -1 || bind_int(r, st, 2, domain) == -1)
		return fail_null(r, st, __func__);
	return query_all(r, ST_DIRS_DOMAIN, __func__);
}

/* ---------------------------------------------------------------- events */

int
registry_event_add(struct registry *r, int64_t task, const char *domain,
    const char *event, const json_t *data, int64_t *seq)
{
	sqlite3_stmt *st = r->st[ST_EVENT_ADD];
	bool relaxed;
	int rc;

	if (bind_real(r, st, 1, now_epoch()) == -1 ||
	    bind_ref(r, st, 2, task) == -1 ||
	    bind_text(r, st, 3, domain) == -1 ||
	    bind_text(r, st, 4, event) == -1 || bind_json(r, st, 5, data) == -1)
		return fail(r, st, __func__);
	relaxed = relax(r);
	rc = exec_write(r, st, __func__);
	unrelax(r, relaxed);
	if (rc == 0 && seq != NULL)
		*seq = sqlite3_last_insert_rowid(r->db);
	return rc;
}

/* task 0: every task's events and those about none; limit <= 0: all. */
json_t *
registry_events(struct registry *r, int64_t task, int64_t after_seq,
    int limit)
{
	enum stmt id = task == 0 ? ST_EVENTS_ALL : ST_EVENTS_TASK;
	sqlite3_stmt *st = r->st[id];

	/* A negative LIMIT means none to SQLite. */
	if (bind_int(r, st, 1, after_seq) == -1 ||
	    bind_int(r, st, 2, limit > 0 ? limit : -1) == -1 ||
	    (task != 0 && bind_int(r, st, 3, task) == -1))
		return fail_null(r, st, __func__);
	return query_all(r, id, __func__);
}

/* task 0: every task's events and those about none. */
json_t *
registry_events_newest(struct registry *r, int64_t task, int limit)
{
	enum stmt id = task == 0 ? ST_EVENTS_NEWEST_ALL : ST_EVENTS_NEWEST_TASK;
	sqlite3_stmt *st = r->st[id];

	if (bind_int(r, st, 1, limit) == -1 ||
	    (task != 0 && bind_int(r, st, 2, task) == -1))
		return fail_null(r, st, __func__);
	return query_all(r, id, __func__);
}

json_t *
registry_stats(struct registry *r)
{
	return query_one(r, ST_STATS, __func__);
}

/* ---------------------------------------------------------------- rounds */

static int
bind_round_usage(struct registry *r, sqlite3_stmt *st, const json_t *u)
{
	if (bind_int(r, st, 11, json_integer_value(json_object_get(u,
	    "input"))) == -1 ||
	    bind_int(r, st, 12, json_integer_value(json_object_get(u,
	    "output"))) == -1 ||
	    bind_int(r, st, 13, json_integer_value(json_object_get(u,
	    "cached"))) == -1 ||
	    bind_real(r, st, 14, json_number_value(json_object_get(u,
	    "cost"))) == -1)
		return -1;
	return 0;
}

/* A model's name from a report; "" (no model said) stores as NULL. */
static const char *
model_of(const json_t *rep, const char *key)
{
	const char *s = json_string_value(json_object_get(rep, key));

	return s != NULL && *s != '\0' ? s : NULL;
}

int
registry_round_add(struct registry *r, int64_t task, int64_t domain,
    int64_t directive, const json_t *rep, int64_t *id)
{
	sqlite3_stmt *st = r->st[ST_ROUND_ADD];
	const json_t *checks = json_object_get(rep, "checks");
	bool relaxed;
	int rc;

	if (bind_int(r, st, 1, task) == -1 || bind_int(r, st, 2, domain) == -1 ||
	    bind_ref(r, st, 3, directive) == -1 ||
	    bind_int(r, st, 4, json_integer_value(json_object_get(rep,
	    "round"))) == -1 ||
	    bind_int(r, st, 5, json_is_true(json_object_get(rep, "ok"))) == -1 ||
	    bind_text(r, st, 6, json_string_value(json_object_get(rep,
	    "stage"))) == -1 ||
	    bind_text(r, st, 7, json_string_value(json_object_get(rep,
	    "commit"))) == -1 ||
	    bind_text(r, st, 8, json_string_value(json_object_get(
	    json_object_get(rep, "error"), "message"))) == -1 ||
	    bind_text(r, st, 9, json_string_value(json_object_get(rep,
	    "summary"))) == -1 ||
	    bind_json(r, st, 10, json_is_array(checks) ? checks : NULL) == -1 ||
	    bind_round_usage(r, st, json_object_get(rep, "usage")) == -1 ||
	    bind_int(r, st, 15, json_integer_value(json_object_get(rep,
	    "duration_ms"))) == -1 ||
	    bind_real(r, st, 16, now_epoch()) == -1 ||
	    bind_text(r, st, 17, model_of(rep, "model")) == -1 ||
	    bind_text(r, st, 18, model_of(rep, "critic_model")) == -1 ||
	    bind_text(r, st, 19, model_of(rep, "provider")) == -1)
		return fail(r, st, __func__);
	/* Relaxed (see relax): a round row promises nothing on its own.  A
	 * final round is followed by its directive's synced state change,
	 * which makes it durable with every round before it; a power cut
	 * can lose only the newest rounds of a directive still running,
	 * which is redone.  Synced, a burst of rounds cost an fsync each. */
	relaxed = relax(r);
	rc = exec_write(r, st, __func__);
	unrelax(r, relaxed);
	if (rc == -1)
		return -1;
	if (id != NULL)
		*id = sqlite3_last_insert_rowid(r->db);
	return 0;
}

json_t *
registry_rounds(struct registry *r, int64_t task, int64_t domain)
{
	sqlite3_stmt *st = r->st[ST_ROUNDS_TASK];

	if (bind_int(r, st, 1, task) == -1 || bind_int(r, st, 2, domain) == -1)
		return fail_null(r, st, __func__);
	return query_all(r, ST_ROUNDS_TASK, __func__);
}

json_t *
registry_rounds_last(struct registry *r, int64_t task, int64_t n)
{
	sqlite3_stmt *st = r->st[ST_ROUNDS_LAST];

	if (bind_int(r, st, 1, task) == -1 || bind_int(r, st, 2, n) == -1)
		return fail_null(r, st, __func__);
	return query_all(r, ST_ROUNDS_LAST, __func__);
}

int
registry_round_committed(struct registry *r, int64_t task, int64_t domain,
    const char *commit)
{
	sqlite3_stmt *st = r->st[ST_ROUND_COMMITTED];
	int64_t one;
	int rc;

	if (bind_int(r, st, 1, task) == -1 || bind_int(r, st, 2, domain) == -1 ||
	    bind_text(r, st, 3, commit) == -1)
		return fail(r, st, __func__);
	rc = query_int(r, st, &one, __func__);
	if (rc == REG_NOT_FOUND)
		return 0;
	return rc == 0 ? 1 : -1;
}

int
registry_rounds_dry(struct registry *r, int64_t task, int64_t after,
    int64_t n, int64_t *count, bool *committed)
{
	sqlite3_stmt *st = r->st[ST_ROUNDS_RECENT];
	int rc;

	*count = 0;
	*committed = false;
	if (bind_int(r, st, 1, task) == -1 || bind_int(r, st, 2, after) == -1 ||
	    bind_int(r, st, 3, n) == -1)
		return fail(r, st, __func__);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		(*count)++;
		if (sqlite3_column_int(st, 0))
			*committed = true;
	}
	if (rc != SQLITE_DONE)
		return db_fail(r, st, __func__);
	release(st);
	return 0;
}

int
registry_task_spend(struct registry *r, int64_t task, int64_t *rounds,
    int64_t *tokens, double *cost)
{
	sqlite3_stmt *st = r->st[ST_SPEND_TASK];

	if (bind_int(r, st, 1, task) == -1)
		return fail(r, st, __func__);
	if (sqlite3_step(st) != SQLITE_ROW)
		return db_fail(r, st, __func__);
	*rounds = sqlite3_column_int64(st, 0);
	*tokens = sqlite3_column_int64(st, 1);
	*cost = sqlite3_column_double(st, 2);
	release(st);
	return 0;
}

int
registry_events_prune(struct registry *r, double before, int64_t limit,
    int64_t *deleted)
{
	sqlite3_stmt *st = r->st[ST_EVENTS_PRUNE];
	bool relaxed;
	int rc;

	*deleted = 0;
	if (bind_real(r, st, 1, before) == -1 ||
	    bind_int(r, st, 2, limit) == -1)
		return fail(r, st, __func__);
	/* Relaxed: an event lost or kept on a power cut is the same. */
	relaxed = relax(r);
	rc = exec_write(r, st, __func__);
	unrelax(r, relaxed);
	if (rc == 0)
		*deleted = sqlite3_changes(r->db);
	return rc;
}

json_t *
registry_scoreboard(struct registry *r, int64_t task)
{
	return query_all_by(r, ST_SCORE_TASK, task, __func__);
}

/* ---------------------------------------------------- integration runs */

int
registry_run_add(struct registry *r, int64_t task, const char *commit,
    const json_t *checks, int64_t *id)
{
	sqlite3_stmt *st = r->st[ST_RUN_ADD];

	if (bind_int(r, st, 1, task) == -1 ||
	    bind_text(r, st, 2, commit) == -1 ||
	    bind_json(r, st, 3, checks) == -1 ||
	    bind_real(r, st, 4, now_epoch()) == -1)
		return fail(r, st, __func__);
	if (exec_write(r, st, __func__) == -1)
		return -1;
	*id = sqlite3_last_insert_rowid(r->db);
	return 0;
}

int
registry_run_end(struct registry *r, int64_t run, const char *state,
    const json_t *results, const char *error, int64_t duration_ms)
{
	sqlite3_stmt *st = r->st[ST_RUN_END];

	if (bind_int(r, st, 1, run) == -1 ||
	    bind_text(r, st, 2, state) == -1 ||
	    bind_json(r, st, 3, results) == -1 ||
	    bind_text(r, st, 4, error) == -1 ||
	    bind_int(r, st, 5, duration_ms) == -1 ||
	    bind_real(r, st, 6, now_epoch()) == -1)
		return fail(r, st, __func__);
	return exec_update(r, st, __func__);
}

json_t *
registry_runs(struct registry *r, int64_t task, int64_t max)
{
	sqlite3_stmt *st = r->st[ST_RUNS_TASK];

	if (bind_int(r, st, 1, task) == -1 || bind_int(r, st, 2, max) == -1)
		return fail_null(r, st, __func__);
	return query_all(r, ST_RUNS_TASK, __func__);
}

int
registry_runs_abandon(struct registry *r, const char *why)
{
	sqlite3_stmt *st = r->st[ST_RUNS_ABANDON];

	if (bind_text(r, st, 1, why) == -1 || bind_real(r, st, 2, now_epoch()) == -1)
		return fail(r, st, __func__);
	return exec_write(r, st, __func__);
}

/* ---------------------------------------------------------------- backup */

/*
 * A copy made in steps (SQLite's online backup API): each step copies a
 * few pages under a short read lock, so the master keeps working in
 * between.  Writes through our own connection are applied to the copy as
 * they happen, and a write through any other connection restarts it: when
 * the last step is done, the copy is the database as it is at that
 * moment, consistent.
 */
struct registry_copy {
	struct registry *reg;
	sqlite3 *dst;
	sqlite3_backup *b;
	char *path;
};

struct registry_copy *
registry_copy_begin(struct registry *r, const char *path)
{
	struct registry_copy *c = xcalloc(1, sizeof(*c));
	int rc;

	c->reg = r;
	c->path = xstrdup(path);
	unlink(path);
	if ((rc = sqlite3_open_v2(path, &c->dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL)) != SQLITE_OK) {
		set_err(r, "backup: %s: %s", path, c->dst ?
		    sqlite3_errmsg(c->dst) : sqlite3_errstr(rc));
		goto fail;
	}
	/* A copy cut short by a crash is deleted at the next start: it
	 * needs no journal and no fsync of its own. */
	sqlite3_exec(c->dst, "PRAGMA journal_mode = OFF", NULL, NULL, NULL);
	sqlite3_exec(c->dst, "PRAGMA synchronous = OFF", NULL, NULL, NULL);
	if ((c->b = sqlite3_backup_init(c->dst, "main", r->db,
	    "main")) == NULL) {
		set_err(r, "backup: %s", sqlite3_errmsg(c->dst));
		goto fail;
	}
	return c;
fail:
	registry_copy_end(c, false);
	return NULL;
}

int
registry_copy_step(struct registry_copy *c, int pages)
{
	int rc = sqlite3_backup_step(c->b, pages);

	switch (rc) {
	case SQLITE_DONE:
		return 1;
	case SQLITE_OK:
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return 0;	/* the next step goes on (or retries) */
	default:
		return set_err(c->reg, "backup: %s", sqlite3_errstr(rc));
	}
}

int
registry_copy_progress(const struct registry_copy *c, int *remaining,
    int *total)
{
	*remaining = sqlite3_backup_remaining(c->b);
	*total = sqlite3_backup_pagecount(c->b);
	return 0;
}

int
registry_copy_end(struct registry_copy *c, bool keep)
{
	int rc = 0;

	if (c == NULL)
		return -1;
	if (c->b != NULL && sqlite3_backup_finish(c->b) != SQLITE_OK && keep)
		rc = set_err(c->reg, "backup: %s", sqlite3_errmsg(c->dst));
	/* The copy carries the registry's WAL mode in its header: whoever
	 * opens it (masterctl's check, sqlite3) would leave FILE-wal and
	 * FILE-shm beside it.  A backup is one self-contained file. */
	if (keep && rc == 0 && sqlite3_exec(c->dst, "PRAGMA journal_mode = "
	    "DELETE", NULL, NULL, NULL) != SQLITE_OK)
		rc = set_err(c->reg, "backup: %s", sqlite3_errmsg(c->dst));
	if (c->dst != NULL && sqlite3_close(c->dst) != SQLITE_OK && keep &&
	    rc == 0)
		rc = set_err(c->reg, "backup: close %s", c->path);
	if (!keep || rc != 0)
		unlink(c->path);
	free(c->path);
	free(c);
	return keep ? rc : 0;
}

int
registry_backup(struct registry *r, const char *path)
{
	struct registry_copy *c = registry_copy_begin(r, path);
	int rc;

	if (c == NULL)
		return -1;
	while ((rc = registry_copy_step(c, -1)) == 0)
		;
	return registry_copy_end(c, rc == 1);
}

json_t *
registry_directive_get(struct registry *r, int64_t directive)
{
	return query_one_by(r, ST_DIR_GET, directive, __func__);
}

/* ------------------------------------------------------ checkpoints */

struct registry_ckpt {
	sqlite3 *db;
};

int
registry_checkpoint(struct registry *r, int *wal_pages, int *copied)
{
	int rc = sqlite3_wal_checkpoint_v2(r->db, NULL,
	    SQLITE_CHECKPOINT_PASSIVE, wal_pages, copied);

	if (rc == SQLITE_BUSY)
		return 1;
	if (rc != SQLITE_OK)
		return set_err(r, "checkpoint: %s", sqlite3_errmsg(r->db));
	return 0;
}

struct registry_ckpt *
registry_ckpt_open(const char *path, char *err, size_t errlen)
{
	struct registry_ckpt *c = xcalloc(1, sizeof(*c));

	/* FULL as the registry's own: the copied pages are synced. */
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK || sqlite3_exec(c->db, "PRAGMA synchronous = FULL",
	    NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, c->db != NULL ?
		    sqlite3_errmsg(c->db) : "out of memory");
		registry_ckpt_close(c);
		return NULL;
	}
	return c;
}

int
registry_ckpt_run(struct registry_ckpt *c, int *wal_pages, int *copied,
    char *err, size_t errlen)
{
	int rc = sqlite3_wal_checkpoint_v2(c->db, NULL,
	    SQLITE_CHECKPOINT_PASSIVE, wal_pages, copied);

	if (rc == SQLITE_BUSY)
		return 1;
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(c->db));
		return -1;
	}
	return 0;
}

void
registry_ckpt_close(struct registry_ckpt *c)
{
	if (c == NULL)
		return;
	if (c->db != NULL && sqlite3_close(c->db) != SQLITE_OK)
		log_warn("registry: checkpoint connection: %s",
		    sqlite3_errmsg(c->db));
	free(c);
}

/* ---------------------------------------------------------- asks */

int
registry_ask_add(struct registry *r, int64_t task, const char *kind,
    const char *who, const char *text, const char *assumption,
    const char *context, double deadline, int64_t *id)
{
	sqlite3_stmt *st = r->st[ST_ASK_ADD];

	if (bind_int(r, st, 1, task) == -1 || bind_text(r, st, 2, kind) == -1 ||
	    bind_text(r, st, 3, who) == -1 || bind_text(r, st, 4, text) == -1 ||
	    bind_text(r, st, 5, assumption) == -1 ||
	    bind_text(r, st, 6, context) == -1 ||
	    (deadline > 0 ? bind_real(r, st, 7, deadline) :
	    bind_text(r, st, 7, NULL)) == -1 ||
	    bind_real(r, st, 8, now_epoch()) == -1)
		return fail(r, st, __func__);
	if (exec_write(r, st, __func__) == -1)
		return -1;
	*id = sqlite3_last_insert_rowid(r->db);
	return 0;
}

int
registry_ask_set(struct registry *r, int64_t id, const char *state,
    const char *answer)
{
	sqlite3_stmt *st = r->st[ST_ASK_SET];

	if (bind_int(r, st, 1, id) == -1 || bind_text(r, st, 2, state) == -1 ||
	    bind_text(r, st, 3, answer) == -1 ||
	    bind_real(r, st, 4, now_epoch()) == -1)
		return fail(r, st, __func__);
	return exec_update(r, st, __func__);
}

int
registry_ask_deadline(struct registry *r, int64_t id, double deadline)
{
	sqlite3_stmt *st = r->st[ST_ASK_DEADLINE];

	if (bind_int(r, st, 1, id) == -1 ||
	    (deadline > 0 ? bind_real(r, st, 2, deadline) :
	    bind_text(r, st, 2, NULL)) == -1 ||
	    bind_real(r, st, 3, now_epoch()) == -1)
		return fail(r, st, __func__);
	return exec_update(r, st, __func__);
}

int
registry_ask_delivered(struct registry *r, int64_t id)
{
	sqlite3_stmt *st = r->st[ST_ASK_DELIVERED];

	if (bind_int(r, st, 1, id) == -1 ||
	    bind_real(r, st, 2, now_epoch()) == -1)
		return fail(r, st, __func__);
	return exec_update(r, st, __func__);
}

json_t *
registry_ask_get(struct registry *r, int64_t id)
{
	return query_one_by(r, ST_ASK_GET, id, __func__);
}

json_t *
registry_asks(struct registry *r, int64_t task, bool open_only)
{
	sqlite3_stmt *st = r->st[ST_ASKS];

	if (bind_int(r, st, 1, task) == -1 ||
	    bind_int(r, st, 2, open_only) == -1)
		return fail_null(r, st, __func__);
	return query_all(r, ST_ASKS, __func__);
}
