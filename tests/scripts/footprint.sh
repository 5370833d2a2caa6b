#!/bin/bash
# footprint.sh [BUILD_DIR]: the footprint budget, part of make bench.
# Runs side by side, against one local mosquitto and one Modbus TCP server:
#   emgw demo job      CAN replay at recorded speed + MQTT over TLS + store
#                      (+ Modbus when emgwd has it; GPS: TODO hook below)
#   emgw Modbus-only   5 registers at 1 Hz to MQTT (when emgwd has Modbus)
#   collectd           the same Modbus-only job: Debian's collectd-core with
#                      its modbus and mqtt plugins
# FOOTPRINT_ROUNDS times (default 2), every job started afresh each round,
# and reports for each: peak RSS (VmHWM), PSS and USS at the end (from
# /proc/PID/smaps_rollup: USS = private clean + private dirty), wake-ups a
# second (voluntary context switches of all threads, /proc/PID/task/*/status,
# over the window), threads (most seen), CPU seconds
# per hour of data (utime+stime over the window, scaled), disk bytes written
# per hour (/proc/PID/io write_bytes, scaled), messages at the broker, and
# binary size: one table, median (min-max) of the rounds, with the ratios
# emgw/collectd (of the medians) for both jobs.  The window is
# FOOTPRINT_SECONDS (default 60) after the first message of every job, at
# recorded speed, so a second of window is a second of data.
# Prints figures; fails only when a job does not run or publishes nothing.
set -eu
B=${1:-build}
TOP=$PWD
SECS=${FOOTPRINT_SECONDS:-60}
HZ=$(getconf CLK_TCK)
# On disk, not tmpfs: write_bytes counts what reaches the block layer.
D=$(mktemp -d /var/tmp/emgw-footprint.XXXXXX)
# The run directory systemd's RuntimeDirectory= gives the shipped unit (RAM):
# emgwd rewrites status.json there, as deployed.
RUNDIR=$(mktemp -d /dev/shm/emgw-footprint.XXXXXX)
PIDS=""
EXTRA_CLEANUP=$RUNDIR
source "$TOP/tests/scripts/benchlib.sh"
die() { echo "footprint: $*" >&2; exit 1; }

[ -x "$TOP/$B/emgwd" ] || die "$B/emgwd is not built"
if ! command -v collectd >/dev/null || [ ! -e /usr/lib/collectd/modbus.so ]; then
	[ "$(id -u)" = 0 ] || die "collectd-core missing (run as root, or install it)"
	echo "footprint: installing collectd-core"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-o DPkg::Lock::Timeout=600 collectd-core >/dev/null
fi

# --- Peers: certificates, mosquitto (plain + TLS listener), Modbus server.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=emgw-bench-ca -keyout "$D/ca.key" -out "$D/ca.pem" >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
	-keyout "$D/srv.key" -out "$D/srv.csr" >/dev/null 2>&1
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$D/san.ext"
openssl x509 -req -in "$D/srv.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial \
	-days 2 -extfile "$D/san.ext" -out "$D/srv.pem" >/dev/null 2>&1 || die "openssl failed"

MQ=$(free_port)
MQS=$(free_port)
cat >"$D/mosquitto.conf" <<EOC
per_listener_settings false
allow_anonymous true
persistence false
log_dest stderr
user root
listener $MQ 127.0.0.1
listener $MQS 127.0.0.1
cafile $D/ca.pem
certfile $D/srv.pem
keyfile $D/srv.key
EOC
spawn "$D/mosquitto.log" mosquitto -c "$D/mosquitto.conf"
wait_for 10 port_open "$MQS" || { cat "$D/mosquitto.log"; die "mosquitto did not start"; }

MB=$(free_port)
spawn "$D/mbserver.log" /usr/bin/python3 "$TOP/tests/scripts/footprint_mbserver.py" "$MB"
wait_for 20 port_open "$MB" || { cat "$D/mbserver.log"; die "Modbus server did not start"; }

# Everything published, with topics, for counting and readiness.
spawn "$D/sub.log" mosquitto_sub -h 127.0.0.1 -p "$MQ" -v -t 'emgw/#' -t 'collectd/#'

# --- Job configurations.
"$TOP/$B/tests/tracegen" --duration $((SECS + 120)) --seed 11 --smoke-at 30 -o "$D/trace.log"

# The Modbus-only device, for emgwd: 5 holding registers at 1 Hz.  Uses the
# [bus]/[device "NAME"] sections and point profiles of gateway/config.c;
# validated with emgwd -n before use.
emgw_modbus_sections() {
	cat <<EOC
[bus "sim"]
type = tcp
host = 127.0.0.1
port = $MB
[device "meter"]
bus = sim
unit = 1
profile = $D/meter.profile
interval = 1
EOC
}
for i in 0 1 2 3 4; do printf '[point "r%d"]\ntable = holding\naddress = %d\ntype = u16\n' "$i" "$i"; done \
	>"$D/meter.profile"
# TODO(gps): when the demo adds GNSS, start gpsd here as
# tests/integration/lib.sh does and add its section in emgw_gps_sections.
emgw_gps_sections() { :; }

have_modbus=no
why_no_modbus="gateway/fieldbus.c is not in the tree yet"
if [ -f "$TOP/gateway/fieldbus.c" ]; then
	{ printf '[device]\nid = fp-check\nstate_dir = %s/check\n' "$D"; emgw_modbus_sections; } >"$D/check.conf"
	if "$TOP/$B/emgwd" -n -c "$D/check.conf" >"$D/check.out" 2>&1; then
		have_modbus=yes
	else
		why_no_modbus="emgwd -n refuses the bench's Modbus config (update emgw_modbus_sections): $(head -n 1 "$D/check.out")"
	fi
fi

# The demo job: as tests/scripts/demo.sh configures it, plus TLS.
{
	cat <<EOC
[device]
id = fp-demo
stage = 4
rated_power_kw = 110
state_dir = $D/demo
[can "engine"]
log = $D/trace.log
speed = 1
[mqtt]
host = localhost
port = $MQS
ca_file = $D/ca.pem
EOC
	[ "$have_modbus" = no ] || emgw_modbus_sections
	emgw_gps_sections
} >"$D/demo.conf"
"$TOP/$B/emgwd" -n -c "$D/demo.conf" >"$D/demo.check" 2>&1 || { cat "$D/demo.check"; die "demo config refused"; }

{
	printf '[device]\nid = fp-modbus\nstate_dir = %s/mbonly\n' "$D"
	emgw_modbus_sections
	printf '[mqtt]\nhost = 127.0.0.1\nport = %s\n' "$MQ"
} >"$D/mbonly.conf"

# collectd, set up for a small box: one read and one write thread, no other
# plugin; each register is one MQTT message (collectd has no record).
mkdir -p "$D/collectd"
{
	cat <<EOC
Hostname "fp-collectd"
FQDNLookup false
BaseDir "$D/collectd"
PIDFile "$D/collectd/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
Interval 1
ReadThreads 1
WriteThreads 1
AutoLoadPlugin false
LoadPlugin logfile
<Plugin logfile>
  LogLevel warning
  File STDERR
</Plugin>
LoadPlugin modbus
LoadPlugin mqtt
<Plugin modbus>
EOC
	for i in 0 1 2 3 4; do
		printf '  <Data "r%d">\n    RegisterBase %d\n    RegisterType Uint16\n    RegisterCmd ReadHolding\n    Type gauge\n    Instance "r%d"\n  </Data>\n' "$i" "$i" "$i"
	done
	cat <<EOC
  <Host "sim">
    Address "127.0.0.1"
    Port "$MB"
    Interval 1
    <Slave 1>
      Instance "meter"
      Collect "r0"
      Collect "r1"
      Collect "r2"
      Collect "r3"
      Collect "r4"
    </Slave>
  </Host>
</Plugin>
<Plugin mqtt>
  <Publish "broker">
    Host "127.0.0.1"
    Port $MQ
    ClientId "fp-collectd"
    QoS 1
    Prefix "collectd"
  </Publish>
</Plugin>
EOC
} >"$D/collectd.conf"
collectd -t -C "$D/collectd.conf" >"$D/collectd.check" 2>&1 || { cat "$D/collectd.check"; die "collectd config refused"; }

strip_size() { # size of a stripped copy of an executable or plugin
	cp "$1" "$D/strip.tmp" && strip --strip-unneeded "$D/strip.tmp" && stat -c %s "$D/strip.tmp"
}

# --- The rounds: every job started afresh (new store, new run directory),
# measured over the same window, stopped; peers stay up.
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; } # utime+stime
io_write() { awk '$1 == "write_bytes:" { print $2 }' "/proc/$1/io"; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# Voluntary context switches of every live thread: each is one sleep, so a
# wake-up.  Threads that end inside the window are not counted.
rollup_kb() { # rollup_kb PID Pss|Uss
	awk -v k="$2" '$1 == "Pss:" { p = $2 } $1 ~ /^Private_(Clean|Dirty):$/ { u += $2 }
		END { print (k == "Pss" ? p : u) + 0 }' "/proc/$1/smaps_rollup"
}
# Where RSS goes: RSS and USS (private clean + dirty) of PID's mappings in
# groups, one "GROUP RSS USS" line each (KiB): OpenSSL's two libraries, libc,
# SQLite, the program's own file, heap (brk heap, anonymous mappings: malloc's
# mmaps, thread stacks, .bss) and the other shared objects.
MAP_GROUPS="libcrypto libssl libc sqlite binary heap other"
map_groups() { # map_groups PID
	awk -v exe="$(readlink "/proc/$1/exe")" -v groups="$MAP_GROUPS" '
		/^[0-9a-f]+-[0-9a-f]+ / {
			p = $6
			g = p == "" || p ~ /^\[/ ? "heap" : p == exe ? "binary" : "other"
			if (p ~ /\/libcrypto\.so/) g = "libcrypto"
			if (p ~ /\/libssl\.so/) g = "libssl"
			if (p ~ /\/libc\.so/) g = "libc"
			if (p ~ /\/libsqlite3\.so/) g = "sqlite"
			if (p == "[vdso]" || p == "[vvar]" || p == "[vsyscall]") g = "other"
			next
		}
		$1 == "Rss:" { rss[g] += $2 }
		$1 ~ /^Private_(Clean|Dirty):$/ { uss[g] += $2 }
		END { n = split(groups, a, " "); for (i = 1; i <= n; i++) print a[i], rss[a[i]] + 0, uss[a[i]] + 0 }
	' "/proc/$1/smaps"
}
published() { grep -ac "^$1" "$D/sub.log" || true; }
has_published() { [ "$(published "$1")" -gt 0 ]; }
stop_job() { # stop_job PID: SIGTERM, then SIGKILL after 5 s
	kill "$1" 2>/dev/null || return 0
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$1" 2>/dev/null || true
}

JOBS="mbonly demo collectd"
[ "$have_modbus" = yes ] || JOBS="demo collectd"
ROUNDS=${FOOTPRINT_ROUNDS:-2}
FIG="$D/figures" # lines: job metric value, one a round
: >"$FIG"
run_round() { # run_round N
	local j pid topic t end
	rm -rf "$D/demo" "$D/mbonly" "$D/collectd" "$RUNDIR/demo" "$RUNDIR/mbonly"
	mkdir -p "$RUNDIR/demo" "$RUNDIR/mbonly" "$D/collectd"
	spawn "$D/demo.log" env RUNTIME_DIRECTORY="$RUNDIR/demo" "$TOP/$B/emgwd" -c "$D/demo.conf"
	PID_demo=$SPAWNED TOPIC_demo="emgw/fp-demo/"
	if [ "$have_modbus" = yes ]; then
		spawn "$D/mbonly.log" env RUNTIME_DIRECTORY="$RUNDIR/mbonly" "$TOP/$B/emgwd" -c "$D/mbonly.conf"
		PID_mbonly=$SPAWNED TOPIC_mbonly="emgw/fp-modbus/"
	fi
	spawn "$D/collectd.log" collectd -f -C "$D/collectd.conf"
	PID_collectd=$SPAWNED TOPIC_collectd="collectd/"
	for j in $JOBS; do
		pid=PID_$j topic=TOPIC_$j
		# A message of this round: more than at its start (a later round
		# finds the earlier rounds' messages in the log).
		eval "base_$j=$(published "${!topic}")"
		if ! wait_for 30 sh -c "[ \$(grep -ac '^${!topic}' '$D/sub.log') -gt $(eval echo "\$base_$j") ]"; then
			tail -n 20 "$D/$j.log"
			die "$j published nothing within 30 s"
		fi
		kill -0 "${!pid}" 2>/dev/null || { tail -n 20 "$D/$j.log"; die "$j died"; }
	done
	for j in $JOBS; do
		pid=PID_$j topic=TOPIC_$j
		eval "cpu0_$j=$(cpu_ticks "${!pid}") io0_$j=$(io_write "${!pid}") msg0_$j=$(published "${!topic}") cs0_$j=$(vcs_all "${!pid}") thr_$j=0"
		[ "$j" = collectd ] || eval "roles0_$j=\"$(vcs_roles "${!pid}")\""
	done
	echo "footprint: round $1 of $ROUNDS: measuring $JOBS for $SECS s"
	end=$(($(date +%s) + SECS))
	while [ "$(date +%s)" -lt "$end" ]; do
		for j in $JOBS; do
			pid=PID_$j thr=thr_$j
			kill -0 "${!pid}" 2>/dev/null || { tail -n 20 "$D/$j.log"; die "$j died during the window"; }
			t=$(status_kb "${!pid}" Threads)
			[ "$t" -le "${!thr}" ] || eval "thr_$j=$t"
		done
		sleep 1
	done
	for j in $JOBS; do
		pid=PID_$j topic=TOPIC_$j cpu0=cpu0_$j io0=io0_$j msg0=msg0_$j thr=thr_$j cs0=cs0_$j
		{
			echo "$j rss $(status_kb "${!pid}" VmHWM)"
			echo "$j pss $(rollup_kb "${!pid}" Pss)"
			echo "$j uss $(rollup_kb "${!pid}" Uss)"
			echo "$j thr ${!thr}"
			echo "$j cpu $(echo "($(cpu_ticks "${!pid}") - ${!cpu0}) / $HZ * 3600 / $SECS" | bc -l)"
			echo "$j wak $(echo "($(vcs_all "${!pid}") - ${!cs0}) / $SECS" | bc -l)"
			echo "$j io $(echo "($(io_write "${!pid}") - ${!io0}) * 3600 / $SECS / 1000000" | bc -l)"
			echo "$j msg $(echo "($(published "${!topic}") - ${!msg0}) / $SECS" | bc -l)"
			map_groups "${!pid}" | awk -v j="$j" '{ print j, "map_rss_" $1, $2; print j, "map_uss_" $1, $3 }'
		} >>"$FIG"
		# emgw's wake-ups by thread: "wk_main", "wk_modbus", "wk_paho", "wk_other"
		roles0=roles0_$j
		[ "$j" = collectd ] ||
			roles_rate "${!roles0}" "$(vcs_roles "${!pid}")" "$SECS" |
			awk -v j="$j" '{ for (i = 1; i < NF; i += 2) print j, "wk_" $i, $(i + 1) }' >>"$FIG"
	done
	for j in $JOBS; do pid=PID_$j; stop_job "${!pid}"; done
}
for r in $(seq "$ROUNDS"); do run_round "$r"; done

# --- The table: median (min-max) of the rounds; ratios of the medians.
values() { awk -v j="$1" -v m="$2" '$1 == j && $2 == m { print $3 }' "$FIG" | sort -g; }
median() { values "$1" "$2" | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
cell() { # cell JOB METRIC FORMAT: "median (min-max)"
	local v
	v=$(values "$1" "$2" | tr '\n' ' ')
	awk -v f="$3" -v med="$(median "$1" "$2")" -v v="$v" 'BEGIN {
		n = split(v, a, " ")
		s = sprintf(f, med)
		if (n > 1) s = s " (" sprintf(f, a[1]) "-" sprintf(f, a[n]) ")"
		print s }'
}
# ratio A B: A/B to two places, "n/a" when B is 0 (collectd's CPU over a
# short window can be under one clock tick).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
label() {
	case $1 in
	rss) echo "peak RSS, KiB" ;; pss) echo "PSS, KiB" ;; uss) echo "USS, KiB" ;;
	thr) echo "threads" ;; cpu) echo "CPU s/h" ;; wak) echo "wake-ups/s" ;;
	io) echo "MB/h written" ;; msg) echo "messages/s" ;;
	esac
}
fmt() { case $1 in rss | pss | uss | thr) echo "%.0f" ;; *) echo "%.1f" ;; esac; }

printf '\nfootprint, %s, %d rounds of %d s at recorded speed (median (min-max); ratios of the medians):\n' \
	"$(date -u +%Y-%m-%d)" "$ROUNDS" "$SECS"
hdr="| | emgw Modbus-only | emgw full job | collectd Modbus-only | Modbus-only / collectd | full / collectd |"
[ "$have_modbus" = yes ] || hdr="| | emgw full job | collectd Modbus-only | full / collectd |"
echo "$hdr"
sep="|"
for _ in $(seq $(($(echo "$hdr" | tr -cd '|' | wc -c) - 1))); do sep="$sep --- |"; done
echo "$sep"
for m in rss pss uss thr cpu wak io msg; do
	line="| $(label $m) |"
	for j in $JOBS; do line="$line $(cell "$j" "$m" "$(fmt $m)") |"; done
	for j in $JOBS; do
		[ "$j" != collectd ] || continue
		line="$line $(ratio "$(median "$j" "$m")" "$(median collectd "$m")") |"
	done
	echo "$line"
done
echo "(emgw Modbus-only and collectd: 5 holding registers at 1 Hz to MQTT; full job: CAN replay at" \
	"recorded speed + MQTT over TLS + store$([ "$have_modbus" = no ] || echo " + Modbus"); emgw stores every" \
	"record in SQLite, collectd stores nothing; binaries stripped: emgwd $(strip_size "$TOP/$B/emgwd") B," \
	"collectd with its 3 plugins $(($(strip_size /usr/sbin/collectd) + $(stat -c %s /usr/lib/collectd/modbus.so) +
		$(stat -c %s /usr/lib/collectd/mqtt.so) + $(stat -c %s /usr/lib/collectd/logfile.so))) B)"
[ "$have_modbus" = yes ] || echo "emgw Modbus-only job: not measured: $why_no_modbus"
# The wake-ups row above counts all threads; by thread, for emgw: the poll
# loop (main), the Modbus bus threads, paho's two (send, receive).
for j in $JOBS; do
	[ "$j" != collectd ] || continue
	printf 'emgw %s wake-ups/s by thread, median (min-max): main %s, Modbus %s, paho %s, other %s\n' \
		"$([ "$j" = mbonly ] && echo Modbus-only || echo "full job")" "$(cell "$j" wk_main %.2f)" \
		"$(cell "$j" wk_modbus %.2f)" "$(cell "$j" wk_paho %.2f)" "$(cell "$j" wk_other %.2f)"
done
# Where RSS goes, so the table explains itself: the same jobs, at the end
# of the window, by mapping group (median of the rounds).
printf '\nwhere RSS goes at the end of the window, KiB, RSS / USS (median of the rounds):\n'
hdr="| |"
for j in $JOBS; do
	case $j in mbonly) hdr="$hdr emgw Modbus-only |" ;; demo) hdr="$hdr emgw full job |" ;; *) hdr="$hdr $j |" ;; esac
done
echo "$hdr"
echo "$hdr" | sed 's/[^|][^|]*/ --- /g'
for g in $MAP_GROUPS; do
	line="| $g |"
	for j in $JOBS; do
		line="$line $(median "$j" "map_rss_$g" | xargs printf '%.0f') / $(median "$j" "map_uss_$g" | xargs printf '%.0f') |"
	done
	echo "$line"
done
echo "(heap: brk heap and anonymous mappings: malloc's own mmaps, thread stacks, .bss; other: the" \
	"remaining shared objects and files: ld.so, libm, paho, libmodbus, jansson, zlib, collectd's plugins" \
	"and libraries, SQLite's -shm)"
echo "one message of each job, as the broker got it:"
for j in $JOBS; do
	topic=TOPIC_$j
	grep -a "^${!topic}" "$D/sub.log" | grep -av '/status ' | tail -n 1 | cut -c 1-160 | sed 's/^/  /'
done
