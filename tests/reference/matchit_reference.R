# matchit_reference.R — reference values from MatchIt for tests/reference/test_match.c
#
# Run from the repository root:   Rscript tests/reference/matchit_reference.R
# Needs MatchIt 4.5.1 and jsonlite (Debian: r-cran-matchit, r-cran-jsonlite).  Reads
# datasets/lalonde.csv (MatchIt's `lalonde`, row names as column `id`) and
# tests/data/match_eval.csv (made by bench/gen_match.c, see its header), runs matchit()
# on each case and writes tests/reference/matchit_reference.json with, per case:
#   distance      the propensity score or its logit, per row (as match.data())
#   coef, iter    the glm() fit behind it
#   sets          per treated id (in data order) the matched control ids, in match order
#                 (rows of m$match.matrix; [] when unmatched)
#   weights       per row, m$weights (what match.data() writes)
#   subclass      per row, m$subclass (null: not in any set)
#   sum_all, sum_matched   summary(m) columns "Means Treated", "Means Control",
#                 "Std. Mean Diff.", "Var. Ratio", "eCDF Mean", "eCDF Max" per row name
#   ties          1 when two rows share a distance value in the same exact cell (the
#                 order of equal distances is then the implementation's choice)
#
# MatchIt 4.5.1's fast path for nearest-neighbour matching on a vector distance
# (C++ nn_matchC_vec, new in 4.5.1) compares |distance differences| with the C function
# abs(int): differences are truncated to whole numbers, so on a propensity score (all
# differences < 1) it takes the next control *below* the treated unit's score rather than
# the nearest one, and calipers narrower than 1 are ignored (MatchIt issue #163, fixed in
# 4.5.4).  The reference therefore routes nearest-neighbour matching through MatchIt
# 4.5.1's general matcher nn_matchC (the one it uses for Mahalanobis and matrix
# distances, which uses fabs), by replacing nn_matchC_dispatch in the namespace.
# Everything else (glm, order, rounds, weights, subclasses, summary) is MatchIt 4.5.1 as
# installed.  `stock_sets_differ` records how many treated units stock 4.5.1 matches
# differently, and `stock_demo` shows the truncation on three units.

suppressPackageStartupMessages({
    library(MatchIt)
    library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))
if (!dir.exists("datasets")) stop("run from the repository root (datasets/ not found)")
out_path <- "tests/reference/matchit_reference.json"
t0 <- proc.time()[["elapsed"]]

source("tests/reference/common.R")

# ---------------------------------------------------------------- datasets/lalonde.csv
# `Rscript tests/reference/matchit_reference.R --export-lalonde` writes the file (once);
# every run checks that it still holds exactly MatchIt's lalonde.
data("lalonde", package = "MatchIt")
lal <- data.frame(id = rownames(lalonde), lalonde, stringsAsFactors = FALSE)
lal$race <- as.character(lal$race)
if ("--export-lalonde" %in% commandArgs(TRUE)) {
    out <- lal
    for (j in names(out)) if (is.numeric(out[[j]])) out[[j]] <- fmt_num(out[[j]])
    write.csv(out, "datasets/lalonde.csv", row.names = FALSE,
              quote = which(names(out) %in% c("id", "race")))
}
back <- read.csv("datasets/lalonde.csv", stringsAsFactors = FALSE)
stopifnot(identical(names(back), names(lal)), nrow(back) == nrow(lal))
for (j in names(lal)) stopifnot(all(back[[j]] == lal[[j]]))

# ---------------------------------------------------------------- the fixed dispatcher
ns <- asNamespace("MatchIt")
stock_dispatch <- get("nn_matchC_dispatch", envir = ns)
general_dispatch <- function(treat, ord, ratio, discarded, reuse.max, distance,
                             distance_mat, ex, caliper.dist, caliper.covs,
                             caliper.covs.mat, mahcovs, antiexactcovs, unit.id, verbose) {
    nn_matchC(treat, ord, ratio, discarded, reuse.max, distance, distance_mat, ex,
              caliper.dist, caliper.covs, caliper.covs.mat, mahcovs, antiexactcovs,
              unit.id, verbose)
}
environment(general_dispatch) <- ns
set_dispatch <- function(f) assignInNamespace("nn_matchC_dispatch", f, ns = "MatchIt")

# Three units: a treated score 0.5, controls 0.4 and 0.51.  The nearest is 0.51 (row 3).
demo <- function() {
    d <- data.frame(t = c(1, 0, 0), x = 1:3)
    m <- matchit(t ~ x, data = d, distance = c(0.5, 0.4, 0.51))
    as.integer(m$match.matrix[1, 1])
}
set_dispatch(stock_dispatch)
stock_demo <- demo()
set_dispatch(general_dispatch)
stopifnot(demo() == 3L)

# ---------------------------------------------------------------- cases
eval_csv <- read.csv("tests/data/match_eval.csv", stringsAsFactors = FALSE)
eval_csv$id <- as.character(eval_csv$student)
lal_f <- treat ~ age + educ + race + married + nodegree + re74 + re75
ev_f <- treat ~ prior + frl + ell + school_frl + urban

# id, data name, formula, extra matchit() arguments
cases <- list(
    list("lalonde_ps_1", "lalonde", lal_f, list()),
    list("lalonde_ps_3", "lalonde", lal_f, list(ratio = 3)),
    list("lalonde_logit_1", "lalonde", lal_f, list(link = "linear.logit")),
    list("lalonde_logit_3", "lalonde", lal_f, list(link = "linear.logit", ratio = 3)),
    list("eval_ps_1", "eval", ev_f, list()),
    list("eval_ps_3", "eval", ev_f, list(ratio = 3)),
    list("eval_logit_1", "eval", ev_f, list(link = "linear.logit")),
    list("eval_logit_3", "eval", ev_f, list(link = "linear.logit", ratio = 3)),
    # exact cells (grade x subject): some cells run out of controls in round 3
    list("eval_logit_exact_3", "eval", ev_f,
         list(link = "linear.logit", ratio = 3, exact = ~ grade + subject)),
    # calipers (nn_matchC applies them correctly): in SD units of the distance
    list("lalonde_ps_caliper", "lalonde", lal_f, list(caliper = 0.1)),
    list("lalonde_logit_caliper_2", "lalonde", lal_f,
         list(link = "linear.logit", caliper = 0.2, ratio = 2)),
    list("eval_logit_caliper_exact_2", "eval", ev_f,
         list(link = "linear.logit", caliper = 0.05, ratio = 2, exact = ~ grade + subject)),
    # with replacement
    list("lalonde_logit_replace_2", "lalonde", lal_f,
         list(link = "linear.logit", replace = TRUE, ratio = 2)),
    list("eval_ps_replace_3", "eval", ev_f, list(replace = TRUE, ratio = 3)),
    # Mahalanobis distance on the covariates
    list("lalonde_mahalanobis_1", "lalonde", lal_f, list(distance = "mahalanobis")),
    list("eval_mahalanobis_exact_2", "eval", ev_f,
         list(distance = "mahalanobis", ratio = 2, exact = ~ grade + subject)),
    # coarsened exact matching
    list("lalonde_cem", "lalonde", treat ~ age + educ + race + married + nodegree + re74,
         list(method = "cem", cutpoints = list(age = 4, educ = 3, re74 = 3))),
    list("eval_cem", "eval", treat ~ prior + frl + school_frl,
         list(method = "cem", cutpoints = list(prior = 5, school_frl = 4)))
)

summary_cols <- c("Means Treated", "Means Control", "Std. Mean Diff.", "Var. Ratio",
                  "eCDF Mean", "eCDF Max")
sum_json <- function(s) {
    out <- list(rows = jstr(rownames(s)))
    for (k in summary_cols) out[[k]] <- jvec(s[, k])
    out
}

has_ties <- function(dist, treat, cell) {
    if (is.null(dist)) return(0L)
    key <- paste(cell, format(dist, digits = 17))
    as.integer(any(duplicated(key)))
}

sets_of <- function(m, ids) {
    mm <- m$match.matrix
    if (is.null(mm)) return(NULL)
    lapply(seq_len(nrow(mm)), function(i) {
        x <- mm[i, ]
        jstr(ids[as.integer(x[!is.na(x)])])
    })
}

run_case <- function(case) {
    id <- case[[1]]
    d <- if (case[[2]] == "lalonde") lal else eval_csv
    if (case[[2]] == "lalonde") d$race <- factor(d$race)
    rownames(d) <- NULL
    args <- c(list(formula = case[[3]], data = d), case[[4]])
    m <- do.call(matchit, args)
    s <- summary(m)
    is_nearest <- is.null(case[[4]]$method)
    cell <- if (!is.null(case[[4]]$exact))
        interaction(d[all.vars(case[[4]]$exact)], drop = TRUE) else rep(1, nrow(d))
    stock_differ <- NULL
    if (is_nearest && is.null(case[[4]]$distance)) {
        set_dispatch(stock_dispatch)
        m0 <- do.call(matchit, args)
        set_dispatch(general_dispatch)
        a <- m$match.matrix
        b <- m0$match.matrix
        a[is.na(a)] <- ""
        b[is.na(b)] <- ""
        stock_differ <- sum(apply(a != b, 1, any))
    }
    out <- list(
        id = unbox(id),
        data = unbox(case[[2]]),
        formula = unbox(paste(deparse(case[[3]]), collapse = "")),
        method = unbox(if (is.null(case[[4]]$method)) "nearest" else case[[4]]$method),
        distance_kind = unbox(if (!is.null(case[[4]]$distance)) case[[4]]$distance
                              else if (identical(case[[4]]$link, "linear.logit")) "logit"
                              else "ps"),
        ratio = unbox(if (is.null(case[[4]]$ratio)) 1L else as.integer(case[[4]]$ratio)),
        replace = unbox(isTRUE(case[[4]]$replace)),
        caliper = if (is.null(case[[4]]$caliper)) NULL else jnum(case[[4]]$caliper),
        caliper_width = if (is.null(m$caliper)) NULL else jnum(m$caliper[[1]]),
        exact = jstr(if (is.null(case[[4]]$exact)) character(0)
                     else all.vars(case[[4]]$exact)),
        cutpoints = if (is.null(case[[4]]$cutpoints)) NULL
                    else lapply(case[[4]]$cutpoints, unbox),
        ids = jstr(d$id),
        treat = as.integer(m$treat),
        distance = if (is.null(m$distance)) NULL else jvec(m$distance),
        coef = if (is.null(m$model)) NULL else jvec(coef(m$model)),
        coef_names = if (is.null(m$model)) NULL else jstr(names(coef(m$model))),
        iter = if (is.null(m$model)) NULL else unbox(m$model$iter),
        ties = unbox(has_ties(m$distance, m$treat, cell)),
        sets = sets_of(m, d$id),
        weights = jvec(m$weights),
        subclass = if (is.null(m$subclass)) NULL else as.integer(m$subclass),
        sum_all = sum_json(s$sum.all),
        sum_matched = sum_json(s$sum.matched),
        nn = list(rows = jstr(rownames(s$nn)), control = jvec(s$nn[, "Control"]),
                  treated = jvec(s$nn[, "Treated"])),
        stock_sets_differ = if (is.null(stock_differ)) NULL else unbox(stock_differ)
    )
    out[!vapply(out, is.null, logical(1))]
}

results <- lapply(cases, run_case)
names(results) <- NULL

pkgv <- function(p) unbox(as.character(packageVersion(p)))
doc <- list(
    generator = unbox("tests/reference/matchit_reference.R"),
    R = unbox(as.character(getRversion())),
    packages = list(MatchIt = pkgv("MatchIt"), jsonlite = pkgv("jsonlite")),
    stock_demo = unbox(stock_demo),
    note = unbox(paste(
        "nearest-neighbour matching through MatchIt 4.5.1's nn_matchC (see the header);",
        "stock_demo: the control stock 4.5.1 picks for a treated score 0.5 among 0.4",
        "(row 2) and 0.51 (row 3, the nearest)")),
    cases = results
)
writeLines(toJSON(doc, auto_unbox = FALSE, null = "null", na = "null", pretty = TRUE,
                  json_verbatim = TRUE), out_path, useBytes = TRUE)
cat(sprintf("wrote %s: %d cases in %.1f s\n", out_path, length(results),
            proc.time()[["elapsed"]] - t0))
for (r in results)
    cat(sprintf("  %-28s ties %d  stock 4.5.1 differs in %s sets\n", r$id, r$ties,
                if (is.null(r$stock_sets_differ)) "-" else r$stock_sets_differ))
