/*
 * repo.h — a task's git repository, through libgit2.
 *
 * One bare repository per task (<state>/tasks/<id>/repo.git) whose `main`
 * branch is the integrated project, and one worktree per domain
 * (<state>/tasks/<id>/domains/<name>) on branch domain/<name>.  A domain
 * only ever changes files under its own folder <name>/ of the tree.
 *
 * Nothing here destroys work that is not reachable from a ref: before a
 * worktree is cleaned for a redo, its dirty state is committed to a
 * snapshot ref (refs/masterd/snapshots/<name>/<label>); branches only move
 * forward (fast-forward or a new commit on top).
 *
 * A domain may own another folder than <name>/ (an existing folder of an
 * imported project): repo_set_folder records it in the repository's
 * config, and every call below that says <domain>/ then means that
 * folder (one top-level folder).
 *
 * Every call is synchronous and returns 0 on success, -1 with a message in
 * err (and REPO_UNCHANGED where noted).
 */
#ifndef COMMON_REPO_H
#define COMMON_REPO_H

#include <stdatomic.h>
#include <stddef.h>

#include <jansson.h>

#define REPO_OID_HEX 41		/* 40 hex digits and a NUL */
#define REPO_UNCHANGED 1	/* nothing to commit or merge */
#define REPO_MISSING 2		/* no such commit, or no such file in it */
/* In the git directory: the flock(2) file that orders the making of
 * worktrees' administrative data (repo_worktree). */
#define REPO_WORKTREES_LOCK "masterd-worktrees.lock"

/* libgit2's global state: once per process. */
void repo_global_init(void);
void repo_global_shutdown(void);

/* Create the bare repository with an empty first commit on main, HEAD ->
 * main.  Does nothing if it exists already. */
int repo_init(const char *gitdir, char *err, size_t errlen);

/* Create the bare repository from an imported history: the pack at
 * pack_path taken in (every object checked), main at commit, HEAD ->
 * main.  Fails if the repository has a main already. */
int repo_init_import(const char *gitdir, const char *pack_path,
    const char *commit, char *err, size_t errlen);

/* Whether folder may be a domain's: one top-level folder named as a
 * domain may be, not .git.  0, or -1 with why in err. */
int repo_folder_ok(const char *folder, char *err, size_t errlen);
/* Domain's folder into buf: the recorded one, else its name. */
int repo_domain_folder(const char *gitdir, const char *domain, char *buf,
    size_t len, char *err, size_t errlen);
/* Domain's folder is folder/ from now on (see above). */
int repo_set_folder(const char *gitdir, const char *domain,
    const char *folder, char *err, size_t errlen);

/*
 * Remove the lock files a killed writer left (repo_locks.c): with domain,
 * those of domain/<name> and its worktree, which only its worker writes;
 * with NULL, every one of the repository, when nothing can be writing it.
 * Returns how many were removed, or -1 with err.
 */
int repo_clear_stale_locks(const char *gitdir, const char *domain,
    char *err, size_t errlen);

/*
 * Ensure branch domain/<name> (created from main) and a worktree at wtdir
 * checked out on it, as `git worktree add` makes one (git's `worktree
 * list` and `prune` know it).  Idempotent; repairs a worktree whose
 * directory was removed, or whose checkout was cut short.  Its cost does
 * not grow with the number of worktrees.  It may wait for another
 * process's REPO_WORKTREES_LOCK (held for a few small writes): call it
 * off an event loop.
 */
int repo_worktree(const char *gitdir, const char *wtdir, const char *domain,
    char *err, size_t errlen);
/* The same, but while it waits for the lock it looks at *give_up every
 * few ms and, once true, gives up: -1, err saying so.  (A worker told to
 * stop or cancel its directive meanwhile.) */
int repo_worktree_until(const char *gitdir, const char *wtdir,
    const char *domain, const atomic_bool *give_up, char *err,
    size_t errlen);

/* If the worktree differs from its branch tip, commit that state to
 * refs/masterd/snapshots/<domain>/<label> (not on the branch), then restore
 * the worktree to the tip.  snap gets the snapshot commit id, or "" when
 * the worktree was clean. */
int repo_snapshot_and_clean(const char *wtdir, const char *domain,
    const char *label, char snap[REPO_OID_HEX], char *err, size_t errlen);

/* Stage every change under <domain>/ (new, modified, deleted files) and
 * commit it on the worktree's branch, authored and committed by
 * "<domain> <domain@masterd.invalid>".  REPO_UNCHANGED when there was
 * nothing to commit. */
int repo_commit(const char *wtdir, const char *domain, const char *message,
    char oid[REPO_OID_HEX], char *err, size_t errlen);

/*
 * Give domain/<name> main's current code of its peers: when main's tree
 * outside <domain>/ differs from the branch tip's, a commit on the branch
 * whose parents are the tip and main and whose tree is main's with the
 * tip's <domain>/ subtree (so it never conflicts), with the peers' files
 * that changed checked out in the worktree first (its <domain>/ is not
 * touched).  main_oid gets main's commit and tip the branch tip after,
 * also on REPO_UNCHANGED (main's peers' code is on the branch already).
 */
int repo_refresh_domain(const char *wtdir, const char *domain,
    char main_oid[REPO_OID_HEX], char tip[REPO_OID_HEX], char *err,
    size_t errlen);

/* Unified diff of uncommitted changes under <domain>/, new files included,
 * cut to max bytes (a note says so when cut).  *out is malloc'd. */
int repo_diff(const char *wtdir, const char *domain, size_t max, char **out,
    char *err, size_t errlen);

/* Files under <domain>/ at the branch tip, as an array of paths relative
 * to the domain's folder. */
int repo_files(const char *wtdir, const char *domain, json_t **out,
    char *err, size_t errlen);

/* Merge domain/<name> into main without a checkout: a commit whose parents
 * are main and the domain tip and whose tree is main's with the <domain>/
 * subtree taken from the domain branch.  REPO_UNCHANGED when main already
 * has it. */
int repo_merge_domain(const char *gitdir, const char *domain,
    const char *message, char oid[REPO_OID_HEX], char *err, size_t errlen);

/* The commit main points at, in hex. */
int repo_main_oid(const char *gitdir, char oid[REPO_OID_HEX], char *err,
    size_t errlen);

/* Newest first, at most max commits of ref: [{"id","author","time",
 * "summary","message"}]. */
int repo_log(const char *gitdir, const char *ref, int max, json_t **out,
    char *err, size_t errlen);

/*
 * Read-only, from a commit of the bare repository named by its id (40
 * lowercase hex digits; REPO_MISSING when the repository has no such
 * commit, or the id is none).
 */

/* The commit's tree, every file of every folder, written into dir (files
 * only, no .git, no index anywhere): dir is created 0700 if missing and
 * emptied first (without following a symlink). */
int repo_checkout_commit(const char *gitdir, const char *commit,
    const char *dir, char *err, size_t errlen);

/* Every file of the commit, as an array of paths from the root. */
int repo_commit_files(const char *gitdir, const char *commit, json_t **out,
    char *err, size_t errlen);

/* The first max bytes of the file at path (REPO_MISSING when the commit
 * has none), NUL-terminated in *out (malloc'd); *len bytes read, *size
 * the file's whole size. */
int repo_commit_read(const char *gitdir, const char *commit, const char *path,
    size_t max, char **out, size_t *len, size_t *size, char *err,
    size_t errlen);

#endif
