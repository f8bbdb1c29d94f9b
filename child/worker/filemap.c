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

/* Definitions that matter less (private helpers, constants) are shown
 * only when there is room after the others. */
enum def_rank { RANK_MAIN, RANK_MINOR };

/* A line that starts with prefix defines the name after it. */
struct def_rule {
	const char *prefix;
	const char *label;
	enum def_rank rank;
};

enum def_style {
	DEF_PREFIX,		/* the rules' prefixes at column 0 */
	DEF_SQL,		/* the same, any case, indented or not */
	DEF_HEADING,		/* the prefix's text is the name */
	DEF_C,			/* prefixes, and "name(" lines at column 0 */
};

struct lang {
	const char *exts;	/* " .py .pyi " */
	enum def_style style;
	const struct def_rule *rules;
};

static const struct def_rule python_rules[] = {
	{ "def ", "def", RANK_MAIN },
	{ "async def ", "def", RANK_MAIN }, { "class ", "class", RANK_MAIN },
	{ NULL, NULL, 0 }
};
static const struct def_rule js_rules[] = {
	{ "function ", "function", RANK_MAIN },
	{ "async function ", "function", RANK_MAIN },
	{ "export function ", "function", RANK_MAIN },
	{ "export async function ", "function", RANK_MAIN },
	{ "export default function ", "function", RANK_MAIN },
	{ "class ", "class", RANK_MAIN },
	{ "export class ", "class", RANK_MAIN },
	{ "export default class ", "class", RANK_MAIN },
	{ "const ", "const", RANK_MINOR },
	{ "export const ", "const", RANK_MAIN },
	{ "interface ", "interface", RANK_MAIN },
	{ "export interface ", "interface", RANK_MAIN },
	{ "type ", "type", RANK_MAIN }, { "export type ", "type", RANK_MAIN },
	{ NULL, NULL, 0 }
};
static const struct def_rule go_rules[] = {
	{ "func ", "func", RANK_MAIN }, { "type ", "type", RANK_MAIN },
	{ NULL, NULL, 0 }
};
static const struct def_rule rust_rules[] = {
	{ "fn ", "fn", RANK_MINOR }, { "pub fn ", "fn", RANK_MAIN },
	{ "async fn ", "fn", RANK_MINOR }, { "pub async fn ", "fn", RANK_MAIN },
	{ "pub(crate) fn ", "fn", RANK_MINOR },
	{ "struct ", "struct", RANK_MINOR }, { "pub struct ", "struct",
	    RANK_MAIN },
	{ "enum ", "enum", RANK_MINOR }, { "pub enum ", "enum", RANK_MAIN },
	{ "trait ", "trait", RANK_MINOR }, { "pub trait ", "trait",
	    RANK_MAIN },
	{ "mod ", "mod", RANK_MINOR }, { "pub mod ", "mod", RANK_MAIN },
	{ "impl ", "impl", RANK_MINOR },
	{ NULL, NULL, 0 }
};
/* In C, a type is defined where a brace follows its name. */
static const struct def_rule c_rules[] = {
	{ "struct ", "struct", RANK_MAIN }, { "union ", "union", RANK_MAIN },
	{ "enum ", "enum", RANK_MAIN },
	{ "typedef struct ", "struct", RANK_MAIN },
	{ "class ", "class", RANK_MAIN },
	{ NULL, NULL, 0 }
};
static const struct def_rule sql_rules[] = {
	{ "create table ", "table", RANK_MAIN },
	{ "create view ", "view", RANK_MAIN },
	{ "create or replace view ", "view", RANK_MAIN },
	{ "create index ", "index", RANK_MINOR },
	{ "create unique index ", "index", RANK_MINOR },
	{ "create trigger ", "trigger", RANK_MINOR },
	{ "create function ", "function", RANK_MAIN },
	{ "create or replace function ", "function", RANK_MAIN },
	{ "create type ", "type", RANK_MAIN },
	{ "create sequence ", "sequence", RANK_MINOR },
	{ NULL, NULL, 0 }
};
static const struct def_rule md_rules[] = {
	{ "# ", "#", RANK_MAIN }, { "## ", "##", RANK_MINOR },
	{ NULL, NULL, 0 }
};

static const struct lang langs[] = {
	{ " .py .pyi ", DEF_PREFIX, python_rules },
	{ " .js .mjs .cjs .jsx .ts .tsx ", DEF_PREFIX, js_rules },
	{ " .go ", DEF_PREFIX, go_rules },
	{ " .rs ", DEF_PREFIX, rust_rules },
	{ " .c .h .cc .cpp .hpp .cxx ", DEF_C, c_rules },
	{ " .sql ", DEF_SQL, sql_rules },
	{ " .md .markdown ", DEF_HEADING, md_rules },
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

/* A C or C++ header: everything in it is interface. */
static bool
is_header(const char *path)
{
	const char *dot = strrchr(path, '.');

	return dot != NULL && (strcasecmp(dot, ".h") == 0 ||
	    strcasecmp(dot, ".hpp") == 0);
}

/* ------------------------------------------------------------ defs */

#define DEFS_SCAN	64	/* definitions collected per file */

struct def {
	char *text;
	enum def_rank rank;
};

/* A file's definitions as they are found. */
struct defs {
	struct def v[DEFS_SCAN];
	size_t n;
	size_t more;		/* found past DEFS_SCAN */
};

static void
defs_add(struct defs *d, const char *label, const char *name, size_t len,
    enum def_rank rank)
{
	char *s;

	if (len == 0)
		return;
	s = label != NULL ? xasprintf("%s %.*s", label, (int)len, name) :
	    xasprintf("%.*s()", (int)len, name);
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i].text, s) == 0) {
			free(s);
			return;
		}
	if (d->n == DEFS_SCAN) {
		d->more++;
		free(s);
		return;
	}
	/* "_name" is private by the convention of most languages. */
	d->v[d->n++] = (struct def){ s, *name == '_' ? RANK_MINOR : rank };
}

/* The main definitions in order, then minor ones, MAP_DEFS at most. */
static char *
defs_text(struct defs *d)
{
	struct tbuf out = { 0 };
	size_t shown = 0;

	for (int rank = RANK_MAIN; rank <= RANK_MINOR; rank++)
		for (size_t i = 0; i < d->n && shown < MAP_DEFS; i++)
			if (d->v[i].rank == (enum def_rank)rank)
				tbuf_add(&out, "%s%s", shown++ ? ", " : "",
				    d->v[i].text);
	if (d->n + d->more > shown)
		tbuf_add(&out, ", ... +%zu more", d->n + d->more - shown);
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].text);
	return tbuf_take(&out);
}

static bool
name_char(int c)
{
	return isalnum(c) || c == '_' || c == '$' || c == '.';
}

/* The name after a prefix: Go's receiver "(r *T) " and SQL's
 * "IF NOT EXISTS" and quotes skipped.  *end: just after it. */
static size_t
name_at(const char *p, const char *eol, const char **name,
    const char **end)
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
	*end = e;
	return (size_t)(e - p);
}

/* Is the rest of a C line after a type's name its body's brace (or
 * nothing, the brace on the next line)? */
static bool
c_body_follows(const char *p, const char *eol)
{
	while (p < eol && isspace((unsigned char)*p))
		p++;
	return p == eol || *p == '{';
}

static bool
starts_word(const char *line, const char *eol, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(eol - line) >= n && strncmp(line, word, n) == 0 &&
	    ((size_t)(eol - line) == n || !name_char((unsigned char)line[n]));
}

/*
 * A C function line at column 0: "name(" or "type name(" that is not a
 * statement; the name is the word before the first '('.  static (on this
 * line or, in BSD style, the one before) makes it minor.
 */
static void
c_function(struct defs *d, const char *prev, const char *line,
    const char *eol)
{
	static const char *const not_defs[] = { "if", "else", "for", "while",
	    "do", "switch", "return", "case", "default", "typedef", NULL };
	const char *paren = memchr(line, '(', (size_t)(eol - line)), *s;
	enum def_rank rank = RANK_MAIN;

	if (paren == NULL || !(isalpha((unsigned char)*line) || *line == '_'))
		return;
	for (size_t i = 0; not_defs[i] != NULL; i++)
		if (starts_word(line, eol, not_defs[i]))
			return;
	for (s = paren; s > line && name_char((unsigned char)s[-1]); s--)
		;
	if (strncmp(s, "__", 2) == 0)	/* __attribute__ and the like */
		return;
	if (starts_word(line, eol, "static") || (prev != NULL &&
	    starts_word(prev, line, "static")))
		rank = RANK_MINOR;
	defs_add(d, NULL, s, (size_t)(paren - s), rank);
}

static void
line_defs(struct defs *d, const struct lang *l, const char *prev,
    const char *line, const char *eol)
{
	const char *p = line, *name, *end;
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
			defs_add(d, r->label, p + n, len, r->rank);
			return;
		}
		len = name_at(p + n, eol, &name, &end);
		if (l->style != DEF_C || c_body_follows(end, eol))
			defs_add(d, r->label, name, len, r->rank);
		return;
	}
	if (l->style == DEF_C)
		c_function(d, prev, line, eol);
}

/* The definitions of a file's text, or NULL when none is found. */
static char *
find_defs(const char *path, const char *text, size_t len)
{
	const struct lang *l = lang_of(path);
	const char *p, *eol, *prev = NULL, *stop = text + len;
	struct defs d = { .n = 0 };
	bool fenced = false;

	if (l == NULL)
		return NULL;
	for (p = text; p < stop; prev = p, p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(stop - p))) == NULL)
			eol = stop;
		/* A Markdown heading inside a code block is not one. */
		if (l->style == DEF_HEADING && strncmp(p, "```", 3) == 0)
			fenced = !fenced;
		if (!fenced)
			line_defs(&d, l, prev, p, eol);
	}
	if (d.n == 0)
		return NULL;
	/* In a .c file, types are the file's own business. */
	if (l->style == DEF_C && !is_header(path))
		for (size_t i = 0; i < d.n; i++)
			if (strchr(d.v[i].text, '(') == NULL)
				d.v[i].rank = RANK_MINOR;
	return defs_text(&d);
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
	const char *why;
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
	if ((s = find_defs(f->path, text, len)) == NULL)
		s = first_line(text, len);
	free(text);
	return s;
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
    json_t **left_out, json_t *shown)
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
		if (b != NULL && out.len + strlen(b) <= budget) {
			tbuf_addn(&out, b, strlen(b));
			if (shown != NULL)
				json_object_set_new(shown,
				    json_string_value(v), json_true());
		} else
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
