/*
 * termsafe.c — escaping control characters for a terminal (termsafe.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/termsafe.h"

static size_t
put_c1(char *out, unsigned char second)
{
	return (size_t)sprintf(out, "\\u%04x", (unsigned)second);
}

size_t
termsafe_escape(struct termsafe *ts, const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (ts->lead) {
			ts->lead = false;
			/* U+0080..U+009F is C2 80..C2 9F */
			if (c >= 0x80 && c <= 0x9f) {
				o += put_c1(out + o, c);
				continue;
			}
			out[o++] = (char)0xc2;
		}
		if (c == 0xc2) {
			ts->lead = true;
		} else if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
			o += (size_t)sprintf(out + o, "\\x%02x", (unsigned)c);
		} else {
			out[o++] = (char)c;
		}
	}
	return o;
}

static int
write_all(int fd, const char *p, size_t n)
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

static ssize_t
stream_write(void *cookie, const char *buf, size_t n)
{
	struct termsafe *ts = cookie;
	char *out = malloc(6 * n + 7);
	size_t len;
	int rc;

	if (out == NULL)
		return -1;
	len = termsafe_escape(ts, buf, n, out);
	rc = write_all(ts->fd, out, len);
	free(out);
	return rc == 0 ? (ssize_t)n : -1;
}

static int
stream_close(void *cookie)
{
	struct termsafe *ts = cookie;
	char lead = (char)0xc2;

	/* A lone lead byte at the very end: not a C1, pass it on. */
	if (ts->lead)
		(void)write_all(ts->fd, &lead, 1);
	free(ts);
	return 0;
}

FILE *
termsafe_open(int fd, int mode)
{
	static const cookie_io_functions_t io = {
		.write = stream_write,
		.close = stream_close,
	};
	struct termsafe *ts = calloc(1, sizeof(*ts));
	FILE *f;

	if (ts == NULL)
		return NULL;
	ts->fd = fd;
	if ((f = fopencookie(ts, "w", io)) == NULL) {
		free(ts);
		return NULL;
	}
	setvbuf(f, NULL, mode, 0);
	return f;
}
