/*
 * bench_sse.c — throughput of the Server-Sent Events parser.
 *
 * Builds realistic streams in memory (Chat Completions deltas, the same
 * with CRLF line ends, Anthropic Messages deltas), parses each fed in
 * chunks of several sizes, best of RUNS, and prints MB/s and events/s.
 * It only prints: timings vary with the machine, so nothing is asserted
 * about them.  A wrong event count is still an error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/llm/sse.h"
#include "tests/bench/benchlib.h"

#define STREAM_BYTES	((size_t)64 << 20)
#define RUNS		5

static const char *const words[] = {
	"Hel", "lo", ",", " world", "!", " The", " quick", " brown",
	" fox", " jumps", " over", " the", " lazy", " dog", ".", "\\n",
	" \\\"quoted\\\"", " unicode \\u00e9", " 42", " tokens",
};

#define NWORDS	(sizeof(words) / sizeof(words[0]))

struct stream {
	char *p;
	size_t len;
	size_t cap;
	size_t events;
};

static void
put(struct stream *s, const char *str)
{
	size_t n = strlen(str);

	if (s->len + n > s->cap) {
		s->cap = s->cap != 0 ? s->cap * 2 : 1 << 20;
		if ((s->p = realloc(s->p, s->cap)) == NULL) {
			perror("realloc");
			exit(1);
		}
	}
	memcpy(s->p + s->len, str, n);
	s->len += n;
}

/* Stop after the event that reaches the target size. */
static void
chat_stream(struct stream *s, const char *eol)
{
	char ev[512];

	while (s->len < STREAM_BYTES) {
		snprintf(ev, sizeof(ev), "data: {\"id\":\"chatcmpl-9xQ2c1\","
		    "\"object\":\"chat.completion.chunk\",\"created\":"
		    "1718000000,\"model\":\"gpt-4o-mini-2024-07-18\","
		    "\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":"
		    "[{\"index\":0,\"delta\":{\"content\":\"%s\"},"
		    "\"logprobs\":null,\"finish_reason\":null}]}%s%s",
		    words[s->events % NWORDS], eol, eol);
		put(s, ev);
		s->events++;
	}
	put(s, "data: [DONE]");
	put(s, eol);
	put(s, eol);
	s->events++;
}

static void
anthropic_stream(struct stream *s)
{
	char ev[512];

	while (s->len < STREAM_BYTES) {
		snprintf(ev, sizeof(ev), "event: content_block_delta\n"
		    "data: {\"type\":\"content_block_delta\",\"index\":0,"
		    "\"delta\":{\"type\":\"text_delta\",\"text\":\"%s\"}}\n\n",
		    words[s->events % NWORDS]);
		put(s, ev);
		s->events++;
	}
}

struct tally {
	size_t events;
	size_t bytes;
};

static int
on_event(const struct sse_event *ev, void *arg)
{
	struct tally *t = arg;

	/* Touch the data, as a consumer would, so nothing is skipped. */
	t->events++;
	t->bytes += ev->data_len + (unsigned char)ev->data[0];
	return 0;
}

/* Seconds for one parse of the stream, or -1 on a wrong result. */
static double
parse_once(const struct stream *s, size_t chunk)
{
	struct sse_parser p;
	struct tally t = { 0, 0 };
	double t0, t1;
	size_t at, n;
	int r = 0;

	sse_init(&p, 0, on_event, &t);
	t0 = now_s();
	for (at = 0; at < s->len && r == 0; at += n) {
		n = s->len - at < chunk ? s->len - at : chunk;
		r = sse_feed(&p, s->p + at, n);
	}
	t1 = now_s();
	sse_finish(&p);
	sse_free(&p);
	if (r != 0 || t.events != s->events) {
		fprintf(stderr, "bench_sse: %s, %zu events of %zu\n",
		    sse_strerror(r), t.events, s->events);
		return -1;
	}
	return t1 - t0;
}

static int
row(const char *name, const struct stream *s, size_t chunk)
{
	double best = 0, t;
	char csize[32];

	for (int i = 0; i < RUNS; i++) {
		if ((t = parse_once(s, chunk)) < 0)
			return -1;
		if (i == 0 || t < best)
			best = t;
	}
	if (chunk >= s->len)
		snprintf(csize, sizeof(csize), "whole");
	else
		snprintf(csize, sizeof(csize), "%zu KiB", chunk >> 10);
	printf("%-18s %8.1f MiB %9s %10.0f %12.0f\n", name,
	    (double)s->len / (1 << 20), csize,
	    (double)s->len / 1e6 / best, (double)s->events / best);
	return 0;
}

int
main(void)
{
	struct stream chat = { 0 }, crlf = { 0 }, anth = { 0 };
	static const size_t chunks[] = { 1 << 10, 16 << 10, 64 << 10 };
	int rc = 0;

	chat_stream(&chat, "\n");
	chat_stream(&crlf, "\r\n");
	anthropic_stream(&anth);

	printf("%-18s %12s %9s %10s %12s\n", "stream", "size", "chunk",
	    "MB/s", "events/s");
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		rc |= row("chat completions", &chat, chunks[i]);
	rc |= row("chat completions", &chat, SIZE_MAX);
	rc |= row("chat, CRLF", &crlf, 16 << 10);
	rc |= row("anthropic", &anth, 16 << 10);
	printf("(best of %d runs; MB = 10^6 bytes)\n", RUNS);

	free(chat.p);
	free(crlf.p);
	free(anth.p);
	return rc != 0;
}
