/*
 * channel.c — framed JSON over a uv_pipe_t: zero-copy reads into the
 * decoder, try-then-queue writes, one close path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "proto/channel.h"

struct write_req {
	uv_write_t req;
	struct channel *ch;
	size_t len;
	unsigned char *data;
};

int
channel_init(uv_loop_t *loop, struct channel *ch, size_t max_frame,
    const struct channel_ops *ops, void *arg)
{
	int rc;

	memset(ch, 0, sizeof(*ch));
	ch->ops = ops;
	ch->arg = arg;
	ch->max_frame = max_frame ? max_frame : FRAME_MAX_DEFAULT;
	ch->max_queued = CHANNEL_MAX_QUEUED_DEFAULT;
	if (ch->max_queued < 2 * ch->max_frame + FRAME_HEADER_SIZE)
		ch->max_queued = 2 * ch->max_frame + FRAME_HEADER_SIZE;
	frame_decoder_init(&ch->dec, ch->max_frame);
	if ((rc = uv_pipe_init(loop, &ch->pipe, 0)) != 0)
		return rc;
	ch->pipe.data = ch;
	uv_idle_init(loop, &ch->resume);	/* cannot fail */
	ch->resume.data = ch;
	ch->handles = 2;
	ch->open = true;
	return 0;
}

int
channel_open_fd(struct channel *ch, int fd)
{
	return uv_pipe_open(&ch->pipe, fd);
}

uv_stream_t *
channel_stream(struct channel *ch)
{
	return (uv_stream_t *)&ch->pipe;
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct channel *ch = h->data;
	const char *why = ch->why[0] ? ch->why : NULL;

	if (--ch->handles > 0)
		return;
	frame_decoder_free(&ch->dec);
	ch->open = false;
	/* Last use of ch: the owner may free it. */
	ch->ops->on_close(ch, why, ch->arg);
}

void
channel_close(struct channel *ch, const char *why)
{
	if (ch->closing)
		return;
	ch->closing = true;
	if (why != NULL)
		snprintf(ch->why, sizeof(ch->why), "%s", why);
	uv_close((uv_handle_t *)&ch->resume, on_handle_closed);
	uv_close((uv_handle_t *)&ch->pipe, on_handle_closed);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct channel *ch = h->data;
	size_t got, want = frame_decoder_missing(&ch->dec);
	void *p;

	/* libuv suggests 64 KiB; most messages are far smaller, and the
	 * buffer lives as long as the connection.  A large frame begun is
	 * made room for whole: one read, not a growth per 16 KiB. */
	if (want < 16384)
		want = suggested < 16384 ? suggested : 16384;
	p = frame_decoder_reserve(&ch->dec, want, &got);

	*buf = uv_buf_init(p, (unsigned)got);
}

static void on_resume(uv_idle_t *);

/* Enough for this turn: stop reading (the peer's writes back up in the
 * socket) and go on from the buffer on the next turn. */
static void
yield(struct channel *ch)
{
	if (ch->paused)
		return;
	uv_read_stop(channel_stream(ch));
	uv_idle_start(&ch->resume, on_resume);
	ch->paused = true;
}

/* The owner's look at the next frame before it is parsed: true when it
 * took it.  Errors are left to frame_decoder_next to report. */
static bool
taken(struct channel *ch)
{
	const unsigned char *payload;
	size_t n;

	if (frame_decoder_peek(&ch->dec, &payload, &n, NULL) != FRAME_OK)
		return false;
	if (!ch->ops->on_frame(ch, payload, n, ch->arg))
		return false;
	frame_decoder_skip(&ch->dec);
	return true;
}

static void
deliver(struct channel *ch)
{
	struct frame_error err;
	json_t *msg;
	int rc;

	while (!ch->closing) {
		if (ch->burst >= CHANNEL_BURST) {
			yield(ch);
			return;
		}
		if (ch->ops->on_frame != NULL && taken(ch)) {
			ch->burst++;
			continue;
		}
		rc = frame_decoder_next(&ch->dec, &msg, &err);
		if (rc == FRAME_NEED_MORE)
			return;
		if (rc == FRAME_OK) {
			ch->burst++;
			ch->ops->on_msg(ch, msg, ch->arg);
			json_decref(msg);
			continue;
		}
		/* The owner may answer even a fatal error before we close. */
		if (ch->ops->on_bad != NULL)
			ch->ops->on_bad(ch, &err, ch->arg);
		if (frame_status_fatal(rc) || ch->ops->on_bad == NULL) {
			channel_close(ch, err.text);
			return;
		}
	}
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct channel *ch = s->data;
	char why[128];

	(void)buf;
	if (n < 0) {
		/* A reset is the peer going away with our data unread, as
		 * when a process is killed: the same as an EOF to us. */
		if (n == UV_EOF || n == UV_ECONNRESET) {
			if (frame_decoder_pending(&ch->dec) > 0)
				channel_close(ch, "connection closed inside a "
				    "frame");
			else
				channel_close(ch, NULL);
		} else {
			snprintf(why, sizeof(why), "read: %s", uv_strerror(
			    (int)n));
			channel_close(ch, why);
		}
		return;
	}
	frame_decoder_commit(&ch->dec, (size_t)n);
	deliver(ch);
	if (!ch->closing && ch->ops->on_data != NULL)
		ch->ops->on_data(ch, ch->arg);
}

int
channel_start(struct channel *ch)
{
	return uv_read_start(channel_stream(ch), on_alloc, on_read);
}

/* A turn after yield: the next burst from the buffer; reading again
 * once it holds no whole message. */
static void
on_resume(uv_idle_t *h)
{
	struct channel *ch = h->data;

	uv_idle_stop(&ch->resume);
	ch->paused = false;
	ch->burst = 0;
	deliver(ch);
	/* The buffer shrank: its owner counts what it holds. */
	if (!ch->closing && ch->ops->on_data != NULL)
		ch->ops->on_data(ch, ch->arg);
	if (!ch->paused && !ch->closing && channel_start(ch) != 0)
		channel_close(ch, "cannot read again after a burst");
}

static void
on_written(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct channel *ch = w->ch;
	char why[128];

	ch->queued -= w->len;
	free(w->data);
	free(w);
	if (status != 0 && status != UV_ECANCELED && !ch->closing) {
		snprintf(why, sizeof(why), "write: %s", uv_strerror(status));
		channel_close(ch, why);
	}
}

/* Queue what uv_try_write could not send; takes ownership of data. */
static int
queue_rest(struct channel *ch, unsigned char *data, size_t len, size_t off)
{
	struct write_req *w;
	uv_buf_t b;

	if (ch->queued + (len - off) > ch->max_queued) {
		free(data);
		channel_close(ch, "peer is not reading: send queue full");
		return -1;
	}
	w = xcalloc(1, sizeof(*w));
	w->ch = ch;
	w->data = data;
	w->len = len - off;
	b = uv_buf_init((char *)data + off, (unsigned)(len - off));
	if (uv_write(&w->req, channel_stream(ch), &b, 1, on_written) != 0) {
		free(data);
		free(w);
		channel_close(ch, "write failed");
		return -1;
	}
	ch->queued += w->len;
	return 0;
}

/* Never silently: the sender hears of it, and so does the log. */
static int
refuse_too_big(struct channel *ch, const json_t *msg)
{
	const char *type = json_string_value(json_object_get(msg, "type"));

	ch->refused_size = frame_encoded_size(msg);
	log_warn("%s of %zu bytes not sent: over max_frame (%zu bytes)",
	    type != NULL ? type : json_object_get(msg, "re") != NULL ?
	    "answer" : "message", ch->refused_size, ch->max_frame);
	return CHANNEL_ETOOBIG;
}

/* Write a whole frame, or queue what the socket does not take; takes
 * ownership of data. */
static int
send_bytes(struct channel *ch, unsigned char *data, size_t len)
{
	uv_buf_t b;
	int n = 0;

	/* Order matters: only try a direct write when nothing is queued. */
	if (ch->queued == 0) {
		b = uv_buf_init((char *)data, (unsigned)len);
		n = uv_try_write(channel_stream(ch), &b, 1);
		if (n == (int)len) {
			free(data);
			return 0;
		}
		if (n < 0 && n != UV_EAGAIN) {
			free(data);
			channel_close(ch, uv_strerror(n));
			return -1;
		}
		if (n < 0)
			n = 0;
	}
	return queue_rest(ch, data, len, (size_t)n);
}

int
channel_send(struct channel *ch, const json_t *msg)
{
	unsigned char *data;
	size_t len;
	int rc;

	if (ch->closing || !ch->open)
		return -1;
	rc = frame_encode_attach(msg, ch->max_frame, ch->attach_out ?
	    FRAME_ATTACH_MIN : 0, &data, &len);
	if (rc == FRAME_ETOOBIG)
		return refuse_too_big(ch, msg);
	if (rc != FRAME_OK)
		return -1;	/* our own message is wrong: keep the peer */
	return send_bytes(ch, data, len);
}

/* Straight from the caller's buffer (the decoder's, for a frame passed
 * on); a copy of what the socket did not take is queued. */
int
channel_send_frame(struct channel *ch, const unsigned char *payload,
    size_t n)
{
	unsigned char hdr[FRAME_HEADER_SIZE], *rest;
	uv_buf_t b[2];
	size_t done = 0;
	int w;

	if (ch->closing || !ch->open)
		return -1;
	if (n == 0 || n > ch->max_frame || n > UINT32_MAX)
		return CHANNEL_ETOOBIG;
	frame_put_header(hdr, (uint32_t)n);
	if (ch->queued == 0) {
		b[0] = uv_buf_init((char *)hdr, sizeof(hdr));
		b[1] = uv_buf_init((char *)payload, (unsigned)n);
		w = uv_try_write(channel_stream(ch), b, 2);
		if (w < 0 && w != UV_EAGAIN) {
			channel_close(ch, uv_strerror(w));
			return -1;
		}
		done = w > 0 ? (size_t)w : 0;
		if (done == sizeof(hdr) + n)
			return 0;
	}
	rest = xmalloc(sizeof(hdr) + n);
	memcpy(rest, hdr, sizeof(hdr));
	memcpy(rest + sizeof(hdr), payload, n);
	return queue_rest(ch, rest, sizeof(hdr) + n, done);
}

int
channel_send_new(struct channel *ch, json_t *msg)
{
	int rc;

	if (msg == NULL)
		return -1;
	rc = channel_send(ch, msg);
	json_decref(msg);
	return rc;
}
