/*
 * task_decide.c — what a task does next, decided over plain values:
 * budgets and their limits, the no-progress watchdog, the unresolved set
 * turned into directives (and which queued ones are no longer wanted,
 * and whether an interface directive's gap is gone or it goes again),
 * what a failed directive becomes, and the task's life building ->
 * integrating -> improving -> done.  Nothing here reads the registry,
 * talks to a child or looks at the clock: tests/unit/test_engine.c drives
 * it with structs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "daemon/masterd/task_decide.h"

/* ---------------------------------------------------------- budgets */

double
decide_limit(const struct budget *own, const struct budget *defaults,
    enum budget_key k)
{
	if (own->set & (1u << k))
		return own->limit[k];
	return defaults->limit[k];
}

int
decide_over_budget(const struct budget *own, const struct budget *defaults,
    const struct spend *s, char *why, size_t len)
{
	/* Why each limit stops a task: what was used, then the limit. */
	static const char *const reached[BUDGET_KEY_COUNT] = {
		[BUDGET_TOKENS] = "budget: %.0f tokens used, limit %.0f",
		[BUDGET_COST] = "budget: cost %.4f reached, limit %.4f",
		[BUDGET_ROUNDS] = "budget: %.0f rounds run, limit %.0f",
		[BUDGET_TIME] = "budget: %.0f s since submit, limit %.0f s",
	};
	const double used[BUDGET_KEY_COUNT] = {
		[BUDGET_TOKENS] = (double)s->tokens,
		[BUDGET_COST] = s->cost,
		[BUDGET_ROUNDS] = (double)s->rounds,
		[BUDGET_TIME] = (double)s->seconds,
	};
	double l;

	why[0] = '\0';
	for (int k = 0; k < BUDGET_KEY_COUNT; k++) {
		if ((l = decide_limit(own, defaults, k)) > 0 && used[k] >= l) {
			snprintf(why, len, reached[k], used[k], l);
			return k;
		}
	}
	return -1;
}

int
decide_budget_merge(const struct budget *old, const json_t *given,
    struct budget *out, char *err, size_t errlen)
{
	*out = *old;
	for (int k = 0; k < BUDGET_KEY_COUNT; k++) {
		const json_t *v = json_object_get(given, budget_key_names[k]);

		if (v == NULL)
			continue;
		if (!json_is_number(v) || json_number_value(v) < 0) {
			snprintf(err, errlen, "budget %s must be a number >= 0 "
			    "(0: no limit)", budget_key_names[k]);
			return -1;
		}
		out->limit[k] = json_number_value(v);
		out->set |= 1u << k;
	}
	return 0;
}

/* ---------------------------------------------------------- watchdog */

bool
decide_stalled(const bool *committed, size_t count, int64_t n)
{
	if (n <= 0 || count < (size_t)n)
		return false;
	for (size_t i = count - (size_t)n; i < count; i++)
		if (committed[i])
			return false;
	return true;
}

/* ---------------------------------------------------------- unresolved */

/* The state of one domain, as the caller gave it; NULL if absent. */
static const json_t *
domain_state(const json_t *domains, const char *name)
{
	const json_t *d;
	size_t i;

	json_array_foreach(domains, i, d) {
		const char *n = jget_str(d, "domain");

		if (n != NULL && name != NULL && strcmp(n, name) == 0)
			return d;
	}
	return NULL;
}

/* Does doc provide (kind, name)? */
static bool
provides_entry(const json_t *doc, const char *kind, const char *name)
{
	const json_t *e;
	size_t i;

	json_array_foreach(json_object_get(doc, "provides"), i, e) {
		const char *k = jget_str(e, "kind"), *n = jget_str(e, "name");

		if (k != NULL && n != NULL && kind != NULL && name != NULL &&
		    strcmp(k, kind) == 0 && strcmp(n, name) == 0)
			return true;
	}
	return false;
}

/*
 * A missing item is not late while its provider has said nothing yet
 * (neither published nor declared), or has declared the entry and still
 * has work open to implement it.
 */
static bool
missing_waits(const json_t *item, const json_t *domains)
{
	const json_t *p = domain_state(domains, jget_str(item, "provider"));
	const json_t *declared = json_object_get(p, "declared");

	if (p == NULL)
		return true;
	if (!jget_bool(p, "published") && !json_is_object(declared))
		return true;
	return jget_bool(p, "open") && provides_entry(declared,
	    jget_str(item, "kind"), jget_str(item, "name"));
}

static char *
canonical_text(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

/* The directive that fixes one unresolved item, and who gets it. */
static char *
directive_for(const json_t *item, const char **target)
{
	const char *problem = jget_str(item, "problem");
	const char *kind = jget_str(item, "kind"), *name = jget_str(item,
	    "name");
	const char *consumer = jget_str(item, "consumer");
	const char *provider = jget_str(item, "provider");
	char *s = NULL, *exp, *got;

	if (problem == NULL)
		return NULL;
	if (strcmp(problem, "missing") == 0) {
		*target = provider;
		return xasprintf("Provide %s `%s` and publish it in your "
		    "interface: domain %s consumes it from you.", kind, name,
		    consumer);
	}
	if (strcmp(problem, "removed") == 0) {
		*target = provider;
		return xasprintf("Your interface no longer provides %s `%s`, "
		    "but domain %s still consumes it. Provide it again.", kind,
		    name, consumer);
	}
	if (strcmp(problem, "changed") == 0) {
		*target = consumer;
		exp = canonical_text(json_object_get(item, "expected"));
		got = canonical_text(json_object_get(item, "provided"));
		s = xasprintf("Domain %s changed %s `%s`: it now provides "
		    "%s, and you expect %s. Update your code and your consumes "
		    "entry to what it provides.", provider, kind, name,
		    got ? got : "?", exp ? exp : "?");
		free(exp);
		free(got);
		return s;
	}
	if (strcmp(problem, "no_domain") == 0) {
		*target = consumer;
		return xasprintf("You consume %s `%s` from domain %s, which "
		    "this task does not have. Use what the existing domains "
		    "provide instead.", kind, name, provider);
	}
	return NULL;
}

json_t *
decide_interface_directives(const json_t *unresolved, const json_t *domains)
{
	json_t *out = json_array(), *item;
	size_t i;

	json_array_foreach(unresolved, i, item) {
		const char *target = NULL;
		char *text = directive_for(item, &target);
		const char *problem = jget_str(item, "problem");

		if (text != NULL && target != NULL)
			json_array_append_new(out, json_pack("{s:s, s:s, s:b}",
			    "domain", target, "text", text, "wait",
			    strcmp(problem, "missing") == 0 &&
			    missing_waits(item, domains)));
		free(text);
	}
	return out;
}

/* A retry's note follows the item's directive after a blank line; no
 * directive made from an item holds one (its values are on one line). */
#define RETRY_NOTE	"\n\nTry "

size_t
decide_interface_base(const char *text)
{
	const char *note = strstr(text, RETRY_NOTE);

	return note != NULL ? (size_t)(note - text) : strlen(text);
}

bool
decide_still_wanted(const json_t *wanted, const char *text)
{
	const json_t *w;
	size_t i, n;

	if (text == NULL)
		return false;
	n = decide_interface_base(text);
	json_array_foreach(wanted, i, w) {
		const char *t = jget_str(w, "text");

		if (t != NULL && strlen(t) == n && strncmp(t, text, n) == 0)
			return true;
	}
	return false;
}

/* The try a directive's text says it is: 1 without a note. */
static int64_t
try_of(const char *text)
{
	const char *note = strstr(text, RETRY_NOTE);
	long long n;

	if (note == NULL || sscanf(note + strlen(RETRY_NOTE), "%lld", &n) != 1
	    || n < 1)
		return 1;
	return n;
}

/* What is still wrong with an item, in words for the domain. */
static char *
gap_words(const json_t *item)
{
	const char *problem = jget_str(item, "problem");
	const char *kind = jget_str(item, "kind"), *name = jget_str(item,
	    "name");

	if (strcmp(problem, "missing") == 0 || strcmp(problem, "removed") == 0)
		return xasprintf("your implemented interface still does not "
		    "provide %s `%s`, which domain %s consumes", kind, name,
		    jget_str(item, "consumer"));
	if (strcmp(problem, "changed") == 0)
		return xasprintf("what you consume as %s `%s` still differs "
		    "from what domain %s provides", kind, name,
		    jget_str(item, "provider"));
	return xasprintf("you still consume %s `%s` from domain %s", kind,
	    name, jget_str(item, "provider"));
}

enum iface_outcome
decide_interface_outcome(const json_t *unresolved, const char *text,
    int64_t max_tries, char **next, char **why)
{
	const json_t *item, *gap = NULL;
	size_t i, n = decide_interface_base(text);
	int64_t tries = try_of(text);
	char *t, *words;

	*next = NULL;
	*why = NULL;
	json_array_foreach(unresolved, i, item) {
		const char *target = NULL;

		t = directive_for(item, &target);
		if (t != NULL && strlen(t) == n && strncmp(t, text, n) == 0)
			gap = item;
		free(t);
		if (gap != NULL)
			break;
	}
	if (gap == NULL)
		return IFACE_CLOSED;
	words = gap_words(gap);
	if (tries >= max_tries) {
		*why = xasprintf("its round was accepted, but "
		    IFACE_GAVE_UP " %lld %s: %s", (long long)tries, tries == 1 ?
		    "try" : "tries", words);
		free(words);
		return IFACE_GIVE_UP;
	}
	*why = xasprintf("its round was accepted, but the gap is still open: "
	    "%s; try %lld of %lld queued", words, (long long)tries + 1,
	    (long long)max_tries);
	*next = xasprintf("%.*s" RETRY_NOTE "%lld of %lld: your last round "
	    "on this was committed, but %s. Close that gap in this round, "
	    "and give your complete interface when you finish.", (int)n,
	    text, (long long)tries + 1, (long long)max_tries, words);
	free(words);
	return IFACE_AGAIN;
}

bool
decide_given_up(const json_t *directives, const char *text)
{
	const json_t *x;
	size_t i, n;

	if (text == NULL)
		return false;
	n = strlen(text);
	json_array_foreach(directives, i, x) {
		const char *xt = jget_str(x, "text");
		const char *st = jget_str(x, "state");
		const char *src = jget_str(x, "source");
		const char *why = jget_str(x, "reason");

		if (xt != NULL && st != NULL && src != NULL && why != NULL &&
		    strcmp(src, source_names[SOURCE_INTERFACE]) == 0 &&
		    strcmp(st, directive_state_names[DIRECTIVE_DROPPED]) == 0 &&
		    strstr(why, IFACE_GAVE_UP) != NULL &&
		    decide_interface_base(xt) == n && strncmp(xt, text, n) == 0)
			return true;
	}
	return false;
}

/* ---------------------------------------------------------- failures */

enum failure_step
decide_failure(const char *code, bool task_open, int64_t attempts,
    int64_t max_attempts)
{
	/* Not the directive's fault: it waits for the provider. */
	if (code != NULL && (strcmp(code, ERR_RATE_LIMITED) == 0 ||
	    strcmp(code, ERR_PROVIDER_DOWN) == 0))
		return FAILURE_WAIT;
	/* Nor is a sandbox the host cannot build: another try would only
	 * cost another model round. */
	if (code != NULL && (strcmp(code, ERR_SANDBOX) == 0 ||
	    strcmp(code, ERR_SETUP) == 0))
		return FAILURE_PAUSE;
	if (code != NULL && strcmp(code, ERR_CANCELLED) == 0 && task_open)
		return FAILURE_REQUEUE;
	if (attempts < max_attempts)
		return FAILURE_RETRY;
	return FAILURE_DROP;
}

double
decide_retry_delay(int64_t base_ms, int64_t n)
{
	double s = (double)(base_ms > 0 ? base_ms : 0) / 1000.0;

	for (int64_t i = 1; i < n && s < 600; i++)
		s *= 2;
	return s < 600 ? s : 600;
}

/* ---------------------------------------------------------- integration */

enum integration_status
decide_integration(const struct integration_facts *f)
{
	if (!f->has_commands)
		return INTEG_NONE;
	if (f->running)
		return INTEG_RUNNING;
	/* A run that could not happen, or was cut short, tested nothing. */
	if (f->tested == NULL || f->main == NULL ||
	    strcmp(f->tested, f->main) != 0 ||
	    f->last == RUN_ERROR || f->last == RUN_CANCELLED ||
	    f->last == RUN_RUNNING)
		return INTEG_PENDING;
	if (f->last == RUN_PASSED)
		return INTEG_PASSED;
	return f->attributed ? INTEG_ATTRIBUTED : INTEG_FAILED;
}

/* The last max bytes of s, from the start of a line where one is near,
 * and not in the middle of a UTF-8 sequence. */
static const char *
tail_of(const char *s, size_t max)
{
	size_t n = strlen(s);
	const char *p, *nl;

	if (n <= max)
		return s;
	p = s + n - max;
	while ((*p & 0xc0) == 0x80)
		p++;
	if ((nl = memchr(p, '\n', 200 < max ? 200 : max)) != NULL)
		p = nl + 1;
	return p;
}

char *
decide_integration_text(const char *words, const json_t *result,
    const char *commit, size_t max_output)
{
	const char *command = jget_str(result, "command");
	const char *kind = jget_str(result, "kind");
	const char *output = jget_str(result, "output");
	const char *consumer = jget_str(result, "consumer");
	const char *entry = jget_str(result, "entry");
	json_int_t status = jget_int(result, "exit_status", -1);
	char *head, *how, *text;
	char shortid[8];

	snprintf(shortid, sizeof(shortid), "%.7s", commit ? commit : "?");
	if (kind != NULL && strcmp(kind, "contract") == 0)
		head = xasprintf("Domain %s's contract test of %s, which it "
		    "consumes from you, fails against your code on main "
		    "(commit %s, every domain's code together). The test is "
		    "the consumer's expectation: make your code meet it, and "
		    "keep your interface's entry true to what you provide.",
		    consumer ? consumer : "?", entry ? entry : "?", shortid);
	else
		head = xasprintf("%s", words != NULL && *words != '\0' ? words :
		    "An integration check fails on main, where every "
		    "domain's code is together. Find the cause in your "
		    "domain's part and fix it.");
	if (jget_bool(result, "timed_out"))
		how = xstrdup("timed out");
	else if (status < 0)
		how = xasprintf("was killed by signal %lld",
		    (long long)jget_int(result, "signal", 0));
	else
		how = xasprintf("exited %lld", (long long)status);
	text = xasprintf("%s\n\nFailing on main (commit %s): `%s` %s. "
	    "Output%s:\n```\n%s\n```", head, shortid,
	    command ? command : "?", how,
	    output != NULL && strlen(output) > max_output ? " (its end)" : "",
	    output != NULL ? tail_of(output, max_output) : "");
	free(head);
	free(how);
	return text;
}

/* ---------------------------------------------------------- life */

/*
 * Before a task improves, is reviewed or ends, main must pass: an
 * untested main is run, a failing one handed out as directives, at most
 * integration_attempts times in a row.  True, with the step, when main
 * holds the task back.
 */
static bool
integration_gate(const struct life *l, enum life_step *step)
{
	switch (l->integration) {
	case INTEG_RUNNING:
		*step = LIFE_WAIT;
		return true;
	case INTEG_PENDING:
		*step = LIFE_RUN_INTEGRATION;
		return true;
	case INTEG_FAILED:
	case INTEG_ATTRIBUTED:
		*step = l->integration_failures >= l->integration_attempts ?
		    LIFE_INTEGRATION_STUCK : LIFE_ATTRIBUTE;
		return true;
	default:
		return false;
	}
}

/*
 * Building ends when nothing is open: with nothing done it failed, else it
 * integrates (the unresolved set becomes directives; the caller decides
 * again once they are done).  Integrating with nothing open improves:
 * what is left no directive can fix, once main passes its integration
 * checks.  Improving asks for reviews until
 * they are used up; with none configured the task waits for its user.
 */
enum life_step
decide_life(const struct life *l)
{
	enum life_step gate;

	if (l->paused || l->planner_busy || l->open > 0)
		return LIFE_WAIT;
	switch (l->state) {
	case TASK_BUILDING:
		return l->done == 0 ? LIFE_FAIL : LIFE_INTEGRATE;
	case TASK_INTEGRATING:
		if (integration_gate(l, &gate))
			return gate;
		return LIFE_IMPROVE;
	case TASK_IMPROVING:
		if (integration_gate(l, &gate))
			return gate;
		if (l->max_reviews == 0)
			return LIFE_WAIT;
		return l->reviews >= l->max_reviews ? LIFE_DONE : LIFE_REVIEW;
	default:
		return LIFE_WAIT;
	}
}
