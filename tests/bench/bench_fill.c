/* bench_fill: fill a store with a backlog for the drain bench.
 *
 *   bench_fill DBPATH ROWS [DEV]
 *
 * Appends ROWS records of a realistic size (one engine sample, ~330 bytes
 * of JSON), 1 s apart, through gateway/store.h, committing every 1000:
 * seven days at 1 Hz in seconds, without replaying a week of CAN frames.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gateway/store.h"

#define T0_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

int main(int argc, char **argv)
{
	const char *dev = argc > 3 ? argv[3] : "bench";
	char payload[1024];
	struct store *s;
	long rows;

	if (argc < 3 || (rows = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: bench_fill DBPATH ROWS [DEV]\n");
		return 2;
	}
	s = store_open(argv[1], 1, 0, 0);
	if (!s)
		return 1;
	for (long i = 0; i < rows; i++) {
		uint64_t seq = store_next_seq(s);
		int64_t t = T0_MS + i * 1000;
		int n = snprintf(
		    payload, sizeof(payload),
		    "{\"v\":1,\"dev\":\"%s\",\"boot\":%llu,\"seq\":%llu,\"ts\":\"2026-01-0%ldT%"
		    "02ld:%02ld:%02ld.000Z\","
		    "\"ts_src\":\"ntp\",\"mono_ms\":%lld,\"sig\":{\"engine_speed_rpm\":%.1f,"
		    "\"engine_torque_pct\":%d.0,\"engine_load_pct\":%d.0,\"fuel_rate_lph\":%.2f,"
		    "\"coolant_c\":%d.0,\"boost_kpa\":%d.0,\"intake_air_kgph\":%.1f,\"lambda\":%."
		    "3f,"
		    "\"def_level_pct\":%.1f,\"fuel_level_pct\":%.1f,\"engine_hours_h\":%.2f}}",
		    dev, (unsigned long long)store_boot(s), (unsigned long long)seq, 1 + i / 86400,
		    i / 3600 % 24, i / 60 % 60, i % 60, (long long)(i * 1000),
		    1200 + (i * 37 % 900) * 1.0, (int)(i * 13 % 100), (int)(i * 7 % 100),
		    5 + (i * 11 % 300) / 10.0, 70 + (int)(i % 20), 40 + (int)(i * 3 % 150),
		    200 + (i * 17 % 2000) / 10.0, 1.2 + (i * 29 % 800) / 1000.0,
		    60 + (i % 400) / 10.0, 50 + (i % 500) / 10.0, 1000 + i / 3600.0);

		if (seq == 0 ||
		    store_append(s, seq, STORE_RECORD, i * 1000, t, payload, (size_t)n) < 0)
			return 1;
		if (i % 1000 == 999 && store_flush(s) < 0)
			return 1;
	}
	store_close(s);
	return 0;
}
