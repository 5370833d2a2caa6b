#include "gateway/uplink.h"

#include <MQTTAsync.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/log.h"

#define UPLINK_NOTES 1024        /* > the largest in-flight window + control notes */
#define UPLINK_FETCH 64          /* rows read from the store at once */
#define UPLINK_BUF (256 * 1024)  /* their payloads */
#define UPLINK_STATUS_MAX 4096
#define UPLINK_BACKOFF_MIN_MS 500

/* What paho's threads tell the main thread. */
enum uplink_note_type { NOTE_CONNECTED, NOTE_CONNECT_FAILED, NOTE_LOST, NOTE_ACK, NOTE_NACK };

struct uplink_note {
	enum uplink_note_type type;
	uint64_t seq;
	char text[96];
};

enum uplink_state { UP_DOWN, UP_CONNECTING, UP_CONNECTED };

struct uplink {
	struct config_mqtt cfg;
	struct store *store;
	MQTTAsync client;
	int wake_fd;
	char topic_telemetry[256], topic_event[256], topic_status[256];
	char password[256];
	enum uplink_state state;
	uint64_t cursor;          /* highest seq handed to paho on this connection */
	int inflight;
	int backoff_ms;
	int64_t retry_at_ms;      /* when to connect again (UP_DOWN), or -1 */
	int64_t now_ms;
	char status[UPLINK_STATUS_MAX];
	struct uplink_stats stats;

	pthread_mutex_t lock;     /* guards the note ring only */
	struct uplink_note notes[UPLINK_NOTES];
	unsigned note_head, note_tail;
	int notes_dropped;

	struct store_row rows[UPLINK_FETCH];
	char buf[UPLINK_BUF];
};

/* paho's delivery callbacks carry only one pointer of context: the row's seq
 * travels in it, so the uplink they report to is this one (one MQTT uplink
 * per process). */
static struct uplink *uplink_self;

/* Any thread: queue a note and wake the main thread. */
static void uplink_note(struct uplink *u, enum uplink_note_type type, uint64_t seq,
			const char *text)
{
	uint64_t one = 1;
	struct uplink_note *n;

	pthread_mutex_lock(&u->lock);
	if (u->note_head - u->note_tail >= UPLINK_NOTES) {
		u->notes_dropped++;
	} else {
		n = &u->notes[u->note_head++ % UPLINK_NOTES];
		n->type = type;
		n->seq = seq;
		snprintf(n->text, sizeof(n->text), "%s", text ? text : "");
	}
	pthread_mutex_unlock(&u->lock);
	if (write(u->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return; /* the loop wakes on its next deadline anyway */
}

static void on_connected(void *ctx, char *cause)
{
	(void)cause;
	uplink_note(ctx, NOTE_CONNECTED, 0, NULL);
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *resp)
{
	char text[96];

	snprintf(text, sizeof(text), "%s (code %d)",
		 resp && resp->message ? resp->message : "connect failed", resp ? resp->code : 0);
	uplink_note(ctx, NOTE_CONNECT_FAILED, 0, text);
}

static void on_lost(void *ctx, char *cause)
{
	uplink_note(ctx, NOTE_LOST, 0, cause ? cause : "connection lost");
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
	(void)ctx;
	(void)topic_len;
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

static void on_published(void *ctx, MQTTAsync_successData *resp)
{
	(void)resp;
	uplink_note(uplink_self, NOTE_ACK, (uint64_t)(uintptr_t)ctx, NULL);
}

static void on_publish_failed(void *ctx, MQTTAsync_failureData *resp)
{
	(void)resp;
	uplink_note(uplink_self, NOTE_NACK, (uint64_t)(uintptr_t)ctx, NULL);
}

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

static void uplink_connect(struct uplink *u)
{
	MQTTAsync_connectOptions opts = MQTTAsync_connectOptions_initializer;
	MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	int rc;

	opts.keepAliveInterval = u->cfg.keepalive_s;
	opts.cleansession = 1;
	opts.maxInflight = u->cfg.inflight;
	opts.connectTimeout = 10;
	opts.onFailure = on_connect_failed;
	opts.context = u;
	will.topicName = u->topic_status;
	will.message = "{\"state\":\"offline\"}";
	will.retained = 1;
	will.qos = 1;
	opts.will = &will;
	if (u->cfg.username[0])
		opts.username = u->cfg.username;
	if (u->password[0])
		opts.password = u->password;
	if (u->cfg.ca_file[0]) {
		ssl.trustStore = u->cfg.ca_file;
		ssl.keyStore = u->cfg.cert_file[0] ? u->cfg.cert_file : NULL;
		ssl.privateKey = u->cfg.key_file[0] ? u->cfg.key_file : NULL;
		ssl.enableServerCertAuth = u->cfg.tls_verify;
		ssl.verify = u->cfg.tls_verify;
		opts.ssl = &ssl;
	}
	u->state = UP_CONNECTING;
	rc = MQTTAsync_connect(u->client, &opts);
	if (rc != MQTTASYNC_SUCCESS) {
		snprintf(u->stats.last_error, sizeof(u->stats.last_error), "connect: code %d", rc);
		u->state = UP_DOWN;
		u->retry_at_ms = u->now_ms + u->backoff_ms;
	}
}

struct uplink *uplink_open(const struct config_mqtt *cfg, const char *dev, struct store *store,
			   int wake_fd)
{
	MQTTAsync_createOptions copts = MQTTAsync_createOptions_initializer;
	struct uplink *u;
	char uri[512];
	int rc;

	u = calloc(1, sizeof(*u));
	if (!u) {
		log_warn("mqtt");
		return NULL;
	}
	u->cfg = *cfg;
	u->store = store;
	u->wake_fd = wake_fd;
	u->backoff_ms = UPLINK_BACKOFF_MIN_MS;
	u->retry_at_ms = -1;
	u->stats.last_ack_mono_ms = -1;
	pthread_mutex_init(&u->lock, NULL);
	snprintf(u->topic_telemetry, sizeof(u->topic_telemetry), "%s/%s/telemetry", cfg->prefix, dev);
	snprintf(u->topic_event, sizeof(u->topic_event), "%s/%s/event", cfg->prefix, dev);
	snprintf(u->topic_status, sizeof(u->topic_status), "%s/%s/status", cfg->prefix, dev);
	if (uplink_read_password(u) < 0)
		goto out_free;
	snprintf(uri, sizeof(uri), "%s://%s:%d", cfg->ca_file[0] ? "ssl" : "tcp", cfg->host,
		 cfg->port);
	copts.sendWhileDisconnected = 0;
	copts.maxBufferedMessages = cfg->inflight + 8;
	copts.MQTTVersion = MQTTVERSION_3_1_1;
	rc = MQTTAsync_createWithOptions(&u->client, uri, cfg->client_id,
					 MQTTCLIENT_PERSISTENCE_NONE, NULL, &copts);
	if (rc != MQTTASYNC_SUCCESS) {
		log_warnx("mqtt: cannot create client for %s: code %d", uri, rc);
		goto out_free;
	}
	MQTTAsync_setCallbacks(u->client, u, on_lost, on_message, NULL);
	MQTTAsync_setConnected(u->client, u, on_connected);
	uplink_self = u;
	log_info("mqtt: connecting to %s as %s", uri, cfg->client_id);
	uplink_connect(u);
	return u;
out_free:
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

	if (!u)
		return;
	if (u->state == UP_CONNECTED) {
		snprintf(u->status, sizeof(u->status), "{\"state\":\"offline\"}");
		uplink_publish_status(u);
		dopts.timeout = 1000;
		MQTTAsync_disconnect(u->client, &dopts);
		/* Give the disconnect (and the offline status) a moment to leave. */
		for (int i = 0; i < 20 && MQTTAsync_isConnected(u->client); i++)
			usleep(50000);
	}
	MQTTAsync_destroy(&u->client);
	if (uplink_self == u)
		uplink_self = NULL;
	pthread_mutex_destroy(&u->lock);
	free(u);
}

/* Capped exponential back-off with jitter, so a fleet does not reconnect in
 * step after a broker restart. */
static void uplink_schedule_retry(struct uplink *u)
{
	int cap = u->cfg.reconnect_max_s * 1000;
	int jitter = u->backoff_ms / 4 > 0 ? rand() % (u->backoff_ms / 4 + 1) : 0;

	u->state = UP_DOWN;
	u->retry_at_ms = u->now_ms + u->backoff_ms + jitter;
	u->backoff_ms = u->backoff_ms * 2 > cap ? cap : u->backoff_ms * 2;
}

static void uplink_handle(struct uplink *u, const struct uplink_note *n)
{
	switch (n->type) {
	case NOTE_CONNECTED:
		log_notice("mqtt: connected to %s:%d", u->cfg.host, u->cfg.port);
		u->state = UP_CONNECTED;
		u->stats.connects++;
		u->backoff_ms = UPLINK_BACKOFF_MIN_MS;
		/* Whatever was in flight on the old session may be lost: send
		 * every unacknowledged row again (the server drops duplicates
		 * by boot+seq). */
		u->cursor = 0;
		u->inflight = 0;
		uplink_publish_status(u);
		break;
	case NOTE_CONNECT_FAILED:
	case NOTE_LOST:
		if (strcmp(u->stats.last_error, n->text) != 0 || u->state == UP_CONNECTED)
			log_warnx("mqtt: %s:%d: %s", u->cfg.host, u->cfg.port, n->text);
		snprintf(u->stats.last_error, sizeof(u->stats.last_error), "%s", n->text);
		uplink_schedule_retry(u);
		break;
	case NOTE_ACK:
		if (store_ack(u->store, UPLINK_MQTT, n->seq) == 0)
			u->stats.acked++;
		u->stats.last_ack_mono_ms = u->now_ms;
		if (u->inflight > 0)
			u->inflight--;
		break;
	case NOTE_NACK:
		u->stats.failed++;
		if (u->inflight > 0)
			u->inflight--;
		/* Fetch it again on the next pump. */
		if (n->seq <= u->cursor)
			u->cursor = n->seq - 1;
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

static int uplink_publish_row(struct uplink *u, const struct store_row *row)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	const char *topic = row->kind == STORE_EVENT ? u->topic_event : u->topic_telemetry;
	int rc;

	ro.onSuccess = on_published;
	ro.onFailure = on_publish_failed;
	ro.context = (void *)(uintptr_t)row->seq;
	rc = MQTTAsync_send(u->client, topic, (int)row->len, row->payload, u->cfg.qos, 0, &ro);
	if (rc != MQTTASYNC_SUCCESS)
		return -1;
	u->stats.published++;
	if (u->cfg.qos == 0) {
		/* No PUBACK will come: handing it over is all QoS 0 promises. */
		store_ack(u->store, UPLINK_MQTT, row->seq);
		return 0;
	}
	u->inflight++;
	return 0;
}

/* Hand paho what the store has, oldest first, within the in-flight window. */
static void uplink_pump(struct uplink *u)
{
	while (u->state == UP_CONNECTED && u->inflight < u->cfg.inflight) {
		int want = u->cfg.inflight - u->inflight;
		int n = store_fetch(u->store, UPLINK_MQTT, u->cursor, u->rows,
				    want < UPLINK_FETCH ? want : UPLINK_FETCH, u->buf, sizeof(u->buf));

		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			if (uplink_publish_row(u, &u->rows[i]) < 0)
				return;
			u->cursor = u->rows[i].seq;
		}
	}
}

void uplink_process(struct uplink *u, int64_t now_ms)
{
	u->now_ms = now_ms;
	uplink_drain_notes(u);
	if (u->state == UP_DOWN && u->retry_at_ms >= 0 && now_ms >= u->retry_at_ms) {
		u->retry_at_ms = -1;
		uplink_connect(u);
	}
	uplink_pump(u);
}

int64_t uplink_deadline(const struct uplink *u)
{
	return u->state == UP_DOWN ? u->retry_at_ms : -1;
}

void uplink_set_status(struct uplink *u, const char *json)
{
	snprintf(u->status, sizeof(u->status), "%s", json);
	uplink_publish_status(u);
}

void uplink_stats(const struct uplink *u, struct uplink_stats *st)
{
	*st = u->stats;
	st->connected = u->state == UP_CONNECTED;
}

int uplink_inflight(const struct uplink *u)
{
	return u->inflight;
}
