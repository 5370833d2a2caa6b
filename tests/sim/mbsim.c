/* mbsim: a Modbus slave simulator made with libmodbus, standing in for a
 * machine's opacity meter, ECU or shore-power meter.  One process serves
 * several unit ids, over TCP on loopback or over RTU on a serial device (a
 * socat pty end in tests).  Each unit's registers come from an emgw profile
 * (the same file emgwd reads) and a script of values over time.
 *
 *   mbsim (--tcp PORT | --rtu DEVICE [--baud N]) --unit ID:PROFILE[:SCRIPT]...
 *         [--period S] [--mute-file FILE] [--hole ID:TABLE:ADDR]... [--ready FILE]
 *
 * A script has one step a line, "SECONDS POINT=VALUE ...": from that time
 * on, POINT holds VALUE (engineering units; text for string points); with
 * --period the script starts again every S seconds.  Units listed in the
 * mute file (numbers separated by blanks) do not answer, as if unplugged;
 * a read that covers a --hole is answered with an illegal-address exception;
 * a read outside a unit's map is too (libmodbus does that). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gateway/config.h"
#include "protocols/mbpoint.h"

#define SIM_MAX_UNITS 8
#define SIM_MAX_STEPS 256
#define SIM_MAX_HOLES 16

struct sim_step {
	double t;
	int point;
	double value;
	char text[2 * MBPOINT_MAX_STRING + 1];
};

struct sim_unit {
	int id;
	struct config *cfg; /* the profile: cfg->point[0 .. n_point) */
	modbus_mapping_t *map;
	int lo[4], hi[4]; /* address range of each table, hi exclusive */
	int n_steps;
	struct sim_step steps[SIM_MAX_STEPS];
};

struct sim_hole {
	int unit, table, address;
};

struct sim {
	int n_units;
	struct sim_unit units[SIM_MAX_UNITS];
	int n_holes;
	struct sim_hole holes[SIM_MAX_HOLES];
	double period;
	const char *mute_file;
	struct timespec start;
};

static double sim_elapsed(const struct sim *s)
{
	struct timespec now;
	double t;

	clock_gettime(CLOCK_MONOTONIC, &now);
	t = (double)(now.tv_sec - s->start.tv_sec) + (now.tv_nsec - s->start.tv_nsec) / 1e9;
	return s->period > 0 ? fmod(t, s->period) : t;
}

static int sim_point_index(const struct sim_unit *u, const char *name)
{
	for (int i = 0; i < u->cfg->n_point; i++)
		if (strcmp(u->cfg->point[i].name, name) == 0)
			return i;
	return -1;
}

static int sim_script_line(struct sim_unit *u, char *line, const char *file, int n)
{
	char *save = NULL, *tok, *end, *eq;
	double t;

	tok = strtok_r(line, " \t\r\n", &save);
	if (!tok || *tok == '#')
		return 0;
	t = strtod(tok, &end);
	if (*end) {
		fprintf(stderr, "%s:%d: \"%s\" is not a time in seconds\n", file, n, tok);
		return -1;
	}
	while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
		struct sim_step *st;

		eq = strchr(tok, '=');
		if (!eq || u->n_steps == SIM_MAX_STEPS) {
			fprintf(stderr, "%s:%d: expected POINT=VALUE (at most %d)\n", file, n,
				SIM_MAX_STEPS);
			return -1;
		}
		*eq = '\0';
		st = &u->steps[u->n_steps++];
		st->t = t;
		st->point = sim_point_index(u, tok);
		if (st->point < 0) {
			fprintf(stderr, "%s:%d: no point \"%s\" in the profile\n", file, n, tok);
			return -1;
		}
		st->value = strtod(eq + 1, NULL);
		snprintf(st->text, sizeof(st->text), "%s", eq + 1);
	}
	return 0;
}

static int sim_script(struct sim_unit *u, const char *file)
{
	FILE *fp = fopen(file, "r");
	char line[1024];
	int n = 0;

	if (!fp) {
		perror(file);
		return -1;
	}
	while (fgets(line, sizeof(line), fp))
		if (sim_script_line(u, line, file, ++n) < 0) {
			fclose(fp);
			return -1;
		}
	fclose(fp);
	return 0;
}

/* The tables' address ranges, from the profile's points. */
static int sim_map(struct sim_unit *u)
{
	for (int t = 0; t < 4; t++) {
		u->lo[t] = 65536;
		u->hi[t] = 0;
	}
	for (int i = 0; i < u->cfg->n_point; i++) {
		const struct mbpoint *p = &u->cfg->point[i];
		int end = p->address + mbpoint_width(p);

		if (p->address < u->lo[p->table])
			u->lo[p->table] = p->address;
		if (end > u->hi[p->table])
			u->hi[p->table] = end;
	}
	for (int t = 0; t < 4; t++)
		if (u->hi[t] == 0)
			u->lo[t] = 0;
	u->map = modbus_mapping_new_start_address(
	    (unsigned)u->lo[MBPOINT_COIL], (unsigned)(u->hi[MBPOINT_COIL] - u->lo[MBPOINT_COIL]),
	    (unsigned)u->lo[MBPOINT_DISCRETE],
	    (unsigned)(u->hi[MBPOINT_DISCRETE] - u->lo[MBPOINT_DISCRETE]),
	    (unsigned)u->lo[MBPOINT_HOLDING],
	    (unsigned)(u->hi[MBPOINT_HOLDING] - u->lo[MBPOINT_HOLDING]),
	    (unsigned)u->lo[MBPOINT_INPUT],
	    (unsigned)(u->hi[MBPOINT_INPUT] - u->lo[MBPOINT_INPUT]));
	return u->map ? 0 : -1;
}

static void sim_put(struct sim_unit *u, const struct mbpoint *p, double v, const char *text)
{
	uint16_t w[MBPOINT_MAX_WIDTH] = {0};
	int width = mbpoint_width(p), off = p->address - u->lo[p->table];

	for (int i = 0; i < width; i++) {
		switch (p->table) {
		case MBPOINT_COIL:
			w[i] = u->map->tab_bits[off + i];
			break;
		case MBPOINT_DISCRETE:
			w[i] = u->map->tab_input_bits[off + i];
			break;
		case MBPOINT_INPUT:
			w[i] = u->map->tab_input_registers[off + i];
			break;
		default:
			w[i] = u->map->tab_registers[off + i];
		}
	}
	mbpoint_encode(p, v, text, w, MBPOINT_MAX_WIDTH);
	for (int i = 0; i < width; i++) {
		switch (p->table) {
		case MBPOINT_COIL:
			u->map->tab_bits[off + i] = (uint8_t)w[i];
			break;
		case MBPOINT_DISCRETE:
			u->map->tab_input_bits[off + i] = (uint8_t)w[i];
			break;
		case MBPOINT_INPUT:
			u->map->tab_input_registers[off + i] = w[i];
			break;
		default:
			u->map->tab_registers[off + i] = w[i];
		}
	}
}

/* Every point to its scripted value at time t. */
static void sim_apply(struct sim_unit *u, double t)
{
	for (int k = 0; k < u->n_steps; k++) {
		const struct sim_step *st = &u->steps[k];

		if (st->t <= t)
			sim_put(u, &u->cfg->point[st->point], st->value, st->text);
	}
}

static struct sim_unit *sim_unit(struct sim *s, int id)
{
	for (int i = 0; i < s->n_units; i++)
		if (s->units[i].id == id)
			return &s->units[i];
	return NULL;
}

static int sim_muted(const struct sim *s, int id)
{
	FILE *fp;
	int n, muted = 0;

	if (!s->mute_file || !(fp = fopen(s->mute_file, "r")))
		return 0;
	while (fscanf(fp, "%d", &n) == 1)
		muted |= n == id;
	fclose(fp);
	return muted;
}

/* Does the read in pdu (function, address, count) cover a hole of unit? */
static int sim_in_hole(const struct sim *s, int unit, const uint8_t *pdu)
{
	static const int table_of[] = {-1, MBPOINT_COIL, MBPOINT_DISCRETE, MBPOINT_HOLDING,
				       MBPOINT_INPUT};
	int fn = pdu[0], addr = pdu[1] << 8 | pdu[2], count = pdu[3] << 8 | pdu[4];

	if (fn < 1 || fn > 4)
		return 0;
	for (int i = 0; i < s->n_holes; i++) {
		const struct sim_hole *h = &s->holes[i];

		if (h->unit == unit && h->table == table_of[fn] && h->address >= addr &&
		    h->address < addr + count)
			return 1;
	}
	return 0;
}

static void sim_answer(struct sim *s, modbus_t *ctx, uint8_t *q, int len, int hdr)
{
	struct sim_unit *u = sim_unit(s, q[hdr - 1]);

	if (!u || sim_muted(s, u->id))
		return;
	sim_apply(u, sim_elapsed(s));
	if (sim_in_hole(s, u->id, q + hdr)) {
		modbus_reply_exception(ctx, q, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
		return;
	}
	modbus_reply(ctx, q, len, u->map);
}

/* Modbus CRC-16 (polynomial 0xA001, sent low byte first). */
static uint16_t sim_crc(const uint8_t *p, int n)
{
	uint16_t crc = 0xFFFF;

	for (int i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = crc & 1 ? (uint16_t)(crc >> 1 ^ 0xA001) : (uint16_t)(crc >> 1);
	}
	return crc;
}

/* RTU: libmodbus's server side takes only requests for its own slave
 * address, and after any other it swallows the next frame as that slave's
 * answer.  To serve several units on one line we frame the requests
 * ourselves: reads (functions 1-4) are 8 bytes with a CRC, and a bad CRC
 * moves the frame on by a byte until it fits again.  libmodbus answers. */
static int sim_serve_rtu(struct sim *s, const char *dev, int baud, const char *ready)
{
	modbus_t *ctx = modbus_new_rtu(dev, baud, 'N', 8, 1);
	uint8_t q[64];
	int n = 0, fd;
	ssize_t got;

	if (getenv("MBSIM_DEBUG") && ctx)
		modbus_set_debug(ctx, 1);
	if (!ctx || modbus_connect(ctx) < 0) {
		fprintf(stderr, "mbsim: %s: %s\n", dev, modbus_strerror(errno));
		return 1;
	}
	fd = modbus_get_socket(ctx);
	if (ready)
		fclose(fopen(ready, "w"));
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		fd_set rd;

		/* libmodbus opens the line non-blocking with VMIN 0: wait first */
		FD_ZERO(&rd);
		FD_SET(fd, &rd);
		if (select(fd + 1, &rd, NULL, NULL, NULL) < 0 && errno != EINTR)
			return 1;
		got = read(fd, q + n, sizeof(q) - (size_t)n);
		if (got == 0 || (got < 0 && (errno == EINTR || errno == EAGAIN))) {
			usleep(1000); /* a pty whose other end is closed reads as EOF */
			continue;
		}
		if (got < 0) {
			fprintf(stderr, "mbsim: %s: %s\n", dev, strerror(errno));
			return 1;
		}
		n += (int)got;
		while (n >= 8) {
			if (q[1] >= 1 && q[1] <= 4 && sim_crc(q, 6) == (q[6] | q[7] << 8)) {
				modbus_set_slave(ctx, q[0]);
				sim_answer(s, ctx, q, 8, 1);
				n -= 8;
				memmove(q, q + 8, (size_t)n);
			} else {
				n--;
				memmove(q, q + 1, (size_t)n);
			}
		}
	}
}

static int sim_serve_tcp(struct sim *s, int port, const char *ready)
{
	modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
	uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
	int listener, maxfd, rc;
	fd_set all, rd;

	listener = ctx ? modbus_tcp_listen(ctx, 8) : -1;
	if (listener < 0) {
		fprintf(stderr, "mbsim: port %d: %s\n", port, modbus_strerror(errno));
		return 1;
	}
	if (ready)
		fclose(fopen(ready, "w"));
	printf("ready\n");
	fflush(stdout);
	FD_ZERO(&all);
	FD_SET(listener, &all);
	maxfd = listener;
	for (;;) {
		rd = all;
		if (select(maxfd + 1, &rd, NULL, NULL, NULL) < 0)
			return 1;
		for (int fd = 0; fd <= maxfd; fd++) {
			if (!FD_ISSET(fd, &rd))
				continue;
			if (fd == listener) {
				int c = accept(listener, NULL, NULL);

				if (c >= 0) {
					FD_SET(c, &all);
					maxfd = c > maxfd ? c : maxfd;
				}
				continue;
			}
			modbus_set_socket(ctx, fd);
			rc = modbus_receive(ctx, q);
			if (rc > 0) {
				sim_answer(s, ctx, q, rc, modbus_get_header_length(ctx));
			} else if (rc < 0) {
				close(fd);
				FD_CLR(fd, &all);
			}
		}
	}
}

static int sim_add_unit(struct sim *s, char *arg)
{
	char *profile = strchr(arg, ':'), *script;
	struct sim_unit *u;

	if (!profile || s->n_units == SIM_MAX_UNITS)
		return -1;
	*profile++ = '\0';
	script = strchr(profile, ':');
	if (script)
		*script++ = '\0';
	u = &s->units[s->n_units++];
	u->id = atoi(arg);
	u->cfg = malloc(sizeof(*u->cfg));
	if (!u->cfg || config_load_profile(profile, u->cfg) != 0 || sim_map(u) < 0)
		return -1;
	return script ? sim_script(u, script) : 0;
}

static int sim_add_hole(struct sim *s, char *arg)
{
	char *t = strchr(arg, ':'), *a;
	struct sim_hole *h;

	if (!t || !(a = strchr(t + 1, ':')) || s->n_holes == SIM_MAX_HOLES)
		return -1;
	*t++ = '\0';
	*a++ = '\0';
	h = &s->holes[s->n_holes++];
	h->unit = atoi(arg);
	h->address = atoi(a);
	return mbpoint_table_parse(t, &h->table) == MBPOINT_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"tcp", required_argument, NULL, 't'},
	    {"rtu", required_argument, NULL, 'r'},
	    {"baud", required_argument, NULL, 'b'},
	    {"unit", required_argument, NULL, 'u'},
	    {"period", required_argument, NULL, 'p'},
	    {"mute-file", required_argument, NULL, 'm'},
	    {"hole", required_argument, NULL, 'H'},
	    {"ready", required_argument, NULL, 'R'},
	    {NULL, 0, NULL, 0},
	};
	static struct sim s;
	const char *rtu = NULL, *ready = NULL;
	int port = 0, baud = 9600, c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			port = atoi(optarg);
			break;
		case 'r':
			rtu = optarg;
			break;
		case 'b':
			baud = atoi(optarg);
			break;
		case 'u':
			if (sim_add_unit(&s, optarg) < 0) {
				fprintf(stderr, "mbsim: bad --unit (ID:PROFILE[:SCRIPT])\n");
				return 2;
			}
			break;
		case 'p':
			s.period = strtod(optarg, NULL);
			break;
		case 'm':
			s.mute_file = optarg;
			break;
		case 'H':
			if (sim_add_hole(&s, optarg) < 0) {
				fprintf(stderr, "mbsim: bad --hole (ID:TABLE:ADDRESS)\n");
				return 2;
			}
			break;
		case 'R':
			ready = optarg;
			break;
		default:
			return 2;
		}
	}
	if (s.n_units == 0 || (!port) == (!rtu)) {
		fprintf(stderr, "usage: mbsim (--tcp PORT | --rtu DEVICE [--baud N]) "
				"--unit ID:PROFILE[:SCRIPT]... [--period S] [--mute-file FILE] "
				"[--hole ID:TABLE:ADDR]... [--ready FILE]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &s.start);
	for (int i = 0; i < s.n_units; i++)
		sim_apply(&s.units[i], 0);
	return rtu ? sim_serve_rtu(&s, rtu, baud, ready) : sim_serve_tcp(&s, port, ready);
}
