/*
 * fuzz_frame.c — libFuzzer target for the incremental frame decoder
 * (proto/frame.c).
 *
 * The first input byte shapes the feeding: bit 7 chooses copying
 * (frame_decoder_feed) or zero-copy (reserve/commit), bits 0-6 the largest
 * chunk (0: the whole rest at once); the size of each chunk then comes from
 * the input bytes themselves.  Bit 0 also says whether the decoder takes
 * attachments (a NUL, then raw strings announced in "@attach").  The rest
 * of the input is the byte stream.
 *
 * Checked on every input: each decoded message is an object that re-encodes
 * and re-decodes to an equal message with a byte-identical encoding, plain
 * and with attachments (a threshold of 1 byte, and the real one), never
 * with FRAME_ATTACH_KEY left in it;
 * FRAME_NEED_MORE is only returned when the next frame really is incomplete;
 * an error fills frame_error with its own code; a fatal error is sticky for
 * next and feed; a payload error lets decoding go on.  Before each next,
 * frame_decoder_peek shows the same frame next then takes, and where
 * frame_peek is sure of a payload that parses, its "type" and "final" are
 * the parsed message's.  A message decoded from a frame with an attachment
 * has, at every path its announcement gives, a string of the announced
 * length.  The decoder's limit is 64 KiB so oversized frames are reached
 * quickly.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"

#define FUZZ_MAX	(64u * 1024u)

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_frame: %s\n", what);
		abort();
	}
}

/* Encode msg, decode that frame, and demand the same message back. */
static void
roundtrip(const json_t *msg)
{
	struct frame_decoder d;
	unsigned char *buf, *buf2;
	size_t len, len2;
	json_t *back, *none;

	check(frame_encode(msg, 0, &buf, &len) == FRAME_OK,
	    "a decoded message does not encode");
	frame_decoder_init(&d, 0);
	check(frame_decoder_feed(&d, buf, len) == FRAME_OK, "feed failed");
	check(frame_decoder_next(&d, &back, NULL) == FRAME_OK,
	    "a re-encoded message does not decode");
	check(json_equal(msg, back), "the round trip changed the message");
	check(frame_decoder_next(&d, &none, NULL) == FRAME_NEED_MORE &&
	    none == NULL, "one frame decoded to more than one message");
	check(frame_decoder_pending(&d) == 0, "bytes left after one frame");
	check(frame_encode(back, 0, &buf2, &len2) == FRAME_OK &&
	    len2 == len && memcmp(buf, buf2, len) == 0,
	    "encoding is not stable across a round trip");
	json_decref(back);
	free(buf2);
	free(buf);
	frame_decoder_free(&d);
}

/* The same with attachments from min bytes up, to a decoder that takes
 * them; the message must have come out of a decoder, so it encodes. */
static void
roundtrip_attached(const json_t *msg, size_t min)
{
	struct frame_decoder d;
	unsigned char *buf, *buf2;
	size_t len, len2;
	json_t *back;

	check(frame_encode_attach(msg, 0, min, &buf, &len) == FRAME_OK,
	    "a decoded message does not encode with attachments");
	frame_decoder_init(&d, 0);
	d.attach = true;
	check(frame_decoder_feed(&d, buf, len) == FRAME_OK, "feed failed");
	check(frame_decoder_next(&d, &back, NULL) == FRAME_OK,
	    "an attached message does not decode");
	check(json_equal(msg, back), "attaching changed the message");
	check(frame_decoder_pending(&d) == 0, "bytes left after one frame");
	check(frame_encode_attach(back, 0, min, &buf2, &len2) == FRAME_OK &&
	    len2 == len && memcmp(buf, buf2, len) == 0,
	    "attaching is not stable across a round trip");
	json_decref(back);
	free(buf2);
	free(buf);
	frame_decoder_free(&d);
}

/* The value at an announcement entry's path in m, or NULL. */
static json_t *
at_path(json_t *m, const json_t *entry)
{
	const json_t *step;

	for (size_t k = 1; k < json_array_size(entry) && m != NULL; k++) {
		step = json_array_get(entry, k);
		if (json_is_string(step))
			m = json_object_get(m, json_string_value(step));
		else if (json_integer_value(step) >= 0)
			m = json_array_get(m, (size_t)json_integer_value(step));
		else
			m = NULL;
	}
	return m;
}

/* The JSON before an attachment, parsed, when there is one; taken before
 * frame_decoder_next, which may free the payload. */
static json_t *
attached_json(const unsigned char *p, size_t n)
{
	const unsigned char *nul = memchr(p, '\0', n);

	if (nul == NULL)
		return NULL;
	return json_loadb((const char *)p, (size_t)(nul - p), 0, NULL);
}

/* A message decoded from an attached payload (raw: its JSON) holds,
 * where each entry of the announcement points, a string of the announced
 * length. */
static void
check_restored(const json_t *raw, json_t *m)
{
	json_t *ann = json_object_get(raw, FRAME_ATTACH_KEY), *entry, *s;
	size_t i;

	check(json_array_size(ann) > 0, "attached without an announcement");
	json_array_foreach(ann, i, entry) {
		s = at_path(m, entry);
		check(json_is_string(s) && json_string_length(s) ==
		    (size_t)json_integer_value(json_array_get(entry, 0)),
		    "an attached string not put back where announced");
	}
}

/* NEED_MORE is only right when the next frame is not all there. */
static void
check_incomplete(const struct frame_decoder *d)
{
	size_t pending = frame_decoder_pending(d);
	const unsigned char *p;
	uint32_t n;

	if (pending < FRAME_HEADER_SIZE)
		return;
	p = d->buf + d->off;
	n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
	check(n != 0 && n <= d->max && pending - FRAME_HEADER_SIZE < n,
	    "NEED_MORE with a whole or a bad frame buffered");
}

/* What frame_peek said of a payload agrees with what parsing it gave. */
static void
check_peek(const struct frame_peek *pk, const json_t *m)
{
	json_t *type = json_object_get(m, "type");
	json_t *final = json_object_get(m, "final");

	if (pk->type_len > 0)
		check(json_is_string(type) && json_string_length(type) ==
		    pk->type_len && memcmp(json_string_value(type), pk->type,
		    pk->type_len) == 0, "peeked type is not the message's");
	check(pk->final == (final == NULL ? -1 : json_is_true(final) ? 1 :
	    json_is_false(final) ? 0 : 2), "peeked final is not the "
	    "message's");
}

/* Take every message out; returns NEED_MORE or the fatal status. */
static int
drain(struct frame_decoder *d)
{
	struct frame_error err;
	struct frame_peek pk;
	const unsigned char *payload;
	size_t n;
	json_t *m, *raw;
	int rc, prc, sure = -1;

	for (;;) {
		memset(&err, 0, sizeof(err));
		prc = frame_decoder_peek(d, &payload, &n, NULL);
		raw = NULL;
		if (prc == FRAME_OK) {
			sure = frame_peek(payload, n, &pk);
			if (d->attach)
				raw = attached_json(payload, n);
		}
		rc = frame_decoder_next(d, &m, &err);
		if (rc != FRAME_OK)
			json_decref(raw);
		check(prc == FRAME_OK ? rc != FRAME_NEED_MORE &&
		    !frame_status_fatal(rc) : prc == rc,
		    "peek and next disagree");
		if (rc == FRAME_OK) {
			check(json_is_object(m), "FRAME_OK without an object");
			if (sure == 0)
				check_peek(&pk, m);
			check(json_object_get(m, FRAME_ATTACH_KEY) == NULL ||
			    !pk.attached, "an announcement left in");
			if (d->attach && pk.attached) {
				check(raw != NULL, "an attached payload "
				    "decoded, its JSON does not");
				check_restored(raw, m);
			}
			roundtrip(m);
			roundtrip_attached(m, 1);
			roundtrip_attached(m, FRAME_ATTACH_MIN);
			json_decref(raw);
			json_decref(m);
			continue;
		}
		check(m == NULL, "a message returned with an error");
		if (rc == FRAME_NEED_MORE) {
			check_incomplete(d);
			return rc;
		}
		check(err.code == rc && err.text[0] != '\0',
		    "frame_error not filled");
		check(rc == FRAME_EZERO || rc == FRAME_ETOOBIG ||
		    rc == FRAME_EUTF8 || rc == FRAME_EJSON ||
		    rc == FRAME_ENOTOBJ || (rc == FRAME_EATTACH &&
		    d->attach), "unexpected status");
		if (frame_status_fatal(rc)) {
			check(frame_decoder_next(d, &m, NULL) == rc &&
			    m == NULL, "fatal error not sticky in next");
			check(frame_decoder_feed(d, "x", 1) == rc,
			    "fatal error not sticky in feed");
			return rc;
		}
	}
}

static void
push(struct frame_decoder *d, const uint8_t *p, size_t n, bool zero_copy)
{
	size_t got;
	void *w;

	if (!zero_copy) {
		check(frame_decoder_feed(d, p, n) == FRAME_OK, "feed failed");
		return;
	}
	/* Ask for less than needed now and then: the default is fine too. */
	w = frame_decoder_reserve(d, n > 1 ? n : 0, &got);
	check(w != NULL && got >= n, "reserve too small");
	memcpy(w, p, n);
	frame_decoder_commit(d, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_decoder d;
	size_t off = 1, n, base;
	bool zero_copy;

	if (size == 0)
		return 0;
	zero_copy = (data[0] & 0x80) != 0;
	base = data[0] & 0x7f;
	frame_decoder_init(&d, FUZZ_MAX);
	d.attach = (data[0] & 1) != 0;
	while (off < size) {
		n = base == 0 ? size - off : 1 + data[off] % base;
		if (n > size - off)
			n = size - off;
		push(&d, data + off, n, zero_copy);
		off += n;
		if (drain(&d) != FRAME_NEED_MORE)
			break;
	}
	frame_decoder_free(&d);
	return 0;
}
