/* --expect: what `diorama run --summary-json` says it delivered, and whether that arrived. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "sink/internal.h"

#define SUMMARY_MAX ((size_t)16 << 20)

static int get_u64(json_t *sig, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(sig, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int read_signals(json_t *root, struct sink_expect *e, char *err, size_t errlen)
{
    json_t *sigs = json_object_get(root, "signals");
    for (int i = 0; i < REC_NSIGNALS; i++) {
        json_t *sig = json_object_get(sigs, rec_signal_names[i]);
        if (!json_is_object(sig) || get_u64(sig, "generated", &e->generated[i]) ||
            get_u64(sig, "delivered", &e->delivered[i]) ||
            get_u64(sig, "dropped", &e->dropped[i])) {
            snprintf(err, errlen, "signals.%s: generated/delivered/dropped missing",
                     rec_signal_names[i]);
            return DIO_EPARSE;
        }
    }
    return 0;
}

int sink_expect_load(const char *path, struct sink_expect *e, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    struct stat st;
    if (stat(path, &st) || st.st_size == 0) {
        snprintf(err, errlen, "%s: not there (yet)", path);
        return DIO_ENOENT;
    }
    if ((size_t)st.st_size > SUMMARY_MAX) {
        snprintf(err, errlen, "%s: too large for a run summary", path);
        return DIO_EPARSE;
    }
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
        return DIO_EPARSE;
    }
    int rc = DIO_EPARSE;
    const char *schema = json_string_value(json_object_get(root, "schema"));
    const char *run_id = json_string_value(json_object_get(root, "run_id"));
    if (!schema || strncmp(schema, "diorama.run.summary/", 20) != 0)
        snprintf(err, errlen, "%s: not a diorama run summary (schema)", path);
    else if (!run_id || !*run_id || strlen(run_id) >= sizeof e->run_id)
        snprintf(err, errlen, "%s: no run_id", path);
    else if (!read_signals(root, e, err, errlen)) {
        snprintf(e->run_id, sizeof e->run_id, "%s", run_id);
        json_t *sp = json_object_get(root, "speed"); /* a number, or "max" */
        e->speed = json_is_number(sp) ? json_number_value(sp)
                   : json_is_string(sp) && !strcmp(json_string_value(sp), "max") ? 0
                                                                                 : -1;
        rc = 0;
    }
    json_decref(root);
    return rc;
}

int sink_expect_complete(struct sink *s, const struct sink_expect *e)
{
    pthread_mutex_lock(&s->v.mu);
    struct sink__run *run = sink__verify_run(&s->v, e->run_id);
    int done = 1;
    for (int i = 0; i < REC_NSIGNALS; i++) {
        uint64_t got = run ? run->received[i] : 0;
        if (got < e->delivered[i])
            done = 0;
    }
    pthread_mutex_unlock(&s->v.mu);
    return done;
}
