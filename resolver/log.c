/*
 * log: stderr logging with syslog levels. The daemon runs in the foreground under a service
 * manager (systemd, procd), which adds timestamps and routes stderr; so we print neither time
 * nor pid.
 */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

int log_max_level = LOG_NOTICE;

static const char *const level_names[] = {
	"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
};

static const char *const subsys_names[] = {
	[LOG_MAIN] = "main", [LOG_CONFIG] = "config", [LOG_NET] = "net",
	[LOG_TLS] = "tls",   [LOG_QUERY] = "query",   [LOG_CACHE] = "cache",
};

void log_level_set(int level)
{
	if (level < LOG_EMERG) {
		level = LOG_EMERG;
	}
	if (level > LOG_DEBUG) {
		level = LOG_DEBUG;
	}
	log_max_level = level;
}

void log_msg(int level, enum log_subsys subsys, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!log_enabled(level)) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line, so that lines from a crash handler do not interleave. */
	fprintf(stderr, "dotd[%s] %s: %s\n", subsys_names[subsys], level_names[level], line);
}

void log_require_failed(const char *file, int line, const char *expr)
{
	fprintf(stderr, "dotd: %s:%d: invariant '%s' broken, aborting\n", file, line, expr);
	abort();
}
