/* proto.c: message names, the frame parser, errors and typed JSON getters. */
#include "proto.h"

#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "text.h"

static const char *const names[SH_MSG_COUNT] = {
	[SH_MSG_HELLO] = "hello",     [SH_MSG_LOGIN] = "login",       [SH_MSG_LOGIN_OK] = "login_ok",
	[SH_MSG_AUTH] = "auth",       [SH_MSG_AUTH_OK] = "auth_ok",   [SH_MSG_PUSH] = "push",
	[SH_MSG_PUSH_ACK] = "push_ack", [SH_MSG_PULL] = "pull",       [SH_MSG_CHANGES] = "changes",
	[SH_MSG_NOTIFY] = "notify",   [SH_MSG_ERROR] = "error",       [SH_MSG_ADMIN] = "admin",
	[SH_MSG_ADMIN_OK] = "admin_ok", [SH_MSG_WIPE] = "wipe",   [SH_MSG_LOOKUP] = "lookup",
	[SH_MSG_LOOKUP_STATE] = "lookup_state",
};

const char *sh_msg_name(enum sh_msg m) { return (unsigned)m < SH_MSG_COUNT ? names[m] : "?"; }

int sh_msg_from_name(const char *name)
{
	for (int i = 0; name && i < SH_MSG_COUNT; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

int sh_json_u64_value(const cJSON *v, uint64_t max, uint64_t *out)
{
	double d;

	*out = 0;
	if (!cJSON_IsNumber(v))
		return SH_ERR_PROTO;
	d = v->valuedouble;
	/* integral, non-negative, exactly representable */
	if (!(d >= 0) || d > (double)SH_JSON_INT_MAX || d != (double)(uint64_t)d || (uint64_t)d > max)
		return SH_ERR_PROTO;
	*out = (uint64_t)d;
	return SH_OK;
}

int sh_json_u64(const cJSON *o, const char *key, uint64_t max, uint64_t *out)
{
	return sh_json_u64_value(cJSON_GetObjectItemCaseSensitive(o, key), max, out);
}

int sh_json_u64_or(const cJSON *o, const char *key, uint64_t max, uint64_t otherwise, uint64_t *out)
{
	if (!cJSON_GetObjectItemCaseSensitive(o, key)) {
		*out = otherwise;
		return SH_OK;
	}
	return sh_json_u64(o, key, max, out);
}

const char *sh_json_str(const cJSON *o, const char *key, size_t maxlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	size_t n;

	if (!cJSON_IsString(v) || !v->valuestring)
		return NULL;
	n = strlen(v->valuestring);
	return (n <= maxlen && sh_utf8_valid(v->valuestring, n)) ? v->valuestring : NULL;
}

int sh_msg_parse(const char *text, size_t len, cJSON **out, enum sh_msg *type, uint64_t *id,
		 struct sh_reason *why)
{
	cJSON *j;
	const char *t;
	int m;

	*out = NULL;
	*id = 0;
	if (len > SH_MSG_MAX) {
		sh_reason_set(why, "Meldingen er for stor.");
		return SH_ERR_TOO_BIG;
	}
	if (!sh_utf8_valid(text, len)) {
		sh_reason_set(why, "Meldingen er ikke gyldig UTF-8.");
		return SH_ERR_PROTO;
	}
	j = cJSON_ParseWithLength(text, len);
	if (!j) {
		sh_reason_set(why, "Meldingen er ikke gyldig JSON.");
		return SH_ERR_PROTO;
	}
	if (!cJSON_IsObject(j)) {
		sh_reason_set(why, "Meldingen må være et JSON-objekt.");
		goto bad;
	}
	t = sh_json_str(j, "t", 32);
	if (!t) {
		sh_reason_set(why, "Meldingen mangler typen («t»).");
		goto bad;
	}
	if ((m = sh_msg_from_name(t)) < 0) {
		sh_reason_set(why, "Ukjent meldingstype «%s».", sh_text_echo(t));
		goto bad;
	}
	if (sh_json_u64_or(j, "id", SH_JSON_INT_MAX, 0, id) != SH_OK) {
		sh_reason_set(why, "Feltet «id» må være et ikke-negativt heltall.");
		goto bad;
	}
	*type = (enum sh_msg)m;
	*out = j;
	return SH_OK;
bad:
	cJSON_Delete(j);
	return SH_ERR_PROTO;
}

char *sh_msg_error(uint64_t id, int err, const char *message, const char *detail)
{
	struct sh_buf b;

	sh_buf_init(&b, 1 << 16);
	sh_buf_printf(&b, "{\"t\":\"error\",\"id\":%llu,\"code\":", (unsigned long long)id);
	sh_buf_json_str(&b, sh_err_code(err));
	sh_buf_puts(&b, ",\"message\":");
	sh_buf_json_str(&b, message && *message ? message : sh_err_user(err));
	sh_buf_puts(&b, ",\"detail\":");
	sh_buf_json_str(&b, detail && *detail ? detail : sh_err_log(err));
	sh_buf_puts(&b, "}");
	return sh_buf_take(&b, NULL);
}

char *sh_json_print(const cJSON *j)
{
	/* cJSON allocates through sh_malloc (sh_alloc_hook_cjson) or malloc:
	 * either way sh_free (free) releases it */
	return cJSON_PrintUnformatted(j);
}
