/*
 * out.c — the small pieces of masterctl's human output: the members of an
 * answer, times (epoch seconds or ISO 8601 alike), token counts and
 * durations in few characters, the width of the terminal, text cut to it,
 * the pager, and the nearest name for "did you mean".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/isotime.h"
#include "common/util.h"
#include "daemon/masterctl/ctl.h"

const char *
str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "-";
}

long long
num(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	if (json_is_real(v))
		return (long long)json_real_value(v);
	return (long long)json_integer_value(v);
}

double
real(const json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

double
when(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	double t;

	if (json_is_string(v))
		return (t = isotime_parse(json_string_value(v))) > 0 ? t : 0;
	return json_number_value(v);
}

/*
 * What a person types for "since": an age (90s, 10m, 2h, 1d), a local
 * time today (07:20, 07:20:30), a local date and time ("2026-12-03
 * 07:20"), or ISO 8601 with its zone.  Epoch seconds, or -1.
 */
double
parse_since(const char *s)
{
	struct tm tm;
	time_t now = time(NULL);
	const char *p;
	char *end;
	double v;

	v = strtod(s, &end);
	if (end != s && v >= 0 && end[0] != '\0' && end[1] == '\0' &&
	    strchr("smhd", end[0]) != NULL && s[strspn(s, "0123456789.")] ==
	    end[0])
		return (double)now - v * (end[0] == 's' ? 1 : end[0] == 'm' ?
		    60 : end[0] == 'h' ? 3600 : 86400);
	if (strchr(s, 'T') != NULL || strchr(s, 'Z') != NULL)
		return isotime_parse(s);
	/* a failed strptime may have set fields: today again for the next */
	localtime_r(&now, &tm);
	tm.tm_sec = 0;
	if ((p = strptime(s, "%Y-%m-%d %H:%M", &tm)) == NULL) {
		localtime_r(&now, &tm);
		tm.tm_sec = 0;
		if ((p = strptime(s, "%H:%M", &tm)) == NULL)
			return -1;
	}
	if (*p == ':' && (p = strptime(p, ":%S", &tm)) == NULL)
		return -1;
	if (*p != '\0')
		return -1;
	tm.tm_isdst = -1;
	return (double)mktime(&tm);
}

static void
fmt_local(double t, const char *f, char *buf, size_t len)
{
	time_t s = (time_t)t;
	struct tm tm;

	if (t <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	localtime_r(&s, &tm);
	strftime(buf, len, f, &tm);
}

void
fmt_when(double t, char *buf, size_t len)
{
	fmt_local(t, "%Y-%m-%d %H:%M:%S", buf, len);
}

void
fmt_clock(double t, char *buf, size_t len)
{
	fmt_local(t, "%H:%M:%S", buf, len);
}

void
fmt_tokens(long long n, char *buf, size_t len)
{
	if (n < 1000)
		snprintf(buf, len, "%lld", n);
	else if (n < 1000000)
		snprintf(buf, len, "%.1fk", (double)n / 1e3);
	else
		snprintf(buf, len, "%.1fM", (double)n / 1e6);
}

void
fmt_elapsed(double s, char *buf, size_t len)
{
	long long t = s > 0 ? (long long)s : 0;

	if (t >= 3600)
		snprintf(buf, len, "%lld:%02lld:%02lld", t / 3600,
		    t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%lld:%02lld", t / 60, t % 60);
}

int
out_width(void)
{
	const char *env = getenv("COLUMNS");
	struct winsize ws;
	long v;

	if (env != NULL && (v = strtol(env, NULL, 10)) >= 20 && v < 10000)
		return (int)v;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ,
	    &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 0;
}

int
text_width(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/*
 * s with its control characters as the visible escapes termsafe shows
 * (C0 as \xNN, DEL as \x7f, C1 as \u00NN; a tab as a space): the width
 * of what is measured is the width of what is seen.  NULL past n bytes.
 */
static char *
visible(const char *s, size_t n)
{
	char *out = xmalloc(n * 6 + 1), *o = out;
	unsigned char ch;

	for (size_t i = 0; i < n; i++) {
		ch = (unsigned char)s[i];
		if (ch == '\t')
			*o++ = ' ';
		else if (ch < 0x20 || ch == 0x7f)
			o += sprintf(o, "\\x%02x", ch);
		else if (ch == 0xC2 && i + 1 < n &&
		    (unsigned char)s[i + 1] >= 0x80 &&
		    (unsigned char)s[i + 1] <= 0x9f)
			o += sprintf(o, "\\u%04x", (unsigned char)s[++i]);
		else
			*o++ = (char)ch;
	}
	*o = '\0';
	return out;
}

void
fit(const char *text, int width, char *out, size_t len)
{
	size_t first = strcspn(text, "\n"), o = 0, i, nl;
	bool more = text[first] == '\n' && text[first + 1] != '\0';
	char *s = visible(text, first);
	int w = 0, total = 0, limit;
	bool cut;

	nl = strlen(s);
	if (len < 4) {
		if (len > 0)
			out[0] = '\0';
		free(s);
		return;
	}
	for (i = 0; i < nl; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			total++;
	cut = more || (width > 0 && total > width);
	limit = width <= 0 ? total : cut ? width - 1 : width;
	for (i = 0; i < nl; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch & 0xC0) != 0x80 && w++ == limit)
			break;
		if (o + 4 >= len) {
			/* out is full: drop a character cut in its middle */
			while (o > 0 && ((unsigned char)out[o - 1] & 0xC0) ==
			    0x80)
				o--;
			if (o > 0 && (unsigned char)out[o - 1] >= 0xC0)
				o--;
			cut = true;
			break;
		}
		out[o++] = (char)ch;
	}
	if (cut) {
		memcpy(out + o, "\xe2\x80\xa6", 3);	/* … */
		o += 3;
	}
	out[o] = '\0';
	free(s);
}

/* ---------------------------------------------------------- pager */

static pid_t pager_pid = -1;

/*
 * Long text on a terminal goes through $PAGER (less -FRX when unset:
 * it quits at once when the text fits).  stdout's descriptor becomes the
 * pager's pipe: the escaping stream above it writes there unchanged.
 */
void
pager_start(struct ctl *c)
{
	const char *pager = getenv("PAGER");
	int p[2];

	if (c->json || c->no_pager || !isatty(STDOUT_FILENO))
		return;
	if (pager == NULL)
		pager = "less -FRX";
	if (*pager == '\0' || strcmp(pager, "cat") == 0 || pipe(p) != 0)
		return;
	fflush(stdout);
	if ((pager_pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pager_pid == 0) {
		dup2(p[0], STDIN_FILENO);
		close(p[0]);
		close(p[1]);
		if (getenv("LESS") == NULL)
			setenv("LESS", "FRX", 1);
		execl("/bin/sh", "sh", "-c", pager, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	dup2(p[1], STDOUT_FILENO);
	close(p[1]);
	signal(SIGPIPE, SIG_IGN);
}

void
pager_end(void)
{
	int st;

	if (pager_pid < 0)
		return;
	fflush(stdout);
	close(STDOUT_FILENO);
	while (waitpid(pager_pid, &st, 0) < 0 && errno == EINTR)
		;
	pager_pid = -1;
}

/* ---------------------------------------------------------- names */

static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[64 + 1], prev, tmp;

	if (la > 64 || lb > 64)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		d[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = d[0];
		d[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			tmp = d[j];
			d[j] = a[i - 1] == b[j - 1] ? prev : 1 + (prev < d[j] ?
			    (prev < d[j - 1] ? prev : d[j - 1]) :
			    (d[j] < d[j - 1] ? d[j] : d[j - 1]));
			prev = tmp;
		}
	}
	return d[lb];
}

const char *
nearest(const char *word, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t bd = 3, d, wl = strlen(word);

	for (size_t i = 0; i < n; i++) {
		/* a prefix of three letters or more names it too */
		if (wl >= 3 && strncmp(names[i], word, wl) == 0)
			return names[i];
		if ((d = distance(word, names[i])) < bd) {
			bd = d;
			best = names[i];
		}
	}
	return best;
}

/* ---------------------------------------------------------- ids */

int
parse_id(const char *s, const char *what, json_int_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v <= 0 || errno != 0) {
		if (strcmp(what, "task") == 0)
			fprintf(stderr, "masterctl: '%s' is not a task id "
			    "(a whole number from 1)\n", s);
		else
			fprintf(stderr, "masterctl: %s takes a whole number "
			    "from 1, not '%s'\n", what, s);
		return -1;
	}
	*out = v;
	return 0;
}

int
with_task(json_t *req, const char *arg)
{
	json_int_t id;

	if (arg == NULL)
		return 0;
	if (parse_id(arg, "task", &id) != 0) {
		json_decref(req);
		return -1;
	}
	json_object_set_new(req, "task", json_integer(id));
	return 0;
}
