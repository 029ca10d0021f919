/* web.c: activation pages: forms, QR code, escaping. */
#include "web.h"

#include <qrencode.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "hlc.h"
#include "text.h"
#include "totp.h"

#define FORM_MAX 16384

bool ss_web_path(const char *path)
{
	return strcmp(path, "/aktiver") == 0 || strcmp(path, "/aktiver/totp") == 0;
}

/* HTML-escaped text. */
static void esc(struct sh_buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': sh_buf_puts(b, "&amp;"); break;
		case '<': sh_buf_puts(b, "&lt;"); break;
		case '>': sh_buf_puts(b, "&gt;"); break;
		case '"': sh_buf_puts(b, "&quot;"); break;
		case '\'': sh_buf_puts(b, "&#39;"); break;
		default: sh_buf_append(b, s, 1);
		}
	}
}

static void head(struct sh_buf *b, const char *title)
{
	sh_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"nb\"><head><meta charset=\"utf-8\">"
		       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
	esc(b, title);
	sh_buf_puts(b, " – Jobbsjansen</title><style>body{font-family:sans-serif;max-width:36em;margin:2em auto;"
		       "padding:0 1em;line-height:1.5}label{display:block;margin-top:1em}input{font-size:1em;"
		       "padding:.3em;width:100%;box-sizing:border-box}button{margin-top:1.5em;font-size:1em;"
		       "padding:.5em 1.5em}.feil{background:#fde8e8;border-left:4px solid #c00;padding:.5em 1em}"
		       "code{word-break:break-all}</style></head><body><h1>");
	esc(b, title);
	sh_buf_puts(b, "</h1>\n");
}

static void done(struct ss_http_resp *r, int status, struct sh_buf *b)
{
	sh_buf_puts(b, "<p><small>Jobbsjansen-registeret · IMDi</small></p></body></html>\n");
	r->status = status;
	r->type = "text/html; charset=utf-8";
	r->body = sh_buf_take(b, NULL);
}

static void message(struct ss_http_resp *r, int status, const char *title, const char *text)
{
	struct sh_buf b;

	sh_buf_init(&b, 1 << 16);
	head(&b, title);
	sh_buf_puts(&b, "<p>");
	esc(&b, text);
	sh_buf_puts(&b, "</p>\n");
	done(r, status, &b);
}

static void error_box(struct sh_buf *b, const char *why)
{
	if (why && *why) {
		sh_buf_puts(b, "<p class=\"feil\" role=\"alert\">");
		esc(b, why);
		sh_buf_puts(b, "</p>\n");
	}
}

static void password_form(struct ss_http_resp *r, int status, const struct ss_invitation *inv,
			  const char *token, const char *username, const char *why)
{
	struct sh_buf b;

	sh_buf_init(&b, 1 << 16);
	head(&b, "Aktiver brukeren din");
	sh_buf_puts(&b, "<p>Hei ");
	esc(&b, inv->name);
	sh_buf_puts(&b, ". Velg brukernavn og passord. Passordet må ha minst 12 tegn og ikke være lett å gjette.</p>\n");
	error_box(&b, why);
	sh_buf_puts(&b, "<form method=\"post\" action=\"/aktiver\"><input type=\"hidden\" name=\"token\" value=\"");
	esc(&b, token);
	sh_buf_puts(&b, "\"><label>Brukernavn (små bokstaver, sifre, . - _)<input name=\"username\" required "
			"autocomplete=\"username\" value=\"");
	esc(&b, username ? username : "");
	sh_buf_puts(&b, "\"></label><label>Passord<input type=\"password\" name=\"password\" required "
			"autocomplete=\"new-password\" minlength=\"12\"></label><label>Gjenta passordet"
			"<input type=\"password\" name=\"password2\" required autocomplete=\"new-password\">"
			"</label><button>Neste</button></form>\n");
	done(r, status, &b);
}

/* The QR code of text as inline SVG (one rect per dark module). */
static void qr_svg(struct sh_buf *b, const char *text)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	int w;

	if (!q)
		return;
	w = q->width;
	sh_buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"-4 -4 %d %d\" width=\"260\" "
			 "height=\"260\" role=\"img\" aria-label=\"QR-kode\"><rect x=\"-4\" y=\"-4\" width=\"%d\" "
			 "height=\"%d\" fill=\"#fff\"/>", w + 8, w + 8, w + 8, w + 8);
	for (int y = 0; y < w; y++)
		for (int x = 0; x < w; x++)
			if (q->data[y * w + x] & 1)
				sh_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"1\" height=\"1\"/>", x, y);
	sh_buf_puts(b, "</svg>\n");
	QRcode_free(q);
}

static void totp_form(struct ss_http_resp *r, int status, const struct ss_invitation *inv,
		      const char *token, const char *why)
{
	struct sh_buf b;
	char *uri = sh_totp_uri("Jobbsjansen", inv->username, inv->totp_secret);

	sh_buf_init(&b, 1 << 20);
	head(&b, "Sett opp innlogging med mobilen");
	sh_buf_puts(&b, "<p>Skann QR-koden med en kodeapp (for eksempel Microsoft Authenticator, Google "
			"Authenticator eller FreeOTP), og skriv inn koden appen viser.</p>\n");
	error_box(&b, why);
	if (uri)
		qr_svg(&b, uri);
	sh_buf_puts(&b, "<p>Kan du ikke skanne? Legg inn nøkkelen for hånd: <code>");
	esc(&b, inv->totp_secret);
	sh_buf_puts(&b, "</code><br>Eller åpne lenken på mobilen: <a href=\"");
	esc(&b, uri);
	sh_buf_puts(&b, "\"><code>");
	esc(&b, uri);
	sh_buf_puts(&b, "</code></a></p>\n<form method=\"post\" action=\"/aktiver/totp\">"
			"<input type=\"hidden\" name=\"token\" value=\"");
	esc(&b, token);
	sh_buf_puts(&b, "\"><label>Koden fra appen (6 sifre)<input name=\"code\" inputmode=\"numeric\" "
			"pattern=\"[0-9]{6}\" maxlength=\"6\" required autocomplete=\"one-time-code\"></label>"
			"<button>Aktiver</button></form>\n");
	sh_free(uri);
	done(r, status, &b);
}

/* application/x-www-form-urlencoded: one field, decoded into out (≤ cap). */
static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* One application/x-www-form-urlencoded field, decoded. Anything malformed (a bad escape,
 * too long, not UTF-8, an embedded NUL) yields false and an empty *out, so that nothing
 * half-decoded is ever echoed back into a page. */
static bool form_field(const char *body, size_t len, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	const char *p = body, *end = body + len;

	out[0] = '\0';
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		size_t o = 0;

		if ((size_t)(stop - p) > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
			for (const char *q = p + nlen + 1; q < stop; q++) {
				char ch = *q;

				if (ch == '+') {
					ch = ' ';
				} else if (ch == '%') {
					if (stop - q < 3 || hexval(q[1]) < 0 || hexval(q[2]) < 0)
						goto bad;
					ch = (char)(hexval(q[1]) << 4 | hexval(q[2]));
					q += 2;
				}
				if (o + 1 >= cap)
					goto bad;
				out[o++] = ch;
			}
			out[o] = '\0';
			if (sh_utf8_valid(out, o) && !memchr(out, '\0', o))
				return true;
			goto bad;
		}
		p = stop + 1;
	}
	return false;
bad:
	out[0] = '\0';
	return false;
}

/* The pages for an invitation that cannot be used (unknown, expired, done). */
static bool unusable(struct ss_http_resp *r, const struct ss_invitation *inv)
{
	switch (inv->state) {
	case SS_INV_UNKNOWN:
		message(r, 404, "Lenken er ugyldig", "Vi fant ingen invitasjon med denne lenken. Sjekk at du "
			"kopierte hele lenken fra e-posten, eller be administratoren din om en ny invitasjon.");
		return true;
	case SS_INV_EXPIRED:
		message(r, 410, "Lenken er utløpt", "Invitasjonen er for gammel. Be administratoren din om en "
			"ny invitasjon; den nye lenken virker med en gang.");
		return true;
	case SS_INV_DONE:
		message(r, 410, "Lenken er allerede brukt", "Denne lenken er brukt, eller den er erstattet av "
			"en nyere invitasjon. Har du alt aktivert brukeren, logger du inn som vanlig. Ellers "
			"ber du administratoren din om en ny invitasjon.");
		return true;
	default:
		return false;
	}
}

int ss_web_handle(struct ss_store *s, const struct ss_access_cfg *cfg, const struct ss_http_req *req,
		  struct ss_http_resp *resp)
{
	struct ss_invitation inv;
	struct sh_reason why = {{0}};
	char token[80] = "", username[80] = "", password[520] = "", again[520] = "", code[16] = "";
	int64_t now = (int64_t)sh_wall_ms();
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (strcmp(req->method, "GET") == 0) {
		if ((rc = ss_invitation_find(s, req->token, now, &inv)) != SH_OK)
			return rc;
		if (!unusable(resp, &inv)) {
			if (inv.state == SS_INV_PASSWORD_SET)
				totp_form(resp, 200, &inv, req->token, NULL);
			else
				password_form(resp, 200, &inv, req->token, NULL, NULL);
		}
		return resp->body ? SH_OK : SH_ERR_NOMEM;
	}
	if (req->too_big) {
		message(resp, 413, "For mye data", "Skjemaet inneholdt mer enn serveren tar imot. Gå tilbake "
			"og prøv igjen.");
		return SH_OK;
	}
	if (!req->content_type || strncmp(req->content_type, "application/x-www-form-urlencoded", 33) != 0) {
		message(resp, 415, "Ugyldig skjema", "Serveren tar bare imot vanlige nettskjemaer. Åpne lenken "
			"fra e-posten i en nettleser og fyll ut skjemaet der.");
		return SH_OK;
	}
	if (!form_field(req->body, req->len, "token", token, sizeof(token))) {
		message(resp, 400, "Ugyldig skjema", "Skjemaet mangler invitasjonen. Åpne lenken fra e-posten "
			"på nytt.");
		return SH_OK;
	}
	if ((rc = ss_invitation_find(s, token, now, &inv)) != SH_OK)
		return rc;
	if (unusable(resp, &inv))
		return SH_OK;
	if (strcmp(req->path, "/aktiver") == 0) {
		if (inv.state == SS_INV_PASSWORD_SET) {
			totp_form(resp, 200, &inv, token, NULL);
			return SH_OK;
		}
		if (!form_field(req->body, req->len, "username", username, sizeof(username)) ||
		    !form_field(req->body, req->len, "password", password, sizeof(password)) ||
		    !form_field(req->body, req->len, "password2", again, sizeof(again))) {
			password_form(resp, 400, &inv, token, username, "Fyll ut brukernavn og passord to ganger.");
			return SH_OK;
		}
		rc = ss_activate_password(s, cfg, &inv, username, password, again, &why);
		sodium_memzero(password, sizeof(password));
		sodium_memzero(again, sizeof(again));
		if (rc == SH_ERR_INVALID) {
			password_form(resp, 400, &inv, token, username, why.text);
			return SH_OK;
		}
		if (rc == SH_OK)
			totp_form(resp, 200, &inv, token, NULL);
		return rc;
	}
	/* /aktiver/totp */
	if (inv.state != SS_INV_PASSWORD_SET) {
		password_form(resp, 400, &inv, token, NULL, "Velg brukernavn og passord først.");
		return SH_OK;
	}
	if (!form_field(req->body, req->len, "code", code, sizeof(code))) {
		totp_form(resp, 400, &inv, token, "Skriv inn koden fra appen (6 sifre).");
		return SH_OK;
	}
	rc = ss_activate_totp(s, &inv, code, now, &why);
	if (rc == SH_ERR_INVALID) {
		totp_form(resp, 400, &inv, token, why.text);
		return SH_OK;
	}
	if (rc == SH_OK) {
		char text[400];

		snprintf(text, sizeof(text), "Brukeren %s er klar. Logg inn i Jobbsjansen-programmet med "
			 "brukernavnet, passordet og koden fra appen.", inv.username);
		message(resp, 200, "Ferdig!", text);
	}
	return rc;
}
