#include "gateway/sampler.h"

#include <stdio.h>

json_t *sampler_record(const struct table *t, int64_t now_ms)
{
	json_t *sig = json_object();
	char name[64];
	double v;

	if (!sig)
		return NULL;
	for (int inst = 0; inst < TABLE_INSTANCES; inst++)
		for (int s = 0; s < SIG_COUNT; s++) {
			if (!table_get(t, (enum sig_id)s, inst, now_ms, &v))
				continue;
			if (inst == 0)
				snprintf(name, sizeof(name), "%s", sig_name((enum sig_id)s));
			else
				snprintf(name, sizeof(name), "%s@%d", sig_name((enum sig_id)s),
					 inst);
			json_object_set_new(sig, name, json_real(v));
		}
	return json_pack("{s:o}", "sig", sig);
}
