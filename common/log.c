/*
 * log.c — stderr logging with journald priority prefixes.
 *
 * The logger is the one piece of process-wide state outside a daemon
 * context: every function in every file may need to log, and a process has
 * exactly one stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define LOG_LINE_MAX 4096

static struct logger {
	char ident[32];
	int level;
	bool journal;
	bool syslog;
	log_sink_fn *sink;
	void *sink_arg;
} logger = { "masterd", LOG_INFO, false, false, NULL, NULL };

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "err", [LOG_WARNING] = "warning",
	[LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

/* systemd sets JOURNAL_STREAM=dev:ino for the stream it connected. */
static bool
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *ident, int level)
{
	snprintf(logger.ident, sizeof(logger.ident), "%s",
	    ident ? ident : "masterd");
	logger.level = level;
	logger.journal = stderr_is_journal();
}

void
log_use_syslog(void)
{
	openlog(logger.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	logger.syslog = true;
}

void
log_set_level(int level)
{
	logger.level = level;
}

int
log_get_level(void)
{
	return logger.level;
}

bool
log_is_journal(void)
{
	return logger.journal;
}

void
log_set_sink(log_sink_fn *fn, void *arg)
{
	logger.sink = fn;
	logger.sink_arg = arg;
}

int
log_level_parse(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = LOG_ERR; i <= LOG_DEBUG; i++) {
		if (strcasecmp(name, level_names[i]) == 0)
			return i;
	}
	if (strcasecmp(name, "error") == 0)
		return LOG_ERR;
	if (strcasecmp(name, "warn") == 0)
		return LOG_WARNING;
	return -1;
}

const char *
log_level_name(int level)
{
	if (level < LOG_EMERG || level > LOG_DEBUG)
		return "?";
	return level_names[level];
}

static size_t
format_prefix(char *buf, size_t len, int level)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	int n;

	if (logger.syslog)
		return 0;
	if (logger.journal) {
		/* journald stamps and names the unit; children share its
		 * stream, so they say who they are. */
		if (strcmp(logger.ident, "masterd") == 0)
			n = snprintf(buf, len, "<%d>", level);
		else
			n = snprintf(buf, len, "<%d>%s: ", level, logger.ident);
		return n > 0 ? (size_t)n : 0;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	n = snprintf(buf, len, "%s.%03ld %s[%ld] %s: ", stamp,
	    ts.tv_nsec / 1000000, logger.ident, (long)getpid(),
	    log_level_name(level));
	return n > 0 ? (size_t)n : 0;
}

void
log_vmsg(int level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t off, len;
	int n, saved = errno;

	if (level > logger.level)
		return;
	off = format_prefix(line, sizeof(line) - 1, level);
	if (off >= sizeof(line) - 1)
		off = 0;
	n = vsnprintf(line + off, sizeof(line) - off - 1, fmt, ap);
	len = off + (n < 0 ? 0 : (size_t)n);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	/* A newline inside a message would forge a second log line. */
	for (size_t i = off; i < len; i++) {
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	}
	if (logger.sink != NULL) {
		line[len] = '\0';
		logger.sink(level, line + off, logger.sink_arg);
	} else if (logger.syslog) {
		line[len] = '\0';
		syslog(level, "%s", line + off);
	} else {
		line[len++] = '\n';
		(void)write_all(STDERR_FILENO, line, len);
	}
	errno = saved;
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
