/*
 * fuzz_proto.c: libFuzzer target for everything a peer's bytes reach before
 * any cryptography: the frame gate (sh_msg_parse), the box shape check, the
 * peek at a page's header (sh_box_message_peek), and the decoders of the
 * bodies (change-set, acknowledgement, pull page).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "proto.h"
#include "seal.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct sh_reason why;
	enum sh_msg type;
	uint64_t id, seq;
	cJSON *msg = NULL;
	struct sh_wire_doc doc = {0};
	struct sh_change *ch = NULL;
	struct sh_result *res = NULL;
	struct sh_pull_page page;
	size_t n = 0;
	static bool hooked;

	if (!hooked) { /* as jsr and jsr-server run: bodies parse into arenas */
		sh_alloc_hook_cjson();
		hooked = true;
	}
	if (sh_msg_parse(text, size, &msg, &type, &id, &why) == SH_OK) {
		const char *h;

		if ((unsigned)type >= SH_MSG_COUNT || !msg)
			abort();
		if (sh_box_header(cJSON_GetObjectItemCaseSensitive(msg, "box"), &h) == SH_OK && !h)
			abort();
		cJSON_Delete(msg);
	} else if (msg || !why.text[0]) {
		abort();
	}
	{
		/* the client peeks at a page's header before the box is opened */
		char *peeked = sh_box_message_peek(text, size);

		if (peeked && strlen(peeked) > size)
			abort();
		sh_free(peeked);
	}
	if (sh_wire_changes_decode(text, size, &doc, &ch, &n, &why) == SH_OK) {
		for (size_t i = 0; i < n; i++)
			if (!ch[i].participant || !ch[i].field || !ch[i].row || !ch[i].value)
				abort();
		sh_wire_doc_free(&doc);
		sh_free(ch);
	}
	if (sh_wire_ack_decode(text, size, &doc, &seq, &res, &n, &why) == SH_OK) {
		for (size_t i = 0; i < n; i++)
			if (!res[i].code)
				abort();
		sh_wire_doc_free(&doc);
		sh_free(res);
	}
	if (sh_wire_page_decode(text, size, &doc, &page, &why) == SH_OK) {
		for (size_t i = 0; i < page.nops; i++)
			if (!page.ops[i].participant || !page.ops[i].value)
				abort();
		sh_wire_page_free(&page);
		sh_wire_doc_free(&doc);
	}
	return 0;
}
