/* gen_evaluation.c — simulate an education-evaluation dataset with known truth.
 *
 * Students in classrooms (~25) in schools (~20 classrooms); each school is treated or a
 * comparison school and belongs to implementation cohort 1 or 2; students have a prior
 * score and two binary covariates (frl, ell).  The outcome follows
 *   score = 10 + 0.6 prior - 1.5 frl - 1.0 ell + 2.0 treat + 0.5 year2 + 1.0 treat:year2
 *           + u_school (sd 3) + u_classroom (sd 2) + e (sd 8)
 * Usage: gen_evaluation STUDENTS SEED > file.csv      (deterministic for a seed)
 * The truth is written as a comment to stderr. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t rng_state;

static uint64_t next_u64(void)   /* splitmix64: small, fast, reproducible everywhere */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double unif(void) { return ((next_u64() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

static double norm(void)
{
    return sqrt(-2.0 * log(unif())) * cos(6.283185307179586 * unif());
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: gen_evaluation STUDENTS SEED > file.csv\n");
        return 2;
    }
    const int64_t nstudents = strtoll(argv[1], NULL, 10);
    rng_state = strtoull(argv[2], NULL, 10);
    const double sd_school = 3.0, sd_class = 2.0, sd_e = 8.0;
    static char buf[1 << 20];
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    printf("student,classroom,school,treat,year,prior,frl,ell,score\n");
    int64_t student = 0, classroom = 0, school = 0;
    while (student < nstudents) {
        school++;
        const int treat = unif() < 0.5;
        const int year = unif() < 0.5 ? 1 : 2;
        const double u_s = sd_school * norm();
        const double school_frl = 0.2 + 0.6 * unif();
        const int nclass = 15 + (int)(unif() * 11);   /* 15..25, mean 20 */
        for (int c = 0; c < nclass && student < nstudents; c++) {
            classroom++;
            const double u_c = sd_class * norm();
            const int size = 20 + (int)(unif() * 11);  /* 20..30, mean 25 */
            for (int i = 0; i < size && student < nstudents; i++) {
                student++;
                const double prior = 50.0 + 10.0 * norm();
                const int frl = unif() < school_frl;
                const int ell = unif() < 0.15;
                const double y = 10.0 + 0.6 * prior - 1.5 * frl - 1.0 * ell + 2.0 * treat +
                                 0.5 * (year == 2) + 1.0 * treat * (year == 2) + u_s + u_c +
                                 sd_e * norm();
                printf("%" PRId64 ",C%" PRId64 ",S%" PRId64 ",%d,%d,%.2f,%d,%d,%.2f\n", student,
                       classroom, school, treat, year, prior, frl, ell, y);
            }
        }
    }
    fprintf(stderr, "# truth: beta = (10, 0.6, -1.5, -1.0, 2.0, 0.5, 1.0) for (Intercept), prior, "
                    "frl, ell, treat, factor(year)2, treat:factor(year)2; sd school 3, classroom "
                    "2, residual 8; %" PRId64 " schools, %" PRId64 " classrooms\n",
            school, classroom);
    return 0;
}
