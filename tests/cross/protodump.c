/*
 * protodump: the pure protocol code alone, for targets whose -dev packages
 * cannot be had (check-cross builds it with only a cross compiler and libc).
 * Reads a candump log on stdin and prints every parse and decode result in a
 * fixed text form (values with 17 significant digits), so that the output
 * on a target under qemu-user can be compared byte for byte with the
 * native one: endianness, alignment, char signedness, long and time_t width.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "protocols/candec.h"
#include "protocols/candump.h"
#include "protocols/signals.h"

static struct candec dec;

static void protodump_msg(const struct candec_msg *m)
{
	printf(" kind=%d pgn=%" PRIu32 " sa=%u da=%u inst=%d name=%s tp=%d", (int)m->kind, m->pgn,
	       m->sa, m->da, m->instance, m->name ? m->name : "-", m->reassembled);
	for (int i = 0; i < m->n; i++)
		printf(" %s=%.17g", sig_name(m->v[i].sig), m->v[i].value);
	printf(" na=%d err=%d res=%d", m->n_na, m->n_error, m->n_reserved);
	if (m->kind == CANDEC_DM1) {
		printf(" dm1 mil=%d amber=%d n=%d", (int)m->dm1.mil, (int)m->dm1.amber,
		       m->dm1.n_dtcs);
		for (int i = 0; i < m->dm1.n_dtcs && i < J1939DM_MAX_DTCS; i++)
			printf(" spn=%" PRIu32 ",fmi=%u,oc=%u", m->dm1.dtc[i].spn,
			       (unsigned)m->dm1.dtc[i].fmi, (unsigned)m->dm1.dtc[i].oc);
	}
	if (m->kind == CANDEC_VIN)
		printf(" vin=%s", m->vin);
	if (m->kind == CANDEC_CLAIM)
		printf(" name=%016" PRIx64, m->claim.raw);
}

int main(int argc, char **argv)
{
	char line[512];
	unsigned long n = 0;

	if (argc > 1 && strcmp(argv[1], "--abi") == 0) {
		/* What this target's C ABI is, for the report (not compared). */
		printf("long %zu bytes, time_t %zu bytes, pointer %zu bytes, char %s\n",
		       sizeof(long), sizeof(time_t), sizeof(void *),
		       CHAR_MIN < 0 ? "signed" : "unsigned");
		return 0;
	}
	candec_init(&dec);
	while (fgets(line, sizeof(line), stdin)) {
		struct candump_frame f;
		struct candec_msg m;
		int rc;

		n++;
		line[strcspn(line, "\n")] = '\0';
		rc = candump_parse_line(line, &f);
		printf("%lu rc=%d", n, rc);
		if (rc == CANDUMP_OK) {
			printf(" t=%" PRId64 " id=%08" PRIx32 " len=%u", f.t_us, f.can_id,
			       (unsigned)f.len);
			if (f.extended && !f.rtr) {
				rc = candec_frame(&dec, f.can_id, f.data, f.len, f.t_us / 1000, &m);
				printf(" dec=%d", rc);
				if (rc == 1)
					protodump_msg(&m);
				else if (rc < 0)
					printf(" why=%s", m.err ? m.err : "-");
			}
		} else {
			printf(" %s", candump_strerror(rc));
		}
		putchar('\n');
	}
	return 0;
}
