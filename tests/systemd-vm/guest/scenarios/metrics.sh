# SPDX-License-Identifier: GPL-2.0-or-later
# Metrics the way docs/METRICS.md says: Debian's prometheus-node-exporter
# is installed (its textfile directory /var/lib/prometheus/node-exporter),
# a drop-in turns damond's textfile on, "systemctl reload damond"; then the
# exporter's /metrics (what Prometheus scrapes) serves damond's samples:
# damond_kdamond_up 1 for each kdamond, damond_config_generation, its CPU,
# and node_textfile_scrape_error 0. Under the hardened unit (ProtectSystem=
# strict) damond can write there only because the unit lists the directory
# in ReadWritePaths=.
. /usr/local/lib/damond-vm/lib.sh

DIR=/var/lib/prometheus/node-exporter
PROM=$DIR/damond.prom
command -v curl > /dev/null || skip "curl not in this root filesystem"
systemctl cat prometheus-node-exporter > /dev/null 2>&1 || skip "prometheus-node-exporter not in this root filesystem"
[ -d "$DIR" ] || fail "$DIR missing although prometheus-node-exporter is installed"

ensure_started
cleanup() {
	rm -f /etc/damond.d/50-metrics.yaml
	if broken; then unbreak_unit; else systemctl reload damond || true; fi
	rm -f "$PROM"
}
trap cleanup EXIT
if broken; then	# the unit as it was before: ReadWritePaths= without the textfile directory
	break_unit 'ReadWritePaths=' 'ReadWritePaths=/sys/kernel/mm/damon' \
		'ReadWritePaths=-/sys/module/damon_stat/parameters/enabled'
	systemctl restart damond
	wait_damond_ready 60 || fail "damond not ready under the broken unit"
fi
systemctl enable --now prometheus-node-exporter > /dev/null 2>&1 || fail "could not start prometheus-node-exporter"
wait_for 'curl -fsS -o /dev/null http://127.0.0.1:9100/metrics' 30 || fail "node_exporter does not answer on :9100"

rm -f "$PROM"
mkdir -p /etc/damond.d
cat > /etc/damond.d/50-metrics.yaml <<EOP
damond:
  stats_interval: 1s
  metrics:
    textfile: $PROM
EOP
systemctl reload damond || fail "reload with the metrics drop-in: rc=$?"
wait_for "[ -s $PROM ]" 15 || fail "no $PROM 15 s after the reload (damond: $(journalctl -u damond -n 5 --no-pager -o cat | tr '\n' '|'))"
mark textfile="$(stat -c '%a %U %s' "$PROM")"
assert_eq "$(stat -c %a "$PROM")" 644 "textfile mode"

# what Prometheus would scrape from the exporter
m=$(curl -fsS http://127.0.0.1:9100/metrics) || fail "curl :9100/metrics failed"
n=$(status_json | jq '.kdamonds | length')
up=$(echo "$m" | grep -c '^damond_kdamond_up{kdamond="[^"]*"} 1$')
mark kdamonds="$n" served_up="$up" served_damond_lines="$(echo "$m" | grep -c '^damond_')"
[ "$n" -ge 1 ] && assert_eq "$up" "$n" "damond_kdamond_up = 1 samples served by node_exporter"
echo "$m" | grep -q '^damond_config_generation ' || fail "damond_config_generation not served"
echo "$m" | grep -q '^damond_process_cpu_seconds_total ' || fail "damond_process_cpu_seconds_total not served"
echo "$m" | grep -q '^node_textfile_scrape_error 0$' || fail "node_textfile_scrape_error: $(echo "$m" | grep '^node_textfile_scrape_error')"
# every family of the file reaches the exporter's output (none lost to a name clash)
for f in $(grep '^# TYPE ' "$PROM" | cut -d' ' -f3); do
	echo "$m" | grep -q "^# TYPE $f " || fail "family $f of $PROM not served by node_exporter"
done
# it follows damond: the file is rewritten every stats_interval
t1=$(stat -c %Y.%i "$PROM")
wait_for "[ \"\$(stat -c %Y.%i $PROM)\" != \"$t1\" ]" 10 || fail "$PROM not rewritten within 10 s"
info "node_exporter serves $(echo "$m" | grep -c '^damond_') damond samples"
