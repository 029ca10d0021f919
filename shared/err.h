/*
 * err.h: the one error enum of jobbsjanse.
 *
 * Every fallible function returns SH_OK (0) or a negative enum sh_err. Each
 * code has a stable machine name (protocol, JSON), a Norwegian message for
 * users and an English detail for logs. The table lives in err.c.
 */
#ifndef SH_ERR_H
#define SH_ERR_H

#define SH_MUST_USE __attribute__((warn_unused_result))

enum sh_err {
	SH_OK = 0,
	SH_ERR_NOMEM = -1,     /* allocation failed */
	SH_ERR_INVALID = -2,   /* a value failed validation */
	SH_ERR_RULE = -3,      /* a business rule refused the action */
	SH_ERR_NOT_FOUND = -4, /* no such participant, field, user ... */
	SH_ERR_USAGE = -5,     /* wrong command line */
	SH_ERR_DB = -6,        /* SQLite failed */
	SH_ERR_IO = -7,        /* file or socket I/O failed */
	SH_ERR_CONFIG = -8,    /* configuration is wrong */
	SH_ERR_SCHEMA = -9,    /* database schema unknown to this program */
	SH_ERR_CLOCK = -10,    /* remote clock too far ahead */
	SH_ERR_PROTO = -11,    /* malformed protocol message */
	SH_ERR_CRYPTO = -12,   /* a box failed to open or verify */
	SH_ERR_TOO_BIG = -13,  /* input over a hard cap */
	SH_ERR_AUTH = -14,     /* login failed or session expired */
	SH_ERR_DENIED = -15,   /* not allowed for this role or municipality */
	SH_ERR_CONFLICT = -16, /* concurrent change; see the conflict log */
	SH_ERR_BUSY = -17,     /* try again later */
	SH_ERR_INTERNAL = -18, /* a bug: an invariant did not hold */
};
#define SH_ERR_COUNT 19

/* Stable lowercase name ("invalid", "denied" ...), for protocol and JSON. */
const char *sh_err_code(int err);
/* Norwegian sentence for users. Never NULL. */
const char *sh_err_user(int err);
/* English detail for logs. Never NULL. */
const char *sh_err_log(int err);
/* Reverse of sh_err_code(); SH_ERR_INTERNAL for an unknown name. */
int sh_err_from_code(const char *code);

/*
 * A reason for users, filled by validators: one Norwegian sentence that
 * names the field and says what is wrong. Fixed size, never allocated.
 */
struct sh_reason {
	char text[320];
};

/* printf into r (truncating). r may be NULL. */
void sh_reason_set(struct sh_reason *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
