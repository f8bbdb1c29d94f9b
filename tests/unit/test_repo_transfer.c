/*
 * test_repo_transfer.c — a task's main carried out as a pack
 * (common/repo_transfer.c): packed, taken into a user's repository and a
 * branch pointed at it (created, fast-forwarded, never forced, never
 * under a work tree), a second pack that holds only what the user lacks,
 * a damaged pack refused, the files exported into a new directory only,
 * and a push to a file:// remote that takes fast-forwards only.  The
 * other way (submit --repo): a branch of the user's repository fetched
 * (its HEAD's by default), packed, and a task's repository started at
 * it with the history kept; a domain that owns another folder than its
 * name commits and merges there.
 */
#include "testutil.h"

#include <git2.h>
#include <jansson.h>

#include "common/repo.h"
#include "common/repo_transfer.h"

struct fx {
	char	tmp[PATH_MAX];
	char	gitdir[PATH_MAX];	/* the task's repository */
	char	wt[PATH_MAX];		/* domain a's worktree */
	char	user[PATH_MAX];		/* the user's repository */
	char	pack[PATH_MAX];
	char	err[512];
};

/* ---------------------------------------------------------- helpers */

/* Domain a writes a/NAME = text; merged into main.  oid: main after. */
static void
land(struct fx *f, const char *name, const char *text,
    char oid[REPO_OID_HEX])
{
	char path[PATH_MAX], rel[256];

	TU_JOIN(path, f->wt, "a");
	(void)mkdir(path, 0755);
	snprintf(rel, sizeof(rel), "a/%s", name);
	TU_JOIN(path, f->wt, rel);
	tu_write_file(path, text);
	assert_int_equal(repo_commit(f->wt, "a", "change\n", oid, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(repo_merge_domain(f->gitdir, "a", "Merge a\n", oid,
	    f->err, sizeof(f->err)), 0);
}

/* The user's repository: a work tree with one commit of its own on its
 * checked-out branch "work". */
static void
user_repo(struct fx *f)
{
	git_repository *r;
	git_signature *sig;
	git_treebuilder *tb;
	git_oid blob, tree, commit;
	git_tree *t;

	assert_int_equal(git_repository_init(&r, f->user, 0), 0);
	assert_int_equal(git_repository_set_head(r, "refs/heads/work"), 0);
	assert_int_equal(git_blob_create_from_buffer(&blob, r, "mine\n", 5),
	    0);
	assert_int_equal(git_treebuilder_new(&tb, r, NULL), 0);
	assert_int_equal(git_treebuilder_insert(NULL, tb, "README", &blob,
	    GIT_FILEMODE_BLOB), 0);
	assert_int_equal(git_treebuilder_write(&tree, tb), 0);
	assert_int_equal(git_tree_lookup(&t, r, &tree), 0);
	assert_int_equal(git_signature_now(&sig, "user", "u@example.org"), 0);
	assert_int_equal(git_commit_create_v(&commit, r, "HEAD", sig, sig,
	    NULL, "mine\n", t, 0), 0);
	git_signature_free(sig);
	git_tree_free(t);
	git_treebuilder_free(tb);
	git_repository_free(r);
}

static void
ref_of(const char *path, const char *ref, char hex[REPO_OID_HEX])
{
	git_repository *r;
	git_oid id;

	hex[0] = '\0';
	assert_int_equal(git_repository_open_ext(&r, path,
	    GIT_REPOSITORY_OPEN_NO_SEARCH, NULL), 0);
	if (git_reference_name_to_id(&id, r, ref) == 0)
		git_oid_tostr(hex, REPO_OID_HEX, &id);
	git_repository_free(r);
}

/* Pack main against haves into f->pack (replaced); objects packed. */
static size_t
pack_main(struct fx *f, const json_t *haves, char oid[REPO_OID_HEX])
{
	size_t n = 0;

	unlink(f->pack);
	assert_int_equal(repo_pack_ref(f->gitdir, "refs/heads/main", haves,
	    f->pack, oid, &n, f->err, sizeof(f->err)), 0);
	return n;
}

/* ---------------------------------------------------------- fixture */

static int
setup(void **state)
{
	struct fx *f = tu_fixture(sizeof(*f), offsetof(struct fx, tmp));

	tu_join(f->gitdir, sizeof(f->gitdir), f->tmp, "tasks/1/repo.git");
	tu_join(f->wt, sizeof(f->wt), f->tmp, "tasks/1/domains/a");
	tu_join(f->user, sizeof(f->user), f->tmp, "user");
	tu_join(f->pack, sizeof(f->pack), f->tmp, "main.pack");
	if (repo_init(f->gitdir, f->err, sizeof(f->err)) != 0 ||
	    repo_worktree(f->gitdir, f->wt, "a", f->err, sizeof(f->err)) != 0)
		fail_msg("setup: %s", f->err);
	user_repo(f);
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

/* ---------------------------------------------------------- tests */

static void
test_pack_into_user_branch(void **state)
{
	struct fx *f = *state;
	char main1[REPO_OID_HEX], main2[REPO_OID_HEX], packed[REPO_OID_HEX];
	char was[REPO_OID_HEX], got[REPO_OID_HEX], work[REPO_OID_HEX];
	json_t *tips = NULL;
	size_t all, fewer;

	land(f, "one.txt", "one\n", main1);
	all = pack_main(f, NULL, packed);
	assert_string_equal(packed, main1);
	assert_true(all >= 3);		/* commits, trees, a blob */
	assert_int_equal(repo_pack_receive(f->user, f->pack, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(repo_branch_advance(f->user, "masterd/task-1",
	    packed, was, f->err, sizeof(f->err)), 0);
	assert_string_equal(was, "");
	ref_of(f->user, "refs/heads/masterd/task-1", got);
	assert_string_equal(got, main1);

	/* The next pack holds only what the user's branches lack. */
	land(f, "two.txt", "two\n", main2);
	json_decref(tips);
	assert_int_equal(repo_tips(f->user, &tips, f->err, sizeof(f->err)),
	    0);
	assert_int_equal(json_array_size(tips), 2);	/* work, task-1 */
	fewer = pack_main(f, tips, packed);
	/* The new commits (the domain's and the merge), their trees and
	 * the blob: not the first change's. */
	assert_true(fewer < all);
	assert_true(fewer <= 6);
	assert_int_equal(repo_pack_receive(f->user, f->pack, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(repo_branch_advance(f->user, "masterd/task-1",
	    packed, was, f->err, sizeof(f->err)), 0);
	assert_string_equal(was, main1);
	ref_of(f->user, "refs/heads/masterd/task-1", got);
	assert_string_equal(got, main2);
	/* The user's own branch is untouched. */
	ref_of(f->user, "refs/heads/work", work);
	assert_true(work[0] != '\0' && strcmp(work, main2) != 0);
	/* Nothing new: an empty pack, and the branch stays. */
	json_decref(tips);
	assert_int_equal(repo_tips(f->user, &tips, f->err, sizeof(f->err)),
	    0);
	assert_int_equal(pack_main(f, tips, packed), 0);
	json_decref(tips);
}

static void
test_never_forced(void **state)
{
	struct fx *f = *state;
	char m[REPO_OID_HEX], work[REPO_OID_HEX], was[REPO_OID_HEX];

	land(f, "one.txt", "one\n", m);
	pack_main(f, NULL, m);
	assert_int_equal(repo_pack_receive(f->user, f->pack, f->err,
	    sizeof(f->err)), 0);
	/* The checked-out branch is never moved. */
	assert_int_not_equal(repo_branch_advance(f->user, "work", m, was,
	    f->err, sizeof(f->err)), 0);
	assert_non_null(strstr(f->err, "checked out"));
	ref_of(f->user, "refs/heads/work", work);
	assert_string_not_equal(work, m);
	/* A branch with commits main lacks is not overwritten. */
	{
		git_repository *r;
		git_oid id;
		git_reference *ref;

		assert_int_equal(git_repository_open(&r, f->user), 0);
		assert_int_equal(git_oid_fromstr(&id, work), 0);
		assert_int_equal(git_reference_create(&ref, r,
		    "refs/heads/theirs", &id, 0, NULL), 0);
		git_reference_free(ref);
		git_repository_free(r);
	}
	assert_int_not_equal(repo_branch_advance(f->user, "theirs", m, was,
	    f->err, sizeof(f->err)), 0);
	assert_non_null(strstr(f->err, "not overwritten"));
	ref_of(f->user, "refs/heads/theirs", was);
	assert_string_equal(was, work);
	/* Names git refuses are refused. */
	assert_int_not_equal(repo_branch_advance(f->user, "bad..name", m, was,
	    f->err, sizeof(f->err)), 0);
	assert_int_not_equal(repo_branch_advance(f->user, "x", "notanid", was,
	    f->err, sizeof(f->err)), 0);
}

static void
test_damaged_pack(void **state)
{
	struct fx *f = *state;
	char m[REPO_OID_HEX];
	struct stat st;

	land(f, "one.txt", "one\n", m);
	pack_main(f, NULL, m);
	assert_int_equal(stat(f->pack, &st), 0);
	assert_int_equal(truncate(f->pack, st.st_size - 7), 0);
	assert_int_not_equal(repo_pack_receive(f->user, f->pack, f->err,
	    sizeof(f->err)), 0);
	assert_non_null(strstr(f->err, "main.pack"));
	tu_write_file(f->pack, "not a pack at all\n");
	assert_int_not_equal(repo_pack_receive(f->user, f->pack, f->err,
	    sizeof(f->err)), 0);
}

static void
test_export(void **state)
{
	struct fx *f = *state;
	char m[REPO_OID_HEX], dir[PATH_MAX], path[PATH_MAX];
	char *text;

	land(f, "one.txt", "one\n", m);
	TU_JOIN(dir, f->tmp, "out");
	assert_int_equal(repo_export(f->gitdir, m, dir, f->err,
	    sizeof(f->err)), 0);
	TU_JOIN(path, dir, "a/one.txt");
	text = tu_read_file(path);
	assert_non_null(text);
	assert_string_equal(text, "one\n");
	free(text);
	TU_JOIN(path, dir, ".git");
	assert_false(tu_exists(path));
	/* Never into a directory that holds something. */
	assert_int_not_equal(repo_export(f->gitdir, m, dir, f->err,
	    sizeof(f->err)), 0);
	assert_non_null(strstr(f->err, "not empty"));
	TU_JOIN(path, dir, "a/one.txt");
	text = tu_read_file(path);
	assert_string_equal(text, "one\n");
	free(text);
}

static void
test_push_file_url(void **state)
{
	struct fx *f = *state;
	char m1[REPO_OID_HEX], m2[REPO_OID_HEX], got[REPO_OID_HEX];
	char remote[PATH_MAX], url[PATH_MAX + 16];
	git_repository *r;

	TU_JOIN(remote, f->tmp, "remote.git");
	assert_int_equal(git_repository_init(&r, remote, 1), 0);
	git_repository_free(r);
	snprintf(url, sizeof(url), "file://%s", remote);
	land(f, "one.txt", "one\n", m1);
	assert_int_equal(repo_push_url(f->gitdir, m1, url, "masterd/task-1",
	    f->err, sizeof(f->err)), 0);
	ref_of(remote, "refs/heads/masterd/task-1", got);
	assert_string_equal(got, m1);
	land(f, "two.txt", "two\n", m2);
	assert_int_equal(repo_push_url(f->gitdir, m2, url, "masterd/task-1",
	    f->err, sizeof(f->err)), 0);
	ref_of(remote, "refs/heads/masterd/task-1", got);
	assert_string_equal(got, m2);
	/* Back to the older commit: not a fast-forward, refused. */
	assert_int_not_equal(repo_push_url(f->gitdir, m1, url,
	    "masterd/task-1", f->err, sizeof(f->err)), 0);
	ref_of(remote, "refs/heads/masterd/task-1", got);
	assert_string_equal(got, m2);
}

static void
test_import(void **state)
{
	struct fx *f = *state;
	char scratch[PATH_MAX], task2[PATH_MAX], branch[256] = "", oid[41];
	char mine[41], main2[41], pk[41];
	size_t n = 0;

	ref_of(f->user, "refs/heads/work", mine);
	tu_join(scratch, sizeof(scratch), f->tmp, "scratch.git");
	tu_join(task2, sizeof(task2), f->tmp, "tasks/2/repo.git");
	assert_int_equal(repo_init_bare(scratch, f->err, sizeof(f->err)), 0);
	/* No branch given: the one the user's HEAD names. */
	assert_int_equal(repo_fetch_branch(scratch, f->user, branch,
	    sizeof(branch), oid, f->err, sizeof(f->err)), 0);
	assert_string_equal(branch, "work");
	assert_string_equal(oid, mine);
	assert_int_equal(repo_pack_ref(scratch, "refs/heads/work", NULL,
	    f->pack, pk, &n, f->err, sizeof(f->err)), 0);
	assert_true(n >= 3);
	assert_int_equal(repo_init_import(task2, f->pack, oid, f->err,
	    sizeof(f->err)), 0);
	ref_of(task2, "refs/heads/main", main2);
	assert_string_equal(main2, mine);
	/* A second import into it would move main: refused. */
	assert_int_not_equal(repo_init_import(task2, f->pack, oid, f->err,
	    sizeof(f->err)), 0);
	snprintf(branch, sizeof(branch), "nope");
	assert_int_not_equal(repo_fetch_branch(scratch, f->user, branch,
	    sizeof(branch), oid, f->err, sizeof(f->err)), 0);
	assert_non_null(strstr(f->err, "nope"));
}

static void
test_folder(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX], oid[41];
	json_t *files;

	assert_int_not_equal(repo_set_folder(f->gitdir, "a", "..", f->err,
	    sizeof(f->err)), 0);
	assert_int_not_equal(repo_set_folder(f->gitdir, "a", ".git", f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(repo_set_folder(f->gitdir, "a", "server", f->err,
	    sizeof(f->err)), 0);
	TU_JOIN(path, f->wt, "server");
	(void)mkdir(path, 0755);
	TU_JOIN(path, f->wt, "server/app.py");
	tu_write_file(path, "x\n");
	TU_JOIN(path, f->wt, "a");
	(void)mkdir(path, 0755);
	TU_JOIN(path, f->wt, "a/not-mine");
	tu_write_file(path, "x\n");
	assert_int_equal(repo_commit(f->wt, "a", "c\n", oid, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(repo_merge_domain(f->gitdir, "a", "m\n", oid, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(repo_commit_files(f->gitdir, oid, &files, f->err,
	    sizeof(f->err)), 0);
	/* server/ is the domain's; a/ is nobody's now, left out. */
	assert_int_equal(json_array_size(files), 1);
	assert_string_equal(json_string_value(json_array_get(files, 0)),
	    "server/app.py");
	json_decref(files);
	assert_int_equal(repo_files(f->wt, "a", &files, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(json_array_size(files), 1);
	assert_string_equal(json_string_value(json_array_get(files, 0)),
	    "app.py");
	json_decref(files);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_pack_into_user_branch),
		T(test_never_forced),
		T(test_damaged_pack),
		T(test_export),
		T(test_push_file_url),
		T(test_import),
		T(test_folder),
	};
	int rc;

	repo_global_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	repo_global_shutdown();
	return rc;
}
