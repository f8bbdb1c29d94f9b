/*
 * retry.h — the retry decision for one failed request.
 *
 * Reads the status and the server's own instructions (Retry-After in
 * seconds or as an HTTP date, retry-after-ms, x-should-retry) against a
 * backoff policy.  Separate from backoff.h so that masterd, which only
 * restarts children, does not link libcurl for curl_getdate.
 */
#ifndef COMMON_RETRY_H
#define COMMON_RETRY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/backoff.h"

enum retry_verdict {
	RETRY_NO,		/* the error is final: report it now */
	RETRY_AFTER,		/* try again after delay_ms */
	RETRY_GIVE_UP,		/* retryable, but attempts or time ran out */
	RETRY_DEFER,		/* the server asked for a long wait: until */
};

struct retry_input {
	int http_status;	/* 0 when no response arrived; for an error
				 * event in a stream, the status it stands
				 * for (retried as that status) */
	bool stream_error;	/* an error event inside a 200 stream */
	bool transport_error;	/* connect failure, reset, timeout */
	const char *retry_after;	/* header values, or NULL */
	const char *retry_after_ms;
	const char *should_retry;	/* x-should-retry */
	unsigned attempt;	/* attempts made so far, >= 1 */
	uint64_t elapsed_ms;	/* since the first attempt started */
	time_t now;
};

struct retry_decision {
	enum retry_verdict verdict;
	uint64_t delay_ms;	/* RETRY_AFTER */
	time_t until;		/* RETRY_DEFER: wall-clock time to resume */
	bool server_asked;	/* the wait is the server's (Retry-After,
				 * retry-after-ms), not the backoff's */
	char reason[192];
};

/* 408, 409, 429 and every 5xx (529 included). */
bool http_status_retryable(int status);

/*
 * The server's wait in ms: retry-after-ms first, then Retry-After as
 * delta-seconds or an HTTP date (relative to now).  -1 when neither is
 * present or both are unreadable.
 */
int retry_after_parse(const char *retry_after, const char *retry_after_ms,
    time_t now, uint64_t *ms);

void retry_decide(const struct backoff_policy *, const struct retry_input *,
    uint64_t rnd, struct retry_decision *);

#endif
