/* write_infer.c — the inference sections of a result file (docs/hdf5.md): /fixef/vcov_adj,
 * /contrasts, /anova, /ci, /bootstrap and /robust.  Each is written only when the result
 * holds it (vcov_adj or robust_cluster not NULL, a count above 0); an absent section is
 * simply absent from the file. */
#include "h5/h5_internal.h"

#include <stdint.h>

/* n x m doubles fit in memory (and so in a size_t); both >= 0. */
static int fits(int64_t n, int64_t m)
{
    return m == 0 || (uint64_t)n <= SIZE_MAX / sizeof(double) / (uint64_t)m;
}

int evm__h5_check_infer(const char *path, const evm_result *r, evm_ctx *c)
{
    static const char *what[5] = {"ncontrasts", "nanova", "nci", "nboot", "nbootpar"};
    const int64_t n[5] = {r->ncontrasts, r->nanova, r->nci, r->nboot, r->nbootpar};
    for (int k = 0; k < 5; k++)
        if (n[k] < 0)
            return evm__fail(c, EVM_ERR_ARG, "%s: result has a negative count (%s = %lld)",
                             path, what[k], (long long)n[k]);
    if (r->ncontrasts > 0 && !fits(r->ncontrasts, r->p))
        return evm__fail(c, EVM_ERR_ARG, "%s: contrast weights of %d x %d are too large",
                         path, r->ncontrasts, r->p);
    if (r->nboot > 0 && !fits(r->nboot, r->nbootpar))
        return evm__fail(c, EVM_ERR_ARG,
                         "%s: bootstrap replicates of %lld x %d are too large", path,
                         (long long)r->nboot, r->nbootpar);
    if (r->robust_cluster && r->robust_nclusters < 0)
        return evm__fail(c, EVM_ERR_ARG,
                         "%s: result has a negative count (n_clusters = %lld)", path,
                         (long long)r->robust_nclusters);
    return EVM_OK;
}

/* Kenward-Roger's adjusted Var(β), next to /fixef/vcov. */
static int write_vcov_adj(evm__h5_writer *w, hid_t f, const evm_result *r)
{
    hid_t g = H5Gopen2(f, "fixef", H5P_DEFAULT);
    if (g < 0) return evm__h5w_fail(w, "group", "/", "fixef");
    evm__h5w_f64(w, g, "/fixef", "vcov_adj", r->vcov_adj, r->p, r->p);
    H5Gclose(g);
    return w->status;
}

static int write_contrasts(evm__h5_writer *w, hid_t f, const evm_result *r)
{
    hid_t g = evm__h5w_group(w, f, "/", "contrasts");
    if (g < 0) return w->status;
    const char *p = "/contrasts";
    const int k = r->ncontrasts;
    (void)(evm__h5w_str(w, g, p, "name", r->con_name, k) ||
           evm__h5w_str(w, g, p, "expr", r->con_expr, k) ||
           evm__h5w_f64(w, g, p, "L", r->con_L, k, r->p) ||
           evm__h5w_f64(w, g, p, "estimate", r->con_est, k, -1) ||
           evm__h5w_f64(w, g, p, "se", r->con_se, k, -1) ||
           evm__h5w_f64(w, g, p, "df", r->con_df, k, -1) ||
           evm__h5w_f64(w, g, p, "t", r->con_t, k, -1) ||
           evm__h5w_f64(w, g, p, "p", r->con_p, k, -1));
    H5Gclose(g);
    return w->status;
}

static int write_anova(evm__h5_writer *w, hid_t f, const evm_result *r)
{
    hid_t g = evm__h5w_group(w, f, "/", "anova");
    if (g < 0) return w->status;
    const char *p = "/anova";
    const int k = r->nanova;
    (void)(evm__h5w_str(w, g, p, "term", r->anova_term, k) ||
           evm__h5w_f64(w, g, p, "F", r->anova_F, k, -1) ||
           evm__h5w_f64(w, g, p, "num_df", r->anova_ndf, k, -1) ||
           evm__h5w_f64(w, g, p, "den_df", r->anova_ddf, k, -1) ||
           evm__h5w_f64(w, g, p, "p", r->anova_p, k, -1));
    H5Gclose(g);
    return w->status;
}

static int write_ci(evm__h5_writer *w, hid_t f, const evm_result *r)
{
    hid_t g = evm__h5w_group(w, f, "/", "ci");
    if (g < 0) return w->status;
    const char *p = "/ci";
    const int k = r->nci;
    (void)(evm__h5w_attr_str(w, g, p, "method", r->ci_method) ||
           evm__h5w_attr_f64(w, g, p, "level", r->ci_level) ||
           evm__h5w_str(w, g, p, "param", r->ci_param, k) ||
           evm__h5w_f64(w, g, p, "lower", r->ci_lower, k, -1) ||
           evm__h5w_f64(w, g, p, "upper", r->ci_upper, k, -1));
    H5Gclose(g);
    return w->status;
}

static int write_bootstrap(evm__h5_writer *w, hid_t f, const evm_result *r)
{
    hid_t g = evm__h5w_group(w, f, "/", "bootstrap");
    if (g < 0) return w->status;
    const char *p = "/bootstrap";
    const int k = r->nbootpar;
    (void)(evm__h5w_attr_i64(w, g, p, "n", r->nboot) ||
           evm__h5w_attr_i64(w, g, p, "n_ok", r->nboot_ok) ||
           evm__h5w_attr_u64(w, g, p, "seed", r->boot_seed) ||
           evm__h5w_attr_f64(w, g, p, "level", r->ci_level) ||
           evm__h5w_str(w, g, p, "param", r->boot_param, k) ||
           evm__h5w_f64(w, g, p, "estimates", r->boot_est, r->nboot, k) ||
           evm__h5w_f64(w, g, p, "lower", r->boot_lower, k, -1) ||
           evm__h5w_f64(w, g, p, "upper", r->boot_upper, k, -1));
    H5Gclose(g);
    return w->status;
}

static int write_robust(evm__h5_writer *w, hid_t f, const evm_result *r)
{
    hid_t g = evm__h5w_group(w, f, "/", "robust");
    if (g < 0) return w->status;
    const char *p = "/robust";
    (void)(evm__h5w_attr_str(w, g, p, "cluster", r->robust_cluster) ||
           evm__h5w_attr_i64(w, g, p, "n_clusters", r->robust_nclusters) ||
           evm__h5w_f64(w, g, p, "se", r->robust_se, r->p, -1) ||
           evm__h5w_f64(w, g, p, "df", r->robust_df, r->p, -1) ||
           evm__h5w_f64(w, g, p, "t", r->robust_t, r->p, -1) ||
           evm__h5w_f64(w, g, p, "p", r->robust_p, r->p, -1) ||
           evm__h5w_f64(w, g, p, "vcov", r->robust_vcov, r->p, r->p));
    H5Gclose(g);
    return w->status;
}

int evm__h5_write_infer(evm__h5_writer *w, hid_t file, const evm_result *r)
{
    if (w->status >= 0 && r->vcov_adj) write_vcov_adj(w, file, r);
    if (w->status >= 0 && r->ncontrasts > 0) write_contrasts(w, file, r);
    if (w->status >= 0 && r->has_anova) write_anova(w, file, r);
    if (w->status >= 0 && r->nci > 0) write_ci(w, file, r);
    if (w->status >= 0 && r->nboot > 0) write_bootstrap(w, file, r);
    if (w->status >= 0 && r->robust_cluster) write_robust(w, file, r);
    return w->status;
}
