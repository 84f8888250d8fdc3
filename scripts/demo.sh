#!/usr/bin/env bash
# Builds the demo from the README: python3.11 copied into a directory with
# a small web server and two files, packed with parker into python-c,
# moved alone into an empty directory, started there, and asked for both
# files over loopback HTTP.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
parker=$root/bin/parker
python=${PYTHON:-/usr/bin/python3.11}
port=${PORT:-18080}

[ -x "$python" ] || { echo "demo: $python not found; set PYTHON=/path/to/python3" >&2; exit 1; }

work=$(mktemp -d /tmp/parker-demo.XXXXXX)
run=$(mktemp -d /tmp/parker-demo-run.XXXXXX)
server=
cleanup() {
	[ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null
	rm -rf "$work" "$run"
}
trap cleanup EXIT

cp "$python" "$work/python"
cat >"$work/server.py" <<'PY'
import http.server, socketserver, sys
port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
socketserver.TCPServer.allow_reuse_address = True
with socketserver.TCPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler) as httpd:
    print(f"serving on 127.0.0.1:{port}", flush=True)
    httpd.serve_forever()
PY
echo "hello from foo.txt" >"$work/foo.txt"
head -c 4096 /dev/urandom >"$work/bar.png"

echo "== parker python (in $work)"
(cd "$work" && "$parker" python)

echo "== moving python-c alone into $run and starting ./python-c server.py $port"
mv "$work/python-c" "$run/"
(cd "$run" && exec ./python-c server.py "$port") &
server=$!

fetch() {
	"$python" - "$1" <<'PY'
import sys, time, urllib.request
url = sys.argv[1]
for _ in range(100):
    try:
        sys.stdout.buffer.write(urllib.request.urlopen(url, timeout=2).read())
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
}
for f in foo.txt bar.png; do
	if fetch "http://127.0.0.1:$port/$f" | cmp -s - "$work/$f"; then
		echo "== GET /$f: identical to the packed file"
	else
		echo "== GET /$f: MISMATCH" >&2
		exit 1
	fi
done

echo "== sending SIGTERM to python-c (pid $server)"
kill -TERM "$server"
status=0
wait "$server" || status=$?
server=
echo "== python-c ended with status $status (143 = killed by SIGTERM, as python itself would)"
echo "demo: ok"
