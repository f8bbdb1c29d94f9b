/*
 * show_task.c — one task at a glance: what each domain is doing, the
 * budget used and left, totals with the planner's share, the last
 * integration result, what is open (unresolved interfaces, directives
 * waiting) and the newest rounds (paged: --rounds N, --all).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/vocab.h"
#include "daemon/masterctl/ctl.h"

#define ROUNDS_SHOWN_DEFAULT 10

/* The directive a domain works on now, or NULL. */
static const json_t *
running_directive(const json_t *dirs, const char *domain)
{
	const json_t *d;
	size_t i;

	json_array_foreach(dirs, i, d)
		if (strcmp(str(d, "domain"), domain) == 0 &&
		    strcmp(str(d, "state"),
		    directive_state_names[DIRECTIVE_RUNNING]) == 0)
			return d;
	return NULL;
}

static int
count_state(const json_t *dirs, const char *domain, int state)
{
	const json_t *d;
	size_t i;
	int n = 0;

	json_array_foreach(dirs, i, d)
		if ((domain == NULL || strcmp(str(d, "domain"), domain) == 0) &&
		    strcmp(str(d, "state"), directive_state_names[state]) == 0)
			n++;
	return n;
}

/* The first open question or approval of who, or NULL. */
static const json_t *
ask_of(const json_t *asks, const char *who)
{
	const json_t *a;
	size_t i;

	json_array_foreach(asks, i, a)
		if (strcmp(str(a, "who"), who) == 0)
			return a;
	return NULL;
}

/* What a domain is doing now, in a word or three. */
static void
domain_now(const json_t *d, const json_t *r, char *buf, size_t len)
{
	const json_t *ch = json_object_get(d, "child");
	const json_t *dir = running_directive(json_object_get(r,
	    "directives"), str(d, "name"));
	const char *state = ch != NULL ? str(ch, "state") : str(d, "state");
	const json_t *ask;

	if ((ask = ask_of(json_object_get(r, "asks"), str(d, "name"))) !=
	    NULL)
		snprintf(buf, len, "%s", strcmp(str(ask, "kind"),
		    "question") == 0 ? "needs-input" : "awaiting approval");
	else if (json_is_object(json_object_get(ch, "waiting")))
		snprintf(buf, len, "waiting for provider");
	else if (dir != NULL)
		snprintf(buf, len, "working on #%lld", num(dir, "id"));
	else if (strcmp(state, "running") == 0)
		snprintf(buf, len, "idle");
	else
		snprintf(buf, len, "%s", state);
}

static const json_t *
score_of(const json_t *score, const char *domain)
{
	const json_t *s;
	size_t i;

	json_array_foreach(score, i, s)
		if (strcmp(str(s, "domain"), domain) == 0)
			return s;
	return NULL;
}

/* Domains with what they do now and what they used; the planner; totals. */
static void
print_domains_glance(const json_t *r)
{
	static const char *const heads[] = { "DOMAIN", "NOW", "QUEUED",
	    "ROUNDS", "ACCEPTED", "TOKENS IN", "TOKENS OUT", "COST", "MODEL" };
	const json_t *score = json_object_get(r, "scoreboard"), *d, *s;
	const json_t *pu = json_object_get(json_object_get(json_object_get(r,
	    "task"), "spec"), "planner_usage");
	struct table *t = table_new(9, heads, "llrrrrrrl", 8);
	long long tin = 0, tout = 0, rounds = 0, acc = 0;
	double cost = 0;
	char now[64], q[16], c1[24], c2[24], c3[24], c4[24], c5[24];
	char name[128];
	size_t i;

	json_array_foreach(json_object_get(r, "domains"), i, d) {
		s = score_of(score, str(d, "name"));
		domain_now(d, r, now, sizeof(now));
		snprintf(q, sizeof(q), "%d", count_state(json_object_get(r,
		    "directives"), str(d, "name"), DIRECTIVE_QUEUED));
		snprintf(c1, sizeof(c1), "%lld", num(s, "rounds"));
		snprintf(c2, sizeof(c2), "%lld", num(s, "accepted"));
		snprintf(c3, sizeof(c3), "%lld", num(s, "tokens_in"));
		snprintf(c4, sizeof(c4), "%lld", num(s, "tokens_out"));
		snprintf(c5, sizeof(c5), "%.4f", real(s, "cost"));
		/* A domain that owns an existing folder says which. */
		if (json_is_string(json_object_get(d, "folder")))
			snprintf(name, sizeof(name), "%s (%s/)", str(d, "name"),
			    str(d, "folder"));
		else
			snprintf(name, sizeof(name), "%s", str(d, "name"));
		table_add(t, name, now, q, c1, c2, c3, c4, c5,
		    s != NULL ? str(s, "model") : "-");
		tin += num(s, "tokens_in");
		tout += num(s, "tokens_out");
		rounds += num(s, "rounds");
		acc += num(s, "accepted");
		cost += real(s, "cost");
	}
	if (pu != NULL) {
		snprintf(c3, sizeof(c3), "%lld", num(pu, "tokens_in"));
		snprintf(c4, sizeof(c4), "%lld", num(pu, "tokens_out"));
		snprintf(c5, sizeof(c5), "%.4f", real(pu, "cost"));
		table_add(t, "(planner)", "", "", "", "", c3, c4, c5,
		    str(json_object_get(json_object_get(r, "task"), "spec"),
		    "planner_model"));
		tin += num(pu, "tokens_in");
		tout += num(pu, "tokens_out");
		cost += real(pu, "cost");
	}
	snprintf(q, sizeof(q), "%d", count_state(json_object_get(r,
	    "directives"), NULL, DIRECTIVE_QUEUED));
	snprintf(c1, sizeof(c1), "%lld", rounds);
	snprintf(c2, sizeof(c2), "%lld", acc);
	snprintf(c3, sizeof(c3), "%lld", tin);
	snprintf(c4, sizeof(c4), "%lld", tout);
	snprintf(c5, sizeof(c5), "%.4f", cost);
	table_add(t, "TOTAL", "", q, c1, c2, c3, c4, c5, "");
	printf("\n");
	table_print(t, out_width());
	table_free(t);
}

/* "tokens 40.2k of 100.0k (59.8k left)" for one limit, into buf. */
static void
limit_text(const char *name, const json_t *b, char *buf, size_t len)
{
	double used = real(b, "used"), limit = real(b, "limit");
	char u[32], l[32], left[32];

	if (strcmp(name, "tokens") == 0) {
		fmt_tokens((long long)used, u, sizeof(u));
		fmt_tokens((long long)limit, l, sizeof(l));
		fmt_tokens((long long)(limit - used), left, sizeof(left));
	} else if (strcmp(name, "time") == 0) {
		fmt_elapsed(used, u, sizeof(u));
		fmt_elapsed(limit, l, sizeof(l));
		fmt_elapsed(limit - used, left, sizeof(left));
	} else if (strcmp(name, "cost") == 0) {
		snprintf(u, sizeof(u), "%.4f", used);
		snprintf(l, sizeof(l), "%.4f", limit);
		snprintf(left, sizeof(left), "%.4f", limit - used);
	} else {
		snprintf(u, sizeof(u), "%.0f", used);
		snprintf(l, sizeof(l), "%.0f", limit);
		snprintf(left, sizeof(left), "%.0f", limit - used);
	}
	if (limit <= 0)
		snprintf(buf, len, "%s %s (no limit)", name, u);
	else if (used >= limit)
		snprintf(buf, len, "%s %s of %s (REACHED)", name, u, l);
	else
		snprintf(buf, len, "%s %s of %s (%s left)", name, u, l, left);
}

/* The four limits on one line, or one a line when that is too wide. */
static void
print_budget(const json_t *b)
{
	static const char *const keys[] = { "tokens", "cost", "rounds",
	    "time" };
	char part[4][96], line[420];
	int width = out_width();

	if (!json_is_object(b))
		return;
	for (size_t i = 0; i < 4; i++)
		limit_text(keys[i], json_object_get(b, keys[i]), part[i],
		    sizeof(part[i]));
	snprintf(line, sizeof(line), "budget: %s, %s, %s, %s", part[0],
	    part[1], part[2], part[3]);
	if (width == 0 || text_width(line) <= width) {
		printf("\n%s\n", line);
		return;
	}
	printf("\nbudget: %s\n", part[0]);
	for (size_t i = 1; i < 4; i++)
		printf("        %s\n", part[i]);
}

/* The last lines of a command's output, indented. */
static void
print_output_tail(const char *output, int lines)
{
	const char *end = output + strlen(output), *p;

	while (end > output && end[-1] == '\n')
		end--;
	for (p = end; p > output; p--)
		if (p[-1] == '\n' && --lines == 0)
			break;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		printf("      | %.*s\n", (int)n, p);
		p += n + 1;
	}
}

static void
print_run(const json_t *run, bool detail)
{
	const json_t *x;
	size_t i, failed = 0;

	printf("  %-5lld %.7s  %-9s %7.1f", num(run, "id"), str(run, "commit"),
	    str(run, "state"), (double)num(run, "duration_ms") / 1000.0);
	json_array_foreach(json_object_get(run, "results"), i, x)
		if (!json_is_true(json_object_get(x, "passed")))
			printf("%s%s (exit %lld)", failed++ ? ", " : "  ",
			    str(x, "command"), num(x, "exit_status"));
	if (json_is_string(json_object_get(run, "error")))
		printf("  %s", str(run, "error"));
	putchar('\n');
	if (!detail)
		return;
	json_array_foreach(json_object_get(run, "results"), i, x)
		if (!json_is_true(json_object_get(x, "passed")) &&
		    json_is_string(json_object_get(x, "output")))
			print_output_tail(str(x, "output"), 6);
}

static void
print_integration(const json_t *g)
{
	const json_t *run, *c;
	size_t i;

	if (!json_is_object(g) || strcmp(str(g, "status"), "none") == 0)
		return;
	printf("\nINTEGRATION %s, main %.7s", str(g, "status"), str(g, "main"));
	if (num(g, "failures") > 0)
		printf(", %lld of %lld attempts to fix used",
		    num(g, "failures"), num(g, "attempts"));
	printf("\n");
	json_array_foreach(json_object_get(g, "checks"), i, c)
		printf("  %-9s %s\n", str(c, "kind"), str(c, "command"));
	if (json_array_size(json_object_get(g, "runs")) == 0)
		return;
	printf("  %-5s %-7s  %-9s %7s  %s\n", "RUN", "COMMIT", "STATE",
	    "TIME s", "FAILED");
	json_array_foreach(json_object_get(g, "runs"), i, run)
		print_run(run, i == 0);
}

/* Each domain (or planner) of a task that waits for its provider. */
static void
print_waiting(const json_t *waiting)
{
	const json_t *w;
	char since[16], next[16];
	size_t i;

	if (json_array_size(waiting) > 0)
		printf("\n");
	json_array_foreach(waiting, i, w) {
		fmt_clock(when(w, "since"), since, sizeof(since));
		fmt_clock(when(w, "next_try"), next, sizeof(next));
		printf("%s: waiting for provider %s since %s, next try at %s: "
		    "%s\n", str(w, "domain"), str(w, "provider"), since, next,
		    str(w, "reason"));
	}
}

/* What waits for a person: the questions asked, the plan or merges
 * waiting for an approval, with the command that answers each. */
static void
print_asks(const json_t *asks, long long task)
{
	const json_t *a;
	size_t i;

	if (json_array_size(asks) > 0)
		printf("\nwaits for you:\n");
	json_array_foreach(asks, i, a) {
		if (strcmp(str(a, "kind"), "question") == 0)
			printf("  question %lld from %s: %s\n    (assuming: %s)"
			    "  masterctl answer %lld TEXT\n", num(a, "id"),
			    str(a, "who"), str(a, "text"), json_is_string(
			    json_object_get(a, "assumption")) ?
			    str(a, "assumption") : "-", num(a, "id"));
		else
			printf("  %s of %s (approval %lld): %s\n    masterctl "
			    "approve %lld %lld | reject %lld %lld REASON\n",
			    str(a, "assumption"), str(a, "who"), num(a, "id"),
			    str(a, "text"), task, num(a, "id"), task,
			    num(a, "id"));
	}
}

/* Open questions: interface entries nobody provides, or that differ. */
static void
print_open(const json_t *r)
{
	const json_t *u;
	size_t i, n = json_array_size(json_object_get(r, "unresolved"));

	if (n == 0)
		return;
	printf("\nopen: %zu unresolved interface entr%s\n", n,
	    n == 1 ? "y" : "ies");
	json_array_foreach(json_object_get(r, "unresolved"), i, u)
		printf("  %s %s `%s`: consumer %s, provider %s\n",
		    str(u, "problem"), str(u, "kind"), str(u, "name"),
		    str(u, "consumer"), str(u, "provider"));
}

static void
print_directives(const json_t *dirs)
{
	static const char *const heads[] = { "ID", "DOMAIN", "SOURCE",
	    "STATE", "TEXT" };
	struct table *t;
	const json_t *d;
	char id[24], why[600];
	size_t i;

	if (json_array_size(dirs) == 0)
		return;
	t = table_new(5, heads, "rllll", 4);
	json_array_foreach(dirs, i, d) {
		snprintf(id, sizeof(id), "%lld", num(d, "id"));
		table_add(t, id, str(d, "domain"), str(d, "source"),
		    str(d, "state"), str(d, "text"));
		/* Why it did not get done, where it did not. */
		if (json_is_string(json_object_get(d, "reason")) &&
		    strcmp(str(d, "state"),
		    directive_state_names[DIRECTIVE_DONE]) != 0) {
			snprintf(why, sizeof(why), "  why: %s",
			    str(d, "reason"));
			table_add(t, "", "", "", "", why);
		}
	}
	printf("\n");
	table_print(t, out_width());
	table_free(t);
}

static void
print_remaining(const json_t *r)
{
	const json_t *dirs = json_object_get(r, "directives");
	int q = count_state(dirs, NULL, DIRECTIVE_QUEUED);
	int run = count_state(dirs, NULL, DIRECTIVE_RUNNING);
	int done = count_state(dirs, NULL, DIRECTIVE_DONE);
	int failed = count_state(dirs, NULL, DIRECTIVE_FAILED) +
	    count_state(dirs, NULL, DIRECTIVE_DROPPED);
	const char *state = str(json_object_get(r, "task"), "state");

	printf("\nremains: ");
	if (task_state_name_over(state))
		printf("nothing, the task is %s", state);
	else if (q + run == 0)
		printf("no directive open; the task is %s", state);
	else
		printf("%d directive(s) running, %d queued", run, q);
	printf(" (%d done, %d failed)\n", done, failed);
}

static void
print_rounds(const json_t *r)
{
	static const char *const heads[] = { "ID", "DOMAIN", "DIR", "ROUND",
	    "RESULT", "TOKENS", "SUMMARY" };
	const json_t *rounds = json_object_get(r, "rounds"), *x;
	struct table *t;
	char id[24], dir[24], rn[24], res[64], tok[32];
	size_t i, n = json_array_size(rounds);
	long long total = num(r, "rounds_total");

	if (n == 0)
		return;
	t = table_new(7, heads, "rlrrlrl", 6);
	json_array_foreach(rounds, i, x) {
		snprintf(id, sizeof(id), "%lld", num(x, "id"));
		snprintf(dir, sizeof(dir), "#%lld", num(x, "directive"));
		snprintf(rn, sizeof(rn), "%lld", num(x, "round"));
		if (json_is_true(json_object_get(x, "ok")))
			snprintf(res, sizeof(res), "accepted");
		else
			snprintf(res, sizeof(res), "no: %s", str(x, "stage"));
		fmt_tokens(num(x, "tokens_in") + num(x, "tokens_out"), tok,
		    sizeof(tok));
		table_add(t, id, str(x, "domain"), dir, rn, res, tok,
		    json_is_string(json_object_get(x, "error")) ?
		    str(x, "error") : str(x, "summary"));
	}
	printf("\n");
	table_print(t, out_width());
	table_free(t);
	if ((long long)n < total)
		printf("(the newest %zu of %lld rounds: --rounds N or --all "
		    "for more)\n", n, total);
}

static void
human_task(json_t *r)
{
	const json_t *t = json_object_get(r, "task");
	char created[32], age[32];
	double start = when(t, "created"), end = when(t, "updated");

	fmt_when(start, created, sizeof(created));
	fmt_elapsed((task_state_name_over(str(t, "state")) ? end :
	    (double)time(NULL)) - start, age, sizeof(age));
	printf("task %lld: %s%s, created %s, %s elapsed\n", num(t, "id"),
	    str(t, "state"), json_is_true(json_object_get(t, "paused")) ?
	    " (paused)" : "", created, age);
	printf("  %s\n", str(t, "text"));
	if (json_is_string(json_object_get(t, "reason")))
		printf("  reason: %s\n", str(t, "reason"));
	if (json_is_object(json_object_get(r, "import")))
		printf("  imported from %s, branch %s at %.12s\n",
		    str(json_object_get(r, "import"), "origin"),
		    str(json_object_get(r, "import"), "branch"),
		    str(json_object_get(r, "import"), "commit"));
	print_domains_glance(r);
	print_waiting(json_object_get(r, "waiting"));
	print_asks(json_object_get(r, "asks"), num(t, "id"));
	print_budget(json_object_get(r, "budget"));
	print_integration(json_object_get(r, "integration"));
	print_open(r);
	print_remaining(r);
	print_directives(json_object_get(r, "directives"));
	print_rounds(r);
}

int
cmd_task(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_t *req = request(c, CTL_TASK);
	json_int_t n = ROUNDS_SHOWN_DEFAULT;

	if (with_task(req, argc == 1 ? argv[0] : o->task) != 0)
		return EXIT_USAGE;
	if (json_object_get(req, "task") == NULL) {
		fprintf(stderr, "masterctl: task: which task? (masterctl "
		    "tasks lists them)\n");
		json_decref(req);
		return EXIT_USAGE;
	}
	if (o->rounds != NULL && parse_id(o->rounds, "--rounds", &n) != 0) {
		json_decref(req);
		return EXIT_USAGE;
	}
	/* --json keeps the daemon's default unless asked */
	if (o->all)
		json_object_set_new(req, "rounds", json_integer(0));
	else if (o->rounds != NULL || !c->json)
		json_object_set_new(req, "rounds", json_integer(n));
	return call_and_print(c, req, human_task);
}
