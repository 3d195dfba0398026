#!/usr/bin/env bash
# quickstart.sh — install what is missing, build into build/, and fit the main example:
# High School and Beyond (7,185 students in 160 schools), math achievement on SES by
# school sector with a random SES slope per school.  Prints the summary, writes hsb.h5.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)" > /dev/null
build/evalmix fit datasets/hsb.csv --formula 'MathAch ~ SES*Sector + (SES|School)' --out hsb.h5
echo "Wrote hsb.h5 (see docs/hdf5.md); 'build/evalmix show hsb.h5' prints the summary again."
