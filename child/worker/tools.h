/*
 * tools.h — the tools a domain's model works with, and the picture of the
 * domain's files the prompts carry.
 *
 * Every tool is confined to the domain's folder in its worktree, with the
 * rules of path.h (no "..", no absolute path, nothing under .git, no
 * symlink followed).  A tool never fails the worker: bad arguments and
 * failures come back as an error text the model can act on.
 *
 *   list_files   {"path"?}                      files under a folder
 *   read_file    {"path", "start"?, "end"?}     lines, capped, numbered
 *   search       {"pattern", "path"?}           POSIX extended regex
 *   write_file   {"path", "content"}            the whole file
 *   edit_file    {"path", "old", "new"}         old occurs exactly once
 *   delete_file  {"path"}
 *   peer_interfaces {"domain"?}                 the peers' published
 *                                               interfaces, never code
 *   run_checks   {}                             asynchronous: round.c
 *   finish       {"summary", "interface"?, "checks"?}   ends the round
 */
#ifndef CHILD_WORKER_TOOLS_H
#define CHILD_WORKER_TOOLS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "child/worker/answer.h"

enum tool_kind {
	TOOL_UNKNOWN,
	TOOL_SYNC,		/* tools_run answers at once */
	TOOL_CHECKS,		/* run_checks: the round runs the checks */
	TOOL_FINISH,		/* finish: the round ends */
};

struct tool_limits {
	size_t read_max;	/* bytes one read_file returns */
	size_t list_max;	/* entries one list_files returns */
	size_t search_max;	/* matches one search returns */
	size_t round_read;	/* bytes all reads of a round may return */
	int round_calls;	/* tool calls per round */
};

#define TOOL_LIMITS_DEFAULT { 32 * 1024, 500, 200, 512 * 1024, 60 }

/* One round's use of the tools. */
struct tool_ctx {
	int dirfd;			/* the domain folder (O_PATH) */
	const char *domain;
	const json_t *peers;		/* [{"domain", "interface"}, ...] */
	struct tool_limits lim;
	size_t bytes_read;		/* read_file's output, this round */
	int calls;			/* this round */
	json_t *shown;			/* paths whose content the model saw
					 * (read, even in part; written):
					 * object path→true */
	json_t *changed;		/* paths written, edited or deleted */
	json_t *questions;		/* ask_user's: [{"text",
					 * "assumption"}] */
};

void tool_ctx_init(struct tool_ctx *, int dirfd, const char *domain,
    const json_t *peers, const struct tool_limits *);
void tool_ctx_free(struct tool_ctx *);	/* not dirfd */

/* The tools in the provider layer's neutral form (a new reference). */
json_t *tools_schema(void);

enum tool_kind tools_kind(const char *name);

/*
 * Run a synchronous tool with its arguments as the model wrote them.
 * Returns the text for the model (malloc'd); *is_error tells the model it
 * failed ("edit_file: old text not found in src/a.py", "found 3 times").
 * A call past lim.round_calls is refused the same way.
 */
char *tools_run(struct tool_ctx *, const char *name, const char *arguments,
    bool *is_error);

/* finish's arguments into an answer (no files): -1 with err for the
 * model when they are not a valid summary and interface. */
int tools_finish(const char *arguments, const char *domain,
    struct answer *out, char *err, size_t errlen);

/*
 * Replace the one occurrence of old with new in the file at path under
 * dirfd: 0, or -1 with why (for the model).  Used by edit_file and by the
 * edits of a JSON answer.
 */
int tools_edit(int dirfd, const char *path, const char *old,
    const char *new, char **why);

/*
 * The domain's files for a prompt: one line per file with its size and
 * its top-level definitions (or its first line), at most max bytes; the
 * rest counted.  Malloc'd; "(no files yet)" when there are none.
 */
char *tools_file_map(int dirfd, size_t max);

/*
 * JSON-answer mode: the current content of the domain's files within a
 * budget of bytes, the paths in `first` (named in the directive, changed
 * recently; an array of paths or an object whose keys are paths, such
 * as ctx->changed) before the others.  A file that does not fit whole is
 * left out, never cut, and named in *left_out (a new array; binary files
 * too); those that fit are set true in shown (an object, path → true).
 * Malloc'd, as "### path" and a fenced block per file; "(no files yet)"
 * when there are none.
 */
char *tools_file_contents(int dirfd, const json_t *first, size_t budget,
    json_t **left_out, json_t *shown);

#endif
