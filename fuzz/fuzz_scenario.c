/* libFuzzer target for the scenario loader: any input must give either a scenario or an error
 * with a message, never a crash, a leak or a hang. Seed corpus: fuzz/corpus/fuzz_scenario/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "scenario/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scenario *s = NULL;
    struct scn_error err;
    int rc = scenario_load_string("fuzz.yaml", (const char *)data, size, &s, &err);
    if (rc == 0) {
        /* A loaded scenario is consistent: every index the loader resolved is in range. */
        for (int i = 0; i < s->nservices; i++)
            for (int j = 0; j < s->services[i].nops; j++)
                for (int k = 0; k < s->services[i].ops[j].ncalls; k++) {
                    const struct scn_call *c = &s->services[i].ops[j].calls[k];
                    if (c->svc < 0 || c->svc >= s->nservices || c->op < 0 ||
                        c->op >= s->services[c->svc].nops)
                        abort();
                }
        for (int i = 0; i < s->nmodels; i++)
            if (s->models[i].entry_svc < 0 || s->models[i].entry_svc >= s->nservices)
                abort();
        for (int i = 0; i < s->nfaults; i++)
            if (s->faults[i].target_idx < 0)
                abort();
    } else if (s || err.msg[0] == '\0') {
        abort(); /* a failure always explains itself and returns nothing */
    }
    scenario_free(s);
    return 0;
}
