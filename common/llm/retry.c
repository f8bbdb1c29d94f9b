/*
 * retry.c — whether and when to try a failed request again: the status,
 * the server's own instructions, and the policy's attempts and deadline.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "common/llm/retry.h"

bool
http_status_retryable(int status)
{
	return status == 408 || status == 409 || status == 429 ||
	    (status >= 500 && status <= 599);
}

/* A non-negative decimal, whole or with a fraction; -1 otherwise. */
static int
parse_decimal(const char *s, double *out)
{
	char *end;
	double v;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0' || v < 0 || v > 1e12)
		return -1;
	*out = v;
	return 0;
}

int
retry_after_parse(const char *retry_after, const char *retry_after_ms,
    time_t now, uint64_t *ms)
{
	double v;
	time_t when;

	if (retry_after_ms != NULL && parse_decimal(retry_after_ms, &v) == 0) {
		*ms = (uint64_t)v;
		return 0;
	}
	if (retry_after == NULL)
		return -1;
	if (parse_decimal(retry_after, &v) == 0) {
		*ms = (uint64_t)(v * 1000.0);
		return 0;
	}
	/* An HTTP date; curl already knows every format servers send. */
	when = curl_getdate(retry_after, NULL);
	if (when == (time_t)-1)
		return -1;
	*ms = when > now ? (uint64_t)(when - now) * 1000 : 0;
	return 0;
}

static bool
is_retryable(const struct retry_input *in, char *why, size_t len)
{
	if (in->should_retry != NULL) {
		bool yes = strcasecmp(in->should_retry, "true") == 0;

		snprintf(why, len, "server says x-should-retry: %s",
		    yes ? "true" : "false");
		return yes;
	}
	if (in->transport_error || in->http_status == 0) {
		snprintf(why, len, "connection failed or timed out");
		return true;
	}
	/* A 200 whose stream carried an error: not an HTTP status, though
	 * retried like the one it stands for. */
	if (in->stream_error)
		snprintf(why, len, "error in the stream");
	else
		snprintf(why, len, "HTTP %d", in->http_status);
	return http_status_retryable(in->http_status);
}

void
retry_decide(const struct backoff_policy *p, const struct retry_input *in,
    uint64_t rnd, struct retry_decision *out)
{
	char why[80];
	uint64_t wait = 0;
	bool told;

	memset(out, 0, sizeof(*out));
	if (!is_retryable(in, why, sizeof(why))) {
		out->verdict = RETRY_NO;
		snprintf(out->reason, sizeof(out->reason), "%s: not retryable",
		    why);
		return;
	}
	told = retry_after_parse(in->retry_after, in->retry_after_ms, in->now,
	    &wait) == 0;
	if (told && wait > p->max_wait_ms) {
		out->verdict = RETRY_DEFER;
		out->until = in->now + (time_t)((wait + 999) / 1000);
		snprintf(out->reason, sizeof(out->reason),
		    "%s: server asks to wait %llu s", why,
		    (unsigned long long)(wait / 1000));
		return;
	}
	if (in->attempt >= p->max_attempts) {
		out->verdict = RETRY_GIVE_UP;
		snprintf(out->reason, sizeof(out->reason),
		    "%s: gave up after %u attempts", why, in->attempt);
		return;
	}
	if (!told)
		wait = backoff_jitter(p, in->attempt - 1, rnd);
	if (in->elapsed_ms + wait > p->deadline_ms) {
		out->verdict = RETRY_GIVE_UP;
		snprintf(out->reason, sizeof(out->reason),
		    "%s: retry deadline of %llu ms reached", why,
		    (unsigned long long)p->deadline_ms);
		return;
	}
	out->verdict = RETRY_AFTER;
	out->delay_ms = wait;
	out->server_asked = told;
	snprintf(out->reason, sizeof(out->reason), "%s: retry %u in %llu ms%s",
	    why, in->attempt + 1, (unsigned long long)wait,
	    told ? " as the server asked" : "");
}
