/*
 * hlc.h: hybrid logical clock (Kulkarni et al.), packed in 64 bits:
 * 48 bits of Unix time in milliseconds and a 16-bit counter. Changes are
 * totally ordered by (hlc, device id): sh_hlc_cmp().
 *
 * A clock is a small struct the owner keeps (and persists, so a restart
 * with a clock that went backwards still moves forward). Not thread-safe:
 * one owner thread, or the owner's lock.
 */
#ifndef SH_HLC_H
#define SH_HLC_H

#include <stdint.h>

#include "err.h"

#define SH_HLC_TEXT_LEN 16 /* 16 lowercase hex digits */

struct sh_hlc {
	uint64_t last;                /* last value handed out or merged */
	uint64_t max_drift_ms;        /* receive guard; 0 = 5 minutes */
	uint64_t (*now_ms)(void);     /* physical clock; NULL = real time */
};

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t sh_wall_ms(void);
/* Microseconds of CLOCK_MONOTONIC: for intervals and deadlines, never dates. */
uint64_t sh_mono_us(void);

/* A new timestamp for a local event or a send; strictly increasing. */
uint64_t sh_hlc_now(struct sh_hlc *c);

/*
 * Merges a remote timestamp. SH_ERR_CLOCK (clock unchanged) if its physical
 * part is more than max_drift ahead of ours; otherwise *out is a timestamp
 * greater than both the remote one and every earlier local one.
 */
int sh_hlc_recv(struct sh_hlc *c, uint64_t remote, uint64_t *out) SH_MUST_USE;

static inline uint64_t sh_hlc_ms(uint64_t h) { return h >> 16; }
static inline uint16_t sh_hlc_counter(uint64_t h) { return (uint16_t)(h & 0xffff); }
static inline uint64_t sh_hlc_pack(uint64_t ms, uint16_t counter)
{
	return (ms << 16) | counter;
}

/* Fixed-width lowercase hex, sorts like the number. out: 17 bytes. */
void sh_hlc_encode(uint64_t h, char out[SH_HLC_TEXT_LEN + 1]);
/* Strict inverse of sh_hlc_encode(). */
int sh_hlc_decode(const char *s, uint64_t *out) SH_MUST_USE;

/* Total order of changes: by hlc, then by device id. <0, 0, >0. */
int sh_hlc_cmp(uint64_t a, const char *dev_a, uint64_t b, const char *dev_b);

#endif
