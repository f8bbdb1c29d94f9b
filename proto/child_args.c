/*
 * child_args.c — the command line a parent gives masterd-child or
 * masterd-worker: built on one end, parsed and checked on the other.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "proto/child_args.h"
#include "proto/peer.h"

void
child_args_argv(const struct child_args *a, const char *prog,
    char *argv[CHILD_ARGV_MAX])
{
	const struct {
		const char *opt;
		const char *value;
	} opts[] = {
		{ "--domain", a->domain },
		{ "--task", a->task },
		{ "--state", a->state },
		{ "--parent", a->parent },
		{ "--config", a->config },
		{ "--role", a->role },
	};
	int n = 0;

	argv[n++] = (char *)prog;
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (opts[i].value == NULL)
			continue;
		argv[n++] = (char *)opts[i].opt;
		argv[n++] = (char *)opts[i].value;
	}
	argv[n] = NULL;
}

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
	    (a->role != NULL && strcmp(a->role, "planner") != 0 &&
	    strcmp(a->role, "integrator") != 0) ||
	    (a->parent != NULL && atoll(a->parent) <= 0))
		goto usage;
	return 0;
usage:
	fprintf(stderr, "%s: started by masterd only (--domain NAME --task ID "
	    "--state DIR [--config FILE] [--role planner|integrator] [--parent PID], "
	    "channel on fd %d)\n", prog, CHILD_CHANNEL_FD);
	return -1;
}
