/*
 * landlock.c — the sandbox's file system policy (and its signal and
 * abstract-socket scoping) through Landlock, gated on the kernel's ABI.
 *
 * Every file system right the ABI knows is handled, so whatever no rule
 * grants is denied: read and execute beneath the read-only trees,
 * everything beneath the read-write ones, reading and writing the few
 * devices a build needs.  Paths that do not exist are skipped (a system
 * without /lib64, a sandbox_read for a toolchain not installed).
 *
 * Debian's kernel headers stop at ABI 2, so the later rights and the
 * larger ruleset attribute are spelled here with the kernel's values;
 * the attribute's size tells the kernel which fields we fill.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "child/worker/confine.h"

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)	/* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV	(1ULL << 15)	/* ABI 5 */
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)	/* ABI 6 */
#define LANDLOCK_SCOPE_SIGNAL		(1ULL << 1)
#endif

/* struct landlock_ruleset_attr as of ABI 6. */
struct ruleset_attr {
	__u64 handled_access_fs;
	__u64 handled_access_net;	/* ABI 4 */
	__u64 scoped;			/* ABI 6 */
};

#define FS_READ	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | \
	LANDLOCK_ACCESS_FS_READ_DIR)
/* The rights a rule on a file (not a directory) may carry. */
#define FS_FILE	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
	LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
	LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* The devices a check may read and write (isatty() probes them too). */
static const char *const devices[] = {
	"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
	NULL
};

static __u64
fs_rights(int abi)
{
	__u64 all = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;	/* ABI 1 */

	if (abi >= 2)
		all |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		all |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		all |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return all;
}

int
landlock_abi(void)
{
	long abi;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	return abi > 0 ? (int)abi : 0;
}

/*
 * One rule: `access` beneath path (a directory) or on it (a file).
 * 0 when added or when the path does not exist; -1 with errno.
 */
static int
add_path(int ruleset, const char *path, __u64 access)
{
	struct landlock_path_beneath_attr rule = { 0 };
	struct stat st;
	int fd, rc, saved;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) < 0)
		return errno == ENOENT || errno == ENOTDIR || errno == EACCES ?
		    0 : -1;
	if (fstat(fd, &st) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		access &= FS_FILE;
	rule.allowed_access = access;
	rule.parent_fd = fd;
	rc = (int)syscall(SYS_landlock_add_rule, ruleset,
	    LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static int
add_paths(int ruleset, char *const *paths, size_t n, __u64 access,
    char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (add_path(ruleset, paths[i], access) != 0) {
			snprintf(err, errlen, "Landlock rule for %s: %s",
			    paths[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int
build(int ruleset, int abi, const struct landlock_paths *p, char *err,
    size_t errlen)
{
	__u64 all = fs_rights(abi);

	if (add_paths(ruleset, p->ro, p->nro, FS_READ & all, err, errlen) != 0 ||
	    add_paths(ruleset, p->rw, p->nrw, all, err, errlen) != 0)
		return -1;
	return add_paths(ruleset, (char *const *)devices,
	    sizeof(devices) / sizeof(devices[0]) - 1,
	    (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
	    LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV) & all,
	    err, errlen);
}

int
landlock_confine(int abi, const struct landlock_paths *p, char *err,
    size_t errlen)
{
	struct ruleset_attr attr = { 0 };
	size_t size = sizeof(attr.handled_access_fs);
	int ruleset, rc;

	if (abi < 1) {
		snprintf(err, errlen, "Landlock is not available");
		return -1;
	}
	attr.handled_access_fs = fs_rights(abi);
	if (abi >= 6) {
		/* No signal to, no abstract socket of, anything outside. */
		attr.scoped = LANDLOCK_SCOPE_SIGNAL |
		    LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
		size = sizeof(attr);
	}
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (ruleset < 0) {
		snprintf(err, errlen, "Landlock ruleset: %s", strerror(errno));
		return -1;
	}
	rc = build(ruleset, abi, p, err, errlen);
	if (rc == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, errlen, "no_new_privs: %s", strerror(errno));
		rc = -1;
	}
	if (rc == 0 && syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
		snprintf(err, errlen, "Landlock: %s", strerror(errno));
		rc = -1;
	}
	close(ruleset);
	return rc;
}
