// SPDX-License-Identifier: BSD-2-Clause
// `xbridge capture`: the frames the bridge handles, whole up to a snap length, written
// as a pcap file (or stream) that tcpdump and Wireshark read. The frames come from the
// datapath's capture perf buffer (bpf/capture.h), filtered there by port and MAC, under
// a lease the session renews, like `trace`.
#pragma once

#include "datapath.hpp"
#include "mac.hpp"

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>

namespace xb {

// tcpdump's default and largest snap length.
constexpr uint32_t kCaptureDefaultSnaplen = 262144;

struct CaptureOptions {
    std::optional<std::string> port;
    std::optional<Mac> mac;
    uint32_t snaplen = kCaptureDefaultSnaplen;
    std::optional<uint64_t> count;
};

struct CaptureResult {
    uint64_t captured = 0;
    uint64_t lost = 0; // frames the datapath could not hand over: the reader fell behind
};

// Checks the session can start (no other runs, the port exists), then opens its output
// with open_out and writes a pcap file header and one record per frame to it, until
// SIGINT/SIGTERM, SIGPIPE (a reader that went away), `count` frames or the bridge taken
// down; turns the capture off on the way out.
CaptureResult run_capture(Datapath &dp, const CaptureOptions &opts,
                          const std::function<std::FILE *()> &open_out);

// Whether a capture session holds a valid lease now.
bool capture_active(const Datapath &dp);

// The pcap file header (LINKTYPE_ETHERNET, nanosecond timestamps) and one record's
// header: what run_capture writes, for tests.
std::string pcap_file_header(uint32_t snaplen);
std::string pcap_record_header(uint64_t realtime_ns, uint32_t caplen, uint32_t len);

} // namespace xb
