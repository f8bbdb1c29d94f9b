/*
 * config.c — parse, validate and default masterd's configuration.
 *
 * The table `keys` is the whole schema: a key not in it is an error, and
 * every value goes through the parser of its type, defaults included, so a
 * default cannot be invalid in a way a user's value could not.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/util.h"

#define CONF_MAX_DOMAINS 256

enum key_type {
	K_STRING,	/* any text; empty unsets */
	K_PATH,		/* an absolute path; empty unsets */
	K_INT,
	K_SIZE,		/* bytes, with K/M/G suffixes */
	K_DURATION,	/* ms, from "250ms", "10s", "5m", "1h" or seconds */
	K_LEVEL,	/* a log level name */
	K_LIST,		/* each occurrence adds one item */
	K_WORDS,	/* comma or space separated items */
	K_REAL,		/* a decimal number, stored as double */
	K_BOOL,		/* yes/no, true/false, on/off, 1/0; stored as int */
	K_PROVIDER,	/* one of llm_providers[] */
	K_MAXFIELD,	/* one of max_fields[], stored as its index */
	K_SANDBOX,	/* one of sandbox_modes[], stored as its index */
	K_PATHS,	/* each occurrence adds one absolute path */
	K_ENVNAMES,	/* each occurrence adds one variable name */
};

static const char *const llm_providers[] = {
	"openai-responses", "chat", "anthropic", NULL
};

/* In enum llm_max_field's order. */
static const char *const max_fields[] = {
	"auto", "max_tokens", "max_completion_tokens", NULL
};

/* What [notify] on may name: the moments hooks.c tells the operator. */
const char *const conf_notify_kinds[] = {
	"done", "failed", "cancelled", "paused", "needs-input",
	"approval-needed", NULL
};

/* In enum conf_sandbox's order. */
static const char *const sandbox_modes[] = { "strict", "off", NULL };

enum key_scope { S_GLOBAL, S_DOMAIN };

struct conf_key {
	const char *section;
	const char *name;
	enum key_type type;
	enum key_scope scope;
	size_t offset;
	int64_t min, max;
	const char *def;
};

#define G(sec, name, type, field, min, max, def) \
	{ sec, name, type, S_GLOBAL, offsetof(struct masterd_conf, field), \
	  min, max, def }
#define D(name, type, field) \
	{ "domain", name, type, S_DOMAIN, offsetof(struct domain_conf, field), \
	  0, 0, NULL }
#define MS(x)	((int64_t)(x) * 1000)

/*
 * An [llm] key, and the same key in each role's section ([critic],
 * [planner]) and as a per-domain override: one line of the table each,
 * same type and range, no default but in [llm] (unset elsewhere means
 * inherited).
 */
#define L(name, type, field, min, max, def) \
	{ "llm", name, type, S_GLOBAL, \
	  offsetof(struct masterd_conf, llm.field), min, max, def }, \
	{ "critic", name, type, S_GLOBAL, \
	  offsetof(struct masterd_conf, critic.field), min, max, NULL }, \
	{ "planner", name, type, S_GLOBAL, \
	  offsetof(struct masterd_conf, planner.field), min, max, NULL }, \
	{ "domain", name, type, S_DOMAIN, \
	  offsetof(struct domain_conf, llm.field), min, max, NULL }

static const struct conf_key keys[] = {
	G("masterd", "state_dir", K_PATH, state_dir, 0, 0, NULL),
	G("masterd", "control_socket", K_PATH, control_socket, 0, 0, NULL),
	G("masterd", "control_group", K_STRING, control_group, 0, 0, NULL),
	G("masterd", "max_clients_per_uid", K_INT, max_clients_per_uid,
	    1, 100000, "64"),
	G("masterd", "request_timeout", K_DURATION, request_timeout,
	    100, MS(3600), "10s"),
	G("masterd", "request_max_time", K_DURATION, request_max_time,
	    100, MS(3600), "60s"),
	G("masterd", "request_memory_max", K_SIZE, request_memory_max,
	    64 * 1024, (int64_t)1 << 40, "64M"),
	G("masterd", "idle_timeout", K_DURATION, idle_timeout,
	    0, MS(86400 * 7), "300s"),
	G("masterd", "max_llm_calls", K_INT, max_llm_calls, 1, 10000, "8"),
	G("masterd", "max_frame", K_SIZE, max_frame, 1024,
	    (int64_t)1 << 30, "16M"),
	G("masterd", "event_retention", K_DURATION, event_retention, 0,
	    MS(86400 * 3650), "30d"),
	G("masterd", "log_level", K_LEVEL, log_level, 0, 0, "info"),
	G("masterd", "child_path", K_PATH, child_path, 0, 0, NULL),
	G("masterd", "prompts_dir", K_PATH, prompts_dir, 0, 0, NULL),
	G("masterd", "sandbox", K_SANDBOX, sandbox, 0, 0, "strict"),
	G("masterd", "sandbox_read", K_PATHS, sandbox_read, 0, 0, NULL),

	G("supervise", "ping_interval", K_DURATION, ping_interval,
	    100, MS(3600), "10s"),
	G("supervise", "ping_timeout", K_DURATION, ping_timeout,
	    100, MS(3600), "30s"),
	G("supervise", "hello_timeout", K_DURATION, hello_timeout,
	    100, MS(3600), "10s"),
	G("supervise", "restart_delay", K_DURATION, restart_delay,
	    10, MS(3600), "1s"),
	G("supervise", "restart_delay_max", K_DURATION, restart_delay_max,
	    10, MS(86400), "60s"),
	G("supervise", "healthy_uptime", K_DURATION, healthy_uptime,
	    100, MS(86400), "30s"),
	G("supervise", "start_limit_burst", K_INT, start_limit_burst,
	    1, 64, "5"),
	G("supervise", "start_limit_interval", K_DURATION,
	    start_limit_interval, 100, MS(86400), "300s"),
	G("supervise", "stop_grace", K_DURATION, stop_grace,
	    10, MS(3600), "10s"),

	G("task", "directive", K_LIST, standing, 0, 0, NULL),
	G("task", "max_tokens", K_INT, max_tokens, 0, INT64_MAX / 2, "0"),
	G("task", "max_cost", K_REAL, max_cost, 0, 1000000000, "0"),
	G("task", "max_rounds", K_INT, max_rounds, 0, 1000000, "0"),
	G("task", "max_time", K_DURATION, max_time, 0, MS(86400 * 365), "0"),
	G("task", "no_progress_rounds", K_INT, no_progress_rounds, 0, 10000,
	    "8"),
	G("task", "directive_attempts", K_INT, directive_attempts, 1, 100,
	    "3"),
	G("task", "retry_delay", K_DURATION, retry_delay, 0, MS(3600), "5s"),
	G("task", "max_reviews", K_INT, max_reviews, 0, 1000, "3"),
	G("task", "max_tool_calls", K_INT, max_tool_calls, 1, 100000, "60"),
	G("task", "max_read_bytes", K_SIZE, max_read_bytes, 1024,
	    (int64_t)1 << 30, "512K"),
	G("task", "accept_proposed_checks", K_BOOL, accept_proposed_checks,
	    0, 0, "no"),
	G("task", "integration_check", K_LIST, integration_checks, 0, 0,
	    NULL),
	G("task", "integration_delay", K_DURATION, integration_delay, 0,
	    MS(3600), "2s"),
	G("task", "integration_attempts", K_INT, integration_attempts, 1,
	    100, "3"),
	G("task", "approve", K_STRING, approve, 0, 0, "none"),
	G("task", "question_timeout", K_DURATION, question_timeout, 0,
	    MS(86400 * 365), "0"),
	G("task", "interface_attempts", K_INT, interface_attempts, 1, 100,
	    "3"),
	G("task", "push_to", K_STRING, push_to, 0, 0, NULL),

	G("notify", "command", K_STRING, notify_command, 0, 0, NULL),
	/* No default: a list given appends, so empty stands for all. */
	G("notify", "on", K_WORDS, notify_on, 0, 0, NULL),
	G("notify", "timeout", K_DURATION, notify_timeout, 100, MS(3600),
	    "30s"),
	G("notify", "env", K_ENVNAMES, notify_env, 0, 0, NULL),

	/* CHECK_LIMITS_DEFAULT's values (child/worker/checks.h). */
	G("checks", "timeout", K_DURATION, check_timeout, MS(1), MS(86400),
	    "300s"),
	G("checks", "cpu_time", K_DURATION, check_cpu_time, 0, MS(86400),
	    "300s"),
	G("checks", "memory", K_SIZE, check_memory, 0, INT64_MAX / 2, "2G"),
	G("checks", "processes", K_INT, check_processes, 0, 1000000, "256"),
	G("checks", "file_size", K_SIZE, check_file_size, 0, INT64_MAX / 2,
	    "256M"),
	G("checks", "tmp_size", K_SIZE, check_tmp_size, 0, INT64_MAX / 2,
	    "256M"),
	G("checks", "output", K_SIZE, check_output, 1024, (int64_t)1 << 24,
	    "16K"),

	D("prompt", K_STRING, prompt),
	D("prompt_file", K_STRING, prompt_file),
	D("check", K_LIST, checks),
	D("depends", K_WORDS, depends),
	D("network", K_BOOL, network),
	D("env", K_ENVNAMES, env),

	L("provider", K_PROVIDER, provider, 0, 0, "openai-responses"),
	L("base_url", K_STRING, base_url, 0, 0, NULL),
	L("model", K_STRING, model, 0, 0, NULL),
	L("key_env", K_STRING, key_env, 0, 0, NULL),
	L("key_file", K_PATH, key_file, 0, 0, NULL),
	L("key_credential", K_STRING, key_credential, 0, 0, NULL),
	L("timeout", K_DURATION, timeout, 100, MS(86400), "300s"),
	L("connect_timeout", K_DURATION, connect_timeout, 100, MS(3600),
	    "10s"),
	/* No default: the session's depends on the window (llm.h). */
	L("max_tokens", K_INT, max_tokens, 1, 10000000, NULL),
	L("max_tokens_field", K_MAXFIELD, max_tokens_field, 0, 0, "auto"),
	L("temperature", K_REAL, temperature, 0, 2, NULL),
	L("context_tokens", K_INT, context_tokens, 0, 100000000, "0"),
	L("price_input", K_REAL, price_input, 0, 1000000, NULL),
	L("price_output", K_REAL, price_output, 0, 1000000, NULL),
	L("price_cached", K_REAL, price_cached, 0, 1000000, NULL),
	L("stream", K_BOOL, stream, 0, 0, "yes"),
	L("store", K_BOOL, store, 0, 0, "yes"),
	L("tools", K_BOOL, tools, 0, 0, "yes"),
	L("history_tokens", K_INT, history_tokens, 1000, 100000000, "12000"),
	L("max_attempts", K_INT, max_attempts, 1, 100, "6"),
	L("retry_deadline", K_DURATION, retry_deadline, 100, MS(86400),
	    "300s"),
	L("max_retry_wait", K_DURATION, max_retry_wait, 0, MS(86400), "60s"),
	L("fallback", K_STRING, fallback, 0, 0, NULL),
	L("outage_timeout", K_DURATION, outage_timeout, MS(1), MS(86400 * 30),
	    "6h"),
	L("outage_probe_max", K_DURATION, outage_probe_max, 100, MS(86400),
	    "2m"),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static int set_string(char **, const char *);

/* Accumulated error text, one line per problem. */
struct errbuf {
	char *text;
	size_t len;
	unsigned count;
};

static void __attribute__((format(printf, 2, 3)))
errbuf_add(struct errbuf *e, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = strlen(line);
	e->text = xrealloc(e->text, e->len + n + 2);
	memcpy(e->text + e->len, line, n);
	e->len += n;
	e->text[e->len++] = '\n';
	e->text[e->len] = '\0';
	e->count++;
}

void
strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int
strlist_add(struct strlist *l, const char *s)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrdup(s);
	return 0;
}

/* ------------------------------------------------------------- values */

static int
parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* A number followed by a unit from `units`; no unit means units[0]. */
struct unit { const char *name; int64_t mult; };

static int
parse_with_unit(const char *s, const struct unit *units, int64_t *out)
{
	char *end;
	long long v;
	const char *u;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	u = end;
	while (*u == ' ')
		u++;
	for (; units->name != NULL; units++) {
		if (strcasecmp(u, units->name) != 0)
			continue;
		if (v > INT64_MAX / units->mult)
			return -1;
		*out = v * units->mult;
		return 0;
	}
	return -1;
}

int
conf_parse_duration_ms(const char *s, int64_t *out)
{
	static const struct unit units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "sec", 1000 },
		{ "m", 60000 }, { "min", 60000 }, { "h", 3600000 },
		{ "d", 86400000 }, { NULL, 0 }
	};

	return parse_with_unit(s, units, out);
}

int
conf_parse_size(const char *s, int64_t *out)
{
	static const struct unit units[] = {
		{ "", 1 }, { "B", 1 }, { "K", 1 << 10 }, { "KiB", 1 << 10 },
		{ "M", 1 << 20 }, { "MiB", 1 << 20 }, { "G", 1 << 30 },
		{ "GiB", 1 << 30 }, { NULL, 0 }
	};

	return parse_with_unit(s, units, out);
}

int
conf_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

int
conf_parse_real(const char *s, double *out)
{
	char *end;
	double v;

	if (*s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

static int
set_real(const struct conf_key *k, double *field, const char *value,
    const char **why)
{
	double v;

	if (conf_parse_real(value, &v) != 0) {
		*why = "expected a number such as 0.7 or 2.5";
		return -1;
	}
	if (v < (double)k->min || v > (double)k->max) {
		*why = "value out of range";
		return -1;
	}
	*field = v;
	return 0;
}

static int
set_provider(char **field, const char *value, const char **why)
{
	for (size_t i = 0; llm_providers[i] != NULL; i++) {
		if (strcmp(value, llm_providers[i]) == 0)
			return set_string(field, value);
	}
	*why = "expected openai-responses, chat or anthropic";
	return -1;
}

static int
set_string(char **field, const char *value)
{
	free(*field);
	*field = *value != '\0' ? xstrdup(value) : NULL;
	return 0;
}

static int
set_words(struct strlist *l, const char *value)
{
	char *copy = xstrdup(value), *tok, *save = NULL;

	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save))
		strlist_add(l, tok);
	free(copy);
	return 0;
}

static int
set_number(const struct conf_key *k, int64_t *field, const char *value,
    const char **why)
{
	int64_t v;
	int rc;

	switch (k->type) {
	case K_SIZE:
		rc = conf_parse_size(value, &v);
		*why = "expected a size such as 4096, 64K or 16M";
		break;
	case K_DURATION:
		rc = conf_parse_duration_ms(value, &v);
		*why = "expected a duration such as 500ms, 10s, 5m or 1h";
		break;
	default:
		rc = parse_int(value, &v);
		*why = "expected an integer";
		break;
	}
	if (rc != 0)
		return -1;
	if (v < k->min || v > k->max) {
		*why = "value out of range";
		return -1;
	}
	*field = v;
	return 0;
}

/* Store one value in field, k's; on error returns -1 with a reason. */
static int
apply(const struct conf_key *k, void *field, const char *value,
    const char **why)
{
	bool b;
	int level;

	switch (k->type) {
	case K_PATH:
		if (*value != '\0' && *value != '/') {
			*why = "expected an absolute path";
			return -1;
		}
		/* FALLTHROUGH */
	case K_STRING:
		return set_string(field, value);
	case K_INT:
	case K_SIZE:
	case K_DURATION:
		return set_number(k, field, value, why);
	case K_LEVEL:
		if ((level = log_level_parse(value)) < 0) {
			*why = "expected err, warning, notice, info or debug";
			return -1;
		}
		*(int *)field = level;
		return 0;
	case K_LIST:
		return strlist_add(field, value);
	case K_PATHS:
		if (*value != '/') {
			*why = "expected an absolute path";
			return -1;
		}
		return strlist_add(field, value);
	case K_ENVNAMES:
		if (!conf_env_name_ok(value)) {
			*why = "expected a variable name (letters, digits, "
			    "'_'), not MASTERD_* nor CREDENTIALS_DIRECTORY";
			return -1;
		}
		return strlist_add(field, value);
	case K_WORDS:
		return set_words(field, value);
	case K_REAL:
		return set_real(k, field, value, why);
	case K_BOOL:
		if (conf_parse_bool(value, &b) != 0) {
			*why = "expected yes or no";
			return -1;
		}
		*(int *)field = b;
		return 0;
	case K_PROVIDER:
		return set_provider(field, value, why);
	case K_MAXFIELD:
		for (int i = 0; max_fields[i] != NULL; i++) {
			if (strcmp(value, max_fields[i]) == 0) {
				*(int *)field = i;
				return 0;
			}
		}
		*why = "expected auto, max_tokens or max_completion_tokens";
		return -1;
	case K_SANDBOX:
		for (int i = 0; sandbox_modes[i] != NULL; i++) {
			if (strcmp(value, sandbox_modes[i]) == 0) {
				*(int *)field = i;
				return 0;
			}
		}
		*why = "expected strict or off";
		return -1;
	}
	*why = "unknown key type";
	return -1;
}

/* ------------------------------------------------------------- schema */

static const struct conf_key *
find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			return &keys[i];
	}
	return NULL;
}

static bool
known_section(const char *section)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, section) == 0)
			return true;
	}
	return false;
}

/* Every number and boolean of an llm_conf to "unset" (-1). */
static void
llm_conf_unset(struct llm_conf *l)
{
	l->timeout = l->connect_timeout = l->max_tokens = -1;
	l->context_tokens = l->max_attempts = -1;
	l->retry_deadline = l->max_retry_wait = -1;
	l->temperature = l->price_input = l->price_output = -1;
	l->price_cached = -1;
	l->stream = l->store = l->tools = l->max_tokens_field = -1;
	l->history_tokens = -1;
	l->outage_timeout = l->outage_probe_max = -1;
}

void
llm_conf_free_strings(struct llm_conf *l)
{
	free(l->provider);
	free(l->base_url);
	free(l->model);
	free(l->key_env);
	free(l->key_file);
	free(l->key_credential);
	free(l->fallback);
}

static void
domain_conf_free(struct domain_conf *d)
{
	llm_conf_free_strings(&d->llm);
	free(d->name);
	free(d->prompt);
	free(d->prompt_file);
	strlist_free(&d->checks);
	strlist_free(&d->depends);
	strlist_free(&d->env);
}

void
conf_free(struct masterd_conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		void *field = (char *)c + keys[i].offset;

		if (keys[i].scope != S_GLOBAL)
			continue;
		if (keys[i].type == K_STRING || keys[i].type == K_PATH ||
		    keys[i].type == K_PROVIDER)
			free(*(char **)field);
		else if (keys[i].type == K_LIST || keys[i].type == K_WORDS ||
		    keys[i].type == K_PATHS || keys[i].type == K_ENVNAMES)
			strlist_free(field);
	}
	free(c->sandbox_said);
	for (size_t i = 0; i < c->ndomains; i++)
		domain_conf_free(&c->domains[i]);
	free(c->domains);
	for (size_t i = 0; i < c->nproviders; i++) {
		llm_conf_free_strings(&c->providers[i].llm);
		free(c->providers[i].name);
	}
	free(c->providers);
	free(c->file);
	free(c);
}

const struct domain_conf *
conf_domain(const struct masterd_conf *c, const char *name)
{
	for (size_t i = 0; i < c->ndomains; i++) {
		if (strcmp(c->domains[i].name, name) == 0)
			return &c->domains[i];
	}
	return NULL;
}

static struct llm_named *
named_find(const struct masterd_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nproviders; i++) {
		if (strcmp(c->providers[i].name, name) == 0)
			return &c->providers[i];
	}
	return NULL;
}

static struct llm_named *
add_named(struct masterd_conf *c, const char *name)
{
	struct llm_named *nn;

	nn = xreallocarray(c->providers, c->nproviders + 1, sizeof(*nn));
	c->providers = nn;
	memset(&nn[c->nproviders], 0, sizeof(*nn));
	llm_conf_unset(&nn[c->nproviders].llm);
	nn[c->nproviders].name = xstrdup(name);
	return &nn[c->nproviders++];
}

static struct domain_conf *
add_domain(struct masterd_conf *c, const char *name)
{
	struct domain_conf *nd;

	nd = xreallocarray(c->domains, c->ndomains + 1, sizeof(*nd));
	c->domains = nd;
	memset(&nd[c->ndomains], 0, sizeof(*nd));
	llm_conf_unset(&nd[c->ndomains].llm);
	nd[c->ndomains].name = xstrdup(name);
	return &nd[c->ndomains++];
}

/* ------------------------------------------------------------- file */

struct parse_state {
	struct masterd_conf *conf;
	struct errbuf *errs;
	const char *file;
	unsigned line;
	char section[64];
	struct domain_conf *domain;	/* current [domain "x"], or NULL */
	struct llm_named *named;	/* current [llm "x"], or NULL */
	bool skip;			/* inside a bad section */
};

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "quoted \"text\"" -> quoted "text"; plain text is left alone. */
static int
unquote(char *s)
{
	size_t n = strlen(s), o = 0;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return 0;
	for (size_t i = 1; i < n - 1; i++) {
		if (s[i] == '\\' && i + 1 < n - 1) {
			switch (s[++i]) {
			case 'n':	s[o++] = '\n'; break;
			case 't':	s[o++] = '\t'; break;
			case '"':	s[o++] = '"'; break;
			case '\\':	s[o++] = '\\'; break;
			default:	return -1;
			}
		} else if (s[i] == '"') {
			return -1;
		} else {
			s[o++] = s[i];
		}
	}
	s[o] = '\0';
	return 0;
}

/* A new [llm "NAME"]: a provider fallback lists may name. */
static struct llm_named *
named_section(struct parse_state *ps, const char *name)
{
	if (!conf_domain_name_ok(name)) {
		errbuf_add(ps->errs, "%s:%u: [llm \"NAME\"] needs a name of "
		    "1-32 characters a-z, 0-9, '-', '_'", ps->file, ps->line);
		return NULL;
	}
	if (named_find(ps->conf, name) != NULL) {
		errbuf_add(ps->errs, "%s:%u: provider \"%s\" defined twice",
		    ps->file, ps->line, name);
		return NULL;
	}
	if (ps->conf->nproviders >= CONF_MAX_DOMAINS) {
		errbuf_add(ps->errs, "%s:%u: too many [llm \"NAME\"] sections",
		    ps->file, ps->line);
		return NULL;
	}
	return add_named(ps->conf, name);
}

static void
parse_section(struct parse_state *ps, char *text)
{
	char *name = NULL, *q;

	ps->skip = true;
	ps->domain = NULL;
	ps->named = NULL;
	if ((q = strchr(text, '"')) != NULL) {
		*q = '\0';
		name = q + 1;
		if ((q = strrchr(name, '"')) == NULL || q[1] != '\0') {
			errbuf_add(ps->errs, "%s:%u: unterminated section name",
			    ps->file, ps->line);
			return;
		}
		*q = '\0';
	}
	text = trim(text);
	snprintf(ps->section, sizeof(ps->section), "%s", text);
	if (!known_section(text)) {
		errbuf_add(ps->errs, "%s:%u: unknown section [%s]", ps->file,
		    ps->line, text);
		return;
	}
	if (strcmp(text, "domain") == 0) {
		if (name != NULL && strcmp(name, "planner") == 0) {
			errbuf_add(ps->errs, "%s:%u: the domain name \"planner\" "
			    "is reserved for the master's own session",
			    ps->file, ps->line);
			return;
		}
		if (name == NULL || !conf_domain_name_ok(name)) {
			errbuf_add(ps->errs, "%s:%u: [domain \"NAME\"] needs a "
			    "name of 1-32 characters a-z, 0-9, '-', '_'",
			    ps->file, ps->line);
			return;
		}
		if (conf_domain(ps->conf, name) != NULL) {
			errbuf_add(ps->errs, "%s:%u: domain \"%s\" defined "
			    "twice", ps->file, ps->line, name);
			return;
		}
		if (ps->conf->ndomains >= CONF_MAX_DOMAINS) {
			errbuf_add(ps->errs, "%s:%u: too many domains",
			    ps->file, ps->line);
			return;
		}
		ps->domain = add_domain(ps->conf, name);
	} else if (strcmp(text, "llm") == 0 && name != NULL) {
		if ((ps->named = named_section(ps, name)) == NULL)
			return;
	} else if (name != NULL) {
		errbuf_add(ps->errs, "%s:%u: section [%s] takes no name",
		    ps->file, ps->line, text);
		return;
	}
	ps->skip = false;
}

/* Where the sandbox mode was set: `masterd -n` and the log name it. */
static void
said(struct masterd_conf *c, char *where)
{
	free(c->sandbox_said);
	c->sandbox_said = where;
}

static void
parse_assignment(struct parse_state *ps, char *text)
{
	const struct conf_key *k;
	char *eq, *key, *value;
	const char *why;
	void *field;

	if ((eq = strchr(text, '=')) == NULL) {
		errbuf_add(ps->errs, "%s:%u: expected key = value", ps->file,
		    ps->line);
		return;
	}
	*eq = '\0';
	key = trim(text);
	value = trim(eq + 1);
	/* Inside a bad section, already reported: no second error per key. */
	if (ps->skip)
		return;
	if (ps->section[0] == '\0') {
		errbuf_add(ps->errs, "%s:%u: key '%s' before any [section]",
		    ps->file, ps->line, key);
		return;
	}
	if ((k = find_key(ps->section, key)) == NULL) {
		errbuf_add(ps->errs, "%s:%u: unknown key '%s' in [%s]",
		    ps->file, ps->line, key, ps->section);
		return;
	}
	if (unquote(value) != 0) {
		errbuf_add(ps->errs, "%s:%u: [%s] %s: bad quoting", ps->file,
		    ps->line, ps->section, key);
		return;
	}
	if (ps->named != NULL)
		field = (char *)&ps->named->llm + (k->offset -
		    offsetof(struct masterd_conf, llm));
	else
		field = (char *)(k->scope == S_DOMAIN ? (void *)ps->domain :
		    (void *)ps->conf) + k->offset;
	if (apply(k, field, value, &why) != 0)
		errbuf_add(ps->errs, "%s:%u: [%s] %s: %s: '%s'", ps->file,
		    ps->line, ps->section, key, why, value);
	else if (k->type == K_SANDBOX)
		said(ps->conf, xasprintf("%s:%u", ps->file, ps->line));
}

static char *
read_file(const char *path, struct errbuf *errs)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if ((f = fopen(path, "re")) == NULL) {
		errbuf_add(errs, "%s: %s", path, strerror(errno));
		return NULL;
	}
	do {
		if (cap - len < 4096) {
			if (cap > 16 << 20) {
				free(buf);
				fclose(f);
				errbuf_add(errs, "%s: file too large", path);
				return NULL;
			}
			buf = xrealloc(buf, cap + 65536);
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		errbuf_add(errs, "%s: read error", path);
		free(buf);
		buf = NULL;
	} else {
		buf[len] = '\0';
	}
	fclose(f);
	return buf;
}

static void
parse_file(struct masterd_conf *c, const char *path, struct errbuf *errs)
{
	struct parse_state ps = { .conf = c, .errs = errs, .file = path };
	char *buf, *line, *save = NULL, *t;

	if ((buf = read_file(path, errs)) == NULL)
		return;
	/* strtok_r would swallow empty lines and so miscount. */
	for (line = buf; line != NULL; line = save) {
		if ((save = strchr(line, '\n')) != NULL)
			*save++ = '\0';
		ps.line++;
		t = trim(line);
		if (*t == '\0' || *t == '#' || *t == ';')
			continue;
		if (*t == '[') {
			size_t n = strlen(t);

			if (t[n - 1] != ']') {
				errbuf_add(errs, "%s:%u: expected ']'", path,
				    ps.line);
				ps.skip = true;
				continue;
			}
			t[n - 1] = '\0';
			parse_section(&ps, t + 1);
			continue;
		}
		parse_assignment(&ps, t);
	}
	free(buf);
}

/* ------------------------------------------------------------- env */

static void
env_name(const struct conf_key *k, char *out, size_t len)
{
	size_t o;

	if (strcmp(k->section, "masterd") == 0)
		o = (size_t)snprintf(out, len, "MASTERD_%s", k->name);
	else
		o = (size_t)snprintf(out, len, "MASTERD_%s_%s", k->section,
		    k->name);
	for (size_t i = 0; i < o && i < len; i++)
		out[i] = (char)toupper((unsigned char)out[i]);
}

static void
apply_env(struct masterd_conf *c, struct errbuf *errs)
{
	char name[96];
	const char *value, *why;

	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].scope != S_GLOBAL || keys[i].type == K_LIST ||
		    keys[i].type == K_PATHS)
			continue;
		env_name(&keys[i], name, sizeof(name));
		if ((value = getenv(name)) == NULL)
			continue;
		if (apply(&keys[i], (char *)c + keys[i].offset, value,
		    &why) != 0)
			errbuf_add(errs, "environment %s: [%s] %s: %s: '%s'",
			    name, keys[i].section, keys[i].name, why, value);
		else if (keys[i].type == K_SANDBOX)
			said(c, xasprintf("environment %s", name));
	}
}

/* ------------------------------------------------------------- defaults */

/*
 * The first directory of a colon-separated list (systemd may pass several)
 * with suffix appended.
 */
static char *
dir_join(const char *list, const char *suffix)
{
	int n = (int)strcspn(list, ":");

	return xasprintf("%.*s%s", n, list, suffix);
}

char *
conf_default_state_dir(void)
{
	const char *v;

	if ((v = getenv("STATE_DIRECTORY")) != NULL && *v == '/')
		return dir_join(v, "");
	if (geteuid() == 0)
		return xstrdup("/var/lib/masterd");
	if ((v = getenv("XDG_STATE_HOME")) != NULL && *v == '/')
		return dir_join(v, "/masterd");
	if ((v = getenv("HOME")) != NULL && *v == '/')
		return dir_join(v, "/.local/state/masterd");
	return xstrdup("/tmp/masterd-state");
}

char *
conf_default_socket(void)
{
	const char *v;

	if ((v = getenv("RUNTIME_DIRECTORY")) != NULL && *v == '/')
		return dir_join(v, "/control.sock");
	if (geteuid() == 0)
		return xstrdup("/run/masterd/control.sock");
	if ((v = getenv("XDG_RUNTIME_DIR")) != NULL && *v == '/')
		return dir_join(v, "/masterd/control.sock");
	/* Never straight in /tmp, where anyone may put a socket: a
	 * directory of our own there, which masterd makes 0700. */
	return xasprintf("/tmp/masterd-%lu/control.sock",
	    (unsigned long)geteuid());
}

static void
apply_defaults(struct masterd_conf *c)
{
	const char *why;

	/* Keys without a default (temperature, prices) stay "not set";
	 * so does every key of the roles' sections. */
	llm_conf_unset(&c->llm);
	llm_conf_unset(&c->critic);
	llm_conf_unset(&c->planner);
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].scope == S_GLOBAL && keys[i].def != NULL)
			(void)apply(&keys[i], (char *)c + keys[i].offset,
			    keys[i].def, &why);
	}
}

/* The key sources: one choice, replaced whole by an override. */
static bool
is_key_source(const char *name)
{
	return strcmp(name, "key_env") == 0 || strcmp(name, "key_file") == 0 ||
	    strcmp(name, "key_credential") == 0;
}

/*
 * Each field that over sets (a string not NULL, a number or boolean not
 * -1) replaces out's, walking the [llm] rows of the key table so that a
 * new key is inherited without a line here.
 */
static void
llm_overlay(struct llm_conf *out, const struct llm_conf *over)
{
	const size_t base = offsetof(struct masterd_conf, llm);

	for (size_t i = 0; i < NKEYS; i++) {
		const struct conf_key *k = &keys[i];
		size_t off = k->offset - base;
		const void *from = (const char *)over + off;
		void *to = (char *)out + off;

		if (strcmp(k->section, "llm") != 0 || is_key_source(k->name))
			continue;
		switch (k->type) {
		case K_STRING:
		case K_PATH:
		case K_PROVIDER:
			if (*(char *const *)from != NULL)
				*(char **)to = *(char *const *)from;
			break;
		case K_INT:
		case K_SIZE:
		case K_DURATION:
			if (*(const int64_t *)from != -1)
				*(int64_t *)to = *(const int64_t *)from;
			break;
		case K_REAL:
			if (*(const double *)from != -1)
				*(double *)to = *(const double *)from;
			break;
		case K_BOOL:
		case K_LEVEL:
		case K_MAXFIELD:
		case K_SANDBOX:
			if (*(const int *)from != -1)
				*(int *)to = *(const int *)from;
			break;
		case K_LIST:
		case K_WORDS:
		case K_PATHS:
		case K_ENVNAMES:
			break;
		}
	}
	if (over->key_env != NULL || over->key_file != NULL ||
	    over->key_credential != NULL) {
		out->key_env = over->key_env;
		out->key_file = over->key_file;
		out->key_credential = over->key_credential;
	}
}

void
conf_llm(const struct masterd_conf *c, const char *domain,
    struct llm_conf *out)
{
	const struct domain_conf *dc;

	*out = c->llm;
	if (domain != NULL && (dc = conf_domain(c, domain)) != NULL)
		llm_overlay(out, &dc->llm);
}

void
conf_llm_role(const struct masterd_conf *c, const char *role,
    const char *domain, struct llm_conf *out)
{
	static const struct {
		const char *name;
		size_t offset;
	} roles[] = {
		{ "critic", offsetof(struct masterd_conf, critic) },
		{ "planner", offsetof(struct masterd_conf, planner) },
	};

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		if (strcmp(role, roles[i].name) != 0)
			continue;
		*out = c->llm;
		llm_overlay(out, (const struct llm_conf *)((const char *)c +
		    roles[i].offset));
		return;
	}
	conf_llm(c, domain, out);
}

int
conf_llm_named(const struct masterd_conf *c, const char *name,
    struct llm_conf *out)
{
	const struct llm_named *n = named_find(c, name);

	if (n == NULL)
		return -1;
	*out = c->llm;
	llm_overlay(out, &n->llm);
	/* A fallback fails over no further: one list, the primary's. */
	out->fallback = NULL;
	return 0;
}

size_t
conf_llm_fallbacks(const struct llm_conf *l, char **names, size_t max)
{
	const char *p = l->fallback;
	size_t n = 0, len;

	while (p != NULL && *p != '\0' && n < max) {
		p += strspn(p, ", \t");
		if ((len = strcspn(p, ", \t")) == 0)
			break;
		names[n++] = xstrndup(p, len);
		p += len;
	}
	return n;
}

const char *
conf_provider_default_url(const char *provider)
{
	static const struct {
		const char *provider, *url;
	} urls[] = {
		{ "openai-responses", "https://api.openai.com/v1" },
		{ "chat", "https://api.openai.com/v1" },
		{ "anthropic", "https://api.anthropic.com/v1" },
	};

	for (size_t i = 0; provider != NULL && i < nitems(urls); i++) {
		if (strcmp(provider, urls[i].provider) == 0)
			return urls[i].url;
	}
	return NULL;
}

/* The llm layer's API tables say the same (default_key_env); masterd,
 * which does not link it, asks here. */
const char *
conf_provider_default_key_env(const char *provider)
{
	if (provider != NULL && strcmp(provider, "anthropic") == 0)
		return "ANTHROPIC_API_KEY";
	return "OPENAI_API_KEY";
}

void
conf_llm_endpoint(const struct llm_conf *l, char *out, size_t len)
{
	const char *url = l->base_url;

	size_t n;

	if (url == NULL || *url == '\0')
		url = conf_provider_default_url(l->provider);
	/* "…/v1/" and "…/v1" are the same server, as the session says. */
	n = url != NULL ? strlen(url) : 0;
	while (n > 0 && url[n - 1] == '/')
		n--;
	snprintf(out, len, "%s %.*s", l->provider ? l->provider : "?",
	    (int)n, url ? url : "?");
}

static void check_llm(const struct llm_conf *, const char *,
    struct errbuf *);

static void
chain_add(struct llm_chain *ch, const struct llm_conf *l, const char *name)
{
	size_t i = ch->n;

	if (i >= CONF_CHAIN_MAX)
		return;
	ch->conf[i] = *l;
	snprintf(ch->name[i], sizeof(ch->name[i]), "%s", name);
	conf_llm_endpoint(l, ch->endpoint[i], sizeof(ch->endpoint[i]));
	ch->n++;
}

void
conf_llm_chain(const struct masterd_conf *c, const char *role,
    const char *domain, struct llm_chain *out)
{
	struct llm_conf primary, fb;
	char *names[CONF_MAX_FALLBACKS];
	size_t n;

	memset(out, 0, sizeof(*out));
	conf_llm_role(c, role, domain, &primary);
	chain_add(out, &primary, "llm");
	n = conf_llm_fallbacks(&primary, names, CONF_MAX_FALLBACKS);
	for (size_t i = 0; i < n; i++) {
		if (conf_llm_named(c, names[i], &fb) == 0)
			chain_add(out, &fb, names[i]);
		free(names[i]);
	}
}

/* Every name a fallback list gives must be an [llm "NAME"] section. */
static void
check_fallbacks(const struct masterd_conf *c, const struct llm_conf *l,
    const char *where, struct errbuf *errs)
{
	char *names[CONF_MAX_FALLBACKS + 1];
	size_t n = conf_llm_fallbacks(l, names, nitems(names));

	if (n > CONF_MAX_FALLBACKS)
		errbuf_add(errs, "%s fallback: at most %d providers", where,
		    CONF_MAX_FALLBACKS);
	for (size_t i = 0; i < n; i++) {
		if (named_find(c, names[i]) == NULL)
			errbuf_add(errs, "%s fallback: no section [llm \"%s\"]",
			    where, names[i]);
		free(names[i]);
	}
}

/* Does any provider of c read its key from the variable name? */
static bool
is_key_variable(const struct masterd_conf *c, const char *name)
{
	const struct llm_conf *l[] = { &c->llm, &c->critic, &c->planner };

	for (size_t i = 0; i < nitems(l); i++)
		if (l[i]->key_env != NULL && strcmp(l[i]->key_env, name) == 0)
			return true;
	for (size_t i = 0; i < c->nproviders; i++)
		if (c->providers[i].llm.key_env != NULL &&
		    strcmp(c->providers[i].llm.key_env, name) == 0)
			return true;
	for (size_t i = 0; i < c->ndomains; i++)
		if (c->domains[i].llm.key_env != NULL &&
		    strcmp(c->domains[i].llm.key_env, name) == 0)
			return true;
	return false;
}

/* [task] approve: what waits for a person. */
static void
check_approve(const struct masterd_conf *c, struct errbuf *errs)
{
	const char *a = c->approve != NULL ? c->approve : "none";

	if (strcmp(a, "none") != 0 && strcmp(a, "plan") != 0 &&
	    strcmp(a, "merge") != 0)
		errbuf_add(errs, "[task] approve: unknown gate '%s' "
		    "(expected none, plan or merge)", a);
}

/* [notify]: known moments, and no key handed to the command. */
static void
check_notify(const struct masterd_conf *c, struct errbuf *errs)
{
	for (size_t i = 0; i < c->notify_env.n; i++)
		if (is_key_variable(c, c->notify_env.v[i]))
			errbuf_add(errs, "[notify] env: %s holds a provider's "
			    "key, which never leaves masterd's children",
			    c->notify_env.v[i]);
	for (size_t i = 0; i < c->notify_on.n; i++) {
		const char *w = c->notify_on.v[i];
		size_t k;

		for (k = 0; conf_notify_kinds[k] != NULL; k++)
			if (strcmp(w, conf_notify_kinds[k]) == 0)
				break;
		if (conf_notify_kinds[k] == NULL)
			errbuf_add(errs, "[notify] on: unknown moment '%s' "
			    "(expected done, failed, cancelled, paused, needs-input "
			    "or approval-needed)", w);
	}
}

/* Each [llm "NAME"]: its effective conf is checked as [llm]'s is. */
static void
check_named(const struct masterd_conf *c, struct errbuf *errs)
{
	struct llm_conf eff;
	char where[64];

	for (size_t i = 0; i < c->nproviders; i++) {
		const struct llm_named *n = &c->providers[i];

		snprintf(where, sizeof(where), "[llm \"%s\"]", n->name);
		if (n->llm.fallback != NULL)
			errbuf_add(errs, "%s fallback: only a primary provider "
			    "lists fallbacks ([llm], a role or a domain)",
			    where);
		conf_llm_named(c, n->name, &eff);
		check_llm(&eff, where, errs);
	}
}

/* Problems of one effective llm conf; where is "[llm]" or a domain. */
static void
check_llm(const struct llm_conf *l, const char *where, struct errbuf *errs)
{
	int nkeys = (l->key_env != NULL) + (l->key_file != NULL) +
	    (l->key_credential != NULL);

	if (nkeys > 1)
		errbuf_add(errs, "%s sets more than one of key_env, key_file "
		    "and key_credential", where);
	/* A key pasted here would be logged and stored: never echo it. */
	if (l->key_env != NULL && !conf_key_env_ok(l->key_env))
		errbuf_add(errs, "%s " KEY_ENV_NOT_A_NAME, where);
	if (l->key_credential != NULL &&
	    (strchr(l->key_credential, '/') != NULL ||
	    strcmp(l->key_credential, "..") == 0 ||
	    strcmp(l->key_credential, ".") == 0))
		errbuf_add(errs, "%s key_credential: a credential name, not "
		    "a path: '%s'", where, l->key_credential);
	if (l->base_url != NULL && strncmp(l->base_url, "http://", 7) != 0 &&
	    strncmp(l->base_url, "https://", 8) != 0)
		errbuf_add(errs, "%s base_url: expected an http:// or https:// "
		    "URL: '%s'", where, l->base_url);
	/*
	 * Chat Completions servers keep no history: the child trims it to
	 * the window, which must be known.  Local servers (Ollama,
	 * llama-server) cannot be told a window size per request either, so
	 * the same number must be given to the server when it starts.
	 */
	if (l->provider != NULL && strcmp(l->provider, "chat") == 0 &&
	    l->context_tokens <= 0)
		errbuf_add(errs, "%s provider chat needs context_tokens (the "
		    "window the server was started with)", where);
	if (l->context_tokens > 0 && l->max_tokens > 0 &&
	    l->max_tokens >= l->context_tokens)
		errbuf_add(errs, "%s max_tokens (%" PRId64 ") must be smaller "
		    "than context_tokens (%" PRId64 ")", where, l->max_tokens,
		    l->context_tokens);
}

/* A role's effective conf, when its section changes anything. */
static void
check_role(const struct masterd_conf *c, const char *role,
    struct errbuf *errs)
{
	struct llm_conf eff;
	char where[32];

	conf_llm_role(c, role, NULL, &eff);
	snprintf(where, sizeof(where), "[%s]", role);
	if (memcmp(&eff, &c->llm, sizeof(eff)) != 0) {
		check_llm(&eff, where, errs);
		check_fallbacks(c, &eff, where, errs);
	}
}

static void
check_consistency(struct masterd_conf *c, struct errbuf *errs)
{
	struct llm_conf eff;
	char where[64];

	if (c->ping_timeout <= c->ping_interval)
		errbuf_add(errs, "[supervise] ping_timeout (%" PRId64 " ms) "
		    "must be longer than ping_interval (%" PRId64 " ms)",
		    c->ping_timeout, c->ping_interval);
	if (c->restart_delay > c->restart_delay_max)
		errbuf_add(errs, "[supervise] restart_delay is longer than "
		    "restart_delay_max");
	check_llm(&c->llm, "[llm]", errs);
	check_fallbacks(c, &c->llm, "[llm]", errs);
	check_notify(c, errs);
	check_approve(c, errs);
	check_role(c, "critic", errs);
	check_role(c, "planner", errs);
	check_named(c, errs);
	for (size_t i = 0; i < c->ndomains; i++) {
		const struct domain_conf *d = &c->domains[i];

		conf_llm(c, d->name, &eff);
		snprintf(where, sizeof(where), "[domain \"%s\"]", d->name);
		/* A domain that changes nothing repeats no [llm] error. */
		if (memcmp(&eff, &c->llm, sizeof(eff)) != 0) {
			check_llm(&eff, where, errs);
			check_fallbacks(c, &eff, where, errs);
		}
		if (d->prompt != NULL && d->prompt_file != NULL)
			errbuf_add(errs, "[domain \"%s\"] sets both prompt and "
			    "prompt_file", d->name);
		for (size_t j = 0; j < d->depends.n; j++) {
			if (!conf_domain_name_ok(d->depends.v[j]))
				errbuf_add(errs, "[domain \"%s\"] depends: bad "
				    "domain name '%s'", d->name,
				    d->depends.v[j]);
		}
	}
}

int
conf_load(const char *path, struct masterd_conf **out, char **errors)
{
	struct errbuf errs = { 0 };
	struct masterd_conf *c;

	*out = NULL;
	*errors = NULL;
	c = xcalloc(1, sizeof(*c));
	apply_defaults(c);
	if (path != NULL) {
		c->file = xstrdup(path);
		parse_file(c, path, &errs);
	}
	apply_env(c, &errs);
	if (c->state_dir == NULL)
		c->state_dir = conf_default_state_dir();
	if (c->control_socket == NULL)
		c->control_socket = conf_default_socket();
	check_consistency(c, &errs);
	if (errs.count > 0) {
		conf_free(c);
		*errors = errs.text;
		return -1;
	}
	*out = c;
	return 0;
}

const char *
conf_sandbox_name(int mode)
{
	if (mode < 0 || mode >= (int)(sizeof(sandbox_modes) /
	    sizeof(sandbox_modes[0])) - 1)
		return "?";
	return sandbox_modes[mode];
}

/*
 * MASTERD_* configures masterd itself and CREDENTIALS_DIRECTORY leads to
 * its keys: neither is a check's business.
 */
bool
conf_env_name_ok(const char *name)
{
	size_t n = 0;

	if (name == NULL || !(isalpha((unsigned char)name[0]) ||
	    name[0] == '_'))
		return false;
	for (const char *p = name; *p; p++, n++) {
		if (!isalnum((unsigned char)*p) && *p != '_')
			return false;
	}
	if (n > 128 || strncmp(name, "MASTERD_", 8) == 0 ||
	    strcmp(name, "CREDENTIALS_DIRECTORY") == 0)
		return false;
	return true;
}

#define KEY_ENV_MAX	64	/* a name; keys are longer */
#define KEY_ENV_KEYLIKE	24	/* from here, digits and no '_' or mixed
				 * case: a key ("gsk_", "AIza..."), not a
				 * name */

bool
conf_key_env_ok(const char *value)
{
	size_t n = 0;
	bool digit = false, underscore = false, lower = false, upper = false;

	if (value == NULL || !(isalpha((unsigned char)value[0]) ||
	    value[0] == '_'))
		return false;
	for (const char *p = value; *p; p++, n++) {
		if (!isalnum((unsigned char)*p) && *p != '_')
			return false;
		digit |= isdigit((unsigned char)*p) != 0;
		lower |= islower((unsigned char)*p) != 0;
		upper |= isupper((unsigned char)*p) != 0;
		underscore |= *p == '_';
	}
	if (n > KEY_ENV_MAX)
		return false;
	return !(n >= KEY_ENV_KEYLIKE && digit && (!underscore ||
	    (lower && upper)));
}

bool
conf_domain_name_ok(const char *name)
{
	size_t n = 0;

	if (name == NULL || !islower((unsigned char)name[0]))
		return false;
	for (const char *p = name; *p; p++, n++) {
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
		    *p != '-' && *p != '_')
			return false;
	}
	return n <= 32;
}
