#!/usr/bin/env bash
# The standard OpenTelemetry environment: OTEL_RESOURCE_ATTRIBUTES lands on every resource,
# OTEL_SERVICE_NAME becomes every service's service.namespace (each simulated service keeps its
# own service.name), a bad OTEL_RESOURCE_ATTRIBUTES is a usage error.
. "$(dirname "$0")/lib.sh"
OTEL_RESOURCE_ATTRIBUTES='team=obs,cost.center=a%20b' OTEL_SERVICE_NAME=checkout-demo \
  "$DIORAMA" run shop --speed max --duration 30s --otlp-file "$TMP/o.jsonl" -q >/dev/null
rc=$?
check "run exits 0 ($rc)" [ "$rc" = 0 ]
n=$(node -e '
  const lines=require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n");
  let res=0, ok=0, ns=0, names=new Set();
  for (const l of lines) { const j=JSON.parse(l);
    for (const r of (j.resourceSpans||j.resourceMetrics||j.resourceLogs)) { res++;
      const a=Object.fromEntries(r.resource.attributes.map(x=>[x.key,x.value.stringValue]));
      if (a.team==="obs" && a["cost.center"]==="a b") ok++;
      if (a["service.namespace"]==="checkout-demo") ns++;
      if (a["service.name"]) names.add(a["service.name"]); } }
  console.log(res, ok, ns, names.size)' "$TMP/o.jsonl")
read -r res ok ns names <<<"$n"
check "every resource ($res) has the OTEL_RESOURCE_ATTRIBUTES ($ok)" [ "$res" -gt 0 -a "$ok" = "$res" ]
check "services ($ns resources) got OTEL_SERVICE_NAME as namespace" [ "$ns" -gt 0 ]
check "services keep their own names ($names distinct)" [ "$names" -gt 2 ]
OTEL_RESOURCE_ATTRIBUTES='novalue' "$DIORAMA" run minimal --null --duration 1s -q >/dev/null 2>"$TMP/err"
rc=$?
check "bad OTEL_RESOURCE_ATTRIBUTES: exit 2 ($rc)" [ "$rc" = 2 ]
check "and says which variable" grep -q OTEL_RESOURCE_ATTRIBUTES "$TMP/err"
finish
