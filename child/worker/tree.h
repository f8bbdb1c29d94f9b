/*
 * tree.h — the regular files of a domain's folder, walked and read
 * without following a symlink, for the tools and the prompts' picture of
 * the domain; and the growing text they are written into.
 *
 * A walk skips ".git" (in any case), symlinks, special files and names a
 * model could not give back as a path (path.h's rules, valid UTF-8), so
 * that every path it lists is one the tools accept.
 */
#ifndef CHILD_WORKER_TREE_H
#define CHILD_WORKER_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tree_file {
	char *path;		/* relative to the domain folder */
	off_t size;
};

struct tree {
	struct tree_file *v;
	size_t n, cap;
	bool truncated;		/* more files than TREE_MAX */
};

#define TREE_MAX	20000

/*
 * The files under sub (a folder relative to dirfd; NULL or "" for the
 * folder itself), sorted by path.  0, or -1 with why (errno set).
 */
int tree_walk(int dirfd, const char *sub, struct tree *, const char **why);
void tree_free(struct tree *);

/*
 * A regular file under dirfd read whole into *buf (NUL-terminated, len
 * bytes), refused past max bytes.  Opened without blocking, so that a
 * FIFO planted in the folder is refused, not waited on.  0, or -1 with why: "no such file",
 * "not a regular file", "file too large" or path.h's reason.
 */
int tree_read(int dirfd, const char *path, size_t max, char **buf,
    size_t *len, const char **why);

/* At most the first max bytes of a regular file, however large it is. */
int tree_read_head(int dirfd, const char *path, size_t max, char **buf,
    size_t *len, const char **why);

/* The same from an open file (not closed here). */
int tree_read_fd(int fd, size_t max, char **buf, size_t *len,
    const char **why);

/* A growing text (tools' results, the prompts' pictures). */
struct tbuf {
	char *s;
	size_t len, cap;
};

void tbuf_add(struct tbuf *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tbuf_addn(struct tbuf *, const char *s, size_t n);
/* The text, malloc'd ("" when nothing was added); the tbuf is spent. */
char *tbuf_take(struct tbuf *);

/* Does the text hold a NUL byte (a binary file)? */
bool tree_is_binary(const char *buf, size_t len);

#endif
