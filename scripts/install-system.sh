#!/usr/bin/env bash
# Installs the Debian packages Jingyan uses: LibreOffice (legacy .doc/.wps conversion and PDF
# test fixtures), CJK fonts, Chromium for the page tests, poppler for page snapshots, qpdf for
# encrypted-PDF fixtures. Packages already present are left alone.
# Then prepares the PostgreSQL path (scripts/install-postgres.sh) when a PostgreSQL 15 server is installed.
set -euo pipefail
need=()
for pkg in libreoffice-writer-nogui fonts-noto-cjk chromium chromium-driver poppler-utils qpdf; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    need+=("$pkg")
  fi
done
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing system packages: ${need[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi
bash "$(dirname "$0")/install-postgres.sh"
