# emmeans_reference.R — reference values for `evalmix effects` (tests/reference/test_effects.c)
#
# Run from the repository root:   Rscript tests/reference/emmeans_reference.R
# Writes tests/reference/emmeans_reference.json.  Takes about a minute.
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
# Effect sizes (docs/methods.md, "Effect sizes of the contrasts and schools"), block "es":
#   - the outcome's mean, SD and n in each arm of the rows the model used, metafor 3.8's
#     escalc(measure = "SMD") of them (yi = J(N-2) d, vi), the pooled SD and the WWC's
#     omega = 1 - 3/(4N - 9) written out here;
#   - sd_model = sqrt(sigma^2 + the random-intercept variances) from VarCorr;
#   - per contrast: estimate / sd_model, estimate / comparison SD, Hedges' g =
#     omega * estimate / pooled SD and its improvement index 100 pnorm(g) - 50;
#   - the ICC of each random-intercept term, tau_j^2 / (sum of intercept variances +
#     sigma^2), and with profile = TRUE its interval from confint(m, method = "profile")'s
#     interval of tau_j with the other components at their estimates.
#
# Numbers are written with 15 significant digits (jsonlite digits = NA).

source("tests/reference/common.R")
evm_one_blas_thread()

suppressPackageStartupMessages({
    library(lme4)
    library(lmerTest)
    library(emmeans)
    library(clubSandwich)
    library(metafor)
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

es_block <- function(m, trt, rows, profile) {
    mf <- model.frame(m)
    y <- model.response(mf)
    a <- mf[[trt]]
    arm <- if (is.factor(a)) a == levels(a)[2] else a == 1
    m1 <- mean(y[arm]); sd1 <- sd(y[arm]); n1 <- sum(arm)
    m2 <- mean(y[!arm]); sd2 <- sd(y[!arm]); n2 <- sum(!arm)
    smd <- escalc(measure = "SMD", m1i = m1, sd1i = sd1, n1i = n1, m2i = m2, sd2i = sd2, n2i = n2)
    N <- n1 + n2
    sp <- sqrt(((n1 - 1) * sd1^2 + (n2 - 1) * sd2^2) / (N - 2))
    omega <- 1 - 3 / (4 * N - 9)
    vc <- as.data.frame(VarCorr(m))
    icpt <- which(vc$var1 == "(Intercept)" & is.na(vc$var2))
    s2 <- sigma(m)^2
    tau2 <- vc$vcov[icpt]
    sd_model <- sqrt(sum(tau2) + s2)
    est <- sapply(rows, function(r) r$estimate)
    kind <- sapply(rows, function(r) r$kind)
    g <- omega * est / sp
    out <- list(m1 = m1, sd1 = sd1, n1 = n1, m2 = m2, sd2 = sd2, n2 = n2,
                yi = num(smd$yi), vi = num(smd$vi), sd_pooled = sp, omega = omega,
                sd_model = sd_model, es_model = num(est / sd_model), es_comparison = num(est / sd2),
                g = num(g), ii_g = num(ifelse(kind == "difference", NA, 100 * pnorm(g) - 50)),
                icc_group = I(vc$grp[icpt]), icc_var = num(tau2), icc = num(tau2 / (sum(tau2) + s2)))
    if (profile) {
        # the theta index of each intercept SD: lme4's order, q(q+1)/2 per term
        cnms <- getME(m, "cnms")
        off <- cumsum(c(0, sapply(cnms, function(x) length(x) * (length(x) + 1) / 2)))
        parm <- off[seq_along(cnms)][sapply(cnms, function(x) x[1] == "(Intercept)")] + 1
        ci <- confint(m, parm = parm, method = "profile", level = 0.95, oldNames = TRUE)
        lo <- ci[, 1]; hi <- ci[, 2]
        rest <- sum(tau2) + s2 - tau2
        out$icc_lower <- num(lo^2 / (lo^2 + rest))
        out$icc_upper <- num(hi^2 / (hi^2 + rest))
    }
    out
}

case <- function(name, data, formula, trt, by, subgroup, schools = FALSE, site = NULL,
                 cluster = NULL, profile = FALSE) {
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
    out$es <- es_block(m, trt, rows, profile)
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
    out$n_suppressed <- sum(out$n_treated < 10 | out$n_comparison < 10)
    out
}

factor_vars <- c("cohort", "year")   # used as factor(v) in the formulas below

t0 <- Sys.time()
cases <- list(
    case("hsb", "datasets/hsb.csv",
         "MathAch ~ SES*Sector + Minority*Sector + Sex + (SES|School)",
         "Sector", "Minority", "Sex", profile = TRUE),
    case("hsb_basic", "datasets/hsb.csv", "MathAch ~ SES*Sector + (SES|School)",
         "Sector", character(0), character(0)),
    case("evaluation_small", "tests/data/evaluation_small.csv",
         "score ~ prior + frl + ell + treat*factor(year) + treat*frl + (1|school) + (1|classroom)",
         "treat", "year", "frl"),
    case("sites", "tests/data/effects_sites.csv",
         "score ~ prior + frl + treat*factor(cohort) + treat*black + (1 + treat|school) + (1|school:classroom)",
         "treat", "cohort", "black", schools = TRUE, site = "school", cluster = "classroom",
         profile = TRUE),
    # the bundled example (datasets/README.md: the model that generated it); its 20
    # comparison schools have no treated student (no-pooling estimate 0, SE 0, df NaN in R)
    case("evaluation_example", "datasets/evaluation_example.csv",
         "score ~ prior + frl + ell + black + treat*factor(cohort) + (1 + treat|school) + (1|school:classroom)",
         "treat", "cohort", "black", schools = TRUE, site = "school", cluster = "classroom",
         profile = TRUE))
doc <- list(
    generated_by = "tests/reference/emmeans_reference.R",
    versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                    lmerTest = as.character(packageVersion("lmerTest")),
                    emmeans = as.character(packageVersion("emmeans")),
                    clubSandwich = as.character(packageVersion("clubSandwich")),
                    metafor = as.character(packageVersion("metafor"))),
    seconds = round(as.numeric(Sys.time() - t0, units = "secs"), 1),
    cases = cases)
writeLines(toJSON(doc, auto_unbox = TRUE, pretty = TRUE, digits = NA, na = "null"),
           "tests/reference/emmeans_reference.json")
cat("wrote tests/reference/emmeans_reference.json\n")
