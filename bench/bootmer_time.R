# bootmer_time.R — time lme4's bootMer, the lme4 half of bench/bootstrap_bench.sh.
# Usage: Rscript bench/bootmer_time.R FILE.csv 'FORMULA' NSIM
# Runs bootMer(type = "parametric", use.u = FALSE) with confint(method = "boot")'s
# statistic (SDs, correlations, sigma, fixed effects), serially (lme4's default).
# Prints one line: "lme4 <wall seconds> <CPU seconds> <nsim> <failed refits>" for bootMer
# alone (the model is fitted before the clock starts).
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
nsim <- as.integer(args[3])
m <- lmer(as.formula(args[2]), data = d)
fun <- function(x) c(lme4:::Cv_to_Sv(getME(x, "theta"), n = lengths(x@cnms), s = sigma(x)),
                     fixef(x))
tm <- system.time(bb <- suppressMessages(suppressWarnings(
    bootMer(m, FUN = fun, nsim = nsim, seed = 1, type = "parametric", use.u = FALSE))))
cat(sprintf("lme4 %.3f %.3f %d %d\n", tm[["elapsed"]], tm[["user.self"]] + tm[["sys.self"]],
            nsim, attr(bb, "bootFail")))
