#!/bin/bash
# The attribution workload (tests/tools/attribution): short-lived programs act on files of MOUNT whose
# directory and name say which program acted, so that each event's true program is known.
# usage: workload.sh MOUNT WORK ITERATIONS
#   MOUNT: the watched tmpfs, laid out by New-AttributionLayout (its bin/tmpwriter is a copy of attrwriter).
#   WORK:  a directory on another filesystem holding attrwriter, statwriter (static), shscript and fifo.
# Prints the pid-reuse pairs of attrreuse, one JSON line each. This script itself opens nothing on MOUNT.
set -u
M=$1 W=$2 N=$3
for ((i = 0; i < N; i++)); do
    # bash writes w (a redirection of a builtin), forks mv, then execs rm in place of itself (same pid).
    bash -c "echo x > $M/bash/w.$i; mv $M/bash/w.$i $M/mv/m.$i; rm $M/mv/m.$i"
    # dash execs cat in place of itself.
    sh -c "cat $M/cat/r" > /dev/null
    cp "$M/cp/s" "$M/cp/c.$i"
    touch "$M/touch/t.$i"
    # A forked subshell that execs nothing: its program is bash, its parent the outer bash ($$ there).
    bash -c "(echo y > $M/sub/sub.$i.\$\$.\$BASHPID); true"
    # A #! script: its program is its interpreter (#!/bin/sh: dash), its comm the script's name.
    "$W/shscript" "$M/script/x.$i"
    "$W/statwriter" write "$M/static/f.$i"
    "$M/bin/tmpwriter" write "$M/ontmpfs/f.$i"
    # A program deleted while it runs: it waits on the fifo (opening our write end returns once it has opened
    # the read end, so it runs), its file is deleted, then it writes.
    cp "$W/attrwriter" "$W/delw.$i"
    "$W/delw.$i" wait "$M/deleted/f.$i" "$W/fifo" &
    exec 3> "$W/fifo"
    rm "$W/delw.$i"
    echo go >&3
    exec 3>&-
    wait $! || echo "delw.$i failed" >&2
    # Two processes with the same pid, one after the other (tee, then touch).
    "$W/attrreuse" "$M" "$i"
done
