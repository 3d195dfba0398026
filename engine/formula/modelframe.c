/* modelframe.c — evm__modelframe_build: formula + frame -> y, X, weights and the
 * random-effects terms, with lme4's checks (one-level grouping factors, as many levels as
 * observations, as many random effects as observations) and aliased-column dropping. */
#include "formula_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void free_strv(char **v, int64_t n)
{
    for (int64_t i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

void evm__modelframe_free(evm__modelframe **mfp)
{
    if (!mfp || !*mfp) return;
    evm__modelframe *mf = *mfp;
    free(mf->formula);
    free(mf->response);
    free(mf->drop_reason);
    free(mf->y);
    free(mf->w);
    free_strv(mf->xnames, mf->p);
    free(mf->X);
    free_strv(mf->dropped, mf->ndropped);
    free(mf->fx.nlev);
    free_strv(mf->fx.label, mf->fx.nterms);
    free(mf->fx.vars);
    free(mf->fx.term);
    free(mf->fx.level);
    free(mf->fx.xcol);
    free(mf->fx.alias);
    free(mf->cluster);
    free(mf->cluster_codes);
    free_strv(mf->cluster_levels, mf->ncluster);
    for (int i = 0; mf->re && i < mf->nre; i++) {
        evm__reterm *r = &mf->re[i];
        free(r->group);
        free_strv(r->levels, r->nlevels);
        free(r->codes);
        free_strv(r->colnames, r->q);
        if (!r->z_shared) free(r->Z);
    }
    free(mf->re);
    free(mf->ones);
    free(mf);
    *mfp = NULL;
}

/* Grouping factors computed once each, handed to the terms that use them. */
typedef struct {
    int32_t *codes;
    int64_t nlevels;
    char **levels;
    int taken;   /* codes/levels were moved to a term */
} grp_t;

/* The cluster factor for robust standard errors: codes of the rows used, used levels. */
static int take_cluster(evm__prep *P, evm__modelframe *mf)
{
    if (!P->has_cluster) return EVM_OK;
    const evm__mvar *m = &P->cmv;
    mf->cluster = evm__strdup(P->o->cluster);
    mf->cluster_codes = evm__malloc((size_t)P->n, sizeof *mf->cluster_codes);
    mf->cluster_levels = evm__calloc((size_t)m->nlev, sizeof *mf->cluster_levels);
    if (!mf->cluster || !mf->cluster_codes || !mf->cluster_levels) return EVM_ERR_NOMEM;
    mf->ncluster = m->nlev;
    memcpy(mf->cluster_codes, m->code, (size_t)P->n * sizeof *mf->cluster_codes);
    for (int32_t l = 0; l < m->nlev; l++)
        if (!(mf->cluster_levels[l] = evm__strdup(m->label[l]))) return EVM_ERR_NOMEM;
    return EVM_OK;
}

static int check_response(evm__prep *P, const double *y)
{
    for (int64_t i = 1; i < P->n; i++)
        if (y[i] != y[0]) return EVM_OK;
    return evm__fail(P->c, EVM_ERR_MODEL, "response '%s' is constant", P->F->var[0].name);
}

/* Every factor in a term needs two levels (R: "contrasts can be applied only to factors
 * with 2 or more levels"). */
static int check_factors(evm__prep *P, const evm__design *d)
{
    for (int v = 0; v < d->nvars; v++) {
        uint64_t used = 0;
        for (int t = 0; t < d->nterms; t++) used |= d->term[t];
        const evm__mvar *m = &P->mv[d->var[v]];
        if (!(used >> v & 1) || !m->is_factor || m->nlev >= 2) continue;
        char *name = evm__var_display(P->F, d->var[v]);
        int st = evm__fail(P->c, EVM_ERR_MODEL, "factor '%s' has only %d level in the rows used",
                           name ? name : P->F->var[d->var[v]].name, (int)m->nlev);
        free(name);
        return st;
    }
    return EVM_OK;
}

static int warn_dropped(evm__modelframe *mf, evm_ctx *c)
{
    size_t len = 1;
    for (int k = 0; k < mf->ndropped; k++) len += strlen(mf->dropped[k]) + 2;
    char *list = malloc(len);
    if (!list) return EVM_ERR_NOMEM;
    list[0] = '\0';
    for (int k = 0; k < mf->ndropped; k++) {
        if (k) strcat(list, ", ");
        strcat(list, mf->dropped[k]);
    }
    int st = evm__warn(c, "fixed-effect model matrix is rank deficient so dropping %d column%s: %s",
                       mf->ndropped, mf->ndropped == 1 ? "" : "s", list);
    free(list);
    return st;
}

/* Drop aliased columns of X (in place) and record their names. */
static int drop_aliased(evm__prep *P, evm__modelframe *mf, int ncol)
{
    int *keep = evm__malloc((size_t)ncol, sizeof *keep);
    if (!keep) return EVM_ERR_NOMEM;
    const int threads = P->c ? evm_ctx_threads(P->c) : 1;
    int st = evm__rank_keep(mf->X, P->n, ncol, 1e-7, threads, keep);
    int p = 0, nd = 0;
    for (int j = 0; st == EVM_OK && j < ncol; j++) nd += !keep[j];
    /* type-3 hypotheses (anova.c): where each full column went, and R's alias() */
    for (int j = 0, k = 0; st == EVM_OK && j < ncol; j++) mf->fx.xcol[j] = keep[j] ? k++ : -1;
    if (st == EVM_OK && nd > 0) {
        mf->fx.alias = evm__malloc((size_t)ncol * (size_t)(ncol - nd), sizeof *mf->fx.alias);
        st = mf->fx.alias ? evm__rank_alias(mf->X, P->n, ncol, keep, threads, mf->fx.alias)
                          : EVM_ERR_NOMEM;
    }
    if (st == EVM_OK && nd > 0 && !(mf->dropped = evm__calloc((size_t)nd, sizeof *mf->dropped)))
        st = EVM_ERR_NOMEM;
    for (int j = 0; st == EVM_OK && j < ncol; j++) {
        if (!keep[j]) {
            mf->dropped[mf->ndropped++] = mf->xnames[j];
            continue;
        }
        if (p != j) {
            memmove(mf->X + (int64_t)p * P->n, mf->X + (int64_t)j * P->n,
                    (size_t)P->n * sizeof *mf->X);
            mf->xnames[p] = mf->xnames[j];
        }
        p++;
    }
    if (st == EVM_OK) mf->p = p;   /* names past p moved to dropped */
    free(keep);
    if (st == EVM_OK && nd > 0) st = warn_dropped(mf, P->c);
    return st;
}

/* The term structure of the full fixed-effects matrix (mf->fx, for anova.c). */
static int build_fixterms(evm__prep *P, evm__modelframe *mf, int ncol)
{
    const evm__design *d = &P->F->fixed;
    evm__fixterms *fx = &mf->fx;
    const int nv = d->nvars;
    fx->intercept = d->intercept;
    fx->nvars = nv;
    fx->nlev = evm__calloc((size_t)(nv ? nv : 1), sizeof *fx->nlev);
    fx->label = evm__calloc((size_t)(d->nterms ? d->nterms : 1), sizeof *fx->label);
    fx->vars = evm__calloc((size_t)(d->nterms ? d->nterms : 1), sizeof *fx->vars);
    fx->term = evm__calloc((size_t)(ncol ? ncol : 1), sizeof *fx->term);
    fx->level = evm__calloc((size_t)(ncol ? ncol : 1) * (size_t)(nv ? nv : 1), sizeof *fx->level);
    fx->xcol = evm__calloc((size_t)(ncol ? ncol : 1), sizeof *fx->xcol);
    if (!fx->nlev || !fx->label || !fx->vars || !fx->term || !fx->level || !fx->xcol)
        return EVM_ERR_NOMEM;
    fx->ncol = ncol;
    for (int v = 0; v < nv; v++) {
        const evm__mvar *m = &P->mv[d->var[v]];
        fx->nlev[v] = m->is_factor ? m->nlev : 0;
    }
    for (int t = 0; t < d->nterms; t++) {
        fx->vars[t] = d->term[t];
        fx->nterms = t + 1;   /* so that a failure frees the labels made so far */
        char *lab = evm__strdup("");
        for (int v = 0; v < nv && lab; v++) {
            if (!(d->term[t] >> v & 1)) continue;
            char *disp = evm__var_display(P->F, d->var[v]);
            char *s = disp ? evm__asprintf("%s%s%s", lab, *lab ? ":" : "", disp) : NULL;
            free(disp);
            free(lab);
            lab = s;
        }
        if (!(fx->label[t] = lab)) return EVM_ERR_NOMEM;
    }
    return evm__design_cells(d, P->mv, fx->term, fx->level);
}

static int build_fixed(evm__prep *P, evm__modelframe *mf)
{
    int64_t ncol;
    int nc = 0, st = check_factors(P, &P->F->fixed);
    if (st < 0) return st;
    if (evm__design_ncol(&P->F->fixed, P->mv, &ncol) < 0) return EVM_ERR_NOMEM;
    if (ncol > P->n)
        return evm__fail(P->c, EVM_ERR_MODEL, "fewer rows (%lld) than fixed-effect columns (%lld)",
                         (long long)P->n, (long long)ncol);
    st = evm__design_build(P->F, &P->F->fixed, P->mv, P->n, 1, &mf->xnames, &mf->X, &nc, P->c);
    if (st < 0) return st;
    mf->p = nc;   /* so that a failure below frees every name */
    if ((st = build_fixterms(P, mf, nc)) < 0) return st;
    return drop_aliased(P, mf, nc);
}

static int build_groups(evm__prep *P, grp_t *G)
{
    const evm__mvar *f[EVM__MAX_LOCAL_VARS];
    for (int g = 0; g < P->F->ngroups; g++) {
        const evm__group *gr = &P->F->group[g];
        for (int k = 0; k < gr->nvars; k++) f[k] = &P->mv[gr->var[k]];
        if (evm__group_codes(f, gr->nvars, P->n, &G[g].codes, &G[g].nlevels, &G[g].levels) < 0)
            return evm__fail(P->c, EVM_ERR_NOMEM, "out of memory building grouping factors");
    }
    /* lme4's checkNlevels: every factor first for > 1 level, then for < n levels. */
    for (int g = 0; g < P->F->ngroups; g++)
        if (G[g].nlevels < 2)
            return evm__fail(P->c, EVM_ERR_MODEL, "grouping factor '%s' has only %lld level",
                             P->F->group[g].name, (long long)G[g].nlevels);
    for (int g = 0; g < P->F->ngroups; g++)
        if (G[g].nlevels >= P->n)
            return evm__fail(P->c, EVM_ERR_MODEL,
                             "grouping factor '%s' has %lld levels for %lld observations: the "
                             "number of levels must be less than the number of observations",
                             P->F->group[g].name, (long long)G[g].nlevels, (long long)P->n);
    return EVM_OK;
}

/* Give term r the codes and level labels of group g (moved the first time, then copied). */
static int take_group(evm__prep *P, grp_t *G, evm__reterm *r)
{
    if (!G->taken) {
        r->codes = G->codes;
        r->levels = G->levels;
        r->nlevels = G->nlevels;
        G->taken = 1;
        return EVM_OK;
    }
    r->codes = evm__malloc((size_t)P->n, sizeof *r->codes);
    r->levels = evm__calloc((size_t)G->nlevels, sizeof *r->levels);
    if (!r->codes || !r->levels) return EVM_ERR_NOMEM;
    r->nlevels = G->nlevels;
    memcpy(r->codes, G->codes, (size_t)P->n * sizeof *r->codes);
    for (int64_t l = 0; l < G->nlevels; l++)
        if (!(r->levels[l] = evm__strdup(G->levels[l]))) return EVM_ERR_NOMEM;
    return EVM_OK;
}

/* lme4's checkZdims: a term needs fewer random effects than observations. */
static int check_terms(evm__prep *P, const grp_t *G)
{
    for (int i = 0; i < P->F->nre; i++) {
        const evm__rterm *rt = &P->F->re[i];
        int64_t q;
        int st = check_factors(P, &rt->d);
        if (st < 0) return st;
        if (evm__design_ncol(&rt->d, P->mv, &q) < 0) return EVM_ERR_NOMEM;
        int64_t nre = q * G[rt->group].nlevels;
        if (nre >= P->n)
            return evm__fail(P->c, EVM_ERR_MODEL,
                             "number of observations (=%lld) <= number of random effects "
                             "(=%lld) for term (%s); the random-effects parameters and the "
                             "residual variance are probably unidentifiable",
                             (long long)P->n, (long long)nre, rt->label);
    }
    return EVM_OK;
}

/* An intercept-only term's Z, a column of n ones, is not stored once per term: it is
 * X's intercept column (never dropped, never written after the build) or one column
 * shared by all such terms.  At 5 million rows each copy would be 40 MB. */
static int share_ones(evm__prep *P, evm__modelframe *mf, evm__reterm *r)
{
    if (mf->p > 0 && strcmp(mf->xnames[0], "(Intercept)") == 0) {
        r->Z = mf->X;
    } else {
        if (!mf->ones) {
            if (!(mf->ones = evm__malloc((size_t)P->n, sizeof *mf->ones))) return EVM_ERR_NOMEM;
            for (int64_t i = 0; i < P->n; i++) mf->ones[i] = 1.0;
        }
        r->Z = mf->ones;
    }
    r->z_shared = 1;
    return EVM_OK;
}

/* Two terms with the same grouping factor and the same columns ((1|g) + (1|g)) split one
 * variance between them in no particular way: lme4 fits them silently; evalmix warns. */
static void warn_repeated(evm__prep *P, const evm__modelframe *mf)
{
    for (int j = 1; j < mf->nre; j++)
        for (int i = 0; i < j; i++) {
            const evm__reterm *a = &mf->re[i], *b = &mf->re[j];
            int same = a->q == b->q && strcmp(a->group, b->group) == 0;
            for (int k = 0; same && k < a->q; k++) same = !strcmp(a->colnames[k], b->colnames[k]);
            if (same) {
                evm__warn(P->c, "two random-effects terms have the same columns by '%s': "
                          "their variances are not identifiable (only their sum is)",
                          a->group);
                return;
            }
        }
}

static int build_random(evm__prep *P, evm__modelframe *mf)
{
    int st = EVM_OK;
    grp_t *G = evm__calloc((size_t)P->F->ngroups, sizeof *G);
    mf->re = evm__calloc((size_t)P->F->nre, sizeof *mf->re);
    if (!G || !mf->re) {
        st = evm__fail(P->c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    mf->nre = P->F->nre;
    if ((st = build_groups(P, G)) < 0 || (st = check_terms(P, G)) < 0) goto cleanup;
    for (int i = 0; i < P->F->nre; i++) {
        const evm__rterm *rt = &P->F->re[i];
        evm__reterm *r = &mf->re[i];
        r->pos = rt->pos;
        if (!(r->group = evm__strdup(P->F->group[rt->group].name)) ||
            take_group(P, &G[rt->group], r) < 0) {
            st = evm__fail(P->c, EVM_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
        const int ones = rt->d.intercept && rt->d.nterms == 0;   /* (1|g): Z is all 1 */
        st = evm__design_build(P->F, &rt->d, P->mv, P->n, !ones, &r->colnames,
                               ones ? NULL : &r->Z, &r->q, P->c);
        if (st >= 0 && ones) st = share_ones(P, mf, r);
        if (st < 0) goto cleanup;
    }
    warn_repeated(P, mf);
cleanup:
    for (int g = 0; G && g < P->F->ngroups; g++)
        if (!G[g].taken) {
            free(G[g].codes);
            free_strv(G[g].levels, G[g].nlevels);
        }
    free(G);
    return st;
}

int evm__modelframe_build(const char *formula, const evm_frame *f, const evm_lmm_opts *o,
                          evm__modelframe **out, evm_ctx *c)
{
    if (!out) return evm__fail(c, EVM_ERR_ARG, "evm__modelframe_build: no output pointer");
    *out = NULL;
    if (!formula || !f) return evm__fail(c, EVM_ERR_ARG, "evm__modelframe_build: no %s",
                                         formula ? "data frame" : "formula");
    evm__prep P = {.f = f, .o = o, .c = c};
    evm__modelframe *mf = calloc(1, sizeof *mf);
    if (!mf) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    int st = evm__formula_parse(formula, &P.F, c);
    if (st < 0) goto cleanup;
    if ((st = evm__prep_columns(&P)) < 0 || (st = evm__prep_rows(&P)) < 0) goto cleanup;
    mf->formula = evm__strdup(formula);
    mf->response = evm__strdup(P.F->var[0].name);
    if (!mf->formula || !mf->response) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    mf->n = P.n;
    mf->rows_read = P.nrows;
    mf->drop_reason = P.drop_reason;
    P.drop_reason = NULL;
    mf->y = P.vp[0].x;   /* the response is variable 0 and numeric */
    P.vp[0].x = NULL;
    mf->w = P.w;
    P.w = NULL;
    if ((st = check_response(&P, mf->y)) < 0 || (st = take_cluster(&P, mf)) < 0) goto cleanup;
    if ((st = build_fixed(&P, mf)) < 0) goto cleanup;
    st = build_random(&P, mf);
cleanup:
    if (st == EVM_ERR_NOMEM && c && evm_ctx_status(c) != EVM_ERR_NOMEM)
        evm__fail(c, EVM_ERR_NOMEM, "out of memory building the model frame");
    evm__formula *F = P.F;
    evm__prep_free(&P);
    evm__formula_free(&F);
    if (st < 0) evm__modelframe_free(&mf);
    *out = mf;
    return st < 0 ? st : EVM_OK;
}
