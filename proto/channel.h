/*
 * channel.h — a framed JSON channel over a libuv stream.
 *
 * Used for every masterd connection: a child's socketpair on either end,
 * and each control client.  Reads go straight into the frame decoder's
 * buffer; writes are tried synchronously first and queued only when the
 * socket is full, with a cap on queued bytes so a peer that stops reading
 * cannot make us buffer without bound.
 *
 * Lifetime: the owner embeds the channel, calls channel_init/open, and frees
 * itself from the on_close callback, which runs exactly once, after libuv
 * has let go of the handle.
 */
#ifndef PROTO_CHANNEL_H
#define PROTO_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <uv.h>

#include "proto/frame.h"

struct channel;

/* A whole message; the channel drops its reference after the call. */
typedef void channel_msg_fn(struct channel *, json_t *msg, void *arg);
/* A rejected frame.  If frame_status_fatal(err->code) the channel closes
 * right after the call; otherwise the stream goes on. */
typedef void channel_bad_fn(struct channel *, const struct frame_error *,
    void *arg);
/* The channel is closed; `why` is NULL after the peer went away between
 * frames (EOF or a reset) or a local close. */
typedef void channel_close_fn(struct channel *, const char *why, void *arg);
/* Bytes were read and every whole frame among them delivered: what is
 * left in the decoder is the start of the next frame.  The owner may
 * close the channel from here (to bound a slow or oversized request). */
typedef void channel_data_fn(struct channel *, void *arg);
/* A whole frame before it is parsed (its length checked, nothing else):
 * true when the owner took it as it is (to pass it on), and it is dropped
 * unparsed; false to have it parsed and given to on_msg as usual. */
typedef bool channel_frame_fn(struct channel *, const unsigned char *payload,
    size_t n, void *arg);

struct channel_ops {
	channel_msg_fn *on_msg;
	channel_bad_fn *on_bad;		/* NULL: treat as fatal */
	channel_close_fn *on_close;
	channel_data_fn *on_data;	/* NULL: not told */
	channel_frame_fn *on_frame;	/* NULL: every frame is parsed */
};

struct channel {
	uv_pipe_t pipe;
	/* Fairness: after CHANNEL_BURST messages the channel stops reading
	 * and hands the rest of what it holds over on the next loop turns,
	 * CHANNEL_BURST at a time, so one peer's flood cannot keep the
	 * loop from its timers, signals and other peers. */
	uv_idle_t resume;
	unsigned burst;		/* messages since the last yield */
	bool paused;		/* reading stopped; resume is active */
	int handles;		/* still to close: pipe and resume */
	struct frame_decoder dec;
	const struct channel_ops *ops;
	void *arg;
	size_t max_frame;
	size_t queued;		/* bytes handed to uv_write, not yet done */
	size_t max_queued;
	size_t refused_size;	/* the last message refused as too big */
	/* The peer takes frames with attachments (its hello said so): long
	 * strings go out raw after the JSON (proto/frame.h).  Whether we
	 * take them is dec.attach. */
	bool attach_out;
	bool open;		/* handle initialised */
	bool closing;
	char why[256];		/* first reason given for closing */
};

#define CHANNEL_MAX_QUEUED_DEFAULT (64u * 1024u * 1024u)
/* Messages one channel delivers before it yields a loop turn. */
#define CHANNEL_BURST 32u

int channel_init(uv_loop_t *, struct channel *, size_t max_frame,
    const struct channel_ops *, void *arg);
/* Take over a connected socket fd (e.g. fd 3 in a child). */
int channel_open_fd(struct channel *, int fd);
/* The stream to pass to uv_accept. */
uv_stream_t *channel_stream(struct channel *);
int channel_start(struct channel *);

/* channel_send's answer for a message over max_frame. */
#define CHANNEL_ETOOBIG	(-2)

/*
 * Encode and send: 0; -1 (and the channel closes) if it cannot be queued;
 * CHANNEL_ETOOBIG when msg encodes to more than max_frame: it is logged
 * (its type, its size and the limit), nothing is sent, the channel stays
 * open, and refused_size holds its size for the caller's own error.
 */
int channel_send(struct channel *, const json_t *msg);
/*
 * Send a payload as it is (a frame taken by on_frame, passed on): 0, -1
 * as channel_send, or CHANNEL_ETOOBIG when n is over max_frame (nothing
 * sent, the channel stays open).  Copied only if the socket does not take
 * it all at once.  The caller checks that the peer takes an attachment
 * the payload may carry (attach_out).
 */
int channel_send_frame(struct channel *, const unsigned char *payload,
    size_t n);
/* Send and drop the reference to msg, whatever happens. */
int channel_send_new(struct channel *, json_t *msg);

/* Close once; later calls are ignored.  why may be NULL. */
void channel_close(struct channel *, const char *why);

#endif
