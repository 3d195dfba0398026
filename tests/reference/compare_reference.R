# compare_reference.R — lme4's anova(m1, m2) for tests/cli/compare.sh (evalmix compare)
#
# Run from the repository root:   Rscript tests/reference/compare_reference.R
# Fits, from the bundled CSV files in datasets/:
#   sleepstudy     Reaction ~ Days + (1 | Subject)  vs  Reaction ~ Days + (Days | Subject),
#                  both by ML: a variance-component (boundary) test;
#   sleepstudy_reml  the same two models by REML, anova(refit = FALSE): REML criteria;
#   hsb            MathAch ~ SES + (1 | School)  vs  MathAch ~ SES * Sector + (1 | School),
#                  both by ML: a test of fixed effects;
# and writes tests/reference/compare_reference.json: per case the formulas and, per row
# of anova() (ordered by npar), npar, AIC, BIC, logLik, deviance, Chisq, Df, Pr(>Chisq),
# the 50:50 chi-squared mixture p-value where the second model adds only random-effect
# parameters (null otherwise), and the table as print() shows it (the lines from the
# column header to the last row; model names as evalmix labels them).
#
# The JSON is laid out one key per line so that the shell test can read it with awk.
# Numbers have the fewest of 15-17 significant digits that read back as the same double.

source("tests/reference/common.R")
evm_one_blas_thread()
suppressPackageStartupMessages({
    library(lme4)
    library(jsonlite)
})
out_path <- "tests/reference/compare_reference.json"
if (!dir.exists("datasets")) stop("run from the repository root (datasets/ not found)")

jvec <- function(x) paste0("[", paste(fmt_num(x), collapse = ", "), "]")
jstr <- function(s) paste0("[", paste(vapply(s, toJSON, "", auto_unbox = TRUE),
                                      collapse = ", "), "]")

# id, csv, the two formulas, REML?, evalmix's row labels (file names without .h5)
cases <- list(
    list("sleepstudy", "sleepstudy.csv", "Reaction ~ Days + (1 | Subject)",
         "Reaction ~ Days + (Days | Subject)", FALSE, c("sleep_ri", "sleep_rs")),
    list("sleepstudy_reml", "sleepstudy.csv", "Reaction ~ Days + (1 | Subject)",
         "Reaction ~ Days + (Days | Subject)", TRUE, c("sleep_ri_reml", "sleep_rs_reml")),
    list("hsb", "hsb.csv", "MathAch ~ SES + (1 | School)",
         "MathAch ~ SES * Sector + (1 | School)", FALSE, c("hsb_ses", "hsb_sector"))
)

lines <- c("{",
           sprintf("  \"generated_by\": %s,", toJSON("tests/reference/compare_reference.R",
                                                   auto_unbox = TRUE)),
           sprintf("  \"r_version\": %s,", toJSON(R.version.string, auto_unbox = TRUE)),
           sprintf("  \"lme4\": \"%s\",", packageVersion("lme4")),
           "  \"note\": \"anova(m1, m2) of lme4 (refit = FALSE for the REML case); rows ordered by npar; p_mixture = 0.5 P(chisq_df >= x) + 0.5 P(chisq_(df-1) >= x) where the larger model adds only random-effect parameters\",")
for (k in seq_along(cases)) {
    cs <- cases[[k]]
    d <- read.csv(file.path("datasets", cs[[2]]))
    for (v in names(d)) if (is.character(d[[v]])) d[[v]] <- factor(d[[v]])
    m1 <- lmer(as.formula(cs[[3]]), data = d, REML = cs[[5]])
    m2 <- lmer(as.formula(cs[[4]]), data = d, REML = cs[[5]])
    a <- anova(m1, m2, refit = FALSE, model.names = cs[[6]])
    chisq <- a$Chisq
    df <- a$Df
    boundary <- identical(sort(names(fixef(m1))), sort(names(fixef(m2)))) &&
        length(getME(m2, "theta")) > length(getME(m1, "theta"))
    pmix <- c(NA, if (boundary) 0.5 * pchisq(chisq[2], df[2], lower.tail = FALSE) +
                                0.5 * pchisq(chisq[2], df[2] - 1, lower.tail = FALSE) else NA)
    printed <- capture.output(print(a, signif.stars = TRUE))
    first <- grep("npar", printed)[1]
    last <- first + nrow(a)
    lines <- c(lines,
        sprintf("  \"%s\": {", cs[[1]]),
        sprintf("    \"csv\": \"datasets/%s\",", cs[[2]]),
        sprintf("    \"method\": \"%s\",", if (cs[[5]]) "REML" else "ML"),
        sprintf("    \"formula\": %s,", jstr(c(cs[[3]], cs[[4]]))),
        sprintf("    \"model\": %s,", jstr(rownames(a))),
        sprintf("    \"npar\": %s,", jvec(a$npar)),
        sprintf("    \"aic\": %s,", jvec(a$AIC)),
        sprintf("    \"bic\": %s,", jvec(a$BIC)),
        sprintf("    \"loglik\": %s,", jvec(a$logLik)),
        sprintf("    \"deviance\": %s,", jvec(a$deviance)),
        sprintf("    \"chisq\": %s,", jvec(chisq)),
        sprintf("    \"df\": %s,", jvec(df)),
        sprintf("    \"p\": %s,", jvec(a[["Pr(>Chisq)"]])),
        sprintf("    \"p_mixture\": %s,", jvec(pmix)),
        sprintf("    \"printed\": %s", jstr(printed[first:last])),
        if (k < length(cases)) "  }," else "  }")
    cat(sprintf("%-16s Chisq %.6g  Df %g  p %.6g\n", cs[[1]], chisq[2], df[2],
                a[["Pr(>Chisq)"]][2]))
}
lines <- c(lines, "}")
writeLines(lines, out_path, useBytes = TRUE)
invisible(fromJSON(out_path))   # well-formed
cat(sprintf("wrote %s\n", out_path))
