// SPDX-License-Identifier: BSD-2-Clause
// capture: the frames the bridge handles, as a pcap file or stream (issue 23).
#include "bridge.hpp"
#include "capture.hpp"
#include "cli/cli.hpp"
#include "error.hpp"

#include <cerrno>
#include <cstdio>
#include <fmt/format.h>
#include <iostream>
#include <memory>
#include <unistd.h>

namespace xb::cli {

namespace {

struct CaptureArgs {
    std::string name = kDefaultBridge, port, mac, snaplen, count, file;
};

int run_capture_cmd(const CaptureArgs &a) {
    CaptureOptions co;
    if (!a.port.empty())
        co.port = a.port;
    if (!a.mac.empty()) {
        co.mac = parse_mac(a.mac);
        if (!co.mac)
            throw Error(fmt::format("--mac: '{}' is not a MAC address", a.mac), EINVAL);
    }
    if (!a.snaplen.empty())
        co.snaplen = number_option("--snaplen", a.snaplen, 1, kCaptureDefaultSnaplen);
    if (!a.count.empty())
        co.count = number_option("--count", a.count, 1, 1LL << 31);
    if (a.file.empty())
        throw Error("-w: the file name is empty", EINVAL);
    if (a.file == "-" && ::isatty(STDOUT_FILENO))
        throw Error("-w -: standard output is a terminal (pipe it into `tcpdump -r -`)", EINVAL);
    Datapath dp = open_bridge(a.name);
    std::FILE *out = nullptr;
    bool created = false;
    const auto open_out = [&]() -> std::FILE * {
        if (a.file == "-")
            return out = stdout;
        created = ::access(a.file.c_str(), F_OK) != 0;
        out = std::fopen(a.file.c_str(), "wb");
        if (!out)
            throw_last_errno(fmt::format("cannot open {}", a.file));
        return out;
    };
    CaptureResult res;
    try {
        res = run_capture(dp, co, open_out);
    } catch (...) {
        // A file this command made, for a capture that failed before its first frame: as it
        // was, none. (One that holds frames is kept: a bridge taken down ends a capture.)
        const long size = out && out != stdout ? std::ftell(out) : -1;
        if (out && out != stdout)
            (void)std::fclose(out); // the capture failed already
        if (created && size >= 0 && size <= 24)
            ::unlink(a.file.c_str());
        throw;
    }
    if (out != stdout && std::fclose(out) != 0)
        throw_last_errno(fmt::format("cannot write {}", a.file));
    std::cerr << fmt::format("{} frame{} captured", res.captured, res.captured == 1 ? "" : "s");
    if (res.lost)
        std::cerr << fmt::format(", {} lost (the capture fell behind)", res.lost);
    std::cerr << "\n";
    return 0;
}

} // namespace

void add_capture(CLI::App &app, Commands &cmds) {
    auto a = std::make_shared<CaptureArgs>();
    auto *capture = app.add_subcommand(
        "capture", "Write the frames the bridge handles to a pcap file (-w FILE, or - for stdout)");
    add_name_option(capture, a->name);
    capture->add_option("--port", a->port, "Only frames in or out of this port");
    capture->add_option("--mac", a->mac, "Only frames from or to this MAC");
    capture->add_option("--snaplen", a->snaplen,
                        fmt::format("Bytes kept of each frame (default and most {}; a frame's "
                                    "copy holds at most {})",
                                    kCaptureDefaultSnaplen, XB_CAPTURE_MAX));
    capture->add_option("--count", a->count, "Stop after N frames");
    capture->add_option("-w", a->file, "The pcap file to write, - for stdout")->required();
    cmds.add(capture, [a] { return run_capture_cmd(*a); });
}

} // namespace xb::cli
