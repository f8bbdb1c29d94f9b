/*
 * repo_err.c — the one way the files of common/repo*.c say what went
 * wrong (repo_err.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include <git2.h>

#include "common/repo_err.h"

int
repo_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int
repo_gfail(char *err, size_t errlen, const char *fmt, ...)
{
	const git_error *e = git_error_last();
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return repo_fail(err, errlen, "%s: %s", what,
	    e != NULL && e->message != NULL ? e->message :
	    "unknown libgit2 error");
}
