/* test_contrast.c — evm_contrast_parse (grammar of docs/contrasts.md): weights for good
 * expressions, and for bad ones the exact one-line message, the caret position and
 * untouched weights; evm_ddf_parse / evm_ddf_name. */
#include "check.h"
#include "evalmix/evalmix.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static char *names[] = {"(Intercept)", "treat",           "year2",
                        "year3",       "treat:year2",     "treat:year3",
                        "factor(year)2", "SES:SectorPublic", "RaceBlack, non-Hispanic",
                        "Racenon-white", "I(x^2)",        "poly(x, 2)1",
                        "grade4",      "grade5"};
#define P ((int)(sizeof names / sizeof names[0]))

static int index_of(const char *name)
{
    for (int k = 0; k < P; k++)
        if (strcmp(names[k], name) == 0) return k;
    return -1;
}

/* expr gives exactly the weights listed as name, weight, ..., NULL */
static void expect(const char *expr, ...)
{
    double w[P], want[P] = {0};
    for (int k = 0; k < P; k++) w[k] = 42.0;
    va_list ap;
    va_start(ap, expr);
    for (const char *nm; (nm = va_arg(ap, const char *));) {
        double v = va_arg(ap, double);
        int k = index_of(nm);
        if (k < 0) {
            fprintf(stderr, "test bug: no coefficient %s\n", nm);
            exit(2);
        }
        want[k] += v;
    }
    va_end(ap);
    evm_ctx *c = evm_ctx_create();
    int st = evm_contrast_parse(expr, names, P, w, c);
    if (st != EVM_OK) fprintf(stderr, "'%s': %s\n", expr, evm_ctx_message(c));
    CHECK_INT(st, EVM_OK);
    for (int k = 0; k < P; k++)
        if (st == EVM_OK) CHECK_REL(w[k], want[k], 1e-15, 1e-300);
    evm_ctx_destroy(&c);
}

/* expr fails with "--contrast: <what>: <expr>" and the caret under byte `at` of expr;
 * the weights are left alone. */
static void expect_error(const char *expr, const char *what, int at)
{
    double w[P];
    for (int k = 0; k < P; k++) w[k] = 42.0;
    evm_ctx *c = evm_ctx_create();
    int st = evm_contrast_parse(expr, names, P, w, c);
    CHECK_INT(st, EVM_ERR_ARG);
    char want[2048];
    snprintf(want, sizeof want, "--contrast: %s: %s", what, expr);
    CHECK_STR(evm_ctx_message(c), want);
    CHECK_INT(evm_ctx_caret(c), (int)(strlen(want) - strlen(expr)) + at);
    int untouched = 1;
    for (int k = 0; k < P; k++) untouched &= w[k] == 42.0;
    CHECK(untouched);
    evm_ctx_destroy(&c);
}

int main(void)
{
    /* ---- sums of terms */
    expect("treat", "treat", 1.0, NULL);
    expect("treat + treat:year2", "treat", 1.0, "treat:year2", 1.0, NULL);
    expect("treat - treat:year2", "treat", 1.0, "treat:year2", -1.0, NULL);
    expect("0.5*treat:year2 + 0.5*treat:year3", "treat:year2", 0.5, "treat:year3", 0.5,
           NULL);
    expect("treat:year2*0.5+treat:year3/2", "treat:year2", 0.5, "treat:year3", 0.5, NULL);
    expect("  -  treat\t+ 2/3 * year2 ", "treat", -1.0, "year2", 2.0 / 3.0, NULL);
    expect("1e-1*treat - .5*year2 + 2.5E+1 * year3", "treat", 0.1, "year2", -0.5, "year3",
           25.0, NULL);
    expect("+treat*-1", "treat", -1.0, NULL);
    expect("treat * +3", "treat", 3.0, NULL);
    expect("1/3*grade4 + grade5*1/3", "grade4", 1.0 / 3, "grade5", 1.0 / 3, NULL);
    /* a name given twice: weights add */
    expect("treat + treat", "treat", 2.0, NULL);
    expect("treat + 0.5*treat:year2 - treat + treat:year2*0.5", "treat:year2", 1.0, NULL);
    /* names as evalmix prints them, bare or backquoted */
    expect("(Intercept) + treat", "(Intercept)", 1.0, "treat", 1.0, NULL);
    expect("factor(year)2", "factor(year)2", 1.0, NULL);
    expect("`factor(year)2` - 2*`treat:year2`", "factor(year)2", 1.0, "treat:year2", -2.0,
           NULL);
    expect("SES:SectorPublic", "SES:SectorPublic", 1.0, NULL);
    expect("RaceBlack, non-Hispanic - Racenon-white", "RaceBlack, non-Hispanic", 1.0,
           "Racenon-white", -1.0, NULL);
    expect("I(x^2)*2 + poly(x, 2)1", "I(x^2)", 2.0, "poly(x, 2)1", 1.0, NULL);
    /* the longest name wins, and needs a delimiter after it */
    expect("treat:year2-treat", "treat:year2", 1.0, "treat", -1.0, NULL);

    /* ---- errors: message and caret */
    expect_error("", "empty expression", 0);
    expect_error("   ", "empty expression", 3);
    expect_error("treat +", "expected a term after '+'", 6);
    expect_error("treat + treat:year2 -  ", "expected a term after '-'", 20);
    expect_error("-", "expected a term after '-'", 0);
    expect_error("treat + treat:yr2",
                 "unknown coefficient 'treat:yr2' (did you mean 'treat:year2'?)", 8);
    expect_error("Treat", "unknown coefficient 'Treat' (did you mean 'treat'?)", 0);
    expect_error("0.5*year2:treat",
                 "unknown coefficient 'year2:treat' (did you mean 'treat:year2'?)", 4);
    expect_error("treatment", "unknown coefficient 'treatment' (did you mean 'treat'?)", 0);
    expect_error("`treat:yr2`",
                 "unknown coefficient 'treat:yr2' (did you mean 'treat:year2'?)", 0);
    expect_error("treat + zzzzzzzz",
                 "unknown coefficient 'zzzzzzzz' (coefficients: (Intercept), treat, year2, "
                 "year3, treat:year2, treat:year3, factor(year)2, SES:SectorPublic, "
                 "RaceBlack, non-Hispanic, Racenon-white, I(x^2), poly(x, 2)1, and 2 more)",
                 8);
    expect_error("log(x + 1)",
                 "unknown coefficient 'log(x + 1)' (coefficients: (Intercept), treat, year2, "
                 "year3, treat:year2, treat:year3, factor(year)2, SES:SectorPublic, "
                 "RaceBlack, non-Hispanic, Racenon-white, I(x^2), poly(x, 2)1, and 2 more)",
                 0);
    expect_error("0.5*", "expected a coefficient name after '*'", 3);
    expect_error("0.5 * + treat", "expected a coefficient name after '*'", 4);
    expect_error("0.5 treat", "expected '*' and a name after the number", 4);
    expect_error("2treat", "expected '*' and a name after the number", 1);
    expect_error("treat year2", "expected '+', '-' or the end", 6);
    expect_error("treat + ++year2", "expected a coefficient name", 8);
    expect_error("treat * year2", "expected a number", 8);
    expect_error("treat*", "expected a number after '*'", 5);
    expect_error("treat /", "expected a number after '/'", 6);
    expect_error("treat/0", "division by zero", 6);
    expect_error("1/0*treat", "division by zero", 2);
    expect_error("1e400*treat", "number out of range", 0);
    expect_error("1e*treat", "expected digits of the exponent", 1);
    expect_error("1e308*treat + 1e308*treat", "number out of range", 14);
    expect_error("`treat", "unterminated backquote", 0);
    expect_error("treat + ``", "empty name", 8);
    expect_error("treat - treat", "the weights cancel to zero", 0);
    expect_error("0*treat", "the weights cancel to zero", 0);

    /* ---- no coefficients at all */
    {
        evm_ctx *c = evm_ctx_create();
        CHECK_INT(evm_contrast_parse("x", NULL, 0, NULL, c), EVM_ERR_ARG);
        CHECK_STR(evm_ctx_message(c),
                  "--contrast: unknown coefficient 'x' (the model has no coefficients): x");
        CHECK_INT(evm_contrast_parse(NULL, names, P, NULL, c), EVM_ERR_ARG);
        evm_ctx_destroy(&c);
    }

    /* ---- denominator df methods */
    {
        evm_ctx *c = evm_ctx_create();
        evm_ddf d = EVM_DDF_NONE;
        CHECK_INT(evm_ddf_parse("satterthwaite", &d, c), EVM_OK);
        CHECK_INT(d, EVM_DDF_SATTERTHWAITE);
        CHECK_INT(evm_ddf_parse("Kenward-Roger", &d, c), EVM_OK);
        CHECK_INT(d, EVM_DDF_KENWARD_ROGER);
        CHECK_INT(evm_ddf_parse("residual", &d, c), EVM_OK);
        CHECK_INT(d, EVM_DDF_RESIDUAL);
        CHECK_INT(evm_ddf_parse("none", &d, c), EVM_OK);
        CHECK_INT(d, EVM_DDF_NONE);
        d = EVM_DDF_RESIDUAL;
        CHECK_INT(evm_ddf_parse("kr", &d, c), EVM_ERR_ARG);
        CHECK_INT(d, EVM_DDF_RESIDUAL);
        CHECK_STR(evm_ctx_message(c), "--ddf: unknown method 'kr' (satterthwaite, "
                                      "kenward-roger, residual, none)");
        CHECK_STR(evm_ddf_name(EVM_DDF_SATTERTHWAITE), "Satterthwaite");
        CHECK_STR(evm_ddf_name(EVM_DDF_KENWARD_ROGER), "Kenward-Roger");
        CHECK_STR(evm_ddf_name(EVM_DDF_RESIDUAL), "residual");
        CHECK_STR(evm_ddf_name(EVM_DDF_NONE), "none");
        CHECK_STR(evm_ddf_name((evm_ddf)99), "unknown");
        evm_ctx_destroy(&c);
    }
    return check_summary("test_contrast");
}
