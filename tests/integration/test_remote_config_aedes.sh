#!/bin/bash
# test_remote_config.sh against the second broker implementation, aedes
# (MQTT 3.1.1; skips with a clear line where npm cannot install it).
START_BROKER=start_aedes exec bash "$TOP/tests/integration/test_remote_config.sh"
