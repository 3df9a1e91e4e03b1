#!/usr/bin/env bash
# docs/slurm-array.sh and docs/slurm-segments.sh under a real Slurm: a one-node cluster on localhost (munged, slurmctld,
# slurmd), started from a temporary folder and stopped again, whatever happens.
#  1. installs Debian's slurm-wlm and munge when they are missing (apt-get)
#  2. starts the cluster: key, slurm.conf, state, spool, logs and pid files in the temporary
#     folder, free ports, nothing written to /etc; clients find it through SLURM_CONF
#  3. a 3-task array (--array=0-2, VSTYLE_SHARD_COUNT=3) over 5 generated clips with
#     tests/data/invert.onnx: every task COMPLETED, every input has an output with as many
#     frames, the task reports hold every file exactly once, in the shard the docs promise
#  4. the same array again: every file reported skipped, the outputs untouched
#  5. --array=0-2 without VSTYLE_SHARD_COUNT (the script's layout is 8): every task refuses
#  6. a fresh run into another folder whose task 1 is cancelled (scancel JOB_1) once its first
#     clip is finished and while its second, long one is stylized; then task 1 alone is
#     resubmitted (--array=1): it skips the finished clip and completes the long one
#  7. docs/slurm-segments.sh over one clip with audio in 3 parts: the array's tasks make the
#     parts, the join job (--dependency=afterok) joins them: as many frames, the audio, no part
#     left
# It exits 0 only when every check passes; otherwise it says which failed and prints the tails
# of the daemons' logs. Afterwards no process it started is left running.
#
#   scripts/slurm_e2e.sh          # from anywhere; needs target/release/vstyle (scripts/setup.sh)
#   VSTYLE=path/to/vstyle KEEP=1 scripts/slurm_e2e.sh   # another binary; KEEP=1 keeps the folder
#
# Runs as root, through sudo when started by another user (vstyle then still finds the ONNX
# Runtime library in that user's data folder): slurmd runs as root, as on a real node. Uses
# ffmpeg, ffprobe and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

t0=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
say() { echo "slurm_e2e: $*"; }
fail() { echo "slurm_e2e: FAILED: $*" >&2; exit 1; }

bin=${VSTYLE:-target/release/vstyle}
[ -x "$bin" ] || fail "$bin missing (scripts/setup.sh builds it)"
bin=$(realpath "$bin")
model=$repo/tests/data/invert.onnx
for c in ffmpeg ffprobe python3; do
  command -v "$c" >/dev/null || fail "$c missing"
done
# slurmd runs as root, as on a real node: it starts each job as the user who submitted it.
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || fail "needs root (slurmd runs as root) and there is no sudo"
  exec sudo --preserve-env env "XDG_DATA_HOME=${XDG_DATA_HOME:-$HOME/.local/share}" \
    "VSTYLE=$bin" bash "$repo/scripts/slurm_e2e.sh" "$@"
fi

# 1. Packages.
t=$(date +%s.%N)
missing=()
for p in slurm-wlm munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
t_install=$(elapsed "$t")

# Nothing from a surrounding Slurm job or shell may leak into the test's jobs.
while read -r v; do unset "$v"; done < <(env | sed -n 's/^\(SLURM_[A-Z_]*\|SBATCH_[A-Z_]*\|VSTYLE_[A-Z_]*\)=.*/\1/p')

tmp=$(mktemp -d)
# munged refuses a socket in a folder that others cannot traverse.
chmod 755 "$tmp"
mkdir -p "$tmp/munge" "$tmp/munge/key" "$tmp/state" "$tmp/spool" "$tmp/log" "$tmp/jobs"
chmod 700 "$tmp/munge/key"
conf=$tmp/slurm.conf
export SLURM_CONF=$conf
daemon_pids=()
summary=""

# The processes this script started: their command line or environment names the temporary
# folder (the daemons' options, SLURM_CONF of slurmd, slurmstepd and every job's processes).
leftovers() {
  local d
  for d in /proc/[0-9]*; do
    [ "${d#/proc/}" = "$$" ] && continue
    if grep -qsF -- "$tmp" "$d/cmdline" "$d/environ"; then echo "${d#/proc/}"; fi
  done
}

logs_tail() {
  local f
  for f in "$tmp"/log/slurmctld.log "$tmp"/log/slurmd.log "$tmp"/munge/munged.log "$tmp"/jobs/*.log; do
    [ -f "$f" ] || continue
    echo "---- tail of ${f#"$tmp"/}" >&2
    tail -n 15 "$f" >&2
  done
}

cleanup() {
  local rc=$? pid left i
  trap - EXIT INT TERM
  set +e
  if ((rc == 130)); then
    echo "slurm_e2e: interrupted, stopping the cluster" >&2
  elif ((rc != 0)); then
    logs_tail
  fi
  # Jobs first, while slurmctld and slurmd can still end them.
  if [ -s "$tmp/slurmctld.pid" ] && kill -0 "$(cat "$tmp/slurmctld.pid")" 2>/dev/null; then
    timeout 10 scancel --quiet --user="$(id -un)" 2>/dev/null
    for ((i = 0; i < 40; i++)); do
      [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.25
    done
  fi
  for pid in "${daemon_pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${daemon_pids[@]}"; do
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  done
  unset SLURM_CONF
  left=$(leftovers)
  if [ -n "$left" ]; then
    echo "slurm_e2e: FAILED: still running after the daemons stopped (killed now):" >&2
    ps -o pid,args -p "${left//$'\n'/,}" >&2
    # shellcheck disable=SC2086
    kill -9 $left 2>/dev/null
    sleep 0.5
    rc=1
  fi
  left=$(leftovers)
  if [ -n "$left" ]; then
    echo "slurm_e2e: FAILED: processes left running: $left" >&2
    rc=1
  fi
  if [ -n "${KEEP:-}" ]; then
    say "kept $tmp"
  else
    rm -rf "$tmp"
  fi
  ((rc != 0)) || say "passed, nothing left running: $summary"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 2. The cluster.
t=$(date +%s.%N)
read -r ctld_port slurmd_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
# "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105"
node_line=$(slurmd -C | head -n 1)
node=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' <<<"$node_line")
[ -n "$node" ] || fail "slurmd -C printed no node line: $node_line"

mungekey --create --keyfile="$tmp/munge/key/munge.key" --force
munged --key-file="$tmp/munge/key/munge.key" --socket="$tmp/munge/munge.socket" \
  --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munge/munged.log" \
  --seed-file="$tmp/munge/munged.seed" || fail "munged did not start"
daemon_pids+=("$(cat "$tmp/munge/munged.pid")")
munge -n -S "$tmp/munge/munge.socket" | unmunge -S "$tmp/munge/munge.socket" >/dev/null \
  || fail "munge cannot encode and decode a credential"

cat >"$conf" <<EOF
ClusterName=vstyle-e2e
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/munge.socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No systemd, no cgroups: processes are tracked through /proc, tasks are not bound.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
# Finished jobs stay visible to scontrol for the checks.
MinJobAge=600
KillWait=10
Waittime=0
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=e2e Nodes=$node Default=YES MaxTime=30 State=UP
EOF

# started NAME: its pid, once the daemon has written its pid file
started() {
  local i
  for ((i = 0; ; i++)); do
    [ -s "$tmp/$1.pid" ] && break
    ((i < 40)) || fail "$1 wrote no pid file within 10 s"
    sleep 0.25
  done
  daemon_pids+=("$(cat "$tmp/$1.pid")")
}
slurmctld -f "$conf" -i || fail "slurmctld did not start"
started slurmctld
slurmd -f "$conf" -N "$node" || fail "slurmd did not start"
started slurmd
for ((i = 0; ; i++)); do
  state=$(sinfo -h -n "$node" -o %t 2>/dev/null || true)
  [ "$state" = idle ] && break
  ((i < 120)) || fail "node $node is '${state:-not answering}' after 30 s, not idle"
  sleep 0.25
done
t_cluster=$(elapsed "$t")
say "cluster up in $t_cluster s: ${node_line%% Boards*}, ports $ctld_port/$slurmd_port"

# Clips. Sorted by path, job i belongs to shard i mod 3: shard 0 = a, d/d; 1 = b, e; 2 = c.
# e is long (about 10 s on one core) so that task 1 can be cancelled while it runs.
videos=$tmp/videos
mkdir -p "$videos/d"
clip() { # NAME SIZE FRAMES [AUDIO]
  local audio=()
  [ -n "${4:-}" ] && audio=(-f lavfi -i "sine=frequency=440" -shortest -c:a aac)
  ffmpeg -nostdin -loglevel error -f lavfi -i "testsrc2=size=$2:rate=25" "${audio[@]}" \
    -frames:v "$3" -pix_fmt yuv420p -c:v libx264 -preset ultrafast "$videos/$1"
}
clip a.mp4 64x48 10
clip b.mp4 64x48 12
clip c.mp4 96x64 15 audio
clip d/d.mp4 64x48 8
clip e.mp4 640x360 500
inputs=(a.mp4 b.mp4 c.mp4 d/d.mp4 e.mp4)

frames() { ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$1"; }
declare -A in_frames
for f in "${inputs[@]}"; do
  in_frames[$f]=$(frames "$videos/$f") || fail "ffprobe cannot read the generated $f"
done

# submit OUT_DIR ARRAY [COUNT]: the job id. VSTYLE_SHARD_COUNT=COUNT (3 by default; "" leaves it
# unset) and VSTYLE reach the tasks through sbatch's environment, as the script's header says.
submit() {
  local vars=("VSTYLE=$bin")
  [ -z "${3-3}" ] || vars+=("VSTYLE_SHARD_COUNT=${3-3}")
  env "${vars[@]}" sbatch --parsable --array="$2" --cpus-per-task=1 --mem=512M --time=5 \
    --output="$tmp/jobs/vstyle-%A_%a.log" docs/slurm-array.sh "$videos" "$1" "$model" | cut -d';' -f1
}

# wait_job ID SECONDS: until no task of the job is pending, running or completing
wait_job() {
  local i
  for ((i = 0; i < $2 * 4; i++)); do
    [ -z "$(squeue -h -j "$1" -o %i 2>/dev/null)" ] && return 0
    sleep 0.25
  done
  fail "job $1 still running after $2 s: $(squeue -h -j "$1" -o '%i %T %r' | tr '\n' ' ')"
}

# task_states ID: "TASK STATE EXITCODE" per array task
task_states() {
  scontrol -o show job "$1" | sed -n 's/.* ArrayTaskId=\([^ ]*\) .* JobState=\([^ ]*\) .* ExitCode=\([^ ]*\) .*/\1 \2 \3/p' | sort -n
}

# expect_states ID "0 COMPLETED 0:0" ...: the array's tasks, exactly
expect_states() {
  local id=$1 got want
  shift
  got=$(task_states "$id")
  want=$(printf '%s\n' "$@")
  [ "$got" = "$want" ] || fail "job $id: tasks ended as
$got
instead of
$want"
}

# check_outputs OUT_DIR: every input has a whole output with as many frames, no temporary left
check_outputs() {
  local f n partial
  for f in "${inputs[@]}"; do
    [ -f "$1/$f" ] || fail "no output for $f in ${1#"$tmp"/}"
    n=$(frames "$1/$f") || fail "ffprobe cannot read ${1#"$tmp"/}/$f"
    [ "$n" = "${in_frames[$f]}" ] || fail "${1#"$tmp"/}/$f has $n frames, its input ${in_frames[$f]}"
  done
  [ "$(ffprobe -v error -select_streams a -show_entries stream=codec_type -of csv=p=0 "$1/c.mp4")" = audio ] \
    || fail "${1#"$tmp"/}/c.mp4 lost its audio"
  partial=$(find "$1" -name '*.partial*')
  [ -z "$partial" ] || fail "temporary outputs left: $partial"
}

# check_reports OUT_DIR TASKS EXPECT...: the reports of the given tasks parse, name shard TASK/3,
# list the files of that shard (the sorted inputs' i mod 3) once each, with the statuses EXPECT
# gives (FILE=STATUS, or STATUS for all)
check_reports() {
  python3 - "$videos" "$@" <<'PY'
import json, os, sys
videos, out, tasks, expect = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4:]
inputs = sorted(os.path.relpath(os.path.join(d, f), videos)
                for d, _, fs in os.walk(videos) for f in fs)
default = next((e for e in expect if "=" not in e), None)
want_status = {f: default for f in inputs}
want_status.update(e.split("=", 1) for e in expect if "=" in e)
errors, seen = [], {}
for t in tasks:
    path = os.path.join(out, f"report-{t}.json")
    try:
        with open(path) as fh:
            report = json.load(fh)
    except (OSError, ValueError) as e:
        errors.append(f"report-{t}.json: {e}")
        continue
    if report.get("shard") != {"index": int(t), "count": 3}:
        errors.append(f"report-{t}.json: shard {report.get('shard')}, not {t}/3")
    listed = []
    for entry in report["files"]:
        f = os.path.relpath(entry["input"], videos)
        listed.append(f)
        seen.setdefault(f, []).append(t)
        if os.path.realpath(entry["output"]) != os.path.realpath(os.path.join(out, f)):
            errors.append(f"report-{t}.json: {f} written to {entry['output']}")
        if entry["status"] != want_status.get(f):
            errors.append(f"report-{t}.json: {f} is {entry['status']}, not {want_status.get(f)}")
    shard = [f for i, f in enumerate(inputs) if i % 3 == int(t)]
    if listed != shard:
        errors.append(f"report-{t}.json lists {listed}, shard {t}/3 of the sorted inputs is {shard}")
for f, ts in seen.items():
    if len(ts) > 1:
        errors.append(f"{f} is in the reports of tasks {ts}")
if len(tasks) == 3:
    for f in inputs:
        if f not in seen:
            errors.append(f"{f} is in no report")
for e in errors:
    print("slurm_e2e: FAILED:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
}

sums() { (cd "$1" && find . -name '*.mp4' -type f | sort | xargs md5sum); }

# 3. The whole folder.
t=$(date +%s.%N)
out1=$tmp/styled
job=$(submit "$out1" 0-2) || fail "sbatch refused the array"
wait_job "$job" 120
expect_states "$job" "0 COMPLETED 0:0" "1 COMPLETED 0:0" "2 COMPLETED 0:0"
check_outputs "$out1"
check_reports "$out1" 0,1,2 "done" || fail "reports of the first run"
t_array=$(elapsed "$t")
say "array 0-2 ($job): 3 tasks COMPLETED, 5 outputs with their inputs' frame counts, 3 reports with each file once ($t_array s)"

# 4. The same again: nothing to do.
t=$(date +%s.%N)
before=$(sums "$out1")
job=$(submit "$out1" 0-2) || fail "sbatch refused the array"
wait_job "$job" 60
expect_states "$job" "0 COMPLETED 0:0" "1 COMPLETED 0:0" "2 COMPLETED 0:0"
check_reports "$out1" 0,1,2 skipped || fail "reports of the re-run"
[ "$(sums "$out1")" = "$before" ] || fail "the re-run changed finished outputs"
say "array 0-2 again ($job): every file skipped, outputs untouched ($(elapsed "$t") s)"

# 5. --array=0-2 on the command line without VSTYLE_SHARD_COUNT: the script's layout of 8 would
# leave shards 3-7 undone, so every task refuses to start.
t=$(date +%s.%N)
job=$(submit "$tmp/styled0" 0-2 "") || fail "sbatch refused the array"
wait_job "$job" 60
expect_states "$job" "0 FAILED 2:0" "1 FAILED 2:0" "2 FAILED 2:0"
for i in 0 1 2; do
  grep -q 'error: this array is 0-2, but the layout has 8 shards' "$tmp/jobs/vstyle-${job}_$i.log" \
    || fail "task $i of job $job does not say why it refused"
done
[ ! -e "$tmp/styled0" ] || fail "the refused tasks wrote into their output folder"
say "array 0-2 without VSTYLE_SHARD_COUNT ($job): every task refused, exit 2 ($(elapsed "$t") s)"

# 6. Task 1 cancelled half-way, then resubmitted alone.
t=$(date +%s.%N)
out2=$tmp/styled2
job=$(submit "$out2" 0-2) || fail "sbatch refused the array"
for ((i = 0; ; i++)); do
  [ -f "$out2/b.mp4" ] && break
  ((i < 240)) || fail "task 1 wrote no b.mp4 within 60 s"
  sleep 0.25
done
scancel "${job}_1"
wait_job "$job" 60
[ ! -e "$out2/e.mp4" ] || fail "task 1 finished e.mp4 before scancel reached it (the clip is too short for this machine)"
expect_states "$job" "0 COMPLETED 0:0" "1 CANCELLED 130:0" "2 COMPLETED 0:0"
partial=$(find "$out2" -name '*.partial*')
[ -z "$partial" ] || fail "the cancelled task left temporary outputs: $partial"
check_reports "$out2" 1 b.mp4=done e.mp4=interrupted || fail "the cancelled task's report"
cancelled=$job
job=$(submit "$out2" 1) || fail "sbatch refused task 1"
wait_job "$job" 120
expect_states "$job" "1 COMPLETED 0:0"
check_reports "$out2" 1 b.mp4=skipped e.mp4=done || fail "report of the resubmitted task"
grep -q 'skipping 1 file(s) already done' "$tmp/jobs/vstyle-${job}_1.log" \
  || fail "the resubmitted task's log does not say it skipped the finished clip"
check_outputs "$out2"
say "array 0-2 ($cancelled) with task 1 cancelled during e.mp4, then --array=1 ($job): b.mp4 skipped, e.mp4 done, all outputs whole ($(elapsed "$t") s)"

# 7. One video in parts: docs/slurm-segments.sh submits an array over its 3 parts and a join job
# that waits for them (--dependency=afterok); the joined output has the input's frames and
# audio, and no part is left.
t=$(date +%s.%N)
seg=$tmp/segments
mkdir -p "$seg"
ffmpeg -nostdin -loglevel error -f lavfi -i "testsrc2=size=96x64:rate=25" -f lavfi -i "sine=frequency=440" \
  -frames:v 60 -g 10 -pix_fmt yuv420p -c:v libx264 -preset ultrafast -c:a aac -shortest "$seg/film.mp4"
said=$(cd "$tmp/jobs" && env VSTYLE="$bin" SEGMENTS=3 SBATCH_ARGS="--cpus-per-task=1 --mem=512M --time=5" \
  bash "$repo/docs/slurm-segments.sh" \
  "$seg/film.mp4" "$seg/styled.mp4" "$model") || fail "docs/slurm-segments.sh did not submit: $said"
parts=$(sed -n 's/^parts: job \([0-9]*\).*/\1/p' <<< "$said")
joined=$(sed -n 's/.*join: job \([0-9]*\).*/\1/p' <<< "$said")
[ -n "$parts" ] && [ -n "$joined" ] || fail "no job ids in: $said"
wait_job "$parts" 120
wait_job "$joined" 60
expect_states "$parts" "0 COMPLETED 0:0" "1 COMPLETED 0:0" "2 COMPLETED 0:0"
state=$(scontrol -o show job "$joined" | grep -o 'JobState=[A-Z_]*')
[ "$state" = JobState=COMPLETED ] || fail "the join job ended as $state"
[ -f "$seg/styled.mp4" ] || fail "the join wrote no output"
n=$(frames "$seg/styled.mp4") || fail "ffprobe cannot read the joined output"
[ "$n" = "$(frames "$seg/film.mp4")" ] || fail "the joined output has $n frames, its input $(frames "$seg/film.mp4")"
[ "$(ffprobe -v error -select_streams a -show_entries stream=codec_type -of csv=p=0 "$seg/styled.mp4")" = audio ] \
  || fail "the joined output lost its audio"
left=$(find "$seg" -name '*.part-*' -o -name '*.partial*')
[ -z "$left" ] || fail "parts left after the join: $left"
grep -q 'joined from 3 part(s)' "$tmp/jobs/vstyle-join-$joined.log" || fail "the join's log does not say it joined 3 parts"
say "one video in 3 parts: array $parts COMPLETED, join $joined after it (afterok): $n frames with audio, no part left ($(elapsed "$t") s)"

summary="packages $t_install s, cluster $t_cluster s, first array $t_array s, total $(elapsed "$t0") s"
