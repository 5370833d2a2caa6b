/* emgwd: the emission telematics gateway daemon.  main() reads the command
 * line and hands over to the daemon, the decoder or the status printer. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/config.h"
#include "gateway/daemon.h"
#include "gateway/decode.h"
#include "gateway/export.h"
#include "gateway/hjdecode.h"
#include "gateway/fieldbus.h"
#include "gateway/log.h"
#include "gateway/remote.h"
#include "gateway/selftest.h"
#include "gateway/seal.h"
#include "gateway/signer.h"
#include "gateway/status.h"
#include "gateway/store.h"
#include "gateway/verify.h"
#include "gateway/zones.h"

#define DEFAULT_CONFIG "/etc/emgw/emgw.conf"

static void usage(FILE *out)
{
	fputs("Usage: emgwd [-d] [-c FILE] [--stdout] [--exit-when-done]\n"
	      "       emgwd -n [-c FILE]\n"
	      "       emgwd --decode FILE\n"
	      "       emgwd --hj-decode [--variant nrmm|road|gb17691] [--hj-pubkey FILE] "
	      "HEX_OR_FILE\n"
	      "       emgwd --status [-c FILE] [--json]\n"
	      "       emgwd --selftest [-c FILE] [--seconds N] [--json]\n"
	      "       emgwd --poll-once [-c FILE]\n"
	      "       emgwd --pubkey [-c FILE]\n"
	      "       emgwd --verify [--key PUB.pem | -c FILE] FILE|-\n"
	      "       emgwd --export --from TIME --to TIME [--type TYPE] [-c FILE] [-o FILE]\n"
	      "       emgwd --export --svg SEQ|last [-c FILE] [-o FILE]\n"
	      "\n"
	      "Emission telematics gateway: reads the engine (J1939 over SocketCAN, or a\n"
	      "candump log), samples a record every period, detects black smoke, keeps\n"
	      "everything in an SQLite store and sends it to an MQTT broker.\n"
	      "\n"
	      "Options:\n"
	      "  -c, --config FILE   configuration file (default " DEFAULT_CONFIG ")\n"
	      "  -n, --check         check the configuration, print \"configuration OK\"\n"
	      "                      and exit 0; or list every error as FILE:LINE: text\n"
	      "                      and exit 78.  Also warns, without touching anything,\n"
	      "                      of what start-up would work around: a state_dir it\n"
	      "                      cannot write, a store it would move aside, key files\n"
	      "                      it cannot read\n"
	      "  -d, --debug         log debug messages\n"
	      "      --stdout        also print every record and event as one JSON line\n"
	      "                      on standard output\n"
	      "      --exit-when-done  exit once every replayed log has ended and the\n"
	      "                      store has nothing left to send\n"
	      "      --decode FILE   decode a candump log (- for stdin): one JSON line per\n"
	      "                      decoded J1939 message, then exit\n"
	      "      --hj-decode HEX_OR_FILE  decode HJ 1322 / HJ 1239 platform frames (hex\n"
	      "                      on the command line, or a file of hex lines or raw\n"
	      "                      bytes): one JSON line per frame; exit 1 if any is bad\n"
	      "      --variant nrmm|road|gb17691  frame layout for --hj-decode (default\n"
	      "                      nrmm): road is HJ 1239, gb17691 GB 17691 Annex Q\n"
	      "                      (gb17691-q1 / gb17691-q2 force one of its layouts)\n"
	      "      --hj-pubkey FILE  verify signatures with this SM2 public key (PEM)\n"
	      "      --hj-id ID      SM2 user id for --hj-pubkey (default the chip id\n"
	      "                      of GM/T 0009, 1234567812345678)\n"
	      "      --status        print the running daemon's state and exit\n"
	      "      --json          --status, --selftest: print one JSON object\n"
	      "      --selftest      check every configured part (CAN, Modbus, GNSS, clock,\n"
	      "                      store, MQTT, platform, systemd), one line a part with\n"
	      "                      ok/FAIL/skip and the next step; exit 0 if all pass\n"
	      "      --seconds N     time each --selftest part may take (default 15)\n"
	      "      --poll-once     read every configured Modbus device once and print\n"
	      "                      each point as one JSON line (value, unit, raw\n"
	      "                      registers, or the error); exit 0 if all answered\n"
	      "      --pubkey        print the public key of the seal key (PEM) and exit\n"
	      "      --verify FILE   prove saved messages (JSON lines, - for stdin)\n"
	      "                      against their seals: exit 0 only when every row is\n"
	      "                      there, unchanged, sealed and chained\n"
	      "      --key PUB.pem   the device's seal public key for --verify (default\n"
	      "                      the seal key under the state_dir of -c FILE); given\n"
	      "                      again for each older key (a seal names its key)\n"
	      "      --export        write the rows of a time range from the store (sent or\n"
	      "                      not, as [store] keep_sent keeps them) as JSON lines,\n"
	      "                      widened to whole seal ranges with their seals, so\n"
	      "                      that --verify proves the file; works beside a\n"
	      "                      running emgwd (reads the store read-only)\n"
	      "      --from TIME, --to TIME  the range (inclusive), ISO 8601 UTC\n"
	      "                      (2026-12-02T06:00:00Z) or epoch seconds\n"
	      "      --type TYPE     only rows of this type (smoke, zone-violation, ...)\n"
	      "                      choose the seal ranges written\n"
	      "      --svg SEQ|last  instead, draw the smoke end event at seq SEQ (or the\n"
	      "                      last one) as SVG: lambda, opacity, torque, boost and\n"
	      "                      speed against time, the episode shaded, the\n"
	      "                      threshold drawn, position and seal status under it\n"
	      "  -o, --output FILE   --export: write to FILE (default standard output)\n"
	      "  -V, --version       print the version and exit\n"
	      "  -h, --help          print this help and exit\n"
	      "\n"
	      "Signals: SIGTERM/SIGINT stop; SIGHUP reloads the configuration (a file\n"
	      "with errors is refused and the running one kept).\n"
	      "Exit status: 0 ok, 1 failure, 75 another emgwd runs on the same store,\n"
	      "78 configuration error.\n"
	      "See emgwd(8).\n",
	      out);
}

enum { OPT_STDOUT = 256, OPT_DECODE, OPT_STATUS, OPT_EXIT_DONE, OPT_POLL_ONCE };
enum { OPT_HJ_DECODE = 300, OPT_VARIANT, OPT_HJ_PUBKEY, OPT_HJ_ID };
enum { OPT_SELFTEST = 400, OPT_SECONDS, OPT_JSON, OPT_PUBKEY, OPT_VERIFY, OPT_KEY };
enum { OPT_EXPORT = 500, OPT_FROM, OPT_TO, OPT_TYPE, OPT_SVG };

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"check", no_argument, NULL, 'n'},
    {"debug", no_argument, NULL, 'd'},
    {"stdout", no_argument, NULL, OPT_STDOUT},
    {"decode", required_argument, NULL, OPT_DECODE},
    {"status", no_argument, NULL, OPT_STATUS},
    {"exit-when-done", no_argument, NULL, OPT_EXIT_DONE},
    {"poll-once", no_argument, NULL, OPT_POLL_ONCE},
    {"hj-decode", no_argument, NULL, OPT_HJ_DECODE}, /* HEX_OR_FILE: the operand */
    {"variant", required_argument, NULL, OPT_VARIANT},
    {"hj-pubkey", required_argument, NULL, OPT_HJ_PUBKEY},
    {"hj-id", required_argument, NULL, OPT_HJ_ID},
    {"selftest", no_argument, NULL, OPT_SELFTEST},
    {"seconds", required_argument, NULL, OPT_SECONDS},
    {"json", no_argument, NULL, OPT_JSON},
    {"pubkey", no_argument, NULL, OPT_PUBKEY},
    {"verify", required_argument, NULL, OPT_VERIFY},
    {"key", required_argument, NULL, OPT_KEY},
    {"export", no_argument, NULL, OPT_EXPORT},
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {"type", required_argument, NULL, OPT_TYPE},
    {"svg", required_argument, NULL, OPT_SVG},
    {"output", required_argument, NULL, 'o'},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* One file start-up reads: a warning when this process cannot. */
static int check_readable(const char *what, const char *path)
{
	if (!path[0] || access(path, R_OK) == 0)
		return 0;
	fprintf(stderr, "emgwd: warning: %s %s: cannot be read: %s\n", what, path, strerror(errno));
	return 1;
}

/* A missing state_dir the daemon can make (its parent is writable). */
static int check_creatable(const char *dir)
{
	char parent[PATH_MAX];
	char *slash;
	int saved = errno;

	if (saved != ENOENT || snprintf(parent, sizeof(parent), "%s", dir) >= (int)sizeof(parent))
		return 0;
	slash = strrchr(parent, '/');
	if (!slash)
		snprintf(parent, sizeof(parent), ".");
	else if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (access(parent, W_OK | X_OK) == 0)
		return 1;
	errno = saved;
	return 0;
}

/*
 * -n: what start-up would find, checked without side effects (nothing made,
 * nothing locked).  None of it stops emgwd from starting (it works around
 * each: the store in RAM, a corrupt store moved aside, an uplink that
 * cannot log in), so these are warnings; the count.
 */
static int check_startup(const struct config *cfg)
{
	char why[256];
	int n = 0, rc;

	if (access(cfg->state_dir, W_OK | X_OK) < 0 && !check_creatable(cfg->state_dir)) {
		fprintf(stderr,
			"emgwd: warning: state_dir %s: not writable (%s): the store would"
			" be kept in RAM\n",
			cfg->state_dir, strerror(errno));
		n++;
	}
	rc = store_check(cfg->store.path, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr,
			"emgwd: warning: store %s: %s: it would be moved aside and a new"
			" store started\n",
			cfg->store.path, why);
		n++;
	} else if (rc == 2) {
		fprintf(stderr, "emgwd: store %s: %s\n", cfg->store.path, why);
	}
	if (cfg->mqtt.enabled) {
		n += check_readable("[mqtt] ca_file", cfg->mqtt.ca_file);
		n += check_readable("[mqtt] cert_file", cfg->mqtt.cert_file);
		n += check_readable("[mqtt] key_file", cfg->mqtt.key_file);
		n += check_readable("[mqtt] password_file", cfg->mqtt.password_file);
	}
	if (cfg->platform.enabled && cfg->platform.sign)
		n += check_readable("[platform] key_file", cfg->platform.key_file);
	n += check_readable("[zones] file", cfg->zones.file);
	return n;
}

/* emgwd --export: the store and seal key of cfg, to output ("-": stdout). */
static int run_export(struct export_opts *eo, const struct config *cfg, const char *key_path,
		      const char *output)
{
	FILE *out = stdout;
	int rc;

	if (!eo->svg && (eo->from_ms == INT64_MIN || eo->to_ms == INT64_MIN)) {
		fprintf(stderr, "emgwd: --export needs --from and --to (or --svg)\n");
		return 1;
	}
	eo->store_path = cfg->store.path;
	eo->key_path = key_path;
	eo->lambda_max = cfg->smoke.lambda_enabled ? cfg->smoke.lambda_max : NAN;
	if (output && strcmp(output, "-") != 0 && !(out = fopen(output, "w"))) {
		fprintf(stderr, "emgwd: %s: %s\n", output, strerror(errno));
		return 2;
	}
	rc = export_run(eo, out);
	if (out != stdout && fclose(out) != 0) {
		fprintf(stderr, "emgwd: %s: %s\n", output, strerror(errno));
		rc = 2;
	}
	return rc;
}

/* The daemon's lock on its store; exits when another emgwd holds it.  The
 * state directory is made first (as the daemon would, a moment later): a
 * first start must hold the lock too. */
static void lock_store(const char *state_dir, const char *path)
{
	int fd;

	if (mkdir(state_dir, 0750) < 0 && errno != EEXIST)
		log_debug("%s: %s", state_dir, strerror(errno));
	fd = store_lock(path);

	if (fd == -1) {
		log_warnx("another emgwd is running on the store %s (it holds %s.lock):"
			  " not starting a second one",
			  path, path);
		exit(STORE_LOCK_EXIT);
	}
	if (fd == -2)
		log_debug("%s.lock: %s: running without the store lock", path, strerror(errno));
	/* fd stays open (close-on-exec) while the process lives: that is the lock */
}

int main(int argc, char **argv)
{
	struct daemon_opts opts = {.config_path = DEFAULT_CONFIG};
	const char *decode = NULL;
	const char *hj_decode = NULL, *hj_variant = "nrmm", *hj_pubkey = NULL, *hj_id = NULL;
	const char *verify = NULL, *keys[VERIFY_MAX_KEYS], *output = NULL;
	size_t n_keys = 0;
	struct export_opts eo = {.from_ms = INT64_MIN, .to_ms = INT64_MIN};
	int export = 0;
	char key_path[PATH_MAX + 16];
	int check = 0, status = 0, poll_once = 0, pubkey = 0, c, errors;
	int selftest = 0, seconds = SELFTEST_SECONDS, json = 0;
	char *end;
	static struct config cfg;

	while ((c = getopt_long(argc, argv, "c:ndVho:", long_opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			opts.config_path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'd':
			log_set_debug(1);
			break;
		case OPT_STDOUT:
			opts.echo_stdout = 1;
			break;
		case OPT_DECODE:
			decode = optarg;
			break;
		case OPT_STATUS:
			status = 1;
			break;
		case OPT_POLL_ONCE:
			poll_once = 1;
			break;
		case OPT_HJ_DECODE:
			hj_decode = "";
			break;
		case OPT_VARIANT:
			hj_variant = optarg;
			break;
		case OPT_HJ_PUBKEY:
			hj_pubkey = optarg;
			break;
		case OPT_HJ_ID:
			hj_id = optarg;
			break;
		case OPT_PUBKEY:
			pubkey = 1;
			break;
		case OPT_VERIFY:
			verify = optarg;
			break;
		case OPT_KEY:
			if (n_keys == VERIFY_MAX_KEYS) {
				fprintf(stderr, "emgwd: --key: at most %d keys\n", VERIFY_MAX_KEYS);
				return 1;
			}
			keys[n_keys++] = optarg;
			break;
		case OPT_EXPORT:
			export = 1;
			break;
		case OPT_FROM:
		case OPT_TO:
			if (export_parse_time(optarg, c == OPT_FROM ? &eo.from_ms : &eo.to_ms) <
			    0) {
				fprintf(stderr,
					"emgwd: --%s: \"%s\" is not an ISO 8601 UTC time"
					" (2026-12-02T06:00:00Z) or epoch seconds\n",
					c == OPT_FROM ? "from" : "to", optarg);
				return 1;
			}
			break;
		case OPT_TYPE:
			eo.type = optarg;
			break;
		case OPT_SVG:
			eo.svg = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case OPT_EXIT_DONE:
			opts.exit_when_done = 1;
			break;
		case OPT_SELFTEST:
			selftest = 1;
			break;
		case OPT_SECONDS:
			errno = 0;
			seconds = (int)strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || seconds < 1 || seconds > 600) {
				fprintf(stderr, "emgwd: --seconds: \"%s\" is not 1..600\n", optarg);
				return 1;
			}
			break;
		case OPT_JSON:
			json = 1;
			break;
		case 'V':
			printf("emgwd %s\n", EMGW_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (hj_decode && optind + 1 == argc)
		hj_decode = argv[optind++]; /* options in any order around it */
	if (optind < argc) {
		fprintf(stderr, "emgwd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 1;
	}
	if (decode)
		return decode_file(decode, stdout) < 0 ? 1 : 0;
	if (hj_decode) {
		if (!hj_decode[0]) {
			fprintf(stderr, "emgwd: --hj-decode needs HEX_OR_FILE\n");
			return 1;
		}
		return hjdecode_run(hj_decode, hj_variant, hj_pubkey, hj_id, 8 * 3600, stdout) == 0
			   ? 0
			   : 1;
	}
	if (verify && n_keys)
		return verify_run(verify, keys, n_keys, stdout);

	errors = config_load_zeroed(opts.config_path, &cfg); /* static: zero */
	/* A pushed configuration that does not even start goes back (remote.h). */
	if (errors && !check && remote_rescue(opts.config_path, errors) == 0)
		errors = config_load(opts.config_path, &cfg);
	if (errors) {
		fprintf(stderr, "%s: %d error%s: refusing to start\n", opts.config_path, errors,
			errors == 1 ? "" : "s");
		return CONFIG_EXIT_BAD;
	}
	if (check) {
		/* emgwd starts with zones disabled; the check says why. */
		char why[ZONES_ERR_MAX];

		if (zones_check(&cfg.zones, why) < 0) {
			fprintf(stderr,
				"%s:%d: [zones] file: %s\n%s: 1 error: zones would be disabled\n",
				opts.config_path, cfg.zones.file_line, why, opts.config_path);
			return CONFIG_EXIT_BAD;
		}
		check_startup(&cfg);
		printf("configuration OK\n");
		return 0;
	}
	snprintf(key_path, sizeof(key_path), "%s/%s", cfg.state_dir, SEAL_KEY_FILE);
	if (verify) {
		const char *own = key_path;

		return verify_run(verify, &own, 1, stdout);
	}
	if (export)
		return run_export(&eo, &cfg, key_path, output);
	if (pubkey)
		return signer_print_pubkey(key_path, stdout) < 0 ? 1 : 0;
	if (poll_once)
		return fieldbus_poll_once(&cfg, stdout);
	if (selftest)
		return selftest_run(&cfg, seconds, json, stdout);
	if (status)
		return status_print(status_read_dir(&cfg), json, stdout);
	lock_store(cfg.state_dir, cfg.store.path);
	return daemon_run(&cfg, &opts);
}
