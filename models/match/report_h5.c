/* report_h5.c — the HDF5 report of a match (`evalmix match --report FILE.h5`): root
 * provenance, /match (settings, sample sizes, unmatched students, propensity model) and
 * /balance (one row per covariate).  Conventions of docs/hdf5.md: float64 / int64 /
 * variable-length UTF-8 strings, one dataset per table column, link creation order
 * tracked, written under a temporary name and renamed when complete. */
#include "match_internal.h"

#include "h5/h5_internal.h"

#include <hdf5.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *path;
    evm_ctx *c;
    hid_t str, gcpl;
    int status;
} writer;

static int hfail(writer *w, const char *what)
{
    if (w->status < 0) return w->status;
    return w->status = evm__fail(w->c, EVM_ERR_HDF5, "%s: cannot write %s", w->path, what);
}

static int attr(writer *w, hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                const void *buf)
{
    if (w->status < 0) return w->status;
    hid_t sp = H5Screate(H5S_SCALAR), a = -1;
    int ok = sp >= 0 && (a = H5Acreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
             H5Awrite(a, mtype, buf) >= 0;
    if (a >= 0 && H5Aclose(a) < 0) ok = 0;
    if (sp >= 0) H5Sclose(sp);
    return ok ? 0 : hfail(w, name);
}

static int attr_str(writer *w, hid_t loc, const char *name, const char *s)
{
    const char *v = s ? s : "";
    return attr(w, loc, name, w->str, w->str, &v);
}

static int attr_i64(writer *w, hid_t loc, const char *name, int64_t v)
{
    return attr(w, loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

static int attr_u64(writer *w, hid_t loc, const char *name, uint64_t v)
{
    return attr(w, loc, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v);
}

static int attr_f64(writer *w, hid_t loc, const char *name, double v)
{
    return attr(w, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

static int dset(writer *w, hid_t loc, const char *name, hid_t ftype, hid_t mtype, hsize_t n,
                const void *buf)
{
    if (w->status < 0) return w->status;
    hid_t sp = H5Screate_simple(1, &n, NULL), d = -1;
    int ok = sp >= 0 &&
             (d = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
             (n == 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    if (d >= 0 && H5Dclose(d) < 0) ok = 0;
    if (sp >= 0) H5Sclose(sp);
    return ok ? 0 : hfail(w, name);
}

static int f64(writer *w, hid_t loc, const char *name, const double *x, int64_t n)
{
    return dset(w, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, (hsize_t)n, x);
}

static int i64(writer *w, hid_t loc, const char *name, const int64_t *x, int64_t n)
{
    return dset(w, loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, (hsize_t)n, x);
}

static int strs(writer *w, hid_t loc, const char *name, const char *const *s, int64_t n)
{
    return dset(w, loc, name, w->str, w->str, (hsize_t)n, s);
}

static hid_t group(writer *w, hid_t loc, const char *name)
{
    if (w->status < 0) return -1;
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, w->gcpl, H5P_DEFAULT);
    if (g < 0) hfail(w, name);
    return g;
}

static const char *method_str(evm_match_method m)
{
    return m == EVM_MATCH_VCG ? "vcg" : m == EVM_MATCH_CEM ? "cem" : "nearest";
}

static const char *distance_str(const evm_match_result *r)
{
    if (r->method == EVM_MATCH_CEM) return "none";
    return r->distance_kind == EVM_DIST_LOGIT         ? "logit"
           : r->distance_kind == EVM_DIST_MAHALANOBIS ? "mahalanobis"
                                                      : "ps";
}

static char *join(int n, const char *const *v)
{
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(v[i]) + 1;
    char *s = malloc(len);
    if (!s) return NULL;
    s[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i) strcat(s, ",");
        strcat(s, v[i]);
    }
    return s;
}

static int write_match(writer *w, hid_t file, const evm_match_result *r,
                       const evm_match_opts *o, const evm_frame *f)
{
    hid_t g = group(w, file, "match");
    if (g < 0) return w->status;
    char *cov = join(o->ncov, o->covariates), *ex = join(o->nexact, o->exact);
    const char **ids = calloc((size_t)(r->n1_unmatched > 0 ? r->n1_unmatched : 1), sizeof *ids);
    char **idbuf = calloc((size_t)(r->n1_unmatched > 0 ? r->n1_unmatched : 1), sizeof *idbuf);
    int64_t *rows = malloc((size_t)(r->n1_unmatched > 0 ? r->n1_unmatched : 1) * sizeof *rows);
    if (!cov || !ex || !ids || !idbuf || !rows) {
        w->status = evm__fail(w->c, EVM_ERR_NOMEM, "%s: out of memory", w->path);
        goto done;
    }
    attr_str(w, g, "method", method_str(r->method));
    attr_str(w, g, "distance", distance_str(r));
    attr_str(w, g, "estimand", "ATT");
    attr_str(w, g, "treatment", o->treatment);
    attr_str(w, g, "covariates", cov);
    attr_str(w, g, "exact", ex);
    attr_i64(w, g, "ratio", r->ratio);
    attr_i64(w, g, "replace", r->replace);
    attr_str(w, g, "m_order", r->method == EVM_MATCH_CEM || r->replace ? ""
                              : r->distance_kind == EVM_DIST_MAHALANOBIS ? "data" : "largest");
    attr_f64(w, g, "caliper", r->caliper);
    attr_f64(w, g, "caliper_width", r->caliper_width);
    attr_u64(w, g, "seed", r->seed);
    attr_i64(w, g, "n_treated", r->n1);
    attr_i64(w, g, "n_control", r->n0);
    attr_i64(w, g, "n_treated_matched", r->n1_matched);
    attr_i64(w, g, "n_control_matched", r->n0_matched);
    attr_i64(w, g, "n_treated_unmatched", r->n1_unmatched);
    attr_i64(w, g, "n_treated_short", r->n1_short);
    attr_f64(w, g, "ess_control", r->ess0);
    attr_i64(w, g, "n_sets", r->nsets);
    attr_i64(w, g, "n_cells", r->ncells);
    int idcol = o->id ? evm_frame_find(f, o->id, -1) : -1;
    for (int64_t i = 0; i < r->n1_unmatched; i++) {
        int64_t row = r->unmatched_row[i];
        rows[i] = row + 1;
        if (idcol >= 0 && evm_frame_type(f, idcol) == EVM_COL_FACTOR) {
            int32_t k = evm_frame_codes(f, idcol)[row];
            ids[i] = k >= 0 ? evm_frame_level(f, idcol, k) : "";
        } else {
            idbuf[i] = idcol >= 0 ? evm__asprintf("%.15g", evm_frame_numeric(f, idcol)[row])
                                  : evm__asprintf("%lld", (long long)row + 1);
            ids[i] = idbuf[i] ? idbuf[i] : "";
        }
    }
    i64(w, g, "unmatched_row", rows, r->n1_unmatched);
    strs(w, g, "unmatched_id", ids, r->n1_unmatched);
    if (r->nterm > 0) {
        hid_t m = group(w, g, "model");
        if (m >= 0) {
            attr_str(w, m, "family", "quasibinomial(link = \"logit\")");
            attr_i64(w, m, "iterations", r->iterations);
            attr_i64(w, m, "converged", r->converged);
            attr_i64(w, m, "separation", r->separation);
            attr_f64(w, m, "deviance", r->deviance);
            strs(w, m, "term", (const char *const *)r->term, r->nterm);
            f64(w, m, "estimate", r->coef, r->nterm);
            H5Gclose(m);
        }
    }
done:
    for (int64_t i = 0; idbuf && i < r->n1_unmatched; i++) free(idbuf[i]);
    free(idbuf);
    free(ids);
    free(rows);
    free(cov);
    free(ex);
    H5Gclose(g);
    return w->status;
}

static int write_balance(writer *w, hid_t file, const evm_match_result *r)
{
    hid_t g = group(w, file, "balance");
    if (g < 0) return w->status;
    int n = r->nbal;
    size_t m = (size_t)(n > 0 ? n : 1);
    const char **name = calloc(m, sizeof *name), **kind = calloc(m, sizeof *kind);
    const char **index = calloc(m, sizeof *index), **verdict = calloc(m, sizeof *verdict);
    double *v = malloc(m * sizeof *v);
    if (!name || !kind || !index || !verdict || !v) {
        w->status = evm__fail(w->c, EVM_ERR_NOMEM, "%s: out of memory", w->path);
        goto done;
    }
    static const char *const kinds[] = {"distance", "continuous", "binary"};
    for (int j = 0; j < n; j++) {
        const evm_balance_row *b = &r->bal[j];
        name[j] = b->name;
        kind[j] = kinds[b->kind];
        index[j] = b->kind == 2 ? "cox" : b->kind == 1 ? "hedges_g" : "";
        verdict[j] = evm_match_verdict_str(b->verdict);
    }
    strs(w, g, "covariate", name, n);
    strs(w, g, "type", kind, n);
#define COLUMN(field, k, label)                                                     \
    do {                                                                            \
        for (int j = 0; j < n; j++) v[j] = r->bal[j].field[k];                      \
        f64(w, g, label, v, n);                                                     \
    } while (0)
    COLUMN(mean_t, 0, "mean_treated_before");
    COLUMN(mean_c, 0, "mean_control_before");
    COLUMN(smd, 0, "smd_before");
    COLUMN(var_ratio, 0, "var_ratio_before");
    COLUMN(ecdf_mean, 0, "ecdf_mean_before");
    COLUMN(ecdf_max, 0, "ecdf_max_before");
    COLUMN(mean_t, 1, "mean_treated_after");
    COLUMN(mean_c, 1, "mean_control_after");
    COLUMN(smd, 1, "smd_after");
    COLUMN(var_ratio, 1, "var_ratio_after");
    COLUMN(ecdf_mean, 1, "ecdf_mean_after");
    COLUMN(ecdf_max, 1, "ecdf_max_after");
    strs(w, g, "wwc_index", index, n);
    COLUMN(wwc, 0, "wwc_before");
    COLUMN(wwc, 1, "wwc_after");
#undef COLUMN
    strs(w, g, "wwc_verdict", verdict, n);
done:
    free(name);
    free(kind);
    free(index);
    free(verdict);
    free(v);
    H5Gclose(g);
    return w->status;
}

int evm_match_write_h5(const char *path, const evm_match_result *r, const evm_match_opts *o,
                       const evm_frame *f, const evm_match_provenance *p, evm_ctx *c)
{
    H5E_auto2_t efunc = NULL;
    void *edata = NULL;
    H5Eget_auto2(H5E_DEFAULT, &efunc, &edata);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);   /* the library never prints on its own */
    writer w = {path, c, -1, -1, 0};
    hid_t fcpl = -1, fapl = -1, file = -1;
    char *tmp = NULL;
    int fd = -1;
    for (unsigned k = 0; k < 1000 && fd < 0; k++) {
        free(tmp);
        if (!(tmp = evm__asprintf("%s.tmp.%ld.%u", path, (long)getpid(), k))) break;
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        w.status = evm__fail(c, tmp ? EVM_ERR_IO : EVM_ERR_NOMEM, "%s: cannot create file: %s",
                             path, tmp ? strerror(errno) : "out of memory");
        free(tmp);
        tmp = NULL;
        goto cleanup;
    }
    close(fd);
    w.str = H5Tcopy(H5T_C_S1);
    if (w.str < 0 || H5Tset_size(w.str, H5T_VARIABLE) < 0 ||
        H5Tset_cset(w.str, H5T_CSET_UTF8) < 0 || (w.gcpl = H5Pcreate(H5P_GROUP_CREATE)) < 0 ||
        H5Pset_link_creation_order(w.gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0 ||
        (fcpl = H5Pcreate(H5P_FILE_CREATE)) < 0 ||
        H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0 ||
        (fapl = evm__h5_write_fapl()) < 0 ||   /* checksummed metadata, as every result file */
        (file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl)) < 0) {
        hfail(&w, "file");
        goto cleanup;
    }
    attr_str(&w, file, "evalmix_version", EVM_VERSION);
    attr_str(&w, file, "command", p ? p->command : "");
    attr_str(&w, file, "created", p ? p->created : "");
    attr_str(&w, file, "input", p ? p->input : "");
    attr_str(&w, file, "input_sha256", p ? p->input_sha256 : "");
    attr_i64(&w, file, "threads", p ? p->threads : 1);
    attr_u64(&w, file, "seed", r->seed);
    if (w.status < 0 || write_match(&w, file, r, o, f) < 0 || write_balance(&w, file, r) < 0)
        goto cleanup;
    herr_t closed = H5Fclose(file);
    file = -1;
    if (closed < 0) {
        hfail(&w, "file");
        goto cleanup;
    }
    int sfd = open(tmp, O_RDONLY | O_CLOEXEC);
    int synced = sfd >= 0 && fsync(sfd) == 0;
    if (sfd >= 0) close(sfd);
    if (!synced || rename(tmp, path) != 0) {
        w.status = evm__fail(c, EVM_ERR_IO, "%s: cannot write file: %s", path, strerror(errno));
        goto cleanup;
    }
    free(tmp);
    tmp = NULL;
cleanup:
    if (file >= 0) H5Fclose(file);
    if (tmp) unlink(tmp);
    free(tmp);
    if (fcpl >= 0) H5Pclose(fcpl);
    if (fapl >= 0) H5Pclose(fapl);
    if (w.gcpl >= 0) H5Pclose(w.gcpl);
    if (w.str >= 0) H5Tclose(w.str);
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, efunc, edata);
    return w.status;
}
