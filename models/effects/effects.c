/* effects.c — `evalmix effects`: fit the model, then the contrasts (contrasts.c) and the
 * school-by-school table (schools.c); the pieces are described in effects.h. */
#include "effects_internal.h"

#include "effsize/effsize.h"
#include "infer/infer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void evm_effects_opts_default(evm_effects_opts *o)
{
    memset(o, 0, sizeof *o);
    evm_lmm_opts_default(&o->lmm);
    o->adjust = EVM_ES_ADJUST_HOLM;
    o->min_cell = 10;
    o->level = 0.95;
    o->ddf = EVM_DDF_SATTERTHWAITE;
    o->sd_profile = 1;
    o->sd_ref = NAN;
}

int evm_effects_columns(const evm_effects_opts *o, evm_colreq **req, int *nreq, evm_ctx *c)
{
    evm_colreq *base = NULL;
    int nb = 0;
    *req = NULL;
    *nreq = 0;
    int st = evm_formula_columns(o->formula, &o->lmm, &base, &nb, c);
    if (st < 0) return st;
    const int extra = 3 + o->nby + o->nsubgroup;
    evm_colreq *all = evm__calloc((size_t)(nb + extra), sizeof *all);
    if (!all) {
        evm_colreq_free(&base, nb);
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    }
    int n = 0;
    for (int i = 0; i < nb; i++) {
        all[n].name = evm__strdup(base[i].name);
        all[n++].as = base[i].as;
    }
    evm_colreq_free(&base, nb);
    const char *names[3 + 64];
    int k = 0;
    names[k++] = o->lmm.weights;
    names[k++] = o->site;
    names[k++] = o->cluster;
    for (int i = 0; i < o->nby && k < 67; i++) names[k++] = o->by[i];
    for (int i = 0; i < o->nsubgroup && k < 67; i++) names[k++] = o->subgroup[i];
    for (int i = 0; i < k; i++) {
        if (!names[i]) continue;
        int have = 0;
        for (int j = 0; j < n && !have; j++) have = strcmp(all[j].name, names[i]) == 0;
        if (have) continue;
        all[n].name = evm__strdup(names[i]);
        all[n++].as = EVM_AS_AUTO;
    }
    for (int i = 0; i < n; i++)
        if (!all[i].name) {
            evm_colreq_free(&all, n);
            return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        }
    *req = all;
    *nreq = n;
    return EVM_OK;
}

void evm_effects_free(evm_effects **pe)
{
    if (!pe || !*pe) return;
    evm_effects *e = *pe;
    evm_result_free(&e->fit);
    free(e->treatment), free(e->treated_label), free(e->comparison_label), free(e->adjust);
    free(e->ddf), free(e->site);
    for (int r = 0; r < e->ncon; r++) {
        free(e->kind ? e->kind[r] : NULL);
        free(e->variable ? e->variable[r] : NULL);
        free(e->con_level ? e->con_level[r] : NULL);
        free(e->label ? e->label[r] : NULL);
    }
    free(e->kind), free(e->variable), free(e->con_level), free(e->label), free(e->in_model);
    free(e->estimate), free(e->se), free(e->df), free(e->t), free(e->p), free(e->p_adj);
    free(e->lower), free(e->upper), free(e->L);
    evx_effect_sizes_free(e);
    for (int a = 0; a < e->p_coef && e->coef; a++) free(e->coef[a]);
    free(e->coef);
    for (int64_t s = 0; s < e->nsite; s++) {
        free(e->site_id ? e->site_id[s] : NULL);
        free(e->site_group ? e->site_group[s] : NULL);
    }
    free(e->site_id), free(e->site_group), free(e->site_term), free(e->group_var);
    free(e->np_cluster);
    free(e->n_treated), free(e->n_comparison), free(e->np_nclusters), free(e->suppressed);
    free(e->fixed), free(e->mode), free(e->condsd), free(e->est), free(e->pred_se), free(e->pred_se_adj);
    free(e->pred_lower), free(e->pred_upper), free(e->np_est), free(e->np_se), free(e->np_df);
    free(e->np_lower), free(e->np_upper), free(e->shrinkage);
    free(e);
    *pe = NULL;
}

static int check_opts(const evm_effects_opts *o, evm_ctx *c)
{
    if (!o || !o->formula) return evm__fail(c, EVM_ERR_ARG, "effects: no formula");
    if (!o->treatment || !*o->treatment)
        return evm__fail(c, EVM_ERR_ARG, "effects: no treatment variable");
    if (!(o->level > 0.0 && o->level < 1.0))
        return evm__fail(c, EVM_ERR_ARG, "effects: level %g is not between 0 and 1", o->level);
    if (o->min_cell < 0) return evm__fail(c, EVM_ERR_ARG, "effects: negative --min-cell");
    if (!isnan(o->sd_ref) && !(o->sd_ref > 0.0 && isfinite(o->sd_ref)))
        return evm__fail(c, EVM_ERR_ARG, "effects: --sd-ref %g is not a positive number", o->sd_ref);
    for (int i = 0; i < o->nby + o->nsubgroup; i++) {
        const char *v = i < o->nby ? o->by[i] : o->subgroup[i - o->nby];
        if (strcmp(v, o->treatment) == 0)
            return evm__fail(c, EVM_ERR_ARG, "effects: '%s' is the treatment; it cannot also be "
                                             "a --by or --subgroup variable", v);
    }
    return EVM_OK;
}

/* df, t and p of /fixef by the same method, as `evalmix fit --ddf` reports them. */
static int fixef_inference(evm_lmm *m, const evm_effects_opts *o, evm_result *r, evm_ctx *c)
{
    evm_infer_opts io;
    evm_infer_opts_default(&io);
    io.ddf = o->ddf;
    return evm_lmm_infer(m, &io, r, c);
}

/* Profile intervals of every parameter, once (the SD of school effects, the ICCs). */
static int profile(evm_lmm *m, const evm_effects_opts *o, evx_profile *P, evm_ctx *c)
{
    if (!o->sd_profile) return EVM_OK;
    const int st = evm__profile_ci(m, o->level, &P->npar, &P->names, &P->lower, &P->upper, c);
    evm__lmm_restore(m);
    return st;
}

static void profile_free(evx_profile *P)
{
    for (int i = 0; i < P->npar && P->names; i++) free(P->names[i]);
    free(P->names), free(P->lower), free(P->upper);
    memset(P, 0, sizeof *P);
}

int evm_effects_run(const evm_frame *f, const evm_effects_opts *o, evm_effects **out,
                    evm_ctx *c)
{
    *out = NULL;
    int st = check_opts(o, c);
    if (st < 0) return st;
    evm_lmm *m = NULL;
    evx_vars V = {0};
    evx_treat T = {0};
    evx_profile P = {0};
    evm_effects *e = evm__calloc(1, sizeof *e);
    if (!e) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    int fit_status = 0;
    if ((st = evm_lmm_create(o->formula, f, &o->lmm, &m, c)) < 0) goto cleanup;
    if ((st = evx_vars_build(o->formula, f, &o->lmm, m->mf, &V, c)) < 0) goto cleanup;
    if ((st = evx_treat_build(&V, o->treatment, m->mf->n, &T, c)) < 0) goto cleanup;
    for (int i = 0; i < o->nby + o->nsubgroup; i++) {   /* fail before the fit */
        const char *v = i < o->nby ? o->by[i] : o->subgroup[i - o->nby];
        int known = evm_frame_find(f, v, -1) >= 0;
        for (int k = 0; k < V.nv && !known; k++) known = strcmp(V.name[k], v) == 0;
        if (!known) {
            st = evm__fail(c, EVM_ERR_COLUMN, "--%s: unknown column '%s'",
                           i < o->nby ? "by" : "subgroup", v);
            goto cleanup;
        }
    }
    if (o->site && evm_frame_find(f, o->site, -1) < 0) {
        int known = 0;
        for (int r = 0; r < m->mf->nre && !known; r++) known = strcmp(m->mf->re[r].group, o->site) == 0;
        if (!known) {
            st = evm__fail(c, EVM_ERR_COLUMN, "--site: unknown column '%s'", o->site);
            goto cleanup;
        }
    }
    if ((fit_status = evm_lmm_fit(m, c)) < 0) {
        st = fit_status;
        goto cleanup;
    }
    if ((st = evm_lmm_result(m, &e->fit, c)) < 0 || (st = fixef_inference(m, o, e->fit, c)) < 0)
        goto cleanup;
    e->treatment = evm__strdup(o->treatment);
    e->treated_label = evm__strdup(T.treated);
    e->comparison_label = evm__strdup(T.comparison);
    e->adjust = evm__strdup(evm_es_adjust_str((evm_es_adjust)o->adjust));
    e->ddf = evm__strdup(evm_ddf_name(o->ddf));
    e->level = o->level;
    e->min_cell = o->min_cell;
    e->sd_ref = o->sd_ref;
    if (!e->treatment || !e->treated_label || !e->comparison_label || !e->adjust || !e->ddf) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if ((st = evx_contrasts(m, &V, f, &T, o, e, c)) < 0) goto cleanup;
    if ((st = profile(m, o, &P, c)) < 0) goto cleanup;
    if ((st = evx_schools(m, &V, f, &T, o, &P, e, c)) < 0) goto cleanup;
    if ((st = evx_effect_sizes(m, &T, o, &P, e, c)) < 0) goto cleanup;
    e->pooled = e->estimate[0];
    st = fit_status > 0 ? fit_status : EVM_OK;
cleanup:
    profile_free(&P);
    evx_treat_free(&T);
    evx_vars_free(&V);
    evm_lmm_destroy(&m);
    if (st < 0) evm_effects_free(&e);
    *out = e;
    return st;
}
