/* fileout: rows as JSON lines in a file.
 *
 * A row is acknowledged once its line is on disk (after fsync, unless
 * fsync = no).  A failed write is undone (the file is cut back to where
 * the batch began) and tried again a second later, so the file never holds
 * half a line.  A reload reopens the file: after logrotate moves it, a
 * SIGHUP starts a new one.  Rows acknowledged in a transaction the store
 * rolled back (disk full) are written again: a reader de-duplicates by
 * (dev, boot, seq), as an MQTT server does.
 */
#include "gateway/fileout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/log.h"

#define FO_FETCH    128
#define FO_BUF	    (512 * 1024)
#define FO_RETRY_MS 1000

struct fileout {
	struct config_fileout cfg;
	struct store *store;
	int fd;
	uint64_t cursor;    /* highest seq written */
	uint64_t rollbacks; /* the store's count when the cursor was valid */
	int more;	    /* the last fetch was full: run again at once */
	int64_t retry_at_ms;
	int64_t real_ms;
	uint64_t rows, bytes;
	char last_error[160];
	struct store_row row[FO_FETCH];
	char buf[FO_BUF];
	char line[FO_BUF + FO_FETCH]; /* the rows' payloads and newlines */
};

static void fo_error(struct fileout *f, const char *what, int err)
{
	char text[sizeof(f->last_error)];

	snprintf(text, sizeof(text), "%s: %s", what, strerror(err));
	if (strcmp(text, f->last_error) != 0)
		log_warnx("file: %s: %s", f->cfg.path, text);
	snprintf(f->last_error, sizeof(f->last_error), "%s", text);
	f->retry_at_ms = f->real_ms + FO_RETRY_MS;
}

/* Append len bytes whole, or cut the file back to where they began. */
static int fo_append(struct fileout *f, const char *p, size_t len)
{
	off_t start = lseek(f->fd, 0, SEEK_END);
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(f->fd, p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fo_error(f, "write", n < 0 ? errno : ENOSPC);
			goto out_undo;
		}
		done += (size_t)n;
	}
	if (f->cfg.fsync && fsync(f->fd) < 0) {
		fo_error(f, "fsync", errno);
		goto out_undo;
	}
	return 0;
out_undo:
	if (start >= 0 && ftruncate(f->fd, start) < 0)
		log_warn("file: %s: cannot cut back a failed write", f->cfg.path);
	return -1;
}

/* Write the rows after the cursor as lines; 1 when a whole fetch went. */
static int fo_pump(struct fileout *f)
{
	size_t len = 0;
	int n;

	n = store_fetch(f->store, FILEOUT_BIT, f->cursor, f->row, FO_FETCH, f->buf, sizeof(f->buf));
	if (n <= 0)
		return 0;
	for (int i = 0; i < n; i++) {
		memcpy(f->line + len, f->row[i].payload, f->row[i].len);
		len += f->row[i].len;
		f->line[len++] = '\n';
	}
	if (fo_append(f, f->line, len) < 0)
		return 0;
	f->last_error[0] = '\0';
	for (int i = 0; i < n; i++)
		store_ack(f->store, FILEOUT_BIT, f->row[i].seq);
	f->cursor = f->row[n - 1].seq;
	f->rows += (uint64_t)n;
	f->bytes += len;
	return n == FO_FETCH;
}

static void fo_process(void *u, const struct uplink_tick *t)
{
	struct fileout *f = u;

	f->real_ms = t->real_ms;
	if (f->retry_at_ms >= 0 && t->real_ms < f->retry_at_ms)
		return;
	f->retry_at_ms = -1;
	if (store_rollbacks(f->store) != f->rollbacks) {
		f->rollbacks = store_rollbacks(f->store);
		f->cursor = 0;
	}
	f->more = fo_pump(f);
}

static int64_t fo_deadline(const void *u)
{
	const struct fileout *f = u;

	if (f->retry_at_ms >= 0)
		return f->retry_at_ms;
	return f->more ? f->real_ms : -1;
}

static json_t *fo_status(const void *u, const struct store_stats *ss, int64_t now_wall_ms)
{
	const struct fileout *f = u;

	(void)ss;
	(void)now_wall_ms;
	return json_pack("{s:b, s:s, s:b, s:I, s:I, s:s}", "enabled", 1, "path", f->cfg.path,
			 "fsync", f->cfg.fsync, "rows", (json_int_t)f->rows, "bytes",
			 (json_int_t)f->bytes, "last_error", f->last_error);
}

/* Reopen on every reload: logrotate's postrotate sends SIGHUP. */
static int fo_reconfigure(void *u, const struct config *old, const struct config *fresh)
{
	(void)u;
	(void)old;
	(void)fresh;
	return 1;
}

static int fo_enabled(const struct config *cfg)
{
	return cfg->fileout.enabled;
}

static void *fo_open(const struct config *cfg, const struct uplink_env *env)
{
	struct fileout *f = calloc(1, sizeof(*f));

	if (!f) {
		log_warn("file");
		return NULL;
	}
	f->cfg = cfg->fileout;
	f->store = env->store;
	f->retry_at_ms = -1;
	f->rollbacks = store_rollbacks(env->store);
	f->fd = open(f->cfg.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (f->fd < 0) {
		log_warn("file: %s", f->cfg.path);
		free(f);
		return NULL;
	}
	log_info("file: appending rows to %s", f->cfg.path);
	return f;
}

static void fo_close(void *u, const struct clock_now *now)
{
	struct fileout *f = u;

	(void)now;
	close(f->fd);
	free(f);
}

const struct uplink_ops fileout_uplink = {
    .name = "file",
    .status_key = "file",
    .bit = FILEOUT_BIT,
    .enabled = fo_enabled,
    .open = fo_open,
    .close = fo_close,
    .process = fo_process,
    .deadline = fo_deadline,
    .status = fo_status,
    .reconfigure = fo_reconfigure,
};
