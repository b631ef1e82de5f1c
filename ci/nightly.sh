#!/usr/bin/env bash
# The nightly regression pipeline: evaluate a pinned model on a pinned suite, tag the run nightly-<date>,
# then gate it against the baseline with a one-sided paired non-inferiority test (`rbench gate`) and write
# the Markdown summary for a CI comment. Exits with the gate's code: 0 pass, 1 regression, 2 error (the
# evaluation failing, or no baseline yet, is an error too).
#
# Settings, from the environment (defaults in brackets):
#   RBENCH            the rbench binary [build/rbench]
#   RBENCH_DB         the store holding the baseline and the nightly runs [rbench.db]
#   NIGHTLY_MODEL     [engine:models/arith-moe]
#   NIGHTLY_SUITE     [arith]
#   NIGHTLY_SAMPLES   samples per problem [4]
#   NIGHTLY_LIMIT     first N problems, 0 = all [0]
#   NIGHTLY_MAX_TOKENS [512]
#   NIGHTLY_DATE      [today, UTC, YYYY-MM-DD]
#   NIGHTLY_SEED      [NIGHTLY_DATE's digits]: a fresh seed each night draws fresh samples; a run's identity
#                     includes its seed, so a fixed seed would resume the stored run instead of re-evaluating
#   NIGHTLY_TAG       [nightly-NIGHTLY_DATE]
#   BASELINE          baseline run id or tag [nightly-baseline]; set one once with
#                     `rbench run ... --tag nightly-baseline`
#   MARGIN            largest tolerated drop, on the score scale [0.05 = 5 points]
#   ALPHA             one-sided significance level [0.05]
#   SUMMARY           where to write the Markdown summary [nightly-summary.md]
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rbench=${RBENCH:-$here/build/rbench}
db=${RBENCH_DB:-$here/rbench.db}
model=${NIGHTLY_MODEL:-engine:$here/models/arith-moe}
suite=${NIGHTLY_SUITE:-arith}
samples=${NIGHTLY_SAMPLES:-4}
limit=${NIGHTLY_LIMIT:-0}
max_tokens=${NIGHTLY_MAX_TOKENS:-512}
date=${NIGHTLY_DATE:-$(date -u +%Y-%m-%d)}
seed=${NIGHTLY_SEED:-${date//-/}}
tag=${NIGHTLY_TAG:-nightly-$date}
baseline=${BASELINE:-nightly-baseline}
margin=${MARGIN:-0.05}
alpha=${ALPHA:-0.05}
summary=${SUMMARY:-nightly-summary.md}

# An error still leaves a summary, so the CI comment says what went wrong.
fail() {
  echo "nightly: $1" >&2
  printf '## rbench nightly: ERROR\n\n%s\n' "$1" > "$summary"
  exit 2
}

[ -x "$rbench" ] || fail "no rbench binary at $rbench (build it, or set RBENCH)"

echo "nightly: $model on $suite (k=$samples, seed $seed), tagged $tag, into $db" >&2
"$rbench" run --model "$model" --suite "$suite" --samples "$samples" --limit "$limit" --max-tokens "$max_tokens" \
    --seed "$seed" --tag "$tag" --db "$db" \
  || fail "the evaluation of $model on $suite did not finish (exit $?); see the log"

gate_errors=$(mktemp)
trap 'rm -f "$gate_errors"' EXIT
"$rbench" gate --db "$db" --baseline "$baseline" --candidate "$tag" --margin "$margin" --alpha "$alpha" \
    --markdown "$summary" 2> "$gate_errors"
code=$?
cat "$gate_errors" >&2
if [ "$code" -ne 0 ] && [ "$code" -ne 1 ]; then
  fail "rbench gate failed (exit $code): $(cat "$gate_errors")"
fi
exit "$code"
