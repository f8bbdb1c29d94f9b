/*
 * checkpoint.c — the registry's WAL checkpoints, off masterd's loop.
 *
 * SQLite copies the WAL back into the database on the committing
 * connection once the WAL holds 1,000 pages, and with synchronous = FULL
 * that syncs the database file on the loop: 60 to 120 ms on a shared
 * disk (docs/performance.md), with every peer and timer waiting.  Here
 * the registry reports the WAL's size after each commit instead
 * (registry_on_wal); past CHECKPOINT_PAGES a PASSIVE checkpoint runs on
 * libuv's thread pool through a connection of its own.  PASSIVE copies
 * what no reader still needs and never waits for the loop's writes, nor
 * makes them wait.  One runs at a time; the WAL starts again from its
 * beginning once one has copied all of it before the next commit.
 *
 * A burst of commits can outrun the pool: each checkpoint ends with new
 * frames behind it, the WAL never starts again and its file grows.  Past
 * CATCH_UP_PAGES the pool's is not started again, and once none runs
 * there, one runs on the loop right after the commit, as SQLite's own would: no write can come in
 * between, so it copies everything and the WAL starts again.  Should the
 * pool's connection fail, checkpoints go back to SQLite's own on the
 * loop: slower turns, never a WAL without end.
 *
 * The pool's connection is opened with the registry, so the descriptors
 * masterd holds do not change while it runs.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/registry.h"

/* SQLite's own mark: 1,000 pages of 4 KiB.  A build may set another
 * (-DCHECKPOINT_PAGES=4) to have every run checkpoint, as under valgrind. */
#ifndef CHECKPOINT_PAGES
#define CHECKPOINT_PAGES	1000
#endif
#define CATCH_UP_PAGES		(4 * CHECKPOINT_PAGES)

struct checkpoint {
	struct masterd *md;
	uv_work_t work;
	struct registry_ckpt *conn;	/* the pool's */
	bool running;
	bool again;		/* the mark was passed again meanwhile */
	/* Filled on the pool. */
	int rc;			/* registry_ckpt_run's */
	int wal_pages, copied;
	char err[256];
};

/* On the pool, which runs one at a time: nothing of the loop's. */
static void
checkpoint_run(uv_work_t *w)
{
	struct checkpoint *ck = w->data;

	ck->err[0] = '\0';
	ck->rc = registry_ckpt_run(ck->conn, &ck->wal_pages, &ck->copied,
	    ck->err, sizeof(ck->err));
}

static void checkpoint_start(struct checkpoint *);

static void
checkpoint_done(uv_work_t *w, int status)
{
	struct checkpoint *ck = w->data;
	struct masterd *md = ck->md;

	ck->running = false;
	if (status == 0 && ck->rc == 0) {
		log_debug("registry: checkpoint: %d of %d WAL pages copied",
		    ck->copied, ck->wal_pages);
	} else if (status == 0 && ck->rc == 1) {
		/* Another checkpoint held it: another process's last
		 * connection to the database closing. */
		log_debug("registry: checkpoint: busy, later");
	} else {
		log_warn("registry: checkpoint off the loop failed (%s); "
		    "SQLite's own checkpoints on the loop take over",
		    status != 0 ? uv_strerror(status) : ck->err);
		registry_on_wal(md->reg, NULL, NULL);
		return;
	}
	if (ck->again && !md->stopping)
		checkpoint_start(ck);
}

static void
checkpoint_start(struct checkpoint *ck)
{
	int err;

	ck->again = false;
	ck->work.data = ck;
	if ((err = uv_queue_work(ck->md->loop, &ck->work, checkpoint_run,
	    checkpoint_done)) != 0) {
		log_warn("registry: checkpoint: %s; SQLite's own "
		    "checkpoints on the loop take over", uv_strerror(err));
		registry_on_wal(ck->md->reg, NULL, NULL);
		return;
	}
	ck->running = true;
}

/* After each commit, on the loop: no SQLite call here. */
static void
on_wal(void *arg, int pages)
{
	struct checkpoint *ck = arg;
	int wal, copied;

	if (pages < CHECKPOINT_PAGES)
		return;
	if (pages >= CATCH_UP_PAGES) {
		/* The pool's, if one runs, is the last: then the loop's. */
		if (ck->running)
			ck->again = false;
		else if (registry_checkpoint(ck->md->reg, &wal, &copied) == 0)
			log_debug("registry: checkpoint on the loop, the WAL at "
			    "%d pages: %d copied", wal, copied);
		return;
	}
	if (ck->running)
		ck->again = true;
	else if (!ck->md->stopping)
		checkpoint_start(ck);
}

void
checkpoint_init(struct masterd *md, const char *path)
{
	struct checkpoint *ck;
	struct registry_ckpt *conn;
	char err[256];

	if ((conn = registry_ckpt_open(path, err, sizeof(err))) == NULL) {
		log_warn("registry: no connection for checkpoints off the "
		    "loop (%s): SQLite's own checkpoint on the loop", err);
		return;
	}
	ck = xcalloc(1, sizeof(*ck));
	ck->md = md;
	ck->conn = conn;
	md->checkpoint = ck;
	registry_on_wal(md->reg, on_wal, ck);
}

/* After the loop has run its last: no checkpoint is running.  The pool's
 * connection goes before the registry's, whose close (the last) then
 * copies the whole WAL back and removes it. */
void
checkpoint_free(struct masterd *md)
{
	struct checkpoint *ck = md->checkpoint;

	if (ck == NULL)
		return;
	if (md->reg != NULL)
		registry_on_wal(md->reg, NULL, NULL);
	registry_ckpt_close(ck->conn);
	free(ck);
	md->checkpoint = NULL;
}
