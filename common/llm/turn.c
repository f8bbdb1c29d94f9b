/*
 * turn.c — one exchange of the transcript: the input a turn carries
 * (text, tool results) as owned, scrubbed copies, and how the results of
 * a turn pair with the calls of the answer before it.
 *
 * Every API refuses a request whose results do not match the calls
 * before them (Anthropic and Chat Completions: a tool_result or a "tool"
 * message without its call; a call left without a result).  The pairing
 * is made when a request is built, so no transcript, however it was cut
 * or loaded, can be refused for it.
 */
#include <stdlib.h>
#include <string.h>

#include "common/llm/impl.h"

/* What a call whose result never came says to the model. */
#define NO_RESULT	"(no result: the call was not run)"

/* A copy that is valid UTF-8, so that it can always go into JSON. */
static char *
clean_dup(const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = xstrdup(s);
	utf8_scrub(d, strlen(d));
	return d;
}

void
llm_turn_input(struct llm_turn *t, const struct llm_input *in)
{
	memset(t, 0, sizeof(*t));
	t->user = clean_dup(in->text);
	if (in->nresults == 0)
		return;
	t->results = xcalloc(in->nresults, sizeof(*t->results));
	for (size_t i = 0; i < in->nresults; i++) {
		const struct llm_tool_result *r = &in->results[i];
		struct llm_turn_result *o = &t->results[i];

		o->id = clean_dup(r->id != NULL ? r->id : "");
		o->name = clean_dup(r->name != NULL ? r->name : "");
		o->content = clean_dup(r->content != NULL ? r->content : "");
		o->error = r->error;
	}
	t->nresults = in->nresults;
}

struct llm_tool_call *
llm_tool_calls_copy(const struct llm_tool_call *calls, size_t n)
{
	struct llm_tool_call *c = n > 0 ? xcalloc(n, sizeof(*c)) : NULL;

	for (size_t i = 0; i < n; i++) {
		c[i].id = xstrdup(calls[i].id != NULL ? calls[i].id : "");
		c[i].name = xstrdup(calls[i].name != NULL ? calls[i].name : "");
		c[i].arguments = xstrdup(calls[i].arguments != NULL ?
		    calls[i].arguments : "");
	}
	return c;
}

void
llm_tool_calls_free(struct llm_tool_call *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].id);
		free(c[i].name);
		free(c[i].arguments);
	}
	free(c);
}

void
llm_turn_free(struct llm_turn *t)
{
	for (size_t i = 0; i < t->nresults; i++) {
		free(t->results[i].id);
		free(t->results[i].name);
		free(t->results[i].content);
	}
	free(t->results);
	llm_tool_calls_free(t->calls, t->ncalls);
	free(t->user);
	free(t->assistant);
	free(t->response_id);
	memset(t, 0, sizeof(*t));
}

bool
llm_turn_has_results(const struct llm_turn *t)
{
	return t->nresults > 0;
}

const struct llm_turn *
llm_turn_prev(const struct llm_session *s, size_t i, size_t first)
{
	return i > first && i <= s->nturns ? &s->turns[i - 1] : NULL;
}

static const struct llm_turn_result *
result_for(const struct llm_turn *t, const char *id)
{
	for (size_t i = 0; i < t->nresults; i++) {
		if (strcmp(t->results[i].id, id) == 0)
			return &t->results[i];
	}
	return NULL;
}

struct llm_tool_result *
llm_turn_pairs(const struct llm_turn *prev, const struct llm_turn *t,
    size_t *n)
{
	struct llm_tool_result *out;

	*n = 0;
	if (prev == NULL || prev->ncalls == 0)
		return NULL;
	out = xcalloc(prev->ncalls, sizeof(*out));
	for (size_t i = 0; i < prev->ncalls; i++) {
		const struct llm_tool_call *c = &prev->calls[i];
		const struct llm_turn_result *r = result_for(t, c->id);

		out[i].id = c->id;
		out[i].name = c->name;
		out[i].content = r != NULL ? r->content : NO_RESULT;
		out[i].error = r != NULL ? r->error : true;
	}
	*n = prev->ncalls;
	return out;
}
