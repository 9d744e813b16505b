/* Internals shared by the dataset output's files (dataset.c: the entity table, files and
 * accounting; dataset_biz.c: the business table). Not part of export.h. */
#ifndef DIORAMA_EXPORT_DATASET_INT_H
#define DIORAMA_EXPORT_DATASET_INT_H

#include "export/export.h"

/* The shortest of %.15g / %.17g that reads back as the same double. */
void export__ds_num(struct core_buf *b, double v);
/* "<ms since epoch>,<RFC 3339 UTC with ms>," : the first two CSV columns of a row. */
void export__ds_time(struct core_buf *b, uint64_t t_ns);
/* The q-quantile of a histogram delta d[nb] (bounds[nb-1]) of n observations, interpolated
 * inside its bucket as PromQL's histogram_quantile does. */
double export__ds_quantile(const uint64_t *d, uint32_t nb, const double *bounds, uint64_t n,
                           double q);
/* The attribute key of point p, NULL when it has none. */
const struct rec_attr *export__ds_attr(const struct rec_batch *b, const struct rec_point *p,
                                       const char *key);

/* ---- the business table (dataset_biz.c) ------------------------------------------------ */
struct ds_biz;
#define DS_BIZ_NCOLS 12 /* Parquet columns (the CSV has `time` besides) */
struct ds_biz *export__ds_biz_new(const struct export_dataset_biz *m, size_t n);
void export__ds_biz_free(struct ds_biz *z);
/* The business metric whose name is name, -1 for none. */
int export__ds_biz_find(const struct ds_biz *z, const char *name);
/* Folds point p of business metric i into its series. 0, or -1 when the point belongs to no
 * series of it (an attribute value the scenario does not name, a histogram of other bounds). */
int export__ds_biz_fold(struct ds_biz *z, int i, const struct rec_batch *b,
                        const struct rec_point *p);
void export__ds_biz_csv_header(struct core_buf *b);
void export__ds_biz_pq_cols(struct export_pq_col cols[DS_BIZ_NCOLS]);
/* The rows of tick t (one per series seen since the last call) into csv (NULL: none) and pq
 * (NULL: none; *pq_rc keeps the first error). Returns the number of rows. */
uint64_t export__ds_biz_rows(struct ds_biz *z, uint64_t t, struct core_buf *csv,
                             struct export_pq *pq, int *pq_rc);

#endif
