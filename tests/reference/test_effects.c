/* test_effects.c — `evalmix effects` (models/effects) against emmeans 1.8, lme4 and
 * clubSandwich: tests/reference/emmeans_reference.json, made by emmeans_reference.R.
 *
 * Tolerances (issue 4's acceptance): contrast estimates and SEs within 1e-4 relative (of
 * max(|value|, SE) for estimates near 0), Satterthwaite df within 1e-3 relative, at
 * evalmix's own θ̂ against R's at a tightly converged optimum.  The contrast weights are
 * data-free and must agree to 1e-10.  School by school: the model-based effect, lme4's
 * conditional SD of the slope and the prediction SD from R's dense mixed-model equations
 * within 1e-4; the no-pooling estimate, its CR2 SE and Satterthwaite df (no θ involved)
 * within 1e-8 / 1e-8 / 1e-6; τ within 1e-4; p-values adjusted over the family as R's
 * p.adjust (holm, BH) within 1e-3 relative.  Effect sizes: the standardizers against the
 * arms' statistics computed here from the data (1e-12) and R's, Hedges' g of those group
 * statistics as metafor's escalc(measure = "SMD") (1e-10), every effect size as effect/SD
 * written out here (1e-12) and as R's (1e-4 of the standardized SE), ICCs as lme4's (1e-4)
 * and their limits from lme4's profile of the intercept SDs (2e-3). */
#include "check.h"
#include "effects/effects.h"
#include "effsize/effsize.h"
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "have_hdf5.h"

static double num1(const json_value *v)
{
    return json_type_of(v) == JSON_ARRAY ? json_num(json_at(v, 0)) : json_num(v);
}

static void check_close(const char *what, const char *cs, const char *row, double got,
                        double want, double tol, double floor_)
{
    if (isnan(want)) {
        if (!isnan(got)) {
            CHECK(isnan(got));
            fprintf(stderr, "  %s %s %s: got %.10g, R has NA\n", cs, row, what, got);
        } else {
            CHECK(1);
        }
        return;
    }
    const double s = fabs(want) > floor_ ? fabs(want) : floor_;
    if (fabs(got - want) <= tol * s) {
        CHECK(1);
        return;
    }
    CHECK(0);
    fprintf(stderr, "  %s %s %s: evalmix %.12g, R %.12g (rel %.3g > %g)\n", cs, row, what, got,
            want, fabs(got - want) / s, tol);
}

static double worst_est = 0, worst_se = 0, worst_df = 0;

static void track(double *w, double got, double want, double floor_)
{
    if (isnan(want) || isnan(got)) return;
    const double s = fabs(want) > floor_ ? fabs(want) : floor_;
    const double r = fabs(got - want) / s;
    if (r > *w) *w = r;
}

/* Element i of an array; jsonlite writes a vector of length 1 as a scalar. */
static double elt(const json_value *v, size_t i)
{
    if (json_type_of(v) == JSON_ARRAY) return json_num(json_at(v, i));
    return i == 0 ? json_num(v) : NAN;
}

static double worst_es = 0, worst_icc = 0, worst_icc_ci = 0;

/* The outcome statistics of each arm, computed here from the frame (every row: these
 * datasets have no missing values) as the effect sizes' standardizers need them. */
typedef struct {
    double mean[2], sd[2], sp, omega;
    int64_t n[2];
} arms;

static int arm_stats(const evm_frame *f, const char *formula, const char *trt, arms *A)
{
    char yname[64];
    size_t k = 0;
    while (formula[k] && formula[k] != '~' && formula[k] != ' ' && k < sizeof yname - 1) {
        yname[k] = formula[k];
        k++;
    }
    yname[k] = '\0';
    const int cy = evm_frame_find(f, yname, -1), ct = evm_frame_find(f, trt, -1);
    if (cy < 0 || ct < 0) return -1;
    const double *y = evm_frame_numeric(f, cy), *tn = evm_frame_numeric(f, ct);
    const int32_t *tc = evm_frame_codes(f, ct);
    const int64_t n = evm_frame_nrows(f);
    double sum[2] = {0, 0}, ss[2] = {0, 0};
    memset(A, 0, sizeof *A);
    for (int pass = 0; pass < 2; pass++)
        for (int64_t i = 0; i < n; i++) {
            const int a = tn ? tn[i] == 1.0 : tc[i] == 1;   /* a factor's second level */
            if (pass == 0) sum[a] += y[i], A->n[a]++;
            else ss[a] += (y[i] - A->mean[a]) * (y[i] - A->mean[a]);
            if (pass == 0 && i == n - 1)
                for (int b = 0; b < 2; b++) A->mean[b] = sum[b] / (double)A->n[b];
        }
    const double N = (double)(A->n[0] + A->n[1]);
    for (int a = 0; a < 2; a++) A->sd[a] = sqrt(ss[a] / (double)(A->n[a] - 1));
    A->sp = sqrt((ss[0] + ss[1]) / (N - 2));
    A->omega = 1 - 3 / (4 * N - 9);
    return 0;
}

/* Effect sizes and ICCs: the standardizers against the statistics computed here and
 * against R (metafor's escalc for the same group statistics, lme4's VarCorr), every
 * effect size against est / SD written out here and against R's, ICCs and their
 * profile intervals against lme4's confint. */
static void check_es(const char *name, const json_value *cs, const evm_frame *f,
                     const evm_effects *e, double sd_ref, evm_ctx *c)
{
    const json_value *es = json_get(cs, "es");
    arms A;
    CHECK(es != NULL);
    if (!es || arm_stats(f, json_str(json_get(cs, "formula")), json_str(json_get(cs, "treatment")), &A)) {
        CHECK(0);
        return;
    }
    /* the analysis sample: the test's statistics, R's, evalmix's */
    CHECK_INT(e->n_t, A.n[1]);
    CHECK_INT(e->n_c, A.n[0]);
    CHECK_INT(A.n[1], (long long)json_num(json_get(es, "n1")));
    CHECK_INT(A.n[0], (long long)json_num(json_get(es, "n2")));
    CHECK_REL(e->mean_t, A.mean[1], 1e-12, 1e-12);
    CHECK_REL(e->mean_c, A.mean[0], 1e-12, 1e-12);
    CHECK_REL(e->sd_t, A.sd[1], 1e-12, 0);
    CHECK_REL(e->sd[EVM_EFFECTS_ES_COMPARISON], A.sd[0], 1e-12, 0);
    CHECK_REL(e->sd[EVM_EFFECTS_ES_G], A.sp, 1e-12, 0);
    CHECK_REL(e->omega, A.omega, 1e-15, 0);
    CHECK_REL(A.mean[1], json_num(json_get(es, "m1")), 1e-12, 1e-12);
    CHECK_REL(A.mean[0], json_num(json_get(es, "m2")), 1e-12, 1e-12);
    CHECK_REL(A.sd[1], json_num(json_get(es, "sd1")), 1e-12, 0);
    CHECK_REL(A.sd[0], json_num(json_get(es, "sd2")), 1e-12, 0);
    CHECK_REL(A.sp, json_num(json_get(es, "sd_pooled")), 1e-12, 0);
    CHECK_REL(A.omega, json_num(json_get(es, "omega")), 1e-15, 0);
    /* Hedges' g of the same group statistics: metafor's escalc(SMD), and ω·d */
    evm_es_smd smd;
    CHECK_INT(evm_es_smd_groups(e->mean_t, e->sd_t, e->n_t, e->mean_c, e->sd_c, e->n_c, &smd, c), 0);
    CHECK_REL(smd.g_exact, json_num(json_get(es, "yi")), 1e-10, 0);
    CHECK_REL(smd.v_exact, json_num(json_get(es, "vi")), 1e-10, 0);
    CHECK_REL(smd.g, A.omega * (A.mean[1] - A.mean[0]) / A.sp, 1e-12, 0);
    CHECK_REL(smd.sd_pooled, e->sd[EVM_EFFECTS_ES_G], 1e-12, 0);
    /* the model's SD: the fit's intercept variances and σ² (/varcomp), and lme4's */
    double v = 0;
    for (int r = 0; r < e->fit->nvc; r++)
        if (strcmp(e->fit->vc_group[r], "Residual") == 0 ||
            (strcmp(e->fit->vc_var1[r], "(Intercept)") == 0 && !*e->fit->vc_var2[r]))
            v += e->fit->vc_vcov[r];
    CHECK_REL(e->sd[EVM_EFFECTS_ES_MODEL], sqrt(v), 1e-12, 0);
    check_close("sd_model", name, "", e->sd[EVM_EFFECTS_ES_MODEL], json_num(json_get(es, "sd_model")), 1e-4, 0);
    CHECK_REL(e->sd[EVM_EFFECTS_ES_REF], sd_ref, 0, 0);
    /* per contrast: written out here from the contrast and the SDs, and R's */
    const double sd[EVM_EFFECTS_NES] = {e->sd[0], A.sd[0], A.sp, sd_ref};
    for (int r = 0; r < e->ncon; r++) {
        const int diff = strcmp(e->kind[r], "difference") == 0;
        for (int k = 0; k < EVM_EFFECTS_NES; k++) {
            const double m = k == EVM_EFFECTS_ES_G ? A.omega : 1.0;
            const evm_effects_es *x = &e->con_es[k];
            CHECK_REL(x->es[r], m * e->estimate[r] / sd[k], 1e-12, 1e-12);
            CHECK_REL(x->se[r], m * e->se[r] / sd[k], 1e-12, 1e-12);
            if (!isnan(e->lower[r])) {
                CHECK_REL(x->lower[r], m * e->lower[r] / sd[k], 1e-12, 1e-12);
                CHECK_REL(x->upper[r], m * e->upper[r] / sd[k], 1e-12, 1e-12);
            } else {
                CHECK(isnan(x->lower[r]) && isnan(x->upper[r]));
            }
            if (diff) CHECK(isnan(x->ii[r]));
            else CHECK_REL(x->ii[r], 100 * 0.5 * erfc(-x->es[r] / sqrt(2.0)) - 50, 1e-12, 1e-12);
        }
        static const char *rk[] = {"es_model", "es_comparison", "g", "ii_g"};
        const double got[] = {e->con_es[EVM_EFFECTS_ES_MODEL].es[r],
                              e->con_es[EVM_EFFECTS_ES_COMPARISON].es[r],
                              e->con_es[EVM_EFFECTS_ES_G].es[r], e->con_es[EVM_EFFECTS_ES_G].ii[r]};
        for (int k = 0; k < 4; k++) {
            const double want = elt(json_get(es, rk[k]), (size_t)r);
            /* θ-dependent: 1e-4 of the standardized SE (as the contrasts) */
            const double fl = (k == 3 ? 40.0 : 1.0) * e->se[r] / sd[k == 0 ? 0 : k == 1 ? 1 : 2];
            check_close(rk[k], name, e->label[r], got[k], want, 1e-4, fl > 0 ? fl : 1e-12);
            track(&worst_es, got[k], want, fl > 0 ? fl : 1e-12);
        }
    }
    /* schools: the model-based effect and its prediction interval over each SD */
    for (int64_t s = 0; s < e->nsite; s++)
        for (int k = 0; k < EVM_EFFECTS_NES; k++) {
            const double m = k == EVM_EFFECTS_ES_G ? A.omega : 1.0;
            if (isnan(e->est[s])) continue;
            CHECK_REL(e->site_es[k].es[s], m * e->est[s] / sd[k], 1e-12, 1e-12);
            CHECK_REL(e->site_es[k].lower[s], m * e->pred_lower[s] / sd[k], 1e-12, 1e-12);
            CHECK_REL(e->site_es[k].upper[s], m * e->pred_upper[s] / sd[k], 1e-12, 1e-12);
        }
    /* ICCs of the random intercepts */
    const json_value *ig = json_get(es, "icc_group");
    CHECK_INT(e->nicc, (long long)json_len(ig));
    const json_value *lo = json_get(es, "icc_lower"), *up = json_get(es, "icc_upper");
    for (int j = 0; j < e->nicc && j < (int)json_len(ig); j++) {
        CHECK_STR(e->icc_group[j], json_str(json_at(ig, (size_t)j)));
        check_close("icc variance", name, e->icc_group[j], e->icc_var[j],
                    elt(json_get(es, "icc_var"), (size_t)j), 1e-4, 0);
        const double want = elt(json_get(es, "icc"), (size_t)j);
        check_close("icc", name, e->icc_group[j], e->icc[j], want, 1e-4, 0);
        track(&worst_icc, e->icc[j], want, 0);
        if (!lo) {
            CHECK(isnan(e->icc_lower[j]) && isnan(e->icc_upper[j]));
            continue;
        }
        /* profile limits: lme4 interpolates its profile with splines (docs/methods.md,
         * profile section): 2e-3 relative */
        const double wl = elt(lo, (size_t)j), wu = elt(up, (size_t)j);
        check_close("icc lower", name, e->icc_group[j], e->icc_lower[j], wl, 2e-3, 0);
        check_close("icc upper", name, e->icc_group[j], e->icc_upper[j], wu, 2e-3, 0);
        track(&worst_icc_ci, e->icc_lower[j], wl, 0);
        track(&worst_icc_ci, e->icc_upper[j], wu, 0);
    }
    CHECK_STR(e->icc_ci, lo ? "profile" : "none");
}

/* ---------------------------------------------------------------- the file, read back */
static int same_f64(const double *a, const double *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!(a[i] == b[i] || (isnan(a[i]) && isnan(b[i])))) return 0;
    return 1;
}

static int same_str(char *const *a, char *const *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (strcmp(a[i] ? a[i] : "", b[i] ? b[i] : "") != 0) return 0;
    return 1;
}

static int same_es(const evm_effects_es *a, const evm_effects_es *b, int64_t n)
{
    int ok = 1;
    for (int k = 0; k < EVM_EFFECTS_NES; k++)
        ok &= same_f64(a[k].es, b[k].es, n) && same_f64(a[k].se, b[k].se, n) &&
              same_f64(a[k].lower, b[k].lower, n) && same_f64(a[k].upper, b[k].upper, n) &&
              same_f64(a[k].ii, b[k].ii, n);
    return ok;
}

/* evm_effects_write_h5 then evm_effects_read_h5 gives back every field `evalmix show`
 * prints, bit for bit; the same file without one dataset is refused naming it; a plain
 * fit's file has no effects. */
static void check_roundtrip(const char *name, const evm_effects *e, evm_ctx *c)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_effects_%ld.h5", (long)getpid());
    evm_effects *b = NULL;
    CHECK_INT(evm_effects_write_h5(path, e, c), 0);
    CHECK_INT(evm_effects_read_h5(path, &b, c), 0);
    CHECK(b != NULL);
    if (b) {
        const int64_t nc = e->ncon, ns = e->nsite;
        CHECK_INT(b->ncon, nc);
        CHECK_INT(b->nsite, ns);
        CHECK_INT(b->nicc, e->nicc);
        CHECK_INT(b->p_coef, e->p_coef);
        CHECK_STR(b->treatment, e->treatment);
        CHECK_STR(b->ddf, e->ddf);
        CHECK_STR(b->adjust, e->adjust);
        CHECK_STR(b->site, e->site);
        CHECK_STR(b->site_term, e->site_term);
        CHECK_INT(b->min_cell, e->min_cell);
        CHECK(b->level == e->level && b->omega == e->omega && b->tau == e->tau);
        CHECK(same_f64(b->sd, e->sd, EVM_EFFECTS_NES));
        CHECK_INT(b->fit->p, e->fit->p);
        if (b->ncon == nc && b->nsite == ns && b->nicc == e->nicc && b->p_coef == e->p_coef) {
            CHECK(same_str(b->label, e->label, nc) && same_str(b->kind, e->kind, nc));
            CHECK(same_f64(b->estimate, e->estimate, nc) && same_f64(b->se, e->se, nc) &&
                  same_f64(b->df, e->df, nc) && same_f64(b->p_adj, e->p_adj, nc) &&
                  same_f64(b->lower, e->lower, nc) && same_f64(b->upper, e->upper, nc));
            CHECK(same_f64(b->L, e->L, nc * e->p_coef));
            CHECK(same_es(b->con_es, e->con_es, nc));
            CHECK(same_str(b->site_id, e->site_id, ns));
            CHECK(same_f64(b->est, e->est, ns) && same_f64(b->pred_lower, e->pred_lower, ns) &&
                  same_f64(b->pred_se_adj, e->pred_se_adj, ns) &&
                  same_f64(b->np_est, e->np_est, ns) && same_f64(b->shrinkage, e->shrinkage, ns));
            for (int64_t s = 0; s < ns; s++)
                CHECK(b->suppressed[s] == e->suppressed[s] && b->n_treated[s] == e->n_treated[s]);
            CHECK(same_es(b->site_es, e->site_es, ns));
            CHECK(same_str(b->icc_group, e->icc_group, e->nicc) &&
                  same_f64(b->icc, e->icc, e->nicc) && same_f64(b->icc_lower, e->icc_lower, e->nicc));
        }
    }
    evm_effects_free(&b);
#ifdef HAVE_HDF5_H
    const char *gone = e->nsite > 0 ? "/effects/schools/pred_se" : "/effects/contrasts/se";
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(f >= 0 && H5Ldelete(f, gone, H5P_DEFAULT) >= 0);
    if (f >= 0) H5Fclose(f);
    CHECK_INT(evm_effects_read_h5(path, &b, c), EVM_ERR_HDF5);
    CHECK(b == NULL);
    const char *msg = evm_ctx_message(c);
    CHECK(msg && strstr(msg, path) && strstr(msg, strrchr(gone, '/') + 1));
#endif
    CHECK_INT(evm_h5_write_fit(path, e->fit, c), 0);
    CHECK_INT(evm_effects_read_h5(path, &b, c), 0);
    CHECK(b == NULL);
    remove(path);
    printf("%s: /effects written and read back\n", name);
}

static void run_case(const json_value *cs)
{
    const char *name = json_str(json_get(cs, "name"));
    evm_ctx *c = evm_ctx_create();
    evm_effects_opts o;
    evm_effects_opts_default(&o);
    o.formula = json_str(json_get(cs, "formula"));
    o.treatment = json_str(json_get(cs, "treatment"));
    /* the profile (for the ICC intervals) only where R computed it */
    o.sd_profile = json_get(json_get(cs, "es"), "icc_lower") != NULL;
    o.sd_ref = 10;
    const json_value *by = json_get(cs, "by"), *sg = json_get(cs, "subgroup");
    const char *bys[8], *sgs[8];
    o.nby = (int)json_len(by);
    o.nsubgroup = (int)json_len(sg);
    for (int i = 0; i < o.nby; i++) bys[i] = json_str(json_at(by, (size_t)i));
    for (int i = 0; i < o.nsubgroup; i++) sgs[i] = json_str(json_at(sg, (size_t)i));
    o.by = bys;
    o.subgroup = sgs;
    evm_colreq *req = NULL;
    int nreq = 0;
    evm_frame *f = NULL;
    evm_effects *e = NULL;
    CHECK_INT(evm_effects_columns(&o, &req, &nreq, c), 0);
    CHECK_INT(evm_csv_read(json_str(json_get(cs, "data")), req, nreq, &f, c), 0);
    const int st = evm_effects_run(f, &o, &e, c);
    CHECK(st >= 0);
    if (st < 0 || !e) {
        fprintf(stderr, "%s: %s\n", name, evm_ctx_message(c));
        goto cleanup;
    }
    const json_value *rows = json_get(cs, "contrasts");
    CHECK_INT(e->ncon, (long long)json_len(rows));
    for (int r = 0; r < e->ncon && r < (int)json_len(rows); r++) {
        const json_value *jr = json_at(rows, (size_t)r);
        CHECK_STR(e->kind[r], json_str(json_get(jr, "kind")));
        CHECK_STR(e->variable[r], json_str(json_get(jr, "variable")));
        const char *lev = json_str(json_get(jr, "level"));
        /* R names a difference by its later level only */
        if (strcmp(e->kind[r], "difference") == 0) CHECK(strncmp(e->con_level[r], lev, strlen(lev)) == 0);
        else CHECK_STR(e->con_level[r], lev);
        const double se = num1(json_get(jr, "se"));
        check_close("estimate", name, e->label[r], e->estimate[r], num1(json_get(jr, "estimate")), 1e-4, se);
        check_close("SE", name, e->label[r], e->se[r], se, 1e-4, 1e-12);
        check_close("df", name, e->label[r], e->df[r], num1(json_get(jr, "df")), 1e-3, 0.0);
        track(&worst_est, e->estimate[r], num1(json_get(jr, "estimate")), se);
        track(&worst_se, e->se[r], se, 1e-12);
        track(&worst_df, e->df[r], num1(json_get(jr, "df")), 0.0);
        const json_value *L = json_get(jr, "L"), *Ln = json_get(jr, "L_names");
        CHECK_INT(e->p_coef, (long long)json_len(L));
        for (int a = 0; a < e->p_coef && a < (int)json_len(L); a++) {
            CHECK_STR(e->coef[a], json_str(json_at(Ln, (size_t)a)));
            check_close("L", name, e->coef[a], e->L[(int64_t)r * e->p_coef + a],
                        json_num(json_at(L, (size_t)a)), 1e-10, 1.0);
        }
    }
    /* p-values adjusted over the family (every row but the overall one) */
    const json_value *ph = json_get(cs, "p_holm"), *pb = json_get(cs, "p_bh");
    if (e->ncon > 1 && (int)json_len(ph) == e->ncon - 1) {
        double *bh = malloc(sizeof(double) * (size_t)e->ncon);
        evm_es_p_adjust(EVM_ES_ADJUST_BH, e->ncon - 1, e->p + 1, bh, c);
        for (int r = 1; r < e->ncon; r++) {
            check_close("p holm", name, e->label[r], e->p_adj[r], json_num(json_at(ph, (size_t)r - 1)), 1e-3, 1e-6);
            check_close("p BH", name, e->label[r], bh[r - 1], json_num(json_at(pb, (size_t)r - 1)), 1e-3, 1e-6);
        }
        free(bh);
    }
    const json_value *sc = json_get(cs, "schools");
    if (sc) {
        const json_value *lev = json_get(sc, "level");
        CHECK_INT(e->nsite, (long long)json_len(lev));
        for (int64_t s = 0; s < e->nsite && s < (int64_t)json_len(lev); s++) {
            const char *id = json_str(json_at(lev, (size_t)s));
            CHECK_STR(e->site_id[s], id);
            CHECK_INT(e->n_treated[s], (long long)json_num(json_at(json_get(sc, "n_treated"), (size_t)s)));
            CHECK_INT(e->n_comparison[s], (long long)json_num(json_at(json_get(sc, "n_comparison"), (size_t)s)));
            const double psd = json_num(json_at(json_get(sc, "pred_sd"), (size_t)s));
            const double npse = json_num(json_at(json_get(sc, "np_se"), (size_t)s));
            check_close("estimate", name, id, e->est[s], json_num(json_at(json_get(sc, "estimate"), (size_t)s)), 1e-4, psd);
            check_close("condsd", name, id, e->condsd[s], json_num(json_at(json_get(sc, "condsd"), (size_t)s)), 1e-4, 0.0);
            check_close("pred_sd", name, id, e->pred_se[s], psd, 1e-4, 0.0);
            if (e->n_treated[s] == 0 || e->n_comparison[s] == 0) {
                /* one arm only: no within-school estimate (R's lm reports 0 with SE 0 for the
                   aliased treatment column; evalmix reports none) */
                CHECK(isnan(e->np_est[s]) && isnan(e->np_se[s]) && isnan(e->shrinkage[s]));
                continue;
            }
            check_close("np_estimate", name, id, e->np_est[s], json_num(json_at(json_get(sc, "np_estimate"), (size_t)s)), 1e-8, npse);
            check_close("np_se", name, id, e->np_se[s], npse, 1e-8, 0.0);
            check_close("np_df", name, id, e->np_df[s], json_num(json_at(json_get(sc, "np_df"), (size_t)s)), 1e-6, 0.0);
        }
        check_close("tau", name, "", e->tau, num1(json_get(sc, "tau")), 1e-4, 0.0);
        CHECK_INT(e->n_suppressed, (long long)json_num(json_get(sc, "n_suppressed")));
    }
    check_es(name, cs, f, e, o.sd_ref, c);
    check_roundtrip(name, e, c);
    printf("%s: %d contrasts%s\n", name, e->ncon, sc ? ", schools" : "");
cleanup:
    evm_effects_free(&e);
    evm_frame_destroy(&f);
    evm_colreq_free(&req, nreq);
    evm_ctx_destroy(&c);
}

int main(void)
{
    char *err = NULL;
    json_value *root = json_parse_file("tests/reference/emmeans_reference.json", &err);
    if (!root) {
        fprintf(stderr, "test_effects: %s (run from the repository root)\n", err ? err : "?");
        free(err);
        return 1;
    }
    const json_value *cases = json_get(root, "cases");
    for (size_t i = 0; i < json_len(cases); i++) run_case(json_at(cases, i));
    printf("largest relative differences: estimate %.2e, SE %.2e, df %.2e; effect sizes %.2e, "
           "ICC %.2e, ICC profile limits %.2e\n", worst_est, worst_se, worst_df, worst_es,
           worst_icc, worst_icc_ci);
    json_free(&root);
    return check_summary("test_effects");
}
