/*
 * msg.h — the message catalogue: every message type of both channels, its
 * fields and who may send it.  docs/protocol.md is the prose version of the
 * table in msg.c; keep them together.
 *
 * Two channels share the framing:
 *   CHAN_CHILD    masterd <-> masterd-child, over the socketpair on fd 3
 *   CHAN_CONTROL  masterctl <-> masterd, over the control socket
 */
#ifndef PROTO_MSG_H
#define PROTO_MSG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/shape.h"
#include "proto/vocab.h"

#define PROTO_VERSION 1

enum msg_chan {
	CHAN_CHILD,
	CHAN_CONTROL,
};

enum msg_peer {
	PEER_MASTER = 1 << 0,
	PEER_CHILD = 1 << 1,
	PEER_CLIENT = 1 << 2,
};

enum msg_type {
	MSG_NONE = 0,
	/* CHAN_CHILD */
	MSG_HELLO,
	MSG_READY,
	MSG_PING,
	MSG_PONG,
	MSG_SHUTDOWN,
	MSG_CANCEL,
	MSG_TASK_ASSIGN,
	MSG_DIRECTIVE,
	MSG_INTERFACE_PEERS,
	MSG_INTERFACE_PUBLISH,
	MSG_PROGRESS,
	MSG_ROUND,
	MSG_PLAN_REQUEST,
	MSG_PLAN_RESULT,
	MSG_INTEGRATE_REQUEST,
	MSG_INTEGRATE_RESULT,
	MSG_PROVIDERS,
	MSG_PROVIDER_REPORT,
	MSG_ERROR,
	/* CHAN_CONTROL: requests from masterctl */
	CTL_SUBMIT,
	CTL_STATUS,
	CTL_TASKS,
	CTL_TASK,
	CTL_DOMAINS,
	CTL_INTERFACE,
	CTL_INTERFACES,
	CTL_DIRECTIVE,
	CTL_SPAWN,
	CTL_RESTART,
	CTL_PAUSE,
	CTL_RESUME,
	CTL_CANCEL,
	CTL_WATCH,
	CTL_STOP,
	CTL_TRANSCRIPT,
	CTL_BUDGET,
	CTL_BACKUP,
	CTL_PRUNE,
	CTL_METRICS,
	CTL_RELOAD,
	CTL_PACK,
	CTL_IMPORT,
	CTL_QUESTIONS,
	CTL_ANSWER,
	CTL_DEADLINE,
	CTL_APPROVE,
	CTL_REJECT,
	/* CHAN_CONTROL: from masterd, on a watch stream */
	CTL_EVENT,
	MSG_TYPE_COUNT
};

struct msg_spec {
	enum msg_type type;
	enum msg_chan chan;
	const char *name;	/* the "type" string on the wire */
	unsigned from;		/* enum msg_peer bits */
	const struct shape_field *fields;	/* members, NULL-name ended */
	const char *summary;
};

/* Error codes: proto/vocab.h. */

const struct msg_spec *msg_spec(enum msg_type);
const struct msg_spec *msg_find(enum msg_chan, const char *name);
const char *msg_name(enum msg_type);
const char *msg_peer_name(unsigned peer);

/*
 * Check a decoded message against the catalogue: "type" known on this
 * channel, sender allowed, "id" a non-negative integer, required fields
 * present, every known field of the right type (common/shape.h).  Unknown
 * extra fields are allowed so that newer peers can add them.  On failure
 * returns -1 with a one-line reason in err ("task.assign: text: missing");
 * on success stores the spec.
 */
int msg_validate(const json_t *msg, enum msg_chan, unsigned from,
    const struct msg_spec **spec, char *err, size_t errlen);

/* {"type": name, "id": id} — callers add the fields. */
json_t *msg_new(enum msg_type, json_int_t id);

/* Replies on the control channel: {"re": id, "ok": true|false, ...}. */
json_t *msg_reply_ok(json_int_t re);
json_t *msg_reply_error(json_int_t re, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
json_t *msg_reply_verror(json_int_t re, const char *code, const char *fmt,
    va_list ap);

/*
 * interface.peers carries every peer's interface (at a child's start) or,
 * with "update": true, only those that changed: each replaces the one of
 * the same "domain" in peers, or joins it (peers stays ordered by domain
 * name, as masterd sends it).  Items without a domain are skipped.
 */
void msg_peers_merge(json_t *peers, const json_t *update);

/* The id of a message, or -1 when it has none. */
json_int_t msg_id(const json_t *msg);

#endif
