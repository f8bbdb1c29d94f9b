/*
 * bench_worktree.c — the cost of adding a domain's worktree as the
 * repository already holds more of them (issue #16): libgit2's
 * git_worktree_add, which opens every existing worktree first
 * (git_branch_is_checked_out), beside repo_worktree (common/repo.c),
 * which writes git's bookkeeping itself and reads none of the others.
 *
 *   bench_worktree [N]
 *
 * In a temporary directory, for each way: a fresh task repository
 * (repo_init), then N worktrees added one after another, each on its new
 * branch domain/dK from main, timed one by one.  The table gives the mean
 * ms per add over the first, middle and last tenth; flat is the point.
 * No daemon; nothing is asserted.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <git2.h>

#include "common/repo.h"
#include "common/util.h"
#include "tests/bench/benchlib.h"

#define N_DEFAULT	300	/* 1,000 takes half a minute, mostly libgit2 */

/* libgit2's way, as repo.c did before issue #16. */
static int
libgit2_add(const char *gitdir, const char *wtdir, const char *domain)
{
	git_worktree_add_options ao;
	git_repository *repo = NULL;
	git_reference *branch = NULL;
	git_commit *tip = NULL;
	git_worktree *wt = NULL;
	git_oid id;
	char name[64];
	int rc = -1;

	snprintf(name, sizeof(name), "domain/%s", domain);
	if (git_repository_open_bare(&repo, gitdir) < 0 ||
	    git_reference_name_to_id(&id, repo, "refs/heads/main") < 0 ||
	    git_commit_lookup(&tip, repo, &id) < 0 ||
	    git_branch_create(&branch, repo, name, tip, 0) < 0)
		goto cleanup;
	git_worktree_add_options_init(&ao, GIT_WORKTREE_ADD_OPTIONS_VERSION);
	ao.ref = branch;
	ao.checkout_options.checkout_strategy = GIT_CHECKOUT_FORCE;
	if (git_worktree_add(&wt, repo, domain, wtdir, &ao) < 0)
		goto cleanup;
	rc = 0;
cleanup:
	git_worktree_free(wt);
	git_reference_free(branch);
	git_commit_free(tip);
	git_repository_free(repo);
	return rc;
}

static int
ours_add(const char *gitdir, const char *wtdir, const char *domain)
{
	char err[512];

	if (repo_worktree(gitdir, wtdir, domain, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_worktree: %s\n", err);
		return -1;
	}
	return 0;
}

/* Mean ms of v[from, to). */
static double
mean(const double *v, int from, int to)
{
	double s = 0;

	for (int i = from; i < to; i++)
		s += v[i];
	return s / (to - from);
}

static void
run(const char *label, int (*add)(const char *, const char *, const char *),
    int n, const char *top)
{
	char gitdir[PATH_MAX], wtdir[PATH_MAX], domain[32], err[512];
	double *ms = xcalloc((size_t)n, sizeof(*ms)), t0, all = now_s();
	int tenth = n / 10 > 0 ? n / 10 : 1;

	snprintf(gitdir, sizeof(gitdir), "%s/%s/repo.git", top, label);
	if (repo_init(gitdir, err, sizeof(err)) != 0)
		die("repo_init: %s", err);
	/* git_worktree_add makes the worktree, not its parent. */
	snprintf(wtdir, sizeof(wtdir), "%s/%s/domains", top, label);
	if (mkdir(wtdir, 0755) != 0 && errno != EEXIST)
		die("%s: %s", wtdir, strerror(errno));
	for (int i = 0; i < n; i++) {
		snprintf(domain, sizeof(domain), "d%d", i + 1);
		snprintf(wtdir, sizeof(wtdir), "%s/%s/domains/%s", top, label,
		    domain);
		t0 = now_s();
		if (add(gitdir, wtdir, domain) != 0)
			die("%s: adding worktree %d: %s", label, i + 1,
			    git_error_last() != NULL ?
			    git_error_last()->message : "see above");
		ms[i] = (now_s() - t0) * 1e3;
	}
	printf("%-22s %12.2f %12.2f %12.2f %10.1f\n", label,
	    mean(ms, 0, tenth), mean(ms, n / 2 - tenth / 2,
	    n / 2 - tenth / 2 + tenth), mean(ms, n - tenth, n), now_s() - all);
	free(ms);
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : N_DEFAULT;
	static const char *const none[] = { NULL };

	if (n < 10) {
		fprintf(stderr, "usage: bench_worktree [N >= 10]\n");
		return 2;
	}
	/* bench_init wants a masterd; it checks only that it is there. */
	if (!bench_init("bench_worktree", "/bin/true", none))
		return 1;
	repo_global_init();
	printf("adding worktree k of %d, ms per add (mean over a tenth)\n", n);
	printf("%-22s %12s %12s %12s %10s\n", "way", "first tenth",
	    "middle tenth", "last tenth", "all, s");
	run("git_worktree_add", libgit2_add, n, B.dir);
	run("repo_worktree", ours_add, n, B.dir);
	repo_global_shutdown();
	bench_remove_dir();
	return 0;
}
