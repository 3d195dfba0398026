/* extract.c — a fitted model's results as an evm_result (what the HDF5 file stores and
 * the summary prints), with lme4's names and orders. */
#include "lmm_internal.h"

#include "internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static char **strv_new(int n)
{
    return evm__calloc((size_t)(n > 0 ? n : 1), sizeof(char *));
}

/* R's make.names() for one name: characters other than letters, digits, '.' and '_'
 * become '.'; a name that does not start with a letter, or with '.' not followed by a
 * digit, gets an "X" in front; a reserved word gets a '.' after it.  Bytes of UTF-8
 * characters are kept (letters in a UTF-8 locale). */
static char *r_make_name(const char *g)
{
    static const char *const reserved[] = {
        "if", "else", "repeat", "while", "function", "for", "next", "break", "in", "TRUE",
        "FALSE", "NULL", "Inf", "NaN", "NA", "NA_integer_", "NA_real_", "NA_character_",
        "NA_complex_"};
    const size_t len = strlen(g);
    char *s = evm__malloc(len + 3, 1);
    if (!s) return NULL;
    const unsigned char c0 = (unsigned char)g[0], c1 = c0 ? (unsigned char)g[1] : 0;
    const int ok_start = isalpha(c0) || c0 >= 0x80 || (c0 == '.' && !isdigit(c1));
    size_t j = 0;
    if (!ok_start) s[j++] = 'X';
    for (size_t i = 0; i < len; i++) {
        const unsigned char ch = (unsigned char)g[i];
        s[j++] = (char)(isalnum(ch) || ch == '.' || ch == '_' || ch >= 0x80 ? ch : '.');
    }
    s[j] = '\0';
    for (size_t k = 0; k < sizeof reserved / sizeof *reserved; k++)
        if (strcmp(s, reserved[k]) == 0) {
            s[j++] = '.';
            s[j] = '\0';
            break;
        }
    return s;
}

/* VarCorr group names of the K sorted terms, as lme4's mkVarCorr: the grouping factors'
 * names, unless one repeats ((x || g), or (1|g) + (0 + x|g)); then all of them go
 * through make.names(unique = TRUE): "school:classroom" becomes "school.classroom" and the
 * repeats get ".1", ".2" (make.unique: the first unused suffix for that name). */
static char **vc_group_names(const evm_lmm *m)
{
    const int K = m->K;
    char **v = strv_new(K);
    int dup = 0;
    if (!v) return NULL;
    for (int k = 0; k < K; k++)
        for (int j = 0; j < k; j++)
            dup |= !strcmp(m->mf->re[m->t[j].src].group, m->mf->re[m->t[k].src].group);
    for (int k = 0; k < K; k++) {
        const char *g = m->mf->re[m->t[k].src].group;
        if (!(v[k] = dup ? r_make_name(g) : evm__strdup(g))) goto fail;
    }
    for (int k = 1; dup && k < K; k++) {
        int seen = 0;
        for (int j = 0; j < k && !seen; j++) seen = !strcmp(v[j], v[k]);
        for (int cnt = 1; seen; cnt++) {
            char *u = evm__asprintf("%s.%d", v[k], cnt);
            if (!u) goto fail;
            seen = 0;
            for (int j = 0; j < K && !seen; j++) seen = j != k && !strcmp(v[j], u);
            if (seen) {
                free(u);
                continue;
            }
            free(v[k]);
            v[k] = u;
        }
    }
    return v;
fail:
    for (int k = 0; k < K; k++) free(v[k]);
    free(v);
    return NULL;
}

static void free_names(char **v, int n)
{
    for (int k = 0; v && k < n; k++) free(v[k]);
    free(v);
}

static int fill_varcomp(const evm_lmm *m, evm_result *r)
{
    int nvc = 1;
    for (int k = 0; k < m->K; k++) nvc += m->t[k].q * (m->t[k].q + 1) / 2;
    r->nvc = nvc;
    r->vc_group = strv_new(nvc);
    r->vc_var1 = strv_new(nvc);
    r->vc_var2 = strv_new(nvc);
    r->vc_vcov = evm__calloc((size_t)nvc, sizeof(double));
    r->vc_sdcor = evm__calloc((size_t)nvc, sizeof(double));
    char **names = vc_group_names(m);
    if (!names || !r->vc_group || !r->vc_var1 || !r->vc_var2 || !r->vc_vcov || !r->vc_sdcor) {
        free_names(names, m->K);
        return -1;
    }
    const double s2 = m->sigma * m->sigma;
    int row = 0;
    for (int k = 0; k < m->K; k++) {
        const evm__term *t = &m->t[k];
        const evm__reterm *re = &m->mf->re[t->src];
        const int q = t->q;
        double S[64];   /* σ² T Tᵀ */
        for (int a = 0; a < q; a++)
            for (int b = 0; b < q; b++) {
                double s = 0.0;
                for (int l = 0; l <= (a < b ? a : b); l++) s += t->T[a + l * q] * t->T[b + l * q];
                S[a + b * q] = s2 * s;
            }
        for (int a = 0; a < q; a++, row++) {
            r->vc_group[row] = evm__strdup(names[k]);
            r->vc_var1[row] = evm__strdup(re->colnames[a]);
            r->vc_var2[row] = evm__strdup("");
            r->vc_vcov[row] = S[a + a * q];
            r->vc_sdcor[row] = sqrt(S[a + a * q]);
        }
        for (int a = 0; a < q; a++)
            for (int b = a + 1; b < q; b++, row++) {
                r->vc_group[row] = evm__strdup(names[k]);
                r->vc_var1[row] = evm__strdup(re->colnames[a]);
                r->vc_var2[row] = evm__strdup(re->colnames[b]);
                r->vc_vcov[row] = S[b + a * q];
                const double d = sqrt(S[a + a * q] * S[b + b * q]);
                r->vc_sdcor[row] = d > 0 ? S[b + a * q] / d : NAN;
            }
    }
    r->vc_group[row] = evm__strdup("Residual");
    r->vc_var1[row] = evm__strdup("");
    r->vc_var2[row] = evm__strdup("");
    r->vc_vcov[row] = s2;
    r->vc_sdcor[row] = m->sigma;
    free_names(names, m->K);
    for (int i = 0; i < nvc; i++)
        if (!r->vc_group[i] || !r->vc_var1[i] || !r->vc_var2[i]) return -1;
    return 0;
}

/* ranef(): one entry per distinct grouping factor, in the order the sorted terms first
 * use it; terms sharing a factor ((x || g)) contribute their columns side by side. */
static int fill_ranef(const evm_lmm *m, evm_result *r)
{
    const int K = m->K;
    int *first = evm__calloc((size_t)(K ? K : 1), sizeof *first);
    if (!first) return -1;
    int ng = 0;
    for (int k = 0; k < K; k++) {
        const char *g = m->mf->re[m->t[k].src].group;
        int seen = 0;
        for (int j = 0; j < k; j++)
            if (strcmp(m->mf->re[m->t[j].src].group, g) == 0) seen = 1;
        if (!seen) first[ng++] = k;
    }
    r->nranef = ng;
    r->ranef = evm__calloc((size_t)(ng ? ng : 1), sizeof *r->ranef);
    r->ngroups = ng;
    r->group_name = strv_new(ng);
    r->group_nlevels = evm__calloc((size_t)(ng ? ng : 1), sizeof(int64_t));
    if (!r->ranef || !r->group_name || !r->group_nlevels) goto fail;
    for (int gi = 0; gi < ng; gi++) {
        const evm__reterm *re0 = &m->mf->re[m->t[first[gi]].src];
        evm_ranef *rf = &r->ranef[gi];
        int nterms = 0;
        for (int k = 0; k < K; k++)
            if (strcmp(m->mf->re[m->t[k].src].group, re0->group) == 0) nterms += m->t[k].q;
        rf->name = evm__strdup(re0->group);
        r->group_name[gi] = evm__strdup(re0->group);
        rf->nlevels = re0->nlevels;
        r->group_nlevels[gi] = re0->nlevels;
        rf->nterms = nterms;
        rf->level = strv_new((int)rf->nlevels);
        rf->term = strv_new(nterms);
        rf->mode = evm__calloc((size_t)(rf->nlevels * nterms), sizeof(double));
        rf->condsd = evm__calloc((size_t)(rf->nlevels * nterms), sizeof(double));
        if (!rf->name || !r->group_name[gi] || !rf->level || !rf->term || !rf->mode || !rf->condsd)
            goto fail;
        for (int64_t l = 0; l < rf->nlevels; l++)
            if (!(rf->level[l] = evm__strdup(re0->levels[l]))) goto fail;
        int col = 0;
        for (int k = 0; k < K; k++) {
            const evm__term *t = &m->t[k];
            const evm__reterm *re = &m->mf->re[t->src];
            if (strcmp(re->group, re0->group) != 0) continue;
            for (int a = 0; a < t->q; a++, col++) {
                if (!(rf->term[col] = evm__strdup(re->colnames[a]))) goto fail;
                for (int64_t l = 0; l < t->nl; l++) {
                    rf->mode[l * nterms + col] = m->b[k][l * t->q + a];
                    const double v = m->condvar[k][l * t->q * t->q + a + a * t->q];
                    rf->condsd[l * nterms + col] = sqrt(v > 0 ? v : 0.0);
                }
            }
        }
    }
    free(first);
    return 0;
fail:
    free(first);
    return -1;
}

static int fill_fixef(const evm_lmm *m, evm_result *r)
{
    const int p = m->p;
    r->p = p;
    r->fixef_name = strv_new(p);
    r->beta = evm__calloc((size_t)(p ? p : 1), sizeof(double));
    r->se = evm__calloc((size_t)(p ? p : 1), sizeof(double));
    r->df = evm__calloc((size_t)(p ? p : 1), sizeof(double));
    r->t = evm__calloc((size_t)(p ? p : 1), sizeof(double));
    r->pval = evm__calloc((size_t)(p ? p : 1), sizeof(double));
    r->vcov = evm__calloc((size_t)(p ? p * p : 1), sizeof(double));
    r->ddf = evm__strdup("none");
    if (!r->fixef_name || !r->beta || !r->se || !r->df || !r->t || !r->pval || !r->vcov || !r->ddf)
        return -1;
    for (int a = 0; a < p; a++) {
        if (!(r->fixef_name[a] = evm__strdup(m->mf->xnames[a]))) return -1;
        r->beta[a] = m->beta[a];
        r->se[a] = sqrt(m->vcov[a + a * p]);
        r->t[a] = r->beta[a] / r->se[a];
        r->df[a] = NAN;
        r->pval[a] = NAN;
    }
    memcpy(r->vcov, m->vcov, sizeof(double) * p * p);
    r->ndropped = m->mf->ndropped;
    r->dropped = strv_new(r->ndropped);
    if (!r->dropped) return -1;
    for (int a = 0; a < r->ndropped; a++)
        if (!(r->dropped[a] = evm__strdup(m->mf->dropped[a]))) return -1;
    return 0;
}

static int fill_icc(const evm_lmm *m, evm_result *r)
{
    for (int k = 0; k < m->K; k++)
        if (m->t[k].q != 1 || strcmp(m->mf->re[m->t[k].src].colnames[0], "(Intercept)") != 0)
            return 0;   /* ICCs are reported for intercept-only models */
    double total = m->sigma * m->sigma;
    for (int k = 0; k < m->K; k++) total += pow(m->sigma * m->t[k].T[0], 2);
    r->nicc = m->K;
    r->icc_group = strv_new(m->K);
    r->icc = evm__calloc((size_t)m->K, sizeof(double));
    char **names = vc_group_names(m);
    if (!names || !r->icc_group || !r->icc) {
        free_names(names, m->K);
        return -1;
    }
    for (int k = 0; k < m->K; k++) {
        r->icc_group[k] = names[k];   /* moved */
        r->icc[k] = pow(m->sigma * m->t[k].T[0], 2) / total;
    }
    free(names);
    return 0;
}

int evm_lmm_result(const evm_lmm *m, evm_result **out, evm_ctx *c)
{
    *out = NULL;
    if (!m->fitted) return evm__fail(c, EVM_ERR_ARG, "the model has not been fitted");
    evm_result *r = evm__calloc(1, sizeof *r);
    if (!r) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    const evm__modelframe *mf = m->mf;
    const double n = (double)mf->n;
    const int npar = m->p + m->ntheta + 1;
    r->formula = evm__strdup(mf->formula);
    r->reml = m->opts.reml;
    r->objective = m->objective;
    r->loglik = -0.5 * m->objective;
    r->aic = m->objective + 2.0 * npar;
    r->bic = m->objective + log(n) * npar;
    r->sigma = m->sigma;
    r->n_obs = mf->n;
    r->converged = m->converged;
    r->singular = m->singular;
    r->n_evaluations = m->nevals;
    r->optimizer = evm__strdup("NLOPT_LN_BOBYQA");
    r->message = evm__strdup(evm__lmm_opt_message(m));
    memcpy(r->resid_quantiles, m->resid_q, sizeof r->resid_quantiles);
    r->ntheta = m->ntheta;
    r->theta = evm__calloc((size_t)(m->ntheta ? m->ntheta : 1), sizeof(double));
    r->rows_read = mf->rows_read;
    r->rows_used = mf->n;
    r->rows_dropped = mf->rows_read - mf->n;
    r->drop_reason = evm__strdup(mf->drop_reason ? mf->drop_reason : "");
    r->seed = 0;
    if (!r->formula || !r->optimizer || !r->message || !r->theta || !r->drop_reason) goto fail;
    memcpy(r->theta, m->theta, sizeof(double) * m->ntheta);
    if (fill_fixef(m, r) || fill_varcomp(m, r) || fill_ranef(m, r) || fill_icc(m, r)) goto fail;
    *out = r;
    return EVM_OK;
fail:
    evm_result_free(&r);
    return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
}
