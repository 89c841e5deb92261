#!/bin/sh
# devbench on a LAVA device: prepare, run the plan one payload invocation at a time, restore.
# POSIX sh and awk only: there is no python on the device.
#
# devbench/lava/testdef.py writes this file, devbench-mean.awk and devbench-probe.sh (devbench's
# own device probe) into the test definition's folder and calls, one run step each:
#   sh devbench-lava.sh start    WORKDIR PAYLOAD MAP_COUNT SYSFS PROCFS RUN_JSON [CPUFREQ [FRAMEWORK]]
#   sh devbench-lava.sh scenario WORKDIR PAYLOAD INDEX CASE ARMS FORKS TIMEOUT_S PIN [SHA256] -- ARG...
#   sh devbench-lava.sh finish   WORKDIR PROCFS [SYSFS]
# WORKDIR is not used as a folder: the work folder is a fresh private one, `mktemp -d WORKDIR.XXXXXX`
# (mode 0700), made by the install steps (which fetch and check the payload there) or else by
# start, and recorded in devbench.workdir beside this script (the test's own folder, made by LAVA
# for this job). Every command reads it from there and refuses it unless it is a folder (not a
# link) owned by this uid with mode 0700; finish removes it. PAYLOAD is a plain name inside that
# folder, or an absolute path already on the device. SHA256: the payload is checked against it
# right before each execution (a mismatch is not run: exit 126, one line on its stderr).
# MAP_COUNT 0: leave vm.max_map_count alone. CPUFREQ: GOVERNOR/KHZ/CPUS (KHZ: kHz, max, min or a
# fraction of the highest; CPUS: a comma list or - for every policy), or - to leave cpufreq
# alone. FRAMEWORK: 1 stops the Android framework (`stop`), 0 leaves it. finish restores in the
# reverse order: the framework (`start`, waits for sys.boot_completed), cpufreq, the map count. ARMS: both, unnamed or named. PIN: a taskset CPU
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
record=$here/devbench.workdir  # the private work folder's path (written by the install steps or start)

usage() {
    echo "devbench-lava.sh: $1" >&2
    exit 2
}

refuse() {  # why: the work folder is not devbench's own; nothing is read, written or run there
    echo "DEVBENCH-WARN work folder refused: $1"
    exit 0
}

workdir_of() {  # [TEMPLATE_PREFIX]: wd= the private work folder (made when there is none and a prefix is given), checked
    if [ ! -f "$record" ] && [ -n "${1:-}" ]; then
        mkdir -p "$(dirname "$1")" 2>/dev/null
        made=$(mktemp -d "$1.XXXXXX") || refuse "cannot make a private folder $1.XXXXXX"
        printf '%s\n' "$made" >"$record"
    fi
    [ -f "$record" ] || refuse "no private work folder ($record is missing: start did not make one)"
    IFS= read -r wd <"$record" || wd=
    case $wd in
        /*) ;;
        *) refuse "$record does not name an absolute folder" ;;
    esac
    if [ ! -d "$wd" ] || [ -h "$wd" ]; then
        refuse "$wd is not a folder (or is a link)"
    fi
    # shellcheck disable=SC2012,SC2046 # ls -ldn: the portable way to a folder's mode and owner (busybox, toybox), in words
    set -- $(ls -ldn "$wd" 2>/dev/null)
    case ${1:-} in
        drwx------ | drwx------.) ;;
        *) refuse "$wd has mode ${1:-unknown}, not drwx------" ;;
    esac
    [ "${3:-}" = "$(id -u)" ] || refuse "$wd is owned by uid ${3:-unknown}, not by this uid $(id -u)"
}

in_workdir() {  # WORKDIR PAYLOAD: a plain name is inside the work folder, an absolute path stays as it is
    case $2 in
        /*) echo "$2" ;;
        */* | '' | . | ..) usage "PAYLOAD must be a plain name (in the work folder) or an absolute path" ;;
        *) echo "$1/$2" ;;
    esac
}

# Run "$@" ($1: the payload) only if the payload's sha256 is still $want: checked right before exec
# shellcheck disable=SC2016 # expanded by the sh -c that runs it
VERIFIED='want=$1
shift
got=$(sha256sum "$1" 2>/dev/null || toybox sha256sum "$1" 2>/dev/null)
got=${got%% *}
if [ "$got" != "$want" ]; then
    echo "devbench: $1 does not match its checksum (sha256 ${got:-unreadable}): not run" >&2
    exit 126
fi
exec "$@"'

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

word() {  # a device value safe inside a JSON string (else ?)
    case $1 in
        '' | *[!A-Za-z0-9_.-]*) echo "?" ;;
        *) echo "$1" ;;
    esac
}

put() {  # FILE VALUE: write, ignoring errors (the read-back says whether it took)
    { echo "$2" >"$1"; } 2>/dev/null
}

change() {  # SETTING PATH BEFORE AFTER WANT WHY: one DEVBENCH-CHANGE line (values as JSON)
    verified=false
    [ "$4" = "$5" ] && verified=true
    printf 'DEVBENCH-CHANGE {"setting":"%s","path":"%s","before":%s,"after":%s,"verified":%s,"why":"%s"}\n' \
        "$1" "$2" "$3" "$4" "$verified" "$6"
}

restored() {  # SETTING WANT NOW(JSON)
    ok=false
    [ "$2" = "$3" ] && ok=true
    printf 'DEVBENCH-RESTORE {"setting":"%s","restored":%s,"restored_value":%s}\n' "$1" "$ok" "$3"
}

limits() {  # POLICY_DIR LO HI: set scaling_min/max_freq in the order that keeps min <= max
    cur=$(number "$(cat "$1/scaling_max_freq" 2>/dev/null)")
    if [ "$cur" != null ] && [ "$2" -gt "$cur" ]; then
        put "$1/scaling_max_freq" "$3"
        put "$1/scaling_min_freq" "$2"
    else
        put "$1/scaling_min_freq" "$2"
        put "$1/scaling_max_freq" "$3"
    fi
}

cpufreq_lock() {  # SPEC SYSFS WORKDIR
    gov=${1%%/*} rest=${1#*/}
    khz=${rest%%/*} cpus=${rest#*/}
    saved=$3/cpufreq.before
    found=0
    for p in "$2"/devices/system/cpu/cpufreq/policy*; do
        [ -f "$p/scaling_governor" ] || continue
        if [ "$cpus" != - ]; then
            hit=0
            for c in $(cat "$p/related_cpus" 2>/dev/null || cat "$p/affected_cpus" 2>/dev/null); do
                case ",$cpus," in *",$c,"*) hit=1 ;; esac
            done
            [ "$hit" = 1 ] || continue
        fi
        found=1
        name=${p##*/}
        avail=$(cat "$p/scaling_available_frequencies" 2>/dev/null)
        [ -n "$avail" ] || avail="$(cat "$p/cpuinfo_min_freq" 2>/dev/null) $(cat "$p/cpuinfo_max_freq" 2>/dev/null)"
        # the nearest available frequency to what was asked (max, min, a fraction of the highest, kHz)
        want=$(echo "$avail" | awk -v k="$khz" '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) f[++n] = $i + 0 }
            END { if (!n) exit; hi = f[1]; lo = f[1]
                  for (i = 2; i <= n; i++) { if (f[i] > hi) hi = f[i]; if (f[i] < lo) lo = f[i] }
                  t = (k == "max") ? hi : (k == "min") ? lo : (k ~ /\./) ? k * hi : k + 0
                  best = f[1]; for (i = 2; i <= n; i++) { d = f[i] - t; e = best - t
                      if ((d < 0 ? -d : d) < (e < 0 ? -e : e)) best = f[i] }
                  printf "%d\n", best }')
        g0=$(word "$(cat "$p/scaling_governor" 2>/dev/null)")
        lo0=$(number "$(cat "$p/scaling_min_freq" 2>/dev/null)")
        hi0=$(number "$(cat "$p/scaling_max_freq" 2>/dev/null)")
        if [ -z "$want" ] || [ "$lo0" = null ] || [ "$hi0" = null ]; then
            echo "DEVBENCH-WARN clocks not locked: $name has no readable frequencies"
            continue
        fi
        echo "$name $g0 $lo0 $hi0" >>"$saved"
        put "$p/scaling_governor" "$gov"
        limits "$p" "$want" "$want"
        [ "$gov" = userspace ] && [ -f "$p/scaling_setspeed" ] && put "$p/scaling_setspeed" "$want"
        g1=$(word "$(cat "$p/scaling_governor" 2>/dev/null)")
        change "cpufreq.$name.scaling_governor" "$p/scaling_governor" "\"$g0\"" "\"$g1\"" "\"$gov\"" "device.cpufreq.governor"
        for f in min max; do
            b=$lo0
            [ $f = max ] && b=$hi0
            change "cpufreq.$name.scaling_${f}_freq" "$p/scaling_${f}_freq" "$b" \
                "$(number "$(cat "$p/scaling_${f}_freq" 2>/dev/null)")" "$want" "$want kHz: the nearest available of $(printf '%s' "$avail" | tr -s '[:space:]' ' ') kHz (asked: $khz)"
        done
        if [ "$g1" != "$gov" ] || [ "$(cat "$p/scaling_min_freq" 2>/dev/null)" != "$want" ]; then
            echo "DEVBENCH-WARN clocks not locked: $name did not take governor $gov at $want kHz"
        fi
    done
    [ "$found" = 1 ] || echo "DEVBENCH-WARN cpufreq not available: frequency not locked"
}

cpufreq_restore() {  # SYSFS WORKDIR
    saved=$2/cpufreq.before
    [ -f "$saved" ] || return 0
    while read -r name g0 lo0 hi0; do
        # what is read back is checked before it becomes a path or a value: policyN, a word, kHz
        case $name in
            policy | policy*[!0-9]*) echo "DEVBENCH-WARN cpufreq.before: $(word "$name") is not a policy name: skipped"; continue ;;
            policy*) ;;
            *) echo "DEVBENCH-WARN cpufreq.before: $(word "$name") is not a policy name: skipped"; continue ;;
        esac
        if [ "$(word "$g0")" != "$g0" ] || [ "$(number "$lo0")" = null ] || [ "$(number "$hi0")" = null ]; then
            echo "DEVBENCH-WARN cpufreq.before: $name's saved values are not a governor and kHz: skipped"
            continue
        fi
        p=$1/devices/system/cpu/cpufreq/$name
        [ "$g0" = "?" ] || put "$p/scaling_governor" "$g0"
        limits "$p" "$lo0" "$hi0"
        restored "cpufreq.$name.scaling_governor" "\"$g0\"" "\"$(word "$(cat "$p/scaling_governor" 2>/dev/null)")\""
        restored "cpufreq.$name.scaling_min_freq" "$lo0" "$(number "$(cat "$p/scaling_min_freq" 2>/dev/null)")"
        restored "cpufreq.$name.scaling_max_freq" "$hi0" "$(number "$(cat "$p/scaling_max_freq" 2>/dev/null)")"
    done <"$saved"
    rm -f "$saved"
}

prop() {
    getprop "$1" 2>/dev/null | tr -d '\r'
}

framework_stop() {  # WORKDIR
    if [ -z "$(prop ro.build.version.sdk)" ]; then
        echo "DEVBENCH-WARN framework still running: not an Android device (no getprop), device.stop_framework does nothing"
        return 0
    fi
    before=$(word "$(prop init.svc.zygote)")
    stop 2>/dev/null
    i=0
    while [ "$(prop init.svc.zygote)" != stopped ] && [ "$i" -lt 60 ]; do
        sleep 1
        i=$((i + 1))
    done
    after=$(word "$(prop init.svc.zygote)")
    echo "$before" >"$1/framework.stopped"
    change framework init.svc.zygote "\"$before\"" "\"$after\"" '"stopped"' "device.stop_framework"
    [ "$after" = stopped ] || echo "DEVBENCH-WARN framework still running: zygote is $after after stop"
}

framework_start() {  # WORKDIR
    [ -f "$1/framework.stopped" ] || return 0
    start 2>/dev/null
    i=0
    while [ "$(prop sys.boot_completed)" != 1 ] && [ "$i" -lt 180 ]; do
        sleep 1
        i=$((i + 1))
    done
    restored framework '"1"' "\"$(word "$(prop sys.boot_completed)")\""
    rm -f "$1/framework.stopped"
}

start_run() {
    if [ $# -lt 6 ] || [ $# -gt 8 ]; then
        usage "start WORKDIR PAYLOAD MAP_COUNT SYSFS PROCFS RUN_JSON [CPUFREQ [FRAMEWORK]]"
    fi
    printf 'DEVBENCH-RUN %s\n' "$6"
    workdir_of "$1"
    payload=$(in_workdir "$wd" "$2") || exit 2
    workdir=$wd want=$3 sysfs=$4 procfs=$5 spec=${7:--} framework=${8:-0}
    sh "$here/devbench-probe.sh" "$sysfs" "$procfs" 2>/dev/null | prefix "DEVBENCH-PROBE "
    [ -x "$payload" ] || echo "DEVBENCH-WARN the payload $payload is missing or not executable"
    # the order of devbench's own preparation: framework, cpufreq, the map count
    [ "$framework" = 1 ] && framework_stop "$workdir"
    [ "$spec" = - ] || cpufreq_lock "$spec" "$sysfs" "$workdir"
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
    sha=
    if [ $# -ge 10 ] && [ "${10}" = "--" ]; then
        sha=$9
    elif [ $# -lt 9 ] || [ "$9" != "--" ]; then
        usage "scenario WORKDIR PAYLOAD INDEX CASE ARMS FORKS TIMEOUT_S PIN [SHA256] -- ARG..."
    fi
    workdir_of
    payload=$(in_workdir "$wd" "$2") || exit 2
    workdir=$wd index=$3 case=$4 arms=$5 forks=$6 limit=$7 pin=$8
    case $index in
        '' | *[!0-9]*) usage "scenario: INDEX must be a number" ;;
    esac
    shift 9
    [ -n "$sha" ] && shift
    out=$workdir/scenario-$index.jsonl
    err=$workdir/scenario-$index.stderr
    set -- "$payload" "$@"
    [ -n "$sha" ] && set -- sh -c "$VERIFIED" sh "$sha" "$@"
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
    if [ $# -lt 2 ] || [ $# -gt 3 ]; then
        usage "finish WORKDIR PROCFS [SYSFS]"
    fi
    workdir_of
    framework_start "$wd"
    [ $# -eq 3 ] && cpufreq_restore "$3" "$wd"
    restore_map_count "$wd" "$2"
    rm -rf "$wd" && rm -f "$record"
}

restore_map_count() {  # WORKDIR PROCFS
    saved=$1/max_map_count.before
    [ -f "$saved" ] || return 0
    before=$(number "$(cat "$saved")")
    rm -f "$saved"
    if [ "$before" = null ]; then
        echo "DEVBENCH-WARN max_map_count.before is not a number: vm.max_map_count not restored"
        return 0
    fi
    path=$2/sys/vm/max_map_count
    { echo "$before" >"$path"; } 2>/dev/null
    now=$(number "$(cat "$path" 2>/dev/null)")
    restored=false
    [ "$now" = "$before" ] && restored=true
    printf 'DEVBENCH-RESTORE {"setting":"vm.max_map_count","restored":%s,"restored_value":%s}\n' "$restored" "$now"
    if [ "$restored" = true ]; then
        report_case devbench-restore --result pass
    else
        report_case devbench-restore --result fail
    fi
}

command=$1
[ $# -gt 0 ] && shift
case $command in
    start) start_run "$@" ;;
    scenario) scenario "$@" ;;
    finish) finish "$@" ;;
    *) usage "unknown command '$command' (start, scenario, finish)" ;;
esac
exit 0
