/* The partial_success of an OTLP/JSON Export*ServiceResponse (http/json answers in JSON).
 * {"partialSuccess":{"rejectedSpans":"3","errorMessage":"..."}}: 64-bit integers come as
 * strings or numbers; proto3 JSON also allows the snake_case field names, so both are read.
 * The body is capped by the caller (the response buffer); jansson bounds the nesting. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"

static json_t *member(json_t *o, const char *camel, const char *snake)
{
    json_t *v = json_object_get(o, camel);
    return v ? v : json_object_get(o, snake);
}

/* An int64 as proto3 JSON writes it: a number or a decimal string. 0 or DIO_EPARSE. */
static int int64_of(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return DIO_EPARSE;
    const char *s = json_string_value(v);
    char *end;
    long long x = strtoll(s, &end, 10);
    if (!*s || *end)
        return DIO_EPARSE;
    *out = x;
    return 0;
}

static int read_partial(json_t *ps, int64_t *rejected, char *msg, size_t msglen)
{
    static const char *const keys[][2] = {{"rejectedSpans", "rejected_spans"},
                                          {"rejectedDataPoints", "rejected_data_points"},
                                          {"rejectedLogRecords", "rejected_log_records"}};
    if (!json_is_object(ps))
        return DIO_EPARSE;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        json_t *v = member(ps, keys[i][0], keys[i][1]);
        if (v && int64_of(v, rejected) != 0)
            return DIO_EPARSE;
    }
    json_t *m = member(ps, "errorMessage", "error_message");
    if (msg && msglen && json_is_string(m))
        snprintf(msg, msglen, "%s", json_string_value(m));
    return 0;
}

int export_otlp_partial_success_json(const void *body, size_t n, int64_t *rejected, char *msg,
                                     size_t msglen)
{
    *rejected = 0;
    if (msg && msglen)
        msg[0] = 0;
    json_error_t e;
    json_t *root = json_loadb(body, n, 0, &e);
    if (!json_is_object(root)) {
        json_decref(root);
        return DIO_EPARSE;
    }
    json_t *ps = member(root, "partialSuccess", "partial_success");
    int rc = ps && !json_is_null(ps) ? read_partial(ps, rejected, msg, msglen) : 0;
    json_decref(root);
    return rc;
}
