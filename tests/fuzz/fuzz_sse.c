/*
 * fuzz_sse.c — libFuzzer target for the Server-Sent Events parser.
 *
 * Input: four header bytes, then the stream.  Header bytes 0-1 pick the
 * point where the stream is cut in two, byte 2 the size limit (below 128:
 * the default; else 1..128 bytes, to reach the SSE_ETOOBIG paths), byte 3
 * the event after which the callback stops the parse (0: never).
 *
 * The stream is parsed whole, cut in two, and (when short) a byte at a
 * time; the events (type, data, last ID, retry), the last sse_feed result
 * and the sse_finish result must hash the same every way.  ASan finds
 * overruns and leaks; the callback checks each event's own invariants.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/llm/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A call per byte is slow: only short inputs are also fed that way. */
#define BYTEWISE_MAX	4096

struct run {
	uint64_t h;
	unsigned events;
	unsigned stop_at;
};

static void
mix(struct run *r, const void *p, size_t n)
{
	const unsigned char *b = p;

	/* FNV-1a, with the length mixed in so fields cannot run together. */
	for (size_t i = 0; i < n; i++)
		r->h = (r->h ^ b[i]) * 0x100000001b3ULL;
	for (size_t i = 0; i < sizeof(n); i++)
		r->h = (r->h ^ ((n >> (8 * i)) & 0xff)) * 0x100000001b3ULL;
}

static int
on_event(const struct sse_event *ev, void *arg)
{
	struct run *r = arg;
	long retry = ev->retry_ms;

	if (ev->data[ev->data_len] != '\0' || ev->type_len == 0 ||
	    ev->type[ev->type_len] != '\0' || retry < -1)
		abort();
	mix(r, ev->type, ev->type_len);
	mix(r, ev->data, ev->data_len);
	mix(r, ev->last_id, strlen(ev->last_id));
	mix(r, &retry, sizeof(retry));
	if (++r->events == r->stop_at)
		return 1;
	return 0;
}

/* Feed s in pieces of at most step bytes, cut first at `cut`. */
static uint64_t
parse(const uint8_t *s, size_t n, size_t cut, size_t step, size_t max,
    unsigned stop_at)
{
	struct sse_parser p;
	struct run r = { 0xcbf29ce484222325ULL, 0, stop_at };
	const char *c = (const char *)s;
	size_t at = 0, len;
	int rv = 0;
	int cutshort;

	sse_init(&p, max, on_event, &r);
	while (at < n) {
		len = at < cut ? cut - at : n - at;
		if (len > step)
			len = step;
		rv = sse_feed(&p, c + at, len);
		at += len;
	}
	/* Empty feeds must change nothing. */
	if (sse_feed(&p, c, 0) != rv)
		abort();
	cutshort = sse_finish(&p);
	mix(&r, &rv, sizeof(rv));
	mix(&r, &cutshort, sizeof(cutshort));
	mix(&r, sse_last_id(&p), strlen(sse_last_id(&p)));
	sse_free(&p);
	return r.h;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n, cut, max;
	unsigned stop_at;
	uint64_t whole;

	if (size < 4)
		return 0;
	n = size - 4;
	cut = n == 0 ? 0 : ((size_t)data[0] << 8 | data[1]) % (n + 1);
	max = data[2] < 128 ? 0 : (size_t)(data[2] & 127) + 1;
	stop_at = data[3];
	data += 4;

	whole = parse(data, n, 0, SIZE_MAX, max, stop_at);
	if (parse(data, n, cut, SIZE_MAX, max, stop_at) != whole)
		abort();
	if (n <= BYTEWISE_MAX &&
	    parse(data, n, 0, 1, max, stop_at) != whole)
		abort();
	return 0;
}
