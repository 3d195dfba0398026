/* test_kenward_roger.c — evalmix's blockwise Kenward-Roger (engine/infer/kenward_roger.c)
 * against pbkrtest 0.5.2, and against a brute-force N×N computation.
 *
 * 1. For every case in tests/reference/pbkrtest_reference.json (pbkrtest_reference.R):
 *    read the CSV, fit by REML through the public API, and compare
 *      vcovAdj (every entry) and the KR standard errors  1e-3 relative (floor 1e-10)
 *      ddf of each KRmodcomp test                         1e-3 relative
 *      F (scaled) and the scaling λ                       1e-4 relative
 *      ndf                                                exactly
 *    and print the largest relative error of each kind per case.
 * 2. Oracle-free: on small simulated designs (nested with a random slope; crossed with
 *    two separate components; crossed and uncorrelated), the same quantities equal
 *    pbkrtest's algorithm written out here with dense N×N matrices (Σ, Σ⁻¹, G_r Σ⁻¹, ...),
 *    to 1e-7 relative; the adjusted covariance is bitwise the same for 1, 2 and 3 threads.
 * 3. Refusals: ML fits and prior weights (pbkrtest refits by REML and ignores weights).
 *
 * Run from the repository root.  An optional argument selects the cases whose id contains
 * it. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "evalmix/evalmix.h"
#include "infer/infer_internal.h"
#include "json.h"

#define REF_JSON "tests/reference/pbkrtest_reference.json"
#define TOL_V 1e-3
#define TOL_DDF 1e-3
#define TOL_F 1e-4
#define FLOOR_V 1e-10
#define TOL_BRUTE 1e-7

static double relerr(double got, double want, double floor_)
{
    double s = fabs(want) > floor_ ? fabs(want) : floor_;
    return fabs(got - want) / s;
}

/* ---------------------------------------------------------------- small dense algebra */

/* inverse of a symmetric positive definite n×n matrix (column-major) by Gauss-Jordan with
 * partial pivoting; 0 on success */
static int invert(int n, const double *A, double *Ainv)
{
    double *M = malloc(sizeof(double) * (size_t)n * 2 * n);
    if (!M) return -1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            M[i + (size_t)j * n] = A[i + (size_t)j * n];
            M[i + (size_t)(j + n) * n] = i == j;
        }
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int i = c + 1; i < n; i++)
            if (fabs(M[i + (size_t)c * n]) > fabs(M[piv + (size_t)c * n])) piv = i;
        if (M[piv + (size_t)c * n] == 0.0) { free(M); return -1; }
        for (int j = 0; j < 2 * n; j++) {
            double t = M[c + (size_t)j * n];
            M[c + (size_t)j * n] = M[piv + (size_t)j * n];
            M[piv + (size_t)j * n] = t;
        }
        double d = M[c + (size_t)c * n];
        for (int j = 0; j < 2 * n; j++) M[c + (size_t)j * n] /= d;
        for (int i = 0; i < n; i++) {
            if (i == c) continue;
            double f = M[i + (size_t)c * n];
            if (f == 0.0) continue;
            for (int j = 0; j < 2 * n; j++) M[i + (size_t)j * n] -= f * M[c + (size_t)j * n];
        }
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) Ainv[i + (size_t)j * n] = M[i + (size_t)(j + n) * n];
    free(M);
    return 0;
}

/* C (m×n) = op(A) B, A m×k (or k×m transposed), B k×n, all column-major */
static void matmul(int m, int n, int k, const double *A, int transA, const double *B, double *C)
{
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0.0;
            for (int l = 0; l < k; l++)
                s += (transA ? A[l + (size_t)i * k] : A[i + (size_t)l * m]) * B[l + (size_t)j * k];
            C[i + (size_t)j * m] = s;
        }
}

/* Rows of L (k×p row-major) reduced to a linearly independent subset (Gram-Schmidt on
 * copies); returns the rank, the kept rows copied into Lr. */
static int independent_rows(const double *L, int k, int p, double *Lr)
{
    double *Qb = calloc((size_t)k * p, sizeof *Qb);
    int r = 0;
    for (int i = 0; i < k; i++) {
        double v[64], n0 = 0.0, n1 = 0.0;
        for (int a = 0; a < p; a++) v[a] = L[i * p + a], n0 += v[a] * v[a];
        for (int j = 0; j < r; j++) {
            double d = 0.0;
            for (int a = 0; a < p; a++) d += v[a] * Qb[j * p + a];
            for (int a = 0; a < p; a++) v[a] -= d * Qb[j * p + a];
        }
        for (int a = 0; a < p; a++) n1 += v[a] * v[a];
        if (n1 > 1e-20 * (n0 > 0 ? n0 : 1)) {
            for (int a = 0; a < p; a++) Qb[r * p + a] = v[a] / sqrt(n1), Lr[r * p + a] = L[i * p + a];
            r++;
        }
    }
    free(Qb);
    return r;
}

/* (Lb)ᵀ(LVLᵀ)⁻¹(Lb) for full-rank L (q×p row-major) */
static double wald(const double *L, int q, int p, const double *V, const double *b)
{
    double S[64] = {0}, Si[64], lb[8] = {0};
    for (int i = 0; i < q; i++) {
        lb[i] = 0.0;
        for (int a = 0; a < p; a++) lb[i] += L[i * p + a] * b[a];
        for (int j = 0; j < q; j++) {
            double s = 0.0;
            for (int a = 0; a < p; a++)
                for (int c = 0; c < p; c++) s += L[i * p + a] * V[a + c * p] * L[j * p + c];
            S[i + j * q] = s;
        }
    }
    if (invert(q, S, Si)) return NAN;
    double w = 0.0;
    for (int i = 0; i < q; i++)
        for (int j = 0; j < q; j++) w += lb[i] * Si[i + j * q] * lb[j];
    return w;
}

/* ---------------------------------------------------------------- fitting */

static evm_lmm *fit_csv(const char *csv, const char *formula, evm_ctx *c)
{
    evm_lmm_opts o;
    evm_lmm_opts_default(&o);
    o.reml = 1;
    evm_colreq *req = NULL;
    int nreq = 0;
    evm_frame *f = NULL;
    evm_lmm *m = NULL;
    if (evm_formula_columns(formula, &o, &req, &nreq, c) < 0 ||
        evm_csv_read(csv, req, nreq, &f, c) < 0 || evm_lmm_create(formula, f, &o, &m, c) < 0 ||
        evm_lmm_fit(m, c) < 0) {
        fprintf(stderr, "fit of %s on %s failed: %s\n", formula, csv, evm_ctx_message(c));
        evm_lmm_destroy(&m);
    }
    evm_colreq_free(&req, nreq);
    evm_frame_destroy(&f);
    return m;
}

/* ---------------------------------------------------------------- 1. pbkrtest */

static void run_reference_case(const json_value *cs)
{
    const char *id = json_str(json_get(cs, "id"));
    const int p = (int)json_len(json_get(cs, "fixef_names"));
    evm_ctx *c = evm_ctx_create();
    evm__kr *kr = NULL;
    evm_lmm *m = fit_csv(json_str(json_get(cs, "csv")), json_str(json_get(cs, "formula")), c);
    CHECK(m != NULL);
    if (!m) goto cleanup;
    CHECK_INT(m->p, p);
    int st = evm__kr_create(m, &kr, c);
    if (st) fprintf(stderr, "%s: evm__kr_create: %s\n", id, evm_ctx_message(c));
    CHECK_INT(st, 0);
    if (st || m->p != p) goto cleanup;

    double th = 0.0;   /* how close the fits are: context for the KR differences */
    const json_value *jt = json_get(cs, "theta");
    for (int i = 0; i < m->ntheta; i++)
        th = fmax(th, relerr(m->theta[i], json_num(json_at(jt, (size_t)i)), 1e-4));

    const double *V = evm__kr_vcov_adj(kr);
    const json_value *jv = json_get(cs, "vcov_adj"), *jse = json_get(cs, "se_kr");
    double ev = 0.0, ese = 0.0, eddf = 0.0, eF = 0.0, esc = 0.0;
    for (int a = 0; a < p; a++) {
        for (int b = 0; b < p; b++) {
            double want = json_num(json_at(json_at(jv, (size_t)a), (size_t)b));
            double e = relerr(V[a + b * p], want, FLOOR_V);
            ev = fmax(ev, e);
            if (e > TOL_V)
                fprintf(stderr, "%s: vcov_adj[%d,%d] %.10g vs pbkrtest %.10g\n", id, a, b,
                        V[a + b * p], want);
            CHECK(e <= TOL_V);
        }
        double want = json_num(json_at(jse, (size_t)a));
        double e = relerr(sqrt(V[a + a * p]), want, FLOOR_V);
        ese = fmax(ese, e);
        CHECK(e <= TOL_V);
    }
    const json_value *tests = json_get(cs, "tests");
    for (size_t t = 0; t < json_len(tests); t++) {
        const json_value *jt1 = json_at(tests, t), *jL = json_get(jt1, "L");
        const int k = (int)json_len(jL);
        double L[64], Lr[64], F = NAN, ndf = NAN, ddf = NAN;
        for (int i = 0; i < k; i++)
            for (int a = 0; a < p; a++) L[i * p + a] = json_num(json_at(json_at(jL, (size_t)i), (size_t)a));
        int s2 = evm__kr_ftest(kr, m->beta, L, k, &F, &ndf, &ddf, c);
        CHECK_INT(s2, 0);
        int q = independent_rows(L, k, p, Lr);
        double scaling = F / (wald(Lr, q, p, V, m->beta) / q);
        double wF = json_num(json_get(jt1, "F")), wddf = json_num(json_get(jt1, "ddf"));
        double wsc = json_num(json_get(jt1, "F_scaling"));
        CHECK_INT((long long)ndf, (long long)json_num(json_get(jt1, "ndf")));
        double e1 = relerr(ddf, wddf, 0), e2 = relerr(F, wF, 0), e3 = relerr(scaling, wsc, 0);
        if (e1 > TOL_DDF || e2 > TOL_F || e3 > TOL_F)
            fprintf(stderr, "%s %s: F %.10g ddf %.10g scaling %.10g vs pbkrtest %.10g %.10g %.10g\n",
                    id, json_str(json_get(jt1, "name")), F, ddf, scaling, wF, wddf, wsc);
        CHECK(e1 <= TOL_DDF);
        CHECK(e2 <= TOL_F);
        CHECK(e3 <= TOL_F);
        eddf = fmax(eddf, e1), eF = fmax(eF, e2), esc = fmax(esc, e3);
    }
    printf("%-20s max rel err: vcovAdj %.2e  KR SE %.2e  ddf %.2e  F %.2e  scaling %.2e"
           "  (theta %.1e)\n", id, ev, ese, eddf, eF, esc, th);
cleanup:
    evm__kr_destroy(&kr);
    evm_lmm_destroy(&m);
    evm_ctx_destroy(&c);
}

/* ---------------------------------------------------------------- 2. brute force */

typedef struct {
    int n, p, npar;
    double *phia;       /* p×p */
    double *P, *W;      /* npar p×p, npar×npar */
    double *phi;
} brute;

/* pbkrtest's .get_SigmaG and vcovAdj_internal, literally, with dense N×N matrices. */
static int brute_vcovadj(const evm_lmm *m, brute *B)
{
    const evm__modelframe *mf = m->mf;
    const int n = (int)mf->n, p = m->p;
    int npar = m->ntheta + 1;
    const double s2 = m->sigma * m->sigma;
    double *G = calloc((size_t)npar * n * n, sizeof *G), *gam = calloc((size_t)npar, sizeof *gam);
    int r = 0;
    for (int k = 0; k < m->K; k++) {
        const evm__reterm *re = &mf->re[m->t[k].src];
        const int q = m->t[k].q;
        const double *T = m->t[k].T;
        for (int j = 0; j < q; j++)
            for (int i = j; i < q; i++, r++) {
                double v = 0.0;   /* σ² (T Tᵀ)[i, j] */
                for (int l = 0; l < q; l++) v += T[i + l * q] * T[j + l * q];
                gam[r] = s2 * v;
                double *Gr = G + (size_t)r * n * n;
                for (int a = 0; a < n; a++)
                    for (int b = 0; b < n; b++) {
                        if (re->codes[a] != re->codes[b]) continue;
                        double za_i = re->Z[a + (size_t)i * n], za_j = re->Z[a + (size_t)j * n];
                        double zb_i = re->Z[b + (size_t)i * n], zb_j = re->Z[b + (size_t)j * n];
                        Gr[a + (size_t)b * n] = i == j ? za_i * zb_i : za_i * zb_j + za_j * zb_i;
                    }
            }
    }
    gam[r] = s2;
    for (int a = 0; a < n; a++) G[(size_t)r * n * n + a + (size_t)a * n] = 1.0;

    double *Sig = calloc((size_t)n * n, sizeof *Sig), *Si = malloc(sizeof(double) * n * n);
    for (int rr = 0; rr < npar; rr++)
        for (size_t e = 0; e < (size_t)n * n; e++) Sig[e] += gam[rr] * G[(size_t)rr * n * n + e];
    if (invert(n, Sig, Si)) return -1;

    double *TT = malloc(sizeof(double) * n * p), *HH = malloc(sizeof(double) * npar * n * n);
    double *OO = malloc(sizeof(double) * npar * n * p), *tmp = malloc(sizeof(double) * n * p);
    matmul(n, p, n, Si, 0, mf->X, TT);
    for (int i = 0; i < npar; i++) {
        matmul(n, n, n, G + (size_t)i * n * n, 0, Si, HH + (size_t)i * n * n);
        matmul(n, p, n, HH + (size_t)i * n * n, 0, mf->X, OO + (size_t)i * n * p);
    }
    const int pp = p * p;
    double *P = malloc(sizeof(double) * npar * pp), *Q = malloc(sizeof(double) * npar * npar * pp);
    for (int i = 0; i < npar; i++) {
        matmul(p, p, n, OO + (size_t)i * n * p, 1, TT, P + i * pp);
        for (int e = 0; e < pp; e++) P[i * pp + e] = -P[i * pp + e];
        for (int j = 0; j < npar; j++) {   /* Q_ij = O_iᵀ Σ⁻¹ O_j */
            matmul(n, p, n, Si, 0, OO + (size_t)j * n * p, tmp);
            matmul(p, p, n, OO + (size_t)i * n * p, 1, tmp, Q + (i * npar + j) * pp);
        }
    }
    double *IE = malloc(sizeof(double) * npar * npar), *Wm = malloc(sizeof(double) * npar * npar);
    double *phi = m->vcov, T1[64], T2[64], T3[64];
    for (int i = 0; i < npar; i++)
        for (int j = 0; j < npar; j++) {
            double kt = 0.0;
            const double *Hi = HH + (size_t)i * n * n, *Hj = HH + (size_t)j * n * n;
            for (int a = 0; a < n; a++)
                for (int b = 0; b < n; b++) kt += Hi[b + (size_t)a * n] * Hj[a + (size_t)b * n];
            double pq = 0.0;
            for (int e = 0; e < pp; e++) pq += phi[e] * Q[(i * npar + j) * pp + e];
            matmul(p, p, p, phi, 0, P + i * pp, T1);
            matmul(p, p, p, P + j * pp, 0, phi, T2);
            double pp2 = 0.0;
            for (int e = 0; e < pp; e++) pp2 += T1[e] * T2[e];
            IE[i + j * npar] = kt - 2.0 * pq + pp2;
        }
    if (invert(npar, IE, Wm)) return -1;
    for (int e = 0; e < npar * npar; e++) Wm[e] *= 2.0;
    double UU[64] = {0};
    for (int i = 0; i < npar; i++)
        for (int j = 0; j < npar; j++) {   /* Σ_ij W_ij (Q_ij - P_iΦP_j): both triangles */
            matmul(p, p, p, P + i * pp, 0, phi, T1);
            matmul(p, p, p, T1, 0, P + j * pp, T2);
            for (int e = 0; e < pp; e++) UU[e] += Wm[i + j * npar] * (Q[(i * npar + j) * pp + e] - T2[e]);
        }
    matmul(p, p, p, phi, 0, UU, T1);
    matmul(p, p, p, T1, 0, phi, T3);
    B->n = n, B->p = p, B->npar = npar;
    B->phia = malloc(sizeof(double) * pp);
    for (int e = 0; e < pp; e++) B->phia[e] = phi[e] + 2.0 * T3[e];
    B->P = P, B->W = Wm, B->phi = phi;
    /* Φ itself: (XᵀΣ⁻¹X)⁻¹ must be the fit's vcov */
    double XtSX[64] = {0}, XtSXi[64] = {0};
    matmul(p, p, n, mf->X, 1, TT, XtSX);
    invert(p, XtSX, XtSXi);
    for (int e = 0; e < pp; e++) CHECK_REL(XtSXi[e], phi[e], 1e-8, 1e-12);
    free(G), free(gam), free(Sig), free(Si), free(TT), free(HH), free(OO), free(tmp), free(Q);
    free(IE);
    return 0;
}

/* pbkrtest's .KR_adjust for full-rank L (q×p row-major) on the brute-force P, W */
static void brute_ftest(const brute *B, const double *beta, const double *L, int q, double *F,
                        double *ddf)
{
    const int p = B->p, pp = p * p;
    double Theta[64], S[64], Si[64];
    for (int i = 0; i < q; i++)
        for (int j = 0; j < q; j++) {
            double s = 0.0;
            for (int a = 0; a < p; a++)
                for (int c = 0; c < p; c++) s += L[i * p + a] * B->phi[a + c * p] * L[j * p + c];
            S[i + j * q] = s;
        }
    invert(q, S, Si);
    for (int a = 0; a < p; a++)
        for (int c = 0; c < p; c++) {
            double s = 0.0;
            for (int i = 0; i < q; i++)
                for (int j = 0; j < q; j++) s += L[i * p + a] * Si[i + j * q] * L[j * p + c];
            Theta[a + c * p] = s;
        }
    double A1 = 0.0, A2 = 0.0, T1[64], T2[64], ui[64], uj[64];
    for (int i = 0; i < B->npar; i++)
        for (int j = i; j < B->npar; j++) {
            double e = i == j ? 1 : 2, w = B->W[i + j * B->npar];
            matmul(p, p, p, Theta, 0, B->phi, T1);
            matmul(p, p, p, T1, 0, B->P + i * pp, T2);
            matmul(p, p, p, T2, 0, B->phi, ui);
            matmul(p, p, p, T1, 0, B->P + j * pp, T2);
            matmul(p, p, p, T2, 0, B->phi, uj);
            double ti = 0, tj = 0, tij = 0;
            for (int a = 0; a < p; a++) {
                ti += ui[a + a * p], tj += uj[a + a * p];
                for (int c = 0; c < p; c++) tij += ui[a + c * p] * uj[c + a * p];
            }
            A1 += e * w * ti * tj;
            A2 += e * w * tij;
        }
    double B_ = (A1 + 6 * A2) / (2 * q), g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2);
    double d = 3 * q + 2 * (1 - g), c1 = g / d, c2 = (q - g) / d, c3 = (q + 2 - g) / d;
    double V0 = 1 + c1 * B_, V1 = 1 - c2 * B_, V2 = 1 - c3 * B_;
    double rho = 1.0 / q * pow((1 - A2 / q) / V1, 2) * V0 / V2;
    *ddf = 4 + (q + 2) / (q * rho - 1);
    double sc = fabs(*ddf - 2) < 0.01 ? 1 : *ddf * (1 - A2 / q) / (*ddf - 2);
    *F = sc * wald(L, q, p, B->phia, beta) / q;
}

/* xorshift64* and Box-Muller: reproducible simulated data */
static uint64_t rng_state = 88172645463325252ULL;
static double unif(void)
{
    rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
    return ((rng_state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}
static double rnorm(void) { return sqrt(-2.0 * log(unif() + 1e-300)) * cos(2.0 * M_PI * unif()); }

static void add_factor(evm_frame *f, const char *name, const int32_t *codes, int nlev, evm_ctx *c)
{
    char buf[64][16];
    const char *lv[64];
    for (int i = 0; i < nlev; i++) snprintf(buf[i], sizeof buf[i], "%c%02d", name[0], i), lv[i] = buf[i];
    CHECK_INT(evm_frame_add_factor(f, name, codes, lv, nlev, c), 0);
}

/* design 0: nested, (1 + x | g) + (1 | g:s); 1: crossed in two disconnected blocks,
 * (1 | a) + (1 | b); 2: crossed, uncorrelated slope (x || a) + (1 | b) */
static void run_brute(int design)
{
    enum { N = 96 };
    static const char *formulas[] = {
        "y ~ x + w + (1 + x | g) + (1 | g:s)",
        "y ~ x + w + (1 | a) + (1 | b)",
        "y ~ x + (x || a) + (1 | b)"};
    double x[N], w[N], y[N];
    int32_t ga[N], gb[N];
    double ua[32], va[32], ub[32];
    for (int i = 0; i < 32; i++) ua[i] = 1.5 * rnorm(), va[i] = 0.7 * rnorm(), ub[i] = 1.0 * rnorm();
    int nla = 0, nlb = 0;
    for (int r = 0; r < N; r++) {
        x[r] = rnorm(), w[r] = unif() < 0.5;
        if (design == 0) {          /* 8 groups, 3 subgroups each, unbalanced */
            ga[r] = (int32_t)(unif() * 8), gb[r] = (int32_t)(unif() * 3);
            nla = 8, nlb = 3;
        } else if (design == 1) {   /* a 0-4 meet b 0-2 only; a 5-9 meet b 3-5 only */
            ga[r] = (int32_t)(unif() * 10);
            gb[r] = (int32_t)(unif() * 3) + (ga[r] >= 5 ? 3 : 0);
            nla = 10, nlb = 6;
        } else {
            ga[r] = (int32_t)(unif() * 9), gb[r] = (int32_t)(unif() * 5);
            nla = 9, nlb = 5;
        }
        double re = design == 0 ? ua[ga[r]] + va[ga[r]] * x[r] + ub[ga[r] * 3 + gb[r]]
                  : design == 1 ? ua[ga[r]] + ub[gb[r]]
                                : ua[ga[r]] + va[ga[r]] * x[r] + ub[gb[r]];
        y[r] = 10.0 + 2.0 * x[r] - 1.0 * w[r] + re + rnorm();
    }
    evm_ctx *c = evm_ctx_create();
    evm_frame *f = evm_frame_create(N, c);
    evm_lmm *m = NULL;
    evm__kr *kr = NULL;
    brute B = {0};
    CHECK_INT(evm_frame_add_numeric(f, "y", y, c), 0);
    CHECK_INT(evm_frame_add_numeric(f, "x", x, c), 0);
    CHECK_INT(evm_frame_add_numeric(f, "w", w, c), 0);
    add_factor(f, design == 0 ? "g" : "a", ga, nla, c);
    add_factor(f, design == 0 ? "s" : "b", gb, nlb, c);
    evm_lmm_opts o;
    evm_lmm_opts_default(&o);
    int st = evm_lmm_create(formulas[design], f, &o, &m, c);
    if (st >= 0) st = evm_lmm_fit(m, c);
    if (st < 0) fprintf(stderr, "brute %d: %s\n", design, evm_ctx_message(c));
    CHECK(st >= 0);
    if (st < 0) goto cleanup;
    st = evm__kr_create(m, &kr, c);
    CHECK_INT(st, 0);
    if (st) goto cleanup;
    /* the same bits for any thread count (fixed slices, summed in order) */
    for (int threads = 1; threads <= 3; threads++) {
        evm__kr *k2 = NULL;
        evm_ctx_set_threads(c, threads);
        CHECK_INT(evm__kr_create(m, &k2, c), 0);
        if (k2)
            CHECK(memcmp(evm__kr_vcov_adj(k2), evm__kr_vcov_adj(kr),
                         sizeof(double) * (size_t)m->p * m->p) == 0);
        evm__kr_destroy(&k2);
    }
    CHECK_INT(brute_vcovadj(m, &B), 0);
    if (!B.phia) goto cleanup;
    const int p = m->p;
    const double *V = evm__kr_vcov_adj(kr);
    double ev = 0.0, et = 0.0;
    for (int e = 0; e < p * p; e++) {
        double err = relerr(V[e], B.phia[e], 1e-12 * fabs(B.phia[0]));
        ev = fmax(ev, err);
        CHECK_REL(V[e], B.phia[e], TOL_BRUTE, 1e-12 * fabs(B.phia[0]));
    }
    /* every single coefficient, all jointly, and a dependent set */
    double L[64];
    for (int t = 0; t <= p + 1; t++) {
        int k;
        memset(L, 0, sizeof L);
        if (t < p) k = 1, L[t] = 1.0;
        else if (t == p) { k = p; for (int i = 0; i < p; i++) L[i * p + i] = 1.0; }
        else { k = 3; L[1] = 1.0, L[p + 1] = 2.0, L[2 * p + 0] = 1.0; }   /* rank 2 */
        double F, ndf, ddf, bF, bddf, Lr[64];
        CHECK_INT(evm__kr_ftest(kr, m->beta, L, k, &F, &ndf, &ddf, c), 0);
        int q = independent_rows(L, k, p, Lr);
        CHECK_INT((int)ndf, q);
        brute_ftest(&B, m->beta, Lr, q, &bF, &bddf);
        CHECK_REL(F, bF, TOL_BRUTE, 0);
        CHECK_REL(ddf, bddf, TOL_BRUTE, 0);
        et = fmax(et, fmax(relerr(F, bF, 0), relerr(ddf, bddf, 0)));
    }
    printf("brute force %d (%s, N = %d, npar = %d, theta", design, formulas[design], N, B.npar);
    for (int i = 0; i < m->ntheta; i++) printf(" %.3g", m->theta[i]);
    printf("): max rel err vcovAdj %.1e, F/ddf %.1e\n", ev, et);
cleanup:
    free(B.phia), free(B.P), free(B.W);
    evm__kr_destroy(&kr);
    evm_lmm_destroy(&m);
    evm_frame_destroy(&f);
    evm_ctx_destroy(&c);
}

/* Refusals: prior weights (pbkrtest ignores them) and ML fits. */
static void run_refusals(void)
{
    evm_ctx *c = evm_ctx_create();
    evm__kr *kr = NULL;
    const char *formula = "Reaction ~ Days + (Days|Subject)";
    evm_lmm_opts o;
    evm_lmm_opts_default(&o);
    o.reml = 0;
    evm_colreq *req = NULL;
    int nreq = 0;
    evm_frame *f = NULL;
    evm_lmm *m = NULL;
    CHECK_INT(evm_formula_columns(formula, &o, &req, &nreq, c), 0);
    CHECK_INT(evm_csv_read("datasets/sleepstudy.csv", req, nreq, &f, c), 0);
    CHECK(evm_lmm_create(formula, f, &o, &m, c) >= 0);
    CHECK(m && evm_lmm_fit(m, c) >= 0);
    if (m) {
        CHECK_INT(evm__kr_create(m, &kr, c), EVM_ERR_ARG);
        CHECK(strstr(evm_ctx_message(c), "REML") != NULL);
        CHECK(kr == NULL);
    }
    evm_lmm_destroy(&m);
    evm_colreq_free(&req, nreq);
    evm_frame_destroy(&f);
    const char *wformula = "MathAch ~ SES + (1|School)";
    evm_lmm_opts_default(&o);
    o.weights = "Size";
    CHECK_INT(evm_formula_columns(wformula, &o, &req, &nreq, c), 0);
    CHECK_INT(evm_csv_read("datasets/hsb.csv", req, nreq, &f, c), 0);
    CHECK(evm_lmm_create(wformula, f, &o, &m, c) >= 0);
    CHECK(m && evm_lmm_fit(m, c) >= 0);
    if (m) {
        CHECK_INT(evm__kr_create(m, &kr, c), EVM_ERR_ARG);
        CHECK(strstr(evm_ctx_message(c), "weights") != NULL);
    }
    evm_lmm_destroy(&m);
    evm_colreq_free(&req, nreq);
    evm_frame_destroy(&f);
    evm__kr_destroy(&kr);   /* NULL: a no-op */
    evm_ctx_destroy(&c);
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    char *err = NULL;
    json_value *root = json_parse_file(REF_JSON, &err);
    if (!root) {
        fprintf(stderr, "test_kenward_roger: %s (run from the repository root)\n",
                err ? err : "out of memory");
        free(err);
        CHECK(root != NULL);
        return check_summary("test_kenward_roger");
    }
    const json_value *cases = json_get(root, "cases");
    CHECK(json_len(cases) > 0);
    for (size_t i = 0; i < json_len(cases); i++) {
        const char *id = json_str(json_get(json_at(cases, i), "id"));
        if (only && (!id || !strstr(id, only))) continue;
        run_reference_case(json_at(cases, i));
    }
    json_free(&root);
    if (!only || strstr("brute", only)) {
        for (int d = 0; d < 3; d++) run_brute(d);
        run_refusals();
    }
    return check_summary("test_kenward_roger");
}
