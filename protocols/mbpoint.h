/* mbpoint: one Modbus point (a named value in a device's register map) and
 * its decoding from raw registers or bits into a number or a string.
 * Pure: words in, value out; no I/O, no allocation, no globals. */
#ifndef EMGW_MBPOINT_H
#define EMGW_MBPOINT_H

#include <stddef.h>
#include <stdint.h>

#define MBPOINT_NAME_MAX   32 /* name, with its '\0' */
#define MBPOINT_UNIT_MAX   16
#define MBPOINT_MAX_STRING 32 /* registers of a string point (64 characters) */
#define MBPOINT_MAX_WIDTH  MBPOINT_MAX_STRING

enum {
	MBPOINT_OK = 0,
	MBPOINT_ESHORT = -1,   /* fewer registers than the point needs */
	MBPOINT_EINVAL = -2,   /* the point's definition is inconsistent */
	MBPOINT_ERANGE = -3,   /* decoded, but outside the validity range */
	MBPOINT_ENAN = -4,     /* a float that is NaN or infinite */
	MBPOINT_EUNKNOWN = -5, /* a name (table, type, order) not known */
};

/* The four Modbus data tables. */
enum mbpoint_table {
	MBPOINT_COIL,	  /* read/write bits, function 1 */
	MBPOINT_DISCRETE, /* read-only bits, function 2 */
	MBPOINT_INPUT,	  /* read-only registers, function 4 */
	MBPOINT_HOLDING,  /* read/write registers, function 3 */
};

enum mbpoint_type {
	MBPOINT_BOOL, /* a coil or discrete input, or bit `bit` of a register */
	MBPOINT_U16,
	MBPOINT_I16,
	MBPOINT_U32,
	MBPOINT_I32,
	MBPOINT_U64,
	MBPOINT_I64,
	MBPOINT_F32,
	MBPOINT_F64,
	MBPOINT_STRING, /* `count` registers, two characters each */
	MBPOINT_BITS,	/* `count` bits of one register from bit `bit` up */
};

/* A point as a profile defines it.  Ints rather than narrow types, so that a
 * table-driven parser can write every field the same way. */
struct mbpoint {
	char name[MBPOINT_NAME_MAX];
	char unit[MBPOINT_UNIT_MAX];
	int table;     /* enum mbpoint_table */
	int type;      /* enum mbpoint_type */
	int address;   /* 0-based protocol address, 0..65535 */
	int count;     /* string: registers; bits: field width */
	int bit;       /* bool in a register, bits: lowest bit, 0..15 */
	int word_swap; /* least significant register first */
	int byte_swap; /* low byte first within each register */
	double scale;  /* value = raw * scale + offset */
	double offset;
	int has_min, has_max;
	double min, max; /* validity range of the scaled value */
};

/* What a point held. */
struct mbpoint_value {
	int is_text;
	double value;			       /* numbers (strings: 0) */
	char text[2 * MBPOINT_MAX_STRING + 1]; /* strings, trailing NULs and blanks cut */
};

/* Registers (or bits) the point spans; 0 if its definition is inconsistent. */
int mbpoint_width(const struct mbpoint *p);
/* MBPOINT_OK if the definition is consistent: a type the table can hold,
 * count and bit in range, scale not zero, min <= max. */
int mbpoint_check(const struct mbpoint *p);
/* A point with scale 1 and everything else zero. */
void mbpoint_init(struct mbpoint *p);
/* Decode the point from words[0..n): registers, or bits as 0/1 for the bit
 * tables.  MBPOINT_ERANGE still fills out (the value a person may want to
 * see); other errors leave it undefined. */
int mbpoint_decode(const struct mbpoint *p, const uint16_t *words, size_t n,
		   struct mbpoint_value *out);
/* The inverse, for simulators and tests: put value (text for strings) into
 * the point's words[0..n), rounding integers to the nearest and clamping
 * them to the type's range.  Bool and bits change only their own bits. */
int mbpoint_encode(const struct mbpoint *p, double value, const char *text, uint16_t *words,
		   size_t n);

/* Names as profiles write them: "coil", "discrete", "input", "holding". */
int mbpoint_table_parse(const char *s, int *table);
const char *mbpoint_table_name(int table);
/* "bool", "u16" ... "f64", "string", "bits". */
int mbpoint_type_parse(const char *s, int *type);
const char *mbpoint_type_name(int type);
/* "ABCD" (big-endian, the Modbus default), "CDAB" (word swap), "BADC" (byte
 * swap), "DCBA" (both); also "big", "little", "word_swap", "byte_swap". */
int mbpoint_order_parse(const char *s, int *word_swap, int *byte_swap);
/* Text for a negative code. */
const char *mbpoint_strerror(int err);

#endif
