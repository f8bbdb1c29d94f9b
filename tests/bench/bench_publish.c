/*
 * bench_publish.c — one interface publish in a task of 300 domains: the
 * bytes masterd sends for it, how long until the last peer has it, and
 * masterd's longest loop stall meanwhile (issue #16).
 *
 *   bench_publish MASTERD
 *
 * masterd's children are this program (child_path; started with
 * --domain, it is a stand-in child): each says hello and ready through
 * proto/peer.c's child end, answers pings, holds its directive for ever,
 * and on SIGUSR1 publishes a new version of its interface (a document of
 * IFACE_ITEMS functions, about 2 KiB).  For every interface.peers it
 * receives it appends the frame's size to a file.
 *
 * The run: submit N domains; once every one is running and has its
 * directive, every domain publishes once (so that each peer set is full,
 * as in a task under way) and the fan-out settles.  Then one domain
 * publishes again, and the clock runs until N-1 peers have the update.
 * Bytes are the frames the peers got (4-byte header included).  masterd
 * runs with a watchdog beating every BENCH_BEAT_MS (bench_watchdog): its
 * longest stall from the signal until 200 ms after the last peer got the
 * update is reported.  Repeated RUNS times; nothing is
 * asserted.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "common/util.h"
#include "proto/child_args.h"
#include "proto/msg.h"
#include "proto/peer.h"
#include "tests/bench/benchlib.h"

#define N		300
#define RUNS		5
#define IFACE_ITEMS	20
#define DEADLINE_S	120

/* ------------------------------------------------------------ child */

struct fake {
	struct channel ch;
	uv_signal_t usr1, term;
	json_int_t next_id;
	struct child_args args;
	int64_t task;
	int version;
	int out;		/* the file of sizes */
};

static json_t *
interface_doc(const struct fake *f)
{
	json_t *provides = json_array();
	char name[96], sig[96];

	for (int i = 0; i < IFACE_ITEMS; i++) {
		snprintf(name, sizeof(name), "%s.function_%d", f->args.domain,
		    i);
		snprintf(sig, sizeof(sig), "(int a, const char *b) -> int "
		    "/* v%d */", f->version);
		json_array_append_new(provides, json_pack("{s:s, s:s, s:s}",
		    "kind", "function", "name", name, "signature", sig));
	}
	return json_pack("{s:s, s:s, s:o, s:[]}", "domain", f->args.domain,
	    "summary", "a stand-in domain of bench_publish", "provides",
	    provides, "consumes");
}

static void
on_usr1(uv_signal_t *s, int signum)
{
	struct fake *f = s->data;
	json_t *m;

	if (f->task == 0)
		return;
	f->version++;
	m = msg_new(MSG_INTERFACE_PUBLISH, ++f->next_id);
	json_object_set_new(m, "task", json_integer(f->task));
	json_object_set_new(m, "interface", interface_doc(f));
	channel_send_new(&f->ch, m);
}

static void
on_term(uv_signal_t *s, int signum)
{
	struct fake *f = s->data;

	uv_close((uv_handle_t *)&f->usr1, NULL);
	uv_close((uv_handle_t *)&f->term, NULL);
	channel_close(&f->ch, NULL);
}

static void
on_parent_msg(struct channel *ch, json_t *msg, void *arg)
{
	struct fake *f = arg;
	const struct msg_spec *spec;
	char line[32];
	int stop, n;

	spec = peer_parent_msg(ch, &f->next_id, f->args.domain, true, msg,
	    &stop);
	if (stop >= 0) {
		on_term(&f->term, SIGTERM);
		return;
	}
	if (spec == NULL)
		return;
	switch (spec->type) {
	case MSG_TASK_ASSIGN:
		f->task = json_integer_value(json_object_get(msg, "task"));
		break;
	case MSG_INTERFACE_PEERS:
		n = snprintf(line, sizeof(line), "%zu\n",
		    frame_encoded_size(msg) + 4);
		if (write(f->out, line, (size_t)n) != n)
			_exit(1);
		break;
	default:
		break;		/* a directive is held for ever */
	}
}

static void
on_parent_close(struct channel *ch, const char *why, void *arg)
{
	on_term(&((struct fake *)arg)->term, SIGTERM);
}

static const struct channel_ops parent_ops = {
	.on_msg = on_parent_msg,
	.on_close = on_parent_close,
};

static int
child_main(int argc, char **argv)
{
	struct fake f = { 0 };
	const char *out = getenv("BENCH_PUBLISH_OUT");
	uv_loop_t loop;

	if (child_args_parse(argc, argv, "bench_publish", &f.args) != 0 ||
	    out == NULL)
		return 78;
	if ((f.out = open(out, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0)
		return 78;
	uv_loop_init(&loop);
	if (peer_parent_open(&loop, &f.ch, &parent_ops, &f) != 0)
		return 78;
	uv_signal_init(&loop, &f.usr1);
	f.usr1.data = &f;
	uv_signal_start(&f.usr1, on_usr1, SIGUSR1);
	uv_signal_init(&loop, &f.term);
	f.term.data = &f;
	uv_signal_start(&f.term, on_term, SIGTERM);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return 0;
}

/* ------------------------------------------------------------ master */

struct bench_pub {
	struct client c;
	char out[320];
	int64_t task;
	pid_t pids[N];
	int running, assigned;
};

static struct bench_pub P = { .c = { .fd = -1 } };

/* A reply to id, or die; events on the way are counted. */
static json_t *
call(json_t *req)
{
	json_int_t id = client_send(&P.c, req);
	double deadline = now_s() + DEADLINE_S;
	json_t *msg;

	if (id < 0)
		die("control socket: %s", strerror(errno));
	for (;;) {
		if ((msg = client_read(&P.c, deadline)) == NULL)
			die("no reply to request %lld", (long long)id);
		if (json_integer_value(json_object_get(msg, "re")) == id)
			break;
		json_decref(msg);
	}
	if (!json_is_true(json_object_get(msg, "ok")))
		die("request %lld refused", (long long)id);
	return msg;
}

/* Lines (sizes) in the out file from byte off; their sum in *bytes. */
static int
sizes_since(long off, long *bytes)
{
	FILE *f = fopen(P.out, "r");
	long v;
	int n = 0;

	*bytes = 0;
	if (f == NULL)
		return 0;
	fseek(f, off, SEEK_SET);
	while (fscanf(f, "%ld", &v) == 1) {
		*bytes += v;
		n++;
	}
	fclose(f);
	return n;
}

static long
out_size(void)
{
	FILE *f = fopen(P.out, "r");
	long off;

	if (f == NULL)
		return 0;
	fseek(f, 0, SEEK_END);
	off = ftell(f);
	fclose(f);
	return off;
}

/* Wait until `want` more sizes than at off arrived; the time they did. */
static double
wait_sizes(long off, int want, long *bytes)
{
	double deadline = now_s() + DEADLINE_S;

	while (sizes_since(off, bytes) < want) {
		if (now_s() > deadline)
			die("%d of %d peers got the update in %d s",
			    sizes_since(off, bytes), want, DEADLINE_S);
		sleep_ms(2);
	}
	return now_s();
}

/* Every child running, with its pid. */
static void
wait_children(void)
{
	double deadline = now_s() + DEADLINE_S;
	json_t *st;
	const json_t *ch;
	size_t i;
	int n;

	for (;;) {
		st = call(json_pack("{s:s}", "type", "status"));
		n = 0;
		json_array_foreach(json_object_get(st, "children"), i, ch) {
			const char *s = json_string_value(json_object_get(ch,
			    "state"));

			if (n < N && s != NULL && strcmp(s, "running") == 0 &&
			    json_is_true(json_object_get(ch, "busy")))
				P.pids[n++] = (pid_t)json_integer_value(
				    json_object_get(ch, "pid"));
		}
		json_decref(st);
		if (n == N)
			return;
		if (now_s() > deadline)
			die("%d of %d children running and busy", n, N);
		sleep_ms(50);
	}
}

int
main(int argc, char **argv)
{
	static double took[RUNS], stall[RUNS];
	static const char *const none[] = { NULL };
	char self[4096];
	json_t *names = json_array(), *r;
	long off, bytes = 0, all_bytes = 0;
	double t0, t1;
	ssize_t len;
	int fd;

	if (argc > 1 && strcmp(argv[1], "--domain") == 0)
		return child_main(argc, argv);
	if (argc != 2) {
		fprintf(stderr, "usage: bench_publish MASTERD\n");
		return 2;
	}
	if ((len = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
		return 1;
	self[len] = '\0';
	if (!bench_init("bench_publish", argv[1], none))
		return 1;
	snprintf(P.out, sizeof(P.out), "%s/sizes", B.dir);
	if ((fd = open(P.out, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		die("%s: %s", P.out, strerror(errno));
	close(fd);
	bench_watchdog();
	setenv("BENCH_PUBLISH_OUT", P.out, 1);
	bench_write_config("# bench_publish: stand-in children\n"
	    "[masterd]\nlog_level = warning\nmax_llm_calls = 10000\n"
	    "child_path = %s\n"
	    "[supervise]\nhello_timeout = 60s\nstop_grace = 10s\n"
	    "[task]\nmax_reviews = 0\n", self);
	bench_spawn_masterd();
	t0 = now_s();
	while (client_open(&P.c) != 0) {
		if (now_s() - t0 > DEADLINE_S)
			die("masterd does not answer");
		sleep_ms(20);
	}

	for (int i = 0; i < N; i++) {
		char name[16];

		snprintf(name, sizeof(name), "d%d", i + 1);
		json_array_append_new(names, json_string(name));
	}
	r = call(json_pack("{s:s, s:s, s:o}", "type", "submit", "text",
	    "bench", "domains", names));
	P.task = json_integer_value(json_object_get(r, "task"));
	json_decref(r);
	wait_children();

	/* Every domain publishes once: the peers' sets are full. */
	off = out_size();
	for (int i = 0; i < N; i++)
		kill(P.pids[i], SIGUSR1);
	wait_sizes(off, N * (N - 1), &all_bytes);

	for (int i = 0; i < RUNS; i++) {
		off = out_size();
		sleep_ms(100);	/* a quiet loop before */
		t0 = now_s();
		kill(P.pids[i], SIGUSR1);
		t1 = wait_sizes(off, N - 1, &bytes);
		sleep_ms(200);
		took[i] = (t1 - t0) * 1e3;
		stall[i] = bench_longest_stall_ms(t0, t1 + 0.2);
	}

	printf("one interface publish, %d domains, every peer set full "
	    "(%d functions a document)\n", N, IFACE_ITEMS);
	printf("%-44s %10ld\n", "bytes to the peers, one publish", bytes);
	printf("%-44s %10.0f\n", "  per peer", (double)bytes / (N - 1));
	/* Before the fan-out by change: each peer got every interface. */
	printf("%-44s %10ld\n", "bytes if every interface went to every peer",
	    all_bytes / N * (N - 1));
	qsort(took, RUNS, sizeof(*took), cmp_double);
	qsort(stall, RUNS, sizeof(*stall), cmp_double);
	printf("%-44s %7.1f / %5.1f\n", "ms until the last peer has it "
	    "(best / median)", took[0], took[RUNS / 2]);
	printf("%-44s %7.1f / %5.1f\n", "masterd's longest stall, ms (best / "
	    "median)", stall[0], stall[RUNS / 2]);
	printf("(the first publish of all %d domains sent %ld bytes; "
	    "watchdog every %d ms; %d runs)\n", N, all_bytes,
	    BENCH_BEAT_MS, RUNS);

	json_decref(call(json_pack("{s:s}", "type", "stop")));
	client_close(&P.c);
	bench_wait_stopped(DEADLINE_S);
	bench_remove_dir();
	return 0;
}
