// herd/store.hpp — `herd serve`'s desired state in SQLite (<state-dir>/herd.db).
//
// Everything serve must remember across a restart lives here, nothing else:
//
//   objects     kind, namespace, name -> uid, generation, the object's
//               Kubernetes JSON (metadata + spec), creation time. Pods made by
//               a Deployment are objects too, so a restarted serve knows their
//               uids and matches them with the pods the agent still runs.
//   revisions   deployment -> revision number, pod-template-hash, template
//               JSON (what a ReplicaSet keeps in Kubernetes; rollout undo
//               re-applies one of them).
//   assignments pod uid -> node name (one node for now; the node pool of the
//               next issue schedules through this table).
//   events      Kubernetes-like events, aggregated: an event equal in type,
//               reason, object and message to a stored one raises its count
//               and last time instead of adding a row; the table is bounded.
//
// The database runs in WAL mode (a reader, e.g. a second `herd serve` refusing
// to start, never blocks the writer) and every apply runs in one transaction,
// so a failed apply leaves nothing behind.
#pragma once

#include "corral/error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

struct sqlite3;

namespace corral::herd {

struct StoredObject {
    std::string kind;  // "Pod" | "Deployment"
    std::string namespace_;
    std::string name;
    std::string uid;
    int64_t generation = 1;
    nlohmann::json object;  // the Kubernetes JSON (apiVersion, kind, metadata, spec)
    int64_t created = 0;    // unix seconds
};

struct StoredRevision {
    std::string namespace_;
    std::string deployment;
    int64_t revision = 0;
    std::string template_hash;
    nlohmann::json template_;  // spec.template as JSON
};

struct StoredEvent {
    int64_t id = 0;
    int64_t first_time = 0, last_time = 0;  // unix seconds
    std::string type;     // Normal | Warning
    std::string reason;   // Scheduled, ScalingReplicaSet, Killing, BackOff, ...
    std::string namespace_;
    std::string object;   // "pod/web-abc", "deployment/web"
    std::string message;
    int64_t count = 1;
};

class Store {
public:
    // The schema version this code writes; an older database is migrated, a
    // newer one refused (it was written by a newer herd).
    static constexpr int schema_version = 1;
    // Events kept at most; older ones are dropped first.
    static constexpr int64_t max_events = 2000;

    // Opens (creating if needed) DIR/herd.db. ":memory:" as dir: an in-memory
    // database, for tests.
    static Result<Store> open(const std::string &state_dir);

    Store(Store &&o) noexcept;
    Store &operator=(Store &&o) noexcept;
    Store(const Store &) = delete;
    Store &operator=(const Store &) = delete;
    ~Store();

    // --- transactions: begin() ... commit(); the Transaction guard rolls back
    // unless committed, so an early error return undoes everything.
    class Transaction {
    public:
        explicit Transaction(Store &s) : store_(&s) {}
        Transaction(Transaction &&o) noexcept : store_(std::exchange(o.store_, nullptr)), done_(o.done_) {}
        Transaction(const Transaction &) = delete;
        Transaction &operator=(Transaction &&) = delete;
        Transaction &operator=(const Transaction &) = delete;
        ~Transaction();
        Status commit();

    private:
        Store *store_;
        bool done_ = false;
    };
    Result<Transaction> begin();

    // --- objects
    Result<std::optional<StoredObject>> get_object(const std::string &kind, const std::string &ns,
                                                   const std::string &name);
    // ns "" = every namespace. Sorted by namespace, name.
    Result<std::vector<StoredObject>> list_objects(const std::string &kind, const std::string &ns = "");
    Status put_object(const StoredObject &);  // insert or replace (by kind, namespace, name)
    Status delete_object(const std::string &kind, const std::string &ns, const std::string &name);

    // --- revisions (sorted by revision number)
    Result<std::vector<StoredRevision>> revisions(const std::string &ns, const std::string &deployment);
    Status put_revision(const StoredRevision &);  // insert or replace (by deployment, template hash)
    Status delete_revision(const std::string &ns, const std::string &deployment, const std::string &hash);
    Status delete_revisions(const std::string &ns, const std::string &deployment);

    // --- pod assignments
    Status assign_pod(const std::string &pod_uid, const std::string &node);
    Result<std::optional<std::string>> pod_node(const std::string &pod_uid);
    Status unassign_pod(const std::string &pod_uid);

    // --- events
    // Aggregates with an equal stored event (count + 1, last_time = time).
    Status record_event(const StoredEvent &);
    // ns "" = all; object "" = all objects; oldest first.
    Result<std::vector<StoredEvent>> events(const std::string &ns = "", const std::string &object = "");

    // --- small key/value settings (schema version, agent event cursor, ...)
    Result<std::optional<std::string>> setting(const std::string &key);
    Status set_setting(const std::string &key, const std::string &value);

    const std::string &path() const { return path_; }

private:
    Store(sqlite3 *db, std::string path) : db_(db), path_(std::move(path)) {}
    Status exec(const char *sql);
    Status migrate();

    sqlite3 *db_ = nullptr;
    std::string path_;
};

} // namespace corral::herd
