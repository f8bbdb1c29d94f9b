/*
 * path.c — lexical normalisation and symlink-free walks under a root.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child/worker/path.h"
#include "common/gitname.h"

#define PATH_DEPTH_MAX 32

static int
refuse(const char **why, const char *reason, int err)
{
	if (why != NULL)
		*why = reason;
	errno = err;
	return -1;
}

/* Check one component; returns NULL when it is acceptable. */
static const char *
bad_component(const char *c, size_t n, unsigned opts)
{
	if (n == 2 && c[0] == '.' && c[1] == '.')
		return "path contains \"..\"";
	if (n > NAME_MAX)
		return "path component too long";
	if ((opts & PATH_DENY_GIT) && gitname_is_dotgit(c, n))
		return "path leads into .git";
	return NULL;
}

int
path_normalise(const char *in, unsigned opts, char *out, size_t outlen,
    const char **why)
{
	const char *p = in, *bad;
	size_t o = 0;
	int depth = 0;

	if (in == NULL || *in == '\0')
		return refuse(why, "empty path", EINVAL);
	if (*in == '/')
		return refuse(why, "absolute path", EPERM);
	for (const unsigned char *s = (const unsigned char *)in; *s; s++) {
		if (*s < 0x20 || *s == 0x7f)
			return refuse(why, "control character in path", EINVAL);
		if (*s == '\\')
			return refuse(why, "backslash in path", EINVAL);
	}
	while (*p != '\0') {
		const char *c = p;
		size_t n;

		while (*p != '\0' && *p != '/')
			p++;
		n = (size_t)(p - c);
		while (*p == '/')
			p++;
		if (n == 0 || (n == 1 && c[0] == '.'))
			continue;
		if ((bad = bad_component(c, n, opts)) != NULL)
			return refuse(why, bad, EPERM);
		if (o + (o > 0) + n + 1 > outlen || o + n >= PATH_MAX)
			return refuse(why, "path too long", ENAMETOOLONG);
		/* git refuses trees nested deeper than 100: stay well below. */
		if (++depth > PATH_DEPTH_MAX)
			return refuse(why, "path nested too deep", EINVAL);
		if (o > 0)
			out[o++] = '/';
		memcpy(out + o, c, n);
		o += n;
	}
	if (o == 0)
		return refuse(why, "path names the root itself", EINVAL);
	out[o] = '\0';
	return 0;
}

/*
 * Open the directory that holds the last component of norm, walking from
 * rootfd without following symlinks.  *last points into norm.
 */
static int
open_parent(int rootfd, char *norm, unsigned opts, char **last,
    const char **why)
{
	const int dflags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	char *c = norm, *slash;
	int dirfd, next;

	if ((dirfd = openat(rootfd, ".", dflags)) < 0)
		return refuse(why, "cannot open root directory", errno);
	while ((slash = strchr(c, '/')) != NULL) {
		*slash = '\0';
		next = openat(dirfd, c, dflags);
		if (next < 0 && errno == ENOENT && (opts & PATH_MKDIRS)) {
			if (mkdirat(dirfd, c, 0755) != 0 && errno != EEXIST)
				goto fail;
			next = openat(dirfd, c, dflags);
		}
		*slash = '/';
		if (next < 0)
			goto fail;
		close(dirfd);
		dirfd = next;
		c = slash + 1;
	}
	*last = c;
	return dirfd;
fail:
	{
		int err = errno;

		close(dirfd);
		/* O_NOFOLLOW|O_DIRECTORY on a symlink gives ENOTDIR/ELOOP. */
		return refuse(why, err == ENOTDIR || err == ELOOP ?
		    "a parent directory is a symlink or not a directory" :
		    "cannot open a parent directory", err);
	}
}

int
path_open_beneath(int rootfd, const char *rel, int flags, mode_t mode,
    unsigned opts, const char **why)
{
	char norm[PATH_MAX], *last;
	int dirfd, fd, err;

	if (path_normalise(rel, opts, norm, sizeof(norm), why) != 0)
		return -1;
	if ((dirfd = open_parent(rootfd, norm, opts, &last, why)) < 0)
		return -1;
	fd = openat(dirfd, last, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	err = errno;
	close(dirfd);
	if (fd < 0)
		return refuse(why, err == ELOOP ? "path is a symlink" :
		    "cannot open file", err);
	return fd;
}

int
path_unlink_beneath(int rootfd, const char *rel, unsigned opts,
    const char **why)
{
	char norm[PATH_MAX], *last;
	int dirfd, rc, err;

	if (path_normalise(rel, opts & ~PATH_MKDIRS, norm, sizeof(norm),
	    why) != 0)
		return -1;
	dirfd = open_parent(rootfd, norm, opts & ~PATH_MKDIRS, &last, why);
	if (dirfd < 0)
		return -1;
	rc = unlinkat(dirfd, last, 0);
	err = errno;
	close(dirfd);
	if (rc != 0)
		return refuse(why, "cannot remove file", err);
	return 0;
}
