/*
 * testutil.c — data the unit tests share, linked into every one of them
 * (the helpers themselves are static inline in testutil.h).
 */
#include <syslog.h>

#include "tests/unit/testutil.h"

/* Every log level name masterd accepts (log.c, config.c), with its level. */
const struct tu_log_level tu_log_levels[] = {
	{ "err", LOG_ERR }, { "error", LOG_ERR },
	{ "warning", LOG_WARNING }, { "warn", LOG_WARNING },
	{ "notice", LOG_NOTICE }, { "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
};
const size_t tu_nlog_levels = TU_NITEMS(tu_log_levels);
