/* mqtt: the MQTT uplink.
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
 * Events go alone, on .../event, but for the seal chain's own rows (seal,
 * evicted): with batch_max > 1 they travel in the telemetry batches among
 * the records they prove, besides the batch_max records (MQTT_PROOF_MAX at
 * most), compressed with them, which costs about 4 bytes a record instead
 * of 9 for a message of their own (README "Seals").  compress = yes
 * deflates telemetry (zlib) onto .../telemetry/z.
 *
 * Acknowledgement.  Each publication holds a slot of the in-flight table
 * (inflight.c: why its token is safe against stale callbacks); on PUBACK all
 * of its rows are acknowledged to the store, on failure the cursor that
 * sent them goes back so they are sent again.  A reconnect forgets the whole
 * window and sends every unacknowledged row again: the server drops
 * duplicates by (dev, boot, seq).
 */
#include "gateway/mqtt.h"

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

#include "gateway/backoff.h"
#include "gateway/clock.h"
#include "gateway/command.h"
#include "gateway/inflight.h"
#include "gateway/log.h"
#include "gateway/seal.h"

#define MQTT_NOTES	     (2 * INFLIGHT_MAX_SLOTS + 64) /* one note per publication, at most */
#define MQTT_CMDS	     64		  /* commands waiting for the main thread, at most */
#define MQTT_LARGE	     2		  /* of them set-config requests beyond UPLINK_CMD_MAX */
#define MQTT_OVER	     4096	  /* ids of commands beyond those, to refuse */
#define MQTT_ANSWERS	     64		  /* answers waiting to be handed to paho, at most */
#define MQTT_ANSWER_WINDOW   16		  /* answers handed to paho and not yet done, at most */
#define MQTT_ANSWER_RETRY_MS 20		  /* paho's queue was full: hand it over again then */
#define MQTT_FETCH	     128	  /* rows read from the store at once */
#define MQTT_PROOF_MAX	     2		  /* seal-chain rows a batch carries besides its records */
#define MQTT_BUF	     (512 * 1024) /* their payloads */
#define MQTT_MSG	     (MQTT_BUF + 256)
#define MQTT_STATUS_MAX	     8192
#define MQTT_BACKOFF_MIN_MS  500
#define MQTT_CLOCK_POLL_MS   1000
#define MQTT_CERT_CHECK_MS   (6 * 3600 * 1000LL)
#define MQTT_TOO_LARGE	     (-2) /* mqtt_publish: the packet would exceed the limit */

/* What paho's threads tell the main thread. */
struct mqtt_stats {
	uint64_t published; /* messages handed to paho */
	uint64_t records;   /* rows in them (a batch counts each record) */
	uint64_t acked;	    /* rows acknowledged */
	uint64_t failed;    /* messages paho reported as not delivered */
	uint64_t connects;
	uint64_t bytes;		  /* payload bytes handed to paho */
	uint64_t wire_bytes;	  /* PUBLISH packets' bytes (headers + topic + payload) */
	int64_t last_ack_mono_ms; /* -1 if none yet */
	char last_error[192];
};

/* A command that came when MQTT_CMDS waited already: kept only to be
 * refused, its id in a request of its own. */
struct mqtt_over {
	char name[UPLINK_CMD_NAME];
	char payload[COMMAND_ID_MAX * 2 + 16];
	size_t len;
};

/* A command's answer waiting for paho. */
struct mqtt_answer {
	char id[COMMAND_ID_MAX + 1];
	char *json;
};

enum mqtt_note_type {
	NOTE_CONNECTED,
	NOTE_CONNECT_FAILED,
	NOTE_LOST,
	NOTE_ACK,
	NOTE_NACK,
	NOTE_TLS_ERROR,
};

struct mqtt_note {
	enum mqtt_note_type type;
	void *token;
	char text[160];
};

enum mqtt_state { UP_DOWN, UP_CONNECTING, UP_CONNECTED, UP_WAIT_CLOCK };

static const char *const mqtt_state_names[] = {
    [UP_DOWN] = "down",
    [UP_CONNECTING] = "connecting",
    [UP_CONNECTED] = "connected",
    [UP_WAIT_CLOCK] = "waiting_for_clock",
};

enum mqtt_lane { LANE_LIVE, LANE_BACKLOG };

struct mqtt {
	struct config_mqtt cfg;
	char dev[64];
	struct store *store;
	MQTTAsync client;
	int wake_fd;
	char topic_telemetry[256], topic_telemetry_z[260], topic_event[256], topic_status[256];
	char topic_cmd[256], topic_result[256];
	size_t topic_cmd_len; /* of the prefix ".../cmd/" */
	char password[256];
	enum mqtt_state state;
	int v5;
	int64_t now_ms;
	struct backoff backoff;
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

	char status[MQTT_STATUS_MAX];
	struct mqtt_stats stats;
	atomic_ullong cmds, cmds_deferred, cmds_retained; /* counted on paho's thread */
	atomic_int broker_max_packet; /* MQTT 5 CONNACK's Maximum Packet Size, or 0 */
	int max_packet;		      /* the limit in force this session, or 0 */
	uint64_t parked;	      /* rows given up on: larger than any packet may be */
	int status_too_large;	      /* the status was not published: too large */
	payload_event_fn *event;
	void *event_ctx;

	/* command answers: a queue of their own, and a window of their own in
	 * paho's buffers, so answers and telemetry never crowd each other out */
	struct command_limit limit;
	struct mqtt_answer answers[MQTT_ANSWERS];
	unsigned ans_head, ans_tail;
	atomic_int answers_out; /* handed to paho, not done (paho's thread counts down) */
	atomic_ullong answers_failed;
	uint64_t answers_sent;
	int64_t answer_retry_ms; /* paho's queue was full: again then, or -1 */
	struct inflight *inflight;

	pthread_mutex_t lock; /* guards the note and command rings, and unacked */
	struct mqtt_note notes[MQTT_NOTES];
	unsigned note_head, note_tail;
	int unacked;  /* publications whose delivery callback is still to come */
	int window;   /* the in-flight window when the last of them was sent */
	int ack_wake; /* every delivery wakes the main thread (a drain) */
	atomic_ullong notes_dropped;
	struct uplink_command cmdq[MQTT_CMDS];
	unsigned cmd_head, cmd_tail;
	int large_waiting; /* commands in cmdq with a heap copy (`large`) */
	struct mqtt_over overq[MQTT_OVER];
	unsigned over_head, over_tail;

	struct store_row rows[MQTT_FETCH];
	char buf[MQTT_BUF];
	char msg[MQTT_MSG];
	unsigned char zmsg[MQTT_MSG + MQTT_MSG / 1000 + 64]; /* >= compressBound */
};

/* paho's delivery callbacks carry only one pointer of context, and that
 * is the in-flight token: the uplink they report to is this one (one MQTT
 * uplink per process). */
static struct mqtt *mqtt_self;

/* ---- paho's threads -------------------------------------------------------- */

static void mqtt_wake(struct mqtt *u)
{
	uint64_t one = 1;

	if (write(u->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return; /* the loop wakes on its next deadline anyway */
}

/* Any thread: queue a note and wake the main thread.  The ring holds more
 * than the largest window, and each publication gets one note: none is
 * dropped (the count in status would say otherwise).  A delivery wakes the
 * main thread only when it frees a full window (the pump waits for it) or
 * in a drain (a stop, --exit-when-done: the store must empty); otherwise it
 * rides on the next wake-up, a tick at the latest (the store commits
 * acknowledgements lazily anyway), instead of a wake-up for each. */
static void mqtt_note(struct mqtt *u, enum mqtt_note_type type, void *token, const char *text)
{
	struct mqtt_note *n;
	int wake = 1;

	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	if (type == NOTE_ACK || type == NOTE_NACK)
		wake = u->unacked-- >= u->window || u->ack_wake;
	if (u->note_head - u->note_tail >= MQTT_NOTES) {
		u->notes_dropped++;
	} else {
		n = &u->notes[u->note_head++ % MQTT_NOTES];
		n->type = type;
		n->token = token;
		snprintf(n->text, sizeof(n->text), "%s", text ? text : "");
	}
	pthread_mutex_unlock(&u->lock);
	if (wake)
		mqtt_wake(u);
}

/* Main thread: one more publication (n = 1) whose callback will come, one
 * fewer (-1: paho refused it), or none (0: a new session, the old one's
 * callbacks may never come). */
static void mqtt_outstanding(struct mqtt *u, int n)
{
	pthread_mutex_lock(&u->lock);
	u->unacked = n ? u->unacked + n : 0;
	u->window = inflight_slots(u->inflight);
	pthread_mutex_unlock(&u->lock);
}

/* MQTT 5: the CONNACK may say how large a packet the broker takes.  Kept
 * before the connected callback runs (paho calls onSuccess first). */
static void on_connect_ok5(void *ctx, MQTTAsync_successData5 *resp)
{
	struct mqtt *u = ctx;
	int max = 0;

	if (resp &&
	    MQTTProperties_hasProperty(&resp->properties, MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE))
		max = MQTTProperties_getNumericValue(&resp->properties,
						     MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE);
	u->broker_max_packet = max > 0 ? max : 0;
}

static void on_connected(void *ctx, char *cause)
{
	(void)cause;
	mqtt_note(ctx, NOTE_CONNECTED, NULL, NULL);
}

static void mqtt_note_failure(void *ctx, const char *msg, int code)
{
	char text[200]; /* cut to a note's size by mqtt_note */

	snprintf(text, sizeof(text), "%s (code %d)", msg ? msg : "connect failed", code);
	mqtt_note(ctx, NOTE_CONNECT_FAILED, NULL, text);
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *resp)
{
	mqtt_note_failure(ctx, resp ? resp->message : NULL, resp ? resp->code : 0);
}

static void on_connect_failed5(void *ctx, MQTTAsync_failureData5 *resp)
{
	char text[160];

	if (resp && resp->reasonCode != MQTTREASONCODE_SUCCESS) {
		snprintf(text, sizeof(text), "%s: %s", resp->message ? resp->message : "refused",
			 MQTTReasonCode_toString(resp->reasonCode));
		mqtt_note_failure(ctx, text, resp->code);
		return;
	}
	mqtt_note_failure(ctx, resp ? resp->message : NULL, resp ? resp->code : 0);
}

static void on_lost(void *ctx, char *cause)
{
	mqtt_note(ctx, NOTE_LOST, NULL, cause ? cause : "connection lost");
}

static void on_published(void *ctx, MQTTAsync_successData *resp)
{
	(void)resp;
	mqtt_note(mqtt_self, NOTE_ACK, ctx, NULL);
}

static void on_publish_failed(void *ctx, MQTTAsync_failureData *resp)
{
	(void)resp;
	mqtt_note(mqtt_self, NOTE_NACK, ctx, NULL);
}

static void on_published5(void *ctx, MQTTAsync_successData5 *resp)
{
	(void)resp;
	mqtt_note(mqtt_self, NOTE_ACK, ctx, NULL);
}

/* MQTT 5: a PUBACK with a reason code >= 0x80 (quota, not authorised)
 * comes here too: not delivered, send again. */
static void on_publish_failed5(void *ctx, MQTTAsync_failureData5 *resp)
{
	(void)resp;
	mqtt_note(mqtt_self, NOTE_NACK, ctx, NULL);
}

/* An answer is done (delivered or not): room for the next one. */
static void mqtt_answer_done(struct mqtt *u, int ok)
{
	if (!ok)
		u->answers_failed++;
	u->answers_out--;
	mqtt_wake(u);
}

static void on_answered(void *ctx, MQTTAsync_successData *resp)
{
	(void)resp;
	mqtt_answer_done(ctx, 1);
}

static void on_answer_failed(void *ctx, MQTTAsync_failureData *resp)
{
	(void)resp;
	mqtt_answer_done(ctx, 0);
}

static void on_answered5(void *ctx, MQTTAsync_successData5 *resp)
{
	(void)resp;
	mqtt_answer_done(ctx, 1);
}

static void on_answer_failed5(void *ctx, MQTTAsync_failureData5 *resp)
{
	(void)resp;
	mqtt_answer_done(ctx, 0);
}

static int on_tls_error(const char *str, size_t len, void *ctx)
{
	char text[160];

	snprintf(text, sizeof(text), "%.*s", (int)(len < sizeof(text) ? len : sizeof(text) - 1),
		 str);
	text[strcspn(text, "\r\n")] = '\0';
	mqtt_note(ctx, NOTE_TLS_ERROR, NULL, text);
	return 0;
}

/* A command: copied off paho's thread into a bounded queue; retained ones
 * are old news and never run.  When the queue is full the message is left
 * with paho (return 0), which offers it again: a burst of commands waits
 * for the main thread instead of being lost. */
/* Keep of an overflowing command what its refusal needs: its name and id
 * (jansson is safe on any thread for objects of its own). */
static void mqtt_overflow(struct mqtt_over *o, const char *name, size_t nlen,
			  const MQTTAsync_message *msg)
{
	json_t *req = msg->payloadlen > 0 && msg->payloadlen <= UPLINK_CMD_MAX
			  ? json_loadb(msg->payload, (size_t)msg->payloadlen, 0, NULL)
			  : NULL;
	const char *id = json_string_value(json_object_get(req, "id"));
	int n = -1;

	snprintf(o->name, sizeof(o->name), "%.*s", (int)nlen, name);
	if (id && strlen(id) <= COMMAND_ID_MAX && !strpbrk(id, "\"\\"))
		n = snprintf(o->payload, sizeof(o->payload), "{\"id\":\"%s\"}", id);
	if (n < 0 || (size_t)n >= sizeof(o->payload))
		n = snprintf(o->payload, sizeof(o->payload), "{}");
	o->len = (size_t)n;
	json_decref(req);
}

/* A whole configuration (set-config) is larger than other commands: it is
 * copied to the heap, at most MQTT_LARGE of them waiting, so a flood of
 * large requests costs bounded memory (the rest are refused as too large). */
static char *mqtt_take_large(struct mqtt *u, struct uplink_command *c, const MQTTAsync_message *msg)
{
	char *copy;

	if (c->full_len <= UPLINK_CMD_MAX || c->full_len > UPLINK_CONFIG_MAX ||
	    strcmp(c->name, "set-config") != 0 || u->large_waiting >= MQTT_LARGE)
		return NULL;
	copy = malloc(c->full_len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, msg->payload, c->full_len);
	copy[c->full_len] = '\0';
	c->len = c->full_len;
	u->large_waiting++;
	return copy;
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
	struct mqtt *u = ctx;
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
	} else if (u->cmd_head - u->cmd_tail >= MQTT_CMDS &&
		   u->over_head - u->over_tail < MQTT_OVER) {
		/* More than the loop takes at once: refused unrun, at once. */
		mqtt_overflow(&u->overq[u->over_head++ % MQTT_OVER], name, nlen, msg);
		u->cmds++;
	} else if (u->cmd_head - u->cmd_tail >= MQTT_CMDS) {
		u->cmds_deferred++; /* "deferred" in status: paho delivers it again */
		pthread_mutex_unlock(&u->lock);
		mqtt_wake(u);
		usleep(10000); /* let the main thread drain before paho retries */
		return 0;
	} else {
		c = &u->cmdq[u->cmd_head++ % MQTT_CMDS];
		snprintf(c->name, sizeof(c->name), "%.*s", (int)nlen, name);
		if (nlen >= sizeof(c->name))
			c->name[0] = '\0'; /* too long a name: no command has it */
		c->full_len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
		c->len = c->full_len > UPLINK_CMD_MAX ? 0 : c->full_len;
		c->large = mqtt_take_large(u, c, msg);
		if (c->len && !c->large)
			memcpy(c->payload, msg->payload, c->len);
		c->payload[c->large ? 0 : c->len] = '\0';
		u->cmds++;
	}
	pthread_mutex_unlock(&u->lock);
	mqtt_wake(u);
out:
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

/* ---- certificates ------------------------------------------------------------ */

/* Days until the certificate(s) in path expire, the soonest; 0 or -1. */
static int mqtt_cert_days(const char *path, int *days)
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
static void mqtt_check_certs(struct mqtt *u)
{
	const char *files[2] = {u->cfg.cert_file, u->cfg.ca_file};
	const char *names[2] = {"client", "CA"};
	char warning[192] = "";
	int days;

	u->cert_check_ms = u->now_ms + MQTT_CERT_CHECK_MS;
	u->cert_file[0] = '\0';
	for (int i = 0; i < 2; i++) {
		if (!files[i][0] || mqtt_cert_days(files[i], &days) < 0)
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

static int mqtt_read_password(struct mqtt *u)
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

static void mqtt_set_error(struct mqtt *u, const char *text)
{
	if (strcmp(u->stats.last_error, text) != 0 || u->state == UP_CONNECTED)
		log_warnx("mqtt: %s:%d: %s", u->cfg.host, u->cfg.port, text);
	snprintf(u->stats.last_error, sizeof(u->stats.last_error), "%s", text);
}

/* Certificates are checked against the system clock: a box without RTC
 * that has no time yet (before NTP or GNSS) would fail every handshake and
 * blame the certificate.  Say what is wrong, and wait for time. */
static int mqtt_clock_untrusted(struct mqtt *u)
{
	struct clock_now now;

	if (!u->cfg.ca_file[0] || !u->cfg.tls_verify || clock_is_replay())
		return 0;
	clock_now(&now);
	if (now.src != TS_UNSYNCED)
		return 0;
	if (u->state != UP_WAIT_CLOCK)
		mqtt_set_error(u, "the clock is not set (no NTP, GNSS or RTC time yet): TLS"
				  " certificates cannot be checked; waiting for time to connect");
	u->state = UP_WAIT_CLOCK;
	u->retry_at_ms = u->now_ms + MQTT_CLOCK_POLL_MS;
	return 1;
}

static void mqtt_tls_options(struct mqtt *u, MQTTAsync_SSLOptions *ssl)
{
	ssl->trustStore = u->cfg.ca_file;
	ssl->keyStore = u->cfg.cert_file[0] ? u->cfg.cert_file : NULL;
	ssl->privateKey = u->cfg.key_file[0] ? u->cfg.key_file : NULL;
	ssl->enableServerCertAuth = u->cfg.tls_verify;
	ssl->verify = u->cfg.tls_verify;
	ssl->ssl_error_cb = on_tls_error;
	ssl->ssl_error_context = u;
}

static void mqtt_connect(struct mqtt *u)
{
	MQTTAsync_connectOptions opts = MQTTAsync_connectOptions_initializer;
	MQTTAsync_connectOptions opts5 = MQTTAsync_connectOptions_initializer5;
	MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	MQTTAsync_connectOptions *o = u->v5 ? &opts5 : &opts;
	int rc;

	if (mqtt_clock_untrusted(u))
		return;
	o->keepAliveInterval = u->cfg.keepalive_s;
	o->maxInflight = u->cfg.inflight + MQTT_ANSWER_WINDOW;
	o->connectTimeout = 10;
	o->context = u;
	if (u->v5) {
		o->onFailure5 = on_connect_failed5;
		o->onSuccess5 = on_connect_ok5;
	} else {
		o->onFailure = on_connect_failed;
	}
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
		mqtt_tls_options(u, &ssl);
		o->ssl = &ssl;
	}
	u->tls_error[0] = '\0';
	u->state = UP_CONNECTING;
	rc = MQTTAsync_connect(u->client, o);
	if (rc != MQTTASYNC_SUCCESS) {
		char text[64];

		snprintf(text, sizeof(text), "connect: %s (code %d)", MQTTAsync_strerror(rc), rc);
		mqtt_set_error(u, text);
		u->state = UP_DOWN;
		u->retry_at_ms = u->now_ms + backoff_next(&u->backoff, u->now_ms);
	}
}

static int mqtt_topics(struct mqtt *u, const char *prefix, const char *dev)
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

static int mqtt_create(struct mqtt *u)
{
	MQTTAsync_createOptions copts = MQTTAsync_createOptions_initializer;
	char uri[512];
	int rc;

	snprintf(uri, sizeof(uri), "%s://%s:%d", u->cfg.ca_file[0] ? "ssl" : "tcp", u->cfg.host,
		 u->cfg.port);
	copts.sendWhileDisconnected = 0;
	/* The window, the answers' window, and room for status and subscribe. */
	copts.maxBufferedMessages = u->cfg.inflight + MQTT_ANSWER_WINDOW + 8;
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
static void mqtt_check_files(const struct mqtt *u)
{
	const char *files[3] = {u->cfg.ca_file, u->cfg.cert_file, u->cfg.key_file};

	for (int i = 0; i < 3; i++)
		if (files[i][0] && access(files[i], R_OK) < 0)
			log_warn("mqtt: %s", files[i]);
}

/* Once a process, before the first client.  paho's own OpenSSL set-up
 * (library init, every error-string table, lock callbacks) is skipped:
 * OpenSSL >= 1.1 initialises itself on first use, so a gateway without TLS
 * never pays for it (~1.5 MB RSS) and one with TLS, also one that turns TLS
 * on at a reload, gets it when its first TLS connection starts.  Tracing is
 * kept to errors: by default paho records every call in a trace ring under
 * a mutex, which costs memory and instructions and is never read.  (Its
 * error texts: daemon_openssl_init.) */
_Static_assert(OPENSSL_VERSION_NUMBER >= 0x10100000L,
	       "do_openssl_init = 0 needs an OpenSSL that initialises itself (>= 1.1)");
static void mqtt_library_init(void)
{
	static int done;
	MQTTAsync_init_options init = MQTTAsync_init_options_initializer;

	if (done)
		return;
	done = 1;
	init.do_openssl_init = 0;
	MQTTAsync_global_init(&init);
	MQTTAsync_setTraceLevel(MQTTASYNC_TRACE_ERROR);
}

static struct mqtt *mqtt_open(const struct config_mqtt *cfg, const char *dev,
			      const struct uplink_env *env)
{
	struct mqtt *u;

	mqtt_library_init();
	u = calloc(1, sizeof(*u));
	if (!u) {
		log_warn("mqtt");
		return NULL;
	}
	u->cfg = *cfg;
	u->v5 = cfg->version == 5;
	snprintf(u->dev, sizeof(u->dev), "%s", dev);
	u->store = env->store;
	u->wake_fd = env->wake_fd;
	u->event = env->event;
	u->event_ctx = env->event_ctx;
	backoff_init(&u->backoff, MQTT_BACKOFF_MIN_MS, cfg->reconnect_max_s * 1000, BACKOFF_FULL);
	u->retry_at_ms = -1;
	u->wake_at_ms = -1;
	u->batch_wait_ms = -1;
	u->stats.last_ack_mono_ms = -1;
	u->answer_retry_ms = -1;
	command_limit_init(&u->limit, cfg->command_rate);
	pthread_mutex_init(&u->lock, NULL);
	u->inflight = inflight_new(cfg->inflight, cfg->batch_max + MQTT_PROOF_MAX);
	if (!u->inflight) {
		log_warnx("mqtt: out of memory for the in-flight table");
		goto out_free;
	}
	if (mqtt_topics(u, cfg->prefix, dev) < 0 || mqtt_read_password(u) < 0)
		goto out_free;
	if (u->password[0] && !cfg->ca_file[0])
		log_warnx("mqtt: the password (%s) goes to %s over plain TCP: set ca_file for TLS",
			  cfg->password_file, cfg->host);
	mqtt_check_files(u);
	if (mqtt_create(u) < 0)
		goto out_free;
	mqtt_self = u;
	u->now_ms = clock_real_ms();
	mqtt_check_certs(u);
	mqtt_connect(u);
	return u;
out_free:
	inflight_free(u->inflight);
	pthread_mutex_destroy(&u->lock);
	free(u);
	return NULL;
}

static uint64_t mqtt_wire_bytes(const struct mqtt *u, size_t topic_len, size_t len);

static void mqtt_publish_status(struct mqtt *u)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

	size_t len = strlen(u->status);
	int too_large;

	if (u->state != UP_CONNECTED || !u->status[0])
		return;
	/* A broker drops the connection on a packet over its limit. */
	too_large = u->max_packet > 0 &&
		    mqtt_wire_bytes(u, strlen(u->topic_status), len) > (uint64_t)u->max_packet;
	if (too_large != u->status_too_large)
		log_warnx("mqtt: the status (%zu bytes) %s", len,
			  too_large ? "is larger than a packet may be: not published"
				    : "fits a packet again");
	u->status_too_large = too_large;
	if (too_large)
		return;
	MQTTAsync_send(u->client, u->topic_status, (int)len, u->status, 1, 1, &ro);
}

static void mqtt_close(struct mqtt *u)
{
	MQTTAsync_disconnectOptions dopts = MQTTAsync_disconnectOptions_initializer;
	MQTTAsync_disconnectOptions dopts5 = MQTTAsync_disconnectOptions_initializer5;

	if (!u)
		return;
	if (u->state == UP_CONNECTED) {
		snprintf(u->status, sizeof(u->status), "{\"state\":\"offline\"}");
		mqtt_publish_status(u);
		dopts.timeout = dopts5.timeout = 1000;
		MQTTAsync_disconnect(u->client, u->v5 ? &dopts5 : &dopts);
		/* Give the disconnect (and the offline status) a moment to leave. */
		for (int i = 0; i < 20 && MQTTAsync_isConnected(u->client); i++)
			usleep(50000);
	}
	MQTTAsync_destroy(&u->client);
	if (mqtt_self == u)
		mqtt_self = NULL;
	while (u->ans_tail != u->ans_head)
		free(u->answers[u->ans_tail++ % MQTT_ANSWERS].json);
	while (u->cmd_tail != u->cmd_head)
		free(u->cmdq[u->cmd_tail++ % MQTT_CMDS].large);
	inflight_free(u->inflight);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

/* Capped exponential back-off with jitter (backoff.c), so a fleet does not
 * reconnect in step after a broker restart.  It never gives up. */
static void mqtt_schedule_retry(struct mqtt *u)
{
	u->state = UP_DOWN;
	u->retry_at_ms = u->now_ms + backoff_next(&u->backoff, u->now_ms);
}

/* ---- the main thread's side of paho's notes ------------------------------------- */

/* A fresh session: whatever was in flight may be lost, so every
 * unacknowledged row is sent again; the rows made from now on are live. */
static void mqtt_session_start(struct mqtt *u)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	char filter[260];

	inflight_reset(u->inflight);
	mqtt_outstanding(u, 0);
	u->answers_out = 0; /* the last session's answers are done, one way or the other */
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

/* The largest packet this session: ours ([mqtt] max_packet, for 3.1.1
 * brokers, which cannot say) and the broker's (MQTT 5), the smaller. */
static void mqtt_limit(struct mqtt *u)
{
	int broker = u->broker_max_packet, max = u->cfg.max_packet;

	if (broker > 0 && (max == 0 || broker < max))
		max = broker;
	if (max != u->max_packet && max > 0)
		log_info("mqtt: packets of at most %d bytes (%s)", max,
			 max == broker ? "the broker's Maximum Packet Size" : "max_packet");
	u->max_packet = max;
}

static void mqtt_connected(struct mqtt *u)
{
	log_notice("mqtt: connected to %s:%d", u->cfg.host, u->cfg.port);
	u->state = UP_CONNECTED;
	u->stats.connects++;
	u->stats.last_error[0] = '\0';
	/* Reset only once the session has lasted: a broker that closes every
	 * session at once (a publish it refuses) is backed off too. */
	backoff_up(&u->backoff, u->now_ms);
	mqtt_limit(u);
	mqtt_session_start(u);
	mqtt_publish_status(u);
}

static void mqtt_failed(struct mqtt *u, const char *text)
{
	char buf[sizeof(u->stats.last_error)];

	if (u->tls_error[0])
		snprintf(buf, sizeof(buf), "TLS handshake failed: %s", u->tls_error);
	else
		snprintf(buf, sizeof(buf), "%s", text);
	mqtt_set_error(u, buf);
	inflight_reset(u->inflight);
	mqtt_outstanding(u, 0);
	mqtt_schedule_retry(u);
}

static void mqtt_acked(struct mqtt *u, void *token)
{
	int slot = inflight_resolve(u->inflight, token), n;
	const uint64_t *seqs;

	if (slot < 0)
		return; /* a publication of an earlier session: its rows go again */
	seqs = inflight_rows(u->inflight, slot, &n);
	for (int i = 0; i < n; i++)
		if (store_ack(u->store, MQTT_BIT, seqs[i]) == 0)
			u->stats.acked++;
	u->stats.last_ack_mono_ms = u->now_ms;
	inflight_release(u->inflight, slot);
}

/* Not delivered: move the cursor that sent these rows back over them. */
static void mqtt_nacked(struct mqtt *u, void *token)
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

static void mqtt_handle(struct mqtt *u, const struct mqtt_note *n)
{
	switch (n->type) {
	case NOTE_CONNECTED:
		mqtt_connected(u);
		break;
	case NOTE_CONNECT_FAILED:
	case NOTE_LOST:
		mqtt_failed(u, n->text);
		break;
	case NOTE_TLS_ERROR:
		snprintf(u->tls_error, sizeof(u->tls_error), "%s", n->text);
		break;
	case NOTE_ACK:
		mqtt_acked(u, n->token);
		break;
	case NOTE_NACK:
		mqtt_nacked(u, n->token);
		break;
	}
}

/* An empty ring (under u->lock) starts again at its first slot, so only as
 * many slots as ever wait at once are touched: the rings are sized for the
 * worst case, and walking the notes' made all 371 KB of it resident in half
 * an hour at one publication a second (the commands' 270 KB after 64). */
static void mqtt_rewind(unsigned *head, unsigned *tail)
{
	if (*head == *tail)
		*head = *tail = 0;
}

static void mqtt_drain_notes(struct mqtt *u)
{
	struct mqtt_note n;

	for (;;) {
		pthread_mutex_lock(&u->lock);
		if (u->note_tail == u->note_head) {
			mqtt_rewind(&u->note_head, &u->note_tail);
			pthread_mutex_unlock(&u->lock);
			return;
		}
		n = u->notes[u->note_tail++ % MQTT_NOTES];
		pthread_mutex_unlock(&u->lock);
		mqtt_handle(u, &n);
	}
}

/* ---- publishing ------------------------------------------------------------------ */

/* Bytes of a PUBLISH packet: fixed header, remaining length, topic, packet
 * id (QoS 1), properties length (MQTT 5), payload. */
static uint64_t mqtt_wire_bytes(const struct mqtt *u, size_t topic_len, size_t len)
{
	size_t rem = 2 + topic_len + (u->cfg.qos ? 2 : 0) + (u->v5 ? 1 : 0) + len;
	size_t hdr = 2;

	for (size_t r = rem; r >= 128; r /= 128)
		hdr++;
	return hdr + rem;
}

/* Whether r goes in a telemetry message: a record, or with batching a row
 * of the seal chain. */
static int mqtt_batched(const struct mqtt *u, const struct store_row *r)
{
	return r->kind != STORE_EVENT ||
	       (u->cfg.batch_max > 1 && seal_row_is_proof(r->payload, r->len));
}

/* The payload of rows[i..j): one row as it is, or a batch in seq order
 * (rows are in fetch order: descending when desc).  Length, or 0 when the
 * batch does not fit (cannot happen: the buffer holds every fetched row). */
static size_t mqtt_payload(struct mqtt *u, const struct store_row *rows, int i, int j, int desc,
			   const char **out)
{
	size_t len, cap = sizeof(u->msg);
	int n;

	if (j - i == 1 && (!mqtt_batched(u, &rows[i]) || u->cfg.batch_max == 1)) {
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

static int mqtt_send(struct mqtt *u, const char *topic, const void *p, size_t len, int slot)
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
	/* counted before paho has it: its callback may come before send returns */
	if (u->cfg.qos)
		mqtt_outstanding(u, 1);
	rc = MQTTAsync_send(u->client, topic, (int)len, p, u->cfg.qos, 0, &ro);
	if (rc != MQTTASYNC_SUCCESS) {
		if (u->cfg.qos)
			mqtt_outstanding(u, -1);
		return -1;
	}
	u->stats.published++;
	u->stats.bytes += len;
	u->stats.wire_bytes += mqtt_wire_bytes(u, strlen(topic), len);
	return 0;
}

/* A row no packet may carry: acknowledged for this uplink (it never goes
 * here), counted, and recorded by an event naming it, so that the rows
 * behind it are not blocked forever. */
static void mqtt_park(struct mqtt *u, const struct store_row *r, size_t wire)
{
	u->parked++;
	log_warnx("mqtt: row %" PRIu64 " (%zu bytes a packet) is larger than %d bytes: parked",
		  r->seq, wire, u->max_packet);
	store_ack(u->store, MQTT_BIT, r->seq);
	if (u->event) {
		struct payload_event ev;

		payload_event_init(&ev, PAYLOAD_EV_ROW_TOO_LARGE);
		snprintf(ev.uplink, sizeof(ev.uplink), "mqtt");
		ev.row_seq = (int64_t)r->seq;
		ev.packet_bytes = (int64_t)wire;
		ev.max_packet = u->max_packet;
		u->event(u->event_ctx, &ev);
	}
}

/* One message of rows[i..j) (one event, or records); 0, -1, or
 * MQTT_TOO_LARGE (*wire: its packet's bytes) when it would exceed the
 * session's packet limit. */
static int mqtt_publish(struct mqtt *u, const struct store_row *rows, int i, int j, int desc,
			enum mqtt_lane lane, size_t *wire)
{
	const char *topic = mqtt_batched(u, &rows[i]) ? u->topic_telemetry : u->topic_event;
	const char *p;
	size_t len = mqtt_payload(u, rows, i, j, desc, &p);
	uLongf zlen = sizeof(u->zmsg);
	int slot;

	if (len == 0)
		return -1;
	if (u->cfg.compress && mqtt_batched(u, &rows[i])) {
		if (compress2(u->zmsg, &zlen, (const Bytef *)p, len, Z_DEFAULT_COMPRESSION) != Z_OK)
			return -1;
		p = (const char *)u->zmsg;
		len = zlen;
		topic = u->topic_telemetry_z;
	}
	*wire = mqtt_wire_bytes(u, strlen(topic), len);
	if (u->max_packet > 0 && *wire > (uint64_t)u->max_packet)
		return MQTT_TOO_LARGE;
	slot = inflight_take(u->inflight, lane);
	if (slot < 0)
		return -1;
	for (int k = i; k < j; k++)
		inflight_add(u->inflight, slot, rows[k].seq);
	if (mqtt_send(u, topic, p, len, slot) < 0) {
		inflight_release(u->inflight, slot);
		return -1;
	}
	u->stats.records += (uint64_t)(j - i);
	if (u->cfg.qos == 0) {
		/* No PUBACK will come: handing it over is all QoS 0 promises. */
		mqtt_acked(u, inflight_token(u->inflight, slot));
	}
	return 0;
}

/*
 * Publish rows[0..n) in order, an event alone, records up to batch_max
 * together, at most max_records records, while the window has room.  A
 * last, short batch waits (is not sent) unless partial_ok.  Returns the
 * rows consumed, or -1 when paho refused the first message.
 */
static int mqtt_send_rows(struct mqtt *u, const struct store_row *rows, int n, int desc,
			  enum mqtt_lane lane, int max_records, int partial_ok)
{
	int i = 0, sent = 0, rc;
	size_t wire = 0;

	while (i < n && inflight_used(u->inflight) < inflight_slots(u->inflight)) {
		int j = i + 1, cap = u->cfg.batch_max, recs = rows[i].kind != STORE_EVENT;

		if (mqtt_batched(u, &rows[i])) {
			/* batch_max records, and the seal-chain rows among them
			 * (MQTT_PROOF_MAX at most): a seal does not cut a batch
			 * short, which would cost a message header and the
			 * compression context of the records after it */
			int proofs = !recs;

			if (max_records - sent < cap)
				cap = max_records - sent;
			if (cap <= 0)
				break;
			for (; j < n && mqtt_batched(u, &rows[j]); j++) {
				int rec = rows[j].kind != STORE_EVENT;

				if (rec ? recs == cap : proofs == MQTT_PROOF_MAX)
					break;
				recs += rec;
				proofs += !rec;
			}
			if (j == n && recs < u->cfg.batch_max && !partial_ok)
				break;
		}
		/* Too large a batch is split until it fits; a single row
		 * that cannot fit is parked. */
		while ((rc = mqtt_publish(u, rows, i, j, desc, lane, &wire)) == MQTT_TOO_LARGE &&
		       j - i > 1)
			j = i + (j - i) / 2;
		if (rc == MQTT_TOO_LARGE)
			mqtt_park(u, &rows[i], wire);
		else if (rc < 0)
			return i > 0 ? i : -1;
		for (; i < j; i++)
			sent += rows[i].kind != STORE_EVENT;
	}
	return i;
}

static void mqtt_wake_at(struct mqtt *u, int64_t at)
{
	if (u->wake_at_ms < 0 || at < u->wake_at_ms)
		u->wake_at_ms = at;
}

/* Live rows: all of them, oldest first; a short batch waits batch_age for
 * company.  1 when more may follow. */
static int mqtt_pump_live(struct mqtt *u)
{
	int n, used, partial_ok;

	n = store_fetch(u->store, MQTT_BIT, u->live_cursor, u->rows, MQTT_FETCH, u->buf,
			sizeof(u->buf));
	if (n <= 0)
		return 0;
	partial_ok = u->cfg.batch_max == 1 || n == MQTT_FETCH || u->cfg.batch_age_ms == 0 ||
		     (u->batch_wait_ms >= 0 && u->now_ms - u->batch_wait_ms >= u->cfg.batch_age_ms);
	used = mqtt_send_rows(u, u->rows, n, 0, LANE_LIVE, INT32_MAX, partial_ok);
	if (used > 0)
		u->live_cursor = u->rows[used - 1].seq;
	if (used == n) {
		u->batch_wait_ms = -1;
		return 1;
	}
	if (used >= 0 && inflight_used(u->inflight) < inflight_slots(u->inflight)) {
		if (u->batch_wait_ms < 0)
			u->batch_wait_ms = u->now_ms;
		mqtt_wake_at(u, u->batch_wait_ms + u->cfg.batch_age_ms);
	}
	return 0;
}

/* Backlog records that may go now (a token bucket, a second's burst). */
static int mqtt_backlog_allowance(struct mqtt *u)
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
static int mqtt_pump_backlog(struct mqtt *u)
{
	int desc = u->cfg.backlog_newest, n, used, allow, want;

	if (u->back_done)
		return 0;
	allow = mqtt_backlog_allowance(u);
	want = u->cfg.batch_max;
	if (u->cfg.backlog_rate > 0 && u->cfg.backlog_rate < want)
		want = u->cfg.backlog_rate;
	if (allow < want) {
		mqtt_wake_at(u, u->now_ms + 1 +
				    (int64_t)((want - u->tokens) * 1000.0 / u->cfg.backlog_rate));
		return 0;
	}
	if (desc)
		n = store_fetch_desc(u->store, MQTT_BIT, u->back_cursor, u->rows, MQTT_FETCH,
				     u->buf, sizeof(u->buf));
	else
		n = store_fetch(u->store, MQTT_BIT, u->back_cursor, u->rows, MQTT_FETCH, u->buf,
				sizeof(u->buf));
	/* Ascending, the backlog ends where the live rows begin. */
	while (n > 0 && u->rows[n - 1].seq >= u->live_from)
		n--;
	if (n <= 0) {
		u->back_done = n == 0;
		return 0;
	}
	/* A short batch at the end of a full fetch waits for the next fetch,
	 * which starts with it: backlog batches stay full. */
	used = mqtt_send_rows(u, u->rows, n, desc, LANE_BACKLOG, allow, n < MQTT_FETCH);
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
static void mqtt_check_rollback(struct mqtt *u)
{
	if (store_rollbacks(u->store) == u->rollbacks)
		return;
	u->rollbacks = store_rollbacks(u->store);
	u->live_cursor = u->live_from - 1;
	u->back_cursor = u->cfg.backlog_newest ? u->live_from : 0;
	u->back_done = 0;
}

/* Hand paho what the store has, live rows first, within the window. */
static void mqtt_pump(struct mqtt *u)
{
	u->wake_at_ms = -1;
	mqtt_check_rollback(u);
	while (u->state == UP_CONNECTED &&
	       inflight_used(u->inflight) < inflight_slots(u->inflight) && mqtt_pump_live(u))
		;
	while (u->state == UP_CONNECTED &&
	       inflight_used(u->inflight) < inflight_slots(u->inflight) && mqtt_pump_backlog(u))
		;
}

static void mqtt_flush_answers(struct mqtt *u);

/* ---- the rest of the interface ------------------------------------------------------- */

static void mqtt_process(struct mqtt *u, int64_t now_ms, int drain)
{
	u->now_ms = now_ms;
	if (drain != u->ack_wake) {
		pthread_mutex_lock(&u->lock);
		u->ack_wake = drain;
		pthread_mutex_unlock(&u->lock);
	}
	mqtt_drain_notes(u);
	if ((u->state == UP_DOWN || u->state == UP_WAIT_CLOCK) && u->retry_at_ms >= 0 &&
	    now_ms >= u->retry_at_ms) {
		u->retry_at_ms = -1;
		mqtt_connect(u);
	}
	if (now_ms >= u->cert_check_ms)
		mqtt_check_certs(u);
	mqtt_pump(u);
	mqtt_flush_answers(u);
}

static int64_t mqtt_deadline(const struct mqtt *u)
{
	int64_t d = u->cert_check_ms;

	if ((u->state == UP_DOWN || u->state == UP_WAIT_CLOCK) && u->retry_at_ms >= 0 &&
	    u->retry_at_ms < d)
		d = u->retry_at_ms;
	if (u->state == UP_CONNECTED && u->wake_at_ms >= 0 && u->wake_at_ms < d)
		d = u->wake_at_ms;
	if (u->state == UP_CONNECTED && u->answer_retry_ms >= 0 && u->answer_retry_ms < d)
		d = u->answer_retry_ms;
	return d;
}

static void mqtt_set_status(struct mqtt *u, const char *json)
{
	snprintf(u->status, sizeof(u->status), "%s", json);
	mqtt_publish_status(u);
}

static int mqtt_next_command(struct mqtt *u, struct uplink_command *cmd)
{
	int got = 0;

	/* No room for its answer: the command waits (paho offers it again). */
	if (u->ans_head - u->ans_tail >= MQTT_ANSWERS)
		return 0;
	pthread_mutex_lock(&u->lock);
	if (u->cmd_tail != u->cmd_head) {
		*cmd = u->cmdq[u->cmd_tail++ % MQTT_CMDS];
		if (cmd->large)
			u->large_waiting--; /* the taker frees it */
		got = 1;
	} else if (u->over_tail != u->over_head) {
		const struct mqtt_over *o = &u->overq[u->over_tail++ % MQTT_OVER];

		memcpy(cmd->name, o->name, sizeof(cmd->name));
		memcpy(cmd->payload, o->payload, o->len + 1);
		cmd->large = NULL;
		cmd->len = cmd->full_len = o->len;
		got = 2;
	}
	mqtt_rewind(&u->cmd_head, &u->cmd_tail);
	mqtt_rewind(&u->over_head, &u->over_tail);
	pthread_mutex_unlock(&u->lock);
	cmd->refuse[0] = '\0';
	if (got == 2)
		command_limit_count_refused(&u->limit); /* beyond even a burst: over the rate */
	if (got == 2 || (got && !command_limit_take(&u->limit, u->now_ms)))
		snprintf(cmd->refuse, sizeof(cmd->refuse), "rate limited");
	return got != 0;
}

/* Hand queued answers to paho, within their window, after telemetry had
 * its turn.  An answer too large for a packet becomes a short error. */
static void mqtt_flush_answers(struct mqtt *u)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	char topic[sizeof(u->topic_result) + UPLINK_CMD_NAME], small[160];
	const char *text;
	int rc;

	if (u->v5) {
		ro.onSuccess5 = on_answered5;
		ro.onFailure5 = on_answer_failed5;
	} else {
		ro.onSuccess = on_answered;
		ro.onFailure = on_answer_failed;
	}
	ro.context = u;
	u->answer_retry_ms = -1;
	while (u->ans_tail != u->ans_head && u->state == UP_CONNECTED &&
	       u->answers_out < MQTT_ANSWER_WINDOW) {
		struct mqtt_answer *a = &u->answers[u->ans_tail % MQTT_ANSWERS];
		size_t len = strlen(a->json);

		snprintf(topic, sizeof(topic), "%s%s", u->topic_result, a->id);
		text = a->json;
		if (u->max_packet > 0 &&
		    mqtt_wire_bytes(u, strlen(topic), len) > (uint64_t)u->max_packet) {
			snprintf(small, sizeof(small),
				 "{\"id\":\"%s\",\"ok\":false,\"error\":\"answer too large (%zu "
				 "bytes) for the broker's packet limit\"}",
				 a->id, len);
			text = small;
			len = strlen(small);
		}
		rc = MQTTAsync_send(u->client, topic, (int)len, text, 1, 0, &ro);
		if (rc == MQTTASYNC_MAX_BUFFERED_MESSAGES) {
			u->answer_retry_ms = u->now_ms + MQTT_ANSWER_RETRY_MS;
			return;
		}
		if (rc != MQTTASYNC_SUCCESS) {
			log_warnx("mqtt: answer %s not sent: %s (code %d)", a->id,
				  MQTTAsync_strerror(rc), rc);
			u->answers_failed++;
		} else {
			u->answers_out++;
			u->answers_sent++;
		}
		free(a->json);
		u->ans_tail++;
	}
}

static int mqtt_answer(struct mqtt *u, const char *id, const char *json, char *why, size_t whysize)
{
	struct mqtt_answer *a;

	if (u->ans_head - u->ans_tail >= MQTT_ANSWERS) {
		snprintf(why, whysize, "%d answers wait already", MQTT_ANSWERS);
		return -1;
	}
	a = &u->answers[u->ans_head % MQTT_ANSWERS];
	a->json = strdup(json);
	if (!a->json) {
		snprintf(why, whysize, "out of memory");
		return -1;
	}
	snprintf(a->id, sizeof(a->id), "%s", id);
	u->ans_head++;
	mqtt_flush_answers(u);
	return 0;
}

static json_t *mqtt_status_json(const struct mqtt *u, const struct store_stats *ss,
				int64_t now_wall_ms)
{
	json_t *o = json_pack(
	    "{s:b, s:b, s:s, s:s, s:i, s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i,"
	    " s:b, s:i, s:s, s:I, s:s}",
	    "enabled", 1, "connected", u->state == UP_CONNECTED, "state",
	    mqtt_state_names[u->state], "broker", u->cfg.host, "port", u->cfg.port, "mqtt",
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
	json_object_set_new(o, "parked", json_integer((json_int_t)u->parked));
	json_object_set_new(o, "max_packet", json_integer(u->max_packet));
	json_object_set_new(o, "backlog_rows", json_integer(ss ? ss->rows : 0));
	json_object_set_new(o, "backlog_age_s",
			    ss && ss->oldest_wall_ms && now_wall_ms
				? json_real((double)(now_wall_ms - ss->oldest_wall_ms) / 1000.0)
				: json_null());
	json_object_set_new(o, "commands",
			    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:i}", "received",
				      (json_int_t)u->cmds, "deferred", (json_int_t)u->cmds_deferred,
				      "retained_ignored", (json_int_t)u->cmds_retained,
				      "rate_limited", (json_int_t)command_limit_refused(&u->limit),
				      "answers_sent", (json_int_t)u->answers_sent, "answers_failed",
				      (json_int_t)u->answers_failed, "rate_per_s", u->limit.per_s));
	if (u->cert_file[0])
		json_object_set_new(o, "cert",
				    json_pack("{s:s, s:i, s:s?}", "soonest", u->cert_file,
					      "expires_in_days", u->cert_days, "warning",
					      u->cert_warning[0] ? u->cert_warning : NULL));
	return o;
}

/* ---- the uplink interface ------------------------------------------------------------- */

static int mqtt_op_enabled(const struct config *cfg)
{
	return cfg->mqtt.enabled;
}

static void *mqtt_op_open(const struct config *cfg, const struct uplink_env *env)
{
	return mqtt_open(&cfg->mqtt, cfg->id, env);
}

static void mqtt_op_close(void *u, const struct clock_now *now)
{
	(void)now;
	mqtt_close(u);
}

static void mqtt_op_process(void *u, const struct uplink_tick *t)
{
	mqtt_process(u, t->real_ms, t->drain);
}

static int64_t mqtt_op_deadline(const void *u)
{
	return mqtt_deadline(u);
}

static json_t *mqtt_op_status(const void *u, const struct store_stats *ss, int64_t now_wall_ms)
{
	return mqtt_status_json(u, ss, now_wall_ms);
}

/* Any change of [mqtt] or of the device id (in the topics) reconnects. */
static int mqtt_op_reconfigure(void *u, const struct config *old, const struct config *fresh)
{
	(void)u;
	return memcmp(&old->mqtt, &fresh->mqtt, sizeof(old->mqtt)) != 0 ||
	       strcmp(old->id, fresh->id) != 0;
}

static void mqtt_op_set_status(void *u, const char *json)
{
	mqtt_set_status(u, json);
}

static int mqtt_op_next_command(void *u, struct uplink_command *cmd)
{
	return mqtt_next_command(u, cmd);
}

static int mqtt_op_answer(void *u, const char *id, const char *json, char *why, size_t whysize)
{
	return mqtt_answer(u, id, json, why, whysize);
}

const struct uplink_ops mqtt_uplink = {
    .name = "mqtt",
    .status_key = "uplink",
    .bit = MQTT_BIT,
    .enabled = mqtt_op_enabled,
    .open = mqtt_op_open,
    .close = mqtt_op_close,
    .process = mqtt_op_process,
    .deadline = mqtt_op_deadline,
    .status = mqtt_op_status,
    .reconfigure = mqtt_op_reconfigure,
    .set_status = mqtt_op_set_status,
    .next_command = mqtt_op_next_command,
    .answer = mqtt_op_answer,
};
