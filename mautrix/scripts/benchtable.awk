#!/usr/bin/awk -f
# Prints the speed tables of docs/mautrix.md from the raw output of
# scripts/bench.sh (bench-results.txt): every time is the median of its
# samples; every ratio is the median of the ratios of samples taken in the
# same pass (the k-th goolm sample against the k-th sicher sample, which
# ran next to each other), so that load on a shared machine, which
# shifts a whole pass, cancels out. Times and ratios are of CPU time
# (cpu-ns/op: the process's user and system time, garbage collection
# included), which waiting for a busy core does not inflate; the last
# column is the goolm ratio of wall time (ns/op). Where a benchmark has no
# CPU time (mautrix's ShareGroupSession) both are of wall time.
# Usage: awk -f scripts/benchtable.awk bench-results.txt

function median(list,    n, a, i, j, t) {
	n = split(list, a, " ")
	if (n == 0) return ""
	for (i = 2; i <= n; i++) {
		t = a[i] + 0
		for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]
		a[j + 1] = t
	}
	if (n % 2) return a[(n + 1) / 2]
	return (a[n / 2] + a[n / 2 + 1]) / 2
}

# pairedRatio: median over k of num[k] / den[k].
function pairedRatio(num, den,    a, b, n, m, i, r) {
	if (num == "" || den == "") return ""
	n = split(num, a, " ")
	m = split(den, b, " ")
	if (m < n) n = m
	r = ""
	for (i = 1; i <= n; i++) r = r " " a[i] / b[i]
	return median(r)
}

function dur(ns) {
	if (ns == "") return "–"
	if (ns < 1e3) return sprintf("%.0f ns", ns)
	if (ns < 1e6) return sprintf("%.1f µs", ns / 1e3)
	if (ns < 1e9) return sprintf("%.2f ms", ns / 1e6)
	return sprintf("%.2f s", ns / 1e9)
}

function ratio(r) { return r == "" ? "–" : sprintf("%.2f", r) }

# metric returns the value before unit on the current line.
function metric(unit,    i) {
	for (i = 3; i <= NF; i++) if ($i == unit) return $(i - 1)
	return ""
}

/^## ShareGroupSession: / { share = $3; next }
/^Benchmark/ {
	name = $1
	sub(/-[0-9]+$/, "", name)
	if (name ~ /^BenchmarkOlmMachine_ShareGroupSession$/) {
		name = "Share/" share
		v = metric("ns/op"); c = ""
	} else if (name ~ /^BenchmarkDecrypt10000RoomEvents\//) {
		v = metric("ns/event"); c = metric("cpu-ns/event")
	} else {
		v = metric("ns/op"); c = metric("cpu-ns/op")
	}
	sub(/^Benchmark/, "", name)
	if (v != "") wall[name] = wall[name] " " v
	if (c == "") c = v
	if (c != "") cpu[name] = cpu[name] " " c
}

# row prints one operation: CPU times, CPU ratios, the wall-time ratio.
function row(label, op,    g, l, s) {
	g = cpu[op "/goolm"]; l = cpu[op "/libolm"]; s = cpu[op "/sicher"]
	if (s == "") return
	printf "| %s | %s | %s | %s | %s | %s | %s |\n", label, dur(median(g)), dur(median(l)), dur(median(s)),
		ratio(pairedRatio(g, s)), ratio(pairedRatio(l, s)), ratio(pairedRatio(wall[op "/goolm"], wall[op "/sicher"]))
}

END {
	nrows = split("MegolmEncrypt/100B:Megolm encrypt 100 B|MegolmEncrypt/1KiB:Megolm encrypt 1 KiB|MegolmEncrypt/64KiB:Megolm encrypt 64 KiB|MegolmDecrypt/100B:Megolm decrypt 100 B|MegolmDecrypt/1KiB:Megolm decrypt 1 KiB|MegolmDecrypt/64KiB:Megolm decrypt 64 KiB|AccountCreate:Account creation|Generate100OneTimeKeys:Generate 100 one-time keys|OlmOutboundSession:Olm outbound session|OlmInboundSession:Olm inbound session + first decryption (two steps)|OlmSameChain1KiB:Olm 1 KiB encrypt + decrypt, same chain|OlmPingPong1KiB:Olm 1 KiB ping-pong (2 ratchet steps)|PickleAccount50:Pickle + unpickle account (50 one-time keys)|PickleOlmSession:Pickle + unpickle Olm session|PickleInboundGroupSession:Pickle + unpickle inbound group session|Sign:Account.Sign 200 B", rows, "|")
	print "| operation | goolm | libolm | sicher | goolm ÷ sicher | libolm ÷ sicher | goolm ÷ sicher, wall time |"
	print "|---|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= nrows; i++) {
		split(rows[i], f, ":")
		label[f[1]] = f[2]
		row(f[2], f[1])
	}

	print ""
	print "| through `OlmMachine` | goolm | libolm | sicher | goolm ÷ sicher | libolm ÷ sicher | goolm ÷ sicher, wall time |"
	print "|---|---:|---:|---:|---:|---:|---:|"
	split("Decrypt10000RoomEvents:`BenchmarkDecrypt10000RoomEvents`, per event|Share:`BenchmarkOlmMachine_ShareGroupSession`, per share (wall time)", rows, "|")
	for (i = 1; i <= 2; i++) {
		split(rows[i], f, ":")
		row(f[2], f[1])
	}

	print ""
	print "| operation | sicher through the driver | sicher's API alone | driver ÷ API |"
	print "|---|---:|---:|---:|"
	nrows = split("MegolmEncrypt/100B|MegolmEncrypt/1KiB|MegolmEncrypt/64KiB|MegolmDecrypt/100B|MegolmDecrypt/1KiB|MegolmDecrypt/64KiB|AccountCreate|PickleAccount50|Sign", rows, "|")
	for (i = 1; i <= nrows; i++) {
		d = cpu[rows[i] "/sicher"]; a = cpu["API" rows[i]]
		if (d == "" || a == "") continue
		printf "| %s | %s | %s | %s |\n", label[rows[i]], dur(median(d)), dur(median(a)), ratio(pairedRatio(d, a))
	}
}
