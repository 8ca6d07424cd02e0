#!/bin/sh
# install.sh - make install into a scratch root: daemon, CLI, config, unit, logrotate snippet and
# manual pages where the GNU layout puts them; the unit passes systemd-analyze verify; the
# installed daemon accepts the installed config.
. "$(dirname "$0")/lib.sh"

ROOT=$T/root
make -C "$top_builddir" install DESTDIR="$ROOT" >"$T/install.log" 2>&1 ||
	fail "make install: $(tail -20 "$T/install.log")"
eval "$(make -s --no-print-directory -C "$top_builddir" -f - nm-print-dirs <<'MK'
include Makefile
nm-print-dirs:
	@echo sbindir=$(sbindir) bindir=$(bindir) sysconfdir=$(sysconfdir) mandir=$(mandir) \
		unitdir=$(systemdsystemunitdir)
MK
)"
for f in "$sbindir/ebpf-netmon" "$bindir/ebpf-netmonctl" "$sysconfdir/ebpf-netmon/ebpf-netmon.conf" \
	"$sysconfdir/logrotate.d/ebpf-netmon" "$mandir/man8/ebpf-netmon.8" \
	"$mandir/man5/ebpf-netmon.conf.5" "$mandir/man1/ebpf-netmonctl.1" \
	"$unitdir/ebpf-netmon.service"; do
	[ -s "$ROOT$f" ] || fail "not installed: $f"
done
[ -x "$ROOT$sbindir/ebpf-netmon" ] || fail "the daemon is not executable"
# no placeholder left in what was substituted at make time
! grep -l '@[a-z]*@' "$ROOT$unitdir/ebpf-netmon.service" "$ROOT$mandir/man8/ebpf-netmon.8" \
	"$ROOT$mandir/man5/ebpf-netmon.conf.5" || fail "placeholders left"
grep -q "^ExecStart=$sbindir/ebpf-netmon -c $sysconfdir/ebpf-netmon/ebpf-netmon.conf$" \
	"$ROOT$unitdir/ebpf-netmon.service" || fail "ExecStart: $(grep ExecStart "$ROOT$unitdir/ebpf-netmon.service")"

# the unit, pointed at the scratch root, as systemd reads it: no warning at all
command -v systemd-analyze >/dev/null 2>&1 || fail "systemd-analyze missing"
sed "s|$sbindir/|$ROOT$sbindir/|g" "$ROOT$unitdir/ebpf-netmon.service" >"$T/ebpf-netmon.service"
MANPATH=$ROOT$mandir systemd-analyze verify "$T/ebpf-netmon.service" >"$T/verify.out" 2>&1 ||
	fail "systemd-analyze verify: $(cat "$T/verify.out")"
[ ! -s "$T/verify.out" ] || fail "systemd-analyze verify warns: $(cat "$T/verify.out")"
systemd-analyze security --offline=true "$T/ebpf-netmon.service" 2>/dev/null | tail -1

# the manual pages render without a warning
for m in man8/ebpf-netmon.8 man5/ebpf-netmon.conf.5; do
	LC_ALL=C.UTF-8 MANROFFSEQ='' man --warnings -l "$ROOT$mandir/$m" >/dev/null 2>"$T/man.err" ||
		fail "man $m failed"
	[ ! -s "$T/man.err" ] || fail "man $m: $(cat "$T/man.err")"
done

# the installed daemon checks the installed (reference) config as it is
"$ROOT$sbindir/ebpf-netmon" --check-config -c "$ROOT$sysconfdir/ebpf-netmon/ebpf-netmon.conf" \
	>"$T/check.out" 2>&1 || fail "installed config: $(cat "$T/check.out")"
echo "PASS"
