/* gen_match.c — simulate students for matched-comparison evaluations (`evalmix match`).
 *
 * Schools of about SCHOOL_SIZE students; a school runs the programme (all its students are
 * treated) with a probability that rises with its share of students in poverty
 * (school_frl) and with urbanicity, so treated and comparison students differ at baseline.
 * Each student has a grade (3-8) and a tested subject (math or reading), which are the
 * exact-matching cells, a baseline score `prior` (lower with poverty and English-learner
 * status), frl and ell flags, and a spring score with a true programme effect of 2.5.
 *
 *   gen_match STUDENTS TREATED_SHARE SEED [SCHOOL_SIZE] > file.csv
 *
 * TREATED_SHARE is the target share of treated schools (the realised share varies with
 * the draw); SCHOOL_SIZE defaults to 400.  Deterministic for a given seed (splitmix64).
 * tests/data/match_eval.csv was made with `gen_match 600 0.2 8 30`. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t rng_state;

static uint64_t next_u64(void)
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
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: gen_match STUDENTS TREATED_SHARE SEED [SCHOOL_SIZE] > file.csv\n");
        return 2;
    }
    const int64_t nstudents = strtoll(argv[1], NULL, 10);
    const double share = strtod(argv[2], NULL);
    rng_state = strtoull(argv[3], NULL, 10);
    const int school_size = argc == 5 ? atoi(argv[4]) : 400;
    if (nstudents < 1 || !(share > 0 && share < 1) || school_size < 2) {
        fprintf(stderr, "gen_match: STUDENTS >= 1, 0 < TREATED_SHARE < 1, SCHOOL_SIZE >= 2\n");
        return 2;
    }
    static char buf[1 << 20];
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    printf("student,school,grade,subject,treat,prior,frl,ell,school_frl,urban,score\n");
    const double a = log(share / (1 - share));
    int64_t student = 0, school = 0, ntreated = 0;
    while (student < nstudents) {
        school++;
        const double school_frl = 0.1 + 0.8 * unif();
        const int urban = unif() < 0.5;
        const double lp = a + 3.0 * (school_frl - 0.5) + 0.8 * (urban - 0.5);
        const int treat = unif() < 1 / (1 + exp(-lp));
        const double u_school = 4.0 * norm();
        const int size = school_size / 2 + (int)(unif() * school_size);
        for (int i = 0; i < size && student < nstudents; i++) {
            student++;
            const int grade = 3 + (int)(unif() * 6);
            const int reading = unif() < 0.5;
            const int frl = unif() < school_frl;
            const int ell = unif() < 0.12;
            const double prior = 200 + 8.0 * (grade - 3) - 10.0 * frl - 6.0 * ell -
                                 8.0 * (school_frl - 0.5) + 12.0 * norm();
            const double score = prior + 6.0 + 2.5 * treat - 1.0 * frl + u_school + 6.0 * norm();
            ntreated += treat;
            printf("%" PRId64 ",S%" PRId64 ",%d,%s,%d,%.2f,%d,%d,%.3f,%d,%.2f\n", student, school,
                   grade, reading ? "reading" : "math", treat, prior, frl, ell, school_frl, urban,
                   score);
        }
    }
    fprintf(stderr, "# gen_match: %" PRId64 " students (%" PRId64 " treated) in %" PRId64
                    " schools; true effect 2.5\n",
            student, ntreated, school);
    return 0;
}
