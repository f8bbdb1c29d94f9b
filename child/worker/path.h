/*
 * path.h — confinement of untrusted relative paths under a root directory.
 *
 * Paths come from a model and are hostile until proven otherwise.  The
 * lexical check refuses absolute paths, any ".." component, backslashes,
 * control characters and (optionally) anything under ".git".  The *_beneath
 * calls then walk the path one component at a time from an open directory
 * with O_NOFOLLOW, so no symlink — planted before or during the walk — can
 * lead outside the root.
 */
#ifndef COMMON_PATH_H
#define COMMON_PATH_H

#include <stddef.h>
#include <sys/types.h>

enum path_opt {
	PATH_DENY_GIT = 1 << 0,	/* refuse a ".git" component anywhere */
	PATH_MKDIRS = 1 << 1,	/* create missing parent directories */
};

/*
 * Normalise `in` ("./a//b/" -> "a/b") into out.  Returns 0, or -1 with a
 * static reason in *why.
 */
int path_normalise(const char *in, unsigned opts, char *out, size_t outlen,
    const char **why);

/*
 * openat(2) `rel` under the directory rootfd, never following a symlink in
 * any component.  Returns an fd, or -1 with errno set and *why filled.
 */
int path_open_beneath(int rootfd, const char *rel, int flags, mode_t mode,
    unsigned opts, const char **why);

/* Remove a file under rootfd (not a directory, never through a symlink
 * parent).  A final symlink is removed itself, not its target. */
int path_unlink_beneath(int rootfd, const char *rel, unsigned opts,
    const char **why);

#endif
