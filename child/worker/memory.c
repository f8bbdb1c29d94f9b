/*
 * memory.c — a domain's memory: <task>/memory/<domain>.md, what its
 * model should not forget when its conversation is compacted, its worker
 * restarts or its session file is lost.  Two parts: "## Summary", the
 * latest summary the model wrote of its earlier work, and "## Directives",
 * one line per finished directive (the last MEMORY_DIRECTIVES kept).
 * Written to a temporary file, synced and renamed over the old one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child/worker/worker.h"
#include "common/log.h"
#include "common/redact.h"
#include "common/util.h"

#define MEMORY_MAX		(64 * 1024)	/* bytes read back */
#define MEMORY_DIRECTIVES	40		/* directive lines kept */

static void
memory_path(const struct worker *cx, char *buf, size_t len)
{
	snprintf(buf, len, "%s/memory/%s.md", cx->task_dir, cx->domain);
}

char *
memory_read(const struct worker *cx)
{
	char path[4096], *buf;
	FILE *f;
	size_t n;

	memory_path(cx, path, sizeof(path));
	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	buf = xmalloc(MEMORY_MAX + 1);
	n = fread(buf, 1, MEMORY_MAX, f);
	buf[n] = '\0';
	fclose(f);
	if (n == 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The memory as two parts: the summary, and the directive lines. */
static void
memory_split(const char *mem, char **summary, json_t *lines)
{
	const char *d = mem != NULL ? strstr(mem, "\n## Directives\n") : NULL;
	const char *p, *eol;

	*summary = NULL;
	if (mem == NULL)
		return;
	if (strncmp(mem, "## Summary\n", 11) == 0)
		*summary = xstrndup(mem + 11, (size_t)((d != NULL ? d :
		    mem + strlen(mem)) - mem - 11));
	for (p = d != NULL ? d + 15 : ""; *p != '\0'; p = eol) {
		eol = strchr(p, '\n');
		eol = eol != NULL ? eol + 1 : p + strlen(p);
		if (strncmp(p, "- ", 2) == 0)
			json_array_append_new(lines, json_stringn(p,
			    (size_t)(eol - p)));
	}
}

static void
memory_write(const struct worker *cx, const char *summary,
    const json_t *lines)
{
	char path[4096], tmp[4200];
	const json_t *v;
	size_t i, from;
	FILE *f;

	snprintf(path, sizeof(path), "%s/memory", cx->task_dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		log_warn("memory: %s: %s", path, strerror(errno));
		return;
	}
	memory_path(cx, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "we")) == NULL) {
		log_warn("memory: %s: %s", tmp, strerror(errno));
		return;
	}
	if (summary != NULL && summary[0] != '\0')
		fprintf(f, "## Summary\n%s%s", summary,
		    summary[strlen(summary) - 1] == '\n' ? "" : "\n");
	fprintf(f, "\n## Directives\n");
	from = json_array_size(lines) > MEMORY_DIRECTIVES ?
	    json_array_size(lines) - MEMORY_DIRECTIVES : 0;
	json_array_foreach(lines, i, v) {
		if (i >= from)
			fputs(json_string_value(v), f);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		log_warn("memory: %s: %s", tmp, strerror(errno));
		fclose(f);
		return;
	}
	fclose(f);
	if (rename(tmp, path) != 0)
		log_warn("memory: %s: %s", path, strerror(errno));
}

/* Replace the memory's summary, or add one directive line (NULL keeps). */
void
memory_update(const struct worker *cx, const char *summary,
    const char *line)
{
	char *mem = memory_read(cx), *old_summary, *clean;
	json_t *lines = json_array();

	memory_split(mem, &old_summary, lines);
	if (line != NULL)
		json_array_append_new(lines, json_sprintf("%s\n", line));
	/* Kept for good: the summary and every line leave redacted, the
	 * ones read back too. */
	clean = redact_str(cx->redact, summary != NULL ? summary :
	    old_summary);
	redact_json(cx->redact, lines);
	memory_write(cx, clean, lines);
	json_decref(lines);
	free(clean);
	free(old_summary);
	free(mem);
}
