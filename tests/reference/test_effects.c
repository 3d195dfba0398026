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
 * p.adjust (holm, BH) within 1e-3 relative. */
#include "check.h"
#include "effects/effects.h"
#include "effsize/effsize.h"
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void run_case(const json_value *cs)
{
    const char *name = json_str(json_get(cs, "name"));
    evm_ctx *c = evm_ctx_create();
    evm_effects_opts o;
    evm_effects_opts_default(&o);
    o.formula = json_str(json_get(cs, "formula"));
    o.treatment = json_str(json_get(cs, "treatment"));
    o.sd_profile = 0;
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
            check_close("np_estimate", name, id, e->np_est[s], json_num(json_at(json_get(sc, "np_estimate"), (size_t)s)), 1e-8, npse);
            check_close("np_se", name, id, e->np_se[s], npse, 1e-8, 0.0);
            check_close("np_df", name, id, e->np_df[s], json_num(json_at(json_get(sc, "np_df"), (size_t)s)), 1e-6, 0.0);
        }
        check_close("tau", name, "", e->tau, num1(json_get(sc, "tau")), 1e-4, 0.0);
        CHECK_INT(e->n_suppressed, 2);
    }
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
    printf("largest relative differences: estimate %.2e, SE %.2e, df %.2e\n", worst_est,
           worst_se, worst_df);
    json_free(&root);
    return check_summary("test_effects");
}
