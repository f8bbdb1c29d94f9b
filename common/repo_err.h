/*
 * repo_err.h — how the files of common/repo*.c say what went wrong: into
 * the caller's err buffer, returning -1.  Not for the callers of repo.h.
 */
#ifndef COMMON_REPO_ERR_H
#define COMMON_REPO_ERR_H

#include <stddef.h>

/* The message into err (when there is room), and -1. */
int repo_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "what we tried: libgit2's message" into err, and -1. */
int repo_gfail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
