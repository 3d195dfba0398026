/* h5_internal.h — helpers shared by the HDF5 writer and reader (not installed).
 *
 * Both entry points silence HDF5's automatic error-stack printing for the duration of
 * the call (the library never prints on its own) and turn a failure into one line on
 * the context, naming the file and the object, plus HDF5's innermost description. */
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

static inline void evm__h5_silence(evm__h5_quiet *q)
{
    q->func = NULL;
    q->data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
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

#endif
