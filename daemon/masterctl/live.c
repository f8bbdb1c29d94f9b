/*
 * live.c — the live view of `watch` and `submit --wait`.
 *
 * On a terminal: one status line per domain, redrawn in place (what it
 * does now: model, tools, checks, critic, integration; its directive and
 * round; its tokens; how long it has been at it), under one readable line
 * per event that matters (a round accepted or rejected and why, an
 * interface version and what changed, a directive queued, done or failed,
 * a budget, a pause, the end).  Progress is never a line of its own: it
 * only moves a status line.  Every line is cut to the terminal's width.
 * Not on a terminal: the event lines only, no carriage returns, no
 * escape sequences.  --verbose: a line for every event, progress too;
 * --json: every event as it came.
 *
 * The status block is erased and drawn again below each new event line
 * (cursor up, clear to the end of the screen), at most a few times a
 * second; the escape sequences go straight to the terminal, the text
 * through the escaping stdout like everything else masterd sends.  What
 * each event says is words.c's.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "common/isotime.h"
#include "common/util.h"
#include "proto/vocab.h"
#include "daemon/masterctl/ctl.h"

#define REDRAW_MS	250	/* the status block, at most this often */
#define TICK_MS		1000	/* elapsed times move on */
#define LINE_MAX	1024

struct row {
	long long task;
	char name[40];
	char stage[24];		/* model, tools, checks, critic, ... */
	char detail[160];	/* a tool's name, the directive's text */
	long long directive, round, tokens;
	double since;		/* its directive began; 0: idle */
};

struct live {
	struct ctl *c;
	json_int_t task;	/* 0: every task */
	bool inplace;		/* a terminal: status lines in place */
	bool verbose;
	int width;		/* 0: no limit */
	int height;
	struct row *rows;
	size_t nrows;
	int label;		/* the width of the domain column */
	int drawn;		/* status lines on the screen now */
	double drawn_at;
	bool dirty;
	double created;		/* the task's, for the header */
	char state[24];
	struct words w;		/* what the events say */
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------- rows */

static struct row *
row_of(struct live *l, long long task, const char *domain)
{
	struct row *r;
	int w;

	if (domain == NULL)
		return NULL;
	for (size_t i = 0; i < l->nrows; i++)
		if (l->rows[i].task == task &&
		    strcmp(l->rows[i].name, domain) == 0)
			return &l->rows[i];
	l->rows = xreallocarray(l->rows, l->nrows + 1, sizeof(*l->rows));
	r = &l->rows[l->nrows++];
	memset(r, 0, sizeof(*r));
	r->task = task;
	snprintf(r->name, sizeof(r->name), "%s", domain);
	snprintf(r->stage, sizeof(r->stage), "idle");
	if ((w = text_width(r->name) + (l->task == 0 ? 4 : 0)) > l->label)
		l->label = w > 20 ? 20 : w;
	return r;
}

static void
set_stage(struct row *r, const char *stage, const char *detail)
{
	snprintf(r->stage, sizeof(r->stage), "%s", stage);
	if (detail != r->detail)
		snprintf(r->detail, sizeof(r->detail), "%s", detail != NULL ?
		    detail : "");
}

/* A progress stage as a status word: "model", "tools", "checks"... */
static void
on_progress(struct row *r, const json_t *d)
{
	const char *s = str(d, "stage"), *text = json_string_value(
	    json_object_get(d, "text"));

	if (strcmp(s, "model") == 0)
		/* a streamed answer's bytes are not for people */
		set_stage(r, "model", r->detail);
	else if (strcmp(s, "model retry") == 0)
		set_stage(r, "model (retry)", text);
	else if (strcmp(s, "tool") == 0)
		set_stage(r, "tools", text);
	else if (strncmp(s, "checks", 6) == 0)
		set_stage(r, s, NULL);
	else if (strcmp(s, "critic") == 0)
		set_stage(r, "critic", NULL);
	else if (strcmp(s, "integration") == 0)
		set_stage(r, "integration", text);
	else if (strcmp(s, "plan") == 0 || strcmp(s, "review") == 0 ||
	    strcmp(s, "attribute") == 0)
		set_stage(r, strcmp(s, "plan") == 0 ? "planning" :
		    strcmp(s, "review") == 0 ? "reviewing" : "attributing",
		    NULL);
	else if (strcmp(s, "sandbox") != 0)
		set_stage(r, s, NULL);
}

/* ---------------------------------------------------------- drawing */

static void
raw(const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fflush(stdout);
	if (n > 0)
		(void)write_all(STDOUT_FILENO, buf, (size_t)n);
}

/* A line cut to the width (one column spare: no terminal wraps it). */
static void
put_line(const struct live *l, const char *text)
{
	char out[LINE_MAX * 2];

	fit(text, l->width > 0 ? l->width - 1 : 0, out, sizeof(out));
	printf("%s\n", out);
}

/* The terminal may have been resized: its size, asked again. */
static void
measure(struct live *l)
{
	struct winsize ws;

	l->width = out_width();
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
		l->height = ws.ws_row;
}

static void
erase_block(struct live *l)
{
	if (!l->inplace || l->drawn == 0)
		return;
	raw("\r\033[%dA\033[J", l->drawn);
	l->drawn = 0;
}

static void
row_line(const struct live *l, const struct row *r, double now, char *buf,
    size_t len)
{
	char name[64], tok[16], age[16] = "", step[32] = "";

	if (l->task == 0)
		snprintf(name, sizeof(name), "%lld/%s", r->task, r->name);
	else
		snprintf(name, sizeof(name), "%s", r->name);
	fmt_tokens(r->tokens, tok, sizeof(tok));
	if (r->since > 0)
		fmt_elapsed(now - r->since, age, sizeof(age));
	if (r->directive > 0)
		snprintf(step, sizeof(step), "#%lld%s", r->directive,
		    r->round > 0 ? "" : "");
	if (r->directive > 0 && r->round > 0)
		snprintf(step, sizeof(step), "#%lld r%lld", r->directive,
		    r->round);
	snprintf(buf, len, "  %-*s  %-13s %-9s %6s tok %7s  %s", l->label,
	    name, r->stage, step, tok, age, r->detail);
}

/* The rows that are domains: not the planner's and the integrator's. */
static size_t
count_domains(const struct live *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->nrows; i++)
		if (strcmp(l->rows[i].name, "planner") != 0 &&
		    strcmp(l->rows[i].name, "integration") != 0)
			n++;
	return n;
}

static void
draw_block(struct live *l)
{
	char line[LINE_MAX], tok[16], age[16];
	double now = now_s();
	long long total = 0;
	size_t shown = l->nrows, ndomains = count_domains(l), i;

	if (!l->inplace)
		return;
	erase_block(l);
	measure(l);
	for (i = 0; i < l->nrows; i++)
		total += l->rows[i].tokens;
	fmt_tokens(total, tok, sizeof(tok));
	if (l->task > 0) {
		fmt_elapsed(l->created > 0 ? now - l->created : 0, age,
		    sizeof(age));
		snprintf(line, sizeof(line), "task %lld %s · %zu domain%s · "
		    "%s tokens · %s", (long long)l->task, l->state, ndomains,
		    ndomains == 1 ? "" : "s", tok, age);
	} else {
		snprintf(line, sizeof(line), "every task · %zu domain%s · %s "
		    "tokens", ndomains, ndomains == 1 ? "" : "s", tok);
	}
	put_line(l, line);
	/* room for the header, the "more" line and one line of events */
	if (l->height > 0 && shown > (size_t)(l->height > 4 ?
	    l->height - 3 : 1))
		shown = (size_t)(l->height > 4 ? l->height - 3 : 1);
	for (i = 0; i < shown; i++) {
		row_line(l, &l->rows[i], now, line, sizeof(line));
		put_line(l, line);
	}
	l->drawn = (int)shown + 1;
	if (shown < l->nrows) {
		snprintf(line, sizeof(line), "  … and %zu more rows",
		    l->nrows - shown);
		put_line(l, line);
		l->drawn++;
	}
	fflush(stdout);
	l->drawn_at = now;
	l->dirty = false;
}

/* An event line: above the status block on a terminal. */
static void
event_line(struct live *l, const json_t *e, const char *text)
{
	char line[LINE_MAX], clock[16], who[64];
	const char *domain = json_string_value(json_object_get(e, "domain"));

	fmt_clock(when(e, "ts"), clock, sizeof(clock));
	if (l->task == 0 && num(e, "task") == 0)
		snprintf(who, sizeof(who), "masterd");
	else if (l->task == 0)
		snprintf(who, sizeof(who), "%lld/%s", num(e, "task"),
		    domain != NULL ? domain : "task");
	else
		snprintf(who, sizeof(who), "%s", domain != NULL ? domain :
		    "task");
	if (l->verbose)
		snprintf(line, sizeof(line), "%s  task %-4lld %-12s %-22s %s",
		    clock, num(e, "task"), domain != NULL ? domain : "-",
		    str(e, "event"), text);
	else
		snprintf(line, sizeof(line), "%s  %-*s  %s", clock,
		    l->label > 8 ? l->label : 8, who, text);
	erase_block(l);
	put_line(l, line);
	fflush(stdout);
	l->dirty = true;
}

/* ---------------------------------------------------------- state */

/*
 * The texts of a task's directives, asked of masterd: a plan's first
 * directives are queued without an event, and a status line shows what
 * its domain works on.  Events that come meanwhile wait in ctl.pending.
 */
static void
learn_texts(struct live *l, long long task)
{
	json_t *req = request(l->c, CTL_TASK), *r;
	const json_t *x;
	size_t i;
	int status;

	json_object_set_new(req, "task", json_integer(task));
	json_object_set_new(req, "rounds", json_integer(1));
	if ((r = call(l->c, req, &status)) == NULL)
		return;
	json_array_foreach(json_object_get(r, "directives"), i, x)
		words_remember(&l->w, num(x, "id"), json_string_value(
		    json_object_get(x, "text")));
	json_decref(r);
}

/* What an event does to the status lines. */
static void
track(struct live *l, const json_t *e)
{
	const char *ev = str(e, "event");
	const json_t *d = json_object_get(e, "data");
	struct row *r = row_of(l, num(e, "task"), json_string_value(
	    json_object_get(e, "domain")));
	const char *text;

	if (is_event(ev, EV_TASK_STATE) && (l->task == 0 || num(e, "task") ==
	    l->task))
		snprintf(l->state, sizeof(l->state), "%s", str(d, "state"));
	/* an integration run ended: its worker waits for the next one */
	if (is_event(ev, EV_INTEGRATION_PASSED) ||
	    is_event(ev, EV_INTEGRATION_FAILED)) {
		r = row_of(l, num(e, "task"), "integration");
		set_stage(r, "idle", NULL);
		l->dirty = true;
		return;
	}
	/* the planner's answer came: it waits for the next question */
	if (is_event(ev, EV_TASK_PLANNED) || is_event(ev, EV_TASK_REVIEWED) ||
	    is_event(ev, EV_INTEGRATION_ATTRIBUTED)) {
		r = row_of(l, num(e, "task"), "planner");
		set_stage(r, "idle", NULL);
		l->dirty = true;
		return;
	}
	/* a person is waited for: the asker's line says so till it is
	 * answered (the planner's and the plan's have no domain) */
	if (is_event(ev, EV_QUESTION_ASKED) || is_event(ev, EV_APPROVAL_NEEDED) ||
	    is_event(ev, EV_QUESTION_ANSWERED) ||
	    is_event(ev, EV_QUESTION_EXPIRED) ||
	    is_event(ev, EV_APPROVAL_GIVEN) ||
	    is_event(ev, EV_APPROVAL_REJECTED)) {
		if (r == NULL)
			r = row_of(l, num(e, "task"), "planner");
		if (is_event(ev, EV_QUESTION_ASKED))
			set_stage(r, "needs-input", str(d, "text"));
		else if (is_event(ev, EV_APPROVAL_NEEDED))
			set_stage(r, "approval", str(d, "summary"));
		else
			set_stage(r, "idle", NULL);
		l->dirty = true;
		return;
	}
	if (is_event(ev, EV_DIRECTIVE_QUEUED) || is_event(ev, EV_DIRECTIVE_MERGED))
		words_remember(&l->w, num(d, "directive"), json_string_value(
		    json_object_get(d, "text")));
	if (r == NULL)
		return;
	l->dirty = true;
	if (is_event(ev, EV_PROGRESS)) {
		on_progress(r, d);
	} else if (is_event(ev, EV_DIRECTIVE_RUNNING)) {
		r->directive = num(d, "directive");
		r->round = 0;
		r->since = when(e, "ts");
		if ((text = words_text(&l->w, r->directive)) == NULL &&
		    l->inplace) {
			learn_texts(l, num(e, "task"));
			text = words_text(&l->w, r->directive);
		}
		set_stage(r, "working", text);
	} else if (is_event(ev, EV_ROUND)) {
		r->tokens += num(json_object_get(d, "usage"), "tokens_in") +
		    num(json_object_get(d, "usage"), "tokens_out");
		r->round = num(d, "round");
		snprintf(r->stage, sizeof(r->stage), "%s",
		    json_is_true(json_object_get(d, "ok")) ? "accepted" :
		    "rejected");
	} else if (is_event(ev, EV_DIRECTIVE_DONE) ||
	    is_event(ev, EV_DIRECTIVE_DROPPED) ||
	    is_event(ev, EV_DIRECTIVE_RETRY)) {
		r->directive = 0;
		r->round = 0;
		r->since = 0;
		set_stage(r, "idle", NULL);
	} else if (is_event(ev, EV_DOMAIN_STATE)) {
		/* a child's life shows only while it is not up */
		if (strcmp(str(d, "to"), "running") != 0)
			set_stage(r, str(d, "to"), json_string_value(
			    json_object_get(d, "reason")));
		else if (r->directive == 0)
			set_stage(r, "idle", NULL);
	} else if (is_event(ev, EV_DOMAIN_HELD)) {
		set_stage(r, "waiting", "for its provider");
	} else if (is_event(ev, EV_DOMAIN_RESUMED)) {
		set_stage(r, "idle", NULL);
	}
}

/* The task as it is now: its domains, what they used, who works. */
static void
seed(struct live *l)
{
	json_t *req = request(l->c, CTL_TASK), *r;
	const json_t *x, *t;
	struct row *row;
	size_t i;
	int status;

	json_object_set_new(req, "task", json_integer(l->task));
	json_object_set_new(req, "rounds", json_integer(1));
	if ((r = call(l->c, req, &status)) == NULL)
		return;
	t = json_object_get(r, "task");
	l->created = when(t, "created");
	snprintf(l->state, sizeof(l->state), "%s", str(t, "state"));
	json_array_foreach(json_object_get(r, "domains"), i, x)
		row_of(l, l->task, str(x, "name"));
	json_array_foreach(json_object_get(r, "scoreboard"), i, x) {
		row = row_of(l, l->task, str(x, "domain"));
		row->tokens = num(x, "tokens_in") + num(x, "tokens_out");
	}
	json_array_foreach(json_object_get(r, "directives"), i, x) {
		words_remember(&l->w, num(x, "id"), json_string_value(
		    json_object_get(x, "text")));
		if (strcmp(str(x, "state"), "running") != 0)
			continue;
		row = row_of(l, l->task, str(x, "domain"));
		row->directive = num(x, "id");
		row->since = when(x, "updated");
		set_stage(row, "working", str(x, "text"));
	}
	json_decref(r);
}

/* ---------------------------------------------------------- the loop */

/* -1: it goes on; else the exit status of a followed task that ended
 * (or paused, when follow_pause).  A replayed event ends nothing. */
static int
ending(struct live *l, const json_t *e, bool follow_pause)
{
	const char *ev = str(e, "event");
	const json_t *d = json_object_get(e, "data");
	const char *state = json_string_value(json_object_get(d, "state"));

	if (l->task == 0 || num(e, "task") != l->task ||
	    json_is_true(json_object_get(e, "replay")))
		return -1;
	if (is_event(ev, EV_TASK_STATE) && state != NULL &&
	    task_state_name_over(state))
		return strcmp(state, task_state_names[TASK_DONE]) == 0 ?
		    EXIT_OK : EXIT_FAILED;
	if (follow_pause && is_event(ev, EV_TASK_PAUSED))
		return EXIT_PAUSED;
	return -1;
}

static void
show(struct live *l, const json_t *e)
{
	char text[LINE_MAX];

	if (l->c->json) {
		print_json(e, true);
		return;
	}
	track(l, e);
	if (event_words(&l->w, e, text, sizeof(text)))
		event_line(l, e, text);
}

/* How long to wait for the next event: the block is due, or a tick. */
static int
wait_ms(const struct live *l)
{
	double due;

	if (!l->inplace)
		return -1;
	if (!l->dirty)
		return TICK_MS;
	due = (l->drawn_at + REDRAW_MS / 1000.0 - now_s()) * 1000.0;
	return due <= 0 ? 0 : (int)due;
}

static void
live_init(struct live *l, struct ctl *c, json_int_t task)
{
	memset(l, 0, sizeof(*l));
	l->c = c;
	l->task = task;
	l->verbose = c->verbose;
	l->w.c = c;
	l->w.verbose = c->verbose;
	l->w.texts = json_object();
	l->inplace = c->tty && !c->json && !c->verbose;
	measure(l);
	/* as wide as "integration", the domain of integration runs: the
	 * columns do not move when it comes */
	l->label = 11;
	snprintf(l->state, sizeof(l->state), "-");
}

static void
live_free(struct live *l)
{
	erase_block(l);
	free(l->rows);
	json_decref(l->w.texts);
}

/*
 * Show events until the followed task ends (or pauses, follow_pause), or
 * masterd goes away.  The exit status, or -1 when the stream ended.
 */
static int
live_loop(struct live *l, bool follow_pause)
{
	json_t *e;
	bool timed_out;
	int status = -1;

	l->c->streaming = true;
	draw_block(l);
	for (;;) {
		e = next_message(l->c, wait_ms(l), &timed_out);
		if (timed_out) {
			draw_block(l);
			continue;
		}
		if (e == NULL)
			break;
		if (!json_is_string(json_object_get(e, "event"))) {
			json_decref(e);
			continue;
		}
		show(l, e);
		status = ending(l, e, follow_pause);
		json_decref(e);
		if (status >= 0)
			break;
		if (l->inplace && now_s() - l->drawn_at >= REDRAW_MS / 1000.0)
			draw_block(l);
	}
	erase_block(l);
	return status;
}

/* A followed task is over or paused: say so, in one line (not in a
 * --json watch: its output is events only). */
static int
say_end(json_int_t task, int status, const char *state, const char *why,
    bool quiet)
{
	if (quiet)
		return status;
	if (status == EXIT_PAUSED)
		printf("task %lld paused: %s\n", (long long)task,
		    why != NULL && *why != '\0' ? why : "no reason given");
	else
		printf("task %lld %s\n", (long long)task, state);
	fflush(stdout);
	return status;
}

/* The task's state at the end, as masterd has it now. */
static int
final_state(struct ctl *c, json_int_t task, int status, bool quiet)
{
	json_t *req = request(c, CTL_TASK), *r;
	const json_t *t;
	int st;

	json_object_set_new(req, "task", json_integer(task));
	json_object_set_new(req, "rounds", json_integer(1));
	if ((r = call(c, req, &st)) == NULL)
		return status;
	t = json_object_get(r, "task");
	status = say_end(task, status, str(t, "state"), json_string_value(
	    json_object_get(t, "reason")), quiet);
	json_decref(r);
	return status;
}

/* 0 when the watch request took; the task's state in *t (a new ref),
 * how many stored events come first in *replayed. */
static int
start_watch(struct ctl *c, const struct opts *o, json_int_t task,
    json_t **t, json_int_t *replayed)
{
	json_t *req = request(c, CTL_WATCH), *r;
	json_int_t tail;
	double since;
	int status;

	*t = NULL;
	if (task > 0)
		json_object_set_new(req, "task", json_integer(task));
	if (o != NULL && o->tail != NULL) {
		if (parse_id(o->tail, "--tail", &tail) != 0) {
			json_decref(req);
			return EXIT_USAGE;
		}
		json_object_set_new(req, "tail", json_integer(tail));
	}
	if (o != NULL && o->since != NULL) {
		if ((since = parse_since(o->since)) < 0) {
			fprintf(stderr, "masterctl: --since takes a time "
			    "(2026-12-03T06:20:00Z, \"2026-12-03 07:20\", "
			    "07:20) or an age (90s, 10m, 2h, 1d), not '%s'\n",
			    o->since);
			json_decref(req);
			return EXIT_USAGE;
		}
		json_object_set_new(req, "since", json_real(since));
	}
	if ((r = call(c, req, &status)) == NULL)
		return status;
	*t = json_incref(json_object_get(r, "task"));
	*replayed = json_integer_value(json_object_get(r, "replayed"));
	json_decref(r);
	return EXIT_OK;
}

/* The task is over or paused already: its end, at once. */
static int
ended_already(const json_t *t, json_int_t task, bool follow_pause,
    bool quiet)
{
	const char *state = str(t, "state");

	if (task_state_name_over(state))
		return say_end(task, strcmp(state,
		    task_state_names[TASK_DONE]) == 0 ? EXIT_OK : EXIT_FAILED,
		    state, NULL, quiet);
	if (follow_pause && json_is_true(json_object_get(t, "paused")))
		return say_end(task, EXIT_PAUSED, state, json_string_value(
		    json_object_get(t, "reason")), quiet);
	return -1;
}

/* The stored events a watch asked for, shown as they come. */
static void
replay(struct live *l, json_int_t n)
{
	json_t *e;
	bool timed_out;

	l->c->streaming = true;
	while (n-- > 0 && (e = next_message(l->c, REPLY_TIMEOUT_MS,
	    &timed_out)) != NULL) {
		show(l, e);
		json_decref(e);
	}
}

static int
run_live(struct ctl *c, const struct opts *o, json_int_t task,
    bool follow_pause)
{
	struct live l;
	json_int_t replayed = 0;
	bool quiet = c->json && !follow_pause;
	json_t *t;
	int status;

	if ((status = start_watch(c, o, task, &t, &replayed)) != EXIT_OK)
		return status;
	live_init(&l, c, task);
	if (task > 0 && !c->json)
		seed(&l);
	replay(&l, replayed);
	/* over before we came: its end, at once */
	if (task > 0 && (status = ended_already(t, task, follow_pause,
	    quiet)) >= 0) {
		json_decref(t);
		live_free(&l);
		return status;
	}
	status = live_loop(&l, follow_pause);
	if (status >= 0)
		status = final_state(c, task, status, quiet);
	json_decref(t);
	live_free(&l);
	if (status < 0)		/* masterd went away: the stream ended */
		return task > 0 && follow_pause ? EXIT_UNREACHABLE : EXIT_OK;
	return status;
}

int
follow_task(struct ctl *c, const struct opts *o, json_int_t task)
{
	return run_live(c, o, task, true);
}

int
cmd_watch(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_int_t task = 0;

	if ((argc == 1 || o->task != NULL) && parse_id(argc == 1 ? argv[0] :
	    o->task, "task", &task) != 0)
		return EXIT_USAGE;
	return run_live(c, o, task, false);
}

