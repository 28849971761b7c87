# shellcheck shell=sh
# shellcheck disable=SC3043 # local: busybox ash (OpenWrt's /bin/sh) and dash have it
#
# A stand-in for OpenWrt's /etc/rc.common with USE_PROCD, for tests/openwrt/uci.sh: sources the
# config_* stand-in (functions.sh) and the init script, points the script's paths at the test's
# (TEST_DOTD_BIN, TEST_UCI_LIB, TEST_RUN_DIR, TEST_DNSMASQ_INIT), and runs the action as
# rc.common does: start (procd_open_service, start_service, service_triggers,
# procd_close_service), stop (stop_service, procd_kill), restart (stop, start), reload (start,
# the init script has no reload_service), shutdown (stop). The procd_* functions only record
# their arguments in PROCD_LOG, one call a line.
#
# usage: sh rc.common.sh INITSCRIPT ACTION

initscript=$1
action=${2:-help}
shift 2

# shellcheck source=tests/openwrt/functions.sh
. "$STANDIN_DIR/functions.sh"

_procd() {
	echo "$*" >> "$PROCD_LOG"
}
procd_open_service() { _procd open_service "$@"; }
procd_close_service() {
	service_triggers
	_procd close_service "$@"
}
procd_open_instance() { _procd open_instance "$@"; }
procd_set_param() { _procd set_param "$@"; }
procd_append_param() { _procd append_param "$@"; }
procd_close_instance() { _procd close_instance; }
procd_add_reload_trigger() { _procd add_reload_trigger "$@"; }
procd_kill() { _procd kill "$@"; }

# rc.common's defaults, which the init script replaces.
# shellcheck disable=SC2317 # called by start and stop, once the init script is sourced
start_service() { return 0; }
# shellcheck disable=SC2317 # as above

stop_service() { return 0; }
# shellcheck disable=SC2317 # as above
service_triggers() { return 0; }

# shellcheck source=etc/openwrt/dotd.init
. "$initscript"

# shellcheck disable=SC2034 # read by the init script
{
	DOTD_BIN=$TEST_DOTD_BIN
	DOTD_UCI_LIB=$TEST_UCI_LIB
	DOTD_RUN_DIR=$TEST_RUN_DIR
	DNSMASQ_INIT=$TEST_DNSMASQ_INIT
}

start() {
	local status

	procd_open_service dotd "$initscript"
	start_service "$@"
	status=$?
	procd_close_service set
	return "$status"
}
stop() {
	stop_service "$@"
	procd_kill dotd
}
restart() {
	stop "$@"
	start "$@"
}
reload() { start; }
shutdown() { stop; }

case $action in
start | stop | restart | reload | shutdown) "$action" "$@" ;;
*)
	echo "rc.common stand-in: no action '$action'" >&2
	exit 2
	;;
esac
