#!/usr/bin/env bash
# For `make demo`: make sure a Docker engine answers and the busybox:1.36 image exists, so the
# demo runs in containers. Starts dockerd (as root) when none answers and leaves it running,
# saying so; builds busybox:1.36 from Debian's static busybox when it is missing (no registry
# is needed). If neither can be had, kadam's backend "auto" runs the demo as local processes.
set -u
if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null; then
    log=/var/log/kadam-demo-dockerd.log
    dockerd >"$log" 2>&1 &
    echo "docker-up: started dockerd (pid $!, log $log); it keeps running after the demo"
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  fi
fi
if ! docker info >/dev/null 2>&1; then
  echo "docker-up: no Docker engine; the demo runs as local processes"
  exit 0
fi
if ! docker image inspect busybox:1.36 >/dev/null 2>&1 && [ -x /bin/busybox ]; then
  dir=$(mktemp -d)
  cp /bin/busybox "$dir/busybox"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nENV PATH=/bin\n' >"$dir/Dockerfile"
  docker build -q -t busybox:1.36 "$dir" >/dev/null && echo "docker-up: built busybox:1.36 from /bin/busybox"
  rm -rf "$dir"
fi
exit 0
