// herd/store.cpp — the SQLite side of `herd serve` (see store.hpp).
#include "herd/store.hpp"

#include "common/fs.hpp"

#include <sqlite3.h>

#include <utility>

namespace corral::herd {
namespace {

// The schema, version 1. Object JSON is kept as text: SQLite's json functions
// are not needed, serve reads whole objects.
const char *const schema_v1 = R"sql(
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    kind       TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    uid        TEXT NOT NULL UNIQUE,
    generation INTEGER NOT NULL,
    object     TEXT NOT NULL,
    created    INTEGER NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS revisions (
    namespace     TEXT NOT NULL,
    deployment    TEXT NOT NULL,
    revision      INTEGER NOT NULL,
    template_hash TEXT NOT NULL,
    template      TEXT NOT NULL,
    PRIMARY KEY (namespace, deployment, template_hash)
);
CREATE TABLE IF NOT EXISTS assignments (
    pod_uid TEXT PRIMARY KEY,
    node    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    first_time INTEGER NOT NULL,
    last_time  INTEGER NOT NULL,
    type       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    object     TEXT NOT NULL,
    message    TEXT NOT NULL,
    count      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_key ON events (namespace, object, reason);
)sql";

// One prepared statement, finalized on scope exit. Binding is by position
// (1-based, as SQLite counts).
class Statement {
public:
    Statement(sqlite3 *db, const char *sql) : db_(db) {
        rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
    }
    Statement(const Statement &) = delete;
    Statement &operator=(const Statement &) = delete;
    ~Statement() { sqlite3_finalize(stmt_); }

    Status prepared(std::string_view what) const {
        if (rc_ == SQLITE_OK) return ok();
        return Error(std::string(what) + ": " + sqlite3_errmsg(db_));
    }
    Statement &bind(int i, const std::string &s) {
        sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Statement &bind(int i, int64_t v) {
        sqlite3_bind_int64(stmt_, i, v);
        return *this;
    }
    // SQLITE_ROW: true, SQLITE_DONE: false, anything else: the error.
    Result<bool> step(std::string_view what) {
        int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        return Error(std::string(what) + ": " + sqlite3_errmsg(db_));
    }
    Status run(std::string_view what) {
        CORRAL_TRY(prepared(what));
        CORRAL_TRY(step(what));
        return ok();
    }
    std::string text(int col) const {
        auto *p = reinterpret_cast<const char *>(sqlite3_column_text(stmt_, col));
        return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
    }
    int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }

private:
    sqlite3 *db_;
    sqlite3_stmt *stmt_ = nullptr;
    int rc_;
};

Result<nlohmann::json> parse_stored_json(const std::string &text, std::string_view what) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return Error("herd.db: " + std::string(what) + ": stored JSON is corrupt");
    return j;
}

StoredObject object_from_row(const Statement &st, nlohmann::json obj) {
    StoredObject o;
    o.kind = st.text(0);
    o.namespace_ = st.text(1);
    o.name = st.text(2);
    o.uid = st.text(3);
    o.generation = st.integer(4);
    o.object = std::move(obj);
    o.created = st.integer(6);
    return o;
}

} // namespace

Result<Store> Store::open(const std::string &state_dir) {
    std::string path = state_dir == ":memory:" ? state_dir : path_join(state_dir, "herd.db");
    if (state_dir != ":memory:") CORRAL_TRY_CTX(mkdir_p(state_dir, 0700), "herd state dir");
    sqlite3 *db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    Store store(db, path);  // owns db from here, also on failure
    if (rc != SQLITE_OK) {
        return Error(std::string("open ") + path + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    }
    // Another process holding a write lock (a second serve) makes us wait a
    // little instead of failing at once.
    sqlite3_busy_timeout(db, 2000);
    if (state_dir != ":memory:") CORRAL_TRY_CTX(store.exec("PRAGMA journal_mode=WAL"), path);
    CORRAL_TRY_CTX(store.exec("PRAGMA synchronous=NORMAL"), path);
    CORRAL_TRY_CTX(store.exec("PRAGMA foreign_keys=ON"), path);
    CORRAL_TRY_CTX(store.migrate(), path);
    return store;
}

Store::Store(Store &&o) noexcept : db_(std::exchange(o.db_, nullptr)), path_(std::move(o.path_)) {}

Store &Store::operator=(Store &&o) noexcept {
    if (this != &o) {
        if (db_) sqlite3_close(db_);
        db_ = std::exchange(o.db_, nullptr);
        path_ = std::move(o.path_);
    }
    return *this;
}

Store::~Store() {
    if (db_) sqlite3_close(db_);
}

Status Store::exec(const char *sql) {
    char *msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
        std::string m = msg ? msg : sqlite3_errmsg(db_);
        sqlite3_free(msg);
        return Error(m);
    }
    return ok();
}

Status Store::migrate() {
    CORRAL_TRY_CTX(exec(schema_v1), "create schema");
    auto version = CORRAL_TRY(setting("schema_version"));
    if (!version) return set_setting("schema_version", std::to_string(schema_version));
    int v = std::atoi(version->c_str());
    if (v > schema_version) {
        return Error("schema version " + *version + " is newer than this herd understands (" +
                     std::to_string(schema_version) + ")");
    }
    // Future migrations go here, one step per version.
    return ok();
}

Result<Store::Transaction> Store::begin() {
    CORRAL_TRY_CTX(exec("BEGIN IMMEDIATE"), "begin transaction");
    return Result<Transaction>(Transaction(*this));
}

Store::Transaction::~Transaction() {
    if (!done_ && store_) (void)store_->exec("ROLLBACK");
}

Status Store::Transaction::commit() {
    done_ = true;
    return store_->exec("COMMIT").context("commit transaction");
}

// --- objects -----------------------------------------------------------------

Result<std::optional<StoredObject>> Store::get_object(const std::string &kind, const std::string &ns,
                                                      const std::string &name) {
    Statement st(db_, "SELECT kind, namespace, name, uid, generation, object, created FROM objects "
                      "WHERE kind = ?1 AND namespace = ?2 AND name = ?3");
    CORRAL_TRY(st.prepared("get object"));
    st.bind(1, kind).bind(2, ns).bind(3, name);
    if (!CORRAL_TRY(st.step("get object"))) return std::optional<StoredObject>();
    auto obj = CORRAL_TRY(parse_stored_json(st.text(5), kind + " " + ns + "/" + name));
    return std::optional<StoredObject>(object_from_row(st, std::move(obj)));
}

Result<std::vector<StoredObject>> Store::list_objects(const std::string &kind, const std::string &ns) {
    Statement st(db_, "SELECT kind, namespace, name, uid, generation, object, created FROM objects "
                      "WHERE kind = ?1 AND (?2 = '' OR namespace = ?2) ORDER BY namespace, name");
    CORRAL_TRY(st.prepared("list objects"));
    st.bind(1, kind).bind(2, ns);
    std::vector<StoredObject> out;
    while (CORRAL_TRY(st.step("list objects"))) {
        auto obj = CORRAL_TRY(parse_stored_json(st.text(5), kind + " " + st.text(1) + "/" + st.text(2)));
        out.push_back(object_from_row(st, std::move(obj)));
    }
    return out;
}

Status Store::put_object(const StoredObject &o) {
    Statement st(db_, "INSERT OR REPLACE INTO objects (kind, namespace, name, uid, generation, object, created) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    st.bind(1, o.kind).bind(2, o.namespace_).bind(3, o.name).bind(4, o.uid).bind(5, o.generation);
    st.bind(6, o.object.dump()).bind(7, o.created);
    return st.run("store " + o.kind + " " + o.namespace_ + "/" + o.name);
}

Status Store::delete_object(const std::string &kind, const std::string &ns, const std::string &name) {
    Statement st(db_, "DELETE FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3");
    st.bind(1, kind).bind(2, ns).bind(3, name);
    return st.run("delete " + kind + " " + ns + "/" + name);
}

// --- revisions ---------------------------------------------------------------

Result<std::vector<StoredRevision>> Store::revisions(const std::string &ns, const std::string &deployment) {
    Statement st(db_, "SELECT namespace, deployment, revision, template_hash, template FROM revisions "
                      "WHERE namespace = ?1 AND deployment = ?2 ORDER BY revision");
    CORRAL_TRY(st.prepared("list revisions"));
    st.bind(1, ns).bind(2, deployment);
    std::vector<StoredRevision> out;
    while (CORRAL_TRY(st.step("list revisions"))) {
        StoredRevision r;
        r.namespace_ = st.text(0);
        r.deployment = st.text(1);
        r.revision = st.integer(2);
        r.template_hash = st.text(3);
        r.template_ = CORRAL_TRY(parse_stored_json(st.text(4), "revision of " + ns + "/" + deployment));
        out.push_back(std::move(r));
    }
    return out;
}

Status Store::put_revision(const StoredRevision &r) {
    Statement st(db_, "INSERT OR REPLACE INTO revisions (namespace, deployment, revision, template_hash, template) "
                      "VALUES (?1, ?2, ?3, ?4, ?5)");
    st.bind(1, r.namespace_).bind(2, r.deployment).bind(3, r.revision).bind(4, r.template_hash);
    st.bind(5, r.template_.dump());
    return st.run("store revision " + std::to_string(r.revision) + " of " + r.deployment);
}

Status Store::delete_revision(const std::string &ns, const std::string &deployment, const std::string &hash) {
    Statement st(db_, "DELETE FROM revisions WHERE namespace = ?1 AND deployment = ?2 AND template_hash = ?3");
    st.bind(1, ns).bind(2, deployment).bind(3, hash);
    return st.run("delete revision " + hash + " of " + deployment);
}

Status Store::delete_revisions(const std::string &ns, const std::string &deployment) {
    Statement st(db_, "DELETE FROM revisions WHERE namespace = ?1 AND deployment = ?2");
    st.bind(1, ns).bind(2, deployment);
    return st.run("delete revisions of " + deployment);
}

// --- assignments -------------------------------------------------------------

Status Store::assign_pod(const std::string &pod_uid, const std::string &node) {
    Statement st(db_, "INSERT OR REPLACE INTO assignments (pod_uid, node) VALUES (?1, ?2)");
    st.bind(1, pod_uid).bind(2, node);
    return st.run("assign pod " + pod_uid);
}

Result<std::optional<std::string>> Store::pod_node(const std::string &pod_uid) {
    Statement st(db_, "SELECT node FROM assignments WHERE pod_uid = ?1");
    CORRAL_TRY(st.prepared("pod node"));
    st.bind(1, pod_uid);
    if (!CORRAL_TRY(st.step("pod node"))) return std::optional<std::string>();
    return std::optional<std::string>(st.text(0));
}

Status Store::unassign_pod(const std::string &pod_uid) {
    Statement st(db_, "DELETE FROM assignments WHERE pod_uid = ?1");
    st.bind(1, pod_uid);
    return st.run("unassign pod " + pod_uid);
}

// --- events ------------------------------------------------------------------

Status Store::record_event(const StoredEvent &e) {
    // Aggregation as Kubernetes' event correlator: same object, type, reason
    // and message -> one event with a count.
    Statement upd(db_, "UPDATE events SET count = count + 1, last_time = ?1 WHERE namespace = ?2 AND "
                       "object = ?3 AND reason = ?4 AND type = ?5 AND message = ?6");
    upd.bind(1, e.last_time ? e.last_time : e.first_time).bind(2, e.namespace_).bind(3, e.object);
    upd.bind(4, e.reason).bind(5, e.type).bind(6, e.message);
    CORRAL_TRY(upd.run("record event"));
    if (sqlite3_changes(db_) > 0) return ok();
    Statement ins(db_, "INSERT INTO events (first_time, last_time, type, reason, namespace, object, message, count) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    ins.bind(1, e.first_time).bind(2, e.last_time ? e.last_time : e.first_time).bind(3, e.type);
    ins.bind(4, e.reason).bind(5, e.namespace_).bind(6, e.object).bind(7, e.message);
    ins.bind(8, e.count > 0 ? e.count : 1);
    CORRAL_TRY(ins.run("record event"));
    // Bounded: drop the oldest beyond max_events.
    Statement trim(db_, "DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?1");
    trim.bind(1, max_events);
    return trim.run("trim events");
}

Result<std::vector<StoredEvent>> Store::events(const std::string &ns, const std::string &object) {
    Statement st(db_, "SELECT id, first_time, last_time, type, reason, namespace, object, message, count "
                      "FROM events WHERE (?1 = '' OR namespace = ?1) AND (?2 = '' OR object = ?2) "
                      "ORDER BY last_time, id");
    CORRAL_TRY(st.prepared("list events"));
    st.bind(1, ns).bind(2, object);
    std::vector<StoredEvent> out;
    while (CORRAL_TRY(st.step("list events"))) {
        StoredEvent e;
        e.id = st.integer(0);
        e.first_time = st.integer(1);
        e.last_time = st.integer(2);
        e.type = st.text(3);
        e.reason = st.text(4);
        e.namespace_ = st.text(5);
        e.object = st.text(6);
        e.message = st.text(7);
        e.count = st.integer(8);
        out.push_back(std::move(e));
    }
    return out;
}

// --- settings ----------------------------------------------------------------

Result<std::optional<std::string>> Store::setting(const std::string &key) {
    Statement st(db_, "SELECT value FROM settings WHERE key = ?1");
    CORRAL_TRY(st.prepared("read setting"));
    st.bind(1, key);
    if (!CORRAL_TRY(st.step("read setting " + key))) return std::optional<std::string>();
    return std::optional<std::string>(st.text(0));
}

Status Store::set_setting(const std::string &key, const std::string &value) {
    Statement st(db_, "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)");
    st.bind(1, key).bind(2, value);
    return st.run("write setting " + key);
}

} // namespace corral::herd
