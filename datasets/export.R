# export.R — regenerate the bundled CSV files from the R packages they come from.
#
# Run from the repository root:   Rscript datasets/export.R
# Needs lme4, nlme and mlmRev (Debian: r-cran-lme4, r-cran-nlme, r-cran-mlmrev).
#
# Conventions (see datasets/README.md):
#  - header row, no row names, "NA" for missing values;
#  - factors are written as their labels; labels that are not numbers are quoted;
#  - every number is written with the fewest of 15, 16 or 17 significant digits that R
#    reads back as the identical double, so a CSV holds exactly the values of the package
#    object.  The script checks this by reading every file back.

suppressPackageStartupMessages({
    library(lme4)
    library(nlme)
    library(mlmRev)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))

outdir <- "datasets"
if (!dir.exists(outdir)) stop("run from the repository root (datasets/ not found)")

# Shortest of %.15g/%.16g/%.17g that R parses back to the same double.
fmt_num <- function(x) {
    out <- sprintf("%.15g", x)
    for (d in 16:17) {
        bad <- !is.na(x) & as.numeric(out) != x
        if (!any(bad)) break
        out[bad] <- sprintf(paste0("%.", d, "g"), x[bad])
    }
    out[is.na(x)] <- "NA"
    out
}

is_number_label <- function(s) !is.na(suppressWarnings(as.numeric(s)))

write_dataset <- function(d, name) {
    d <- as.data.frame(d)
    quote_cols <- integer(0)
    out <- d
    for (j in seq_along(d)) {
        x <- d[[j]]
        if (is.factor(x) || is.character(x)) {
            x <- as.character(x)
            out[[j]] <- x
            if (!all(is.na(x) | is_number_label(x))) quote_cols <- c(quote_cols, j)
        } else if (is.numeric(x)) {
            out[[j]] <- fmt_num(as.double(x))
        } else {
            stop(name, ": column ", names(d)[j], " has unsupported class ", class(x)[1])
        }
    }
    path <- file.path(outdir, paste0(name, ".csv"))
    write.csv(out, path, row.names = FALSE, na = "NA", quote = quote_cols,
              fileEncoding = "UTF-8")

    # Read back as the reference script does and check that nothing changed.
    back <- read.csv(path, stringsAsFactors = TRUE)
    stopifnot(identical(names(back), names(d)), nrow(back) == nrow(d))
    for (j in seq_along(d)) {
        x <- d[[j]]
        y <- back[[j]]
        if (is.numeric(x)) {
            if (!identical(as.double(y), as.double(x)))
                stop(name, ": column ", names(d)[j], " does not read back identically")
        } else if (!identical(as.character(y), as.character(x))) {
            stop(name, ": factor column ", names(d)[j], " does not read back identically")
        }
    }
    cat(sprintf("%-16s %6d rows %3d cols %9d bytes\n", basename(path), nrow(d), ncol(d),
                file.size(path)))
    invisible(path)
}

# ---- lme4
write_dataset(sleepstudy[, c("Reaction", "Days", "Subject")], "sleepstudy")
write_dataset(Pastes[, c("strength", "batch", "cask", "sample")], "Pastes")
write_dataset(Penicillin[, c("diameter", "plate", "sample")], "Penicillin")
write_dataset(Dyestuff[, c("Batch", "Yield")], "Dyestuff")
write_dataset(Dyestuff2[, c("Batch", "Yield")], "Dyestuff2")
write_dataset(cake[, c("replicate", "recipe", "temperature", "angle", "temp")], "cake")

# ---- nlme: High School and Beyond, students merged with their school's data.
# MEANSES is in both tables with identical values; the student table's copy is kept.
# Rows keep the order of MathAchieve.
ma <- as.data.frame(MathAchieve)
ms <- as.data.frame(MathAchSchool)
i <- match(as.character(ma$School), as.character(ms$School))
stopifnot(!anyNA(i), identical(ma$MEANSES, ms$MEANSES[i]))
hsb <- data.frame(
    School = as.character(ma$School),
    Minority = ma$Minority,
    Sex = ma$Sex,
    SES = ma$SES,
    MathAch = ma$MathAch,
    MEANSES = ma$MEANSES,
    Size = ms$Size[i],
    Sector = ms$Sector[i],
    PRACAD = ms$PRACAD[i],
    DISCLIM = ms$DISCLIM[i],
    HIMINTY = ms$HIMINTY[i],
    stringsAsFactors = FALSE)
write_dataset(hsb, "hsb")

# ---- mlmRev
write_dataset(Exam[, c("school", "student", "normexam", "standLRT", "schavg", "schgend",
                       "type", "sex", "vr", "intake")], "Exam")
write_dataset(egsingle[, c("schoolid", "childid", "year", "grade", "math", "retained",
                           "female", "black", "hispanic", "size", "lowinc", "mobility")],
              "egsingle")
write_dataset(ScotsSec[, c("primary", "second", "attain", "verbal", "sex", "social")],
              "ScotsSec")

cat(sprintf("R %s; lme4 %s; nlme %s; mlmRev %s\n", getRversion(), packageVersion("lme4"),
            packageVersion("nlme"), packageVersion("mlmRev")))
