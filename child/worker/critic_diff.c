/*
 * critic_diff.c — the diff the critic is shown: the whole of it when it
 * fits the budget, else every file summarised and the hunks that fit.
 *
 * A diff here is git's patch text: per file a header ("diff --git",
 * "index", "---", "+++", or a "Binary files" line) and hunks, each from
 * its "@@" line to the next.  Hunks are never cut in the middle, but for
 * one larger than the whole room, which is shown as its first lines.
 * Room is shared fairly: every file's first hunk (whole, or cut when it
 * could never fit) is placed before any file's second, so one large file
 * cannot hide the others.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child/worker/critic.h"
#include "common/util.h"

struct hunk {
	const char *at;
	size_t len;
};

struct file_diff {
	const char *at;		/* the header */
	size_t head_len;
	char *path;
	size_t added, removed;
	struct hunk *hunks;
	size_t nhunks;
	/* what is shown */
	bool head_shown;
	size_t shown;		/* hunks [0, shown) whole */
	size_t cut;		/* bytes of hunks[shown] shown (0: none) */
	size_t cut_lines, cut_of;	/* its lines shown, of all */
	bool stopped;		/* a hunk did not fit: none after it */
};

struct diff {
	struct file_diff *files;
	size_t nfiles;
	size_t nhunks;
};

/* A growing output text. */
struct out {
	char *s;
	size_t len, cap;
};

static void
put(struct out *o, const char *p, size_t n)
{
	o->s = xgrow(o->s, &o->cap, o->len + n + 1, 4096, SIZE_MAX);
	memcpy(o->s + o->len, p, n);
	o->len += n;
	o->s[o->len] = '\0';
}

/* A chunk of the diff, ended by a newline whatever it ended with. */
static void
put_lines(struct out *o, const char *p, size_t n)
{
	put(o, p, n);
	if (n > 0 && p[n - 1] != '\n')
		put(o, "\n", 1);
}

static void __attribute__((format(printf, 2, 3)))
putf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	put(o, s, strlen(s));
	free(s);
}

/* ------------------------------------------------------------ parsing */

static bool
starts(const char *line, const char *prefix)
{
	return strncmp(line, prefix, strlen(prefix)) == 0;
}

static size_t
line_len(const char *p)
{
	const char *nl = strchr(p, '\n');

	return nl != NULL ? (size_t)(nl - p) + 1 : strlen(p);
}

/* The file's path from its header: "+++ b/P", else "--- a/P" (a
 * deletion), else the tail of "diff --git a/P b/P". */
static char *
header_path(const char *head, size_t len)
{
	const char *p = head, *end = head + len, *from = NULL, *b;
	size_t n;

	for (; p < end; p += n) {
		n = line_len(p);
		if (starts(p, "+++ b/"))
			return xstrndup(p + 6, n - 6 - (p[n - 1] == '\n'));
		if (starts(p, "--- a/"))
			from = p;
	}
	if (from != NULL) {
		n = line_len(from);
		return xstrndup(from + 6, n - 6 - (from[n - 1] == '\n'));
	}
	n = line_len(head);
	if (starts(head, "diff --git ") && (b = memmem(head, n, " b/", 3)) !=
	    NULL)
		return xstrndup(b + 3, (size_t)(head + n - b - 3) -
		    (head[n - 1] == '\n'));
	return xstrdup("?");
}

static struct file_diff *
new_file(struct diff *d, const char *at)
{
	struct file_diff *f;

	d->files = xreallocarray(d->files, d->nfiles + 1, sizeof(*d->files));
	f = &d->files[d->nfiles++];
	memset(f, 0, sizeof(*f));
	f->at = at;
	return f;
}

static void
new_hunk(struct file_diff *f, const char *at)
{
	f->hunks = xreallocarray(f->hunks, f->nhunks + 1, sizeof(*f->hunks));
	f->hunks[f->nhunks].at = at;
	f->hunks[f->nhunks++].len = 0;
}

/* Close the file's last part (its header or its last hunk) at end. */
static void
close_part(struct file_diff *f, const char *end)
{
	if (f == NULL)
		return;
	if (f->nhunks == 0)
		f->head_len = (size_t)(end - f->at);
	else
		f->hunks[f->nhunks - 1].len = (size_t)(end -
		    f->hunks[f->nhunks - 1].at);
}

static void
parse(const char *text, struct diff *d)
{
	struct file_diff *f = NULL;
	const char *p;

	for (p = text; *p != '\0'; p += line_len(p)) {
		if (f == NULL || starts(p, "diff --git ")) {
			close_part(f, p);
			f = new_file(d, p);
		} else if (starts(p, "@@")) {
			close_part(f, p);
			new_hunk(f, p);
			d->nhunks++;
		} else if (f->nhunks > 0) {
			f->added += p[0] == '+';
			f->removed += p[0] == '-';
		}
	}
	close_part(f, p);
	for (size_t i = 0; i < d->nfiles; i++)
		d->files[i].path = header_path(d->files[i].at,
		    d->files[i].head_len);
}

static void
diff_free(struct diff *d)
{
	for (size_t i = 0; i < d->nfiles; i++) {
		free(d->files[i].path);
		free(d->files[i].hunks);
	}
	free(d->files);
}

/* ------------------------------------------------------------ notes */

#define FIRST_LINE	"%zu file%s changed; shown: %zu of %zu hunks\n"
#define FILE_LINE	"%s +%zu -%zu\n"
#define NOT_SHOWN	"[hunks of %s not shown: %zu]\n"
#define CUT_NOTE	"[hunk of %s cut: its first %zu of %zu lines shown]\n"
#define NOT_LISTED	"[files not listed: %zu]\n"

/* Lengths of the notes, with numbers as wide as they can be. */
static size_t
first_line_len(const struct diff *d)
{
	return (size_t)snprintf(NULL, 0, FIRST_LINE, d->nfiles,
	    d->nfiles == 1 ? "" : "s", d->nhunks, d->nhunks);
}

static size_t
file_line_len(const struct file_diff *f)
{
	return (size_t)snprintf(NULL, 0, FILE_LINE, f->path, f->added,
	    f->removed);
}

static size_t
not_shown_len(const struct file_diff *f)
{
	return (size_t)snprintf(NULL, 0, NOT_SHOWN, f->path, f->nhunks);
}

static size_t
cut_note_len(const struct file_diff *f, size_t lines)
{
	return (size_t)snprintf(NULL, 0, CUT_NOTE, f->path, lines, lines);
}

/* ------------------------------------------------------------ choosing */

/*
 * Round k of whole hunks: each file's k-th (with the header before its
 * first) where it fits; a file whose hunk does not fit shows no later
 * one.  Whether any was placed.
 */
static bool
choose_round(struct diff *d, size_t k, size_t *room)
{
	bool placed = false;

	for (size_t i = 0; i < d->nfiles; i++) {
		struct file_diff *f = &d->files[i];
		size_t cost;

		if (f->stopped || f->shown != k)
			continue;
		if (k == f->nhunks) {
			/* No hunk at all: a header alone (binary, mode) is
			 * shown when it fits. */
			if (k == 0 && f->head_len <= *room) {
				f->head_shown = true;
				*room -= f->head_len;
			}
			f->stopped = true;
			continue;
		}
		cost = f->hunks[k].len + (k == 0 ? f->head_len : 0);
		if (cost > *room) {
			f->stopped = true;
			continue;
		}
		*room -= cost;
		f->head_shown = true;
		f->shown++;
		placed = true;
	}
	return placed;
}

static size_t
count_lines(const char *p, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += p[i] == '\n';
	return n + (len > 0 && p[len - 1] != '\n');
}

/*
 * A hunk larger than all the room there was for hunks can never be shown
 * whole: its first lines that fit are, with a note, when at least one
 * line beyond its "@@" line does.
 */
static void
choose_cut(struct diff *d, size_t *room, size_t hunk_room)
{
	for (size_t i = 0; i < d->nfiles; i++) {
		struct file_diff *f = &d->files[i];
		const struct hunk *h;
		size_t head, lines, fixed, len = 0, n = 0, l;

		if (!f->stopped || f->cut > 0 || f->shown >= f->nhunks ||
		    f->hunks[f->shown].len <= hunk_room)
			continue;
		h = &f->hunks[f->shown];
		head = f->shown == 0 ? f->head_len : 0;
		lines = count_lines(h->at, h->len);
		fixed = head + cut_note_len(f, lines);
		while (len < h->len) {
			l = line_len(h->at + len);
			if (fixed + len + l > *room)
				break;
			len += l;
			n++;
		}
		if (n < 2)
			continue;
		*room -= fixed + len;
		f->head_shown = true;
		/* Lines below the "@@" line. */
		f->cut = len;
		f->cut_lines = n - 1;
		f->cut_of = lines - 1;
	}
}

/* ------------------------------------------------------------ writing */

static void
write_summary(struct out *o, const struct diff *d, size_t shown)
{
	putf(o, FIRST_LINE, d->nfiles, d->nfiles == 1 ? "" : "s", shown,
	    d->nhunks);
	for (size_t i = 0; i < d->nfiles; i++)
		putf(o, FILE_LINE, d->files[i].path, d->files[i].added,
		    d->files[i].removed);
}

static void
write_file(struct out *o, const struct file_diff *f)
{
	size_t left = f->nhunks - f->shown - (f->cut > 0);

	if (f->head_shown)
		put_lines(o, f->at, f->head_len);
	for (size_t k = 0; k < f->shown; k++)
		put_lines(o, f->hunks[k].at, f->hunks[k].len);
	if (f->cut > 0) {
		put_lines(o, f->hunks[f->shown].at, f->cut);
		putf(o, CUT_NOTE, f->path, f->cut_lines, f->cut_of);
	}
	if (left > 0)
		putf(o, NOT_SHOWN, f->path, left);
}

/* Not even the summary fits: its first line, and file lines that fit. */
static char *
summary_only(const struct diff *d, size_t budget)
{
	struct out o = { 0 };
	size_t room, note, i;

	putf(&o, FIRST_LINE, d->nfiles, d->nfiles == 1 ? "" : "s", (size_t)0,
	    d->nhunks);
	note = (size_t)snprintf(NULL, 0, NOT_LISTED, d->nfiles);
	room = budget > o.len + note ? budget - o.len - note : 0;
	for (i = 0; i < d->nfiles; i++) {
		if (file_line_len(&d->files[i]) > room)
			break;
		room -= file_line_len(&d->files[i]);
		putf(&o, FILE_LINE, d->files[i].path, d->files[i].added,
		    d->files[i].removed);
	}
	if (i < d->nfiles)
		putf(&o, NOT_LISTED, d->nfiles - i);
	return o.s;
}

char *
critic_fit_diff(const char *diff, size_t budget)
{
	struct diff d = { 0 };
	struct out o = { 0 };
	size_t fixed, room, hunk_room, shown = 0;

	if (strlen(diff) <= budget)
		return xstrdup(diff);
	parse(diff, &d);
	/* The summary, a blank line, each file's note and a newline that
	 * a last line without one may need. */
	fixed = first_line_len(&d) + 1 + 1;
	for (size_t i = 0; i < d.nfiles; i++)
		fixed += file_line_len(&d.files[i]) +
		    not_shown_len(&d.files[i]);
	if (fixed >= budget) {
		char *s = summary_only(&d, budget);

		diff_free(&d);
		return s;
	}
	/* Every file's first hunk, whole or cut, before any file's second;
	 * a later hunk too large for any room is cut last. */
	room = hunk_room = budget - fixed;
	choose_round(&d, 0, &room);
	choose_cut(&d, &room, hunk_room);
	for (size_t k = 1; choose_round(&d, k, &room); k++)
		;
	choose_cut(&d, &room, hunk_room);
	for (size_t i = 0; i < d.nfiles; i++)
		shown += d.files[i].shown;
	write_summary(&o, &d, shown);
	put(&o, "\n", 1);
	for (size_t i = 0; i < d.nfiles; i++)
		write_file(&o, &d.files[i]);
	diff_free(&d);
	return o.s;
}
