/* schools.c — school-by-school effects.  The site factor is the grouping factor of the
 * random treatment slope (or --site).  For site s, x_s is the treatment contrast of the
 * reference grid with every fixed-part variable that is constant within s (its cohort, a
 * school-level covariate) set to the site's value; then
 *   model-based: x_s'β̂ + b̂_s,treat with the prediction-error variance of
 *                engine/lmm/predict.c (Var(x_s'β̂) + Var(b_s|y) + 2 Cov), and the interval
 *                est ± z·SE_adj, SE_adj² = SE² + the variance that estimating θ adds
 *                (Kackar-Harville, predict.c; normal quantile);
 *   no-pooling:  nopool.c within the site's rows, CR2 by --cluster, else by the finest
 *                grouping factor nested in the sites with at least 5 rows per level on
 *                average (the classroom);
 *   shrinkage:   τ²/(τ² + SE²_no-pooling), τ² the slope variance;
 *   privacy:     fewer than min_cell treated or comparison students: suppressed (left
 *                out of the printed table, CSV/Markdown and plot; kept in the HDF5 file
 *                with the flag, and in the model). */
#include "effects_internal.h"

#include "infer/infer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The term index (in m->t) and column of the random slope of the treatment. */
static int find_slope_term(const evm_lmm *m, const char *site, const char *tcol, int *col)
{
    for (int k = 0; k < m->K; k++) {
        const evm__reterm *re = &m->mf->re[m->t[k].src];
        if (site && strcmp(re->group, site) != 0) continue;
        for (int a = 0; a < re->q; a++)
            if (strcmp(re->colnames[a], tcol) == 0) {
                *col = a;
                return k;
            }
    }
    return -1;
}

/* The finest grouping factor nested in the sites whose levels hold 5 rows or more on
 * average (the classroom in (1|school) + (1|school:classroom), not a per-student factor of
 * a growth model) and that has more levels than the sites. */
static int find_cluster_term(const evm_lmm *m, const int32_t *site, int64_t nsite)
{
    const evm__modelframe *mf = m->mf;
    int best = -1;
    int32_t *owner = NULL;
    for (int r = 0; r < mf->nre; r++) {
        const evm__reterm *re = &mf->re[r];
        if (re->nlevels <= nsite || 5 * re->nlevels > mf->n ||
            (best >= 0 && re->nlevels <= mf->re[best].nlevels))
            continue;
        int32_t *o = realloc(owner, sizeof(int32_t) * (size_t)re->nlevels);
        if (!o) break;
        owner = o;
        for (int64_t l = 0; l < re->nlevels; l++) owner[l] = -1;
        int nested = 1;
        for (int64_t i = 0; i < mf->n && nested; i++) {
            int32_t *w = &owner[re->codes[i]];
            if (*w < 0) *w = site[i];
            else if (*w != site[i]) nested = 0;
        }
        if (nested) best = r;
    }
    free(owner);
    return best;
}

static int nomem(evm_ctx *c) { return evm__fail(c, EVM_ERR_NOMEM, "out of memory"); }

/* x_s for every site: rows of X (nsite × p, row-major). */
static int site_contrasts(evm_lmm *m, const evx_vars *V, const evx_treat *T,
                          const int32_t *site, int64_t ns, double *Xs, evm_ctx *c)
{
    const int nv = V->nv, p = m->p;
    const int64_t n = m->mf->n;
    double *num = evm__malloc((size_t)(ns * (nv ? nv : 1)), sizeof *num);
    int32_t *lev = evm__malloc((size_t)(ns * (nv ? nv : 1)), sizeof *lev);
    char *cst = evm__malloc((size_t)(ns * (nv ? nv : 1)), 1), *seen = evm__calloc((size_t)ns, 1);
    double *work = evm__malloc((size_t)(p ? p : 1), sizeof *work);
    evx_point g = {0};
    int st = EVM_OK;
    if (!num || !lev || !cst || !seen || !work || evx_point_init(V, &g)) {
        st = nomem(c);
        goto cleanup;
    }
    memset(cst, 1, (size_t)(ns * (nv ? nv : 1)));
    for (int64_t i = 0; i < n; i++) {
        const int64_t s = site[i];
        for (int v = 0; v < nv; v++) {
            const evm__mvar *mv = V->mv[v];
            const int64_t o = s * nv + v;
            if (!seen[s]) {
                if (mv->is_factor) lev[o] = mv->code[i];
                else num[o] = mv->x[i];
            } else if (mv->is_factor ? lev[o] != mv->code[i] : num[o] != mv->x[i]) {
                cst[o] = 0;
            }
        }
        seen[s] = 1;
    }
    for (int64_t s = 0; s < ns; s++) {
        for (int v = 0; v < nv; v++) {
            const int64_t o = s * nv + v;
            const int fixed = seen[s] && cst[o] && strcmp(V->name[v], T->name) != 0;
            g.num[v] = fixed && !V->mv[v]->is_factor ? num[o] : V->mean[v];
            g.lev[v] = fixed && V->mv[v]->is_factor ? lev[o] : -1;
        }
        double *row = Xs + s * p;
        if (evx_treat_contrast(m->mf, V, T, &g, row, work))
            for (int a = 0; a < p; a++) row[a] = NAN;
    }
cleanup:
    evx_point_free(&g);
    free(num), free(lev), free(cst), free(seen), free(work);
    return st;
}

/* Colour groups: the first --by variable's level when constant within the site. */
static int site_groups(const evx_vars *V, const evm_frame *f, const evm_effects_opts *o,
                       const int32_t *site, int64_t ns, int64_t n, evm_effects *e, evm_ctx *c)
{
    if (!(e->site_group = evm__calloc((size_t)(ns ? ns : 1), sizeof *e->site_group))) return nomem(c);
    if (o->nby < 1) return (e->group_var = evm__strdup("")) ? EVM_OK : nomem(c);
    evx_levels lv;
    int st = evx_levels_of(V, f, o->by[0], n, &lv, c);
    int32_t *g = st < 0 ? NULL : evm__malloc((size_t)(ns ? ns : 1), sizeof *g);
    if (st >= 0 && !g) st = nomem(c);
    for (int64_t s = 0; st >= 0 && s < ns; s++) g[s] = -2;
    for (int64_t i = 0; st >= 0 && i < n; i++) {
        int32_t *w = &g[site[i]];
        if (*w == -2) *w = lv.code[i];
        else if (*w != lv.code[i]) *w = -1;
    }
    for (int64_t s = 0; st >= 0 && s < ns; s++)
        if (!(e->site_group[s] = evm__strdup(g[s] >= 0 ? lv.label[g[s]] : "mixed"))) st = nomem(c);
    if (st >= 0 && !(e->group_var = evm__strdup(o->by[0]))) st = nomem(c);
    free(g);
    evx_levels_free(&lv);
    return st;
}

int evx_profile_sd_pos(const evm_lmm *m, int k, int col)
{
    const int q = m->t[k].q;
    int pos = m->t[k].theta_off;
    for (int b = 0; b < col; b++) pos += q - b;
    return pos;
}

/* τ and its profile interval (the SD of the slope: .sigNN of confint(m, "profile")). */
static void heterogeneity(const evm_lmm *m, int k, int col, const evx_profile *P,
                          evm_effects *e)
{
    const evm__term *t = &m->t[k];
    const int q = t->q;
    double v = 0.0;
    for (int b = 0; b <= col; b++) v += t->T[col + b * q] * t->T[col + b * q];
    e->tau = m->sigma * sqrt(v);
    e->tau_lower = e->tau_upper = NAN;
    const int pos = evx_profile_sd_pos(m, k, col);
    if (pos < P->npar) {
        e->tau_lower = P->lower[pos];
        e->tau_upper = P->upper[pos];
    }
}

int evx_schools(evm_lmm *m, const evx_vars *V, const evm_frame *f, const evx_treat *T,
                const evm_effects_opts *o, const evx_profile *P, evm_effects *e, evm_ctx *c)
{
    const evm__modelframe *mf = m->mf;
    const int64_t n = mf->n;
    const int p = m->p;
    int st = EVM_OK, col = -1, kterm;
    evx_levels sl = {0};
    double *Xs = NULL, *var = NULL, *cv = NULL, *kh = NULL;
    int64_t *rows = NULL, *start = NULL;
    /* the treatment's column name in the random terms, as in X */
    char *tcol = NULL;
    for (int v = 0; v < V->nv && !tcol; v++)
        if (strcmp(V->name[v], T->name) == 0) {
            char *d = evm__var_display(V->F, V->F->fixed.var[v]);
            tcol = !d ? NULL : V->mv[v]->is_factor ? evm__asprintf("%s%s", d, T->treated) : evm__strdup(d);
            free(d);
        }
    if (!tcol) return nomem(c);
    kterm = find_slope_term(m, o->site, tcol, &col);
    if (kterm < 0 && !o->site) {
        evm__warn(c, "no random slope of '%s' in the model: no school-by-school effects "
                     "(add e.g. (1 + %s | school), or name the sites with --site)", tcol, tcol);
        e->site_term = evm__strdup("");
        e->np_cluster = evm__strdup("");
        e->group_var = evm__strdup("");
        e->site = evm__strdup("");
        free(tcol);
        return e->site_term && e->np_cluster && e->group_var && e->site ? EVM_OK : nomem(c);
    }
    /* site codes: the slope term's levels, or the --site column */
    const int32_t *site;
    int64_t ns;
    char **labels;
    if (kterm >= 0) {
        const evm__reterm *re = &mf->re[m->t[kterm].src];
        site = re->codes, ns = re->nlevels, labels = re->levels;
        e->site_term = evm__asprintf("%s | %s", tcol, re->group);
        e->site = evm__strdup(re->group);
    } else {
        evm__warn(c, "no random slope of '%s' for '%s': model-based school effects are not "
                     "available (no-pooling estimates only)", tcol, o->site);
        if ((st = evx_levels_of(V, f, o->site, n, &sl, c)) < 0) goto cleanup;
        for (int64_t i = 0; i < n; i++)
            if (sl.code[i] < 0) {
                st = evm__fail(c, EVM_ERR_VALUE, "--site '%s' is missing in a row the model uses",
                               o->site);
                goto cleanup;
            }
        site = sl.code, ns = sl.n, labels = sl.label;
        e->site_term = evm__strdup("");
        e->site = evm__strdup(o->site);
    }
    e->nsite = ns;
    int64_t **icols[] = {&e->n_treated, &e->n_comparison, &e->np_nclusters};
    for (size_t a = 0; a < 3; a++)
        if (!(*icols[a] = evm__calloc((size_t)ns, sizeof(int64_t)))) goto oom;
    double **dcols[] = {&e->fixed, &e->mode, &e->condsd, &e->est, &e->pred_se, &e->pred_se_adj, &e->pred_lower,
                        &e->pred_upper, &e->np_est, &e->np_se, &e->np_df, &e->np_lower,
                        &e->np_upper, &e->shrinkage};
    for (size_t a = 0; a < sizeof dcols / sizeof *dcols; a++) {
        if (!(*dcols[a] = evm__malloc((size_t)ns, sizeof(double)))) goto oom;
        for (int64_t s = 0; s < ns; s++) (*dcols[a])[s] = NAN;
    }
    e->suppressed = evm__calloc((size_t)ns, sizeof *e->suppressed);
    e->site_id = evm__calloc((size_t)ns, sizeof *e->site_id);
    Xs = evm__malloc((size_t)(ns * (p ? p : 1)), sizeof *Xs);
    var = evm__malloc((size_t)ns, sizeof *var);
    cv = evm__malloc((size_t)ns, sizeof *cv);
    kh = evm__malloc((size_t)ns, sizeof *kh);
    if (!e->site_term || !e->site || !e->suppressed || !e->site_id || !Xs || !var || !cv || !kh) goto oom;
    for (int64_t s = 0; s < ns; s++)
        if (!(e->site_id[s] = evm__strdup(labels[s]))) goto oom;
    for (int64_t i = 0; i < n; i++) {
        if (T->arm[i]) e->n_treated[site[i]]++;
        else e->n_comparison[site[i]]++;
    }
    for (int64_t s = 0; s < ns; s++) {
        e->suppressed[s] = e->n_treated[s] < o->min_cell || e->n_comparison[s] < o->min_cell;
        e->n_suppressed += e->suppressed[s];
    }
    if ((st = site_groups(V, f, o, site, ns, n, e, c)) < 0) goto cleanup;
    if ((st = site_contrasts(m, V, T, site, ns, Xs, c)) < 0) goto cleanup;

    /* model-based effects and prediction intervals */
    const double z = evm_qnorm(0.5 * (1.0 + o->level), 1);
    if (kterm >= 0) {
        double zw[8] = {0};
        zw[col] = 1.0;
        if ((st = evm__lmm_predvar(m, kterm, Xs, p, zw, e->est, var, cv, c)) < 0) goto cleanup;
        if ((st = evm__lmm_predvar_theta(m, kterm, Xs, p, zw, kh, c)) < 0) goto cleanup;
        if (st > 0)
            evm__warn(c, "the objective's curvature in the variance parameters is not positive "
                         "definite: the school intervals leave out the uncertainty of theta");
        st = EVM_OK;
        const int q = m->t[kterm].q;
        for (int64_t s = 0; s < ns; s++) {
            double fx = 0.0;
            for (int a = 0; a < p; a++) fx += Xs[s * p + a] * m->beta[a];
            e->fixed[s] = fx;
            e->mode[s] = m->b[kterm][s * q + col];
            e->condsd[s] = sqrt(cv[s]);
            e->pred_se[s] = sqrt(var[s]);
            e->pred_se_adj[s] = sqrt(var[s] + kh[s]);
            e->pred_lower[s] = e->est[s] - z * e->pred_se_adj[s];
            e->pred_upper[s] = e->est[s] + z * e->pred_se_adj[s];
            if (isnan(fx))
                e->est[s] = e->pred_se[s] = e->pred_se_adj[s] = e->pred_lower[s] =
                    e->pred_upper[s] = NAN;
        }
        heterogeneity(m, kterm, col, P, e);
    } else {
        e->tau = e->tau_lower = e->tau_upper = NAN;
    }

    /* no-pooling: rows of each site, clusters by classroom */
    /* CR2 clusters: --cluster (a grouping factor or a column), else found in the model */
    const int32_t *clcodes = NULL;
    evx_levels cl = {0};
    int ct = -1;
    if (o->cluster) {
        for (int r = 0; r < mf->nre && ct < 0; r++)
            if (strcmp(mf->re[r].group, o->cluster) == 0) ct = r;
        if (ct < 0) {
            if ((st = evx_levels_of(V, f, o->cluster, n, &cl, c)) < 0) goto cleanup;
            clcodes = cl.code;
        }
    } else {
        ct = find_cluster_term(m, site, ns);
    }
    if (ct >= 0) clcodes = mf->re[ct].codes;
    e->np_cluster = evm__strdup(o->cluster ? o->cluster : ct >= 0 ? mf->re[ct].group : "");
    if (!e->np_cluster) {
        evx_levels_free(&cl);
        goto oom;
    }
    if (mf->w) {
        evm__warn(c, "no-pooling estimates are not computed for weighted fits");
    } else {
        rows = evm__malloc((size_t)(n ? n : 1), sizeof *rows);
        start = evm__calloc((size_t)ns + 1, sizeof *start);
        if (!rows || !start) goto oom;
        for (int64_t i = 0; i < n; i++) start[site[i] + 1]++;
        for (int64_t s = 0; s < ns; s++) start[s + 1] += start[s];
        int64_t *pos = evm__malloc((size_t)(ns ? ns : 1), sizeof *pos);
        if (!pos) goto oom;
        memcpy(pos, start, sizeof(int64_t) * (size_t)ns);
        for (int64_t i = 0; i < n; i++) rows[pos[site[i]]++] = i;
        free(pos);
        for (int64_t s = 0; s < ns; s++) {
            /* a school without treated or without comparison students has no within-school
               estimate of the effect: its no-pooling columns stay NaN */
            if (isnan(Xs[s * p]) || e->n_treated[s] == 0 || e->n_comparison[s] == 0) continue;
            st = evx_nopool(mf->X, n, p, mf->y, rows + start[s], start[s + 1] - start[s],
                            clcodes, Xs + s * p, &e->np_est[s],
                            &e->np_se[s], &e->np_df[s], &e->np_nclusters[s], c);
            if (st < 0) {
                evx_levels_free(&cl);
                goto cleanup;
            }
            if (!isnan(e->np_df[s]) && e->np_df[s] > 0) {
                const double crit = evm_qt(0.5 * (1.0 + o->level), e->np_df[s], 1);
                e->np_lower[s] = e->np_est[s] - crit * e->np_se[s];
                e->np_upper[s] = e->np_est[s] + crit * e->np_se[s];
            }
            const double t2 = e->tau * e->tau;
            e->shrinkage[s] = t2 / (t2 + e->np_se[s] * e->np_se[s]);
        }
    }
    evx_levels_free(&cl);
    /* summary over the sites with a model-based estimate and students in both arms (a
       school with one arm only has the pooled effect as its estimate: counting it would
       pull the heterogeneity summary towards the pooled sign) */
    int64_t npos = 0, nest = 0;
    for (int64_t s = 0; s < ns; s++) {
        if (isnan(e->est[s]) || e->n_treated[s] == 0 || e->n_comparison[s] == 0) continue;
        nest++;
        npos += e->est[s] > 0.0;
        e->n_pi_above += e->pred_lower[s] > 0.0;
        e->n_pi_below += e->pred_upper[s] < 0.0;
    }
    e->share_positive = nest ? (double)npos / (double)nest : NAN;
    st = EVM_OK;
    goto cleanup;
oom:
    st = nomem(c);
cleanup:
    free(tcol);
    free(Xs), free(var), free(cv), free(kh), free(rows), free(start);
    evx_levels_free(&sl);
    return st;
}
