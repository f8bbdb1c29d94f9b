/*
 * prompt.c — the texts a domain's worker sends to its model and to the
 * critic.  The standing parts live in files under the prompts directory
 * (domain.md, then tools.md or json.md for the way the model answers,
 * <domain>.md, critic.md, compact.md) so that they can be read and
 * changed without touching C; this file only assembles them with the
 * task, the directive, the domain's own files (a map of them, or their
 * content when the model has no tools to read them), its interface and
 * memory, and its peers' interfaces (never their code); and the
 * planner's turns (a failing integration's files are attribute.c's).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include "child/worker/plan.h"
#include "child/worker/tools.h"
#include "child/worker/worker.h"
#include "common/llm/llm.h"
#include "common/repo.h"
#include "common/util.h"

#define PROMPT_FILE_MAX (256 * 1024)
#define FILE_MAP_MAX	(16 * 1024)	/* bytes of the file map */

/* A growing string. */
struct text {
	char *s;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3)))
add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;
	size_t need;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	need = t->len + (size_t)n + 1;
	if (need > t->cap) {
		size_t cap = t->cap ? t->cap : 1024;

		while (cap < need)
			cap *= 2;
		t->s = xrealloc(t->s, cap);
		t->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

static char *
finish(struct text *t)
{
	return t->s != NULL ? t->s : xstrdup("");
}

/* dir/name (a relative name) or name (an absolute one), or NULL. */
static char *
read_file_in(const char *dir, const char *name)
{
	char path[4096], *buf;
	FILE *f;
	size_t n;

	if (name[0] == '/')
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	buf = xmalloc(PROMPT_FILE_MAX + 1);
	n = fread(buf, 1, PROMPT_FILE_MAX, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* prompts_dir/<name>.md, or NULL (errno ENOENT when it does not exist). */
static char *
read_prompt(const char *dir, const char *name)
{
	char file[256];

	snprintf(file, sizeof(file), "%s.md", name);
	return read_file_in(dir, file);
}

/* read_prompt for a prompt the worker cannot do without: NULL with err. */
static char *
required_prompt(const struct worker *cx, const char *name, char *err,
    size_t errlen)
{
	char *s = read_prompt(cx->prompts_dir, name);

	if (s == NULL)
		snprintf(err, errlen, "cannot read %s/%s.md: %s",
		    cx->prompts_dir, name, strerror(errno));
	return s;
}

char *
prompt_system(const struct worker *cx, char *err, size_t errlen)
{
	char *generic = required_prompt(cx, "domain", err, errlen);
	char *specific = read_prompt(cx->prompts_dir, cx->domain);
	const char *brief = json_string_value(json_object_get(cx->assign,
	    "prompt"));
	const struct domain_conf *dc;
	struct text t = { 0 };
	char *file;

	char *mode;

	if (generic == NULL) {
		free(specific);
		return NULL;
	}
	if ((mode = required_prompt(cx, cx->tools ? "tools" : "json", err,
	    errlen)) == NULL) {
		free(generic);
		free(specific);
		return NULL;
	}
	add(&t, "%s\n%s\n", generic, mode);
	free(mode);
	add(&t, "\n# Your domain: %s\n\nYour folder in the project is `%s/`. "
	    "Every path you write is relative to it.\n", cx->domain,
	    worker_folder(cx));
	if (specific != NULL)
		add(&t, "\n%s\n", specific);
	if ((dc = conf_domain(cx->conf, cx->domain)) != NULL &&
	    dc->prompt_file != NULL) {
		if ((file = read_file_in(cx->prompts_dir, dc->prompt_file)) ==
		    NULL) {
			snprintf(err, errlen, "cannot read prompt_file %s: %s",
			    dc->prompt_file, strerror(errno));
			free(generic);
			free(specific);
			free(t.s);
			return NULL;
		}
		add(&t, "\n%s\n", file);
		free(file);
	}
	if (brief != NULL)
		add(&t, "\n## Brief\n\n%s\n", brief);
	free(generic);
	free(specific);
	return finish(&t);
}

char *
prompt_critic_system(const struct worker *cx, char *err, size_t errlen)
{
	return required_prompt(cx, "critic", err, errlen);
}

char *
prompt_compact_system(const struct worker *cx, char *err, size_t errlen)
{
	return required_prompt(cx, "compact", err, errlen);
}

static void
add_json(struct text *t, const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(1) | JSON_SORT_KEYS);

	add(t, "```json\n%s\n```\n", s ? s : "null");
	free(s);
}

static void
add_list(struct text *t, const json_t *list, const char *none)
{
	const json_t *v;
	size_t i;

	if (json_array_size(list) == 0) {
		add(t, "%s\n", none);
		return;
	}
	json_array_foreach(list, i, v)
		add(t, "- %s\n", json_string_value(v));
}

/* Paths of the domain's files the directive names, for JSON mode. */
static json_t *
named_files(int dirfd, const char *text)
{
	json_t *named = json_array();
	char *map = tools_file_map(dirfd, FILE_MAP_MAX), *line, *save, *sp;

	for (line = strtok_r(map, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((sp = strchr(line, ' ')) != NULL)
			*sp = '\0';
		if (*line != '\0' && strstr(text, line) != NULL)
			json_array_append_new(named, json_string(line));
	}
	free(map);
	return named;
}

/* JSON mode: the files' content within a budget: those the directive
 * names first, then those the last directive changed, then the rest. */
static void
add_contents(struct text *t, struct worker *cx, int dirfd,
    const char *directive)
{
	/* Half of what a request may hold, at 3 bytes a token. */
	size_t budget = llm_session_budget(cx->session) * 3 / 2;
	json_t *first = named_files(dirfd, directive), *left_out = NULL;
	const json_t *v;
	const char *path;
	char *body;
	size_t i;

	/* Named in the directive, then changed by the last one. */
	json_object_foreach(cx->recent, path, v)
		json_array_append_new(first, json_string(path));

	body = tools_file_contents(dirfd, first, budget, &left_out,
	    cx->shown);
	add(t, "%s", body);
	if (json_array_size(left_out) > 0) {
		add(t, "\nLeft out for room (give the whole content of any "
		    "of them you change):\n");
		json_array_foreach(left_out, i, v)
			add(t, "- %s\n", json_string_value(v));
	}
	json_decref(first);
	json_decref(left_out);
	free(body);
}

char *
prompt_first_turn(struct worker *cx, const json_t *directive)
{
	const char *text = json_string_value(json_object_get(directive,
	    "text"));
	struct text t = { 0 };
	char folder[4096], *map, *memory;
	int dirfd;

	add(&t, "# Task\n\n%s\n", json_string_value(json_object_get(
	    cx->assign, "text")));
	if (json_array_size(json_object_get(cx->assign, "directives")) > 0) {
		add(&t, "\n# Standing directives (they apply to all work)\n\n");
		add_list(&t, json_object_get(cx->assign, "directives"), "");
	}
	add(&t, "\n# Your directive (#%lld, from %s)\n\n%s\n",
	    (long long)json_integer_value(json_object_get(directive,
	    "directive")),
	    json_string_value(json_object_get(directive, "source")) ?: "masterd",
	    text != NULL ? text : "");
	if (llm_session_turns(cx->session) == 0 &&
	    (memory = memory_read(cx)) != NULL) {
		add(&t, "\n# Your notes from earlier work\n\n%s\n", memory);
		free(memory);
	}
	snprintf(folder, sizeof(folder), "%s/%s", cx->worktree,
	    worker_folder(cx));
	dirfd = open(folder, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	add(&t, "\n# Your files now (under %s/)\n\n", worker_folder(cx));
	if (dirfd < 0) {
		add(&t, "(none yet)\n");
	} else if (cx->tools) {
		map = tools_file_map(dirfd, FILE_MAP_MAX);
		add(&t, "%s\n", map);
		free(map);
	} else {
		add_contents(&t, cx, dirfd, text != NULL ? text : "");
	}
	if (dirfd >= 0)
		close(dirfd);
	add(&t, "\n# Your published interface now\n\n");
	if (cx->own_iface != NULL)
		add_json(&t, cx->own_iface);
	else
		add(&t, "(none published yet)\n");
	add(&t, "\n# Your peers' interfaces (their code is not shown)\n\n");
	if (json_array_size(cx->peers) > 0)
		add_json(&t, cx->peers);
	else
		add(&t, "(no peer has published yet)\n");
	if (cx->peers_at[0] != '\0')
		add(&t, "\nYour peers' code, which your checks run against, "
		    "is main's commit %.12s.\n", cx->peers_at);
	add(&t, cx->tools ? "\nLook before you change: read the files you "
	    "change. Call finish when the directive is done.\n" :
	    "\nAnswer with one JSON object as your instructions describe.\n");
	return finish(&t);
}

char *
prompt_critic_turn(const struct worker *cx, const json_t *directive,
    const char *diff, const json_t *checks)
{
	const json_t *c;
	size_t i;
	struct text t = { 0 };

	add(&t, "# Task\n\n%s\n", json_string_value(json_object_get(
	    cx->assign, "text")));
	add(&t, "\n# The directive given to domain %s\n\n%s\n", cx->domain,
	    json_string_value(json_object_get(directive, "text")));
	add(&t, "\n# The domain's changes\n\n```diff\n%s\n```\n",
	    diff && *diff ? diff : "(no change)");
	add(&t, "\n# Check results\n\n");
	if (json_array_size(checks) == 0)
		add(&t, "(no checks are configured)\n");
	json_array_foreach(checks, i, c)
		add(&t, "- `%s`: %s\n", json_string_value(json_object_get(c,
		    "command")), json_is_true(json_object_get(c, "passed")) ?
		    "passed" : "FAILED");
	add(&t, "\nAnswer with one JSON object: {\"complete\": true or false, "
	    "\"feedback\": \"what is missing or wrong\"}.\n");
	return finish(&t);
}

char *
prompt_planner_system(const struct worker *cx, char *err, size_t errlen)
{
	return required_prompt(cx, "planner", err, errlen);
}

/*
 * The domain's folder in the tree, under which it writes and nothing
 * else: <name>/, or the existing folder task.assign gives it (issue #18).
 * Every write goes through a descriptor of this folder.
 */
const char *
worker_folder(const struct worker *cx)
{
	const char *f = json_string_value(json_object_get(cx->assign,
	    "folder"));

	return f != NULL && *f != '\0' ? f : cx->domain;
}

#define PROJECT_LINES_MAX 200	/* top-level entries shown to the planner */

/*
 * An imported project's top level as main has it, for the plan: each
 * folder with how many files it holds, each root file.  Nothing for a
 * new project (main's first commit is empty).
 */
static void
add_project_tree(struct text *t, const struct worker *cx)
{
	char oid[REPO_OID_HEX], err[256], prev[4096] = "";
	json_t *files = NULL, *v;
	size_t i, n = 0, lines = 0;
	const char *path, *slash;

	if (repo_main_oid(cx->gitdir, oid, err, sizeof(err)) != 0 ||
	    repo_commit_files(cx->gitdir, oid, &files, err, sizeof(err)) !=
	    0 || json_array_size(files) == 0) {
		json_decref(files);
		return;
	}
	add(t, "\n# The project as it is\n\nThe task starts from an existing "
	    "project. Its top level (a folder with how many files it holds, "
	    "or a file):\n\n");
	/* Sorted by path: a folder's files are together. */
	json_array_foreach(files, i, v) {
		path = json_string_value(v);
		slash = strchr(path, '/');
		if (slash != NULL && strlen(prev) == (size_t)(slash - path) &&
		    strncmp(prev, path, (size_t)(slash - path)) == 0) {
			n++;
			continue;
		}
		if (prev[0] != '\0' && lines++ < PROJECT_LINES_MAX)
			add(t, "- %s/ (%zu file%s)\n", prev, n,
			    n == 1 ? "" : "s");
		prev[0] = '\0';
		n = 0;
		if (slash == NULL) {
			if (lines++ < PROJECT_LINES_MAX)
				add(t, "- %s\n", path);
			continue;
		}
		snprintf(prev, sizeof(prev), "%.*s", (int)(slash - path), path);
		n = 1;
	}
	if (prev[0] != '\0' && lines++ < PROJECT_LINES_MAX)
		add(t, "- %s/ (%zu file%s)\n", prev, n, n == 1 ? "" : "s");
	if (lines > PROJECT_LINES_MAX)
		add(t, "- ... %zu more\n", lines - PROJECT_LINES_MAX);
	add(t, "\nMap the existing folders to domains: a domain that owns an "
	    "existing folder says so with \"folder\" (its name may differ). "
	    "Files outside every domain's folder stay as they are, read-only "
	    "for every domain.\n");
	json_decref(files);
}

/* What the user said to the planner, in words before the context. */
static void
add_answers(struct text *t, const json_t *context)
{
	const json_t *a, *list = json_object_get(context, "answers");
	size_t i;

	if (json_array_size(list) > 0)
		add(t, "## The user's answers to your questions\n\n");
	json_array_foreach(list, i, a) {
		const char *q = json_string_value(json_object_get(a,
		    "question"));
		const char *v = json_string_value(json_object_get(a, "answer"));
		const char *as = json_string_value(json_object_get(a,
		    "assumption"));

		if (json_is_true(json_object_get(a, "expired")))
			add(t, "- Q: %s\n  No answer came in time: proceed on "
			    "your assumption: %s\n", q ? q : "", as ? as :
			    "(none stated)");
		else
			add(t, "- Q: %s\n  A: %s\n", q ? q : "", v ? v : "");
	}
	list = json_object_get(context, "rejected_plans");
	if (json_array_size(list) > 0)
		add(t, "\n## The user rejected your earlier plan\n\n");
	json_array_foreach(list, i, a) {
		const char *r = json_string_value(json_object_get(a, "reason"));

		add(t, "- Reason: %s\n", r ? r : "");
	}
	if (json_object_get(context, "answers") != NULL ||
	    json_object_get(context, "rejected_plans") != NULL)
		add(t, "\n");
}

char *
prompt_planner_turn(const struct worker *cx, const char *kind,
    const json_t *context)
{
	struct text t = { 0 };
	char *files;

	if (strcmp(kind, "plan") == 0)
		add(&t, "# Plan this task\n\nDecide the domains it needs. "
		    "Answer with the plan object.\n\n");
	else if (strcmp(kind, "attribute") == 0)
		add(&t, "# Attribute a failing integration\n\nThese "
		    "integration checks failed on main, with every domain's "
		    "code. Decide which domains must change what. Answer with "
		    "the attribution object.\n\n");
	else
		add(&t, "# Review this task\n\nThe domains have built and "
		    "integrated. Decide what to improve next, or that the task "
		    "is done. Answer with the review object.\n\n");
	add_answers(&t, context);
	add_json(&t, context);
	if (strcmp(kind, "plan") == 0)
		add_project_tree(&t, cx);
	if (strcmp(kind, "attribute") == 0) {
		files = attribute_files(cx->gitdir, context,
		    ATTRIBUTE_FILES_BUDGET);
		add(&t, "\n%s", files);
		free(files);
	}
	return finish(&t);
}
