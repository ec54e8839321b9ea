/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers declared in macro.h. */
#include "macro.h"

void *greedy_append(void **array, size_t *n, size_t *cap, size_t elem_size)
{
	char *p;

	if (!array || !n || !cap || elem_size == 0)
		return NULL;

	if (*n >= *cap || !*array) {
		size_t want = MAX(*cap * 2, (size_t)4);
		void *q;

		if (want < *n + 1 || want > SIZE_MAX / elem_size)
			return NULL;
		q = realloc(*array, want * elem_size);
		if (!q)
			return NULL;
		*array = q;
		*cap = want;
	}

	p = (char *)*array + *n * elem_size;
	memset(p, 0, elem_size);
	(*n)++;
	return p;
}

char *strdup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}
