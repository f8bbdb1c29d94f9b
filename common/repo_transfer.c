/*
 * repo_transfer.c — packs out of a task's repository and into the user's
 * (repo_transfer.h).  masterd calls repo_pack_ref; masterctl, as the
 * user, the rest.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>
#include <jansson.h>

#include "common/repo_err.h"
#include "common/repo_transfer.h"
#include "common/util.h"

#define REFNAME_MAX	512
#define PACK_READ	(64 * 1024)
#define PUSH_REF	"refs/masterd/push"

/* A work tree (its .git found from path) or a bare repository. */
static int
open_any(git_repository **repo, const char *path, char *err, size_t errlen)
{
	git_error_clear();
	if (git_repository_open_ext(repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH,
	    NULL) < 0)
		return repo_gfail(err, errlen, "%s: not a git repository",
		    path);
	return 0;
}

static int
parse_oid(git_oid *id, const char *hex, char *err, size_t errlen)
{
	if (hex == NULL || strlen(hex) != GIT_OID_HEXSZ ||
	    git_oid_fromstr(id, hex) < 0)
		return repo_fail(err, errlen, "'%s' is not a commit id",
		    hex ? hex : "");
	return 0;
}

/* refs/heads/<branch> into name, if git takes it as a branch name. */
static int
branch_ref(const char *branch, char *name, size_t len, char *err,
    size_t errlen)
{
	int valid = 0;

	snprintf(name, len, "refs/heads/%s", branch);
	if (git_reference_name_is_valid(&valid, name) < 0 || !valid)
		return repo_fail(err, errlen, "'%s' is not a branch name",
		    branch);
	return 0;
}

/* ------------------------------------------------------------ packing */

static int
write_chunk(void *buf, size_t size, void *payload)
{
	return write_all(*(int *)payload, buf, size) == 0 ? 0 : -1;
}

/* Hide every have the repository holds as a commit. */
static void
hide_haves(git_repository *repo, git_revwalk *walk, const json_t *haves)
{
	git_commit *c;
	git_oid id;
	size_t i;
	json_t *v;

	json_array_foreach(haves, i, v) {
		const char *hex = json_string_value(v);

		if (hex == NULL || strlen(hex) != GIT_OID_HEXSZ ||
		    git_oid_fromstr(&id, hex) < 0 ||
		    git_commit_lookup(&c, repo, &id) < 0)
			continue;
		git_commit_free(c);
		(void)git_revwalk_hide(walk, &id);
	}
	git_error_clear();
}

int
repo_pack_ref(const char *gitdir, const char *ref, const json_t *haves,
    const char *path, char oid[REPO_OID_HEX], size_t *objects, char *err,
    size_t errlen)
{
	git_repository *repo = NULL;
	git_packbuilder *pb = NULL;
	git_revwalk *walk = NULL;
	git_oid id;
	int fd = -1, rc = -1;

	oid[0] = '\0';
	*objects = 0;
	git_error_clear();
	if (git_repository_open_bare(&repo, gitdir) < 0) {
		repo_gfail(err, errlen, "opening %s", gitdir);
		goto cleanup;
	}
	if ((strlen(ref) != GIT_OID_HEXSZ || git_oid_fromstr(&id, ref) < 0) &&
	    git_reference_name_to_id(&id, repo, ref) < 0) {
		repo_gfail(err, errlen, "%s", ref);
		goto cleanup;
	}
	if (git_packbuilder_new(&pb, repo) < 0 ||
	    git_revwalk_new(&walk, repo) < 0 ||
	    git_revwalk_push(walk, &id) < 0) {
		repo_gfail(err, errlen, "packing %s", ref);
		goto cleanup;
	}
	if (haves != NULL)
		hide_haves(repo, walk, haves);
	if (git_packbuilder_insert_walk(pb, walk) < 0) {
		repo_gfail(err, errlen, "packing %s", ref);
		goto cleanup;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0) {
		repo_fail(err, errlen, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (git_packbuilder_foreach(pb, write_chunk, &fd) < 0) {
		repo_gfail(err, errlen, "writing %s", path);
		goto cleanup;
	}
	if (fsync(fd) != 0) {
		repo_fail(err, errlen, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	*objects = git_packbuilder_object_count(pb);
	git_oid_tostr(oid, REPO_OID_HEX, &id);
	rc = 0;
cleanup:
	if (fd >= 0) {
		close(fd);
		if (rc != 0)
			unlink(path);
	}
	git_revwalk_free(walk);
	git_packbuilder_free(pb);
	git_repository_free(repo);
	return rc;
}

bool
repo_is_url(const char *to)
{
	const char *colon = strchr(to, ':'), *slash = strchr(to, '/');

	if (strncmp(to, "file://", 7) == 0)
		return false;
	if (strstr(to, "://") != NULL)
		return true;
	/* host:path, as git reads it: a colon before any slash. */
	return colon != NULL && (slash == NULL || colon < slash);
}

int
repo_init_bare(const char *gitdir, char *err, size_t errlen)
{
	git_repository *repo = NULL;

	git_error_clear();
	if (git_repository_init(&repo, gitdir, 1) < 0)
		return repo_gfail(err, errlen, "creating %s", gitdir);
	git_repository_free(repo);
	return 0;
}

int
repo_tips(const char *path, json_t **out, char *err, size_t errlen)
{
	git_repository *repo = NULL;
	git_branch_iterator *it = NULL;
	git_reference *ref;
	git_branch_t type;
	char hex[REPO_OID_HEX];
	json_t *tips = json_array();
	int rc = -1;

	*out = NULL;
	if (open_any(&repo, path, err, errlen) != 0)
		goto cleanup;
	if (git_branch_iterator_new(&it, repo, GIT_BRANCH_ALL) < 0) {
		repo_gfail(err, errlen, "%s: branches", path);
		goto cleanup;
	}
	while (git_branch_next(&ref, &type, it) == 0) {
		const git_oid *id = git_reference_target(ref);

		if (id != NULL) {
			git_oid_tostr(hex, sizeof(hex), id);
			json_array_append_new(tips, json_string(hex));
		}
		git_reference_free(ref);
	}
	*out = tips;
	tips = NULL;
	rc = 0;
cleanup:
	json_decref(tips);
	git_branch_iterator_free(it);
	git_repository_free(repo);
	return rc;
}

/* ------------------------------------------------------------ receiving */

static int
feed_pack(git_odb_writepack *wp, int fd, git_indexer_progress *stats,
    const char *pack_path, char *err, size_t errlen)
{
	char *buf = xmalloc(PACK_READ);
	ssize_t n;
	int rc = 0;

	while ((n = read(fd, buf, PACK_READ)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = repo_fail(err, errlen, "%s: %s", pack_path,
			    strerror(errno));
			break;
		}
		if (wp->append(wp, buf, (size_t)n, stats) < 0) {
			rc = repo_gfail(err, errlen, "%s: not a good pack",
			    pack_path);
			break;
		}
	}
	free(buf);
	return rc;
}

int
repo_pack_receive(const char *path, const char *pack_path, char *err,
    size_t errlen)
{
	git_repository *repo = NULL;
	git_odb *odb = NULL;
	git_odb_writepack *wp = NULL;
	git_indexer_progress stats = { 0 };
	int fd = -1, rc = -1;

	if (open_any(&repo, path, err, errlen) != 0)
		return -1;
	if ((fd = open(pack_path, O_RDONLY | O_CLOEXEC)) < 0) {
		repo_fail(err, errlen, "%s: %s", pack_path, strerror(errno));
		goto cleanup;
	}
	if (git_repository_odb(&odb, repo) < 0 ||
	    git_odb_write_pack(&wp, odb, NULL, NULL) < 0) {
		repo_gfail(err, errlen, "%s: object store", path);
		goto cleanup;
	}
	if (feed_pack(wp, fd, &stats, pack_path, err, errlen) != 0)
		goto cleanup;
	/* The indexer checks each object's id and resolves every delta. */
	if (wp->commit(wp, &stats) < 0) {
		repo_gfail(err, errlen, "%s: not a good pack", pack_path);
		goto cleanup;
	}
	rc = 0;
cleanup:
	if (wp != NULL)
		wp->free(wp);
	if (fd >= 0)
		close(fd);
	git_odb_free(odb);
	git_repository_free(repo);
	return rc;
}

/* ------------------------------------------------------------ branches */

/* Is refname what HEAD (of the repository itself) names, born or not? */
static bool
head_names(git_repository *repo, const char *refname)
{
	git_reference *head = NULL;
	bool same = false;

	if (git_reference_lookup(&head, repo, "HEAD") == 0 &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC)
		same = strcmp(git_reference_symbolic_target(head),
		    refname) == 0;
	git_reference_free(head);
	git_error_clear();
	return same;
}

/* The branch exists at old: may it move to new? 0, or -1 with why. */
static int
may_advance(git_repository *repo, git_reference *ref, const git_oid *old,
    const git_oid *new, const char *branch, char *err, size_t errlen)
{
	int rc;

	if (git_branch_is_checked_out(ref) == 1)
		return repo_fail(err, errlen,
		    "branch %s is checked out: masterd "
		    "does not move a branch under a work tree (give another "
		    "with --branch)", branch);
	if ((rc = git_graph_descendant_of(repo, new, old)) == 1)
		return 0;
	if (rc < 0)
		return repo_gfail(err, errlen, "branch %s", branch);
	return repo_fail(err, errlen,
	    "branch %s has commits the task's main does "
	    "not have: not overwritten (give another with --branch)", branch);
}

int
repo_branch_advance(const char *path, const char *branch, const char *oid,
    char was[REPO_OID_HEX], char *err, size_t errlen)
{
	git_repository *repo = NULL;
	git_reference *ref = NULL, *moved = NULL;
	git_commit *commit = NULL;
	char name[REFNAME_MAX];
	git_oid id, old;
	int rc = -1;

	was[0] = '\0';
	if (branch_ref(branch, name, sizeof(name), err, errlen) != 0 ||
	    parse_oid(&id, oid, err, errlen) != 0 ||
	    open_any(&repo, path, err, errlen) != 0)
		return -1;
	if (git_commit_lookup(&commit, repo, &id) < 0) {
		repo_gfail(err, errlen, "%s: commit %s", path, oid);
		goto cleanup;
	}
	if (git_reference_lookup(&ref, repo, name) == 0) {
		git_oid_cpy(&old, git_reference_target(ref));
		git_oid_tostr(was, REPO_OID_HEX, &old);
		if (git_oid_equal(&old, &id)) {
			rc = 0;
			goto cleanup;
		}
		if (may_advance(repo, ref, &old, &id, branch, err,
		    errlen) != 0)
			goto cleanup;
		/* Compare and swap: a writer in between makes this fail. */
		if (git_reference_create_matching(&moved, repo, name, &id, 1,
		    &old, "masterd: fast-forward to the task's main") < 0) {
			repo_gfail(err, errlen, "moving %s", branch);
			goto cleanup;
		}
	} else {
		if (head_names(repo, name)) {
			repo_fail(err, errlen, "branch %s is HEAD's (unborn): "
			    "masterd does not fill the branch of a work tree",
			    branch);
			goto cleanup;
		}
		if (git_reference_create(&moved, repo, name, &id, 0,
		    "masterd: the task's main") < 0) {
			repo_gfail(err, errlen, "creating %s", branch);
			goto cleanup;
		}
	}
	rc = 0;
cleanup:
	git_reference_free(moved);
	git_reference_free(ref);
	git_commit_free(commit);
	git_repository_free(repo);
	return rc;
}

/* ------------------------------------------------------------ export */

int
repo_export_target(const char *dir, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *d;

	if (mkdir(dir, 0777) == 0)
		return 0;
	if (errno != EEXIST)
		return repo_fail(err, errlen, "%s: %s", dir, strerror(errno));
	if ((d = opendir(dir)) == NULL)
		return repo_fail(err, errlen, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			closedir(d);
			return repo_fail(err, errlen,
			    "%s is not empty: masterctl "
			    "exports into a new or empty directory only", dir);
		}
	}
	closedir(d);
	return 0;
}

int
repo_export(const char *gitdir, const char *oid, const char *dir, char *err,
    size_t errlen)
{
	git_checkout_options opts;
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_oid id;
	int rc = -1;

	if (parse_oid(&id, oid, err, errlen) != 0 ||
	    open_any(&repo, gitdir, err, errlen) != 0)
		return -1;
	if (git_commit_lookup(&commit, repo, &id) < 0 ||
	    git_commit_tree(&tree, commit) < 0) {
		repo_gfail(err, errlen, "commit %s", oid);
		goto cleanup;
	}
	if (repo_export_target(dir, err, errlen) != 0)
		goto cleanup;
	git_checkout_options_init(&opts, GIT_CHECKOUT_OPTIONS_VERSION);
	/* The files as committed; no index: dir is not a work tree. */
	opts.disable_filters = 1;
	opts.checkout_strategy = GIT_CHECKOUT_FORCE |
	    GIT_CHECKOUT_DONT_UPDATE_INDEX;
	opts.target_directory = dir;
	if (git_checkout_tree(repo, (const git_object *)tree, &opts) < 0) {
		repo_gfail(err, errlen, "writing %s into %s", oid, dir);
		goto cleanup;
	}
	rc = 0;
cleanup:
	git_tree_free(tree);
	git_commit_free(commit);
	git_repository_free(repo);
	return rc;
}

/*
 * A remote of url alone, no configuration of its own.  git's url.*.
 * insteadOf rewriting is not applied: libgit2 1.5 leaks a regex match
 * for each lookup of it, and masterctl's scratch repository has none.
 */
static int
anonymous_remote(git_remote **out, git_repository *repo, const char *url)
{
	git_remote_create_options o;

	git_remote_create_options_init(&o, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	o.repository = repo;
	o.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
	    GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	return git_remote_create_with_opts(out, url, &o);
}

/* ------------------------------------------------------------ push */

struct push_state {
	int credential_tries;
	char rejected[512];	/* the remote's reason, or "" */
};

/* An SSH agent, once: libgit2 asks again after a refusal. */
static int
on_credential(git_credential **out, const char *url, const char *user,
    unsigned int allowed, void *payload)
{
	struct push_state *ps = payload;

	(void)url;
	if (ps->credential_tries++ > 0 ||
	    (allowed & GIT_CREDENTIAL_SSH_KEY) == 0)
		return GIT_PASSTHROUGH;
	return git_credential_ssh_key_from_agent(out, user ? user : "git");
}

static int
on_update(const char *refname, const char *status, void *payload)
{
	struct push_state *ps = payload;

	if (status != NULL)
		snprintf(ps->rejected, sizeof(ps->rejected), "%s: %s",
		    refname, status);
	return 0;
}

int
repo_push_url(const char *gitdir, const char *oid, const char *url,
    const char *branch, char *err, size_t errlen)
{
	git_repository *repo = NULL;
	git_reference *ref = NULL;
	git_remote *remote = NULL;
	git_push_options opts;
	struct push_state ps = { 0 };
	char spec[REFNAME_MAX], name[REFNAME_MAX];
	char *specs[] = { spec };
	git_strarray refspecs = { specs, 1 };
	int rc = -1;
	git_oid id;

	if (branch_ref(branch, name, sizeof(name), err, errlen) != 0 ||
	    parse_oid(&id, oid, err, errlen) != 0 ||
	    open_any(&repo, gitdir, err, errlen) != 0)
		return -1;
	if (git_reference_create(&ref, repo, PUSH_REF, &id, 1,
	    "masterctl push") < 0 ||
	    anonymous_remote(&remote, repo, url) < 0) {
		repo_gfail(err, errlen, "push to %s", url);
		goto cleanup;
	}
	/* No '+': the remote takes a fast-forward only. */
	snprintf(spec, sizeof(spec), "%s:%s", PUSH_REF, name);
	git_push_options_init(&opts, GIT_PUSH_OPTIONS_VERSION);
	opts.callbacks.credentials = on_credential;
	opts.callbacks.push_update_reference = on_update;
	opts.callbacks.payload = &ps;
	if (git_remote_push(remote, &refspecs, &opts) < 0) {
		repo_gfail(err, errlen, "push to %s", url);
		goto cleanup;
	}
	if (ps.rejected[0] != '\0') {
		repo_fail(err, errlen, "push to %s refused: %s", url,
		    ps.rejected);
		goto cleanup;
	}
	rc = 0;
cleanup:
	git_remote_free(remote);
	git_reference_free(ref);
	git_repository_free(repo);
	return rc;
}

/* ------------------------------------------------------------ import */

/* An SSH agent, once, for a fetch (as for a push). */
static int
on_fetch_credential(git_credential **out, const char *url, const char *user,
    unsigned int allowed, void *payload)
{
	int *tries = payload;

	(void)url;
	if ((*tries)++ > 0 || (allowed & GIT_CREDENTIAL_SSH_KEY) == 0)
		return GIT_PASSTHROUGH;
	return git_credential_ssh_key_from_agent(out, user ? user : "git");
}

/* The branch the remote's HEAD names, without refs/heads/. */
static int
remote_head_branch(git_remote *remote, const git_remote_callbacks *cb,
    char *branch, size_t len, const char *url, char *err, size_t errlen)
{
	git_buf buf = { 0 };
	int rc = -1;

	if (git_remote_connect(remote, GIT_DIRECTION_FETCH, cb, NULL,
	    NULL) < 0)
		return repo_gfail(err, errlen, "%s", url);
	if (git_remote_default_branch(&buf, remote) < 0) {
		repo_gfail(err, errlen, "%s: which branch HEAD names (give "
		    "--branch)", url);
		goto cleanup;
	}
	if (strncmp(buf.ptr, "refs/heads/", 11) != 0) {
		repo_fail(err, errlen, "%s: HEAD names %s, not a branch", url,
		    buf.ptr);
		goto cleanup;
	}
	snprintf(branch, len, "%s", buf.ptr + 11);
	rc = 0;
cleanup:
	git_buf_dispose(&buf);
	(void)git_remote_disconnect(remote);
	return rc;
}

int
repo_fetch_branch(const char *gitdir, const char *url, char *branch,
    size_t branchlen, char oid[REPO_OID_HEX], char *err, size_t errlen)
{
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	git_fetch_options opts;
	char spec[REFNAME_MAX], name[REFNAME_MAX];
	char *specs[] = { spec };
	git_strarray refspecs = { specs, 1 };
	int valid = 0, tries = 0, rc = -1;
	git_oid id;

	if (open_any(&repo, gitdir, err, errlen) != 0)
		return -1;
	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	opts.callbacks.credentials = on_fetch_credential;
	opts.callbacks.payload = &tries;
	opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	if (anonymous_remote(&remote, repo, url) < 0) {
		repo_gfail(err, errlen, "%s", url);
		goto cleanup;
	}
	if (branch[0] == '\0' && remote_head_branch(remote, &opts.callbacks,
	    branch, branchlen, url, err, errlen) != 0)
		goto cleanup;
	tries = 0;
	snprintf(name, sizeof(name), "refs/heads/%s", branch);
	if (git_reference_name_is_valid(&valid, name) < 0 || !valid) {
		repo_fail(err, errlen, "'%s' is not a branch name", branch);
		goto cleanup;
	}
	snprintf(spec, sizeof(spec), "+%s:%s", name, name);
	if (git_remote_fetch(remote, &refspecs, &opts, "masterctl import") <
	    0) {
		repo_gfail(err, errlen, "fetching %s of %s", branch, url);
		goto cleanup;
	}
	if (git_reference_name_to_id(&id, repo, name) < 0) {
		repo_gfail(err, errlen, "%s has no branch %s", url, branch);
		goto cleanup;
	}
	git_oid_tostr(oid, REPO_OID_HEX, &id);
	rc = 0;
cleanup:
	git_remote_free(remote);
	git_repository_free(repo);
	return rc;
}
