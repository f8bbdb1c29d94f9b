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

/*
 * What jsonfast_dump_attach moves out of a message: the string values of
 * min bytes or more that are UTF-8 without a NUL, in the order written.
 */
struct jsonfast_attach {
	size_t min;
	const json_t **s;	/* the strings moved out */
	size_t n, cap;
	size_t bytes;		/* their lengths added up */
	/* Private: the announcement's entries, and the path to here. */
	struct jsonfast_buf ann;
	struct jsonfast_step {
		const char *key;	/* NULL: an index */
		size_t klen, index;
	} *path;
	size_t depth, path_cap;
};

/*
 * The same for an object, its long strings written "" and announced in a
 * last member, "@attach": [[length, path...], ...] (proto/frame.h), which
 * is left out when nothing was moved.  The caller writes the strings
 * themselves after the JSON.  Free a with jsonfast_attach_free.
 */
int jsonfast_dump_attach(const json_t *obj, struct jsonfast_buf *b,
    struct jsonfast_attach *a);
void jsonfast_attach_free(struct jsonfast_attach *);

/*
 * Valid UTF-8 without a NUL, as jansson demands of a string it parses:
 * 0; else 1 for a NUL, 2 for bytes that are not UTF-8, at *at.  Long
 * ASCII runs are checked 32 bytes at a time.
 */
int jsonfast_text(const unsigned char *p, size_t n, size_t *at);

#endif
