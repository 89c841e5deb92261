# devbench-mean.awk: per arm, the timed forks and their mean in ms, from forkbench's JSON Lines,
# and the same for the child's exits (exit_ns, payload 2: release to waitpid return).
# Output: one line per arm, in the order the arms first appear: ARM FORKS MEAN_MS EXITS EXIT_MEAN_MS
# POSIX awk (mawk, busybox, gawk): no JSON parser. forkbench prints batch events in one fixed
# layout: {"event":"batch","batch":B,"arm":"A","warmup":W,"forks":K,"fork_ns":[T,...],...}
index($0, "{\"event\":\"batch\",") == 1 {
    if (!match($0, /"arm":"[a-z]+"/))
        next
    arm = substr($0, RSTART + 7, RLENGTH - 8)
    if (!match($0, /"fork_ns":\[[0-9,]*]/))
        next
    k = split(substr($0, RSTART + 11, RLENGTH - 12), ns, ",")
    if (!(arm in n)) {
        n[arm] = 0
        sum[arm] = 0
        order[++arms] = arm
    }
    for (i = 1; i <= k; i++) {
        sum[arm] += ns[i]
        n[arm]++
    }
    if (match($0, /"exit_ns":\[[0-9,]*]/)) {
        k = split(substr($0, RSTART + 11, RLENGTH - 12), ns, ",")
        for (i = 1; i <= k; i++) {
            xsum[arm] += ns[i]
            xn[arm]++
        }
    }
}
END {
    for (i = 1; i <= arms; i++) {
        a = order[i]
        if (n[a] > 0)
            printf "%s %d %.6f", a, n[a], sum[a] / n[a] / 1000000
        else
            printf "%s 0 -", a
        if (xn[a] > 0)
            printf " %d %.6f\n", xn[a], xsum[a] / xn[a] / 1000000
        else
            printf " 0 -\n"
    }
}
