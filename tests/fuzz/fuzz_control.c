/*
 * fuzz_control.c — libFuzzer target for requests as masterd receives them:
 * the frame decoder (proto/frame.c) and the message catalogue's
 * validation (proto/msg.c).
 *
 * The input is a byte stream as the control socket carries it: frames of a
 * 4-byte big-endian length and a JSON object, decoded with a 64 KiB limit.
 * Every decoded message is validated as each peer could send it: from a
 * client on the control channel, from a child and from the master on the
 * children's channel, and from the master on the control channel (the
 * events of a watch stream).  The whole input, and the input after its
 * first 4 bytes, are also parsed as one JSON value of any kind and
 * validated the same ways.
 *
 * Nothing may crash or leak, and msg_validate must agree with an
 * independent reading of the catalogue (msg_spec(type)->fields): it
 * accepts a message exactly when the type is known on that channel, the
 * sender may send it, "id" is a non-negative integer, every required
 * field is present and every known field has one of its types.  On
 * success the spec it returns is that type's; on failure it returns no
 * spec and a one-line reason: valid UTF-8 in a buffer as large as the
 * daemons' (they send it on in a JSON error), and cut short but
 * terminated in a small one.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proto/frame.h"
#include "proto/msg.h"

#define FUZZ_MAX	(64u * 1024u)
#define ERR_LEN		200	/* the smaller of the daemons' buffers */

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct {
	enum msg_chan chan;
	unsigned from;
	const char *what;
} senders[] = {
	{ CHAN_CONTROL, PEER_CLIENT, "control, from a client" },
	{ CHAN_CHILD, PEER_CHILD, "child channel, from a child" },
	{ CHAN_CHILD, PEER_MASTER, "child channel, from the master" },
	{ CHAN_CONTROL, PEER_MASTER, "control, from the master" },
};

#define NSENDERS	(sizeof(senders) / sizeof(senders[0]))

static void
check(bool ok, const char *what, const char *where)
{
	if (!ok) {
		fprintf(stderr, "fuzz_control: %s (%s)\n", what, where);
		abort();
	}
}

/* The catalogue's field types, read without msg.c's own helper. */
static bool
has_type(const json_t *v, unsigned types)
{
	static const unsigned bit[] = {
		[JSON_OBJECT] = FT_OBJECT, [JSON_ARRAY] = FT_ARRAY,
		[JSON_STRING] = FT_STRING, [JSON_INTEGER] = FT_INTEGER,
		[JSON_REAL] = FT_REAL, [JSON_TRUE] = FT_BOOL,
		[JSON_FALSE] = FT_BOOL, [JSON_NULL] = FT_NULL,
	};

	return v != NULL && (types & bit[json_typeof(v)]) != 0;
}

/* The spec of this type name on this channel, by a walk of the table. */
static const struct msg_spec *
lookup(enum msg_chan chan, const char *name)
{
	const struct msg_spec *s;

	for (int t = MSG_NONE + 1; t < MSG_TYPE_COUNT; t++) {
		if ((s = msg_spec((enum msg_type)t)) == NULL)
			continue;
		if (s->chan == chan && strcmp(s->name, name) == 0)
			return s;
	}
	return NULL;
}

/* Should msg pass?  Sets *spec to its catalogue entry when it should. */
static bool
expected(const json_t *msg, enum msg_chan chan, unsigned from,
    const struct msg_spec **spec)
{
	const struct msg_spec *s;
	const json_t *type, *id, *v;

	*spec = NULL;
	if (!json_is_object(msg))
		return false;
	type = json_object_get(msg, "type");
	if (!json_is_string(type))
		return false;
	if ((s = lookup(chan, json_string_value(type))) == NULL ||
	    (s->from & from) == 0)
		return false;
	id = json_object_get(msg, "id");
	if (!json_is_integer(id) || json_integer_value(id) < 0)
		return false;
	for (const struct shape_field *f = s->fields; f->name != NULL; f++) {
		v = json_object_get(msg, f->name);
		if (v == NULL ? f->required : !has_type(v, f->types))
			return false;
	}
	*spec = s;
	return true;
}

/* A reason: NUL-terminated, and non-empty when there is room. */
static void
check_reason(const char *err, size_t errlen, const char *where)
{
	check(memchr(err, '\0', errlen) != NULL, "reason not terminated",
	    where);
	check(errlen == 1 || err[0] != '\0', "empty reason", where);
}

static void
validate_as(const json_t *msg, enum msg_chan chan, unsigned from,
    const char *where, size_t small)
{
	const struct msg_spec *spec = NULL, *want;
	char err[ERR_LEN], tiny[48];
	json_t *reason;
	bool ok, should;
	const json_t *v;

	memset(err, 'x', sizeof(err));
	ok = msg_validate(msg, chan, from, &spec, err, sizeof(err)) == 0;
	should = expected(msg, chan, from, &want);
	check(ok == should, ok ? "accepted against the catalogue" :
	    "refused against the catalogue", where);
	/* The same answer without the optional outputs. */
	check((msg_validate(msg, chan, from, NULL, NULL, 0) == 0) == ok,
	    "answer depends on the outputs", where);
	if (!ok) {
		check(spec == NULL, "a spec returned with a refusal", where);
		check_reason(err, sizeof(err), where);
		/* Sent on in a JSON error, as masterd and the child do. */
		check((reason = json_string(err)) != NULL,
		    "reason is not valid UTF-8", where);
		json_decref(reason);
		memset(tiny, 'x', sizeof(tiny));
		check(msg_validate(msg, chan, from, NULL, tiny, small) != 0,
		    "refusal depends on the buffer", where);
		check_reason(tiny, small, where);
		return;
	}
	check(spec != NULL && spec == want, "not the type's spec", where);
	check(msg_spec(spec->type) == spec && msg_find(chan,
	    spec->name) == spec, "the spec is not the catalogue's", where);
	check(spec->chan == chan && (spec->from & from) != 0,
	    "a spec of another channel or sender", where);
	check(strcmp(json_string_value(json_object_get(msg, "type")),
	    spec->name) == 0, "the spec names another type", where);
	check(msg_id(msg) == json_integer_value(json_object_get(msg, "id")),
	    "msg_id disagrees", where);
	for (const struct shape_field *f = spec->fields; f->name != NULL; f++) {
		v = json_object_get(msg, f->name);
		if (f->required)
			check(v != NULL, "a required field is missing", where);
		if (v != NULL)
			check(has_type(v, f->types), "a field of a wrong type",
			    where);
	}
}

static void
validate_all(const json_t *msg, size_t small)
{
	for (size_t i = 0; i < NSENDERS; i++)
		validate_as(msg, senders[i].chan, senders[i].from,
		    senders[i].what, small);
}

/* The bytes as one JSON value of any kind. */
static void
as_payload(const uint8_t *data, size_t size, size_t small)
{
	json_t *v;

	v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (v == NULL)
		return;
	validate_all(v, small);
	json_decref(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_decoder d;
	size_t small = 1 + size % 40;
	json_t *msg;
	int rc;

	frame_decoder_init(&d, FUZZ_MAX);
	if (frame_decoder_feed(&d, data, size) == FRAME_OK) {
		for (;;) {
			rc = frame_decoder_next(&d, &msg, NULL);
			if (rc == FRAME_OK) {
				validate_all(msg, small);
				json_decref(msg);
				continue;
			}
			/* A payload error skips its frame; the rest end. */
			if (rc == FRAME_NEED_MORE || frame_status_fatal(rc))
				break;
		}
	}
	frame_decoder_free(&d);

	as_payload(data, size, small);
	if (size > FRAME_HEADER_SIZE)
		as_payload(data + FRAME_HEADER_SIZE, size - FRAME_HEADER_SIZE,
		    small);
	return 0;
}
