/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>

#include "iomem.h"

int iomem_system_ram(const char *iomem_path, uint64_t page_size, struct damon_addr_range **ret, size_t *ret_n)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ struct damon_addr_range *v = NULL;
	size_t n = 0, cap = 0;
	char line[512];
	bool all_zero = true;

	f = fopen(iomem_path, "re");
	if (!f)
		return negative_errno();

	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;
		char name[256];
		struct damon_addr_range *r;

		if (line[0] == ' ') /* nested resource */
			continue;
		if (sscanf(line, "%llx-%llx : %255[^\n]", &s, &e, name) != 3)
			continue;
		if (!streq(name, "System RAM"))
			continue;
		if (s || e)
			all_zero = false;
		/* iomem ends are inclusive */
		s = (s + page_size - 1) / page_size * page_size;
		e = (e + 1) / page_size * page_size;
		if (e <= s)
			continue;
		r = APPEND(v, n, cap);
		if (!r)
			return -ENOMEM;
		r->start = s;
		r->end = e;
	}
	if (ferror(f))
		return -EIO;
	if (n == 0)
		return all_zero ? -EPERM : -ENODATA; /* non-root readers see zeroes */
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

int iomem_system_ram_units(const char *iomem_path, uint64_t page_size, uint64_t addr_unit,
			   struct damon_addr_range **ret, size_t *ret_n)
{
	struct damon_addr_range *v = NULL;
	size_t n = 0, k = 0;
	int r;

	if (addr_unit == 0 || (addr_unit & (addr_unit - 1)))
		return -EINVAL;
	r = iomem_system_ram(iomem_path, MAX(page_size, addr_unit), &v, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		v[k].start = v[i].start / addr_unit;
		v[k].end = v[i].end / addr_unit;
		if (v[k].end > v[k].start)
			k++;
	}
	if (k == 0) {
		free(v);
		return -ENODATA;
	}
	*ret = v;
	*ret_n = k;
	return 0;
}
