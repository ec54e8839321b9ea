/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "damon.h"

/* NUMA nodes a paddr target may name (`regions: {node: N}`): bit N of a mask. */
#define NUMA_MAX_NODES 64

/*
 * The physical ranges of the NUMA nodes in nodes (bit N: node N): each
 * node's online memory blocks (SYS/devices/system/node/nodeN/memoryM, each
 * block_size_bytes long, SYS/devices/system/memory/memoryM/state "online";
 * a block without a state file counts as online), adjacent blocks merged,
 * intersected with the System RAM ranges of iomem_path where that file gives
 * them (so holes inside a block are not monitored), page aligned, sorted, in
 * DAMON core address units (addr_unit bytes each, a power of two).
 *
 * Errors: -ENOENT a node has no directory (why names it), -ENODATA a node
 * has no online memory (a memoryless or offlined node), -EINVAL a bad
 * block_size_bytes or addr_unit, other: unreadable. why (may be NULL) gets
 * the reason in words.
 */
int numa_node_ranges(const char *sys_root, const char *iomem_path, uint64_t nodes, uint64_t page_size,
		     uint64_t addr_unit, struct damon_addr_range **ret, size_t *ret_n, char *why, size_t why_len);

/* "0", "0,1", "0-3,5": the nodes of a mask, for status and logs. */
void numa_nodes_format(uint64_t nodes, char *buf, size_t len);
