# clubsandwich_reference.R — reference values from clubSandwich for tests/reference/test_robust.c
#
# Run from the repository root:   Rscript tests/reference/clubsandwich_reference.R
# Reads only the bundled CSV files in datasets/ (as lme4_reference.R reads them), fits every
# case with lme4::lmer (default control) — or, for prior weights, which clubSandwich refuses
# for lmer fits, with nlme::lme and weights = varFixed(~1/w), the same model — and writes
# tests/reference/clubsandwich_reference.json with clubSandwich's
#   V <- vcovCR(m, cluster = d[[cluster]], type = "CR2")
#   coef_test(m, vcov = V, test = "Satterthwaite")
# Cases that clubSandwich refuses (random effects not nested in the clusters) are written
# with the error message instead of numbers.  Takes a few seconds.
#
# Numbers are written with the fewest of 15, 16 or 17 significant digits that read back as
# the identical double.  Matrices are arrays of rows.

source("tests/reference/common.R")
evm_one_blas_thread()

suppressPackageStartupMessages({
    library(lme4)
    library(clubSandwich)
    library(nlme)
    library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

out_path <- "tests/reference/clubsandwich_reference.json"
if (!dir.exists("datasets")) stop("run from the repository root (datasets/ not found)")

# id, csv, formula, cluster column, REML, weights column (optional)
cases <- list(
    list("hsb_slopes", "hsb.csv", "MathAch ~ SES*Sector + (SES|School)", "School", TRUE),
    list("hsb_slopes_ml", "hsb.csv", "MathAch ~ SES*Sector + (SES|School)", "School", FALSE),
    # a school-level covariate: X is constant within clusters in three columns
    list("hsb_context", "hsb.csv", "MathAch ~ SES + MEANSES + Sector + (1|School)", "School",
         TRUE),
    list("sleepstudy", "sleepstudy.csv", "Reaction ~ Days + (Days|Subject)", "Subject", TRUE),
    # two terms on one grouping factor
    list("sleepstudy_uncorr", "sleepstudy.csv", "Reaction ~ Days + (Days||Subject)",
         "Subject", TRUE),
    list("pastes_nested", "Pastes.csv", "strength ~ 1 + (1|batch/cask)", "batch", TRUE),
    # more random effects plus fixed effects (3 + 4) than rows (6) in every cluster
    list("pastes_cask_fixed", "Pastes.csv", "strength ~ cask + (1|batch/cask)", "batch", TRUE),
    # the cluster is the top of a nested design: schools of 18 to 387 rows
    list("egsingle_nested", "egsingle.csv", "math ~ year + (1|schoolid/childid)", "schoolid",
         TRUE),
    list("egsingle_growth", "egsingle.csv", "math ~ year + (year|childid) + (1|schoolid)",
         "schoolid", TRUE),
    # two grouping factors crossed with each other within the clusters (children move
    # through grades), both nested in the schools
    list("egsingle_crossed_within", "egsingle.csv",
         "math ~ year + (1|childid) + (1|schoolid:grade)", "schoolid", TRUE),
    # an aliased column dropped (typeSngl), as lme4 does
    list("exam_aliased", "Exam.csv", "normexam ~ standLRT + schgend + type + (1|school)",
         "school", TRUE),
    # boundary fit: theta = 0, V = sigma^2 I
    list("dyestuff2_singular", "Dyestuff2.csv", "Yield ~ 1 + (1|Batch)", "Batch", TRUE),
    # refused by clubSandwich
    list("sleepstudy_crossed_cluster", "sleepstudy.csv", "Reaction ~ Days + (Days|Subject)",
         "Days", TRUE),
    # prior weights: clubSandwich refuses them for lmerMod, so these are fitted with nlme's
    # lme and weights = varFixed(~1/w), the same model (Var(e_i) = sigma^2 / w_i) — the last
    # element is lme's random formula
    list("hsb_weighted", "hsb.csv", "MathAch ~ SES + Sector + (1|School)", "School", TRUE,
         "Size", ~ 1 | School),
    list("hsb_weighted_ml", "hsb.csv", "MathAch ~ SES + Sector + (1|School)", "School", FALSE,
         "Size", ~ 1 | School),
    list("hsb_weighted_slopes", "hsb.csv", "MathAch ~ SES + Sector + (SES|School)", "School",
         TRUE, "Size", ~ SES | School)
)

# ---------------------------------------------------------------- one case
# lme's estimates as lme4's theta: the lower Cholesky factor of Var(b)/sigma^2, column-wise
lme_theta <- function(m) {
    R <- t(chol(as.matrix(getVarCov(m)) / sigma(m)^2))
    R[lower.tri(R, diag = TRUE)]
}

run_case <- function(id, csv, formula, cluster, reml, weights = NULL, lme_random = NULL) {
    path <- file.path("datasets", csv)
    d <- read.csv(path, stringsAsFactors = TRUE)
    f <- as.formula(formula)
    if (is.null(weights)) {
        m <- suppressMessages(suppressWarnings(eval(bquote(lmer(.(f), data = d, REML = .(reml))))))
        conv_msgs <- as.character(unlist(m@optinfo$conv$lme4$messages))
        theta <- getME(m, "theta")
    } else {
        d$invw_ <- 1 / d[[weights]]
        m <- lme(nobars(f), random = lme_random, data = d, weights = varFixed(~ invw_),
                 method = if (reml) "REML" else "ML",
                 control = lmeControl(maxIter = 500, msMaxIter = 500, niterEM = 100,
                                      tolerance = 1e-12, msTol = 1e-12))
        conv_msgs <- character(0)
        theta <- lme_theta(m)
    }
    base <- list(id = unbox(id), csv = unbox(path), formula = unbox(formula),
                 cluster = unbox(cluster), reml = unbox(reml),
                 weights = if (is.null(weights)) NULL else unbox(weights),
                 lme4_conv_messages = jstr(conv_msgs))
    cl <- d[[cluster]]
    t0 <- proc.time()[["elapsed"]]
    V <- tryCatch(vcovCR(m, cluster = cl, type = "CR2"), error = function(e) e)
    if (inherits(V, "error")) {
        cat(sprintf("%-28s refused: %s\n", id, conditionMessage(V)))
        return(c(base, list(error = unbox(conditionMessage(V)))))
    }
    ct <- coef_test(m, vcov = V, test = "Satterthwaite")
    secs <- proc.time()[["elapsed"]] - t0
    cat(sprintf("%-28s %d clusters, %.2f s\n", id, nlevels(attr(V, "cluster")), secs))
    c(base, list(
        nobs = unbox(nobs(m)),
        nclusters = unbox(nlevels(attr(V, "cluster"))),
        sigma = jnum(sigma(m)),
        theta = jvec(theta),
        fixef_names = jstr(names(fixef(m))),
        fixef = jvec(fixef(m)),
        vcov_model = jmat(as.matrix(vcov(m))),
        vcov_cr2 = jmat(unclass(V)[seq_along(fixef(m)), seq_along(fixef(m))]),
        se = jvec(ct$SE),
        tstat = jvec(ct$tstat),
        df = jvec(ct$df_Satt),
        p = jvec(ct$p_Satt),
        seconds = jnum(round(secs, 3))
    ))
}

# ---------------------------------------------------------------- all cases
t0 <- proc.time()[["elapsed"]]
results <- lapply(cases, function(cs) do.call(run_case, unname(cs)))

pkgv <- function(p) unbox(as.character(packageVersion(p)))
doc <- list(
    generated_by = unbox("tests/reference/clubsandwich_reference.R"),
    r_version = unbox(R.version.string),
    packages = list(lme4 = pkgv("lme4"), clubSandwich = pkgv("clubSandwich"),
                    nlme = pkgv("nlme"), Matrix = pkgv("Matrix"), jsonlite = pkgv("jsonlite")),
    platform = unbox(R.version$platform),
    blas_threads = unbox(Sys.getenv("OPENBLAS_NUM_THREADS")),
    collate = unbox(Sys.getlocale("LC_COLLATE")),
    note = unbox(paste(
        "vcov_cr2 = vcovCR(m, cluster = d[[cluster]], type = \"CR2\") (p x p, rows);",
        "se, tstat, df, p = coef_test(m, vcov = vcov_cr2, test = \"Satterthwaite\")",
        "columns SE, tstat, df_Satt, p_Satt; theta, sigma, fixef, vcov_model from the",
        "lmer fit with default control, or for weighted cases from nlme::lme with",
        "weights = varFixed(~1/w) (theta: lower Cholesky factor of getVarCov(m)/sigma^2);",
        "error: the message of a case clubSandwich refuses")),
    cases = results
)
writeLines(toJSON(doc, auto_unbox = FALSE, null = "null", na = "null", pretty = TRUE,
                  json_verbatim = TRUE), out_path, useBytes = TRUE)
cat(sprintf("wrote %s: %d cases in %.1f s\n", out_path, length(results),
            proc.time()[["elapsed"]] - t0))
