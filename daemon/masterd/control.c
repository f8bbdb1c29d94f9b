/*
 * control.c — the control socket: listening (or taking systemd's socket),
 * vetting each peer by its credentials, reading framed requests, answering
 * them, and streaming events to watchers.
 *
 * A client can never stall the loop nor pin its memory: reads and writes
 * are asynchronous; a request must arrive whole within request_max_time of
 * its first byte and may not stall for request_timeout; the buffers of
 * half-received requests of all clients together stay under
 * request_memory_max (the client that would pass it is refused); a client
 * silent for idle_timeout is closed unless it watches events; and a
 * watcher that stops reading is disconnected once its send queue is full.
 * Root is never held to the per-user connection cap, so a user's idle
 * connections cannot lock it out.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/ctlsock.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "proto/channel.h"

#define SD_LISTEN_FDS_START 3
#define CLIENT_QUEUE_MAX (8u * 1024u * 1024u)

struct ctl_client {
	TAILQ_ENTRY(ctl_client) entry;
	struct masterd *md;
	struct channel ch;
	uv_timer_t deadline;	/* ticks to check the limits below */
	size_t stalled_pending;
	uint64_t request_since;	/* ms: first byte of a half-sent request,
				 * or 0 */
	uint64_t active_at;	/* ms: last byte read or reply sent */
	size_t held;		/* counted in md->request_bytes */
	int handles;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool watching;
	unsigned unanswered;	/* requests whose reply is still to come
				 * (a backup, a prune): not idle */
	int64_t watch_task;
	char *file;		/* a file being fetched in chunks (a backup
				 * copy, a pack); removed when released */
};

static void client_on_msg(struct channel *, json_t *, void *);
static void client_on_bad(struct channel *, const struct frame_error *,
    void *);
static void client_on_close(struct channel *, const char *, void *);
static void client_on_data(struct channel *, void *);

static const struct channel_ops client_ops = {
	.on_msg = client_on_msg,
	.on_bad = client_on_bad,
	.on_close = client_on_close,
	.on_data = client_on_data,
};

/* ---------------------------------------------------------- peers */

/* NULL when the peer may talk to us, else why not. */
static const char *
peer_refused(struct masterd *md, struct ctl_client *cl)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uv_os_fd_t fd;
	gid_t group;
	size_t same = 0;
	struct ctl_client *o;

	if (uv_fileno((uv_handle_t *)channel_stream(&cl->ch), &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return "cannot read peer credentials";
	cl->uid = cred.uid;
	cl->gid = cred.gid;
	cl->pid = cred.pid;
	if (cred.uid != 0 && cred.uid != geteuid()) {
		if (md->conf->control_group == NULL ||
		    ctlsock_group_id(md->conf->control_group, &group) != 0 ||
		    !ctlsock_user_in_group(cred.uid, cred.gid, group))
			return "permission denied: not masterd's user, root or "
			    "a member of its control group";
	}
	if (cred.uid == 0)
		return NULL;	/* root is never locked out */
	TAILQ_FOREACH(o, &md->clients, entry) {
		if (o != cl && o->uid == cl->uid)
			same++;
	}
	if (same >= (size_t)md->conf->max_clients_per_uid)
		return "too many connections from this user "
		    "(max_clients_per_uid)";
	return NULL;
}

/* ---------------------------------------------------------- clients */

static void
on_client_handle_closed(uv_handle_t *h)
{
	struct ctl_client *cl = h->data;

	if (--cl->handles == 0)
		free(cl);
}

static void
client_on_close(struct channel *ch, const char *why, void *arg)
{
	struct ctl_client *cl = arg;
	struct masterd *md = cl->md;

	(void)ch;
	if (why != NULL)
		log_info("control client pid %ld uid %ld dropped: %s",
		    (long)cl->pid, (long)cl->uid, why);
	backup_forget(md, cl);
	pack_forget(md, cl);
	import_forget(md, cl);
	prune_forget(md, cl);
	control_file_set(cl, NULL);
	md->request_bytes -= cl->held;
	cl->held = 0;
	TAILQ_REMOVE(&md->clients, cl, entry);
	md->nclients--;
	/* The channel's handle is closed already; the timer's follows. */
	cl->handles--;
	uv_close((uv_handle_t *)&cl->deadline, on_client_handle_closed);
}

/* Answer why, then close: the client learns which limit it hit. */
static void
client_refuse(struct ctl_client *cl, const char *why, const char *fmt,
    long long n)
{
	control_reply(cl, msg_reply_error(-1, ERR_BAD_FRAME, fmt, n));
	channel_close(&cl->ch, why);
}

/*
 * Ticks every half of the shortest of request_timeout, request_max_time
 * and idle_timeout: a partial request that has not grown across two ticks
 * has stalled for at least request_timeout; one begun request_max_time ago
 * is late however it grows; a client silent for idle_timeout that does
 * not watch events and waits for no answer is idle.
 */
static void
on_deadline(uv_timer_t *t)
{
	struct ctl_client *cl = t->data;
	const struct masterd_conf *conf = cl->md->conf;
	size_t pending = frame_decoder_pending(&cl->ch.dec);
	uint64_t now = uv_now(cl->md->loop);

	if (pending > 0 && pending == cl->stalled_pending) {
		client_refuse(cl, "incomplete request timed out",
		    "incomplete request stalled for %lld ms (request_timeout); "
		    "closing", (long long)conf->request_timeout);
		return;
	}
	cl->stalled_pending = pending;
	if (cl->request_since != 0 &&
	    now - cl->request_since >= (uint64_t)conf->request_max_time) {
		client_refuse(cl, "request not complete in request_max_time",
		    "request not complete %lld ms after its first byte "
		    "(request_max_time); closing",
		    (long long)conf->request_max_time);
		return;
	}
	if (conf->idle_timeout > 0 && !cl->watching && pending == 0 &&
	    cl->unanswered == 0 &&
	    now - cl->active_at >= (uint64_t)conf->idle_timeout) {
		client_refuse(cl, "idle", "no request for %lld ms "
		    "(idle_timeout); closing", (long long)conf->idle_timeout);
		return;
	}
}

static uint64_t
tick_ms(const struct masterd_conf *conf)
{
	int64_t ms = conf->request_timeout;

	if (conf->request_max_time < ms)
		ms = conf->request_max_time;
	if (conf->idle_timeout > 0 && conf->idle_timeout < ms)
		ms = conf->idle_timeout;
	return ms / 2 > 0 ? (uint64_t)ms / 2 : 1;
}

/*
 * After each read: a request begun is timed from its first byte, and its
 * buffer counts against request_memory_max until it is whole.  The buffer
 * grows with what arrives (never to the announced length at once), so the
 * count is what the client has really made us hold.
 */
static void
client_on_data(struct channel *ch, void *arg)
{
	struct ctl_client *cl = arg;
	struct masterd *md = cl->md;
	size_t pending = frame_decoder_pending(&ch->dec);
	size_t held = pending > 0 ? ch->dec.cap : 0;
	size_t limit = (size_t)md->conf->request_memory_max;

	cl->active_at = uv_now(md->loop);
	if (pending == 0)
		cl->request_since = 0;
	else if (cl->request_since == 0)
		cl->request_since = cl->active_at;
	/* One request up to max_frame always fits. */
	if (limit < (size_t)md->conf->max_frame * 2)
		limit = (size_t)md->conf->max_frame * 2;
	md->request_bytes = md->request_bytes - cl->held + held;
	cl->held = held;
	if (held > 0 && md->request_bytes > limit) {
		log_warn("control: client pid %ld uid %ld refused: half-received "
		    "requests would hold %zu bytes, over request_memory_max "
		    "%zu", (long)cl->pid, (long)cl->uid, md->request_bytes,
		    limit);
		client_refuse(cl, "over request_memory_max", "masterd is "
		    "holding too many half-received requests (over "
		    "request_memory_max, %lld bytes); closing",
		    (long long)limit);
	}
}

void
control_reply(struct ctl_client *cl, json_t *reply)
{
	json_t *re = json_object_get(reply, "re"), *err;
	json_int_t id = json_is_integer(re) ? json_integer_value(re) : -1;

	/* -1 means "no id to answer": send "re": null. */
	if (re != NULL && id < 0)
		json_object_set_new(reply, "re", json_null());
	cl->active_at = uv_now(cl->md->loop);
	if (cl->unanswered > 0)
		cl->unanswered--;
	/* Too big to send: the client still gets an answer, not silence. */
	if (channel_send(&cl->ch, reply) == CHANNEL_ETOOBIG) {
		log_warn("control client pid %ld: answer to request %lld "
		    "refused: %zu bytes, over max_frame (%zu bytes)",
		    (long)cl->pid, (long long)id, cl->ch.refused_size,
		    cl->ch.max_frame);
		err = msg_reply_error(id, ERR_TOO_LARGE, "answer of %zu bytes "
		    "is over max_frame (%zu bytes)", cl->ch.refused_size,
		    cl->ch.max_frame);
		if (id < 0)
			json_object_set_new(err, "re", json_null());
		channel_send_new(&cl->ch, err);
	}
	json_decref(reply);
}

void
control_reply_cut(struct ctl_client *cl, json_t *reply)
{
	size_t size = frame_encoded_size(reply);
	json_t *copy;

	/* Cut a copy: the answer may share values with the daemon's state. */
	if (size > cl->ch.max_frame && (copy = json_deep_copy(reply)) != NULL) {
		log_warn("control client pid %ld: answer of %zu bytes is over "
		    "max_frame (%zu bytes): its longest strings cut",
		    (long)cl->pid, size, cl->ch.max_frame);
		json_decref(reply);
		reply = copy;
		frame_cut_to_fit(reply, cl->ch.max_frame);
	}
	control_reply(cl, reply);
}

const char *
control_file_get(struct ctl_client *cl)
{
	return cl->file;
}

void
control_file_set(struct ctl_client *cl, char *path)
{
	if (cl->file != NULL) {
		unlink(cl->file);
		free(cl->file);
	}
	cl->file = path;
}

void
control_watch(struct ctl_client *cl, int64_t task)
{
	cl->watching = true;
	cl->watch_task = task;
}

void
control_broadcast(struct masterd *md, const json_t *event, int64_t task)
{
	struct ctl_client *cl;

	TAILQ_FOREACH(cl, &md->clients, entry) {
		if (!cl->watching)
			continue;
		if (cl->watch_task != 0 && cl->watch_task != task)
			continue;
		channel_send(&cl->ch, event);
	}
}

static void
client_on_msg(struct channel *ch, json_t *msg, void *arg)
{
	struct ctl_client *cl = arg;
	const struct msg_spec *spec;
	char err[256];

	(void)ch;
	cl->request_since = 0;	/* whole; what follows is a new one */
	cl->unanswered++;
	if (msg_validate(msg, CHAN_CONTROL, PEER_CLIENT, &spec, err,
	    sizeof(err)) != 0) {
		control_reply(cl, msg_reply_error(msg_id(msg),
		    json_is_string(json_object_get(msg, "type")) &&
		    strstr(err, "unknown message type") ? ERR_UNKNOWN :
		    ERR_BAD_REQUEST, "%s", err));
		return;
	}
	command_dispatch(cl->md, cl, spec, msg);
}

static void
client_on_bad(struct channel *ch, const struct frame_error *err, void *arg)
{
	struct ctl_client *cl = arg;

	(void)ch;
	cl->request_since = 0;
	control_reply(cl, msg_reply_error(-1, ERR_BAD_FRAME, "%s%s", err->text,
	    frame_status_fatal(err->code) ? "; closing" : ""));
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct masterd *md = server->data;
	struct ctl_client *cl;
	const char *why;

	if (status != 0) {
		log_warn("control socket: %s", uv_strerror(status));
		return;
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		return;
	cl->md = md;
	cl->handles = 2;
	channel_init(md->loop, &cl->ch, (size_t)md->conf->max_frame,
	    &client_ops, cl);
	/* Watchers that stop reading are cut off early, but any one reply
	 * up to max_frame must still fit. */
	cl->ch.max_queued = cl->ch.max_frame + FRAME_HEADER_SIZE;
	if (cl->ch.max_queued < CLIENT_QUEUE_MAX)
		cl->ch.max_queued = CLIENT_QUEUE_MAX;
	uv_timer_init(md->loop, &cl->deadline);
	cl->deadline.data = cl;
	TAILQ_INSERT_TAIL(&md->clients, cl, entry);
	md->nclients++;
	if (uv_accept(server, channel_stream(&cl->ch)) != 0) {
		channel_close(&cl->ch, "accept failed");
		return;
	}
	if ((why = peer_refused(md, cl)) != NULL) {
		log_warn("control: refused pid %ld uid %ld: %s", (long)cl->pid,
		    (long)cl->uid, why);
		control_reply(cl, msg_reply_error(-1, ERR_REFUSED, "%s", why));
		channel_close(&cl->ch, NULL);
		return;
	}
	cl->active_at = uv_now(md->loop);
	uv_timer_start(&cl->deadline, on_deadline, tick_ms(md->conf),
	    tick_ms(md->conf));
	channel_start(&cl->ch);
}

/* ---------------------------------------------------------- listener */

/*
 * systemd passes the socket as fd 3 when LISTEN_PID is us.  Every passed
 * fd is made close-on-exec so that no child inherits one.
 */
static int
take_activated_socket(struct masterd *md)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	struct stat st;
	int n, rc;

	if (pid == NULL || fds == NULL || atol(pid) != (long)getpid() ||
	    (n = atoi(fds)) < 1)
		return 0;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (n > 1)
		log_warn("control: systemd passed %d sockets; using the first",
		    n);
	if (fstat(SD_LISTEN_FDS_START, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		log_err("control: fd %d from systemd is not a socket",
		    SD_LISTEN_FDS_START);
		return -1;
	}
	if ((rc = uv_pipe_open(&md->listener, SD_LISTEN_FDS_START)) != 0) {
		log_err("control: cannot use the socket from systemd: %s",
		    uv_strerror(rc));
		return -1;
	}
	md->socket_activated = true;
	log_info("control: using the socket passed by systemd");
	return 1;
}

/* Refuse to steal a live daemon's socket; clear a stale one. */
static int
clear_stale_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc == 0) {
		log_err("control: another masterd is listening on %s", path);
		return -1;
	}
	if (errno == ENOENT)
		return 0;
	if (unlink(path) != 0 && errno != ENOENT) {
		log_err("control: cannot remove stale %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
set_socket_access(struct masterd *md, const char *path)
{
	gid_t gid;

	if (md->conf->control_group == NULL)
		return 0;
	if (ctlsock_group_id(md->conf->control_group, &gid) != 0) {
		log_err("control: unknown group '%s'", md->conf->control_group);
		return -1;
	}
	if (chown(path, (uid_t)-1, gid) != 0 || chmod(path, 0660) != 0) {
		log_err("control: cannot give %s to group %s: %s", path,
		    md->conf->control_group, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The socket's directory, made if missing (0700, or 0755 when a control
 * group must reach the socket), must be one nobody else can write: else
 * another user could put a socket of theirs at our path, or remove ours.
 */
static int
check_socket_dir(struct masterd *md, const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	gid_t group = CTLSOCK_NO_GROUP;
	const char *why;
	struct stat st;
	int rc = -1;

	if (slash == NULL)
		snprintf(dir, strlen(dir) + 1, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (mkdir(dir, md->conf->control_group ? 0755 : 0700) != 0 &&
	    errno != EEXIST)
		log_warn("control: mkdir %s: %s", dir, strerror(errno));
	if (md->conf->control_group != NULL &&
	    ctlsock_group_id(md->conf->control_group, &group) != 0)
		group = CTLSOCK_NO_GROUP;
	if (lstat(dir, &st) != 0) {
		log_err("control: socket directory %s: %s", dir,
		    strerror(errno));
		goto out;
	}
	if ((why = ctlsock_dir_unsafe(&st, geteuid(), group)) != NULL) {
		log_err("control: refusing to put the socket in %s: %s (others "
		    "could replace it); set control_socket to a path in a "
		    "directory only masterd's user can write", dir, why);
		goto out;
	}
	rc = 0;
out:
	free(dir);
	return rc;
}

static int
bind_socket(struct masterd *md)
{
	const char *path = md->conf->control_socket;
	struct sockaddr_un sa;
	mode_t old;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("control: socket path longer than %zu bytes: %s",
		    sizeof(sa.sun_path) - 1, path);
		return -1;
	}
	if (check_socket_dir(md, path) != 0)
		return -1;
	if (clear_stale_socket(path) != 0)
		return -1;
	old = umask(0177);	/* the socket is born 0600 */
	rc = uv_pipe_bind(&md->listener, path);
	umask(old);
	if (rc != 0) {
		log_err("control: bind %s: %s", path, uv_strerror(rc));
		return -1;
	}
	md->socket_bound = true;
	return set_socket_access(md, path);
}

int
control_start(struct masterd *md)
{
	int rc;

	uv_pipe_init(md->loop, &md->listener, 0);
	md->listener.data = md;
	md->listening = true;
	if ((rc = take_activated_socket(md)) < 0)
		return -1;
	if (rc == 0 && bind_socket(md) != 0)
		return -1;
	if ((rc = uv_listen((uv_stream_t *)&md->listener, 128,
	    on_connection)) != 0) {
		log_err("control: listen: %s", uv_strerror(rc));
		return -1;
	}
	log_info("control: listening on %s", md->socket_activated ?
	    "the systemd socket" : md->conf->control_socket);
	return 0;
}

/* Only a socket we bound is ours to remove: never a live daemon's, never
 * systemd's. */
void
control_remove_socket(struct masterd *md)
{
	if (md->socket_bound)
		unlink(md->conf->control_socket);
	md->socket_bound = false;
}

void
control_close(struct masterd *md)
{
	struct ctl_client *cl, *next;

	if (md->listening) {
		uv_close((uv_handle_t *)&md->listener, NULL);
		md->listening = false;
		control_remove_socket(md);
	}
	for (cl = TAILQ_FIRST(&md->clients); cl != NULL; cl = next) {
		next = TAILQ_NEXT(cl, entry);
		channel_close(&cl->ch, NULL);
	}
}
