/* What a correct service checks before doing any work: the X-Diorama-Delay header and the
 * request body. Messages never echo more than a short, printable prefix of what was sent, so
 * an answer is always valid JSON text whatever the input bytes were. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server/internal.h"

/* At most 40 printable ASCII bytes of s, '?' for anything else, "..." when cut. */
static void safe_prefix(const char *s, size_t len, char *out, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < len && i < 40 && k + 4 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[k++] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
    }
    if (len > 40 && k + 4 < n)
        memcpy(out + k, "...", 3), k += 3;
    out[k] = 0;
}

/* A bare number ("3500", "1.5"): digits with at most one '.', nothing else. */
static int bare_number(const char *s)
{
    int digits = 0, dots = 0;
    for (; *s; s++) {
        if (isdigit((unsigned char)*s))
            digits++;
        else if (*s == '.')
            dots++;
        else
            return 0;
    }
    return digits > 0 && dots <= 1;
}

int server__parse_delay(const char *value, uint64_t max_ns, uint64_t *ns, char *msg, size_t n)
{
    char v[72], shown[64];
    size_t len = strlen(value);
    while (len && isspace((unsigned char)value[len - 1]))
        len--;
    while (len && isspace((unsigned char)*value))
        value++, len--;
    safe_prefix(value, len, shown, sizeof shown);
    int rc = len == 0 || len > 64 ? DIO_EPARSE : 0;
    if (!rc) {
        memcpy(v, value, len);
        v[len] = 0;
        if (bare_number(v)) /* milliseconds, unlike core_parse_duration's seconds */
            memcpy(v + len, "ms", 3);
        rc = core_parse_duration(v, ns) ? DIO_EPARSE : 0;
    }
    if (rc) {
        snprintf(msg, n,
                 "X-Diorama-Delay: expected a duration like 3500ms, 2s or 250us (a bare "
                 "number is milliseconds), got '%s'",
                 shown);
        return DIO_EPARSE;
    }
    if (*ns > max_ns) {
        char cap[32];
        core_format_duration(max_ns, cap, sizeof cap);
        snprintf(msg, n, "X-Diorama-Delay: %s is over the cap of %s (--max-delay)", shown, cap);
        return DIO_ERANGE;
    }
    return 0;
}

/* "application/json", any case, optionally followed by parameters ("; charset=utf-8"). */
static int is_json_type(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, sizeof want - 1))
        return 0;
    ct += sizeof want - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == 0 || *ct == ';';
}

/* The body as a JSON object (NUL characters in strings allowed, duplicate keys not), or NULL
 * with msg. */
static json_t *parse_object(const void *body, size_t len, char *msg, size_t n)
{
    json_error_t jerr;
    if (len == 0) {
        snprintf(msg, n, "the body is empty: expected a JSON object");
        return NULL;
    }
    json_t *j =
        json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!j)
        snprintf(msg, n, "the body is not valid JSON (line %d, column %d)", jerr.line, jerr.column);
    else if (!json_is_object(j))
        snprintf(msg, n, "the body must be a JSON object");
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

int server__validate_body(const char *content_type, const void *body, size_t len, int need_text,
                          struct server__text *t, char *msg, size_t n)
{
    char shown[64];
    memset(t, 0, sizeof *t);
    if (!is_json_type(content_type)) {
        const char *ct = content_type ? content_type : "";
        safe_prefix(ct, strlen(ct), shown, sizeof shown);
        snprintf(msg, n, "Content-Type must be application/json, got '%s'", shown);
        return 415;
    }
    json_t *j = parse_object(body, len, msg, n);
    if (!j)
        return 400;
    json_t *text = json_object_get(j, "text");
    if (json_is_string(text)) {
        t->has_text = 1;
        t->text_len = json_string_length(text);
        server__classify(json_string_value(text), t->text_len, &t->label, &t->confidence);
    }
    json_decref(j);
    if (need_text && (!t->has_text || t->text_len == 0)) {
        snprintf(msg, n, "the field \"text\" must be a non-empty string");
        return 422;
    }
    return 0;
}

const char *const server__labels[SERVER__NLABELS] = {"job_application", "interview", "rejection",
                                                     "offer", "other"};

/* Checked in this order, first hit wins: offers and rejections usually also mention the
 * application or the interview, so they come first. Lower case; matching ignores case. */
static const struct {
    int label;
    const char *kw;
} rules[] = {
    {SERVER__LABEL_OFFER, "pleased to offer"},
    {SERVER__LABEL_OFFER, "offer letter"},
    {SERVER__LABEL_OFFER, "job offer"},
    {SERVER__LABEL_OFFER, "like to offer you"},
    {SERVER__LABEL_REJECTION, "unfortunately"},
    {SERVER__LABEL_REJECTION, "regret to inform"},
    {SERVER__LABEL_REJECTION, "not to move forward"},
    {SERVER__LABEL_REJECTION, "other candidates"},
    {SERVER__LABEL_INTERVIEW, "invite you to an interview"},
    {SERVER__LABEL_INTERVIEW, "schedule an interview"},
    {SERVER__LABEL_INTERVIEW, "interview on"},
    {SERVER__LABEL_INTERVIEW, "your availability"},
    {SERVER__LABEL_JOB, "apply"},
    {SERVER__LABEL_JOB, "application"},
    {SERVER__LABEL_JOB, "position"},
    {SERVER__LABEL_JOB, "resume"},
    {SERVER__LABEL_JOB, "vacancy"},
    {SERVER__LABEL_JOB, "opening"},
    {SERVER__LABEL_JOB, "role"},
};

/* memmem ignoring ASCII case; the text may hold NUL bytes ("\u0000" in JSON). */
static int contains(const char *s, size_t n, const char *kw)
{
    size_t k = strlen(kw);
    for (size_t i = 0; i + k <= n; i++)
        if (tolower((unsigned char)s[i]) == kw[0] && !strncasecmp(s + i, kw, k))
            return 1;
    return 0;
}

void server__classify(const char *text, size_t len, int *label, double *confidence)
{
    uint64_t h = core_hash64(text, len);
    *label = SERVER__LABEL_OTHER;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (contains(text, len, rules[i].kw)) {
            *label = rules[i].label;
            break;
        }
    }
    /* 0.80..0.99 for a rule hit, 0.50..0.79 otherwise; two decimals */
    *confidence = *label == SERVER__LABEL_OTHER ? 0.50 + (double)(h % 30) / 100
                                                : 0.80 + (double)(h % 20) / 100;
}
