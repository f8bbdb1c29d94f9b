/*
 * edit.c — replace the one occurrence of a text in a file of the domain
 * folder: the edit_file tool and the edits of a JSON answer.
 *
 * The old text must occur exactly once, counting overlapping
 * occurrences, so that an edit means one place; when it does not occur
 * but would with its lines' blanks trimmed, the refusal says so, since
 * a model's usual mistake is indentation.  The file is rewritten in
 * place through the same descriptor, which keeps its mode and never
 * follows a symlink.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child/worker/path.h"
#include "child/worker/tools.h"
#include "child/worker/tree.h"
#include "common/util.h"

#define EDIT_FILE_MAX	(8 * 1024 * 1024)

/* text with each line's leading and trailing blanks removed. */
static char *
squash(const char *text, size_t len)
{
	char *out = xmalloc(len + 1), *o = out;
	const char *p = text, *eol, *stop = text + len, *e;

	for (; p <= stop; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(stop - p))) == NULL)
			eol = stop;
		while (p < eol && (*p == ' ' || *p == '\t'))
			p++;
		for (e = eol; e > p && (e[-1] == ' ' || e[-1] == '\t' ||
		    e[-1] == '\r'); e--)
			;
		memcpy(o, p, (size_t)(e - p));
		o += e - p;
		if (eol < stop)
			*o++ = '\n';
	}
	*o = '\0';
	return out;
}

/* Does old occur in text once its lines are trimmed of blanks? */
static bool
matches_but_whitespace(const char *text, size_t len, const char *old)
{
	char *t = squash(text, len), *o = squash(old, strlen(old));
	bool found = *o != '\0' && strstr(t, o) != NULL;

	free(t);
	free(o);
	return found;
}

/* Occurrences of old in text, overlapping ones too; the first in *at. */
static size_t
occurrences(const char *text, size_t len, const char *old, size_t olen,
    const char **at)
{
	const char *p = text, *hit;
	size_t n = 0;

	*at = NULL;
	while ((hit = memmem(p, len - (size_t)(p - text), old, olen)) != NULL) {
		if (n++ == 0)
			*at = hit;
		p = hit + 1;
	}
	return n;
}

static int
rewrite(int fd, const char *text, size_t len, const char *at, size_t olen,
    const char *new)
{
	size_t head = (size_t)(at - text), nlen = strlen(new);

	if (lseek(fd, 0, SEEK_SET) != 0 || ftruncate(fd, 0) != 0 ||
	    write_all(fd, text, head) != 0 || write_all(fd, new, nlen) != 0 ||
	    write_all(fd, at + olen, len - head - olen) != 0)
		return -1;
	return 0;
}

int
tools_edit(int dirfd, const char *path, const char *old, const char *new,
    char **why)
{
	const char *reason = NULL, *at;
	char *text = NULL;
	size_t len, olen = strlen(old), n;
	int fd, rc = -1;

	*why = NULL;
	if (olen == 0) {
		*why = xstrdup("old must not be empty");
		return -1;
	}
	fd = path_open_beneath(dirfd, path, O_RDWR | O_NONBLOCK, 0,
	    PATH_DENY_GIT, &reason);
	if (fd < 0) {
		*why = xasprintf("%s: %s", path, errno == ENOENT ?
		    "no such file" : errno == EISDIR ?
		    "is a folder, not a file" : reason);
		return -1;
	}
	if (tree_read_fd(fd, EDIT_FILE_MAX, &text, &len, &reason) != 0)
		*why = xasprintf("%s: %s", path, reason);
	else if ((n = occurrences(text, len, old, olen, &at)) == 0)
		*why = xasprintf("old text not found in %s%s", path,
		    matches_but_whitespace(text, len, old) ?
		    "; it differs in whitespace (indentation, spaces or line "
		    "ends)" : "");
	else if (n > 1)
		*why = xasprintf("old text found %zu times in %s: include more "
		    "surrounding lines", n, path);
	else if (rewrite(fd, text, len, at, olen, new) != 0)
		*why = xasprintf("%s: %s", path, strerror(errno));
	else
		rc = 0;
	free(text);
	close(fd);
	return rc;
}
