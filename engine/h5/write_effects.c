/* write_effects.c — extra table sections after the fit's in one result file (the /effects
 * groups of `evalmix effects`; write_effects.h).  The fit is written by evm_h5_write_fit to
 * a temporary name, the groups are added to it, and only then is it renamed over the
 * user's path: a crash or an error never leaves a partial result. */
#include "h5/write_effects.h"

#include "h5/h5_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_group(evm__h5_writer *w, hid_t file, const evm__h5group *g)
{
    const char *slash = strrchr(g->path, '/');
    char *parent = slash ? evm__strdup(g->path) : NULL;
    if (slash && !parent) return evm__h5w_nomem(w);
    if (parent) parent[slash - g->path] = '\0';
    const char *name = slash ? slash + 1 : g->path;
    hid_t loc = parent ? H5Gopen2(file, parent, H5P_DEFAULT) : file;
    char *where = evm__asprintf("/%s", g->path);
    char *pwhere = evm__asprintf("/%s", parent ? parent : "");
    if (loc < 0) evm__h5w_fail(w, "group", "/", parent);
    else if (!where || !pwhere) evm__h5w_nomem(w);
    else {
        hid_t grp = evm__h5w_group(w, loc, pwhere, name);
        for (int a = 0; grp >= 0 && a < g->nattr && w->status >= 0; a++) {
            const evm__h5attr *at = &g->attr[a];
            if (at->type == EVM__H5C_STR) evm__h5w_attr_str(w, grp, where, at->name, at->s ? at->s : "");
            else if (at->type == EVM__H5C_I64) evm__h5w_attr_i64(w, grp, where, at->name, at->i);
            else evm__h5w_attr_f64(w, grp, where, at->name, at->f);
        }
        for (int k = 0; grp >= 0 && k < g->ncol && w->status >= 0; k++) {
            const evm__h5col *col = &g->col[k];
            if (col->type == EVM__H5C_STR)
                evm__h5w_str(w, grp, where, col->name, (char *const *)col->data, col->d0);
            else if (col->type == EVM__H5C_I64)
                evm__h5w_i64(w, grp, where, col->name, (const int64_t *)col->data, col->d0);
            else
                evm__h5w_f64(w, grp, where, col->name, (const double *)col->data, col->d0, col->d1);
        }
        if (grp >= 0) H5Gclose(grp);
    }
    if (parent && loc >= 0) H5Gclose(loc);
    free(parent), free(where), free(pwhere);
    return w->status;
}

int evm__h5_write_fit_groups(const char *path, const evm_result *r, const evm__h5group *g,
                             int ng, evm_ctx *c)
{
    if (!path || !*path || !r || ng < 0 || (ng > 0 && !g))
        return evm__fail(c, EVM_ERR_ARG, "evm__h5_write_fit_groups: bad arguments");
    char *tmp = evm__asprintf("%s.tmp.%ld.groups", path, (long)getpid());
    if (!tmp) return evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory", path);
    int st = evm_h5_write_fit(tmp, r, c);
    if (st < 0) {
        free(tmp);
        return st;
    }
    evm__h5_quiet quiet;
    evm__h5_silence(&quiet);
    evm__h5_writer w = {path, c, -1, -1, -1, EVM_OK};
    hid_t file = -1, fapl = -1;
    if ((w.str = evm__h5_vlen_utf8()) < 0 || (w.lcpl = H5Pcreate(H5P_LINK_CREATE)) < 0 ||
        H5Pset_char_encoding(w.lcpl, H5T_CSET_UTF8) < 0 ||
        (w.gcpl = H5Pcreate(H5P_GROUP_CREATE)) < 0 ||
        H5Pset_link_creation_order(w.gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0 ||
        /* the groups added get the fit's format (checksummed metadata) */
        (fapl = evm__h5_write_fapl()) < 0 ||
        (file = H5Fopen(tmp, H5F_ACC_RDWR, fapl)) < 0) {
        st = evm__h5w_fail(&w, "file", NULL, NULL);
        goto cleanup;
    }
    for (int k = 0; k < ng && st >= 0; k++) st = write_group(&w, file, &g[k]);
    if (st >= 0) {
        herr_t closed = H5Fclose(file);
        file = -1;
        if (closed < 0) st = evm__h5w_fail(&w, "file", NULL, NULL);
    }
    if (st >= 0) {
        int fd = open(tmp, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            (void)fsync(fd);
            close(fd);
        }
        if (rename(tmp, path) != 0)
            st = evm__fail(c, EVM_ERR_IO, "%s: cannot write the result file: %s", path, strerror(errno));
    }
cleanup:
    if (file >= 0) H5Fclose(file);
    if (fapl >= 0) H5Pclose(fapl);
    if (w.str >= 0) H5Tclose(w.str);
    if (w.lcpl >= 0) H5Pclose(w.lcpl);
    if (w.gcpl >= 0) H5Pclose(w.gcpl);
    evm__h5_restore(&quiet);
    if (st < 0) remove(tmp);
    free(tmp);
    return st;
}
