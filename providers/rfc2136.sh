# Shared by providers/nsupdate and providers/knot (sourced, not run): reads the dns01 shell
# provider contract and prints an nsupdate/knsupdate script for it.
#
#   TOOL present|cleanup FQDN VALUE        one record (lego exec-provider compatible)
#   DNS01_BATCH=1 TOOL present|cleanup     records as JSON lines on stdin, all in one UPDATE
#
# Environment: SERVER_VAR names the variable holding the server ("192.0.2.53", "192.0.2.53:5353",
# "[2001:db8::53]:53"); ZONE_VAR the optional zone (default DNS01_ZONE); DNS01_TTL (default 60).

# Arguments: ACTION SERVER ZONE then the script's own "$@" (ACTION [FQDN VALUE]).
rfc2136_script() {
  local action=${1:-} server=$2 zone=$3
  case "$action" in
    present|cleanup) ;;
    *) echo "usage: $(basename "$0") present|cleanup FQDN VALUE (or DNS01_BATCH=1 with JSON lines on stdin)" >&2; return 2 ;;
  esac
  [[ -n $server ]] || { echo "$(basename "$0"): the server is not set (the primary that accepts updates)" >&2; return 2; }
  local ttl=${DNS01_TTL:-60} port=53
  if [[ $server =~ ^\[(.*)\]:([0-9]+)$ ]]; then server=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
  elif [[ $server =~ ^\[(.*)\]$ ]]; then server=${BASH_REMATCH[1]}
  elif [[ $server =~ ^([^:]+):([0-9]+)$ ]]; then server=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
  fi

  local records=() line fqdn value
  if [[ ${DNS01_BATCH:-} == 1 ]]; then
    # Lines as dns01 writes them: {"fqdn":"…","value":"…","zone":"…","ttl":60}
    while IFS= read -r line; do
      [[ -z $line ]] && continue
      fqdn=$(sed -n 's/.*"fqdn":"\([^"]*\)".*/\1/p' <<<"$line")
      value=$(sed -n 's/.*"value":"\([^"]*\)".*/\1/p' <<<"$line")
      [[ -n $fqdn && -n $value ]] || { echo "cannot read a record from the line: $line" >&2; return 2; }
      records+=("$fqdn" "$value")
    done
  else
    [[ $# -eq 6 ]] || { echo "usage: $(basename "$0") $action FQDN VALUE" >&2; return 2; }
    records=("$5" "$6")
  fi

  echo "server $server $port"
  [[ -n $zone ]] && echo "zone $zone"
  local i
  for ((i = 0; i < ${#records[@]}; i += 2)); do
    fqdn=${records[i]} value=${records[i+1]}
    [[ $fqdn == *. ]] || fqdn="$fqdn."
    if [[ $value == *[\"\\[:space:]]* ]]; then echo "refusing a TXT value with quotes, backslashes or spaces: $value" >&2; return 2; fi
    if [[ $action == present ]]; then
      echo "update add $fqdn $ttl IN TXT \"$value\""
    else
      echo "update delete $fqdn IN TXT \"$value\""
    fi
  done
  echo "send"
}
