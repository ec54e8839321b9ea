/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Physical targets that follow memory hotplug: a paddr target given as
 * `regions: {node: N}` or `regions: auto` is resolved from the memory blocks
 * and /proc/iomem when it is applied. When a memory block goes online or
 * offline, or is added or removed, the kernel sends a uevent (subsystem
 * "memory") on the kobject uevent netlink socket; damond listens to the
 * kernel's own multicast group (no udevd needed: busybox guests and
 * containers have none), waits MEMORY_SETTLE_USEC for the burst to end (a
 * DIMM is many blocks), resolves those targets again and commits the new
 * ranges online where they changed (manager_retarget: overlapping ranges keep
 * their history). `damondctl rescan` does the same on demand (and rescans the
 * process targets), for machines whose damond cannot see uevents (a fake
 * sysfs root, a sandbox without AF_NETLINK).
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "manager-internal.h"

#define MEMORY_SETTLE_USEC (500 * 1000ULL)

bool kd_follows_memory(const struct kdamond_cfg *k)
{
	for (size_t i = 0; k->ctx.ops == DAMON_OPS_PADDR && i < k->ctx.nr_targets; i++)
		if (k->ctx.targets[i].regions_auto || k->ctx.targets[i].regions_nodes)
			return true;
	return false;
}

static bool same_regions(const struct damon_target_cfg *a, size_t na, const struct damon_target_cfg *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		if (a[i].nr_regions != b[i].nr_regions)
			return false;
		for (size_t j = 0; j < a[i].nr_regions; j++)
			if (a[i].regions[j].start != b[i].regions[j].start ||
			    a[i].regions[j].end != b[i].regions[j].end)
				return false;
	}
	return true;
}

static void span_text(const struct damon_target_cfg *t, size_t n, char *buf, size_t len)
{
	uint64_t sz = 0, nr = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < t[i].nr_regions; j++) {
			sz += t[i].regions[j].end - t[i].regions[j].start;
			nr++;
		}
	snprintf(buf, len, "%" PRIu64 " range(s), %" PRIu64 " MiB", nr, sz >> 20);
}

/* Resolve kd's node and auto targets again; commit them where they changed. 1: retargeted, 0: unchanged. */
static int memory_rescan_one(struct manager *m, struct kdamond_rt *kd)
{
	struct damon_target_cfg *t = NULL;
	char before[64], after[64], why[256];
	size_t n = 0;
	int r;

	/* a kdamond that is off takes its ranges at its next start; the EBUSY retry timer owns a pending one */
	if (!kd->running || kd->pending != KD_PENDING_NONE || m->pending_nr_kdamonds)
		return 0;
	r = resolve_targets(m, kd->cfg, &t, &n);
	if (r < 0)
		return r; /* logged; the running ranges stay */
	if (same_regions(kd->targets, kd->nr_targets, t, n)) {
		targets_free(t, n);
		return 0;
	}
	span_text(kd->targets, kd->nr_targets, before, sizeof(before));
	span_text(t, n, after, sizeof(after));
	snprintf(why, sizeof(why), "retargeted: memory hotplug changed the memory its targets name: %s -> %s", before,
		 after);
	record_action(m, kd->name, "retarget", "%s", why);
	r = manager_retarget(m, kd, t, n, why);
	if (r < 0)
		return log_error_errno(r, "kdamond '%s': committing the new memory ranges failed: %m", kd->name);
	return 1;
}

int memory_rescan(struct manager *m)
{
	int nr = 0;

	for (size_t i = 0; i < m->nr_kd; i++)
		if (m->kd[i].cfg && kd_follows_memory(m->kd[i].cfg) && memory_rescan_one(m, &m->kd[i]) > 0)
			nr++;
	if (nr) {
		record_save(m);
		manager_notify_status(m);
	}
	return nr;
}

static int on_memory_settled(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;

	(void)sd_event_source_set_enabled(s, SD_EVENT_OFF);
	log_debug("memory hotplug: resolving the node and 'auto' targets again");
	(void)memory_rescan(m);
	return 0;
}

/* Is this kernel uevent about a memory block? "ACTION@DEVPATH\0KEY=VALUE\0..." */
static bool uevent_is_memory(const char *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		const char *f = buf + off;
		size_t l = strnlen(f, len - off);

		if (l == sizeof("SUBSYSTEM=memory") - 1 && memcmp(f, "SUBSYSTEM=memory", l) == 0)
			return true;
		off += l + 1;
	}
	return false;
}

static int on_uevent(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct manager *m = userdata;
	bool memory = false;

	for (;;) {
		char buf[8192];
		struct sockaddr_nl src = {};
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = { .msg_name = &src, .msg_namelen = sizeof(src), .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* events were lost: one of them may have been ours */
				memory = true;
				continue;
			}
			break;
		}
		/* only the kernel (port 0) speaks on this group; anything else is ignored */
		if (src.nl_pid != 0 || (mh.msg_flags & MSG_TRUNC))
			continue;
		memory |= uevent_is_memory(buf, (size_t)n);
	}
	if (memory && m->memory_timer) {
		(void)sd_event_source_set_time(m->memory_timer, now_usec() + MEMORY_SETTLE_USEC);
		(void)sd_event_source_set_enabled(m->memory_timer, SD_EVENT_ONESHOT);
	}
	return 0;
}

static void memory_unwatch(struct manager *m)
{
	m->memory_source = sd_event_source_disable_unref(m->memory_source);
	m->memory_timer = sd_event_source_disable_unref(m->memory_timer);
}

/* The uevent listener runs while a kdamond of the config has node or 'auto' targets, on the real /sys. */
void memory_arm(struct manager *m)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 /* the kernel's uevents */ };
	bool want = false;
	int fd, r;

	for (size_t i = 0; i < m->nr_kd; i++)
		want |= m->kd[i].cfg && kd_follows_memory(m->kd[i].cfg);
	/* a fake sysfs root's memory blocks are not this machine's: there, `damondctl rescan` */
	if (!want || !streq(m->sysfs_path, "/sys")) {
		memory_unwatch(m);
		return;
	}
	if (m->memory_source)
		return;
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
	if (fd < 0) {
		log_warning_errno(errno,
				  "memory hotplug: cannot listen to kernel uevents (%m): node and 'auto' targets are "
				  "resolved again only on reload or `damondctl rescan`");
		return;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_warning_errno(errno, "memory hotplug: cannot join the kernel's uevent group (%m): node and "
					 "'auto' targets are resolved again only on reload or `damondctl rescan`");
		close(fd);
		return;
	}
	r = sd_event_add_io(m->event, &m->memory_source, fd, EPOLLIN, on_uevent, m);
	if (r < 0) {
		close(fd);
		log_warning_errno(r, "memory hotplug: cannot watch uevents: %m");
		return;
	}
	(void)sd_event_source_set_io_fd_own(m->memory_source, true);
	r = sd_event_add_time(m->event, &m->memory_timer, CLOCK_MONOTONIC, UINT64_MAX, 100000, on_memory_settled, m);
	if (r < 0) {
		log_warning_errno(r, "memory hotplug: cannot arm its timer: %m");
		memory_unwatch(m);
		return;
	}
	(void)sd_event_source_set_enabled(m->memory_timer, SD_EVENT_OFF);
	log_debug("memory hotplug: listening to kernel uevents for node and 'auto' targets");
}

void memory_free(struct manager *m)
{
	memory_unwatch(m);
}
