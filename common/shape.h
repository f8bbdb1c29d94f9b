/*
 * shape.h — JSON shape checks from tables: which members an object has,
 * their types, whether they are required, and bounds on their values.
 *
 * A spec is a table of struct shape_field ended by a NULL name.  A field
 * describes one value: its JSON types, and when it is an object the table
 * of its members, when an array the field of its elements.  shape_check()
 * walks a value and its spec together and stops at the first problem,
 * naming its path ("interface.provides[3].name: missing").  What a table
 * cannot say (path rules, uniqueness, a domain's own name) its user checks
 * after the shape, with shape_error() and shape_quote() for the words.
 *
 * Errors are written for the peer or model that sent the value: they say
 * what was expected and what came instead, and stay valid UTF-8 however
 * they are cut, because they are sent on in JSON.
 */
#ifndef COMMON_SHAPE_H
#define COMMON_SHAPE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* JSON types a field allows (bits). */
enum shape_type {
	FT_STRING = 1 << 0,
	FT_INTEGER = 1 << 1,
	FT_REAL = 1 << 2,
	FT_BOOL = 1 << 3,
	FT_OBJECT = 1 << 4,
	FT_ARRAY = 1 << 5,
	FT_NULL = 1 << 6,
	FT_NUMBER = FT_INTEGER | FT_REAL,
	FT_ANY = 0x7f,
};

/* Flags of an object field. */
enum shape_flag {
	SHAPE_CLOSED = 1 << 0,		/* members not in the table: refused */
	SHAPE_NULL_ABSENT = 1 << 1,	/* a member that is null is absent, as
					 * structured output modes send it */
	SHAPE_UNLISTED = 1 << 2,	/* on a member: accepted, but not named
					 * among the expected ones */
};

struct shape_field {
	const char *name;	/* member name; NULL ends a table */
	unsigned types;		/* enum shape_type bits; 0: must be absent */
	bool required;
	unsigned flags;		/* enum shape_flag bits */

	/* Bounds, 0 for none; a string under min_len 1 is "empty". */
	size_t min_len, max_len;	/* string, bytes */
	size_t min_items, max_items;	/* array */
	bool ranged;			/* integer within [min, max] */
	json_int_t min, max;
	const char *const *values;	/* allowed strings, NULL-ended */
	size_t max_depth;		/* nesting of any other object/array */

	const struct shape_field *members;	/* object: its table */
	const struct shape_field *items;	/* array: each element */

	/* Words.  what: the expected value, replacing the types' names
	 * ("must be <what>, not an array"); noun: what values are ("is not
	 * <noun> (a, b)"); when_missing: after "missing"; over: after a
	 * bound that is exceeded; absent_why: why a field of types 0 must
	 * not be there. */
	const char *what;
	const char *noun;
	const char *when_missing;
	const char *over;
	const char *absent_why;
};

/*
 * Check v against the field spec (its name, when not NULL or empty, is the
 * path of v).  0, or -1 with the first problem in err.  The walk follows
 * the spec, so its depth is the spec's.
 */
int shape_check(const json_t *v, const struct shape_field *spec, char *err,
    size_t errlen);

/* A member as a SHAPE_NULL_ABSENT object has it: NULL when absent or
 * null. */
const json_t *shape_member(const json_t *obj, const char *key);

/* "a string", "an array of strings", "true or false": the types of f. */
const char *shape_types_name(const struct shape_field *f, char *buf,
    size_t len);

/* "an object", "a number", ...: what v is. */
const char *shape_type_of(const json_t *v);

/* printf into err, cut and repaired so that it is valid UTF-8; -1. */
int shape_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * s (len bytes) quoted for an error: at most SHAPE_QUOTE_MAX bytes, cut on
 * a character boundary with "..." marking the cut, quotes and backslashes
 * escaped, control characters as '?'.  buf holds SHAPE_QUOTE_BUF bytes.
 */
#define SHAPE_QUOTE_MAX	48
#define SHAPE_QUOTE_BUF	(2 * SHAPE_QUOTE_MAX + 8)
const char *shape_quote(char *buf, const char *s, size_t len);

#endif
