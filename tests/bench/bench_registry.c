/*
 * bench_registry.c — what masterd's registry calls cost as a task's rounds
 * and the events table grow (issue #16).
 *
 *   bench_registry
 *
 * In a fresh temporary directory, one task with 10 domains is filled to
 * 1,000 and then 10,000 rounds (the fill is batched: one transaction per
 * 1,000 rounds).  At each size it times, per round, what masterd does for
 * every round a child reports and for every review: round_add (its own
 * synced transaction, as in the daemon), the scoreboard, and the review's
 * newest rounds.  Then the events table is filled to 100,000 and
 * 1,000,000 rows and `status`'s counts (registry_stats) are timed.  It
 * only prints: nothing is asserted about the timings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/log.h"
#include "daemon/masterd/registry.h"
#include "tests/bench/benchlib.h"

#define NDOMAINS	10
#define NSAMPLES	50	/* timed calls of each kind per size */
#define BATCH		1000
#define REVIEW_ROUNDS	30	/* task_dispatch.c review() shows as many */

static void
fatal(struct registry *r, const char *what)
{
	fprintf(stderr, "bench_registry: %s: %s\n", what,
	    r != NULL ? registry_errmsg(r) : "failed");
	bench_remove_dir();
	exit(1);
}

static json_t *
report(int64_t n)
{
	return json_pack("{s:I, s:b, s:s, s:s, s:i, s:s, s:s, s:[{s:s, s:b}],"
	    " s:{s:i, s:i, s:i, s:f}}", "round", (json_int_t)n, "ok", n % 3 == 0,
	    "stage", n % 3 == 0 ? "commit" : "checks", "summary",
	    "Added the payslip listing and its tests; the net pay rounds "
	    "half up.", "duration_ms", 1200, "model", "coder-7b",
	    "critic_model", "critic-1b", "checks", "command", "make test",
	    "passed", n % 3 == 0, "usage", "input", 4000, "output", 900,
	    "cached", 1000, "cost", 0.0125);
}

static void
add_round(struct registry *r, int64_t task, const int64_t *dom, int64_t n)
{
	json_t *rep = report(n);

	if (registry_round_add(r, task, dom[n % NDOMAINS], 0, rep, NULL) != 0)
		fatal(r, "round_add");
	json_decref(rep);
}

/* The review's read: the newest rounds it shows. */
static json_t *
review_rounds(struct registry *r, int64_t task)
{
	return registry_rounds_last(r, task, REVIEW_ROUNDS);
}

static void
time_rounds(struct registry *r, int64_t task, const int64_t *dom,
    int64_t *n, int64_t upto)
{
	double add = 0, score = 0, last = 0, t0;
	json_t *j;
	int i;

	while (*n < upto) {
		if (registry_batch_begin(r) != 0)
			fatal(r, "batch");
		for (i = 0; i < BATCH && *n < upto; i++)
			add_round(r, task, dom, ++*n);
		if (registry_batch_end(r, true) != 0)
			fatal(r, "batch end");
	}
	for (i = 0; i < NSAMPLES; i++) {
		t0 = now_s();
		add_round(r, task, dom, ++*n);
		add += now_s() - t0;
		t0 = now_s();
		if ((j = registry_scoreboard(r, task)) == NULL)
			fatal(r, "scoreboard");
		score += now_s() - t0;
		json_decref(j);
		t0 = now_s();
		if ((j = review_rounds(r, task)) == NULL)
			fatal(r, "review rounds");
		last += now_s() - t0;
		json_decref(j);
	}
	printf("  %9lld  %12.3f  %12.3f  %12.3f  %12.3f\n", (long long)upto,
	    add * 1e3 / NSAMPLES, score * 1e3 / NSAMPLES,
	    last * 1e3 / NSAMPLES, (add + score + last) * 1e3 / NSAMPLES);
}

static void
time_status(struct registry *r, int64_t task, int64_t *n, int64_t upto)
{
	double t0, total = 0;
	json_t *j, *data = json_pack("{s:s, s:i}", "text", "compiling...",
	    "tokens", 42);
	int i;

	while (*n < upto) {
		if (registry_batch_begin(r) != 0)
			fatal(r, "batch");
		for (i = 0; i < 10 * BATCH && *n < upto; i++, ++*n)
			if (registry_event_add(r, task, "domain-0", "progress",
			    data, NULL) != 0)
				fatal(r, "event_add");
		if (registry_batch_end(r, true) != 0)
			fatal(r, "batch end");
	}
	json_decref(data);
	for (i = 0; i < NSAMPLES; i++) {
		t0 = now_s();
		if ((j = registry_stats(r)) == NULL)
			fatal(r, "stats");
		total += now_s() - t0;
		json_decref(j);
	}
	printf("  %9lld  %12.3f\n", (long long)upto, total * 1e3 / NSAMPLES);
}

int
main(void)
{
	static const int64_t sizes[] = { 1000, 10000 };
	static const int64_t events[] = { 100000, 1000000 };
	static const char *const none[] = { NULL };
	struct registry *r;
	char path[400], err[256], name[16];
	int64_t task, dom[NDOMAINS], n = 0, nev = 0;
	size_t i;

	log_init("bench_registry", LOG_WARNING);
	if (!bench_init("bench_registry", "/bin/true", none))
		return 1;
	snprintf(path, sizeof(path), "%s/registry.db", B.dir);
	if ((r = registry_open(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench_registry: %s\n", err);
		bench_remove_dir();
		return 1;
	}
	if (registry_task_add(r, "Payroll", NULL, NULL, &task) != 0)
		fatal(r, "task_add");
	for (i = 0; i < NDOMAINS; i++) {
		snprintf(name, sizeof(name), "domain-%zu", i);
		if (registry_domain_add(r, task, name, NULL, NULL, NULL, true,
		    &dom[i]) != 0)
			fatal(r, "domain_add");
	}
	printf("per round, ms (mean of %d): round_add, the scoreboard, the "
	    "review's newest %d rounds\n", NSAMPLES, REVIEW_ROUNDS);
	printf("  %9s  %12s  %12s  %12s  %12s\n", "rounds", "round_add",
	    "scoreboard", "review", "total");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		time_rounds(r, task, dom, &n, sizes[i]);
	printf("status's registry counts, ms (mean of %d)\n", NSAMPLES);
	printf("  %9s  %12s\n", "events", "stats");
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		time_status(r, task, &nev, events[i]);
	registry_close(r);
	bench_remove_dir();
	return 0;
}
