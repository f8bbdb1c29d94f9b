/*
 * test_sse.c — unit tests of the Server-Sent Events parser (common/llm/sse.c).
 *
 * Every test states the exact events expected, rendered one per line as
 * "type|data|last_id|retry" with \\, \n, \r, \0 and | escaped, so a failure
 * prints both sequences.  Streams are also fed cut at every point (and at
 * every pair of points for the short ones, and a byte at a time), in their
 * LF, CRLF and CR spellings: chunking must never change the events.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/llm/sse.h"

/*
 * Streams up to this size (in their LF spelling) are also cut at every pair
 * of points: the Chat Completions and error streams, not the longer two.
 */
#define SPLIT3_MAX	700

/* ------------------------------------------------------------ recorder */

struct rec {
	char *s;
	size_t len;
	size_t cap;
	int events;
	int stop_at;		/* 1-based event that returns stop_value */
	int stop_value;
};

static void
rec_raw(struct rec *r, const char *s, size_t n)
{
	if (r->len + n + 1 > r->cap) {
		while (r->len + n + 1 > r->cap)
			r->cap = r->cap != 0 ? r->cap * 2 : 256;
		r->s = realloc(r->s, r->cap);
		assert_non_null(r->s);
	}
	memcpy(r->s + r->len, s, n);
	r->len += n;
	r->s[r->len] = '\0';
}

static void
rec_esc(struct rec *r, const char *s, size_t n)
{
	char esc[2] = { '\\', 0 }, c;
	size_t i = 0, run;

	while (i < n) {
		/* Plain bytes in bulk: the split tests record millions. */
		run = strcspn(s + i, "\\\n\r|");
		if (run > n - i)
			run = n - i;
		rec_raw(r, s + i, run);
		if ((i += run) == n)
			break;
		/* A backslash, then n, r, 0, or the byte itself (\\ and |). */
		c = s[i++];
		esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' :
		    c == '\0' ? '0' : c;
		rec_raw(r, esc, 2);
	}
}

static int
rec_cb(const struct sse_event *ev, void *arg)
{
	struct rec *r = arg;
	char num[32];

	assert_non_null(ev->type);
	assert_non_null(ev->data);
	assert_non_null(ev->last_id);
	assert_int_equal(ev->data[ev->data_len], '\0');
	assert_int_equal(ev->type[ev->type_len], '\0');
	rec_esc(r, ev->type, ev->type_len);
	rec_raw(r, "|", 1);
	rec_esc(r, ev->data, ev->data_len);
	rec_raw(r, "|", 1);
	rec_esc(r, ev->last_id, strlen(ev->last_id));
	snprintf(num, sizeof(num), "|%ld\n", ev->retry_ms);
	rec_raw(r, num, strlen(num));
	r->events++;
	if (r->stop_at != 0 && r->events == r->stop_at)
		return r->stop_value;
	return 0;
}

static void
rec_free(struct rec *r)
{
	free(r->s);
	memset(r, 0, sizeof(*r));
}

static const char *
rec_str(const struct rec *r)
{
	return r->s != NULL ? r->s : "";
}

/* -------------------------------------------------------------- feeding */

/* Feed in, which the parser takes whole; all recorded is want.  Frees. */
static void
last_feed(struct sse_parser *p, struct rec *r, const char *in,
    const char *want)
{
	assert_int_equal(sse_feed(p, in, strlen(in)), 0);
	assert_string_equal(rec_str(r), want);
	sse_free(p);
	rec_free(r);
}

/*
 * Feed s cut at the given points, then end the stream.  Leaves in r the
 * events followed by "=<last sse_feed result>,<sse_finish result>".  r is
 * reused from run to run: millions of runs must not cost millions of
 * allocations.
 */
static void
run_start(struct rec *r, struct sse_parser *p, size_t max)
{
	r->len = 0;
	r->events = 0;
	sse_init(p, max, rec_cb, r);
}

/* End the stream; rv: the last sse_feed result. */
static const char *
run_end(struct rec *r, struct sse_parser *p, int rv)
{
	char tail[64];
	bool cut;

	cut = sse_finish(p);
	sse_free(p);
	snprintf(tail, sizeof(tail), "=%d,%d", rv, cut);
	rec_raw(r, tail, strlen(tail));
	return r->s;
}

static const char *
run_cuts(struct rec *r, const char *s, size_t n, const size_t *cuts,
    size_t ncuts, size_t max)
{
	struct sse_parser p;
	size_t at = 0, to;
	int rv = 0;

	run_start(r, &p, max);
	for (size_t i = 0; i <= ncuts; i++) {
		to = i < ncuts ? cuts[i] : n;
		rv = sse_feed(&p, s + at, to - at);
		at = to;
	}
	return run_end(r, &p, rv);
}

/* The same, one byte at a time. */
static const char *
run_bytes(struct rec *r, const char *s, size_t n, size_t max)
{
	struct sse_parser p;
	int rv = 0;

	run_start(r, &p, max);
	for (size_t i = 0; i < n; i++)
		rv = sse_feed(&p, s + i, 1);
	return run_end(r, &p, rv);
}

/* The caller frees the result. */
static char *
run_whole(const char *s, size_t n, size_t max)
{
	struct rec r = { 0 };

	run_cuts(&r, s, n, NULL, 0, max);
	return r.s;
}

/* Stop at the first cut that changes the result, naming it. */
static void
expect_run(const char *got, const char *want, const char *how, size_t i,
    size_t j)
{
	if (strcmp(got, want) != 0) {
		print_error("%s cut at %zu, %zu:\nwant:\n%s\ngot:\n%s\n", how,
		    i, j, want, got);
		fail();
	}
}

static void
check_splits_one(const char *s, size_t n, size_t max, bool three,
    const char *want)
{
	struct rec r = { 0 };
	size_t c[2];

	expect_run(run_cuts(&r, s, n, NULL, 0, max), want, "whole", 0, 0);
	expect_run(run_bytes(&r, s, n, max), want, "bytewise", 0, 0);
	for (c[0] = 0; c[0] <= n; c[0]++)
		expect_run(run_cuts(&r, s, n, c, 1, max), want, "2-way", c[0],
		    0);
	for (c[0] = 0; three && c[0] <= n; c[0]++)
		for (c[1] = c[0]; c[1] <= n; c[1]++)
			expect_run(run_cuts(&r, s, n, c, 2, max), want,
			    "3-way", c[0], c[1]);
	rec_free(&r);
}

/* The stream with every LF replaced by eol. */
static char *
respell(const char *s, size_t n, const char *eol, size_t *outlen)
{
	size_t el = strlen(eol), o = 0;
	char *out = malloc(n * el + 1);

	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n') {
			memcpy(out + o, eol, el);
			o += el;
		} else
			out[o++] = s[i];
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/*
 * want is the event lines plus "=rv,cut".  The stream is tried as given
 * and, when it uses LF only, respelled with CRLF and CR.
 */
static void
check_stream_n(const char *s, size_t n, size_t max, const char *want)
{
	static const char *eols[] = { "\r\n", "\r" };
	bool three = n <= SPLIT3_MAX;
	char *alt;
	size_t altlen;

	check_splits_one(s, n, max, three, want);
	if (memchr(s, '\r', n) != NULL)
		return;
	for (size_t k = 0; k < sizeof(eols) / sizeof(eols[0]); k++) {
		alt = respell(s, n, eols[k], &altlen);
		check_splits_one(alt, altlen, max, three, want);
		free(alt);
	}
}

static void
check_stream(const char *s, const char *want)
{
	check_stream_n(s, strlen(s), 0, want);
}

/* ------------------------------------------------- the spec's examples */

static void
test_spec_intro(void **state)
{
	check_stream(
	    "data: This is the first message.\n"
	    "\n"
	    "data: This is the second message, it\n"
	    "data: has two lines.\n"
	    "\n"
	    "data: This is the third message.\n"
	    "\n",
	    "message|This is the first message.||-1\n"
	    "message|This is the second message, it\\nhas two lines.||-1\n"
	    "message|This is the third message.||-1\n"
	    "=0,0");
	check_stream(
	    "event: add\n"
	    "data: 73857293\n"
	    "\n"
	    "event: remove\n"
	    "data: 2153\n"
	    "\n"
	    "event: add\n"
	    "data: 113411\n"
	    "\n",
	    "add|73857293||-1\n"
	    "remove|2153||-1\n"
	    "add|113411||-1\n"
	    "=0,0");
}

static void
test_spec_multiline(void **state)
{
	check_stream(
	    "data: YHOO\n"
	    "data: +2\n"
	    "data: 10\n"
	    "\n",
	    "message|YHOO\\n+2\\n10||-1\n"
	    "=0,0");
}

static void
test_spec_comment_and_id(void **state)
{
	/* The last block has no blank line after it: never dispatched. */
	check_stream(
	    ": test stream\n"
	    "\n"
	    "data: first event\n"
	    "id: 1\n"
	    "\n"
	    "data:second event\n"
	    "id\n"
	    "\n"
	    "data:  third event\n",
	    "message|first event|1|-1\n"
	    "message|second event||-1\n"
	    "=0,1");
}

static void
test_spec_empty_data(void **state)
{
	/* "data" alone appends an empty line; the final block is cut off. */
	check_stream(
	    "data\n"
	    "\n"
	    "data\n"
	    "data\n"
	    "\n"
	    "data:",
	    "message|||-1\n"
	    "message|\\n||-1\n"
	    "=0,1");
}

static void
test_spec_space(void **state)
{
	/* One space after the colon is dropped, and only one. */
	check_stream(
	    "data:test\n"
	    "\n"
	    "data: test\n"
	    "\n"
	    "data:  test\n"
	    "\n"
	    "data:\ttest\n"
	    "\n",
	    "message|test||-1\n"
	    "message|test||-1\n"
	    "message| test||-1\n"
	    "message|\ttest||-1\n"
	    "=0,0");
}

static void
test_comment_only(void **state)
{
	check_stream(
	    ": test stream\n"
	    "\n"
	    ":\n"
	    ": keep-alive\n"
	    "\n"
	    "\n"
	    ":data: not a field\n"
	    "\n",
	    "=0,0");
	check_stream("", "=0,0");
	check_stream(": unterminated comment", "=0,0");
}

static void
test_id_and_retry(void **state)
{
	struct sse_parser p;
	struct rec r = { 0 };
	static const char s[] =
	    "retry: 10000\n"
	    "id: 42\n"
	    "event: update\n"
	    "data: {\"n\":1}\n"
	    "\n"
	    "data: {\"n\":2}\n"
	    "\n";

	sse_init(&p, 0, rec_cb, &r);
	assert_int_equal(sse_retry(&p), -1);
	assert_string_equal(sse_last_id(&p), "");
	assert_int_equal(sse_feed(&p, s, strlen(s)), 0);
	assert_string_equal(rec_str(&r),
	    "update|{\"n\":1}|42|10000\n"
	    "message|{\"n\":2}|42|-1\n");
	assert_int_equal(sse_retry(&p), 10000);
	assert_string_equal(sse_last_id(&p), "42");
	assert_false(sse_finish(&p));
	sse_free(&p);
	rec_free(&r);
}

/* ------------------------------------------------------------- fields */

static void
test_id_rules(void **state)
{
	/* Persists, resets to "" on a bare id, ignores an id with NUL. */
	static const char s[] =
	    "id: 1\ndata: a\n\n"
	    "data: b\n\n"
	    "id: 2\0x\ndata: c\n\n"
	    "id\ndata: d\n\n"
	    "id: 3\n\n"
	    "data: e\n\n"
	    "id:  4 \ndata: f\n\n";
	static const char want[] =
	    "message|a|1|-1\n"
	    "message|b|1|-1\n"
	    "message|c|1|-1\n"
	    "message|d||-1\n"
	    "message|e|3|-1\n"
	    "message|f| 4 |-1\n"
	    "=0,0";

	check_stream_n(s, sizeof(s) - 1, 0, want);
}

static void
test_last_id_committed_at_blank_line(void **state)
{
	struct sse_parser p;
	struct rec r = { 0 };
	static const char s1[] = "id: 7\n\nid: 8\ndata: x\n";

	sse_init(&p, 0, rec_cb, &r);
	assert_int_equal(sse_feed(&p, s1, strlen(s1)), 0);
	/* An id-only block still sets the last event ID; the cut one not. */
	assert_string_equal(sse_last_id(&p), "7");
	assert_int_equal(r.events, 0);
	assert_true(sse_finish(&p));
	assert_string_equal(sse_last_id(&p), "7");
	/* After a reconnection, events carry the ID resumed from. */
	last_feed(&p, &r, "data: y\n\n", "message|y|7|-1\n");
}

static void
test_retry_rules(void **state)
{
	struct sse_parser p;
	struct rec r = { 0 };
	static const char s[] =
	    "retry: 1500\n\n"		/* no data: no event, time still set */
	    "retry: 12a\ndata: a\n\n"
	    "retry: -1\ndata: b\n\n"
	    "retry: +5\ndata: c\n\n"
	    "retry: 1 \ndata: d\n\n"
	    "retry:\ndata: e\n\n"
	    "retry\ndata: f\n\n"
	    "retry:0\ndata: g\n\n"
	    "retry: 99999999999999999999999\ndata: h\n\n"
	    "retry: 250\nretry: 300\ndata: i\n\n";

	sse_init(&p, 0, rec_cb, &r);
	assert_int_equal(sse_feed(&p, s, 13), 0);
	assert_int_equal(sse_retry(&p), 1500);
	assert_int_equal(r.events, 0);
	assert_int_equal(sse_feed(&p, s + 13, strlen(s) - 13), 0);
	assert_string_equal(rec_str(&r),
	    "message|a||-1\n"
	    "message|b||-1\n"
	    "message|c||-1\n"
	    "message|d||-1\n"
	    "message|e||-1\n"
	    "message|f||-1\n"
	    "message|g||0\n"
	    "message|h||9223372036854775807\n"
	    "message|i||300\n");
	assert_int_equal(sse_retry(&p), 300);
	sse_free(&p);
	rec_free(&r);
}

static void
test_field_names(void **state)
{
	check_stream(
	    "Data: upper\n\n"		/* names are case-sensitive */
	    "data : spaced\n\n"		/* name is "data " */
	    " data: lead\n\n"
	    "foo: bar\ndata: known\nbar\n\n"
	    "data:a:b: c\n\n"
	    "data\n\n",
	    "message|known||-1\n"
	    "message|a:b: c||-1\n"
	    "message|||-1\n"
	    "=0,0");
}

static void
test_event_type(void **state)
{
	check_stream(
	    "event: first\n\n"		/* no data: dropped, type reset */
	    "data: 1\n\n"
	    "event: x\nevent: y\ndata: 2\n\n"
	    "event:\ndata: 3\n\n"
	    "event\ndata: 4\n\n"
	    "data: 5\nevent: late\n\n"
	    "data: 6\n\n"
	    "event:  sp\ndata: 7\n\n",
	    "message|1||-1\n"
	    "y|2||-1\n"
	    "message|3||-1\n"
	    "message|4||-1\n"
	    "late|5||-1\n"
	    "message|6||-1\n"
	    " sp|7||-1\n"
	    "=0,0");
}

static void
test_data_bytes(void **state)
{
	/* NUL and non-UTF-8 bytes pass through; data_len counts them. */
	static const char s[] = "data: a\0b\xff\ndata:\0\n\n";
	static const char t[] = "event: up\0x\ndata: y\n\n";

	check_stream_n(s, sizeof(s) - 1, 0,
	    "message|a\\0b\xff\\n\\0||-1\n"
	    "=0,0");
	/* So may the type: type_len tells it from a shorter one. */
	check_stream_n(t, sizeof(t) - 1, 0, "up\\0x|y||-1\n=0,0");
}

/* ----------------------------------------------------------- line ends */

static void
test_line_ends_mixed(void **state)
{
	check_stream(
	    "data: lf\n\n"
	    "data: crlf\r\n\r\n"
	    "data: cr\r\r"
	    "data: a\r\ndata: b\rdata: c\n\r"
	    "data: d\r\r\n"		/* CR ends the line, CRLF is blank */
	    "data: e\r\n\n"
	    "data: f\n\r\n"
	    "\r\n\n\r",			/* blank lines with nothing to send */
	    "message|lf||-1\n"
	    "message|crlf||-1\n"
	    "message|cr||-1\n"
	    "message|a\\nb\\nc||-1\n"
	    "message|d||-1\n"
	    "message|e||-1\n"
	    "message|f||-1\n"
	    "=0,0");
}

static void
test_cr_at_chunk_end(void **state)
{
	struct sse_parser p;
	struct rec r = { 0 };

	sse_init(&p, 0, rec_cb, &r);
	/* The CR ends the line at once: no waiting for the next read. */
	assert_int_equal(sse_feed(&p, "data: a\r", 8), 0);
	assert_int_equal(sse_feed(&p, "\r", 1), 0);
	assert_string_equal(rec_str(&r), "message|a||-1\n");
	/* The LF after a CR at the end of a read is not a second line end. */
	assert_int_equal(sse_feed(&p, "\n", 1), 0);
	assert_int_equal(sse_feed(&p, "data: b\r", 8), 0);
	assert_int_equal(sse_feed(&p, "\n", 1), 0);
	assert_int_equal(r.events, 1);
	assert_int_equal(sse_feed(&p, "", 0), 0);	/* keeps nothing */
	assert_int_equal(sse_feed(&p, "\r", 1), 0);
	assert_string_equal(rec_str(&r),
	    "message|a||-1\n"
	    "message|b||-1\n");
	/* Only one LF is swallowed. */
	assert_int_equal(sse_feed(&p, "data: c\r", 8), 0);
	assert_int_equal(sse_feed(&p, "\n\n", 2), 0);
	assert_int_equal(r.events, 3);
	assert_false(sse_finish(&p));
	sse_free(&p);
	rec_free(&r);
}

/* ----------------------------------------------------------------- BOM */

static void
test_bom(void **state)
{
	check_stream("\xEF\xBB\xBF" "data: x\n\n", "message|x||-1\n=0,0");
	check_stream("\xEF\xBB\xBF" ": c\n\ndata: y\n\n",
	    "message|y||-1\n=0,0");
	/* Only one: a second BOM makes the first field name unknown. */
	check_stream("\xEF\xBB\xBF\xEF\xBB\xBF" "data: x\n\ndata: z\n\n",
	    "message|z||-1\n=0,0");
	/* Not a BOM after all: the bytes belong to the first line. */
	check_stream("\xEF\xBB" "data: x\n\ndata: z\n\n",
	    "message|z||-1\n=0,0");
	check_stream("\xEF" "\n" "data: x\n\n", "message|x||-1\n=0,0");
	check_stream("\xEF\xBB", "=0,1");
	/* Only at the start of the stream. */
	check_stream("data: a\n\n\xEF\xBB\xBF" "data: b\n\ndata: c\n\n",
	    "message|a||-1\n" "message|c||-1\n=0,0");
	check_stream("data: \xEF\xBB\xBF\n\n",
	    "message|\xEF\xBB\xBF||-1\n=0,0");
}

static void
test_bom_after_finish(void **state)
{
	static const char first[] = "\xEF\xBB\xBF" "data: 1\n\n";
	struct sse_parser p;
	struct rec r = { 0 };

	sse_init(&p, 0, rec_cb, &r);
	assert_int_equal(sse_feed(&p, first, sizeof(first) - 1), 0);
	assert_false(sse_finish(&p));
	/* A new stream may start with its own BOM. */
	assert_int_equal(sse_feed(&p, "\xEF", 1), 0);
	assert_int_equal(sse_feed(&p, "\xBB\xBF" "data: 2\n\n", 11), 0);
	assert_string_equal(rec_str(&r), "message|1||-1\nmessage|2||-1\n");
	sse_free(&p);
	rec_free(&r);
}

/* ----------------------------------------------- the three APIs' streams */

static const char chat_stream[] =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n"
    "\n"
    ": OPENROUTER PROCESSING\n"
    "\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n"
    "\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo, \\\"world\\\"\\n\"}}]}\n"
    "\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n"
    "\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":4,\"total_tokens\":16}}\n"
    "\n"
    "data: [DONE]\n"
    "\n";

static const char chat_events[] =
    "message|{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}||-1\n"
    "message|{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}||-1\n"
    "message|{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo, \\\\\"world\\\\\"\\\\n\"}}]}||-1\n"
    "message|{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}||-1\n"
    "message|{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":4,\"total_tokens\":16}}||-1\n"
    "message|[DONE]||-1\n"
    "=0,0";

static const char responses_stream[] =
    "event: response.created\n"
    "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1718000000,\"status\":\"in_progress\",\"model\":\"gpt-4o-mini\",\"output\":[],\"usage\":null}}\n"
    "\n"
    "event: response.in_progress\n"
    "data: {\"type\":\"response.in_progress\",\"sequence_number\":1,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"in_progress\"}}\n"
    "\n"
    "event: response.output_item.added\n"
    "data: {\"type\":\"response.output_item.added\",\"sequence_number\":2,\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}\n"
    "\n"
    "event: response.output_text.delta\n"
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":3,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hel\"}\n"
    "\n"
    "event: response.output_text.delta\n"
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":4,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"lo\"}\n"
    "\n"
    "event: response.output_text.done\n"
    "data: {\"type\":\"response.output_text.done\",\"sequence_number\":5,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"text\":\"Hello\"}\n"
    "\n"
    "event: response.completed\n"
    "data: {\"type\":\"response.completed\",\"sequence_number\":6,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"model\":\"gpt-4o-mini\",\"output\":[{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hello\",\"annotations\":[]}]}],\"usage\":{\"input_tokens\":12,\"output_tokens\":2,\"total_tokens\":14}}}\n"
    "\n";

static const char responses_events[] =
    "response.created|{\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1718000000,\"status\":\"in_progress\",\"model\":\"gpt-4o-mini\",\"output\":[],\"usage\":null}}||-1\n"
    "response.in_progress|{\"type\":\"response.in_progress\",\"sequence_number\":1,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"in_progress\"}}||-1\n"
    "response.output_item.added|{\"type\":\"response.output_item.added\",\"sequence_number\":2,\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}||-1\n"
    "response.output_text.delta|{\"type\":\"response.output_text.delta\",\"sequence_number\":3,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hel\"}||-1\n"
    "response.output_text.delta|{\"type\":\"response.output_text.delta\",\"sequence_number\":4,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"lo\"}||-1\n"
    "response.output_text.done|{\"type\":\"response.output_text.done\",\"sequence_number\":5,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"text\":\"Hello\"}||-1\n"
    "response.completed|{\"type\":\"response.completed\",\"sequence_number\":6,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"model\":\"gpt-4o-mini\",\"output\":[{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hello\",\"annotations\":[]}]}],\"usage\":{\"input_tokens\":12,\"output_tokens\":2,\"total_tokens\":14}}}||-1\n"
    "=0,0";

static const char anthropic_stream[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lo!\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n"
    "\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n"
    "\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n"
    "\n";

static const char anthropic_events[] =
    "message_start|{\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}||-1\n"
    "content_block_start|{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}||-1\n"
    "ping|{\"type\": \"ping\"}||-1\n"
    "content_block_delta|{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}||-1\n"
    "content_block_delta|{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lo!\"}}||-1\n"
    "content_block_stop|{\"type\":\"content_block_stop\",\"index\":0}||-1\n"
    "message_delta|{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}||-1\n"
    "message_stop|{\"type\":\"message_stop\"}||-1\n"
    "=0,0";

/* An overload reported mid-stream, after the message had started. */
static const char anthropic_error_stream[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_02\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n"
    "\n"
    "event: error\n"
    "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n"
    "\n";

static const char anthropic_error_events[] =
    "message_start|{\"type\":\"message_start\",\"message\":{\"id\":\"msg_02\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}||-1\n"
    "ping|{\"type\": \"ping\"}||-1\n"
    "error|{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}||-1\n"
    "=0,0";

static void
test_chat_completions(void **state)
{
	check_stream(chat_stream, chat_events);
}

static void
test_responses(void **state)
{
	check_stream(responses_stream, responses_events);
}

static void
test_anthropic(void **state)
{
	check_stream(anthropic_stream, anthropic_events);
}

static void
test_anthropic_error(void **state)
{
	check_stream(anthropic_error_stream, anthropic_error_events);
}

/* A connection dropped mid-event: the events before it, nothing after. */
static void
test_api_stream_cut_short(void **state)
{
	size_t n = strlen(anthropic_stream);
	char *got;

	/* Cut inside the data line of the last event. */
	got = run_whole(anthropic_stream, n - 10, 0);
	assert_non_null(strstr(got, "message_delta|"));
	assert_null(strstr(got, "message_stop"));
	assert_non_null(strstr(got, "||-1\n=0,1"));
	free(got);
	/* Cut before the final blank line. */
	got = run_whole(anthropic_stream, n - 1, 0);
	assert_null(strstr(got, "message_stop"));
	free(got);
}

/* ---------------------------------------------------------- size limit */

static void
test_size_limit_line(void **state)
{
	/* max 16: a 17-byte line fails wherever the stream is cut. */
	check_stream_n("data: 0123456789a\n\n", 19, 16, "=-1,1");
	check_stream_n("data: 0123456789\n\n", 18, 16,
	    "message|0123456789||-1\n=0,0");
	/* A cut line fails as soon as it is too long, before its end. */
	check_stream_n("data: 0\n\ndata: 0123456789abcdef", 31, 16,
	    "message|0||-1\n=-1,1");
	/* Unknown fields count too; comments are skipped, not stored. */
	check_stream_n("x: 0123456789abcdef\n\n", 21, 16, "=-1,1");
	check_stream_n(": 0123456789abcdef0123456789\ndata: ok\n\n", 39, 16,
	    "message|ok||-1\n=0,0");
}

static void
test_size_limit_event(void **state)
{
	/* The data as dispatched, LFs between lines included, is limited. */
	check_stream_n("data: 0123456\ndata: 01234567\n\n", 30, 16,
	    "message|0123456\\n01234567||-1\n=0,0");
	check_stream_n("data: 0123456\ndata: 012345678\n\n", 31, 16,
	    "=-1,1");
	/* Empty data lines still add their LFs. */
	check_stream_n("data\ndata\ndata\ndata\ndata\ndata\n\n", 31, 5,
	    "message|\\n\\n\\n\\n\\n||-1\n=0,0");
	check_stream_n("data\ndata\ndata\ndata\ndata\ndata\ndata\n\n",
	    36, 5,
	    "=-1,1");
}

static void
test_size_limit_sticky(void **state)
{
	struct sse_parser p;
	struct rec r = { 0 };
	char big[4096];

	memset(big, 'x', sizeof(big));
	memcpy(big, "data: ", 6);
	sse_init(&p, 1024, rec_cb, &r);
	assert_int_equal(sse_feed(&p, big, 1000), 0);
	assert_int_equal(sse_feed(&p, big, 1000), SSE_ETOOBIG);
	/* The stream is not resynchronised: later input is refused. */
	assert_int_equal(sse_feed(&p, "\n\ndata: x\n\n", 11), SSE_ETOOBIG);
	assert_int_equal(r.events, 0);
	/* Bounded memory: nothing near the stream's size was kept. */
	assert_true(p.line.cap <= 1024 + 2);
	assert_true(sse_finish(&p));
	last_feed(&p, &r, "data: x\n\n", "message|x||-1\n");
}

static void
test_large_event(void **state)
{
	/* 1 MiB of data in 4 KiB lines, fed in odd-sized reads. */
	enum { LINES = 256, LINE = 4096 };
	size_t n = LINES * (6 + LINE + 1) + 1, o = 0;
	char *s = malloc(n);
	struct sse_parser p;
	struct rec r = { 0 };
	size_t step = 1000;

	assert_non_null(s);
	for (int i = 0; i < LINES; i++) {
		memcpy(s + o, "data: ", 6);
		memset(s + o + 6, 'a' + i % 26, LINE);
		s[o + 6 + LINE] = '\n';
		o += 6 + LINE + 1;
	}
	s[o++] = '\n';
	assert_int_equal(o, n);
	sse_init(&p, 0, rec_cb, &r);
	for (o = 0; o < n; o += step)
		assert_int_equal(sse_feed(&p, s + o,
		    n - o < step ? n - o : step), 0);
	assert_int_equal(r.events, 1);
	assert_int_equal(r.len, strlen("message|") + LINES * LINE +
	    (LINES - 1) * 2 + strlen("||-1\n"));
	sse_free(&p);
	rec_free(&r);
	free(s);
}

/* ------------------------------------------------ stop, finish, errors */

static void
test_callback_stops(void **state)
{
	struct sse_parser p;
	struct rec r = { .stop_at = 2, .stop_value = 7 };

	sse_init(&p, 0, rec_cb, &r);
	assert_int_equal(sse_feed(&p, chat_stream, strlen(chat_stream)), 7);
	assert_int_equal(r.events, 2);
	assert_int_equal(sse_feed(&p, "data: more\n\n", 12), 7);
	assert_int_equal(r.events, 2);
	sse_finish(&p);
	/* After sse_finish the parser serves a new stream. */
	r.stop_at = 0;
	assert_int_equal(sse_feed(&p, "data: again\n\n", 13), 0);
	assert_int_equal(r.events, 3);
	sse_free(&p);
	rec_free(&r);
}

static void
test_callback_stops_split(void **state)
{
	size_t n = strlen(anthropic_stream);

	/* Wherever the stream is cut, the same events come before the stop. */
	for (size_t c = 0; c <= n; c++) {
		struct sse_parser p;
		struct rec r = { .stop_at = 3, .stop_value = 1 };
		int rv;

		sse_init(&p, 0, rec_cb, &r);
		rv = sse_feed(&p, anthropic_stream, c);
		if (rv == 0)
			rv = sse_feed(&p, anthropic_stream + c, n - c);
		assert_int_equal(rv, 1);
		assert_int_equal(r.events, 3);
		assert_non_null(strstr(rec_str(&r), "\nping|"));
		sse_free(&p);
		rec_free(&r);
	}
}

static void
test_finish_discards(void **state)
{
	struct rec r = { 0 };
	struct sse_parser p;

	sse_init(&p, 0, rec_cb, &r);
	assert_int_equal(sse_feed(&p, "event: e\ndata: lost\n", 20), 0);
	assert_true(sse_finish(&p));
	assert_int_equal(r.events, 0);
	/* Nothing of the discarded event leaks into the next stream. */
	assert_int_equal(sse_feed(&p, "data: kept\n\n", 12), 0);
	assert_false(sse_finish(&p));
	assert_string_equal(rec_str(&r), "message|kept||-1\n");
	/* A cut line is discarded too; a cut comment is no loss. */
	assert_int_equal(sse_feed(&p, "data: par", 9), 0);
	assert_true(sse_finish(&p));
	assert_int_equal(sse_feed(&p, ": keep-al", 9), 0);
	assert_false(sse_finish(&p));
	/* A stream that stops after a CR needs no LF. */
	assert_int_equal(sse_feed(&p, "data: cr\r\r", 10), 0);
	assert_false(sse_finish(&p));
	assert_int_equal(sse_feed(&p, "\ndata: next\n\n", 13), 0);
	assert_string_equal(rec_str(&r),
	    "message|kept||-1\nmessage|cr||-1\nmessage|next||-1\n");
	sse_free(&p);
	sse_free(&p);		/* harmless twice */
	rec_free(&r);
}

static void
test_strerror(void **state)
{
	assert_string_equal(sse_strerror(0), "success");
	assert_non_null(strstr(sse_strerror(SSE_ETOOBIG), "size limit"));
	assert_non_null(strstr(sse_strerror(SSE_ENOMEM), "memory"));
	assert_non_null(strstr(sse_strerror(5), "consumer"));
	assert_non_null(sse_strerror(-99));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_intro),
		cmocka_unit_test(test_spec_multiline),
		cmocka_unit_test(test_spec_comment_and_id),
		cmocka_unit_test(test_spec_empty_data),
		cmocka_unit_test(test_spec_space),
		cmocka_unit_test(test_comment_only),
		cmocka_unit_test(test_id_and_retry),
		cmocka_unit_test(test_id_rules),
		cmocka_unit_test(test_last_id_committed_at_blank_line),
		cmocka_unit_test(test_retry_rules),
		cmocka_unit_test(test_field_names),
		cmocka_unit_test(test_event_type),
		cmocka_unit_test(test_data_bytes),
		cmocka_unit_test(test_line_ends_mixed),
		cmocka_unit_test(test_cr_at_chunk_end),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_bom_after_finish),
		cmocka_unit_test(test_chat_completions),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_anthropic),
		cmocka_unit_test(test_anthropic_error),
		cmocka_unit_test(test_api_stream_cut_short),
		cmocka_unit_test(test_size_limit_line),
		cmocka_unit_test(test_size_limit_event),
		cmocka_unit_test(test_size_limit_sticky),
		cmocka_unit_test(test_large_event),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_callback_stops_split),
		cmocka_unit_test(test_finish_discards),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
