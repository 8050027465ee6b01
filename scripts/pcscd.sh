#!/usr/bin/env bash
# Runs a command against a private pcscd with vpcd virtual readers, and stops
# that pcscd when the command ends, whatever happens:
#
#   scripts/pcscd.sh [--readers N] -- COMMAND [ARGS...]
#
# N readers (even, 2..16; default 2) come from N/2 vpcd entries, each with its
# own copy of libifdvpcd.so (entries sharing the file share state). pcscd runs
# in a private mount namespace with /run/pcscd bound to a temporary
# directory, so it never meets the machine's own pcscd or another run's.
# COMMAND gets:
#
#   PCSCLITE_CSOCK_NAME       the private pcscd's socket (libpcsclite reads it)
#   CIVICARD_VPCD_READERS     "NAME=PORT;..." every reader and the port its virtual card connects to
#   CIVICARD_PCSCD_RESTART    a script that restarts that pcscd (same readers and socket)
#
# Installs the Debian packages it needs when they are missing (root).
set -euo pipefail

readers=2
while [ $# -gt 0 ]; do
	case "$1" in
	--readers) readers="$2"; shift 2 ;;
	--) shift; break ;;
	*) echo "usage: $0 [--readers N] -- COMMAND [ARGS...]" >&2; exit 2 ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--readers N] -- COMMAND [ARGS...]" >&2; exit 2; }
if [ $((readers % 2)) -ne 0 ] || [ "$readers" -lt 2 ] || [ "$readers" -gt 16 ]; then
	echo "$0: --readers must be even, 2..16" >&2; exit 2
fi

lib=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
if ! command -v pcscd >/dev/null 2>&1 || [ ! -f "$lib" ] || ! pkg-config --exists libpcsclite 2>/dev/null || ! command -v gcc >/dev/null 2>&1; then
	echo "pcscd.sh: installing pcscd, vpcd, libpcsclite-dev" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		pcscd libpcsclite-dev vsmartcard-vpcd pkg-config gcc libc6-dev >/dev/null
fi

# A base port with N free ports above it. vpcd listens on them; it is never
# probed by connecting (a connection is a card insertion): /proc/net/tcp says
# what listens.
listening=" $(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk 'NR > 1 && $4 == "0A" { split($2, a, ":"); print a[2] }' |
	while read -r hex; do echo $((16#$hex)); done | tr '\n' ' ') "
port=""
for _ in $(seq 50); do
	base=$((20000 + (RANDOM % 700) * 16)) # below the ephemeral range (32768-)
	free=yes
	for ((p = base; p < base + readers; p++)); do
		case "$listening" in *" $p "*) free=no ;; esac
	done
	if [ "$free" = yes ]; then port=$base; break; fi
done
[ -n "$port" ] || { echo "pcscd.sh: no free ports" >&2; exit 1; }

dir=$(mktemp -d /tmp/civicard-pcscd.XXXXXX)
mkdir -p "$dir/conf" "$dir/lib" "$dir/run"
names=""
for ((i = 0; i < readers / 2; i++)); do
	p=$((port + 2 * i))
	cp "$lib" "$dir/lib/libifdvpcd-$i.so"
	cat >"$dir/conf/vpcd-$i" <<CONF
FRIENDLYNAME "Civicard VPCD $i"
DEVICENAME   /dev/null:$p
LIBPATH      $dir/lib/libifdvpcd-$i.so
CHANNELID    $p
CONF
	names="$names${names:+;}Civicard VPCD $i 00 00=$p;Civicard VPCD $i 00 01=$((p + 1))"
done

# restart stops the running pcscd (if any) and starts a new one: the same
# readers, configuration and socket, the way an operator restarts the service.
# COMMAND may run it (CIVICARD_PCSCD_RESTART) to test recovery.
mkdir -p /run/pcscd
cat >"$dir/restart" <<RESTART
#!/usr/bin/env bash
set -euo pipefail
if [ -s '$dir/pcscd.pid' ]; then
	old=\$(cat '$dir/pcscd.pid')
	kill -TERM "\$old" 2>/dev/null || true
	for _ in \$(seq 100); do kill -0 "\$old" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "\$old" 2>/dev/null || true
fi
rm -f '$dir/run/pcscd.comm'
unshare -m sh -c "mount --bind '$dir/run' /run/pcscd && exec pcscd --foreground ${PCSCD_FLAGS:---error} -c '$dir/conf'" \\
	>>'$dir/pcscd.log' 2>&1 </dev/null &
echo \$! >'$dir/pcscd.pid'
for _ in \$(seq 100); do
	[ -S '$dir/run/pcscd.comm' ] && exit 0
	sleep 0.1
done
echo "pcscd.sh: pcscd socket did not appear in 10 s" >&2
exit 1
RESTART
chmod +x "$dir/restart"
stop() {
	status=$?
	if [ -s "$dir/pcscd.pid" ]; then
		pid=$(cat "$dir/pcscd.pid")
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	if [ "$status" -ne 0 ] && [ -s "$dir/pcscd.log" ]; then
		echo "pcscd.sh: pcscd log:" >&2; tail -${PCSCD_LOG_LINES:-20} "$dir/pcscd.log" >&2
	fi
	rm -rf "$dir"
	exit "$status"
}
trap stop EXIT
trap 'exit 130' INT TERM

"$dir/restart"

PCSCLITE_CSOCK_NAME="$dir/run/pcscd.comm" CIVICARD_VPCD_READERS="$names" CIVICARD_PCSCD_RESTART="$dir/restart" "$@"
