#!/usr/bin/env bash
# `systemd-analyze verify` finds nothing in the built xbridge@.service: not an unknown
# key, a bad specifier, a command that is not there, nor its man page missing. The unit
# names the installed binary; this checks a copy that names the built one instead (the
# same lines otherwise), with the built man page on MANPATH.
# Usage: systemd_unit.sh UNIT SBINDIR XBRIDGE MANPAGE. Exit 77 without systemd-analyze.
set -uo pipefail
unit=${1:?usage: systemd_unit.sh UNIT SBINDIR XBRIDGE MANPAGE}
sbindir=${2:?} xbridge=${3:?} man=${4:?}
command -v systemd-analyze >/dev/null || {
	echo "SKIP: systemd-analyze is not installed (Debian's systemd package has it)"
	exit 77
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/man/man8"
cp "$man" "$tmp/man/man8/"
sed "s|$sbindir/xbridge|$xbridge|g" "$unit" >"$tmp/xbridge@.service"
grep -q "$xbridge" "$tmp/xbridge@.service" || {
	echo "the unit does not run $sbindir/xbridge"
	exit 1
}
# An instance, as `systemctl enable xbridge@xbr0` makes it.
ln -s xbridge@.service "$tmp/xbridge@xbr0.service"
out=$(cd "$tmp" && MANPATH=$tmp/man systemd-analyze verify ./xbridge@xbr0.service 2>&1)
rc=$?
if ((rc != 0)) || [[ -n $out ]]; then
	echo "$out"
	echo "systemd-analyze verify: findings in $unit (exit $rc)"
	exit 1
fi
echo "systemd-analyze verify: $unit has no findings"
