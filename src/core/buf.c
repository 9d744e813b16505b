#include <stdio.h>
#include <string.h>

#include "core/core.h"

void core_buf_init(struct core_buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void core_buf_free(struct core_buf *b)
{
    core_free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Grows geometrically, but never past max: the cap is what keeps input from deciding how much
 * memory we use (curl's dynbuf "toobig" idea). */
int core_buf_reserve(struct core_buf *b, size_t n)
{
    if (n <= b->cap - b->len)
        return 0;
    if (n > b->max - b->len)
        return DIO_EFULL;
    size_t need = b->len + n;
    size_t cap = b->cap ? b->cap : 256;
    if (cap > b->max)
        cap = b->max; /* a small cap must not be overshot by the first allocation */
    while (cap < need)
        cap = cap > b->max / 2 ? b->max : cap * 2;
    b->p = core_realloc(b->p, cap);
    b->cap = cap;
    return 0;
}

int core_buf_append(struct core_buf *b, const void *data, size_t n)
{
    if (core_buf_reserve(b, n))
        return DIO_EFULL;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

int core_buf_puts(struct core_buf *b, const char *s)
{
    return core_buf_append(b, s, strlen(s));
}

int core_buf_putc(struct core_buf *b, char c)
{
    if (core_buf_reserve(b, 1))
        return DIO_EFULL;
    b->p[b->len++] = (uint8_t)c;
    return 0;
}

int core_buf_vprintf(struct core_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return DIO_EINVAL;
    }
    int rc;
    if ((size_t)n < sizeof small) {
        rc = core_buf_append(b, small, (size_t)n);
    } else if ((rc = core_buf_reserve(b, (size_t)n + 1)) == 0) {
        vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
    return rc;
}

int core_buf_printf(struct core_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = core_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int core_buf_put_u64(struct core_buf *b, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (core_buf_reserve(b, (size_t)n))
        return DIO_EFULL;
    while (n)
        b->p[b->len++] = (uint8_t)tmp[--n];
    return 0;
}

int core_buf_put_i64(struct core_buf *b, int64_t v)
{
    if (v >= 0)
        return core_buf_put_u64(b, (uint64_t)v);
    if (core_buf_putc(b, '-'))
        return DIO_EFULL;
    return core_buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
}

/* Bytes of the valid UTF-8 sequence at s (1..4), or 0 when it is not one (a stray
 * continuation byte, a truncated sequence, an overlong form, a surrogate, past U+10FFFF). */
static int utf8_seq(const unsigned char *s)
{
    unsigned c = s[0];
    int n = c >= 0xc2 && c <= 0xdf   ? 2
            : c >= 0xe0 && c <= 0xef ? 3
            : c >= 0xf0 && c <= 0xf4 ? 4
                                     : 0;
    if (!n)
        return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
        (c == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

/* Always valid JSON: invalid UTF-8 becomes U+FFFD, so a message quoting bad input stays
 * parseable. */
int core_buf_put_json_str(struct core_buf *b, const char *s)
{
    core_buf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)s;
    while (p && *p) {
        unsigned char c = *p;
        int n = c < 0x80 ? 1 : utf8_seq(p);
        if (c == '"' || c == '\\')
            core_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            core_buf_printf(b, "\\u%04x", c);
        else if (n == 0)
            core_buf_puts(b, "\\ufffd");
        else
            core_buf_append(b, p, (size_t)n);
        p += n ? n : 1;
    }
    return core_buf_putc(b, '"');
}
