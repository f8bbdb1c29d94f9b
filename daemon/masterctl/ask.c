/*
 * ask.c — a person in the loop: `questions` (what the planner and the
 * domains asked, and the plans and merges that wait for an approval),
 * `answer`, `deadline`, `approve` and `reject`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "daemon/masterctl/ctl.h"

static void
human_asks(json_t *r)
{
	static const char *const heads[] = { "ID", "TASK", "KIND", "WHO",
	    "ASKED", "DEADLINE", "TEXT", "ASSUMPTION" };
	struct table *t = table_new(8, heads, "rrllllll", 6);
	const json_t *x, *asks = json_object_get(r, "asks");
	char id[24], task[24], asked[32], deadline[32];
	const char *kind;
	size_t i;

	if (json_array_size(asks) == 0) {
		printf("nothing waits for you\n");
		table_free(t);
		return;
	}
	json_array_foreach(asks, i, x) {
		snprintf(id, sizeof(id), "%lld", num(x, "id"));
		snprintf(task, sizeof(task), "%lld", num(x, "task"));
		fmt_when(when(x, "created"), asked, sizeof(asked));
		if (json_object_get(x, "deadline") != NULL &&
		    !json_is_null(json_object_get(x, "deadline")))
			fmt_when(when(x, "deadline"), deadline,
			    sizeof(deadline));
		else
			snprintf(deadline, sizeof(deadline), "-");
		kind = str(x, "kind");
		/* An approval's "assumption" says what waits: plan, merge. */
		table_add(t, id, task, strcmp(kind, "approval") == 0 ?
		    str(x, "assumption") : kind, str(x, "who"), asked,
		    deadline, str(x, "text"), strcmp(kind, "approval") == 0 ?
		    "" : str(x, "assumption"));
	}
	table_print(t, out_width());
	table_free(t);
}

int
cmd_questions(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_t *req = request(c, CTL_QUESTIONS);

	if (with_task(req, argc == 1 ? argv[0] : o->task) != 0)
		return EXIT_USAGE;
	return call_and_print(c, req, human_asks);
}

int
cmd_answer(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_t *req = request(c, CTL_ANSWER), *r;
	json_int_t q;
	int status;

	if (parse_id(argv[0], "question", &q) != 0) {
		json_decref(req);
		return EXIT_USAGE;
	}
	json_object_set_new(req, "question", json_integer(q));
	json_object_set_new(req, "text", json_string(argv[1]));
	if ((r = call(c, req, &status)) == NULL)
		return status;
	if (c->json)
		print_json(r, false);
	else
		printf("question %lld answered\n", (long long)q);
	json_decref(r);
	return EXIT_OK;
}

/* "now" (0), "none" (null) or a duration such as 90s, 30m, 2h. */
static json_t *
deadline_seconds(const char *s)
{
	int64_t ms;

	if (strcmp(s, "now") == 0)
		return json_integer(0);
	if (strcmp(s, "none") == 0)
		return json_null();
	if (conf_parse_duration_ms(s, &ms) != 0 || ms < 0) {
		fprintf(stderr, "masterctl: deadline: \"%s\" is not a "
		    "duration (90s, 30m, 2h), now or none\n", s);
		return NULL;
	}
	return json_integer((ms + 999) / 1000);
}

static void
print_deadline(json_int_t id, const json_t *q)
{
	const json_t *dl = json_object_get(q, "deadline");
	char at[32];

	if (strcmp(str(q, "state"), "expired") == 0)
		printf("question %lld: no answer; %s goes on with its "
		    "assumption\n", (long long)id, str(q, "who"));
	else if (dl == NULL || json_is_null(dl))
		printf("question %lld: no deadline; %s waits for your "
		    "answer\n", (long long)id, str(q, "who"));
	else {
		fmt_when(when(q, "deadline"), at, sizeof(at));
		printf("question %lld: deadline %s; then %s goes on with its "
		    "assumption\n", (long long)id, at, str(q, "who"));
	}
}

int
cmd_deadline(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_t *req, *seconds, *r;
	json_int_t q;
	int status;

	(void)o; (void)argc;
	if (parse_id(argv[0], "question", &q) != 0 ||
	    (seconds = deadline_seconds(argv[1])) == NULL)
		return EXIT_USAGE;
	req = request(c, CTL_DEADLINE);
	json_object_set_new(req, "question", json_integer(q));
	json_object_set_new(req, "seconds", seconds);
	if ((r = call(c, req, &status)) == NULL)
		return status;
	if (c->json)
		print_json(r, false);
	else
		print_deadline(q, json_object_get(r, "question"));
	json_decref(r);
	return EXIT_OK;
}

/* approve TASK [ID]; reject TASK [ID] REASON. */
static int
approve_reject(struct ctl *c, enum msg_type type, int argc, char **argv)
{
	json_t *req = request(c, type), *r, *a;
	bool reject = type == CTL_REJECT;
	json_int_t id;
	int status;

	if (with_task(req, argv[0]) != 0)
		return EXIT_USAGE;
	if (argc == (reject ? 3 : 2)) {
		if (parse_id(argv[1], "approval", &id) != 0) {
			json_decref(req);
			return EXIT_USAGE;
		}
		json_object_set_new(req, "approval", json_integer(id));
	}
	if (reject && argc < 2) {
		fprintf(stderr, "masterctl: reject: a reason is needed\n");
		json_decref(req);
		return EXIT_USAGE;
	}
	if (reject)
		json_object_set_new(req, "reason",
		    json_string(argv[argc - 1]));
	if ((r = call(c, req, &status)) == NULL)
		return status;
	a = json_object_get(r, "approval");
	if (c->json)
		print_json(r, false);
	else
		printf("%s of task %s %s (approval %lld)\n",
		    str(a, "assumption"), argv[0], reject ? "rejected" :
		    "approved", num(a, "id"));
	json_decref(r);
	return EXIT_OK;
}

int
cmd_approve(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	return approve_reject(c, CTL_APPROVE, argc, argv);
}

int
cmd_reject(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	return approve_reject(c, CTL_REJECT, argc, argv);
}
