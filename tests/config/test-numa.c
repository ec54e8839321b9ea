/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `regions: {node: N}`: a node's physical ranges from a sysfs tree of
 * memory blocks (lib/numa.c), on a temporary tree shaped like
 * /sys/devices/system.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "macro.h"
#include "numa.h"

static char root[64];

static void put(const char *rel, const char *text)
{
	char path[PATH_MAX], dir[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	/* mkdir -p of the parent */
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *s = dir + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		mkdir(dir, 0755);
		*s = '/';
	}
	if (!text) {
		assert_int_equal(mkdir(path, 0755) == 0 || errno == EEXIST, 1);
		return;
	}
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* node N holds memory block M (a directory entry memoryM, as the kernel's symlink) */
static void block(unsigned nid, unsigned id, const char *state)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "devices/system/node/node%u/memory%u", nid, id);
	put(rel, NULL);
	if (state) {
		snprintf(rel, sizeof(rel), "devices/system/memory/memory%u/state", id);
		put(rel, state);
	}
}

static int setup(void **state _unused_)
{
	snprintf(root, sizeof(root), "/tmp/damond-numa-XXXXXX");
	assert_non_null(mkdtemp(root));
	/* 128 MiB blocks (hex, no 0x, as the kernel prints it) */
	put("devices/system/memory/block_size_bytes", "8000000\n");
	/* node 0: blocks 0-3 online; node 1: blocks 8, 9 online, 10 offline, 12 online */
	for (unsigned i = 0; i < 4; i++)
		block(0, i, "online\n");
	block(1, 8, "online\n");
	block(1, 9, "online\n");
	block(1, 10, "offline\n");
	block(1, 12, NULL); /* no state file: counts as online */
	/* node 2: CPUs only (no memory blocks); node1 has a cpu entry too */
	put("devices/system/node/node2/cpu0", NULL);
	put("devices/system/node/node1/cpulist", "1\n");
	/* iomem: a hole in block 0 and the top of block 12 is not RAM */
	put("iomem", "00000000-00000fff : Reserved\n"
		     "00001000-0009efff : System RAM\n"
		     "00100000-1fffffff : System RAM\n"
		     "40000000-52ffffff : System RAM\n"
		     "60000000-63ffffff : System RAM\n");
	return 0;
}

static int teardown(void **state _unused_)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_one_node_blocks(void **state _unused_)
{
	struct damon_addr_range *r = NULL;
	size_t n = 0;
	char why[256];

	/* without iomem: whole blocks, adjacent ones merged, the offline one left out */
	assert_int_equal(numa_node_ranges(root, NULL, 1u << 1, 4096, 1, &r, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 2);
	assert_true(r[0].start == 8ULL << 27 && r[0].end == 10ULL << 27);
	assert_true(r[1].start == 12ULL << 27 && r[1].end == 13ULL << 27);
	free(r);

	assert_int_equal(numa_node_ranges(root, NULL, 1u << 0, 4096, 1, &r, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 1);
	assert_true(r[0].start == 0 && r[0].end == 4ULL << 27);
	free(r);
}

static void test_iomem_holes(void **state _unused_)
{
	struct damon_addr_range *r = NULL;
	size_t n = 0;
	char iomem[PATH_MAX], why[256];

	snprintf(iomem, sizeof(iomem), "%s/iomem", root);
	/* node 0 (0-512 MiB) against System RAM: the low hole and 0x9f000-0xfffff are gone */
	assert_int_equal(numa_node_ranges(root, iomem, 1u << 0, 4096, 1, &r, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 2);
	assert_true(r[0].start == 0x1000 && r[0].end == 0x9f000);
	assert_true(r[1].start == 0x100000 && r[1].end == 0x20000000);
	free(r);
	/* nodes 0 and 1 together, in core address units of 4 KiB */
	assert_int_equal(numa_node_ranges(root, iomem, 3, 4096, 4096, &r, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 4);
	assert_true(r[2].start == 0x40000 && r[2].end == 0x50000); /* block 8-9 = 1-1.25 GiB */
	assert_true(r[3].start == 0x60000 && r[3].end == 0x64000); /* block 12 up to the RAM's end */
	free(r);
}

static void test_errors(void **state _unused_)
{
	struct damon_addr_range *r = NULL;
	size_t n = 0;
	char why[256];

	assert_int_equal(numa_node_ranges(root, NULL, 1u << 2, 4096, 1, &r, &n, why, sizeof(why)), -ENODATA);
	assert_string_equal(why, "NUMA node 2 has no online memory (a memoryless or offlined node)");
	assert_int_equal(numa_node_ranges(root, NULL, 1u << 5, 4096, 1, &r, &n, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "NUMA node 5 does not exist"));
	/* one missing node fails the whole set */
	assert_int_equal(numa_node_ranges(root, NULL, 1u << 0 | 1u << 5, 4096, 1, &r, &n, why, sizeof(why)), -ENOENT);
	assert_int_equal(numa_node_ranges(root, NULL, 1, 4096, 3, &r, &n, why, sizeof(why)), -EINVAL);
	put("devices/system/memory/block_size_bytes", "zz\n");
	assert_int_equal(numa_node_ranges(root, NULL, 1, 4096, 1, &r, &n, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not a block size"));
	put("devices/system/memory/block_size_bytes", "8000000\n");
}

static void test_format(void **state _unused_)
{
	char b[64];

	numa_nodes_format(1, b, sizeof(b));
	assert_string_equal(b, "0");
	numa_nodes_format(0x3, b, sizeof(b));
	assert_string_equal(b, "0,1");
	numa_nodes_format(0x2f, b, sizeof(b));
	assert_string_equal(b, "0-3,5");
	numa_nodes_format(UINT64_C(1) << 63, b, sizeof(b));
	assert_string_equal(b, "63");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_node_blocks),
		cmocka_unit_test(test_iomem_holes),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
