/* ctx.c — the context object: threads, last status, message and warnings. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EVM__MSG_MAX 1024
#define EVM__MAX_WARNINGS 64

struct evm_ctx_s {
    int threads;
    int status;
    int caret;
    char message[EVM__MSG_MAX];
    int nwarnings;
    char *warnings[EVM__MAX_WARNINGS];
};

const char *evm_status_str(int status)
{
    switch (status) {
    case EVM_OK: return "ok";
    case EVM_WARN_BOUNDARY: return "boundary (singular) fit";
    case EVM_WARN_NOCONV: return "no convergence";
    case EVM_ERR_NOMEM: return "out of memory";
    case EVM_ERR_IO: return "input/output error";
    case EVM_ERR_CSV: return "malformed CSV";
    case EVM_ERR_FORMULA: return "formula syntax error";
    case EVM_ERR_COLUMN: return "unknown column";
    case EVM_ERR_TYPE: return "wrong column type";
    case EVM_ERR_VALUE: return "bad value";
    case EVM_ERR_MODEL: return "model cannot be fitted";
    case EVM_ERR_NUMERIC: return "numerical failure";
    case EVM_ERR_ARG: return "invalid argument";
    case EVM_ERR_HDF5: return "HDF5 error";
    default: return "unknown status";
    }
}

evm_ctx *evm_ctx_create(void)
{
    evm_ctx *c = calloc(1, sizeof *c);
    if (c) {
        c->caret = -1;
        evm_ctx_set_threads(c, 0);
    }
    return c;
}

void evm_ctx_destroy(evm_ctx **c)
{
    if (!c || !*c) return;
    for (int i = 0; i < (*c)->nwarnings; i++) free((*c)->warnings[i]);
    free(*c);
    *c = NULL;
}

void evm_ctx_set_threads(evm_ctx *c, int threads)
{
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    c->threads = threads;
}

int evm_ctx_threads(const evm_ctx *c) { return c->threads; }
int evm_ctx_status(const evm_ctx *c) { return c->status; }
const char *evm_ctx_message(const evm_ctx *c) { return c->message; }
int evm_ctx_caret(const evm_ctx *c) { return c->caret; }
int evm_ctx_nwarnings(const evm_ctx *c) { return c->nwarnings; }

const char *evm_ctx_warning(const evm_ctx *c, int i)
{
    return (i >= 0 && i < c->nwarnings) ? c->warnings[i] : NULL;
}

void evm_ctx_clear(evm_ctx *c)
{
    for (int i = 0; i < c->nwarnings; i++) free(c->warnings[i]);
    c->nwarnings = 0;
    c->status = EVM_OK;
    c->caret = -1;
    c->message[0] = '\0';
}

static int set_message(evm_ctx *c, int status, int caret, const char *fmt, va_list ap)
{
    if (!c) return status;
    vsnprintf(c->message, sizeof c->message, fmt, ap);
    c->status = status;
    c->caret = caret;
    /* A message is one line: fold any newline a caller let through. */
    for (char *p = c->message; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return status;
}

int evm__fail(evm_ctx *c, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message(c, status, -1, fmt, ap);
    va_end(ap);
    return status;
}

int evm__fail_caret(evm_ctx *c, int status, int caret, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message(c, status, caret, fmt, ap);
    va_end(ap);
    return status;
}

int evm__warn(evm_ctx *c, const char *fmt, ...)
{
    if (!c || c->nwarnings >= EVM__MAX_WARNINGS) return EVM_OK;
    char buf[EVM__MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *w = evm__strdup(buf);
    if (!w) return EVM_ERR_NOMEM;
    c->warnings[c->nwarnings++] = w;
    return EVM_OK;
}

char *evm__asprintf(const char *fmt, ...)
{
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) vsnprintf(s, (size_t)n + 1, fmt, aq);
    va_end(aq);
    return s;
}
