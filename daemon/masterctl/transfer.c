/*
 * transfer.c — a task's result handed back: `export` writes the files of
 * its main into a new directory, `push` puts main on a branch of the
 * user's repository (a path) or a remote (a URL).  masterd sends main as
 * a git pack (the `pack` request, fetched in chunks); masterctl, running
 * as the user, takes it in with libgit2 (common/repo_transfer.c), so what
 * is written is written with the user's rights, never masterd's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/repo.h"
#include "common/repo_transfer.h"
#include "common/util.h"
#include "daemon/masterctl/ctl.h"

/* A scratch directory for the pack and, for a URL or an export, a bare
 * repository to take it in. */
struct scratch {
	char dir[4096];
	char pack[4200];
	char gitdir[4200];
};

static int
scratch_make(struct scratch *s)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(s->dir, sizeof(s->dir), "%s/masterctl-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(s->dir) == NULL) {
		fprintf(stderr, "masterctl: %s: %s\n", s->dir, strerror(errno));
		return -1;
	}
	snprintf(s->pack, sizeof(s->pack), "%s/main.pack", s->dir);
	snprintf(s->gitdir, sizeof(s->gitdir), "%s/repo.git", s->dir);
	return 0;
}

static void
scratch_remove(struct scratch *s)
{
	if (s->dir[0] != '\0')
		(void)remove_tree(s->dir);
}

/* What masterd answered for the pack: main's commit and its size. */
struct pack_info {
	char commit[REPO_OID_HEX];
	json_int_t size, objects;
};

/* Ask for task's main as a pack (against have, or none) into s->pack. */
static int
fetch_pack(struct ctl *c, json_int_t task, json_t *have, struct scratch *s,
    struct pack_info *pi)
{
	json_t *r, *req = request(c, CTL_PACK);
	const char *commit;
	int fd, status;

	json_object_set_new(req, "task", json_integer(task));
	json_object_set_new(req, "have", have != NULL ? json_incref(have) :
	    json_array());
	if ((r = call(c, req, &status)) == NULL)
		return status;
	commit = json_string_value(json_object_get(r, "commit"));
	snprintf(pi->commit, sizeof(pi->commit), "%s", commit ? commit : "");
	pi->size = json_integer_value(json_object_get(r, "size"));
	pi->objects = json_integer_value(json_object_get(r, "objects"));
	json_decref(r);
	if ((fd = open(s->pack, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0) {
		fprintf(stderr, "masterctl: %s: %s\n", s->pack,
		    strerror(errno));
		call_and_drop(c, CTL_PACK);
		return EXIT_FAILED;
	}
	status = fetch_file(c, CTL_PACK, fd, pi->size);
	if (close(fd) != 0 && status == EXIT_OK)
		status = EXIT_FAILED;
	call_and_drop(c, CTL_PACK);
	return status;
}

/* Into the bare scratch repository: for an export or a URL. */
static int
take_into_scratch(struct scratch *s, const struct pack_info *pi)
{
	char err[512];

	if (repo_init_bare(s->gitdir, err, sizeof(err)) != 0 ||
	    repo_pack_receive(s->gitdir, s->pack, err, sizeof(err)) != 0) {
		fprintf(stderr, "masterctl: %s\n", err);
		return EXIT_FAILED;
	}
	(void)pi;
	return EXIT_OK;
}

static void
short_id(const char *oid, char *buf, size_t len)
{
	snprintf(buf, len, "%.12s", oid);
}

int
cmd_export(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	struct scratch s = { 0 };
	struct pack_info pi = { 0 };
	json_int_t task;
	char err[512], id[16];
	int status = EXIT_FAILED;

	(void)o; (void)argc;
	if (parse_id(argv[0], "task", &task) != 0)
		return EXIT_USAGE;
	if (repo_export_target(argv[1], err, sizeof(err)) != 0) {
		fprintf(stderr, "masterctl: export: %s\n", err);
		return EXIT_FAILED;
	}
	if (scratch_make(&s) != 0)
		return EXIT_FAILED;
	repo_global_init();
	if ((status = fetch_pack(c, task, NULL, &s, &pi)) != EXIT_OK ||
	    (status = take_into_scratch(&s, &pi)) != EXIT_OK)
		goto out;
	if (repo_export(s.gitdir, pi.commit, argv[1], err, sizeof(err)) != 0) {
		fprintf(stderr, "masterctl: export: %s\n", err);
		status = EXIT_FAILED;
		goto out;
	}
	short_id(pi.commit, id, sizeof(id));
	if (c->json) {
		json_t *j = json_pack("{s:I, s:s, s:s}", "task", task,
		    "commit", pi.commit, "dir", argv[1]);

		print_json(j, false);
		json_decref(j);
	} else
		printf("task %lld: main (%s) exported into %s\n",
		    (long long)task, id, argv[1]);
	status = EXIT_OK;
out:
	scratch_remove(&s);
	repo_global_shutdown();
	return status;
}

static int
push_local(struct ctl *c, json_int_t task, const char *path,
    const char *branch, struct scratch *s, struct pack_info *pi,
    char was[REPO_OID_HEX])
{
	json_t *tips = NULL;
	char err[512];
	int status;

	if (repo_tips(path, &tips, err, sizeof(err)) != 0) {
		fprintf(stderr, "masterctl: push: %s\n", err);
		return EXIT_FAILED;
	}
	status = fetch_pack(c, task, tips, s, pi);
	json_decref(tips);
	if (status != EXIT_OK)
		return status;
	if ((pi->objects > 0 &&
	    repo_pack_receive(path, s->pack, err, sizeof(err)) != 0) ||
	    repo_branch_advance(path, branch, pi->commit, was, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "masterctl: push: %s\n", err);
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

static int
push_remote(struct ctl *c, json_int_t task, const char *url,
    const char *branch, struct scratch *s, struct pack_info *pi)
{
	char err[512];
	int status;

	/* The remote's history is unknown here: the whole of main goes. */
	if ((status = fetch_pack(c, task, NULL, s, pi)) != EXIT_OK ||
	    (status = take_into_scratch(s, pi)) != EXIT_OK)
		return status;
	if (repo_push_url(s->gitdir, pi->commit, url, branch, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "masterctl: push: %s\n", err);
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

int
cmd_push(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	struct scratch s = { 0 };
	struct pack_info pi = { 0 };
	char branch[256], was[REPO_OID_HEX] = "", id[16];
	const char *to = o->to;
	json_int_t task;
	int status;

	(void)argc;
	if (parse_id(argv[0], "task", &task) != 0)
		return EXIT_USAGE;
	if (to == NULL) {
		fprintf(stderr, "masterctl: push: give --to PATH or URL\n");
		return EXIT_USAGE;
	}
	if (strncmp(to, "file://", 7) == 0)
		to += 7;
	if (o->branch != NULL)
		snprintf(branch, sizeof(branch), "%s", o->branch);
	else
		snprintf(branch, sizeof(branch), "masterd/task-%lld",
		    (long long)task);
	if (scratch_make(&s) != 0)
		return EXIT_FAILED;
	repo_global_init();
	status = repo_is_url(to) ?
	    push_remote(c, task, to, branch, &s, &pi) :
	    push_local(c, task, to, branch, &s, &pi, was);
	repo_global_shutdown();
	scratch_remove(&s);
	if (status != EXIT_OK)
		return status;
	short_id(pi.commit, id, sizeof(id));
	if (c->json) {
		json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:s?}", "task",
		    task, "commit", pi.commit, "to", to, "branch", branch,
		    "was", was[0] ? was : NULL);

		print_json(j, false);
		json_decref(j);
	} else if (strcmp(was, pi.commit) == 0)
		printf("task %lld: %s branch %s already at main (%s)\n",
		    (long long)task, to, branch, id);
	else
		printf("task %lld: main (%s) pushed to %s, branch %s%s\n",
		    (long long)task, id, to, branch, was[0] ? "" : " (new)");
	return EXIT_OK;
}

/* ------------------------------------------------------------ import */

#define IMPORT_CHUNK	(768 * 1024)	/* 1 MiB once in base64 */

/* The pack at path sent up with `import`, in order; token gets what
 * masterd named it. */
static int
send_pack(struct ctl *c, const char *path, char *token, size_t len)
{
	unsigned char *buf = xmalloc(IMPORT_CHUNK);
	json_int_t off = 0;
	json_t *req, *r;
	char *text;
	ssize_t n;
	int fd, status = EXIT_FAILED;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "masterctl: %s: %s\n", path, strerror(errno));
		goto out;
	}
	while ((n = read(fd, buf, IMPORT_CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "masterctl: %s: %s\n", path,
			    strerror(errno));
			goto out;
		}
		text = base64_encode(buf, (size_t)n);
		req = request(c, CTL_IMPORT);
		json_object_set_new(req, "offset", json_integer(off));
		json_object_set_new(req, "data", json_string(text));
		free(text);
		if ((r = call(c, req, &status)) == NULL)
			goto out;
		snprintf(token, len, "%s", json_string_value(json_object_get(r,
		    "token")) ? json_string_value(json_object_get(r,
		    "token")) : "");
		json_decref(r);
		off += n;
	}
	status = EXIT_OK;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return status;
}

/* A path as the user would find it again: absolute. */
static void
origin_of(const char *from, char *buf, size_t len)
{
	char *abs;

	if (!repo_is_url(from) && strncmp(from, "file://", 7) != 0 &&
	    (abs = realpath(from, NULL)) != NULL) {
		snprintf(buf, len, "%s", abs);
		free(abs);
	} else
		snprintf(buf, len, "%s", from);
}

int
submit_import(struct ctl *c, const struct opts *o, json_t *req)
{
	struct scratch s = { 0 };
	char err[512], branch[256] = "", ref[300], oid[REPO_OID_HEX];
	char token[64] = "", origin[4096];
	size_t objects = 0;
	int status = EXIT_FAILED;

	if (o->branch != NULL)
		snprintf(branch, sizeof(branch), "%s", o->branch);
	origin_of(o->repo, origin, sizeof(origin));
	if (scratch_make(&s) != 0)
		return EXIT_FAILED;
	repo_global_init();
	/* Read as the user, into a scratch repository: theirs is only
	 * read, whatever masterd may or may not reach. */
	if (repo_init_bare(s.gitdir, err, sizeof(err)) != 0 ||
	    repo_fetch_branch(s.gitdir, origin, branch, sizeof(branch), oid,
	    err, sizeof(err)) != 0) {
		fprintf(stderr, "masterctl: submit --repo: %s\n", err);
		goto out;
	}
	snprintf(ref, sizeof(ref), "refs/heads/%s", branch);
	if (repo_pack_ref(s.gitdir, ref, NULL, s.pack, oid, &objects, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "masterctl: submit --repo: %s\n", err);
		goto out;
	}
	if ((status = send_pack(c, s.pack, token, sizeof(token))) !=
	    EXIT_OK)
		goto out;
	json_object_set_new(req, "import", json_pack("{s:s, s:s, s:s, s:s}",
	    "token", token, "origin", origin, "branch", branch, "commit",
	    oid));
	if (!c->json)
		fprintf(stderr, "masterctl: %s, branch %s at %.12s: %zu "
		    "objects sent\n", origin, branch, oid, objects);
out:
	scratch_remove(&s);
	repo_global_shutdown();
	return status;
}
