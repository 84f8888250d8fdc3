#!/usr/bin/env bash
# Benchmarks parker against tar and xz and prints one table of medians and
# ratios. The three inputs are built in a temporary directory:
#
# - python: /usr/bin/python3.11 as bin/python3.11, with a copy of
#   /usr/lib/python3.11 in lib/.
# - small: a C program built with gcc that prints the size of its 2 MB asset.
# - large: BENCH_LARGE_MB (default 300) MB of generated text, binary records
#   and random bytes, with a target that exits at once.
#
# For each input, one run measures, with the variants interleaved:
# - pack: wall time and size of parker against "tar | xz -6" and
#   "tar | xz -6 -T0".
# - cold: TARGET-c up to the target's first useful work, against the bare
#   target and against "xz -dc | tar -x" into a fresh tmpfs plus the target.
# - warm: TARGET-c with a filled cache (PARKER_CACHE=1) against the bare target.
# - rss: peak RSS of the runtime, its init and the target (wait4's ru_maxrss).
#
# Environment: BENCH_REPS (default 5), BENCH_INPUTS (default "python small
# large"), BENCH_LARGE_MB, and BENCH_KEEP=1 to keep the temporary directory.
# It needs bash, gcc, GNU tar, xz and a built bin/parker and
# bin/parker-runtime, which "make bench" builds. As root, the tar baseline
# extracts into a tmpfs mounted for each run, otherwise into a new
# directory under /dev/shm. When hyperfine is installed, it cross-checks
# the python start times.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
parker=${PARKER:-$root/bin/parker}
stub=${PARKER_RUNTIME:-$root/bin/parker-runtime}
reps=${BENCH_REPS:-5}
inputs=${BENCH_INPUTS:-python small large}
large_mb=${BENCH_LARGE_MB:-300}
python=${PYTHON:-/usr/bin/python3.11}

for tool in gcc tar xz; do
	command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done
[ -x "$parker" ] && [ -x "$stub" ] || { echo "bench: build first: make build" >&2; exit 1; }
unset SOURCE_DATE_EPOCH PARKER_CACHE PARKER_VERBOSE
export PARKER_RUNTIME=$stub LC_ALL=C

bench=$(mktemp -d "${TMPDIR:-/tmp}/parker-bench.XXXXXX")
chmod 0755 "$bench"
mnt=$bench/mnt
mounted=
cleanup() {
	[ -n "$mounted" ] && umount "$mnt" 2>/dev/null
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: kept $bench" >&2
	else
		rm -rf "$bench"
	fi
}
trap cleanup EXIT

tools=$bench/tools
mkdir -p "$tools" "$bench/res" "$bench/out" "$mnt"
export XDG_CACHE_HOME=$bench/cache

# timeit OUT CMD...: runs CMD, appends "WALL_NS MAXRSS_KB" to OUT and exits
# with CMD's status. ru_maxrss from wait4 is the largest of CMD and every
# descendant it waited for, which for an artifact is the runtime, its init
# and the target.
cat >"$tools/timeit.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>
int main(int argc, char **argv) {
	if (argc < 3) { fprintf(stderr, "usage: timeit OUT CMD [ARG...]\n"); return 2; }
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	pid_t pid = fork();
	if (pid < 0) { perror("fork"); return 2; }
	if (pid == 0) { execvp(argv[2], argv + 2); perror(argv[2]); _exit(127); }
	int st; struct rusage ru;
	if (wait4(pid, &st, 0, &ru) < 0) { perror("wait4"); return 2; }
	clock_gettime(CLOCK_MONOTONIC, &b);
	long long ns = (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
	FILE *f = fopen(argv[1], "a");
	if (!f) { perror(argv[1]); return 2; }
	fprintf(f, "%lld %ld\n", ns, ru.ru_maxrss);
	fclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
EOF

# gen KIND BYTES SEED: deterministic data. random: xorshift64* output;
# text: words from a generated vocabulary; records: 64-byte binary records
# with counters, timestamps and a few random bytes.
cat >"$tools/gen.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
static uint64_t s;
static uint64_t next(void) { s ^= s >> 12; s ^= s << 25; s ^= s >> 27; return s * 2685821657736338717ULL; }
int main(int argc, char **argv) {
	if (argc != 4) { fprintf(stderr, "usage: gen random|text|records BYTES SEED\n"); return 2; }
	long long left = atoll(argv[2]);
	s = 0x9e3779b97f4a7c15ULL ^ (uint64_t)atoll(argv[3]);
	static unsigned char buf[1 << 16];
	char words[512][12];
	for (int i = 0; i < 512; i++) {
		int n = 2 + next() % 9;
		for (int j = 0; j < n; j++) words[i][j] = 'a' + next() % 26;
		words[i][n] = 0;
	}
	uint64_t counter = 0, stamp = 1700000000000ULL;
	while (left > 0) {
		size_t n = 0;
		if (!strcmp(argv[1], "random")) {
			for (; n + 8 <= sizeof buf; n += 8) { uint64_t r = next(); memcpy(buf + n, &r, 8); }
		} else if (!strcmp(argv[1], "text")) {
			while (n + 16 < sizeof buf) {
				uint64_t r = next();
				const char *w = words[(r % 512) * ((r >> 20) % 512) / 512];
				size_t k = strlen(w);
				memcpy(buf + n, w, k); n += k;
				buf[n++] = (r >> 40) % 13 == 0 ? '\n' : ' ';
			}
		} else if (!strcmp(argv[1], "records")) {
			for (; n + 64 <= sizeof buf; n += 64) {
				uint64_t r = next();
				memset(buf + n, 0, 64);
				counter++; stamp += r % 1000;
				memcpy(buf + n, &counter, 8); memcpy(buf + n + 8, &stamp, 8);
				buf[n + 16] = r % 7; memcpy(buf + n + 20, &r, 6);
				memcpy(buf + n + 32, words[(r >> 32) % 16], strlen(words[(r >> 32) % 16]));
			}
		} else { fprintf(stderr, "gen: unknown kind %s\n", argv[1]); return 2; }
		if ((long long)n > left) n = left;
		if (fwrite(buf, 1, n, stdout) != n) { perror("gen"); return 1; }
		left -= n;
	}
	return 0;
}
EOF

cat >"$tools/asset.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
int main(void) {
	FILE *f = fopen("data/asset.bin", "rb");
	if (!f) { perror("data/asset.bin"); return 1; }
	static char buf[1 << 16];
	long long total = 0;
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0) total += n;
	printf("asset: %lld bytes\n", total);
	return 0;
}
EOF
echo 'int main(void) { return 0; }' >"$tools/noop.c"

for c in timeit gen asset noop; do
	gcc -O2 -o "$tools/$c" "$tools/$c.c"
done
timeit=$tools/timeit
gen=$tools/gen

# setup_INPUT fills bench/in/INPUT and sets target[INPUT] and args[INPUT].
declare -A target args
setup_python() {
	local w=$bench/in/python
	[ -x "$python" ] || { echo "bench: $python not found; set PYTHON" >&2; return 1; }
	mkdir -p "$w/bin" "$w/lib"
	cp "$python" "$w/bin/python3.11"
	cp -a /usr/lib/python3.11 "$w/lib/"
	# parker gives every entry one fixed mtime; byte-compiling against that
	# mtime lets the bare and the packed python load the same .pyc files
	# instead of the packed one recompiling its imports at each start.
	find "$w/lib" -name '*.py' -exec touch -h -d @946684800 {} +
	"$w/bin/python3.11" -m compileall -q -f "$w/lib/python3.11" >/dev/null 2>&1 || true
	target[python]=bin/python3.11
	args[python]="-c pass"
}
setup_small() {
	local w=$bench/in/small
	mkdir -p "$w/data"
	cp "$tools/asset" "$w/app"
	"$gen" text $((2 << 20)) 1 >"$w/data/asset.bin"
	target[small]=app
	args[small]=""
}
setup_large() {
	local w=$bench/in/large third=$((large_mb * 1024 * 1024 / 3)) i
	mkdir -p "$w/text" "$w/records" "$w/random"
	cp "$tools/noop" "$w/noop"
	for i in $(seq 1 10); do
		"$gen" text $((third / 10)) "$i" >"$w/text/part$i.txt"
		"$gen" records $((third / 10)) "$i" >"$w/records/part$i.rec"
		"$gen" random $((third / 10)) "$i" >"$w/random/part$i.bin"
	done
	target[large]=noop
	args[large]=""
}

median() { sort -n | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
max() { sort -n | tail -n 1; }
ms() { awk -v ns="$1" 'BEGIN {printf "%.1f", ns / 1e6}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
# field FILE COLUMN: prints COLUMN of every line.
field() { awk -v c="$2" '{print $c}' "$1"; }

# run NAME DIR CMD...: one timed run of CMD in DIR, output discarded.
run() {
	local name=$1 dir=$2
	shift 2
	if ! (cd "$dir" && "$timeit" "$bench/res/$name" "$@" >/dev/null 2>"$bench/res/$name.err"); then
		echo "bench: $name failed:" >&2
		cat "$bench/res/$name.err" >&2
		exit 1
	fi
}

# fresh_tmpfs: an empty tmpfs (or /dev/shm directory) at $extract.
fresh_tmpfs() {
	if [ "$(id -u)" = 0 ]; then
		mount -t tmpfs -o mode=0755 parker-bench "$mnt"
		mounted=1
		extract=$mnt
	else
		extract=$(mktemp -d /dev/shm/parker-bench.XXXXXX)
	fi
}
drop_tmpfs() {
	if [ -n "$mounted" ]; then
		umount "$mnt"
		mounted=
	else
		rm -rf "$extract"
	fi
}

# trailer_u64 FILE OFFSET: a little-endian uint64 of the 128-byte trailer.
trailer_u64() {
	local size
	size=$(stat -c %s "$1")
	od -An -tu8 -j $((size - 128 + $2)) -N8 "$1" | tr -d ' '
}

bench_input() {
	local in=$1 w=$bench/in/$1 out=$bench/out/$1 rundir=$bench/run/$1 t a rep
	"setup_$in"
	t=${target[$in]}
	a=${args[$in]}
	mkdir -p "$out" "$rundir"
	chmod 0755 "$bench/run" "$rundir"
	echo "bench: $in: $(du -sb "$w" | cut -f1) bytes in $(find "$w" | wc -l) entries" >&2

	# Pack: parker, tar | xz -6, tar | xz -6 -T0, rotating which goes first.
	local -a pack_cmds=(
		"parker:$parker -q -o $out/art $t"
		"xz:sh -c 'tar --sort=name -cf - . | xz -6 >$out/xz.tar.xz'"
		"xzmt:sh -c 'tar --sort=name -cf - . | xz -6 -T0 >$out/xzmt.tar.xz'"
	)
	for rep in $(seq 1 "$reps"); do
		for k in 0 1 2; do
			local spec=${pack_cmds[$(((k + rep) % 3))]}
			eval "run pack-$in-${spec%%:*} \"$w\" ${spec#*:}"
		done
	done
	cp "$out/art" "$rundir/$in-c"

	# The first run of each kind also checks that both give the same output.
	local want got
	want=$(cd "$w" && eval "./$t $a" | head -n 1)
	got=$(cd "$rundir" && eval "./$in-c $a" | head -n 1)
	[ "$want" = "$got" ] || { echo "bench: $in-c printed \"$got\", want \"$want\"" >&2; exit 1; }
	(cd "$rundir" && PARKER_CACHE=1 eval "./$in-c $a" >/dev/null)

	# Start: bare target, cold artifact, warm artifact, xz | tar + target.
	local xzcmd="xz -dc $out/xz.tar.xz | tar -x -C \"\$1\" && cd \"\$1\" && ./$t $a"
	for rep in $(seq 1 "$reps"); do
		for k in 0 1 2 3; do
			case $(((k + rep) % 4)) in
			0) eval "run start-$in-bare \"$w\" ./$t $a" ;;
			1) eval "run start-$in-cold \"$rundir\" env PARKER_CACHE=0 ./$in-c $a" ;;
			2) eval "run start-$in-warm \"$rundir\" env PARKER_CACHE=1 ./$in-c $a" ;;
			3)
				fresh_tmpfs
				run "start-$in-xz" "$bench" sh -c "$xzcmd" sh "$extract"
				drop_tmpfs
				;;
			esac
		done
	done
	report "$in"
}

row() { printf '%-8s %-44s %14s %14s %8s\n' "$@"; }

report() {
	local in=$1 r=$bench/res out=$bench/out/$1
	local p x xm ps xs xms plen tarbytes cold bare warm xzs rss rss_bare
	p=$(field "$r/pack-$in-parker" 1 | median)
	x=$(field "$r/pack-$in-xz" 1 | median)
	xm=$(field "$r/pack-$in-xzmt" 1 | median)
	ps=$(stat -c %s "$out/art")
	plen=$(trailer_u64 "$out/art" 16)
	tarbytes=$(trailer_u64 "$out/art" 40)
	xs=$(stat -c %s "$out/xz.tar.xz")
	xms=$(stat -c %s "$out/xzmt.tar.xz")
	bare=$(field "$r/start-$in-bare" 1 | median)
	cold=$(field "$r/start-$in-cold" 1 | median)
	warm=$(field "$r/start-$in-warm" 1 | median)
	xzs=$(field "$r/start-$in-xz" 1 | median)
	rss=$(field "$r/start-$in-cold" 2 | max)
	rss_warm=$(field "$r/start-$in-warm" 2 | max)
	rss_bare=$(field "$r/start-$in-bare" 2 | max)
	{
		echo
		echo "== $in: $(mib "$tarbytes") MiB tar stream, $reps runs each, medians"
		row "" "measure" "parker" "baseline" "ratio"
		row pack "wall ms vs tar|xz -6 -T0" "$(ms "$p")" "$(ms "$xm")" "$(ratio "$p" "$xm")"
		row pack "wall ms vs tar|xz -6" "$(ms "$p")" "$(ms "$x")" "$(ratio "$p" "$x")"
		row size "payload bytes vs xz -6" "$plen" "$xs" "$(ratio "$plen" "$xs")"
		row size "payload bytes vs xz -6 -T0" "$plen" "$xms" "$(ratio "$plen" "$xms")"
		row size "artifact bytes vs xz -6" "$ps" "$xs" "$(ratio "$ps" "$xs")"
		row cold "start ms vs bare target" "$(ms "$cold")" "$(ms "$bare")" "$(ratio "$cold" "$bare")"
		row cold "start ms vs xz -dc|tar -x + target" "$(ms "$cold")" "$(ms "$xzs")" "$(ratio "$cold" "$xzs")"
		row cold "unpack MB/s (tar bytes / (cold-bare))" \
			"$(awk -v b="$tarbytes" -v t="$((cold - bare))" 'BEGIN {printf "%.0f", b / t * 1e3}')" \
			"$(awk -v b="$tarbytes" -v t="$((xzs - bare))" 'BEGIN {printf "%.0f", b / t * 1e3}')" \
			"$(ratio "$((xzs - bare))" "$((cold - bare))")"
		row warm "start ms vs bare target" "$(ms "$warm")" "$(ms "$bare")" "$(ratio "$warm" "$bare")"
		row warm "start-up overhead ms (warm - bare)" "$(ms "$((warm - bare))")" "5.0" "-"
		row rss "peak KiB cold (runtime, init, target)" "$rss" "$rss_bare" "-"
		row rss "peak KiB warm (runtime, init, target)" "$rss_warm" "$rss_bare" "-"
	} | tee -a "$bench/table"
}

echo "bench: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)" | tee "$bench/table"
echo "bench: parker $("$parker" --version | cut -d' ' -f2), $(xz --version | head -n 1), $(tar --version | head -n 1), $reps runs" | tee -a "$bench/table"
echo "bench: stub $stub: $(stat -c %s "$stub") bytes" | tee -a "$bench/table"
for in in $inputs; do
	bench_input "$in"
done

# NOTE: this block has not run yet: hyperfine was not installed where the
# script was written and last run.
if command -v hyperfine >/dev/null && [ -d "$bench/run/python" ]; then
	echo
	echo "== hyperfine cross-check (python)"
	(cd "$bench/run/python" && hyperfine -N --warmup 2 --runs "$reps" \
		"$bench/in/python/bin/python3.11 -c pass" \
		"env PARKER_CACHE=0 ./python-c -c pass" \
		"env PARKER_CACHE=1 ./python-c -c pass")
fi
