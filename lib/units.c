/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <inttypes.h>
#include <strings.h>

#include "macro.h"
#include "units.h"

/* Parse a run of decimal digits into *ret; returns the number of digits or -ERANGE. */
static int parse_digits(const char *s, uint64_t *ret)
{
	uint64_t v = 0;
	int n = 0;

	for (; isdigit((unsigned char)s[n]); n++) {
		unsigned d = (unsigned)(s[n] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*ret = v;
	return n;
}

static int parse_hex_digits(const char *s, uint64_t *ret)
{
	uint64_t v = 0;
	int n = 0;

	for (; isxdigit((unsigned char)s[n]); n++) {
		unsigned d = isdigit((unsigned char)s[n]) ? (unsigned)(s[n] - '0')
							  : (unsigned)(tolower((unsigned char)s[n]) - 'a' + 10);

		if (v > (UINT64_MAX >> 4))
			return -ERANGE;
		v = (v << 4) | d;
	}
	*ret = v;
	return n;
}

static bool is_hex_prefix(const char *s)
{
	return s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	uint64_t v;
	int n;

	if (!s || !*s)
		return -EINVAL;

	if (is_hex_prefix(s)) {
		n = parse_hex_digits(s + 2, &v);
		if (n < 0)
			return n;
		if (n == 0 || s[2 + n])
			return -EINVAL;
	} else {
		n = parse_digits(s, &v);
		if (n < 0)
			return n;
		if (n == 0 || s[n])
			return -EINVAL;
	}
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int parse_int(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	bool neg = false;
	uint64_t u;
	int64_t v;
	int r;

	if (!s || !*s)
		return -EINVAL;
	if (*s == '-') {
		neg = true;
		s++;
	}
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	r = parse_uint(s, 0, UINT64_MAX, &u);
	if (r < 0)
		return r;
	if (neg) {
		if (u > (uint64_t)INT64_MAX + 1)
			return -ERANGE;
		v = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
	} else {
		if (u > (uint64_t)INT64_MAX)
			return -ERANGE;
		v = (int64_t)u;
	}
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

/*
 * A decimal number with an optional fraction, followed by optional blanks and
 * a unit. On success the number is split into integer part, fraction and
 * fraction digits, and *ret_unit points to the unit (possibly "").
 */
static int parse_decimal(const char *s, uint64_t *ret_int, uint64_t *ret_frac,
			 unsigned *ret_frac_digits, const char **ret_unit)
{
	uint64_t ip, fp = 0;
	unsigned fd = 0;
	int n;

	n = parse_digits(s, &ip);
	if (n < 0)
		return n;
	if (n == 0)
		return -EINVAL;
	s += n;
	if (*s == '.') {
		s++;
		for (; isdigit((unsigned char)*s); s++) {
			if (fd >= 12)
				return -EINVAL; /* silly precision */
			fp = fp * 10 + (uint64_t)(*s - '0');
			fd++;
		}
		if (fd == 0)
			return -EINVAL;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	*ret_int = ip;
	*ret_frac = fp;
	*ret_frac_digits = fd;
	*ret_unit = s;
	return 0;
}

/* ip.fp * mult, which must be a whole number. */
static int scale(uint64_t ip, uint64_t fp, unsigned fd, uint64_t mult, uint64_t *ret)
{
	unsigned __int128 v, f, pow10 = 1;

	for (unsigned i = 0; i < fd; i++)
		pow10 *= 10;
	f = (unsigned __int128)fp * mult;
	if (f % pow10)
		return -EINVAL;
	v = (unsigned __int128)ip * mult + f / pow10;
	if (v > UINT64_MAX)
		return -ERANGE;
	*ret = (uint64_t)v;
	return 0;
}

struct unit {
	const char *name;
	uint64_t mult;
};

static const struct unit size_units[] = {
	{ "", 1 },
	{ "b", 1 },
	{ "k", 1ULL << 10 }, { "kb", 1ULL << 10 }, { "kib", 1ULL << 10 },
	{ "m", 1ULL << 20 }, { "mb", 1ULL << 20 }, { "mib", 1ULL << 20 },
	{ "g", 1ULL << 30 }, { "gb", 1ULL << 30 }, { "gib", 1ULL << 30 },
	{ "t", 1ULL << 40 }, { "tb", 1ULL << 40 }, { "tib", 1ULL << 40 },
	{ "p", 1ULL << 50 }, { "pb", 1ULL << 50 }, { "pib", 1ULL << 50 },
};

int parse_size(const char *s, uint64_t *ret)
{
	uint64_t ip, fp, v;
	const char *unit;
	unsigned fd;
	int r;

	if (!s || !*s)
		return -EINVAL;
	if (streq(s, "max")) {
		*ret = UINT64_MAX;
		return 0;
	}
	if (streq(s, "min")) {
		*ret = 0;
		return 0;
	}
	if (is_hex_prefix(s))
		return parse_uint(s, 0, UINT64_MAX, ret);

	r = parse_decimal(s, &ip, &fp, &fd, &unit);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(size_units); i++) {
		if (strcasecmp(unit, size_units[i].name) != 0)
			continue;
		if (size_units[i].mult == 1 && fd > 0)
			return -EINVAL; /* fractional bytes */
		r = scale(ip, fp, fd, size_units[i].mult, &v);
		if (r < 0)
			return r;
		*ret = v;
		return 0;
	}
	return -EINVAL;
}

static const struct unit time_units[] = {
	{ "us", 1 },
	{ "ms", 1000 },
	{ "s", 1000000 },
	{ "m", 60000000 }, { "min", 60000000 },
	{ "h", 3600000000ULL },
	{ "d", 86400000000ULL },
};

int parse_duration_us(const char *s, uint64_t *ret)
{
	uint64_t ip, fp, v;
	const char *unit;
	unsigned fd;
	int r;

	if (!s || !*s)
		return -EINVAL;
	if (streq(s, "max")) {
		*ret = UINT64_MAX;
		return 0;
	}
	if (streq(s, "0")) {
		*ret = 0;
		return 0;
	}

	r = parse_decimal(s, &ip, &fp, &fd, &unit);
	if (r < 0)
		return r;
	if (streq(unit, "ns")) {
		/* whole microseconds only */
		r = scale(ip, fp, fd, 1, &v);
		if (r < 0)
			return r;
		if (v % 1000)
			return -EINVAL;
		*ret = v / 1000;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(time_units); i++) {
		if (!streq(unit, time_units[i].name))
			continue;
		r = scale(ip, fp, fd, time_units[i].mult, &v);
		if (r < 0)
			return r;
		*ret = v;
		return 0;
	}
	return -EINVAL; /* includes a missing unit */
}

int parse_percent_bp(const char *s, uint64_t *ret)
{
	uint64_t ip, fp, v;
	const char *unit;
	unsigned fd;
	int r;

	if (!s || !*s)
		return -EINVAL;
	r = parse_decimal(s, &ip, &fp, &fd, &unit);
	if (r < 0)
		return r;
	if (!streq(unit, "%"))
		return -EINVAL;
	if (ip > UINT32_MAX)
		return -ERANGE;
	r = scale(ip, fp, fd, 100, &v);
	if (r < 0)
		return r;
	*ret = v;
	return 0;
}

char *format_size(char buf[static 32], uint64_t bytes)
{
	static const char *const names[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	unsigned i = 0;
	uint64_t unit = 1024, tenths;

	if (bytes == UINT64_MAX) {
		snprintf(buf, 32, "max");
		return buf;
	}
	if (bytes < 1024) {
		snprintf(buf, 32, "%" PRIu64 "B", bytes);
		return buf;
	}
	while (i + 1 < ARRAY_SIZE(names) && bytes / unit >= 1024) {
		unit <<= 10;
		i++;
	}
	tenths = (bytes / unit) * 10 + ((bytes % unit) * 10 + unit / 2) / unit;
	/* rounding may carry into the next unit: 1023.96KiB -> "1024.0KiB" is fine */
	snprintf(buf, 32, "%" PRIu64 ".%" PRIu64 "%s", tenths / 10, tenths % 10, names[i]);
	return buf;
}

char *format_duration_us(char buf[static 32], uint64_t usec)
{
	static const struct unit units[] = {
		{ "h", 3600000000ULL }, { "m", 60000000 }, { "s", 1000000 }, { "ms", 1000 },
	};

	if (usec == UINT64_MAX) {
		snprintf(buf, 32, "max");
		return buf;
	}
	if (usec == 0) {
		snprintf(buf, 32, "0");
		return buf;
	}
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (usec % units[i].mult == 0) {
			snprintf(buf, 32, "%" PRIu64 "%s", usec / units[i].mult, units[i].name);
			return buf;
		}
	snprintf(buf, 32, "%" PRIu64 "us", usec);
	return buf;
}
