/*
 * frame.c — incremental decoder and encoder for length-prefixed JSON frames.
 *
 * The decoder owns one growable buffer per stream.  Bytes are appended at
 * the tail (copied by feed, or read straight in through reserve/commit) and
 * whole frames are parsed from the head.  The buffer is compacted lazily and
 * shrunk after a large frame so an idle connection does not pin megabytes.
 *
 * JSON is jansson's both ways: json_loadb reads a payload where it lies
 * in the buffer, and json_dump_callback writes straight into the frame,
 * after its reserved header.  Attachments (frame.h) are cut out of a
 * message on the way out (strip: a shallow copy that shares every value
 * but the long strings) and put back on the way in (attach_restore): long
 * text is then copied and checked, never escaped nor parsed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/util.h"
#include "proto/frame.h"

/* Small: every connection keeps one for its life; large frames grow it
 * and it shrinks back once they are consumed. */
#define FRAME_BUF_MIN	(4u * 1024u)

void
frame_decoder_init(struct frame_decoder *d, size_t max)
{
	memset(d, 0, sizeof(*d));
	d->max = max ? max : FRAME_MAX_DEFAULT;
}

void
frame_decoder_free(struct frame_decoder *d)
{
	free(d->buf);
	memset(d, 0, sizeof(*d));
}

size_t
frame_decoder_pending(const struct frame_decoder *d)
{
	return d->len - d->off;
}

static uint32_t
get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

size_t
frame_decoder_missing(const struct frame_decoder *d)
{
	size_t pending = d->len - d->off, want;
	uint32_t n;

	if (d->failed || pending < FRAME_HEADER_SIZE)
		return 0;
	n = get_be32(d->buf + d->off);
	if (n == 0 || n > d->max)
		return 0;
	want = FRAME_HEADER_SIZE + (size_t)n;
	return want > pending ? want - pending : 0;
}

void
frame_put_header(unsigned char hdr[FRAME_HEADER_SIZE], uint32_t n)
{
	hdr[0] = (unsigned char)(n >> 24);
	hdr[1] = (unsigned char)(n >> 16);
	hdr[2] = (unsigned char)(n >> 8);
	hdr[3] = (unsigned char)n;
}

/* Move unconsumed bytes to the front, and give back an oversized buffer. */
static void
compact(struct frame_decoder *d)
{
	size_t pending = d->len - d->off;

	if (d->off > 0) {
		if (pending > 0)
			memmove(d->buf, d->buf + d->off, pending);
		d->off = 0;
		d->len = pending;
	}
	if (d->cap > FRAME_BUF_MIN && pending == 0) {
		/* Freed, not shrunk: glibc then takes blocks of this size
		 * from its heap, where realloc would map and unmap (and fault
		 * in) every large frame's pages anew. */
		free(d->buf);
		d->buf = NULL;
		d->cap = 0;
	} else if (d->cap > FRAME_BUF_MIN && pending <= FRAME_BUF_MIN / 2) {
		d->buf = xrealloc(d->buf, FRAME_BUF_MIN);
		d->cap = FRAME_BUF_MIN;
	}
}

/* Make room for at least `want` more bytes at the tail. */
static int
ensure_room(struct frame_decoder *d, size_t want)
{
	if (d->cap - d->len >= want)
		return FRAME_OK;
	compact(d);
	if (d->cap - d->len >= want)
		return FRAME_OK;
	if (want > SIZE_MAX / 2 - d->len)	/* refused, not aborted on */
		return FRAME_ENOMEM;
	d->buf = xgrow(d->buf, &d->cap, d->len + want, FRAME_BUF_MIN,
	    SIZE_MAX);
	return FRAME_OK;
}

int
frame_decoder_feed(struct frame_decoder *d, const void *data, size_t n)
{
	int rc;

	if (d->failed)
		return d->failed;
	if (n == 0)
		return FRAME_OK;
	if ((rc = ensure_room(d, n)) != FRAME_OK)
		return rc;
	memcpy(d->buf + d->len, data, n);
	d->len += n;
	return FRAME_OK;
}

void *
frame_decoder_reserve(struct frame_decoder *d, size_t want, size_t *got)
{
	if (want == 0)
		want = FRAME_BUF_MIN / 2;
	if (ensure_room(d, want) != FRAME_OK) {
		*got = 0;
		return NULL;
	}
	*got = d->cap - d->len;
	return d->buf + d->len;
}

void
frame_decoder_commit(struct frame_decoder *d, size_t n)
{
	if (n > d->cap - d->len)	/* a caller bug; never trust it */
		n = d->cap - d->len;
	d->len += n;
}

static int
set_error(struct frame_error *err, int code, const char *detail)
{
	if (err != NULL) {
		err->code = code;
		snprintf(err->text, sizeof(err->text), "%s%s%.200s",
		    frame_strerror(code), detail ? ": " : "",
		    detail ? detail : "");
	}
	return code;
}

static int
fail(struct frame_decoder *d, struct frame_error *err, int code,
    const char *detail)
{
	d->failed = code;
	return set_error(err, code, detail);
}

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

/*
 * Valid UTF-8 without a NUL, as jansson demands of a string it parses
 * (which refuses "\u0000"): 0, FRAME_EUTF8, or FRAME_EJSON for a NUL.
 * 32 ASCII bytes at a time: attachments are long text, mostly ASCII.
 */
static int
check_text(const unsigned char *p, size_t n, char *detail, size_t dlen)
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
			snprintf(detail, dlen, "%s in an attached string at "
			    "byte %zu", p[i] == 0 ? "a NUL" : "invalid UTF-8",
			    i);
			return p[i] == 0 ? FRAME_EJSON : FRAME_EUTF8;
		}
		i += k;
	}
	return 0;
}

/* The string an announcement's path leads to in v, or NULL. */
static json_t *
attach_target(json_t *v, const json_t *entry)
{
	const json_t *step;
	json_int_t i;

	for (size_t k = 1; k < json_array_size(entry); k++) {
		step = json_array_get(entry, k);
		if (json_is_string(step) && json_is_object(v))
			v = json_object_get(v, json_string_value(step));
		else if (json_is_integer(step) && json_is_array(v) &&
		    (i = json_integer_value(step)) >= 0 &&
		    (size_t)i < json_array_size(v))
			v = json_array_get(v, (size_t)i);
		else
			return NULL;
		if (v == NULL)
			return NULL;
	}
	return json_is_string(v) && json_string_length(v) == 0 ? v : NULL;
}

/*
 * Put an attachment's strings back where the announcement says, each
 * into its "" placeholder, and drop the announcement.  Every byte must be
 * claimed, in order, by exactly one non-empty string.
 */
static int
attach_restore(json_t *v, const unsigned char *a, size_t alen,
    struct frame_error *err)
{
	json_t *ann = json_object_get(v, FRAME_ATTACH_KEY), *entry, *s;
	size_t off = 0, len, i;
	json_int_t n;
	char detail[200];
	int rc;

	if (!json_is_array(ann) || json_array_size(ann) == 0)
		return set_error(err, FRAME_EATTACH, "no " FRAME_ATTACH_KEY
		    " array announces it");
	json_array_foreach(ann, i, entry) {
		n = json_integer_value(json_array_get(entry, 0));
		if (!json_is_array(entry) || json_array_size(entry) < 2 ||
		    !json_is_integer(json_array_get(entry, 0)) || n <= 0 ||
		    (uint64_t)n > alen - off) {
			snprintf(detail, sizeof(detail), "entry %zu: not "
			    "[length, path...] within the %zu bytes left", i,
			    alen - off);
			return set_error(err, FRAME_EATTACH, detail);
		}
		len = (size_t)n;
		if ((s = attach_target(v, entry)) == NULL) {
			snprintf(detail, sizeof(detail), "entry %zu: its path "
			    "leads to no \"\" placeholder", i);
			return set_error(err, FRAME_EATTACH, detail);
		}
		if ((rc = check_text(a + off, len, detail,
		    sizeof(detail))) != 0)
			return set_error(err, rc, detail);
		if (json_string_setn_nocheck(s, (const char *)a + off,
		    len) != 0)
			return set_error(err, FRAME_ENOMEM, NULL);
		off += len;
	}
	if (off != alen) {
		snprintf(detail, sizeof(detail), "%zu bytes announced, %zu "
		    "attached", off, alen);
		return set_error(err, FRAME_EATTACH, detail);
	}
	json_object_del(v, FRAME_ATTACH_KEY);
	return FRAME_OK;
}

/* Parse one payload; the caller has already consumed its bytes.  With
 * attach, a NUL ends the JSON and starts the attachment. */
static int
parse_payload(const unsigned char *p, size_t n, bool attach, json_t **out,
    struct frame_error *err)
{
	const unsigned char *nul = attach ? memchr(p, '\0', n) : NULL;
	size_t jlen = nul != NULL ? (size_t)(nul - p) : n;
	json_error_t jerr;
	json_t *v;
	char detail[200];
	int rc;

	/* In place, no copy.  DECODE_ANY so that a scalar is reported as
	 * ENOTOBJ, not EJSON. */
	v = json_loadb((const char *)p, jlen, JSON_REJECT_DUPLICATES |
	    JSON_DECODE_ANY, &jerr);
	if (v == NULL) {
		/* Cut on a character: the detail may be sent on in JSON. */
		snprintf(detail, sizeof(detail), "%.*s at byte %d",
		    (int)utf8_prefix(jerr.text, 150), jerr.text, jerr.position);
		if (json_error_code(&jerr) == json_error_invalid_utf8)
			return set_error(err, FRAME_EUTF8, detail);
		return set_error(err, FRAME_EJSON, detail);
	}
	if (!json_is_object(v)) {
		json_decref(v);
		return set_error(err, FRAME_ENOTOBJ, NULL);
	}
	if (nul != NULL && (rc = attach_restore(v, nul + 1, n - jlen - 1,
	    err)) != FRAME_OK) {
		json_decref(v);
		return rc;
	}
	*out = v;
	return FRAME_OK;
}

int
frame_decoder_next(struct frame_decoder *d, json_t **out,
    struct frame_error *err)
{
	size_t pending;
	uint32_t n;
	const unsigned char *payload;
	char detail[64];
	int rc;

	*out = NULL;
	if (d->failed)
		return set_error(err, d->failed, NULL);
	pending = d->len - d->off;
	if (pending < FRAME_HEADER_SIZE)
		goto need_more;
	n = get_be32(d->buf + d->off);
	if (n == 0)
		return fail(d, err, FRAME_EZERO, NULL);
	if (n > d->max) {
		snprintf(detail, sizeof(detail), "%u bytes, limit %zu", n,
		    d->max);
		return fail(d, err, FRAME_ETOOBIG, detail);
	}
	if (pending - FRAME_HEADER_SIZE < n)
		goto need_more;
	payload = d->buf + d->off + FRAME_HEADER_SIZE;
	d->off += FRAME_HEADER_SIZE + (size_t)n;
	rc = parse_payload(payload, n, d->attach, out, err);
	/* Only now, as payload pointed into the buffer. */
	if (d->off == d->len) {
		d->off = d->len = 0;
		compact(d);
	}
	return rc;

need_more:
	if (d->off == d->len)
		d->off = d->len = 0;
	return FRAME_NEED_MORE;
}

int
frame_decoder_peek(struct frame_decoder *d, const unsigned char **payload,
    size_t *n, struct frame_error *err)
{
	size_t pending;
	uint32_t len;
	char detail[64];

	*payload = NULL;
	*n = 0;
	if (d->failed)
		return set_error(err, d->failed, NULL);
	pending = d->len - d->off;
	if (pending < FRAME_HEADER_SIZE)
		return FRAME_NEED_MORE;
	len = get_be32(d->buf + d->off);
	if (len == 0)
		return fail(d, err, FRAME_EZERO, NULL);
	if (len > d->max) {
		snprintf(detail, sizeof(detail), "%u bytes, limit %zu", len,
		    d->max);
		return fail(d, err, FRAME_ETOOBIG, detail);
	}
	if (pending - FRAME_HEADER_SIZE < len)
		return FRAME_NEED_MORE;
	*payload = d->buf + d->off + FRAME_HEADER_SIZE;
	*n = len;
	return FRAME_OK;
}

void
frame_decoder_skip(struct frame_decoder *d)
{
	size_t pending = d->len - d->off;
	uint32_t len;

	if (d->failed || pending < FRAME_HEADER_SIZE)
		return;
	len = get_be32(d->buf + d->off);
	if (len == 0 || len > d->max || pending - FRAME_HEADER_SIZE < len)
		return;
	d->off += FRAME_HEADER_SIZE + (size_t)len;
	if (d->off == d->len) {
		d->off = d->len = 0;
		compact(d);
	}
}

/* ------------------------------------------------------------ peeking */

struct scan {
	const unsigned char *p, *end;
	int depth;
};

static void
scan_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* Past a string whose opening quote is at s->p; *esc says whether it held
 * an escape.  -1 when it does not end.  memchr, not a byte loop: a
 * frame's long strings are most of its bytes. */
static int
scan_string(struct scan *s, const unsigned char **start, size_t *len,
    bool *esc)
{
	const unsigned char *q, *quote, *bs;

	*esc = false;
	*start = ++s->p;
	for (q = s->p; q < s->end; q = bs + 2) {
		if ((quote = memchr(q, '"', (size_t)(s->end - q))) == NULL)
			return -1;
		if ((bs = memchr(q, '\\', (size_t)(quote - q))) == NULL) {
			*len = (size_t)(quote - *start);
			s->p = quote + 1;
			return 0;
		}
		*esc = true;	/* the byte after it is skipped, if any */
	}
	return -1;
}

/* Past one value, nested or not, without looking into it closely. */
static int
scan_value(struct scan *s)
{
	const unsigned char *start;
	size_t len;
	bool esc;
	int depth = 0;

	scan_ws(s);
	do {
		if (s->p >= s->end)
			return -1;
		switch (*s->p) {
		case '"':
			if (scan_string(s, &start, &len, &esc) != 0)
				return -1;
			break;
		case '{':
		case '[':
			if (++depth > 2048)	/* as jansson's own limit */
				return -1;
			s->p++;
			break;
		case '}':
		case ']':
			if (--depth < 0)
				return -1;
			s->p++;
			break;
		case ',':
		case ':':
		case ' ':
		case '\t':
		case '\n':
		case '\r':
			if (depth == 0)
				return -1;
			s->p++;
			break;
		default:
			/* A number or a literal: up to what ends it.  At
			 * least one byte, or a NUL would loop. */
			start = s->p;
			while (s->p < s->end && strchr(",:]} \t\n\r\"",
			    *s->p) == NULL && *s->p != '\0')
				s->p++;
			if (s->p == start)
				return -1;
			break;
		}
	} while (depth > 0);
	return 0;
}

static bool
word_is(const unsigned char *p, size_t n, const char *w)
{
	return n == strlen(w) && memcmp(p, w, n) == 0;
}

int
frame_peek(const unsigned char *payload, size_t n, struct frame_peek *pk)
{
	const unsigned char *nul = memchr(payload, '\0', n);
	struct scan s = { payload, nul != NULL ? nul : payload + n, 0 };
	const unsigned char *key, *val;
	size_t klen, vlen;
	bool esc, seen_type = false, seen_final = false;

	pk->type = NULL;
	pk->type_len = 0;
	pk->final = -1;
	/* The JSON ends at the NUL; what follows is the attachment. */
	pk->attached = nul != NULL;
	scan_ws(&s);
	if (s.p >= s.end || *s.p++ != '{')
		return -1;
	scan_ws(&s);
	if (s.p < s.end && *s.p == '}') {
		s.p++;
		goto tail;
	}
	for (;;) {
		scan_ws(&s);
		if (s.p >= s.end || *s.p != '"' ||
		    scan_string(&s, &key, &klen, &esc) != 0 || esc)
			return -1;
		scan_ws(&s);
		if (s.p >= s.end || *s.p++ != ':')
			return -1;
		scan_ws(&s);
		val = s.p;
		if (scan_value(&s) != 0)
			return -1;
		vlen = (size_t)(s.p - val);
		if (word_is(key, klen, "type")) {
			if (seen_type)
				return -1;
			seen_type = true;
			if (vlen >= 2 && val[0] == '"' &&
			    memchr(val + 1, '\\', vlen - 2) == NULL) {
				pk->type = (const char *)val + 1;
				pk->type_len = vlen - 2;
			}
		} else if (word_is(key, klen, "final")) {
			if (seen_final)
				return -1;
			seen_final = true;
			if (word_is(val, vlen, "true"))
				pk->final = 1;
			else if (word_is(val, vlen, "false"))
				pk->final = 0;
			else
				pk->final = 2;
		}
		scan_ws(&s);
		if (s.p >= s.end)
			return -1;
		if (*s.p == '}') {
			s.p++;
			break;
		}
		if (*s.p++ != ',')
			return -1;
	}
tail:
	scan_ws(&s);
	return s.p == s.end ? 0 : -1;
}

int
frame_wrap(const unsigned char *payload, size_t n, size_t max,
    unsigned char **out, size_t *outlen)
{
	unsigned char *buf;

	*out = NULL;
	*outlen = 0;
	if (max == 0)
		max = FRAME_MAX_DEFAULT;
	if (n == 0 || n > max || n > UINT32_MAX)
		return FRAME_ETOOBIG;
	buf = xmalloc(FRAME_HEADER_SIZE + n);
	frame_put_header(buf, (uint32_t)n);
	memcpy(buf + FRAME_HEADER_SIZE, payload, n);
	*out = buf;
	*outlen = FRAME_HEADER_SIZE + n;
	return FRAME_OK;
}

bool
frame_status_fatal(int status)
{
	return status == FRAME_EZERO || status == FRAME_ETOOBIG ||
	    status == FRAME_ENOMEM;
}

const char *
frame_strerror(int status)
{
	switch (status) {
	case FRAME_OK:		return "ok";
	case FRAME_NEED_MORE:	return "incomplete frame";
	case FRAME_EZERO:	return "zero-length frame";
	case FRAME_ETOOBIG:	return "frame too large";
	case FRAME_ENOMEM:	return "out of memory";
	case FRAME_EUTF8:	return "payload is not valid UTF-8";
	case FRAME_EJSON:	return "payload is not valid JSON";
	case FRAME_ENOTOBJ:	return "payload is not a JSON object";
	case FRAME_EATTACH:	return "attachment does not match its "
				    "announcement";
	}
	return "unknown frame error";
}

/* The first guess at a frame's size: most messages fit, and a bigger one
 * doubles its way up. */
#define ENCODE_BUF_MIN	512u

/* Where json_dump_callback appends a frame's payload, after its header. */
struct encode_buf {
	unsigned char *p;
	size_t len;		/* header included */
	size_t cap;
	size_t max;		/* largest payload accepted */
	bool too_big;
};

/* Stop jansson as soon as the payload is over max: a huge message is
 * refused without being serialised in full. */
static int
encode_append(const char *data, size_t n, void *arg)
{
	struct encode_buf *b = arg;

	if (n > b->max - (b->len - FRAME_HEADER_SIZE)) {
		b->too_big = true;
		return -1;
	}
	b->p = xgrow(b->p, &b->cap, b->len + n, ENCODE_BUF_MIN, SIZE_MAX);
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

/* json_dump_callback into b, after the header it reserves (b->cap bytes
 * at first, if more than the least): 0, or a FRAME_ status. */
static int
encode_json(const json_t *msg, struct encode_buf *b)
{
	if (b->cap < ENCODE_BUF_MIN)
		b->cap = ENCODE_BUF_MIN;
	b->p = xmalloc(b->cap);
	b->len = FRAME_HEADER_SIZE;
	if (json_dump_callback(msg, encode_append, b, JSON_COMPACT) != 0) {
		free(b->p);
		b->p = NULL;
		return b->too_big ? FRAME_ETOOBIG : FRAME_ENOMEM;
	}
	if (b->len == FRAME_HEADER_SIZE) {
		free(b->p);
		b->p = NULL;
		return FRAME_ENOMEM;
	}
	return FRAME_OK;
}

/* One pass: the payload is dumped straight after a reserved header. */
int
frame_encode(const json_t *msg, size_t max, unsigned char **out,
    size_t *outlen)
{
	struct encode_buf b = { 0 };
	int rc;

	*out = NULL;
	*outlen = 0;
	if (!json_is_object(msg))
		return FRAME_ENOTOBJ;
	if (max == 0)
		max = FRAME_MAX_DEFAULT;
	b.max = max < UINT32_MAX ? max : UINT32_MAX;
	if ((rc = encode_json(msg, &b)) != FRAME_OK)
		return rc;
	frame_put_header(b.p, (uint32_t)(b.len - FRAME_HEADER_SIZE));
	*out = b.p;
	*outlen = b.len;
	return FRAME_OK;
}

/* ------------------------------------------------------------ attaching */

/*
 * What is moved out of a message: its strings, in announcement order.
 * The walk is jansson's iteration; what it builds is a shallow copy of
 * each container on the way to a long string, sharing every other value,
 * so a message is never copied whole.
 */
struct attach {
	size_t min;		/* strings this long or longer */
	/* The path from the top, as we go: a key, or an index (key NULL);
	 * made JSON only for a string moved out. */
	struct attach_step {
		const char *key;
		size_t klen, index;
	} *path;
	size_t depth, path_cap;
	json_t *ann;		/* the announcement: [[length, path...]] */
	const json_t **s;
	size_t n, cap;
	size_t bytes;		/* their lengths added up */
};

static json_t *strip(const json_t *, struct attach *);

/* strip(v) one step down the path. */
static json_t *
strip_at(const json_t *v, const char *key, size_t klen, size_t index,
    struct attach *a)
{
	json_t *got;

	if (a->depth == a->path_cap) {
		a->path_cap = a->path_cap ? 2 * a->path_cap : 8;
		a->path = xreallocarray(a->path, a->path_cap,
		    sizeof(*a->path));
	}
	a->path[a->depth].key = key;
	a->path[a->depth].klen = klen;
	a->path[a->depth].index = index;
	a->depth++;
	got = strip(v, a);
	a->depth--;
	return got;
}

/* A long string: announced, listed, and "" in its place.  The receiver
 * checks its bytes again: they come from a peer. */
static json_t *
strip_string(const json_t *v, struct attach *a)
{
	size_t len = json_string_length(v);
	const struct attach_step *st;
	json_t *entry;
	char detail[80];

	/* Not UTF-8 (a _nocheck string), or a NUL: left in the JSON, for
	 * jansson to refuse as before. */
	if (len < a->min || check_text((const unsigned char *)
	    json_string_value(v), len, detail, sizeof(detail)) != 0)
		return NULL;
	entry = json_array();
	json_array_append_new(entry, json_integer((json_int_t)len));
	for (size_t i = 0; i < a->depth; i++) {
		st = &a->path[i];
		/* _nocheck: a key jansson will not write fails the dump,
		 * and the message goes plain, as it would have. */
		json_array_append_new(entry, st->key != NULL ?
		    json_stringn_nocheck(st->key, st->klen) :
		    json_integer((json_int_t)st->index));
	}
	json_array_append_new(a->ann, entry);
	if (a->n == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 4;
		a->s = xreallocarray(a->s, a->cap, sizeof(*a->s));
	}
	a->s[a->n++] = v;
	a->bytes += len;
	return json_stringn("", 0);
}

static json_t *
strip_array(const json_t *v, struct attach *a)
{
	json_t *copy = NULL, *c, *got;
	size_t i;

	json_array_foreach(v, i, c) {
		got = strip_at(c, NULL, 0, i, a);
		if (got != NULL && copy == NULL) {
			/* The first change: what came before is shared. */
			copy = json_array();
			for (size_t k = 0; k < i; k++)
				json_array_append(copy, json_array_get(v, k));
		}
		if (copy != NULL)
			json_array_append_new(copy, got != NULL ? got :
			    json_incref(c));
	}
	return copy;
}

static json_t *
strip_object(const json_t *v, struct attach *a)
{
	json_t *obj = (json_t *)v, *copy = NULL, *c, *got;
	const char *key;
	size_t klen;
	void *it, *k;

	for (it = json_object_iter(obj); it != NULL;
	    it = json_object_iter_next(obj, it)) {
		key = json_object_iter_key(it);
		klen = json_object_iter_key_len(it);
		c = json_object_iter_value(it);
		got = strip_at(c, key, klen, 0, a);
		if (got != NULL && copy == NULL) {
			/* The first change: the keys before it, in order. */
			copy = json_object();
			for (k = json_object_iter(obj); k != it;
			    k = json_object_iter_next(obj, k))
				json_object_setn_nocheck(copy,
				    json_object_iter_key(k),
				    json_object_iter_key_len(k),
				    json_object_iter_value(k));
		}
		if (copy != NULL)
			json_object_setn_new_nocheck(copy, key, klen,
			    got != NULL ? got : json_incref(c));
	}
	return copy;
}

/* A copy of v with its long strings out, sharing what did not change;
 * NULL when nothing under v changed. */
static json_t *
strip(const json_t *v, struct attach *a)
{
	if (json_is_string(v))
		return strip_string(v, a);
	if (json_is_array(v))
		return strip_array(v, a);
	if (json_is_object(v))
		return strip_object(v, a);
	return NULL;
}

/* The frame of the stripped message, a's strings attached after its
 * JSON: FRAME_OK, or a FRAME_ status when it cannot be sent so. */
static int
encode_attached(json_t *stripped, struct attach *a, size_t max,
    unsigned char **out, size_t *outlen)
{
	struct encode_buf b = { 0 };
	size_t len;
	int rc;

	if (a->bytes >= max)
		return FRAME_ETOOBIG;
	json_object_set(stripped, FRAME_ATTACH_KEY, a->ann);
	/* Room for the strings from the start: the JSON is not moved to
	 * make it. */
	b.cap = ENCODE_BUF_MIN + 1 + a->bytes;
	b.max = max - a->bytes - 1;
	if ((rc = encode_json(stripped, &b)) != FRAME_OK)
		return rc;
	b.p = xgrow(b.p, &b.cap, b.len + 1 + a->bytes, ENCODE_BUF_MIN,
	    SIZE_MAX);
	b.p[b.len++] = '\0';
	for (size_t i = 0; i < a->n; i++) {
		len = json_string_length(a->s[i]);
		memcpy(b.p + b.len, json_string_value(a->s[i]), len);
		b.len += len;
	}
	frame_put_header(b.p, (uint32_t)(b.len - FRAME_HEADER_SIZE));
	*out = b.p;
	*outlen = b.len;
	return FRAME_OK;
}

int
frame_encode_attach(const json_t *msg, size_t max, size_t attach_min,
    unsigned char **out, size_t *outlen)
{
	struct attach a = { .min = attach_min };
	json_t *stripped;
	size_t lim = max == 0 ? FRAME_MAX_DEFAULT : max;
	int rc = FRAME_ETOOBIG;

	*out = NULL;
	*outlen = 0;
	if (attach_min == 0 || !json_is_object(msg) ||
	    json_object_get(msg, FRAME_ATTACH_KEY) != NULL)
		return frame_encode(msg, max, out, outlen);
	a.ann = json_array();
	if ((stripped = strip(msg, &a)) != NULL)
		rc = encode_attached(stripped, &a, lim < UINT32_MAX ? lim :
		    UINT32_MAX, out, outlen);
	json_decref(stripped);
	free(a.path);
	json_decref(a.ann);
	free(a.s);
	/* Nothing long, a string or key jansson will not write, or over max
	 * with the announcement: plain JSON, as frame_encode has it (or
	 * refuses it). */
	if (rc != FRAME_OK)
		rc = frame_encode(msg, max, out, outlen);
	return rc;
}

size_t
frame_encoded_size(const json_t *msg)
{
	return json_dumpb(msg, NULL, 0, JSON_COMPACT);
}

/* Strings this short are left whole: cutting them gains nothing. */
#define CUT_MIN		256
#define CUT_KEEP_MIN	(CUT_MIN / 2)
#define CUT_MARKER	"[... %zu bytes cut: over the frame limit]"
#define CUT_MARKER_MAX	64	/* the marker's bytes, at most */

struct cut_list {
	json_t **s;
	size_t n, cap;
};

/* Every string under v (a value, not a key) longer than CUT_MIN. */
static void
collect_long(json_t *v, struct cut_list *l)
{
	json_t *c;
	const char *key;
	size_t i;

	if (json_is_string(v)) {
		if (json_string_length(v) <= CUT_MIN)
			return;
		if (l->n == l->cap) {
			l->cap = l->cap ? 2 * l->cap : 16;
			l->s = xreallocarray(l->s, l->cap, sizeof(*l->s));
		}
		l->s[l->n++] = v;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, c)
			collect_long(c, l);
	} else if (json_is_object(v)) {
		json_object_foreach(v, key, c)
			collect_long(c, l);
	}
}

/* The bytes saved by cutting every string of l longer than keep to keep
 * (plus its marker). */
static size_t
saved_at(const struct cut_list *l, size_t keep)
{
	size_t sum = 0, len;

	for (size_t i = 0; i < l->n; i++) {
		len = json_string_length(l->s[i]);
		if (len > keep + CUT_MARKER_MAX)
			sum += len - keep - CUT_MARKER_MAX;
	}
	return sum;
}

/*
 * The longest length strings may keep and still save `over` bytes: a
 * binary search, so that one pass cuts as little as it must, longest
 * strings first, however many there are.
 */
static size_t
keep_for(const struct cut_list *l, size_t over)
{
	size_t lo = CUT_KEEP_MIN, hi = 0, mid;

	for (size_t i = 0; i < l->n; i++) {
		if (json_string_length(l->s[i]) > hi)
			hi = json_string_length(l->s[i]);
	}
	if (saved_at(l, lo) < over)
		return lo;		/* all it can do */
	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (saved_at(l, mid) >= over)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

static void
cut_string(json_t *s, size_t keep)
{
	const char *v = json_string_value(s);
	size_t len = json_string_length(s);
	char marker[CUT_MARKER_MAX + 16], *text;

	keep = utf8_prefix(v, keep);
	snprintf(marker, sizeof(marker), CUT_MARKER, len - keep);
	text = xasprintf("%.*s%s", (int)keep, v, marker);
	json_string_set(s, text);
	free(text);
}

int
frame_cut_to_fit(json_t *v, size_t max)
{
	struct cut_list l = { 0 };
	size_t size, keep, cut;
	int rc = -1;

	/* Each pass counts raw bytes; escapes may leave some over, so
	 * another pass follows, each one cutting something. */
	for (;;) {
		if ((size = frame_encoded_size(v)) == 0)
			break;
		if (size <= max) {
			rc = 0;
			break;
		}
		l.n = 0;
		collect_long(v, &l);
		keep = keep_for(&l, size - max);
		cut = 0;
		for (size_t i = 0; i < l.n; i++) {
			if (json_string_length(l.s[i]) > keep +
			    CUT_MARKER_MAX) {
				cut_string(l.s[i], keep);
				cut++;
			}
		}
		if (cut == 0)
			break;
	}
	free(l.s);
	return rc;
}
