/*
 * util.h — the small helpers every program needs once: the allocator
 * policy, UTF-8 repair, a write that finishes, JSON field getters, base64,
 * the process made not dumpable.
 *
 * Allocation policy (tmux's): running out of memory is not an error a
 * caller can handle usefully, so x*alloc() log and abort instead of
 * returning NULL, and util_init() makes jansson allocate through them too.
 * Code that calls x*alloc() or builds JSON does not check for NULL.
 * What stays checked: sizes that come from outside (a frame, a file, a
 * model's answer), which are bounded before anything is allocated.
 */
#ifndef COMMON_UTIL_H
#define COMMON_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

/* Make jansson allocate with xmalloc; call first thing in main(). */
void util_init(void);

/*
 * Make this process not dumpable (PR_SET_DUMPABLE 0): its /proc/PID/environ,
 * mem and maps, and ptrace, are closed to other processes of the same uid
 * (a check run by a worker, say), and it writes no core file.  Call first
 * thing in main(); exec resets it, so each program calls it itself.  0, or
 * -1 after a line on stderr.
 */
int util_harden_process(void);

void *xmalloc(size_t);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *, size_t);
void *xreallocarray(void *, size_t n, size_t size);
/* A growing buffer: p (of *cap bytes) made to hold at least need bytes.
 * Capacities double from first; doubling stops at limit (never below
 * need), so that input that grows a buffer cannot make it reserve more
 * than it may use.  Returns the buffer, which may have moved. */
void *xgrow(void *p, size_t *cap, size_t need, size_t first, size_t limit);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list);

/*
 * UTF-8.  Everything masterd sends on is JSON, which must be valid UTF-8;
 * text from models, check output and peers may not be.
 */
/* Bytes of the valid sequence at s (len available), or 0: no overlong
 * forms, no surrogates, nothing past U+10FFFF. */
size_t utf8_seq(const unsigned char *s, size_t len);
/* In place, same length: every byte not in a valid sequence becomes '?'. */
void utf8_scrub(char *s, size_t len);
/* How many of the first max bytes of s (a C string) end on a character
 * boundary: a cut that stays valid UTF-8. */
size_t utf8_prefix(const char *s, size_t max);
/* Cut s in place so that it does not end inside a sequence. */
void utf8_cut(char *s);

/* Is path inside the folder dir ("src/x.c" in "src")?  dir itself is not. */
bool path_under(const char *path, const char *dir);

/* write(2) until all is written or an error other than EINTR: 0 or -1. */
int write_all(int fd, const void *buf, size_t len);

/* Remove path and all under it, never following a symlink; what cannot
 * be removed is passed over.  0 when path is gone (or never was). */
int remove_tree(const char *path);

/* Field getters for objects already shaped by a validator: a missing or
 * mistyped field reads as def (int), NULL (string) or false. */
json_int_t jget_int(const json_t *obj, const char *key, json_int_t def);
const char *jget_str(const json_t *obj, const char *key);
bool jget_bool(const json_t *obj, const char *key);

/* base64 (RFC 4648, with padding).  encode returns a new string;
 * decode writes at most len / 4 * 3 bytes to out and returns how many, or
 * -1 for input that is not base64. */
char *base64_encode(const unsigned char *in, size_t len);
ssize_t base64_decode(const char *in, size_t len, unsigned char *out);

/* The wall clock, in seconds since the epoch. */
double now_epoch(void);

/* The number of elements of an array (sys/param.h's, where BSD has it). */
#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#endif
