# dist_reference.R — R's distribution functions on a grid, for tests/reference/test_dist.c
#
# Run from the repository root:   Rscript tests/reference/dist_reference.R
# Writes tests/reference/dist_reference.json: for each of pnorm, qnorm, pt, qt, pf,
# pchisq and qchisq, column arrays of the arguments, lower_tail (1/0) and R's value.
# The grid covers df from 0.5 to 1e7 (and Inf where R allows it), probabilities from
# 1e-300 to 1 - 1e-10, both tails, and the points where methods switch (df near 15, t
# near sqrt(df), x near df for chi-squared, f near 1).  Values whose result is below
# 1e-300 (denormal or zero in R) are left out: relative accuracy means nothing there.
#
# Numbers are written with the fewest of 15, 16 or 17 significant digits that read back
# as the identical double; Inf as "Inf".  Takes a few seconds.

suppressPackageStartupMessages(library(jsonlite))

out_path <- "tests/reference/dist_reference.json"
if (!dir.exists("tests/reference")) stop("run from the repository root")

source("tests/reference/common.R")

# A table: every combination of the argument vectors, both tails, R's value; rows whose
# value is in (0, 1e-300) are dropped, and for probabilities (is_p) zeros too.
# For a quantile function, `cdf` and `pdf` are the matching distribution and density:
# the column kappa = q f(q) / s is the condition number |d log s / d log q| of the
# smaller tail probability s = min(p, 1 - p) at R's quantile q, and r_consistent is 1 when
# R's own round trip cdf(q) gives back s to 1e-12 * max(1, kappa) relative (that is, q is
# right to about 1e-12 as far as the CDF can tell), 0 when it does not (R's qt loses up to
# 1% for df < 3 at p = 1e-300; qchisq loses digits at df >= 1e6 in the far tails): there
# test_dist.c checks evalmix's own round trip instead of R's number.
grid <- function(fun, args, is_p = TRUE, cdf = NULL, pdf = NULL) {
    g <- expand.grid(c(args, list(lower_tail = c(1, 0))), KEEP.OUT.ATTRS = FALSE,
                     stringsAsFactors = FALSE)
    g$value <- do.call(mapply, c(list(FUN = function(...) {
        a <- list(...)
        lt <- a$lower_tail == 1
        a$lower_tail <- NULL
        do.call(fun, c(unname(a), list(lower.tail = lt)))
    }), as.list(g[names(g)])))
    keep <- !is.na(g$value) & !(abs(g$value) > 0 & abs(g$value) < 1e-300)
    if (is_p) keep <- keep & g$value != 0
    g <- g[keep, ]
    if (!is.null(cdf)) {
        params <- setdiff(names(args), "p")
        rt <- vapply(seq_len(nrow(g)), function(i) {
            q <- g$value[i]
            p <- g$p[i]
            s <- if (p <= 0.5) p else 1 - p
            par <- unname(as.list(g[i, params, drop = FALSE]))
            small_lower <- (g$lower_tail[i] == 1) == (p <= 0.5)
            # an infinite quantile is right when even the tail beyond the largest double
            # holds more than s (R answers Inf for qt(1e-100, 0.5, lower = FALSE) = 1e199)
            if (is.infinite(q)) {
                far <- do.call(cdf, c(list(sign(q) * .Machine$double.xmax), par,
                                      list(lower.tail = small_lower)))
                return(c(NA, as.numeric(s == 0 || far > s)))
            }
            if (s == 0 || q == 0) return(c(1, 1))
            back <- do.call(cdf, c(list(q), par, list(lower.tail = small_lower)))
            kappa <- exp(log(abs(q)) + do.call(pdf, c(list(q), par, list(log = TRUE))) -
                         log(s))
            c(kappa, as.numeric(abs(back - s) <= 1e-12 * s * max(1, kappa)))
        }, c(0, 0))
        g$kappa <- rt[1, ]
        g$r_consistent <- rt[2, ]
    }
    lapply(g, jvec)
}

probs <- c(1e-300, 1e-200, 1e-100, 1e-50, 1e-20, 1e-10, 1e-5, 1e-3, 0.01, 0.025, 0.05,
           0.1, 0.2, 0.25, 0.3, 0.4, 0.45, 0.49, 0.4999999, 0.5, 0.5000001, 0.6, 0.75,
           0.9, 0.95, 0.975, 0.99, 0.999, 1 - 1e-10)
dfs_t <- c(0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 7.3, 10, 14.9, 15, 20, 30, 47.6, 100, 1000,
           12345.6, 1e5, 4e5, 1e6, 1e7)
dfs_chisq <- c(0.5, 1, 1.5, 2, 3, 5, 10, 14.9, 15, 30, 100, 1000, 1e4, 1e5, 1e6, 1e7)

pchisq_grid <- function() {
    rows <- lapply(dfs_chisq, function(df) {
        x <- sort(unique(c(df * c(1e-3, 0.1, 0.5, 0.9, 0.99, 1, 1.01, 1.1, 2, 5),
                           1e-10, 0.01, 1, 10, 100, 700, 1400)))
        expand.grid(q = x, df = df, lower_tail = c(1, 0))
    })
    g <- do.call(rbind, rows)
    g$value <- mapply(function(q, df, lt) pchisq(q, df, lower.tail = lt == 1), g$q, g$df,
                      g$lower_tail)
    g <- g[g$value >= 1e-300, ]
    lapply(g, jvec)
}

doc <- list(
    generated_by = unbox("tests/reference/dist_reference.R"),
    r_version = unbox(R.version.string),
    note = unbox(paste(
        "value is R's p*/q* function at the arguments with lower.tail = (lower_tail == 1);",
        "R's pt uses a normal approximation (Abramowitz & Stegun 26.7.8) for df > 4e5,",
        "whose relative error is ~1e-13 in the far tails")),
    pnorm = grid(pnorm, list(q = c(-38, -37.5, -37, -30, -20, -10, -8, -5, -3, -2, -1.5,
                                   -1, -0.5, -0.1, -1e-8, 0, 1e-8, 0.1, 0.5, 1, 1.96, 3,
                                   5, 8, 10, 20, 30, 37))),
    qnorm = grid(qnorm, list(p = c(0, probs, 1)), is_p = FALSE, cdf = pnorm, pdf = dnorm),
    pt = grid(pt, list(q = c(-1e10, -1e5, -300, -40, -37, -20, -10, -8, -5, -4, -3, -2.5,
                             -2, -1.5, -1, -0.5, -0.1, -1e-5, 0, 1e-5, 0.3, 1, 2, 2.5, 4,
                             8, 30),
                       df = c(dfs_t, Inf))),
    qt = grid(qt, list(p = probs, df = dfs_t), is_p = FALSE, cdf = pt, pdf = dt),
    pf = grid(pf, list(q = c(1e-10, 0.01, 0.3, 0.9, 0.99, 1, 1.01, 1.1, 2, 4, 10, 100, 1e5,
                             1e10),
                       df1 = c(0.5, 1, 2, 3, 5, 10, 30, 100, 1000, 1e5, 1e7),
                       df2 = c(0.5, 1, 2.5, 5, 10, 30, 100, 1000, 1e5, 1e7, Inf))),
    pchisq = pchisq_grid(),
    qchisq = grid(qchisq, list(p = probs, df = dfs_chisq), is_p = FALSE, cdf = pchisq, pdf = dchisq)
)
writeLines(toJSON(doc, auto_unbox = FALSE, pretty = TRUE, json_verbatim = TRUE), out_path,
           useBytes = TRUE)
n <- sum(sapply(doc[c("pnorm", "qnorm", "pt", "qt", "pf", "pchisq", "qchisq")],
                function(t) length(strsplit(unclass(t$value), ",")[[1]])))
cat(sprintf("wrote %s: %d values\n", out_path, n))
