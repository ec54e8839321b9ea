// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kpfstat: a census of /proc/kpageflags for the page-cache charge shapes
 * (issue 17; a guest tool built with gcc -static like memhog).
 *
 *   kpfstat
 *
 * Prints one line (counts in pages):
 *
 *   kpfstat: cache=N cache_idle=N cache_ref=N cache_active=N cache_compound=N mapped_file=N anon=N anon_idle=N idle=N
 *
 * cache: unmapped, evictable file pages on an LRU (the clean page cache a
 * paddr pageout can drop); cache_idle: those with KPF_IDLE (bit 25), i.e.
 * the ones DAMON's young check reads old; cache_compound: those in a large
 * folio (compound head or tail); idle: every page with KPF_IDLE.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define B(n) (UINT64_C(1) << (n))

int main(void)
{
	static uint64_t buf[4096];
	uint64_t cache = 0, cache_idle = 0, cache_ref = 0, cache_active = 0, cache_compound = 0, mapped_file = 0,
		 anon = 0, anon_idle = 0, idle = 0;
	ssize_t n;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd < 0) {
		perror("kpfstat: /proc/kpageflags");
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n / 8; i++) {
			uint64_t f = buf[i];

			if (f & B(25))
				idle++;
			if (!(f & B(5)) || (f & (B(18) | B(33) | B(17))))
				continue; /* not on an LRU, or unevictable, mlocked, hugetlb */
			if (f & (B(12) | B(14))) {
				anon++;
				anon_idle += !!(f & B(25));
				continue;
			}
			if (f & B(11)) {
				mapped_file++;
				continue;
			}
			cache++;
			cache_idle += !!(f & B(25));
			cache_ref += !!(f & B(2));
			cache_active += !!(f & B(6));
			cache_compound += !!(f & (B(15) | B(16)));
		}
	}
	close(fd);
	printf("kpfstat: cache=%llu cache_idle=%llu cache_ref=%llu cache_active=%llu cache_compound=%llu mapped_file=%llu anon=%llu anon_idle=%llu idle=%llu\n",
	       (unsigned long long)cache, (unsigned long long)cache_idle, (unsigned long long)cache_ref,
	       (unsigned long long)cache_active, (unsigned long long)cache_compound, (unsigned long long)mapped_file,
	       (unsigned long long)anon, (unsigned long long)anon_idle, (unsigned long long)idle);
	return 0;
}
