/*
 * failover.h — a session's provider chain: its primary and the [llm
 * "NAME"] fallbacks the configuration lists, and the one request of the
 * session under way.
 *
 * Each request goes to the first provider of the chain that masterd does
 * not hold down (the `providers` message), the primary whenever it is
 * up: so the primary is taken back as soon as it answers again.  A
 * request masterd granted the probe of a provider ("probe" in the work
 * message) tries that one once first.  With every provider held down
 * (masterd said so after the work went out) it tries the primary once,
 * not as the probe.  A request that fails for the
 * provider's sake (llm_result_outage) is reported to masterd
 * (provider.report) and sent again to the next provider up; only when
 * none is left does the caller see the failure.  A call that succeeds on
 * a provider masterd holds down is reported too: that brings it up.
 * Tokens of the failed tries are added to the result the caller sees.
 */
#ifndef CHILD_FAILOVER_H
#define CHILD_FAILOVER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "common/llm/llm.h"

struct worker;

struct failover {
	struct worker *cx;
	struct llm_chain chain;		/* borrowed from cx->conf */
	size_t current;			/* the session's provider now */
	char answered[40];		/* who answered the last success */

	/* the request under way */
	struct llm_session *s;
	struct llm_input in;		/* a copy, for sending again */
	const struct llm_callbacks *cbs;
	void *arg;
	struct llm_request **slot;	/* the caller's handle on it */
	unsigned tried;			/* bit i: provider i failed it */
	bool granted;			/* this try is masterd's probe */
	struct llm_usage spent;		/* tokens of its failed tries */
};

/* The chain of role ("domain", "critic", "planner") for cx's domain,
 * its first provider being the conf the session was made with. */
void failover_init(struct failover *, struct worker *cx, const char *role);
void failover_free(struct failover *);

/*
 * Send `in` on session s through the chain; *slot holds the request in
 * flight (NULL once on_done is called), which the caller may cancel.
 * NULL when nothing could be sent, as llm_session_send_input.
 */
struct llm_request *failover_send(struct failover *, struct llm_session *s,
    const struct llm_input *in, const struct llm_callbacks *cbs, void *arg,
    struct llm_request **slot);

/* The endpoint cx's work may probe is granted (work message "probe"),
 * or taken back (NULL). */
void failover_grant_probe(struct worker *cx, const char *endpoint);

#endif
