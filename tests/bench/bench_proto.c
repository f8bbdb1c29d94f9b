/*
 * bench_proto.c — master <-> child round trips through the real protocol
 * code, beside the physical limit of the same socketpair.
 *
 * "masterd protocol": a forked child runs its own libuv loop with a struct
 * channel on one end of a socketpair and answers every ping with a pong,
 * as masterd-child does; the parent, on its own loop and channel, sends a
 * ping, waits for the pong in on_msg and sends the next.  Both sides check
 * every message with msg_validate, as the daemon does.  A round trip is
 * thus frame_encode, uv_try_write (uv_write when the socket is full), the
 * zero-copy read into the decoder, json_loadb and msg_validate, each way.
 * The ping carries a padding string so that its frame has the target size;
 * the pong hands the same string back (a reference, no copy), so both
 * directions carry a frame of that size, like the raw echo.
 *
 * "Python asyncio peer": the same C parent (masterd's side, its channel
 * and msg_validate), but the forked child execs python3 running an asyncio
 * loop that does what the C child does: 4-byte big-endian length, json
 * loads, a pong echoing the pad, compact json dumps.  What a peer in
 * Python would cost, for scale; "n/a" without python3.
 *
 * "raw socketpair": the same two processes, blocking write(2)/read(2) of a
 * byte buffer of the same frame size, echoed back.
 *
 * One table by default, both processes pinned to one CPU (the CPU cost of
 * a round trip, steady even on a busy or virtual machine); -p split pins
 * them to two CPUs (adds the cross-CPU wake-up, which on a VM is slow and
 * noisy).  Each cell warms up for a fifth of its time,
 * which also measures the rate that sizes it to about -t seconds.  It only
 * prints: timings vary with the machine, so nothing is asserted about
 * them.  A lost or wrong message is still an error.
 *
 * -r prints another table instead: the same C round trip through a middle
 * process (mid_main below), as masterd's messages cross the relay.
 *
 *   bench_proto [-r] [-p same|split|free] [-s frame_bytes] [-t seconds]
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "common/util.h"
#include "proto/channel.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define CELL_SECS_DEFAULT	1.5
#define WARM_FRACTION		0.2	/* of a cell's time */
#define CELL_MIN_RT		50
#define CELL_MAX_RT		5000000

static const size_t sizes[] = { 100, 1024, 16 * 1024, 64 * 1024,
    256 * 1024 };
#define NSIZES	(sizeof(sizes) / sizeof(sizes[0]))

static double cell_secs = CELL_SECS_DEFAULT;
static size_t only_size;	/* -s: one cell of this size, 0: all */
static bool relay_table;	/* -r: through a middle process instead */

/* Where the two processes run; -p picks one, else same then split. */
enum placement { PLACE_NONE, PLACE_SAME, PLACE_SPLIT, PLACE_FREE };
static enum placement only_place = PLACE_NONE;
static cpu_set_t allowed;		/* the CPUs we were given */
static int cpus[2] = { -1, -1 };	/* parent's and child's, -1: any */

/* One cell's timing: a warm-up that sizes it, then `want` samples. */
struct run {
	uint64_t start;		/* of the current phase */
	uint64_t end;
	size_t warm_n;
	bool measuring;
	uint64_t *lat;		/* ns per round trip */
	size_t n, want;
};

struct result {
	size_t frame;		/* bytes per frame, header included */
	size_t n;
	double rate;		/* round trips per second */
	double mean_us, p99_us;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
run_init(struct run *r)
{
	memset(r, 0, sizeof(*r));
	r->start = now_ns();
}

/* Count one round trip from t0 to t1; true once the cell is complete. */
static bool
run_record(struct run *r, uint64_t t0, uint64_t t1)
{
	double cell_ns = cell_secs * 1e9, rate;

	if (!r->measuring) {
		r->warm_n++;
		if ((double)(t1 - r->start) < cell_ns * WARM_FRACTION)
			return false;
		rate = (double)r->warm_n / (double)(t1 - r->start);
		r->want = (size_t)(rate * cell_ns);
		if (r->want < CELL_MIN_RT)
			r->want = CELL_MIN_RT;
		if (r->want > CELL_MAX_RT)
			r->want = CELL_MAX_RT;
		if ((r->lat = calloc(r->want, sizeof(*r->lat))) == NULL) {
			perror("bench_proto: calloc");
			exit(1);
		}
		r->measuring = true;
		r->start = t1;
		return false;
	}
	r->lat[r->n++] = t1 - t0;
	if (r->n < r->want)
		return false;
	r->end = t1;
	return true;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Fill the figures from a complete run, and free its samples. */
static void
run_result(struct run *r, size_t frame, struct result *res)
{
	double sum = 0;
	size_t i99;

	for (size_t i = 0; i < r->n; i++)
		sum += (double)r->lat[i];
	qsort(r->lat, r->n, sizeof(*r->lat), cmp_u64);
	i99 = (r->n * 99 + 99) / 100 - 1;
	res->frame = frame;
	res->n = r->n;
	res->rate = (double)r->n / ((double)(r->end - r->start) / 1e9);
	res->mean_us = sum / (double)r->n / 1e3;
	res->p99_us = (double)r->lat[i99] / 1e3;
	free(r->lat);
	r->lat = NULL;
}

/* ------------------------------------------------------------ processes */

static void
pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		perror("bench_proto: sched_setaffinity");
}

/*
 * Pin the parent for this placement and note where the child goes.  Split
 * needs two allowed CPUs; returns -1 without them.
 */
static int
place(enum placement pl)
{
	int n = 0, found[2] = { -1, -1 };

	for (int c = 0; c < CPU_SETSIZE && n < 2; c++) {
		if (CPU_ISSET(c, &allowed))
			found[n++] = c;
	}
	if (pl == PLACE_SPLIT && n < 2)
		return -1;
	if (pl == PLACE_FREE || n == 0) {
		cpus[0] = cpus[1] = -1;
		if (n > 0 && sched_setaffinity(0, sizeof(allowed),
		    &allowed) != 0)
			perror("bench_proto: sched_setaffinity");
		return 0;
	}
	cpus[0] = found[0];
	cpus[1] = pl == PLACE_SPLIT ? found[1] : found[0];
	pin(cpus[0]);
	return 0;
}

/* Fork a child that runs fn on its end of a new socketpair. */
static pid_t
fork_peer(int (*fn)(int, size_t), size_t arg, int *parent_fd)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		perror("bench_proto: socketpair");
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		perror("bench_proto: fork");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		pin(cpus[1]);
		_exit(fn(sv[1], arg));
	}
	close(sv[1]);
	*parent_fd = sv[0];
	return pid;
}

static int
reap(pid_t pid, const char *what)
{
	int status;

	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			perror("bench_proto: waitpid");
			return -1;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	fprintf(stderr, "bench_proto: %s child failed (status %#x)\n", what,
	    status);
	return -1;
}

/* ------------------------------------------------------------ protocol */

/* What either end of the channel keeps first: its name, and whether it
 * failed. */
struct end {
	const char *name;	/* "child" or "parent" */
	bool failed;
};

/* Either end's on_close (arg is the end's struct, whose first member is a
 * struct end): closed on an error is a failure. */
static void
end_on_close(struct channel *ch, const char *why, void *arg)
{
	struct end *e = arg;

	if (why == NULL)
		return;
	fprintf(stderr, "bench_proto: %s channel: %s\n", e->name, why);
	e->failed = true;
}

/* As hello leaves a child channel of masterd's: attachments both ways. */
static void
attach_both(struct channel *ch)
{
	ch->dec.attach = true;
	ch->attach_out = true;
}

/* The child's side: masterd-child's ping handler. */
struct ponger {
	struct end end;
	json_int_t next_id;
};

static void
pong_on_msg(struct channel *ch, json_t *msg, void *arg)
{
	struct ponger *po = arg;
	const struct msg_spec *spec;
	char err[200] = "not a ping";
	json_t *m;

	if (msg_validate(msg, CHAN_CHILD, PEER_MASTER, &spec, err,
	    sizeof(err)) != 0 || spec->type != MSG_PING) {
		fprintf(stderr, "bench_proto: child got a bad message: %s\n",
		    err);
		po->end.failed = true;
		channel_close(ch, "bad message");
		return;
	}
	m = msg_new(MSG_PONG, ++po->next_id);
	json_object_set_new(m, "re", json_integer(msg_id(msg)));
	json_object_set(m, "pad", json_object_get(msg, "pad"));
	channel_send_new(ch, m);
}

static const struct channel_ops pong_ops = {
	.on_msg = pong_on_msg,
	.on_close = end_on_close,
};

static int
pong_main(int fd, size_t unused)
{
	struct ponger po = { { "child", false }, 0 };
	struct channel ch;
	uv_loop_t loop;

	(void)unused;
	if (uv_loop_init(&loop) != 0 ||
	    channel_init(&loop, &ch, FRAME_MAX_DEFAULT, &pong_ops, &po) != 0)
		return 1;
	attach_both(&ch);
	if (channel_open_fd(&ch, fd) != 0 || channel_start(&ch) != 0)
		return 1;
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		return 1;
	return po.end.failed ? 1 : 0;
}

/* The parent's side: the master pinging and timing. */
struct pinger {
	struct end end;
	struct channel ch;
	struct run run;
	json_t *pad;		/* one string, shared by every ping */
	json_int_t id;
	uint64_t sent;
	bool complete;
};

static void
send_ping(struct pinger *pi)
{
	json_t *m;

	pi->sent = now_ns();
	m = msg_new(MSG_PING, ++pi->id);
	json_object_set(m, "pad", pi->pad);
	if (channel_send_new(&pi->ch, m) != 0) {
		pi->end.failed = true;
		channel_close(&pi->ch, "cannot send a ping");
	}
}

static void
ping_on_msg(struct channel *ch, json_t *msg, void *arg)
{
	struct pinger *pi = arg;
	uint64_t t = now_ns();
	const struct msg_spec *spec;
	char err[200] = "not the pong awaited";

	if (msg_validate(msg, CHAN_CHILD, PEER_CHILD, &spec, err,
	    sizeof(err)) != 0 || spec->type != MSG_PONG ||
	    json_integer_value(json_object_get(msg, "re")) != pi->id) {
		fprintf(stderr, "bench_proto: bad pong: %s\n", err);
		pi->end.failed = true;
		channel_close(ch, "bad pong");
		return;
	}
	if (run_record(&pi->run, pi->sent, t)) {
		pi->complete = true;
		channel_close(ch, NULL);
		return;
	}
	send_ping(pi);
}

static const struct channel_ops ping_ops = {
	.on_msg = ping_on_msg,
	.on_close = end_on_close,
};

/* A padding string that brings a ping's frame to about `target` bytes. */
static json_t *
make_pad(size_t target, size_t *frame)
{
	json_t *m = msg_new(MSG_PING, 1000000), *pad;
	unsigned char *buf;
	size_t base, n;
	char *s;

	json_object_set_new(m, "pad", json_string(""));
	if (frame_encode(m, 0, &buf, &base) != FRAME_OK)
		return NULL;
	free(buf);
	n = target > base ? target - base : 0;
	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		s[i] = "abcdefghijklmnopqrstuvwxyz0123456789 "[i % 37];
	s[n] = '\0';
	pad = json_stringn(s, n);
	free(s);
	json_object_set(m, "pad", pad);
	if (frame_encode(m, 0, &buf, frame) != FRAME_OK) {
		json_decref(pad);
		pad = NULL;
	}
	free(buf);
	json_decref(m);
	return pad;
}

/* Ping over fd until the cell is complete or fails; fd is ours to close. */
static void
ping_loop(struct pinger *pi, int fd)
{
	uv_loop_t loop;

	if (uv_loop_init(&loop) != 0) {
		close(fd);
		pi->end.failed = true;
		return;
	}
	if (channel_init(&loop, &pi->ch, FRAME_MAX_DEFAULT, &ping_ops,
	    pi) != 0) {
		close(fd);
		pi->end.failed = true;
		uv_loop_close(&loop);
		return;
	}
	attach_both(&pi->ch);
	if (channel_open_fd(&pi->ch, fd) != 0) {
		close(fd);
		channel_close(&pi->ch, "cannot open the channel");
	} else if (channel_start(&pi->ch) != 0)
		channel_close(&pi->ch, "cannot read the channel");
	else {
		run_init(&pi->run);
		send_ping(pi);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		pi->end.failed = true;
}

/*
 * The Python child: masterd-child's ping handler in asyncio.  argv[1] is
 * the socket's fd.  A clean EOF from the parent ends it with status 0.
 */
static const char py_pong[] =
    "import asyncio, json, socket, struct, sys\n"
    "def restore(msg, att):\n"
    "    off = 0\n"
    "    for e in msg.pop('@attach'):\n"
    "        v = msg\n"
    "        for step in e[1:-1]:\n"
    "            v = v[step]\n"
    "        if e[0] <= 0 or v[e[-1]] != '':\n"
    "            raise ValueError('bad @attach')\n"
    "        v[e[-1]] = att[off:off + e[0]].decode()\n"
    "        off += e[0]\n"
    "    if off != len(att):\n"
    "        raise ValueError('bad attachment')\n"
    "    return msg\n"
    "def encode(msg):\n"
    "    out, ann, parts = {}, [], []\n"
    "    for k, v in msg.items():\n"
    "        if type(v) is str and len(v) >= 256 and '\\0' not in v:\n"
    "            b = v.encode()\n"
    "            parts.append(b)\n"
    "            ann.append([len(b), k])\n"
    "            v = ''\n"
    "        out[k] = v\n"
    "    if ann:\n"
    "        out['@attach'] = ann\n"
    "    body = json.dumps(out, separators=(',', ':'),\n"
    "        ensure_ascii=False).encode()\n"
    "    if ann:\n"
    "        body = b'\\0'.join((body, b''.join(parts)))\n"
    "    return struct.pack('>I', len(body)) + body\n"
    "async def main(fd):\n"
    "    sock = socket.socket(fileno=fd)\n"
    "    r, w = await asyncio.open_connection(sock=sock)\n"
    "    n = 0\n"
    "    while True:\n"
    "        try:\n"
    "            hdr = await r.readexactly(4)\n"
    "        except asyncio.IncompleteReadError as e:\n"
    "            return 1 if e.partial else 0\n"
    "        (size,) = struct.unpack('>I', hdr)\n"
    "        data = await r.readexactly(size)\n"
    "        nul = data.find(0)\n"
    "        if nul < 0:\n"
    "            msg = json.loads(data)\n"
    "        else:\n"
    "            msg = restore(json.loads(data[:nul]), data[nul + 1:])\n"
    "        if msg.get('type') != 'ping' or type(msg.get('id')) is not int:\n"
    "            return 1\n"
    "        n += 1\n"
    "        w.write(encode({'type': 'pong', 'id': n, 're': msg['id'],\n"
    "            'pad': msg['pad']}))\n"
    "        await w.drain()\n"
    "sys.exit(asyncio.run(main(int(sys.argv[1]))))\n";

static int
py_main(int fd, size_t unused)
{
	char fdarg[16];

	(void)unused;
	/* The socketpair is close-on-exec; this end must cross. */
	if (fcntl(fd, F_SETFD, 0) != 0)
		return 1;
	snprintf(fdarg, sizeof(fdarg), "%d", fd);
	execlp("python3", "python3", "-c", py_pong, fdarg, (char *)NULL);
	return 127;
}

/* 0 when python3 runs at all: else its column says n/a. */
static int
python_present(void)
{
	static int present = -1;

	if (present < 0)
		present = system("python3 -c '' >/dev/null 2>&1") == 0;
	return present ? 0 : -1;
}

/*
 * -r: a middle process between the parent and the C child, as the relay
 * is between masterd and a worker.  Either it parses, validates and
 * re-encodes every message ("parses", as the relay once did), or it
 * passes each frame on unparsed after frame_peek ("passes", as the relay
 * now does with work for a running worker and most of a worker's
 * messages).
 */
struct middle {
	struct end end;
	struct channel up, down;
	bool pass;
	int open;		/* channels not yet closed */
};

static void
mid_close(struct channel *ch, const char *why, void *arg)
{
	struct middle *mi = arg;

	end_on_close(ch, why, arg);
	mi->open--;
	channel_close(ch == &mi->up ? &mi->down : &mi->up, NULL);
}

static void
mid_up_msg(struct channel *ch, json_t *msg, void *arg)
{
	struct middle *mi = arg;
	const struct msg_spec *spec;
	char err[200];

	(void)ch;
	if (msg_validate(msg, CHAN_CHILD, PEER_MASTER, &spec, err,
	    sizeof(err)) != 0 || channel_send(&mi->down, msg) != 0) {
		mi->end.failed = true;
		channel_close(&mi->up, "middle: bad ping");
	}
}

static void
mid_down_msg(struct channel *ch, json_t *msg, void *arg)
{
	struct middle *mi = arg;
	const struct msg_spec *spec;
	char err[200];

	(void)ch;
	if (msg_validate(msg, CHAN_CHILD, PEER_CHILD, &spec, err,
	    sizeof(err)) != 0 || channel_send(&mi->up, msg) != 0) {
		mi->end.failed = true;
		channel_close(&mi->up, "middle: bad pong");
	}
}

/* Passing: a frame_peek, as the relay's, then the bytes on to the other
 * channel. */
static bool
mid_frame(struct channel *ch, const unsigned char *p, size_t n, void *arg)
{
	struct middle *mi = arg;
	struct frame_peek pk;

	if (frame_peek(p, n, &pk) != 0 || pk.type_len == 0)
		return false;
	return channel_send_frame(ch == &mi->up ? &mi->down : &mi->up, p,
	    n) != CHANNEL_ETOOBIG;
}

static const struct channel_ops mid_up_ops = {
	.on_msg = mid_up_msg,
	.on_close = mid_close,
};
static const struct channel_ops mid_pass_up_ops = {
	.on_msg = mid_up_msg,
	.on_close = mid_close,
	.on_frame = mid_frame,
};
static const struct channel_ops mid_parse_ops = {
	.on_msg = mid_down_msg,
	.on_close = mid_close,
};
static const struct channel_ops mid_pass_ops = {
	.on_msg = mid_down_msg,
	.on_close = mid_close,
	.on_frame = mid_frame,
};

static int
mid_main(int fd, size_t pass)
{
	struct middle mi = { { "middle", false }, .pass = pass != 0 };
	uv_loop_t loop;
	pid_t pid;
	int down;

	if ((pid = fork_peer(pong_main, 0, &down)) == -1)
		return 1;
	if (uv_loop_init(&loop) != 0 ||
	    channel_init(&loop, &mi.up, FRAME_MAX_DEFAULT, mi.pass ?
	    &mid_pass_up_ops : &mid_up_ops, &mi) != 0 ||
	    channel_init(&loop, &mi.down, FRAME_MAX_DEFAULT, mi.pass ?
	    &mid_pass_ops : &mid_parse_ops, &mi) != 0)
		return 1;
	attach_both(&mi.up);
	attach_both(&mi.down);
	if (channel_open_fd(&mi.up, fd) != 0 ||
	    channel_open_fd(&mi.down, down) != 0 ||
	    channel_start(&mi.up) != 0 || channel_start(&mi.down) != 0)
		return 1;
	mi.open = 2;
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		mi.end.failed = true;
	if (reap(pid, "middle's") != 0)
		mi.end.failed = true;
	return mi.end.failed ? 1 : 0;
}

static int
bench_protocol(int (*peer)(int, size_t), size_t arg, size_t target,
    struct result *res)
{
	struct pinger pi;
	size_t frame = 0;
	pid_t pid;
	int fd, rc = -1;

	/* Fork first: the child then holds none of the parent's buffers. */
	memset(&pi, 0, sizeof(pi));
	pi.end.name = "parent";
	if ((pid = fork_peer(peer, arg, &fd)) == -1)
		return -1;
	if ((pi.pad = make_pad(target, &frame)) == NULL) {
		close(fd);
		pi.end.failed = true;
	} else
		ping_loop(&pi, fd);
	if (reap(pid, "protocol") == 0 && !pi.end.failed && pi.complete) {
		run_result(&pi.run, frame, res);
		rc = 0;
	}
	free(pi.run.lat);
	json_decref(pi.pad);
	return rc;
}

/* ------------------------------------------------------------ raw */

/* 1: all n bytes; 0: EOF before the first; -1: error or a short read. */
static int
read_full(int fd, unsigned char *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		if ((r = read(fd, p + got, n - got)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			return got == 0 ? 0 : -1;
		got += (size_t)r;
	}
	return 1;
}

static int
echo_main(int fd, size_t size)
{
	unsigned char *buf = malloc(size);
	int r, rc = 1;

	if (buf == NULL)
		return 1;
	while ((r = read_full(fd, buf, size)) == 1) {
		if (write_all(fd, buf, size) != 0)
			break;
	}
	if (r == 0)
		rc = 0;
	free(buf);
	close(fd);
	return rc;
}

static int
bench_raw(size_t size, struct result *res)
{
	unsigned char *out, *in;
	struct run run;
	uint64_t t0;
	pid_t pid;
	int fd, rc = -1;

	memset(&run, 0, sizeof(run));
	if ((pid = fork_peer(echo_main, size, &fd)) == -1)
		return -1;
	out = malloc(size);
	in = malloc(size);
	if (out != NULL && in != NULL) {
		memset(out, 'x', size);
		run_init(&run);
		do {
			t0 = now_ns();
			if (write_all(fd, out, size) != 0 ||
			    read_full(fd, in, size) != 1) {
				perror("bench_proto: raw echo");
				break;
			}
		} while (!run_record(&run, t0, now_ns()));
	}
	close(fd);
	if (reap(pid, "raw") == 0 && run.end != 0) {
		run_result(&run, size, res);
		rc = 0;
	}
	free(run.lat);
	free(out);
	free(in);
	return rc;
}

/* ------------------------------------------------------------ main */

/* Laid out by hand: "µ" is two bytes, so printf widths would be off. */
static void
print_header(void)
{
	printf("         | masterd protocol  | Python asyncio    |"
	    " raw socketpair    | ratios of mean latency\n");
	printf("frame B  |  mean µs   p99 µs |  mean µs   p99 µs |"
	    "  mean µs   p99 µs | proto/raw  py/raw py/proto\n");
}

/* y is NULL when the Python peer did not run. */
static void
print_row(const struct result *p, const struct result *y,
    const struct result *r)
{
	printf("%-8zu | %8.1f %8.1f |", p->frame, p->mean_us, p->p99_us);
	if (y != NULL)
		printf(" %8.1f %8.1f |", y->mean_us, y->p99_us);
	else
		printf(" %8s %8s |", "n/a", "n/a");
	printf(" %8.1f %8.1f | %8.2fx", r->mean_us, r->p99_us,
	    p->mean_us / r->mean_us);
	if (y != NULL)
		printf(" %6.2fx %7.2fx\n", y->mean_us / r->mean_us,
		    y->mean_us / p->mean_us);
	else
		printf(" %7s %8s\n", "n/a", "n/a");
	fflush(stdout);
}

static int
parse_args(int argc, char **argv)
{
	unsigned long long v;
	char *end;
	int ch;

	while ((ch = getopt(argc, argv, "p:rs:t:")) != -1) {
		switch (ch) {
		case 'r':
			relay_table = true;
			break;
		case 'p':
			if (strcmp(optarg, "same") == 0)
				only_place = PLACE_SAME;
			else if (strcmp(optarg, "split") == 0)
				only_place = PLACE_SPLIT;
			else if (strcmp(optarg, "free") == 0)
				only_place = PLACE_FREE;
			else
				return -1;
			break;
		case 's':
			v = strtoull(optarg, &end, 10);
			if (*end != '\0' || v < 32 || v > FRAME_MAX_DEFAULT)
				return -1;
			only_size = (size_t)v;
			break;
		case 't':
			cell_secs = strtod(optarg, &end);
			if (*end != '\0' || cell_secs < 0.01 || cell_secs > 600)
				return -1;
			break;
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

static void
print_title(void)
{
	if (cpus[0] < 0)
		printf("Placement left to the scheduler:\n");
	else if (cpus[0] == cpus[1])
		printf("Both processes on one CPU (cpu %d):\n", cpus[0]);
	else
		printf("Parent and child on two CPUs (cpus %d and %d):\n",
		    cpus[0], cpus[1]);
}

/* -r: one hop, then two through a middle that parses or passes. */
static int
relay(enum placement pl)
{
	struct result one, parse, pass;
	int rc = 0;

	if (place(pl) != 0) {
		printf("Parent and child on two CPUs: skipped, fewer than two "
		    "CPUs allowed\n");
		return 0;
	}
	print_title();
	printf("(the middle process runs on the child's CPU)\n");
	printf("         | one hop           | middle parses     |"
	    " middle passes     | ratios to one hop\n");
	printf("frame B  |  mean µs   p99 µs |  mean µs   p99 µs |"
	    "  mean µs   p99 µs |  parses  passes\n");
	for (size_t i = 0; i < NSIZES; i++) {
		size_t size = only_size != 0 ? only_size : sizes[i];

		if (bench_protocol(pong_main, 0, size, &one) != 0 ||
		    bench_protocol(mid_main, 0, size, &parse) != 0 ||
		    bench_protocol(mid_main, 1, size, &pass) != 0) {
			fprintf(stderr, "bench_proto: %zu-byte cell failed\n",
			    size);
			rc = -1;
		} else {
			printf("%-8zu | %8.1f %8.1f | %8.1f %8.1f | %8.1f "
			    "%8.1f | %6.2fx %6.2fx\n", one.frame, one.mean_us,
			    one.p99_us, parse.mean_us, parse.p99_us,
			    pass.mean_us, pass.p99_us,
			    parse.mean_us / one.mean_us,
			    pass.mean_us / one.mean_us);
			fflush(stdout);
		}
		if (only_size != 0)
			break;
	}
	return rc;
}

/* One table: every size, protocol, Python, then raw. */
static int
table(enum placement pl)
{
	struct result p, y, r;
	bool have_py;
	int rc = 0;

	if (place(pl) != 0) {
		printf("Parent and child on two CPUs: skipped, fewer than two "
		    "CPUs allowed\n");
		return 0;
	}
	print_title();
	print_header();
	for (size_t i = 0; i < NSIZES; i++) {
		size_t size = only_size != 0 ? only_size : sizes[i];

		if (bench_protocol(pong_main, 0, size, &p) != 0 ||
		    bench_raw(p.frame, &r) != 0) {
			fprintf(stderr, "bench_proto: %zu-byte cell failed\n",
			    size);
			rc = -1;
		} else {
			have_py = python_present() == 0;
			if (have_py && bench_protocol(py_main, 0, size,
			    &y) != 0) {
				fprintf(stderr, "bench_proto: %zu-byte Python "
				    "cell failed\n", size);
				rc = -1;
				have_py = false;
			}
			print_row(&p, have_py ? &y : NULL, &r);
		}
		if (only_size != 0)
			break;
	}
	return rc;
}

int
main(int argc, char **argv)
{
	int rc;

	if (parse_args(argc, argv) != 0) {
		fprintf(stderr, "usage: bench_proto [-r] [-p same|split|free] "
		    "[-s frame_bytes] [-t seconds_per_cell]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		CPU_ZERO(&allowed);
	if (relay_table)
		rc = relay(only_place != PLACE_NONE ? only_place : PLACE_SAME);
	else
		rc = table(only_place != PLACE_NONE ? only_place : PLACE_SAME);
	printf("(a round trip is a frame of about the size shown each way; "
	    "%g s per cell after a warm-up)\n", cell_secs);
	return rc != 0;
}
