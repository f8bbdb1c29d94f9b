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
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/provider.h"
#include "daemon/masterd/registry.h"
#include "daemon/masterd/supervise.h"
#include "daemon/masterd/tasks.h"

typedef void command_fn(struct masterd *, struct ctl_client *, json_int_t id,
    const json_t *req);

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

static void
reply_storage_error(struct masterd *md, struct ctl_client *cl, json_int_t id)
{
	control_reply(cl, msg_reply_error(id, ERR_STORAGE, "registry: %s",
	    registry_errmsg(md->reg)));
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

static const struct shape_field r_submit[] = {
	TEXT("text", TASK_TEXT_MAX),
	{ .name = "domains", .types = FT_ARRAY, .max_items = TASK_DOMAINS_MAX,
	  .items = &domain_name },
	{ .name = "directives", .types = FT_ARRAY,
	  .max_items = TASK_STANDING_MAX, .items = &standing_text,
	  .what = "an array of strings" },
	NONE
};
static const struct shape_field r_task_opt[] = { ID("task"), NONE };
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

/* The limits of each request's values; NULL: nothing to check. */
static const struct shape_field *const limits[MSG_TYPE_COUNT] = {
	[CTL_SUBMIT] = r_submit,
	[CTL_TASK] = r_task_opt,
	[CTL_DOMAINS] = r_task_opt,
	[CTL_INTERFACE] = r_interface,
	[CTL_INTERFACES] = r_task_opt,
	[CTL_DIRECTIVE] = r_directive,
	[CTL_SPAWN] = r_spawn,
	[CTL_RESTART] = r_domain_task,
	[CTL_PAUSE] = r_task_opt,
	[CTL_RESUME] = r_task_opt,
	[CTL_CANCEL] = r_task_opt,
	[CTL_WATCH] = r_task_opt,
	[CTL_TRANSCRIPT] = r_transcript,
	[CTL_BUDGET] = r_task_opt,
	[CTL_BACKUP] = r_backup,
	[CTL_PACK] = r_pack,
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

	rc = tasks_submit(md, req, &task, err, sizeof(err));
	r = tasks_reply(id, rc, err);
	if (rc == 0)
		json_object_set_new(r, "task", json_integer(task));
	control_reply(cl, r);
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
	json_object_set_new(r, "stopping", json_boolean(md->stopping));
	json_object_set_new(r, "clients", json_integer((json_int_t)md->nclients));
	json_object_set_new(r, "registry", registry_stats(md->reg));
	json_object_set_new(r, "children", children);
	json_object_set_new(r, "providers", providers_describe(md));
	control_reply(cl, r);
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
	control_reply(cl, r);
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

static void
cmd_task(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	int64_t task = get_int(req, "task");
	json_t *t = tasks_describe(md, task), *r;

	if (t == NULL) {
		control_reply(cl, msg_reply_error(id, ERR_NOT_FOUND,
		    "no task %lld", (long long)task));
		return;
	}
	r = msg_reply_ok(id);
	json_object_set_new(r, "task", t);
	json_object_set_new(r, "domains", domains_view(md, task));
	json_object_set_new(r, "directives",
	    registry_directives(md->reg, task, 0));
	json_object_set_new(r, "interfaces", tasks_interfaces(md, task));
	json_object_set_new(r, "scoreboard",
	    registry_scoreboard(md->reg, task));
	json_object_set_new(r, "rounds", registry_rounds(md->reg, task, 0));
	json_object_set_new(r, "integration", tasks_integration(md, task));
	json_object_set_new(r, "waiting", task_waiting(md, task));
	control_reply_cut(cl, r);
}

static void
cmd_domains(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	json_t *r = msg_reply_ok(id);

	json_object_set_new(r, "domains", domains_view(md, get_int(req,
	    "task")));
	control_reply(cl, r);
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
		control_reply(cl, msg_reply_error(id, ERR_NOT_FOUND,
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
	control_reply(cl, r);
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
		control_reply(cl, msg_reply_error(id, ERR_NOT_FOUND, "%s", err));
		return;
	}
	if (json_array_size(json_object_get(req, "diff")) == 2) {
		interface_diff(md, cl, id, req, task, domain);
		return;
	}
	if ((iface = registry_interface_get(md->reg, domain, version)) ==
	    NULL) {
		if (version > 0)
			control_reply(cl, msg_reply_error(id, ERR_NOT_FOUND,
			    "domain %s has no interface version %d",
			    get_str(req, "domain"), version));
		else
			control_reply(cl, msg_reply_error(id, ERR_NOT_FOUND,
			    "domain %s has published no interface yet",
			    get_str(req, "domain")));
		return;
	}
	r = msg_reply_ok(id);
	json_object_set_new(r, "task", json_integer(task));
	json_object_set_new(r, "interface", iface);
	control_reply(cl, r);
}

static void
cmd_interfaces(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	int64_t task;
	char err[256];
	json_t *r;

	if (resolve_task(md, req, NULL, &task, err, sizeof(err)) != 0) {
		control_reply(cl, msg_reply_error(id, ERR_NOT_FOUND, "%s", err));
		return;
	}
	r = msg_reply_ok(id);
	json_object_set_new(r, "task", json_integer(task));
	json_object_set_new(r, "interfaces", tasks_interfaces(md, task));
	json_object_set_new(r, "declared", tasks_declared(md, task));
	json_object_set_new(r, "unresolved", tasks_unresolved(md, task));
	control_reply(cl, r);
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
		control_reply(cl, msg_reply_error(id, ERR_NOT_FOUND, "%s", err));
		return;
	}
	rc = tasks_add_directive(md, task, domain, get_str(req, "text"),
	    (int)get_int(req, "priority"), &d, err, sizeof(err));
	r = tasks_reply(id, rc, err);
	if (rc == 0)
		json_object_set_new(r, "directive", d);
	control_reply(cl, r);
}

static void
cmd_spawn(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	char err[256];
	int rc;

	rc = tasks_add_domain(md, get_int(req, "task"), get_str(req, "domain"),
	    get_str(req, "prompt"), err, sizeof(err));
	control_reply(cl, tasks_reply(id, rc, err));
}

static void
cmd_restart(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	int64_t task, domain;
	char err[256];
	struct child *c;

	if (resolve_domain(md, req, &task, &domain, err, sizeof(err)) != 0) {
		control_reply(cl, msg_reply_error(id, ERR_NOT_FOUND, "%s", err));
		return;
	}
	if ((c = child_find(md, task, get_str(req, "domain"))) == NULL) {
		control_reply(cl, msg_reply_error(id, ERR_CONFLICT,
		    "domain %s of task %lld has no child (the task is over)",
		    get_str(req, "domain"), (long long)task));
		return;
	}
	if (child_restart(c) != 0) {
		control_reply(cl, msg_reply_error(id, ERR_INTERNAL, "%s",
		    c->reason));
		return;
	}
	control_reply(cl, msg_reply_ok(id));
}

static void
set_paused(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req, bool paused)
{
	int64_t task = get_int(req, "task");
	json_t *r;
	int n;

	if (task > 0 && !tasks_exists(md, task)) {
		control_reply(cl, msg_reply_error(id, ERR_NOT_FOUND,
		    "no task %lld", (long long)task));
		return;
	}
	if ((n = tasks_set_paused(md, task, paused)) < 0) {
		reply_storage_error(md, cl, id);
		return;
	}
	r = msg_reply_ok(id);
	json_object_set_new(r, "changed", json_integer(n));
	control_reply(cl, r);
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
	control_reply(cl, tasks_reply(id, rc, err));
}

static void
cmd_watch(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	int64_t task = get_int(req, "task");
	json_t *t, *r;

	if (task > 0) {
		if ((t = tasks_describe(md, task)) == NULL) {
			control_reply(cl, msg_reply_error(id, ERR_NOT_FOUND,
			    "no task %lld", (long long)task));
			return;
		}
		r = msg_reply_ok(id);
		json_object_set_new(r, "task", t);
	} else {
		r = msg_reply_ok(id);
	}
	control_reply(cl, r);
	control_watch(cl, task);
}

static void
cmd_stop(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	(void)req;
	control_reply(cl, msg_reply_ok(id));
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
		control_reply(cl, msg_reply_error(id, ERR_INTERNAL,
		    "transcript: cannot encode"));
		return;
	}
	if (offset < 0 || (size_t)offset > size) {
		json_decref(r);
		control_reply(cl, msg_reply_error(id, ERR_BAD_REQUEST,
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
	control_reply(cl, r);
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
		control_reply(cl, msg_reply_error(id, ERR_NOT_FOUND, "%s", err));
		return;
	}
	snprintf(path, sizeof(path), "%s/tasks/%lld/sessions/%s.json",
	    md->conf->state_dir, (long long)task, get_str(req, "domain"));
	if ((doc = read_transcript(path, last > 0 ? last : 20, err,
	    sizeof(err))) == NULL) {
		control_reply(cl, msg_reply_error(id, ERR_NOT_FOUND, "%s", err));
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
		control_reply(cl, msg_reply_error(id, ERR_TOO_LARGE,
		    "transcript of %zu bytes is over max_frame (%lld bytes): "
		    "ask for it in pages (offset)", size,
		    (long long)md->conf->max_frame));
		return;
	}
	control_reply(cl, r);
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
	control_reply(cl, r);
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
		control_reply(cl, msg_reply_error(id, ERR_CONFLICT, "no %s "
		    "in progress on this connection", what));
		return;
	}
	buf = xmalloc(FETCH_CHUNK);
	if (offset < 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    (n = pread(fd, buf, FETCH_CHUNK, (off_t)offset)) < 0) {
		control_reply(cl, msg_reply_error(id, ERR_STORAGE, "%s: "
		    "cannot read it: %s", what, strerror(errno)));
		goto out;
	}
	text = base64_encode(buf, (size_t)n);
	r = msg_reply_ok(id);
	json_object_set_new(r, "offset", json_integer(offset));
	json_object_set_new(r, "length", json_integer(n));
	json_object_set_new(r, "data", json_string(text));
	control_reply(cl, r);
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
		control_reply(cl, msg_reply_ok(id));
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
		control_reply(cl, msg_reply_ok(id));
	} else if (json_object_get(req, "offset") != NULL) {
		file_chunk(cl, id, get_int(req, "offset"), "pack");
	} else if (json_object_get(req, "task") != NULL) {
		pack_request(md, cl, id, get_int(req, "task"),
		    json_object_get(req, "have"));	/* answered when made */
	} else {
		control_reply(cl, msg_reply_error(id, ERR_BAD_REQUEST,
		    "pack: give task (and have), offset, or done"));
	}
}

static void
cmd_prune(struct masterd *md, struct ctl_client *cl, json_int_t id,
    const json_t *req)
{
	prune_request(md, cl, id, get_int(req, "finished_days"));
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
	[CTL_PACK] = cmd_pack,
};

void
command_dispatch(struct masterd *md, struct ctl_client *cl,
    const struct msg_spec *spec, const json_t *req)
{
	json_int_t id = msg_id(req);
	char err[512];

	if (commands[spec->type] == NULL) {
		control_reply(cl, msg_reply_error(id, ERR_UNKNOWN,
		    "%s is not a request", spec->name));
		return;
	}
	if (check_limits(spec, req, err, sizeof(err)) != 0) {
		control_reply(cl, msg_reply_error(id, ERR_BAD_REQUEST, "%s",
		    err));
		return;
	}
	if (md->stopping && spec->type != CTL_STATUS &&
	    spec->type != CTL_WATCH) {
		control_reply(cl, msg_reply_error(id, ERR_BUSY,
		    "masterd is stopping"));
		return;
	}
	commands[spec->type](md, cl, id, req);
}
