/*
 * masterd.h — the daemon context, and the calls the daemon's files make to
 * each other.
 *
 * `struct masterd` is the one piece of mutable daemon state: every handler
 * reaches the loop, the configuration, the registry, the control clients
 * and the children through it.
 */
#ifndef DAEMON_MASTERD_H
#define DAEMON_MASTERD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <jansson.h>
#include <uv.h>

#include "common/config.h"
#include "common/version.h"
#include "daemon/masterd/sandbox.h"
#include "proto/msg.h"

#include "common/version.h"

struct registry;
struct ctl_client;
struct child;
struct task;

TAILQ_HEAD(child_list, child);
TAILQ_HEAD(client_list, ctl_client);
TAILQ_HEAD(task_list, task);

struct masterd {
	uv_loop_t *loop;
	struct masterd_conf *conf;
	char *conf_path;		/* -c FILE, re-read on SIGHUP */
	char *child_conf;		/* the accepted copy children read */
	struct registry *reg;
	struct checkpoint *checkpoint;	/* its WAL's, off the loop */
	struct sandbox_verdict sandbox;	/* of the running configuration */
	char *setup_problem;		/* a key missing (setup.c): tasks
					 * wait paused with it; NULL: none */

	/* control socket (control.c) */
	uv_pipe_t listener;
	bool listening;
	bool socket_activated;
	bool socket_bound;		/* we created the socket file: remove it */
	struct client_list clients;
	size_t nclients;
	size_t request_bytes;	/* buffers of half-received requests */

	/* children (supervise.c) */
	struct child_list children;
	size_t nchildren;
	struct child **child_index;	/* by task and name (child_find) */
	size_t child_index_cap;		/* its buckets, a power of two */
	int64_t calls_hint;	/* children busy, counted at the last full
				 * dispatch pass plus those given work since
				 * (task_dispatch.c) */
	char *child_path;
	void (*children_stopped)(struct masterd *);	/* stop-all pending */

	/* tasks (task.c): every task, oldest first, and the deferred step */
	struct task_list tasks;
	uv_idle_t step;
	bool step_ready;
	uv_timer_t integrate;		/* integration runs due after merges */
	uv_timer_t wake;		/* a deferred directive or a probe due */
	double wake_at;			/* when wake fires (epoch s), 0: idle */

	/* providers (provider.c): the breakers of those down */
	struct providers *providers;
	uint64_t provider_wait_ms;	/* children's waits for a provider
					 * that ended, summed (metrics.c) */

	/* systemd (notify.c) */
	char *notify_path;
	int notify_fd;			/* the one datagram socket, or -1 */
	uv_timer_t watchdog;
	bool watchdog_on;
	uv_timer_t status_soon;		/* one STATUS= for many changes */
	bool status_soon_on;

	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t stop_timer;
	uv_timer_t tick;		/* housekeeping, every few seconds */
	struct backups *backups;	/* backup.c; NULL until the first */
	struct hooks *hooks;		/* hooks.c; NULL until the first */
	struct pack_jobs *packs;	/* pack.c; NULL until the first */
	struct push_jobs *pushes;	/* pushto.c; NULL until the first */
	struct import_jobs *imports;	/* import.c; NULL until the first */
	struct prune *prune;		/* prune.c; NULL until the first */

	int lock_fd;
	int verbose;			/* -v: debug logging across reloads */
	bool foreground;
	bool stopping;
	int exit_code;
	uint64_t started_ms;
	json_int_t next_id;		/* ids of messages we originate */
};

/* main.c */
void masterd_stop(struct masterd *, const char *why);
json_int_t masterd_next_id(struct masterd *);

/* control.c */
int control_start(struct masterd *);
void control_close(struct masterd *);
/* Steals reply.  One over max_frame is logged and answered too_large,
 * naming its size and the limit. */
void control_reply(struct ctl_client *, json_t *reply);
/* The same, its longest strings cut (with a marker) to fit max_frame
 * first: for answers whose text may be shortened for people. */
void control_reply_cut(struct ctl_client *, json_t *reply);
void control_watch(struct ctl_client *, int64_t task);
void control_broadcast(struct masterd *, const json_t *event, int64_t task);
void control_remove_socket(struct masterd *);
/* The file a client fetches in chunks (a `backup` copy, a `pack`), one
 * per connection: set takes the malloc'd path (NULL: none) and removes
 * the file it replaces; the connection's end removes it too. */
const char *control_file_get(struct ctl_client *);
void control_file_set(struct ctl_client *, char *path);

/* pack.c: the `pack` request's pack of a task's main, made on the
 * thread pool; answered when made.  pack_forget: cl is going away. */
void pack_request(struct masterd *, struct ctl_client *, json_int_t id,
    int64_t task, const json_t *have);
void pack_forget(struct masterd *, struct ctl_client *);
void pack_free(struct masterd *);

/* import.c: the `import` request, a chunk of a pack masterctl sends up
 * for `submit --repo` ({offset, data}: answered with the token and the
 * size so far).  import_submit: a submit with "import", the task's
 * repository built from the connection's pack on the thread pool, then
 * the task; answered then.  import_forget: cl is going away. */
#define IMPORT_MAX_BYTES	((json_int_t)4 << 30)	/* 4 GiB */
void import_request(struct masterd *, struct ctl_client *, json_int_t id,
    const json_t *req);
void import_submit(struct masterd *, struct ctl_client *, json_int_t id,
    const json_t *req);
void import_forget(struct masterd *, struct ctl_client *);
void import_free(struct masterd *);

/* pushto.c: [task] push_to, after an integration run passed on commit. */
struct task;
void pushto_passed(struct task *, const char *commit);
void pushto_free(struct masterd *);

/* hooks.c: the [notify] command on a task's moments.  hooks_event looks
 * at every event; hooks_drain calls drained once no command runs (those
 * queued are dropped); hooks_free after the loop has closed. */
void hooks_event(struct masterd *, int64_t task, enum event, int64_t seq,
    const json_t *data);
void hooks_drain(struct masterd *, void (*drained)(struct masterd *));
void hooks_free(struct masterd *);

/* backup.c: the copy for a `backup` request, made in slices of loop
 * turns; the reply ({"size"}, the file set on the connection) comes when
 * it is done.  forget: cl's connection is closing. */
void backup_request(struct masterd *, struct ctl_client *, json_int_t id);
void backup_forget(struct masterd *, struct ctl_client *);
void backup_free(struct masterd *);

/* checkpoint.c: the registry at path checkpointed on the thread pool
 * (init after registry_open, which it opens a second connection to;
 * free before registry_close). */
void checkpoint_init(struct masterd *, const char *path);
void checkpoint_free(struct masterd *);

/* prune.c: the retention policy.  request: `prune` (answered when
 * done); tick: a batch of expired progress events, at housekeeping. */
void prune_request(struct masterd *, struct ctl_client *, json_int_t id,
    int64_t finished_days);
void prune_tick(struct masterd *);
void prune_forget(struct masterd *, struct ctl_client *);
void prune_free(struct masterd *);

/* commands.c */
void command_dispatch(struct masterd *, struct ctl_client *,
    const struct msg_spec *, const json_t *req);

/* events.c: store an event and send it to watchers; steals data. */
void event_emit(struct masterd *, int64_t task, const char *domain,
    enum event, json_t *data);
/* The `event` message of a stored or new event, in the control socket's
 * JSON (ctljson); data is copied. */
json_t *event_message(struct masterd *, int64_t task, const char *domain,
    const char *event, double ts, int64_t seq, const json_t *data);

/* main.c: re-read the configuration as SIGHUP does.  0 and what changed
 * ("section.key" names, *changed); -1 and why in *error (malloc'd), the
 * running configuration kept. */
int masterd_reload(struct masterd *, json_t **changed, char **error);

/* confdiff.c: the "section.key" names that differ between two INI files
 * (added, removed or changed); never their values. */
json_t *confdiff_files(const char *old, const char *now);

/* ctljson.c: v (stolen) as the control socket shows it: ISO 8601 times,
 * tokens_in/tokens_out; a new value. */
json_t *ctljson_export(json_t *v);

/* metrics.c: the `metrics` request's text (Prometheus text format,
 * malloc'd), and the totals the STATUS= line says. */
struct metrics_totals {
	size_t tasks_running;		/* unfinished, not paused */
	size_t tasks_paused;
	size_t domains_working;		/* children with work in hand */
	size_t domains_fatal;
	size_t providers_down;
	int64_t tokens;			/* every task, planners included */
	double cost;
};
char *metrics_text(struct masterd *);
void metrics_totals(struct masterd *, struct metrics_totals *);

/* notify.c */
void notify_init(struct masterd *);
void notify_send(struct masterd *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void notify_status(struct masterd *);
void notify_status_soon(struct masterd *);
void notify_close(struct masterd *);

#endif
