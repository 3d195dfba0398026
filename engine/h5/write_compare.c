/* write_compare.c — evm_h5_write_compare: a model-comparison table (evalmix compare
 * --out) to an HDF5 file, one dataset per column (layout: docs/hdf5.md, "Model
 * comparisons").  Atomic as evm_h5_write_fit: built under "<path>.tmp.<pid>.<n>", synced
 * and renamed; on failure the temporary file is removed and <path> is left alone. */
#include "h5/h5_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *path;
    evm_ctx *c;
    hid_t str, lcpl, gcpl;
    int status;
} cwriter;

/* Record the first failure (later ones are its consequences). */
static int cfail(cwriter *w, const char *what, const char *name)
{
    if (w->status < 0) return w->status;
    char desc[160];
    evm__h5_error(desc);
    return w->status = evm__fail(w->c, EVM_ERR_HDF5, "%s: cannot write %s%s%s%s%s", w->path,
                                 what, *name ? " " : "", name, *desc ? ": " : "", desc);
}

static int cattr(cwriter *w, hid_t loc, const char *name, hid_t type, const void *buf)
{
    if (w->status < 0) return w->status;
    hid_t sp = H5Screate(H5S_SCALAR), a = -1;
    int ok = sp >= 0 && (a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
             H5Awrite(a, type, buf) >= 0;
    if (a >= 0 && H5Aclose(a) < 0) ok = 0;
    if (sp >= 0) H5Sclose(sp);
    return ok ? EVM_OK : cfail(w, "attribute", name);
}

static int cattr_str(cwriter *w, hid_t loc, const char *name, const char *s)
{
    const char *v = s ? s : "";
    return cattr(w, loc, name, w->str, &v);
}

static int cattr_i64(cwriter *w, hid_t loc, const char *name, int64_t v)
{
    if (w->status < 0) return w->status;
    hid_t sp = H5Screate(H5S_SCALAR), a = -1;
    int ok = sp >= 0 &&
             (a = H5Acreate2(loc, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
             H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0;
    if (a >= 0 && H5Aclose(a) < 0) ok = 0;
    if (sp >= 0) H5Sclose(sp);
    return ok ? EVM_OK : cfail(w, "attribute", name);
}

static int cdset(cwriter *w, hid_t loc, const char *name, hid_t ftype, hid_t mtype, int n,
                 const void *buf)
{
    if (w->status < 0) return w->status;
    hsize_t dims[1] = {(hsize_t)n};
    hid_t sp = H5Screate_simple(1, dims, NULL), d = -1;
    int ok = sp >= 0 &&
             (d = H5Dcreate2(loc, name, ftype, sp, w->lcpl, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
             (n == 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    if (d >= 0 && H5Dclose(d) < 0) ok = 0;
    if (sp >= 0) H5Sclose(sp);
    return ok ? EVM_OK : cfail(w, "dataset /compare/", name);
}

static int cdset_str(cwriter *w, hid_t loc, const char *name, char *const *s, int n)
{
    const char **v = evm__malloc((size_t)n, sizeof *v);
    if (!v) return w->status = evm__fail(w->c, EVM_ERR_NOMEM, "%s: out of memory", w->path);
    for (int i = 0; i < n; i++) v[i] = s && s[i] ? s[i] : "";
    int st = cdset(w, loc, name, w->str, w->str, n, v);
    free(v);
    return st;
}

static int cdset_f64(cwriter *w, hid_t loc, const char *name, const double *x, int n)
{
    return cdset(w, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, x);
}

static int write_tables(cwriter *w, hid_t f, const evm_comparison *t, const char *command)
{
    char now[32] = "";
    time_t tt = time(NULL);
    struct tm tm;
    if (tt != (time_t)-1 && gmtime_r(&tt, &tm))
        strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    (void)(cattr_str(w, f, "evalmix_version", EVM_VERSION) ||
           cattr_str(w, f, "command", command) || cattr_str(w, f, "created", now));
    if (w->status < 0) return w->status;
    /* the datasets in creation order, as the table's columns */
    hid_t g = H5Gcreate2(f, "compare", w->lcpl, w->gcpl, H5P_DEFAULT);
    if (g < 0) return cfail(w, "group", "/compare");
    (void)(cattr_str(w, g, "method", t->reml ? "REML" : "ML") ||
           cattr_i64(w, g, "n_obs", t->n_obs) || cattr_str(w, g, "input", t->input) ||
           cattr_str(w, g, "input_sha256", t->input_sha256) ||
           cdset_str(w, g, "model", t->model, t->n) ||
           cdset_str(w, g, "file", t->file, t->n) ||
           cdset_str(w, g, "formula", t->formula, t->n) ||
           cdset(w, g, "npar", H5T_STD_I64LE, H5T_NATIVE_INT64, t->n, t->npar) ||
           cdset_f64(w, g, "aic", t->aic, t->n) || cdset_f64(w, g, "bic", t->bic, t->n) ||
           cdset_f64(w, g, "loglik", t->loglik, t->n) ||
           cdset_f64(w, g, "deviance", t->deviance, t->n) ||
           cdset_f64(w, g, "chisq", t->chisq, t->n) || cdset_f64(w, g, "df", t->df, t->n) ||
           cdset_f64(w, g, "p", t->p, t->n) ||
           cdset_f64(w, g, "p_mixture", t->p_mixture, t->n));
    H5Gclose(g);
    return w->status;
}

int evm_h5_write_compare(const char *path, const evm_comparison *t, const char *command,
                         evm_ctx *c)
{
    if (!path || !*path) return evm__fail(c, EVM_ERR_ARG, "evm_h5_write_compare: empty path");
    if (!t || t->n < 0) return evm__fail(c, EVM_ERR_ARG, "%s: no comparison to write", path);

    evm__h5_quiet quiet;
    evm__h5_silence(&quiet);
    cwriter w = {path, c, -1, -1, -1, EVM_OK};
    char *tmp = NULL;
    hid_t fcpl = -1, fapl = -1, file = -1;
    int st = EVM_OK, fd = -1, err = 0;
    /* an exclusive temporary name next to path, so two writers never share one */
    for (unsigned k = 0; k < 1000; k++) {
        free(tmp);
        if (!(tmp = evm__asprintf("%s.tmp.%ld.%u", path, (long)getpid(), k))) {
            st = evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory", path);
            goto cleanup;
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        err = errno;
        if (fd >= 0 || err != EEXIST) break;
    }
    if (fd < 0) {
        free(tmp);
        tmp = NULL;
        st = evm__fail(c, EVM_ERR_IO, "%s: cannot create file: %s", path, strerror(err));
        goto cleanup;
    }
    close(fd);
    if ((w.str = evm__h5_vlen_utf8()) < 0 || (w.lcpl = H5Pcreate(H5P_LINK_CREATE)) < 0 ||
        H5Pset_char_encoding(w.lcpl, H5T_CSET_UTF8) < 0 ||
        (w.gcpl = H5Pcreate(H5P_GROUP_CREATE)) < 0 ||
        H5Pset_link_creation_order(w.gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) <
            0 ||
        (fcpl = H5Pcreate(H5P_FILE_CREATE)) < 0 ||
        H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0 ||
        (fapl = evm__h5_write_fapl()) < 0 ||
        (file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl)) < 0) {
        st = cfail(&w, "file", "");
        goto cleanup;
    }
    if ((st = write_tables(&w, file, t, command)) < 0) goto cleanup;
    herr_t closed = H5Fclose(file);
    file = -1;
    if (closed < 0) {
        st = cfail(&w, "file", "");
        goto cleanup;
    }
    int sfd = open(tmp, O_RDONLY | O_CLOEXEC);
    int synced = sfd >= 0 && fsync(sfd) == 0;
    if (sfd >= 0) close(sfd);
    if (!synced || rename(tmp, path) < 0) {
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
