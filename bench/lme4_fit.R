# lme4_fit.R — time lme4's lmer() on a CSV, as the other half of bench/run_bench.sh.
# Usage: Rscript bench/lme4_fit.R FILE.csv 'FORMULA' [REML=TRUE|FALSE]
# Prints one line: "lme4 <seconds for lmer() alone> <REML criterion or deviance>".
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = TRUE)
reml <- if (length(args) >= 3) as.logical(args[3]) else TRUE
f <- as.formula(args[2])
tm <- system.time(m <- lmer(f, data = d, REML = reml))[["elapsed"]]
obj <- if (reml) REMLcrit(m) else deviance(m)
cat(sprintf("lme4 %.3f %.10g\n", tm, obj))
