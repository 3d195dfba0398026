/* columns.c — the columns a formula reads, as requests for the CSV reader, and the public
 * wrappers evm_formula_columns / evm_colreq_free. */
#include "formula_internal.h"

#include <stdlib.h>
#include <string.h>

static int push_req(evm_colreq *req, int *n, const char *name, evm_as as)
{
    for (int i = 0; i < *n; i++)
        if (req[i].as == as && strcmp(req[i].name, name) == 0) return EVM_OK;
    char *copy = evm__strdup(name);
    if (!copy) return EVM_ERR_NOMEM;
    req[*n].name = copy;
    req[*n].as = as;
    (*n)++;
    return EVM_OK;
}

int evm__formula_columns(const char *formula, const evm_lmm_opts *o, evm_colreq **req,
                         int *nreq, evm_ctx *c)
{
    if (!req || !nreq) return evm__fail(c, EVM_ERR_ARG, "evm_formula_columns: no output");
    *req = NULL;
    *nreq = 0;
    evm__formula *F = NULL;
    int st = evm__formula_parse(formula, &F, c);
    if (st < 0) return st;
    int n = 0;
    evm_colreq *r = evm__calloc((size_t)F->nvars + 2, sizeof *r);
    if (!r) st = EVM_ERR_NOMEM;
    /* In order of first appearance (the response first), then weights and cluster. */
    for (int i = 0; st == EVM_OK && i < F->nvars; i++)
        st = push_req(r, &n, F->var[i].name, F->var[i].as_factor ? EVM_AS_FACTOR : EVM_AS_AUTO);
    if (st == EVM_OK && o && o->weights) st = push_req(r, &n, o->weights, EVM_AS_AUTO);
    if (st == EVM_OK && o && o->cluster) st = push_req(r, &n, o->cluster, EVM_AS_FACTOR);
    evm__formula_free(&F);
    if (st < 0) {
        evm_colreq_free(&r, n);
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory listing the formula's columns");
    }
    *req = r;
    *nreq = n;
    return EVM_OK;
}

int evm_formula_columns(const char *formula, const evm_lmm_opts *o, evm_colreq **req,
                        int *nreq, evm_ctx *c)
{
    return evm__formula_columns(formula, o, req, nreq, c);
}

void evm_colreq_free(evm_colreq **req, int nreq)
{
    if (!req || !*req) return;
    for (int i = 0; i < nreq; i++) free((char *)(*req)[i].name);
    free(*req);
    *req = NULL;
}
