/*
 * confine.h — the two kernel confinements of the sandbox's command, each
 * in a file of its own: Landlock (landlock.c) for the file system and
 * scoping, seccomp (syscalls.c) for system calls.  sandbox.c calls them
 * in the command's process, after the mounts, before exec.
 */
#ifndef CHILD_CONFINE_H
#define CHILD_CONFINE_H

#include <stddef.h>

/* landlock.c: the kernel's ABI version (0: none), and confining this
 * process. */
struct landlock_paths {
	char *const *ro;	/* read and execute beneath */
	size_t nro;
	char *const *rw;	/* everything beneath */
	size_t nrw;
};
int landlock_abi(void);
int landlock_confine(int abi, const struct landlock_paths *, char *err,
    size_t errlen);

/* syscalls.c: the seccomp filter on this process. */
int seccomp_confine(char *err, size_t errlen);

#endif
