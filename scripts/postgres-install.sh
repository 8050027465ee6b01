#!/usr/bin/env bash
# Installs PostgreSQL 15 from Debian's packages when it is missing, for the
# baseline of `make bench`. The package's own cluster is not used: the
# benchmark starts a private server in a temporary directory on loopback.
set -euo pipefail
if [ -x /usr/lib/postgresql/15/bin/postgres ]; then
	exit 0
fi
echo "installing postgresql-15 (benchmark baseline)"
apt-get update -qq
# policy-rc.d keeps the package from starting its default cluster.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null
