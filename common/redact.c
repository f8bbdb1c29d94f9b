/*
 * redact.c — the set of secrets and their replacement in text and JSON.
 *
 * A secret may occur several times, overlap itself ("aaaaaaaa" in nine
 * a's), overlap another secret or be cut short; every byte any
 * occurrence covers is marked, and each run of marked bytes is written
 * as one REDACT_MARK.  Text without a secret is never copied: the common
 * case costs two memmem() per secret (its head and its tail).
 */
#include <stdlib.h>
#include <string.h>

#include "common/redact.h"
#include "common/util.h"

#define MARK_LEN	(sizeof(REDACT_MARK) - 1)

struct redact {
	char **secret;
	size_t *len;
	size_t n;
};

struct redact *
redact_new(void)
{
	return xcalloc(1, sizeof(struct redact));
}

void
redact_free(struct redact *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		explicit_bzero(r->secret[i], r->len[i]);
		free(r->secret[i]);
	}
	free(r->secret);
	free(r->len);
	free(r);
}

void
redact_add(struct redact *r, const char *secret)
{
	size_t len = secret != NULL ? strlen(secret) : 0;

	if (r == NULL || len < REDACT_MIN)
		return;
	for (size_t i = 0; i < r->n; i++) {
		if (r->len[i] == len && memcmp(r->secret[i], secret, len) == 0)
			return;
	}
	r->secret = xreallocarray(r->secret, r->n + 1, sizeof(*r->secret));
	r->len = xreallocarray(r->len, r->n + 1, sizeof(*r->len));
	r->secret[r->n] = xstrdup(secret);
	r->len[r->n] = len;
	r->n++;
}

size_t
redact_count(const struct redact *r)
{
	return r != NULL ? r->n : 0;
}

/* A secret's first and last REDACT_MIN bytes: every occurrence, whole or
 * cut, holds one of them. */
static const char *
head_of(const struct redact *r, size_t i)
{
	return r->secret[i];
}

static const char *
tail_of(const struct redact *r, size_t i)
{
	return r->secret[i] + r->len[i] - REDACT_MIN;
}

bool
redact_has(const struct redact *r, const char *s, size_t len)
{
	if (r == NULL || s == NULL)
		return false;
	for (size_t i = 0; i < r->n; i++) {
		if (memmem(s, len, head_of(r, i), REDACT_MIN) != NULL ||
		    memmem(s, len, tail_of(r, i), REDACT_MIN) != NULL)
			return true;
	}
	return false;
}

/*
 * Mark the bytes of s that secret i covers: from each copy of its head,
 * as far as s goes on matching it (the whole secret, or its beginning up
 * to a cut); to each copy of its tail, as far back as s matches (its end
 * after a cut).  From the byte after each hit: overlapping ones count.
 */
static void
mark_one(const struct redact *r, size_t i, const char *s, size_t len,
    char *marks)
{
	const char *sec = r->secret[i], *p, *hit, *end = s + len;
	size_t slen = r->len[i], n, at;

	for (p = s; (hit = memmem(p, (size_t)(end - p), head_of(r, i),
	    REDACT_MIN)) != NULL; p = hit + 1) {
		at = (size_t)(hit - s);
		for (n = REDACT_MIN; n < slen && at + n < len &&
		    s[at + n] == sec[n]; n++)
			;
		memset(marks + at, 1, n);
	}
	for (p = s; (hit = memmem(p, (size_t)(end - p), tail_of(r, i),
	    REDACT_MIN)) != NULL; p = hit + 1) {
		at = (size_t)(hit - s) + REDACT_MIN;	/* the end of it */
		for (n = REDACT_MIN; n < slen && at > n &&
		    s[at - n - 1] == sec[slen - n - 1]; n++)
			;
		memset(marks + at - n, 1, n);
	}
}

static void
mark(const struct redact *r, const char *s, size_t len, char *marks)
{
	for (size_t i = 0; i < r->n; i++)
		mark_one(r, i, s, len, marks);
}

/*
 * s (len bytes) with every marked run replaced: malloc'd, NUL-terminated,
 * its length in *outlen; NULL when s holds no secret.
 */
static char *
redact_buf(const struct redact *r, const char *s, size_t len, size_t *outlen)
{
	char *marks, *out;
	size_t i, o, runs = 0;

	if (!redact_has(r, s, len))
		return NULL;
	marks = xcalloc(len, 1);
	mark(r, s, len, marks);
	for (i = 0; i < len; i++) {
		if (marks[i] && (i == 0 || !marks[i - 1]))
			runs++;
	}
	/* Every run is at least REDACT_MIN bytes: the result is at most
	 * len + runs * MARK_LEN, which cannot overflow for text in memory. */
	out = xmalloc(len + runs * MARK_LEN + 1);
	for (i = o = 0; i < len; i++) {
		if (!marks[i]) {
			out[o++] = s[i];
			continue;
		}
		if (i == 0 || !marks[i - 1]) {
			memcpy(out + o, REDACT_MARK, MARK_LEN);
			o += MARK_LEN;
		}
	}
	out[o] = '\0';
	free(marks);
	*outlen = o;
	return out;
}

char *
redact_str(const struct redact *r, const char *s)
{
	size_t len;
	char *out;

	if (s == NULL)
		return NULL;
	if ((out = redact_buf(r, s, strlen(s), &len)) == NULL)
		out = xstrdup(s);
	return out;
}

bool
redact_inplace(const struct redact *r, char **sp)
{
	size_t len;
	char *out;

	if (*sp == NULL || (out = redact_buf(r, *sp, strlen(*sp), &len)) ==
	    NULL)
		return false;
	free(*sp);
	*sp = out;
	return true;
}

/* ------------------------------------------------------------ JSON */

static bool
json_has(const struct redact *r, json_t *v)
{
	const char *key;
	json_t *e;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return redact_has(r, json_string_value(v),
		    json_string_length(v));
	case JSON_ARRAY:
		json_array_foreach(v, i, e) {
			if (json_has(r, e))
				return true;
		}
		return false;
	case JSON_OBJECT:
		json_object_foreach(v, key, e) {
			if (redact_has(r, key, strlen(key)) || json_has(r, e))
				return true;
		}
		return false;
	default:
		return false;
	}
}

static bool
redact_string(const struct redact *r, json_t *v)
{
	size_t len;
	char *out;

	out = redact_buf(r, json_string_value(v), json_string_length(v), &len);
	if (out == NULL)
		return false;
	/* A secret that is not valid UTF-8 could leave a cut sequence. */
	if (json_string_setn(v, out, len) != 0) {
		utf8_scrub(out, len);
		json_string_setn_nocheck(v, out, len);
	}
	free(out);
	return true;
}

/* Keys cannot be renamed while iterating: collect, then move each value. */
static bool
redact_keys(const struct redact *r, json_t *obj)
{
	json_t *renamed = json_array(), *e, *value;
	const char *key;
	char *to;
	size_t i;

	json_object_foreach(obj, key, e) {
		if (redact_has(r, key, strlen(key)))
			json_array_append_new(renamed, json_string(key));
	}
	json_array_foreach(renamed, i, e) {
		key = json_string_value(e);
		value = json_incref(json_object_get(obj, key));
		json_object_del(obj, key);
		to = redact_str(r, key);
		utf8_scrub(to, strlen(to));
		json_object_set_new_nocheck(obj, to, value);
		free(to);
	}
	i = json_array_size(renamed);
	json_decref(renamed);
	return i > 0;
}

bool
redact_json(const struct redact *r, json_t *v)
{
	bool changed = false;
	const char *key;
	json_t *e;
	size_t i;

	if (r == NULL || r->n == 0 || v == NULL)
		return false;
	switch (json_typeof(v)) {
	case JSON_STRING:
		return redact_string(r, v);
	case JSON_ARRAY:
		json_array_foreach(v, i, e)
			changed |= redact_json(r, e);
		return changed;
	case JSON_OBJECT:
		json_object_foreach(v, key, e)
			changed |= redact_json(r, e);
		return redact_keys(r, v) || changed;
	default:
		return false;
	}
}

json_t *
redact_json_copy(const struct redact *r, const json_t *v)
{
	/* Only v's reference count changes: jansson's iteration and incref
	 * take no const value. */
	json_t *w = (json_t *)v, *copy;

	if (w == NULL || r == NULL || r->n == 0 || !json_has(r, w))
		return json_incref(w);
	copy = json_deep_copy(v);
	redact_json(r, copy);
	return copy;
}
