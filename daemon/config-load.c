/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Loading a big policy allocates megabytes that die with the load: libyaml's
 * document of a 20,000-range file is about 100,000 nodes, each scalar and
 * each mapping's pair list a small allocation (7 to 8 MB in all). On the event
 * loop's thread they were spread over the main malloc arena between the
 * allocations that outlive the load (the policy itself, damond's own
 * state), so the free space could not shrink the heap: malloc_trim() gave
 * its pages back, but each stats tick's allocations (the status document
 * behind the metrics) went to other free chunks of those megabytes and faulted
 * them in again, up to 1.9 MB between two trims at 20,000 regions.
 *
 * On a thread of its own the load gets an arena of its own (glibc gives a
 * new thread a new arena, or one no live thread uses, at its first malloc).
 * Its transient nodes are freed there, the policy stays there until it is
 * freed, and the event loop's thread never allocates from that arena, so
 * the free memory the load leaves behind is given back once by
 * malloc_trim() and not touched again (the stats worker's thread may later
 * take the same arena; it allocates little). The thread only parses: no
 * logging, no manager state.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>

#include "config-load.h"

struct load_job {
	const char *path;
	struct damond_config **ret;
	struct config_errors *errs;
	int r;
};

static void *load_main(void *userdata)
{
	struct load_job *j = userdata;

	j->r = config_load_file(j->path, j->ret, j->errs);
	return NULL;
}

int config_load_apart(const char *path, struct damond_config **ret, struct config_errors *errs)
{
	struct load_job j = { .path = path, .ret = ret, .errs = errs };
	pthread_t t;

	/* no thread (EAGAIN under a tight RLIMIT_NPROC): the same load here */
	if (pthread_create(&t, NULL, load_main, &j) != 0)
		return config_load_file(path, ret, errs);
	(void)pthread_join(t, NULL);
	/* the load's free memory, in its arena: whole pages back to the kernel */
	malloc_trim(0);
	return j.r;
}
