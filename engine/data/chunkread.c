/* chunkread.c — stream a file in chunks (1 MB; 64 KB for a header alone), hashing every
 * byte with SHA-256 once.
 *
 * Each chunk lives in a slot with up to 1 MB of spare bytes in front, so the incomplete row at
 * the end of one chunk can be copied just before the next chunk and the caller sees one
 * contiguous piece.  With threads >= 2 a producer thread reads and hashes slots ahead
 * of the caller (a ring of NSLOT slots); a slot is handed over only once hashed, so the
 * caller owns it completely.  Longer rows go through a side buffer. */
#include "data_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NSLOT 3
#define HEAD_MAX ((size_t)1 << 20)

typedef struct {
    char *mem;          /* head + chunk + EVM__PIECE_SPARE bytes */
    size_t n;           /* new bytes at mem + head */
    int eof;            /* the file ends with this slot */
    int err;            /* errno of a failed read, 0 if none */
    int ready;          /* filled and not yet released by the caller */
} slot;

struct evm__chunkrd {
    char *path;
    int fd;
    int64_t size;
    size_t chunk, head; /* bytes read at a time; room for a carried row before them */
    EVP_MD_CTX *md;
    int hash_ok;
    int nslots;
    slot slots[NSLOT];
    int threaded, stop;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int cur;            /* slot the caller holds (-1: none) */
    int take;           /* slot the caller takes next */
    char *piece;        /* the piece last handed out */
    size_t piece_len;
    int at_eof;
    char *side;         /* piece for rows longer than head */
    size_t side_cap;
};

/* Read a full chunk (or up to EOF) into s and hash it. */
static void fill_slot(evm__chunkrd *r, slot *s)
{
    char *p = s->mem + r->head;
    size_t n = 0;
    s->eof = 0;
    s->err = 0;
    while (n < r->chunk) {
        ssize_t k = read(r->fd, p + n, r->chunk - n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            s->err = errno ? errno : EIO;
            break;
        }
        if (k == 0) {
            s->eof = 1;
            break;
        }
        n += (size_t)k;
    }
    s->n = n;
    if (n && EVP_DigestUpdate(r->md, p, n) != 1) r->hash_ok = 0;
}

static void *producer(void *arg)
{
    evm__chunkrd *r = arg;
    for (int i = 0;; i = (i + 1) % r->nslots) {
        pthread_mutex_lock(&r->mu);
        while (r->slots[i].ready && !r->stop) pthread_cond_wait(&r->cv, &r->mu);
        int stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop) break;
        fill_slot(r, &r->slots[i]);
        pthread_mutex_lock(&r->mu);
        r->slots[i].ready = 1;
        int end = r->slots[i].eof || r->slots[i].err;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        if (end) break;
    }
    return NULL;
}

static int open_fd(evm__chunkrd *r, const char *path, evm_ctx *c)
{
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return evm__fail(c, EVM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(r->fd, &st) == 0 && S_ISDIR(st.st_mode))
        return evm__fail(c, EVM_ERR_IO, "%s: cannot open: %s", path, strerror(EISDIR));
    r->size = fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    return EVM_OK;
}

int evm__chunkrd_open(const char *path, int threads, size_t chunk, evm__chunkrd **out,
                      evm_ctx *c)
{
    *out = NULL;
    evm__chunkrd *r = calloc(1, sizeof *r);
    if (!r) return evm__fail(c, EVM_ERR_NOMEM, "out of memory opening %s", path);
    r->fd = -1;
    r->cur = -1;
    r->hash_ok = 1;
    r->nslots = threads >= 2 ? NSLOT : 2;
    int st = open_fd(r, path, c);
    if (st < 0) goto fail;
    r->path = evm__strdup(path);
    r->md = EVP_MD_CTX_new();
    if (!r->path || !r->md || EVP_DigestInit_ex(r->md, EVP_sha256(), NULL) != 1) goto nomem;
    /* Small files get small buffers (the size is a hint: a file that grows is still
     * read correctly, in more pieces). */
    r->chunk = chunk;
    if (r->size >= 0 && (uint64_t)r->size < chunk)
        r->chunk = (size_t)r->size + 1 < 4096 ? 4096 : (size_t)r->size + 1;
    r->head = r->chunk < HEAD_MAX ? r->chunk : HEAD_MAX;
    for (int i = 0; i < r->nslots; i++) {
        r->slots[i].mem = evm__malloc(r->head + r->chunk + EVM__PIECE_SPARE, 1);
        if (!r->slots[i].mem) goto nomem;
    }
    if (threads >= 2 && pthread_mutex_init(&r->mu, NULL) == 0) {
        if (pthread_cond_init(&r->cv, NULL) == 0) {
            r->threaded = pthread_create(&r->thread, NULL, producer, r) == 0;
            if (!r->threaded) pthread_cond_destroy(&r->cv);
        }
        if (!r->threaded) pthread_mutex_destroy(&r->mu);
    }
    *out = r;
    return EVM_OK;
nomem:
    st = evm__fail(c, EVM_ERR_NOMEM, "out of memory opening %s", path);
fail:
    evm__chunkrd_close(&r);
    return st;
}

void evm__chunkrd_close(evm__chunkrd **rp)
{
    if (!rp || !*rp) return;
    evm__chunkrd *r = *rp;
    if (r->threaded) {
        pthread_mutex_lock(&r->mu);
        r->stop = 1;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
    }
    for (int i = 0; i < NSLOT; i++) free(r->slots[i].mem);
    if (r->fd >= 0) close(r->fd);
    EVP_MD_CTX_free(r->md);
    free(r->side);
    free(r->path);
    free(r);
    *rp = NULL;
}

int64_t evm__chunkrd_size(const evm__chunkrd *r) { return r->size; }

/* Wait for slot i to be filled (threaded) or fill it now. */
static slot *take_slot(evm__chunkrd *r, int i)
{
    slot *s = &r->slots[i];
    if (!r->threaded) {
        fill_slot(r, s);
        return s;
    }
    pthread_mutex_lock(&r->mu);
    while (!s->ready) pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    return s;
}

static void release_slot(evm__chunkrd *r, int i)
{
    if (i < 0 || !r->threaded) return;
    pthread_mutex_lock(&r->mu);
    r->slots[i].ready = 0;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* Carry `keep` bytes plus the slot's data into the side buffer. */
static int join_in_side(evm__chunkrd *r, const char *carry, size_t keep, const slot *s)
{
    size_t need = keep + s->n + EVM__PIECE_SPARE;
    if (need > r->side_cap) {
        size_t off = r->piece == r->side && r->side ? (size_t)(carry - r->side) : 0;
        int in_side = r->piece == r->side && r->side;
        char *side = realloc(r->side, need);
        if (!side) return EVM_ERR_NOMEM;
        if (in_side) carry = side + off;
        r->side = side;
        r->side_cap = need;
    }
    memmove(r->side, carry, keep);
    memcpy(r->side + keep, s->mem + r->head, s->n);
    return EVM_OK;
}

int evm__chunkrd_next(evm__chunkrd *r, size_t keep, char **buf, size_t *len, int *eof,
                      evm_ctx *c)
{
    if (keep > r->piece_len || keep > EVM__MAX_CARRY)
        return evm__fail(c, EVM_ERR_ARG, "%s: internal error: bad carry", r->path);
    char *carry = r->piece ? r->piece + r->piece_len - keep : NULL;
    if (r->at_eof) {               /* nothing more to read */
        memmove(r->piece, carry, keep);
        *buf = r->piece;
        *len = r->piece_len = keep;
        *eof = 1;
        return EVM_OK;
    }
    int i = r->take;
    slot *s = take_slot(r, i);
    if (s->err)
        return evm__fail(c, EVM_ERR_IO, "%s: cannot read: %s", r->path, strerror(s->err));
    char *piece;
    if (keep <= r->head) {
        piece = s->mem + r->head - keep;
        if (keep) memcpy(piece, carry, keep);
    } else {
        if (join_in_side(r, carry, keep, s) < 0)
            return evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory for a long row", r->path);
        piece = r->side;
    }
    release_slot(r, r->cur);
    r->cur = i;
    r->take = (i + 1) % r->nslots;
    r->piece = piece;
    r->piece_len = keep + s->n;
    r->at_eof = s->eof;
    *buf = piece;
    *len = r->piece_len;
    *eof = s->eof;
    return EVM_OK;
}

int evm__chunkrd_sha256(evm__chunkrd *r, char hex[65], evm_ctx *c)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!r->at_eof)
        return evm__fail(c, EVM_ERR_ARG, "%s: internal error: hash before end of file",
                         r->path);
    if (!r->hash_ok || EVP_DigestFinal_ex(r->md, md, &n) != 1 || n != 32)
        return evm__fail(c, EVM_ERR_IO, "%s: SHA-256 computation failed", r->path);
    r->hash_ok = 0;   /* the digest context is finished */
    static const char digits[] = "0123456789abcdef";
    for (unsigned int k = 0; k < 32; k++) {
        hex[2 * k] = digits[md[k] >> 4];
        hex[2 * k + 1] = digits[md[k] & 15];
    }
    hex[64] = '\0';
    return EVM_OK;
}
