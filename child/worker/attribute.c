/*
 * attribute.c — what the planner is shown of a failing integration beside
 * the master's context: the files involved, read only from the tested
 * commit of main (repo.c: its file list, each file read bounded).  The
 * files whose repository paths occur in the failing commands or their
 * output come first, in the order they are first mentioned; then each
 * domain's committed .interface.json that differs from its published
 * interface.  Everything within a byte budget, each file cut with a note,
 * a binary file named but not shown.  See plan.h.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child/worker/plan.h"
#include "child/worker/worker.h"
#include "common/repo.h"
#include "common/util.h"

/* Below this much budget left, no further file is started. */
#define ATTRIBUTE_FILE_MIN	256

struct mention {
	const char *path;
	uint64_t where;		/* failing entry * 2^32 + offset */
};

static bool
path_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/* The first place text names path as a whole: not inside a longer name. */
static bool
mentioned(const char *text, const char *path, size_t *offset)
{
	size_t n = strlen(path);
	const char *p;

	for (p = text != NULL ? strstr(text, path) : NULL; p != NULL;
	    p = strstr(p + 1, path)) {
		if ((p == text || !path_char(p[-1])) &&
		    !isalnum((unsigned char)p[n]) && p[n] != '_') {
			*offset = (size_t)(p - text);
			return true;
		}
	}
	return false;
}

/* Where the failing commands first name path: false if they never do. */
static bool
first_mention(const json_t *failing, const char *path, uint64_t *where)
{
	const json_t *f;
	size_t i, off;

	json_array_foreach(failing, i, f) {
		if (mentioned(json_string_value(json_object_get(f, "command")),
		    path, &off) || mentioned(json_string_value(
		    json_object_get(f, "output")), path, &off)) {
			*where = ((uint64_t)i << 32) + (off & 0xffffffffu);
			return true;
		}
	}
	return false;
}

static int
by_mention(const void *a, const void *b)
{
	const struct mention *x = a, *y = b;

	return x->where < y->where ? -1 : x->where > y->where;
}

static bool
has(const json_t *list, const char *s)
{
	const json_t *v;
	size_t i;

	json_array_foreach(list, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* The paths to show, in order: mentioned files, then interfaces. */
static json_t *
involved(const char *gitdir, const json_t *files, const json_t *context,
    size_t *nmentioned)
{
	const json_t *failing = json_object_get(context, "failing"), *v;
	size_t n = json_array_size(files), k = 0, i;
	struct mention *m = xcalloc(n > 0 ? n : 1, sizeof(*m));
	json_t *out = json_array();
	char *iface, folder[256], err[256];

	json_array_foreach(files, i, v) {
		m[k].path = json_string_value(v);
		if (first_mention(failing, m[k].path, &m[k].where))
			k++;
	}
	qsort(m, k, sizeof(*m), by_mention);
	*nmentioned = k;
	for (i = 0; i < k; i++)
		json_array_append_new(out, json_string(m[i].path));
	free(m);
	json_array_foreach(json_object_get(context, "domains"), i, v) {
		if (!json_is_string(v))
			continue;
		/* In the domain's folder (its own, else its name). */
		if (repo_domain_folder(gitdir, json_string_value(v), folder,
		    sizeof(folder), err, sizeof(err)) != 0)
			continue;
		iface = xasprintf("%s/%s", folder, WORKER_INTERFACE_FILE);
		if (!has(out, iface))
			json_array_append_new(out, json_string(iface));
		free(iface);
	}
	return out;
}

/* A committed interface the context holds already, as published. */
static bool
published(const char *text, const json_t *context)
{
	json_t *doc = json_loads(text, 0, NULL), *v;
	bool same = false;
	size_t i;

	if (doc == NULL)
		return false;
	json_array_foreach(json_object_get(context, "interfaces"), i, v)
		same = same || json_equal(doc, v);
	json_decref(doc);
	return same;
}

static bool
is_interface(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL && strcmp(slash + 1, WORKER_INTERFACE_FILE) == 0;
}

/* One file into out, within *left bytes: 0 (shown or skipped), or -1 when
 * the budget is spent (nothing written). */
static int
show_file(FILE *out, const char *gitdir, const char *commit,
    const char *path, const json_t *context, size_t *left)
{
	size_t max = *left < ATTRIBUTE_FILE_MAX ? *left : ATTRIBUTE_FILE_MAX;
	size_t len, size, keep;
	char err[256], *text;

	if (*left < ATTRIBUTE_FILE_MIN)
		return -1;
	if (repo_commit_read(gitdir, commit, path, max, &text, &len, &size,
	    err, sizeof(err)) != 0)
		return 0;	/* a domain without an interface file */
	if (is_interface(path) && size == len && published(text, context)) {
		free(text);
		return 0;
	}
	if (memchr(text, '\0', len) != NULL) {
		fprintf(out, "### %s\n\n(binary, %zu bytes: not shown)\n\n",
		    path, size);
		free(text);
		return 0;
	}
	keep = utf8_prefix(text, len);
	text[keep] = '\0';
	fprintf(out, "### %s\n\n```\n%s%s```\n", path, text,
	    keep > 0 && text[keep - 1] != '\n' ? "\n" : "");
	if (keep < size)
		fprintf(out, "[cut here: the first %zu of its %zu bytes "
		    "shown]\n", keep, size);
	fputc('\n', out);
	*left -= keep;
	free(text);
	return 0;
}

char *
attribute_files(const char *gitdir, const json_t *context, size_t budget)
{
	const char *commit = json_string_value(json_object_get(context,
	    "commit"));
	json_t *files = NULL, *paths = NULL, *v;
	size_t left = budget, nmentioned = 0, i;
	char err[256], *buf = NULL;
	size_t buflen = 0;
	FILE *out = open_memstream(&buf, &buflen);
	int r = 0;

	if (out == NULL)
		return xstrdup("");
	fprintf(out, "## Files involved (read only, from main at %s)\n\n",
	    commit != NULL ? commit : "?");
	if (commit == NULL || repo_commit_files(gitdir, commit, &files, err,
	    sizeof(err)) != 0) {
		fprintf(out, "The commit's files could not be read: %s\n",
		    commit == NULL ? "no commit given" : err);
		goto done;
	}
	paths = involved(gitdir, files, context, &nmentioned);
	if (nmentioned == 0)
		fprintf(out, "No file of the commit is named in the failing "
		    "commands or their output.\n\n");
	json_array_foreach(paths, i, v) {
		if ((r = show_file(out, gitdir, commit, json_string_value(v),
		    context, &left)) < 0)
			break;
	}
	if (r < 0) {
		fprintf(out, "Not shown, over the budget of %zu bytes:",
		    budget);
		for (; i < json_array_size(paths); i++)
			fprintf(out, " %s", json_string_value(json_array_get(
			    paths, i)));
		fputc('\n', out);
	}
done:
	json_decref(paths);
	json_decref(files);
	fclose(out);
	return buf != NULL ? buf : xstrdup("");
}
