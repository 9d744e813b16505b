#ifndef DIORAMA_CLI_DATASET_H
#define DIORAMA_CLI_DATASET_H
/* --dataset DIR: the glue between the world and the dataset output (export/dataset.c). It
 * lists the world's entities for the output, and at every metric tick tells it each entity's
 * state and active fault labels, which only the world's thread knows (docs/dataset.md). */
#include "export/export.h"
#include "world/world.h"

struct cli_dataset;

/* The output (to hand to the hub) and the glue, or NULL and err when a file cannot be made. */
struct cli_dataset *cli_dataset_new(const struct world *w, const char *dir, int formats,
                                    uint64_t start_ns, struct export_output **out, char *err,
                                    size_t errlen);
/* engine_out.tick: the states at the tick that `points` (the tick's snapshot) belongs to. */
void cli_dataset_tick(struct cli_dataset *d, const struct rec_batch *points);
/* engine_out.label: remembers which fault fired on which entity, and when. */
void cli_dataset_label(struct cli_dataset *d, const struct world_label *l);
void cli_dataset_free(struct cli_dataset *d);
/* "csv", "parquet" or "both" as EXPORT_DATASET_* bits; -1 for anything else. */
int cli_dataset_formats(const char *s);

#endif
