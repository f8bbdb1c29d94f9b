/*
 * iface.c — interface documents: validation, the canonical form,
 * signatures compared without their formatting, diffs between versions,
 * the unresolved set of a task and the consumers' contract tests as
 * integration checks.
 *
 * docs/interface.md is the definition; every rule and limit here is
 * written down there, keep the two together.  Validation is strict (an
 * unknown field is refused) so that a model's typo surfaces at once
 * instead of as a silent mismatch between domains.  The other functions
 * are total: they accept any JSON, skip what cannot be an entry, and are
 * deterministic, because the master runs them on stored documents and
 * compares their output.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/gitname.h"
#include "common/iface.h"
#include "common/shape.h"
#include "common/util.h"

const char *const iface_kinds[] = {
	"http", "function", "table", "event", "cli", "file", "type",
	"config", "queue", "other", NULL
};

#define MAX_ENTRIES	500		/* each of provides, consumes */
#define MAX_DOC		(256 * 1024)	/* canonical, compact */
#define MAX_NAME	200		/* characters */
#define MAX_TEXT	4096		/* summary, signature, doc: bytes */
#define MAX_SCHEMA	(64 * 1024)	/* compact serialisation */
#define MAX_TEST	512		/* a contract test's path: bytes */

#define DUMP_FLAGS	(JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)

/* ------------------------------------------------------------ helpers */

/* Bytes of the compact serialisation; 0 when it cannot be encoded. */
static size_t
dump_size(const json_t *v)
{
	return json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Compare two JSON strings byte-wise; a missing one sorts first. */
static int
jstr_cmp(const json_t *a, const json_t *b)
{
	size_t la, lb;
	int c;

	if (!json_is_string(a) || !json_is_string(b))
		return (int)json_is_string(a) - (int)json_is_string(b);
	la = json_string_length(a);
	lb = json_string_length(b);
	if ((c = memcmp(json_string_value(a), json_string_value(b),
	    la < lb ? la : lb)) != 0)
		return c;
	return la < lb ? -1 : la > lb;
}

/* The last resort of the sort orders: the canonical text, so that even
 * entries equal in their keys land in one order whatever the input. */
static int
dump_cmp(const json_t *a, const json_t *b)
{
	char *x = json_dumps(a, DUMP_FLAGS), *y = json_dumps(b, DUMP_FLAGS);
	int c = strcmp(x, y);

	free(x);
	free(y);
	return c;
}

static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\f' || c == '\v';
}

/* ------------------------------------------------------------ validation */

/* The shape of a document; the rules below it are what a table cannot
 * say.  Members that are null are absent: structured output modes make
 * every field required and send null for "none". */
#define TEXT(n)	{ .name = (n), .types = FT_STRING, .max_len = MAX_TEXT }
#define KIND	{ .name = "kind", .types = FT_STRING, .required = true, \
		  .values = iface_kinds, .noun = "a kind" }
#define NAME	{ .name = "name", .types = FT_STRING, .required = true, \
		  .min_len = 1 }
#define SCHEMA	{ .name = "schema", .types = FT_ANY }
#define END	{ .name = NULL }

static const struct shape_field provide_fields[] = {
	KIND, NAME,
	{ .name = "from", .absent_why = "only consumes entries name a "
	    "provider" },
	TEXT("signature"), SCHEMA, TEXT("doc"), END
};
static const struct shape_field consume_fields[] = {
	KIND, NAME,
	{ .name = "from", .types = FT_STRING, .required = true,
	    .when_missing = "(the domain expected to provide it)" },
	TEXT("signature"), SCHEMA, TEXT("doc"),
	{ .name = "test", .types = FT_STRING, .min_len = 1,
	    .max_len = MAX_TEST },
	END
};
static const struct shape_field provide_entry = {
	.types = FT_OBJECT, .flags = SHAPE_CLOSED | SHAPE_NULL_ABSENT,
	.members = provide_fields
};
static const struct shape_field consume_entry = {
	.types = FT_OBJECT, .flags = SHAPE_CLOSED | SHAPE_NULL_ABSENT,
	.members = consume_fields
};
static const struct shape_field doc_fields[] = {
	{ .name = "domain", .types = FT_STRING, .required = true },
	{ .name = "version", .types = FT_ANY, .flags = SHAPE_UNLISTED },
	TEXT("summary"),
	{ .name = "provides", .types = FT_ARRAY, .max_items = MAX_ENTRIES,
	    .items = &provide_entry },
	{ .name = "consumes", .types = FT_ARRAY, .max_items = MAX_ENTRIES,
	    .items = &consume_entry },
	END
};
static const struct shape_field doc_shape = {
	.types = FT_OBJECT, .flags = SHAPE_CLOSED | SHAPE_NULL_ABSENT,
	.members = doc_fields
};

#undef TEXT
#undef KIND
#undef NAME
#undef SCHEMA
#undef END

#define DOMAIN_RULE	"(1-32 characters a-z, 0-9, '-', '_', starting with " \
			"a letter)"

struct vctx {
	const char *publisher;	/* who publishes the document */
	char *err;
	size_t errlen;
};

/* Names are identities: no control characters, and no space at either
 * end, where it would make two spellings of one name. */
static int
check_name(struct vctx *v, const json_t *name, const char *path)
{
	const unsigned char *s = (const unsigned char *)json_string_value(name);
	size_t len = json_string_length(name), chars = 0;

	for (size_t i = 0; i < len; i++) {
		/* C0, DEL, and C1 (U+0080-U+009F is C2 80-C2 9F). */
		if (s[i] < 0x20 || s[i] == 0x7f || (s[i] == 0xc2 &&
		    i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f))
			return shape_error(v->err, v->errlen, "%s.name: "
			    "contains a control character", path);
		if ((s[i] & 0xc0) != 0x80)
			chars++;
	}
	if (chars > MAX_NAME)
		return shape_error(v->err, v->errlen, "%s.name: %zu "
		    "characters, at most %d", path, chars, MAX_NAME);
	if (s[0] == ' ' || s[len - 1] == ' ')
		return shape_error(v->err, v->errlen, "%s.name: leading or "
		    "trailing space", path);
	return 0;
}

static int
check_from(struct vctx *v, const json_t *from, const char *path)
{
	char q[SHAPE_QUOTE_BUF];
	const char *s = json_string_value(from);

	if (strlen(s) != json_string_length(from) || !conf_domain_name_ok(s))
		return shape_error(v->err, v->errlen, "%s.from: %s is not a "
		    "domain name " DOMAIN_RULE, path, shape_quote(q, s,
		    json_string_length(from)));
	if (v->publisher != NULL && strcmp(s, v->publisher) == 0)
		return shape_error(v->err, v->errlen, "%s.from: %s is the "
		    "publishing domain itself (list only what other domains "
		    "provide)", path, shape_quote(q, s, strlen(s)));
	return 0;
}

/*
 * Why a contract test's path is refused, or NULL: the lexical rules of a
 * file in a domain's answer (child/worker/path.c), relative to the
 * consumer's own folder.
 */
static const char *
test_path_problem(const char *p, size_t len)
{
	const char *c = p, *end = p + len, *slash;

	if (len == 0)
		return "empty path";
	if (strlen(p) != len)
		return "control character in path";
	if (p[0] == '/')
		return "absolute path";
	for (const unsigned char *u = (const unsigned char *)p; *u; u++) {
		if (*u < 0x20 || *u == 0x7f)
			return "control character in path";
		if (*u == '\\')
			return "backslash in path";
	}
	for (; c < end; c = slash + 1) {
		if ((slash = memchr(c, '/', (size_t)(end - c))) == NULL)
			slash = end;
		if (slash - c == 2 && c[0] == '.' && c[1] == '.')
			return "path contains \"..\"";
		if (gitname_is_dotgit(c, (size_t)(slash - c)))
			return "path leads into .git";
	}
	return NULL;
}

static int
check_test(struct vctx *v, const json_t *test, const char *path)
{
	const char *why;

	if (test == NULL || json_is_null(test))
		return 0;
	if ((why = test_path_problem(json_string_value(test),
	    json_string_length(test))) != NULL)
		return shape_error(v->err, v->errlen, "%s.test: %s", path,
		    why);
	return 0;
}

/* An entry already shaped: its name, provider, test and schema size. */
static int
check_entry(struct vctx *v, const json_t *e, const char *path,
    bool consumes)
{
	const json_t *schema;
	size_t n;

	if (check_name(v, json_object_get(e, "name"), path) == -1 ||
	    (consumes && (check_from(v, json_object_get(e, "from"),
	    path) == -1 || check_test(v, json_object_get(e, "test"),
	    path) == -1)))
		return -1;
	if ((schema = shape_member(e, "schema")) != NULL &&
	    (n = dump_size(schema)) > MAX_SCHEMA)
		return shape_error(v->err, v->errlen, "%s.schema: %zu bytes "
		    "when serialised, at most %d", path, n, MAX_SCHEMA);
	return 0;
}

static bool
same_identity(const json_t *a, const json_t *b)
{
	return jstr_cmp(json_object_get(a, "kind"),
	    json_object_get(b, "kind")) == 0 &&
	    jstr_cmp(json_object_get(a, "name"),
	    json_object_get(b, "name")) == 0;
}

static int
check_side(struct vctx *v, const json_t *doc, const char *side)
{
	const json_t *arr = shape_member(doc, side), *e;
	char path[48], q[SHAPE_QUOTE_BUF];
	size_t i, j, n = json_array_size(arr);

	json_array_foreach(arr, i, e) {
		snprintf(path, sizeof(path), "%s[%zu]", side, i);
		if (check_entry(v, e, path, side[0] == 'c') == -1)
			return -1;
	}
	/* n <= MAX_ENTRIES, so the quadratic walk stays small. */
	for (j = 1; j < n; j++) {
		e = json_array_get(arr, j);
		for (i = 0; i < j; i++) {
			if (!same_identity(json_array_get(arr, i), e))
				continue;
			return shape_error(v->err, v->errlen, "%s[%zu]: "
			    "duplicate of %s[%zu] (%s %s)", side, j, side, i,
			    jget_str(e, "kind"), shape_quote(q,
			    jget_str(e, "name"), json_string_length(
			    json_object_get(e, "name"))));
		}
	}
	return 0;
}

static int
check_domain(struct vctx *v, const json_t *doc)
{
	const json_t *d = json_object_get(doc, "domain");
	char q[SHAPE_QUOTE_BUF], q2[SHAPE_QUOTE_BUF];
	const char *s = json_string_value(d);

	if (v->publisher != NULL) {
		if (strcmp(s, v->publisher) == 0 &&
		    strlen(s) == json_string_length(d))
			return 0;
		return shape_error(v->err, v->errlen, "domain: %s, but the "
		    "document is published by %s", shape_quote(q, s,
		    json_string_length(d)), shape_quote(q2, v->publisher,
		    strlen(v->publisher)));
	}
	if (strlen(s) != json_string_length(d) || !conf_domain_name_ok(s))
		return shape_error(v->err, v->errlen, "domain: %s is not a "
		    "domain name " DOMAIN_RULE, shape_quote(q, s,
		    json_string_length(d)));
	v->publisher = s;
	return 0;
}

int
iface_validate(const json_t *doc, const char *domain, char *err,
    size_t errlen)
{
	struct vctx v = { domain, err, errlen };
	json_t *canon;
	size_t n;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (!json_is_object(doc))
		return shape_error(err, errlen, "interface: must be a JSON "
		    "object");
	if (shape_check(doc, &doc_shape, err, errlen) == -1 ||
	    check_domain(&v, doc) == -1 ||
	    check_side(&v, doc, "provides") == -1 ||
	    check_side(&v, doc, "consumes") == -1)
		return -1;
	/* The limit is on what the registry stores: the canonical form. */
	canon = iface_canonical(doc);
	n = dump_size(canon);
	json_decref(canon);
	if (n == 0 || n > MAX_DOC)
		return shape_error(err, errlen, "interface: %zu bytes when "
		    "serialised, at most %d", n, MAX_DOC);
	return 0;
}

/* ------------------------------------------------------------ canonical */

/* Letters, digits, '_' and every byte of a non-ASCII character: white
 * space between two of them separates words and is kept (as one space). */
static bool
is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

/*
 * A signature's white space: every run becomes one space and none is
 * left at either end; with `format`, a run goes too unless it stands
 * between two word characters, so that `f(a, b)` and `f(a,b)` give one
 * text.  Either way the output has no run to collapse, so a second pass
 * changes nothing.  NULL when nothing is left.
 */
static json_t *
norm_signature(const json_t *sig, bool format)
{
	const char *s = json_string_value(sig);
	size_t n = json_string_length(sig), o = 0;
	char *buf = xmalloc(n + 1);
	bool gap = false;
	json_t *out;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_space(c)) {
			gap = o > 0;
			continue;
		}
		if (gap && (!format || (is_word((unsigned char)buf[o - 1]) &&
		    is_word(c))))
			buf[o++] = ' ';
		gap = false;
		buf[o++] = (char)c;
	}
	out = o > 0 ? json_stringn_nocheck(buf, o) : NULL;
	free(buf);
	return out;
}

/* Do two signatures (strings, or NULL for none) state one contract? */
static bool
same_signature(const json_t *a, const json_t *b)
{
	json_t *x, *y;
	bool same;

	if (!json_is_string(a) || !json_is_string(b))
		return a == NULL && b == NULL;
	x = norm_signature(a, true);
	y = norm_signature(b, true);
	same = x == NULL ? y == NULL : y != NULL && json_equal(x, y);
	json_decref(x);
	json_decref(y);
	return same;
}

static void
set_copy(json_t *obj, const char *key, const json_t *val)
{
	json_object_set_new(obj, key, json_deep_copy(val));
}

/*
 * The canonical entry of e, or NULL when e cannot be one (not an object,
 * or kind and name not strings).  Fields of the wrong type are dropped,
 * as are nulls and empty signatures and docs: absent and empty say the
 * same.
 */
static json_t *
canon_entry(const json_t *e, bool consumes)
{
	const json_t *kind = json_object_get(e, "kind");
	const json_t *name = json_object_get(e, "name"), *v;
	json_t *c, *sig;

	if (!json_is_object(e) || !json_is_string(kind) ||
	    !json_is_string(name))
		return NULL;
	c = json_object();
	set_copy(c, "kind", kind);
	set_copy(c, "name", name);
	if (consumes && json_is_string(v = json_object_get(e, "from")))
		set_copy(c, "from", v);
	if (json_is_string(v = json_object_get(e, "signature")) &&
	    (sig = norm_signature(v, false)) != NULL)
		json_object_set_new(c, "signature", sig);
	if ((v = shape_member(e, "schema")) != NULL)
		set_copy(c, "schema", v);
	if (json_is_string(v = json_object_get(e, "doc")) &&
	    json_string_length(v) > 0)
		set_copy(c, "doc", v);
	if (consumes && json_is_string(v = json_object_get(e, "test")) &&
	    json_string_length(v) > 0)
		set_copy(c, "test", v);
	return c;
}

static int
entry_cmp(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a;
	const json_t *y = *(const json_t *const *)b;
	int c;

	if ((c = jstr_cmp(json_object_get(x, "kind"),
	    json_object_get(y, "kind"))) != 0)
		return c;
	if ((c = jstr_cmp(json_object_get(x, "name"),
	    json_object_get(y, "name"))) != 0)
		return c;
	return dump_cmp(x, y);
}

/* Sort the elements of arr in place with cmp. */
static void
sort_array(json_t *arr, int (*cmp)(const void *, const void *))
{
	size_t n = json_array_size(arr), i;
	json_t **v;

	if (n < 2)
		return;
	v = xcalloc(n, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(arr, i));
	qsort(v, n, sizeof(*v), cmp);
	json_array_clear(arr);
	for (i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
}

static json_t *
canon_side(const json_t *doc, const char *side)
{
	const json_t *arr = json_object_get(doc, side), *e;
	json_t *out = json_array(), *c;
	size_t i;

	json_array_foreach(arr, i, e) {
		if ((c = canon_entry(e, side[0] == 'c')) != NULL)
			json_array_append_new(out, c);
	}
	sort_array(out, entry_cmp);
	return out;
}

json_t *
iface_canonical(const json_t *doc)
{
	const json_t *d = json_object_get(doc, "domain");
	const json_t *s = json_object_get(doc, "summary");
	json_t *c;

	if (!json_is_object(doc))
		return NULL;
	c = json_object();
	if (json_is_string(d))
		set_copy(c, "domain", d);
	json_object_set_new(c, "summary", json_is_string(s) ?
	    json_deep_copy(s) : json_string(""));
	json_object_set_new(c, "provides", canon_side(doc, "provides"));
	json_object_set_new(c, "consumes", canon_side(doc, "consumes"));
	return c;
}

/* ------------------------------------------------------------ diff */

static bool
same_member(const json_t *a, const json_t *b, const char *key)
{
	const json_t *x = json_object_get(a, key), *y = json_object_get(b, key);

	return x == NULL ? y == NULL : y != NULL && json_equal(x, y);
}

/* Does the change touch the contract, rather than only the doc text or
 * the consumer's contract test? */
static bool
contract_changed(const json_t *a, const json_t *b)
{
	return !same_signature(json_object_get(a, "signature"),
	    json_object_get(b, "signature")) ||
	    !same_member(a, b, "schema") || !same_member(a, b, "from");
}

static void
add_changed(json_t *list, const json_t *o, const json_t *n)
{
	json_array_append_new(list, json_pack("{s:O, s:O, s:O, s:O, s:b}",
	    "kind", json_object_get(o, "kind"),
	    "name", json_object_get(o, "name"),
	    "old", o, "new", n, "contract", contract_changed(o, n)));
}

/* Walk two canonical (sorted) entry lists side by side. */
static json_t *
diff_side(const json_t *a, const json_t *b)
{
	json_t *out, *added, *removed, *changed;
	size_t i = 0, j = 0, na = json_array_size(a), nb = json_array_size(b);
	const json_t *x, *y;
	int c;

	out = json_pack("{s:[], s:[], s:[]}", "added", "removed", "changed");
	added = json_object_get(out, "added");
	removed = json_object_get(out, "removed");
	changed = json_object_get(out, "changed");
	while (i < na || j < nb) {
		x = json_array_get(a, i);
		y = json_array_get(b, j);
		if (i == na || j == nb)
			c = i == na ? 1 : -1;
		else if ((c = jstr_cmp(json_object_get(x, "kind"),
		    json_object_get(y, "kind"))) == 0)
			c = jstr_cmp(json_object_get(x, "name"),
			    json_object_get(y, "name"));
		if (c < 0) {
			json_array_append(removed, (json_t *)x);
			i++;
		} else if (c > 0) {
			json_array_append(added, (json_t *)y);
			j++;
		} else {
			if (!json_equal(x, y))
				add_changed(changed, x, y);
			i++;
			j++;
		}
	}
	return out;
}

json_t *
iface_diff(const json_t *old_doc, const json_t *new_doc)
{
	/* No document (NULL) diffs as one without entries. */
	json_t *a = iface_canonical(old_doc), *b = iface_canonical(new_doc);
	json_t *out;

	out = json_pack("{s:o, s:o}",
	    "provides", diff_side(json_object_get(a, "provides"),
	    json_object_get(b, "provides")),
	    "consumes", diff_side(json_object_get(a, "consumes"),
	    json_object_get(b, "consumes")));
	json_decref(a);
	json_decref(b);
	return out;
}

/* ------------------------------------------------------------ unresolved */

/* Canonical documents of one list, with their domains. */
struct doclist {
	json_t **doc;
	size_t n;
};

static void
doclist_free(struct doclist *l)
{
	for (size_t i = 0; i < l->n; i++)
		json_decref(l->doc[i]);
	free(l->doc);
	l->doc = NULL;
	l->n = 0;
}

/*
 * Canonicalise every document of arr.  An element may also be a registry
 * row ({"domain", "version", ..., "document": {...}}, the shape of
 * interface.peers): its "document" is used.  Non-objects are skipped.
 */
static void
doclist_load(struct doclist *l, const json_t *arr)
{
	const json_t *e, *inner;
	size_t i;

	l->doc = NULL;
	l->n = 0;
	if (json_array_size(arr) == 0)
		return;
	l->doc = xcalloc(json_array_size(arr), sizeof(*l->doc));
	json_array_foreach(arr, i, e) {
		if (json_is_object(inner = json_object_get(e, "document")))
			e = inner;
		if (json_is_object(e))
			l->doc[l->n++] = iface_canonical(e);
	}
}

/* The first document of l published by domain, or NULL. */
static const json_t *
doclist_find(const struct doclist *l, const json_t *domain)
{
	for (size_t i = 0; i < l->n; i++)
		if (jstr_cmp(json_object_get(l->doc[i], "domain"), domain) == 0)
			return l->doc[i];
	return NULL;
}

/* The entry (kind, name) in a canonical, sorted list, or NULL. */
static const json_t *
find_entry(const json_t *list, const json_t *kind, const json_t *name)
{
	size_t lo = 0, hi = json_array_size(list), mid;
	const json_t *e;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		e = json_array_get(list, mid);
		if ((c = jstr_cmp(json_object_get(e, "kind"), kind)) == 0)
			c = jstr_cmp(json_object_get(e, "name"), name);
		if (c == 0)
			return e;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static json_t *
new_item(const char *problem, const json_t *consumer, const json_t *want)
{
	return json_pack("{s:s, s:O, s:O, s:O, s:O}", "problem", problem,
	    "consumer", consumer, "provider", json_object_get(want, "from"),
	    "kind", json_object_get(want, "kind"),
	    "name", json_object_get(want, "name"));
}

/*
 * The parts of the contract the consumer states, beside what the
 * provider has for them (null when it has nothing); whether they
 * disagree.
 */
static bool
compare_contract(const json_t *want, const json_t *have, json_t *expected,
    json_t *provided)
{
	static const char *const keys[] = { "signature", "schema", NULL };
	const json_t *w, *h;
	bool differs = false;

	for (size_t k = 0; keys[k] != NULL; k++) {
		if ((w = json_object_get(want, keys[k])) == NULL)
			continue;
		h = json_object_get(have, keys[k]);
		if (h == NULL || (strcmp(keys[k], "signature") == 0 ?
		    !same_signature(w, h) : !json_equal(w, h)))
			differs = true;
		json_object_set(expected, keys[k], (json_t *)w);
		json_object_set_new(provided, keys[k], h == NULL ?
		    json_null() : json_deep_copy(h));
	}
	return differs;
}

static void
check_changed(json_t *out, const json_t *consumer, const json_t *want,
    const json_t *have)
{
	json_t *expected = json_object(), *provided = json_object(), *item;

	if (compare_contract(want, have, expected, provided)) {
		item = new_item("changed", consumer, want);
		json_object_set(item, "expected", expected);
		json_object_set(item, "provided", provided);
		json_array_append_new(out, item);
	}
	json_decref(expected);
	json_decref(provided);
}

/* One consumed entry of consumer against the provider it names. */
static void
resolve_one(json_t *out, const json_t *consumer, const json_t *want,
    const struct doclist *latest, const struct doclist *previous)
{
	const json_t *from = json_object_get(want, "from"), *prov, *have, *old;
	const json_t *kind = json_object_get(want, "kind");
	const json_t *name = json_object_get(want, "name");
	const char *problem;

	if (!json_is_string(from))
		return;
	if ((prov = doclist_find(latest, from)) == NULL)
		problem = "no_domain";
	else if ((have = find_entry(json_object_get(prov, "provides"), kind,
	    name)) != NULL) {
		check_changed(out, consumer, want, have);
		return;
	} else if ((old = doclist_find(previous, from)) != NULL &&
	    find_entry(json_object_get(old, "provides"), kind, name) != NULL)
		problem = "removed";
	else
		problem = "missing";
	json_array_append_new(out, new_item(problem, consumer, want));
}

static int
item_cmp(const void *a, const void *b)
{
	static const char *const keys[] = {
		"consumer", "provider", "kind", "name", "problem", NULL
	};
	const json_t *x = *(const json_t *const *)a;
	const json_t *y = *(const json_t *const *)b;
	int c;

	for (size_t k = 0; keys[k] != NULL; k++)
		if ((c = jstr_cmp(json_object_get(x, keys[k]),
		    json_object_get(y, keys[k]))) != 0)
			return c;
	return dump_cmp(x, y);
}

json_t *
iface_unresolved(const json_t *latest, const json_t *previous)
{
	struct doclist l, p;
	const json_t *doc, *consumer, *want;
	json_t *out = json_array();
	size_t i, j;

	doclist_load(&l, latest);
	doclist_load(&p, previous);
	for (i = 0; i < l.n; i++) {
		doc = l.doc[i];
		if (!json_is_string(consumer = json_object_get(doc, "domain")))
			continue;
		json_array_foreach(json_object_get(doc, "consumes"), j, want)
			resolve_one(out, consumer, want, &l, &p);
	}
	sort_array(out, item_cmp);
	doclist_free(&l);
	doclist_free(&p);
	return out;
}

/* ------------------------------------------------------------ contract tests */

/* Characters a shell takes literally in a word. */
static bool
shell_plain(const char *s)
{
	for (; *s != '\0'; s++)
		if (!is_word((unsigned char)*s) && strchr("/.-+,:@%=", *s) ==
		    NULL)
			return false;
	return true;
}

/* s as one shell word: bare when it is plain, else in single quotes,
 * each ' written '\''. */
static char *
shell_word(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out;

	if (shell_plain(s))
		return xstrdup(s);
	out = xmalloc(4 * n + 3);
	out[o++] = '\'';
	for (; *s != '\0'; s++) {
		if (*s == '\'') {
			memcpy(out + o, "'\\''", 4);
			o += 4;
		} else
			out[o++] = *s;
	}
	out[o++] = '\'';
	out[o] = '\0';
	return out;
}

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && strcmp(s + n - k, suffix) == 0;
}

/* The command that runs CONSUMER/PATH from the root of main: by its
 * extension, python3 or sh, else the file itself. */
static char *
test_command(const char *consumer, const char *path)
{
	char *rel = xasprintf("%s%s/%s", has_suffix(path, ".py") ||
	    has_suffix(path, ".sh") ? "" : "./", consumer, path);
	char *word = shell_word(rel), *cmd;

	if (has_suffix(path, ".py"))
		cmd = xasprintf("python3 %s", word);
	else if (has_suffix(path, ".sh"))
		cmd = xasprintf("sh %s", word);
	else
		cmd = xstrdup(word);
	free(rel);
	free(word);
	return cmd;
}

/* The check for one consumed entry with a test, or NULL when the entry
 * cannot give one (a stored document is not trusted to be valid: the
 * path becomes a command). */
static json_t *
contract_test(const json_t *consumer, const json_t *want,
    const json_t *folders)
{
	const json_t *test = json_object_get(want, "test");
	const char *from = jget_str(want, "from");
	const char *c = json_string_value(consumer), *folder;
	char *cmd, *entry;
	json_t *out;

	if (!json_is_string(test) || from == NULL || c == NULL ||
	    !conf_domain_name_ok(c) || !conf_domain_name_ok(from) ||
	    strlen(c) != json_string_length(consumer) ||
	    json_string_length(test) > MAX_TEST ||
	    test_path_problem(json_string_value(test),
	    json_string_length(test)) != NULL)
		return NULL;
	/* From the consumer's folder: its own (folders), else its name. */
	folder = jget_str(folders, c);
	if (folder == NULL || *folder == '\0' || *folder == '.' ||
	    strchr(folder, '/') != NULL)
		folder = c;
	cmd = test_command(folder, json_string_value(test));
	entry = xasprintf("%s %s", jget_str(want, "kind"),
	    jget_str(want, "name"));
	out = json_pack("{s:s, s:s, s:s, s:s, s:s}", "command", cmd,
	    "kind", "contract", "consumer", c, "provider", from,
	    "entry", entry);
	free(cmd);
	free(entry);
	return out;
}

static int
check_cmp(const void *a, const void *b)
{
	static const char *const keys[] = {
		"consumer", "provider", "entry", "command", NULL
	};
	const json_t *x = *(const json_t *const *)a;
	const json_t *y = *(const json_t *const *)b;
	int c;

	for (size_t k = 0; keys[k] != NULL; k++)
		if ((c = jstr_cmp(json_object_get(x, keys[k]),
		    json_object_get(y, keys[k]))) != 0)
			return c;
	return 0;
}

/* Equal neighbours of a sorted array dropped. */
static void
dedup_sorted(json_t *arr)
{
	for (size_t i = 1; i < json_array_size(arr); ) {
		if (json_equal(json_array_get(arr, i - 1),
		    json_array_get(arr, i)))
			json_array_remove(arr, i);
		else
			i++;
	}
}

json_t *
iface_contract_tests(const json_t *latest, const json_t *folders)
{
	struct doclist l;
	const json_t *doc, *consumer, *want;
	json_t *out = json_array(), *check;
	size_t i, j;

	doclist_load(&l, latest);
	for (i = 0; i < l.n; i++) {
		doc = l.doc[i];
		consumer = json_object_get(doc, "domain");
		json_array_foreach(json_object_get(doc, "consumes"), j, want)
			if ((check = contract_test(consumer, want,
			    folders)) != NULL)
				json_array_append_new(out, check);
	}
	sort_array(out, check_cmp);
	dedup_sorted(out);
	doclist_free(&l);
	return out;
}
