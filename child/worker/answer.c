/*
 * answer.c — find the JSON in a model's reply and validate it: a domain's
 * answer (summary, files, interface, check proposals) or the critic's
 * verdict.
 *
 * Models wrap JSON in prose and fences whatever they are told, so the
 * extractor is tolerant; the validator is not, and its messages go back
 * to the model verbatim: each names the JSON path and says what is wrong
 * in words the model can act on.  docs/interface.md describes the
 * interface member; answer.h the rest.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "child/worker/answer.h"
#include "common/iface.h"
#include "child/worker/path.h"
#include "common/shape.h"
#include "common/util.h"

#define MAX_FILES	200
#define MAX_EDITS	200	/* per file */
#define MAX_CONTENT	(1024 * 1024)
#define MAX_TOTAL	(8 * 1024 * 1024)
#define MAX_SUMMARY	4096
#define MAX_CHECKS	20
#define MAX_CHECK	1024
#define MAX_FEEDBACK	8192
#define MAX_RESCANS	16	/* restarts after an unclosed '{' */

/* ------------------------------------------------------------ shapes */

/* Closed objects whose null members are absent: structured output modes
 * send null for "none". */
#define CLOSED_NULLS	(SHAPE_CLOSED | SHAPE_NULL_ABSENT)
#define END		{ .name = NULL }

static const struct shape_field edit_fields[] = {
	{ .name = "old", .types = FT_STRING, .required = true, .min_len = 1,
	    .max_len = MAX_CONTENT,
	    .when_missing = "(the exact text to replace)" },
	{ .name = "new", .types = FT_STRING, .required = true,
	    .max_len = MAX_CONTENT,
	    .when_missing = "(the text to put in its place)" },
	END
};
static const struct shape_field edit_entry = {
	.types = FT_OBJECT, .flags = CLOSED_NULLS, .members = edit_fields,
	.what = "an object {\"old\", \"new\"}"
};
static const struct shape_field file_fields[] = {
	{ .name = "path", .types = FT_STRING, .required = true },
	{ .name = "content", .types = FT_STRING, .max_len = MAX_CONTENT,
	    .over = " per file" },
	{ .name = "delete", .types = FT_BOOL },
	{ .name = "edits", .types = FT_ARRAY, .min_items = 1,
	    .max_items = MAX_EDITS, .over = " per file; give the whole "
	    "content instead", .items = &edit_entry },
	END
};
static const struct shape_field file_entry = {
	.types = FT_OBJECT, .flags = CLOSED_NULLS, .members = file_fields,
	.what = "an object {\"path\", \"content\"}, {\"path\", "
	    "\"edits\"} or {\"path\", \"delete\": true}"
};
static const struct shape_field check_entry = {
	.types = FT_STRING, .min_len = 1, .max_len = MAX_CHECK
};
/* A question for the user, and what the model assumes without an
 * answer (tools.c's ask_user, for answers without tools). */
static const struct shape_field question_fields[] = {
	{ .name = "text", .types = FT_STRING, .required = true, .min_len = 1,
	    .max_len = 4096 },
	{ .name = "assumption", .types = FT_STRING, .max_len = 4096 },
	{ .name = "timeout", .types = FT_INTEGER, .ranged = true, .min = 1,
	    .max = 365 * 86400 },
	END
};
static const struct shape_field question_entry = {
	.types = FT_OBJECT, .flags = CLOSED_NULLS, .members = question_fields
};
static const struct shape_field answer_fields[] = {
	{ .name = "summary", .types = FT_STRING, .required = true,
	    .min_len = 1, .max_len = MAX_SUMMARY,
	    .when_missing = "(say what changed and why)" },
	{ .name = "files", .types = FT_ARRAY, .max_items = MAX_FILES,
	    .over = "; split the work over several answers",
	    .items = &file_entry },
	/* Its own rules are iface_validate's. */
	{ .name = "interface", .types = FT_OBJECT,
	    .what = "an object (the interface document)" },
	{ .name = "checks", .types = FT_ARRAY, .max_items = MAX_CHECKS,
	    .items = &check_entry },
	{ .name = "questions", .types = FT_ARRAY, .max_items = 4,
	    .items = &question_entry },
	END
};
static const struct shape_field answer_shape = {
	.types = FT_OBJECT, .flags = CLOSED_NULLS, .members = answer_fields
};
static const struct shape_field verdict_fields[] = {
	{ .name = "complete", .types = FT_BOOL, .required = true,
	    .when_missing = "(true or false)" },
	{ .name = "feedback", .types = FT_STRING, .max_len = MAX_FEEDBACK },
	END
};
static const struct shape_field verdict_shape = {
	.types = FT_OBJECT, .flags = CLOSED_NULLS,
	.members = verdict_fields
};

#undef END

/* ------------------------------------------------------------ extraction */

/* Line numbers of positions met in increasing order, in linear time. */
struct lines {
	const char *at;
	int line;
};

static int
line_at(struct lines *l, const char *p)
{
	for (; l->at < p; l->at++)
		l->line += *l->at == '\n';
	return l->line;
}

/*
 * Why nothing was found: the parse error of the most telling candidate.
 * Ranks: 3 the whole text when it starts like JSON, 2 the last fenced
 * block, 1 the longest {...} of the prose; a higher rank wins.
 */
struct why {
	char text[256];
	int rank;
	size_t len;
};

/* Parse text[0..len) as JSON; on failure keep the error if it is the
 * most telling so far.  Lines count from line0, the text's line where
 * the candidate's first line is. */
static json_t *
try_parse(struct why *w, int rank, const char *where, const char *text,
    size_t len, int line0)
{
	json_error_t e;
	json_t *j;

	if ((j = json_loadb(text, len, 0, &e)) != NULL)
		return j;
	if (rank > w->rank || (rank == w->rank && rank == 1 && len > w->len)) {
		snprintf(w->text, sizeof(w->text), "%sline %d, column %d: %s",
		    where, e.line + line0 - 1, e.column, e.text);
		w->rank = rank;
		w->len = len;
	}
	return NULL;
}

struct fence {
	const char *body;
	size_t len;
	int line;		/* of the opening fence */
};

struct fences {
	struct fence *v;
	size_t n, cap;
};

static void
fences_add(struct fences *fs, const char *body, size_t len, int line)
{
	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 8;
		fs->v = xreallocarray(fs->v, fs->cap, sizeof(*fs->v));
	}
	fs->v[fs->n++] = (struct fence){ body, len, line };
}

/* Count the backticks that open a fence line, after indentation. */
static size_t
fence_ticks(const char *line, const char *eol, const char **after)
{
	const char *p = line;
	size_t n = 0;

	while (p < eol && (*p == ' ' || *p == '\t'))
		p++;
	while (p < eol && *p == '`') {
		p++;
		n++;
	}
	*after = p;
	return n;
}

/* Does the info string after an opening fence announce JSON, or
 * nothing? */
static bool
json_info(const char *p, const char *eol)
{
	const char *w;

	while (p < eol && (*p == ' ' || *p == '\t'))
		p++;
	for (w = p; w < eol && *w != ' ' && *w != '\t' && *w != '\r'; w++)
		;
	return w == p || ((size_t)(w - p) == 4 &&
	    strncasecmp(p, "json", 4) == 0);
}

static bool
is_closing(const char *line, const char *eol, size_t ticks)
{
	const char *p;

	if (fence_ticks(line, eol, &p) < ticks)
		return false;
	while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	return p == eol;
}

static const char *
end_of_line(const char *line)
{
	const char *eol = strchr(line, '\n');

	return eol == NULL ? line + strlen(line) : eol;
}

static const char *
next_line(const char *eol)
{
	return *eol == '\0' ? eol : eol + 1;
}

/*
 * The ```json and bare ``` blocks of text, in order.  A fence is a line
 * of three or more backticks (indented or not: models indent them in
 * lists); it closes at a line of at least as many backticks, or at the
 * end of the text (a reply cut short).  No line of JSON can begin with a
 * backtick — strings cannot hold raw newlines — so file contents with
 * fences of their own do not end the block.
 */
static void
find_fences(const char *text, struct fences *fs)
{
	const char *line = text, *eol, *after, *body, *open;
	struct lines l = { text, 1 };
	size_t ticks;
	bool want;

	while (*line != '\0') {
		eol = end_of_line(line);
		if ((ticks = fence_ticks(line, eol, &after)) < 3 ||
		    memchr(after, '`', (size_t)(eol - after)) != NULL) {
			line = next_line(eol);
			continue;
		}
		want = json_info(after, eol);
		open = line;
		body = next_line(eol);
		for (line = body; *line != '\0'; line = next_line(eol)) {
			eol = end_of_line(line);
			if (is_closing(line, eol, ticks))
				break;
		}
		if (want)
			fences_add(fs, body, (size_t)(line - body),
			    line_at(&l, open));
		if (*line != '\0')
			line = next_line(end_of_line(line));
	}
}

/* The last fenced block that parses as an object. */
static json_t *
from_fences(struct why *w, const char *text)
{
	struct fences fs = { NULL, 0, 0 };
	json_t *j = NULL;
	char where[80];
	size_t i;

	find_fences(text, &fs);
	for (i = fs.n; i-- > 0;) {
		snprintf(where, sizeof(where), "the fenced block at line %d "
		    "does not parse: ", fs.v[i].line);
		j = try_parse(w, i + 1 == fs.n ? 2 : 0, where, fs.v[i].body,
		    fs.v[i].len, fs.v[i].line + 1);
		if (json_is_object(j))
			break;
		json_decref(j);
		j = NULL;
	}
	free(fs.v);
	return j;
}

/*
 * The end of the balanced {...} starting at p ('{'), or NULL when the
 * text ends first.  Braces inside JSON strings do not count.
 */
static const char *
span_end(const char *p)
{
	size_t depth = 0;
	bool str = false;

	for (; *p != '\0'; p++) {
		if (str) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				str = false;
		} else if (*p == '"')
			str = true;
		else if (*p == '{')
			depth++;
		else if (*p == '}' && --depth == 0)
			return p;
	}
	return NULL;
}

/*
 * The last outermost balanced {...} of the text that parses as an
 * object.  Quotes outside braces are prose, not strings.  A '{' that
 * never closes (a stray one in the prose) is skipped and the scan goes
 * on after it, a bounded number of times so that the work stays linear.
 */
static json_t *
from_spans(struct why *w, const char *text)
{
	struct lines l = { text, 1 };
	const char *p = text, *end;
	json_t *best = NULL, *j;
	int rescans = 0, line;
	char where[80];

	while ((p = strchr(p, '{')) != NULL) {
		if ((end = span_end(p)) == NULL) {
			if (++rescans > MAX_RESCANS)
				break;
			p++;
			continue;
		}
		line = line_at(&l, p);
		snprintf(where, sizeof(where), "the {...} at line %d does not "
		    "parse: ", line);
		j = try_parse(w, 1, where, p, (size_t)(end - p) + 1, line);
		if (json_is_object(j)) {
			json_decref(best);
			best = j;
		} else
			json_decref(j);
		p = end + 1;
	}
	return best;
}

/*
 * The JSON of a reply: the whole text, else the last fenced block that
 * parses, else the last outermost {...} that parses.  `what` names the
 * reply in errors ("answer", "verdict").
 */
static json_t *
extract(const char *text, const char *what, char *err, size_t errlen)
{
	struct why w = { "", 0, 0 };
	const char *p;
	json_t *j;

	if (text == NULL || *(p = text + strspn(text, " \t\r\n")) == '\0') {
		shape_error(err, errlen, "the %s is empty: no JSON object "
		    "found in the text", what);
		return NULL;
	}
	/* Text that does not start like JSON cannot be JSON as a whole. */
	if ((*p == '{' || *p == '[') &&
	    (j = try_parse(&w, 3, "", text, strlen(text), 1)) != NULL)
		return j;
	if ((j = from_fences(&w, text)) != NULL ||
	    (j = from_spans(&w, text)) != NULL)
		return j;
	if (w.rank > 0)
		shape_error(err, errlen, "the %s is not JSON: %s", what,
		    w.text);
	else
		shape_error(err, errlen, "the %s is not JSON: no JSON object "
		    "found in the text", what);
	return NULL;
}

json_t *
answer_extract_json(const char *text, const char *what, char *err,
    size_t errlen)
{
	return extract(text, what, err, errlen);
}

/* ------------------------------------------------------------ answers */

/* Copy a JSON string that must hold no NUL: the edits are C strings. */
static int
copy_text(const json_t *v, size_t i, size_t k, const char *what,
    char **out, char *err, size_t errlen)
{
	if (strlen(json_string_value(v)) != json_string_length(v))
		return shape_error(err, errlen, "files[%zu].edits[%zu].%s: "
		    "contains a NUL character", i, k, what);
	*out = xstrdup(json_string_value(v));
	return 0;
}

/* The edits of files[i] into *af; *total counts their bytes. */
static int
parse_edits(const json_t *edits, size_t i, struct answer_file *af,
    size_t *total, char *err, size_t errlen)
{
	const json_t *e;
	size_t k;

	af->edits = xcalloc(json_array_size(edits), sizeof(*af->edits));
	json_array_foreach(edits, k, e) {
		const json_t *old = json_object_get(e, "old");
		const json_t *new = json_object_get(e, "new");

		/* Counted first, so that answer_free sees a partial edit. */
		af->nedits++;
		if ((*total += json_string_length(old) +
		    json_string_length(new)) > MAX_TOTAL)
			return shape_error(err, errlen, "files[%zu].edits[%zu]"
			    ": the answer's texts exceed %d bytes in all; "
			    "split the work over several answers", i, k,
			    MAX_TOTAL);
		if (copy_text(old, i, k, "old", &af->edits[k].old, err,
		    errlen) == -1 || copy_text(new, i, k, "new",
		    &af->edits[k].new, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/*
 * One files[] entry, already shaped, into *af (path normalised, content
 * or edits copied); *total counts the bytes of text so far.
 */
static int
parse_file(const json_t *e, size_t i, struct answer_file *af, size_t *total,
    char *err, size_t errlen)
{
	const json_t *path = json_object_get(e, "path");
	const json_t *content = shape_member(e, "content");
	const json_t *del = shape_member(e, "delete");
	const json_t *edits = shape_member(e, "edits");
	char norm[PATH_MAX];
	const char *why;
	size_t len;

	if (strlen(json_string_value(path)) != json_string_length(path))
		return shape_error(err, errlen, "files[%zu].path: control "
		    "character in path", i);
	if (path_normalise(json_string_value(path), PATH_DENY_GIT, norm,
	    sizeof(norm), &why) != 0)
		return shape_error(err, errlen, "files[%zu].path: %s", i, why);
	if (json_is_false(del))
		del = NULL;
	if ((content != NULL) + (del != NULL) + (edits != NULL) > 1)
		return shape_error(err, errlen, "files[%zu]: give one of "
		    "\"content\", \"edits\" or \"delete\": true, not "
		    "several", i);
	if (content == NULL && del == NULL && edits == NULL)
		return shape_error(err, errlen, "files[%zu]: missing "
		    "\"content\" (the whole new file), \"edits\" "
		    "([{\"old\", \"new\"}]) or \"delete\": true", i);
	af->path = xstrdup(norm);
	if (del != NULL) {
		af->delete = true;
		return 0;
	}
	if (edits != NULL)
		return parse_edits(edits, i, af, total, err, errlen);
	len = json_string_length(content);
	if ((*total += len) > MAX_TOTAL)
		return shape_error(err, errlen, "files[%zu].content: the "
		    "files' contents exceed %d bytes in all; split the work "
		    "over several answers", i, MAX_TOTAL);
	af->content = xmalloc(len + 1);
	memcpy(af->content, json_string_value(content), len);
	af->content[len] = '\0';
	af->len = len;
	return 0;
}

/* Two entries for one path, or a file written where another entry
 * needs a directory. */
static int
check_paths(const struct answer *a, char *err, size_t errlen)
{
	const struct answer_file *x, *y;

	for (size_t j = 1; j < a->nfiles; j++) {
		y = &a->files[j];
		for (size_t i = 0; i < j; i++) {
			x = &a->files[i];
			if (strcmp(x->path, y->path) == 0)
				return shape_error(err, errlen, "files[%zu]."
				    "path: \"%s\" appears twice (also "
				    "files[%zu])", j, y->path, i);
			if ((path_under(y->path, x->path) && !x->delete) ||
			    (path_under(x->path, y->path) && !y->delete))
				return shape_error(err, errlen, "files[%zu]."
				    "path: \"%s\" and files[%zu] \"%s\" cannot "
				    "both exist: one is a file, the other "
				    "needs it as a directory", j, y->path, i,
				    x->path);
		}
	}
	return 0;
}

static int
parse_files(const json_t *files, struct answer *a, char *err, size_t errlen)
{
	const json_t *e;
	size_t i, total = 0;

	if (json_array_size(files) == 0)
		return 0;
	a->files = xcalloc(json_array_size(files), sizeof(*a->files));
	json_array_foreach(files, i, e) {
		/* Counted first, so that answer_free sees a partial entry. */
		a->nfiles++;
		if (parse_file(e, i, &a->files[i], &total, err, errlen) == -1)
			return -1;
	}
	return check_paths(a, err, errlen);
}

static int
parse_interface(const json_t *doc, const char *domain, struct answer *a,
    char *err, size_t errlen)
{
	char why[512];

	if (doc == NULL)
		return 0;
	if (iface_validate(doc, domain, why, sizeof(why)) == -1) {
		/* iface errors name paths inside the document. */
		if (strncmp(why, "interface:", 10) == 0)
			return shape_error(err, errlen, "%s", why);
		return shape_error(err, errlen, "interface.%s", why);
	}
	a->interface = json_incref((json_t *)doc);
	return 0;
}

/* One shell command line per check: no control characters. */
static int
parse_checks(const json_t *checks, struct answer *a, char *err,
    size_t errlen)
{
	const json_t *c;
	const char *s;
	size_t i, len;

	if (json_array_size(checks) == 0)
		return 0;
	a->checks = xcalloc(json_array_size(checks), sizeof(*a->checks));
	json_array_foreach(checks, i, c) {
		s = json_string_value(c);
		len = json_string_length(c);
		for (size_t k = 0; k < len; k++)
			if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f)
				return shape_error(err, errlen, "checks[%zu]: "
				    "control character (a check is one command "
				    "line)", i);
		a->checks[a->nchecks++] = xstrdup(s);
	}
	return 0;
}

static int
validate_answer(const json_t *j, const char *domain, struct answer *a,
    char *err, size_t errlen)
{
	if (!json_is_object(j))
		return shape_error(err, errlen, "the answer must be a JSON "
		    "object, not %s", shape_type_of(j));
	if (shape_check(j, &answer_shape, err, errlen) == -1)
		return -1;
	a->summary = xstrdup(json_string_value(json_object_get(j, "summary")));
	if (parse_files(shape_member(j, "files"), a, err, errlen) == -1 ||
	    parse_interface(shape_member(j, "interface"), domain, a, err,
	    errlen) == -1 ||
	    parse_checks(shape_member(j, "checks"), a, err, errlen) == -1)
		return -1;
	if (json_array_size(shape_member(j, "questions")) > 0)
		a->questions = json_deep_copy(shape_member(j, "questions"));
	return 0;
}

int
answer_validate(const json_t *j, const char *domain, struct answer *out,
    char *err, size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((rc = validate_answer(j, domain, out, err, errlen)) == -1)
		answer_free(out);
	return rc;
}

int
answer_parse(const char *text, const char *domain, struct answer *out,
    char *err, size_t errlen)
{
	json_t *j;
	int rc;

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((j = extract(text, "answer", err, errlen)) == NULL)
		return -1;
	if ((rc = validate_answer(j, domain, out, err, errlen)) == -1)
		answer_free(out);
	json_decref(j);
	return rc;
}

void
answer_free(struct answer *a)
{
	if (a == NULL)
		return;
	free(a->summary);
	for (size_t i = 0; i < a->nfiles; i++) {
		free(a->files[i].path);
		free(a->files[i].content);
		for (size_t k = 0; k < a->files[i].nedits; k++) {
			free(a->files[i].edits[k].old);
			free(a->files[i].edits[k].new);
		}
		free(a->files[i].edits);
	}
	free(a->files);
	json_decref(a->questions);
	json_decref(a->interface);
	for (size_t i = 0; i < a->nchecks; i++)
		free(a->checks[i]);
	free(a->checks);
	memset(a, 0, sizeof(*a));
}

/* ------------------------------------------------------------ verdicts */

static int
validate_verdict(const json_t *j, bool *complete, char **feedback,
    char *err, size_t errlen)
{
	const json_t *f;

	if (!json_is_object(j))
		return shape_error(err, errlen, "the verdict must be a JSON "
		    "object, not %s", shape_type_of(j));
	if (shape_check(j, &verdict_shape, err, errlen) == -1)
		return -1;
	if ((f = shape_member(j, "feedback")) != NULL)
		*feedback = xstrdup(json_string_value(f));
	*complete = json_is_true(json_object_get(j, "complete"));
	return 0;
}

int
verdict_parse(const char *text, bool *complete, char **feedback,
    char *err, size_t errlen)
{
	json_t *j;
	int rc;

	*complete = false;
	*feedback = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((j = extract(text, "verdict", err, errlen)) == NULL)
		return -1;
	if ((rc = validate_verdict(j, complete, feedback, err, errlen)) == -1) {
		free(*feedback);
		*feedback = NULL;
		*complete = false;
	}
	json_decref(j);
	return rc;
}

/* ------------------------------------------------------------ schemas */

/*
 * Written in the subset OpenAI's strict structured outputs accept: every
 * object closed (additionalProperties false) and every property required,
 * "none" being null.  The one exception is an interface entry's "schema",
 * which is any JSON and so cannot be closed: an API in strict mode needs
 * the schema sent non-strict.  The validator above is the real check.
 */
static const char answer_schema_text[] =
"{\"type\": \"object\","
" \"properties\": {"
"  \"summary\": {\"type\": \"string\","
"   \"description\": \"What changed and why, for the commit message.\"},"
"  \"files\": {\"type\": \"array\","
"   \"description\": \"Files to write (whole content), edit (exact "
"replacements in a file you were shown) or delete, paths relative to the "
"domain's folder.\","
"   \"items\": {\"type\": \"object\","
"    \"properties\": {"
"     \"path\": {\"type\": \"string\"},"
"     \"content\": {\"type\": [\"string\", \"null\"],"
"      \"description\": \"The whole new content; null when editing or "
"deleting.\"},"
"     \"edits\": {\"type\": [\"array\", \"null\"],"
"      \"description\": \"Replacements in the current file: each old "
"text must occur exactly once; null when writing or deleting.\","
"      \"items\": {\"type\": \"object\","
"       \"properties\": {"
"        \"old\": {\"type\": \"string\"},"
"        \"new\": {\"type\": \"string\"}},"
"       \"required\": [\"old\", \"new\"],"
"       \"additionalProperties\": false}},"
"     \"delete\": {\"type\": [\"boolean\", \"null\"],"
"      \"description\": \"true to delete the file.\"}},"
"    \"required\": [\"path\", \"content\", \"edits\", \"delete\"],"
"    \"additionalProperties\": false}},"
"  \"interface\": {\"anyOf\": [{\"type\": \"null\"}, {\"type\": \"object\","
"   \"description\": \"The domain's interface document, when it changed.\","
"   \"properties\": {"
"    \"domain\": {\"type\": \"string\"},"
"    \"summary\": {\"type\": \"string\"},"
"    \"provides\": {\"type\": \"array\", \"items\": {}},"
"    \"consumes\": {\"type\": \"array\", \"items\": {}}},"
"   \"required\": [\"domain\", \"summary\", \"provides\", \"consumes\"],"
"   \"additionalProperties\": false}]},"
"  \"checks\": {\"type\": [\"array\", \"null\"],"
"   \"description\": \"Proposed check commands (build, lint, test).\","
"   \"items\": {\"type\": \"string\"}}},"
" \"required\": [\"summary\", \"files\", \"interface\", \"checks\"],"
" \"additionalProperties\": false}";

static const char entry_schema_text[] =
"{\"type\": \"object\","
" \"properties\": {"
"  \"kind\": {\"type\": \"string\", \"enum\": []},"
"  \"name\": {\"type\": \"string\"},"
"  \"from\": {\"type\": \"string\","
"   \"description\": \"The domain expected to provide it.\"},"
"  \"signature\": {\"type\": [\"string\", \"null\"]},"
"  \"schema\": {\"description\": \"Any JSON, e.g. a JSON Schema.\"},"
"  \"doc\": {\"type\": [\"string\", \"null\"]}},"
" \"required\": [\"kind\", \"name\", \"from\", \"signature\", \"schema\","
"  \"doc\"],"
" \"additionalProperties\": false}";

static const char verdict_schema_text[] =
"{\"type\": \"object\","
" \"properties\": {"
"  \"complete\": {\"type\": \"boolean\","
"   \"description\": \"true when the work meets the task.\"},"
"  \"feedback\": {\"type\": [\"string\", \"null\"],"
"   \"description\": \"What is missing or wrong, when not complete.\"}},"
" \"required\": [\"complete\", \"feedback\"],"
" \"additionalProperties\": false}";

/* An entry schema; provides entries have no "from", and only consumes
 * entries name a contract test. */
static json_t *
entry_schema(bool consumes)
{
	json_t *s = json_loads(entry_schema_text, 0, NULL), *en;

	en = json_object_get(json_object_get(json_object_get(s, "properties"),
	    "kind"), "enum");
	for (size_t i = 0; iface_kinds[i] != NULL; i++)
		json_array_append_new(en, json_string(iface_kinds[i]));
	if (!consumes) {
		json_object_del(json_object_get(s, "properties"), "from");
		json_array_remove(json_object_get(s, "required"), 2);
		return s;
	}
	json_object_set_new(json_object_get(s, "properties"), "test",
	    json_pack("{s:[s,s]}", "type", "string", "null"));
	json_array_append_new(json_object_get(s, "required"),
	    json_string("test"));
	return s;
}

json_t *
answer_schema(void)
{
	json_t *s = json_loads(answer_schema_text, 0, NULL), *iface;

	iface = json_array_get(json_object_get(json_object_get(
	    json_object_get(s, "properties"), "interface"), "anyOf"), 1);
	iface = json_object_get(iface, "properties");
	json_object_set_new(json_object_get(iface, "provides"), "items",
	    entry_schema(false));
	json_object_set_new(json_object_get(iface, "consumes"), "items",
	    entry_schema(true));
	return s;
}

json_t *
verdict_schema(void)
{
	return json_loads(verdict_schema_text, 0, NULL);
}
