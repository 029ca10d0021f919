/*
 * web.h: the server's small HTML pages (Norwegian, usable without
 * JavaScript): the activation of an invitation at /aktiver — choose a
 * username and password, then enrol the second factor (QR code and
 * otpauth:// link) and confirm it with a first code. Every text that came
 * from a person is HTML-escaped; forms must be
 * application/x-www-form-urlencoded and small. Runs on the worker thread.
 */
#ifndef SS_WEB_H
#define SS_WEB_H

#include <stddef.h>

#include "access.h"

struct ss_http_req {
	const char *method;       /* GET, POST */
	const char *path;         /* /aktiver, /aktiver/totp */
	const char *token;        /* ?token= of a GET */
	const char *content_type; /* of a POST */
	const char *body;
	size_t len;
	bool too_big;             /* the body was over the cap and was dropped */
};

struct ss_http_resp {
	int status;
	const char *type;
	char *body; /* sh_free */
};

int ss_web_handle(struct ss_store *s, const struct ss_access_cfg *cfg, const struct ss_http_req *req,
		  struct ss_http_resp *resp) SH_MUST_USE;

/* True for the paths ss_web_handle() serves. */
bool ss_web_path(const char *path);

#endif
