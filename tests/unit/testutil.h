/*
 * testutil.h — helpers shared by the cmocka unit tests: the cmocka include
 * preamble, a seeded PRNG whose seed is printed so a failure can be
 * replayed, temporary directories and files under $TMPDIR, the clock and
 * $PATH, JSON from text, and (testutil.c) the log level names.
 *
 * Every function is static inline so a test that uses only some of them
 * still builds with -Werror; testutil.c, linked into every unit test,
 * holds the shared data.
 */
#ifndef TESTS_UNIT_TESTUTIL_H
#define TESTS_UNIT_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/util.h"

#define TU_NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* testutil.c: every log level name, with its syslog level. */
struct tu_log_level {
	const char *name;
	int level;
};
extern const struct tu_log_level tu_log_levels[];
extern const size_t tu_nlog_levels;

#define TU_SEED_DEFAULT 0x6d61737465726455ull	/* "masterdU" */

/*
 * The seed of a randomised test: $MASTERD_TEST_SEED when set (to replay a
 * failure), a fixed value otherwise.  Printed either way.
 */
static inline uint64_t
tu_seed(const char *test)
{
	const char *s = getenv("MASTERD_TEST_SEED");
	uint64_t seed = TU_SEED_DEFAULT;

	if (s != NULL && *s != '\0')
		seed = strtoull(s, NULL, 0);
	print_message("%s: seed %llu (replay with MASTERD_TEST_SEED=%llu)\n",
	    test, (unsigned long long)seed, (unsigned long long)seed);
	return seed;
}

/* Run only the tests matching $MASTERD_TEST_FILTER (a cmocka pattern). */
static inline void
tu_filter(void)
{
	const char *f = getenv("MASTERD_TEST_FILTER");

	if (f != NULL && *f != '\0')
		cmocka_set_test_filter(f);
}

/* splitmix64: small, fast, and good enough to shape test data. */
static inline uint64_t
tu_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline uint64_t
tu_range(uint64_t *state, uint64_t lo, uint64_t hi)
{
	return lo + tu_rand(state) % (hi - lo + 1);
}

/* Milliseconds on the monotonic clock. */
static inline uint64_t
tu_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One step of a poll loop that waits on an event with a deadline. */
static inline void
tu_pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Is prog an executable in a directory of $PATH? */
static inline bool
tu_on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX], *copy, *dir, *save = NULL;
	bool found = false;

	if (path == NULL || (copy = strdup(path)) == NULL)
		return false;
	for (dir = strtok_r(copy, ":", &save); dir != NULL && !found;
	    dir = strtok_r(NULL, ":", &save)) {
		snprintf(buf, sizeof(buf), "%s/%s", dir, prog);
		found = access(buf, X_OK) == 0;
	}
	free(copy);
	return found;
}

/* Is a process running whose command line, arguments joined by spaces,
 * is exactly cmdline?  (Zombies have an empty one.) */
static inline bool
tu_process_running(const char *cmdline)
{
	char path[64], buf[512];
	struct dirent *e;
	bool found = false;
	ssize_t n;
	DIR *d;
	int fd;

	if ((d = opendir("/proc")) == NULL)
		return false;
	while (!found && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		if ((fd = open(path, O_RDONLY)) < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		for (ssize_t i = 0; i < n - 1; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		found = strcmp(buf, cmdline) == 0;
	}
	closedir(d);
	return found;
}

/* text parsed as JSON (the caller owns it); the test fails when it is not
 * JSON. */
static inline json_t *
tu_json(const char *text)
{
	json_error_t e;
	json_t *v;

	if ((v = json_loads(text, 0, &e)) == NULL)
		fail_msg("test JSON does not parse: %s: %s", text, e.text);
	return v;
}

/* A fresh directory under $TMPDIR (or /tmp); buf receives its path. */
static inline void
tu_mkdtemp(char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	int n;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	n = snprintf(buf, len, "%s/masterd-test.XXXXXX", tmp);
	assert_true(n > 0 && (size_t)n < len);
	assert_non_null(mkdtemp(buf));
}

/* rm -rf, never following a symlink out of the tree. */
static inline void
tu_rmtree(const char *path)
{
	if (path != NULL && *path != '\0')
		(void)remove_tree(path);
}

/*
 * A zeroed fixture of size bytes whose member at dir_off, a char[PATH_MAX],
 * holds a fresh temporary directory (tu_rmtree it in the teardown).
 */
static inline void *
tu_fixture(size_t size, size_t dir_off)
{
	char *p = calloc(1, size);

	assert_non_null(p);
	tu_mkdtemp(p + dir_off, PATH_MAX);
	return p;
}

/* dir/name into buf; fails the test when it does not fit. */
static inline void
tu_join(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < len);
}

/* tu_join() into an array, its size taken from it. */
#define TU_JOIN(array, dir, name) \
	tu_join(array, sizeof(array), dir, name)

static inline void
tu_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

/* The whole file as a NUL-terminated string (free it), or NULL. */
static inline char *
tu_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = calloc(1, 65536);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static inline bool
tu_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Entries in a directory, "." and ".." not counted; -1 when unreadable. */
static inline int
tu_count_entries(const char *path)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

#endif
