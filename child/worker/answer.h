/*
 * answer.h — the structured answers a domain's model returns, and the
 * critic's verdict.
 *
 *   {"summary": "what changed and why",
 *    "files": [{"path": "src/app.py", "content": "..."},
 *              {"path": "old.txt", "delete": true},
 *              {"path": "src/b.py",
 *               "edits": [{"old": "x = 1", "new": "x = 2"}]}],
 *    "interface": { interface document, see iface.h },
 *    "checks": ["make -C frontend test"]}          (proposals)
 *
 * Each file gives exactly one of content (the whole new file), edits (1
 * to 200 exact replacements, applied in order with tools_edit: each old
 * non-empty and found exactly once when applied) or delete.  Paths are
 * relative to the domain's folder; they are checked lexically here (no
 * "..", no absolute path, nothing under .git) and again, against
 * symlinks, when written.
 */
#ifndef CHILD_ANSWER_H
#define CHILD_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Replace the one occurrence of old with new (see tools_edit). */
struct answer_edit {
	char *old;
	char *new;
};

/* One of: content (the whole file), delete, or edits of a file the
 * model was shown. */
struct answer_file {
	char *path;		/* normalised, relative to the domain folder */
	char *content;		/* NULL when deleting or editing */
	size_t len;
	bool delete;
	struct answer_edit *edits;
	size_t nedits;
};

struct answer {
	char *summary;
	struct answer_file *files;
	size_t nfiles;
	json_t *interface;	/* validated document, or NULL if absent */
	char **checks;
	size_t nchecks;
	json_t *questions;	/* for the user: [{"text", "assumption"}],
				 * or NULL */
};

/*
 * Find the JSON in a model's text (the whole text, else the last fenced
 * ```json block, else the outermost {...}), and validate it.  On failure
 * returns -1 with an error precise enough to send back to the model
 * ("files[2].path: path contains \"..\"").
 */
int answer_parse(const char *text, const char *domain, struct answer *out,
    char *err, size_t errlen);
void answer_free(struct answer *);

/* The same for a JSON value already parsed (finish's arguments). */
int answer_validate(const json_t *doc, const char *domain,
    struct answer *out, char *err, size_t errlen);

/* The JSON value in a model's text, found as answer_parse does; `what`
 * names the reply in errors.  A new reference, or NULL with err. */
json_t *answer_extract_json(const char *text, const char *what, char *err,
    size_t errlen);

/* {"complete": bool, "feedback": "..."} from the critic. */
int verdict_parse(const char *text, bool *complete, char **feedback,
    char *err, size_t errlen);

/* JSON schemas of both, for APIs with structured output formats. */
json_t *answer_schema(void);
json_t *verdict_schema(void);

#endif
