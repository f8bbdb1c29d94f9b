/*
 * handshake.c — the child end of a channel, shared by the relay and the
 * worker: arguments, the answer to hello, error messages.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/handshake.h"
#include "common/config.h"
#include "proto/msg.h"

int
child_args_parse(int argc, char **argv, const char *prog,
    struct child_args *a)
{
	static const struct option longopts[] = {
		{ "domain", required_argument, NULL, 'd' },
		{ "task", required_argument, NULL, 't' },
		{ "state", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "role", required_argument, NULL, 'r' },
		{ "parent", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':	a->domain = optarg; break;
		case 't':	a->task = optarg; break;
		case 's':	a->state = optarg; break;
		case 'c':	a->config = optarg; break;
		case 'r':	a->role = optarg; break;
		case 'p':	a->parent = optarg; break;
		default:	goto usage;
		}
	}
	if (a->domain == NULL || !conf_domain_name_ok(a->domain) ||
	    a->task == NULL || atoll(a->task) <= 0 || a->state == NULL ||
	    a->state[0] != '/' || fcntl(CHILD_CHANNEL_FD, F_GETFD) < 0 ||
	    (a->role != NULL && strcmp(a->role, "planner") != 0) ||
	    (a->parent != NULL && atoll(a->parent) <= 0))
		goto usage;
	return 0;
usage:
	fprintf(stderr, "%s: started by masterd only (--domain NAME --task ID "
	    "--state DIR [--config FILE] [--role planner] [--parent PID], "
	    "channel on fd %d)\n", prog, CHILD_CHANNEL_FD);
	return -1;
}

json_t *
child_error_new(json_int_t *ids, json_int_t re, const char *code,
    const char *text)
{
	json_t *m = msg_new(MSG_ERROR, ++*ids);

	json_object_set_new(m, "code", json_string(code));
	json_object_set_new(m, "message", json_string(text));
	if (re >= 0)
		json_object_set_new(m, "re", json_integer(re));
	return m;
}

int
child_hello_answer(struct channel *ch, json_int_t *ids, const json_t *hello,
    const char *domain, char *err, size_t errlen)
{
	json_int_t v = json_integer_value(json_object_get(hello, "version"));
	json_int_t max = json_integer_value(json_object_get(hello,
	    "max_frame"));
	json_t *m;

	if (v != PROTO_VERSION) {
		snprintf(err, errlen, "protocol version mismatch: child speaks "
		    "%d, masterd speaks %lld", PROTO_VERSION, (long long)v);
		return -1;
	}
	/* Take the peer's frame limit, so we accept what it may send. */
	if (max > 0) {
		ch->max_frame = (size_t)max;
		ch->dec.max = (size_t)max;
	}
	m = msg_new(MSG_HELLO, ++*ids);
	json_object_set_new(m, "version", json_integer(PROTO_VERSION));
	json_object_set_new(m, "role", json_string("child"));
	json_object_set_new(m, "domain", json_string(domain));
	json_object_set_new(m, "pid", json_integer(getpid()));
	channel_send_new(ch, m);
	m = msg_new(MSG_READY, ++*ids);
	json_object_set_new(m, "domain", json_string(domain));
	channel_send_new(ch, m);
	return 0;
}
