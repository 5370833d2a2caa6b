/* mqtt: the MQTT uplink (paho MQTTAsync, MQTT 3.1.1 or 5, persistence off:
 * the store is the persistence).  Reads rows through its own store bit and
 * cursors (live rows first, the backlog behind at a bounded rate), publishes
 * them QoS 1, one record or a batch a message, and acknowledges them to the
 * store on PUBACK.  Receives remote commands and hands them out; never
 * executes one.  paho's threads only queue notes and commands for the main
 * thread; everything else runs on the main thread.  Touches no other
 * module's state. */
#ifndef EMGW_MQTT_H
#define EMGW_MQTT_H

#include "gateway/uplink.h"

#define MQTT_BIT 0 /* its bit in the store's acknowledgement mask */

extern const struct uplink_ops mqtt_uplink;

#endif
