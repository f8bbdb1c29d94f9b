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
	/* CHAN_CONTROL: from masterd, on a watch stream */
	CTL_EVENT,
	MSG_TYPE_COUNT
};

/* Field type bits. */
enum msg_ftype {
	FT_STRING = 1 << 0,
	FT_INTEGER = 1 << 1,
	FT_REAL = 1 << 2,
	FT_BOOL = 1 << 3,
	FT_OBJECT = 1 << 4,
	FT_ARRAY = 1 << 5,
	FT_NULL = 1 << 6,
	FT_NUMBER = FT_INTEGER | FT_REAL,
	FT_ANY = 0x7f,
};

struct msg_field {
	const char *name;
	unsigned types;		/* enum msg_ftype bits */
	bool required;
};

struct msg_spec {
	enum msg_type type;
	enum msg_chan chan;
	const char *name;	/* the "type" string on the wire */
	unsigned from;		/* enum msg_peer bits */
	const struct msg_field *fields;	/* NULL-name terminated */
	const char *summary;
};

/* Error codes carried in {"ok":false,"error":{"code":...}} and MSG_ERROR. */
#define ERR_BAD_FRAME	"bad_frame"
#define ERR_BAD_REQUEST	"bad_request"
#define ERR_UNKNOWN	"unknown_type"
#define ERR_NOT_FOUND	"not_found"
#define ERR_REFUSED	"refused"
#define ERR_CONFLICT	"conflict"
#define ERR_BUSY	"busy"
#define ERR_VERSION	"version_mismatch"
#define ERR_INTERNAL	"internal"
#define ERR_STORAGE	"storage"

const struct msg_spec *msg_spec(enum msg_type);
const struct msg_spec *msg_find(enum msg_chan, const char *name);
const char *msg_name(enum msg_type);
const char *msg_peer_name(unsigned peer);

/*
 * Check a decoded message against the catalogue: "type" known on this
 * channel, sender allowed, "id" a non-negative integer, required fields
 * present, every known field of the right type.  Unknown extra fields are
 * allowed so that newer peers can add them.  On failure returns -1 with a
 * one-line reason in err; on success stores the spec.
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

/* The id of a message, or -1 when it has none. */
json_int_t msg_id(const json_t *msg);

#endif
