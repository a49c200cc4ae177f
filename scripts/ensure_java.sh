#!/usr/bin/env bash
# Make sure a Java runtime (17 or later) is on PATH: Spark 4 (the `spark` extra, used by the
# Spark engine and graph tests) needs it. Idempotent: exits 0 at once when `java` is there;
# otherwise installs the Debian package `openjdk-17-jre-headless` with apt-get, as root or
# through sudo. A Java older than 17 is an error (installing 17 beside it would not change
# what PATH finds).
set -euo pipefail

java_major() {
    # "openjdk version "17.0.15" ..." / "java version "1.8.0_392"" -> 17 / 8
    local v
    v=$(java -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)
    v=${v#1.}
    echo "${v%%[.+_-]*}"
}

if command -v java >/dev/null 2>&1; then
    major=$(java_major)
    if [ -n "$major" ] && [ "$major" -ge 17 ] 2>/dev/null; then
        exit 0
    fi
    echo "ensure_java: $(command -v java) is Java ${major:-of unknown version}; Spark 4 needs 17 or later" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
else
    echo "ensure_java: java is missing and this user is not root and has no sudo;" >&2
    echo "install the Debian package 'openjdk-17-jre-headless' by hand." >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null

if ! command -v java >/dev/null 2>&1; then
    echo "ensure_java: apt-get finished but java is still not on PATH" >&2
    exit 1
fi
java -version 2>&1 | head -n 1
