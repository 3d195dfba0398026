/* nearest.c — nearest-neighbour matching within exact cells, as MatchIt's
 * method = "nearest" (its general matcher nn_matchC), without scanning all pairs.
 *
 * Within a cell the comparison units are sorted by distance (or, for Mahalanobis, by the
 * first coordinate of the transformed points), and each treated unit searches outward
 * from its own position.  Units already used (matching without replacement) are skipped
 * in O(α(n)) by two union-find "next available" arrays with path halving.
 *
 * Order and ties (docs/matching.md):
 *  - without replacement, ratio k: k rounds; in each, the treated units of a cell in
 *    decreasing order of distance (m.order = "largest"; data order for Mahalanobis), each
 *    taking its nearest available comparison unit — MatchIt's order;
 *  - with replacement, each treated unit takes its k nearest at once;
 *  - equal distances go to the smaller key: row order by default, which is MatchIt's
 *    choice (which_min takes the first unit in data order), or a seeded random order;
 *  - a caliper (in distance units) is inclusive, as MatchIt's `diff <= caliper`. */
#include "match_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void evm__mt_sets_free(evm__mt_sets *s)
{
    if (!s) return;
    free(s->treated_row);
    free(s->start);
    free(s->ctrl);
    memset(s, 0, sizeof *s);
}

typedef struct {
    double v;
    uint64_t key;
    int64_t row;
    int32_t cell;
} unit;

/* The rows of one group (treated or comparison) as units sorted by (cell, v, key), and
 * among equal keys in row order: v is the distance (comparison units; for Mahalanobis
 * the first coordinate), minus the distance (treated, m.order = "largest") or 0 (treated
 * in data order).  The three stable passes go over row numbers, so no unit is copied. */
static int sorted_units(const evm__mt_nn_problem *p, int group, int64_t m, unit *u,
                        evm__mt_ws *ws, evm_ctx *c)
{
    const int64_t n = p->n;
    int64_t *order = evm__malloc((size_t)(m > 0 ? m : 1), sizeof *order);
    uint64_t *key = evm__malloc((size_t)(n > 0 ? n : 1), sizeof *key);
    int st = 0;
    if (!order || !key) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (p->treat[i] == group) order[k++] = i;
    const int by_key = group == 0 || p->order_largest;
    if (by_key && (st = evm__mt_radix_order(ws, m, p->key, order, c)) < 0) goto cleanup;
    for (int64_t j = 0; j < m; j++) {
        int64_t i = order[j];
        double v = group == 0 ? (p->dist ? p->dist[i] : p->z[i])
                              : (p->order_largest && p->dist ? -p->dist[i] : 0);
        key[i] = evm__mt_double_key(v);
    }
    if ((st = evm__mt_radix_order(ws, m, key, order, c)) < 0) goto cleanup;
    for (int64_t j = 0; j < m; j++) key[order[j]] = (uint64_t)p->cell[order[j]];
    if ((st = evm__mt_radix_order(ws, m, key, order, c)) < 0) goto cleanup;
    for (int64_t j = 0; j < m; j++) {
        int64_t i = order[j];
        double v = group == 0 ? (p->dist ? p->dist[i] : p->z[i])
                              : (p->order_largest && p->dist ? -p->dist[i] : 0);
        u[j] = (unit){v, by_key ? p->key[i] : 0, i, p->cell[i]};
    }
cleanup:
    free(order);
    free(key);
    return st;
}

/* ------------------------------------------------------------ availability */
typedef struct {
    int64_t *right;   /* right[i]: i if available, else a later index; right[m] = m */
    int64_t *left;    /* left[i + 1]: i + 1 if i available, else an earlier one; left[0] = 0 */
} avail;

static int64_t find(int64_t *par, int64_t i)
{
    while (par[i] != i) {
        par[i] = par[par[i]];
        i = par[i];
    }
    return i;
}

static int64_t next_right(avail *a, int64_t i) { return find(a->right, i); }
static int64_t next_left(avail *a, int64_t i) { return find(a->left, i + 1) - 1; }

static void take(avail *a, int64_t i)
{
    a->right[i] = i + 1;
    a->left[i + 1] = i;
}

/* First index in [lo, hi) with v >= x (hi if none). */
static int64_t lower_bound(const unit *u, int64_t lo, int64_t hi, double x)
{
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (u[mid].v < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* ------------------------------------------------------------ problem state */
typedef struct {
    const evm__mt_nn_problem *p;
    unit *ctrl;           /* sorted comparison units */
    int64_t n0;
    int64_t *cstart;      /* [ncells + 1] */
    /* results: per treated (data order) up to `ratio` comparison rows */
    int64_t *tidx;        /* row -> treated index, -1 for comparison rows */
    int64_t *mm;          /* [n1 x ratio] positions in ctrl, -1 empty */
    int *nm;              /* [n1] matches so far */
} state;

static double point_dist(const evm__mt_nn_problem *p, int64_t a, int64_t b)
{
    double s = 0;
    for (int q = 0; q < p->k; q++) {
        double d = p->z[(int64_t)q * p->n + a] - p->z[(int64_t)q * p->n + b];
        s += d * d;
    }
    return sqrt(s);
}

static int in_window(const evm__mt_nn_problem *p, int64_t t, int64_t row)
{
    for (int w = 0; w < p->nwindow; w++)
        if (!(fabs(p->window_x[w][row] - p->window_x[w][t]) <= p->window_w[w])) return 0;
    return 1;
}

static int has_caliper(const evm__mt_nn_problem *p) { return p->caliper > 0; }

/* Nearest available comparison unit in [a, b) for treated row t (1-D); -1 if none or
 * outside the caliper. */
static int64_t nearest_1d(state *s, avail *av, int64_t a, int64_t b, int64_t t)
{
    const double dt = s->p->dist[t];
    const unit *u = s->ctrl;
    int64_t pos = lower_bound(u, a, b, dt);
    int64_t r = pos < b ? next_right(av, pos) : b;
    int64_t l = next_left(av, pos - 1);
    if (l >= a) {
        /* among equal distances the smallest key: the first available of the run */
        int64_t q = lower_bound(u, a, l, u[l].v);
        l = next_right(av, q);
    }
    int have_r = r < b, have_l = l >= a && l < pos;
    if (!have_r && !have_l) return -1;
    int64_t best;
    if (have_r && have_l) {
        double dl = dt - u[l].v, dr = u[r].v - dt;
        if (dl < dr) best = l;
        else if (dr < dl) best = r;
        else best = u[l].key < u[r].key || (u[l].key == u[r].key && u[l].row < u[r].row) ? l : r;
    } else {
        best = have_r ? r : l;
    }
    if (has_caliper(s->p) && !(fabs(u[best].v - dt) <= s->p->caliper)) return -1;
    return best;
}

/* Nearest available by Euclidean distance between points (Mahalanobis); the controls are
 * sorted by the first coordinate, which bounds the distance from below. */
static int64_t nearest_points(state *s, avail *av, int64_t a, int64_t b, int64_t t)
{
    const evm__mt_nn_problem *p = s->p;
    const unit *u = s->ctrl;
    const double zt = p->z[t];
    int64_t pos = lower_bound(u, a, b, zt);
    double best = INFINITY;
    int64_t bi = -1;
    for (int side = 0; side < 2; side++) {
        int64_t j = side == 0 ? (pos < b ? next_right(av, pos) : b) : next_left(av, pos - 1);
        while (side == 0 ? j < b : j >= a) {
            double gap = fabs(u[j].v - zt);
            if (gap > best) break;
            double d = point_dist(p, t, u[j].row);
            if (d < best || (d == best && bi >= 0 &&
                             (u[j].key < u[bi].key ||
                              (u[j].key == u[bi].key && u[j].row < u[bi].row)))) {
                best = d;
                bi = j;
            }
            j = side == 0 ? (j + 1 < b ? next_right(av, j + 1) : b) : next_left(av, j - 1);
        }
    }
    return bi;
}

/* ------------------------------------------------------------ k nearest (replacement) */
typedef struct {
    double d;
    uint64_t key;
    int64_t pos, row;
} cand;

static int cand_less(const cand *x, const cand *y)
{
    if (x->d != y->d) return x->d < y->d;
    if (x->key != y->key) return x->key < y->key;
    return x->row < y->row;
}

/* Keep the k smallest candidates in buf (sorted); returns the new count. */
static int cand_insert(cand *buf, int count, int k, cand c)
{
    if (count == k && !cand_less(&c, &buf[k - 1])) return count;
    int i = count < k ? count++ : k - 1;
    while (i > 0 && cand_less(&c, &buf[i - 1])) {
        buf[i] = buf[i - 1];
        i--;
    }
    buf[i] = c;
    return count;
}

static int knn(state *s, int64_t a, int64_t b, int64_t t, cand *buf)
{
    const evm__mt_nn_problem *p = s->p;
    const unit *u = s->ctrl;
    const int k = p->ratio;
    int count = 0;
    if (p->dist) {
        const double dt = p->dist[t];
        int64_t pos = lower_bound(u, a, b, dt);
        int64_t l = pos - 1, r = pos;
        for (;;) {
            int have_l = l >= a, have_r = r < b;
            if (!have_l && !have_r) break;
            double dl = have_l ? dt - u[l].v : INFINITY, dr = have_r ? u[r].v - dt : INFINITY;
            int64_t j = dl <= dr ? l-- : r++;
            double d = dl <= dr ? dl : dr;
            if (has_caliper(p) && !(d <= p->caliper)) break;
            if (count == k && d > buf[k - 1].d) break;
            if (p->nwindow && !in_window(p, t, u[j].row)) continue;
            count = cand_insert(buf, count, k, (cand){d, u[j].key, j, u[j].row});
        }
    } else {
        const double zt = p->z[t];
        int64_t pos = lower_bound(u, a, b, zt);
        for (int side = 0; side < 2; side++) {
            int64_t j = side == 0 ? pos : pos - 1;
            while (side == 0 ? j < b : j >= a) {
                if (count == k && fabs(u[j].v - zt) > buf[k - 1].d) break;
                if (!p->nwindow || in_window(p, t, u[j].row)) {
                    double d = point_dist(p, t, u[j].row);
                    count = cand_insert(buf, count, k, (cand){d, u[j].key, j, u[j].row});
                }
                j += side == 0 ? 1 : -1;
            }
        }
    }
    return count;
}

/* ------------------------------------------------------------ driver */
int evm__mt_nn_match(const evm__mt_nn_problem *p, evm__mt_sets *out, evm__mt_ws *ws,
                     evm_ctx *c)
{
    memset(out, 0, sizeof *out);
    const int64_t n = p->n;
    const int k = p->ratio;
    int st = 0;
    int64_t n1 = 0, n0 = 0;
    for (int64_t i = 0; i < n; i++) {
        if (p->treat[i]) n1++;
        else n0++;
    }
    state s = {.p = p, .n0 = n0};
    unit *tr = evm__malloc((size_t)(n1 > 0 ? n1 : 1), sizeof *tr);
    s.ctrl = evm__malloc((size_t)(n0 > 0 ? n0 : 1), sizeof *s.ctrl);
    s.cstart = evm__calloc((size_t)p->ncells + 2, sizeof *s.cstart);
    int64_t *tstart = evm__calloc((size_t)p->ncells + 2, sizeof *tstart);
    s.tidx = evm__malloc((size_t)(n > 0 ? n : 1), sizeof *s.tidx);
    s.mm = evm__malloc((size_t)(n1 > 0 ? n1 : 1) * (size_t)k, sizeof *s.mm);
    s.nm = evm__calloc((size_t)(n1 > 0 ? n1 : 1), sizeof *s.nm);
    char *failed = evm__calloc((size_t)(n1 > 0 ? n1 : 1), 1);
    avail av = {evm__malloc((size_t)n0 + 1, sizeof(int64_t)),
                evm__malloc((size_t)n0 + 1, sizeof(int64_t))};
    cand *buf = evm__malloc((size_t)k, sizeof *buf);
    if (!tr || !s.ctrl || !s.cstart || !tstart || !s.tidx || !s.mm || !s.nm || !failed ||
        !av.right || !av.left || !buf) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    int64_t i1 = 0;
    for (int64_t i = 0; i < n; i++) s.tidx[i] = p->treat[i] ? i1++ : -1;
    evm__mt_ws local = {0};
    if ((st = sorted_units(p, 0, n0, s.ctrl, ws ? ws : &local, c)) < 0 ||
        (st = sorted_units(p, 1, n1, tr, ws ? ws : &local, c)) < 0) {
        evm__mt_ws_free(&local);
        goto cleanup;
    }
    evm__mt_ws_free(&local);
    for (int64_t j = 0; j < n1 * k; j++) s.mm[j] = -1;
    for (int64_t j = 0; j < n0; j++) s.cstart[s.ctrl[j].cell + 1]++;
    for (int64_t j = 0; j < n1; j++) tstart[tr[j].cell + 1]++;
    for (int64_t g = 0; g < p->ncells; g++) {
        s.cstart[g + 1] += s.cstart[g];
        tstart[g + 1] += tstart[g];
    }
    for (int64_t j = 0; j <= n0; j++) av.right[j] = av.left[j] = j;

    for (int64_t g = 0; g < p->ncells; g++) {
        int64_t a = s.cstart[g], b = s.cstart[g + 1];
        if (a == b) continue;
        if (p->replace) {
            for (int64_t j = tstart[g]; j < tstart[g + 1]; j++) {
                int64_t t = tr[j].row, ti = s.tidx[t];
                int cnt = knn(&s, a, b, t, buf);
                for (int q = 0; q < cnt; q++) s.mm[ti * k + q] = buf[q].pos;
                s.nm[ti] = cnt;
            }
            continue;
        }
        for (int r = 0; r < k; r++) {
            for (int64_t j = tstart[g]; j < tstart[g + 1]; j++) {
                int64_t t = tr[j].row, ti = s.tidx[t];
                if (failed[ti]) continue;
                int64_t m = p->dist ? nearest_1d(&s, &av, a, b, t)
                                    : nearest_points(&s, &av, a, b, t);
                if (m < 0) {
                    failed[ti] = 1;
                    continue;
                }
                s.mm[ti * k + r] = m;
                s.nm[ti]++;
                take(&av, m);
            }
        }
    }

    /* sets in data order of the treated units */
    out->n1 = n1;
    out->treated_row = evm__malloc((size_t)(n1 > 0 ? n1 : 1), sizeof *out->treated_row);
    out->start = evm__malloc((size_t)n1 + 1, sizeof *out->start);
    int64_t total = 0;
    for (int64_t j = 0; j < n1; j++) total += s.nm[j];
    out->ctrl = evm__malloc((size_t)(total > 0 ? total : 1), sizeof *out->ctrl);
    if (!out->treated_row || !out->start || !out->ctrl) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    int64_t pos = 0, ti = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!p->treat[i]) continue;
        out->treated_row[ti] = i;
        out->start[ti] = pos;
        for (int q = 0; q < k; q++) {
            int64_t m = s.mm[ti * k + q];
            if (m >= 0) out->ctrl[pos++] = s.ctrl[m].row;
        }
        ti++;
    }
    out->start[n1] = pos;
cleanup:
    if (st < 0) evm__mt_sets_free(out);
    free(tr);
    free(s.ctrl);
    free(s.cstart);
    free(tstart);
    free(s.tidx);
    free(s.mm);
    free(s.nm);
    free(failed);
    free(av.right);
    free(av.left);
    free(buf);
    return st;
}
