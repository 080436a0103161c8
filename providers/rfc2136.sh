# Shared by providers/nsupdate and providers/knot (sourced, not run): reads the dns01 shell
# provider contract and prints an nsupdate/knsupdate script for it.
#
#   TOOL present|cleanup FQDN VALUE        one record (lego exec-provider compatible)
#   DNS01_BATCH=1 TOOL present|cleanup     records as JSON lines on stdin, all in one UPDATE
#
# Environment: SERVER_VAR names the variable holding the server ("192.0.2.53", "192.0.2.53:5353",
# "[2001:db8::53]:53"); ZONE_VAR the optional zone (default DNS01_ZONE); DNS01_TTL (default 60).

# json_string LINE KEY: prints the decoded JSON string of "KEY" in LINE, one object as dns01
# writes it (no space after ':'); handles every JSON escape (\" \\ \/ \b \f \n \r \t \uXXXX).
json_string() {
  local rest=${1#*\"$2\":\"} out= c hex
  [[ $rest != "$1" ]] || return 1
  while [[ -n $rest ]]; do
    c=${rest:0:1} rest=${rest:1}
    case $c in
      \") printf '%s' "$out"; return 0 ;;
      \\)
        c=${rest:0:1} rest=${rest:1}
        case $c in
          b) out+=$'\b' ;; f) out+=$'\f' ;; n) out+=$'\n' ;; r) out+=$'\r' ;; t) out+=$'\t' ;;
          u) hex=${rest:0:4} rest=${rest:4}; [[ $hex =~ ^[0-9A-Fa-f]{4}$ ]] || return 1; printf -v c "\\u$hex"; out+=$c ;;
          *) out+=$c ;;
        esac ;;
      *) out+=$c ;;
    esac
  done
  return 1
}

# txt_rdata VALUE: the TXT value as RFC 1035 §5.1 character-strings in quotes, at most 255
# octets each, with '"' and '\' escaped by a backslash and other non-printing octets as \DDD.
txt_rdata() {
  local LC_ALL=C
  local value=$1 out= chunk quoted c i
  while :; do
    chunk=${value:0:255} value=${value:255} quoted=
    for ((i = 0; i < ${#chunk}; i++)); do
      c=${chunk:i:1}
      case $c in
        \"|\\) quoted+="\\$c" ;;
        [[:print:]]) quoted+=$c ;;
        *) printf -v c '\\%03d' "'$c"; quoted+=$c ;;
      esac
    done
    out+="${out:+ }\"$quoted\""
    [[ -n $value ]] || break
  done
  printf '%s' "$out"
}

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
      fqdn=$(json_string "$line" fqdn) && value=$(json_string "$line" value) && [[ -n $fqdn ]] \
        || { echo "cannot read a record from the line: $line" >&2; return 2; }
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
    if [[ $action == present ]]; then
      echo "update add $fqdn $ttl IN TXT $(txt_rdata "$value")"
    else
      echo "update delete $fqdn IN TXT $(txt_rdata "$value")"
    fi
  done
  echo "send"
}
