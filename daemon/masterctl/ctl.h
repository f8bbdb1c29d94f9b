/*
 * ctl.h — what the files of masterctl share: the connection to masterd,
 * the parsed options, the output helpers and each command's entry point.
 *
 * main.c: options and dispatch; client.c: the socket and its requests;
 * out.c: values, times, width and the pager; table.c: width-aware
 * tables; live.c: the live view of watch and submit --wait; words.c:
 * what each event says; show_*.c:
 * the views of status, tasks, interfaces and transcripts; admin.c: the
 * commands that change or keep things (spawn, budget, backup, reload...).
 */
#ifndef MASTERCTL_CTL_H
#define MASTERCTL_CTL_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

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
	bool json;		/* --json: the answers as they are */
	bool verbose;		/* --verbose: every event, progress too */
	bool tty;		/* stdout is a terminal */
	bool no_pager;
	int fd;
	struct frame_decoder dec;
	json_int_t next_id;
	bool streaming;		/* watching: an EOF ends the stream quietly */
	json_t *pending;	/* events that came while a reply was awaited */
};

/* The options of every command, parsed anywhere on the line. */
struct opts {
	const char *task, *domains, *directives, *prompt, *priority, *last;
	const char *budget, *diff, *rounds, *since, *tail, *finished, *graph;
	const char *to, *branch, *repo;
	bool wait, all;
};

/* ---- client.c */
json_t *request(struct ctl *, enum msg_type);
json_t *request_named(struct ctl *, const char *type);
json_t *call(struct ctl *, json_t *req, int *status);
int call_and_print(struct ctl *, json_t *req, void (*human)(json_t *));
/* The next message; NULL at the end, an error, or (*timed_out set) when
 * timeout_ms passed.  Events queued by call() come first. */
json_t *next_message(struct ctl *, int timeout_ms, bool *timed_out);
void print_json(const json_t *, bool compact);

/* Fetch the file the connection holds (a backup, a pack) chunk by chunk
 * into fd, and let it go: EXIT_OK or why not. */
int fetch_file(struct ctl *, enum msg_type, int fd, json_int_t size);
void call_and_drop(struct ctl *, enum msg_type);

/* ---- out.c */
const char *str(const json_t *, const char *key);
long long num(const json_t *, const char *key);
double real(const json_t *, const char *key);
/* A time member: epoch seconds or ISO 8601 text; 0 when absent. */
double when(const json_t *, const char *key);
/* --since TEXT: an age, a local time, or ISO 8601; -1 when none. */
double parse_since(const char *);
void fmt_when(double t, char *buf, size_t len);	/* local, to the second */
void fmt_clock(double t, char *buf, size_t len);	/* local HH:MM:SS */
void fmt_tokens(long long n, char *buf, size_t len);	/* 1234 -> 1.2k */
void fmt_elapsed(double s, char *buf, size_t len);	/* 75 -> 1:15 */
/* Columns of the output: $COLUMNS, the terminal's width, else 0 (no
 * limit: a pipe gets whole lines). */
int out_width(void);
int text_width(const char *s);		/* in code points */
/* s on one line cut to width code points, an ellipsis where cut; the
 * first line only, control characters as termsafe shows them. */
void fit(const char *s, int width, char *out, size_t len);
void pager_start(struct ctl *);
void pager_end(void);
/* "did you mean": the nearest of names to word, or NULL. */
const char *nearest(const char *word, const char *const *names, size_t n);
int parse_id(const char *s, const char *what, json_int_t *out);
int with_task(json_t *req, const char *arg);

/* ---- table.c */
struct table;
/* cols: the headings; align: 'l' or 'r' per column; flex: the column
 * cut first when the table is too wide (-1: none). */
struct table *table_new(int ncols, const char *const *heads,
    const char *align, int flex);
void table_add(struct table *, ...);	/* ncols strings */
void table_addv(struct table *, const char *const *cells);
void table_print(struct table *, int width);
void table_free(struct table *);

/* ---- live.c */
int follow_task(struct ctl *, const struct opts *, json_int_t task);
int cmd_watch(struct ctl *, const struct opts *, int, char **);

/* ---- words.c */
struct words {
	struct ctl *c;		/* to ask what an interface version changed */
	bool verbose;		/* every event says something */
	long long unresolved;	/* the count said last */
	json_t *texts;		/* {"directive id": "its text"} */
};
/* Whether ev (an event's name) is that event. */
bool is_event(const char *ev, enum event which);
/* The line an event is worth; false for none. */
bool event_words(struct words *, const json_t *e, char *buf, size_t len);
/* The data of an event in a line, whatever the event (--verbose). */
void describe_event(const char *ev, const json_t *d, char *buf, size_t len);
const char *words_text(struct words *, long long directive);
void words_remember(struct words *, long long directive, const char *text);

/* ---- show_status.c */
int cmd_status(struct ctl *, const struct opts *, int, char **);
int cmd_tasks(struct ctl *, const struct opts *, int, char **);
int cmd_domains(struct ctl *, const struct opts *, int, char **);
void print_domains(const json_t *doms);

/* ---- show_task.c */
int cmd_task(struct ctl *, const struct opts *, int, char **);

/* ---- show_iface.c */
int cmd_interface(struct ctl *, const struct opts *, int, char **);
int cmd_interfaces(struct ctl *, const struct opts *, int, char **);

/* ---- show_transcript.c */
int cmd_transcript(struct ctl *, const struct opts *, int, char **);

/* ---- admin.c */
int cmd_submit(struct ctl *, const struct opts *, int, char **);
int cmd_directive(struct ctl *, const struct opts *, int, char **);
int cmd_spawn(struct ctl *, const struct opts *, int, char **);
int cmd_restart(struct ctl *, const struct opts *, int, char **);
int cmd_pause(struct ctl *, const struct opts *, int, char **);
int cmd_resume(struct ctl *, const struct opts *, int, char **);
int cmd_cancel(struct ctl *, const struct opts *, int, char **);
int cmd_budget(struct ctl *, const struct opts *, int, char **);
int cmd_prune(struct ctl *, const struct opts *, int, char **);
int cmd_backup(struct ctl *, const struct opts *, int, char **);
int cmd_stop(struct ctl *, const struct opts *, int, char **);
int cmd_reload(struct ctl *, const struct opts *, int, char **);
int cmd_metrics(struct ctl *, const struct opts *, int, char **);

/* ---- ask.c */
int cmd_questions(struct ctl *, const struct opts *, int, char **);
int cmd_answer(struct ctl *, const struct opts *, int, char **);
int cmd_deadline(struct ctl *, const struct opts *, int, char **);
int cmd_approve(struct ctl *, const struct opts *, int, char **);
int cmd_reject(struct ctl *, const struct opts *, int, char **);

/* ---- transfer.c */
int cmd_export(struct ctl *, const struct opts *, int, char **);
int cmd_push(struct ctl *, const struct opts *, int, char **);
/* submit --repo: the branch fetched and packed as the user, sent up
 * with `import`; req gets "import" {token, origin, branch, commit}. */
int submit_import(struct ctl *, const struct opts *, json_t *req);

#endif
