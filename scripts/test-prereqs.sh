#!/usr/bin/env bash
# The system tools the test suite needs besides Python and Java: Maven (resolves the Kafka,
# connector and Hadoop jars once), Chromium (browser tests) and a Compose CLI (the Compose
# files' checks). Run as root with apt-get, it installs what is missing (as CI does);
# otherwise it names what is missing and the command that installs it, and fails.
set -u
declare -A package=([mvn]=maven [chromium]=chromium [docker-compose]=docker-compose)
missing=()
for tool in mvn chromium docker-compose; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${package[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing the test tools: ${missing[*]} (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit $?
fi
echo "error: the tests need ${missing[*]}, which are not installed. Fix: sudo apt-get install ${missing[*]} (or your system's packages of the same names), then make test again" >&2
exit 1
