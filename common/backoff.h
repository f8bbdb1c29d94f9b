/*
 * backoff.h — retry and restart timing.
 *
 * Two shapes: exponential backoff with "equal jitter" for requests to a
 * remote service (many clients must not retry in step, yet a retry must
 * not come a few ms after the failure: the n-th retry waits at least half
 * its ceiling), and plain geometric delays for restarting a crashed child
 * (one supervisor, predictable for people).
 * What to do about one failed request is retry.h's.
 */
#ifndef COMMON_BACKOFF_H
#define COMMON_BACKOFF_H

#include <stdint.h>

struct backoff_policy {
	uint64_t base_ms;	/* ceiling of the first jittered delay */
	uint64_t cap_ms;	/* ceiling of any jittered delay */
	unsigned max_attempts;	/* attempts in all, the first included */
	uint64_t deadline_ms;	/* total time for all attempts and waits */
	uint64_t max_wait_ms;	/* longest server-asked wait slept through */
};

#define BACKOFF_POLICY_DEFAULT { 1000, 30000, 6, 300000, 60000 }

/*
 * The wait before retry n (n from 0: the first retry): uniform in
 * [d/2, d], d = min(cap, base * 2^n); rnd is any random value.  With the
 * default policy the first retry waits 0.5-1 s, the second 1-2 s, ...
 */
uint64_t backoff_jitter(const struct backoff_policy *, unsigned attempt,
    uint64_t rnd);

/* min(cap, base * 2^n), without jitter. */
uint64_t backoff_geometric(uint64_t base_ms, uint64_t cap_ms, unsigned n);

#endif
