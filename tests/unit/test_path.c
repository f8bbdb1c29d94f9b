/*
 * test_path.c — confinement of untrusted relative paths (child/worker/path.c).
 *
 * path_normalise: what it cleans up and what it refuses (empty, absolute,
 * "..", backslash, control characters, .git with PATH_DENY_GIT, too long).
 * path_open_beneath and path_unlink_beneath in a scratch directory: nested
 * creation with PATH_MKDIRS, refusal of a symlinked parent that points
 * outside the root and of a final symlink, and a check that nothing was
 * created or changed outside the root.
 */
#include "testutil.h"

#include <fcntl.h>

#include "child/worker/path.h"

/* ------------------------------------------------------------ lexical */

static void
expect_norm(const char *in, unsigned opts, const char *want)
{
	char out[PATH_MAX];
	const char *why = NULL;

	if (path_normalise(in, opts, out, sizeof(out), &why) != 0)
		fail_msg("\"%s\" refused: %s", in, why ? why : "?");
	assert_string_equal(out, want);
}

/* Refused, with a reason containing `reason`. */
static void
expect_refused(const char *in, unsigned opts, const char *reason)
{
	char out[PATH_MAX];
	const char *why = NULL;

	errno = 0;
	if (path_normalise(in, opts, out, sizeof(out), &why) != -1)
		fail_msg("\"%s\" accepted as \"%s\"", in ? in : "(null)", out);
	assert_non_null(why);
	assert_true(errno != 0);
	if (strstr(why, reason) == NULL)
		fail_msg("\"%s\": reason \"%s\", wanted \"%s\"",
		    in ? in : "(null)", why, reason);
}

static void
test_normalise_cleans(void **state)
{
	expect_norm("a/./b//c/", 0, "a/b/c");
	expect_norm("a", 0, "a");
	expect_norm("./a", 0, "a");
	expect_norm("././a/.", 0, "a");
	expect_norm("a//////b", 0, "a/b");
	expect_norm("dir/file.txt", PATH_DENY_GIT, "dir/file.txt");
	/* Names that only look like dots or .git are ordinary names. */
	expect_norm("...", 0, "...");
	expect_norm("..a/b..", 0, "..a/b..");
	expect_norm(".gitignore", PATH_DENY_GIT, ".gitignore");
	expect_norm("a/.github/x", PATH_DENY_GIT, "a/.github/x");
	expect_norm("a/git/x", PATH_DENY_GIT, "a/git/x");
	/* Spaces and UTF-8 are fine. */
	expect_norm("my dir/r\xc3\xa9sum\xc3\xa9.md", 0,
	    "my dir/r\xc3\xa9sum\xc3\xa9.md");
}

static void
test_normalise_refuses(void **state)
{
	expect_refused("", 0, "empty");
	expect_refused(NULL, 0, "empty");
	expect_refused("/etc/x", 0, "absolute");
	expect_refused("//x", 0, "absolute");
	expect_refused("/", 0, "absolute");
	expect_refused("../x", 0, "..");
	expect_refused("..", 0, "..");
	expect_refused("a/..", 0, "..");
	expect_refused("a/../../x", 0, "..");
	expect_refused("a/../b", 0, "..");
	expect_refused("a/./../b", 0, "..");
	expect_refused("x\\y", 0, "backslash");
	expect_refused("..\\x", 0, "backslash");
	expect_refused("a\tb", 0, "control");
	expect_refused("a\nb", 0, "control");
	expect_refused("a\rb", 0, "control");
	expect_refused("a\x1b[31m", 0, "control");
	expect_refused("a\x7f", 0, "control");
	expect_refused(".", 0, "root");
	expect_refused("./", 0, "root");
	expect_refused(".//./", 0, "root");
}

static void
test_normalise_git(void **state)
{
	expect_refused(".git/config", PATH_DENY_GIT, ".git");
	expect_refused(".git", PATH_DENY_GIT, ".git");
	expect_refused("a/.GIT/x", PATH_DENY_GIT, ".git");
	expect_refused("a/.Git", PATH_DENY_GIT, ".git");
	expect_refused("./a//.git/hooks/pre-commit",
	    PATH_DENY_GIT | PATH_MKDIRS, ".git");
	/* Names NTFS takes for .git: trailing dots and spaces, a data
	 * stream, the 8.3 short name (git refuses them at commit). */
	expect_refused(".git /config", PATH_DENY_GIT, ".git");
	expect_refused("a/.git. . /x", PATH_DENY_GIT, ".git");
	expect_refused(".git::$INDEX_ALLOCATION/x", PATH_DENY_GIT, ".git");
	expect_refused("GIT~1/config", PATH_DENY_GIT, ".git");
	expect_refused("a/git~1. ", PATH_DENY_GIT, ".git");
	/* Names HFS+ takes for .git: ignorable code points anywhere (fsck
	 * --strict calls them hasDotgit). */
	expect_refused(".git\u200c/config", PATH_DENY_GIT, ".git");
	expect_refused(".g\u200di\u200et/x", PATH_DENY_GIT, ".git");
	expect_refused("\ufeff.GIT\u206f", PATH_DENY_GIT, ".git");
	/* Near misses stay ordinary names. */
	expect_norm(".gitx/y", PATH_DENY_GIT, ".gitx/y");
	expect_norm("git~2/y", PATH_DENY_GIT, "git~2/y");
	expect_norm("git~1x", PATH_DENY_GIT, "git~1x");
	expect_norm(".git\u00e9", PATH_DENY_GIT, ".git\u00e9");
	expect_norm("\xff.git", PATH_DENY_GIT, "\xff.git");
	/* Without the option .git is an ordinary directory. */
	expect_norm(".git/config", 0, ".git/config");
	expect_norm("a/.GIT/x", 0, "a/.GIT/x");
	expect_norm("a/.GIT/x", PATH_MKDIRS, "a/.GIT/x");
}

static void
test_normalise_length(void **state)
{
	char name[NAME_MAX + 2], in[PATH_MAX + 300], out[PATH_MAX];
	const char *why;
	size_t o = 0;

	/* One component: NAME_MAX is fine, one more is not. */
	memset(name, 'n', NAME_MAX);
	name[NAME_MAX] = '\0';
	expect_norm(name, 0, name);
	name[NAME_MAX] = 'n';
	name[NAME_MAX + 1] = '\0';
	expect_refused(name, 0, "too long");

	/* The whole path: PATH_MAX and beyond is refused. */
	while (o < PATH_MAX + 100) {
		memset(in + o, 'd', 199);
		in[o + 199] = '/';
		o += 200;
	}
	in[o] = '\0';
	expect_refused(in, 0, "too long");

	/* Depth: 32 components are fine, 33 are not (git stops at 100). */
	for (o = 0; o < 32; o++) {
		in[2 * o] = 'd';
		in[2 * o + 1] = '/';
	}
	in[63] = '\0';
	assert_int_equal(path_normalise(in, 0, out, sizeof(out), &why), 0);
	in[63] = '/';
	in[64] = 'd';
	in[65] = '\0';
	expect_refused(in, 0, "nested too deep");

	/* The output buffer: an exact fit works, one byte less does not. */
	assert_int_equal(path_normalise("./abc//def/", 0, out, 8, &why), 0);
	assert_string_equal(out, "abc/def");
	why = NULL;
	assert_int_equal(path_normalise("./abc//def/", 0, out, 7, &why), -1);
	assert_non_null(why);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_int_equal(path_normalise("a", 0, out, 1, NULL), -1);
}

/* ------------------------------------------------------------ beneath */

struct scratch {
	char base[PATH_MAX];	/* mkdtemp directory, removed afterwards */
	char root[PATH_MAX];	/* base/root: the confinement root */
	char outside[PATH_MAX];	/* base/outside: must stay empty */
	char secret[PATH_MAX];	/* base/secret: must stay unchanged */
	int rootfd;
};

static int
setup(void **state)
{
	struct scratch *s = tu_fixture(sizeof(*s), offsetof(struct scratch,
	    base));

	TU_JOIN(s->root, s->base, "root");
	TU_JOIN(s->outside, s->base, "outside");
	TU_JOIN(s->secret, s->base, "secret");
	assert_int_equal(mkdir(s->root, 0755), 0);
	assert_int_equal(mkdir(s->outside, 0755), 0);
	tu_write_file(s->secret, "secret\n");
	s->rootfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(s->rootfd >= 0);
	*state = s;
	return 0;
}

/* Nothing escaped: outside is empty, secret intact, base holds 3 entries. */
static void
assert_nothing_outside(const struct scratch *s)
{
	char *text;

	assert_int_equal(tu_count_entries(s->outside), 0);
	assert_int_equal(tu_count_entries(s->base), 3);
	text = tu_read_file(s->secret);
	assert_non_null(text);
	assert_string_equal(text, "secret\n");
	free(text);
}

static int
teardown(void **state)
{
	struct scratch *s = *state;

	close(s->rootfd);
	tu_rmtree(s->base);
	assert_false(tu_exists(s->base));
	free(s);
	return 0;
}

/* root/rel as a host path. */
static void
in_root(const struct scratch *s, const char *rel, char *buf, size_t len)
{
	tu_join(buf, len, s->root, rel);
}

static void
make_link(const struct scratch *s, const char *target, const char *rel)
{
	char p[PATH_MAX];

	in_root(s, rel, p, sizeof(p));
	assert_int_equal(symlink(target, p), 0);
}

/* Create an empty file through path_open_beneath; it must succeed. */
static void
touch(const struct scratch *s, const char *rel, unsigned opts)
{
	const char *why = NULL;
	int fd;

	fd = path_open_beneath(s->rootfd, rel, O_WRONLY | O_CREAT, 0644, opts,
	    &why);
	if (fd < 0)
		fail_msg("creating %s refused: %s", rel, why ? why : "?");
	close(fd);
}

static void
test_open_creates_nested(void **state)
{
	struct scratch *s = *state;
	const char *why = NULL;
	char p[PATH_MAX], *text;
	struct stat st;
	int fd;

	fd = path_open_beneath(s->rootfd, "./a//b/c/file.txt",
	    O_WRONLY | O_CREAT | O_TRUNC, 0644, PATH_MKDIRS | PATH_DENY_GIT,
	    &why);
	if (fd < 0)
		fail_msg("open refused: %s", why);
	assert_int_equal(write(fd, "hello\n", 6), 6);
	close(fd);

	in_root(s, "a/b/c/file.txt", p, sizeof(p));
	text = tu_read_file(p);
	assert_non_null(text);
	assert_string_equal(text, "hello\n");
	free(text);
	in_root(s, "a/b", p, sizeof(p));
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));

	/* Existing directories are reused; read it back through the walk. */
	fd = path_open_beneath(s->rootfd, "a/b/c/file.txt", O_RDONLY, 0,
	    PATH_MKDIRS, &why);
	assert_true(fd >= 0);
	{
		char buf[16] = { 0 };

		assert_int_equal(read(fd, buf, sizeof(buf) - 1), 6);
		assert_string_equal(buf, "hello\n");
	}
	close(fd);
	assert_nothing_outside(s);
}

static void
test_open_without_mkdirs(void **state)
{
	struct scratch *s = *state;
	const char *why = NULL;
	char p[PATH_MAX];

	errno = 0;
	assert_int_equal(path_open_beneath(s->rootfd, "x/y.txt",
	    O_WRONLY | O_CREAT, 0644, 0, &why), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(why);
	in_root(s, "x", p, sizeof(p));
	assert_false(tu_exists(p));

	/* A file in the root itself needs no parent. */
	touch(s, "top.txt", 0);
	in_root(s, "top.txt", p, sizeof(p));
	assert_true(tu_exists(p));

	/* A file where a directory should be. */
	why = NULL;
	assert_int_equal(path_open_beneath(s->rootfd, "top.txt/z",
	    O_WRONLY | O_CREAT, 0644, PATH_MKDIRS, &why), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_non_null(why);
	assert_nothing_outside(s);
}

static void
test_open_refuses_lexical(void **state)
{
	struct scratch *s = *state;
	const char *why;
	char rel[PATH_MAX];

	/* ../outside/x is the real outside directory, seen from root. */
	why = NULL;
	assert_int_equal(path_open_beneath(s->rootfd, "../outside/x",
	    O_WRONLY | O_CREAT, 0644, PATH_MKDIRS, &why), -1);
	assert_non_null(why);
	assert_int_equal(path_open_beneath(s->rootfd, s->secret, O_RDONLY, 0,
	    0, &why), -1);
	snprintf(rel, sizeof(rel), "a/../../%s", "secret");
	assert_int_equal(path_open_beneath(s->rootfd, rel, O_RDONLY, 0,
	    PATH_MKDIRS, &why), -1);
	assert_int_equal(path_open_beneath(s->rootfd, ".git/config",
	    O_WRONLY | O_CREAT, 0644, PATH_MKDIRS | PATH_DENY_GIT, &why), -1);
	assert_non_null(strstr(why, ".git"));
	assert_int_equal(tu_count_entries(s->root), 0);
	assert_nothing_outside(s);
}

static void
test_open_refuses_symlinked_parent(void **state)
{
	struct scratch *s = *state;
	const char *why;

	/* root/link -> base/outside: a parent that leads out of the root. */
	make_link(s, s->outside, "link");
	why = NULL;
	errno = 0;
	assert_int_equal(path_open_beneath(s->rootfd, "link/f",
	    O_WRONLY | O_CREAT, 0644, 0, &why), -1);
	assert_non_null(why);
	assert_non_null(strstr(why, "symlink"));
	assert_true(errno == ENOTDIR || errno == ELOOP);

	/* PATH_MKDIRS must not create anything through it either. */
	assert_int_equal(path_open_beneath(s->rootfd, "link/sub/f",
	    O_WRONLY | O_CREAT, 0644, PATH_MKDIRS, &why), -1);
	/* Nor a relative link, nor one deeper down. */
	make_link(s, "../outside", "rel");
	assert_int_equal(path_open_beneath(s->rootfd, "rel/f",
	    O_WRONLY | O_CREAT, 0644, PATH_MKDIRS, &why), -1);
	touch(s, "d/keep", PATH_MKDIRS);
	make_link(s, "../../outside", "d/up");
	assert_int_equal(path_open_beneath(s->rootfd, "d/up/f",
	    O_WRONLY | O_CREAT, 0644, PATH_MKDIRS, &why), -1);
	/* Even a link that stays inside the root is not followed. */
	make_link(s, "d", "inside");
	assert_int_equal(path_open_beneath(s->rootfd, "inside/keep",
	    O_RDONLY, 0, 0, &why), -1);
	assert_nothing_outside(s);
}

static void
test_open_refuses_final_symlink(void **state)
{
	struct scratch *s = *state;
	char target[PATH_MAX];
	const char *why;

	/* root/final -> base/secret: reading or truncating it must fail. */
	make_link(s, s->secret, "final");
	why = NULL;
	errno = 0;
	assert_int_equal(path_open_beneath(s->rootfd, "final", O_RDONLY, 0, 0,
	    &why), -1);
	assert_int_equal(errno, ELOOP);
	assert_non_null(why);
	assert_non_null(strstr(why, "symlink"));
	assert_int_equal(path_open_beneath(s->rootfd, "final",
	    O_WRONLY | O_TRUNC, 0, 0, &why), -1);
	assert_int_equal(path_open_beneath(s->rootfd, "final",
	    O_WRONLY | O_CREAT | O_TRUNC, 0644, PATH_MKDIRS, &why), -1);

	/* A dangling link must not create its target. */
	tu_join(target, sizeof(target), s->outside, "new");
	make_link(s, target, "dangling");
	assert_int_equal(path_open_beneath(s->rootfd, "dangling",
	    O_WRONLY | O_CREAT, 0644, 0, &why), -1);
	assert_false(tu_exists(target));
	assert_nothing_outside(s);
}

static void
test_unlink_beneath(void **state)
{
	struct scratch *s = *state;
	const char *why;
	char p[PATH_MAX], victim[PATH_MAX];

	touch(s, "a/b/gone.txt", PATH_MKDIRS);
	in_root(s, "a/b/gone.txt", p, sizeof(p));
	assert_true(tu_exists(p));
	assert_int_equal(path_unlink_beneath(s->rootfd, "./a//b/gone.txt", 0,
	    &why), 0);
	assert_false(tu_exists(p));
	in_root(s, "a/b", p, sizeof(p));
	assert_true(tu_exists(p));

	/* Missing file, directory, lexical refusals. */
	why = NULL;
	assert_int_equal(path_unlink_beneath(s->rootfd, "a/b/gone.txt", 0,
	    &why), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(why);
	assert_int_equal(path_unlink_beneath(s->rootfd, "a/b", 0, &why), -1);
	assert_true(tu_exists(p));
	assert_int_equal(path_unlink_beneath(s->rootfd, "../secret", 0, &why),
	    -1);
	assert_int_equal(path_unlink_beneath(s->rootfd, ".git/index",
	    PATH_DENY_GIT, &why), -1);
	/* PATH_MKDIRS is ignored: no directories appear for an unlink. */
	assert_int_equal(path_unlink_beneath(s->rootfd, "new/dir/f",
	    PATH_MKDIRS, &why), -1);
	in_root(s, "new", p, sizeof(p));
	assert_false(tu_exists(p));

	/* Through a symlinked parent: refused, the victim stays. */
	tu_join(victim, sizeof(victim), s->base, "victim");
	tu_write_file(victim, "v");
	make_link(s, s->base, "link");
	why = NULL;
	assert_int_equal(path_unlink_beneath(s->rootfd, "link/victim", 0,
	    &why), -1);
	assert_non_null(why);
	assert_non_null(strstr(why, "symlink"));
	assert_true(tu_exists(victim));
	assert_int_equal(unlink(victim), 0);

	/* A final symlink is removed itself, never its target. */
	make_link(s, s->secret, "final");
	assert_int_equal(path_unlink_beneath(s->rootfd, "final", 0, &why), 0);
	in_root(s, "final", p, sizeof(p));
	assert_false(tu_exists(p));
	assert_nothing_outside(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalise_cleans),
		cmocka_unit_test(test_normalise_refuses),
		cmocka_unit_test(test_normalise_git),
		cmocka_unit_test(test_normalise_length),
		cmocka_unit_test_setup_teardown(test_open_creates_nested,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_without_mkdirs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_lexical,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_open_refuses_symlinked_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_open_refuses_final_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlink_beneath, setup,
		    teardown),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
