// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memhog: a guest workload for the QEMU tests (built with gcc -static).
 *
 *   memhog [-m MiB] [-l] [-H MiB] [-O MiB] [-d secs] [-i usec] [-r secs] [-t secs]
 *          [-N] [-P] [-F] [-n NODE] [-T [-R]]
 *   memhog -q PID:START:END
 *
 * Allocates -m MiB of anonymous memory, touches every page once, optionally
 * mlock()s it (-l), then either idles (no -H) or keeps re-touching a hot
 * sub-range of -H MiB (in the middle of the buffer, or -O MiB from its start),
 * one pass every -i microseconds, while the rest stays cold.  With -d the hot
 * range stays cold too for the first secs, then turns hot (new structure in
 * memory DAMON has already sized its regions for).  After each pass the hot range is
 * briefly made read-only and writable again (mprotect), which flushes this
 * process's TLB: DAMON's vaddr check clears a page's accessed bit without a
 * TLB flush, and QEMU's software TLB (TCG) sets the bit again only on a TLB
 * refill, so without the flush a hot range that fits in QEMU's TLB stays
 * invisible to DAMON for seconds (seen on 7.3: hot regions at 2 of 20
 * samples, a whole aggregation window at 0).  -F turns the flush off.
 * When the memory is ready it prints one line
 *
 *   memhog: pid=N start=0x... end=0x... hot_start=0x... hot_end=0x...
 *
 * (hot_start=hot_end when there is no hot range; with -P the cold part was
 * first pushed out with MADV_PAGEOUT, which needs swap) and then every -r seconds
 * "memhog: rss_kib=N".  It runs until killed (SIGTERM/SIGINT: clean exit 0)
 * or for -t seconds.
 *
 * -n NODE allocates the buffer on that NUMA node (set_mempolicy
 * MPOL_PREFERRED before the first touch; the process is not bound: pages
 * may move). -q asks the kernel (move_pages with no destination) on which
 * node each page of [START, END) of process PID is, and prints one line
 *
 *   memhog: pages=N node0=N node1=N other=N absent=N
 *
 * ("absent": not present, e.g. swapped out or never touched).
 *
 * -T maps the buffer from the hugetlb pool (MAP_HUGETLB, the default huge
 * page size, 2 MiB on x86-64; the pool must hold -m MiB first:
 * /proc/sys/vm/nr_hugepages) and touches every huge page. With -R too it
 * only maps: the pages stay reserved for the mapping (HugePages_Rsvd) but
 * free in the pool, never faulted in.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static int parse_ul(const char *s, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: memhog [-m MiB] [-l] [-H hot_MiB] [-O MiB] [-d secs] [-i usec] [-r secs] [-t secs] [-N] [-P] [-F] [-n NODE]\n"
		"              [-T [-R]] [-L MiB [-D secs]]\n"
		"       memhog -q PID:0xSTART:0xEND\n"
		"  -m MiB   memory to allocate and touch (default 64)\n"
		"  -l       mlock() it\n"
		"  -H MiB   keep re-touching a hot sub-range of this size (default 0: idle)\n"
		"  -O MiB   the hot range starts this far into the buffer (default: centred, 2 MiB aligned)\n"
		"  -d secs  the hot range turns hot only after secs (default 0)\n"
		"  -i usec  pause between passes over the hot range (default 1000)\n"
		"  -r secs  print 'memhog: rss_kib=N' every secs (default 0: never)\n"
		"  -t secs  exit after secs (default 0: run until killed)\n"
		"  -N       madvise(MADV_NOHUGEPAGE)\n"
		"  -P       madvise(MADV_PAGEOUT) the cold part after the first touch\n"
		"  -F       no TLB flush (mprotect) after each pass over the hot range\n"
		"  -n NODE  allocate on this NUMA node (preferred, not bound)\n"
		"  -T       map from the hugetlb pool (MAP_HUGETLB, default huge page size)\n"
		"  -R       with -T: reserve only, touch nothing (the pages stay free in the pool)\n"
		"  -L MiB   mlock() only the first MiB of the buffer (one process, locked and idle memory)\n"
		"  -D secs  with -L: touch the rest only after secs (prints 'memhog: rest touched' then)\n"
		"  -q PID:0xSTART:0xEND  print on which node each page of the range is\n");
}

#define MPOL_PREFERRED_MODE 1

/* -q PID:START:END: the node of every page of the range (move_pages, nodes NULL) */
static int query_nodes(const char *arg)
{
	unsigned long long pid, start, end, counts[4] = { 0, 0, 0, 0 }, n = 0; /* node0, node1, other, absent */
	long page = sysconf(_SC_PAGESIZE);
	enum {
		CHUNK = 4096
	};
	static void *pages[CHUNK];
	static int status[CHUNK];

	if (sscanf(arg, "%llu:%llx:%llx", &pid, &start, &end) != 3 || end <= start) {
		fprintf(stderr, "memhog: -q wants PID:0xSTART:0xEND, got %s\n", arg);
		return 2;
	}
	for (unsigned long long a = start; a < end;) {
		size_t k = 0;

		for (; k < CHUNK && a < end; k++, a += (unsigned long long)page)
			pages[k] = (void *)(uintptr_t)a;
		if (syscall(SYS_move_pages, (int)pid, (unsigned long)k, pages, NULL, status, 0) < 0) {
			fprintf(stderr, "memhog: move_pages(%llu): %s\n", pid, strerror(errno));
			return 1;
		}
		for (size_t i = 0; i < k; i++, n++) {
			if (status[i] == 0 || status[i] == 1)
				counts[status[i]]++;
			else if (status[i] > 1)
				counts[2]++;
			else
				counts[3]++;
		}
	}
	printf("memhog: pages=%llu node0=%llu node1=%llu other=%llu absent=%llu\n", n, counts[0], counts[1], counts[2],
	       counts[3]);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long mib = 64, hot_mib = 0, hot_at = ~0UL, delay = 0, interval_us = 1000, report = 0, lifetime = 0;
	unsigned long node = ~0UL, lock_mib = 0, rest_delay = 0;
	int do_mlock = 0, no_thp = 0, pageout = 0, tlb_flush = 1, hugetlb = 0, reserve_only = 0, c;
	long page = sysconf(_SC_PAGESIZE);
	size_t size, hot_size, hot_off, off;
	double t0, next_report;
	struct sigaction sa;
	unsigned char *buf;
	unsigned char v = 1;

	while ((c = getopt(argc, argv, "m:lH:O:d:i:r:t:NPFn:q:TRL:D:h")) != -1) {
		unsigned long *dst = NULL;

		switch (c) {
		case 'm': dst = &mib; break;
		case 'H': dst = &hot_mib; break;
		case 'i': dst = &interval_us; break;
		case 'r': dst = &report; break;
		case 't': dst = &lifetime; break;
		case 'O': dst = &hot_at; break;
		case 'd': dst = &delay; break;
		case 'n':
			dst = &node;
			break;
		case 'q':
			return query_nodes(optarg);
		case 'l': do_mlock = 1; break;
		case 'N': no_thp = 1; break;
		case 'P': pageout = 1; break;
		case 'F': tlb_flush = 0; break;
		case 'T':
			hugetlb = 1;
			break;
		case 'R':
			reserve_only = 1;
			break;
		case 'L':
			dst = &lock_mib;
			break;
		case 'D':
			dst = &rest_delay;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (dst && parse_ul(optarg, dst) < 0) {
			fprintf(stderr, "memhog: bad number for -%c: %s\n", c, optarg);
			return 2;
		}
	}
	if (optind != argc || mib == 0 || hot_mib > mib || (hot_at != ~0UL && hot_at + hot_mib > mib) ||
	    (reserve_only && (!hugetlb || hot_mib || pageout)) || lock_mib > mib || (lock_mib && do_mlock) ||
	    (rest_delay && !lock_mib)) {
		usage(stderr);
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	size = mib * MIB;
	hot_size = hot_mib * MIB;
	/* the hot range sits in the middle, 2 MiB aligned */
	hot_off = hot_at != ~0UL ? hot_at * MIB : ((size - hot_size) / 2) & ~(2 * MIB - 1);

	if (node != ~0UL) {
		unsigned long mask[2] = { 0, 0 };

		if (node >= 128) {
			fprintf(stderr, "memhog: -n %lu: node out of range\n", node);
			return 2;
		}
		mask[node / 64] = 1UL << (node % 64);
		if (syscall(SYS_set_mempolicy, MPOL_PREFERRED_MODE, mask, 129UL) < 0) {
			fprintf(stderr, "memhog: set_mempolicy(preferred node %lu): %s\n", node, strerror(errno));
			return 1;
		}
	}
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (hugetlb ? MAP_HUGETLB : 0), -1,
		   0);
	if (buf == MAP_FAILED) {
		fprintf(stderr, "memhog: mmap %lu MiB%s: %s\n", mib, hugetlb ? " (MAP_HUGETLB)" : "", strerror(errno));
		return 1;
	}
	if (no_thp && madvise(buf, size, MADV_NOHUGEPAGE) < 0)
		fprintf(stderr, "memhog: madvise(MADV_NOHUGEPAGE): %s\n", strerror(errno));
	for (off = 0; !reserve_only && off < (rest_delay ? lock_mib * MIB : size); off += (size_t)page)
		buf[off] = (unsigned char)(off / (size_t)page) | 1;
	if (do_mlock && mlock(buf, size) < 0) {
		fprintf(stderr, "memhog: mlock %lu MiB: %s\n", mib, strerror(errno));
		return 1;
	}
	if (lock_mib && mlock(buf, lock_mib * MIB) < 0) {
		fprintf(stderr, "memhog: mlock the first %lu MiB: %s\n", lock_mib, strerror(errno));
		return 1;
	}

	if (pageout) {
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
		if (hot_off && madvise(buf, hot_off, MADV_PAGEOUT) < 0)
			fprintf(stderr, "memhog: madvise(MADV_PAGEOUT): %s\n", strerror(errno));
		if (hot_off + hot_size < size &&
		    madvise(buf + hot_off + hot_size, size - hot_off - hot_size, MADV_PAGEOUT) < 0)
			fprintf(stderr, "memhog: madvise(MADV_PAGEOUT): %s\n", strerror(errno));
	}

	printf("memhog: pid=%ld start=0x%" PRIxPTR " end=0x%" PRIxPTR
	       " hot_start=0x%" PRIxPTR " hot_end=0x%" PRIxPTR " mib=%lu hot_mib=%lu mlock=%d\n",
	       (long)getpid(), (uintptr_t)buf, (uintptr_t)(buf + size),
	       (uintptr_t)(buf + hot_off), (uintptr_t)(buf + hot_off + hot_size),
	       mib, hot_mib, do_mlock);
	fflush(stdout);

	if (rest_delay) {
		for (double until = now() + (double)rest_delay; !stop && now() < until;)
			usleep(50000);
		for (off = lock_mib * MIB; off < size; off += (size_t)page)
			buf[off] = (unsigned char)(off / (size_t)page) | 1;
		printf("memhog: rest touched\n");
		fflush(stdout);
	}

	t0 = now();
	next_report = t0 + (double)report;
	while (!stop) {
		double t;

		if (hot_size && now() - t0 >= (double)delay) {
			for (off = hot_off; off < hot_off + hot_size; off += (size_t)page)
				buf[off] += v;
			v++;
			if (tlb_flush &&
			    (mprotect(buf + hot_off, hot_size, PROT_READ) < 0 ||
			     mprotect(buf + hot_off, hot_size, PROT_READ | PROT_WRITE) < 0)) {
				fprintf(stderr, "memhog: mprotect: %s\n", strerror(errno));
				return 1;
			}
			if (interval_us)
				usleep((useconds_t)interval_us);
		} else {
			usleep(100000);
		}
		t = now();
		if (report && t >= next_report) {
			printf("memhog: rss_kib=%ld\n", rss_kib());
			fflush(stdout);
			next_report += (double)report;
		}
		if (lifetime && t - t0 >= (double)lifetime)
			break;
	}
	printf("memhog: exit rss_kib=%ld\n", rss_kib());
	return 0;
}
