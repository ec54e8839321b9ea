/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A replay event source: recorded BPF monitor records (daemon/bpf/damon-events.h,
 * raw, as the ring buffer hands them over) fed from a file into a snapshot
 * store (lib/snapshot.h), the same path the BPF monitor (daemon/events.c)
 * feeds. For tests of the manager without a kernel, and for replaying what a
 * kernel emitted.
 *
 * File format (little endian; tests/fixtures/events/README.md):
 *   header  "DAMONDRP" (8 bytes), u32 format (REPLAY_FORMAT), u32 the
 *           records' DAMON_EV_VERSION
 *   frames  u32 len, u32 kdamond index, then len bytes of one raw record,
 *           zero-padded to a multiple of 8
 * A frame names the kdamond that emitted the record (by damond's index) rather
 * than trusting its pid: on replay, the header's pid becomes the pid the store
 * knows for that index (snapshot_store_set_pid), and the timestamps move by
 * one offset so that the first record is at the time given to replay_start().
 * The records' relative timing is kept.
 *
 * Pure: no clock (time is passed in), no logging; replay_load() reads the file.
 * The writer (replay_writer_*) produces such a file from live records: damond
 * --record-events FILE, used to capture recordings on the VM kernels.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

#define REPLAY_MAGIC "DAMONDRP"
#define REPLAY_FORMAT 1

struct replay;

/* Reads and checks the whole file. -EBADMSG: not a recording, a frame cut
 * short or a record damon_event_decode() rejects; -EPROTONOSUPPORT: another
 * format or DAMON_EV_VERSION. */
int replay_load(const char *path, struct replay **ret);
struct replay *replay_free(struct replay *r);

size_t replay_nr_records(const struct replay *r);
/* Kernel time from the first record to the last (ns). */
uint64_t replay_span_ns(const struct replay *r);

/* The first record plays at now_ns (CLOCK_MONOTONIC); later ones keep their distance to it. */
void replay_start(struct replay *r, uint64_t now_ns);
/* Feeds s every record due at now_ns not fed yet (then snapshot_store_flush()).
 * Records of a kdamond index the store has no pid for are skipped (counted).
 * Returns the number fed, or a negative errno from the store. */
long replay_feed(struct replay *r, struct snapshot_store *s, uint64_t now_ns);
/* Every record was fed. */
bool replay_done(const struct replay *r);
/* Records skipped: their kdamond was not running. */
uint64_t replay_skipped(const struct replay *r);

/* ---- writing a recording (damond --record-events) ---------------------------- */

struct replay_writer;

/* Creates (truncates) path and writes the header. At most max_bytes of frames
 * are written (0: no limit); the file is a valid recording at every frame. */
int replay_writer_open(const char *path, uint64_t max_bytes, struct replay_writer **ret);
/* One frame: a raw record emitted by the kdamond at damond's index kdamond.
 * -EFBIG once the limit is reached (nothing written), -EINVAL for an empty or
 * oversized record, -errno of a failed write (the writer then stays failed). */
int replay_writer_add(struct replay_writer *w, unsigned kdamond, const void *rec, size_t len);
uint64_t replay_writer_frames(const struct replay_writer *w);
uint64_t replay_writer_bytes(const struct replay_writer *w);
/* Flushes and closes; returns the first write error, if any. NULL is fine. */
int replay_writer_close(struct replay_writer *w);
