/*
 * llm.h — the assistant session's provider layer: one interface over three
 * HTTP APIs (OpenAI Responses, Chat Completions, Anthropic Messages).
 *
 * An engine is a curl multi handle driven by a libuv loop (uv_poll for the
 * sockets, a uv_timer for curl's timeouts), so a child keeps answering its
 * master while a model writes.  A session is one conversation: its
 * provider conf, key, system prompt, transcript, the provider's handles on
 * it (response id, conversation id), and usage totals.  A turn is sent
 * with llm_session_send; the answer streams back through on_delta and ends
 * in exactly one on_done, after retries (DESIGN.md "Assistant sessions").
 *
 * Context size.  Chat Completions and Anthropic keep no history: the
 * session resends it.  The caller keeps it within context_tokens -
 * max_tokens (llm_session_estimate, llm_session_compact); should a
 * request still not fit, the oldest whole turns are left out, logged, and
 * never so that a window opens on tool results.  Local servers cannot be
 * told a window per request on their OpenAI-compatible endpoint: Ollama
 * ignores options.num_ctx on /v1 (start it with OLLAMA_CONTEXT_LENGTH or a
 * Modelfile's PARAMETER num_ctx), llama-server sizes it with --ctx-size at
 * start (divided by --parallel).  So context_tokens must equal what the
 * server was started with; the request carries max_tokens (8192 unless
 * configured, at most a quarter of a configured window), the part of the
 * window it can carry.  Responses keeps history on the server and is sent
 * "truncation": "auto" so an overflow drops old turns, never fails.
 *
 * Caching.  Anthropic requests mark the last tool, the system prompt and
 * the end of the history as cache breakpoints; OpenAI requests carry
 * prompt_cache_key when one is set.  Both cache a prefix: the transcript
 * is only ever changed at its start (compaction) or, deterministically,
 * by eliding old tool results.
 *
 * Keys are read once, when the session is made, and live only in it and in
 * the request's Authorization / x-api-key header: never in a message, a
 * log line or the session file.
 */
#ifndef COMMON_LLM_H
#define COMMON_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>

#include "common/config.h"

struct llm_engine;
struct llm_session;
struct llm_request;

enum llm_error {
	LLM_OK = 0,
	LLM_ERR_HTTP,		/* an error status the provider explained */
	LLM_ERR_TRANSPORT,	/* connection refused, reset, cut short */
	LLM_ERR_TIMEOUT,	/* connect timeout, or silence > timeout */
	LLM_ERR_RATE_LIMITED,	/* come back at retry_until */
	LLM_ERR_CANCELLED,
	LLM_ERR_STREAM,		/* an error event inside a 200 stream */
	LLM_ERR_PARSE,		/* an answer that is not the API's format */
	LLM_ERR_INVALID,	/* refused before sending (busy, too long) */
};

struct llm_usage {
	int64_t input;		/* prompt tokens, cached ones included */
	int64_t output;		/* answer tokens, reasoning included */
	int64_t cached;		/* prompt tokens read from the cache */
	int64_t reasoning;
	double cost;		/* in the prices' currency; 0 if unpriced */
	bool priced;		/* prices were configured */
	unsigned calls;		/* successful calls summed here */
};

/*
 * Tools.  A session may offer its model tools: a JSON array in one neutral
 * form, [{"name", "description", "parameters": JSON schema}], which each
 * API writes in its own ("tools" of Chat Completions, function tools of
 * Responses, input_schema of Anthropic).  A tool with "strict": true is
 * sent in the API's strict mode (its schema must then say
 * additionalProperties false at every level).  An answer may then call
 * them, several in one turn; the next turn carries their results.  A call
 * whose result the next turn does not carry is sent with one saying it
 * was not run; a result for no call of the answer before is left out.
 * Anthropic takes a call's input as an object: arguments that are not one
 * (a cut answer's) are sent as {}, and the result should say why.
 */
struct llm_tool_call {
	char *id;		/* the provider's call id, echoed in the result */
	char *name;
	char *arguments;	/* JSON text as the model wrote it: may be
				 * invalid, or cut when the answer was */
};

struct llm_tool_result {
	const char *id;		/* the call's id */
	const char *name;	/* the call's tool name */
	const char *content;	/* what the tool said, for the model */
	bool error;		/* the call failed; content says why */
};

/* Own copies of n calls (NULL strings become ""), and their release. */
struct llm_tool_call *llm_tool_calls_copy(const struct llm_tool_call *,
    size_t n);
void llm_tool_calls_free(struct llm_tool_call *, size_t n);

/* One user turn: text, the results of the last answer's calls, or both
 * (results first).  Every call of the last answer must have its result. */
struct llm_input {
	const char *text;	/* NULL: results only */
	const struct llm_tool_result *results;
	size_t nresults;
};

struct llm_result {
	bool ok;
	const char *text;	/* the answer ("" on failure) */
	size_t text_len;
	const struct llm_tool_call *calls;	/* the tools it called */
	size_t ncalls;
	const char *model;	/* the model that answered (the server's name
				 * for it when it said one), or "" */
	bool truncated;		/* stopped by max_tokens */
	const char *finish;	/* the provider's stop reason, or "" */
	struct llm_usage usage;	/* this request: every attempt's reported
				 * tokens (failed, cut and cancelled ones
				 * too), priced; calls counts only the
				 * successful call (0 or 1) */
	enum llm_error error;
	int http_status;	/* last status seen, 0 if none; for an error
				 * event in a stream, the status it stands
				 * for */
	const char *code;	/* the provider's error code, or "" */
	const char *message;	/* why it failed, for people; "" on success */
	time_t retry_until;	/* LLM_ERR_RATE_LIMITED: resume then */
	unsigned attempts;
};

/*
 * A retry about to be waited for.  reason is the failed attempt as the
 * result would have said it, the provider's message included and the key
 * blotted out: "HTTP 529: Overloaded", "error in the stream:
 * overloaded_error: Overloaded", "no answer from the server for 300000
 * ms", followed by " (as the server asked)" when the wait is the server's
 * (Retry-After, retry-after-ms) rather than the backoff's.
 */
struct llm_retry {
	unsigned attempt;	/* the attempt that starts after the wait */
	unsigned max_attempts;	/* attempts allowed in all (>= attempt) */
	uint64_t delay_ms;	/* the wait */
	bool server_asked;	/* the wait is the server's */
	const char *reason;
};

/*
 * on_delta: a piece of the answer as it streams (not NUL-terminated).
 * on_retry: a new attempt will start after rt->delay_ms; the pieces
 *   delivered so far are void, the answer streams again from its start
 *   (the tokens they cost still count, in the result's usage).
 * on_done: exactly once per request; the result and the request are
 *   freed when it returns.  Any callback may cancel the request.
 */
struct llm_callbacks {
	void (*on_delta)(const char *piece, size_t len, void *arg);
	void (*on_retry)(const struct llm_retry *rt, void *arg);
	void (*on_done)(const struct llm_result *, void *arg);
};

/* curl_global_init/cleanup, for the process's main (not thread-safe). */
int llm_global_init(void);
void llm_global_cleanup(void);

/*
 * An engine on `loop`.  llm_engine_free cancels every request (on_done
 * with LLM_ERR_CANCELLED) and closes its handles: run the loop afterwards
 * so the close callbacks can free the rest.  It may be called from
 * on_done, not from on_delta or on_retry.  The sessions of a freed engine
 * can still be saved and freed, not sent.
 */
struct llm_engine *llm_engine_new(uv_loop_t *loop);
void llm_engine_free(struct llm_engine *);

/*
 * Secrets kept out of what the engine's sessions send and store: each
 * session made after this call adds the key it loads to r, and redacts
 * its request bodies and saved files with it (decoded strings, before
 * they are encoded).  r stays the caller's and must outlive the sessions.
 */
struct redact;
void llm_engine_set_redact(struct llm_engine *, struct redact *r);
/* Add the key conf would send to r, if one can be loaded: quietly, for
 * a key that cannot be loaded is its session's to report. */
void llm_conf_redact_key(const struct llm_conf *, struct redact *r);

/*
 * A new session over conf (copied; conf_llm yields it), with a system
 * prompt (may be NULL).  engine may be NULL for a session that only loads,
 * saves or builds requests.  On failure returns NULL with the reason in
 * err (a key that cannot be read, a missing model).
 */
struct llm_session *llm_session_new(struct llm_engine *,
    const struct llm_conf *, const char *system, char *err, size_t errlen);
void llm_session_free(struct llm_session *);

/*
 * Continue the conversation saved in path (llm_session_save) in a new
 * session s: transcript, usage, and the response / conversation ids when
 * the file was saved on s's API and base_url (another provider's handles
 * mean nothing to s's: its history is then resent).  The system prompt
 * comes from the file when s has none.  -1 with err on failure.
 */
int llm_session_load(struct llm_session *s, const char *path, char *err,
    size_t errlen);

/* Write the session to path: temp file, fsync, rename, fsync the dir. */
int llm_session_save(const struct llm_session *, const char *path,
    char *err, size_t errlen);

/*
 * Continue the session on another provider, model or both: conf is taken
 * as llm_session_new takes it (API, base_url, model, key loaded and added
 * to the engine's redact, prices, limits).  The transcript, system
 * prompt, tools, cache key and usage totals stay; the server-side handle
 * (Responses response id or Conversation) is dropped, so the next turn
 * resends the transcript in the new API's form.  For provider failover.
 * -1 with err, the session unchanged, while a turn is being sent or when
 * conf is unusable (unknown provider, no model, a key that cannot be
 * read).
 */
int llm_session_set_provider(struct llm_session *, const struct llm_conf *,
    char *err, size_t errlen);

/*
 * At most n attempts per request from the next request on (0: the conf's
 * max_attempts again).  n = 1 makes a single-attempt probe of a provider
 * thought down.
 */
void llm_session_set_max_attempts(struct llm_session *, unsigned n);

/* Save after every completed turn to path (NULL: stop). */
int llm_session_autosave(struct llm_session *, const char *path);

/* Responses: continue a Conversation (made by POST /conversations). */
int llm_session_set_conversation(struct llm_session *, const char *id);

const struct llm_usage *llm_session_usage(const struct llm_session *);
/* sum += u, field by field. */
void llm_usage_add(struct llm_usage *sum, const struct llm_usage *u);
size_t llm_session_turns(const struct llm_session *);
/* The saved handle on the conversation: a response id, or NULL. */
const char *llm_session_response_id(const struct llm_session *);

/*
 * Send one user turn.  Returns the request, or NULL when the session is
 * busy with another turn or has no engine (on_done is not called then).
 * On success the turn joins the transcript (and the autosave file) before
 * on_done is called.
 */
struct llm_request *llm_session_send(struct llm_session *,
    const char *user_text, const struct llm_callbacks *, void *arg);

/* Send one user turn of text and tool results (see struct llm_input);
 * NULL also when `in` carries neither, or a result without its id or
 * content.  The input is copied (text that is not UTF-8 is scrubbed). */
struct llm_request *llm_session_send_input(struct llm_session *,
    const struct llm_input *, const struct llm_callbacks *, void *arg);

/* The tools offered from the next turn on (copied; NULL: none). */
void llm_session_set_tools(struct llm_session *, const json_t *tools);
bool llm_session_has_tools(const struct llm_session *);

/*
 * The model refused the tools (a 400 such as Ollama's "does not support
 * tools", vLLM's "tool choice requires --enable-auto-tool-choice"): the
 * caller should go on without tools.
 */
bool llm_result_tools_refused(const struct llm_result *);

/*
 * The provider is unavailable or overloaded: the same request could
 * succeed later or elsewhere (failover, an outage circuit breaker).  True
 * for transport errors and cut streams, timeouts, LLM_ERR_RATE_LIMITED,
 * HTTP 408, 409, 429 and 5xx (529 included), and error events in a
 * stream standing for one of those.  False for success, cancellation,
 * any other status (400, 401, 403, 404, 422, ...), unreadable or
 * too-large answers, and requests refused before sending.
 */
bool llm_result_outage(const struct llm_result *);

/*
 * Context.  A session is never cut silently: the caller measures the next
 * request against the window and compacts the transcript when it would
 * not fit.  Estimates are deliberately high (see llm_tokens_estimate).
 */
/* Tokens the request carrying `in` would hold: system, tools, the whole
 * transcript (what the server holds, for Responses) and `in`. */
size_t llm_session_estimate(const struct llm_session *,
    const struct llm_input *in);
/* What a request may hold: context_tokens - max_tokens. */
size_t llm_session_budget(const struct llm_session *);
/* Turns [from, to) as plain text for a summary request, at most max
 * bytes (the oldest part is cut first, with a note).  Malloc'd. */
char *llm_session_transcript(const struct llm_session *, size_t from,
    size_t to, size_t max);
/* Where to cut to keep at most the newest `keep` turns: turn
 * nturns - keep, or the first after it whose input carries no tool
 * results (a window cannot open on results).  Returns <= nturns. */
size_t llm_session_cut_point(const struct llm_session *, size_t keep);
/*
 * Replace turns [0, n) with one turn saying `summary` (the model's own
 * summary of them): the server-side handle is dropped so the next turn
 * resends the compacted transcript.  n is not 0; -1 if it is, or while
 * a turn is being sent.  When turn n carries results of calls that go
 * into the summary, they become text of that turn (a tool result whose
 * call is gone would be refused by the APIs).  Saved when autosaving.  A
 * Responses Conversation (llm_session_set_conversation) keeps its own
 * history on the server: compaction does not shorten that.
 */
int llm_session_compact(struct llm_session *, size_t n, const char *summary);
/* Tool results in turns [0, before) become one line each ("[read_file
 * src/a.py: 2,310 bytes, elided]"): their content was seen and acted on. */
void llm_session_elide_results(struct llm_session *, size_t before);
/* OpenAI's prompt_cache_key for every request (copied; NULL: none). */
void llm_session_set_cache_key(struct llm_session *, const char *key);
const char *llm_session_model(const struct llm_session *);
/* A new system prompt from the next turn on (copied). */
void llm_session_set_system(struct llm_session *, const char *system);

/*
 * Stop a request: on_done(LLM_ERR_CANCELLED) before this returns; called
 * from on_delta or on_retry, as soon as that callback returns.  Freeing
 * the session cancels its request the same way.
 */
void llm_request_cancel(struct llm_request *);

const char *llm_error_name(enum llm_error);

#endif
