/*
 * benchlib.h — the harness the daemon benchmarks share: a temporary state
 * directory, the real masterd started on it with its log kept, and given
 * up on cleanly (stopped, log shown, directory removed); one framed
 * connection to its control socket; /proc memory figures; the clock.
 *
 * A benchmark fills B.prog and B.masterd, calls bench_make_dir(), writes
 * B.conf and calls bench_spawn_masterd().
 */
#ifndef TESTS_BENCH_BENCHLIB_H
#define TESTS_BENCH_BENCHLIB_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#include "proto/frame.h"

/* The benchmark's one daemon and where it keeps its state. */
struct bench {
	const char *prog;	/* this benchmark, to prefix messages */
	const char *masterd;
	char dir[256];		/* the temporary directory */
	char state[300];
	char sock[300];
	char conf[300];
	char log[300];
	pid_t pid;		/* masterd; 0 when not running */
	/* A systemd notification socket and watchdog for masterd (its
	 * WATCHDOG=1 beats tell its loop's stalls), or NULL: none. */
	const char *notify_socket;
	const char *watchdog_usec;
};

extern struct bench B;

/* One connection to the control socket, with its own decoder. */
struct client {
	int fd;
	struct frame_decoder dec;
	json_int_t id;		/* the last request's */
};

double now_s(void);
void sleep_ms(long);

/* Give up: stop masterd if it runs, show its log, remove the state. */
void die(const char *, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Is path, or the file `beside` in path's directory, executable? */
bool bench_executable(const char *path, const char *beside);
/*
 * Ready to start masterd: it and the programs named in `beside` (NULL
 * ends the list) are executable, SIGPIPE is ignored and B's temporary
 * directory is made; false, said on stderr, when a program is missing.
 */
bool bench_init(const char *prog, const char *masterd,
    const char *const *beside);
void bench_remove_dir(void);
/* Write B.conf from a format, or die. */
void bench_write_config(const char *, ...)
    __attribute__((format(printf, 1, 2)));
/* fork+exec masterd in the foreground on B's paths, logging to B.log. */
void bench_spawn_masterd(void);
/* Wait up to secs for masterd to exit; its status, or -1. */
int bench_wait_exit(double secs);
/* After masterd accepted `stop`: it must exit 0 within secs. */
void bench_wait_stopped(double secs);

int client_open(struct client *);
void client_close(struct client *);
/* The next whole message, or NULL at EOF, on an error or at deadline
 * (now_s() time; 0 blocks without one). */
json_t *client_read(struct client *, double deadline);
/* Give req the next id and send it: that id, or -1.  Steals req. */
json_int_t client_send(struct client *, json_t *req);

/* A field of /proc/PID/status or smaps_rollup, in KiB; -1 if unknown. */
long proc_kib(pid_t pid, const char *file, const char *field);

/*
 * masterd's loop stalls, told by a systemd watchdog: bench_watchdog()
 * before bench_spawn_masterd() gives masterd a notification socket and a
 * watchdog of 2 * BENCH_BEAT_MS (notify.c then sends WATCHDOG=1 every
 * BENCH_BEAT_MS while its loop turns), and a thread of ours notes when
 * each beat arrives.  bench_longest_stall_ms() is the longest gap between
 * two beats within [from, to] (now_s() times), less the period: how long
 * the loop went without a turn, to a millisecond or so.
 */
#define BENCH_BEAT_MS	1
void bench_watchdog(void);
double bench_longest_stall_ms(double from, double to);

/* For qsort() of doubles, ascending. */
int cmp_double(const void *, const void *);

#endif
