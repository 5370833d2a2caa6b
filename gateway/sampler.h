/* sampler: turns the signal table into the body of one record (only fresh,
 * valid values).  Reads the table; writes nothing but the body it returns. */
#ifndef EMGW_SAMPLER_H
#define EMGW_SAMPLER_H

#include <jansson.h>
#include <stdint.h>

#include "gateway/table.h"

/* {"sig":{name: value, ...}}; the second and later engine instances appear as
 * "name@N".  NULL only when out of memory. */
json_t *sampler_record(const struct table *t, int64_t now_ms);

#endif
