/* h5_internal.h — helpers shared by the HDF5 writer and reader (not installed).
 *
 * Both entry points silence HDF5's automatic error-stack printing for the duration of
 * the call (the library never prints on its own) and turn a failure into one line on
 * the context, naming the file and the object, plus HDF5's innermost description.
 *
 * write.c / read.c hold the entry points, the core sections and the typed helpers below;
 * write_infer.c / read_infer.c the optional inference sections (/contrasts, /anova, /ci,
 * /bootstrap, /robust and /fixef/vcov_adj). */
#ifndef EVM_H5_INTERNAL_H
#define EVM_H5_INTERNAL_H

#include "internal.h"

#include <hdf5.h>
#include <stdio.h>
#include <string.h>

/* The automatic error printer in force before a call, restored after it. */
typedef struct {
    H5E_auto2_t func;
    void *data;
} evm__h5_quiet;

/* Keeps HDF5 quiet when it shuts down at exit (read.c): libhdf5 1.10 leaks memory when
 * it meets a damaged file, and then prints "HDF5: infinite loop closing library" and a
 * line of codes at exit unless its automatic error printing is off by then. */
void evm__h5_quiet_at_exit(void);

static inline void evm__h5_silence(evm__h5_quiet *q)
{
    q->func = NULL;
    q->data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);   /* starts HDF5: its atexit comes first */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    evm__h5_quiet_at_exit();
}

static inline void evm__h5_restore(const evm__h5_quiet *q)
{
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

static inline herr_t evm__h5_walk_(unsigned n, const H5E_error2_t *e, void *data)
{
    /* Walked upward: entry 0 is where the error arose, the most specific description. */
    if (n == 0 && e->desc) snprintf((char *)data, 160, "%s", e->desc);
    return 0;
}

/* The innermost description on HDF5's error stack ("" if none); clears the stack.
 * `buf` holds at least 160 bytes. */
static inline const char *evm__h5_error(char *buf)
{
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, evm__h5_walk_, buf);
    H5Eclear2(H5E_DEFAULT);
    return buf;
}

/* File access for writing a result file.  Closing the file closes anything a failure
 * left open.  The format is HDF5 1.8's (superblock 2, version-2 object headers, indexed
 * groups): every piece of metadata carries a checksum, so a reader detects a corrupt file
 * instead of following a damaged address, and HDF5 1.8 or later (h5py, hdf5r, h5dump)
 * still reads it.  < 0 on failure; close with H5Pclose. */
static inline hid_t evm__h5_write_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    if (H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0 ||
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

/* Variable-length UTF-8 string type (close with H5Tclose). */
static inline hid_t evm__h5_vlen_utf8(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return t;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* ---------------------------------------------------------------- writer (write.c) */
/* The state of one evm_h5_write_fit call.  Every helper records the first failure on
 * `status` (and the context) and returns it; after a failure they return it again at
 * once, so a section can chain them with ||. */
typedef struct {
    const char *path; /* the user's path: messages name it, not the temporary one */
    evm_ctx *c;
    hid_t str;  /* variable-length UTF-8 string */
    hid_t lcpl; /* link creation: UTF-8 link names */
    hid_t gcpl; /* group creation: link creation order tracked and indexed */
    int status;
} evm__h5_writer;

/* "<path>: cannot write <kind> <where>/<name>: <HDF5's reason>" (EVM_ERR_HDF5). */
int evm__h5w_fail(evm__h5_writer *w, const char *kind, const char *where, const char *name);
int evm__h5w_nomem(evm__h5_writer *w);
/* Attributes of loc (`where` names loc in messages): one value, or n values (scalar 0). */
int evm__h5w_attr(evm__h5_writer *w, hid_t loc, const char *where, const char *name,
                  hid_t ftype, hid_t mtype, hsize_t n, int scalar, const void *buf);
int evm__h5w_attr_str(evm__h5_writer *w, hid_t loc, const char *where, const char *name,
                      const char *s);
int evm__h5w_attr_i64(evm__h5_writer *w, hid_t loc, const char *where, const char *name,
                      int64_t v);
int evm__h5w_attr_u64(evm__h5_writer *w, hid_t loc, const char *where, const char *name,
                      uint64_t v);   /* seeds: all 64 bits */
int evm__h5w_attr_f64(evm__h5_writer *w, hid_t loc, const char *where, const char *name,
                      double v);
/* Datasets: float64 [d0] (d1 < 0) or [d0 x d1] (x row-major; NULL is written as NaN);
 * int64 [n] (NULL: zeros); UTF-8 strings [n] (NULL array or entries: ""). */
int evm__h5w_f64(evm__h5_writer *w, hid_t loc, const char *where, const char *name,
                 const double *x, int64_t d0, int64_t d1);
int evm__h5w_i64(evm__h5_writer *w, hid_t loc, const char *where, const char *name,
                 const int64_t *x, int64_t n);
int evm__h5w_str(evm__h5_writer *w, hid_t loc, const char *where, const char *name,
                 char *const *s, int64_t n);
/* A group with tracked creation order; < 0 on failure (recorded). */
hid_t evm__h5w_group(evm__h5_writer *w, hid_t loc, const char *where, const char *name);

/* write_infer.c: the counts and sizes of the inference sections, checked before any file
 * exists (EVM_ERR_ARG naming the field); then the sections present in r, after the core
 * ones. */
int evm__h5_check_infer(const char *path, const evm_result *r, evm_ctx *c);
int evm__h5_write_infer(evm__h5_writer *w, hid_t file, const evm_result *r);

/* ---------------------------------------------------------------- reader (read.c) */
/* The state of one evm_h5_read_fit call; helpers record the first failure as above. */
typedef struct {
    const char *path;
    evm_ctx *c;
    hsize_t cap; /* most elements any one object may claim */
    int status;
} evm__h5_reader;

/* "<path>: <message>" with `status`; the first cause wins. */
int evm__h5r_fail(evm__h5_reader *rd, int status, const char *fmt, ...) EVM__PRINTF(3, 4);
/* "cannot read <what> <where>/<name>: <HDF5's reason>" */
int evm__h5r_hfail(evm__h5_reader *rd, const char *what, const char *where,
                   const char *name);
int evm__h5r_nomem(evm__h5_reader *rd);
/* "<where>/<name> is not <expected>" */
int evm__h5r_bad(evm__h5_reader *rd, const char *where, const char *name,
                 const char *expected);
/* Required attributes holding one value of the class named (a missing one is an error);
 * attr_int: an int64 that must lie in [lo, hi]. */
int evm__h5r_attr_str(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                      char **out);
int evm__h5r_attr_f64(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                      double *out);
int evm__h5r_attr_i64(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                      int64_t *out);
int evm__h5r_attr_u64(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                      uint64_t *out);
int evm__h5r_attr_int(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                      int lo, int hi, int *out);
/* Required datasets of the class and rank named, their sizes checked against the bytes
 * of the file before anything is allocated: float64 [dims[0]] (rank 1) or
 * [dims[0] x dims[1]] (rank 2); int64 [*n]; strings [*n] as fresh copies. */
int evm__h5r_f64(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                 int rank, hsize_t *dims, double **out);
int evm__h5r_i64(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                 hsize_t *n, int64_t **out);
int evm__h5r_str(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                 hsize_t *n, char ***out);
/* float64 [want]; float64 [rows x cols]. */
int evm__h5r_vector(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                    int want, double **out);
int evm__h5r_matrix(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                    int64_t rows, int64_t cols, double **out);
/* Strings as a table column: exactly `want` (>= 0), or any int number of them (*len);
 * nothing is kept on failure. */
int evm__h5r_strings(evm__h5_reader *rd, hid_t loc, const char *where, const char *name,
                     int want, int *len, char ***out);
/* A dataset length as the int count of evm_result; a length that must equal `want`. */
int evm__h5r_as_int(evm__h5_reader *rd, hsize_t n, const char *where, const char *name,
                    int *out);
int evm__h5r_same_len(evm__h5_reader *rd, hsize_t n, int want, const char *where,
                      const char *name);
/* A required group; < 0 on failure (recorded). */
hid_t evm__h5r_group(evm__h5_reader *rd, hid_t loc, const char *where, const char *name);

/* read_heap.c: the global heap, which HDF5 reads without checking it (see there).
 * check_heaps: every collection in the file; check_refs: the references of a string
 * dataset of n elements (file type ftype), before it is read.  A damaged one is
 * EVM_ERR_HDF5 "not a valid evalmix result file (damaged ... at byte N)". */
int evm__h5_check_heaps(evm__h5_reader *rd, hid_t file);
int evm__h5_check_refs(evm__h5_reader *rd, hid_t dset, hid_t ftype, hsize_t n,
                       const char *where, const char *name);

/* read_infer.c: the optional inference sections, after the core ones (/fixef first).
 * An absent section leaves its fields 0 / NULL; a present one must be complete. */
int evm__h5_read_infer(evm__h5_reader *rd, hid_t file, evm_result *r);

#endif
