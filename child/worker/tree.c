/*
 * tree.c — walk and read a domain's folder beneath an open directory,
 * never through a symlink.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child/worker/path.h"
#include "child/worker/tree.h"
#include "common/util.h"

#define TREE_DEPTH_MAX	32

static int
refuse(const char **why, const char *reason, int err)
{
	*why = reason;
	errno = err;
	return -1;
}

static void
tree_add(struct tree *t, const char *path, off_t size)
{
	if (t->n == TREE_MAX) {
		t->truncated = true;
		return;
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n++] = (struct tree_file){ xstrdup(path), size };
}

/* A name the tools would take back as a path component. */
static bool
usable_name(const char *name)
{
	size_t len = strlen(name), n;

	if (strcasecmp(name, ".git") == 0)
		return false;
	for (size_t i = 0; i < len; i += n) {
		const unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c == 0x7f || c == '\\')
			return false;
		if ((n = utf8_seq((const unsigned char *)name + i,
		    len - i)) == 0)
			return false;
	}
	return true;
}

/* fd: an open directory, closed here; prefix: its path ("" for the
 * root). */
static void
walk_dir(int fd, const char *prefix, int depth, struct tree *t)
{
	struct dirent *e;
	struct stat st;
	char path[PATH_MAX];
	DIR *d;
	int sub;

	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL && !t->truncated) {
		if (strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0 || !usable_name(e->d_name))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", prefix,
		    *prefix ? "/" : "", e->d_name) >= sizeof(path))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISREG(st.st_mode))
			tree_add(t, path, st.st_size);
		else if (S_ISDIR(st.st_mode) && depth < TREE_DEPTH_MAX &&
		    (sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) >= 0)
			walk_dir(sub, path, depth + 1, t);
	}
	closedir(d);
}

static int
by_path(const void *a, const void *b)
{
	return strcmp(((const struct tree_file *)a)->path,
	    ((const struct tree_file *)b)->path);
}

/* Why sub could not be opened as a folder: O_NOFOLLOW|O_DIRECTORY says
 * ENOTDIR for a symlink as for a file, so look at what is there. */
static int
not_a_folder(int dirfd, const char *sub, const char **why)
{
	const char *w;
	struct stat st;
	int err = errno, fd;

	if (err == ENOENT)
		return refuse(why, "no such folder", err);
	if (err != ENOTDIR || strcmp(*why, "cannot open file") != 0)
		return refuse(why, *why, err);
	fd = path_open_beneath(dirfd, sub, O_PATH, 0, PATH_DENY_GIT, &w);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
		close(fd);
		return refuse(why, "path is a symlink", ELOOP);
	}
	if (fd >= 0)
		close(fd);
	return refuse(why, "not a folder", ENOTDIR);
}

int
tree_walk(int dirfd, const char *sub, struct tree *t, const char **why)
{
	char norm[PATH_MAX];
	int fd;

	memset(t, 0, sizeof(*t));
	if (sub == NULL || *sub == '\0' || strcmp(sub, ".") == 0) {
		norm[0] = '\0';
		fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return refuse(why, "cannot open the domain folder",
			    errno);
	} else {
		if (path_normalise(sub, PATH_DENY_GIT, norm, sizeof(norm),
		    why) != 0)
			return -1;
		fd = path_open_beneath(dirfd, norm, O_RDONLY | O_DIRECTORY, 0,
		    PATH_DENY_GIT, why);
		if (fd < 0)
			return not_a_folder(dirfd, norm, why);
	}
	walk_dir(fd, norm, 0, t);
	if (t->n > 1)
		qsort(t->v, t->n, sizeof(*t->v), by_path);
	return 0;
}

void
tree_free(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].path);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static int
read_all(int fd, size_t size, char **buf, size_t *len)
{
	char *b = xmalloc(size + 1);
	size_t got = 0;
	ssize_t n;

	/* The file may change under us: read what is there, up to size. */
	while (got < size) {
		n = read(fd, b + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(b);
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	return 0;
}

int
tree_read_fd(int fd, size_t max, char **buf, size_t *len, const char **why)
{
	struct stat st;

	*buf = NULL;
	*len = 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return refuse(why, "not a regular file", EINVAL);
	if ((uintmax_t)st.st_size > max)
		return refuse(why, "file too large", EFBIG);
	if (read_all(fd, (size_t)st.st_size, buf, len) != 0)
		return refuse(why, "cannot read file", EIO);
	return 0;
}

int
tree_read(int dirfd, const char *path, size_t max, char **buf, size_t *len,
    const char **why)
{
	int fd, rc, err;

	*buf = NULL;
	*len = 0;
	fd = path_open_beneath(dirfd, path, O_RDONLY | O_NONBLOCK, 0,
	    PATH_DENY_GIT, why);
	if (fd < 0)
		return refuse(why, errno == ENOENT ? "no such file" : *why,
		    errno);
	rc = tree_read_fd(fd, max, buf, len, why);
	err = errno;
	close(fd);
	errno = err;
	return rc;
}

int
tree_read_head(int dirfd, const char *path, size_t max, char **buf,
    size_t *len, const char **why)
{
	struct stat st;
	int fd, rc;

	*buf = NULL;
	*len = 0;
	fd = path_open_beneath(dirfd, path, O_RDONLY | O_NONBLOCK, 0,
	    PATH_DENY_GIT, why);
	if (fd < 0)
		return refuse(why, errno == ENOENT ? "no such file" : *why,
		    errno);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return refuse(why, "not a regular file", EINVAL);
	}
	rc = read_all(fd, (uintmax_t)st.st_size < max ? (size_t)st.st_size :
	    max, buf, len);
	close(fd);
	if (rc != 0)
		return refuse(why, "cannot read file", EIO);
	return 0;
}

bool
tree_is_binary(const char *buf, size_t len)
{
	return memchr(buf, '\0', len) != NULL;
}

/* ------------------------------------------------------------ text */

void
tbuf_addn(struct tbuf *t, const char *s, size_t n)
{
	t->s = xgrow(t->s, &t->cap, t->len + n + 1, 1024, SIZE_MAX / 2);
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

void
tbuf_add(struct tbuf *t, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	tbuf_addn(t, s, strlen(s));
	free(s);
}

char *
tbuf_take(struct tbuf *t)
{
	char *s = t->s != NULL ? t->s : xstrdup("");

	memset(t, 0, sizeof(*t));
	return s;
}
