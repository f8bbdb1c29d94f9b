/*
 * client.c — masterctl's side of the control socket: connect to masterd
 * (and make sure it is masterd), send a request, wait for its answer.
 * Events of a watch that arrive while an answer is awaited are kept for
 * the live view, not dropped.  A file masterd holds for the connection
 * (a backup, a pack) is fetched here too, chunk by chunk.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/ctlsock.h"
#include "common/util.h"
#include "daemon/masterctl/ctl.h"

/*
 * Whoever listens at the path must be masterd: root (systemd's socket
 * shows root), our own user, or a member of $MASTERD_CONTROL_GROUP.  A
 * socket someone else put at the path never sees a request.
 */
static int
server_trusted(struct ctl *c)
{
	const char *name = getenv("MASTERD_CONTROL_GROUP"), *why;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	bool member = false;
	gid_t group;

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		fprintf(stderr, "masterctl: cannot read the credentials of "
		    "the server at %s: %s\n", c->socket, strerror(errno));
		return -1;
	}
	if (name != NULL && *name != '\0' &&
	    ctlsock_group_id(name, &group) == 0)
		member = ctlsock_user_in_group(cred.uid, cred.gid, group);
	if ((why = ctlsock_server_untrusted(cred.uid, geteuid(), member)) ==
	    NULL)
		return 0;
	fprintf(stderr, "masterctl: refusing to talk to the server at %s "
	    "(pid %ld, uid %ld): %s; it may not be masterd\n", c->socket,
	    (long)cred.pid, (long)cred.uid, why);
	return -1;
}

/* Why connect() failed, and what to do about it: "is masterd running?"
 * only where it may not be. */
static void
connect_hint(const struct ctl *c, int err)
{
	fprintf(stderr, "masterctl: cannot reach masterd at %s: %s\n",
	    c->socket, strerror(err));
	if (err == EACCES || err == EPERM)
		fprintf(stderr, "masterd is there but this user may not use "
		    "its socket: run as its user, or join the group the "
		    "socket belongs to (MASTERD_CONTROL_GROUP, see "
		    "masterd.conf(5) control_group)\n");
	else
		fprintf(stderr, "is masterd running? start it with "
		    "'systemctl start masterd' or 'masterd -f', or point "
		    "-s / MASTERD_SOCKET at its socket\n");
}

/* 0, -1 when masterd cannot be reached, -2 when the server is not
 * trusted. */
static int
ctl_connect(struct ctl *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(c->socket) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "masterctl: socket path too long: %s\n",
		    c->socket);
		return -1;
	}
	strcpy(sa.sun_path, c->socket);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa,
	    sizeof(sa)) != 0) {
		connect_hint(c, errno);
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return -1;
	}
	if (server_trusted(c) != 0) {
		close(c->fd);
		c->fd = -1;
		return -2;
	}
	return 0;
}

static int
send_msg(struct ctl *c, json_t *msg)
{
	unsigned char *buf;
	size_t len, off = 0;
	ssize_t n;
	int rc = frame_encode(msg, 0, &buf, &len);

	json_decref(msg);
	if (rc != FRAME_OK) {
		fprintf(stderr, "masterctl: request too large\n");
		return -1;
	}
	while (off < len) {
		n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return -1;
		}
		off += (size_t)n;
	}
	free(buf);
	return 0;
}

/* Next frame from masterd; timeout_ms < 0 waits for ever.  A timeout
 * sets *timed_out when asked for, else it is an error said. */
static json_t *
recv_msg(struct ctl *c, int timeout_ms, bool *timed_out)
{
	struct frame_error err;
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	char buf[65536];
	json_t *msg;
	ssize_t n;
	int rc;

	for (;;) {
		rc = frame_decoder_next(&c->dec, &msg, &err);
		if (rc == FRAME_OK)
			return msg;
		if (rc != FRAME_NEED_MORE) {
			fprintf(stderr, "masterctl: bad answer: %s\n", err.text);
			return NULL;
		}
		rc = poll(&p, 1, timeout_ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0) {
			if (timed_out != NULL) {
				*timed_out = true;
				return NULL;
			}
			fprintf(stderr, "masterctl: no answer from masterd "
			    "within %d s\n", timeout_ms / 1000);
			return NULL;
		}
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!c->streaming || n < 0)
				fprintf(stderr, "masterctl: masterd closed the "
				    "connection\n");
			return NULL;
		}
		frame_decoder_feed(&c->dec, buf, (size_t)n);
	}
}

json_t *
next_message(struct ctl *c, int timeout_ms, bool *timed_out)
{
	json_t *e;

	*timed_out = false;
	if (json_array_size(c->pending) > 0) {
		e = json_incref(json_array_get(c->pending, 0));
		json_array_remove(c->pending, 0);
		return e;
	}
	return recv_msg(c, timeout_ms, timed_out);
}

json_t *
request(struct ctl *c, enum msg_type t)
{
	return msg_new(t, ++c->next_id);
}

/* A request the catalogue of this build may not name yet (masterd's is
 * what counts): its type on the wire. */
json_t *
request_named(struct ctl *c, const char *type)
{
	return json_pack("{s:s, s:I}", "type", type, "id", ++c->next_id);
}

/* The answer to request id; events that come first are kept. */
static json_t *
await_reply(struct ctl *c, json_int_t id)
{
	const json_t *re;
	json_t *r;

	while ((r = recv_msg(c, REPLY_TIMEOUT_MS, NULL)) != NULL) {
		re = json_object_get(r, "re");
		if (json_is_null(re) || json_integer_value(re) == id)
			return r;
		if (json_is_string(json_object_get(r, "event"))) {
			if (c->pending == NULL)
				c->pending = json_array();
			json_array_append(c->pending, r);
		}
		json_decref(r);
	}
	return NULL;
}

void
print_json(const json_t *r, bool compact)
{
	json_dumpf(r, stdout, compact ? JSON_COMPACT : JSON_INDENT(2) |
	    JSON_SORT_KEYS);
	putchar('\n');
	fflush(stdout);
}

/* Send req, wait for its answer.  Returns the answer only when ok. */
json_t *
call(struct ctl *c, json_t *req, int *status)
{
	json_int_t id = msg_id(req);
	json_t *r, *e;
	int err;

	/* Connect only now: usage errors are reported without a daemon. */
	if (c->fd < 0 && (err = ctl_connect(c)) != 0) {
		json_decref(req);
		*status = err == -2 ? EXIT_FAILED : EXIT_UNREACHABLE;
		return NULL;
	}
	if (send_msg(c, req) == 0) {
		r = await_reply(c, id);
	} else {
		/* A refused peer is told why before it is closed. */
		err = errno;
		if ((r = recv_msg(c, 1000, NULL)) == NULL)
			fprintf(stderr, "masterctl: send: %s\n", strerror(err));
	}
	if (r == NULL) {
		*status = EXIT_UNREACHABLE;
		return NULL;
	}
	if (json_is_true(json_object_get(r, "ok"))) {
		*status = EXIT_OK;
		return r;
	}
	e = json_object_get(r, "error");
	if (c->json)
		print_json(r, false);
	else
		fprintf(stderr, "masterctl: %s (%s)\n",
		    json_string_value(json_object_get(e, "message")),
		    json_string_value(json_object_get(e, "code")));
	json_decref(r);
	*status = EXIT_FAILED;
	return NULL;
}

/* The common case: print the whole answer as JSON or with `human`. */
int
call_and_print(struct ctl *c, json_t *req, void (*human)(json_t *))
{
	int status;
	json_t *r = call(c, req, &status);

	if (r == NULL)
		return status;
	if (c->json || human == NULL)
		print_json(r, false);
	else
		human(r);
	json_decref(r);
	return EXIT_OK;
}

/* Tell masterd the copy may go; nothing to show. */
void
call_and_drop(struct ctl *c, enum msg_type t)
{
	json_t *req = request(c, t), *r;
	int status;

	json_object_set_new(req, "done", json_true());
	if ((r = call(c, req, &status)) != NULL)
		json_decref(r);
}

int
fetch_file(struct ctl *c, enum msg_type type, int fd, json_int_t size)
{
	json_int_t off = 0;
	json_t *req, *r;
	unsigned char *buf;
	const char *data;
	ssize_t n;
	int status;

	while (off < size) {
		req = request(c, type);
		json_object_set_new(req, "offset", json_integer(off));
		if ((r = call(c, req, &status)) == NULL)
			return status;
		data = json_string_value(json_object_get(r, "data"));
		buf = xmalloc(data ? strlen(data) : 1);
		n = data ? base64_decode(data, strlen(data), buf) : -1;
		if (n <= 0 || write_all(fd, buf, (size_t)n) == -1) {
			fprintf(stderr, "masterctl: %s: bad chunk at %lld\n",
			    msg_spec(type)->name, (long long)off);
			free(buf);
			json_decref(r);
			return EXIT_FAILED;
		}
		off += n;
		free(buf);
		json_decref(r);
	}
	return EXIT_OK;
}
