# kr_pbkrtest.R — time pbkrtest's Kenward-Roger on a CSV, the R half of bench/kr_bench.sh.
# Usage: Rscript bench/kr_pbkrtest.R FILE.csv 'FORMULA' 'COEF1,COEF2' [REPS]
# Fits the model by REML (not timed; BOBYQA to rhoend 1e-12), then times vcovAdj(m) and KRmodcomp(m, L) for the
# joint test of the named coefficients (KRmodcomp computes vcovAdj again inside: that is
# how pbkrtest is used).  Prints one line:
#   "pbkrtest <vcovAdj s> <KRmodcomp s> <F> <ddf>"  (best of REPS runs each, default 3)
suppressMessages({
    library(lme4)
    library(pbkrtest)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))
args <- commandArgs(trailingOnly = TRUE)
reps <- if (length(args) >= 4) as.integer(args[4]) else 3L
d <- read.csv(args[1], stringsAsFactors = TRUE)
# BOBYQA to rhoend 1e-12, as tests/reference/pbkrtest_reference.R: the same optimum as
# evalmix's, so that F and ddf can be compared too (lme4's default stops short on HSB).
ctl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5),
                   check.conv.grad = "ignore", check.conv.hess = "ignore",
                   check.conv.singular = "ignore")
m <- lmer(as.formula(args[2]), data = d, REML = TRUE, control = ctl)
coefs <- strsplit(args[3], ",")[[1]]
nms <- names(fixef(m))
stopifnot(all(coefs %in% nms))
L <- t(sapply(coefs, function(cf) as.numeric(nms == cf)))
best <- function(f) min(replicate(reps, system.time(f())[["elapsed"]]))
t_adj <- best(function() vcovAdj(m))
t_kr <- best(function() KRmodcomp(m, L))
kr <- KRmodcomp(m, L)
cat(sprintf("pbkrtest %.4f %.4f %.10g %.10g\n", t_adj, t_kr, kr$test["Ftest", "stat"],
            kr$test["Ftest", "ddf"]))
