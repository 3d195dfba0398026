/* test_formula.c — formula parsing, term expansion, model frames (engine/formula).
 *
 * Expected column names, group names, level orders and codes come from R 4.x with lme4
 * 1.1-31, on the same 24-row data frame as make_frame() builds:
 *
 *   i <- 0:23
 *   d <- data.frame(y = sin(i + 1) * 3 + i * 0.1, x = cos(i * 0.7), z = (i %% 5) - 2,
 *     treat = i %% 2, cohort = 1 + i %/% 8,
 *     f = factor(c("p","q")[i %/% 12 + 1]), a = factor(c("a1","a2","a3")[i %% 3 + 1]),
 *     b = factor(c("b1","b2")[(i %/% 3) %% 2 + 1]), g = factor(i %% 4 + 1),
 *     Sector = factor(ifelse((i * 7) %% 5 < 2, "Public", "Catholic")),
 *     SES = ((i * 37) %% 11) / 5 - 1)
 *   d$`my var` <- i / 10
 *   colnames(model.matrix(y ~ SES*Sector, d))            # and the other formulas below
 *   r <- lFormula(y ~ (1|a/b), d, control = lmerControl(check.nobs.vs.nlev = "ignore",
 *          check.nobs.vs.nRE = "ignore"))$reTrms
 *   names(r$flist); r$cnms; levels(r$flist[["b:a"]]); lme4:::findbars(y ~ (1|a/b))
 *   as.integer(with(d, factor(b:a))) - 1
 *   X <- model.matrix(y ~ f:a + f:b, d); q <- qr(X, tol = 1e-7)
 *   colnames(X)[q$pivot[-(1:q$rank)]]                    # aliased columns: "fq:aa3"
 */
#include "check.h"
#include "evalmix/evalmix.h"
#include "formula/modelframe.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N 24

static evm_frame *make_frame(evm_ctx *c)
{
    double y[N], x[N], z[N], treat[N], cohort[N], ses[N], myvar[N], gnum[N];
    int32_t f[N], a[N], b[N], g[N], sector[N];
    for (int i = 0; i < N; i++) {
        y[i] = sin(i + 1) * 3 + i * 0.1;
        x[i] = cos(i * 0.7);
        z[i] = (i % 5) - 2;
        treat[i] = i % 2;
        cohort[i] = 1 + i / 8;
        ses[i] = ((i * 37) % 11) / 5.0 - 1;
        myvar[i] = i / 10.0;
        gnum[i] = i % 4 + 1;
        f[i] = i / 12;
        a[i] = i % 3;
        b[i] = (i / 3) % 2;
        g[i] = i % 4;
        sector[i] = (i * 7) % 5 < 2 ? 1 : 0;
    }
    static const char *const fl[] = {"p", "q"}, *const al[] = {"a1", "a2", "a3"},
                             *const bl[] = {"b1", "b2"}, *const gl[] = {"1", "2", "3", "4"},
                             *const sl[] = {"Catholic", "Public"};
    evm_frame *fr = evm_frame_create(N, c);
    int st = evm_frame_add_numeric(fr, "y", y, c);
    st |= evm_frame_add_numeric(fr, "x", x, c);
    st |= evm_frame_add_numeric(fr, "z", z, c);
    st |= evm_frame_add_numeric(fr, "treat", treat, c);
    st |= evm_frame_add_numeric(fr, "cohort", cohort, c);
    st |= evm_frame_add_factor(fr, "f", f, fl, 2, c);
    st |= evm_frame_add_factor(fr, "a", a, al, 3, c);
    st |= evm_frame_add_factor(fr, "b", b, bl, 2, c);
    st |= evm_frame_add_factor(fr, "g", g, gl, 4, c);
    st |= evm_frame_add_factor(fr, "Sector", sector, sl, 2, c);
    st |= evm_frame_add_numeric(fr, "SES", ses, c);
    st |= evm_frame_add_numeric(fr, "my var", myvar, c);
    st |= evm_frame_add_numeric(fr, "gnum", gnum, c);
    CHECK_INT(st, 0);
    return fr;
}

static evm__modelframe *build(const evm_frame *fr, const char *formula, const evm_lmm_opts *o,
                              evm_ctx *c)
{
    evm__modelframe *mf = NULL;
    evm_ctx_clear(c);
    int st = evm__modelframe_build(formula, fr, o, &mf, c);
    if (st != 0) fprintf(stderr, "  %s: %s\n", formula, evm_ctx_message(c));
    CHECK_INT(st, 0);
    return mf;
}

/* Build `formula` and compare the fixed-effect column names with R's model.matrix()
 * names; `dropped`: the one column R's qr(X, tol = 1e-7) finds aliased, or NULL. */
static void check_x(const evm_frame *fr, const char *formula, const char *dropped,
                    const char *const *names, int p, evm_ctx *c)
{
    evm__modelframe *mf = build(fr, formula, NULL, c);
    if (!mf) return;
    CHECK_INT(mf->p + mf->ndropped, p);
    CHECK_INT(mf->ndropped, dropped ? 1 : 0);
    if (dropped && mf->ndropped == 1) CHECK_STR(mf->dropped[0], dropped);
    for (int j = 0, k = 0; j < p && k < mf->p; j++)
        if (!dropped || strcmp(names[j], dropped) != 0) CHECK_STR(mf->xnames[k++], names[j]);
    evm__modelframe_free(&mf);
}

#define CHECK_XD(fr, formula, dropped, c, ...)                                             \
    do {                                                                                   \
        static const char *const nm_[] = {__VA_ARGS__};                                    \
        check_x(fr, formula, dropped, nm_, (int)(sizeof nm_ / sizeof nm_[0]), c);          \
    } while (0)
#define CHECK_X(fr, formula, c, ...) CHECK_XD(fr, formula, NULL, c, __VA_ARGS__)

static void test_fixed_names(const evm_frame *fr, evm_ctx *c)
{
    CHECK_X(fr, "y ~ SES*Sector", c, "(Intercept)", "SES", "SectorPublic", "SES:SectorPublic");
    CHECK_X(fr, "y ~ treat*factor(cohort)", c, "(Intercept)", "treat", "factor(cohort)2",
            "factor(cohort)3", "treat:factor(cohort)2", "treat:factor(cohort)3");
    CHECK_X(fr, "y ~ 0 + f", c, "fp", "fq");
    CHECK_X(fr, "y ~ x:f", c, "(Intercept)", "x:fp", "x:fq");
    CHECK_X(fr, "y ~ a/b", c, "(Intercept)", "aa2", "aa3", "aa1:bb2", "aa2:bb2", "aa3:bb2");
    CHECK_XD(fr, "y ~ f:a + f:b", "fq:aa3", c, "(Intercept)", "fp:aa1", "fq:aa1", "fp:aa2",
             "fq:aa2", "fp:aa3", "fq:aa3", "fp:bb2", "fq:bb2");
    CHECK_X(fr, "y ~ 0 + x + f + a", c, "x", "fp", "fq", "aa2", "aa3");
    CHECK_X(fr, "y ~ (x + a) * (z + f)", c, "(Intercept)", "x", "aa2", "aa3", "z", "fq", "x:z",
            "x:fq", "aa2:z", "aa3:z", "aa2:fq", "aa3:fq");
    CHECK_X(fr, "y ~ x:treat + f + x + f:x", c, "(Intercept)", "fq", "x", "x:treat", "x:fq");
    CHECK_X(fr, "y ~ `my var` + x", c, "(Intercept)", "`my var`", "x");
    CHECK_X(fr, "y ~ f*a*b", c, "(Intercept)", "fq", "aa2", "aa3", "bb2", "fq:aa2", "fq:aa3",
            "fq:bb2", "aa2:bb2", "aa3:bb2", "fq:aa2:bb2", "fq:aa3:bb2");
    CHECK_XD(fr, "y ~ 0 + x + x:f", "x:fq", c, "x", "x:fp", "x:fq");
    CHECK_X(fr, "y ~ (a + b + f)^2 - a:b", c, "(Intercept)", "aa2", "aa3", "bb2", "fq", "aa2:fq",
            "aa3:fq", "bb2:fq");
    CHECK_X(fr, "y ~ -1 + x + factor(g)", c, "x", "factor(g)1", "factor(g)2", "factor(g)3",
            "factor(g)4");
    CHECK_X(fr, "y ~ a * x - 1", c, "aa1", "aa2", "aa3", "x", "aa2:x", "aa3:x");
    /* factor() of a numeric column: levels in numeric order, labels as R prints them. */
    CHECK_X(fr, "y ~ factor(gnum)", c, "(Intercept)", "factor(gnum)2", "factor(gnum)3",
            "factor(gnum)4");
    /* Whitespace anywhere, backquoted syntactic names, +0, duplicates. */
    CHECK_X(fr, " y~x+`z`  +x\t+ 0\n", c, "x", "z");
    CHECK_X(fr, "y ~ (1|g)", c, "(Intercept)");
}

static void test_fixed_values(const evm_frame *fr, evm_ctx *c)
{
    /* R: model.matrix(y ~ treat*factor(cohort), d)[c(1, 9, 18, 24), ] */
    evm__modelframe *mf = build(fr, "y ~ treat*factor(cohort)", NULL, c);
    if (mf) {
        static const double want[4][6] = {{1, 0, 0, 0, 0, 0}, {1, 0, 1, 0, 0, 0},
                                          {1, 1, 0, 1, 0, 1}, {1, 1, 0, 1, 0, 1}};
        static const int rows[4] = {0, 8, 17, 23};
        for (int r = 0; r < 4; r++)
            for (int j = 0; j < 6; j++) CHECK_ABS(mf->X[j * mf->n + rows[r]], want[r][j], 0);
        CHECK_INT(mf->n, N);
        CHECK_STR(mf->drop_reason, "");
        CHECK_STR(mf->response, "y");
        CHECK_ABS(mf->y[5], sin(6) * 3 + 0.5, 0);
        CHECK(mf->w == NULL);
        evm__modelframe_free(&mf);
    }
    /* R: model.matrix(y ~ x:f + a, d)[c(1, 13, 24), ] */
    mf = build(fr, "y ~ x:f + a", NULL, c);
    if (mf) {
        CHECK_STR(mf->xnames[3], "x:fp");
        CHECK_ABS(mf->X[3 * N + 0], 1, 1e-15);
        CHECK_ABS(mf->X[4 * N + 12], -0.5192887, 1e-7);
        CHECK_ABS(mf->X[4 * N + 23], -0.9241328, 1e-7);
        CHECK_ABS(mf->X[2 * N + 23], 1, 0);
        CHECK_ABS(mf->X[3 * N + 23], 0, 0);
        evm__modelframe_free(&mf);
    }
}

static void check_levels(const evm__reterm *r, const char *const *lev, int nlev)
{
    CHECK_INT(r->nlevels, nlev);
    for (int l = 0; l < nlev && l < r->nlevels; l++) CHECK_STR(r->levels[l], lev[l]);
}

#define CHECK_LEVELS(r, ...)                                                               \
    do {                                                                                   \
        static const char *const lv_[] = {__VA_ARGS__};                                    \
        check_levels(r, lv_, (int)(sizeof lv_ / sizeof lv_[0]));                           \
    } while (0)

static void test_random_terms(const evm_frame *fr, evm_ctx *c)
{
    /* (x | g): one term, q = 2, columns as VarCorr prints them. */
    evm__modelframe *mf = build(fr, "y ~ x + (x | g)", NULL, c);
    if (mf) {
        CHECK_INT(mf->nre, 1);
        CHECK_STR(mf->re[0].group, "g");
        CHECK_INT(mf->re[0].q, 2);
        CHECK_STR(mf->re[0].colnames[0], "(Intercept)");
        CHECK_STR(mf->re[0].colnames[1], "x");
        CHECK_LEVELS(&mf->re[0], "1", "2", "3", "4");
        CHECK_INT(mf->re[0].codes[5], 1);
        CHECK_ABS(mf->re[0].Z[0 * N + 7], 1, 0);
        CHECK_ABS(mf->re[0].Z[1 * N + 7], cos(7 * 0.7), 0);
        CHECK_INT(mf->re[0].pos, 8);
        evm__modelframe_free(&mf);
    }
    /* (1 | a/b): findbars gives 1 | b:a, then 1 | a. */
    mf = build(fr, "y ~ (1|a/b)", NULL, c);
    if (mf) {
        CHECK_INT(mf->nre, 2);
        CHECK_STR(mf->re[0].group, "b:a");
        CHECK_STR(mf->re[1].group, "a");
        CHECK_LEVELS(&mf->re[0], "b1:a1", "b1:a2", "b1:a3", "b2:a1", "b2:a2", "b2:a3");
        CHECK_LEVELS(&mf->re[1], "a1", "a2", "a3");
        /* R: as.integer(with(d, factor(b:a))) - 1 */
        static const int want[N] = {0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5,
                                    0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5};
        for (int i = 0; i < N; i++) CHECK_INT(mf->re[0].codes[i], want[i]);
        CHECK_INT(mf->re[0].q, 1);
        CHECK_STR(mf->re[0].colnames[0], "(Intercept)");
        CHECK_ABS(mf->re[0].Z[3], 1, 0);
        /* Intercept-only terms share X's intercept column instead of a copy each. */
        CHECK(mf->re[0].Z == mf->X && mf->re[1].Z == mf->X);
        CHECK(mf->re[0].z_shared && mf->re[1].z_shared && mf->ones == NULL);
        evm__modelframe_free(&mf);
    }
    /* Without an intercept in X they share one column of ones; (x | g) keeps its own Z. */
    mf = build(fr, "y ~ 0 + x + (1|a/b) + (x|g)", NULL, c);
    if (mf) {
        CHECK(mf->ones != NULL && mf->re[0].Z == mf->ones && mf->re[1].Z == mf->ones);
        for (int i = 0; mf->ones && i < N; i++) CHECK_ABS(mf->ones[i], 1, 0);
        CHECK(!mf->re[2].z_shared && mf->re[2].Z != mf->ones);
        CHECK_ABS(mf->re[2].Z[N + 7], cos(7 * 0.7), 0);
        evm__modelframe_free(&mf);
    }
    /* (1 | g/a/b): groups b:(a:g), a:g, g; only combinations that occur. */
    mf = build(fr, "y ~ (1 | g/a/b)", NULL, c);
    if (mf) {
        CHECK_INT(mf->nre, 3);
        CHECK_STR(mf->re[0].group, "b:(a:g)");
        CHECK_STR(mf->re[1].group, "a:g");
        CHECK_STR(mf->re[2].group, "g");
        CHECK_LEVELS(&mf->re[0], "b1:a1:1", "b1:a1:3", "b1:a2:2", "b1:a2:4", "b1:a3:1",
                     "b1:a3:3", "b2:a1:2", "b2:a1:4", "b2:a2:1", "b2:a2:3", "b2:a3:2", "b2:a3:4");
        CHECK_INT(mf->re[1].nlevels, 12);
        CHECK_STR(mf->re[1].levels[1], "a1:2");
        /* R: as.integer(factor(with(d, b:(a:g)))) - 1 */
        static const int want[N] = {0, 2, 5, 7, 8, 10, 1, 3, 4, 6, 9, 11,
                                    0, 2, 5, 7, 8, 10, 1, 3, 4, 6, 9, 11};
        for (int i = 0; i < N; i++) CHECK_INT(mf->re[0].codes[i], want[i]);
        evm__modelframe_free(&mf);
    }
}

/* '||', interactions, crossed terms and numeric grouping columns. */
static void test_random_split(const evm_frame *fr, evm_ctx *c)
{
    evm__modelframe *mf;
    /* (x || g): (1 | g) then (0 + x | g). */
    mf = build(fr, "y ~ (x || g)", NULL, c);
    if (mf) {
        CHECK_INT(mf->nre, 2);
        CHECK_STR(mf->re[0].group, "g");
        CHECK_STR(mf->re[1].group, "g");
        CHECK_INT(mf->re[0].q, 1);
        CHECK_INT(mf->re[1].q, 1);
        CHECK_STR(mf->re[0].colnames[0], "(Intercept)");
        CHECK_STR(mf->re[1].colnames[0], "x");
        CHECK_ABS(mf->re[1].Z[3], cos(3 * 0.7), 0);
        CHECK_INT(mf->re[1].codes[7], 3);
        evm__modelframe_free(&mf);
    }
    /* (f || g): lme4 splits by term, so the factor's columns stay together. */
    mf = build(fr, "y ~ (f || g)", NULL, c);
    if (mf) {
        CHECK_INT(mf->nre, 2);
        CHECK_INT(mf->re[1].q, 2);
        CHECK_STR(mf->re[1].colnames[0], "fp");
        CHECK_STR(mf->re[1].colnames[1], "fq");
        CHECK_ABS(mf->re[1].Z[0], 1, 0);
        CHECK_ABS(mf->re[1].Z[N + 0], 0, 0);
        evm__modelframe_free(&mf);
    }
    /* (1 | a:b): first factor slowest. */
    mf = build(fr, "y ~ (1 | a:b)", NULL, c);
    if (mf) {
        CHECK_STR(mf->re[0].group, "a:b");
        CHECK_LEVELS(&mf->re[0], "a1:b1", "a1:b2", "a2:b1", "a2:b2", "a3:b1", "a3:b2");
        evm__modelframe_free(&mf);
    }
    /* Crossed terms; a numeric grouping column becomes a factor; factor(g). */
    mf = build(fr, "y ~ x + (1 | gnum) + (0 + x | a) + (1 | factor(gnum))", NULL, c);
    if (mf) {
        CHECK_INT(mf->nre, 3);
        CHECK_STR(mf->re[0].group, "gnum");
        CHECK_LEVELS(&mf->re[0], "1", "2", "3", "4");
        CHECK_STR(mf->re[1].group, "a");
        CHECK_STR(mf->re[1].colnames[0], "x");
        CHECK_STR(mf->re[2].group, "factor(gnum)");
        CHECK_INT(mf->re[2].codes[6], 2);
        evm__modelframe_free(&mf);
    }
    /* (x || a/b): expand '||' first, then the nesting. */
    mf = build(fr, "y ~ (x || a/b)", NULL, c);
    if (mf) {
        CHECK_INT(mf->nre, 4);
        static const char *const gr[] = {"b:a", "a", "b:a", "a"};
        static const char *const cn[] = {"(Intercept)", "(Intercept)", "x", "x"};
        for (int k = 0; k < 4 && k < mf->nre; k++) {
            CHECK_STR(mf->re[k].group, gr[k]);
            CHECK_STR(mf->re[k].colnames[0], cn[k]);
        }
        evm__modelframe_free(&mf);
    }
}

/* R: levels(factor(c(1e5, 2.5, 3, 123456, 0.1, 1e-5, -2, 1e15, 1e16, 0.0001234, 100))) */
static void test_numeric_levels(evm_ctx *c)
{
    static const double v[11] = {1e5, 2.5, 3, 123456, 0.1, 1e-5, -2, 1e15, 1e16, 0.0001234, 100};
    double y[N], num[N];
    for (int i = 0; i < N; i++) {
        y[i] = sin(i);
        num[i] = v[i % 11];
    }
    evm_frame *fr = evm_frame_create(N, c);
    evm_frame_add_numeric(fr, "y", y, c);
    evm_frame_add_numeric(fr, "v", num, c);
    evm__modelframe *mf = build(fr, "y ~ 1 + (1 | v)", NULL, c);
    if (mf) {
        CHECK_LEVELS(&mf->re[0], "-2", "1e-05", "0.0001234", "0.1", "2.5", "3", "100", "1e+05",
                     "123456", "1e+15", "1e+16");
        CHECK_INT(mf->re[0].codes[0], 7);
        CHECK_INT(mf->p, 1);
        evm__modelframe_free(&mf);
    }
    /* lme4 names a one-column grouping factor by the bare name, an interaction by its
     * deparsed form: lFormula(y ~ (1 | `my g`/b), d)$reTrms$flist -> "b:`my g`", "my g" */
    int32_t mg[N], b[N];
    for (int i = 0; i < N; i++) mg[i] = i % 3, b[i] = (i / 3) % 2;
    static const char *const ml[] = {"m1", "m2", "m3"}, *const bl[] = {"b1", "b2"};
    evm_frame_add_factor(fr, "my g", mg, ml, 3, c);
    evm_frame_add_factor(fr, "b", b, bl, 2, c);
    mf = build(fr, "y ~ `my g` + (1 | `my g`/b)", NULL, c);
    if (mf) {
        CHECK_STR(mf->xnames[1], "`my g`m2");
        CHECK_STR(mf->re[0].group, "b:`my g`");
        CHECK_STR(mf->re[1].group, "my g");
        CHECK_STR(mf->re[0].levels[0], "b1:m1");
        evm__modelframe_free(&mf);
    }
    /* No fixed effects at all is allowed (lme4 allows an empty X). */
    mf = build(fr, "y ~ 0 + (1 | v)", NULL, c);
    if (mf) {
        CHECK_INT(mf->p, 0);
        CHECK_INT(mf->nre, 1);
        evm__modelframe_free(&mf);
    }
    evm_ctx_clear(c);
    CHECK_INT(evm__modelframe_build(NULL, fr, NULL, &mf, c), EVM_ERR_ARG);
    CHECK(mf == NULL);
    evm_frame_destroy(&fr);
}

static void test_columns(evm_ctx *c)
{
    evm_colreq *req = NULL;
    int n = 0;
    evm_lmm_opts o;
    memset(&o, 0, sizeof o);
    o.weights = "wt";
    int st = evm_formula_columns("score ~ prior + factor(cohort) * treat + (1 | school/class) "
                                 "+ (prior || school)", &o, &req, &n, c);
    CHECK_INT(st, 0);
    static const char *const names[] = {"score", "prior", "cohort", "treat", "school",
                                        "class", "wt"};
    static const evm_as as[] = {EVM_AS_AUTO, EVM_AS_AUTO, EVM_AS_FACTOR, EVM_AS_AUTO,
                                EVM_AS_FACTOR, EVM_AS_FACTOR, EVM_AS_AUTO};
    CHECK_INT(n, 7);
    for (int k = 0; k < n && k < 7; k++) {
        CHECK_STR(req[k].name, names[k]);
        CHECK_INT(req[k].as, as[k]);
    }
    evm_colreq_free(&req, n);
    CHECK(req == NULL);
    o.cluster = "district";
    st = evm_formula_columns("score ~ prior + (1 | school)", &o, &req, &n, c);
    CHECK_INT(st, 0);
    CHECK_INT(n, 5);
    if (n == 5) {
        CHECK_STR(req[4].name, "district");
        CHECK_INT(req[4].as, EVM_AS_FACTOR);
    }
    evm_colreq_free(&req, n);
    /* The same column used as a number and as a factor is requested twice. */
    st = evm_formula_columns("y ~ year + (1 | year)", NULL, &req, &n, c);
    CHECK_INT(st, 0);
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK_STR(req[1].name, "year");
        CHECK_INT(req[1].as, EVM_AS_AUTO);
        CHECK_STR(req[2].name, "year");
        CHECK_INT(req[2].as, EVM_AS_FACTOR);
    }
    evm_colreq_free(&req, n);
    st = evm_formula_columns("y ~ x +", NULL, &req, &n, c);
    CHECK_INT(st, EVM_ERR_FORMULA);
    CHECK(req == NULL);
    CHECK_INT(n, 0);
}

static void test_missing_and_levels(evm_ctx *c)
{
    enum { M = 10 };
    const double nan = NAN;
    double score[M] = {1, 2, nan, 4, 5, 6, 7, 8, 9, 10};
    double prior[M] = {0.5, 1, 2, 3, nan, 1, 2, 3, 4, 5};
    int32_t school[M] = {0, 1, 2, 0, 1, -1, 0, 1, 0, 1};   /* "C" only in the dropped row 3 */
    int32_t sector[M] = {0, 1, 0, 1, 2, 1, 0, 1, 0, 1};    /* "Other" only in dropped row 5 */
    static const char *const sl[] = {"A", "B", "C", "Z"}, *const tl[] = {"Pub", "Cat", "Other"};
    evm_frame *fr = evm_frame_create(M, c);
    evm_frame_add_numeric(fr, "score", score, c);
    evm_frame_add_numeric(fr, "prior", prior, c);
    evm_frame_add_factor(fr, "School", school, sl, 4, c);
    evm_frame_add_factor(fr, "Sector", sector, tl, 3, c);
    evm__modelframe *mf = build(fr, "score ~ prior + Sector + (1 | School)", NULL, c);
    if (mf) {
        CHECK_INT(mf->n, 7);
        CHECK_INT(mf->rows_read, 10);
        CHECK_STR(mf->drop_reason, "missing values in: score, prior, School");
        CHECK_INT(mf->p, 3);
        CHECK_STR(mf->xnames[2], "SectorCat");
        CHECK_LEVELS(&mf->re[0], "A", "B");
        static const double y[7] = {1, 2, 4, 7, 8, 9, 10};
        static const int code[7] = {0, 1, 0, 0, 1, 0, 1};
        for (int i = 0; i < 7; i++) {
            CHECK_ABS(mf->y[i], y[i], 0);
            CHECK_INT(mf->re[0].codes[i], code[i]);
        }
        CHECK_ABS(mf->X[1 * 7 + 3], 2, 0);   /* prior of row 7 */
        evm__modelframe_free(&mf);
    }
    /* A cluster factor for robust SEs (opts.cluster) drops its missing rows too. */
    evm_lmm_opts o;
    memset(&o, 0, sizeof o);
    o.cluster = "School";
    mf = build(fr, "score ~ prior + Sector", &o, c);
    if (mf) {
        CHECK_INT(mf->n, 7);
        CHECK_STR(mf->drop_reason, "missing values in: score, prior, School");
        CHECK_STR(mf->cluster, "School");
        CHECK_INT(mf->ncluster, 2);
        CHECK_STR(mf->cluster_levels[1], "B");
        static const int code[7] = {0, 1, 0, 0, 1, 0, 1};
        for (int i = 0; i < 7; i++) CHECK_INT(mf->cluster_codes[i], code[i]);
        evm__modelframe_free(&mf);
    }
    o.cluster = "nope";
    evm_ctx_clear(c);
    CHECK_INT(evm__modelframe_build("score ~ prior", fr, &o, &mf, c), EVM_ERR_COLUMN);
    CHECK(strncmp(evm_ctx_message(c),
                  "cluster-robust SEs: cluster variable: unknown column 'nope' (columns: ", 70) == 0);
    /* A column that is not in the formula does not drop rows. */
    mf = build(fr, "prior ~ Sector", NULL, c);
    if (mf) {
        CHECK_INT(mf->n, 9);
        CHECK_STR(mf->drop_reason, "missing values in: prior");
        evm__modelframe_free(&mf);
    }
    /* No rows left. */
    double allnan[M];
    for (int i = 0; i < M; i++) allnan[i] = i % 2 ? nan : 1;
    evm_frame_add_numeric(fr, "half", allnan, c);
    evm_ctx_clear(c);
    CHECK_INT(evm__modelframe_build("half ~ prior + School", fr, NULL, &mf, c), EVM_ERR_MODEL);
    CHECK_STR(evm_ctx_message(c), "response 'half' is constant");
    CHECK(mf == NULL);
    evm_ctx_clear(c);
    evm_frame *f2 = evm_frame_create(M, c);
    double a1[M], a2[M];
    for (int i = 0; i < M; i++) a1[i] = i % 2 ? nan : 1, a2[i] = i % 2 ? 1 : nan;
    evm_frame_add_numeric(f2, "y", a1, c);
    evm_frame_add_numeric(f2, "x", a2, c);
    CHECK_INT(evm__modelframe_build("y ~ x", f2, NULL, &mf, c), EVM_ERR_MODEL);
    CHECK_STR(evm_ctx_message(c), "no rows left after dropping rows with missing values in: y, x");
    evm_frame_destroy(&f2);
    evm_frame_destroy(&fr);
}

static void test_ref(const evm_frame *fr, evm_ctx *c)
{
    evm_lmm_opts o;
    memset(&o, 0, sizeof o);
    const char *var[2] = {"Sector", "cohort"}, *lev[2] = {"Public", "3"};
    o.nref = 2;
    o.ref_var = var;
    o.ref_level = lev;
    evm__modelframe *mf = build(fr, "y ~ SES*Sector + factor(cohort) + (1 | Sector)", &o, c);
    if (mf) {
        static const char *const want[] = {"(Intercept)", "SES", "SectorCatholic",
                                           "factor(cohort)1", "factor(cohort)2",
                                           "SES:SectorCatholic"};
        CHECK_INT(mf->p, 6);
        for (int j = 0; j < 6 && j < mf->p; j++) CHECK_STR(mf->xnames[j], want[j]);
        /* row 1 (i = 0) is Public, cohort 1 */
        CHECK_ABS(mf->X[2 * N + 0], 0, 0);
        CHECK_ABS(mf->X[3 * N + 0], 1, 0);
        CHECK_ABS(mf->X[2 * N + 1], 1, 0);
        CHECK_LEVELS(&mf->re[0], "Public", "Catholic");
        evm__modelframe_free(&mf);
    }
    evm_ctx_clear(c);
    const char *bad_var[1] = {"Secter"}, *bad_lev[1] = {"Private"};
    o.nref = 1;
    o.ref_var = bad_var;
    o.ref_level = lev;
    CHECK_INT(evm__modelframe_build("y ~ Sector", fr, &o, &mf, c), EVM_ERR_VALUE);
    CHECK_STR(evm_ctx_message(c), "--ref Secter=Public: no variable 'Secter' in the formula");
    o.ref_var = var;
    o.ref_level = bad_lev;
    CHECK_INT(evm__modelframe_build("y ~ Sector", fr, &o, &mf, c), EVM_ERR_VALUE);
    CHECK_STR(evm_ctx_message(c), "--ref Sector=Private: factor 'Sector' has no level 'Private'");
    const char *num_var[1] = {"SES"};
    o.ref_var = num_var;
    o.ref_level = lev;
    CHECK_INT(evm__modelframe_build("y ~ SES", fr, &o, &mf, c), EVM_ERR_VALUE);
    CHECK_STR(evm_ctx_message(c), "--ref SES=Public: 'SES' is numeric, not a factor");
    CHECK(mf == NULL);
}

/* R: i <- 0:23; x <- cos(i * 0.7); z <- (i %% 5) - 2; e <- sin(i * 1.3)
 *    X <- cbind("(Intercept)" = 1, x, z, w = x + 2*z, x2 = 3*x, near = x + z + 1e-9*e,
 *               far = x + z + 1e-4*e); q <- qr(X, tol = 1e-7); colnames(X)[q$pivot[1:q$rank]]
 *    -> "(Intercept)" "x" "z" "far"
 *    yr <- 2015 + i %% 6: cbind(1, yr, yr^2, 3*yr - 2) keeps "(Intercept)" "yr" "yr2" */
static void test_aliased(evm_ctx *c)
{
    double y[N], x[N], z[N], w[N], x2[N], nr[N], fr_[N], yr[N], yr2[N], yrlin[N];
    int32_t f[N];
    for (int i = 0; i < N; i++) {
        double e = sin(i * 1.3);
        y[i] = sin(i + 1);
        x[i] = cos(i * 0.7);
        z[i] = (i % 5) - 2;
        w[i] = x[i] + 2 * z[i];
        x2[i] = 3 * x[i];
        nr[i] = x[i] + z[i] + 1e-9 * e;
        fr_[i] = x[i] + z[i] + 1e-4 * e;
        yr[i] = 2015 + i % 6;
        yr2[i] = yr[i] * yr[i];
        yrlin[i] = 3 * yr[i] - 2;
        f[i] = i / 12;
    }
    static const char *const fl[] = {"p", "q"}, *const hl[] = {"A", "B"};
    evm_frame *fr = evm_frame_create(N, c);
    evm_frame_add_numeric(fr, "y", y, c);
    evm_frame_add_numeric(fr, "x", x, c);
    evm_frame_add_numeric(fr, "z", z, c);
    evm_frame_add_numeric(fr, "w", w, c);
    evm_frame_add_numeric(fr, "x2", x2, c);
    evm_frame_add_numeric(fr, "near", nr, c);
    evm_frame_add_numeric(fr, "far", fr_, c);
    evm_frame_add_numeric(fr, "yr", yr, c);
    evm_frame_add_numeric(fr, "yr2", yr2, c);
    evm_frame_add_numeric(fr, "yrlin", yrlin, c);
    evm_frame_add_factor(fr, "f", f, fl, 2, c);
    evm_frame_add_factor(fr, "h", f, hl, 2, c);
    evm__modelframe *mf = build(fr, "y ~ x + z + w + x2 + near + far", NULL, c);
    if (mf) {
        CHECK_INT(mf->p, 4);
        CHECK_STR(mf->xnames[3], "far");
        CHECK_INT(mf->ndropped, 3);
        CHECK_STR(mf->dropped[0], "w");
        CHECK_STR(mf->dropped[2], "near");
        CHECK_ABS(mf->X[3 * N + 5], fr_[5], 0);   /* "far" moved to column 3 */
        CHECK_INT(evm_ctx_nwarnings(c), 1);
        CHECK_STR(evm_ctx_warning(c, 0), "fixed-effect model matrix is rank deficient so "
                                         "dropping 3 columns: w, x2, near");
        evm__modelframe_free(&mf);
    }
    mf = build(fr, "y ~ yr + yr2 + yrlin", NULL, c);
    if (mf) {
        CHECK_INT(mf->p, 3);
        CHECK_INT(mf->ndropped, 1);
        CHECK_STR(mf->dropped[0], "yrlin");
        CHECK_STR(evm_ctx_warning(c, 0), "fixed-effect model matrix is rank deficient so "
                                         "dropping 1 column: yrlin");
        evm__modelframe_free(&mf);
    }
    mf = build(fr, "y ~ f + h", NULL, c);
    if (mf) {
        CHECK_INT(mf->p, 2);
        CHECK_STR(mf->dropped[0], "hB");
        evm__modelframe_free(&mf);
    }
    evm_frame_destroy(&fr);
}

static void test_weights(const evm_frame *fr0, evm_ctx *c)
{
    evm_frame *fr = make_frame(c);
    double wt[N], bad[N], wn[N];
    for (int i = 0; i < N; i++) {
        wt[i] = 1 + i % 3;
        bad[i] = i == 5 ? 0 : 1;
        wn[i] = i == 2 ? NAN : 2;
    }
    evm_frame_add_numeric(fr, "wt", wt, c);
    evm_frame_add_numeric(fr, "bad", bad, c);
    evm_frame_add_numeric(fr, "wn", wn, c);
    evm_lmm_opts o;
    memset(&o, 0, sizeof o);
    o.weights = "wt";
    evm__modelframe *mf = build(fr, "y ~ x + (1 | g)", &o, c);
    if (mf) {
        CHECK(mf->w != NULL);
        if (mf->w) CHECK_ABS(mf->w[4], 2, 0);
        evm__modelframe_free(&mf);
    }
    o.weights = "wn";
    mf = build(fr, "y ~ x", &o, c);
    if (mf) {
        CHECK_INT(mf->n, N - 1);
        CHECK_STR(mf->drop_reason, "missing values in: wn");
        CHECK_ABS(mf->w[2], 2, 0);
        evm__modelframe_free(&mf);
    }
    o.weights = "bad";
    CHECK_INT(evm__modelframe_build("y ~ x", fr, &o, &mf, c), EVM_ERR_VALUE);
    CHECK_STR(evm_ctx_message(c), "--weights: column 'bad' must be positive: row 6 has 0");
    o.weights = "f";
    CHECK_INT(evm__modelframe_build("y ~ x", fr, &o, &mf, c), EVM_ERR_TYPE);
    CHECK_STR(evm_ctx_message(c), "--weights: column 'f' is not numeric");
    o.weights = "nope";
    CHECK_INT(evm__modelframe_build("y ~ x", fr, &o, &mf, c), EVM_ERR_COLUMN);
    CHECK(strncmp(evm_ctx_message(c), "--weights: unknown column 'nope' (columns: ", 43) == 0);
    CHECK(mf == NULL);
    (void)fr0;
    evm_frame_destroy(&fr);
}

/* `formula` must fail with `status` and exactly `msg`; for formula errors the caret is
 * under byte `pos` of the formula (the message ends with the formula). */
static void check_err(const evm_frame *fr, const char *formula, int status, const char *msg,
                      int pos, evm_ctx *c)
{
    evm__modelframe *mf = NULL;
    evm_ctx_clear(c);
    int st = evm__modelframe_build(formula, fr, NULL, &mf, c);
    if (st != status) fprintf(stderr, "  %s: %s\n", formula, evm_ctx_message(c));
    CHECK_INT(st, status);
    CHECK_STR(evm_ctx_message(c), msg);
    int want = pos < 0 ? -1 : (int)(strlen(msg) - strlen(formula)) + pos;
    CHECK_INT(evm_ctx_caret(c), want);
    CHECK(mf == NULL);
}

static void test_formula_errors(const evm_frame *fr, evm_ctx *c)
{
    const int F = EVM_ERR_FORMULA;
    check_err(fr, "", F, "--formula: empty formula: ", 0, c);
    check_err(fr, "   ", F, "--formula: empty formula:    ", 0, c);
    check_err(fr, "y + x", F, "--formula: missing '~' (write 'response ~ terms'): y + x", 5, c);
    check_err(fr, "~ x", F, "--formula: missing response before '~': ~ x", 0, c);
    check_err(fr, "y ~", F, "--formula: missing terms after '~': y ~", 2, c);
    check_err(fr, "y ~ x +", F, "--formula: trailing operator '+': y ~ x +", 6, c);
    check_err(fr, "y ~ x*", F, "--formula: trailing operator '*': y ~ x*", 5, c);
    check_err(fr, "y ~ (x + )", F, "--formula: nothing after '+': y ~ (x + )", 7, c);
    check_err(fr, "y ~ (x + z", F, "--formula: unmatched '(': y ~ (x + z", 4, c);
    check_err(fr, "y ~ x + z)", F, "--formula: unmatched ')': y ~ x + z)", 9, c);
    check_err(fr, "y ~ (1 | g", F, "--formula: unmatched '(': y ~ (1 | g", 4, c);
    check_err(fr, "y ~ ()", F, "--formula: empty parentheses: y ~ ()", 4, c);
    check_err(fr, "y ~ x | g", F, "--formula: '|' outside parentheses (write random terms as "
                                  "'(expr | group)'): y ~ x | g", 6, c);
    check_err(fr, "y ~ x + (1|)", F, "--formula: random term without grouping factor: "
                                     "y ~ x + (1|)", 10, c);
    check_err(fr, "y ~ (|g)", F, "--formula: random term without terms before '|': y ~ (|g)",
              5, c);
    check_err(fr, "y ~ x + log(z)", F, "--formula: unsupported function 'log': y ~ x + log(z)",
              8, c);
    check_err(fr, "y ~ I(x^2)", F, "--formula: unsupported function 'I': y ~ I(x^2)", 4, c);
    check_err(fr, "y ~ offset(x)", F, "--formula: unsupported function 'offset': y ~ offset(x)",
              4, c);
    check_err(fr, "log(y) ~ x", F, "--formula: unsupported function 'log': log(y) ~ x", 0, c);
    check_err(fr, "y ~ .", F, "--formula: '.' (all other columns) is not supported: y ~ .", 4, c);
    check_err(fr, "y ~ x z", F, "--formula: missing operator before 'z': y ~ x z", 6, c);
    check_err(fr, "y ~ x + 2", F, "--formula: a number in a formula must be 0 or 1: y ~ x + 2",
              8, c);
    check_err(fr, "y ~ x %in% a", F, "--formula: unexpected character '%': y ~ x %in% a", 6, c);
    check_err(fr, "y ~ `x", F, "--formula: unterminated '`': y ~ `x", 4, c);
    check_err(fr, "y ~ (a + b)^1", F, "--formula: invalid power (use a whole number >= 2, as in "
                                      "(a + b)^2): y ~ (a + b)^1", 11, c);
    check_err(fr, "y ~ x * (1 | g)", F, "--formula: a random term cannot be used with '*' (add it "
                                        "with '+'): y ~ x * (1 | g)", 11, c);
    check_err(fr, "y ~ x - (1 | g)", F, "--formula: a random term cannot be removed with '-': "
                                        "y ~ x - (1 | g)", 11, c);
    check_err(fr, "y ~ ((1 | g) | a)", F, "--formula: nested '|': y ~ ((1 | g) | a)", 8, c);
    check_err(fr, "y ~ (1 | a:b/g)", F, "--formula: a grouping factor must be a column name, "
                                        "'a:b' or 'a/b': y ~ (1 | a:b/g)", 9, c);
    check_err(fr, "y ~ (0 | g)", F, "--formula: random term has no columns (as in '(0 | g)'): "
                                    "y ~ (0 | g)", 7, c);
    check_err(fr, "y ~ x + y", F, "--formula: response 'y' also appears on the right-hand side: "
                                  "y ~ x + y", 8, c);
    check_err(fr, "y ~ factor(x, 2)", F, "--formula: factor() takes one column name: "
                                         "y ~ factor(x, 2)", 11, c);
    check_err(fr, "y ~ x ~ z", F, "--formula: unexpected '~': y ~ x ~ z", 6, c);
    check_err(fr, "factor(y) ~ x", F, "--formula: the response must be a column name: "
                                      "factor(y) ~ x", 0, c);
    check_err(fr, "y ~ x + scor", EVM_ERR_COLUMN,
              "--formula: unknown column 'scor' (columns: y, x, z, treat, cohort, f, a, b, ... "
              "(13 in all)): y ~ x + scor", 8, c);
    check_err(fr, "y ~ x + (1 | School)", EVM_ERR_COLUMN,
              "--formula: unknown column 'School' (columns: y, x, z, treat, cohort, f, a, b, ... "
              "(13 in all)): y ~ x + (1 | School)", 13, c);
    check_err(fr, "f ~ x", EVM_ERR_TYPE, "--formula: response 'f' is a factor, not a number: f ~ x",
              0, c);
    /* Deep nesting is refused, not a stack overflow. */
    char deep[1200];
    strcpy(deep, "y ~ ");
    for (int k = 0; k < 500; k++) strcat(deep, "(");
    strcat(deep, "x");
    for (int k = 0; k < 500; k++) strcat(deep, ")");
    evm__modelframe *mf = NULL;
    CHECK_INT(evm__modelframe_build(deep, fr, NULL, &mf, c), F);
    CHECK(evm_ctx_caret(c) == -1 || evm_ctx_caret(c) < 1023);
}

static void test_model_errors(evm_ctx *c)
{
    double y[N], x[N], k[N];
    int32_t one[N], id[N], a[N], g[N], b[N], f[N];
    char idl[N][8];
    const char *idp[N];
    for (int i = 0; i < N; i++) {
        y[i] = sin(i + 1);
        x[i] = cos(i * 0.7);
        k[i] = 3;
        one[i] = 0;
        id[i] = i;
        snprintf(idl[i], sizeof idl[i], "s%d", i + 1);
        idp[i] = idl[i];
        a[i] = i % 3;
        g[i] = i % 4;
        b[i] = (i / 3) % 2;
        f[i] = i / 12;
    }
    static const char *const ol[] = {"only"}, *const al[] = {"a1", "a2", "a3"},
                             *const gl[] = {"1", "2", "3", "4"}, *const bl[] = {"b1", "b2"},
                             *const fl[] = {"p", "q"};
    evm_frame *fr = evm_frame_create(N, c);
    evm_frame_add_numeric(fr, "y", y, c);
    evm_frame_add_numeric(fr, "x", x, c);
    evm_frame_add_numeric(fr, "k", k, c);
    evm_frame_add_factor(fr, "one", one, ol, 1, c);
    evm_frame_add_factor(fr, "id", id, idp, N, c);
    evm_frame_add_factor(fr, "a", a, al, 3, c);
    evm_frame_add_factor(fr, "g", g, gl, 4, c);
    evm_frame_add_factor(fr, "b", b, bl, 2, c);
    evm_frame_add_factor(fr, "f", f, fl, 2, c);
    const int M = EVM_ERR_MODEL;
    check_err(fr, "y ~ x + (1 | one)", M, "grouping factor 'one' has only 1 level", -1, c);
    check_err(fr, "y ~ x + (1 | id)", M, "grouping factor 'id' has 24 levels for 24 "
              "observations: the number of levels must be less than the number of observations",
              -1, c);
    check_err(fr, "y ~ (x | a:g)", M, "number of observations (=24) <= number of random effects "
              "(=24) for term (x | a:g); the random-effects parameters and the residual variance "
              "are probably unidentifiable", -1, c);
    check_err(fr, "k ~ x", M, "response 'k' is constant", -1, c);
    check_err(fr, "y ~ a*g*b*f", M, "fewer rows (24) than fixed-effect columns (48)", -1, c);
    check_err(fr, "y ~ x + one", M, "factor 'one' has only 1 level in the rows used", -1, c);
    evm_frame_destroy(&fr);
}

/* A school/classroom frame: nschool schools, classes labelled c1..cK within each school
 * (so classroom:school is an interaction), and the usual covariates. */
static evm_frame *big_frame(int64_t n, int nschool, int nclass, evm_ctx *c)
{
    double *y = malloc((size_t)n * sizeof *y), *prior = malloc((size_t)n * sizeof *prior);
    double *treat = malloc((size_t)n * sizeof *treat), *fem = malloc((size_t)n * sizeof *fem);
    double *frl = malloc((size_t)n * sizeof *frl);
    int32_t *school = malloc((size_t)n * sizeof *school), *cls = malloc((size_t)n * sizeof *cls);
    int32_t *grade = malloc((size_t)n * sizeof *grade);
    char **sl = malloc((size_t)nschool * sizeof *sl), **cl = malloc((size_t)nclass * sizeof *cl);
    static const char *const gl[] = {"3", "4", "5"};
    uint64_t s = 12345;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        school[i] = (int32_t)((s >> 33) % (uint64_t)nschool);
        cls[i] = (int32_t)((s >> 20) % (uint64_t)nclass);
        grade[i] = (int32_t)((s >> 12) % 3);
        prior[i] = (double)((s >> 40) % 1000) / 10.0;
        treat[i] = (double)(school[i] % 2);
        fem[i] = (double)((s >> 7) & 1);
        frl[i] = (double)((s >> 9) & 1);
        y[i] = 0.5 * prior[i] + 2 * treat[i] + (double)((s >> 50) % 100) / 10.0;
    }
    for (int k = 0; k < nschool; k++) {
        sl[k] = malloc(16);
        snprintf(sl[k], 16, "s%04d", k);
    }
    for (int k = 0; k < nclass; k++) {
        cl[k] = malloc(16);
        snprintf(cl[k], 16, "c%03d", k);
    }
    evm_frame *fr = evm_frame_create(n, c);
    int st = evm_frame_add_numeric(fr, "score", y, c);
    st |= evm_frame_add_numeric(fr, "prior", prior, c);
    st |= evm_frame_add_numeric(fr, "treat", treat, c);
    st |= evm_frame_add_numeric(fr, "female", fem, c);
    st |= evm_frame_add_numeric(fr, "frl", frl, c);
    st |= evm_frame_add_factor(fr, "grade", grade, gl, 3, c);
    st |= evm_frame_add_factor(fr, "school", school, (const char *const *)sl, nschool, c);
    st |= evm_frame_add_factor(fr, "classroom", cls, (const char *const *)cl, nclass, c);
    CHECK_INT(st, 0);
    for (int k = 0; k < nschool; k++) free(sl[k]);
    for (int k = 0; k < nclass; k++) free(cl[k]);
    free(sl), free(cl), free(y), free(prior), free(treat), free(fem), free(frl);
    free(school), free(cls), free(grade);
    return fr;
}

static const char *BIG_FORMULA =
    "score ~ prior*treat + female + frl + grade + (1 | school/classroom)";

/* Interaction codes on a larger frame (the counting-sort path): levels strictly increasing
 * in (classroom, school) order and every row's label matching its own school and class. */
static void test_big_groups(evm_ctx *c)
{
    int64_t n = 100000;
    evm_frame *fr = big_frame(n, 2000, 500, c);
    evm__modelframe *mf = build(fr, BIG_FORMULA, NULL, c);
    if (mf) {
        CHECK_INT(mf->p, 8);
        CHECK_STR(mf->xnames[7], "prior:treat");
        CHECK_STR(mf->re[0].group, "classroom:school");
        const evm__reterm *r = &mf->re[0];
        int bad = 0;
        for (int64_t l = 1; l < r->nlevels; l++) bad += strcmp(r->levels[l - 1], r->levels[l]) >= 0;
        CHECK_INT(bad, 0);
        int col_s = evm_frame_find(fr, "school", EVM_COL_FACTOR);
        int col_c = evm_frame_find(fr, "classroom", EVM_COL_FACTOR);
        const int32_t *sc = evm_frame_codes(fr, col_s), *cc = evm_frame_codes(fr, col_c);
        for (int64_t i = 0; i < n; i++) {
            char want[40];
            snprintf(want, sizeof want, "%s:%s", evm_frame_level(fr, col_c, cc[i]),
                     evm_frame_level(fr, col_s, sc[i]));
            bad += strcmp(r->levels[r->codes[i]], want) != 0;
        }
        CHECK_INT(bad, 0);
        CHECK_INT(mf->re[1].nlevels, 2000);
        evm__modelframe_free(&mf);
    }
    evm_frame_destroy(&fr);
}

static double now(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* `test_formula bench [reps]`: 5,000,000 rows, p = 8, (1 | school/classroom).  The first
 * build in a fresh process also pays the first touch of fresh memory (on virtual machines
 * several times the steady-state cost); later repetitions show the steady state. */
static void bench(int argc_reps, evm_ctx *c)
{
    int64_t n = 5000000;
    evm_frame *fr = big_frame(n, 2000, 50, c);
    evm__modelframe *mf = NULL;
    int reps = argc_reps > 0 ? argc_reps : 3;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = now(CLOCK_MONOTONIC), u0 = now(CLOCK_PROCESS_CPUTIME_ID);
        int st = evm__modelframe_build(BIG_FORMULA, fr, NULL, &mf, c);
        double t1 = now(CLOCK_MONOTONIC), u1 = now(CLOCK_PROCESS_CPUTIME_ID);
        CHECK_INT(st, 0);
        if (mf)
            printf("bench: n = %lld, p = %d, groups %lld and %lld levels: %.3f s (cpu %.3f s)\n",
                   (long long)mf->n, mf->p, (long long)mf->re[0].nlevels,
                   (long long)mf->re[1].nlevels, t1 - t0, u1 - u0);
        evm__modelframe_free(&mf);
    }
    evm_frame_destroy(&fr);
}

int main(int argc, char **argv)
{
    evm_ctx *c = evm_ctx_create();
    if (argc > 1 && strcmp(argv[1], "bench") == 0) {
        bench(argc > 2 ? atoi(argv[2]) : 0, c);
        evm_ctx_destroy(&c);
        return check_summary("test_formula bench");
    }
    evm_frame *fr = make_frame(c);
    test_fixed_names(fr, c);
    test_fixed_values(fr, c);
    test_random_terms(fr, c);
    test_random_split(fr, c);
    test_numeric_levels(c);
    test_columns(c);
    test_missing_and_levels(c);
    test_ref(fr, c);
    test_aliased(c);
    test_weights(fr, c);
    test_formula_errors(fr, c);
    test_model_errors(c);
    test_big_groups(c);
    evm_frame_destroy(&fr);
    evm_ctx_destroy(&c);
    return check_summary("test_formula");
}
