/* hjplatform: a stand-in for an HJ 1322 / HJ 1239 emission monitoring
 * platform, for tests and the demo.  A TCP server on loopback that decodes
 * every frame (protocols/hjframe.c), checks BCC, lengths, VIN, serial numbers
 * and time order, verifies signatures against a public key, answers where the
 * variant expects answers (road: echoes; nrmm: the activation answer), and
 * writes one JSON line per frame (gateway/hjdecode.c's rendering plus rx_ms,
 * conn and the errors found) to a file.  It can cut the link after N
 * real-time frames for S seconds, refusing connections meanwhile.  With
 * --expect-obd FILE it checks every diagnostics unit field by field against
 * FILE's `key value` lines (see sim_obd_value for the keys and forms). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gateway/hjdecode.h"
#include "gateway/signer.h"
#include "protocols/hjframe.h"

#define SIM_BUF	      65536
#define SIM_OBD_KEYS  12
#define SIM_OBD_VALUE 256

/* --expect-obd: the values a diagnostics unit must carry. */
struct sim_obd {
	int n;
	char key[SIM_OBD_KEYS][16];
	char want[SIM_OBD_KEYS][SIM_OBD_VALUE];
	long units, matched, failed_after_match;
};

struct sim {
	enum hj_variant variant;
	int layout; /* gb17691: 0 Q1 then Q2, 1 Q1, 2 Q2 (hjdecode_variant) */
	int port;
	FILE *out;
	const char *ready;
	struct signer_verifier *v;
	const char *id;
	const char *vin;
	int offset_s;
	int cut_after, cut_for_s, cut_done;
	int quiet;
	struct sim_obd obd;

	SSL_CTX *tls_ctx; /* --tls-cert: TLS server */
	SSL *ssl;
	int lfd, cfd, conn;
	uint8_t in[SIM_BUF];
	size_t in_len;
	struct hj_frame f;

	long frames, errors, realtime;
	long info_serial, login_serial; /* last seen, -1 none */
	/* The link was lost: frames the box had written into it may never
	 * have arrived, so the first info serial after it may skip ahead
	 * (never back, never repeat). */
	int info_gap_ok;
	int64_t last_rt_unix,
	    last_rs_unix; /* time order: real-time overall, re-send per connection */
};

static volatile sig_atomic_t sim_stop;

static void sim_on_signal(int sig)
{
	(void)sig;
	sim_stop = 1;
}

static int64_t sim_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sim_listen(struct sim *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				.sin_port = htons((uint16_t)s->port)};
	socklen_t len = sizeof(a);
	int one = 1;

	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		return -1;
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s->lfd, 4) < 0) {
		perror("hjplatform: bind");
		close(s->lfd);
		s->lfd = -1;
		return -1;
	}
	getsockname(s->lfd, (struct sockaddr *)&a, &len);
	s->port = ntohs(a.sin_port);
	return 0;
}

static void sim_event(struct sim *s, const char *what)
{
	fprintf(s->out, "{\"event\":\"%s\",\"rx_ms\":%lld,\"conn\":%d}\n", what,
		(long long)sim_now_ms(), s->conn);
	fflush(s->out);
}

__attribute__((format(printf, 2, 3))) static void sim_error(json_t *errs, const char *fmt, ...)
{
	char buf[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(errs, json_string(buf));
}

/* A serial that follows prev: +1, or 1 (a new day, or after 65531); with
 * gap_ok (the first after a lost link), anything later than prev too. */
static void sim_check_serial(json_t *errs, const char *what, long *prev, long got, int gap_ok)
{
	if (*prev >= 0 && got != *prev + 1 && got != 1 && !(gap_ok && got > *prev))
		sim_error(errs, "%s serial %ld after %ld", what, got, *prev);
	*prev = got;
}

/* Time order.  Real-time frames: by their header time.  Re-send frames of
 * HJ 1239: by their samples' times, the header carrying either the last
 * sample's time or the (later) send time, both in use; other layouts have
 * no per-unit time: by the header, which is the sample's. */
static void sim_check_times(struct sim *s, json_t *errs, int64_t t)
{
	struct hj_frame *f = &s->f;
	int64_t prev = -1, first = -1, u;
	int stream = 0;

	for (int i = 0; i < f->n_info; i++)
		stream |= f->info[i].type == HJ_INFO_STREAM;
	/* Diagnostics alone may share the time of the data frame before. */
	if (!stream) {
		if (t < (f->cmd == HJ_CMD_REALTIME ? s->last_rt_unix : s->last_rs_unix))
			sim_error(errs, "diagnostics at %ld before the data before it", (long)t);
		return;
	}
	for (int i = 0; i < f->n_info && f->variant == HJ_ROAD; i++) {
		if (f->info[i].type != HJ_INFO_STREAM)
			continue; /* diagnostics carry the frame's time */
		if (hj_time_to_unix(&f->info[i].time, s->offset_s, &u) < 0) {
			sim_error(errs, "sample %d: bad time", i);
			continue;
		}
		if (u <= prev)
			sim_error(errs, "sample %d: time not after the one before (%ld)", i,
				  (long)u);
		if (first < 0)
			first = u;
		prev = u;
	}
	if (prev > t)
		sim_error(errs, "header time %ld before its last sample (%ld)", (long)t,
			  (long)prev);
	if (f->cmd == HJ_CMD_REALTIME) {
		if (t <= s->last_rt_unix)
			sim_error(errs, "real-time frame at %ld not after %ld", (long)t,
				  (long)s->last_rt_unix);
		s->last_rt_unix = t;
	} else if (first >= 0) {
		if (first <= s->last_rs_unix)
			sim_error(errs, "re-send frame's samples from %ld not after %ld",
				  (long)first, (long)s->last_rs_unix);
		s->last_rs_unix = prev;
	} else {
		if (t <= s->last_rs_unix)
			sim_error(errs, "re-send frame at %ld not after %ld", (long)t,
				  (long)s->last_rs_unix);
		s->last_rs_unix = t;
	}
}

static void sim_checks(struct sim *s, json_t *errs)
{
	struct hj_frame *f = &s->f;
	int64_t t = 0;
	int timed =
	    f->cmd != HJ_CMD_ACTIVATE_ANSWER && !(hj_variant_road(f->variant) && f->cmd >= 5);
	/* GB 17691 Q1 has no report serial: its units carry one each. */
	int q1 = f->variant == HJ_GB17691 && !f->unit_sig;

	if (!f->bcc_ok)
		sim_error(errs, "bad BCC");
	if (s->vin && strcmp(f->vin, s->vin) != 0)
		sim_error(errs, "wrong VIN");
	if (f->encryption != HJ_ENC_NONE)
		sim_error(errs, "encryption flag %d", f->encryption);
	if (timed && hj_time_to_unix(&f->time, s->offset_s, &t) < 0)
		sim_error(errs, "bad time field");
	switch (f->cmd) {
	case HJ_CMD_LOGIN:
		sim_check_serial(errs, "login", &s->login_serial, f->serial, 0);
		s->last_rs_unix = 0; /* re-sending starts again on every connection */
		break;
	case HJ_CMD_LOGOUT:
		if (f->serial != s->login_serial)
			sim_error(errs, "logout serial %d, login was %ld", f->serial,
				  s->login_serial);
		break;
	case HJ_CMD_REALTIME:
	case HJ_CMD_RESEND:
		sim_check_serial(errs, "info", &s->info_serial,
				 q1 && f->n_info > 0 ? f->info[0].serial : f->serial,
				 s->info_gap_ok);
		s->info_gap_ok = 0;
		for (int i = 1; q1 && i < f->n_info; i++)
			if (f->info[i].serial != f->info[0].serial)
				sim_error(errs, "unit %d serial %d, unit 0 has %d", i,
					  f->info[i].serial, f->info[0].serial);
		sim_check_times(s, errs, t);
		break;
	case HJ_CMD_05:
		if (f->variant == HJ_NRMM) {
			sim_check_serial(errs, "info", &s->info_serial, f->serial, s->info_gap_ok);
			s->info_gap_ok = 0;
		}
		break;
	}
	if (s->v && !f->has_sig &&
	    (f->cmd == HJ_CMD_REALTIME || f->cmd == HJ_CMD_RESEND || f->cmd == HJ_CMD_ACTIVATE))
		sim_error(errs, "not signed");
}

/* A text field (VIN, CAL ID, CVN) without its NUL/space padding, or
 * "invalid" when all 0xFF. */
static void sim_obd_text(const uint8_t *p, size_t n, char *out, size_t size)
{
	size_t len = n;
	int all_ff = 1;

	for (size_t i = 0; i < n; i++)
		all_ff &= p[i] == 0xFF;
	while (len > 0 && (p[len - 1] == 0 || p[len - 1] == ' '))
		len--;
	if (all_ff)
		snprintf(out, size, "invalid");
	else
		snprintf(out, size, "%.*s", (int)len, (const char *)p);
}

/* The value of key in d as the expectation file writes it: numbers in
 * decimal, iupr as 18 comma-separated counters, dtcs as comma-separated
 * 8-digit hex codes ("" none, "invalid" when the count is 0xFE).  0, or -1
 * for a key that is not in this variant's unit or not known. */
static int sim_obd_value(enum hj_variant v, const struct hj_diag *d, const char *key, char *out,
			 size_t size)
{
	size_t off = 0;

	if (strcmp(key, "protocol") == 0)
		snprintf(out, size, "%u", d->protocol);
	else if (strcmp(key, "mil") == 0)
		snprintf(out, size, "%u", d->mil);
	else if (strcmp(key, "dtcs") == 0) {
		out[0] = '\0';
		if (d->n_dtcs == HJ_INVALID_FE)
			snprintf(out, size, "invalid");
		for (int i = 0; d->n_dtcs != HJ_INVALID_FE && i < d->n_dtcs && off + 10 < size; i++)
			off += (size_t)snprintf(out + off, size - off, "%s%08X", i ? "," : "",
						(unsigned)d->dtc[i]);
	} else if (!hj_variant_road(v))
		return -1;
	else if (strcmp(key, "support") == 0)
		snprintf(out, size, "%u", d->support);
	else if (strcmp(key, "readiness") == 0)
		snprintf(out, size, "%u", d->readiness);
	else if (strcmp(key, "vin") == 0)
		sim_obd_text(d->vin, sizeof(d->vin), out, size);
	else if (strcmp(key, "cal_id") == 0)
		sim_obd_text(d->cal_id, sizeof(d->cal_id), out, size);
	else if (strcmp(key, "cvn") == 0)
		sim_obd_text(d->cvn, sizeof(d->cvn), out, size);
	else if (strcmp(key, "iupr") == 0)
		for (int i = 0; i < 18 && off + 8 < size; i++)
			off += (size_t)snprintf(out + off, size - off, "%s%u", i ? "," : "",
						(unsigned)d->iupr[2 * i] << 8 | d->iupr[2 * i + 1]);
	else
		return -1;
	return 0;
}

/* Every diagnostics unit of the frame against --expect-obd: the mismatches
 * go into the frame's "obd_mismatch"; one after a unit that matched is an
 * error (what was heard does not go away). */
static void sim_check_obd(struct sim *s, json_t *o, json_t *errs)
{
	struct sim_obd *x = &s->obd;
	char got[SIM_OBD_VALUE], msg[2 * SIM_OBD_VALUE + 40];

	for (int i = 0; x->n > 0 && i < s->f.n_info; i++) {
		json_t *bad = json_array();

		if (s->f.info[i].type != HJ_INFO_DIAG) {
			json_decref(bad);
			continue;
		}
		for (int k = 0; k < x->n; k++) {
			if (sim_obd_value(s->f.variant, &s->f.info[i].u.diag, x->key[k], got,
					  sizeof(got)) < 0 ||
			    strcmp(got, x->want[k]) == 0)
				continue;
			snprintf(msg, sizeof(msg), "%s: got %s, want %s", x->key[k], got,
				 x->want[k]);
			json_array_append_new(bad, json_string(msg));
		}
		x->units++;
		if (json_array_size(bad) == 0)
			x->matched++;
		else if (x->matched > 0) {
			x->failed_after_match++;
			sim_error(errs, "diagnostics unit differs after one matched");
		}
		json_object_set_new(o, "obd_mismatch", bad);
	}
}

/* Read --expect-obd FILE: `key value` lines, # comments.  0 or -1. */
static int sim_obd_load(struct sim_obd *x, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[SIM_OBD_VALUE + 32];
	char tmp[SIM_OBD_VALUE];
	struct hj_diag d;

	if (!f) {
		perror(path);
		return -1;
	}
	memset(&d, 0, sizeof(d));
	while (fgets(line, sizeof(line), f)) {
		char *sp;

		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		sp = strchr(line, ' ');
		if (x->n >= SIM_OBD_KEYS || !sp || sp - line >= (long)sizeof(x->key[0]))
			goto bad;
		*sp = '\0';
		if (sim_obd_value(HJ_ROAD, &d, line, tmp, sizeof(tmp)) < 0)
			goto bad; /* not a key */
		memcpy(x->key[x->n], line, (size_t)(sp - line) + 1);
		snprintf(x->want[x->n++], sizeof(x->want[0]), "%s", sp + 1);
	}
	fclose(f);
	return 0;
bad:
	fprintf(stderr, "hjplatform: %s: bad line \"%s\"\n", path, line);
	fclose(f);
	return -1;
}

static void sim_send(struct sim *s, uint8_t cmd, const void *data, size_t n)
{
	struct hj_frame *a = calloc(1, sizeof(*a));
	uint8_t buf[128];
	int len;

	if (!a)
		return;
	a->variant = s->variant;
	a->cmd = cmd;
	memcpy(a->vin, s->f.vin, sizeof(a->vin));
	a->sw_version = s->f.sw_version;
	a->encryption = HJ_ENC_NONE;
	if (cmd == HJ_CMD_ACTIVATE_ANSWER) {
		a->result = ((const uint8_t *)data)[0];
		a->reason = ((const uint8_t *)data)[1];
	} else if (cmd == HJ_CMD_05) {
		a->has_time = 1;
		memcpy(&a->time, data, sizeof(a->time));
	} else {
		a->cmd = HJ_CMD_ROAD_REMOVAL; /* encode the echo as a raw body ... */
		a->raw_body = data;
		a->raw_len = n;
		a->variant = HJ_ROAD;
	}
	len = hj_encode(a, buf, sizeof(buf));
	if (len > 0) {
		buf[2] = cmd; /* ... under the command it answers */
		buf[len - 1] = hj_bcc(buf + 2, (size_t)len - 3);
		if (s->ssl ? SSL_write(s->ssl, buf, len) <= 0
			   : send(s->cfd, buf, (size_t)len, MSG_NOSIGNAL) < 0)
			perror("hjplatform: send");
	}
	free(a);
}

/* road: echo 0x01..0x06 with the frame's time; answer a time sync with the
 * time now; nrmm: answer activation. */
static void sim_answer(struct sim *s)
{
	struct hj_frame *f = &s->f;
	struct hj_time now;
	uint8_t t[6] = {f->time.year, f->time.month,  f->time.day,
			f->time.hour, f->time.minute, f->time.second};

	if (f->cmd == HJ_CMD_ACTIVATE) {
		uint8_t ans[2] = {1, 0};

		sim_send(s, HJ_CMD_ACTIVATE_ANSWER, ans, 2);
		return;
	}
	if (!hj_variant_road(s->variant) || f->cmd > HJ_CMD_ROAD_REMOVAL)
		return;
	if (f->cmd == HJ_CMD_05 && !f->has_time) {
		hj_time_from_unix(time(NULL), s->offset_s, &now);
		sim_send(s, HJ_CMD_05, &now, sizeof(now));
		return;
	}
	sim_send(s, f->cmd, t, sizeof(t));
}

static void sim_frame(struct sim *s, const uint8_t *p, size_t n)
{
	json_t *errs = json_array(), *o;
	int rc = hj_decode_opt(p, n, s->variant, s->layout == 2 ? HJ_DEC_UNIT_SIG : 0, &s->f);
	char *text;

	if (rc < 0 && s->variant == HJ_GB17691 && s->layout == 0 &&
	    hj_decode_opt(p, n, s->variant, HJ_DEC_UNIT_SIG, &s->f) > 0)
		rc = (int)n; /* Q2 */

	s->frames++;
	if (rc < 0) {
		o = json_pack("{s:s}", "error", hj_strerror(rc));
		sim_error(errs, "undecodable frame");
	} else {
		o = hjdecode_json(&s->f, p, n, s->offset_s, s->v, s->id);
		sim_checks(s, errs);
		sim_check_obd(s, o, errs);
		if (s->f.has_sig && s->v &&
		    !json_is_true(json_object_get(json_object_get(o, "signature"), "verified")))
			sim_error(errs, "signature does not verify");
		if (s->f.cmd == HJ_CMD_REALTIME)
			s->realtime++;
	}
	s->errors += json_array_size(errs) > 0;
	json_object_set_new(o, "rx_ms", json_integer(sim_now_ms()));
	json_object_set_new(o, "conn", json_integer(s->conn));
	json_object_set_new(o, "errors", errs);
	text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(12));
	if (text)
		fprintf(s->out, "%s\n", text);
	fflush(s->out);
	if (!s->quiet && json_array_size(errs))
		fprintf(stderr, "hjplatform: %s\n", text ? text : "?");
	free(text);
	json_decref(o);
	if (rc > 0)
		sim_answer(s);
}

/* Read what the client sent; 0 at EOF or error. */
static int sim_read(struct sim *s)
{
	ssize_t n;
	size_t off = 0;

	if (s->ssl) {
		int r = SSL_read(s->ssl, s->in + s->in_len, (int)(sizeof(s->in) - s->in_len));
		int e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(s->ssl, r);

		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 1;
		n = r > 0 ? r : 0;
	} else {
		n = recv(s->cfd, s->in + s->in_len, sizeof(s->in) - s->in_len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 1;
	}
	if (n <= 0)
		return 0;
	s->in_len += (size_t)n;
	while (off < s->in_len) {
		int len = hj_frame_len(s->in + off, s->in_len - off);

		if (len == HJ_ESHORT)
			break;
		if (len < 0) {
			fprintf(
			    s->out,
			    "{\"error\":\"garbage byte\",\"conn\":%d,\"errors\":[\"garbage\"]}\n",
			    s->conn);
			s->errors++;
			off++;
			continue;
		}
		sim_frame(s, s->in + off, (size_t)len);
		off += (size_t)len;
	}
	memmove(s->in, s->in + off, s->in_len - off);
	s->in_len -= off;
	return 1;
}

static void sim_close_client(struct sim *s, const char *why)
{
	if (s->cfd < 0)
		return;
	SSL_free(s->ssl);
	s->ssl = NULL;
	close(s->cfd);
	s->cfd = -1;
	s->in_len = 0;
	s->info_gap_ok = 1;
	sim_event(s, why);
}

/* The link goes down: take what has arrived, close, refuse connections for
 * cut_for_s seconds, then listen again. */
static void sim_cut(struct sim *s)
{
	int64_t until = sim_now_ms() + (int64_t)s->cut_for_s * 1000;

	s->cut_done = 1;
	while (s->cfd >= 0 && sim_read(s) && s->in_len == 0) {
		struct pollfd pfd = {.fd = s->cfd, .events = POLLIN};

		if (poll(&pfd, 1, 0) <= 0)
			break;
	}
	sim_close_client(s, "cut");
	close(s->lfd);
	s->lfd = -1;
	while (!sim_stop && sim_now_ms() < until)
		poll(NULL, 0, 50);
	if (sim_listen(s) == 0)
		sim_event(s, "restored");
}

static void sim_accept(struct sim *s)
{
	int fd = accept(s->lfd, NULL, NULL);

	if (fd < 0)
		return;
	sim_close_client(s, "replaced");
	if (s->tls_ctx) {
		/* The handshake blocks (a test server, one client); then the
		 * socket reads without blocking, as the plain one does. */
		SSL *ssl = SSL_new(s->tls_ctx);
		struct timeval tv = {5, 0}; /* a client that never speaks */

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

		if (!ssl || !SSL_set_fd(ssl, fd) || SSL_accept(ssl) != 1) {
			unsigned long e = ERR_get_error();

			fprintf(s->out, "{\"event\":\"tls_refused\",\"why\":\"%s\"}\n",
				e ? ERR_reason_error_string(e) : "handshake failed");
			fflush(s->out);
			ERR_clear_error();
			SSL_free(ssl);
			close(fd);
			return;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		s->ssl = ssl;
	}
	s->cfd = fd;
	s->conn++;
	sim_event(s, s->ssl ? "connected_tls" : "connected");
}

static int sim_loop(struct sim *s)
{
	while (!sim_stop) {
		struct pollfd pfd[2] = {{.fd = s->lfd, .events = POLLIN},
					{.fd = s->cfd, .events = POLLIN}};

		if (poll(pfd, 2, 200) < 0 && errno != EINTR)
			return -1;
		if (pfd[0].revents & POLLIN)
			sim_accept(s);
		if (s->cfd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) && !sim_read(s))
			sim_close_client(s, "closed");
		if (s->cut_after > 0 && !s->cut_done && s->realtime >= s->cut_after)
			sim_cut(s);
	}
	/* What is in the socket still counts. */
	while (s->cfd >= 0 && sim_read(s)) {
		struct pollfd pfd = {.fd = s->cfd, .events = POLLIN};

		if (poll(&pfd, 1, 100) <= 0)
			break;
	}
	return 0;
}

static void sim_usage(void)
{
	fputs(
	    "usage: hjplatform [--port N] [--variant nrmm|road|gb17691] [--pubkey PEM] [--id ID]\n"
	    "                  [--vin VIN] [--cut-after FRAMES --cut-for SECONDS] [--quiet]\n"
	    "                  [--tls-cert PEM [--tls-key PEM]] [--expect-obd FILE]\n"
	    "                  [--ready FILE] -o FILE\n"
	    "A test platform for HJ 1322 / HJ 1239 frames on 127.0.0.1: checks and records\n"
	    "every frame as one JSON line in FILE; --ready FILE gets the port once listening.\n"
	    "--expect-obd FILE: every diagnostics unit is checked against FILE's `key value`\n"
	    "lines (protocol, mil, dtcs, support, readiness, vin, cal_id, cvn, iupr).\n"
	    "SIGTERM stops it; exit status 1 when a frame had an error, or with --expect-obd\n"
	    "when no diagnostics unit matched.\n",
	    stderr);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"variant", required_argument, NULL, 'v'},
	    {"pubkey", required_argument, NULL, 'k'},
	    {"id", required_argument, NULL, 'i'},
	    {"vin", required_argument, NULL, 'V'},
	    {"cut-after", required_argument, NULL, 'a'},
	    {"cut-for", required_argument, NULL, 'f'},
	    {"ready", required_argument, NULL, 'r'},
	    {"tls-cert", required_argument, NULL, 'C'},
	    {"tls-key", required_argument, NULL, 'K'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"expect-obd", required_argument, NULL, 'O'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct sim s = {.lfd = -1,
			       .cfd = -1,
			       .info_serial = -1,
			       .login_serial = -1,
			       .offset_s = 8 * 3600,
			       .id = HJDECODE_DEFAULT_ID};
	const char *out = NULL, *pubkey = NULL, *tls_cert = NULL, *tls_key = NULL;
	struct sigaction sa = {.sa_handler = sim_on_signal};
	FILE *rf;
	int c;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			s.port = atoi(optarg);
			break;
		case 'v':
			if (hjdecode_variant(optarg, &s.variant, &s.layout) < 0) {
				sim_usage();
				return 2;
			}
			break;
		case 'k':
			pubkey = optarg;
			break;
		case 'i':
			s.id = optarg;
			break;
		case 'V':
			s.vin = optarg;
			break;
		case 'a':
			s.cut_after = atoi(optarg);
			break;
		case 'f':
			s.cut_for_s = atoi(optarg);
			break;
		case 'r':
			s.ready = optarg;
			break;
		case 'q':
			s.quiet = 1;
			break;
		case 'C':
			tls_cert = optarg;
			break;
		case 'K':
			tls_key = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'O':
			if (sim_obd_load(&s.obd, optarg) < 0)
				return 2;
			break;
		default:
			sim_usage();
			return 2;
		}
	}
	if (!out) {
		sim_usage();
		return 2;
	}
	if (tls_cert) {
		s.tls_ctx = SSL_CTX_new(TLS_server_method());
		if (!s.tls_ctx || SSL_CTX_use_certificate_chain_file(s.tls_ctx, tls_cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(s.tls_ctx, tls_key ? tls_key : tls_cert,
						SSL_FILETYPE_PEM) != 1) {
			fprintf(stderr, "hjplatform: %s: cannot load the TLS certificate\n",
				tls_cert);
			return 1;
		}
	}
	s.out = strcmp(out, "-") == 0 ? stdout : fopen(out, "a");
	if (!s.out || (pubkey && !(s.v = signer_verifier_open(pubkey))) || sim_listen(&s) < 0)
		return 1;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (s.ready && (rf = fopen(s.ready, "w"))) {
		fprintf(rf, "%d\n", s.port);
		fclose(rf);
	}
	fprintf(stderr, "hjplatform: listening on 127.0.0.1:%d (%s)\n", s.port,
		hj_variant_name(s.variant));
	sim_loop(&s);
	fprintf(stderr, "hjplatform: %ld frames, %ld with errors\n", s.frames, s.errors);
	if (s.obd.n > 0)
		fprintf(stderr, "hjplatform: %ld diagnostics units, %ld as expected\n", s.obd.units,
			s.obd.matched);
	signer_verifier_close(s.v);
	SSL_CTX_free(s.tls_ctx);
	if (s.out != stdout)
		fclose(s.out);
	return s.errors || (s.obd.n > 0 && s.obd.matched == 0) ? 1 : 0;
}
