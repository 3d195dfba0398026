/* ddf.c — names of the denominator-df methods (evm_ddf), for options and result files. */
#include "internal.h"

#include <strings.h>

static const struct {
    const char *option;   /* what --ddf accepts (any case) */
    const char *name;     /* what results and summaries show (lmerTest / pbkrtest) */
    evm_ddf ddf;
} methods[] = {
    {"satterthwaite", "Satterthwaite", EVM_DDF_SATTERTHWAITE},
    {"kenward-roger", "Kenward-Roger", EVM_DDF_KENWARD_ROGER},
    {"residual", "residual", EVM_DDF_RESIDUAL},
    {"none", "none", EVM_DDF_NONE},
};

#define NMETHODS ((int)(sizeof methods / sizeof methods[0]))

int evm_ddf_parse(const char *s, evm_ddf *out, evm_ctx *c)
{
    if (!s || !out) return evm__fail(c, EVM_ERR_ARG, "--ddf: no method given");
    for (int i = 0; i < NMETHODS; i++)
        if (strcasecmp(s, methods[i].option) == 0) {
            *out = methods[i].ddf;
            return EVM_OK;
        }
    return evm__fail(c, EVM_ERR_ARG, "--ddf: unknown method '%s' (satterthwaite, "
                                      "kenward-roger, residual, none)", s);
}

const char *evm_ddf_name(evm_ddf d)
{
    for (int i = 0; i < NMETHODS; i++)
        if (methods[i].ddf == d) return methods[i].name;
    return "unknown";
}
