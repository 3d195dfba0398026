# pbkrtest_reference.R — Kenward-Roger reference values from pbkrtest for
# tests/reference/test_kenward_roger.c
#
# Run from the repository root:   Rscript tests/reference/pbkrtest_reference.R
# Reads only the bundled CSV files in datasets/, fits each case by REML with lme4::lmer and
# writes tests/reference/pbkrtest_reference.json with pbkrtest's
#   vcovAdj(m)                        the Kenward-Roger adjusted Var(beta) (whole matrix)
#   KRmodcomp(m, L)                   F (scaled by lambda), ndf, ddf, F.scaling, unscaled F,
#                                     A1, A2 (the .KR_adjust auxiliaries)
# for L = each single coefficient (one 1) and a few multi-row L (one of them rank
# deficient, which pbkrtest reduces to a basis of its row space).  Takes about ten minutes
# (ScotsSec most of it) and a few GB: pbkrtest forms and inverts the N x N covariance.
#
# The fits use BOBYQA run to rhoend = 1e-12 (as lme4_reference.R's *_tight diagnostic)
# rather than lme4's default stopping rule: evalmix optimises to about that precision, and
# on HSB lme4's default stops visibly short (a convergence warning, slope SD 5e-4 where the
# optimum is the boundary 0), which would move vcovAdj by more than the test tolerance.
# The theta, sigma and beta of the fit are recorded, so the test can tell a fit difference
# from a Kenward-Roger difference.
#
# Numbers are written with the fewest of 15, 16 or 17 significant digits that read back as
# the identical double.  Matrices are arrays of rows.

source("tests/reference/common.R")
evm_one_blas_thread()

suppressPackageStartupMessages({
    library(lme4)
    library(pbkrtest)
    library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

out_path <- "tests/reference/pbkrtest_reference.json"
if (!dir.exists("datasets")) stop("run from the repository root (datasets/ not found)")

# id, csv, formula, multi-row hypotheses (name -> list of rows, each a named weight vector)
cases <- list(
    list("sleepstudy", "sleepstudy.csv", "Reaction ~ Days + (Days|Subject)",
         list(both = list(c("(Intercept)" = 1), c(Days = 1)))),
    list("pastes_nested", "Pastes.csv", "strength ~ 1 + (1|batch/cask)",
         list(rank_deficient = list(c("(Intercept)" = 1), c("(Intercept)" = 2)))),
    list("penicillin_crossed", "Penicillin.csv", "diameter ~ 1 + (1|plate) + (1|sample)",
         list()),
    list("hsb_slopes", "hsb.csv", "MathAch ~ SES*Sector + (SES|School)",
         list(sector = list(c("SES:SectorPublic" = 1), c(SectorPublic = 1)),
              ses_contrast = list(c(SES = 1, "SES:SectorPublic" = 0.5),
                                  c("(Intercept)" = 1, SectorPublic = -1)),
              rank_deficient = list(c(SES = 1), c(SectorPublic = 1),
                                    c(SES = 1, SectorPublic = 1)))),
    # Beyond the four required cases: a two-level nested design with a random slope
    # (60 schools, each with its children: evalmix's blockwise components), and an
    # unbalanced crossed design (148 primary x 19 secondary schools: one dense component).
    list("egsingle_growth", "egsingle.csv", "math ~ year + (year|childid) + (1|schoolid)",
         list(both = list(c("(Intercept)" = 1), c(year = 1)))),
    list("scotssec_crossed", "ScotsSec.csv", "attain ~ verbal + (1|primary) + (1|second)",
         list(both = list(c("(Intercept)" = 1), c(verbal = 1))))
)

# ---------------------------------------------------------------- one hypothesis
# KRmodcomp(m, L) recomputes vcovAdj(m) on every call (minutes on HSB), so the tests run
# its own steps on the one vcovAdj: model2restriction_matrix (force_full_rank), .KR_adjust
# and .finalizeKR, exactly as KRmodcomp.lmerMod does.  The first test of each case is also
# run through KRmodcomp itself and must agree.
kr_test <- function(m, va, name, L, check = FALSE) {
    ns <- asNamespace("pbkrtest")
    LL <- ns$model2restriction_matrix(m, L)
    stats <- lapply(ns$.KR_adjust(va, Phi = vcov(m), LL, beta = fixef(m), betaH = 0), c)
    kr <- ns$.finalizeKR(stats)
    if (check) {
        kr2 <- KRmodcomp(m, L)
        stopifnot(isTRUE(all.equal(kr$test, kr2$test, tolerance = 1e-12)))
    }
    ft <- kr$test["Ftest", ]
    list(name = unbox(name), L = jmat(L),
         F = jnum(ft$stat), ndf = jnum(ft$ndf), ddf = jnum(ft$ddf),
         F_scaling = jnum(ft$F.scaling), F_unscaled = jnum(kr$test["FtestU", "stat"]),
         p_value = jnum(ft$p.value),
         A1 = jnum(kr$aux[["A1"]]), A2 = jnum(kr$aux[["A2"]]))
}

row_of <- function(w, nms) {
    stopifnot(all(names(w) %in% nms))
    r <- setNames(numeric(length(nms)), nms)
    r[names(w)] <- w
    r
}

# ---------------------------------------------------------------- one case
run_case <- function(id, csv, formula, multi) {
    path <- file.path("datasets", csv)
    d <- read.csv(path, stringsAsFactors = TRUE)
    ctl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5),
                       check.conv.grad = "ignore", check.conv.hess = "ignore",
                       check.conv.singular = "ignore")
    m <- eval(bquote(lmer(.(as.formula(formula)), data = d, REML = TRUE, control = ctl)))
    nms <- names(fixef(m))
    p <- length(nms)

    t0 <- proc.time()[["elapsed"]]
    va <- vcovAdj(m)
    t_vcovadj <- proc.time()[["elapsed"]] - t0

    tests <- list()
    for (j in seq_len(p)) {
        L <- matrix(0, 1, p, dimnames = list(NULL, nms))
        L[1, j] <- 1
        tests[[length(tests) + 1]] <- kr_test(m, va, nms[j], L, check = j == 1)
    }
    for (h in names(multi)) {
        L <- do.call(rbind, lapply(multi[[h]], row_of, nms = nms))
        tests[[length(tests) + 1]] <- kr_test(m, va, h, L)
    }
    cat(sprintf("%-22s p = %d, vcovAdj %.2f s, %d tests\n", id, p, t_vcovadj, length(tests)))
    list(id = unbox(id), csv = unbox(path), formula = unbox(formula), reml = unbox(TRUE),
         nobs = unbox(nobs(m)),
         objective = jnum(REMLcrit(m)),
         theta = jvec(getME(m, "theta")),
         sigma = jnum(sigma(m)),
         fixef_names = jstr(nms),
         fixef = jvec(fixef(m)),
         vcov = jmat(as.matrix(vcov(m))),
         vcov_adj = jmat(as.matrix(va)),
         se_kr = jvec(sqrt(diag(as.matrix(va)))),
         condi = jnum(attr(va, "condi")),
         vcovadj_seconds = jnum(t_vcovadj),
         tests = tests)
}

t0 <- proc.time()[["elapsed"]]
results <- lapply(cases, function(cs) run_case(cs[[1]], cs[[2]], cs[[3]], cs[[4]]))

pkgv <- function(p) unbox(as.character(packageVersion(p)))
doc <- list(
    generated_by = unbox("tests/reference/pbkrtest_reference.R"),
    r_version = unbox(R.version.string),
    packages = list(pbkrtest = pkgv("pbkrtest"), lme4 = pkgv("lme4"), Matrix = pkgv("Matrix"),
                    jsonlite = pkgv("jsonlite")),
    platform = unbox(R.version$platform),
    blas = unbox(extSoftVersion()[["BLAS"]]),
    blas_threads = unbox(Sys.getenv("OPENBLAS_NUM_THREADS")),
    collate = unbox(Sys.getlocale("LC_COLLATE")),
    note = unbox(paste(
        "REML fits by lmer with BOBYQA to rhoend 1e-12 (see the script);",
        "vcov_adj = vcovAdj(m); se_kr = sqrt(diag(vcov_adj));",
        "tests[]: KRmodcomp(m, L) with L as given (rows): F = Ftest stat (scaled by",
        "F_scaling), ndf, ddf, F_scaling, F_unscaled = FtestU stat, A1, A2 = aux;",
        "single-coefficient tests are named by the coefficient")),
    cases = results
)
writeLines(toJSON(doc, auto_unbox = FALSE, null = "null", na = "null", pretty = TRUE,
                  json_verbatim = TRUE), out_path, useBytes = TRUE)
cat(sprintf("wrote %s: %d cases in %.1f s\n", out_path, length(results),
            proc.time()[["elapsed"]] - t0))
