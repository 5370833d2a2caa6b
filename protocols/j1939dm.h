/* j1939dm: J1939 diagnostic and identity payloads: DM1 active trouble codes
 * (PGN 65226), DM5 diagnostic readiness (65230), DM19 calibration
 * information (54016), DM20 monitor performance ratios (49664), the VIN
 * (PGN 65260) and the address-claim NAME (PGN 60928).
 * Pure: bytes in, values out; no I/O, no allocation.  Multi-frame payloads
 * come reassembled from j1939tp. */
#ifndef EMGW_J1939DM_H
#define EMGW_J1939DM_H

#include <stddef.h>
#include <stdint.h>

#define J1939DM_PGN_DM1	       65226u
#define J1939DM_PGN_VIN	       65260u
#define J1939DM_PGN_ADDR_CLAIM 60928u
#define J1939DM_MAX_DTCS       64
#define J1939DM_PGN_DM5	       65230u
#define J1939DM_PGN_DM19       54016u
#define J1939DM_PGN_DM20       49664u
#define J1939DM_MAX_CALS       8  /* DM19 calibrations kept */
#define J1939DM_MAX_RATIOS     32 /* DM20 monitors kept */

enum {
	J1939DM_OK = 0,
	J1939DM_EINVAL = -1, /* bad argument */
	J1939DM_ESHORT = -2, /* payload too short */
	J1939DM_EVIN = -3,   /* VIN empty or with a character that is not printable ASCII */
	J1939DM_ESPACE = -4, /* output buffer too small */
};

/* A lamp's 2-bit state (J1939-73). */
enum j1939dm_lamp {
	J1939DM_LAMP_OFF = 0,
	J1939DM_LAMP_ON = 1,
	J1939DM_LAMP_ERROR = 2,
	J1939DM_LAMP_NA = 3,
};

/* A lamp's 2-bit flash state (byte 2). */
enum j1939dm_flash {
	J1939DM_FLASH_SLOW = 0, /* 1 Hz */
	J1939DM_FLASH_FAST = 1, /* 2 Hz */
	J1939DM_FLASH_RESERVED = 2,
	J1939DM_FLASH_NONE = 3, /* unavailable / do not flash */
};

struct j1939dm_dtc {
	uint32_t spn; /* 19 bits */
	uint8_t fmi;  /* failure mode identifier, 5 bits */
	uint8_t oc;   /* occurrence count, 7 bits (127: not available) */
	uint8_t cm;   /* conversion method bit as sent: 1 = older layout, see .c */
	uint8_t raw[4];
};

struct j1939dm_dm1 {
	enum j1939dm_lamp protect, amber, red_stop, mil;
	enum j1939dm_flash flash_protect, flash_amber, flash_red_stop, flash_mil;
	int n_dtcs;	 /* active faults in dtc[] (0: no active fault) */
	int n_truncated; /* faults beyond J1939DM_MAX_DTCS, not in dtc[] */
	struct j1939dm_dtc dtc[J1939DM_MAX_DTCS];
};

/* The address-claim NAME, J1939-81. */
struct j1939dm_name {
	uint64_t raw;			 /* the 8 data bytes, little-endian */
	uint32_t identity;		 /* 21 bits */
	uint16_t manufacturer;		 /* 11 bits */
	uint8_t ecu_instance;		 /* 3 bits */
	uint8_t function_instance;	 /* 5 bits */
	uint8_t function;		 /* 8 bits */
	uint8_t reserved;		 /* 1 bit */
	uint8_t vehicle_system;		 /* 7 bits */
	uint8_t vehicle_system_instance; /* 4 bits */
	uint8_t industry_group;		 /* 3 bits */
	uint8_t arbitrary_address;	 /* 1 bit: arbitrary address capable */
};

/* DM5, diagnostic readiness 1 (J1939-73 5.7.5): 8 bytes. */
struct j1939dm_dm5 {
	uint8_t active, previously_active; /* DTC counts (0xFF: not available) */
	uint8_t obd_compliance;		   /* 0xFF: not available */
	uint8_t continuous;		   /* byte 4: bits 0-2 supported, 4-6 not complete */
	uint16_t nc_support; /* bytes 5-6: non-continuous monitors supported, byte 5 low */
	uint16_t nc_status;  /* bytes 7-8: 1 = not complete, byte 7 low */
};

/* One DM19 calibration: CVN (4 bytes as sent, least significant first) and
 * the calibration id (16 characters, NUL/space padding kept). */
struct j1939dm_cal {
	uint8_t cvn[4];
	char cal_id[17];
};

struct j1939dm_dm19 {
	int n;
	struct j1939dm_cal cal[J1939DM_MAX_CALS];
	int n_truncated;
};

/* DM20 (J1939-73 5.7.20): counters, then one ratio per monitor. */
struct j1939dm_ratio {
	uint32_t spn; /* 19 bits, J1939-73 version 4 layout */
	uint16_t num, den;
};

struct j1939dm_dm20 {
	uint16_t ign_cycles;	 /* ignition cycle counter */
	uint16_t obd_conditions; /* OBD monitoring conditions encountered */
	int n;
	struct j1939dm_ratio r[J1939DM_MAX_RATIOS];
	int n_truncated;
};

/* DM5 from data (8 bytes at least).  J1939DM_OK or J1939DM_ESHORT. */
int j1939dm_dm5_decode(const uint8_t *data, size_t len, struct j1939dm_dm5 *out);
/* DM19: every whole 20-byte entry.  J1939DM_ESHORT without one. */
int j1939dm_dm19_decode(const uint8_t *data, size_t len, struct j1939dm_dm19 *out);
/* DM20: 4 bytes of counters, then every whole 7-byte ratio.  J1939DM_ESHORT
 * under 4 bytes. */
int j1939dm_dm20_decode(const uint8_t *data, size_t len, struct j1939dm_dm20 *out);
/* The GB 17691 / HJ 1239 "diagnostic support" and "readiness" words from a
 * DM5: bits 0-12 the non-continuous monitors in DM5 order (catalyst ...
 * NMHC catalyst), bits 13-15 misfire, fuel system, comprehensive
 * components.  Readiness bits are DM5's: 1 = not complete. */
void j1939dm_dm5_obd_words(const struct j1939dm_dm5 *dm5, uint16_t *support, uint16_t *readiness);

/* Decode a DM1 payload (a single 8-byte frame or a reassembled one) of len
 * bytes into out.  "No active fault" entries (SPN 0 / FMI 0) and padding
 * (FF FF FF FF) are skipped; bytes after the last whole DTC are ignored.
 * J1939DM_OK, J1939DM_ESHORT under 6 bytes, or J1939DM_EINVAL. */
int j1939dm_dm1_decode(const uint8_t *data, size_t len, struct j1939dm_dm1 *out);

/* Copy the VIN in data (up to a '*' or the end) into vin as a C string.
 * Returns its length (> 0) or a negative code; vin is "" after an error. */
int j1939dm_vin_decode(const uint8_t *data, size_t len, char *vin, size_t vinsize);

/* Split an address-claim NAME (8 data bytes) into its fields. */
void j1939dm_name_decode(const uint8_t data[8], struct j1939dm_name *out);

/* Text for a code. */
const char *j1939dm_strerror(int err);
/* "off", "on", "error" or "na": a lamp's state as records and --decode name it. */
const char *j1939dm_lamp_name(enum j1939dm_lamp l);

#endif
