/* bench_decode: J1939 / NMEA 2000 decoding throughput on a real mixed trace.
 *
 *   bench_decode TRACE [PASSES]
 *
 * Reads a candump log into memory once (parsing is not timed), then runs
 * every frame through candec_frame PASSES times on one core and prints
 * frames per second.  Under `valgrind --tool=callgrind` with PASSES=1 the
 * instruction count divided by the frame count is the cost of one frame.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocols/candec.h"
#include "protocols/candump.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct candump_frame *load(const char *path, size_t *n)
{
	struct candump_frame *f = NULL, fr;
	size_t cap = 0;
	char line[256];
	FILE *in = fopen(path, "r");

	if (!in) {
		perror(path);
		exit(1);
	}
	*n = 0;
	while (fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (candump_parse_line(line, &fr) != CANDUMP_OK || !fr.extended)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 4096;
			f = realloc(f, cap * sizeof(*f));
			if (!f)
				exit(1);
		}
		f[(*n)++] = fr;
	}
	fclose(in);
	return f;
}

int main(int argc, char **argv)
{
	static struct candec dec;
	static struct candec_msg msg;
	volatile unsigned long sink = 0;
	struct candump_frame *f;
	int passes = argc > 2 ? atoi(argv[2]) : 5;
	size_t n;
	double t;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_decode TRACE [PASSES]\n");
		return 1;
	}
	f = load(argv[1], &n);
	candec_init(&dec);
	t = now_s();
	for (int p = 0; p < passes; p++)
		for (size_t i = 0; i < n; i++)
			if (candec_frame(&dec, f[i].can_id, f[i].data, f[i].len, f[i].t_us / 1000,
					 &msg) > 0)
				sink += (unsigned long)msg.n;
	t = now_s() - t;
	printf("decode (candec_frame, in memory):     %8.0f frames/s  (%zu frames x %d passes, "
	       "%.3f s; %.0f x a 250 kbit/s bus at ~1,900 frames/s)\n",
	       (double)n * passes / t, n, passes, t, (double)n * passes / t / 1900);
	free(f);
	return sink == 0;
}
