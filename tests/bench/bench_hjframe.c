/* bench_hjframe: HJ frames encoded per second (nrmm real-time, road with ten
 * samples, gb17691 Q1 with one sample and Q2 with a signature after the
 * unit), decoded per second, and encoded + SM2-signed per second with the
 * software signer.  Prints figures; asserts nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "gateway/signer.h"
#include "protocols/hjframe.h"

static struct hj_frame bench_f;
static uint8_t bench_buf[4096];
static volatile unsigned bench_sink;

static double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void bench_frame(enum hj_variant v, int unit_sig)
{
	memset(&bench_f, 0, sizeof(bench_f));
	bench_f.variant = v;
	bench_f.unit_sig = unit_sig;
	bench_f.cmd = HJ_CMD_REALTIME;
	memcpy(bench_f.vin, "LZYTBTD60K1000001", 18);
	bench_f.sw_version = 1;
	bench_f.encryption = HJ_ENC_NONE;
	hj_time_from_unix(1700000000, 8 * 3600, &bench_f.time);
	hj_pos_set(&bench_f.pos, 1, 31.23, 121.47);
	bench_f.n_info = v == HJ_ROAD ? 10 : 1;
	for (int i = 0; i < bench_f.n_info; i++) {
		struct hj_stream *s = &bench_f.info[i].u.stream;

		bench_f.info[i].type = HJ_INFO_STREAM;
		bench_f.info[i].serial = 1;
		memset(bench_f.info[i].sig_r, 0x11, HJ_SIG_PART);
		memset(bench_f.info[i].sig_s, 0x22, HJ_SIG_PART);
		hj_time_from_unix(1700000000 + i, 8 * 3600, &bench_f.info[i].time);
		hj_stream_init(s);
		hj_stream_set(s, HJ_F_ENGINE_RPM, 1500 + i);
		hj_stream_set(s, HJ_F_FUEL_LPH, 15.35);
		hj_stream_set(s, HJ_F_COOLANT_C, 85);
		hj_pos_set(&s->pos, 1, 31.23, 121.47);
	}
}

static void bench_encode(const char *what, enum hj_variant v, int unit_sig, int n)
{
	unsigned flags = unit_sig ? HJ_DEC_UNIT_SIG : 0;
	double t0, t;
	int len = 0;

	bench_frame(v, unit_sig);
	t0 = bench_now();
	for (int i = 0; i < n; i++) {
		bench_f.serial = (uint16_t)i;
		len = hj_encode(&bench_f, bench_buf, sizeof(bench_buf));
		bench_sink += (unsigned)len;
	}
	t = bench_now() - t0;
	printf("hj encode %-22s %10.0f frames/s  (%d bytes a frame)\n", what, n / t, len);
	t0 = bench_now();
	for (int i = 0; i < n; i++)
		bench_sink += (unsigned)hj_decode_opt(bench_buf, (size_t)len, v, flags, &bench_f);
	t = bench_now() - t0;
	printf("hj decode %-22s %10.0f frames/s\n", what, n / t);
}

static void bench_sign(struct signer *sg, const char *what, enum hj_variant v, int n)
{
	uint8_t r[32], s[32];
	double t0, t;

	bench_frame(v, 0);
	t0 = bench_now();
	for (int i = 0; i < n; i++) {
		int len = hj_encode(&bench_f, bench_buf, sizeof(bench_buf));

		if (sg->sign(sg, bench_buf + HJ_HDR_LEN, (size_t)len - HJ_HDR_LEN - 1, r, s) < 0)
			exit(1);
		bench_sink +=
		    (unsigned)hj_append_sig(bench_buf, sizeof(bench_buf), (size_t)len, r, s);
	}
	t = bench_now() - t0;
	printf("hj encode + SM2 sign %-11s %10.0f frames/s\n", what, n / t);
}

int main(int argc, char **argv)
{
	char path[] = "/tmp/emgw-bench-key.XXXXXX";
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
	int n = argc > 1 ? atoi(argv[1]) : 200000, fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	struct signer *sg;

	if (!key || !f || !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
		return 1;
	fclose(f);
	EVP_PKEY_free(key);
	sg = signer_soft_open(path, "CHIP000000000001");
	unlink(path);
	if (!sg)
		return 1;
	bench_encode("nrmm (1 sample)", HJ_NRMM, 0, n);
	bench_encode("road (10 samples)", HJ_ROAD, 0, n);
	bench_encode("gb17691 Q1 (1 sample)", HJ_GB17691, 0, n);
	bench_encode("gb17691 Q2 (1, signed)", HJ_GB17691, 1, n);
	bench_sign(sg, "nrmm", HJ_NRMM, n / 50 > 0 ? n / 50 : 1);
	bench_sign(sg, "road", HJ_ROAD, n / 50 > 0 ? n / 50 : 1);
	bench_sign(sg, "gb17691", HJ_GB17691, n / 50 > 0 ? n / 50 : 1);
	sg->close(sg);
	return 0;
}
