/* compare.c — evm_compare_fits: likelihood-ratio comparison of fitted models, as lme4's
 * anova(m1, m2, ...) (lme4 1.1-31 anovaLmer): models sorted by npar = p + ntheta + 1,
 * each row tested against the row before it with chisq = 2·max(0, Δ logLik),
 * df = Δ npar, p = P[χ²_df >= chisq] (NaN when df = 0); deviance = −2 logLik.
 *
 * Unlike anova(), nothing is refitted: REML fits are compared by their REML criteria,
 * which is valid only between models with the same fixed effects, so other REML
 * comparisons are refused.  Fits to different data (input hash or number of observations)
 * or of different responses are refused too.
 *
 * A row that adds only random-effect parameters to the row before it (same fixed
 * effects, more θ) tests variances whose null value lies on the boundary of the parameter
 * space; the χ²_df reference is then conservative, and the usual correction (Self &
 * Liang 1987; Stram & Lee 1994) is the 50:50 mixture of χ²_df and χ²_{df−1}, reported in
 * p_mixture (χ²_0 being the point mass at 0). */
#include "internal.h"
#include "rformat.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The response (left of the top-level '~') without blanks; NULL when out of memory. */
static char *response_of(const char *formula)
{
    const char *f = formula ? formula : "";
    size_t end = 0;
    int depth = 0;
    for (; f[end]; end++) {
        if (f[end] == '(') depth++;
        else if (f[end] == ')' && depth > 0) depth--;
        else if (f[end] == '~' && depth == 0) break;
    }
    if (!f[end]) end = 0;   /* no '~': no response to compare */
    char *r = evm__malloc(end + 1, 1), *d = r;
    if (!r) return NULL;
    for (size_t i = 0; i < end; i++)
        if (!isspace((unsigned char)f[i])) *d++ = f[i];
    *d = '\0';
    return r;
}

static int has_name(const evm_result *r, const char *name)
{
    for (int k = 0; k < r->p; k++)
        if (r->fixef_name[k] && strcmp(r->fixef_name[k], name) == 0) return 1;
    return 0;
}

/* Do a and b have the same fixed-effect names (in any order)? */
static int same_fixef(const evm_result *a, const evm_result *b)
{
    if (a->p != b->p) return 0;
    for (int k = 0; k < a->p; k++)
        if (!a->fixef_name[k] || !has_name(b, a->fixef_name[k])) return 0;
    return 1;
}

static const char *str_or_empty(const char *s) { return s ? s : ""; }

/* Refuse pairs that cannot be compared; the message names both models. */
static int check_pair(const evm_result *a, const char *la, const evm_result *b,
                      const char *lb, evm_ctx *c)
{
    const char *ha = str_or_empty(a->input_sha256), *hb = str_or_empty(b->input_sha256);
    if (*ha && *hb && strcmp(ha, hb) != 0)
        return evm__fail(c, EVM_ERR_MODEL,
                         "%s and %s were fitted to different data (input_sha256 differs: "
                         "%.12s... and %.12s...)", la, lb, ha, hb);
    if (a->n_obs != b->n_obs)
        return evm__fail(c, EVM_ERR_MODEL,
                         "%s and %s were fitted to different data (%lld and %lld "
                         "observations: missing values in different variables?)",
                         la, lb, (long long)a->n_obs, (long long)b->n_obs);
    char *ra = response_of(a->formula), *rb = response_of(b->formula);
    int st = EVM_OK;
    if (!ra || !rb) st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    else if (strcmp(ra, rb) != 0)
        st = evm__fail(c, EVM_ERR_MODEL, "%s and %s have different responses ('%s' and '%s')",
                       la, lb, ra, rb);
    free(ra);
    free(rb);
    if (st) return st;
    if ((a->reml != 0) != (b->reml != 0))
        return evm__fail(c, EVM_ERR_MODEL,
                         "%s was fitted by %s and %s by %s: fit both by ML (--ml) to compare "
                         "them", la, a->reml ? "REML" : "ML", lb, b->reml ? "REML" : "ML");
    if (a->reml && !same_fixef(a, b))
        return evm__fail(c, EVM_ERR_MODEL,
                         "%s and %s are REML fits with different fixed effects: their REML "
                         "criteria are not comparable (refit both with --ml)", la, lb);
    return EVM_OK;
}

void evm_comparison_free(evm_comparison **t)
{
    if (!t || !*t) return;
    evm_comparison *x = *t;
    for (int i = 0; i < x->n; i++) {
        if (x->model) free(x->model[i]);
        if (x->file) free(x->file[i]);
        if (x->formula) free(x->formula[i]);
    }
    free(x->model);
    free(x->file);
    free(x->formula);
    free(x->input);
    free(x->input_sha256);
    free(x->order);
    free(x->npar);
    free(x->aic);
    free(x->bic);
    free(x->loglik);
    free(x->deviance);
    free(x->chisq);
    free(x->df);
    free(x->p);
    free(x->p_mixture);
    free(x);
    *t = NULL;
}

static evm_comparison *comparison_alloc(int n)
{
    evm_comparison *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    size_t m = (size_t)n;
    t->n = n;
    t->model = evm__calloc(m, sizeof(char *));
    t->file = evm__calloc(m, sizeof(char *));
    t->formula = evm__calloc(m, sizeof(char *));
    t->order = evm__calloc(m, sizeof(int));
    t->npar = evm__calloc(m, sizeof(int64_t));
    double **cols[] = {&t->aic, &t->bic,   &t->loglik, &t->deviance,
                       &t->chisq, &t->df, &t->p,      &t->p_mixture};
    int ok = t->model && t->file && t->formula && t->order && t->npar;
    for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++)
        ok &= (*cols[k] = evm__calloc(m, sizeof(double))) != NULL;
    if (!ok) evm_comparison_free(&t);
    return t;
}

int evm_compare_fits(const evm_result *const *fits, const char *const *labels,
                     const char *const *files, int n, evm_comparison **out, evm_ctx *c)
{
    if (!out) return evm__fail(c, EVM_ERR_ARG, "evm_compare_fits: no output pointer");
    *out = NULL;
    if (n < 2 || !fits || !labels)
        return evm__fail(c, EVM_ERR_ARG, "evm_compare_fits: need at least two models");
    for (int i = 0; i < n; i++)
        if (!fits[i] || !labels[i])
            return evm__fail(c, EVM_ERR_ARG, "evm_compare_fits: model %d is missing", i + 1);
    /* messages name the files when there are any, the labels otherwise */
    const char *const *names = files ? files : labels;
    for (int i = 1; i < n; i++) {
        const char *n0 = names[0] ? names[0] : labels[0];
        const char *ni = names[i] ? names[i] : labels[i];
        int st = check_pair(fits[0], n0, fits[i], ni, c);
        if (st) return st;
    }
    /* (every check is an equality, so agreeing with the first model is enough) */
    evm_comparison *t = comparison_alloc(n);
    if (!t) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");

    /* order by npar, ties in the given order (insertion sort: n is small) */
    for (int i = 0; i < n; i++) {
        const evm_result *r = fits[i];
        int64_t np = (int64_t)r->p + r->ntheta + 1;
        int j = i;
        while (j > 0 && t->npar[j - 1] > np) {
            t->npar[j] = t->npar[j - 1];
            t->order[j] = t->order[j - 1];
            j--;
        }
        t->npar[j] = np;
        t->order[j] = i;
    }
    const evm_result *first = fits[t->order[0]];
    t->reml = first->reml != 0;
    t->n_obs = first->n_obs;
    if (!(t->input = evm__strdup(str_or_empty(first->input))) ||
        !(t->input_sha256 = evm__strdup(str_or_empty(first->input_sha256))))
        goto nomem;
    for (int k = 0; k < n; k++) {
        const evm_result *r = fits[t->order[k]];
        const char *file = files && files[t->order[k]] ? files[t->order[k]] : "";
        if (!(t->model[k] = evm__strdup(labels[t->order[k]])) ||
            !(t->file[k] = evm__strdup(file)) ||
            !(t->formula[k] = evm__strdup(str_or_empty(r->formula))))
            goto nomem;
        t->aic[k] = r->aic;
        t->bic[k] = r->bic;
        t->loglik[k] = r->loglik;
        t->deviance[k] = -2 * r->loglik;
        t->chisq[k] = t->df[k] = t->p[k] = t->p_mixture[k] = NAN;
        if (k == 0) continue;
        const evm_result *prev = fits[t->order[k - 1]];
        double d = 2 * (r->loglik - prev->loglik);
        t->chisq[k] = d > 0 ? d : 0;
        t->df[k] = (double)(t->npar[k] - t->npar[k - 1]);
        if (t->df[k] != 0) t->p[k] = evm_pchisq(t->chisq[k], t->df[k], 0);
        /* only random-effect parameters added: the boundary mixture */
        if (t->df[k] > 0 && same_fixef(prev, r) && r->ntheta > prev->ntheta)
            t->p_mixture[k] = 0.5 * evm_pchisq(t->chisq[k], t->df[k], 0) +
                              0.5 * evm_pchisq(t->chisq[k], t->df[k] - 1, 0);
    }
    *out = t;
    return EVM_OK;
nomem:
    evm_comparison_free(&t);
    return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
}

/* ---------------------------------------------------------------- printing */

/* print.anova's heading: "Data: ...", "Models:", "label: formula" per row. */
static void print_heading(FILE *out, const evm_comparison *t)
{
    fprintf(out, "Data: %s\n", t->input && *t->input ? t->input : "(unknown)");
    fputs("Models:\n", out);
    for (int k = 0; k < t->n; k++) fprintf(out, "%s: %s\n", t->model[k], t->formula[k]);
}

static void print_notes(FILE *out, const evm_comparison *t)
{
    if (t->reml)
        fputs("Note: REML fits with the same fixed effects, compared as fitted: deviance is "
              "the\n  REML criterion (anova() in R would refit by ML; evalmix fit --ml does "
              "that).\n", out);
    for (int k = 1; k < t->n; k++) {
        if (isnan(t->p_mixture[k])) continue;
        evm__numstr pm;
        evm__format_pvals(&t->p_mixture[k], 1, 4, &pm);
        int df = (int)t->df[k];
        fprintf(out, "Note: %s adds only random-effect parameters to %s: under H0 they are "
                     "on the\n  boundary, so Pr(>Chisq) is conservative; the 50:50 mixture "
                     "of chi-squared(%d)\n  and chi-squared(%d) gives p = %s.\n",
                t->model[k], t->model[k - 1], df, df - 1, pm);
    }
}

void evm_comparison_print(FILE *out, const evm_comparison *t)
{
    if (!out || !t || t->n <= 0) return;
    double *npar = evm__malloc((size_t)t->n, sizeof *npar);
    if (!npar) return;
    for (int k = 0; k < t->n; k++) npar[k] = (double)t->npar[k];
    print_heading(out, t);
    /* print.anova: zap.ind = npar .. deviance, tst.ind = Chisq, Df as is, P-values last */
    const char *colname[] = {"npar", "AIC",   "BIC", "logLik",
                             "deviance", "Chisq", "Df",  "Pr(>Chisq)"};
    const double *col[] = {npar, t->aic, t->bic, t->loglik, t->deviance, t->chisq, t->df, t->p};
    evm__coefmat m = {t->n, (const char *const *)t->model, 8, colname, col, 0, 5,
                      0x1Fu, 1, 5, ""};
    evm__print_coefmat(out, &m);
    print_notes(out, t);
    free(npar);
}
