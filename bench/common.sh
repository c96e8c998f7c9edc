# common.sh - what the bench scripts share: the --json/--quick options, the
# repository root as working directory, medians, ratios, the result rows and
# their output as a table or one JSON object, and the exit status.  Sourced
# by bash scripts (bench/*.sh) before they measure anything.

usage() {
	echo "usage: $0 [--json] [--quick]" >&2
	exit 2
}

json=0
quick=0
for arg in "$@"; do
	case $arg in
	--json) json=1 ;;
	--quick) quick=1 ;;
	*) usage ;;
	esac
done

mode=full
[ "$quick" -eq 1 ] && mode=quick
root=$(cd "$(dirname "$0")/.." && pwd) || exit 1
cd "$root" || exit 1

errors=0 # measurements that could not run
declare -A samples # "who:name" -> space-separated values, one per run

log() {
	echo "$(basename "$0"): $*" >&2
}

fail() { # a measurement that could not run: say why, count it
	log "$*"
	errors=$((errors + 1))
}

record() { # record WHO NAME VALUE: one run's figure
	samples[$1:$2]="${samples[$1:$2]:-} $3"
}

# peer_rows PEER NAME:UNIT...: one result row per name, slated's median
# against PEER's.
peer_rows() {
	local peer=$1 spec name
	shift
	for spec in "$@"; do
		name=${spec%%:*}
		rows+=("$name|$(median "${samples[slated:$name]:-}")|$(median "${samples[$peer:$name]:-}")|$peer|${spec#*:}")
	done
}
rows=()  # "name|value|peer|peer_name|unit"; empty fields are null

# The median of whitespace-separated numbers (empty when none).
median() {
	# shellcheck disable=SC2086
	printf '%s\n' $1 | sort -g | awk '{ v[NR] = $1 }
		END { if (NR == 0) exit;
		      if (NR % 2) print v[(NR + 1) / 2];
		      else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# value / peer with three decimals; empty when either is missing or peer is 0.
ratio_of() {
	awk -v v="$1" -v p="$2" 'BEGIN { if (v != "" && p != "" && p + 0 != 0) printf "%.3f", v / p }'
}

json_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "$s"
}

json_val() { # a number, or null when empty
	if [ -n "$1" ]; then printf '%s' "$1"; else printf 'null'; fi
}

# The machine, for the header of either output.
cpus=$(nproc)
mem_gib=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
kernel=$(uname -r)
slate_rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
package_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }

# print_results JSON_HEAD TABLE_HEAD: the rows, as one JSON object when
# --json (JSON_HEAD is the object up to '"results":['), else TABLE_HEAD (the
# comment lines) and a table.
print_results() {
	local sep="" row name value peer peer_name unit
	if [ "$json" -eq 1 ]; then
		printf '%s' "$1"
		for row in "${rows[@]}"; do
			IFS='|' read -r name value peer peer_name unit <<<"$row"
			printf '%s{"name":%s,"value":%s,"peer":%s,"peer_name":%s,"ratio":%s,"unit":%s}' \
				"$sep" "$(json_str "$name")" "$(json_val "$value")" "$(json_val "$peer")" \
				"$(if [ -n "$peer_name" ]; then json_str "$peer_name"; else echo null; fi)" \
				"$(json_val "$(ratio_of "$value" "$peer")")" "$(json_str "$unit")"
			sep=","
		done
		printf ']}\n'
		return
	fi
	printf '%s\n' "$2"
	printf '%-40s %12s %12s %-18s %7s %s\n' name value peer peer_name ratio unit
	for row in "${rows[@]}"; do
		IFS='|' read -r name value peer peer_name unit <<<"$row"
		printf '%-40s %12s %12s %-18s %7s %s\n' "$name" "${value:--}" "${peer:--}" \
			"${peer_name:--}" "$(r=$(ratio_of "$value" "$peer"); echo "${r:--}")" "$unit"
	done
}

# Exit 1 when a measurement could not run (its error is on stderr), else 0.
finish() {
	if [ "$errors" -gt 0 ]; then
		echo "${0##*/}: $errors measurement(s) failed; see the errors above" >&2
		exit 1
	fi
	exit 0
}
