/*
 * sandbox.h — whether the checks' sandbox can be built here, as masterd
 * knows it: `masterd-worker --sandbox-probe` (child/worker/sandbox.h says
 * what it prints) run at start-up and on each reload, its verdict kept for
 * `masterd -n`, the log and `masterctl status`.
 */
#ifndef DAEMON_MASTERD_SANDBOX_H
#define DAEMON_MASTERD_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "common/config.h"

/* The probe answers within this, or counts as failed. */
#define SANDBOX_PROBE_TIMEOUT_MS	10000

struct sandbox_verdict {
	int mode;		/* enum conf_sandbox of the configuration */
	char *said;		/* where off was said (or NULL) */
	bool probed;		/* the probe was asked */
	bool available;		/* strict can be built here */
	char *summary;		/* what strict is made of here, or NULL */
	json_t *missing;	/* [{"name", "error", "fix"}]; a probe that
				 * could not run is one of them */
	json_t *notes;		/* ["..."] */
};

/* masterd-worker: beside masterd, beside the configured child, else the
 * installed one.  malloc'd. */
char *sandbox_worker_path(const struct masterd_conf *);

/*
 * Run `worker --sandbox-probe` (its own event loop, so that it can run
 * before masterd's and inside a reload) and fill v; a probe that cannot
 * run, overruns timeout_ms (SANDBOX_PROBE_TIMEOUT_MS) or answers nonsense
 * makes strict unavailable, with why and a fix in missing.
 */
void sandbox_probe(const char *worker, const struct masterd_conf *,
    uint64_t timeout_ms, struct sandbox_verdict *v);

/* worker's stdout and exit status (0, 1, 2) into v. */
void sandbox_parse(const char *worker, const char *out, int status,
    struct sandbox_verdict *v);

/* The configuration's mode, and no probe (off, not probed). */
void sandbox_verdict_init(struct sandbox_verdict *,
    const struct masterd_conf *);
void sandbox_verdict_free(struct sandbox_verdict *);

/* Whether masterd may run checks under this verdict: off, or strict and
 * available. */
bool sandbox_ok(const struct sandbox_verdict *);

/* `masterd -n`'s lines: "sandbox: strict (...)", or not available and
 * one indented line per missing part, or "sandbox: off — ...". */
void sandbox_print(FILE *, const struct sandbox_verdict *);

/* Start-up and reload: an error line per missing part with its fix, or
 * the warning of off; prefix starts each line ("" or "reload refused: "). */
void sandbox_log(const struct sandbox_verdict *, const char *prefix);

/* status's "sandbox": {"mode", "available", "summary", "notes"} */
json_t *sandbox_json(const struct sandbox_verdict *);

#endif
