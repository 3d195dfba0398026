/* read_heap.c — checks of the global heap, the one part of a result file whose damage
 * libhdf5 does not detect.
 *
 * Variable-length strings live in global heap collections ("GCOL"), which carry no
 * checksum, and a string dataset's references to them (length, collection address,
 * object index) live in its raw data, which carries none either.  libhdf5 before 1.14.4
 * trusts both: a damaged object size makes it loop for ever or copy past its buffers, a
 * damaged index makes it read through a null pointer, a damaged length makes it clear
 * gigabytes.  So before anything is read every collection of the file is checked
 * (evm__h5_check_heaps), and before a string dataset is read each of its references is
 * checked against the collection it names (evm__h5_check_refs).  Both read the file with
 * plain pread, never through HDF5.
 *
 * Format (HDF5 file format specification, "Global Heap"): a collection is "GCOL",
 * version 1, 3 reserved bytes, its size (a length), then objects, each an index (2
 * bytes), a reference count (2), 4 reserved bytes, its size (a length) and the data
 * padded to a multiple of 8; index 0 is the free space, whose size counts its header.
 * A reference is a 4-byte length, an address and a 4-byte index. */
#include "h5/h5_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GCOL_MIN 4096u         /* smallest collection HDF5 writes (H5HG_MINSIZE) */
#define MAX_INDEX 65536u       /* object indices are 2 bytes */
#define NO_OBJECT UINT64_MAX
#define SCAN_BYTES ((size_t)1 << 20)

enum { HEAP_OK = 0, HEAP_DAMAGED = 1 };

/* The file as the checks read it. */
typedef struct {
    int fd;
    uint64_t size;      /* bytes in the file */
    uint64_t base;      /* where relative addresses count from (the user block) */
    unsigned sa, ss;    /* bytes of an address and of a length */
    unsigned char *buf; /* a collection's bytes */
    size_t cap;
    uint64_t *obj;      /* [MAX_INDEX] object sizes by index (NO_OBJECT: none) */
    uint64_t addr;      /* absolute address of the collection in obj (0: none) */
    uint32_t nobj;      /* its highest index + 1 */
    uint32_t dirty;     /* obj[dirty..] are all NO_OBJECT */
} heapfile;

static uint64_t get_le(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = n; k-- > 0;) v = v << 8 | p[k];
    return v;
}

static int read_at(const heapfile *hf, void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(hf->fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        done += (size_t)got;
    }
    return 0;
}

/* Open the file behind `file` for the checks: its size and HDF5's address sizes. */
static int heapfile_open(evm__h5_reader *rd, hid_t file, heapfile *hf)
{
    memset(hf, 0, sizeof *hf);
    hf->fd = -1;
    hid_t fcpl = H5Fget_create_plist(file);
    size_t sa = 0, ss = 0;
    hsize_t ub = 0;
    int ok = fcpl >= 0 && H5Pget_sizes(fcpl, &sa, &ss) >= 0 && H5Pget_userblock(fcpl, &ub) >= 0;
    if (fcpl >= 0) H5Pclose(fcpl);
    if (!ok) return evm__h5r_hfail(rd, "file", "/", "");
    if (sa < 2 || sa > 8 || ss < 2 || ss > 8)
        return evm__h5r_fail(rd, EVM_ERR_HDF5, "not a valid evalmix result file (addresses "
                             "of %zu bytes)", sa);
    hf->sa = (unsigned)sa;
    hf->ss = (unsigned)ss;
    hf->base = ub;
    struct stat sb;
    if ((hf->fd = open(rd->path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(hf->fd, &sb) < 0)
        return evm__h5r_fail(rd, EVM_ERR_IO, "cannot read: %s", strerror(errno));
    hf->size = (uint64_t)sb.st_size;
    if (!(hf->obj = evm__malloc(MAX_INDEX, sizeof *hf->obj))) return evm__h5r_nomem(rd);
    for (uint32_t i = 0; i < MAX_INDEX; i++) hf->obj[i] = NO_OBJECT;
    return EVM_OK;
}

static void heapfile_close(heapfile *hf)
{
    if (hf->fd >= 0) close(hf->fd);
    free(hf->buf);
    free(hf->obj);
}

/* Read the collection at absolute address `at` into hf->obj and check it as HDF5 will
 * parse it: every object inside the collection, each index once, indices 1..n without
 * gaps (HDF5 numbers them so, and an evalmix file never deletes one), a free-space
 * object at least a header long.  HEAP_OK, HEAP_DAMAGED, or an error on rd.  *size is
 * the collection's size (0 when its header cannot be read). */
static int load_collection(evm__h5_reader *rd, heapfile *hf, uint64_t at, uint64_t *size)
{
    const unsigned hdr = 8 + hf->ss, objhdr = 8 + hf->ss;
    unsigned char head[16];
    *size = 0;
    hf->addr = 0;
    if (at >= hf->size || hf->size - at < hdr || read_at(hf, head, hdr, at) < 0 ||
        memcmp(head, "GCOL", 4) != 0 || head[4] != 1)
        return HEAP_DAMAGED;
    uint64_t n = get_le(head + 8, hf->ss);
    if (n < GCOL_MIN || n > hf->size - at) return HEAP_DAMAGED;
    *size = n;
    if (n > hf->cap) {
        unsigned char *b = realloc(hf->buf, (size_t)n);
        if (!b) return evm__h5r_nomem(rd);
        hf->buf = b;
        hf->cap = (size_t)n;
    }
    if (read_at(hf, hf->buf, (size_t)n, at) < 0) return HEAP_DAMAGED;
    for (uint32_t i = 0; i < hf->dirty; i++) hf->obj[i] = NO_OBJECT;
    hf->dirty = 0;
    uint32_t top = 0;
    int free_seen = 0;
    for (uint64_t p = hdr; p < n;) {
        if (n - p < objhdr) break;   /* a tail too small for a header is free space */
        const unsigned idx = (unsigned)get_le(hf->buf + p, 2);
        const uint64_t osize = get_le(hf->buf + p + 8, hf->ss);
        uint64_t need;
        if (idx == 0) {
            if (free_seen++ || osize < objhdr || osize > n - p) return HEAP_DAMAGED;
            need = osize;
        } else {
            if (hf->obj[idx] != NO_OBJECT || osize > n - p - objhdr) return HEAP_DAMAGED;
            need = objhdr + ((osize + 7) & ~(uint64_t)7);
            if (need > n - p) return HEAP_DAMAGED;
            hf->obj[idx] = osize;
            if (idx + 1 > top) hf->dirty = top = idx + 1;
        }
        p += need;
    }
    for (uint32_t i = 1; i < top; i++)
        if (hf->obj[i] == NO_OBJECT) return HEAP_DAMAGED;
    hf->nobj = top;
    hf->addr = at;
    return HEAP_OK;
}

static int damaged(evm__h5_reader *rd, const char *what, uint64_t at)
{
    return evm__h5r_fail(rd, EVM_ERR_HDF5, "not a valid evalmix result file (damaged %s "
                         "at byte %llu)", what, (unsigned long long)at);
}

int evm__h5_check_heaps(evm__h5_reader *rd, hid_t file)
{
    heapfile hf;
    unsigned char *chunk = NULL;
    if (heapfile_open(rd, file, &hf) < 0) goto done;
    if (!(chunk = evm__malloc(SCAN_BYTES + 8, 1))) {
        evm__h5r_nomem(rd);
        goto done;
    }
    /* Collections are found by their signature and version byte; the bytes of one that
     * checks out are not searched again (a string may hold "GCOL"). */
    for (uint64_t pos = 0, skip = 0; pos < hf.size && rd->status >= 0;) {
        size_t len = hf.size - pos < SCAN_BYTES + 8 ? (size_t)(hf.size - pos) : SCAN_BYTES + 8;
        size_t lim = len < SCAN_BYTES ? len : SCAN_BYTES;   /* where a signature may start */
        if (read_at(&hf, chunk, len, pos) < 0) {
            evm__h5r_fail(rd, EVM_ERR_IO, "cannot read: %s", strerror(errno ? errno : EIO));
            break;
        }
        for (size_t k = 0; k < lim;) {
            const unsigned char *g = memchr(chunk + k, 'G', lim - k);
            if (!g) break;
            k = (size_t)(g - chunk);
            if (k + 5 > len || memcmp(g, "GCOL\1", 5) != 0) {
                k++;
                continue;
            }
            uint64_t size = 0;
            int st = load_collection(rd, &hf, pos + k, &size);
            if (st != HEAP_OK) {
                if (st == HEAP_DAMAGED) damaged(rd, "string storage", pos + k);
                break;
            }
            skip = pos + k + size;
            if (skip >= pos + lim) break;
            k = (size_t)(skip - pos);
        }
        pos = skip > pos + lim ? skip : pos + lim;
    }
done:
    free(chunk);
    heapfile_close(&hf);
    return rd->status;
}

int evm__h5_check_refs(evm__h5_reader *rd, hid_t dset, hid_t ftype, hsize_t n,
                       const char *where, const char *name)
{
    if (n == 0 || H5Tis_variable_str(ftype) <= 0) return EVM_OK;
    /* Only contiguous raw data has an address; compact data sits in the (checksummed)
     * object header, and evalmix writes no chunked string dataset. */
    haddr_t off = H5Dget_offset(dset);
    H5Eclear2(H5E_DEFAULT);
    if (off == HADDR_UNDEF) return EVM_OK;
    hid_t file = H5Iget_file_id(dset);
    if (file < 0) return evm__h5r_hfail(rd, "dataset", where, name);
    heapfile hf;
    unsigned char *refs = NULL;
    int st = heapfile_open(rd, file, &hf);
    H5Fclose(file);
    const size_t rsize = 8 + hf.sa, per = 4096;
    if (st < 0) goto done;
    if (n > (hf.size - (off < hf.size ? off : hf.size)) / rsize) {
        evm__h5r_fail(rd, EVM_ERR_HDF5, "not a valid evalmix result file (%s/%s: size does "
                      "not match the file)", where, name);
        goto done;
    }
    if (!(refs = evm__malloc(per, rsize))) {
        evm__h5r_nomem(rd);
        goto done;
    }
    for (hsize_t i0 = 0; i0 < n && rd->status >= 0; i0 += per) {
        size_t m = n - i0 < per ? (size_t)(n - i0) : per;
        if (read_at(&hf, refs, m * rsize, off + i0 * rsize) < 0) {
            evm__h5r_fail(rd, EVM_ERR_IO, "cannot read: %s", strerror(errno ? errno : EIO));
            break;
        }
        for (size_t i = 0; i < m; i++) {
            const unsigned char *r = refs + i * rsize;
            uint64_t len = get_le(r, 4), addr = get_le(r + 4, hf.sa);
            uint32_t idx = (uint32_t)get_le(r + 4 + hf.sa, 4);
            if (addr == 0 && len == 0) continue;   /* a null string */
            uint64_t at = hf.base + addr, size;
            int ok = addr != 0 && at >= addr &&
                     (at == hf.addr || load_collection(rd, &hf, at, &size) == HEAP_OK);
            if (rd->status < 0) break;
            if (!ok || idx == 0 || idx >= hf.nobj || hf.obj[idx] != len) {
                char what[400];
                snprintf(what, sizeof what, "string %llu of %s/%s",
                         (unsigned long long)(i0 + i + 1), where, name);
                damaged(rd, what, off + (i0 + i) * rsize);
                break;
            }
        }
    }
done:
    free(refs);
    heapfile_close(&hf);
    return rd->status;
}
