/*
 * masterctl.c — the control client of masterd, as smtpctl is to smtpd.
 *
 * One subcommand per control request, human output by default and the raw
 * answer with --json.  Exit status: 0 ok, 1 refused or failed, 2 usage,
 * 3 masterd unreachable, 4 the task that submit --wait followed paused.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/config.h"
#include "common/ctlsock.h"
#include "common/termsafe.h"
#include "common/util.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/vocab.h"

#define EXIT_OK		0
#define EXIT_FAILED	1
#define EXIT_USAGE	2
#define EXIT_UNREACHABLE 3
#define EXIT_PAUSED	4	/* submit --wait: the task paused */

#define REPLY_TIMEOUT_MS 30000

struct ctl {
	const char *socket;
	bool json;
	int fd;
	struct frame_decoder dec;
	json_int_t next_id;
	bool streaming;		/* watching: an EOF ends the stream quietly */
};

struct command {
	const char *name;
	const char *args;
	int min_args, max_args;
	int (*run)(struct ctl *, int argc, char **argv);
	const char *help;
};

static const struct command *find_command(const char *);
static void usage(FILE *);

/* ---------------------------------------------------------- transport */

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
		fprintf(stderr, "masterctl: cannot reach masterd at %s: %s\n"
		    "is masterd running? start it with 'systemctl start "
		    "masterd' or 'masterd -f', or point -s / MASTERD_SOCKET "
		    "at its socket\n", c->socket, strerror(errno));
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

/* Next message from masterd; timeout_ms < 0 waits for ever. */
static json_t *
recv_msg(struct ctl *c, int timeout_ms)
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

static json_t *
request(struct ctl *c, enum msg_type t)
{
	return msg_new(t, ++c->next_id);
}

/* The answer to request id; events of an earlier watch are skipped. */
static json_t *
await_reply(struct ctl *c, json_int_t id)
{
	const json_t *re;
	json_t *r;

	while ((r = recv_msg(c, REPLY_TIMEOUT_MS)) != NULL) {
		re = json_object_get(r, "re");
		if (json_is_null(re) || json_integer_value(re) == id)
			return r;
		json_decref(r);
	}
	return NULL;
}

/* Send req, wait for its answer.  Returns the answer only when ok. */
static json_t *
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
		if ((r = recv_msg(c, 1000)) == NULL)
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
		json_dumpf(r, stdout, JSON_INDENT(2)), putchar('\n');
	else
		fprintf(stderr, "masterctl: %s (%s)\n",
		    json_string_value(json_object_get(e, "message")),
		    json_string_value(json_object_get(e, "code")));
	json_decref(r);
	*status = EXIT_FAILED;
	return NULL;
}

/* The common case: print the whole answer as JSON or with `human`. */
static int
call_and_print(struct ctl *c, json_t *req, void (*human)(json_t *))
{
	int status;
	json_t *r = call(c, req, &status);

	if (r == NULL)
		return status;
	if (c->json || human == NULL) {
		json_dumpf(r, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
	} else {
		human(r);
	}
	json_decref(r);
	return EXIT_OK;
}

/* ---------------------------------------------------------- output */

static const char *
str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "-";
}

static long long
num(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void
print_when(const json_t *o, const char *k)
{
	time_t t = (time_t)json_number_value(json_object_get(o, k));
	struct tm tm;
	char buf[32];

	localtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	fputs(buf, stdout);
}

static void
print_children(const json_t *children)
{
	const json_t *c;
	size_t i;

	if (json_array_size(children) == 0)
		return;
	printf("\n%-6s %-16s %-9s %-8s %-8s %s\n", "TASK", "DOMAIN", "STATE",
	    "PID", "RESTARTS", "REASON");
	json_array_foreach(children, i, c)
		printf("%-6lld %-16s %-9s %-8lld %-8lld %s\n", num(c, "task"),
		    str(c, "domain"), str(c, "state"), num(c, "pid"),
		    num(c, "restarts"), json_string_value(json_object_get(c,
		    "reason")) ? str(c, "reason") : "");
}

/* "sandbox: strict (...)", or off and where it was said. */
static void
print_sandbox(const json_t *s)
{
	const json_t *note;
	size_t i;

	if (!json_is_object(s))
		return;
	if (strcmp(str(s, "mode"), "off") == 0) {
		printf("sandbox: OFF, checks run unconfined (said in %s)\n",
		    str(s, "said"));
		return;
	}
	if (json_is_false(json_object_get(s, "available")))
		printf("sandbox: %s, NOT available\n", str(s, "mode"));
	else
		printf("sandbox: %s (%s)\n", str(s, "mode"), str(s, "summary"));
	json_array_foreach(json_object_get(s, "notes"), i, note)
		printf("  note: %s\n", json_string_value(note));
}

/* "since HH:MM:SS" and "at HH:MM:SS" of epoch seconds. */
static void
print_clock(const char *word, double t)
{
	time_t s = (time_t)t;
	struct tm tm;
	char buf[16];

	localtime_r(&s, &tm);
	strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
	printf("%s %s", word, buf);
}

/* One line per provider held down: since when, the next try, why. */
static void
print_providers(const json_t *providers)
{
	const json_t *p;
	size_t i;

	json_array_foreach(providers, i, p) {
		printf("provider %s (%s): %s", str(p, "provider"),
		    str(p, "endpoint"), strcmp(str(p, "state"), "probing") == 0 ?
		    "DOWN, probing now" : "DOWN");
		print_clock(", since", json_number_value(json_object_get(p,
		    "since")));
		print_clock(", next try at", json_number_value(
		    json_object_get(p, "next_try")));
		printf(" (%lld probe(s) failed): %s\n", num(p, "failures"),
		    str(p, "reason"));
	}
}

/* Each domain (or planner) of a task that waits for its provider. */
static void
print_waiting(const json_t *waiting)
{
	const json_t *w;
	size_t i;

	if (json_array_size(waiting) > 0)
		printf("\n");
	json_array_foreach(waiting, i, w) {
		printf("%s: waiting for provider %s", str(w, "domain"),
		    str(w, "provider"));
		print_clock(" since", json_number_value(json_object_get(w,
		    "since")));
		print_clock(", next try at", json_number_value(
		    json_object_get(w, "next_try")));
		printf(": %s\n", str(w, "reason"));
	}
}

static void
human_status(json_t *r)
{
	const json_t *reg = json_object_get(r, "registry");

	printf("masterd %s (protocol %lld), pid %lld, up %llds%s\n",
	    str(r, "version"), num(r, "protocol"), num(r, "pid"),
	    num(r, "uptime_ms") / 1000,
	    json_is_true(json_object_get(r, "stopping")) ? ", STOPPING" : "");
	printf("state %s, socket %s, %lld client(s)\n", str(r, "state_dir"),
	    str(r, "socket"), num(r, "clients"));
	print_sandbox(json_object_get(r, "sandbox"));
	printf("tasks %lld (%lld active), domains %lld, interface versions "
	    "%lld, open directives %lld\n", num(reg, "tasks"),
	    num(reg, "tasks_active"), num(reg, "domains"),
	    num(reg, "interfaces"), num(reg, "directives_open"));
	print_providers(json_object_get(r, "providers"));
	print_children(json_object_get(r, "children"));
}

static void
print_task_line(const json_t *t)
{
	printf("%-6lld %-12s %-6s ", num(t, "id"), str(t, "state"),
	    json_is_true(json_object_get(t, "paused")) ? "yes" : "no");
	print_when(t, "created");
	printf("  %.60s\n", str(t, "text"));
}

static void
human_tasks(json_t *r)
{
	const json_t *t;
	size_t i;

	printf("%-6s %-12s %-6s %-19s  %s\n", "ID", "STATE", "PAUSED",
	    "CREATED", "TEXT");
	json_array_foreach(json_object_get(r, "tasks"), i, t)
		print_task_line(t);
}

static void
print_domains(const json_t *doms)
{
	const json_t *d, *ch;
	size_t i;

	printf("%-6s %-16s %-9s %-8s %-8s %s\n", "TASK", "DOMAIN", "STATE",
	    "PID", "RESTARTS", "REASON");
	json_array_foreach(doms, i, d) {
		ch = json_object_get(d, "child");
		printf("%-6lld %-16s %-9s %-8lld %-8lld %s\n", num(d, "task"),
		    str(d, "name"), ch ? str(ch, "state") : str(d, "state"),
		    ch ? num(ch, "pid") : 0, num(d, "restarts"),
		    json_string_value(json_object_get(ch ? ch : d, "reason")) ?
		    str(ch ? ch : d, "reason") : "");
	}
}

static void
human_domains(json_t *r)
{
	print_domains(json_object_get(r, "domains"));
}

/* A schema on one line, cut at 200 bytes. */
static void
print_schema(const char *indent, const json_t *schema)
{
	char *text = json_dumps(schema, JSON_COMPACT | JSON_SORT_KEYS |
	    JSON_ENCODE_ANY);

	if (text == NULL)
		return;
	printf("%sschema: %.200s%s\n", indent, text,
	    strlen(text) > 200 ? "..." : "");
	free(text);
}

/* An entry's contract (and a consumer's contract test), under it. */
static void
print_contract(const char *indent, const json_t *e)
{
	if (json_is_string(json_object_get(e, "signature")))
		printf("%ssignature: %s\n", indent, str(e, "signature"));
	if (json_object_get(e, "schema") != NULL)
		print_schema(indent, json_object_get(e, "schema"));
	if (json_is_string(json_object_get(e, "test")))
		printf("%stest: %s\n", indent, str(e, "test"));
}

static void
print_entries(const char *title, const json_t *list)
{
	const json_t *e;
	size_t i;

	if (json_array_size(list) == 0)
		return;
	printf("  %s:\n", title);
	json_array_foreach(list, i, e) {
		printf("    %-9s %-32s", str(e, "kind"), str(e, "name"));
		if (json_is_string(json_object_get(e, "from")))
			printf(" from %s", str(e, "from"));
		if (json_is_true(json_object_get(e, "unresolved")))
			printf("  UNRESOLVED");
		putchar('\n');
		print_contract("      ", e);
	}
}

static const char *
version_kind(const json_t *declared)
{
	return json_is_true(declared) ? "declared" : "implemented";
}

static void
print_interface(const json_t *iface)
{
	const json_t *doc = json_object_get(iface, "document");

	printf("%s v%lld, %s (hash %s, ", str(iface, "domain"),
	    num(iface, "version"), version_kind(json_object_get(iface,
	    "declared")), str(iface, "hash"));
	print_when(iface, "created");
	printf(")\n");
	if (json_is_string(json_object_get(doc, "summary")))
		printf("  %s\n", str(doc, "summary"));
	print_entries("provides", json_object_get(doc, "provides"));
	print_entries("consumes", json_object_get(doc, "consumes"));
}

static void
human_interface(json_t *r)
{
	print_interface(json_object_get(r, "interface"));
}

/* Is member k of a and b the same (both absent counts)? */
static bool
same_member(const json_t *a, const json_t *b, const char *k)
{
	const json_t *x = json_object_get(a, k), *y = json_object_get(b, k);

	return x == NULL ? y == NULL : y != NULL && json_equal(x, y);
}

/* A text member that changed, old then new ("none" for absent). */
static void
print_change(const char *what, const json_t *o, const json_t *n)
{
	const json_t *a = json_object_get(o, what), *b = json_object_get(n,
	    what);

	printf("      %s was: %s\n", what, a ? json_string_value(a) : "none");
	printf("      %s now: %s\n", what, b ? json_string_value(b) : "none");
}

/* What a changed entry changed: each part, old and new. */
static void
print_changed(const json_t *c)
{
	const json_t *o = json_object_get(c, "old"), *n = json_object_get(c,
	    "new");
	bool sig = !same_member(o, n, "signature");
	bool schema = !same_member(o, n, "schema");
	bool from = !same_member(o, n, "from");
	bool test = !same_member(o, n, "test");

	if (sig) {
		print_change("signature", o, n);
		if (!json_is_true(json_object_get(c, "contract")) &&
		    !schema && !from)
			printf("      (formatting only: the same contract)\n");
	}
	if (schema)
		printf("      schema changed\n");
	if (from)
		print_change("from", o, n);
	if (test)
		print_change("test", o, n);
	if (!same_member(o, n, "doc"))
		printf("      %s\n", sig || schema || from || test ?
		    "doc changed" : "doc only");
}

static void
print_diff_side(const char *side, const json_t *d)
{
	const json_t *e;
	size_t i;

	json_array_foreach(json_object_get(d, "added"), i, e) {
		printf("  + %-8s %-9s %s\n", side, str(e, "kind"),
		    str(e, "name"));
		print_contract("      ", e);
	}
	json_array_foreach(json_object_get(d, "removed"), i, e) {
		printf("  - %-8s %-9s %s\n", side, str(e, "kind"),
		    str(e, "name"));
		print_contract("      ", e);
	}
	json_array_foreach(json_object_get(d, "changed"), i, e) {
		printf("  ~ %-8s %-9s %s\n", side, str(e, "kind"),
		    str(e, "name"));
		print_changed(e);
	}
}

static void
human_diff(json_t *r)
{
	const json_t *d = json_object_get(r, "diff");

	printf("%s: v%lld (%s) -> v%lld (%s)\n", str(r, "domain"),
	    num(r, "from"), version_kind(json_object_get(r, "from_declared")),
	    num(r, "to"), version_kind(json_object_get(r, "to_declared")));
	print_diff_side("provides", json_object_get(d, "provides"));
	print_diff_side("consumes", json_object_get(d, "consumes"));
}

static void
print_unresolved(const json_t *set)
{
	const json_t *u;
	size_t i;

	if (json_array_size(set) == 0) {
		printf("\nunresolved: none\n");
		return;
	}
	printf("\nUNRESOLVED\n");
	json_array_foreach(set, i, u)
		printf("  %-9s %s `%s`: consumer %s, provider %s\n",
		    str(u, "problem"), str(u, "kind"), str(u, "name"),
		    str(u, "consumer"), str(u, "provider"));
}

static void
human_interfaces(json_t *r)
{
	const json_t *i;
	size_t n;

	if (json_array_size(json_object_get(r, "interfaces")) == 0 &&
	    json_array_size(json_object_get(r, "declared")) == 0) {
		printf("task %lld: no interface published yet\n",
		    num(r, "task"));
		return;
	}
	printf("task %lld\n", num(r, "task"));
	json_array_foreach(json_object_get(r, "interfaces"), n, i)
		print_interface(i);
	if (json_array_size(json_object_get(r, "declared")) > 0)
		printf("\ndeclared, not yet implemented:\n");
	json_array_foreach(json_object_get(r, "declared"), n, i)
		print_interface(i);
	print_unresolved(json_object_get(r, "unresolved"));
}

static void
print_scoreboard(const json_t *score)
{
	const json_t *d;
	size_t i;

	if (json_array_size(score) == 0)
		return;
	printf("\n%-16s %6s %8s %11s %9s %10s %10s %9s %7s  %s\n", "DOMAIN",
	    "ROUNDS", "ACCEPTED", "CHECKS PASS", "DIR OK/KO", "TOKENS IN",
	    "TOKENS OUT", "COST", "TIME s", "MODEL");
	json_array_foreach(score, i, d) {
		char pass[16] = "-", dirs[24];

		if (num(d, "checks_run") > 0)
			snprintf(pass, sizeof(pass), "%lld/%lld",
			    num(d, "checks_passed"), num(d, "checks_run"));
		snprintf(dirs, sizeof(dirs), "%lld/%lld",
		    num(d, "directives_done"), num(d, "directives_failed"));
		/* The model of the domain's latest round: one short word. */
		printf("%-16s %6lld %8lld %11s %9s %10lld %10lld %9.4f %7.1f  "
		    "%.32s\n", str(d, "domain"), num(d, "rounds"),
		    num(d, "accepted"), pass, dirs, num(d, "tokens_in"),
		    num(d, "tokens_out"), json_number_value(json_object_get(d,
		    "cost")), (double)num(d, "duration_ms") / 1000.0,
		    str(d, "model"));
	}
}

/* The last lines of a command's output, indented. */
static void
print_output_tail(const char *output, int lines)
{
	const char *end = output + strlen(output), *p;

	while (end > output && end[-1] == '\n')
		end--;
	for (p = end; p > output; p--)
		if (p[-1] == '\n' && --lines == 0)
			break;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		printf("      | %.*s\n", (int)n, p);
		p += n + 1;
	}
}

static void
print_run(const json_t *run, bool detail)
{
	const json_t *x;
	size_t i, failed = 0;

	printf("  %-5lld %.7s  %-9s %7.1f", num(run, "id"), str(run, "commit"),
	    str(run, "state"), (double)num(run, "duration_ms") / 1000.0);
	json_array_foreach(json_object_get(run, "results"), i, x)
		if (!json_is_true(json_object_get(x, "passed")))
			printf("%s%s (exit %lld)", failed++ ? ", " : "  ",
			    str(x, "command"), num(x, "exit_status"));
	if (json_is_string(json_object_get(run, "error")))
		printf("  %s", str(run, "error"));
	putchar('\n');
	if (!detail)
		return;
	json_array_foreach(json_object_get(run, "results"), i, x)
		if (!json_is_true(json_object_get(x, "passed")) &&
		    json_is_string(json_object_get(x, "output")))
			print_output_tail(str(x, "output"), 6);
}

static void
print_integration(const json_t *g)
{
	const json_t *run, *c;
	size_t i;

	if (!json_is_object(g) || strcmp(str(g, "status"), "none") == 0)
		return;
	printf("\nINTEGRATION %s, main %.7s", str(g, "status"), str(g, "main"));
	if (num(g, "failures") > 0)
		printf(", %lld of %lld attempts to fix used",
		    num(g, "failures"), num(g, "attempts"));
	printf("\n");
	json_array_foreach(json_object_get(g, "checks"), i, c)
		printf("  %-9s %s\n", str(c, "kind"), str(c, "command"));
	if (json_array_size(json_object_get(g, "runs")) == 0)
		return;
	printf("  %-5s %-7s  %-9s %7s  %s\n", "RUN", "COMMIT", "STATE",
	    "TIME s", "FAILED");
	json_array_foreach(json_object_get(g, "runs"), i, run)
		print_run(run, i == 0);
}

static void
human_task(json_t *r)
{
	const json_t *t = json_object_get(r, "task"), *d;
	size_t i;

	printf("task %lld: %s%s\n  %s\n\n", num(t, "id"), str(t, "state"),
	    json_is_true(json_object_get(t, "paused")) ? " (paused)" : "",
	    str(t, "text"));
	if (json_is_string(json_object_get(t, "reason")))
		printf("  reason: %s\n\n", str(t, "reason"));
	print_domains(json_object_get(r, "domains"));
	print_waiting(json_object_get(r, "waiting"));
	print_scoreboard(json_object_get(r, "scoreboard"));
	print_integration(json_object_get(r, "integration"));
	if (json_array_size(json_object_get(r, "directives")) > 0) {
		printf("\n%-6s %-16s %-11s %-9s %s\n", "ID", "DOMAIN", "SOURCE",
		    "STATE", "TEXT");
		json_array_foreach(json_object_get(r, "directives"), i, d) {
			/* Its first line: a retry's note follows a blank
			 * one. */
			printf("%-6lld %-16s %-11s %-9s %.*s\n", num(d, "id"),
			    str(d, "domain"), str(d, "source"),
			    str(d, "state"), (int)(strcspn(str(d, "text"),
			    "\n") < 50 ? strcspn(str(d, "text"), "\n") : 50),
			    str(d, "text"));
			/* Why it did not get done, where it did not. */
			if (json_is_string(json_object_get(d, "reason")) &&
			    strcmp(str(d, "state"),
			    directive_state_names[DIRECTIVE_DONE]) != 0)
				printf("%-6s %.110s\n", "", str(d, "reason"));
		}
	}
}

/* provider.down, .probe and .up: the provider, why, and what next. */
static void
describe_provider(const char *ev, const json_t *d, char *buf, size_t len)
{
	time_t next = (time_t)json_number_value(json_object_get(d,
	    "next_try"));
	char at[16] = "";
	struct tm tm;

	if (next > 0) {
		localtime_r(&next, &tm);
		strftime(at, sizeof(at), "%H:%M:%S", &tm);
	}
	if (strcmp(ev, event_defs[EV_PROVIDER_UP].name) == 0)
		snprintf(buf, len, "%s (%.80s) answers again after %.0f s",
		    str(d, "provider"), str(d, "endpoint"),
		    json_number_value(json_object_get(d, "down_for")));
	else if (strcmp(ev, event_defs[EV_PROVIDER_PROBE].name) == 0)
		snprintf(buf, len, "%s: probe %lld failed, next try at %s: "
		    "%.100s", str(d, "provider"), num(d, "failures"), at,
		    str(d, "reason"));
	else
		snprintf(buf, len, "%s (%.80s) is down, next try at %s: "
		    "%.100s", str(d, "provider"), str(d, "endpoint"), at,
		    str(d, "reason"));
}

/* The one-line story of an event's data, for people. */
static void
describe_event(const char *ev, const json_t *d, char *buf, size_t len)
{
	const json_t *u = json_object_get(d, "usage");
	char *raw;

	if (strcmp(ev, event_defs[EV_PROGRESS].name) == 0) {
		snprintf(buf, len, "%s%s%.100s", str(d, "stage"),
		    json_is_string(json_object_get(d, "text")) ? ": " : "",
		    json_is_string(json_object_get(d, "text")) ?
		    str(d, "text") : "");
		for (char *p = buf; *p; p++)
			if (*p == '\n' || *p == '\r' || *p == '\t')
				*p = ' ';
	} else if (strcmp(ev, event_defs[EV_ROUND].name) == 0) {
		snprintf(buf, len, "directive %lld round %lld %s at %s%s%.12s, "
		    "%lld+%lld tokens%s%.40s%s%.80s", num(d, "directive"),
		    num(d, "round"), json_is_true(json_object_get(d, "ok")) ?
		    "accepted" : "not accepted", str(d, "stage"),
		    json_is_string(json_object_get(d, "commit")) ?
		    ", commit " : "", json_is_string(json_object_get(d,
		    "commit")) ? str(d, "commit") : "", num(u, "input"),
		    num(u, "output"), json_is_string(json_object_get(d,
		    "model")) ? " by " : "", json_is_string(json_object_get(d,
		    "model")) ? str(d, "model") : "",
		    json_is_string(json_object_get(d, "error")) ? ": " : "",
		    json_is_string(json_object_get(d, "error")) ?
		    str(d, "error") : "");
		/* Answered by a fallback: say which. */
		if (json_is_string(json_object_get(d, "provider")) &&
		    strcmp(str(d, "provider"), "llm") != 0)
			snprintf(buf + strlen(buf), len - strlen(buf),
			    " (via %.40s)", str(d, "provider"));
	} else if (strncmp(ev, "provider.", 9) == 0) {
		describe_provider(ev, d, buf, len);
	} else if (strncmp(ev, "directive.", 10) == 0 &&
	    json_is_string(json_object_get(d, "text"))) {
		snprintf(buf, len, "#%lld from %s: %.90s", num(d, "directive"),
		    str(d, "source"), str(d, "text"));
		/* A retry's note follows a blank line: one line here. */
		for (char *p = buf; *p; p++)
			if (*p == '\n' || *p == '\r' || *p == '\t')
				*p = ' ';
	} else {
		raw = json_dumps(d, JSON_COMPACT);
		snprintf(buf, len, "%.160s", raw ? raw : "");
		free(raw);
	}
}

static void
print_event(const json_t *e)
{
	char line[512];

	describe_event(str(e, "event"), json_object_get(e, "data"), line,
	    sizeof(line));
	print_when(e, "ts");
	printf("  task %-4lld %-12s %-22s %s\n", num(e, "task"),
	    json_is_string(json_object_get(e, "domain")) ? str(e, "domain") :
	    "-", str(e, "event"), line);
	fflush(stdout);
}

static void
show_event(const struct ctl *c, const json_t *e)
{
	if (!c->json) {
		print_event(e);
		return;
	}
	json_dumpf(e, stdout, JSON_COMPACT);
	putchar('\n');
	fflush(stdout);
}

/* ---------------------------------------------------------- commands */

static int
cmd_status(struct ctl *c, int argc, char **argv)
{
	return call_and_print(c, request(c, CTL_STATUS), human_status);
}

static int
cmd_tasks(struct ctl *c, int argc, char **argv)
{
	return call_and_print(c, request(c, CTL_TASKS), human_tasks);
}

static int
parse_id(const char *s, json_int_t *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v <= 0) {
		fprintf(stderr, "masterctl: '%s' is not a task id\n", s);
		return -1;
	}
	*out = v;
	return 0;
}

static int
with_task(json_t *req, const char *arg)
{
	json_int_t id;

	if (arg == NULL)
		return 0;
	if (parse_id(arg, &id) != 0) {
		json_decref(req);
		return -1;
	}
	json_object_set_new(req, "task", json_integer(id));
	return 0;
}

static int
cmd_task(struct ctl *c, int argc, char **argv)
{
	json_t *req = request(c, CTL_TASK);

	if (with_task(req, argv[0]) != 0)
		return EXIT_USAGE;
	return call_and_print(c, req, human_task);
}

/* Options after the positional arguments: --task N, --priority N, ... */
struct opts {
	const char *task, *domains, *directives, *prompt, *priority, *last;
	const char *budget, *diff;
	bool wait;
};

enum opt_bit {
	O_TASK = 1 << 0,
	O_DOMAINS = 1 << 1,
	O_DIRECTIVES = 1 << 2,
	O_PROMPT = 1 << 3,
	O_PRIORITY = 1 << 4,
	O_WAIT = 1 << 5,
	O_LAST = 1 << 6,
	O_BUDGET = 1 << 7,
	O_DIFF = 1 << 8,
};

static const struct optdef {
	const char *name;
	unsigned bit;
	size_t off;		/* of the value in struct opts; flags: none */
} optdefs[] = {
	{ "--task", O_TASK, offsetof(struct opts, task) },
	{ "--domains", O_DOMAINS, offsetof(struct opts, domains) },
	{ "--directives", O_DIRECTIVES, offsetof(struct opts, directives) },
	{ "--prompt", O_PROMPT, offsetof(struct opts, prompt) },
	{ "--priority", O_PRIORITY, offsetof(struct opts, priority) },
	{ "--last", O_LAST, offsetof(struct opts, last) },
	{ "--budget", O_BUDGET, offsetof(struct opts, budget) },
	{ "--diff", O_DIFF, offsetof(struct opts, diff) },
	{ "--wait", O_WAIT, 0 },
};

static const struct optdef *
find_opt(const char *name, unsigned allowed)
{
	for (size_t i = 0; i < sizeof(optdefs) / sizeof(optdefs[0]); i++) {
		if ((optdefs[i].bit & allowed) &&
		    strcmp(optdefs[i].name, name) == 0)
			return &optdefs[i];
	}
	return NULL;
}

/*
 * Take the options this command allows out of argv, anywhere among the
 * positional arguments, which are moved to the front.
 */
static int
parse_opts(int *argc, char **argv, unsigned allowed, struct opts *o)
{
	const struct optdef *d;
	int out = 0;

	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-' || a[1] != '-') {
			argv[out++] = argv[i];
			continue;
		}
		if ((d = find_opt(a, allowed)) == NULL) {
			fprintf(stderr, "masterctl: this command takes no %s\n",
			    a);
			return -1;
		}
		if (d->bit == O_WAIT) {
			o->wait = true;
			continue;
		}
		if (i + 1 >= *argc) {
			fprintf(stderr, "masterctl: %s needs a value\n", a);
			return -1;
		}
		*(const char **)((char *)o + d->off) = argv[++i];
	}
	*argc = out;
	return 0;
}

static json_t *
split_domains(const char *list)
{
	json_t *a = json_array();
	char *copy = strdup(list), *tok, *save = NULL;

	for (tok = strtok_r(copy, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save))
		json_array_append_new(a, json_string(tok));
	free(copy);
	return a;
}

/* Standing directives: one per non-empty, non-comment line of a file. */
static json_t *
read_directives(const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	json_t *a;
	char line[4096];

	if (f == NULL) {
		fprintf(stderr, "masterctl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	a = json_array();
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] != '\0' && line[0] != '#')
			json_array_append_new(a, json_string(line));
	}
	if (f != stdin)
		fclose(f);
	return a;
}

/* "tokens=100000,cost=5,rounds=40,time=3600" -> {"tokens": 100000, ...} */
static json_t *
parse_budget(const char *text)
{
	json_t *b = json_object();
	char *copy = strdup(text), *tok, *save = NULL, *eq, *end;
	double v;
	int i;

	for (tok = strtok_r(copy, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		if ((eq = strchr(tok, '=')) == NULL)
			goto bad;
		*eq = '\0';
		i = vocab_find(budget_key_names, BUDGET_KEY_COUNT, tok);
		v = strtod(eq + 1, &end);
		if (i < 0 || end == eq + 1 || *end != '\0' || v < 0)
			goto bad;
		json_object_set_new(b, budget_key_names[i], json_real(v));
	}
	free(copy);
	if (json_object_size(b) > 0)
		return b;
	json_decref(b);
	fprintf(stderr, "masterctl: no limit given\n");
	return NULL;
bad:
	fprintf(stderr, "masterctl: bad limit '%s': use tokens=N, cost=X, "
	    "rounds=N or time=SECONDS (0: no limit)\n", tok);
	free(copy);
	json_decref(b);
	return NULL;
}

static bool
terminal_state(const char *s)
{
	return task_state_name_over(s);
}

static int
exit_for_state(const char *s)
{
	return strcmp(s, task_state_names[TASK_DONE]) == 0 ? EXIT_OK :
	    EXIT_FAILED;
}

/* A followed task is over: "task N STATE"; 0 done, 1 failed or cancelled. */
static int
task_over(json_int_t task, const char *state)
{
	printf("task %lld %s\n", (long long)task, state);
	fflush(stdout);
	return exit_for_state(state);
}

/* A followed task paused: "task N paused: WHY", exit status 4. */
static int
task_paused(json_int_t task, const char *why)
{
	printf("task %lld paused: %s\n", (long long)task,
	    why != NULL && *why != '\0' ? why : "no reason given");
	fflush(stdout);
	return EXIT_PAUSED;
}

/*
 * Follow one task's events until it reaches a terminal state or pauses
 * (a budget, the no-progress watchdog, the user): a paused task waits
 * for someone, so waiting with it would never end.
 */
static int
follow_task(struct ctl *c, json_int_t task)
{
	json_t *req = request(c, CTL_WATCH), *r, *e, *t, *d;
	const char *state, *name;
	int status;

	json_object_set_new(req, "task", json_integer(task));
	if ((r = call(c, req, &status)) == NULL)
		return status;
	t = json_object_get(r, "task");
	state = str(t, "state");
	status = -1;
	if (terminal_state(state))
		status = task_over(task, state);
	else if (json_is_true(json_object_get(t, "paused")))
		status = task_paused(task, json_string_value(
		    json_object_get(t, "reason")));
	if (status >= 0) {
		json_decref(r);
		return status;
	}
	json_decref(r);
	c->streaming = true;
	while ((e = recv_msg(c, -1)) != NULL) {
		show_event(c, e);
		d = json_object_get(e, "data");
		name = str(e, "event");
		state = json_string_value(json_object_get(d, "state"));
		status = -1;
		if (strcmp(name, event_defs[EV_TASK_STATE].name) == 0 &&
		    terminal_state(state))
			status = task_over(task, state);
		else if (strcmp(name, event_defs[EV_TASK_PAUSED].name) == 0)
			status = task_paused(task, json_string_value(
			    json_object_get(d, "reason")));
		json_decref(e);
		if (status >= 0)
			return status;
	}
	return EXIT_UNREACHABLE;
}

static int
cmd_submit(struct ctl *c, int argc, char **argv)
{
	struct opts o = { 0 };
	json_t *req, *r, *dirs;
	json_int_t task;
	int status;

	if (parse_opts(&argc, argv, O_DOMAINS | O_DIRECTIVES | O_WAIT |
	    O_BUDGET, &o) != 0 || argc != 1)
		return EXIT_USAGE;
	req = request(c, CTL_SUBMIT);
	if (o.budget != NULL) {
		json_t *b = parse_budget(o.budget);

		if (b == NULL) {
			json_decref(req);
			return EXIT_USAGE;
		}
		json_object_set_new(req, "budget", b);
	}
	json_object_set_new(req, "text", json_string(argv[0]));
	if (o.domains != NULL)
		json_object_set_new(req, "domains", split_domains(o.domains));
	if (o.directives != NULL) {
		if ((dirs = read_directives(o.directives)) == NULL) {
			json_decref(req);
			return EXIT_USAGE;
		}
		json_object_set_new(req, "directives", dirs);
	}
	if ((r = call(c, req, &status)) == NULL)
		return status;
	task = json_integer_value(json_object_get(r, "task"));
	if (c->json)
		json_dumpf(r, stdout, JSON_COMPACT), putchar('\n');
	else
		printf("task %lld submitted\n", (long long)task);
	json_decref(r);
	fflush(stdout);
	return o.wait ? follow_task(c, task) : EXIT_OK;
}

/* A listing of one task, named by a positional argument or --task. */
static int
task_listing(struct ctl *c, int argc, char **argv, enum msg_type t,
    void (*human)(json_t *))
{
	struct opts o = { 0 };
	json_t *req;

	if (parse_opts(&argc, argv, O_TASK, &o) != 0 || argc > 1)
		return EXIT_USAGE;
	req = request(c, t);
	if (with_task(req, argc == 1 ? argv[0] : o.task) != 0)
		return EXIT_USAGE;
	return call_and_print(c, req, human);
}

static int
cmd_domains(struct ctl *c, int argc, char **argv)
{
	return task_listing(c, argc, argv, CTL_DOMAINS, human_domains);
}

static int
cmd_interface(struct ctl *c, int argc, char **argv)
{
	struct opts o = { 0 };
	json_t *req;
	json_int_t v;

	if (parse_opts(&argc, argv, O_TASK | O_DIFF, &o) != 0 || argc < 1 ||
	    argc > 2)
		return EXIT_USAGE;
	req = request(c, CTL_INTERFACE);
	json_object_set_new(req, "domain", json_string(argv[0]));
	if (o.diff != NULL) {
		json_int_t a, b;

		/* --diff A B: B arrives as the second positional argument */
		if (argc != 2 || parse_id(o.diff, &a) != 0 ||
		    parse_id(argv[1], &b) != 0) {
			json_decref(req);
			return EXIT_USAGE;
		}
		json_object_set_new(req, "diff", json_pack("[I, I]", a, b));
		if (with_task(req, o.task) != 0)
			return EXIT_USAGE;
		return call_and_print(c, req, human_diff);
	}
	if (argc == 2) {
		if (parse_id(argv[1], &v) != 0) {
			json_decref(req);
			return EXIT_USAGE;
		}
		json_object_set_new(req, "version", json_integer(v));
	}
	if (with_task(req, o.task) != 0)
		return EXIT_USAGE;
	return call_and_print(c, req, human_interface);
}

static int
cmd_interfaces(struct ctl *c, int argc, char **argv)
{
	return task_listing(c, argc, argv, CTL_INTERFACES, human_interfaces);
}

static void
human_directive(json_t *r)
{
	const json_t *d = json_object_get(r, "directive");

	printf("directive %lld %s\n", num(d, "id"),
	    json_is_true(json_object_get(d, "merged")) ?
	    "merged into an identical open one" : "queued");
}

static int
cmd_directive(struct ctl *c, int argc, char **argv)
{
	struct opts o = { 0 };
	json_t *req;

	char *end;
	long prio = 0;

	if (parse_opts(&argc, argv, O_TASK | O_PRIORITY, &o) != 0 || argc != 2)
		return EXIT_USAGE;
	if (o.priority != NULL) {
		prio = strtol(o.priority, &end, 10);
		if (*o.priority == '\0' || *end != '\0' || prio < -1000 ||
		    prio > 1000) {
			fprintf(stderr, "masterctl: --priority takes a whole "
			    "number from -1000 to 1000\n");
			return EXIT_USAGE;
		}
	}
	req = request(c, CTL_DIRECTIVE);
	json_object_set_new(req, "domain", json_string(argv[0]));
	json_object_set_new(req, "text", json_string(argv[1]));
	if (o.priority != NULL)
		json_object_set_new(req, "priority", json_integer(prio));
	if (with_task(req, o.task) != 0)
		return EXIT_USAGE;
	return call_and_print(c, req, human_directive);
}

static void
human_ok(json_t *r)
{
	(void)r;
}

static int
cmd_spawn(struct ctl *c, int argc, char **argv)
{
	struct opts o = { 0 };
	json_t *req;

	if (parse_opts(&argc, argv, O_PROMPT, &o) != 0 || argc != 2)
		return EXIT_USAGE;
	req = request(c, CTL_SPAWN);
	if (with_task(req, argv[0]) != 0)
		return EXIT_USAGE;
	json_object_set_new(req, "domain", json_string(argv[1]));
	if (o.prompt != NULL)
		json_object_set_new(req, "prompt", json_string(o.prompt));
	return call_and_print(c, req, human_ok);
}

static int
cmd_restart(struct ctl *c, int argc, char **argv)
{
	struct opts o = { 0 };
	json_t *req;

	if (parse_opts(&argc, argv, O_TASK, &o) != 0 || argc != 1)
		return EXIT_USAGE;
	req = request(c, CTL_RESTART);
	json_object_set_new(req, "domain", json_string(argv[0]));
	if (with_task(req, o.task) != 0)
		return EXIT_USAGE;
	return call_and_print(c, req, human_ok);
}

static void
human_changed(json_t *r)
{
	printf("%lld task(s) changed\n", num(r, "changed"));
}

static int
pause_resume(struct ctl *c, enum msg_type t, int argc, char **argv)
{
	json_t *req = request(c, t);

	if (with_task(req, argc == 1 ? argv[0] : NULL) != 0)
		return EXIT_USAGE;
	return call_and_print(c, req, human_changed);
}

static int
cmd_pause(struct ctl *c, int argc, char **argv)
{
	return pause_resume(c, CTL_PAUSE, argc, argv);
}

static int
cmd_resume(struct ctl *c, int argc, char **argv)
{
	return pause_resume(c, CTL_RESUME, argc, argv);
}

static int
cmd_cancel(struct ctl *c, int argc, char **argv)
{
	json_t *req = request(c, CTL_CANCEL);

	if (with_task(req, argv[0]) != 0)
		return EXIT_USAGE;
	return call_and_print(c, req, human_ok);
}

static int
cmd_watch(struct ctl *c, int argc, char **argv)
{
	json_t *req = request(c, CTL_WATCH), *r, *e;
	int status;

	if (with_task(req, argc == 1 ? argv[0] : NULL) != 0)
		return EXIT_USAGE;
	if ((r = call(c, req, &status)) == NULL)
		return status;
	json_decref(r);
	c->streaming = true;
	while ((e = recv_msg(c, -1)) != NULL) {
		show_event(c, e);
		json_decref(e);
	}
	return EXIT_OK;		/* masterd went away: the stream ended */
}

/* A tool's text on one line, cut: calls and results are for a glance. */
static void
print_line_cut(const char *s, int max)
{
	int n = 0;

	for (; *s != '\0' && n < max; s++, n++)
		putchar(*s == '\n' || *s == '\t' ? ' ' : *s);
	if (*s != '\0')
		printf("… (%zu bytes)", strlen(s) + (size_t)n);
}

static void
print_tools(const json_t *t)
{
	const json_t *o;
	size_t i;

	json_array_foreach(json_object_get(t, "results"), i, o) {
		printf("<- %s%s: ", str(o, "name"),
		    json_is_true(json_object_get(o, "error")) ? " (error)" : "");
		print_line_cut(str(o, "content"), 100);
		putchar('\n');
	}
}

static void
print_calls(const json_t *t)
{
	const json_t *o;
	size_t i;

	json_array_foreach(json_object_get(t, "calls"), i, o) {
		printf("-> %s ", str(o, "name"));
		print_line_cut(str(o, "arguments"), 100);
		putchar('\n');
	}
}

static void
human_transcript(json_t *r)
{
	const json_t *tr = json_object_get(r, "transcript"), *t;
	const char *user, *answer;
	size_t i;

	printf("task %lld, domain %s: %s %s\n", num(r, "task"),
	    str(r, "domain"), str(tr, "api"), str(tr, "model"));
	json_array_foreach(json_object_get(tr, "turns"), i, t) {
		user = json_string_value(json_object_get(t, "user"));
		answer = json_string_value(json_object_get(t, "assistant"));
		printf("\n--- ");
		print_when(t, "time");
		printf(" %s\n", json_is_true(json_object_get(t, "summary")) ?
		    "summary of the earlier conversation" : "user");
		print_tools(t);
		if (user != NULL && *user != '\0')
			printf("%s\n", user);
		printf("--- assistant\n");
		if (answer != NULL && *answer != '\0')
			printf("%s\n", answer);
		print_calls(t);
	}
}

/* Pages of a changing transcript: start again this many times. */
#define TRANSCRIPT_TRIES 5

/*
 * Fetch the transcript's text page by page (offset) into *text: 0, -1
 * when it changed under us (start again), or an exit status above 0.
 * *last is the last page's answer (task, domain).
 */
static int
fetch_transcript_text(struct ctl *c, const json_t *base, char **text,
    json_t **last)
{
	json_int_t off = 0, size = 0, len;
	const char *data, *stamp;
	char *first = NULL, *buf = xstrdup("");
	json_t *req, *r = NULL;
	int status;

	do {
		req = request(c, CTL_TRANSCRIPT);
		json_object_update(req, (json_t *)base);
		json_object_set_new(req, "offset", json_integer(off));
		json_decref(r);
		if ((r = call(c, req, &status)) == NULL)
			goto fail;
		data = json_string_value(json_object_get(r, "data"));
		stamp = json_string_value(json_object_get(r, "stamp"));
		len = json_integer_value(json_object_get(r, "length"));
		size = json_integer_value(json_object_get(r, "size"));
		if (data == NULL || stamp == NULL || len < 0 ||
		    (size_t)len != strlen(data) || (len == 0 && off < size)) {
			fprintf(stderr, "masterctl: transcript: bad page at "
			    "%lld\n", (long long)off);
			status = EXIT_FAILED;
			goto fail;
		}
		if (first == NULL)
			first = xstrdup(stamp);
		else if (strcmp(first, stamp) != 0) {
			status = -1;
			goto fail;
		}
		buf = xrealloc(buf, (size_t)(off + len) + 1);
		memcpy(buf + off, data, (size_t)len + 1);
		off += len;
	} while (off < size);
	free(first);
	*text = buf;
	*last = r;
	return 0;
fail:
	free(first);
	free(buf);
	json_decref(r);
	return status;
}

static int
cmd_transcript(struct ctl *c, int argc, char **argv)
{
	struct opts o = { 0 };
	json_t *base, *r = NULL, *doc;
	json_error_t jerr;
	json_int_t last;
	char *text = NULL;
	int status = -1;

	if (parse_opts(&argc, argv, O_TASK | O_LAST, &o) != 0 || argc != 1)
		return EXIT_USAGE;
	base = json_object();
	json_object_set_new(base, "domain", json_string(argv[0]));
	if (o.last != NULL) {
		if (parse_id(o.last, &last) != 0) {
			json_decref(base);
			return EXIT_USAGE;
		}
		json_object_set_new(base, "last", json_integer(last));
	}
	if (with_task(base, o.task) != 0)
		return EXIT_USAGE;
	/* Paged: a transcript may be larger than one frame. */
	for (int i = 0; i < TRANSCRIPT_TRIES && status < 0; i++)
		status = fetch_transcript_text(c, base, &text, &r);
	json_decref(base);
	if (status < 0) {
		fprintf(stderr, "masterctl: transcript: it kept changing while "
		    "it was read; try again\n");
		return EXIT_FAILED;
	}
	if (status != 0)
		return status;
	doc = json_loads(text, 0, &jerr);
	free(text);
	if (doc == NULL) {
		fprintf(stderr, "masterctl: transcript: bad text: %s\n",
		    jerr.text);
		json_decref(r);
		return EXIT_FAILED;
	}
	json_object_set_new(r, "transcript", doc);
	json_object_del(r, "data");
	json_object_del(r, "offset");
	json_object_del(r, "length");
	json_object_del(r, "size");
	json_object_del(r, "stamp");
	if (c->json) {
		json_dumpf(r, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
	} else {
		human_transcript(r);
	}
	json_decref(r);
	return EXIT_OK;
}

/* Tell masterd the copy may go; nothing to show. */
static void
call_and_drop(struct ctl *c, enum msg_type t)
{
	json_t *req = request(c, t), *r;
	int status;

	json_object_set_new(req, "done", json_true());
	if ((r = call(c, req, &status)) != NULL)
		json_decref(r);
}

static void
human_budget(json_t *r)
{
	const json_t *t = json_object_get(r, "task");
	char *b = json_dumps(json_object_get(json_object_get(t, "spec"),
	    "budget"), JSON_COMPACT | JSON_SORT_KEYS);

	printf("task %lld: %s%s, limits %s\n", num(t, "id"), str(t, "state"),
	    json_is_true(json_object_get(t, "paused")) ? " (paused)" : "",
	    b ? b : "{}");
	free(b);
}

static int
cmd_budget(struct ctl *c, int argc, char **argv)
{
	json_t *req = request(c, CTL_BUDGET), *b;
	char *joined = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&joined, &len);

	if (with_task(req, argv[0]) != 0)
		return EXIT_USAGE;
	for (int i = 1; f != NULL && i < argc; i++)
		fprintf(f, "%s,", argv[i]);
	if (f != NULL)
		fclose(f);
	b = joined ? parse_budget(joined) : NULL;
	free(joined);
	if (b == NULL) {
		json_decref(req);
		return EXIT_USAGE;
	}
	json_object_set_new(req, "budget", b);
	return call_and_print(c, req, human_budget);
}

static void
human_prune(json_t *r)
{
	const json_t *tasks = json_object_get(r, "tasks"), *t;
	size_t i;

	printf("%lld progress events deleted", num(r, "events"));
	if (json_array_size(tasks) > 0) {
		printf("; repositories and worktrees removed: task");
		json_array_foreach(tasks, i, t)
			printf("%s %lld", i ? "," : "",
			    (long long)json_integer_value(t));
	}
	if (num(r, "failures") > 0)
		printf("; %lld paths could not be removed (see the log)",
		    num(r, "failures"));
	putchar('\n');
}

/* prune [--finished DAYS] */
static int
cmd_prune(struct ctl *c, int argc, char **argv)
{
	json_t *req = request(c, CTL_PRUNE);
	char *end;
	long long days;

	if (argc == 2 && strcmp(argv[0], "--finished") == 0) {
		errno = 0;
		days = strtoll(argv[1], &end, 10);
		if (errno != 0 || *end != '\0' || end == argv[1] ||
		    days < 1 || days > 36500) {
			fprintf(stderr, "masterctl: prune: --finished takes "
			    "a number of days, 1 to 36500\n");
			json_decref(req);
			return EXIT_USAGE;
		}
		json_object_set_new(req, "finished_days", json_integer(days));
	} else if (argc != 0) {
		fprintf(stderr, "usage: masterctl prune [--finished DAYS]\n");
		json_decref(req);
		return EXIT_USAGE;
	}
	return call_and_print(c, req, human_prune);
}

/* Fetch the copy chunk by chunk into fd. */
static int
fetch_backup(struct ctl *c, int fd, json_int_t size)
{
	json_int_t off = 0;
	json_t *req, *r;
	unsigned char *buf;
	const char *data;
	ssize_t n;
	int status;

	while (off < size) {
		req = request(c, CTL_BACKUP);
		json_object_set_new(req, "offset", json_integer(off));
		if ((r = call(c, req, &status)) == NULL)
			return status;
		data = json_string_value(json_object_get(r, "data"));
		buf = xmalloc(data ? strlen(data) : 1);
		n = data ? base64_decode(data, strlen(data), buf) : -1;
		if (n <= 0 || write_all(fd, buf, (size_t)n) == -1) {
			fprintf(stderr, "masterctl: backup: bad chunk at %lld\n",
			    (long long)off);
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

/* The copy must open as the registry: integrity and schema version. */
static int
verify_backup(const char *path, int *version)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int ok = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st,
	    NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		ok = strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
	sqlite3_finalize(st);
	st = NULL;
	if (ok && sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st,
	    NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
out:
	sqlite3_close(db);
	return ok ? 0 : -1;
}

static int
cmd_backup(struct ctl *c, int argc, char **argv)
{
	json_t *r, *req = request(c, CTL_BACKUP);
	char tmp[4096];
	int fd, status, version = 0;
	json_int_t size;

	if ((r = call(c, req, &status)) == NULL)
		return status;
	size = json_integer_value(json_object_get(r, "size"));
	json_decref(r);
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[0]);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0) {
		fprintf(stderr, "masterctl: %s: %s\n", tmp, strerror(errno));
		return EXIT_FAILED;
	}
	status = fetch_backup(c, fd, size);
	if (status == EXIT_OK && (fsync(fd) != 0 || close(fd) != 0))
		status = EXIT_FAILED;
	else if (status != EXIT_OK)
		close(fd);
	call_and_drop(c, CTL_BACKUP);
	if (status == EXIT_OK && verify_backup(tmp, &version) != 0) {
		fprintf(stderr, "masterctl: the copy fails its integrity "
		    "check\n");
		status = EXIT_FAILED;
	}
	if (status != EXIT_OK || rename(tmp, argv[0]) != 0) {
		unlink(tmp);
		return status != EXIT_OK ? status : EXIT_FAILED;
	}
	printf("backup %s: %lld bytes, schema version %d, integrity ok\n",
	    argv[0], (long long)size, version);
	return EXIT_OK;
}

static int
cmd_stop(struct ctl *c, int argc, char **argv)
{
	return call_and_print(c, request(c, CTL_STOP), human_ok);
}

static int
cmd_help(struct ctl *c, int argc, char **argv)
{
	usage(stdout);
	return EXIT_OK;
}

static const struct command commands[] = {
	{ "submit", "TEXT [--domains a,b] [--directives FILE] "
	    "[--budget tokens=N,cost=X,rounds=N,time=S] [--wait]",
	    1, 9, cmd_submit, "create a task" },
	{ "status", "", 0, 0, cmd_status, "daemon, registry and children" },
	{ "tasks", "", 0, 0, cmd_tasks, "list tasks" },
	{ "task", "ID", 1, 1, cmd_task, "one task: domains, directives" },
	{ "domains", "[TASK]", 0, 2, cmd_domains, "domains and children" },
	{ "interface", "DOMAIN [VERSION | --diff A B] [--task ID]", 1, 6,
	    cmd_interface, "a domain's interface, or what changed" },
	{ "interfaces", "[TASK]", 0, 2, cmd_interfaces,
	    "every domain's latest interface" },
	{ "directive", "DOMAIN TEXT [--task ID] [--priority N]", 2, 6,
	    cmd_directive, "queue a directive for a domain" },
	{ "spawn", "TASK DOMAIN [--prompt TEXT]", 2, 4, cmd_spawn,
	    "add a domain to a task" },
	{ "restart", "DOMAIN [--task ID]", 1, 3, cmd_restart,
	    "restart a domain's child (clears FATAL)" },
	{ "pause", "[TASK]", 0, 1, cmd_pause, "stop handing out work" },
	{ "resume", "[TASK]", 0, 1, cmd_resume, "hand out work again" },
	{ "cancel", "TASK", 1, 1, cmd_cancel, "end a task" },
	{ "watch", "[TASK]", 0, 1, cmd_watch, "stream events" },
	{ "budget", "TASK tokens=N cost=X rounds=N time=S", 2, 5, cmd_budget,
	    "change a task's limits (0: none)" },
	{ "transcript", "DOMAIN [--task ID] [--last N]", 1, 5, cmd_transcript,
	    "a domain's conversation with its model" },
	{ "backup", "FILE", 1, 1, cmd_backup,
	    "a consistent copy of the registry, taken live" },
	{ "prune", "[--finished DAYS]", 0, 2, cmd_prune,
	    "delete expired progress events and the files of cancelled "
	    "tasks (and of tasks finished DAYS ago)" },
	{ "stop", "", 0, 0, cmd_stop, "stop masterd" },
	{ "help", "", 0, 0, cmd_help, "this text" },
};

static const struct command *
find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: masterctl [-s socket] [--json] command [args]\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %-46s %s\n", commands[i].name,
		    commands[i].args, commands[i].help);
	fprintf(f, "\nThe socket is -s, else $MASTERD_SOCKET, else the "
	    "default of masterd.\nExit: 0 ok, 1 refused or failed, 2 usage, "
	    "3 masterd unreachable,\n4 the task submit --wait followed paused.\n");
}

/*
 * What masterd sends may hold terminal control sequences (a model's text,
 * a task's): human output, on a terminal or not, shows every control
 * character escaped, and so does stderr, where masterd's error messages
 * go.  --json output stays as it is: JSON escapes C0 itself, and a
 * program reads it.
 */
struct saved_output {
	FILE *out, *err;	/* the streams replaced, or NULL */
};

static void
escape_output(const struct ctl *c, struct saved_output *saved)
{
	FILE *f;

	fflush(stdout);
	fflush(stderr);
	if (!c->json && (f = termsafe_open(STDOUT_FILENO,
	    isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF)) != NULL) {
		saved->out = stdout;
		stdout = f;
	}
	if ((f = termsafe_open(STDERR_FILENO, _IONBF)) != NULL) {
		saved->err = stderr;
		stderr = f;
	}
}

/* Flush the escaping streams and put the plain ones back. */
static void
restore_output(struct saved_output *saved)
{
	if (saved->out != NULL) {
		fclose(stdout);
		stdout = saved->out;
	}
	if (saved->err != NULL) {
		fclose(stderr);
		stderr = saved->err;
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl c = { .fd = -1 };
	struct saved_output saved = { NULL, NULL };
	const struct command *cmd;
	char *dflt = NULL;
	int ch, rc;

	util_init();
	/* "+": stop at the subcommand; its options are its own. */
	while ((ch = getopt_long(argc, argv, "+js:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':	c.json = true; break;
		case 's':	c.socket = optarg; break;
		case 'h':	usage(stdout); return EXIT_OK;
		default:	usage(stderr); return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || (cmd = find_command(argv[0])) == NULL) {
		if (argc >= 1)
			fprintf(stderr, "masterctl: unknown command '%s'\n",
			    argv[0]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (argc - 1 < cmd->min_args || argc - 1 > cmd->max_args) {
		fprintf(stderr, "usage: masterctl %s %s\n", cmd->name,
		    cmd->args);
		return EXIT_USAGE;
	}
	if (cmd->run == cmd_help)
		return cmd_help(&c, 0, NULL);
	escape_output(&c, &saved);
	if (c.socket == NULL)
		c.socket = getenv("MASTERD_SOCKET");
	if (c.socket == NULL)
		c.socket = dflt = conf_default_socket();
	frame_decoder_init(&c.dec, 64u * 1024u * 1024u);
	rc = cmd->run(&c, argc - 1, argv + 1);
	if (rc == EXIT_USAGE)
		fprintf(stderr, "usage: masterctl %s %s\n", cmd->name,
		    cmd->args);
	if (c.fd >= 0)
		close(c.fd);
	frame_decoder_free(&c.dec);
	free(dflt);
	restore_output(&saved);
	return rc;
}
