#include "gateway/sampler.h"

#include <math.h>

void sampler_record(const struct table *t, int64_t now_ms, struct payload_record *rec)
{
	double v;

	for (int inst = 0; inst < TABLE_INSTANCES; inst++)
		for (int s = 0; s < SIG_COUNT; s++)
			/* JSON has no inf or nan: such a value is absent, never an error. */
			if (table_get(t, (enum sig_id)s, inst, now_ms, &v) && isfinite(v))
				payload_record_set(rec, (enum sig_id)s, inst, v);
}
