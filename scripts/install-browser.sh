#!/usr/bin/env bash
# install-browser.sh: installs Debian's chromium for the browser tests
# (internal/interop/servetest, driven over the DevTools protocol with
# chromedp, so no chromedriver is needed) when it is missing. Needs root or
# sudo. Prints the browser's version.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
  echo "install-browser: installing chromium" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    chromium fonts-liberation >/dev/null
fi
# The Debian wrapper script reads an optional config; the binary itself
# answers --version without a display.
chromium --headless --no-sandbox --disable-gpu --version 2>/dev/null || chromium --version
