#!/usr/bin/env bash
# Installs everything the test suite needs on a Debian machine: the real services the
# integration tests start themselves (OpenLDAP slapd, PHP + nusoap for the Chamilo stand-in,
# PostgreSQL), then the package with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=(php-cli php-xml php-sqlite3 libnusoap-php slapd ldap-utils postgresql openssl)
missing=()
for p in "${need[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
python -m pip install -q --disable-pip-version-check -e '.[test]'
