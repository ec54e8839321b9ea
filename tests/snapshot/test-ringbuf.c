/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the single-mapping ring buffer consumer (lib/ringbuf.c) over
 * memory laid out as the kernel's BPF ring buffer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <linux/bpf.h>

#include "ringbuf.h"

#define SIZE 256u

/* A producer that writes records as kernel/bpf/ringbuf.c does. */
struct fake {
	unsigned long cons, prod;
	_Alignas(8) uint8_t data[SIZE];
};

static size_t span(uint32_t len)
{
	return ((size_t)len + BPF_RINGBUF_HDR_SZ + 7) & ~(size_t)7;
}

/* Reserves and fills len bytes with pattern seed, flags on the header. */
static unsigned long produce(struct fake *f, uint32_t len, uint8_t seed, uint32_t flags)
{
	unsigned long pos = f->prod;
	uint32_t hdr[2] = { len | flags, 0 };

	assert_true(f->prod + span(len) - f->cons <= SIZE);
	memcpy(f->data + (pos & (SIZE - 1)), hdr, sizeof(hdr));
	for (uint32_t i = 0; i < len; i++)
		f->data[(pos + BPF_RINGBUF_HDR_SZ + i) & (SIZE - 1)] = (uint8_t)(seed + i);
	f->prod += span(len);
	return pos;
}

static void commit(struct fake *f, unsigned long pos)
{
	uint32_t *hdr = (uint32_t *)(f->data + (pos & (SIZE - 1)));

	*hdr &= ~BPF_RINGBUF_BUSY_BIT;
}

struct seen {
	unsigned n;
	uint32_t len[16];
	uint8_t first[16], last[16];
	bool pattern_ok;
	int fail_at;	/* return -EIO on this record (1-based), 0: never */
};

static int on_sample(void *ctx, const void *data, size_t len)
{
	struct seen *s = ctx;
	const uint8_t *p = data;

	if (s->n < 16) {
		s->len[s->n] = (uint32_t)len;
		s->first[s->n] = len ? p[0] : 0;
		s->last[s->n] = len ? p[len - 1] : 0;
	}
	for (size_t i = 1; i < len; i++)
		if (p[i] != (uint8_t)(p[0] + i))
			s->pattern_ok = false;
	s->n++;
	if (s->fail_at && (int)s->n == s->fail_at)
		return -EIO;
	return 0;
}

static void test_in_order_and_released(void **state)
{
	struct fake f = {};
	struct seen s = { .pattern_ok = true };
	struct ringbuf *rb;

	(void)state;
	assert_int_equal(ringbuf_open_mem(&f.cons, &f.prod, f.data, SIZE, &rb), 0);
	produce(&f, 5, 10, 0);
	produce(&f, 16, 20, 0);
	produce(&f, 1, 30, 0);
	assert_int_equal(ringbuf_avail(rb), 16 + 24 + 16);
	assert_int_equal(ringbuf_consume(rb, on_sample, &s), 3);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.len[0], 5);
	assert_int_equal(s.first[0], 10);
	assert_int_equal(s.len[1], 16);
	assert_int_equal(s.last[1], 20 + 15);
	assert_int_equal(s.len[2], 1);
	assert_true(s.pattern_ok);
	/* every record's space is given back to the producer */
	assert_int_equal(f.cons, f.prod);
	assert_int_equal(ringbuf_avail(rb), 0);
	assert_int_equal(ringbuf_consume(rb, on_sample, &s), 0);
	ringbuf_free(rb);
}

static void test_wrap_is_contiguous(void **state)
{
	struct fake f = {};
	struct seen s = { .pattern_ok = true };
	struct ringbuf *rb;

	(void)state;
	assert_int_equal(ringbuf_open_mem(&f.cons, &f.prod, f.data, SIZE, &rb), 0);
	/* move the positions close to the end, then a record that wraps */
	produce(&f, 200, 1, 0);
	assert_int_equal(ringbuf_consume(rb, on_sample, &s), 1);
	produce(&f, 100, 77, 0);	/* starts at 208, payload 216..315: wraps */
	produce(&f, 8, 5, 0);
	s = (struct seen){ .pattern_ok = true };
	assert_int_equal(ringbuf_consume(rb, on_sample, &s), 2);
	assert_int_equal(s.len[0], 100);
	assert_int_equal(s.first[0], 77);
	assert_int_equal(s.last[0], (uint8_t)(77 + 99));
	assert_true(s.pattern_ok);
	assert_int_equal(ringbuf_wrapped(rb), 1);
	/* positions keep counting past the size; masking finds the data */
	assert_true(f.cons > SIZE);
	assert_int_equal(f.cons, f.prod);
	ringbuf_free(rb);
}

static void test_busy_stops_discard_skips(void **state)
{
	struct fake f = {};
	struct seen s = { .pattern_ok = true };
	struct ringbuf *rb;
	unsigned long busy;

	(void)state;
	assert_int_equal(ringbuf_open_mem(&f.cons, &f.prod, f.data, SIZE, &rb), 0);
	produce(&f, 8, 1, 0);
	produce(&f, 8, 2, BPF_RINGBUF_DISCARD_BIT);
	busy = produce(&f, 8, 3, BPF_RINGBUF_BUSY_BIT);
	produce(&f, 8, 4, 0);	/* committed, but behind a busy one */
	assert_int_equal(ringbuf_consume(rb, on_sample, &s), 1);
	assert_int_equal(s.first[0], 1);
	/* the discarded record's space is released too; the busy one is not */
	assert_int_equal(f.cons, busy);
	commit(&f, busy);
	assert_int_equal(ringbuf_consume(rb, on_sample, &s), 2);
	assert_int_equal(s.first[1], 3);
	assert_int_equal(s.first[2], 4);
	assert_int_equal(f.cons, f.prod);
	ringbuf_free(rb);
}

static void test_callback_error_and_corrupt_header(void **state)
{
	struct fake f = {};
	struct seen s = { .pattern_ok = true, .fail_at = 2 };
	struct ringbuf *rb;
	uint32_t bad[2] = { SIZE, 0 };

	(void)state;
	assert_int_equal(ringbuf_open_mem(&f.cons, &f.prod, f.data, SIZE, &rb), 0);
	produce(&f, 8, 1, 0);
	produce(&f, 8, 2, 0);
	produce(&f, 8, 3, 0);
	/* the failing record counts as consumed; the next call resumes after it */
	assert_int_equal(ringbuf_consume(rb, on_sample, &s), -EIO);
	assert_int_equal(s.n, 2);
	s.fail_at = 0;
	assert_int_equal(ringbuf_consume(rb, on_sample, &s), 1);
	assert_int_equal(s.first[2], 3);

	/* a length no record can have is reported, not followed */
	memcpy(f.data + (f.prod & (SIZE - 1)), bad, sizeof(bad));
	f.prod += 16;
	assert_int_equal(ringbuf_consume(rb, on_sample, &s), -EBADMSG);
	ringbuf_free(rb);
}

/* Positions are unsigned long and wrap (after 4 GiB on 32-bit machines). */
static void test_positions_wrap(void **state)
{
	struct fake f = {};
	struct seen s = { .pattern_ok = true };
	struct ringbuf *rb;

	(void)state;
	f.cons = f.prod = (unsigned long)-24;	/* 3 records of 8 bytes from the wrap */
	assert_int_equal(ringbuf_open_mem(&f.cons, &f.prod, f.data, SIZE, &rb), 0);
	for (uint8_t i = 0; i < 5; i++)
		produce(&f, 8, (uint8_t)(10 * i), 0);
	assert_true(f.prod < f.cons);	/* wrapped */
	assert_int_equal(ringbuf_avail(rb), 5 * 16);
	assert_int_equal(ringbuf_peek(rb, on_sample, &s), 5);
	s = (struct seen){ .pattern_ok = true };
	assert_int_equal(ringbuf_consume(rb, on_sample, &s), 5);
	assert_int_equal(s.first[4], 40);
	assert_int_equal(f.cons, f.prod);
	ringbuf_free(rb);
}

static void test_peek_consumes_nothing(void **state)
{
	struct fake f = {};
	struct seen s = { .pattern_ok = true };
	struct ringbuf *rb;

	(void)state;
	assert_int_equal(ringbuf_open_mem(&f.cons, &f.prod, f.data, SIZE, &rb), 0);
	produce(&f, 200, 1, 0);
	assert_int_equal(ringbuf_consume(rb, on_sample, &s), 1);
	produce(&f, 16, 10, 0);
	produce(&f, 100, 20, 0);	/* wraps: not shown by peek */
	produce(&f, 8, 30, BPF_RINGBUF_DISCARD_BIT);
	produce(&f, 8, 40, 0);
	produce(&f, 8, 50, BPF_RINGBUF_BUSY_BIT);	/* reserved, not committed: the end */
	s = (struct seen){ .pattern_ok = true };
	assert_int_equal(ringbuf_peek(rb, on_sample, &s), 2);
	assert_int_equal(s.first[0], 10);
	assert_int_equal(s.first[1], 40);
	assert_true(s.pattern_ok);
	/* nothing was released: consume sees them all, the wrapped one too */
	assert_int_equal(f.cons, 208);
	s = (struct seen){ .pattern_ok = true };
	assert_int_equal(ringbuf_consume(rb, on_sample, &s), 3);
	assert_int_equal(s.first[1], 20);
	assert_int_equal(s.len[1], 100);
	ringbuf_free(rb);
}

static void test_bad_arguments(void **state)
{
	struct fake f = {};
	struct ringbuf *rb = NULL;

	(void)state;
	assert_int_equal(ringbuf_open_mem(&f.cons, &f.prod, f.data, 100, &rb), -EINVAL);	/* not a power of 2 */
	assert_int_equal(ringbuf_open(-1, 4096, &rb), -EINVAL);
	assert_null(rb);
	assert_int_equal(ringbuf_consume(NULL, on_sample, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_and_released),
		cmocka_unit_test(test_wrap_is_contiguous),
		cmocka_unit_test(test_busy_stops_discard_skips),
		cmocka_unit_test(test_callback_error_and_corrupt_header),
		cmocka_unit_test(test_positions_wrap),
		cmocka_unit_test(test_peek_consumes_nothing),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
