#!/usr/bin/env bash
# Installs the system packages kadam's tests and demo use, when missing and when we can
# (root + apt-get): a Docker engine, a static busybox to build the test image from (no registry
# is reachable on the test machines), graphviz's `dot`. Never fails the build for a package it
# cannot install: the tests that need it say so loudly instead.
set -u
need=()
command -v dockerd >/dev/null || need+=(docker.io)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v dot >/dev/null || need+=(graphviz)
command -v awk >/dev/null || need+=(mawk)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "system-deps: installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "system-deps: missing ${need[*]}; install them (not root, or no apt-get here)" >&2
fi
