/* platform: HJ 1322 / HJ 1239 frames to an emission monitoring platform.
 *
 * Records become frames by windows of their own time: one frame per period
 * (nrmm: default 60 s, one sample; road: default 10 s, samples_per_frame
 * samples, each with its time).  Two readers go through the store:
 * - live: rows stored after the current connection came up, sent as
 *   real-time frames (0x02) as soon as their window closes;
 * - backlog: rows stored before it and not acknowledged by this uplink, sent
 *   as re-send frames (0x03) with their original sample times (HJ 1239: the
 *   header carries the send time, each unit its sample's), at most resend_rate
 *   frames a second and only after live frames: live data never waits.
 * A frame is delivered once written and acknowledged by the peer's TCP
 * (the bytes left our send queue: SIOCOUTQ); its rows are acknowledged then.
 * Frames in flight when the link breaks are not acknowledged, so they go
 * again as re-send frames after the next login: nothing is lost, and at most
 * what was in flight is seen twice.
 *
 * The host is resolved at every connect attempt (a name's address may
 * change, and DNS may not be up yet at boot), off the loop: glibc's
 * getaddrinfo_a runs it on a thread of its own and the loop polls for the
 * answer; a failure backs off like a failed connect.  Connect is
 * non-blocking.  Serial numbers restart every (platform
 * local) day, run 1..65531, and are kept in the store's meta table.
 */
#define _GNU_SOURCE /* getaddrinfo_a */
#include "gateway/platform.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gateway/backoff.h"
#include "gateway/log.h"
#include "gateway/signer.h"
#include "protocols/hjframe.h"
#include "protocols/payload.h"
#include "protocols/signals.h"

#define PF_OUT		      (64 * 1024)  /* frames queued for the socket */
#define PF_FRAME_MAX	      4096	   /* the largest frame we build */
#define PF_PENDING	      1024	   /* frames written, not known delivered */
#define PF_FETCH	      64	   /* rows read from the store at once */
#define PF_BUF		      (256 * 1024) /* their payloads */
#define PF_IN		      8192	   /* answers from the platform */
#define PF_CONNECT_TIMEOUT_MS 10000
#define PF_BACKOFF_MIN_MS     500
#define PF_DRAIN_POLL_MS      20   /* while frames wait for the peer's ACK */
#define PF_WINDOW_GRACE_MS    1500 /* a window closes this long after its end */
#define PF_MMCLI_TIMEOUT_MS   5000
#define PF_MAX_ECUS	      8
#define PF_UNANSWERED_MAX     3	    /* road: reconnect after 3 unanswered frames */
#define PF_RESOLVE_POLL_MS    50    /* while the resolver works */
#define PF_RESOLVE_TIMEOUT_MS 30000 /* a resolver this slow has failed */

enum pf_state { PF_DOWN, PF_RESOLVING, PF_CONNECTING, PF_HANDSHAKE, PF_UP };

struct pf_sample {
	int64_t wall_ms;
	struct hj_stream st;
	struct hj_pos pos;
};

/* One reader of the store and the window it is filling. */
struct pf_builder {
	const char *name;
	uint8_t cmd;
	uint64_t cursor; /* last seq consumed */
	uint64_t limit;	 /* backlog: rows below this seq only; live: 0 */
	int done;	 /* backlog: read to its limit */
	int open;
	int64_t window; /* record time / period */
	uint64_t first_seq, last_seq;
	int next_slot;
	int n;
	struct pf_sample s[HJ_MAX_INFO];
};

struct pf_pending {
	uint64_t first_seq, last_seq; /* rows it carries (0: none) */
	uint64_t end_off;	      /* bytes queued on this connection up to its end */
	uint64_t raw_end;	      /* TLS: bytes on the wire once it was written (0: not yet) */
};

/* One controller's diagnostics as its newest `dtc` and `obd` events said
 * (the backlog reader may meet older ones after them: each part keeps the
 * time of the event it came from). */
struct pf_ecu {
	int used;
	int sa;
	int64_t dtc_ms, mil_ms, obd_ms;
	int have_mil;
	uint8_t mil;
	int n;
	uint32_t dtc[HJ_MAX_DTCS];
	int have_dm5, have_cvn, have_dm20;
	uint16_t support, readiness;
	char cal_id[20], cvn[12]; /* cal_id "" when not text */
	uint16_t ign_cycles, obd_conditions;
	int n_ratios;
	uint16_t num[HJ_IUPR_PAIRS], den[HJ_IUPR_PAIRS];
};

struct platform {
	struct config_platform cfg;
	struct payload_record rec; /* the row being read */
	struct payload_event ev;
	char vin[HJ_VIN_LEN + 1];
	char iccid[HJ_ICCID_LEN + 1];
	struct store *store;
	struct signer *signer;
	int has_can;
	enum hj_variant variant;
	int n_samples;
	int64_t slot_ms;

	struct sockaddr_storage addr;
	socklen_t addrlen;
	char port_text[8];
	struct addrinfo hints;
	struct gaicb gai; /* the resolver's request while PF_RESOLVING */
	int gai_busy;	  /* gai belongs to the resolver */
	int64_t resolve_deadline_ms;
	enum pf_state state;
	int fd;
	SSL_CTX *tls_ctx; /* [platform] tls */
	SSL *tls;	  /* this connection's */
	int tls_want_write;
	unsigned pend_mapped; /* TLS: pending frames given their raw_end */
	int64_t real_ms;
	int64_t now_wall_ms; /* the daemon's clock */
	int64_t retry_at_ms, connect_deadline_ms;
	struct backoff backoff;
	char last_error[128];

	uint8_t out[PF_OUT];
	size_t out_len, out_sent;
	uint64_t queued_total, written_total;
	struct pf_pending pending[PF_PENDING];
	unsigned pend_head, pend_tail;
	uint8_t in[PF_IN];
	size_t in_len;
	int unanswered, answered;

	struct pf_builder live, backlog;
	int64_t next_resend_ms;
	int64_t last_diag_ms; /* record time of the last diagnostics sent */
	struct pf_ecu ecu[PF_MAX_ECUS];
	char bus_vin[32]; /* the VIN the engine gave (obd, vin-mismatch events) */
	int64_t bus_vin_ms;
	struct hj_pos last_pos;

	int64_t serial_day;
	int64_t info_serial, login_serial;
	int activated;
	int alarm_pending;
	int64_t alarm_wall_ms;
	int ecu_silent;
	int64_t ecu_event_wall_ms; /* time of the newest ecu-silent event seen */

	struct {
		uint64_t connects, frames, realtime, resent, alarms, rows_acked, bytes, answers;
	} st;

	struct hj_frame rx; /* an answer being read */
	struct store_row rows[PF_FETCH];
	char buf[PF_BUF];
	uint8_t frame[PF_FRAME_MAX];
};

/* ---- serial numbers ------------------------------------------------------ */

static int pf_offset_s(const struct platform *p)
{
	return p->cfg.time_offset_h * 3600;
}

/* The platform's local date as yyyymmdd, or 0 when the time is out of range. */
static int64_t pf_day(const struct platform *p, int64_t wall_ms)
{
	struct hj_time t;

	if (hj_time_from_unix(wall_ms / 1000, pf_offset_s(p), &t) < 0)
		return 0;
	return (2000 + t.year) * 10000 + t.month * 100 + t.day;
}

static void pf_serial_load(struct platform *p)
{
	int64_t v = 0;

	if (store_meta_load(p->store, "hj_serial_day", &p->serial_day) != 0)
		p->serial_day = 0;
	if (store_meta_load(p->store, "hj_info_serial", &p->info_serial) != 0)
		p->info_serial = 0;
	if (store_meta_load(p->store, "hj_login_serial", &p->login_serial) != 0)
		p->login_serial = 0;
	if (store_meta_load(p->store, "hj_activated", &v) == 0)
		p->activated = v != 0;
}

/* Next serial of counter *c (info or login): 1 on a new day (of the
 * daemon's clock, not of the frame: a re-sent frame keeps its old time),
 * then +1, wrapping after 65531; saved with the next store commit. */
static uint16_t pf_serial_next(struct platform *p, int64_t *c, const char *key)
{
	int64_t day = pf_day(p, p->now_wall_ms);

	if (day != p->serial_day) {
		p->serial_day = day;
		p->info_serial = p->login_serial = 0;
		store_meta_save(p->store, "hj_serial_day", day);
		store_meta_save(p->store, "hj_info_serial", 0);
		store_meta_save(p->store, "hj_login_serial", 0);
	}
	*c = *c >= HJ_SERIAL_MAX ? 1 : *c + 1;
	store_meta_save(p->store, key, *c);
	return (uint16_t)*c;
}

/* ---- frames ---------------------------------------------------------------- */

static void pf_frame_init(const struct platform *p, struct hj_frame *f, uint8_t cmd,
			  int64_t wall_ms)
{
	memset(f, 0, sizeof(*f));
	f->variant = p->variant;
	f->cmd = cmd;
	memcpy(f->vin, p->vin, sizeof(f->vin));
	f->sw_version = (uint8_t)p->cfg.sw_version;
	f->encryption = HJ_ENC_NONE;
	if (hj_time_from_unix(wall_ms / 1000, pf_offset_s(p), &f->time) < 0)
		memset(&f->time, 0xFF, sizeof(f->time)); /* no representable time */
}

/* Room for one more frame? */
static int pf_room(const struct platform *p)
{
	return p->state == PF_UP && p->pend_head - p->pend_tail < PF_PENDING &&
	       PF_OUT - (p->out_len - p->out_sent) >= 2 * PF_FRAME_MAX;
}

static void pf_write(struct platform *p);

/* Encode f (signed when configured and sign is set), queue it carrying rows
 * first..last.  0 or -1 (logged). */
static int pf_queue(struct platform *p, struct hj_frame *f, int sign, uint64_t first, uint64_t last)
{
	uint8_t r[SIGNER_PART], s[SIGNER_PART];
	struct pf_pending *pd;
	int len = hj_encode(f, p->frame, sizeof(p->frame));

	if (len > 0 && sign && p->signer) {
		if (p->signer->sign(p->signer, p->frame + HJ_HDR_LEN, (size_t)len - HJ_HDR_LEN - 1,
				    r, s) < 0)
			return -1;
		len = hj_append_sig(p->frame, sizeof(p->frame), (size_t)len, r, s);
	}
	if (len < 0) {
		log_warnx("platform: cannot encode a %s frame: %s", hj_cmd_name(p->variant, f->cmd),
			  hj_strerror(len));
		return -1;
	}
	if (p->out_sent > 0) {
		memmove(p->out, p->out + p->out_sent, p->out_len - p->out_sent);
		p->out_len -= p->out_sent;
		p->out_sent = 0;
	}
	if ((size_t)len > PF_OUT - p->out_len)
		return -1; /* pf_room said there was room: cannot happen */
	memcpy(p->out + p->out_len, p->frame, (size_t)len);
	p->out_len += (size_t)len;
	p->queued_total += (uint64_t)len;
	pd = &p->pending[p->pend_head++ % PF_PENDING];
	pd->first_seq = first;
	pd->last_seq = last;
	pd->end_off = p->queued_total;
	p->st.frames++;
	p->st.bytes += (uint64_t)len;
	if (hj_variant_road(p->variant) && f->cmd <= HJ_CMD_ROAD_REMOVAL)
		p->unanswered++;
	pf_write(p);
	return 0;
}

static void pf_queue_login(struct platform *p, int64_t wall_ms)
{
	struct hj_frame f;

	pf_frame_init(p, &f, HJ_CMD_LOGIN, wall_ms);
	f.serial = pf_serial_next(p, &p->login_serial, "hj_login_serial");
	memcpy(f.iccid, p->iccid, sizeof(f.iccid));
	pf_queue(p, &f, 0, 0, 0);
}

static void pf_queue_activation(struct platform *p, int64_t wall_ms)
{
	struct hj_frame f;

	pf_frame_init(p, &f, HJ_CMD_ACTIVATE, wall_ms);
	snprintf(f.chip_id, sizeof(f.chip_id), "%s", p->cfg.chip_id);
	memcpy(f.act_vin, p->vin, sizeof(f.act_vin));
	if (!p->signer || p->signer->pubkey(p->signer, f.pubkey) < 0) {
		log_warnx("platform: no public key for the activation frame");
		return;
	}
	pf_queue(p, &f, 1, 0, 0);
}

static uint8_t pf_mil_code(const char *mil)
{
	if (strcmp(mil, "off") == 0)
		return 0;
	if (strcmp(mil, "on") == 0)
		return 1;
	return HJ_INVALID_FE; /* error, not available: not a lamp state */
}

/* The controller (lowest source address: the engine is 0) that gave what
 * has(e) asks, or NULL. */
static const struct pf_ecu *pf_ecu_with(const struct platform *p, int (*has)(const struct pf_ecu *))
{
	const struct pf_ecu *best = NULL;

	for (int i = 0; i < PF_MAX_ECUS; i++)
		if (p->ecu[i].used && has(&p->ecu[i]) && (!best || p->ecu[i].sa < best->sa))
			best = &p->ecu[i];
	return best;
}

static int pf_has_dm5(const struct pf_ecu *e)
{
	return e->have_dm5;
}

static int pf_has_cvn(const struct pf_ecu *e)
{
	return e->have_cvn;
}

static int pf_has_dm20(const struct pf_ecu *e)
{
	return e->have_dm20;
}

/* MIL and DTCs: the MIL is on when one controller says so; the codes of
 * every controller; both invalid until a DM1 was heard. */
static void pf_diag_dm1(const struct platform *p, struct hj_diag *d)
{
	for (int i = 0; i < PF_MAX_ECUS; i++) {
		const struct pf_ecu *e = &p->ecu[i];

		if (!e->used || !e->have_mil)
			continue;
		if (d->n_dtcs == HJ_INVALID_FE)
			d->n_dtcs = 0;
		if (e->mil == 1 || (d->mil == HJ_INVALID_FE && e->mil == 0))
			d->mil = e->mil;
		for (int j = 0; j < e->n && d->n_dtcs < HJ_MAX_DTCS; j++)
			d->dtc[d->n_dtcs++] = e->dtc[j];
	}
}

/* The diagnostics unit from the `dtc`, `obd` and `vin-mismatch` events
 * seen (README, "OBD unit"): what was not heard stays invalid (0xFF..., the
 * protocol, MIL and DTC count 0xFE), nothing is invented.  The protocol is
 * SAE J1939 once a J1939 diagnostic message was heard: the only one the
 * gateway can hear (ISO 15765 / 27145 would need requests on 11-bit CAN). */
static void pf_diag(const struct platform *p, struct hj_diag *d)
{
	const struct pf_ecu *e;

	memset(d, 0xFF, sizeof(*d));
	d->protocol = HJ_INVALID_FE;
	d->mil = HJ_INVALID_FE;
	d->n_dtcs = HJ_INVALID_FE;
	for (int i = 0; i < PF_MAX_ECUS; i++)
		if (p->ecu[i].used)
			d->protocol = 2; /* SAE J1939 */
	pf_diag_dm1(p, d);
	/* The engine's VIN when it gave one that fits, else [device] vin. */
	if (strlen(p->bus_vin) == HJ_VIN_LEN)
		memcpy(d->vin, p->bus_vin, HJ_VIN_LEN);
	else
		memcpy(d->vin, p->vin, sizeof(d->vin));
	if ((e = pf_ecu_with(p, pf_has_dm5))) {
		d->support = e->support;
		d->readiness = e->readiness;
	}
	if ((e = pf_ecu_with(p, pf_has_cvn))) {
		hj_diag_text(d->cal_id, sizeof(d->cal_id), e->cal_id[0] ? e->cal_id : NULL);
		hj_diag_text(d->cvn, sizeof(d->cvn), e->cvn);
	}
	if ((e = pf_ecu_with(p, pf_has_dm20))) {
		hj_diag_iupr_set(d, HJ_IUPR_OBD_COND, e->obd_conditions);
		hj_diag_iupr_set(d, HJ_IUPR_IGN_CYCLES, e->ign_cycles);
		for (int i = 0; i < e->n_ratios; i++) {
			hj_diag_iupr_set(d, HJ_IUPR_MONITORS + 2 * i, e->num[i]);
			hj_diag_iupr_set(d, HJ_IUPR_MONITORS + 2 * i + 1, e->den[i]);
		}
	}
}

/* Emit the open window of b as one frame (and a diagnostics frame when due).
 * 0, or -1 when it must wait (no room). */
static int pf_emit(struct platform *p, struct pf_builder *b)
{
	const struct pf_sample *last = &b->s[b->n - 1];
	int diag = b == &p->live && (p->last_diag_ms == 0 ||
				     last->wall_ms - p->last_diag_ms >= p->cfg.diag_period_ms);
	struct hj_frame f;

	if (!pf_room(p))
		return -1;
	/* HJ 1239 re-sends: the header says when the frame is sent, each unit
	 * its sample's time (what two independent platforms expect).  Where the
	 * units carry no time (nrmm, GB 17691 Q1) the header keeps the sample's. */
	pf_frame_init(p, &f, b->cmd,
		      b->cmd == HJ_CMD_RESEND && p->variant == HJ_ROAD ? p->now_wall_ms
								       : last->wall_ms);
	f.serial = pf_serial_next(p, &p->info_serial, "hj_info_serial");
	f.pos = last->pos;
	for (int i = 0; i < b->n; i++) {
		f.info[i].type = HJ_INFO_STREAM;
		f.info[i].serial = f.serial; /* GB 17691 Q1: the report's serial, every unit */
		hj_time_from_unix(b->s[i].wall_ms / 1000, pf_offset_s(p), &f.info[i].time);
		f.info[i].u.stream = b->s[i].st;
	}
	f.n_info = b->n;
	if (diag && hj_variant_road(p->variant)) {
		f.info[f.n_info].type = HJ_INFO_DIAG;
		f.info[f.n_info].time = f.time;
		f.info[f.n_info].serial = f.serial;
		pf_diag(p, &f.info[f.n_info++].u.diag);
	}
	if (pf_queue(p, &f, p->cfg.sign, b->first_seq, b->last_seq) < 0)
		return 0; /* not encodable: drop it rather than block the link */
	if (b->cmd == HJ_CMD_REALTIME)
		p->st.realtime++;
	else
		p->st.resent++;
	if (diag && p->variant == HJ_NRMM) {
		f.serial = pf_serial_next(p, &p->info_serial, "hj_info_serial");
		f.info[0].type = HJ_INFO_DIAG;
		pf_diag(p, &f.info[0].u.diag);
		pf_queue(p, &f, p->cfg.sign, 0, 0);
	}
	if (diag)
		p->last_diag_ms = last->wall_ms;
	b->open = 0;
	return 0;
}

/* ---- records ------------------------------------------------------------------ */

static const struct {
	enum hj_field field;
	enum sig_id sig;
} pf_map[] = {
    {HJ_F_SPEED_KMH, SIG_VEHICLE_SPEED_KMH},
    {HJ_F_BARO_KPA, SIG_BARO_KPA},
    {HJ_F_TORQUE_PCT, SIG_ENGINE_TORQUE_PCT},
    {HJ_F_FRICTION_PCT, SIG_FRICTION_TORQUE_PCT},
    {HJ_F_ENGINE_RPM, SIG_ENGINE_SPEED_RPM},
    {HJ_F_FUEL_LPH, SIG_FUEL_RATE_LPH},
    {HJ_F_NOX_UP_PPM, SIG_NOX_UP_PPM},
    {HJ_F_NOX_DOWN_PPM, SIG_NOX_DOWN_PPM},
    {HJ_F_DEF_PCT, SIG_DEF_LEVEL_PCT},
    {HJ_F_INTAKE_AIR_KGPH, SIG_INTAKE_AIR_KGPH},
    {HJ_F_SCR_IN_C, SIG_SCR_IN_C},
    {HJ_F_SCR_OUT_C, SIG_SCR_OUT_C},
    {HJ_F_DPF_DP_KPA, SIG_DPF_DP_KPA},
    {HJ_F_COOLANT_C, SIG_COOLANT_C},
    {HJ_F_FUEL_LEVEL_PCT, SIG_FUEL_LEVEL_PCT},
    {HJ_F_ODOMETER_KM, SIG_ODOMETER_KM},
    {HJ_F_EGR_PCT, SIG_EGR_POS_PCT},
};

static void pf_set(struct hj_stream *st, enum hj_field f, const struct payload_record *rec,
		   const char *name)
{
	double v;

	if (payload_record_value(rec, name, &v))
		hj_stream_set(st, f, v);
}

/* A record's position: valid, or the last known flagged invalid. */
static void pf_record_pos(struct platform *p, const struct payload_pos *pos, struct hj_pos *out)
{
	if (pos->present && !isnan(pos->lat) && !isnan(pos->lon)) {
		hj_pos_set(&p->last_pos, pos->valid, pos->lat, pos->lon);
		*out = p->last_pos;
		return;
	}
	*out = p->last_pos;
	out->status |= HJ_POS_INVALID;
}

static void pf_sample(struct platform *p, const struct store_row *row, struct pf_sample *s)
{
	struct payload_record *rec = &p->rec;
	struct payload_header h;

	/* A row that does not decode gives an empty sample, never a stall. */
	if (payload_decode_record(row->payload, row->len, &h, rec) < 0)
		payload_record_init(rec);
	s->wall_ms = row->wall_ms;
	hj_stream_init(&s->st);
	for (size_t i = 0; i < sizeof(pf_map) / sizeof(pf_map[0]); i++)
		pf_set(&s->st, pf_map[i].field, rec, sig_name(pf_map[i].sig));
	if (p->cfg.egr_cmd_signal[0])
		pf_set(&s->st, HJ_F_EGR_CMD_PCT, rec, p->cfg.egr_cmd_signal);
	pf_record_pos(p, &rec->pos, &s->pos);
	s->st.pos = s->pos;
}

static uint32_t pf_dtc_code(const struct payload_dtc *c)
{
	uint32_t spn = c->spn, fmi = (uint32_t)c->fmi, oc = (uint32_t)c->oc;

	/* J1939-73 DM1 byte order, conversion method 0. */
	return (spn & 0xFF) << 24 | (spn >> 8 & 0xFF) << 16 |
	       ((spn >> 16 & 0x07) << 5 | (fmi & 0x1F)) << 8 | (oc & 0x7F);
}

/* The slot of source address sa (a free one when new), or NULL when full. */
static struct pf_ecu *pf_ecu_of(struct platform *p, int64_t sa)
{
	struct pf_ecu *e = NULL;

	for (int i = 0; i < PF_MAX_ECUS && !e; i++)
		if (p->ecu[i].used && p->ecu[i].sa == sa)
			e = &p->ecu[i];
	for (int i = 0; i < PF_MAX_ECUS && !e; i++)
		if (!p->ecu[i].used)
			e = &p->ecu[i];
	if (e && !e->used) {
		memset(e, 0, sizeof(*e));
		e->used = 1;
		e->sa = (int)sa;
	}
	return e;
}

static void pf_mil(struct pf_ecu *e, const char *mil, int64_t wall_ms)
{
	if (!mil[0] || wall_ms < e->mil_ms)
		return;
	e->have_mil = 1;
	e->mil = pf_mil_code(mil);
	e->mil_ms = wall_ms;
}

/* The engine's VIN from an event: the newest one counts. */
static void pf_bus_vin(struct platform *p, const char *vin, int64_t wall_ms)
{
	if (!vin[0] || wall_ms < p->bus_vin_ms)
		return;
	snprintf(p->bus_vin, sizeof(p->bus_vin), "%s", vin);
	p->bus_vin_ms = wall_ms;
}

/* A `dtc` event: the newest one of each source address is its state. */
static void pf_dtc_event(struct platform *p, const struct payload_event *ev, int64_t wall_ms)
{
	struct pf_ecu *e = pf_ecu_of(p, ev->sa);

	if (!e || wall_ms < e->dtc_ms)
		return;
	e->dtc_ms = wall_ms;
	pf_mil(e, ev->mil, wall_ms);
	e->n = 0;
	for (int i = 0; i < ev->active.n && e->n < HJ_MAX_DTCS; i++)
		e->dtc[e->n++] = pf_dtc_code(&ev->active.d[i]);
}

/* An `obd` event: DM5, DM19 and DM20 of one source as they are now.  IUPR
 * takes the first HJ_IUPR_PAIRS ratios in DM20's order (README). */
static void pf_obd_event(struct platform *p, const struct payload_event *ev, int64_t wall_ms)
{
	struct pf_ecu *e = pf_ecu_of(p, ev->sa);

	if (!e || wall_ms < e->obd_ms)
		return;
	e->obd_ms = wall_ms;
	pf_mil(e, ev->mil, wall_ms);
	pf_bus_vin(p, ev->engine, wall_ms);
	e->have_dm5 = ev->obd_support != PAYLOAD_NO_INT && ev->obd_readiness != PAYLOAD_NO_INT;
	e->support = (uint16_t)ev->obd_support;
	e->readiness = (uint16_t)ev->obd_readiness;
	e->have_cvn = ev->cvn[0] != '\0';
	snprintf(e->cal_id, sizeof(e->cal_id), "%s", ev->cal_id);
	snprintf(e->cvn, sizeof(e->cvn), "%s", ev->cvn);
	e->have_dm20 = ev->ign_cycles != PAYLOAD_NO_INT && ev->obd_conditions != PAYLOAD_NO_INT;
	e->ign_cycles = (uint16_t)ev->ign_cycles;
	e->obd_conditions = (uint16_t)ev->obd_conditions;
	e->n_ratios = 0;
	for (int i = 0; i < ev->ratios.n && e->n_ratios < HJ_IUPR_PAIRS; i++) {
		e->num[e->n_ratios] = (uint16_t)ev->ratios.r[i].num;
		e->den[e->n_ratios++] = (uint16_t)ev->ratios.r[i].den;
	}
}

static void pf_ecu_silent(struct platform *p, int silent, int64_t wall_ms);

/* watch's `ecu-silent` events decide the ECU's silence (one rule, [watch]
 * ecu_silent): a start raises the removal alarm, an end ends the episode.
 * The backlog reader may meet an older event after the live one. */
static void pf_ecu_event(struct platform *p, const struct payload_event *ev, int64_t wall_ms)
{
	if (wall_ms < p->ecu_event_wall_ms)
		return;
	p->ecu_event_wall_ms = wall_ms;
	pf_ecu_silent(p, strcmp(ev->state, "start") == 0, wall_ms);
}

/* The events the platform uses: diagnostics and the ECU's silence. */
static void pf_event(struct platform *p, const struct store_row *row)
{
	static const char *const used[] = {"\"dtc\"", "\"obd\"", "\"vin-mismatch\"",
					   "\"ecu-silent\""};
	struct payload_event *ev = &p->ev;
	struct payload_header h;
	size_t i = 0;

	/* Most rows are other events: a look at the text first. */
	while (i < sizeof(used) / sizeof(used[0]) && !strstr(row->payload, used[i]))
		i++;
	if (i == sizeof(used) / sizeof(used[0]) ||
	    payload_decode_event(row->payload, row->len, &h, ev, NULL) < 0)
		return;
	if (ev->type == PAYLOAD_EV_DTC)
		pf_dtc_event(p, ev, row->wall_ms);
	else if (ev->type == PAYLOAD_EV_OBD)
		pf_obd_event(p, ev, row->wall_ms);
	else if (ev->type == PAYLOAD_EV_VIN_MISMATCH)
		pf_bus_vin(p, ev->engine, row->wall_ms);
	else if (ev->type == PAYLOAD_EV_ECU_SILENT)
		pf_ecu_event(p, ev, row->wall_ms);
}

static int64_t pf_window(const struct platform *p, const struct store_row *row);

/* One row into b's window.  0, or -1 when the window it closes must wait. */
static int pf_take(struct platform *p, struct pf_builder *b, const struct store_row *row)
{
	int64_t w = pf_window(p, row);
	int slot;

	if (row->kind == STORE_EVENT) {
		/* Events do not go to the platform; dtc, obd, vin-mismatch
		 * events feed diagnostics. */
		pf_event(p, row);
		if (!b->open)
			store_ack(p->store, PLATFORM_BIT, row->seq);
		else
			b->last_seq = row->seq;
		return 0;
	}
	if (b->open && w != b->window && pf_emit(p, b) < 0)
		return -1;
	if (!b->open) {
		b->open = 1;
		b->window = w;
		b->first_seq = row->seq;
		b->n = 0;
		b->next_slot = 0;
	}
	b->last_seq = row->seq;
	slot = (int)((row->wall_ms - w * p->cfg.period_ms) / p->slot_ms);
	if (slot >= b->next_slot && b->n < p->n_samples) {
		pf_sample(p, row, &b->s[b->n++]);
		b->next_slot = slot + 1;
	}
	return 0;
}

static int64_t pf_window(const struct platform *p, const struct store_row *row)
{
	return row->wall_ms >= 0 ? row->wall_ms / p->cfg.period_ms : 0;
}

/* Read b's rows into frames while there is room, closing at most budget
 * windows.  final: close the open window when no row is left. */
static void pf_pump(struct platform *p, struct pf_builder *b, int final, int64_t budget)
{
	while (p->state == PF_UP && !b->done) {
		int n = store_fetch(p->store, PLATFORM_BIT, b->cursor, p->rows, PF_FETCH, p->buf,
				    sizeof(p->buf));
		int at_limit = 0;

		if (n < 0)
			return;
		for (int i = 0; i < n && !at_limit; i++) {
			const struct store_row *row = &p->rows[i];

			if (b->limit && row->seq >= b->limit) {
				at_limit = 1; /* the backlog ends here */
				break;
			}
			if (b->open && row->kind == STORE_RECORD &&
			    pf_window(p, row) != b->window && budget-- <= 0)
				return;
			if (pf_take(p, b, row) < 0)
				return;
			b->cursor = row->seq;
		}
		if (n > 0 && !at_limit)
			continue;
		if (b->limit || final) {
			if (b->open && (budget-- <= 0 || pf_emit(p, b) < 0))
				return;
			if (b->limit)
				b->done = 1;
		}
		return;
	}
}

/* ---- delivery ------------------------------------------------------------------ */

static void pf_ack_rows(struct platform *p, const struct pf_pending *pd)
{
	if (pd->first_seq == 0)
		return;
	for (uint64_t seq = pd->first_seq; seq <= pd->last_seq; seq++)
		if (store_ack(p->store, PLATFORM_BIT, seq) == 0)
			p->st.rows_acked++;
}

/* Frames whose bytes the peer has acknowledged are delivered. */
static void pf_check_delivered(struct platform *p)
{
	int outq = 0;
	uint64_t delivered;

	if (p->fd < 0 || p->pend_head == p->pend_tail)
		return;
	if (ioctl(p->fd, SIOCOUTQ, &outq) < 0)
		return;
	/* TLS: the queue holds records, not frames: compare wire bytes. */
	delivered =
	    (p->tls ? BIO_number_written(SSL_get_wbio(p->tls)) : p->written_total) - (uint64_t)outq;
	while (p->pend_tail != p->pend_head) {
		struct pf_pending *pd = &p->pending[p->pend_tail % PF_PENDING];

		if (p->tls ? pd->raw_end == 0 || pd->raw_end > delivered : pd->end_off > delivered)
			break;
		pf_ack_rows(p, pd);
		p->pend_tail++;
	}
}

/* ---- connection ------------------------------------------------------------------ */

static void pf_builder_reset(struct pf_builder *b, uint64_t cursor, uint64_t limit)
{
	b->cursor = cursor;
	b->limit = limit;
	b->done = 0;
	b->open = 0;
}

static void pf_disconnect(struct platform *p, const char *why)
{
	if (p->state == PF_UP || strcmp(p->last_error, why) != 0)
		log_warnx("platform: %s:%d: %s", p->cfg.host, p->cfg.port, why);
	snprintf(p->last_error, sizeof(p->last_error), "%s", why);
	if (p->fd >= 0) {
		pf_check_delivered(p); /* what the peer has, it has */
		close(p->fd);
	}
	SSL_free(p->tls);
	p->tls = NULL;
	p->fd = -1;
	p->state = PF_DOWN;
	p->out_len = p->out_sent = 0;
	p->pend_head = p->pend_tail = 0;
	p->in_len = 0;
	p->live.open = p->backlog.open = 0;
	p->retry_at_ms = p->real_ms + backoff_next(&p->backoff, p->real_ms);
}

/* Is the resolver still at work on the request?  Frees its answer when
 * it is not. */
static int pf_resolver_busy(struct platform *p)
{
	if (gai_error(&p->gai) == EAI_INPROGRESS)
		return 1;
	if (p->gai.ar_result)
		freeaddrinfo(p->gai.ar_result);
	p->gai.ar_result = NULL;
	p->gai_busy = 0;
	return 0;
}

/* Start resolving the host (off the loop); pf_resolved goes on. */
static void pf_connect(struct platform *p)
{
	struct gaicb *list[1] = {&p->gai};
	int rc;

	if (p->gai_busy && pf_resolver_busy(p)) {
		pf_disconnect(p, "the resolver is still busy with the last attempt");
		return;
	}
	memset(&p->gai, 0, sizeof(p->gai));
	p->gai.ar_name = p->cfg.host;
	p->gai.ar_service = p->port_text;
	p->gai.ar_request = &p->hints;
	rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (rc != 0) {
		pf_disconnect(p, gai_strerror(rc));
		return;
	}
	p->gai_busy = 1;
	p->state = PF_RESOLVING;
	p->resolve_deadline_ms = p->real_ms + PF_RESOLVE_TIMEOUT_MS;
}

/* The resolver's answer, when it has one: connect (non-blocking). */
static void pf_resolved(struct platform *p)
{
	struct addrinfo *res;
	char why[sizeof(p->last_error)];
	int rc = gai_error(&p->gai), fd;

	if (rc == EAI_INPROGRESS) {
		if (p->real_ms < p->resolve_deadline_ms)
			return;
		gai_cancel(&p->gai); /* gai_busy stays: pf_connect checks again */
		pf_disconnect(p, "resolving the host timed out");
		return;
	}
	p->gai_busy = 0;
	res = p->gai.ar_result;
	if (rc != 0 || !res) {
		snprintf(why, sizeof(why), "%s", rc ? gai_strerror(rc) : "no address");
		if (res)
			freeaddrinfo(res);
		pf_disconnect(p, why);
		return;
	}
	memcpy(&p->addr, res->ai_addr, res->ai_addrlen);
	p->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pf_disconnect(p, strerror(errno));
		return;
	}
	p->fd = fd;
	if (connect(fd, (struct sockaddr *)&p->addr, p->addrlen) < 0 && errno != EINPROGRESS) {
		pf_disconnect(p, strerror(errno));
		return;
	}
	p->state = PF_CONNECTING;
	p->connect_deadline_ms = p->real_ms + PF_CONNECT_TIMEOUT_MS;
}

/* Connected: everything stored so far is backlog, the rest is live. */
static void pf_up(struct platform *p, const struct clock_now *now)
{
	uint64_t live0;

	p->now_wall_ms = now->wall_ms;
	store_flush(p->store); /* so the backlog reader sees every row below live0 */
	live0 = store_next_seq_peek(p->store);
	p->state = PF_UP;
	p->st.connects++;
	/* Reset only once the session has lasted: a platform that closes
	 * every session at once is backed off too. */
	backoff_up(&p->backoff, p->real_ms);
	p->queued_total = p->written_total = 0;
	p->pend_mapped = p->pend_tail;
	p->unanswered = p->answered = 0;
	pf_builder_reset(&p->live, live0 - 1, 0);
	pf_builder_reset(&p->backlog, 0, live0);
	p->next_resend_ms = p->real_ms;
	log_notice("platform: connected to %s:%d (%s), logging in", p->cfg.host, p->cfg.port,
		   hj_variant_name(p->variant));
	pf_queue_login(p, now->wall_ms);
	if (p->cfg.activate && !p->activated)
		pf_queue_activation(p, now->wall_ms);
}

/* Why the TLS call that returned r failed (OpenSSL's queue, or errno). */
static void pf_tls_fail(struct platform *p, const char *what)
{
	char why[sizeof(p->last_error)];
	unsigned long e = ERR_get_error();
	long vr = p->tls ? SSL_get_verify_result(p->tls) : X509_V_OK;

	if (vr != X509_V_OK)
		snprintf(why, sizeof(why), "TLS %s: certificate: %s", what,
			 X509_verify_cert_error_string(vr));
	else
		snprintf(why, sizeof(why), "TLS %s: %s", what,
			 e	 ? ERR_reason_error_string(e)
			 : errno ? strerror(errno)
				 : "closed");
	ERR_clear_error();
	pf_disconnect(p, why);
}

/* Send n bytes: how many went, 0 when the socket is full, -1 when the link
 * broke (disconnected, logged). */
static ssize_t pf_send(struct platform *p, const uint8_t *buf, size_t n)
{
	ssize_t r;
	int e;

	if (!p->tls) {
		r = send(p->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r >= 0 || errno == EAGAIN || errno == EINTR)
			return r < 0 ? 0 : r;
		pf_disconnect(p, strerror(errno));
		return -1;
	}
	ERR_clear_error();
	r = SSL_write(p->tls, buf, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0) {
		p->tls_want_write = 0;
		return r;
	}
	e = SSL_get_error(p->tls, (int)r);
	if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
		p->tls_want_write = e == SSL_ERROR_WANT_WRITE;
		return 0;
	}
	pf_tls_fail(p, "write");
	return -1;
}

static void pf_write(struct platform *p)
{
	while (p->state == PF_UP && p->out_sent < p->out_len) {
		ssize_t n = pf_send(p, p->out + p->out_sent, p->out_len - p->out_sent);

		if (n <= 0)
			return;
		p->out_sent += (size_t)n;
		p->written_total += (uint64_t)n;
		/* A TLS record is on the wire once SSL_write returned it: the
		 * frames it ends are delivered when the wire bytes are. */
		while (p->tls && p->pend_mapped != p->pend_head) {
			struct pf_pending *pd = &p->pending[p->pend_mapped % PF_PENDING];

			if (pd->end_off > p->written_total)
				break;
			pd->raw_end = BIO_number_written(SSL_get_wbio(p->tls));
			p->pend_mapped++;
		}
	}
	if (p->out_sent == p->out_len)
		p->out_sent = p->out_len = 0;
}

static void pf_answer(struct platform *p, const struct hj_frame *f)
{
	if (f->cmd == HJ_CMD_ACTIVATE_ANSWER) {
		if (f->result == 1 || f->reason == 1) {
			log_notice("platform: activation accepted");
			p->activated = 1;
			store_meta_save(p->store, "hj_activated", 1);
		} else {
			log_warnx("platform: activation refused (reason %u)", f->reason);
		}
	} else if (f->cmd == HJ_CMD_05 && hj_variant_road(p->variant) && f->has_time) {
		log_info("platform: time sync answer %04d-%02d-%02d %02d:%02d:%02d",
			 2000 + f->time.year, f->time.month, f->time.day, f->time.hour,
			 f->time.minute, f->time.second);
	}
}

static void pf_read(struct platform *p)
{
	struct hj_frame *f = &p->rx;
	ssize_t n;
	size_t off = 0;

	if (p->tls) {
		int r, e;

		ERR_clear_error();
		r = SSL_read(p->tls, p->in + p->in_len, (int)(sizeof(p->in) - p->in_len));
		e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(p->tls, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return;
		if (e == SSL_ERROR_ZERO_RETURN) {
			pf_disconnect(p, "closed by the platform");
			return;
		}
		if (r <= 0) {
			pf_tls_fail(p, "read");
			return;
		}
		n = r;
	} else {
		n = recv(p->fd, p->in + p->in_len, sizeof(p->in) - p->in_len, MSG_DONTWAIT);
	}
	if (n == 0) {
		pf_disconnect(p, "closed by the platform");
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			pf_disconnect(p, strerror(errno));
		return;
	}
	p->in_len += (size_t)n;
	while (off < p->in_len) {
		int len = hj_frame_len(p->in + off, p->in_len - off);

		if (len == HJ_ESHORT)
			break;
		if (len < 0) {
			off++; /* resynchronise on the next "##" */
			continue;
		}
		/* Any whole frame is an answer (road echoes carry only a time);
		 * those we know are read. */
		if (hj_bcc(p->in + off + 2, (size_t)len - 3) == p->in[off + (size_t)len - 1]) {
			p->st.answers++;
			p->answered = 1;
			p->unanswered = 0;
			if (hj_decode(p->in + off, (size_t)len, p->variant, f) > 0)
				pf_answer(p, f);
		}
		off += (size_t)len;
	}
	memmove(p->in, p->in + off, p->in_len - off);
	p->in_len -= off;
	if (p->in_len == sizeof(p->in))
		p->in_len = 0; /* garbage without a frame: drop it */
}

static int platform_fd(const struct platform *p)
{
	return p ? p->fd : -1;
}

static short platform_events(const struct platform *p)
{
	if (!p || p->fd < 0)
		return 0;
	if (p->state == PF_CONNECTING)
		return POLLOUT;
	if (p->state == PF_HANDSHAKE)
		return p->tls_want_write ? POLLOUT : POLLIN;
	return POLLIN | (p->out_sent < p->out_len || p->tls_want_write ? POLLOUT : 0);
}

/* One step of the TLS handshake; connected once it is done. */
static void pf_handshake(struct platform *p, const struct clock_now *now)
{
	int r, e;

	ERR_clear_error();
	r = SSL_do_handshake(p->tls);
	if (r == 1) {
		p->tls_want_write = 0;
		log_info("platform: TLS %s, %s", SSL_get_version(p->tls),
			 SSL_get_cipher_name(p->tls));
		pf_up(p, now);
		return;
	}
	e = SSL_get_error(p->tls, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		p->tls_want_write = e == SSL_ERROR_WANT_WRITE;
		return;
	}
	pf_tls_fail(p, "handshake");
}

/* TCP is up: start TLS on it, checking the certificate names the host. */
static void pf_tls_start(struct platform *p, const struct clock_now *now)
{
	struct in6_addr a6;
	struct in_addr a4;

	p->tls = SSL_new(p->tls_ctx);
	if (!p->tls || SSL_set_fd(p->tls, p->fd) != 1) {
		pf_tls_fail(p, "setup");
		return;
	}
	SSL_set_mode(p->tls, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (inet_pton(AF_INET, p->cfg.host, &a4) == 1 || inet_pton(AF_INET6, p->cfg.host, &a6) == 1)
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(p->tls), p->cfg.host);
	else if (SSL_set_tlsext_host_name(p->tls, p->cfg.host) != 1 ||
		 SSL_set1_host(p->tls, p->cfg.host) != 1) {
		pf_tls_fail(p, "setup");
		return;
	}
	SSL_set_connect_state(p->tls);
	p->state = PF_HANDSHAKE;
	pf_handshake(p, now);
}

/* The TLS context of [platform] tls: CA, verification, client certificate.
 * 0, or -1 (logged). */
static int pf_tls_open(struct platform *p)
{
	const struct config_platform *c = &p->cfg;

	p->tls_ctx = SSL_CTX_new(TLS_client_method());
	if (!p->tls_ctx)
		goto out_err;
	SSL_CTX_set_min_proto_version(p->tls_ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(p->tls_ctx, c->tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	if (c->ca_file[0] ? SSL_CTX_load_verify_locations(p->tls_ctx, c->ca_file, NULL) != 1
			  : SSL_CTX_set_default_verify_paths(p->tls_ctx) != 1) {
		log_warnx("platform: ca_file %s: %s", c->ca_file[0] ? c->ca_file : "(system)",
			  ERR_reason_error_string(ERR_get_error()));
		goto out_free;
	}
	if (c->cert_file[0] &&
	    (SSL_CTX_use_certificate_chain_file(p->tls_ctx, c->cert_file) != 1 ||
	     SSL_CTX_use_PrivateKey_file(p->tls_ctx, c->cert_key_file, SSL_FILETYPE_PEM) != 1 ||
	     SSL_CTX_check_private_key(p->tls_ctx) != 1)) {
		log_warnx("platform: cert_file %s / cert_key_file %s: %s", c->cert_file,
			  c->cert_key_file, ERR_reason_error_string(ERR_get_error()));
		goto out_free;
	}
	if (!c->tls_verify)
		log_warnx("platform: tls_verify = no: the platform's certificate is not checked");
	return 0;
out_free:
	SSL_CTX_free(p->tls_ctx);
	p->tls_ctx = NULL;
	ERR_clear_error();
	return -1;
out_err:
	log_warnx("platform: TLS: %s", ERR_reason_error_string(ERR_get_error()));
	return -1;
}

static void platform_io(struct platform *p, short revents, const struct clock_now *now)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (!p || p->fd < 0)
		return;
	if (p->state == PF_CONNECTING) {
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err)
			pf_disconnect(p, strerror(err));
		else if (p->tls_ctx)
			pf_tls_start(p, now);
		else
			pf_up(p, now);
		return;
	}
	if (p->state == PF_HANDSHAKE) {
		pf_handshake(p, now);
		return;
	}
	if (revents & (POLLIN | POLLERR | POLLHUP))
		pf_read(p);
	if (p->state == PF_UP && (revents & POLLOUT))
		pf_write(p);
}

/* ---- removal alarm ---------------------------------------------------------------- */

static void pf_ecu_silent(struct platform *p, int silent, int64_t wall_ms)
{
	if (!p->has_can || silent == p->ecu_silent)
		return;
	p->ecu_silent = silent;
	if (!silent) {
		log_notice("platform: engine ECU talking again");
		return;
	}
	log_warnx("platform: engine ECU silent: removal alarm");
	p->alarm_pending = 1;
	p->alarm_wall_ms = wall_ms;
}

static void pf_send_alarm(struct platform *p)
{
	struct hj_frame f;

	if (!p->alarm_pending || !pf_room(p))
		return;
	/* nrmm: 0x05; road: 0x06 with the nrmm body (hjframe.h says why) */
	pf_frame_init(p, &f, hj_variant_road(p->variant) ? HJ_CMD_ROAD_REMOVAL : HJ_CMD_05,
		      p->alarm_wall_ms);
	f.serial = pf_serial_next(p, &p->info_serial, "hj_info_serial");
	f.pos = p->last_pos;
	f.removal_status = 1; /* diagnostics not readable */
	if (pf_queue(p, &f, 0, 0, 0) == 0)
		p->st.alarms++;
	p->alarm_pending = 0;
}

/* ---- the loop ---------------------------------------------------------------------- */

static void platform_process(struct platform *p, int64_t real_ms, const struct clock_now *now,
			     int final)
{
	uint64_t resent;

	if (!p)
		return;
	p->real_ms = real_ms;
	p->now_wall_ms = now->wall_ms;
	if (p->state == PF_DOWN && real_ms >= p->retry_at_ms)
		pf_connect(p);
	if (p->state == PF_RESOLVING)
		pf_resolved(p);
	if ((p->state == PF_CONNECTING || p->state == PF_HANDSHAKE) &&
	    real_ms >= p->connect_deadline_ms)
		pf_disconnect(p, "connect timed out");
	if (p->state != PF_UP)
		return;
	if (hj_variant_road(p->variant) && p->answered && p->unanswered >= PF_UNANSWERED_MAX) {
		pf_disconnect(p, "three frames unanswered");
		return;
	}
	pf_send_alarm(p);
	pf_pump(p, &p->live, final, INT64_MAX);
	/* A window of live time has passed without a record to close it. */
	if (p->live.open &&
	    now->wall_ms >= (p->live.window + 1) * p->cfg.period_ms + PF_WINDOW_GRACE_MS)
		pf_emit(p, &p->live);
	/* The backlog: one frame per 1/resend_rate s, after the live ones. */
	if (!p->backlog.done && real_ms >= p->next_resend_ms) {
		resent = p->st.resent;
		pf_pump(p, &p->backlog, 1, 1);
		if (p->st.resent != resent)
			p->next_resend_ms = real_ms + 1000 / p->cfg.resend_rate;
	}
	pf_write(p);
	pf_check_delivered(p);
}

static int64_t platform_deadline(const struct platform *p)
{
	int64_t d = -1;

	if (!p)
		return -1;
	switch (p->state) {
	case PF_DOWN:
		return p->retry_at_ms;
	case PF_RESOLVING:
		return p->real_ms + PF_RESOLVE_POLL_MS;
	case PF_CONNECTING:
	case PF_HANDSHAKE:
		return p->connect_deadline_ms;
	case PF_UP:
		break;
	}
	if (p->pend_head != p->pend_tail)
		d = p->real_ms + PF_DRAIN_POLL_MS;
	if (!p->backlog.done && (d < 0 || p->next_resend_ms < d))
		d = p->next_resend_ms > p->real_ms ? p->next_resend_ms
						   : p->real_ms + PF_DRAIN_POLL_MS;
	if (p->live.open && d < 0)
		d = p->real_ms + 500;
	return d;
}

static json_t *platform_status(const struct platform *p)
{
	if (!p)
		return json_pack("{s:b}", "enabled", 0);
	return json_pack("{s:b, s:b, s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:i,"
			 " s:i, s:I, s:s}",
			 "enabled", 1, "connected", p->state == PF_UP, "host", p->cfg.host, "port",
			 p->cfg.port, "variant", hj_variant_name(p->variant), "frames",
			 (json_int_t)p->st.frames, "realtime", (json_int_t)p->st.realtime, "resent",
			 (json_int_t)p->st.resent, "alarms", (json_int_t)p->st.alarms, "rows_acked",
			 (json_int_t)p->st.rows_acked, "connects", (json_int_t)p->st.connects,
			 "answers", (json_int_t)p->st.answers, "backlog",
			 p->state == PF_UP && !p->backlog.done, "login_serial",
			 (int)p->login_serial, "info_serial", (int)p->info_serial, "in_flight",
			 (json_int_t)(p->pend_head - p->pend_tail), "last_error", p->last_error);
}

/* ---- start and stop ------------------------------------------------------------------ */

/* What the resolver is asked at every connect: the port as text, TCP. */
static void pf_resolver_init(struct platform *p)
{
	snprintf(p->port_text, sizeof(p->port_text), "%d", p->cfg.port);
	p->hints = (struct addrinfo){.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
}
/* The full path of prog on PATH, or -1 when it is not there. */
static int pf_which(const char *prog, char *out, size_t size)
{
	const char *path = getenv("PATH");

	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n > 0 && (size_t)snprintf(out, size, "%.*s/%s", (int)n, path, prog) < size &&
		    access(out, X_OK) == 0)
			return 0;
		path += n + (path[n] == ':');
	}
	return -1;
}

/* Run argv (no shell) and collect its standard output, within timeout_ms.
 * 0 or -1. */
static int pf_run(char *const argv[], char *out, size_t size, int timeout_ms)
{
	int fds[2], status, devnull;
	size_t len = 0;
	pid_t pid;
	int64_t waited = 0;

	if (pipe(fds) < 0)
		return -1;
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		devnull = open("/dev/null", O_RDWR);
		dup2(fds[1], 1);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	while (len + 1 < size && waited < timeout_ms) {
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, 100) == 0) {
			waited += 100;
			continue;
		}
		n = read(fds[0], out + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	out[len] = '\0';
	close(fds[0]);
	if (waited >= timeout_ms)
		kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

/* The value of "key : value" in mmcli's key-value output. */
static int pf_kv(const char *text, const char *key, char *out, size_t size)
{
	const char *p = strstr(text, key);
	size_t n;

	if (!p || !(p = strchr(p, ':')))
		return -1;
	p += strspn(p + 1, " ") + 1;
	n = strcspn(p, " \r\n");
	if (n == 0 || n >= size || (n == 2 && strncmp(p, "--", 2) == 0))
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* The SIM's ICCID through ModemManager's mmcli, when it is installed. */
static int pf_mmcli_iccid(char *iccid, size_t size)
{
	char path[4096], sim[256], text[8192];
	char *modem_argv[] = {path, "-m", "any", "--output-keyvalue", NULL};
	char *sim_argv[] = {path, "-i", sim, "--output-keyvalue", NULL};

	if (pf_which("mmcli", path, sizeof(path)) < 0) {
		log_warnx("platform: iccid = mmcli, but mmcli is not installed");
		return -1;
	}
	if (pf_run(modem_argv, text, sizeof(text), PF_MMCLI_TIMEOUT_MS) < 0 ||
	    pf_kv(text, "modem.generic.sim", sim, sizeof(sim)) < 0 ||
	    pf_run(sim_argv, text, sizeof(text), PF_MMCLI_TIMEOUT_MS) < 0 ||
	    pf_kv(text, "sim.properties.iccid", iccid, size) < 0) {
		log_warnx("platform: mmcli gave no ICCID");
		return -1;
	}
	return 0;
}

static void pf_iccid(struct platform *p)
{
	char got[64] = "";

	if (strcmp(p->cfg.iccid, "mmcli") == 0) {
		if (pf_mmcli_iccid(got, sizeof(got)) == 0)
			log_info("platform: ICCID %s from ModemManager", got);
	} else {
		snprintf(got, sizeof(got), "%s", p->cfg.iccid);
	}
	if (!got[0]) {
		/* Unknown: all ones, the protocol's "invalid", not a made-up number. */
		memset(p->iccid, 0xFF, HJ_ICCID_LEN);
		return;
	}
	/* A 19-digit ICCID is padded with 'F', as on the SIM. */
	snprintf(p->iccid, sizeof(p->iccid), "%-20.20s", got);
	for (int i = 0; i < HJ_ICCID_LEN; i++)
		if (p->iccid[i] == ' ')
			p->iccid[i] = 'F';
}

static struct platform *platform_open(const struct config_platform *cfg, const char *vin,
				      struct store *store, int has_can)
{
	struct platform *p = calloc(1, sizeof(*p));

	if (!p) {
		log_warn("platform");
		return NULL;
	}
	p->cfg = *cfg;
	p->store = store;
	p->has_can = has_can;
	p->fd = -1;
	p->variant = cfg->variant == 2 ? HJ_GB17691 : cfg->variant ? HJ_ROAD : HJ_NRMM;
	/* Q1 units carry no time of their own: one sample a frame. */
	p->n_samples = p->variant == HJ_ROAD ? cfg->samples_per_frame : 1;
	if (p->n_samples > HJ_MAX_INFO - 1)
		p->n_samples = HJ_MAX_INFO - 1; /* room for the diagnostics unit */
	p->slot_ms = cfg->period_ms / p->n_samples > 0 ? cfg->period_ms / p->n_samples : 1;
	backoff_init(&p->backoff, PF_BACKOFF_MIN_MS, cfg->reconnect_max_s * 1000, BACKOFF_FULL);
	p->live = (struct pf_builder){.name = "live", .cmd = HJ_CMD_REALTIME};
	p->backlog = (struct pf_builder){.name = "backlog", .cmd = HJ_CMD_RESEND, .done = 1};
	snprintf(p->vin, sizeof(p->vin), "%s", vin);
	hj_pos_unknown(&p->last_pos);
	pf_resolver_init(p);
	if (cfg->sign) {
		p->signer = signer_soft_open(cfg->key_file, cfg->user_id);
		if (!p->signer)
			goto out_free;
	}
	if (cfg->tls && pf_tls_open(p) < 0)
		goto out_signer;
	pf_iccid(p);
	pf_serial_load(p);
	log_info("platform: %s:%d, %s, a frame every %d s%s", cfg->host, cfg->port,
		 p->variant == HJ_GB17691 ? "road (GB 17691 Annex Q)"
		 : p->variant == HJ_ROAD  ? "road (HJ 1239)"
					  : "non-road (HJ 1322)",
		 cfg->period_ms / 1000, cfg->sign ? ", signed" : "");
	return p;
out_signer:
	if (p->signer)
		p->signer->close(p->signer);
out_free:
	free(p);
	return NULL;
}

static void platform_close(struct platform *p, const struct clock_now *now)
{
	struct hj_frame f;

	if (!p)
		return;
	if (p->state == PF_UP) {
		p->now_wall_ms = now->wall_ms;
		pf_frame_init(p, &f, HJ_CMD_LOGOUT, now->wall_ms);
		f.serial = (uint16_t)p->login_serial;
		pf_queue(p, &f, 0, 0, 0);
		/* Give the logout (and frames before it) a moment to leave. */
		for (int i = 0; i < 50 && p->state == PF_UP &&
				(p->out_len > 0 || p->pend_head != p->pend_tail);
		     i++) {
			struct pollfd pfd = {.fd = p->fd, .events = POLLOUT};

			poll(&pfd, 1, PF_DRAIN_POLL_MS);
			pf_write(p);
			pf_check_delivered(p);
		}
		store_flush(p->store);
	}
	if (p->tls && p->state == PF_UP)
		SSL_shutdown(p->tls); /* close_notify, not waiting for the answer */
	SSL_free(p->tls);
	SSL_CTX_free(p->tls_ctx);
	if (p->fd >= 0)
		close(p->fd);
	if (p->signer)
		p->signer->close(p->signer);
	if (p->gai_busy && gai_cancel(&p->gai) == EAI_NOTCANCELED) {
		const struct gaicb *list[1] = {&p->gai};
		struct timespec ts = {2, 0};

		gai_suspend(list, 1, &ts);
	}
	if (p->gai_busy && pf_resolver_busy(p)) {
		/* The resolver still holds the request: leave it the memory. */
		log_warnx("platform: the resolver for %s does not finish", p->cfg.host);
		return;
	}
	free(p);
}

/* ---- the uplink interface ------------------------------------------------------------- */

static int pf_op_enabled(const struct config *cfg)
{
	return cfg->platform.enabled;
}

static void *pf_op_open(const struct config *cfg, const struct uplink_env *env)
{
	return platform_open(&cfg->platform, cfg->vin, env->store, env->has_can);
}

static void pf_op_close(void *p, const struct clock_now *now)
{
	platform_close(p, now);
}

static int pf_op_fd(const void *p)
{
	return platform_fd(p);
}

static short pf_op_events(const void *p)
{
	return platform_events(p);
}

static void pf_op_io(void *p, short revents, const struct clock_now *now)
{
	platform_io(p, revents, now);
}

static void pf_op_process(void *p, const struct uplink_tick *t)
{
	platform_process(p, t->real_ms, &t->now, t->final);
}

static int64_t pf_op_deadline(const void *p)
{
	return platform_deadline(p);
}

static json_t *pf_op_status(const void *p, const struct store_stats *ss, int64_t now_wall_ms)
{
	(void)ss;
	(void)now_wall_ms;
	return platform_status(p);
}

/* Any change of [platform] or of the VIN logs in again. */
static int pf_op_reconfigure(void *p, const struct config *old, const struct config *fresh)
{
	(void)p;
	return memcmp(&old->platform, &fresh->platform, sizeof(old->platform)) != 0 ||
	       strcmp(old->vin, fresh->vin) != 0;
}

const struct uplink_ops platform_uplink = {
    .name = "platform",
    .status_key = "platform",
    .bit = PLATFORM_BIT,
    .enabled = pf_op_enabled,
    .open = pf_op_open,
    .close = pf_op_close,
    .fd = pf_op_fd,
    .events = pf_op_events,
    .io = pf_op_io,
    .process = pf_op_process,
    .deadline = pf_op_deadline,
    .status = pf_op_status,
    .reconfigure = pf_op_reconfigure,
};
