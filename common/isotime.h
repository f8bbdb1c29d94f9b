/*
 * isotime.h — times in the JSON masterd writes for people and programs:
 * ISO 8601 in UTC, "2026-12-03T06:20:00Z", or with milliseconds
 * ("2026-12-03T06:20:00.123Z") where sub-second order matters (events).
 */
#ifndef COMMON_ISOTIME_H
#define COMMON_ISOTIME_H

#include <stdbool.h>
#include <stddef.h>

#define ISOTIME_LEN 32

/* Epoch seconds as ISO 8601 UTC into out (ISOTIME_LEN bytes); ms: with
 * milliseconds. */
void isotime_format(double t, bool ms, char *out);
/* ISO 8601 text ("...Z", "...+01:00", fractions allowed) or plain epoch
 * seconds: epoch seconds, or -1 when it is neither. */
double isotime_parse(const char *s);

#endif
