/* Unit tests of gateway/hjdecode.c (--hj-decode): garbage between frames is
 * one error line a region, with its offset and length, and the frames
 * around it still decode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/hjdecode.h"

/* The login frame of tests/unit/test_hjframe.c, as hex: 53 bytes. */
#define LOGIN                                                                                      \
	"2323014C5A595442544436304B313030303030310101001C170B0F060D140001383938363030313233343536" \
	"3738"                                                                                     \
	"3930313233342E"

/* P2 of shared/spec/hj-public-frames.md (GB 17691 Q1, ISO 27145 DTCs) */
#define PUB_P2                                                                                     \
	"2323024C47444348413147384D41313237373333010100AD15080E082F230100010100ABDEA9D64C47444348" \
	"413147384D4131323737333359435933303136352D363020202020200000EC40A1BF00000000000000000000" \
	"0000000000000000000000000000000000000000000000000000000000000000000000000000000007145600" \
	"AFE00200AFE06200AFE00900AF204700AF245500AFE01200AF0200010000C57D830000000000000000610000" \
	"FEFFFEFFFEFF3D000006AFD31701EA55FE000000289F"
/* P4 of shared/spec/hj-public-frames.md (GB 17691 Q2) */
#define PUB_P4                                                                                     \
	"2323024C57485445535431323334353637383935110101131306030F193B000401010000EB00804C57485445" \
	"5354313233343536373839353630313630332D4532303030303030303030545A574830303030583030303030" \
	"3030303031303230313032300000000000000000000000000000000000000000000000000000000000203131" \
	"3030303341424230333346464141434430333839434345443132394544002032323030424330334142423033" \
	"33464641414344453830383943434544314544022621CA98B41B5601631CA8109AAA00172BAA2A2204A25B54" \
	"000686C1D7020D043F00002AFD20313130303033414242303333464641414344303338394343454431323945" \
	"44002032323030424330334142423033334646414143444538303839434345443145445F"
/* gb_q1_resend of tests/unit/test_hjframe.c (J1939 DTC SPN 100 FMI 1 OC 5) */
#define GB_Q1_RESEND                                                                               \
	"2323034C5A595442544436304B3130303030303101010095170B0F060D140100080201000100024C5A595442" \
	"544436304B3130303030303143414C2D310000000000000000000000000043564E2D31000000000000000000" \
	"00000000FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF01640001" \
	"050200090C80C8AF872EE001332328FFFFC82EE047A0FFFF00197D7D00073D8AA501DC89D00001E240BD"

/* Decode hex as variant; the output lines parsed into an array. */
static json_t *decode_as(const char *hex, const char *variant, int *rc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	json_t *lines = json_array();
	char *line, *save = NULL;

	assert_non_null(out);
	*rc = hjdecode_run(hex, variant, NULL, NULL, 8 * 3600, out);
	fclose(out);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(line, 0, NULL);

		assert_non_null(o);
		json_array_append_new(lines, o);
	}
	free(text);
	return lines;
}

static json_t *decode(const char *hex, int *rc)
{
	return decode_as(hex, "nrmm", rc);
}

static void test_garbage_regions(void **state)
{
	/* 200 garbage bytes, a frame, 4 garbage bytes with a lone '#', a frame. */
	char hex[1024] = "";
	json_t *lines, *e;
	int rc;

	(void)state;
	for (int i = 0; i < 200; i++)
		strcat(hex, "A5");
	strcat(hex, LOGIN "AABB23CC" LOGIN);
	lines = decode(hex, &rc);
	assert_int_equal(rc, 1);
	assert_int_equal(json_array_size(lines), 4);
	e = json_array_get(lines, 0);
	assert_string_equal(json_string_value(json_object_get(e, "error")), "no \"##\" start");
	assert_int_equal(json_integer_value(json_object_get(e, "offset")), 0);
	assert_int_equal(json_integer_value(json_object_get(e, "length")), 200);
	assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 1), "command")),
			    "login");
	e = json_array_get(lines, 2);
	assert_int_equal(json_integer_value(json_object_get(e, "offset")), 253);
	assert_int_equal(json_integer_value(json_object_get(e, "length")), 4);
	assert_string_equal(json_string_value(json_object_get(e, "bytes")), "aabb23cc");
	assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 3), "command")),
			    "login");
	json_decref(lines);
}

static void test_clean_and_cut(void **state)
{
	json_t *lines, *e;
	int rc;

	(void)state;
	lines = decode(LOGIN, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(json_array_size(lines), 1);
	json_decref(lines);
	/* A frame cut short at the end: one error for the rest. */
	lines = decode("0102" LOGIN "2323", &rc);
	assert_int_equal(rc, 1);
	assert_int_equal(json_array_size(lines), 3);
	e = json_array_get(lines, 2);
	assert_int_equal(json_integer_value(json_object_get(e, "offset")), 55);
	assert_int_equal(json_integer_value(json_object_get(e, "length")), 2);
	json_decref(lines);
}

static const char *str_at(json_t *o, const char *path)
{
	json_t *v = o;
	char buf[128], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && v; tok = strtok_r(NULL, ".", &save))
		v = json_is_array(v) ? json_array_get(v, (size_t)strtol(tok, NULL, 10))
				     : json_object_get(v, tok);
	return v && json_is_string(v) ? json_string_value(v) : NULL;
}

static json_int_t int_at(json_t *o, const char *path)
{
	json_t *v = o;
	char buf[128], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && v; tok = strtok_r(NULL, ".", &save))
		v = json_is_array(v) ? json_array_get(v, (size_t)strtol(tok, NULL, 10))
				     : json_object_get(v, tok);
	assert_true(v && json_is_integer(v));
	return json_integer_value(v);
}

/* DTCs in the form the protocol byte says; CAL ID, CVN, IUPR shown. */
static void test_dtc_forms_calid(void **state)
{
	json_t *lines, *f;
	int rc;

	(void)state;
	lines = decode_as(PUB_P2, "gb17691", &rc);
	assert_int_equal(rc, 0);
	f = json_array_get(lines, 0);
	assert_string_equal(str_at(f, "layout"), "Q1");
	assert_string_equal(str_at(f, "info.0.protocol"), "ISO 27145");
	assert_string_equal(str_at(f, "info.0.dtcs.0.form"), "ISO 27145");
	assert_string_equal(str_at(f, "info.0.dtcs.0.code"), "P1456-00");
	assert_int_equal(int_at(f, "info.0.dtcs.0.status"), 0xAF);
	assert_string_equal(str_at(f, "info.0.dtcs.1.code"), "U2002-00");
	assert_null(json_object_get(
	    json_array_get(json_object_get(json_array_get(json_object_get(f, "info"), 0), "dtcs"),
			   0),
	    "spn"));
	assert_string_equal(str_at(f, "info.0.cal_id"), "YCY30165-60");
	assert_string_equal(str_at(f, "info.0.cvn.hex"), "ec40a1bf0000000000000000000000000000");
	assert_int_equal(int_at(f, "info.0.iupr.obd_cond"), 0);
	assert_int_equal(int_at(f, "info.0.serial"), 1);
	assert_int_equal(int_at(f, "info.1.serial"), 1);
	json_decref(lines);

	lines = decode_as(GB_Q1_RESEND, "gb17691", &rc);
	assert_int_equal(rc, 0);
	f = json_array_get(lines, 0);
	assert_string_equal(str_at(f, "info.0.dtcs.0.form"), "J1939");
	assert_int_equal(int_at(f, "info.0.dtcs.0.spn"), 100);
	assert_int_equal(int_at(f, "info.0.dtcs.0.fmi"), 1);
	assert_int_equal(int_at(f, "info.0.dtcs.0.oc"), 5);
	assert_string_equal(str_at(f, "info.0.cal_id"), "CAL-1");
	assert_string_equal(str_at(f, "info.0.cvn"), "CVN-1");
	assert_true(json_is_null(json_object_get(json_array_get(json_object_get(f, "info"), 0),
						 "iupr"))); /* all 0xFFFF */
	json_decref(lines);

	/* Q2 found without being asked for; each unit's signature shown. */
	lines = decode_as(PUB_P4, "gb17691", &rc);
	assert_int_equal(rc, 0);
	f = json_array_get(lines, 0);
	assert_string_equal(str_at(f, "layout"), "Q2");
	assert_int_equal(int_at(f, "serial"), 4);
	assert_string_equal(str_at(f, "info.0.cvn"), "TZWH0000X000000000");
	assert_true(json_is_true(json_object_get(
	    json_object_get(json_array_get(json_object_get(f, "info"), 1), "signature"),
	    "present")));
	json_decref(lines);
	lines = decode_as(PUB_P4, "gb17691-q1", &rc);
	assert_int_equal(rc, 1);
	json_decref(lines);
}

/* A frame given to the wrong variant: the error says which one takes it. */
static void test_wrong_variant(void **state)
{
	json_t *lines, *e;
	int rc;

	(void)state;
	lines = decode_as(PUB_P2, "road", &rc);
	assert_int_equal(rc, 1);
	e = json_array_get(lines, 0);
	assert_non_null(str_at(e, "error"));
	assert_string_equal(str_at(e, "variant"), "road");
	assert_string_equal(str_at(e, "hint"),
			    "not a road frame: it decodes as gb17691 (--variant gb17691)");
	json_decref(lines);
	lines = decode_as(GB_Q1_RESEND, "nrmm", &rc);
	assert_int_equal(rc, 1);
	assert_string_equal(str_at(json_array_get(lines, 0), "hint"),
			    "not a nrmm frame: it decodes as gb17691 (--variant gb17691)");
	json_decref(lines);
	lines = decode_as(LOGIN, "bogus", &rc);
	assert_int_equal(rc, -1);
	json_decref(lines);
}

/* Encryption flag 0x03: reported as encrypted with its bytes, not parsed. */
static void test_encrypted(void **state)
{
	/* LOGIN with the flag 0x01 -> 0x03: BCC 0x2E ^ 0x01 ^ 0x03 = 0x2C. */
	static const char enc[] =
	    "2323014C5A595442544436304B313030303030310103001C170B0F060D1400013839383630303132"
	    "33343536373839303132333"
	    "42C";
	json_t *lines, *f;
	int rc;

	(void)state;
	lines = decode(enc, &rc);
	assert_int_equal(rc, 0);
	f = json_array_get(lines, 0);
	assert_true(json_is_true(json_object_get(f, "encrypted")));
	assert_int_equal(int_at(f, "encryption"), 3);
	assert_string_equal(str_at(f, "body"),
			    "170b0f060d14000138393836303031323334353637383930313233"
			    "34");
	assert_null(json_object_get(f, "iccid"));
	assert_null(json_object_get(f, "serial"));
	json_decref(lines);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_garbage_regions), cmocka_unit_test(test_clean_and_cut),
	    cmocka_unit_test(test_dtc_forms_calid), cmocka_unit_test(test_wrong_variant),
	    cmocka_unit_test(test_encrypted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
