/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A consumer of one BPF ring buffer (BPF_MAP_TYPE_RINGBUF) that maps the data
 * area once.
 *
 * libbpf's ring_buffer maps the data pages twice, back to back, so that a
 * record that wraps around the end reads as one contiguous block; the kernel
 * populates both mappings up front, so the ring costs twice its size in RSS.
 * Here the producer page and the data area are mapped once (read-only), the
 * consumer page read-write, and the few records that wrap are copied into a
 * small bounce buffer. Records are handed over in order; busy (not yet
 * committed) records stop the walk, discarded ones are skipped.
 *
 * The layout is the kernel's UAPI (linux/bpf.h): an 8-byte header
 * {u32 len | BUSY | DISCARD, u32 pg_off} before each record, records 8-byte
 * aligned, positions counted in bytes since creation (masked by size - 1).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ringbuf;

/* Returns 0 to go on, < 0 to stop the walk (consumed so far stays consumed). */
typedef int (*ringbuf_sample_fn)(void *ctx, const void *data, size_t len);

/* Maps the ring buffer map fd whose data area is size bytes (a power of 2,
 * at least one page). */
int ringbuf_open(int map_fd, size_t size, struct ringbuf **ret);

/* For tests: a ring over caller-owned memory laid out as the kernel's
 * (consumer and producer positions, data area of size bytes). */
int ringbuf_open_mem(unsigned long *consumer_pos, const unsigned long *producer_pos, const void *data,
		     size_t size, struct ringbuf **ret);

struct ringbuf *ringbuf_free(struct ringbuf *rb);

/* Hands every committed record to fn, releasing each one's space to the
 * producer as soon as fn returns. Returns the number of records handed over,
 * or the first negative value fn returned. */
long ringbuf_consume(struct ringbuf *rb, ringbuf_sample_fn fn, void *ctx);

/* Hands every committed record to fn without consuming anything (a later
 * ringbuf_consume() sees them again, and maybe more). Records that wrap are
 * skipped (fn sees only contiguous ones). Returns the number handed over or
 * the first negative value fn returned. */
long ringbuf_peek(struct ringbuf *rb, ringbuf_sample_fn fn, void *ctx);

/* Bytes the producer has committed or reserved that are not consumed yet (tests). */
size_t ringbuf_avail(const struct ringbuf *rb);

size_t ringbuf_size(const struct ringbuf *rb);

/* Resident bytes of the mappings (0 for ringbuf_open_mem). */
size_t ringbuf_mapped_bytes(const struct ringbuf *rb);

/* Records that wrapped around the end and went through the bounce buffer (tests). */
uint64_t ringbuf_wrapped(const struct ringbuf *rb);
