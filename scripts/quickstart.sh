#!/usr/bin/env bash
# quickstart.sh — install what is missing, build into build/, and run the main job on the
# bundled evaluation example (5,000 students in 40 schools, two implementation cohorts;
# made by `evalmix simulate`, see datasets/README.md): fit the school-by-school model
# (prints the lme4-like summary with Satterthwaite df, writes evaluation.h5), then the
# programme effects overall, by cohort and school by school (writes effects.h5 and the
# forest plot effects.svg).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)" > /dev/null
F='score ~ prior + frl + ell + black + treat*factor(cohort) + (1 + treat|school) + (1|school:classroom)'
build/evalmix fit datasets/evaluation_example.csv --formula "$F" --out evaluation.h5
echo
build/evalmix effects datasets/evaluation_example.csv --formula "$F" --treatment treat \
    --by cohort --out effects.h5 --plot effects.svg
echo
echo "Wrote evaluation.h5, effects.h5 and effects.svg (see docs/hdf5.md); 'build/evalmix show evaluation.h5' prints the fit again."
