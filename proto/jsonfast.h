/*
 * jsonfast.h — the frame codec's fast paths for jansson values.
 *
 * jansson reads a buffer one byte at a time through a callback and
 * writes through one, checking for loops in every container: for the
 * small messages that are most of the traffic, that is most of a round
 * trip.  These do the same work in one pass over contiguous bytes, and
 * leave every case they are not sure of to jansson, so what a frame
 * decodes to, and which frames are refused and why, do not change.
 */
#ifndef PROTO_JSONFAST_H
#define PROTO_JSONFAST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * The value of n bytes of JSON text, as json_loadb(p, n,
 * JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) gives it: a new reference,
 * or NULL when this parser is not sure (anything malformed, a real
 * number, a \u escape, an integer near the limits, deep nesting): then ask
 * jansson, which gives the value or the error.
 */
json_t *jsonfast_load(const unsigned char *p, size_t n);

/* Where jsonfast_dump writes: a growing buffer, and a cap on its size. */
struct jsonfast_buf {
	unsigned char *p;
	size_t len, cap;
	size_t max;		/* len may not pass it */
	bool too_big;		/* it would have */
};

/*
 * Append v as json_dumpb(v, ..., JSON_COMPACT | JSON_ENCODE_ANY) writes
 * it, byte for byte: 0, or -1 when jansson would fail too (a string or
 * key that is not UTF-8) or b->max would be passed (too_big).  Reals are
 * jansson's own text.
 */
int jsonfast_dump(const json_t *v, struct jsonfast_buf *b);

#endif
