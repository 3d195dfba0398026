/* report.c — what `evalmix effects` shows: the compact table on stdout, the CSV or
 * Markdown tables (--table), the forest plot (--plot) and the /effects sections of the
 * HDF5 file (--out).  Schools flagged for privacy (fewer than --min-cell students in an
 * arm) are left out of everything printed or plotted; the HDF5 file keeps every school with
 * its flag (docs/hdf5.md). */
#include "effects_internal.h"

#include "h5/write_effects.h"
#include "plot/plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    fprintf(out, "%-12s %-8s %5s %5s %9s %9s %19s %9s %9s %6s\n", "school",
            *e->group_var ? e->group_var : "group", "n.T", "n.C", "model", "pred.SE",
            "prediction int.", "no-pool", "SE", "shrink");
    for (int64_t s = 0; s < e->nsite; s++) {
        if (e->suppressed[s]) continue;
        fprintf(out, "%-12.12s %-8.8s %5lld %5lld ", e->site_id[s],
                e->site_group[s] ? e->site_group[s] : "", (long long)e->n_treated[s],
                (long long)e->n_comparison[s]);
        pnum(out, e->est[s], 9, 3);
        pnum(out, e->pred_se[s], 10, 3);
        fprintf(out, "  [");
        pnum(out, e->pred_lower[s], 7, 3);
        fprintf(out, ",");
        pnum(out, e->pred_upper[s], 7, 3);
        fprintf(out, "]");
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

static void write_contrasts(FILE *f, const evm_effects *e, int md)
{
    static const char *h[] = {"contrast", "variable", "level", "estimate", "se", "df", "t",
                              "p", "p_adjusted", "lower", "upper", "es_ref"};
    if (md) fprintf(f, "### Treatment effects (%s: %s - %s)\n\n", e->treatment,
                    e->treated_label, e->comparison_label);
    header(f, md, h, isnan(e->sd_ref) ? 11 : 12);
    for (int r = 0; r < e->ncon; r++) {
        const double v[] = {e->estimate[r], e->se[r], e->df[r], e->t[r], e->p[r], e->p_adj[r],
                            e->lower[r], e->upper[r], e->es_ref[r]};
        row_start(f, md);
        cell_str(f, e->kind[r], md), sep(f, md);
        cell_str(f, e->variable[r], md), sep(f, md);
        cell_str(f, e->con_level[r], md);
        for (int k = 0; k < (isnan(e->sd_ref) ? 8 : 9); k++) sep(f, md), cell_num(f, v[k], md);
        row_end(f, md);
    }
}

static void write_schools(FILE *f, const evm_effects *e, int md)
{
    static const char *h[] = {"school", "group", "n_treated", "n_comparison", "estimate",
                              "pred_se", "pred_lower", "pred_upper", "fixed", "mode", "condsd",
                              "np_estimate", "np_se", "np_df", "np_lower", "np_upper",
                              "shrinkage"};
    if (md) fprintf(f, "\n### Schools (%s)\n\nSchools with fewer than %d students in an arm "
                       "are not shown (%lld).\n\n", e->site, e->min_cell, (long long)e->n_suppressed);
    else fputc('\n', f);
    header(f, md, h, 17);
    for (int64_t s = 0; s < e->nsite; s++) {
        if (e->suppressed[s]) continue;
        row_start(f, md);
        cell_str(f, e->site_id[s], md), sep(f, md);
        cell_str(f, e->site_group[s] ? e->site_group[s] : "", md), sep(f, md);
        fprintf(f, "%lld", (long long)e->n_treated[s]), sep(f, md);
        fprintf(f, "%lld", (long long)e->n_comparison[s]);
        const double v[] = {e->est[s], e->pred_se[s], e->pred_lower[s], e->pred_upper[s],
                            e->fixed[s], e->mode[s], e->condsd[s], e->np_est[s], e->np_se[s],
                            e->np_df[s], e->np_lower[s], e->np_upper[s], e->shrinkage[s]};
        for (size_t k = 0; k < sizeof v / sizeof *v; k++) sep(f, md), cell_num(f, v[k], md);
        row_end(f, md);
    }
}

int evm_effects_write_table(const char *path, const evm_effects *e, evm_ctx *c)
{
    const size_t len = strlen(path);
    const int md = len >= 3 && strcmp(path + len - 3, ".md") == 0;
    char *tmp = evm__asprintf("%s.tmp", path);
    if (!tmp) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    FILE *f = fopen(tmp, "w");
    if (!f) {
        int st = evm__fail(c, EVM_ERR_IO, "%s: cannot write the table: %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    write_contrasts(f, e, md);
    if (e->nsite > 0) write_schools(f, e, md);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int st = evm__fail(c, EVM_ERR_IO, "%s: cannot write the table: %s", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    return EVM_OK;
}

/* ---------------------------------------------------------------- plot */
int evm_effects_plot(const char *path, const evm_effects *e, evm_ctx *c)
{
    if (e->nsite == 0 || !*e->site_term)
        return evm__fail(c, EVM_ERR_ARG, "%s: no school-by-school effects to plot (the model "
                                         "has no random treatment slope)", path);
    int64_t k = 0;
    const char **lab = evm__calloc((size_t)e->nsite, sizeof *lab);
    const char **grp = evm__calloc((size_t)e->nsite, sizeof *grp);
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
        grp[k] = e->site_group[s] ? e->site_group[s] : "";
        est[k] = e->est[s], lo[k] = e->pred_lower[s], hi[k] = e->pred_upper[s];
        k++;
    }
    char *xlab = evm__asprintf("Effect of %s (%s - %s), %g%% prediction intervals", e->treatment,
                               e->treated_label, e->comparison_label, 100 * e->level);
    char *title = evm__asprintf("School-by-school effects (%s)%s%s", e->site,
                                *e->group_var ? ", by " : "", e->group_var);
    if (!xlab || !title) st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    else st = evm_plot_forest(path, k, lab, est, lo, hi, *e->group_var ? grp : NULL, e->pooled,
                              xlab, title, c);
    free(xlab);
    free(title);
cleanup:
    free(lab), free(grp), free(est), free(lo), free(hi);
    return st;
}

/* ---------------------------------------------------------------- HDF5 */
int evm_effects_write_h5(const char *path, const evm_effects *e, evm_ctx *c)
{
    const int64_t nc = e->ncon, ns = e->nsite;
    const evm__h5col con[] = {
        EVM__H5_STR("kind", e->kind, nc), EVM__H5_STR("variable", e->variable, nc),
        EVM__H5_STR("level", e->con_level, nc), EVM__H5_STR("label", e->label, nc),
        EVM__H5_F64("estimate", e->estimate, nc), EVM__H5_F64("se", e->se, nc),
        EVM__H5_F64("df", e->df, nc), EVM__H5_F64("t", e->t, nc), EVM__H5_F64("p", e->p, nc),
        EVM__H5_F64("p_adjusted", e->p_adj, nc), EVM__H5_F64("lower", e->lower, nc),
        EVM__H5_F64("upper", e->upper, nc), EVM__H5_F64("es_ref", e->es_ref, nc),
        EVM__H5_MAT("L", e->L, nc, e->p_coef), EVM__H5_STR("coef", e->coef, e->p_coef)};
    int64_t *in_model = evm__malloc((size_t)(nc ? nc : 1), sizeof *in_model);
    int64_t *supp = evm__malloc((size_t)(ns ? ns : 1), sizeof *supp);
    if (!in_model || !supp) {
        free(in_model), free(supp);
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    }
    for (int64_t r = 0; r < nc; r++) in_model[r] = e->in_model[r];
    for (int64_t s = 0; s < ns; s++) supp[s] = e->suppressed[s];
    const evm__h5col con2[] = {EVM__H5_I64("in_model", in_model, nc)};
    const evm__h5col sch[] = {
        EVM__H5_STR("id", e->site_id, ns), EVM__H5_STR("group", e->site_group, ns),
        EVM__H5_I64("n_treated", e->n_treated, ns), EVM__H5_I64("n_comparison", e->n_comparison, ns),
        EVM__H5_I64("suppressed", supp, ns), EVM__H5_F64("estimate", e->est, ns),
        EVM__H5_F64("pred_se", e->pred_se, ns), EVM__H5_F64("pred_lower", e->pred_lower, ns),
        EVM__H5_F64("pred_upper", e->pred_upper, ns), EVM__H5_F64("fixed", e->fixed, ns),
        EVM__H5_F64("mode", e->mode, ns), EVM__H5_F64("condsd", e->condsd, ns),
        EVM__H5_F64("np_estimate", e->np_est, ns), EVM__H5_F64("np_se", e->np_se, ns),
        EVM__H5_F64("np_df", e->np_df, ns), EVM__H5_F64("np_lower", e->np_lower, ns),
        EVM__H5_F64("np_upper", e->np_upper, ns), EVM__H5_I64("np_clusters", e->np_nclusters, ns),
        EVM__H5_F64("shrinkage", e->shrinkage, ns)};
    const evm__h5attr top[] = {
        EVM__H5_ASTR("treatment", e->treatment), EVM__H5_ASTR("treated", e->treated_label),
        EVM__H5_ASTR("comparison", e->comparison_label), EVM__H5_ASTR("ddf", e->ddf),
        EVM__H5_ASTR("adjust", e->adjust), EVM__H5_AF64("level", e->level),
        EVM__H5_AI64("min_cell", e->min_cell), EVM__H5_AF64("sd_ref", e->sd_ref)};
    const evm__h5attr het[] = {
        EVM__H5_ASTR("site", e->site ? e->site : ""), EVM__H5_ASTR("term", e->site_term ? e->site_term : ""),
        EVM__H5_ASTR("group_var", e->group_var ? e->group_var : ""),
        EVM__H5_ASTR("np_cluster", e->np_cluster ? e->np_cluster : ""),
        EVM__H5_AF64("tau", e->tau), EVM__H5_AF64("tau_lower", e->tau_lower),
        EVM__H5_AF64("tau_upper", e->tau_upper), EVM__H5_AF64("pooled", e->pooled),
        EVM__H5_AF64("share_positive", e->share_positive),
        EVM__H5_AI64("n_schools", e->nsite), EVM__H5_AI64("n_suppressed", e->n_suppressed),
        EVM__H5_AI64("n_pi_above_0", e->n_pi_above), EVM__H5_AI64("n_pi_below_0", e->n_pi_below)};
    evm__h5col cons[sizeof con / sizeof *con + 1];
    memcpy(cons, con, sizeof con);
    cons[sizeof con / sizeof *con] = con2[0];
    const evm__h5group groups[] = {
        {"effects", sizeof top / sizeof *top, top, 0, NULL},
        {"effects/contrasts", 0, NULL, (int)(sizeof cons / sizeof *cons), cons},
        {"effects/schools", (int)(sizeof het / sizeof *het), het,
         ns > 0 ? (int)(sizeof sch / sizeof *sch) : 0, sch}};
    int st = evm__h5_write_fit_groups(path, e->fit, groups, 3, c);
    free(in_model), free(supp);
    return st;
}
