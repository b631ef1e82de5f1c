#include "sandbox/protocol.h"

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace rbench::sandbox::protocol {

namespace {

// Length-prefixed binary fields: file contents may hold any byte, so nothing is escaped.
class Writer {
 public:
  void u64(uint64_t value) { bytes_.append(reinterpret_cast<const char*>(&value), sizeof value); }
  void i64(int64_t value) { u64(static_cast<uint64_t>(value)); }
  void f64(double value) {
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    u64(bits);
  }
  void text(std::string_view value) {
    u64(value.size());
    bytes_.append(value);
  }
  void texts(const std::vector<std::string>& values) {
    u64(values.size());
    for (const auto& value : values) text(value);
  }
  std::string take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  uint64_t u64() {
    need(sizeof(uint64_t), "number");
    uint64_t value = 0;
    std::memcpy(&value, bytes_.data(), sizeof value);
    bytes_.remove_prefix(sizeof value);
    return value;
  }
  int64_t i64() { return static_cast<int64_t>(u64()); }
  double f64() {
    const uint64_t bits = u64();
    double value = 0;
    std::memcpy(&value, &bits, sizeof value);
    return value;
  }
  std::string text() {
    const uint64_t size = u64();
    need(size, "string");
    std::string value(bytes_.substr(0, size));
    bytes_.remove_prefix(size);
    return value;
  }
  std::vector<std::string> texts() {
    std::vector<std::string> values(count());
    for (auto& value : values) value = text();
    return values;
  }
  // An element count, checked against what is left so a corrupt count cannot allocate wildly.
  size_t count() {
    const uint64_t value = u64();
    need(value * sizeof(uint64_t), "list");
    return value;
  }
  void finish() const {
    if (!bytes_.empty()) throw std::runtime_error("sandbox config: trailing bytes");
  }

 private:
  void need(uint64_t size, const char* what) const {
    if (size > bytes_.size()) throw std::runtime_error(std::string("sandbox config: truncated ") + what);
  }
  std::string_view bytes_;
};

constexpr uint64_t config_magic = 0x72626e6373627831;  // "rbncsbx1": a config of this exact layout

}  // namespace

std::string encode(const InitConfig& config) {
  Writer out;
  out.u64(config_magic);
  out.u64(config.isolate);
  out.i64(config.supervisor_pid);
  out.u64(config.host_uid);
  out.u64(config.host_gid);
  out.texts(config.argv);
  out.u64(config.env.size());
  for (const auto& [name, value] : config.env) {
    out.text(name);
    out.text(value);
  }
  out.u64(config.files.size());
  for (const auto& file : config.files) {
    out.text(file.path);
    out.text(file.content);
    out.u64(file.executable);
  }
  out.text(config.host_work_dir);
  out.texts(config.read_only_paths);
  const Limits& limits = config.limits;
  out.f64(limits.cpu_seconds);
  out.f64(limits.wall_seconds);
  out.i64(limits.memory_mb);
  out.i64(limits.max_processes);
  out.i64(limits.file_size_bytes);
  out.i64(limits.open_files);
  out.i64(limits.output_bytes);
  out.i64(limits.work_dir_mb);
  out.u64(config.limit_address_space);
  out.texts(config.cgroup_procs_files);
  return out.take();
}

InitConfig decode(std::string_view bytes) {
  Reader in(bytes);
  if (in.u64() != config_magic) throw std::runtime_error("sandbox config: not a config of this rbench version");
  InitConfig config;
  config.isolate = in.u64() != 0;
  config.supervisor_pid = static_cast<int>(in.i64());
  config.host_uid = static_cast<uint32_t>(in.u64());
  config.host_gid = static_cast<uint32_t>(in.u64());
  config.argv = in.texts();
  config.env.resize(in.count());
  for (auto& [name, value] : config.env) {
    name = in.text();
    value = in.text();
  }
  config.files.resize(in.count());
  for (auto& file : config.files) {
    file.path = in.text();
    file.content = in.text();
    file.executable = in.u64() != 0;
  }
  config.host_work_dir = in.text();
  config.read_only_paths = in.texts();
  Limits& limits = config.limits;
  limits.cpu_seconds = in.f64();
  limits.wall_seconds = in.f64();
  limits.memory_mb = in.i64();
  limits.max_processes = static_cast<int>(in.i64());
  limits.file_size_bytes = in.i64();
  limits.open_files = static_cast<int>(in.i64());
  limits.output_bytes = in.i64();
  limits.work_dir_mb = in.i64();
  config.limit_address_space = in.u64() != 0;
  config.cgroup_procs_files = in.texts();
  in.finish();
  return config;
}

std::string report_line(std::string_view kind, std::string_view text) {
  std::string line(kind);
  line += ' ';
  for (char c : text) line += (c == '\n' || c == '\r') ? ' ' : c;  // one record per line
  line += '\n';
  return line;
}

namespace {

int64_t parse_number(std::string_view text) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw std::runtime_error("sandbox report: not a number: '" + std::string(text) + "'");
  }
  return value;
}

std::vector<std::string_view> split_spaces(std::string_view text) {
  std::vector<std::string_view> parts;
  while (!text.empty()) {
    const size_t space = text.find(' ');
    parts.push_back(text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return parts;
}

}  // namespace

InitReport parse_report(std::string_view text) {
  InitReport report;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    if (newline == std::string_view::npos) break;  // a line cut short by a killed writer
    const std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline + 1);
    const size_t space = line.find(' ');
    const std::string_view kind = line.substr(0, space);
    const std::string_view rest = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    if (kind == "setup_error") {
      if (!report.setup_error) report.setup_error = std::string(rest);  // the first cause, not its echoes
    } else if (kind == "exec_error") {
      report.exec_error = std::string(rest);
    } else if (kind == "exit") {
      report.wait_status = static_cast<int>(parse_number(rest));
    } else if (kind == "usage") {
      const auto fields = split_spaces(rest);
      if (fields.size() != 3) throw std::runtime_error("sandbox report: bad usage line '" + std::string(line) + "'");
      report.cpu_us = parse_number(fields[0]) + parse_number(fields[1]);
      report.max_rss_kb = parse_number(fields[2]);
    } else {
      throw std::runtime_error("sandbox report: unknown line '" + std::string(line) + "'");
    }
  }
  return report;
}

}  // namespace rbench::sandbox::protocol
