/*
 * context.c — keeping a conversation within its window: what a request
 * would weigh, where the transcript may be cut, the transcript as text
 * for a summary, compaction into that summary, and old tool results
 * elided to one line each.
 *
 * Nothing here drops a turn by itself: the caller (the worker) measures
 * with llm_session_estimate and compacts before sending, so trimming in
 * session.c stays a last resort.  Elision is deterministic (a result's
 * line depends on it alone), so that a prefix that was elided once reads
 * the same in every later request and stays in the provider's cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/llm/impl.h"
#include "common/log.h"

#define SUMMARY_HEAD	"Summary of the earlier conversation (written by " \
	"you):\n\n"
#define SUMMARY_ACK	"Understood. I will go on from this summary."
#define ELIDED_TAIL	", seen earlier, elided]"
#define NOTE		"[the oldest %zu bytes of the conversation are " \
	"left out]\n"

size_t
llm_turn_tokens(const struct llm_turn *t)
{
	size_t n = llm_tokens_estimate(t->user) +
	    llm_tokens_estimate(t->assistant);

	for (size_t i = 0; i < t->nresults; i++)
		n += llm_tokens_estimate(t->results[i].content) +
		    llm_tokens_estimate(t->results[i].id);
	for (size_t i = 0; i < t->ncalls; i++)
		n += llm_tokens_estimate(t->calls[i].name) +
		    llm_tokens_estimate(t->calls[i].arguments) +
		    llm_tokens_estimate(t->calls[i].id);
	return n;
}

size_t
llm_tools_tokens(const struct llm_session *s)
{
	char *text;
	size_t n;

	if (s->tools == NULL)
		return 0;
	text = json_dumps(s->tools, JSON_COMPACT);
	n = llm_tokens_estimate(text);
	free(text);
	return n;
}

size_t
llm_session_budget(const struct llm_session *s)
{
	int64_t b = s->conf.context_tokens - s->conf.max_tokens;

	return b > 0 ? (size_t)b : 0;
}

size_t
llm_session_estimate(const struct llm_session *s, const struct llm_input *in)
{
	struct llm_turn next;
	size_t n;

	llm_turn_input(&next, in);
	n = llm_tokens_estimate(s->system) + llm_tools_tokens(s) +
	    llm_turn_tokens(&next);
	/* Responses holds the whole transcript on its side: it counts. */
	for (size_t i = 0; i < s->nturns; i++)
		n += llm_turn_tokens(&s->turns[i]);
	llm_turn_free(&next);
	return n;
}

size_t
llm_session_cut_point(const struct llm_session *s, size_t keep)
{
	size_t i = s->nturns > keep ? s->nturns - keep : 0;

	while (i < s->nturns && llm_turn_has_results(&s->turns[i]))
		i++;
	return i;
}

/*
 * The results a kept turn carries for calls that go into the summary
 * would answer calls no longer there: they become text of the turn, so
 * the model still reads what its tools said.
 */
static void
results_into_text(struct llm_turn *t)
{
	size_t cap = 0, i;
	char *s = NULL;
	FILE *f;

	if (t->nresults == 0 || (f = open_memstream(&s, &cap)) == NULL)
		return;
	fputs("The results of your last tool calls (the calls are in the "
	    "summary above):\n", f);
	for (i = 0; i < t->nresults; i++) {
		const struct llm_turn_result *r = &t->results[i];

		fprintf(f, "\n## %s%s\n%s\n", r->name ? r->name : "",
		    r->error ? " (failed)" : "", r->content ? r->content : "");
		free(r->id);
		free(r->name);
		free(r->content);
	}
	if (t->user != NULL && *t->user != '\0')
		fprintf(f, "\n%s", t->user);
	fclose(f);
	free(t->results);
	t->results = NULL;
	t->nresults = 0;
	free(t->user);
	t->user = s;
}

int
llm_session_compact(struct llm_session *s, size_t n, const char *summary)
{
	struct llm_turn t;
	char err[256];

	if (n == 0 || n > s->nturns || s->busy != NULL || summary == NULL)
		return -1;
	if (n < s->nturns)
		results_into_text(&s->turns[n]);
	memset(&t, 0, sizeof(t));
	t.user = xasprintf("%s%s", SUMMARY_HEAD, summary);
	utf8_scrub(t.user, strlen(t.user));
	t.assistant = xstrdup(SUMMARY_ACK);
	t.summary = true;
	t.time = s->turns[n - 1].time;
	/* What the compacted turns cost stays counted, in the summary. */
	for (size_t i = 0; i < n; i++) {
		llm_usage_add(&t.usage, &s->turns[i].usage);
		llm_turn_free(&s->turns[i]);
	}
	s->turns[0] = t;
	memmove(&s->turns[1], &s->turns[n], (s->nturns - n) *
	    sizeof(s->turns[0]));
	s->nturns -= n - 1;
	/* The server's copy is the long one: resend the compacted one. */
	free(s->response_id);
	s->response_id = NULL;
	log_notice("llm: %s: %zu turns compacted into a summary of %zu "
	    "bytes", s->api->name, n, strlen(summary));
	if (s->autosave != NULL &&
	    llm_session_save(s, s->autosave, err, sizeof(err)) != 0)
		log_err("llm: saving the session: %s", err);
	return 0;
}

static bool
ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);

	return n >= m && memcmp(s + n - m, tail, m) == 0;
}

void
llm_session_elide_results(struct llm_session *s, size_t before)
{
	if (before > s->nturns)
		before = s->nturns;
	for (size_t i = 0; i < before; i++) {
		struct llm_turn *t = &s->turns[i];

		for (size_t j = 0; j < t->nresults; j++) {
			struct llm_turn_result *r = &t->results[j];
			char *line;

			if (ends_with(r->content, ELIDED_TAIL))
				continue;
			line = xasprintf("[%s: %zu bytes%s", r->name,
			    strlen(r->content), ELIDED_TAIL);
			/* A short result is cheaper than its line. */
			if (strlen(line) >= strlen(r->content)) {
				free(line);
				continue;
			}
			free(r->content);
			r->content = line;
		}
	}
}

static void
add_line(struct llm_buf *b, const char *head, const char *text,
    const char *tail)
{
	(void)llm_buf_add(b, head, strlen(head));
	(void)llm_buf_add(b, text, strlen(text));
	(void)llm_buf_add(b, tail, strlen(tail));
}

static void
turn_text(struct llm_buf *b, const struct llm_turn *t)
{
	for (size_t i = 0; i < t->nresults; i++)
		add_line(b, t->results[i].error ? "result (error): " :
		    "result: ", t->results[i].content, "\n");
	if (t->user != NULL)
		add_line(b, "user: ", t->user, "\n");
	if (t->assistant != NULL && *t->assistant != '\0')
		add_line(b, "assistant: ", t->assistant, "\n");
	for (size_t i = 0; i < t->ncalls; i++) {
		add_line(b, "call ", t->calls[i].name, "(");
		add_line(b, "", t->calls[i].arguments, ")\n");
	}
}

char *
llm_session_transcript(const struct llm_session *s, size_t from, size_t to,
    size_t max)
{
	struct llm_buf b = { 0 };
	char note[128], *out;
	size_t start, nlen;

	if (to > s->nturns)
		to = s->nturns;
	(void)llm_buf_add(&b, "", 0);
	for (size_t i = from; i < to; i++)
		turn_text(&b, &s->turns[i]);
	if (b.len <= max)
		return b.p;
	/* Too long: the oldest part goes, from a line start if there is one. */
	/* Sized with the largest count it can say. */
	nlen = (size_t)snprintf(note, sizeof(note), NOTE, b.len);
	if (max <= nlen) {
		out = xstrndup(note, utf8_prefix(note, max));
		llm_buf_free(&b);
		return out;
	}
	start = b.len - (max - nlen);
	for (size_t i = start; i < b.len; i++) {
		if (b.p[i - 1] == '\n') {
			start = i;
			break;
		}
	}
	while (start < b.len && ((unsigned char)b.p[start] & 0xc0) == 0x80)
		start++;
	snprintf(note, sizeof(note), NOTE, start);
	out = xasprintf("%s%s", note, b.p + start);
	llm_buf_free(&b);
	return out;
}
