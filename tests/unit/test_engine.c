/*
 * test_engine.c — the task core's decisions (daemon/masterd/task_decide.c),
 * driven with plain structs and documents: no registry, no children, no
 * clock.
 *
 * The unresolved set turned into directives (a need declared reaches its
 * provider, a provider that declared the entry and works is not late),
 * dropped once resolved; an interface directive whose gap stays open
 * tried again, then given up; a reformatted signature is no change;
 * budgets (tokens, cost, rounds, time): the task's own limits over the
 * defaults, 0 as no limit, a limit reached pauses, raising it lets the
 * task go on, bad values refused; the no-progress watchdog; a failed
 * directive held, requeued, retried and then dropped; the task's life
 * building -> integrating -> improving -> done.
 */
#include "testutil.h"

#include <jansson.h>

#include "common/iface.h"
#include "daemon/masterd/task_decide.h"

static json_t *
jparse(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);

	if (j == NULL)
		fail_msg("bad test JSON: %s: %s", e.text, s);
	return j;
}

/* ---------------------------------------------------------- unresolved */

#define DB_V1 "{\"domain\": \"database\", \"summary\": \"db\", " \
	"\"provides\": [{\"kind\": \"table\", \"name\": \"employees\", " \
	"\"signature\": \"CREATE TABLE employees (id INTEGER)\"}]}"
#define DB_V2 "{\"domain\": \"database\", \"summary\": \"db\", " \
	"\"provides\": [{\"kind\": \"table\", \"name\": \"employees\", " \
	"\"signature\": \"CREATE TABLE employees (id INTEGER)\"}, " \
	"{\"kind\": \"table\", \"name\": \"payslips\", " \
	"\"signature\": \"CREATE TABLE payslips (id INTEGER)\"}]}"
#define LOGIC "{\"domain\": \"logic\", \"summary\": \"logic\", " \
	"\"provides\": [], \"consumes\": [{\"kind\": \"table\", " \
	"\"name\": \"payslips\", \"from\": \"database\", " \
	"\"signature\": \"CREATE TABLE payslips (id INTEGER)\"}]}"

/* Each domain's state as the task core would give it: published when
 * its document has provides, nothing declared, no work open. */
static json_t *
states_of(const json_t *latest)
{
	json_t *out = json_array(), *d;
	size_t i;

	json_array_foreach(latest, i, d)
		json_array_append_new(out, json_pack("{s:O, s:b, s:b}",
		    "domain", json_object_get(d, "domain"), "published",
		    json_object_get(d, "provides") != NULL, "open", 0));
	return out;
}

/* The directives decided for these latest documents (no previous) and
 * domain states (NULL: states_of). */
static json_t *
directives_with(const char *const *docs, size_t n, const char *states)
{
	json_t *latest = json_array(), *previous = json_array(), *set, *out;
	json_t *st;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(latest, jparse(docs[i]));
	st = states != NULL ? jparse(states) : states_of(latest);
	set = iface_unresolved(latest, previous);
	assert_non_null(set);
	out = decide_interface_directives(set, st);
	json_decref(set);
	json_decref(st);
	json_decref(latest);
	json_decref(previous);
	return out;
}

static json_t *
directives_for(const char *const *docs, size_t n)
{
	return directives_with(docs, n, NULL);
}

/* The directives of out that are due now (not waiting). */
static size_t
due(const json_t *out)
{
	const json_t *w;
	size_t i, n = 0;

	json_array_foreach(out, i, w)
		n += !json_is_true(json_object_get(w, "wait"));
	return n;
}

/* Check that `out` is one directive, to `domain`, due or waiting as
 * `wait` says, whose text holds `part`; and free it. */
static void
expect_one(json_t *out, const char *domain, const char *part, bool wait)
{
	assert_int_equal(json_array_size(out), 1);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(out, 0), "domain")), domain);
	assert_non_null(strstr(json_string_value(json_object_get(
	    json_array_get(out, 0), "text")), part));
	assert_int_equal(json_is_true(json_object_get(json_array_get(out, 0),
	    "wait")), wait);
	json_decref(out);
}

static void
expect_one_directive(json_t *out, const char *domain, const char *part)
{
	expect_one(out, domain, part, false);
}

static void
test_unresolved_becomes_directives(void **state)
{
	const char *docs[] = { DB_V1, LOGIC };
	json_t *out;

	(void)state;
	out = directives_for(docs, 2);
	expect_one_directive(out, "database", "Provide table `payslips`");
}

static void
test_unpublished_provider_is_not_late(void **state)
{
	const char *docs[] = { "{\"domain\": \"database\"}", LOGIC };
	json_t *out;

	(void)state;
	out = directives_for(docs, 2);
	/* Wanted (a queued one stays), but not due. */
	assert_int_equal(due(out), 0);
	expect_one(out, "database", "Provide table `payslips`", true);
}

/* A consumer that has only declared its interface (no provides of its
 * own yet: the task core gives its declared consumes): its need reaches
 * a provider that has published at once. */
static void
test_declared_need_reaches_provider(void **state)
{
	const char *docs[] = { DB_V1, "{\"domain\": \"logic\", "
	    "\"consumes\": [{\"kind\": \"table\", \"name\": \"payslips\", "
	    "\"from\": \"database\"}]}" };
	json_t *out;

	(void)state;
	out = directives_with(docs, 2, "[{\"domain\": \"database\", "
	    "\"published\": true, \"open\": true}, {\"domain\": \"logic\", "
	    "\"published\": false, \"open\": true, \"declared\": {}}]");
	expect_one_directive(out, "database", "Provide table `payslips`");
}

/* A provider that has declared the entry and still works: not late.
 * Done working without it, or declared without it: due. */
static void
test_declared_entry_waits_while_open(void **state)
{
	const char *docs[] = { DB_V1, LOGIC };
	const char *decl = "{\"domain\": \"database\", \"provides\": "
	    "[{\"kind\": \"table\", \"name\": \"payslips\"}]}";
	const char *other = "{\"domain\": \"database\", \"provides\": "
	    "[{\"kind\": \"table\", \"name\": \"other\"}]}";
	char states[512];
	json_t *out;

	(void)state;
	snprintf(states, sizeof(states), "[{\"domain\": \"database\", "
	    "\"published\": true, \"open\": true, \"declared\": %s}]",
	    decl);
	out = directives_with(docs, 2, states);
	expect_one(out, "database", "Provide table `payslips`", true);
	snprintf(states, sizeof(states), "[{\"domain\": \"database\", "
	    "\"published\": true, \"open\": false, \"declared\": %s}]",
	    decl);
	out = directives_with(docs, 2, states);
	expect_one(out, "database", "Provide table `payslips`", false);
	snprintf(states, sizeof(states), "[{\"domain\": \"database\", "
	    "\"published\": true, \"open\": true, \"declared\": %s}]",
	    other);
	out = directives_with(docs, 2, states);
	expect_one(out, "database", "Provide table `payslips`", false);
	/* Declared, never published: it has spoken, so it is late too. */
	snprintf(states, sizeof(states), "[{\"domain\": \"database\", "
	    "\"published\": false, \"open\": true, \"declared\": %s}]",
	    other);
	out = directives_with(docs, 2, states);
	expect_one(out, "database", "Provide table `payslips`", false);
}

/* An interface directive ended done: closed when its item is gone,
 * else tried again with a note, at most max times, then given up. */
static void
test_interface_outcome(void **state)
{
	const char *gap[] = { DB_V1, LOGIC }, *closed[] = { DB_V2, LOGIC };
	json_t *first = directives_for(gap, 2), *latest, *set, *l2, *rows;
	const char *text = json_string_value(json_object_get(
	    json_array_get(first, 0), "text"));
	char *next = NULL, *why = NULL, *third = NULL;

	(void)state;
	latest = json_pack("[o, o]", jparse(gap[0]), jparse(gap[1]));
	set = iface_unresolved(latest, NULL);
	l2 = json_pack("[o, o]", jparse(closed[0]), jparse(closed[1]));

	assert_int_equal(decide_interface_outcome(set, text, 3, &next, &why),
	    IFACE_AGAIN);
	assert_string_equal(why, "its round was accepted, but the gap is "
	    "still open: your implemented interface still does not provide "
	    "table `payslips`, which domain logic consumes; try 2 of 3 "
	    "queued");
	free(why);
	assert_non_null(strstr(next, "Try 2 of 3: your last round"));
	assert_non_null(strstr(next, "still does not provide table "
	    "`payslips`, which domain logic consumes"));
	assert_int_equal(strncmp(next, text, strlen(text)), 0);
	assert_int_equal(decide_interface_base(next), strlen(text));
	assert_int_equal(decide_interface_base(text), strlen(text));
	/* The retry is the same wanted item: kept while the gap is open. */
	assert_true(decide_still_wanted(first, next));

	assert_int_equal(decide_interface_outcome(set, next, 3, &third, &why),
	    IFACE_AGAIN);
	free(why);
	assert_non_null(strstr(third, "Try 3 of 3"));
	assert_null(strstr(third, "Try 2"));
	free(next);
	assert_int_equal(decide_interface_outcome(set, third, 3, &next,
	    &why), IFACE_GIVE_UP);
	assert_null(next);
	assert_string_equal(why, "its round was accepted, but the gap is "
	    "still open after 3 tries: your implemented interface still does "
	    "not provide table `payslips`, which domain logic consumes");
	free(why);
	/* One try allowed: the first gives up. */
	assert_int_equal(decide_interface_outcome(set, text, 1, &next, &why),
	    IFACE_GIVE_UP);
	free(why);

	/* The gap is gone: done, whatever the try. */
	json_decref(set);
	set = iface_unresolved(l2, NULL);
	assert_int_equal(decide_interface_outcome(set, text, 3, &next, &why),
	    IFACE_CLOSED);
	assert_int_equal(decide_interface_outcome(set, third, 3, &next,
	    &why), IFACE_CLOSED);
	assert_null(next);
	assert_null(why);
	/* Given up: no new try of the item; dropped for another reason, or
	 * another item's: not given up. */
	rows = json_pack("[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]",
	    "source", "interface", "state", "dropped", "reason",
	    "resolved before it ran", "text", text,
	    "source", "interface", "state", "failed", "reason",
	    "its round was accepted, but the gap is still open: x", "text",
	    text);
	assert_false(decide_given_up(rows, text));
	json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s}",
	    "source", "interface", "state", "dropped", "reason",
	    "its round was accepted, but the gap is still open after 3 "
	    "tries: x", "text", third));
	assert_true(decide_given_up(rows, text));
	assert_false(decide_given_up(rows, "Provide table `other` and "
	    "publish it in your interface: domain logic consumes it from "
	    "you."));
	assert_false(decide_given_up(rows, NULL));
	json_decref(rows);
	free(third);
	json_decref(set);
	json_decref(l2);
	json_decref(latest);
	json_decref(first);
}

static void
test_resolved_directive_dropped(void **state)
{
	const char *before[] = { DB_V1, LOGIC }, *after[] = { DB_V2, LOGIC };
	json_t *first = directives_for(before, 2), *then;
	const char *text = json_string_value(json_object_get(
	    json_array_get(first, 0), "text"));

	(void)state;
	assert_true(decide_still_wanted(first, text));
	then = directives_for(after, 2);
	assert_int_equal(json_array_size(then), 0);
	/* Queued and no longer wanted: the caller drops it. */
	assert_false(decide_still_wanted(then, text));
	assert_false(decide_still_wanted(then, NULL));
	json_decref(first);
	json_decref(then);
}

static void
test_changed_goes_to_consumer(void **state)
{
	const char *docs[] = { DB_V2, "{\"domain\": \"logic\", "
	    "\"summary\": \"l\", \"provides\": [], \"consumes\": [{\"kind\": "
	    "\"table\", \"name\": \"payslips\", \"from\": \"database\", "
	    "\"signature\": \"CREATE TABLE payslips (id TEXT)\"}]}" };
	json_t *out;

	(void)state;
	out = directives_for(docs, 2);
	expect_one_directive(out, "logic", "Domain database changed");
}

/* A reformatted signature is the same contract: nothing to do. */
static void
test_formatting_is_not_a_change(void **state)
{
	const char *docs[] = { DB_V2, "{\"domain\": \"logic\", "
	    "\"summary\": \"l\", \"provides\": [], \"consumes\": [{\"kind\": "
	    "\"table\", \"name\": \"payslips\", \"from\": \"database\", "
	    "\"signature\": \"CREATE TABLE payslips(\\n  id INTEGER\\n)\"}]}" };
	json_t *out;

	(void)state;
	out = directives_for(docs, 2);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
}

/* ---------------------------------------------------------- budgets */

static const struct budget no_defaults;

static void
test_budget_each_limit(void **state)
{
	/* A spend a row: within every limit, then at or past each one. */
	static const struct {
		struct spend s;
		int over;		/* the limit it is over, -1: none */
		const char *why;	/* the message, or with part, a part */
		bool part;
	} rows[] = {
		{ { 0 }, -1, "", false },
		{ { .tokens = 1000 }, BUDGET_TOKENS,
		    "budget: 1000 tokens used, limit 1000", false },
		{ { .cost = 2.5 }, BUDGET_COST, "budget: cost", true },
		{ { .rounds = 10 }, BUDGET_ROUNDS,
		    "budget: 10 rounds run, limit 10", false },
		{ { .seconds = 61 }, BUDGET_TIME,
		    "budget: 61 s since submit, limit 60 s", false },
	};
	struct budget own = { .set = 0xf };
	char why[200];

	(void)state;
	own.limit[BUDGET_TOKENS] = 1000;
	own.limit[BUDGET_COST] = 2;
	own.limit[BUDGET_ROUNDS] = 10;
	own.limit[BUDGET_TIME] = 60;
	for (size_t i = 0; i < TU_NITEMS(rows); i++) {
		assert_int_equal(decide_over_budget(&own, &no_defaults,
		    &rows[i].s, why, sizeof(why)), rows[i].over);
		if (rows[i].part)
			assert_non_null(strstr(why, rows[i].why));
		else
			assert_string_equal(why, rows[i].why);
	}
}

static void
test_budget_defaults_and_zero(void **state)
{
	struct budget defaults = { .set = 0 }, own = { .set = 0 };
	struct spend s = { .rounds = 5 };
	char why[200];

	(void)state;
	defaults.limit[BUDGET_ROUNDS] = 5;
	/* No limit of its own: the default holds. */
	assert_int_equal(decide_over_budget(&own, &defaults, &s, why,
	    sizeof(why)), BUDGET_ROUNDS);
	/* Its own 0 is no limit, whatever the default. */
	own.set = 1u << BUDGET_ROUNDS;
	own.limit[BUDGET_ROUNDS] = 0;
	assert_int_equal(decide_over_budget(&own, &defaults, &s, why,
	    sizeof(why)), -1);
	assert_true(decide_limit(&own, &defaults, BUDGET_ROUNDS) == 0);
	assert_true(decide_limit(&own, &defaults, BUDGET_TOKENS) == 0);
}

static void
test_budget_raise_resumes(void **state)
{
	struct budget own = { .set = 1u << BUDGET_ROUNDS }, raised;
	struct spend s = { .rounds = 3 };
	json_t *given = jparse("{\"rounds\": 10, \"cost\": 1.5}");
	char why[200], err[200];

	(void)state;
	own.limit[BUDGET_ROUNDS] = 3;
	/* At the limit: paused, for a reason that names the budget. */
	assert_int_equal(decide_over_budget(&own, &no_defaults, &s, why,
	    sizeof(why)), BUDGET_ROUNDS);
	assert_int_equal(strncmp(why, "budget:", 7), 0);
	/* Raised: no limit holds any more, the task goes on. */
	assert_int_equal(decide_budget_merge(&own, given, &raised, err,
	    sizeof(err)), 0);
	assert_true(raised.limit[BUDGET_ROUNDS] == 10);
	assert_true(raised.limit[BUDGET_COST] == 1.5);
	assert_int_equal(raised.set, (1u << BUDGET_ROUNDS) |
	    (1u << BUDGET_COST));
	assert_int_equal(decide_over_budget(&raised, &no_defaults, &s, why,
	    sizeof(why)), -1);
	json_decref(given);
}

static void
test_budget_refuses_bad_values(void **state)
{
	struct budget own = { .set = 0 }, out;
	json_t *neg = jparse("{\"tokens\": -1}");
	json_t *str = jparse("{\"time\": \"1h\"}");
	char err[200];

	(void)state;
	assert_int_equal(decide_budget_merge(&own, neg, &out, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "budget tokens must be a number >= 0 "
	    "(0: no limit)");
	assert_int_equal(decide_budget_merge(&own, str, &out, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "budget time"));
	/* No budget given at all: nothing changes. */
	assert_int_equal(decide_budget_merge(&own, NULL, &out, err,
	    sizeof(err)), 0);
	assert_int_equal(out.set, 0);
	json_decref(neg);
	json_decref(str);
}

/* ---------------------------------------------------------- watchdog */

static void
test_stalled(void **state)
{
	const bool none[] = { false, false, false };
	const bool late[] = { true, false, false };
	const bool recent[] = { false, false, true };

	(void)state;
	assert_true(decide_stalled(none, 3, 3));
	assert_true(decide_stalled(late, 3, 2));
	assert_false(decide_stalled(late, 3, 3));
	assert_false(decide_stalled(recent, 3, 2));
	/* Fewer rounds than the watchdog counts: not yet. */
	assert_false(decide_stalled(none, 2, 3));
	/* 0: no watchdog. */
	assert_false(decide_stalled(none, 3, 0));
}

/* ---------------------------------------------------------- failures */

static void
test_failed_directive_retried_then_dropped(void **state)
{
	(void)state;
	assert_int_equal(decide_failure("checks_failed", true, 1, 3),
	    FAILURE_RETRY);
	assert_int_equal(decide_failure(NULL, true, 2, 3), FAILURE_RETRY);
	assert_int_equal(decide_failure("checks_failed", true, 3, 3),
	    FAILURE_DROP);
	/* The provider's rate limit or outage is not the directive's
	 * fault: it waits, whatever its attempts. */
	assert_int_equal(decide_failure(ERR_SANDBOX, true, 1, 3),
	    FAILURE_PAUSE);
	/* A session that could not open (a key, a prompt): paused too,
	 * however many attempts were spent. */
	assert_int_equal(decide_failure(ERR_SETUP, true, 9, 3),
	    FAILURE_PAUSE);
	assert_int_equal(decide_failure(ERR_RATE_LIMITED, true, 9, 3),
	    FAILURE_WAIT);
	assert_int_equal(decide_failure(ERR_PROVIDER_DOWN, true, 9, 3),
	    FAILURE_WAIT);
	assert_int_equal(decide_failure(ERR_PROVIDER_DOWN, false, 9, 3),
	    FAILURE_WAIT);
	/* Cut short by a pause: redone on resume, not counted. */
	assert_int_equal(decide_failure(ERR_CANCELLED, true, 9, 3),
	    FAILURE_REQUEUE);
	/* Cancelled with the task over: it ends like any failure. */
	assert_int_equal(decide_failure(ERR_CANCELLED, false, 9, 3),
	    FAILURE_DROP);
}

/* A directive put back waits longer after each failed start. */
static void
test_retry_delay_doubles(void **state)
{
	(void)state;
	assert_true(decide_retry_delay(5000, 1) == 5.0);
	assert_true(decide_retry_delay(5000, 2) == 10.0);
	assert_true(decide_retry_delay(5000, 3) == 20.0);
	assert_true(decide_retry_delay(5000, 40) == 600.0);
	assert_true(decide_retry_delay(0, 3) == 0.0);
	assert_true(decide_retry_delay(100, 0) == 0.1);
}

/* ---------------------------------------------------------- life */

static void
test_life_building_to_done(void **state)
{
	struct life l = { .state = TASK_BUILDING, .open = 2, .max_reviews = 2 };

	(void)state;
	/* Work in hand: wait. */
	assert_int_equal(decide_life(&l), LIFE_WAIT);
	l.open = 0;
	l.done = 2;
	assert_int_equal(decide_life(&l), LIFE_INTEGRATE);
	l.state = TASK_INTEGRATING;
	l.open = 1;		/* the unresolved set's directives */
	assert_int_equal(decide_life(&l), LIFE_WAIT);
	l.open = 0;
	assert_int_equal(decide_life(&l), LIFE_IMPROVE);
	l.state = TASK_IMPROVING;
	assert_int_equal(decide_life(&l), LIFE_REVIEW);
	l.planner_busy = true;	/* the review in hand */
	assert_int_equal(decide_life(&l), LIFE_WAIT);
	l.planner_busy = false;
	l.reviews = 2;
	assert_int_equal(decide_life(&l), LIFE_DONE);
}

static void
test_life_waits(void **state)
{
	struct life l = { .state = TASK_BUILDING, .done = 1 };

	(void)state;
	l.paused = true;
	assert_int_equal(decide_life(&l), LIFE_WAIT);
	l.paused = false;
	/* Nothing done when building ends: failed. */
	l.done = 0;
	assert_int_equal(decide_life(&l), LIFE_FAIL);
	/* Improving with no reviews configured: the user directs. */
	l.state = TASK_IMPROVING;
	l.max_reviews = 0;
	assert_int_equal(decide_life(&l), LIFE_WAIT);
	/* Planned (the planner at work) and over: nothing to decide. */
	l.state = TASK_PLANNED;
	assert_int_equal(decide_life(&l), LIFE_WAIT);
	l.state = TASK_DONE;
	assert_int_equal(decide_life(&l), LIFE_WAIT);
}

/* ---------------------------------------------------------- integration */

static void
test_integration_status(void **state)
{
	struct integration_facts f = { .has_commands = false, .tested = "",
	    .main = "aaa", .last = RUN_ERROR };

	(void)state;
	/* No commands: nothing to wait for. */
	assert_int_equal(decide_integration(&f), INTEG_NONE);
	f.has_commands = true;
	/* Never run, or run on another commit: main is untested. */
	assert_int_equal(decide_integration(&f), INTEG_PENDING);
	f.tested = "bbb";
	f.last = RUN_PASSED;
	assert_int_equal(decide_integration(&f), INTEG_PENDING);
	f.tested = "aaa";
	assert_int_equal(decide_integration(&f), INTEG_PASSED);
	f.last = RUN_FAILED;
	assert_int_equal(decide_integration(&f), INTEG_FAILED);
	f.attributed = true;
	assert_int_equal(decide_integration(&f), INTEG_ATTRIBUTED);
	/* A run that tested nothing does not count as a verdict. */
	f.last = RUN_CANCELLED;
	assert_int_equal(decide_integration(&f), INTEG_PENDING);
	f.last = RUN_ERROR;
	assert_int_equal(decide_integration(&f), INTEG_PENDING);
	f.running = true;
	assert_int_equal(decide_integration(&f), INTEG_RUNNING);
}

static void
test_life_integration_gate(void **state)
{
	struct life l = { .state = TASK_INTEGRATING, .done = 3,
	    .max_reviews = 1, .integration_attempts = 2 };

	(void)state;
	l.integration = INTEG_PENDING;
	assert_int_equal(decide_life(&l), LIFE_RUN_INTEGRATION);
	l.integration = INTEG_RUNNING;
	assert_int_equal(decide_life(&l), LIFE_WAIT);
	/* Failing main: handed out, however the task got there. */
	l.integration = INTEG_FAILED;
	assert_int_equal(decide_life(&l), LIFE_ATTRIBUTE);
	l.state = TASK_IMPROVING;
	assert_int_equal(decide_life(&l), LIFE_ATTRIBUTE);
	/* The fixes are being worked: wait for them. */
	l.open = 2;
	assert_int_equal(decide_life(&l), LIFE_WAIT);
	l.open = 0;
	/* They changed nothing on main: handed out again, then a pause. */
	l.integration = INTEG_ATTRIBUTED;
	l.integration_failures = 1;
	assert_int_equal(decide_life(&l), LIFE_ATTRIBUTE);
	l.integration_failures = 2;
	assert_int_equal(decide_life(&l), LIFE_INTEGRATION_STUCK);
	/* Never reviewed nor done before main passes. */
	l.integration = INTEG_PASSED;
	assert_int_equal(decide_life(&l), LIFE_REVIEW);
	l.reviews = 1;
	assert_int_equal(decide_life(&l), LIFE_DONE);
	l.integration = INTEG_PENDING;
	assert_int_equal(decide_life(&l), LIFE_RUN_INTEGRATION);
	/* Building goes to integrating first, whatever main is. */
	l.state = TASK_BUILDING;
	assert_int_equal(decide_life(&l), LIFE_INTEGRATE);
}

static void
test_integration_text(void **state)
{
	json_t *check = json_pack("{s:s, s:s, s:i, s:s, s:b}", "command",
	    "python3 logic/smoke.py", "kind", "check", "exit_status", 1,
	    "output", "starting\nGET /employees/1/payslips: 404\n",
	    "passed", 0);
	json_t *contract = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s}",
	    "command", "sh frontend/contract/logic.sh", "kind", "contract",
	    "consumer", "frontend", "provider", "logic", "entry",
	    "http GET /payslips", "exit_status", 2, "output", "expected 200");
	char big[9000], *text;

	(void)state;
	text = decide_integration_text("Serve GET /employees/{id}/payslips.",
	    check, "0123456789abcdef", 4096);
	assert_non_null(strstr(text, "Serve GET /employees/{id}/payslips."));
	assert_non_null(strstr(text, "commit 0123456"));
	assert_non_null(strstr(text, "`python3 logic/smoke.py` exited 1"));
	assert_non_null(strstr(text, "payslips: 404"));
	free(text);
	/* A contract test speaks for its consumer, to its provider. */
	text = decide_integration_text(NULL, contract, "0123456789", 4096);
	assert_non_null(strstr(text, "Domain frontend's contract test of "
	    "http GET /payslips"));
	assert_non_null(strstr(text, "exited 2"));
	free(text);
	/* Long output: its end, cut at a line. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[8000] = '\n';
	memcpy(big + sizeof(big) - 6, "LAST\n", 5);
	json_object_set_new(check, "output", json_string(big));
	text = decide_integration_text(NULL, check, "abc", 1000);
	assert_non_null(strstr(text, "Output (its end)"));
	assert_non_null(strstr(text, "LAST"));
	assert_true(strlen(text) < 1600);
	free(text);
	json_decref(check);
	json_decref(contract);
}

/* ---------------------------------------------------------- vocabulary */

static void
test_vocabulary_tables(void **state)
{
	(void)state;
	assert_string_equal(task_state_names[TASK_INTEGRATING],
	    "integrating");
	assert_string_equal(directive_state_names[DIRECTIVE_DROPPED],
	    "dropped");
	assert_string_equal(source_names[SOURCE_INTERFACE], "interface");
	assert_string_equal(source_names[SOURCE_INTEGRATION], "integration");
	assert_string_equal(run_state_names[RUN_CANCELLED], "cancelled");
	assert_string_equal(integration_status_names[INTEG_ATTRIBUTED],
	    "attributed");
	assert_string_equal(budget_key_names[BUDGET_TIME], "time");
	assert_string_equal(event_defs[EV_TASK_STATE].name, "task.state");
	assert_string_equal(err_names[E_STORAGE], "storage");
	assert_int_equal(vocab_find(task_state_names, TASK_STATE_COUNT,
	    "cancelled"), TASK_CANCELLED);
	assert_int_equal(vocab_find(task_state_names, TASK_STATE_COUNT,
	    "bogus"), -1);
	assert_int_equal(vocab_find(task_state_names, TASK_STATE_COUNT,
	    NULL), -1);
	assert_true(task_state_name_over("failed"));
	assert_false(task_state_name_over("improving"));
	for (int i = 0; i < EV_COUNT; i++)
		assert_non_null(event_defs[i].name);
	for (int i = 0; i < E_COUNT; i++)
		assert_non_null(err_names[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unresolved_becomes_directives),
		cmocka_unit_test(test_unpublished_provider_is_not_late),
		cmocka_unit_test(test_declared_need_reaches_provider),
		cmocka_unit_test(test_declared_entry_waits_while_open),
		cmocka_unit_test(test_interface_outcome),
		cmocka_unit_test(test_resolved_directive_dropped),
		cmocka_unit_test(test_changed_goes_to_consumer),
		cmocka_unit_test(test_formatting_is_not_a_change),
		cmocka_unit_test(test_budget_each_limit),
		cmocka_unit_test(test_budget_defaults_and_zero),
		cmocka_unit_test(test_budget_raise_resumes),
		cmocka_unit_test(test_budget_refuses_bad_values),
		cmocka_unit_test(test_stalled),
		cmocka_unit_test(test_failed_directive_retried_then_dropped),
		cmocka_unit_test(test_retry_delay_doubles),
		cmocka_unit_test(test_life_building_to_done),
		cmocka_unit_test(test_life_waits),
		cmocka_unit_test(test_integration_status),
		cmocka_unit_test(test_life_integration_gate),
		cmocka_unit_test(test_integration_text),
		cmocka_unit_test(test_vocabulary_tables),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
