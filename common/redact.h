/*
 * redact.h — a small set of secrets (the API keys a worker loaded) and
 * the functions that keep them out of text: every occurrence of any of
 * them becomes "[redacted]", in a C string or in every string of a JSON
 * value, object keys included.
 *
 * What is redacted is decoded text, before it is encoded for the wire or
 * a file: a key written JSON-escaped is the same key once decoded.
 * Occurrences that overlap or touch, of one secret or several, become one
 * "[redacted]", so that no piece of a secret is left beside the marker.
 * A secret cut short (text truncated to a size, a head and a tail kept)
 * goes too: its first REDACT_MIN bytes or more, or its last, where they
 * stand in the text.  A piece cut at both ends stays.  Secrets shorter
 * than REDACT_MIN bytes are ignored: a key that short would redact
 * ordinary words.  The set keeps copies, wiped when freed.
 */
#ifndef COMMON_REDACT_H
#define COMMON_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define REDACT_MIN	8
#define REDACT_MARK	"[redacted]"

struct redact;

struct redact *redact_new(void);
void redact_free(struct redact *);

/* Add a secret (copied).  NULL, short and already known ones are
 * ignored, without a word: a message would say something about a key. */
void redact_add(struct redact *, const char *secret);
/* How many secrets are kept. */
size_t redact_count(const struct redact *);

/* Does s (len bytes) hold any secret, or the beginning or end of one?
 * A NULL or empty set holds none. */
bool redact_has(const struct redact *, const char *s, size_t len);

/* A malloc'd copy of s with the secrets replaced (NULL s: NULL). */
char *redact_str(const struct redact *, const char *s);
/* In place on a malloc'd string: *sp is replaced by a redacted copy when
 * it holds a secret.  Returns whether it did. */
bool redact_inplace(const struct redact *, char **sp);

/* In place: every string in v, and every key of its objects.  Returns
 * whether anything changed. */
bool redact_json(const struct redact *, json_t *v);
/* A redacted deep copy of v (v itself when nothing needs redacting,
 * with a new reference). */
json_t *redact_json_copy(const struct redact *, const json_t *v);

#endif
