/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "damon.h"

/*
 * The top-level "System RAM" ranges of an iomem file (/proc/iomem), page
 * aligned inwards (start up, end down), sorted, empty ones dropped. This is
 * what `regions: auto` of a paddr target means.
 */
int iomem_system_ram(const char *iomem_path, uint64_t page_size, struct damon_addr_range **ret, size_t *ret_n);

/*
 * The same in DAMON core address units for a paddr context with addr_unit
 * (6.18+; a power of two): each range is aligned inwards to
 * max(page_size, addr_unit) bytes, then divided by addr_unit. addr_unit 1
 * is iomem_system_ram().
 */
int iomem_system_ram_units(const char *iomem_path, uint64_t page_size, uint64_t addr_unit,
			   struct damon_addr_range **ret, size_t *ret_n);
