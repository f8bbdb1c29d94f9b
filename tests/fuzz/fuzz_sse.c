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
 *
 * Then the same stream is read as an answer of each of the three APIs
 * (llm_parse: text, tool calls begun, appended to and given whole, usage,
 * stop reason, model, errors), whole and cut at the same point, and what
 * the answer says must hash the same both ways.  The corpus holds
 * tool-call streams of all three APIs to start from.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/llm/impl.h"
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

static void
mix_str(struct run *r, const char *s)
{
	mix(r, s != NULL ? s : "(null)", s != NULL ? strlen(s) + 1 : 6);
}

/* What an answer of api said, fed in two pieces cut at `cut`. */
static uint64_t
answer(const struct llm_api *api, const uint8_t *s, size_t n, size_t cut)
{
	struct run r = { 0xcbf29ce484222325ULL, 0, 0 };
	struct llm_parse p;
	struct llm_tool_call *calls;
	int rv[2];
	bool cutshort;

	llm_parse_init(&p, api, NULL, NULL);
	rv[0] = llm_parse_feed(&p, (const char *)s, cut);
	rv[1] = llm_parse_feed(&p, (const char *)s + cut, n - cut);
	/* A refusal is for good: the second piece is refused if the first
	 * was, and where the cut falls must not matter. */
	if (rv[0] != 0 && rv[1] == 0)
		abort();
	cutshort = llm_parse_end(&p);
	mix(&r, &rv[1], sizeof(rv[1]));
	mix(&r, &cutshort, sizeof(cutshort));
	mix(&r, p.text.p != NULL ? p.text.p : "", p.text.len);
	if (!p.bad && !p.failed) {
		calls = llm_parse_calls(&p);
		for (size_t i = 0; i < p.ncalls; i++) {
			mix_str(&r, calls[i].id);
			mix_str(&r, calls[i].name);
			mix_str(&r, calls[i].arguments);
		}
		free(calls);
	}
	mix(&r, &p.ncalls, sizeof(p.ncalls));
	mix_str(&r, p.finish);
	mix_str(&r, p.model);
	mix_str(&r, p.id);
	mix(&r, &p.usage.input, sizeof(p.usage.input));
	mix(&r, &p.usage.output, sizeof(p.usage.output));
	mix(&r, &p.usage.cached, sizeof(p.usage.cached));
	mix(&r, &p.usage.calls, sizeof(p.usage.calls));
	mix(&r, &p.truncated, sizeof(p.truncated));
	mix(&r, &p.done, sizeof(p.done));
	mix(&r, &p.failed, sizeof(p.failed));
	mix(&r, &p.bad, sizeof(p.bad));
	llm_parse_free(&p);
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

	{
		const struct llm_api *apis[] = { &llm_api_chat,
		    &llm_api_responses, &llm_api_anthropic };

		for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]); i++) {
			if (answer(apis[i], data, n, n) !=
			    answer(apis[i], data, n, cut))
				abort();
		}
	}
	return 0;
}
