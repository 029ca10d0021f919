/*
 * log.h: one-line logs to stderr for operators, in English.
 *
 * Rule: never a fødselsnummer or a name in a log line. Log ids (the 128-bit
 * participant ids) instead. Thread-safe (one fprintf per line).
 */
#ifndef SH_LOG_H
#define SH_LOG_H

enum sh_log_level { SH_LOG_ERROR, SH_LOG_WARN, SH_LOG_INFO, SH_LOG_DEBUG };

/* Program name in every line; level from configuration (log_level). */
void sh_log_init(const char *program);
void sh_log(enum sh_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define sh_log_error(...) sh_log(SH_LOG_ERROR, __VA_ARGS__)
#define sh_log_warn(...) sh_log(SH_LOG_WARN, __VA_ARGS__)
#define sh_log_info(...) sh_log(SH_LOG_INFO, __VA_ARGS__)
#define sh_log_debug(...) sh_log(SH_LOG_DEBUG, __VA_ARGS__)

#endif
