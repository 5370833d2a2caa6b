#include "protocols/utf8.h"

#include <string.h>

size_t utf8_char_len(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned long cp;
	size_t len;

	if (!s || n == 0)
		return 0;
	if (u[0] < 0x80)
		return 1;
	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		len = 2, cp = u[0] & 0x1fu;
	else if (u[0] >= 0xe0 && u[0] <= 0xef)
		len = 3, cp = u[0] & 0x0fu;
	else if (u[0] >= 0xf0 && u[0] <= 0xf4)
		len = 4, cp = u[0] & 0x07u;
	else
		return 0; /* a continuation byte, or 0xc0, 0xc1, 0xf5..0xff */
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((u[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (u[i] & 0x3fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0; /* overlong, out of range, or a surrogate */
	return len;
}

size_t utf8_trunc(char *dst, size_t n, const char *src)
{
	size_t out = 0, left;

	if (!dst || n == 0)
		return 0;
	left = src ? strlen(src) : 0;
	while (left > 0) {
		size_t len = utf8_char_len(src, left);

		if (out + (len ? len : 1) > n - 1)
			break;
		if (len) {
			memcpy(dst + out, src, len);
		} else {
			dst[out] = '?';
			len = 1;
		}
		out += len;
		src += len;
		left -= len;
	}
	dst[out] = '\0';
	return out;
}
