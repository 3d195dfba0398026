/* kenward_roger_sums.c — the N-sized part of Kenward-Roger (kenward_roger.c): pbkrtest's
 * matrices P_r, Q_rs and K_rs, computed from the cross-product blocks without any N×N
 * matrix.
 *
 * pbkrtest's parametrisation: Σ = Σ_r γ_r G_r + σ² I with one γ_r per variance or
 * covariance of each random-effects term (VarCorr's lower triangle, column-wise, terms in
 * lme4's order) and G_r = Z E_r Zᵀ, E_r = I_levels ⊗ (e_ab + e_ba) (e_aa for a variance);
 * the last parameter is σ² with G = I.  It needs, for all pairs r, s,
 *   P_r = -XᵀΣ⁻¹G_rΣ⁻¹X,  Q_rs = XᵀΣ⁻¹G_rΣ⁻¹G_sΣ⁻¹X,  K_rs = tr(Σ⁻¹G_rΣ⁻¹G_s).
 * With Σ = σ²V, V = I + UUᵀ, U = ZΛ, C = UᵀU + I = ΛᵀZᵀZΛ + I, Woodbury gives
 * V⁻¹ = I - UC⁻¹Uᵀ and UᵀV⁻ᵏ = C⁻ᵏUᵀ, hence with F = ΛᵀZᵀX, H = C⁻¹F, Y = ZᵀZΛ:
 *   M1 = ZᵀV⁻¹Z = ZᵀZ - YC⁻¹Yᵀ          M2 = ZᵀV⁻²Z = M1 - (C⁻¹Yᵀ)ᵀ(C⁻¹Yᵀ)
 *   B1 = ZᵀV⁻¹X = ZᵀX - YH               B2 = ZᵀV⁻²X = B1 - (C⁻¹Yᵀ)ᵀH
 *   XᵀV⁻¹X = XᵀX - FᵀC⁻¹F,  XᵀV⁻²X = XᵀV⁻¹X - HᵀH,  XᵀV⁻³X = XᵀV⁻²X - HᵀC⁻¹H
 *   tr V⁻² = N - q + tr C⁻²
 * and then (the σ powers applied at the end)
 *   P_r = -σ⁻⁴B1ᵀE_rB1   Q_rs = σ⁻⁶B1ᵀE_rM1E_sB1   K_rs = σ⁻⁴tr(M1E_rM1E_s)
 *   P_σ = -σ⁻⁴XᵀV⁻²X     Q_rσ = σ⁻⁶B1ᵀE_rB2        K_rσ = σ⁻⁴tr(E_rM2)
 *   Q_σσ = σ⁻⁶XᵀV⁻³X     K_σσ = σ⁻⁴tr V⁻².
 * Nothing needs Λ⁻¹, so boundary fits (singular Λ) are no special case.
 *
 * Cost.  V is block-diagonal over the connected components of the levels (levels joined
 * when they occur in one row), so all of the above splits over them: for nested designs
 * the top-level groups (a school with its classrooms), for crossed designs usually one
 * component.  A component with q_g columns costs O(q_g³ + n_par·q_g²·p) (dense, BLAS-3),
 * the whole O(Σ_g q_g³ + p³), independent of N; the cross-products come from the blocks
 * the fit stored (t[k].A, t[k].AX, the off blocks, AXX), so no row is read.  A crossed
 * design is one dense component of q_total columns: fine for a few thousand columns
 * (Penicillin: 30, ScotsSec: 167), O(q_total³) time and 3·q_total² doubles beyond that;
 * there the fit's sparse factor could replace the dense C⁻¹ (only the entries of M1 on
 * the pattern of the E_r pairs and the B rows are needed: a selected inversion), which is
 * where this could be improved.
 * Components are processed in a fixed number of slices with their own sums, added in
 * slice order: the result does not depend on the thread count. */
#include "kenward_roger.h"

#include "internal.h"
#include "par/par.h"

#include <cblas.h>
#include <lapacke.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* A component's three dense q_g×q_g work arrays beyond this many doubles each (~2 GB)
 * are refused, as structure.c refuses dense blocks of the same size. */
#define KR_DENSE_MAX ((int64_t)256 * 1024 * 1024)
#define KR_SLICES 16

/* ---------------------------------------------------------------- the level graph */

typedef struct {
    int64_t nnodes;      /* Σ levels: node = nodeoff[k] + level */
    int64_t *nodeoff;    /* [K+1] */
    int *node_term;      /* [nnodes] */
    int64_t ncomp;
    int64_t *cstart;     /* [ncomp+1] into members */
    int64_t *members;    /* nodes grouped by component, ascending within each */
    int64_t *loc;        /* [nnodes] first local column of the node in its component */
    int64_t *cq;         /* [ncomp] columns of each component */
    int64_t qmax;
} kr_graph;

static void graph_free(kr_graph *g)
{
    free(g->nodeoff);
    free(g->node_term);
    free(g->cstart);
    free(g->members);
    free(g->loc);
    free(g->cq);
}

static int64_t uf_find(int64_t *parent, int64_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

/* Connected components of the levels, joined through the patterns of the stored
 * cross-products ZᵢᵀZₖ (no pass over the rows).  Roots are the smallest node, and
 * components are numbered by their smallest node: a fixed order. */
static int graph_build(const evm_lmm *m, kr_graph *g)
{
    const int K = m->K;
    int64_t *parent = NULL, *id = NULL;
    int status = EVM_ERR_NOMEM;
    memset(g, 0, sizeof *g);
    g->nodeoff = evm__malloc((size_t)K + 1, sizeof *g->nodeoff);
    if (!g->nodeoff) goto cleanup;
    g->nodeoff[0] = 0;
    for (int k = 0; k < K; k++) g->nodeoff[k + 1] = g->nodeoff[k] + m->t[k].nl;
    const int64_t nn = g->nnodes = g->nodeoff[K];
    parent = evm__malloc((size_t)(nn ? nn : 1), sizeof *parent);
    id = evm__malloc((size_t)(nn ? nn : 1), sizeof *id);
    g->node_term = evm__malloc((size_t)(nn ? nn : 1), sizeof *g->node_term);
    g->loc = evm__malloc((size_t)(nn ? nn : 1), sizeof *g->loc);
    g->members = evm__malloc((size_t)(nn ? nn : 1), sizeof *g->members);
    if (!parent || !id || !g->node_term || !g->loc || !g->members) goto cleanup;
    for (int k = 0; k < K; k++)
        for (int64_t l = g->nodeoff[k]; l < g->nodeoff[k + 1]; l++) g->node_term[l] = k;
    for (int64_t u = 0; u < nn; u++) parent[u] = u;
    for (int k = 0; k < K; k++)
        for (int i = k + 1; i < K; i++) {
            const evm__offblk *ob = evm__off(m, i, k);
            for (int64_t c = 0; c < m->t[k].nl; c++)
                for (int64_t e = ob->colptr[c]; e < ob->colptr[c + 1]; e++) {
                    int64_t a = uf_find(parent, g->nodeoff[k] + c);
                    int64_t b = uf_find(parent, g->nodeoff[i] + ob->rowlev[e]);
                    if (a < b) parent[b] = a;
                    else if (b < a) parent[a] = b;
                }
        }
    int64_t nc = 0;
    for (int64_t u = 0; u < nn; u++) {
        int64_t r = uf_find(parent, u);
        id[u] = r == u ? nc++ : id[r];   /* the root is the smallest node: seen first */
    }
    g->ncomp = nc;
    g->cstart = evm__calloc((size_t)nc + 1, sizeof *g->cstart);
    g->cq = evm__calloc((size_t)(nc ? nc : 1), sizeof *g->cq);
    if (!g->cstart || !g->cq) goto cleanup;
    for (int64_t u = 0; u < nn; u++) g->cstart[id[u] + 1]++;
    for (int64_t c = 0; c < nc; c++) g->cstart[c + 1] += g->cstart[c];
    for (int64_t u = 0; u < nn; u++) {   /* counting sort, stable: nodes ascending */
        int64_t c = id[u];
        g->members[g->cstart[c] + g->cq[c]++] = u;   /* cq as a fill counter for now */
    }
    g->qmax = 0;
    for (int64_t c = 0; c < nc; c++) {
        int64_t q = 0;
        for (int64_t e = g->cstart[c]; e < g->cstart[c + 1]; e++) {
            int64_t u = g->members[e];
            g->loc[u] = q;
            q += m->t[g->node_term[u]].q;
        }
        g->cq[c] = q;
        if (q > g->qmax) g->qmax = q;
    }
    status = EVM_OK;
cleanup:
    free(parent);
    free(id);
    return status;
}

/* ---------------------------------------------------------------- one component */

typedef struct {
    const evm_lmm *m;
    const kr_graph *g;
    int npar, nq, p;
    int64_t accsize;   /* doubles per slice accumulator */
    double *acc;       /* [KR_SLICES][accsize] */
    int *status;
} kr_job;

/* Accumulator layout (unscaled sums; the σ powers are applied at the end):
 *   Pr   (npar-1) p×p   -B1ᵀE_rB1           random parameters only
 *   Q    nq p×p         B1ᵀE_rM1E_sB1, B1ᵀE_rB2 (s = σ); Q_σσ is filled later
 *   K    npar×npar      tr(M1E_rM1E_s), tr(E_rM2); K_σσ later
 *   D    3 p×p          FᵀC⁻¹F, HᵀH, HᵀC⁻¹H
 *   trc2 1              Σ tr C⁻² */

typedef struct {
    double *Zg, *Yt, *C, *ZX, *H, *G2, *B2, *MD;
    int64_t *ea, *eb;   /* entries (a, b) of every E_r in the component, by parameter */
    int64_t *ebeg;      /* [npar] */
} kr_work;

static void work_free(kr_work *w)
{
    free(w->Zg), free(w->Yt), free(w->C), free(w->ZX), free(w->H), free(w->G2);
    free(w->B2), free(w->MD), free(w->ea), free(w->eb), free(w->ebeg);
}

static int work_alloc(kr_work *w, int64_t qmax, int p, int npar)
{
    const size_t qq = (size_t)qmax * (size_t)qmax, qp = (size_t)qmax * (size_t)(p ? p : 1);
    memset(w, 0, sizeof *w);
    w->Zg = evm__malloc(qq, sizeof(double));
    w->Yt = evm__malloc(qq, sizeof(double));
    w->C = evm__malloc(qq, sizeof(double));
    w->ZX = evm__malloc(qp, sizeof(double));
    w->H = evm__malloc(qp, sizeof(double));
    w->G2 = evm__malloc(qp, sizeof(double));
    w->B2 = evm__malloc(qp, sizeof(double));
    w->MD = evm__malloc(qp, sizeof(double));
    /* Σ_k members_k q_k(q_k+1) ≤ 9 q_g entries (q_k ≤ 8) */
    w->ea = evm__malloc((size_t)qmax * 9, sizeof *w->ea);
    w->eb = evm__malloc((size_t)qmax * 9, sizeof *w->eb);
    w->ebeg = evm__malloc((size_t)npar + 1, sizeof *w->ebeg);
    if (!w->Zg || !w->Yt || !w->C || !w->ZX || !w->H || !w->G2 || !w->B2 || !w->MD || !w->ea ||
        !w->eb || !w->ebeg) {
        work_free(w);
        return EVM_ERR_NOMEM;
    }
    return EVM_OK;
}

/* Zg = Z_gᵀZ_g (full), ZX = Z_gᵀX, from the stored blocks. */
static void assemble(const evm_lmm *m, const kr_graph *g, int64_t comp, kr_work *w)
{
    const int64_t n = g->cq[comp];
    const int p = m->p, px = m->px;
    memset(w->Zg, 0, sizeof(double) * (size_t)(n * n));
    for (int64_t e = g->cstart[comp]; e < g->cstart[comp + 1]; e++) {
        const int64_t u = g->members[e], j0 = g->loc[u];
        const int k = g->node_term[u];
        const evm__term *tk = &m->t[k];
        const int q = tk->q;
        const int64_t lev = u - g->nodeoff[k];
        const double *A = tk->A + lev * q * q;
        for (int b = 0; b < q; b++)
            for (int a = 0; a < q; a++) w->Zg[(j0 + a) + (j0 + b) * n] = A[a + b * q];
        for (int b = 0; b < q; b++) {
            const double *ax = tk->AX + (lev * q + b) * px;
            for (int j = 0; j < p; j++) w->ZX[(j0 + b) + j * n] = ax[j];
        }
        for (int i = k + 1; i < m->K; i++) {
            const evm__offblk *ob = evm__off(m, i, k);
            const int qi = m->t[i].q;
            for (int64_t f = ob->colptr[lev]; f < ob->colptr[lev + 1]; f++) {
                const int64_t i0 = g->loc[g->nodeoff[i] + ob->rowlev[f]];
                const double *B = ob->A + f * qi * q;
                for (int b = 0; b < q; b++)
                    for (int a = 0; a < qi; a++) {
                        w->Zg[(i0 + a) + (j0 + b) * n] = B[a + b * qi];
                        w->Zg[(j0 + b) + (i0 + a) * n] = B[a + b * qi];
                    }
            }
        }
    }
}

/* rows of Out (n×ncol) = Λᵀ rows of In: for each node block, Out[j0+a,:] = Σ_b T[b,a] In[j0+b,:] */
static void lambda_t_left(const evm_lmm *m, const kr_graph *g, int64_t comp, const double *In,
                          double *Out, int64_t n, int64_t ncol)
{
    for (int64_t e = g->cstart[comp]; e < g->cstart[comp + 1]; e++) {
        const int64_t u = g->members[e], j0 = g->loc[u];
        const evm__term *tk = &m->t[g->node_term[u]];
        const int q = tk->q;
        for (int64_t c = 0; c < ncol; c++)
            for (int a = 0; a < q; a++) {
                double s = 0.0;
                for (int b = a; b < q; b++) s += tk->T[b + a * q] * In[(j0 + b) + c * n];
                Out[(j0 + a) + c * n] = s;
            }
    }
}

/* C = Yt Λ + I (n×n): columns j0+a of C = Σ_b T[b,a] columns j0+b of Yt */
static void form_c(const evm_lmm *m, const kr_graph *g, int64_t comp, const double *Yt,
                   double *C, int64_t n)
{
    for (int64_t e = g->cstart[comp]; e < g->cstart[comp + 1]; e++) {
        const int64_t u = g->members[e], j0 = g->loc[u];
        const evm__term *tk = &m->t[g->node_term[u]];
        const int q = tk->q;
        for (int a = 0; a < q; a++) {
            double *ca = C + (j0 + a) * n;
            for (int64_t r = 0; r < n; r++) ca[r] = 0.0;
            for (int b = a; b < q; b++) {
                const double t = tk->T[b + a * q];
                if (t == 0.0) continue;
                const double *yb = Yt + (j0 + b) * n;
                for (int64_t r = 0; r < n; r++) ca[r] += t * yb[r];
            }
        }
    }
    for (int64_t r = 0; r < n; r++) C[r + r * n] += 1.0;
}

/* The entries (a, b) with E_r[a, b] = 1 of every random parameter r, in local columns. */
static void entries(const evm_lmm *m, const kr_graph *g, int64_t comp, int nrand, kr_work *w)
{
    int64_t ne = 0;
    int r = 0;
    for (int k = 0; k < m->K; k++) {
        const int q = m->t[k].q;
        for (int j = 0; j < q; j++)
            for (int i = j; i < q; i++, r++) {
                w->ebeg[r] = ne;
                for (int64_t e = g->cstart[comp]; e < g->cstart[comp + 1]; e++) {
                    const int64_t u = g->members[e];
                    if (g->node_term[u] != k) continue;
                    w->ea[ne] = g->loc[u] + i, w->eb[ne++] = g->loc[u] + j;
                    if (i != j) w->ea[ne] = g->loc[u] + j, w->eb[ne++] = g->loc[u] + i;
                }
            }
    }
    w->ebeg[nrand] = ne;
}

/* Out (p×p) += s · x yᵀ with x, y rows of n×p column-major arrays */
static void outer_rows(double *Out, int p, double s, const double *X, int64_t xa,
                       const double *Y, int64_t yb, int64_t n)
{
    for (int d = 0; d < p; d++) {
        const double yd = s * Y[yb + d * n];
        if (yd == 0.0) continue;
        for (int c = 0; c < p; c++) Out[c + d * p] += X[xa + c * n] * yd;
    }
}

static int do_component(const kr_job *j, int64_t comp, kr_work *w, double *acc)
{
    const evm_lmm *m = j->m;
    const kr_graph *g = j->g;
    const int p = j->p, npar = j->npar, nrand = npar - 1;
    const int64_t n = g->cq[comp], pp = (int64_t)p * p;
    const int ni = (int)n;
    double *Pr = acc, *Q = Pr + (int64_t)nrand * pp, *Kt = Q + (int64_t)j->nq * pp;
    double *D = Kt + (int64_t)npar * npar, *trc2 = D + 3 * pp;

    assemble(m, g, comp, w);
    lambda_t_left(m, g, comp, w->Zg, w->Yt, n, n);   /* Yt = ΛᵀZᵀZ = Yᵀ */
    form_c(m, g, comp, w->Yt, w->C, n);
    if (LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', ni, w->C, ni) != 0) return EVM_ERR_NUMERIC;

    /* H = C⁻¹F and the three X-side sums (F = ΛᵀZᵀX into H first) */
    lambda_t_left(m, g, comp, w->ZX, w->H, n, p);
    if (p > 0) {
        cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, ni, p, 1.0,
                    w->C, ni, w->H, ni);                        /* R⁻¹F */
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, p, p, ni, 1.0, w->H, ni, w->H, ni,
                    1.0, D, p);                                 /* FᵀC⁻¹F */
        cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, ni, p, 1.0,
                    w->C, ni, w->H, ni);                        /* H = C⁻¹F */
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, p, p, ni, 1.0, w->H, ni, w->H, ni,
                    1.0, D + pp, p);                            /* HᵀH */
        memcpy(w->G2, w->H, sizeof(double) * (size_t)(n * p));
        cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, ni, p, 1.0,
                    w->C, ni, w->G2, ni);
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, p, p, ni, 1.0, w->G2, ni, w->G2, ni,
                    1.0, D + 2 * pp, p);                        /* HᵀC⁻¹H */
        /* B1 = ZᵀX - YH (in ZX) */
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, ni, p, ni, -1.0, w->Yt, ni, w->H, ni,
                    1.0, w->ZX, ni);
    }
    /* M1 = ZᵀZ - (R⁻¹Yᵀ)ᵀ(R⁻¹Yᵀ) (in Zg), then Yt becomes C⁻¹Yᵀ */
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, ni, ni, 1.0,
                w->C, ni, w->Yt, ni);
    cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, ni, ni, -1.0, w->Yt, ni, 1.0, w->Zg, ni);
    for (int64_t b = 0; b < n; b++)
        for (int64_t a = b + 1; a < n; a++) w->Zg[b + a * n] = w->Zg[a + b * n];
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, ni, ni, 1.0,
                w->C, ni, w->Yt, ni);
    const double *M1 = w->Zg, *Wy = w->Yt, *B1 = w->ZX;
    if (p > 0) {   /* B2 = B1 - (C⁻¹Yᵀ)ᵀH */
        memcpy(w->B2, B1, sizeof(double) * (size_t)(n * p));
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, ni, p, ni, -1.0, Wy, ni, w->H, ni, 1.0,
                    w->B2, ni);
    }
    /* tr C⁻² = ‖C⁻¹‖²_F */
    if (LAPACKE_dpotri_work(LAPACK_COL_MAJOR, 'L', ni, w->C, ni) != 0) return EVM_ERR_NUMERIC;
    double t2 = 0.0;
    for (int64_t b = 0; b < n; b++) {
        t2 += w->C[b + b * n] * w->C[b + b * n];
        for (int64_t a = b + 1; a < n; a++) t2 += 2.0 * w->C[a + b * n] * w->C[a + b * n];
    }
    *trc2 += t2;

    entries(m, g, comp, nrand, w);
    const int64_t *ea = w->ea, *eb = w->eb, *eo = w->ebeg;
    for (int s = 0; s < nrand; s++) {
        /* MD = M1 E_s B1 = Σ_(b,b') M1[:, b] B1[b', :] */
        memset(w->MD, 0, sizeof(double) * (size_t)(n * p));
        for (int64_t f = eo[s]; f < eo[s + 1]; f++) {
            const double *mcol = M1 + ea[f] * n;
            for (int c = 0; c < p; c++) {
                const double v = B1[eb[f] + c * n];
                if (v == 0.0) continue;
                double *md = w->MD + c * n;
                for (int64_t i = 0; i < n; i++) md[i] += mcol[i] * v;
            }
        }
        for (int r = 0; r <= s; r++) {
            double *Qrs = Q + evm__kr_qindex(r, s, npar) * pp, ktr = 0.0;
            for (int64_t f = eo[r]; f < eo[r + 1]; f++) {
                outer_rows(Qrs, p, 1.0, B1, ea[f], w->MD, eb[f], n);   /* B1ᵀE_r(M1E_sB1) */
                const int64_t a = ea[f], a2 = eb[f];
                for (int64_t h = eo[s]; h < eo[s + 1]; h++)
                    ktr += M1[eb[h] + a * n] * M1[a2 + ea[h] * n];
            }
            Kt[r + s * npar] += ktr;
            if (r != s) Kt[s + r * npar] += ktr;
        }
    }
    for (int r = 0; r < nrand; r++) {
        double *Prr = Pr + (int64_t)r * pp, *Qrs = Q + evm__kr_qindex(r, nrand, npar) * pp, ktr = 0.0;
        for (int64_t f = eo[r]; f < eo[r + 1]; f++) {
            const int64_t a = ea[f], a2 = eb[f];
            outer_rows(Prr, p, -1.0, B1, a, B1, a2, n);
            outer_rows(Qrs, p, 1.0, B1, a, w->B2, a2, n);
            double m2 = M1[a2 + a * n];   /* M2[a', a] = M1[a', a] - (C⁻¹Yᵀ)[:, a']·(C⁻¹Yᵀ)[:, a] */
            for (int64_t i = 0; i < n; i++) m2 -= Wy[i + a2 * n] * Wy[i + a * n];
            ktr += m2;
        }
        Kt[r + nrand * npar] += ktr;
        Kt[nrand + r * npar] += ktr;
    }
    return EVM_OK;
}

static void slice_task(void *arg, int task)
{
    kr_job *j = arg;
    const int64_t nc = j->g->ncomp;
    const int64_t c0 = nc * task / KR_SLICES, c1 = nc * (task + 1) / KR_SLICES;
    double *acc = j->acc + (int64_t)task * j->accsize;
    int64_t qmax = 0;
    for (int64_t c = c0; c < c1; c++)
        if (j->g->cq[c] > qmax) qmax = j->g->cq[c];
    j->status[task] = EVM_OK;
    if (c1 <= c0) return;
    kr_work w;
    if (work_alloc(&w, qmax, j->p, j->npar)) {
        j->status[task] = EVM_ERR_NOMEM;
        return;
    }
    for (int64_t c = c0; c < c1 && j->status[task] == EVM_OK; c++)
        j->status[task] = do_component(j, c, &w, acc);
    work_free(&w);
}

/* ---------------------------------------------------------------- all components */

/* The σ-side sums and scaling: from the accumulated unscaled sums to pbkrtest's P, Q, K. */
static void finish_sums(const evm_lmm *m, int npar, int nq, const double *acc, double *P,
                        double *Q, double *Kt)
{
    const int p = m->p, px = m->px, nrand = npar - 1;
    const int64_t pp = (int64_t)p * p;
    const double *Pr = acc, *Qa = Pr + (int64_t)nrand * pp, *Ka = Qa + (int64_t)nq * pp;
    const double *D = Ka + (int64_t)npar * npar, trc2 = D[3 * pp];
    const double s2 = m->sigma * m->sigma, s4 = s2 * s2, s6 = s4 * s2;
    int64_t qtot = 0;
    for (int k = 0; k < m->K; k++) qtot += m->t[k].n;
    memcpy(P, Pr, sizeof(double) * (size_t)(nrand * pp));
    memcpy(Q, Qa, sizeof(double) * (size_t)(nq * pp));
    memcpy(Kt, Ka, sizeof(double) * (size_t)npar * npar);
    double *Ps = P + (int64_t)nrand * pp, *Qss = Q + evm__kr_qindex(nrand, nrand, npar) * pp;
    for (int b = 0; b < p; b++)
        for (int a = 0; a < p; a++) {
            const int64_t i = a + (int64_t)b * p;
            const double xv2x = m->AXX[a + b * px] - D[i] - D[pp + i];   /* XᵀV⁻²X */
            Ps[i] = -xv2x;
            Qss[i] = xv2x - D[2 * pp + i];                               /* XᵀV⁻³X */
        }
    Kt[nrand + nrand * npar] = (double)m->mf->n - (double)qtot + trc2;   /* tr V⁻² */
    for (int64_t i = 0; i < npar * pp; i++) P[i] /= s4;
    for (int64_t i = 0; i < nq * pp; i++) Q[i] /= s6;
    for (int64_t i = 0; i < (int64_t)npar * npar; i++) Kt[i] /= s4;
}


int evm__kr_sums(const evm_lmm *m, int threads, double *P, double *Q, double *Kt, evm_ctx *c)
{
    const int p = m->p, npar = m->ntheta + 1, nq = npar * (npar + 1) / 2;
    const int64_t pp = (int64_t)p * p;
    kr_graph g;
    kr_job j = {m, &g, npar, nq, p, 0, NULL, NULL};
    int status = graph_build(m, &g);
    if (status) goto cleanup;
    if (g.qmax > INT_MAX || (g.qmax > 0 && g.qmax > KR_DENSE_MAX / g.qmax)) {
        status = evm__fail(c, EVM_ERR_MODEL,
                           "Kenward-Roger: %lld random-effects columns are linked through "
                           "crossed factors; their dense block would be too large",
                           (long long)g.qmax);
        goto cleanup;
    }
    j.accsize = (int64_t)(npar + nq + 3) * pp + (int64_t)npar * npar + 1;
    j.acc = evm__calloc((size_t)(KR_SLICES * j.accsize), sizeof(double));
    j.status = evm__calloc(KR_SLICES, sizeof(int));
    status = EVM_ERR_NOMEM;
    if (!j.acc || !j.status) goto cleanup;
    evm__parallel_for(KR_SLICES, threads, slice_task, &j);
    for (int s = 0; s < KR_SLICES; s++)
        if ((status = j.status[s]) != EVM_OK) goto cleanup;
    for (int s = 1; s < KR_SLICES; s++)   /* fixed order: independent of the threads */
        for (int64_t i = 0; i < j.accsize; i++) j.acc[i] += j.acc[s * j.accsize + i];
    finish_sums(m, npar, nq, j.acc, P, Q, Kt);
cleanup:
    if (status == EVM_ERR_NOMEM) evm__fail(c, status, "out of memory");
    else if (status == EVM_ERR_NUMERIC)
        evm__fail(c, status, "Kenward-Roger: a block of the random-effects covariance is not "
                             "positive definite");
    graph_free(&g);
    free(j.acc), free(j.status);
    return status;
}
