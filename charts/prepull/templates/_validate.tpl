{{/*
What values.schema.json cannot say clearly: rules between values, and host paths that would widen
what the agent sees of the node. Each refusal names the value and what to do instead.
*/}}
{{- define "prepull.validate" -}}
{{- $broad := list "/" "/var" "/run" "/var/run" "/etc" "/var/lib" "/usr" "/home" "/root" "/proc" "/sys" "/dev" -}}
{{- $runtimeRoots := list "/var/lib/containerd" "/var/lib/containers" "/var/lib/containers/storage" "/var/lib/rancher" "/var/lib/rancher/k3s" "/var/lib/rancher/k3s/agent" "/var/lib/rancher/k3s/agent/containerd" -}}
{{- $paths := dict "runtime.socketDir" (include "prepull.socketDir" .) "registryHosts.dir" (include "prepull.registryHostsDir" .) "diskGuard.imageFsDir" (include "prepull.imageFsDir" .) -}}
{{- range $value, $path := $paths -}}
{{- if has $path $broad -}}
{{- fail (printf "%s: %s is too broad a host directory for the agent to mount; name the directory itself (deploy/base mounts only the socket's own directory)" $value $path) -}}
{{- end -}}
{{- end -}}
{{- if has (include "prepull.imageFsDir" .) $runtimeRoots -}}
{{- fail (printf "diskGuard.imageFsDir: %s holds the runtime's images; the disk guard needs only an empty directory of its own on that filesystem, e.g. %s/prepull-statfs" (include "prepull.imageFsDir" .) (include "prepull.imageFsDir" .)) -}}
{{- end -}}
{{- $chartSets := dict
  "PREPULL_CONFIG" "the ConfigMap of imageSets"
  "PREPULL_LISTEN" "the chart (port 8080)"
  "PREPULL_PROBE_LISTEN" "the chart (port 8081)"
  "PREPULL_RESYNC" "agent.resync"
  "PREPULL_CONCURRENCY" "agent.concurrency"
  "PREPULL_SHUTDOWN_GRACE" "agent.shutdownGrace"
  "PREPULL_IMAGE_FS_PATH" "diskGuard.enabled"
  "PREPULL_DISK_THRESHOLD" "diskGuard.threshold"
  "PREPULL_BUNDLES" "bundles.enabled and bundles.hostPath"
  "PREPULL_OFFLINE" "bundles.offline"
  "PREPULL_PIN" "pinning.enabled"
  "PREPULL_PIN_BUDGET" "pinning.budget"
  "PREPULL_REGISTRY_HOSTS_DIR" "registryHosts"
  "PREPULL_DOCKER_CONFIG" "registryCredentials.secretName"
  "PREPULL_GATE_NODE_CONDITION" "readinessGate.mode=agent, which also gives the agent the token and RBAC it needs"
  "PREPULL_GATE_REMOVE_TAINT" "readinessGate.mode=agent and readinessGate.taint, which also give the agent the token and RBAC it needs"
-}}
{{- if ne .Values.readinessGate.mode "none" -}}
{{- $_ := set $chartSets "PREPULL_GATE_DEADLINE" "readinessGate.deadline" -}}
{{- $_ := set $chartSets "PREPULL_GATE_AT_DEADLINE" "readinessGate.atDeadline" -}}
{{- end -}}
{{- range $name, $_ := .Values.agent.env -}}
{{- if hasKey $chartSets $name -}}
{{- fail (printf "agent.env.%s: the chart sets it from %s; set that instead" $name (get $chartSets $name)) -}}
{{- end -}}
{{- end -}}
{{- range $file, $_ := .Values.imageSets -}}
{{- if not (regexMatch "^[A-Za-z0-9_-][A-Za-z0-9_.-]*[.](yaml|yml|json)$" $file) -}}
{{- fail (printf "imageSets: %q is no ImageSet file name: the agent reads files named *.yaml, *.yml or *.json (letters, digits, '-', '_' and '.')" $file) -}}
{{- end -}}
{{- end -}}
{{- if and (hasKey .Values.pinning "budget") (not .Values.diskGuard.enabled) -}}
{{- fail "pinning.budget: the agent sizes the pin budget from the image filesystem, which it sees only with diskGuard.enabled=true" -}}
{{- end -}}
{{- include "prepull.validateGate" . -}}
{{- end -}}

{{/* The readiness gate's values, between themselves. */}}
{{- define "prepull.validateGate" -}}
{{- $gate := .Values.readinessGate -}}
{{- if and $gate.taint (eq $gate.mode "none") -}}
{{- fail "readinessGate.taint: the gate is off; set readinessGate.mode to agent or nodeReadinessController too" -}}
{{- end -}}
{{- if and $gate.nodeReadinessRule.create (ne $gate.mode "nodeReadinessController") -}}
{{- fail "readinessGate.nodeReadinessRule.create: the rule waits for the condition the Node Readiness Controller's reporter sets; set readinessGate.mode=nodeReadinessController too" -}}
{{- end -}}
{{- if and $gate.taint (eq $gate.mode "nodeReadinessController") (not $gate.nodeReadinessRule.create) -}}
{{- fail "readinessGate.taint: with nodeReadinessController the NodeReadinessRule names the taint; set readinessGate.nodeReadinessRule.create=true for the chart's rule, or name it in your own rule and leave readinessGate.taint empty" -}}
{{- end -}}
{{- $taint := include "prepull.gateTaint" . -}}
{{- if $taint -}}
{{- $key := splitList ":" $taint | first -}}
{{- if not (regexMatch "^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$" $key) -}}
{{- fail (printf "readinessGate.taint: %q is no taint key: a name of at most 63 characters (letters, digits, '-', '_', '.'), with a DNS subdomain and '/' before it or not, e.g. example.com/images-warm" $key) -}}
{{- end -}}
{{- if and (eq $gate.mode "nodeReadinessController") (not (hasPrefix "readiness.k8s.io/" $key)) -}}
{{- fail (printf "readinessGate.taint: the Node Readiness Controller manages only taints under readiness.k8s.io/, not %q; e.g. readiness.k8s.io/prepull-images-warm:NoSchedule" $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
