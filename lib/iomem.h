/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "damon.h"

/*
 * The top-level "System RAM" ranges of an iomem file (/proc/iomem), page
 * aligned inwards (start up, end down), sorted, empty ones dropped. This is
 * what `regions: auto` of a paddr target means.
 */
int iomem_system_ram(const char *iomem_path, uint64_t page_size, struct damon_addr_range **ret, size_t *ret_n);
