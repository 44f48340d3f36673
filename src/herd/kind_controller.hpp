// herd/kind_controller.hpp — what serve does with the objects of one kind.
//
// serve's API (serve_ops.cpp) and its sync loop (serve.cpp) go through this
// interface only; they never ask which kind they hold. One controller per
// kind, each in its own file, as Kubernetes' controller manager has them:
//
//   controller_node.cpp        Node: asks every agent what it runs (list_pods,
//                              ping), keeps last contact, RTT, allocatable
//   controller_deployment.cpp  Deployment, with the ReplicaSet logic folded in:
//                              replica count, rolling update, revisions
//   controller_pod.cpp         Pod: scheduling (scheduler.hpp), sending each
//                              pod to its node, deletion, orphans
//
// Registered in Controller's constructor, in sync order (nodes are observed
// before the workloads are reconciled against what they run). Service and
// HorizontalPodAutoscaler are new controller_<kind>.cpp files and one line
// there.
#pragma once

#include "herd/kinds.hpp"
#include "herd/store.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace corral::herd {

class KindController {
public:
    virtual ~KindController() = default;
    virtual const KindInfo &info() const = 0;

    // Stores one object that info().parse accepted, inside apply's
    // transaction; returns kubectl's line ("deployment.apps/web configured").
    virtual Result<std::string> apply(const nlohmann::json &object, const std::string &source) = 0;
    // The object as `get` and `describe` show it: with its status.
    virtual nlohmann::json with_status(const StoredObject &object) const = 0;
    // Objects no longer in the Store that `get` still shows (a deleted pod
    // while its node stops it: Terminating).
    virtual std::vector<StoredObject> lingering(const std::string & /*ns*/) const { return {}; }
    // `herd delete`: removes the object (and what it owns).
    virtual Status remove(const StoredObject &object) = 0;
    // More for `describe` (a Deployment's revisions).
    virtual Result<nlohmann::json> describe_extra(const StoredObject &) { return nlohmann::json::object(); }
    // One reconcile pass over every object of the kind.
    virtual void sync() = 0;
};

} // namespace corral::herd
