/* have_hdf5.h — HDF5's header for tests that edit result files directly, where it is
 * installed (Debian puts it in hdf5/serial/); HAVE_HDF5_H says whether it was found. */
#ifndef EVM_TEST_HAVE_HDF5_H
#define EVM_TEST_HAVE_HDF5_H

#if defined(__has_include)
#if __has_include(<hdf5.h>)
#include <hdf5.h>
#define HAVE_HDF5_H 1
#elif __has_include(<hdf5/serial/hdf5.h>)
#include <hdf5/serial/hdf5.h>
#define HAVE_HDF5_H 1
#endif
#endif

#endif
