/*
 * plan.h — the planner role's checks and texts that need no session, for
 * plan.c, prompt.c and the unit tests: the shape of each kind of answer,
 * and the files of a failing integration shown to the planner.
 */
#ifndef CHILD_PLAN_H
#define CHILD_PLAN_H

#include <stddef.h>

#include <jansson.h>

/* What the planner is shown of a commit's files, in all. */
#define ATTRIBUTE_FILES_BUDGET	(48 * 1024)
/* And of any one file. */
#define ATTRIBUTE_FILE_MAX	(16 * 1024)

/*
 * A plan, review or attribution (kind "plan", "review", "attribute") from
 * the model: 0, or -1 with what to mend in err.  context is the request's:
 * an attribution's directives must name one of its "domains".
 */
int plan_check(const json_t *answer, const char *kind, const json_t *context,
    char *err, size_t len);

/*
 * attribute.c: the files involved in a failing integration, read only
 * from the context's "commit" in the bare repository at gitdir: the files
 * whose paths occur in its "failing" commands or their output (the first
 * mentioned first), then each of its "domains"' .interface.json unless it
 * is one of its "interfaces" already; at most budget bytes of content in
 * all, each file cut to ATTRIBUTE_FILE_MAX with a note.  A malloc'd
 * Markdown section, never NULL.
 */
char *attribute_files(const char *gitdir, const json_t *context,
    size_t budget);

#endif
