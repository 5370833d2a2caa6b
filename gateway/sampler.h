/* sampler: turns the signal table into the signals of one record (only
 * fresh, valid values).  Reads the table; writes nothing but the record it
 * is given. */
#ifndef EMGW_SAMPLER_H
#define EMGW_SAMPLER_H

#include <stdint.h>

#include "gateway/table.h"
#include "protocols/payload.h"

_Static_assert(TABLE_INSTANCES <= PAYLOAD_INSTANCES, "a record holds every engine instance");

/* Set every fresh value of the table in rec (the second and later engine
 * instances go out as "name@N"). */
void sampler_record(const struct table *t, int64_t now_ms, struct payload_record *rec);

#endif
