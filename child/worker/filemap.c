/*
 * filemap.c — the prompts' picture of a domain's files: a map (each
 * file's size and its top-level definitions, found by cheap line rules),
 * and for JSON-answer mode the files' current content within a budget.
 *
 * The rules are deliberately shallow: a definition is a line at column 0
 * that starts the way definitions start in the file's language.  They
 * tell the model where things are; read_file tells it what they are.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "child/worker/path.h"
#include "child/worker/tools.h"
#include "child/worker/tree.h"
#include "common/util.h"

#define MAP_HEAD	(64 * 1024)	/* bytes of a file scanned for defs */
#define MAP_DEFS	6		/* names shown per file */
#define MAP_FIRST_LINE	80		/* bytes of a first line shown */
#define MAP_HEADING	60		/* bytes of a Markdown heading */
#define MAP_TAIL	40		/* room kept for "... and N more" */
#define CONTENT_MAX	(8 * 1024 * 1024)

/* ------------------------------------------------------------ rules */

/* A line that starts with prefix defines the name after it. */
struct def_rule {
	const char *prefix;
	const char *label;
};

enum def_style {
	DEF_PREFIX,		/* the rules' prefixes at column 0 */
	DEF_SQL,		/* the same, any case, indented or not */
	DEF_HEADING,		/* the prefix's text is the name */
};

struct lang {
	const char *exts;	/* " .py .pyi " */
	enum def_style style;
	bool c_functions;	/* also "name(" lines at column 0 */
	const struct def_rule *rules;
};

static const struct def_rule python_rules[] = {
	{ "def ", "def" }, { "async def ", "def" }, { "class ", "class" },
	{ NULL, NULL }
};
static const struct def_rule js_rules[] = {
	{ "function ", "function" }, { "async function ", "function" },
	{ "export function ", "function" },
	{ "export async function ", "function" },
	{ "export default function ", "function" },
	{ "class ", "class" }, { "export class ", "class" },
	{ "export default class ", "class" },
	{ "const ", "const" }, { "export const ", "const" },
	{ "interface ", "interface" }, { "export interface ", "interface" },
	{ "type ", "type" }, { "export type ", "type" },
	{ NULL, NULL }
};
static const struct def_rule go_rules[] = {
	{ "func ", "func" }, { "type ", "type" }, { NULL, NULL }
};
static const struct def_rule rust_rules[] = {
	{ "fn ", "fn" }, { "pub fn ", "fn" }, { "async fn ", "fn" },
	{ "pub async fn ", "fn" }, { "pub(crate) fn ", "fn" },
	{ "struct ", "struct" }, { "pub struct ", "struct" },
	{ "enum ", "enum" }, { "pub enum ", "enum" },
	{ "trait ", "trait" }, { "pub trait ", "trait" },
	{ "mod ", "mod" }, { "pub mod ", "mod" }, { "impl ", "impl" },
	{ NULL, NULL }
};
static const struct def_rule c_rules[] = {
	{ "struct ", "struct" }, { "union ", "union" }, { "enum ", "enum" },
	{ "typedef struct ", "struct" }, { "class ", "class" },
	{ NULL, NULL }
};
static const struct def_rule sql_rules[] = {
	{ "create table ", "table" }, { "create view ", "view" },
	{ "create or replace view ", "view" },
	{ "create index ", "index" }, { "create unique index ", "index" },
	{ "create trigger ", "trigger" }, { "create function ", "function" },
	{ "create or replace function ", "function" },
	{ "create type ", "type" }, { "create sequence ", "sequence" },
	{ NULL, NULL }
};
static const struct def_rule md_rules[] = {
	{ "# ", "#" }, { "## ", "##" }, { NULL, NULL }
};

static const struct lang langs[] = {
	{ " .py .pyi ", DEF_PREFIX, false, python_rules },
	{ " .js .mjs .cjs .jsx .ts .tsx ", DEF_PREFIX, false, js_rules },
	{ " .go ", DEF_PREFIX, false, go_rules },
	{ " .rs ", DEF_PREFIX, false, rust_rules },
	{ " .c .h .cc .cpp .hpp .cxx ", DEF_PREFIX, true, c_rules },
	{ " .sql ", DEF_SQL, false, sql_rules },
	{ " .md .markdown ", DEF_HEADING, false, md_rules },
};

static const struct lang *
lang_of(const char *path)
{
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	char key[24];

	if (dot == NULL || (slash != NULL && dot < slash) ||
	    strlen(dot) > sizeof(key) - 3)
		return NULL;
	snprintf(key, sizeof(key), " %s ", dot);
	for (size_t i = 0; i < sizeof(langs) / sizeof(langs[0]); i++)
		if (strcasestr(langs[i].exts, key) != NULL)
			return &langs[i];
	return NULL;
}

/* ------------------------------------------------------------ defs */

struct defs {
	char *v[MAP_DEFS];
	size_t n;
	size_t more;		/* found past MAP_DEFS */
};

static void
defs_add(struct defs *d, const char *label, const char *name, size_t len)
{
	char *s;

	if (len == 0)
		return;
	s = label != NULL ? xasprintf("%s %.*s", label, (int)len, name) :
	    xasprintf("%.*s()", (int)len, name);
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i], s) == 0) {
			free(s);
			return;
		}
	if (d->n < MAP_DEFS)
		d->v[d->n++] = s;
	else {
		d->more++;
		free(s);
	}
}

static void
defs_free(struct defs *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i]);
}

static bool
name_char(int c)
{
	return isalnum(c) || c == '_' || c == '$' || c == '.';
}

/* The name after a prefix: Go's receiver "(r *T) " and SQL's
 * "IF NOT EXISTS" and quotes skipped. */
static size_t
name_at(const char *p, const char *eol, const char **name)
{
	const char *e;

	if (p < eol && *p == '(') {
		while (p < eol && *p != ')')
			p++;
		while (p < eol && (*p == ')' || *p == ' '))
			p++;
	}
	if ((size_t)(eol - p) > 14 && strncasecmp(p, "if not exists ", 14) == 0)
		p += 14;
	while (p < eol && strchr("\"`[", *p) != NULL)
		p++;
	for (e = p; e < eol && name_char((unsigned char)*e); e++)
		;
	*name = p;
	return (size_t)(e - p);
}

/* A C function line at column 0: "name(" or "type name(" that is not a
 * statement; the name is the word before the first '('. */
static void
c_function(struct defs *d, const char *line, const char *eol)
{
	static const char *const not_defs[] = { "if", "else", "for", "while",
	    "do", "switch", "return", "case", "default", "typedef", "#",
	    NULL };
	const char *paren = memchr(line, '(', (size_t)(eol - line)), *s;

	if (paren == NULL || !(isalpha((unsigned char)*line) || *line == '_'))
		return;
	for (size_t i = 0; not_defs[i] != NULL; i++) {
		size_t n = strlen(not_defs[i]);

		if ((size_t)(eol - line) >= n &&
		    strncmp(line, not_defs[i], n) == 0 &&
		    !name_char((unsigned char)line[n]))
			return;
	}
	for (s = paren; s > line && name_char((unsigned char)s[-1]); s--)
		;
	defs_add(d, NULL, s, (size_t)(paren - s));
}

static void
line_defs(struct defs *d, const struct lang *l, const char *line,
    const char *eol)
{
	const char *p = line, *name;
	size_t n, len;

	if (l->style == DEF_SQL)
		while (p < eol && (*p == ' ' || *p == '\t'))
			p++;
	for (const struct def_rule *r = l->rules; r->prefix != NULL; r++) {
		n = strlen(r->prefix);
		if ((size_t)(eol - p) < n)
			continue;
		if ((l->style == DEF_SQL ? strncasecmp(p, r->prefix, n) :
		    strncmp(p, r->prefix, n)) != 0)
			continue;
		if (l->style == DEF_HEADING) {
			len = utf8_prefix(p + n, MAP_HEADING);
			len = len < (size_t)(eol - p - n) ? len :
			    (size_t)(eol - p - n);
			defs_add(d, r->label, p + n, len);
		} else {
			len = name_at(p + n, eol, &name);
			defs_add(d, r->label, name, len);
		}
		return;
	}
	if (l->c_functions)
		c_function(d, line, eol);
}

/* The first non-empty line, cut to MAP_FIRST_LINE bytes. */
static char *
first_line(const char *text, size_t len)
{
	const char *p = text, *eol, *stop = text + len;
	char *s, *cut;
	size_t n;

	for (; p < stop; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(stop - p))) == NULL)
			eol = stop;
		while (p < eol && isspace((unsigned char)*p))
			p++;
		if (p == eol)
			continue;
		while (eol > p && isspace((unsigned char)eol[-1]))
			eol--;
		s = xstrndup(p, (size_t)(eol - p));
		if (s[n = utf8_prefix(s, MAP_FIRST_LINE)] != '\0') {
			cut = xasprintf("%.*s...", (int)n, s);
			free(s);
			s = cut;
		}
		return s;
	}
	return xstrdup("(blank)");
}

/* What one file holds, for the map. */
static char *
describe(int dirfd, const struct tree_file *f)
{
	const struct lang *l = lang_of(f->path);
	const char *p, *eol, *stop, *why;
	struct defs d = { .n = 0 };
	struct tbuf out = { 0 };
	char *text, *s;
	size_t len;

	if (f->size == 0)
		return xstrdup("empty");
	if (tree_read_head(dirfd, f->path, MAP_HEAD, &text, &len, &why) != 0)
		return xstrdup(why);
	if (tree_is_binary(text, len)) {
		free(text);
		return xstrdup("binary");
	}
	utf8_scrub(text, len);
	for (p = text, stop = text + len; l != NULL && p < stop; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(stop - p))) == NULL)
			eol = stop;
		line_defs(&d, l, p, eol);
	}
	if (d.n == 0) {
		s = first_line(text, len);
		free(text);
		return s;
	}
	free(text);
	for (size_t i = 0; i < d.n; i++)
		tbuf_add(&out, "%s%s", i ? ", " : "", d.v[i]);
	if (d.more > 0)
		tbuf_add(&out, ", ... +%zu more", d.more);
	defs_free(&d);
	return tbuf_take(&out);
}

/* ------------------------------------------------------------ the map */

char *
tools_file_map(int dirfd, size_t max)
{
	struct tbuf out = { 0 };
	struct tree t;
	const char *why;
	char *desc, *line;
	size_t i, room;

	if (tree_walk(dirfd, NULL, &t, &why) != 0 || t.n == 0) {
		tree_free(&t);
		return xstrdup("(no files yet)\n");
	}
	for (i = 0; i < t.n; i++) {
		desc = describe(dirfd, &t.v[i]);
		line = xasprintf("%s (%lld bytes): %s\n", t.v[i].path,
		    (long long)t.v[i].size, desc);
		free(desc);
		/* The last line needs no room for the tail. */
		room = i + 1 == t.n && !t.truncated ? 0 : MAP_TAIL;
		if (out.len + strlen(line) + room > max) {
			free(line);
			break;
		}
		tbuf_addn(&out, line, strlen(line));
		free(line);
	}
	if (i < t.n || t.truncated)
		tbuf_add(&out, "... and %zu more files%s\n", t.n - i,
		    t.truncated ? " (and more not counted)" : "");
	tree_free(&t);
	return tbuf_take(&out);
}

/* ------------------------------------------------------------ contents */

/* A fence longer than any run of backticks in the text. */
static size_t
fence_len(const char *text, size_t len)
{
	size_t run = 0, longest = 0;

	for (size_t i = 0; i < len; i++) {
		run = text[i] == '`' ? run + 1 : 0;
		if (run > longest)
			longest = run;
	}
	return longest < 3 ? 3 : longest + 1;
}

/* The file as a fenced block headed by its path, or NULL (binary,
 * unreadable). */
static char *
block(int dirfd, const char *path, size_t room)
{
	struct tbuf out = { 0 };
	const char *why;
	char *text, fence[64];
	size_t len, fl;

	if (tree_read(dirfd, path, room < CONTENT_MAX ? room : CONTENT_MAX,
	    &text, &len, &why) != 0)
		return NULL;
	if (tree_is_binary(text, len)) {
		free(text);
		return NULL;
	}
	utf8_scrub(text, len);
	fl = fence_len(text, len);
	if (fl >= sizeof(fence)) {
		free(text);
		return NULL;
	}
	memset(fence, '`', fl);
	fence[fl] = '\0';
	tbuf_add(&out, "### %s\n%s\n", path, fence);
	tbuf_addn(&out, text, len);
	tbuf_add(&out, "%s%s\n", len > 0 && text[len - 1] != '\n' ? "\n" : "",
	    fence);
	free(text);
	return tbuf_take(&out);
}

/* The paths of `first` (an array of paths, or an object whose keys are
 * paths) that are files of the tree, in order, then the others. */
static json_t *
ordered(const json_t *first, const struct tree *t)
{
	json_t *order = json_array(), *seen = json_object(), *v;
	const char *key, *why, *p;
	char norm[PATH_MAX];
	size_t i;

	json_array_foreach(first, i, v)
		if ((p = json_string_value(v)) != NULL &&
		    path_normalise(p, PATH_DENY_GIT, norm, sizeof(norm),
		    &why) == 0)
			json_object_set_new(seen, norm, json_false());
	json_object_foreach((json_t *)first, key, v)
		if (path_normalise(key, PATH_DENY_GIT, norm, sizeof(norm),
		    &why) == 0)
			json_object_set_new(seen, norm, json_false());
	/* seen keeps insertion order: `first` in order.  Mark the files. */
	for (i = 0; i < t->n; i++)
		if (json_object_get(seen, t->v[i].path) != NULL)
			json_object_set_new(seen, t->v[i].path, json_true());
	json_object_foreach(seen, key, v)
		if (json_is_true(v))
			json_array_append_new(order, json_string(key));
	for (i = 0; i < t->n; i++)
		if (json_object_get(seen, t->v[i].path) == NULL)
			json_array_append_new(order,
			    json_string(t->v[i].path));
	json_decref(seen);
	return order;
}

char *
tools_file_contents(int dirfd, const json_t *first, size_t budget,
    json_t **left_out)
{
	struct tbuf out = { 0 };
	json_t *order, *v, *left = json_array();
	const char *why;
	struct tree t;
	char *b;
	size_t i;

	if (tree_walk(dirfd, NULL, &t, &why) != 0 || t.n == 0) {
		tree_free(&t);
		json_decref(left);
		if (left_out != NULL)
			*left_out = json_array();
		return xstrdup("(no files yet)\n");
	}
	order = ordered(first, &t);
	json_array_foreach(order, i, v) {
		b = block(dirfd, json_string_value(v), budget - out.len);
		if (b != NULL && out.len + strlen(b) <= budget)
			tbuf_addn(&out, b, strlen(b));
		else
			json_array_append(left, v);
		free(b);
	}
	json_decref(order);
	tree_free(&t);
	if (left_out != NULL)
		*left_out = left;
	else
		json_decref(left);
	return tbuf_take(&out);
}
