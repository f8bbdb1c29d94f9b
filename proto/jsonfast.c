/*
 * jsonfast.c — a JSON reader and writer for jansson values, in one pass
 * over contiguous bytes (proto/jsonfast.h says why).
 *
 * The reader takes the common shapes only: objects, arrays, strings with
 * the short escapes, integers well inside json_int_t, true, false, null.
 * Anything else, malformed or merely unusual, makes it give up (NULL), and
 * the caller asks jansson: so every error, and every rare form, is
 * jansson's.  The writer produces jansson's compact text exactly; the
 * fuzz target compares both with jansson's own.  Written with an attach
 * list, long strings become "" and are announced, for frame.c to carry
 * after the JSON: nothing is copied to cut them out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/util.h"
#include "proto/jsonfast.h"

/* Deeper than this is left to jansson (its own limit is 2048). */
#define LOAD_MAX_DEPTH	64
/* Integers of more digits are left to jansson (overflow is its error). */
#define LOAD_MAX_DIGITS	18

/* ------------------------------------------------------------ text */

/* 32 bytes of ASCII without a NUL: the run of long text. */
static bool
ascii32(const unsigned char *p)
{
#if defined(__SSE2__)
	__m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
	__m128i z = _mm_setzero_si128();

	/* The high bit of a byte >= 0x80, or of 0xff where a byte is 0. */
	return _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b),
	    _mm_or_si128(_mm_cmpeq_epi8(a, z), _mm_cmpeq_epi8(b, z)))) == 0;
#else
	const uint64_t high = 0x8080808080808080ull;
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t w[4], bad = 0;

	memcpy(w, p, sizeof(w));
	for (int k = 0; k < 4; k++)
		bad |= w[k] | ((w[k] - ones) & ~w[k]);
	return (bad & high) == 0;
#endif
}

int
jsonfast_text(const unsigned char *p, size_t n, size_t *at)
{
	size_t i = 0, k;

	while (i < n) {
		while (n - i >= 32 && ascii32(p + i))
			i += 32;
		if (i >= n)
			break;
		if (p[i] > 0 && p[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_seq(p + i, n - i)) == 0) {
			*at = i;
			return p[i] == 0 ? 1 : 2;
		}
		i += k;
	}
	return 0;
}

/* ------------------------------------------------------------ reading */

struct rd {
	const unsigned char *p, *end;
	unsigned char *tmp;	/* unescaped strings */
	size_t tmp_cap;
	int depth;
};

static void
skip_ws(struct rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' ||
	    *r->p == '\r' || *r->p == '\t'))
		r->p++;
}

/* Eight bytes with none below 0x20, none at or above 0x80, no '"', no
 * '\\': the plain run of a string. */
static bool
plain8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ull;
	const uint64_t high = 0x8080808080808080ull;
	uint64_t w, q, b;

	memcpy(&w, p, 8);
	q = w ^ (ones * '"');
	b = w ^ (ones * '\\');
	return (((w - ones * 0x20) | (q - ones) | (b - ones) | w) & high) == 0;
}

/*
 * The string at r->p (its opening quote): its bytes in *s (into the input
 * when it has no escape, else into r->tmp) and *len.  -1: not sure.
 */
static int
read_string(struct rd *r, const char **s, size_t *len)
{
	const unsigned char *start = ++r->p, *q;
	size_t k, n = 0;
	unsigned char c;
	bool esc = false;

	for (q = start; q < r->end;) {
		if (r->end - q >= 8 && plain8(q)) {
			q += 8;
			continue;
		}
		c = *q;
		if (c == '"')
			break;
		if (c == '\\') {
			esc = true;
			q += 2;
			continue;
		}
		if (c < 0x20)
			return -1;
		if (c < 0x80) {
			q++;
			continue;
		}
		if ((k = utf8_seq(q, (size_t)(r->end - q))) == 0)
			return -1;
		q += k;
	}
	if (q >= r->end)
		return -1;
	r->p = q + 1;
	if (!esc) {
		*s = (const char *)start;
		*len = (size_t)(q - start);
		return 0;
	}
	/* Unescape into tmp: at most as long as the raw text. */
	r->tmp = xgrow(r->tmp, &r->tmp_cap, (size_t)(q - start) + 1, 256,
	    SIZE_MAX);
	for (const unsigned char *i = start; i < q; i++) {
		if (*i != '\\') {
			r->tmp[n++] = *i;
			continue;
		}
		switch (*++i) {
		case '"':	c = '"'; break;
		case '\\':	c = '\\'; break;
		case '/':	c = '/'; break;
		case 'b':	c = '\b'; break;
		case 'f':	c = '\f'; break;
		case 'n':	c = '\n'; break;
		case 'r':	c = '\r'; break;
		case 't':	c = '\t'; break;
		default:	return -1;	/* \u, or no escape at all */
		}
		r->tmp[n++] = c;
	}
	*s = (const char *)r->tmp;
	*len = n;
	return 0;
}

static json_t *read_value(struct rd *);

static json_t *
read_number(struct rd *r)
{
	const unsigned char *start = r->p;
	json_int_t v = 0;
	bool neg = false;
	size_t digits;

	if (*r->p == '-') {
		neg = true;
		r->p++;
	}
	for (digits = 0; r->p < r->end && *r->p >= '0' && *r->p <= '9';
	    digits++) {
		if (digits == LOAD_MAX_DIGITS)
			return NULL;	/* too many: jansson's */
		v = v * 10 + (*r->p++ - '0');
	}
	/* No digit, a leading zero, or a real: jansson's. */
	if (digits == 0 || (digits > 1 && start[neg] == '0'))
		return NULL;
	if (r->p < r->end && (*r->p == '.' || *r->p == 'e' || *r->p == 'E'))
		return NULL;
	return json_integer(neg ? -v : v);
}

static bool
read_word(struct rd *r, const char *w, size_t n)
{
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
		return false;
	r->p += n;
	return true;
}

static json_t *
read_object(struct rd *r)
{
	json_t *o = json_object(), *v;
	const char *key;
	size_t klen;
	char *k;

	r->p++;
	skip_ws(r);
	if (r->p < r->end && *r->p == '}') {
		r->p++;
		return o;
	}
	for (;;) {
		if (r->p >= r->end || *r->p != '"' ||
		    read_string(r, &key, &klen) != 0)
			goto fail;
		/* The key is copied: the value may reuse tmp. */
		k = key == (const char *)r->tmp ? xstrndup(key, klen) : NULL;
		if (k != NULL)
			key = k;
		skip_ws(r);
		if (r->p >= r->end || *r->p++ != ':' ||
		    json_object_getn(o, key, klen) != NULL ||
		    (v = read_value(r)) == NULL ||
		    json_object_setn_new_nocheck(o, key, klen, v) != 0) {
			free(k);
			goto fail;
		}
		free(k);
		skip_ws(r);
		if (r->p >= r->end)
			goto fail;
		if (*r->p == '}') {
			r->p++;
			return o;
		}
		if (*r->p++ != ',')
			goto fail;
		skip_ws(r);
	}
fail:
	json_decref(o);
	return NULL;
}

static json_t *
read_array(struct rd *r)
{
	json_t *a = json_array(), *v;

	r->p++;
	skip_ws(r);
	if (r->p < r->end && *r->p == ']') {
		r->p++;
		return a;
	}
	for (;;) {
		if ((v = read_value(r)) == NULL ||
		    json_array_append_new(a, v) != 0)
			goto fail;
		skip_ws(r);
		if (r->p >= r->end)
			goto fail;
		if (*r->p == ']') {
			r->p++;
			return a;
		}
		if (*r->p++ != ',')
			goto fail;
	}
fail:
	json_decref(a);
	return NULL;
}

static json_t *
read_value(struct rd *r)
{
	const char *s;
	size_t len;
	json_t *v = NULL;

	skip_ws(r);
	if (r->p >= r->end)
		return NULL;
	switch (*r->p) {
	case '{':
	case '[':
		if (++r->depth > LOAD_MAX_DEPTH)
			return NULL;
		v = *r->p == '{' ? read_object(r) : read_array(r);
		r->depth--;
		return v;
	case '"':
		if (read_string(r, &s, &len) != 0)
			return NULL;
		return json_stringn_nocheck(s, len);
	case 't':
		return read_word(r, "true", 4) ? json_true() : NULL;
	case 'f':
		return read_word(r, "false", 5) ? json_false() : NULL;
	case 'n':
		return read_word(r, "null", 4) ? json_null() : NULL;
	default:
		if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
			return read_number(r);
		return NULL;
	}
}

json_t *
jsonfast_load(const unsigned char *p, size_t n)
{
	struct rd r = { p, p + n, NULL, 0, 0 };
	json_t *v = read_value(&r);

	free(r.tmp);
	if (v == NULL)
		return NULL;
	/* A word must end where a word ends, and nothing may follow. */
	skip_ws(&r);
	if (r.p != r.end) {
		json_decref(v);
		return NULL;
	}
	return v;
}

/* ------------------------------------------------------------ writing */

/* Room for n more bytes, within max. */
static int
room(struct jsonfast_buf *b, size_t n)
{
	if (n > b->max - b->len) {
		b->too_big = true;
		return -1;
	}
	if (b->cap - b->len < n)
		b->p = xgrow(b->p, &b->cap, b->len + n, 512, SIZE_MAX);
	return 0;
}

static int
put(struct jsonfast_buf *b, const void *s, size_t n)
{
	if (room(b, n) != 0)
		return -1;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

/* Eight bytes with nothing to escape or check: ASCII from 0x20, neither
 * '"' nor '\\'. */
#define plain8_out	plain8

static int
write_string(struct jsonfast_buf *b, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str, *run = s;
	const unsigned char *end = s + len;
	char esc[8];
	size_t k;

	if (put(b, "\"", 1) != 0)
		return -1;
	while (s < end) {
		if (end - s >= 8 && plain8_out(s)) {
			s += 8;
			continue;
		}
		if (*s >= 0x80) {
			/* jansson refuses what is not UTF-8. */
			if ((k = utf8_seq(s, (size_t)(end - s))) == 0)
				return -1;
			s += k;
			continue;
		}
		if (*s >= 0x20 && *s != '"' && *s != '\\') {
			s++;
			continue;
		}
		if (put(b, run, (size_t)(s - run)) != 0)
			return -1;
		switch (*s) {
		case '"':	memcpy(esc, "\\\"", 3); break;
		case '\\':	memcpy(esc, "\\\\", 3); break;
		case '\b':	memcpy(esc, "\\b", 3); break;
		case '\f':	memcpy(esc, "\\f", 3); break;
		case '\n':	memcpy(esc, "\\n", 3); break;
		case '\r':	memcpy(esc, "\\r", 3); break;
		case '\t':	memcpy(esc, "\\t", 3); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04X", *s);
			break;
		}
		if (put(b, esc, strlen(esc)) != 0)
			return -1;
		run = ++s;
	}
	if (put(b, run, (size_t)(s - run)) != 0)
		return -1;
	return put(b, "\"", 1);
}

static int
write_integer(struct jsonfast_buf *b, json_int_t v)
{
	char buf[24], *q = buf + sizeof(buf);
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v :
	    (unsigned long long)v;

	do {
		*--q = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--q = '-';
	return put(b, q, (size_t)(buf + sizeof(buf) - q));
}

/* jansson's own text for a real. */
static int
write_real(struct jsonfast_buf *b, const json_t *v)
{
	char buf[64];
	size_t n = json_dumpb(v, buf, sizeof(buf), JSON_ENCODE_ANY |
	    JSON_COMPACT);

	if (n == 0 || n > sizeof(buf))
		return -1;
	return put(b, buf, n);
}

static int dump(const json_t *, struct jsonfast_buf *,
    struct jsonfast_attach *);

/* dump(v) one step down the path. */
static int
dump_at(const json_t *v, struct jsonfast_buf *b, struct jsonfast_attach *a,
    const char *key, size_t klen, size_t index)
{
	int rc;

	if (a == NULL)
		return dump(v, b, NULL);
	if (a->depth == a->path_cap) {
		a->path_cap = a->path_cap ? 2 * a->path_cap : 8;
		a->path = xreallocarray(a->path, a->path_cap,
		    sizeof(*a->path));
	}
	a->path[a->depth].key = key;
	a->path[a->depth].klen = klen;
	a->path[a->depth].index = index;
	a->depth++;
	rc = dump(v, b, a);
	a->depth--;
	return rc;
}

/* A long string: "" here, its entry announced, its bytes listed.  1 when
 * it stays in the JSON (short, or not UTF-8 without a NUL: left for the
 * writer to refuse, or to escape for the receiver to refuse). */
static int
dump_attached(const json_t *v, struct jsonfast_buf *b,
    struct jsonfast_attach *a)
{
	size_t len = json_string_length(v), at;
	struct jsonfast_buf *e = &a->ann;

	if (len < a->min || a->depth == 0 || jsonfast_text((const unsigned
	    char *)json_string_value(v), len, &at) != 0)
		return 1;
	e->max = SIZE_MAX;
	if ((a->n > 0 && put(e, ",", 1) != 0) || put(e, "[", 1) != 0 ||
	    write_integer(e, (json_int_t)len) != 0)
		return -1;
	for (size_t i = 0; i < a->depth; i++) {
		if (put(e, ",", 1) != 0 || (a->path[i].key != NULL ?
		    write_string(e, a->path[i].key, a->path[i].klen) :
		    write_integer(e, (json_int_t)a->path[i].index)) != 0)
			return -1;
	}
	if (put(e, "]", 1) != 0)
		return -1;
	if (a->n == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 4;
		a->s = xreallocarray(a->s, a->cap, sizeof(*a->s));
	}
	a->s[a->n++] = v;
	a->bytes += len;
	return put(b, "\"\"", 2);
}

static int
dump(const json_t *v, struct jsonfast_buf *b, struct jsonfast_attach *a)
{
	json_t *obj = (json_t *)v;
	void *it;
	size_t i;
	int rc;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (put(b, "{", 1) != 0)
			return -1;
		for (it = json_object_iter(obj); it != NULL;
		    it = json_object_iter_next(obj, it)) {
			if ((it != json_object_iter(obj) &&
			    put(b, ",", 1) != 0) ||
			    write_string(b, json_object_iter_key(it),
			    json_object_iter_key_len(it)) != 0 ||
			    put(b, ":", 1) != 0 ||
			    dump_at(json_object_iter_value(it), b, a,
			    json_object_iter_key(it),
			    json_object_iter_key_len(it), 0) != 0)
				return -1;
		}
		/* The announcement closes the top-level object. */
		if (a != NULL && a->depth == 0 && a->n > 0 &&
		    (put(b, ",\"@attach\":[", 12) != 0 ||
		    put(b, a->ann.p, a->ann.len) != 0 || put(b, "]", 1) != 0))
			return -1;
		return put(b, "}", 1);
	case JSON_ARRAY:
		if (put(b, "[", 1) != 0)
			return -1;
		for (i = 0; i < json_array_size(v); i++) {
			if ((i > 0 && put(b, ",", 1) != 0) ||
			    dump_at(json_array_get(v, i), b, a, NULL, 0,
			    i) != 0)
				return -1;
		}
		return put(b, "]", 1);
	case JSON_STRING:
		if (a != NULL && (rc = dump_attached(v, b, a)) <= 0)
			return rc;
		return write_string(b, json_string_value(v),
		    json_string_length(v));
	case JSON_INTEGER:
		return write_integer(b, json_integer_value(v));
	case JSON_REAL:
		return write_real(b, v);
	case JSON_TRUE:
		return put(b, "true", 4);
	case JSON_FALSE:
		return put(b, "false", 5);
	case JSON_NULL:
		return put(b, "null", 4);
	}
	return -1;
}

int
jsonfast_dump(const json_t *v, struct jsonfast_buf *b)
{
	return dump(v, b, NULL);
}

int
jsonfast_dump_attach(const json_t *obj, struct jsonfast_buf *b,
    struct jsonfast_attach *a)
{
	if (!json_is_object(obj))
		return -1;
	return dump(obj, b, a);
}

void
jsonfast_attach_free(struct jsonfast_attach *a)
{
	free(a->s);
	free(a->ann.p);
	free(a->path);
	memset(a, 0, sizeof(*a));
}
