#!/bin/sh
# devbench on a LAVA device: prepare, run the plan one payload invocation at a time, restore.
# POSIX sh and awk only: there is no python on the device.
#
# devbench/lava/testdef.py writes this file, devbench-mean.awk and devbench-probe.sh (devbench's
# own device probe) into the test definition's folder and calls, one run step each:
#   sh devbench-lava.sh start    WORKDIR PAYLOAD MAP_COUNT SYSFS PROCFS RUN_JSON
#   sh devbench-lava.sh scenario WORKDIR PAYLOAD INDEX CASE ARMS FORKS TIMEOUT_S PIN -- ARG...
#   sh devbench-lava.sh finish   WORKDIR PROCFS
# MAP_COUNT 0: leave vm.max_map_count alone. ARMS: both, unnamed or named. PIN: a taskset CPU
# list, or - for none.
#
# What devbench lava-results reads back from the job log starts with DEVBENCH- (the markers
# are listed in devbench/lava/markers.py). Each arm is reported as one LAVA test case:
#   lava-test-case CASE.ARM --result pass --measurement MEAN --units ms   all forks timed
#   lava-test-case CASE.ARM --result fail [--measurement MEAN --units ms] some or none
#   lava-test-case CASE.named --result skip                              kernel lacks anon VMA names
#   lava-test-case CASE.ARM.exit --result pass --measurement MEAN --units ms  the child's exits (exit_ns)
# A failed payload is a result, not a reason to stop: LAVA's run.sh runs under `set -e`, so
# this script exits 0 unless it is called wrongly.

here=$(dirname "$0")

usage() {
    echo "devbench-lava.sh: $1" >&2
    exit 2
}

number() {
    case $1 in
        '' | *[!0-9]*) echo null ;;
        *) echo "$1" ;;
    esac
}

prefix() {
    awk -v p="$1" '{ print p $0 }'
}

report_case() {
    if command -v lava-test-case >/dev/null 2>&1; then
        lava-test-case "$@"
    else
        echo "DEVBENCH-WARN lava-test-case is not on PATH (not inside a LAVA test shell): $*"
    fi
}

start() {
    [ $# -eq 6 ] || usage "start WORKDIR PAYLOAD MAP_COUNT SYSFS PROCFS RUN_JSON"
    workdir=$1 payload=$2 want=$3 sysfs=$4 procfs=$5
    mkdir -p "$workdir" || echo "DEVBENCH-WARN cannot create $workdir"
    printf 'DEVBENCH-RUN %s\n' "$6"
    sh "$here/devbench-probe.sh" "$sysfs" "$procfs" 2>/dev/null | prefix "DEVBENCH-PROBE "
    [ -x "$payload" ] || echo "DEVBENCH-WARN the payload $payload is missing or not executable"
    [ "$want" -gt 0 ] 2>/dev/null || return 0
    path=$procfs/sys/vm/max_map_count
    before=$(cat "$path" 2>/dev/null)
    case $before in
        '' | *[!0-9]*) return 0 ;;
    esac
    [ "$before" -lt "$want" ] || return 0
    echo "$before" >"$workdir/max_map_count.before"
    { echo "$want" >"$path"; } 2>/dev/null
    after=$(number "$(cat "$path" 2>/dev/null)")
    verified=false
    [ "$after" = "$want" ] && verified=true
    printf 'DEVBENCH-CHANGE {"setting":"vm.max_map_count","path":"%s","before":%s,"after":%s,"verified":%s,"why":"the payload needs %s maps"}\n' \
        "$path" "$before" "$after" "$verified" "$want"
}

scenario() {
    if [ $# -lt 9 ] || [ "$9" != "--" ]; then
        usage "scenario WORKDIR PAYLOAD INDEX CASE ARMS FORKS TIMEOUT_S PIN -- ARG..."
    fi
    workdir=$1 payload=$2 index=$3 case=$4 arms=$5 forks=$6 limit=$7 pin=$8
    shift 9
    out=$workdir/scenario-$index.jsonl
    err=$workdir/scenario-$index.stderr
    set -- "$payload" "$@"
    # taskset and timeout are used only where they take these options (old busybox ones do not)
    if [ "$pin" != "-" ]; then
        if taskset -c "$pin" true >/dev/null 2>&1; then
            set -- taskset -c "$pin" "$@"
        else
            echo "DEVBENCH-WARN not pinned to CPUs $pin: taskset -c is missing or refused them"
        fi
    fi
    if timeout -s KILL 60 true >/dev/null 2>&1; then
        set -- timeout -s KILL "$limit" "$@"
    else
        echo "DEVBENCH-WARN no time limit on the payload: timeout -s KILL is not available"
    fi
    echo "DEVBENCH-BEGIN $index"
    rc=0
    "$@" >"$out" 2>"$err" || rc=$?
    prefix "DEVBENCH-LINE $index " <"$out"
    tail -n 20 "$err" | prefix "DEVBENCH-STDERR $index "
    echo "DEVBENCH-END $index $rc $(awk 'END { print NR }' "$out")"
    means=$(awk -f "$here/devbench-mean.awk" "$out")
    [ "$arms" = both ] && arms="unnamed named"
    for arm in $arms; do
        line=$(printf '%s\n' "$means" | awk -v a="$arm" '$1 == a { print $2, $3, $4, $5 }')
        [ -n "$line" ] || line="0 - 0 -"
        # shellcheck disable=SC2086 # four words, split on purpose (the payload's arguments are no longer needed)
        set -- $line
        n=$1 mean=$2 xn=$3 xmean=$4
        if [ "$n" -eq 0 ]; then
            result=fail
            [ "$rc" -eq 3 ] && [ "$arm" = named ] && result=skip
            report_case "$case.$arm" --result "$result"
        elif [ "$n" -eq "$forks" ]; then
            report_case "$case.$arm" --result pass --measurement "$mean" --units ms
        else
            report_case "$case.$arm" --result fail --measurement "$mean" --units ms
        fi
        # the child's exit, timed on its own (exit_ns): reported beside the fork as CASE.ARM.exit
        if [ "$xn" -gt 0 ]; then
            result=pass
            [ "$xn" -eq "$forks" ] || result=fail
            report_case "$case.$arm.exit" --result "$result" --measurement "$xmean" --units ms
        fi
    done
}

finish() {
    [ $# -eq 2 ] || usage "finish WORKDIR PROCFS"
    saved=$1/max_map_count.before
    [ -f "$saved" ] || return 0
    before=$(cat "$saved")
    path=$2/sys/vm/max_map_count
    { echo "$before" >"$path"; } 2>/dev/null
    now=$(number "$(cat "$path" 2>/dev/null)")
    restored=false
    [ "$now" = "$before" ] && restored=true
    printf 'DEVBENCH-RESTORE {"setting":"vm.max_map_count","restored":%s,"restored_value":%s}\n' "$restored" "$now"
    rm -f "$saved"
    if [ "$restored" = true ]; then
        report_case devbench-restore --result pass
    else
        report_case devbench-restore --result fail
    fi
}

command=$1
[ $# -gt 0 ] && shift
case $command in
    start) start "$@" ;;
    scenario) scenario "$@" ;;
    finish) finish "$@" ;;
    *) usage "unknown command '$command' (start, scenario, finish)" ;;
esac
exit 0
