/*
 * sse.h — incremental parser for Server-Sent Events (text/event-stream).
 *
 * Owns the interpretation of an event stream as the WHATWG HTML standard
 * defines it ("Parsing an event stream" and "Interpreting an event
 * stream"): lines end in CR, LF or CRLF, even when the CR and the LF arrive
 * in different reads; one leading UTF-8 BOM is skipped; ':' lines are
 * comments; "data" lines accumulate, "event" sets the type, "id" sets the
 * last event ID (which persists across events), "retry" sets the
 * reconnection time; a blank line dispatches; an incomplete event at the end
 * of the stream is discarded.  Bytes are fed as they arrive from the
 * network, in pieces of any size; events come back through a callback.
 *
 * One deliberate difference from a browser: bytes are not UTF-8 decoded, so
 * invalid sequences reach the callback as they came instead of as U+FFFD.
 * Line ends, ':' and ' ' are ASCII and never occur inside a multi-byte
 * sequence, so the split into lines and fields is the same; the consumers
 * parse the data as JSON, which checks the encoding itself.
 *
 * Memory is bounded by max_event: a line (other than a comment, which is
 * skipped without being stored) longer than max_event bytes, or an event
 * whose data would exceed max_event bytes, stops the parse with SSE_ETOOBIG,
 * whatever way the stream was cut into pieces.
 */
#ifndef COMMON_SSE_H
#define COMMON_SSE_H

#include <stdbool.h>
#include <stddef.h>

#define SSE_MAX_EVENT_DEFAULT	((size_t)16 << 20)

/* Errors returned by sse_feed; a callback should return positive values. */
#define SSE_ETOOBIG	(-1)	/* a line or an event exceeds max_event */
#define SSE_ENOMEM	(-2)

struct sse_event {
	const char *type;	/* "message" when no event field was given */
	size_t type_len;	/* a type, like data, may hold NUL bytes */
	const char *data;	/* data lines joined by LF, NUL-terminated */
	size_t data_len;	/* without the NUL; data may hold NUL bytes */
	const char *last_id;	/* last event ID; "" when none */
	long retry_ms;		/* retry field of this event, or -1 */
};

/*
 * Called once per dispatched event.  The strings live until the callback
 * returns.  A non-zero return stops the parse: sse_feed returns it now and
 * on every later call, until sse_finish.  The callback must not feed the
 * same parser.
 */
typedef int sse_event_fn(const struct sse_event *, void *arg);

/* Private to sse.c; in the header only so a parser can be embedded. */
struct sse_buf {
	char *p;
	size_t len;
	size_t cap;
};

struct sse_parser {
	sse_event_fn *fn;
	void *arg;
	size_t max;		/* max_event */
	struct sse_buf line;	/* a line cut by the end of a read */
	struct sse_buf data;	/* data buffer, one LF after every line */
	struct sse_buf type;	/* event type buffer, NUL-terminated */
	struct sse_buf id;	/* last event ID buffer, when id_dirty */
	struct sse_buf last_id;	/* last event ID as of the last dispatch */
	long retry;		/* reconnection time, -1 until a retry field */
	long event_retry;	/* retry field since the last blank line */
	int err;		/* sticky result once the parse stopped */
	unsigned char bom;	/* BOM bytes matched; 3 once past the BOM */
	bool skip_lf;		/* a read ended in CR: drop a leading LF */
	bool comment;		/* the cut line is a comment, not stored */
	bool dirty;		/* a field line since the last blank line */
	bool id_dirty;		/* id differs from last_id */
};

/* max_event in bytes, 0 for SSE_MAX_EVENT_DEFAULT.  Allocates nothing. */
void sse_init(struct sse_parser *, size_t max_event, sse_event_fn *,
    void *arg);

/*
 * Parse the next len bytes of the stream.  Returns 0, the callback's
 * non-zero value, SSE_ETOOBIG or SSE_ENOMEM; after a non-zero return the
 * parser ignores input until sse_finish.
 */
int sse_feed(struct sse_parser *, const char *buf, size_t len);

/*
 * End of stream: an event without its closing blank line, and any cut
 * line, are discarded.  Returns true when the stream was cut short: an
 * event or a line was pending, or sse_feed had stopped (so the rest went
 * unread).  The parser is then ready for a new stream on the
 * same source, e.g. after a reconnection: it keeps the last event ID and
 * the reconnection time, which that reconnection needs.
 */
bool sse_finish(struct sse_parser *);

void sse_free(struct sse_parser *);

/* The last event ID as of the last blank line, for Last-Event-ID; "". */
const char *sse_last_id(const struct sse_parser *);

/* The reconnection time set by the stream in ms, or -1 if never set. */
long sse_retry(const struct sse_parser *);

const char *sse_strerror(int);

#endif
