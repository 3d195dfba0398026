/* sort.c — stable LSD radix sorts for the matching model.  With millions of rows the
 * comparison sorts of the C library (qsort) took most of a match; these take a few
 * linear passes.  Multi-key orders are built by sorting on the least significant key
 * first (each pass is stable). */
#include "match_internal.h"

#include <stdlib.h>
#include <string.h>

void evm__mt_ws_free(evm__mt_ws *ws)
{
    if (!ws) return;
    free(ws->k0);
    free(ws->k1);
    free(ws->i1);
    free(ws->order);
    memset(ws, 0, sizeof *ws);
}

static int reserve(evm__mt_ws *ws, int64_t n, evm_ctx *c)
{
    if (n <= ws->cap) return 0;
    evm__mt_ws_free(ws);
    ws->k0 = evm__malloc((size_t)n, sizeof *ws->k0);
    ws->k1 = evm__malloc((size_t)n, sizeof *ws->k1);
    ws->i1 = evm__malloc((size_t)n, sizeof *ws->i1);
    ws->order = evm__malloc((size_t)n, sizeof *ws->order);
    if (!ws->k0 || !ws->k1 || !ws->i1 || !ws->order) {
        evm__mt_ws_free(ws);
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    }
    ws->cap = n;
    return 0;
}

uint64_t evm__mt_double_key(double x)
{
    if (x == 0) x = 0.0;   /* -0.0 and 0.0 are equal values: one key */
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return (u >> 63) ? ~u : u | 0x8000000000000000ULL;
}

static int radix(evm__mt_ws *ws, int64_t n, const uint64_t *key, int64_t *order, evm_ctx *c)
{
    if (n < 2) return 0;
    int st = reserve(ws, n, c);
    if (st < 0) return st;
    uint64_t *k0 = ws->k0, *k1 = ws->k1;
    int64_t *i0 = order, *i1 = ws->i1;
    for (int64_t i = 0; i < n; i++) k0[i] = key[order[i]];
    int64_t count[256];
    for (int shift = 0; shift < 64; shift += 8) {
        memset(count, 0, sizeof count);
        for (int64_t i = 0; i < n; i++) count[(k0[i] >> shift) & 0xFF]++;
        if (count[(k0[0] >> shift) & 0xFF] == n) continue;   /* one digit value: no-op */
        int64_t pos = 0;
        for (int b = 0; b < 256; b++) {
            int64_t t = count[b];
            count[b] = pos;
            pos += t;
        }
        for (int64_t i = 0; i < n; i++) {
            int64_t p = count[(k0[i] >> shift) & 0xFF]++;
            k1[p] = k0[i];
            i1[p] = i0[i];
        }
        uint64_t *tk = k0;
        k0 = k1;
        k1 = tk;
        int64_t *ti = i0;
        i0 = i1;
        i1 = ti;
    }
    /* an odd number of passes left the result in the workspace */
    if (i0 != order) memcpy(order, i0, (size_t)n * sizeof *order);
    return 0;
}

int evm__mt_radix_order(evm__mt_ws *ws, int64_t n, const uint64_t *key, int64_t *order,
                        evm_ctx *c)
{
    if (ws) return radix(ws, n, key, order, c);
    evm__mt_ws local = {0};
    int st = radix(&local, n, key, order, c);
    evm__mt_ws_free(&local);
    return st;
}

static int dense(evm__mt_ws *ws, int64_t n, const uint64_t *key, int64_t *code,
                 int64_t *ncodes, evm_ctx *c)
{
    int st = reserve(ws, n > 0 ? n : 1, c);
    if (st < 0) return st;
    int64_t *order = ws->order;
    for (int64_t i = 0; i < n; i++) order[i] = i;
    if ((st = radix(ws, n, key, order, c)) < 0) return st;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i > 0 && key[order[i]] != key[order[i - 1]]) m++;
        code[order[i]] = m;
    }
    *ncodes = n > 0 ? m + 1 : 0;
    return 0;
}

int evm__mt_dense_codes(evm__mt_ws *ws, int64_t n, const uint64_t *key, int64_t *code,
                        int64_t *ncodes, evm_ctx *c)
{
    if (ws) return dense(ws, n, key, code, ncodes, c);
    evm__mt_ws local = {0};
    int st = dense(&local, n, key, code, ncodes, c);
    evm__mt_ws_free(&local);
    return st;
}
