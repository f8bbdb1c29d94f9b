/*
 * frame.h — the wire framing shared by every masterd socket.
 *
 * A frame is a 4-byte unsigned big-endian length N, then N bytes of UTF-8
 * JSON holding exactly one object.  The decoder is incremental: bytes may
 * arrive split anywhere, and one read may hold many frames.
 */
#ifndef PROTO_FRAME_H
#define PROTO_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define FRAME_HEADER_SIZE 4
#define FRAME_MAX_DEFAULT (16u * 1024u * 1024u)

enum frame_status {
	FRAME_OK = 0,		/* a message was returned */
	FRAME_NEED_MORE = 1,	/* no whole frame buffered yet */
	/* Framing lost: the stream cannot be resynchronised. */
	FRAME_EZERO = -1,	/* length 0 */
	FRAME_ETOOBIG = -2,	/* length over the limit */
	FRAME_ENOMEM = -3,
	/* Payload rejected; the frame boundary is intact. */
	FRAME_EUTF8 = -10,	/* payload is not valid UTF-8 */
	FRAME_EJSON = -11,	/* payload is not one JSON value */
	FRAME_ENOTOBJ = -12,	/* payload is JSON but not an object */
};

struct frame_error {
	int code;		/* an enum frame_status below zero */
	char text[256];		/* human detail, e.g. jansson's position */
};

struct frame_decoder {
	unsigned char *buf;
	size_t off;		/* first unconsumed byte */
	size_t len;		/* bytes held, from buf[0] */
	size_t cap;
	size_t max;		/* largest accepted payload */
	int failed;		/* sticky fatal status, or 0 */
};

void frame_decoder_init(struct frame_decoder *, size_t max);
void frame_decoder_free(struct frame_decoder *);

/* Copy bytes in.  Returns FRAME_OK, FRAME_ENOMEM, or the sticky error. */
int frame_decoder_feed(struct frame_decoder *, const void *data, size_t n);

/*
 * Zero-copy feeding, for libuv's alloc/read callbacks: reserve at least
 * `want` writable bytes at the tail, then commit what was actually read.
 */
void *frame_decoder_reserve(struct frame_decoder *, size_t want, size_t *got);
void frame_decoder_commit(struct frame_decoder *, size_t n);

/*
 * Take the next whole message.  FRAME_OK stores a new reference in *out;
 * FRAME_NEED_MORE means wait for bytes; an error fills *err (may be NULL).
 * After a fatal error every call returns it again; after a payload error the
 * bad frame is consumed and decoding can go on.
 */
int frame_decoder_next(struct frame_decoder *, json_t **out,
    struct frame_error *err);

/* Bytes buffered but not yet returned as messages. */
size_t frame_decoder_pending(const struct frame_decoder *);

/* True when the stream must be dropped (framing is lost). */
bool frame_status_fatal(int status);
const char *frame_strerror(int status);

/*
 * Encode one object as a frame in a new malloc'd buffer.  Returns FRAME_OK,
 * FRAME_ENOTOBJ, FRAME_ETOOBIG (payload over max) or FRAME_ENOMEM.
 */
int frame_encode(const json_t *msg, size_t max, unsigned char **out,
    size_t *outlen);

/* The payload size msg would encode to (compact JSON); 0 on failure. */
size_t frame_encoded_size(const json_t *msg);

/*
 * Cut the longest strings of v, in place, until it encodes to at most max
 * bytes: each cut string keeps its head and ends in a marker saying how many
 * bytes went ("[... 1234 bytes cut: over the frame limit]").  0 when v fits
 * (at once or after cutting), -1 when cutting every long string was not
 * enough.  Object keys and short strings are never cut.  In place: cut a
 * json_deep_copy() of a value that shares parts with other state.
 */
int frame_cut_to_fit(json_t *v, size_t max);

/* Write the 4-byte big-endian length header. */
void frame_put_header(unsigned char hdr[FRAME_HEADER_SIZE], uint32_t n);

#endif
