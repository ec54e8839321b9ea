/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the control protocol decoder (lib/ipc.c), as the daemon
 * sees a client's byte stream. The input is cut into reads (sizes taken from
 * the input), fed to a framer; every complete message is decoded as a
 * request and as a reply. A decoded request must encode again and decode
 * back to the same method and parameters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const char *msg, size_t len)
{
	struct json_object *params = NULL, *params2 = NULL;
	char *method = NULL, *method2 = NULL, *error = NULL, *text = NULL;
	size_t text_len;

	if (ipc_request_decode(msg, len, &method, &params) == 0) {
		if (!method || !*method || !json_object_is_type(params, json_type_object))
			abort();
		if (ipc_request_encode(method, params, &text, &text_len) == 0) {
			if (text_len == 0 || text[text_len - 1] != '\0')
				abort();
			if (ipc_request_decode(text, text_len, &method2, &params2) != 0)
				abort();
			/* compared as text: NaN != NaN would make json_object_equal() lie */
			if (strcmp(method, method2) != 0 ||
			    strcmp(json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN),
				   json_object_to_json_string_ext(params2, JSON_C_TO_STRING_PLAIN)) != 0)
				abort();
		}
	}
	free(text);
	free(method);
	free(method2);
	json_object_put(params);
	json_object_put(params2);
	params = NULL;

	if (ipc_reply_decode(msg, len, &params, &error) == 0) {
		/* parameters are always an object (empty when absent); an error name is never empty */
		if (!json_object_is_type(params, json_type_object) || (error && !*error))
			abort();
	}
	free(error);
	json_object_put(params);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_framer *f = NULL;
	const char *msg;
	size_t len, off = 0;
	int r;

	/* the whole input as one message, with or without its NUL */
	check_message((const char *)data, size);

	if (size < 1 || ipc_framer_new(&f) < 0)
		return 0;
	/* a small limit so that -EMSGSIZE is reachable */
	ipc_framer_set_limit(f, data[0] & 1 ? 4096 : 0);
	off = 1;
	while (off < size) {
		/* next read: 1..64 bytes, length from the stream's first byte */
		size_t n = (size_t)(data[off] & 63) + 1;

		off++;
		if (n > size - off)
			n = size - off;
		r = ipc_framer_feed(f, data + off, n);
		off += n;
		if (r < 0)
			break;
		while ((r = ipc_framer_next(f, &msg, &len)) > 0) {
			if (msg[len] != '\0' || strlen(msg) != len)
				abort();
			check_message(msg, len);
			check_message(msg, len + 1);
			ipc_framer_consume(f);
		}
		if (r < 0)
			break;
	}
	(void)ipc_framer_pending(f);
	ipc_framer_free(f);
	return 0;
}
