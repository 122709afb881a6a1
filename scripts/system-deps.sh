#!/usr/bin/env bash
# Installs the system packages kadam's tests and demo use, when missing and when we can
# (root + apt-get): a Docker engine, a static busybox to build the test image from (no registry
# is reachable on the test machines), graphviz's `dot`, and Debian's chromium for the browser
# tests (Playwright drives /usr/bin/chromium; it never downloads a browser of its own), and Slurm
# with MUNGE for the Slurm backend's tests.
# Never fails the build for a package it cannot install: the tests that need it say so loudly
# instead.
set -u
need=()
command -v dockerd >/dev/null || need+=(docker.io)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v dot >/dev/null || need+=(graphviz)
command -v awk >/dev/null || need+=(mawk)
# Installed with --no-install-recommends (the recommends pull in a desktop's worth of packages).
lean=()
[ -x /usr/bin/chromium ] || lean+=(chromium)
# A one-node Slurm cluster for tests/remote (the test session starts and stops its daemons).
[ -x /usr/sbin/slurmctld ] || lean+=(slurmctld)
[ -x /usr/sbin/slurmd ] || lean+=(slurmd)
command -v sbatch >/dev/null || lean+=(slurm-client)
[ -x /usr/sbin/munged ] || lean+=(munge)
if [ ${#need[@]} -eq 0 ] && [ ${#lean[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "system-deps: installing ${need[*]} ${lean[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq; then
    if [ ${#need[@]} -gt 0 ]; then
      apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    if [ ${#lean[@]} -gt 0 ]; then
      apt-get install -y -qq --no-install-recommends "${lean[@]}" >/dev/null
    fi
  fi
else
  echo "system-deps: missing ${need[*]} ${lean[*]}; install them (not root, or no apt-get here)" >&2
fi
