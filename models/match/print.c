/* print.c — the printed summary of a match (what `evalmix match` writes on stdout). */
#include "match_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void num(char *buf, size_t size, double x)
{
    if (isnan(x)) snprintf(buf, size, ".");
    else if (isinf(x)) snprintf(buf, size, x > 0 ? "Inf" : "-Inf");
    else if (fabs(x) >= 1e5) snprintf(buf, size, "%.4g", x);
    else snprintf(buf, size, "%.4f", x);
}

static const char *method_name(const evm_match_result *r)
{
    switch (r->method) {
    case EVM_MATCH_VCG: return "virtual comparison group";
    case EVM_MATCH_CEM: return "coarsened exact matching";
    default: return "nearest neighbour";
    }
}

static const char *distance_name(const evm_match_result *r)
{
    if (r->method == EVM_MATCH_CEM) return "none (strata of coarsened covariates)";
    switch (r->distance_kind) {
    case EVM_DIST_LOGIT: return "logit of the propensity score (linear predictor)";
    case EVM_DIST_MAHALANOBIS: return "Mahalanobis distance on the covariates";
    default: return "propensity score";
    }
}

void evm_match_print(FILE *out, const evm_match_result *r, const evm_match_opts *o)
{
    fprintf(out, "Matching: %s", method_name(r));
    if (r->method != EVM_MATCH_CEM)
        fprintf(out, ", %d:1, %s replacement%s", r->ratio, r->replace ? "with" : "without",
                r->replace ? "" : r->distance_kind == EVM_DIST_MAHALANOBIS
                                      ? ", treated students in data order"
                                      : ", largest distance first");
    fprintf(out, "\nDistance: %s", distance_name(r));
    if (r->nterm > 0)
        fprintf(out, " (logistic regression on %d terms, %s in %d iterations)", r->nterm,
                r->converged ? "converged" : "NOT converged", r->iterations);
    fputc('\n', out);
    if (r->caliper > 0)
        fprintf(out, "Caliper:  %g SD of the distance = %.6g\n", r->caliper, r->caliper_width);
    if (o && o->nexact > 0) {
        fprintf(out, "Exact:    ");
        for (int i = 0; i < o->nexact; i++) fprintf(out, "%s%s", i ? ", " : "", o->exact[i]);
        fprintf(out, " (%lld cells)\n", (long long)r->ncells);
    }
    if (r->method == EVM_MATCH_CEM) fprintf(out, "Strata:   %lld with treated and comparison "
                                                 "students\n", (long long)r->ncells);
    if (o && o->nwindow > 0) {
        fprintf(out, "Window:   ");
        for (int i = 0; i < o->nwindow; i++)
            fprintf(out, "%s|%s| <= %g", i ? ", " : "", o->window_var[i], o->window_width[i]);
        fputc('\n', out);
    }
    if (r->seed) fprintf(out, "Ties:     broken in a random order (seed %llu)\n",
                         (unsigned long long)r->seed);

    fprintf(out, "\nSample sizes:\n");
    fprintf(out, "                 Comparison    Treated\n");
    fprintf(out, "  All            %10lld %10lld\n", (long long)r->n0, (long long)r->n1);
    fprintf(out, "  Matched        %10lld %10lld\n", (long long)r->n0_matched,
            (long long)r->n1_matched);
    fprintf(out, "  Matched (ESS)  %10.2f %10lld\n", r->ess0, (long long)r->n1_matched);
    fprintf(out, "  Unmatched      %10lld %10lld\n", (long long)(r->n0 - r->n0_matched),
            (long long)r->n1_unmatched);
    if (r->method != EVM_MATCH_CEM)
        fprintf(out, "  Matched sets   %10lld\n", (long long)r->nsets);

    int w = 9;
    for (int j = 0; j < r->nbal; j++) {
        int l = (int)strlen(r->bal[j].name);
        if (l > w) w = l;
    }
    if (w > 40) w = 40;
    fprintf(out, "\nBalance (ATT; SMD = mean difference / SD of the treated students before "
                 "matching):\n");
    fprintf(out, "  %-*s  %-41s  %s\n", w, "", "------------ before matching ------------",
            "------------ after matching -------------");
    fprintf(out, "  %-*s  %10s %10s %9s %9s  %10s %10s %9s %9s\n", w, "Covariate", "Mean T",
            "Mean C", "SMD", "Var.ratio", "Mean T", "Mean C", "SMD", "Var.ratio");
    for (int j = 0; j < r->nbal; j++) {
        const evm_balance_row *b = &r->bal[j];
        char v[8][32];
        for (int k = 0; k < 2; k++) {
            num(v[4 * k], 32, b->mean_t[k]);
            num(v[4 * k + 1], 32, b->mean_c[k]);
            num(v[4 * k + 2], 32, b->smd[k]);
            num(v[4 * k + 3], 32, b->var_ratio[k]);
        }
        fprintf(out, "  %-*.*s  %10s %10s %9s %9s  %10s %10s %9s %9s\n", w, w, b->name, v[0],
                v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
    }

    fprintf(out, "\nBaseline equivalence (What Works Clearinghouse: Hedges' g or Cox index; "
                 "|es| <= 0.05 satisfied,\n0.05-0.25 satisfied only if the impact model "
                 "adjusts for the covariate, > 0.25 not satisfied):\n");
    fprintf(out, "  %-*s  %-5s %9s %9s  %s\n", w, "Covariate", "Index", "Before", "After",
            "Verdict");
    int counts[3] = {0, 0, 0};
    for (int j = 0; j < r->nbal; j++) {
        const evm_balance_row *b = &r->bal[j];
        if (b->kind == 0) continue;
        char v0[32], v1[32];
        num(v0, sizeof v0, b->wwc[0]);
        num(v1, sizeof v1, b->wwc[1]);
        fprintf(out, "  %-*.*s  %-5s %9s %9s  %s\n", w, w, b->name, b->kind == 2 ? "Cox" : "g",
                v0, v1, evm_match_verdict_str(b->verdict));
        if (b->verdict >= 0) counts[b->verdict]++;
    }
    fprintf(out, "  %d satisfied, %d need statistical adjustment, %d not satisfied\n",
            counts[0], counts[1], counts[2]);
}
