# lmertest_reference.R — reference values from lmerTest for tests/reference/test_satterthwaite.c
#
# Run from the repository root:   Rscript tests/reference/lmertest_reference.R
# Reads only the bundled CSV files in datasets/ (see datasets/README.md), exactly as
# lme4_reference.R does (C collation, stringsAsFactors = TRUE), fits every case with
# lmerTest::lmer and writes tests/reference/lmertest_reference.json with
#   summary(m)$coefficients          per coefficient: estimate, SE, Satterthwaite df, t, p
#   anova(m, type = 3)               per term: F, NumDF, DenDF, Pr(>F), and the hypothesis
#                                    matrix lmerTest used (attr(, "hypotheses"))
#   contest(m, L, joint = FALSE)     a few single-row contrasts: estimate, SE, df, t, p
#   m@vcov_varpar                    2 H^-1, H the numDeriv Hessian of devfun_vp (diagnosis)
#
# Optimum.  Satterthwaite df depend on theta-hat; lme4's default stopping rule leaves some
# fits measurably short of the optimum (hsb_slopes_reml: "failed to converge", theta[3]
# = 4.8e-4 instead of 0, df of SES 1423.76 instead of 1429.85).  evalmix optimises
# tighter, so the reference values come from the same model refitted by BOBYQA to
# rhoend = 1e-12 (lmerTest code unchanged; only the optimum is more precise).  The df of
# the default fit are kept as coef$df_default for comparison, not tested.
#
# Numbers are written with the fewest of 15, 16 or 17 significant digits that read back
# as the identical double.  Missing values are null.  Matrices are arrays of rows.

source("tests/reference/common.R")
evm_one_blas_thread()

suppressPackageStartupMessages({
    library(lmerTest)
    library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

out_path <- "tests/reference/lmertest_reference.json"
if (!dir.exists("datasets")) stop("run from the repository root (datasets/ not found)")

# id, csv, formula, REML, contrasts (each a named vector of weights on coefficients),
# optionally a prior-weights column.
cases <- list(
    list("sleepstudy_reml", "sleepstudy.csv", "Reaction ~ Days + (Days|Subject)", TRUE,
         list(c("(Intercept)" = 1, Days = 7), c("(Intercept)" = 1, Days = -1))),
    list("pastes_nested_reml", "Pastes.csv", "strength ~ 1 + (1|batch/cask)", TRUE,
         list(c("(Intercept)" = 1))),
    list("penicillin_crossed_reml", "Penicillin.csv", "diameter ~ 1 + (1|plate) + (1|sample)",
         TRUE, list(c("(Intercept)" = 2))),
    # Box & Tiao's constructed example: the between-batch variance is estimated as zero,
    # so lmerTest differentiates across the boundary theta = 0.
    list("dyestuff2_singular_reml", "Dyestuff2.csv", "Yield ~ 1 + (1|Batch)", TRUE,
         list(c("(Intercept)" = 1))),
    # A boundary fit too: the SES-slope factor theta[3] is 0 at the optimum.
    list("hsb_slopes_reml", "hsb.csv", "MathAch ~ SES*Sector + (SES|School)", TRUE,
         list(c(SES = 1, "SES:SectorPublic" = 1),
              c("(Intercept)" = 1, SectorPublic = 1),
              c(SectorPublic = 1, "SES:SectorPublic" = 0.5))),
    list("hsb_slopes_ml", "hsb.csv", "MathAch ~ SES*Sector + (SES|School)", FALSE,
         list(c(SES = 1, "SES:SectorPublic" = 1),
              c(SectorPublic = 1, "SES:SectorPublic" = 0.5))),
    # Factor-by-numeric interaction: 2-df F tests for recipe and recipe:temp.
    list("cake_split_plot_reml", "cake.csv", "angle ~ recipe * temp + (1|recipe:replicate)",
         TRUE, list(c(recipeB = 1, recipeC = -1), c(temp = 1, "recipeB:temp" = 0.5),
                    c("(Intercept)" = 1, temp = 200))),
    # Factor-by-factor interaction with factor(): 2-, 5- and 10-df F tests.
    list("cake_factorial_reml", "cake.csv",
         "angle ~ recipe * factor(temperature) + (1|recipe:replicate)", TRUE,
         list(c("factor(temperature)225" = 1, "factor(temperature)215" = -1),
              c(recipeB = 1, "recipeB:factor(temperature)225" = 1))),
    list("exam_schgend_reml", "Exam.csv", "normexam ~ standLRT + schgend + (1|school)", TRUE,
         list(c(schgendgirls = 1, schgendmixed = -1), c(standLRT = 1))),
    # One fixed term: lmerTest uses its type-1 (Doolittle) hypothesis for it.
    list("exam_one_term_reml", "Exam.csv", "normexam ~ schgend + (1|school)", TRUE,
         list(c(schgendgirls = 1))),
    # Aliasing: single-sex schools (typeSngl) are exactly schgend boys + girls.  typeSngl
    # is dropped, so the term type has no testable row (lmerTest: a row of NAs).
    list("exam_aliased_reml", "Exam.csv", "normexam ~ standLRT + schgend + type + (1|school)",
         TRUE, list(c(schgendgirls = 1))),
    # ... and with type first, schgendmixed is the dropped column, and the type-3
    # hypotheses go through its alias coefficients.
    list("exam_aliased_interaction_reml", "Exam.csv",
         "normexam ~ standLRT * type + schgend + (1|school)", TRUE,
         list(c(standLRT = 1, "standLRT:typeSngl" = 1))),
    # Two grouping factors with a correlated slope (five variance parameters).
    list("egsingle_growth_reml", "egsingle.csv", "math ~ year + (year|childid) + (1|schoolid)",
         TRUE, list(c("(Intercept)" = 1, year = 2))),
    # Prior weights (temperature as weights: an exercise, not an analysis).
    list("cake_weighted_reml", "cake.csv", "angle ~ recipe + temp + (1|recipe:replicate)",
         TRUE, list(c(recipeB = 1, recipeC = -1)), "temp")
)

quiet <- function(expr) suppressMessages(suppressWarnings(expr))

# ---------------------------------------------------------------- one case
fit_case <- function(id, csv, formula, reml, contrasts, weights = NULL) {
    path <- file.path("datasets", csv)
    d <- read.csv(path, stringsAsFactors = TRUE)
    f <- as.formula(formula)
    tctl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5),
                        check.conv.grad = "ignore", check.conv.hess = "ignore",
                        check.conv.singular = "ignore")
    call0 <- if (is.null(weights)) bquote(lmerTest::lmer(.(f), data = d, REML = .(reml)))
             else bquote(lmerTest::lmer(.(f), data = d, REML = .(reml),
                                        weights = .(as.name(weights))))
    call <- call0
    call$control <- tctl
    m0 <- quiet(eval(call0))
    warns <- character(0)
    m <- withCallingHandlers(
        eval(call),
        warning = function(w) {
            warns <<- c(warns, conditionMessage(w))
            invokeRestart("muffleWarning")
        },
        message = function(c) invokeRestart("muffleMessage"))
    stopifnot(inherits(m, "lmerModLmerTest"))

    cf <- summary(m)$coefficients
    cf0 <- summary(m0)$coefficients
    nm <- rownames(cf)

    an <- quiet(anova(m, type = 3))
    hyp <- attr(an, "hypotheses")
    anova_json <- lapply(rownames(an), function(t) {
        L <- hyp[[t]]
        list(term = unbox(t), F = jnum(an[t, "F value"]), NumDF = jnum(an[t, "NumDF"]),
             DenDF = jnum(an[t, "DenDF"]), p = jnum(an[t, "Pr(>F)"]),
             L = if (nrow(L)) jmat(L[, nm, drop = FALSE]) else I(list()))
    })

    con_json <- lapply(contrasts, function(w) {
        stopifnot(all(names(w) %in% nm))
        L <- setNames(numeric(length(nm)), nm)
        L[names(w)] <- w
        ct <- contest(m, matrix(L, nrow = 1), joint = FALSE)
        list(L = jvec(L), estimate = jnum(ct[["Estimate"]]), se = jnum(ct[["Std. Error"]]),
             df = jnum(ct[["df"]]), t = jnum(ct[["t value"]]), p = jnum(ct[["Pr(>|t|)"]]))
    })

    list(
        id = unbox(id),
        csv = unbox(path),
        formula = unbox(formula),
        reml = unbox(reml),
        weights = if (is.null(weights)) NULL else unbox(weights),
        nobs = unbox(nobs(m)),
        theta = jvec(getME(m, "theta")),
        sigma = jnum(sigma(m)),
        singular = unbox(isSingular(m, tol = 1e-4)),
        warnings = jstr(warns),
        vcov_varpar = jmat(m@vcov_varpar),
        coef = list(name = jstr(nm), estimate = jvec(cf[, "Estimate"]),
                    se = jvec(cf[, "Std. Error"]), df = jvec(cf[, "df"]),
                    t = jvec(cf[, "t value"]), p = jvec(cf[, "Pr(>|t|)"]),
                    df_default = jvec(cf0[nm, "df"])),
        anova = anova_json,
        contrasts = con_json
    )
}

# ---------------------------------------------------------------- all cases
t0 <- proc.time()[["elapsed"]]
results <- lapply(cases, function(cs) {
    r <- fit_case(cs[[1]], cs[[2]], cs[[3]], cs[[4]], cs[[5]],
                  if (length(cs) >= 6) cs[[6]] else NULL)
    cat(sprintf("%-26s df %s%s\n", r$id,
                paste(sprintf("%.6g", as.numeric(fromJSON(unclass(r$coef$df)))),
                      collapse = " "),
                if (r$singular) "  [singular]" else ""))
    r
})

pkgv <- function(p) unbox(as.character(packageVersion(p)))
doc <- list(
    generated_by = unbox("tests/reference/lmertest_reference.R"),
    r_version = unbox(R.version.string),
    packages = list(lmerTest = pkgv("lmerTest"), lme4 = pkgv("lme4"),
                    numDeriv = pkgv("numDeriv"), Matrix = pkgv("Matrix"),
                    jsonlite = pkgv("jsonlite")),
    platform = unbox(R.version$platform),
    blas_threads = unbox(Sys.getenv("OPENBLAS_NUM_THREADS")),
    collate = unbox(Sys.getlocale("LC_COLLATE")),
    note = unbox(paste(
        "Fits by lmerTest::lmer refitted with BOBYQA to rhoend 1e-12 (see the script);",
        "coef = summary(m)$coefficients (df_default: df of the default-control fit);",
        "anova = anova(m, type = 3) with L = its hypothesis matrix (columns in coefficient",
        "order); contrasts = contest(m, L, joint = FALSE); vcov_varpar = m@vcov_varpar")),
    cases = results
)
writeLines(toJSON(doc, auto_unbox = FALSE, null = "null", na = "null", pretty = TRUE,
                  json_verbatim = TRUE), out_path, useBytes = TRUE)
cat(sprintf("wrote %s: %d cases in %.1f s\n", out_path, length(results),
            proc.time()[["elapsed"]] - t0))
