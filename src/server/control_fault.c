/* POST /api/faults/{name}/start|stop and each fault's live state in GET /api/world.
 *
 * The faults themselves belong to world/ (the faults' module): this file only turns a request
 * into WORLD_CMD_FAULT_START / WORLD_CMD_FAULT_STOP (entity = the fault's index, state = the
 * variant's index, over_ns = how long) and reads back what world publishes.
 *
 * An activation without "for" lasts the fault's window, or WORLD_FAULT_DEFAULT_NS (5 min). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "server/control_int.h"

void control__fault_command(struct server_control *c, int f, int start, json_t *j,
                            struct server__answer *a)
{
    const struct scn_fault *sf = c->w->faults[f].scn;
    json_t *jfor = json_object_get(j, "for"), *jv = json_object_get(j, "variant");
    uint64_t for_ns = 0; /* the window's length, or WORLD_FAULT_DEFAULT_NS */
    int v = -1;          /* the default variant */
    if (jfor && (!json_is_string(jfor) || core_parse_duration(json_string_value(jfor), &for_ns) ||
                 !for_ns)) {
        control__fail(a, 400, "\"for\" must be a duration like \"2m\"");
        return;
    }
    if (jv && (!json_is_string(jv) ||
               (v = world_fault_variant_find(c->w, f, json_string_value(jv))) < 0)) {
        control__fail(a, 400, "unknown variant of fault '%s' (GET /api/world lists them)",
                      sf->name);
        return;
    }
    struct world_cmd cmd = {.kind = start ? WORLD_CMD_FAULT_START : WORLD_CMD_FAULT_STOP,
                            .fault = f,
                            .variant = v,
                            .for_ns = for_ns,
                            .source = WORLD_SRC_COMMAND};
    if (control__command(c, &cmd, a))
        return;
    control__answer(a, 202, "{\"accepted\":true,\"fault\":");
    core_buf_put_json_str(&a->body, sf->name);
    if (start) {
        core_buf_puts(&a->body, ",\"variant\":");
        core_buf_put_json_str(&a->body, sf->variants[v >= 0 ? v : sf->default_variant].name);
        if (for_ns)
            core_buf_printf(&a->body, ",\"for_ns\":%llu", (unsigned long long)for_ns);
    }
    core_buf_printf(&a->body, ",\"action\":\"%s\"}\n", start ? "start" : "stop");
}

/* until: simulated unix ms, null while the activation has no end. */
void control__put_fault_state(struct server_control *c, int f, struct core_buf *b)
{
    uint64_t until = 0;
    int v = -1;
    if (!world_fault_active(c->w, f, &until, &v) || v < 0) {
        core_buf_puts(b, ",\"active\":false,\"until\":null,\"variant\":null");
        return;
    }
    core_buf_puts(b, ",\"active\":true,\"until\":");
    if (until == UINT64_MAX)
        core_buf_puts(b, "null");
    else
        core_buf_printf(b, "%llu", (unsigned long long)((c->cfg.start_unix_ns + until) / 1000000));
    core_buf_puts(b, ",\"variant\":");
    core_buf_put_json_str(b, c->w->faults[f].scn->variants[v].name);
}
