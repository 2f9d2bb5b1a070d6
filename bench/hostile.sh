#!/usr/bin/env bash
# Runs the hostile inputs of issue 13 ("resources and crashes", malformed payloads) through a
# nomad-spec binary and prints, per case, its exit code, wall time, peak memory (from
# `/usr/bin/time -v`) and output size. See bench/README.md ("Hostile input").
#
#   bench/hostile.sh [BINARY]     # default: target/release/nomad-spec (build it first)
#
# Every case runs under a ceiling so that an old binary cannot take the machine down: at most
# 8 GiB of address space (`prlimit --as`; going over it aborts the process, exit 134) and 30 s
# (`timeout`; exit 124). A case that hits one says so: the real cost is higher.
set -euo pipefail

cd "$(dirname "$0")/.."
bin="$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/nomad-spec}")"
corpus="${NOMAD_SPEC_CORPUS:-$(realpath ../shared/corpus 2>/dev/null || echo /work/shared/corpus)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

nested() { # LEVELS: ${A:- LEVELS times, x, } LEVELS times
  printf 'services:\n  web:\n    image: nginx:1.27\n    environment:\n      B: "'
  for _ in $(seq "$1"); do printf '${A:-'; done
  printf x
  for _ in $(seq "$1"); do printf '}'; done
  printf '"\n'
}
mkdir -p "$work/compose20k" "$work/compose50k" "$work/expose" "$work/small" "$work/fifo"
nested 20000 >"$work/compose20k/compose.yaml"
nested 50000 >"$work/compose50k/compose.yaml"
printf 'FROM nginx:1.27\nEXPOSE %s\n' "$(seq -s ' ' 1 10000)" >"$work/expose/Dockerfile"
printf 'FROM nginx:1.27\nEXPOSE 80\n' >"$work/small/Dockerfile"
cat >"$work/bomb.nomad.hcl" <<'EOF'
locals {
  pad = [for i in range(1000) : [for j in range(1000) : format("%04096d", j)]]
}

job "bomb" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "docker"
      config {
        image = "nginx:1.27"
      }
      env {
        N = length(local.pad)
      }
    }
  }
}
EOF
mkdir -p "$work/reads"
printf 'FROM node:20\nCOPY . .\nCMD ["node", "index0.js"]\n' >"$work/reads/Dockerfile"
printf '{"name": "web", "dependencies": {"express": "4"}}\n' >"$work/reads/package.json"
for f in 0 1 2 3; do # 20,000 env reads and listen ports, in files under the 1 MiB file bound
  for i in $(seq $((f * 5000 + 1)) $((f * 5000 + 5000))); do
    printf 'const v%s = process.env.VAR_%s || "x";\napp.listen(%s);\n' "$i" "$i" "$((i + 1000))"
  done >"$work/reads/index$f.js"
done
mkfifo "$work/fifo/a-fifo"
cat >"$work/fifo/web.nomad.hcl" <<'EOF'
job "web" {
  datacenters = ["dc1"]
  group "web" {
    task "web" {
      driver = "docker"
      config {
        image = "nginx:1.27"
        args  = [file("a-fifo")]
      }
    }
  }
}
EOF
payload="$corpus/github-events/pull_request/opened.payload.json"
head -c 2000 "$payload" >"$work/truncated.json"

run() { # NAME DIR ENV... -- ARGS...
  local name="$1" dir="$2" env=()
  shift 2
  while [ "$1" != "--" ]; do env+=("$1"); shift; done
  shift
  set +e
  (cd "$dir" && env "${env[@]}" /usr/bin/time -v -o "$work/time.txt" \
    prlimit --as=$((8 << 30)) timeout 30 "$bin" "$@" >"$work/out" 2>"$work/err" </dev/null)
  local code=$?
  set -e
  local wall peak
  wall="$(grep 'Elapsed (wall clock)' "$work/time.txt" 2>/dev/null | awk '{print $NF}')"
  peak="$(grep 'Maximum resident set size' "$work/time.txt" 2>/dev/null | awk '{print $NF}')"
  printf '| %s | %s | %s | %s MB | %s B out, %s B err |\n' "$name" "$code" "${wall:-?}" \
    "$(( ${peak:-0} / 1024 ))" "$(wc -c <"$work/out")" "$(wc -c <"$work/err")"
}

ci=(GITHUB_ACTIONS=true GITHUB_EVENT_NAME=pull_request GITHUB_REPOSITORY=octo-org/octo-repo)
echo "| case | exit | wall | peak RSS | output |"
echo "|---|---:|---:|---:|---|"
run "analyze, compose value nested 20,000 deep" "$work/compose20k" -- analyze --path .
run "analyze, compose value nested 50,000 deep" "$work/compose50k" -- analyze --path .
run "ci --dry-run, the 20,000 one in the pull request" "$work/compose20k" "${ci[@]}" \
  "GITHUB_EVENT_PATH=$payload" -- ci --dry-run --path .
run "parse, the format() bomb" "$work" -- parse bomb.nomad.hcl
run "validate, the format() bomb" "$work" -- validate bomb.nomad.hcl
run "analyze, EXPOSE 1 ... 10000" "$work/expose" -- analyze --path .
run "generate, EXPOSE 1 ... 10000" "$work/expose" -- generate --path . --no-questions -o -
run "generate, code reading 20,000 env vars and ports" "$work/reads" -- generate --path . \
  --no-questions -o -
run "parse /dev/zero" "$work" -- parse /dev/zero
run "fmt /dev/zero" "$work" -- fmt /dev/zero
run "validate /dev/zero" "$work" -- validate /dev/zero
run "generate --answers /dev/zero" "$work/small" -- generate --path . --no-questions \
  --answers /dev/zero -o -
run "parse, file(\"a-fifo\") in the job" "$work/fifo" -- parse web.nomad.hcl
run "ci, a payload cut at 2,000 bytes" "$work/small" "${ci[@]}" \
  "GITHUB_EVENT_PATH=$work/truncated.json" -- ci
run "ci --dry-run, a payload cut at 2,000 bytes" "$work/small" "${ci[@]}" \
  "GITHUB_EVENT_PATH=$work/truncated.json" -- ci --dry-run --path .
