/* signals: the canonical engine and emission signals, their names and units.
 * Pure data shared by every codec and by the gateway's signal table. */
#ifndef EMGW_SIGNALS_H
#define EMGW_SIGNALS_H

/* The order is the order of fields in records; names carry their unit. */
enum sig_id {
	SIG_VEHICLE_SPEED_KMH,
	SIG_BARO_KPA,
	SIG_ENGINE_TORQUE_PCT,	 /* actual engine torque, SPN 513 */
	SIG_FRICTION_TORQUE_PCT, /* nominal friction torque, SPN 514 */
	SIG_DEMAND_TORQUE_PCT,	 /* driver's demand torque, SPN 512 */
	SIG_ENGINE_SPEED_RPM,
	SIG_FUEL_RATE_LPH,
	SIG_NOX_UP_PPM,
	SIG_NOX_DOWN_PPM,
	SIG_DEF_LEVEL_PCT,
	SIG_INTAKE_AIR_KGPH,
	SIG_EGR_FLOW_KGPH,
	SIG_SCR_IN_C,
	SIG_SCR_OUT_C,
	SIG_DPF_DP_KPA,
	SIG_COOLANT_C,
	SIG_FUEL_TEMP_C,
	SIG_OIL_TEMP_C,
	SIG_FUEL_LEVEL_PCT,
	SIG_ODOMETER_KM,
	SIG_ENGINE_HOURS_H,
	SIG_ENGINE_LOAD_PCT,
	SIG_ACCEL_PEDAL_PCT,
	SIG_BOOST_KPA,
	SIG_INTAKE_MANIFOLD_C,
	SIG_AIR_INLET_KPA,
	SIG_AIR_FILTER_DP_KPA,
	SIG_EXHAUST_C,
	SIG_AMBIENT_C,
	SIG_AIR_INLET_C,
	SIG_EGR_POS_PCT,
	SIG_OPACITY_PCT,
	SIG_OPACITY_K_M1,
	SIG_LAMBDA,	     /* derived: excess-air ratio */
	SIG_GPS_ODOMETER_KM, /* distance from GNSS fixes, jitter while stopped ignored */
	SIG_DPF_REGEN,	     /* 1 while the DPF regenerates actively (SPN 3700), else 0 */
	SIG_COUNT
};

/* Name of a signal as it appears in records, e.g. "engine_speed_rpm". */
const char *sig_name(enum sig_id id);
/* Signal with that name, or -1. */
int sig_lookup(const char *name);

#endif
