/*
 * termsafe.h — text from masterd made safe to show on a terminal.
 *
 * A model's text, a task's text, an error message: anything masterd sends
 * may hold terminal control sequences (ESC [ ..., OSC 52 writing the
 * clipboard, a C1 CSI).  masterctl prints its human output through a
 * stream that shows every control character as a visible escape: C0
 * other than newline and tab as \xNN, DEL as \x7f, the C1 controls
 * (U+0080..U+009F, which arrive UTF-8 encoded) as \uNNNN.  Everything else,
 * other UTF-8 included, passes as it is.
 */
#ifndef COMMON_TERMSAFE_H
#define COMMON_TERMSAFE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct termsafe {
	int fd;			/* where the escaped text goes */
	bool lead;		/* a 0xC2 byte held from the last write */
};

/* Escape n bytes of s into out (room for 6 * n + 7 bytes); returns the
 * length written.  A trailing 0xC2 is held in ts until the next call. */
size_t termsafe_escape(struct termsafe *ts, const char *s, size_t n,
    char *out);

/* A write-only stream escaping into fd (buffered as mode: _IOLBF, ...);
 * NULL on failure. */
FILE *termsafe_open(int fd, int mode);

#endif
