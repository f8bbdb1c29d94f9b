/*
 * control.c — the control socket: listening (or taking systemd's socket),
 * vetting each peer by its credentials, reading framed requests, answering
 * them, and streaming events to watchers.
 *
 * A client can never stall the loop: reads and writes are asynchronous, a
 * request left half-sent is dropped after a deadline, and a watcher that
 * stops reading is disconnected once its send queue is full.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/masterd/masterd.h"
#include "proto/channel.h"

#define SD_LISTEN_FDS_START 3
#define CLIENT_QUEUE_MAX (8u * 1024u * 1024u)

struct ctl_client {
	TAILQ_ENTRY(ctl_client) entry;
	struct masterd *md;
	struct channel ch;
	uv_timer_t deadline;	/* a half-sent request */
	size_t stalled_pending;
	int handles;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool watching;
	int64_t watch_task;
	char *backup;		/* a registry copy being fetched */
};

static void client_on_msg(struct channel *, json_t *, void *);
static void client_on_bad(struct channel *, const struct frame_error *,
    void *);
static void client_on_close(struct channel *, const char *, void *);

static const struct channel_ops client_ops = {
	.on_msg = client_on_msg,
	.on_bad = client_on_bad,
	.on_close = client_on_close,
};

/* ---------------------------------------------------------- peers */

static bool
user_in_group(uid_t uid, gid_t primary, gid_t group)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[256];
	int n = 256;

	if (primary == group)
		return true;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return false;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++) {
		if (groups[i] == group)
			return true;
	}
	return false;
}

static int
lookup_group(const char *name, gid_t *gid)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || res == NULL)
		return -1;
	*gid = gr.gr_gid;
	return 0;
}

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
		    lookup_group(md->conf->control_group, &group) != 0 ||
		    !user_in_group(cred.uid, cred.gid, group))
			return "permission denied: not masterd's user, root or "
			    "a member of its control group";
	}
	TAILQ_FOREACH(o, &md->clients, entry) {
		if (o != cl && o->uid == cl->uid)
			same++;
	}
	if (same >= (size_t)md->conf->max_clients_per_uid)
		return "too many connections from this user";
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
	prune_forget(md, cl);
	control_backup_set(cl, NULL);
	TAILQ_REMOVE(&md->clients, cl, entry);
	md->nclients--;
	/* The channel's handle is closed already; the timer's follows. */
	cl->handles--;
	uv_close((uv_handle_t *)&cl->deadline, on_client_handle_closed);
}

/*
 * Ticks every half request_timeout: a partial request that has not grown
 * across two ticks has stalled for at least that long.
 */
static void
on_deadline(uv_timer_t *t)
{
	struct ctl_client *cl = t->data;
	size_t pending = frame_decoder_pending(&cl->ch.dec);

	if (pending > 0 && pending == cl->stalled_pending) {
		control_reply(cl, msg_reply_error(-1, ERR_BAD_FRAME,
		    "incomplete request stalled for %lld ms; closing",
		    (long long)cl->md->conf->request_timeout));
		channel_close(&cl->ch, "incomplete request timed out");
		return;
	}
	cl->stalled_pending = pending;
}

void
control_reply(struct ctl_client *cl, json_t *reply)
{
	json_t *re;

	/* -1 means "no id to answer": send "re": null. */
	if ((re = json_object_get(reply, "re")) != NULL &&
	    json_integer_value(re) < 0)
		json_object_set_new(reply, "re", json_null());
	channel_send_new(&cl->ch, reply);
}

const char *
control_backup_get(struct ctl_client *cl)
{
	return cl->backup;
}

void
control_backup_set(struct ctl_client *cl, char *path)
{
	if (cl->backup != NULL) {
		unlink(cl->backup);
		free(cl->backup);
	}
	cl->backup = path;
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
	uv_timer_start(&cl->deadline, on_deadline,
	    (uint64_t)md->conf->request_timeout / 2,
	    (uint64_t)md->conf->request_timeout / 2);
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
	if (lookup_group(md->conf->control_group, &gid) != 0) {
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

static int
bind_socket(struct masterd *md)
{
	const char *path = md->conf->control_socket;
	struct sockaddr_un sa;
	char *dir, *slash;
	mode_t old;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("control: socket path longer than %zu bytes: %s",
		    sizeof(sa.sun_path) - 1, path);
		return -1;
	}
	if ((dir = strdup(path)) != NULL && (slash = strrchr(dir, '/')) &&
	    slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			log_warn("control: mkdir %s: %s", dir, strerror(errno));
	}
	free(dir);
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
