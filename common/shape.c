/*
 * shape.c — checking a JSON value against a table of fields, and the
 * words of its errors: paths, type names, quoted values.
 *
 * The walk keeps the path of the value it is at in one buffer, growing it
 * by ".name" or "[i]" on the way down and cutting it back on the way up,
 * so that an error costs nothing until there is one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/shape.h"
#include "common/util.h"

#define PATH_MAX_BYTES	512
#define MSG_MAX_BYTES	512

struct walk {
	char path[PATH_MAX_BYTES];
	size_t len;
	char *err;
	size_t errlen;
};

/* ------------------------------------------------------------ words */

int
shape_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n < 0)
		err[0] = '\0';
	else if ((size_t)n >= errlen)
		utf8_cut(err);
	utf8_scrub(err, strlen(err));
	return -1;
}

const char *
shape_quote(char *buf, const char *s, size_t len)
{
	size_t i, o = 0, cut = len;

	if (cut > SHAPE_QUOTE_MAX) {
		cut = SHAPE_QUOTE_MAX;
		while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
			cut--;
	}
	buf[o++] = '"';
	for (i = 0; i < cut; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f)
			buf[o++] = '?';
		else
			buf[o++] = (char)c;
	}
	buf[o++] = '"';
	if (cut < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

const char *
shape_type_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:	return "an object";
	case JSON_ARRAY:	return "an array";
	case JSON_STRING:	return "a string";
	case JSON_INTEGER:	return "a number";
	case JSON_REAL:		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:	return "a boolean";
	case JSON_NULL:		return "null";
	}
	return "?";
}

/* The names of single types, in bit order, and their plurals. */
static const struct {
	unsigned type;
	const char *one;
	const char *many;
} type_names[] = {
	{ FT_STRING,	"a string",		"strings" },
	{ FT_INTEGER,	"an integer",		"integers" },
	{ FT_REAL,	"a real number",	"real numbers" },
	{ FT_BOOL,	"true or false",	"booleans" },
	{ FT_OBJECT,	"an object",		"objects" },
	{ FT_ARRAY,	"an array",		"arrays" },
	{ FT_NULL,	"null",			"nulls" },
};

static const char *
plural(unsigned types)
{
	if (types == FT_NUMBER)
		return "numbers";
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]);
	    i++)
		if (type_names[i].type == types)
			return type_names[i].many;
	return NULL;
}

const char *
shape_types_name(const struct shape_field *f, char *buf, size_t len)
{
	unsigned types = f->types;
	const char *many;
	size_t o = 0;

	if (f->what != NULL)
		return f->what;
	if (types == FT_ARRAY && f->items != NULL && f->items->what == NULL &&
	    (many = plural(f->items->types)) != NULL) {
		snprintf(buf, len, "an array of %s", many);
		return buf;
	}
	buf[0] = '\0';
	if ((types & FT_NUMBER) == FT_NUMBER) {
		o += (size_t)snprintf(buf, len, "a number");
		types &= ~(unsigned)FT_NUMBER;
	}
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]) &&
	    o < len; i++) {
		if (!(types & type_names[i].type))
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? " or " : "",
		    type_names[i].one);
	}
	return buf;
}

static bool
type_ok(const json_t *v, unsigned types)
{
	switch (json_typeof(v)) {
	case JSON_STRING:	return types & FT_STRING;
	case JSON_INTEGER:	return types & FT_INTEGER;
	case JSON_REAL:		return types & FT_REAL;
	case JSON_TRUE:
	case JSON_FALSE:	return types & FT_BOOL;
	case JSON_OBJECT:	return types & FT_OBJECT;
	case JSON_ARRAY:	return types & FT_ARRAY;
	case JSON_NULL:		return types & FT_NULL;
	}
	return false;
}

/* ------------------------------------------------------------ the path */

static size_t
path_add(struct walk *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append to the path; the length before, to cut back to. */
static size_t
path_add(struct walk *w, const char *fmt, ...)
{
	size_t old = w->len;
	va_list ap;
	int n;

	if (w->len >= sizeof(w->path) - 1)
		return old;
	va_start(ap, fmt);
	n = vsnprintf(w->path + w->len, sizeof(w->path) - w->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		w->len += (size_t)n < sizeof(w->path) - w->len ? (size_t)n :
		    sizeof(w->path) - w->len - 1;
	return old;
}

static void
path_cut(struct walk *w, size_t len)
{
	w->len = len;
	w->path[len] = '\0';
}

/* A member name as a path component: bare when it is a plain word,
 * quoted otherwise. */
static size_t
path_key(struct walk *w, const char *key)
{
	size_t n = strlen(key);
	const char *dot = w->len > 0 ? "." : "";
	char q[SHAPE_QUOTE_BUF];

	if (n == 0 || n > SHAPE_QUOTE_MAX ||
	    strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_-") != n)
		return path_add(w, "%s%s", dot, shape_quote(q, key, n));
	return path_add(w, "%s%s", dot, key);
}

static int
fail(struct walk *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The problem at the current path. */
static int
fail(struct walk *w, const char *fmt, ...)
{
	char msg[MSG_MAX_BYTES];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return shape_error(w->err, w->errlen, "%s%s%s", w->path,
	    w->len > 0 ? ": " : "", msg);
}

/* ------------------------------------------------------------ the walk */

static int check_value(struct walk *, const json_t *,
    const struct shape_field *);

/* Is v nested deeper than max (a scalar is 0 deep)?  Stops looking once
 * it is, so that the recursion stays within max + 1. */
static bool
deeper_than(const json_t *v, size_t max)
{
	const char *key;
	const json_t *e;
	size_t i;

	if (!json_is_object(v) && !json_is_array(v))
		return false;
	if (max == 0)
		return true;
	if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			if (deeper_than(e, max - 1))
				return true;
		}
		return false;
	}
	json_object_foreach((json_t *)v, key, e) {
		if (deeper_than(e, max - 1))
			return true;
	}
	return false;
}

const json_t *
shape_member(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_null(v) ? NULL : v;
}

static const struct shape_field *
member_spec(const struct shape_field *members, const char *key)
{
	for (const struct shape_field *m = members; m->name != NULL; m++)
		if (strcmp(m->name, key) == 0)
			return m;
	return NULL;
}

/* "a, b, c": the members a model may give. */
static void
expected_members(const struct shape_field *members, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (const struct shape_field *m = members; m->name != NULL &&
	    o < len; m++) {
		if (m->types == 0 || (m->flags & SHAPE_UNLISTED))
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "",
		    m->name);
	}
}

static int
check_unknown(struct walk *w, const json_t *obj, const struct shape_field *f)
{
	char expected[MSG_MAX_BYTES / 2];
	const char *key;
	const json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		if (member_spec(f->members, key) != NULL)
			continue;
		expected_members(f->members, expected, sizeof(expected));
		path_key(w, key);
		return fail(w, "unknown field (expected %s)", expected);
	}
	return 0;
}

static int
check_object(struct walk *w, const json_t *obj, const struct shape_field *f)
{
	const json_t *v;
	size_t back;

	if ((f->flags & SHAPE_CLOSED) && check_unknown(w, obj, f) == -1)
		return -1;
	for (const struct shape_field *m = f->members; m->name != NULL; m++) {
		v = f->flags & SHAPE_NULL_ABSENT ? shape_member(obj, m->name) :
		    json_object_get(obj, m->name);
		if (v == NULL && !m->required)
			continue;
		back = path_key(w, m->name);
		if (v == NULL)
			return fail(w, "missing%s%s",
			    m->when_missing ? " " : "",
			    m->when_missing ? m->when_missing : "");
		if (check_value(w, v, m) == -1)
			return -1;
		path_cut(w, back);
	}
	return 0;
}

static int
check_array(struct walk *w, const json_t *arr, const struct shape_field *f)
{
	size_t n = json_array_size(arr), i, back;
	const json_t *e;

	if (n < f->min_items)
		return fail(w, "%zu entries, at least %zu", n, f->min_items);
	if (f->max_items > 0 && n > f->max_items)
		return fail(w, "%zu entries, at most %zu%s", n, f->max_items,
		    f->over ? f->over : "");
	if (f->items == NULL)
		return 0;
	json_array_foreach(arr, i, e) {
		back = path_add(w, "[%zu]", i);
		if (check_value(w, e, f->items) == -1)
			return -1;
		path_cut(w, back);
	}
	return 0;
}

static bool
in_values(const json_t *s, const char *const *values)
{
	size_t len = json_string_length(s);

	for (; *values != NULL; values++)
		if (strlen(*values) == len &&
		    memcmp(*values, json_string_value(s), len) == 0)
			return true;
	return false;
}

static int
check_enum(struct walk *w, const json_t *s, const struct shape_field *f)
{
	char list[MSG_MAX_BYTES / 2], q[SHAPE_QUOTE_BUF];
	size_t o = 0;

	if (in_values(s, f->values))
		return 0;
	list[0] = '\0';
	for (const char *const *v = f->values; *v != NULL && o < sizeof(list);
	    v++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
		    o ? ", " : "", *v);
	shape_quote(q, json_string_value(s), json_string_length(s));
	if (f->noun != NULL)
		return fail(w, "%s is not %s (%s)", q, f->noun, list);
	return fail(w, "%s is not one of %s", q, list);
}

static int
check_string(struct walk *w, const json_t *s, const struct shape_field *f)
{
	size_t len = json_string_length(s);

	if (len < f->min_len && f->min_len == 1)
		return fail(w, "empty");
	if (len < f->min_len)
		return fail(w, "%zu bytes, at least %zu", len, f->min_len);
	if (f->max_len > 0 && len > f->max_len)
		return fail(w, "%zu bytes, at most %zu%s", len, f->max_len,
		    f->over ? f->over : "");
	if (f->values != NULL)
		return check_enum(w, s, f);
	return 0;
}

static int
check_integer(struct walk *w, const json_t *i, const struct shape_field *f)
{
	json_int_t n = json_integer_value(i);

	if (!f->ranged)
		return 0;
	if (n < f->min)
		return fail(w, "%" JSON_INTEGER_FORMAT ", at least %"
		    JSON_INTEGER_FORMAT, n, f->min);
	if (n > f->max)
		return fail(w, "%" JSON_INTEGER_FORMAT ", at most %"
		    JSON_INTEGER_FORMAT, n, f->max);
	return 0;
}

static int
check_value(struct walk *w, const json_t *v, const struct shape_field *f)
{
	char want[128];

	if (f->types == 0)
		return fail(w, "%s", f->absent_why ? f->absent_why :
		    "not allowed here");
	if (!type_ok(v, f->types))
		return fail(w, "must be %s, not %s", shape_types_name(f, want,
		    sizeof(want)), shape_type_of(v));
	if (json_is_string(v))
		return check_string(w, v, f);
	if (json_is_integer(v))
		return check_integer(w, v, f);
	if (json_is_object(v) && f->members != NULL)
		return check_object(w, v, f);
	if (json_is_array(v) && check_array(w, v, f) == -1)
		return -1;
	/* What no nested spec describes is bounded in depth instead. */
	if (f->max_depth > 0 && !(json_is_array(v) && f->items != NULL) &&
	    deeper_than(v, f->max_depth))
		return fail(w, "nested more than %zu deep", f->max_depth);
	return 0;
}

int
shape_check(const json_t *v, const struct shape_field *spec, char *err,
    size_t errlen)
{
	struct walk w = { .err = err, .errlen = errlen };

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (spec->name != NULL)
		path_add(&w, "%s", spec->name);
	return check_value(&w, v, spec);
}
