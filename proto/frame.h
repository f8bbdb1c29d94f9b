/*
 * frame.h — the wire framing shared by every masterd socket.
 *
 * A frame is a 4-byte unsigned big-endian length N, then N bytes of UTF-8
 * JSON holding exactly one object.  The decoder is incremental: bytes may
 * arrive split anywhere, and one read may hold many frames.
 *
 * On a child channel whose peers both said so in hello, a frame may carry
 * an attachment: the JSON, a NUL byte (never part of JSON text), then the
 * raw bytes of the message's long strings, one after the other.  The JSON
 * holds "" in their place and announces them in its top-level member
 * "@attach": [[length, path...], ...], a path being the object keys and
 * array indices from the top.  The encoder moves them out and the decoder
 * puts them back, so callers see the same json_t; long text is then
 * neither escaped nor parsed (docs/protocol.md, "Attachments").
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
	FRAME_EATTACH = -13,	/* attachment unlike its announcement */
};

/* Strings at least this long go in the attachment, when there is one:
 * below it, escaping and parsing cost less than announcing them. */
#define FRAME_ATTACH_MIN	256u
/* The announcement's top-level key. */
#define FRAME_ATTACH_KEY	"@attach"


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
	bool attach;		/* attachments accepted (else: bad JSON) */
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

/*
 * The next whole frame's payload, left in place: FRAME_OK with *payload
 * pointing into the buffer (valid until the decoder is next called or
 * fed) and *n its length, FRAME_NEED_MORE, or a fatal error as
 * frame_decoder_next gives it.  The payload is not checked: a
 * frame_decoder_next parses it, or frame_decoder_skip drops it.
 */
int frame_decoder_peek(struct frame_decoder *, const unsigned char **payload,
    size_t *n, struct frame_error *err);
/* Consume the frame frame_decoder_peek returned. */
void frame_decoder_skip(struct frame_decoder *);

/*
 * What a cheap look at a payload found at the top level of its object,
 * without building it: "type" when it is a string without escapes, and
 * "final" when it is true or false.  frame_peek gives 0 only when the
 * whole payload scanned as one object with neither key twice; -1 when in
 * doubt (escapes in a key, odd syntax, a duplicate): then parse it.  It is
 * no validation: what is passed on unparsed is still checked by whoever
 * parses it in the end.  The JSON ends at a NUL, if there is one: what
 * follows is an attachment, and a string attached is seen as "".
 */
struct frame_peek {
	const char *type;	/* into the payload, not terminated */
	size_t type_len;	/* 0: no "type" string */
	int final;		/* -1: absent, 0 false, 1 true, 2 another */
	bool attached;		/* an attachment follows the JSON */
};

int frame_peek(const unsigned char *payload, size_t n, struct frame_peek *);

/* Bytes buffered but not yet returned as messages. */
size_t frame_decoder_pending(const struct frame_decoder *);
/* Bytes still to come of the frame begun at the head, when its header is
 * in and its length acceptable; else 0. */
size_t frame_decoder_missing(const struct frame_decoder *);

/* True when the stream must be dropped (framing is lost). */
bool frame_status_fatal(int status);
const char *frame_strerror(int status);

/*
 * Encode one object as a frame in a new malloc'd buffer.  Returns FRAME_OK,
 * FRAME_ENOTOBJ, FRAME_ETOOBIG (payload over max) or FRAME_ENOMEM.
 */
int frame_encode(const json_t *msg, size_t max, unsigned char **out,
    size_t *outlen);
/*
 * The same, string values of attach_min bytes or more (0: none) carried in
 * an attachment, for a peer that takes them.  A string holding a NUL stays
 * in the JSON (where the decoder refuses it, as before), one that is not
 * UTF-8 too (and the message is refused, as before), and so does every
 * string of a message with a top-level FRAME_ATTACH_KEY of its own, or one
 * that would be over max with an attachment and fits without.
 */
int frame_encode_attach(const json_t *msg, size_t max, size_t attach_min,
    unsigned char **out, size_t *outlen);

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

/* A frame of payload (copied) in a new malloc'd buffer: FRAME_OK, or
 * FRAME_ETOOBIG when n is 0 or over max (0: the default). */
int frame_wrap(const unsigned char *payload, size_t n, size_t max,
    unsigned char **out, size_t *outlen);

/* Write the 4-byte big-endian length header. */
void frame_put_header(unsigned char hdr[FRAME_HEADER_SIZE], uint32_t n);

#endif
