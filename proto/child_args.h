/*
 * child_args.h — the command line of masterd-child and masterd-worker:
 * built by the parent that spawns one, parsed by the child.  Kept apart
 * from the worker's files so that the relay links it without libcurl or
 * libgit2.
 */
#ifndef PROTO_CHILD_ARGS_H
#define PROTO_CHILD_ARGS_H

struct child_args {
	const char *domain;
	const char *task;
	const char *state;
	const char *config;
	const char *role;	/* NULL, "planner" or "integrator" */
	const char *parent;	/* the relay's pid, for a worker */
};

/* Room for the program, every option and the NULL. */
#define CHILD_ARGV_MAX	16

/* The argv that starts prog with these arguments (pointers into a). */
void child_args_argv(const struct child_args *a, const char *prog,
    char *argv[CHILD_ARGV_MAX]);

/* 0, or -1 after printing how the program is started to stderr. */
int child_args_parse(int argc, char **argv, const char *prog,
    struct child_args *);

#endif
