/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A BPF ring buffer consumer with one mapping of the data area (see ringbuf.h). */
#include "ringbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/bpf.h>

struct ringbuf {
	unsigned long *consumer_pos;
	const unsigned long *producer_pos;
	const uint8_t *data;
	size_t size;
	size_t mask;
	/* mappings (ringbuf_open only) */
	void *cons_map;
	void *prod_map;
	size_t page;
	/* records that wrap around the end are copied here */
	uint8_t *bounce;
	size_t bounce_cap;
	uint64_t wrapped;
};

static bool size_ok(size_t size)
{
	return size >= 8 && (size & (size - 1)) == 0;
}

int ringbuf_open_mem(unsigned long *consumer_pos, const unsigned long *producer_pos, const void *data,
		     size_t size, struct ringbuf **ret)
{
	struct ringbuf *rb;

	if (!consumer_pos || !producer_pos || !data || !ret || !size_ok(size))
		return -EINVAL;
	rb = calloc(1, sizeof(*rb));
	if (!rb)
		return -ENOMEM;
	rb->consumer_pos = consumer_pos;
	rb->producer_pos = producer_pos;
	rb->data = data;
	rb->size = size;
	rb->mask = size - 1;
	*ret = rb;
	return 0;
}

int ringbuf_open(int map_fd, size_t size, struct ringbuf **ret)
{
	long page = sysconf(_SC_PAGESIZE);
	struct ringbuf *rb;
	void *c, *p;
	int r;

	if (map_fd < 0 || !ret || page <= 0 || !size_ok(size) || size < (size_t)page)
		return -EINVAL;
	/* page 0: consumer position, the only part user space may write */
	c = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (c == MAP_FAILED)
		return -errno;
	/* page 1: producer position; then the data area, once (libbpf: twice) */
	p = mmap(NULL, (size_t)page + size, PROT_READ, MAP_SHARED, map_fd, page);
	if (p == MAP_FAILED) {
		r = -errno;
		munmap(c, (size_t)page);
		return r;
	}
	r = ringbuf_open_mem(c, p, (const uint8_t *)p + page, size, &rb);
	if (r < 0) {
		munmap(p, (size_t)page + size);
		munmap(c, (size_t)page);
		return r;
	}
	rb->cons_map = c;
	rb->prod_map = p;
	rb->page = (size_t)page;
	*ret = rb;
	return 0;
}

struct ringbuf *ringbuf_free(struct ringbuf *rb)
{
	if (!rb)
		return NULL;
	if (rb->prod_map)
		munmap(rb->prod_map, rb->page + rb->size);
	if (rb->cons_map)
		munmap(rb->cons_map, rb->page);
	free(rb->bounce);
	free(rb);
	return NULL;
}

static size_t record_span(uint32_t len)
{
	/* header + payload, rounded up to 8 bytes */
	return ((size_t)len + BPF_RINGBUF_HDR_SZ + 7) & ~(size_t)7;
}

/* Payload of the record whose header is at position pos, contiguous. */
static const void *payload(struct ringbuf *rb, unsigned long pos, size_t len)
{
	size_t off = (pos + BPF_RINGBUF_HDR_SZ) & rb->mask;
	size_t first;

	if (off + len <= rb->size)
		return rb->data + off;
	if (len > rb->bounce_cap) {
		uint8_t *b = realloc(rb->bounce, len);

		if (!b)
			return NULL;
		rb->bounce = b;
		rb->bounce_cap = len;
	}
	first = rb->size - off;
	memcpy(rb->bounce, rb->data + off, first);
	memcpy(rb->bounce + first, rb->data, len - first);
	rb->wrapped++;
	return rb->bounce;
}

enum { RECORD_BUSY, RECORD_READY, RECORD_DISCARDED };

/* The state and payload length of the record whose header is at pos. */
static int record_at(const struct ringbuf *rb, unsigned long pos, uint32_t *ret_sz)
{
	const uint32_t *hdr = (const uint32_t *)(rb->data + (pos & rb->mask));
	uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);

	if (len & BPF_RINGBUF_BUSY_BIT)
		return RECORD_BUSY;	/* reserved, not committed yet */
	*ret_sz = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
	if (*ret_sz > rb->size - BPF_RINGBUF_HDR_SZ)
		return -EBADMSG;	/* not a record the kernel wrote */
	return len & BPF_RINGBUF_DISCARD_BIT ? RECORD_DISCARDED : RECORD_READY;
}

long ringbuf_consume(struct ringbuf *rb, ringbuf_sample_fn fn, void *ctx)
{
	unsigned long cons, prod;
	long n = 0;
	bool progress;

	if (!rb || !fn)
		return -EINVAL;
	cons = __atomic_load_n(rb->consumer_pos, __ATOMIC_ACQUIRE);
	do {
		progress = false;
		prod = __atomic_load_n(rb->producer_pos, __ATOMIC_ACQUIRE);
		while ((long)(prod - cons) > 0) {	/* positions wrap on 32-bit */
			uint32_t sz = 0;
			int state = record_at(rb, cons, &sz);
			unsigned long next;

			if (state == RECORD_BUSY)
				return n;
			if (state < 0)
				return state;
			next = cons + record_span(sz);
			if (state == RECORD_READY) {
				const void *p = payload(rb, cons, sz);
				int r;

				if (!p)
					return -ENOMEM;
				r = fn(ctx, p, sz);
				if (r < 0) {
					__atomic_store_n(rb->consumer_pos, next, __ATOMIC_RELEASE);
					return r;
				}
				n++;
			}
			cons = next;
			__atomic_store_n(rb->consumer_pos, cons, __ATOMIC_RELEASE);
			progress = true;
		}
	} while (progress);
	return n;
}

long ringbuf_peek(struct ringbuf *rb, ringbuf_sample_fn fn, void *ctx)
{
	unsigned long cons, prod;
	long n = 0;

	if (!rb || !fn)
		return -EINVAL;
	cons = __atomic_load_n(rb->consumer_pos, __ATOMIC_ACQUIRE);
	prod = __atomic_load_n(rb->producer_pos, __ATOMIC_ACQUIRE);
	while ((long)(prod - cons) > 0) {	/* positions wrap on 32-bit */
		size_t off = (cons + BPF_RINGBUF_HDR_SZ) & rb->mask;
		uint32_t sz = 0;
		int state = record_at(rb, cons, &sz);

		if (state == RECORD_BUSY)
			break;
		if (state < 0)
			return state;
		if (state == RECORD_READY && off + sz <= rb->size) {
			int r = fn(ctx, rb->data + off, sz);

			if (r < 0)
				return r;
			n++;
		}
		cons += record_span(sz);
	}
	return n;
}

size_t ringbuf_avail(const struct ringbuf *rb)
{
	unsigned long cons, prod;

	if (!rb)
		return 0;
	cons = __atomic_load_n(rb->consumer_pos, __ATOMIC_ACQUIRE);
	prod = __atomic_load_n(rb->producer_pos, __ATOMIC_ACQUIRE);
	return (long)(prod - cons) > 0 ? (size_t)(prod - cons) : 0;
}

size_t ringbuf_size(const struct ringbuf *rb)
{
	return rb ? rb->size : 0;
}

size_t ringbuf_mapped_bytes(const struct ringbuf *rb)
{
	return rb && rb->prod_map ? 2 * rb->page + rb->size : 0;
}

uint64_t ringbuf_wrapped(const struct ringbuf *rb)
{
	return rb ? rb->wrapped : 0;
}
