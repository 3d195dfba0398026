/* strtab.c — string -> code table for factor coding: open addressing with linear
 * probing, at most half full.  Strings live NUL-terminated in one arena.
 *
 * A slot is 16 bytes: the high 32 bits of the hash (the home position comes from them,
 * so growing never rehashes strings) with code + 1 (0 = empty), and the string's first
 * 7 bytes with its length (255 = longer).  Ids of up to 7 bytes — the bulk of student,
 * class and school ids — are thus found with one memory access and no string compare;
 * at millions of levels that access is the cost of the whole lookup. */
#include "data_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t head;      /* hash >> 32 << 32 | (code + 1) */
    uint64_t key;       /* first 7 bytes, length (or 255) in the top byte */
} slot;

typedef struct {
    size_t off;         /* arena offset */
    uint32_t len;
} entry;

struct evm__strtab {
    slot *slots;
    size_t mask;
    int32_t count, cap;     /* strings stored, room in ent */
    entry *ent;             /* [cap] */
    char *arena;
    size_t used, size;
};

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x9fb21c651e98df25ULL;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    return mix64(h ^ w);
}

static uint64_t make_key(const char *s, size_t n)
{
    uint64_t k = 0;
    memcpy(&k, s, n < 7 ? n : 7);
    /* little-endian bytes 0..6 of the string; byte 7 the length */
    return (k & 0x00ffffffffffffffULL) | ((uint64_t)(n < 255 ? n : 255) << 56);
}

evm__strtab *evm__strtab_create(void)
{
    evm__strtab *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->slots = calloc(64, sizeof *t->slots);
    t->arena = malloc(256);
    if (!t->slots || !t->arena) {
        evm__strtab_destroy(&t);
        return NULL;
    }
    t->mask = 63;
    t->size = 256;
    return t;
}

void evm__strtab_destroy(evm__strtab **t)
{
    if (!t || !*t) return;
    free((*t)->slots);
    free((*t)->ent);
    free((*t)->arena);
    free(*t);
    *t = NULL;
}

int32_t evm__strtab_count(const evm__strtab *t) { return t->count; }

const char *evm__strtab_str(const evm__strtab *t, int32_t code, size_t *len)
{
    if (len) *len = t->ent[code].len;
    return t->arena + t->ent[code].off;
}

static int rehash(evm__strtab *t)
{
    /* past 64K slots grow 4x: fewer dead tables to fault in and rehash */
    size_t nslots = (t->mask + 1) * (t->mask < 65535 ? 2 : 4);
    slot *slots = evm__calloc(nslots, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i <= t->mask; i++) {
        slot v = t->slots[i];
        if (!v.head) continue;
        size_t j = (v.head >> 32) & (nslots - 1);
        while (slots[j].head) j = (j + 1) & (nslots - 1);
        slots[j] = v;
    }
    free(t->slots);
    t->slots = slots;
    t->mask = nslots - 1;
    return 0;
}

/* Room for one more string of n bytes: arena, entries and slots. */
static int reserve(evm__strtab *t, size_t n)
{
    if (t->count >= EVM__MAX_LEVELS || n > UINT32_MAX - 1) return -1;
    if (t->used + n + 1 > t->size) {
        size_t size = t->size;
        while (t->used + n + 1 > size) size *= 2;
        char *arena = evm__grow(t->arena, t->used, size, 1);
        if (!arena) return -1;
        t->arena = arena;
        t->size = size;
    }
    if (t->count == t->cap) {
        int32_t cap = t->cap ? (t->cap > EVM__MAX_LEVELS / 2 ? EVM__MAX_LEVELS : 2 * t->cap)
                             : 64;
        entry *ent = evm__grow(t->ent, (size_t)t->count, (size_t)cap, sizeof *ent);
        if (!ent) return -1;
        t->ent = ent;
        t->cap = cap;
    }
    if ((size_t)(t->count + 1) * 2 > t->mask + 1 && rehash(t) < 0) return -1;
    return 0;
}

uint64_t evm__strtab_hash(const char *s, size_t n) { return hash_bytes(s, n); }

void evm__strtab_prefetch(const evm__strtab *t, uint64_t hash)
{
#if defined(__GNUC__)
    __builtin_prefetch(&t->slots[(hash >> 32) & t->mask]);
#else
    (void)t;
    (void)hash;
#endif
}

int32_t evm__strtab_intern(evm__strtab *t, const char *s, size_t n, int *is_new)
{
    return evm__strtab_intern_hashed(t, s, n, hash_bytes(s, n), is_new);
}

int32_t evm__strtab_intern_hashed(evm__strtab *t, const char *s, size_t n, uint64_t hash,
                                  int *is_new)
{
    uint64_t h = hash & 0xffffffff00000000ULL;
    uint64_t key = make_key(s, n);
    size_t j = (h >> 32) & t->mask;
    *is_new = 0;
    for (;;) {
        slot v = t->slots[j];
        if (!v.head) break;
        if ((v.head & 0xffffffff00000000ULL) == h && v.key == key) {
            int32_t code = (int32_t)((uint32_t)v.head - 1);
            if (n <= 7) return code;
            const entry *e = &t->ent[code];
            if (e->len == n && evm__same_bytes(t->arena + e->off, s, n)) return code;
        }
        j = (j + 1) & t->mask;
    }
    size_t old_mask = t->mask;
    if (reserve(t, n) < 0) return -1;
    if (t->mask != old_mask) {      /* grown: find the empty slot again */
        j = (h >> 32) & t->mask;
        while (t->slots[j].head) j = (j + 1) & t->mask;
    }
    int32_t code = t->count++;
    memcpy(t->arena + t->used, s, n);
    t->arena[t->used + n] = '\0';
    t->ent[code].off = t->used;
    t->ent[code].len = (uint32_t)n;
    t->used += n + 1;
    t->slots[j].head = h | (uint32_t)(code + 1);
    t->slots[j].key = key;
    *is_new = 1;
    return code;
}
