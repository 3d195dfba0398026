/* read_infer.c — the inference sections of a result file (docs/hdf5.md), read after the
 * core ones: /fixef/vcov_adj, /contrasts, /anova, /ci, /bootstrap and /robust.
 *
 * Each is optional: an absent section leaves its fields 0 / NULL.  A section that is
 * present must be complete, with every dataset of the documented type and of a length
 * that agrees with the section's first column (and with p, from /fixef); anything else is
 * EVM_ERR_HDF5 naming the object, as for the core sections.  Sizes are checked against
 * the file before anything is allocated (read.c). */
#include "h5/h5_internal.h"

#include <limits.h>
#include <stdlib.h>

/* 1 when loc has a link `name`, 0 when not, < 0 on failure (recorded). */
static int exists(evm__h5_reader *rd, hid_t loc, const char *where, const char *name)
{
    htri_t e = H5Lexists(loc, name, H5P_DEFAULT);
    if (e < 0) return evm__h5r_hfail(rd, "link", where, name);
    return e > 0;
}

static int read_vcov_adj(evm__h5_reader *rd, hid_t f, evm_result *r)
{
    hid_t g = evm__h5r_group(rd, f, "/", "fixef");
    if (g < 0) return rd->status;
    if (exists(rd, g, "/fixef", "vcov_adj") > 0)
        evm__h5r_matrix(rd, g, "/fixef", "vcov_adj", r->p, r->p, &r->vcov_adj);
    H5Gclose(g);
    return rd->status;
}

static int read_contrasts(evm__h5_reader *rd, hid_t g, evm_result *r)
{
    const char *p = "/contrasts";
    (void)(evm__h5r_strings(rd, g, p, "name", -1, &r->ncontrasts, &r->con_name) ||
           evm__h5r_strings(rd, g, p, "expr", r->ncontrasts, NULL, &r->con_expr) ||
           evm__h5r_matrix(rd, g, p, "L", r->ncontrasts, r->p, &r->con_L) ||
           evm__h5r_vector(rd, g, p, "estimate", r->ncontrasts, &r->con_est) ||
           evm__h5r_vector(rd, g, p, "se", r->ncontrasts, &r->con_se) ||
           evm__h5r_vector(rd, g, p, "df", r->ncontrasts, &r->con_df) ||
           evm__h5r_vector(rd, g, p, "t", r->ncontrasts, &r->con_t) ||
           evm__h5r_vector(rd, g, p, "p", r->ncontrasts, &r->con_p));
    return rd->status;
}

static int read_anova(evm__h5_reader *rd, hid_t g, evm_result *r)
{
    const char *p = "/anova";
    r->has_anova = 1;
    (void)(evm__h5r_strings(rd, g, p, "term", -1, &r->nanova, &r->anova_term) ||
           evm__h5r_vector(rd, g, p, "F", r->nanova, &r->anova_F) ||
           evm__h5r_vector(rd, g, p, "num_df", r->nanova, &r->anova_ndf) ||
           evm__h5r_vector(rd, g, p, "den_df", r->nanova, &r->anova_ddf) ||
           evm__h5r_vector(rd, g, p, "p", r->nanova, &r->anova_p));
    return rd->status;
}

static int read_ci(evm__h5_reader *rd, hid_t g, evm_result *r)
{
    const char *p = "/ci";
    (void)(evm__h5r_attr_str(rd, g, p, "method", &r->ci_method) ||
           evm__h5r_attr_f64(rd, g, p, "level", &r->ci_level) ||
           evm__h5r_strings(rd, g, p, "param", -1, &r->nci, &r->ci_param) ||
           evm__h5r_vector(rd, g, p, "lower", r->nci, &r->ci_lower) ||
           evm__h5r_vector(rd, g, p, "upper", r->nci, &r->ci_upper));
    return rd->status;
}

/* /bootstrap@level is the level of the percentile interval: the same as /ci@level when
 * both are present (evm_lmm_infer uses one level for both), so it fills ci_level only for
 * a file without /ci. */
static int read_bootstrap(evm__h5_reader *rd, hid_t g, evm_result *r)
{
    const char *p = "/bootstrap";
    int64_t n = 0, nok = 0;
    uint64_t seed = 0;
    double level = 0;
    if (evm__h5r_attr_i64(rd, g, p, "n", &n) || evm__h5r_attr_i64(rd, g, p, "n_ok", &nok) ||
        evm__h5r_attr_u64(rd, g, p, "seed", &seed) ||
        evm__h5r_attr_f64(rd, g, p, "level", &level))
        return rd->status;
    if (n < 0) return evm__h5r_bad(rd, p, "n", "a count (>= 0)");
    if (nok < 0 || nok > n) return evm__h5r_bad(rd, p, "n_ok", "a count in [0, n]");
    r->boot_seed = seed;
    if (r->nci == 0) r->ci_level = level;
    if (evm__h5r_strings(rd, g, p, "param", -1, &r->nbootpar, &r->boot_param) ||
        evm__h5r_matrix(rd, g, p, "estimates", n, r->nbootpar, &r->boot_est))
        return rd->status;
    /* the counts once the replicates are in memory, so that nboot never claims rows that
     * boot_est does not have */
    r->nboot = n;
    r->nboot_ok = nok;
    (void)(evm__h5r_vector(rd, g, p, "lower", r->nbootpar, &r->boot_lower) ||
           evm__h5r_vector(rd, g, p, "upper", r->nbootpar, &r->boot_upper));
    return rd->status;
}

static int read_robust(evm__h5_reader *rd, hid_t g, evm_result *r)
{
    const char *p = "/robust";
    int64_t ncl = 0;
    if (evm__h5r_attr_str(rd, g, p, "cluster", &r->robust_cluster) ||
        evm__h5r_attr_i64(rd, g, p, "n_clusters", &ncl))
        return rd->status;
    if (ncl < 0) return evm__h5r_bad(rd, p, "n_clusters", "a count (>= 0)");
    r->robust_nclusters = ncl;
    (void)(evm__h5r_vector(rd, g, p, "se", r->p, &r->robust_se) ||
           evm__h5r_vector(rd, g, p, "df", r->p, &r->robust_df) ||
           evm__h5r_vector(rd, g, p, "t", r->p, &r->robust_t) ||
           evm__h5r_vector(rd, g, p, "p", r->p, &r->robust_p) ||
           evm__h5r_matrix(rd, g, p, "vcov", r->p, r->p, &r->robust_vcov));
    return rd->status;
}

int evm__h5_read_infer(evm__h5_reader *rd, hid_t file, evm_result *r)
{
    static const struct {
        const char *name;
        int (*read)(evm__h5_reader *, hid_t, evm_result *);
    } sections[] = {{"contrasts", read_contrasts},
                    {"anova", read_anova},
                    {"ci", read_ci},
                    {"bootstrap", read_bootstrap},
                    {"robust", read_robust}};
    if (read_vcov_adj(rd, file, r) < 0) return rd->status;
    for (size_t k = 0; k < sizeof sections / sizeof sections[0]; k++) {
        int e = exists(rd, file, "/", sections[k].name);
        if (e < 0) return rd->status;
        if (!e) continue;
        hid_t g = evm__h5r_group(rd, file, "/", sections[k].name);
        if (g < 0) return rd->status;
        sections[k].read(rd, g, r);
        H5Gclose(g);
        if (rd->status < 0) return rd->status;
    }
    return rd->status;
}
