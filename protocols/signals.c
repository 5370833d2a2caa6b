#include "protocols/signals.h"

#include <string.h>

static const char *const sig_names[SIG_COUNT] = {
    [SIG_VEHICLE_SPEED_KMH] = "vehicle_speed_kmh",
    [SIG_BARO_KPA] = "baro_kpa",
    [SIG_ENGINE_TORQUE_PCT] = "engine_torque_pct",
    [SIG_FRICTION_TORQUE_PCT] = "friction_torque_pct",
    [SIG_DEMAND_TORQUE_PCT] = "demand_torque_pct",
    [SIG_ENGINE_SPEED_RPM] = "engine_speed_rpm",
    [SIG_FUEL_RATE_LPH] = "fuel_rate_lph",
    [SIG_NOX_UP_PPM] = "nox_up_ppm",
    [SIG_NOX_DOWN_PPM] = "nox_down_ppm",
    [SIG_DEF_LEVEL_PCT] = "def_level_pct",
    [SIG_INTAKE_AIR_KGPH] = "intake_air_kgph",
    [SIG_EGR_FLOW_KGPH] = "egr_flow_kgph",
    [SIG_SCR_IN_C] = "scr_in_c",
    [SIG_SCR_OUT_C] = "scr_out_c",
    [SIG_DPF_DP_KPA] = "dpf_dp_kpa",
    [SIG_COOLANT_C] = "coolant_c",
    [SIG_FUEL_TEMP_C] = "fuel_temp_c",
    [SIG_OIL_TEMP_C] = "oil_temp_c",
    [SIG_FUEL_LEVEL_PCT] = "fuel_level_pct",
    [SIG_ODOMETER_KM] = "odometer_km",
    [SIG_ENGINE_HOURS_H] = "engine_hours_h",
    [SIG_ENGINE_LOAD_PCT] = "engine_load_pct",
    [SIG_ACCEL_PEDAL_PCT] = "accel_pedal_pct",
    [SIG_BOOST_KPA] = "boost_kpa",
    [SIG_INTAKE_MANIFOLD_C] = "intake_manifold_c",
    [SIG_AIR_INLET_KPA] = "air_inlet_kpa",
    [SIG_AIR_FILTER_DP_KPA] = "air_filter_dp_kpa",
    [SIG_EXHAUST_C] = "exhaust_c",
    [SIG_AMBIENT_C] = "ambient_c",
    [SIG_AIR_INLET_C] = "air_inlet_c",
    [SIG_EGR_POS_PCT] = "egr_pos_pct",
    [SIG_OPACITY_PCT] = "opacity_pct",
    [SIG_OPACITY_K_M1] = "opacity_k_m1",
    [SIG_LAMBDA] = "lambda",
    [SIG_GPS_ODOMETER_KM] = "gps_odometer_km",
    [SIG_DPF_REGEN] = "dpf_regen",
};

const char *sig_name(enum sig_id id)
{
	if ((unsigned)id >= SIG_COUNT)
		return "?";
	return sig_names[id];
}

int sig_lookup(const char *name)
{
	for (int i = 0; i < SIG_COUNT; i++)
		if (strcmp(sig_names[i], name) == 0)
			return i;
	return -1;
}
