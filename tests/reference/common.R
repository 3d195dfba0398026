# common.R — what every reference script shares; each one starts with
#   source("tests/reference/common.R")   (the scripts run from the repository root)
#
# evm_one_blas_thread(): R's OpenBLAS reads OPENBLAS_NUM_THREADS when R starts, and with
# more threads the last digits of lme4's results vary from run to run; so a script that
# fits models calls this first, and it runs the script again in a fresh Rscript with one
# thread (the script's own exit status is returned).
#
# JSON numbers: fmt_num() writes each double with the fewest of 15, 16 or 17 significant
# digits that read back as the identical double (NA as null, ±Inf as the strings "Inf" and
# "-Inf"); jnum/jvec/jmat mark a scalar, a vector or a matrix (an array of rows) as
# verbatim JSON for jsonlite's toJSON(json_verbatim = TRUE); jstr keeps a string vector
# an array.

evm_one_blas_thread <- function() {
    if (Sys.getenv("OPENBLAS_NUM_THREADS") == "1") return(invisible())
    self <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
    if (length(self) != 1)
        stop("run as: OPENBLAS_NUM_THREADS=1 Rscript tests/reference/<script>.R")
    status <- system2(file.path(R.home("bin"), "Rscript"), shQuote(self),
                      env = "OPENBLAS_NUM_THREADS=1")
    quit(save = "no", status = status)
}

fmt_num <- function(x) {
    x <- as.double(x)
    out <- sprintf("%.15g", x)
    for (d in 16:17) {
        bad <- is.finite(x) & suppressWarnings(as.numeric(out)) != x
        if (!any(bad)) break
        out[bad] <- sprintf(paste0("%.", d, "g"), x[bad])
    }
    out[is.na(x)] <- "null"
    out[is.infinite(x)] <- ifelse(x[is.infinite(x)] > 0, "\"Inf\"", "\"-Inf\"")
    out
}
jnum <- function(x) structure(fmt_num(x), class = "json")
jvec <- function(x) structure(paste0("[", paste(fmt_num(x), collapse = ","), "]"),
                              class = "json")
jmat <- function(m) {
    m <- as.matrix(m)
    rows <- vapply(seq_len(nrow(m)), function(i)
        paste0("[", paste(fmt_num(m[i, ]), collapse = ","), "]"), "")
    structure(paste0("[", paste(rows, collapse = ","), "]"), class = "json")
}
jstr <- function(x) I(as.character(x))
