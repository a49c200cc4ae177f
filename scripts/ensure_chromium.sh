#!/usr/bin/env bash
# Make sure a headless-capable Chromium is at /usr/bin/chromium (used by tests/test_report.py).
# Idempotent: exits 0 at once when it is already installed; otherwise installs the Debian
# package `chromium` (plus a small CJK font, so Chinese explanations render in screenshots)
# with apt-get, as root or through sudo.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
else
    echo "ensure_chromium: $CHROMIUM is missing and this user is not root and has no sudo;" >&2
    echo "install the Debian package 'chromium' by hand." >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core fonts-wqy-microhei >/dev/null

if [ ! -x "$CHROMIUM" ]; then
    echo "ensure_chromium: apt-get finished but $CHROMIUM is still missing" >&2
    exit 1
fi
"$CHROMIUM" --version
