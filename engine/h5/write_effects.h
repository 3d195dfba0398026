/* write_effects.h — a result file with extra table sections after the fit's (the /effects
 * tables of `evalmix effects`, docs/hdf5.md).  Tables are described generically (named
 * columns and attributes under a group path), so the engine knows nothing of what they
 * hold.  No HDF5 types here: models/ includes this header. */
#ifndef EVM_H5_WRITE_EFFECTS_H
#define EVM_H5_WRITE_EFFECTS_H

#include "evalmix/evalmix.h"

enum { EVM__H5C_F64 = 0, EVM__H5C_I64 = 1, EVM__H5C_STR = 2 };

/* A dataset: float64 [d0] (d1 < 0) or [d0 x d1] (row-major), int64 [d0], or UTF-8 strings
 * [d0] (char *const *).  NULL data: NaN / 0 / "". */
typedef struct {
    const char *name;
    int type;
    int64_t d0, d1;
    const void *data;
} evm__h5col;

#define EVM__H5_F64(nm, x, n) {(nm), EVM__H5C_F64, (n), -1, (x)}
#define EVM__H5_MAT(nm, x, n, m) {(nm), EVM__H5C_F64, (n), (m), (x)}
#define EVM__H5_I64(nm, x, n) {(nm), EVM__H5C_I64, (n), -1, (x)}
#define EVM__H5_STR(nm, x, n) {(nm), EVM__H5C_STR, (n), -1, (x)}

/* A scalar attribute of the group. */
typedef struct {
    const char *name;
    int type;
    double f;
    int64_t i;
    const char *s;
} evm__h5attr;

#define EVM__H5_ASTR(nm, v) {(nm), EVM__H5C_STR, 0.0, 0, (v)}
#define EVM__H5_AF64(nm, v) {(nm), EVM__H5C_F64, (v), 0, NULL}
#define EVM__H5_AI64(nm, v) {(nm), EVM__H5C_I64, 0.0, (v), NULL}

/* A group (path relative to the root, "effects" or "effects/schools"; parents listed
 * before their children) with its attributes and datasets. */
typedef struct {
    const char *path;
    int nattr;
    const evm__h5attr *attr;
    int ncol;
    const evm__h5col *col;
} evm__h5group;

/* Write the fit r (as evm_h5_write_fit) plus the groups to `path`, atomically: everything
 * goes to a temporary file in the same folder that is renamed over `path` only when
 * complete.  Errors: EVM_ERR_IO, EVM_ERR_HDF5, EVM_ERR_ARG; nothing is left behind. */
int evm__h5_write_fit_groups(const char *path, const evm_result *r, const evm__h5group *g,
                             int ng, evm_ctx *c);

#endif
