/*
 * provider.h — one circuit breaker per provider endpoint, shared by every
 * task's domains and planners, and the provider chains (a primary and its
 * fallbacks) each child works through.
 *
 * A provider is up until a child reports a call that failed past its
 * retries for the provider's sake (down, overloaded, rate limited: a
 * provider.report with ok false).  It is then down: no work that needs it
 * goes out, unless a fallback of the work's chain is up, and at
 * next_try one piece of work goes out as its probe (a single attempt).
 * The probe's failure doubles the gap to the next (up to
 * outage_probe_max); any call that succeeds on it brings it up, and
 * everything waiting resumes.  A provider down longer than
 * outage_timeout pauses the tasks waiting for it, with the reason.  The
 * breakers of providers that are down are rows of the registry: an
 * outage outlives a restart of masterd.
 */
#ifndef DAEMON_PROVIDER_H
#define DAEMON_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct masterd;
struct child;

/* What a child may do about the providers its work needs. */
enum provider_gate {
	GATE_GO,		/* each chain has a provider up */
	GATE_PROBE,		/* go, probing the endpoint given */
	GATE_WAIT,		/* a chain has none up: wait */
};

/* The breakers the registry holds (at start). */
void providers_load(struct masterd *);
void providers_free(struct masterd *);

/*
 * May child c be given work now?  GATE_PROBE fills probe (the endpoint
 * to try once first); GATE_WAIT names the provider waited for in
 * waiting.  A GATE_PROBE result must be followed by provider_probe_sent
 * when the work did go out.
 */
enum provider_gate provider_gate(struct masterd *, const struct child *c,
    char *probe, size_t probelen, char *waiting, size_t waitlen);
void provider_probe_sent(struct masterd *, struct child *c,
    const char *endpoint);
/* c's work ended (or c went down): a probe it held and did not report
 * on is given back. */
void provider_work_ended(struct masterd *, struct child *c);

/* A provider.report from c. */
void provider_report(struct masterd *, struct child *c, const json_t *msg);

/* The providers message for one child (a new one), or every child. */
void providers_send(struct masterd *, struct child *c);

/* Housekeeping: the tasks waiting longer than outage_timeout pause.
 * Called every tick. */
void providers_tick(struct masterd *);
/* The configuration was reloaded: breakers of endpoints it no longer
 * names are dropped. */
void providers_reload(struct masterd *);
/* A task was resumed: the providers whose outage paused tasks are
 * probed at once, and pause them again should the probe fail. */
void providers_retry_now(struct masterd *);

/* For status: [{"provider","endpoint","state","since","next_try",
 * "failures","reason","probe"}] for each provider down. */
json_t *providers_describe(struct masterd *);
/* For a child: {"provider","endpoint","since","next_try","reason"} of
 * the provider it waits for, or NULL. */
json_t *provider_waiting(struct masterd *, const struct child *c);

#endif
