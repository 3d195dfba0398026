# export_insteval.R — write lme4's InstEval data (73,421 ratings; students s, lecturers d,
# departments dept, crossed) as CSV for the side-by-side benchmark.
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
write.csv(InstEval, args[1], row.names = FALSE)
