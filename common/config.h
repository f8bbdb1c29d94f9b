/*
 * config.h — masterd's configuration: one INI-style file plus environment
 * overrides, validated against a table of known keys.
 *
 *   # comment            ; comment
 *   [masterd]
 *   state_dir = /var/lib/masterd
 *   [supervise]
 *   ping_interval = 5s
 *   [llm]
 *   provider = chat
 *   base_url = http://127.0.0.1:11434/v1
 *   [critic]
 *   model = cheap-model   (any [llm] key: the critic's session)
 *   [planner]
 *   model = strong-model  (any [llm] key: the planner's session)
 *   [checks]
 *   timeout = 300s        (limits of every check command)
 *   [domain "frontend"]
 *   check = npm test      (repeatable)
 *   network = yes         (its checks get the host's network)
 *   model = other-model   (any [llm] key overrides it for this domain)
 *
 * Every key of a global section can be overridden from the environment as
 * MASTERD_<KEY> for [masterd] and MASTERD_<SECTION>_<KEY> for the others,
 * e.g. MASTERD_STATE_DIR, MASTERD_SUPERVISE_PING_TIMEOUT,
 * MASTERD_CRITIC_MODEL.  Errors name the
 * file and line (or the variable) and the key.
 */
#ifndef COMMON_CONFIG_H
#define COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strlist {
	char **v;
	size_t n;
};

/*
 * The assistant session's provider ([llm], per role and per domain).
 * Inside a role's section or a domain, a field left unset inherits [llm]: strings are NULL, numbers and
 * booleans are -1.  In the effective conf (conf_llm) a price or temperature
 * of -1 means "not configured", a context_tokens of 0 "the API's default".
 */
struct llm_conf {
	char *provider;		/* "openai-responses", "chat", "anthropic" */
	char *base_url;		/* NULL: the provider's public endpoint */
	char *model;
	char *key_env;		/* environment variable holding the key */
	char *key_file;		/* or a file, mode 0600 or stricter */
	char *key_credential;	/* or $CREDENTIALS_DIRECTORY/<name> */
	int64_t timeout;	/* ms of silence from the server */
	int64_t connect_timeout;	/* ms */
	int64_t max_tokens;	/* answer length cap; unset: 8192, at most
				 * a quarter of a configured window */
	int64_t context_tokens;	/* the model's window, for trimming */
	int64_t max_attempts;
	int64_t retry_deadline;	/* ms for all attempts of one turn */
	int64_t max_retry_wait;	/* ms; a longer server-asked wait defers */
	double temperature;
	double price_input;	/* per million tokens */
	double price_output;
	double price_cached;
	int stream;		/* bool */
	int store;		/* bool: Responses keeps the conversation */
	int tools;		/* bool: offer the domain's tools */
	int64_t history_tokens;	/* conversation past which a directive
				 * starts from a summary */
	int max_tokens_field;	/* Chat Completions: enum llm_max_field */
	char *fallback;		/* [llm "NAME"] sections to fail over to,
				 * in order, comma or space separated */
	int64_t outage_timeout;	/* ms a provider may stay down before the
				 * tasks waiting for it pause */
	int64_t outage_probe_max;	/* ms: the longest gap between two
				 * probes of a provider that is down */
};

/* An [llm "NAME"] section: a provider to fail over to.  Unset keys are
 * inherited from [llm]; a key source replaces [llm]'s whole. */
struct llm_named {
	char *name;
	struct llm_conf llm;
};

/* The most fallbacks one provider may name. */
#define CONF_MAX_FALLBACKS 8

/* Which field carries max_tokens to a Chat Completions server. */
enum llm_max_field {
	LLM_MAX_FIELD_AUTO,	/* max_completion_tokens for OpenAI's
				 * reasoning models, else max_tokens */
	LLM_MAX_FIELD_MAX_TOKENS,
	LLM_MAX_FIELD_MAX_COMPLETION_TOKENS,
};

/* [masterd] sandbox: how check commands (model-written code) run. */
enum conf_sandbox {
	CONF_SANDBOX_STRICT,	/* confined; refuse to start without it */
	CONF_SANDBOX_OFF,	/* unconfined, said explicitly */
};

struct domain_conf {
	char *name;
	char *prompt;		/* inline system prompt text */
	char *prompt_file;	/* or a file, relative to prompts_dir */
	struct strlist checks;	/* check commands, in order */
	struct strlist depends;	/* domains this one consumes from */
	int network;		/* bool: its checks get the host's network */
	struct strlist env;	/* variables passed on to its checks */
	struct llm_conf llm;	/* overrides of [llm] */
};

struct masterd_conf {
	char *file;		/* the file read, or NULL */

	/* [masterd] */
	char *state_dir;
	char *control_socket;
	char *control_group;	/* NULL: socket is 0600, owner only */
	int64_t max_clients_per_uid;
	int64_t request_timeout;	/* ms a half-sent request may stall */
	int64_t request_max_time;	/* ms a request may take to arrive,
					 * from its first byte */
	int64_t request_memory_max;	/* bytes all half-received requests
					 * may hold together */
	int64_t idle_timeout;	/* ms a silent client is kept; 0: ever */
	int64_t max_llm_calls;		/* domains working at once, in all */
	int64_t max_frame;
	int64_t event_retention;	/* ms progress events are kept; 0: ever */
	int log_level;
	char *child_path;	/* the masterd-child executable */
	char *prompts_dir;
	int sandbox;		/* enum conf_sandbox */
	char *sandbox_said;	/* where the mode was set ("FILE:LINE",
				 * "environment MASTERD_SANDBOX"), or NULL
				 * for the default */
	struct strlist sandbox_read;	/* more read-only trees for checks */

	/* [supervise] (durations in ms) */
	int64_t ping_interval;
	int64_t ping_timeout;
	int64_t hello_timeout;
	int64_t restart_delay;
	int64_t restart_delay_max;
	int64_t healthy_uptime;
	int64_t start_limit_burst;
	int64_t start_limit_interval;
	int64_t stop_grace;

	/* [llm] */
	struct llm_conf llm;
	/* [critic], [planner]: overrides of [llm] for those roles */
	struct llm_conf critic;
	struct llm_conf planner;
	/* [llm "NAME"]: the providers fallback lists may name */
	struct llm_named *providers;
	size_t nproviders;

	/* [task]: defaults of every task; 0 means no limit */
	struct strlist standing;	/* standing directives */
	int64_t max_tokens;		/* input + output, all domains */
	double max_cost;
	int64_t max_rounds;
	int64_t max_time;		/* ms since submit */
	int64_t no_progress_rounds;	/* rounds in a row with no commit */
	int64_t directive_attempts;	/* before a directive is dropped */
	int64_t retry_delay;		/* ms before a failed directive's
					 * first retry; doubles after */
	int64_t max_reviews;		/* planner reviews per task */
	int64_t max_tool_calls;		/* per round of a domain */
	int64_t max_read_bytes;		/* what its tools read per round */
	int accept_proposed_checks;	/* run the model's own checks when
					 * none are configured or planned */
	struct strlist integration_checks; /* run on main, every domain's
					 * code together */
	int64_t integration_delay;	/* ms after a merge before a run */
	int64_t integration_attempts;	/* failing runs attributed in a row
					 * before the task pauses */
	int64_t interface_attempts;	/* an interface directive requeued
					 * while its gap remains */
	char *push_to;			/* main pushed there after each
					 * passing integration; NULL: not */
	char *approve;			/* "none", "plan" or "merge": what
					 * waits for masterctl approve */
	int64_t question_timeout;	/* ms an unanswered question waits
					 * before its assumption holds; 0:
					 * for ever */

	/* [notify]: the operator's command on a task's moments (hooks.c) */
	char *notify_command;		/* run by /bin/sh -c; NULL: none */
	struct strlist notify_on;	/* conf_notify_kinds it runs on;
					 * empty: all of them */
	int64_t notify_timeout;		/* ms before it is killed */
	struct strlist notify_env;	/* variables passed on to it */

	/* [checks]: the limits of every check command; 0 means no limit
	 * (but for output) */
	int64_t check_timeout;		/* ms of wall clock */
	int64_t check_cpu_time;		/* ms of CPU */
	int64_t check_memory;		/* bytes of address space */
	int64_t check_processes;
	int64_t check_file_size;	/* bytes, per file written */
	int64_t check_tmp_size;		/* bytes of the private /tmp */
	int64_t check_output;		/* bytes of output kept */

	/* [domain "name"] */
	struct domain_conf *domains;
	size_t ndomains;
};

/*
 * Load `path` (NULL: defaults and environment only).  On success returns 0
 * and a new config in *out.  On failure returns -1, *out is NULL and *errors
 * holds every problem found, one per line (free it).
 */
int conf_load(const char *path, struct masterd_conf **out, char **errors);
void conf_free(struct masterd_conf *);

const struct domain_conf *conf_domain(const struct masterd_conf *,
    const char *name);

/*
 * The effective provider conf of a domain (NULL or an unknown name: [llm]
 * alone): [llm] with the domain's overrides on top.  Strings are borrowed
 * from c and live as long as it.
 */
void conf_llm(const struct masterd_conf *c, const char *domain,
    struct llm_conf *out);
/*
 * The effective provider conf of a role: "domain" is conf_llm's (the
 * domain's overrides over [llm]); "critic" and "planner" are their
 * section over [llm], whatever the domain (a domain's critic is the
 * critic's model, not the domain's).  Strings borrowed as conf_llm's.
 */
void conf_llm_role(const struct masterd_conf *c, const char *role,
    const char *domain, struct llm_conf *out);
/* The effective conf of [llm "name"] ([llm] under it), or -1 when there
 * is no such section.  Strings borrowed as conf_llm's. */
int conf_llm_named(const struct masterd_conf *c, const char *name,
    struct llm_conf *out);
/*
 * The names of the fallbacks an effective conf lists, in order, at most
 * max (CONF_MAX_FALLBACKS); each is an [llm "NAME"] section (the
 * configuration is refused otherwise).  Returns how many; the names are
 * malloc'd into names[] (free each).
 */
size_t conf_llm_fallbacks(const struct llm_conf *l, char **names,
    size_t max);
/*
 * Which server a conf talks to, as one string: "API URL", the base_url
 * or the API's public endpoint.  Two sessions with the same endpoint
 * share one provider's fate: masterd keeps one circuit breaker per
 * endpoint (daemon/masterd/provider.c).
 */
void conf_llm_endpoint(const struct llm_conf *l, char *out, size_t len);
/*
 * A session's provider chain: role's effective conf ("domain", "critic",
 * "planner"; conf_llm_role) first, named "llm", then each fallback it
 * lists, in order.  Strings borrowed from c.  masterd's circuit breakers
 * and the workers' failover build it alike.
 */
#define CONF_CHAIN_MAX	(1 + CONF_MAX_FALLBACKS)
struct llm_chain {
	struct llm_conf conf[CONF_CHAIN_MAX];
	char name[CONF_CHAIN_MAX][40];
	char endpoint[CONF_CHAIN_MAX][320];
	size_t n;
};
void conf_llm_chain(const struct masterd_conf *c, const char *role,
    const char *domain, struct llm_chain *out);
/* The public endpoint of an API ("chat", "anthropic", ...), or NULL. */
const char *conf_provider_default_url(const char *provider);
/* The variable an API's key comes from when no key source is set. */
const char *conf_provider_default_key_env(const char *provider);
/* Free the strings of an llm_conf that owns them (a copy of conf_llm's). */
void llm_conf_free_strings(struct llm_conf *);

/* Where state and the control socket live when nothing says otherwise:
 * systemd's $STATE_DIRECTORY/$RUNTIME_DIRECTORY, then /var/lib and /run for
 * root, then the XDG directories of the user.  Results are malloc'd. */
char *conf_default_state_dir(void);
char *conf_default_socket(void);

/* Domain names become folders, branches and log words: 1-32 characters,
 * a lowercase letter first, then a-z, 0-9, '-' or '_'. */
bool conf_domain_name_ok(const char *name);

/* "strict" or "off". */
const char *conf_sandbox_name(int mode);

/* The moments [notify] on may name, NULL-terminated. */
extern const char *const conf_notify_kinds[];

/* A variable [domain] env may pass on: a shell name, not MASTERD_* nor
 * CREDENTIALS_DIRECTORY (masterd's own). */
bool conf_env_name_ok(const char *name);

/* key_env's value: the name of an environment variable ([A-Za-z_]
 * [A-Za-z0-9_]*, at most 64 characters), not a key pasted in its place (a
 * key is long, has '-' as in "sk-...", or is 24 characters or more with
 * digits and no '_' or both cases, as in "gsk_...").  The error never shows the value: KEY_ENV_NOT_A_NAME. */
bool conf_key_env_ok(const char *value);
#define KEY_ENV_NOT_A_NAME \
	"key_env must name an environment variable, not hold a key"

/* Value parsers, shared with flag parsing. */
int conf_parse_duration_ms(const char *s, int64_t *out);
int conf_parse_size(const char *s, int64_t *out);
int conf_parse_bool(const char *s, bool *out);
int conf_parse_real(const char *s, double *out);

void strlist_free(struct strlist *);
int strlist_add(struct strlist *, const char *);

#endif
