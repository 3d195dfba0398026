/* frame.c — the columnar data frame: construction, accessors, relevel, destruction. */
#include "data_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;
    evm_coltype type;
    double *num;        /* numeric: [nrows], NaN missing */
    int32_t *codes;     /* factor: [nrows], -1 missing */
    int32_t nlevels;
    char **levels;      /* [nlevels] pointers into labels */
    char *labels;       /* one block holding every label */
} frame_col;

struct evm_frame_s {
    int64_t nrows;
    int ncols, cap;
    frame_col *cols;
    char *path;         /* "" for in-memory frames */
    char sha256[65];
    int64_t rows_read;
};

static void col_free(frame_col *col)
{
    free(col->name);
    free(col->num);
    free(col->codes);
    free(col->levels);
    free(col->labels);
}

evm_frame *evm_frame_create(int64_t nrows, evm_ctx *c)
{
    if (nrows < 0) {
        evm__fail(c, EVM_ERR_ARG, "evm_frame_create: negative number of rows (%lld)",
                  (long long)nrows);
        return NULL;
    }
    evm_frame *f = calloc(1, sizeof *f);
    char *path = evm__strdup("");
    if (!f || !path) {
        free(f);
        free(path);
        evm__fail(c, EVM_ERR_NOMEM, "out of memory creating a data frame");
        return NULL;
    }
    f->nrows = nrows;
    f->path = path;
    return f;
}

void evm_frame_destroy(evm_frame **f)
{
    if (!f || !*f) return;
    for (int i = 0; i < (*f)->ncols; i++) col_free(&(*f)->cols[i]);
    free((*f)->cols);
    free((*f)->path);
    free(*f);
    *f = NULL;
}

/* Append a column slot (zeroed) with a copy of `name`; NULL when out of memory. */
static frame_col *push_col(evm_frame *f, const char *name, evm_ctx *c)
{
    if (f->ncols == f->cap) {
        if (f->cap > INT32_MAX / 2) goto nomem;
        int cap = f->cap ? 2 * f->cap : 8;
        frame_col *cols = realloc(f->cols, (size_t)cap * sizeof *cols);
        if (!cols) goto nomem;
        f->cols = cols;
        f->cap = cap;
    }
    frame_col *col = &f->cols[f->ncols];
    memset(col, 0, sizeof *col);
    col->name = evm__strdup(name);
    if (!col->name) goto nomem;
    f->ncols++;
    return col;
nomem:
    evm__fail(c, EVM_ERR_NOMEM, "out of memory adding column '%s'", name);
    return NULL;
}

static int check_new_col(const evm_frame *f, const char *name, const void *data,
                         evm_ctx *c)
{
    if (!f || !name)
        return evm__fail(c, EVM_ERR_ARG, "evm_frame_add: NULL frame or column name");
    if (!data && f->nrows > 0)
        return evm__fail(c, EVM_ERR_ARG, "evm_frame_add: column '%s' has no data", name);
    return EVM_OK;
}

int evm__frame_adopt_numeric(evm_frame *f, const char *name, double *x, evm_ctx *c)
{
    frame_col *col = push_col(f, name, c);
    if (!col) {
        free(x);
        return EVM_ERR_NOMEM;
    }
    col->type = EVM_COL_NUMERIC;
    col->num = x;
    return EVM_OK;
}

int evm__frame_adopt_factor(evm_frame *f, const char *name, int32_t *codes, char *labels,
                            char **levels, int32_t nlevels, evm_ctx *c)
{
    frame_col *col = push_col(f, name, c);
    if (!col) {
        free(codes);
        free(labels);
        free(levels);
        return EVM_ERR_NOMEM;
    }
    col->type = EVM_COL_FACTOR;
    col->codes = codes;
    col->labels = labels;
    col->levels = levels;
    col->nlevels = nlevels;
    return EVM_OK;
}

int evm_frame_add_numeric(evm_frame *f, const char *name, const double *x, evm_ctx *c)
{
    int st = check_new_col(f, name, x, c);
    if (st < 0) return st;
    for (int64_t i = 0; i < f->nrows; i++)
        if (isinf(x[i]))
            return evm__fail(c, EVM_ERR_VALUE,
                             "column '%s': row %lld is not a finite number", name,
                             (long long)i + 1);
    double *copy = evm__malloc((size_t)f->nrows, sizeof *copy);
    if (!copy) return evm__fail(c, EVM_ERR_NOMEM, "out of memory adding column '%s'", name);
    if (f->nrows) memcpy(copy, x, (size_t)f->nrows * sizeof *copy);
    return evm__frame_adopt_numeric(f, name, copy, c);
}

/* Copy `levels` into one block; EVM_ERR_ARG on a NULL or duplicate label. */
static int copy_levels(const char *name, const char *const *levels, int32_t nlevels,
                       char **labels_out, char ***levels_out, evm_ctx *c)
{
    int st = EVM_OK;
    size_t bytes = 0;
    char *labels = NULL;
    char **ptrs = NULL;
    evm__strtab *seen = evm__strtab_create();
    if (!seen) goto nomem;
    for (int32_t k = 0; k < nlevels; k++) {
        if (!levels[k]) {
            st = evm__fail(c, EVM_ERR_ARG, "factor '%s': level %d is NULL", name, (int)k + 1);
            goto cleanup;
        }
        int is_new = 0;
        size_t len = strlen(levels[k]);
        if (evm__strtab_intern(seen, levels[k], len, &is_new) < 0) goto nomem;
        if (!is_new) {
            st = evm__fail(c, EVM_ERR_ARG, "factor '%s': duplicate level '%s'", name,
                           levels[k]);
            goto cleanup;
        }
        bytes += len + 1;
    }
    labels = evm__malloc(bytes, 1);
    ptrs = evm__malloc((size_t)nlevels, sizeof *ptrs);
    if (!labels || !ptrs) goto nomem;
    char *p = labels;
    for (int32_t k = 0; k < nlevels; k++) {
        size_t len = strlen(levels[k]) + 1;
        memcpy(p, levels[k], len);
        ptrs[k] = p;
        p += len;
    }
    *labels_out = labels;
    *levels_out = ptrs;
    labels = NULL;
    ptrs = NULL;
    goto cleanup;
nomem:
    st = evm__fail(c, EVM_ERR_NOMEM, "out of memory adding factor '%s'", name);
cleanup:
    free(labels);
    free(ptrs);
    evm__strtab_destroy(&seen);
    return st;
}

int evm_frame_add_factor(evm_frame *f, const char *name, const int32_t *codes,
                         const char *const *levels, int32_t nlevels, evm_ctx *c)
{
    int st = check_new_col(f, name, codes, c);
    if (st < 0) return st;
    if (nlevels < 0 || (nlevels > 0 && !levels))
        return evm__fail(c, EVM_ERR_ARG, "factor '%s': bad levels", name);
    for (int64_t i = 0; i < f->nrows; i++)
        if (codes[i] < -1 || codes[i] >= nlevels)
            return evm__fail(c, EVM_ERR_ARG,
                             "factor '%s': row %lld has code %d outside -1..%d", name,
                             (long long)i + 1, (int)codes[i], (int)nlevels - 1);
    char *labels = NULL;
    char **ptrs = NULL;
    st = copy_levels(name, levels, nlevels, &labels, &ptrs, c);
    if (st < 0) return st;
    int32_t *copy = evm__malloc((size_t)f->nrows, sizeof *copy);
    if (!copy) {
        free(labels);
        free(ptrs);
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory adding factor '%s'", name);
    }
    if (f->nrows) memcpy(copy, codes, (size_t)f->nrows * sizeof *copy);
    return evm__frame_adopt_factor(f, name, copy, labels, ptrs, nlevels, c);
}

int evm__frame_set_source(evm_frame *f, const char *path, const char *sha256,
                          int64_t rows_read, evm_ctx *c)
{
    char *p = evm__strdup(path);
    if (!p) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    free(f->path);
    f->path = p;
    snprintf(f->sha256, sizeof f->sha256, "%s", sha256);
    f->rows_read = rows_read;
    return EVM_OK;
}

int64_t evm_frame_nrows(const evm_frame *f) { return f ? f->nrows : 0; }
int evm_frame_ncols(const evm_frame *f) { return f ? f->ncols : 0; }
const char *evm_frame_path(const evm_frame *f) { return f ? f->path : ""; }
const char *evm_frame_sha256(const evm_frame *f) { return f ? f->sha256 : ""; }
int64_t evm_frame_rows_read(const evm_frame *f) { return f ? f->rows_read : 0; }

int evm_frame_find(const evm_frame *f, const char *name, int type)
{
    if (!f || !name) return -1;
    for (int i = 0; i < f->ncols; i++)
        if (strcmp(f->cols[i].name, name) == 0 && (type < 0 || (int)f->cols[i].type == type))
            return i;
    return -1;
}

static const frame_col *get_col(const evm_frame *f, int col)
{
    return (f && col >= 0 && col < f->ncols) ? &f->cols[col] : NULL;
}

const char *evm_frame_name(const evm_frame *f, int col)
{
    const frame_col *fc = get_col(f, col);
    return fc ? fc->name : NULL;
}

evm_coltype evm_frame_type(const evm_frame *f, int col)
{
    const frame_col *fc = get_col(f, col);
    return fc ? fc->type : EVM_COL_NUMERIC;
}

const double *evm_frame_numeric(const evm_frame *f, int col)
{
    const frame_col *fc = get_col(f, col);
    return fc && fc->type == EVM_COL_NUMERIC ? fc->num : NULL;
}

const int32_t *evm_frame_codes(const evm_frame *f, int col)
{
    const frame_col *fc = get_col(f, col);
    return fc && fc->type == EVM_COL_FACTOR ? fc->codes : NULL;
}

int32_t evm_frame_nlevels(const evm_frame *f, int col)
{
    const frame_col *fc = get_col(f, col);
    return fc && fc->type == EVM_COL_FACTOR ? fc->nlevels : 0;
}

const char *evm_frame_level(const evm_frame *f, int col, int32_t k)
{
    const frame_col *fc = get_col(f, col);
    if (!fc || fc->type != EVM_COL_FACTOR || k < 0 || k >= fc->nlevels) return NULL;
    return fc->levels[k];
}

/* "a, b, c" listing at most 10 levels then ", ..." into buf. */
static void list_levels(const frame_col *fc, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int32_t k = 0; k < fc->nlevels && used < size; k++) {
        int w = k == 10 ? snprintf(buf + used, size - used, ", ...")
                        : snprintf(buf + used, size - used, "%s%s", k ? ", " : "",
                                   fc->levels[k]);
        if (w < 0) break;
        used += (size_t)w;
        if (k == 10) break;
    }
}

int evm_frame_relevel(evm_frame *f, int col, const char *level, evm_ctx *c)
{
    frame_col *fc = (frame_col *)get_col(f, col);
    if (!fc || fc->type != EVM_COL_FACTOR || !level)
        return evm__fail(c, EVM_ERR_ARG, "evm_frame_relevel: column %d is not a factor", col);
    int32_t pos = -1;
    for (int32_t k = 0; k < fc->nlevels && pos < 0; k++)
        if (strcmp(fc->levels[k], level) == 0) pos = k;
    if (pos < 0) {
        char list[600];
        list_levels(fc, list, sizeof list);
        return evm__fail(c, EVM_ERR_VALUE, "factor '%s' has no level '%s' (levels: %s)",
                         fc->name, level, list);
    }
    if (pos == 0) return EVM_OK;
    /* Level pos moves to 0; levels 0..pos-1 shift up by one. */
    char *moved = fc->levels[pos];
    memmove(fc->levels + 1, fc->levels, (size_t)pos * sizeof *fc->levels);
    fc->levels[0] = moved;
    for (int64_t i = 0; i < f->nrows; i++) {
        int32_t k = fc->codes[i];
        if (k == pos) fc->codes[i] = 0;
        else if (k >= 0 && k < pos) fc->codes[i] = k + 1;
    }
    return EVM_OK;
}
