# effsize_reference.R — reference values for tests/reference/test_effsize.c
#
# Run from the repository root:   Rscript tests/reference/effsize_reference.R
# Writes tests/reference/effsize_reference.json with
#  - smd:      metafor escalc(measure = "SMD", m1i, sd1i, n1i, m2i, sd2i, n2i) with
#              vtype = "LS" (the default) and "UB": yi (= J(N-2)·d, the exact correction)
#              and vi; plus d and the WWC's omega-corrected g computed here from the same
#              group statistics;
#  - cox:      metafor escalc(measure = "OR2DN", ai, bi, ci, di): the log odds ratio / 1.65
#              and its variance (the Cox index before the WWC's omega);
#  - p_adjust: stats::p.adjust(p, "holm") and p.adjust(p, "BH") for several families (with
#              ties, NA, 0 and 1);
#  - cluster:  the WWC clustering correction written out independently here, term by term as
#              WWC Handbook v2.0 Appendix C gives it (the formulas in baselinr's
#              cluster_correction, citing WWC Handbook v4.1 Appendix F, and VIVECampbell's
#              df_h, citing WWC v5.0 eq. E.21): t, t_A, h and p = 2 pt(-|t_A|, h);
#  - improvement: 100 * pnorm(g) - 50.
# Takes a second.  Numbers are written with the fewest of 15, 16 or 17 significant digits
# that read back as the identical double.

suppressPackageStartupMessages({
    library(metafor)
    library(jsonlite)
})
out_path <- "tests/reference/effsize_reference.json"

source("tests/reference/common.R")

# ---------------------------------------------------------------- SMD
smd_in <- data.frame(
    m1 = c(52.3, 10, 0.5, 100, -3.2, 7.25, 250.125, 0.031),
    sd1 = c(9.8, 2, 1.1, 15, 4.5, 0.75, 48.5, 0.012),
    n1 = c(120, 2, 15, 400, 6, 33, 2500, 9),
    m2 = c(49.1, 12, 0.2, 104.5, -1.0, 7.25, 244.5, 0.047),
    sd2 = c(10.2, 3, 0.9, 14, 6.5, 1.5, 51.25, 0.02),
    n2 = c(118, 3, 17, 380, 4, 31, 2750, 12)
)
ls <- escalc(measure = "SMD", m1i = m1, sd1i = sd1, n1i = n1, m2i = m2, sd2i = sd2,
             n2i = n2, data = smd_in, vtype = "LS")
ub <- escalc(measure = "SMD", m1i = m1, sd1i = sd1, n1i = n1, m2i = m2, sd2i = sd2,
             n2i = n2, data = smd_in, vtype = "UB")
N <- smd_in$n1 + smd_in$n2
sp <- sqrt(((smd_in$n1 - 1) * smd_in$sd1^2 + (smd_in$n2 - 1) * smd_in$sd2^2) / (N - 2))
d <- (smd_in$m1 - smd_in$m2) / sp
omega <- 1 - 3 / (4 * N - 9)
smd <- list(
    m1 = jvec(smd_in$m1), sd1 = jvec(smd_in$sd1), n1 = jvec(smd_in$n1),
    m2 = jvec(smd_in$m2), sd2 = jvec(smd_in$sd2), n2 = jvec(smd_in$n2),
    yi = jvec(as.numeric(ls$yi)), vi_ls = jvec(as.numeric(ls$vi)),
    vi_ub = jvec(as.numeric(ub$vi)), d = jvec(d), g_wwc = jvec(omega * d)
)

# ---------------------------------------------------------------- Cox index (OR2DN)
cox_in <- data.frame(ai = c(45, 3, 120, 70, 1), n1 = c(60, 10, 400, 90, 25),
                     ci = c(30, 5, 95, 72, 4), n2 = c(58, 12, 410, 88, 30))
or2dn <- escalc(measure = "OR2DN", ai = ai, bi = n1 - ai, ci = ci, di = n2 - ci,
                data = cox_in)
cox <- list(ai = jvec(cox_in$ai), n1 = jvec(cox_in$n1), ci = jvec(cox_in$ci),
            n2 = jvec(cox_in$n2), yi = jvec(as.numeric(or2dn$yi)),
            vi = jvec(as.numeric(or2dn$vi)))

# ---------------------------------------------------------------- p.adjust
fams <- list(
    c(0.01, 0.04, 0.03, 0.005, 0.2, 0.5),
    c(0.001, 0.001, 0.02, 0.02, 0.02, 0.9),
    c(0.04, NA, 0.01, 0.03, NA),
    c(0, 1, 0.5, 0.049, 0.051),
    c(0.3),
    c(0.012, 0.0001, 0.44, 0.0032, 0.0201, 0.8, 0.039, 0.00071, 0.061, 0.15)
)
p_adjust <- lapply(fams, function(p)
    list(p = jvec(p), holm = jvec(p.adjust(p, "holm")), bh = jvec(p.adjust(p, "BH"))))

# ---------------------------------------------------------------- WWC clustering correction
# Independent implementation of the formulas (docs/methods.md cites the sources).
wwc_cluster <- function(g, nt, nc, M, rho) {
    N <- nt + nc
    n <- N / M
    t <- g / sqrt((nt + nc) / (nt * nc) + g^2 / (2 * (nt + nc)))
    num <- (N - 2) - 2 * (n - 1) * rho
    tA <- t * sqrt(num / ((N - 2) * (1 + (n - 1) * rho)))
    h <- num^2 / ((N - 2) * (1 - rho)^2 + n * (N - 2 * n) * rho^2 +
                  2 * (N - 2 * n) * rho * (1 - rho))
    c(t = t, tA = tA, h = h, p = 2 * pt(-abs(tA), h), p0 = 2 * pt(-abs(t), N - 2))
}
cl_in <- data.frame(g = c(0.3185, 0.30, 0.45, -0.25, 0.12, 0.8, 0.3),
                    nt = c(120, 200, 50, 300, 1500, 20, 200),
                    nc = c(118, 200, 45, 310, 1400, 22, 200),
                    M = c(12, 20, 6, 30, 80, 4, 20),
                    rho = c(0.2, 0.2, 0.1, 0.2, 0.1, 0.2, 0))
cl <- t(mapply(wwc_cluster, cl_in$g, cl_in$nt, cl_in$nc, cl_in$M, cl_in$rho))
cluster <- list(g = jvec(cl_in$g), nt = jvec(cl_in$nt), nc = jvec(cl_in$nc),
                M = jvec(cl_in$M), rho = jvec(cl_in$rho), t = jvec(cl[, "t"]),
                tA = jvec(cl[, "tA"]), h = jvec(cl[, "h"]), p = jvec(cl[, "p"]),
                p0 = jvec(cl[, "p0"]))

# ---------------------------------------------------------------- improvement index
gs <- c(-1.5, -0.25, 0, 0.05, 0.3185, 0.5, 2)
improvement <- list(g = jvec(gs), index = jvec(100 * pnorm(gs) - 50))

doc <- list(
    r_version = unbox(R.version.string),
    metafor_version = unbox(as.character(packageVersion("metafor"))),
    smd = smd, cox = cox, p_adjust = p_adjust, cluster = cluster,
    improvement = improvement
)
writeLines(toJSON(doc, auto_unbox = FALSE, null = "null", na = "null", pretty = TRUE,
                  json_verbatim = TRUE), out_path, useBytes = TRUE)
cat(sprintf("wrote %s\n", out_path))
