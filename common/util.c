/*
 * util.c — the allocator policy, UTF-8 repair, write_all, remove_tree,
 * JSON getters, base64 and the process's hardening (util.h says why each
 * is here once).
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

/* ------------------------------------------------------------ memory */

static void __attribute__((noreturn))
out_of_memory(size_t n)
{
	/* No allocation from here on: log_msg formats on the stack. */
	log_err("out of memory (asked for %zu bytes)", n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		out_of_memory(n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		out_of_memory(n * size);
	return p;
}

void *
xrealloc(void *old, size_t n)
{
	void *p = realloc(old, n == 0 ? 1 : n);

	if (p == NULL)
		out_of_memory(n);
	return p;
}

void *
xreallocarray(void *old, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		out_of_memory(SIZE_MAX);
	return xrealloc(old, n * size);
}

void *
xgrow(void *p, size_t *cap, size_t need, size_t first, size_t limit)
{
	size_t ncap;

	if (need <= *cap)
		return p;
	ncap = *cap != 0 ? *cap : first;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > limit)
		ncap = limit > need ? limit : need;
	*cap = ncap;
	return xrealloc(p, ncap);
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	char *p;

	if (vasprintf(&p, fmt, ap) < 0)
		out_of_memory(strlen(fmt));
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void
util_init(void)
{
	json_set_alloc_funcs(xmalloc, free);
}

/*
 * The API keys live in our environment and memory; the code we run as
 * checks runs as our uid.  Not dumpable, the kernel makes /proc/PID's
 * sensitive files root's and refuses ptrace to anyone without
 * CAP_SYS_PTRACE; /proc/self/exe stays readable to ourselves.
 */
int
util_harden_process(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		fprintf(stderr, "prctl(PR_SET_DUMPABLE): %s\n",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ UTF-8 */

size_t
utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need;

	if (len == 0)
		return 0;
	if (s[0] > 0 && s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;		/* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f;		/* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90;		/* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f;		/* past U+10FFFF */
	if (len < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return need;
}

void
utf8_scrub(char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		if ((n = utf8_seq((unsigned char *)s + i, len - i)) == 0) {
			s[i++] = '?';
			continue;
		}
		i += n;
	}
}

size_t
utf8_prefix(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

void
utf8_cut(char *s)
{
	size_t n = strlen(s), i, need;
	unsigned char c;

	if (n == 0)
		return;
	i = n - 1;
	while (i > 0 && n - i < 4 && ((unsigned char)s[i] & 0xc0) == 0x80)
		i--;
	c = (unsigned char)s[i];
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	if (n - i < need)
		s[i] = '\0';
}

/* ------------------------------------------------------------ I/O */

bool
path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t k = write(fd, p, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	(void)remove(path);	/* what stays is seen by the lstat below */
	return 0;
}

int
remove_tree(const char *path)
{
	struct stat st;

	(void)nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (lstat(path, &st) == 0) {
		errno = ENOTEMPTY;
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ JSON */

json_int_t
jget_int(const json_t *obj, const char *key, json_int_t def)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

const char *
jget_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

bool
jget_bool(const json_t *obj, const char *key)
{
	return json_is_true(json_object_get(obj, key));
}

/* ------------------------------------------------------------ base64 */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
base64_encode(const unsigned char *in, size_t n)
{
	char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];

		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = b64_alphabet[(v >> 6) & 63];
		*o++ = b64_alphabet[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 |
		    (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);

		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int
b64_value(int ch)
{
	const char *p;

	if (ch == '\0' || (p = strchr(b64_alphabet, ch)) == NULL)
		return -1;
	return (int)(p - b64_alphabet);
}

ssize_t
base64_decode(const char *in, size_t len, unsigned char *out)
{
	size_t o = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		bool pad2 = in[i + 2] == '=', pad3 = in[i + 3] == '=';
		int a = b64_value(in[i]), b = b64_value(in[i + 1]);
		int c = pad2 ? 0 : b64_value(in[i + 2]);
		int d = pad3 ? 0 : b64_value(in[i + 3]);

		if (a < 0 || b < 0 || c < 0 || d < 0 || (pad2 && !pad3) ||
		    ((pad2 || pad3) && i + 4 != len))
			return -1;
		out[o++] = (unsigned char)(a << 2 | b >> 4);
		if (!pad2)
			out[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
		if (!pad3)
			out[o++] = (unsigned char)((c & 3) << 6 | d);
	}
	return (ssize_t)o;
}

double
now_epoch(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
