/*
 * sse.c — the Server-Sent Events parser: line splitting across reads,
 * field interpretation and event dispatch (see sse.h for the rules).
 *
 * Complete lines are parsed in place in the caller's buffer; only a line
 * cut by the end of a read is copied, into p->line.  Line ends are found
 * with memchr, so the cost per byte is a scan plus the copy of data values.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/llm/sse.h"
#include "common/util.h"

#define BOM_LEN	3

static const char bom[BOM_LEN] = { '\xEF', '\xBB', '\xBF' };

/* Room for max bytes of content plus the LF or NUL that follows them. */
static size_t
buf_limit(const struct sse_parser *p)
{
	return p->max + 2;
}

/* Room for need bytes: doubling must not take a hostile stream past the
 * limit. */
static void
buf_reserve(struct sse_buf *b, size_t need, size_t limit)
{
	b->p = xgrow(b->p, &b->cap, need, 128, limit);
}

/* Replace the content with s[0..n) and a NUL. */
static void
buf_set(struct sse_buf *b, const char *s, size_t n, size_t limit)
{
	buf_reserve(b, n + 1, limit);
	if (n > 0)
		memcpy(b->p, s, n);
	b->p[n] = '\0';
	b->len = n;
}

static void
buf_free(struct sse_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void
sse_init(struct sse_parser *p, size_t max_event, sse_event_fn *fn, void *arg)
{
	memset(p, 0, sizeof(*p));
	if (max_event == 0)
		max_event = SSE_MAX_EVENT_DEFAULT;
	/* Keeps every size sum below in range. */
	if (max_event > SIZE_MAX / 4)
		max_event = SIZE_MAX / 4;
	p->max = max_event;
	p->fn = fn;
	p->arg = arg;
	p->retry = -1;
	p->event_retry = -1;
}

void
sse_free(struct sse_parser *p)
{
	buf_free(&p->line);
	buf_free(&p->data);
	buf_free(&p->type);
	buf_free(&p->id);
	buf_free(&p->last_id);
}

const char *
sse_last_id(const struct sse_parser *p)
{
	return p->last_id.len > 0 ? p->last_id.p : "";
}

long
sse_retry(const struct sse_parser *p)
{
	return p->retry;
}

const char *
sse_strerror(int r)
{
	if (r == 0)
		return "success";
	if (r == SSE_ETOOBIG)
		return "event stream line or event exceeds the size limit";
	if (r == SSE_ENOMEM)
		return "out of memory parsing the event stream";
	if (r > 0)
		return "event stream parse stopped by its consumer";
	return "unknown event stream error";
}

/*
 * A blank line.  The last event ID is committed even when nothing is
 * dispatched, as the spec's first dispatch step does.
 */
static int
dispatch(struct sse_parser *p)
{
	struct sse_event ev;

	if (p->id_dirty) {
		/* Swap rather than copy: id is stale again once committed. */
		struct sse_buf t = p->last_id;

		p->last_id = p->id;
		p->id = t;
		p->id_dirty = false;
	}
	ev.retry_ms = p->event_retry;
	p->event_retry = -1;
	p->dirty = false;
	if (p->data.len == 0) {
		p->type.len = 0;
		return 0;
	}
	/* The data buffer always ends in LF: the one the spec removes. */
	p->data.p[p->data.len - 1] = '\0';
	ev.data = p->data.p;
	ev.data_len = p->data.len - 1;
	if (p->type.len > 0) {
		ev.type = p->type.p;
		ev.type_len = p->type.len;
	} else {
		ev.type = "message";
		ev.type_len = strlen("message");
	}
	ev.last_id = sse_last_id(p);
	/* Lengths only: the bytes stay valid for the callback. */
	p->data.len = 0;
	p->type.len = 0;
	return p->fn(&ev, p->arg);
}

static int
field_data(struct sse_parser *p, const char *v, size_t n)
{
	/* What the callback would get: the buffer less its final LF. */
	if (p->data.len + n > p->max)
		return SSE_ETOOBIG;
	buf_reserve(&p->data, p->data.len + n + 1, buf_limit(p));
	memcpy(p->data.p + p->data.len, v, n);
	p->data.len += n;
	p->data.p[p->data.len++] = '\n';
	return 0;
}

static int
field_id(struct sse_parser *p, const char *v, size_t n)
{
	/* An ID with NUL could not be sent back in Last-Event-ID. */
	if (memchr(v, '\0', n) != NULL)
		return 0;
	buf_set(&p->id, v, n, buf_limit(p));
	p->id_dirty = true;
	return 0;
}

static void
field_retry(struct sse_parser *p, const char *v, size_t n)
{
	long ms = 0;
	size_t i;

	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		if (v[i] < '0' || v[i] > '9')
			return;
	/* Digits only, so the value is valid; saturate what long can't hold. */
	for (i = 0; i < n; i++) {
		if (ms > (LONG_MAX - (v[i] - '0')) / 10) {
			ms = LONG_MAX;
			break;
		}
		ms = ms * 10 + (v[i] - '0');
	}
	p->retry = ms;
	p->event_retry = ms;
}

static int
field(struct sse_parser *p, const char *name, size_t nlen, const char *v,
    size_t vlen)
{
	switch (nlen) {
	case 2:
		if (memcmp(name, "id", 2) == 0)
			return field_id(p, v, vlen);
		break;
	case 4:
		if (memcmp(name, "data", 4) == 0)
			return field_data(p, v, vlen);
		break;
	case 5:
		if (memcmp(name, "event", 5) == 0)
			buf_set(&p->type, v, vlen, buf_limit(p));
		else if (memcmp(name, "retry", 5) == 0)
			field_retry(p, v, vlen);
		break;
	}
	return 0;
}

/* One whole line, without its line end. */
static int
line(struct sse_parser *p, const char *s, size_t n)
{
	const char *colon, *v;
	size_t nlen, vlen;

	if (n == 0)
		return dispatch(p);
	if (s[0] == ':')
		return 0;
	p->dirty = true;
	if ((colon = memchr(s, ':', n)) == NULL)
		return field(p, s, n, s + n, 0);
	nlen = (size_t)(colon - s);
	v = colon + 1;
	vlen = n - nlen - 1;
	if (vlen > 0 && v[0] == ' ') {
		v++;
		vlen--;
	}
	return field(p, s, nlen, v, vlen);
}

static int
line_append(struct sse_parser *p, const char *s, size_t n)
{
	struct sse_buf *b = &p->line;

	if (n > p->max - b->len)
		return SSE_ETOOBIG;
	buf_reserve(b, b->len + n, buf_limit(p));
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

/* The tail of a read that holds no line end: keep it for the next read. */
static int
line_cut(struct sse_parser *p, const char *s, size_t n)
{
	if (n == 0 || p->comment)
		return 0;
	/* A comment is never looked at, so it need not be stored. */
	if (p->line.len == 0 && s[0] == ':') {
		p->comment = true;
		return 0;
	}
	return line_append(p, s, n);
}

/* s[0..n) ends a line, perhaps begun in an earlier read. */
static int
line_end(struct sse_parser *p, const char *s, size_t n)
{
	int r;

	if (p->comment) {
		p->comment = false;
		return 0;
	}
	if (p->line.len == 0) {
		if (n > p->max && s[0] != ':')
			return SSE_ETOOBIG;
		return line(p, s, n);
	}
	if ((r = line_append(p, s, n)) != 0)
		return r;
	r = line(p, p->line.p, p->line.len);
	p->line.len = 0;
	return r;
}

static int
feed_lines(struct sse_parser *p, const char *s, size_t n)
{
	const char *end = s + n, *lf = NULL, *cr, *eol;
	int r;

	if (p->skip_lf && s < end) {
		p->skip_lf = false;
		if (*s == '\n')
			s++;
	}
	while (s < end) {
		/*
		 * The next LF is remembered, so a stream of CR-only line
		 * ends is not rescanned for LF from every line.
		 */
		if (lf == NULL || lf < s) {
			if ((lf = memchr(s, '\n', (size_t)(end - s))) == NULL)
				lf = end;
		}
		cr = memchr(s, '\r', (size_t)(lf - s));
		eol = cr != NULL ? cr : lf;
		if (eol == end)
			return line_cut(p, s, (size_t)(end - s));
		if ((r = line_end(p, s, (size_t)(eol - s))) != 0)
			return r;
		s = eol + 1;
		if (*eol != '\r')
			continue;
		/* CRLF is one line end, even split between two reads. */
		if (s == end)
			p->skip_lf = true;
		else if (*s == '\n')
			s++;
	}
	return 0;
}

/*
 * Skip one BOM at the start of the stream, which may arrive a byte at a
 * time.  A partial match that fails was stream content after all.
 */
static int
skip_bom(struct sse_parser *p, const char **buf, size_t *len)
{
	size_t matched;

	while (*len > 0 && p->bom < BOM_LEN) {
		if (**buf != bom[p->bom]) {
			matched = p->bom;
			p->bom = BOM_LEN;
			return feed_lines(p, bom, matched);
		}
		p->bom++;
		(*buf)++;
		(*len)--;
	}
	return 0;
}

int
sse_feed(struct sse_parser *p, const char *buf, size_t len)
{
	int r;

	if (p->err != 0)
		return p->err;
	/* Nothing to do, and buf may be NULL. */
	if (len == 0)
		return 0;
	if (p->bom < BOM_LEN && (r = skip_bom(p, &buf, &len)) != 0)
		return p->err = r;
	if ((r = feed_lines(p, buf, len)) != 0)
		p->err = r;
	return r;
}

bool
sse_finish(struct sse_parser *p)
{
	bool cut;

	/* After a stop, what followed in the stream went unread. */
	cut = p->err != 0 || p->dirty || p->line.len > 0 ||
	    (p->bom > 0 && p->bom < BOM_LEN);
	p->line.len = 0;
	p->data.len = 0;
	p->type.len = 0;
	p->event_retry = -1;
	p->err = 0;
	p->bom = 0;
	p->skip_lf = false;
	p->comment = false;
	p->dirty = false;
	/* An uncommitted id goes with its event; last_id stays. */
	p->id_dirty = false;
	return cut;
}
