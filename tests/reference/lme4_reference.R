# lme4_reference.R — reference values from lme4 for tests/reference/test_lme4_reference.c
#
# Run from the repository root:   Rscript tests/reference/lme4_reference.R
# Reads only the bundled CSV files in datasets/ (see datasets/README.md), fits every case
# with lme4::lmer (default control) by REML and by ML, and writes
# tests/reference/lme4_reference.json.  Takes well under a minute.
#
# Numbers in the JSON are written with the fewest of 15, 16 or 17 significant digits that
# read back as the identical double (jsonlite's own digits = NA stops at 15).  Missing
# values are null.  Matrices are arrays of rows.

# One OpenBLAS thread (common.R): with more, the last digits vary from run to run (about
# 1e-11 relative); with one the JSON is identical on every run.
source("tests/reference/common.R")
evm_one_blas_thread()

suppressPackageStartupMessages({
    library(lme4)
    library(jsonlite)
})
# Factor levels in byte order, as evalmix orders text labels.
invisible(Sys.setlocale("LC_COLLATE", "C"))

out_path <- "tests/reference/lme4_reference.json"
if (!dir.exists("datasets")) stop("run from the repository root (datasets/ not found)")

# id, csv, formula, weights column.  Every case is fitted twice: <id>_reml and <id>_ml.
cases <- list(
    list("sleepstudy", "sleepstudy.csv", "Reaction ~ Days + (Days|Subject)"),
    list("sleepstudy_uncorr", "sleepstudy.csv", "Reaction ~ Days + (Days||Subject)"),
    list("pastes_nested", "Pastes.csv", "strength ~ 1 + (1|batch/cask)"),
    list("penicillin_crossed", "Penicillin.csv", "diameter ~ 1 + (1|plate) + (1|sample)"),
    list("dyestuff", "Dyestuff.csv", "Yield ~ 1 + (1|Batch)"),
    # Box & Tiao's constructed example: between-batch variance estimated as zero.
    list("dyestuff2_singular", "Dyestuff2.csv", "Yield ~ 1 + (1|Batch)"),
    list("hsb_slopes", "hsb.csv", "MathAch ~ SES*Sector + (SES|School)"),
    list("hsb_intercept", "hsb.csv", "MathAch ~ SES + (1|School)"),
    list("hsb_context", "hsb.csv", "MathAch ~ SES + MEANSES + Sector + (1|School)"),
    # Weighted fits exercise the prior-weights code: school size is constant within a
    # school, cake temperature varies within a group.  Neither weighting is meant as an
    # analysis of these data.
    list("hsb_weighted", "hsb.csv", "MathAch ~ SES + Sector + (1|School)", "Size"),
    list("cake_weighted", "cake.csv", "angle ~ recipe + temp + (1|recipe:replicate)",
         "temp"),
    # An interaction as grouping factor, and a factor-by-numeric fixed interaction.
    list("cake_split_plot", "cake.csv", "angle ~ recipe * temp + (1|recipe:replicate)"),
    list("exam_slopes", "Exam.csv", "normexam ~ standLRT + (standLRT|school)"),
    # Real aliasing: single-sex schools (type "Sngl") are exactly the "boys" and "girls"
    # levels of schgend, so typeSngl is dropped as lme4 does.
    list("exam_aliased", "Exam.csv", "normexam ~ standLRT + schgend + type + (1|school)"),
    list("egsingle_growth", "egsingle.csv", "math ~ year + (year|childid) + (1|schoolid)"),
    list("egsingle_nested", "egsingle.csv", "math ~ year + (1|schoolid/childid)"),
    # (year || schoolid) + (1 | childid): lme4 reorders terms with rev(order(nlevels)), so the
    # two schoolid terms (tied) come out in reverse formula order
    list("egsingle_zerocorr_ties", "egsingle.csv", "math ~ year + (year||schoolid) + (1|childid)"),
    list("scotssec_crossed", "ScotsSec.csv", "attain ~ verbal + (1|primary) + (1|second)"),
    # A repeated grouping factor makes mkVarCorr pass every group name through
    # make.names(unique = TRUE): VarCorr prints "school.classroom", "school", "school.1".
    list("evaluation_zerocorr", "evaluation_example.csv",
         "score ~ prior + treat + (treat||school) + (1|school:classroom)")
)

na2empty <- function(x) ifelse(is.na(x), "", as.character(x))

# ---------------------------------------------------------------- one fit
fit_case <- function(id, csv, formula, weights, reml) {
    path <- file.path("datasets", csv)
    d <- read.csv(path, stringsAsFactors = TRUE)
    f <- as.formula(formula)
    warns <- character(0)
    msgs <- character(0)
    call <- if (is.null(weights)) {
        bquote(lmer(.(f), data = d, REML = .(reml)))
    } else {
        bquote(lmer(.(f), data = d, REML = .(reml), weights = .(as.name(weights))))
    }
    m <- withCallingHandlers(eval(call),
        warning = function(w) {
            warns <<- c(warns, conditionMessage(w))
            invokeRestart("muffleWarning")
        },
        message = function(c) {
            msgs <<- c(msgs, sub("\n$", "", conditionMessage(c)))
            invokeRestart("muffleMessage")
        })

    conv_msgs <- as.character(unlist(m@optinfo$conv$lme4$messages))
    # "boundary (singular) fit" is a note about the estimate; everything else lme4 puts
    # here (failure to converge, degenerate Hessian, ...) is a convergence warning.
    conv_warn <- any(!grepl("^boundary \\(singular\\) fit", conv_msgs))

    # as.data.frame(VarCorr(m)) in lme4's row order, NA -> "".
    vc <- as.data.frame(VarCorr(m))

    # ranef with conditional SDs.  attr "postVar" is an array [q, q, levels] or, when a
    # grouping factor has several terms (x||g), a list of such arrays, one per term.
    re <- ranef(m, condVar = TRUE)
    vcl <- VarCorr(m)
    fac_of_vc <- names(getME(m, "cnms"))   # grouping factor of each VarCorr element
    ranef_json <- lapply(names(re), function(g) {
        r <- re[[g]]
        modes <- as.matrix(r)
        pv <- attr(r, "postVar")
        pvl <- if (is.list(pv)) pv else list(pv)
        csd <- do.call(cbind, lapply(pvl, function(a) {
            k <- dim(a)[1]
            matrix(sqrt(vapply(seq_len(dim(a)[3]), function(l) diag(matrix(a[, , l], k, k)),
                               numeric(k))), ncol = k, byrow = TRUE)
        }))
        stopifnot(identical(dim(csd), dim(modes)))
        # SD of each term, from the VarCorr element(s) of this factor.
        sds <- unlist(lapply(which(fac_of_vc == g), function(k) attr(vcl[[k]], "stddev")))
        sds <- sds[colnames(modes)]
        stopifnot(!anyNA(sds))
        list(group = unbox(g), level = jstr(rownames(r)), term = jstr(colnames(r)),
             sd = jvec(sds), mode = jmat(modes), condsd = jmat(csd))
    })

    # For diagnosis only, not the reference: the same model refitted with BOBYQA run to
    # rhoend = 1e-12 from lme4's default start.  When evalmix and lme4 disagree, this shows
    # whether lme4's default stopping point was the one that was off.
    tctl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5),
                        check.conv.grad = "ignore", check.conv.hess = "ignore",
                        check.conv.singular = "ignore")
    mt <- suppressMessages(suppressWarnings(update(m, control = tctl)))

    X <- getME(m, "X")
    dropped <- attr(X, "col.dropped")
    th <- getME(m, "theta")
    vcv <- as.matrix(vcov(m))
    ng <- ngrps(m)

    list(
        id = unbox(paste0(id, if (reml) "_reml" else "_ml")),
        csv = unbox(path),
        formula = unbox(formula),
        reml = unbox(reml),
        weights = if (is.null(weights)) NULL else unbox(weights),
        nobs = unbox(nobs(m)),
        objective = jnum(if (reml) REMLcrit(m) else deviance(m)),
        loglik = jnum(as.numeric(logLik(m))),
        aic = jnum(AIC(m)),
        bic = jnum(BIC(m)),
        sigma = jnum(sigma(m)),
        theta_names = jstr(names(th)),
        theta = jvec(th),
        fixef_names = jstr(names(fixef(m))),
        fixef = jvec(fixef(m)),
        se = jvec(sqrt(diag(vcv))),
        vcov = jmat(vcv),
        fixef_dropped = jstr(if (is.null(dropped)) character(0) else names(dropped)),
        varcorr = list(grp = jstr(vc$grp), var1 = jstr(na2empty(vc$var1)),
                       var2 = jstr(na2empty(vc$var2)), vcov = jvec(vc$vcov),
                       sdcor = jvec(vc$sdcor)),
        ranef = ranef_json,
        ngrps = list(name = jstr(names(ng)), nlevels = I(as.integer(ng))),
        singular = unbox(isSingular(m, tol = 1e-4)),
        convergence_warning = unbox(conv_warn),
        lme4_conv_messages = jstr(conv_msgs),
        warnings = jstr(warns),
        messages = jstr(msgs),
        objective_tight = jnum(if (reml) REMLcrit(mt) else deviance(mt)),
        theta_tight = jvec(getME(mt, "theta")),
        optimizer = unbox(m@optinfo$optimizer),
        feval = unbox(as.integer(m@optinfo$feval))
    )
}

# ---------------------------------------------------------------- all cases
t0 <- proc.time()[["elapsed"]]
results <- list()
for (cs in cases) {
    w <- if (length(cs) >= 4) cs[[4]] else NULL
    for (reml in c(TRUE, FALSE)) {
        r <- fit_case(cs[[1]], cs[[2]], cs[[3]], w, reml)
        cat(sprintf("%-28s objective %.10g%s%s\n", r$id, as.numeric(r$objective),
                    if (r$singular) "  [singular]" else "",
                    if (r$convergence_warning) "  [convergence warning]" else ""))
        results[[length(results) + 1]] <- r
    }
}

pkgv <- function(p) unbox(as.character(packageVersion(p)))
doc <- list(
    generated_by = unbox("tests/reference/lme4_reference.R"),
    r_version = unbox(R.version.string),
    packages = list(lme4 = pkgv("lme4"), Matrix = pkgv("Matrix"), jsonlite = pkgv("jsonlite"),
                    nloptr = pkgv("nloptr"), minqa = pkgv("minqa")),
    platform = unbox(R.version$platform),
    blas = unbox(extSoftVersion()[["BLAS"]]),
    blas_threads = unbox(Sys.getenv("OPENBLAS_NUM_THREADS")),
    lapack = unbox(La_library()),
    collate = unbox(Sys.getlocale("LC_COLLATE")),
    note = unbox(paste(
        "objective is REMLcrit(m) for REML fits and deviance(m) for ML fits;",
        "loglik/aic/bic are logLik/AIC/BIC of the same fit; se = sqrt(diag(vcov(m)));",
        "varcorr = as.data.frame(VarCorr(m)) with NA as \"\";",
        "ranef = ranef(m, condVar = TRUE): mode and condsd are [level][term],",
        "condsd = sqrt(diag(postVar)), sd = the term's standard deviation from VarCorr;",
        "singular = isSingular(m, tol = 1e-4); convergence_warning is TRUE when",
        "m@optinfo$conv$lme4$messages holds anything but the boundary (singular) note",
        "(failure to converge, nearly unidentifiable); objective_tight/theta_tight: the same",
        "model refitted by BOBYQA to rhoend 1e-12, for diagnosis only")),
    cases = results
)
writeLines(toJSON(doc, auto_unbox = FALSE, null = "null", na = "null", pretty = TRUE,
                  json_verbatim = TRUE), out_path, useBytes = TRUE)
cat(sprintf("wrote %s: %d cases in %.1f s\n", out_path, length(results),
            proc.time()[["elapsed"]] - t0))
