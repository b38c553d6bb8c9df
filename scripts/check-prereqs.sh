#!/usr/bin/env bash
# Checks the two prerequisites (Python 3.11+, Java 17+) and says how to fix a missing one.
set -u
PYTHON="${PYTHON:-python3}"
fail=0
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "error: $PYTHON not found. Fix: install Python 3.11 or newer (or run make PYTHON=/path/to/python3.11)" >&2
  fail=1
elif ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "error: $("$PYTHON" --version 2>&1) is too old. Fix: install Python 3.11 or newer (or run make PYTHON=/path/to/python3.11)" >&2
  fail=1
fi
JAVA="java"
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then JAVA="$JAVA_HOME/bin/java"; fi
if ! command -v "$JAVA" >/dev/null 2>&1; then
  echo "error: Java not found. Fix: install a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless) or set JAVA_HOME" >&2
  fail=1
else
  major=$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  if [ -z "$major" ] || [ "$major" -lt 17 ]; then
    echo "error: Java ${major:-?} is too old. Fix: install a JDK 17+ and set JAVA_HOME to it" >&2
    fail=1
  fi
fi
exit $fail
