/* smokecalc: the arithmetic of smoke limits.  Opacity N (%) <-> light
 * absorption coefficient k (m^-1) by Beer-Lambert, and the GB 36886-2018
 * in-use limit of a machine from its emission stage and rated power.
 * Pure: numbers in, numbers out; no I/O, no globals, no allocation. */
#ifndef EMGW_SMOKECALC_H
#define EMGW_SMOKECALC_H

enum {
	SMOKECALC_OK = 0,
	SMOKECALC_EDOMAIN = -1, /* N outside [0, 100), k < 0, or a path length <= 0 */
	SMOKECALC_ERANGE = -2,	/* stage or power outside the table */
};

#define SMOKECALC_PATH_M 0.430 /* the usual normalised effective optical path length */

/* GB 36886 classes (I: stage II and earlier, II: stage III, III: stage IV
 * and later) by power band (< 19 kW, 19..37 kW, >= 37 kW), k in m^-1. */
#define SMOKECALC_CLASSES 3
#define SMOKECALC_BANDS	  3

struct smokecalc_table {
	double k[SMOKECALC_CLASSES][SMOKECALC_BANDS];
};

/* The table of the spec (values UNCONFIRMED: defaults, overridable). */
extern const struct smokecalc_table smokecalc_gb36886;

/* k = -(1/L) ln(1 - N/100).  N = 100 % is infinite k: refused. */
int smokecalc_k_from_n(double n_pct, double path_m, double *k);
/* N = 100 (1 - exp(-k L)). */
int smokecalc_n_from_k(double k, double path_m, double *n_pct);
/* GB 36886 class index (0: I, 1: II, 2: III) of a China emission stage:
 * 1-2 non-road -> I, 3 -> II, 4 -> III; road stages 5-6 -> III (the
 * strictest class stands in for GB 3847, which the table does not cover). */
int smokecalc_class_of_stage(int stage);
/* Power band index of a rated power in kW. */
int smokecalc_band_of_power(double kw);
/* The limit k (m^-1) for stage and rated power from t. */
int smokecalc_limit(const struct smokecalc_table *t, int stage, double rated_kw, double *k);
/* Text for a negative code. */
const char *smokecalc_strerror(int err);

#endif
