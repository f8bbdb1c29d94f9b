/*
 * bench_assign.c — from `submit` to every domain's worker at the model,
 * for 100, 300 and 1,000 domains, the growth exponent of that time, the
 * kills and ping misses on the way, and the memory of masterd and of its
 * children.
 *
 *   bench_assign MASTERD [N1 N2 N3]
 *
 * Starts the real masterd (masterd-child found beside MASTERD) on a fresh
 * temporary state directory.  Its configuration turns the planner's
 * reviews off ([task] max_reviews = 0) and points [llm] at a loopback
 * port where the benchmark listens and never answers: every directive
 * then waits on the "model" for ever, so no model latency, failure or
 * retry enters the figures and the children stay put.  [masterd]
 * max_llm_calls is raised above the largest N, so that every domain gets
 * its first directive at once (the default lets 8 work at a time).
 *
 * One connection watches the events and sends the requests.  A run sends
 * {"type":"submit","text":"bench","domains":["d1",...,"dN"]} and stops
 * the clock for each domain at its first domain.state event to "running"
 * (its child said ready) and at its first directive.running event (the
 * master sends the first directive right after task.assign, in the same
 * loop turn), and for the run when the N-th connection reaches the model
 * port (every worker started, made its worktree and sent its request).
 * When submit refuses that many domains ("at most K"), the run submits
 * the first K and asks for the others with `spawn`, pipelined right after
 * the submit reply.  Each N is run 3 times, after one warm-up run of 3
 * domains; between runs the task is cancelled and every child is waited
 * for until it has stopped.  The table gives the best and the median of
 * the 3 runs, and the exponent k of time ~ N^k fitted (least squares,
 * log-log) to the medians.  Kills and ping misses are counted from the
 * log: masterd's "no pong" faults of a relay, a relay's "answered no
 * ping" of its worker, every SIGKILL, and domain.state events to backoff.
 * masterd runs with a watchdog (bench_watchdog): its longest loop stall
 * from submit to all at the model is the worst run's.
 *
 * Memory is read from /proc at 100 domains: masterd's VmRSS with no task,
 * with 100 domains waiting on the model, with the same task paused (the
 * children then hold no request, and their workers have left) and again
 * after the runs; one child's VmRSS and Pss (smaps_rollup), busy (the
 * relay, and its worker apart) and idle (the relay alone); and the 100
 * children's Pss summed.
 * The aims from the issue are printed against the figures; nothing is
 * asserted about them.  A daemon that does not start, answer or stop, a
 * refused request or a domain that fails is an error.
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <jansson.h>

#include "common/util.h"
#include "daemon/masterd/tasks.h"
#include "tests/bench/benchlib.h"

#define RUNS		3
#define NMAX		1000	/* at most TASK_DOMAINS_MAX */
#define MEM_N		100	/* the memory is read at this size */
#define NOTES_MAX	(8 * NMAX)
#define DEADLINE_S	120	/* for any one wait */
#define POLL_MS		50

/* The aims from the issue. */
#define AIM_ASSIGN_MS	1000.0	/* 100 domains */
#define AIM_1000_MS	10000.0	/* 1,000 domains */
#define AIM_MASTERD_KIB	(16 * 1024L)
#define AIM_CHILD_KIB	(8 * 1024L)

#if NMAX > TASK_DOMAINS_MAX
#error "NMAX is over a task's most domains"
#endif

#define NSIZES		3
/* MEM_N first: the memory is read there; argv may give others. */
static int sizes[NSIZES] = { MEM_N, 300, NMAX };

/* What this benchmark adds to the harness's daemon (B). */
struct assign {
	int model_fd;		/* the loopback "model" that never answers */
	int model_port;
	int cap;		/* domains one submit takes; 0: not known */
	struct client c;	/* requests, replies and the watch stream */
};

enum note_kind {
	N_RUNNING,		/* domain.state to running */
	N_ASSIGNED,		/* directive.running */
	N_STOPPED,		/* domain.state to stopped */
	N_FATAL,		/* domain.state to fatal */
	N_BACKOFF,		/* domain.state to backoff: it died */
	N_FAILED,		/* task.state failed */
};

/* An event that matters here, with the time it arrived. */
struct note {
	int64_t task;
	enum note_kind kind;
	int idx;		/* domain dN has idx N-1; -1 for none */
	double t;
};

/* One task's life as the watch stream tells it. */
struct run {
	int n;			/* domains */
	int64_t task;		/* 0 until the submit reply */
	double t0;		/* submit sent */
	double reply;		/* submit reply, s after t0 */
	double running[NMAX];	/* per domain, s after t0; <0: not yet */
	double assigned[NMAX];
	double at_model;	/* the last domain's request reached the model */
	int model_fds[NMAX];	/* held open: the requests wait on */
	int nmodel;
	bool stopped[NMAX];
	int nrunning, nassigned, nstopped, nbackoff;
	struct note early[NOTES_MAX];	/* before the task id was known */
	size_t nearly;
	json_int_t want;	/* the reply call() waits for */
	json_t *got;
	json_int_t spawn_first, spawn_last;
	int spawns, spawn_replies;
};

/* What one run measured, in ms from sending submit. */
struct timing {
	double reply, running, assigned, at_model;
	double stall;		/* masterd's longest, ms */
	double cpu;		/* masterd's CPU time, ms */
	int misses, kills;	/* from the log and the events */
};

struct memory {
	long md_idle, md_busy, md_paused, md_after;	/* VmRSS, KiB */
	long child_busy_rss, child_busy_pss;
	long worker_rss, worker_pss;			/* its worker, busy */
	long child_idle_rss, child_idle_pss;
	long children_pss;				/* idle, summed */
	int nchildren;
};

static struct assign A = { .model_fd = -1, .c = { .fd = -1 } };

/* ------------------------------------------------------------ model */

/*
 * A TCP listener on 127.0.0.1 that never accepts: connections complete
 * in the kernel's backlog, the children send their requests and wait.
 */
static void
model_open(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((A.model_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) < 0 ||
	    bind(A.model_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(A.model_fd, 4096) != 0 ||
	    getsockname(A.model_fd, (struct sockaddr *)&sa, &len) != 0)
		die("loopback listener: %s", strerror(errno));
	A.model_port = ntohs(sa.sin_port);
}

/* Once a task's children are gone: drop the connections they left. */
static void
model_drain(void)
{
	int fd;

	while ((fd = accept(A.model_fd, NULL, NULL)) >= 0)
		close(fd);
}

/* ------------------------------------------------------------ client */

/* Give req the next id and send it; returns that id.  Steals req. */
static json_int_t
send_request(json_t *req)
{
	json_int_t id = client_send(&A.c, req);

	if (id == -1)
		die("control socket: %s", strerror(errno));
	return id;
}

/* ------------------------------------------------------------ events */

static int
domain_index(const char *name, int n)
{
	char *end;
	long i;

	if (name == NULL || name[0] != 'd')
		return -1;
	i = strtol(name + 1, &end, 10);
	if (*end != '\0' || i < 1 || i > n)
		return -1;
	return (int)i - 1;
}

static void
take_note(struct run *r, const struct note *nt)
{
	if (nt->task != r->task)
		return;
	switch (nt->kind) {
	case N_RUNNING:
		if (r->running[nt->idx] < 0) {
			r->running[nt->idx] = nt->t - r->t0;
			r->nrunning++;
		}
		break;
	case N_ASSIGNED:
		if (r->assigned[nt->idx] < 0) {
			r->assigned[nt->idx] = nt->t - r->t0;
			r->nassigned++;
		}
		break;
	case N_STOPPED:
		if (!r->stopped[nt->idx]) {
			r->stopped[nt->idx] = true;
			r->nstopped++;
		}
		break;
	case N_BACKOFF:
		r->nbackoff++;
		break;
	case N_FATAL:
		die("domain d%d of task %lld failed; see the log", nt->idx + 1,
		    (long long)nt->task);
	case N_FAILED:
		die("task %lld failed; see the log", (long long)nt->task);
	}
}

/* An event on the watch stream: note it if it matters. */
static void
on_event(struct run *r, const json_t *ev, double t)
{
	const char *what = json_string_value(json_object_get(ev, "event"));
	const json_t *data = json_object_get(ev, "data");
	const char *to = json_string_value(json_object_get(data, "to"));
	struct note nt;

	if (what == NULL)
		return;
	nt.task = json_integer_value(json_object_get(ev, "task"));
	nt.idx = domain_index(json_string_value(json_object_get(ev,
	    "domain")), r->n);
	nt.t = t;
	if (strcmp(what, "domain.state") == 0 && to != NULL && nt.idx >= 0) {
		if (strcmp(to, "running") == 0)
			nt.kind = N_RUNNING;
		else if (strcmp(to, "stopped") == 0)
			nt.kind = N_STOPPED;
		else if (strcmp(to, "fatal") == 0)
			nt.kind = N_FATAL;
		else if (strcmp(to, "backoff") == 0)
			nt.kind = N_BACKOFF;
		else
			return;
	} else if (strcmp(what, "directive.running") == 0 && nt.idx >= 0) {
		nt.kind = N_ASSIGNED;
	} else if (strcmp(what, "task.state") == 0 &&
	    json_is_string(json_object_get(data, "state")) &&
	    strcmp(json_string_value(json_object_get(data, "state")),
	    "failed") == 0) {
		nt.kind = N_FAILED;
	} else
		return;
	if (r->task != 0) {
		take_note(r, &nt);
		return;
	}
	if (r->nearly == NOTES_MAX)
		die("too many events before the submit reply");
	r->early[r->nearly++] = nt;
}

static void
on_reply(struct run *r, json_t *msg)
{
	json_int_t re = json_integer_value(json_object_get(msg, "re"));
	const json_t *e;

	if (re == r->want && r->got == NULL) {
		r->got = json_incref(msg);
		return;
	}
	if (r->spawns == 0 || re < r->spawn_first || re > r->spawn_last)
		return;
	if (!json_is_true(json_object_get(msg, "ok"))) {
		e = json_object_get(msg, "error");
		die("spawn refused: %s", json_string_value(json_object_get(e,
		    "message")));
	}
	r->spawn_replies++;
}

/* Read and handle messages until done(r), or die saying what was late. */
static void
pump(struct run *r, bool (*done)(const struct run *), const char *what)
{
	double deadline = now_s() + DEADLINE_S;
	const char *type;
	json_t *msg;
	double t;

	while (!done(r)) {
		if ((msg = client_read(&A.c, deadline)) == NULL)
			die("%s: no %s within %d s (%d running, %d assigned, "
			    "%d stopped of %d)", now_s() >= deadline ?
			    "timed out" : "connection lost", what, DEADLINE_S,
			    r->nrunning, r->nassigned, r->nstopped, r->n);
		t = now_s();
		type = json_string_value(json_object_get(msg, "type"));
		if (json_object_get(msg, "re") != NULL)
			on_reply(r, msg);
		else if (type != NULL && strcmp(type, "event") == 0)
			on_event(r, msg, t);
		json_decref(msg);
	}
}

static bool
got_reply(const struct run *r)
{
	return r->got != NULL;
}

static bool
all_assigned(const struct run *r)
{
	return r->spawn_replies == r->spawns && r->nrunning == r->n &&
	    r->nassigned == r->n;
}

static bool
all_stopped(const struct run *r)
{
	return r->nstopped == r->n;
}

/* Send req and return the reply to it, handling events meanwhile. */
static json_t *
call(struct run *r, json_t *req)
{
	json_t *reply;

	r->got = NULL;
	r->want = send_request(req);
	pump(r, got_reply, "reply");
	reply = r->got;
	r->got = NULL;
	return reply;
}

/* call(), and die unless the answer is ok. */
static json_t *
call_ok(struct run *r, json_t *req, const char *what)
{
	json_t *reply = call(r, req);
	const json_t *e;

	if (!json_is_true(json_object_get(reply, "ok"))) {
		e = json_object_get(reply, "error");
		die("%s refused: %s", what, json_string_value(json_object_get(e,
		    "message")));
	}
	return reply;
}

/* masterd's CPU time so far (utime + stime), in ms. */
static double
masterd_cpu_ms(void)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)B.pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the command's closing parenthesis: state is field 3,
	 * utime and stime fields 14 and 15. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
	    "%llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

/* ------------------------------------------------------------ the log */

/* The log's size now: a run counts what was written after it. */
static long
log_offset(void)
{
	FILE *f = fopen(B.log, "r");
	long off;

	if (f == NULL)
		return 0;
	fseek(f, 0, SEEK_END);
	off = ftell(f);
	fclose(f);
	return off;
}

/* Ping faults (masterd's of a relay, a relay's of its worker) and
 * SIGKILLs logged since off. */
static void
log_count(long off, int *misses, int *kills)
{
	char line[1024];
	FILE *f = fopen(B.log, "r");

	*misses = *kills = 0;
	if (f == NULL)
		return;
	fseek(f, off, SEEK_SET);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "no pong") != NULL ||
		    strstr(line, "answered no ping") != NULL)
			(*misses)++;
		if (strstr(line, "SIGKILL") != NULL)
			(*kills)++;
	}
	fclose(f);
}

/* ------------------------------------------------------------ daemon */

static void
write_config(void)
{
	bench_write_config(
	    "# bench_assign: no reviews; a model that never answers\n"
	    "[masterd]\nlog_level = warning\nmax_llm_calls = 10000\n"
	    "[supervise]\nhello_timeout = 60s\nstop_grace = 10s\n"
	    "[task]\nmax_reviews = 0\n"
	    "[llm]\nprovider = chat\nbase_url = http://127.0.0.1:%d/v1\n"
	    "model = bench\ncontext_tokens = 8000\nmax_tokens = 1000\n"
	    "timeout = 1h\n", A.model_port);
}

static void
start_masterd(void)
{
	double t0;
	int status;

	write_config();
	bench_watchdog();
	bench_spawn_masterd();
	t0 = now_s();
	while (client_open(&A.c) != 0) {
		if (waitpid(B.pid, &status, WNOHANG) == B.pid) {
			B.pid = 0;
			die("masterd exited during start-up (status %#x)",
			    status);
		}
		if (now_s() - t0 > DEADLINE_S)
			die("masterd does not answer after %d s", DEADLINE_S);
		sleep_ms(20);
	}
}

static void
stop_masterd(void)
{
	struct run r = { 0 };

	json_decref(call_ok(&r, json_pack("{s:s}", "type", "stop"), "stop"));
	client_close(&A.c);
	bench_wait_stopped(DEADLINE_S);
}

/* ------------------------------------------------------------ memory */

/* A fresh status reply. */
static json_t *
status(struct run *r)
{
	return call_ok(r, json_pack("{s:s}", "type", "status"), "status");
}

/* The pids of the task's children, their number, and how many are busy. */
static int
task_pids(const json_t *st, int64_t task, pid_t *pids, int *busy)
{
	const json_t *ch;
	size_t i;
	int n = 0;

	*busy = 0;
	json_array_foreach(json_object_get(st, "children"), i, ch) {
		if (json_integer_value(json_object_get(ch, "task")) != task ||
		    n == NMAX)
			continue;
		pids[n++] = (pid_t)json_integer_value(json_object_get(ch,
		    "pid"));
		if (json_is_true(json_object_get(ch, "busy")))
			(*busy)++;
	}
	return n;
}

/* The relay's worker (masterd-worker), or -1 if it has none now. */
static pid_t
worker_of(pid_t relay)
{
	char path[64];
	long pid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)relay,
	    (int)relay);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	fclose(f);
	return (pid_t)pid;
}

static int
workers_left(const pid_t *pids, int n)
{
	int left = 0;

	for (int i = 0; i < n; i++)
		left += worker_of(pids[i]) > 0;
	return left;
}

/*
 * With the run's children all waiting on the model: masterd and one
 * child (the relay, masterd-child) with its worker.  Then pause the task, wait until no child holds a request, and
 * read masterd, one child and all the children again.
 */
static void
measure_task(struct run *r, struct memory *m)
{
	pid_t pids[NMAX];
	json_t *st;
	double t0;
	int n, busy;

	st = status(r);
	n = task_pids(st, r->task, pids, &busy);
	json_decref(st);
	if (n != r->n)
		die("status shows %d children of %d", n, r->n);
	m->nchildren = n;
	m->md_busy = proc_kib(B.pid, "status", "VmRSS");
	m->child_busy_rss = proc_kib(pids[0], "status", "VmRSS");
	m->child_busy_pss = proc_kib(pids[0], "smaps_rollup", "Pss");
	if (worker_of(pids[0]) <= 0)
		die("the first domain has no worker while it waits on the model");
	m->worker_rss = proc_kib(worker_of(pids[0]), "status", "VmRSS");
	m->worker_pss = proc_kib(worker_of(pids[0]), "smaps_rollup", "Pss");

	json_decref(call_ok(r, json_pack("{s:s, s:I}", "type", "pause",
	    "task", (json_int_t)r->task), "pause"));
	t0 = now_s();
	for (;;) {
		st = status(r);
		n = task_pids(st, r->task, pids, &busy);
		json_decref(st);
		/* Idle workers leave a few seconds after their last work. */
		if (busy == 0 && workers_left(pids, n) == 0)
			break;
		if (now_s() - t0 > DEADLINE_S)
			die("%d children still busy, %d workers left %d s "
			    "after pause", busy, workers_left(pids, n),
			    DEADLINE_S);
		sleep_ms(POLL_MS);
	}
	sleep_ms(200);		/* let them free what the request held */
	m->md_paused = proc_kib(B.pid, "status", "VmRSS");
	m->child_idle_rss = proc_kib(pids[0], "status", "VmRSS");
	m->child_idle_pss = proc_kib(pids[0], "smaps_rollup", "Pss");
	m->children_pss = 0;
	for (int i = 0; i < n; i++) {
		long v = proc_kib(pids[i], "smaps_rollup", "Pss");

		if (v < 0 || m->children_pss < 0)
			m->children_pss = -1;
		else
			m->children_pss += v;
	}
}

/* ------------------------------------------------------------ runs */

static json_t *
domain_names(int from, int to)
{
	json_t *a = json_array();
	char name[16];

	for (int i = from; i < to; i++) {
		snprintf(name, sizeof(name), "d%d", i + 1);
		json_array_append_new(a, json_string(name));
	}
	return a;
}

/* The K of an "at most K domains" refusal, or 0. */
static int
refused_cap(const json_t *reply)
{
	const char *msg = json_string_value(json_object_get(json_object_get(
	    reply, "error"), "message"));
	const char *p;

	if (msg == NULL || (p = strstr(msg, "at most ")) == NULL)
		return 0;
	return atoi(p + strlen("at most "));
}

static double
max_of(const double *v, int n)
{
	double m = 0;

	for (int i = 0; i < n; i++)
		if (v[i] > m)
			m = v[i];
	return m;
}

/*
 * Every domain's worker has started, prepared its first turn and opened a
 * connection to the model: n connections accepted.  They are held open so
 * that the requests keep waiting.
 */
static void
wait_model(struct run *r)
{
	struct pollfd pfd = { .fd = A.model_fd, .events = POLLIN };
	int fd;

	while (r->nmodel < r->n) {
		if (now_s() - r->t0 > DEADLINE_S)
			die("%d of %d domains reached the model in %d s",
			    r->nmodel, r->n, DEADLINE_S);
		if (poll(&pfd, 1, POLL_MS) <= 0)
			continue;
		while (r->nmodel < r->n &&
		    (fd = accept(A.model_fd, NULL, NULL)) >= 0)
			r->model_fds[r->nmodel++] = fd;
	}
	r->at_model = now_s() - r->t0;
}

/*
 * Submit n domains and wait until every one is assigned; returns false
 * when submit refused that many (A.cap is then set; nothing was made).
 */
static bool
submit(struct run *r, int n)
{
	json_t *req, *reply, *many;
	unsigned char *buf = NULL, *p;
	size_t len, total = 0;
	int first = A.cap > 0 && n > A.cap ? A.cap : n, k;

	memset(r, 0, sizeof(*r));
	r->n = n;
	for (int i = 0; i < n; i++)
		r->running[i] = r->assigned[i] = -1;
	req = json_pack("{s:s, s:s, s:o}", "type", "submit", "text", "bench",
	    "domains", domain_names(0, first));
	r->t0 = now_s();
	reply = call(r, req);
	r->reply = now_s() - r->t0;
	if (!json_is_true(json_object_get(reply, "ok"))) {
		if (A.cap == 0 && (k = refused_cap(reply)) > 0 && k < n) {
			A.cap = k;
			json_decref(reply);
			return false;
		}
		die("submit refused: %s", json_string_value(json_object_get(
		    json_object_get(reply, "error"), "message")));
	}
	r->task = json_integer_value(json_object_get(reply, "task"));
	json_decref(reply);
	for (size_t i = 0; i < r->nearly; i++)
		take_note(r, &r->early[i]);

	/* The rest, all at once, as a script would. */
	if (first < n) {
		many = domain_names(first, n);
		r->spawns = n - first;
		for (int i = 0; i < r->spawns; i++) {
			json_int_t id = ++A.c.id;

			if (i == 0)
				r->spawn_first = id;
			r->spawn_last = id;
			req = json_pack("{s:s, s:I, s:I, s:O}", "type", "spawn",
			    "id", id, "task", (json_int_t)r->task, "domain",
			    json_array_get(many, (size_t)i));
			if (frame_encode(req, 0, &p, &len) != FRAME_OK)
				die("cannot encode spawn");
			buf = xrealloc(buf, total + len);
			memcpy(buf + total, p, len);
			total += len;
			free(p);
			json_decref(req);
		}
		json_decref(many);
		if (write_all(A.c.fd, buf, total) != 0)
			die("control socket: %s", strerror(errno));
		free(buf);
	}
	pump(r, all_assigned, "directive.running for every domain");
	wait_model(r);
	return true;
}

/* Cancel the run's task and wait until all its children have stopped. */
static void
cancel(struct run *r)
{
	for (int i = 0; i < r->nmodel; i++)
		close(r->model_fds[i]);
	r->nmodel = 0;
	json_decref(call_ok(r, json_pack("{s:s, s:I}", "type", "cancel",
	    "task", (json_int_t)r->task), "cancel"));
	pump(r, all_stopped, "stop of every child");
	model_drain();
}

/* One run of n domains; fills t, and m when given. */
static void
run_once(int n, struct timing *t, struct memory *m)
{
	static struct run r;
	long off = log_offset();
	double cpu0 = masterd_cpu_ms();

	while (!submit(&r, n))
		;
	t->cpu = masterd_cpu_ms() - cpu0;
	t->reply = r.reply * 1e3;
	t->running = max_of(r.running, n) * 1e3;
	t->assigned = max_of(r.assigned, n) * 1e3;
	t->at_model = r.at_model * 1e3;
	t->stall = bench_longest_stall_ms(r.t0, r.t0 + r.at_model);
	if (m != NULL)
		measure_task(&r, m);
	cancel(&r);
	log_count(off, &t->misses, &t->kills);
	t->kills += r.nbackoff;
}

/* k of y ~ x^k, least squares on the logarithms. */
static double
exponent(const int *x, const double *y, size_t n)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;

	for (size_t i = 0; i < n; i++) {
		double lx = log((double)x[i]), ly = log(y[i]);

		sx += lx;
		sy += ly;
		sxx += lx * lx;
		sxy += lx * ly;
	}
	return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

/* Best and median of RUNS values (sorted in place). */
static void
best_median(double *v, double *best, double *median)
{
	qsort(v, RUNS, sizeof(*v), cmp_double);
	*best = v[0];
	*median = v[RUNS / 2];
}

/* ------------------------------------------------------------ output */

static void
mib(char *buf, size_t len, long kib)
{
	if (kib < 0)
		snprintf(buf, len, "n/a");
	else
		snprintf(buf, len, "%.1f MiB", (double)kib / 1024);
}

static void
print_mem(const char *what, long rss, long pss)
{
	char a[32], b[32];

	mib(a, sizeof(a), rss);
	mib(b, sizeof(b), pss);
	printf("%-42s %10s %10s\n", what, rss == -2 ? "" : a,
	    pss == -2 ? "" : b);
}

static const char *
met(bool yes)
{
	return yes ? "yes" : "no";
}

/* ------------------------------------------------------------ main */

int
main(int argc, char **argv)
{
	static double reply[NSIZES][RUNS], running[NSIZES][RUNS],
	    assigned[NSIZES][RUNS], at_model[NSIZES][RUNS];
	double med_assigned[NSIZES], med_model[NSIZES];
	int misses[NSIZES] = { 0 }, kills[NSIZES] = { 0 }, all_bad = 0;
	double stall[NSIZES] = { 0 }, cpu[NSIZES][RUNS];
	struct memory m = { .md_idle = -1 };
	struct timing t;
	struct run r = { 0 };
	double rb, rm, ab, am, pb, pm, mb, mm, cb, cm, k_assigned, k_model;
	char how[64];
	json_t *reply_watch;
	static const char *const helpers[] = { "masterd-child",
	    "masterd-worker", NULL };

	if (argc != 2 && argc != 2 + NSIZES) {
		fprintf(stderr, "usage: bench_assign MASTERD [N1 N2 N3]\n");
		return 2;
	}
	for (int i = 0; argc > 2 && i < NSIZES; i++)
		if ((sizes[i] = atoi(argv[2 + i])) < 1 || sizes[i] > NMAX) {
			fprintf(stderr, "bench_assign: %s: 1 to %d domains\n",
			    argv[2 + i], NMAX);
			return 2;
		}
	if (!bench_init("bench_assign", argv[1], helpers))
		return 1;
	model_open();
	start_masterd();
	reply_watch = call_ok(&r, json_pack("{s:s}", "type", "watch"),
	    "watch");
	json_decref(reply_watch);
	sleep_ms(200);
	m.md_idle = proc_kib(B.pid, "status", "VmRSS");

	/* Warm-up: page cache, the registry's first pages, the dynamic
	 * linker's caches. */
	run_once(3, &t, NULL);
	for (size_t s = 0; s < NSIZES; s++) {
		for (int i = 0; i < RUNS; i++) {
			run_once(sizes[s], &t, s == 0 &&
			    i == RUNS - 1 ? &m : NULL);
			reply[s][i] = t.reply;
			running[s][i] = t.running;
			assigned[s][i] = t.assigned;
			at_model[s][i] = t.at_model;
			misses[s] += t.misses;
			kills[s] += t.kills;
			if (t.stall > stall[s])
				stall[s] = t.stall;
			cpu[s][i] = t.cpu / sizes[s];
		}
	}
	sleep_ms(200);
	m.md_after = proc_kib(B.pid, "status", "VmRSS");

	printf("model: a loopback port that accepts and never answers; the "
	    "clock stops when\nevery domain's request has reached it\n\n");
	printf("submit to every domain at the model, ms from sending submit "
	    "(best / median of %d runs)\n", RUNS);
	printf("%7s %7s %17s %17s %17s %6s %6s %6s %6s %5s\n", "domains",
	    "reply", "all running", "all assigned", "all at model", "ms/dom",
	    "md cpu", "stall", "misses", "kills");
	for (size_t s = 0; s < NSIZES; s++) {
		int n = sizes[s];

		best_median(reply[s], &pb, &pm);
		best_median(running[s], &rb, &rm);
		best_median(assigned[s], &ab, &am);
		best_median(at_model[s], &mb, &mm);
		best_median(cpu[s], &cb, &cm);
		med_assigned[s] = am;
		med_model[s] = mm;
		all_bad += misses[s] + kills[s];
		printf("%7d %7.1f %8.1f /%7.1f %8.1f /%7.1f %8.1f /%7.1f "
		    "%6.2f %6.2f %6.0f %6d %5d\n", n, pm, rb, rm, ab, am, mb,
		    mm, mm / n, cm, stall[s], misses[s], kills[s]);
	}
	k_assigned = exponent(sizes, med_assigned, NSIZES);
	k_model = exponent(sizes, med_model, NSIZES);
	if (A.cap > 0)
		snprintf(how, sizeof(how), " (submit %d, the rest by spawn)",
		    A.cap);
	else
		how[0] = '\0';
	printf("growth: time ~ N^k fitted to the medians: all assigned "
	    "k = %.2f, all at model k = %.2f%s\n", k_assigned, k_model, how);
	printf("(reply: the submit reply, median; all running: the last "
	    "domain.state to running;\n all assigned: the last "
	    "directive.running, sent right after task.assign;\n all at "
	    "model: the last domain's worker started, its worktree made, its "
	    "first turn\n ready and its request sent; md cpu: masterd's CPU "
	    "time per domain in ms\n over the run (median); stall: masterd's "
	    "longest loop stall in ms, from\n submit to all at model, the "
	    "worst run (a %d ms watchdog); misses: ping\n faults logged, "
	    "kills: SIGKILLs logged and children that died, over the %d\n "
	    "runs; one warm-up run of 3 domains not counted)\n",
	    2 * BENCH_BEAT_MS, RUNS);

	printf("\n%-42s %10s %10s\n", "memory", "VmRSS", "Pss");
	print_mem("masterd, no task yet", m.md_idle, -2);
	snprintf(how, sizeof(how), "masterd, %d domains waiting on the model",
	    sizes[0]);
	print_mem(how, m.md_busy, -2);
	snprintf(how, sizeof(how), "masterd, %d domains, task paused",
	    sizes[0]);
	print_mem(how, m.md_paused, -2);
	print_mem("masterd, no task, after the runs", m.md_after, -2);
	print_mem("one child (relay), waiting on the model",
	    m.child_busy_rss, m.child_busy_pss);
	print_mem("  and its worker", m.worker_rss, m.worker_pss);
	print_mem("one child, idle (task paused, no worker)",
	    m.child_idle_rss, m.child_idle_pss);
	snprintf(how, sizeof(how), "%d idle children, Pss summed", sizes[0]);
	print_mem(how, -2, m.children_pss);

	printf("\n%-42s %14s %5s\n", "aim", "measured", "met");
	printf("%-42s %11.0f ms %5s\n", "100 domains at the model in under 1 s",
	    med_model[0], met(med_model[0] < AIM_ASSIGN_MS));
	printf("%-42s %11.0f ms %5s\n", "  (100 assigned, the older mark)",
	    med_assigned[0], met(med_assigned[0] < AIM_ASSIGN_MS));
	printf("%-42s %11.0f ms %5s\n", "1,000 domains at the model in under "
	    "10 s", med_model[NSIZES - 1], met(med_model[NSIZES - 1] <
	    AIM_1000_MS));
	printf("%-42s %14.2f %5s\n", "close to linear (k at the model < 1.2)",
	    k_model, met(k_model < 1.2));
	printf("%-42s %14d %5s\n", "no kill, no ping miss", all_bad,
	    met(all_bad == 0));
	printf("%-42s %10.1f MiB %5s\n", "masterd under 16 MiB, 100 domains",
	    (double)(m.md_busy > m.md_paused ? m.md_busy : m.md_paused) /
	    1024, met(m.md_busy >= 0 && m.md_busy < AIM_MASTERD_KIB &&
	    m.md_paused < AIM_MASTERD_KIB));
	printf("%-42s %10.1f MiB %5s\n", "an idle child under 8 MiB VmRSS",
	    (double)m.child_idle_rss / 1024, met(m.child_idle_rss >= 0 &&
	    m.child_idle_rss < AIM_CHILD_KIB));

	stop_masterd();
	close(A.model_fd);
	bench_remove_dir();
	return 0;
}
