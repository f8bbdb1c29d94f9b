/*
 * commitmsg.c — the commit message of a round, and reading it back.
 *
 * A worker that dies between its commit and its report finds the commit
 * again by its Masterd-Directive trailer and reports it instead of doing
 * the directive twice.  So the trailers must be masterd's alone: text a
 * model wrote (the summary, a planner's directive text) can never make a
 * commit count as another directive's.  The trailers are the message's
 * last paragraph, which masterd always writes after the model's text, and
 * only that paragraph is read back, in exactly the form written.  The
 * model's lines that a reader of `git log` or git's own trailer parser
 * could take for masterd's (a "Masterd-" line, a "---" line, which git
 * takes as the start of a patch) are indented.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "child/worker/commitmsg.h"
#include "common/util.h"

#define SUBJECT_MAX 72

static const char trailer_directive[] = "Masterd-Directive: ";
static const char trailer_round[] = "Masterd-Round: ";

/* The message being written, into a buffer sized for the worst case. */
struct msgbuf {
	char *p;
	size_t len;
};

static void
put(struct msgbuf *m, const char *s, size_t n)
{
	memcpy(m->p + m->len, s, n);
	m->len += n;
}

/* Control characters (but tab) become spaces: they are not for a log. */
static void
append_clean(struct msgbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		b->p[b->len++] = (c < 0x20 && c != '\t') || c == 0x7f ? ' ' :
		    (char)c;
	}
}

/* The directive's first line, at most SUBJECT_MAX bytes of whole
 * characters, without trailing blanks. */
static void
append_subject(struct msgbuf *b, const char *text, int64_t directive)
{
	size_t n = strcspn(text, "\n");

	if (n > SUBJECT_MAX)
		n = utf8_prefix(text, SUBJECT_MAX);
	while (n > 0 && isspace((unsigned char)text[n - 1]))
		n--;
	if (n == 0)
		b->len += (size_t)sprintf(b->p + b->len, "directive %" PRId64,
		    directive);
	else
		append_clean(b, text, n);
}

static bool
looks_like_ours(const char *line, size_t n)
{
	while (n > 0 && (*line == ' ' || *line == '\t'))
		line++, n--;
	return (n >= 8 && strncasecmp(line, "masterd-", 8) == 0) ||
	    (n >= 3 && strncmp(line, "---", 3) == 0);
}

/* The summary, line by line; nothing after its last non-blank line. */
static void
append_summary(struct msgbuf *b, const char *summary)
{
	const char *p = summary, *end = summary + strlen(summary);

	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (looks_like_ours(p, n))
			put(b, "  ", 2);
		append_clean(b, p, n);
		put(b, "\n", 1);
		p += n;
		if (p < end && *p == '\r')
			p++;
		if (p < end && *p == '\n')
			p++;
	}
}

char *
commitmsg_build(const char *directive_text, const char *summary,
    int64_t directive, int round)
{
	size_t slen = summary != NULL ? strlen(summary) : 0;
	/* Each summary line may gain an indent of two and a newline. */
	struct msgbuf b = { xmalloc(SUBJECT_MAX + 3 * slen + 160), 0 };

	append_subject(&b, directive_text != NULL ? directive_text : "",
	    directive);
	put(&b, "\n\n", 2);
	if (summary != NULL && *summary != '\0') {
		append_summary(&b, summary);
		put(&b, "\n", 1);
	}
	b.len += (size_t)sprintf(b.p + b.len, "%s%" PRId64 "\n%s%" PRId64
	    "/%d\n", trailer_directive, directive, trailer_round, directive,
	    round);
	return b.p;
}

/* A decimal number of 1 to 18 digits at *p, no sign, no blank. */
static bool
take_number(const char **p, int64_t *v)
{
	const char *s = *p;
	int64_t n = 0;
	int digits = 0;

	while (isdigit((unsigned char)*s) && digits < 18) {
		n = n * 10 + (*s++ - '0');
		digits++;
	}
	if (digits == 0 || isdigit((unsigned char)*s))
		return false;
	*p = s;
	*v = n;
	return true;
}

static bool
take(const char **p, const char *literal)
{
	size_t n = strlen(literal);

	if (strncmp(*p, literal, n) != 0)
		return false;
	*p += n;
	return true;
}

int
commitmsg_parse(const char *message, int64_t *directive, int *round)
{
	const char *last = NULL, *p;
	int64_t d, again, r;

	for (p = message; (p = strstr(p, "\n\n")) != NULL; p++)
		last = p + 2;
	if (last == NULL)
		return -1;
	while (*last == '\n')	/* more blank lines before the paragraph */
		last++;
	p = last;
	if (!take(&p, trailer_directive) || !take_number(&p, &d) ||
	    !take(&p, "\n") || !take(&p, trailer_round) ||
	    !take_number(&p, &again) || !take(&p, "/") ||
	    !take_number(&p, &r) || !take(&p, "\n") || *p != '\0')
		return -1;
	if (d < 1 || again != d || r < 1 || r > 1000000)
		return -1;
	*directive = d;
	*round = (int)r;
	return 0;
}
