#!/usr/bin/env bash
# A short training loop under valgrind's memcheck (PYTHONMALLOC=malloc so every Python
# allocation is visible). Reports the bytes definitely lost in optikern's extension; CPython's
# own one-time allocations are not counted (only loss records whose stack passes through
# optikern's _core are). Usage: scripts/valgrind.sh [python]
set -euo pipefail
cd "$(dirname "$0")/.."
python="${1:-python3}"
log="$(mktemp)"
PYTHONMALLOC=malloc valgrind --leak-check=full --show-leak-kinds=definite \
  --errors-for-leak-kinds=definite --num-callers=40 --log-file="$log" \
  "$python" - <<'PY'
import numpy as np
import optikern

rng = np.random.default_rng(0)
params = [rng.standard_normal(n).astype(np.float32) for n in (7, 1000, 33)]
for cls, kw in [(optikern.Adam, {"amsgrad": True}), (optikern.SGD, {"momentum": 0.9}),
                (optikern.RMSprop, {"centered": True}), (optikern.Adagrad, {})]:
    opt = cls(params, **kw, nonfinite="skip")
    for _ in range(50):
        opt.step([rng.standard_normal(p.shape).astype(np.float32) for p in params])
    try:
        opt.step([np.ones(3)] * 3)  # refused input: the error path too
    except (TypeError, ValueError):
        pass
optikern.clip_grad_norm_(params, 1.0)
PY
invalid=$(grep -c "Invalid read\|Invalid write\|uninitialised" "$log" || true)
ours=$(awk '/definitely lost in/{record=$0; keep=0} /_core/{keep=1} /^==[0-9]+== $/{if (keep && record) print record; record=""; keep=0}' "$log" | wc -l)
echo "valgrind log: $log"
echo "invalid accesses: $invalid; definitely-lost records through optikern._core: $ours"
[ "$invalid" -eq 0 ] && [ "$ours" -eq 0 ]
