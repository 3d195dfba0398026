# effects_sites_data.R — writes tests/data/effects_sites.csv: an evaluation with treatment
# assigned by classroom within schools, so that school-specific effects (a random
# treatment slope) are identified.  Run from the repository root:
#   Rscript tests/reference/effects_sites_data.R
# Truth: score = 50 + 0.6 (prior - 50) - 2 frl - 1 black + (2 + 1 [cohort 2] + 0.5 black +
#   s_school) treat + u_school + u_classroom + e, with sd(u_school) 3, sd(s_school) 1.5,
#   cor 0.3, sd(u_classroom) 1.5, sd(e) 8.  Schools 29 and 30 are small (privacy cases).
set.seed(2024)
rows <- list()
k <- 0
for (s in 1:30) {
    cohort <- if (s %% 2 == 0) 2 else 1
    z <- rnorm(2)
    u0 <- 3 * z[1]
    u1 <- 1.5 * (0.3 * z[1] + sqrt(1 - 0.09) * z[2])
    ncls <- if (s >= 29) 2 else sample(4:8, 1)
    pblack <- runif(1, 0.05, 0.6)
    for (cl in 1:ncls) {
        treat <- as.integer(cl %% 2 == 1)
        size <- if (s >= 29 && treat == 0) 6 else sample(12:22, 1)
        uc <- 1.5 * rnorm(1)
        prior <- round(50 + 10 * rnorm(size), 2)
        frl <- rbinom(size, 1, 0.45)
        black <- rbinom(size, 1, pblack)
        y <- 50 + 0.6 * (prior - 50) - 2 * frl - black +
            (2 + (cohort == 2) + 0.5 * black + u1) * treat + u0 + uc + 8 * rnorm(size)
        k <- k + 1
        rows[[k]] <- data.frame(school = sprintf("S%02d", s),
                                classroom = sprintf("S%02d-C%d", s, cl), cohort = cohort,
                                treat = treat, prior = prior, frl = frl, black = black,
                                score = round(y, 2))
    }
}
d <- do.call(rbind, rows)
d <- cbind(student = seq_len(nrow(d)), d)
write.csv(d, "tests/data/effects_sites.csv", row.names = FALSE, quote = FALSE)
cat(nrow(d), "rows\n")
