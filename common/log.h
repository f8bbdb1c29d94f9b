/*
 * log.h — leveled logging to stderr.
 *
 * Under journald (stderr is the stream named by $JOURNAL_STREAM) each line
 * carries an sd-daemon "<N>" priority prefix and no timestamp; anywhere else
 * lines are plain and timestamped.  One write(2) per line, so lines from
 * the master and its children never interleave mid-line.
 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

/* Levels are syslog priorities: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO,
 * LOG_DEBUG. */

typedef void log_sink_fn(int level, const char *line, void *arg);

void log_init(const char *ident, int level);
void log_set_level(int level);
/* After detaching from the terminal: send lines to syslog(3) instead. */
void log_use_syslog(void);
int log_get_level(void);
bool log_is_journal(void);

/* Replace the stderr writer (tests); NULL restores it. */
void log_set_sink(log_sink_fn *fn, void *arg);

/* "err", "warning", "notice", "info", "debug" -> level, or -1. */
int log_level_parse(const char *name);
const char *log_level_name(int level);

void log_msg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap);

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
