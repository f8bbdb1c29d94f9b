/*
 * test_msg.c — the message catalogue and msg_validate (proto/msg.c).
 *
 * A well-formed message of every catalogue entry passes; unknown types,
 * wrong senders, bad ids, missing fields and wrongly typed fields are
 * refused with a reason; "directive" means different things on the two
 * channels; the reply helpers have the documented shapes; the catalogue
 * itself is consistent (unique (chan, name), fields listed, lookups agree).
 */
#include "testutil.h"

#include "proto/msg.h"

static json_t *
load(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);

	if (v == NULL)
		fail_msg("test JSON does not parse: %s: %s", text, e.text);
	return v;
}

/* Validate a message given as text; returns 0/-1, err and spec filled. */
static int
check(const char *text, enum msg_chan chan, unsigned from,
    const struct msg_spec **spec, char *err, size_t errlen)
{
	json_t *m = load(text);
	int rc;

	err[0] = '\0';
	rc = msg_validate(m, chan, from, spec, err, errlen);
	json_decref(m);
	return rc;
}

static void
expect_ok(const char *text, enum msg_chan chan, unsigned from,
    enum msg_type type)
{
	const struct msg_spec *s = NULL;
	char err[256];

	if (check(text, chan, from, &s, err, sizeof(err)) != 0)
		fail_msg("refused %s: %s", text, err);
	assert_non_null(s);
	assert_int_equal(s->type, type);
	assert_ptr_equal(s, msg_spec(type));
}

/* Refused, with a reason that contains `why`. */
static void
expect_refused(const char *text, enum msg_chan chan, unsigned from,
    const char *why)
{
	const struct msg_spec *s = (const struct msg_spec *)&s;
	char err[256];

	if (check(text, chan, from, &s, err, sizeof(err)) != -1)
		fail_msg("accepted %s", text);
	assert_null(s);
	if (strstr(err, why) == NULL)
		fail_msg("reason for %s is \"%s\", wanted \"%s\"", text, err,
		    why);
}

/* A value of the first type a field allows. */
static json_t *
sample_value(unsigned types)
{
	if (types & FT_STRING)
		return json_string("x");
	if (types & FT_INTEGER)
		return json_integer(3);
	if (types & FT_REAL)
		return json_real(1.5);
	if (types & FT_BOOL)
		return json_true();
	if (types & FT_OBJECT)
		return json_object();
	if (types & FT_ARRAY)
		return json_array();
	return json_null();
}

/* A value of none of the types a field allows, or NULL when all are. */
static json_t *
wrong_value(unsigned types)
{
	if (!(types & FT_STRING))
		return json_string("wrong");
	if (!(types & FT_INTEGER))
		return json_integer(1);
	if (!(types & FT_OBJECT))
		return json_object();
	if (!(types & FT_ARRAY))
		return json_array();
	return NULL;
}

/* The lowest peer bit allowed to send s. */
static unsigned
a_sender(const struct msg_spec *s)
{
	return s->from & -s->from;
}

/* {"type":..., "id":..., every required field}. */
static json_t *
minimal(const struct msg_spec *s)
{
	json_t *m = msg_new(s->type, 11);

	assert_non_null(m);
	for (const struct shape_field *f = s->fields; f->name != NULL; f++) {
		if (f->required)
			json_object_set_new(m, f->name, sample_value(f->types));
	}
	return m;
}

/* ------------------------------------------------------------ catalogue */

static void
test_catalogue_consistent(void **state)
{
	for (int t = MSG_NONE + 1; t < MSG_TYPE_COUNT; t++) {
		const struct msg_spec *s = msg_spec((enum msg_type)t);

		assert_non_null(s);
		assert_int_equal(s->type, t);
		assert_non_null(s->name);
		assert_true(s->name[0] != '\0');
		assert_non_null(s->fields);
		assert_non_null(s->summary);
		assert_true(s->from != 0);
		assert_true((s->from & ~(unsigned)(PEER_MASTER | PEER_CHILD |
		    PEER_CLIENT)) == 0);
		assert_true(s->chan == CHAN_CHILD || s->chan == CHAN_CONTROL);
		/* Clients only ever talk on the control channel. */
		if (s->chan == CHAN_CHILD)
			assert_false(s->from & PEER_CLIENT);
		else
			assert_false(s->from & PEER_CHILD);
		assert_string_equal(msg_name((enum msg_type)t), s->name);
		assert_ptr_equal(msg_find(s->chan, s->name), s);

		/* Unique (chan, name). */
		for (int u = t + 1; u < MSG_TYPE_COUNT; u++) {
			const struct msg_spec *o = msg_spec((enum msg_type)u);

			if (o->chan == s->chan && strcmp(o->name, s->name) == 0)
				fail_msg("%s listed twice", s->name);
		}
		/* Fields: named, typed, unique, never "type" or "id". */
		for (const struct shape_field *f = s->fields; f->name != NULL;
		    f++) {
			assert_true(f->types != 0);
			assert_true((f->types & ~(unsigned)FT_ANY) == 0);
			assert_string_not_equal(f->name, "type");
			assert_string_not_equal(f->name, "id");
			for (const struct shape_field *g = f + 1;
			    g->name != NULL; g++)
				assert_string_not_equal(f->name, g->name);
		}
	}
	assert_null(msg_spec(MSG_NONE));
	assert_null(msg_spec(MSG_TYPE_COUNT));
	assert_null(msg_spec((enum msg_type)-1));
	assert_string_equal(msg_name(MSG_NONE), "?");
	assert_null(msg_find(CHAN_CHILD, "no.such.type"));
	assert_null(msg_find(CHAN_CONTROL, ""));
}

static void
test_catalogue_names(void **state)
{
	/* The wire names the design document promises. */
	static const struct { enum msg_chan chan; const char *name;
	    enum msg_type type; } names[] = {
		{ CHAN_CHILD, "hello", MSG_HELLO },
		{ CHAN_CHILD, "task.assign", MSG_TASK_ASSIGN },
		{ CHAN_CHILD, "interface.publish", MSG_INTERFACE_PUBLISH },
		{ CHAN_CHILD, "interface.peers", MSG_INTERFACE_PEERS },
		{ CHAN_CHILD, "directive", MSG_DIRECTIVE },
		{ CHAN_CHILD, "progress", MSG_PROGRESS },
		{ CHAN_CHILD, "round", MSG_ROUND },
		{ CHAN_CHILD, "error", MSG_ERROR },
		{ CHAN_CHILD, "ping", MSG_PING },
		{ CHAN_CHILD, "pong", MSG_PONG },
		{ CHAN_CHILD, "shutdown", MSG_SHUTDOWN },
		{ CHAN_CONTROL, "submit", CTL_SUBMIT },
		{ CHAN_CONTROL, "status", CTL_STATUS },
		{ CHAN_CONTROL, "tasks", CTL_TASKS },
		{ CHAN_CONTROL, "domains", CTL_DOMAINS },
		{ CHAN_CONTROL, "interface", CTL_INTERFACE },
		{ CHAN_CONTROL, "interfaces", CTL_INTERFACES },
		{ CHAN_CONTROL, "directive", CTL_DIRECTIVE },
		{ CHAN_CONTROL, "pause", CTL_PAUSE },
		{ CHAN_CONTROL, "resume", CTL_RESUME },
		{ CHAN_CONTROL, "watch", CTL_WATCH },
		{ CHAN_CONTROL, "stop", CTL_STOP },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct msg_spec *s = msg_find(names[i].chan,
		    names[i].name);

		if (s == NULL)
			fail_msg("\"%s\" missing", names[i].name);
		assert_int_equal(s->type, names[i].type);
	}
	assert_string_equal(msg_peer_name(PEER_MASTER), "master");
	assert_string_equal(msg_peer_name(PEER_CHILD), "child");
	assert_string_equal(msg_peer_name(PEER_CLIENT), "client");
	assert_string_equal(msg_peer_name(PEER_MASTER | PEER_CHILD), "?");
}

/* ------------------------------------------------------------ validate */

static void
test_every_type_minimal_ok(void **state)
{
	char err[256];

	for (int t = MSG_NONE + 1; t < MSG_TYPE_COUNT; t++) {
		const struct msg_spec *s = msg_spec((enum msg_type)t), *got;
		json_t *m = minimal(s);

		if (msg_validate(m, s->chan, a_sender(s), &got, err,
		    sizeof(err)) != 0)
			fail_msg("minimal %s refused: %s", s->name, err);
		assert_ptr_equal(got, s);

		/* Every optional field too, and an unknown extra field. */
		for (const struct shape_field *f = s->fields; f->name != NULL;
		    f++)
			json_object_set_new(m, f->name, sample_value(f->types));
		json_object_set_new(m, "x-future-field", json_string("ok"));
		if (msg_validate(m, s->chan, a_sender(s), NULL, err,
		    sizeof(err)) != 0)
			fail_msg("full %s refused: %s", s->name, err);
		json_decref(m);
	}
}

static void
test_good_messages(void **state)
{
	expect_ok("{\"type\":\"hello\",\"id\":0,\"version\":1,\"role\":"
	    "\"master\"}", CHAN_CHILD, PEER_MASTER, MSG_HELLO);
	expect_ok("{\"type\":\"hello\",\"id\":1,\"version\":1,\"role\":"
	    "\"child\",\"domain\":\"web\",\"pid\":123}", CHAN_CHILD,
	    PEER_CHILD, MSG_HELLO);
	expect_ok("{\"type\":\"ping\",\"id\":5}", CHAN_CHILD, PEER_MASTER,
	    MSG_PING);
	expect_ok("{\"type\":\"pong\",\"id\":6,\"re\":5,\"busy\":false}",
	    CHAN_CHILD, PEER_CHILD, MSG_PONG);
	expect_ok("{\"type\":\"task.assign\",\"id\":2,\"task\":9,\"text\":"
	    "\"build it\",\"domain\":\"web\",\"peers\":[],\"budget\":{}}",
	    CHAN_CHILD, PEER_MASTER, MSG_TASK_ASSIGN);
	expect_ok("{\"type\":\"round\",\"id\":3,\"task\":9,\"directive\":4,"
	    "\"round\":0,\"ok\":true,\"stage\":\"commit\",\"final\":true}",
	    CHAN_CHILD, PEER_CHILD, MSG_ROUND);
	expect_ok("{\"type\":\"round\",\"id\":3,\"task\":9,\"directive\":4,"
	    "\"round\":2,\"ok\":false,\"stage\":\"checks\",\"final\":true,"
	    "\"error\":{\"code\":\"checks\",\"message\":\"failed\"}}",
	    CHAN_CHILD, PEER_CHILD, MSG_ROUND);
	/* Which models answered: optional. */
	expect_ok("{\"type\":\"round\",\"id\":3,\"task\":9,\"directive\":4,"
	    "\"round\":1,\"ok\":true,\"stage\":\"commit\",\"model\":"
	    "\"gpt-4.1\",\"critic_model\":\"gpt-4.1-mini\"}", CHAN_CHILD,
	    PEER_CHILD, MSG_ROUND);
	expect_ok("{\"type\":\"plan.result\",\"id\":3,\"task\":9,\"kind\":"
	    "\"plan\",\"ok\":true,\"plan\":{},\"model\":\"o3\"}", CHAN_CHILD,
	    PEER_CHILD, MSG_PLAN_RESULT);
	expect_ok("{\"type\":\"error\",\"id\":4,\"code\":\"bad_frame\","
	    "\"message\":\"no\"}", CHAN_CHILD, PEER_CHILD, MSG_ERROR);
	expect_ok("{\"type\":\"submit\",\"id\":1,\"text\":\"make a site\","
	    "\"domains\":[\"web\",\"api\"]}", CHAN_CONTROL, PEER_CLIENT,
	    CTL_SUBMIT);
	expect_ok("{\"type\":\"status\",\"id\":2}", CHAN_CONTROL, PEER_CLIENT,
	    CTL_STATUS);
	/* "ts" is an ISO 8601 time (docs/protocol.md, names and times). */
	expect_ok("{\"type\":\"event\",\"id\":3,\"event\":\"x\",\"ts\":"
	    "\"2026-12-03T06:20:00.123Z\"}", CHAN_CONTROL, PEER_MASTER,
	    CTL_EVENT);
	expect_ok("{\"type\":\"reload\",\"id\":4}", CHAN_CONTROL, PEER_CLIENT,
	    CTL_RELOAD);
	/* Ids are non-negative: 0 and the largest are fine. */
	expect_ok("{\"type\":\"stop\",\"id\":9223372036854775807}",
	    CHAN_CONTROL, PEER_CLIENT, CTL_STOP);
}

static void
test_unknown_type(void **state)
{
	expect_refused("{\"type\":\"bogus\",\"id\":1}", CHAN_CHILD,
	    PEER_MASTER, "unknown message type \"bogus\"");
	expect_refused("{\"type\":\"bogus\",\"id\":1}", CHAN_CONTROL,
	    PEER_CLIENT, "unknown message type");
	/* Known on the other channel only. */
	expect_refused("{\"type\":\"submit\",\"id\":1,\"text\":\"t\"}",
	    CHAN_CHILD, PEER_MASTER, "unknown message type \"submit\"");
	expect_refused("{\"type\":\"task.assign\",\"id\":1,\"task\":1,"
	    "\"text\":\"t\",\"domain\":\"d\"}", CHAN_CONTROL, PEER_CLIENT,
	    "unknown message type");
	/* Folded into the final round. */
	expect_refused("{\"type\":\"result\",\"id\":1,\"task\":1,"
	    "\"ok\":true}", CHAN_CHILD, PEER_CHILD, "unknown message type");
	expect_refused("{\"type\":\"HELLO\",\"id\":1}", CHAN_CHILD,
	    PEER_MASTER, "unknown message type");
	expect_refused("{\"type\":\"\",\"id\":1}", CHAN_CHILD, PEER_MASTER,
	    "unknown message type");
	/* "type" absent or not a string. */
	expect_refused("{\"id\":1}", CHAN_CHILD, PEER_MASTER, "\"type\"");
	expect_refused("{\"type\":7,\"id\":1}", CHAN_CHILD, PEER_MASTER,
	    "\"type\"");
	expect_refused("{\"type\":null,\"id\":1}", CHAN_CONTROL, PEER_CLIENT,
	    "\"type\"");
}

static void
test_unknown_type_long_name(void **state)
{
	char text[2200], err[128];
	json_t *m;

	/* A huge name is cut in the reason, which fits its buffer. */
	memset(text, 'z', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	m = json_pack("{s:s, s:i}", "type", text, "id", 1);
	assert_int_equal(msg_validate(m, CHAN_CHILD, PEER_MASTER, NULL, err,
	    sizeof(err)), -1);
	assert_true(strlen(err) < sizeof(err));
	assert_non_null(strstr(err, "unknown message type"));
	/* And a NULL or empty err buffer is allowed. */
	assert_int_equal(msg_validate(m, CHAN_CHILD, PEER_MASTER, NULL, NULL,
	    0), -1);
	err[0] = 'k';
	assert_int_equal(msg_validate(m, CHAN_CHILD, PEER_MASTER, NULL, err,
	    0), -1);
	assert_int_equal(err[0], 'k');
	json_decref(m);
}

static void
test_not_an_object(void **state)
{
	const struct msg_spec *s = (const struct msg_spec *)&s;
	char err[128];
	json_t *v = json_array();

	assert_int_equal(msg_validate(v, CHAN_CHILD, PEER_MASTER, &s, err,
	    sizeof(err)), -1);
	assert_null(s);
	assert_non_null(strstr(err, "not an object"));
	json_decref(v);
	assert_int_equal(msg_validate(NULL, CHAN_CHILD, PEER_MASTER, NULL, err,
	    sizeof(err)), -1);
}

static void
test_wrong_sender(void **state)
{
	static const unsigned peers[] = { PEER_MASTER, PEER_CHILD,
	    PEER_CLIENT };
	char err[256];

	expect_refused("{\"type\":\"task.assign\",\"id\":1,\"task\":1,"
	    "\"text\":\"t\",\"domain\":\"d\"}", CHAN_CHILD, PEER_CHILD,
	    "task.assign may not be sent by a child");
	expect_refused("{\"type\":\"task.assign\",\"id\":1,\"task\":1,"
	    "\"text\":\"t\",\"domain\":\"d\"}", CHAN_CHILD, PEER_CLIENT,
	    "task.assign may not be sent by a client");
	expect_refused("{\"type\":\"ping\",\"id\":1}", CHAN_CHILD, PEER_CHILD,
	    "ping may not be sent by a child");
	expect_refused("{\"type\":\"pong\",\"id\":1,\"re\":1}", CHAN_CHILD,
	    PEER_MASTER, "pong may not be sent by a master");
	expect_refused("{\"type\":\"round\",\"id\":1,\"task\":1,"
	    "\"directive\":1,\"round\":1,\"ok\":true,\"stage\":\"s\"}",
	    CHAN_CHILD, PEER_MASTER, "round may not be sent by a master");
	expect_refused("{\"type\":\"submit\",\"id\":1,\"text\":\"t\"}",
	    CHAN_CONTROL, PEER_MASTER, "submit may not be sent by a master");
	expect_refused("{\"type\":\"event\",\"id\":1,\"event\":\"e\",\"ts\":1}",
	    CHAN_CONTROL, PEER_CLIENT, "event may not be sent by a client");

	/* Generic: every entry refuses every peer not in its from set. */
	for (int t = MSG_NONE + 1; t < MSG_TYPE_COUNT; t++) {
		const struct msg_spec *s = msg_spec((enum msg_type)t);
		json_t *m = minimal(s);

		for (size_t i = 0; i < 3; i++) {
			if (s->from & peers[i])
				continue;
			if (msg_validate(m, s->chan, peers[i], NULL, err,
			    sizeof(err)) != -1)
				fail_msg("%s accepted from a %s", s->name,
				    msg_peer_name(peers[i]));
			assert_non_null(strstr(err, "may not be sent"));
		}
		json_decref(m);
	}
}

static void
test_bad_id(void **state)
{
	expect_refused("{\"type\":\"ping\"}", CHAN_CHILD, PEER_MASTER,
	    "ping: \"id\" must be a non-negative integer");
	expect_refused("{\"type\":\"ping\",\"id\":-1}", CHAN_CHILD,
	    PEER_MASTER, "\"id\" must be a non-negative integer");
	expect_refused("{\"type\":\"ping\",\"id\":\"1\"}", CHAN_CHILD,
	    PEER_MASTER, "\"id\"");
	expect_refused("{\"type\":\"ping\",\"id\":1.0}", CHAN_CHILD,
	    PEER_MASTER, "\"id\"");
	expect_refused("{\"type\":\"ping\",\"id\":null}", CHAN_CHILD,
	    PEER_MASTER, "\"id\"");
	expect_refused("{\"type\":\"stop\",\"id\":true}", CHAN_CONTROL,
	    PEER_CLIENT, "\"id\"");
}

static void
test_missing_field(void **state)
{
	char err[256];

	expect_refused("{\"type\":\"task.assign\",\"id\":1,\"task\":1,"
	    "\"domain\":\"d\"}", CHAN_CHILD, PEER_MASTER,
	    "task.assign: text: missing");
	expect_refused("{\"type\":\"hello\",\"id\":1,\"role\":\"child\"}",
	    CHAN_CHILD, PEER_CHILD, "hello: version: missing");
	expect_refused("{\"type\":\"submit\",\"id\":1}", CHAN_CONTROL,
	    PEER_CLIENT, "submit: text: missing");

	/* Generic: dropping any required field is refused, naming it. */
	for (int t = MSG_NONE + 1; t < MSG_TYPE_COUNT; t++) {
		const struct msg_spec *s = msg_spec((enum msg_type)t);

		for (const struct shape_field *f = s->fields; f->name != NULL;
		    f++) {
			json_t *m;

			if (!f->required)
				continue;
			m = minimal(s);
			json_object_del(m, f->name);
			assert_int_equal(msg_validate(m, s->chan, a_sender(s),
			    NULL, err, sizeof(err)), -1);
			assert_non_null(strstr(err, ": missing"));
			assert_non_null(strstr(err, f->name));
			json_decref(m);
		}
	}
}

static void
test_wrong_field_type(void **state)
{
	char err[256];

	expect_refused("{\"type\":\"task.assign\",\"id\":1,\"task\":\"1\","
	    "\"text\":\"t\",\"domain\":\"d\"}", CHAN_CHILD, PEER_MASTER,
	    "task.assign: task: must be an integer, not a string");
	/* An optional field is checked when present. */
	expect_refused("{\"type\":\"task.assign\",\"id\":1,\"task\":1,"
	    "\"text\":\"t\",\"domain\":\"d\",\"peers\":{}}", CHAN_CHILD,
	    PEER_MASTER, "peers: must be an array, not an object");
	expect_refused("{\"type\":\"round\",\"id\":1,\"task\":1,"
	    "\"directive\":1,\"round\":1,\"ok\":1,\"stage\":\"s\"}",
	    CHAN_CHILD, PEER_CHILD, "ok: must be true or false, not a number");
	expect_refused("{\"type\":\"round\",\"id\":1,\"task\":1,"
	    "\"directive\":1,\"round\":1,\"ok\":true,\"stage\":\"s\","
	    "\"final\":\"yes\"}", CHAN_CHILD, PEER_CHILD,
	    "final: must be true or false, not a string");
	expect_refused("{\"type\":\"round\",\"id\":1,\"task\":1,"
	    "\"directive\":1,\"round\":1,\"ok\":true,\"stage\":\"s\","
	    "\"critic_model\":7}", CHAN_CHILD, PEER_CHILD,
	    "critic_model: must be a string, not a number");
	expect_refused("{\"type\":\"event\",\"id\":1,\"event\":\"e\","
	    "\"ts\":1.5}", CHAN_CONTROL, PEER_MASTER,
	    "ts: must be a string, not a real number");
	expect_refused("{\"type\":\"interface.publish\",\"id\":1,\"task\":1,"
	    "\"interface\":[]}", CHAN_CHILD, PEER_CHILD,
	    "interface: must be an object, not an array");
	/* A real is not an integer. */
	expect_refused("{\"type\":\"task\",\"id\":1,\"task\":1.5}",
	    CHAN_CONTROL, PEER_CLIENT,
	    "task: must be an integer, not a real number");
	/* null is only allowed where the catalogue says so. */
	expect_refused("{\"type\":\"submit\",\"id\":1,\"text\":null}",
	    CHAN_CONTROL, PEER_CLIENT, "text: must be a string, not null");

	/* Generic: a wrong type in any field is refused, naming it. */
	for (int t = MSG_NONE + 1; t < MSG_TYPE_COUNT; t++) {
		const struct msg_spec *s = msg_spec((enum msg_type)t);

		for (const struct shape_field *f = s->fields; f->name != NULL;
		    f++) {
			json_t *m, *bad = wrong_value(f->types);

			if (bad == NULL)
				continue;
			m = minimal(s);
			json_object_set_new(m, f->name, bad);
			assert_int_equal(msg_validate(m, s->chan, a_sender(s),
			    NULL, err, sizeof(err)), -1);
			assert_non_null(strstr(err, f->name));
			assert_non_null(strstr(err, "must be"));
			json_decref(m);
		}
	}
}

static void
test_directive_per_channel(void **state)
{
	const struct msg_spec *child = msg_find(CHAN_CHILD, "directive");
	const struct msg_spec *ctl = msg_find(CHAN_CONTROL, "directive");
	const char *for_child = "{\"type\":\"directive\",\"id\":1,\"task\":2,"
	    "\"directive\":3,\"text\":\"add a button\"}";
	const char *for_ctl = "{\"type\":\"directive\",\"id\":1,\"domain\":"
	    "\"web\",\"text\":\"add a button\"}";

	assert_non_null(child);
	assert_non_null(ctl);
	assert_ptr_not_equal(child, ctl);
	assert_int_equal(child->type, MSG_DIRECTIVE);
	assert_int_equal(ctl->type, CTL_DIRECTIVE);
	assert_int_equal(child->chan, CHAN_CHILD);
	assert_int_equal(ctl->chan, CHAN_CONTROL);
	assert_int_equal(child->from, PEER_MASTER);
	assert_int_equal(ctl->from, PEER_CLIENT);
	assert_ptr_not_equal(child->fields, ctl->fields);

	expect_ok(for_child, CHAN_CHILD, PEER_MASTER, MSG_DIRECTIVE);
	expect_ok(for_ctl, CHAN_CONTROL, PEER_CLIENT, CTL_DIRECTIVE);
	/* Each shape fails the other channel's spec. */
	expect_refused(for_ctl, CHAN_CHILD, PEER_MASTER, ": missing");
	expect_refused(for_child, CHAN_CONTROL, PEER_CLIENT,
	    "directive: domain: missing");
	/* And the senders differ. */
	expect_refused(for_child, CHAN_CHILD, PEER_CLIENT, "may not be sent");
	expect_refused(for_ctl, CHAN_CONTROL, PEER_MASTER, "may not be sent");
}

/* ------------------------------------------------------------ builders */

static void
test_msg_new_and_id(void **state)
{
	json_t *m = msg_new(MSG_TASK_ASSIGN, 77), *v;

	assert_non_null(m);
	assert_int_equal(json_object_size(m), 2);
	assert_string_equal(json_string_value(json_object_get(m, "type")),
	    "task.assign");
	assert_int_equal(msg_id(m), 77);
	json_decref(m);

	assert_null(msg_new(MSG_NONE, 1));
	assert_null(msg_new(MSG_TYPE_COUNT, 1));

	v = load("{\"id\":-4}");
	assert_int_equal(msg_id(v), -1);
	json_decref(v);
	v = load("{\"id\":\"4\"}");
	assert_int_equal(msg_id(v), -1);
	json_decref(v);
	v = load("{}");
	assert_int_equal(msg_id(v), -1);
	json_decref(v);
	v = load("{\"id\":0}");
	assert_int_equal(msg_id(v), 0);
	json_decref(v);
}

static void
test_reply_ok(void **state)
{
	json_t *r = msg_reply_ok(12), *want = load("{\"re\":12,\"ok\":true}");

	assert_non_null(r);
	assert_true(json_equal(r, want));
	json_decref(r);
	json_decref(want);
}

static void
test_reply_error(void **state)
{
	json_t *r, *want, *e;
	char big[1000];
	const char *msg;

	r = msg_reply_error(5, ERR_NOT_FOUND, "task %d has no domain %s", 9,
	    "web");
	want = load("{\"re\":5,\"ok\":false,\"error\":{\"code\":\"not_found\","
	    "\"message\":\"task 9 has no domain web\"}}");
	assert_non_null(r);
	assert_true(json_equal(r, want));
	json_decref(r);
	json_decref(want);

	/* A long message is cut, not refused. */
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	r = msg_reply_error(-1, ERR_BAD_FRAME, "%s", big);
	assert_non_null(r);
	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_int_equal(json_integer_value(json_object_get(r, "re")), -1);
	e = json_object_get(r, "error");
	assert_string_equal(json_string_value(json_object_get(e, "code")),
	    "bad_frame");
	msg = json_string_value(json_object_get(e, "message"));
	assert_non_null(msg);
	assert_true(strlen(msg) > 100 && strlen(msg) < sizeof(big) - 1);
	json_decref(r);
}

/* An update replaces the peer of its domain or joins in name order. */
static void
test_peers_merge(void **state)
{
	json_t *peers = json_loads("[{\"domain\":\"api\",\"version\":1},"
	    "{\"domain\":\"ui\",\"version\":1}]", 0, NULL);
	json_t *update = json_loads("[{\"domain\":\"ui\",\"version\":2},"
	    "{\"domain\":\"db\",\"version\":1},{\"version\":9},"
	    "{\"domain\":\"zz\",\"version\":1},"
	    "{\"domain\":\"a\",\"version\":1}]", 0, NULL);
	char *out;

	(void)state;
	msg_peers_merge(peers, update);
	out = json_dumps(peers, JSON_COMPACT);
	assert_string_equal(out, "[{\"domain\":\"a\",\"version\":1},"
	    "{\"domain\":\"api\",\"version\":1},"
	    "{\"domain\":\"db\",\"version\":1},"
	    "{\"domain\":\"ui\",\"version\":2},"
	    "{\"domain\":\"zz\",\"version\":1}]");
	free(out);
	/* Into an empty set, and an empty update. */
	json_array_clear(peers);
	msg_peers_merge(peers, json_array_get(update, 0) != NULL ?
	    update : NULL);
	assert_int_equal(json_array_size(peers), 4);
	msg_peers_merge(peers, NULL);
	assert_int_equal(json_array_size(peers), 4);
	json_decref(peers);
	json_decref(update);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalogue_consistent),
		cmocka_unit_test(test_catalogue_names),
		cmocka_unit_test(test_every_type_minimal_ok),
		cmocka_unit_test(test_good_messages),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_unknown_type_long_name),
		cmocka_unit_test(test_not_an_object),
		cmocka_unit_test(test_wrong_sender),
		cmocka_unit_test(test_bad_id),
		cmocka_unit_test(test_missing_field),
		cmocka_unit_test(test_wrong_field_type),
		cmocka_unit_test(test_directive_per_channel),
		cmocka_unit_test(test_msg_new_and_id),
		cmocka_unit_test(test_reply_ok),
		cmocka_unit_test(test_reply_error),
		cmocka_unit_test(test_peers_merge),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
