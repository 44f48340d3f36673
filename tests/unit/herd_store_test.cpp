// herd serve's SQLite store: round trips, transactions, event aggregation.
#include "herd/store.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

using namespace corral::herd;
using nlohmann::json;

namespace {

StoredObject object(const std::string &kind, const std::string &name, const std::string &uid) {
    StoredObject o;
    o.kind = kind;
    o.namespace_ = "default";
    o.name = name;
    o.uid = uid;
    o.generation = 1;
    o.object = {{"kind", kind}, {"metadata", {{"name", name}, {"uid", uid}}}};
    o.created = 1000;
    return o;
}

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/herd-store-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

} // namespace

TEST(HerdStore, ObjectsRoundTrip) {
    auto s = Store::open(":memory:");
    ASSERT_TRUE(s) << s.error().message();
    ASSERT_TRUE(s->put_object(object("Pod", "b", "u2")));
    ASSERT_TRUE(s->put_object(object("Pod", "a", "u1")));
    ASSERT_TRUE(s->put_object(object("Deployment", "a", "u3")));
    auto got = s->get_object("Pod", "default", "a");
    ASSERT_TRUE(got && *got);
    EXPECT_EQ((*got)->uid, "u1");
    EXPECT_EQ((*got)->object["metadata"]["name"], "a");
    auto pods = s->list_objects("Pod");
    ASSERT_TRUE(pods);
    ASSERT_EQ(pods->size(), 2u);
    EXPECT_EQ((*pods)[0].name, "a");  // sorted by name
    auto other_ns = s->list_objects("Pod", "kube-system");
    ASSERT_TRUE(other_ns);
    EXPECT_TRUE(other_ns->empty());
    // Replace keeps one row per kind/namespace/name.
    auto changed = object("Pod", "a", "u1");
    changed.generation = 2;
    ASSERT_TRUE(s->put_object(changed));
    EXPECT_EQ((*s->get_object("Pod", "default", "a"))->generation, 2);
    ASSERT_TRUE(s->delete_object("Pod", "default", "a"));
    EXPECT_FALSE(*s->get_object("Pod", "default", "a"));
}

TEST(HerdStore, RevisionsAndAssignments) {
    auto s = Store::open(":memory:");
    ASSERT_TRUE(s);
    StoredRevision r{"default", "web", 2, "hash2", {{"spec", {{"containers", json::array()}}}}};
    ASSERT_TRUE(s->put_revision(r));
    r.revision = 1;
    r.template_hash = "hash1";
    ASSERT_TRUE(s->put_revision(r));
    auto revs = s->revisions("default", "web");
    ASSERT_TRUE(revs);
    ASSERT_EQ(revs->size(), 2u);
    EXPECT_EQ((*revs)[0].template_hash, "hash1");  // by revision number
    EXPECT_EQ((*revs)[1].revision, 2);
    ASSERT_TRUE(s->delete_revision("default", "web", "hash1"));
    EXPECT_EQ(s->revisions("default", "web")->size(), 1u);

    ASSERT_TRUE(s->assign_pod("uid-1", "node-a"));
    EXPECT_EQ(**s->pod_node("uid-1"), "node-a");
    ASSERT_TRUE(s->unassign_pod("uid-1"));
    EXPECT_FALSE(*s->pod_node("uid-1"));
}

TEST(HerdStore, EventsAggregateAndAreBounded) {
    auto s = Store::open(":memory:");
    ASSERT_TRUE(s);
    StoredEvent e;
    e.first_time = 10;
    e.type = "Warning";
    e.reason = "BackOff";
    e.namespace_ = "default";
    e.object = "pod/x";
    e.message = "back-off 10s restarting failed container=c pod=x";
    ASSERT_TRUE(s->record_event(e));
    e.first_time = e.last_time = 20;
    ASSERT_TRUE(s->record_event(e));
    auto evs = s->events("default", "pod/x");
    ASSERT_TRUE(evs);
    ASSERT_EQ(evs->size(), 1u);
    EXPECT_EQ((*evs)[0].count, 2);
    EXPECT_EQ((*evs)[0].first_time, 10);
    EXPECT_EQ((*evs)[0].last_time, 20);

    for (int i = 0; i < Store::max_events + 10; ++i) {
        e.message = "event " + std::to_string(i);
        ASSERT_TRUE(s->record_event(e));
    }
    auto all = s->events();
    ASSERT_TRUE(all);
    EXPECT_EQ(all->size(), size_t(Store::max_events));
    EXPECT_EQ(all->back().message, "event " + std::to_string(Store::max_events + 9));
}

TEST(HerdStore, TransactionRollsBackUnlessCommitted) {
    auto s = Store::open(":memory:");
    ASSERT_TRUE(s);
    {
        auto tx = s->begin();
        ASSERT_TRUE(tx);
        ASSERT_TRUE(s->put_object(object("Pod", "gone", "u1")));
    }  // no commit: rolled back
    EXPECT_FALSE(*s->get_object("Pod", "default", "gone"));
    {
        auto tx = s->begin();
        ASSERT_TRUE(tx);
        ASSERT_TRUE(s->put_object(object("Pod", "kept", "u2")));
        ASSERT_TRUE(tx->commit());
    }
    EXPECT_TRUE(*s->get_object("Pod", "default", "kept"));
}

TEST(HerdStore, PersistsAcrossReopenWithSchemaVersion) {
    TempDir dir;
    {
        auto s = Store::open(dir.path);
        ASSERT_TRUE(s) << s.error().message();
        ASSERT_TRUE(s->put_object(object("Deployment", "web", "u1")));
    }
    EXPECT_TRUE(std::filesystem::exists(dir.path + "/herd.db"));
    auto s = Store::open(dir.path);
    ASSERT_TRUE(s);
    EXPECT_EQ((*s->get_object("Deployment", "default", "web"))->uid, "u1");
    EXPECT_EQ(**s->setting("schema_version"), std::to_string(Store::schema_version));
    // A database from a newer herd is refused, not misread.
    ASSERT_TRUE(s->set_setting("schema_version", "99"));
    auto again = Store::open(dir.path);
    ASSERT_FALSE(again);
    EXPECT_NE(again.error().message().find("newer"), std::string::npos);
}
