/* utf8: text cut to a byte budget on character boundaries, so that what
 * is cut still is UTF-8 (jansson refuses a string that is not, and a JSON
 * message with it is never built).
 * Pure: no I/O, no allocation, no globals. */
#ifndef EMGW_UTF8_H
#define EMGW_UTF8_H

#include <stddef.h>

/* Length in bytes of the well-formed UTF-8 character at s (at most n bytes
 * there): 1..4, or 0 when s does not start one (a stray or missing
 * continuation byte, an overlong form, a surrogate, above U+10FFFF). */
size_t utf8_char_len(const char *s, size_t n);
/* Copy into dst (size n) as many whole characters of src as fit in n - 1
 * bytes, each byte that starts no well-formed character as '?'; dst is
 * always terminated when n > 0.  The bytes written, without the NUL. */
size_t utf8_trunc(char *dst, size_t n, const char *src);

#endif
