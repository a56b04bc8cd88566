#!/usr/bin/env bash
# The shell baseline for ci/bench: what a QA engineer writes by hand to smoke-test
# one guest. Create the domain, wait for its address on the serial log, retry
# `ssh uname -r` every second until it answers, destroy the domain.
#
#   baseline.sh URI DOMAIN.xml SERIAL.log KEY NETNS [TIMEOUT_S]
#
# DOMAIN.xml is the domain virtsmoke wrote (renamed, with this script's key on the
# kernel command line and a <serial type='file'> writing SERIAL.log). Prints
# `key value` lines on stdout (epoch seconds with ns): t_start, t_created, addr,
# t_addr, t_ssh_ok, attempts, kernel, t_destroyed; exits non-zero if the guest
# did not answer in TIMEOUT_S (default 300). The domain is destroyed whatever
# happens (EXIT trap).
set -u
uri=$1 xml=$2 log=$3 key=$4 netns=$5 timeout=${6:-300}
name=$(sed -n 's:.*<name>\(.*\)</name>.*:\1:p' "$xml" | head -1)
now() { date +%s.%N; }

created=
cleanup() {
    if [ -n "$created" ]; then
        virsh -q -c "$uri" destroy "$name" >/dev/null 2>&1
        echo "t_destroyed $(now)"
        created=
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "t_start $(now)"
virsh -q -c "$uri" create "$xml" >/dev/null || exit 3
created=1
echo "t_created $(now)"

deadline=$(( $(date +%s) + timeout ))
attempts=0 addr=
while :; do
    if [ -z "$addr" ]; then
        addr=$(sed -n 's:.*VIRTSMOKE-MARKER net [^ ]* \([0-9.]*\)/.*:\1:p' "$log" 2>/dev/null | head -1)
        [ -n "$addr" ] && echo "addr $addr" && echo "t_addr $(now)"
    fi
    if [ -n "$addr" ]; then
        attempts=$((attempts + 1))
        if out=$(ip netns exec "$netns" ssh -n -i "$key" -o BatchMode=yes -o ConnectTimeout=5 \
                -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
                "root@$addr" uname -r 2>/dev/null); then
            echo "t_ssh_ok $(now)"
            echo "attempts $attempts"
            echo "kernel $out"
            break
        fi
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "error no ssh answer within ${timeout}s (address: ${addr:-none})"
        exit 1
    fi
    sleep 1
done
cleanup
