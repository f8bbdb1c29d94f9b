/*
 * repo.c — a task's git repository through libgit2 (see repo.h).
 *
 * Owns the bare repository and its main branch, the per-domain branches
 * and worktrees (made as `git worktree add` makes them, at a cost that
 * does not grow with their number), the commits a domain makes, the
 * snapshot refs taken before a worktree is cleaned, the refresh of a
 * domain's branch with its peers' code from main, the merges of domain
 * branches into main, and, read only, a commit of main: its files written
 * into the integration directory (no .git there), listed, or read one by
 * one.  Packs in and out are repo_transfer.c's.
 *
 * Rules kept by every function here:
 * - a worktree operation first checks that the worktree's HEAD is
 *   domain/<name>: a mixed-up path never commits to the wrong branch;
 * - a branch moves by compare-and-swap on the tip it was read at
 *   (git_reference_create_matching): it only moves forward, and a
 *   concurrent writer makes us fail instead of dropping its commit;
 * - a tree we write differs from its base only under <name>/, so whatever
 *   a check command left elsewhere (worktree or index) never gets in; a
 *   refresh's tree is main's, with the branch's <name>/;
 * - nothing is deleted that no ref reaches: a worktree is cleaned only
 *   after its snapshot is on a ref, and only under <name>/.  Ignored
 *   files are neither snapshotted nor cleaned (like `git clean` without
 *   -x), and a nested repository under <name>/ is refused, because its
 *   content cannot be snapshotted.
 *
 * libgit2 is told in repo_global_init to read no system, global or XDG
 * configuration: the daemon's $HOME must not change what gets committed
 * (core.autocrlf, core.excludesFile, ...).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <jansson.h>

#include "common/repo.h"
#include "common/repo_err.h"
#include "common/repo_transfer.h"
#include "common/util.h"

#define DOMAIN_MAX	64
#define REFNAME_MAX	512
#define MAIN_REF	"refs/heads/main"
#define MASTERD_NAME	"masterd"
#define EMAIL_HOST	"masterd.invalid"
/* What "locked" says while a worktree is being made (as git writes). */
#define WT_INITIALIZING	"initializing"
#define DIFF_NOTE	"\n[diff cut here: more changes not shown]\n"

/* ------------------------------------------------------------ helpers */

/*
 * A domain name becomes a folder, a branch name, a worktree name and an
 * e-mail local part: keep it to characters that are plain in all four.
 */
static int
domain_ok(const char *domain, char *err, size_t errlen)
{
	size_t i, n;

	if (domain == NULL || (n = strlen(domain)) == 0 || n > DOMAIN_MAX)
		return repo_fail(err, errlen,
		    "bad domain name: empty or over %d "
		    "characters", DOMAIN_MAX);
	for (i = 0; i < n; i++) {
		char c = domain[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')
			continue;
		return repo_fail(err, errlen, "bad domain name \"%s\": only "
		    "letters, digits, '-', '_' and '.'", domain);
	}
	if (domain[0] == '.' || domain[0] == '-' || domain[n - 1] == '.' ||
	    strstr(domain, "..") != NULL ||
	    (n >= 5 && strcmp(domain + n - 5, ".lock") == 0))
		return repo_fail(err, errlen, "bad domain name \"%s\"", domain);
	return 0;
}

/* A domain's folder: one top-level folder of the tree, named as a domain
 * may be (so it is a plain pathspec), never git's own. */
int
repo_folder_ok(const char *folder, char *err, size_t errlen)
{
	if (domain_ok(folder, err, errlen) < 0)
		return repo_fail(err, errlen,
		    "bad folder \"%s\": one top-level "
		    "folder, of letters, digits, '-', '_' and '.'",
		    folder != NULL ? folder : "");
	if (strcasecmp(folder, ".git") == 0)
		return repo_fail(err, errlen, "bad folder \"%s\"", folder);
	return 0;
}

static void
branch_ref(char *buf, size_t len, const char *domain)
{
	snprintf(buf, len, "refs/heads/domain/%s", domain);
}

/* "<who> <who@masterd.invalid>", now. */
static int
signature(git_signature **sig, const char *who, char *err, size_t errlen)
{
	char email[DOMAIN_MAX + sizeof("@" EMAIL_HOST)];

	snprintf(email, sizeof(email), "%s@%s", who, EMAIL_HOST);
	if (git_signature_now(sig, who, email) < 0)
		return repo_gfail(err, errlen, "making the signature of %s",
		    who);
	return 0;
}

/* mkdir -p of path, a non-empty string it cuts at each '/' in turn
 * (and mends). */
static int
mkdirs(char *path, char *err, size_t errlen)
{
	bool last;

	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		last = *p == '\0';
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST)
			return repo_fail(err, errlen, "creating %s: %s", path,
			    strerror(errno));
		if (last)
			return 0;
		*p = '/';
	}
}

/* mkdir -p of the folder that holds path. */
static int
mkdirs_parent(const char *path, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	char *slash;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return repo_fail(err, errlen, "path too long: %s", path);
	while ((slash = strrchr(buf, '/')) != NULL && slash[1] == '\0')
		*slash = '\0';		/* "dir/" is "dir" */
	if ((slash = strrchr(buf, '/')) == NULL || slash == buf)
		return 0;
	*slash = '\0';
	return mkdirs(buf, err, errlen);
}

/* A JSON string even from bytes that are not UTF-8 (they become '?'). */
static json_t *
jstr(const char *s)
{
	json_t *j;
	char *copy;

	if ((j = json_string(s)) != NULL)
		return j;
	copy = xstrdup(s);
	utf8_scrub(copy, strlen(copy));
	j = json_string(copy);
	free(copy);
	return j;
}

/* ------------------------------------------------------ opening, tips */

static int
open_bare(git_repository **repo, const char *gitdir, char *err,
    size_t errlen)
{
	if (git_repository_open_bare(repo, gitdir) < 0)
		return repo_gfail(err, errlen, "opening repository %s", gitdir);
	return 0;
}

/*
 * A domain's folder in the tree: <name>/, unless the repository's config
 * names another (masterd.domain.<name>.folder, set by repo_set_folder
 * when a domain owns an existing folder of an imported project).  The
 * config is the repository's, shared by every worktree: masterd's merges
 * and the worker's commits read the same layout.
 */
static int
domain_folder(git_repository *repo, const char *domain, char *buf,
    size_t len, char *err, size_t errlen)
{
	git_config *cfg = NULL;
	git_buf val = { 0 };
	char key[REFNAME_MAX];
	int r;

	snprintf(buf, len, "%s", domain);
	snprintf(key, sizeof(key), "masterd.domain.%s.folder", domain);
	if (git_repository_config_snapshot(&cfg, repo) < 0)
		return repo_gfail(err, errlen, "reading the configuration");
	r = git_config_get_string_buf(&val, cfg, key);
	git_config_free(cfg);
	if (r == GIT_ENOTFOUND) {
		git_error_clear();
		return 0;
	}
	if (r < 0)
		return repo_gfail(err, errlen, "reading %s", key);
	r = repo_folder_ok(val.ptr, err, errlen);
	if (r == 0)
		snprintf(buf, len, "%s", val.ptr);
	git_buf_dispose(&val);
	return r;
}

int
repo_domain_folder(const char *gitdir, const char *domain, char *buf,
    size_t len, char *err, size_t errlen)
{
	git_repository *repo = NULL;
	int rc;

	if (domain_ok(domain, err, errlen) < 0 ||
	    open_bare(&repo, gitdir, err, errlen) < 0)
		return -1;
	rc = domain_folder(repo, domain, buf, len, err, errlen);
	git_repository_free(repo);
	return rc;
}

int
repo_set_folder(const char *gitdir, const char *domain, const char *folder,
    char *err, size_t errlen)
{
	git_repository *repo = NULL;
	git_config *cfg = NULL;
	char key[REFNAME_MAX];
	int rc = -1;

	if (domain_ok(domain, err, errlen) < 0 ||
	    repo_folder_ok(folder, err, errlen) < 0)
		return -1;
	if (open_bare(&repo, gitdir, err, errlen) < 0)
		return -1;
	snprintf(key, sizeof(key), "masterd.domain.%s.folder", domain);
	if (git_repository_config(&cfg, repo) < 0 ||
	    git_config_set_string(cfg, key, folder) < 0)
		repo_gfail(err, errlen, "setting %s", key);
	else
		rc = 0;
	git_config_free(cfg);
	git_repository_free(repo);
	return rc;
}

/*
 * The worktree at wtdir, refused unless its HEAD is domain/<domain>.
 * No search upwards: a worktree whose .git is gone must not silently
 * become whatever repository encloses it.
 */
static int
open_worktree(git_repository **out, const char *wtdir, const char *domain,
    char *err, size_t errlen)
{
	git_repository *repo = NULL;
	git_reference *head = NULL;
	char want[REFNAME_MAX];
	const char *target;
	int rc = -1;

	*out = NULL;
	if (git_repository_open_ext(&repo, wtdir,
	    GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
		return repo_gfail(err, errlen, "opening worktree %s", wtdir);
	if (git_repository_is_bare(repo)) {
		repo_fail(err, errlen,
		    "%s is a bare repository, not a worktree",
		    wtdir);
		goto cleanup;
	}
	if (git_reference_lookup(&head, repo, "HEAD") < 0) {
		repo_gfail(err, errlen, "reading HEAD of %s", wtdir);
		goto cleanup;
	}
	branch_ref(want, sizeof(want), domain);
	target = git_reference_symbolic_target(head);
	if (target == NULL || strcmp(target, want) != 0) {
		repo_fail(err, errlen, "worktree %s is on %s, not %s: refusing",
		    wtdir, target != NULL ? target : "a detached HEAD", want);
		goto cleanup;
	}
	*out = repo;
	repo = NULL;
	rc = 0;
cleanup:
	git_reference_free(head);
	git_repository_free(repo);
	return rc;
}

static int
lookup_tip(git_commit **out, git_repository *repo, const char *refname,
    char *err, size_t errlen)
{
	char hex[REPO_OID_HEX];
	git_oid id;

	if (git_reference_name_to_id(&id, repo, refname) < 0)
		return repo_gfail(err, errlen, "resolving %s", refname);
	if (git_commit_lookup(out, repo, &id) < 0)
		return repo_gfail(err, errlen, "reading commit %s of %s",
		    git_oid_tostr(hex, sizeof(hex), &id), refname);
	return 0;
}

int
repo_main_oid(const char *gitdir, char oid[REPO_OID_HEX], char *err,
    size_t errlen)
{
	git_repository *repo;
	git_oid id;
	int rc = 0;

	oid[0] = '\0';
	if (open_bare(&repo, gitdir, err, errlen) < 0)
		return -1;
	if (git_reference_name_to_id(&id, repo, MAIN_REF) < 0)
		rc = repo_gfail(err, errlen, "resolving %s", MAIN_REF);
	else
		git_oid_tostr(oid, REPO_OID_HEX, &id);
	git_repository_free(repo);
	return rc;
}

/* The <domain> entry of tree, or NULL when it has none. */
static int
domain_entry(git_tree_entry **out, const git_tree *tree, const char *domain,
    char *err, size_t errlen)
{
	int r;

	*out = NULL;
	r = git_tree_entry_bypath(out, tree, domain);
	if (r == GIT_ENOTFOUND) {
		git_error_clear();
		return 0;
	}
	if (r < 0)
		return repo_gfail(err, errlen, "looking up %s/ in a tree",
		    domain);
	return 0;
}

/*
 * base with its <domain> entry taken from src (removed when src has
 * none).  out is base's id when that changes nothing.
 */
static int
graft(git_oid *out, git_repository *repo, git_tree *base, git_tree *src,
    const char *domain, char *err, size_t errlen)
{
	git_tree_entry *se = NULL, *be = NULL;
	git_tree_update upd;
	int rc = -1;

	git_oid_cpy(out, git_tree_id(base));
	if (domain_entry(&se, src, domain, err, errlen) < 0 ||
	    domain_entry(&be, base, domain, err, errlen) < 0)
		goto cleanup;
	if (se == NULL && be == NULL) {
		rc = 0;
		goto cleanup;
	}
	if (se != NULL && git_tree_entry_type(se) != GIT_OBJECT_TREE) {
		repo_fail(err, errlen, "%s in the tree is not a directory",
		    domain);
		goto cleanup;
	}
	if (se != NULL && be != NULL &&
	    git_oid_equal(git_tree_entry_id(se), git_tree_entry_id(be)) &&
	    git_tree_entry_filemode(be) == GIT_FILEMODE_TREE) {
		rc = 0;
		goto cleanup;
	}
	memset(&upd, 0, sizeof(upd));
	upd.path = domain;
	if (se != NULL) {
		upd.action = GIT_TREE_UPDATE_UPSERT;
		git_oid_cpy(&upd.id, git_tree_entry_id(se));
		upd.filemode = GIT_FILEMODE_TREE;
	} else
		upd.action = GIT_TREE_UPDATE_REMOVE;
	if (git_tree_create_updated(out, repo, base, 1, &upd) < 0) {
		repo_gfail(err, errlen, "building a tree with the new %s/",
		    domain);
		goto cleanup;
	}
	rc = 0;
cleanup:
	git_tree_entry_free(se);
	git_tree_entry_free(be);
	return rc;
}

/* ------------------------------------------------ worktree state */

/*
 * Status of <domain>/ against HEAD and the index, untracked files one by
 * one.  The domain name has no glob characters (domain_ok), and the
 * pathspec is taken literally anyway.
 */
static int
domain_status(git_status_list **out, git_repository *repo,
    const char *domain, char *err, size_t errlen)
{
	git_status_options so;
	char spec[DOMAIN_MAX + 1];
	char *specs[1] = { spec };

	git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
	snprintf(spec, sizeof(spec), "%s", domain);
	so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED |
	    GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
	    GIT_STATUS_OPT_DISABLE_PATHSPEC_MATCH |
	    GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	so.pathspec.strings = specs;
	so.pathspec.count = 1;
	if (git_status_list_new(out, repo, &so) < 0)
		return repo_gfail(err, errlen, "reading the status of %s/",
		    domain);
	return 0;
}

/* Without rename detection a status entry has one path. */
static const char *
status_path(const git_status_entry *e)
{
	if (e->index_to_workdir != NULL)
		return e->index_to_workdir->new_file.path;
	if (e->head_to_index != NULL)
		return e->head_to_index->new_file.path;
	return NULL;
}

enum wdkind { WD_GONE, WD_FILE, WD_SKIP };

/*
 * What the worktree holds at path: gone, a file or symlink to record, or
 * something git cannot record (fifo, socket).  A directory here is an
 * untracked nested repository: refused, its files would be lost.
 */
static int
wd_kind(enum wdkind *kind, struct stat *st, git_repository *repo,
    const char *path, char *err, size_t errlen)
{
	char full[PATH_MAX];

	if (snprintf(full, sizeof(full), "%s%s", git_repository_workdir(repo),
	    path) >= (int)sizeof(full))
		return repo_fail(err, errlen, "path too long: %s", path);
	if (lstat(full, st) == -1) {
		if (errno != ENOENT && errno != ENOTDIR)
			return repo_fail(err, errlen, "%s: %s", full,
			    strerror(errno));
		*kind = WD_GONE;
		return 0;
	}
	if (S_ISDIR(st->st_mode))
		return repo_fail(err, errlen, "%s is a nested git repository: "
		    "move it out or remove its .git", path);
	*kind = S_ISREG(st->st_mode) || S_ISLNK(st->st_mode) ? WD_FILE :
	    WD_SKIP;
	return 0;
}

/* Make the worktree's own index match the worktree under <domain>/. */
static int
stage_domain(git_repository *repo, git_index *idx, const char *domain,
    char *err, size_t errlen)
{
	git_status_list *sl = NULL;
	const git_status_entry *e;
	enum wdkind kind;
	struct stat st;
	const char *path;
	size_t i, n;
	int rc = -1;

	if (domain_status(&sl, repo, domain, err, errlen) < 0)
		return -1;
	n = git_status_list_entrycount(sl);
	for (i = 0; i < n; i++) {
		e = git_status_byindex(sl, i);
		if ((path = status_path(e)) == NULL || !path_under(path, domain))
			continue;
		if (wd_kind(&kind, &st, repo, path, err, errlen) < 0)
			goto cleanup;
		if (kind == WD_GONE && git_index_remove_bypath(idx, path) < 0) {
			repo_gfail(err, errlen, "removing %s from the index",
			    path);
			goto cleanup;
		}
		if (kind == WD_FILE && git_index_add_bypath(idx, path) < 0) {
			repo_gfail(err, errlen, "adding %s to the index", path);
			goto cleanup;
		}
	}
	rc = 0;
cleanup:
	git_status_list_free(sl);
	return rc;
}

/* One worktree file into an in-memory index, as `git add` would. */
static int
mem_add(git_index *mem, git_repository *repo, const char *path,
    const struct stat *st, char *err, size_t errlen)
{
	git_index_entry ie;

	memset(&ie, 0, sizeof(ie));
	ie.path = path;
	if (S_ISLNK(st->st_mode))
		ie.mode = GIT_FILEMODE_LINK;
	else if (st->st_mode & S_IXUSR)
		ie.mode = GIT_FILEMODE_BLOB_EXECUTABLE;
	else
		ie.mode = GIT_FILEMODE_BLOB;
	if (git_blob_create_from_workdir(&ie.id, repo, path) < 0)
		return repo_gfail(err, errlen, "storing %s", path);
	if (git_index_add(mem, &ie) < 0)
		return repo_gfail(err, errlen, "adding %s to the snapshot",
		    path);
	return 0;
}

/*
 * The tree of tip with the worktree's <domain>/ as it is, built in an
 * index of our own so that the worktree's index stays as it was.
 */
static int
snapshot_tree(git_oid *out, git_repository *repo, git_commit *tip,
    const char *domain, char *err, size_t errlen)
{
	git_status_list *sl = NULL;
	git_index *mem = NULL;
	git_tree *tree = NULL;
	const git_status_entry *e;
	enum wdkind kind;
	struct stat st;
	const char *path;
	size_t i, n;
	int r, rc = -1;

	if (git_commit_tree(&tree, tip) < 0) {
		repo_gfail(err, errlen, "reading the tree of domain/%s",
		    domain);
		goto cleanup;
	}
	if (git_index_new(&mem) < 0 || git_index_read_tree(mem, tree) < 0) {
		repo_gfail(err, errlen, "loading domain/%s into an index",
		    domain);
		goto cleanup;
	}
	if (domain_status(&sl, repo, domain, err, errlen) < 0)
		goto cleanup;
	n = git_status_list_entrycount(sl);
	for (i = 0; i < n; i++) {
		e = git_status_byindex(sl, i);
		if ((path = status_path(e)) == NULL || !path_under(path, domain))
			continue;
		if (wd_kind(&kind, &st, repo, path, err, errlen) < 0)
			goto cleanup;
		if (kind == WD_FILE &&
		    mem_add(mem, repo, path, &st, err, errlen) < 0)
			goto cleanup;
		if (kind != WD_GONE)
			continue;
		if ((r = git_index_remove(mem, path, 0)) < 0 &&
		    r != GIT_ENOTFOUND) {
			repo_gfail(err, errlen, "removing %s from the snapshot",
			    path);
			goto cleanup;
		}
		git_error_clear();
	}
	if (git_index_write_tree_to(out, mem, repo) < 0) {
		repo_gfail(err, errlen, "writing the snapshot tree of %s/",
		    domain);
		goto cleanup;
	}
	rc = 0;
cleanup:
	git_status_list_free(sl);
	git_index_free(mem);
	git_tree_free(tree);
	return rc;
}

/*
 * Point refname at id, never overwriting.  When the ref is there already
 * with the same tree (we were interrupted after writing it), reuse it.
 *
 * Through the common repository, not the worktree: libgit2 1.5 looks for
 * an existing loose ref in the worktree's own gitdir, so a create without
 * force from a worktree overwrites a shared ref silently.
 */
static int
save_snapshot_ref(git_repository *wtrepo, const char *refname, git_oid *id,
    const git_oid *tree_id, char *err, size_t errlen)
{
	git_repository *repo = NULL;
	git_reference *ref = NULL;
	git_commit *old = NULL;
	git_oid old_id;
	int r, rc = -1;

	if (open_bare(&repo, git_repository_commondir(wtrepo), err,
	    errlen) < 0)
		return -1;
	r = git_reference_create(&ref, repo, refname, id, 0, "snapshot");
	if (r == 0) {
		rc = 0;
		goto cleanup;
	}
	if (r != GIT_EEXISTS) {
		repo_gfail(err, errlen, "creating %s", refname);
		goto cleanup;
	}
	if (git_reference_name_to_id(&old_id, repo, refname) < 0 ||
	    git_commit_lookup(&old, repo, &old_id) < 0) {
		repo_gfail(err, errlen, "reading the existing %s", refname);
		goto cleanup;
	}
	if (!git_oid_equal(git_commit_tree_id(old), tree_id)) {
		repo_fail(err, errlen,
		    "%s exists with other content: use a new "
		    "label", refname);
		goto cleanup;
	}
	git_error_clear();
	git_oid_cpy(id, &old_id);
	rc = 0;
cleanup:
	git_reference_free(ref);
	git_commit_free(old);
	git_repository_free(repo);
	return rc;
}

/*
 * <domain>/ back to tip: tracked files restored, untracked ones removed.
 * Ignored files stay; nothing outside <domain>/ is looked at.
 */
static int
clean_domain(git_repository *repo, git_commit *tip, const char *domain,
    char *err, size_t errlen)
{
	git_checkout_options co;
	char spec[DOMAIN_MAX + 1];
	char *specs[1] = { spec };

	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	snprintf(spec, sizeof(spec), "%s", domain);
	co.checkout_strategy = GIT_CHECKOUT_FORCE |
	    GIT_CHECKOUT_REMOVE_UNTRACKED |
	    GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
	co.paths.strings = specs;
	co.paths.count = 1;
	if (git_checkout_tree(repo, (const git_object *)tip, &co) < 0)
		return repo_gfail(err, errlen, "restoring %s/ to domain/%s",
		    domain,
		    domain);
	return 0;
}

/* ------------------------------------------------------- worktrees */

static int
ensure_branch(git_reference **out, git_repository *repo, const char *domain,
    char *err, size_t errlen)
{
	git_commit *main_tip = NULL;
	char name[REFNAME_MAX];
	int r, rc = -1;

	snprintf(name, sizeof(name), "domain/%s", domain);
	if ((r = git_branch_lookup(out, repo, name, GIT_BRANCH_LOCAL)) == 0)
		return 0;
	if (r != GIT_ENOTFOUND)
		return repo_gfail(err, errlen, "looking up branch %s", name);
	if (lookup_tip(&main_tip, repo, MAIN_REF, err, errlen) < 0)
		return -1;
	r = git_branch_create(out, repo, name, main_tip, 0);
	/* Someone else created it meanwhile: theirs is as good. */
	if (r == GIT_EEXISTS)
		r = git_branch_lookup(out, repo, name, GIT_BRANCH_LOCAL);
	if (r < 0) {
		repo_gfail(err, errlen, "creating branch %s from main", name);
		goto cleanup;
	}
	rc = 0;
cleanup:
	git_commit_free(main_tip);
	return rc;
}

/* libgit2's validation looks at the directory, not at its .git file. */
static bool
lost_dotgit(const git_worktree *wt)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/.git", git_worktree_path(wt));
	return lstat(path, &st) == -1 && errno == ENOENT;
}

/* An existing, valid worktree: is it the one asked for? */
static int
check_worktree(git_worktree *wt, const char *wtdir, const char *domain,
    char *err, size_t errlen)
{
	git_repository *repo = NULL;
	char have[PATH_MAX], want[PATH_MAX];

	if (realpath(git_worktree_path(wt), have) == NULL)
		return repo_fail(err, errlen, "%s: %s", git_worktree_path(wt),
		    strerror(errno));
	if (realpath(wtdir, want) == NULL ||
	    strcmp(have, want) != 0)
		return repo_fail(err, errlen,
		    "the worktree of %s is at %s, not %s",
		    domain, git_worktree_path(wt), wtdir);
	if (open_worktree(&repo, wtdir, domain, err, errlen) < 0)
		return -1;
	git_repository_free(repo);
	return 0;
}

/*
 * libgit2 leaves worktrees/<name> half-made when git_worktree_add fails
 * part way; lookup then fails and every later add too.  Remove the files
 * add writes (administrative data, no work in them), then the directory:
 * rmdir refuses if anything else is there.
 */
static int
remove_stale_admin(git_repository *repo, const char *domain, char *err,
    size_t errlen)
{
	static const char *const files[] = {
		"locked", "commondir", "gitdir", "HEAD"
	};
	char dir[PATH_MAX], path[PATH_MAX];
	size_t i;

	snprintf(dir, sizeof(dir), "%sworktrees/%s",
	    git_repository_commondir(repo), domain);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (unlink(path) == -1 && errno != ENOENT)
			return repo_fail(err, errlen, "%s: %s", path,
			    strerror(errno));
	}
	if (rmdir(dir) == -1 && errno != ENOENT)
		return repo_fail(err, errlen,
		    "the worktree data %s is broken and "
		    "not empty: %s", dir, strerror(errno));
	git_error_clear();
	return 0;
}

/*
 * The worktree's directory must be absent when it is made.  Its parents
 * we create; a leftover empty directory, or one holding nothing but the
 * .git file of a worktree that no longer exists, we remove.  Anything
 * else may be work: refuse.
 */
static int
prepare_wtdir(const char *wtdir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	bool dotgit = false, other = false;
	DIR *d;

	if (mkdirs_parent(wtdir, err, errlen) < 0)
		return -1;
	if (lstat(wtdir, &st) == -1)
		return errno == ENOENT ? 0 :
		    repo_fail(err, errlen, "%s: %s", wtdir, strerror(errno));
	if (!S_ISDIR(st.st_mode) || (d = opendir(wtdir)) == NULL)
		return repo_fail(err, errlen, "%s exists and is not a worktree",
		    wtdir);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", wtdir, de->d_name);
		if (strcmp(de->d_name, ".git") == 0 &&
		    lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			dotgit = true;
		else
			other = true;
	}
	closedir(d);
	if (other)
		return repo_fail(err, errlen,
		    "%s exists, is not a worktree of the "
		    "repository and is not empty: refusing", wtdir);
	snprintf(path, sizeof(path), "%s/.git", wtdir);
	if (dotgit && unlink(path) == -1)
		return repo_fail(err, errlen, "%s: %s", path, strerror(errno));
	if (rmdir(wtdir) == -1)
		return repo_fail(err, errlen, "%s: %s", wtdir, strerror(errno));
	return 0;
}

/* dir/name holding text, created (O_EXCL when excl) 0644. */
static int
write_small(const char *dir, const char *name, const char *text, bool excl,
    char *err, size_t errlen)
{
	char path[PATH_MAX];
	size_t len = strlen(text);
	int fd, flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, flags | (excl ? O_EXCL : 0), 0644)) < 0)
		return repo_fail(err, errlen, "creating %s: %s", path,
		    strerror(errno));
	if (write_all(fd, text, len) != 0) {
		repo_fail(err, errlen, "writing %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) != 0)
		return repo_fail(err, errlen, "writing %s: %s", path,
		    strerror(errno));
	return 0;
}

/* Did a worktree's making stop before its checkout was done? */
static bool
initializing(git_repository *repo, const char *domain)
{
	char path[PATH_MAX], buf[sizeof(WT_INITIALIZING)];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%sworktrees/%s/locked",
	    git_repository_commondir(repo), domain);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strcmp(buf, WT_INITIALIZING) == 0;
}

/*
 * What `git worktree add` writes, without its checkout: the
 * administrative directory worktrees/<name> (gitdir, commondir, HEAD on
 * domain/<name>, and "locked" saying "initializing" until the checkout is
 * done, as git does), and wtdir holding the .git file that points there.
 * Nothing here reads the other worktrees: the cost does not grow with
 * them.  libgit2's git_worktree_add does the same but first opens every
 * existing worktree (git_branch_is_checked_out), and makes worktrees/
 * with a check-then-mkdir that siblings race on.
 */
static int
write_admin(git_repository *repo, const char *wtdir, const char *domain,
    char *err, size_t errlen)
{
	char admin[PATH_MAX], real[PATH_MAX], text[PATH_MAX + 32];
	const char *common = git_repository_commondir(repo);

	if (prepare_wtdir(wtdir, err, errlen) < 0)
		return -1;
	snprintf(admin, sizeof(admin), "%sworktrees", common);
	if (mkdir(admin, 0755) == -1 && errno != EEXIST)
		return repo_fail(err, errlen, "creating %s: %s", admin,
		    strerror(errno));
	snprintf(admin, sizeof(admin), "%sworktrees/%s", common, domain);
	if (mkdir(admin, 0755) == -1)
		return repo_fail(err, errlen, "creating %s: %s", admin,
		    strerror(errno));
	if (write_small(admin, "locked", WT_INITIALIZING, true, err,
	    errlen) < 0)
		return -1;
	if (mkdir(wtdir, 0755) == -1 || realpath(wtdir, real) == NULL)
		return repo_fail(err, errlen, "creating %s: %s", wtdir,
		    strerror(errno));
	snprintf(text, sizeof(text), "%s/.git\n", real);
	if (write_small(admin, "gitdir", text, true, err, errlen) < 0)
		return -1;
	snprintf(text, sizeof(text), "%s\n", common);
	if (write_small(admin, "commondir", text, true, err, errlen) < 0)
		return -1;
	snprintf(text, sizeof(text), "ref: refs/heads/domain/%s\n", domain);
	if (write_small(admin, "HEAD", text, true, err, errlen) < 0)
		return -1;
	snprintf(text, sizeof(text), "gitdir: %s\n", admin);
	return write_small(real, ".git", text, true, err, errlen);
}

/*
 * The worktree's files from its branch, then the "initializing" mark
 * removed.  Forced: the directory is new, or holds only what an earlier
 * checkout cut short wrote.
 */
static int
checkout_new(git_repository *bare, const char *wtdir, const char *domain,
    char *err, size_t errlen)
{
	git_checkout_options co;
	git_repository *repo = NULL;
	char path[PATH_MAX];
	int rc = -1;

	if (open_worktree(&repo, wtdir, domain, err, errlen) < 0)
		return -1;
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy = GIT_CHECKOUT_FORCE;
	if (git_checkout_head(repo, &co) < 0) {
		repo_gfail(err, errlen, "checking out domain/%s in %s", domain,
		    wtdir);
		goto cleanup;
	}
	snprintf(path, sizeof(path), "%sworktrees/%s/locked",
	    git_repository_commondir(bare), domain);
	if (unlink(path) == -1 && errno != ENOENT) {
		repo_fail(err, errlen, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	rc = 0;
cleanup:
	git_repository_free(repo);
	return rc;
}

/* ---------------------------------------------------------- diff text */

struct diffbuf {
	char	*buf;
	size_t	 len;
	size_t	 cap;
	size_t	 limit;		/* when limited: bytes of diff kept */
	bool	 limited;
	bool	 cut;
};

static int
diffbuf_put(struct diffbuf *d, const char *p, size_t n)
{
	if (d->limited && n > d->limit - d->len) {
		n = d->limit - d->len;
		d->cut = true;
	}
	d->buf = xgrow(d->buf, &d->cap, d->len + n + 1, 4096, SIZE_MAX);
	memcpy(d->buf + d->len, p, n);
	d->len += n;
	d->buf[d->len] = '\0';
	return d->cut ? 1 : 0;
}

static int
diff_line_cb(const git_diff_delta *delta, const git_diff_hunk *hunk,
    const git_diff_line *line, void *payload)
{
	struct diffbuf *d = payload;
	char origin = line->origin;
	int r;

	(void)delta;
	(void)hunk;
	/* libgit2 gives these lines without their leading mark. */
	if (origin == GIT_DIFF_LINE_CONTEXT ||
	    origin == GIT_DIFF_LINE_ADDITION ||
	    origin == GIT_DIFF_LINE_DELETION) {
		if ((r = diffbuf_put(d, &origin, 1)) != 0)
			return r;
	}
	return diffbuf_put(d, line->content, line->content_len);
}

/* -------------------------------------------------------------- tree walk */

/* Collects the blobs' paths into the array payload. */
static int
file_cb(const char *root, const git_tree_entry *entry, void *payload)
{
	json_t *files = payload;
	char *path;

	if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB)
		return 0;
	path = xasprintf("%s%s", root, git_tree_entry_name(entry));
	json_array_append_new(files, jstr(path));
	free(path);
	return 0;
}

/* ================================================================ API */

void
repo_global_init(void)
{
	static const int levels[] = {
		GIT_CONFIG_LEVEL_PROGRAMDATA, GIT_CONFIG_LEVEL_SYSTEM,
		GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_GLOBAL
	};
	size_t i;

	git_libgit2_init();
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, levels[i], "");
	/* An accepted round must survive a power cut, not just a crash. */
	git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
}

void
repo_global_shutdown(void)
{
	git_libgit2_shutdown();
}

/* main with one empty commit, unless it has one already. */
static int
ensure_main(git_repository *repo, char *err, size_t errlen)
{
	git_treebuilder *tb = NULL;
	git_signature *sig = NULL;
	git_tree *tree = NULL;
	git_oid id, tree_id;
	int r, rc = -1;

	if (git_reference_name_to_id(&id, repo, MAIN_REF) == 0)
		return 0;
	git_error_clear();
	if (git_treebuilder_new(&tb, repo, NULL) < 0 ||
	    git_treebuilder_write(&tree_id, tb) < 0 ||
	    git_tree_lookup(&tree, repo, &tree_id) < 0) {
		repo_gfail(err, errlen, "writing the empty tree");
		goto cleanup;
	}
	if (signature(&sig, MASTERD_NAME, err, errlen) < 0)
		goto cleanup;
	r = git_commit_create(&id, repo, MAIN_REF, sig, sig, NULL,
	    "Start the project\n", tree, 0, NULL);
	if (r < 0 && git_reference_name_to_id(&id, repo, MAIN_REF) != 0) {
		repo_gfail(err, errlen, "creating the first commit on main");
		goto cleanup;
	}
	git_error_clear();
	rc = 0;
cleanup:
	git_treebuilder_free(tb);
	git_signature_free(sig);
	git_tree_free(tree);
	return rc;
}

/*
 * What check commands leave in a domain's folder (byte code, caches,
 * installed packages) is not the domain's work: the repository's
 * info/exclude keeps it out of every commit, diff and snapshot of every
 * worktree, without a file in the history that a model could edit.
 */
#define EXCLUDE_MARK	"# masterd: what check commands leave behind\n"
static const char exclude_rules[] = EXCLUDE_MARK
    "__pycache__/\n*.py[cod]\n.pytest_cache/\n.mypy_cache/\n"
    ".ruff_cache/\nnode_modules/\n";

static int
ensure_excludes(const char *gitdir, char *err, size_t errlen)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc = 0;

	if (snprintf(path, sizeof(path), "%s/info", gitdir) >=
	    (int)sizeof(path) || (mkdir(path, 0755) != 0 && errno != EEXIST))
		return repo_fail(err, errlen, "%s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/info/exclude", gitdir);
	if ((f = fopen(path, "a+e")) == NULL)
		return repo_fail(err, errlen, "%s: %s", path, strerror(errno));
	if (getdelim(&text, &len, '\0', f) < 0 && ferror(f))
		rc = repo_fail(err, errlen, "reading %s: %s", path,
		    strerror(errno));
	else if ((text == NULL || strstr(text, EXCLUDE_MARK) == NULL) &&
	    fputs(exclude_rules, f) == EOF)
		rc = repo_fail(err, errlen, "writing %s: %s", path,
		    strerror(errno));
	free(text);
	if (fclose(f) != 0 && rc == 0)
		rc = repo_fail(err, errlen, "writing %s: %s", path,
		    strerror(errno));
	return rc;
}

/* The bare repository, made or opened, with its configuration. */
static int
open_or_init(git_repository **out, const char *gitdir, char *err,
    size_t errlen)
{
	git_repository_init_options io;
	git_repository *repo = NULL;
	git_config *cfg = NULL;
	int rc = -1;

	git_error_clear();
	if (git_repository_open_bare(&repo, gitdir) == 0)
		goto have_repo;
	git_error_clear();
	git_repository_init_options_init(&io,
	    GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	io.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH |
	    GIT_REPOSITORY_INIT_NO_REINIT;
	io.initial_head = "main";
	if (git_repository_init_ext(&repo, gitdir, &io) < 0)
		return repo_gfail(err, errlen, "creating repository %s",
		    gitdir);
	/* Reflogs for branches too, though the repository is bare. */
	if (git_repository_config(&cfg, repo) < 0 ||
	    git_config_set_bool(cfg, "core.logAllRefUpdates", 1) < 0) {
		repo_gfail(err, errlen, "configuring %s", gitdir);
		goto cleanup;
	}
have_repo:
	if (ensure_excludes(gitdir, err, errlen) < 0)
		goto cleanup;
	*out = repo;
	repo = NULL;
	rc = 0;
cleanup:
	git_config_free(cfg);
	git_repository_free(repo);
	return rc;
}

int
repo_init(const char *gitdir, char *err, size_t errlen)
{
	git_repository *repo = NULL;
	int rc;

	if (open_or_init(&repo, gitdir, err, errlen) < 0)
		return -1;
	rc = ensure_main(repo, err, errlen);
	git_repository_free(repo);
	return rc;
}

int
repo_init_import(const char *gitdir, const char *pack_path,
    const char *commit, char *err, size_t errlen)
{
	git_repository *repo = NULL;
	git_reference *ref = NULL;
	git_commit *c = NULL;
	git_oid id;
	int rc = -1;

	if (commit == NULL || strlen(commit) != REPO_OID_HEX - 1 ||
	    git_oid_fromstr(&id, commit) < 0)
		return repo_fail(err, errlen, "'%s' is not a commit id",
		    commit ? commit : "");
	if (open_or_init(&repo, gitdir, err, errlen) < 0)
		return -1;
	if (repo_pack_receive(gitdir, pack_path, err, errlen) != 0)
		goto cleanup;
	if (git_commit_lookup(&c, repo, &id) < 0) {
		repo_gfail(err, errlen, "the pack has no commit %s", commit);
		goto cleanup;
	}
	/* Not forced: a second import into the same repository fails. */
	if (git_reference_create(&ref, repo, MAIN_REF, &id, 0,
	    "import") < 0) {
		repo_gfail(err, errlen, "pointing main at %s", commit);
		goto cleanup;
	}
	rc = 0;
cleanup:
	git_reference_free(ref);
	git_commit_free(c);
	git_repository_free(repo);
	return rc;
}

/*
 * Sibling workers of a task make their worktrees at the same moment.  The
 * branch is each domain's own ref; the administrative data (prune of a
 * stale one, then write_admin) is written under a flock(2) of a file in
 * the repository, held only for that: a few small files, whatever the
 * number of worktrees.  The checkout, the slow part, is the new
 * worktree's alone and runs outside the lock.  Blocking: a worker calls
 * this off its loop (work.c).
 */
#define WT_LOCK_POLL_NS	(5 * 1000 * 1000)

static int
wt_lock(const char *gitdir, const atomic_bool *give_up, int *fd, char *err,
    size_t errlen)
{
	const struct timespec poll = { 0, WT_LOCK_POLL_NS };
	char lock[PATH_MAX];
	int how = give_up != NULL ? LOCK_EX | LOCK_NB : LOCK_EX;

	snprintf(lock, sizeof(lock), "%s/" REPO_WORKTREES_LOCK, gitdir);
	if ((*fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return repo_fail(err, errlen, "%s: %s", lock, strerror(errno));
	while (flock(*fd, how) != 0) {
		if (errno == EWOULDBLOCK && !atomic_load(give_up)) {
			nanosleep(&poll, NULL);
			continue;
		}
		if (errno == EWOULDBLOCK)
			repo_fail(err, errlen, "gave up waiting for %s", lock);
		else if (errno != EINTR)
			repo_fail(err, errlen, "locking %s: %s", lock,
			    strerror(errno));
		else
			continue;
		close(*fd);
		return -1;
	}
	return 0;
}

/*
 * Under the lock: 0 when the worktree is there and checked out, 1 when
 * its checkout is still to do (just made, or cut short before).
 */
static int
admin_locked(git_repository *repo, const char *wtdir, const char *domain,
    char *err, size_t errlen)
{
	git_worktree_prune_options po;
	git_worktree *wt = NULL;
	bool init = initializing(repo, domain);
	int r, rc = -1;

	r = git_worktree_lookup(&wt, repo, domain);
	if (r == 0 && git_worktree_validate(wt) == 0 && !lost_dotgit(wt)) {
		rc = check_worktree(wt, wtdir, domain, err, errlen);
		if (rc == 0 && init)
			rc = 1;
		goto cleanup;
	}
	if (r == 0) {
		/*
		 * Its directory or its .git file is gone: forget it, then add
		 * it anew.  prune never removes a working tree without
		 * GIT_WORKTREE_PRUNE_WORKING_TREE; PRUNE_VALID is needed when
		 * only .git is gone, as libgit2 then still calls it valid;
		 * PRUNE_LOCKED for one whose making was cut short.  A
		 * directory with work in it makes the add refuse.
		 */
		git_worktree_prune_options_init(&po,
		    GIT_WORKTREE_PRUNE_OPTIONS_VERSION);
		po.flags = GIT_WORKTREE_PRUNE_VALID |
		    (init ? GIT_WORKTREE_PRUNE_LOCKED : 0);
		if (git_worktree_prune(wt, &po) < 0) {
			repo_gfail(err, errlen, "pruning the stale worktree %s",
			    domain);
			goto cleanup;
		}
	} else if (r != GIT_ENOTFOUND &&
	    remove_stale_admin(repo, domain, err, errlen) < 0)
		goto cleanup;
	git_error_clear();
	if (write_admin(repo, wtdir, domain, err, errlen) < 0)
		goto cleanup;
	rc = 1;
cleanup:
	git_worktree_free(wt);
	return rc;
}

int
repo_worktree(const char *gitdir, const char *wtdir, const char *domain,
    char *err, size_t errlen)
{
	return repo_worktree_until(gitdir, wtdir, domain, NULL, err, errlen);
}

int
repo_worktree_until(const char *gitdir, const char *wtdir,
    const char *domain, const atomic_bool *give_up, char *err,
    size_t errlen)
{
	git_repository *repo = NULL;
	git_reference *branch = NULL;
	int fd, r, rc = -1;

	git_error_clear();
	if (domain_ok(domain, err, errlen) < 0)
		return -1;
	if (open_bare(&repo, gitdir, err, errlen) < 0)
		return -1;
	if (ensure_branch(&branch, repo, domain, err, errlen) < 0)
		goto cleanup;
	if (wt_lock(gitdir, give_up, &fd, err, errlen) < 0)
		goto cleanup;
	r = admin_locked(repo, wtdir, domain, err, errlen);
	close(fd);		/* releases the lock */
	if (r < 0)
		goto cleanup;
	if (r == 1 && checkout_new(repo, wtdir, domain, err, errlen) < 0)
		goto cleanup;
	rc = 0;
cleanup:
	git_reference_free(branch);
	git_repository_free(repo);
	return rc;
}

int
repo_snapshot_and_clean(const char *wtdir, const char *domain,
    const char *label, char snap[REPO_OID_HEX], char *err, size_t errlen)
{
	git_repository *repo = NULL;
	git_signature *sig = NULL;
	git_commit *tip = NULL;
	git_tree *tree = NULL;
	const git_commit *parents[1];
	git_oid tree_id, snap_id;
	char branch[REFNAME_MAX], refname[REFNAME_MAX], msg[REFNAME_MAX];
	char folder[DOMAIN_MAX + 1];
	int valid = 0, rc = -1;

	snap[0] = '\0';
	git_error_clear();
	if (domain_ok(domain, err, errlen) < 0)
		return -1;
	if (label == NULL || *label == '\0' ||
	    snprintf(refname, sizeof(refname), "refs/masterd/snapshots/%s/%s",
	    domain, label) >= (int)sizeof(refname) ||
	    git_reference_name_is_valid(&valid, refname) < 0 || !valid)
		return repo_fail(err, errlen, "bad snapshot label \"%s\"",
		    label != NULL ? label : "");
	branch_ref(branch, sizeof(branch), domain);
	if (open_worktree(&repo, wtdir, domain, err, errlen) < 0)
		return -1;
	if (domain_folder(repo, domain, folder, sizeof(folder), err,
	    errlen) < 0)
		goto cleanup;
	if (lookup_tip(&tip, repo, branch, err, errlen) < 0 ||
	    snapshot_tree(&tree_id, repo, tip, folder, err, errlen) < 0)
		goto cleanup;
	if (git_oid_equal(&tree_id, git_commit_tree_id(tip))) {
		rc = 0;		/* clean: nothing to keep, nothing to undo */
		goto cleanup;
	}
	if (git_tree_lookup(&tree, repo, &tree_id) < 0) {
		repo_gfail(err, errlen, "reading the snapshot tree");
		goto cleanup;
	}
	if (signature(&sig, domain, err, errlen) < 0)
		goto cleanup;
	snprintf(msg, sizeof(msg), "Snapshot of domain/%s before a clean "
	    "(%s)\n", domain, label);
	parents[0] = tip;
	if (git_commit_create(&snap_id, repo, NULL, sig, sig, NULL, msg, tree,
	    1, parents) < 0) {
		repo_gfail(err, errlen, "committing the snapshot %s", refname);
		goto cleanup;
	}
	/* Only once the snapshot is on a ref may the worktree be cleaned. */
	if (save_snapshot_ref(repo, refname, &snap_id, &tree_id, err,
	    errlen) < 0 ||
	    clean_domain(repo, tip, folder, err, errlen) < 0)
		goto cleanup;
	git_oid_tostr(snap, REPO_OID_HEX, &snap_id);
	rc = 0;
cleanup:
	git_tree_free(tree);
	git_signature_free(sig);
	git_commit_free(tip);
	git_repository_free(repo);
	return rc;
}

/*
 * Commit tree_id on parents as who, then move ref to the commit only if it
 * still points at parents[0]: a ref someone else moved meanwhile is an
 * error, never overwritten.  what names the commit in errors.
 */
static int
commit_and_advance(git_oid *id, git_repository *repo, const char *ref,
    const char *who, const char *message, const git_oid *tree_id,
    const git_commit **parents, size_t n, const char *what, char *err,
    size_t errlen)
{
	git_signature *sig = NULL;
	git_reference *moved = NULL;
	git_tree *tree = NULL;
	int rc = -1;

	if (git_tree_lookup(&tree, repo, tree_id) < 0) {
		repo_gfail(err, errlen, "reading the tree of %s", what);
		goto cleanup;
	}
	if (signature(&sig, who, err, errlen) < 0)
		goto cleanup;
	if (git_commit_create(id, repo, NULL, sig, sig, NULL, message, tree,
	    n, parents) < 0) {
		repo_gfail(err, errlen, "committing %s", what);
		goto cleanup;
	}
	if (git_reference_create_matching(&moved, repo, ref, id, 1,
	    git_commit_id(parents[0]), n > 1 ? "merge" : "commit") < 0) {
		repo_gfail(err, errlen, "moving %s forward", ref);
		goto cleanup;
	}
	rc = 0;
cleanup:
	git_reference_free(moved);
	git_signature_free(sig);
	git_tree_free(tree);
	return rc;
}

/* On REPO_UNCHANGED, oid is the branch tip (as for a merge, main's). */
int
repo_commit(const char *wtdir, const char *domain, const char *message,
    char oid[REPO_OID_HEX], char *err, size_t errlen)
{
	git_repository *repo = NULL;
	git_index *idx = NULL;
	git_commit *tip = NULL;
	git_tree *tip_tree = NULL, *itree = NULL, *tree = NULL;
	const git_commit *parents[1];
	git_oid itree_id, tree_id, id;
	char branch[REFNAME_MAX], folder[DOMAIN_MAX + 1];
	int rc = -1;

	oid[0] = '\0';
	git_error_clear();
	if (domain_ok(domain, err, errlen) < 0)
		return -1;
	if (message == NULL || *message == '\0')
		return repo_fail(err, errlen, "commit: empty message");
	branch_ref(branch, sizeof(branch), domain);
	if (open_worktree(&repo, wtdir, domain, err, errlen) < 0)
		return -1;
	if (domain_folder(repo, domain, folder, sizeof(folder), err,
	    errlen) < 0)
		goto cleanup;
	if (lookup_tip(&tip, repo, branch, err, errlen) < 0)
		goto cleanup;
	if (git_commit_tree(&tip_tree, tip) < 0 ||
	    git_repository_index(&idx, repo) < 0) {
		repo_gfail(err, errlen, "reading domain/%s and its index",
		    domain);
		goto cleanup;
	}
	if (stage_domain(repo, idx, folder, err, errlen) < 0)
		goto cleanup;
	if (git_index_write_tree(&itree_id, idx) < 0 ||
	    git_tree_lookup(&itree, repo, &itree_id) < 0) {
		repo_gfail(err, errlen, "writing the tree of the index");
		goto cleanup;
	}
	/* Only <domain>/ of the index gets in, whatever else is staged. */
	if (graft(&tree_id, repo, tip_tree, itree, folder, err, errlen) < 0)
		goto cleanup;
	if (git_oid_equal(&tree_id, git_tree_id(tip_tree))) {
		git_oid_cpy(&id, git_commit_id(tip));
		rc = REPO_UNCHANGED;
		goto write_index;
	}
	parents[0] = tip;
	if (commit_and_advance(&id, repo, branch, domain, message, &tree_id,
	    parents, 1, "the round", err, errlen) < 0)
		goto cleanup;
	rc = 0;
write_index:
	/* The index held changes outside <domain>/: it must match the
	 * commit, or they would look staged forever. */
	if (!git_oid_equal(&itree_id, &tree_id) &&
	    ((tree == NULL && git_tree_lookup(&tree, repo, &tree_id) < 0) ||
	    git_index_read_tree(idx, tree) < 0)) {
		rc = repo_gfail(err, errlen,
		    "resetting the index to the commit");
		goto cleanup;
	}
	if (git_index_write(idx) < 0) {
		rc = repo_gfail(err, errlen, "writing the index of %s", wtdir);
		goto cleanup;
	}
	git_oid_tostr(oid, REPO_OID_HEX, &id);
cleanup:
	git_tree_free(tip_tree);
	git_tree_free(itree);
	git_tree_free(tree);
	git_index_free(idx);
	git_commit_free(tip);
	git_repository_free(repo);
	return rc;
}

/* ------------------------------------------------- peers' code */

struct names {
	char	**v;
	size_t	  n;
};

static void
names_add(struct names *ns, const char *name)
{
	ns->v = xrealloc(ns->v, (ns->n + 1) * sizeof(*ns->v));
	ns->v[ns->n++] = xstrdup(name);
}

static void
names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	ns->v = NULL;
	ns->n = 0;
}

/* The entries of a not in b, or different there, but <domain>'s. */
static void
entries_changed(struct names *ns, const git_tree *a, const git_tree *b,
    const char *domain)
{
	const git_tree_entry *ea, *eb;
	size_t i, j, n = git_tree_entrycount(a);
	bool seen;

	for (i = 0; i < n; i++) {
		ea = git_tree_entry_byindex(a, i);
		if (strcmp(git_tree_entry_name(ea), domain) == 0)
			continue;
		eb = git_tree_entry_byname(b, git_tree_entry_name(ea));
		if (eb != NULL && git_oid_equal(git_tree_entry_id(ea),
		    git_tree_entry_id(eb)) && git_tree_entry_filemode(ea) ==
		    git_tree_entry_filemode(eb))
			continue;
		for (seen = false, j = 0; j < ns->n && !seen; j++)
			seen = strcmp(ns->v[j], git_tree_entry_name(ea)) == 0;
		if (!seen)
			names_add(ns, git_tree_entry_name(ea));
	}
}

/*
 * The worktree's files under the top-level entries where from and to
 * differ (never <domain>/) made to's, the index with them.  Untracked
 * files there stay, unless to has a file of that name.
 */
static int
checkout_peers(git_repository *repo, git_tree *from, git_tree *to,
    const char *domain, char *err, size_t errlen)
{
	git_checkout_options co;
	struct names ns = { 0 };
	int rc = 0;

	entries_changed(&ns, to, from, domain);
	entries_changed(&ns, from, to, domain);
	if (ns.n == 0)
		return 0;
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy = GIT_CHECKOUT_FORCE |
	    GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
	co.paths.strings = ns.v;
	co.paths.count = ns.n;
	co.baseline = from;
	if (git_checkout_tree(repo, (const git_object *)to, &co) < 0)
		rc = repo_gfail(err, errlen,
		    "checking out main's peers' code in "
		    "the worktree of %s", domain);
	names_free(&ns);
	return rc;
}

int
repo_refresh_domain(const char *wtdir, const char *domain,
    char main_oid[REPO_OID_HEX], char tip[REPO_OID_HEX], char *err,
    size_t errlen)
{
	git_repository *repo = NULL;
	git_signature *sig = NULL;
	git_reference *moved = NULL;
	git_commit *dtip = NULL, *mtip = NULL;
	git_tree *dtree = NULL, *mtree = NULL, *tree = NULL;
	const git_commit *parents[2];
	git_oid tree_id, id;
	char branch[REFNAME_MAX], msg[REFNAME_MAX], hex[REPO_OID_HEX];
	char folder[DOMAIN_MAX + 1];
	int rc = -1;

	main_oid[0] = tip[0] = '\0';
	git_error_clear();
	if (domain_ok(domain, err, errlen) < 0)
		return -1;
	branch_ref(branch, sizeof(branch), domain);
	if (open_worktree(&repo, wtdir, domain, err, errlen) < 0)
		return -1;
	if (domain_folder(repo, domain, folder, sizeof(folder), err,
	    errlen) < 0)
		goto cleanup;
	if (lookup_tip(&dtip, repo, branch, err, errlen) < 0 ||
	    lookup_tip(&mtip, repo, MAIN_REF, err, errlen) < 0)
		goto cleanup;
	git_oid_tostr(main_oid, REPO_OID_HEX, git_commit_id(mtip));
	if (git_commit_tree(&dtree, dtip) < 0 ||
	    git_commit_tree(&mtree, mtip) < 0) {
		repo_gfail(err, errlen, "reading the trees of main and %s",
		    branch);
		goto cleanup;
	}
	/* main's tree, the domain's own folder from its branch. */
	if (graft(&tree_id, repo, mtree, dtree, folder, err, errlen) < 0)
		goto cleanup;
	if (git_oid_equal(&tree_id, git_tree_id(dtree))) {
		git_oid_tostr(tip, REPO_OID_HEX, git_commit_id(dtip));
		rc = REPO_UNCHANGED;
		goto cleanup;
	}
	if (git_tree_lookup(&tree, repo, &tree_id) < 0) {
		repo_gfail(err, errlen, "reading the refreshed tree of %s",
		    branch);
		goto cleanup;
	}
	if (signature(&sig, MASTERD_NAME, err, errlen) < 0)
		goto cleanup;
	snprintf(msg, sizeof(msg), "Take main's code of the peers of %s "
	    "(main at %.12s)\n", domain, main_oid);
	parents[0] = dtip;
	parents[1] = mtip;
	if (git_commit_create(&id, repo, NULL, sig, sig, NULL, msg, tree, 2,
	    parents) < 0) {
		repo_gfail(err, errlen, "committing main's peers' code on %s",
		    branch);
		goto cleanup;
	}
	/*
	 * The files first, then the branch: a failure in between leaves a
	 * worktree ahead of its tip outside <domain>/, which the next
	 * refresh checks out again; the other order would leave it behind
	 * for good.
	 */
	if (checkout_peers(repo, dtree, tree, folder, err, errlen) < 0)
		goto cleanup;
	if (git_reference_create_matching(&moved, repo, branch, &id, 1,
	    git_commit_id(dtip), "refresh from main") < 0) {
		repo_gfail(err, errlen, "moving %s forward", branch);
		goto cleanup;
	}
	git_oid_tostr(hex, sizeof(hex), &id);
	memcpy(tip, hex, REPO_OID_HEX);
	rc = 0;
cleanup:
	git_reference_free(moved);
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(dtree);
	git_tree_free(mtree);
	git_commit_free(dtip);
	git_commit_free(mtip);
	git_repository_free(repo);
	return rc;
}

/* max 0 means no limit.  When cut, the note is within max too. */
int
repo_diff(const char *wtdir, const char *domain, size_t max, char **out,
    char *err, size_t errlen)
{
	git_diff_options o;
	struct diffbuf d;
	git_repository *repo = NULL;
	git_commit *tip = NULL;
	git_tree *tree = NULL;
	git_diff *diff = NULL;
	char branch[REFNAME_MAX], spec[DOMAIN_MAX + 1];
	char folder[DOMAIN_MAX + 1];
	char *specs[1] = { spec };
	size_t room;
	int r, rc = -1;

	*out = NULL;
	memset(&d, 0, sizeof(d));
	git_error_clear();
	if (domain_ok(domain, err, errlen) < 0)
		return -1;
	branch_ref(branch, sizeof(branch), domain);
	if (open_worktree(&repo, wtdir, domain, err, errlen) < 0)
		return -1;
	if (domain_folder(repo, domain, folder, sizeof(folder), err,
	    errlen) < 0)
		goto cleanup;
	if (lookup_tip(&tip, repo, branch, err, errlen) < 0)
		goto cleanup;
	if (git_commit_tree(&tree, tip) < 0) {
		repo_gfail(err, errlen, "reading the tree of %s", branch);
		goto cleanup;
	}
	git_diff_options_init(&o, GIT_DIFF_OPTIONS_VERSION);
	snprintf(spec, sizeof(spec), "%s", folder);
	o.flags = GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_RECURSE_UNTRACKED_DIRS |
	    GIT_DIFF_SHOW_UNTRACKED_CONTENT | GIT_DIFF_DISABLE_PATHSPEC_MATCH;
	o.pathspec.strings = specs;
	o.pathspec.count = 1;
	if (git_diff_tree_to_workdir_with_index(&diff, repo, tree, &o) < 0) {
		repo_gfail(err, errlen, "comparing %s/ with %s", domain,
		    branch);
		goto cleanup;
	}
	/* The note fits within max: max is the caller's budget. */
	d.limited = max != 0;
	d.limit = max > sizeof(DIFF_NOTE) - 1 ? max - (sizeof(DIFF_NOTE) - 1) :
	    0;
	diffbuf_put(&d, "", 0);
	r = git_diff_print(diff, GIT_DIFF_FORMAT_PATCH, diff_line_cb, &d);
	if (r != 0 && !d.cut) {
		repo_gfail(err, errlen, "printing the diff of %s/", domain);
		goto cleanup;
	}
	git_error_clear();
	if (d.cut) {
		/* Not a second cut: the note always has its room. */
		room = max - d.len;
		d.limited = false;
		diffbuf_put(&d, DIFF_NOTE, room < sizeof(DIFF_NOTE) - 1 ?
		    room : sizeof(DIFF_NOTE) - 1);
	}
	*out = d.buf;
	d.buf = NULL;
	rc = 0;
cleanup:
	free(d.buf);
	git_diff_free(diff);
	git_tree_free(tree);
	git_commit_free(tip);
	git_repository_free(repo);
	return rc;
}

int
repo_files(const char *wtdir, const char *domain, json_t **out, char *err,
    size_t errlen)
{
	json_t *files = NULL;
	git_repository *repo = NULL;
	git_tree_entry *de = NULL;
	git_commit *tip = NULL;
	git_tree *tree = NULL, *sub = NULL;
	char branch[REFNAME_MAX], folder[DOMAIN_MAX + 1];
	int rc = -1;

	*out = NULL;
	git_error_clear();
	if (domain_ok(domain, err, errlen) < 0)
		return -1;
	branch_ref(branch, sizeof(branch), domain);
	if (git_repository_open_ext(&repo, wtdir,
	    GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
		return repo_gfail(err, errlen, "opening worktree %s", wtdir);
	if (domain_folder(repo, domain, folder, sizeof(folder), err,
	    errlen) < 0)
		goto cleanup;
	files = json_array();
	if (lookup_tip(&tip, repo, branch, err, errlen) < 0)
		goto cleanup;
	if (git_commit_tree(&tree, tip) < 0) {
		repo_gfail(err, errlen, "reading the tree of %s", branch);
		goto cleanup;
	}
	if (domain_entry(&de, tree, folder, err, errlen) < 0)
		goto cleanup;
	if (de == NULL || git_tree_entry_type(de) != GIT_OBJECT_TREE)
		goto done;
	if (git_tree_lookup(&sub, repo, git_tree_entry_id(de)) < 0) {
		repo_gfail(err, errlen, "reading %s/ of %s", domain, branch);
		goto cleanup;
	}
	if (git_tree_walk(sub, GIT_TREEWALK_PRE, file_cb, files) < 0) {
		repo_gfail(err, errlen, "listing %s/ of %s", domain, branch);
		goto cleanup;
	}
done:
	*out = files;
	files = NULL;
	rc = 0;
cleanup:
	json_decref(files);
	git_tree_free(sub);
	git_tree_entry_free(de);
	git_tree_free(tree);
	git_commit_free(tip);
	git_repository_free(repo);
	return rc;
}

int
repo_merge_domain(const char *gitdir, const char *domain,
    const char *message, char oid[REPO_OID_HEX], char *err, size_t errlen)
{
	git_repository *repo = NULL;
	git_commit *dtip = NULL, *mtip = NULL;
	git_tree *dtree = NULL, *mtree = NULL;
	const git_commit *parents[2];
	git_oid tree_id, id;
	char branch[REFNAME_MAX], folder[DOMAIN_MAX + 1];
	int rc = -1;

	oid[0] = '\0';
	git_error_clear();
	if (domain_ok(domain, err, errlen) < 0)
		return -1;
	if (message == NULL || *message == '\0')
		return repo_fail(err, errlen, "merge: empty message");
	branch_ref(branch, sizeof(branch), domain);
	if (open_bare(&repo, gitdir, err, errlen) < 0)
		return -1;
	if (domain_folder(repo, domain, folder, sizeof(folder), err,
	    errlen) < 0)
		goto cleanup;
	/* The domain tip is read once: the child may commit meanwhile, and
	 * what we merge is then exactly this commit. */
	if (lookup_tip(&dtip, repo, branch, err, errlen) < 0 ||
	    lookup_tip(&mtip, repo, MAIN_REF, err, errlen) < 0)
		goto cleanup;
	if (git_commit_tree(&dtree, dtip) < 0 ||
	    git_commit_tree(&mtree, mtip) < 0) {
		repo_gfail(err, errlen, "reading the trees of main and %s",
		    branch);
		goto cleanup;
	}
	if (graft(&tree_id, repo, mtree, dtree, folder, err, errlen) < 0)
		goto cleanup;
	if (git_oid_equal(&tree_id, git_tree_id(mtree))) {
		git_oid_tostr(oid, REPO_OID_HEX, git_commit_id(mtip));
		rc = REPO_UNCHANGED;
		goto cleanup;
	}
	parents[0] = mtip;
	parents[1] = dtip;
	if (commit_and_advance(&id, repo, MAIN_REF, MASTERD_NAME, message,
	    &tree_id, parents, 2, "the merge", err, errlen) < 0)
		goto cleanup;
	git_oid_tostr(oid, REPO_OID_HEX, &id);
	rc = 0;
cleanup:
	git_tree_free(dtree);
	git_tree_free(mtree);
	git_commit_free(dtip);
	git_commit_free(mtip);
	git_repository_free(repo);
	return rc;
}

/* One log entry: {"id","author","time","summary","message"}. */
static json_t *
log_entry(git_commit *c)
{
	const git_signature *a = git_commit_author(c);
	const char *summary = git_commit_summary(c);
	char hex[REPO_OID_HEX];
	json_t *o;

	git_oid_tostr(hex, sizeof(hex), git_commit_id(c));
	o = json_object();
	json_object_set_new(o, "id", json_string(hex));
	json_object_set_new(o, "author", jstr(a->name));
	json_object_set_new(o, "time", json_integer(a->when.time));
	json_object_set_new(o, "summary", jstr(summary != NULL ? summary : ""));
	json_object_set_new(o, "message", jstr(git_commit_message(c)));
	return o;
}

/* ref is anything git_revparse_single takes ("main", "domain/a", an id);
 * max <= 0 means no limit.  "time" is the author's, in Unix seconds. */
int
repo_log(const char *gitdir, const char *ref, int max, json_t **out,
    char *err, size_t errlen)
{
	git_repository *repo = NULL;
	git_revwalk *walk = NULL;
	git_object *obj = NULL, *head = NULL;
	git_commit *c = NULL;
	json_t *arr = NULL;
	git_oid id;
	int n = 0, r, rc = -1;

	*out = NULL;
	git_error_clear();
	if (ref == NULL || *ref == '\0')
		return repo_fail(err, errlen, "log: no ref");
	if (open_bare(&repo, gitdir, err, errlen) < 0)
		return -1;
	if (git_revparse_single(&obj, repo, ref) < 0 ||
	    git_object_peel(&head, obj, GIT_OBJECT_COMMIT) < 0) {
		repo_gfail(err, errlen, "resolving %s", ref);
		goto cleanup;
	}
	/* Children before parents, and by time among branches. */
	if (git_revwalk_new(&walk, repo) < 0 ||
	    git_revwalk_sorting(walk,
	    GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME) < 0 ||
	    git_revwalk_push(walk, git_object_id(head)) < 0) {
		repo_gfail(err, errlen, "walking %s", ref);
		goto cleanup;
	}
	arr = json_array();
	while (max <= 0 || n < max) {
		if ((r = git_revwalk_next(&id, walk)) == GIT_ITEROVER)
			break;
		if (r < 0 || git_commit_lookup(&c, repo, &id) < 0) {
			repo_gfail(err, errlen, "walking %s", ref);
			goto cleanup;
		}
		json_array_append_new(arr, log_entry(c));
		git_commit_free(c);
		c = NULL;
		n++;
	}
	git_error_clear();
	*out = arr;
	arr = NULL;
	rc = 0;
cleanup:
	json_decref(arr);
	git_revwalk_free(walk);
	git_object_free(head);
	git_object_free(obj);
	git_repository_free(repo);
	return rc;
}

/* ------------------------------------------------- a commit, read only */

/* Directories deeper than this under the integration tree are refused. */
#define EMPTY_DEPTH_MAX	1000

/* The commit whose id is hex (40 lowercase hex digits): 0, REPO_MISSING
 * when the repository has no such commit (a malformed id included), -1
 * otherwise. */
static int
lookup_commit_hex(git_commit **out, git_repository *repo, const char *hex,
    char *err, size_t errlen)
{
	git_oid id;
	int e;

	if (hex == NULL || strlen(hex) != REPO_OID_HEX - 1 ||
	    strspn(hex, "0123456789abcdef") != REPO_OID_HEX - 1) {
		repo_fail(err, errlen, "not a commit id: want 40 lowercase "
		    "hexadecimal digits");
		return REPO_MISSING;
	}
	if (git_oid_fromstr(&id, hex) < 0)
		return repo_gfail(err, errlen, "reading the id %s", hex);
	if ((e = git_commit_lookup(out, repo, &id)) == 0)
		return 0;
	if (e == GIT_ENOTFOUND) {
		repo_fail(err, errlen, "commit %s is not in the repository",
		    hex);
		return REPO_MISSING;
	}
	return repo_gfail(err, errlen, "reading commit %s", hex);
}

/* The tree of commit hex in the bare repository at gitdir. */
static int
commit_tree_hex(git_repository **repo, git_tree **tree, const char *gitdir,
    const char *hex, char *err, size_t errlen)
{
	git_commit *c = NULL;
	int rc;

	*repo = NULL;
	*tree = NULL;
	if (open_bare(repo, gitdir, err, errlen) < 0)
		return -1;
	if ((rc = lookup_commit_hex(&c, *repo, hex, err, errlen)) != 0)
		return rc;
	if (git_commit_tree(tree, c) < 0)
		rc = repo_gfail(err, errlen, "reading the tree of %s", hex);
	git_commit_free(c);
	return rc;
}

/*
 * Remove everything beneath the open directory dfd (shown names it in
 * errors), following no symlink: a symlink is removed, not its target.
 * A directory a command left unwritable or unreadable is made 0700 first.
 */
static int
empty_at(int dfd, const char *shown, int depth, char *err, size_t errlen)
{
	struct dirent *de;
	int fd, sub, rc = 0;
	DIR *d;

	if (depth > EMPTY_DEPTH_MAX)
		return repo_fail(err, errlen,
		    "emptying %s: more than %d levels of "
		    "folders", shown, EMPTY_DEPTH_MAX);
	if ((fd = dup(dfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return repo_fail(err, errlen, "reading %s: %s", shown,
		    strerror(errno));
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			rc = repo_fail(err, errlen, "removing %s/%s: %s", shown,
			    de->d_name, strerror(errno));
			break;
		}
		(void)fchmodat(dfd, de->d_name, 0700, 0);
		sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			rc = repo_fail(err, errlen, "opening %s/%s: %s", shown,
			    de->d_name, strerror(errno));
			break;
		}
		rc = empty_at(sub, shown, depth + 1, err, errlen);
		close(sub);
		if (rc == 0 && unlinkat(dfd, de->d_name, AT_REMOVEDIR) != 0)
			rc = repo_fail(err, errlen, "removing %s/%s: %s", shown,
			    de->d_name, strerror(errno));
	}
	closedir(d);
	return rc;
}

/* dir exists, is a real directory of mode 0700 and is empty. */
static int
fresh_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	if (mkdirs_parent(dir, err, errlen) < 0)
		return -1;
	if (lstat(dir, &st) == 0 && !S_ISDIR(st.st_mode) && unlink(dir) != 0)
		return repo_fail(err, errlen, "removing %s: %s", dir,
		    strerror(errno));
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return repo_fail(err, errlen, "creating %s: %s", dir,
		    strerror(errno));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return repo_fail(err, errlen, "opening %s: %s", dir,
		    strerror(errno));
	if (fchmod(fd, 0700) != 0) {
		close(fd);
		return repo_fail(err, errlen, "chmod %s: %s", dir,
		    strerror(errno));
	}
	rc = empty_at(fd, dir, 0, err, errlen);
	close(fd);
	return rc;
}

int
repo_checkout_commit(const char *gitdir, const char *commit,
    const char *dir, char *err, size_t errlen)
{
	git_checkout_options opts;
	git_repository *repo = NULL;
	git_tree *tree = NULL;
	int rc;

	git_error_clear();
	if ((rc = commit_tree_hex(&repo, &tree, gitdir, commit, err,
	    errlen)) != 0)
		goto cleanup;
	if ((rc = fresh_dir(dir, err, errlen)) != 0)
		goto cleanup;
	git_checkout_options_init(&opts, GIT_CHECKOUT_OPTIONS_VERSION);
	/* Into dir, not a worktree: the bare repository gets no index.  The
	 * files as committed: no CRLF or .gitattributes filter. */
	opts.disable_filters = 1;
	opts.checkout_strategy = GIT_CHECKOUT_FORCE |
	    GIT_CHECKOUT_DONT_UPDATE_INDEX;
	opts.target_directory = dir;
	if (git_checkout_tree(repo, (const git_object *)tree, &opts) < 0)
		rc = repo_gfail(err, errlen, "checking %s out into %s", commit,
		    dir);
cleanup:
	git_tree_free(tree);
	git_repository_free(repo);
	return rc;
}

int
repo_commit_files(const char *gitdir, const char *commit, json_t **out,
    char *err, size_t errlen)
{
	git_repository *repo = NULL;
	git_tree *tree = NULL;
	json_t *files;
	int rc;

	*out = NULL;
	git_error_clear();
	if ((rc = commit_tree_hex(&repo, &tree, gitdir, commit, err,
	    errlen)) != 0)
		goto cleanup;
	files = json_array();
	if (git_tree_walk(tree, GIT_TREEWALK_PRE, file_cb, files) < 0) {
		json_decref(files);
		rc = repo_gfail(err, errlen, "listing the files of %s", commit);
		goto cleanup;
	}
	*out = files;
cleanup:
	git_tree_free(tree);
	git_repository_free(repo);
	return rc;
}

int
repo_commit_read(const char *gitdir, const char *commit, const char *path,
    size_t max, char **out, size_t *len, size_t *size, char *err,
    size_t errlen)
{
	git_repository *repo = NULL;
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	size_t n;
	int rc;

	*out = NULL;
	*len = *size = 0;
	git_error_clear();
	if ((rc = commit_tree_hex(&repo, &tree, gitdir, commit, err,
	    errlen)) != 0)
		goto cleanup;
	if (path == NULL || git_tree_entry_bypath(&e, tree, path) != 0 ||
	    git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
		repo_fail(err, errlen, "%s: no such file in %s",
		    path != NULL ? path : "(null)", commit);
		rc = REPO_MISSING;
		goto cleanup;
	}
	if (git_blob_lookup(&blob, repo, git_tree_entry_id(e)) < 0) {
		rc = repo_gfail(err, errlen, "reading %s in %s", path, commit);
		goto cleanup;
	}
	*size = (size_t)git_blob_rawsize(blob);
	n = *size < max ? *size : max;
	*out = xmalloc(n + 1);
	memcpy(*out, git_blob_rawcontent(blob), n);
	(*out)[n] = '\0';
	*len = n;
cleanup:
	git_blob_free(blob);
	git_tree_entry_free(e);
	git_tree_free(tree);
	git_repository_free(repo);
	return rc;
}
