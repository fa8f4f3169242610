#!/bin/bash
# The attribution load workload (issue 19; tests/Pester/AttributionLoad.Tests.ps1). Short-lived programs act on
# files whose directory and name say which process life acted, and every life writes its ground truth before it
# runs its program: pid, start time (field 22 of /proc/PID/stat: with the pid, one life), the uid it runs as, its
# login uid, audit session and cgroup v2 path. Two copies run at once, each in its own directory DIR.
#
# usage: loadworkload.sh layout DIR ITERATIONS EXECS
#          makes DIR's directories and the files the workload reads or edits (before any watch starts)
#        loadworkload.sh run DIR WORK ITERATIONS EXECS TRUTH CGROUP LOGINUID PARENTUID USERUID
#          EXECS: how many exec lives (below) an iteration runs: that case's failure is the rarest;
#          DIR: the copy's directory on the watched tmpfs; WORK: on another filesystem, holds attrreuse and the
#          release file; TRUTH: the ground-truth file (appended to); CGROUP: a cgroup v2 directory for the
#          long-lived parent ('-': none); LOGINUID: the login uid the parent sets ('-': none; it can be set only
#          where unset); PARENTUID: the uid one of the parent's children runs as; USERUID: the same for a host
#          child. The parent lingers after its children until WORK/release.NAME exists (NAME: DIR's last part),
#          so that it still runs when the watcher reads its children's events; at most LINGER seconds (120).
#
# Truth lines: "L CASE I PID START UID LOGINUID SESSIONID CGROUP" per life ("L main 0 ..." is this script, whose
# facts attrreuse's children inherit); attrreuse's JSON pairs (with start times); "D main" and "D parent" when the
# main loop and the parent's children are done.
# Lives and files (DIR/...):
#   exec J       bash -c "echo e > exec/e.J; cat exec/r.J": bash writes e.J, then execs cat (same pid) for r.J;
#                EXECS times an iteration (J = I * EXECS + K)
#   reuse-*      attrreuse: tee, then touch on the same pid (ns_last_pid), reuse-tee/tee.I.PID, reuse-touch/touch.I.PID
#   user-u I     touch user/u.I as USERUID (setpriv)          user-r I   cat user/r.I as 65534 (setpriv)
#   login-t I    touch login/t.I, a child of the parent       login-u I  touch login/u.I as PARENTUID
#   login-r I    cat login/r.I as 65534: the parent's children, gone when read, in its cgroup and login
#   tree-sh I    one bash writes tree/f.I.1, f.I.2, f.I.3 (builtins, no fork)
#   tree-vim I   vim (/usr/bin/vim -> vim.basic) edits tree/v.I: swap files, a backup by rename, a new v.I (even I)
#   tree-sed I   sed -i edits tree/s.I: a temporary sedXXXXXX renamed onto s.I
set -u
shopt -s nullglob

if [ "$1" = layout ]; then
    D=$2 N=$3 EXECS=$4
    mkdir -p "$D"/{exec,reuse-tee,reuse-touch,user,login,tree}
    chmod 1777 "$D/user" "$D/login"
    for ((j = 0; j < N * EXECS; j++)); do echo r > "$D/exec/r.$j"; done
    for ((i = 0; i < N; i++)); do
        echo r > "$D/user/r.$i"; echo r > "$D/login/r.$i"
        echo x > "$D/tree/v.$i"; echo x > "$D/tree/s.$i"
    done
    exit 0
fi

[ "$1" = run ] || { echo "usage: $0 layout|run ..." >&2; exit 2; }
D=$2 W=$3 N=$4 EXECS=$5 TRUTH=$6 CGROUP=$7 LOGINUID=$8 PARENTUID=$9 USERUID=${10}
LINGER=120
exec 3>>"$TRUTH"

# The truth of the shell that runs it, for bash -c strings: $$ is that shell; reads are builtins (no fork).
T='read -r -a s < /proc/$$/stat; read -r l < /proc/$$/loginuid; read -r e < /proc/$$/sessionid; cg=-; while read -r x; do [[ $x == 0::* ]] && cg=${x#0::}; done < /proc/$$/cgroup;'

# life CASE I UID PROGRAM ARGS...: a forked subshell writes its truth, then execs PROGRAM (under setpriv when UID
# is not 0): same pid, same start time. stdout goes to /dev/null; fd 3 is closed before the exec.
life() {
    local case=$1 i=$2 uid=$3
    shift 3
    (
        read -r -a s < /proc/self/stat
        read -r l < /proc/self/loginuid
        read -r e < /proc/self/sessionid
        cg=-
        while read -r x; do [[ $x == 0::* ]] && cg=${x#0::}; done < /proc/self/cgroup
        echo "L $case $i $BASHPID ${s[21]} $uid $l $e $cg" >&3
        exec 3>&-
        if [ "$uid" = 0 ]; then exec "$@"; fi
        exec setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"
    ) > /dev/null
}

# The long-lived parent: in the container's cgroup, with a login uid, it runs short-lived children, then lingers.
parent() {
    if [ "$CGROUP" != - ]; then echo $BASHPID > "$CGROUP/cgroup.procs" || { echo "cannot join $CGROUP" >&2; exit 1; }; fi
    if [ "$LOGINUID" != - ]; then echo "$LOGINUID" > /proc/self/loginuid || { echo "cannot set the login uid" >&2; exit 1; }; fi
    read -r -a s < /proc/self/stat; read -r l < /proc/self/loginuid; read -r e < /proc/self/sessionid
    cg=-; while read -r x; do [[ $x == 0::* ]] && cg=${x#0::}; done < /proc/self/cgroup
    echo "L parent 0 $BASHPID ${s[21]} 0 $l $e $cg" >&3
    for ((i = 0; i < N; i++)); do
        life login-t "$i" 0 touch "$D/login/t.$i"
        life login-u "$i" "$PARENTUID" touch "$D/login/u.$i"
        life login-r "$i" 65534 cat "$D/login/r.$i"
    done
    echo "D parent" >&3
    # Linger without forking: a read with a timeout on a fifo nobody writes.
    local fifo="$W/linger.$BASHPID"
    mkfifo "$fifo" && exec 9<> "$fifo"
    rm -f "$fifo"
    local release="$W/release.${D##*/}"
    while [ ! -e "$release" ] && ((SECONDS < LINGER)); do read -r -t 0.2 -u 9 _; done
    return 0
}

eval "$T"
echo "L main 0 $$ ${s[21]} 0 $l $e $cg" >&3

parent &
parent_pid=$!

for ((i = 0; i < N; i++)); do
    for ((j = i * EXECS; j < (i + 1) * EXECS; j++)); do
        bash -c "$T echo \"L exec $j \$\$ \${s[21]} 0 \$l \$e \$cg\" >&3; exec 3>&-; echo e > $D/exec/e.$j; cat $D/exec/r.$j" > /dev/null
    done
    "$W/attrreuse" "$D" "$i" >&3 || echo "attrreuse $i failed" >&2
    life user-u "$i" "$USERUID" touch "$D/user/u.$i"
    life user-r "$i" 65534 cat "$D/user/r.$i"
    bash -c "$T echo \"L tree-sh $i \$\$ \${s[21]} 0 \$l \$e \$cg\" >&3; exec 3>&-; echo 1 > $D/tree/f.$i.1; echo 2 > $D/tree/f.$i.2; echo 3 > $D/tree/f.$i.3" > /dev/null
    # vim makes the most events (about 45 a run under a permission watch): every other iteration is enough.
    ((i % 2)) || life tree-vim "$i" 0 vim -u NONE -i NONE -N -Es -c 'set backup backupcopy=no backupskip= backupdir=.' -c 'normal! Ay' -c wq "$D/tree/v.$i"
    life tree-sed "$i" 0 sed -i s/x/y/ "$D/tree/s.$i"
done
echo "D main" >&3
wait $parent_pid
