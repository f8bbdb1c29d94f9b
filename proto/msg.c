/*
 * msg.c — the message catalogue as a table, and validation against it.
 *
 * One row per message type.  Dispatchers switch on enum msg_type after
 * msg_validate() has vouched for the fields, so handlers can read them
 * without re-checking types.
 */
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "proto/msg.h"

#define F(n, t)		{ .name = (n), .types = (t), .required = true }
#define OPT(n, t)	{ .name = (n), .types = (t) }
#define END		{ .name = NULL }

static const struct shape_field f_none[] = { END };

static const struct shape_field f_hello[] = {
	F("version", FT_INTEGER),
	F("role", FT_STRING),		/* "master" or "child" */
	OPT("domain", FT_STRING),
	OPT("task", FT_INTEGER),
	OPT("pid", FT_INTEGER),
	OPT("software", FT_STRING),
	OPT("max_frame", FT_INTEGER),	/* master -> child: its frame limit */
	OPT("ping_timeout", FT_INTEGER),	/* master -> child: ms */
	OPT("attach", FT_BOOL),		/* takes frames with attachments */
	END
};
static const struct shape_field f_ready[] = {
	OPT("domain", FT_STRING),
	END
};
static const struct shape_field f_pong[] = {
	F("re", FT_INTEGER),
	OPT("busy", FT_BOOL),
	END
};
static const struct shape_field f_shutdown[] = {
	OPT("reason", FT_STRING),
	OPT("grace_ms", FT_INTEGER),
	END
};
static const struct shape_field f_cancel[] = {
	OPT("task", FT_INTEGER),
	OPT("directive", FT_INTEGER),
	END
};
static const struct shape_field f_task_assign[] = {
	F("task", FT_INTEGER),
	F("text", FT_STRING),
	F("domain", FT_STRING),
	OPT("prompt", FT_STRING),
	OPT("peers", FT_ARRAY),
	OPT("checks", FT_ARRAY),
	OPT("budget", FT_OBJECT),
	OPT("directives", FT_ARRAY),
	OPT("role", FT_STRING),
	OPT("folder", FT_STRING),	/* the domain's folder; absent: name */
	END
};
static const struct shape_field f_directive[] = {
	F("task", FT_INTEGER),
	F("directive", FT_INTEGER),
	F("text", FT_STRING),
	OPT("source", FT_STRING),
	OPT("priority", FT_INTEGER),
	OPT("probe", FT_STRING),	/* the endpoint this work may probe */
	END
};
static const struct shape_field f_peers[] = {
	F("task", FT_INTEGER),
	F("peers", FT_ARRAY),
	OPT("update", FT_BOOL),	/* only the changed ones (msg_peers_merge) */
	END
};
static const struct shape_field f_publish[] = {
	F("task", FT_INTEGER),
	F("interface", FT_OBJECT),
	/* true: what the domain says it will provide and consume, sent
	 * before its code passes its checks; absent or false: what its
	 * accepted commit implements */
	OPT("declared", FT_BOOL),
	END
};
static const struct shape_field f_progress[] = {
	F("stage", FT_STRING),
	OPT("task", FT_INTEGER),
	OPT("directive", FT_INTEGER),
	OPT("round", FT_INTEGER),
	OPT("text", FT_STRING),
	OPT("usage", FT_OBJECT),
	END
};
static const struct shape_field f_round[] = {
	F("task", FT_INTEGER),
	F("directive", FT_INTEGER),
	F("round", FT_INTEGER),
	F("ok", FT_BOOL),
	F("stage", FT_STRING),
	OPT("duration_ms", FT_INTEGER),
	OPT("usage", FT_OBJECT),
	OPT("checks", FT_ARRAY),
	OPT("commit", FT_STRING),
	OPT("summary", FT_STRING),
	OPT("error", FT_OBJECT),
	OPT("final", FT_BOOL),
	OPT("model", FT_STRING),	/* the domain's model, as it answered */
	OPT("critic_model", FT_STRING),	/* the critic's */
	OPT("provider", FT_STRING),	/* the provider that answered: "llm"
					 * or an [llm "NAME"] fallback */
	OPT("questions", FT_ARRAY),	/* a final round's: the model asked
					 * the user ({"text","assumption"}) */
	END
};
static const struct shape_field f_plan_request[] = {
	F("task", FT_INTEGER),
	F("kind", FT_STRING),		/* "plan" or "review" */
	F("context", FT_OBJECT),
	OPT("probe", FT_STRING),	/* as a directive's */
	END
};
static const struct shape_field f_plan_result[] = {
	F("task", FT_INTEGER),
	F("kind", FT_STRING),
	F("ok", FT_BOOL),
	OPT("plan", FT_OBJECT),
	OPT("usage", FT_OBJECT),
	OPT("error", FT_OBJECT),
	OPT("model", FT_STRING),	/* the planner's model */
	OPT("provider", FT_STRING),	/* as a round's */
	END
};
/* One command of an integration run: an integration check, or a consumer's
 * contract test of what it consumes from a provider. */
static const struct shape_field f_integrate_check[] = {
	F("command", FT_STRING),
	F("kind", FT_STRING),		/* "check" or "contract" */
	OPT("consumer", FT_STRING),	/* contract: whose test */
	OPT("provider", FT_STRING),	/* contract: the domain tested */
	OPT("entry", FT_STRING),	/* contract: "KIND NAME" consumed */
	END
};
static const struct shape_field integrate_check = {
	.types = FT_OBJECT, .members = f_integrate_check
};
static const struct shape_field f_integrate_request[] = {
	F("task", FT_INTEGER),
	F("run", FT_INTEGER),		/* the registry's id of the run */
	F("commit", FT_STRING),		/* the commit of main to test */
	{ .name = "checks", .types = FT_ARRAY, .required = true,
	  .max_items = 200, .items = &integrate_check },
	END
};
static const struct shape_field f_integrate_result[] = {
	F("task", FT_INTEGER),
	F("run", FT_INTEGER),
	F("commit", FT_STRING),
	F("ok", FT_BOOL),		/* every command passed */
	OPT("results", FT_ARRAY),	/* per command, in the request's order */
	OPT("duration_ms", FT_INTEGER),
	OPT("error", FT_OBJECT),	/* the run itself could not happen */
	END
};
/* What masterd's circuit breakers hold down, for every child. */
static const struct shape_field f_providers[] = {
	F("down", FT_ARRAY),	/* {"endpoint","name","since","next_try",
				 *  "reason"} per provider down */
	END
};
/* A child's word on a provider: a call failed past its retries (ok
 * false), or one succeeded after the provider was said to be down. */
static const struct shape_field f_provider_report[] = {
	F("endpoint", FT_STRING),
	F("ok", FT_BOOL),
	OPT("name", FT_STRING),
	OPT("message", FT_STRING),
	OPT("until", FT_INTEGER),	/* the provider asked to wait till */
	OPT("probe", FT_BOOL),		/* the attempt was the granted probe */
	OPT("model", FT_STRING),
	END
};
static const struct shape_field f_error[] = {
	F("code", FT_STRING),
	F("message", FT_STRING),
	OPT("re", FT_INTEGER),
	END
};

static const struct shape_field f_submit[] = {
	F("text", FT_STRING),
	OPT("domains", FT_ARRAY),
	OPT("directives", FT_ARRAY),
	OPT("budget", FT_OBJECT),	/* tokens, cost, rounds, time (s) */
	OPT("import", FT_OBJECT),	/* {token, origin, branch, commit} */
	OPT("folders", FT_OBJECT),	/* {"domain": "its folder"} */
	END
};
static const struct shape_field f_task_opt[] = {
	OPT("task", FT_INTEGER),
	END
};
static const struct shape_field f_task_req[] = {
	F("task", FT_INTEGER),
	END
};
static const struct shape_field f_task[] = {
	F("task", FT_INTEGER),
	OPT("rounds", FT_INTEGER),	/* the newest N rounds; 0: all */
	END
};
static const struct shape_field f_watch[] = {
	OPT("task", FT_INTEGER),
	OPT("tail", FT_INTEGER),	/* replay the newest N stored events */
	OPT("since", FT_STRING | FT_NUMBER),	/* replay from this time */
	END
};
static const struct shape_field f_interface[] = {
	F("domain", FT_STRING),
	OPT("task", FT_INTEGER),
	OPT("version", FT_INTEGER),
	OPT("diff", FT_ARRAY),		/* [A, B]: what changed from A to B */
	END
};
static const struct shape_field f_backup[] = {
	OPT("offset", FT_INTEGER),	/* absent: take a new copy */
	OPT("done", FT_BOOL),		/* true: the copy may go */
	END
};
static const struct shape_field f_pack[] = {
	OPT("task", FT_INTEGER),	/* with have: pack its main */
	OPT("have", FT_ARRAY),		/* commits the receiver holds */
	OPT("offset", FT_INTEGER),	/* a chunk of the pack */
	OPT("done", FT_BOOL),		/* true: the pack may go */
	END
};
static const struct shape_field f_import[] = {
	F("offset", FT_INTEGER),	/* where this chunk goes; 0: anew */
	F("data", FT_STRING),		/* the chunk, base64 */
	END
};
/* A person in the loop: questions and approvals (task_ask.c). */
static const struct shape_field f_answer[] = {
	F("question", FT_INTEGER),
	F("text", FT_STRING),
	END
};
static const struct shape_field f_deadline[] = {
	F("question", FT_INTEGER),
	F("seconds", FT_INTEGER | FT_NULL),	/* from now; null: none */
	END
};
static const struct shape_field f_approve[] = {
	F("task", FT_INTEGER),
	OPT("approval", FT_INTEGER),	/* absent: the task's oldest open */
	OPT("reason", FT_STRING),	/* reject's: back to the asker */
	END
};
static const struct shape_field f_prune[] = {
	OPT("finished_days", FT_INTEGER),	/* also done/failed tasks */
	END
};
static const struct shape_field f_budget[] = {
	F("task", FT_INTEGER),
	F("budget", FT_OBJECT),
	END
};
static const struct shape_field f_ctl_directive[] = {
	F("domain", FT_STRING),
	F("text", FT_STRING),
	OPT("task", FT_INTEGER),
	OPT("priority", FT_INTEGER),
	END
};
static const struct shape_field f_spawn[] = {
	F("task", FT_INTEGER),
	F("domain", FT_STRING),
	OPT("prompt", FT_STRING),
	END
};
static const struct shape_field f_restart[] = {
	F("domain", FT_STRING),
	OPT("task", FT_INTEGER),
	END
};
static const struct shape_field f_transcript[] = {
	F("domain", FT_STRING),
	OPT("task", FT_INTEGER),
	OPT("last", FT_INTEGER),
	OPT("offset", FT_INTEGER),	/* paged: the text from this byte */
	END
};
static const struct shape_field f_event[] = {
	F("event", FT_STRING),
	F("ts", FT_STRING),		/* ISO 8601, UTC, milliseconds */
	OPT("seq", FT_INTEGER),
	OPT("task", FT_INTEGER),
	OPT("domain", FT_STRING),
	OPT("data", FT_OBJECT),
	END
};

#define M PEER_MASTER
#define C PEER_CHILD
#define U PEER_CLIENT

static const struct msg_spec catalogue[MSG_TYPE_COUNT] = {
	[MSG_HELLO] = { MSG_HELLO, CHAN_CHILD, "hello", M | C, f_hello,
	    "protocol handshake; first message each way" },
	[MSG_READY] = { MSG_READY, CHAN_CHILD, "ready", C, f_ready,
	    "child finished starting and takes work" },
	[MSG_PING] = { MSG_PING, CHAN_CHILD, "ping", M, f_none,
	    "liveness probe; answered by pong" },
	[MSG_PONG] = { MSG_PONG, CHAN_CHILD, "pong", C, f_pong,
	    "answer to ping" },
	[MSG_SHUTDOWN] = { MSG_SHUTDOWN, CHAN_CHILD, "shutdown", M,
	    f_shutdown, "finish or abandon the current step and exit" },
	[MSG_CANCEL] = { MSG_CANCEL, CHAN_CHILD, "cancel", M, f_cancel,
	    "abandon the current round" },
	[MSG_TASK_ASSIGN] = { MSG_TASK_ASSIGN, CHAN_CHILD, "task.assign", M,
	    f_task_assign, "the domain's task, prompt, peers and checks" },
	[MSG_DIRECTIVE] = { MSG_DIRECTIVE, CHAN_CHILD, "directive", M,
	    f_directive, "one unit of work for the domain" },
	[MSG_INTERFACE_PEERS] = { MSG_INTERFACE_PEERS, CHAN_CHILD,
	    "interface.peers", M, f_peers,
	    "the latest interfaces of the other domains" },
	[MSG_INTERFACE_PUBLISH] = { MSG_INTERFACE_PUBLISH, CHAN_CHILD,
	    "interface.publish", C, f_publish,
	    "a new version of the domain's interface" },
	[MSG_PROGRESS] = { MSG_PROGRESS, CHAN_CHILD, "progress", C,
	    f_progress, "what the child is doing now" },
	[MSG_ROUND] = { MSG_ROUND, CHAN_CHILD, "round", C, f_round,
	    "one round of a directive: checks, usage, commit or error; the "
	    "final one ends the directive" },
	[MSG_PLAN_REQUEST] = { MSG_PLAN_REQUEST, CHAN_CHILD, "plan.request",
	    M, f_plan_request, "ask the planner for a plan or a review" },
	[MSG_PLAN_RESULT] = { MSG_PLAN_RESULT, CHAN_CHILD, "plan.result", C,
	    f_plan_result, "the planner's plan or review" },
	[MSG_INTEGRATE_REQUEST] = { MSG_INTEGRATE_REQUEST, CHAN_CHILD,
	    "integrate.request", M, f_integrate_request,
	    "run the integration checks and contract tests on a commit of "
	    "main" },
	[MSG_INTEGRATE_RESULT] = { MSG_INTEGRATE_RESULT, CHAN_CHILD,
	    "integrate.result", C, f_integrate_result,
	    "the outcome of each command of an integration run" },
	[MSG_PROVIDERS] = { MSG_PROVIDERS, CHAN_CHILD, "providers", M,
	    f_providers, "the providers masterd holds down, and till when" },
	[MSG_PROVIDER_REPORT] = { MSG_PROVIDER_REPORT, CHAN_CHILD,
	    "provider.report", C, f_provider_report,
	    "a provider failed past its retries, or answered again" },
	[MSG_ERROR] = { MSG_ERROR, CHAN_CHILD, "error", M | C, f_error,
	    "a refused message or a failure" },

	[CTL_SUBMIT] = { CTL_SUBMIT, CHAN_CONTROL, "submit", U, f_submit,
	    "create a task" },
	[CTL_STATUS] = { CTL_STATUS, CHAN_CONTROL, "status", U, f_none,
	    "daemon and domain summary" },
	[CTL_TASKS] = { CTL_TASKS, CHAN_CONTROL, "tasks", U, f_none,
	    "list tasks" },
	[CTL_TASK] = { CTL_TASK, CHAN_CONTROL, "task", U, f_task,
	    "one task in detail" },
	[CTL_DOMAINS] = { CTL_DOMAINS, CHAN_CONTROL, "domains", U,
	    f_task_opt, "list domains and their children" },
	[CTL_INTERFACE] = { CTL_INTERFACE, CHAN_CONTROL, "interface", U,
	    f_interface, "one domain's interface, latest or a version" },
	[CTL_INTERFACES] = { CTL_INTERFACES, CHAN_CONTROL, "interfaces", U,
	    f_task_opt, "every domain's latest interface" },
	[CTL_DIRECTIVE] = { CTL_DIRECTIVE, CHAN_CONTROL, "directive", U,
	    f_ctl_directive, "queue a user directive for a domain" },
	[CTL_SPAWN] = { CTL_SPAWN, CHAN_CONTROL, "spawn", U, f_spawn,
	    "add a domain to a running task" },
	[CTL_RESTART] = { CTL_RESTART, CHAN_CONTROL, "restart", U, f_restart,
	    "restart a domain's child, clearing a failed state" },
	[CTL_PAUSE] = { CTL_PAUSE, CHAN_CONTROL, "pause", U, f_task_opt,
	    "stop new work, for one task or all" },
	[CTL_RESUME] = { CTL_RESUME, CHAN_CONTROL, "resume", U, f_task_opt,
	    "continue after pause" },
	[CTL_CANCEL] = { CTL_CANCEL, CHAN_CONTROL, "cancel", U, f_task_req,
	    "end a task" },
	[CTL_WATCH] = { CTL_WATCH, CHAN_CONTROL, "watch", U, f_watch,
	    "stream events" },
	[CTL_STOP] = { CTL_STOP, CHAN_CONTROL, "stop", U, f_none,
	    "stop the daemon gracefully" },
	[CTL_TRANSCRIPT] = { CTL_TRANSCRIPT, CHAN_CONTROL, "transcript", U,
	    f_transcript, "a domain's conversation with its model" },
	[CTL_BUDGET] = { CTL_BUDGET, CHAN_CONTROL, "budget", U, f_budget,
	    "change a task's limits; a task stopped by one goes on" },
	[CTL_BACKUP] = { CTL_BACKUP, CHAN_CONTROL, "backup", U, f_backup,
	    "a consistent copy of the registry, fetched in chunks" },
	[CTL_PRUNE] = { CTL_PRUNE, CHAN_CONTROL, "prune", U, f_prune,
	    "remove what the retention policy lets go" },
	[CTL_METRICS] = { CTL_METRICS, CHAN_CONTROL, "metrics", U, f_none,
	    "the daemon's metrics in the Prometheus text format" },
	[CTL_RELOAD] = { CTL_RELOAD, CHAN_CONTROL, "reload", U, f_none,
	    "re-read the configuration, as SIGHUP does" },
	[CTL_PACK] = { CTL_PACK, CHAN_CONTROL, "pack", U, f_pack,
	    "a task's main as a git pack, fetched in chunks" },
	[CTL_IMPORT] = { CTL_IMPORT, CHAN_CONTROL, "import", U, f_import,
	    "a repository's history as a git pack, sent up in chunks" },
	[CTL_QUESTIONS] = { CTL_QUESTIONS, CHAN_CONTROL, "questions", U,
	    f_task_opt, "the open questions and approvals, of a task or all" },
	[CTL_ANSWER] = { CTL_ANSWER, CHAN_CONTROL, "answer", U, f_answer,
	    "answer a question the planner or a domain asked" },
	[CTL_DEADLINE] = { CTL_DEADLINE, CHAN_CONTROL, "deadline", U,
	    f_deadline, "set, move or lift the deadline of an open question" },
	[CTL_APPROVE] = { CTL_APPROVE, CHAN_CONTROL, "approve", U, f_approve,
	    "let a plan or a merge into main that waits go on" },
	[CTL_REJECT] = { CTL_REJECT, CHAN_CONTROL, "reject", U, f_approve,
	    "refuse a plan or a merge that waits, with a reason" },
	[CTL_EVENT] = { CTL_EVENT, CHAN_CONTROL, "event", M, f_event,
	    "one event on a watch stream" },
};

#undef M
#undef C
#undef U

const struct msg_spec *
msg_spec(enum msg_type t)
{
	if (t <= MSG_NONE || t >= MSG_TYPE_COUNT)
		return NULL;
	return &catalogue[t];
}

const struct msg_spec *
msg_find(enum msg_chan chan, const char *name)
{
	for (int t = MSG_NONE + 1; t < MSG_TYPE_COUNT; t++) {
		if (catalogue[t].chan == chan &&
		    strcmp(catalogue[t].name, name) == 0)
			return &catalogue[t];
	}
	return NULL;
}

const char *
msg_name(enum msg_type t)
{
	const struct msg_spec *s = msg_spec(t);

	return s ? s->name : "?";
}

const char *
msg_peer_name(unsigned peer)
{
	switch (peer) {
	case PEER_MASTER:	return "master";
	case PEER_CHILD:	return "child";
	case PEER_CLIENT:	return "client";
	}
	return "?";
}

int
msg_validate(const json_t *msg, enum msg_chan chan, unsigned from,
    const struct msg_spec **spec, char *err, size_t errlen)
{
	const json_t *type, *id;
	const struct msg_spec *s;
	char why[256];

	if (spec != NULL)
		*spec = NULL;
	if (!json_is_object(msg))
		return shape_error(err, errlen, "message is not an object");
	type = json_object_get(msg, "type");
	if (!json_is_string(type))
		return shape_error(err, errlen,
		    "missing string field \"type\"");
	s = msg_find(chan, json_string_value(type));
	if (s == NULL)
		return shape_error(err, errlen, "unknown message type \"%.*s\"",
		    (int)utf8_prefix(json_string_value(type), 64),
		    json_string_value(type));
	if (!(s->from & from))
		return shape_error(err, errlen, "%s may not be sent by a %s",
		    s->name, msg_peer_name(from));
	id = json_object_get(msg, "id");
	if (!json_is_integer(id) || json_integer_value(id) < 0)
		return shape_error(err, errlen,
		    "%s: \"id\" must be a non-negative integer", s->name);
	if (shape_check(msg, &(struct shape_field){ .types = FT_OBJECT,
	    .members = s->fields }, why, sizeof(why)) != 0)
		return shape_error(err, errlen, "%s: %s", s->name, why);
	if (spec != NULL)
		*spec = s;
	return 0;
}

json_t *
msg_new(enum msg_type t, json_int_t id)
{
	const struct msg_spec *s = msg_spec(t);

	if (s == NULL)
		return NULL;
	return json_pack("{s:s, s:I}", "type", s->name, "id", id);
}

json_t *
msg_reply_ok(json_int_t re)
{
	return json_pack("{s:I, s:b}", "re", re, "ok", 1);
}

json_t *
msg_reply_verror(json_int_t re, const char *code, const char *fmt,
    va_list ap)
{
	char text[512];
	int n;

	/* Never leave a request unanswered for want of valid UTF-8. */
	if ((n = vsnprintf(text, sizeof(text), fmt, ap)) < 0)
		text[0] = '\0';
	else if ((size_t)n >= sizeof(text))
		utf8_cut(text);
	utf8_scrub(text, strlen(text));
	return json_pack("{s:I, s:b, s:{s:s, s:s}}", "re", re, "ok", 0,
	    "error", "code", code, "message", text);
}

json_t *
msg_reply_error(json_int_t re, const char *code, const char *fmt, ...)
{
	va_list ap;
	json_t *r;

	va_start(ap, fmt);
	r = msg_reply_verror(re, code, fmt, ap);
	va_end(ap);
	return r;
}

json_int_t
msg_id(const json_t *msg)
{
	const json_t *id = json_object_get(msg, "id");

	if (!json_is_integer(id) || json_integer_value(id) < 0)
		return -1;
	return json_integer_value(id);
}

void
msg_peers_merge(json_t *peers, const json_t *update)
{
	const json_t *u;
	size_t i, j;

	json_array_foreach(update, i, u) {
		const char *name = json_string_value(json_object_get(u,
		    "domain"));
		int cmp = 1;

		if (name == NULL)
			continue;
		for (j = 0; j < json_array_size(peers); j++) {
			const char *have = json_string_value(json_object_get(
			    json_array_get(peers, j), "domain"));

			if (have != NULL && (cmp = strcmp(have, name)) >= 0)
				break;
		}
		if (cmp == 0)
			json_array_set(peers, j, (json_t *)u);
		else
			json_array_insert(peers, j, (json_t *)u);
	}
}
