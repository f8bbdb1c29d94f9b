/*
 * repo_locks.c — the lock files a killed writer leaves in a repository.
 *
 * git and libgit2 update a file by writing "<file>.lock" beside it and
 * renaming it over the file; the lock's existence is the lock.  A process
 * killed between the two leaves the lock behind, and every later writer
 * of that file fails ("failed to lock file") for good.  masterd knows
 * when nobody can be writing: a domain's branch and worktree are written
 * only by its own worker, so a new worker clears theirs before it starts;
 * and what masterd itself writes (main, HEAD, the config) nobody writes
 * while masterd starts.  Only regular files named "*.lock" are removed, and
 * no symlink is followed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/repo.h"

/* A worktree's admin directory and a domain's snapshots nest no deeper. */
#define LOCK_DEPTH_MAX 6

static bool
is_lock(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && strcmp(name + n - 5, ".lock") == 0;
}

static int
remove_lock(int dirfd, const char *name, const char *where)
{
	if (unlinkat(dirfd, name, 0) != 0)
		return errno == ENOENT ? 0 : -1;
	log_warn("%s/%s: removed a stale lock file (a writer was killed)",
	    where, name);
	return 1;
}

/* DT_DIR, DT_REG or another type, asked when readdir does not say. */
static unsigned char
entry_type(int dirfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type;
	if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return DT_UNKNOWN;
	return S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG :
	    DT_UNKNOWN;
}

/* Every lock file under dirfd/sub, recursively. */
static int
clear_tree(int dirfd, const char *sub, const char *where, int depth)
{
	char path[4096];
	struct dirent *de;
	DIR *dir;
	int fd, n = 0, r;

	if (depth > LOCK_DEPTH_MAX)
		return 0;
	fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", where, sub);
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		switch (entry_type(fd, de)) {
		case DT_DIR:
			r = clear_tree(fd, de->d_name, path, depth + 1);
			break;
		case DT_REG:
			r = is_lock(de->d_name) ?
			    remove_lock(fd, de->d_name, path) : 0;
			break;
		default:
			r = 0;
		}
		if (r < 0) {
			closedir(dir);
			return -1;
		}
		n += r;
	}
	closedir(dir);
	return n;
}

/* The named lock files (each a format with the domain's name). */
static int
clear_named(int gitfd, const char *gitdir, const char *const *names,
    size_t count, const char *domain)
{
	char name[512];
	int n = 0, r;

	for (size_t i = 0; i < count; i++) {
		snprintf(name, sizeof(name), names[i], domain);
		if ((r = remove_lock(gitfd, name, gitdir)) < 0)
			return -1;
		n += r;
	}
	return n;
}

/* A domain's: its branch and reflog, its snapshots, its worktree's
 * index, HEAD and logs. */
static int
clear_domain(int gitfd, const char *gitdir, const char *domain)
{
	static const char *const names[] = { "refs/heads/domain/%s.lock",
	    "logs/refs/heads/domain/%s.lock" };
	static const char *const trees[] = { "refs/masterd/snapshots/%s",
	    "logs/refs/masterd/snapshots/%s", "worktrees/%s" };
	char sub[512];
	int n, r;

	n = clear_named(gitfd, gitdir, names, sizeof(names) / sizeof(names[0]),
	    domain);
	for (size_t i = 0; n >= 0 && i < sizeof(trees) / sizeof(trees[0]);
	    i++) {
		snprintf(sub, sizeof(sub), trees[i], domain);
		if ((r = clear_tree(gitfd, sub, gitdir, 0)) < 0)
			return -1;
		n += r;
	}
	return n;
}

/*
 * What masterd itself writes: main, HEAD, the config and packed refs.
 * Not masterd-worktrees.lock: that is a flock(2) file, which a worker of
 * the previous master may still hold.
 */
static int
clear_master(int gitfd, const char *gitdir)
{
	static const char *const names[] = { "HEAD.lock", "config.lock",
	    "packed-refs.lock", "refs/heads/main.lock", "logs/HEAD.lock",
	    "logs/refs/heads/main.lock" };

	return clear_named(gitfd, gitdir, names,
	    sizeof(names) / sizeof(names[0]), NULL);
}

int
repo_clear_stale_locks(const char *gitdir, const char *domain, char *err,
    size_t errlen)
{
	int gitfd, n, saved;

	gitfd = open(gitdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (gitfd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", gitdir, strerror(errno));
		return -1;
	}
	n = domain != NULL ? clear_domain(gitfd, gitdir, domain) :
	    clear_master(gitfd, gitdir);
	saved = errno;
	close(gitfd);
	if (n < 0) {
		snprintf(err, errlen, "clearing stale locks in %s: %s", gitdir,
		    strerror(saved));
		return -1;
	}
	return n;
}
