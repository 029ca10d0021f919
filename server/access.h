/*
 * access.h: who may do what (DOMAIN.md §1) and the lifecycle of a user:
 * invitation, activation with a password and a second factor, login with
 * lockout and backoff, deactivation. Runs on the worker thread inside its
 * transactions (and in jsr-server's own commands).
 *
 * Roles: kommune_user and kommune_admin read and write the participants of
 * their own municipalities; a kommune_admin invites and deactivates the
 * users of their own municipality (as kommune_user); an imdi_admin invites
 * anyone to any municipality and role; imdi_analyst reads only national
 * aggregates. Login failures look the same whether or not the user exists.
 */
#ifndef SS_ACCESS_H
#define SS_ACCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "catalog.h"
#include "store.h"

struct ss_access_cfg {
	const struct sh_domain *domain;
	bool require_totp;
	int lockout_threshold;      /* failures before an account locks */
	int64_t lockout_base_ms;    /* first lock; doubles with each further failure */
	int address_threshold;      /* failures from one address before it locks */
	int64_t invite_ttl_ms;
	int password_min_bits;      /* zxcvbn's estimate a chosen password must reach */
	const char *base_url;       /* for activation links */
};

/*
 * What a role may do: the matrix of DOMAIN.md §1, kept once in access.c's
 * role table. Municipal permissions apply to the user's own municipalities.
 */
enum ss_may {
	SS_MAY_PARTICIPANTS = 1 << 0, /* read and write participants (push, pull) */
	SS_MAY_EXPORT = 1 << 1,       /* download the municipality's dataset */
	SS_MAY_ADMIN_OWN = 1 << 2,    /* invite, resend, deactivate kommunebrukere */
	SS_MAY_ADMIN_ANY = 1 << 3,    /* the same for anyone, any role (appoints admins) */
	SS_MAY_NATIONAL = 1 << 4,     /* the national aggregate report */
};

/* Is role a known role? Its Norwegian name, or NULL. */
const char *ss_role_label(const char *role);
/* Does role have any of the permissions in mask? */
bool ss_role_may(const char *role, unsigned mask);
/* Does the role belong to municipalities (kommune roles) rather than IMDi? */
bool ss_role_kommune(const char *role);

/* A username: 2-64 of a-z, 0-9, '.', '-', '_'. */
bool ss_username_ok(const char *u);

/*
 * Password rules for a chosen password: length, not the username or e-mail,
 * and at least password_min_bits of zxcvbn's estimated entropy (which knows
 * common passwords, words, names, keyboard runs, repeats, dates, and is given
 * the user's own names and the programme's words).
 */
int ss_password_choose_ok(const char *password, const char *username, const char *email,
			  int min_bits, struct sh_reason *why) SH_MUST_USE;

/*
 * A login attempt. *ok false with the same outcome for every kind of
 * failure (unknown user, wrong password or code, locked, not active);
 * failures count against the account and the address.
 */
int ss_login_attempt(struct ss_store *s, const struct ss_access_cfg *cfg, const char *username,
		     const char *password, const char *totp, const char *address, int64_t now,
		     struct ss_user *u, bool *ok) SH_MUST_USE;

/* The acting administrator when jsr-server itself is used on the command line. */
void ss_system_admin(struct ss_user *u);

int ss_invite(struct ss_store *s, const struct ss_access_cfg *cfg, const struct ss_user *by,
	      const char *name, const char *email, const char *phone, const char *kommune,
	      const char *role, int64_t *user_id, struct sh_reason *why) SH_MUST_USE;
int ss_resend(struct ss_store *s, const struct ss_access_cfg *cfg, const struct ss_user *by,
	      const char *who, struct sh_reason *why) SH_MUST_USE;
/* *user_id: the deactivated user (to disconnect). */
int ss_deactivate(struct ss_store *s, const struct ss_user *by, const char *who, int64_t *user_id,
		  struct sh_reason *why) SH_MUST_USE;
/* The users (and open invitations) an administrator may see, as a JSON array. */
int ss_users_json(struct ss_store *s, const struct ss_user *by, struct sh_buf *out) SH_MUST_USE;

/* Invitations, as the activation page sees them. */
enum ss_inv { SS_INV_UNKNOWN, SS_INV_EXPIRED, SS_INV_DONE, SS_INV_OPEN, SS_INV_PASSWORD_SET };
struct ss_invitation {
	enum ss_inv state;
	int64_t id, user_id;
	char name[201], email[255], role[16], username[65], kommuner[200];
	char totp_secret[40];
};
int ss_invitation_find(struct ss_store *s, const char *token, int64_t now,
		       struct ss_invitation *inv) SH_MUST_USE;
/* Step 1: username and password (checked); a TOTP secret is made. */
int ss_activate_password(struct ss_store *s, const struct ss_access_cfg *cfg, struct ss_invitation *inv, const char *username,
			 const char *password, const char *again, struct sh_reason *why) SH_MUST_USE;
/* Step 2: the first code from the app; then the user is active. */
int ss_activate_totp(struct ss_store *s, struct ss_invitation *inv, const char *code, int64_t now,
		     struct sh_reason *why) SH_MUST_USE;

/* jsr-server user add: a TOTP secret for a user made on the command line. */
int ss_user_set_totp(struct ss_store *s, int64_t user_id, char secret[40]) SH_MUST_USE;

#endif
