#pragma once
// Small helpers of rbench-sandbox-init: errors that name the failed call, whole-file writes, report lines.
#include <string>
#include <string_view>

namespace rbench::sandbox::init {

// Throws std::runtime_error("<what>: <strerror(errno)>").
[[noreturn]] void throw_system_error(const std::string& what);

// Writes `content` to an existing file such as /proc/PID/uid_map or cgroup.procs (one write).
void write_existing_file(const std::string& path, std::string_view content);

// Default dispositions for every signal and an empty mask (ignored signals survive execve).
void reset_signals();

// Sends one line to the supervisor (protocol::report_line); best effort, never throws.
void report(std::string_view kind, std::string_view text);

}  // namespace rbench::sandbox::init
