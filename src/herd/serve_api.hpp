// herd/serve_api.hpp — what the `herd` CLI asks of `herd serve`.
//
// `herd serve` listens on <serve state dir>/herd.sock (the CLI finds it with
// --state-dir or $HERD_STATE_DIR, default /var/lib/herd). JSON lines over a
// LineChannel (channel.hpp), one request and one response per line, like the
// agent protocol:
//
//   request  {"op": "<op>", ...}
//   response {"ok": true, ...} | {"ok": false, "error": "...", "reason": "<kind>"}
//
// reason: not_found, already_exists, invalid (a malformed request or
// object), conflict, unavailable (the pod's node cannot be reached),
// unknown. The CLI reports them as kubectl does ("Error from server
// (NotFound): pods \"x\" not found"). Argument types are checked before a
// handler runs (serve_ops(), parse_request_line).
//
// | op           | arguments                                        | results |
// |--------------|--------------------------------------------------|---------|
// | apply        | objects: [Kubernetes JSON], ignore_unknown       | results: ["deployment.apps/web created", "pod/x unchanged", ...] — all validated first; on any error nothing is applied |
// | delete       | kind (pod|deployment), namespace, name           | result: "pod \"x\" deleted" |
// | get          | kind (pods|deployments|nodes), namespace, name?  | items: [full Kubernetes objects with status] |
// | describe     | kind, namespace, name                            | object, events: [...] |
// | scale        | namespace, name, replicas                        | result |
// | rollout_undo | namespace, name, to_revision (0 = previous)      | result |
// | rollout_history | namespace, name                               | revisions: [{revision, template_hash, image(s)}] |
// | events       | namespace ("" = all)                             | events: [{time, type, reason, object, message, count}] |
// | logs         | namespace, name, container, previous, offset, limit_bytes | data, offset (proxied to the pod's agent) |
// | exec_target  | namespace, name, container                       | node, corral_bin, corral_root, corral_id |
// | exec         | namespace, name, container, command [..], stdin, tty, rows, cols | {"ok": true, "stream": true}, then the |
// |              | (the connection becomes the command's stream: exec_stream.hpp; serve relays it to the pod's agent)  |
//
// Objects returned by `get` are Kubernetes-shaped: Pods with metadata (uid,
// creationTimestamp, labels incl. pod-template-hash, ownerReferences),
// spec (incl. nodeName) and status (status.hpp); Deployments with status
// {observedGeneration, replicas, updatedReplicas, readyReplicas,
// availableReplicas, unavailableReplicas, conditions [Available, Progressing]}
// and the annotation deployment.kubernetes.io/revision; Nodes with
// status.conditions [Ready] and status.addresses.
#pragma once

#include "corral/error.hpp"
#include "herd/channel.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <span>
#include <string>

namespace corral::herd {

// The protocol's ops and their argument types, for parse_request_line.
std::span<const OpSpec> serve_ops();

// One request to the serve socket (CLI side). serve answers from memory and
// SQLite; only logs/exec_target go on to an agent: a minute without an
// answer means serve is stuck (a transport Error).
Result<nlohmann::json> call_serve(const std::string &socket_path, const nlohmann::json &request,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

} // namespace corral::herd
