/*
 * log: one logging function for the whole daemon.
 *
 * Levels are syslog's (and Stubby's GETDNS_LOG_*): 0 EMERG .. 7 DEBUG. Messages are lowercase,
 * without a trailing period, and quote variable text: "upstream '%s': certificate name mismatch".
 * Output goes to stderr, one line per message, prefixed by the level and subsystem. Formatting
 * of debug messages is skipped unless debug is on: test log_enabled() before costly arguments.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_EMERG = 0,
	LOG_ALERT = 1,
	LOG_CRIT = 2,
	LOG_ERR = 3,
	LOG_WARNING = 4,
	LOG_NOTICE = 5,
	LOG_INFO = 6,
	LOG_DEBUG = 7,
};

enum log_subsys {
	LOG_MAIN,
	LOG_CONFIG,
	LOG_NET,
	LOG_TLS,
	LOG_QUERY,
	LOG_CACHE,
};

/** The most verbose level that is printed; LOG_NOTICE until set. */
extern int log_max_level;

/** Set the most verbose level printed (values outside 0..7 are clamped). */
void log_level_set(int level);

/** Whether a message at @level would be printed. */
static inline bool log_enabled(int level)
{
	return level <= log_max_level;
}

/** Print one message if @level is enabled. */
void log_msg(int level, enum log_subsys subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(sub, ...)    log_msg(LOG_ERR, (sub), __VA_ARGS__)
#define log_warn(sub, ...)   log_msg(LOG_WARNING, (sub), __VA_ARGS__)
#define log_notice(sub, ...) log_msg(LOG_NOTICE, (sub), __VA_ARGS__)
#define log_info(sub, ...)   log_msg(LOG_INFO, (sub), __VA_ARGS__)
#define log_debug(sub, ...)                                                                        \
	do {                                                                                       \
		if (log_enabled(LOG_DEBUG)) {                                                      \
			log_msg(LOG_DEBUG, (sub), __VA_ARGS__);                                    \
		}                                                                                  \
	} while (0)

/*
 * Programmer errors abort in every build, with file and line. They are for broken invariants
 * only, never for anything a peer can send (see docs/ARCHITECTURE.md, "Errors").
 */
#define REQUIRE(x)                                                                                 \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			log_require_failed(__FILE__, __LINE__, #x);                                \
		}                                                                                  \
	} while (0)

_Noreturn void log_require_failed(const char *file, int line, const char *expr);
