/* read.c — evm_h5_read_fit: a result file written by evm_h5_write_fit (docs/hdf5.md).
 *
 * Every object of the contract must be present with the documented type and shape;
 * anything else is EVM_ERR_HDF5 with one line naming the file and the object.  Sizes are
 * checked against the bytes the file holds before anything is allocated, so a corrupt
 * file cannot ask for gigabytes. */
#include "h5/h5_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const char *path;
    evm_ctx *c;
    hsize_t cap; /* most elements any one object may claim */
    int status;
} reader;

static int rfail(reader *rd, int status, const char *fmt, ...) EVM__PRINTF(3, 4);
static int rfail(reader *rd, int status, const char *fmt, ...)
{
    if (rd->status < 0) return rd->status; /* the first cause wins */
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    H5Eclear2(H5E_DEFAULT);
    return rd->status = evm__fail(rd->c, status, "%s: %s", rd->path, msg);
}

static int hfail(reader *rd, const char *what, const char *where, const char *name)
{
    char desc[160];
    evm__h5_error(desc);
    return rfail(rd, EVM_ERR_HDF5, "cannot read %s %s%s%s%s%s", what, where,
                 strcmp(where, "/") ? "/" : "", name, *desc ? ": " : "", desc);
}

static int nomem(reader *rd) { return rfail(rd, EVM_ERR_NOMEM, "out of memory"); }

static int missing(reader *rd, const char *where, const char *name)
{
    return rfail(rd, EVM_ERR_HDF5, "missing %s%s%s (not a complete evalmix result file)",
                 where, strcmp(where, "/") ? "/" : "", name);
}

static int bad(reader *rd, const char *where, const char *name, const char *expected)
{
    return rfail(rd, EVM_ERR_HDF5, "%s%s%s is not %s", where, strcmp(where, "/") ? "/" : "",
                 name, expected);
}

/* ---------------------------------------------------------------- strings */
/* Read n strings from an attribute (is_attr) or dataset, variable- or fixed-length, into
 * fresh copies; NULL entries become "". */
static int read_strings(reader *rd, hid_t obj, int is_attr, hid_t ftype, hid_t space,
                        hsize_t n, char **out, const char *where, const char *name)
{
    int ok = 0;
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5T_cset_t cset = H5Tget_cset(ftype);
    if (mt < 0 || cset < 0 || H5Tset_cset(mt, cset) < 0) goto done;
    if (H5Tis_variable_str(ftype) > 0) {
        char **buf = evm__calloc((size_t)n, sizeof *buf);
        if (!buf) {
            H5Tclose(mt);
            return nomem(rd);
        }
        if (H5Tset_size(mt, H5T_VARIABLE) >= 0 &&
            (is_attr ? H5Aread(obj, mt, buf)
                     : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf)) >= 0) {
            ok = 1;
            for (hsize_t i = 0; i < n; i++)
                if (!(out[i] = evm__strdup(buf[i] ? buf[i] : ""))) ok = -1;
            H5Dvlen_reclaim(mt, space, H5P_DEFAULT, buf);
        }
        free(buf);
    } else {
        size_t size = H5Tget_size(ftype);
        char *buf = size ? evm__malloc((size_t)n, size + 1) : NULL;
        if (!buf) {
            H5Tclose(mt);
            return nomem(rd);
        }
        if (H5Tset_size(mt, size + 1) >= 0 && H5Tset_strpad(mt, H5T_STR_NULLTERM) >= 0 &&
            (is_attr ? H5Aread(obj, mt, buf)
                     : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf)) >= 0) {
            ok = 1;
            for (hsize_t i = 0; i < n; i++) {
                const char *s = buf + i * (size + 1);
                size_t len = strnlen(s, size);
                if (!(out[i] = evm__malloc(len + 1, 1))) ok = -1;
                else {
                    memcpy(out[i], s, len);
                    out[i][len] = '\0';
                }
            }
        }
        free(buf);
    }
done:
    if (mt >= 0) H5Tclose(mt);
    if (ok < 0) return nomem(rd);
    return ok ? EVM_OK : hfail(rd, is_attr ? "attribute" : "dataset", where, name);
}

/* ---------------------------------------------------------------- attributes */
/* Open attribute `name` of `loc`, check its class and that it holds one value. */
static hid_t attr_open(reader *rd, hid_t loc, const char *where, const char *name,
                       H5T_class_t cls, hid_t *ftype, hid_t *space)
{
    *ftype = *space = -1;
    htri_t e = H5Aexists(loc, name);
    if (e <= 0) {
        if (e < 0) hfail(rd, "attribute", where, name);
        else missing(rd, where, name);
        return -1;
    }
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0 || (*ftype = H5Aget_type(a)) < 0 || (*space = H5Aget_space(a)) < 0) {
        hfail(rd, "attribute", where, name);
    } else if (H5Tget_class(*ftype) != cls || H5Sget_simple_extent_npoints(*space) != 1) {
        bad(rd, where, name,
            cls == H5T_STRING  ? "a string"
            : cls == H5T_FLOAT ? "a float64"
                               : "an int64");
    } else {
        return a;
    }
    if (*space >= 0) H5Sclose(*space);
    if (*ftype >= 0) H5Tclose(*ftype);
    if (a >= 0) H5Aclose(a);
    *ftype = *space = -1;
    return -1;
}

static int attr_str(reader *rd, hid_t loc, const char *where, const char *name, char **out)
{
    hid_t t, s, a = attr_open(rd, loc, where, name, H5T_STRING, &t, &s);
    if (a < 0) return rd->status;
    free(*out);
    *out = NULL;
    read_strings(rd, a, 1, t, s, 1, out, where, name);
    H5Sclose(s);
    H5Tclose(t);
    H5Aclose(a);
    return rd->status;
}

static int attr_num(reader *rd, hid_t loc, const char *where, const char *name,
                    H5T_class_t cls, hid_t mtype, void *out)
{
    hid_t t, s, a = attr_open(rd, loc, where, name, cls, &t, &s);
    if (a < 0) return rd->status;
    if (H5Aread(a, mtype, out) < 0) hfail(rd, "attribute", where, name);
    H5Sclose(s);
    H5Tclose(t);
    H5Aclose(a);
    return rd->status;
}

static int attr_f64(reader *rd, hid_t loc, const char *where, const char *name, double *out)
{
    return attr_num(rd, loc, where, name, H5T_FLOAT, H5T_NATIVE_DOUBLE, out);
}

static int attr_i64(reader *rd, hid_t loc, const char *where, const char *name,
                    int64_t *out)
{
    return attr_num(rd, loc, where, name, H5T_INTEGER, H5T_NATIVE_INT64, out);
}

/* An int64 attribute that must fit an int in [lo, hi]. */
static int attr_int(reader *rd, hid_t loc, const char *where, const char *name, int lo,
                    int hi, int *out)
{
    int64_t v = 0;
    if (attr_i64(rd, loc, where, name, &v) < 0) return rd->status;
    if (v < lo || v > hi) {
        char range[64];
        snprintf(range, sizeof range, "an integer in [%d, %d]", lo, hi);
        return bad(rd, where, name, range);
    }
    *out = (int)v;
    return EVM_OK;
}

/* ---------------------------------------------------------------- datasets */
/* Open dataset `name` of `loc` with class `cls` and `rank` dimensions (dims[]), and
 * check its size against the file. */
static hid_t dset_open(reader *rd, hid_t loc, const char *where, const char *name,
                       H5T_class_t cls, int rank, hsize_t *dims, hid_t *ftype, hid_t *space)
{
    *ftype = *space = -1;
    htri_t e = H5Lexists(loc, name, H5P_DEFAULT);
    if (e <= 0) {
        if (e < 0) hfail(rd, "dataset", where, name);
        else missing(rd, where, name);
        return -1;
    }
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT), dcpl = -1;
    if (d < 0 || (*ftype = H5Dget_type(d)) < 0 || (*space = H5Dget_space(d)) < 0) {
        hfail(rd, "dataset", where, name);
        goto fail;
    }
    if (H5Tget_class(*ftype) != cls || H5Sget_simple_extent_ndims(*space) != rank) {
        bad(rd, where, name,
            cls == H5T_STRING ? (rank == 1 ? "a 1-d string dataset" : "a string dataset")
            : cls == H5T_FLOAT
                ? (rank == 1 ? "a 1-d float64 dataset" : "a 2-d float64 dataset")
                : "a 1-d int64 dataset");
        goto fail;
    }
    H5Sget_simple_extent_dims(*space, dims, NULL);
    hsize_t n = 1;
    for (int k = 0; k < rank; k++) {
        if (dims[k] > rd->cap || (dims[k] && n > rd->cap / dims[k])) n = rd->cap + 1;
        else n *= dims[k];
    }
    /* Unfiltered data occupy at least n elements on disk; anything less is corrupt. */
    int nfilters = (dcpl = H5Dget_create_plist(d)) >= 0 ? H5Pget_nfilters(dcpl) : -1;
    size_t esize = H5Tget_size(*ftype);
    if (n > rd->cap || nfilters < 0 ||
        (nfilters == 0 && n > 0 && H5Dget_storage_size(d) / esize < n)) {
        rfail(rd, EVM_ERR_HDF5, "%s/%s: size does not match the file (corrupt?)", where,
              name);
        goto fail;
    }
    H5Pclose(dcpl);
    return d;
fail:
    if (dcpl >= 0) H5Pclose(dcpl);
    if (*space >= 0) H5Sclose(*space);
    if (*ftype >= 0) H5Tclose(*ftype);
    if (d >= 0) H5Dclose(d);
    *ftype = *space = -1;
    return -1;
}

static void dset_close(hid_t d, hid_t t, hid_t s)
{
    H5Sclose(s);
    H5Tclose(t);
    H5Dclose(d);
}

/* float64 [n] (rank 1) or [n x dims[1]] (rank 2). */
static int dset_f64(reader *rd, hid_t loc, const char *where, const char *name, int rank,
                    hsize_t *dims, double **out)
{
    hid_t t, s, d = dset_open(rd, loc, where, name, H5T_FLOAT, rank, dims, &t, &s);
    if (d < 0) return rd->status;
    size_t n = (size_t)dims[0] * (rank == 2 ? (size_t)dims[1] : 1);
    if (!(*out = evm__malloc(n, sizeof **out))) nomem(rd);
    else if (n && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
        hfail(rd, "dataset", where, name);
    dset_close(d, t, s);
    return rd->status;
}

static int dset_i64(reader *rd, hid_t loc, const char *where, const char *name, hsize_t *n,
                    int64_t **out)
{
    hid_t t, s, d = dset_open(rd, loc, where, name, H5T_INTEGER, 1, n, &t, &s);
    if (d < 0) return rd->status;
    if (!(*out = evm__malloc((size_t)*n, sizeof **out))) nomem(rd);
    else if (*n && H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
        hfail(rd, "dataset", where, name);
    dset_close(d, t, s);
    return rd->status;
}

static int dset_str(reader *rd, hid_t loc, const char *where, const char *name, hsize_t *n,
                    char ***out)
{
    hid_t t, s, d = dset_open(rd, loc, where, name, H5T_STRING, 1, n, &t, &s);
    if (d < 0) return rd->status;
    if (!(*out = evm__calloc((size_t)*n, sizeof **out))) nomem(rd);
    else if (*n) read_strings(rd, d, 0, t, s, *n, *out, where, name);
    dset_close(d, t, s);
    return rd->status;
}

/* A count stored as a dataset length: it must fit the int of evm_result. */
static int as_int(reader *rd, hsize_t n, const char *where, const char *name, int *out)
{
    if (n > INT_MAX) return bad(rd, where, name, "of a supported length");
    *out = (int)n;
    return EVM_OK;
}

static int same_len(reader *rd, hsize_t n, int want, const char *where, const char *name)
{
    if (n == (hsize_t)want) return EVM_OK;
    return rfail(rd, EVM_ERR_HDF5, "%s/%s has %llu entries, expected %d", where, name,
                 (unsigned long long)n, want);
}

static hid_t group_open(reader *rd, hid_t loc, const char *where, const char *name)
{
    htri_t e = H5Lexists(loc, name, H5P_DEFAULT);
    if (e <= 0) {
        if (e < 0) hfail(rd, "group", where, name);
        else missing(rd, where, name);
        return -1;
    }
    hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
    if (g < 0) hfail(rd, "group", where, name);
    return g;
}

/* ---------------------------------------------------------------- the sections */
static int read_root(reader *rd, hid_t f, evm_result *r)
{
    int64_t seed = 0;
    (void)(attr_str(rd, f, "/", "command", &r->command) ||
           attr_str(rd, f, "/", "created", &r->created) ||
           attr_str(rd, f, "/", "input", &r->input) ||
           attr_str(rd, f, "/", "input_sha256", &r->input_sha256) ||
           attr_int(rd, f, "/", "threads", INT_MIN, INT_MAX, &r->threads) ||
           attr_i64(rd, f, "/", "seed", &seed));
    r->seed = seed;
    return rd->status;
}

static int read_fit(reader *rd, hid_t f, evm_result *r)
{
    const char *p = "/fit";
    char *method = NULL;
    int64_t n_obs = 0;
    hsize_t dims[2] = {0, 0};
    double *q = NULL;
    hid_t g = group_open(rd, f, "/", "fit");
    if (g < 0) return rd->status;
    if (attr_str(rd, g, p, "formula", &r->formula) ||
        attr_str(rd, g, p, "method", &method) ||
        attr_f64(rd, g, p, "objective", &r->objective) ||
        attr_f64(rd, g, p, "loglik", &r->loglik) || attr_f64(rd, g, p, "aic", &r->aic) ||
        attr_f64(rd, g, p, "bic", &r->bic) || attr_f64(rd, g, p, "sigma", &r->sigma) ||
        attr_i64(rd, g, p, "n_obs", &n_obs) ||
        attr_int(rd, g, p, "converged", 0, 1, &r->converged) ||
        attr_int(rd, g, p, "singular", 0, 1, &r->singular) ||
        attr_int(rd, g, p, "n_evaluations", INT_MIN, INT_MAX, &r->n_evaluations) ||
        attr_str(rd, g, p, "optimizer", &r->optimizer) ||
        attr_str(rd, g, p, "message", &r->message))
        goto done;
    r->n_obs = n_obs;
    if (!strcmp(method, "REML")) r->reml = 1;
    else if (!strcmp(method, "ML")) r->reml = 0;
    else {
        bad(rd, p, "method", "\"REML\" or \"ML\"");
        goto done;
    }
    if (dset_f64(rd, g, p, "theta", 1, dims, &r->theta) ||
        as_int(rd, dims[0], p, "theta", &r->ntheta) ||
        dset_f64(rd, g, p, "resid_quantiles", 1, dims, &q) ||
        same_len(rd, dims[0], 5, p, "resid_quantiles"))
        goto done;
    memcpy(r->resid_quantiles, q, sizeof r->resid_quantiles);
done:
    free(q);
    free(method);
    H5Gclose(g);
    return rd->status;
}

static int read_fixef(reader *rd, hid_t f, evm_result *r)
{
    const char *p = "/fixef";
    hsize_t n = 0, dims[2] = {0, 0};
    hid_t g = group_open(rd, f, "/", "fixef");
    if (g < 0) return rd->status;
    if (attr_str(rd, g, p, "ddf", &r->ddf) ||
        dset_str(rd, g, p, "name", &n, &r->fixef_name) || as_int(rd, n, p, "name", &r->p))
        goto done;
    struct {
        const char *name;
        double **x;
    } cols[] = {{"estimate", &r->beta},
                {"se", &r->se},
                {"df", &r->df},
                {"t", &r->t},
                {"p", &r->pval}};
    for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++)
        if (dset_f64(rd, g, p, cols[k].name, 1, dims, cols[k].x) ||
            same_len(rd, dims[0], r->p, p, cols[k].name))
            goto done;
    if (dset_f64(rd, g, p, "vcov", 2, dims, &r->vcov)) goto done;
    if (dims[0] != (hsize_t)r->p || dims[1] != (hsize_t)r->p) {
        rfail(rd, EVM_ERR_HDF5, "%s/vcov is %llu x %llu, expected %d x %d", p,
              (unsigned long long)dims[0], (unsigned long long)dims[1], r->p, r->p);
        goto done;
    }
    if (dset_str(rd, g, p, "dropped", &n, &r->dropped)) goto done;
    as_int(rd, n, p, "dropped", &r->ndropped);
done:
    H5Gclose(g);
    return rd->status;
}

static int read_varcomp(reader *rd, hid_t f, evm_result *r)
{
    const char *p = "/varcomp";
    hsize_t n = 0, dims[2] = {0, 0};
    hid_t g = group_open(rd, f, "/", "varcomp");
    if (g < 0) return rd->status;
    (void)(dset_str(rd, g, p, "group", &n, &r->vc_group) ||
           as_int(rd, n, p, "group", &r->nvc) ||
           dset_str(rd, g, p, "var1", &n, &r->vc_var1) ||
           same_len(rd, n, r->nvc, p, "var1") ||
           dset_str(rd, g, p, "var2", &n, &r->vc_var2) ||
           same_len(rd, n, r->nvc, p, "var2") ||
           dset_f64(rd, g, p, "vcov", 1, dims, &r->vc_vcov) ||
           same_len(rd, dims[0], r->nvc, p, "vcov") ||
           dset_f64(rd, g, p, "sdcor", 1, dims, &r->vc_sdcor) ||
           same_len(rd, dims[0], r->nvc, p, "sdcor"));
    H5Gclose(g);
    return rd->status;
}

/* Decode the %XX escapes of a /ranef link name (write.c: escape_link). */
static char *unescape_link(const char *link)
{
    char *out = evm__malloc(strlen(link) + 1, 1), *d = out;
    if (!out) return NULL;
    for (const char *s = link; *s; s++) {
        unsigned v;
        if (s[0] == '%' && s[1] && s[2] && sscanf(s + 1, "%2x", &v) == 1 &&
            strchr("0123456789abcdefABCDEF", s[1]) &&
            strchr("0123456789abcdefABCDEF", s[2])) {
            *d++ = (char)v;
            s += 2;
        } else {
            *d++ = *s;
        }
    }
    *d = '\0';
    return out;
}

static int read_ranef_group(reader *rd, hid_t rg, const char *link, evm_ranef *re)
{
    char *where = evm__asprintf("/ranef/%s", link);
    if (!where || !(re->name = unescape_link(link))) {
        free(where);
        return nomem(rd);
    }
    hsize_t n = 0, dims[2] = {0, 0};
    hid_t g = group_open(rd, rg, "/ranef", link);
    if (g < 0) goto done;
    if (dset_str(rd, g, where, "level", &n, &re->level)) goto done;
    re->nlevels = (int64_t)n;
    if (dset_str(rd, g, where, "term", &n, &re->term) ||
        as_int(rd, n, where, "term", &re->nterms))
        goto done;
    const char *mats[2] = {"mode", "condsd"};
    double **dst[2] = {&re->mode, &re->condsd};
    for (int k = 0; k < 2; k++) {
        if (dset_f64(rd, g, where, mats[k], 2, dims, dst[k])) goto done;
        if (dims[0] != (hsize_t)re->nlevels || dims[1] != (hsize_t)re->nterms) {
            rfail(rd, EVM_ERR_HDF5, "%s/%s is %llu x %llu, expected %lld x %d", where,
                  mats[k], (unsigned long long)dims[0], (unsigned long long)dims[1],
                  (long long)re->nlevels, re->nterms);
            goto done;
        }
    }
done:
    if (g >= 0) H5Gclose(g);
    free(where);
    return rd->status;
}

/* The groups of /ranef in the order they were written (creation order; by name for a
 * file whose /ranef does not track it). */
static int read_ranef(reader *rd, hid_t f, evm_result *r)
{
    hid_t g = group_open(rd, f, "/", "ranef"), gcpl = -1;
    char *link = NULL;
    if (g < 0) return rd->status;
    H5G_info_t info;
    unsigned crt = 0;
    if (H5Gget_info(g, &info) < 0 || (gcpl = H5Gget_create_plist(g)) < 0 ||
        H5Pget_link_creation_order(gcpl, &crt) < 0) {
        hfail(rd, "group", "/", "ranef");
        goto done;
    }
    H5_index_t idx = (crt & H5P_CRT_ORDER_TRACKED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
    if (info.nlinks > rd->cap || info.nlinks > INT_MAX) {
        rfail(rd, EVM_ERR_HDF5, "/ranef: too many groups (corrupt?)");
        goto done;
    }
    if (!(r->ranef = evm__calloc((size_t)info.nlinks, sizeof *r->ranef))) {
        nomem(rd);
        goto done;
    }
    for (hsize_t i = 0; i < info.nlinks; i++) {
        ssize_t len = H5Lget_name_by_idx(g, ".", idx, H5_ITER_INC, i, NULL, 0, H5P_DEFAULT);
        if (len < 0) {
            hfail(rd, "group", "/", "ranef");
            goto done;
        }
        if (!(link = evm__malloc((size_t)len + 1, 1))) {
            nomem(rd);
            goto done;
        }
        if (H5Lget_name_by_idx(g, ".", idx, H5_ITER_INC, i, link, (size_t)len + 1,
                               H5P_DEFAULT) < 0) {
            hfail(rd, "group", "/", "ranef");
            goto done;
        }
        r->nranef = (int)i + 1; /* so that a failure part-way frees what was read */
        if (read_ranef_group(rd, g, link, &r->ranef[i]) < 0) goto done;
        free(link);
        link = NULL;
    }
done:
    free(link);
    if (gcpl >= 0) H5Pclose(gcpl);
    H5Gclose(g);
    return rd->status;
}

static int read_tables(reader *rd, hid_t f, evm_result *r)
{
    hsize_t n = 0, dims[2] = {0, 0};
    hid_t g = group_open(rd, f, "/", "groups");
    if (g < 0) return rd->status;
    (void)(dset_str(rd, g, "/groups", "name", &n, &r->group_name) ||
           as_int(rd, n, "/groups", "name", &r->ngroups) ||
           dset_i64(rd, g, "/groups", "nlevels", &n, &r->group_nlevels) ||
           same_len(rd, n, r->ngroups, "/groups", "nlevels"));
    H5Gclose(g);
    if (rd->status < 0 || (g = group_open(rd, f, "/", "icc")) < 0) return rd->status;
    (void)(dset_str(rd, g, "/icc", "group", &n, &r->icc_group) ||
           as_int(rd, n, "/icc", "group", &r->nicc) ||
           dset_f64(rd, g, "/icc", "value", 1, dims, &r->icc) ||
           same_len(rd, dims[0], r->nicc, "/icc", "value"));
    H5Gclose(g);
    if (rd->status < 0 || (g = group_open(rd, f, "/", "data")) < 0) return rd->status;
    int64_t v[3] = {0, 0, 0};
    (void)(attr_i64(rd, g, "/data", "rows_read", &v[0]) ||
           attr_i64(rd, g, "/data", "rows_used", &v[1]) ||
           attr_i64(rd, g, "/data", "rows_dropped", &v[2]) ||
           attr_str(rd, g, "/data", "drop_reason", &r->drop_reason));
    r->rows_read = v[0];
    r->rows_used = v[1];
    r->rows_dropped = v[2];
    H5Gclose(g);
    return rd->status;
}

int evm_h5_read_fit(const char *path, evm_result **out, evm_ctx *c)
{
    if (!out) return evm__fail(c, EVM_ERR_ARG, "evm_h5_read_fit: no output pointer");
    *out = NULL;
    if (!path || !*path) return evm__fail(c, EVM_ERR_ARG, "evm_h5_read_fit: empty path");

    /* The system's reason for a missing or unreadable file, before HDF5 hides it. */
    struct stat sb;
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return evm__fail(c, EVM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int fst = fstat(fileno(probe), &sb);
    fclose(probe);
    if (fst < 0)
        return evm__fail(c, EVM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return evm__fail(c, EVM_ERR_IO, "%s: cannot open: Is a directory", path);

    evm__h5_quiet quiet;
    evm__h5_silence(&quiet);
    /* Each stored element takes at least one byte unless compressed; allow generous
     * compression but not a few bytes claiming gigabytes. */
    reader rd = {path, c, ((hsize_t)sb.st_size + 65536) * 256, EVM_OK};
    evm_result *r = NULL;
    hid_t fapl = -1, file = -1;
    htri_t is_h5 = H5Fis_hdf5(path);
    if (is_h5 <= 0) {
        rfail(&rd, EVM_ERR_HDF5, "not an evalmix result file (not an HDF5 file)");
        goto cleanup;
    }
    if ((fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0 ||
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0 ||
        (file = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0) {
        char desc[160];
        evm__h5_error(desc);
        rfail(&rd, EVM_ERR_HDF5, "cannot open HDF5 file%s%s", *desc ? ": " : "", desc);
        goto cleanup;
    }
    if (H5Aexists(file, "evalmix_version") <= 0) {
        rfail(&rd, EVM_ERR_HDF5, "not an evalmix result file");
        goto cleanup;
    }
    if (!(r = evm__calloc(1, sizeof *r))) {
        nomem(&rd);
        goto cleanup;
    }
    (void)(attr_str(&rd, file, "/", "evalmix_version", &r->evalmix_version) ||
           read_root(&rd, file, r) || read_fit(&rd, file, r) || read_fixef(&rd, file, r) ||
           read_varcomp(&rd, file, r) || read_ranef(&rd, file, r) ||
           read_tables(&rd, file, r));
cleanup:
    if (file >= 0 && H5Fclose(file) < 0 && rd.status >= 0) hfail(&rd, "file", "/", "");
    if (fapl >= 0) H5Pclose(fapl);
    evm__h5_restore(&quiet);
    if (rd.status < 0) {
        evm_result_free(&r);
        return rd.status;
    }
    *out = r;
    return EVM_OK;
}
