/*
 * engine.h — planning, the unresolved set, the task's life, budgets.
 */
#ifndef DAEMON_ENGINE_H
#define DAEMON_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct masterd;
struct child;

/* The planner child's domain name; no task may have a domain so named. */
#define PLANNER_NAME "planner"

/* Ask the planner which domains the task needs. */
void engine_plan(struct masterd *, int64_t task);
void engine_planner_ready(struct child *);
void engine_plan_result(struct child *, const json_t *msg);

/* After a new interface version: unresolved items become directives. */
void engine_on_publish(struct masterd *, int64_t task);
/* The unresolved set, for masterctl. */
json_t *engine_unresolved(struct masterd *, int64_t task);

/* After a round: budgets and the no-progress watchdog. */
void engine_check_limits(struct masterd *, int64_t task);
/* The user resumed: the no-progress watchdog starts afresh. */
void engine_resumed(struct masterd *, int64_t task);
int engine_set_budget(struct masterd *, int64_t task, const json_t *budget,
    char *err, size_t errlen);

/* Nothing queued or running: take the task's next step. */
void engine_idle(struct masterd *, int64_t task);

#endif
