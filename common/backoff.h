/*
 * backoff.h — retry and restart timing.
 *
 * Two shapes: exponential backoff with full jitter for requests to a remote
 * service (many clients must not retry in step), and plain geometric delays
 * for restarting a crashed child (one supervisor, predictable for people).
 * The retry decision also reads the server's own instructions: Retry-After
 * (seconds or an HTTP date), retry-after-ms and x-should-retry.
 */
#ifndef COMMON_BACKOFF_H
#define COMMON_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct backoff_policy {
	uint64_t base_ms;	/* ceiling of the first jittered delay */
	uint64_t cap_ms;	/* ceiling of any jittered delay */
	unsigned max_attempts;	/* attempts in all, the first included */
	uint64_t deadline_ms;	/* total time for all attempts and waits */
	uint64_t max_wait_ms;	/* longest server-asked wait slept through */
};

#define BACKOFF_POLICY_DEFAULT { 500, 30000, 6, 300000, 60000 }

enum retry_verdict {
	RETRY_NO,		/* the error is final: report it now */
	RETRY_AFTER,		/* try again after delay_ms */
	RETRY_GIVE_UP,		/* retryable, but attempts or time ran out */
	RETRY_DEFER,		/* the server asked for a long wait: until */
};

struct retry_input {
	int http_status;	/* 0 when no response arrived */
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
	char reason[192];
};

/* Uniform in [0, min(cap, base * 2^attempt)]; rnd is any random value. */
uint64_t backoff_jitter(const struct backoff_policy *, unsigned attempt,
    uint64_t rnd);

/* min(cap, base * 2^n), without jitter. */
uint64_t backoff_geometric(uint64_t base_ms, uint64_t cap_ms, unsigned n);

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
