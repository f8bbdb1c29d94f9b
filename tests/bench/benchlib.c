/*
 * benchlib.c — the daemon benchmarks' shared harness: the state directory,
 * masterd's start, stop and log, the control connection, /proc figures.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "tests/bench/benchlib.h"

#define LOG_TAIL	20

struct bench B;

double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
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
		fprintf(stderr, "%s: remove %s: %s\n", B.prog, path,
		    strerror(errno));
	return 0;
}

void
bench_remove_dir(void)
{
	if (B.dir[0] != '\0')
		nftw(B.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	B.dir[0] = '\0';
}

int
bench_wait_exit(double secs)
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

void
bench_wait_stopped(double secs)
{
	int status;

	if ((status = bench_wait_exit(secs)) == -1)
		die("masterd did not exit after stop");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("masterd exited with status %#x", status);
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

void
die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", B.prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (B.pid > 0) {
		kill(B.pid, SIGTERM);
		if (bench_wait_exit(30) == -1) {
			kill(B.pid, SIGKILL);
			bench_wait_exit(10);
		}
	}
	show_log();
	bench_remove_dir();
	exit(1);
}

/* ------------------------------------------------------------ daemon */

bool
bench_executable(const char *path, const char *beside)
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
	fprintf(stderr, "%s: %s: %s\n", B.prog, buf, strerror(errno));
	return false;
}

/* The temporary directory with its state/ under it; B's paths set. */
static void
make_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(B.dir, sizeof(B.dir), "%s/masterd-bench.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(B.dir) == NULL) {
		fprintf(stderr, "%s: mkdtemp %s: %s\n", B.prog, B.dir,
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

bool
bench_init(const char *prog, const char *masterd, const char *const *beside)
{
	B.prog = prog;
	B.masterd = masterd;
	if (!bench_executable(masterd, NULL))
		return false;
	for (; *beside != NULL; beside++) {
		if (!bench_executable(masterd, *beside))
			return false;
	}
	signal(SIGPIPE, SIG_IGN);
	make_dir();
	return true;
}

void
bench_write_config(const char *fmt, ...)
{
	va_list ap;
	FILE *f;

	if ((f = fopen(B.conf, "w")) == NULL)
		die("%s: %s", B.conf, strerror(errno));
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) != 0)
		die("%s: %s", B.conf, strerror(errno));
}

/*
 * No systemd here, whatever our own environment says (unless the
 * benchmark asks for its own notification socket); no MASTERD_*
 * override of the configuration, and no key sent anywhere.
 */
static void
clean_env(void)
{
	static const char *const vars[] = { "NOTIFY_SOCKET", "LISTEN_PID",
	    "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_PID", "WATCHDOG_USEC",
	    "INVOCATION_ID", "JOURNAL_STREAM", "OPENAI_API_KEY",
	    "ANTHROPIC_API_KEY", "CREDENTIALS_DIRECTORY" };
	extern char **environ;
	char name[256];
	size_t n;

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	for (size_t i = 0; environ[i] != NULL; ) {
		n = strcspn(environ[i], "=");
		if (strncmp(environ[i], "MASTERD_", 8) != 0 ||
		    n >= sizeof(name)) {
			i++;
			continue;
		}
		memcpy(name, environ[i], n);
		name[n] = '\0';
		unsetenv(name);
	}
}

void
bench_spawn_masterd(void)
{
	int fd;

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
	if (B.notify_socket != NULL && B.watchdog_usec != NULL) {
		setenv("NOTIFY_SOCKET", B.notify_socket, 1);
		setenv("WATCHDOG_USEC", B.watchdog_usec, 1);
	}
	execl(B.masterd, "masterd", "-f", "-c", B.conf, "-d", B.state, "-s",
	    B.sock, (char *)NULL);
	fprintf(stderr, "exec %s: %s\n", B.masterd, strerror(errno));
	_exit(127);
}

/* ------------------------------------------------------------ client */

int
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
		c->fd = -1;
		return -1;
	}
	frame_decoder_init(&c->dec, 0);
	c->id = 0;
	return 0;
}

void
client_close(struct client *c)
{
	if (c->fd < 0)
		return;
	close(c->fd);
	c->fd = -1;
	frame_decoder_free(&c->dec);
}

/* Until the socket is readable or the deadline: false at the deadline. */
static bool
wait_readable(int fd, double deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	double left;
	int rc;

	for (;;) {
		if ((left = deadline - now_s()) <= 0)
			return false;
		if ((rc = poll(&pfd, 1, (int)(left * 1e3) + 1)) > 0)
			return true;
		if (rc < 0 && errno != EINTR)
			return true;	/* let read() report it */
	}
}

json_t *
client_read(struct client *c, double deadline)
{
	json_t *msg;
	void *p;
	size_t room;
	ssize_t n;
	int rc;

	while ((rc = frame_decoder_next(&c->dec, &msg, NULL)) ==
	    FRAME_NEED_MORE) {
		if (deadline > 0 && !wait_readable(c->fd, deadline))
			return NULL;
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

json_int_t
client_send(struct client *c, json_t *req)
{
	json_int_t id = ++c->id;
	unsigned char *buf;
	size_t len;
	int rc;

	json_object_set_new(req, "id", json_integer(id));
	rc = frame_encode(req, 0, &buf, &len);
	json_decref(req);
	if (rc != FRAME_OK)
		return -1;
	rc = write_all(c->fd, buf, len);
	free(buf);
	return rc == 0 ? id : -1;
}

/* ------------------------------------------------------------ figures */

long
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

int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------ watchdog */

#define BEATS_MAX	(1 << 21)	/* over half an hour of beats */

/* The arrival time of every WATCHDOG=1, from a thread of its own. */
static struct {
	int fd;
	char path[320], usec[32];
	double *t;
	size_t n;		/* atomic: the thread writes, we read */
} W = { .fd = -1 };

static void *
beats_run(void *arg)
{
	char buf[512];
	ssize_t n;
	size_t i;

	for (;;) {
		if ((n = recv(W.fd, buf, sizeof(buf) - 1, 0)) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		buf[n] = '\0';
		i = __atomic_load_n(&W.n, __ATOMIC_RELAXED);
		if (strstr(buf, "WATCHDOG=1") == NULL || i == BEATS_MAX)
			continue;
		W.t[i] = now_s();
		__atomic_store_n(&W.n, i + 1, __ATOMIC_RELEASE);
	}
}

void
bench_watchdog(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pthread_t th;

	snprintf(W.path, sizeof(W.path), "%s/notify.sock", B.dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", W.path);
	W.t = xcalloc(BEATS_MAX, sizeof(*W.t));
	if ((W.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(W.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		die("notify socket %s: %s", W.path, strerror(errno));
	if (pthread_create(&th, NULL, beats_run, NULL) != 0)
		die("watchdog thread");
	pthread_detach(th);
	snprintf(W.usec, sizeof(W.usec), "%d", 2 * BENCH_BEAT_MS * 1000);
	B.notify_socket = W.path;
	B.watchdog_usec = W.usec;
}

double
bench_longest_stall_ms(double from, double to)
{
	size_t n = __atomic_load_n(&W.n, __ATOMIC_ACQUIRE);
	double prev = -1, worst = 0;

	for (size_t i = 0; i < n; i++) {
		if (W.t[i] < from)
			continue;
		if (prev >= 0 && W.t[i] - prev > worst)
			worst = W.t[i] - prev;
		prev = W.t[i];
		if (W.t[i] > to)
			break;
	}
	worst = worst * 1e3 - BENCH_BEAT_MS;
	return worst > 0 ? worst : 0;
}
