// herd_proto_fuzz.hpp — what the two line-protocol fuzz targets
// (herd_agent_proto, herd_serve_proto) share: arbitrary bytes are sent
// through a LineChannel over a pipe, as a client's stream would come, and
// every line (or over-long line) goes through the request parser of the
// protocol. Each must give a request or an Error of kind `invalid`, whose
// answer line reads back as that error: no crash, no leak, no other kind.
#pragma once

#include "herd/channel.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <span>
#include <string>

namespace herd_fuzz {

inline void check_answer(const corral::Error &e) {
    if (!e.is(corral::ErrorKind::invalid)) std::abort();
    std::string line = corral::herd::to_line(corral::herd::error_response(e));
    auto back = corral::herd::parse_response_line(line, "fuzz");
    if (back || !back.error().is(corral::ErrorKind::invalid)) std::abort();
}

inline int run_one(const uint8_t *data, size_t size, std::span<const corral::herd::OpSpec> ops) {
    using namespace corral::herd;
    if (size > 60000) return 0;  // fits a pipe's buffer: one write, no blocking
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return 0;
    corral::UniqueFd rd(p[0]), wr(p[1]);
    if (size > 0 && ::write(wr.get(), data, size) != ssize_t(size)) return 0;
    wr.reset();  // EOF after the input
    // A small bound, so that over-long lines are common.
    LineChannel ch(std::move(rd), "fuzz", 512);
    while (!ch.eof()) {
        if (!ch.read_available()) std::abort();
    }
    while (auto line = ch.next_line()) {
        if (!*line) {
            check_answer(line->error());
            continue;
        }
        if ((*line)->size() > 512) std::abort();
        auto req = parse_request_line(**line, ops);
        if (!req) {
            check_answer(req.error());
            continue;
        }
        // A request that passed: "op" names a known op and every argument
        // of the table has its type, so a handler's get<>() cannot throw.
        const std::string &op = (*req)["op"].get_ref<const std::string &>();
        for (const OpSpec &s : ops) {
            if (s.op != op) continue;
            for (const ArgSpec &a : s.args) {
                auto it = req->find(std::string(a.name));
                if (it == req->end()) continue;
                bool ok = (a.type == ArgType::string && it->is_string()) ||
                          (a.type == ArgType::integer && it->is_number_integer()) ||
                          (a.type == ArgType::boolean && it->is_boolean()) ||
                          (a.type == ArgType::object && it->is_object()) ||
                          (a.type == ArgType::array && it->is_array());
                if (!ok) std::abort();
            }
        }
        (void)to_line(*req);
    }
    return 0;
}

} // namespace herd_fuzz
