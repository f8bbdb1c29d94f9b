/*
 * bench_status.c — `masterctl status` latency on a loaded daemon: one task
 * with 50 domains, 10,000 stored interface versions and 50 running
 * children.
 *
 *   bench_status MASTERD MASTERCTL
 *
 * Builds the state with the registry API in a fresh temporary directory
 * (and reports how long that took: every version is its own committed,
 * synced transaction, as in the daemon), then starts the real masterd on
 * it, which resumes the unfinished task and starts 50 children
 * (masterd-child, found beside MASTERD).  Once status shows all 50
 * running, it times (a) the status request alone, from an in-process
 * client that keeps one connection, and (b) the whole `masterctl status`
 * command, fork+exec to exit.  Then it prints masterd's and a child's
 * memory, stops masterd through the socket, waits for it to exit and
 * removes the directory.  It only prints: nothing is asserted about the
 * timings.  A daemon that does not start, answer or stop is an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/log.h"
#include "daemon/masterd/registry.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define NDOMAINS	50
#define NVERSIONS	10000
#define NREQUESTS	1000
#define NCOMMANDS	100
#define NWARMUP		10
#define DEADLINE_S	120	/* for start-up, and again for the stop */
#define POLL_MS		20
#define LOG_TAIL	20

struct bench {
	char dir[256];		/* the temporary directory */
	char state[300];
	char sock[300];
	char conf[300];
	char log[300];
	const char *masterd;
	const char *masterctl;
	pid_t pid;		/* masterd */
};

/* One connection to the control socket, with its own decoder. */
struct client {
	int fd;
	struct frame_decoder dec;
	json_int_t id;
};

static struct bench B;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------ cleanup */

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0)
		fprintf(stderr, "bench_status: remove %s: %s\n", path,
		    strerror(errno));
	return 0;
}

static void
remove_dir(void)
{
	if (B.dir[0] != '\0')
		nftw(B.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	B.dir[0] = '\0';
}

/* Wait up to secs for masterd to exit; its status, or -1. */
static int
wait_exit(double secs)
{
	double end = now_s() + secs;
	int status;
	pid_t r;

	while ((r = waitpid(B.pid, &status, WNOHANG)) == 0) {
		if (now_s() > end)
			return -1;
		sleep_ms(10);
	}
	if (r == -1)
		return -1;
	B.pid = 0;
	return status;
}

/* The last LOG_TAIL lines of masterd's log, to stderr. */
static void
show_log(void)
{
	static char lines[LOG_TAIL][256];
	size_t n = 0;
	FILE *f;

	if ((f = fopen(B.log, "r")) == NULL)
		return;
	while (fgets(lines[n % LOG_TAIL], sizeof(lines[0]), f) != NULL)
		n++;
	fclose(f);
	fprintf(stderr, "--- masterd log (last %d lines) ---\n", LOG_TAIL);
	for (size_t i = n > LOG_TAIL ? n - LOG_TAIL : 0; i < n; i++)
		fputs(lines[i % LOG_TAIL], stderr);
}

/* Give up: stop masterd if it runs, show its log, remove the state. */
static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_status: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (B.pid > 0) {
		kill(B.pid, SIGTERM);
		if (wait_exit(30) == -1) {
			kill(B.pid, SIGKILL);
			wait_exit(10);
		}
	}
	show_log();
	remove_dir();
	exit(1);
}

/* ------------------------------------------------------------ state */

static json_t *
make_interface(const char *domain, int version, int seq)
{
	char peer[16];

	snprintf(peer, sizeof(peer), "domain-%02d", (seq + 1) % NDOMAINS);
	return json_pack("{s:s, s:i, s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s},"
	    " {s:s, s:s, s:o}], s:[{s:s, s:s, s:s, s:s}]}",
	    "domain", domain, "version", version,
	    "summary", "Payslip records: create, list and compute net pay; "
	    "stored per employee and month.",
	    "provides",
	    "kind", "http", "name", "GET /payslips/{employee}/{month}",
	    "signature", "-> {employee, month, gross, deductions[], net}",
	    "kind", "function", "name", "payslip_compute",
	    "signature", "(employee_id: int, month: str) -> Payslip",
	    "kind", "table", "name", "payslips",
	    "schema", json_pack("{s:s, s:s, s:s, s:i}", "employee_id",
	    "integer", "month", "text", "net", "numeric", "revision", seq),
	    "consumes",
	    "kind", "http", "name", "GET /employees/{id}",
	    "from", peer, "signature", "-> {id, name, grade}");
}

/* One task, NDOMAINS domains, NVERSIONS interface versions round-robin. */
static void
populate(void)
{
	char path[400], err[256], name[16];
	int64_t task, dom[NDOMAINS];
	json_t *checks, *doc;
	struct registry *r;
	double t0, t1;
	bool changed;
	int version;

	snprintf(path, sizeof(path), "%s/masterd.db", B.state);
	if ((r = registry_open(path, err, sizeof(err))) == NULL)
		die("registry_open: %s", err);
	checks = json_array();
	if (registry_task_add(r, "Implement an app to manage employee "
	    "payslips", NULL, NULL, &task) != 0 ||
	    registry_task_set_state(r, task, TASK_BUILDING, NULL) != 0 ||
	    /* Paused: its children come up and stay idle, with no model. */
	    registry_task_set_paused(r, task, true, "benchmark") != 0)
		die("task: %s", registry_errmsg(r));
	for (int i = 0; i < NDOMAINS; i++) {
		snprintf(name, sizeof(name), "domain-%02d", i);
		if (registry_domain_add(r, task, name, NULL, checks, NULL,
		    true, &dom[i]) != 0)
			die("domain: %s", registry_errmsg(r));
	}
	json_decref(checks);
	t0 = now_s();
	for (int i = 0; i < NVERSIONS; i++) {
		snprintf(name, sizeof(name), "domain-%02d", i % NDOMAINS);
		doc = make_interface(name, i / NDOMAINS + 1, i);
		if (registry_interface_add(r, dom[i % NDOMAINS], doc, &version,
		    &changed) != 0)
			die("interface: %s", registry_errmsg(r));
		if (!changed || version != i / NDOMAINS + 1)
			die("interface %d: not stored as a new version", i);
		json_decref(doc);
	}
	t1 = now_s();
	registry_close(r);
	printf("setup: 1 task, %d domains, %d interface versions stored in "
	    "%.1f s\n       (%.2f ms per version: one synced transaction "
	    "each, registry_interface_add)\n", NDOMAINS, NVERSIONS, t1 - t0,
	    (t1 - t0) * 1e3 / NVERSIONS);
}

/* ------------------------------------------------------------ client */

static int
write_full(int fd, const unsigned char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
client_open(struct client *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(B.sock);

	if (n >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, B.sock, n + 1);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(c->fd);
		return -1;
	}
	frame_decoder_init(&c->dec, 0);
	c->id = 0;
	return 0;
}

static void
client_close(struct client *c)
{
	close(c->fd);
	frame_decoder_free(&c->dec);
}

/* The next whole message from the socket, or NULL. */
static json_t *
client_read(struct client *c)
{
	json_t *msg;
	void *p;
	size_t room;
	ssize_t n;
	int rc;

	while ((rc = frame_decoder_next(&c->dec, &msg, NULL)) ==
	    FRAME_NEED_MORE) {
		if ((p = frame_decoder_reserve(&c->dec, 0, &room)) == NULL)
			return NULL;
		if ((n = read(c->fd, p, room)) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		frame_decoder_commit(&c->dec, (size_t)n);
	}
	return rc == FRAME_OK ? msg : NULL;
}

/* Send {"type": type, "id": next} and return the reply to it, or NULL. */
static json_t *
client_call(struct client *c, const char *type)
{
	json_t *req, *reply;
	unsigned char *buf;
	size_t len;
	json_int_t id = ++c->id;

	req = json_pack("{s:s, s:I}", "type", type, "id", id);
	if (frame_encode(req, 0, &buf, &len) != FRAME_OK) {
		json_decref(req);
		return NULL;
	}
	json_decref(req);
	if (write_full(c->fd, buf, len) != 0) {
		free(buf);
		return NULL;
	}
	free(buf);
	while ((reply = client_read(c)) != NULL) {
		if (json_integer_value(json_object_get(reply, "re")) == id)
			return reply;
		json_decref(reply);	/* not ours: an event, say */
	}
	return NULL;
}

/* A status reply from a new connection, or NULL if none answers. */
static json_t *
status_once(void)
{
	struct client c;
	json_t *r;

	if (client_open(&c) != 0)
		return NULL;
	r = client_call(&c, "status");
	client_close(&c);
	return r;
}

/* How many children are in `state`; *one is set to one of them. */
static size_t
count_state(const json_t *status, const char *state, const json_t **one)
{
	const json_t *ch;
	const char *s;
	size_t i, n = 0;

	json_array_foreach(json_object_get(status, "children"), i, ch) {
		s = json_string_value(json_object_get(ch, "state"));
		if (s != NULL && strcmp(s, state) == 0) {
			*one = ch;
			n++;
		}
	}
	return n;
}

/* ------------------------------------------------------------ daemon */

static void
write_config(void)
{
	FILE *f;

	if ((f = fopen(B.conf, "w")) == NULL)
		die("%s: %s", B.conf, strerror(errno));
	fprintf(f, "# bench_status: quiet, defaults otherwise\n"
	    "[masterd]\nlog_level = warning\n");
	if (fclose(f) != 0)
		die("%s: %s", B.conf, strerror(errno));
}

/* No systemd here, whatever our own environment says. */
static void
clean_env(void)
{
	static const char *const vars[] = { "NOTIFY_SOCKET", "LISTEN_PID",
	    "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_PID", "WATCHDOG_USEC",
	    "INVOCATION_ID", "JOURNAL_STREAM" };

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

static void
start_masterd(void)
{
	int fd;

	write_config();
	fflush(stdout);
	fflush(stderr);
	if ((B.pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (B.pid > 0)
		return;
	if ((fd = open(B.log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		_exit(127);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	if ((fd = open("/dev/null", O_RDONLY)) >= 0) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	clean_env();
	execl(B.masterd, "masterd", "-f", "-c", B.conf, "-d", B.state, "-s",
	    B.sock, (char *)NULL);
	fprintf(stderr, "exec %s: %s\n", B.masterd, strerror(errno));
	_exit(127);
}

/* Give up when a child is fatal: supervision will not start it again. */
static void
check_fatal(json_t *status)
{
	const json_t *one = NULL;
	const char *why;
	char text[512];

	if (count_state(status, "fatal", &one) == 0)
		return;
	why = json_string_value(json_object_get(one, "reason"));
	snprintf(text, sizeof(text), "domain %s failed: %s",
	    json_string_value(json_object_get(one, "domain")),
	    why != NULL ? why : "no reason given");
	json_decref(status);
	die("%s", text);
}

/* Poll status until every child runs; returns the status seen last. */
static json_t *
wait_running(void)
{
	double t0 = now_s();
	const json_t *one;
	json_t *st;
	int status;

	for (;;) {
		if (waitpid(B.pid, &status, WNOHANG) == B.pid) {
			B.pid = 0;
			die("masterd exited during start-up (status %#x)",
			    status);
		}
		if ((st = status_once()) != NULL) {
			if (count_state(st, "running", &one) == NDOMAINS)
				break;
			check_fatal(st);
			json_decref(st);
		}
		if (now_s() - t0 > DEADLINE_S)
			die("%d children not running after %d s", NDOMAINS,
			    DEADLINE_S);
		sleep_ms(POLL_MS);
	}
	printf("masterd: %d children running %.2f s after exec\n", NDOMAINS,
	    now_s() - t0);
	return st;
}

static void
stop_masterd(void)
{
	struct client c;
	json_t *r;
	int status;

	if (client_open(&c) != 0)
		die("cannot connect to stop masterd");
	if ((r = client_call(&c, "stop")) == NULL ||
	    !json_is_true(json_object_get(r, "ok")))
		die("stop refused");
	json_decref(r);
	client_close(&c);
	if ((status = wait_exit(DEADLINE_S)) == -1)
		die("masterd did not exit after stop");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("masterd exited with status %#x", status);
}

/* ------------------------------------------------------------ figures */

struct stats {
	double mean, p50, p99;	/* ms */
};

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct stats
summarise(double *ms, size_t n)
{
	struct stats s = { 0, 0, 0 };

	for (size_t i = 0; i < n; i++)
		s.mean += ms[i];
	s.mean /= (double)n;
	qsort(ms, n, sizeof(*ms), cmp_double);
	s.p50 = ms[(n + 1) / 2 - 1];
	s.p99 = ms[(n * 99 + 99) / 100 - 1];
	return s;
}

/* (a) the request alone, on one kept connection. */
static struct stats
time_requests(size_t *reply_bytes)
{
	static double ms[NREQUESTS];
	struct client c;
	json_t *r;
	double t0;
	char *text;

	if (client_open(&c) != 0)
		die("cannot connect");
	for (int i = -NWARMUP; i < NREQUESTS; i++) {
		t0 = now_s();
		if ((r = client_call(&c, "status")) == NULL ||
		    !json_is_true(json_object_get(r, "ok")))
			die("status request failed");
		if (i >= 0)
			ms[i] = (now_s() - t0) * 1e3;
		if (i == NREQUESTS - 1 &&
		    (text = json_dumps(r, JSON_COMPACT)) != NULL) {
			*reply_bytes = strlen(text);
			free(text);
		}
		json_decref(r);
	}
	client_close(&c);
	return summarise(ms, NREQUESTS);
}

/* Run `masterctl -s SOCK status` once, output discarded; its status. */
static int
run_masterctl(void)
{
	pid_t pid;
	int fd, status;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDWR)) >= 0) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		execl(B.masterctl, "masterctl", "-s", B.sock, "status",
		    (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR)
			return -1;
	}
	return status;
}

/* (b) the whole command, fork+exec to exit. */
static struct stats
time_commands(void)
{
	static double ms[NCOMMANDS];
	double t0;
	int status;

	fflush(stdout);
	fflush(stderr);
	for (int i = -NWARMUP; i < NCOMMANDS; i++) {
		t0 = now_s();
		status = run_masterctl();
		if (status == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			die("%s status failed (status %#x)", B.masterctl,
			    status);
		if (i >= 0)
			ms[i] = (now_s() - t0) * 1e3;
	}
	return summarise(ms, NCOMMANDS);
}

/* A field of /proc/PID/status or smaps_rollup, in KiB; -1 if unknown. */
static long
proc_kib(pid_t pid, const char *file, const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			kib = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kib;
}

static void
print_kib(const char *what, long kib)
{
	if (kib < 0)
		printf("%-34s %10s\n", what, "n/a");
	else
		printf("%-34s %7.1f MiB\n", what, (double)kib / 1024);
}

static void
print_memory(const json_t *status)
{
	const json_t *ch;
	long pss = 0, v;
	pid_t child = 0;
	size_t i;

	json_array_foreach(json_object_get(status, "children"), i, ch) {
		pid_t pid = (pid_t)json_integer_value(json_object_get(ch,
		    "pid"));

		if (child == 0)
			child = pid;
		if (pss >= 0 && (v = proc_kib(pid, "smaps_rollup", "Pss")) >= 0)
			pss += v;
		else
			pss = -1;
	}
	printf("\nmemory (Pss: shared pages split between the processes)\n");
	print_kib("masterd VmRSS (50 children)", proc_kib(B.pid, "status",
	    "VmRSS"));
	print_kib("one masterd-child VmRSS", proc_kib(child, "status",
	    "VmRSS"));
	print_kib("all 50 children, Pss summed", pss);
}

static void
print_stats(const char *what, size_t n, struct stats s)
{
	printf("%-34s %5zu %9.3f %9.3f %9.3f\n", what, n, s.mean, s.p50,
	    s.p99);
}

/* ------------------------------------------------------------ main */

static void
make_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(B.dir, sizeof(B.dir), "%s/masterd-bench.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(B.dir) == NULL) {
		fprintf(stderr, "bench_status: mkdtemp %s: %s\n", B.dir,
		    strerror(errno));
		exit(1);
	}
	snprintf(B.state, sizeof(B.state), "%s/state", B.dir);
	snprintf(B.sock, sizeof(B.sock), "%s/control.sock", B.dir);
	snprintf(B.conf, sizeof(B.conf), "%s/masterd.conf", B.dir);
	snprintf(B.log, sizeof(B.log), "%s/masterd.log", B.dir);
	if (strlen(B.sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		die("socket path too long; set TMPDIR to a shorter directory");
	if (mkdir(B.state, 0700) != 0)
		die("mkdir %s: %s", B.state, strerror(errno));
}

/* Is path, or the file `beside` in path's directory, executable? */
static bool
executable(const char *path, const char *beside)
{
	char buf[1024];
	const char *slash = strrchr(path, '/');

	if (beside == NULL)
		snprintf(buf, sizeof(buf), "%s", path);
	else if (slash == NULL)
		snprintf(buf, sizeof(buf), "%s", beside);
	else
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)(slash - path), path,
		    beside);
	if (access(buf, X_OK) == 0)
		return true;
	fprintf(stderr, "bench_status: %s: %s\n", buf, strerror(errno));
	return false;
}

int
main(int argc, char **argv)
{
	struct stats req, cmd;
	size_t reply_bytes = 0;
	json_t *st;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_status MASTERD MASTERCTL\n");
		return 2;
	}
	B.masterd = argv[1];
	B.masterctl = argv[2];
	if (!executable(B.masterd, NULL) || !executable(B.masterctl, NULL) ||
	    !executable(B.masterd, "masterd-child"))
		return 1;
	signal(SIGPIPE, SIG_IGN);
	log_init("bench_status", LOG_WARNING);
	make_dir();
	populate();
	start_masterd();
	st = wait_running();
	req = time_requests(&reply_bytes);
	cmd = time_commands();

	printf("\n%-34s %5s %9s %9s %9s\n", "status latency", "n", "mean ms",
	    "p50 ms", "p99 ms");
	print_stats("request on one connection", NREQUESTS, req);
	print_stats("masterctl status (fork+exec)", NCOMMANDS, cmd);
	printf("(reply: %zu bytes of JSON; %d warm-up runs not counted)\n",
	    reply_bytes, NWARMUP);
	print_memory(st);
	json_decref(st);
	stop_masterd();
	remove_dir();
	return 0;
}
