/* bench_store: rows per second through gateway/store.c on a real file.
 *
 *   bench_store [DIR] [ROWS]
 *
 * DIR (default /tmp) should be on the storage to measure: the figures
 * include SQLite's fsyncs (one per sequence block) and WAL checkpoints.
 * Phases: append with a flush after every row (the 1 Hz worst case), append
 * with a flush every 100 rows (backlog bursts), then fetch + ack of every
 * row, 100 at a time, as the uplink drains a backlog.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway/store.h"

#define PAYLOAD_BYTES 600 /* about one JSON record of every canonical signal */
#define FETCH_MAX     100

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int append_rows(struct store *s, long n, int per_flush, const char *payload)
{
	for (long i = 0; i < n; i++) {
		uint64_t seq = store_next_seq(s);

		if (seq == 0 || store_append(s, seq, STORE_RECORD, i, 1767225600000LL + i, payload,
					     PAYLOAD_BYTES) < 0)
			return -1;
		if ((i + 1) % per_flush == 0 && store_flush(s) < 0)
			return -1;
	}
	return store_flush(s);
}

static long drain(struct store *s)
{
	static struct store_row rows[FETCH_MAX];
	static char buf[FETCH_MAX * (PAYLOAD_BYTES + 1)];
	uint64_t after = 0;
	long total = 0;
	int n;

	while ((n = store_fetch(s, 0, after, rows, FETCH_MAX, buf, sizeof(buf))) > 0) {
		for (int i = 0; i < n; i++)
			if (store_ack(s, 0, rows[i].seq) < 0)
				return -1;
		after = rows[n - 1].seq;
		total += n;
		if (store_flush(s) < 0)
			return -1;
	}
	return n < 0 ? -1 : total;
}

static void report(const char *what, long n, double secs)
{
	printf("%-34s %8ld rows %8.3f s %10.0f rows/s\n", what, n, secs, (double)n / secs);
}

int main(int argc, char *argv[])
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	long rows = argc > 2 ? strtol(argv[2], NULL, 10) : 20000;
	char tmpl[512], path[600], payload[PAYLOAD_BYTES];
	struct store_stats st;
	struct store *s;
	double t0;
	long n;
	int ret = 1;

	if (rows <= 0) {
		fprintf(stderr, "usage: bench_store [DIR] [ROWS]\n");
		return 2;
	}
	snprintf(tmpl, sizeof(tmpl), "%s/bench-store-XXXXXX", dir);
	if (!mkdtemp(tmpl)) {
		perror(tmpl);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/store.db", tmpl);
	memset(payload, 'x', sizeof(payload));

	if (!(s = store_open(path, 1, 0, 0)))
		goto out_rmdir;
	t0 = now_s();
	if (append_rows(s, rows / 10, 1, payload) < 0)
		goto out_close;
	report("append, flush every row", rows / 10, now_s() - t0);
	t0 = now_s();
	if (append_rows(s, rows, 100, payload) < 0)
		goto out_close;
	report("append, flush every 100 rows", rows, now_s() - t0);
	store_stats(s, &st);
	printf("store: %lld rows, %lld bytes\n", (long long)st.rows, (long long)st.bytes);
	t0 = now_s();
	if ((n = drain(s)) < 0)
		goto out_close;
	report("fetch 100 + ack + flush", n, now_s() - t0);
	ret = 0;
out_close:
	store_close(s);
out_rmdir:
	snprintf(path, sizeof(path), "%s/store.db", tmpl);
	unlink(path);
	snprintf(path, sizeof(path), "%s/store.db-wal", tmpl);
	unlink(path);
	snprintf(path, sizeof(path), "%s/store.db-shm", tmpl);
	unlink(path);
	rmdir(tmpl);
	return ret;
}
