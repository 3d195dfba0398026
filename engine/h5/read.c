/* read.c — evm_h5_read_fit: a result file written by evm_h5_write_fit (docs/hdf5.md).
 *
 * Every object of the contract must be present with the documented type and shape;
 * anything else is EVM_ERR_HDF5 with one line naming the file and the object.  Sizes are
 * checked against the bytes the file holds before anything is allocated, so a corrupt
 * file cannot ask for gigabytes. */
#include "h5/h5_internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int evm__h5r_fail(evm__h5_reader *rd, int status, const char *fmt, ...)
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

static void silence_hdf5(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void register_silence(void)
{
    (void)atexit(silence_hdf5);
}

void evm__h5_quiet_at_exit(void)
{
    /* Registered after HDF5's own atexit handler, so it runs before HDF5 shuts down. */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_silence);
}

/* Whatever HDF5 cannot read in a file that looked like a result file means the file is
 * damaged (or was edited by hand): one line naming the object and HDF5's reason. */
int evm__h5r_hfail(evm__h5_reader *rd, const char *what, const char *where,
                   const char *name)
{
    char desc[160];
    evm__h5_error(desc);
    return evm__h5r_fail(rd, EVM_ERR_HDF5,
                         "not a valid evalmix result file (cannot read %s %s%s%s%s%s)", what,
                         where, strcmp(where, "/") ? "/" : "", name, *desc ? ": " : "", desc);
}

int evm__h5r_nomem(evm__h5_reader *rd)
{
    return evm__h5r_fail(rd, EVM_ERR_NOMEM, "out of memory");
}

static int missing(evm__h5_reader *rd, const char *where, const char *name)
{
    return evm__h5r_fail(rd, EVM_ERR_HDF5,
                         "missing %s%s%s (not a complete evalmix result file)", where,
                         strcmp(where, "/") ? "/" : "", name);
}

int evm__h5r_bad(evm__h5_reader *rd, const char *where, const char *name,
                 const char *expected)
{
    return evm__h5r_fail(rd, EVM_ERR_HDF5, "%s%s%s is not %s", where,
                         strcmp(where, "/") ? "/" : "", name, expected);
}

/* ---------------------------------------------------------------- strings */
/* Read n strings from an attribute (is_attr) or dataset, variable- or fixed-length, into
 * fresh copies; NULL entries become "". */
static int read_strings(evm__h5_reader *rd, hid_t obj, int is_attr, hid_t ftype,
                        hid_t space, hsize_t n, char **out, const char *where,
                        const char *name)
{
    int ok = 0;
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5T_cset_t cset = H5Tget_cset(ftype);
    if (mt < 0 || cset < 0 || H5Tset_cset(mt, cset) < 0) goto done;
    if (H5Tis_variable_str(ftype) > 0) {
        char **buf = evm__calloc((size_t)n, sizeof *buf);
        if (!buf) {
            H5Tclose(mt);
            return evm__h5r_nomem(rd);
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
            return evm__h5r_nomem(rd);
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
    if (ok < 0) return evm__h5r_nomem(rd);
    return ok ? EVM_OK : evm__h5r_hfail(rd, is_attr ? "attribute" : "dataset", where, name);
}

/* ---------------------------------------------------------------- attributes */
/* Open attribute `name` of `loc`, check its class and that it holds one value. */
static hid_t attr_open(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                       H5T_class_t cls, hid_t *ftype, hid_t *space)
{
    *ftype = *space = -1;
    htri_t e = H5Aexists(loc, name);
    if (e <= 0) {
        if (e < 0) evm__h5r_hfail(rd, "attribute", where, name);
        else missing(rd, where, name);
        return -1;
    }
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0 || (*ftype = H5Aget_type(a)) < 0 || (*space = H5Aget_space(a)) < 0) {
        evm__h5r_hfail(rd, "attribute", where, name);
    } else if (H5Tget_class(*ftype) != cls || H5Sget_simple_extent_npoints(*space) != 1) {
        evm__h5r_bad(rd, where, name,
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

int evm__h5r_attr_str(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                      char **out)
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

static int attr_num(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                    H5T_class_t cls, hid_t mtype, void *out)
{
    hid_t t, s, a = attr_open(rd, loc, where, name, cls, &t, &s);
    if (a < 0) return rd->status;
    if (H5Aread(a, mtype, out) < 0) evm__h5r_hfail(rd, "attribute", where, name);
    H5Sclose(s);
    H5Tclose(t);
    H5Aclose(a);
    return rd->status;
}

int evm__h5r_attr_f64(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                      double *out)
{
    return attr_num(rd, loc, where, name, H5T_FLOAT, H5T_NATIVE_DOUBLE, out);
}

int evm__h5r_attr_i64(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                      int64_t *out)
{
    return attr_num(rd, loc, where, name, H5T_INTEGER, H5T_NATIVE_INT64, out);
}

int evm__h5r_attr_u64(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                      uint64_t *out)
{
    return attr_num(rd, loc, where, name, H5T_INTEGER, H5T_NATIVE_UINT64, out);
}

/* An int64 attribute that must fit an int in [lo, hi]. */
int evm__h5r_attr_int(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                      int lo, int hi, int *out)
{
    int64_t v = 0;
    if (evm__h5r_attr_i64(rd, loc, where, name, &v) < 0) return rd->status;
    if (v < lo || v > hi) {
        char range[64];
        snprintf(range, sizeof range, "an integer in [%d, %d]", lo, hi);
        return evm__h5r_bad(rd, where, name, range);
    }
    *out = (int)v;
    return EVM_OK;
}

/* ---------------------------------------------------------------- datasets */
/* Open dataset `name` of `loc` with class `cls` and `rank` dimensions (dims[]), and
 * check its size against the file. */
static hid_t dset_open(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                       H5T_class_t cls, int rank, hsize_t *dims, hid_t *ftype, hid_t *space)
{
    *ftype = *space = -1;
    htri_t e = H5Lexists(loc, name, H5P_DEFAULT);
    if (e <= 0) {
        if (e < 0) evm__h5r_hfail(rd, "dataset", where, name);
        else missing(rd, where, name);
        return -1;
    }
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT), dcpl = -1;
    if (d < 0 || (*ftype = H5Dget_type(d)) < 0 || (*space = H5Dget_space(d)) < 0) {
        evm__h5r_hfail(rd, "dataset", where, name);
        goto fail;
    }
    if (H5Tget_class(*ftype) != cls || H5Sget_simple_extent_ndims(*space) != rank) {
        evm__h5r_bad(rd, where, name,
                     cls == H5T_STRING
                         ? (rank == 1 ? "a 1-d string dataset" : "a string dataset")
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
        evm__h5r_fail(rd, EVM_ERR_HDF5, "%s/%s: size does not match the file (corrupt?)",
                      where, name);
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
int evm__h5r_f64(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                 int rank, hsize_t *dims, double **out)
{
    hid_t t, s, d = dset_open(rd, loc, where, name, H5T_FLOAT, rank, dims, &t, &s);
    if (d < 0) return rd->status;
    size_t n = (size_t)dims[0] * (rank == 2 ? (size_t)dims[1] : 1);
    if (!(*out = evm__malloc(n, sizeof **out))) evm__h5r_nomem(rd);
    else if (n && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
        evm__h5r_hfail(rd, "dataset", where, name);
    dset_close(d, t, s);
    return rd->status;
}

int evm__h5r_i64(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                 hsize_t *n, int64_t **out)
{
    hid_t t, s, d = dset_open(rd, loc, where, name, H5T_INTEGER, 1, n, &t, &s);
    if (d < 0) return rd->status;
    if (!(*out = evm__malloc((size_t)*n, sizeof **out))) evm__h5r_nomem(rd);
    else if (*n && H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
        evm__h5r_hfail(rd, "dataset", where, name);
    dset_close(d, t, s);
    return rd->status;
}

int evm__h5r_str(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                 hsize_t *n, char ***out)
{
    hid_t t, s, d = dset_open(rd, loc, where, name, H5T_STRING, 1, n, &t, &s);
    if (d < 0) return rd->status;
    if (!(*out = evm__calloc((size_t)*n, sizeof **out))) evm__h5r_nomem(rd);
    else if (*n && evm__h5_check_refs(rd, d, t, *n, where, name) == EVM_OK)
        read_strings(rd, d, 0, t, s, *n, *out, where, name);
    dset_close(d, t, s);
    return rd->status;
}

/* float64 [want]. */
int evm__h5r_vector(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                    int want, double **out)
{
    hsize_t dims[2] = {0, 0};
    if (evm__h5r_f64(rd, loc, where, name, 1, dims, out) == EVM_OK)
        evm__h5r_same_len(rd, dims[0], want, where, name);
    return rd->status;
}

/* float64 [rows x cols]. */
int evm__h5r_matrix(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                    int64_t rows, int64_t cols, double **out)
{
    hsize_t dims[2] = {0, 0};
    if (evm__h5r_f64(rd, loc, where, name, 2, dims, out) == EVM_OK &&
        (dims[0] != (hsize_t)rows || dims[1] != (hsize_t)cols))
        evm__h5r_fail(rd, EVM_ERR_HDF5, "%s/%s is %llu x %llu, expected %lld x %lld", where,
                      name, (unsigned long long)dims[0], (unsigned long long)dims[1],
                      (long long)rows, (long long)cols);
    return rd->status;
}

/* Strings as a column of a table: `want` of them (want >= 0), or any number that fits an
 * int (*len).  On failure nothing is kept, so no caller frees entries it does not have. */
int evm__h5r_strings(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                     int want, int *len, char ***out)
{
    hsize_t n = 0;
    char **v = NULL;
    if (evm__h5r_str(rd, loc, where, name, &n, &v) == EVM_OK) {
        if (want >= 0) evm__h5r_same_len(rd, n, want, where, name);
        else if (evm__h5r_as_int(rd, n, where, name, len) == EVM_OK) want = *len;
    }
    if (rd->status < 0) {
        for (hsize_t i = 0; v && i < n; i++) free(v[i]);
        free(v);
        return rd->status;
    }
    *out = v;
    return EVM_OK;
}

/* A count stored as a dataset length: it must fit the int of evm_result. */
int evm__h5r_as_int(evm__h5_reader *rd, hsize_t n, const char *where, const char *name,
                    int *out)
{
    if (n > INT_MAX) return evm__h5r_bad(rd, where, name, "of a supported length");
    *out = (int)n;
    return EVM_OK;
}

int evm__h5r_same_len(evm__h5_reader *rd, hsize_t n, int want, const char *where,
                      const char *name)
{
    if (n == (hsize_t)want) return EVM_OK;
    return evm__h5r_fail(rd, EVM_ERR_HDF5, "%s/%s has %llu entries, expected %d", where,
                         name, (unsigned long long)n, want);
}

hid_t evm__h5r_group(evm__h5_reader *rd, hid_t loc, const char *where, const char *name)
{
    htri_t e = H5Lexists(loc, name, H5P_DEFAULT);
    if (e <= 0) {
        if (e < 0) evm__h5r_hfail(rd, "group", where, name);
        else missing(rd, where, name);
        return -1;
    }
    hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
    if (g < 0) evm__h5r_hfail(rd, "group", where, name);
    return g;
}

/* ---------------------------------------------------------------- the sections */
static int read_root(evm__h5_reader *rd, hid_t f, evm_result *r)
{
    (void)(evm__h5r_attr_str(rd, f, "/", "command", &r->command) ||
           evm__h5r_attr_str(rd, f, "/", "created", &r->created) ||
           evm__h5r_attr_str(rd, f, "/", "input", &r->input) ||
           evm__h5r_attr_str(rd, f, "/", "input_sha256", &r->input_sha256) ||
           evm__h5r_attr_int(rd, f, "/", "threads", INT_MIN, INT_MAX, &r->threads) ||
           evm__h5r_attr_u64(rd, f, "/", "seed", &r->seed));
    return rd->status;
}

static int read_fit(evm__h5_reader *rd, hid_t f, evm_result *r)
{
    const char *p = "/fit";
    char *method = NULL;
    int64_t n_obs = 0;
    hsize_t dims[2] = {0, 0};
    double *q = NULL;
    hid_t g = evm__h5r_group(rd, f, "/", "fit");
    if (g < 0) return rd->status;
    if (evm__h5r_attr_str(rd, g, p, "formula", &r->formula) ||
        evm__h5r_attr_str(rd, g, p, "method", &method) ||
        evm__h5r_attr_f64(rd, g, p, "objective", &r->objective) ||
        evm__h5r_attr_f64(rd, g, p, "loglik", &r->loglik) ||
        evm__h5r_attr_f64(rd, g, p, "aic", &r->aic) ||
        evm__h5r_attr_f64(rd, g, p, "bic", &r->bic) ||
        evm__h5r_attr_f64(rd, g, p, "sigma", &r->sigma) ||
        evm__h5r_attr_i64(rd, g, p, "n_obs", &n_obs) ||
        evm__h5r_attr_int(rd, g, p, "converged", 0, 1, &r->converged) ||
        evm__h5r_attr_int(rd, g, p, "singular", 0, 1, &r->singular) ||
        evm__h5r_attr_int(rd, g, p, "n_evaluations", INT_MIN, INT_MAX, &r->n_evaluations) ||
        evm__h5r_attr_str(rd, g, p, "optimizer", &r->optimizer) ||
        evm__h5r_attr_str(rd, g, p, "message", &r->message))
        goto done;
    r->n_obs = n_obs;
    if (!strcmp(method, "REML")) r->reml = 1;
    else if (!strcmp(method, "ML")) r->reml = 0;
    else {
        evm__h5r_bad(rd, p, "method", "\"REML\" or \"ML\"");
        goto done;
    }
    if (evm__h5r_f64(rd, g, p, "theta", 1, dims, &r->theta) ||
        evm__h5r_as_int(rd, dims[0], p, "theta", &r->ntheta) ||
        evm__h5r_f64(rd, g, p, "resid_quantiles", 1, dims, &q) ||
        evm__h5r_same_len(rd, dims[0], 5, p, "resid_quantiles"))
        goto done;
    memcpy(r->resid_quantiles, q, sizeof r->resid_quantiles);
done:
    free(q);
    free(method);
    H5Gclose(g);
    return rd->status;
}

static int read_fixef(evm__h5_reader *rd, hid_t f, evm_result *r)
{
    const char *p = "/fixef";
    hid_t g = evm__h5r_group(rd, f, "/", "fixef");
    if (g < 0) return rd->status;
    if (evm__h5r_attr_str(rd, g, p, "ddf", &r->ddf) ||
        evm__h5r_strings(rd, g, p, "name", -1, &r->p, &r->fixef_name))
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
        if (evm__h5r_vector(rd, g, p, cols[k].name, r->p, cols[k].x)) goto done;
    if (evm__h5r_matrix(rd, g, p, "vcov", r->p, r->p, &r->vcov)) goto done;
    evm__h5r_strings(rd, g, p, "dropped", -1, &r->ndropped, &r->dropped);
done:
    H5Gclose(g);
    return rd->status;
}

static int read_varcomp(evm__h5_reader *rd, hid_t f, evm_result *r)
{
    const char *p = "/varcomp";
    hid_t g = evm__h5r_group(rd, f, "/", "varcomp");
    if (g < 0) return rd->status;
    (void)(evm__h5r_strings(rd, g, p, "group", -1, &r->nvc, &r->vc_group) ||
           evm__h5r_strings(rd, g, p, "var1", r->nvc, NULL, &r->vc_var1) ||
           evm__h5r_strings(rd, g, p, "var2", r->nvc, NULL, &r->vc_var2) ||
           evm__h5r_vector(rd, g, p, "vcov", r->nvc, &r->vc_vcov) ||
           evm__h5r_vector(rd, g, p, "sdcor", r->nvc, &r->vc_sdcor));
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

static int read_ranef_group(evm__h5_reader *rd, hid_t rg, const char *link, evm_ranef *re)
{
    char *where = evm__asprintf("/ranef/%s", link);
    if (!where || !(re->name = unescape_link(link))) {
        free(where);
        return evm__h5r_nomem(rd);
    }
    hsize_t n = 0, dims[2] = {0, 0};
    hid_t g = evm__h5r_group(rd, rg, "/ranef", link);
    if (g < 0) goto done;
    if (evm__h5r_str(rd, g, where, "level", &n, &re->level)) goto done;
    re->nlevels = (int64_t)n;
    if (evm__h5r_strings(rd, g, where, "term", -1, &re->nterms, &re->term)) goto done;
    const char *mats[2] = {"mode", "condsd"};
    double **dst[2] = {&re->mode, &re->condsd};
    for (int k = 0; k < 2; k++) {
        if (evm__h5r_f64(rd, g, where, mats[k], 2, dims, dst[k])) goto done;
        if (dims[0] != (hsize_t)re->nlevels || dims[1] != (hsize_t)re->nterms) {
            evm__h5r_fail(rd, EVM_ERR_HDF5, "%s/%s is %llu x %llu, expected %lld x %d",
                          where, mats[k], (unsigned long long)dims[0],
                          (unsigned long long)dims[1], (long long)re->nlevels, re->nterms);
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
static int read_ranef(evm__h5_reader *rd, hid_t f, evm_result *r)
{
    hid_t g = evm__h5r_group(rd, f, "/", "ranef"), gcpl = -1;
    char *link = NULL;
    if (g < 0) return rd->status;
    H5G_info_t info;
    unsigned crt = 0;
    if (H5Gget_info(g, &info) < 0 || (gcpl = H5Gget_create_plist(g)) < 0 ||
        H5Pget_link_creation_order(gcpl, &crt) < 0) {
        evm__h5r_hfail(rd, "group", "/", "ranef");
        goto done;
    }
    H5_index_t idx = (crt & H5P_CRT_ORDER_TRACKED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
    if (info.nlinks > rd->cap || info.nlinks > INT_MAX) {
        evm__h5r_fail(rd, EVM_ERR_HDF5, "/ranef: too many groups (corrupt?)");
        goto done;
    }
    if (!(r->ranef = evm__calloc((size_t)info.nlinks, sizeof *r->ranef))) {
        evm__h5r_nomem(rd);
        goto done;
    }
    for (hsize_t i = 0; i < info.nlinks; i++) {
        ssize_t len = H5Lget_name_by_idx(g, ".", idx, H5_ITER_INC, i, NULL, 0, H5P_DEFAULT);
        if (len < 0) {
            evm__h5r_hfail(rd, "group", "/", "ranef");
            goto done;
        }
        if (!(link = evm__malloc((size_t)len + 1, 1))) {
            evm__h5r_nomem(rd);
            goto done;
        }
        if (H5Lget_name_by_idx(g, ".", idx, H5_ITER_INC, i, link, (size_t)len + 1,
                               H5P_DEFAULT) < 0) {
            evm__h5r_hfail(rd, "group", "/", "ranef");
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

static int read_tables(evm__h5_reader *rd, hid_t f, evm_result *r)
{
    hsize_t n = 0;
    hid_t g = evm__h5r_group(rd, f, "/", "groups");
    if (g < 0) return rd->status;
    (void)(evm__h5r_strings(rd, g, "/groups", "name", -1, &r->ngroups, &r->group_name) ||
           evm__h5r_i64(rd, g, "/groups", "nlevels", &n, &r->group_nlevels) ||
           evm__h5r_same_len(rd, n, r->ngroups, "/groups", "nlevels"));
    H5Gclose(g);
    if (rd->status < 0 || (g = evm__h5r_group(rd, f, "/", "icc")) < 0) return rd->status;
    (void)(evm__h5r_strings(rd, g, "/icc", "group", -1, &r->nicc, &r->icc_group) ||
           evm__h5r_vector(rd, g, "/icc", "value", r->nicc, &r->icc));
    H5Gclose(g);
    if (rd->status < 0 || (g = evm__h5r_group(rd, f, "/", "data")) < 0) return rd->status;
    int64_t v[3] = {0, 0, 0};
    (void)(evm__h5r_attr_i64(rd, g, "/data", "rows_read", &v[0]) ||
           evm__h5r_attr_i64(rd, g, "/data", "rows_used", &v[1]) ||
           evm__h5r_attr_i64(rd, g, "/data", "rows_dropped", &v[2]) ||
           evm__h5r_attr_str(rd, g, "/data", "drop_reason", &r->drop_reason));
    r->rows_read = v[0];
    r->rows_used = v[1];
    r->rows_dropped = v[2];
    H5Gclose(g);
    return rd->status;
}

/* An evalmix file of another kind (docs/hdf5.md) is named as such, not as a fit with
 * parts missing. */
static int check_kind(evm__h5_reader *rd, hid_t file)
{
    static const struct {
        const char *group, *kind;
    } kinds[] = {{"match", "a match report (evalmix match --report)"},
                 {"compare", "a model comparison (evalmix compare --out)"}};
    htri_t fit = H5Lexists(file, "fit", H5P_DEFAULT);
    if (fit < 0) return evm__h5r_hfail(rd, "group", "/", "fit");
    if (fit > 0) return EVM_OK;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        htri_t e = H5Lexists(file, kinds[k].group, H5P_DEFAULT);
        if (e < 0) return evm__h5r_hfail(rd, "group", "/", kinds[k].group);
        if (e > 0)
            return evm__h5r_fail(rd, EVM_ERR_HDF5, "%s, not a model fit (see docs/hdf5.md)",
                                 kinds[k].kind);
    }
    return EVM_OK;   /* read_fit names what is missing */
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
    evm__h5_reader rd = {path, c, ((hsize_t)sb.st_size + 65536) * 256, EVM_OK};
    evm_result *r = NULL;
    hid_t fapl = -1, file = -1;
    htri_t is_h5 = H5Fis_hdf5(path);
    if (is_h5 <= 0) {
        evm__h5r_fail(&rd, EVM_ERR_HDF5, "not an evalmix result file (not an HDF5 file)");
        goto cleanup;
    }
    if ((fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0 ||
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0 ||
        (file = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0) {
        char desc[160];
        evm__h5_error(desc);
        evm__h5r_fail(&rd, EVM_ERR_HDF5, "not a valid evalmix result file (cannot open it "
                      "as HDF5%s%s)", *desc ? ": " : "", desc);
        goto cleanup;
    }
    htri_t is_evm = H5Aexists(file, "evalmix_version");
    if (is_evm < 0) {
        evm__h5r_hfail(&rd, "attribute", "/", "evalmix_version");
        goto cleanup;
    }
    if (!is_evm) {
        evm__h5r_fail(&rd, EVM_ERR_HDF5, "not an evalmix result file");
        goto cleanup;
    }
    if (check_kind(&rd, file) < 0 || evm__h5_check_heaps(&rd, file) < 0) goto cleanup;
    if (!(r = evm__calloc(1, sizeof *r))) {
        evm__h5r_nomem(&rd);
        goto cleanup;
    }
    (void)(evm__h5r_attr_str(&rd, file, "/", "evalmix_version", &r->evalmix_version) ||
           read_root(&rd, file, r) || read_fit(&rd, file, r) || read_fixef(&rd, file, r) ||
           read_varcomp(&rd, file, r) || read_ranef(&rd, file, r) ||
           read_tables(&rd, file, r) || evm__h5_read_infer(&rd, file, r));
cleanup:
    if (file >= 0 && H5Fclose(file) < 0 && rd.status >= 0)
        evm__h5r_hfail(&rd, "file", "/", "");
    if (fapl >= 0) H5Pclose(fapl);
    evm__h5_restore(&quiet);
    if (rd.status < 0) {
        evm_result_free(&r);
        return rd.status;
    }
    *out = r;
    return EVM_OK;
}
