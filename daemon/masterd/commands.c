/*
 * commands.c — one handler per control request, dispatched from a table.
 *
 * Requests arrive validated against the catalogue (proto/msg.c), so every
 * handler may read its fields without re-checking their types.  Before a
 * handler runs, the request's values are checked against the limits
 * below: every number within its range, every string and list within its
 * size, standing directives strings, a budget only its four limits.  A
 * handler answers exactly once, with control_reply(); refusals change
 * nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/shape.h"
#include "common/iface.h"
#include "common/isotime.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/provider.h"
#include "daemon/masterd/registry.h"
#include "daemon/masterd/supervise.h"
#include "daemon/masterd/tasks.h"

typedef void command_fn(struct masterd *, struct ctl_client *, json_int_t id,
    const json_t *req);

/* Every answer in the control socket's JSON: ISO times, tokens_in. */
static void
reply(struct ctl_client *cl, json_t *r)
{
	control_reply(cl, ctljson_export(r));
}

static json_int_t
get_int(const json_t *req, const char *key)
{
	return json_integer_value(json_object_get(req, key));
}

static const char *
get_str(const json_t *req, const char *key)
{
	return json_string_value(json_object_get(req, key));
}

/* The reply to a tasks_*() call that returned rc: ok, or err under the
 * code rc maps to.  The caller adds its fields to an ok and sends it. */
static json_t *
tasks_reply(json_int_t id, int rc, const char *err)
{
	if (rc != 0)
		return msg_reply_error(id, tasks_errcode(rc), "%s", err);
	return msg_reply_ok(id);
}

/*
 * The task a request means: its "task" field, or else the newest task that
 * has `domain` (or the newest task at all when domain is NULL).
 */
static int
resolve_task(struct masterd *md, const json_t *req, const char *domain,
    int64_t *task, char *err, size_t errlen)
{
	if ((*task = get_int(req, "task")) > 0) {
		if (!tasks_exists(md, *task)) {
			snprintf(err, errlen, "no task %lld", (long long)*task);
			return -1;
		}
		return 0;
	}
	if ((*task = tasks_newest_with(md, domain)) > 0)
		return 0;
	if (domain != NULL)
		snprintf(err, errlen, "no task has a domain \"%s\"", domain);
	else
		snprintf(err, errlen, "no tasks yet; submit one with: "
		    "masterctl submit TEXT");
	return -1;
}

static int
resolve_domain(struct masterd *md, const json_t *req, int64_t *task,
    int64_t *domain, char *err, size_t errlen)
{
	const char *name = get_str(req, "domain");

	if (resolve_task(md, req, name, task, err, errlen) != 0)
		return -1;
	if (registry_domain_find(md->reg, *task, name, domain) != 0) {
		snprintf(err, errlen, "task %lld has no domain \"%s\"",
		    (long long)*task, name);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------- limits */

#define ID(n)	{ .name = (n), .types = FT_INTEGER, .ranged = true, .min = 1, \
		  .max = INT64_MAX }
#define TEXT(n, most)	{ .name = (n), .types = FT_STRING, .min_len = 1, \
		  .max_len = (most) }
#define NONE	{ .name = NULL }

/* The rounds a `task` answer carries when the request says nothing. */
#define TASK_ROUNDS_DEFAULT 20
/* The most events a watch replays (--tail, --since). */
#define WATCH_REPLAY_MAX 10000

/* One budget, whichever command sets it: only the four limits, each a
 * number >= 0 (0: no limit), each at most what the configuration's own
 * [task] limits allow. */
static const struct shape_field budget_members[] = {
	{ .name = "tokens", .types = FT_NUMBER },
	{ .name = "cost", .types = FT_NUMBER },
	{ .name = "rounds", .types = FT_NUMBER },
	{ .name = "time", .types = FT_NUMBER },
	NONE
};
static const struct shape_field budget_spec = {
	.name = "budget", .types = FT_OBJECT, .flags = SHAPE_CLOSED,
	.members = budget_members,
};
static const double budget_max[] = {
	[BUDGET_TOKENS] = (double)(INT64_MAX / 2),
	[BUDGET_COST] = 1e9,
	[BUDGET_ROUNDS] = 1e6,
	[BUDGET_TIME] = 86400.0 * 365,
};

static int
check_budget(const json_t *b, char *err, size_t errlen)
{
	double v;

	if (shape_check(b, &budget_spec, err, errlen) != 0)
		return -1;
	for (int k = 0; k < BUDGET_KEY_COUNT; k++) {
		const json_t *n = json_object_get(b, budget_key_names[k]);

		if (n == NULL)
			continue;
		v = json_number_value(n);
		if (v < 0 || v > budget_max[k])
			return shape_error(err, errlen, "budget.%s: %g, want a "
			    "number from 0 to %g (0: no limit)",
			    budget_key_names[k], v, budget_max[k]);
	}
	return 0;
}

static const struct shape_field domain_name = TEXT(NULL, 32);
static const struct shape_field standing_text = TEXT(NULL, TASK_TEXT_MAX);

static const struct shape_field r_import_ref[] = {
	{ .name = "token", .types = FT_STRING, .required = true, .min_len = 1,
	  .max_len = 63 },
	{ .name = "commit", .types = FT_STRING, .required = true,
	  .min_len = 40, .max_len = 40 },
	TEXT("origin", 4096),
	TEXT("branch", 255),
	NONE
};
static const struct shape_field r_submit[] = {
	TEXT("text", TASK_TEXT_MAX),
	{ .name = "import", .types = FT_OBJECT, .members = r_import_ref },
	{ .name = "domains", .types = FT_ARRAY, .max_items = TASK_DOMAINS_MAX,
	  .items = &domain_name },
	{ .name = "directives", .types = FT_ARRAY,
	  .max_items = TASK_STANDING_MAX, .items = &standing_text,
	  .what = "an array of strings" },
	NONE
};
static const struct shape_field r_task_opt[] = { ID("task"), NONE };
static const struct shape_field r_task[] = {
	ID("task"),
	{ .name = "rounds", .types = FT_INTEGER, .ranged = true, .min = 0,
	  .max = INT32_MAX },
	NONE
};
static const struct shape_field r_watch[] = {
	ID("task"),
	{ .name = "tail", .types = FT_INTEGER, .ranged = true, .min = 0,
	  .max = WATCH_REPLAY_MAX },
	{ .name = "since", .types = FT_NUMBER | FT_STRING, .max_len = 64 },
	NONE
};
static const struct shape_field r_interface[] = {
	ID("task"),
	{ .name = "version", .types = FT_INTEGER, .ranged = true, .min = 1,
	  .max = INT32_MAX },
	{ .name = "diff", .types = FT_ARRAY, .min_items = 2, .max_items = 2,
	  .items = &(const struct shape_field){ .types = FT_INTEGER,
	  .ranged = true, .min = 1, .max = INT32_MAX } },
	NONE
};
static const struct shape_field r_directive[] = {
	ID("task"),
	TEXT("domain", 32),
	TEXT("text", TASK_TEXT_MAX),
	{ .name = "priority", .types = FT_INTEGER, .ranged = true,
	  .min = TASK_PRIORITY_MIN, .max = TASK_PRIORITY_MAX },
	NONE
};
static const struct shape_field r_spawn[] = {
	ID("task"),
	TEXT("domain", 32),
	{ .name = "prompt", .types = FT_STRING, .max_len = TASK_PROMPT_MAX },
	NONE
};
static const struct shape_field r_domain_task[] = {
	ID("task"),
	TEXT("domain", 32),
	NONE
};
static const struct shape_field r_transcript[] = {
	ID("task"),
	TEXT("domain", 32),
	{ .name = "last", .types = FT_INTEGER, .ranged = true, .min = 1,
	  .max = 100000 },
	NONE
};
static const struct shape_field r_backup[] = {
	{ .name = "offset", .types = FT_INTEGER, .ranged = true, .min = 0,
	  .max = INT64_MAX },
	NONE
};
static const struct shape_field r_pack[] = {
	ID("task"),
	{ .name = "offset", .types = FT_INTEGER, .ranged = true, .min = 0,
	  .max = INT64_MAX },
	{ .name = "have", .types = FT_ARRAY, .max_items = 4096 },
	NONE
};
static const struct shape_field r_answer[] = {
	ID("question"),
	TEXT("text", 4096),
	NONE
};
/* Ten years from now at the most: further is "none" (null). */
static const struct shape_field r_deadline[] = {
	ID("question"),
	{ .name = "seconds", .types = FT_INTEGER | FT_NULL, .ranged = true,
	  .min = 0, .max = 10 * 366 * 86400 },
	NONE
};
static const struct shape_field r_approve[] = {
	ID("task"),
	ID("approval"),
	{ .name = "reason", .types = FT_STRING, .max_len = 4096 },
	NONE
};

static const struct shape_field r_import[] = {
	{ .name = "offset", .types = FT_INTEGER, .ranged = true, .min = 0,
	  .max = IMPORT_MAX_BYTES },
	/* A chunk of masterctl's (768 KiB) in base64, with room. */
	{ .name = "data", .types = FT_STRING, .max_len = 4u << 20 },
	NONE
};

/* The limits of each request's values; NULL: nothing to check. */
static const struct shape_field *const limits[MSG_TYPE_COUNT] = {
	[CTL_SUBMIT] = r_submit,
	[CTL_TASK] = r_task,
	[CTL_DOMAINS] = r_task_opt,
	[CTL_INTERFACE] = r_interface,
	[CTL_INTERFACES] = r_task_opt,
	[CTL_DIRECTIVE] = r_directive,
	[CTL_SPAWN] = r_spawn,
	[CTL_RESTART] = r_domain_task,
	[CTL_PAUSE] = r_task_opt,
	[CTL_RESUME] = r_task_opt,
	[CTL_CANCEL] = r_task_opt,
	[CTL_WATCH] = r_watch,
	[CTL_TRANSCRIPT] = r_transcript,
	[CTL_BUDGET] = r_task_opt,
	[CTL_BACKUP] = r_backup,
	[CTL_PACK] = r_pack,
	[CTL_IMPORT] = r_import,
	[CTL_QUESTIONS] = r_task_opt,
	[CTL_ANSWER] = r_answer,
	[CTL_DEADLINE] = r_deadline,
	[CTL_APPROVE] = r_approve,
	[CTL_REJECT] = r_approve,
};

/* 0 when the request's values are within their limits, else -1 and why,
 * naming the field and its range. */
static int
check_limits(const struct msg_spec *spec, const json_t *req, char *err,
    size_t errlen)
{
	const json_t *b = json_object_get(req, "budget");
	char why[400];

	if (limits[spec->type] != NULL && shape_check(req,
	    &(struct shape_field){ .types = FT_OBJECT,
	    .members = limits[spec->type] }, why, sizeof(why)) != 0)
		return shape_error(err, errlen, "%s: %s", spec->name, why);
	if (b != NULL && (spec->type == CTL_SUBMIT ||
	    spec->type == CTL_BUDGET) && check_budget(b, why,
	    sizeof(why)) != 0)
		return shape_error(err, errlen, "%s: %s", spec->name, why);
	return 0;
}

/* ---------------------------------------------------------- handlers */

static void
cmd_submit(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	char err[256];
	int64_t task;
	json_t *r;
	int rc;

	if (json_object_get(req, "import") != NULL) {
		import_submit(md, cl, id, req);	/* answered when built */
		return;
	}
	rc = tasks_submit(md, req, NULL, &task, err, sizeof(err));
	r = tasks_reply(id, rc, err);
	if (rc == 0)
		json_object_set_new(r, "task", json_integer(task));
	reply(cl, r);
}

static void
cmd_status(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	json_t *r = msg_reply_ok(id), *children = json_array();
	struct child *c;

	(void)req;
	TAILQ_FOREACH(c, &md->children, entry)
		json_array_append_new(children, child_describe(c));
	json_object_set_new(r, "version", json_string(MASTERD_VERSION));
	json_object_set_new(r, "protocol", json_integer(PROTO_VERSION));
	json_object_set_new(r, "pid", json_integer(getpid()));
	json_object_set_new(r, "uptime_ms",
	    json_integer((json_int_t)(uv_now(md->loop) - md->started_ms)));
	json_object_set_new(r, "state_dir", json_string(md->conf->state_dir));
	json_object_set_new(r, "socket", json_string(md->conf->control_socket));
	json_object_set_new(r, "sandbox", sandbox_json(&md->sandbox));
	json_object_set_new(r, "setup_problem", md->setup_problem != NULL ?
	    json_string(md->setup_problem) : json_null());
	json_object_set_new(r, "stopping", json_boolean(md->stopping));
	json_object_set_new(r, "clients", json_integer((json_int_t)md->nclients));
	json_object_set_new(r, "registry", registry_stats(md->reg));
	json_object_set_new(r, "children", children);
	json_object_set_new(r, "providers", providers_describe(md));
	reply(cl, r);
}

/* The task's children that wait for a provider, the planner too. */
static json_t *
task_waiting(struct masterd *md, int64_t task)
{
	json_t *a = json_array(), *w;
	struct child *c;

	TAILQ_FOREACH(c, &md->children, entry) {
		if (c->task != task || (w = provider_waiting(md, c)) == NULL)
			continue;
		json_object_set_new(w, "domain", json_string(c->name));
		json_array_append_new(a, w);
	}
	return a;
}

static void
cmd_tasks(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	json_t *r = msg_reply_ok(id);

	(void)req;
	json_object_set_new(r, "tasks", tasks_list(md));
	reply(cl, r);
}

/* Registry domains, with the live child's view merged in. */
static json_t *
domains_view(struct masterd *md, int64_t task)
{
	json_t *doms = registry_domains(md->reg, task), *d;
	struct child *c;
	size_t i;

	json_array_foreach(doms, i, d) {
		c = child_find(md, get_int(d, "task"), get_str(d, "name"));
		if (c == NULL)
			continue;
		json_object_set_new(d, "child", child_describe(c));
	}
	return doms;
}

/*
 * Each limit of a task, used and allowed (0: none): {"tokens": {"used",
 * "limit"}, "cost", "rounds", "time" (seconds)}.  Tokens and cost count
 * the planner's calls, as the budget check does (task_dispatch.c).
 */
static json_t *
task_budget(struct masterd *md, const json_t *t)
{
	const json_t *spec = json_object_get(t, "spec");
	const json_t *own = json_object_get(spec, "budget");
	const json_t *pu = json_object_get(spec, "planner_usage");
	const char *state = get_str(t, "state");
	int64_t rounds = 0, tokens = 0;
	double cost = 0, used[BUDGET_KEY_COUNT], dflt[BUDGET_KEY_COUNT];
	double end = state != NULL && task_state_name_over(state) ?
	    json_number_value(json_object_get(t, "updated")) : now_epoch();
	json_t *b = json_object();

	if (registry_task_spend(md->reg, get_int(t, "id"), &rounds, &tokens,
	    &cost) != 0)
		log_warn("task %lld: spend: %s", (long long)get_int(t, "id"),
		    registry_errmsg(md->reg));
	used[BUDGET_TOKENS] = (double)(tokens + get_int(pu, "input") +
	    get_int(pu, "output"));
	used[BUDGET_COST] = cost + json_number_value(json_object_get(pu,
	    "cost"));
	used[BUDGET_ROUNDS] = (double)rounds;
	used[BUDGET_TIME] = end - json_number_value(json_object_get(t,
	    "created"));
	dflt[BUDGET_TOKENS] = (double)md->conf->max_tokens;
	dflt[BUDGET_COST] = md->conf->max_cost;
	dflt[BUDGET_ROUNDS] = (double)md->conf->max_rounds;
	dflt[BUDGET_TIME] = (double)md->conf->max_time / 1000.0;
	for (int k = 0; k < BUDGET_KEY_COUNT; k++) {
		const json_t *mine = json_object_get(own, budget_key_names[k]);

		json_object_set_new(b, budget_key_names[k], json_pack(
		    "{s:f, s:f}", "used", used[k], "limit", mine != NULL ?
		    json_number_value(mine) : dflt[k]));
	}
	return b;
}

/* The newest `rounds` rounds (0: all), oldest first; the total beside. */
static void
task_rounds(struct masterd *md, json_t *r, int64_t task, const json_t *req,
    const json_t *score)
{
	const json_t *n = json_object_get(req, "rounds"), *d;
	json_int_t want = n != NULL ? json_integer_value(n) :
	    TASK_ROUNDS_DEFAULT, total = 0;
	size_t i;

	json_array_foreach(score, i, d)
		total += get_int(d, "rounds");
	json_object_set_new(r, "rounds", want == 0 ?
	    registry_rounds(md->reg, task, 0) :
	    registry_rounds_last(md->reg, task, want));
	json_object_set_new(r, "rounds_total", json_integer(total));
}

static void
cmd_task(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	int64_t task = get_int(req, "task");
	json_t *t = tasks_describe(md, task), *r, *score, *row;

	if (t == NULL) {
		reply(cl, msg_reply_error(id, ERR_NOT_FOUND,
		    "no task %lld", (long long)task));
		return;
	}
	r = msg_reply_ok(id);
	score = registry_scoreboard(md->reg, task);
	json_object_set_new(r, "budget", task_budget(md, t));
	json_object_set_new(r, "task", t);
	json_object_set_new(r, "domains", domains_view(md, task));
	json_object_set_new(r, "directives",
	    registry_directives(md->reg, task, 0));
	json_object_set_new(r, "interfaces", tasks_interfaces(md, task));
	json_object_set_new(r, "unresolved", tasks_unresolved(md, task));
	json_object_set_new(r, "scoreboard", score);
	task_rounds(md, r, task, req, score);
	json_object_set_new(r, "integration", tasks_integration(md, task));
	json_object_set_new(r, "waiting", task_waiting(md, task));
	if ((row = registry_task_get(md->reg, task)) != NULL &&
	    json_is_object(json_object_get(row, "import")))
		json_object_set(r, "import", json_object_get(row, "import"));
	json_decref(row);
	json_object_set_new(r, "asks", tasks_asks(md, task));
	control_reply_cut(cl, ctljson_export(r));
}

static void
cmd_domains(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	int64_t task = get_int(req, "task");
	json_t *r;

	/* A task that is not there is an error, not an empty table. */
	if (task > 0 && !tasks_exists(md, task)) {
		reply(cl, msg_reply_error(id, ERR_NOT_FOUND,
		    "no task %lld", (long long)task));
		return;
	}
	r = msg_reply_ok(id);
	json_object_set_new(r, "domains", domains_view(md, task));
	reply(cl, r);
}

/* What changed in a domain's interface from version A to version B. */
static void
interface_diff(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req, int64_t task, int64_t domain)
{
	const json_t *pair = json_object_get(req, "diff");
	int a = (int)json_integer_value(json_array_get(pair, 0));
	int b = (int)json_integer_value(json_array_get(pair, 1));
	json_t *va = registry_interface_get(md->reg, domain, a);
	json_t *vb = registry_interface_get(md->reg, domain, b), *r;

	if (a <= 0 || b <= 0 || va == NULL || vb == NULL) {
		reply(cl, msg_reply_error(id, ERR_NOT_FOUND,
		    "domain %s has no interface versions %d and %d",
		    get_str(req, "domain"), a, b));
		goto out;
	}
	r = msg_reply_ok(id);
	json_object_set_new(r, "task", json_integer(task));
	json_object_set_new(r, "domain", json_string(get_str(req, "domain")));
	json_object_set_new(r, "from", json_integer(a));
	json_object_set_new(r, "to", json_integer(b));
	json_object_set(r, "from_declared", json_object_get(va, "declared"));
	json_object_set(r, "to_declared", json_object_get(vb, "declared"));
	json_object_set_new(r, "diff", iface_diff(json_object_get(va,
	    "document"), json_object_get(vb, "document")));
	reply(cl, r);
out:
	json_decref(va);
	json_decref(vb);
}

static void
cmd_interface(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	int64_t task, domain;
	int version = (int)get_int(req, "version");
	char err[256];
	json_t *iface, *r;

	if (resolve_domain(md, req, &task, &domain, err, sizeof(err)) != 0) {
		reply(cl, msg_reply_error(id, ERR_NOT_FOUND, "%s", err));
		return;
	}
	if (json_array_size(json_object_get(req, "diff")) == 2) {
		interface_diff(md, cl, id, req, task, domain);
		return;
	}
	if ((iface = registry_interface_get(md->reg, domain, version)) ==
	    NULL) {
		if (version > 0)
			reply(cl, msg_reply_error(id, ERR_NOT_FOUND,
			    "domain %s has no interface version %d",
			    get_str(req, "domain"), version));
		else
			reply(cl, msg_reply_error(id, ERR_NOT_FOUND,
			    "domain %s has published no interface yet",
			    get_str(req, "domain")));
		return;
	}
	r = msg_reply_ok(id);
	json_object_set_new(r, "task", json_integer(task));
	json_object_set_new(r, "interface", iface);
	reply(cl, r);
}

static void
cmd_interfaces(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	int64_t task;
	char err[256];
	json_t *r;

	if (resolve_task(md, req, NULL, &task, err, sizeof(err)) != 0) {
		reply(cl, msg_reply_error(id, ERR_NOT_FOUND, "%s", err));
		return;
	}
	r = msg_reply_ok(id);
	json_object_set_new(r, "task", json_integer(task));
	json_object_set_new(r, "interfaces", tasks_interfaces(md, task));
	json_object_set_new(r, "declared", tasks_declared(md, task));
	json_object_set_new(r, "unresolved", tasks_unresolved(md, task));
	reply(cl, r);
}

static void
cmd_directive(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	const char *domain = get_str(req, "domain");
	int64_t task;
	char err[256];
	json_t *d, *r;
	int rc;

	if (resolve_task(md, req, domain, &task, err, sizeof(err)) != 0) {
		reply(cl, msg_reply_error(id, ERR_NOT_FOUND, "%s", err));
		return;
	}
	rc = tasks_add_directive(md, task, domain, get_str(req, "text"),
	    (int)get_int(req, "priority"), &d, err, sizeof(err));
	r = tasks_reply(id, rc, err);
	if (rc == 0)
		json_object_set_new(r, "directive", d);
	reply(cl, r);
}

static void
cmd_spawn(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	char err[256];
	int rc;

	rc = tasks_add_domain(md, get_int(req, "task"), get_str(req, "domain"),
	    get_str(req, "prompt"), err, sizeof(err));
	reply(cl, tasks_reply(id, rc, err));
}

static void
cmd_restart(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	int64_t task, domain;
	char err[256];
	struct child *c;

	if (resolve_domain(md, req, &task, &domain, err, sizeof(err)) != 0) {
		reply(cl, msg_reply_error(id, ERR_NOT_FOUND, "%s", err));
		return;
	}
	if ((c = child_find(md, task, get_str(req, "domain"))) == NULL) {
		reply(cl, msg_reply_error(id, ERR_CONFLICT,
		    "domain %s of task %lld has no child (the task is over)",
		    get_str(req, "domain"), (long long)task));
		return;
	}
	if (child_restart(c) != 0) {
		reply(cl, msg_reply_error(id, ERR_INTERNAL, "%s",
		    c->reason));
		return;
	}
	reply(cl, msg_reply_ok(id));
}

static void
set_paused(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req, bool paused)
{
	char err[256];
	json_t *r;
	int n;

	n = tasks_set_paused(md, get_int(req, "task"), paused, err,
	    sizeof(err));
	if (n < 0) {
		reply(cl, tasks_reply(id, n, err));
		return;
	}
	r = msg_reply_ok(id);
	json_object_set_new(r, "changed", json_integer(n));
	reply(cl, r);
}

static void
cmd_pause(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	set_paused(md, cl, id, req, true);
}

static void
cmd_resume(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	set_paused(md, cl, id, req, false);
}

static void
cmd_cancel(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	char err[256];
	int rc;

	rc = tasks_cancel(md, get_int(req, "task"), err, sizeof(err));
	reply(cl, tasks_reply(id, rc, err));
}

/*
 * The stored events a watch asked for, oldest first: the newest `tail`,
 * or those from `since` on among the newest WATCH_REPLAY_MAX.  Events
 * are stored in time order, so those from `since` on are the newest
 * ones: the look back reads only what it may send, however long the
 * task's history.
 */
static json_t *
replay_events(struct masterd *md, int64_t task, json_int_t tail,
    double since)
{
	json_t *events, *out, *e;
	size_t i;

	events = registry_events_newest(md->reg, task, (int)(tail > 0 ? tail :
	    WATCH_REPLAY_MAX));
	if (events == NULL || tail > 0)
		return events;
	out = json_array();
	json_array_foreach(events, i, e)
		if (json_number_value(json_object_get(e, "ts")) >= since)
			json_array_append(out, e);
	json_decref(events);
	return out;
}

/* The stored events a watch asked for (--tail, --since), or NULL. */
static json_t *
watch_events(struct masterd *md, int64_t task, const json_t *req)
{
	const json_t *since = json_object_get(req, "since");
	json_int_t tail = get_int(req, "tail");
	double from = 0;

	if (tail == 0 && since == NULL)
		return NULL;
	if (json_is_string(since))
		from = isotime_parse(json_string_value(since));
	else
		from = json_number_value(since);
	return replay_events(md, task, tail, from);
}

/* Send the stored events as a watch stream's events, marked "replay". */
static void
watch_replay(struct masterd *md, struct ctl_client *cl, json_t *events)
{
	json_t *e, *msg;
	size_t i;

	json_array_foreach(events, i, e) {
		msg = event_message(md, json_integer_value(json_object_get(e,
		    "task")), json_string_value(json_object_get(e, "domain")),
		    get_str(e, "event"), json_number_value(json_object_get(e,
		    "ts")), get_int(e, "seq"), json_object_get(e, "data"));
		json_object_set_new(msg, "replay", json_true());
		control_reply(cl, msg);
	}
}

static void
cmd_watch(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	int64_t task = get_int(req, "task");
	const json_t *since = json_object_get(req, "since");
	json_t *t, *r, *events;

	if (json_is_string(since) &&
	    isotime_parse(json_string_value(since)) < 0) {
		reply(cl, msg_reply_error(id, ERR_BAD_REQUEST,
		    "since: \"%s\" is not an ISO 8601 time (e.g. "
		    "2026-12-03T06:20:00Z)", json_string_value(since)));
		return;
	}
	if (task > 0) {
		if ((t = tasks_describe(md, task)) == NULL) {
			reply(cl, msg_reply_error(id, ERR_NOT_FOUND,
			    "no task %lld", (long long)task));
			return;
		}
		r = msg_reply_ok(id);
		json_object_set_new(r, "task", t);
	} else {
		r = msg_reply_ok(id);
	}
	/* How many stored events come before the live ones. */
	events = watch_events(md, task, req);
	json_object_set_new(r, "replayed", json_integer((json_int_t)
	    json_array_size(events)));
	reply(cl, r);
	watch_replay(md, cl, events);
	json_decref(events);
	control_watch(cl, task);
}

static void
cmd_stop(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	(void)req;
	reply(cl, msg_reply_ok(id));
	masterd_stop(md, "stop requested over the control socket");
}

/* Keep the newest `last` turns of a session file's transcript. */
static json_t *
read_transcript(const char *path, json_int_t last, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc = json_load_file(path, 0, &jerr), *turns, *turn;
	size_t n;

	if (doc == NULL) {
		snprintf(err, errlen, "no transcript yet (%s)", jerr.text);
		return NULL;
	}
	turns = json_object_get(doc, "turns");
	n = json_array_size(turns);
	while (last > 0 && n > (size_t)last) {
		json_array_remove(turns, 0);
		n--;
	}
	/* The transcript is for people: no provider handles. */
	json_object_del(doc, "response_id");
	json_object_del(doc, "conversation");
	json_array_foreach(turns, n, turn)
		json_object_del(turn, "response_id");
	return doc;
}

/* Room in a page's answer for its fields besides the data. */
#define TRANSCRIPT_PAGE_ENVELOPE 4096

/* FNV-1a: tells a client that the text changed between its pages. */
static uint64_t
text_stamp(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/*
 * One page of the transcript's JSON text, from byte `offset`.  The text is
 * ASCII (JSON_ENSURE_ASCII), so a page may end on any byte, and once
 * quoted in the answer each byte takes at most two: a page of half the
 * frame limit always fits.  `stamp` changes when the text does (the domain
 * talked to its model between two pages): the client starts again.
 */
static void
transcript_page(struct ctl_client *cl, json_int_t id, json_t *r,
    const json_t *doc, json_int_t offset, size_t max_frame)
{
	size_t page = max_frame > 2 * TRANSCRIPT_PAGE_ENVELOPE ?
	    (max_frame - TRANSCRIPT_PAGE_ENVELOPE) / 2 : max_frame / 4;
	char *text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII), *part;
	size_t size = text != NULL ? strlen(text) : 0, len;
	char stamp[17];

	if (text == NULL) {
		json_decref(r);
		reply(cl, msg_reply_error(id, ERR_INTERNAL,
		    "transcript: cannot encode"));
		return;
	}
	if (offset < 0 || (size_t)offset > size) {
		json_decref(r);
		reply(cl, msg_reply_error(id, ERR_BAD_REQUEST,
		    "offset: %lld is outside the transcript's %zu bytes",
		    (long long)offset, size));
		free(text);
		return;
	}
	len = size - (size_t)offset < page ? size - (size_t)offset : page;
	part = xasprintf("%.*s", (int)len, text + offset);
	snprintf(stamp, sizeof(stamp), "%016llx",
	    (unsigned long long)text_stamp(text, size));
	json_object_set_new(r, "size", json_integer((json_int_t)size));
	json_object_set_new(r, "offset", json_integer(offset));
	json_object_set_new(r, "length", json_integer((json_int_t)len));
	json_object_set_new(r, "stamp", json_string(stamp));
	json_object_set_new(r, "data", json_string(part));
	free(part);
	free(text);
	reply(cl, r);
}

static void
cmd_transcript(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	int64_t task, domain;
	char err[512], path[4096];
	json_t *doc, *r;
	json_int_t last = get_int(req, "last");
	size_t size;

	if (resolve_domain(md, req, &task, &domain, err, sizeof(err)) != 0) {
		reply(cl, msg_reply_error(id, ERR_NOT_FOUND, "%s", err));
		return;
	}
	snprintf(path, sizeof(path), "%s/tasks/%lld/sessions/%s.json",
	    md->conf->state_dir, (long long)task, get_str(req, "domain"));
	if ((doc = read_transcript(path, last > 0 ? last : 20, err,
	    sizeof(err))) == NULL) {
		reply(cl, msg_reply_error(id, ERR_NOT_FOUND, "%s", err));
		return;
	}
	r = msg_reply_ok(id);
	json_object_set_new(r, "task", json_integer(task));
	json_object_set_new(r, "domain", json_string(get_str(req, "domain")));
	if (json_object_get(req, "offset") != NULL) {
		transcript_page(cl, id, r, doc, get_int(req, "offset"),
		    (size_t)md->conf->max_frame);
		json_decref(doc);
		return;
	}
	json_object_set_new(r, "transcript", doc);
	if ((size = frame_encoded_size(r)) > (size_t)md->conf->max_frame) {
		json_decref(r);
		reply(cl, msg_reply_error(id, ERR_TOO_LARGE,
		    "transcript of %zu bytes is over max_frame (%lld bytes): "
		    "ask for it in pages (offset)", size,
		    (long long)md->conf->max_frame));
		return;
	}
	reply(cl, r);
}

static void
cmd_budget(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	char err[256];
	json_t *r;
	int rc;

	rc = tasks_set_budget(md, get_int(req, "task"),
	    json_object_get(req, "budget"), err, sizeof(err));
	r = tasks_reply(id, rc, err);
	if (rc == 0)
		json_object_set_new(r, "task", tasks_describe(md,
		    get_int(req, "task")));
	reply(cl, r);
}

#define FETCH_CHUNK (768 * 1024)	/* 1 MiB once in base64 */

/* A chunk of the file the connection holds (what: "backup", "pack"). */
static void
file_chunk(struct ctl_client *cl, json_int_t id, json_int_t offset,
    const char *what)
{
	const char *path = control_file_get(cl);
	unsigned char *buf = NULL;
	char *text = NULL;
	ssize_t n = -1;
	int fd = -1;
	json_t *r;

	if (path == NULL) {
		reply(cl, msg_reply_error(id, ERR_CONFLICT, "no %s "
		    "in progress on this connection", what));
		return;
	}
	buf = xmalloc(FETCH_CHUNK);
	if (offset < 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    (n = pread(fd, buf, FETCH_CHUNK, (off_t)offset)) < 0) {
		reply(cl, msg_reply_error(id, ERR_STORAGE, "%s: "
		    "cannot read it: %s", what, strerror(errno)));
		goto out;
	}
	text = base64_encode(buf, (size_t)n);
	r = msg_reply_ok(id);
	json_object_set_new(r, "offset", json_integer(offset));
	json_object_set_new(r, "length", json_integer(n));
	json_object_set_new(r, "data", json_string(text));
	reply(cl, r);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(text);
}

static void
cmd_backup(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	if (json_is_true(json_object_get(req, "done"))) {
		control_file_set(cl, NULL);
		reply(cl, msg_reply_ok(id));
	} else if (json_object_get(req, "offset") != NULL) {
		file_chunk(cl, id, get_int(req, "offset"), "backup");
	} else {
		backup_request(md, cl, id);	/* answered when copied */
	}
}

static void
cmd_pack(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	if (json_is_true(json_object_get(req, "done"))) {
		control_file_set(cl, NULL);
		reply(cl, msg_reply_ok(id));
	} else if (json_object_get(req, "offset") != NULL) {
		file_chunk(cl, id, get_int(req, "offset"), "pack");
	} else if (json_object_get(req, "task") != NULL) {
		pack_request(md, cl, id, get_int(req, "task"),
		    json_object_get(req, "have"));	/* answered when made */
	} else {
		reply(cl, msg_reply_error(id, ERR_BAD_REQUEST,
		    "pack: give task (and have), offset, or done"));
	}
}

static void
cmd_prune(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	prune_request(md, cl, id, get_int(req, "finished_days"));
}

static void
cmd_metrics(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	json_t *r = msg_reply_ok(id);
	char *text = metrics_text(md);

	(void)req;
	json_object_set_new(r, "text", json_string(text));
	free(text);
	reply(cl, r);
}

/* reload: what SIGHUP does, with its outcome in the answer. */
static void
cmd_reload(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	json_t *changed, *r;
	char *error;

	(void)req;
	if (masterd_reload(md, &changed, &error) != 0) {
		reply(cl, msg_reply_error(id, ERR_REFUSED, "reload refused, "
		    "the running configuration kept: %s", error));
		free(error);
		return;
	}
	r = msg_reply_ok(id);
	json_object_set_new(r, "changed", changed);
	json_object_set_new(r, "config", json_string(md->conf_path != NULL ?
	    md->conf_path : "(defaults)"));
	reply(cl, r);
}

/* ---------------------------------------------- a person in the loop */

static void
cmd_questions(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	int64_t task = get_int(req, "task");
	json_t *r, *asks;

	if (task > 0 && !tasks_exists(md, task)) {
		reply(cl, msg_reply_error(id, ERR_NOT_FOUND,
		    "no task %lld", (long long)task));
		return;
	}
	if ((asks = tasks_asks(md, task)) == NULL) {
		reply(cl, msg_reply_error(id, ERR_STORAGE, "%s",
		    registry_errmsg(md->reg)));
		return;
	}
	r = msg_reply_ok(id);
	json_object_set_new(r, "asks", asks);
	reply(cl, ctljson_export(r));
}

static void
cmd_answer(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	char err[256];
	int rc;

	rc = tasks_answer(md, get_int(req, "question"), get_str(req, "text"),
	    err, sizeof(err));
	reply(cl, tasks_reply(id, rc, err));
}

static void
cmd_deadline(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	const json_t *s = json_object_get(req, "seconds");
	char err[256];
	json_t *row, *r;
	int rc;

	rc = tasks_question_deadline(md, get_int(req, "question"),
	    json_is_integer(s) ? (double)json_integer_value(s) : -1, &row,
	    err, sizeof(err));
	if (rc != 0) {
		reply(cl, tasks_reply(id, rc, err));
		return;
	}
	r = msg_reply_ok(id);
	json_object_set_new(r, "question", row);
	reply(cl, ctljson_export(r));
}

static void
approve_or_reject(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req, bool ok)
{
	char err[256];
	json_t *row, *r;
	int rc;

	rc = tasks_approve(md, get_int(req, "task"), get_int(req, "approval"),
	    ok, get_str(req, "reason"), &row, err, sizeof(err));
	if (rc != 0) {
		reply(cl, tasks_reply(id, rc, err));
		return;
	}
	r = msg_reply_ok(id);
	json_object_set_new(r, "approval", row);
	reply(cl, ctljson_export(r));
}

static void
cmd_approve(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	approve_or_reject(md, cl, id, req, true);
}

static void
cmd_reject(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	approve_or_reject(md, cl, id, req, false);
}

static command_fn *const commands[MSG_TYPE_COUNT] = {
	[CTL_SUBMIT] = cmd_submit,
	[CTL_STATUS] = cmd_status,
	[CTL_TASKS] = cmd_tasks,
	[CTL_TASK] = cmd_task,
	[CTL_DOMAINS] = cmd_domains,
	[CTL_INTERFACE] = cmd_interface,
	[CTL_INTERFACES] = cmd_interfaces,
	[CTL_DIRECTIVE] = cmd_directive,
	[CTL_SPAWN] = cmd_spawn,
	[CTL_RESTART] = cmd_restart,
	[CTL_PAUSE] = cmd_pause,
	[CTL_RESUME] = cmd_resume,
	[CTL_CANCEL] = cmd_cancel,
	[CTL_WATCH] = cmd_watch,
	[CTL_STOP] = cmd_stop,
	[CTL_TRANSCRIPT] = cmd_transcript,
	[CTL_BUDGET] = cmd_budget,
	[CTL_BACKUP] = cmd_backup,
	[CTL_PRUNE] = cmd_prune,
	[CTL_METRICS] = cmd_metrics,
	[CTL_RELOAD] = cmd_reload,
	[CTL_PACK] = cmd_pack,
	[CTL_IMPORT] = import_request,
	[CTL_QUESTIONS] = cmd_questions,
	[CTL_ANSWER] = cmd_answer,
	[CTL_DEADLINE] = cmd_deadline,
	[CTL_APPROVE] = cmd_approve,
	[CTL_REJECT] = cmd_reject,
};

void
command_dispatch(struct masterd *md, struct ctl_client *cl,
    const struct msg_spec *spec, const json_t *req)
{
	json_int_t id = msg_id(req);
	char err[512];

	if (commands[spec->type] == NULL) {
		reply(cl, msg_reply_error(id, ERR_UNKNOWN,
		    "%s is not a request", spec->name));
		return;
	}
	if (check_limits(spec, req, err, sizeof(err)) != 0) {
		reply(cl, msg_reply_error(id, ERR_BAD_REQUEST, "%s",
		    err));
		return;
	}
	if (md->stopping && spec->type != CTL_STATUS &&
	    spec->type != CTL_WATCH) {
		reply(cl, msg_reply_error(id, ERR_BUSY,
		    "masterd is stopping"));
		return;
	}
	commands[spec->type](md, cl, id, req);
}
