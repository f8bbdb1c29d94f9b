/*
 * repo_transfer.h — a task's history carried out of masterd as a git pack
 * (issue #18, "hand the result back").
 *
 * masterd packs what a ref reaches (repo_pack_ref) and serves the file
 * over the control socket; masterctl, running as the user, takes the pack
 * into a repository of the user's (repo_pack_receive) and points a branch
 * at the commit (repo_branch_advance), pushes it on to a remote
 * (repo_push_url), or writes the commit's files out (repo_export).  So
 * masterd never writes where the user keeps their work, and the user's
 * rights, not masterd's, decide what may be written.
 *
 * Every call is synchronous and returns 0 on success, -1 with a message in
 * err.
 */
#ifndef COMMON_REPO_TRANSFER_H
#define COMMON_REPO_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/repo.h"

/*
 * A pack of every object ref's commit (a ref name, or a commit's 40 hex
 * digits) reaches that none of haves (an array
 * of hex commit ids, or NULL; ids the repository lacks are ignored)
 * reaches, written to path.  oid gets the commit; *objects how many objects
 * the pack holds.
 */
int repo_pack_ref(const char *gitdir, const char *ref, const json_t *haves,
    const char *path, char oid[REPO_OID_HEX], size_t *objects, char *err,
    size_t errlen);

/* An empty bare repository at gitdir (a scratch one, to take a pack in
 * before it goes on): no commit, no branch. */
int repo_init_bare(const char *gitdir, char *err, size_t errlen);

/* Is to a URL for a remote (scheme://, or scp-like host:path as git
 * reads it), rather than a local path (file:// counts as a path)? */
bool repo_is_url(const char *to);

/* The commits at the tips of the repository's branches (an array of hex
 * ids, for haves), from the repository at path (a work tree or a bare
 * repository). */
int repo_tips(const char *path, json_t **out, char *err, size_t errlen);

/* Take the pack at pack_path into the object store of the repository at
 * path, after checking every object. */
int repo_pack_receive(const char *path, const char *pack_path, char *err,
    size_t errlen);

/*
 * Point refs/heads/<branch> of the repository at path to the commit oid
 * (which the repository must hold): created, or moved forward.  Never
 * forced: refused when the branch has commits oid does not reach, and
 * when the branch is checked out (in the repository or one of its
 * worktrees).  *was gets the branch's commit before ("" when it is new).
 */
int repo_branch_advance(const char *path, const char *branch,
    const char *oid, char was[REPO_OID_HEX], char *err, size_t errlen);

/* Make dir, or check that it is an empty directory: where repo_export may
 * write.  masterctl asks before it fetches a pack it could not use. */
int repo_export_target(const char *dir, char *err, size_t errlen);

/* Write the files of the commit oid of the repository at gitdir into dir,
 * which must be missing or empty (never emptied here). */
int repo_export(const char *gitdir, const char *oid, const char *dir,
    char *err, size_t errlen);

/*
 * Push the commit oid of the repository at gitdir to refs/heads/<branch>
 * of the remote url, never forced (the remote refuses what is not a
 * fast-forward).  Credentials: an SSH agent for ssh:// and scp-like URLs;
 * none for file:// or a path.
 */
int repo_push_url(const char *gitdir, const char *oid, const char *url,
    const char *branch, char *err, size_t errlen);

/*
 * Fetch refs/heads/<branch> of url (a path, file://, or a URL git's
 * transports take: ssh:// and scp-like with an SSH agent, https:// without
 * credentials) into the repository at gitdir, as the same branch; the
 * repository at url is only read.  An empty branch is the one the remote's
 * HEAD names, written back into branch.  oid gets its commit.
 */
int repo_fetch_branch(const char *gitdir, const char *url, char *branch,
    size_t branchlen, char oid[REPO_OID_HEX], char *err, size_t errlen);

#endif
