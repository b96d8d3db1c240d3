#!/bin/sh
# An external worker in plain shell (curl + jq): serves lookup_owner and page_owner until killed.
set -u
API=${SERVICECHART_URL:-http://127.0.0.1:3000}; AUTH="authorization: Bearer $SERVICECHART_KEY"; JSON='content-type: application/json'
post() { curl -sf -X POST "$API$1" -H "$AUTH" -H "$JSON" -d "$2"; }
while :; do
  tasks=$(post /v1/external-tasks/fetch "{\"workerId\":\"sh-$$\",\"types\":[\"lookup_owner\",\"page_owner\"],\"max\":5,\"lockMs\":30000,\"waitMs\":20000}") || { sleep 1; continue; }
  echo "$tasks" | jq -c '.tasks[]' | while read -r task; do
    case $(echo "$task" | jq -r .type) in
      lookup_owner) output=$(echo "$task" | jq -c '{owner: ("team-" + .input.service)}') ;;
      page_owner) output=$(echo "$task" | jq -c '{paged: .input.owner}') ;;
    esac
    post "/v1/external-tasks/$(echo "$task" | jq -r .id)/complete" "$(echo "$task" | jq -c --argjson o "$output" '{lockToken, output: $o}')" >/dev/null || echo "complete failed: $task" >&2
  done
done
