/* hjframe: frames of the China remote emission protocols, HJ 1322 (non-road
 * machinery, "nrmm"), HJ 1239 (road vehicles) and the GB 17691-2018 Annex Q
 * road layouts ("gb17691"): header, BCC, every command
 * body, the data stream and diagnostics information units, the signature
 * block.  Pure: bytes in, values out; no I/O, no allocation, no globals.
 * The layouts are those of shared/spec/china-remote-emission-protocol.md. */
#ifndef EMGW_HJFRAME_H
#define EMGW_HJFRAME_H

#include <stddef.h>
#include <stdint.h>

#define HJ_HDR_LEN     24    /* "##", command, VIN, version, encryption, length */
#define HJ_MAX_DATA    65531 /* data unit length at most */
#define HJ_VIN_LEN     17
#define HJ_ICCID_LEN   20
#define HJ_CHIPID_LEN  16
#define HJ_PUBKEY_LEN  64 /* X || Y */
#define HJ_SIG_PART    32 /* r, s: each left-padded to 32 bytes */
#define HJ_SIG_LEN     66 /* 0x20 r 0x20 s */
#define HJ_TIME_LEN    6
#define HJ_SERIAL_MAX  65531 /* serials run 1..65531, then start at 1 again */
#define HJ_MAX_INFO    16    /* information units in one report */
#define HJ_MAX_DTCS    32
#define HJ_STREAM_ROAD 37   /* data stream body, road */
#define HJ_STREAM_NRMM 28   /* data stream body, non-road */
#define HJ_ENC_NONE    0x01 /* encryption flag: not encrypted */
#define HJ_INVALID_FE  0xFE /* "invalid" of protocol and DTC count */
#define HJ_ALARM_LEN   18   /* removal alarm body: time, serial, position, status */

enum {
	HJ_OK = 0,
	HJ_ESHORT = -1,	  /* fewer bytes than the frame needs (read more) */
	HJ_ESTART = -2,	  /* no "##" start */
	HJ_ELEN = -3,	  /* data unit length does not match its content */
	HJ_ECMD = -4,	  /* unknown command for this variant */
	HJ_ETYPE = -5,	  /* unknown information type (its length is unknown) */
	HJ_ESPACE = -6,	  /* output buffer too small */
	HJ_EINVAL = -7,	  /* bad argument (time out of range, too many units) */
	HJ_ETOOLONG = -8, /* data unit longer than 65531 bytes */
};

/* Report layouts.  HJ_ROAD (HJ 1239): time + serial + {type + time + body}...
 * HJ_GB17691 (GB 17691-2018 Annex Q as road terminals implement it): time +
 * {type + unit serial + body}... ("Q1"), or, with unit signatures, time +
 * serial + {type + body + signature}... ("Q2").  Both road layouts share the
 * road data stream, diagnostics unit and commands. */
enum hj_variant { HJ_NRMM = 0, HJ_ROAD = 1, HJ_GB17691 = 2 };

/* hj_decode_opt flags. */
#define HJ_DEC_UNIT_SIG 0x01 /* gb17691: the Q2 layout (a signature after each unit) */

#define HJ_ENC_ENCRYPTED(e) ((e) >= 0x02 && (e) <= 0x05) /* RSA, SM2, ...: body not plain */

enum hj_cmd {
	HJ_CMD_LOGIN = 0x01,
	HJ_CMD_REALTIME = 0x02,
	HJ_CMD_RESEND = 0x03,
	HJ_CMD_LOGOUT = 0x04,
	HJ_CMD_05 = 0x05, /* nrmm: removal alarm; road: time sync */
	/* road: the spec gives no body.  We send HJ 1322's removal alarm body
	 * (time, serial, position, status: HJ_ALARM_LEN bytes), the one removal
	 * body a standard describes; decoded: that body parsed when it has that
	 * length (has_time set), and always kept raw (raw_body) */
	HJ_CMD_ROAD_REMOVAL = 0x06,
	HJ_CMD_ACTIVATE = 0x07,
	HJ_CMD_ACTIVATE_ANSWER = 0x08,
};

enum hj_info_type { HJ_INFO_DIAG = 0x01, HJ_INFO_STREAM = 0x02 };

/* Time fields: YY MM DD hh mm ss, year = 2000 + YY, in the platform's local
 * time (Beijing, UTC+8, by default). */
struct hj_time {
	uint8_t year, month, day, hour, minute, second;
};

/* Position: status bit 0 set = not valid, bit 1 = south, bit 2 = west;
 * longitude and latitude in 1e-6 degrees, unsigned, all ones when never known. */
#define HJ_POS_INVALID 0x01
#define HJ_POS_SOUTH   0x02
#define HJ_POS_WEST    0x04
struct hj_pos {
	uint8_t status;
	uint32_t lon, lat;
};

/* The data stream fields, in frame order; raw values are what the frame
 * holds, all ones meaning "invalid". */
enum hj_field {
	HJ_F_SPEED_KMH,
	HJ_F_BARO_KPA,
	HJ_F_TORQUE_PCT,
	HJ_F_FRICTION_PCT,
	HJ_F_ENGINE_RPM,
	HJ_F_FUEL_LPH,
	HJ_F_NOX_UP_PPM,
	HJ_F_NOX_DOWN_PPM,
	HJ_F_DEF_PCT,
	HJ_F_INTAKE_AIR_KGPH,
	HJ_F_SCR_IN_C,
	HJ_F_SCR_OUT_C,
	HJ_F_DPF_DP_KPA,
	HJ_F_COOLANT_C,
	HJ_F_FUEL_LEVEL_PCT,
	HJ_F_ODOMETER_KM, /* road only */
	HJ_F_EGR_PCT,	  /* nrmm only: EGR valve opening, actual */
	HJ_F_EGR_CMD_PCT, /* nrmm only: EGR valve opening, commanded */
	HJ_F_COUNT
};

struct hj_stream {
	uint32_t raw[HJ_F_COUNT];
	struct hj_pos pos; /* road only: the nrmm position sits in the report header */
};

/* Diagnostics (information type 0x01).  nrmm: protocol, lamp, DTCs.  Road
 * adds readiness, VIN, calibration ids, CVN and IUPR, kept as raw bytes. */
struct hj_diag {
	uint8_t protocol; /* 0 ISO 15765, 1 ISO 27145, 2 SAE J1939, 3 ISO 15031, 0xFE invalid */
	uint8_t mil;	  /* 0 off, 1 on, 2 flashing; 0xFF unknown */
	uint16_t support, readiness; /* road */
	uint8_t vin[HJ_VIN_LEN];     /* road */
	uint8_t cal_id[18], cvn[18]; /* road */
	uint8_t iupr[36];	     /* road */
	uint8_t n_dtcs;		     /* 0xFE: invalid (then no DTC follows) */
	uint32_t dtc[HJ_MAX_DTCS];   /* 4 bytes each, as on the wire */
};

/* IUPR counters (hj_diag.iupr), in the order of SAE J1979 InfoType 0x0B:
 * OBD conditions, ignition cycles, then a (completions, conditions) pair for
 * each of 8 monitor groups. */
enum {
	HJ_IUPR_OBD_COND = 0,
	HJ_IUPR_IGN_CYCLES = 1,
	HJ_IUPR_MONITORS = 2, /* the first pair */
	HJ_IUPR_PAIRS = 8,
	HJ_IUPR_COUNTERS = 18,
};

struct hj_info {
	uint8_t type;	     /* enum hj_info_type */
	struct hj_time time; /* road: every unit carries its sample's time; else the frame's */
	uint16_t serial;     /* gb17691 Q1: the unit's own serial */
	/* gb17691 Q2: the signature after the unit, over the frame's data unit
	 * from its time to the end of this unit's body (sig_off: its offset) */
	int has_sig;
	size_t sig_off;
	uint8_t sig_r[HJ_SIG_PART], sig_s[HJ_SIG_PART];
	union {
		struct hj_stream stream;
		struct hj_diag diag;
	} u;
};

/* One frame, either way.  Which body fields count depends on cmd. */
struct hj_frame {
	enum hj_variant variant;
	int unit_sig;  /* gb17691: the Q2 layout (set by hj_decode_opt, read by hj_encode) */
	int encrypted; /* encryption flag 0x02..0x05: the data unit is raw_body, raw_len */
	uint8_t cmd;
	char vin[HJ_VIN_LEN + 1];
	uint8_t sw_version;
	uint8_t encryption;
	/* Filled by hj_decode. */
	uint16_t data_len;
	int bcc_ok;
	size_t sig_off; /* signed: offset of the signature block in the frame */

	struct hj_time time;	      /* every command but 0x08 and road 0x05 requests */
	int has_time;		      /* road 0x05: request (0) or answer (1) */
	uint16_t serial;	      /* login, logout, reports, removal alarm */
	char iccid[HJ_ICCID_LEN + 1]; /* login (bytes as sent; may be non-ASCII) */
	struct hj_pos pos;	      /* nrmm report header, removal alarm */
	uint8_t removal_status;	      /* 0 diagnostics readable, 1 not readable */
	int n_info;
	struct hj_info info[HJ_MAX_INFO];
	char chip_id[HJ_CHIPID_LEN + 1]; /* activation */
	uint8_t pubkey[HJ_PUBKEY_LEN];	 /* activation */
	char act_vin[HJ_VIN_LEN + 1];	 /* activation */
	uint8_t result, reason;		 /* activation answer */
	const uint8_t *raw_body;	 /* road 0x06, encrypted: the data unit, in the input;
					  * NULL: encode road 0x06 from time, serial, pos, status */
	size_t raw_len;

	int has_sig;
	uint8_t sig_r[HJ_SIG_PART], sig_s[HJ_SIG_PART];
};

/* A field's description: name with its unit, resolution, offset, and the
 * raw value's size in bytes. */
struct hj_field_def {
	const char *name;
	const char *unit;
	uint8_t size;
	double res;
	double offset;
};

/* The description of field f, or NULL. */
const struct hj_field_def *hj_field(enum hj_field f);
/* Does variant v carry field f? */
int hj_field_in(enum hj_variant v, enum hj_field f);
/* The raw invalid value of field f (all ones of its size). */
uint32_t hj_field_invalid(enum hj_field f);
/* Every field invalid, position invalid. */
void hj_stream_init(struct hj_stream *s);
/* Set f from a physical value; a value the field cannot hold (out of range,
 * not finite) makes it invalid, never a clamped number.  0, or -1 when the
 * field was set invalid. */
int hj_stream_set(struct hj_stream *s, enum hj_field f, double value);
/* The physical value of f: 0 and *value, or -1 when f is invalid. */
int hj_stream_get(const struct hj_stream *s, enum hj_field f, double *value);

/* A text field of the diagnostics unit (VIN, CAL ID, CVN: n bytes): text
 * copied, the rest NUL; 0xFF (invalid) throughout when text is NULL. */
void hj_diag_text(uint8_t *field, size_t n, const char *text);
/* IUPR counter i (HJ_IUPR_*) of d, big-endian like every number. */
void hj_diag_iupr_set(struct hj_diag *d, int i, uint16_t v);

/* Position from degrees; valid = 0 keeps the numbers but flags them invalid
 * (the spec: send the last valid position with the invalid bit set). */
void hj_pos_set(struct hj_pos *p, int valid, double lat, double lon);
/* Never known: status invalid, numbers all ones. */
void hj_pos_unknown(struct hj_pos *p);
/* Degrees (signed) from p: 0, or -1 when the numbers are all ones. */
int hj_pos_get(const struct hj_pos *p, double *lat, double *lon);

/* Seconds since the epoch (UTC) to a time field offset_s seconds ahead of
 * UTC (Beijing: 8 * 3600).  HJ_EINVAL outside 2000..2255. */
int hj_time_from_unix(int64_t unix_s, int offset_s, struct hj_time *t);
/* The reverse; HJ_EINVAL when t is not a real date and time. */
int hj_time_to_unix(const struct hj_time *t, int offset_s, int64_t *unix_s);

/* XOR of n bytes. */
uint8_t hj_bcc(const uint8_t *p, size_t n);

/* Encode f into out (size bytes), including the signature block when
 * f->has_sig.  Returns the frame's length or a negative code. */
int hj_encode(const struct hj_frame *f, uint8_t *out, size_t size);
/* Append a signature block to the frame of len bytes in buf (as hj_encode
 * made it, unsigned): fixes the length and the BCC.  The signed bytes are
 * buf[HJ_HDR_LEN .. len - 1).  Returns the new length or a negative code. */
int hj_append_sig(uint8_t *buf, size_t size, size_t len, const uint8_t r[HJ_SIG_PART],
		  const uint8_t s[HJ_SIG_PART]);
/* Length of the frame starting at buf: > 0 when all of it is in the len
 * bytes, HJ_ESHORT when more are needed, HJ_ESTART without "##". */
int hj_frame_len(const uint8_t *buf, size_t len);
/* Decode one frame of variant v from buf.  Returns its length (> 0; f->bcc_ok
 * says whether the BCC matched), HJ_ESHORT when more bytes are needed, or a
 * negative code when the frame is malformed.  f may point into buf (raw_body). */
int hj_decode(const uint8_t *buf, size_t len, enum hj_variant v, struct hj_frame *f);
/* Decode with flags (HJ_DEC_*): as hj_decode.  A frame whose encryption
 * flag says encrypted is not parsed: f->encrypted, f->raw_body and raw_len. */
int hj_decode_opt(const uint8_t *buf, size_t len, enum hj_variant v, unsigned flags,
		  struct hj_frame *f);
/* HJ 1239 or GB 17691 (the road data stream and diagnostics unit)? */
int hj_variant_road(enum hj_variant v);
/* "nrmm", "road", "gb17691". */
const char *hj_variant_name(enum hj_variant v);
/* Command name ("login", "realtime", "removal_alarm", "time_sync", ...). */
const char *hj_cmd_name(enum hj_variant v, uint8_t cmd);
/* Text for a negative code. */
const char *hj_strerror(int err);

#endif
