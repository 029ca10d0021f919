/*
 * date.h: calendar dates as day numbers (days since 1970-01-01), strict ISO
 * 8601 parsing, and "today" (which tests may pin with JSR_TODAY, honoured
 * only in test mode).
 */
#ifndef SH_DATE_H
#define SH_DATE_H

#include <stdbool.h>

#include "err.h"

bool sh_is_leap(int year);
/* 0 for a month outside 1..12. */
int sh_days_in_month(int year, int month);
/* Day number of a valid y-m-d (proleptic Gregorian). */
int sh_date_days(int y, int m, int d);
void sh_date_ymd(int days, int *y, int *m, int *d);

/* Strict "YYYY-MM-DD" (years 1800..2999) to a day number. */
int sh_date_parse(const char *s, int *days) SH_MUST_USE;
/* Writes "YYYY-MM-DD" into out (11 bytes). */
void sh_date_format(int days, char out[11]);
/* Norwegian display form "DD.MM.YYYY" into out (11 bytes). */
void sh_date_format_no(int days, char out[11]);

/* Today as a day number (local time), or JSR_TODAY in test mode. */
int sh_today(void);

#endif
