/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Enum <-> string from one table, indexed by the enum's value (systemd's
 * string-table.h):
 *
 *   static const char *const damon_ops_table[_DAMON_OPS_MAX] = {
 *           [DAMON_OPS_VADDR] = "vaddr",
 *           ...
 *   };
 *   DEFINE_STRING_TABLE_LOOKUP(damon_ops, enum damon_ops);
 *
 * defines damon_ops_to_string() (NULL out of range or for a hole) and
 * damon_ops_from_string() (-EINVAL, the enum's _X_INVALID, for NULL or an
 * unknown string); DEFINE_STRING_TABLE_LOOKUP_TO_STRING() only the first.
 * Declare them next to the enum, with _pure_.
 */
#include <errno.h>

#include "macro.h"

#define DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type)                      \
	const char *name##_to_string(type x)                                  \
	{                                                                     \
		if ((int)x < 0 || (size_t)(int)x >= ARRAY_SIZE(name##_table)) \
			return NULL;                                          \
		return name##_table[x];                                       \
	}

#define DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type)                \
	type name##_from_string(const char *s)                            \
	{                                                                 \
		if (!s)                                                   \
			return (type)-EINVAL;                             \
		for (size_t i = 0; i < ARRAY_SIZE(name##_table); i++)     \
			if (name##_table[i] && streq(name##_table[i], s)) \
				return (type)i;                           \
		return (type)-EINVAL;                                     \
	}

#define DEFINE_STRING_TABLE_LOOKUP(name, type)           \
	DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type) \
	DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type)
