{{/*
The release's name for its objects: the release name when it contains "prepull" (a release named
prepull gets the names deploy/base uses), else "<release>-prepull"; fullnameOverride replaces it.
At most 40 characters, so that the longest suffix still makes a valid name.
*/}}
{{- define "prepull.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels Helm's conventions add to every object; the equivalence test ignores exactly these. */}}
{{- define "prepull.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* The labels deploy/base gives every object. */}}
{{- define "prepull.labels" -}}
app.kubernetes.io/name: prepull
app.kubernetes.io/part-of: prepull
{{ include "prepull.helmLabels" . }}
{{- end -}}

{{/*
The agents' selector. Fixed, as in deploy/base: the NetworkPolicy, the headless Service and the
PodMonitor select by it, and job="prepull" in the alerts comes from app.kubernetes.io/name.
*/}}
{{- define "prepull.agentSelector" -}}
app.kubernetes.io/name: prepull
app.kubernetes.io/component: agent
{{- end -}}

{{/* The warm-up's labels: the NetworkPolicy admits pods with them to the agents' http port. */}}
{{- define "prepull.warmUpSelector" -}}
app.kubernetes.io/name: prepull
app.kubernetes.io/component: warm-up
{{- end -}}

{{- define "prepull.daemonSetName" -}}
{{ include "prepull.fullname" . }}-agent
{{- end -}}

{{- define "prepull.serviceName" -}}
{{ include "prepull.fullname" . }}-agents
{{- end -}}

{{- define "prepull.configMapName" -}}
{{ include "prepull.fullname" . }}-imagesets
{{- end -}}

{{/* The agent's image: repository:tag, with @digest when one is given (the node pulls by digest). */}}
{{- define "prepull.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}:{{ $tag }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end -}}

{{/*
Where each runtime keeps its CRI socket, its root (for the disk guard's directory) and, for k3s,
the registry configuration it writes from registries.yaml: deploy/base and deploy/overlays.
*/}}
{{- define "prepull.runtimeLayout" -}}
{{- $layouts := dict
  "containerd" (dict "socketDir" "/run/containerd" "socketName" "containerd.sock" "root" "/var/lib/containerd" "registryHostsDir" "/etc/containerd/certs.d")
  "cri-o" (dict "socketDir" "/var/run/crio" "socketName" "crio.sock" "root" "/var/lib/containers/storage" "registryHostsDir" "/etc/containerd/certs.d")
  "k3s" (dict "socketDir" "/run/k3s/containerd" "socketName" "containerd.sock" "root" "/var/lib/rancher/k3s/agent/containerd" "registryHostsDir" "/var/lib/rancher/k3s/agent/etc/containerd/certs.d")
-}}
{{- toJson (get $layouts .Values.runtime.type) -}}
{{- end -}}

{{- define "prepull.socketDir" -}}
{{- .Values.runtime.socketDir | default (include "prepull.runtimeLayout" . | fromJson).socketDir -}}
{{- end -}}

{{- define "prepull.socketName" -}}
{{- .Values.runtime.socketName | default (include "prepull.runtimeLayout" . | fromJson).socketName -}}
{{- end -}}

{{- define "prepull.imageFsDir" -}}
{{- .Values.diskGuard.imageFsDir | default (printf "%s/prepull-statfs" (include "prepull.runtimeLayout" . | fromJson).root) -}}
{{- end -}}

{{/* k3s always gets its registry configuration (deploy/overlays/k3s); others when registryHosts.enabled. */}}
{{- define "prepull.registryHosts" -}}
{{- if or .Values.registryHosts.enabled (eq .Values.runtime.type "k3s") -}}
true
{{- end -}}
{{- end -}}

{{- define "prepull.registryHostsDir" -}}
{{- .Values.registryHosts.dir | default (include "prepull.runtimeLayout" . | fromJson).registryHostsDir -}}
{{- end -}}

{{/* The PriorityClass the agents run at: the one the chart creates, priorityClass.name, or none. */}}
{{- define "prepull.priorityClassName" -}}
{{- if .Values.priorityClass.name -}}
{{- .Values.priorityClass.name -}}
{{- else if .Values.priorityClass.create -}}
{{- include "prepull.fullname" . -}}
{{- end -}}
{{- end -}}

{{/*
The readiness gate's startup taint, KEY:EFFECT: readinessGate.taint, or the mode's own
(deploy/components/readiness-gate's for agent, node-readiness-rule.yaml's for
nodeReadinessController); empty with the gate off.
*/}}
{{- define "prepull.gateTaint" -}}
{{- if .Values.readinessGate.taint -}}
{{- .Values.readinessGate.taint -}}
{{- else if eq .Values.readinessGate.mode "agent" -}}
startup-taint.cluster-autoscaler.kubernetes.io/prepull-warming:NoSchedule
{{- else if eq .Values.readinessGate.mode "nodeReadinessController" -}}
readiness.k8s.io/prepull-images-warm:NoSchedule
{{- end -}}
{{- end -}}

{{/* The gate's deadline as the agent reads it: a duration, or "0" (a number 0 from --set). */}}
{{- define "prepull.gateDeadline" -}}
{{- toString .Values.readinessGate.deadline -}}
{{- end -}}
