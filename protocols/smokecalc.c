#include "protocols/smokecalc.h"

#include <math.h>

const struct smokecalc_table smokecalc_gb36886 = {
    .k =
	{
	    {3.00, 2.00, 1.61}, /* class I */
	    {2.00, 1.00, 0.80}, /* class II */
	    {0.50, 0.50, 0.50}, /* class III */
	},
};

int smokecalc_k_from_n(double n_pct, double path_m, double *k)
{
	if (!(n_pct >= 0 && n_pct < 100) || !(path_m > 0) || !k)
		return SMOKECALC_EDOMAIN;
	/* log1p keeps the precision of small opacities. */
	*k = -log1p(-n_pct / 100.0) / path_m;
	return SMOKECALC_OK;
}

int smokecalc_n_from_k(double k, double path_m, double *n_pct)
{
	if (!(k >= 0) || isinf(k) || !(path_m > 0) || !n_pct)
		return SMOKECALC_EDOMAIN;
	*n_pct = -100.0 * expm1(-k * path_m);
	return SMOKECALC_OK;
}

int smokecalc_class_of_stage(int stage)
{
	if (stage < 1 || stage > 6)
		return SMOKECALC_ERANGE;
	if (stage <= 2)
		return 0;
	return stage == 3 ? 1 : 2;
}

int smokecalc_band_of_power(double kw)
{
	if (!(kw > 0) || isinf(kw))
		return SMOKECALC_ERANGE;
	if (kw < 19)
		return 0;
	return kw < 37 ? 1 : 2;
}

int smokecalc_limit(const struct smokecalc_table *t, int stage, double rated_kw, double *k)
{
	int c = smokecalc_class_of_stage(stage), b = smokecalc_band_of_power(rated_kw);

	if (!t || !k)
		return SMOKECALC_EDOMAIN;
	if (c < 0 || b < 0)
		return SMOKECALC_ERANGE;
	*k = t->k[c][b];
	return SMOKECALC_OK;
}

const char *smokecalc_strerror(int err)
{
	switch (err) {
	case SMOKECALC_OK:
		return "ok";
	case SMOKECALC_EDOMAIN:
		return "value outside the domain of the formula";
	case SMOKECALC_ERANGE:
		return "stage or power outside the limit table";
	}
	return "unknown error";
}
