/*
 * task_requests.c — what users ask of tasks, through commands.c: submit
 * (the task, its domains, their first directives, its repository), spawn
 * a domain, queue a directive (reopening a finished task), pause, resume,
 * cancel, change the budget; and the same calls made by the planner's
 * plans and reviews.  Also the task's end, and resuming every unfinished
 * task after a restart.
 *
 * Every acknowledgement follows the registry write it reports, so a
 * kill -9 between the two loses nothing that was acknowledged.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/repo.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/provider.h"
#include "daemon/masterd/supervise.h"
#include "daemon/masterd/task.h"
#include "daemon/masterd/task_decide.h"
#include "daemon/masterd/tasks.h"

/* What every domain is asked first; the planner refines what follows. */
#define FIRST_DIRECTIVE "Build the first working version of your domain's " \
	"part of the task, with tests, and publish its interface."

const char *
tasks_errcode(int rc)
{
	switch (rc) {
	case TASKS_ENOENT:	return ERR_NOT_FOUND;
	case TASKS_ECONFLICT:	return ERR_CONFLICT;
	case TASKS_ESTORAGE:	return ERR_STORAGE;
	default:		return ERR_BAD_REQUEST;
	}
}

/* The task, when it exists and is not over; else NULL saying why. */
static struct task *
open_task(struct masterd *md, int64_t id, int *rc, char *err, size_t errlen)
{
	struct task *t = task_find(md, id);

	if (t == NULL) {
		snprintf(err, errlen, "no task %lld", (long long)id);
		*rc = TASKS_ENOENT;
		return NULL;
	}
	if (task_state_over(t->state)) {
		snprintf(err, errlen, "task %lld is already over",
		    (long long)id);
		*rc = TASKS_ECONFLICT;
		return NULL;
	}
	*rc = 0;
	return t;
}

/* ---------------------------------------------------------- children */

/* Children started a loop turn: about 2 ms of masterd's each (a fork
 * and an exec), so a turn holds the loop some 60 ms at most. */
#define START_BATCH	32

static void
start_child(struct task *t, struct child *c)
{
	struct masterd *md = t->md;

	if (child_start(c) != 0) {
		log_err("domain %s (task %lld): %s", c->name, (long long)t->id,
		    c->reason);
		registry_domain_set_state(md->reg, c->domain, DOMAIN_FATAL,
		    c->reason);
		c->state = CHILD_FATAL;
	}
}

static void
start_domain(struct task *t, const struct domain *d)
{
	struct child *c = child_new(t->md, t->id, d->id, d->name);

	if (c != NULL)
		start_child(t, c);
}

/* The child now, or in a following loop turn (task_start_some). */
static void
queue_domain(struct task *t, const struct domain *d)
{
	struct child *c = child_new(t->md, t->id, d->id, d->name);

	if (c == NULL)
		return;
	c->start_queued = true;
	TAILQ_INSERT_TAIL(&t->to_start, c, start_entry);
	task_mark_again(t);
}

void
task_start_some(struct task *t)
{
	struct child *c;

	for (int n = 0; n < START_BATCH &&
	    (c = TAILQ_FIRST(&t->to_start)) != NULL; n++) {
		TAILQ_REMOVE(&t->to_start, c, start_entry);
		c->start_queued = false;
		/* Stopped (or restarted) while it waited: as it is. */
		if (!c->want_stop)
			start_child(t, c);
	}
	if (!TAILQ_EMPTY(&t->to_start))
		task_mark_again(t);
}

/* Every domain's child, started a batch a loop turn (queue_domain); a
 * domain that was FATAL stays visible and restartable, but down. */
void
task_start_domains(struct task *t)
{
	struct masterd *md = t->md;
	json_t *doms = registry_domains(md->reg, t->id), *row;
	struct domain *d;
	struct child *c;
	size_t i;

	json_array_foreach(doms, i, row) {
		const char *reason = jget_str(row, "reason");

		if ((d = domain_find(t, jget_str(row, "name"))) == NULL)
			continue;
		if (vocab_find(domain_state_names, DOMAIN_STATE_COUNT,
		    jget_str(row, "state")) != DOMAIN_FATAL) {
			queue_domain(t, d);
			continue;
		}
		if ((c = child_new(md, t->id, d->id, d->name)) == NULL)
			continue;
		c->state = CHILD_FATAL;
		snprintf(c->reason, sizeof(c->reason), "%s", reason ? reason :
		    "failed before the restart");
	}
	json_decref(doms);
}

/* ---------------------------------------------------------- domains */

/* Checks: the configuration's for the domain, else the plan's; the prompt
 * given, else the configuration's. */
static json_t *
domain_checks(const struct masterd *md, const char *name,
    const json_t *planned, const char **prompt)
{
	const struct domain_conf *dc = conf_domain(md->conf, name);
	json_t *checks = json_array();

	if (dc != NULL) {
		for (size_t i = 0; i < dc->checks.n; i++)
			json_array_append_new(checks,
			    json_string(dc->checks.v[i]));
		if (*prompt == NULL)
			*prompt = dc->prompt;
	}
	if (json_array_size(checks) == 0 && json_is_array(planned))
		json_array_extend(checks, (json_t *)planned);
	return checks;
}

/* A domain never stands without its first directive: both in one
 * batch. */
static int
add_domain_row(struct masterd *md, int64_t task, const char *name,
    const char *folder, const char *prompt, const json_t *checks,
    const json_t *depends, bool submitted, int64_t *id, int64_t *first)
{
	bool merged;
	int rc;

	rc = registry_batch_begin(md->reg);
	if (rc == 0)
		rc = registry_domain_add(md->reg, task, name, prompt, checks,
		    depends, submitted, id);
	if (rc == 0 && folder != NULL)
		rc = registry_domain_set_folder(md->reg, *id, folder);
	if (rc == 0)
		rc = registry_directive_add(md->reg, task, *id, SOURCE_PLAN,
		    FIRST_DIRECTIVE, 0, first, &merged);
	return registry_batch_end(md->reg, rc == 0) == 0 ? rc : -1;
}

static bool
domain_name_ok(const char *name)
{
	return conf_domain_name_ok(name) && strcmp(name, PLANNER_NAME) != 0 &&
	    strcmp(name, INTEGRATOR_NAME) != 0;
}

static size_t
domain_count(const struct task *t)
{
	return t->ndomains;
}

/* The folder a domain of t writes: its own, or <name>/. */
static const char *
folder_in_tree(const struct domain *d)
{
	return d->folder != NULL ? d->folder : d->name;
}

/* folder (NULL: name's own) for a new domain name of t: a good folder
 * that no other domain of t writes.  0, or TASKS_EINVAL with why. */
static int
folder_free(const struct task *t, const char *name, const char *folder,
    char *err, size_t errlen)
{
	const char *want = folder != NULL ? folder : name;
	const struct domain *d;

	if (folder != NULL && repo_folder_ok(folder, err, errlen) != 0)
		return TASKS_EINVAL;
	TAILQ_FOREACH(d, &t->domains, entry) {
		if (strcmp(folder_in_tree(d), want) == 0) {
			snprintf(err, errlen, "folder %s/ is domain %s's",
			    want, d->name);
			return TASKS_EINVAL;
		}
	}
	return 0;
}

/* Record the folder where the worker and the merges read the layout. */
static int
folder_record(struct task *t, const char *name, const char *folder,
    char *err, size_t errlen)
{
	char gitdir[4096];

	if (folder == NULL)
		return 0;
	task_gitdir(t->md, t->id, gitdir, sizeof(gitdir));
	return repo_set_folder(gitdir, name, folder, err, errlen);
}

static int
add_domain(struct task *t, const char *name, const char *folder,
    const char *prompt, const json_t *planned, const json_t *depends,
    char *err, size_t errlen)
{
	struct domain *d;
	int64_t id, first;
	json_t *checks;
	int rc;

	if (task_state_over(t->state)) {
		snprintf(err, errlen, "task %lld is already over",
		    (long long)t->id);
		return TASKS_ECONFLICT;
	}
	if (!domain_name_ok(name)) {
		snprintf(err, errlen, "bad domain name \"%s\"", name);
		return TASKS_EINVAL;
	}
	if (prompt != NULL && strlen(prompt) > TASK_PROMPT_MAX) {
		snprintf(err, errlen, "prompt: %zu bytes, at most %d",
		    strlen(prompt), TASK_PROMPT_MAX);
		return TASKS_EINVAL;
	}
	if (domain_count(t) >= TASK_DOMAINS_MAX) {
		snprintf(err, errlen, "task %lld has %d domains, at most %d",
		    (long long)t->id, TASK_DOMAINS_MAX, TASK_DOMAINS_MAX);
		return TASKS_ECONFLICT;
	}
	if (domain_find(t, name) != NULL) {
		snprintf(err, errlen, "task %lld already has domain %s",
		    (long long)t->id, name);
		return TASKS_ECONFLICT;
	}
	if ((rc = folder_free(t, name, folder, err, errlen)) != 0)
		return rc;
	if (folder_record(t, name, folder, err, errlen) != 0)
		return TASKS_ESTORAGE;
	checks = domain_checks(t->md, name, planned, &prompt);
	rc = add_domain_row(t->md, t->id, name, folder, prompt, checks,
	    depends, false, &id, &first);
	if (rc != 0) {
		json_decref(checks);
		snprintf(err, errlen, "registry: %s",
		    registry_errmsg(t->md->reg));
		return TASKS_ESTORAGE;
	}
	d = domain_new(t, id, name, prompt, checks, depends, false);
	d->folder = folder != NULL ? xstrdup(folder) : NULL;
	json_decref(checks);
	directive_new(d, first, SOURCE_PLAN, FIRST_DIRECTIVE, 0);
	event_emit(t->md, t->id, name, EV_DOMAIN_ADDED, NULL);
	start_domain(t, d);
	return 0;
}

int
tasks_add_domain(struct masterd *md, int64_t task, const char *name,
    const char *prompt, char *err, size_t errlen)
{
	struct task *t = task_find(md, task);

	if (t == NULL) {
		snprintf(err, errlen, "no task %lld", (long long)task);
		return TASKS_ENOENT;
	}
	return add_domain(t, name, NULL, prompt, NULL, NULL, err, errlen);
}

/* A domain from a plan or review: {"name","folder","prompt","checks",
 * "depends"} (folder: an existing folder it owns, else <name>/);
 * what it waits for is kept beside the configured depends. */
int
task_add_planned(struct task *t, const json_t *d, char *err, size_t errlen)
{
	const char *name = jget_str(d, "name");
	json_t *depends;
	int rc;

	if (name == NULL) {
		snprintf(err, errlen, "a planned domain needs a name");
		return TASKS_EINVAL;
	}
	depends = json_is_array(json_object_get(d, "depends")) ?
	    json_incref(json_object_get(d, "depends")) : json_array();
	rc = add_domain(t, name, jget_str(d, "folder"), jget_str(d, "prompt"),
	    json_object_get(d, "checks"), depends, err, errlen);
	json_decref(depends);
	return rc;
}

/* ---------------------------------------------------------- directives */

/*
 * New work for a finished task reopens it: its domains start again where
 * their branches are.  A cancelled task stays over.
 */
static int
reopen(struct task *t, char *err, size_t errlen)
{
	if (!task_state_over(t->state))
		return 0;
	if (t->state == TASK_CANCELLED) {
		snprintf(err, errlen, "task %lld was cancelled; submit a new "
		    "task", (long long)t->id);
		return -1;
	}
	task_set_state(t, TASK_BUILDING, "reopened by new work");
	task_start_domains(t);
	return 0;
}

int
task_add_directive(struct task *t, const char *domain,
    enum directive_source source, const char *text, int priority,
    json_t **out, char *err, size_t errlen)
{
	struct domain *d = domain_find(t, domain);
	int64_t id;
	bool merged;

	*out = NULL;
	if (text == NULL || *text == '\0' || strlen(text) > TASK_TEXT_MAX) {
		snprintf(err, errlen, "a directive needs 1 to %d bytes of text",
		    TASK_TEXT_MAX);
		return TASKS_EINVAL;
	}
	if (d == NULL) {
		snprintf(err, errlen, "task %lld has no domain \"%s\"",
		    (long long)t->id, domain ? domain : "");
		return TASKS_ENOENT;
	}
	if (reopen(t, err, errlen) != 0)
		return TASKS_ECONFLICT;
	if (directive_add(d, source, text, priority, &id, &merged) != 0) {
		snprintf(err, errlen, "registry: %s",
		    registry_errmsg(t->md->reg));
		return TASKS_ESTORAGE;
	}
	*out = json_pack("{s:I, s:b}", "id", (json_int_t)id, "merged",
	    merged);
	event_emit(t->md, t->id, domain, merged ? EV_DIRECTIVE_MERGED :
	    EV_DIRECTIVE_QUEUED, json_pack("{s:I, s:s, s:s}", "directive",
	    (json_int_t)id, "source", source_names[source], "text", text));
	task_mark(t);
	return 0;
}

int
tasks_add_directive(struct masterd *md, int64_t task, const char *domain,
    const char *text, int priority, json_t **out, char *err, size_t errlen)
{
	struct task *t = task_find(md, task);

	*out = NULL;
	if (t == NULL) {
		snprintf(err, errlen, "no task %lld", (long long)task);
		return TASKS_ENOENT;
	}
	return task_add_directive(t, domain, SOURCE_USER, text, priority, out,
	    err, errlen);
}

/* ---------------------------------------------------------- submit */

/* "folders" of a submit: {"domain": "folder"}, each of a domain named,
 * each a good folder, no two domains writing the same one. */
static int
check_folders(const json_t *req, const json_t *list, char *err,
    size_t errlen)
{
	const json_t *folders = json_object_get(req, "folders"), *v, *w;
	const char *key, *a, *b;
	size_t i, j;

	if (folders == NULL)
		return 0;
	if (!json_is_object(folders))
		return snprintf(err, errlen, "folders: an object of "
		    "\"domain\": \"folder\""), -1;
	json_object_foreach((json_t *)folders, key, v) {
		bool named = false;

		json_array_foreach(list, i, w)
			named = named || strcmp(key, json_string_value(w)) == 0;
		if (!named)
			return snprintf(err, errlen, "folders: %s is not a "
			    "domain of the task", key), -1;
		if (!json_is_string(v) || repo_folder_ok(json_string_value(v),
		    err, errlen) != 0)
			return -1;
	}
	json_array_foreach(list, i, v) {
		a = jget_str(folders, json_string_value(v));
		a = a != NULL ? a : json_string_value(v);
		for (j = 0; j < i; j++) {
			w = json_array_get(list, j);
			b = jget_str(folders, json_string_value(w));
			b = b != NULL ? b : json_string_value(w);
			if (strcmp(a, b) == 0)
				return snprintf(err, errlen, "domains %s and "
				    "%s would both write %s/",
				    json_string_value(w),
				    json_string_value(v), a), -1;
		}
	}
	return 0;
}

static int
collect_domains(struct masterd *md, const json_t *req, json_t **out,
    char *err, size_t errlen)
{
	json_t *given = json_object_get(req, "domains"), *list, *v;
	size_t i;

	list = json_array();
	if (given != NULL) {
		json_array_foreach(given, i, v)
			json_array_append(list, v);
	} else {
		for (i = 0; i < md->conf->ndomains; i++)
			json_array_append_new(list,
			    json_string(md->conf->domains[i].name));
	}
	/* None named: the planner decides. */
	if (json_array_size(list) > TASK_DOMAINS_MAX) {
		snprintf(err, errlen, "at most %d domains", TASK_DOMAINS_MAX);
		goto fail;
	}
	json_array_foreach(list, i, v) {
		const char *name = json_string_value(v);

		if (!domain_name_ok(name)) {
			snprintf(err, errlen, "bad domain name: want 1-32 of "
			    "a-z 0-9 - _, starting with a letter, not \"%s\" "
			    "or \"%s\"", PLANNER_NAME, INTEGRATOR_NAME);
			goto fail;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(name, json_string_value(
			    json_array_get(list, j))) == 0) {
				snprintf(err, errlen, "domain %s named twice",
				    name);
				goto fail;
			}
		}
	}
	if (check_folders(req, list, err, errlen) != 0)
		goto fail;
	*out = list;
	return 0;
fail:
	json_decref(list);
	return -1;
}

/* Standing directives: the configuration's, then the submitter's. */
static json_t *
standing_directives(const struct masterd *md, const json_t *req)
{
	json_t *all = json_array();

	for (size_t i = 0; i < md->conf->standing.n; i++)
		json_array_append_new(all, json_string(md->conf->standing.v[i]));
	if (json_is_array(json_object_get(req, "directives")))
		json_array_extend(all, json_object_get(req, "directives"));
	return all;
}

/* Which domains a domain waits for: the configuration's depends. */
static json_t *
config_depends(const struct masterd *md, const char *name)
{
	const struct domain_conf *dc = conf_domain(md->conf, name);
	json_t *list = json_array();

	for (size_t j = 0; dc != NULL && j < dc->depends.n; j++)
		json_array_append_new(list, json_string(dc->depends.v[j]));
	return list;
}

/* The task and its domains, stored whole or not at all with one fsync
 * however many domains it names; then in memory. */
static struct task *
store_task(struct masterd *md, const char *text, const json_t *domains,
    const json_t *folders, const json_t *standing,
    const struct budget *budget, char *err, size_t errlen)
{
	size_t n = json_array_size(domains) + 1;
	int64_t id, *ids = xcalloc(n, sizeof(*ids)), *first = xcalloc(n,
	    sizeof(*first));
	struct domain *d;
	struct task *t = NULL;
	json_t *v, *deps, *checks;
	const char *prompt;
	size_t i;
	int rc;

	if (registry_batch_begin(md->reg) != 0)
		goto storage;
	rc = registry_task_add(md->reg, text, standing, budget, &id);
	json_array_foreach(domains, i, v) {
		if (rc != 0)
			break;
		prompt = NULL;
		deps = config_depends(md, json_string_value(v));
		checks = domain_checks(md, json_string_value(v), NULL, &prompt);
		rc = add_domain_row(md, id, json_string_value(v),
		    jget_str(folders, json_string_value(v)), prompt, checks,
		    deps, true, &ids[i], &first[i]);
		json_decref(checks);
		json_decref(deps);
	}
	if (rc != 0) {
		snprintf(err, errlen, "registry: %s", registry_errmsg(md->reg));
		registry_batch_end(md->reg, false);
		goto out;
	}
	if (registry_batch_end(md->reg, true) != 0)
		goto storage;
	t = task_new(md, id, text, standing, budget);
	json_array_foreach(domains, i, v) {
		prompt = NULL;
		deps = config_depends(md, json_string_value(v));
		checks = domain_checks(md, json_string_value(v), NULL, &prompt);
		d = domain_new(t, ids[i], json_string_value(v), prompt, checks,
		    deps, true);
		if (jget_str(folders, json_string_value(v)) != NULL)
			d->folder = xstrdup(jget_str(folders,
			    json_string_value(v)));
		json_decref(checks);
		directive_new(d, first[i], SOURCE_PLAN, FIRST_DIRECTIVE, 0);
		json_decref(deps);
	}
	goto out;
storage:
	snprintf(err, errlen, "registry: %s", registry_errmsg(md->reg));
out:
	free(ids);
	free(first);
	return t;
}

/* mkdir -p of gitdir's parent: <state>/tasks/<id>. */
static int
make_parents(const char *gitdir, char *err, size_t errlen)
{
	char path[4096], *p;

	snprintf(path, sizeof(path), "%s", gitdir);
	for (p = strchr(path + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		*p = '/';
	}
	return 0;
}

/*
 * The task's repository: the one built from the imported pack (staged,
 * on the thread pool: import.c), moved into place whole, or a new one
 * with an empty first commit.  The import is recorded for `task`.
 */
static int
make_repo(struct masterd *md, int64_t task, const json_t *req,
    const char *staged, char *err, size_t errlen)
{
	const json_t *imp = json_object_get(req, "import");
	char gitdir[4096];
	json_t *rec;
	int rc;

	task_gitdir(md, task, gitdir, sizeof(gitdir));
	if (staged == NULL || imp == NULL)
		return repo_init(gitdir, err, errlen);
	if (make_parents(gitdir, err, errlen) != 0)
		return -1;
	if (rename(staged, gitdir) != 0) {
		snprintf(err, errlen, "%s: %s", gitdir, strerror(errno));
		return -1;
	}
	rec = json_pack("{s:s?, s:s?, s:s}", "origin", jget_str(imp,
	    "origin"), "branch", jget_str(imp, "branch"), "commit",
	    jget_str(imp, "commit"));
	rc = registry_task_set_import(md->reg, task, rec);
	json_decref(rec);
	if (rc != 0)
		snprintf(err, errlen, "registry: %s", registry_errmsg(md->reg));
	return rc;
}

/* The folders of the submitted domains, into the new repository. */
static int
record_folders(struct task *t, char *err, size_t errlen)
{
	struct domain *d;

	TAILQ_FOREACH(d, &t->domains, entry)
		if (folder_record(t, d->name, d->folder, err, errlen) != 0)
			return -1;
	return 0;
}

int
tasks_submit(struct masterd *md, const json_t *req, const char *staged,
    int64_t *id, char *err, size_t errlen)
{
	const char *text = jget_str(req, "text");
	struct budget none = { { 0 }, 0 }, budget;
	json_t *domains = NULL, *standing;
	struct task *t;

	if (text == NULL || *text == '\0' || strlen(text) > TASK_TEXT_MAX) {
		snprintf(err, errlen, "a task needs 1 to %d bytes of text",
		    TASK_TEXT_MAX);
		return TASKS_EINVAL;
	}
	if (decide_budget_merge(&none, json_object_get(req, "budget"),
	    &budget, err, errlen) != 0)
		return TASKS_EINVAL;
	if (collect_domains(md, req, &domains, err, errlen) != 0)
		return TASKS_EINVAL;
	standing = standing_directives(md, req);
	t = store_task(md, text, domains, json_object_get(req, "folders"),
	    standing, &budget, err, errlen);
	json_decref(standing);
	if (t == NULL) {
		json_decref(domains);
		return TASKS_ESTORAGE;
	}
	*id = t->id;
	if (make_repo(md, t->id, req, staged, err, errlen) != 0 ||
	    record_folders(t, err, errlen) != 0) {
		/* Quietly: the submit itself is refused. */
		if (registry_task_set_state(md->reg, t->id, TASK_FAILED,
		    err) == 0) {
			t->state = TASK_FAILED;
			t->reason = xstrdup(err);
		}
		json_decref(domains);
		return TASKS_ESTORAGE;
	}
	event_emit(md, t->id, NULL, EV_TASK_SUBMITTED, json_pack(
	    "{s:s, s:o, s:O?}", "text", text, "domains", domains, "import",
	    json_object_get(req, "import")));
	if (TAILQ_EMPTY(&t->domains)) {
		task_plan(t);
	} else {
		task_set_state(t, TASK_BUILDING, NULL);
		task_start_domains(t);
	}
	/* Before any child is up to take work. */
	tasks_setup_gate(md);
	return 0;
}

/* ---------------------------------------------------------- the end */

/*
 * A task that ends before its work is done drops its open directives:
 * nothing will run them, and left "queued" they would count as open work
 * in `status` for ever.  A done task keeps them: new work reopens it.
 */
static void
drop_open_directives(struct task *t, const char *why)
{
	struct directive *x, *next;
	struct domain *d;

	TAILQ_FOREACH(d, &t->domains, entry) {
		for (x = TAILQ_FIRST(&d->open); x != NULL; x = next) {
			next = TAILQ_NEXT(x, entry);
			directive_set_state(d, x, DIRECTIVE_DROPPED, why);
		}
	}
}

void
task_finish(struct task *t, enum task_state state, const char *reason)
{
	struct child *c, *next;

	task_set_state(t, state, reason);
	if (state == TASK_CANCELLED || state == TASK_FAILED)
		drop_open_directives(t, state == TASK_CANCELLED ?
		    "the task was cancelled" : "the task failed");
	log_notice("task %lld %s: %s", (long long)t->id,
	    task_state_names[state], reason);
	for (c = TAILQ_FIRST(&t->md->children); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->task == t->id)
			child_stop(c, reason, true);
	}
}

int
tasks_cancel(struct masterd *md, int64_t task, char *err, size_t errlen)
{
	struct task *t;
	int rc;

	if ((t = open_task(md, task, &rc, err, errlen)) == NULL)
		return rc;
	task_finish(t, TASK_CANCELLED, "cancelled by the user");
	return 0;
}

/* ---------------------------------------------------------- pause */

/* Pause with a reason (a limit), cancelling the calls in flight. */
void
task_pause_for(struct task *t, const char *why)
{
	if (task_set_paused(t, true, why) != 0)
		return;
	event_emit(t->md, t->id, NULL, EV_TASK_PAUSED, json_pack("{s:s}",
	    "reason", why));
	task_cancel_work(t->md, t);
}

/* The user resumed: the no-progress watchdog starts afresh from the
 * newest round. */
static void
restart_watchdog(struct task *t)
{
	json_t *rounds = registry_rounds_last(t->md->reg, t->id, 1);
	int64_t last = jget_int(json_array_get(rounds, 0), "id", 0);

	json_decref(rounds);
	task_mark_progress(t, last);
}

#define USER_PAUSE	"paused by the user"

static int
set_paused_one(struct task *t, bool paused)
{
	if (task_set_paused(t, paused, paused ? USER_PAUSE : NULL) != 0)
		return -1;
	event_emit(t->md, t->id, NULL, paused ? EV_TASK_PAUSED :
	    EV_TASK_RESUMED, paused ? json_pack("{s:s}", "reason",
	    USER_PAUSE) : NULL);
	if (!paused) {
		restart_watchdog(t);
		task_integration_reset(t);
		/* A provider that outlasted outage_timeout is tried now. */
		providers_retry_now(t->md);
	}
	return 0;
}

/*
 * Only what changes counts, and only what changes is touched: a task
 * already in that state keeps its reason (a limit's pause stays the
 * limit's), and a task that is over keeps its completion reason.
 */
int
tasks_set_paused(struct masterd *md, int64_t task, bool paused, char *err,
    size_t errlen)
{
	struct task *t;
	int n = 0, rc;

	if (task > 0 && open_task(md, task, &rc, err, errlen) == NULL)
		return rc;
	if (!paused && md->setup_problem != NULL) {
		snprintf(err, errlen, "cannot resume: %s (the tasks it paused "
		    "resume once it is fixed)", md->setup_problem);
		return TASKS_ECONFLICT;
	}
	TAILQ_FOREACH(t, &md->tasks, entry) {
		if (task > 0 && t->id != task)
			continue;
		if (task_state_over(t->state) || t->paused == paused)
			continue;
		if (set_paused_one(t, paused) != 0) {
			snprintf(err, errlen, "registry: %s",
			    registry_errmsg(md->reg));
			return TASKS_ESTORAGE;
		}
		n++;
	}
	if (paused)
		task_cancel_work(md, task > 0 ? task_find(md, task) : NULL);
	return n;
}

#define SETUP_PAUSE	"setup:"

/*
 * A setup problem (a key masterd found missing, setup.c) holds every
 * unfinished task paused with it as the reason, rather than letting each
 * directive fail on it; once it is fixed the tasks it paused go on.
 */
void
tasks_setup_gate(struct masterd *md)
{
	struct task *t;

	TAILQ_FOREACH(t, &md->tasks, entry) {
		if (task_state_over(t->state))
			continue;
		if (md->setup_problem != NULL && !t->paused) {
			log_warn("task %lld paused: %s", (long long)t->id,
			    md->setup_problem);
			task_pause_for(t, md->setup_problem);
		} else if (md->setup_problem == NULL && t->paused &&
		    t->reason != NULL && strncmp(t->reason, SETUP_PAUSE,
		    strlen(SETUP_PAUSE)) == 0) {
			log_notice("task %lld resumed: the setup problem is "
			    "fixed", (long long)t->id);
			set_paused_one(t, false);
		}
	}
}

int
tasks_set_budget(struct masterd *md, int64_t task, const json_t *given,
    char *err, size_t errlen)
{
	struct task *t = task_find(md, task);
	struct budget b;
	char why[200];

	if (t == NULL) {
		snprintf(err, errlen, "no task %lld", (long long)task);
		return TASKS_ENOENT;
	}
	if (decide_budget_merge(&t->budget, given, &b, err, errlen) != 0)
		return TASKS_EINVAL;
	if (task_set_budget(t, &b) != 0) {
		snprintf(err, errlen, "registry: %s", registry_errmsg(md->reg));
		return TASKS_ESTORAGE;
	}
	event_emit(md, task, NULL, EV_TASK_BUDGET, json_pack("{s:o}",
	    "budget", budget_describe(&t->budget)));
	/* Stopped by a limit that no longer holds: go on. */
	if (t->paused && t->reason != NULL &&
	    strncmp(t->reason, "budget:", 7) == 0 &&
	    !task_over_budget(t, why, sizeof(why)))
		tasks_set_paused(md, task, false, why, sizeof(why));
	return 0;
}

/* ---------------------------------------------------------- restart */

/* At start-up: every task into memory, and the children of every
 * unfinished one started again. */
/*
 * A master killed mid-merge leaves git's lock on main: no child has started
 * yet, so whatever lock of masterd's own is there is stale.  Every task, a
 * finished one included, since new work may reopen it.
 */
static void
clear_stale_locks(struct task *t)
{
	char gitdir[PATH_MAX], err[512];

	task_gitdir(t->md, t->id, gitdir, sizeof(gitdir));
	if (repo_clear_stale_locks(gitdir, NULL, err, sizeof(err)) < 0)
		log_warn("task %lld: %s", (long long)t->id, err);
}

void
tasks_resume_all(struct masterd *md)
{
	struct directive *x;
	struct domain *d;
	struct task *t;

	TAILQ_INIT(&md->tasks);
	task_step_init(md);
	if (registry_runs_abandon(md->reg, "masterd stopped while it ran") != 0)
		log_err("integration runs: %s", registry_errmsg(md->reg));
	if (task_load_all(md) != 0)
		log_err("tasks not loaded: %s", registry_errmsg(md->reg));
	TAILQ_FOREACH(t, &md->tasks, entry) {
		clear_stale_locks(t);
		/* Left queued by a masterd before this one. */
		if (t->state == TASK_CANCELLED || t->state == TASK_FAILED)
			drop_open_directives(t, "the task is over");
		if (task_state_over(t->state))
			continue;
		/* Rounds cut short by the stop are redone. */
		TAILQ_FOREACH(d, &t->domains, entry)
			TAILQ_FOREACH(x, &d->open, entry)
				if (x->state == DIRECTIVE_RUNNING)
					directive_set_state(d, x,
					    DIRECTIVE_QUEUED,
					    "requeued after restart");
		log_info("resuming task %lld", (long long)t->id);
		event_emit(md, t->id, NULL, EV_TASK_RESUMED_AFTER_RESTART,
		    NULL);
		task_start_domains(t);
		if (t->state == TASK_PLANNED)
			task_plan(t);
	}
	tasks_setup_gate(md);
}
