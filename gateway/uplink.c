/* uplink: the MQTT link.
 *
 * Order of sending.  At every (re)connect, rows with seq >= live_from (the
 * store's next seq at that moment) are live: they go first, oldest first,
 * as soon as they are committed.  Rows below live_from are the backlog: it
 * drains behind the live rows, within what the window leaves, at most
 * backlog_rate records a second (a token bucket), oldest or newest first.
 * A fleet coming back after a broker outage thus does not flood the broker,
 * and a server sees current data at once.
 *
 * Messages.  batch_max = 1: one record a message, the record's own payload.
 * batch_max > 1: {"v":1,"dev":...,"records":[...]}, up to batch_max
 * records in seq order; a live record waits at most batch_age for company.
 * Events always go alone, on .../event.  compress = yes deflates telemetry
 * (zlib) onto .../telemetry/z.
 *
 * Acknowledgement.  Each publication holds a slot of the in-flight table
 * (inflight.c: why its token is safe against stale callbacks); on PUBACK all
 * of its rows are acknowledged to the store, on failure the cursor that
 * sent them goes back so they are sent again.  A reconnect forgets the whole
 * window and sends every unacknowledged row again: the server drops
 * duplicates by (dev, boot, seq).
 */
#include "gateway/uplink.h"

#include <MQTTAsync.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "gateway/clock.h"
#include "gateway/inflight.h"
#include "gateway/log.h"

#define UPLINK_NOTES	      (2 * INFLIGHT_MAX_SLOTS + 64) /* one note per publication, at most */
#define UPLINK_CMDS	      16	   /* commands waiting for the main thread, at most */
#define UPLINK_FETCH	      128	   /* rows read from the store at once */
#define UPLINK_BUF	      (512 * 1024) /* their payloads */
#define UPLINK_MSG	      (UPLINK_BUF + 256)
#define UPLINK_STATUS_MAX     8192
#define UPLINK_BACKOFF_MIN_MS 500
#define UPLINK_CLOCK_POLL_MS  1000
#define UPLINK_CERT_CHECK_MS  (6 * 3600 * 1000LL)

/* What paho's threads tell the main thread. */
enum uplink_note_type {
	NOTE_CONNECTED,
	NOTE_CONNECT_FAILED,
	NOTE_LOST,
	NOTE_ACK,
	NOTE_NACK,
	NOTE_TLS_ERROR,
};

struct uplink_note {
	enum uplink_note_type type;
	void *token;
	char text[160];
};

enum uplink_state { UP_DOWN, UP_CONNECTING, UP_CONNECTED, UP_WAIT_CLOCK };

static const char *const uplink_state_names[] = {
    [UP_DOWN] = "down",
    [UP_CONNECTING] = "connecting",
    [UP_CONNECTED] = "connected",
    [UP_WAIT_CLOCK] = "waiting_for_clock",
};

enum uplink_lane { LANE_LIVE, LANE_BACKLOG };

struct uplink {
	struct config_mqtt cfg;
	char dev[64];
	struct store *store;
	MQTTAsync client;
	int wake_fd;
	char topic_telemetry[256], topic_telemetry_z[260], topic_event[256], topic_status[256];
	char topic_cmd[256], topic_result[256];
	size_t topic_cmd_len; /* of the prefix ".../cmd/" */
	char password[256];
	enum uplink_state state;
	int v5;
	int64_t now_ms;
	int backoff_ms;
	int64_t retry_at_ms; /* when to connect again (UP_DOWN, UP_WAIT_CLOCK), or -1 */
	char tls_error[160]; /* OpenSSL's words for the last handshake failure */

	/* cursors, reset at every connect */
	uint64_t live_from;
	uint64_t live_cursor; /* highest live seq handed over */
	uint64_t back_cursor; /* oldest first: highest handed over; newest first: lowest */
	int back_done;
	uint64_t rollbacks; /* the store's count when the cursors were last valid */
	double tokens;	    /* backlog records that may go now */
	int64_t tokens_ms;
	int64_t batch_wait_ms; /* a partial live batch waits since, or -1 */
	int64_t wake_at_ms;    /* batch age or rate limit: pump again then, or -1 */

	/* certificates */
	int64_t cert_check_ms;
	int cert_days;	    /* days left of the certificate that expires first */
	char cert_file[64]; /* "client" or "CA" */
	char cert_warning[192];

	char status[UPLINK_STATUS_MAX];
	struct uplink_stats stats;
	atomic_ullong cmds, cmds_deferred, cmds_retained; /* counted on paho's thread */
	struct inflight *inflight;

	pthread_mutex_t lock; /* guards the note and command rings only */
	struct uplink_note notes[UPLINK_NOTES];
	unsigned note_head, note_tail;
	atomic_ullong notes_dropped;
	struct uplink_command cmdq[UPLINK_CMDS];
	unsigned cmd_head, cmd_tail;

	struct store_row rows[UPLINK_FETCH];
	char buf[UPLINK_BUF];
	char msg[UPLINK_MSG];
	unsigned char zmsg[UPLINK_MSG + UPLINK_MSG / 1000 + 64]; /* >= compressBound */
};

/* paho's delivery callbacks carry only one pointer of context, and that
 * is the in-flight token: the uplink they report to is this one (one MQTT
 * uplink per process). */
static struct uplink *uplink_self;

/* ---- paho's threads -------------------------------------------------------- */

static void uplink_wake(struct uplink *u)
{
	uint64_t one = 1;

	if (write(u->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return; /* the loop wakes on its next deadline anyway */
}

/* Any thread: queue a note and wake the main thread.  The ring holds more
 * than the largest window, and each publication gets one note: none is
 * dropped (the count in status would say otherwise). */
static void uplink_note(struct uplink *u, enum uplink_note_type type, void *token, const char *text)
{
	struct uplink_note *n;

	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	if (u->note_head - u->note_tail >= UPLINK_NOTES) {
		u->notes_dropped++;
	} else {
		n = &u->notes[u->note_head++ % UPLINK_NOTES];
		n->type = type;
		n->token = token;
		snprintf(n->text, sizeof(n->text), "%s", text ? text : "");
	}
	pthread_mutex_unlock(&u->lock);
	uplink_wake(u);
}

static void on_connected(void *ctx, char *cause)
{
	(void)cause;
	uplink_note(ctx, NOTE_CONNECTED, NULL, NULL);
}

static void uplink_note_failure(void *ctx, const char *msg, int code)
{
	char text[200]; /* cut to a note's size by uplink_note */

	snprintf(text, sizeof(text), "%s (code %d)", msg ? msg : "connect failed", code);
	uplink_note(ctx, NOTE_CONNECT_FAILED, NULL, text);
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *resp)
{
	uplink_note_failure(ctx, resp ? resp->message : NULL, resp ? resp->code : 0);
}

static void on_connect_failed5(void *ctx, MQTTAsync_failureData5 *resp)
{
	char text[160];

	if (resp && resp->reasonCode != MQTTREASONCODE_SUCCESS) {
		snprintf(text, sizeof(text), "%s: %s", resp->message ? resp->message : "refused",
			 MQTTReasonCode_toString(resp->reasonCode));
		uplink_note_failure(ctx, text, resp->code);
		return;
	}
	uplink_note_failure(ctx, resp ? resp->message : NULL, resp ? resp->code : 0);
}

static void on_lost(void *ctx, char *cause)
{
	uplink_note(ctx, NOTE_LOST, NULL, cause ? cause : "connection lost");
}

static void on_published(void *ctx, MQTTAsync_successData *resp)
{
	(void)resp;
	uplink_note(uplink_self, NOTE_ACK, ctx, NULL);
}

static void on_publish_failed(void *ctx, MQTTAsync_failureData *resp)
{
	(void)resp;
	uplink_note(uplink_self, NOTE_NACK, ctx, NULL);
}

static void on_published5(void *ctx, MQTTAsync_successData5 *resp)
{
	(void)resp;
	uplink_note(uplink_self, NOTE_ACK, ctx, NULL);
}

/* MQTT 5: a PUBACK with a reason code >= 0x80 (quota, not authorised)
 * comes here too: not delivered, send again. */
static void on_publish_failed5(void *ctx, MQTTAsync_failureData5 *resp)
{
	(void)resp;
	uplink_note(uplink_self, NOTE_NACK, ctx, NULL);
}

static int on_tls_error(const char *str, size_t len, void *ctx)
{
	char text[160];

	snprintf(text, sizeof(text), "%.*s", (int)(len < sizeof(text) ? len : sizeof(text) - 1),
		 str);
	text[strcspn(text, "\r\n")] = '\0';
	uplink_note(ctx, NOTE_TLS_ERROR, NULL, text);
	return 0;
}

/* A command: copied off paho's thread into a bounded queue; retained ones
 * are old news and never run.  When the queue is full the message is left
 * with paho (return 0), which offers it again: a burst of commands waits
 * for the main thread instead of being lost. */
static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
	struct uplink *u = ctx;
	size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
	struct uplink_command *c;
	const char *name;
	size_t nlen;

	if (tlen <= u->topic_cmd_len || strncmp(topic, u->topic_cmd, u->topic_cmd_len) != 0)
		goto out;
	name = topic + u->topic_cmd_len;
	nlen = tlen - u->topic_cmd_len;
	pthread_mutex_lock(&u->lock);
	if (msg->retained) {
		u->cmds_retained++;
	} else if (u->cmd_head - u->cmd_tail >= UPLINK_CMDS) {
		u->cmds_deferred++; /* "deferred" in status: paho delivers it again */
		pthread_mutex_unlock(&u->lock);
		uplink_wake(u);
		usleep(10000); /* let the main thread drain before paho retries */
		return 0;
	} else {
		c = &u->cmdq[u->cmd_head++ % UPLINK_CMDS];
		snprintf(c->name, sizeof(c->name), "%.*s", (int)nlen, name);
		if (nlen >= sizeof(c->name))
			c->name[0] = '\0'; /* too long a name: no command has it */
		c->full_len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
		c->len = c->full_len > UPLINK_CMD_MAX ? 0 : c->full_len;
		if (c->len)
			memcpy(c->payload, msg->payload, c->len);
		c->payload[c->len] = '\0';
		u->cmds++;
	}
	pthread_mutex_unlock(&u->lock);
	uplink_wake(u);
out:
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

/* ---- certificates ------------------------------------------------------------ */

/* Days until the certificate(s) in path expire, the soonest; 0 or -1. */
static int uplink_cert_days(const char *path, int *days)
{
	FILE *f = fopen(path, "r");
	X509 *x;
	int found = 0, d, s;

	if (!f)
		return -1;
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (ASN1_TIME_diff(&d, &s, NULL, X509_get0_notAfter(x)) == 1 &&
		    (!found || d < *days)) {
			*days = d;
			found = 1;
		}
		X509_free(x);
	}
	fclose(f);
	return found ? 0 : -1;
}

/* Warn (log and status) cert_warn_days before the client or CA certificate
 * expires; checked at start and every few hours. */
static void uplink_check_certs(struct uplink *u)
{
	const char *files[2] = {u->cfg.cert_file, u->cfg.ca_file};
	const char *names[2] = {"client", "CA"};
	char warning[192] = "";
	int days;

	u->cert_check_ms = u->now_ms + UPLINK_CERT_CHECK_MS;
	u->cert_file[0] = '\0';
	for (int i = 0; i < 2; i++) {
		if (!files[i][0] || uplink_cert_days(files[i], &days) < 0)
			continue;
		if (u->cert_file[0] && days >= u->cert_days)
			continue;
		u->cert_days = days;
		snprintf(u->cert_file, sizeof(u->cert_file), "%s", names[i]);
		if (days < 0)
			snprintf(warning, sizeof(warning), "the %s certificate %s has expired",
				 names[i], files[i]);
		else if (days < u->cfg.cert_warn_days)
			snprintf(warning, sizeof(warning),
				 "the %s certificate %s expires in %d day%s", names[i], files[i],
				 days, days == 1 ? "" : "s");
	}
	if (warning[0] && strcmp(warning, u->cert_warning) != 0)
		log_warnx("mqtt: %s", warning);
	snprintf(u->cert_warning, sizeof(u->cert_warning), "%s", warning);
}

/* ---- connecting --------------------------------------------------------------- */

static int uplink_read_password(struct uplink *u)
{
	FILE *f;
	size_t n;

	if (!u->cfg.password_file[0])
		return 0;
	f = fopen(u->cfg.password_file, "r");
	if (!f) {
		log_warn("mqtt: %s", u->cfg.password_file);
		return -1;
	}
	n = fread(u->password, 1, sizeof(u->password) - 1, f);
	fclose(f);
	u->password[n] = '\0';
	u->password[strcspn(u->password, "\r\n")] = '\0';
	return 0;
}

static void uplink_set_error(struct uplink *u, const char *text)
{
	if (strcmp(u->stats.last_error, text) != 0 || u->state == UP_CONNECTED)
		log_warnx("mqtt: %s:%d: %s", u->cfg.host, u->cfg.port, text);
	snprintf(u->stats.last_error, sizeof(u->stats.last_error), "%s", text);
}

/* Certificates are checked against the system clock: a box without RTC
 * that has no time yet (before NTP or GNSS) would fail every handshake and
 * blame the certificate.  Say what is wrong, and wait for time. */
static int uplink_clock_untrusted(struct uplink *u)
{
	struct clock_now now;

	if (!u->cfg.ca_file[0] || !u->cfg.tls_verify || clock_is_replay())
		return 0;
	clock_now(&now);
	if (now.src != TS_UNSYNCED)
		return 0;
	if (u->state != UP_WAIT_CLOCK)
		uplink_set_error(u, "the clock is not set (no NTP, GNSS or RTC time yet): TLS"
				    " certificates cannot be checked; waiting for time to connect");
	u->state = UP_WAIT_CLOCK;
	u->retry_at_ms = u->now_ms + UPLINK_CLOCK_POLL_MS;
	return 1;
}

static void uplink_tls_options(struct uplink *u, MQTTAsync_SSLOptions *ssl)
{
	ssl->trustStore = u->cfg.ca_file;
	ssl->keyStore = u->cfg.cert_file[0] ? u->cfg.cert_file : NULL;
	ssl->privateKey = u->cfg.key_file[0] ? u->cfg.key_file : NULL;
	ssl->enableServerCertAuth = u->cfg.tls_verify;
	ssl->verify = u->cfg.tls_verify;
	ssl->ssl_error_cb = on_tls_error;
	ssl->ssl_error_context = u;
}

static void uplink_connect(struct uplink *u)
{
	MQTTAsync_connectOptions opts = MQTTAsync_connectOptions_initializer;
	MQTTAsync_connectOptions opts5 = MQTTAsync_connectOptions_initializer5;
	MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	MQTTAsync_connectOptions *o = u->v5 ? &opts5 : &opts;
	int rc;

	if (uplink_clock_untrusted(u))
		return;
	o->keepAliveInterval = u->cfg.keepalive_s;
	o->maxInflight = u->cfg.inflight;
	o->connectTimeout = 10;
	o->context = u;
	if (u->v5)
		o->onFailure5 = on_connect_failed5;
	else
		o->onFailure = on_connect_failed;
	will.topicName = u->topic_status;
	will.message = "{\"state\":\"offline\"}";
	will.retained = 1;
	will.qos = 1;
	o->will = &will;
	if (u->cfg.username[0])
		o->username = u->cfg.username;
	if (u->password[0])
		o->password = u->password;
	if (u->cfg.ca_file[0]) {
		uplink_tls_options(u, &ssl);
		o->ssl = &ssl;
	}
	u->tls_error[0] = '\0';
	u->state = UP_CONNECTING;
	rc = MQTTAsync_connect(u->client, o);
	if (rc != MQTTASYNC_SUCCESS) {
		char text[64];

		snprintf(text, sizeof(text), "connect: %s (code %d)", MQTTAsync_strerror(rc), rc);
		uplink_set_error(u, text);
		u->state = UP_DOWN;
		u->retry_at_ms = u->now_ms + u->backoff_ms;
	}
}

static int uplink_topics(struct uplink *u, const char *prefix, const char *dev)
{
	size_t n = 0;

	n |= (size_t)snprintf(u->topic_telemetry, sizeof(u->topic_telemetry), "%s/%s/telemetry",
			      prefix, dev) >= sizeof(u->topic_telemetry);
	n |= (size_t)snprintf(u->topic_telemetry_z, sizeof(u->topic_telemetry_z), "%s/z",
			      u->topic_telemetry) >= sizeof(u->topic_telemetry_z);
	n |= (size_t)snprintf(u->topic_event, sizeof(u->topic_event), "%s/%s/event", prefix, dev) >=
	     sizeof(u->topic_event);
	n |= (size_t)snprintf(u->topic_status, sizeof(u->topic_status), "%s/%s/status", prefix,
			      dev) >= sizeof(u->topic_status);
	n |= (size_t)snprintf(u->topic_cmd, sizeof(u->topic_cmd), "%s/%s/cmd/", prefix, dev) >=
	     sizeof(u->topic_cmd) - 1;
	n |= (size_t)snprintf(u->topic_result, sizeof(u->topic_result), "%s/%s/cmd-result/", prefix,
			      dev) >= sizeof(u->topic_result) - UPLINK_CMD_NAME;
	u->topic_cmd_len = strlen(u->topic_cmd);
	if (n)
		log_warnx("mqtt: topic prefix %s/%s too long", prefix, dev);
	return n ? -1 : 0;
}

static int uplink_create(struct uplink *u)
{
	MQTTAsync_createOptions copts = MQTTAsync_createOptions_initializer;
	char uri[512];
	int rc;

	snprintf(uri, sizeof(uri), "%s://%s:%d", u->cfg.ca_file[0] ? "ssl" : "tcp", u->cfg.host,
		 u->cfg.port);
	copts.sendWhileDisconnected = 0;
	copts.maxBufferedMessages = u->cfg.inflight + 8;
	copts.MQTTVersion = u->v5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
	rc = MQTTAsync_createWithOptions(&u->client, uri, u->cfg.client_id,
					 MQTTCLIENT_PERSISTENCE_NONE, NULL, &copts);
	if (rc != MQTTASYNC_SUCCESS) {
		log_warnx("mqtt: cannot create client for %s: %s", uri, MQTTAsync_strerror(rc));
		return -1;
	}
	MQTTAsync_setCallbacks(u->client, u, on_lost, on_message, NULL);
	MQTTAsync_setConnected(u->client, u, on_connected);
	log_info("mqtt: connecting to %s as %s (MQTT %s)", uri, u->cfg.client_id,
		 u->v5 ? "5" : "3.1.1");
	return 0;
}

/* Files paho reads at every connect: say now, plainly, if one is missing. */
static void uplink_check_files(const struct uplink *u)
{
	const char *files[3] = {u->cfg.ca_file, u->cfg.cert_file, u->cfg.key_file};

	for (int i = 0; i < 3; i++)
		if (files[i][0] && access(files[i], R_OK) < 0)
			log_warn("mqtt: %s", files[i]);
}

struct uplink *uplink_open(const struct config_mqtt *cfg, const char *dev, struct store *store,
			   int wake_fd)
{
	struct uplink *u;

	u = calloc(1, sizeof(*u));
	if (!u) {
		log_warn("mqtt");
		return NULL;
	}
	u->cfg = *cfg;
	u->v5 = cfg->version == 5;
	snprintf(u->dev, sizeof(u->dev), "%s", dev);
	u->store = store;
	u->wake_fd = wake_fd;
	u->backoff_ms = UPLINK_BACKOFF_MIN_MS;
	u->retry_at_ms = -1;
	u->wake_at_ms = -1;
	u->batch_wait_ms = -1;
	u->stats.last_ack_mono_ms = -1;
	pthread_mutex_init(&u->lock, NULL);
	u->inflight = inflight_new(cfg->inflight, cfg->batch_max);
	if (!u->inflight) {
		log_warnx("mqtt: out of memory for the in-flight table");
		goto out_free;
	}
	if (uplink_topics(u, cfg->prefix, dev) < 0 || uplink_read_password(u) < 0)
		goto out_free;
	uplink_check_files(u);
	if (uplink_create(u) < 0)
		goto out_free;
	uplink_self = u;
	u->now_ms = clock_real_ms();
	uplink_check_certs(u);
	uplink_connect(u);
	return u;
out_free:
	inflight_free(u->inflight);
	pthread_mutex_destroy(&u->lock);
	free(u);
	return NULL;
}

static void uplink_publish_status(struct uplink *u)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

	if (u->state != UP_CONNECTED || !u->status[0])
		return;
	MQTTAsync_send(u->client, u->topic_status, (int)strlen(u->status), u->status, 1, 1, &ro);
}

void uplink_close(struct uplink *u)
{
	MQTTAsync_disconnectOptions dopts = MQTTAsync_disconnectOptions_initializer;
	MQTTAsync_disconnectOptions dopts5 = MQTTAsync_disconnectOptions_initializer5;

	if (!u)
		return;
	if (u->state == UP_CONNECTED) {
		snprintf(u->status, sizeof(u->status), "{\"state\":\"offline\"}");
		uplink_publish_status(u);
		dopts.timeout = dopts5.timeout = 1000;
		MQTTAsync_disconnect(u->client, u->v5 ? &dopts5 : &dopts);
		/* Give the disconnect (and the offline status) a moment to leave. */
		for (int i = 0; i < 20 && MQTTAsync_isConnected(u->client); i++)
			usleep(50000);
	}
	MQTTAsync_destroy(&u->client);
	if (uplink_self == u)
		uplink_self = NULL;
	inflight_free(u->inflight);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

/* Capped exponential back-off with jitter, so a fleet does not reconnect in
 * step after a broker restart.  It never gives up. */
static void uplink_schedule_retry(struct uplink *u)
{
	int cap = u->cfg.reconnect_max_s * 1000;
	int jitter = u->backoff_ms / 4 > 0 ? rand() % (u->backoff_ms / 4 + 1) : 0;

	u->state = UP_DOWN;
	u->retry_at_ms = u->now_ms + u->backoff_ms + jitter;
	u->backoff_ms = u->backoff_ms * 2 > cap ? cap : u->backoff_ms * 2;
}

/* ---- the main thread's side of paho's notes ------------------------------------- */

/* A fresh session: whatever was in flight may be lost, so every
 * unacknowledged row is sent again; the rows made from now on are live. */
static void uplink_session_start(struct uplink *u)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	char filter[260];

	inflight_reset(u->inflight);
	/* Rows appended but not yet committed are live, not backlog: the
	 * backlog pump, which reads committed rows only, would otherwise
	 * find them missing, call the backlog done, and leave them behind. */
	u->live_from = store_committed_max(u->store) + 1;
	u->live_cursor = u->live_from - 1;
	u->back_cursor = u->cfg.backlog_newest ? u->live_from : 0;
	u->back_done = 0;
	u->rollbacks = store_rollbacks(u->store);
	u->tokens = 0;
	u->tokens_ms = u->now_ms;
	u->batch_wait_ms = -1;
	snprintf(filter, sizeof(filter), "%s+", u->topic_cmd);
	if (MQTTAsync_subscribe(u->client, filter, 1, &ro) != MQTTASYNC_SUCCESS)
		log_warnx("mqtt: cannot subscribe to %s", filter);
}

static void uplink_connected(struct uplink *u)
{
	log_notice("mqtt: connected to %s:%d", u->cfg.host, u->cfg.port);
	u->state = UP_CONNECTED;
	u->stats.connects++;
	u->stats.last_error[0] = '\0';
	u->backoff_ms = UPLINK_BACKOFF_MIN_MS;
	uplink_session_start(u);
	uplink_publish_status(u);
}

static void uplink_failed(struct uplink *u, const char *text)
{
	char buf[sizeof(u->stats.last_error)];

	if (u->tls_error[0])
		snprintf(buf, sizeof(buf), "TLS handshake failed: %s", u->tls_error);
	else
		snprintf(buf, sizeof(buf), "%s", text);
	uplink_set_error(u, buf);
	inflight_reset(u->inflight);
	uplink_schedule_retry(u);
}

static void uplink_acked(struct uplink *u, void *token)
{
	int slot = inflight_resolve(u->inflight, token), n;
	const uint64_t *seqs;

	if (slot < 0)
		return; /* a publication of an earlier session: its rows go again */
	seqs = inflight_rows(u->inflight, slot, &n);
	for (int i = 0; i < n; i++)
		if (store_ack(u->store, UPLINK_MQTT, seqs[i]) == 0)
			u->stats.acked++;
	u->stats.last_ack_mono_ms = u->now_ms;
	inflight_release(u->inflight, slot);
}

/* Not delivered: move the cursor that sent these rows back over them. */
static void uplink_nacked(struct uplink *u, void *token)
{
	int slot = inflight_resolve(u->inflight, token), n;
	const uint64_t *seqs;

	if (slot < 0)
		return;
	u->stats.failed++;
	seqs = inflight_rows(u->inflight, slot, &n);
	for (int i = 0; i < n; i++) {
		uint64_t s = seqs[i];

		if (inflight_tag(u->inflight, slot) == LANE_LIVE) {
			if (s <= u->live_cursor)
				u->live_cursor = s - 1;
		} else if (u->cfg.backlog_newest) {
			if (s >= u->back_cursor)
				u->back_cursor = s + 1;
			u->back_done = 0;
		} else {
			if (s <= u->back_cursor)
				u->back_cursor = s - 1;
			u->back_done = 0;
		}
	}
	inflight_release(u->inflight, slot);
}

static void uplink_handle(struct uplink *u, const struct uplink_note *n)
{
	switch (n->type) {
	case NOTE_CONNECTED:
		uplink_connected(u);
		break;
	case NOTE_CONNECT_FAILED:
	case NOTE_LOST:
		uplink_failed(u, n->text);
		break;
	case NOTE_TLS_ERROR:
		snprintf(u->tls_error, sizeof(u->tls_error), "%s", n->text);
		break;
	case NOTE_ACK:
		uplink_acked(u, n->token);
		break;
	case NOTE_NACK:
		uplink_nacked(u, n->token);
		break;
	}
}

static void uplink_drain_notes(struct uplink *u)
{
	struct uplink_note n;

	for (;;) {
		pthread_mutex_lock(&u->lock);
		if (u->note_tail == u->note_head) {
			pthread_mutex_unlock(&u->lock);
			return;
		}
		n = u->notes[u->note_tail++ % UPLINK_NOTES];
		pthread_mutex_unlock(&u->lock);
		uplink_handle(u, &n);
	}
}

/* ---- publishing ------------------------------------------------------------------ */

/* Bytes of a PUBLISH packet: fixed header, remaining length, topic, packet
 * id (QoS 1), properties length (MQTT 5), payload. */
static uint64_t uplink_wire_bytes(const struct uplink *u, size_t topic_len, size_t len)
{
	size_t rem = 2 + topic_len + (u->cfg.qos ? 2 : 0) + (u->v5 ? 1 : 0) + len;
	size_t hdr = 2;

	for (size_t r = rem; r >= 128; r /= 128)
		hdr++;
	return hdr + rem;
}

/* The payload of rows[i..j): one row as it is, or a batch in seq order
 * (rows are in fetch order: descending when desc).  Length, or 0 when the
 * batch does not fit (cannot happen: the buffer holds every fetched row). */
static size_t uplink_payload(struct uplink *u, const struct store_row *rows, int i, int j, int desc,
			     const char **out)
{
	size_t len, cap = sizeof(u->msg);
	int n;

	if (j - i == 1 && (rows[i].kind == STORE_EVENT || u->cfg.batch_max == 1)) {
		*out = rows[i].payload;
		return rows[i].len;
	}
	n = snprintf(u->msg, cap, "{\"v\":1,\"dev\":\"%s\",\"records\":[", u->dev);
	len = (size_t)n;
	for (int k = 0; k < j - i; k++) {
		const struct store_row *r = &rows[desc ? j - 1 - k : i + k];

		if (len + r->len + 4 > cap)
			return 0;
		if (k)
			u->msg[len++] = ',';
		memcpy(u->msg + len, r->payload, r->len);
		len += r->len;
	}
	memcpy(u->msg + len, "]}", 3);
	*out = u->msg;
	return len + 2;
}

static int uplink_send(struct uplink *u, const char *topic, const void *p, size_t len, int slot)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	int rc;

	if (u->v5) {
		ro.onSuccess5 = on_published5;
		ro.onFailure5 = on_publish_failed5;
	} else {
		ro.onSuccess = on_published;
		ro.onFailure = on_publish_failed;
	}
	ro.context = inflight_token(u->inflight, slot);
	rc = MQTTAsync_send(u->client, topic, (int)len, p, u->cfg.qos, 0, &ro);
	if (rc != MQTTASYNC_SUCCESS)
		return -1;
	u->stats.published++;
	u->stats.bytes += len;
	u->stats.wire_bytes += uplink_wire_bytes(u, strlen(topic), len);
	return 0;
}

/* One message of rows[i..j) (one event, or records); 0 or -1. */
static int uplink_publish(struct uplink *u, const struct store_row *rows, int i, int j, int desc,
			  enum uplink_lane lane)
{
	const char *topic = rows[i].kind == STORE_EVENT ? u->topic_event : u->topic_telemetry;
	const char *p;
	size_t len = uplink_payload(u, rows, i, j, desc, &p);
	uLongf zlen = sizeof(u->zmsg);
	int slot;

	if (len == 0)
		return -1;
	if (u->cfg.compress && rows[i].kind != STORE_EVENT) {
		if (compress2(u->zmsg, &zlen, (const Bytef *)p, len, Z_DEFAULT_COMPRESSION) != Z_OK)
			return -1;
		p = (const char *)u->zmsg;
		len = zlen;
		topic = u->topic_telemetry_z;
	}
	slot = inflight_take(u->inflight, lane);
	if (slot < 0)
		return -1;
	for (int k = i; k < j; k++)
		inflight_add(u->inflight, slot, rows[k].seq);
	if (uplink_send(u, topic, p, len, slot) < 0) {
		inflight_release(u->inflight, slot);
		return -1;
	}
	u->stats.records += (uint64_t)(j - i);
	if (u->cfg.qos == 0) {
		/* No PUBACK will come: handing it over is all QoS 0 promises. */
		uplink_acked(u, inflight_token(u->inflight, slot));
	}
	return 0;
}

/*
 * Publish rows[0..n) in order, an event alone, records up to batch_max
 * together, at most max_records records, while the window has room.  A
 * last, short batch waits (is not sent) unless partial_ok.  Returns the
 * rows consumed, or -1 when paho refused the first message.
 */
static int uplink_send_rows(struct uplink *u, const struct store_row *rows, int n, int desc,
			    enum uplink_lane lane, int max_records, int partial_ok)
{
	int i = 0, sent = 0;

	while (i < n && inflight_used(u->inflight) < inflight_slots(u->inflight)) {
		int j = i + 1, cap = u->cfg.batch_max;

		if (rows[i].kind != STORE_EVENT) {
			if (max_records - sent < cap)
				cap = max_records - sent;
			if (cap <= 0)
				break;
			while (j < n && j - i < cap && rows[j].kind != STORE_EVENT)
				j++;
			if (j == n && j - i < u->cfg.batch_max && !partial_ok)
				break;
			sent += j - i;
		}
		if (uplink_publish(u, rows, i, j, desc, lane) < 0)
			return i > 0 ? i : -1;
		i = j;
	}
	return i;
}

static void uplink_wake_at(struct uplink *u, int64_t at)
{
	if (u->wake_at_ms < 0 || at < u->wake_at_ms)
		u->wake_at_ms = at;
}

/* Live rows: all of them, oldest first; a short batch waits batch_age for
 * company.  1 when more may follow. */
static int uplink_pump_live(struct uplink *u)
{
	int n, used, partial_ok;

	n = store_fetch(u->store, UPLINK_MQTT, u->live_cursor, u->rows, UPLINK_FETCH, u->buf,
			sizeof(u->buf));
	if (n <= 0)
		return 0;
	partial_ok = u->cfg.batch_max == 1 || n == UPLINK_FETCH || u->cfg.batch_age_ms == 0 ||
		     (u->batch_wait_ms >= 0 && u->now_ms - u->batch_wait_ms >= u->cfg.batch_age_ms);
	used = uplink_send_rows(u, u->rows, n, 0, LANE_LIVE, INT32_MAX, partial_ok);
	if (used > 0)
		u->live_cursor = u->rows[used - 1].seq;
	if (used == n) {
		u->batch_wait_ms = -1;
		return 1;
	}
	if (used >= 0 && inflight_used(u->inflight) < inflight_slots(u->inflight)) {
		if (u->batch_wait_ms < 0)
			u->batch_wait_ms = u->now_ms;
		uplink_wake_at(u, u->batch_wait_ms + u->cfg.batch_age_ms);
	}
	return 0;
}

/* Backlog records that may go now (a token bucket, a second's burst). */
static int uplink_backlog_allowance(struct uplink *u)
{
	double burst;

	if (u->cfg.backlog_rate <= 0)
		return INT32_MAX;
	burst = u->cfg.backlog_rate > u->cfg.batch_max ? u->cfg.backlog_rate : u->cfg.batch_max;
	u->tokens += (double)(u->now_ms - u->tokens_ms) * u->cfg.backlog_rate / 1000.0;
	if (u->tokens > burst)
		u->tokens = burst;
	u->tokens_ms = u->now_ms;
	return (int)u->tokens;
}

/* The backlog, behind the live rows, at backlog_rate. */
static int uplink_pump_backlog(struct uplink *u)
{
	int desc = u->cfg.backlog_newest, n, used, allow, want;

	if (u->back_done)
		return 0;
	allow = uplink_backlog_allowance(u);
	want = u->cfg.batch_max;
	if (u->cfg.backlog_rate > 0 && u->cfg.backlog_rate < want)
		want = u->cfg.backlog_rate;
	if (allow < want) {
		uplink_wake_at(u, u->now_ms + 1 +
				      (int64_t)((want - u->tokens) * 1000.0 / u->cfg.backlog_rate));
		return 0;
	}
	if (desc)
		n = store_fetch_desc(u->store, UPLINK_MQTT, u->back_cursor, u->rows, UPLINK_FETCH,
				     u->buf, sizeof(u->buf));
	else
		n = store_fetch(u->store, UPLINK_MQTT, u->back_cursor, u->rows, UPLINK_FETCH,
				u->buf, sizeof(u->buf));
	/* Ascending, the backlog ends where the live rows begin. */
	while (n > 0 && u->rows[n - 1].seq >= u->live_from)
		n--;
	if (n <= 0) {
		u->back_done = n == 0;
		return 0;
	}
	/* A short batch at the end of a full fetch waits for the next fetch,
	 * which starts with it: backlog batches stay full. */
	used = uplink_send_rows(u, u->rows, n, desc, LANE_BACKLOG, allow, n < UPLINK_FETCH);
	if (used <= 0)
		return 0;
	for (int i = 0; i < used; i++)
		if (u->rows[i].kind != STORE_EVENT && u->cfg.backlog_rate > 0)
			u->tokens -= 1;
	u->back_cursor = u->rows[used - 1].seq;
	return 1;
}

/* The store rolled back a transaction (disk full): acknowledgements in it
 * are undone, so rows behind the cursors are unacknowledged again.  Go
 * back over them (the server drops the duplicates). */
static void uplink_check_rollback(struct uplink *u)
{
	if (store_rollbacks(u->store) == u->rollbacks)
		return;
	u->rollbacks = store_rollbacks(u->store);
	u->live_cursor = u->live_from - 1;
	u->back_cursor = u->cfg.backlog_newest ? u->live_from : 0;
	u->back_done = 0;
}

/* Hand paho what the store has, live rows first, within the window. */
static void uplink_pump(struct uplink *u)
{
	u->wake_at_ms = -1;
	uplink_check_rollback(u);
	while (u->state == UP_CONNECTED &&
	       inflight_used(u->inflight) < inflight_slots(u->inflight) && uplink_pump_live(u))
		;
	while (u->state == UP_CONNECTED &&
	       inflight_used(u->inflight) < inflight_slots(u->inflight) && uplink_pump_backlog(u))
		;
}

/* ---- the rest of the interface ------------------------------------------------------- */

void uplink_process(struct uplink *u, int64_t now_ms)
{
	u->now_ms = now_ms;
	uplink_drain_notes(u);
	if ((u->state == UP_DOWN || u->state == UP_WAIT_CLOCK) && u->retry_at_ms >= 0 &&
	    now_ms >= u->retry_at_ms) {
		u->retry_at_ms = -1;
		uplink_connect(u);
	}
	if (now_ms >= u->cert_check_ms)
		uplink_check_certs(u);
	uplink_pump(u);
}

int64_t uplink_deadline(const struct uplink *u)
{
	int64_t d = u->cert_check_ms;

	if ((u->state == UP_DOWN || u->state == UP_WAIT_CLOCK) && u->retry_at_ms >= 0 &&
	    u->retry_at_ms < d)
		d = u->retry_at_ms;
	if (u->state == UP_CONNECTED && u->wake_at_ms >= 0 && u->wake_at_ms < d)
		d = u->wake_at_ms;
	return d;
}

int uplink_wants_rows(const struct uplink *u)
{
	return u && u->state == UP_CONNECTED &&
	       inflight_used(u->inflight) < inflight_slots(u->inflight);
}

void uplink_set_status(struct uplink *u, const char *json)
{
	snprintf(u->status, sizeof(u->status), "%s", json);
	uplink_publish_status(u);
}

int uplink_next_command(struct uplink *u, struct uplink_command *cmd)
{
	int got = 0;

	pthread_mutex_lock(&u->lock);
	if (u->cmd_tail != u->cmd_head) {
		*cmd = u->cmdq[u->cmd_tail++ % UPLINK_CMDS];
		got = 1;
	}
	pthread_mutex_unlock(&u->lock);
	return got;
}

int uplink_answer(struct uplink *u, const char *id, const char *json)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	char topic[sizeof(u->topic_result) + UPLINK_CMD_NAME];

	if (u->state != UP_CONNECTED)
		return -1;
	snprintf(topic, sizeof(topic), "%s%s", u->topic_result, id);
	return MQTTAsync_send(u->client, topic, (int)strlen(json), json, 1, 0, &ro) ==
		       MQTTASYNC_SUCCESS
		   ? 0
		   : -1;
}

void uplink_stats(const struct uplink *u, struct uplink_stats *st)
{
	*st = u->stats;
	st->connected = u->state == UP_CONNECTED;
}

json_t *uplink_status_json(const struct uplink *u, const struct store_stats *ss,
			   int64_t now_wall_ms)
{
	json_t *o = json_pack(
	    "{s:b, s:b, s:s, s:s, s:i, s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i,"
	    " s:b, s:i, s:s, s:I, s:s}",
	    "enabled", 1, "connected", u->state == UP_CONNECTED, "state",
	    uplink_state_names[u->state], "broker", u->cfg.host, "port", u->cfg.port, "mqtt",
	    u->v5 ? "5" : "3.1.1", "tls", u->cfg.ca_file[0] != '\0', "mutual_tls",
	    u->cfg.cert_file[0] != '\0', "connects", (json_int_t)u->stats.connects, "published",
	    (json_int_t)u->stats.published, "records", (json_int_t)u->stats.records, "acked",
	    (json_int_t)u->stats.acked, "failed", (json_int_t)u->stats.failed, "wire_bytes",
	    (json_int_t)u->stats.wire_bytes, "inflight", inflight_used(u->inflight), "batch_max",
	    u->cfg.batch_max, "compress", u->cfg.compress, "backlog_rate", u->cfg.backlog_rate,
	    "backlog_order", u->cfg.backlog_newest ? "newest" : "oldest", "notes_dropped",
	    (json_int_t)u->notes_dropped, "last_error", u->stats.last_error);

	if (!o)
		return NULL;
	json_object_set_new(o, "backlog_rows", json_integer(ss ? ss->rows : 0));
	json_object_set_new(o, "backlog_age_s",
			    ss && ss->oldest_wall_ms && now_wall_ms
				? json_real((double)(now_wall_ms - ss->oldest_wall_ms) / 1000.0)
				: json_null());
	json_object_set_new(o, "commands",
			    json_pack("{s:I, s:I, s:I}", "received", (json_int_t)u->cmds,
				      "deferred", (json_int_t)u->cmds_deferred, "retained_ignored",
				      (json_int_t)u->cmds_retained));
	if (u->cert_file[0])
		json_object_set_new(o, "cert",
				    json_pack("{s:s, s:i, s:s?}", "soonest", u->cert_file,
					      "expires_in_days", u->cert_days, "warning",
					      u->cert_warning[0] ? u->cert_warning : NULL));
	return o;
}
