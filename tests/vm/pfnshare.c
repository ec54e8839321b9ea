// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pfnshare: how much of a process's memory DAMON's physical regions read
 * accessed (a guest tool for bench/refine; built with gcc -static like memhog).
 *
 *   pfnshare [-a MIN] REGIONS PID:START:END...
 *
 * REGIONS is a file of "start end nr_accesses" lines (physical byte
 * addresses, as damondctl regions shows a paddr target). For each
 * PID:START:END (virtual addresses, hex with 0x or decimal) it reads the
 * physical frame of every present page from /proc/PID/pagemap (needs root:
 * without CAP_SYS_ADMIN the kernel reports frame 0) and prints
 *
 *   pfnshare: pid=N pages=N accessed=N unmonitored=N nr_sum=N runs=N
 *
 * pages: present pages; accessed: those inside a region with nr_accesses >=
 * MIN (default 1); unmonitored: those in no region; nr_sum: the sum over the
 * pages of their region's nr_accesses (nr_sum / pages / max_nr_accesses is
 * the access-weighted share); runs: physically contiguous runs of the
 * pages in virtual order (how finely the process's memory is interleaved
 * with other memory).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct region {
	uint64_t start, end, nr;
};

static int cmp_region(const void *a, const void *b)
{
	const struct region *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* index of the region holding addr, or -1 */
static long find(const struct region *r, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && r[lo].start <= addr && addr < r[lo].end ? (long)lo : -1;
}

int main(int argc, char **argv)
{
	struct region *regs = NULL;
	size_t nr = 0, cap = 0;
	uint64_t min_acc = 1;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f;
	int c;

	while ((c = getopt(argc, argv, "a:")) != -1) {
		if (c != 'a') {
			fprintf(stderr, "usage: pfnshare [-a MIN] REGIONS PID:START:END...\n");
			return 2;
		}
		min_acc = strtoull(optarg, NULL, 0);
	}
	if (argc - optind < 2) {
		fprintf(stderr, "usage: pfnshare [-a MIN] REGIONS PID:START:END...\n");
		return 2;
	}
	f = fopen(argv[optind], "r");
	if (!f) {
		fprintf(stderr, "pfnshare: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	for (;;) {
		struct region r;

		if (fscanf(f, "%" SCNu64 " %" SCNu64 " %" SCNu64, &r.start, &r.end, &r.nr) != 3)
			break;
		if (nr == cap) {
			cap = cap ? 2 * cap : 256;
			regs = realloc(regs, cap * sizeof(*regs));
			if (!regs)
				return 1;
		}
		regs[nr++] = r;
	}
	fclose(f);
	qsort(regs, nr, sizeof(*regs), cmp_region);

	for (int a = optind + 1; a < argc; a++) {
		unsigned long pid;
		uint64_t start, end, pages = 0, acc = 0, unmon = 0, nr_sum = 0, runs = 0, last = UINT64_MAX, buf[512];
		char path[64], *p = argv[a], *q;
		int fd;

		pid = strtoul(p, &q, 10);
		if (*q != ':')
			goto bad;
		start = strtoull(q + 1, &q, 0);
		if (*q != ':')
			goto bad;
		end = strtoull(q + 1, &q, 0);
		if (*q || end < start)
			goto bad;
		snprintf(path, sizeof(path), "/proc/%lu/pagemap", pid);
		fd = open(path, O_RDONLY);
		if (fd < 0) {
			fprintf(stderr, "pfnshare: %s: %s\n", path, strerror(errno));
			return 1;
		}
		for (uint64_t v = start / page; v < (end + page - 1) / page;) {
			size_t want = (size_t)((end + page - 1) / page - v), got;
			ssize_t n;

			if (want > 512)
				want = 512;
			n = pread(fd, buf, want * 8, (off_t)(v * 8));
			if (n <= 0) {
				fprintf(stderr, "pfnshare: read %s: %s\n", path, n ? strerror(errno) : "end of file");
				return 1;
			}
			got = (size_t)n / 8;
			for (size_t i = 0; i < got; i++) {
				uint64_t pfn = buf[i] & ((1ULL << 55) - 1);
				long r;

				if (!(buf[i] >> 63))
					continue; /* not present */
				pages++;
				runs += pfn != last + 1;
				last = pfn;
				r = find(regs, nr, pfn * (uint64_t)page);
				if (r < 0)
					unmon++;
				else {
					nr_sum += regs[r].nr;
					acc += regs[r].nr >= min_acc;
				}
			}
			v += got;
		}
		close(fd);
		printf("pfnshare: pid=%lu pages=%" PRIu64 " accessed=%" PRIu64 " unmonitored=%" PRIu64
		       " nr_sum=%" PRIu64 " runs=%" PRIu64 "\n",
		       pid, pages, acc, unmon, nr_sum, runs);
		continue;
bad:
		fprintf(stderr, "pfnshare: bad PID:START:END: %s\n", p);
		return 2;
	}
	free(regs);
	return 0;
}
