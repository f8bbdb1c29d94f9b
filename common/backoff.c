/*
 * backoff.c — jittered retry delays (equal jitter) and geometric restart
 * delays.
 */
#include "common/backoff.h"

uint64_t
backoff_geometric(uint64_t base_ms, uint64_t cap_ms, unsigned n)
{
	uint64_t d = base_ms;

	while (n-- > 0 && d < cap_ms) {
		if (d > UINT64_MAX / 2)
			return cap_ms;
		d *= 2;
	}
	return d < cap_ms ? d : cap_ms;
}

uint64_t
backoff_jitter(const struct backoff_policy *p, unsigned attempt, uint64_t rnd)
{
	uint64_t d = backoff_geometric(p->base_ms, p->cap_ms, attempt);
	uint64_t lo = d / 2;

	/* Equal jitter: never a retry within a few ms of the failure. */
	return lo + rnd % (d - lo + 1);
}
