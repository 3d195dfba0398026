/* varprep.c — from formula variables to data: the frame column of each variable, the
 * rows without missing values, --ref relevelling and dropping of unused factor levels
 * (lme4's model.frame(drop.unused.levels = TRUE)), and the gathered values of the rows
 * used.  The frame is never modified. */
#include "formula_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ columns */
/* "a, b, c, ... (12 in all)": the frame's columns, for unknown-column messages. */
static void column_list(const evm__prep *P, char *list, size_t size)
{
    int ncol = evm_frame_ncols(P->f), shown = 0;
    list[0] = '\0';
    for (int k = 0; k < ncol && shown < 8; k++, shown++) {
        size_t len = strlen(list);
        snprintf(list + len, size - len, "%s%s", k ? ", " : "", evm_frame_name(P->f, k));
    }
    if (ncol > shown) {
        size_t len = strlen(list);
        snprintf(list + len, size - len, ", ... (%d in all)", ncol);
    }
}

static int unknown_column(evm__prep *P, const evm__fvar *v)
{
    char list[256];
    column_list(P, list, sizeof list);
    return evm__formula_fail(P->c, EVM_ERR_COLUMN, P->F->text, v->pos,
                             "unknown column '%s' (columns: %s)", v->name, list);
}

/* An option's column that the frame does not have; what names the option in messages. */
static int unknown_option_column(evm__prep *P, const char *what, const char *name)
{
    char list[256];
    column_list(P, list, sizeof list);
    return evm__fail(P->c, EVM_ERR_COLUMN, "%s: unknown column '%s' (columns: %s)", what, name,
                     list);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A number as R's as.character() prints it: up to 15 significant digits, fixed or
 * scientific notation whichever is narrower (fixed on ties), e.g. 2, 2.5, 1e+05, 123456. */
static void format_r(double x, char *buf, size_t size)
{
    char ref[40], tmp[40];
    if (x == 0) {
        snprintf(buf, size, "0");
        return;
    }
    snprintf(ref, sizeof ref, "%.15g", x);
    double target = strtod(ref, NULL);
    int sig = 1;
    for (; sig < 15; sig++) {
        snprintf(tmp, sizeof tmp, "%.*e", sig - 1, x);
        if (strtod(tmp, NULL) == target) break;
    }
    snprintf(tmp, sizeof tmp, "%.*e", sig - 1, x);
    int e10 = atoi(strchr(tmp, 'e') + 1);
    int neg = x < 0, rgt = sig - 1 - e10 > 0 ? sig - 1 - e10 : 0;
    int wfixed = neg + (e10 >= 0 ? e10 + 1 : 1) + (rgt > 0 ? rgt + 1 : 0);
    int wsci = neg + (sig > 1 ? sig + 1 : 1) + (e10 >= 100 || e10 <= -100 ? 5 : 4);
    if (wfixed <= wsci) snprintf(buf, size, "%.*f", rgt, x);
    else snprintf(buf, size, "%s", tmp);
}

/* factor(x) of a numeric column: levels are the distinct values in numeric order. */
static int numeric_to_factor(evm__prep *P, evm__vprep *vp, const double *x)
{
    int64_t n = P->nrows, m = 0;
    double *u = evm__malloc((size_t)n, sizeof *u);
    vp->own_code = evm__malloc((size_t)n, sizeof *vp->own_code);
    if (!u || !vp->own_code) goto nomem;
    for (int64_t i = 0; i < n; i++)
        if (!isnan(x[i])) u[m++] = x[i];
    qsort(u, (size_t)m, sizeof *u, cmp_double);
    int64_t L = 0;
    for (int64_t i = 0; i < m; i++)
        if (L == 0 || u[i] != u[L - 1]) u[L++] = u[i];
    if (L > INT32_MAX) goto nomem;
    vp->own_label = evm__calloc((size_t)L, sizeof *vp->own_label);
    if (!vp->own_label) goto nomem;
    vp->fnlev = (int32_t)L;
    for (int64_t k = 0; k < L; k++) {
        char buf[40];
        format_r(u[k], buf, sizeof buf);
        if (!(vp->own_label[k] = evm__strdup(buf))) goto nomem;
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t c = -1;
        if (!isnan(x[i])) {
            int64_t lo = 0, hi = L - 1;
            while (lo < hi) {
                int64_t mid = (lo + hi) / 2;
                if (u[mid] < x[i]) lo = mid + 1;
                else hi = mid;
            }
            c = (int32_t)lo;
        }
        vp->own_code[i] = c;
    }
    vp->fcode = vp->own_code;
    vp->flabel = (const char *const *)vp->own_label;
    free(u);
    return EVM_OK;
nomem:
    free(u);
    return evm__fail(P->c, EVM_ERR_NOMEM, "out of memory making a factor of column '%s'",
                     evm_frame_name(P->f, vp->col));
}

/* A factor variable read from frame column fac, or made from numeric column num. */
static int resolve_factor(evm__prep *P, evm__vprep *vp, int fac, int num)
{
    vp->is_factor = 1;
    vp->col = fac >= 0 ? fac : num;
    if (fac < 0) return numeric_to_factor(P, vp, evm_frame_numeric(P->f, num));
    vp->fcode = evm_frame_codes(P->f, fac);
    vp->fnlev = evm_frame_nlevels(P->f, fac);
    /* Labels are borrowed from the frame through a pointer table of our own. */
    vp->own_label = evm__calloc((size_t)vp->fnlev, sizeof *vp->own_label);
    if (!vp->own_label) return evm__fail(P->c, EVM_ERR_NOMEM, "out of memory");
    for (int32_t k = 0; k < vp->fnlev; k++)
        vp->own_label[k] = (char *)evm_frame_level(P->f, fac, k);
    vp->flabel = (const char *const *)vp->own_label;
    return EVM_OK;
}

static int resolve_var(evm__prep *P, int i)
{
    const evm__fvar *v = &P->F->var[i];
    evm__vprep *vp = &P->vp[i];
    int fac = evm_frame_find(P->f, v->name, EVM_COL_FACTOR);
    int num = evm_frame_find(P->f, v->name, EVM_COL_NUMERIC);
    vp->ref = -1;
    if (fac < 0 && num < 0) return unknown_column(P, v);
    if (i == 0 && num < 0)
        return evm__formula_fail(P->c, EVM_ERR_TYPE, P->F->text, v->pos,
                                 "response '%s' is a factor, not a number", v->name);
    if (i != 0 && (v->as_factor || num < 0)) return resolve_factor(P, vp, fac, num);
    vp->col = num;
    return EVM_OK;
}

static int resolve_cluster(evm__prep *P, const char *name)
{
    int fac = evm_frame_find(P->f, name, EVM_COL_FACTOR);
    int num = evm_frame_find(P->f, name, EVM_COL_NUMERIC);
    P->cvp.ref = -1;
    if (fac < 0 && num < 0)
        return unknown_option_column(P, "cluster-robust SEs: cluster variable", name);
    P->has_cluster = 1;
    return resolve_factor(P, &P->cvp, fac, num);
}

static int resolve_ref(evm__prep *P, const char *var, const char *level)
{
    int found = 0, numeric = 0;
    if (!var || !level) return evm__fail(P->c, EVM_ERR_ARG, "--ref: missing variable or level");
    for (int i = 0; i < P->F->nvars; i++) {
        if (strcmp(P->F->var[i].name, var) != 0) continue;
        evm__vprep *vp = &P->vp[i];
        if (!vp->is_factor) {
            numeric = 1;
            continue;
        }
        found = 1;
        vp->ref = -1;
        for (int32_t k = 0; k < vp->fnlev && vp->ref < 0; k++)
            if (strcmp(vp->flabel[k], level) == 0) vp->ref = k;
        if (vp->ref < 0)
            return evm__fail(P->c, EVM_ERR_VALUE, "--ref %s=%s: factor '%s' has no level '%s'",
                             var, level, var, level);
    }
    if (!found && numeric)
        return evm__fail(P->c, EVM_ERR_VALUE, "--ref %s=%s: '%s' is numeric, not a factor",
                         var, level, var);
    if (!found)
        return evm__fail(P->c, EVM_ERR_VALUE, "--ref %s=%s: no variable '%s' in the formula",
                         var, level, var);
    return EVM_OK;
}

int evm__prep_columns(evm__prep *P)
{
    int st = EVM_OK;
    P->nrows = evm_frame_nrows(P->f);
    P->wcol = -1;
    P->vp = evm__calloc((size_t)P->F->nvars, sizeof *P->vp);
    P->mv = evm__calloc((size_t)P->F->nvars, sizeof *P->mv);
    if (!P->vp || !P->mv) return evm__fail(P->c, EVM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < P->F->nvars && st == EVM_OK; i++) st = resolve_var(P, i);
    const char *wname = P->o ? P->o->weights : NULL;
    if (st == EVM_OK && wname) {
        P->wcol = evm_frame_find(P->f, wname, EVM_COL_NUMERIC);
        if (P->wcol < 0 && evm_frame_find(P->f, wname, -1) >= 0)
            st = evm__fail(P->c, EVM_ERR_TYPE, "--weights: column '%s' is not numeric", wname);
        else if (P->wcol < 0)
            st = unknown_option_column(P, "--weights", wname);
    }
    if (st == EVM_OK && P->o && P->o->cluster) st = resolve_cluster(P, P->o->cluster);
    if (st == EVM_OK && P->o && P->o->nref > 0 && (!P->o->ref_var || !P->o->ref_level))
        st = evm__fail(P->c, EVM_ERR_ARG, "--ref: nref > 0 but no variables or levels given");
    for (int r = 0; st == EVM_OK && P->o && r < P->o->nref; r++)
        st = resolve_ref(P, P->o->ref_var[r], P->o->ref_level[r]);
    return st;
}

/* ------------------------------------------------------------------ rows */
static void mark_missing(const evm__prep *P, const evm__vprep *vp, uint8_t *miss, int *any)
{
    *any = 0;
    if (vp->is_factor) {
        for (int64_t r = 0; r < P->nrows; r++)
            if (vp->fcode[r] < 0) miss[r] = 1, *any = 1;
    } else {
        const double *x = evm_frame_numeric(P->f, vp->col);
        for (int64_t r = 0; r < P->nrows; r++)
            if (isnan(x[r])) miss[r] = 1, *any = 1;
    }
}

/* Append `name` to the comma-separated reason unless it is there already. */
static int reason_add(char **reason, const char *name)
{
    const char *s = *reason;
    size_t len = strlen(name);
    for (const char *p = s; p && (p = strstr(p, name)); p += len)
        if ((p == s || p[-1] == ' ') && (p[len] == ',' || p[len] == '\0')) return EVM_OK;
    char *t = evm__asprintf("%s%s%s", s, *s ? ", " : "", name);
    if (!t) return EVM_ERR_NOMEM;
    free(*reason);
    *reason = t;
    return EVM_OK;
}

static int select_rows(evm__prep *P, char **names)
{
    int st = EVM_OK, any;
    uint8_t *miss = evm__calloc((size_t)P->nrows, 1);
    if (!miss) return EVM_ERR_NOMEM;
    for (int i = 0; i < P->F->nvars && st == EVM_OK; i++) {
        mark_missing(P, &P->vp[i], miss, &any);
        if (any) st = reason_add(names, P->F->var[i].name);
    }
    if (st == EVM_OK && P->has_cluster) {
        mark_missing(P, &P->cvp, miss, &any);
        if (any) st = reason_add(names, P->o->cluster);
    }
    if (st == EVM_OK && P->wcol >= 0) {
        const double *w = evm_frame_numeric(P->f, P->wcol);
        int hit = 0;
        for (int64_t r = 0; r < P->nrows; r++)
            if (isnan(w[r])) miss[r] = 1, hit = 1;
        if (hit) st = reason_add(names, P->o->weights);
    }
    int64_t n = 0;
    for (int64_t r = 0; r < P->nrows; r++) n += !miss[r];
    P->n = n;
    if (st == EVM_OK && n < P->nrows) {
        P->rows = evm__malloc((size_t)(n ? n : 1), sizeof *P->rows);
        if (!P->rows) st = EVM_ERR_NOMEM;
        for (int64_t r = 0, k = 0; st == EVM_OK && r < P->nrows; r++)
            if (!miss[r]) P->rows[k++] = r;
    }
    free(miss);
    return st;
}

static double *gather_numeric(const evm__prep *P, const double *x)
{
    double *g = evm__malloc((size_t)(P->n ? P->n : 1), sizeof *g);
    if (!g) return NULL;
    if (!P->rows) memcpy(g, x, (size_t)P->n * sizeof *g);
    else
        for (int64_t i = 0; i < P->n; i++) g[i] = x[P->rows[i]];
    return g;
}

/* Level order after --ref (the reference first, the others in frame order), levels that
 * do not occur in the rows used dropped; then the codes of the rows used. */
static int prepare_factor(evm__prep *P, evm__vprep *vp, evm__mvar *mv)
{
    int32_t L = vp->fnlev;
    int64_t *count = evm__calloc((size_t)L + 1, sizeof *count);
    vp->map = evm__malloc((size_t)L + 1, sizeof *vp->map);
    vp->label = evm__malloc((size_t)L + 1, sizeof *vp->label);
    if (!count || !vp->map || !vp->label) {
        free(count);
        return EVM_ERR_NOMEM;
    }
    const int32_t *fc = vp->fcode;
    const int64_t *rows = P->rows;
    if (rows)
        for (int64_t i = 0; i < P->n; i++) count[fc[rows[i]]]++;
    else
        for (int64_t i = 0; i < P->n; i++) count[fc[i]]++;
    int32_t next = 0;
    for (int32_t k = -1; k < L; k++) {
        int32_t lev = k < 0 ? vp->ref : k;
        if (lev < 0 || (k >= 0 && lev == vp->ref)) continue;
        vp->map[lev] = count[lev] ? next : -1;
        if (count[lev]) vp->label[next++] = vp->flabel[lev];
    }
    free(count);
    mv->is_factor = 1;
    mv->nlev = next;
    mv->label = vp->label;
    int identity = !rows;
    for (int32_t k = 0; k < L && identity; k++) identity = vp->map[k] == k;
    if (identity) {   /* every row, every level, frame order: the frame's codes will do */
        mv->code = fc;
        return EVM_OK;
    }
    vp->code = evm__malloc((size_t)(P->n ? P->n : 1), sizeof *vp->code);
    if (!vp->code) return EVM_ERR_NOMEM;
    if (rows)
        for (int64_t i = 0; i < P->n; i++) vp->code[i] = vp->map[fc[rows[i]]];
    else
        for (int64_t i = 0; i < P->n; i++) vp->code[i] = vp->map[fc[i]];
    mv->code = vp->code;
    return EVM_OK;
}

static int fail_weight(evm__prep *P, int64_t i)
{
    int64_t row = P->rows ? P->rows[i] : i;
    return evm__fail(P->c, EVM_ERR_VALUE,
                     "--weights: column '%s' must be positive: row %lld has %g",
                     P->o->weights, (long long)row + 1, P->w[i]);
}

int evm__prep_rows(evm__prep *P)
{
    char *names = evm__strdup("");
    int st = names ? select_rows(P, &names) : EVM_ERR_NOMEM;
    if (st < 0) goto nomem;
    P->drop_reason = P->n < P->nrows ? evm__asprintf("missing values in: %s", names)
                                     : evm__strdup("");
    if (!P->drop_reason) goto nomem;
    if (P->n == 0) {
        st = P->nrows == 0 ? evm__fail(P->c, EVM_ERR_MODEL, "the data have no rows")
                           : evm__fail(P->c, EVM_ERR_MODEL, "no rows left after dropping "
                                       "rows with %s", P->drop_reason);
        goto cleanup;
    }
    if (P->wcol >= 0) {
        if (!(P->w = gather_numeric(P, evm_frame_numeric(P->f, P->wcol)))) goto nomem;
        for (int64_t i = 0; i < P->n; i++)
            if (!(P->w[i] > 0) || isinf(P->w[i])) {
                st = fail_weight(P, i);
                goto cleanup;
            }
    }
    for (int i = 0; i < P->F->nvars; i++) {
        evm__vprep *vp = &P->vp[i];
        evm__mvar *mv = &P->mv[i];
        mv->is_factor = vp->is_factor;
        if (!vp->is_factor) {
            const double *x = evm_frame_numeric(P->f, vp->col);
            /* The response is copied (the model frame owns y); other columns are read in
             * place when every row is used. */
            if (i == 0 || P->rows) {
                if (!(vp->x = gather_numeric(P, x))) goto nomem;
                x = vp->x;
            }
            mv->x = x;
            continue;
        }
        if (prepare_factor(P, vp, mv) < 0) goto nomem;
    }
    if (P->has_cluster && prepare_factor(P, &P->cvp, &P->cmv) < 0) goto nomem;
    goto cleanup;
nomem:
    st = evm__fail(P->c, EVM_ERR_NOMEM, "out of memory preparing the model frame");
cleanup:
    free(names);
    return st;
}

static void vprep_free(evm__vprep *vp)
{
    if (vp->own_code)
        for (int32_t k = 0; k < vp->fnlev; k++) free(vp->own_label[k]);
    free(vp->own_label);
    free(vp->own_code);
    free(vp->map);
    free(vp->label);
    free(vp->x);
    free(vp->code);
}

void evm__prep_free(evm__prep *P)
{
    for (int i = 0; P->F && P->vp && i < P->F->nvars; i++) vprep_free(&P->vp[i]);
    vprep_free(&P->cvp);
    free(P->vp);
    free(P->mv);
    free(P->rows);
    free(P->drop_reason);
    free(P->w);
    memset(P, 0, sizeof *P);
}
