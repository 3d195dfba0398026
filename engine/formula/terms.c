/* terms.c — from the syntax tree to terms, as R's terms() and lme4's findbars() do.
 *
 * The fixed part is the right-hand side without its random terms (lme4's nobars); each
 * random term's expression is expanded the same way into its own term list.  The term
 * algebra mirrors R's EncodeVars (src/library/stats/src/model.c): variables are numbered
 * in order of first encounter, `a*b` = a + b + a:b (left terms outer in the cross), `a/b`
 * = a + (all of a):b, `(..)^k` repeated crossing, `-` deletes terms, and the literals 1/0
 * set the intercept (a '-' in front flips them).  Duplicates are removed keeping the first,
 * and terms are sorted stably by degree. */
#include "formula_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t *m;
    int n, cap;
} tlist;

typedef struct {
    const evm__ast *ast;
    evm__formula *F;
    evm__design *d;   /* the term list being built */
    evm_ctx *c;
    int parity;       /* 1 normally, 0 on the right of a '-' */
    int status;
} enc_t;

static const evm__node *N(const enc_t *E, int k) { return &E->ast->node[k]; }

static int enc_fail(enc_t *E, int pos, const char *what, const char *arg)
{
    E->status = evm__formula_fail(E->c, EVM_ERR_FORMULA, E->F->text, pos, what, arg);
    return -1;
}

static int enc_nomem(enc_t *E)
{
    E->status = evm__fail(E->c, EVM_ERR_NOMEM, "out of memory expanding the formula");
    return -1;
}

/* ------------------------------------------------------------------ names */
static int is_reserved(const char *s)
{
    static const char *const words[] = {
        "if", "else", "repeat", "while", "function", "for", "next", "break", "TRUE",
        "FALSE", "NULL", "Inf", "NaN", "NA", "NA_integer_", "NA_real_", "NA_character_",
        "NA_complex_", "in", NULL};
    for (int i = 0; words[i]; i++)
        if (strcmp(s, words[i]) == 0) return 1;
    return 0;
}

/* R's rule for a syntactic name: letters, digits, '.', '_'; starts with a letter or a
 * '.' not followed by a digit; not a reserved word. */
static int is_syntactic(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    if (!u[0]) return 0;
    int alpha0 = (u[0] >= 'a' && u[0] <= 'z') || (u[0] >= 'A' && u[0] <= 'Z') || u[0] >= 0x80;
    if (!alpha0 && !(u[0] == '.' && !(u[1] >= '0' && u[1] <= '9'))) return 0;
    for (; *u; u++) {
        int ok = (*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z') ||
                 (*u >= '0' && *u <= '9') || *u == '.' || *u == '_' || *u >= 0x80;
        if (!ok) return 0;
    }
    return !is_reserved(s);
}

char *evm__deparse_name(const char *name)
{
    return is_syntactic(name) ? evm__strdup(name) : evm__asprintf("`%s`", name);
}

char *evm__var_display(const evm__formula *F, int v)
{
    char *d = evm__deparse_name(F->var[v].name);
    if (!d || !F->var[v].as_factor) return d;
    char *s = evm__asprintf("factor(%s)", d);
    free(d);
    return s;
}

/* ------------------------------------------------------------------ variables */
static int add_var(enc_t *E, const char *name, int as_factor, int pos)
{
    evm__formula *F = E->F;
    for (int i = 0; i < F->nvars; i++)
        if (F->var[i].as_factor == as_factor && strcmp(F->var[i].name, name) == 0) return i;
    if (F->nvars == F->capvars) {
        int cap = F->capvars ? 2 * F->capvars : 16;
        evm__fvar *nv = realloc(F->var, (size_t)cap * sizeof *nv);
        if (!nv) return enc_nomem(E);
        F->var = nv;
        F->capvars = cap;
    }
    char *copy = evm__strdup(name);
    if (!copy) return enc_nomem(E);
    F->var[F->nvars] = (evm__fvar){copy, as_factor, pos};
    return F->nvars++;
}

/* The local number of a (global) variable in the term list being built. */
static int local_var(enc_t *E, int node)
{
    const evm__node *nd = N(E, node);
    int as_factor = nd->kind == EVM__N_CALL;
    const evm__node *nm = as_factor ? N(E, nd->a) : nd;
    int g = add_var(E, nm->name, as_factor, nd->pos);
    if (g < 0) return -1;
    if (g == 0) return enc_fail(E, nd->pos, "response '%s' also appears on the right-hand side",
                                nm->name);
    evm__design *d = E->d;
    for (int i = 0; i < d->nvars; i++)
        if (d->var[i] == g) return i;
    if (d->nvars == EVM__MAX_LOCAL_VARS)
        return enc_fail(E, nd->pos, "more than %s variables in one term list", "64");
    d->var[d->nvars] = g;
    return d->nvars++;
}

/* ------------------------------------------------------------------ term lists */
static int tl_push(enc_t *E, tlist *t, uint64_t m, int pos)
{
    if (t->n == t->cap) {
        if (t->cap >= 4 * EVM__MAX_TERMS)
            return enc_fail(E, pos, "formula expands to more than %s terms", "1024");
        int cap = t->cap ? 2 * t->cap : 8;
        uint64_t *nm = realloc(t->m, (size_t)cap * sizeof *nm);
        if (!nm) return enc_nomem(E);
        t->m = nm;
        t->cap = cap;
    }
    t->m[t->n++] = m;
    return 0;
}

/* Remove repeated terms, keeping the first (R's TrimRepeats); O(n) with a hash set so
 * long sums stay linear.  Terms are never 0 (each has a variable): 0 marks a free slot. */
static int tl_trim(enc_t *E, tlist *t, int pos)
{
    size_t size = 16;
    while (size < 2 * (size_t)t->n) size *= 2;
    uint64_t *seen = evm__calloc(size, sizeof *seen);
    if (!seen) return enc_nomem(E);
    int k = 0;
    for (int i = 0; i < t->n; i++) {
        uint64_t m = t->m[i];
        size_t h = (size_t)((m * 0x9E3779B97F4A7C15ull) >> 40) & (size - 1);
        while (seen[h] && seen[h] != m) h = (h + 1) & (size - 1);
        if (seen[h]) continue;
        seen[h] = m;
        t->m[k++] = m;
    }
    free(seen);
    t->n = k;
    if (k > EVM__MAX_TERMS)
        return enc_fail(E, pos, "formula expands to more than %s terms", "1024");
    return 0;
}

static int tl_append(enc_t *E, tlist *l, const tlist *r, int pos)
{
    for (int i = 0; i < r->n; i++)
        if (tl_push(E, l, r->m[i], pos) < 0) return -1;
    return 0;
}

/* Every pairwise union, left terms outer (R's InteractTerms / CrossTerms core). */
static int tl_cross(enc_t *E, const tlist *l, const tlist *r, tlist *out, int pos)
{
    if ((int64_t)l->n * r->n > 4 * EVM__MAX_TERMS)
        return enc_fail(E, pos, "formula expands to more than %s terms", "1024");
    for (int i = 0; i < l->n; i++)
        for (int j = 0; j < r->n; j++)
            if (tl_push(E, out, l->m[i] | r->m[j], pos) < 0) return -1;
    return tl_trim(E, out, pos);
}

static int encode(enc_t *E, int node, tlist *out);

static int encode_power(enc_t *E, const evm__node *nd, tlist *out)
{
    const evm__node *ex = N(E, nd->b);
    double k = ex->kind == EVM__N_NUM ? ex->num : 0;
    if (!(k >= 2 && k <= 1e6 && k == (double)(int64_t)k))
        return enc_fail(E, nd->pos, "%s",
                        "invalid power (use a whole number >= 2, as in (a + b)^2)");
    tlist left = {0}, right = {0}, term = {0};
    int st = encode(E, nd->a, &left);
    if (st == 0) st = tl_append(E, &right, &left, nd->pos);
    for (int64_t i = 1; st == 0 && i < (int64_t)k; i++) {
        term.n = 0;
        st = tl_cross(E, &left, &right, &term, nd->pos);
        if (st == 0 && term.n == right.n) break;   /* no new terms: a fixed point */
        tlist tmp = right;
        right = term;
        term = tmp;
    }
    if (st == 0) st = tl_append(E, out, &right, nd->pos);
    free(left.m);
    free(right.m);
    free(term.m);
    return st;
}

static int encode_binary(enc_t *E, const evm__node *nd, tlist *out)
{
    if (nd->op == '^') return encode_power(E, nd, out);
    tlist l = {0}, r = {0}, x = {0};
    int st = encode(E, nd->a, &l);
    if (st == 0 && nd->op == '-') E->parity = !E->parity;
    if (st == 0) st = encode(E, nd->b, &r);
    if (st == 0 && nd->op == '-') E->parity = !E->parity;
    if (st == 0) switch (nd->op) {
    case '+':
        st = tl_append(E, out, &l, nd->pos);
        if (st == 0) st = tl_append(E, out, &r, nd->pos);
        break;
    case ':':
        st = tl_cross(E, &l, &r, out, nd->pos);
        break;
    case '*':
        st = tl_cross(E, &l, &r, &x, nd->pos);
        if (st == 0) st = tl_append(E, out, &l, nd->pos);
        if (st == 0) st = tl_append(E, out, &r, nd->pos);
        if (st == 0) st = tl_append(E, out, &x, nd->pos);
        break;
    case '/': {
        uint64_t all = 0;
        for (int i = 0; i < l.n; i++) all |= l.m[i];
        st = tl_append(E, out, &l, nd->pos);
        for (int i = 0; st == 0 && i < r.n; i++) st = tl_push(E, out, all | r.m[i], nd->pos);
        break;
    }
    case '-':
        for (int i = 0; st == 0 && i < l.n; i++) {
            int del = 0;
            for (int j = 0; j < r.n && !del; j++) del = l.m[i] == r.m[j];
            if (!del) st = tl_push(E, out, l.m[i], nd->pos);
        }
        break;
    }
    if (st == 0) st = tl_trim(E, out, nd->pos);
    free(l.m);
    free(r.m);
    free(x.m);
    return st;
}

/* Append the terms of `node` to `out` (R's EncodeVars). */
static int encode(enc_t *E, int node, tlist *out)
{
    const evm__node *nd = N(E, node);
    switch (nd->kind) {
    case EVM__N_NAME:
    case EVM__N_CALL: {
        int v = local_var(E, node);
        return v < 0 ? -1 : tl_push(E, out, (uint64_t)1 << v, nd->pos);
    }
    case EVM__N_NUM:
        if (nd->num != 0 && nd->num != 1)
            return enc_fail(E, nd->pos, "%s", "a number in a formula must be 0 or 1");
        E->d->intercept = nd->num == 1 ? E->parity : !E->parity;
        return 0;
    case EVM__N_PAREN:
    case EVM__N_POS:
        return encode(E, nd->a, out);
    case EVM__N_NEG: {
        tlist r = {0};
        E->parity = !E->parity;
        int st = encode(E, nd->a, &r);   /* deleting from nothing: only the intercept */
        E->parity = !E->parity;
        free(r.m);
        return st;
    }
    case EVM__N_BIN:
        return encode_binary(E, nd, out);
    case EVM__N_BAR:
    case EVM__N_DBAR:
        return 0;   /* random terms are not part of the fixed effects (lme4's nobars) */
    }
    return 0;
}

static int popcount64(uint64_t m)
{
    int k = 0;
    for (; m; m &= m - 1) k++;
    return k;
}

/* Expand `node` as the right-hand side of a one-sided formula into d. */
static int encode_design(enc_t *E, int node, evm__design *d)
{
    tlist t = {0};
    memset(d, 0, sizeof *d);
    d->intercept = 1;
    E->d = d;
    E->parity = 1;
    if (encode(E, node, &t) < 0) {
        free(t.m);
        return -1;
    }
    /* Stable sort by degree. */
    d->term = evm__malloc((size_t)t.n, sizeof *d->term);
    if (!d->term) {
        free(t.m);
        return enc_nomem(E);
    }
    for (int deg = 1; deg <= EVM__MAX_LOCAL_VARS; deg++)
        for (int i = 0; i < t.n; i++)
            if (popcount64(t.m[i]) == deg) d->term[d->nterms++] = t.m[i];
    free(t.m);
    return 0;
}

/* ------------------------------------------------------------------ random terms */
typedef struct {
    int *bar;      /* node index of each '|' / '||' */
    int *paren;    /* byte offset of its '(' */
    int n, cap;
} barlist;

/* The first '|' or '||' node inside `k`, or -1. */
static int find_bar(const enc_t *E, int k)
{
    if (k < 0) return -1;
    const evm__node *nd = N(E, k);
    if (nd->kind == EVM__N_BAR || nd->kind == EVM__N_DBAR) return k;
    int b = find_bar(E, nd->a);
    return b >= 0 ? b : find_bar(E, nd->b);
}

static const char *bar_text(const evm__node *nd) { return nd->kind == EVM__N_BAR ? "|" : "||"; }

static int push_bar(enc_t *E, barlist *B, int bar, int paren_pos)
{
    if (B->n == B->cap) {
        int cap = B->cap ? 2 * B->cap : 8;
        int *nb = realloc(B->bar, (size_t)cap * sizeof *nb);
        if (!nb) return enc_nomem(E);
        B->bar = nb;
        int *np = realloc(B->paren, (size_t)cap * sizeof *np);
        if (!np) return enc_nomem(E);
        B->paren = np;
        B->cap = cap;
    }
    B->bar[B->n] = bar;
    B->paren[B->n++] = paren_pos;
    return 0;
}

/* Find the random terms of the right-hand side (lme4's findbars) and reject a '|' anywhere
 * but in parentheses added with '+'.  `paren`: the enclosing '(' node, or -1. */
static int collect_bars(enc_t *E, int k, int paren, barlist *B)
{
    const evm__node *nd = N(E, k);
    int b;
    switch (nd->kind) {
    case EVM__N_PAREN:
        return collect_bars(E, nd->a, k, B);
    case EVM__N_POS:
        return collect_bars(E, nd->a, -1, B);
    case EVM__N_BAR:
    case EVM__N_DBAR:
        if (paren < 0)
            return enc_fail(E, nd->pos, "'%s' outside parentheses (write random terms as "
                                        "'(expr | group)')", bar_text(nd));
        if ((b = find_bar(E, nd->a)) >= 0 || (b = find_bar(E, nd->b)) >= 0)
            return enc_fail(E, N(E, b)->pos, "nested '%s'", bar_text(N(E, b)));
        return push_bar(E, B, k, N(E, paren)->pos);
    case EVM__N_BIN:
        if (nd->op == '+')
            return collect_bars(E, nd->a, -1, B) < 0 ? -1 : collect_bars(E, nd->b, -1, B);
        if (nd->op == '-') {
            if (collect_bars(E, nd->a, -1, B) < 0) return -1;
            if ((b = find_bar(E, nd->b)) >= 0)
                return enc_fail(E, N(E, b)->pos, "%s", "a random term cannot be removed with '-'");
            return 0;
        }
        if ((b = find_bar(E, k)) >= 0) {
            char op[2] = {nd->op, 0};
            return enc_fail(E, N(E, b)->pos, "a random term cannot be used with '%s' (add it "
                                             "with '+')", op);
        }
        return 0;
    default:
        if ((b = find_bar(E, k)) >= 0)
            return enc_fail(E, N(E, b)->pos, "%s", "a random term cannot be removed with '-'");
        return 0;
    }
}

/* Grouping factors: `g`, `factor(g)`, `a:b:c` (one factor), `a/b/c` (nested: c:(b:a), b:a,
 * a, as lme4's expandSlash). */
typedef struct {
    int var[EVM__MAX_LOCAL_VARS];
    char *disp[EVM__MAX_LOCAL_VARS];   /* deparsed: `my g`, factor(x) */
    int is_call[EVM__MAX_LOCAL_VARS];
    int n;
} units_t;

static int group_units(enc_t *E, int k, char op, units_t *U)
{
    const evm__node *nd = N(E, k);
    if (op && nd->kind == EVM__N_BIN && nd->op == op)
        return group_units(E, nd->a, op, U) < 0 ? -1 : group_units(E, nd->b, op, U);
    if (nd->kind != EVM__N_NAME && nd->kind != EVM__N_CALL) {
        int pos = nd->pos;
        while (nd->kind == EVM__N_BIN) nd = N(E, nd->a);
        if (nd->pos < pos) pos = nd->pos;
        return enc_fail(E, pos, "%s", "a grouping factor must be a column name, 'a:b' or 'a/b'");
    }
    if (U->n == EVM__MAX_LOCAL_VARS)
        return enc_fail(E, nd->pos, "more than %s grouping variables in one term", "64");
    const evm__node *nm = nd->kind == EVM__N_CALL ? N(E, nd->a) : nd;
    int g = add_var(E, nm->name, 1, nd->pos);
    if (g < 0) return -1;
    char *d = evm__deparse_name(nm->name);
    if (d && nd->kind == EVM__N_CALL) {
        char *f = evm__asprintf("factor(%s)", d);
        free(d);
        d = f;
    }
    if (!d) return enc_nomem(E);
    U->var[U->n] = g;
    U->is_call[U->n] = nd->kind == EVM__N_CALL;
    U->disp[U->n++] = d;
    return 0;
}

/* Add (or find, by name) a grouping factor; takes ownership of `name`. */
static int add_group(enc_t *E, char *name, const int *var, int nvar, int pos)
{
    evm__formula *F = E->F;
    if (!name) return enc_nomem(E);
    for (int i = 0; i < F->ngroups; i++)
        if (strcmp(F->group[i].name, name) == 0) {
            free(name);
            return i;
        }
    evm__group *ng = realloc(F->group, (size_t)(F->ngroups + 1) * sizeof *ng);
    int *v = evm__malloc((size_t)nvar, sizeof *v);
    if (ng) F->group = ng;
    if (!ng || !v) {
        free(name);
        free(v);
        return enc_nomem(E);
    }
    memcpy(v, var, (size_t)nvar * sizeof *v);
    F->group[F->ngroups] = (evm__group){name, nvar, v, pos};
    return F->ngroups++;
}

static char *join_disp(char *const *disp, const int *idx, int n)
{
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(disp[idx[i]]) + 1;
    char *s = malloc(len);
    if (!s) return NULL;
    s[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i) strcat(s, ":");
        strcat(s, disp[idx[i]]);
    }
    return s;
}

/* The grouping factors of one random term, innermost first; their indices in gidx. */
static int parse_group(enc_t *E, int k, int *gidx, int *ng)
{
    const evm__node *nd = N(E, k);
    char op = nd->kind == EVM__N_BIN && (nd->op == ':' || nd->op == '/') ? nd->op : 0;
    units_t U = {.n = 0};
    int st = group_units(E, k, op, &U);
    int idx[EVM__MAX_LOCAL_VARS], vars[EVM__MAX_LOCAL_VARS];
    *ng = 0;
    /* lme4 names a one-variable grouping factor by the bare column name ("my g"), and an
     * interaction by its deparsed expression ("b:`my g`"). */
    const char *bare = st == 0 ? E->F->var[U.var[0]].name : NULL;
    if (st == 0 && op != '/') {
        for (int i = 0; i < U.n; i++) idx[i] = i;
        char *name = U.n == 1 && !U.is_call[0] ? evm__strdup(bare) : join_disp(U.disp, idx, U.n);
        gidx[(*ng)++] = st = add_group(E, name, U.var, U.n, nd->pos);
    }
    char *prev = NULL;   /* deparsed name of the next-outer nested factor */
    for (int j = 0; st >= 0 && op == '/' && j < U.n; j++) {
        char *dep = j == 0 ? evm__strdup(U.disp[0])
                    : j == 1 ? evm__asprintf("%s:%s", U.disp[1], prev)
                             : evm__asprintf("%s:(%s)", U.disp[j], prev);
        free(prev);
        prev = dep;
        const char *nm = j == 0 && !U.is_call[0] ? bare : dep;
        char *name = nm ? evm__strdup(nm) : NULL;
        for (int i = 0; i <= j; i++) vars[i] = U.var[j - i];
        st = add_group(E, name, vars, j + 1, nd->pos);
        if (st >= 0 && !prev) st = enc_nomem(E);
        gidx[U.n - 1 - j] = st;
    }
    if (op == '/') *ng = U.n;
    free(prev);
    for (int i = 0; i < U.n; i++) free(U.disp[i]);
    return st < 0 ? -1 : 0;
}

/* "x:f" for a term (variables in the term list's order). */
static char *term_label(const evm__formula *F, const evm__design *d, uint64_t m)
{
    char *s = evm__strdup("");
    for (int v = 0; s && v < d->nvars; v++) {
        if (!(m >> v & 1)) continue;
        char *name = evm__var_display(F, d->var[v]);
        char *t = name ? evm__asprintf("%s%s%s", s, *s ? ":" : "", name) : NULL;
        free(name);
        free(s);
        s = t;
    }
    return s;
}

/* Append a random term: a copy of `src` restricted to (intercept, nterms terms from
 * `term`), grouped by `group`; takes ownership of `label`. */
static int push_rterm(enc_t *E, const evm__design *src, int intercept, const uint64_t *term,
                      int nterms, int group, int pos, char *label)
{
    evm__formula *F = E->F;
    evm__rterm *nr = label ? realloc(F->re, (size_t)(F->nre + 1) * sizeof *nr) : NULL;
    if (nr) F->re = nr;
    uint64_t *t = evm__malloc((size_t)nterms, sizeof *t);
    if (!nr || !t) {
        free(label);
        free(t);
        return enc_nomem(E);
    }
    evm__rterm *r = &F->re[F->nre++];
    memset(r, 0, sizeof *r);
    r->d.nvars = src->nvars;
    memcpy(r->d.var, src->var, sizeof src->var);
    r->d.intercept = intercept;
    r->d.nterms = nterms;
    r->d.term = t;
    if (nterms) memcpy(t, term, (size_t)nterms * sizeof *t);
    r->group = group;
    r->pos = pos;
    r->label = label;
    return 0;
}

static int node_start(const enc_t *E, int k)
{
    const evm__node *nd = N(E, k);
    while (nd->kind == EVM__N_BIN || nd->kind == EVM__N_BAR || nd->kind == EVM__N_DBAR)
        nd = N(E, nd->a);
    return nd->pos;
}

/* Expand one random term `(expr | g)` or `(expr || g)` into F->re. */
static int expand_bar(enc_t *E, int bar, int paren_pos)
{
    const evm__node *nd = N(E, bar);
    int dbl = nd->kind == EVM__N_DBAR, ng = 0, st = 0;
    int gidx[EVM__MAX_LOCAL_VARS];
    evm__design D;
    if (encode_design(E, nd->a, &D) < 0) return -1;
    if (!D.intercept && D.nterms == 0) {
        st = enc_fail(E, nd->pos, "%s", "random term has no columns (as in '(0 | g)')");
        goto cleanup;
    }
    if ((st = parse_group(E, nd->b, gidx, &ng)) < 0) goto cleanup;
    const char *text = E->F->text;
    int s = node_start(E, nd->a), e = N(E, nd->a)->end;
    for (int g = 0; st == 0 && g < ng; g++) {
        const char *gname = E->F->group[gidx[g]].name;
        if (!dbl) {
            char *label = evm__asprintf("%.*s | %s", e - s, text + s, gname);
            st = push_rterm(E, &D, D.intercept, D.term, D.nterms, gidx[g], paren_pos, label);
        } else if (D.intercept) {
            st = push_rterm(E, &D, 1, NULL, 0, gidx[g], paren_pos, evm__asprintf("1 | %s", gname));
        }
    }
    /* lme4's expandDoubleVerts: (1|g) first, then one (0 + term | g) per term. */
    for (int t = 0; st == 0 && dbl && t < D.nterms; t++) {
        char *tl = term_label(E->F, &D, D.term[t]);
        for (int g = 0; st == 0 && g < ng; g++) {
            char *label = tl ? evm__asprintf("0 + %s | %s", tl, E->F->group[gidx[g]].name) : NULL;
            st = push_rterm(E, &D, 0, &D.term[t], 1, gidx[g], paren_pos, label);
        }
        free(tl);
    }
cleanup:
    free(D.term);
    return st < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ the formula */
void evm__formula_free(evm__formula **Fp)
{
    if (!Fp || !*Fp) return;
    evm__formula *F = *Fp;
    for (int i = 0; i < F->nvars; i++) free(F->var[i].name);
    free(F->var);
    free(F->fixed.term);
    for (int i = 0; i < F->ngroups; i++) {
        free(F->group[i].name);
        free(F->group[i].var);
    }
    free(F->group);
    for (int i = 0; i < F->nre; i++) {
        free(F->re[i].d.term);
        free(F->re[i].label);
    }
    free(F->re);
    free(F->text);
    free(F);
    *Fp = NULL;
}

static int expand(enc_t *E)
{
    const evm__ast *ast = E->ast;
    const evm__node *lhs = N(E, ast->lhs);
    if (lhs->kind != EVM__N_NAME) {
        int b = find_bar(E, ast->lhs);
        if (b >= 0)
            return enc_fail(E, N(E, b)->pos, "'%s' outside parentheses (write random terms "
                                             "as '(expr | group)')", bar_text(N(E, b)));
        return enc_fail(E, node_start(E, ast->lhs), "%s",
                        "the response must be a column name");
    }
    if (add_var(E, lhs->name, 0, lhs->pos) < 0) return -1;
    barlist B = {0};
    int st = collect_bars(E, ast->rhs, -1, &B);
    if (st == 0) st = encode_design(E, ast->rhs, &E->F->fixed);
    for (int i = 0; st == 0 && i < B.n; i++) st = expand_bar(E, B.bar[i], B.paren[i]);
    free(B.bar);
    free(B.paren);
    return st;
}

int evm__formula_parse(const char *text, evm__formula **out, evm_ctx *c)
{
    *out = NULL;
    if (!text) return evm__fail(c, EVM_ERR_ARG, "--formula: no formula given");
    evm__ast ast;
    evm__formula *F = calloc(1, sizeof *F);
    char *copy = evm__strdup(text);
    if (!F || !copy) {
        free(F);
        free(copy);
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory parsing the formula");
    }
    F->text = copy;
    int st = evm__ast_parse(F->text, &ast, c);
    if (st < 0) {
        evm__formula_free(&F);
        return st;
    }
    enc_t E = {.ast = &ast, .F = F, .c = c, .parity = 1, .status = 0};
    if (expand(&E) < 0) {
        st = E.status < 0 ? E.status : EVM_ERR_FORMULA;
        evm__formula_free(&F);
    }
    evm__ast_free(&ast);
    *out = F;
    return st;
}
