# bootmer_reference.R — lme4's parametric bootstrap of sleepstudy, the reference for
# tests/reference/test_bootstrap_reference.c.
#
# Run from the repository root:   Rscript tests/reference/bootmer_reference.R
# Fits Reaction ~ Days + (Days|Subject) by REML (lme4 1.1-31 defaults) on
# datasets/sleepstudy.csv and runs bootMer(type = "parametric", use.u = FALSE) with 2,000
# replicates and a fixed seed, recording what confint(m, method = "boot",
# boot.type = "perc") records: the SDs and correlations of each random-effects term
# (Cv_to_Sv order and confint's names .sig01, ...), .sigma, then the fixed effects.
# Writes tests/reference/bootmer_reference.json with, per parameter: the estimate t0,
# the 2.5% and 97.5% percentile limits as confint reports them (boot.ci, type "perc":
# interpolation on the normal-quantile scale), the same limits by quantile(type = 7), and
# the bootstrap mean and SD (for the Monte-Carlo tolerances of the test).  Takes about
# half a minute.
source("tests/reference/common.R")
evm_one_blas_thread()

suppressPackageStartupMessages({
    library(lme4)
    library(jsonlite)
})
out_path <- "tests/reference/bootmer_reference.json"
if (!dir.exists("datasets")) stop("run from the repository root (datasets/ not found)")

NSIM <- 2000L
SEED <- 20260311L
LEVEL <- 0.95


d <- read.csv("datasets/sleepstudy.csv")
formula <- "Reaction ~ Days + (Days|Subject)"
m <- lmer(as.formula(formula), data = d, REML = TRUE)

# confint.merMod's bootFun for an LMM (lme4 1.1-31, oldNames = TRUE): SDs and correlations
# of each term in the column-wise lower-triangle order of theta, then sigma, then fixef.
vn <- c(sprintf(".sig%02d", seq_along(getME(m, "theta"))), ".sigma")
boot_fun <- function(x) {
    ss <- lme4:::Cv_to_Sv(getME(x, "theta"), n = lengths(x@cnms), s = sigma(x))
    c(setNames(as.numeric(ss), vn), fixef(x))
}

t0 <- proc.time()[["elapsed"]]
bb <- suppressMessages(suppressWarnings(
    bootMer(m, FUN = boot_fun, nsim = NSIM, seed = SEED, type = "parametric",
            use.u = FALSE)))
elapsed <- proc.time()[["elapsed"]] - t0
nfail <- attr(bb, "bootFail")

perc <- confint(bb, level = LEVEL, type = "perc")   # what confint(method = "boot") gives
tt <- bb$t
colnames(tt) <- names(bb$t0)
q7 <- apply(tt, 2, quantile, probs = c((1 - LEVEL) / 2, (1 + LEVEL) / 2), type = 7,
            na.rm = TRUE)
nok <- colSums(is.finite(tt))

doc <- list(
    generated_by = unbox("tests/reference/bootmer_reference.R"),
    r_version = unbox(R.version.string),
    lme4 = unbox(as.character(packageVersion("lme4"))),
    rng_kind = I(RNGkind()),
    csv = unbox("datasets/sleepstudy.csv"),
    formula = unbox(formula),
    reml = unbox(TRUE),
    nsim = unbox(NSIM),
    seed = unbox(SEED),
    level = jnum(LEVEL),
    nfail = unbox(as.integer(nfail)),
    seconds = jnum(elapsed),
    param = I(names(bb$t0)),
    estimate = jvec(bb$t0),
    lower = jvec(perc[, 1]),
    upper = jvec(perc[, 2]),
    lower_q7 = jvec(q7[1, ]),
    upper_q7 = jvec(q7[2, ]),
    boot_mean = jvec(colMeans(tt, na.rm = TRUE)),
    boot_sd = jvec(apply(tt, 2, sd, na.rm = TRUE)),
    n_finite = I(as.integer(nok)),
    note = unbox(paste(
        "bootMer(m, FUN, nsim, seed, type = 'parametric', use.u = FALSE) with FUN as",
        "confint.merMod's bootFun; lower/upper = confint(bb, type = 'perc') (boot.ci",
        "percentile, normal-scale interpolation); lower_q7/upper_q7 = quantile(type = 7);",
        "boot_mean/boot_sd over the finite replicates"))
)
writeLines(toJSON(doc, auto_unbox = FALSE, null = "null", na = "null", pretty = TRUE,
                  json_verbatim = TRUE), out_path, useBytes = TRUE)
cat(sprintf("wrote %s: %d replicates (%d failed) in %.1f s\n", out_path, NSIM, nfail,
            elapsed))
