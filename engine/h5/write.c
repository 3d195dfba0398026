/* write.c — evm_h5_write_fit: one fit to an HDF5 result file (layout: docs/hdf5.md).
 *
 * Atomic: the file is built under "<path>.tmp.<pid>.<n>" in the same folder, closed,
 * synced and renamed over <path>.  On any failure the temporary file is removed and an
 * existing <path> is left as it was. */
#include "h5/h5_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int evm__h5w_fail(evm__h5_writer *w, const char *kind, const char *where, const char *name)
{
    if (w->status < 0) return w->status;
    char desc[160], obj[512];
    evm__h5_error(desc);
    if (!where) snprintf(obj, sizeof obj, "%s", kind);
    else
        snprintf(obj, sizeof obj, "%s %s%s%s", kind, where, strcmp(where, "/") ? "/" : "",
                 name);
    w->status = evm__fail(w->c, EVM_ERR_HDF5, "%s: cannot write %s%s%s", w->path, obj,
                          *desc ? ": " : "", desc);
    return w->status;
}

int evm__h5w_nomem(evm__h5_writer *w)
{
    if (w->status < 0) return w->status;
    return w->status = evm__fail(w->c, EVM_ERR_NOMEM, "%s: out of memory", w->path);
}

/* ---------------------------------------------------------------- attributes */
int evm__h5w_attr(evm__h5_writer *w, hid_t loc, const char *where, const char *name,
                  hid_t ftype, hid_t mtype, hsize_t n, int scalar, const void *buf)
{
    hid_t sp = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL), a = -1;
    int ok = sp >= 0 &&
             (a = H5Acreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
             (n == 0 || H5Awrite(a, mtype, buf) >= 0);
    if (a >= 0 && H5Aclose(a) < 0) ok = 0;
    if (sp >= 0) H5Sclose(sp);
    return ok ? EVM_OK : evm__h5w_fail(w, "attribute", where, name);
}

int evm__h5w_attr_str(evm__h5_writer *w, hid_t loc, const char *where, const char *name,
                      const char *s)
{
    const char *v = s ? s : "";
    return evm__h5w_attr(w, loc, where, name, w->str, w->str, 1, 1, &v);
}

int evm__h5w_attr_i64(evm__h5_writer *w, hid_t loc, const char *where, const char *name,
                      int64_t v)
{
    return evm__h5w_attr(w, loc, where, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 1, 1, &v);
}

int evm__h5w_attr_u64(evm__h5_writer *w, hid_t loc, const char *where, const char *name,
                      uint64_t v)
{
    return evm__h5w_attr(w, loc, where, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, 1, &v);
}

int evm__h5w_attr_f64(evm__h5_writer *w, hid_t loc, const char *where, const char *name,
                      double v)
{
    return evm__h5w_attr(w, loc, where, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, 1, &v);
}

/* ---------------------------------------------------------------- datasets */
#define EVM__H5_CONV_BUF ((size_t)64 << 10)
static int dset_write(evm__h5_writer *w, hid_t loc, const char *where, const char *name,
                      hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                      const void *buf)
{
    hsize_t n = 1;
    for (int k = 0; k < rank; k++) n *= dims[k];
    hid_t sp = H5Screate_simple(rank, dims, NULL), d = -1, xfer = -1;
    /* A type-conversion buffer of EVM__H5_CONV_BUF instead of HDF5's 1 MB, which it
     * allocates and zeroes on every write that converts (the strings): with fresh pages
     * that cost more than writing the file. */
    int ok =
        sp >= 0 && (xfer = H5Pcreate(H5P_DATASET_XFER)) >= 0 &&
        H5Pset_buffer(xfer, EVM__H5_CONV_BUF, NULL, NULL) >= 0 &&
        (d = H5Dcreate2(loc, name, ftype, sp, w->lcpl, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
        (n == 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, xfer, buf) >= 0);
    if (d >= 0 && H5Dclose(d) < 0) ok = 0;
    if (xfer >= 0) H5Pclose(xfer);
    if (sp >= 0) H5Sclose(sp);
    return ok ? EVM_OK : evm__h5w_fail(w, "dataset", where, name);
}

int evm__h5w_f64(evm__h5_writer *w, hid_t loc, const char *where, const char *name,
                 const double *x, int64_t d0, int64_t d1)
{
    hsize_t dims[2] = {(hsize_t)d0, (hsize_t)(d1 < 0 ? 1 : d1)};
    size_t n = (size_t)dims[0] * (size_t)dims[1];
    double *fill = NULL;
    if (!x && n > 0) {
        if (!(fill = evm__malloc(n, sizeof *fill))) return evm__h5w_nomem(w);
        for (size_t i = 0; i < n; i++) fill[i] = NAN;
        x = fill;
    }
    int st = dset_write(w, loc, where, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                        d1 < 0 ? 1 : 2, dims, x);
    free(fill);
    return st;
}

int evm__h5w_i64(evm__h5_writer *w, hid_t loc, const char *where, const char *name,
                 const int64_t *x, int64_t n)
{
    hsize_t dims[1] = {(hsize_t)n};
    int64_t *fill = NULL;
    if (!x && n > 0) {
        if (!(fill = evm__calloc((size_t)n, sizeof *fill))) return evm__h5w_nomem(w);
        x = fill;
    }
    int st = dset_write(w, loc, where, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, x);
    free(fill);
    return st;
}

/* The strings with "" for NULL entries or a NULL array (HDF5 stores NULL apart from ""). */
static const char **strings_or_empty(char *const *s, int64_t n)
{
    const char **v = evm__malloc((size_t)n, sizeof *v);
    if (v)
        for (int64_t i = 0; i < n; i++) v[i] = s && s[i] ? s[i] : "";
    return v;
}

int evm__h5w_str(evm__h5_writer *w, hid_t loc, const char *where, const char *name,
                 char *const *s, int64_t n)
{
    hsize_t dims[1] = {(hsize_t)n};
    const char **v = strings_or_empty(s, n);
    if (!v) return evm__h5w_nomem(w);
    int st = dset_write(w, loc, where, name, w->str, w->str, 1, dims, v);
    free(v);
    return st;
}

hid_t evm__h5w_group(evm__h5_writer *w, hid_t loc, const char *where, const char *name)
{
    hid_t g = H5Gcreate2(loc, name, w->lcpl, w->gcpl, H5P_DEFAULT);
    if (g < 0) evm__h5w_fail(w, "group", where, name);
    return g;
}

/* ---------------------------------------------------------------- the sections */
/* The link name of a /ranef group: '%' and '/' are percent-encoded ("%25", "%2F"), and
 * so is every character of the names HDF5 cannot hold as links ("" -> "%00",
 * "." -> "%2E", ".." -> "%2E%2E").  read.c decodes %XX. */
static char *escape_link(const char *name)
{
    int whole = !*name || !strcmp(name, ".") || !strcmp(name, "..");
    char *out = evm__malloc(3 * strlen(name) + 4, 1), *d = out;
    if (!out) return NULL;
    if (!*name) d += sprintf(d, "%%00");
    for (const char *s = name; *s; s++) {
        if (whole || *s == '%' || *s == '/') d += sprintf(d, "%%%02X", (unsigned char)*s);
        else *d++ = *s;
    }
    *d = '\0';
    return out;
}

static void now_iso8601(char buf[32])
{
    time_t now = time(NULL);
    struct tm tm;
    if (now == (time_t)-1 || !gmtime_r(&now, &tm) ||
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        buf[0] = '\0';
}

static int write_root(evm__h5_writer *w, hid_t f, const evm_result *r)
{
    char now[32];
    const char *ver =
        r->evalmix_version && *r->evalmix_version ? r->evalmix_version : EVM_VERSION;
    const char *created = r->created;
    if (!created || !*created) {
        now_iso8601(now);
        created = now;
    }
    (void)(evm__h5w_attr_str(w, f, "/", "evalmix_version", ver) ||
           evm__h5w_attr_str(w, f, "/", "command", r->command) ||
           evm__h5w_attr_str(w, f, "/", "created", created) ||
           evm__h5w_attr_str(w, f, "/", "input", r->input) ||
           evm__h5w_attr_str(w, f, "/", "input_sha256", r->input_sha256) ||
           evm__h5w_attr_i64(w, f, "/", "threads", r->threads) ||
           evm__h5w_attr_u64(w, f, "/", "seed", r->seed));
    return w->status;
}

static int write_fit(evm__h5_writer *w, hid_t f, const evm_result *r)
{
    hid_t g = evm__h5w_group(w, f, "/", "fit");
    if (g < 0) return w->status;
    const char *p = "/fit";
    (void)(evm__h5w_attr_str(w, g, p, "formula", r->formula) ||
           evm__h5w_attr_str(w, g, p, "method", r->reml ? "REML" : "ML") ||
           evm__h5w_attr_f64(w, g, p, "objective", r->objective) ||
           evm__h5w_attr_f64(w, g, p, "loglik", r->loglik) ||
           evm__h5w_attr_f64(w, g, p, "aic", r->aic) ||
           evm__h5w_attr_f64(w, g, p, "bic", r->bic) ||
           evm__h5w_attr_f64(w, g, p, "sigma", r->sigma) ||
           evm__h5w_attr_i64(w, g, p, "n_obs", r->n_obs) ||
           evm__h5w_attr_i64(w, g, p, "converged", r->converged != 0) ||
           evm__h5w_attr_i64(w, g, p, "singular", r->singular != 0) ||
           evm__h5w_attr_i64(w, g, p, "n_evaluations", r->n_evaluations) ||
           evm__h5w_attr_str(w, g, p, "optimizer", r->optimizer) ||
           evm__h5w_attr_str(w, g, p, "message", r->message) ||
           evm__h5w_f64(w, g, p, "theta", r->theta, r->ntheta, -1) ||
           evm__h5w_f64(w, g, p, "resid_quantiles", r->resid_quantiles, 5, -1));
    H5Gclose(g);
    return w->status;
}

static int write_fixef(evm__h5_writer *w, hid_t f, const evm_result *r)
{
    hid_t g = evm__h5w_group(w, f, "/", "fixef");
    if (g < 0) return w->status;
    const char *p = "/fixef";
    (void)(evm__h5w_attr_str(w, g, p, "ddf", r->ddf && *r->ddf ? r->ddf : "none") ||
           evm__h5w_str(w, g, p, "name", r->fixef_name, r->p) ||
           evm__h5w_f64(w, g, p, "estimate", r->beta, r->p, -1) ||
           evm__h5w_f64(w, g, p, "se", r->se, r->p, -1) ||
           evm__h5w_f64(w, g, p, "df", r->df, r->p, -1) ||
           evm__h5w_f64(w, g, p, "t", r->t, r->p, -1) ||
           evm__h5w_f64(w, g, p, "p", r->pval, r->p, -1) ||
           evm__h5w_f64(w, g, p, "vcov", r->vcov, r->p, r->p) ||
           evm__h5w_str(w, g, p, "dropped", r->dropped, r->ndropped));
    H5Gclose(g);
    return w->status;
}

static int write_varcomp(evm__h5_writer *w, hid_t f, const evm_result *r)
{
    hid_t g = evm__h5w_group(w, f, "/", "varcomp");
    if (g < 0) return w->status;
    const char *p = "/varcomp";
    (void)(evm__h5w_str(w, g, p, "group", r->vc_group, r->nvc) ||
           evm__h5w_str(w, g, p, "var1", r->vc_var1, r->nvc) ||
           evm__h5w_str(w, g, p, "var2", r->vc_var2, r->nvc) ||
           evm__h5w_f64(w, g, p, "vcov", r->vc_vcov, r->nvc, -1) ||
           evm__h5w_f64(w, g, p, "sdcor", r->vc_sdcor, r->nvc, -1));
    H5Gclose(g);
    return w->status;
}

static int write_ranef_group(evm__h5_writer *w, hid_t rg, const evm_ranef *re)
{
    char *link = escape_link(re->name ? re->name : "");
    if (!link) return evm__h5w_nomem(w);
    char *where = evm__asprintf("/ranef/%s", link);
    hid_t g = where ? evm__h5w_group(w, rg, "/ranef", link) : -1;
    if (!where) evm__h5w_nomem(w);
    if (g >= 0) {
        (void)(evm__h5w_str(w, g, where, "level", re->level, re->nlevels) ||
               evm__h5w_str(w, g, where, "term", re->term, re->nterms) ||
               evm__h5w_f64(w, g, where, "mode", re->mode, re->nlevels, re->nterms) ||
               evm__h5w_f64(w, g, where, "condsd", re->condsd, re->nlevels, re->nterms));
        H5Gclose(g);
    }
    free(where);
    free(link);
    return w->status;
}

static int write_ranef(evm__h5_writer *w, hid_t f, const evm_result *r)
{
    hid_t g = evm__h5w_group(w, f, "/", "ranef");
    if (g < 0) return w->status;
    /* The order again as an attribute, for readers that list links by name. */
    const char **order = strings_or_empty(NULL, r->nranef);
    if (!order) evm__h5w_nomem(w);
    else {
        for (int i = 0; i < r->nranef; i++)
            if (r->ranef[i].name) order[i] = r->ranef[i].name;
        evm__h5w_attr(w, g, "/ranef", "order", w->str, w->str, (hsize_t)r->nranef, 0,
                      order);
        free(order);
    }
    for (int i = 0; i < r->nranef && w->status >= 0; i++)
        write_ranef_group(w, g, &r->ranef[i]);
    H5Gclose(g);
    return w->status;
}

static int write_tables(evm__h5_writer *w, hid_t f, const evm_result *r)
{
    hid_t g = evm__h5w_group(w, f, "/", "groups");
    if (g < 0) return w->status;
    (void)(evm__h5w_str(w, g, "/groups", "name", r->group_name, r->ngroups) ||
           evm__h5w_i64(w, g, "/groups", "nlevels", r->group_nlevels, r->ngroups));
    H5Gclose(g);
    if (w->status < 0 || (g = evm__h5w_group(w, f, "/", "icc")) < 0) return w->status;
    (void)(evm__h5w_str(w, g, "/icc", "group", r->icc_group, r->nicc) ||
           evm__h5w_f64(w, g, "/icc", "value", r->icc, r->nicc, -1));
    H5Gclose(g);
    if (w->status < 0 || (g = evm__h5w_group(w, f, "/", "data")) < 0) return w->status;
    (void)(evm__h5w_attr_i64(w, g, "/data", "rows_read", r->rows_read) ||
           evm__h5w_attr_i64(w, g, "/data", "rows_used", r->rows_used) ||
           evm__h5w_attr_i64(w, g, "/data", "rows_dropped", r->rows_dropped) ||
           evm__h5w_attr_str(w, g, "/data", "drop_reason", r->drop_reason));
    H5Gclose(g);
    return w->status;
}

/* Counts the file cannot represent are the caller's error, found before any file
 * exists. */
static int check_counts(const char *path, const evm_result *r, evm_ctx *c)
{
    if (r->ntheta < 0 || r->p < 0 || r->ndropped < 0 || r->nvc < 0 || r->nranef < 0 ||
        r->ngroups < 0 || r->nicc < 0)
        return evm__fail(c, EVM_ERR_ARG, "%s: result has a negative count", path);
    if (r->p > 0 && (size_t)r->p > SIZE_MAX / sizeof(double) / (size_t)r->p)
        return evm__fail(c, EVM_ERR_ARG, "%s: p = %d is too large", path, r->p);
    if (r->nranef > 0 && !r->ranef)
        return evm__fail(c, EVM_ERR_ARG, "%s: result has nranef = %d but no ranef array",
                         path, r->nranef);
    for (int i = 0; i < r->nranef; i++) {
        const evm_ranef *re = &r->ranef[i];
        if (re->nlevels < 0 || re->nterms < 0 ||
            (re->nterms > 0 &&
             (uint64_t)re->nlevels > SIZE_MAX / sizeof(double) / (uint64_t)re->nterms))
            return evm__fail(c, EVM_ERR_ARG,
                             "%s: random-effects group %d has a bad size (%lld x %d)", path,
                             i + 1, (long long)re->nlevels, re->nterms);
    }
    return evm__h5_check_infer(path, r, c);
}

/* Create "<path>.tmp.<pid>.<n>" exclusively, so two writers never share a name. */
static int create_temp(const char *path, char **tmp, evm_ctx *c)
{
    int fd = -1, err = 0;
    for (unsigned n = 0; n < 1000; n++) {
        free(*tmp);
        if (!(*tmp = evm__asprintf("%s.tmp.%ld.%u", path, (long)getpid(), n)))
            return evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory", path);
        fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        err = errno;
        if (fd >= 0 || err != EEXIST) break;
    }
    if (fd < 0) {
        free(*tmp);
        *tmp = NULL;
        return evm__fail(c, EVM_ERR_IO, "%s: cannot create file: %s", path, strerror(err));
    }
    close(fd);
    return EVM_OK;
}

/* Data on disk before the rename makes the new name visible. */
static int sync_file(const char *tmp)
{
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int st = fsync(fd);
    close(fd);
    return st;
}

int evm_h5_write_fit(const char *path, const evm_result *r, evm_ctx *c)
{
    if (!path || !*path) return evm__fail(c, EVM_ERR_ARG, "evm_h5_write_fit: empty path");
    if (!r) return evm__fail(c, EVM_ERR_ARG, "%s: no result to write", path);
    int st = check_counts(path, r, c);
    if (st < 0) return st;

    evm__h5_quiet quiet;
    evm__h5_silence(&quiet);
    evm__h5_writer w = {path, c, -1, -1, -1, EVM_OK};
    char *tmp = NULL;
    hid_t fcpl = -1, fapl = -1, file = -1;
    if ((st = create_temp(path, &tmp, c)) < 0) goto cleanup;

    if ((w.str = evm__h5_vlen_utf8()) < 0 || (w.lcpl = H5Pcreate(H5P_LINK_CREATE)) < 0 ||
        H5Pset_char_encoding(w.lcpl, H5T_CSET_UTF8) < 0 ||
        (w.gcpl = H5Pcreate(H5P_GROUP_CREATE)) < 0 ||
        H5Pset_link_creation_order(w.gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) <
            0 ||
        (fcpl = H5Pcreate(H5P_FILE_CREATE)) < 0 ||
        H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) <
            0 ||
        (fapl = evm__h5_write_fapl()) < 0) {
        st = evm__h5w_fail(&w, "file", NULL, NULL);
        goto cleanup;
    }
    if ((file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl)) < 0) {
        st = evm__h5w_fail(&w, "file", NULL, NULL);
        goto cleanup;
    }
    if ((st = write_root(&w, file, r)) < 0 || (st = write_fit(&w, file, r)) < 0 ||
        (st = write_fixef(&w, file, r)) < 0 || (st = write_varcomp(&w, file, r)) < 0 ||
        (st = write_ranef(&w, file, r)) < 0 || (st = write_tables(&w, file, r)) < 0 ||
        (st = evm__h5_write_infer(&w, file, r)) < 0)
        goto cleanup;
    herr_t closed = H5Fclose(file);
    file = -1;
    if (closed < 0) {
        st = evm__h5w_fail(&w, "file", NULL, NULL);
        goto cleanup;
    }
    if (sync_file(tmp) < 0 || rename(tmp, path) < 0) {
        st = evm__fail(c, EVM_ERR_IO, "%s: cannot write file: %s", path, strerror(errno));
        goto cleanup;
    }
    free(tmp);
    tmp = NULL;
    st = EVM_OK;

cleanup:
    if (file >= 0) H5Fclose(file);
    if (tmp) unlink(tmp);
    free(tmp);
    if (fapl >= 0) H5Pclose(fapl);
    if (fcpl >= 0) H5Pclose(fcpl);
    if (w.gcpl >= 0) H5Pclose(w.gcpl);
    if (w.lcpl >= 0) H5Pclose(w.lcpl);
    if (w.str >= 0) H5Tclose(w.str);
    evm__h5_restore(&quiet);
    return st;
}
