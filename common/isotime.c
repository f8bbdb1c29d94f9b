/*
 * isotime.c — ISO 8601 times, written and read (see isotime.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/isotime.h"

void
isotime_format(double t, bool ms, char *out)
{
	time_t s = (time_t)t;
	long msec = (long)((t - (double)s) * 1000.0 + 0.5);
	struct tm tm;
	char base[24];

	if (msec >= 1000) {
		s++;
		msec -= 1000;
	}
	gmtime_r(&s, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	if (ms)
		snprintf(out, ISOTIME_LEN, "%s.%03ldZ", base, msec);
	else
		snprintf(out, ISOTIME_LEN, "%sZ", base);
}

double
isotime_parse(const char *s)
{
	struct tm tm = { 0 };
	const char *p;
	char *end;
	double frac = 0, t;
	int hh, mm;

	t = strtod(s, &end);
	if (end != s && *end == '\0')
		return t >= 0 ? t : -1;
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL &&
	    (p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm)) == NULL)
		return -1;
	if (*p == '.') {
		frac = strtod(p, &end);
		p = end;
	}
	t = (double)timegm(&tm) + frac;
	if (*p == 'Z' && p[1] == '\0')
		return t;
	if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &hh,
	    &mm) == 2)
		return t - (*p == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
	return *p == '\0' ? t : -1;
}
