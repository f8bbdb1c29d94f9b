/*
 * words.c — what an event says to a person, in one line: a round accepted
 * (its commit, its tokens) or rejected (the stage and why), an interface
 * version and what changed in it (asked of masterd on the same
 * connection), a directive queued, done, retried or failed, the plan, a
 * review, integration runs, budgets, pauses, providers.  Events that only
 * move a status line (progress, a merge, a directive starting) say
 * nothing unless --verbose.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/vocab.h"
#include "daemon/masterctl/ctl.h"

/* The directive's text, as it was queued. */
const char *
words_text(struct words *w, long long id)
{
	char key[24];

	snprintf(key, sizeof(key), "%lld", id);
	return json_string_value(json_object_get(w->texts, key));
}

void
words_remember(struct words *w, long long id, const char *text)
{
	char key[24];

	if (text == NULL)
		return;
	snprintf(key, sizeof(key), "%lld", id);
	json_object_set_new(w->texts, key, json_string(text));
}

bool
is_event(const char *ev, enum event which)
{
	return strcmp(ev, event_defs[which].name) == 0;
}

/* provider.down, .probe and .up: the provider, why, and what next. */
static void
describe_provider(const char *ev, const json_t *d, char *buf, size_t len)
{
	char at[16];

	fmt_clock(when(d, "next_try"), at, sizeof(at));
	if (is_event(ev, EV_PROVIDER_UP))
		snprintf(buf, len, "provider %s (%.80s) answers again after "
		    "%.0f s", str(d, "provider"), str(d, "endpoint"),
		    real(d, "down_for"));
	else if (is_event(ev, EV_PROVIDER_PROBE))
		snprintf(buf, len, "provider %s: probe %lld failed, next try "
		    "at %s: %.100s", str(d, "provider"), num(d, "failures"),
		    at, str(d, "reason"));
	else
		snprintf(buf, len, "provider %s (%.80s) is down, next try at "
		    "%s: %.100s", str(d, "provider"), str(d, "endpoint"), at,
		    str(d, "reason"));
}

static void
describe_round(const json_t *d, char *buf, size_t len)
{
	char tok[16];

	fmt_tokens(num(json_object_get(d, "usage"), "tokens_in") +
	    num(json_object_get(d, "usage"), "tokens_out"), tok, sizeof(tok));
	if (json_is_true(json_object_get(d, "ok")))
		snprintf(buf, len, "round %lld of #%lld accepted%s%.7s, %s "
		    "tokens", num(d, "round"), num(d, "directive"),
		    json_is_string(json_object_get(d, "commit")) ?
		    ": commit " : "", json_is_string(json_object_get(d,
		    "commit")) ? str(d, "commit") : "", tok);
	else
		snprintf(buf, len, "round %lld of #%lld rejected at %s: %.300s",
		    num(d, "round"), num(d, "directive"), str(d, "stage"),
		    json_is_string(json_object_get(d, "error")) ?
		    str(d, "error") : "no reason given");
	if (json_is_string(json_object_get(d, "provider")) &&
	    strcmp(str(d, "provider"), "llm") != 0)
		snprintf(buf + strlen(buf), len - strlen(buf), " (via %.40s)",
		    str(d, "provider"));
}

/* "a, b, c" of the names of a list of objects (or strings). */
static void
names_of(const json_t *list, const char *key, char *buf, size_t len)
{
	const json_t *x;
	size_t i, o = 0;

	buf[0] = '\0';
	json_array_foreach(list, i, x) {
		const char *n = json_is_string(x) ? json_string_value(x) :
		    str(x, key);

		if (o + 1 >= len)
			break;
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
		    n);
	}
}

/* What one side of an interface diff changed: "+name ~name -name". */
static void
diff_side(const json_t *side, char *buf, size_t len)
{
	static const char *const parts[] = { "added", "changed", "removed" };
	static const char marks[] = { '+', '~', '-' };
	const json_t *e;
	size_t i, o = strlen(buf);

	for (int p = 0; p < 3; p++)
		json_array_foreach(json_object_get(side, parts[p]), i, e) {
			if (o + 2 >= len)
				return;
			o += (size_t)snprintf(buf + o, len - o, " %c%s",
			    marks[p], str(e, "name"));
		}
}

/* Ask masterd what version v of a domain changed from the one before. */
static void
describe_interface(struct words *w, const json_t *e, char *buf, size_t len)
{
	const json_t *d = json_object_get(e, "data"), *doc, *x;
	json_int_t v = num(d, "version");
	json_t *req = request(w->c, CTL_INTERFACE), *r;
	char what[600] = "";
	int status;

	json_object_set_new(req, "domain", json_string(str(e, "domain")));
	json_object_set_new(req, "task", json_integer(num(e, "task")));
	if (v > 1)
		json_object_set_new(req, "diff", json_pack("[I, I]", v - 1, v));
	else
		json_object_set_new(req, "version", json_integer(v));
	/* events that come meanwhile wait in ctl.pending */
	if ((r = call(w->c, req, &status)) != NULL) {
		if (v > 1) {
			x = json_object_get(r, "diff");
			diff_side(json_object_get(x, "provides"), what,
			    sizeof(what));
			diff_side(json_object_get(x, "consumes"), what,
			    sizeof(what));
			if (what[0] == '\0' && json_is_true(json_object_get(r,
			    "from_declared")) && !json_is_true(json_object_get(
			    d, "declared")))
				snprintf(what, sizeof(what), " implements v%lld "
				    "as declared", (long long)v - 1);
		} else {
			doc = json_object_get(json_object_get(r, "interface"),
			    "document");
			snprintf(what, sizeof(what), " provides %zu, consumes "
			    "%zu", json_array_size(json_object_get(doc,
			    "provides")), json_array_size(json_object_get(doc,
			    "consumes")));
		}
		json_decref(r);
	}
	snprintf(buf, len, "interface v%lld %s:%s", (long long)v,
	    json_is_true(json_object_get(d, "declared")) ? "declared" :
	    "published", what[0] ? what : " the same entries");
}

static void
describe_directive(struct words *w, const char *ev, const json_t *d,
    char *buf, size_t len)
{
	long long id = num(d, "directive");
	char at[16];

	if (is_event(ev, EV_DIRECTIVE_QUEUED) || is_event(ev, EV_DIRECTIVE_MERGED))
		snprintf(buf, len, "#%lld %s (%s): %s", id,
		    is_event(ev, EV_DIRECTIVE_QUEUED) ? "queued" : "merged",
		    str(d, "source"), str(d, "text"));
	else if (is_event(ev, EV_DIRECTIVE_DONE))
		snprintf(buf, len, "#%lld done: %s", id,
		    json_is_string(json_object_get(d, "summary")) ?
		    str(d, "summary") : "-");
	else if (is_event(ev, EV_DIRECTIVE_RETRY)) {
		fmt_clock(when(d, "not_before"), at, sizeof(at));
		snprintf(buf, len, "#%lld will try again%s%s: %s", id,
		    when(d, "not_before") > 0 ? " at " : "",
		    when(d, "not_before") > 0 ? at : "", str(d, "reason"));
	} else if (is_event(ev, EV_DIRECTIVE_DROPPED))
		snprintf(buf, len, "#%lld FAILED (%s): %s", id, str(d, "code"),
		    str(d, "reason"));
	else
		snprintf(buf, len, "#%lld started: %s", id,
		    words_text(w, id) ? words_text(w, id) : "");
}

static void
describe_task(const char *ev, const json_t *d, char *buf, size_t len)
{
	char names[300];

	if (is_event(ev, EV_TASK_SUBMITTED))
		snprintf(buf, len, "submitted: %s", str(d, "text"));
	else if (is_event(ev, EV_TASK_PLANNED)) {
		names_of(json_object_get(json_object_get(d, "plan"),
		    "domains"), "name", names, sizeof(names));
		snprintf(buf, len, "planned %zu domain(s): %s",
		    json_array_size(json_object_get(json_object_get(d,
		    "plan"), "domains")), names);
	} else if (is_event(ev, EV_TASK_REVIEWED)) {
		size_t n = json_array_size(json_object_get(json_object_get(d,
		    "review"), "directives"));

		if (n == 0)
			snprintf(buf, len, "reviewed: nothing more to do");
		else
			snprintf(buf, len, "reviewed: %zu more directive(s)",
			    n);
	} else if (is_event(ev, EV_TASK_STATE))
		snprintf(buf, len, "now %s%s%s", str(d, "state"),
		    json_is_string(json_object_get(d, "reason")) ? ": " : "",
		    json_is_string(json_object_get(d, "reason")) ?
		    str(d, "reason") : "");
	else if (is_event(ev, EV_TASK_PAUSED))
		snprintf(buf, len, "PAUSED: %s", str(d, "reason"));
	else if (is_event(ev, EV_TASK_RESUMED) ||
	    is_event(ev, EV_TASK_RESUMED_AFTER_RESTART))
		snprintf(buf, len, "resumed%s", is_event(ev, EV_TASK_RESUMED) ? "" :
		    " after masterd's restart");
	else if (is_event(ev, EV_TASK_LIMIT))
		snprintf(buf, len, "LIMIT reached: %s", str(d, "reason"));
	else {
		char *b = json_dumps(json_object_get(d, "budget"),
		    JSON_COMPACT | JSON_SORT_KEYS);

		snprintf(buf, len, "budget now %s (0: no limit)", b ? b : "{}");
		free(b);
	}
}

static void
describe_integration(const char *ev, const json_t *d, char *buf, size_t len)
{
	char names[300];

	if (is_event(ev, EV_INTEGRATION_STARTED))
		snprintf(buf, len, "integration run %lld on %.7s: %lld "
		    "check(s)", num(d, "run"), str(d, "commit"),
		    json_is_array(json_object_get(d, "checks")) ?
		    (long long)json_array_size(json_object_get(d, "checks")) :
		    num(d, "checks"));
	else if (is_event(ev, EV_INTEGRATION_PASSED))
		snprintf(buf, len, "integration PASSED (run %lld on %.7s, "
		    "%.1f s)", num(d, "run"), str(d, "commit"),
		    (double)num(d, "duration_ms") / 1000.0);
	else if (is_event(ev, EV_INTEGRATION_FAILED)) {
		names_of(json_object_get(d, "failed"), "command", names,
		    sizeof(names));
		snprintf(buf, len, "integration FAILED (run %lld on %.7s): "
		    "%s%s%s", num(d, "run"), str(d, "commit"), names,
		    json_is_string(json_object_get(d, "error")) ? " " : "",
		    json_is_string(json_object_get(d, "error")) ?
		    str(d, "error") : "");
	} else
		snprintf(buf, len, "integration failure sent to its domains: "
		    "%lld directive(s): %s", num(d, "directives"),
		    str(d, "reason"));
}

/*
 * The line an event is worth, or false for none (it only moves a status
 * line, or says what another line says).  --verbose: every event.
 */
bool
event_words(struct words *w, const json_t *e, char *buf, size_t len)
{
	const char *ev = str(e, "event");
	const json_t *d = json_object_get(e, "data");

	buf[0] = '\0';
	if (is_event(ev, EV_PROGRESS) || is_event(ev, EV_MERGED) ||
	    is_event(ev, EV_DIRECTIVE_RUNNING) || is_event(ev, EV_DIRECTIVE_MERGED)) {
		if (!w->verbose)
			return false;
		describe_event(ev, d, buf, len);
		return true;
	}
	if (is_event(ev, EV_ROUND))
		describe_round(d, buf, len);
	else if (strncmp(ev, "task.", 5) == 0)
		describe_task(ev, d, buf, len);
	else if (strncmp(ev, "directive.", 10) == 0)
		describe_directive(w, ev, d, buf, len);
	else if (strncmp(ev, "integration.", 12) == 0)
		describe_integration(ev, d, buf, len);
	else if (strncmp(ev, "provider.", 9) == 0)
		describe_provider(ev, d, buf, len);
	else if (is_event(ev, EV_INTERFACE_PUBLISHED))
		describe_interface(w, e, buf, len);
	else if (is_event(ev, EV_INTERFACE_REFUSED))
		snprintf(buf, len, "interface REFUSED: %s", str(d, "reason"));
	else if (is_event(ev, EV_INTERFACES_UNRESOLVED)) {
		if (num(d, "count") == w->unresolved && !w->verbose)
			return false;
		w->unresolved = num(d, "count");
		snprintf(buf, len, "%lld unresolved interface entr%s",
		    num(d, "count"), num(d, "count") == 1 ? "y" : "ies");
	} else if (is_event(ev, EV_MERGE_FAILED))
		snprintf(buf, len, "merge FAILED: %s", str(d, "reason"));
	else if (is_event(ev, EV_DOMAIN_ADDED))
		snprintf(buf, len, "domain added");
	else if (is_event(ev, EV_DOMAIN_STATE)) {
		const char *to = str(d, "to");

		if (!w->verbose && (strcmp(to, "running") == 0 ||
		    strcmp(to, "starting") == 0 || strcmp(to, "done") == 0) &&
		    strcmp(str(d, "from"), "fatal") != 0)
			return false;
		snprintf(buf, len, "domain %s -> %s%s%s", str(d, "from"), to,
		    json_is_string(json_object_get(d, "reason")) ? ": " : "",
		    json_is_string(json_object_get(d, "reason")) ?
		    str(d, "reason") : "");
	} else if (is_event(ev, EV_DOMAIN_HELD)) {
		char at[16];

		fmt_clock(when(d, "until"), at, sizeof(at));
		snprintf(buf, len, "waiting for provider %s until %s: %s",
		    str(d, "provider"), at, str(d, "reason"));
	} else if (is_event(ev, EV_DOMAIN_RESUMED))
		snprintf(buf, len, "provider answers: work goes on");
	else if (is_event(ev, EV_QUESTION_ASKED))
		snprintf(buf, len, "NEEDS INPUT: question %lld from %s: %.200s "
		    "(masterctl answer %lld TEXT)", num(d, "question"),
		    str(d, "who"), str(d, "text"), num(d, "question"));
	else if (is_event(ev, EV_QUESTION_ANSWERED))
		snprintf(buf, len, "question %lld answered: %.200s",
		    num(d, "question"), str(d, "answer"));
	else if (is_event(ev, EV_QUESTION_EXPIRED))
		snprintf(buf, len, "question %lld expired: going on with %.200s",
		    num(d, "question"), str(d, "assumption"));
	else if (is_event(ev, EV_QUESTION_DEADLINE) &&
	    json_is_null(json_object_get(d, "deadline")))
		snprintf(buf, len, "question %lld: no deadline now",
		    num(d, "question"));
	else if (is_event(ev, EV_QUESTION_DEADLINE)) {
		char at[16];

		fmt_clock(when(d, "deadline"), at, sizeof(at));
		snprintf(buf, len, "question %lld: deadline %s, then going on "
		    "with its assumption", num(d, "question"), at);
	} else if (is_event(ev, EV_APPROVAL_NEEDED))
		snprintf(buf, len, "APPROVAL NEEDED: %s %lld: %.200s "
		    "(masterctl approve|reject)", str(d, "what"),
		    num(d, "approval"), str(d, "summary"));
	else if (is_event(ev, EV_APPROVAL_GIVEN))
		snprintf(buf, len, "%s %lld approved", str(d, "what"),
		    num(d, "approval"));
	else if (is_event(ev, EV_APPROVAL_REJECTED))
		snprintf(buf, len, "%s %lld rejected: %.200s", str(d, "what"),
		    num(d, "approval"), str(d, "reason"));
	else if (is_event(ev, EV_TASK_PUSHED))
		snprintf(buf, len, "main %.7s pushed to %.200s, branch %.60s",
		    str(d, "commit"), str(d, "to"), str(d, "branch"));
	else if (is_event(ev, EV_TASK_PUSH_FAILED))
		snprintf(buf, len, "push to %.200s FAILED: %.300s",
		    str(d, "to"), str(d, "error"));
	else
		describe_event(ev, d, buf, len);
	return true;
}

/* ---------------------------------------------------------- verbose */

/* The one-line story of an event's data, for --verbose. */
void
describe_event(const char *ev, const json_t *d, char *buf, size_t len)
{
	char *raw_text;

	if (is_event(ev, EV_PROGRESS)) {
		snprintf(buf, len, "%s%s%.100s", str(d, "stage"),
		    json_is_string(json_object_get(d, "text")) ? ": " : "",
		    json_is_string(json_object_get(d, "text")) ?
		    str(d, "text") : "");
	} else if (strncmp(ev, "directive.", 10) == 0 &&
	    json_is_string(json_object_get(d, "text"))) {
		snprintf(buf, len, "#%lld from %s: %.90s", num(d, "directive"),
		    str(d, "source"), str(d, "text"));
	} else if (is_event(ev, EV_DIRECTIVE_RUNNING)) {
		snprintf(buf, len, "#%lld", num(d, "directive"));
	} else if (is_event(ev, EV_MERGED)) {
		snprintf(buf, len, "commit %.12s", str(d, "commit"));
	} else {
		raw_text = json_dumps(d, JSON_COMPACT);
		snprintf(buf, len, "%.300s", raw_text ? raw_text : "");
		free(raw_text);
	}
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
}
