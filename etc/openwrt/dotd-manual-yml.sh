#!/bin/sh
# Writes the package's /etc/dotd/dotd.yml, the file of option manual '1' to start from: dotd's
# own commented default (etc/dotd.yml, on stdin) made to fit beside dnsmasq as /etc/config/dotd
# does: listening on port 5453, the control socket under /var/run (OpenWrt has no /run), and
# the user dotd. Run at build time by the package Makefile; tests/openwrt/uci.sh loads the result.
#
# usage: sh dotd-manual-yml.sh < etc/dotd.yml > dotd.yml
set -eu

sed -e 's|^  - 127\.0\.0\.1$|  - 127.0.0.1@5453|' \
	-e 's|^  - 0::1$|  - 0::1@5453|' \
	-e 's|"/run/dotd/|"/var/run/dotd/|' \
	-e 's|^#user: nobody$|user: dotd|'
