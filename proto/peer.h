/*
 * peer.h — a supervised process and its channel, both ends.
 *
 * The parent end (struct peer) is what masterd does for each relay and a
 * relay for its worker: spawn a program with one end of a socketpair on
 * fd 3, say hello, wait for hello and ready within a deadline, ping and
 * notice missed pongs, stop it with the ladder shutdown → SIGTERM →
 * SIGKILL, read its last words after it exits, and report the exit once
 * the process is reaped and the channel closed.  The owner keeps only its
 * policy (when to start, restart or give up) in the peer_ops callbacks.
 *
 * The child end is what the relay and the worker share: the channel to
 * the parent on fd 3, the answers to hello and ping, shutdown, errors.
 */
#ifndef PROTO_PEER_H
#define PROTO_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "proto/channel.h"
#include "proto/msg.h"

#define CHILD_CHANNEL_FD	3

/* A child exiting with this status asks not to be restarted (sysexits
 * EX_CONFIG: a bad key or configuration a restart cannot fix). */
#define CHILD_EXIT_NORESTART	78

enum peer_state {
	PEER_IDLE,		/* no process */
	PEER_STARTING,		/* hello sent; waiting for hello and ready */
	PEER_READY,		/* takes messages; pinged */
	PEER_STOPPING,		/* asked to stop, or killed; exit awaited */
	PEER_EXITED,		/* reaped; its last words still being read */
};

enum peer_fault {
	PEER_FAULT_VERSION,	/* its hello speaks another version */
	PEER_FAULT_HANDSHAKE,	/* ready before hello */
	PEER_FAULT_NOT_READY,	/* no ready within the deadline */
	PEER_FAULT_NO_PONG,	/* no pong within the timeout */
	PEER_FAULT_MESSAGE,	/* a message the catalogue refuses */
	PEER_FAULT_CHANNEL,	/* a bad frame or a broken socket */
};

/* How far the stop ladder has gone. */
enum peer_stop_step {
	PEER_STOP_NONE,
	PEER_STOP_SHUTDOWN,	/* shutdown sent; SIGTERM next */
	PEER_STOP_TERM,		/* SIGTERM sent; SIGKILL next */
};

struct peer;

struct peer_ops {
	/* Hello and ready seen: it takes messages. */
	void (*on_ready)(struct peer *);
	/* Any valid message but hello, ready and pong, in any state. */
	void (*on_message)(struct peer *, const struct msg_spec *,
	    json_t *msg);
	/* It misbehaved; it is killed (SIGKILL) right after the call. */
	void (*on_fault)(struct peer *, enum peer_fault, const char *why);
	/* Reaped and its channel closed: the peer is PEER_IDLE again and may
	 * be started anew or closed from here. */
	void (*on_exit)(struct peer *);
	/* Optional: bring p->conf up to date (a reload) before a ping's
	 * timeout check and each step of the stop ladder. */
	void (*refresh)(struct peer *);
	/* Optional: a frame from a ready peer before it is parsed; true when
	 * the owner took it as it is (passed it on), and it is neither
	 * parsed nor validated here: whoever parses it in the end checks
	 * it.  Not asked for frames before ready. */
	bool (*on_frame)(struct peer *, const unsigned char *payload,
	    size_t n);
};

/* The owner's settings; it may change them between calls, or in
 * ops->refresh (a reload). */
struct peer_conf {
	const char *domain;	/* for hello */
	json_int_t task;
	size_t max_frame;
	uint64_t ready_ms;	/* from spawn to ready */
	uint64_t ping_ms;	/* the ping tick; 0: peer_ping() only */
	uint64_t pong_timeout_ms;
	uint64_t grace_ms;	/* shutdown to SIGTERM, SIGTERM to SIGKILL */
	json_int_t hello_ping_timeout;	/* passed on in hello if > 0 */
	bool own_session;	/* detached: signals reach its whole group */
};

struct peer {
	uv_loop_t *loop;
	const struct peer_ops *ops;
	void *arg;		/* the owner's */
	json_int_t *ids;	/* the owner's message id counter */
	char label[64];		/* "domain alpha", "the worker": for logs */
	struct peer_conf conf;

	enum peer_state state;
	uv_process_t proc;
	struct channel ch;
	uv_timer_t timer;	/* the ready deadline, then the ping tick */
	uv_timer_t ladder;	/* the stop ladder, or the drain after exit */
	int handles;		/* initialised and not yet closed */
	void (*closed)(struct peer *);	/* peer_close()'s, once all are */

	bool proc_running;	/* spawned, exit not seen */
	bool proc_closing;	/* its handle not yet released */
	bool ch_open;		/* channel not yet closed */
	bool hello_seen;
	enum peer_stop_step stop_step;
	int pid;
	uint64_t spawned_ms;
	uint64_t last_pong_ms;
	bool pong_recheck;	/* found overdue; judged after one more turn */
	bool ready_recheck;	/* the ready deadline passed; likewise */
	int64_t exit_status;
	int term_signal;
};

const char *peer_state_name(enum peer_state);

void peer_init(struct peer *, uv_loop_t *, const char *label,
    const struct peer_ops *, void *arg, json_int_t *ids);
/* Spawn argv[0] with the channel on fd 3 and say hello: 0, or -1 with the
 * reason in err. */
int peer_start(struct peer *, char *const argv[], char *err, size_t errlen);
/* Steals msg; -1 if it cannot be sent.  A task.assign, directive,
 * interface.peers or plan.request over max_frame has its longest strings
 * cut to fit (logged); another is refused with CHANNEL_ETOOBIG (logged). */
int peer_send(struct peer *, json_t *msg);
/* Ping it, unless a pong is overdue: then it is a fault. */
void peer_ping(struct peer *);
/* The stop ladder: shutdown (with why), SIGTERM after grace_ms, SIGKILL
 * after grace_ms more; nothing new if it is stopping or gone already.
 * false when nothing runs (on_exit will not come). */
bool peer_stop(struct peer *, const char *why);
/* "exited with status 3", "killed by signal 9 (Killed)". */
void peer_exit_desc(const struct peer *, char *buf, size_t len);
/* Release the handles of an idle peer; closed() (may be NULL) once
 * libuv has let go of them all. */
void peer_close(struct peer *, void (*closed)(struct peer *));

/* ---------------------------------------------------------- child end */

/* An error message; re < 0 when it answers nothing. */
json_t *peer_error_new(json_int_t *ids, json_int_t re, const char *code,
    const char *text);

/*
 * What a child sends in place of msg when msg is over the frame limit
 * (channel_send said CHANNEL_ETOOBIG), so the work it reports on still
 * ends, with a reason naming the message, its size and the limit: a
 * plan.result or integrate.result that failed, a round that failed (final
 * when msg was), a progress without its text; anything else becomes an
 * error message.  Returns a new message, small enough to send.
 */
json_t *peer_too_big_new(json_int_t *ids, const json_t *msg, size_t size,
    size_t limit);

/* The channel to the parent on fd 3, which what this process runs does
 * not inherit: 0, or -1 (logged). */
int peer_parent_open(uv_loop_t *, struct channel *,
    const struct channel_ops *, void *arg);

/*
 * The child end's share of a message from the parent: one the catalogue
 * refuses is answered with an error; hello is answered with hello and
 * ready (the parent's frame limit taken); ping with pong (busy or not).
 * Returns the message's spec for the caller to act on (hello and ping
 * included), or NULL when nothing is left to do.  *stop is the exit code
 * when the child must stop: 0 after shutdown, CHILD_EXIT_NORESTART after a
 * hello of another protocol version (answered and logged); else -1.
 */
const struct msg_spec *peer_parent_msg(struct channel *, json_int_t *ids,
    const char *domain, bool busy, const json_t *msg, int *stop);

#endif
