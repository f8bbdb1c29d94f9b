/*
 * setup.h — what every directive will need, checked before one needs it
 * (setup.c): the programs masterd starts, the prompts, each provider's
 * key.  A list of findings, each {"check", "level", "what", "error",
 * "fix"}:
 *
 *   check  "child", "worker", "prompts", "prompt_file" (the install: an
 *          error stops masterd from starting and refuses a reload) or
 *          "key" (a credential: an error pauses every task with the
 *          reason until it is fixed, then they go on)
 *   level  "ok", "warning" or "error"
 *   what   the thing checked, with the path or variable it used
 *   error  what is wrong (absent when ok)
 *   fix    how to fix it (absent when ok)
 */
#ifndef DAEMON_MASTERD_SETUP_H
#define DAEMON_MASTERD_SETUP_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "common/config.h"

/* Every finding for conf, child being the masterd-child masterd would
 * start.  here: `masterd -n`, run by hand, where systemd's
 * $CREDENTIALS_DIRECTORY may be missing (a warning, not an error). */
json_t *setup_check(const struct masterd_conf *, const char *child,
    bool here);
/* Only the keys' findings (each housekeeping tick). */
json_t *setup_check_keys(const struct masterd_conf *, bool here);

/* Errors among the findings of the install, or of the keys. */
size_t setup_install_errors(const json_t *findings);
size_t setup_key_errors(const json_t *findings);

/* The first key error as a pause reason, "setup: WHAT: ERROR; fix: FIX"
 * (malloc'd), or NULL when the keys are fine. */
char *setup_key_problem(const json_t *findings);

/* `masterd -n`: one line per finding; the log: the warnings and errors. */
void setup_print(FILE *, const json_t *findings);
void setup_log(const json_t *findings, const char *prefix);

#endif
