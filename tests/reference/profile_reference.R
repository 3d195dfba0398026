# profile_reference.R — lme4's profile-likelihood intervals for
# tests/reference/test_profile.c
#
# Run from the repository root:   Rscript tests/reference/profile_reference.R
# Reads the bundled CSV files in datasets/ as lme4_reference.R does (C collation,
# stringsAsFactors = TRUE), fits each case with lme4::lmer (default control) and writes
# confint(m, method = "profile", level = L) to tests/reference/profile_reference.json.
# Takes about a minute (half of it the hsb case).
#
# lme4 profiles the ML deviance for REML fits too (devfun2 calls refitML), so a REML and
# an ML fit of one model have the same intervals up to lme4's optimiser and spline
# interpolation; both are recorded for sleepstudy and Pastes.  Numbers are written with
# the fewest of 15-17 significant digits that read back as the identical double;
# infinite limits as "Inf" / "-Inf".

source("tests/reference/common.R")
evm_one_blas_thread()

suppressPackageStartupMessages({
    library(lme4)
    library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

out_path <- "tests/reference/profile_reference.json"
if (!dir.exists("datasets")) stop("run from the repository root (datasets/ not found)")

# id, csv, formula, REML, level
cases <- list(
    list("sleepstudy_reml", "sleepstudy.csv", "Reaction ~ Days + (Days|Subject)", TRUE, 0.95),
    list("sleepstudy_ml", "sleepstudy.csv", "Reaction ~ Days + (Days|Subject)", FALSE, 0.95),
    list("sleepstudy_ml_90", "sleepstudy.csv", "Reaction ~ Days + (Days|Subject)", FALSE, 0.9),
    list("dyestuff_reml", "Dyestuff.csv", "Yield ~ 1 + (1|Batch)", TRUE, 0.95),
    # Box & Tiao's constructed example: the batch SD is estimated as 0, lower limit 0.
    list("dyestuff2_reml", "Dyestuff2.csv", "Yield ~ 1 + (1|Batch)", TRUE, 0.95),
    list("pastes_nested_reml", "Pastes.csv", "strength ~ 1 + (1|batch/cask)", TRUE, 0.95),
    list("pastes_nested_ml", "Pastes.csv", "strength ~ 1 + (1|batch/cask)", FALSE, 0.95),
    list("penicillin_crossed_reml", "Penicillin.csv", "diameter ~ 1 + (1|plate) + (1|sample)",
         TRUE, 0.95),
    # A hard case: the ML fit is singular (correlation 1, upper limit 1) and lme4 warns
    # ("non-monotonic profile", ...); its spline limits are then off by up to 0.17 (lme4's
    # own exact profile, devfun2 minimised at a fixed value, puts the crossings elsewhere),
    # so the test checks only the names and lme4's limits on the boundary for such cases.
    list("hsb_slopes_reml", "hsb.csv", "MathAch ~ SES*Sector + (SES|School)", TRUE, 0.95)
)


run_case <- function(id, csv, formula, reml, level) {
    path <- file.path("datasets", csv)
    d <- read.csv(path, stringsAsFactors = TRUE)
    warns <- character(0)
    m <- withCallingHandlers(
        suppressMessages(lmer(as.formula(formula), data = d, REML = reml)),
        warning = function(w) {
            warns <<- c(warns, paste("lmer:", conditionMessage(w)))
            invokeRestart("muffleWarning")
        })
    fit_warns <- length(warns)
    t0 <- proc.time()[["elapsed"]]
    ci <- withCallingHandlers(
        suppressMessages(confint(m, method = "profile", level = level)),
        warning = function(w) {
            warns <<- c(warns, conditionMessage(w))
            invokeRestart("muffleWarning")
        })
    secs <- proc.time()[["elapsed"]] - t0
    mml <- refitML(m)
    list(
        id = unbox(id),
        csv = unbox(path),
        formula = unbox(formula),
        reml = unbox(reml),
        level = jnum(level),
        param = jstr(rownames(ci)),
        lower = jvec(ci[, 1]),
        upper = jvec(ci[, 2]),
        ml_deviance = jnum(deviance(mml)),
        ml_theta = jvec(getME(mml, "theta")),
        ml_sigma = jnum(sigma(mml)),
        ml_fixef = jvec(fixef(mml)),
        warnings = jstr(unique(warns)),
        profile_warned = unbox(length(warns) > fit_warns),
        seconds = jnum(round(secs, 2))
    )
}

t0 <- proc.time()[["elapsed"]]
results <- lapply(cases, function(cs) {
    r <- do.call(run_case, unname(cs))
    cat(sprintf("%-26s %d parameters, %.1f s%s\n", r$id, length(r$param),
                as.numeric(r$seconds),
                if (length(r$warnings)) paste0("  [", length(r$warnings), " warnings]") else ""))
    r
})

pkgv <- function(p) unbox(as.character(packageVersion(p)))
doc <- list(
    generated_by = unbox("tests/reference/profile_reference.R"),
    r_version = unbox(R.version.string),
    packages = list(lme4 = pkgv("lme4"), Matrix = pkgv("Matrix"), nloptr = pkgv("nloptr"),
                    minqa = pkgv("minqa"), jsonlite = pkgv("jsonlite")),
    platform = unbox(R.version$platform),
    blas_threads = unbox(Sys.getenv("OPENBLAS_NUM_THREADS")),
    collate = unbox(Sys.getlocale("LC_COLLATE")),
    note = unbox(paste(
        "lower/upper = confint(m, method = \"profile\", level = level) in its row order",
        "(.sig01.. in theta order, .sigma, fixed effects); lme4 profiles the ML deviance",
        "of refitML(m) for REML fits too; ml_* describe that ML fit; seconds = lme4's",
        "time for the profile; profile_warned: lme4 warned while profiling (non-monotonic",
        "profile, bad spline fit), so its limits are not reliable")),
    cases = results
)
writeLines(toJSON(doc, auto_unbox = FALSE, null = "null", na = "null", pretty = TRUE,
                  json_verbatim = TRUE), out_path, useBytes = TRUE)
cat(sprintf("wrote %s: %d cases in %.1f s\n", out_path, length(results),
            proc.time()[["elapsed"]] - t0))
