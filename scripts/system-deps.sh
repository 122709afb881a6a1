#!/usr/bin/env bash
# Installs the system packages kadam's tests and demo use, when missing and when we can (root + apt).
# Prints what it does; never fails the build for a package it cannot install (the tests that need
# it say so loudly instead).
set -u
need=()
command -v sh >/dev/null || need+=(dash)
command -v awk >/dev/null || need+=(mawk)
command -v seq >/dev/null || need+=(coreutils)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "system-deps: installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
else
  echo "system-deps: missing ${need[*]}; install them (not root or no apt-get here)" >&2
fi
