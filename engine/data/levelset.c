/* levelset.c — the distinct values of a factor column while it is read: value -> code
 * in order of first appearance, then levels in their final order.
 *
 * Most big factors are numeric ids, so a value spelled as a canonical integer ("0",
 * "123", "-7": no sign +, no leading zero, at most 15 digits, so exact as a double) goes
 * to a table keyed by the integer itself: no string is stored or compared.  Any other
 * value goes to the string table.  Both share one code space.  When the column asks for
 * numeric levels (EVM_AS_FACTOR) the value of every code is kept, so "01" and "1" can
 * become one level; if text turns up, levels are the strings in byte order, and integer
 * codes get their (canonical, hence exact) spelling back. */
#include "data_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t key;
    int32_t code1;      /* code + 1; 0 = empty */
    int32_t pad;
} islot;

struct evm__levelset {
    int numeric;        /* watch for numeric levels (EVM_AS_FACTOR) */
    int all_numeric;    /* every value so far is a finite number */
    int32_t count, cap; /* codes given out; room in vals/str_of */
    double *vals;       /* [cap] value of each code (numeric mode) */
    int32_t *str_of;    /* [cap] string-table index of each code, -1 for integer codes
                           (NULL while every code is an integer) */
    evm__strtab *tab;
    int32_t *code_of_str;   /* [ncode_of_str] code of each string-table index */
    int32_t ncode_of_str;
    islot *islots;      /* integer table, at most half full */
    size_t imask;
    int32_t nints;      /* entries in it */
};

#define HINT_INT ((uint64_t)2)   /* bit 1 of a hint: the integer table */

evm__levelset *evm__levelset_create(int numeric)
{
    evm__levelset *ls = calloc(1, sizeof *ls);
    if (!ls) return NULL;
    ls->numeric = numeric;
    ls->all_numeric = 1;
    ls->tab = evm__strtab_create();
    if (numeric) {
        ls->islots = calloc(64, sizeof *ls->islots);
        ls->imask = 63;
    }
    if (!ls->tab || (numeric && !ls->islots)) evm__levelset_destroy(&ls);
    return ls;
}

void evm__levelset_destroy(evm__levelset **ls)
{
    if (!ls || !*ls) return;
    free((*ls)->vals);
    free((*ls)->str_of);
    free((*ls)->code_of_str);
    free((*ls)->islots);
    evm__strtab_destroy(&(*ls)->tab);
    free(*ls);
    *ls = NULL;
}

int32_t evm__levelset_count(const evm__levelset *ls)
{
    return ls->numeric ? ls->count : evm__strtab_count(ls->tab);
}

/* [s, s+n) as a canonical integer: 1 and *v, or 0. */
static int canonical_int(const char *s, size_t n, int64_t *v)
{
    int neg = n > 1 && s[0] == '-';
    size_t i = (size_t)neg;
    if (n - i == 0 || n - i > 15 || (s[i] == '0' && n - i > 1)) return 0;
    int64_t x = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        x = x * 10 + (s[i] - '0');
    }
    if (neg && x == 0) return 0;    /* "-0" keeps its spelling: the string table */
    *v = neg ? -x : x;
    return 1;
}

static uint64_t int_hash(int64_t v)
{
    uint64_t h = (uint64_t)v * 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 29);
}

uint64_t evm__levelset_hint(const evm__levelset *ls, const char *s, size_t n)
{
    int64_t v;
    if (ls->numeric && canonical_int(s, n, &v)) return (int_hash(v) & ~(uint64_t)3) | HINT_INT;
    return evm__strtab_hash(s, n) & ~(uint64_t)3;
}

void evm__levelset_prefetch(const evm__levelset *ls, uint64_t hint)
{
    if (!(hint & HINT_INT)) {
        evm__strtab_prefetch(ls->tab, hint);
        return;
    }
#if defined(__GNUC__)
    __builtin_prefetch(&ls->islots[(hint >> 32) & ls->imask]);
#endif
}

/* A new code: room in the per-code arrays.  Returns the code or -1. */
static int32_t new_code(evm__levelset *ls, double value, int32_t str_index)
{
    if (ls->count >= EVM__MAX_LEVELS) return -1;
    if (ls->count == ls->cap) {
        int32_t cap = ls->cap ? (ls->cap > EVM__MAX_LEVELS / 2 ? EVM__MAX_LEVELS : 2 * ls->cap)
                              : 256;
        if (ls->str_of) {
            int32_t *str_of = evm__grow(ls->str_of, (size_t)ls->count, (size_t)cap,
                                             sizeof *str_of);
            if (!str_of) return -1;
            ls->str_of = str_of;
        }
        if (ls->numeric) {
            double *vals = evm__grow(ls->vals, (size_t)ls->count, (size_t)cap,
                                          sizeof *vals);
            if (!vals) return -1;
            ls->vals = vals;
        }
        ls->cap = cap;
    }
    if (str_index >= 0 && !ls->str_of) {    /* the first string: until now all integers */
        ls->str_of = evm__malloc((size_t)ls->cap, sizeof *ls->str_of);
        if (!ls->str_of) return -1;
        for (int32_t u = 0; u < ls->count; u++) ls->str_of[u] = -1;
    }
    int32_t code = ls->count++;
    if (ls->str_of) ls->str_of[code] = str_index;
    if (ls->numeric) ls->vals[code] = value;
    return code;
}

static int grow_ints(evm__levelset *ls)
{
    /* past 64K slots grow 4x: fewer dead tables to fault in and rehash */
    size_t nslots = (ls->imask + 1) * (ls->imask < 65535 ? 2 : 4);
    islot *slots = evm__calloc(nslots, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i <= ls->imask; i++) {
        if (!ls->islots[i].code1) continue;
        size_t j = (int_hash(ls->islots[i].key) >> 32) & (nslots - 1);
        while (slots[j].code1) j = (j + 1) & (nslots - 1);
        slots[j] = ls->islots[i];
    }
    free(ls->islots);
    ls->islots = slots;
    ls->imask = nslots - 1;
    return 0;
}

static int32_t code_int(evm__levelset *ls, int64_t v, uint64_t hint, int *is_new)
{
    size_t j = (hint >> 32) & ls->imask;
    for (; ls->islots[j].code1; j = (j + 1) & ls->imask)
        if (ls->islots[j].key == v) return ls->islots[j].code1 - 1;
    if ((size_t)(ls->nints + 1) * 2 > ls->imask + 1) {
        if (grow_ints(ls) < 0) return -1;
        for (j = (hint >> 32) & ls->imask; ls->islots[j].code1; j = (j + 1) & ls->imask)
            continue;
    }
    int32_t code = new_code(ls, (double)v, -1);
    if (code < 0) return -1;
    ls->islots[j].key = v;
    ls->islots[j].code1 = code + 1;
    ls->nints++;
    *is_new = 1;
    return code;
}

/* Code of a string value in numeric mode: its own code space entry, its value noted
 * (needed only while every value so far is a number: once text has turned up, levels
 * are strings in byte order). */
static int32_t code_string(evm__levelset *ls, int32_t idx, const char *s, size_t n)
{
    double v = 0;
    int r = 0;
    if (ls->all_numeric) {
        r = evm__parse_number(s, n, &v);
        if (r < 0) return -1;
        if (r == 0 || !isfinite(v)) ls->all_numeric = 0;
    }
    if (idx >= ls->ncode_of_str) {
        int32_t cap = ls->ncode_of_str ? 2 * ls->ncode_of_str : 64;
        if (cap <= idx) cap = idx + 1;
        int32_t *m = evm__grow(ls->code_of_str, (size_t)ls->ncode_of_str, (size_t)cap,
                                    sizeof *m);
        if (!m) return -1;
        ls->code_of_str = m;
        ls->ncode_of_str = cap;
    }
    int32_t code = new_code(ls, r == 1 ? v : 0, idx);
    if (code >= 0) ls->code_of_str[idx] = code;
    return code;
}

int32_t evm__levelset_code(evm__levelset *ls, const char *s, size_t n, uint64_t hint,
                           int *is_new)
{
    *is_new = 0;
    if (hint & HINT_INT) {
        int64_t v = 0;
        canonical_int(s, n, &v);
        return code_int(ls, v, hint, is_new);
    }
    int fresh = 0;
    int32_t idx = evm__strtab_intern_hashed(ls->tab, s, n, hint, &fresh);
    if (idx < 0) return -1;
    *is_new = fresh;
    if (!ls->numeric) return idx;          /* codes are the string-table indices */
    return fresh ? code_string(ls, idx, s, n) : ls->code_of_str[idx];
}

/* The spelling of every code, for byte-order levels; integer codes are formatted into
 * *arena (their spelling was canonical, so this gives it back exactly). */
static int spell_codes(const evm__levelset *ls, const char **str, uint32_t *len, char **arena)
{
    int32_t k = evm__levelset_count(ls);
    size_t need = 0;
    for (int32_t u = 0; u < k; u++)
        if (ls->numeric && (!ls->str_of || ls->str_of[u] < 0)) need += 24;
    *arena = malloc(need ? need : 1);
    if (!*arena) return -1;
    char *p = *arena;
    for (int32_t u = 0; u < k; u++) {
        size_t n;
        if (ls->numeric && (!ls->str_of || ls->str_of[u] < 0)) {
            int w = snprintf(p, 24, "%lld", (long long)ls->vals[u]);
            str[u] = p;
            len[u] = (uint32_t)w;
            p += w + 1;
            continue;
        }
        str[u] = evm__strtab_str(ls->tab, ls->numeric ? ls->str_of[u] : u, &n);
        len[u] = (uint32_t)n;
    }
    return 0;
}

int evm__levelset_finish(const evm__levelset *ls, int32_t *codes, int64_t n, char **labels,
                         char ***levels, int32_t *nlevels)
{
    int32_t k = evm__levelset_count(ls);
    if (ls->numeric && ls->all_numeric && k > 0)
        return evm__levels_numeric(k, ls->vals, codes, n, labels, levels, nlevels);
    const char **str = evm__malloc((size_t)k, sizeof *str);
    uint32_t *len = evm__malloc((size_t)k, sizeof *len);
    char *arena = NULL;
    int st = str && len && spell_codes(ls, str, len, &arena) == 0 ? EVM_OK : EVM_ERR_NOMEM;
    if (st == EVM_OK) st = evm__levels_bytes(k, str, len, codes, n, labels, levels, nlevels);
    free(str);
    free(len);
    free(arena);
    return st;
}
