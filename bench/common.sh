# common.sh - what the bench scripts share: the --json/--quick options, the
# repository root as working directory, medians, ratios and JSON quoting.
# Sourced by bash scripts (bench/*.sh) before they measure anything.

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

root=$(cd "$(dirname "$0")/.." && pwd) || exit 1
cd "$root" || exit 1

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

# One object of the "results" array (an empty PEER_NAME is null).
json_row() { # json_row NAME VALUE PEER PEER_NAME UNIT
	local peer_name=null
	[ -n "$4" ] && peer_name=$(json_str "$4")
	printf '{"name":%s,"value":%s,"peer":%s,"peer_name":%s,"ratio":%s,"unit":%s}' \
		"$(json_str "$1")" "$(json_val "$2")" "$(json_val "$3")" "$peer_name" \
		"$(json_val "$(ratio_of "$2" "$3")")" "$(json_str "$5")"
}
