/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iomem.h"
#include "numa.h"

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

static int read_line(const char *path, char *buf, size_t len)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");

	if (!f)
		return negative_errno();
	if (!fgets(buf, (int)len, f))
		return -EIO;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* the online memory block ids of one node, appended to *ids */
static int node_blocks(const char *sys_root, unsigned nid, uint64_t **ids, size_t *n, size_t *cap, char *why,
		       size_t why_len)
{
	_cleanup_(closedirp) DIR *d = NULL;
	char path[PATH_MAX];
	size_t before = *n;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/devices/system/node/node%u", sys_root, nid);
	d = opendir(path);
	if (!d) {
		int r = negative_errno();

		if (why)
			snprintf(why, why_len, "NUMA node %u does not exist (no '%s': %s)", nid, path, strerror(-r));
		return r == -ENOTDIR ? -ENOENT : r;
	}
	while ((de = readdir(d))) {
		char state[32], *end;
		unsigned long long id;
		uint64_t *slot;
		int r;

		if (strncmp(de->d_name, "memory", 6) != 0 || de->d_name[6] < '0' || de->d_name[6] > '9')
			continue;
		errno = 0;
		id = strtoull(de->d_name + 6, &end, 10);
		if (errno || *end)
			continue;
		snprintf(path, sizeof(path), "%s/devices/system/memory/memory%llu/state", sys_root, id);
		r = read_line(path, state, sizeof(state));
		if (r == 0 && !streq(state, "online"))
			continue; /* offline or going-offline: no pages to monitor */
		slot = APPEND(*ids, *n, *cap);
		if (!slot)
			return -ENOMEM;
		*slot = id;
	}
	if (*n == before) {
		if (why)
			snprintf(why, why_len, "NUMA node %u has no online memory (a memoryless or offlined node)",
				 nid);
		return -ENODATA;
	}
	return 0;
}

int numa_node_ranges(const char *sys_root, const char *iomem_path, uint64_t nodes, uint64_t page_size,
		     uint64_t addr_unit, struct damon_addr_range **ret, size_t *ret_n, char *why, size_t why_len)
{
	_cleanup_free_ uint64_t *ids = NULL;
	_cleanup_free_ struct damon_addr_range *blk = NULL, *ram = NULL, *out = NULL;
	size_t n = 0, cap = 0, nb = 0, bcap = 0, nram = 0, no = 0, ocap = 0;
	unsigned long long bs;
	uint64_t align;
	char path[PATH_MAX], buf[64], *end;
	int r;

	if (why && why_len)
		why[0] = 0;
	if (addr_unit == 0 || (addr_unit & (addr_unit - 1)) || nodes == 0)
		return -EINVAL;
	align = MAX(page_size ?: 4096, addr_unit);

	snprintf(path, sizeof(path), "%s/devices/system/memory/block_size_bytes", sys_root);
	r = read_line(path, buf, sizeof(buf));
	if (r < 0) {
		if (why)
			snprintf(why, why_len, "cannot read '%s': %s", path, strerror(-r));
		return r;
	}
	errno = 0;
	bs = strtoull(buf, &end, 16); /* hex without 0x, as the kernel prints it */
	if (errno || end == buf || *end || bs == 0 || bs % 4096) {
		if (why)
			snprintf(why, why_len, "'%s' reads '%s', not a block size", path, buf);
		return -EINVAL;
	}

	for (unsigned nid = 0; nid < NUMA_MAX_NODES; nid++) {
		if (!(nodes & (UINT64_C(1) << nid)))
			continue;
		r = node_blocks(sys_root, nid, &ids, &n, &cap, why, why_len);
		if (r < 0)
			return r;
	}
	qsort(ids, n, sizeof(ids[0]), cmp_u64);

	/* adjacent blocks merged (a block listed under two nodes counts once) */
	for (size_t i = 0; i < n; i++) {
		uint64_t s = ids[i] * bs, e = s + bs;

		if (ids[i] > UINT64_MAX / bs - 1)
			return -EOVERFLOW;
		if (nb && blk[nb - 1].end >= s) {
			blk[nb - 1].end = MAX(blk[nb - 1].end, e);
			continue;
		}
		struct damon_addr_range *x = APPEND(blk, nb, bcap);

		if (!x)
			return -ENOMEM;
		*x = (struct damon_addr_range){ s, e };
	}

	/* holes inside blocks are not RAM: keep what iomem calls System RAM, where it says */
	if (iomem_path && iomem_system_ram(iomem_path, align, &ram, &nram) < 0)
		nram = 0;
	for (size_t i = 0, j = 0; i < nb; i++) {
		if (nram == 0) {
			struct damon_addr_range *x = APPEND(out, no, ocap);

			if (!x)
				return -ENOMEM;
			*x = blk[i];
			continue;
		}
		while (j < nram && ram[j].end <= blk[i].start)
			j++;
		for (size_t k = j; k < nram && ram[k].start < blk[i].end; k++) {
			struct damon_addr_range *x = APPEND(out, no, ocap);

			if (!x)
				return -ENOMEM;
			*x = (struct damon_addr_range){ MAX(ram[k].start, blk[i].start), MIN(ram[k].end, blk[i].end) };
		}
	}

	/* aligned inwards, in core address units */
	size_t k = 0;

	for (size_t i = 0; i < no; i++) {
		uint64_t s = (out[i].start + align - 1) / align * align, e = out[i].end / align * align;

		if (e <= s)
			continue;
		out[k++] = (struct damon_addr_range){ s / addr_unit, e / addr_unit };
	}
	if (k == 0) {
		if (why)
			snprintf(why, why_len, "the online memory blocks of the nodes hold no System RAM");
		return -ENODATA;
	}
	*ret = TAKE_PTR(out);
	*ret_n = k;
	return 0;
}

void numa_nodes_format(uint64_t nodes, char *buf, size_t len)
{
	size_t off = 0;

	if (len)
		buf[0] = 0;
	for (unsigned i = 0; i < NUMA_MAX_NODES && off < len; i++) {
		unsigned j = i;
		int w;

		if (!(nodes & (UINT64_C(1) << i)))
			continue;
		while (j + 1 < NUMA_MAX_NODES && (nodes & (UINT64_C(1) << (j + 1))))
			j++;
		if (j == i)
			w = snprintf(buf + off, len - off, "%s%u", off ? "," : "", i);
		else if (j == i + 1)
			w = snprintf(buf + off, len - off, "%s%u,%u", off ? "," : "", i, j);
		else
			w = snprintf(buf + off, len - off, "%s%u-%u", off ? "," : "", i, j);
		if (w < 0)
			break;
		off += (size_t)w;
		i = j;
	}
}
