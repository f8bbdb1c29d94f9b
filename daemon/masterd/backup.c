/*
 * backup.c — the `backup` request's copy of the registry, made in slices
 * between the loop's other work: each turn copies pages for at most
 * BACKUP_SLICE_NS, then the loop goes on to its timers, signals and
 * peers.  Requests that arrive while a copy is being made wait for that
 * copy (it is consistent as of its last step, after each of them arrived)
 * and each gets its own name for it (a hard link), which its connection
 * deletes as before.  A copy nobody waits for any more is abandoned.
 *
 * Serving the copy in chunks is commands.c's part; the file a connection
 * holds is control.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/registry.h"

/* Pages per sqlite3_backup_step (4 KiB each by default), and how long
 * one loop turn may spend copying. */
#define BACKUP_PAGES	64
#define BACKUP_SLICE_NS	(5 * 1000 * 1000)

struct backup_wait {
	TAILQ_ENTRY(backup_wait) entry;
	struct ctl_client *cl;
	json_int_t id;
};
TAILQ_HEAD(backup_waits, backup_wait);

struct backups {
	struct masterd *md;
	uv_idle_t turn;			/* active while a copy is made */
	struct registry_copy *copy;	/* NULL: none being made */
	char *path;
	uint64_t started_ns;
	struct backup_waits waits;
};

static char *
copy_name(struct masterd *md)
{
	return xasprintf("%s/backup-%ld-%lld.db", md->conf->state_dir,
	    (long)getpid(), (long long)masterd_next_id(md));
}

static void
answer_failed(struct masterd *md, struct backup_wait *w, const char *why)
{
	control_reply(w->cl, msg_reply_error(w->id, ERR_STORAGE, "%s", why));
}

/* The copy at path answers request id: cl's connection owns the name
 * from now on. */
static void
answer_ok(struct ctl_client *cl, json_int_t id, char *path, off_t size)
{
	json_t *r = msg_reply_ok(id);

	control_file_set(cl, path);
	json_object_set_new(r, "size", json_integer((json_int_t)size));
	control_reply(cl, r);
}

/* Every waiter gets the copy: the first its file, the others a link. */
static void
hand_out(struct backups *b)
{
	struct backup_wait *w;
	struct stat st;
	char *name, why[512];

	if (stat(b->path, &st) != 0) {
		snprintf(why, sizeof(why), "backup: %s: %s", b->path,
		    strerror(errno));
		TAILQ_FOREACH(w, &b->waits, entry)
			answer_failed(b->md, w, why);
		unlink(b->path);
		return;
	}
	TAILQ_FOREACH(w, &b->waits, entry) {
		if (TAILQ_NEXT(w, entry) == NULL) {
			/* The last takes the file itself. */
			answer_ok(w->cl, w->id, b->path, st.st_size);
			b->path = NULL;
			break;
		}
		name = copy_name(b->md);
		if (link(b->path, name) != 0) {
			snprintf(why, sizeof(why), "backup: cannot link %s: "
			    "%s", name, strerror(errno));
			answer_failed(b->md, w, why);
			free(name);
			continue;
		}
		answer_ok(w->cl, w->id, name, st.st_size);
	}
}

static void
clear_waits(struct backups *b)
{
	struct backup_wait *w;

	while ((w = TAILQ_FIRST(&b->waits)) != NULL) {
		TAILQ_REMOVE(&b->waits, w, entry);
		free(w);
	}
}

/* The copy is over: done (rc 1) or failed (-1). */
static void
copy_over(struct backups *b, int rc)
{
	struct masterd *md = b->md;
	struct backup_wait *w;
	char why[512];

	uv_idle_stop(&b->turn);
	if (registry_copy_end(b->copy, rc == 1) != 0)
		rc = -1;
	b->copy = NULL;
	if (rc == 1) {
		log_info("backup: registry copied in %llu ms for %s",
		    (unsigned long long)((uv_hrtime() - b->started_ns) /
		    1000000), TAILQ_NEXT(TAILQ_FIRST(&b->waits), entry) ?
		    "several requests" : "one request");
		hand_out(b);
	} else {
		snprintf(why, sizeof(why), "registry: %s",
		    registry_errmsg(md->reg));
		log_err("backup: %s", why);
		TAILQ_FOREACH(w, &b->waits, entry)
			answer_failed(md, w, why);
	}
	clear_waits(b);
	free(b->path);
	b->path = NULL;
}

/* One loop turn's share of the copy. */
static void
on_turn(uv_idle_t *h)
{
	struct backups *b = h->data;
	uint64_t t0 = uv_hrtime();
	int rc;

	do
		rc = registry_copy_step(b->copy, BACKUP_PAGES);
	while (rc == 0 && uv_hrtime() - t0 < BACKUP_SLICE_NS);
	if (rc != 0)
		copy_over(b, rc);
}

static struct backups *
backups_of(struct masterd *md)
{
	struct backups *b = md->backups;

	if (b != NULL)
		return b;
	b = xcalloc(1, sizeof(*b));
	b->md = md;
	TAILQ_INIT(&b->waits);
	uv_idle_init(md->loop, &b->turn);
	b->turn.data = b;
	md->backups = b;
	return b;
}

void
backup_request(struct masterd *md, struct ctl_client *cl, json_int_t id)
{
	struct backups *b = backups_of(md);
	struct backup_wait *w;

	if (md->stopping) {
		control_reply(cl, msg_reply_error(id, ERR_STORAGE, "backup: "
		    "masterd is stopping"));
		return;
	}
	if (b->copy == NULL) {
		b->path = copy_name(md);
		if ((b->copy = registry_copy_begin(md->reg, b->path)) ==
		    NULL) {
			control_reply(cl, msg_reply_error(id, ERR_STORAGE,
			    "registry: %s", registry_errmsg(md->reg)));
			free(b->path);
			b->path = NULL;
			return;
		}
		b->started_ns = uv_hrtime();
		uv_idle_start(&b->turn, on_turn);
	}
	w = xcalloc(1, sizeof(*w));
	w->cl = cl;
	w->id = id;
	TAILQ_INSERT_TAIL(&b->waits, w, entry);
}

void
backup_forget(struct masterd *md, struct ctl_client *cl)
{
	struct backups *b = md->backups;
	struct backup_wait *w, *next;

	if (b == NULL)
		return;
	for (w = TAILQ_FIRST(&b->waits); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->cl != cl)
			continue;
		TAILQ_REMOVE(&b->waits, w, entry);
		free(w);
	}
	if (b->copy != NULL && TAILQ_EMPTY(&b->waits)) {
		log_info("backup: abandoned, nobody waits for it");
		uv_idle_stop(&b->turn);
		registry_copy_end(b->copy, false);
		b->copy = NULL;
		free(b->path);
		b->path = NULL;
	}
}

void
backup_free(struct masterd *md)
{
	struct backups *b = md->backups;

	if (b == NULL)
		return;
	if (b->copy != NULL)
		registry_copy_end(b->copy, false);
	clear_waits(b);
	free(b->path);
	free(b);
	md->backups = NULL;
}
