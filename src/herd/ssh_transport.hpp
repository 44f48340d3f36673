// herd/ssh_transport.hpp — reaching the pool's nodes with the system
// OpenSSH client, so users' ~/.ssh/config, agents, known_hosts and jump
// hosts just work (docs/herd-pool.md).
//
// Transport Design
//   - One ControlMaster connection per node, its socket in
//     <control dir>/<node>.sock (serve's state dir/ssh), started with
//     `ssh -M -N -f -o ControlPersist=yes`: it stays when the caller exits,
//     so a restarted serve or a second `herd node check` reuses it. Every
//     other ssh run for the node goes through it (`-o ControlMaster=no -S
//     <socket>`): one TCP connection and one authentication per node.
//   - Every run has BatchMode=yes (never a prompt), ConnectTimeout, and the
//     master ServerAliveInterval/CountMax, so a dead link ends the master
//     (and every session through it) within interval × (count + 1).
//   - Host keys: StrictHostKeyChecking=yes, accept-new only when the
//     inventory says so; UserKnownHostsFile from the inventory when given.
//   - A master whose socket is there is asked `-O check`; a stale socket (its
//     master gone) is removed and the master started again.
//   - Master starts are bounded (max_concurrent_starts, default 8: sshd's
//     MaxStartups is 10, and unauthenticated connections beyond it are
//     dropped at random): the rest wait in a queue (want() / pump()).
//   - ssh's stderr of each master goes to <control dir>/<node>.log; an
//     error names the node and the inventory field to look at (ssh,
//     knownHostsFile/hostKeyPolicy, identityFile).
//   - Nothing here blocks forever: the blocking helpers take a deadline, and
//     want()/pump() never wait (for serve's poll loop).
//
// The controller reaches a node's agent through the master with
// `ssh ... NODE <binDir>/herd agent --connect --state-dir <stateDir>/agent`:
// open_agent() returns that child's stdio as a LineChannel (channel.hpp).
#pragma once

#include "herd/channel.hpp"
#include "herd/inventory.hpp"
#include "herd/run_program.hpp"

#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

namespace corral::herd {

struct SshOptions {
    std::string control_dir;             // ControlPath sockets and master logs (created 0700)
    std::string ssh_bin = "ssh";         // found on PATH
    int connect_timeout_s = 5;           // ConnectTimeout
    int server_alive_interval_s = 1;     // ServerAliveInterval
    int server_alive_count_max = 3;      // ServerAliveCountMax
    int max_concurrent_starts = 8;       // master starts in flight at once
    std::vector<std::string> extra_args; // more ssh arguments before the destination (tests)
};

// `'...'` for a POSIX shell: the remote command line ssh hands to the
// node's shell.
std::string shell_quote(std::string_view s);

// A session with a node's agent: the ssh child and its stdio as a channel.
struct AgentSession {
    pid_t pid = -1;
    LineChannel channel;
    UniqueFd err;  // the child's stderr (non-blocking), for why it ended
    AgentSession(pid_t p, LineChannel ch, UniqueFd e) : pid(p), channel(std::move(ch)), err(std::move(e)) {}
    AgentSession(AgentSession &&) noexcept;
    AgentSession &operator=(AgentSession &&) = delete;
    ~AgentSession();  // closes the channel, then kills (SIGTERM) and reaps the child
    // What the child wrote to stderr so far.
    std::string stderr_text();
};

class SshTransport {
public:
    enum class State { down, queued, starting, up, failed };

    explicit SshTransport(SshOptions opts);
    ~SshTransport();  // reaps starting children; leaves masters running (ControlPersist)
    SshTransport(const SshTransport &) = delete;
    SshTransport &operator=(const SshTransport &) = delete;

    const SshOptions &options() const noexcept { return opts_; }
    std::string control_path(const InventoryNode &node) const;
    std::string log_path(const InventoryNode &node) const;

    // The ssh argv every run of this node shares (options, -p, -i, -J,
    // known hosts), without the destination.
    std::vector<std::string> base_argv(const InventoryNode &node) const;
    // The master's command line.
    std::vector<std::string> master_argv(const InventoryNode &node) const;
    // A command through the master: `ssh <base> -o ControlMaster=no -S <socket> -- <dest> <remote>`,
    // remote already quoted for the node's shell.
    std::vector<std::string> command_argv(const InventoryNode &node, const std::string &remote) const;

    // --- non-blocking (serve's loop)
    // Queues a master start unless one is up or starting. A node queued or
    // failed is queued again.
    void want(const InventoryNode &node);
    // Starts queued masters while fewer than max_concurrent_starts are in
    // flight, and reaps the ones that finished. Never waits.
    void pump();
    State state(const std::string &node) const;
    // Why the last start failed (state failed).
    Error last_error(const std::string &node) const;
    // The most master starts that were ever in flight at once.
    int peak_starts() const noexcept { return peak_starts_; }
    // Masters started by this transport (each one new TCP connection).
    int starts() const noexcept { return starts_; }

    // --- blocking, with a deadline
    // Up for every node, at most max_concurrent_starts starting at once; the
    // result per node name.
    std::map<std::string, Status> connect_all(const std::vector<InventoryNode> &nodes, Deadline deadline);
    // One node: `-O check` if its socket is there (a stale one is removed),
    // else a master start.
    Status connect(const InventoryNode &node, Deadline deadline);
    // `ssh -O check`: ok with the master's pid when it runs.
    Result<pid_t> check(const InventoryNode &node, int timeout_ms = 5000) const;
    // `ssh -O exit`; ok when none runs.
    Status disconnect(const InventoryNode &node);
    // Runs `remote` (quoted for the node's shell) through the master.
    Result<ProgramResult> run(const InventoryNode &node, const std::string &remote, std::string stdin_data,
                              int timeout_ms) const;
    // Copies a local file to path on the node (through a temporary name in
    // the same directory, renamed over: a running binary is never
    // overwritten in place), mode 0755.
    Status install_file(const InventoryNode &node, const std::string &local, const std::string &remote_path,
                        int timeout_ms) const;
    // `herd agent --connect` on the node, through the master.
    Result<AgentSession> open_agent(const InventoryNode &node) const;

    // A failed ssh run as an Error naming the node and the field to fix,
    // from ssh's exit status and stderr.
    static Error classify(const InventoryNode &node, int exit_code, const std::string &stderr_text);

private:
    struct Link {
        InventoryNode node;
        State state = State::down;
        pid_t pid = -1;       // the master start (ssh -f's foreground part)
        off_t log_offset = 0; // where this start's stderr begins in the log
        Error error;
    };
    Status start(Link &l);
    void finish(Link &l, int wait_status);
    std::string log_since(const Link &l) const;

    SshOptions opts_;
    std::map<std::string, Link> links_;
    int in_flight_ = 0, peak_starts_ = 0, starts_ = 0;
};

} // namespace corral::herd
