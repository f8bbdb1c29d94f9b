/*
 * impl.h — what the files of the provider layer share, and what its
 * unit tests reach into: the session's insides, the per-API table of
 * functions, and the answer parser (whole bodies and SSE streams).
 *
 * Not for the rest of masterd: include common/llm/llm.h there.
 */
#ifndef COMMON_LLM_IMPL_H
#define COMMON_LLM_IMPL_H

#include <curl/curl.h>
#include <jansson.h>

#include "common/llm/llm.h"
#include "common/llm/sse.h"
#include "common/util.h"

/* Answers and error bodies larger than this are refused. */
#define LLM_MAX_BODY	((size_t)32 << 20)
/* What an answer over it is told; retrying cannot help, it would be as
 * large again. */
#define LLM_TOO_LARGE	"over the response size cap (32 MiB): not retried, " \
	"an answer as large would come again"
/* Provider messages are cut to this many bytes for people and logs. */
#define LLM_MAX_MESSAGE	480

struct llm_buf {
	char *p;		/* NUL-terminated once anything was added */
	size_t len;
	size_t cap;
};

int llm_buf_add(struct llm_buf *, const char *, size_t);
void llm_buf_reset(struct llm_buf *);
void llm_buf_free(struct llm_buf *);

/* A tool's result as a turn keeps it (llm_tool_result, owned). */
struct llm_turn_result {
	char *id;
	char *name;
	char *content;
	bool error;
};

/*
 * One exchange.  The input side is the results of the previous answer's
 * calls and/or user text (user NULL: results only); the answer side is
 * text and the calls it made.  Every string is valid UTF-8 (scrubbed on
 * the way in), so every turn can be written as JSON.
 */
struct llm_turn {
	char *user;
	struct llm_turn_result *results;
	size_t nresults;
	char *assistant;
	struct llm_tool_call *calls;
	size_t ncalls;
	char *response_id;	/* Responses: the answer's id */
	struct llm_usage usage;
	time_t time;
	bool summary;		/* made by llm_session_compact */
};

struct llm_session {
	struct llm_engine *engine;
	const struct llm_api *api;
	struct llm_conf conf;	/* own copies of every string */
	char *system;
	char *key;		/* NULL: send none (a local server) */
	struct redact *redact;	/* the engine's, or NULL */
	char *key_source;	/* where the key came from, for messages */
	struct llm_turn *turns;
	size_t nturns;
	char *response_id;	/* previous_response_id of the next turn */
	char *conversation;	/* or the Conversation it belongs to */
	struct llm_usage usage;
	char *autosave;
	struct llm_request *busy;
	json_t *tools;		/* neutral form; NULL: none offered */
	char *cache_key;	/* OpenAI prompt_cache_key, or NULL */
	unsigned max_attempts;	/* 0: conf.max_attempts */
};

/* A tool call as its pieces stream in. */
struct llm_call_acc {
	long index;		/* the API's index of it; -1: none */
	char *item_id;		/* Responses: the item id deltas name */
	char *id;
	char *name;
	struct llm_buf args;
	bool args_whole;	/* given whole: later pieces are ignored */
};

/* Calls in one answer beyond this make it unreadable. */
#define LLM_MAX_CALLS	256

/* What one attempt's answer said, whole or streamed. */
struct llm_parse {
	const struct llm_api *api;
	struct sse_parser sse;
	void (*on_delta)(const char *, size_t, void *);
	void *arg;
	struct llm_buf text;
	struct llm_call_acc *calls;	/* in the order they began */
	size_t ncalls;
	size_t calls_cap;
	struct llm_usage usage;
	char *model;		/* the model the answer names */
	char *id;		/* response or message id */
	char *finish;		/* stop reason / status */
	bool truncated;
	bool done;		/* the API's last event arrived */
	bool failed;		/* an error body or event */
	bool bad;		/* not the API's format */
	bool too_big;		/* over a size cap: bad, and not retried */
	int err_status;		/* what the error stands for, for retries */
	char *err_code;
	char *err_message;
};

/*
 * One API.  build: the request body for the input `next` (a turn with no
 * answer yet), the transcript from turn `first` on (older turns are
 * trimmed; first is never a turn whose input carries results).  headers:
 * the API's own headers, key included.  whole: a non-stream answer.
 * event: one SSE event; data is NULL when it is not JSON (e.g. "[DONE]").
 */
struct llm_api {
	const char *name;
	const char *path;
	const char *default_url;
	const char *default_key_env;
	bool server_history;	/* the server holds the conversation */
	bool finish_ends;	/* a stream that named its finish reason is
				 * whole even when it ends cleanly without
				 * its last event (Chat's [DONE]) */
	json_t *(*build)(const struct llm_session *,
	    const struct llm_turn *next, size_t first);
	int (*headers)(const struct llm_session *, struct curl_slist **);
	void (*whole)(struct llm_parse *, json_t *root);
	void (*event)(struct llm_parse *, const char *type, const char *raw,
	    json_t *data);
};

extern const struct llm_api llm_api_responses;
extern const struct llm_api llm_api_chat;
extern const struct llm_api llm_api_anthropic;

const struct llm_api *llm_api_find(const char *name);

/* llm_parse.c */
void llm_parse_init(struct llm_parse *, const struct llm_api *,
    void (*on_delta)(const char *, size_t, void *), void *arg);
void llm_parse_free(struct llm_parse *);
/* Stream bytes; -1 once the stream is unusable (p->bad or p->failed). */
int llm_parse_feed(struct llm_parse *, const char *, size_t);
/* End of a stream that closed cleanly: true when it was cut before its
 * last event (for Chat, before any finish_reason). */
bool llm_parse_end(struct llm_parse *);
void llm_parse_whole(struct llm_parse *, const char *, size_t);
/* An answer with an error status: the provider's message and code. */
void llm_parse_error_body(struct llm_parse *, int status, const char *,
    size_t);
/* An error object of any API's shape ({"error":…} or flat). */
void llm_parse_error_json(struct llm_parse *, json_t *, int status);
void llm_parse_text(struct llm_parse *, const char *, size_t);
/*
 * Tool calls as the APIs stream them.  A call is found by its item id
 * (Responses), else by the API's index (index >= 0); call_start finds or
 * begins one and fills what it did not know yet (id, name).  NULL when
 * the answer holds too many calls (p->bad is set).
 */
struct llm_call_acc *llm_parse_call(struct llm_parse *, long index,
    const char *item_id);
struct llm_call_acc *llm_parse_call_start(struct llm_parse *, long index,
    const char *item_id, const char *id, const char *name);
/* A new call even when one was begun at index (it then names the new). */
struct llm_call_acc *llm_parse_call_new(struct llm_parse *, long index,
    const char *item_id, const char *id, const char *name);
void llm_parse_call_args(struct llm_parse *, struct llm_call_acc *,
    const char *, size_t);
/* The arguments whole (a .done event, a final object): they replace the
 * pieces, and pieces after them are ignored. */
void llm_parse_call_set_args(struct llm_parse *, struct llm_call_acc *,
    const char *);
/* The calls as llm_tool_call (strings borrowed from p); malloc'd array,
 * NULL when there are none. */
struct llm_tool_call *llm_parse_calls(const struct llm_parse *);
void llm_parse_set(char **, const char *);
int64_t llm_json_int(json_t *, const char *);
void llm_usage_price(struct llm_usage *, const struct llm_conf *);
/* What the OpenAI APIs call their token counts: the input and output
 * counts and the objects that hold cached_tokens and reasoning_tokens. */
struct llm_usage_keys {
	const char *input, *output;
	const char *input_details, *output_details;
};
/* The token counts of usage object u, read with k's names: false (nothing
 * read) when u is not an object. */
bool llm_usage_tokens(struct llm_usage *, json_t *u,
    const struct llm_usage_keys *k);
json_t *llm_message(const char *role, const char *text);
/* A neutral tool's name, description and schema (under schema_key). */
json_t *llm_tool_fields(const json_t *tool, const char *schema_key);

/* llm.c: the session is being freed; cancel its request. */
void llm_request_detach(struct llm_request *);

/* llm_session.c */
/* A turn holding input in (owned, scrubbed copies), no answer yet. */
void llm_turn_input(struct llm_turn *, const struct llm_input *in);
void llm_turn_free(struct llm_turn *);
bool llm_turn_has_results(const struct llm_turn *);
/*
 * The results turn `t` carries for the calls of `prev` (NULL: t starts
 * the window): one per call, in the calls' order; a call the input has
 * no result for gets an error result saying so, and results for no call
 * are left out, so that every API accepts the pairing.  Strings borrowed;
 * malloc'd array (NULL when none), count in *n.
 */
struct llm_tool_result *llm_turn_pairs(const struct llm_turn *prev,
    const struct llm_turn *t, size_t *n);
/* The turn before turn i of a window starting at first (next: i =
 * s->nturns), or NULL. */
const struct llm_turn *llm_turn_prev(const struct llm_session *, size_t i,
    size_t first);
/* Responses: the server holds the transcript (a response to continue,
 * or a Conversation), and a turn carries only its new input. */
bool llm_session_chained(const struct llm_session *);
/* First turn sent with next; (size_t)-1 when next alone overflows. */
size_t llm_session_window(const struct llm_session *,
    const struct llm_turn *next);
/* The answer in p becomes a turn after the input `in` (moved from). */
int llm_session_commit(struct llm_session *, struct llm_turn *in,
    const struct llm_parse *);
size_t llm_tokens_estimate(const char *);
/* llm_tokens_estimate of a turn (both sides), of the tools' JSON. */
size_t llm_turn_tokens(const struct llm_turn *);
size_t llm_tools_tokens(const struct llm_session *);
/* Request body for the next turn (tests: exact JSON); NULL on error. */
char *llm_session_body_turn(const struct llm_session *,
    const struct llm_turn *next, char *err, size_t errlen);
/* The same for user text alone. */
char *llm_session_body(const struct llm_session *, const char *user,
    char *err, size_t errlen);
/* Chat Completions: "max_completion_tokens" or "max_tokens". */
const char *llm_max_tokens_field(const struct llm_session *);
const char *llm_session_url(const struct llm_session *, char *buf,
    size_t len);

/* llm_key.c */
/* Reads the key conf names: 0 (key may be NULL: none configured), -1. */
int llm_key_load(const struct llm_conf *, const struct llm_api *,
    char **key, char **source, char *err, size_t errlen);
void llm_key_free(char *);
/* llm.c: the engine's secrets (NULL engine or none set: NULL). */
struct redact *llm_engine_redact(const struct llm_engine *);
/* A header "Name: <prefix><value>"; llm_headers_free wipes its bytes. */
int llm_header_add(struct curl_slist **, const char *name,
    const char *prefix, const char *value);
void llm_headers_free(struct curl_slist *);
/* "Authorization: Bearer <key>" when s has a key: the OpenAI APIs' headers. */
int llm_bearer_headers(const struct llm_session *s, struct curl_slist **);

#endif
