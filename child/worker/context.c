/*
 * context.c — a domain's conversation kept within its window: the tool
 * results owed to the model, the measure of every turn before it is
 * sent, compaction into a summary the model writes, old tool results
 * elided; what it learns goes to the domain's memory (memory.c).
 *
 * Nothing is dropped silently.  Before each turn the request is measured
 * (llm_session_estimate, a deliberately high count) against what the
 * window can carry.  Too large, the tool results of older turns are cut
 * to one line each; still too large, the turns before the directive (then
 * all but the last) are replaced by a summary of them that the model
 * itself writes in a separate request.  A directive starts with a fresh
 * summary when the history has grown past history_tokens, so that a long
 * life costs about what a short one does.  Each compaction is reported to
 * the master as progress ("compaction") and kept in the memory file,
 * <task>/memory/<domain>.md, with one line per finished directive: it
 * outlives workers and session files, and a session that starts empty
 * is given it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child/worker/failover.h"
#include "child/worker/worker.h"
#include "common/llm/llm.h"
#include "common/log.h"
#include "common/redact.h"
#include "common/util.h"

#define SUMMARY_TOKENS		1500		/* the summary's answer cap */

/* A turn waiting for a compaction to end. */
struct pending_send {
	struct worker *cx;
	char *text;
	const struct llm_callbacks *cbs;
	void *arg;
	struct llm_request **slot;
	struct llm_session *summariser;
	size_t upto;			/* turns [0, upto) are summarised */
	size_t turns_before;		/* the session's turns before it */
	bool first;			/* the directive's first turn */
	size_t tokens_before;
	struct llm_usage summary_usage;	/* the summary's cost: the turn's */
};

/* ---------------------------------------------------------- results */

void
worker_tool_result(struct worker *cx, const char *id, const char *name,
    const char *content, bool is_error)
{
	json_t *r = json_pack("{s:s, s:s, s:s, s:b}", "id", id, "name", name,
	    "content", content, "error", is_error);

	/* A file or a check's output read by the model may hold a key. */
	redact_json(cx->redact, r);
	json_array_append_new(cx->pending, r);
}

/* The owed results as the provider layer's input (views into pending). */
static struct llm_tool_result *
pending_results(const struct worker *cx, size_t *n)
{
	struct llm_tool_result *res;
	const json_t *o;
	size_t i;

	*n = json_array_size(cx->pending);
	if (*n == 0)
		return NULL;
	res = xcalloc(*n, sizeof(*res));
	json_array_foreach(cx->pending, i, o) {
		res[i].id = jget_str(o, "id");
		res[i].name = jget_str(o, "name");
		res[i].content = jget_str(o, "content");
		res[i].error = jget_bool(o, "error");
	}
	return res;
}

/* ---------------------------------------------------------- sending */

static void
on_turn_done(const struct llm_result *res, void *arg)
{
	struct pending_send *ps = arg;
	struct worker *cx = ps->cx;
	const struct llm_callbacks *cbs = ps->cbs;
	void *cb_arg = ps->arg;
	struct llm_result with_summary = *res;

	*ps->slot = NULL;
	/* The results went with a turn the session kept: none is owed. */
	if (res->ok)
		json_array_clear(cx->pending);
	/* A summary asked for this turn is paid for with it. */
	llm_usage_add(&with_summary.usage, &ps->summary_usage);
	free(ps->text);
	free(ps);
	cbs->on_done(&with_summary, cb_arg);
}

static void
on_turn_delta(const char *piece, size_t len, void *arg)
{
	struct pending_send *ps = arg;

	if (ps->cbs->on_delta != NULL)
		ps->cbs->on_delta(piece, len, ps->arg);
}

static void
on_turn_retry(const struct llm_retry *rt, void *arg)
{
	struct pending_send *ps = arg;

	if (ps->cbs->on_retry != NULL)
		ps->cbs->on_retry(rt, ps->arg);
}

static const struct llm_callbacks turn_cbs = {
	.on_delta = on_turn_delta,
	.on_retry = on_turn_retry,
	.on_done = on_turn_done,
};

/* The turn itself, the owed results with it: 0, or -1 (ps freed). */
static int
send_turn(struct pending_send *ps)
{
	struct worker *cx = ps->cx;
	struct llm_input in = { .text = ps->text };
	struct llm_tool_result *res;

	res = pending_results(cx, &in.nresults);
	in.results = res;
	(void)failover_send(cx->fo, cx->session, &in, &turn_cbs, ps, ps->slot);
	free(res);
	if (*ps->slot != NULL)
		return 0;
	free(ps->text);
	free(ps);
	return -1;
}

static size_t
estimate(const struct worker *cx, const char *text)
{
	struct llm_input in = { .text = text };
	struct llm_tool_result *res = pending_results(cx, &in.nresults);
	size_t n;

	in.results = res;
	n = llm_session_estimate(cx->session, &in);
	free(res);
	return n;
}

/*
 * Every turn was summarised, the calls of the owed results with them: the
 * results go to the model as text before the turn's own, so that a tool
 * result it has not seen is not lost.
 */
static void
results_as_text(struct pending_send *ps)
{
	struct worker *cx = ps->cx;
	const json_t *o;
	size_t i, cap = 0;
	char *s = NULL;
	FILE *f;

	if (json_array_size(cx->pending) == 0 ||
	    (f = open_memstream(&s, &cap)) == NULL)
		return;
	fprintf(f, "The results of your last tool calls (the calls are in "
	    "the summary above):\n");
	json_array_foreach(cx->pending, i, o)
		fprintf(f, "\n## %s%s\n%s\n", jget_str(o, "name"),
		    jget_bool(o, "error") ? " (failed)" : "",
		    jget_str(o, "content"));
	if (ps->text != NULL)
		fprintf(f, "\n%s", ps->text);
	fclose(f);
	free(ps->text);
	ps->text = s;
	json_array_clear(cx->pending);
}

/* The conversation so far: system prompt, tools and transcript. */
static size_t
history(const struct worker *cx)
{
	struct llm_input none = { .text = NULL };

	return llm_session_estimate(cx->session, &none);
}

/* A failure of the turn before it was sent, as its on_done. */
static void
fail_turn(struct pending_send *ps, enum llm_error error, const char *why)
{
	struct llm_result res = {
		.ok = false, .text = "", .finish = "", .code = "",
		.model = "", .error = error, .message = why,
		.usage = ps->summary_usage,
	};

	*ps->slot = NULL;
	free(ps->text);
	ps->cbs->on_done(&res, ps->arg);
	free(ps);
}

static void
on_summary(const struct llm_result *res, void *arg)
{
	struct pending_send *ps = arg;
	struct worker *cx = ps->cx;
	char text[256];
	size_t after;

	llm_session_free(ps->summariser);
	ps->summariser = NULL;
	*ps->slot = NULL;
	llm_usage_add(&ps->summary_usage, &res->usage);
	if (!res->ok || res->text_len == 0) {
		fail_turn(ps, res->ok ? LLM_ERR_PARSE : res->error, res->ok ?
		    "the summary of the conversation came back empty" :
		    res->message);
		return;
	}
	if (llm_session_compact(cx->session, ps->upto, res->text) != 0) {
		fail_turn(ps, LLM_ERR_INVALID, "the conversation could not "
		    "be compacted");
		return;
	}
	/* The calls of the owed results are in the summary now: a new
	 * directive needs no more of them, a directive under way does. */
	if (ps->upto == ps->turns_before && ps->first)
		json_array_clear(cx->pending);
	else if (ps->upto == ps->turns_before)
		results_as_text(ps);
	/* The directive's own turns now follow the summary turn. */
	if (cx->directive_turn != (size_t)-1)
		cx->directive_turn = cx->directive_turn >= ps->upto ?
		    cx->directive_turn - ps->upto + 1 : 1;
	memory_update(cx, res->text, NULL);
	after = estimate(cx, ps->text);
	snprintf(text, sizeof(text), "%zu turns (about %zu tokens) replaced "
	    "by a summary; the next request holds about %zu", ps->upto,
	    ps->tokens_before, after);
	log_notice("compaction: %s", text);
	worker_progress(cx, "compaction", text);
	if (after > llm_session_budget(cx->session)) {
		fail_turn(ps, LLM_ERR_INVALID, "even compacted, the "
		    "conversation does not fit in context_tokens");
		return;
	}
	if (send_turn(ps) != 0)
		log_err("compaction: the turn could not be sent");
}

/* Ask a separate session for a summary of turns [0, upto). */
static int
start_summary(struct pending_send *ps, size_t upto)
{
	static const struct llm_callbacks cbs = { .on_done = on_summary };
	struct worker *cx = ps->cx;
	/* On the provider the conversation is on now. */
	struct llm_conf conf = cx->fo->chain.conf[cx->fo->current];
	char err[256], *system, *transcript;
	size_t room;

	if ((system = prompt_compact_system(cx, err, sizeof(err))) == NULL) {
		log_err("compaction: %s", err);
		return -1;
	}
	conf.max_tokens = SUMMARY_TOKENS;
	ps->summariser = llm_session_new(cx->engine, &conf, system, err,
	    sizeof(err));
	free(system);
	if (ps->summariser == NULL) {
		log_err("compaction: %s", err);
		return -1;
	}
	/* What the summariser's window holds, in bytes at 3 a token. */
	room = llm_session_budget(ps->summariser) * 3;
	room = room > 4096 ? room - 4096 : room / 2;
	transcript = llm_session_transcript(cx->session, 0, upto, room);
	ps->upto = upto;
	ps->turns_before = llm_session_turns(cx->session);
	*ps->slot = llm_session_send(ps->summariser, transcript, &cbs, ps);
	free(transcript);
	if (*ps->slot != NULL)
		return 0;
	llm_session_free(ps->summariser);
	ps->summariser = NULL;
	return -1;
}

/*
 * How many of the first turns to replace by a summary before the next
 * turn, 0 for none: all of them when a directive starts past
 * history_tokens; when the turn would not fit, those before the
 * directive, or all when the directive's own turns are the problem.
 */
static size_t
compact_upto(const struct worker *cx, bool first, bool too_big,
    size_t turns)
{
	if (turns == 0)
		return 0;
	if (first && history(cx) > (size_t)cx->history_tokens)
		return turns;
	if (!too_big)
		return 0;
	return cx->directive_turn > 0 && cx->directive_turn < turns ?
	    cx->directive_turn : turns;
}

/*
 * Send text (NULL: the owed results alone) in the domain's session, with
 * the owed tool results, after making room for it when needed.
 */
int
context_send(struct worker *cx, const char *text,
    const struct llm_callbacks *cbs, void *arg, struct llm_request **slot)
{
	struct pending_send *ps = xcalloc(1, sizeof(*ps));
	size_t budget = llm_session_budget(cx->session);
	size_t turns = llm_session_turns(cx->session), need, upto;
	bool first = text != NULL && cx->directive_turn == (size_t)-1;

	ps->cx = cx;
	ps->text = text != NULL ? xstrdup(text) : NULL;
	ps->cbs = cbs;
	ps->arg = arg;
	ps->slot = slot;
	ps->first = first;
	if (first)
		cx->directive_turn = turns;
	need = estimate(cx, text);
	if (need > budget && turns > 2) {
		/* What the model read two turns ago it has acted on. */
		llm_session_elide_results(cx->session, turns - 2);
		need = estimate(cx, text);
	}
	ps->tokens_before = need;
	upto = compact_upto(cx, first, need > budget, turns);
	if (upto == 0)
		return send_turn(ps);
	if (start_summary(ps, upto) == 0)
		return 0;
	free(ps->text);
	free(ps);
	return -1;
}

/*
 * A directive has ended: what its tools returned is elided from now on,
 * and the memory gains its line.
 */
void
context_directive_end(struct worker *cx, int64_t directive, bool ok,
    const char *summary)
{
	char *line, *clean;

	if (cx->session != NULL)
		llm_session_elide_results(cx->session,
		    llm_session_turns(cx->session));
	cx->directive_turn = (size_t)-1;
	/* Redacted before the cut: a key across it would leave a piece. */
	clean = redact_str(cx->redact, summary != NULL ? summary : "");
	line = xasprintf("- directive %lld %s: %.400s", (long long)directive,
	    ok ? "done" : "failed", clean);
	free(clean);
	for (char *p = line; *p != '\0'; p++) {
		if (*p == '\n')
			*p = ' ';
	}
	memory_update(cx, NULL, line);
	free(line);
}
