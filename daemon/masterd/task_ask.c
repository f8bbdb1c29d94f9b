/*
 * task_ask.c — a person in the loop (issue #18): the questions the
 * planner and the domains ask the user, and the plans and merges that
 * wait for an approval ([task] approve = plan or merge).
 *
 * Each is a row of the registry's asks table, written before anything
 * acts on it, so a question or a waiting merge outlives a restart (kill
 * -9 too).  In memory a task keeps only counts: what waits for a person
 * (asks_open, which holds its life: no integration, review or end while
 * it waits), the planner's share (planner_asks: no plan request goes
 * while the planner waits) and each domain's (asks_open: the domain is
 * handed no directive while it waits: the `needs-input` of protocol.md).
 * The other domains go on.
 *
 * Answers go back into the asker's conversation: the planner's next plan
 * request carries every answer (and expired question with its
 * assumption, and rejected plan with its reason) in its context; a
 * domain gets a directive holding its answers, or a rejected merge's
 * reason.  A question unanswered at its deadline ([task]
 * question_timeout) expires: the asker proceeds on the assumption it
 * stated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/task.h"
#include "daemon/masterd/tasks.h"

/* Questions one answer may carry, and the bytes of each text. */
#define QUESTIONS_MAX	8
#define ASK_TEXT_MAX	4096

static void answer_domain(struct task *, const char *who);

static bool
is_planner(const char *who)
{
	return who != NULL && strcmp(who, PLANNER_NAME) == 0;
}

/* One more (n = 1) or one fewer (n = -1) open ask of who. */
static void
count(struct task *t, const char *who, int n)
{
	struct domain *d;

	t->asks_open += n;
	if (is_planner(who))
		t->planner_asks += n;
	else if ((d = domain_find(t, who)) != NULL)
		d->asks_open += n;
}

void
task_asks_load(struct task *t)
{
	json_t *rows = registry_asks(t->md->reg, t->id, true), *r;
	size_t i;

	json_array_foreach(rows, i, r)
		count(t, jget_str(r, "who"), 1);
	json_decref(rows);
	/* Answers a stop came between: delivered at the first tick. */
	t->asks_resume = !task_state_over(t->state);
}

/* After a restart: a domain whose questions were all answered or expired
 * but whose answers never became its directive gets them now. */
static void
resume_answers(struct task *t)
{
	json_t *rows = registry_asks(t->md->reg, t->id, false), *r;
	json_t *done = json_object();
	struct domain *d;
	const char *who;
	size_t i;

	t->asks_resume = false;
	json_array_foreach(rows, i, r) {
		who = jget_str(r, "who");
		if (is_planner(who) || jget_bool(r, "delivered") ||
		    strcmp(jget_str(r, "kind"), "question") != 0 ||
		    strcmp(jget_str(r, "state"), "open") == 0 ||
		    json_object_get(done, who) != NULL ||
		    (d = domain_find(t, who)) == NULL || d->asks_open > 0)
			continue;
		json_object_set_new(done, who, json_true());
		answer_domain(t, who);
	}
	json_decref(done);
	json_decref(rows);
}

bool
task_gate(const struct task *t, const char *what)
{
	const char *a = t->md->conf->approve;

	return a != NULL && strcmp(a, what) == 0;
}

/* A copy of s cut to ASK_TEXT_MAX bytes (on a character), or NULL. */
static char *
bounded(const char *s)
{
	size_t n;
	char *c;

	if (s == NULL)
		return NULL;
	n = utf8_prefix(s, ASK_TEXT_MAX);
	c = xmalloc(n + 1);
	memcpy(c, s, n);
	c[n] = '\0';
	return c;
}

/* A question's own timeout (seconds), else [task] question_timeout;
 * 0: none. */
static double
deadline_of(const struct masterd *md, const json_t *q)
{
	json_int_t own = jget_int(q, "timeout", 0);

	if (own > 0)
		return now_epoch() + (double)own;
	if (md->conf->question_timeout > 0)
		return now_epoch() + (double)md->conf->question_timeout / 1000;
	return 0;
}

int
task_ask_questions(struct task *t, const char *who, const char *context,
    const json_t *questions)
{
	struct masterd *md = t->md;
	double deadline;
	char *text, *assume;
	const json_t *q;
	int64_t id;
	size_t i;
	int n = 0;

	json_array_foreach(questions, i, q) {
		if (i >= QUESTIONS_MAX)
			break;
		deadline = deadline_of(md, q);
		text = bounded(jget_str(q, "text"));
		assume = bounded(jget_str(q, "assumption"));
		if (text == NULL || *text == '\0' ||
		    registry_ask_add(md->reg, t->id, "question", who, text,
		    assume, context, deadline, &id) != 0) {
			if (text != NULL && *text != '\0')
				log_err("task %lld: %s's question not stored: "
				    "%s", (long long)t->id, who,
				    registry_errmsg(md->reg));
			free(text);
			free(assume);
			continue;
		}
		count(t, who, 1);
		n++;
		event_emit(md, t->id, is_planner(who) ? NULL : who,
		    EV_QUESTION_ASKED, json_pack("{s:I, s:s, s:s, s:s*, s:o}",
		    "question", (json_int_t)id, "who", who, "text", text,
		    "assumption", assume, "deadline", deadline > 0 ?
		    json_real(deadline) : json_null()));
		free(text);
		free(assume);
	}
	task_mark(t);
	return n;
}

int
task_ask_approval(struct task *t, const char *what, const char *who,
    const char *commit, const char *summary)
{
	struct masterd *md = t->md;
	char *text = bounded(summary != NULL ? summary : what);
	int64_t id;

	if (registry_ask_add(md->reg, t->id, "approval", who, text, what,
	    commit, 0, &id) != 0) {
		log_err("task %lld: the %s's approval not stored: %s",
		    (long long)t->id, what, registry_errmsg(md->reg));
		free(text);
		return -1;
	}
	count(t, who, 1);
	event_emit(md, t->id, is_planner(who) ? NULL : who, EV_APPROVAL_NEEDED,
	    json_pack("{s:I, s:s, s:s*, s:s}", "approval", (json_int_t)id,
	    "what", what, "commit", commit, "summary", text));
	free(text);
	task_mark(t);
	return 0;
}

/* ------------------------------------------------------- back to the asker */

/* The planner's: every answered or expired question, every rejected plan,
 * for its next plan request. */
json_t *
task_plan_feedback(struct task *t)
{
	json_t *rows = registry_asks(t->md->reg, t->id, false), *r;
	json_t *answers = json_array(), *rejected = json_array(), *out;
	const char *state, *kind;
	size_t i;

	json_array_foreach(rows, i, r) {
		if (!is_planner(jget_str(r, "who")))
			continue;
		state = jget_str(r, "state");
		kind = jget_str(r, "kind");
		if (strcmp(kind, "question") == 0 &&
		    strcmp(state, "answered") == 0)
			json_array_append_new(answers, json_pack("{s:s, s:s*}",
			    "question", jget_str(r, "text"), "answer",
			    jget_str(r, "answer")));
		else if (strcmp(kind, "question") == 0 &&
		    strcmp(state, "expired") == 0)
			json_array_append_new(answers, json_pack("{s:s, s:s*, "
			    "s:b}", "question", jget_str(r, "text"),
			    "assumption", jget_str(r, "assumption"), "expired",
			    1));
		else if (strcmp(kind, "approval") == 0 &&
		    strcmp(state, "rejected") == 0)
			json_array_append_new(rejected, json_pack("{s:s*}",
			    "reason", jget_str(r, "answer")));
	}
	json_decref(rows);
	out = json_object();
	if (json_array_size(answers) > 0)
		json_object_set(out, "answers", answers);
	if (json_array_size(rejected) > 0)
		json_object_set(out, "rejected_plans", rejected);
	json_decref(answers);
	json_decref(rejected);
	return out;
}

static int
add_directive(struct task *t, const char *domain, const char *text)
{
	char err[256];
	json_t *out;

	if (task_add_directive(t, domain, SOURCE_USER, text, PRIORITY_REVIEW,
	    &out, err, sizeof(err)) != 0) {
		log_warn("task %lld: the answer to %s not queued: %s",
		    (long long)t->id, domain, err);
		return -1;
	}
	json_decref(out);
	return 0;
}

/* One question and what came back, for the domain's directive. */
static char *
answered_line(char *acc, const json_t *r)
{
	const char *a = jget_str(r, "assumption");
	char *next;

	if (strcmp(jget_str(r, "state"), "answered") == 0)
		next = xasprintf("%s\nQ: %s\nA (the user): %s\n", acc,
		    jget_str(r, "text"), jget_str(r, "answer"));
	else
		next = xasprintf("%s\nQ: %s\nNo answer came in time: proceed "
		    "on your assumption: %s\n", acc, jget_str(r, "text"),
		    a != NULL ? a : "(none stated)");
	free(acc);
	return next;
}

/* A domain that waits no more: its answers, in one directive; then
 * each question is marked delivered (a restart between the two sends
 * them again rather than never). */
static void
answer_domain(struct task *t, const char *who)
{
	json_t *rows = registry_asks(t->md->reg, t->id, false), *r;
	json_t *ids = json_array(), *id;
	const char *ctx = NULL;
	char *acc = xstrdup(""), *text;
	size_t i;

	json_array_foreach(rows, i, r) {
		if (strcmp(jget_str(r, "who"), who) != 0 ||
		    strcmp(jget_str(r, "kind"), "question") != 0 ||
		    jget_bool(r, "delivered") ||
		    strcmp(jget_str(r, "state"), "open") == 0)
			continue;
		if (ctx == NULL)
			ctx = jget_str(r, "context");
		acc = answered_line(acc, r);
		json_array_append_new(ids, json_integer(jget_int(r, "id", 0)));
	}
	if (json_array_size(ids) > 0) {
		text = xasprintf("Your questions to the user, and what came "
		    "back:\n%s\nGo on with your work: %s", acc, ctx != NULL ?
		    ctx : "the directive you asked them in.");
		if (add_directive(t, who, text) == 0)
			json_array_foreach(ids, i, id)
				registry_ask_delivered(t->md->reg,
				    json_integer_value(id));
		free(text);
	}
	free(acc);
	json_decref(ids);
	json_decref(rows);
}

/* who waits no more for this one: it goes on when nothing else waits. */
static void
settle(struct task *t, const char *who)
{
	struct domain *d;

	if (is_planner(who)) {
		if (t->planner_asks == 0 && t->state == TASK_PLANNED)
			task_plan(t);
	} else if ((d = domain_find(t, who)) != NULL && d->asks_open == 0) {
		answer_domain(t, who);
	}
	task_mark(t);
}

/* ------------------------------------------------------- a person's word */

static int
ask_of(struct masterd *md, int64_t id, const char *kind, json_t **row,
    struct task **t, char *err, size_t errlen)
{
	*row = registry_ask_get(md->reg, id);
	if (*row == NULL || strcmp(jget_str(*row, "kind"), kind) != 0) {
		snprintf(err, errlen, "no %s %lld", kind, (long long)id);
		json_decref(*row);
		return TASKS_ENOENT;
	}
	*t = task_find(md, jget_int(*row, "task", 0));
	if (*t == NULL || task_state_over((*t)->state) ||
	    strcmp(jget_str(*row, "state"), "open") != 0) {
		snprintf(err, errlen, "%s %lld is %s", kind, (long long)id,
		    *t == NULL || strcmp(jget_str(*row, "state"), "open") != 0 ?
		    jget_str(*row, "state") : "of a task that is over");
		json_decref(*row);
		return TASKS_ECONFLICT;
	}
	return 0;
}

/* An open row closed: the registry first. */
static int
close_ask(struct task *t, const json_t *row, const char *state,
    const char *answer, char *err, size_t errlen)
{
	int rc = registry_ask_set(t->md->reg, jget_int(row, "id", 0), state,
	    answer);

	if (rc == REG_NOT_FOUND) {
		snprintf(err, errlen, "it is no longer open");
		return TASKS_ECONFLICT;
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s", registry_errmsg(t->md->reg));
		return TASKS_ESTORAGE;
	}
	count(t, jget_str(row, "who"), -1);
	return 0;
}

int
tasks_answer(struct masterd *md, int64_t id, const char *text, char *err,
    size_t errlen)
{
	const char *who;
	struct task *t;
	json_t *row;
	char *answer;
	int rc;

	if ((rc = ask_of(md, id, "question", &row, &t, err, errlen)) != 0)
		return rc;
	who = jget_str(row, "who");
	answer = bounded(text);
	if ((rc = close_ask(t, row, "answered", answer, err, errlen)) == 0) {
		event_emit(md, t->id, is_planner(who) ? NULL : who,
		    EV_QUESTION_ANSWERED, json_pack("{s:I, s:s, s:s}",
		    "question", (json_int_t)id, "who", who, "answer", answer));
		settle(t, who);
	}
	free(answer);
	json_decref(row);
	return rc;
}

int
tasks_question_deadline(struct masterd *md, int64_t id, double seconds,
    json_t **out, char *err, size_t errlen)
{
	double deadline = seconds < 0 ? 0 : now_epoch() + seconds;
	const char *who;
	struct task *t;
	json_t *row;
	int rc;

	*out = NULL;
	if ((rc = ask_of(md, id, "question", &row, &t, err, errlen)) != 0)
		return rc;
	who = jget_str(row, "who");
	rc = registry_ask_deadline(md->reg, id, deadline);
	if (rc == REG_NOT_FOUND) {
		snprintf(err, errlen, "question %lld is no longer open",
		    (long long)id);
		rc = TASKS_ECONFLICT;
	} else if (rc != 0) {
		snprintf(err, errlen, "%s", registry_errmsg(md->reg));
		rc = TASKS_ESTORAGE;
	} else {
		event_emit(md, t->id, is_planner(who) ? NULL : who,
		    EV_QUESTION_DEADLINE, json_pack("{s:I, s:s, s:o}",
		    "question", (json_int_t)id, "who", who, "deadline",
		    deadline > 0 ? json_real(deadline) : json_null()));
		/* Due now: the asker goes on at once, not at the tick. */
		if (seconds == 0)
			task_asks_tick(t);
		*out = registry_ask_get(md->reg, id);
	}
	json_decref(row);
	return rc;
}

/* The task's oldest open approval, when none is named. */
static int64_t
oldest_approval(struct masterd *md, int64_t task)
{
	json_t *rows = registry_asks(md->reg, task, true), *r;
	int64_t id = 0;
	size_t i;

	json_array_foreach(rows, i, r)
		if (id == 0 && strcmp(jget_str(r, "kind"), "approval") == 0)
			id = jget_int(r, "id", 0);
	json_decref(rows);
	return id;
}

static void
approved(struct task *t, const json_t *row)
{
	const char *what = jget_str(row, "assumption");

	if (strcmp(what, "plan") == 0)
		task_plan_go(t);
	else
		task_merge_domain(t, jget_str(row, "who"),
		    jget_str(row, "text"));
}

static void
rejected(struct task *t, const json_t *row, const char *reason)
{
	const char *what = jget_str(row, "assumption");
	char *text;

	if (strcmp(what, "plan") == 0) {
		settle(t, PLANNER_NAME);
		return;
	}
	text = xasprintf("Your change (commit %s: %s) was not taken into "
	    "main. The user's reason: %s\nChange your work accordingly.",
	    jget_str(row, "context") ? jget_str(row, "context") : "?",
	    jget_str(row, "text"), reason);
	add_directive(t, jget_str(row, "who"), text);
	free(text);
	task_mark(t);
}

int
tasks_approve(struct masterd *md, int64_t task, int64_t id, bool ok,
    const char *reason, json_t **out, char *err, size_t errlen)
{
	struct task *t;
	json_t *row;
	char *why;
	int rc;

	*out = NULL;
	if (!tasks_exists(md, task)) {
		snprintf(err, errlen, "no task %lld", (long long)task);
		return TASKS_ENOENT;
	}
	if (id == 0 && (id = oldest_approval(md, task)) == 0) {
		snprintf(err, errlen, "task %lld waits for no approval",
		    (long long)task);
		return TASKS_ECONFLICT;
	}
	if ((rc = ask_of(md, id, "approval", &row, &t, err, errlen)) != 0)
		return rc;
	if (t->id != task) {
		snprintf(err, errlen, "approval %lld is task %lld's",
		    (long long)id, (long long)t->id);
		json_decref(row);
		return TASKS_EINVAL;
	}
	why = bounded(reason != NULL && *reason != '\0' ? reason :
	    "no reason given");
	if ((rc = close_ask(t, row, ok ? "approved" : "rejected",
	    ok ? NULL : why, err, errlen)) == 0) {
		if (ok)
			event_emit(md, t->id, NULL, EV_APPROVAL_GIVEN,
			    json_pack("{s:I, s:s}", "approval", (json_int_t)id,
			    "what", jget_str(row, "assumption")));
		else
			event_emit(md, t->id, NULL, EV_APPROVAL_REJECTED,
			    json_pack("{s:I, s:s, s:s}", "approval",
			    (json_int_t)id, "what", jget_str(row,
			    "assumption"), "reason", why));
		*out = json_incref(row);
		if (ok)
			approved(t, row);
		else
			rejected(t, row, why);
		task_mark(t);
	}
	free(why);
	json_decref(row);
	return rc;
}

json_t *
tasks_asks(struct masterd *md, int64_t task)
{
	return registry_asks(md->reg, task, true);
}

/* ------------------------------------------------------- deadlines */

void
task_asks_tick(struct task *t)
{
	json_t *rows, *r;
	const char *who;
	char err[128];
	double now = now_epoch(), dl;
	size_t i;

	if (t->asks_resume)
		resume_answers(t);
	if (t->asks_open == 0 || task_state_over(t->state))
		return;
	rows = registry_asks(t->md->reg, t->id, true);
	json_array_foreach(rows, i, r) {
		dl = json_number_value(json_object_get(r, "deadline"));
		if (strcmp(jget_str(r, "kind"), "question") != 0 || dl <= 0)
			continue;
		if (dl > now)
			continue;
		who = jget_str(r, "who");
		if (close_ask(t, r, "expired", NULL, err, sizeof(err)) != 0)
			continue;
		event_emit(t->md, t->id, is_planner(who) ? NULL : who,
		    EV_QUESTION_EXPIRED, json_pack("{s:I, s:s, s:s*}",
		    "question", jget_int(r, "id", 0), "who", who,
		    "assumption", jget_str(r, "assumption")));
		settle(t, who);
	}
	json_decref(rows);
}
