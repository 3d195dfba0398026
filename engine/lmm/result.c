/* result.c — evm_result_free, and evm_result_print: lme4's print(summary(fit)) (or
 * lmerTest's, with inference) plus the lines evaluators need (contrasts, F tests,
 * intervals, bootstrap, cluster-robust SEs, ICC, boundary fit, convergence, dropped
 * columns).
 *
 * The numbers are laid out as R lays them out (rformat.h): each section names the R
 * function whose output it copies (R 4.2, lme4 1.1-31, lmerTest 3.1-3).  A missing number
 * (NaN) prints as "NA". */
#include "internal.h"
#include "rformat.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- free */
static void free_strv(char **v, int64_t n)
{
    if (!v) return;
    for (int64_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void evm_result_free(evm_result **rp)
{
    if (!rp || !*rp) return;
    evm_result *r = *rp;
    free(r->evalmix_version);
    free(r->command);
    free(r->created);
    free(r->input);
    free(r->input_sha256);
    free(r->formula);
    free(r->optimizer);
    free(r->message);
    free(r->theta);
    free_strv(r->fixef_name, r->p);
    free(r->beta);
    free(r->se);
    free(r->df);
    free(r->t);
    free(r->pval);
    free(r->vcov);
    free(r->ddf);
    free_strv(r->dropped, r->ndropped);
    free_strv(r->vc_group, r->nvc);
    free_strv(r->vc_var1, r->nvc);
    free_strv(r->vc_var2, r->nvc);
    free(r->vc_vcov);
    free(r->vc_sdcor);
    if (r->ranef) {
        for (int i = 0; i < r->nranef; i++) {
            evm_ranef *re = &r->ranef[i];
            free(re->name);
            free_strv(re->level, re->nlevels);
            free_strv(re->term, re->nterms);
            free(re->mode);
            free(re->condsd);
        }
        free(r->ranef);
    }
    free_strv(r->group_name, r->ngroups);
    free(r->group_nlevels);
    free_strv(r->icc_group, r->nicc);
    free(r->icc);
    free(r->drop_reason);
    free(r->vcov_adj);
    free_strv(r->con_name, r->ncontrasts);
    free_strv(r->con_expr, r->ncontrasts);
    free(r->con_L);
    free(r->con_est);
    free(r->con_se);
    free(r->con_df);
    free(r->con_t);
    free(r->con_p);
    free_strv(r->anova_term, r->nanova);
    free(r->anova_F);
    free(r->anova_ndf);
    free(r->anova_ddf);
    free(r->anova_p);
    free(r->ci_method);
    free_strv(r->ci_param, r->nci);
    free(r->ci_lower);
    free(r->ci_upper);
    free_strv(r->boot_param, r->nbootpar);
    free(r->boot_est);
    free(r->boot_lower);
    free(r->boot_upper);
    free(r->robust_cluster);
    free(r->robust_se);
    free(r->robust_df);
    free(r->robust_t);
    free(r->robust_p);
    free(r->robust_vcov);
    free(r);
    *rp = NULL;
}

/* ---------------------------------------------------------------- small helpers */
static const char *str_or(const char *s, const char *dflt) { return s ? s : dflt; }
static int cnt(int n) { return n > 0 ? n : 0; }
static double at(const double *x, int64_t i) { return x ? x[i] : NAN; }
static const char *sat(char *const *s, int64_t i) { return s && s[i] ? s[i] : ""; }

/* ---------------------------------------------------------------- summary sections */
/* The denominator-df method of /fixef@ddf, as written by evm_ddf_name() or by hand. */
typedef enum {
    DDF_NONE,
    DDF_SATTERTHWAITE,
    DDF_KENWARD_ROGER,
    DDF_RESIDUAL,
    DDF_OTHER
} ddf_kind;

static ddf_kind ddf_of(const evm_result *r)
{
    if (!r->ddf || !*r->ddf || !strcasecmp(r->ddf, "none")) return DDF_NONE;
    if (!strcasecmp(r->ddf, "satterthwaite")) return DDF_SATTERTHWAITE;
    if (!strcasecmp(r->ddf, "kenward-roger")) return DDF_KENWARD_ROGER;
    if (!strcasecmp(r->ddf, "residual")) return DDF_RESIDUAL;
    return DDF_OTHER;
}

static int has_ddf(const evm_result *r) { return ddf_of(r) != DDF_NONE; }

/* How the t and F tests got their df, as lmerTest words it ("Satterthwaite's method");
 * a fresh string. */
static char *ddf_phrase(const evm_result *r)
{
    switch (ddf_of(r)) {
    case DDF_NONE: return evm__strdup("Wald chi-square tests (no denominator df)");
    case DDF_SATTERTHWAITE: return evm__strdup("Satterthwaite's method");
    case DDF_KENWARD_ROGER: return evm__strdup("Kenward-Roger's method");
    case DDF_RESIDUAL: return evm__strdup("residual degrees of freedom");
    default: return evm__asprintf("%s's method", r->ddf);
    }
}

/* .prt.methTit(): "<title> ['<class>']", wrapped as lme4 wraps a long one.  With
 * inference, lmerTest's title: "<fit>. t-tests use <phrase>" and class lmerModLmerTest
 * (also for the methods lmerTest lacks: residual df). */
static void print_title(FILE *out, const evm_result *r)
{
    const char *meth = r->reml ? "Linear mixed model fit by REML"
                               : "Linear mixed model fit by maximum likelihood ";
    const char *cls = has_ddf(r) ? "lmerModLmerTest" : "lmerMod";
    char *phrase = has_ddf(r) ? ddf_phrase(r) : NULL;
    char *title = !has_ddf(r) ? evm__strdup(meth)
                  : phrase    ? evm__asprintf("%s. t-tests use %s", meth, phrase)
                              : NULL;
    free(phrase);
    if (!title) return;
    if (evm__width_of(title) + 5 + evm__width_of(cls) <= EVM__LINE_WIDTH) {
        fprintf(out, "%s ['%s']\n", title, cls);
        free(title);
        return;
    }
    /* strwrap(title, width = 78, exdent = 2), then cat(lines, " [", class, "]", sep = "",
     * fill = TRUE). */
    int n = 0, cap = 8;
    const char **item = evm__malloc((size_t)cap + 3, sizeof *item);
    char *buf = evm__malloc(2 * strlen(title) + 8, 1), *d = buf;
    if (item && buf) {
        int len = 0;
        char *line = d;
        for (char *w = strtok(title, " "); w; w = strtok(NULL, " ")) {
            int wl = evm__width_of(w);
            if (len > 0 && len + 1 + wl >= 78) {
                *d++ = '\0';
                if (n == cap) break;
                item[n++] = line;
                line = d;
                d += sprintf(d, "  ");
                len = 2;
            } else if (len > 0) {
                *d++ = ' ';
                len++;
            }
            d += sprintf(d, "%s", w);
            len += wl;
        }
        *d = '\0';
        item[n++] = line;
        item[n++] = " [";
        item[n++] = cls;
        item[n++] = "]";
        evm__cat_fill(out, item, n, "");
    }
    free(item);
    free(buf);
    free(title);
}

/* .prt.aictab(): the REML criterion, or AIC, BIC, logLik, deviance and df.resid. */
static void print_criteria(FILE *out, const evm_result *r)
{
    evm__numstr s[5];
    if (r->reml) {
        evm__r_cat_num(s[0], evm__r_round(r->objective, 1));
        fprintf(out, "REML criterion at convergence: %s\n", s[0]);
        return;
    }
    double v[5] = {r->aic, r->bic, r->loglik, r->objective,
                   (double)r->n_obs - (cnt(r->p) + cnt(r->ntheta) + 1)};
    for (int i = 0; i < 5; i++) v[i] = evm__r_round(v[i], 1);
    evm__r_format_vec(v, 5, 7, 0, s);
    evm__r_cat_num(s[4], v[4]);
    const char *name[5] = {"AIC", "BIC", "logLik", "deviance", "df.resid"};
    const char *val[5] = {s[0], s[1], s[2], s[3], s[4]};
    evm__named_print(out, name, val, 5);
}

/* .prt.resids(): zapsmall(quantiles, 5) printed with 4 digits. */
static void print_resids(FILE *out, const evm_result *r)
{
    double q[5];
    evm__numstr s[5];
    memcpy(q, r->resid_quantiles, sizeof q);
    evm__r_zapsmall(q, 5, 5);
    evm__r_format_vec(q, 5, 4, 0, s);
    const char *name[5] = {"Min", "1Q", "Median", "3Q", "Max"};
    const char *val[5] = {s[0], s[1], s[2], s[3], s[4]};
    fputs("Scaled residuals: \n", out);
    evm__named_print(out, name, val, 5);
    fputc('\n', out);
}

/* The position of var1 == name among a group's variance rows, or -1. */
static int term_index(const evm_result *r, const int *rows, int k, const char *name)
{
    for (int i = 0; i < k; i++)
        if (!strcmp(sat(r->vc_var1, rows[i]), name)) return i;
    return -1;
}

/* The variance rows of the varcomp table (var2 == ""), grouped by group in order of first
 * appearance: group g's rows are row[gstart[g]] .. row[gstart[g + 1] - 1].  Returns the
 * number of groups; *nrow the number of rows. */
static int varcomp_groups(const evm_result *r, int *row, int *gstart, int *nrow)
{
    int ngrp = 0, n = 0;
    for (int i = 0; i < cnt(r->nvc); i++) {
        if (*sat(r->vc_var2, i)) continue;
        int seen = 0;
        for (int g = 0; g < ngrp && !seen; g++)
            seen = !strcmp(sat(r->vc_group, row[gstart[g]]), sat(r->vc_group, i));
        if (seen) continue;
        gstart[ngrp++] = n;
        for (int k = i; k < r->nvc; k++)
            if (!*sat(r->vc_var2, k) && !strcmp(sat(r->vc_group, k), sat(r->vc_group, i)))
                row[n++] = k;
    }
    gstart[ngrp] = n;
    *nrow = n;
    return ngrp;
}

/* One group's correlations as formatVC() shows them: format(round(cor, 2), nsmall = 2)
 * of the whole k x k matrix, its lower triangle into columns 4.. of the group's k table
 * rows (fresh strings).  `cor` is k x k workspace.  0, or -1 when out of memory. */
static int put_group_cor(const evm_result *r, const int *rows, int k, const char **cell,
                         int ncol, double *cor)
{
    const char *gname = sat(r->vc_group, rows[0]);
    for (int i = 0; i < k * k; i++) cor[i] = i % (k + 1) == 0 ? 1.0 : NAN;
    for (int v = 0; v < cnt(r->nvc); v++) {
        if (!*sat(r->vc_var2, v) || strcmp(sat(r->vc_group, v), gname)) continue;
        int a = term_index(r, rows, k, sat(r->vc_var1, v));
        int b = term_index(r, rows, k, sat(r->vc_var2, v));
        if (a >= 0 && b >= 0)
            cor[a * k + b] = cor[b * k + a] = evm__r_round(at(r->vc_sdcor, v), 2);
    }
    evm__rfmt f = evm__r_format(cor, k * k, 7, 2);
    for (int i = 1; i < k; i++)
        for (int j = 0; j < i; j++) {
            evm__numstr s;
            evm__r_encode(s, cor[i * k + j], f);
            if (!(cell[(size_t)i * (size_t)ncol + 4 + (size_t)j] = evm__strdup(s)))
                return -1;
        }
    return 0;
}

/* .prt.VC() / formatVC(): Groups, Name, Variance, Std.Dev. and the lower triangle of each
 * group's correlations, from the rows of as.data.frame(VarCorr()). */
static void print_varcomp(FILE *out, const evm_result *r)
{
    static const char *head[4] = {"Groups", "Name", "Variance", "Std.Dev."};
    const size_t nvc = (size_t)cnt(r->nvc);
    int *row = evm__malloc(nvc, sizeof *row),
        *gstart = evm__malloc(nvc + 1, sizeof *gstart);
    double *var = evm__malloc(nvc, sizeof *var), *sd = evm__malloc(nvc, sizeof *sd);
    evm__numstr *svar = evm__malloc(nvc, sizeof *svar),
                *ssd = evm__malloc(nvc, sizeof *ssd);
    const char **cell = NULL, **colname = NULL;
    double *cor = NULL;
    int nrow = 0, maxlen = 1, ncol = 4;
    fputs("Random effects:\n", out);
    if (!row || !gstart || !var || !sd || !svar || !ssd) goto done;

    int ngrp = varcomp_groups(r, row, gstart, &nrow);
    for (int g = 0; g < ngrp; g++)
        if (gstart[g + 1] - gstart[g] > maxlen) maxlen = gstart[g + 1] - gstart[g];
    for (int i = 0; i < nrow; i++) {
        var[i] = at(r->vc_vcov, row[i]);
        sd[i] = at(r->vc_sdcor, row[i]);
    }
    evm__r_format_vec(var, nrow, 4, 0, svar);
    evm__r_format_vec(sd, nrow, 4, 0, ssd);

    ncol = 4 + maxlen - 1;
    cell = evm__calloc((size_t)nrow * (size_t)ncol, sizeof *cell);
    colname = evm__calloc((size_t)ncol, sizeof *colname);
    cor = evm__malloc((size_t)maxlen * (size_t)maxlen, sizeof *cor);
    if (!cell || !colname || !cor) goto done;
    for (int j = 0; j < ncol; j++) colname[j] = j < 4 ? head[j] : j == 4 ? "Corr" : "";
    for (int i = 0; i < nrow; i++) {
        const char **c = cell + (size_t)i * (size_t)ncol;
        int first = 0;
        for (int g = 0; g < ngrp; g++) first |= gstart[g] == i;
        c[0] = first ? sat(r->vc_group, row[i]) : "";
        c[1] = sat(r->vc_var1, row[i]);
        c[2] = svar[i];
        c[3] = ssd[i];
    }
    for (int g = 0; g < ngrp; g++) {
        int k = gstart[g + 1] - gstart[g];
        if (k > 1 && put_group_cor(r, row + gstart[g], k,
                                   cell + (size_t)gstart[g] * (size_t)ncol, ncol, cor) < 0)
            goto done;
    }
    for (int i = 0; i < nrow * ncol; i++)
        if (!cell[i]) cell[i] = "";
    evm__table t = {nrow, ncol, NULL, colname, cell, 0};
    evm__table_print(out, &t);
done:
    if (cell) /* the correlations are the strings allocated here; "" is not */
        for (int i = 0; i < nrow; i++)
            for (int j = 4; j < ncol; j++) {
                const char *c = cell[(size_t)i * (size_t)ncol + (size_t)j];
                if (c && *c) free((char *)c);
            }
    free(cell);
    free(colname);
    free(cor);
    free(row);
    free(gstart);
    free(var);
    free(sd);
    free(svar);
    free(ssd);
}

/* .prt.grps() */
static void print_groups(FILE *out, const evm_result *r)
{
    size_t size = 64;
    for (int i = 0; i < cnt(r->ngroups); i++) size += strlen(sat(r->group_name, i)) + 32;
    char *first = evm__asprintf("Number of obs: %lld, groups: ", (long long)r->n_obs);
    char *rest = evm__malloc(size, 1);
    if (first && rest) {
        char *d = rest;
        *d = '\0';
        for (int i = 0; i < cnt(r->ngroups); i++)
            d += sprintf(d, "%s%s, %lld", i ? "; " : "", sat(r->group_name, i),
                         (long long)(r->group_nlevels ? r->group_nlevels[i] : 0));
        const char *item[2] = {first, rest};
        evm__cat_fill(out, item, 2, " ");
    }
    /* lme4 is silent here; lm's summary() says it, and evaluators need to see it */
    if (r->rows_dropped > 0)
        fprintf(out, "(%lld observation%s deleted: %s)\n", (long long)r->rows_dropped,
                r->rows_dropped == 1 ? "" : "s",
                r->drop_reason && *r->drop_reason ? r->drop_reason : "missing values");
    free(first);
    free(rest);
}

/* printCoefmat(digits = 4) of a coefficient table: lme4's columns (Estimate, <se>,
 * t value) or, with df, lmerTest's (Estimate, <se>, df, t value, Pr(>|t|) and stars).
 * Any array may be NULL (all NA). */
static void print_coef_table(FILE *out, int n, char *const *name, const char *se_name,
                             const double *est, const double *se, const double *df,
                             const double *t, const double *p, int with_df)
{
    const char *coln[5] = {"Estimate", se_name, "df", "t value", "Pr(>|t|)"};
    const char *coln_lme4[3] = {"Estimate", se_name, "t value"};
    const double *col[5] = {est, se, df, t, p};
    const double *col_lme4[3] = {est, se, t};
    const char **rown = evm__calloc((size_t)cnt(n), sizeof *rown);
    if (!rown) return;
    for (int i = 0; i < n; i++) rown[i] = sat(name, i);
    evm__coefmat m = {.nrow = n,
                      .rowname = rown,
                      .ncol = with_df ? 5 : 3,
                      .colname = with_df ? coln : coln_lme4,
                      .col = with_df ? col : col_lme4,
                      .ncs = with_df ? 3 : 2, /* estimate, SE (and df) rounded together */
                      .tst = with_df ? 3 : 2,
                      .has_p = with_df,
                      .digits = 4, /* summary.merMod: max(3, getOption("digits") - 3) */
                      .na_print = "NA"};
    evm__print_coefmat(out, &m);
    free(rown);
}

/* The fixed-effects table of summary(): lme4's, or lmerTest's with inference. */
static void print_fixef(FILE *out, const evm_result *r)
{
    print_coef_table(out, cnt(r->p), r->fixef_name, "Std. Error", r->beta, r->se, r->df,
                     r->t, r->pval, has_ddf(r));
}

/* "Correlation of Fixed Effects:" as lme4: the lower triangle of cov2cor(vcov), rounded to
 * 3 decimals, rows named evm__abbreviate(name, 11), columns evm__abbreviate(name, 6). */
static void print_fixef_cor(FILE *out, const evm_result *r)
{
    const int p = cnt(r->p);
    if (p < 2 || !r->vcov) return;
    if (p > 12) {
        fprintf(out,
                "\nCorrelation matrix not shown by default, as p = %d > 12.\n"
                "It can be computed from /fixef/vcov of the result file.\n",
                p);
        return;
    }
    double cor[144];
    evm__numstr s[144];
    const char *cell[144], *rown[12], *coln[12];
    char **rabb = evm__abbreviate(r->fixef_name, p, 11),
         **cabb = evm__abbreviate(r->fixef_name, p, 6);
    if (rabb && cabb) {
        for (int i = 0; i < p; i++)
            for (int j = 0; j < p; j++)
                cor[i * p + j] = evm__r_round(
                    r->vcov[i * p + j] / sqrt(r->vcov[i * p + i] * r->vcov[j * p + j]), 3);
        evm__r_format_vec(cor, p * p, 7, 3, s);
        for (int i = 1; i < p; i++) {
            rown[i - 1] = rabb[i];
            coln[i - 1] = cabb[i - 1];
            for (int j = 0; j < p - 1; j++)
                cell[(i - 1) * (p - 1) + j] = j < i ? s[i * p + j] : "";
        }
        fputs("\nCorrelation of Fixed Effects:\n", out);
        evm__table t = {p - 1, p - 1, rown, coln, cell, 0};
        evm__table_print(out, &t);
    }
    for (int i = 0; i < p; i++) {
        if (rabb) free(rabb[i]);
        if (cabb) free(cabb[i]);
    }
    free(rabb);
    free(cabb);
}

/* ---------------------------------------------------------------- inference sections */
/* "Contrasts:" — one row per --contrast NAME=EXPR, laid out as the fixed effects. */
static void print_contrasts(FILE *out, const evm_result *r)
{
    if (cnt(r->ncontrasts) == 0) return;
    fputs("\nContrasts:\n", out);
    print_coef_table(out, r->ncontrasts, r->con_name, "Std. Error", r->con_est, r->con_se,
                     r->con_df, r->con_t, r->con_p, has_ddf(r));
}

/* lmerTest's anova(fit) as print.anova() shows it (digits = 5), without the Sum Sq and
 * Mean Sq columns: NumDF, DenDF, F value, Pr(>F).  A missing DenDF (no ddf method: the p
 * value is then the chi-square one) prints blank, as R's na.print = "". */
static void print_anova(FILE *out, const evm_result *r)
{
    static const char *coln[4] = {"NumDF", "DenDF", "F value", "Pr(>F)"};
    if (!r->has_anova) return;
    if (cnt(r->nanova) == 0) {   /* an intercept-only model: lmerTest prints the bare header */
        char *phrase = ddf_phrase(r);
        if (phrase) fprintf(out, "\nType III Analysis of Variance Table with %s\n"
                                 "     NumDF DenDF F value Pr(>F)\n", phrase);
        free(phrase);
        return;
    }
    const char **rown = evm__calloc((size_t)r->nanova, sizeof *rown);
    char *phrase = ddf_phrase(r);
    if (rown && phrase) {
        for (int i = 0; i < r->nanova; i++) rown[i] = sat(r->anova_term, i);
        const double *col[4] = {r->anova_ndf, r->anova_ddf, r->anova_F, r->anova_p};
        evm__coefmat m = {.nrow = r->nanova,
                          .rowname = rown,
                          .ncol = 4,
                          .colname = coln,
                          .col = col,
                          .tst = 2,
                          .zap = 3u, /* NumDF, DenDF: they do not end in "Df" */
                          .has_p = 1,
                          .digits = 5, /* print.anova: max(getOption("digits") - 2, 3) */
                          .na_print = ""};
        fprintf(out, "\nType III Analysis of Variance Table with %s\n", phrase);
        evm__print_coefmat(out, &m);
    }
    free(rown);
    free(phrase);
}

/* confint()'s column names: format(100 * c(a, 1 - a), trim = TRUE, digits = 3) "%". */
static void percent_names(double level, evm__numstr lo, evm__numstr hi)
{
    double a[2] = {100 * (1 - level) / 2, 100 * (1 - (1 - level) / 2)};
    evm__numstr s[2];
    evm__r_format_vec(a, 2, 3, 0, s);
    snprintf(lo, EVM__NUM, "%s %%", s[0] + strspn(s[0], " "));
    snprintf(hi, EVM__NUM, "%s %%", s[1] + strspn(s[1], " "));
}

/* "Confidence intervals (method, 95%):" and the matrix confint() returns, as print()
 * shows it: each column in its own format with 7 significant digits. */
static void print_ci(FILE *out, const evm_result *r)
{
    const int n = cnt(r->nci);
    if (n == 0) return;
    evm__numstr lo, hi, lev;
    percent_names(r->ci_level, lo, hi);
    evm__r_cat_num(lev, 100 * r->ci_level);
    const char *coln[2] = {lo, hi}, *meth = str_or(r->ci_method, "");
    fprintf(out, "\nConfidence intervals (%s%s%s%%):\n", meth, *meth ? ", " : "",
            lev + strspn(lev, " "));
    double *x = evm__malloc((size_t)n * 2, sizeof *x);
    evm__numstr *s = evm__malloc((size_t)n * 2, sizeof *s);
    const char **cell = evm__malloc((size_t)n * 2, sizeof *cell);
    const char **rown = evm__malloc((size_t)n, sizeof *rown);
    if (x && s && cell && rown) {
        for (int i = 0; i < n; i++) {
            x[i] = at(r->ci_lower, i);
            x[n + i] = at(r->ci_upper, i);
            rown[i] = sat(r->ci_param, i);
        }
        evm__r_format_vec(x, n, 7, 0, s);
        evm__r_format_vec(x + n, n, 7, 0, s + n);
        for (int i = 0; i < n; i++) {
            cell[2 * i] = s[i];
            cell[2 * i + 1] = s[n + i];
        }
        evm__table t = {n, 2, rown, coln, cell, 1};
        evm__table_print(out, &t);
    }
    free(x);
    free(s);
    free(cell);
    free(rown);
}

/* One line: the replicates themselves are in /bootstrap of the result file. */
static void print_bootstrap(FILE *out, const evm_result *r)
{
    if (r->nboot <= 0) return;
    fprintf(out, "\nParametric bootstrap: %lld replicate%s (%lld failed), seed %llu\n",
            (long long)r->nboot, r->nboot == 1 ? "" : "s",
            (long long)(r->nboot - r->nboot_ok), (unsigned long long)r->boot_seed);
}

/* The fixed effects again with cluster-robust (CR2) standard errors and their
 * Satterthwaite df (clubSandwich's coef_test), laid out as the fixed effects. */
static void print_robust(FILE *out, const evm_result *r)
{
    if (!r->robust_cluster || cnt(r->p) == 0) return;
    fprintf(out, "\nCluster-robust (CR2) standard errors by %s (%lld cluster%s):\n",
            r->robust_cluster, (long long)r->robust_nclusters,
            r->robust_nclusters == 1 ? "" : "s");
    print_coef_table(out, r->p, r->fixef_name, "Robust SE", r->beta, r->robust_se,
                     r->robust_df, r->robust_t, r->robust_p, 1);
}

/* What evaluators need beyond lme4's summary. */
static void print_extras(FILE *out, const evm_result *r)
{
    for (int i = 0; i < cnt(r->nicc); i++) {
        evm__numstr v;
        double x = at(r->icc, i);
        if (isnan(x)) snprintf(v, EVM__NUM, "NA");
        else snprintf(v, EVM__NUM, "%.3f", x);
        fprintf(out, "%sIntra-class correlation: %s %s\n", i ? "" : "\n",
                sat(r->icc_group, i), v);
    }
    if (cnt(r->ndropped) > 0) {
        int n = r->ndropped;
        fprintf(out,
                "fit warnings:\nfixed-effect model matrix is rank deficient so dropping "
                "%d column%s / coefficient%s:",
                n, n > 1 ? "s" : "", n > 1 ? "s" : "");
        for (int i = 0; i < n; i++) fprintf(out, "%s %s", i ? "," : "", sat(r->dropped, i));
        fputc('\n', out);
    }
    if (r->singular) fputs("boundary (singular) fit: see help('isSingular')\n", out);
    if (!r->converged) {
        const char *msg = str_or(r->message, "");
        fprintf(out, "optimizer (%s) did not converge after %d evaluations%s%s\n",
                *str_or(r->optimizer, "") ? r->optimizer : "?", r->n_evaluations,
                *msg ? ": " : "", msg);
    }
}

void evm_result_print(FILE *out, const evm_result *r)
{
    if (!out) return;
    if (!r) {
        fputs("(no result)\n", out);
        return;
    }
    print_title(out, r);
    fprintf(out, "Formula: %s\n", str_or(r->formula, ""));
    if (r->input && *r->input) fprintf(out, "   Data: %s\n", r->input);
    fputc('\n', out);
    print_criteria(out, r);
    fputc('\n', out);
    print_resids(out, r);
    print_varcomp(out, r);
    print_groups(out, r);
    if (cnt(r->p) > 0) {
        fputs("\nFixed effects:\n", out);
        print_fixef(out, r);
        print_fixef_cor(out, r);
    }
    print_contrasts(out, r);
    print_anova(out, r);
    print_ci(out, r);
    print_bootstrap(out, r);
    print_robust(out, r);
    print_extras(out, r);
}
