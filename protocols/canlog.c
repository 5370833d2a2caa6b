#include "protocols/canlog.h"

enum canlog_kind canlog_parse(const char *line, struct canlog_line *out)
{
	int rc;

	if (canboat_looks_like(line)) {
		rc = canboat_parse_line(line, &out->msg);
		if (rc == CANBOAT_SKIP)
			return out->kind = CANLOG_SKIP;
		if (rc < 0) {
			out->why = canboat_strerror(rc);
			return out->kind = CANLOG_BAD;
		}
		out->has_time = out->msg.has_time;
		out->t_us = out->msg.t_us;
		return out->kind = CANLOG_N2K;
	}
	rc = candump_parse_line(line, &out->frame);
	if (rc == CANDUMP_SKIP)
		return out->kind = CANLOG_SKIP;
	if (rc < 0) {
		out->why = candump_strerror(rc);
		return out->kind = CANLOG_BAD;
	}
	out->has_time = out->frame.has_time;
	out->t_us = out->frame.t_us;
	return out->kind = CANLOG_FRAME;
}

enum canlog_kind canlog_too_long(struct canlog_line *out)
{
	out->why = "line too long";
	return out->kind = CANLOG_BAD;
}
