/*
 * handshake.h — what masterd-child (the relay) and masterd-worker share
 * as the child end of a channel: their arguments, the answer to `hello`,
 * and error messages.  Kept apart from the worker's files so that the
 * relay links it without libcurl or libgit2.
 */
#ifndef PROTO_HANDSHAKE_H
#define PROTO_HANDSHAKE_H

#include <jansson.h>

#include "proto/channel.h"

#define CHILD_CHANNEL_FD	3

/* A child exiting with this status asks not to be restarted (sysexits
 * EX_CONFIG: a bad key or configuration a restart cannot fix). */
#define CHILD_EXIT_NORESTART	78

struct child_args {
	const char *domain;
	const char *task;
	const char *state;
	const char *config;
	const char *role;	/* NULL or "planner" */
	const char *parent;	/* the relay's pid, for a worker */
};

/* 0, or -1 after printing how the program is started to stderr. */
int child_args_parse(int argc, char **argv, const char *prog,
    struct child_args *);

/* An error message; re < 0 when it answers nothing. */
json_t *child_error_new(json_int_t *ids, json_int_t re, const char *code,
    const char *text);

/*
 * Answer the peer's hello: take its frame limit and send hello and ready.
 * -1 with the reason in err if it speaks another protocol version (the
 * caller reports it and exits CHILD_EXIT_NORESTART).
 */
int child_hello_answer(struct channel *, json_int_t *ids, const json_t *hello,
    const char *domain, char *err, size_t errlen);

#endif
