// herd's pool over real ssh: the test nodes of scripts/testnodes (CTest
// fixture `testnodes`: `up 2` before these tests, `down` after, even when
// they fail), each a network + mount namespace with its own sshd.
//
//   HerdPool.*   the ssh transport (src/herd/ssh_transport.hpp), `herd agent
//                --connect`, and `herd node check|add|remove`
//
// Every test uses its own ControlPath directory and ends its masters.
#include "common/fs.hpp"
#include "herd/channel.hpp"
#include "herd/inventory.hpp"
#include "herd/node_bootstrap.hpp"
#include "herd/run_program.hpp"
#include "herd/ssh_transport.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace corral;
using namespace corral::herd;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kDir = TESTNODES_DIR;
const std::string kScript = TESTNODES;
const std::string kHerd = HERD_BIN;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

ProgramResult run_cmd(std::vector<std::string> argv, std::vector<std::string> env = {}, int timeout_ms = 120000) {
    ProgramRun r{.argv = std::move(argv), .extra_env = std::move(env), .timeout_ms = timeout_ms};
    auto res = run_program(r);
    EXPECT_TRUE(res) << res.error().message();
    return res ? *res : ProgramResult{.exit_code = -1};
}

std::vector<std::string> herd_env() { return {"HERD_STATE_DIR=" + kDir + "/serve", "HERD_INVENTORY="}; }

class HerdPool : public ::testing::Test {
protected:
    void SetUp() override {
        // Writing to an agent session whose ssh ended must be an error, not
        // our death (serve and the CLI ignore SIGPIPE too).
        ::signal(SIGPIPE, SIG_IGN);
        auto inv = load_inventory(kDir + "/serve/inventory.yaml");
        ASSERT_TRUE(inv) << "the testnodes fixture is not up (ctest runs testnodes_up first; by hand: TESTNODES_DIR="
                         << kDir << " scripts/testnodes up 2): " << inv.error().message();
        inv_ = *inv;
        ASSERT_GE(inv_.nodes.size(), 2u);
        char tmpl[] = "/tmp/herd-pool.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        tmp_ = tmpl;
        opts_.control_dir = tmp_ + "/ssh";
        // A test that died mid-way (a crash skips TearDown) left no link
        // down and no node frozen for the next one.
        for (const InventoryNode &n : inv_.nodes) {
            run_cmd({kScript, "heal", n.name}, {"TESTNODES_DIR=" + kDir});
            run_cmd({kScript, "thaw", n.name}, {"TESTNODES_DIR=" + kDir});
        }
    }
    void TearDown() override {
        for (auto &t : transports_)
            for (const InventoryNode &n : touched_) (void)t->disconnect(n);
        // Every test leaves the links up and the nodes running.
        for (const std::string &name : partitioned_) run_cmd({kScript, "heal", name}, {"TESTNODES_DIR=" + kDir});
        for (const std::string &name : frozen_) run_cmd({kScript, "thaw", name}, {"TESTNODES_DIR=" + kDir});
        (void)remove_tree(tmp_);
    }

    SshTransport &transport(SshOptions o) {
        transports_.push_back(std::make_unique<SshTransport>(std::move(o)));
        return *transports_.back();
    }
    const InventoryNode &node(size_t i) {
        touched_.push_back(inv_.nodes[i]);
        return inv_.nodes[i];
    }
    InventoryNode variant(InventoryNode n) {
        touched_.push_back(n);
        return n;
    }
    // herd and corral on every node, agents running (idempotent: the first
    // test to call it installs, later ones find everything in place).
    void bootstrap() {
        auto r = run_cmd({kHerd, "node", "check", "--all"}, herd_env());
        ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    }
    // Established TCP connections to the node's sshd, counted in its netns.
    int ssh_connections(const InventoryNode &n) {
        auto r = run_cmd({"/usr/bin/nsenter", "--net=/run/netns/htn-" + n.name, "/usr/bin/ss", "-Htn", "state", "established", "( sport = :22 )"});
        int lines = 0;
        for (char c : r.out) lines += c == '\n';
        return lines;
    }

    Inventory inv_;
    std::string tmp_;
    SshOptions opts_;
    std::vector<std::unique_ptr<SshTransport>> transports_;
    std::vector<InventoryNode> touched_;
    std::vector<std::string> partitioned_, frozen_;  // to heal and thaw at the end, whatever happened
};

Result<nlohmann::json> ping(const SshTransport &t, const InventoryNode &n) {
    auto s = t.open_agent(n);
    if (!s) return std::move(s).error();
    return call_over(s->channel, {{"op", "ping"}}, deadline_in(std::chrono::seconds(10)));
}

} // namespace

TEST_F(HerdPool, NodeCheckInstallsStartsTheAgentsAndIsIdempotent) {
    // First run: installs (unless an earlier test did) and starts agents.
    auto first = run_cmd({kHerd, "node", "check", "--all"}, herd_env());
    ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
    for (const InventoryNode &n : inv_.nodes) {
        EXPECT_NE(first.out.find(n.name), std::string::npos) << first.out;
        EXPECT_TRUE(path_exists(kDir + "/nodes/" + n.name + "/bin/herd")) << "herd not in " << n.name << "'s binDir";
        EXPECT_TRUE(path_exists(kDir + "/nodes/" + n.name + "/bin/corral"));
        EXPECT_TRUE(path_exists(kDir + "/nodes/" + n.name + "/var-lib-herd/agent/agent.sock"));
    }
    // This machine's facts, as the node (same kernel) sees them.
    EXPECT_NE(first.out.find("hybrid"), std::string::npos) << first.out;  // these hosts: v1 + a cgroup2 at unified
    EXPECT_NE(first.out.find("x86_64"), std::string::npos) << first.out;
    // Second run: nothing to do.
    auto second = run_cmd({kHerd, "node", "check", "--all"}, herd_env());
    ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
    EXPECT_EQ(second.out.find("installed"), std::string::npos) << second.out;
    EXPECT_EQ(second.out.find("updated"), std::string::npos) << second.out;
    EXPECT_EQ(second.out.find("started"), std::string::npos) << second.out;
    EXPECT_NE(second.out.find("running"), std::string::npos) << second.out;
}

TEST_F(HerdPool, PingsEachNodesAgentThroughSsh) {
    bootstrap();
    SshTransport &t = transport(opts_);
    for (size_t i = 0; i < inv_.nodes.size(); ++i) {
        const InventoryNode &n = node(i);
        ASSERT_TRUE(t.connect(n, deadline_in(std::chrono::seconds(20)))) << t.last_error(n.name).message();
        auto r = ping(t, n);
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_EQ(r->value("node", ""), n.name) << r->dump();  // the node's own agent, not this machine's
    }
}

TEST_F(HerdPool, OneMasterConnectionPerNodeIsReused) {
    bootstrap();
    SshTransport &t = transport(opts_);
    const InventoryNode &n = node(0);
    int before = ssh_connections(n);  // herd node check's master (state dir/ssh)
    ASSERT_TRUE(t.connect(n, deadline_in(std::chrono::seconds(20))));
    for (int i = 0; i < 10; ++i) {
        auto r = ping(t, n);
        ASSERT_TRUE(r) << r.error().message();
        auto c = t.run(n, "true", "", 10000);
        ASSERT_TRUE(c && c->ok());
    }
    EXPECT_EQ(t.starts(), 1);
    EXPECT_EQ(ssh_connections(n), before + 1) << "20 sessions should share one TCP connection";
    // Another transport on the same ControlPath (a restarted serve) finds
    // the master and starts none.
    SshTransport &again = transport(opts_);
    ASSERT_TRUE(again.connect(n, deadline_in(std::chrono::seconds(20))));
    ASSERT_TRUE(ping(again, n));
    EXPECT_EQ(again.starts(), 0);
    EXPECT_EQ(ssh_connections(n), before + 1);
}

TEST_F(HerdPool, WrongHostKeyIsRefusedNamingTheNode) {
    // known_hosts with another key for the node's address.
    std::string key = tmp_ + "/other";
    ASSERT_EQ(run_cmd({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key}).exit_code, 0);
    auto pub = read_file(key + ".pub");
    ASSERT_TRUE(pub);
    InventoryNode n = variant(inv_.nodes[0]);
    n.known_hosts_file = tmp_ + "/known_hosts";
    ASSERT_TRUE(write_file_atomic(n.known_hosts_file, n.dest.host + " " + pub->substr(0, pub->rfind(' ')) + "\n"));
    SshTransport &t = transport(opts_);
    auto st = t.connect(n, deadline_in(std::chrono::seconds(20)));
    ASSERT_FALSE(st);
    const std::string &msg = st.error().message();
    EXPECT_NE(msg.find("node \"" + n.name + "\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("knownHostsFile/hostKeyPolicy"), std::string::npos) << msg;
    EXPECT_NE(msg.find("refused"), std::string::npos) << msg;
    EXPECT_EQ(st.error().kind(), ErrorKind::invalid);
    EXPECT_FALSE(path_exists(t.control_path(n))) << "no master for a refused node";
    // accept-new does not override a key that differs either.
    n.host_key_policy = HostKeyPolicy::accept_new;
    EXPECT_FALSE(t.connect(n, deadline_in(std::chrono::seconds(20))));
}

TEST_F(HerdPool, AcceptNewLearnsAnUnknownHostKeyStrictRefusesIt) {
    InventoryNode n = variant(inv_.nodes[1]);
    n.known_hosts_file = tmp_ + "/empty_known_hosts";
    ASSERT_TRUE(write_file_atomic(n.known_hosts_file, ""));
    SshTransport &t = transport(opts_);
    auto strict = t.connect(n, deadline_in(std::chrono::seconds(20)));
    ASSERT_FALSE(strict);
    EXPECT_NE(strict.error().message().find("hostKeyPolicy strict"), std::string::npos) << strict.error().message();
    n.host_key_policy = HostKeyPolicy::accept_new;
    auto st = t.connect(n, deadline_in(std::chrono::seconds(20)));
    ASSERT_TRUE(st) << st.error().message();
    auto known = read_file(n.known_hosts_file);
    ASSERT_TRUE(known);
    EXPECT_NE(known->find("ssh-ed25519"), std::string::npos) << *known;
}

TEST_F(HerdPool, UnreachableHostFailsWithinConnectTimeout) {
    InventoryNode n = variant(inv_.nodes[0]);
    n.name = "ghost";
    n.ssh = "root@10.77.0.99:22";  // on the bridge's subnet, nobody there
    n.dest = *parse_ssh_destination(n.ssh);
    SshOptions o = opts_;
    o.connect_timeout_s = 2;
    SshTransport &t = transport(o);
    auto start = Clock::now();
    auto st = t.connect(n, deadline_in(std::chrono::seconds(30)));
    double took = seconds_since(start);
    ASSERT_FALSE(st);
    EXPECT_LT(took, o.connect_timeout_s + 2.0) << st.error().message();
    EXPECT_EQ(st.error().kind(), ErrorKind::unavailable);
    EXPECT_NE(st.error().message().find("node \"ghost\" (root@10.77.0.99:22): ssh: cannot reach the node"), std::string::npos)
        << st.error().message();
    std::printf("unreachable host: refused in %.2f s (ConnectTimeout %d s)\n", took, o.connect_timeout_s);
}

TEST_F(HerdPool, PartitionedNodeIsNoticedWithinServerAliveBoundsAndItsMasterReplaced) {
    bootstrap();
    SshOptions o = opts_;
    o.server_alive_interval_s = 1;
    o.server_alive_count_max = 2;
    SshTransport &t = transport(o);
    const InventoryNode &n = node(1);
    ASSERT_TRUE(t.connect(n, deadline_in(std::chrono::seconds(20))));
    auto session = t.open_agent(n);
    ASSERT_TRUE(session);
    ASSERT_TRUE(call_over(session->channel, {{"op", "ping"}}, deadline_in(std::chrono::seconds(10))));

    auto master = t.check(n);
    ASSERT_TRUE(master && *master > 0);
    partitioned_.push_back(n.name);
    ASSERT_EQ(run_cmd({kScript, "partition", n.name}, {"TESTNODES_DIR=" + kDir}).exit_code, 0);
    auto cut = Clock::now();
    // The master notices: interval × (count + 1) at most, plus slack. Its
    // process is watched, not asked (-O check): no traffic on the master.
    const double bound = o.server_alive_interval_s * (o.server_alive_count_max + 1) + 3.0;  // slack: a loaded machine
    while (::kill(*master, 0) == 0 && seconds_since(cut) < bound + 5)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    double noticed = seconds_since(cut);
    EXPECT_FALSE(t.check(n)) << "the master still runs " << noticed << " s after the partition";
    EXPECT_LT(noticed, bound);
    // The session through it ended too: a call fails as transport, at once.
    auto after = call_over(session->channel, {{"op", "ping"}}, deadline_in(std::chrono::seconds(3)));
    ASSERT_FALSE(after);
    EXPECT_EQ(after.error().kind(), ErrorKind::transport);
    std::printf("partition noticed after %.2f s (ServerAliveInterval %d, CountMax %d)\n", noticed,
                o.server_alive_interval_s, o.server_alive_count_max);

    // Healed: the stale master is replaced by a new one.
    ASSERT_EQ(run_cmd({kScript, "heal", n.name}, {"TESTNODES_DIR=" + kDir}).exit_code, 0);
    int starts = t.starts();
    auto st = t.connect(n, deadline_in(std::chrono::seconds(20)));
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(t.starts(), starts + 1);
    EXPECT_TRUE(ping(t, n));
}

TEST_F(HerdPool, StaleControlSocketIsCheckedAndReplaced) {
    bootstrap();
    SshTransport &t = transport(opts_);
    const InventoryNode &n = node(0);
    ASSERT_TRUE(t.connect(n, deadline_in(std::chrono::seconds(20))));
    auto pid = t.check(n);
    ASSERT_TRUE(pid) << pid.error().message();
    ASSERT_GT(*pid, 0);
    ASSERT_EQ(::kill(*pid, SIGKILL), 0);
    for (int i = 0; i < 100 && ::kill(*pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(path_exists(t.control_path(n))) << "SIGKILL leaves the socket file behind";
    EXPECT_FALSE(t.check(n));
    // A new transport (as a restarted serve) finds the stale socket.
    SshTransport &again = transport(opts_);
    auto st = again.connect(n, deadline_in(std::chrono::seconds(20)));
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(again.starts(), 1);
    EXPECT_TRUE(ping(again, n));
}

TEST_F(HerdPool, MasterStartsAreBounded) {
    SshOptions one = opts_;
    one.max_concurrent_starts = 1;
    SshTransport &t = transport(one);
    std::vector<InventoryNode> nodes = {node(0), node(1)};
    auto res = t.connect_all(nodes, deadline_in(std::chrono::seconds(30)));
    for (auto &[name, st] : res) EXPECT_TRUE(st) << name << ": " << st.error().message();
    EXPECT_EQ(t.peak_starts(), 1);
    EXPECT_EQ(t.starts(), 2);
    for (const InventoryNode &n : nodes) ASSERT_TRUE(t.disconnect(n));

    SshOptions many = opts_;
    many.control_dir = tmp_ + "/ssh2";
    SshTransport &u = transport(many);
    res = u.connect_all(nodes, deadline_in(std::chrono::seconds(30)));
    for (auto &[name, st] : res) EXPECT_TRUE(st) << name << ": " << st.error().message();
    EXPECT_EQ(u.peak_starts(), 2);
}

TEST_F(HerdPool, AgentConnectWithoutAnAgentSaysSo) {
    bootstrap();
    InventoryNode n = variant(inv_.nodes[0]);
    n.state_dir = "/var/lib/herd/nobody-here";
    SshTransport &t = transport(opts_);
    ASSERT_TRUE(t.connect(n, deadline_in(std::chrono::seconds(20))));
    auto s = t.open_agent(n);
    ASSERT_TRUE(s);
    auto r = call_over(s->channel, {{"op", "ping"}}, deadline_in(std::chrono::seconds(10)));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind(), ErrorKind::transport);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::string err = s->stderr_text();
    EXPECT_NE(err.find("herd agent --connect: no agent answers at /var/lib/herd/nobody-here/agent/agent.sock"),
              std::string::npos)
        << err;
}

TEST_F(HerdPool, FrozenNodeTimesOutAndOthersKeepWorking) {
    bootstrap();
    SshOptions o = opts_;
    o.server_alive_interval_s = 1;
    o.server_alive_count_max = 2;
    SshTransport &t = transport(o);
    const InventoryNode &frozen = node(1);
    const InventoryNode &fine = node(0);
    ASSERT_TRUE(t.connect(frozen, deadline_in(std::chrono::seconds(20))));
    ASSERT_TRUE(t.connect(fine, deadline_in(std::chrono::seconds(20))));
    auto session = t.open_agent(frozen);
    ASSERT_TRUE(session);
    ASSERT_TRUE(call_over(session->channel, {{"op", "ping"}}, deadline_in(std::chrono::seconds(10))));
    frozen_.push_back(frozen.name);
    ASSERT_EQ(run_cmd({kScript, "freeze", frozen.name}, {"TESTNODES_DIR=" + kDir}).exit_code, 0);
    // The frozen node's agent does not answer within a deadline; the other
    // node answers meanwhile.
    auto start = Clock::now();
    auto r = call_over(session->channel, {{"op", "ping"}}, deadline_in(std::chrono::milliseconds(1500)));
    EXPECT_FALSE(r);
    EXPECT_LT(seconds_since(start), 3.0);
    auto other = ping(t, fine);
    EXPECT_TRUE(other) << other.error().message();
    ASSERT_EQ(run_cmd({kScript, "thaw", frozen.name}, {"TESTNODES_DIR=" + kDir}).exit_code, 0);
}

TEST_F(HerdPool, BadInventoryEntryIsNamedAndTheOtherNodesAreChecked) {
    bootstrap();
    // The test nodes' inventory plus an unreachable node and a node with a
    // wrong known_hosts: each named, node1 and node2 still checked.
    std::string key = tmp_ + "/other";
    ASSERT_EQ(run_cmd({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key}).exit_code, 0);
    auto pub = read_file(key + ".pub");
    ASSERT_TRUE(pub);
    ASSERT_TRUE(write_file_atomic(tmp_ + "/bad_known_hosts", "10.77.0.11 " + pub->substr(0, pub->rfind(' ')) + "\n"));
    auto text = read_file(kDir + "/serve/inventory.yaml");
    ASSERT_TRUE(text);
    std::string inv = *text + "  - name: ghost\n    ssh: root@10.77.0.99\n" +
                      "  - name: wrongkey\n    ssh: root@10.77.0.11\n    identityFile: " + kDir +
                      "/keys/id_ed25519\n    knownHostsFile: " + tmp_ + "/bad_known_hosts\n";
    ASSERT_TRUE(write_file_atomic(tmp_ + "/inventory.yaml", inv));
    auto r = run_cmd({kHerd, "node", "check", "--all", "--inventory", tmp_ + "/inventory.yaml", "--state-dir", tmp_ + "/serve"});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("error: node \"ghost\" (root@10.77.0.99): ssh: cannot reach the node"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("error: node \"wrongkey\" (root@10.77.0.11): knownHostsFile/hostKeyPolicy: the host key is refused"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.out.find("node1"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("node2"), std::string::npos) << r.out;
    for (const char *name : {"node1", "node2", "ghost", "wrongkey"}) {
        InventoryNode n;
        n.name = name;
        n.dest.host = "x";
        SshOptions o;
        o.control_dir = tmp_ + "/serve/ssh";
        SshTransport tt(o);
        if (path_exists(tt.control_path(n))) {
            auto in = parse_inventory(inv, "x");
            ASSERT_TRUE(in);
            (void)tt.disconnect(*in->find(name));
        }
    }
    // A typo in a field: the file, line, node and field, nothing checked.
    ASSERT_TRUE(write_file_atomic(tmp_ + "/typo.yaml", "nodes:\n  - name: node1\n    ssh: root@10.77.0.11\n    identtyFile: /k\n"));
    auto typo = run_cmd({kHerd, "node", "check", "--all", "--inventory", tmp_ + "/typo.yaml"});
    EXPECT_EQ(typo.exit_code, 1);
    EXPECT_NE(typo.err.find(tmp_ + "/typo.yaml:4: node \"node1\": identtyFile: unknown field (did you mean \"identityFile\"?)"),
              std::string::npos)
        << typo.err;
}

TEST_F(HerdPool, NodeAddAndRemoveEditTheInventory) {
    bootstrap();
    std::string inv = tmp_ + "/inv.yaml";
    std::string state = tmp_ + "/serve";
    const InventoryNode &n2 = inv_.nodes[1];
    std::vector<std::string> add = {kHerd, "node", "add", "n2", "--ssh", n2.ssh, "--identity-file", n2.identity_file,
                                    "--known-hosts", n2.known_hosts_file, "--cgroup-root", n2.cgroup_root,
                                    "--label", "zone=b", "--label", "herd.io/testnode=true",
                                    "--inventory", inv, "--state-dir", state};
    auto r = run_cmd(add);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("node/n2 added to " + inv), std::string::npos) << r.out;
    auto loaded = load_inventory(inv);
    ASSERT_TRUE(loaded) << loaded.error().message();
    ASSERT_EQ(loaded->nodes.size(), 1u);
    EXPECT_EQ(loaded->nodes[0].labels.at("zone"), "b");
    EXPECT_EQ(loaded->nodes[0].cgroup_root, n2.cgroup_root);
    // The same name again: refused, the file unchanged.
    auto text = read_file(inv);
    r = run_cmd(add);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("node \"n2\" is in " + inv + " already"), std::string::npos) << r.err;
    EXPECT_EQ(*read_file(inv), *text);
    // An unreachable node is not added; --no-check adds it.
    r = run_cmd({kHerd, "node", "add", "ghost", "--ssh", "root@10.77.0.99", "--inventory", inv, "--state-dir", state});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("node \"ghost\" not added"), std::string::npos) << r.err;
    EXPECT_EQ(load_inventory(inv)->nodes.size(), 1u);
    r = run_cmd({kHerd, "node", "add", "ghost", "--ssh", "root@10.77.0.99", "--no-check", "--inventory", inv});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(load_inventory(inv)->nodes.size(), 2u);
    // A bad flag value is named.
    r = run_cmd({kHerd, "node", "add", "x", "--ssh", "root@h:99999", "--no-check", "--inventory", inv});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("node \"x\": ssh: \"root@h:99999\": port 99999 is out of 1-65535"), std::string::npos) << r.err;
    r = run_cmd({kHerd, "node", "list", "--inventory", inv});
    EXPECT_NE(r.out.find("zone=b"), std::string::npos) << r.out;
    // remove
    r = run_cmd({kHerd, "node", "remove", "n2", "--inventory", inv, "--state-dir", state});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    r = run_cmd({kHerd, "node", "remove", "n2", "--inventory", inv, "--state-dir", state});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("NotFound"), std::string::npos) << r.err;
    loaded = load_inventory(inv);
    ASSERT_TRUE(loaded);
    ASSERT_EQ(loaded->nodes.size(), 1u);
    EXPECT_EQ(loaded->nodes[0].name, "ghost");
    EXPECT_FALSE(path_exists(state + "/ssh/n2.sock")) << "remove ends the node's master";
}
