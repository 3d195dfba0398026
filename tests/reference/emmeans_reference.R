# emmeans_reference.R — reference values for `evalmix effects` (tests/reference/test_effects.c)
#
# Run from the repository root:   Rscript tests/reference/emmeans_reference.R
# Writes tests/reference/emmeans_reference.json.  Takes about half a minute.
#
# Per case: the model fitted by lme4::lmer (REML), refitted by BOBYQA to rhoend = 1e-12 so
# that the reference values belong to the optimum rather than to lme4's stopping point,
# and the treatment contrasts (treated - comparison) as emmeans 1.8 gives them with
#   emm_options(lmer.df = "satterthwaite", lmerTest.limit = Inf)
# from the reference grid (other factors averaged with equal weights, numeric covariates at
# their means; a numeric 0/1 treatment or subgroup variable set with at = list(v = 0:1)):
#   overall                 contrast(emmeans(m, ~ T), "revpairwise")
#   in each level of V      contrast(emmeans(m, ~ T | V), "revpairwise")
#   level - first level     contrast(emmeans(m, ~ T * V), interaction = c("revpairwise",
#                                    "trt.vs.ctrl"))   (each later level of V minus the first)
# with estimate, SE, df, t, p (unadjusted), the 95% CI and the contrast weights (linfct).
# p_holm / p_bh: p.adjust over the family (every row but the overall one).
#
# The case "sites" adds the school-by-school quantities:
#   - model-based effect of school s: x_s'beta + b_s,treat, x_s the weights of the cohort
#     contrast for the school's cohort; condsd from ranef(condVar = TRUE); pred_sd the
#     prediction-error SD sqrt(sigma^2 a' M^-1 a) from the dense mixed-model equations
#     M = [L'Z'ZL + I, L'Z'X; X'ZL, X'X] (L = Lambda), a = [L' z_s; x_s];
#   - no-pooling: lm of the model's fixed part (model.matrix columns) within the school,
#     aliased columns dropped (their weights set to 0, as predict.lm uses the kept
#     coefficients), CR2 by classroom: clubSandwich::linear_contrast(vcov = vcovCR(fit,
#     cluster = classroom, type = "CR2"), test = "Satterthwaite").
#
# Numbers are written with 15 significant digits (jsonlite digits = NA).

if (Sys.getenv("OPENBLAS_NUM_THREADS") != "1") {
    self <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
    if (length(self) != 1)
        stop("run as: OPENBLAS_NUM_THREADS=1 Rscript tests/reference/emmeans_reference.R")
    status <- system2(file.path(R.home("bin"), "Rscript"), shQuote(self),
                      env = "OPENBLAS_NUM_THREADS=1")
    quit(save = "no", status = status)
}

suppressPackageStartupMessages({
    library(lme4)
    library(lmerTest)
    library(emmeans)
    library(clubSandwich)
    library(jsonlite)
})
emm_options(lmer.df = "satterthwaite", lmerTest.limit = Inf)

num <- function(x) as.numeric(x)

tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))

fit <- function(formula, d) {
    m0 <- lmerTest::lmer(formula, data = d, REML = TRUE)
    m <- lmerTest::lmer(formula, data = d, REML = TRUE, control = tight,
                    start = list(theta = getME(m0, "theta")))
    m
}

rows_of <- function(con, kind, variable, level) {
    s <- summary(con, infer = c(TRUE, TRUE), adjust = "none")
    L <- con@linfct
    lapply(seq_len(nrow(s)), function(i) list(
        kind = kind, variable = variable, level = level[i],
        estimate = num(s$estimate[i]), se = num(s$SE[i]), df = num(s$df[i]),
        t = num(s$t.ratio[i]), p = num(s$p.value[i]),
        lower = num(s$lower.CL[i]), upper = num(s$upper.CL[i]),
        L = num(L[i, ]), L_names = colnames(L)))
}

at_list <- function(d, trt, vars) {
    at <- list()
    if (is.numeric(d[[trt]])) at[[trt]] <- c(0, 1)
    for (v in vars) if (is.numeric(d[[v]]) && !v %in% factor_vars) at[[v]] <- sort(unique(d[[v]]))
    at
}

case <- function(name, data, formula, trt, by, subgroup, schools = FALSE, site = NULL,
                 cluster = NULL) {
    d <- read.csv(data, stringsAsFactors = TRUE)
    m <- fit(as.formula(formula), d)
    rows <- list()
    # overall
    emm <- emmeans(m, as.formula(paste("~", trt)), at = at_list(d, trt, character(0)))
    rows <- c(rows, rows_of(contrast(emm, "revpairwise"), "overall", "", ""))
    for (v in c(by, subgroup)) {
        at <- at_list(d, trt, v)
        emm <- emmeans(m, as.formula(paste("~", trt, "|", v)), at = at)
        con <- contrast(emm, "revpairwise")
        lev <- as.character(summary(con)[[v]])
        rows <- c(rows, rows_of(con, "level", v, lev))
        emm2 <- emmeans(m, as.formula(paste("~", trt, "*", v)), at = at)
        con2 <- contrast(emm2, interaction = c("revpairwise", "trt.vs.ctrl"))
        lev2 <- as.character(levels(emm2)[[v]])[-1]
        rows <- c(rows, rows_of(con2, "difference", v, lev2))
    }
    p <- sapply(rows[-1], function(r) r$p)
    out <- list(name = name, data = data, formula = formula, treatment = trt, by = I(by),
                subgroup = I(subgroup), theta = num(getME(m, "theta")), sigma = num(sigma(m)),
                contrasts = rows, p_holm = num(p.adjust(p, "holm")), p_bh = num(p.adjust(p, "BH")))
    if (schools) out$schools <- school_table(m, d, trt, site, cluster, rows)
    out
}

school_table <- function(m, d, trt, site, cluster, rows) {
    # x_s: the cohort contrast of the school's cohort (the school-level variable "cohort")
    lev <- sapply(rows, function(r) if (r$kind == "level" && r$variable == "cohort") r$level else NA)
    Lc <- lapply(rows[!is.na(lev)], function(r) r$L)
    names(Lc) <- lev[!is.na(lev)]
    beta <- fixef(m)
    re <- ranef(m, condVar = TRUE)[[site]]
    pv <- attr(re, "postVar")
    j <- which(colnames(re) == trt)
    # dense mixed-model equations
    Lt <- getME(m, "Lambdat"); Zt <- getME(m, "Zt"); X <- getME(m, "X")
    LZ <- as.matrix(Lt %*% Zt)
    M <- rbind(cbind(LZ %*% t(LZ) + diag(nrow(LZ)), LZ %*% X), cbind(t(X) %*% t(LZ), crossprod(X)))
    Minv <- solve(M)
    flist <- getME(m, "flist")
    # position of school s's treat effect in b (lme4 orders b by term, then level, then column)
    cnms <- getME(m, "cnms"); nl <- sapply(flist, nlevels)[names(cnms)]
    offs <- cumsum(c(0, sapply(seq_along(cnms), function(i) length(cnms[[i]]) * nl[i])))
    ti <- which(names(cnms) == site)
    q <- length(cnms[[ti]])
    sch <- levels(flist[[site]])
    Xfull <- model.matrix(lme4::nobars(formula(m)), d)
    out <- list(level = sch, n_treated = integer(0), n_comparison = integer(0), estimate = c(),
                condsd = c(), pred_sd = c(), np_estimate = c(), np_se = c(), np_df = c())
    for (s in seq_along(sch)) {
        ds <- d[[site]] == sch[s]
        coh <- as.character(unique(d$cohort[ds]))
        xs <- Lc[[coh]]
        zpos <- offs[ti] + (s - 1) * q + j
        a <- numeric(nrow(M))
        z <- numeric(nrow(LZ)); z[zpos] <- 1
        a[seq_len(nrow(LZ))] <- as.numeric(Lt %*% z)
        a[nrow(LZ) + seq_along(beta)] <- xs
        out$estimate[s] <- sum(xs * beta) + re[s, j]
        out$condsd[s] <- sqrt(pv[j, j, s]) 
        out$pred_sd[s] <- sqrt(sigma(m)^2 * sum(a * (Minv %*% a)))
        out$n_treated[s] <- sum(d[[trt]][ds] == 1)
        out$n_comparison[s] <- sum(d[[trt]][ds] == 0)
        Xs <- Xfull[ds, , drop = FALSE]
        ys <- d$score[ds]
        f <- lm(ys ~ 0 + Xs)
        cf <- coef(f)
        keep <- !is.na(cf)
        lc <- matrix(xs[keep], 1)
        V <- vcovCR(f, cluster = d[[cluster]][ds], type = "CR2")
        lcon <- linear_contrast(f, vcov = V, contrasts = lc, test = "Satterthwaite")
        out$np_estimate[s] <- sum(lc * cf[keep])
        out$np_se[s] <- lcon$SE
        out$np_df[s] <- lcon$df
    }
    for (k in names(out)[-1]) out[[k]] <- num(out[[k]])
    vc <- as.data.frame(VarCorr(m))
    tau <- vc$sdcor[vc$grp == site & vc$var1 == trt & is.na(vc$var2)]
    out$tau <- num(tau)
    out
}

factor_vars <- c("cohort", "year")   # used as factor(v) in the formulas below

t0 <- Sys.time()
cases <- list(
    case("hsb", "datasets/hsb.csv",
         "MathAch ~ SES*Sector + Minority*Sector + Sex + (SES|School)",
         "Sector", "Minority", "Sex"),
    case("hsb_basic", "datasets/hsb.csv", "MathAch ~ SES*Sector + (SES|School)",
         "Sector", character(0), character(0)),
    case("evaluation_small", "tests/data/evaluation_small.csv",
         "score ~ prior + frl + ell + treat*factor(year) + treat*frl + (1|school) + (1|classroom)",
         "treat", "year", "frl"),
    case("sites", "tests/data/effects_sites.csv",
         "score ~ prior + frl + treat*factor(cohort) + treat*black + (1 + treat|school) + (1|school:classroom)",
         "treat", "cohort", "black", schools = TRUE, site = "school", cluster = "classroom"))
doc <- list(
    generated_by = "tests/reference/emmeans_reference.R",
    versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                    lmerTest = as.character(packageVersion("lmerTest")),
                    emmeans = as.character(packageVersion("emmeans")),
                    clubSandwich = as.character(packageVersion("clubSandwich"))),
    seconds = round(as.numeric(Sys.time() - t0, units = "secs"), 1),
    cases = cases)
writeLines(toJSON(doc, auto_unbox = TRUE, pretty = TRUE, digits = NA, na = "null"),
           "tests/reference/emmeans_reference.json")
cat("wrote tests/reference/emmeans_reference.json\n")
