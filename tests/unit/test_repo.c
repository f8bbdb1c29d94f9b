/*
 * test_repo.c — the task repository (common/repo.c) in a scratch
 * directory: init and its idempotence, worktrees per domain and their
 * repair, commits confined to the domain's folder (a file outside it,
 * also one staged behind our back, stays out), deletions, the refusal to
 * commit on another branch, diffs with their cut, file lists, snapshots
 * before a clean, a domain's branch refreshed with its peers' code from
 * main, merges into main and logs, a commit of main written into the
 * integration directory, listed and read.
 *
 * The results are read back through libgit2 directly, and, when the git
 * command is installed, checked with `git fsck` and `git status` too.
 */
#include "testutil.h"

#include <sys/file.h>
#include <sys/wait.h>

#include <git2.h>
#include <jansson.h>

#include "common/repo.h"

struct fx {
	char	tmp[PATH_MAX];
	char	gitdir[PATH_MAX];
	char	wta[PATH_MAX];
	char	wtb[PATH_MAX];
	char	err[512];
};

/* ---------------------------------------------------------- helpers */

/* Write dir/rel, creating its parent folders. */
static void
put(const char *dir, const char *rel, const char *text)
{
	char path[PATH_MAX], *slash;

	tu_join(path, sizeof(path), dir, rel);
	for (slash = strchr(path + strlen(dir) + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
		*slash = '/';
	}
	tu_write_file(path, text);
}

static bool
there(const char *dir, const char *rel)
{
	char path[PATH_MAX];

	tu_join(path, sizeof(path), dir, rel);
	return tu_exists(path);
}

static char *
slurp(const char *dir, const char *rel)
{
	char path[PATH_MAX];

	tu_join(path, sizeof(path), dir, rel);
	return tu_read_file(path);
}

static void
expect_file(const char *dir, const char *rel, const char *want)
{
	char *got = slurp(dir, rel);

	if (got == NULL)
		fail_msg("%s missing", rel);
	assert_string_equal(got, want);
	free(got);
}

static git_repository *
open_git(const char *gitdir)
{
	git_repository *r = NULL;

	assert_int_equal(git_repository_open_bare(&r, gitdir), 0);
	return r;
}

/* The commit a ref points at, as hex. */
static void
ref_hex(const char *gitdir, const char *ref, char hex[REPO_OID_HEX])
{
	git_repository *r = open_git(gitdir);
	git_oid id;

	assert_int_equal(git_reference_name_to_id(&id, r, ref), 0);
	git_oid_tostr(hex, REPO_OID_HEX, &id);
	git_repository_free(r);
}

static git_commit *
commit_of(git_repository *r, const char *hex)
{
	git_commit *c = NULL;
	git_oid id;

	assert_int_equal(git_oid_fromstr(&id, hex), 0);
	assert_int_equal(git_commit_lookup(&c, r, &id), 0);
	return c;
}

/* The blob at path in a commit (malloc'd), or NULL when absent. */
static char *
blob_at(const char *gitdir, const char *hex, const char *path)
{
	git_repository *r = open_git(gitdir);
	git_commit *c = commit_of(r, hex);
	git_tree *t = NULL;
	git_tree_entry *e = NULL;
	git_blob *b = NULL;
	char *out = NULL;

	assert_int_equal(git_commit_tree(&t, c), 0);
	if (git_tree_entry_bypath(&e, t, path) == 0) {
		assert_int_equal(git_blob_lookup(&b, r, git_tree_entry_id(e)),
		    0);
		out = strndup(git_blob_rawcontent(b),
		    (size_t)git_blob_rawsize(b));
		assert_non_null(out);
	}
	git_blob_free(b);
	git_tree_entry_free(e);
	git_tree_free(t);
	git_commit_free(c);
	git_repository_free(r);
	return out;
}

/* Is path in the commit's tree?  *mode, when given, is its mode. */
static bool
entry_at(const char *gitdir, const char *hex, const char *path,
    git_filemode_t *mode)
{
	git_repository *r = open_git(gitdir);
	git_commit *c = commit_of(r, hex);
	git_tree *t = NULL;
	git_tree_entry *e = NULL;
	bool found;

	assert_int_equal(git_commit_tree(&t, c), 0);
	found = git_tree_entry_bypath(&e, t, path) == 0;
	if (found && mode != NULL)
		*mode = git_tree_entry_filemode(e);
	git_tree_entry_free(e);
	git_tree_free(t);
	git_commit_free(c);
	git_repository_free(r);
	return found;
}

static bool
has_path(const char *gitdir, const char *hex, const char *path)
{
	return entry_at(gitdir, hex, path, NULL);
}

static git_filemode_t
mode_at(const char *gitdir, const char *hex, const char *path)
{
	git_filemode_t m = 0;

	assert_true(entry_at(gitdir, hex, path, &m));
	return m;
}

/* Parent n of a commit, as hex. */
static void
parent_hex(const char *gitdir, const char *hex, unsigned n,
    char out[REPO_OID_HEX])
{
	git_repository *r = open_git(gitdir);
	git_commit *c = commit_of(r, hex);

	assert_true(n < git_commit_parentcount(c));
	git_oid_tostr(out, REPO_OID_HEX, git_commit_parent_id(c, n));
	git_commit_free(c);
	git_repository_free(r);
}

/* How many files repo_files lists for domain in worktree wt. */
static size_t
count_files(struct fx *f, const char *wt, const char *domain)
{
	json_t *files = NULL;
	size_t n;

	assert_int_equal(repo_files(wt, domain, &files, f->err,
	    sizeof(f->err)), 0);
	n = json_array_size(files);
	json_decref(files);
	return n;
}

/* Domain a's diff in its worktree, within max bytes; free it. */
static char *
diff_ok(struct fx *f, size_t max)
{
	char *diff = NULL;

	assert_int_equal(repo_diff(f->wta, "a", max, &diff, f->err,
	    sizeof(f->err)), 0);
	return diff;
}

/* A merge's two parents: the branch it was made on, and the merged. */
static void
assert_parents(const char *gitdir, const char *merge, const char *first,
    const char *second)
{
	char hex[REPO_OID_HEX];

	parent_hex(gitdir, merge, 0, hex);
	assert_string_equal(hex, first);
	parent_hex(gitdir, merge, 1, hex);
	assert_string_equal(hex, second);
}

static unsigned
parents(const char *gitdir, const char *hex)
{
	git_repository *r = open_git(gitdir);
	git_commit *c = commit_of(r, hex);
	unsigned n = git_commit_parentcount(c);

	git_commit_free(c);
	git_repository_free(r);
	return n;
}

static void
commit_ok(struct fx *f, const char *wt, const char *domain, const char *msg,
    char oid[REPO_OID_HEX])
{
	int r = repo_commit(wt, domain, msg, oid, f->err, sizeof(f->err));

	if (r != 0)
		fail_msg("repo_commit %s: %d %s", domain, r, f->err);
	assert_int_equal((int)strlen(oid), 40);
}

static void
merge_ok(struct fx *f, const char *domain, char oid[REPO_OID_HEX])
{
	int r = repo_merge_domain(f->gitdir, domain, "Merge a domain\n", oid,
	    f->err, sizeof(f->err));

	if (r != 0)
		fail_msg("repo_merge_domain %s: %d %s", domain, r, f->err);
}

static size_t
log_len(struct fx *f, const char *ref)
{
	json_t *log = NULL;
	size_t n;

	if (repo_log(f->gitdir, ref, 0, &log, f->err, sizeof(f->err)) != 0)
		fail_msg("repo_log %s: %s", ref, f->err);
	n = json_array_size(log);
	json_decref(log);
	return n;
}

/* --------------------------------------------------------- git CLI */

static bool
have_git(void)
{
	return system("git --version >/dev/null 2>&1") == 0;
}

/* Output of a git command (malloc'd), its exit status in *status. */
static char *
git_out(int *status, const char *fmt, ...)
{
	char cmd[3 * PATH_MAX], *buf;
	va_list ap;
	size_t n;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_non_null(p = popen(cmd, "r"));
	assert_non_null(buf = calloc(1, 65536));
	n = fread(buf, 1, 65535, p);
	buf[n] = '\0';
	*status = pclose(p);
	return buf;
}

/* The repository passes `git fsck --strict`; the worktree's a/ is clean
 * in git's eyes too (so our index is one git understands). */
static void
git_check(struct fx *f)
{
	char *out;
	int st;

	if (!have_git()) {
		print_message("git not installed: CLI checks skipped\n");
		return;
	}
	out = git_out(&st, "git --git-dir='%s' fsck --strict --no-progress "
	    "2>&1", f->gitdir);
	if (st != 0)
		fail_msg("git fsck: %s", out);
	free(out);
	out = git_out(&st, "git -C '%s' status --porcelain -- a 2>&1",
	    f->wta);
	assert_int_equal(st, 0);
	assert_string_equal(out, "");
	free(out);
}

/* ---------------------------------------------------------- fixture */

static int
setup(void **state)
{
	struct fx *f = tu_fixture(sizeof(*f), offsetof(struct fx, tmp));

	/* Deep paths: repo.c creates the parents. */
	tu_join(f->gitdir, sizeof(f->gitdir), f->tmp, "tasks/1/repo.git");
	tu_join(f->wta, sizeof(f->wta), f->tmp, "tasks/1/domains/a");
	tu_join(f->wtb, sizeof(f->wtb), f->tmp, "tasks/1/domains/b");
	if (repo_init(f->gitdir, f->err, sizeof(f->err)) != 0 ||
	    repo_worktree(f->gitdir, f->wta, "a", f->err, sizeof(f->err)) ||
	    repo_worktree(f->gitdir, f->wtb, "b", f->err, sizeof(f->err)))
		fail_msg("setup: %s", f->err);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tu_rmtree(f->tmp);
	free(f);
	return 0;
}

/* ------------------------------------------------------------ tests */

static void
test_init(void **state)
{
	struct fx *f = *state;
	char before[REPO_OID_HEX], after[REPO_OID_HEX], path[PATH_MAX];
	git_repository *r;
	git_reference *head = NULL;
	git_commit *c;
	git_tree *t = NULL;
	json_t *log = NULL;

	ref_hex(f->gitdir, "refs/heads/main", before);
	assert_int_equal(repo_init(f->gitdir, f->err, sizeof(f->err)), 0);
	ref_hex(f->gitdir, "refs/heads/main", after);
	assert_string_equal(before, after);
	assert_int_equal(log_len(f, "main"), 1);

	r = open_git(f->gitdir);
	assert_true(git_repository_is_bare(r));
	assert_int_equal(git_reference_lookup(&head, r, "HEAD"), 0);
	assert_string_equal(git_reference_symbolic_target(head),
	    "refs/heads/main");
	c = commit_of(r, after);
	assert_int_equal(git_commit_parentcount(c), 0);
	assert_string_equal(git_commit_author(c)->name, "masterd");
	assert_string_equal(git_commit_author(c)->email,
	    "masterd@masterd.invalid");
	assert_string_equal(git_commit_committer(c)->name, "masterd");
	assert_int_equal(git_commit_tree(&t, c), 0);
	assert_int_equal(git_tree_entrycount(t), 0);
	git_tree_free(t);
	git_commit_free(c);
	git_reference_free(head);
	git_repository_free(r);

	assert_int_equal(repo_log(f->gitdir, "main", 5, &log, f->err,
	    sizeof(f->err)), 0);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(log, 0), "author")), "masterd");
	json_decref(log);

	/* A repository inside a regular file cannot be: libgit2's reason
	 * comes after ours. */
	tu_join(path, sizeof(path), f->tmp, "plain");
	tu_write_file(path, "x");
	tu_join(path, sizeof(path), f->tmp, "plain/repo.git");
	assert_int_equal(repo_init(path, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "creating repository"));
	assert_non_null(strstr(f->err, ": "));
}

static void
test_worktrees(void **state)
{
	struct fx *f = *state;
	const struct { const char *wt, *ref; } want[] = {
		{ f->wta, "refs/heads/domain/a" },
		{ f->wtb, "refs/heads/domain/b" },
	};
	char main_hex[REPO_OID_HEX], hex[REPO_OID_HEX];
	git_repository *r;
	git_reference *head;
	size_t i;

	ref_hex(f->gitdir, "refs/heads/main", main_hex);
	for (i = 0; i < 2; i++) {
		assert_int_equal(git_repository_open_ext(&r, want[i].wt,
		    GIT_REPOSITORY_OPEN_NO_SEARCH, NULL), 0);
		assert_false(git_repository_is_bare(r));
		assert_int_equal(git_reference_lookup(&head, r, "HEAD"), 0);
		assert_string_equal(git_reference_symbolic_target(head),
		    want[i].ref);
		git_reference_free(head);
		git_repository_free(r);
		ref_hex(f->gitdir, want[i].ref, hex);
		assert_string_equal(hex, main_hex);
	}
	/* Idempotent: found, not added again. */
	assert_int_equal(repo_worktree(f->gitdir, f->wta, "a", f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(repo_worktree(f->gitdir, f->wtb, "b", f->err,
	    sizeof(f->err)), 0);
	/* b's worktree is not at a's place. */
	assert_int_equal(repo_worktree(f->gitdir, f->wta, "b", f->err,
	    sizeof(f->err)), -1);
	/* Names that would escape or be odd refs. */
	assert_int_equal(repo_worktree(f->gitdir, f->wta, "../x", f->err,
	    sizeof(f->err)), -1);
	assert_int_equal(repo_worktree(f->gitdir, f->wta, "", f->err,
	    sizeof(f->err)), -1);
	assert_int_equal(repo_worktree(f->gitdir, f->wta, "x.lock", f->err,
	    sizeof(f->err)), -1);
}

static void
test_commit(void **state)
{
	static const char msg[] = "Add x and y\n\nBody line.\n\n"
	    "Masterd-Round: 3\n";
	struct fx *f = *state;
	char before[REPO_OID_HEX], oid[REPO_OID_HEX], tip[REPO_OID_HEX];
	char p[REPO_OID_HEX], path[PATH_MAX], *s;
	git_repository *r;
	git_commit *c;

	ref_hex(f->gitdir, "refs/heads/domain/a", before);
	put(f->wta, "a/x.txt", "one\n");
	put(f->wta, "a/sub/y.txt", "why\n");
	put(f->wta, "a/run.sh", "#!/bin/sh\n");
	tu_join(path, sizeof(path), f->wta, "a/run.sh");
	assert_int_equal(chmod(path, 0755), 0);
	tu_join(path, sizeof(path), f->wta, "a/link");
	assert_int_equal(symlink("x.txt", path), 0);
	/* What a hostile check command might leave. */
	put(f->wta, "evil.txt", "outside\n");
	put(f->wta, "b/intruder.txt", "not a's\n");

	commit_ok(f, f->wta, "a", msg, oid);
	ref_hex(f->gitdir, "refs/heads/domain/a", tip);
	assert_string_equal(oid, tip);
	parent_hex(f->gitdir, oid, 0, p);
	assert_string_equal(p, before);
	assert_int_equal(parents(f->gitdir, oid), 1);

	r = open_git(f->gitdir);
	c = commit_of(r, oid);
	assert_string_equal(git_commit_message(c), msg);
	assert_string_equal(git_commit_author(c)->name, "a");
	assert_string_equal(git_commit_author(c)->email, "a@masterd.invalid");
	assert_string_equal(git_commit_committer(c)->name, "a");
	assert_string_equal(git_commit_committer(c)->email,
	    "a@masterd.invalid");
	git_commit_free(c);
	git_repository_free(r);

	assert_true(has_path(f->gitdir, oid, "a/x.txt"));
	assert_true(has_path(f->gitdir, oid, "a/sub/y.txt"));
	assert_false(has_path(f->gitdir, oid, "evil.txt"));
	assert_false(has_path(f->gitdir, oid, "b"));
	assert_int_equal(mode_at(f->gitdir, oid, "a/run.sh"),
	    GIT_FILEMODE_BLOB_EXECUTABLE);
	assert_int_equal(mode_at(f->gitdir, oid, "a/x.txt"),
	    GIT_FILEMODE_BLOB);
	assert_int_equal(mode_at(f->gitdir, oid, "a/link"),
	    GIT_FILEMODE_LINK);
	/* Nothing else moved. */
	ref_hex(f->gitdir, "refs/heads/main", p);
	assert_string_equal(p, before);

	/* Nothing new under a/: unchanged, branch still. */
	assert_int_equal(repo_commit(f->wta, "a", "again\n", tip, f->err,
	    sizeof(f->err)), REPO_UNCHANGED);
	assert_string_equal(tip, oid);
	assert_int_equal(log_len(f, "domain/a"), 2);
	/* Same size, same second: still seen as a change. */
	put(f->wta, "a/x.txt", "two\n");
	commit_ok(f, f->wta, "a", "same size\n", tip);
	s = blob_at(f->gitdir, tip, "a/x.txt");
	assert_string_equal(s, "two\n");
	free(s);
	/* The outside files are still there, untouched. */
	expect_file(f->wta, "evil.txt", "outside\n");
	git_check(f);
}

/* What check commands leave behind is never committed. */
static void
test_commit_skips_check_artifacts(void **state)
{
	static const struct { const char *path, *text; } files[] = {
		{ "a/app.py", "print(1)\n" },
		{ "a/__pycache__/app.cpython-311.pyc", "bytes" },
		{ "a/node_modules/x/index.js", "x\n" },
		{ "a/stray.pyc", "bytes" },
	};
	char oid[REPO_OID_HEX], *diff;
	struct fx *f = *state;

	for (size_t i = 0; i < TU_NITEMS(files); i++)
		put(f->wta, files[i].path, files[i].text);
	diff = diff_ok(f, 65536);
	assert_non_null(strstr(diff, "app.py"));
	assert_null(strstr(diff, "pycache"));
	assert_null(strstr(diff, "node_modules"));
	free(diff);
	commit_ok(f, f->wta, "a", "app\n", oid);
	assert_true(has_path(f->gitdir, oid, "a/app.py"));
	assert_false(has_path(f->gitdir, oid, "a/__pycache__"));
	assert_false(has_path(f->gitdir, oid, "a/node_modules"));
	assert_false(has_path(f->gitdir, oid, "a/stray.pyc"));
	/* Written once, however often the repository is opened. */
	assert_int_equal(repo_init(f->gitdir, f->err, sizeof(f->err)), 0);
	git_check(f);
}

static void
test_delete(void **state)
{
	struct fx *f = *state;
	char c1[REPO_OID_HEX], c2[REPO_OID_HEX], path[PATH_MAX];
	json_t *files = NULL;

	put(f->wta, "a/x.txt", "one\n");
	put(f->wta, "a/sub/y.txt", "why\n");
	commit_ok(f, f->wta, "a", "two files\n", c1);

	assert_int_equal(repo_files(f->wta, "a", &files, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(json_array_size(files), 2);
	assert_string_equal(json_string_value(json_array_get(files, 0)),
	    "sub/y.txt");
	assert_string_equal(json_string_value(json_array_get(files, 1)),
	    "x.txt");
	json_decref(files);

	tu_join(path, sizeof(path), f->wta, "a/sub/y.txt");
	assert_int_equal(unlink(path), 0);
	commit_ok(f, f->wta, "a", "drop y\n", c2);
	assert_false(has_path(f->gitdir, c2, "a/sub/y.txt"));
	assert_false(has_path(f->gitdir, c2, "a/sub"));
	assert_true(has_path(f->gitdir, c2, "a/x.txt"));

	assert_int_equal(count_files(f, f->wta, "a"), 1);

	/* Every file gone: a/ leaves the tree. */
	tu_join(path, sizeof(path), f->wta, "a/x.txt");
	assert_int_equal(unlink(path), 0);
	commit_ok(f, f->wta, "a", "drop all\n", c2);
	assert_false(has_path(f->gitdir, c2, "a"));
	assert_int_equal(count_files(f, f->wta, "a"), 0);
	/* b has never committed: an empty list, not an error. */
	assert_int_equal(count_files(f, f->wtb, "b"), 0);
	git_check(f);
}

/* Something staged outside a/ behind our back stays out of the commit,
 * and the index is made to match the commit again. */
static void
test_commit_ignores_staged_outside(void **state)
{
	struct fx *f = *state;
	char oid[REPO_OID_HEX];
	git_repository *r;
	git_index *idx;
	unsigned int st;

	put(f->wta, "evil.txt", "staged\n");
	assert_int_equal(git_repository_open(&r, f->wta), 0);
	assert_int_equal(git_repository_index(&idx, r), 0);
	assert_int_equal(git_index_add_bypath(idx, "evil.txt"), 0);
	assert_int_equal(git_index_write(idx), 0);
	git_index_free(idx);
	git_repository_free(r);

	put(f->wta, "a/x.txt", "one\n");
	commit_ok(f, f->wta, "a", "x\n", oid);
	assert_false(has_path(f->gitdir, oid, "evil.txt"));
	assert_true(has_path(f->gitdir, oid, "a/x.txt"));

	assert_int_equal(git_repository_open(&r, f->wta), 0);
	assert_int_equal(git_status_file(&st, r, "evil.txt"), 0);
	assert_int_equal(st, GIT_STATUS_WT_NEW);
	assert_int_equal(git_status_file(&st, r, "a/x.txt"), 0);
	assert_int_equal(st, GIT_STATUS_CURRENT);
	git_repository_free(r);
	git_check(f);
}

static void
test_branch_safety(void **state)
{
	struct fx *f = *state;
	char oid[REPO_OID_HEX], snap[REPO_OID_HEX], before[REPO_OID_HEX];
	char after[REPO_OID_HEX];
	char *diff = NULL;

	put(f->wtb, "a/x.txt", "in b's worktree\n");
	ref_hex(f->gitdir, "refs/heads/domain/a", before);
	assert_int_equal(repo_commit(f->wtb, "a", "wrong\n", oid, f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "refusing"));
	assert_string_equal(oid, "");
	assert_int_equal(repo_snapshot_and_clean(f->wtb, "a", "s1", snap,
	    f->err, sizeof(f->err)), -1);
	assert_int_equal(repo_diff(f->wtb, "a", 0, &diff, f->err,
	    sizeof(f->err)), -1);
	assert_null(diff);
	ref_hex(f->gitdir, "refs/heads/domain/a", after);
	assert_string_equal(before, after);
	expect_file(f->wtb, "a/x.txt", "in b's worktree\n");

	/* Not a worktree at all. */
	assert_int_equal(repo_commit(f->tmp, "a", "x\n", oid, f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "opening worktree"));
	/* The bare repository is no worktree either. */
	assert_int_equal(repo_commit(f->gitdir, "a", "x\n", oid, f->err,
	    sizeof(f->err)), -1);
}

static void
test_diff(void **state)
{
	struct fx *f = *state;
	char oid[REPO_OID_HEX], big[8192];
	char *diff = NULL;
	size_t i;

	put(f->wta, "a/x.txt", "one\n");
	commit_ok(f, f->wta, "a", "x\n", oid);
	diff = diff_ok(f, 0);
	assert_string_equal(diff, "");
	free(diff);

	put(f->wta, "a/x.txt", "one\ntwo\n");
	put(f->wta, "a/new/fresh.txt", "fresh\n");
	put(f->wta, "outside.txt", "not shown\n");
	diff = diff_ok(f, 0);
	assert_non_null(strstr(diff, "diff --git a/a/x.txt b/a/x.txt"));
	assert_non_null(strstr(diff, "\n one\n+two\n"));
	assert_non_null(strstr(diff, "b/a/new/fresh.txt"));
	assert_non_null(strstr(diff, "\n+fresh\n"));
	assert_null(strstr(diff, "outside"));
	assert_null(strstr(diff, "diff cut"));
	free(diff);

	/* Cut, with the note inside the budget. */
	for (i = 0; i + 1 < sizeof(big); i++)
		big[i] = i % 64 == 63 ? '\n' : 'a' + (char)(i % 26);
	big[sizeof(big) - 1] = '\0';
	put(f->wta, "a/big.txt", big);
	diff = diff_ok(f, 300);
	assert_true(strlen(diff) <= 300);
	assert_non_null(strstr(diff, "diff --git"));
	assert_non_null(strstr(diff, "diff cut"));
	free(diff);
	/* A budget smaller than the note still holds. */
	diff = diff_ok(f, 10);
	assert_true(strlen(diff) <= 10);
	free(diff);
	/* The diff did not stage anything. */
	assert_int_equal(repo_commit(f->wta, "a", "all\n", oid, f->err,
	    sizeof(f->err)), 0);
	assert_true(has_path(f->gitdir, oid, "a/big.txt"));
}

static void
test_snapshot_and_clean(void **state)
{
	struct fx *f = *state;
	char tip[REPO_OID_HEX], snap[REPO_OID_HEX], hex[REPO_OID_HEX];
	char path[PATH_MAX], *s;

	put(f->wta, "a/x.txt", "one\n");
	put(f->wta, "a/y.txt", "why\n");
	put(f->wta, "a/.gitignore", "*.log\n");
	commit_ok(f, f->wta, "a", "base\n", tip);

	/* Dirty: modified, deleted, untracked (nested), ignored; and a
	 * file outside a/. */
	put(f->wta, "a/x.txt", "one changed\n");
	tu_join(path, sizeof(path), f->wta, "a/y.txt");
	assert_int_equal(unlink(path), 0);
	put(f->wta, "a/deep/new.txt", "brand new\n");
	put(f->wta, "a/build.log", "ignored\n");
	put(f->wta, "outside.txt", "leave me\n");

	assert_int_equal(repo_snapshot_and_clean(f->wta, "a", "round-1/try-1",
	    snap, f->err, sizeof(f->err)), 0);
	assert_int_equal((int)strlen(snap), 40);
	ref_hex(f->gitdir, "refs/masterd/snapshots/a/round-1/try-1", hex);
	assert_string_equal(hex, snap);
	parent_hex(f->gitdir, snap, 0, hex);
	assert_string_equal(hex, tip);
	s = blob_at(f->gitdir, snap, "a/x.txt");
	assert_string_equal(s, "one changed\n");
	free(s);
	s = blob_at(f->gitdir, snap, "a/deep/new.txt");
	assert_string_equal(s, "brand new\n");
	free(s);
	assert_false(has_path(f->gitdir, snap, "a/y.txt"));
	assert_false(has_path(f->gitdir, snap, "a/build.log"));
	assert_false(has_path(f->gitdir, snap, "outside.txt"));

	/* The branch did not move; the worktree is back at its tip. */
	ref_hex(f->gitdir, "refs/heads/domain/a", hex);
	assert_string_equal(hex, tip);
	expect_file(f->wta, "a/x.txt", "one\n");
	expect_file(f->wta, "a/y.txt", "why\n");
	assert_false(there(f->wta, "a/deep/new.txt"));
	assert_false(there(f->wta, "a/deep"));
	expect_file(f->wta, "a/build.log", "ignored\n");
	expect_file(f->wta, "outside.txt", "leave me\n");

	/* Clean now: no snapshot. */
	assert_int_equal(repo_snapshot_and_clean(f->wta, "a", "round-1/try-2",
	    snap, f->err, sizeof(f->err)), 0);
	assert_string_equal(snap, "");
	assert_int_equal(repo_commit(f->wta, "a", "nothing\n", hex, f->err,
	    sizeof(f->err)), REPO_UNCHANGED);

	/* A label in use with other content is refused, nothing cleaned. */
	put(f->wta, "a/x.txt", "other\n");
	assert_int_equal(repo_snapshot_and_clean(f->wta, "a", "round-1/try-1",
	    snap, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "exists"));
	expect_file(f->wta, "a/x.txt", "other\n");
	assert_int_equal(repo_snapshot_and_clean(f->wta, "a", "bad..label",
	    snap, f->err, sizeof(f->err)), -1);
	assert_int_equal(repo_snapshot_and_clean(f->wta, "a", "round-2",
	    snap, f->err, sizeof(f->err)), 0);
	expect_file(f->wta, "a/x.txt", "one\n");

	/* A domain that never committed: a/ did not exist at the tip. */
	put(f->wtb, "b/first.txt", "first\n");
	assert_int_equal(repo_snapshot_and_clean(f->wtb, "b", "r1", snap,
	    f->err, sizeof(f->err)), 0);
	assert_int_equal((int)strlen(snap), 40);
	s = blob_at(f->gitdir, snap, "b/first.txt");
	assert_string_equal(s, "first\n");
	free(s);
	assert_false(there(f->wtb, "b/first.txt"));
	git_check(f);
}

/* A nested repository under a/ cannot be committed nor snapshotted: both
 * refuse, and nothing is removed. */
static void
test_nested_repo(void **state)
{
	struct fx *f = *state;
	git_repository *r = NULL;
	char oid[REPO_OID_HEX], snap[REPO_OID_HEX], path[PATH_MAX];

	tu_join(path, sizeof(path), f->wta, "a/sub");
	put(f->wta, "a/ok.txt", "fine\n");
	put(f->wta, "a/sub/file.txt", "in a nested repo\n");
	assert_int_equal(git_repository_init(&r, path, 0), 0);
	git_repository_free(r);
	assert_int_equal(repo_commit(f->wta, "a", "x\n", oid, f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "nested"));
	assert_int_equal(repo_snapshot_and_clean(f->wta, "a", "n1", snap,
	    f->err, sizeof(f->err)), -1);
	expect_file(f->wta, "a/sub/file.txt", "in a nested repo\n");
	expect_file(f->wta, "a/ok.txt", "fine\n");
}

static void
test_merge(void **state)
{
	struct fx *f = *state;
	char main0[REPO_OID_HEX], a1[REPO_OID_HEX], b1[REPO_OID_HEX];
	char a2[REPO_OID_HEX], m1[REPO_OID_HEX], m2[REPO_OID_HEX];
	char m3[REPO_OID_HEX], hex[REPO_OID_HEX], path[PATH_MAX];
	char *s;
	git_repository *r;
	git_commit *c;

	ref_hex(f->gitdir, "refs/heads/main", main0);
	/* Nothing committed yet: nothing to merge. */
	assert_int_equal(repo_merge_domain(f->gitdir, "a", "m\n", hex, f->err,
	    sizeof(f->err)), REPO_UNCHANGED);
	assert_string_equal(hex, main0);

	put(f->wta, "a/x.txt", "a one\n");
	commit_ok(f, f->wta, "a", "a1\n", a1);
	put(f->wtb, "b/y.txt", "b one\n");
	commit_ok(f, f->wtb, "b", "b1\n", b1);

	merge_ok(f, "a", m1);
	ref_hex(f->gitdir, "refs/heads/main", hex);
	assert_string_equal(hex, m1);
	assert_int_equal(parents(f->gitdir, m1), 2);
	assert_parents(f->gitdir, m1, main0, a1);
	assert_true(has_path(f->gitdir, m1, "a/x.txt"));
	assert_false(has_path(f->gitdir, m1, "b"));

	merge_ok(f, "b", m2);
	assert_parents(f->gitdir, m2, m1, b1);
	assert_true(has_path(f->gitdir, m2, "a/x.txt"));
	assert_true(has_path(f->gitdir, m2, "b/y.txt"));

	r = open_git(f->gitdir);
	c = commit_of(r, m2);
	assert_string_equal(git_commit_author(c)->name, "masterd");
	assert_string_equal(git_commit_committer(c)->email,
	    "masterd@masterd.invalid");
	assert_string_equal(git_commit_message(c), "Merge a domain\n");
	git_commit_free(c);
	git_repository_free(r);

	/* Again: main has it. */
	assert_int_equal(repo_merge_domain(f->gitdir, "a", "m\n", hex, f->err,
	    sizeof(f->err)), REPO_UNCHANGED);
	assert_string_equal(hex, m2);
	ref_hex(f->gitdir, "refs/heads/main", hex);
	assert_string_equal(hex, m2);

	/* A second round in a. */
	put(f->wta, "a/x.txt", "a two, longer\n");
	put(f->wta, "a/z.txt", "zed\n");
	commit_ok(f, f->wta, "a", "a2\n", a2);
	merge_ok(f, "a", m3);
	assert_parents(f->gitdir, m3, m2, a2);
	s = blob_at(f->gitdir, m3, "a/x.txt");
	assert_string_equal(s, "a two, longer\n");
	free(s);
	assert_true(has_path(f->gitdir, m3, "a/z.txt"));
	s = blob_at(f->gitdir, m3, "b/y.txt");
	assert_string_equal(s, "b one\n");
	free(s);
	/* The first commit, a1, a2, b1 and three merges. */
	assert_int_equal(log_len(f, "main"), 7);

	/* A domain that deleted all its files leaves main without it. */
	tu_join(path, sizeof(path), f->wtb, "b/y.txt");
	assert_int_equal(unlink(path), 0);
	commit_ok(f, f->wtb, "b", "b gone\n", b1);
	merge_ok(f, "b", m3);
	assert_false(has_path(f->gitdir, m3, "b"));
	assert_true(has_path(f->gitdir, m3, "a/z.txt"));

	assert_int_equal(repo_merge_domain(f->gitdir, "nope", "m\n", hex,
	    f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "resolving refs/heads/domain/nope: "));
	git_check(f);
}

/* The master merges while the child keeps committing: every merge takes
 * one consistent tip, main ends with the branch's last a/. */
static void
test_merge_while_committing(void **state)
{
	struct fx *f = *state;
	char oid[REPO_OID_HEX], text[64], hex[REPO_OID_HEX];
	char atip[REPO_OID_HEX], *s;
	int i, merges = 0, status, r;
	pid_t pid;

	put(f->wta, "a/n.txt", "0\n");
	commit_ok(f, f->wta, "a", "start\n", oid);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		for (i = 1; i <= 20; i++) {
			snprintf(text, sizeof(text), "%d\n", i);
			put(f->wta, "a/n.txt", text);
			if (repo_commit(f->wta, "a", "round\n", oid, f->err,
			    sizeof(f->err)) != 0)
				_exit(1);
		}
		_exit(0);
	}
	for (;;) {
		r = repo_merge_domain(f->gitdir, "a", "merge\n", oid, f->err,
		    sizeof(f->err));
		if (r < 0)
			fail_msg("merge: %s", f->err);
		merges += r == 0;
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	r = repo_merge_domain(f->gitdir, "a", "merge\n", oid, f->err,
	    sizeof(f->err));
	assert_true(r == 0 || r == REPO_UNCHANGED);
	assert_true(merges >= 1);
	ref_hex(f->gitdir, "refs/heads/main", hex);
	s = blob_at(f->gitdir, hex, "a/n.txt");
	assert_string_equal(s, "20\n");
	free(s);
	ref_hex(f->gitdir, "refs/heads/domain/a", atip);
	assert_int_equal(log_len(f, "domain/a"), 22);
	git_check(f);
}

/* domain b takes main's peers' code: refresh_ok's tip and main. */
static int
refresh(struct fx *f, char tip[REPO_OID_HEX], char main_oid[REPO_OID_HEX])
{
	int r = repo_refresh_domain(f->wtb, "b", main_oid, tip, f->err,
	    sizeof(f->err));

	if (r < 0)
		fail_msg("repo_refresh_domain: %s", f->err);
	return r;
}

/*
 * A domain's branch takes main's current code of its peers, as a commit
 * whose parents are its tip and main, the worktree's peers' files follow
 * (added, changed, removed), its own folder is left as it is, nothing
 * happens when main has nothing new, and merging a refreshed branch
 * never takes main backwards.
 */
static void
test_refresh(void **state)
{
	struct fx *f = *state;
	char a1[REPO_OID_HEX], b1[REPO_OID_HEX], b2[REPO_OID_HEX];
	char m[REPO_OID_HEX], mo[REPO_OID_HEX], tip[REPO_OID_HEX];
	char t1[REPO_OID_HEX], hex[REPO_OID_HEX], path[PATH_MAX], *s;
	int st;

	put(f->wtb, "b/y.txt", "b one\n");
	commit_ok(f, f->wtb, "b", "b1\n", b1);
	/* main has nothing of a's yet: nothing to take. */
	assert_int_equal(refresh(f, tip, mo), REPO_UNCHANGED);
	assert_string_equal(tip, b1);
	ref_hex(f->gitdir, "refs/heads/main", hex);
	assert_string_equal(mo, hex);

	put(f->wta, "a/lib.py", "def get():\n    return 1\n");
	commit_ok(f, f->wta, "a", "a1\n", a1);
	merge_ok(f, "a", m);
	/* b's own folder, dirty and with a new file: left as it is. */
	put(f->wtb, "b/y.txt", "b being edited\n");
	put(f->wtb, "b/wip.txt", "new\n");
	assert_false(there(f->wtb, "a/lib.py"));
	assert_int_equal(refresh(f, t1, mo), 0);
	assert_string_equal(mo, m);
	assert_parents(f->gitdir, t1, b1, m);
	ref_hex(f->gitdir, "refs/heads/domain/b", hex);
	assert_string_equal(hex, t1);
	expect_file(f->wtb, "a/lib.py", "def get():\n    return 1\n");
	expect_file(f->wtb, "b/y.txt", "b being edited\n");
	expect_file(f->wtb, "b/wip.txt", "new\n");
	s = blob_at(f->gitdir, t1, "b/y.txt");
	assert_string_equal(s, "b one\n");
	free(s);
	assert_true(has_path(f->gitdir, t1, "a/lib.py"));
	assert_false(has_path(f->gitdir, t1, "b/wip.txt"));
	/* Again: nothing new on main. */
	assert_int_equal(refresh(f, tip, mo), REPO_UNCHANGED);
	assert_string_equal(tip, t1);

	/* a changes a file, adds one; then removes it. */
	put(f->wta, "a/lib.py", "def get():\n    return 2\n");
	put(f->wta, "a/new.py", "x = 1\n");
	commit_ok(f, f->wta, "a", "a2\n", a1);
	merge_ok(f, "a", m);
	assert_int_equal(refresh(f, tip, mo), 0);
	assert_parents(f->gitdir, tip, t1, m);
	expect_file(f->wtb, "a/lib.py", "def get():\n    return 2\n");
	assert_true(there(f->wtb, "a/new.py"));
	tu_join(path, sizeof(path), f->wta, "a/new.py");
	assert_int_equal(unlink(path), 0);
	commit_ok(f, f->wta, "a", "a3\n", a1);
	merge_ok(f, "a", m);
	assert_int_equal(refresh(f, tip, mo), 0);
	assert_false(there(f->wtb, "a/new.py"));
	expect_file(f->wtb, "b/y.txt", "b being edited\n");

	/* b commits on its refreshed branch; a moves main on meanwhile;
	 * b's merge takes b/ only: main keeps a's newest code. */
	commit_ok(f, f->wtb, "b", "b2\n", b2);
	assert_int_equal(parents(f->gitdir, b2), 1);
	parent_hex(f->gitdir, b2, 0, hex);
	assert_string_equal(hex, tip);
	put(f->wta, "a/lib.py", "def get():\n    return 3\n");
	commit_ok(f, f->wta, "a", "a4\n", a1);
	merge_ok(f, "a", m);
	merge_ok(f, "b", hex);
	assert_parents(f->gitdir, hex, m, b2);
	s = blob_at(f->gitdir, hex, "a/lib.py");
	assert_string_equal(s, "def get():\n    return 3\n");
	free(s);
	s = blob_at(f->gitdir, hex, "b/y.txt");
	assert_string_equal(s, "b being edited\n");
	free(s);
	assert_true(has_path(f->gitdir, hex, "b/wip.txt"));
	/* main after the merge has everything b's branch has, and more. */
	assert_int_equal(refresh(f, tip, mo), 0);
	assert_string_equal(mo, hex);
	expect_file(f->wtb, "a/lib.py", "def get():\n    return 3\n");
	/* main's own merge of b changed nothing of b's: the refreshed tree
	 * is main's. */
	assert_int_equal(repo_merge_domain(f->gitdir, "b", "m\n", hex, f->err,
	    sizeof(f->err)), REPO_UNCHANGED);

	/* Another domain's worktree is refused. */
	assert_int_equal(repo_refresh_domain(f->wta, "b", mo, tip, f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "refusing"));
	git_check(f);
	if (have_git()) {
		s = git_out(&st, "git -C '%s' status --porcelain 2>&1",
		    f->wtb);
		assert_int_equal(st, 0);
		assert_string_equal(s, "");
		free(s);
	}
}

static void
test_log(void **state)
{
	struct fx *f = *state;
	char c1[REPO_OID_HEX], c2[REPO_OID_HEX], m[REPO_OID_HEX];
	json_t *log = NULL, *e;

	put(f->wta, "a/x.txt", "1\n");
	commit_ok(f, f->wta, "a", "First round\n\nMasterd-Round: 1\n", c1);
	put(f->wta, "a/x.txt", "22\n");
	commit_ok(f, f->wta, "a", "Second round\n\nMasterd-Round: 2\n", c2);

	assert_int_equal(repo_log(f->gitdir, "domain/a", 10, &log, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(json_array_size(log), 3);
	e = json_array_get(log, 0);
	assert_string_equal(json_string_value(json_object_get(e, "id")), c2);
	assert_string_equal(json_string_value(json_object_get(e, "author")),
	    "a");
	assert_string_equal(json_string_value(json_object_get(e, "summary")),
	    "Second round");
	assert_true(json_integer_value(json_object_get(e, "time")) >
	    1600000000);
	e = json_array_get(log, 1);
	assert_string_equal(json_string_value(json_object_get(e, "id")), c1);
	assert_string_equal(json_string_value(json_object_get(e, "summary")),
	    "First round");
	e = json_array_get(log, 2);
	assert_string_equal(json_string_value(json_object_get(e, "author")),
	    "masterd");
	json_decref(log);

	assert_int_equal(repo_log(f->gitdir, "refs/heads/domain/a", 1, &log,
	    f->err, sizeof(f->err)), 0);
	assert_int_equal(json_array_size(log), 1);
	json_decref(log);

	merge_ok(f, "a", m);
	assert_int_equal(repo_log(f->gitdir, "main", 10, &log, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(json_array_size(log), 4);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(log, 0), "id")), m);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(log, 1), "id")), c2);
	json_decref(log);

	log = NULL;
	assert_int_equal(repo_log(f->gitdir, "no-such-branch", 10, &log,
	    f->err, sizeof(f->err)), -1);
	assert_null(log);
	assert_non_null(strstr(f->err, "resolving no-such-branch: "));
}

static void
test_repair(void **state)
{
	struct fx *f = *state;
	char oid[REPO_OID_HEX], path[PATH_MAX];

	put(f->wta, "a/x.txt", "kept in git\n");
	commit_ok(f, f->wta, "a", "x\n", oid);

	/* Directory removed: pruned and added again, on its branch. */
	tu_rmtree(f->wta);
	assert_false(tu_exists(f->wta));
	if (repo_worktree(f->gitdir, f->wta, "a", f->err, sizeof(f->err)))
		fail_msg("repair: %s", f->err);
	expect_file(f->wta, "a/x.txt", "kept in git\n");
	put(f->wta, "a/x.txt", "after repair\n");
	commit_ok(f, f->wta, "a", "y\n", oid);

	/* Only .git removed and the directory emptied: repaired too. */
	tu_rmtree(f->wta);
	assert_int_equal(mkdir(f->wta, 0755), 0);
	if (repo_worktree(f->gitdir, f->wta, "a", f->err, sizeof(f->err)))
		fail_msg("repair of an empty dir: %s", f->err);
	expect_file(f->wta, "a/x.txt", "after repair\n");

	/* .git gone but work in the directory: refused, work untouched. */
	tu_join(path, sizeof(path), f->wta, ".git");
	assert_int_equal(unlink(path), 0);
	put(f->wta, "a/unsaved.txt", "precious\n");
	assert_int_equal(repo_worktree(f->gitdir, f->wta, "a", f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "refusing"));
	expect_file(f->wta, "a/unsaved.txt", "precious\n");

	/* A new domain in an occupied directory: refused as well. */
	tu_join(path, sizeof(path), f->tmp, "occupied");
	assert_int_equal(mkdir(path, 0755), 0);
	put(path, "file", "mine\n");
	assert_int_equal(repo_worktree(f->gitdir, path, "c", f->err,
	    sizeof(f->err)), -1);
	expect_file(path, "file", "mine\n");
	/* ... and works once the place is free. */
	tu_rmtree(path);
	if (repo_worktree(f->gitdir, path, "c", f->err, sizeof(f->err)))
		fail_msg("c: %s", f->err);

	/* What a failed git_worktree_add leaves: worktrees/<name> with part
	 * of its files.  Cleared away, then the add works. */
	tu_join(path, sizeof(path), f->gitdir, "worktrees/d");
	assert_int_equal(mkdir(path, 0755), 0);
	put(path, "commondir", "../..\n");
	tu_join(path, sizeof(path), f->tmp, "tasks/1/domains/d");
	if (repo_worktree(f->gitdir, path, "d", f->err, sizeof(f->err)))
		fail_msg("d: %s", f->err);
	assert_true(there(path, ".git"));
	if (have_git()) {
		char *out;
		int st;

		out = git_out(&st, "git --git-dir='%s' worktree list "
		    "--porcelain 2>&1", f->gitdir);
		assert_int_equal(st, 0);
		assert_non_null(strstr(out, "branch refs/heads/domain/c"));
		free(out);
	}
}

/* git itself knows our worktrees: list, status, and prune of one whose
 * directory is gone (which we then make again). */
static void
test_worktree_git(void **state)
{
	struct fx *f = *state;
	char *out;
	int st;

	if (!have_git())
		skip();
	out = git_out(&st, "git --git-dir='%s' worktree list --porcelain "
	    "2>&1", f->gitdir);
	assert_int_equal(st, 0);
	assert_non_null(strstr(out, "branch refs/heads/domain/a"));
	assert_non_null(strstr(out, "branch refs/heads/domain/b"));
	assert_null(strstr(out, "locked"));
	free(out);
	out = git_out(&st, "git -C '%s' status --porcelain 2>&1", f->wta);
	assert_int_equal(st, 0);
	assert_string_equal(out, "");
	free(out);
	tu_rmtree(f->wtb);
	out = git_out(&st, "git --git-dir='%s' worktree prune 2>&1 && "
	    "git --git-dir='%s' worktree list --porcelain", f->gitdir,
	    f->gitdir);
	assert_int_equal(st, 0);
	assert_null(strstr(out, "domain/b"));
	free(out);
	if (repo_worktree(f->gitdir, f->wtb, "b", f->err, sizeof(f->err)))
		fail_msg("b after git's prune: %s", f->err);
	out = git_out(&st, "git -C '%s' status --porcelain 2>&1", f->wtb);
	assert_int_equal(st, 0);
	assert_string_equal(out, "");
	free(out);
}

/* A worker killed during the checkout leaves "locked: initializing" and
 * part of the files: the next call checks out the rest and unlocks. */
static void
test_worktree_cut_short(void **state)
{
	struct fx *f = *state;
	char oid[REPO_OID_HEX], path[PATH_MAX];

	put(f->wta, "a/x.txt", "in git\n");
	commit_ok(f, f->wta, "a", "x\n", oid);
	tu_join(path, sizeof(path), f->wta, "a/x.txt");
	assert_int_equal(unlink(path), 0);
	tu_join(path, sizeof(path), f->gitdir, "worktrees/a/locked");
	tu_write_file(path, "initializing");
	if (repo_worktree(f->gitdir, f->wta, "a", f->err, sizeof(f->err)))
		fail_msg("finishing a: %s", f->err);
	expect_file(f->wta, "a/x.txt", "in git\n");
	assert_false(tu_exists(path));

	/* Cut short and its directory gone too: pruned despite the lock,
	 * made again. */
	tu_write_file(path, "initializing");
	tu_rmtree(f->wta);
	if (repo_worktree(f->gitdir, f->wta, "a", f->err, sizeof(f->err)))
		fail_msg("remaking a: %s", f->err);
	expect_file(f->wta, "a/x.txt", "in git\n");
	assert_false(tu_exists(path));
}

/* While another process holds the worktree lock, a caller that is told
 * to give up does, and makes nothing; once the lock is free it works. */
static void
test_worktree_give_up(void **state)
{
	struct fx *f = *state;
	char lock[PATH_MAX], wt[PATH_MAX];
	atomic_bool give_up;
	int fd;

	tu_join(lock, sizeof(lock), f->gitdir, REPO_WORKTREES_LOCK);
	tu_join(wt, sizeof(wt), f->tmp, "tasks/1/domains/late");
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	atomic_init(&give_up, true);
	assert_int_equal(repo_worktree_until(f->gitdir, wt, "late", &give_up,
	    f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "gave up waiting"));
	assert_false(tu_exists(wt));
	close(fd);
	atomic_store(&give_up, false);
	if (repo_worktree_until(f->gitdir, wt, "late", &give_up, f->err,
	    sizeof(f->err)) != 0)
		fail_msg("late: %s", f->err);
	assert_true(there(wt, ".git"));
}

/* Sibling processes make their worktrees at the same moment: all made,
 * each on its branch. */
static void
test_worktree_siblings(void **state)
{
	enum { N = 12 };
	struct fx *f = *state;
	char wt[PATH_MAX], name[16], err[256];
	pid_t pids[N];
	int st;

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		tu_join(wt, sizeof(wt), f->tmp, "tasks/1/domains");
		strncat(wt, "/", sizeof(wt) - strlen(wt) - 1);
		strncat(wt, name, sizeof(wt) - strlen(wt) - 1);
		if ((pids[i] = fork()) == 0)
			_exit(repo_worktree(f->gitdir, wt, name, err,
			    sizeof(err)) == 0 ? 0 : (fprintf(stderr, "%s: %s\n",
			    name, err), 1));
		assert_true(pids[i] > 0);
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	for (int i = 0; i < N; i++) {
		git_repository *r;
		git_reference *head;
		char want[64];

		snprintf(name, sizeof(name), "s%d", i);
		snprintf(want, sizeof(want), "refs/heads/domain/%s", name);
		tu_join(wt, sizeof(wt), f->tmp, "tasks/1/domains");
		strncat(wt, "/", sizeof(wt) - strlen(wt) - 1);
		strncat(wt, name, sizeof(wt) - strlen(wt) - 1);
		assert_int_equal(git_repository_open_ext(&r, wt,
		    GIT_REPOSITORY_OPEN_NO_SEARCH, NULL), 0);
		assert_int_equal(git_reference_lookup(&head, r, "HEAD"), 0);
		assert_string_equal(git_reference_symbolic_target(head), want);
		git_reference_free(head);
		git_repository_free(r);
		assert_int_equal(repo_worktree(f->gitdir, wt, name, f->err,
		    sizeof(f->err)), 0);
	}
}

/* A commit of main into the integration directory: every domain's files,
 * nothing of what was there before (a symlink removed, not followed; an
 * unwritable folder emptied too), no .git, no index in the bare
 * repository; a commit it does not have, or a bad id, is refused. */
static void
test_checkout_commit(void **state)
{
	struct fx *f = *state;
	char m2[REPO_OID_HEX], hex[REPO_OID_HEX], dir[PATH_MAX];
	char outside[PATH_MAX], path[PATH_MAX];
	struct stat st;

	put(f->wta, "a/x.txt", "a one\n");
	put(f->wta, "a/sub/deep.txt", "deep\n");
	commit_ok(f, f->wta, "a", "a1\n", hex);
	put(f->wtb, "b/y.txt", "b one\n");
	commit_ok(f, f->wtb, "b", "b1\n", hex);
	merge_ok(f, "a", hex);
	merge_ok(f, "b", m2);

	tu_join(dir, sizeof(dir), f->tmp, "tasks/1/integration");
	tu_join(outside, sizeof(outside), f->tmp, "outside.txt");
	tu_write_file(outside, "keep me\n");
	assert_int_equal(mkdir(dir, 0755), 0);
	put(dir, "stale.txt", "old run\n");
	put(dir, "junk/deeper/file.o", "x");
	put(dir, "a/x.txt", "stale copy\n");
	tu_join(path, sizeof(path), dir, "link");
	assert_int_equal(symlink(outside, path), 0);
	tu_join(path, sizeof(path), dir, "junk/deeper");
	assert_int_equal(chmod(path, 0500), 0);
	tu_join(path, sizeof(path), dir, "junk");
	assert_int_equal(chmod(path, 0500), 0);

	if (repo_checkout_commit(f->gitdir, m2, dir, f->err,
	    sizeof(f->err)) != 0)
		fail_msg("repo_checkout_commit: %s", f->err);
	expect_file(dir, "a/x.txt", "a one\n");
	expect_file(dir, "a/sub/deep.txt", "deep\n");
	expect_file(dir, "b/y.txt", "b one\n");
	assert_false(there(dir, "stale.txt"));
	assert_false(there(dir, "junk"));
	assert_false(there(dir, ".git"));
	tu_join(path, sizeof(path), dir, "link");
	assert_int_equal(lstat(path, &st), -1);
	expect_file(f->tmp, "outside.txt", "keep me\n");
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_false(there(f->gitdir, "index"));

	/* Again, from a created directory. */
	tu_rmtree(dir);
	assert_int_equal(repo_checkout_commit(f->gitdir, m2, dir, f->err,
	    sizeof(f->err)), 0);
	expect_file(dir, "b/y.txt", "b one\n");

	/* Not in the repository, or not an id: refused, dir untouched. */
	assert_int_equal(repo_checkout_commit(f->gitdir,
	    "0123456789abcdef0123456789abcdef01234567", dir, f->err,
	    sizeof(f->err)), REPO_MISSING);
	assert_non_null(strstr(f->err, "is not in the repository"));
	expect_file(dir, "b/y.txt", "b one\n");
	assert_int_equal(repo_checkout_commit(f->gitdir, "main", dir, f->err,
	    sizeof(f->err)), REPO_MISSING);
	assert_non_null(strstr(f->err, "not a commit id"));
	expect_file(dir, "b/y.txt", "b one\n");
}

/* A commit's files listed from the root, one read whole or cut. */
static void
test_commit_files_and_read(void **state)
{
	struct fx *f = *state;
	char m1[REPO_OID_HEX], hex[REPO_OID_HEX], *text;
	json_t *files = NULL;
	size_t len, size;

	put(f->wta, "a/x.txt", "0123456789\n");
	put(f->wta, "a/sub/deep.txt", "deep\n");
	commit_ok(f, f->wta, "a", "a1\n", hex);
	merge_ok(f, "a", m1);

	assert_int_equal(repo_commit_files(f->gitdir, m1, &files, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(json_array_size(files), 2);
	assert_string_equal(json_string_value(json_array_get(files, 0)),
	    "a/sub/deep.txt");
	assert_string_equal(json_string_value(json_array_get(files, 1)),
	    "a/x.txt");
	json_decref(files);

	assert_int_equal(repo_commit_read(f->gitdir, m1, "a/x.txt", 4, &text,
	    &len, &size, f->err, sizeof(f->err)), 0);
	assert_string_equal(text, "0123");
	assert_int_equal(len, 4);
	assert_int_equal(size, 11);
	free(text);
	assert_int_equal(repo_commit_read(f->gitdir, m1, "a/x.txt", 100,
	    &text, &len, &size, f->err, sizeof(f->err)), 0);
	assert_string_equal(text, "0123456789\n");
	free(text);
	assert_int_equal(repo_commit_read(f->gitdir, m1, "a/none", 100, &text,
	    &len, &size, f->err, sizeof(f->err)), REPO_MISSING);
	assert_null(text);
	assert_int_equal(repo_commit_read(f->gitdir, m1, "a/sub", 100, &text,
	    &len, &size, f->err, sizeof(f->err)), REPO_MISSING);
	assert_int_equal(repo_commit_files(f->gitdir,
	    "0123456789abcdef0123456789abcdef01234567", &files, f->err,
	    sizeof(f->err)), REPO_MISSING);
	assert_null(files);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_init),
		T(test_worktrees),
		T(test_commit),
		T(test_commit_skips_check_artifacts),
		T(test_delete),
		T(test_commit_ignores_staged_outside),
		T(test_branch_safety),
		T(test_diff),
		T(test_snapshot_and_clean),
		T(test_nested_repo),
		T(test_merge),
		T(test_merge_while_committing),
		T(test_refresh),
		T(test_log),
		T(test_repair),
		T(test_worktree_git),
		T(test_worktree_cut_short),
		T(test_worktree_siblings),
		T(test_worktree_give_up),
		T(test_checkout_commit),
		T(test_commit_files_and_read),
	};
	int rc;

	tu_filter();
	/* The git CLI must not read the tester's configuration either. */
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	repo_global_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	repo_global_shutdown();
	return rc;
}
