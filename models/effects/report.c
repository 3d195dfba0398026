/* report.c — what `evalmix effects` shows: the compact table on stdout, the CSV or
 * Markdown tables (--table), the forest plot (--plot) and the /effects sections of the
 * HDF5 file (--out).  Schools flagged for privacy (fewer than --min-cell students in an
 * arm) are left out of everything printed or plotted; the HDF5 file keeps every school with
 * its flag (docs/hdf5.md). */
#include "effects_internal.h"

#include "h5/h5_internal.h"
#include "h5/write_effects.h"
#include "plot/plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void pnum(FILE *out, double x, int width, int digits)
{
    if (isnan(x)) fprintf(out, "%*s", width, "NA");
    else fprintf(out, "%*.*f", width, digits, x);
}

static void pval(FILE *out, double p, int width)
{
    if (isnan(p)) fprintf(out, "%*s", width, "NA");
    else if (p < 1e-4) fprintf(out, "%*s", width, "<.0001");
    else fprintf(out, "%*.4f", width, p);
}

static void pinterval(FILE *out, double lo, double hi)
{
    fprintf(out, "  [");
    pnum(out, lo, 6, 3);
    fprintf(out, ",");
    pnum(out, hi, 7, 3);
    fprintf(out, "]");
}

/* The effect sizes of the contrasts: the SDs, then per contrast the model-based ES with
 * its CI, Glass's Δ, Hedges' g with its CI and improvement index, and the --sd-ref ES;
 * then the ICCs. */
static void print_effect_sizes(FILE *out, const evm_effects *e)
{
    const evm_effects_es *em = &e->con_es[EVM_EFFECTS_ES_MODEL];
    const evm_effects_es *ec = &e->con_es[EVM_EFFECTS_ES_COMPARISON];
    const evm_effects_es *eg = &e->con_es[EVM_EFFECTS_ES_G];
    const evm_effects_es *er = &e->con_es[EVM_EFFECTS_ES_REF];
    const int ref = !isnan(e->sd_ref);
    fprintf(out, "\nEffect sizes: effect / SD; g = omega x effect / pooled SD (omega %.4f, N = %lld)\n",
            e->omega, (long long)(e->n_t + e->n_c));
    fprintf(out, "SD model %.3f (residual", e->sd[EVM_EFFECTS_ES_MODEL]);
    for (int j = 0; j < e->nicc; j++) fprintf(out, " + %s", e->icc_group[j]);
    fprintf(out, "), comparison %.3f (n = %lld), pooled %.3f", e->sd[EVM_EFFECTS_ES_COMPARISON],
            (long long)e->n_c, e->sd[EVM_EFFECTS_ES_G]);
    if (ref) fprintf(out, ", reference %g", e->sd_ref);
    fprintf(out, "\n%-26s %9s  %-16s%9s%9s  %-16s%7s", "contrast", "ES.model", "CI", "ES.comp",
            "g", "CI", "II(g)");
    if (ref) fprintf(out, "%9s", "ES.ref");
    fputc('\n', out);
    for (int r = 0; r < e->ncon; r++) {
        fprintf(out, "%-26.26s ", e->label[r]);
        pnum(out, em->es[r], 9, 3);
        pinterval(out, em->lower[r], em->upper[r]);
        pnum(out, ec->es[r], 9, 3);
        pnum(out, eg->es[r], 9, 3);
        pinterval(out, eg->lower[r], eg->upper[r]);
        pnum(out, eg->ii[r], 7, 1);
        if (ref) pnum(out, er->es[r], 9, 3);
        fputc('\n', out);
    }
    if (e->nicc == 0) return;
    fprintf(out, "ICC of the random intercepts");
    if (!strcmp(e->icc_ci, "profile")) fprintf(out, " (%g%% CI from the profile of the SD)", 100 * e->level);
    fprintf(out, ":");
    for (int j = 0; j < e->nicc; j++) {
        fprintf(out, "%s %s %.3f", j ? ";" : "", e->icc_group[j], e->icc[j]);
        if (!isnan(e->icc_lower[j])) fprintf(out, " [%.3f, %.3f]", e->icc_lower[j], e->icc_upper[j]);
    }
    fputc('\n', out);
}

void evm_effects_print(FILE *out, const evm_effects *e)
{
    fprintf(out, "Treatment effects: %s (%s - %s), %s df, p adjusted: %s\n", e->treatment,
            e->treated_label, e->comparison_label, e->ddf, e->adjust);
    fprintf(out, "%-26s %9s %8s %8s %7s %8s %8s  %-19s\n", "contrast", "estimate", "SE", "df",
            "t", "p", "p.adj", "CI");
    for (int r = 0; r < e->ncon; r++) {
        fprintf(out, "%-26.26s ", e->label[r]);
        pnum(out, e->estimate[r], 9, 3);
        pnum(out, e->se[r], 9, 3);
        pnum(out, e->df[r], 9, 1);
        pnum(out, e->t[r], 8, 2);
        pval(out, e->p[r], 9);
        pval(out, e->p_adj[r], 9);
        fprintf(out, "  [");
        pnum(out, e->lower[r], 0, 3);
        fprintf(out, ", ");
        pnum(out, e->upper[r], 0, 3);
        fprintf(out, "]%s\n", !strcmp(e->kind[r], "overall") || e->in_model[r] ? "" :
                                 "  (no interaction with the treatment)");
    }
    print_effect_sizes(out, e);
    if (e->nsite == 0) return;
    fprintf(out, "\nSchools (%s): %lld, %lld not shown (fewer than %d students in an arm)\n",
            e->site, (long long)e->nsite, (long long)e->n_suppressed, e->min_cell);
    if (*e->site_term) {
        fprintf(out, "SD of school effects (%s): %.3f", e->site_term, e->tau);
        if (!isnan(e->tau_lower))
            fprintf(out, " [%.3f, %.3f] (%g%% profile CI)", e->tau_lower, e->tau_upper,
                    100 * e->level);
        fprintf(out, "; effect > 0 in %.0f%% of schools; prediction interval above 0: %lld, "
                     "below 0: %lld\n",
                100 * e->share_positive, (long long)e->n_pi_above, (long long)e->n_pi_below);
    }
    fprintf(out, "%-12s %-8s %5s %5s %9s %9s %19s %8s %9s %9s %6s\n", "school",
            *e->group_var ? e->group_var : "group", "n.T", "n.C", "model", "pred.SE",
            "prediction int.", "ES.model", "no-pool", "SE", "shrink");
    for (int64_t s = 0; s < e->nsite; s++) {
        if (e->suppressed[s]) continue;
        fprintf(out, "%-12.12s %-8.8s %5lld %5lld ", e->site_id[s],
                e->site_group[s] ? e->site_group[s] : "", (long long)e->n_treated[s],
                (long long)e->n_comparison[s]);
        pnum(out, e->est[s], 9, 3);
        pnum(out, e->pred_se_adj[s], 10, 3);
        fprintf(out, "  [");
        pnum(out, e->pred_lower[s], 7, 3);
        fprintf(out, ",");
        pnum(out, e->pred_upper[s], 7, 3);
        fprintf(out, "]");
        pnum(out, e->site_es[EVM_EFFECTS_ES_MODEL].es[s], 9, 3);
        pnum(out, e->np_est[s], 10, 3);
        pnum(out, e->np_se[s], 10, 3);
        pnum(out, e->shrinkage[s], 7, 2);
        fputc('\n', out);
    }
}

/* ---------------------------------------------------------------- CSV / Markdown */
static void cell_num(FILE *f, double x, int md)
{
    if (isnan(x)) fputs(md ? "" : "NA", f);
    else fprintf(f, md ? "%.4g" : "%.10g", x);
}

static void cell_str(FILE *f, const char *s, int md)
{
    if (md || !strpbrk(s, ",\"\n")) {
        for (; *s; s++) fputs(md && *s == '|' ? "\\|" : (char[2]){*s, 0}, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void row_start(FILE *f, int md) { if (md) fputs("| ", f); }
static void sep(FILE *f, int md) { fputs(md ? " | " : ",", f); }
static void row_end(FILE *f, int md) { fputs(md ? " |\n" : "\n", f); }

static void header(FILE *f, int md, const char *const *h, int n)
{
    row_start(f, md);
    for (int k = 0; k < n; k++) {
        if (k) sep(f, md);
        fputs(h[k], f);
    }
    row_end(f, md);
    if (!md) return;
    fputs("|", f);
    for (int k = 0; k < n; k++) fputs(k < 2 ? "---|" : "---:|", f);
    fputs("\n", f);
}

/* Column names of the effect sizes, per standardizer: estimate, SE, interval, improvement
 * index (the same in the CSV/Markdown tables and the HDF5 file). */
static const char *const es_col[EVM_EFFECTS_NES][5] = {
    {"es_model", "es_model_se", "es_model_lower", "es_model_upper", "ii_model"},
    {"es_comparison", "es_comparison_se", "es_comparison_lower", "es_comparison_upper",
     "ii_comparison"},
    {"g", "g_se", "g_lower", "g_upper", "ii_g"},
    {"es_ref", "es_ref_se", "es_ref_lower", "es_ref_upper", "ii_ref"}};

/* The effect-size columns of a table: CSV every standardizer's estimate, interval and
 * improvement index; Markdown (for a report) the estimates and g's improvement index.
 * The --sd-ref ones only with --sd-ref. */
static int es_header(const evm_effects *e, int md, const char **h, int n)
{
    const int nk = isnan(e->sd_ref) ? EVM_EFFECTS_NES - 1 : EVM_EFFECTS_NES;
    for (int k = 0; k < nk; k++) {
        h[n++] = es_col[k][0];
        if (!md) h[n++] = es_col[k][2], h[n++] = es_col[k][3];
        if (!md || k == EVM_EFFECTS_ES_G) h[n++] = es_col[k][4];
    }
    return n;
}

static void es_cells(FILE *f, const evm_effects *e, const evm_effects_es *x, int64_t r, int md)
{
    const int nk = isnan(e->sd_ref) ? EVM_EFFECTS_NES - 1 : EVM_EFFECTS_NES;
    for (int k = 0; k < nk; k++) {
        sep(f, md), cell_num(f, x[k].es[r], md);
        if (!md) sep(f, md), cell_num(f, x[k].lower[r], md), sep(f, md), cell_num(f, x[k].upper[r], md);
        if (!md || k == EVM_EFFECTS_ES_G) sep(f, md), cell_num(f, x[k].ii[r], md);
    }
}

static void write_contrasts(FILE *f, const evm_effects *e, int md)
{
    const char *h[40] = {"contrast", "variable", "level", "estimate", "se", "df", "t", "p",
                         "p_adjusted", "lower", "upper"};
    const int nh = es_header(e, md, h, 11);
    if (md) fprintf(f, "### Treatment effects (%s: %s - %s)\n\n", e->treatment,
                    e->treated_label, e->comparison_label);
    header(f, md, h, nh);
    for (int r = 0; r < e->ncon; r++) {
        const double v[] = {e->estimate[r], e->se[r], e->df[r], e->t[r], e->p[r], e->p_adj[r],
                            e->lower[r], e->upper[r]};
        row_start(f, md);
        cell_str(f, e->kind[r], md), sep(f, md);
        cell_str(f, e->variable[r], md), sep(f, md);
        cell_str(f, e->con_level[r], md);
        for (size_t k = 0; k < sizeof v / sizeof *v; k++) sep(f, md), cell_num(f, v[k], md);
        es_cells(f, e, e->con_es, r, md);
        row_end(f, md);
    }
}

static void write_schools(FILE *f, const evm_effects *e, int md)
{
    const char *h[60] = {"school", "group", "n_treated", "n_comparison", "estimate",
                         "pred_se", "pred_se_adj", "pred_lower", "pred_upper", "fixed", "mode",
                         "condsd", "np_estimate", "np_se", "np_df", "np_lower", "np_upper",
                         "shrinkage"};
    const int nh = es_header(e, md, h, 18);
    if (md) fprintf(f, "\n### Schools (%s)\n\nSchools with fewer than %d students in an arm "
                       "are not shown (%lld).\n\n", e->site, e->min_cell, (long long)e->n_suppressed);
    else fputc('\n', f);
    header(f, md, h, nh);
    for (int64_t s = 0; s < e->nsite; s++) {
        if (e->suppressed[s]) continue;
        row_start(f, md);
        cell_str(f, e->site_id[s], md), sep(f, md);
        cell_str(f, e->site_group[s] ? e->site_group[s] : "", md), sep(f, md);
        fprintf(f, "%lld", (long long)e->n_treated[s]), sep(f, md);
        fprintf(f, "%lld", (long long)e->n_comparison[s]);
        const double v[] = {e->est[s], e->pred_se[s], e->pred_se_adj[s], e->pred_lower[s], e->pred_upper[s],
                            e->fixed[s], e->mode[s], e->condsd[s], e->np_est[s], e->np_se[s],
                            e->np_df[s], e->np_lower[s], e->np_upper[s], e->shrinkage[s]};
        for (size_t k = 0; k < sizeof v / sizeof *v; k++) sep(f, md), cell_num(f, v[k], md);
        es_cells(f, e, e->site_es, s, md);
        row_end(f, md);
    }
}

/* The SDs the effect sizes divide by, and the variance components with their ICCs. */
static void write_sds(FILE *f, const evm_effects *e, int md)
{
    static const char *h[] = {"standardizer", "sd", "n", "multiplier"};
    static const char *label[EVM_EFFECTS_NES] = {"model", "comparison", "pooled (g)", "reference"};
    const int64_t N = e->n_t + e->n_c;
    const double n[EVM_EFFECTS_NES] = {(double)N, (double)e->n_c, (double)N, NAN};
    if (md) fprintf(f, "\n### Effect sizes: the standard deviations\n\nEffect size = effect / "
                       "SD (times the multiplier omega = 1 - 3/(4N - 9) for Hedges' g).\n\n");
    else fputc('\n', f);
    header(f, md, h, 4);
    for (int k = 0; k < EVM_EFFECTS_NES; k++) {
        if (k == EVM_EFFECTS_ES_REF && isnan(e->sd_ref)) continue;
        row_start(f, md);
        cell_str(f, label[k], md);
        sep(f, md), cell_num(f, e->sd[k], md);
        sep(f, md), cell_num(f, n[k], md);
        sep(f, md), cell_num(f, k == EVM_EFFECTS_ES_G ? e->omega : 1.0, md);
        row_end(f, md);
    }
    static const char *hi[] = {"component", "variance", "icc", "icc_lower", "icc_upper"};
    if (md) fprintf(f, "\n### Variance components of the comparison condition\n\n");
    else fputc('\n', f);
    header(f, md, hi, 5);
    for (int j = 0; j < e->nicc; j++) {
        row_start(f, md);
        cell_str(f, e->icc_group[j], md);
        sep(f, md), cell_num(f, e->icc_var[j], md);
        sep(f, md), cell_num(f, e->icc[j], md);
        sep(f, md), cell_num(f, e->icc_lower[j], md);
        sep(f, md), cell_num(f, e->icc_upper[j], md);
        row_end(f, md);
    }
    row_start(f, md);
    cell_str(f, "Residual", md);
    sep(f, md), cell_num(f, e->resid_var, md);
    for (int k = 0; k < 3; k++) sep(f, md), cell_num(f, NAN, md);
    row_end(f, md);
}

/* The tables to `path` as it is named (no temporary file), CSV or Markdown (md). */
static int write_table_to(const char *path, int md, const char *shown, const evm_effects *e,
                          evm_ctx *c)
{
    FILE *f = fopen(path, "w");
    if (!f) return evm__fail(c, EVM_ERR_IO, "%s: cannot write the table: %s", shown, strerror(errno));
    write_contrasts(f, e, md);
    if (e->nsite > 0) write_schools(f, e, md);
    write_sds(f, e, md);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad) {
        const int st = evm__fail(c, EVM_ERR_IO, "%s: cannot write the table: %s", shown, strerror(errno));
        remove(path);
        return st;
    }
    return EVM_OK;
}

static int is_md(const char *path)
{
    const size_t len = strlen(path);
    return len >= 3 && strcmp(path + len - 3, ".md") == 0;
}

int evm_effects_write_table(const char *path, const evm_effects *e, evm_ctx *c)
{
    char *tmp = evm__asprintf("%s.tmp.%ld", path, (long)getpid());
    if (!tmp) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    int st = write_table_to(tmp, is_md(path), path, e, c);
    if (st >= 0 && rename(tmp, path) != 0) {
        st = evm__fail(c, EVM_ERR_IO, "%s: cannot write the table: %s", path, strerror(errno));
        remove(tmp);
    }
    free(tmp);
    return st;
}

int evm_effects_write_outputs(const char *h5, const char *table, const char *plot,
                              const evm_effects *e, evm_ctx *c)
{
    const char *path[3] = {h5, table, plot};
    char *tmp[3] = {NULL, NULL, NULL};
    int st = EVM_OK, k;
    for (k = 0; k < 3; k++)
        for (int j = 0; j < k; j++)
            if (path[k] && path[j] && strcmp(path[k], path[j]) == 0)
                return evm__fail(c, EVM_ERR_ARG, "%s: the same file for two outputs", path[k]);
    for (k = 0; k < 3 && st >= 0; k++) {
        if (!path[k]) continue;
        if (!(tmp[k] = evm__asprintf("%s.tmp.%ld", path[k], (long)getpid()))) {
            st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
            break;
        }
        if (k == 0) st = evm_effects_write_h5(tmp[k], e, c);
        else if (k == 1) st = write_table_to(tmp[k], is_md(path[k]), path[k], e, c);
        else st = evm_effects_plot(tmp[k], e, c);
        if (st < 0) {
            /* the writers name their (temporary) file first: name the user's */
            const char *msg = evm_ctx_message(c);
            const char *rest = msg && strncmp(msg, tmp[k], strlen(tmp[k])) == 0 ? strstr(msg, ": ") : NULL;
            if (rest) {
                char *m2 = evm__asprintf("%s%s", path[k], rest);
                if (m2) evm__fail(c, st, "%s", m2);
                free(m2);
            }
        }
    }
    /* every output written: rename them all (same folders, so each rename is atomic) */
    for (k = 0; k < 3 && st >= 0; k++)
        if (tmp[k] && rename(tmp[k], path[k]) != 0)
            st = evm__fail(c, EVM_ERR_IO, "%s: cannot write the file: %s", path[k], strerror(errno));
    for (k = 0; k < 3; k++) {
        if (tmp[k] && st < 0) remove(tmp[k]);
        free(tmp[k]);
    }
    return st;
}

/* ---------------------------------------------------------------- plot */
int evm_effects_plot(const char *path, const evm_effects *e, evm_ctx *c)
{
    if (e->nsite == 0 || !*e->site_term)
        return evm__fail(c, EVM_ERR_ARG, "%s: no school-by-school effects to plot (the model "
                                         "has no random treatment slope)", path);
    int64_t k = 0;
    const char **lab = evm__calloc((size_t)e->nsite, sizeof *lab);
    char **grp = evm__calloc((size_t)e->nsite, sizeof *grp);   /* legend: "cohort 1" */
    double *est = evm__malloc((size_t)e->nsite, sizeof *est);
    double *lo = evm__malloc((size_t)e->nsite, sizeof *lo);
    double *hi = evm__malloc((size_t)e->nsite, sizeof *hi);
    int st;
    if (!lab || !grp || !est || !lo || !hi) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (int64_t s = 0; s < e->nsite; s++) {
        if (e->suppressed[s] || isnan(e->est[s])) continue;
        lab[k] = e->site_id[s];
        grp[k] = evm__asprintf("%s %s", e->group_var, e->site_group[s] ? e->site_group[s] : "");
        if (!grp[k]) {
            st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
        est[k] = e->est[s], lo[k] = e->pred_lower[s], hi[k] = e->pred_upper[s];
        k++;
    }
    char *xlab = evm__asprintf("Effect of %s (%s - %s), %g%% prediction intervals", e->treatment,
                               e->treated_label, e->comparison_label, 100 * e->level);
    char *title = evm__asprintf("School-by-school effects (%s)%s%s", e->site,
                                *e->group_var ? ", by " : "", e->group_var);
    if (!xlab || !title) st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    else st = evm_plot_forest(path, k, lab, est, lo, hi,
                              *e->group_var ? (const char *const *)grp : NULL, e->pooled, xlab,
                              title, c);
    free(xlab);
    free(title);
cleanup:
    for (int64_t s = 0; grp && s < e->nsite; s++) free(grp[s]);
    free(lab), free(grp), free(est), free(lo), free(hi);
    return st;
}

/* ---------------------------------------------------------------- HDF5 */
/* The effect-size datasets of one table (n rows) after the k columns already in col[]. */
static int h5_es(evm__h5col *col, int k, const evm_effects_es *x, int64_t n)
{
    for (int s = 0; s < EVM_EFFECTS_NES; s++) {
        const double *v[5] = {x[s].es, x[s].se, x[s].lower, x[s].upper, x[s].ii};
        for (int a = 0; a < 5; a++) col[k++] = (evm__h5col)EVM__H5_F64(es_col[s][a], v[a], n);
    }
    return k;
}

int evm_effects_write_h5(const char *path, const evm_effects *e, evm_ctx *c)
{
    const int64_t nc = e->ncon, ns = e->nsite;
    int64_t *in_model = evm__malloc((size_t)(nc ? nc : 1), sizeof *in_model);
    int64_t *supp = evm__malloc((size_t)(ns ? ns : 1), sizeof *supp);
    if (!in_model || !supp) {
        free(in_model), free(supp);
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    }
    for (int64_t r = 0; r < nc; r++) in_model[r] = e->in_model[r];
    for (int64_t s = 0; s < ns; s++) supp[s] = e->suppressed[s];
    evm__h5col con[16 + 5 * EVM_EFFECTS_NES] = {
        EVM__H5_STR("kind", e->kind, nc), EVM__H5_STR("variable", e->variable, nc),
        EVM__H5_STR("level", e->con_level, nc), EVM__H5_STR("label", e->label, nc),
        EVM__H5_F64("estimate", e->estimate, nc), EVM__H5_F64("se", e->se, nc),
        EVM__H5_F64("df", e->df, nc), EVM__H5_F64("t", e->t, nc), EVM__H5_F64("p", e->p, nc),
        EVM__H5_F64("p_adjusted", e->p_adj, nc), EVM__H5_F64("lower", e->lower, nc),
        EVM__H5_F64("upper", e->upper, nc), EVM__H5_MAT("L", e->L, nc, e->p_coef),
        EVM__H5_STR("coef", e->coef, e->p_coef), EVM__H5_I64("in_model", in_model, nc)};
    const int ncon_col = h5_es(con, 15, e->con_es, nc);
    evm__h5col sch[20 + 5 * EVM_EFFECTS_NES] = {
        EVM__H5_STR("id", e->site_id, ns), EVM__H5_STR("group", e->site_group, ns),
        EVM__H5_I64("n_treated", e->n_treated, ns), EVM__H5_I64("n_comparison", e->n_comparison, ns),
        EVM__H5_I64("suppressed", supp, ns), EVM__H5_F64("estimate", e->est, ns),
        EVM__H5_F64("pred_se", e->pred_se, ns), EVM__H5_F64("pred_se_adj", e->pred_se_adj, ns),
        EVM__H5_F64("pred_lower", e->pred_lower, ns),
        EVM__H5_F64("pred_upper", e->pred_upper, ns), EVM__H5_F64("fixed", e->fixed, ns),
        EVM__H5_F64("mode", e->mode, ns), EVM__H5_F64("condsd", e->condsd, ns),
        EVM__H5_F64("np_estimate", e->np_est, ns), EVM__H5_F64("np_se", e->np_se, ns),
        EVM__H5_F64("np_df", e->np_df, ns), EVM__H5_F64("np_lower", e->np_lower, ns),
        EVM__H5_F64("np_upper", e->np_upper, ns), EVM__H5_I64("np_clusters", e->np_nclusters, ns),
        EVM__H5_F64("shrinkage", e->shrinkage, ns)};
    const int nsch_col = h5_es(sch, 20, e->site_es, ns);
    const evm__h5attr top[] = {
        EVM__H5_ASTR("treatment", e->treatment), EVM__H5_ASTR("treated", e->treated_label),
        EVM__H5_ASTR("comparison", e->comparison_label), EVM__H5_ASTR("ddf", e->ddf),
        EVM__H5_ASTR("adjust", e->adjust), EVM__H5_AF64("level", e->level),
        EVM__H5_AI64("min_cell", e->min_cell), EVM__H5_AF64("sd_ref", e->sd_ref),
        EVM__H5_AF64("sd_model", e->sd[EVM_EFFECTS_ES_MODEL]),
        EVM__H5_AF64("sd_comparison", e->sd[EVM_EFFECTS_ES_COMPARISON]),
        EVM__H5_AF64("sd_pooled", e->sd[EVM_EFFECTS_ES_G]), EVM__H5_AF64("omega", e->omega),
        EVM__H5_AI64("n_treated", e->n_t), EVM__H5_AI64("n_comparison", e->n_c),
        EVM__H5_AF64("mean_treated", e->mean_t), EVM__H5_AF64("mean_comparison", e->mean_c),
        EVM__H5_AF64("sd_treated", e->sd_t)};
    const evm__h5attr het[] = {
        EVM__H5_ASTR("site", e->site ? e->site : ""), EVM__H5_ASTR("term", e->site_term ? e->site_term : ""),
        EVM__H5_ASTR("group_var", e->group_var ? e->group_var : ""),
        EVM__H5_ASTR("np_cluster", e->np_cluster ? e->np_cluster : ""),
        EVM__H5_AF64("tau", e->tau), EVM__H5_AF64("tau_lower", e->tau_lower),
        EVM__H5_AF64("tau_upper", e->tau_upper), EVM__H5_AF64("pooled", e->pooled),
        EVM__H5_AF64("share_positive", e->share_positive),
        EVM__H5_AI64("n_schools", e->nsite), EVM__H5_AI64("n_suppressed", e->n_suppressed),
        EVM__H5_AI64("n_pi_above_0", e->n_pi_above), EVM__H5_AI64("n_pi_below_0", e->n_pi_below)};
    const int64_t ni = e->nicc;
    const evm__h5col icc[] = {
        EVM__H5_STR("group", e->icc_group, ni), EVM__H5_F64("variance", e->icc_var, ni),
        EVM__H5_F64("icc", e->icc, ni), EVM__H5_F64("lower", e->icc_lower, ni),
        EVM__H5_F64("upper", e->icc_upper, ni)};
    const evm__h5attr icca[] = {EVM__H5_ASTR("ci", e->icc_ci ? e->icc_ci : "none"),
                                EVM__H5_AF64("residual_variance", e->resid_var)};
    const evm__h5group groups[] = {
        {"effects", sizeof top / sizeof *top, top, 0, NULL},
        {"effects/contrasts", 0, NULL, ncon_col, con},
        {"effects/schools", (int)(sizeof het / sizeof *het), het, ns > 0 ? nsch_col : 0, sch},
        {"effects/icc", (int)(sizeof icca / sizeof *icca), icca, (int)(sizeof icc / sizeof *icc), icc}};
    int st = evm__h5_write_fit_groups(path, e->fit, groups, 4, c);
    free(in_model), free(supp);
    return st;
}

/* ---------------------------------------------------------------- reading it back */
/* The reader's steps stop at the first failure (rd.status); counts are set only once the
 * arrays they describe exist, so evm_effects_free can release a partial result. */
static void rd_es(evm__h5_reader *rd, hid_t g, const char *where, evm_effects_es *x, int n)
{
    for (int s = 0; s < EVM_EFFECTS_NES && rd->status >= 0; s++) {
        double **v[5] = {&x[s].es, &x[s].se, &x[s].lower, &x[s].upper, &x[s].ii};
        for (int a = 0; a < 5 && rd->status >= 0; a++)
            evm__h5r_vector(rd, g, where, es_col[s][a], n, v[a]);
    }
}

static void rd_i64_as_int(evm__h5_reader *rd, hid_t g, const char *where, const char *name,
                          int n, int **out)
{
    int64_t *v = NULL;
    hsize_t len = 0;
    if (evm__h5r_i64(rd, g, where, name, &len, &v) == EVM_OK &&
        evm__h5r_same_len(rd, len, n, where, name) == EVM_OK &&
        (*out = evm__malloc((size_t)(n ? n : 1), sizeof **out)) == NULL)
        evm__h5r_nomem(rd);
    for (int r = 0; rd->status >= 0 && r < n; r++) (*out)[r] = (int)v[r];
    free(v);
}

static void rd_i64n(evm__h5_reader *rd, hid_t g, const char *where, const char *name, int n,
                    int64_t **out)
{
    hsize_t len = 0;
    if (evm__h5r_i64(rd, g, where, name, &len, out) == EVM_OK)
        evm__h5r_same_len(rd, len, n, where, name);
}

/* /effects/<name>, or -1 with the failure recorded. */
static hid_t open_section(evm__h5_reader *rd, hid_t f, const char *name)
{
    char path[32];
    snprintf(path, sizeof path, "effects/%s", name);
    hid_t g = H5Gopen2(f, path, H5P_DEFAULT);
    if (g < 0) evm__h5r_hfail(rd, "group", "/effects", name);
    return g;
}

static void rd_contrasts(evm__h5_reader *rd, hid_t f, evm_effects *e)
{
    const char *w = "/effects/contrasts";
    hid_t g = open_section(rd, f, "contrasts");
    if (g < 0) return;
    int nc = 0, p = 0;
    (void)(evm__h5r_strings(rd, g, w, "kind", -1, &nc, &e->kind) ||
           evm__h5r_strings(rd, g, w, "coef", -1, &p, &e->coef));
    if (rd->status >= 0) e->ncon = nc, e->p_coef = p;
    (void)(rd->status < 0 || evm__h5r_strings(rd, g, w, "variable", nc, NULL, &e->variable) ||
           evm__h5r_strings(rd, g, w, "level", nc, NULL, &e->con_level) ||
           evm__h5r_strings(rd, g, w, "label", nc, NULL, &e->label) ||
           evm__h5r_vector(rd, g, w, "estimate", nc, &e->estimate) ||
           evm__h5r_vector(rd, g, w, "se", nc, &e->se) ||
           evm__h5r_vector(rd, g, w, "df", nc, &e->df) ||
           evm__h5r_vector(rd, g, w, "t", nc, &e->t) ||
           evm__h5r_vector(rd, g, w, "p", nc, &e->p) ||
           evm__h5r_vector(rd, g, w, "p_adjusted", nc, &e->p_adj) ||
           evm__h5r_vector(rd, g, w, "lower", nc, &e->lower) ||
           evm__h5r_vector(rd, g, w, "upper", nc, &e->upper) ||
           evm__h5r_matrix(rd, g, w, "L", nc, p, &e->L));
    if (rd->status >= 0) rd_i64_as_int(rd, g, w, "in_model", nc, &e->in_model);
    if (rd->status >= 0) rd_es(rd, g, w, e->con_es, nc);
    H5Gclose(g);
}

static void rd_schools(evm__h5_reader *rd, hid_t f, evm_effects *e)
{
    const char *w = "/effects/schools";
    hid_t g = open_section(rd, f, "schools");
    if (g < 0) return;
    int64_t ns = 0;
    (void)(evm__h5r_attr_str(rd, g, w, "site", &e->site) ||
           evm__h5r_attr_str(rd, g, w, "term", &e->site_term) ||
           evm__h5r_attr_str(rd, g, w, "group_var", &e->group_var) ||
           evm__h5r_attr_str(rd, g, w, "np_cluster", &e->np_cluster) ||
           evm__h5r_attr_f64(rd, g, w, "tau", &e->tau) ||
           evm__h5r_attr_f64(rd, g, w, "tau_lower", &e->tau_lower) ||
           evm__h5r_attr_f64(rd, g, w, "tau_upper", &e->tau_upper) ||
           evm__h5r_attr_f64(rd, g, w, "pooled", &e->pooled) ||
           evm__h5r_attr_f64(rd, g, w, "share_positive", &e->share_positive) ||
           evm__h5r_attr_i64(rd, g, w, "n_schools", &ns) ||
           evm__h5r_attr_i64(rd, g, w, "n_suppressed", &e->n_suppressed) ||
           evm__h5r_attr_i64(rd, g, w, "n_pi_above_0", &e->n_pi_above) ||
           evm__h5r_attr_i64(rd, g, w, "n_pi_below_0", &e->n_pi_below));
    if (rd->status >= 0 && (ns < 0 || ns > INT32_MAX))
        evm__h5r_bad(rd, w, "n_schools", "a count of schools");
    int n = 0;
    if (rd->status >= 0 && ns > 0 &&
        evm__h5r_strings(rd, g, w, "id", (int)ns, NULL, &e->site_id) == EVM_OK)
        e->nsite = n = (int)ns;
    if (rd->status >= 0 && n > 0) {
        (void)(evm__h5r_strings(rd, g, w, "group", n, NULL, &e->site_group) ||
               evm__h5r_vector(rd, g, w, "estimate", n, &e->est) ||
               evm__h5r_vector(rd, g, w, "pred_se", n, &e->pred_se) ||
               evm__h5r_vector(rd, g, w, "pred_se_adj", n, &e->pred_se_adj) ||
               evm__h5r_vector(rd, g, w, "pred_lower", n, &e->pred_lower) ||
               evm__h5r_vector(rd, g, w, "pred_upper", n, &e->pred_upper) ||
               evm__h5r_vector(rd, g, w, "fixed", n, &e->fixed) ||
               evm__h5r_vector(rd, g, w, "mode", n, &e->mode) ||
               evm__h5r_vector(rd, g, w, "condsd", n, &e->condsd) ||
               evm__h5r_vector(rd, g, w, "np_estimate", n, &e->np_est) ||
               evm__h5r_vector(rd, g, w, "np_se", n, &e->np_se) ||
               evm__h5r_vector(rd, g, w, "np_df", n, &e->np_df) ||
               evm__h5r_vector(rd, g, w, "np_lower", n, &e->np_lower) ||
               evm__h5r_vector(rd, g, w, "np_upper", n, &e->np_upper) ||
               evm__h5r_vector(rd, g, w, "shrinkage", n, &e->shrinkage));
        if (rd->status >= 0) rd_i64n(rd, g, w, "n_treated", n, &e->n_treated);
        if (rd->status >= 0) rd_i64n(rd, g, w, "n_comparison", n, &e->n_comparison);
        if (rd->status >= 0) rd_i64n(rd, g, w, "np_clusters", n, &e->np_nclusters);
        if (rd->status >= 0) rd_i64_as_int(rd, g, w, "suppressed", n, &e->suppressed);
        if (rd->status >= 0) rd_es(rd, g, w, e->site_es, n);
    }
    H5Gclose(g);
}

static void rd_icc(evm__h5_reader *rd, hid_t f, evm_effects *e)
{
    const char *w = "/effects/icc";
    hid_t g = open_section(rd, f, "icc");
    if (g < 0) return;
    int ni = 0;
    (void)(evm__h5r_attr_str(rd, g, w, "ci", &e->icc_ci) ||
           evm__h5r_attr_f64(rd, g, w, "residual_variance", &e->resid_var) ||
           evm__h5r_strings(rd, g, w, "group", -1, &ni, &e->icc_group));
    if (rd->status >= 0) e->nicc = ni;
    (void)(rd->status < 0 || evm__h5r_vector(rd, g, w, "variance", ni, &e->icc_var) ||
           evm__h5r_vector(rd, g, w, "icc", ni, &e->icc) ||
           evm__h5r_vector(rd, g, w, "lower", ni, &e->icc_lower) ||
           evm__h5r_vector(rd, g, w, "upper", ni, &e->icc_upper));
    H5Gclose(g);
}

int evm_effects_read_h5(const char *path, evm_effects **out, evm_ctx *c)
{
    *out = NULL;
    evm_result *fit = NULL;
    int st = evm_h5_read_fit(path, &fit, c);   /* checks the file and its fit */
    if (st < 0) return st;
    evm__h5_quiet quiet;
    evm__h5_silence(&quiet);
    struct stat sb;
    evm__h5_reader rd = {path, c, 0, EVM_OK};
    rd.cap = ((hsize_t)(stat(path, &sb) == 0 ? sb.st_size : 0) + 65536) * 256;
    evm_effects *e = NULL;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        evm__h5r_hfail(&rd, "file", "/", "");
        goto cleanup;
    }
    if (H5Lexists(f, "effects", H5P_DEFAULT) <= 0) goto cleanup;   /* a plain fit */
    if (!(e = evm__calloc(1, sizeof *e))) {
        evm__h5r_nomem(&rd);
        goto cleanup;
    }
    e->fit = fit;
    fit = NULL;
    const char *w = "/effects";
    hid_t top = H5Gopen2(f, "effects", H5P_DEFAULT);
    if (top < 0) {
        evm__h5r_hfail(&rd, "group", "/", "effects");
        goto cleanup;
    }
    int64_t min_cell = 0;
    (void)(evm__h5r_attr_str(&rd, top, w, "treatment", &e->treatment) ||
           evm__h5r_attr_str(&rd, top, w, "treated", &e->treated_label) ||
           evm__h5r_attr_str(&rd, top, w, "comparison", &e->comparison_label) ||
           evm__h5r_attr_str(&rd, top, w, "ddf", &e->ddf) ||
           evm__h5r_attr_str(&rd, top, w, "adjust", &e->adjust) ||
           evm__h5r_attr_f64(&rd, top, w, "level", &e->level) ||
           evm__h5r_attr_i64(&rd, top, w, "min_cell", &min_cell) ||
           evm__h5r_attr_f64(&rd, top, w, "sd_ref", &e->sd_ref) ||
           evm__h5r_attr_f64(&rd, top, w, "sd_model", &e->sd[EVM_EFFECTS_ES_MODEL]) ||
           evm__h5r_attr_f64(&rd, top, w, "sd_comparison", &e->sd[EVM_EFFECTS_ES_COMPARISON]) ||
           evm__h5r_attr_f64(&rd, top, w, "sd_pooled", &e->sd[EVM_EFFECTS_ES_G]) ||
           evm__h5r_attr_f64(&rd, top, w, "omega", &e->omega) ||
           evm__h5r_attr_i64(&rd, top, w, "n_treated", &e->n_t) ||
           evm__h5r_attr_i64(&rd, top, w, "n_comparison", &e->n_c) ||
           evm__h5r_attr_f64(&rd, top, w, "mean_treated", &e->mean_t) ||
           evm__h5r_attr_f64(&rd, top, w, "mean_comparison", &e->mean_c) ||
           evm__h5r_attr_f64(&rd, top, w, "sd_treated", &e->sd_t));
    H5Gclose(top);
    e->min_cell = (int)(min_cell < 0 ? 0 : min_cell > INT32_MAX ? INT32_MAX : min_cell);
    e->sd[EVM_EFFECTS_ES_REF] = e->sd_ref;
    e->sd_c = e->sd[EVM_EFFECTS_ES_COMPARISON];
    /* the site attribute lives with the schools; the contrasts need it only for the title */
    if (rd.status >= 0) rd_contrasts(&rd, f, e);
    if (rd.status >= 0) rd_schools(&rd, f, e);
    if (rd.status >= 0) rd_icc(&rd, f, e);
cleanup:
    if (f >= 0) H5Fclose(f);
    evm__h5_restore(&quiet);
    evm_result_free(&fit);
    if (rd.status < 0) {
        evm_effects_free(&e);
        return rd.status;
    }
    *out = e;
    return EVM_OK;
}
